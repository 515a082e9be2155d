-- 0007: events, written in the transaction of the change each reports (a transactional outbox),
-- and the webhook endpoints, deliveries and attempts that push them to clients
-- (docs/API.md "Events" and "Webhooks", docs/ARCHITECTURE.md "Events and webhooks").

CREATE TABLE events (
  id         uuid PRIMARY KEY,
  -- The feed's order: the writing transaction's id, then the row's place in it. A reader only
  -- sees events whose transaction id is below the oldest transaction still running (the xmin of
  -- its snapshot), so no event can later appear before a cursor already handed out.
  xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
  seq        bigint GENERATED ALWAYS AS IDENTITY,
  type       text NOT NULL CHECK (type IN ('payment.completed', 'payment.failed', 'dispute.opened', 'dispute.resolved',
                                           'dispute.charged_back', 'account.frozen', 'account.unfrozen')),
  -- { "payment": {…} } or { "account": {…} }, as the API shows them, at the moment of the change.
  data       jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX events_feed ON events (xid, seq);
CREATE INDEX events_feed_by_type ON events (type, xid, seq);
-- Retention (EVENT_RETENTION_DAYS) deletes by age. BRIN: events arrive in time order, and a
-- block-range index costs next to nothing per insert on the settle path.
CREATE INDEX events_by_age ON events USING brin (created_at);

CREATE TABLE webhook_endpoints (
  id              uuid PRIMARY KEY,
  url             text NOT NULL CHECK (char_length(url) <= 2048),
  -- Event types, or {'*'} for every type.
  events          text[] NOT NULL CHECK (cardinality(events) >= 1),
  description     text CHECK (char_length(description) <= 500),
  -- Signing secrets: needed in clear to sign. The previous one keeps signing (beside the new one)
  -- for 24 hours after a rotation, so receivers can switch without losing a delivery.
  secret          text NOT NULL,
  previous_secret text,
  previous_secret_expires_at timestamptz,
  status          text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
  -- Deliveries that exhausted their retries in a row; reset by any delivered event.
  failed_in_a_row integer NOT NULL DEFAULT 0,
  -- How far this endpoint has read the feed: each event after it is sent once, in feed order,
  -- and the cursor moves in the statement that records the attempts. It starts at the creating
  -- transaction: the endpoint receives the events created after it.
  after_xid       xid8 NOT NULL DEFAULT pg_current_xact_id(),
  after_seq       bigint NOT NULL DEFAULT 0,
  -- The worker reading the feed for it, until when: a worker killed mid-send leaves the claim to
  -- lapse, and the next one reads again from the cursor (at least once).
  claimed_by      uuid,
  claimed_until   timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- An event whose first attempt failed, retried with backoff until delivered or given up
-- WEBHOOK_RETRY_HOURS after the event. Events delivered at the first attempt have no row here.
CREATE TABLE webhook_deliveries (
  id              uuid PRIMARY KEY,
  endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  event_id        uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- Set while a worker sends it: a worker killed mid-delivery leaves it to be taken again after this.
  locked_until    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);

-- Every attempt, for GET /webhook-endpoints/{id}/deliveries: one row and one index entry each.
CREATE TABLE webhook_attempts (
  endpoint_id   uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  attempted_at  timestamptz NOT NULL,
  event_id      uuid NOT NULL,
  attempt       integer NOT NULL CHECK (attempt >= 1),
  status_code   integer,
  error         text,
  duration_ms   integer NOT NULL,
  next_retry_at timestamptz,
  PRIMARY KEY (endpoint_id, attempted_at, event_id, attempt)
);

-- Changes settled from now on have events; pnpm verify checks those (not older ones).
INSERT INTO settle_settings (key, value) VALUES ('events_since', now()::text);
