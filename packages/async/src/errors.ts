/**
 * Every error @perf/async throws. Each sets `name`, carries a stable `code` and a brand property checked
 * by its `isXError()` guard, so the guards work across duplicate installs of this package (where
 * `instanceof` fails). Aborts reject with the signal's own `reason` (a DOMException `AbortError` by
 * default), as `fetch` and `timers/promises` do.
 */

/** Base of every @perf/async error. */
export class AsyncPrimitiveError extends Error {
  /** Brand shared by every @perf/async error. */
  readonly isPerfAsyncError = true;
  constructor(
    message: string,
    /** Stable machine-readable code, e.g. `ERR_TIMEOUT`. */
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'AsyncPrimitiveError';
  }
}

/** A wait or call took longer than its `timeoutMs`. Code `ERR_TIMEOUT`. */
export class TimeoutError extends AsyncPrimitiveError {
  readonly isTimeoutError = true;
  constructor(
    message: string,
    /** The timeout that elapsed, in ms. */
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super(message, 'ERR_TIMEOUT', options);
    this.name = 'TimeoutError';
  }
}

/** A queue was at its `maxQueue` bound, so the new waiter was rejected at once. Code `ERR_QUEUE_FULL`. */
export class QueueFullError extends AsyncPrimitiveError {
  readonly isQueueFullError = true;
  constructor(
    message: string,
    /** The bound that was reached. */
    readonly maxQueue: number,
  ) {
    super(message, 'ERR_QUEUE_FULL');
    this.name = 'QueueFullError';
  }
}

/** The primitive was closed: new work is refused and queued waiters are rejected. Code `ERR_CLOSED`. */
export class ClosedError extends AsyncPrimitiveError {
  readonly isClosedError = true;
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_CLOSED', options);
    this.name = 'ClosedError';
  }
}

/** True for any error thrown by @perf/async (also from another copy of the package). */
export const isAsyncPrimitiveError = (e: unknown): e is AsyncPrimitiveError =>
  e instanceof Error && (e as Partial<AsyncPrimitiveError>).isPerfAsyncError === true;
/** True for a {@link TimeoutError} (also from another copy of the package). */
export const isTimeoutError = (e: unknown): e is TimeoutError =>
  e instanceof Error && (e as Partial<TimeoutError>).isTimeoutError === true;
/** True for a {@link QueueFullError} (also from another copy of the package). */
export const isQueueFullError = (e: unknown): e is QueueFullError =>
  e instanceof Error && (e as Partial<QueueFullError>).isQueueFullError === true;
/** True for a {@link ClosedError} (also from another copy of the package). */
export const isClosedError = (e: unknown): e is ClosedError =>
  e instanceof Error && (e as Partial<ClosedError>).isClosedError === true;

/**
 * A {@link CircuitBreaker} refused the call because the circuit is open (or a half-open trial slot was
 * not free). Code `ERR_CIRCUIT_OPEN`.
 */
export class BrokenCircuitError extends AsyncPrimitiveError {
  readonly isBrokenCircuitError = true;
  constructor(
    message: string,
    /** Ms until the breaker lets a trial call through; `0` when it is half-open and only the slots are full. */
    readonly retryAfterMs: number,
    options?: ErrorOptions,
    code = 'ERR_CIRCUIT_OPEN',
  ) {
    super(message, code, options);
    this.name = 'BrokenCircuitError';
  }
}

/**
 * A {@link CircuitBreaker} refused the call because it was opened by hand with `isolate()`. A subclass of
 * {@link BrokenCircuitError}, so `isBrokenCircuitError` is true too. Code `ERR_CIRCUIT_ISOLATED`.
 */
export class IsolatedCircuitError extends BrokenCircuitError {
  readonly isIsolatedCircuitError = true;
  constructor(message: string) {
    super(message, Number.POSITIVE_INFINITY, undefined, 'ERR_CIRCUIT_ISOLATED');
    this.name = 'IsolatedCircuitError';
  }
}

/**
 * A {@link ResourcePool} could not create a resource for this acquirer: `cause` is the error `create`
 * threw. Acquirers get it at once instead of hanging while the pool backs off. Code `ERR_POOL_CREATE`.
 */
export class PoolCreateError extends AsyncPrimitiveError {
  readonly isPoolCreateError = true;
  constructor(
    message: string,
    /** Ms until the pool tries `create` again (its backoff). */
    readonly retryInMs: number,
    options?: ErrorOptions,
  ) {
    super(message, 'ERR_POOL_CREATE', options);
    this.name = 'PoolCreateError';
  }
}

/** True for a {@link BrokenCircuitError} or {@link IsolatedCircuitError} (also from another copy of the package). */
export const isBrokenCircuitError = (e: unknown): e is BrokenCircuitError =>
  e instanceof Error && (e as Partial<BrokenCircuitError>).isBrokenCircuitError === true;
/** True for an {@link IsolatedCircuitError} (also from another copy of the package). */
export const isIsolatedCircuitError = (e: unknown): e is IsolatedCircuitError =>
  e instanceof Error && (e as Partial<IsolatedCircuitError>).isIsolatedCircuitError === true;
/** True for a {@link PoolCreateError} (also from another copy of the package). */
export const isPoolCreateError = (e: unknown): e is PoolCreateError =>
  e instanceof Error && (e as Partial<PoolCreateError>).isPoolCreateError === true;

/**
 * A {@link BatchProcessor}'s batch function returned something other than one result per item (a
 * different length, or not an array). Every caller of that batch is rejected with it; the processor keeps
 * serving. Code `ERR_BATCH_RESULT`.
 */
export class BatchResultError extends AsyncPrimitiveError {
  readonly isBatchResultError = true;
  constructor(
    message: string,
    /** Items in the batch (results expected). */
    readonly expected: number,
    /** Results returned, or -1 when the batch function did not return an array. */
    readonly received: number,
  ) {
    super(message, 'ERR_BATCH_RESULT');
    this.name = 'BatchResultError';
  }
}

/** True for a {@link BatchResultError} (also from another copy of the package). */
export const isBatchResultError = (e: unknown): e is BatchResultError =>
  e instanceof Error && (e as Partial<BatchResultError>).isBatchResultError === true;
