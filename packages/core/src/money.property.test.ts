import fc from "fast-check";
import { formatMoney, MoneyDecimal, parseAmount } from "./money";

// An oracle written with string operations only: the canonical form of a valid amount string.
function canonical(input: string): string {
  const [integer, fraction = ""] = input.split(".");
  return `${integer!.replace(/^0+(?=\d)/, "")}.${fraction.padEnd(2, "0")}`;
}

// Integer cents as a BigInt, for an arithmetic oracle independent of decimal.js.
function cents(amount: string): bigint {
  const [integer, fraction] = canonical(amount).split(".");
  return BigInt(integer!) * 100n + BigInt(fraction!);
}

function formatCents(value: bigint): string {
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: min, maxLength: max });

/** Every string docs/API.md accepts: 1-15 integer digits, optionally 1-2 fraction digits, not zero. */
const validAmount = fc
  .tuple(digits(1, 15), fc.option(digits(1, 2), { nil: undefined }))
  .map(([integer, fraction]) => (fraction === undefined ? integer : `${integer}.${fraction}`))
  .filter((s) => /[1-9]/.test(s));

/** Valid amounts with one mutation near the boundary of the grammar, plus arbitrary strings. */
const garbage = fc.oneof(
  fc.string(),
  fc.string({ unit: fc.constantFrom(..."0123456789.-+eE ,_xX\t\n٣１∞") }),
  fc
    .tuple(validAmount, fc.nat(), fc.constantFrom(" ", "-", "+", "e3", ".", "..", ",", "0x", "٣", "１", "\n", "_", "NaN", "Infinity", "0", "00", "5"))
    .map(([valid, at, insert]) => {
      const i = at % (valid.length + 1);
      return valid.slice(0, i) + insert + valid.slice(i);
    }),
);

describe("parseAmount and formatMoney (properties)", () => {
  it("round-trips every valid amount string to its canonical form", () => {
    fc.assert(
      fc.property(validAmount, (input) => {
        const parsed = parseAmount(input);
        expect(parsed).not.toBeNull();
        expect(formatMoney(parsed!)).toBe(canonical(input));
        // The canonical form is itself valid and a fixed point.
        expect(formatMoney(parseAmount(canonical(input))!)).toBe(canonical(input));
      }),
      { numRuns: 2000 },
    );
  });

  it("never parses garbage into something that formats differently", () => {
    fc.assert(
      fc.property(garbage, (input) => {
        const parsed = parseAmount(input);
        if (parsed === null) return;
        // Whatever is accepted is a valid amount, and means exactly what it says.
        expect(input).toMatch(/^\d{1,15}(\.\d{1,2})?$/);
        expect(formatMoney(parsed)).toBe(canonical(input));
        expect(parsed.isPositive() && !parsed.isZero()).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("rejects every value that is not a string", () => {
    fc.assert(
      fc.property(
        fc.anything().filter((v) => typeof v !== "string"),
        (input) => {
          expect(parseAmount(input)).toBeNull();
        },
      ),
      { numRuns: 500 },
    );
  });

  it("adds and subtracts exactly, as integer cents do", () => {
    fc.assert(
      fc.property(validAmount, validAmount, (a, b) => {
        const [x, y] = [parseAmount(a)!, parseAmount(b)!];
        expect(formatMoney(x.plus(y))).toBe(formatCents(cents(a) + cents(b)));
        expect(formatMoney(x.minus(y))).toBe(formatCents(cents(a) - cents(b)));
        expect(formatMoney(new MoneyDecimal(formatMoney(x)))).toBe(formatMoney(x));
      }),
      { numRuns: 2000 },
    );
  });
});
