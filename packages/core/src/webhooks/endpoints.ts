import { randomBytes } from "node:crypto";
import { asUnavailable, type Pool, type PoolClient } from "../db/pool";
import { uuidv7 } from "../ids";
import type { EventType } from "../events/events";

// Webhook endpoints as clients manage them (docs/API.md "Webhooks"): where to send which events,
// and the secret that signs them. The secret is shown once, when created or rotated.

/** How long the secret replaced by a rotation keeps signing deliveries beside the new one. */
export const PREVIOUS_SECRET_HOURS = 24;

export interface WebhookEndpointView {
  id: string;
  url: string;
  events: (EventType | "*")[];
  description: string | null;
  status: "enabled" | "disabled";
  created_at: string;
}

/** An endpoint as created or rotated: the only answers that carry its secret. */
export type WebhookEndpointWithSecret = WebhookEndpointView & { secret: string };

interface EndpointRow {
  id: string;
  url: string;
  events: (EventType | "*")[];
  description: string | null;
  status: "enabled" | "disabled";
  created_at: Date;
}

const ENDPOINT_COLUMNS = "id, url, events, description, status, created_at";

const toView = (row: EndpointRow): WebhookEndpointView => ({
  id: row.id,
  url: row.url,
  events: row.events,
  description: row.description,
  status: row.status,
  created_at: row.created_at.toISOString(),
});

/** A new signing secret: `whsec_` and 32 random bytes, base64url. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString("base64url")}`;

export async function createWebhookEndpoint(
  db: Pool | PoolClient,
  input: { url: string; events: (EventType | "*")[]; description: string | null },
): Promise<WebhookEndpointWithSecret> {
  const secret = newWebhookSecret();
  // "*" alone stands for every type; listing it beside others would say the same thing twice.
  const events = input.events.includes("*") ? ["*" as const] : [...new Set(input.events)];
  const { rows } = await db
    .query<EndpointRow>(`INSERT INTO webhook_endpoints (id, url, events, description, secret) VALUES ($1, $2, $3, $4, $5) RETURNING ${ENDPOINT_COLUMNS}`, [
      uuidv7(),
      input.url,
      events,
      input.description,
      secret,
    ])
    .catch(asUnavailable);
  return { ...toView(rows[0]!), secret };
}

/** One page of endpoints by id, after the cursor `after` (an endpoint id). */
export async function listWebhookEndpoints(pool: Pool, after: string | undefined, limit: number): Promise<WebhookEndpointView[]> {
  const { rows } = await pool
    .query<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id > $1 ORDER BY id LIMIT $2`, [
      after ?? "00000000-0000-0000-0000-000000000000",
      limit,
    ])
    .catch(asUnavailable);
  return rows.map(toView);
}

export async function findWebhookEndpoint(pool: Pool, id: string): Promise<WebhookEndpointView | null> {
  const { rows } = await pool.query<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1`, [id]).catch(asUnavailable);
  return rows[0] ? toView(rows[0]) : null;
}

/** Deletes an endpoint with its pending deliveries and attempts: nothing more is sent to it. */
export async function deleteWebhookEndpoint(pool: Pool, id: string): Promise<boolean> {
  const { rowCount } = await pool.query("DELETE FROM webhook_endpoints WHERE id = $1", [id]).catch(asUnavailable);
  return (rowCount ?? 0) > 0;
}

/**
 * Enables or disables an endpoint. Enabling starts it afresh: its run of failures is cleared and
 * its feed cursor moves to now, so the events of the time it was disabled are not sent (they stay
 * in GET /events for a client that wants them); retries it had pending resume, within their window.
 */
export async function setWebhookEndpointStatus(pool: Pool, id: string, status: WebhookEndpointView["status"]): Promise<WebhookEndpointView | null> {
  const { rows } = await pool
    .query<EndpointRow>(
      status === "enabled"
        ? `UPDATE webhook_endpoints
              SET status = 'enabled', failed_in_a_row = 0,
                  after_xid = CASE WHEN status = 'enabled' THEN after_xid ELSE pg_current_xact_id() END,
                  after_seq = CASE WHEN status = 'enabled' THEN after_seq ELSE 0 END
            WHERE id = $1 RETURNING ${ENDPOINT_COLUMNS}`
        : `UPDATE webhook_endpoints SET status = 'disabled' WHERE id = $1 RETURNING ${ENDPOINT_COLUMNS}`,
      [id],
    )
    .catch(asUnavailable);
  return rows[0] ? toView(rows[0]) : null;
}

/**
 * Gives an endpoint a new secret. The old one keeps signing beside it for PREVIOUS_SECRET_HOURS
 * (the header then carries two `v1=`), so a receiver can switch without refusing a delivery.
 */
export async function rotateWebhookSecret(pool: Pool, id: string): Promise<WebhookEndpointWithSecret | null> {
  const secret = newWebhookSecret();
  const { rows } = await pool
    .query<EndpointRow>(
      `UPDATE webhook_endpoints
          SET previous_secret = secret, previous_secret_expires_at = now() + make_interval(hours => $3), secret = $2
        WHERE id = $1 RETURNING ${ENDPOINT_COLUMNS}`,
      [id, secret, PREVIOUS_SECRET_HOURS],
    )
    .catch(asUnavailable);
  return rows[0] ? { ...toView(rows[0]), secret } : null;
}

/** One attempt to deliver an event, as GET /webhook-endpoints/{id}/deliveries lists it. */
export interface WebhookAttemptView {
  event_id: string;
  attempt: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  attempted_at: string;
  /** When the next attempt is due; null once delivered or given up. */
  next_retry_at: string | null;
  /** The event's delivery to this endpoint now: `pending` (retrying), `delivered` or `failed`. */
  delivery_status: "pending" | "delivered" | "failed";
}

/** An endpoint's attempts, newest first, at most `limit`. */
export async function listWebhookAttempts(pool: Pool, endpointId: string, limit: number): Promise<WebhookAttemptView[]> {
  const { rows } = await pool
    .query<Omit<WebhookAttemptView, "attempted_at" | "next_retry_at"> & { attempted_at: Date; next_retry_at: Date | null }>(
      // No retry row: the first attempt delivered it.
      `SELECT a.event_id, a.attempt, a.status_code, a.error, a.duration_ms, a.attempted_at, a.next_retry_at,
              coalesce(d.status, 'delivered') AS delivery_status
         FROM webhook_attempts a LEFT JOIN webhook_deliveries d ON d.endpoint_id = a.endpoint_id AND d.event_id = a.event_id
        WHERE a.endpoint_id = $1
        ORDER BY a.attempted_at DESC, a.event_id, a.attempt DESC
        LIMIT $2`,
      [endpointId, limit],
    )
    .catch(asUnavailable);
  return rows.map((r) => ({ ...r, attempted_at: r.attempted_at.toISOString(), next_retry_at: r.next_retry_at ? r.next_retry_at.toISOString() : null }));
}
