-- 0009: refunds, authorize-then-capture (capture, void, expiry) and overdraft limits
-- (docs/API.md "Refunds", "Authorize, then capture or void", "Overdraft limits").

-- Operations on an existing payment are no longer only dispute steps: capture and void (sent by
-- clients) and expire (written by the workers' sweeper) are queued and applied the same way, in
-- the partition of the account whose money they move.
ALTER TABLE dispute_operations RENAME TO payment_operations;
ALTER INDEX dispute_operations_pending_by_partition RENAME TO payment_operations_pending_by_partition;
ALTER INDEX dispute_operations_pending_by_age RENAME TO payment_operations_pending_by_age;
ALTER INDEX dispute_operations_by_payment RENAME TO payment_operations_by_payment;
ALTER TABLE payment_operations DROP CONSTRAINT dispute_operations_kind_check;
ALTER TABLE payment_operations ADD CONSTRAINT payment_operations_kind_check
  CHECK (kind IN ('dispute', 'resolve', 'chargeback', 'capture', 'void', 'expire'));
ALTER TABLE payment_operations DROP CONSTRAINT dispute_operations_rejection_reason_check;
ALTER TABLE payment_operations ADD CONSTRAINT payment_operations_rejection_reason_check
  CHECK (rejection_reason IN ('invalid_state', 'internal_error', 'account_frozen'));
-- A capture's amount (null: the whole authorization); the other kinds carry none.
ALTER TABLE payment_operations ADD COLUMN amount numeric(17, 2) CHECK (amount > 0);
ALTER TABLE payment_operations ADD CONSTRAINT payment_operations_amount_only_on_capture CHECK (amount IS NULL OR kind = 'capture');

-- Payments: refunds (a payment of its own, from the original's receiver back to its payer) and
-- authorizations (capture = false: settled as a hold on the payer, then captured, voided or expired).
ALTER TABLE payments DROP CONSTRAINT payments_type_check;
ALTER TABLE payments ADD CONSTRAINT payments_type_check CHECK (type IN ('transfer', 'deposit', 'withdrawal', 'refund'));
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
  CHECK (status IN ('pending', 'completed', 'failed', 'authorized', 'voided', 'expired'));
ALTER TABLE payments ADD COLUMN refund_of uuid REFERENCES payments (id);
ALTER TABLE payments ADD COLUMN amount_refunded numeric(17, 2) NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0);
ALTER TABLE payments ADD COLUMN capture boolean NOT NULL DEFAULT true;
ALTER TABLE payments ADD COLUMN amount_captured numeric(17, 2) CHECK (amount_captured > 0);
ALTER TABLE payments ADD COLUMN expires_at timestamptz;
ALTER TABLE payments DROP CONSTRAINT payments_check;
ALTER TABLE payments ADD CONSTRAINT payments_accounts_by_type CHECK (CASE type
  WHEN 'transfer'   THEN from_account IS NOT NULL AND to_account IS NOT NULL AND from_account <> to_account
  WHEN 'deposit'    THEN from_account IS NULL AND to_account IS NOT NULL
  WHEN 'withdrawal' THEN from_account IS NOT NULL AND to_account IS NULL
  -- a refund of a transfer goes back to its payer; of a deposit, out to the outside world
  WHEN 'refund'     THEN from_account IS NOT NULL AND (to_account IS NULL OR to_account <> from_account)
END);
ALTER TABLE payments ADD CONSTRAINT payments_refund_of_refunds CHECK ((type = 'refund') = (refund_of IS NOT NULL));
ALTER TABLE payments ADD CONSTRAINT payments_authorization CHECK (
  (capture OR (type = 'transfer' AND expires_at IS NOT NULL)) AND (NOT capture OR expires_at IS NULL)
  AND (status NOT IN ('authorized', 'voided', 'expired') OR NOT capture)
  AND (amount_captured IS NULL OR (NOT capture AND status = 'completed' AND amount_captured <= amount)));
ALTER TABLE payments ADD CONSTRAINT payments_refunded_within CHECK (amount_refunded <= coalesce(amount_captured, amount));
-- What a dispute holds: the payment's settled amount less its completed refunds when the dispute
-- is applied; its resolve or chargeback moves the same amount. Disputes before refunds held the amount.
ALTER TABLE payments ADD COLUMN amount_disputed numeric(17, 2) CHECK (amount_disputed > 0);
UPDATE payments SET amount_disputed = amount WHERE dispute_status <> 'none';
ALTER TABLE payments ADD CONSTRAINT payments_disputed_amount CHECK ((dispute_status = 'none') = (amount_disputed IS NULL));
-- Refunds of a payment, summed under its row lock when another is asked for.
CREATE INDEX payments_refunds ON payments (refund_of) WHERE refund_of IS NOT NULL;
-- The sweeper's view: authorizations by expiry.
CREATE INDEX payments_authorized_by_expiry ON payments (expires_at) WHERE status = 'authorized';

-- Overdraft: available may go down to -overdraft_limit through a payment (a dispute hold may go further).
ALTER TABLE accounts ADD COLUMN overdraft_limit numeric(17, 2) NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0);

-- The journal: a capture takes the captured amount out of held. Each entry records the overdraft
-- limit in force when it was written, and the last line of defence moves with it: no debit, and
-- no hold of an authorization, leaves available below -overdraft_limit.
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_type_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_type_check
  CHECK (type IN ('credit', 'debit', 'hold', 'release', 'chargeback', 'authorize', 'capture'));
ALTER TABLE journal_entries ADD COLUMN overdraft_limit numeric(17, 2) NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0);
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_check1;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_within_overdraft
  CHECK (type NOT IN ('debit', 'authorize') OR available_after >= -overdraft_limit);

ALTER TABLE events DROP CONSTRAINT events_type_check;
ALTER TABLE events ADD CONSTRAINT events_type_check CHECK (type IN (
  'payment.completed', 'payment.failed', 'payment.authorized', 'payment.captured', 'payment.voided', 'payment.expired',
  'dispute.opened', 'dispute.resolved', 'dispute.charged_back', 'account.frozen', 'account.unfrozen', 'account.updated'));
