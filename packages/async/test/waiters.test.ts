import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CancelReason, noop, WaiterQueue } from '../src/internal/waiters';

const timeoutError = () => new Error('timed out');

/** Queues a waiter and records how it ended. */
function watch<T>(promise: Promise<T>, log: string[], name: string): Promise<void> {
  return promise.then(
    () => {
      log.push(`${name}:granted`);
    },
    () => {
      log.push(`${name}:rejected`);
    },
  );
}

afterEach(() => {
  vi.useRealTimers();
});

describe('WaiterQueue', () => {
  it('grants in FIFO order and returns undefined when empty', async () => {
    const queue = new WaiterQueue<number>();
    const log: string[] = [];
    const all = ['a', 'b', 'c'].map((name) => watch(queue.enqueue(1, {}, timeoutError), log, name));
    expect(queue.size).toBe(3);
    expect(queue.peek()?.weight).toBe(1);
    while (queue.grant(0) !== undefined) {}
    await Promise.all(all);
    expect(log).toEqual(['a:granted', 'b:granted', 'c:granted']);
    expect(queue.size).toBe(0);
    expect(queue.peek()).toBeUndefined();
  });

  it('removes an aborted waiter from the middle and keeps the others in order', async () => {
    const queue = new WaiterQueue<void>();
    const controller = new AbortController();
    const log: string[] = [];
    const reasons: Array<[CancelReason, number]> = [];
    const onCancel = (reason: CancelReason) => reasons.push([reason, queue.size]);
    const a = watch(queue.enqueue(1, {}, timeoutError, onCancel), log, 'a');
    const b = watch(queue.enqueue(2, { signal: controller.signal }, timeoutError, onCancel), log, 'b');
    const c = watch(queue.enqueue(3, {}, timeoutError, onCancel), log, 'c');
    controller.abort();
    await b;
    // onCancel runs after the waiter left: the owner sees the new size.
    expect(reasons).toEqual([['aborted', 2]]);
    expect(queue.grant()?.weight).toBe(1);
    expect(queue.grant()?.weight).toBe(3);
    await Promise.all([a, c]);
    expect(log).toEqual(['b:rejected', 'a:granted', 'c:granted']);
  });

  it('rejects with the owner-built error on timeout and reports timedOut', async () => {
    vi.useFakeTimers();
    const queue = new WaiterQueue<void>();
    const onCancel = vi.fn();
    const waiting = queue.enqueue(1, { timeoutMs: 30 }, timeoutError, onCancel);
    const outcome = waiting.catch((e: unknown) => e);
    vi.advanceTimersByTime(29);
    expect(queue.size).toBe(1);
    vi.advanceTimersByTime(1);
    expect(((await outcome) as Error).message).toBe('timed out');
    expect(onCancel).toHaveBeenCalledWith('timedOut', expect.objectContaining({ weight: 1 }));
    expect(queue.size).toBe(0);
  });

  it('drops the timer and the abort listener when a waiter is granted', async () => {
    vi.useFakeTimers();
    const queue = new WaiterQueue<string>();
    const controller = new AbortController();
    const waiting = queue.enqueue(1, { signal: controller.signal, timeoutMs: 1000 }, timeoutError);
    expect(vi.getTimerCount()).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    queue.grant('yes');
    await expect(waiting).resolves.toBe('yes');
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // A late abort does nothing to a waiter that already left.
    controller.abort();
    expect(queue.size).toBe(0);
  });

  it('an Infinity timeout sets no timer', () => {
    vi.useFakeTimers();
    const queue = new WaiterQueue<void>();
    const waiting = queue
      .enqueue(1, { timeoutMs: Number.POSITIVE_INFINITY }, timeoutError)
      .catch(() => 'left');
    expect(vi.getTimerCount()).toBe(0);
    queue.rejectAll(new Error('cleanup'));
    return expect(waiting).resolves.toBe('left');
  });

  it('queues a waiter the owner built, in FIFO order with the others, and cancels it the same way', async () => {
    vi.useFakeTimers();
    const queue = new WaiterQueue<string>();
    const own = {
      weight: 2,
      enqueuedAt: performance.now(),
      task: 'mine',
      prev: undefined,
      next: undefined,
      resolve: noop,
      reject: noop,
      watch: undefined,
      queued: true,
    };
    const first = queue.enqueue(1, {}, timeoutError);
    const mine = queue.enqueueWaiter(own, { timeoutMs: 50 }, timeoutError).catch((e: Error) => e.message);
    const last = queue.enqueue(1, {}, timeoutError);
    expect(queue.size).toBe(3);
    expect(queue.grant('a')?.weight).toBe(1);
    expect(queue.peek()).toBe(own);
    await vi.advanceTimersByTimeAsync(50);
    expect(await mine).toBe('timed out');
    expect(own.queued).toBe(false);
    expect(queue.size).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    queue.grant('b');
    expect(await first).toBe('a');
    expect(await last).toBe('b');
  });

  it('rejectAll, rejectOne and remove leave no timers or listeners behind', async () => {
    vi.useFakeTimers();
    const queue = new WaiterQueue<void>();
    const controller = new AbortController();
    const waits = Array.from({ length: 5 }, () =>
      queue
        .enqueue(1, { signal: controller.signal, timeoutMs: 1000 }, timeoutError)
        .catch((e: Error) => e.message),
    );
    queue.rejectOne(new Error('one'));
    const second = queue.peek()!;
    expect(queue.remove(second, new Error('removed'))).toBe(true);
    expect(queue.remove(second, new Error('again'))).toBe(false);
    expect(queue.rejectAll(new Error('closed'))).toBe(3);
    expect(await Promise.all(waits)).toEqual(['one', 'removed', 'closed', 'closed', 'closed']);
    expect(queue.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('lets 20k aborted waiters leave with nothing left behind', async () => {
    const queue = new WaiterQueue<void>();
    const n = 20_000;
    // One controller each: Node's EventTarget scans its listener list on add/remove, so thousands of
    // waits sharing one signal would be quadratic in Node itself, whatever the queue does.
    const controllers = Array.from({ length: n }, () => new AbortController());
    const waits = controllers.map((c) => queue.enqueue(1, { signal: c.signal }, timeoutError));
    const settled = Promise.allSettled(waits);
    // Abort from the middle outwards, so removal never happens only at the head.
    for (let i = 0; i < n; i += 2) controllers[i]!.abort();
    for (let i = 1; i < n; i += 2) controllers[i]!.abort();
    const results = await settled;
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(queue.size).toBe(0);
    expect(queue.peek()).toBeUndefined();
    expect(controllers.every((c) => getEventListeners(c.signal, 'abort').length === 0)).toBe(true);
  });
});
