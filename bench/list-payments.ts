// `pnpm exec tsx --conditions=source bench/list-payments.ts [--payments 1000000] [--repeat 50]`
// Does a page of GET /api/v1/payments cost the same on an account with a million payments as on
// one with ten? On a database of its own (settle_bench_list, dropped afterwards) it stores
// `--payments` settled transfers from one account (half of them to a second account, half
// received back), plus as many between other accounts, then times each query the endpoint runs
// (the core's listPayments, so the SQL is the product's) and prints its plan's index use.
import { parseArgs } from "node:util";
import { createPool, listPayments, type PaymentFilter } from "@settle/core";
import { dropDatabase, recreateDatabase } from "./lib/database";

const USAGE = `Usage: tsx bench/list-payments.ts [--payments N] [--repeat N] [--database-url URL] [--keep]`;
const { values: o } = parseArgs({
  options: {
    payments: { type: "string", default: "1000000" },
    repeat: { type: "string", default: "50" },
    "database-url": { type: "string", default: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (o.help) {
  console.log(USAGE);
  process.exit(0);
}
const payments = Number(o.payments);
const repeat = Number(o.repeat);
const NAME = "settle_bench_list";
const A = "0190a3c2-0000-7000-8000-00000000000a";
const B = "0190a3c2-0000-7000-8000-00000000000b";

async function main(): Promise<void> {
  const url = await recreateDatabase(o["database-url"], NAME, { migrate: true });
  const pool = createPool({ url, max: 2, applicationName: "settle-bench-list", statementTimeoutMs: 600_000 });
  try {
    const started = performance.now();
    await pool.query(
      "INSERT INTO accounts (id, currency) SELECT ('0190a3c2-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 'USD' FROM generate_series(1, 1000) n",
    );
    // Ids ascend with time like UUIDv7s: a fixed prefix and the row number in the last 12 hex digits.
    await pool.query(
      `INSERT INTO payments (id, partition, type, status, from_account, to_account, amount, currency, created_at, processed_at)
       SELECT ('01900000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 0, 'transfer', 'completed',
              CASE WHEN n % 2 = 0 THEN $1::uuid ELSE $2::uuid END, CASE WHEN n % 2 = 0 THEN $2::uuid ELSE $1::uuid END,
              1.00, 'USD', now() - make_interval(secs => ($3 - n) / 100.0), now()
         FROM generate_series(1, $3::int) n`,
      [A, B, payments],
    );
    // As many between the other 998 accounts: the table is not only A's.
    await pool.query(
      `INSERT INTO payments (id, partition, type, status, from_account, to_account, amount, currency, created_at, processed_at)
       SELECT ('01910000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 0, 'transfer', 'completed',
              ('0190a3c2-0000-7000-8000-' || lpad(to_hex(3 + n % 998), 12, '0'))::uuid,
              ('0190a3c2-0000-7000-8000-' || lpad(to_hex(3 + (n + 1) % 998), 12, '0'))::uuid,
              1.00, 'USD', now(), now()
         FROM generate_series(1, $1::int) n`,
      [payments],
    );
    await pool.query("VACUUM ANALYZE payments");
    console.log(`stored ${2 * payments} payments (${payments} of account A) in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const middle = `01900000-0000-7000-8000-${(payments >> 1).toString(16).padStart(12, "0")}`;
    const cases: [string, PaymentFilter][] = [
      ["account A, first page", { accountId: A }],
      ["account A, a page half way down (after=)", { accountId: A, after: middle }],
      ["account A, type=transfer", { accountId: A, type: "transfer" }],
      ["account A, status=completed", { accountId: A, status: "completed" }],
      ["account A, last hour (created_from)", { accountId: A, createdFrom: new Date(Date.now() - 3600_000).toISOString() }],
      ["another account (about 2 × payments / 998)", { accountId: "0190a3c2-0000-7000-8000-000000000010" }],
      ["no filter, first page", {}],
      ["account A, status=failed (none: walks A's whole index)", { accountId: A, status: "failed" }],
    ];
    console.log(`\nmedian and p95 of ${repeat} runs, limit 50 (the default page):`);
    for (const [label, filter] of cases) {
      const times: number[] = [];
      let rows = 0;
      for (let i = 0; i < repeat; i++) {
        const t = performance.now();
        rows = (await listPayments(pool, filter, 50)).length;
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(2);
      console.log(`  ${label.padEnd(56)} ${String(rows).padStart(3)} rows  median ${at(0.5).padStart(8)} ms  p95 ${at(0.95).padStart(8)} ms`);
    }
  } finally {
    await pool.end();
    if (!o.keep) await dropDatabase(o["database-url"], NAME);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
