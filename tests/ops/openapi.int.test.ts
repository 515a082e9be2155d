import { createApp } from "../../apps/api/src/app";
import { openApiPath } from "../../apps/api/src/ops/openapi";
import { findRoute, ROUTES, UNDOCUMENTED_PREFIXES } from "../../apps/api/src/ops/openapi-routes";
import { AccountResponse, EntriesResponse, PaymentResponse } from "../../apps/api/src/ops/openapi-schemas";
import { listServedRoutes } from "../../apps/api/src/ops/route-inventory";
import { client, newAccount, settled, type ApiClient } from "../support/http";
import { startInProcess, type InProcessSystem } from "../support/in-process";

let system: InProcessSystem;
let api: ApiClient;
let document: any;

const undocumented = (path: string) => UNDOCUMENTED_PREFIXES.some((u) => path === u.prefix || path.startsWith(`${u.prefix}/`));

beforeAll(async () => {
  // With admin credentials, so that the dashboard is mounted too and the walk must skip it.
  system = await startInProcess("openapi", { workers: 1, apiEnv: { ADMIN_USER: "ops", ADMIN_PASSWORD: "correct-horse-battery" } });
  api = client(system.api.url);
  const res = await api.get("/api/v1/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  document = res.body;
});
afterAll(() => system.stop());

it("is an OpenAPI 3.1 document", () => {
  expect(document.openapi).toBe("3.1.0");
  expect(document.info.title).toBe("Settle");
  expect(Object.keys(document.paths).length).toBeGreaterThan(5);
});

it("declares every path parameter, and names each operation once", () => {
  const ids: string[] = [];
  for (const [path, ops] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
    const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const op of Object.values(ops)) {
      ids.push(op.operationId);
      const declared = (op.parameters ?? []).filter((p: any) => p.in === "path");
      expect({ path, params: declared.map((p: any) => p.name).sort() }).toEqual({ path, params: inPath });
      for (const p of declared) expect(p.required).toBe(true);
      expect(Object.keys(op.responses).length).toBeGreaterThan(0);
    }
  }
  expect(new Set(ids).size).toBe(ids.length);
});

// Express's routers are built from the route table, so this fails only when a route is added
// outside it (a router of its own, like the dashboard's) or a table route is not mounted.
it("documents every route the app serves, and serves every route it documents", () => {
  const served = listServedRoutes(createApp(system.api.deps), undocumented)
    .filter((r) => !undocumented(r.path))
    .map((r) => `${r.method.toUpperCase()} ${openApiPath(r.path)}`);
  const documented = Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
  );
  // Sanity: the walk found the API's routes at all (a walk that finds nothing would pass below).
  expect(served).toEqual(expect.arrayContaining(["POST /api/v1/payments", "GET /api/v1/accounts/{id}/entries", "GET /healthz"]));
  expect(served.filter((r) => !documented.includes(r))).toEqual([]);
  expect(documented.filter((r) => !served.includes(r))).toEqual([]);
});

it("has examples that validate against the schemas the API uses", () => {
  let checked = 0;
  for (const [path, ops] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(ops)) {
      const route = ROUTES.find((r) => r.method === method && openApiPath(r.path) === path)!;
      expect(route).toBeDefined();
      const media = op.requestBody?.content?.["application/json"];
      const bodyExamples = [
        ...(media?.example !== undefined ? [media.example] : []),
        ...Object.values((media?.examples ?? {}) as Record<string, { value: unknown }>).map((e) => e.value),
      ];
      if (route.body) {
        expect({ operation: op.operationId, examples: bodyExamples.length > 0 }).toEqual({ operation: op.operationId, examples: true });
        for (const example of bodyExamples) {
          const parsed = route.body.safeParse(example);
          expect({ operation: op.operationId, issues: parsed.error?.issues ?? [] }).toEqual({ operation: op.operationId, issues: [] });
          checked++;
        }
      }
      for (const [status, response] of Object.entries(op.responses as Record<string, any>)) {
        const schema = route.responses[Number(status)]?.schema;
        for (const media of Object.values((response.content ?? {}) as Record<string, { example?: unknown }>)) {
          expect({ operation: op.operationId, status, hasExample: media.example !== undefined }).toEqual({
            operation: op.operationId,
            status,
            hasExample: true,
          });
          const parsed = schema!.safeParse(media.example);
          expect({ operation: op.operationId, status, issues: parsed.error?.issues ?? [] }).toEqual({ operation: op.operationId, status, issues: [] });
          checked++;
        }
      }
    }
  }
  expect(checked).toBeGreaterThan(30);
});

it("names what a 404 is about: the account, payment or webhook endpoint of the route's path", () => {
  for (const route of ROUTES.filter((r) => r.responses[404])) {
    const message = (route.responses[404]!.example as { error: { message: string } }).error.message;
    const expected = route.path.startsWith("/api/v1/accounts/")
      ? "account not found"
      : route.path.startsWith("/api/v1/webhook-endpoints/")
        ? "webhook endpoint not found"
        : "payment not found";
    expect({ route: route.path, message }).toEqual({ route: route.path, message: expected });
  }
});

it("works when its examples are tried in order: the accounts they name are created by the create-account examples", () => {
  const created = Object.values(
    document.paths["/api/v1/accounts"].post.requestBody.content["application/json"].examples as Record<string, { value: { id?: string } }>,
  )
    .map((e) => e.value.id)
    .filter(Boolean);
  const transfer = document.paths["/api/v1/payments"].post.requestBody.content["application/json"].example;
  const deposit = document.paths["/api/v1/deposits"].post.requestBody.content["application/json"].example;
  expect(created).toEqual(expect.arrayContaining([transfer.from_account, transfer.to_account, deposit.account_id]));
  // No dialect Swagger UI cannot show (it would put a red warning at the top of /docs).
  expect(document.jsonSchemaDialect).toBeUndefined();
});

it("describes money as strings with a pattern, never as numbers", () => {
  const transfer = document.paths["/api/v1/payments"].post.requestBody.content["application/json"].schema;
  expect(transfer.properties.amount).toMatchObject({ type: "string", pattern: expect.any(String) });
  expect(transfer.required).toEqual(expect.arrayContaining(["from_account", "to_account", "amount"]));
  expect(transfer.additionalProperties).toBe(false);
  expect(document.components.schemas.Payment.properties.amount.type).toBe("string");
  const refs = JSON.stringify(document).match(/"\$ref":"[^"]+"/g) ?? [];
  for (const ref of refs) expect(document.components.schemas[ref.replace(/^"\$ref":"#\/components\/schemas\//, "").replace(/"$/, "")]).toBeDefined();
});

it("matches what the API really answers", async () => {
  const account = await newAccount(api);
  const got = await api.get(`/api/v1/accounts/${account}`);
  expect(AccountResponse.safeParse(got.body).error?.issues ?? []).toEqual([]);
  const deposit = await api.post("/api/v1/deposits", { account_id: account, amount: "12.50" });
  expect(deposit.status).toBe(202);
  expect(PaymentResponse.safeParse(deposit.body).error?.issues ?? []).toEqual([]);
  expect(PaymentResponse.safeParse(await settled(api, deposit.body.id)).error?.issues ?? []).toEqual([]);
  const entries = await api.get(`/api/v1/accounts/${account}/entries`);
  expect(EntriesResponse.safeParse(entries.body).error?.issues ?? []).toEqual([]);
  expect(findRoute("GET", `/api/v1/accounts/${account}/entries`)?.operationId).toBe("listEntries");
});

it("serves Swagger UI at /docs from local files, pointed at the document", async () => {
  const index = await fetch(`${system.api.url}/docs/`);
  expect(index.status).toBe(200);
  expect(await index.text()).toContain("swagger-ui-bundle.js");
  const init = await fetch(`${system.api.url}/docs/swagger-initializer.js`);
  expect(await init.text()).toContain('url: "/api/v1/openapi.json"');
  const bundle = await fetch(`${system.api.url}/docs/swagger-ui-bundle.js`);
  expect(bundle.status).toBe(200);
  await bundle.arrayBuffer();
});
