// A small JSON client for the API under test: status, headers and parsed body of every call.
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
  return {
    get: <T = any>(path: string, headers?: Record<string, string>) => call<T>("GET", path, undefined, headers),
    post: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>("POST", path, body, headers),
    call,
  };
}

export type ApiClient = ReturnType<typeof client>;

/** Creates an account and returns its id. */
export async function newAccount(api: ApiClient, currency = "USD"): Promise<string> {
  const res = await api.post("/api/v1/accounts", { currency });
  if (res.status !== 201) throw new Error(`create account: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

/** Polls a payment until it leaves `pending`. */
export async function settled(api: ApiClient, paymentId: string, timeoutMs = 15_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api.get(`/api/v1/payments/${paymentId}`);
    if (res.status === 200 && res.body.status !== "pending") return res.body;
    if (Date.now() > deadline) throw new Error(`payment ${paymentId} still pending after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
