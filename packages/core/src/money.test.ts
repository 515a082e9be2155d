import { formatMoney, MoneyDecimal, parseAmount } from "./money";

describe("parseAmount", () => {
  it.each(["99.01", "5", "0.10", "0.01", "999999999999999.99", "100000000000000", "1.5"])("accepts %s", (input) => {
    expect(parseAmount(input)?.toString()).toBe(new MoneyDecimal(input).toString());
  });

  it.each([
    ["a JSON number", 5],
    ["exponent notation", "1e3"],
    ["a negative amount", "-5"],
    ["zero", "0"],
    ["zero with fraction digits", "0.00"],
    ["three fraction digits", "0.001"],
    ["a leading space", " 5"],
    ["a trailing space", "5 "],
    ["a trailing dot", "5."],
    ["a leading dot", ".5"],
    ["NaN", "NaN"],
    ["Infinity", "Infinity"],
    ["16 integer digits", "1000000000000000"],
    ["a plus sign", "+5"],
    ["a comma", "1,00"],
    ["hex", "0x10"],
    ["the empty string", ""],
    ["null", null],
    ["an object", { amount: "5" }],
  ])("rejects %s", (_label, input) => {
    expect(parseAmount(input)).toBeNull();
  });
});

describe("formatMoney", () => {
  it.each([
    ["5", "5.00"],
    ["0.1", "0.10"],
    ["99.01", "99.01"],
    ["-0.1", "-0.10"],
    ["-0", "0.00"],
    ["999999999999999999999.99", "999999999999999999999.99"],
    ["0.000001", "0.00"],
  ])("formats %s as %s", (input, expected) => {
    expect(formatMoney(new MoneyDecimal(input))).toBe(expected);
  });

  it("adds exactly where binary floating point does not", () => {
    expect(formatMoney(new MoneyDecimal("0.1").plus("0.2"))).toBe("0.30");
  });
});
