import { createTestDatabase, type TestDatabase } from "../testing";
import { uuidv7 } from "../ids";
import { partitionFor } from "../partition";
import { createAccount, insertPayment } from "./ledger-repository";
import { settleBatch } from "./settle";
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
  const p = await insertPayment(db.pool, { id: uuidv7(), partition: source.partition, type, fromAccount: from?.id ?? null, toAccount: to.id, amount, description: null });
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
