// The careful synchronous design, as a fair peer for Settle: no queue, every payment settled inside
// its request, but without the naive server's races. One transaction per payment:
//   SELECT … FROM accounts WHERE id = ANY(…) ORDER BY id FOR UPDATE   (ascending id: no deadlocks)
//   check the funds of the locked balance
//   insert the payment, one journal entry per account (seq = last + 1), the new balances
//   COMMIT (durable: the server's synchronous_commit)
// The writes go in one statement and the statements are prepared, as a careful implementation
// would do: the comparison is with the best plain synchronous design, not a strawman.
// Not part of Settle: only the benchmark runs it.
import { createRequire } from "node:module";
import path from "node:path";
import { createPool, formatMoney, moneyFromDb, parseAmount, uuidv7 } from "@settle/core";

// Express is a dependency of apps/api; the bench borrows it rather than adding a package.
const requireFromApi = createRequire(path.resolve(__dirname, "../../apps/api/package.json"));
const express = requireFromApi("express") as typeof import("express");

const pool = createPool({
  url: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/settle_bench_careful",
  max: Number(process.env.DB_POOL_SIZE ?? 20),
  applicationName: "careful",
});
const app = express();
app.use(express.json());

const LOCK = { name: "careful-lock", text: "SELECT id, balance, last_seq FROM accounts WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE" };
const WRITE_TEXT = `
  WITH payment AS (
    INSERT INTO payments (id, type, from_account, to_account, amount, description) VALUES ($1, $2, $3, $4, $5, $6)
  ), entries AS (
    INSERT INTO journal_entries (account_id, seq, payment_id, amount, balance_after)
    SELECT account_id, seq, $1, amount, balance_after FROM unnest($7::uuid[], $8::bigint[], $9::numeric[], $10::numeric[]) AS v(account_id, seq, amount, balance_after)
  )
  UPDATE accounts a SET balance = v.balance_after, last_seq = v.seq
    FROM unnest($7::uuid[], $8::bigint[], $10::numeric[]) AS v(account_id, seq, balance_after)
   WHERE a.id = v.account_id`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Body = { from_account?: unknown; to_account?: unknown; account_id?: unknown; amount?: unknown; payment_description?: unknown; description?: unknown };
type Reply = { status: number; body: unknown };
const error = (status: number, code: string, message: string): Reply => ({ status, body: { error: { code, message } } });

// Lock order makes deadlocks impossible and READ COMMITTED has no serialization failures; counted
// anyway (and answered 500), so a broken assumption shows in the bench instead of being retried away.
const conflicts = { deadlock_detected: 0, serialization_failure: 0 };

async function move(
  type: "transfer" | "deposit" | "withdrawal",
  fromText: string | null,
  toText: string | null,
  amountText: unknown,
  description: unknown,
): Promise<Reply> {
  const amount = parseAmount(amountText);
  if (!amount) return error(400, "invalid_request", "amount: a positive decimal string with at most 2 decimals");
  for (const id of [fromText, toText]) if (id !== null && !UUID.test(id)) return error(400, "invalid_request", "account ids are UUIDs");
  const from = fromText?.toLowerCase() ?? null;
  const to = toText?.toLowerCase() ?? null;
  if (from !== null && from === to) return error(400, "invalid_request", "from_account and to_account must differ");
  const ids = [from, to].filter((id): id is string => id !== null);
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const { rows } = await client.query<{ id: string; balance: string; last_seq: string }>(LOCK, [ids]);
    const byId = new Map(rows.map((r) => [String(r.id), { balance: moneyFromDb(String(r.balance)), lastSeq: BigInt(String(r.last_seq)) }]));
    if (byId.size !== ids.length) {
      await client.query("ROLLBACK");
      return error(422, "account_not_found", "no such account");
    }
    if (from !== null && byId.get(from)!.balance.lessThan(amount)) {
      await client.query("ROLLBACK");
      return error(422, "insufficient_funds", "insufficient funds");
    }
    const id = uuidv7();
    const entries = ids.map((account) => {
      const state = byId.get(account)!;
      const signed = account === from ? amount.negated() : amount;
      return { account, seq: (state.lastSeq + 1n).toString(), amount: formatMoney(signed), balanceAfter: formatMoney(state.balance.plus(signed)) };
    });
    await client.query({
      name: "careful-write",
      text: WRITE_TEXT,
      values: [
        id,
        type,
        from,
        to,
        formatMoney(amount),
        typeof description === "string" ? description : null,
        entries.map((e) => e.account),
        entries.map((e) => e.seq),
        entries.map((e) => e.amount),
        entries.map((e) => e.balanceAfter),
      ],
    });
    await client.query("COMMIT");
    return { status: 201, body: { id, type, status: "completed", from_account: from, to_account: to, amount: formatMoney(amount) } };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    const code = (err as { code?: string }).code;
    if (code === "40P01") conflicts.deadlock_detected++;
    if (code === "40001") conflicts.serialization_failure++;
    const name = code === "40P01" ? "deadlock_detected" : code === "40001" ? "serialization_failure" : `internal_${code ?? "error"}`;
    return error(500, name, String(err));
  } finally {
    client.release();
  }
}

const handle = (run: (b: Body) => Promise<Reply>) => async (req: import("express").Request, res: import("express").Response) => {
  const result = await run((req.body ?? {}) as Body);
  res.status(result.status).json(result.body);
};
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

app.post(
  "/payment",
  handle((b) => move("transfer", str(b.from_account) ?? "", str(b.to_account) ?? "", b.amount, b.payment_description)),
);
app.post(
  "/deposit",
  handle((b) => move("deposit", null, str(b.account_id) ?? "", b.amount, b.description)),
);
app.post(
  "/withdrawal",
  handle((b) => move("withdrawal", str(b.account_id) ?? "", null, b.amount, b.description)),
);
app.get("/conflicts", (_req, res) => void res.json(conflicts));
app.get("/healthz", (_req, res) => void res.json({ ok: true }));

const server = app.listen(Number(process.env.PORT ?? 3998), "127.0.0.1");
const stop = () => server.close(() => void pool.end().then(() => process.exit(0)));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
