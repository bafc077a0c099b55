import { Histogram, type HistogramSnapshot } from '@perf/monitor';
import { ClosedError } from './errors';
import { type Batch, FlushTracker, newBatch, picker, rejectAll, settleResults } from './internal/batch';
import { checkNumber } from './internal/validate';
import type { Permit } from './permit';
import { Semaphore } from './semaphore';

/**
 * Processes a batch: return one result per item, in order. Put an `Error` instance in an item's slot to
 * reject only that item's caller; throw (or reject) to reject every caller of this batch.
 */
export type BatchFn<T, R> = (items: T[]) => ReadonlyArray<R | Error> | PromiseLike<ReadonlyArray<R | Error>>;

/** Options for {@link BatchProcessor}. Defaults are the seed's `AsyncBatchProcessor(batch_size=50, max_wait_time=0.1)`. */
export interface BatchProcessorOptions {
  /** A batch is dispatched as soon as it holds this many items (an integer >= 1). @default 50 */
  batchSize?: number;
  /**
   * Longest an item waits for its batch to fill, in ms, counted from the batch's first item. `0` means
   * "end of the current tick": everything submitted in the same tick (including from promise callbacks
   * that run in it) shares a batch, as with dataloader. @default 100
   */
  maxWaitMs?: number;
  /** Batches running at once (an integer >= 1, or Infinity); further ones queue FIFO. @default 1 */
  maxConcurrentBatches?: number;
  /**
   * Unref the `maxWaitMs` timer. Off by default, deliberately: the timer exists only while items wait
   * for their batch (never while idle) and fires within `maxWaitMs`, so it keeps the process alive just
   * until those items are dispatched (the one lazy timer may outlive the last batch by up to
   * `maxWaitMs`; `close()` clears it); unref'd, a script awaiting one `process()` could exit first.
   * @default false
   */
  unref?: boolean;
}

/** Options of {@link BatchProcessor.close}. */
export interface BatchCloseOptions {
  /**
   * `true`: dispatch the pending items and wait for every batch to settle. `false`: reject items not yet
   * handed to the batch function with `ClosedError`, then wait for the running batches. @default true
   */
  drain?: boolean;
}

/** A point-in-time view of a {@link BatchProcessor}, plain and JSON-serialisable. */
export interface BatchProcessorStats {
  /** Items in the batch being filled. */
  pending: number;
  /** Batches dispatched and waiting for a concurrency slot. */
  queuedBatches: number;
  /** Batches whose function is running. */
  runningBatches: number;
  /** Batches whose function settled (successfully or not). */
  batches: number;
  /** Items in those batches. */
  items: number;
  /** Batches whose function threw or returned the wrong number of results. */
  failedBatches: number;
  /** Callers rejected: by their `Error` slot, a failed batch, or close without drain. */
  failedItems: number;
  /** True after {@link BatchProcessor.close} began. */
  closed: boolean;
  /** Items per settled batch. */
  size: HistogramSnapshot;
  /** Batch function run time in ms. */
  durationMs: HistogramSnapshot;
  /** Ms from a batch's first `process()` call until the batch settled: the worst item latency in it. */
  latencyMs: HistogramSnapshot;
}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Collects single items into batches for one bulk call (the seed's `AsyncBatchProcessor`): a batch goes
 * out when it holds `batchSize` items or its first item has waited `maxWaitMs`, at most
 * `maxConcurrentBatches` at a time. Each `process(item)` resolves with that item's own result.
 *
 * @example
 * const users = new BatchProcessor(async (ids: number[]) => {
 *   const rows = await db.query('select * from users where id = any($1)', [ids]);
 *   const byId = new Map(rows.map((r) => [r.id, r]));
 *   return ids.map((id) => byId.get(id) ?? new Error(`no user ${id}`));
 * }, { batchSize: 100, maxWaitMs: 5 });
 * const user = await users.process(42);
 *
 * @throws {TypeError | RangeError} from the constructor for a non-function `fn` or bad options.
 */
export class BatchProcessor<T, R> implements AsyncDisposable {
  readonly batchSize: number;
  readonly maxWaitMs: number;
  readonly maxConcurrentBatches: number;
  private readonly fn: BatchFn<T, R>;
  private readonly unref: boolean;
  // Own Semaphore, not p-limit: measured faster in bench/batch.bench.ts (see README), and its close()
  // rejects queued batches, which close({ drain: false }) needs. `undefined` when unbounded.
  private readonly slots: Semaphore | undefined;
  private current: Batch<T> | undefined;
  // One lazy timer: it is not cleared when a batch fills up (a steady stream would pay a setTimeout and
  // a clearTimeout per batch); when it fires it dispatches the current batch if that one is due, or
  // re-arms for it.
  private timer: ReturnType<typeof setTimeout> | undefined;
  private tickScheduled = false;
  private ready: Batch<T>[] = [];
  private launchScheduled = false;
  private readonly inflight = new FlushTracker();
  // Set by close({ drain: false }): batches cut but not yet started are refused.
  private abandoned = false;
  private queuedBatches = 0;
  private runningBatches = 0;
  private batches = 0;
  private items = 0;
  private failedBatches = 0;
  private failedItems = 0;
  private closed = false;
  private readonly size = new Histogram();
  private readonly durationMs = new Histogram();
  private readonly latencyMs = new Histogram();

  private readonly onTimer = (): void => {
    this.timer = undefined;
    const batch = this.current;
    if (batch === undefined) return;
    const left = batch.firstAt + this.maxWaitMs - performance.now();
    if (left <= 0) this.dispatch(batch);
    else this.setTimer(left);
  };
  private readonly onTick = (): void => {
    this.tickScheduled = false;
    if (this.current !== undefined) this.dispatch(this.current);
  };

  constructor(fn: BatchFn<T, R>, options: BatchProcessorOptions = {}) {
    if (typeof fn !== 'function')
      throw new TypeError(`BatchProcessor: fn must be a function, received ${String(fn)}`);
    this.fn = fn;
    this.batchSize = checkNumber('BatchProcessor', 'batchSize', options.batchSize ?? 50, {
      min: 1,
      integer: true,
    });
    this.maxWaitMs = checkNumber('BatchProcessor', 'maxWaitMs', options.maxWaitMs ?? 100, { min: 0 });
    this.maxConcurrentBatches = checkNumber(
      'BatchProcessor',
      'maxConcurrentBatches',
      options.maxConcurrentBatches ?? 1,
      {
        min: 1,
        integer: true,
        allowInfinity: true,
      },
    );
    this.unref = options.unref ?? false;
    this.slots =
      this.maxConcurrentBatches === Number.POSITIVE_INFINITY
        ? undefined
        : new Semaphore(this.maxConcurrentBatches);
  }

  /**
   * Adds `item` to the current batch and resolves with its own result. Rejects with the `Error` the batch
   * function put in its slot, with what the batch function threw, with a `BatchResultError` when the
   * result count was wrong, or with `ClosedError` after {@link BatchProcessor.close}.
   */
  process(item: T): Promise<R> {
    if (this.closed) return Promise.reject(new ClosedError('BatchProcessor: closed'));
    let batch = this.current;
    if (batch === undefined) {
      batch = newBatch<T>();
      this.current = batch;
      this.arm();
    }
    const index = batch.items.push(item) - 1;
    // The caller's own promise, derived from the batch's (see Batch.promise).
    const promise = batch.promise.then(picker(index)) as Promise<R>;
    if (index + 1 >= this.batchSize) this.dispatch(batch);
    return promise;
  }

  /** Dispatches the pending items now and resolves once every batch dispatched so far has settled. */
  async flush(): Promise<void> {
    if (this.current !== undefined) this.dispatch(this.current);
    this.disarm();
    await this.inflight.flush();
  }

  /**
   * Stops accepting items (`process()` rejects with `ClosedError`) and, by default, drains: pending items
   * are dispatched and the returned promise resolves when every batch has settled. With
   * `{ drain: false }` items not yet handed to the batch function are rejected with `ClosedError`
   * instead; running batches still finish. Clears the timer. Calling it again waits again.
   */
  async close(options: BatchCloseOptions = {}): Promise<void> {
    this.closed = true;
    if (options.drain ?? true) {
      await this.flush();
      return;
    }
    this.abandoned = true;
    this.disarm();
    const batch = this.current;
    this.current = undefined;
    if (batch !== undefined)
      this.failedItems += rejectAll(batch, new ClosedError('BatchProcessor: closed before dispatch'));
    // Batches waiting for a slot get ClosedError from the slots' close (see launch).
    this.slots?.close();
    await this.flush();
  }

  /** Same as `close()` (draining). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A JSON-serialisable snapshot of counts and histograms. */
  stats(): BatchProcessorStats {
    return {
      pending: this.current?.items.length ?? 0,
      queuedBatches: this.queuedBatches,
      runningBatches: this.runningBatches,
      batches: this.batches,
      items: this.items,
      failedBatches: this.failedBatches,
      failedItems: this.failedItems,
      closed: this.closed,
      size: this.size.snapshot(),
      durationMs: this.durationMs.snapshot(),
      latencyMs: this.latencyMs.snapshot(),
    };
  }

  private arm(): void {
    if (this.maxWaitMs === 0) {
      if (this.tickScheduled) return;
      this.tickScheduled = true;
      // After the promise jobs of this tick, like dataloader: loads issued from `.then` callbacks that
      // run in this tick still join the batch.
      Promise.resolve().then(() => process.nextTick(this.onTick));
      return;
    }
    if (this.timer === undefined) this.setTimer(this.maxWaitMs);
  }

  private setTimer(ms: number): void {
    this.timer = setTimeout(this.onTimer, ms);
    if (this.unref) this.timer.unref?.();
  }

  private disarm(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Cuts a batch and queues it to start once the current synchronous code is done. */
  private dispatch(batch: Batch<T>): void {
    this.current = undefined;
    this.inflight.dispatched(batch);
    this.queuedBatches++;
    this.ready.push(batch);
    if (this.launchScheduled) return;
    this.launchScheduled = true;
    // Batches start after the promise jobs of this tick, as dataloader schedules them: starting the
    // batch function inside the caller's loop was 4x slower (every started batch's promises survived the
    // loop's young-generation GCs), and a plain microtask 1.4x slower than this (bench/batch.bench.ts).
    RESOLVED.then(this.scheduleLaunch);
  }

  private readonly scheduleLaunch = (): void => {
    process.nextTick(this.launchReady);
  };

  private readonly launchReady = (): void => {
    this.launchScheduled = false;
    const ready = this.ready;
    this.ready = [];
    for (const batch of ready) this.launch(batch);
  };

  /** Starts a batch now, or waits for a concurrency slot. */
  private launch(batch: Batch<T>): void {
    if (this.abandoned) {
      this.refuse(batch, new ClosedError('BatchProcessor: closed before the batch started'));
      return;
    }
    const slots = this.slots;
    if (slots === undefined) {
      this.start(batch, undefined);
      return;
    }
    let permit: Permit | undefined;
    try {
      permit = slots.tryAcquire();
    } catch (error) {
      this.refuse(batch, error);
      return;
    }
    if (permit !== undefined) {
      this.start(batch, permit);
      return;
    }
    slots.acquire().then(
      (granted) => this.start(batch, granted),
      (error: unknown) => this.refuse(batch, error),
    );
  }

  /** The slots were closed (close without drain) before the batch got one: it never runs. */
  private refuse(batch: Batch<T>, error: unknown): void {
    this.queuedBatches--;
    this.failedItems += rejectAll(batch, error);
    this.inflight.settled(batch);
  }

  private start(batch: Batch<T>, permit: Permit | undefined): void {
    this.queuedBatches--;
    this.runningBatches++;
    const started = performance.now();
    let out: ReturnType<BatchFn<T, R>>;
    try {
      out = this.fn(batch.items);
    } catch (error) {
      this.finish(batch, permit, started, false, error);
      return;
    }
    if (Array.isArray(out)) {
      this.finish(batch, permit, started, true, out);
      return;
    }
    Promise.resolve(out).then(
      (results) => this.finish(batch, permit, started, true, results),
      (error: unknown) => this.finish(batch, permit, started, false, error),
    );
  }

  /** Settles every caller of the batch from the function's outcome, records it and frees its slot. */
  private finish(
    batch: Batch<T>,
    permit: Permit | undefined,
    started: number,
    ok: boolean,
    value: unknown,
  ): void {
    const n = batch.items.length;
    if (!ok || !Array.isArray(value) || value.length !== n) this.failedBatches++;
    this.failedItems += ok ? settleResults(batch, value) : rejectAll(batch, value);
    const now = performance.now();
    this.runningBatches--;
    this.batches++;
    this.items += n;
    this.size.record(n);
    this.durationMs.record(now - started);
    this.latencyMs.record(now - batch.firstAt);
    permit?.release();
    this.inflight.settled(batch);
  }
}
