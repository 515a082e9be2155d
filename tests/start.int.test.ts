// `pnpm start` for real: scripts/start.ts as package.json runs it (one node process with tsx
// loaded), and through pnpm itself; its API and worker on free ports, with a database and a queue
// prefix of this file's own. A signal to the start process (or to pnpm) alone must stop all it
// started, and the death of one part the others.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createTestDatabase, freePort, TEST_REDIS_URL, uniquePrefix, waitFor, type TestDatabase } from "@settle/core/testing";
import { clearPrefix } from "./support/processes";

const ROOT = path.resolve(__dirname, "..");
const TSX_LOADER = pathToFileURL(path.join(path.dirname(require.resolve("tsx/package.json", { paths: [ROOT] })), "dist/loader.mjs")).href;

jest.setTimeout(180_000);

let db: TestDatabase;
const prefix = uniquePrefix("start");
const logDir = path.join(os.tmpdir(), "settle-test-logs", prefix);
// Every pid a case saw, killed at the end whatever happened, so a failure leaves nothing running.
const seen = new Set<number>();

beforeAll(async () => {
  db = await createTestDatabase("start");
  mkdirSync(logDir, { recursive: true });
});

afterAll(async () => {
  for (const pid of seen) if (alive(pid)) process.kill(pid, "SIGKILL");
  await db?.drop();
  await clearPrefix(TEST_REDIS_URL, prefix);
});

function alive(pid: number): boolean {
  try {
    // A zombie (exited, not yet reaped) counts as gone: it holds no port and runs nothing.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Every process below `pid` (its children, theirs, …), from /proc. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

const cwdOf = (pid: number): string | undefined => {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
};

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
  });
}

async function ready(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).status === 200;
  } catch {
    return false;
  }
}

interface Started {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  apiPort: number;
  workerPort: number;
  api: number;
  worker: number;
  log: () => string;
}

/**
 * Runs scripts/start.ts (as package.json's `start` runs it, or through `pnpm start` itself) and
 * waits until the API and the worker answer /readyz.
 */
async function start(name: string, args: string[] = [], via: "node" | "pnpm" = "node"): Promise<Started> {
  const [apiPort, workerPort] = [await freePort(), await freePort()];
  const logFile = path.join(logDir, `${name}.log`);
  const fd = openSync(logFile, "w");
  let child: ChildProcess;
  try {
    const [command, commandArgs] =
      via === "pnpm"
        ? ["pnpm", ["--silent", "start", ...args]]
        : [process.execPath, ["--import", TSX_LOADER, "--conditions=source", "scripts/start.ts", ...args]];
    child = spawn(command, commandArgs, {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        DATABASE_URL: db.url,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: prefix,
        PARTITIONS: "4",
        HOST: "127.0.0.1",
        PORT: String(apiPort),
        WORKER_METRICS_PORT: String(workerPort),
        LOG_PRETTY: "false",
      },
      stdio: ["ignore", fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const log = () => readFileSync(logFile, "utf8");
  seen.add(child.pid!);
  let done = false;
  void exited.then(() => (done = true));
  try {
    await waitFor(
      async () => {
        if (done) throw new Error(`start exited early:\n${log()}`);
        return (await ready(`http://127.0.0.1:${apiPort}/readyz`)) && (await ready(`http://127.0.0.1:${workerPort}/readyz`));
      },
      { timeoutMs: 120_000, intervalMs: 250, what: `the API and the worker of ${name} (log ${logFile})` },
    );
  } finally {
    for (const pid of descendants(child.pid!)) seen.add(pid);
  }
  const below = descendants(child.pid!);
  const byCwd = (dir: string) => below.find((pid) => cwdOf(pid) === path.join(ROOT, dir));
  const api = byCwd("apps/api");
  const worker = byCwd("apps/worker");
  if (!api || !worker) throw new Error(`no API or worker process below ${child.pid}: ${below.join(", ")}`);
  return { child, exited, apiPort, workerPort, api, worker, log };
}

/** Waits for the start process to exit (bounded), then for nothing it started to remain. */
async function expectAllGone(started: Started, below: number[]) {
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 60_000).unref());
  const status = await Promise.race([started.exited, timeout]);
  if (status === "timeout") throw new Error(`start did not exit:\n${started.log()}`);
  // The apps exit before start does; a helper of its own (tsx's esbuild service) ends once its
  // parent is gone, which may take a moment.
  await waitFor(() => below.filter(alive).length === 0, { timeoutMs: 5000, what: "every process start started to exit" }).catch(() => undefined);
  expect(below.filter(alive)).toEqual([]);
  expect([await portFree(started.apiPort), await portFree(started.workerPort)]).toEqual([true, true]);
  return status;
}

it.each([
  ["SIGTERM", "node"],
  ["SIGINT", "node"],
  ["SIGTERM", "pnpm"],
  ["SIGINT", "pnpm"],
] as const)("stops the API and the worker gracefully on %s to the start process alone (run by %s), and exits 0", async (signal, via) => {
  const started = await start(`${signal.toLowerCase()}-${via}`, [], via);
  const below = descendants(started.child.pid!);
  started.child.kill(signal);
  const status = await expectAllGone(started, below);
  expect(status).toEqual({ code: 0, signal: null });
  const log = started.log();
  // Each stopped on its own terms (its shutdown handler ran), not by SIGKILL.
  expect(log).toContain(`start: ${signal}; stopping api and worker`);
  expect(log).toContain('"msg":"worker stopped"');
  expect(log).not.toMatch(/SIGKILL|stopped with/);
});

it("stops the API and exits non-zero when the worker dies", async () => {
  const started = await start("worker-dies");
  const below = descendants(started.child.pid!);
  process.kill(started.worker, "SIGKILL");
  const status = await expectAllGone(started, below);
  expect(status).toEqual({ code: 128 + os.constants.signals.SIGKILL, signal: null });
  expect(started.log()).toContain("start: worker exited (signal SIGKILL); stopping the others");
});

it("kills (SIGKILL) a part that does not stop within --stop-timeout, and exits non-zero", async () => {
  const started = await start("stop-timeout", ["--stop-timeout", "2"]);
  const below = descendants(started.child.pid!);
  // A frozen worker cannot act on SIGTERM; only the SIGKILL after the timeout ends it.
  process.kill(started.worker, "SIGSTOP");
  started.child.kill("SIGTERM");
  const status = await expectAllGone(started, below);
  expect(status).toEqual({ code: 1, signal: null });
  expect(started.log()).toMatch(/start: (api, )?worker still running after 2000 ms; killing \(SIGKILL\)/);
});
