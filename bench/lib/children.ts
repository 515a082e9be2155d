import fs from "node:fs";
import path from "node:path";
import { AppProcess, freePort, liveApps, spawnApp, waitUntilReady } from "@settle/core/testing";

export { freePort };

export const ROOT = path.resolve(__dirname, "..", "..");

/** A process this benchmark started; every one still running is stopped by pid on any exit of the bench. */
export type Child = AppProcess;

/** Starts a TypeScript entry point under tsx (one node process, so its pid is the one to stop). */
export function startChild(
  name: string,
  options: { cwd: string; script: string; env: Record<string, string>; logFile: string; nodeOptions?: string[] },
): Child {
  // The driver's NODE_OPTIONS must not reach the system under test: its flags are `nodeOptions`.
  return spawnApp(name, { ...options, env: { ...process.env, ...options.env, NODE_OPTIONS: "" } });
}

/** SIGTERM (a graceful stop, which also writes --cpu-prof files), then SIGKILL after `graceMs`. */
export async function stopChild(child: Child, graceMs = 10_000): Promise<void> {
  await child.terminate(graceMs);
}

export async function stopAll(): Promise<void> {
  await Promise.all(liveApps().map((c) => stopChild(c)));
}

// Work to undo when the bench is interrupted (the run's Redis keys), run after the children stop.
const cleanups = new Set<() => Promise<unknown>>();

/** Registers `fn` to run if the bench is interrupted; returns its unregistration. */
export function onInterrupt(fn: () => Promise<unknown>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

let installed = false;
/** Stops every child on Ctrl-C, SIGTERM or a crash of the driver. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  const onSignal = (signal: NodeJS.Signals) => {
    const children = liveApps();
    process.stderr.write(`\nbench: ${signal}, stopping ${children.length} child process(es)\n`);
    for (const c of children) c.child.kill("SIGTERM");
    setTimeout(() => {
      for (const c of liveApps()) c.child.kill("SIGKILL");
      process.exit(130);
    }, 8000).unref();
    void stopAll()
      .then(() => Promise.all([...cleanups].map((fn) => fn().catch(() => undefined))))
      .then(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // At exit, spawnApp's own hook kills whatever still runs.
}

/** Polls `url` until it answers 200, the child dies, or `timeoutMs` passes. */
export async function waitForHttp(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
  await waitUntilReady(child, async () => (await fetch(url)).status === 200, { timeoutMs, intervalMs: 200, what: url });
}

/** The pids a process started that still run (its threads' children), from /proc. */
function childPids(pid: number): number[] {
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((task) => fs.readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(" ").filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

/**
 * procStats of a process and every process under it, summed: the API under API_PROCESSES is a
 * primary and its children, and tsx's esbuild service is part of whichever process started it.
 */
export function treeStats(pid: number): { cpuS: number; rssMiB: number } | null {
  const own = procStats(pid);
  if (!own) return null;
  for (const child of childPids(pid)) {
    const s = treeStats(child);
    if (s) {
      own.cpuS += s.cpuS;
      own.rssMiB += s.rssMiB;
    }
  }
  return own;
}

/** CPU seconds (user + system) and resident memory of a process, from /proc. */
export function procStats(pid: number): { cpuS: number; rssMiB: number } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rssPages = Number(fields[21]);
    return { cpuS: ticks / 100, rssMiB: (rssPages * 4096) / 1048576 };
  } catch {
    return null;
  }
}
