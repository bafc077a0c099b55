import { Histogram } from '@perf/monitor';
import { ClosedError, PoolCreateError, TimeoutError } from './errors';
import { IdleStack } from './internal/idle-stack';
import { SharedDeadline } from './internal/shared-deadline';
import { checkWaitOptions } from './internal/validate';
import { type CancelReason, WaiterQueue, type WaitOptions } from './internal/waiters';
import { Lease, type LeaseOwner, type PooledItem } from './lease';
import {
  type ResolvedPoolOptions,
  type ResourcePoolOptions,
  type ResourcePoolStats,
  resolvePoolOptions,
} from './resource-pool-options';

export type { ResourcePoolOptions, ResourcePoolStats } from './resource-pool-options';

// Waiter weights. A pool waiter always asks for one resource, so the weight field says instead who
// times it out: the pool's SharedDeadline timer, or the waiter's own timer (or nothing).
const SHARED_DEADLINE = 1;
const OWN_DEADLINE = 0;
const timeoutNever = () => new Error('unreachable: shared-deadline waiters have no own timer');

const OPEN = 0;
const DRAINING = 1;
const CLEARED = 2;

/**
 * A pool of reusable resources (database connections, sockets, workers). `acquire()` lends one as a
 * disposable {@link Lease}; waiters are served FIFO and can abort or time out in O(1). Idle resources are
 * checked with `validate` before each loan, evicted above `min` after `idleTimeoutMs` (one unref'ed timer)
 * and retired after `maxUses` loans. When `create` fails, acquirers that were waiting for a new resource
 * are rejected at once with a {@link PoolCreateError} carrying the cause, and further creates wait out a
 * backoff instead of hammering a dead server; acquirers are not left hanging until their timeout.
 *
 * Shut down with `drain()` (no new acquirers; queued ones are still served; resolves when every lease is
 * back) then `clear()` (destroys every resource), or `close()` / `await using` for both.
 *
 * @example
 * const pool = new ResourcePool({
 *   create: () => pg.connect(), destroy: (c) => c.end(), validate: (c) => !c.broken, min: 2, max: 10,
 * });
 * await pool.start();
 * const rows = await pool.use((client) => client.query('SELECT 1'));
 * await pool.close();
 * @throws {TypeError | RangeError} from the constructor, naming a bad option.
 */
export class ResourcePool<T> implements LeaseOwner<T>, AsyncDisposable {
  private readonly options: ResolvedPoolOptions<T>;
  private readonly idle: IdleStack<T>;
  private readonly waiters = new WaiterQueue<Lease<T>>();
  private readonly deadline: SharedDeadline<Lease<T>>;
  private readonly waitMs = new Histogram();
  private state = OPEN;
  private borrowed = 0;
  private creating = 0;
  private validating = 0;
  private blockedUntil = 0;
  private lastCreateError: unknown;
  private drained: Array<() => void> = [];
  private readonly counters = {
    created: 0,
    destroyed: 0,
    createErrors: 0,
    destroyErrors: 0,
    validationFailures: 0,
    acquired: 0,
    timedOut: 0,
    aborted: 0,
    createRejected: 0,
  };

  constructor(options: ResourcePoolOptions<T>) {
    const o = resolvePoolOptions(options);
    this.options = o;
    this.idle = new IdleStack<T>(
      o.idleTimeoutMs,
      () => this.size - o.min,
      (items) => {
        for (const item of items) void this.destroyItem(item);
      },
    );
    this.deadline = new SharedDeadline(
      this.waiters,
      o.acquireTimeoutMs,
      (waiter) => waiter.weight === SHARED_DEADLINE,
      () => this.timeoutError(o.acquireTimeoutMs),
      () => {
        this.counters.timedOut++;
        this.settleDrain();
      },
    );
  }

  /** Resources alive: available + borrowed + being created or validated. */
  get size(): number {
    return this.idle.length + this.borrowed + this.creating + this.validating;
  }

  /**
   * Creates resources until `min` exist. Resolves when they are ready.
   * @throws {PoolCreateError} with the first `create` error as `cause` (the pool stays usable; wrap
   * `start()` in `retry()` to wait for a dependency that is still starting).
   */
  async start(): Promise<void> {
    if (this.state !== OPEN) throw new ClosedError('ResourcePool: start after drain()/close()');
    const attempts: Array<Promise<unknown>> = [];
    while (this.size < this.options.min) attempts.push(this.createOne());
    const errors = (await Promise.all(attempts)).filter((e) => e !== undefined);
    if (errors.length > 0) {
      throw new PoolCreateError(
        `ResourcePool: start could not create ${errors.length} of ${attempts.length} resources`,
        this.retryInMs(),
        { cause: errors[0] },
      );
    }
  }

  /**
   * Borrows a resource: a free one at once, otherwise a new one (below `max`) or the next one released.
   * @throws {ClosedError} after `drain()`/`close()`. {@link TimeoutError} after `timeoutMs` (default
   * `acquireTimeoutMs`). `signal.reason` on abort. {@link PoolCreateError} when `create` failed for it or
   * is backing off. TypeError/RangeError for bad options.
   */
  acquire(options?: WaitOptions): Promise<Lease<T>> {
    if (this.state !== OPEN)
      return Promise.reject(new ClosedError('ResourcePool: acquire after drain()/close()'));
    if (options !== undefined) {
      try {
        checkWaitOptions('ResourcePool.acquire', options);
      } catch (error) {
        return Promise.reject(error);
      }
      if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    }
    // Fast path: a free resource, nobody ahead, nothing to validate: no queue, no timer.
    if (this.waiters.size === 0 && this.idle.length > 0 && this.options.validate === undefined) {
      this.waitMs.record(0);
      return Promise.resolve(this.lend(this.idle.pop()!));
    }
    const own = options?.timeoutMs;
    let promise: Promise<Lease<T>>;
    if (own === undefined && this.options.acquireTimeoutMs !== Number.POSITIVE_INFINITY) {
      // The pool-wide timeout: no per-waiter timer; the shared deadline timer expires these waiters.
      promise = this.waiters.enqueue(
        SHARED_DEADLINE,
        { signal: options?.signal },
        timeoutNever,
        this.onCancel,
      );
      this.deadline.watch();
    } else {
      promise = this.waiters.enqueue(
        OWN_DEADLINE,
        { signal: options?.signal, timeoutMs: own },
        () => this.timeoutError(own!),
        this.onCancel,
      );
    }
    this.dispatch();
    return promise;
  }

  /** Runs `fn` with a borrowed resource and releases it afterwards, also when `fn` throws. */
  async use<R>(fn: (resource: T) => R | Promise<R>, options?: WaitOptions): Promise<R> {
    const lease = await this.acquire(options);
    try {
      return await fn(lease.resource);
    } finally {
      lease.release();
    }
  }

  /**
   * Stops lending to new acquirers (they get {@link ClosedError}); already queued ones are still served.
   * Resolves when none is queued, every lease is back and no create/validate is in flight.
   */
  drain(): Promise<void> {
    if (this.state === OPEN) this.state = DRAINING;
    return new Promise((resolve) => {
      this.drained.push(resolve);
      this.settleDrain();
    });
  }

  /**
   * Destroys every idle resource and marks the pool closed: acquirers still queued are rejected with
   * {@link ClosedError}, and resources released later are destroyed. Call after `drain()`.
   */
  async clear(): Promise<void> {
    this.state = CLEARED;
    this.stopTimers();
    this.waiters.rejectAll(new ClosedError('ResourcePool: cleared'));
    const items = this.idle.takeAll();
    await Promise.all(items.map((item) => this.destroyItem(item)));
    this.settleDrain();
  }

  /** `drain()` then `clear()`: waits for every lease to come back, then destroys all resources. */
  async close(): Promise<void> {
    await this.drain();
    await this.clear();
  }

  /** Same as {@link ResourcePool.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A plain snapshot of the pool's gauges, counters and acquire-wait histogram. */
  stats(): ResourcePoolStats {
    return {
      size: this.size,
      available: this.idle.length,
      borrowed: this.borrowed,
      pending: this.waiters.size,
      creating: this.creating,
      validating: this.validating,
      ...this.counters,
      acquireWaitMs: this.waitMs.snapshot(),
    };
  }

  /** @internal Called by {@link Lease.release}. */
  returnItem(item: PooledItem<T>): void {
    this.borrowed--;
    if (item.uses >= this.options.maxUses || this.state === CLEARED) {
      void this.destroyItem(item);
    } else if (this.waiters.size > 0 && this.options.validate === undefined) {
      this.grantHead(item);
    } else {
      this.idle.push(item);
      if (this.waiters.size > 0) this.dispatch();
    }
    this.settleDrain();
  }

  /** @internal Called by {@link Lease.destroy}. */
  discardItem(item: PooledItem<T>): Promise<void> {
    this.borrowed--;
    const done = this.destroyItem(item);
    this.settleDrain();
    return done;
  }

  /** Matches queued acquirers with supply: idle resources first, then new ones up to `max`. */
  private dispatch(): void {
    while (this.waiters.size > this.creating + this.validating) {
      const item = this.idle.pop();
      if (item !== undefined) {
        if (this.options.validate === undefined) this.grantHead(item);
        else this.validateThenLend(item, this.options.validate);
        continue;
      }
      if (this.size >= this.options.max) return;
      if (performance.now() < this.blockedUntil) {
        // Create is backing off: the waiters it would serve fail now, with the cause, instead of hanging.
        this.rejectCreateWaiters();
        return;
      }
      void this.createOne();
    }
  }

  /** Creates one resource and hands it over; resolves with the error if `create` failed. */
  private async createOne(): Promise<unknown> {
    this.creating++;
    let resource: T;
    try {
      resource = await this.options.create();
    } catch (error) {
      this.creating--;
      this.counters.createErrors++;
      this.lastCreateError = error;
      this.blockedUntil = performance.now() + (this.options.createBackoff.next() ?? 0);
      // Not dispatch(): with a zero delay that would retry at once, a microtask busy loop while the
      // dependency is down. The next create is started by the next acquire, release or destroy.
      this.rejectCreateWaiters();
      this.settleDrain();
      return error;
    }
    this.creating--;
    this.counters.created++;
    this.options.createBackoff.reset();
    this.blockedUntil = 0;
    const item: PooledItem<T> = { resource, uses: 0, idleSince: 0 };
    if (this.state === CLEARED) void this.destroyItem(item);
    else if (this.waiters.size > 0) this.grantHead(item);
    else this.idle.push(item);
    this.settleDrain();
    return undefined;
  }

  /** Rejects, oldest first, the waiters that were counting on a create (not those a release will serve). */
  private rejectCreateWaiters(): void {
    let n = Math.min(this.waiters.size - this.creating - this.validating, this.options.max - this.size);
    if (n <= 0) return;
    const error = new PoolCreateError(
      `ResourcePool: create failed (${errorMessage(this.lastCreateError)})`,
      this.retryInMs(),
      { cause: this.lastCreateError },
    );
    while (n-- > 0 && this.waiters.rejectOne(error)) this.counters.createRejected++;
    if (this.waiters.size === 0) this.deadline.stop();
  }

  private async validateThenLend(
    item: PooledItem<T>,
    validate: (resource: T) => boolean | Promise<boolean>,
  ): Promise<void> {
    this.validating++;
    let ok: boolean;
    try {
      ok = (await validate(item.resource)) === true;
    } catch {
      ok = false;
    }
    this.validating--;
    if (!ok) {
      this.counters.validationFailures++;
      void this.destroyItem(item);
    } else if (this.state === CLEARED) void this.destroyItem(item);
    else if (this.waiters.size > 0) this.grantHead(item);
    else this.idle.push(item);
    this.dispatch();
    this.settleDrain();
  }

  private grantHead(item: PooledItem<T>): void {
    const waiter = this.waiters.peek()!;
    this.waitMs.record(performance.now() - waiter.enqueuedAt);
    this.waiters.grant(this.lend(item));
    if (this.waiters.size === 0) this.deadline.stop();
  }

  private lend(item: PooledItem<T>): Lease<T> {
    item.uses++;
    this.borrowed++;
    this.counters.acquired++;
    return new Lease(this, item);
  }

  private async destroyItem(item: PooledItem<T>): Promise<void> {
    this.counters.destroyed++;
    try {
      await this.options.destroy(item.resource);
    } catch {
      this.counters.destroyErrors++;
    }
    // A lost resource may leave waiters without supply, or the pool below `min`.
    if (this.state !== CLEARED) {
      this.dispatch();
      if (this.state === OPEN && this.size < this.options.min && performance.now() >= this.blockedUntil)
        void this.createOne();
    }
  }

  private stopTimers(): void {
    this.idle.stop();
    this.deadline.stop();
  }

  private timeoutError(timeoutMs: number): TimeoutError {
    return new TimeoutError(`ResourcePool: acquire timed out after ${timeoutMs} ms`, timeoutMs);
  }

  private readonly onCancel = (reason: CancelReason): void => {
    if (reason === 'aborted') this.counters.aborted++;
    else this.counters.timedOut++;
    if (this.waiters.size === 0) this.deadline.stop();
    this.settleDrain();
  };

  private retryInMs(): number {
    return Math.max(0, this.blockedUntil - performance.now());
  }

  private settleDrain(): void {
    if (this.state === OPEN || this.drained.length === 0) return;
    if (this.waiters.size > 0 || this.borrowed > 0 || this.creating > 0 || this.validating > 0) return;
    this.stopTimers();
    const drained = this.drained;
    this.drained = [];
    for (const resolve of drained) resolve();
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
