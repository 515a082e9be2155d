-- 0003: the X-Request-Id of the request that accepted a payment, so the worker's log line for it
-- names that request even when the payment is settled in a batch started by another one.
ALTER TABLE payments ADD COLUMN request_id text CHECK (char_length(request_id) <= 128);
