// `pnpm start`: migrations, then one API and one worker in the foreground. SIGINT (Ctrl-C) or
// SIGTERM stops them all; so does the death of either. package.json runs this file with
// `exec node --import tsx`: pnpm passes its SIGINT and SIGTERM to its child, and without `exec`
// that child would be `sh -c`, which passes nothing on (SIGINT did nothing, SIGTERM orphaned all).
import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseCommandLine, USAGE_EXIT_CODE } from "@settle/core";

const DEFAULT_STOP_TIMEOUT_S = 30;
const USAGE = `Usage: pnpm start [--stop-timeout <seconds>]

Applies the migrations (creating the database if missing), then runs one API and one worker in
the foreground with readable logs. SIGINT (Ctrl-C) or SIGTERM is passed on to both and waited
for; a second signal, or a process still running after the stop timeout, is killed (SIGKILL).
If either process exits on its own, the other is stopped and pnpm start exits non-zero.

Options:
  --stop-timeout <seconds>  how long to wait for both to stop (${DEFAULT_STOP_TIMEOUT_S}, plus SHUTDOWN_DELAY_MS)
  -h, --help                this text

Environment: the apps' variables (README.md, "Configuration"). Unless set, pnpm start sets
LOG_PRETTY=true, WORKER_METRICS_PORT=9464 and development dashboard credentials (printed).
Exit code: 0 after a clean stop on a signal, 2 for a bad option, else non-zero.`;

const args = parseCommandLine(process.argv.slice(2), { name: "start", usage: USAGE, options: { "stop-timeout": { type: "string" } } });
const stopTimeoutS = Number(args.values["stop-timeout"] ?? DEFAULT_STOP_TIMEOUT_S);
if (!Number.isFinite(stopTimeoutS) || stopTimeoutS <= 0) {
  process.stderr.write(`start: --stop-timeout ${String(args.values["stop-timeout"])}: a number of seconds above 0\n`);
  process.exit(USAGE_EXIT_CODE);
}

const root = path.resolve(__dirname, "..");
// Each part runs as one node process with tsx loaded in it, not under the tsx CLI: the CLI is a
// second process that relays signals, and SIGKILLs its child when the child does not acknowledge
// a relayed signal within 30 ms (easily missed on a busy machine): no graceful stop then.
const TSX_LOADER = pathToFileURL(path.join(path.dirname(require.resolve("tsx/package.json", { paths: [root] })), "dist/loader.mjs")).href;
// Local development credentials, so the dashboard works out of the box; printed below. Real
// deployments set their own (or none: then there is no dashboard).
const DEV_ADMIN = { user: "admin", password: "settle-dev-only" };
const env: NodeJS.ProcessEnv = {
  ...process.env,
  LOG_PRETTY: process.env.LOG_PRETTY ?? "true",
  ADMIN_USER: process.env.ADMIN_USER ?? DEV_ADMIN.user,
  ADMIN_PASSWORD: process.env.ADMIN_PASSWORD ?? DEV_ADMIN.password,
  WORKER_METRICS_PORT: process.env.WORKER_METRICS_PORT ?? "9464",
};
// The API may keep serving SHUTDOWN_DELAY_MS after the signal before it begins to close.
const stopTimeoutMs = stopTimeoutS * 1000 + (Number(env.SHUTDOWN_DELAY_MS) || 0);

interface Part {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

const parts: Part[] = [];
let stopping = false;
let exitCode = 0;

const running = (part: Part) => part.child.exitCode === null && part.child.signalCode === null;

function run(name: string, cwd: string, script: string, onExit: (code: number | null, signal: NodeJS.Signals | null) => void): Part {
  const child = spawn(process.execPath, ["--import", TSX_LOADER, "--conditions=source", script], { cwd, env, stdio: "inherit" });
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      onExit(code, signal);
      resolve();
    });
    // Not started at all (no such file, too many processes): as if it had exited at once.
    child.once("error", (error) => {
      if (child.pid !== undefined) return;
      process.stderr.write(`start: could not start ${name}: ${error.message}\n`);
      onExit(1, null);
      resolve();
    });
  });
  const part = { name, child, exited };
  parts.push(part);
  return part;
}

function describe(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

/** A part that exits while nothing asked it to is a failure of the whole: stop the others. */
function unexpectedExit(name: string) {
  return (code: number | null, signal: NodeJS.Signals | null) => {
    if (stopping) {
      if (code !== 0) {
        process.stderr.write(`start: ${name} stopped with ${describe(code, signal)}\n`);
        exitCode ||= 1;
      }
      return;
    }
    process.stderr.write(`start: ${name} exited (${describe(code, signal)}); stopping the others\n`);
    void stop("SIGTERM", code ? code : signal ? 128 + (constants.signals[signal] ?? 0) : 1);
  };
}

/** Passes `signal` on to every running part, waits up to the stop timeout, then SIGKILLs what is left and exits. */
async function stop(signal: NodeJS.Signals, code: number): Promise<void> {
  stopping = true;
  exitCode ||= code;
  for (const part of parts) if (running(part)) part.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), stopTimeoutMs)));
  const late = await Promise.race([Promise.all(parts.map((p) => p.exited)).then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    const left = parts.filter(running);
    process.stderr.write(`start: ${left.map((p) => p.name).join(", ")} still running after ${stopTimeoutMs} ms; killing (SIGKILL)\n`);
    killAll();
    exitCode ||= 1;
    await Promise.all(left.map((p) => p.exited));
  }
  process.exit(exitCode);
}

function killAll(): void {
  for (const part of parts) if (running(part)) part.child.kill("SIGKILL");
}

function onSignal(signal: NodeJS.Signals): void {
  if (stopping) {
    // A second Ctrl-C: the user does not want to wait.
    process.stderr.write(`start: ${signal} again; killing (SIGKILL)\n`);
    killAll();
    return;
  }
  process.stderr.write(
    `start: ${signal}; stopping ${
      parts
        .filter(running)
        .map((p) => p.name)
        .join(" and ") || "nothing"
    }\n`,
  );
  void stop(signal, 0);
}

process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
// Whatever ends this process (an uncaught error included), nothing it started may outlive it.
process.on("exit", killAll);

run("migrate", root, "scripts/migrate.ts", (code, signal) => {
  if (stopping) {
    // Stopped half-way by the signal passed on (each migration is one transaction: nothing half-applied).
    if (code !== 0) exitCode ||= code ?? 128 + (constants.signals[signal!] ?? 0);
    return;
  }
  if (code !== 0) {
    process.stderr.write(`start: migrate failed (${describe(code, signal)})\n`);
    process.exit(code || 1);
  }
  const api = `http://127.0.0.1:${env.PORT ?? "3000"}`;
  // Only the development password is ever printed; one from the environment stays a secret.
  const password = process.env.ADMIN_PASSWORD === undefined ? DEV_ADMIN.password : "(from ADMIN_PASSWORD)";
  process.stdout.write(
    `\nstart: API ${api}   docs ${api}/docs   metrics ${api}/metrics\n` +
      `start: Bull Board ${api}/admin/queues   user ${env.ADMIN_USER}   password ${password}\n` +
      `start: worker health and metrics http://127.0.0.1:${env.WORKER_METRICS_PORT}/metrics\n\n`,
  );
  run("api", path.join(root, "apps/api"), "src/main.ts", unexpectedExit("api"));
  run("worker", path.join(root, "apps/worker"), "src/main.ts", unexpectedExit("worker"));
});
