import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { ApiDeps } from "../deps";
import { DomainError } from "@settle/core";
import { errorHandler, notFound } from "../http/errors";
import type { ApiMetrics } from "../ops/metrics";
import type { RouteSpec } from "../ops/openapi-routes";
import { routerFor } from "./router";

// The route table's entries alone decide what Express serves and with which middleware.
const ctx = { deps: {} as ApiDeps, metrics: {} as ApiMetrics };
const route = (extra: Partial<RouteSpec>): RouteSpec => ({
  method: "post",
  path: "/api/v1/things/:id",
  operationId: "thing",
  summary: "a thing",
  tag: "payments",
  responses: {},
  handler: (req, res) => {
    res.json({ id: req.params.id, body: req.body ?? null, role: res.locals.role ?? null });
  },
  ...extra,
});

let server: Server;
let url: string;
beforeAll(async () => {
  const app = express();
  app.use((req, res, next) => {
    res.locals.role = req.get("x-role");
    next();
  });
  app.use(
    "/api/v1",
    routerFor(
      [
        route({ body: {} as RouteSpec["body"], bodyLimitBytes: 64 }),
        route({ path: "/api/v1/admin/:id", role: "admin", body: {} as RouteSpec["body"] }),
        route({ method: "get", path: "/api/v1/things/:id" }),
        route({
          method: "get",
          path: "/api/v1/fails/:how",
          handler: (req) => {
            const error = new DomainError("invalid_state", "refused");
            if (req.params.how === "sync") throw error;
            return Promise.reject(error);
          },
        }),
      ],
      ctx,
      "/api/v1",
    ),
  );
  app.use(notFound);
  app.use(errorHandler);
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const call = async (method: string, path: string, body?: string, role = "client") => {
  const res = await fetch(`${url}${path}`, { method, body, headers: { "content-type": "application/json", "x-role": role } });
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
};

it("serves each entry at its path under the mount, with its handler", async () => {
  expect(await call("GET", "/api/v1/things/7")).toEqual({ status: 200, body: { id: "7", body: null, role: "client" } });
  expect(await call("POST", "/api/v1/things/7", '{"a":1}')).toEqual({ status: 200, body: { id: "7", body: { a: 1 }, role: "client" } });
});

it("parses a body at the entry's limit, and checks the entry's role", async () => {
  expect((await call("POST", "/api/v1/things/7", JSON.stringify({ a: "x".repeat(100) }))).body.error?.code).toBe("payload_too_large");
  expect((await call("POST", "/api/v1/admin/7", "{}")).body.error?.code).toBe("forbidden");
  expect((await call("POST", "/api/v1/admin/7", "{}", "admin")).status).toBe(200);
});

it("refuses an entry outside its mount", () => {
  expect(() => routerFor([route({ path: "/healthz" })], ctx, "/api/v1")).toThrow(/not under \/api\/v1/);
});

it("answers OPTIONS with the methods served at a path, and passes on a path it does not serve", async () => {
  const options = await fetch(`${url}/api/v1/things/7`, { method: "OPTIONS" });
  expect({ status: options.status, allow: options.headers.get("allow"), body: await options.text() }).toEqual({
    status: 200,
    allow: "GET, HEAD, POST",
    body: "GET, HEAD, POST",
  });
  const unknown = await fetch(`${url}/api/v1/nothing`, { method: "OPTIONS" });
  expect(unknown.status).toBe(404);
  expect((await call("GET", "/api/v1/nothing")).status).toBe(404);
});

it("hands an error a handler throws or rejects to the app's error handler", async () => {
  expect((await call("GET", "/api/v1/fails/sync")).body.error?.code).toBe("invalid_state");
  expect((await call("GET", "/api/v1/fails/async")).body.error?.code).toBe("invalid_state");
});
