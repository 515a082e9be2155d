import { batchReached, type SettleResult } from "@settle/core";

interface Waiter {
  partition: number;
  throughOrderSeq: bigint;
  /** What the rounds settled in this waiter's partition while it waited. */
  settled: SettleResult;
  resolve: (result: SettleResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for the settle side. Each owned partition has its own BullMQ consumer (one job at a
 * time per partition); their jobs come here, and the partitions whose jobs arrive while a settle
 * transaction is in flight are settled together, in the next one. Under light load a round holds
 * one partition and this is the plain per-partition settle; under load a round holds many, so the
 * cost of a transaction (four round trips and a commit) is shared by many payments instead of
 * being paid again by every partition.
 *
 * A waiter is answered once a round has settled its partition through its sequence number (see
 * `batchReached`); until then it joins the next round. One round runs at a time per process. A
 * round that fails is split into one round per partition, so a failure stays with its partition.
 */
export class SettleCombiner {
  private waiting: Waiter[] = [];
  private running = false;

  constructor(
    private readonly settle: (partitions: number[]) => Promise<SettleResult>,
    private readonly batchSize: number,
  ) {}

  /** Settles `partition` through `throughOrderSeq`; resolves with what was settled in that partition. */
  settlePartition(partition: number, throughOrderSeq: bigint): Promise<SettleResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ partition, throughOrderSeq, settled: { payments: [], disputes: [] }, resolve, reject });
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
    for (const w of round) {
      if (batchReached(batch, this.batchSize, w.throughOrderSeq)) w.resolve(w.settled);
      else this.waiting.push(w);
    }
  }
}
