import type { SettleResult } from "@settle/core";

/** What one wake-up settled in its partition, and whether it stopped with work left. */
export interface Drained {
  settled: SettleResult;
  /** True when the round budget ran out before the partition was empty: wake it again. */
  more: boolean;
}

interface Waiter {
  partition: number;
  roundsLeft: number;
  settled: SettleResult;
  resolve: (drained: Drained) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for the settle side. Each owned partition has its own BullMQ consumer (one wake-up
 * at a time per partition); each wake-up comes here to drain its partition, and the partitions
 * waiting together are settled together, in one transaction per round. Under light load a round
 * holds one partition; under load it holds many, so the cost of a transaction is shared by many
 * payments instead of being paid again by every partition.
 *
 * A round takes the oldest pending operations of its partitions, up to the batch size. One that
 * was not full took everything pending there, so its waiters are done; after a full round they
 * stay for the next one, for at most `maxRounds` rounds (then the caller wakes the partition
 * again, so a busy partition never holds its consumer for long). One round runs at a time per
 * process. A round that fails is split into one round per partition, so a failure stays with its
 * partition.
 */
export class SettleCombiner {
  private waiting: Waiter[] = [];
  private running = false;

  constructor(
    private readonly settle: (partitions: number[]) => Promise<SettleResult>,
    private readonly options: { batchSize: number; maxRounds: number },
  ) {}

  /** Settles what is pending in `partition`, in rounds shared with the other waiting partitions. */
  drain(partition: number): Promise<Drained> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ partition, roundsLeft: this.options.maxRounds, settled: { payments: [], disputes: [] }, resolve, reject });
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.waiting.length > 0) {
        const round = this.waiting;
        this.waiting = [];
        await this.settleRound(round);
      }
    } finally {
      this.running = false;
    }
  }

  private async settleRound(round: Waiter[]): Promise<void> {
    const partitions = [...new Set(round.map((w) => w.partition))].sort((a, b) => a - b);
    let batch: SettleResult;
    try {
      batch = await this.settle(partitions);
    } catch (error) {
      if (partitions.length === 1) {
        for (const w of round) w.reject(error);
        return;
      }
      // A failure that retrying did not cure (the settle retries transient faults) may come from
      // one partition's data: settle each partition alone, so only that one's job fails.
      for (const p of partitions) await this.settleRound(round.filter((w) => w.partition === p));
      return;
    }
    // One consumer per partition means one waiter per partition; were there two, the first reports.
    const byPartition = new Map<number, Waiter>();
    for (const w of round) if (!byPartition.has(w.partition)) byPartition.set(w.partition, w);
    for (const p of batch.payments) byPartition.get(p.partition)?.settled.payments.push(p);
    for (const d of batch.disputes) byPartition.get(d.partition)?.settled.disputes.push(d);
    const full = batch.payments.length + batch.disputes.length >= this.options.batchSize;
    for (const w of round) {
      w.roundsLeft--;
      if (!full) w.resolve({ settled: w.settled, more: false });
      else if (w.roundsLeft <= 0) w.resolve({ settled: w.settled, more: true });
      else this.waiting.push(w);
    }
  }
}
