-- 0005: an Idempotency-Key belongs to the client (its API key), no longer to one endpoint: the same
-- key on another endpoint is a 409, not a second payment. The scope was '<principal>:<endpoint>'
-- (a principal is hex or '-', never holds ':'); it becomes '<principal>', and the endpoint gets a
-- column of its own, so that a reuse elsewhere is detected and the 409 can name where the key was
-- first used.
ALTER TABLE idempotency_keys ADD COLUMN endpoint text;

-- A client could use one key on several endpoints before: of those rows, the oldest (ties by
-- endpoint name, to be deterministic) moves to the new scope and holds the key from now on; each
-- other one keeps its old scope, where a retry of that same request on that same endpoint still
-- finds it (the look-up also probes '<scope>:<endpoint>'). So every stored outcome stays
-- replayable as it was promised — a client retrying either earlier request gets its original
-- response, never a 409 and never a second payment — while a new use of the key on a third
-- endpoint is refused. Those rows age out with the TTL like any other.
UPDATE idempotency_keys k
   SET endpoint = o.endpoint,
       scope = CASE WHEN o.oldest THEN o.principal ELSE k.scope END
  FROM (SELECT scope, key, principal, endpoint,
               row_number() OVER (PARTITION BY principal, key ORDER BY created_at, endpoint) = 1 AS oldest
          FROM (SELECT scope, key, created_at,
                       substring(scope FROM '^(.*):[^:]*$') AS principal,
                       substring(scope FROM ':([^:]*)$') AS endpoint
                  FROM idempotency_keys) AS split) AS o
 WHERE k.scope = o.scope AND k.key = o.key;

-- Every row had the '<principal>:<endpoint>' form; one that did not fails the migration here
-- instead of turning into a key nobody can reach.
ALTER TABLE idempotency_keys ALTER COLUMN endpoint SET NOT NULL;

COMMENT ON COLUMN idempotency_keys.scope IS 'the client (API key principal, ''-'' on an open API) the key belongs to; ''<principal>:<endpoint>'' on rows left by 0005';
COMMENT ON COLUMN idempotency_keys.endpoint IS 'the endpoint the key was used on (account, transfer, deposit, withdrawal); a batch item counts as its type''s';
