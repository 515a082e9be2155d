export { MoneyDecimal, type Money, parseAmount, moneyFromDb, formatMoney, ZERO, AMOUNT_RULE, AMOUNT_PATTERN } from "./money";
export { isUuid, uuidv7 } from "./ids";
export { withTimeout } from "./timeout";
export { partitionFor } from "./partition";
export { ERROR_CODES, type ErrorCode, type ErrorDetail, DomainError, UnavailableError } from "./errors";
export { createLogger, REDACTED_PATHS, type Logger } from "./logger";
export { sharedEnv, parseEnv, ConfigError } from "./config";
export { parseCommandLine, USAGE_EXIT_CODE, type CommandLine, type CommandOptions } from "./cli";
export * as schemas from "./schemas";
export { issuesToDetails } from "./schemas";
export {
  createPool,
  ensureDatabase,
  withTransaction,
  isTransientDbError,
  asUnavailable,
  type Pool,
  type PoolClient,
  type DatabaseOptions,
  type TransactionEnd,
} from "./db/pool";
export { migrate, assertMigrated, DEFAULT_MIGRATIONS_DIR, type MigrationResult } from "./db/migrate";
export { ensurePartitionCount } from "./db/settings";
export { SettleJob, JOB_CATALOG, settleDeduplicationId, type JobName } from "./queue/jobs";
export { PartitionWaker, type PartitionWakerOptions } from "./queue/partition-waker";
export { WEBHOOK_QUEUE_NAME, webhookQueuePrefix, createWebhookQueue } from "./queue/webhook-queue";
export {
  PartitionQueues,
  partitionQueueName,
  partitionQueuePrefix,
  createRedis,
  type RedisRole,
  type RedisClient,
  type RedisTarget,
} from "./queue/partition-queues";
export { appendEntry, type AccountState, type AccountStatus, type EntryType, type JournalEntry } from "./ledger/apply";
export { applyPayment, type FailureReason, type PaymentToSettle, type PaymentType, type SettleOutcome, type SettledPayment } from "./ledger/payments";
export { GENESIS_HASH, canonicalEntry, entryHash, type HashedEntryFields } from "./ledger/journal-hash";
export {
  createAccount,
  findAccount,
  findPayment,
  hasPendingOperation,
  listEntries,
  listPayments,
  listAccounts,
  type PaymentFilter,
  insertPayment,
  insertPayments,
  setAccountStatus,
  setOverdraftLimit,
  type AccountView,
  type PaymentView,
  type EntryView,
  type NewPayment,
} from "./ledger/ledger-repository";
export { balanceAt, entriesPageQuery, normaliseInstant, type BalanceAtView, type EntryFilter } from "./ledger/balance-history";
export { AcceptBatcher } from "./ledger/accept-batcher";
export { acceptPayment, debitAccountOf, type AcceptDeps, type PaymentRequest } from "./ledger/accept";
export { acceptPaymentBatch, type BatchItem, type BatchItemResult } from "./ledger/accept-batch";
export { settleBatch, settleIsolatingFailure, failOldestPending, SETTLE_EVENTS_CHANNEL, type SettleResult } from "./ledger/settle";
export { verifyLedger, type Finding, type Invariant, type VerificationReport, type VerifyOptions } from "./ledger/verify";
export {
  requestDisputeOperation,
  applyDispute,
  disputeAllowed,
  disputeStatusAfter,
  type DisputeKind,
  type DisputeStatus,
  type DisputeToApply,
} from "./ledger/disputes";
export { type OperationKind, type OperationView, type SettledOperation } from "./ledger/operations";
export { requestRefund } from "./ledger/refunds";
export { requestAuthorizationOperation, queueExpiredAuthorizations, applyAuthorizationOperation } from "./ledger/authorizations";
export {
  runIdempotent,
  parseIdempotencyKey,
  hashRequest,
  findIdempotencyKeys,
  storeIdempotencyKeys,
  type IdempotencyKey,
  type IdempotentResult,
} from "./idempotency";
export { findStalePartitions, purgeIdempotencyKeys, type PurgeResult } from "./housekeeping";
export { checkReadiness, isRedisOutOfMemory, type Readiness, type ReadinessServices } from "./readiness";
export { registerPoolGauge } from "./pool-metrics";
export {
  EVENT_TYPES,
  listEvents,
  parseEventCursor,
  formatEventCursor,
  purgeEvents,
  type EventType,
  type EventView,
  type EventData,
  type EventCursor,
} from "./events/events";
export {
  createWebhookEndpoint,
  listWebhookEndpoints,
  findWebhookEndpoint,
  deleteWebhookEndpoint,
  rotateWebhookSecret,
  setWebhookEndpointStatus,
  listWebhookAttempts,
  type WebhookEndpointView,
  type WebhookEndpointWithSecret,
  type WebhookAttemptView,
} from "./webhooks/endpoints";
export {
  endpointsWithWork,
  claimFeed,
  readFeed,
  recordFeedRound,
  releaseFeed,
  claimDueRetries,
  recordRetries,
  retryDelayMs,
  deliveryBacklog,
  type OutgoingEvent,
  type EndpointTarget,
  type FeedClaim,
  type ClaimedRetry,
  type RetryPolicy,
  type AttemptOutcome,
  type RecordResult,
} from "./webhooks/delivery";
export { checkWebhookUrl, isForbiddenAddress } from "./webhooks/url-policy";
export { WebhookSender, type WebhookRequest, type WebhookResponse, type WebhookSenderOptions } from "./webhooks/http-sender";
// The receivers' check of a delivery's Settle-Signature, and the sender's signature: one
// implementation, in @settle/client (which receivers install), re-exported here.
export {
  verifyWebhookSignature,
  signWebhookPayload,
  WebhookSignatureError,
  SIGNATURE_HEADER,
  type VerifyWebhookOptions,
  type WebhookSignatureFailure,
} from "@settle/client/webhooks";
