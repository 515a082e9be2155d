import { isUuid, uuidv7 } from "./ids";

describe("uuidv7", () => {
  it("is a version 7, variant 1 UUID carrying the given milliseconds", () => {
    const id = uuidv7(0x0190a3c2d4e5);
    expect(isUuid(id)).toBe(true);
    expect(id.startsWith("0190a3c2-d4e5-7")).toBe(true);
    expect(["8", "9", "a", "b"]).toContain(id[19]);
  });

  it("never repeats across many refills of the random pool", () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7(1));
    expect(new Set(ids).size).toBe(ids.length);
    // Same millisecond: only the random bits differ, and they differ everywhere, not in one place.
    const tails = new Set(ids.map((id) => id.slice(24)));
    expect(tails.size).toBe(ids.length);
  });
});
