export { MoneyDecimal, type Money, parseAmount, moneyFromDb, formatMoney, ZERO, AMOUNT_RULE } from "./money";
export { isUuid, uuidv7 } from "./ids";
export { withTimeout } from "./timeout";
export { partitionFor } from "./partition";
export { ERROR_STATUS, type ErrorCode, type ErrorDetail, DomainError, UnavailableError } from "./errors";
export { createLogger, REDACTED_PATHS, type Logger } from "./logger";
export { sharedEnv, parseEnv, ConfigError } from "./config";
export { parseCommandLine, USAGE_EXIT_CODE, type CommandLine, type CommandOptions } from "./cli";
export * as schemas from "./schemas";
export { issuesToDetails } from "./schemas";
export { createPool, ensureDatabase, withTransaction, isTransientDbError, asUnavailable, type Pool, type PoolClient, type DatabaseOptions } from "./db/pool";
export { migrate, assertMigrated, DEFAULT_MIGRATIONS_DIR, type MigrationResult } from "./db/migrate";
export { ensurePartitionCount } from "./db/settings";
export { SettleJob, JOB_CATALOG, settleDeduplicationId, type JobName } from "./queue/jobs";
export { PartitionWaker, type PartitionWakerOptions } from "./queue/partition-waker";
export { PartitionQueues, partitionQueueName, partitionQueuePrefix, createRedis, type RedisRole } from "./queue/partition-queues";
export { applyPayment, applyDispute, disputeAllowed, disputeStatusAfter, type DisputeKind, type DisputeStatus, type DisputeToApply, appendEntry, type AccountState, type AccountStatus, type EntryType, type FailureReason, type JournalEntry, type PaymentToSettle, type PaymentType, type SettleOutcome } from "./ledger/apply";
export { GENESIS_HASH, canonicalEntry, entryHash, type HashedEntryFields } from "./ledger/journal-hash";
export {
  createAccount,
  findAccount,
  findPayment,
  hasPendingDisputeOperation,
  listEntries,
  listPayments,
  listAccounts,
  type PaymentFilter,
  insertPayment,
  setAccountStatus,
  type AccountView,
  type PaymentView,
  type EntryView,
  type NewPayment,
} from "./ledger/ledger-repository";
export { AcceptBatcher } from "./ledger/accept-batcher";
export { acceptPayment, debitAccountOf, type AcceptDeps, type PaymentRequest } from "./ledger/accept";
export { acceptPaymentBatch, type BatchItem, type BatchItemResult } from "./ledger/accept-batch";
export { settleBatch, settleIsolatingFailure, failOldestPending, findStalePartitions, SETTLE_EVENTS_CHANNEL, type SettledPayment, type SettledDispute, type SettleResult } from "./ledger/settle";
export { verifyLedger, type Finding, type Invariant, type VerificationReport, type VerifyOptions } from "./ledger/verify";
export { requestDisputeOperation, type DisputeOperationView } from "./ledger/disputes";
export { runIdempotent, parseIdempotencyKey, hashRequest, purgeIdempotencyKeys, findIdempotencyKeys, storeIdempotencyKeys, type IdempotencyKey, type StoredResponse } from "./idempotency";
export { checkReadiness, isRedisOutOfMemory, type Readiness, type ReadinessServices } from "./readiness";
export { registerPoolGauge } from "./pool-metrics";
