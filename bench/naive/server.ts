// The naive synchronous design of the design notes, as a baseline: POST /payment checks the
// balance, inserts the transaction and updates both balances, all inside the request, with no
// queue and no locking discipline. Its races are the point (see BENCHMARKS.md):
// - the check reads the balance without a lock, so two payments can both pass it (overdraft);
// - the new balances are computed from those reads and written back, so concurrent payments on
//   one account overwrite each other (lost updates: money appears or vanishes);
// - rows are locked in arrival order (from, then to), so A→B and B→A can deadlock.
// Not part of Settle: only the benchmark runs it.
import { createRequire } from "node:module";
import path from "node:path";
import { createPool, MoneyDecimal, parseAmount } from "@settle/core";

// Express is a dependency of apps/api; the bench borrows it rather than adding a package.
const requireFromApi = createRequire(path.resolve(__dirname, "../../apps/api/package.json"));
const express = requireFromApi("express") as typeof import("express");

const pool = createPool({
  url: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/settle_bench_naive",
  max: Number(process.env.DB_POOL_SIZE ?? 20),
  applicationName: "naive",
});
const app = express();
app.use(express.json());

type Body = { from_account?: string; to_account?: string; account_id?: string; amount?: string };

async function move(from: string | null, to: string | null, amountText: string): Promise<{ status: number; body: unknown }> {
  const amount = parseAmount(amountText);
  if (!amount) return { status: 400, body: { error: { code: "invalid_request", message: "amount" } } };
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // 1. check the balance (a plain read: nothing stops another request from reading the same value)
    let fromBalance: InstanceType<typeof MoneyDecimal> | undefined;
    if (from) {
      const { rows } = await client.query<{ balance: string }>("SELECT balance FROM naive_accounts WHERE id = $1", [from]);
      if (!rows[0]) throw Object.assign(new Error("no such account"), { status: 422 });
      fromBalance = new MoneyDecimal(String(rows[0].balance));
      if (fromBalance.lessThan(amount)) {
        await client.query("ROLLBACK");
        return { status: 422, body: { error: { code: "insufficient_funds", message: "insufficient funds" } } };
      }
    }
    let toBalance: InstanceType<typeof MoneyDecimal> | undefined;
    if (to) {
      const { rows } = await client.query<{ balance: string }>("SELECT balance FROM naive_accounts WHERE id = $1", [to]);
      if (!rows[0]) throw Object.assign(new Error("no such account"), { status: 422 });
      toBalance = new MoneyDecimal(String(rows[0].balance));
    }
    // 2. insert the transaction
    await client.query("INSERT INTO naive_transactions (from_account, to_account, amount) VALUES ($1, $2, $3)", [from, to, amount.toFixed(2)]);
    // 3. update the balances with the values computed from the reads above
    if (from && fromBalance) await client.query("UPDATE naive_accounts SET balance = $2 WHERE id = $1", [from, fromBalance.minus(amount).toFixed(2)]);
    if (to && toBalance) await client.query("UPDATE naive_accounts SET balance = $2 WHERE id = $1", [to, toBalance.plus(amount).toFixed(2)]);
    await client.query("COMMIT");
    return { status: 201, body: { status: "completed" } };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    const code = (error as { code?: string }).code;
    const status = (error as { status?: number }).status ?? 500;
    return {
      status,
      body: {
        error: { code: code === "40P01" ? "deadlock_detected" : status === 422 ? "account_not_found" : `internal_${code ?? "error"}`, message: String(error) },
      },
    };
  } finally {
    client.release();
  }
}

const handle = (pick: (b: Body) => [string | null, string | null]) => async (req: import("express").Request, res: import("express").Response) => {
  const body = (req.body ?? {}) as Body;
  const [from, to] = pick(body);
  const result = await move(from, to, String(body.amount ?? ""));
  res.status(result.status).json(result.body);
};

app.post(
  "/payment",
  handle((b) => [b.from_account ?? null, b.to_account ?? null]),
);
app.post(
  "/deposit",
  handle((b) => [null, b.account_id ?? null]),
);
app.post(
  "/withdrawal",
  handle((b) => [b.account_id ?? null, null]),
);
app.get("/healthz", (_req, res) => void res.json({ ok: true }));

const server = app.listen(Number(process.env.PORT ?? 3999), "127.0.0.1");
const stop = () => server.close(() => void pool.end().then(() => process.exit(0)));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
