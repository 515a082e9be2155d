// The bench's webhook receiver, a process of its own so that its CPU is measured apart from
// Settle's: POST /webhooks answers 204 and notes when each event (Settle-Event-Id) first arrived;
// GET /stats returns those notes. Started by bench/lib/settle/webhooks.ts with PORT set.
import { createServer } from "node:http";

const firstSeen = new Map<string, number>();
let deliveries = 0;

const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ deliveries, firstSeen: Object.fromEntries(firstSeen) }));
    return;
  }
  if (req.method === "GET" && req.url === "/healthz") {
    res.writeHead(200).end("ok");
    return;
  }
  const id = req.headers["settle-event-id"];
  deliveries++;
  if (typeof id === "string" && !firstSeen.has(id)) firstSeen.set(id, Date.now());
  req.resume();
  req.on("end", () => res.writeHead(204).end());
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
