-- 0001_ledger: accounts, payments and the append-only, hash-chained journal.
-- Money is NUMERIC with 2 fraction digits: exact, never floating point.

-- Settings every process of a deployment must agree on (PARTITIONS).
CREATE TABLE settle_settings (
  key   text PRIMARY KEY,
  value text NOT NULL
);

CREATE TABLE accounts (
  id          uuid PRIMARY KEY,
  currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen')),
  -- available may go negative only through a dispute hold; the journal's CHECK guards debits.
  available   numeric(24, 2) NOT NULL DEFAULT 0,
  held        numeric(24, 2) NOT NULL DEFAULT 0 CHECK (held >= 0),
  -- entry_count and last_hash are the head of the journal chain, kept under the row lock.
  entry_count bigint NOT NULL DEFAULT 0,
  last_hash   char(64) NOT NULL DEFAULT repeat('0', 64),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Acceptance order of every queued operation; a partition is settled in this order.
CREATE SEQUENCE settle_order_seq AS bigint;

CREATE TABLE payments (
  id             uuid PRIMARY KEY,
  order_seq      bigint NOT NULL DEFAULT nextval('settle_order_seq') UNIQUE,
  partition      integer NOT NULL CHECK (partition >= 0),
  type           text NOT NULL CHECK (type IN ('transfer', 'deposit', 'withdrawal')),
  status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed', 'failed')),
  from_account   uuid REFERENCES accounts (id),
  to_account     uuid REFERENCES accounts (id),
  amount         numeric(17, 2) NOT NULL CHECK (amount > 0),
  currency       char(3) NOT NULL,
  description    text CHECK (char_length(description) <= 500),
  failure_reason text CHECK (failure_reason IN ('insufficient_funds', 'account_frozen')),
  dispute_status text NOT NULL DEFAULT 'none' CHECK (dispute_status IN ('none', 'open', 'resolved', 'charged_back')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  processed_at   timestamptz,
  CHECK (CASE type
           WHEN 'transfer'   THEN from_account IS NOT NULL AND to_account IS NOT NULL AND from_account <> to_account
           WHEN 'deposit'    THEN from_account IS NULL AND to_account IS NOT NULL
           WHEN 'withdrawal' THEN from_account IS NOT NULL AND to_account IS NULL
         END),
  CHECK ((status = 'failed') = (failure_reason IS NOT NULL)),
  CHECK ((status = 'pending') = (processed_at IS NULL))
);

-- The worker's queue of work: pending payments of one partition, oldest first.
CREATE INDEX payments_pending_by_partition ON payments (partition, order_seq) WHERE status = 'pending';
-- The sweeper's view: pending payments by age.
CREATE INDEX payments_pending_by_age ON payments (created_at) WHERE status = 'pending';

CREATE TABLE journal_entries (
  account_id      uuid NOT NULL REFERENCES accounts (id),
  seq             bigint NOT NULL CHECK (seq >= 1),
  payment_id      uuid NOT NULL REFERENCES payments (id),
  type            text NOT NULL CHECK (type IN ('credit', 'debit', 'hold', 'release', 'chargeback')),
  amount          numeric(17, 2) NOT NULL CHECK (amount > 0),
  balance_after   numeric(24, 2) NOT NULL,
  available_after numeric(24, 2) NOT NULL,
  held_after      numeric(24, 2) NOT NULL CHECK (held_after >= 0),
  prev_hash       char(64) NOT NULL,
  hash            char(64) NOT NULL,
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (account_id, seq),
  CHECK (balance_after = available_after + held_after),
  -- Last line of defence: no debit leaves an account's available funds below zero.
  CHECK (type <> 'debit' OR available_after >= 0)
);
CREATE INDEX journal_entries_by_payment ON journal_entries (payment_id);

-- The journal is append-only: no entry is ever updated or deleted, not even by a careless operator.
CREATE FUNCTION journal_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'journal_entries is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER journal_entries_no_update_delete BEFORE UPDATE OR DELETE ON journal_entries
  FOR EACH ROW EXECUTE FUNCTION journal_entries_append_only();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
  FOR EACH STATEMENT EXECUTE FUNCTION journal_entries_append_only();
