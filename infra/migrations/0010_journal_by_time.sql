-- 0010: read an account's journal by time: its balances as of an instant (the last entry at or
-- before it, GET /api/v1/accounts/{id}/balance?at=) and a page of it within a created_at window
-- (GET /api/v1/accounts/{id}/entries?from=&to=), each a seek and a short scan however long the
-- journal is. Built inside the migration's transaction, which blocks writes to journal_entries
-- while it runs: on a large existing journal, create it first with CREATE INDEX CONCURRENTLY under
-- this name.
CREATE INDEX IF NOT EXISTS journal_entries_by_time ON journal_entries (account_id, created_at, seq);
