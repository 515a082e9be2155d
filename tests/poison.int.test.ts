// No repeatable error stalls a partition: an operation that fails its settle round for a reason no
// retry cures is recorded as failed (internal_error), alone, and the partition goes on.
import { verifyLedger } from "@settle/core";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, newAccount, settled, type ApiClient } from "./support/http";

let system: InProcessSystem;
let api: ApiClient;

beforeAll(async () => {
  system = await startInProcess("poison", { workers: 0 });
  api = client(system.api.url);
});
afterAll(async () => {
  await system.db.pool.query("DROP TRIGGER IF EXISTS poison ON journal_entries");
  await system.stop();
});

it("fails the one operation that cannot settle with internal_error; those before and after it settle", async () => {
  const [a, b] = [await newAccount(api), await newAccount(api)];
  const deposit = await api.post("/api/v1/deposits", { account_id: a, amount: "100.00" });
  const transfers = [];
  for (const amount of ["10.00", "20.00", "30.00"]) transfers.push((await api.post("/api/v1/payments", { from_account: a, to_account: b, amount })).body.id);
  // A bad row, as a bug or a constraint would make one: its journal entries can never be written.
  await system.db.pool.query(`
    CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.payment_id = '${transfers[1]}' THEN RAISE EXCEPTION 'poisoned operation'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER poison BEFORE INSERT ON journal_entries FOR EACH ROW EXECUTE FUNCTION poison();`);
  await system.startWorker();

  expect((await settled(api, deposit.body.id)).status).toBe("completed");
  const outcomes = [];
  for (const id of transfers) outcomes.push(await settled(api, id));
  expect(outcomes.map((p) => [p.status, p.failure_reason])).toEqual([
    ["completed", null],
    ["failed", "internal_error"],
    ["completed", null],
  ]);
  expect((await api.get(`/api/v1/accounts/${a}`)).body.available).toBe("60.00");
  expect((await api.get(`/api/v1/accounts/${b}`)).body.available).toBe("40.00");
  // It stays failed: it is not settled again when later work comes to the partition.
  const later = await api.post("/api/v1/payments", { from_account: a, to_account: b, amount: "1.00" });
  expect((await settled(api, later.body.id)).status).toBe("completed");
  expect((await api.get(`/api/v1/payments/${transfers[1]}`)).body.status).toBe("failed");
  expect((await verifyLedger(system.db.pool)).problems).toEqual([]);
});

it("fails a deposit that would overflow numeric(24,2) alone; the partition's next payment settles", async () => {
  const [rich, other] = [await newAccount(api), await newAccount(api)];
  const seed = await api.post("/api/v1/deposits", { account_id: rich, amount: "10.00" });
  expect((await settled(api, seed.body.id)).status).toBe("completed");
  // Only a tampered head comes this close to the column's limit.
  await system.db.pool.query("UPDATE accounts SET available = 9999999999999999999999.00 WHERE id = $1", [rich]);
  const overflow = await api.post("/api/v1/deposits", { account_id: rich, amount: "1.00" });
  const next = await api.post("/api/v1/payments", { from_account: rich, to_account: other, amount: "5.00" });
  expect(await settled(api, overflow.body.id)).toMatchObject({ status: "failed", failure_reason: "internal_error" });
  expect((await settled(api, next.body.id)).status).toBe("completed");
  expect((await api.get(`/api/v1/accounts/${other}`)).body.available).toBe("5.00");
});
