import { Backoff, type BackoffOptions, type ResolvedBackoffOptions, resolveBackoffOptions } from './backoff';
import { checkFunction, checkNumber, checkWaitOptions } from './internal/validate';
import { sleep } from './sleep';

/** What each attempt of {@link retry} receives. */
export interface RetryContext {
  /** 1 for the first call, 2 for the first retry, and so on. */
  readonly attempt: number;
  /** The caller's signal (if any): pass it on so an abort also cancels the attempt in flight. */
  readonly signal: AbortSignal | undefined;
}

/** What {@link RetryOptions.onRetry} is told before each wait. */
export interface RetryEvent {
  /** The error the failed attempt threw. */
  readonly error: unknown;
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  /** How long retry waits before attempt `attempt + 1`, in ms. */
  readonly delayMs: number;
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Most calls of `fn`, the first one included (`Infinity` allowed: then backoff limits decide). @default 3 */
  maxAttempts?: number;
  /**
   * Delays between attempts (see `BackoffOptions`). Its `maxRetries` and `deadlineMs` also end the loop.
   * Use `{ baseDelayMs: 0, maxDelayMs: 0 }` to retry at once (no timer is involved then).
   * @default the Backoff defaults: 10 ms base, ×2, full jitter, 5000 ms cap, 20 retries
   */
  backoff?: BackoffOptions;
  /**
   * Decides whether an error is worth another attempt. Returning false rethrows the error at once; if it
   * throws, retry rejects with what it threw. An abort of `signal` is never retried.
   * @default every error is retried
   */
  retryIf?: (error: unknown, attempt: number) => boolean | Promise<boolean>;
  /** Cancels the wait between attempts and stops further attempts; rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /** Called after a failed attempt, before the wait; awaited, and if it throws, retry rejects with that. */
  onRetry?: (event: RetryEvent) => void | Promise<void>;
}

const DEFAULT_BACKOFF: ResolvedBackoffOptions = resolveBackoffOptions({}, 'retry');

/**
 * Calls `fn` until it succeeds, waiting an exponential backoff (with jitter) between attempts. Like
 * p-retry, when attempts run out the **last error is rethrown unchanged** (not wrapped), so callers keep
 * matching on their own error types; `onRetry` sees every intermediate failure.
 *
 * Stops when: `fn` resolves; `maxAttempts` calls were made; the backoff is exhausted (`maxRetries` or
 * `deadlineMs`); `retryIf` says no; or `signal` aborts (checked before and after each attempt and during
 * each wait, which rejects with `signal.reason`).
 *
 * @example
 * const user = await retry(({ signal }) => fetch(url, { signal }).then((r) => r.json()), {
 *   maxAttempts: 5,
 *   backoff: { baseDelayMs: 100, maxDelayMs: 2000 },
 *   retryIf: (e) => !(e instanceof SyntaxError),
 *   signal: AbortSignal.timeout(10_000),
 * });
 * @throws the last error of `fn`; `signal.reason` on abort; TypeError/RangeError naming a bad option.
 */
export async function retry<T>(
  fn: (context: RetryContext) => T | Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const { signal, retryIf, onRetry } = options;
  if (typeof fn !== 'function') throw new TypeError(`retry: fn must be a function, received ${String(fn)}`);
  const maxAttempts = options.maxAttempts ?? 3;
  checkNumber('retry', 'maxAttempts', maxAttempts, { min: 1, integer: true, allowInfinity: true });
  checkFunction('retry', 'retryIf', retryIf);
  checkFunction('retry', 'onRetry', onRetry);
  checkWaitOptions('retry', { signal });
  // Validated up front so a bad option fails on the first call, not on the first failure.
  const backoffOptions = options.backoff ? resolveBackoffOptions(options.backoff, 'retry') : DEFAULT_BACKOFF;
  // Built lazily: the common case (first attempt succeeds) allocates no Backoff.
  let backoff: Backoff | undefined;

  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn({ attempt, signal });
    } catch (error) {
      signal?.throwIfAborted();
      if (attempt >= maxAttempts) throw error;
      if (retryIf && !(await retryIf(error, attempt))) throw error;
      backoff ??= new Backoff(backoffOptions);
      const delayMs = backoff.next();
      if (delayMs === undefined) throw error;
      if (onRetry) await onRetry({ error, attempt, delayMs });
      // A zero delay skips the timer entirely: setTimeout(0) would cost ~1 ms per retry.
      if (delayMs > 0) await sleep(delayMs, signal ? { signal } : {});
    }
  }
}
