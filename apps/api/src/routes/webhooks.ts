import {
  checkWebhookUrl,
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  DomainError,
  findWebhookEndpoint,
  listEvents,
  listWebhookAttempts,
  listWebhookEndpoints,
  parseEventCursor,
  rotateWebhookSecret,
  runIdempotent,
  setWebhookEndpointStatus,
  schemas,
} from "@settle/core";
import { parseOr400 } from "../http/errors";
import { idempotencyOf, uuidParam } from "../http/request";
import type { RouteHandler } from "./router";

// The handlers of /api/v1/events and /api/v1/webhook-endpoints (docs/API.md "Events" and
// "Webhooks"); their routes are in the route table (ops/openapi-routes.ts).

export const events: RouteHandler = async (req, res, { deps }) => {
  const q = parseOr400(schemas.EventsQuery, req.query, "(query)");
  // The pattern was checked by the schema: a parsed cursor is never null here.
  const after = q.after === undefined ? undefined : parseEventCursor(q.after)!;
  res.json(await listEvents(deps.pool, { after, limit: q.limit, type: q.type }));
};

export const createEndpoint: RouteHandler = async (req, res, { deps }) => {
  const body = parseOr400(schemas.CreateWebhookEndpointRequest, req.body);
  const url = checkWebhookUrl(body.url, { allowInsecure: deps.config.webhookAllowInsecure });
  if (!url.ok) {
    const message = url.reason.replace(/^url: /, "");
    throw new DomainError("invalid_request", `url: ${message}`, [{ path: "url", message }]);
  }
  const response = await runIdempotent(deps.pool, idempotencyOf(req, "webhook-endpoint"), (db) =>
    createWebhookEndpoint(db, { url: url.url.href, events: body.events, description: body.description ?? null }),
  );
  if (response.replayed) res.setHeader("Idempotent-Replayed", "true");
  res.status(201).location(`/api/v1/webhook-endpoints/${response.body.id}`).json(response.body);
};

export const listEndpoints: RouteHandler = async (req, res, { deps }) => {
  const q = parseOr400(schemas.WebhookEndpointsListQuery, req.query, "(query)");
  const endpoints = await listWebhookEndpoints(deps.pool, q.after, q.limit);
  res.json({ webhook_endpoints: endpoints, next_after: endpoints.length === q.limit ? endpoints[endpoints.length - 1]!.id : null });
};

export const getEndpoint: RouteHandler = async (req, res, { deps }) => {
  const endpoint = await findWebhookEndpoint(deps.pool, uuidParam(req.params.id, "webhook endpoint"));
  if (!endpoint) throw new DomainError("not_found", "webhook endpoint not found");
  res.json(endpoint);
};

export const deleteEndpoint: RouteHandler = async (req, res, { deps }) => {
  if (!(await deleteWebhookEndpoint(deps.pool, uuidParam(req.params.id, "webhook endpoint")))) throw new DomainError("not_found", "webhook endpoint not found");
  req.log?.info({ endpoint: req.params.id }, "webhook endpoint deleted");
  res.status(204).end();
};

/** Enable or disable an endpoint; enabling sends only the events from then on. */
export const setStatus =
  (status: "enabled" | "disabled"): RouteHandler =>
  async (req, res, { deps }) => {
    parseOr400(schemas.EmptyRequest, req.body);
    const endpoint = await setWebhookEndpointStatus(deps.pool, uuidParam(req.params.id, "webhook endpoint"), status);
    if (!endpoint) throw new DomainError("not_found", "webhook endpoint not found");
    req.log?.info({ endpoint: endpoint.id, status }, `webhook endpoint ${status}`);
    res.json(endpoint);
  };

export const rotateSecret: RouteHandler = async (req, res, { deps }) => {
  parseOr400(schemas.EmptyRequest, req.body);
  const endpoint = await rotateWebhookSecret(deps.pool, uuidParam(req.params.id, "webhook endpoint"));
  if (!endpoint) throw new DomainError("not_found", "webhook endpoint not found");
  res.json(endpoint);
};

export const attempts: RouteHandler = async (req, res, { deps }) => {
  const id = uuidParam(req.params.id, "webhook endpoint");
  const q = parseOr400(schemas.WebhookAttemptsQuery, req.query, "(query)");
  const [endpoint, list] = await Promise.all([findWebhookEndpoint(deps.pool, id), listWebhookAttempts(deps.pool, id, q.limit)]);
  if (!endpoint) throw new DomainError("not_found", "webhook endpoint not found");
  res.json({ attempts: list });
};
