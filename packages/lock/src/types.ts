import type { HistogramSnapshot } from '@perf/monitor';

/** Options of every acquisition. */
export interface AcquireOptions {
  /**
   * Give up after this many ms and reject with `LockTimeoutError`. `0` means a single attempt.
   * @default Infinity (bounded only by the backoff policy's `maxRetries`/`deadlineMs`)
   */
  timeoutMs?: number;
  /** Abort the wait; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * A held lock. Release it exactly once with `release()` or by disposal (`await using`); further releases
 * are no-ops. Watch `signal`: it aborts with `LockLostError` when the lock is lost while held.
 */
export interface LockHandle extends AsyncDisposable {
  /** The lock's key as shown in messages and metrics (`pg:42`, `file:/path`, `memory:name`). */
  readonly key: string;
  /** Aborts with `LockLostError` when the lock is lost while held; never aborts after a normal release. */
  readonly signal: AbortSignal;
  /**
   * Strictly increasing per key across every holder, when the provider has `fencing` on: pass it to the
   * resource you protect so it can reject writes from a holder that lost the lock. `undefined` otherwise.
   */
  readonly fencingToken: bigint | undefined;
  /** Epoch ms when the lock was acquired. */
  readonly acquiredAt: number;
  /** How long acquisition waited, in ms. */
  readonly waitedMs: number;
  /** Attempts made to acquire (1 when uncontended). */
  readonly attempts: number;
  /** True once released or lost. */
  readonly released: boolean;
  /** Releases the lock. Idempotent; never throws for "already released". */
  release(): Promise<void>;
}

/** Counters and histograms of a lock provider: plain, JSON-serialisable. */
export interface LockStats {
  /** Successful acquisitions. */
  acquisitions: number;
  /** Acquisitions that failed with an error other than a timeout or abort. */
  failures: number;
  /** Acquisitions that ended with `LockTimeoutError`. */
  timeouts: number;
  /** Acquisitions cancelled through their signal. */
  aborted: number;
  /** Held locks that were lost (`LockLostError`). */
  lost: number;
  /** Acquisitions that had to wait (more than one attempt, or a blocking wait). */
  contended: number;
  /** Total acquisition attempts. */
  attempts: number;
  /** Locks currently held through this provider. */
  held: number;
  /** Wait time per successful acquisition, in ms. */
  waitMs: HistogramSnapshot;
  /** Hold time per released lock, in ms. */
  holdMs: HistogramSnapshot;
}

/**
 * The one contract of every lock in @perf: PostgreSQL advisory locks, file locks, in-process locks.
 * A provider guards one key.
 */
export interface LockProvider extends AsyncDisposable {
  /** The key as shown in messages and metrics. */
  readonly key: string;
  /**
   * Waits for the lock.
   * @throws {LockTimeoutError} when not acquired within `timeoutMs` or the backoff policy is exhausted.
   * @throws {LockClosedError} after `close()`.
   */
  acquire(options?: AcquireOptions): Promise<LockHandle>;
  /** One attempt: the handle, or `null` when someone else holds the lock. */
  tryAcquire(): Promise<LockHandle | null>;
  /** Acquires, runs `fn` with the handle, and releases whatever `fn` does. */
  withLock<T>(fn: (handle: LockHandle) => T | Promise<T>, options?: AcquireOptions): Promise<T>;
  /** A snapshot of the provider's metrics. */
  stats(): LockStats;
  /** Rejects waiters, releases held locks, stops timers and listeners. Idempotent. */
  close(): Promise<void>;
}
