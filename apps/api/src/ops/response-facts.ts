import type { Express, Response } from "express";

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
 * Notes the error code or the payment id of each JSON answer of `app` on its way out. The request's
 * log line then names the payment: a request id leads to the payment id, and the payment id to the
 * worker's settlement line, even when the worker settled it in a batch kicked by another request.
 * Installed once on the app's response prototype, so no request pays for a closure of its own.
 */
export function recordResponseFacts(app: Express): void {
  const json = app.response.json;
  app.response.json = function (this: Response, body: unknown) {
    const b = body as { error?: { code?: unknown }; id?: unknown; type?: unknown; dispute_status?: unknown; results?: unknown } | null;
    const facts: ResponseFacts = {};
    if (typeof b?.error?.code === "string") facts.errorCode = b.error.code;
    else if (Array.isArray(b?.results)) {
      facts.batch = (b.results as BatchResultBody[]).map((r) => ({ type: r.payment?.type, status: r.status, code: r.error?.code, replayed: r.replayed }));
    } else if (typeof b?.id === "string" && typeof b.type === "string" && typeof b.dispute_status === "string") facts.paymentId = b.id;
    (this as unknown as Record<symbol, ResponseFacts>)[FACTS] = facts;
    return json.call(this, body);
  };
}

export function responseFacts(res: Response): ResponseFacts {
  return (res as unknown as Record<symbol, ResponseFacts | undefined>)[FACTS] ?? {};
}

/** Extra fields of the request's log line. */
export function logFacts(res: Response): Record<string, string> {
  const { paymentId } = responseFacts(res);
  return paymentId ? { paymentId } : {};
}
