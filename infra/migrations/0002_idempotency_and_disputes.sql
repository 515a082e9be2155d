-- 0002: idempotency keys, and dispute operations settled in order with their account's payments.

-- A client's Idempotency-Key, stored in the same transaction as what the request created.
CREATE TABLE idempotency_keys (
  scope        text NOT NULL,          -- endpoint (and client) the key belongs to
  key          text NOT NULL,
  request_hash char(64) NOT NULL,      -- sha256 of the request, to refuse a reused key with another body
  status_code  integer NOT NULL,
  response     jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- dispute, resolve and chargeback requests: queued in the receiving account's partition and
-- applied (or rejected) by the worker in acceptance order with that account's other operations.
CREATE TABLE dispute_operations (
  id               uuid PRIMARY KEY,
  order_seq        bigint NOT NULL DEFAULT nextval('settle_order_seq') UNIQUE,
  partition        integer NOT NULL CHECK (partition >= 0),
  payment_id       uuid NOT NULL REFERENCES payments (id),
  kind             text NOT NULL CHECK (kind IN ('dispute', 'resolve', 'chargeback')),
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'rejected')),
  rejection_reason text CHECK (rejection_reason IN ('invalid_state')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  processed_at     timestamptz,
  CHECK ((status = 'rejected') = (rejection_reason IS NOT NULL)),
  CHECK ((status = 'pending') = (processed_at IS NULL))
);
CREATE INDEX dispute_operations_pending_by_partition ON dispute_operations (partition, order_seq) WHERE status = 'pending';
CREATE INDEX dispute_operations_pending_by_age ON dispute_operations (created_at) WHERE status = 'pending';
CREATE INDEX dispute_operations_by_payment ON dispute_operations (payment_id);
