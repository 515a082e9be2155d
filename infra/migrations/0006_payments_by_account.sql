-- 0006: list an account's payments, newest first, from an index per side, so that a page costs
-- the same on an account with a million payments as on one with ten (GET /api/v1/payments?account_id=).
-- Built inside the migration's transaction, which blocks writes to payments while it runs: on a
-- large existing table, create them first with CREATE INDEX CONCURRENTLY under these names.
CREATE INDEX IF NOT EXISTS payments_by_from_account ON payments (from_account, id) WHERE from_account IS NOT NULL;
CREATE INDEX IF NOT EXISTS payments_by_to_account ON payments (to_account, id) WHERE to_account IS NOT NULL;
