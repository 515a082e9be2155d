import type { Logger } from "pino";
import { withTimeout } from "../timeout";
import type { SettleJob } from "./jobs";
import type { PartitionQueues } from "./partition-queues";

export interface PartitionWakerOptions {
  logger: Logger;
  /**
   * How long a wake-up holds its partition once it begins (SETTLE_LINGER_MS, as the workers have
   * it). Work committed within half of it after an add needs no add of its own. @defaultValue 0
   */
  lingerMs?: number;
  /** How long a caller may wait on Redis before leaving its work to the sweeper. @defaultValue 1000 */
  timeoutMs?: number;
}

interface NextWake {
  reason: SettleJob["reason"];
  promise: Promise<boolean>;
  resolve: (sent: boolean) => void;
}

/**
 * Wakes partitions with as few BullMQ adds as correctness allows.
 *
 * The wake-up that an add creates or joins begins after the add was sent, and a worker holds a
 * woken partition for `lingerMs` from then on, and for `lingerMs` after each round that found work
 * there, settling whatever commits to it until a scan that began that late finds it empty
 * (`SettleCombiner`). So work committed before `sent + lingerMs` is settled by that wake-up and
 * needs no add of its own; and work that this process commits within `lingerMs` of its previous
 * work there is found by the wake-up that found (or will find) that previous work, which then
 * lingers on. For half those windows (the other half is margin) a partition's callers are
 * answered at once, and each such caller extends the window: under steady traffic a partition
 * costs one add, not one per half-linger. A wake-up that lets go early (its hold limit, its lease
 * given up) adds its own follow-up. Otherwise one add goes per partition for all the callers of
 * one moment (every payment of an accept batch asks; one add goes). A lost add or a lost job only
 * delays work until the sweeper: PostgreSQL holds it.
 */
export class PartitionWaker {
  private readonly next = new Map<number, NextWake>();
  private readonly inFlight = new Map<number, { sentAt: number; promise: Promise<boolean> }>();
  /** Per partition: until when (performance.now()) a confirmed add covers new work. */
  private readonly coveredUntil = new Map<number, number>();

  constructor(
    private readonly queues: PartitionQueues,
    private readonly options: PartitionWakerOptions,
  ) {}

  /**
   * Wakes `partition` for everything committed before this call. Resolves true once the add is in
   * Redis, false when Redis refused it or timed out (logged; the sweeper wakes the partition
   * later). Never rejects: the work is already durable in PostgreSQL.
   */
  wake(partition: number, reason: SettleJob["reason"] = "accept"): Promise<boolean> {
    const now = performance.now();
    if (reason === "accept") {
      const covered = this.coveredUntil.get(partition) ?? -Infinity;
      if (now < covered) {
        // This work keeps the covering wake-up lingering: what follows soon after is covered too.
        this.coveredUntil.set(partition, Math.max(covered, now + this.cover));
        return Promise.resolve(true);
      }
      // An add in flight covers this work too, once Redis confirms it.
      const flying = this.inFlight.get(partition);
      if (flying && now < flying.sentAt + this.cover) return flying.promise;
    }
    let next = this.next.get(partition);
    if (!next) {
      let resolve!: (sent: boolean) => void;
      const promise = new Promise<boolean>((r) => (resolve = r));
      next = { reason, promise, resolve };
      this.next.set(partition, next);
      if (!this.inFlight.has(partition)) this.schedule(partition);
    }
    return next.promise;
  }

  // setImmediate: the callers resolved by one accept batch all run before it, and share the add.
  private schedule(partition: number): void {
    setImmediate(() => void this.send(partition));
  }

  private get cover(): number {
    return (this.options.lingerMs ?? 0) / 2;
  }

  private async send(partition: number): Promise<void> {
    const next = this.next.get(partition);
    if (!next) return;
    this.next.delete(partition);
    const sentAt = performance.now();
    this.inFlight.set(partition, { sentAt, promise: next.promise });
    let sent = false;
    try {
      await withTimeout(this.queues.wake(partition, next.reason), this.options.timeoutMs ?? 1000, "wake-up");
      sent = true;
      if (this.cover > 0) this.coveredUntil.set(partition, Math.max(this.coveredUntil.get(partition) ?? -Infinity, sentAt + this.cover));
    } catch (error) {
      this.options.logger.warn({ err: error, partition }, "wake-up not added; the sweeper will wake the partition");
    }
    this.inFlight.delete(partition);
    next.resolve(sent);
    if (this.next.has(partition)) this.schedule(partition);
  }
}
