import { AsyncResource } from 'node:async_hooks';
import { Histogram, type HistogramSnapshot } from '@perf/monitor';
import { ClosedError, QueueFullError, TimeoutError } from './errors';
import { checkNumber, checkWaitOptions } from './internal/validate';
import {
  type CancelReason,
  noop,
  type Waiter,
  WaiterQueue,
  type WaitOptions,
  type Watch,
} from './internal/waiters';
import { Permit, type PermitOwner } from './permit';

/** Options for {@link Semaphore}. */
export interface SemaphoreOptions {
  /** Most callers allowed to wait; one more is rejected at once with a `QueueFullError`. @default Infinity */
  maxQueue?: number;
}

/** Options of {@link Semaphore.acquire} and {@link Semaphore.run}: a cancellable wait plus a weight. */
export interface AcquireOptions extends WaitOptions {
  /** Permits this caller needs at once (an integer from 1 to the current permit count). @default 1 */
  weight?: number | undefined;
}

/** A point-in-time view of a {@link Semaphore}, plain and JSON-serialisable. */
export interface SemaphoreStats {
  /** Permits in total (the current limit, see {@link Semaphore.setPermits}). */
  permits: number;
  /** Permits in use. Can exceed `permits` for a while after the limit shrank. */
  active: number;
  /** Permits free right now (never negative). */
  available: number;
  /** Callers queued. */
  waiting: number;
  /** Acquisitions granted so far (immediate and after waiting). */
  acquired: number;
  /** Callers refused because the queue was at `maxQueue`. */
  rejected: number;
  /** Waits that ended by their `timeoutMs`. */
  timedOut: number;
  /** Waits that ended by their `signal` (including signals already aborted on entry). */
  aborted: number;
  /** True after {@link Semaphore.close}. */
  closed: boolean;
  /**
   * Time from `acquire()` to the grant, in ms, over every granted acquisition: immediate grants count
   * as 0, so `count === acquired` and p95 answers "how long does a caller wait for a permit" (a
   * histogram of queued waits only would report a high p95 even when 99% of callers never waited).
   */
  waitMs: HistogramSnapshot;
}

const NO_OPTIONS: AcquireOptions = {};
// Only called by a timer, which exists only when timeoutMs was given; the closure is built then.
const noTimeout = (): Error => new TimeoutError('Semaphore: wait timed out', 0);

/**
 * A counting semaphore with a FIFO, weighted, cancellable queue (the seed's `AsyncSemaphore`). At most
 * `permits` units of work run at once; further callers wait in arrival order, and a heavy caller at the
 * head is never overtaken by lighter ones behind it (no starvation). An aborted or timed-out waiter
 * leaves the queue in O(1). AsyncLocalStorage context survives the wait.
 *
 * @example
 * const db = new Semaphore(10, { maxQueue: 1000 });
 * const rows = await db.run(() => query(sql), { timeoutMs: 2000, signal: req.signal });
 * await using permit = await db.acquire({ weight: 2 }); // manual hold, released at scope exit
 *
 * @throws {TypeError | RangeError} from the constructor when `permits` is not an integer >= 1 or
 * `maxQueue` is not an integer >= 0 (or Infinity).
 */
export class Semaphore implements PermitOwner, Disposable {
  private limit: number;
  private active = 0;
  private readonly maxQueue: number;
  private readonly queue = new WaiterQueue<unknown>();
  private readonly waitMs = new Histogram();
  private acquired = 0;
  private rejected = 0;
  private timedOut = 0;
  private aborted = 0;
  private closed = false;
  /** True while {@link Semaphore.drain} runs: a task it starts may release (and drain) synchronously. */
  private draining = false;

  // Pre-bound once so the weight-1 `run` path allocates no closure per call.
  private readonly releaseOne = <R>(value: R): R => {
    this.releasePermits(1);
    return value;
  };
  private readonly releaseOneOnError = (error: unknown): never => {
    this.releasePermits(1);
    throw error;
  };
  private readonly onCancel = (reason: CancelReason): void => {
    if (reason === 'aborted') this.aborted++;
    else this.timedOut++;
    // The cancelled waiter may have been the heavy head holding lighter ones back.
    this.drain();
  };

  constructor(permits: number, options: SemaphoreOptions = {}) {
    this.limit = checkNumber('Semaphore', 'permits', permits, { min: 1, integer: true });
    this.maxQueue = checkNumber('Semaphore', 'maxQueue', options.maxQueue ?? Number.POSITIVE_INFINITY, {
      min: 0,
      integer: true,
      allowInfinity: true,
    });
  }

  /** The current permit count. */
  get permits(): number {
    return this.limit;
  }

  /**
   * Waits for `weight` permits (FIFO) and resolves with a disposable {@link Permit}.
   * Rejects with `signal.reason` on abort, `TimeoutError` after `timeoutMs`, `QueueFullError` when
   * `maxQueue` callers already wait, `ClosedError` after {@link Semaphore.close}, and a TypeError or
   * RangeError for a bad weight/options (nothing is queued then).
   */
  acquire(options?: AcquireOptions): Promise<Permit> {
    const weight = options === undefined && !this.closed ? 1 : this.check(options ?? NO_OPTIONS);
    if (typeof weight !== 'number') return weight as Promise<never>;
    if (this.queue.size === 0 && this.active + weight <= this.limit) {
      this.grantNow(weight);
      return Promise.resolve(new Permit(this, weight));
    }
    return this.enqueue(weight, options ?? NO_OPTIONS, undefined) as Promise<Permit>;
  }

  /**
   * Takes `weight` permits only if they are free now and nobody waits (it never jumps the queue).
   * @returns the permit, or `undefined` when it would have to wait.
   * @throws {RangeError | TypeError} for a bad weight; {@link ClosedError} after close.
   */
  tryAcquire(weight = 1): Permit | undefined {
    this.checkWeight(weight);
    if (this.closed) throw new ClosedError('Semaphore: closed');
    if (this.queue.size !== 0 || this.active + weight > this.limit) return undefined;
    this.grantNow(weight);
    return new Permit(this, weight);
  }

  /**
   * Runs `fn` holding `weight` permits and resolves with its result; the permits are released when
   * `fn` settles (also when it throws). Rejects like {@link Semaphore.acquire} if no permit is granted,
   * in which case `fn` never runs. `fn` runs in the caller's AsyncLocalStorage context; a queued `fn`
   * is started by the call that frees its permits (a `release()` or the end of another task).
   */
  run<R>(fn: () => R | PromiseLike<R>, options?: AcquireOptions): Promise<Awaited<R>> {
    if (typeof fn !== 'function') {
      return Promise.reject(new TypeError(`Semaphore.run: fn must be a function, received ${String(fn)}`));
    }
    const weight = options === undefined && !this.closed ? 1 : this.check(options ?? NO_OPTIONS);
    if (typeof weight !== 'number') return weight as Promise<never>;
    if (this.queue.size === 0 && this.active + weight <= this.limit) {
      this.grantNow(weight);
      const out = this.invoke(fn, weight);
      return (out instanceof Promise ? out : Promise.resolve(out)) as Promise<Awaited<R>>;
    }
    // The promise returned is the waiter's own: `drain` starts the task and settles it with the task's
    // result, so a queued `run` costs one promise, not a grant promise plus a continuation.
    return this.enqueue(weight, options ?? NO_OPTIONS, fn) as Promise<Awaited<R>>;
  }

  /**
   * Changes the permit count while running. Growing wakes waiters at once; shrinking lets current
   * holders finish (new grants wait until `active` fits the new limit). Waiters whose weight exceeds the
   * new count could never be served, so they are rejected with a RangeError.
   * @throws {TypeError | RangeError} when `permits` is not an integer >= 1 (the limit is unchanged).
   */
  setPermits(permits: number): void {
    this.limit = checkNumber('Semaphore.setPermits', 'permits', permits, { min: 1, integer: true });
    for (let w = this.queue.peek(); w !== undefined; ) {
      const next = w.next;
      if (w.weight > permits) {
        this.queue.remove(
          w,
          new RangeError(`Semaphore: weight ${w.weight} exceeds the new permits ${permits}`),
        );
      }
      w = next;
    }
    this.drain();
  }

  /** A JSON-serialisable snapshot of counts and the wait-time histogram. */
  stats(): SemaphoreStats {
    return {
      permits: this.limit,
      active: this.active,
      available: Math.max(0, this.limit - this.active),
      waiting: this.queue.size,
      acquired: this.acquired,
      rejected: this.rejected,
      timedOut: this.timedOut,
      aborted: this.aborted,
      closed: this.closed,
      waitMs: this.waitMs.snapshot(),
    };
  }

  /**
   * Refuses new acquisitions (`ClosedError`) and rejects every queued waiter with `ClosedError`. Holders
   * keep their permits and may still release them. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.rejectAll(new ClosedError('Semaphore: closed while waiting'));
  }

  /** Same as {@link Semaphore.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal Called by {@link Permit.release} and after `run`'s task settles. */
  releasePermits(weight: number): void {
    this.active -= weight;
    if (this.queue.size !== 0) this.drain();
  }

  private grantNow(weight: number): void {
    this.active += weight;
    this.acquired++;
    // Immediate grants record 0 (the zero bucket: no logarithm, no clock read).
    this.waitMs.record(0);
  }

  /** Grants waiters from the head while they fit; the head is never skipped (FIFO, no starvation). */
  private drain(): void {
    // A task started below may release synchronously, which calls drain again: the loop already running
    // sees the freed permits on its next check, so the inner call has nothing to do (and a queue of
    // synchronous tasks does not recurse once per task).
    if (this.draining) return;
    let head = this.queue.peek();
    if (head === undefined || this.active + head.weight > this.limit) return;
    this.draining = true;
    try {
      const now = performance.now();
      do {
        this.active += head.weight;
        this.acquired++;
        this.waitMs.record(now - head.enqueuedAt);
        if (head instanceof QueuedRun) {
          // A `run` waiter: start its task in the context the caller queued it from.
          this.queue.take();
          head.runInAsyncScope(this.startTask, this, head);
        } else {
          this.queue.grant(new Permit(this, head.weight));
        }
        head = this.queue.peek();
      } while (head !== undefined && this.active + head.weight <= this.limit);
    } finally {
      this.draining = false;
    }
  }

  /** Runs a queued `run` task holding its permits and settles the waiter's promise with its result. */
  private startTask(waiter: QueuedRun): void {
    const out = this.invoke(waiter.fn, waiter.weight);
    if (out instanceof Promise) out.then(waiter.resolve, waiter.reject);
    else waiter.resolve(out);
  }

  /** Queues an `acquire` waiter, or with `fn` a `run` waiter that starts `fn` when granted. */
  private enqueue(
    weight: number,
    options: AcquireOptions,
    fn: (() => unknown) | undefined,
  ): Promise<unknown> {
    if (this.queue.size >= this.maxQueue) {
      this.rejected++;
      return Promise.reject(
        new QueueFullError(`Semaphore: ${this.maxQueue} callers already wait`, this.maxQueue),
      );
    }
    const { timeoutMs } = options;
    const timeoutError =
      timeoutMs === undefined
        ? noTimeout
        : () => new TimeoutError(`Semaphore: no permit within ${timeoutMs} ms`, timeoutMs);
    return fn === undefined
      ? this.queue.enqueue(weight, options, timeoutError, this.onCancel)
      : this.queue.enqueueWaiter(new QueuedRun(fn, weight), options, timeoutError, this.onCancel);
  }

  /** Calls `fn` with `weight` permits held; returns its value, or a promise when it is async. */
  private invoke(fn: () => unknown, weight: number): unknown {
    let out: unknown;
    try {
      out = fn();
    } catch (error) {
      this.releasePermits(weight);
      return Promise.reject(error);
    }
    if (out instanceof Promise || isThenable(out)) {
      const p = out instanceof Promise ? out : Promise.resolve(out);
      if (weight === 1) return p.then(this.releaseOne, this.releaseOneOnError);
      const release = () => this.releasePermits(weight);
      return p.finally(release);
    }
    this.releasePermits(weight);
    return out;
  }

  /** Validates options; returns the weight, or a rejected promise (never a synchronous throw). */
  private check(options: AcquireOptions): number | Promise<never> {
    try {
      checkWaitOptions('Semaphore', options);
      const weight = options.weight ?? 1;
      this.checkWeight(weight);
      if (this.closed) throw new ClosedError('Semaphore: closed');
      if (options.signal?.aborted) {
        this.aborted++;
        return Promise.reject(options.signal.reason);
      }
      return weight;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private checkWeight(weight: number): void {
    checkNumber('Semaphore', 'weight', weight, { min: 1, integer: true });
    if (weight > this.limit) {
      throw new RangeError(`Semaphore: weight must be <= permits (${this.limit}), received ${weight}`);
    }
  }
}

/**
 * A queued `run` caller: the waiter itself, its task, and the AsyncLocalStorage context it was queued
 * in (an `AsyncResource` created at enqueue, entered when the task starts). One object per queued task:
 * capturing the context with a promise continuation instead would add a grant promise, its resolvers
 * and a derived promise per waiter, and a separate resource object would add another allocation. With
 * 200k tasks queued at once the benchmark is mostly garbage collection of what each waiter holds.
 */
class QueuedRun extends AsyncResource implements Waiter<unknown> {
  readonly enqueuedAt = performance.now();
  prev: Waiter<unknown> | undefined = undefined;
  next: Waiter<unknown> | undefined = undefined;
  resolve: (value: unknown) => void = noop;
  reject: (error: unknown) => void = noop;
  watch: Watch | undefined = undefined;
  queued = true;

  constructor(
    readonly fn: () => unknown,
    readonly weight: number,
  ) {
    super('perf.Semaphore.run');
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}
