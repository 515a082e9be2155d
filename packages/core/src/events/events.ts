import type { PoolClient } from "pg";
import { asUnavailable, type Pool } from "../db/pool";
import { uuidv7 } from "../ids";
import type { DisputeKind } from "../ledger/disputes";
import type { AuthorizationKind } from "../ledger/operations";
import type { AccountView, PaymentView } from "../ledger/ledger-repository";

// Events: what changed, written in the transaction that changes it (the outbox of docs/ARCHITECTURE.md
// "Events and webhooks"), so there is never an event without its change nor a change without its
// event. Clients read them from GET /events; each webhook endpoint reads them from its own cursor.

export const EVENT_TYPES = [
  "payment.completed",
  "payment.failed",
  "payment.authorized",
  "payment.captured",
  "payment.voided",
  "payment.expired",
  "dispute.opened",
  "dispute.resolved",
  "dispute.charged_back",
  "account.frozen",
  "account.unfrozen",
  "account.updated",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type EventData = { payment: PaymentView } | { account: AccountView };

/** An event as GET /events and webhook deliveries show it. */
export interface EventView {
  id: string;
  type: EventType;
  created_at: string;
  data: EventData;
}

/** An event to write, in the transaction of its change. */
export interface NewEvent {
  id: string;
  type: EventType;
  data: EventData;
}

const DISPUTE_EVENT: Record<DisputeKind, EventType> = { dispute: "dispute.opened", resolve: "dispute.resolved", chargeback: "dispute.charged_back" };

const SETTLED_EVENT: Partial<Record<PaymentView["status"], EventType>> = {
  completed: "payment.completed",
  failed: "payment.failed",
  authorized: "payment.authorized",
};

/** `payment.completed`, `payment.failed` or `payment.authorized`, with the payment as settled. */
export function paymentSettledEvent(payment: PaymentView): NewEvent {
  const type = SETTLED_EVENT[payment.status];
  if (!type) throw new Error(`payment ${payment.id} is ${payment.status}: not a settlement`);
  return { id: uuidv7(), type, data: { payment } };
}

const AUTHORIZATION_EVENT: Record<AuthorizationKind, EventType> = { capture: "payment.captured", void: "payment.voided", expire: "payment.expired" };

/** The event of an authorization's applied capture, void or expiry, with the payment after it. */
export function authorizationAppliedEvent(kind: AuthorizationKind, payment: PaymentView): NewEvent {
  return { id: uuidv7(), type: AUTHORIZATION_EVENT[kind], data: { payment } };
}

/** `account.updated`: an account's overdraft limit changed. */
export function accountUpdatedEvent(account: AccountView): NewEvent {
  return { id: uuidv7(), type: "account.updated", data: { account } };
}

/** The event of an applied dispute operation, with the payment as the operation left it. */
export function disputeAppliedEvent(kind: DisputeKind, payment: PaymentView): NewEvent {
  return { id: uuidv7(), type: DISPUTE_EVENT[kind], data: { payment } };
}

/** `account.frozen` or `account.unfrozen`, with the account after the change. */
export function accountStatusEvent(account: AccountView): NewEvent {
  return { id: uuidv7(), type: account.status === "frozen" ? "account.frozen" : "account.unfrozen", data: { account } };
}

/**
 * The events' columns as parameters of one INSERT … SELECT FROM unnest (ids, types, data): the
 * settle round writes them inside its batch statement, `writeEvents` on its own.
 */
export function eventColumns(events: readonly NewEvent[]): [string[], string[], string[]] {
  return [events.map((e) => e.id), events.map((e) => e.type), events.map((e) => JSON.stringify(e.data))];
}

/** The INSERT of `eventColumns` at parameters $n, $n+1, $n+2, keeping their order in the feed. */
export function insertEventsSql(first: number): string {
  return `INSERT INTO events (id, type, data)
    SELECT id, type, data FROM unnest($${first}::uuid[], $${first + 1}::text[], $${first + 2}::jsonb[]) WITH ORDINALITY AS e(id, type, data, n)
     ORDER BY n`;
}

/** Writes events within the caller's transaction. */
export async function writeEvents(client: PoolClient, events: readonly NewEvent[]): Promise<void> {
  if (events.length > 0) await client.query({ name: "write-events", text: insertEventsSql(1), values: eventColumns(events) });
}

// ---- The feed ----

/**
 * A place in the feed: the writing transaction's id and the event's sequence number, as
 * `<xid>-<seq>`. Opaque to clients; events are only shown once every transaction that could still
 * write one before it has ended, so a cursor never skips an event that commits later.
 */
export interface EventCursor {
  xid: string;
  seq: string;
}

export const EVENT_CURSOR_PATTERN = /^(\d{1,20})-(\d{1,19})$/;

export function parseEventCursor(value: string): EventCursor | null {
  const match = EVENT_CURSOR_PATTERN.exec(value);
  return match ? { xid: match[1]!, seq: match[2]! } : null;
}

export const formatEventCursor = (cursor: EventCursor): string => `${cursor.xid}-${cursor.seq}`;

/** An event row as the feed reads it (xid as text, seq as a string, data parsed by pg). */
export interface EventRow {
  id: string;
  type: EventType;
  data: EventData;
  created_at: Date;
  xid: string;
  seq: string;
}

export const toEventView = (row: EventRow): EventView => ({ id: row.id, type: row.type, created_at: row.created_at.toISOString(), data: row.data });

// Only events of transactions older than every transaction still running: those are final, and
// any event written later sorts after them (its transaction id is at least that xmin).
export const VISIBLE_EVENTS = `xid < pg_snapshot_xmin(pg_current_snapshot())`;

const EVENT_FIELDS = "id, type, data, created_at, xid::text AS xid, seq";

/**
 * One page of the feed, oldest first, after `after` (from the start without it), of one type or all.
 * `next_after` is the cursor of the last event shown, or `after` itself when there is nothing new:
 * the feed has no end, a client keeps asking from there.
 */
export async function listEvents(
  db: Pool | PoolClient,
  query: { after?: EventCursor; limit: number; type?: EventType },
): Promise<{ events: EventView[]; next_after: string | null }> {
  const values: unknown[] = [query.after?.xid ?? "0", query.after?.seq ?? "0", query.limit];
  let typeFilter = "";
  if (query.type) {
    values.push(query.type);
    typeFilter = `AND type = $4`;
  }
  const { rows } = await db
    .query<EventRow>(
      `SELECT ${EVENT_FIELDS} FROM events
        WHERE (xid, seq) > ($1::xid8, $2::bigint) AND ${VISIBLE_EVENTS} ${typeFilter}
        ORDER BY xid, seq LIMIT $3`,
      values,
    )
    .catch(asUnavailable);
  const last = rows[rows.length - 1];
  const next = last ? { xid: last.xid, seq: String(last.seq) } : query.after;
  return { events: rows.map(toEventView), next_after: next ? formatEventCursor(next) : null };
}

/** Deletes events older than `days` (with their retries) and webhook attempts as old, a bounded number at a time. */
export async function purgeEvents(pool: Pool, days: number, batch = 5000): Promise<number> {
  let deleted = 0;
  for (;;) {
    const { rowCount } = await pool.query(
      `DELETE FROM webhook_attempts WHERE ctid IN (SELECT ctid FROM webhook_attempts WHERE attempted_at < now() - make_interval(days => $1) LIMIT $2)`,
      [days, batch],
    );
    if ((rowCount ?? 0) < batch) break;
  }
  for (;;) {
    const { rowCount } = await pool.query(
      `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_at < now() - make_interval(days => $1) LIMIT $2)`,
      [days, batch],
    );
    deleted += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return deleted;
  }
}
