import { Client } from "pg";
import { createTestDatabase, waitFor, type TestDatabase } from "../testing";
import { uuidv7 } from "../ids";
import { partitionFor } from "../partition";
import { createAccount, insertPayment, insertPayments } from "./ledger-repository";
import { SETTLE_EVENTS_CHANNEL, settleBatch } from "./settle";
import { verifyLedger } from "./verify";

const PARTITIONS = 8;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("settle");
});
afterAll(() => db.drop());

/** A new USD account whose partition is not one of `taken`. */
async function accountOutside(taken: number[]): Promise<{ id: string; partition: number }> {
  for (;;) {
    const id = uuidv7();
    const partition = partitionFor(id, PARTITIONS);
    if (taken.includes(partition)) continue;
    await createAccount(db.pool, { id, currency: "USD" });
    return { id, partition };
  }
}

async function accept(type: "deposit" | "transfer", from: { id: string; partition: number } | null, to: { id: string; partition: number }, amount: string) {
  const source = type === "deposit" ? to : from!;
  const p = await insertPayment(db.pool, {
    id: uuidv7(),
    partition: source.partition,
    type,
    fromAccount: from?.id ?? null,
    toAccount: to.id,
    amount,
    description: null,
  });
  return { id: p.id };
}

it("settles several partitions in one transaction, oldest first, each account in acceptance order", async () => {
  const a = await accountOutside([]);
  const b = await accountOutside([a.partition]);
  const c = await accountOutside([a.partition, b.partition]);
  const d = await accountOutside([a.partition, b.partition]);
  const depositA = await accept("deposit", null, a, "10.00");
  const depositB = await accept("deposit", null, b, "10.00");
  const a6 = await accept("transfer", a, c, "6.00");
  const b7 = await accept("transfer", b, c, "7.00");
  const a5 = await accept("transfer", a, c, "5.00");
  const b4 = await accept("transfer", b, c, "4.00");
  const a4 = await accept("transfer", a, c, "4.00");
  const other = await accept("deposit", null, d, "1.00"); // a partition outside the batch

  const first = await settleBatch(db.pool, [a.partition, b.partition], 4);
  expect(first.payments.map((p) => [p.id, p.partition, p.status])).toEqual([
    [depositA.id, a.partition, "completed"],
    [depositB.id, b.partition, "completed"],
    [a6.id, a.partition, "completed"],
    [b7.id, b.partition, "completed"],
  ]);
  // Full: the oldest four across both partitions; a5 and the rest wait for the next round.

  const second = await settleBatch(db.pool, [a.partition, b.partition], 4);
  expect(second.payments.map((p) => [p.id, p.status, p.failureReason])).toEqual([
    [a5.id, "failed", "insufficient_funds"],
    [b4.id, "failed", "insufficient_funds"],
    [a4.id, "completed", null],
  ]);
  // Not full: nothing is left pending in these partitions.
  expect(second.payments.length).toBeLessThan(4);

  const { rows } = await db.pool.query("SELECT id, available FROM accounts WHERE id = ANY($1::uuid[]) ORDER BY available", [[a.id, b.id, c.id]]);
  expect(rows.map((r) => [r.id, r.available])).toEqual([
    [a.id, "0.00"],
    [b.id, "3.00"],
    [c.id, "17.00"],
  ]);
  const pending = await db.pool.query("SELECT id FROM payments WHERE status = 'pending'");
  expect(pending.rows.map((r) => r.id)).toEqual([other.id]);
  expect((await verifyLedger(db.pool)).problems).toEqual([]);
});

it("takes the oldest `limit` across the partitions whatever their backlogs: all from one partition, or interleaved", async () => {
  const busy = (await db.pool.query("SELECT DISTINCT partition FROM payments WHERE status = 'pending'")).rows.map((r) => Number(r.partition));
  const a = await accountOutside(busy);
  const b = await accountOutside([...busy, a.partition]);
  // Twelve in a's partition, then twelve in b's: the first round takes ten of a's, none of b's.
  const olderA = [];
  for (let i = 0; i < 12; i++) olderA.push((await accept("deposit", null, a, "1.00")).id);
  const laterB = [];
  for (let i = 0; i < 12; i++) laterB.push((await accept("deposit", null, b, "1.00")).id);
  expect((await settleBatch(db.pool, [b.partition, a.partition], 10)).payments.map((p) => p.id)).toEqual(olderA.slice(0, 10));
  expect((await settleBatch(db.pool, [a.partition, b.partition], 10)).payments.map((p) => p.id)).toEqual([...olderA.slice(10), ...laterB.slice(0, 8)]);
  // Interleaved: a round takes them in acceptance order, alternating.
  const interleaved = [];
  for (let i = 0; i < 6; i++) {
    interleaved.push((await accept("deposit", null, a, "1.00")).id);
    interleaved.push((await accept("deposit", null, b, "1.00")).id);
  }
  expect((await settleBatch(db.pool, [a.partition, b.partition], 10)).payments.map((p) => p.id)).toEqual([...laterB.slice(8), ...interleaved.slice(0, 6)]);
  expect((await settleBatch(db.pool, [a.partition, b.partition], 10)).payments.map((p) => p.id)).toEqual(interleaved.slice(6));
  expect((await verifyLedger(db.pool)).problems).toEqual([]);
});

/**
 * A payer funded with `amount` (settled), in a partition where earlier tests left nothing pending,
 * so the counts of a test are its own; and a payee.
 */
async function fundedPayerInQuietPartition(amount: string) {
  const busy = (await db.pool.query("SELECT DISTINCT partition FROM payments WHERE status = 'pending'")).rows.map((r) => Number(r.partition));
  const a = await accountOutside(busy);
  const b = await accountOutside([]);
  await accept("deposit", null, a, amount);
  expect((await settleBatch(db.pool, [a.partition], 1000)).payments).toHaveLength(1);
  return { a, b };
}

it("settles a backlog of 1,000 in one partition at the largest batch size, announcing every id", async () => {
  const { a, b } = await fundedPayerInQuietPartition("100.00");
  const backlog = Array.from({ length: 1000 }, () => ({
    id: uuidv7(),
    partition: a.partition,
    type: "transfer" as const,
    fromAccount: a.id,
    toAccount: b.id,
    amount: "0.01",
    description: null,
  }));
  expect((await insertPayments(db.pool, backlog)).size).toBe(1000);

  const listener = new Client({ connectionString: db.url });
  await listener.connect();
  const announced = new Set<string>();
  listener.on("notification", (n) => (n.payload ?? "").split(",").forEach((id) => announced.add(id)));
  await listener.query(`LISTEN ${SETTLE_EVENTS_CHANNEL}`);
  try {
    // One notification listing 1,000 ids would exceed PostgreSQL's 8,000-byte payload limit and fail the round.
    const settled = await settleBatch(db.pool, [a.partition], 1000);
    expect(settled.payments).toHaveLength(1000);
    expect(settled.payments.every((p) => p.status === "completed")).toBe(true);
    await waitFor(() => announced.size >= 1000, { what: "every settled id to be announced" });
    expect(backlog.every((p) => announced.has(p.id))).toBe(true);
  } finally {
    await listener.end();
  }
  expect((await verifyLedger(db.pool)).problems).toEqual([]);
});

it("applies each payment once when eight settle transactions race on one partition", async () => {
  const { a, b } = await fundedPayerInQuietPartition("1000.00");
  const racing = Array.from({ length: 200 }, () => ({
    id: uuidv7(),
    partition: a.partition,
    type: "transfer" as const,
    fromAccount: a.id,
    toAccount: b.id,
    amount: "1.00",
    description: null,
  }));
  await insertPayments(db.pool, racing);
  // The row locks and the pending re-check are the fence: what one settles, the others skip.
  const results = await Promise.all(Array.from({ length: 8 }, () => settleBatch(db.pool, [a.partition], 50)));
  const settledIds = results.flatMap((r) => r.payments.map((p) => p.id));
  expect(new Set(settledIds).size).toBe(settledIds.length);
  while ((await settleBatch(db.pool, [a.partition], 50)).payments.length > 0);
  const { rows } = await db.pool.query(
    "SELECT payment_id, count(*) AS n FROM journal_entries WHERE payment_id = ANY($1::uuid[]) GROUP BY payment_id HAVING count(*) <> 2",
    [racing.map((p) => p.id)],
  );
  expect(rows).toEqual([]);
  const { rows: heads } = await db.pool.query("SELECT available FROM accounts WHERE id = $1", [a.id]);
  expect(heads[0].available).toBe("800.00");
  expect((await verifyLedger(db.pool)).problems).toEqual([]);
});
