// `pnpm exec tsx --conditions=source bench/idempotency-purge.ts [--expired 1000000] [--fresh 1000000] [--rate 3000] [--batch-size 5000]`
// Does purging expired idempotency keys keep up with a sustained keyed accept rate? On a database
// of its own (settle_bench_purge, dropped afterwards) it stores `--expired` keys past the TTL and
// `--fresh` keys within it, in random physical order (as a table whose freed space is reused
// looks), then runs the sweeper's purge pass after pass until nothing is expired, while a writer
// stores `--rate` new keys per second (as keyed accepts do), and reports keys purged per second
// and what the sweeper's schedule makes of it.
import { parseArgs } from "node:util";
import { createPool, purgeIdempotencyKeys } from "@settle/core";
import { dropDatabase, recreateDatabase } from "./lib/database";

const { values: o } = parseArgs({
  options: {
    expired: { type: "string", default: "1000000" },
    fresh: { type: "string", default: "1000000" },
    rate: { type: "string", default: "3000" },
    "batch-size": { type: "string" },
    "ttl-hours": { type: "string", default: "24" },
    "database-url": { type: "string", default: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
    keep: { type: "boolean", default: false },
  },
});
const expired = Number(o.expired);
const fresh = Number(o.fresh);
const rate = Number(o.rate);
const ttlHours = Number(o["ttl-hours"]);
const batchSize = o["batch-size"] === undefined ? undefined : Number(o["batch-size"]);
const NAME = "settle_bench_purge";
// The sweeper's schedule (apps/worker/src/sweeper.ts, defaults of apps/worker/src/config.ts): a
// pass of at most 1 s once a minute, and at every sweep (5 s) while the last pass was cut short.
const PURGE_BUDGET_MS = 1_000;
const SWEEP_INTERVAL_S = 5;
const BASELINE_MS = 5_000;

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const log = (line: string) => process.stdout.write(`${line}\n`);

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0;
}

async function main(): Promise<void> {
  const url = await recreateDatabase(o["database-url"], NAME, { migrate: true });
  const pool = createPool({ url, max: 4, applicationName: "settle-bench-purge", statementTimeoutMs: 600_000 });
  try {
    let t = Date.now();
    // Expired keys spread over the day before the cutoff, fresh ones over the TTL; ORDER BY random()
    // scatters both over the heap, so finding the expired ones takes the index, not a lucky scan.
    await pool.query(
      `INSERT INTO idempotency_keys (scope, key, endpoint, request_hash, response, created_at)
       SELECT 'bench' || (i % 100), 'key-' || i, 'deposit', md5(i::text) || md5(i::text),
              jsonb_build_object('id', gen_random_uuid(), 'type', 'deposit', 'status', 'pending', 'amount', '10.00', 'currency', 'USD'),
              CASE WHEN i <= $1::int THEN now() - make_interval(hours => $3::int) - random() * interval '24 hours'
                   ELSE now() - make_interval(hours => $3::int) + interval '1 hour' + random() * make_interval(hours => $3::int - 2) END
         FROM generate_series(1, $1::int + $2::int) AS i ORDER BY random()`,
      [expired, fresh, ttlHours],
    );
    await pool.query("VACUUM ANALYZE idempotency_keys");
    log(`stored ${fmt(expired)} expired and ${fmt(fresh)} fresh keys in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    // The writer: `rate` keys per second in 10 ms ticks, one INSERT each, as the accept side stores
    // them; open loop (a slow INSERT does not hold back the next tick), latency from the tick.
    let writing = true;
    let written = 0;
    let latencies: number[] = [];
    const inserts: Promise<void>[] = [];
    const writer = (async () => {
      const perTick = Math.max(1, Math.round(rate / 100));
      const start = Date.now();
      for (let tick = 0; writing && rate > 0; tick++) {
        const due = start + tick * 10;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        inserts.push(
          pool
            .query(
              `INSERT INTO idempotency_keys (scope, key, endpoint, request_hash, response)
               SELECT 'writer', 'w-' || $1::int || '-' || i, 'deposit', repeat('0', 64), '{}' FROM generate_series(1, $2::int) AS i`,
              [tick, perTick],
            )
            .then(() => {
              latencies.push(Date.now() - due);
              written += perTick;
            }),
        );
      }
      await Promise.all(inserts);
    })();
    const latency = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return `INSERT p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms, max ${percentile(sorted, 100).toFixed(0)} ms`;
    };
    // The writer alone first: what its latency is on this machine without a purge.
    await new Promise((r) => setTimeout(r, BASELINE_MS));
    const baseline = latency(latencies);
    latencies = [];
    written = 0;

    const passes: { purged: number; ms: number }[] = [];
    t = performance.now();
    for (;;) {
      const began = performance.now();
      const { purged, done } = await purgeIdempotencyKeys(pool, ttlHours, { budgetMs: PURGE_BUDGET_MS, batchSize });
      passes.push({ purged, ms: performance.now() - began });
      if (done) break;
    }
    const seconds = (performance.now() - t) / 1000;
    writing = false;
    await writer;
    const writerSeconds = (performance.now() - t) / 1000;

    const left = Number(
      (await pool.query<{ n: string }>("SELECT count(*) AS n FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)", [ttlHours])).rows[0]!
        .n,
    );
    const total = passes.reduce((s, p) => s + p.purged, 0);
    const working = passes.filter((p) => p.purged > 0);
    const perPass = working.length ? total / working.length : 0;
    const passMs = working.map((p) => p.ms).sort((a, b) => a - b);
    log(
      `purged ${fmt(total)} keys in ${seconds.toFixed(2)} s over ${working.length} passes: ${fmt(total / seconds)} keys/s while purging (${left} expired left)`,
    );
    log(
      `a pass (budget ${PURGE_BUDGET_MS} ms): ${fmt(perPass)} keys on average, ${percentile(passMs, 50).toFixed(0)} ms median, ${percentile(passMs, 100).toFixed(0)} ms max`,
    );
    log(
      `on the sweeper's schedule (a pass per ${SWEEP_INTERVAL_S} s sweep while behind) the purge follows up to ${fmt(perPass / SWEEP_INTERVAL_S)} keyed accepts/s`,
    );
    if (rate > 0)
      log(
        `caught up, the minute's pass for ${fmt(rate)} keyed accepts/s deletes ${fmt(rate * 60)} keys in about ${((rate * 60) / (total / seconds)).toFixed(1)} s`,
      );
    if (rate > 0) {
      log(`writer alone (${BASELINE_MS / 1000} s before): ${baseline}`);
      log(`writer while purging: ${fmt(written / writerSeconds)} keys/s stored (asked ${fmt(rate)}/s), ${latency(latencies)}`);
    }
  } finally {
    await pool.end();
    if (!o.keep) await dropDatabase(o["database-url"], NAME);
  }
}

main().catch((err) => {
  process.stderr.write(`idempotency-purge: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
