import type { Pool, PoolClient, QueryConfig } from "pg";
import { DomainError } from "../errors";
import { asUnavailable, withTransaction } from "../db/pool";
import { accountStatusEvent, accountUpdatedEvent, writeEvents, type NewEvent } from "../events/events";
import { formatMoney, moneyFromDb } from "../money";
import type { AccountStatus, EntryType } from "./apply";
import { entriesPageQuery, type EntryFilter } from "./balance-history";
import type { FailureReason, PaymentType } from "./payments";

// The API's SQL on accounts and payments (disputes.ts and ../idempotency.ts hold their own).
// None of them locks an account row for longer than one statement, and none changes a balance:
// only the settle transaction does.

export interface AccountView {
  id: string;
  currency: string;
  status: AccountStatus;
  balance: string;
  available: string;
  held: string;
  overdraft_limit: string;
  entry_count: number;
  created_at: string;
}

export type PaymentStatus = "pending" | "completed" | "failed" | "authorized" | "voided" | "expired";

export interface PaymentView {
  id: string;
  type: PaymentType;
  status: PaymentStatus;
  from_account: string | null;
  to_account: string | null;
  amount: string;
  currency: string;
  payment_description: string | null;
  failure_reason: FailureReason | null;
  dispute_status: "none" | "open" | "resolved" | "charged_back";
  created_at: string;
  processed_at: string | null;
  /** A refund's payment, else null. */
  refund_of: string | null;
  /** The total of its completed refunds. */
  amount_refunded: string;
  /** False for an authorization (docs/API.md "Authorize, then capture or void"). */
  capture: boolean;
  amount_captured: string | null;
  expires_at: string | null;
  /** What its dispute holds (or held): null while never disputed. */
  amount_disputed: string | null;
}

export interface EntryView {
  seq: number;
  payment_id: string;
  type: EntryType;
  amount: string;
  balance_after: string;
  available_after: string;
  held_after: string;
  prev_hash: string;
  hash: string;
  created_at: string;
}

type Queryable = Pool | PoolClient;
type Row = Record<string, unknown>;

const money = (value: unknown): string => formatMoney(moneyFromDb(String(value)));
const iso = (value: unknown): string => (value as Date).toISOString();

export const ACCOUNT_COLUMNS = "id, currency, status, available, held, overdraft_limit, entry_count, created_at";

export function toAccountView(row: Row): AccountView {
  const available = moneyFromDb(String(row.available));
  const held = moneyFromDb(String(row.held));
  return {
    id: String(row.id),
    currency: String(row.currency),
    status: row.status as AccountStatus,
    balance: formatMoney(available.plus(held)),
    available: formatMoney(available),
    held: formatMoney(held),
    overdraft_limit: money(row.overdraft_limit),
    entry_count: Number(row.entry_count),
    created_at: iso(row.created_at),
  };
}

export const PAYMENT_COLUMNS =
  "id, type, status, from_account, to_account, amount, currency, description, failure_reason, dispute_status, created_at, processed_at, " +
  "refund_of, amount_refunded, capture, amount_captured, expires_at, amount_disputed";

/** A payment's PAYMENT_COLUMNS as pg returns them (numeric as a string). */
export interface PaymentRow {
  id: string;
  type: PaymentType;
  status: PaymentView["status"];
  from_account: string | null;
  to_account: string | null;
  amount: string;
  currency: string;
  description: string | null;
  failure_reason: string | null;
  dispute_status: string;
  created_at: Date;
  processed_at: Date | null;
  refund_of: string | null;
  amount_refunded: string;
  capture: boolean;
  amount_captured: string | null;
  expires_at: Date | null;
  amount_disputed: string | null;
}

export function toPaymentView(row: PaymentRow): PaymentView {
  return {
    id: String(row.id),
    type: row.type,
    status: row.status,
    from_account: row.from_account ?? null,
    to_account: row.to_account ?? null,
    amount: money(row.amount),
    currency: String(row.currency),
    payment_description: row.description ?? null,
    failure_reason: (row.failure_reason as FailureReason | null) ?? null,
    dispute_status: row.dispute_status as PaymentView["dispute_status"],
    created_at: iso(row.created_at),
    processed_at: row.processed_at ? iso(row.processed_at) : null,
    refund_of: row.refund_of ?? null,
    amount_refunded: money(row.amount_refunded),
    capture: row.capture,
    amount_captured: row.amount_captured === null ? null : money(row.amount_captured),
    expires_at: row.expires_at ? iso(row.expires_at) : null,
    amount_disputed: row.amount_disputed === null ? null : money(row.amount_disputed),
  };
}

/** A journal entry's row as pg returns it (bigint and numeric as strings). */
export interface JournalEntryRow {
  account_id: string;
  seq: string;
  payment_id: string;
  type: EntryType;
  amount: string;
  balance_after: string;
  available_after: string;
  held_after: string;
  prev_hash: string;
  hash: string;
  created_at: Date;
}

export function toEntryView(row: Omit<JournalEntryRow, "account_id">): EntryView {
  return {
    seq: Number(row.seq),
    payment_id: row.payment_id,
    type: row.type,
    amount: money(row.amount),
    balance_after: money(row.balance_after),
    available_after: money(row.available_after),
    held_after: money(row.held_after),
    prev_hash: row.prev_hash,
    hash: row.hash,
    created_at: iso(row.created_at),
  };
}

/** Creates an account; an id that exists already is a 409. */
export async function createAccount(db: Queryable, input: { id: string; currency: string; overdraftLimit?: string }): Promise<AccountView> {
  try {
    const { rows } = await db.query<Row>(`INSERT INTO accounts (id, currency, overdraft_limit) VALUES ($1, $2, $3) RETURNING ${ACCOUNT_COLUMNS}`, [
      input.id,
      input.currency,
      input.overdraftLimit ?? "0",
    ]);
    return toAccountView(rows[0]!);
  } catch (error) {
    if ((error as { code?: string }).code === "23505") throw new DomainError("account_exists", `account ${input.id} already exists`);
    return asUnavailable(error);
  }
}

export async function findAccount(db: Queryable, id: string): Promise<AccountView | null> {
  const { rows } = await db.query<Row>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [id]).catch(asUnavailable);
  return rows[0] ? toAccountView(rows[0]) : null;
}

// ACCOUNT_COLUMNS qualified, for a statement that joins accounts as `a`.
const ACCOUNT_COLUMNS_OF_A = ACCOUNT_COLUMNS.split(", ")
  .map((c) => `a.${c}`)
  .join(", ");

/**
 * Sets one column of an account at once (an admin action), under its row lock, and writes `event`
 * when the value really changed. The row lock orders it with the settle transactions: every
 * operation settled after this returns sees the new value, including those accepted before it
 * and still pending.
 */
async function updateAccountAtOnce(
  pool: Pool,
  id: string,
  column: "status" | "overdraft_limit",
  value: string,
  event: (account: AccountView) => NewEvent,
): Promise<AccountView | null> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<Row & { changed: boolean }>(
      `UPDATE accounts a SET ${column} = $2
         FROM (SELECT ${column} AS previous FROM accounts WHERE id = $1 FOR NO KEY UPDATE) p
        WHERE a.id = $1
       RETURNING ${ACCOUNT_COLUMNS_OF_A}, p.previous IS DISTINCT FROM a.${column} AS changed`,
      [id, value],
    );
    const row = rows[0];
    if (!row) return null;
    const account = toAccountView(row);
    if (row.changed) await writeEvents(client, [event(account)]);
    return account;
  }).catch(asUnavailable);
}

/** Freezes or unfreezes an account at once, with its event; freezing a frozen account changes nothing and writes none. */
export function setAccountStatus(pool: Pool, id: string, status: AccountStatus): Promise<AccountView | null> {
  return updateAccountAtOnce(pool, id, "status", status, accountStatusEvent);
}

/** Sets an account's overdraft limit at once, with an `account.updated` event when it changes (docs/API.md "Overdraft limits"). */
export function setOverdraftLimit(pool: Pool, id: string, limit: string): Promise<AccountView | null> {
  return updateAccountAtOnce(pool, id, "overdraft_limit", limit, accountUpdatedEvent);
}

/**
 * One page of an account's journal, oldest first, after the cursor `after` (a seq), optionally
 * within a created_at window (`from`, `to`, both inclusive; see ./balance-history.ts).
 */
export async function listEntries(db: Queryable, accountId: string, after: number, limit: number, filter: EntryFilter = {}): Promise<EntryView[]> {
  const { text, values } = entriesPageQuery(accountId, after, limit, filter);
  const { rows } = await db.query<Omit<JournalEntryRow, "account_id">>(text, values).catch(asUnavailable);
  return rows.map(toEntryView);
}

/** What `listPayments` filters on; all optional. */
export interface PaymentFilter {
  accountId?: string;
  status?: PaymentView["status"];
  type?: PaymentType;
  createdFrom?: string;
  createdTo?: string;
  /** A payment id: the page starts after it (newest first, so at older payments). */
  after?: string;
}

/**
 * One page of payments, newest first by id (a UUIDv7, so by acceptance time). With an account,
 * the payments it sent and those it received are read through one index each
 * (`payments_by_from_account`, `payments_by_to_account`), each scan stopping after `limit` rows,
 * so a page costs the same on an account with a million payments as on one with ten.
 */
export async function listPayments(db: Queryable, filter: PaymentFilter, limit: number): Promise<PaymentView[]> {
  const values: unknown[] = [];
  const param = (value: unknown) => `$${values.push(value)}`;
  const conditions: string[] = [];
  if (filter.after) conditions.push(`id < ${param(filter.after)}`);
  if (filter.status) conditions.push(`status = ${param(filter.status)}`);
  if (filter.type) conditions.push(`type = ${param(filter.type)}`);
  if (filter.createdFrom) conditions.push(`created_at >= date_trunc('milliseconds', ${param(filter.createdFrom)}::timestamptz)`);
  // Inclusive to the millisecond, the precision timestamps are shown in: a payment's own
  // created_at (stored in microseconds) matches it.
  if (filter.createdTo) conditions.push(`created_at < ${param(filter.createdTo)}::timestamptz + interval '1 millisecond'`);
  const limitParam = param(limit);
  const where = (extra: string[]) => {
    const all = [...extra, ...conditions];
    return all.length ? `WHERE ${all.join(" AND ")}` : "";
  };
  let sql: string;
  if (filter.accountId) {
    const account = param(filter.accountId);
    const side = (column: string) => `(SELECT ${PAYMENT_COLUMNS} FROM payments ${where([`${column} = ${account}`])} ORDER BY id DESC LIMIT ${limitParam})`;
    sql = `SELECT * FROM (${side("from_account")} UNION ALL ${side("to_account")}) both_sides ORDER BY id DESC LIMIT ${limitParam}`;
  } else {
    sql = `SELECT ${PAYMENT_COLUMNS} FROM payments ${where([])} ORDER BY id DESC LIMIT ${limitParam}`;
  }
  const { rows } = await db.query<PaymentRow>(sql, values).catch(asUnavailable);
  return rows.map(toPaymentView);
}

/** One page of accounts by id, after the cursor `after` (an account id). */
export async function listAccounts(db: Queryable, after: string | undefined, limit: number): Promise<AccountView[]> {
  const { rows } = await (
    after === undefined
      ? db.query<Row>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY id LIMIT $1`, [limit])
      : db.query<Row>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id > $1 ORDER BY id LIMIT $2`, [after, limit])
  ).catch(asUnavailable);
  return rows.map(toAccountView);
}

export async function findPayment(db: Queryable, id: string): Promise<PaymentView | null> {
  const { rows } = await db.query<PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = $1`, [id]).catch(asUnavailable);
  return rows[0] ? toPaymentView(rows[0]) : null;
}

export interface NewPayment {
  id: string;
  partition: number;
  type: PaymentType;
  fromAccount: string | null;
  toAccount: string | null;
  amount: string;
  description: string | null;
  /** The accepting request's id, for tracing (logs only). */
  requestId?: string | null;
  /** An authorization (capture false) and its lifetime from acceptance; a plain payment omits both. */
  capture?: boolean;
  expiresInSeconds?: number | null;
  /** A refund's payment. */
  refundOf?: string | null;
}

// Inserts pending payments in one statement (one round trip, one commit for the batch): each row
// only when its accounts exist and share one currency, which the payment takes. A refused row is
// simply not returned. `input` is the payments to insert, one row each, numbered `n`.
const insertPaymentsSql = (input: string) => `
  WITH input AS (${input})
  INSERT INTO payments (id, partition, type, from_account, to_account, amount, description, request_id, currency, capture, expires_at, refund_of)
  SELECT i.id, i.partition, i.type, i.from_account, i.to_account, i.amount, i.description, i.request_id, coalesce(f.currency, t.currency),
         i.capture, now() + make_interval(secs => i.expires_in), i.refund_of
    FROM input i
    LEFT JOIN accounts f ON f.id = i.from_account
    LEFT JOIN accounts t ON t.id = i.to_account
   WHERE (i.from_account IS NULL) = (f.id IS NULL)
     AND (i.to_account IS NULL) = (t.id IS NULL)
     AND (f.currency IS NULL OR t.currency IS NULL OR f.currency = t.currency)
   ORDER BY i.n
  RETURNING ${PAYMENT_COLUMNS}`;
/** The insert's input columns: each one's name, SQL type and value for a payment, in parameter order. */
const INPUT: { name: string; type: string; of: (p: NewPayment) => unknown }[] = [
  { name: "id", type: "uuid", of: (p) => p.id },
  { name: "partition", type: "int", of: (p) => p.partition },
  { name: "type", type: "text", of: (p) => p.type },
  { name: "from_account", type: "uuid", of: (p) => p.fromAccount },
  { name: "to_account", type: "uuid", of: (p) => p.toAccount },
  { name: "amount", type: "numeric", of: (p) => p.amount },
  { name: "description", type: "text", of: (p) => p.description },
  { name: "request_id", type: "text", of: (p) => p.requestId ?? null },
  { name: "capture", type: "bool", of: (p) => p.capture ?? true },
  { name: "expires_in", type: "int", of: (p) => (p.capture === false ? (p.expiresInSeconds ?? DEFAULT_AUTHORIZATION_SECONDS) : null) },
  { name: "refund_of", type: "uuid", of: (p) => p.refundOf ?? null },
];
const INPUT_NAMES = INPUT.map((c) => c.name).join(", ");
const INSERT_PAYMENTS = insertPaymentsSql(
  `SELECT * FROM unnest(${INPUT.map((c, i) => `$${i + 1}::${c.type}[]`).join(", ")}) WITH ORDINALITY AS t(${INPUT_NAMES}, n)`,
);
// Up to four payments, the common case (an insert carries what arrived while the one before it was
// in flight), as rows of scalars: PostgreSQL then keeps one plan per statement after a few runs.
// With arrays it plans every run anew (it cannot see their length and prices a generic plan for
// 100 rows): 0.42-0.46 -> 0.25-0.28 ms of its CPU per single accept (bench/settle-rounds.ts).
const SCALAR_ROWS_MAX = 4;
/** [k - 1]: the statement for k payments. */
const INSERT_PAYMENTS_AS_ROWS = Array.from({ length: SCALAR_ROWS_MAX }, (_, k) => {
  const row = (r: number) => `(${INPUT.map((c, i) => `$${r * INPUT.length + i + 1}::${c.type}`).join(", ")}, ${r + 1})`;
  const values = Array.from({ length: k + 1 }, (_, r) => row(r)).join(", ");
  return insertPaymentsSql(`SELECT * FROM (VALUES ${values}) AS t(${INPUT_NAMES}, n)`);
});

export type InsertedPayment = PaymentView;

/** How long an authorization holds its funds when the request does not say: 7 days. */
export const DEFAULT_AUTHORIZATION_SECONDS = 7 * 24 * 3600;

/** Inserts pending payments together; returns the inserted ones by id (a missing id was refused). */
export async function insertPayments(db: Queryable, payments: NewPayment[]): Promise<Map<string, InsertedPayment>> {
  const n = payments.length;
  if (n === 0) return new Map();
  const query: QueryConfig =
    n <= SCALAR_ROWS_MAX
      ? { name: `insert-payments-${n}`, text: INSERT_PAYMENTS_AS_ROWS[n - 1]!, values: payments.flatMap((p) => INPUT.map((c) => c.of(p))) }
      : { name: "insert-payments", text: INSERT_PAYMENTS, values: INPUT.map((c) => payments.map(c.of)) };
  const { rows } = await db.query<PaymentRow>(query);
  return new Map(rows.map((r) => [String(r.id), toPaymentView(r)]));
}

/** The payments among `ids` that exist, by id (what an insert whose answer was lost committed). */
export async function findInsertedPayments(db: Queryable, ids: string[]): Promise<Map<string, InsertedPayment>> {
  const { rows } = await db.query<PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = ANY($1::uuid[])`, [ids]);
  return new Map(rows.map((r) => [String(r.id), toPaymentView(r)]));
}

/** Inserts one pending payment, or writes nothing and throws why (422 account_not_found, currency_mismatch). */
export async function insertPayment(db: Queryable, p: NewPayment): Promise<InsertedPayment> {
  const inserted = (await insertPayments(db, [p]).catch(asUnavailable)).get(p.id);
  if (inserted) return inserted;
  throw await explainRefusedPayment(db, p);
}

/** Why a payment was not inserted: an unknown account (422 account_not_found) or a currency mismatch. */
export async function explainRefusedPayment(db: Queryable, p: NewPayment): Promise<DomainError> {
  const accountIds = [p.fromAccount, p.toAccount].filter((id): id is string => id !== null);
  const { rows: found } = await db.query<{ id: string }>("SELECT id FROM accounts WHERE id = ANY($1::uuid[])", [accountIds]).catch(asUnavailable);
  const known = new Set(found.map((r) => String(r.id)));
  const missing = accountIds.filter((id) => !known.has(id));
  if (missing.length) {
    return new DomainError(
      "account_not_found",
      `account ${missing.join(", ")} does not exist`,
      missing.map((id) => ({ path: id === p.fromAccount ? "from_account" : p.type === "transfer" ? "to_account" : "account_id", message: "no such account" })),
    );
  }
  return new DomainError("currency_mismatch", "from_account and to_account hold different currencies");
}

/** True while an operation on this payment (a dispute step, a capture, a void, an expiry) is queued and not yet applied. */
export async function hasPendingOperation(db: Queryable, paymentId: string): Promise<boolean> {
  const { rows } = await db
    .query<{ pending: boolean }>("SELECT EXISTS (SELECT 1 FROM payment_operations WHERE payment_id = $1 AND status = 'pending') AS pending", [paymentId])
    .catch(asUnavailable);
  return rows[0]?.pending === true;
}
