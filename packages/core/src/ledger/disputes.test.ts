import { MoneyDecimal, ZERO } from "../money";
import { accountState } from "../testing/ledger";
import { applyDispute, disputeAllowed, disputeEntries, type DisputeStatus, type DisputeToApply } from "./disputes";

const now = new Date("2026-11-21T10:00:00.000Z");
const m = (s: string) => new MoneyDecimal(s);

describe("applyDispute", () => {
  const op = (kind: DisputeToApply["kind"], disputeStatus: DisputeToApply["payment"]["disputeStatus"]): DisputeToApply => ({
    id: "op",
    kind,
    payment: { id: "p", type: "transfer", status: "completed", fromAccount: "a", toAccount: "b", amount: m("30"), disputeStatus },
  });

  it("holds (available may go negative), then charges back to the payer and freezes the receiver", () => {
    const accounts = new Map([
      ["a", accountState("a")],
      ["b", accountState("b", "10")],
    ]);
    const held = applyDispute(accounts, op("dispute", "none"), now);
    expect(held.outcome).toBe("applied");
    expect(accounts.get("b")!.available.equals(m("-20"))).toBe(true);
    expect(accounts.get("b")!.held.equals(m("30"))).toBe(true);
    const charged = applyDispute(accounts, op("chargeback", "open"), now);
    expect(charged.entries.map((e) => [e.accountId, e.type])).toEqual([
      ["b", "chargeback"],
      ["a", "credit"],
    ]);
    expect(charged.disputeStatus).toBe("charged_back");
    expect(accounts.get("b")).toMatchObject({ status: "frozen" });
    expect(accounts.get("b")!.held.equals(ZERO)).toBe(true);
    expect(accounts.get("a")!.available.equals(m("30"))).toBe(true);
  });

  it("rejects a step that does not follow the payment's dispute status", () => {
    const accounts = new Map([
      ["a", accountState("a")],
      ["b", accountState("b", "10")],
    ]);
    for (const [kind, status] of [
      ["resolve", "none"],
      ["chargeback", "resolved"],
      ["dispute", "open"],
      ["dispute", "charged_back"],
    ] as const) {
      expect(applyDispute(accounts, op(kind, status), now)).toMatchObject({ outcome: "rejected", entries: [] });
    }
    expect(disputeAllowed("dispute", { type: "withdrawal", status: "completed", amount: m("5") }, "none")).toBe(false);
    expect(disputeAllowed("dispute", { type: "refund", status: "completed", amount: m("5") }, "none")).toBe(false);
    expect(disputeAllowed("dispute", { type: "deposit", status: "completed", amount: m("5") }, "none")).toBe(true);
    expect(disputeAllowed("dispute", { type: "transfer", status: "completed", amount: m("0") }, "none")).toBe(false);
    expect(disputeAllowed("dispute", { type: "transfer", status: "failed", amount: m("5") }, "none")).toBe(false);
  });

  it("lists the entries a dispute status implies, as its steps wrote them", () => {
    for (const type of ["transfer", "deposit"] as const) {
      const payment = { id: "p", type, status: "completed" as const, fromAccount: type === "transfer" ? "a" : null, toAccount: "b", amount: m("30") };
      for (const steps of [
        ["dispute", "resolve"],
        ["dispute", "chargeback"],
      ] as const) {
        const accounts = new Map([
          ["a", accountState("a")],
          ["b", accountState("b", "100")],
        ]);
        const written: { type: string; account: string | null }[] = [];
        let disputeStatus: DisputeStatus = "none";
        for (const kind of steps) {
          const result = applyDispute(accounts, { id: "op", kind, payment: { ...payment, disputeStatus } }, now);
          written.push(...result.entries.map((e) => ({ type: e.type, account: e.accountId })));
          disputeStatus = result.disputeStatus;
          expect(disputeEntries({ ...payment, disputeStatus })).toEqual(written);
        }
      }
    }
  });
});
