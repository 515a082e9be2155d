import { createTestDatabase, type TestDatabase } from "../testing";
import { createPool, withTransaction, type Pool } from "./pool";

// withTransaction pipelines: its BEGIN goes out with the first statement, commitWith writes the
// last statement with the COMMIT. These pin down that nothing of a transaction's meaning changed.

let db: TestDatabase;
let pool: Pool;
beforeAll(async () => {
  db = await createTestDatabase("pool");
  // One connection: every transaction below runs on the client the one before it gave back.
  pool = createPool({ url: db.url, max: 1, applicationName: "test-pool" });
  await pool.query("CREATE TABLE tx_probe (n int PRIMARY KEY)");
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});
beforeEach(() => pool.query("TRUNCATE tx_probe"));

const stored = async () => (await pool.query<{ n: number }>("SELECT n FROM tx_probe ORDER BY n")).rows.map((r) => r.n);

it("commits what work wrote, inside one transaction", async () => {
  const open = await withTransaction(pool, async (client) => {
    await client.query("INSERT INTO tx_probe VALUES (1)");
    // The INSERT's transaction id is still assigned: the SELECT runs in the BEGIN's transaction.
    const { rows } = await client.query<{ open: boolean }>("SELECT txid_current_if_assigned() IS NOT NULL AS open");
    return rows[0]!.open;
  });
  expect(open).toBe(true);
  expect(await stored()).toEqual([1]);
});

it("rolls back everything when work throws, and the client serves the next transaction", async () => {
  await expect(
    withTransaction(pool, async (client) => {
      await client.query("INSERT INTO tx_probe VALUES (1)");
      throw new Error("refused");
    }),
  ).rejects.toThrow("refused");
  expect(await stored()).toEqual([]);
  await withTransaction(pool, (client) => client.query("INSERT INTO tx_probe VALUES (2)"));
  expect(await stored()).toEqual([2]);
});

it("commitWith returns the last statement's result with the transaction committed", async () => {
  const rows = await withTransaction(pool, async (client, end) => {
    await client.query("INSERT INTO tx_probe VALUES (1)");
    return (await end.commitWith<{ n: number }>({ text: "INSERT INTO tx_probe VALUES (2), (3) RETURNING n", values: [] })).rows;
  });
  expect(rows.map((r) => r.n)).toEqual([2, 3]);
  expect(await stored()).toEqual([1, 2, 3]);
});

it("a last statement that fails under commitWith leaves nothing of the transaction, and throws its error", async () => {
  await expect(
    withTransaction(pool, async (client, end) => {
      await client.query("INSERT INTO tx_probe VALUES (1)");
      await end.commitWith({ text: "INSERT INTO tx_probe VALUES (1)" }); // duplicate key
    }),
  ).rejects.toMatchObject({ code: "23505" });
  expect(await stored()).toEqual([]);
  // The COMMIT written with it ended the aborted transaction: the connection is clean.
  const { rows } = await pool.query<{ state: string }>("SELECT CASE WHEN txid_current_if_assigned() IS NULL THEN 'idle' ELSE 'open' END AS state");
  expect(rows[0]!.state).toBe("idle");
});

it("refuses a statement after commitWith: the transaction is over", async () => {
  await expect(
    withTransaction(pool, async (_client, end) => {
      await end.commitWith({ text: "INSERT INTO tx_probe VALUES (1)" });
      await end.commitWith({ text: "INSERT INTO tx_probe VALUES (2)" });
    }),
  ).rejects.toThrow(/already ended/);
  expect(await stored()).toEqual([1]);
});

it("genericPlans holds for that transaction only", async () => {
  const inside = await withTransaction(
    pool,
    async (client) => (await client.query<{ plan_cache_mode: string }>("SHOW plan_cache_mode")).rows[0]!.plan_cache_mode,
    {
      genericPlans: true,
    },
  );
  expect(inside).toBe("force_generic_plan");
  const after = (await pool.query<{ plan_cache_mode: string }>("SHOW plan_cache_mode")).rows[0]!.plan_cache_mode;
  expect(after).toBe("auto");
});

it("a connection killed mid-transaction rejects, and the pool replaces the client", async () => {
  await expect(
    withTransaction(pool, async (client) => {
      await client.query("INSERT INTO tx_probe VALUES (1)");
      await db.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'test-pool' AND pid <> pg_backend_pid()");
      await client.query("INSERT INTO tx_probe VALUES (2)");
    }),
  ).rejects.toThrow();
  expect(await stored()).toEqual([]);
});
