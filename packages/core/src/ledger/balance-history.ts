import type { Pool, PoolClient } from "pg";
import { asUnavailable } from "../db/pool";
import { formatMoney, moneyFromDb } from "../money";

// An account's past, read from its journal: the balances as of an instant, and the SQL of a page
// of its journal within a time window. Both read the index `journal_entries_by_time`
// (account_id, created_at, seq) of migration 0010, so they cost the same on an account with a
// million entries as on one with ten.
//
// Entries are stamped (created_at) by the settle transaction after it has locked the account, so
// along one account's journal created_at never decreases as seq grows: the entry with the latest
// created_at at or before an instant (the highest seq among equals) is the last entry by seq, and
// ordering a window by (created_at, seq) is ordering it by seq.
//
// Instants are taken to the millisecond, the precision timestamps are shown in: an entry is at or
// before `at` when its created_at, as shown, is.

type Queryable = Pool | PoolClient;

export interface BalanceAtView {
  account_id: string;
  /** The instant asked for, in ISO 8601 UTC to the millisecond. */
  at: string;
  balance: string;
  available: string;
  held: string;
  /** The seq of the entry the balances are those after; 0 when the account had none yet. */
  seq: number;
}

/** An RFC 3339 instant in ISO 8601 UTC, to the millisecond (the form every timestamp is shown in). */
export function normaliseInstant(instant: string): string {
  const ms = Date.parse(instant);
  if (Number.isNaN(ms)) throw new RangeError(`not an RFC 3339 timestamp: ${instant}`);
  return new Date(ms).toISOString();
}

const BALANCE_AT = `
  SELECT seq, balance_after, available_after, held_after
    FROM journal_entries
   WHERE account_id = $1 AND created_at < $2::timestamptz + interval '1 millisecond'
   ORDER BY created_at DESC, seq DESC
   LIMIT 1`;

/**
 * The balances of an account as of `at` (RFC 3339): those after its last journal entry created at
 * or before it, or zeros and seq 0 before its first. Does not check that the account exists.
 */
export async function balanceAt(db: Queryable, accountId: string, at: string): Promise<BalanceAtView> {
  const instant = normaliseInstant(at);
  const { rows } = await db
    .query<{ seq: string; balance_after: string; available_after: string; held_after: string }>({
      name: "balance-at",
      text: BALANCE_AT,
      values: [accountId, instant],
    })
    .catch(asUnavailable);
  const row = rows[0];
  const money = (value: string | undefined) => formatMoney(moneyFromDb(value ?? "0"));
  return {
    account_id: accountId,
    at: instant,
    balance: money(row?.balance_after),
    available: money(row?.available_after),
    held: money(row?.held_after),
    seq: row ? Number(row.seq) : 0,
  };
}

/** What a page of an account's journal is limited to besides its cursor: created_at, both ends inclusive. */
export interface EntryFilter {
  /** RFC 3339: entries created at or after it. */
  from?: string;
  /** RFC 3339: entries created at or before it. */
  to?: string;
}

export const ENTRY_COLUMNS = "seq, payment_id, type, amount, balance_after, available_after, held_after, prev_hash, hash, created_at";

/**
 * The statement of one page of an account's journal, oldest first: entries with seq > `after`,
 * within the filter's window. Without a window, along the primary key (account_id, seq). With one,
 * along (account_id, created_at, seq) from the later of the window's start and the cursor entry
 * (the row comparison seeks there), so a page deep into a large window reads `limit` entries, not
 * every entry before it.
 */
export function entriesPageQuery(accountId: string, after: number, limit: number, filter: EntryFilter = {}): { text: string; values: unknown[] } {
  if (filter.from === undefined && filter.to === undefined) {
    return {
      text: `SELECT ${ENTRY_COLUMNS} FROM journal_entries WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      values: [accountId, after, limit],
    };
  }
  const values: unknown[] = [accountId, after, limit];
  const param = (value: unknown) => `$${values.push(value)}`;
  // Where the page begins, as one row bound on (created_at, seq) so that the index scan starts
  // there: the later of the cursor entry (its created_at and seq; none before the first page) and
  // the window's start (`created_at >= from` is `(created_at, seq) > (from, 0)`, seq being ≥ 1).
  const cursorTime = "coalesce((SELECT c.created_at FROM journal_entries c WHERE c.account_id = $1 AND c.seq = $2), '-infinity'::timestamptz)";
  const fromTime = filter.from === undefined ? "'-infinity'::timestamptz" : `${param(normaliseInstant(filter.from))}::timestamptz`;
  const conditions = [
    "account_id = $1",
    `(created_at, seq) > (greatest(${cursorTime}, ${fromTime}), CASE WHEN ${cursorTime} >= ${fromTime} THEN $2::bigint ELSE 0 END)`,
    // Implied by the bound above along a journal whose created_at never decreases; stated so that
    // the answer holds `seq > after` whatever the clocks did.
    "seq > $2",
  ];
  if (filter.to !== undefined) conditions.push(`created_at < ${param(normaliseInstant(filter.to))}::timestamptz + interval '1 millisecond'`);
  return {
    text: `SELECT ${ENTRY_COLUMNS} FROM journal_entries WHERE ${conditions.join(" AND ")} ORDER BY created_at, seq LIMIT $3`,
    values,
  };
}
