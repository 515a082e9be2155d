import { createTestDatabase, type TestDatabase } from "../testing";
import { uuidv7 } from "../ids";
import { AcceptBatcher } from "./accept-batcher";
import { createAccount } from "./ledger-repository";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("batcher");
});
afterAll(() => db.drop());

const transfer = (from: string, to: string, amount = "1.00", description: string | null = null) => ({
  id: uuidv7(),
  partition: 0,
  type: "transfer" as const,
  fromAccount: from,
  toAccount: to,
  amount,
  description,
});

it("inserts concurrent payments together and tells each refused one why", async () => {
  const [a, b, eur] = [uuidv7(), uuidv7(), uuidv7()];
  await createAccount(db.pool, { id: a, currency: "USD" });
  await createAccount(db.pool, { id: b, currency: "USD" });
  await createAccount(db.pool, { id: eur, currency: "EUR" });
  const batcher = new AcceptBatcher(db.pool, { maxBatch: 64, maxInFlight: 1 });
  const results = await Promise.allSettled([
    ...Array.from({ length: 20 }, () => batcher.insert(transfer(a, b))),
    batcher.insert(transfer(a, uuidv7())),
    batcher.insert(transfer(a, eur)),
  ]);
  expect(results.slice(0, 20).every((r) => r.status === "fulfilled" && r.value.status === "pending" && r.value.currency === "USD")).toBe(true);
  expect(results.slice(20).map((r) => (r.status === "rejected" ? (r.reason as { code: string }).code : "inserted"))).toEqual(["account_not_found", "currency_mismatch"]);
  const { rows } = await db.pool.query("SELECT count(*) AS n FROM payments");
  expect(rows[0].n).toBe("20");
});

it("falls back to one insert per payment when the batch statement fails, so only the bad one fails", async () => {
  const [a, b] = [uuidv7(), uuidv7()];
  await createAccount(db.pool, { id: a, currency: "USD" });
  await createAccount(db.pool, { id: b, currency: "USD" });
  const batcher = new AcceptBatcher(db.pool, { maxBatch: 64, maxInFlight: 1 });
  // A description over 500 characters breaks a CHECK (the API's schema never lets one through).
  const results = await Promise.allSettled([batcher.insert(transfer(a, b)), batcher.insert(transfer(a, b, "1.00", "x".repeat(501))), batcher.insert(transfer(a, b))]);
  expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
});
