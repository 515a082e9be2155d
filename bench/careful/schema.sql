-- The careful synchronous design: what a payment endpoint without a queue looks like when it is
-- done right. One balance per account that may never go negative, one row per payment, and a
-- per-account journal whose seq has no gaps; every payment is one transaction that locks both
-- accounts (ascending id, so two transfers in opposite directions cannot deadlock).
CREATE TABLE accounts (
  id       uuid PRIMARY KEY,
  balance  numeric(24, 2) NOT NULL CHECK (balance >= 0),
  -- The journal's last seq, kept with the balance it produced so the next entry needs no lookup.
  last_seq bigint NOT NULL DEFAULT 0
);
CREATE TABLE payments (
  id           uuid PRIMARY KEY,
  type         text NOT NULL CHECK (type IN ('funding', 'transfer', 'deposit', 'withdrawal')),
  from_account uuid REFERENCES accounts (id),
  to_account   uuid REFERENCES accounts (id),
  amount       numeric(17, 2) NOT NULL CHECK (amount > 0),
  description  text,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE journal_entries (
  account_id    uuid NOT NULL REFERENCES accounts (id),
  seq           bigint NOT NULL,
  payment_id    uuid NOT NULL REFERENCES payments (id),
  -- Signed: a debit is negative.
  amount        numeric(17, 2) NOT NULL,
  balance_after numeric(24, 2) NOT NULL CHECK (balance_after >= 0),
  PRIMARY KEY (account_id, seq)
);
