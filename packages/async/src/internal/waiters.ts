/**
 * The FIFO wait queue behind every primitive that makes callers wait (Semaphore, RateLimiter,
 * ResourcePool, ...). A doubly-linked list: O(1) enqueue, O(1) dequeue and O(1) removal of a waiter
 * whose signal aborted or whose timeout elapsed: no array shift, no scan. A cancelled waiter drops its
 * timer and abort listener at once, so a million abandoned waits leave nothing behind.
 */

/** Cancellation options accepted by every wait in @perf. */
export interface WaitOptions {
  /** Abort the wait; the promise rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /** Give up after this many ms; the promise rejects with the error the owner builds. @default Infinity */
  timeoutMs?: number | undefined;
}

/** Why a waiter left the queue without being granted. */
export type CancelReason = 'aborted' | 'timedOut';

/** One queued caller. `weight` is what it asks for (permits, tokens); the owner decides what it means. */
export interface Waiter<T> {
  readonly weight: number;
  /** `performance.now()` when it was queued. */
  readonly enqueuedAt: number;
  /** @internal */ prev: Waiter<T> | undefined;
  /** @internal */ next: Waiter<T> | undefined;
  /** @internal */ resolve: (value: T) => void;
  /** @internal */ reject: (error: unknown) => void;
  /** @internal What cancels it (timeout, abort signal); only waiters given one carry this object. */
  watch: Watch | undefined;
  /** @internal */ queued: boolean;
}

/**
 * The timeout and abort listener of a cancellable waiter, in their own object so that a waiter without
 * either (the common case, and 200k at once in a queue benchmark) is three fields smaller.
 * @internal
 */
export interface Watch {
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** A FIFO queue of waiters with O(1) cancellation. */
export class WaiterQueue<T> {
  /** Waiters currently queued. */
  size = 0;
  private head: Waiter<T> | undefined;
  private tail: Waiter<T> | undefined;

  /**
   * Queues a waiter and returns its promise. The promise resolves through {@link WaiterQueue.grant};
   * on abort it rejects with `signal.reason`, on timeout with `timeoutError()`. Either way the waiter is
   * unlinked in O(1) and `onCancel` runs after it left (so the owner can count it and wake whoever can
   * go now).
   */
  enqueue(
    weight: number,
    options: WaitOptions,
    timeoutError: () => Error,
    onCancel?: (reason: CancelReason, waiter: Waiter<T>) => void,
  ): Promise<T> {
    const waiter: Waiter<T> = {
      weight,
      enqueuedAt: performance.now(),
      prev: undefined,
      next: undefined,
      resolve: noop,
      reject: noop,
      watch: undefined,
      queued: true,
    };
    return this.enqueueWaiter(waiter, options, timeoutError, onCancel);
  }

  /**
   * Like {@link WaiterQueue.enqueue}, for an owner that builds the waiter itself: an object of its own
   * class carrying what the grant needs (a `Semaphore.run` task and its context), so a queued caller is
   * one object, not a waiter plus an attachment. It must be fresh: `queued` true, `prev`/`next` unset.
   */
  enqueueWaiter(
    waiter: Waiter<T>,
    options: WaitOptions,
    timeoutError: () => Error,
    onCancel?: (reason: CancelReason, waiter: Waiter<T>) => void,
  ): Promise<T> {
    waiter.prev = this.tail;
    // A shared executor instead of a closure per call: it stores the functions on `filling`.
    filling = waiter as Waiter<unknown>;
    const promise = new Promise<T>(
      storeSettlers as (resolve: (value: T) => void, reject: (error: unknown) => void) => void,
    );
    filling = undefined;
    if (this.tail) this.tail.next = waiter;
    else this.head = waiter;
    this.tail = waiter;
    this.size++;
    const { signal, timeoutMs } = options;
    if (signal) this.watchSignal(waiter, signal, onCancel);
    if (timeoutMs !== undefined && timeoutMs !== Number.POSITIVE_INFINITY)
      this.watchTimeout(waiter, timeoutMs, timeoutError, onCancel);
    return promise;
  }

  // Kept out of `enqueue` so that a waiter without a signal or timeout allocates no closure context.
  private watchSignal(
    waiter: Waiter<T>,
    signal: AbortSignal,
    onCancel: ((reason: CancelReason, waiter: Waiter<T>) => void) | undefined,
  ): void {
    const watch = watchOf(waiter);
    watch.signal = signal;
    watch.onAbort = () => {
      this.cancel(waiter, signal.reason);
      onCancel?.('aborted', waiter);
    };
    signal.addEventListener('abort', watch.onAbort, { once: true });
  }

  private watchTimeout(
    waiter: Waiter<T>,
    timeoutMs: number,
    timeoutError: () => Error,
    onCancel: ((reason: CancelReason, waiter: Waiter<T>) => void) | undefined,
  ): void {
    const watch = watchOf(waiter);
    watch.timer = setTimeout(() => {
      this.cancel(waiter, timeoutError());
      onCancel?.('timedOut', waiter);
    }, timeoutMs);
    watch.timer.unref?.();
  }

  /** The oldest waiter, still queued. */
  peek(): Waiter<T> | undefined {
    return this.head;
  }

  /** Removes the oldest waiter and resolves it with `value`. Returns it, or `undefined` when empty. */
  grant(value: T): Waiter<T> | undefined {
    const waiter = this.take();
    waiter?.resolve(value);
    return waiter;
  }

  /**
   * Removes the oldest waiter without settling its promise: the owner settles it itself (e.g. with the
   * result of the task it starts for it). Returns it, or `undefined` when empty.
   */
  take(): Waiter<T> | undefined {
    const waiter = this.head;
    if (!waiter) return undefined;
    this.unlink(waiter);
    return waiter;
  }

  /** Removes the oldest waiter and rejects it with `error`. Returns it, or `undefined` when empty. */
  rejectOne(error: unknown): Waiter<T> | undefined {
    const waiter = this.take();
    waiter?.reject(error);
    return waiter;
  }

  /**
   * Removes a still-queued waiter and rejects it with `error`, in O(1). For owners that track deadlines
   * themselves (one timer for many waiters). Returns false when the waiter had already left.
   */
  remove(waiter: Waiter<T>, error: unknown): boolean {
    if (!waiter.queued) return false;
    this.cancel(waiter, error);
    return true;
  }

  /** Rejects every queued waiter with `error` (e.g. on close) and empties the queue. */
  rejectAll(error: unknown): number {
    let n = 0;
    while (this.head) {
      const waiter = this.head;
      this.unlink(waiter);
      waiter.reject(error);
      n++;
    }
    return n;
  }

  private cancel(waiter: Waiter<T>, error: unknown): void {
    if (!waiter.queued) return;
    this.unlink(waiter);
    waiter.reject(error);
  }

  private unlink(waiter: Waiter<T>): void {
    waiter.queued = false;
    if (waiter.prev) waiter.prev.next = waiter.next;
    else this.head = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else this.tail = waiter.prev;
    waiter.prev = undefined;
    waiter.next = undefined;
    this.size--;
    const watch = waiter.watch;
    if (watch === undefined) return;
    waiter.watch = undefined;
    if (watch.timer !== undefined) clearTimeout(watch.timer);
    if (watch.onAbort) watch.signal!.removeEventListener('abort', watch.onAbort);
  }
}

/** The settlers of a waiter whose promise is not created yet (a waiter's initial `resolve`/`reject`). */
export const noop = (): void => {};

/** The waiter's {@link Watch}, created on first use. */
function watchOf<T>(waiter: Waiter<T>): Watch {
  if (waiter.watch === undefined) waiter.watch = { timer: undefined, signal: undefined, onAbort: undefined };
  return waiter.watch;
}
// The waiter whose promise is being created (see WaiterQueue.enqueue): `new Promise` runs its executor
// synchronously, so no other waiter can be in between.
let filling: Waiter<unknown> | undefined;

function storeSettlers(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
  filling!.resolve = resolve;
  filling!.reject = reject;
}
