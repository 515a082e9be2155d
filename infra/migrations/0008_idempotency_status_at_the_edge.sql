-- 0008: an idempotency key stores the response body only. The HTTP status is the API's to choose
-- (every stored response is its endpoint's success: 201 or 202, and a key is bound to its
-- endpoint), so the domain no longer writes one; rows stored before keep theirs, unread.
ALTER TABLE idempotency_keys ALTER COLUMN status_code DROP NOT NULL;
