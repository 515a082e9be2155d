import { CreateAccountRequest, EntriesQuery, ExternalMoveRequest, PaymentQuery, TransferRequest } from "./schemas";
import { isUuid, uuidv7 } from "./ids";

const [a, b] = ["0190a3c2-5b7e-7d4e-9c1a-3f2b1a0c9d8e", "0190a3c2-5b7e-7d4e-9c1a-3f2b1a0c9d8f"];

describe("TransferRequest", () => {
  it("accepts the contract's example and lower-cases ids", () => {
    const parsed = TransferRequest.parse({ from_account: a.toUpperCase(), to_account: b, amount: "99.01", payment_description: "this is a payment desc." });
    expect(parsed).toEqual({ from_account: a, to_account: b, amount: "99.01", payment_description: "this is a payment desc." });
  });

  it.each([
    ["equal accounts", { from_account: a, to_account: a, amount: "1" }, "to_account"],
    ["a numeric amount", { from_account: a, to_account: b, amount: 1 }, "amount"],
    ["a bad id", { from_account: "x", to_account: b, amount: "1" }, "from_account"],
    ["an unknown field", { from_account: a, to_account: b, amount: "1", extra: true }, ""],
    ["a long description", { from_account: a, to_account: b, amount: "1", payment_description: "x".repeat(501) }, "payment_description"],
  ])("refuses %s", (_label, body, path) => {
    const result = TransferRequest.safeParse(body);
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.path.join(".")).toBe(path);
  });
});

describe("other schemas", () => {
  it("defaults an account's currency to USD and knows ISO 4217", () => {
    expect(CreateAccountRequest.parse({})).toEqual({ currency: "USD" });
    expect(CreateAccountRequest.safeParse({ currency: "EUR" }).success).toBe(true);
    expect(CreateAccountRequest.safeParse({ currency: "XYZ" }).success).toBe(false);
  });

  it("bounds entry paging and long-poll waits", () => {
    expect(EntriesQuery.parse({})).toEqual({ after: 0, limit: 100 });
    expect(EntriesQuery.safeParse({ limit: "501" }).success).toBe(false);
    expect(PaymentQuery.parse({ wait: "30" })).toEqual({ wait: 30 });
    expect(PaymentQuery.safeParse({ wait: "31" }).success).toBe(false);
  });

  it("reads deposits and withdrawals", () => {
    expect(ExternalMoveRequest.parse({ account_id: a, amount: "100.00" })).toEqual({ account_id: a, amount: "100.00" });
    expect(ExternalMoveRequest.safeParse({ account_id: a, amount: "100.000" }).success).toBe(false);
  });
});

describe("uuidv7", () => {
  it("makes canonical version-7 UUIDs that sort by time", () => {
    const first = uuidv7(1_700_000_000_000);
    const second = uuidv7(1_700_000_000_001);
    expect(isUuid(first)).toBe(true);
    expect(first[14]).toBe("7");
    expect(first < second).toBe(true);
  });
});
