import { isTransientDbError, type Logger } from "@settle/core";

/**
 * Retries `work` while it fails with a transient database fault, with capped exponential backoff.
 * Retrying here, not through BullMQ, keeps the job at the head of its partition (order holds).
 */
export async function retryTransient<T>(
  work: () => Promise<T>,
  options: { logger: Logger; giveUpAfterMs: number; isStopping?: () => boolean; what: string; onRetry?: (error: unknown, attempt: number) => void },
): Promise<T> {
  const deadline = Date.now() + options.giveUpAfterMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isTransientDbError(error) || Date.now() > deadline || options.isStopping?.()) throw error;
      const delay = Math.min(2000, 50 * 2 ** attempt);
      options.onRetry?.(error, attempt);
      options.logger.warn({ err: error, attempt, delayMs: delay }, `${options.what}: transient database error, retrying`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
