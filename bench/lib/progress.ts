import type { LoadSnapshot } from "./load";

/** One self-overwriting status line on stderr: a progress bar and the live counters. */
export function progressLine(label: string, s: LoadSnapshot, durationS: number, extra = ""): void {
  const width = 24;
  // A finished load is complete whatever the clock says (--max-requests may end it early).
  const done = s.done ? width : Math.min(width, Math.round((s.elapsedS / durationS) * width));
  const bar = `${"#".repeat(done)}${"-".repeat(width - done)}`;
  const rate = s.elapsedS > 0 ? Math.round(s.ok / Math.min(s.elapsedS, durationS)) : 0;
  const line = `  ${label} [${bar}] ${s.elapsedS.toFixed(0)}/${durationS}s ok ${s.ok} (${rate}/s) failed ${s.failed} in-flight ${s.inFlight}${s.backlog ? ` backlog ${s.backlog}` : ""} ${extra}`;
  if (process.stderr.isTTY) process.stderr.write(`\r${line.padEnd(process.stderr.columns ? process.stderr.columns - 1 : 120)}`);
  else if (s.done || Math.round(s.elapsedS) % 5 === 0) process.stderr.write(`${line}\n`);
}
