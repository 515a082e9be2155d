import { Router, type Request, type Response } from "express";
import {
  acceptPayment,
  DomainError,
  findPayment,
  hasPendingDisputeOperation,
  requestDisputeOperation,
  schemas,
  type AcceptDeps,
  type DisputeKind,
  type PaymentRequest,
  type PaymentView,
} from "@settle/core";
import type { ApiDeps } from "../deps";
import { parseOr400 } from "../http/errors";
import { jsonBody } from "../http/json-body";
import { idempotencyOf, uuidParam } from "../http/request";

export function sendAccepted(res: Response, response: { status: number; body: PaymentView; replayed: boolean }): void {
  if (response.replayed) res.setHeader("Idempotent-Replayed", "true");
  res.status(response.status).location(`/api/v1/payments/${response.body.id}`).json(response.body);
}

/** Whether a long poll has anything left to wait for. */
async function settledForGood(deps: ApiDeps, payment: PaymentView): Promise<boolean> {
  return payment.status !== "pending" && !(await hasPendingDisputeOperation(deps.pool, payment.id));
}

export function paymentsRouter(deps: ApiDeps): Router {
  const router = Router();
  const acceptDeps = (req: Request): AcceptDeps => ({
    pool: deps.pool,
    queues: deps.queues,
    partitions: deps.config.partitions,
    logger: req.log ?? deps.logger,
    batcher: deps.batcher,
  });
  const requestId = (req: Request) => (req.id === undefined ? undefined : String(req.id));

  const accept = async (req: Request, res: Response, endpoint: string, request: PaymentRequest) => {
    const response = await acceptPayment(acceptDeps(req), request, { requestId: requestId(req), idempotency: idempotencyOf(req, endpoint) });
    sendAccepted(res, response);
  };

  // POST /payment is the seed's route: the same endpoint (and the same idempotency scope).
  router.post(["/payments", "/payment"], jsonBody, async (req, res) => {
    const body = parseOr400(schemas.TransferRequest, req.body);
    await accept(req, res, "transfer", {
      type: "transfer",
      fromAccount: body.from_account,
      toAccount: body.to_account,
      amount: body.amount,
      description: body.payment_description ?? null,
    });
  });

  router.post("/deposits", jsonBody, async (req, res) => {
    const body = parseOr400(schemas.ExternalMoveRequest, req.body);
    await accept(req, res, "deposit", { type: "deposit", fromAccount: null, toAccount: body.account_id, amount: body.amount, description: body.description ?? null });
  });

  router.post("/withdrawals", jsonBody, async (req, res) => {
    const body = parseOr400(schemas.ExternalMoveRequest, req.body);
    await accept(req, res, "withdrawal", { type: "withdrawal", fromAccount: body.account_id, toAccount: null, amount: body.amount, description: body.description ?? null });
  });

  router.get(["/payments/:id", "/payment/:id"], async (req, res) => {
    const id = uuidParam(req.params.id, "payment");
    const { wait } = parseOr400(schemas.PaymentQuery, req.query);
    let payment = await findPayment(deps.pool, id);
    if (!payment) throw new DomainError("not_found", "payment not found");
    if (wait > 0 && deps.events && !(await settledForGood(deps, payment))) {
      // Subscribe before the re-check, so a settlement between the two cannot be missed.
      const waiter = deps.events.waitFor(id, wait * 1000);
      res.on("close", waiter.cancel);
      try {
        const again = await findPayment(deps.pool, id);
        if (again?.status === payment.status && again.dispute_status === payment.dispute_status) await waiter.done;
        payment = (await findPayment(deps.pool, id)) ?? payment;
      } finally {
        waiter.cancel();
      }
    }
    res.json(payment);
  });

  const disputeRoute = (kind: DisputeKind) =>
    router.post(`/payments/:id/${kind}`, jsonBody, async (req, res) => {
      const id = uuidParam(req.params.id, "payment");
      parseOr400(schemas.EmptyRequest, req.body);
      const payment = await requestDisputeOperation(acceptDeps(req), id, kind, { requestId: requestId(req) });
      res.status(202).location(`/api/v1/payments/${payment.id}`).json(payment);
    });
  disputeRoute("dispute");
  disputeRoute("resolve");
  disputeRoute("chargeback");

  return router;
}
