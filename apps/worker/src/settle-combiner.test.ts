import type { SettledPayment, SettleResult } from "@settle/core";
import { SettleCombiner } from "./settle-combiner";

// The combiner's scheduling, against a scripted settle function; the real settle transaction over
// several partitions is exercised against PostgreSQL by the integration and multi-process tests.

function payment(partition: number, orderSeq: number): SettledPayment {
  return {
    id: `p-${partition}-${orderSeq}`,
    partition,
    type: "transfer",
    orderSeq: BigInt(orderSeq),
    status: "completed",
    failureReason: null,
    createdAt: new Date(0),
    processedAt: new Date(0),
    requestId: null,
  };
}

function result(...payments: SettledPayment[]): SettleResult {
  return { payments, disputes: [] };
}

/** A settle function whose rounds the test answers one by one. */
function scripted() {
  const calls: { partitions: number[]; answer: (r: SettleResult) => void; fail: (e: unknown) => void }[] = [];
  const settle = (partitions: number[]) =>
    new Promise<SettleResult>((answer, fail) => {
      calls.push({ partitions, answer, fail });
    });
  return { calls, settle };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("SettleCombiner", () => {
  it("settles the partitions whose jobs arrive during a round together, in the next round", async () => {
    const { calls, settle } = scripted();
    const combiner = new SettleCombiner(settle, 10);
    const first = combiner.settlePartition(7, 1n);
    await tick();
    expect(calls.map((c) => c.partitions)).toEqual([[7]]);

    const later = [combiner.settlePartition(3, 2n), combiner.settlePartition(9, 3n), combiner.settlePartition(1, 4n)];
    await tick();
    expect(calls).toHaveLength(1); // one round at a time
    calls[0]!.answer(result(payment(7, 1)));
    await expect(first).resolves.toEqual(result(payment(7, 1)));
    await tick();
    expect(calls.map((c) => c.partitions)).toEqual([[7], [1, 3, 9]]);

    calls[1]!.answer(result(payment(3, 2), payment(9, 3), payment(1, 4), payment(9, 5)));
    const [r3, r9, r1] = await Promise.all(later);
    expect(r3).toEqual(result(payment(3, 2)));
    expect(r9).toEqual(result(payment(9, 3), payment(9, 5)));
    expect(r1).toEqual(result(payment(1, 4)));
  });

  it("keeps a waiter for the next round while a full batch has not reached its sequence number", async () => {
    const { calls, settle } = scripted();
    const combiner = new SettleCombiner(settle, 2);
    let done = false;
    const waiter = combiner.settlePartition(5, 4n).then((r) => ((done = true), r));
    await tick();
    calls[0]!.answer(result(payment(5, 1), payment(5, 2))); // full, reached seq 2 of 4
    await tick();
    expect(done).toBe(false);
    expect(calls.map((c) => c.partitions)).toEqual([[5], [5]]);
    calls[1]!.answer(result(payment(5, 3))); // not full: nothing more pending
    await expect(waiter).resolves.toEqual(result(payment(5, 1), payment(5, 2), payment(5, 3)));
  });

  it("answers a waiter from a full batch that passed its sequence number", async () => {
    const { calls, settle } = scripted();
    const combiner = new SettleCombiner(settle, 2);
    const waiter = combiner.settlePartition(5, 2n);
    await tick();
    calls[0]!.answer(result(payment(5, 1), payment(5, 2)));
    await expect(waiter).resolves.toEqual(result(payment(5, 1), payment(5, 2)));
    await tick();
    expect(calls).toHaveLength(1);
  });

  it("splits a failed round into one per partition, so only the failing partition's job fails", async () => {
    const { calls, settle } = scripted();
    const combiner = new SettleCombiner(settle, 10);
    const first = combiner.settlePartition(8, 1n);
    await tick();
    const [bad, good] = [combiner.settlePartition(1, 2n), combiner.settlePartition(2, 3n)];
    calls[0]!.answer(result(payment(8, 1)));
    await first;
    await tick();
    expect(calls[1]!.partitions).toEqual([1, 2]);
    calls[1]!.fail(new Error("check constraint"));
    await tick();
    expect(calls[2]!.partitions).toEqual([1]);
    calls[2]!.fail(new Error("check constraint"));
    await expect(bad).rejects.toThrow("check constraint");
    await tick();
    expect(calls[3]!.partitions).toEqual([2]);
    calls[3]!.answer(result(payment(2, 3)));
    await expect(good).resolves.toEqual(result(payment(2, 3)));
  });

  it("fails a round's waiters when the settle fails and goes on with the next ones", async () => {
    const { calls, settle } = scripted();
    const combiner = new SettleCombiner(settle, 10);
    const failed = combiner.settlePartition(1, 1n);
    await tick();
    const next = combiner.settlePartition(2, 2n);
    calls[0]!.fail(new Error("database gone"));
    await expect(failed).rejects.toThrow("database gone");
    await tick();
    expect(calls.map((c) => c.partitions)).toEqual([[1], [2]]);
    calls[1]!.answer(result(payment(2, 2)));
    await expect(next).resolves.toEqual(result(payment(2, 2)));
  });
});
