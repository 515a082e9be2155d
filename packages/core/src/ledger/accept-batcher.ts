import type { Pool } from "pg";
import { isTransientDbError } from "../db/pool";
import { UnavailableError } from "../errors";
import { explainRefusedPayment, insertPayment, PAYMENT_COLUMNS, toPaymentView, type NewPayment, type PaymentView } from "./ledger-repository";

type Accepted = PaymentView & { order_seq: string };

interface Pending {
  payment: NewPayment;
  resolve: (accepted: Accepted) => void;
  reject: (error: unknown) => void;
}

// Inserts a whole batch of concurrent accepts in one statement (one round trip, one commit):
// each row only when its accounts exist and share one currency, which the payment takes.
const INSERT_BATCH = `
  WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::uuid[], $5::uuid[], $6::numeric[], $7::text[], $8::text[])
           WITH ORDINALITY AS t(id, partition, type, from_account, to_account, amount, description, request_id, n)
  )
  INSERT INTO payments (id, partition, type, from_account, to_account, amount, description, request_id, currency)
  SELECT i.id, i.partition, i.type, i.from_account, i.to_account, i.amount, i.description, i.request_id, coalesce(f.currency, t.currency)
    FROM input i
    LEFT JOIN accounts f ON f.id = i.from_account
    LEFT JOIN accounts t ON t.id = i.to_account
   WHERE (i.from_account IS NULL) = (f.id IS NULL)
     AND (i.to_account IS NULL) = (t.id IS NULL)
     AND (f.currency IS NULL OR t.currency IS NULL OR f.currency = t.currency)
   ORDER BY i.n
  RETURNING ${PAYMENT_COLUMNS}, order_seq`;

/**
 * Group commit for accepts: payments submitted while an insert is in flight wait and go together
 * in the next one. Under light load each payment is inserted alone at once (no added latency);
 * under heavy load one statement and one commit carry many, which is what the database and the
 * system calls of a busy machine can afford. Each payment is still committed before its 202.
 */
export class AcceptBatcher {
  private readonly queue: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly pool: Pool,
    private readonly options: { maxBatch: number; maxInFlight: number },
  ) {}

  /** Inserts one pending payment (possibly with others); rejects with the same errors as `insertPayment`. */
  insert(payment: NewPayment): Promise<Accepted> {
    return new Promise<Accepted>((resolve, reject) => {
      this.queue.push({ payment, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    const column = <T>(pick: (p: NewPayment) => T) => batch.map((b) => pick(b.payment));
    let rows: Record<string, unknown>[];
    try {
      ({ rows } = await this.pool.query({ name: "accept-insert-batch-v2", text: INSERT_BATCH, values: [
        column((p) => p.id),
        column((p) => p.partition),
        column((p) => p.type),
        column((p) => p.fromAccount),
        column((p) => p.toAccount),
        column((p) => p.amount),
        column((p) => p.description),
        column((p) => p.requestId ?? null),
      ] }));
    } catch (error) {
      if (isTransientDbError(error)) {
        for (const b of batch) b.reject(new UnavailableError("postgres", error));
        return;
      }
      // One payment the statement refused must not fail the others: each goes again alone.
      if (batch.length > 1) {
        for (const b of batch) insertPayment(this.pool, b.payment).then(b.resolve, b.reject);
        return;
      }
      batch[0]?.reject(error);
      return;
    }
    const inserted = new Map(rows.map((r) => [String(r.id), r]));
    for (const b of batch) {
      const row = inserted.get(b.payment.id);
      if (row) b.resolve({ ...toPaymentView(row), order_seq: String(row.order_seq) });
      else explainRefusedPayment(this.pool, b.payment).then(b.reject, b.reject);
    }
  }
}
