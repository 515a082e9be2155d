-- 0004: an operation that fails its settle round for a reason no retry can cure (a constraint, a
-- bad row, a bug) is settled alone as failed (a payment: failure_reason internal_error; a dispute
-- operation: rejected with internal_error), so the rest of its partition goes on.
ALTER TABLE payments DROP CONSTRAINT payments_failure_reason_check;
ALTER TABLE payments ADD CONSTRAINT payments_failure_reason_check
  CHECK (failure_reason IN ('insufficient_funds', 'account_frozen', 'internal_error'));
ALTER TABLE dispute_operations DROP CONSTRAINT dispute_operations_rejection_reason_check;
ALTER TABLE dispute_operations ADD CONSTRAINT dispute_operations_rejection_reason_check
  CHECK (rejection_reason IN ('invalid_state', 'internal_error'));
