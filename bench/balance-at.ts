// `pnpm exec tsx --conditions=source bench/balance-at.ts [--entries 1000000] [--others 1000000] [--lookups 1000] [--lookups-without 100]`
// Does an account's balance at a moment (GET /api/v1/accounts/{id}/balance?at=) and a page of its
// journal within a time window (GET /api/v1/accounts/{id}/entries?from=&to=) cost the same on an
// account with a million entries as on one with ten? On a database of its own
// (settle_bench_balance, dropped afterwards) it writes `--entries` journal entries of one account
// A over a year, interleaved in time with `--others` entries of 1,000 other accounts (so A's rows
// are spread over the heap as a busy journal's are), then times the core's own queries
// (`balanceAt`, `listEntries` with `from`/`to`) at random instants, with the index of migration
// 0010 (journal_entries_by_time) and without it (dropped for the second half), and prints each
// plan's index use.
import { parseArgs } from "node:util";
import { balanceAt, createPool, entriesPageQuery, listEntries, type Pool } from "@settle/core";
import { dropDatabase, recreateDatabase } from "./lib/database";

const USAGE = "Usage: tsx bench/balance-at.ts [--entries N] [--others N] [--lookups N] [--lookups-without N] [--database-url URL] [--keep]";
const { values: o } = parseArgs({
  options: {
    entries: { type: "string", default: "1000000" },
    others: { type: "string", default: "1000000" },
    lookups: { type: "string", default: "1000" },
    "lookups-without": { type: "string", default: "100" },
    "database-url": { type: "string", default: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (o.help) {
  console.log(USAGE);
  process.exit(0);
}
const entries = Number(o.entries);
const others = Number(o.others);
const lookups = Number(o.lookups);
const lookupsWithout = Number(o["lookups-without"]);
const NAME = "settle_bench_balance";
const INDEX = "journal_entries_by_time";
const A = "0190a3c2-0000-7000-8000-00000000000a";
const PAYMENT = "0190a3c3-0000-7000-8000-000000000001";
const START = Date.parse("2025-01-01T00:00:00Z");
const SPAN_MS = 365 * 24 * 3_600_000;
const DAY_MS = 24 * 3_600_000;

const log = (line: string) => process.stdout.write(`${line}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0;
}

const randomInstant = (random: () => number) => new Date(START + Math.floor(random() * SPAN_MS)).toISOString();

// A small seeded generator: both halves look up the same instants.
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  name: string;
  /** Picks the query's arguments (untimed) and returns the call that is timed. */
  prepare: (random: () => number) => Promise<() => Promise<unknown>>;
}

const CASES: Case[] = [
  {
    name: "balance at a random instant",
    prepare: (random) => {
      const at = randomInstant(random);
      return Promise.resolve(() => balanceAt(pool, A, at));
    },
  },
  {
    name: "entries, a random 1-day window, first page (limit 100)",
    prepare: (random) => {
      const from = randomInstant(random);
      return Promise.resolve(() => listEntries(pool, A, 0, 100, { from, to: new Date(Date.parse(from) + DAY_MS).toISOString() }));
    },
  },
  {
    name: "entries, from a random instant on, a page 5,000 entries in (after=)",
    prepare: async (random) => {
      const from = randomInstant(random);
      // The cursor of a page deep into the window: the seq 5,000 entries after its start.
      const { rows } = await pool.query<{ seq: string }>(
        "SELECT seq FROM journal_entries WHERE account_id = $1 AND created_at >= $2 ORDER BY created_at, seq OFFSET 5000 LIMIT 1",
        [A, from],
      );
      return () => listEntries(pool, A, Number(rows[0]?.seq ?? 0), 100, { from });
    },
  },
];

let pool: Pool;

async function timeCases(label: string, n: number): Promise<Map<string, number[]>> {
  const results = new Map<string, number[]>();
  for (const c of CASES) {
    const random = seeded(42);
    // Warm-up: the same instants as the timed runs, so both halves run on a warm cache.
    for (let i = 0; i < Math.min(n, 20); i++) await (await c.prepare(seeded(1000 + i)))();
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const call = await c.prepare(random);
      const began = performance.now();
      await call();
      times.push(performance.now() - began);
    }
    times.sort((a, b) => a - b);
    results.set(c.name, times);
    log(
      `${label.padEnd(14)} ${c.name.padEnd(70)} n=${String(n).padStart(5)}  p50 ${percentile(times, 50).toFixed(2).padStart(8)} ms  p99 ${percentile(times, 99).toFixed(2).padStart(8)} ms`,
    );
  }
  return results;
}

/** The plan's node lines that name an index or a scan, with the buffers it touched. */
async function plan(sql: string, values: unknown[]): Promise<string> {
  const { rows } = await pool.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`, values);
  const lines = rows.map((r) => r["QUERY PLAN"]);
  const scans = lines.filter((l) => /Scan|Sort|Limit/.test(l)).map((l) => l.trim().replace(/\s*\(actual.*$/, ""));
  const buffers = lines.find((l) => /Buffers:/.test(l))?.trim() ?? "";
  const time = lines.find((l) => /Execution Time/.test(l))?.trim() ?? "";
  return `${scans.join(" / ")}; ${buffers}; ${time}`;
}

async function showPlans(label: string): Promise<void> {
  const at = "2025-07-01T12:00:00.000Z";
  log(`${label} plan, balance at ${at}: ${await plan(BALANCE_AT_SQL, [A, at])}`);
  const { text, values } = entriesPageQuery(A, 0, 100, { from: "2025-07-01T00:00:00Z", to: "2025-07-02T00:00:00Z" });
  log(`${label} plan, entries of 2025-07-01: ${await plan(text, values)}`);
  const { rows } = await pool.query<{ seq: string }>(
    "SELECT seq FROM journal_entries WHERE account_id = $1 AND created_at >= '2025-07-01T00:00:00Z' ORDER BY created_at, seq OFFSET 5000 LIMIT 1",
    [A],
  );
  const deep = entriesPageQuery(A, Number(rows[0]?.seq ?? 0), 100, { from: "2025-07-01T00:00:00Z" });
  log(`${label} plan, entries from 2025-07-01, after= 5,000 in: ${await plan(deep.text, deep.values)}`);
}

// The statement of balanceAt (packages/core/src/ledger/balance-history.ts), for EXPLAIN only.
const BALANCE_AT_SQL = `SELECT seq, balance_after, available_after, held_after FROM journal_entries
   WHERE account_id = $1 AND created_at < $2::timestamptz + interval '1 millisecond' ORDER BY created_at DESC, seq DESC LIMIT 1`;

async function main(): Promise<void> {
  const url = await recreateDatabase(o["database-url"], NAME, { migrate: true });
  pool = createPool({ url, max: 2, applicationName: "settle-bench-balance", statementTimeoutMs: 1_800_000 });
  try {
    let t = performance.now();
    await pool.query(
      "INSERT INTO accounts (id, currency) SELECT ('0190a3c2-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 'USD' FROM generate_series(16, 1015) n",
    );
    await pool.query("INSERT INTO accounts (id, currency) VALUES ($1, 'USD')", [A]);
    // Every entry names one settled deposit: the payment a row points to plays no part here.
    await pool.query(
      `INSERT INTO payments (id, partition, type, status, to_account, amount, currency, created_at, processed_at)
       VALUES ($1, 0, 'deposit', 'completed', $2, 1, 'USD', $3, $3)`,
      [PAYMENT, A, new Date(START).toISOString()],
    );
    // A's entries: credits and debits of 0.01..100.00 with the running balance (a window sum, exact
    // NUMERIC), one every SPAN/entries; the others' entries at random instants of the same year,
    // 1,000 accounts. Inserted in created_at order, as a journal fills.
    await pool.query(
      `WITH a AS (
         SELECT n AS seq, ((n::bigint * 7919) % 10000 + 1) / 100.0 AS amount, CASE WHEN n % 3 = 0 THEN 'debit' ELSE 'credit' END AS type,
                $2::timestamptz + (n - 1) * ($3::bigint * interval '1 millisecond' / $1::int) AS created_at
           FROM generate_series(1, $1::int) n
       ), a_run AS (
         SELECT $5::uuid AS account_id, seq, type, amount::numeric(17, 2) AS amount,
                sum(CASE WHEN type = 'debit' THEN -amount ELSE amount END) OVER (ORDER BY seq) + 1000000 AS balance, created_at
           FROM a
       ), o AS (
         SELECT ('0190a3c2-0000-7000-8000-' || lpad(to_hex(16 + n % 1000), 12, '0'))::uuid AS account_id,
                date_trunc('milliseconds', $2::timestamptz + random() * ($3::bigint * interval '1 millisecond')) AS created_at
           FROM generate_series(0, $4::int - 1) n
       ), o_ordered AS (
         SELECT account_id, row_number() OVER w AS seq, 'credit' AS type, 1.00::numeric(17, 2) AS amount, row_number() OVER w * 1.00 AS balance, created_at
           FROM o WINDOW w AS (PARTITION BY account_id ORDER BY created_at)
       )
       INSERT INTO journal_entries (account_id, seq, payment_id, type, amount, balance_after, available_after, held_after, prev_hash, hash, created_at)
       SELECT account_id, seq, $6::uuid, type, amount, balance, balance, 0, repeat('0', 64), md5(account_id::text || seq) || md5(seq::text), created_at
         FROM (SELECT * FROM a_run UNION ALL SELECT * FROM o_ordered) e
        ORDER BY created_at`,
      [entries, new Date(START).toISOString(), SPAN_MS, others, A, PAYMENT],
    );
    await pool.query("UPDATE accounts SET entry_count = (SELECT count(*) FROM journal_entries j WHERE j.account_id = accounts.id)");
    await pool.query("VACUUM ANALYZE journal_entries");
    await pool.query("VACUUM ANALYZE accounts");
    const { rows: size } = await pool.query<{ rows: string; table: string; index: string }>(
      `SELECT (SELECT count(*) FROM journal_entries) AS rows, pg_size_pretty(pg_table_size('journal_entries')) AS table,
              pg_size_pretty(pg_relation_size('${INDEX}')) AS index`,
    );
    log(
      `wrote ${fmt(entries)} entries of account A and ${fmt(others)} of 1,000 others (${fmt(Number(size[0]!.rows))} rows, table ${size[0]!.table}, ${INDEX} ${size[0]!.index}) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );

    // A sanity check of the answer against a plain scan of the journal at a few instants: the
    // highest seq at or before it, and the sum of the amounts up to it (exact NUMERIC, as text).
    const random = seeded(7);
    for (let i = 0; i < 5; i++) {
      const at = randomInstant(random);
      const got = await balanceAt(pool, A, at);
      const { rows } = await pool.query<{ seq: string; balance: string }>(
        `SELECT coalesce(max(seq), 0) AS seq, (1000000 + sum(CASE WHEN type = 'debit' THEN -amount ELSE amount END))::numeric(24, 2)::text AS balance
           FROM journal_entries WHERE account_id = $1 AND created_at <= $2`,
        [A, at],
      );
      if (got.seq !== Number(rows[0]!.seq) || got.balance !== rows[0]!.balance)
        throw new Error(`balance at ${at}: got seq ${got.seq} balance ${got.balance}, a scan says seq ${rows[0]!.seq} balance ${rows[0]!.balance}`);
    }
    log("balanceAt agrees with a scan of the journal at 5 random instants");

    await showPlans("with index   ");
    const withIndex = await timeCases("with index", lookups);

    await pool.query(`DROP INDEX ${INDEX}`);
    await pool.query("ANALYZE journal_entries");
    await showPlans("without index");
    const without = await timeCases("without index", lookupsWithout);

    t = performance.now();
    await pool.query(`CREATE INDEX ${INDEX} ON journal_entries (account_id, created_at, seq)`);
    log(`CREATE INDEX ${INDEX} on ${fmt(Number(size[0]!.rows))} rows: ${((performance.now() - t) / 1000).toFixed(1)} s`);

    log(`\n| query (account A, ${fmt(entries)} entries) | with the index p50 / p99 | without p50 / p99 |`);
    log("|---|---|---|");
    for (const c of CASES) {
      const w = withIndex.get(c.name)!;
      const wo = without.get(c.name)!;
      log(
        `| ${c.name} | ${percentile(w, 50).toFixed(2)} / ${percentile(w, 99).toFixed(2)} ms | ${percentile(wo, 50).toFixed(1)} / ${percentile(wo, 99).toFixed(1)} ms |`,
      );
    }
  } finally {
    await pool.end();
    if (!o.keep) await dropDatabase(o["database-url"], NAME);
  }
}

main().catch((err) => {
  process.stderr.write(`balance-at: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
