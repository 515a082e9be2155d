import type { Pool, PoolClient } from "pg";
import { withTransaction } from "../db/pool";
import { runIdempotentInTransaction, type IdempotencyKey, type IdempotentResult } from "../idempotency";
import { DomainError } from "../errors";
import { authorizationAppliedEvent, type NewEvent } from "../events/events";
import { uuidv7 } from "../ids";
import { formatMoney, moneyFromDb, parseAmount, type Money } from "../money";
import { partitionFor } from "../partition";
import type { AcceptDeps } from "./accept";
import { appendEntry, requireAccount, type AccountState, type EntryType, type JournalEntry } from "./apply";
import { PAYMENT_COLUMNS, toPaymentView, type PaymentRow, type PaymentStatus, type PaymentView } from "./ledger-repository";
import {
  insertOperation,
  pendingOperationKinds,
  settledOperation,
  type AuthorizationKind,
  type LockedOperationRow,
  type OperationKind,
  type OperationView,
  type RejectionReason,
  type SettledOperation,
  type TargetPaymentRow,
} from "./operations";

// Everything about authorizations after they are settled (docs/API.md "Authorize, then capture or
// void"), in the order an operation lives it: the rules, the accept side (capture and void, sent by
// clients), the expiry sweep (expire, written by the workers), and the settle step that applies each
// in the payer's partition. The authorization itself settles as a payment (payments.ts: a hold).

// ---- The concept and its rules ----

const AUTHORIZATION_KINDS: readonly OperationKind[] = ["capture", "void", "expire"];
const isAuthorizationKind = (kind: OperationKind): kind is AuthorizationKind => AUTHORIZATION_KINDS.includes(kind);

const STATUS_AFTER: Record<AuthorizationKind, PaymentStatus> = { capture: "completed", void: "voided", expire: "expired" };

/**
 * Applies a capture, void or expiry of an authorization to locked account states. Only an
 * `authorized` payment is changed; anything else is rejected (`invalid_state`: a capture and a void
 * decided in one order at acceptance still meet the settle step's own check). A capture from a
 * frozen payer is rejected (`account_frozen`) and the hold stays.
 */
export function applyAuthorizationOperation(
  accounts: Map<string, AccountState>,
  op: { kind: AuthorizationKind; amount: Money | null },
  payment: { id: string; status: PaymentStatus; fromAccount: string; toAccount: string; amount: Money },
  now: Date,
):
  | { outcome: "applied"; status: PaymentStatus; amountCaptured: Money | null; entries: JournalEntry[] }
  | { outcome: "rejected"; rejectionReason: RejectionReason; entries: [] } {
  if (payment.status !== "authorized") return { outcome: "rejected", rejectionReason: "invalid_state", entries: [] };
  const payer = requireAccount(accounts, payment.fromAccount);
  const entries: JournalEntry[] = [];
  if (op.kind !== "capture") {
    entries.push(appendEntry(payer, payment.id, "release", payment.amount, now));
    return { outcome: "applied", status: STATUS_AFTER[op.kind], amountCaptured: null, entries };
  }
  if (payer.status === "frozen") return { outcome: "rejected", rejectionReason: "account_frozen", entries: [] };
  const captured = op.amount ?? payment.amount;
  entries.push(appendEntry(payer, payment.id, "capture", captured, now));
  const rest = payment.amount.minus(captured);
  if (rest.greaterThan(0)) entries.push(appendEntry(payer, payment.id, "release", rest, now));
  entries.push(appendEntry(requireAccount(accounts, payment.toAccount), payment.id, "credit", captured, now));
  return { outcome: "applied", status: "completed", amountCaptured: captured, entries };
}

/**
 * The journal entries an authorization has written once it reached `status`, as the settle steps
 * write them (`verifyLedger` checks each payment's journal against them): the hold, then a capture
 * (and the release of what was not captured) with the receiver's credit, or a release.
 */
export function authorizationEntries(payment: {
  status: PaymentStatus;
  fromAccount: string;
  toAccount: string;
  amount: Money;
  amountCaptured: Money | null;
}): { type: EntryType; account: string; amount: Money }[] {
  if (payment.status === "pending" || payment.status === "failed") return [];
  const entries = [{ type: "authorize" as EntryType, account: payment.fromAccount, amount: payment.amount }];
  if (payment.status === "voided" || payment.status === "expired") entries.push({ type: "release", account: payment.fromAccount, amount: payment.amount });
  if (payment.status === "completed") {
    const captured = payment.amountCaptured ?? payment.amount;
    entries.push({ type: "capture", account: payment.fromAccount, amount: captured });
    if (payment.amount.greaterThan(captured)) entries.push({ type: "release", account: payment.fromAccount, amount: payment.amount.minus(captured) });
    entries.push({ type: "credit", account: payment.toAccount, amount: captured });
  }
  return entries;
}

// ---- Accept side ----

// The payment under its row lock, and whether it has expired by the database's clock (the clock
// the expiry sweep reads too).
const LOCK_AUTHORIZATION = `SELECT ${PAYMENT_COLUMNS}, (expires_at <= clock_timestamp()) AS expired FROM payments WHERE id = $1 FOR NO KEY UPDATE`;

/**
 * Accepts a capture or a void of an authorization: under the payment's row lock, checks that it is
 * `authorized`, not expired, and has no capture or void queued (so of a capture and a void sent at
 * once exactly one is accepted), records the operation and wakes the payer's partition.
 */
export async function requestAuthorizationOperation(
  deps: AcceptDeps,
  paymentId: string,
  kind: "capture" | "void",
  amount?: string,
  idempotency?: IdempotencyKey,
): Promise<IdempotentResult<{ payment: PaymentView; operation: OperationView }>> {
  let partition = -1;
  const decide = async (client: PoolClient) => {
    const { rows } = await client.query<PaymentRow & { expired: boolean | null }>(LOCK_AUTHORIZATION, [paymentId]);
    const row = rows[0];
    if (!row) throw new DomainError("not_found", "payment not found");
    const payment = toPaymentView(row);
    const queued = (await pendingOperationKinds(client, paymentId)).filter(isAuthorizationKind);
    if (row.capture || payment.status !== "authorized" || row.expired || queued.length > 0) {
      const state = row.capture
        ? "not an authorization"
        : queued.length > 0
          ? `${payment.status} with a ${queued[0]} queued`
          : row.expired
            ? `expired at ${payment.expires_at}`
            : payment.status;
      throw new DomainError(
        "invalid_state",
        `${kind} applies to an authorized payment before its expires_at, with no capture or void queued; this payment is ${state}`,
      );
    }
    let captured: string | null = null;
    if (kind === "capture") {
      const authorized = moneyFromDb(row.amount);
      const wanted = amount === undefined ? authorized : parseAmount(amount)!;
      if (wanted.greaterThan(authorized)) {
        throw new DomainError("capture_exceeds_authorization", `a capture may take at most the authorized ${formatMoney(authorized)}`, [
          { path: "amount", message: `must be at most ${formatMoney(authorized)}` },
        ]);
      }
      captured = formatMoney(wanted);
    }
    partition = partitionFor(payment.from_account!, deps.partitions);
    const operation = await insertOperation(client, { id: uuidv7(), partition, paymentId, kind, amount: captured });
    return { payment, operation };
  };
  const response = await runIdempotentInTransaction(deps.pool, idempotency, decide);
  if (!response.replayed) await deps.waker.wake(partition);
  return response;
}

// ---- Expiry ----

// Authorizations past their expires_at with no capture, void or expiry queued, locked (skipping
// one a request is deciding on right now: the next sweep sees it).
const DUE_FOR_EXPIRY = `
  SELECT p.id, p.partition FROM payments p
   WHERE p.status = 'authorized' AND p.expires_at <= clock_timestamp()
     AND NOT EXISTS (SELECT 1 FROM payment_operations o
                      WHERE o.payment_id = p.id AND o.status = 'pending' AND o.kind IN ('capture', 'void', 'expire'))
   ORDER BY p.expires_at
   LIMIT $1
     FOR NO KEY UPDATE OF p SKIP LOCKED`;

/**
 * Queues an `expire` operation for up to `limit` authorizations past their `expires_at` (the
 * workers' sweeper runs it each sweep); returns the partitions to wake. A capture accepted before
 * the expiry is queued earlier in the same partition, so it is applied first and the expiry is then
 * rejected.
 */
export async function queueExpiredAuthorizations(pool: Pool, limit = 1000): Promise<{ expired: number; partitions: number[] }> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: string; partition: number }>(DUE_FOR_EXPIRY, [limit]);
    if (rows.length === 0) return { expired: 0, partitions: [] };
    await client.query(
      `INSERT INTO payment_operations (id, partition, payment_id, kind)
       SELECT id, partition, payment_id, 'expire' FROM unnest($1::uuid[], $2::int[], $3::uuid[]) AS t(id, partition, payment_id)`,
      [rows.map(() => uuidv7()), rows.map((r) => r.partition), rows.map((r) => r.id)],
    );
    return { expired: rows.length, partitions: [...new Set(rows.map((r) => Number(r.partition)))] };
  });
}

// ---- Settle step ----

/**
 * The settle step of one locked capture, void or expiry: applied or rejected against its payment as
 * this round has left it. Sets `target.status` (and `amount_captured`), so later operations on the
 * same payment in this round see it, and the round writes it; an applied one has its event.
 */
export function settleAuthorizationOperation(
  accounts: Map<string, AccountState>,
  op: LockedOperationRow & { kind: AuthorizationKind },
  target: TargetPaymentRow,
  now: Date,
): { settled: SettledOperation; entries: JournalEntry[]; event: NewEvent | null } {
  const result = applyAuthorizationOperation(
    accounts,
    { kind: op.kind, amount: op.amount === null ? null : moneyFromDb(op.amount) },
    { id: String(target.id), status: target.status, fromAccount: target.from_account!, toAccount: target.to_account!, amount: moneyFromDb(target.amount) },
    now,
  );
  if (result.outcome === "applied") {
    target.status = result.status;
    if (result.amountCaptured) target.amount_captured = formatMoney(result.amountCaptured);
  }
  return {
    settled: settledOperation(op, target, result.outcome === "rejected" ? result.rejectionReason : null),
    entries: result.entries,
    event: result.outcome === "applied" ? authorizationAppliedEvent(op.kind, toPaymentView(target)) : null,
  };
}

export { isAuthorizationKind };
