import type { SettleResult } from "@settle/core";

/** What one wake-up settled in its partition, and whether it stopped with work left. */
export interface Drained {
  settled: SettleResult;
  /** True when it let go before its partition was known to be empty: wake the partition again. */
  more: boolean;
}

export interface SettleCombinerOptions {
  /** Operations per round (one transaction), at most. */
  batchSize: number;
  /**
   * How long a wake-up keeps its partition after it began, and after the last round that found work
   * there: it lets go only after a round that began this late found the partition empty. Producers
   * rely on the first (see `PartitionWaker`); the second keeps a busy partition's wake-up, instead of
   * handing it to a follow-up job every `lingerMs` (each hand-off costs Redis about 40 commands).
   */
  lingerMs: number;
  /** How long a wake-up may hold a partition that never empties before a follow-up takes over. */
  maxHoldMs: number;
  /** The pause after a round that was not full, while wake-ups linger or more arrive. */
  idlePollMs: number;
  /** Called after each round that settled something, before its wake-ups are answered. */
  onRound?: (settled: SettleResult, seconds: number) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Operations a round should carry before the pause after it stops growing. */
const GATHER_TARGET = 16;

interface Waiter {
  partition: number;
  /** Let go as soon as the round in flight ends. */
  released?: boolean;
  lingerUntil: number;
  holdUntil: number;
  settled: SettleResult;
  resolve: (drained: Drained) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for the settle side. Each owned partition has its own BullMQ consumer (one wake-up
 * at a time per partition); each wake-up comes here and holds its partition, and the partitions
 * held together are settled together, one transaction per round: under load a round carries what
 * arrived in all of them during the previous one, so the cost of a transaction, and of a BullMQ
 * job, is shared by many payments.
 *
 * A wake-up lingers: it lets go of its partition only after a round that began at least
 * `lingerMs` after the wake-up did, and after the last round that found work there, found nothing
 * more pending there. So everything committed to the partition before that moment is settled by
 * this wake-up, which is what lets a producer skip adding wake-ups for a while after one
 * (`PartitionWaker`), and a partition with steady traffic keeps one wake-up. A partition that never empties is let
 * go after `maxHoldMs` with `more: true`, as is every partition when the worker stops or gives it
 * up; the caller then adds a follow-up wake-up. One round runs at a time per process. A round that
 * fails is split into one round per partition, so a failure stays with its partition.
 */
export class SettleCombiner {
  private waiting: Waiter[] = [];
  private inRound: Waiter[] = [];
  private emptyRounds = 0;
  private running = false;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly settle: (partitions: number[]) => Promise<SettleResult>,
    private readonly options: SettleCombinerOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Settles what is pending in `partition`, in rounds shared with the other partitions held. */
  drain(partition: number): Promise<Drained> {
    const began = this.now();
    return new Promise((resolve, reject) => {
      this.waiting.push({
        partition,
        lingerUntil: began + this.options.lingerMs,
        holdUntil: began + Math.max(this.options.maxHoldMs, this.options.lingerMs),
        settled: { payments: [], operations: [] },
        resolve,
        reject,
      });
      void this.run();
    });
  }

  /** Lets go of `partition` (or of every partition) with `more: true`: now, or when the round in flight ends. */
  release(partition?: number): void {
    const leaving = (w: Waiter) => partition === undefined || w.partition === partition;
    for (const w of this.inRound) if (leaving(w)) w.released = true;
    for (const w of this.waiting) if (leaving(w)) w.resolve({ settled: w.settled, more: true });
    this.waiting = this.waiting.filter((w) => !leaving(w));
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.waiting.length > 0) {
        const round = this.waiting;
        this.waiting = [];
        this.inRound = round;
        const found = await this.settleRound(round).finally(() => (this.inRound = []));
        if (found < this.options.batchSize && this.waiting.length > 0) await this.sleep(this.pauseAfter(found));
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * The pause after a round that was not full. What arrives meanwhile is gathered into the next
   * round: each round costs four round trips and a commit whatever it carries, so a few large
   * rounds beat many small ones, and with several workers each sees a share of the traffic. A
   * small round waits longer (up to 5 × `idlePollMs`); empty rounds back off the same way.
   */
  private pauseAfter(found: number): number {
    const base = this.options.idlePollMs;
    this.emptyRounds = found === 0 ? this.emptyRounds + 1 : 0;
    if (found === 0) return Math.min(base * 2 ** Math.min(this.emptyRounds - 1, 3), base * 5);
    return Math.min(base * Math.max(1, GATHER_TARGET / found), base * 5);
  }

  /** One round; returns how many operations it settled. */
  private async settleRound(round: Waiter[]): Promise<number> {
    const partitions = [...new Set(round.map((w) => w.partition))].sort((a, b) => a - b);
    const began = this.now();
    let batch: SettleResult;
    try {
      batch = await this.settle(partitions);
    } catch (error) {
      if (partitions.length === 1) {
        for (const w of round) w.reject(error);
        return 0;
      }
      // A failure that retrying did not cure (the settle retries transient faults) may come from
      // one partition's data: settle each partition alone, so only that one's wake-up fails.
      let found = 0;
      for (const p of partitions) found += await this.settleRound(round.filter((w) => w.partition === p));
      return found;
    }
    // One consumer per partition means one waiter per partition; were there two, the first reports.
    const byPartition = new Map<number, Waiter>();
    for (const w of round) if (!byPartition.has(w.partition)) byPartition.set(w.partition, w);
    for (const p of batch.payments) byPartition.get(p.partition)?.settled.payments.push(p);
    for (const d of batch.operations) byPartition.get(d.partition)?.settled.operations.push(d);
    const found = batch.payments.length + batch.operations.length;
    const ended = this.now();
    // A partition that had work in this round lingers on from this round.
    const busy = new Set([...batch.payments, ...batch.operations].map((x) => x.partition));
    for (const w of round) if (busy.has(w.partition)) w.lingerUntil = Math.max(w.lingerUntil, began + this.options.lingerMs);
    if (found > 0) this.options.onRound?.(batch, (ended - began) / 1000);
    // Not full: this round took everything pending in its partitions when it began.
    const emptied = found < this.options.batchSize;
    for (const w of round) {
      if (emptied && began >= w.lingerUntil) w.resolve({ settled: w.settled, more: false });
      else if (w.released || ended >= w.holdUntil) w.resolve({ settled: w.settled, more: true });
      else this.waiting.push(w);
    }
    return found;
  }
}
