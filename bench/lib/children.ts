import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..");

export interface Child {
  name: string;
  process: ChildProcess;
  pid: number;
  logFile: string;
  /** Date.now() when it was spawned (CPU profiles count from about then). */
  startedAt: number;
  exited: Promise<number | null>;
}

// Every process this benchmark starts, so that any exit (normal, error, Ctrl-C) stops them by pid.
const children = new Set<Child>();

/** Starts a TypeScript entry point under tsx (one node process, so its pid is the one to stop). */
export function startChild(name: string, options: { cwd: string; script: string; env: Record<string, string>; logFile: string; nodeOptions?: string[] }): Child {
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.openSync(options.logFile, "a");
  const args = [...(options.nodeOptions ?? []), "--conditions=source", "--import", "tsx", options.script];
  const proc = spawn(process.execPath, args, { cwd: options.cwd, env: { ...process.env, ...options.env, NODE_OPTIONS: "" }, stdio: ["ignore", log, log] });
  fs.closeSync(log);
  if (proc.pid === undefined) throw new Error(`could not start ${name}`);
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const child: Child = { name, process: proc, pid: proc.pid, logFile: options.logFile, startedAt: Date.now(), exited };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

/** SIGTERM (a graceful stop, which also writes --cpu-prof files), then SIGKILL after `graceMs`. */
export async function stopChild(child: Child, graceMs = 10_000): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill("SIGTERM");
  const timer = setTimeout(() => child.process.kill("SIGKILL"), graceMs);
  await child.exited;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c)));
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
    process.stderr.write(`\nbench: ${signal}, stopping ${children.size} child process(es)\n`);
    for (const c of children) c.process.kill("SIGTERM");
    setTimeout(() => {
      for (const c of children) c.process.kill("SIGKILL");
      process.exit(130);
    }, 8000).unref();
    void stopAll()
      .then(() => Promise.all([...cleanups].map((fn) => fn().catch(() => undefined))))
      .then(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("exit", () => {
    for (const c of children) c.process.kill("SIGKILL");
  });
}

import { freePort } from "@settle/core/testing";

export { freePort };

/** Polls `url` until it answers 200, the child dies, or `timeoutMs` passes. */
export async function waitForHttp(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.process.exitCode !== null) throw new Error(`${child.name} exited (${child.process.exitCode}); see ${child.logFile}`);
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${child.name} not ready at ${url} after ${timeoutMs} ms; see ${child.logFile}`);
    await new Promise((r) => setTimeout(r, 200));
  }
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
