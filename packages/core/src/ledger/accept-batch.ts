import { asUnavailable, withTransaction } from "../db/pool";
import { DomainError } from "../errors";
import { uuidv7 } from "../ids";
import { partitionFor } from "../partition";
import { findIdempotencyKeys, idempotencyConflict, storeIdempotencyKeys, type IdempotencyKey } from "../idempotency";
import { debitAccountOf, type AcceptDeps, type PaymentRequest } from "./accept";
import { explainRefusedPayment, insertPayments, type NewPayment, type PaymentView } from "./ledger-repository";

/** One item of a batch: a valid request (with its idempotency key, if any), or why it was refused. */
export type BatchItem = { request: PaymentRequest; idempotency?: IdempotencyKey } | { refused: DomainError };

export type BatchItemResult = { accepted: PaymentView; replayed: boolean } | { refused: DomainError };

const MAX_KEY_RACES = 3;

/**
 * Accepts a batch of payments in one INSERT and one commit, with their idempotency keys in the
 * same transaction. Items are independent: a refused item (bad input, unknown account, a key used
 * on another endpoint or with another body) refuses only itself. Accepted items are exactly as
 * durable as single accepts, and each account's items take their acceptance order from their
 * order in the batch. Results come back in item order. Only a backing service failing fails
 * the whole batch (503).
 */
export async function acceptPaymentBatch(deps: AcceptDeps, items: BatchItem[], context: { requestId?: string } = {}): Promise<BatchItemResult[]> {
  const results: (BatchItemResult | undefined)[] = items.map((item) => ("refused" in item ? item : undefined));
  for (let race = 0; ; race++) {
    const open = items.flatMap((item, index) => ("request" in item && !results[index] ? [{ ...item, index }] : []));
    const keyed = open.filter((item) => item.idempotency);
    const found = await findIdempotencyKeys<PaymentView>(
      deps.pool,
      keyed.map((item) => item.idempotency!),
    );
    const stored = new Map(keyed.map((item, i) => [item.index, found[i]]));
    // A key seen earlier in this batch (on any endpoint: a key is the client's): the later item
    // replays the earlier one, or conflicts with it.
    const firstWithKey = new Map<string, (typeof open)[number]>();
    const sameAs = new Map<number, number>();
    const toInsert: { index: number; payment: NewPayment; key?: IdempotencyKey }[] = [];
    for (const item of open) {
      const key = item.idempotency;
      if (key) {
        const id = `${key.scope}\0${key.key}`;
        const previous = stored.get(item.index);
        const earlier = firstWithKey.get(id);
        if (previous || earlier) {
          const conflict = idempotencyConflict(previous ?? earlier!.idempotency!, key, "idempotency_key");
          if (conflict) {
            results[item.index] = { refused: conflict };
          } else if (previous) {
            results[item.index] = { accepted: previous.response, replayed: true };
          } else {
            sameAs.set(item.index, earlier!.index);
          }
          continue;
        }
        firstWithKey.set(id, item);
      }
      const partition = partitionFor(debitAccountOf(item.request), deps.partitions);
      toInsert.push({ index: item.index, key, payment: { id: uuidv7(), partition, ...item.request, requestId: context.requestId ?? null } });
    }

    let inserted: Awaited<ReturnType<typeof insertPayments>>;
    try {
      inserted = await withTransaction(deps.pool, async (client) => {
        const rows = await insertPayments(
          client,
          toInsert.map((i) => i.payment),
        );
        const keys = toInsert.flatMap((i) => {
          const row = rows.get(i.payment.id);
          return i.key && row ? [{ key: i.key, body: row }] : [];
        });
        // Another request took one of these keys since the look-up: roll back, look again, replay it.
        if (!(await storeIdempotencyKeys(client, keys))) throw new KeyRace();
        return rows;
      });
    } catch (error) {
      if (error instanceof KeyRace && race < MAX_KEY_RACES) continue;
      return asUnavailable(error);
    }

    for (const { index, payment } of toInsert) {
      const row = inserted.get(payment.id);
      results[index] = row ? { accepted: row, replayed: false } : { refused: await explainRefusedPayment(deps.pool, payment) };
    }
    for (const [index, earlier] of sameAs) {
      const first = results[earlier]!;
      results[index] = "accepted" in first ? { accepted: first.accepted, replayed: true } : first;
    }
    const partitions = new Set(toInsert.filter((i) => inserted.has(i.payment.id)).map((i) => i.payment.partition));
    await Promise.all([...partitions].map((p) => deps.waker.wake(p)));
    return results as BatchItemResult[];
  }
}

class KeyRace extends Error {}
