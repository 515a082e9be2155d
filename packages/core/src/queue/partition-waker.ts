import type { Logger } from "pino";
import { withTimeout } from "../timeout";
import type { SettleJob } from "./jobs";
import type { PartitionQueues } from "./partition-queues";

export interface PartitionWakerOptions {
  logger: Logger;
  /** How long a caller may wait on Redis before leaving its work to the sweeper. @defaultValue 1000 */
  timeoutMs?: number;
}

interface NextWake {
  reason: SettleJob["reason"];
  promise: Promise<boolean>;
  resolve: (sent: boolean) => void;
}

/**
 * Wakes partitions, one BullMQ add per partition for all the callers of one moment: every payment
 * of an accept batch asks, one add goes. A wake-up must be added *after* the work it announces
 * committed (an add sent earlier may be absorbed by a job that has already scanned), so callers
 * that arrive while an add of their partition is in flight wait for the next one.
 */
export class PartitionWaker {
  private readonly next = new Map<number, NextWake>();
  private readonly inFlight = new Set<number>();

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

  private async send(partition: number): Promise<void> {
    const next = this.next.get(partition);
    if (!next) return;
    this.next.delete(partition);
    this.inFlight.add(partition);
    let sent = false;
    try {
      await withTimeout(this.queues.wake(partition, next.reason), this.options.timeoutMs ?? 1000, "wake-up");
      sent = true;
    } catch (error) {
      this.options.logger.warn({ err: error, partition }, "wake-up not added; the sweeper will wake the partition");
    }
    this.inFlight.delete(partition);
    next.resolve(sent);
    if (this.next.has(partition)) this.schedule(partition);
  }
}
