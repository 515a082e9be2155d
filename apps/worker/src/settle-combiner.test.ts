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
  return { payments, operations: [] };
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

const drained = (r: SettleResult, more = false) => ({ settled: r, more });

/** Options with a hand-driven clock: no linger and no hold limit unless a test sets them. */
function clocked(overrides: { batchSize: number; lingerMs?: number; maxHoldMs?: number }) {
  const clock = { t: 0 };
  const options = {
    lingerMs: 0,
    maxHoldMs: 1e9,
    idlePollMs: 50,
    now: () => clock.t,
    sleep: (ms: number) => {
      clock.t += ms;
      return Promise.resolve();
    },
    ...overrides,
  };
  return { clock, options };
}

describe("SettleCombiner", () => {
  it("settles the partitions whose wake-ups arrive during a round together, in the next round", async () => {
    const { calls, settle } = scripted();
    const combiner = new SettleCombiner(settle, clocked({ batchSize: 10 }).options);
    const first = combiner.drain(7);
    await tick();
    expect(calls.map((c) => c.partitions)).toEqual([[7]]);

    const later = [combiner.drain(3), combiner.drain(9), combiner.drain(1)];
    await tick();
    expect(calls).toHaveLength(1); // one round at a time
    calls[0]!.answer(result(payment(7, 1)));
    await expect(first).resolves.toEqual(drained(result(payment(7, 1))));
    await tick();
    expect(calls.map((c) => c.partitions)).toEqual([[7], [1, 3, 9]]);

    calls[1]!.answer(result(payment(3, 2), payment(9, 3), payment(1, 4), payment(9, 5)));
    const [r3, r9, r1] = await Promise.all(later);
    expect(r3).toEqual(drained(result(payment(3, 2))));
    expect(r9).toEqual(drained(result(payment(9, 3), payment(9, 5))));
    expect(r1).toEqual(drained(result(payment(1, 4))));
  });

  it("keeps draining after a full round, until a round is not full", async () => {
    const { calls, settle } = scripted();
    const combiner = new SettleCombiner(settle, clocked({ batchSize: 2 }).options);
    let done = false;
    const waiter = combiner.drain(5).then((r) => ((done = true), r));
    await tick();
    calls[0]!.answer(result(payment(5, 1), payment(5, 2))); // full: more may be pending
    await tick();
    expect(done).toBe(false);
    expect(calls.map((c) => c.partitions)).toEqual([[5], [5]]);
    calls[1]!.answer(result(payment(5, 3))); // not full: nothing more pending
    await expect(waiter).resolves.toEqual(drained(result(payment(5, 1), payment(5, 2), payment(5, 3))));
  });

  it("hands a busy partition back after maxHoldMs of full rounds, saying more is pending", async () => {
    const { calls, settle } = scripted();
    const { clock, options } = clocked({ batchSize: 1, maxHoldMs: 100 });
    const combiner = new SettleCombiner(settle, options);
    const waiter = combiner.drain(4);
    await tick();
    clock.t = 60;
    calls[0]!.answer(result(payment(4, 1)));
    await tick();
    clock.t = 120;
    calls[1]!.answer(result(payment(4, 2)));
    await expect(waiter).resolves.toEqual(drained(result(payment(4, 1), payment(4, 2)), true));
    await tick();
    expect(calls).toHaveLength(2);
  });

  it("lingers: lets go only after a round that began lingerMs after the wake-up found nothing", async () => {
    const { calls, settle } = scripted();
    const { clock, options } = clocked({ batchSize: 10, lingerMs: 100 });
    const combiner = new SettleCombiner(settle, options);
    let done = false;
    const waiter = combiner.drain(6).then((r) => ((done = true), r));
    await tick();
    calls[0]!.answer(result()); // began at 0: too early to let go; the combiner pauses 50
    await tick();
    expect(clock.t).toBe(50);
    expect(done).toBe(false);
    calls[1]!.answer(result(payment(6, 1))); // began at 50: a payment committed meanwhile
    await tick();
    expect(clock.t).toBe(300); // a small round: the longest pause (5 × 50), to gather more
    expect(done).toBe(false);
    calls[2]!.answer(result()); // began at 300: empty, and late enough
    await expect(waiter).resolves.toEqual(drained(result(payment(6, 1))));
    expect(calls).toHaveLength(3);
  });

  it("keeps a partition that goes on finding work: it lets go lingerMs after the last round that found some", async () => {
    const { calls, settle } = scripted();
    const { clock, options } = clocked({ batchSize: 10, lingerMs: 100 });
    const combiner = new SettleCombiner(settle, options);
    let done = false;
    const waiter = combiner.drain(2).then((r) => ((done = true), r));
    await tick();
    // Rounds every pause, each finding one payment: past lingerMs (100) after the wake-up began, still held.
    for (let i = 0; i < 3; i++) {
      calls[i]!.answer(result(payment(2, i + 1)));
      await tick();
    }
    expect(clock.t).toBe(750); // rounds began at 0, 250, 500 (the longest pause after small rounds); one at 750 in flight
    expect(done).toBe(false);
    // An empty round that began 250 after the last one with work (began 500 + 100 ≤ 750): let go.
    calls[3]!.answer(result());
    await expect(waiter).resolves.toEqual(drained(result(payment(2, 1), payment(2, 2), payment(2, 3))));
  });

  it("lets a released partition go when the round in flight ends, or at once between rounds", async () => {
    const { calls, settle } = scripted();
    const { options } = clocked({ batchSize: 10, lingerMs: 1000 });
    const combiner = new SettleCombiner(settle, options);
    const kept = combiner.drain(1);
    await tick();
    const released = combiner.drain(2);
    calls[0]!.answer(result());
    await tick();
    expect(calls.map((c) => c.partitions)).toEqual([[1], [1, 2]]);
    combiner.release(2); // during the round: it lets go when that round ends, with what it settled
    calls[1]!.answer(result(payment(2, 1)));
    await expect(released).resolves.toEqual(drained(result(payment(2, 1)), true));
    await tick();
    expect(calls[2]!.partitions).toEqual([1]);
    combiner.release();
    calls[2]!.answer(result());
    await expect(kept).resolves.toEqual(drained(result(), true));
    await tick();
    expect(calls).toHaveLength(3);
  });

  it("splits a failed round into one per partition, so only the failing partition's wake-up fails", async () => {
    const { calls, settle } = scripted();
    const combiner = new SettleCombiner(settle, clocked({ batchSize: 10 }).options);
    const first = combiner.drain(8);
    await tick();
    const [bad, good] = [combiner.drain(1), combiner.drain(2)];
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
    await expect(good).resolves.toEqual(drained(result(payment(2, 3))));
  });

  it("fails a round's waiters when the settle fails and goes on with the next ones", async () => {
    const { calls, settle } = scripted();
    const combiner = new SettleCombiner(settle, clocked({ batchSize: 10 }).options);
    const failed = combiner.drain(1);
    await tick();
    const next = combiner.drain(2);
    calls[0]!.fail(new Error("database gone"));
    await expect(failed).rejects.toThrow("database gone");
    await tick();
    expect(calls.map((c) => c.partitions)).toEqual([[1], [2]]);
    calls[1]!.answer(result(payment(2, 2)));
    await expect(next).resolves.toEqual(drained(result(payment(2, 2))));
  });
});
