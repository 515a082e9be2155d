// API_PROCESSES=2: the API as two processes under node:cluster, sharing one port. Requests are
// spread over both; GET /metrics, answered by either, reports the whole API; a process killed -9
// is replaced while the other goes on answering; a long poll is answered whichever process holds
// it; SIGTERM to the primary stops both gracefully.
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { waitFor } from "@settle/core/testing";
import { ProcessCluster, type SettleProcess } from "./support/processes";

jest.setTimeout(120_000);

let cluster: ProcessCluster;
let api: SettleProcess;

afterAll(() => cluster?.destroy());

/** The primary's children that run the API (not, say, the esbuild service tsx may start), from /proc. */
function children(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`)
      .flatMap((task) => readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(" ").filter(Boolean).map(Number))
      .filter((child) => {
        try {
          return readFileSync(`/proc/${child}/cmdline`, "utf8").includes("src/main.ts");
        } catch {
          return false; // gone meanwhile
        }
      });
  } catch {
    return [];
  }
}

/** One request on a connection of its own (the cluster hands each connection to one process). */
function request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      `${cluster.apiUrl}${path}`,
      { method, agent: false, headers: payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {} },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: res.headers["content-type"]?.includes("json") ? JSON.parse(text) : text }));
      },
    );
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error(`${method} ${path}: no answer in 5 s`)));
    req.end(payload);
  });
}

const counter = (metrics: string, name: string, labels: string) => Number(new RegExp(`^${name}\\{${labels}\\} (\\d+)`, "m").exec(metrics)?.[1] ?? 0);

beforeAll(async () => {
  cluster = await ProcessCluster.create({ label: "api-processes", env: { API_PROCESSES: "2" } });
  [api] = await Promise.all([cluster.startApi(), cluster.startWorkers(1)]);
  await waitFor(() => children(api.pid).length === 2 && listening().size === 2, { timeoutMs: 30_000, what: "two API processes listening" });
});

/** The pids of the API processes that have logged that they listen. */
function listening(): Set<number> {
  return new Set([...api.log().matchAll(/"pid":(\d+)[^\n]*"msg":"api listening"/g)].map((m) => Number(m[1])));
}

it("spreads requests over both processes and reports the whole API in /metrics", async () => {
  const account = (await request("POST", "/api/v1/accounts", {})).body.id as string;
  const before = counter((await request("GET", "/metrics")).body, "settle_payments_accepted_total", 'type="deposit"');
  for (let i = 0; i < 20; i++) expect((await request("POST", "/api/v1/deposits", { account_id: account, amount: "1.00" })).status).toBe(202);
  // Each process counts its own; whichever answers /metrics reports the sum of both, every time.
  for (let i = 0; i < 4; i++) {
    const metrics = (await request("GET", "/metrics")).body as string;
    expect(counter(metrics, "settle_payments_accepted_total", 'type="deposit"') - before).toBe(20);
  }
  // Both served: each process's own request log names its pid (logs are flushed every 200 ms).
  const served = () => new Set([...api.log().matchAll(/"pid":(\d+)[^\n]*"msg":"request completed"/g)].map((m) => Number(m[1])));
  await waitFor(() => children(api.pid).every((pid) => served().has(pid)), { timeoutMs: 5000, what: "request logs of both processes" });
});

it("answers a long poll from whichever process holds it", async () => {
  const account = (await request("POST", "/api/v1/accounts", {})).body.id as string;
  const deposit = (await request("POST", "/api/v1/deposits", { account_id: account, amount: "5.00" })).body.id as string;
  const polled = await request("GET", `/api/v1/payments/${deposit}?wait=10`);
  expect(polled.body).toMatchObject({ id: deposit, status: "completed" });
});

it("replaces a process killed -9 while the other goes on answering", async () => {
  const [victim, survivor] = children(api.pid);
  process.kill(victim!, "SIGKILL");
  // A connection handed to the victim as it died is lost (a client retries it); the survivor
  // answers the next ones, and a replacement starts and listens.
  await waitFor(async () => (await request("GET", "/healthz").catch(() => ({ status: 0 }))).status === 200, {
    timeoutMs: 10_000,
    what: "an answer after the kill",
  });
  await waitFor(() => children(api.pid).length === 2 && !children(api.pid).includes(victim!), { timeoutMs: 30_000, what: "a replacement process" });
  const replacement = children(api.pid).find((pid) => pid !== survivor)!;
  // A new process loads the app under tsx: on a machine busy with the other suites that once took
  // longer than 30 s (CI), so the wait is generous; it ends as soon as the process listens.
  await waitFor(() => listening().has(replacement), { timeoutMs: 60_000, what: "the replacement to listen" });
  expect(children(api.pid)).toContain(survivor);
  for (let i = 0; i < 10; i++) expect((await request("GET", "/healthz")).status).toBe(200);
  await waitFor(async () => (await request("GET", "/readyz")).status === 200, { timeoutMs: 15_000, what: "/readyz" });
}, 180_000);

it("stops both processes gracefully on SIGTERM to the primary", async () => {
  const before = children(api.pid);
  const exit = await api.terminate();
  expect(exit).toMatchObject({ code: 0 });
  for (const pid of before) expect(() => process.kill(pid, 0)).toThrow();
});
