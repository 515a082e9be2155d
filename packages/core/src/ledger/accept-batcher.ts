import type { Pool } from "pg";
import { isTransientDbError } from "../db/pool";
import { UnavailableError } from "../errors";
import { explainRefusedPayment, findInsertedPayments, insertPayment, insertPayments, type InsertedPayment, type NewPayment } from "./ledger-repository";

interface Pending {
  payment: NewPayment;
  resolve: (accepted: InsertedPayment) => void;
  reject: (error: unknown) => void;
}

/** A connection that was never made cannot have committed anything: no need to look. */
function neverSent(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === "ECONNREFUSED" || (typeof message === "string" && /trying to connect/i.test(message));
}

/**
 * Group commit for accepts: payments submitted while an insert is in flight wait and go together
 * in the next one. Under light load each payment is inserted alone at once (no added latency);
 * under heavy load one statement and one commit carry many, which is what the database and the
 * system calls of a busy machine can afford. Each payment is still committed before its 202.
 *
 * Between the two, under steady concurrent traffic, a payment that would go alone waits `gatherMs`
 * for company before its insert: at 1,000 payments a second an insert found one or two waiting,
 * and each commit costs PostgreSQL about a third of a millisecond of CPU (BENCHMARKS.md "History").
 * "Steady" means an insert ended less than 4 × `gatherMs` ago; "concurrent" means that one of the
 * last eight inserts carried more than one payment or saw one arrive while it was in flight. So a
 * payment after a quiet moment goes at once, so does one that finds others waiting (a backlog is
 * never held back), and so does every payment of a client that sends one at a time: nothing ever
 * arrives while its insert is in flight, and its next payment would wait for company that cannot
 * come. (Holding every batch smaller than `maxBatch` saved a little more CPU and doubled the
 * accept p99 in some runs.)
 */
export class AcceptBatcher {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private lastFlushEnded = -Infinity;
  private gathering: NodeJS.Timeout | undefined;
  /** Bit i: the i-th latest insert carried more than one payment, or one arrived while it was in flight. */
  private company = 0;
  private arrivedInFlight = false;
  private inserting = 0;
  private waits = 0;

  constructor(
    private readonly pool: Pool,
    private readonly options: { maxBatch: number; maxInFlight: number; lookupAttempts?: number; /** @defaultValue 0 */ gatherMs?: number },
  ) {}

  /** How many times a payment has waited for company. */
  get gathered(): number {
    return this.waits;
  }

  /** Inserts one pending payment (possibly with others); rejects with the same errors as `insertPayment`. */
  insert(payment: NewPayment): Promise<InsertedPayment> {
    return new Promise<InsertedPayment>((resolve, reject) => {
      this.queue.push({ payment, resolve, reject });
      if (this.inserting > 0) this.arrivedInFlight = true;
      this.pump();
    });
  }

  private pump(): void {
    const gatherMs = this.options.gatherMs ?? 0;
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      if (this.gathering) {
        if (this.queue.length < this.options.maxBatch) return;
        clearTimeout(this.gathering);
        this.gathering = undefined;
      }
      // Steady concurrent traffic (an insert ended moments ago, and recent ones had company) and a
      // payment alone: wait a little for company.
      if (gatherMs > 0 && this.queue.length === 1 && this.company !== 0 && performance.now() - this.lastFlushEnded < 4 * gatherMs) {
        this.waits++;
        this.gathering = setTimeout(() => {
          this.gathering = undefined;
          this.lastFlushEnded = -Infinity;
          this.pump();
        }, gatherMs);
        return;
      }
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.lastFlushEnded = performance.now();
        this.pump();
      });
    }
  }

  /** The payments among `ids` that committed, asked again for a few seconds; undefined if unknown. */
  private async whatCommitted(ids: string[]): Promise<Map<string, InsertedPayment> | undefined> {
    for (let attempt = 0; attempt < (this.options.lookupAttempts ?? 3); attempt++) {
      try {
        return await findInsertedPayments(this.pool, ids);
      } catch {
        // Bounded: a backing service that is down must still get its 503 promptly.
        await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
      }
    }
    return undefined;
  }

  /**
   * The batch's INSERT. What arrives while it is in flight is concurrent traffic; it is noted
   * before any of the batch's payments is answered (a client's next payment, sent after its
   * answer, is not).
   */
  private async statement(batch: Pending[]): Promise<Map<string, InsertedPayment>> {
    this.inserting++;
    try {
      return await insertPayments(
        this.pool,
        batch.map((b) => b.payment),
      );
    } finally {
      this.inserting--;
      this.company = ((this.company << 1) | (batch.length > 1 || this.arrivedInFlight ? 1 : 0)) & 0xff;
      this.arrivedInFlight = false;
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    let inserted: Map<string, InsertedPayment>;
    try {
      inserted = await this.statement(batch);
    } catch (error) {
      if (isTransientDbError(error)) {
        // The connection failed, maybe after PostgreSQL committed: a 503 for a payment that exists
        // would make a client without an Idempotency-Key pay twice. The ids are ours: look.
        const committed = neverSent(error) ? undefined : await this.whatCommitted(batch.map((b) => b.payment.id));
        for (const b of batch) {
          const row = committed?.get(b.payment.id);
          if (row) b.resolve(row);
          else b.reject(new UnavailableError("postgres", error));
        }
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
    for (const b of batch) {
      const row = inserted.get(b.payment.id);
      if (row) b.resolve(row);
      else explainRefusedPayment(this.pool, b.payment).then(b.reject, b.reject);
    }
  }
}
