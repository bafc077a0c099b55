/**
 * @perf/async: Semaphore, RateLimiter, BatchProcessor, ResourcePool, CircuitBreaker and retry with
 * backoff: cancellable, measured, disposable.
 */

export {
  Backoff,
  type BackoffConfig,
  type BackoffOptions,
  backoffDelay,
  type Jitter,
  type ResolvedBackoffOptions,
  resolveBackoffOptions,
} from './backoff';
export {
  type BatchCloseOptions,
  type BatchFn,
  BatchProcessor,
  type BatchProcessorOptions,
  type BatchProcessorStats,
} from './batch-processor';
export {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitBreakerStats,
  type CircuitChangeReason,
  type CircuitState,
  type CircuitStateChange,
  type ExecuteOptions,
  type IsolationHandle,
} from './circuit-breaker';
export * from './errors';
export type { CancelReason, WaitOptions } from './internal/waiters';
export { Lease } from './lease';
export { Permit } from './permit';
export {
  RateLimiter,
  type RateLimiterOptions,
  type RateLimiterStats,
} from './rate-limiter';
export { ResourcePool, type ResourcePoolOptions, type ResourcePoolStats } from './resource-pool';
export { type RetryContext, type RetryEvent, type RetryOptions, retry } from './retry';
export {
  type AcquireOptions,
  Semaphore,
  type SemaphoreOptions,
  type SemaphoreStats,
} from './semaphore';
export { sleep } from './sleep';
export { type WithTimeoutOptions, withTimeout } from './with-timeout';
