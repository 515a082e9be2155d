// Two ways to the API under test. `settle` is the typed client users have (@settle/client): the
// helpers below and tests of ordinary use go through it. `get`/`post`/`call` send exactly what
// they are given and return status, headers and parsed body, for the tests whose point is a
// request no typed client would send (malformed bodies, unknown fields, wrong methods).
import { createSettleClient } from "@settle/client";

export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export function client(baseUrl: string, defaults: Record<string, string> = {}) {
  const call = async <T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult<T>> => {
    const init: RequestInit = { method, headers: { ...defaults, ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] ??= "application/json";
    }
    const res = await fetch(`${baseUrl}${path}`, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  };
  const bearer = /^Bearer (.+)$/.exec(defaults.authorization ?? defaults.Authorization ?? "")?.[1];
  return {
    get: <T = any>(path: string, headers?: Record<string, string>) => call<T>("GET", path, undefined, headers),
    post: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>("POST", path, body, headers),
    call,
    settle: createSettleClient({ baseUrl, ...(bearer ? { apiKey: bearer } : {}) }),
  };
}

export type ApiClient = ReturnType<typeof client>;

/** Creates an account and returns its id. */
export async function newAccount(api: ApiClient, currency = "USD"): Promise<string> {
  return (await api.settle.createAccount({ currency })).account.id;
}

/** Creates an account holding `amount` (a completed deposit) and returns its id. */
export async function fundedAccount(api: ApiClient, amount: string): Promise<string> {
  const id = await newAccount(api);
  const { payment } = await api.settle.createDeposit({ account_id: id, amount });
  const deposit = await settled(api, payment.id);
  if (deposit.status !== "completed") throw new Error(`the funding deposit of ${id} is ${deposit.status}`);
  return id;
}

/** Polls a payment until it leaves `pending`. */
export async function settled(api: ApiClient, paymentId: string, timeoutMs = 15_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const payment = await api.settle.getPayment(paymentId);
    if (payment.status !== "pending") return payment;
    if (Date.now() > deadline) throw new Error(`payment ${paymentId} still pending after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
