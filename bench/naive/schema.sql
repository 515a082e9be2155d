-- The naive synchronous design of the notes: one balance per account, one row per transaction.
-- No journal, no queue, no constraints beyond the keys: the endpoint's check is the only guard.
CREATE TABLE naive_accounts (
  id      uuid PRIMARY KEY,
  balance numeric(24, 2) NOT NULL
);
CREATE TABLE naive_transactions (
  id           bigserial PRIMARY KEY,
  from_account uuid,
  to_account   uuid,
  amount       numeric(17, 2) NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
-- Kept to check the invariants afterwards: what each account started with.
CREATE TABLE naive_initial (
  id      uuid PRIMARY KEY,
  balance numeric(24, 2) NOT NULL
);
