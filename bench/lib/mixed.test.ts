import { scenarioCatalog, type Intent } from "./scenarios";
import { fromCents, partOf, toCents } from "./settle/tracker";

describe("the mixed scenario", () => {
  const draw = (features: Parameters<(typeof scenarioCatalog)["mixed"]["intents"]>[1], n = 20_000) => {
    const next = scenarioCatalog.mixed.intents(1, features);
    const counts: Record<string, number> = {};
    const intents: Intent[] = [];
    for (let i = 0; i < n; i++) {
      const intent = next();
      intents.push(intent);
      counts[intent.type] = (counts[intent.type] ?? 0) + 1;
    }
    return { counts, intents };
  };

  it("offers every kind of operation the API has, mostly transfers", () => {
    const { counts } = draw({ disputes: true, refunds: true, authorizations: true, overdrafts: true });
    for (const kind of ["transfer", "deposit", "withdrawal", "authorize", "capture", "void", "refund", "dispute", "resolve", "chargeback"]) {
      expect(counts[kind]).toBeGreaterThan(0);
    }
    expect(counts.transfer! / 20_000).toBeGreaterThan(0.55);
  });

  it("sends transfers instead of the kinds the API lacks", () => {
    const { counts } = draw({ disputes: false });
    expect(Object.keys(counts).sort()).toEqual(["deposit", "transfer", "withdrawal"]);
  });

  it("sends a tenth of debits from the overdraft accounts, never to the payer itself", () => {
    const { intents } = draw({ disputes: false, overdrafts: true });
    const transfers = intents.filter((i): i is Extract<Intent, { type: "transfer" }> => i.type === "transfer");
    const fromOverdraft = transfers.filter((t) => t.from < 200).length / transfers.length;
    expect(fromOverdraft).toBeGreaterThan(0.08);
    expect(fromOverdraft).toBeLessThan(0.14);
    expect(transfers.every((t) => t.from !== t.to && t.to >= 0 && t.to < 10_000)).toBe(true);
  });
});

describe("amounts of partial captures and refunds", () => {
  it("stay in integer cents", () => {
    expect(toCents("37.05")).toBe(3705n);
    expect(toCents("5")).toBe(500n);
    expect(toCents("0.5")).toBe(50n);
    expect(fromCents(3705n)).toBe("37.05");
    expect(fromCents(1n)).toBe("0.01");
  });

  it("take a part short of the whole, at least 0.01, or none", () => {
    expect(partOf(10_000n, 40)).toBe("40.00");
    expect(partOf(3n, 10)).toBe("0.01");
    expect(partOf(2n, 99)).toBe("0.01");
    expect(partOf(1n, 50)).toBeUndefined();
    expect(partOf(10_000n, undefined)).toBeUndefined();
  });
});
