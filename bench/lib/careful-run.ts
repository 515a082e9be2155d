import type { Pool } from "@settle/core";
import type { InvariantResult } from "./database";
import { peerLoadOptions, startPeerServer, type PeerRunResult } from "./peer-server";
import { runLoad, type Operation } from "./load";
import { specLabel, type BenchOptions, type RunSpec } from "./options";
import { scenarioCatalog, type Intent } from "./scenarios";
import { round } from "./stats";

export interface CarefulRunResult extends PeerRunResult {
  system: "careful";
  /** Deadlocks and serialization failures the server met (its lock order should make both impossible). */
  conflicts: { deadlock_detected: number; serialization_failure: number };
}

const ID_IN_BODY = /"id":"([0-9a-f-]{36})"/;

/** The careful synchronous server under the same scenario, seeded stream and client settings. */
export async function runCareful(opts: BenchOptions, spec: RunSpec, index: number, logs: string): Promise<CarefulRunResult> {
  const scenario = scenarioCatalog[spec.scenario];
  const peer = await startPeerServer("careful", opts, spec, index, logs);
  const { pool, client } = peer;
  try {
    // Funding as a payment with its journal entry, so the journal alone explains every balance.
    const { rows: funded } = await pool.query<{ account_id: string }>(
      `WITH a AS (INSERT INTO accounts (id, balance, last_seq) SELECT gen_random_uuid(), $2::numeric, 1 FROM generate_series(1, $1::int) RETURNING id),
            p AS (INSERT INTO payments (id, type, to_account, amount, description) SELECT gen_random_uuid(), 'funding', id, $2::numeric, 'bench funding' FROM a RETURNING id, to_account)
       INSERT INTO journal_entries (account_id, seq, payment_id, amount, balance_after) SELECT to_account, 1, id, $2::numeric, $2::numeric FROM p RETURNING account_id`,
      [scenario.accounts, scenario.funding],
    );
    const ids = funded.map((r) => String(r.account_id));
    await pool.query("ANALYZE");
    await peer.ready();

    // The same seeded intents Settle got (uniform-batch's are uniform's, one payment per request).
    const intents = scenario.intents(opts.seed + index, { disputes: false });
    const completedIds: string[] = [];
    let refused = 0;
    const onReply = (r: { status: number; body: string | undefined }) => {
      if (r.status === 201) {
        const id = r.body ? ID_IN_BODY.exec(r.body)?.[1] : undefined;
        if (id) completedIds.push(id);
      } else if (r.status === 422 && r.body?.includes('"insufficient_funds"')) refused++;
    };
    const processed = (s: number) => s === 201 || s === 422;
    const toOp = (intent: Intent): Operation => {
      const op = (kind: string, p: string, body: unknown): Operation => ({ kind, path: p, body, wantBody: true, expected: processed, onReply });
      switch (intent.type) {
        case "deposit":
          return op("deposit", "/deposit", { account_id: ids[intent.account], amount: intent.amount });
        case "withdrawal":
          return op("withdrawal", "/withdrawal", { account_id: ids[intent.account], amount: intent.amount });
        case "transfer":
          return op("transfer", "/payment", { from_account: ids[intent.from], to_account: ids[intent.to], amount: intent.amount });
        default:
          throw new Error(`the careful server has no ${intent.type}`);
      }
    };
    const label = `careful ${specLabel({ ...spec, workers: undefined })}`;
    const load = await runLoad(client, () => toOp(intents()), peerLoadOptions(opts, spec, label));
    process.stderr.write("\n");
    const loadS = (load.endedAt - load.startedAt) / 1000;
    const conflicts = await fetch(`${peer.url}/conflicts`).then((r) => r.json() as Promise<CarefulRunResult["conflicts"]>);
    const invariants = await checkCarefulInvariants(pool, scenario.funding, scenario.accounts, completedIds);
    const conflictCount = conflicts.deadlock_detected + conflicts.serialization_failure;
    invariants.push({
      name: "no deadlocks or serialization failures",
      ok: conflictCount === 0,
      detail: `${conflicts.deadlock_detected} deadlocks, ${conflicts.serialization_failure} serialization failures`,
    });
    return {
      system: "careful",
      spec,
      note: scenario.batch ? `${spec.scenario}'s intents one payment per request (the careful server has no batch endpoint)` : undefined,
      broken: invariants.some((i) => !i.ok),
      processedPerS: round((completedIds.length + refused) / loadS),
      completedPerS: round(completedIds.length / loadS),
      latency: load.latency,
      failures: { ...load.failures, ...(refused ? { "refused: insufficient_funds (expected)": refused } : {}) },
      conflicts,
      invariants,
      brokenCount: invariants.filter((i) => !i.ok).length,
    };
  } finally {
    await peer.stop();
  }
}

/** The careful design's promises, checked like Settle's: conservation, no negative balance, a gap-free journal, every 201 recorded. */
async function checkCarefulInvariants(pool: Pool, funding: string, accounts: number, completedIds: string[]): Promise<InvariantResult[]> {
  const out: InvariantResult[] = [];
  const { rows: c } = await pool.query<{ held: string | null; expected: string | null; equal: boolean | null }>(
    `SELECT (SELECT sum(balance) FROM accounts) AS held,
            $1::numeric * $2::int + (SELECT coalesce(sum(amount) FILTER (WHERE type = 'deposit'), 0) - coalesce(sum(amount) FILTER (WHERE type = 'withdrawal'), 0) FROM payments) AS expected,
            (SELECT sum(balance) FROM accounts) = $1::numeric * $2::int + (SELECT coalesce(sum(amount) FILTER (WHERE type = 'deposit'), 0) - coalesce(sum(amount) FILTER (WHERE type = 'withdrawal'), 0) FROM payments) AS equal`,
    [funding, accounts],
  );
  out.push({ name: "conservation", ok: c[0]!.equal === true, detail: `accounts hold ${c[0]!.held}; funding + deposits − withdrawals = ${c[0]!.expected}` });
  const { rows: n } = await pool.query<{ accounts: string; entries: string }>(
    "SELECT (SELECT count(*) FROM accounts WHERE balance < 0) AS accounts, (SELECT count(*) FROM journal_entries WHERE balance_after < 0) AS entries",
  );
  out.push({
    name: "no negative balance",
    ok: Number(n[0]!.accounts) === 0 && Number(n[0]!.entries) === 0,
    detail: `${n[0]!.accounts} accounts and ${n[0]!.entries} journal entries below zero`,
  });
  // Per account: seq 1..n without gaps, each balance_after = the previous + amount, the last = the balance.
  const { rows: j } = await pool.query<{ gaps: string; chain_breaks: string; head_mismatches: string; entries: string }>(`
    WITH e AS (
      SELECT account_id, seq, amount, balance_after,
             row_number() OVER w AS n, lag(balance_after) OVER w AS prev, max(seq) OVER (PARTITION BY account_id) AS last
        FROM journal_entries WINDOW w AS (PARTITION BY account_id ORDER BY seq))
    SELECT (SELECT count(*) FROM e WHERE seq <> n) AS gaps,
           (SELECT count(*) FROM e WHERE coalesce(prev, 0) + amount <> balance_after) AS chain_breaks,
           (SELECT count(*) FROM accounts a LEFT JOIN e ON e.account_id = a.id AND e.seq = e.last
             WHERE e.balance_after IS DISTINCT FROM a.balance OR e.seq IS DISTINCT FROM a.last_seq) AS head_mismatches,
           (SELECT count(*) FROM e) AS entries`);
  const r = j[0]!;
  const journalOk = Number(r.gaps) === 0 && Number(r.chain_breaks) === 0 && Number(r.head_mismatches) === 0;
  out.push({
    name: "journal gap-free per account, last balance_after = balance",
    ok: journalOk,
    detail: `${r.gaps} seq gaps, ${r.chain_breaks} entries not previous + amount, ${r.head_mismatches} accounts whose balance or last seq differs from their last entry; ${r.entries} entries`,
  });
  // Every payment answered 201 is there once, with one journal entry per account it moved.
  let missing = 0;
  let badEntries = 0;
  for (let i = 0; i < completedIds.length; i += 10_000) {
    const chunk = completedIds.slice(i, i + 10_000);
    const { rows } = await pool.query<{ missing: string; bad: string }>(
      `WITH entries AS (SELECT payment_id, count(*) AS n FROM journal_entries WHERE payment_id = ANY($1::uuid[]) GROUP BY payment_id)
       SELECT count(*) FILTER (WHERE p.id IS NULL) AS missing,
              count(*) FILTER (WHERE p.id IS NOT NULL AND coalesce(e.n, 0) <> (p.from_account IS NOT NULL)::int + (p.to_account IS NOT NULL)::int) AS bad
         FROM unnest($1::uuid[]) AS ids(id) LEFT JOIN payments p ON p.id = ids.id LEFT JOIN entries e ON e.payment_id = ids.id`,
      [chunk],
    );
    missing += Number(rows[0]!.missing);
    badEntries += Number(rows[0]!.bad);
  }
  const unique = new Set(completedIds).size;
  out.push({
    name: "every 201 payment recorded once",
    ok: missing === 0 && badEntries === 0 && unique === completedIds.length,
    detail: `${completedIds.length} answered 201: ${missing} missing, ${completedIds.length - unique} ids answered twice, ${badEntries} without one journal entry per account`,
  });
  return out;
}
