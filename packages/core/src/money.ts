import Decimal from "decimal.js";

/** Decimal arithmetic for money: never a JavaScript number, never an exponent in output. */
export const MoneyDecimal = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN, toExpNeg: -40, toExpPos: 40 });
export type Money = InstanceType<typeof MoneyDecimal>;

/** At most 15 integer digits and 2 fraction digits: fits NUMERIC(17,2) exactly. */
export const AMOUNT_PATTERN = /^\d{1,15}(\.\d{1,2})?$/;

export const AMOUNT_RULE = "must be a decimal string greater than 0 with at most 15 integer digits and 2 fraction digits";

/** Parses a positive amount string as docs/API.md defines it; returns null for anything else. */
export function parseAmount(input: unknown): Money | null {
  if (typeof input !== "string" || !AMOUNT_PATTERN.test(input)) return null;
  const value = new MoneyDecimal(input);
  return value.isZero() ? null : value;
}

/** Reads an exact decimal that PostgreSQL returned as text (NUMERIC); throws on anything else. */
export function moneyFromDb(text: string): Money {
  if (!/^-?\d+(\.\d+)?$/.test(text)) throw new Error(`not a NUMERIC value: ${text}`);
  return new MoneyDecimal(text);
}

export const ZERO: Money = new MoneyDecimal(0);

/** Formats money with exactly 2 fraction digits ("5" → "5.00", "-0.1" → "-0.10"). */
export function formatMoney(value: Money): string {
  // toFixed rounds half-even (MoneyDecimal's mode) and never uses an exponent; only a value that
  // rounds to zero from below keeps a sign it must not show.
  const text = value.toFixed(2);
  return text === "-0.00" ? "0.00" : text;
}
