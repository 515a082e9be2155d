// `pnpm exec tsx --conditions=source bench/settle-rounds.ts [--payments 20000] [--batch 10] [--partitions 32]`
// What one settle round costs, without the rest of the system: on a database of its own
// (settle_bench_rounds, dropped afterwards) it accepts `--payments` transfers between funded
// accounts (the core's insertPayments) beside `--history` payments settled long ago, then settles them with the core's settleBatch, `--batch`
// at a time over every partition, on one connection, and reports per payment the CPU of this
// process and of its PostgreSQL backend, and the system calls of this process. The machine's
// other load barely moves these figures, unlike a whole-system run's: use it for a before/after
// of a change to the settle round. It first measures the accept path's insert the same way.
import fs from "node:fs";
import { parseArgs } from "node:util";
import { AcceptBatcher, createPool, insertPayments, partitionFor, settleBatch, uuidv7, type NewPayment, type Pool } from "@settle/core";
import { procStats } from "./lib/children";
import { dropDatabase, recreateDatabase } from "./lib/database";
import { seedFundedAccounts } from "./lib/funding";

const USAGE = `Usage: tsx bench/settle-rounds.ts [--payments N] [--batch N] [--partitions N] [--accounts N] [--backlog N] [--history N] [--accepts N] [--database-url URL] [--keep]`;
const { values: o } = parseArgs({
  options: {
    payments: { type: "string", default: "20000" },
    batch: { type: "string", default: "10" },
    partitions: { type: "string", default: "32" },
    accounts: { type: "string", default: "10000" },
    backlog: { type: "string", default: "0" },
    history: { type: "string", default: "200000" },
    accepts: { type: "string", default: "3000" },
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
const batch = Number(o.batch);
const partitions = Number(o.partitions);
const NAME = "settle_bench_rounds";

/** Read and write system calls of this process so far. */
function syscalls(): number {
  const io = fs.readFileSync("/proc/self/io", "utf8");
  const count = (key: string) => Number(new RegExp(`^${key}: (\\d+)`, "m").exec(io)![1]);
  return count("syscr") + count("syscw");
}

interface Costs {
  nodeMs: number;
  pgMs: number;
  calls: number;
  wallMs: number;
}

/**
 * The costs of what runs between this call and a call of the function it returns: this process's
 * CPU, that of the PostgreSQL backend `backend`, this process's system calls, wall time.
 */
function meter(backend: number): () => Costs {
  const pgMs = () => procStats(backend)!.cpuS * 1000;
  const cpu0 = process.cpuUsage();
  const pg0 = pgMs();
  const calls0 = syscalls();
  const t0 = performance.now();
  return () => {
    const cpu = process.cpuUsage(cpu0);
    return { nodeMs: (cpu.user + cpu.system) / 1000, pgMs: pgMs() - pg0, calls: syscalls() - calls0, wallMs: performance.now() - t0 };
  };
}

const backendPid = async (pool: Pool) => (await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;

/** The `i`th transfer of a run: between two of the funded accounts `ids`. */
function transfer(ids: string[], i: number, description: string): NewPayment {
  const from = ids[i % ids.length]!;
  return {
    id: uuidv7(),
    partition: partitionFor(from, partitions),
    type: "transfer",
    fromAccount: from,
    toAccount: ids[(i * 7 + 1) % ids.length]!,
    amount: "1.00",
    description,
  };
}

async function main(): Promise<void> {
  const url = await recreateDatabase(o["database-url"], NAME, { migrate: true });
  const pool = createPool({ url, max: 1, applicationName: "settle-bench-rounds", statementTimeoutMs: 600_000 });
  try {
    const { ids } = await seedFundedAccounts(pool, Number(o.accounts), "1000000.00", partitions);
    // Payments settled long ago (no journal behind them: rounds never read them), so that the
    // pending ones are the small part of the table they are in production.
    await pool.query(
      `INSERT INTO payments (id, partition, type, status, from_account, to_account, amount, currency, processed_at)
       SELECT gen_random_uuid(), n % $2, 'transfer', 'completed', $3::uuid, $4::uuid, 1.00, 'USD', now() FROM generate_series(1, $1::int) n`,
      [Number(o.history), partitions, ids[0], ids[1]],
    );
    await pool.query("VACUUM ANALYZE");
    const backend = await backendPid(pool);
    // Accepts go through a connection of their own, between rounds: only the rounds are measured.
    const accepts = createPool({ url, max: 1, applicationName: "settle-bench-rounds-accept" });
    await measureAccepts(accepts, ids);
    const all = Array.from({ length: partitions }, (_, p) => p);
    const total: Costs = { nodeMs: 0, pgMs: 0, calls: 0, wallMs: 0 };
    let settled = 0;
    let rounds = 0;
    let sent = 0;
    try {
      // As in a steady run, a few rounds' worth pending at a time; or, with --backlog, that many
      // pending: what a round costs while the workers are behind.
      const pending = Math.max(batch * 4, Number(o.backlog));
      while (settled < payments) {
        const n = Math.min(pending - (sent - settled), payments - sent);
        if (n > 0) {
          await insertPayments(
            accepts,
            Array.from({ length: n }, (_, i) => transfer(ids, sent + i, "round")),
          );
          sent += n;
        }
        const measured = meter(backend);
        for (let r = 0; r < 4 && settled < sent; r++) {
          settled += (await settleBatch(pool, all, batch)).payments.length;
          rounds++;
        }
        const costs = measured();
        for (const key of Object.keys(total) as (keyof Costs)[]) total[key] += costs[key];
      }
    } finally {
      await accepts.end();
    }
    const { nodeMs, pgMs, calls, wallMs } = total;
    const per = (x: number) => (x / settled).toFixed(3);
    console.log(
      `settled ${settled} payments in ${rounds} rounds of up to ${batch}, ${(wallMs / 1000).toFixed(1)} s (${Math.round(settled / (wallMs / 1000))}/s)`,
    );
    console.log(
      `per payment: node ${per(nodeMs)} ms CPU, its PostgreSQL backend ${per(pgMs)} ms CPU, ${per(calls)} read/write system calls; per round ${(calls / rounds).toFixed(1)} system calls, ${(wallMs / rounds).toFixed(2)} ms`,
    );
  } finally {
    await pool.end();
    if (!o.keep) await dropDatabase(o["database-url"], NAME);
  }
}

/**
 * The accept path's insert, alone: `--accepts` payments one after the other through the API's
 * AcceptBatcher (each its own insert and commit, as under light load), then deleted again.
 */
async function measureAccepts(accepts: Pool, ids: string[]): Promise<void> {
  const n = Number(o.accepts);
  if (n === 0) return;
  const batcher = new AcceptBatcher(accepts, { maxBatch: 100, maxInFlight: 1 });
  const measured = meter(await backendPid(accepts));
  for (let i = 0; i < n; i++) await batcher.insert(transfer(ids, i, "accept"));
  const { nodeMs, pgMs, calls, wallMs } = measured();
  const per = (x: number) => (x / n).toFixed(3);
  console.log(
    `accepted ${n} payments one at a time: per payment node ${per(nodeMs)} ms CPU, its PostgreSQL backend ${per(pgMs)} ms CPU, ${per(calls)} read/write system calls, ${per(wallMs)} ms`,
  );
  await accepts.query("DELETE FROM payments WHERE status = 'pending'");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
