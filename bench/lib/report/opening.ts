// The report's opening paragraphs, in plain words.
import { round } from "../stats";
import { num, plannedSpecs, runProgress, SCENARIO_WHAT, scenarioTitle, summarise, workerCurves, type BenchResult, type SpecSummary } from "./model";

const listing = (xs: string[]): string => (xs.length <= 1 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs.at(-1)}`);
const plural = (n: number, one: string, many = `${one}s`) => `${num(n)} ${n === 1 ? one : many}`;

/**
 * The report's opening, in plain words and from the run's own data, so a reader knows the outcome
 * before the tables: first what was measured and against what, then what it came to on this machine.
 */
export function openingParagraphs(r: BenchResult): [string, string] {
  const o = r.options;
  const m = r.machine;
  const summaries = summarise(r.runs);
  const workers = [o.workers].flat();
  const what: string[] = [];
  const { done, planned } = runProgress(r);
  if (done < planned) what.push(`This report is partial: ${done} of ${planned} planned runs have finished, and it is rewritten after each.`);

  // Each scenario once, with its rates in plan order.
  const byScenario = new Map<string, string[]>();
  for (const spec of plannedSpecs(o)) {
    const [scenario = spec, rate = "max"] = spec.split("@");
    byScenario.set(scenario, [
      ...(byScenario.get(scenario) ?? []),
      rate === "max" ? `at max throughput (${o.concurrency} clients, each sending as fast as it is answered)` : `at ${num(Number(rate))} payments/s offered`,
    ]);
  }
  const scenarios = [...byScenario].map(
    ([s, rates]) => `${scenarioTitle(s).toLowerCase()}${SCENARIO_WHAT[s] ? ` (${SCENARIO_WHAT[s]})` : ""} ${listing(rates)}`,
  );
  const workerText =
    workers.length > 1 ? `${listing(workers.map(String))} worker processes in turn` : plural(workers[0] ?? 1, "worker process", "worker processes");
  what.push(
    `Run ${r.runId} measured Settle end to end (HTTP accept, PostgreSQL, queue, settlement) under ${listing(scenarios)}: ${o.durationS} s of load each, with ${workerText} and ${o.partitions} partitions.`,
  );
  const pg = /PostgreSQL (\S+)/.exec(String(m.postgres ?? ""))?.[1];
  const machine = `${m.cpus} cores, ${m.memGiB} GiB${pg ? `, PostgreSQL ${pg}` : ""}${m.redis ? `, Redis ${m.redis}` : ""}`;
  const peers = [
    o.naive && "the naive synchronous endpoint (check the balance, insert, update, without locks: concurrent payments break its invariants)",
    o.careful && "the careful synchronous endpoint (one transaction per payment that locks both accounts)",
    o.pgbench && "pgbench's transfer script (one transfer per transaction: what PostgreSQL alone can do)",
  ].filter((p): p is string => !!p);
  const sync =
    o.naive || o.careful
      ? `; the endpoints got the same payments in the max-throughput scenarios${o.naiveDurationS !== o.durationS ? `, ${o.naiveDurationS} s each` : ""}`
      : "";
  what.push(
    peers.length
      ? `Beside it, in the same run on the same machine (${machine}), it measured ${listing(peers)}${sync}.`
      : `Nothing else was measured beside it in this run (--naive false, --careful false, --pgbench false); the machine: ${machine}.`,
  );

  const outcome: string[] = [];
  const closed = summaries.filter((s) => s.rate === "max");
  const headline = closed.find((s) => s.scenario === "uniform") ?? closed[0];
  const xfer = r.pgbench.find((p) => p.script === "transfer");
  const under = (s: SpecSummary) =>
    `${scenarioTitle(s.scenario).toLowerCase()} at ${s.rate === "max" ? "max throughput" : `${num(s.rate)} payments/s offered`}${s.workers === undefined ? "" : ` with ${plural(s.workers, "worker")}`}`;
  if (headline) {
    const vs: string[] = [];
    if (headline.ratioNaive !== null)
      vs.push(
        `${headline.ratioNaive}× the naive endpoint (${num(headline.naivePerS ?? 0)}/s${headline.naiveBrokenMax ? `, which broke ${plural(headline.naiveBrokenMax, "invariant")}` : ""})`,
      );
    if (headline.ratioCareful !== null) vs.push(`${headline.ratioCareful}× the careful endpoint (${num(headline.carefulPerS ?? 0)}/s)`);
    if (headline.ratioAdjacent !== null)
      vs.push(`${round(headline.ratioAdjacent, 2)}× pgbench's ${num(headline.adjacentTransferTps ?? 0)} transfers/s measured just before`);
    else if (xfer) vs.push(`${round(headline.settledPerS / xfer.tps, 2)}× pgbench's ${num(xfer.tps)} transfers/s`);
    outcome.push(`On this machine, Settle settled ${num(headline.settledPerS)} payments/s under ${under(headline)}${vs.length ? `: ${listing(vs)}` : ""}.`);
    const others = closed.filter((s) => s.scenario !== headline.scenario);
    const other = (s: SpecSummary) =>
      `${scenarioTitle(s.scenario).toLowerCase()} ${num(s.settledPerS)}/s${s.ratioNaive !== null ? ` (${s.ratioNaive}× the naive endpoint)` : s.ratioCareful !== null ? ` (${s.ratioCareful}× the careful endpoint)` : ""}`;
    if (others.length) outcome.push(`At max throughput it also settled ${listing(others.map(other))}.`);
  }
  for (const s of summaries.filter((x) => x.rate !== "max")) {
    const result = s.allOfferedSettled
      ? "it accepted and settled everything offered"
      : `it accepted ${num(s.acceptedPerS)}/s and settled ${num(s.settledPerS)}/s, not everything offered`;
    outcome.push(
      `At ${num(Number(s.rate))} payments/s offered (${scenarioTitle(s.scenario).toLowerCase()}), ${result}; 99 % of payments were accepted within ${num(Math.round(s.acceptP99))} ms and settled within ${num(Math.round(s.settleP99))} ms of that.`,
    );
  }
  for (const curve of workerCurves(summaries))
    outcome.push(`By worker count (${curve.spec}): ${curve.points.map((p) => `${p.workers} → ${num(p.settledPerS)}/s`).join(", ")}.`);
  if (!summaries.length) outcome.push("No scenario has finished yet (see Errors if the run has ended).");
  else {
    const broken = summaries.filter((s) => s.broken).map((s) => s.spec);
    outcome.push(broken.length ? `Settle BROKE an invariant in ${listing(broken)}: those figures do not count.` : "Settle broke none of its invariants.");
  }
  const count = (met: boolean | null) => r.targets.filter((t) => t.met === met).length;
  if (r.targets.length)
    outcome.push(
      `Of its ${r.targets.length} targets, ${count(true)} ${count(true) === 1 ? "was" : "were"} met, ${count(false)} missed and ${count(null)} not measured in this run (the table below says why).`,
    );
  const load = Number(String(m.loadStart ?? "").split(" ")[0]);
  if (Number.isFinite(load) && typeof m.cpus === "number" && load >= m.cpus / 2)
    outcome.push(
      `The machine was busy (load average ${load} on ${m.cpus} cores at the start): compare ratios within one run, not absolute figures across runs.`,
    );
  return [what.join(" "), outcome.join(" ")];
}
