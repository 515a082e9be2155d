-- Scratch tables for the pgbench transfer script: the physical limit of one transfer on this
-- PostgreSQL, with none of Settle's work around it (no HTTP, queue, hashing or checks).
CREATE TABLE xfer_accounts (id integer PRIMARY KEY, balance numeric(24, 2) NOT NULL);
INSERT INTO xfer_accounts SELECT g, 1000000.00 FROM generate_series(1, 10000) g;
CREATE TABLE xfer_journal (
  id         bigserial PRIMARY KEY,
  account_id integer NOT NULL,
  payment_id bigint NOT NULL,
  amount     numeric(17, 2) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE xfer_payments (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'pending', processed_at timestamptz);
INSERT INTO xfer_payments (id) SELECT g FROM generate_series(1, 200000) g;
