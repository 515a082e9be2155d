import { createPool } from "../db/pool";
import { createTestDatabase, waitFor, type TestDatabase } from "../testing";
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
  expect(results.slice(20).map((r) => (r.status === "rejected" ? (r.reason as { code: string }).code : "inserted"))).toEqual([
    "account_not_found",
    "currency_mismatch",
  ]);
  const { rows } = await db.pool.query("SELECT count(*) AS n FROM payments");
  expect(rows[0].n).toBe("20");
});

it("falls back to one insert per payment when the batch statement fails, so only the bad one fails", async () => {
  const [a, b] = [uuidv7(), uuidv7()];
  await createAccount(db.pool, { id: a, currency: "USD" });
  await createAccount(db.pool, { id: b, currency: "USD" });
  const batcher = new AcceptBatcher(db.pool, { maxBatch: 64, maxInFlight: 1 });
  // A description over 500 characters breaks a CHECK (the API's schema never lets one through).
  const results = await Promise.allSettled([
    batcher.insert(transfer(a, b)),
    batcher.insert(transfer(a, b, "1.00", "x".repeat(501))),
    batcher.insert(transfer(a, b)),
  ]);
  expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
});

it("answers the truth when the connection fails around the commit: committed payments are accepted, not 503", async () => {
  const [a, b] = [uuidv7(), uuidv7()];
  await createAccount(db.pool, { id: a, currency: "USD" });
  await createAccount(db.pool, { id: b, currency: "USD" });
  // The real INSERT commits, then the answer is lost, as when the server's connection drops
  // between COMMIT and its reply.
  const lostAnswer = new Proxy(db.pool, {
    get(target, prop, receiver) {
      if (prop !== "query") return Reflect.get(target, prop, receiver);
      return async (...args: Parameters<typeof target.query>) => {
        const config = args[0] as { name?: string };
        const result = await (target.query as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (config?.name === "insert-payments") throw Object.assign(new Error("Connection terminated unexpectedly"), { code: "ECONNRESET" });
        return result;
      };
    },
  });
  const batcher = new AcceptBatcher(lostAnswer, { maxBatch: 64, maxInFlight: 1 });
  const payments = Array.from({ length: 5 }, () => transfer(a, b));
  const results = await Promise.allSettled(payments.map((p) => batcher.insert(p)));
  expect(results.map((r) => (r.status === "fulfilled" ? r.value.id : "rejected"))).toEqual(payments.map((p) => p.id));
  const { rows } = await db.pool.query("SELECT count(*) AS n FROM payments WHERE id = ANY($1::uuid[])", [payments.map((p) => p.id)]);
  expect(rows[0].n).toBe("5");
});

it("answers 503 for the payments that did not commit when the connection fails", async () => {
  const [a, b] = [uuidv7(), uuidv7()];
  await createAccount(db.pool, { id: a, currency: "USD" });
  await createAccount(db.pool, { id: b, currency: "USD" });
  const blocker = await db.pool.connect();
  const batcherPool = createPool({ url: db.url, max: 2, applicationName: "batcher-victim" });
  try {
    // The insert waits on a lock, then its connection is killed before it commits.
    await blocker.query("BEGIN");
    await blocker.query("LOCK TABLE payments IN SHARE MODE"); // blocks inserts, not reads
    const batcher = new AcceptBatcher(batcherPool, { maxBatch: 64, maxInFlight: 1, lookupAttempts: 3 });
    const pending = Promise.allSettled([batcher.insert(transfer(a, b)), batcher.insert(transfer(a, b))]);
    await waitFor(
      async () => {
        const { rows } = await db.pool.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'batcher-victim' AND wait_event_type = 'Lock'");
        return rows[0] ? db.pool.query("SELECT pg_terminate_backend($1)", [rows[0].pid]) : undefined;
      },
      { what: "the batch insert to wait on the lock" },
    );
    const results = await pending;
    expect(results.map((r) => (r.status === "rejected" ? (r.reason as { code: string }).code : "accepted"))).toEqual(["unavailable", "unavailable"]);
  } finally {
    await blocker.query("ROLLBACK");
    blocker.release();
    await batcherPool.end();
  }
  const { rows } = await db.pool.query("SELECT count(*) AS n FROM payments WHERE from_account = $1", [a]);
  expect(rows[0].n).toBe("0");
});

it("lets a payment that would go alone wait for company under steady concurrent traffic, and inserts at once after a quiet moment", async () => {
  const [a, b] = [uuidv7(), uuidv7()];
  await createAccount(db.pool, { id: a, currency: "USD" });
  await createAccount(db.pool, { id: b, currency: "USD" });
  // A long gather, so that the test does not race it: "steady" means an insert ended < 800 ms ago.
  const batcher = new AcceptBatcher(db.pool, { maxBatch: 64, maxInFlight: 1, gatherMs: 200 });
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const sent = Array.from({ length: 6 }, () => transfer(a, b));
  const transactionOf = async (): Promise<string[]> => {
    const { rows } = await db.pool.query("SELECT id, xmin::text AS tx FROM payments WHERE id = ANY($1::uuid[])", [sent.map((p) => p.id)]);
    const byId = new Map(rows.map((r) => [String(r.id), String(r.tx)]));
    return sent.map((p) => byId.get(p.id)!);
  };

  // Concurrent traffic: the second payment arrives while the first one's insert is in flight, and
  // when that insert ends it is alone, so it waits for company (none comes: it goes alone).
  await Promise.all([batcher.insert(sent[0]!), batcher.insert(sent[1]!)]);
  expect(batcher.gathered).toBe(1);
  // An insert just ended: the next payment waits, and one sent 20 ms later joins it.
  await Promise.all([batcher.insert(sent[2]!), pause(20).then(() => batcher.insert(sent[3]!))]);
  expect(batcher.gathered).toBe(2);
  // Quiet for longer than 4 × gatherMs: the next payment goes at once, alone; one sent 20 ms
  // later finds that insert just ended, and waits for company of its own.
  await pause(1000);
  const first = batcher.insert(sent[4]!);
  await pause(20);
  await Promise.all([first, batcher.insert(sent[5]!)]);
  expect(batcher.gathered).toBe(3);

  const tx = await transactionOf();
  expect(tx[2]).toBe(tx[3]);
  expect(new Set([tx[0], tx[1], tx[2], tx[4], tx[5]]).size).toBe(5);
});

it("never holds back a client that sends one payment at a time, and stops waiting once traffic has been one at a time for eight inserts", async () => {
  const [a, b] = [uuidv7(), uuidv7()];
  await createAccount(db.pool, { id: a, currency: "USD" });
  await createAccount(db.pool, { id: b, currency: "USD" });
  const batcher = new AcceptBatcher(db.pool, { maxBatch: 64, maxInFlight: 1, gatherMs: 50 });
  // One at a time from the start: nothing ever arrives while an insert is in flight.
  for (let i = 0; i < 10; i++) await batcher.insert(transfer(a, b));
  expect(batcher.gathered).toBe(0);
  // Two at once (the second arrives while the first is in flight), then one at a time again: the
  // second and the next seven wait for company (the first insert is among the last eight); after
  // them, none does.
  await Promise.all([batcher.insert(transfer(a, b)), batcher.insert(transfer(a, b))]);
  for (let i = 0; i < 20; i++) await batcher.insert(transfer(a, b));
  expect(batcher.gathered).toBe(8);
  const { rows } = await db.pool.query("SELECT count(*) AS n FROM payments WHERE from_account = $1", [a]);
  expect(rows[0].n).toBe("32");
});
