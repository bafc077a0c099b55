import {
  Backoff,
  type BackoffOptions,
  type ResolvedBackoffOptions,
  resolveBackoffOptions,
} from '@perf/async';
import { Histogram } from '@perf/monitor';
import {
  Acquisition,
  Attempt,
  checkAcquireOptions,
  EXHAUSTED,
  isLockClosedReason,
  TIMED_OUT,
} from './acquisition';
import { isLockLostError, LockClosedError, LockLostError, LockTimeoutError } from './errors';
import { Handle, type HandleOwner } from './handle';
import { LinkedSet } from './linked-set';
import type { AcquireOptions, LockHandle, LockProvider, LockStats } from './types';

export { checkAcquireOptions, isDeadlineAbort } from './acquisition';

/** Options every provider accepts. */
export interface BaseLockOptions {
  /**
   * Backoff between failed attempts (the seed's `BackoffConfig`). Waiters also wake early when the
   * provider learns of a release, so the delays are a fallback, not the normal hand-off path. An early
   * wake that loses the race sleeps the same delay again: only delays that ran out without a release
   * advance the sequence and count against `maxRetries`.
   * @default { baseDelayMs: 10, maxDelayMs: 5000, multiplier: 2, jitter: 'full', maxRetries: 20 }
   */
  backoff?: BackoffOptions;
}

/** What the base passes to {@link BaseLockProvider.tryOnce}. */
export interface AttemptContext {
  /** 1 for the first attempt of this acquisition (0 in {@link BaseLockProvider.yieldFirst}). */
  readonly attempt: number;
  /**
   * Aborts when the caller's signal aborts, the deadline passes, or the provider closes. An attempt that
   * waits (PostgreSQL `wait: 'block'`) must stop when it fires; see {@link BaseLockProvider.tryOnce}.
   * The same object for every attempt of one acquisition (usable as a map key). Made on first read:
   * prefer {@link AttemptContext.aborted}/{@link AttemptContext.onAbort} on paths that rarely wait.
   */
  readonly signal: AbortSignal;
  /** ms left before the deadline: `Infinity` without a timeout, `0` for `tryAcquire()` (never block). */
  readonly remainingMs: number;
  /** True once the acquisition was aborted (caller's signal, deadline, close), without making a signal. */
  readonly aborted: boolean;
  /**
   * Runs `hook` once when the acquisition is aborted (at once if it already was); returns a function
   * that unregisters it. Cheaper than a listener on `signal`, for attempts that usually finish at once.
   */
  onAbort(hook: () => void): () => void;
  /** True when the abort came from the acquisition's `timeoutMs` (see {@link isDeadlineAbort}). */
  deadlineReached(): boolean;
}

/** A successful attempt: the provider's per-lock data and what the handle reports. */
export interface Lease<S> {
  /** Kept on the handle (`handle.state`) and passed back to {@link BaseLockProvider.releaseOnce}. */
  state: S;
  /** The fencing token taken while holding the lock, when fencing is on. */
  fencingToken?: bigint | undefined;
  /** True when this single attempt had to wait (a blocking wait), so the acquisition counts as contended. */
  contended?: boolean;
}

/**
 * The shared machinery behind every lock provider. A subclass implements how to try the lock once
 * ({@link BaseLockProvider.tryOnce}) and how to free it ({@link BaseLockProvider.releaseOnce}); the base
 * owns everything else:
 *
 * - validating `{ timeoutMs, signal }` and the `backoff` option,
 * - the acquire loop: attempt → backoff sleep → early wake on release → … until acquired, timed out
 *   (`LockTimeoutError`), aborted (`signal.reason`), closed (`LockClosedError`) or the backoff policy is
 *   exhausted (`LockTimeoutError`),
 * - handles ({@link Handle}: idempotent release, `await using`, lost-lock signal via `handle.lose()`),
 * - `withLock`, `stats()` (counters plus wait/hold {@link Histogram}s) and `close()`.
 *
 * Early wake: when a subclass learns that the lock was released (a NOTIFY, an `fs.watch` event) it calls
 * {@link BaseLockProvider.wake}; sleeping waiters retry at once. Releases through this provider wake
 * waiters automatically. {@link BaseLockProvider.armWake} lets a subclass start listening lazily, on
 * the first contended acquisition.
 *
 * @typeParam S - the provider's per-lock data (a pinned database client, a release function, ...).
 */
export abstract class BaseLockProvider<S = unknown> implements LockProvider {
  /** The key as shown in messages and metrics (`pg:42`, `file:/path`, `memory:name`). */
  readonly key: string;
  /** The validated backoff policy; every acquisition starts a fresh {@link Backoff} from it. */
  protected readonly backoffOptions: ResolvedBackoffOptions;
  /**
   * Wake every sleeper on a release instead of the oldest one: right for shared locks, where all of them
   * may get in. Subclasses set it in their constructor.
   */
  protected wakeAll = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  // Linked sets, not `Set`s: see linked-set.ts (they are on the path of every acquire and release).
  private readonly held = new LinkedSet<Handle<S>>();
  private readonly pending = new LinkedSet<Acquisition>();
  private readonly sleepers = new Set<() => void>();
  private wakeEpoch = 0;
  private readonly counters = {
    acquisitions: 0,
    failures: 0,
    timeouts: 0,
    aborted: 0,
    lost: 0,
    contended: 0,
    attempts: 0,
  };
  private readonly waitHistogram = new Histogram();
  private readonly holdHistogram = new Histogram();
  private readonly owner: HandleOwner<S> = { finish: (handle, lost) => this.finish(handle, lost) };

  /**
   * @param key - the key as shown in messages and metrics.
   * @param options - shared options; `owner` names the class in validation errors.
   * @throws {TypeError | RangeError} for invalid backoff options.
   */
  protected constructor(key: string, options: BaseLockOptions = {}, owner = 'LockProvider') {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`${owner}: options must be an object, received ${String(options)}`);
    }
    this.key = key;
    this.backoffOptions = resolveBackoffOptions(options.backoff ?? {}, `${owner} backoff`);
  }

  /**
   * Tries to take the lock once. Return a {@link Lease} when acquired, `undefined` when someone else
   * holds it. It may wait up to `ctx.remainingMs` (never when that is `0`) and must stop when
   * `ctx.signal` aborts. If it acquires although the signal aborted, it may still return the lease: the
   * base releases it through {@link BaseLockProvider.releaseOnce}. A rejection ends the acquisition
   * (counted as a failure) and must leave nothing held.
   */
  protected abstract tryOnce(ctx: AttemptContext): Promise<Lease<S> | undefined>;

  /**
   * Frees the lock of `handle` (its data is `handle.state`). Called exactly once per handle: on
   * `release()`, on `close()`, and after `handle.lose()` (then `handle.lost` is true and the call only has
   * to free resources). Throw a {@link LockLostError} when the release shows the lock was no longer held.
   */
  protected abstract releaseOnce(handle: Handle<S>): Promise<void>;

  /**
   * Called before every backoff sleep, so a subclass can start listening for releases lazily (LISTEN,
   * fs.watch) and re-arm after its listener died. Resolve `true` only when listening was not active
   * before this call (a release may have been missed, so the waiter retries at once instead of
   * sleeping); `false` when it already was, or when arming failed (the backoff delay is the fallback).
   * Keep the armed case cheap: it runs on every sleep. The default does nothing.
   */
  protected armWake(_signal: AbortSignal): Promise<boolean> | boolean {
    return false;
  }

  /**
   * Called when an acquisition ends (acquired, timed out, aborted, failed), with the same `signal` its
   * {@link BaseLockProvider.armWake} calls received, so a subclass can stop listening once no waiter is
   * left. The default does nothing.
   */
  protected disarmWake(_signal: AbortSignal): void {}

  /**
   * Called at the start of `acquire()` (not `tryAcquire()`): return `true` to let waiters that are
   * already queued go first. The acquisition then sleeps until the next release (or its first backoff
   * delay) before its first attempt, instead of barging in ahead of them. `ctx.signal` identifies the
   * acquisition, as in {@link BaseLockProvider.armWake} (reading it allocates it: only do so when
   * yielding). The default is `false`.
   */
  protected yieldFirst(_ctx: AttemptContext): boolean {
    return false;
  }

  /**
   * Called when a backoff delay ran out without a wake: return `true` to sleep the same delay again
   * without attempting, because waiters that came first are being served (releases keep arriving), so
   * an attempt now could only barge in ahead of them. Return `false` (the default) when the wake-ups
   * may have been missed: then the attempt is the fallback.
   */
  protected holdBack(_ctx: AttemptContext): boolean {
    return false;
  }

  /**
   * Called when a handle is handed to the caller, before `acquire()` resolves: start health checks or
   * watchers that call `handle.lose(reason)` when the lock is lost. Undone in
   * {@link BaseLockProvider.releaseOnce}. The default does nothing.
   */
  protected onGranted(_handle: Handle<S>): void {}

  /** Called once by `close()` after waiters were rejected and held locks released: stop timers, listeners. */
  protected onClose(): Promise<void> | void {}

  /**
   * Signals that the lock was (probably) released: wakes the oldest sleeping waiter, or all of them when
   * {@link BaseLockProvider.wakeAll} is set. Waiters between an attempt and their sleep also retry at once.
   */
  protected wake(all = this.wakeAll): void {
    this.wakeEpoch++;
    if (this.sleepers.size === 0) return;
    for (const resume of this.sleepers) {
      resume();
      if (!all) break;
    }
  }

  /** Locks currently held through this provider (for health checks and `close()`). */
  protected heldHandles(): readonly Handle<S>[] {
    return this.held.values();
  }

  /** True once `close()` was called. */
  protected get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Waits for the lock; see {@link LockProvider.acquire}.
   * @throws {LockTimeoutError} when not acquired within `timeoutMs` or the backoff policy is exhausted.
   * @throws {LockClosedError} after `close()`.
   * @throws {TypeError | RangeError} for invalid options (before anything is attempted).
   */
  acquire(options: AcquireOptions = {}): Promise<LockHandle> {
    return this.run(options, false) as Promise<LockHandle>;
  }

  /** One attempt that never waits: the handle, or `null` when someone else holds the lock. */
  tryAcquire(): Promise<LockHandle | null> {
    return this.run({ timeoutMs: 0 }, true);
  }

  /**
   * Acquires, runs `fn(handle)` and releases whatever `fn` does. Pass `handle.signal` to the work so it
   * stops when the lock is lost. `fn`'s error wins over a release error.
   * @throws whatever `acquire()` or `fn` throws; {@link LockLostError} when the release found the lock gone.
   */
  async withLock<T>(fn: (handle: LockHandle) => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    if (typeof fn !== 'function')
      throw new TypeError(`withLock: fn must be a function, received ${String(fn)}`);
    const handle = await this.acquire(options);
    let result: T;
    try {
      result = await fn(handle);
    } catch (error) {
      await handle.release().catch(() => undefined);
      throw error;
    }
    await handle.release();
    return result;
  }

  /** A plain, JSON-serialisable snapshot of counters and wait/hold histograms. */
  stats(): LockStats {
    return {
      ...this.counters,
      held: this.held.size,
      waitMs: this.waitHistogram.snapshot(),
      holdMs: this.holdHistogram.snapshot(),
    };
  }

  /** Rejects waiters with {@link LockClosedError}, releases held locks, stops timers and listeners. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Same as {@link BaseLockProvider.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async run(options: AcquireOptions, tryOnly: boolean): Promise<LockHandle | null> {
    const { timeoutMs, signal } = checkAcquireOptions(options);
    if (this.closed) throw new LockClosedError(this.key);
    if (signal?.aborted) {
      this.counters.aborted++;
      throw signal.reason;
    }
    const op = new Acquisition();
    // No closures unless needed: the uncontended path without signal or timeout allocates none.
    let onAbort: (() => void) | undefined;
    if (signal) {
      onAbort = () => op.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (timeoutMs > 0 && timeoutMs !== Number.POSITIVE_INFINITY) {
      timer = setTimeout(abortTimedOut, timeoutMs, op);
      timer.unref?.();
    }
    const started = performance.now();
    op.done = this.loop(op, started, timeoutMs, tryOnly);
    this.pending.add(op);
    try {
      return await op.done;
    } catch (error) {
      throw this.classify(error, op, started);
    } finally {
      this.pending.delete(op);
      if (timer !== undefined) clearTimeout(timer);
      if (op.hasSignal) this.disarmWake(op.signal);
      if (onAbort) signal!.removeEventListener('abort', onAbort);
    }
  }

  private async loop(
    op: Acquisition,
    started: number,
    timeoutMs: number,
    tryOnly: boolean,
  ): Promise<LockHandle | null> {
    let backoff: Backoff | undefined; // created on the first failed attempt: most acquisitions need none
    // A waiter woken by a release retries and, if it lost the race, sleeps the same delay again: only
    // delays that ran out without a release advance the backoff and count against `maxRetries`.
    let delay: number | undefined;
    let woken = false;
    if (!tryOnly && this.yieldFirst(new Attempt(op, 0, remainingMs(timeoutMs, started)))) {
      backoff = new Backoff(this.backoffOptions);
      delay = backoff.next();
      if (delay !== undefined) woken = await this.backoffSleep(delay, op, started, timeoutMs);
    }
    for (;;) {
      const epoch = this.wakeEpoch;
      op.attempts++;
      this.counters.attempts++;
      const lease = await this.tryOnce(new Attempt(op, op.attempts, remainingMs(timeoutMs, started)));
      if (lease) {
        const handle = this.createHandle(lease, started, op.attempts);
        if (op.aborted) {
          // Acquired in the same instant the wait was cancelled: give it back, report the cancellation.
          await this.releaseOnce(handle).catch(() => undefined);
          this.wake();
          throw op.reason;
        }
        return this.grant(handle, lease);
      }
      if (op.aborted) throw op.reason;
      if (tryOnly) return null;
      const left = remainingMs(timeoutMs, started);
      if (left <= 0) throw TIMED_OUT;
      if (await this.armWake(op.signal)) continue;
      if (this.wakeEpoch !== epoch) continue;
      if (delay === undefined || !woken) {
        backoff ??= new Backoff(this.backoffOptions);
        delay = backoff.next();
        if (delay === undefined) throw EXHAUSTED;
      }
      woken = await this.backoffSleep(delay, op, started, timeoutMs);
    }
  }

  /**
   * One backoff sleep of `delay` ms (cut at the deadline). While {@link BaseLockProvider.holdBack} says
   * others are ahead and the line moves, a delay that runs out is slept again instead of barging in.
   * Resolves `true` when woken by a release.
   */
  private async backoffSleep(
    delay: number,
    op: Acquisition,
    started: number,
    timeoutMs: number,
  ): Promise<boolean> {
    for (;;) {
      const left = remainingMs(timeoutMs, started);
      if (left <= 0) throw TIMED_OUT;
      const woken = await this.sleep(Math.min(delay, left), op);
      if (woken || !this.holdBack(new Attempt(op, op.attempts, left))) return woken;
    }
  }

  /**
   * Sleeps `ms`, or less when {@link BaseLockProvider.wake} runs first (then resolves `true`); rejects
   * when the acquisition is aborted.
   */
  private sleep(ms: number, op: Acquisition): Promise<boolean> {
    if (op.aborted) return Promise.reject(op.reason);
    return new Promise((resolve, reject) => {
      const finish = (woken: boolean) => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        op.onAbort = undefined;
        resolve(woken);
      };
      const wake = () => finish(true);
      const timer = setTimeout(finish, ms, false);
      this.sleepers.add(wake);
      op.onAbort = () => {
        finish(false);
        reject(op.reason);
      };
    });
  }

  private createHandle(lease: Lease<S>, started: number, attempts: number): Handle<S> {
    const now = performance.now();
    return new Handle<S>(
      {
        key: this.key,
        state: lease.state,
        fencingToken: lease.fencingToken,
        waitedMs: now - started,
        attempts,
        acquiredAtMono: now,
      },
      this.owner,
    );
  }

  private grant(handle: Handle<S>, lease: Lease<S>): Handle<S> {
    this.held.add(handle);
    this.onGranted(handle);
    this.counters.acquisitions++;
    if (handle.attempts > 1 || lease.contended) this.counters.contended++;
    this.waitHistogram.record(handle.waitedMs);
    return handle;
  }

  private async finish(handle: Handle<S>, lost: LockLostError | undefined): Promise<void> {
    this.held.delete(handle);
    this.holdHistogram.record(performance.now() - handle.acquiredAtMono);
    if (lost) {
      this.counters.lost++;
      // The lock is already gone; releaseOnce only frees resources, and its errors add nothing.
      await this.releaseOnce(handle).catch(() => undefined);
      this.wake();
      return;
    }
    try {
      await this.releaseOnce(handle);
    } catch (error) {
      this.counters.lost++;
      throw isLockLostError(error) ? error : new LockLostError(this.key, 'release failed', { cause: error });
    } finally {
      this.wake();
    }
  }

  private classify(error: unknown, op: Acquisition, started: number): unknown {
    const waited = performance.now() - started;
    if (error === TIMED_OUT || error === EXHAUSTED || (op.aborted && op.reason === TIMED_OUT)) {
      this.counters.timeouts++;
      const cause =
        error === EXHAUSTED ? { cause: new Error('backoff policy exhausted (maxRetries)') } : undefined;
      return new LockTimeoutError(this.key, waited, op.attempts, cause);
    }
    if (op.aborted) {
      if (isLockClosedReason(op.reason)) this.counters.failures++;
      else this.counters.aborted++;
      return op.reason;
    }
    this.counters.failures++;
    return error;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    const closedError = new LockClosedError(this.key);
    const pending = this.pending.values();
    for (const op of pending) op.abort(closedError);
    await Promise.allSettled(pending.map((op) => op.done));
    await Promise.all(this.held.values().map((handle) => handle.release().catch(() => undefined)));
    await this.onClose();
  }
}

/** ms left before the deadline; no clock read on the common paths (tryAcquire, no timeout). */
function remainingMs(timeoutMs: number, started: number): number {
  return timeoutMs === 0 || timeoutMs === Number.POSITIVE_INFINITY
    ? timeoutMs
    : Math.max(0, timeoutMs - (performance.now() - started));
}

function abortTimedOut(op: Acquisition): void {
  op.abort(TIMED_OUT);
}
