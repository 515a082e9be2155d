import { Router, type Request, type Response } from "express";
import { acceptPayment, DomainError, findPayment, schemas, type PaymentRequest, type PaymentView } from "@settle/core";
import type { ApiDeps } from "../deps";
import { parseOr400 } from "../http/errors";
import { jsonBody } from "../http/json-body";
import { uuidParam } from "./accounts";

export function paymentsRouter(deps: ApiDeps): Router {
  const router = Router();
  const accept = async (req: Request, res: Response, request: PaymentRequest) => {
    const payment = await acceptPayment(
      { pool: deps.pool, queues: deps.queues, partitions: deps.config.partitions, logger: req.log ?? deps.logger },
      request,
      { requestId: String(req.id ?? "") || undefined },
    );
    sendAccepted(res, payment);
  };

  const transfer = async (req: Request, res: Response) => {
    const body = parseOr400(schemas.TransferRequest, req.body);
    await accept(req, res, {
      type: "transfer",
      fromAccount: body.from_account,
      toAccount: body.to_account,
      amount: body.amount,
      description: body.payment_description ?? null,
    });
  };
  // POST /payment is the seed's route: the same endpoint.
  router.post(["/payments", "/payment"], jsonBody, transfer);

  router.post("/deposits", jsonBody, async (req, res) => {
    const body = parseOr400(schemas.ExternalMoveRequest, req.body);
    await accept(req, res, { type: "deposit", fromAccount: null, toAccount: body.account_id, amount: body.amount, description: body.description ?? null });
  });

  router.post("/withdrawals", jsonBody, async (req, res) => {
    const body = parseOr400(schemas.ExternalMoveRequest, req.body);
    await accept(req, res, { type: "withdrawal", fromAccount: body.account_id, toAccount: null, amount: body.amount, description: body.description ?? null });
  });

  router.get(["/payments/:id", "/payment/:id"], async (req, res) => {
    const id = uuidParam(req.params.id, "payment");
    parseOr400(schemas.PaymentQuery, req.query);
    const payment = await findPayment(deps.pool, id);
    if (!payment) throw new DomainError("not_found", "payment not found");
    res.json(payment);
  });

  return router;
}

export function sendAccepted(res: Response, payment: PaymentView): void {
  res.status(202).location(`/api/v1/payments/${payment.id}`).json(payment);
}
