-- One transfer as a single transaction: lock both accounts (ascending id), two balance updates,
-- two journal inserts, one payment status update. Inputs: none (random accounts among 10,000).
\set a random(1, 10000)
\set d random(1, 9999)
\set b 1 + (:a + :d - 1) % 10000
\set p random(1, 200000)
\set cents random(1, 9999)
BEGIN;
SELECT id FROM xfer_accounts WHERE id IN (:a, :b) ORDER BY id FOR UPDATE;
UPDATE xfer_accounts SET balance = balance - :cents / 100.0 WHERE id = :a;
UPDATE xfer_accounts SET balance = balance + :cents / 100.0 WHERE id = :b;
INSERT INTO xfer_journal (account_id, payment_id, amount) VALUES (:a, :p, -:cents / 100.0);
INSERT INTO xfer_journal (account_id, payment_id, amount) VALUES (:b, :p, :cents / 100.0);
UPDATE xfer_payments SET status = 'completed', processed_at = now() WHERE id = :p;
END;
