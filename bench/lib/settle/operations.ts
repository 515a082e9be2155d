// The operation stream of a Settle run: the scenario's seeded intents as requests, and every
// debit the clients saw accepted (for the per-account order check).
import type { HttpReply } from "@settle/core/testing";
import type { Operation } from "../load";
import type { Intent, ScenarioName } from "../scenarios";
import { partOf, type PaymentTracker } from "./tracker";

/** A debit the clients saw accepted: when its request was created and when its 202 came back. */
export interface ObservedDebit {
  /** The payer's index in the run's accounts; -1 for a refund (its payer is the original's receiver). */
  account: number;
  id: string;
  createdAt: number;
  ackedAt: number;
}

/** `intents` (seeded, so the naive run of this scenario offers the same stream) as the next request to send. */
export function settleOperations(
  intents: () => Intent,
  run: { scenario: ScenarioName; ids: string[]; batchItems: number | undefined; tracker?: PaymentTracker },
): { next: () => Operation; debits: ObservedDebit[] } {
  const { ids, batchItems, scenario, tracker } = run;
  // Every debit the clients saw accepted: when its request was created and when its 202 came
  // back. Acceptance order is what a client can observe: a 202 received before another
  // request was even made. Requests in flight together have no order between them.
  const debits: ObservedDebit[] = [];
  const noteDebit = (account: number, id: string, createdAt: number) => debits.push({ account, id, createdAt, ackedAt: Date.now() });
  const acceptedId = (r: HttpReply) => (r.status === 202 && r.body ? ID_IN_BODY.exec(r.body)?.[1] : undefined);
  // mixed: completed transfers and deposits become the targets of refunds and disputes.
  const watchCompleted = (id: string | undefined) => {
    if (id && tracker?.wants("completed")) tracker.watch(id, "completed");
  };
  const recordDebit = (account: number, createdAt: number, refundable: boolean) => (r: HttpReply) => {
    const id = acceptedId(r);
    if (id) noteDebit(account, id, createdAt);
    if (refundable) watchCompleted(id);
  };
  // An operation on an earlier payment whose target is not ready yet (early in the run) is a
  // transfer of 1.00 instead, between neighbours in the upper half of the accounts (none has an overdraft limit).
  let fallbacks = 0;
  const instead = (): Operation => {
    const from = ids.length - 1 - (fallbacks++ % Math.floor(ids.length / 2));
    return toOp({ type: "transfer", from, to: from - 1, amount: "1.00" });
  };
  // The body of POST /api/v1/payments, and of each item of a batch request.
  const transferBody = (intent: Extract<Intent, { type: "transfer" }>) => ({
    from_account: ids[intent.from],
    to_account: ids[intent.to],
    amount: intent.amount,
  });
  const batchOp = (): Operation => {
    const items = Array.from({ length: batchItems ?? 1 }, () => {
      const intent = intents();
      if (intent.type !== "transfer") throw new Error(`${scenario}: batches carry transfers only`);
      return intent;
    });
    const createdAt = Date.now();
    return {
      kind: "transfer-batch",
      path: "/api/v1/payments/batch",
      body: { payments: items.map(transferBody) },
      items: items.length,
      wantBody: true,
      count: (r) => countBatchReply(r, items.length, (i, id) => noteDebit(items[i]!.from, id, createdAt)),
    };
  };
  const toOp = (intent: Intent): Operation => {
    switch (intent.type) {
      case "transfer":
        return { kind: "transfer", path: "/api/v1/payments", body: transferBody(intent), wantBody: true, onReply: recordDebit(intent.from, Date.now(), true) };
      case "deposit":
        return {
          kind: "deposit",
          path: "/api/v1/deposits",
          body: { account_id: ids[intent.account], amount: intent.amount },
          wantBody: !!tracker?.wants("completed"),
          onReply: (r) => watchCompleted(acceptedId(r)),
        };
      case "withdrawal":
        return {
          kind: "withdrawal",
          path: "/api/v1/withdrawals",
          body: { account_id: ids[intent.account], amount: intent.amount },
          wantBody: true,
          onReply: recordDebit(intent.account, Date.now(), false),
        };
      case "authorize":
        return {
          kind: "authorize",
          path: "/api/v1/payments",
          body: { ...transferBody({ ...intent, type: "transfer" }), capture: false },
          wantBody: !!tracker?.wants("authorized"),
          onReply: (r) => {
            const id = acceptedId(r);
            if (id && tracker?.wants("authorized")) tracker.watch(id, "authorized");
          },
        };
      case "capture": {
        const target = tracker?.authorized.shift();
        if (!target) return instead();
        const amount = partOf(target.cents, intent.percent);
        return {
          kind: amount ? "capture (partial)" : "capture",
          path: `/api/v1/payments/${target.id}/capture`,
          body: amount ? { amount } : {},
          // Once captured it is a completed transfer: refundable and disputable.
          onReply: (r) => {
            if (r.status === 202) watchCompleted(target.id);
          },
        };
      }
      case "void": {
        const target = tracker?.authorized.shift();
        if (!target) return instead();
        return { kind: "void", path: `/api/v1/payments/${target.id}/void`, body: {} };
      }
      case "refund": {
        // A partial refund of a completed payment, or the rest of one partly refunded (else all of a completed one).
        const rest = intent.percent === undefined ? tracker?.partlyRefunded.shift() : undefined;
        const target = rest ?? tracker?.completed.shift();
        if (!target) return instead();
        const amount = rest ? undefined : partOf(target.cents, intent.percent);
        const createdAt = Date.now();
        return {
          kind: amount ? "refund (partial)" : "refund",
          path: `/api/v1/payments/${target.id}/refunds`,
          body: amount ? { amount } : {},
          wantBody: true,
          onReply: (r) => {
            // A refund is a debit of the original's receiver, in that account's order like any other.
            const id = acceptedId(r);
            if (!id) return;
            noteDebit(-1, id, createdAt);
            if (amount && tracker && tracker.partlyRefunded.length < 2000) tracker.partlyRefunded.push(target);
          },
        };
      }
      case "dispute":
      case "resolve":
      case "chargeback": {
        // A dispute of a completed payment; a resolve or chargeback of a dispute already applied.
        const target = intent.type === "dispute" ? tracker?.completed.shift() : tracker?.openDisputes.shift();
        if (!target) return instead();
        return {
          kind: intent.type,
          path: `/api/v1/payments/${target.id}/${intent.type}`,
          body: {},
          onReply: (r) => {
            if (intent.type === "dispute" && r.status === 202) tracker?.watch(target.id, "disputed");
          },
        };
      }
    }
  };
  return { next: batchItems ? batchOp : () => toOp(intents()), debits };
}

const ID_IN_BODY = /"id":"([0-9a-f-]{36})"/;

/**
 * A batch reply item by item, in request order: `{ results: [{ status: 202, payment: { id } } |
 * { status: 4xx, error: { code } }] }`. Each accepted item is reported to `accepted` with its id.
 */
function countBatchReply(reply: HttpReply, items: number, accepted: (index: number, id: string) => void): { ok: number; failures: Record<string, number> } {
  const failures: Record<string, number> = {};
  let results: { status?: number; payment?: { id?: string }; error?: { code?: string } }[];
  try {
    results = (JSON.parse(reply.body ?? "") as { results?: typeof results }).results ?? [];
  } catch {
    return { ok: 0, failures: { [`http ${reply.status}, unreadable batch reply`]: items } };
  }
  let ok = 0;
  for (const [i, r] of results.slice(0, items).entries()) {
    if (r.status === 202 && typeof r.payment?.id === "string") {
      ok++;
      accepted(i, r.payment.id);
    } else {
      const reason = `item http ${r.status ?? "?"}${r.error?.code ? ` ${r.error.code}` : ""}`;
      failures[reason] = (failures[reason] ?? 0) + 1;
    }
  }
  if (results.length < items) failures["item missing from the batch reply"] = items - results.length;
  return { ok, failures };
}
