import { debitAccountOf } from "./ledger/accept";
import { uuidv7 } from "./ids";
import { partitionFor } from "./partition";

describe("partitionFor", () => {
  it("is stable, in range, and ignores letter case", () => {
    const id = "0190a3c2-5b7e-7d4e-9c1a-3f2b1a0c9d8e";
    expect(partitionFor(id, 32)).toBe(partitionFor(id.toUpperCase(), 32));
    for (let i = 0; i < 1000; i++) {
      const p = partitionFor(uuidv7(), 32);
      expect(Number.isInteger(p) && p >= 0 && p < 32).toBe(true);
    }
  });

  it("spreads time-ordered ids evenly over the partitions", () => {
    const counts = new Array(32).fill(0);
    for (let i = 0; i < 32_000; i++) counts[partitionFor(uuidv7(), 32)]++;
    // Expected 1000 each; a hash that ignored the random bits of a v7 id would pile them up.
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });
});

describe("debitAccountOf", () => {
  const [a, b] = [uuidv7(), uuidv7()];
  it("routes a transfer and a withdrawal by the payer, a deposit by the receiver", () => {
    expect(debitAccountOf({ type: "transfer", fromAccount: a, toAccount: b })).toBe(a);
    expect(debitAccountOf({ type: "withdrawal", fromAccount: a, toAccount: null })).toBe(a);
    expect(debitAccountOf({ type: "deposit", fromAccount: null, toAccount: b })).toBe(b);
  });
});
