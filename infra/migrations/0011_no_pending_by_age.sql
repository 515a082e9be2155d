-- 0011: the settle round reads each partition's oldest pending payments and operations from the
-- pending index by partition. While a backlog builds (in seconds; the statistics follow minutes
-- later) the planner estimated both pending indexes at one row and could take the one by age,
-- then walked the whole backlog once per partition in every round: 20,000 pending made a round of
-- 10 take 30 ms of PostgreSQL's CPU instead of 2 (bench/settle-rounds.ts --backlog 20000). The
-- sweeper, the only reader of the indexes by age, counts stale work along the index by partition
-- (every pending row, every SWEEP_INTERVAL_MS, off every request's path). One index entry less
-- to write per payment accepted.
DROP INDEX IF EXISTS payments_pending_by_age;
DROP INDEX IF EXISTS payment_operations_pending_by_age;
