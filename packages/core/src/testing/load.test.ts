import http from "node:http";
import type { AddressInfo } from "node:net";
import { errorCode, errorReason, failureReason, HttpClient } from "./http-client";
import { paceRequests, type LoadOutcome, type LoadRequest, type Pacing } from "./load";

// The pacer against real sockets: small node:http servers in this process, answering after a delay
// (or never), counting the requests they hold open at once.

interface TestServer {
  url: string;
  received: number;
  open: number;
  maxOpen: number;
  /** Called as each request arrives (after `received` and `open` count it). */
  onRequest?: () => void;
}

const servers: http.Server[] = [];
const clients: HttpClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    }),
  );
});

/** A server answering every request with `status` and `body` after `delayMs` (never, when undefined). */
async function startServer(delayMs: number | undefined, status = 202, body = '{"id":"p"}'): Promise<TestServer> {
  const state: TestServer = { url: "", received: 0, open: 0, maxOpen: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    state.received++;
    state.maxOpen = Math.max(state.maxOpen, ++state.open);
    state.onRequest?.();
    if (delayMs === undefined) return;
    setTimeout(() => {
      state.open--;
      res.writeHead(status, { "content-type": "application/json" }).end(body);
    }, delayMs);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

const request: LoadRequest = { path: "/api/v1/payments", body: { amount: "1.00" } };

/** Runs a load of `request`s, recording every arrival made, outcome and arrival not sent. */
function run(baseUrl: string | (() => string), pacing: Pacing, bounds: { durationMs: number; maxRequests: number; timeoutMs?: number }) {
  const client = new HttpClient(baseUrl, 8);
  clients.push(client);
  const seen = { arrivals: 0, outcomes: [] as LoadOutcome<LoadRequest>[], unsent: [] as string[] };
  const load = paceRequests({
    ...pacing,
    ...bounds,
    client,
    next: () => {
      seen.arrivals++;
      return request;
    },
    onOutcome: (outcome) => seen.outcomes.push(outcome),
    onUnsent: (_request, why) => seen.unsent.push(why),
  });
  return { load, seen };
}

it('"wait": a slow server with in-flight capped slows the load down, every arrival is sent and answered', async () => {
  const server = await startServer(40);
  // 20 arrivals due within 50 ms, but 2 in flight answered in 40 ms each: about 400 ms.
  const { load, seen } = run(server.url, { rate: 400, maxInFlight: 2, whenSaturated: "wait" }, { durationMs: 3000, maxRequests: 20 });
  await load.done;
  expect(seen.unsent).toEqual([]);
  expect([seen.arrivals, load.sent, server.received, seen.outcomes.length]).toEqual([20, 20, 20, 20]);
  expect(seen.outcomes.every((o) => o.reply?.status === 202)).toBe(true);
  expect(server.maxOpen).toBe(2);
});

it('"drop": beyond the in-flight cap arrivals queue in the backlog, then are dropped, and counted', async () => {
  const server = await startServer(100);
  const { load, seen } = run(server.url, { rate: 200, maxInFlight: 1, whenSaturated: "drop", backlog: 3 }, { durationMs: 300, maxRequests: 1000 });
  await load.done;
  const dropped = seen.unsent.filter((why) => why === "backlog full").length;
  const ended = seen.unsent.filter((why) => why === "run ended").length;
  // Arrivals keep their schedule (about 60 in 300 ms) although only one request at a time is answered.
  expect(seen.arrivals).toBeGreaterThanOrEqual(50);
  expect(dropped).toBeGreaterThan(40);
  expect(ended).toBeLessThanOrEqual(3);
  expect(load.sent + dropped + ended).toBe(seen.arrivals);
  expect([server.received, seen.outcomes.length]).toEqual([load.sent, load.sent]);
  expect(server.maxOpen).toBe(1);
});

it("closed loop: exactly `clients` requests are in flight for the whole run", async () => {
  const server = await startServer(10);
  const { load, seen } = run(server.url, { rate: "max", clients: 3 }, { durationMs: 300, maxRequests: 10_000 });
  const samples: number[] = [];
  const sampler = setInterval(() => {
    if (Date.now() < load.startedAt + 250) samples.push(load.inFlight);
  }, 5);
  await load.done;
  clearInterval(sampler);
  expect(samples.length).toBeGreaterThan(10);
  expect(new Set(samples)).toEqual(new Set([3]));
  expect(server.maxOpen).toBe(3);
  expect(seen.outcomes.length).toBe(load.sent);
});

it("stop() ends the load early; done resolves once the requests in flight are answered", async () => {
  const server = await startServer(100);
  const { load, seen } = run(server.url, { rate: 100, maxInFlight: 4, whenSaturated: "wait" }, { durationMs: 10_000, maxRequests: 1000 });
  await new Promise((resolve) => setTimeout(resolve, 250));
  const inFlightAtStop = load.inFlight;
  load.stop();
  await load.done;
  expect(inFlightAtStop).toBeGreaterThan(0);
  expect(Date.now() - load.startedAt).toBeLessThan(1000);
  expect(load.inFlight).toBe(0);
  expect(seen.outcomes).toHaveLength(load.sent);
  expect(seen.outcomes.every((o) => o.reply?.status === 202)).toBe(true);
});

it("reads a base URL function at every request: an API restarted on another port is followed", async () => {
  const [first, second] = [await startServer(0), await startServer(0)];
  let target = first.url;
  first.onRequest = () => {
    if (first.received === 5) target = second.url;
  };
  // One request at a time: the sixth is made after the fifth reached the first server.
  const { load } = run(() => target, { rate: 500, maxInFlight: 1, whenSaturated: "wait" }, { durationMs: 3000, maxRequests: 20 });
  await load.done;
  expect([first.received, second.received]).toEqual([5, 15]);
});

it('reports a request not answered within its timeout as "timeout", and other failures by code', async () => {
  const silent = await startServer(undefined);
  const { load, seen } = run(silent.url, { rate: 100, maxInFlight: 1, whenSaturated: "wait" }, { durationMs: 1000, maxRequests: 1, timeoutMs: 100 });
  await load.done;
  const [outcome] = seen.outcomes;
  expect(errorReason(outcome?.error)).toBe("timeout");
  expect(outcome!.answeredAt - outcome!.sentAt).toBeGreaterThanOrEqual(90);

  // A closed port: refused.
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const refused = new HttpClient(`http://127.0.0.1:${port}`, 1);
  clients.push(refused);
  expect(errorReason(await refused.post("/", {}).catch((error: unknown) => error))).toBe("ECONNREFUSED");

  // An error answer: its status and the contract's code.
  const unavailable = await startServer(0, 503, '{"error":{"code":"unavailable","message":"down"}}');
  const client = new HttpClient(unavailable.url, 1);
  clients.push(client);
  const reply = await client.post("/", {});
  expect([reply.status, errorCode(reply), failureReason(reply)]).toEqual([503, "unavailable", "http 503 unavailable"]);
});
