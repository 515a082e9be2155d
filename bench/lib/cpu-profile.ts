import fs from "node:fs";
import path from "node:path";
import { round } from "./stats";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface CpuProfileSummary {
  process: string;
  totalMs: number;
  /** Self time by package (node_modules package, Settle package, node internals, GC, idle). */
  byPackage: { name: string; ms: number; share: number }[];
  /** The same, with time in native code and node internals charged to the package that called it. */
  byCaller: { name: string; ms: number; share: number }[];
  topFunctions: { name: string; where: string; ms: number; share: number }[];
}

function packageOf(url: string, fn: string): string {
  if (!url) return fn.startsWith("(") ? fn : "(native)";
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pnpm) return pnpm[1]!;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.includes("/packages/core/")) return "@settle/core";
  if (url.includes("/apps/api/")) return "apps/api";
  if (url.includes("/apps/worker/")) return "apps/worker";
  if (url.startsWith("node:")) return "node (internals)";
  return path.basename(url);
}

/** Self time per package and the hottest functions of one V8 .cpuprofile. */
export function summariseCpuProfile(file: string, processName: string, window?: { fromMs: number; toMs: number }): CpuProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as {
    nodes: ProfileNode[];
    startTime: number;
    endTime: number;
    samples: number[];
    timeDeltas: number[];
  };
  // Self time per node from the samples inside the window (startup, module loading, is left out).
  const selfMs = new Map<number, number>();
  let t = 0;
  let totalMs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = (profile.timeDeltas[i] ?? 0) / 1000;
    t += delta;
    if (window && (t < window.fromMs || t > window.toMs)) continue;
    totalMs += delta;
    const id = profile.samples[i]!;
    selfMs.set(id, (selfMs.get(id) ?? 0) + delta);
  }
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const nodesById = new Map(profile.nodes.map((n) => [n.id, n]));
  const callerOf = (n: ProfileNode): string => {
    for (let cur: ProfileNode | undefined = n; cur; cur = nodesById.get(parent.get(cur.id) ?? -1)) {
      const pkg = packageOf(cur.callFrame.url, cur.callFrame.functionName);
      if (!pkg.startsWith("(") && pkg !== "node (internals)") return pkg;
    }
    return packageOf(n.callFrame.url, n.callFrame.functionName);
  };
  const byCaller = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, { where: string; ms: number }>();
  for (const n of profile.nodes) {
    const ms = selfMs.get(n.id) ?? 0;
    if (!ms) continue;
    const pkg = packageOf(n.callFrame.url, n.callFrame.functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
    const caller = callerOf(n);
    byCaller.set(caller, (byCaller.get(caller) ?? 0) + ms);
    const name = `${n.callFrame.functionName || "(anonymous)"}`;
    const where = n.callFrame.url ? `${pkg}:${path.basename(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : pkg;
    const key = `${name}@${where}`;
    const e = byFunction.get(key) ?? { where, ms: 0 };
    e.ms += ms;
    byFunction.set(key, e);
  }
  // Idle time is not work: shares are of the busy time.
  const busy = [...byPackage].filter(([k]) => k !== "(idle)").reduce((a, [, ms]) => a + ms, 0) || 1;
  return {
    process: processName,
    totalMs: round(totalMs),
    byPackage: [...byPackage]
      .filter(([k]) => k !== "(idle)")
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([name, ms]) => ({ name, ms: round(ms), share: round((ms / busy) * 100) })),
    byCaller: [...byCaller]
      .filter(([k]) => k !== "(idle)")
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([name, ms]) => ({ name, ms: round(ms), share: round((ms / busy) * 100) })),
    topFunctions: [...byFunction]
      .filter(([k]) => !k.startsWith("(idle)"))
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 15)
      .map(([key, e]) => ({ name: key.split("@")[0]!, where: e.where, ms: round(e.ms), share: round((e.ms / busy) * 100) })),
  };
}

/** Summaries of every .cpuprofile under `dir` (one per process of each run). */
export function summariseCpuProfiles(dir: string): CpuProfileSummary[] {
  if (!fs.existsSync(dir)) return [];
  const out: CpuProfileSummary[] = [];
  for (const run of fs.readdirSync(dir).sort()) {
    const runDir = path.join(dir, run);
    if (!fs.statSync(runDir).isDirectory()) continue;
    const windowsFile = path.join(runDir, "windows.json");
    const windows = (fs.existsSync(windowsFile) ? JSON.parse(fs.readFileSync(windowsFile, "utf8")) : {}) as Record<string, { fromMs: number; toMs: number }>;
    for (const proc of fs.readdirSync(runDir).sort()) {
      const procDir = path.join(runDir, proc);
      if (!fs.statSync(procDir).isDirectory()) continue;
      // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: thread 0 is the main thread.
      const main = fs.readdirSync(procDir).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
      if (main) out.push(summariseCpuProfile(path.join(procDir, main), `${run}/${proc}`, windows[proc]));
    }
  }
  return out;
}
