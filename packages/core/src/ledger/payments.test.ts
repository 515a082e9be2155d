import { MoneyDecimal } from "../money";
import { accountState } from "../testing/ledger";
import { applyPayment } from "./payments";
import { entryHash, GENESIS_HASH } from "./journal-hash";

const now = new Date("2026-11-21T10:00:00.000Z");
const m = (s: string) => new MoneyDecimal(s);

describe("applyPayment", () => {
  it("debits and credits, chaining each account's hash from the genesis hash", () => {
    const accounts = new Map([
      ["a", accountState("a", "100")],
      ["b", accountState("b")],
    ]);
    const { outcome, entries } = applyPayment(
      accounts,
      { id: "p1", type: "transfer", fromAccount: "a", toAccount: "b", amount: m("40.5"), capture: true },
      now,
    );
    expect(outcome).toEqual({ status: "completed", failureReason: null });
    expect(entries.map((e) => [e.accountId, e.type, e.amount, e.availableAfter, e.seq])).toEqual([
      ["a", "debit", "40.50", "59.50", 1],
      ["b", "credit", "40.50", "40.50", 1],
    ]);
    const [debit] = entries;
    expect(debit!.prevHash).toBe(GENESIS_HASH);
    expect(debit!.hash).toBe(entryHash(GENESIS_HASH, debit!));
    expect(accounts.get("a")!.lastHash).toBe(debit!.hash);
  });

  it("fails without touching balances on insufficient funds or a frozen payer", () => {
    const accounts = new Map([
      ["a", accountState("a", "10")],
      ["b", accountState("b")],
    ]);
    expect(applyPayment(accounts, { id: "p", type: "withdrawal", fromAccount: "a", toAccount: null, amount: m("10.01"), capture: true }, now)).toEqual({
      outcome: { status: "failed", failureReason: "insufficient_funds" },
      entries: [],
    });
    accounts.get("a")!.status = "frozen";
    expect(applyPayment(accounts, { id: "p", type: "transfer", fromAccount: "a", toAccount: "b", amount: m("1"), capture: true }, now).outcome).toEqual({
      status: "failed",
      failureReason: "account_frozen",
    });
    expect(accounts.get("a")!.available.equals(m("10"))).toBe(true);
    expect(accounts.get("a")!.entryCount).toBe(0);
  });

  it("lets a frozen account receive", () => {
    const accounts = new Map([["b", { ...accountState("b"), status: "frozen" as const }]]);
    expect(applyPayment(accounts, { id: "p", type: "deposit", fromAccount: null, toAccount: "b", amount: m("5"), capture: true }, now).outcome.status).toBe(
      "completed",
    );
  });
});
