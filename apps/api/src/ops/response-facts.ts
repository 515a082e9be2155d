import type { RequestHandler, Response } from "express";

/** What the answer to a request said, for its log line and its metrics. */
export interface ResponseFacts {
  /** The contract error code of an error answer. */
  errorCode?: string;
  /** The payment an answer was about (accepted, polled, disputed). */
  paymentId?: string;
  /** The items of a batch answer: each accepted payment's type, or the refused item's code. */
  batch?: { type?: string; status: number; code?: string; replayed?: boolean }[];
}

interface BatchResultBody {
  status: number;
  payment?: { type?: string };
  error?: { code?: string };
  replayed?: boolean;
}

const FACTS = Symbol("settle.responseFacts");

/**
 * Notes the error code or the payment id of each JSON answer on its way out. The request's log
 * line then names the payment: a request id leads to the payment id, and the payment id to the
 * worker's settlement line, even when the worker settled it in a batch kicked by another request.
 */
export const recordResponseFacts: RequestHandler = (_req, res, next) => {
  const facts: ResponseFacts = {};
  (res as unknown as Record<symbol, ResponseFacts>)[FACTS] = facts;
  const json = res.json.bind(res);
  res.json = (body: unknown) => {
    const b = body as { error?: { code?: unknown }; id?: unknown; type?: unknown; dispute_status?: unknown; results?: unknown } | null;
    if (typeof b?.error?.code === "string") facts.errorCode = b.error.code;
    else if (Array.isArray(b?.results)) {
      facts.batch = (b.results as BatchResultBody[]).map((r) => ({ type: r.payment?.type, status: r.status, code: r.error?.code, replayed: r.replayed }));
    } else if (typeof b?.id === "string" && typeof b.type === "string" && typeof b.dispute_status === "string") facts.paymentId = b.id;
    return json(body);
  };
  next();
};

export function responseFacts(res: Response): ResponseFacts {
  return (res as unknown as Record<symbol, ResponseFacts | undefined>)[FACTS] ?? {};
}

/** Extra fields of the request's log line. */
export function logFacts(res: Response): Record<string, string> {
  const { paymentId } = responseFacts(res);
  return paymentId ? { paymentId } : {};
}
