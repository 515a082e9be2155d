import path from "node:path";
import express, { Router } from "express";
import { z } from "zod";
import { AMOUNT_PATTERN, schemas } from "@settle/core";
import type { RouteSpec } from "./openapi-routes";

type JsonSchema = Record<string, unknown>;

// The request schemas refine plain strings; these say in the document what the refinements check.
const REFINED: [z.ZodType, JsonSchema][] = [
  [schemas.Uuid, { format: "uuid", description: "A UUID in canonical form" }],
  [
    schemas.Amount,
    { pattern: AMOUNT_PATTERN.source, description: "A decimal string greater than 0, at most 2 fraction digits; never a JSON number", example: "99.01" },
  ],
  [schemas.Currency, { pattern: schemas.CURRENCY_PATTERN.source, description: "ISO 4217 currency code", example: "USD" }],
];

/** Converts a zod schema; named sub-schemas (`.meta({ id })`) go to `components` and are referenced. */
function toJsonSchema(schema: z.ZodType, io: "input" | "output", components: Record<string, JsonSchema>): JsonSchema {
  const json = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
    override: (ctx) => {
      const extra = REFINED.find(([zod]) => (zod as unknown) === ctx.zodSchema)?.[1];
      if (extra) Object.assign(ctx.jsonSchema, extra);
    },
  }) as JsonSchema;
  delete json.$schema;
  const defs = (json.$defs ?? {}) as Record<string, JsonSchema>;
  delete json.$defs;
  for (const [id, def] of Object.entries(defs)) components[id] = rewriteRefs(def) as JsonSchema;
  return rewriteRefs(json) as JsonSchema;
}

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, k === "$ref" && typeof v === "string" ? v.replace(/^#\/\$defs\//, "#/components/schemas/") : rewriteRefs(v)]),
  );
}

function parameters(route: RouteSpec, components: Record<string, JsonSchema>): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const header of route.headers ?? []) {
    out.push({ name: header.name, in: "header", required: false, description: header.description, schema: toJsonSchema(header.schema, "input", components) });
  }
  for (const [where, object] of [
    ["path", route.params],
    ["query", route.query],
  ] as const) {
    if (!object) continue;
    const converted = toJsonSchema(object, "input", components) as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(converted.properties ?? {})) {
      out.push({ name, in: where, required: where === "path" || (converted.required ?? []).includes(name), schema });
    }
  }
  return out;
}

function operation(route: RouteSpec, components: Record<string, JsonSchema>): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, spec] of Object.entries(route.responses)) {
    const mediaType = spec.contentType ?? "application/json";
    responses[status] = {
      description: spec.description,
      ...(spec.headers
        ? { headers: Object.fromEntries(Object.entries(spec.headers).map(([h, d]) => [h, { description: d.description, schema: { type: "string" } }])) }
        : {}),
      ...(spec.schema
        ? {
            content: {
              [mediaType]: { schema: toJsonSchema(spec.schema, "output", components), ...(spec.example !== undefined ? { example: spec.example } : {}) },
            },
          }
        : {}),
    };
  }
  const params = parameters(route, components);
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    // `{}` too: without API_KEYS the API is open.
    ...(route.guarded ? { security: [{ apiKey: [] }, {}] } : {}),
    ...(params.length ? { parameters: params } : {}),
    ...(route.body
      ? {
          requestBody: {
            required: !route.bodyOptional,
            content: {
              "application/json": {
                schema: toJsonSchema(route.body, "input", components),
                ...(route.bodyExample !== undefined ? { example: route.bodyExample } : {}),
                ...(route.bodyExamples ? { examples: route.bodyExamples } : {}),
              },
            },
          },
        }
      : {}),
    responses,
  };
}

/** `/api/v1/accounts/:id` → `/api/v1/accounts/{id}` */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

/**
 * The OpenAPI 3.1 document of the API, generated from the route table (`ROUTES`) and its zod
 * schemas. The table is passed in, not imported: it serves this document, so imports the other way.
 */
export function buildOpenApiDocument(routes: readonly RouteSpec[]): JsonSchema {
  const components: Record<string, JsonSchema> = {};
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const p = openApiPath(route.path);
    paths[p] = { ...paths[p], [route.method]: operation(route, components) };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Settle",
      version: "1",
      description: "Queue-backed asynchronous payment processor. Money is a decimal string with at most 2 fraction digits, never a JSON number.",
    },
    tags: [
      { name: "accounts", description: "Accounts, their journals and balances at a moment, overdraft limits, freezes" },
      { name: "payments", description: "Transfers, deposits, withdrawals, refunds, authorizations and disputes: accepted at once, settled by the workers" },
      { name: "events", description: "What changed, as a feed and as signed webhooks" },
      { name: "operations", description: "Health, readiness, metrics, this document" },
    ],
    paths,
    components: {
      schemas: components,
      securitySchemes: { apiKey: { type: "http", scheme: "bearer", description: "One of the API's keys (API_KEYS); not required when API_KEYS is unset" } },
    },
  };
}

export const OPENAPI_PATH = "/api/v1/openapi.json";
export const DOCS_PATH = "/docs";

// Points Swagger UI at our document instead of the petstore its distribution ships with. No
// validator badge: it would send the document to validator.swagger.io (and fail offline).
const SWAGGER_INITIALIZER = `window.onload = function () {
  window.ui = SwaggerUIBundle({ url: "${OPENAPI_PATH}", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout" });
};
`;

/** Swagger UI at `/docs`, served from swagger-ui-dist (no CDN); the document itself is a route of the table. */
export function openApiRouter(): Router {
  const swaggerDir = path.dirname(require.resolve("swagger-ui-dist/package.json"));
  const router = Router();
  router.get(`${DOCS_PATH}/swagger-initializer.js`, (_req, res) => {
    res.type("application/javascript").send(SWAGGER_INITIALIZER);
  });
  router.use(DOCS_PATH, express.static(swaggerDir, { index: "index.html", maxAge: "1h" }));
  return router;
}
