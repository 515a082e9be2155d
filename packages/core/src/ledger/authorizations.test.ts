import { MoneyDecimal } from "../money";
import { accountState } from "../testing/ledger";
import { applyAuthorizationOperation, authorizationEntries } from "./authorizations";
import { applyPayment } from "./payments";

const now = new Date("2026-11-21T10:00:00.000Z");
const m = (s: string) => new MoneyDecimal(s);

function accounts(payerAvailable: string, overdraft = "0") {
  const payer = accountState("a", payerAvailable);
  payer.overdraftLimit = m(overdraft);
  return new Map([
    ["a", payer],
    ["b", accountState("b")],
  ]);
}

const authorize = (state: ReturnType<typeof accounts>, amount: string) =>
  applyPayment(state, { id: "p", type: "transfer", fromAccount: "a", toAccount: "b", amount: m(amount), capture: false }, now);

describe("an authorization", () => {
  it("holds the amount on the payer when settled, within the overdraft limit", () => {
    const state = accounts("10", "5");
    const held = authorize(state, "15");
    expect(held.outcome).toEqual({ status: "authorized", failureReason: null });
    expect(held.entries.map((e) => [e.accountId, e.type, e.availableAfter, e.heldAfter, e.overdraftLimit])).toEqual([
      ["a", "authorize", "-5.00", "15.00", "5.00"],
    ]);
    expect(authorize(state, "0.01").outcome).toEqual({ status: "failed", failureReason: "insufficient_funds" });
  });

  it("captures part: the captured amount leaves held for the receiver, the rest is released", () => {
    const state = accounts("100");
    authorize(state, "60");
    const payment = { id: "p", status: "authorized" as const, fromAccount: "a", toAccount: "b", amount: m("60") };
    const result = applyAuthorizationOperation(state, { kind: "capture", amount: m("45") }, payment, now);
    expect(result).toMatchObject({ outcome: "applied", status: "completed" });
    expect(result.entries.map((e) => [e.accountId, e.type, e.amount])).toEqual([
      ["a", "capture", "45.00"],
      ["a", "release", "15.00"],
      ["b", "credit", "45.00"],
    ]);
    expect([state.get("a")!.available.toString(), state.get("a")!.held.toString(), state.get("b")!.available.toString()]).toEqual(["55", "0", "45"]);
    // What verifyLedger expects of a captured authorization is what was written.
    const expected = authorizationEntries({ status: "completed", fromAccount: "a", toAccount: "b", amount: m("60"), amountCaptured: m("45") });
    expect(expected.map((e) => `${e.type}:${e.account}:${e.amount.toFixed(2)}`)).toEqual([
      "authorize:a:60.00",
      "capture:a:45.00",
      "release:a:15.00",
      "credit:b:45.00",
    ]);
  });

  it("releases the whole hold on a void or an expiry, and changes nothing once it is no longer authorized", () => {
    for (const kind of ["void", "expire"] as const) {
      const state = accounts("30");
      authorize(state, "30");
      const payment = { id: "p", status: "authorized" as const, fromAccount: "a", toAccount: "b", amount: m("30") };
      const result = applyAuthorizationOperation(state, { kind, amount: null }, payment, now);
      expect(result).toMatchObject({ outcome: "applied", status: kind === "void" ? "voided" : "expired" });
      expect([state.get("a")!.available.toString(), state.get("a")!.held.toString()]).toEqual(["30", "0"]);
      for (const status of ["completed", "voided", "expired", "pending", "failed"] as const) {
        expect(applyAuthorizationOperation(state, { kind: "capture", amount: null }, { ...payment, status }, now)).toEqual({
          outcome: "rejected",
          rejectionReason: "invalid_state",
          entries: [],
        });
      }
    }
  });

  it("rejects a capture from a frozen payer and keeps the hold; a void still releases it", () => {
    const state = accounts("20");
    authorize(state, "20");
    state.get("a")!.status = "frozen";
    const payment = { id: "p", status: "authorized" as const, fromAccount: "a", toAccount: "b", amount: m("20") };
    expect(applyAuthorizationOperation(state, { kind: "capture", amount: null }, payment, now)).toEqual({
      outcome: "rejected",
      rejectionReason: "account_frozen",
      entries: [],
    });
    expect(state.get("a")!.held.toString()).toBe("20");
    expect(applyAuthorizationOperation(state, { kind: "void", amount: null }, payment, now).outcome).toBe("applied");
  });
});
