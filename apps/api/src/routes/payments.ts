import type { Request, Response } from "express";
import {
  acceptPayment,
  acceptPaymentBatch,
  DomainError,
  hashRequest,
  findPayment,
  hasPendingOperation,
  listPayments,
  requestAuthorizationOperation,
  requestDisputeOperation,
  requestRefund,
  schemas,
  type AcceptDeps,
  type BatchItem,
  type BatchItemResult,
  type DisputeKind,
  type IdempotencyKey,
  type IdempotentResult,
  type PaymentRequest,
  type PaymentView,
} from "@settle/core";
import type { ApiDeps } from "../deps";
import { errorBody, errorStatus, parseOr400 } from "../http/errors";
import { idempotencyOf, idempotencyScope, uuidParam } from "../http/request";
import type { RouteHandler } from "./router";

// The handlers of the payment routes; their routes (paths, roles, body limits) are in the route
// table (ops/openapi-routes.ts), which builds the router.

/** A batch item parsed like the body of its single endpoint; a bad item becomes its own 400. */
function batchItem(req: Request, raw: unknown): BatchItem {
  const type = raw && typeof raw === "object" && "type" in raw ? raw.type : undefined;
  try {
    if (type === "deposit" || type === "withdrawal") {
      const item = parseOr400(schemas.BatchExternalMoveItem, raw);
      const { idempotency_key, type: _type, ...body } = item;
      const request: PaymentRequest =
        type === "deposit"
          ? { type, fromAccount: null, toAccount: item.account_id, amount: item.amount, description: item.description ?? null }
          : { type, fromAccount: item.account_id, toAccount: null, amount: item.amount, description: item.description ?? null };
      return { request, idempotency: keyOf(req, type, idempotency_key, body) };
    }
    if (type !== undefined && type !== "transfer") {
      throw new DomainError("invalid_request", "type: must be transfer, deposit or withdrawal", [
        { path: "type", message: "must be transfer, deposit or withdrawal" },
      ]);
    }
    const item = parseOr400(schemas.BatchTransferItem, raw);
    const { idempotency_key, type: _type, ...body } = item;
    const request: PaymentRequest = {
      type: "transfer",
      fromAccount: item.from_account,
      toAccount: item.to_account,
      amount: item.amount,
      description: item.payment_description ?? null,
      capture: item.capture ?? true,
      expiresInSeconds: item.expires_in_seconds ?? null,
    };
    return { request, idempotency: keyOf(req, "transfer", idempotency_key, body) };
  } catch (error) {
    if (error instanceof DomainError) return { refused: error };
    throw error;
  }
}

// Hashed without `type` and `idempotency_key`, the item is the body a single POST would send, and
// its type is the endpoint, so a key first used on the single endpoint replays here and the other
// way round.
function keyOf(req: Request, endpoint: string, key: string | undefined, body: object): IdempotencyKey | undefined {
  return key === undefined ? undefined : { scope: idempotencyScope(req), endpoint, key, requestHash: hashRequest(body) };
}

function batchResultBody(result: BatchItemResult) {
  if ("refused" in result) return { status: errorStatus(result.refused), ...errorBody(result.refused) };
  return { status: 202, payment: result.accepted, ...(result.replayed ? { replayed: true } : {}) };
}

/** 202 with the payment as accepted (a replay: as first accepted), and where to poll it. */
function sendAccepted(res: Response, response: IdempotentResult<PaymentView>): void {
  if (response.replayed) res.setHeader("Idempotent-Replayed", "true");
  res.status(202).location(`/api/v1/payments/${response.body.id}`).json(response.body);
}

/** Whether a long poll has anything left to wait for: the payment is settled and no operation of it is queued. */
async function settledForGood(deps: ApiDeps, payment: PaymentView): Promise<boolean> {
  return payment.status !== "pending" && !(await hasPendingOperation(deps.pool, payment.id));
}

function acceptDeps(deps: ApiDeps): AcceptDeps {
  return { pool: deps.pool, waker: deps.waker, partitions: deps.config.partitions, batcher: deps.batcher };
}

const requestId = (req: Request) => (req.id === undefined ? undefined : String(req.id));

async function accept(deps: ApiDeps, req: Request, res: Response, endpoint: string, request: PaymentRequest): Promise<void> {
  const response = await acceptPayment(acceptDeps(deps), request, { requestId: requestId(req), idempotency: idempotencyOf(req, endpoint) });
  sendAccepted(res, response);
}

/** POST /payments, and POST /payment, the seed's route: the same endpoint (a key replays across the two). */
export const transfer: RouteHandler = async (req, res, { deps }) => {
  const body = parseOr400(schemas.TransferRequest, req.body);
  await accept(deps, req, res, "transfer", {
    type: "transfer",
    fromAccount: body.from_account,
    toAccount: body.to_account,
    amount: body.amount,
    description: body.payment_description ?? null,
    capture: body.capture ?? true,
    expiresInSeconds: body.expires_in_seconds ?? null,
  });
};

/** Up to 1,000 payments; its own body limit is in the route table. */
export const batch: RouteHandler = async (req, res, { deps }) => {
  if (req.get("idempotency-key") !== undefined) {
    throw new DomainError("invalid_request", "Idempotency-Key: a batch takes a key per item (idempotency_key), not the header", [
      { path: "Idempotency-Key", message: "use each item's idempotency_key" },
    ]);
  }
  const { payments } = parseOr400(schemas.BatchRequest, req.body);
  const items = payments.map((raw) => batchItem(req, raw));
  const results = await acceptPaymentBatch(acceptDeps(deps), items, { requestId: requestId(req) });
  res.status(202).json({ results: results.map(batchResultBody) });
};

export const deposit: RouteHandler = async (req, res, { deps }) => {
  const body = parseOr400(schemas.ExternalMoveRequest, req.body);
  await accept(deps, req, res, "deposit", {
    type: "deposit",
    fromAccount: null,
    toAccount: body.account_id,
    amount: body.amount,
    description: body.description ?? null,
  });
};

export const withdrawal: RouteHandler = async (req, res, { deps }) => {
  const body = parseOr400(schemas.ExternalMoveRequest, req.body);
  await accept(deps, req, res, "withdrawal", {
    type: "withdrawal",
    fromAccount: body.account_id,
    toAccount: null,
    amount: body.amount,
    description: body.description ?? null,
  });
};

export const list: RouteHandler = async (req, res, { deps }) => {
  const q = parseOr400(schemas.PaymentsListQuery, req.query, "(query)");
  const payments = await listPayments(
    deps.pool,
    { accountId: q.account_id, status: q.status, type: q.type, createdFrom: q.created_from, createdTo: q.created_to, after: q.after },
    q.limit,
  );
  res.json({ payments, next_after: payments.length === q.limit ? payments[payments.length - 1]!.id : null });
};

/** GET /payments/:id (and the seed's /payment/:id), with the long poll. */
export const get: RouteHandler = async (req, res, { deps }) => {
  const id = uuidParam(req.params.id, "payment");
  const { wait } = parseOr400(schemas.PaymentQuery, req.query, "(query)");
  let payment = await findPayment(deps.pool, id);
  if (!payment) throw new DomainError("not_found", "payment not found");
  if (wait > 0 && deps.events && !(await settledForGood(deps, payment))) {
    // Each waiter holds a socket and a little memory: bounded per process.
    if (deps.events.waiting >= deps.config.longPollMax) {
      res.setHeader("Retry-After", "1");
      throw new DomainError("rate_limited", `more than ${deps.config.longPollMax} long polls are waiting in this process; poll again without wait, or later`);
    }
    // Subscribe before the re-check, so a settlement between the two cannot be missed.
    const waiter = deps.events.waitFor(id, wait * 1000);
    res.on("close", waiter.cancel);
    try {
      const again = await findPayment(deps.pool, id);
      if (again && !(await settledForGood(deps, again))) await waiter.done;
      payment = (await findPayment(deps.pool, id)) ?? payment;
    } finally {
      waiter.cancel();
    }
  }
  res.json(payment);
};

/** Dispute, resolve or charge back (admin only). */
export const disputeOperation =
  (kind: DisputeKind): RouteHandler =>
  async (req, res, { deps }) => {
    const id = uuidParam(req.params.id, "payment");
    parseOr400(schemas.EmptyRequest, req.body);
    const { payment, operation } = await requestDisputeOperation(acceptDeps(deps), id, kind);
    // The payment as it stands, and what was accepted: the operation, applied later (poll the
    // payment with ?wait=, which answers once no operation of it is queued).
    res
      .status(202)
      .location(`/api/v1/payments/${payment.id}`)
      .json({ ...payment, operation });
  };

/** POST /payments/:id/refunds: a refund, a payment of its own (docs/API.md "Refunds"). */
export const refund: RouteHandler = async (req, res, { deps }) => {
  const id = uuidParam(req.params.id, "payment");
  const body = parseOr400(schemas.RefundRequest, req.body ?? {});
  const response = await requestRefund(
    acceptDeps(deps),
    id,
    { amount: body.amount, reason: body.reason ?? null },
    // The key's endpoint names the refunded payment: the same key on a refund of another payment is a conflict.
    { requestId: requestId(req), idempotency: idempotencyOf(req, `refund:${id}`) },
  );
  sendAccepted(res, response);
};

/** Capture or void an authorization (docs/API.md "Authorize, then capture or void"). */
export const authorizationOperation =
  (kind: "capture" | "void"): RouteHandler =>
  async (req, res, { deps }) => {
    const id = uuidParam(req.params.id, "payment");
    const amount = kind === "capture" ? parseOr400(schemas.CaptureRequest, req.body ?? {}).amount : (parseOr400(schemas.EmptyRequest, req.body), undefined);
    // The key's endpoint names the payment: the same key on a capture of another one is a conflict.
    const response = await requestAuthorizationOperation(acceptDeps(deps), id, kind, amount, idempotencyOf(req, `${kind}:${id}`));
    if (response.replayed) res.setHeader("Idempotent-Replayed", "true");
    res
      .status(202)
      .location(`/api/v1/payments/${id}`)
      .json({ ...response.body.payment, operation: response.body.operation });
  };
