// The operation stream of a Settle run: the scenario's seeded intents as requests, and every
// debit the clients saw accepted (for the per-account order check).
import type { HttpReply } from "../http-client";
import type { Operation } from "../load";
import type { Intent, ScenarioName } from "../scenarios";

/** A debit the clients saw accepted: when its request was created and when its 202 came back. */
export interface ObservedDebit {
  account: number;
  id: string;
  createdAt: number;
  ackedAt: number;
}

/** `intents` (seeded, so the naive run of this scenario offers the same stream) as the next request to send. */
export function settleOperations(
  intents: () => Intent,
  run: { scenario: ScenarioName; ids: string[]; disputes: boolean; batchItems: number | undefined },
): { next: () => Operation; debits: ObservedDebit[] } {
  const { ids, disputes, batchItems, scenario } = run;
  const transfers: { id: string; at: number }[] = [];
  const disputed: { id: string; at: number }[] = [];
  // Every debit the clients saw accepted: when its request was created and when its 202 came
  // back. Acceptance order is what a client can observe: a 202 received before another
  // request was even made. Requests in flight together have no order between them.
  const debits: ObservedDebit[] = [];
  const noteDebit = (account: number, id: string, createdAt: number) => {
    debits.push({ account, id, createdAt, ackedAt: Date.now() });
    if (disputes && transfers.length < 20_000) transfers.push({ id, at: Date.now() });
  };
  const recordDebit = (account: number, createdAt: number) => (r: HttpReply) => {
    const id = r.status === 202 && r.body ? ID_IN_BODY.exec(r.body)?.[1] : undefined;
    if (id) noteDebit(account, id, createdAt);
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
        return { kind: "transfer", path: "/api/v1/payments", body: transferBody(intent), wantBody: true, onReply: recordDebit(intent.from, Date.now()) };
      case "deposit":
        return { kind: "deposit", path: "/api/v1/deposits", body: { account_id: ids[intent.account], amount: intent.amount } };
      case "withdrawal":
        return {
          kind: "withdrawal",
          path: "/api/v1/withdrawals",
          body: { account_id: ids[intent.account], amount: intent.amount },
          wantBody: true,
          onReply: recordDebit(intent.account, Date.now()),
        };
      case "dispute":
      case "resolve":
      case "chargeback": {
        // Only payments accepted a while ago are likely settled; a 409 invalid_state is an expected answer.
        const source = intent.type === "dispute" ? transfers : disputed;
        const target = source[0] && Date.now() - source[0].at > 1000 ? source.shift()! : undefined;
        if (!target) return toOp({ type: "transfer", from: 0, to: 1, amount: "1.00" });
        return {
          kind: intent.type,
          path: `/api/v1/payments/${target.id}/${intent.type}`,
          body: {},
          expected: (s) => s === 202 || s === 409,
          onReply: (r) => {
            if (intent.type === "dispute" && r.status === 202) disputed.push({ id: target.id, at: Date.now() });
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
