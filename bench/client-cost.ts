// What a request costs the load driver's CPU with each client: the bench's lean node:http client
// (HttpClient of @settle/core/testing) and @settle/client (openapi-fetch over fetch). The driver shares the
// machine's two cores with the system under test, so every microsecond it spends is taken from
// Settle. A stub server in a child process answers POST /api/v1/payments with a payment (202);
// this process's CPU (process.cpuUsage) is the client's alone. Alternating rounds.
//   pnpm exec tsx --conditions=source bench/client-cost.ts [--requests 20000] [--concurrency 16] [--rounds 3]
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createSettleClient } from "@settle/client";
import { parseCommandLine } from "@settle/core";
import { HttpClient } from "@settle/core/testing";
import { freePort } from "./lib/children";

const USAGE = `Usage: pnpm exec tsx --conditions=source bench/client-cost.ts [--requests n] [--concurrency n] [--rounds n]

Prints the client-side CPU per request of the bench's lean client and of @settle/client against a
stub server (a child process), in alternating rounds.`;

const PAYMENT = {
  id: "0193a0f4-0000-7abc-8def-0123456789ab",
  type: "transfer",
  status: "pending",
  from_account: "0193a0f4-0000-7abc-8def-00000000000a",
  to_account: "0193a0f4-0000-7abc-8def-00000000000b",
  amount: "99.01",
  currency: "USD",
  payment_description: null,
  failure_reason: null,
  dispute_status: "none",
  created_at: "2026-11-29T10:00:00.000Z",
  processed_at: null,
};

const STUB = `
  const body = ${JSON.stringify(JSON.stringify(PAYMENT))};
  const server = require("node:http").createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(202, { "content-type": "application/json", location: "/api/v1/payments/x" }).end(body));
  });
  server.keepAliveTimeout = 65000;
  server.listen(Number(process.env.PORT), "127.0.0.1", () => process.stdout.write("ready\\n"));`;

async function measure(requests: number, concurrency: number, send: () => Promise<unknown>): Promise<{ cpuUsPerRequest: number; perSecond: number }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < requests) await send();
    }),
  );
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - started) / 1000;
  return { cpuUsPerRequest: Math.round((used.user + used.system) / requests), perSecond: Math.round(requests / seconds) };
}

async function main(): Promise<void> {
  const { values } = parseCommandLine(process.argv.slice(2), {
    name: "client-cost",
    usage: USAGE,
    options: { requests: { type: "string" }, concurrency: { type: "string" }, rounds: { type: "string" } },
  });
  const requests = Number(values.requests ?? 20_000);
  const concurrency = Number(values.concurrency ?? 16);
  const rounds = Number(values.rounds ?? 3);
  const port = await freePort();
  const stub = spawn(process.execPath, ["-e", STUB], { env: { PORT: String(port) }, stdio: ["ignore", "pipe", "inherit"] });
  try {
    await once(stub.stdout, "data");
    const baseUrl = `http://127.0.0.1:${port}`;
    const lean = new HttpClient(baseUrl, concurrency);
    const settle = createSettleClient({ baseUrl });
    const body = { from_account: PAYMENT.from_account, to_account: PAYMENT.to_account, amount: "99.01" };
    // Warm both up (JIT, connections) before measuring.
    await measure(2000, concurrency, () => lean.post("/api/v1/payments", body));
    await measure(2000, concurrency, () => settle.createPayment(body));
    for (let round = 1; round <= rounds; round++) {
      const a = await measure(requests, concurrency, () => lean.post("/api/v1/payments", body));
      const b = await measure(requests, concurrency, () => settle.createPayment(body));
      process.stdout.write(
        `round ${round}: lean node:http ${a.cpuUsPerRequest} µs CPU/request (${a.perSecond}/s); @settle/client ${b.cpuUsPerRequest} µs CPU/request (${b.perSecond}/s)\n`,
      );
    }
    lean.close();
  } finally {
    stub.kill();
  }
}

main().catch((error) => {
  process.stderr.write(`client-cost: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
