import { randomUUID } from "node:crypto";
import type { InvariantResult } from "./database";
import { peerLoadOptions, startPeerServer, type PeerRunResult } from "./peer-server";
import { runLoad, type Operation } from "./load";
import { specLabel, type BenchOptions, type RunSpec } from "./options";
import { scenarioCatalog, type Intent } from "./scenarios";
import { round } from "./stats";

export interface NaiveRunResult extends PeerRunResult {
  system: "naive";
}

/** The naive synchronous server under the same scenario, seeded stream and client settings. */
export async function runNaive(opts: BenchOptions, spec: RunSpec, index: number, logs: string): Promise<NaiveRunResult> {
  const scenario = scenarioCatalog[spec.scenario];
  const peer = await startPeerServer("naive", opts, spec, index, logs);
  const { pool, client } = peer;
  try {
    const ids = Array.from({ length: scenario.accounts }, () => randomUUID());
    await pool.query("INSERT INTO naive_accounts (id, balance) SELECT unnest($1::uuid[]), $2::numeric", [ids, scenario.funding]);
    await pool.query("INSERT INTO naive_initial SELECT * FROM naive_accounts");
    await peer.ready();

    const intents = scenario.intents(opts.seed + index, { disputes: false });
    const toOp = (intent: Intent): Operation => {
      const ok = (s: number) => s === 201 || s === 422;
      switch (intent.type) {
        case "deposit":
          return { kind: "deposit", path: "/deposit", body: { account_id: ids[intent.account], amount: intent.amount }, expected: ok };
        case "withdrawal":
          return { kind: "withdrawal", path: "/withdrawal", body: { account_id: ids[intent.account], amount: intent.amount }, expected: ok };
        case "transfer":
          return {
            kind: "transfer",
            path: "/payment",
            body: { from_account: ids[intent.from], to_account: ids[intent.to], amount: intent.amount },
            expected: ok,
          };
        default:
          throw new Error(`the naive server has no ${intent.type}`);
      }
    };
    let completed = 0;
    let refused = 0;
    const label = `naive  ${specLabel({ ...spec, workers: undefined })}`;
    const load = await runLoad(
      client,
      () => {
        const op = toOp(intents());
        op.onReply = (r) => (r.status === 201 ? completed++ : r.status === 422 ? refused++ : undefined);
        return op;
      },
      peerLoadOptions(opts, spec, label),
    );
    process.stderr.write("\n");
    const loadS = (load.endedAt - load.startedAt) / 1000;

    // What the naive design promised and what its tables say afterwards.
    const invariants: InvariantResult[] = [];
    const { rows: c } = await pool.query<{ total: string | null; expected: string | null; equal: boolean | null }>(`
      SELECT (SELECT sum(balance) FROM naive_accounts) AS total,
             (SELECT sum(balance) FROM naive_initial)
             + (SELECT coalesce(sum(amount) FILTER (WHERE from_account IS NULL), 0) - coalesce(sum(amount) FILTER (WHERE to_account IS NULL), 0) FROM naive_transactions) AS expected,
             (SELECT sum(balance) FROM naive_accounts) = (SELECT sum(balance) FROM naive_initial)
             + (SELECT coalesce(sum(amount) FILTER (WHERE from_account IS NULL), 0) - coalesce(sum(amount) FILTER (WHERE to_account IS NULL), 0) FROM naive_transactions) AS equal`);
    invariants.push({
      name: "conservation",
      ok: c[0]!.equal === true,
      detail: `accounts hold ${c[0]!.total}; initial + deposits − withdrawals = ${c[0]!.expected}`,
    });
    const { rows: replay } = await pool.query<{ mismatched: string; overdrawn: string; negative: string }>(`
      WITH moves AS (
        SELECT from_account AS id, -amount AS delta FROM naive_transactions WHERE from_account IS NOT NULL
        UNION ALL SELECT to_account, amount FROM naive_transactions WHERE to_account IS NOT NULL),
      replayed AS (
        SELECT i.id, i.balance + coalesce(sum(m.delta), 0) AS balance FROM naive_initial i LEFT JOIN moves m ON m.id = i.id GROUP BY i.id, i.balance)
      SELECT count(*) FILTER (WHERE r.balance <> a.balance) AS mismatched,
             count(*) FILTER (WHERE r.balance < 0) AS overdrawn,
             count(*) FILTER (WHERE a.balance < 0) AS negative
        FROM replayed r JOIN naive_accounts a ON a.id = r.id`);
    const r = replay[0]!;
    invariants.push({
      name: "balances match the transactions (no lost updates)",
      ok: Number(r.mismatched) === 0,
      detail: `${r.mismatched} accounts whose balance differs from initial + their transactions`,
    });
    invariants.push({
      name: "no negative available",
      ok: Number(r.overdrawn) === 0 && Number(r.negative) === 0,
      detail: `${r.overdrawn} accounts overdrawn by their accepted transactions; ${r.negative} negative balances`,
    });
    const deadlocks = Object.entries(load.failures)
      .filter(([k]) => k.includes("deadlock"))
      .reduce((a, [, n]) => a + n, 0);
    invariants.push({ name: "no deadlocks", ok: deadlocks === 0, detail: `${deadlocks} requests failed with deadlock_detected` });
    return {
      system: "naive",
      spec,
      note: scenario.batch ? `${spec.scenario}'s intents one payment per request (the naive server has no batch endpoint)` : undefined,
      broken: invariants.some((i) => !i.ok),
      processedPerS: round((completed + refused) / loadS),
      completedPerS: round(completed / loadS),
      latency: load.latency,
      failures: { ...load.failures, ...(refused ? { "refused: insufficient_funds (expected)": refused } : {}) },
      invariants,
      brokenCount: invariants.filter((i) => !i.ok).length,
    };
  } finally {
    await peer.stop();
  }
}
