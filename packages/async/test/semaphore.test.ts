import { AsyncLocalStorage } from 'node:async_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ClosedError,
  isClosedError,
  isQueueFullError,
  isTimeoutError,
  Permit,
  Semaphore,
} from '../src/index';

/** Resolves after every pending microtask (and the promise jobs they queue) has run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A promise plus its resolver, for tasks the test finishes by hand. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Records the order in which acquisitions are granted. */
function track(promise: Promise<Permit>, log: string[], name: string): Promise<Permit> {
  return promise.then((permit) => {
    log.push(name);
    return permit;
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Semaphore', () => {
  it('never runs more than `permits` tasks at once', async () => {
    const sem = new Semaphore(3);
    let running = 0;
    let peak = 0;
    const task = async () => {
      running++;
      peak = Math.max(peak, running);
      await settle();
      running--;
    };
    await Promise.all(Array.from({ length: 20 }, () => sem.run(task)));
    expect(peak).toBe(3);
    expect(sem.stats()).toMatchObject({ active: 0, waiting: 0, acquired: 20 });
  });

  it('grants waiters in arrival order', async () => {
    const sem = new Semaphore(1);
    const first = await sem.acquire();
    const log: string[] = [];
    const waits = ['a', 'b', 'c'].map((name) => track(sem.acquire(), log, name));
    first.release();
    for (const w of waits) (await w).release();
    expect(log).toEqual(['a', 'b', 'c']);
  });

  it('does not let light waiters overtake a heavy one at the head', async () => {
    const sem = new Semaphore(3);
    const held = await sem.acquire({ weight: 2 });
    const log: string[] = [];
    const heavy = track(sem.acquire({ weight: 3 }), log, 'heavy');
    const light = track(sem.acquire({ weight: 1 }), log, 'light');
    await settle();
    // One permit is free, yet the light waiter must wait behind the heavy one.
    expect(log).toEqual([]);
    expect(sem.tryAcquire()).toBeUndefined();
    held.release();
    (await heavy).release();
    (await light).release();
    expect(log).toEqual(['heavy', 'light']);
  });

  it('re-checks the next waiters when a blocking head is cancelled', async () => {
    const sem = new Semaphore(2);
    const held = await sem.acquire();
    const controller = new AbortController();
    const heavy = sem.acquire({ weight: 2, signal: controller.signal });
    const light = sem.acquire();
    controller.abort();
    await expect(heavy).rejects.toBe(controller.signal.reason);
    const permit = await light;
    expect(sem.stats()).toMatchObject({ active: 2, waiting: 0, aborted: 1 });
    permit.release();
    held.release();
  });

  it('rejects with signal.reason on abort and leaves the queue', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const waiting = sem.acquire({ signal: controller.signal });
    const reason = new Error('client went away');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(sem.stats()).toMatchObject({ waiting: 0, aborted: 1 });
    held.release();
    expect(sem.stats().active).toBe(0);
  });

  it('rejects at once when the signal is already aborted, even with permits free', async () => {
    const sem = new Semaphore(1);
    await expect(sem.acquire({ signal: AbortSignal.abort('early') })).rejects.toBe('early');
    await expect(sem.run(() => 1, { signal: AbortSignal.abort('early') })).rejects.toBe('early');
    expect(sem.stats()).toMatchObject({ active: 0, acquired: 0, aborted: 2 });
  });

  it('times out a wait with TimeoutError and clears its timer', async () => {
    vi.useFakeTimers();
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const waiting = sem.acquire({ timeoutMs: 50 });
    const outcome = waiting.catch((e: unknown) => e);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(49);
    expect(sem.stats().waiting).toBe(1);
    vi.advanceTimersByTime(1);
    const error = await outcome;
    expect(isTimeoutError(error)).toBe(true);
    expect((error as { timeoutMs: number }).timeoutMs).toBe(50);
    expect(sem.stats()).toMatchObject({ waiting: 0, timedOut: 1 });
    // A granted waiter's timer is cleared too.
    const granted = sem.acquire({ timeoutMs: 1000 });
    held.release();
    (await granted).release();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with QueueFullError beyond maxQueue without touching the queue', async () => {
    const sem = new Semaphore(1, { maxQueue: 1 });
    const held = await sem.acquire();
    const queued = sem.acquire();
    const error = await sem.acquire().catch((e: unknown) => e);
    expect(isQueueFullError(error)).toBe(true);
    expect(sem.stats()).toMatchObject({ waiting: 1, rejected: 1 });
    held.release();
    (await queued).release();
  });

  it('tryAcquire takes free permits but never jumps the queue', async () => {
    const sem = new Semaphore(2);
    const a = sem.tryAcquire();
    expect(a).toBeInstanceOf(Permit);
    const b = sem.tryAcquire();
    expect(sem.tryAcquire()).toBeUndefined();
    const waiter = sem.acquire();
    a!.release();
    // The freed permit belongs to the waiter, not to a new tryAcquire.
    expect(sem.tryAcquire()).toBeUndefined();
    (await waiter).release();
    b!.release();
    expect(sem.stats().active).toBe(0);
  });

  it('releases a permit once, however often release or dispose is called', async () => {
    const sem = new Semaphore(2);
    const permit = await sem.acquire();
    const other = await sem.acquire();
    expect(permit.release()).toBe(true);
    expect(permit.release()).toBe(false);
    permit[Symbol.dispose]();
    await permit[Symbol.asyncDispose]();
    expect(permit.released).toBe(true);
    expect(sem.stats().active).toBe(1);
    other.release();
  });

  it('works with `using` and `await using`', async () => {
    const sem = new Semaphore(1);
    {
      using permit = sem.tryAcquire()!;
      expect(permit.weight).toBe(1);
      expect(sem.stats().active).toBe(1);
    }
    {
      await using permit = await sem.acquire();
      expect(permit.released).toBe(false);
    }
    expect(sem.stats().active).toBe(0);
  });

  it('run resolves with the result and releases on success, rejection and synchronous throw', async () => {
    const sem = new Semaphore(1);
    await expect(sem.run(async () => 'async')).resolves.toBe('async');
    await expect(sem.run(() => 'sync')).resolves.toBe('sync');
    const boom = new Error('boom');
    await expect(sem.run(() => Promise.reject(boom))).rejects.toBe(boom);
    await expect(
      sem.run(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    await expect(sem.run(() => 'weighted', { weight: 1 })).resolves.toBe('weighted');
    expect(sem.stats()).toMatchObject({ active: 0, acquired: 5 });
  });

  it('run holds weighted permits until the task settles, also when queued', async () => {
    const sem = new Semaphore(3);
    const gate = deferred();
    const first = sem.run(() => gate.promise, { weight: 2 });
    const second = sem.run(async () => sem.stats().active, { weight: 2 });
    await settle();
    expect(sem.stats()).toMatchObject({ active: 2, waiting: 1 });
    gate.resolve();
    await first;
    await expect(second).resolves.toBe(2);
    expect(sem.stats().active).toBe(0);
  });

  it('queued run tasks never start when their wait is rejected', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const fn = vi.fn();
    const controller = new AbortController();
    const run = sem.run(fn, { signal: controller.signal });
    controller.abort();
    await expect(run).rejects.toBeDefined();
    held.release();
    await settle();
    expect(fn).not.toHaveBeenCalled();
  });

  it('setPermits grows at once and wakes waiters', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const log: string[] = [];
    const waits = ['a', 'b'].map((name) => track(sem.acquire(), log, name));
    sem.setPermits(3);
    const permits = await Promise.all(waits);
    expect(log).toEqual(['a', 'b']);
    expect(sem.stats()).toMatchObject({ permits: 3, active: 3 });
    for (const p of [held, ...permits]) p.release();
  });

  it('setPermits shrinks by letting current holders finish', async () => {
    const sem = new Semaphore(3);
    const held = await Promise.all([sem.acquire(), sem.acquire(), sem.acquire()]);
    sem.setPermits(1);
    expect(sem.stats()).toMatchObject({ permits: 1, active: 3, available: 0 });
    const next = sem.acquire();
    held[0]!.release();
    held[1]!.release();
    await settle();
    expect(sem.stats().waiting).toBe(1);
    held[2]!.release();
    (await next).release();
    expect(sem.stats().active).toBe(0);
  });

  it('setPermits rejects queued waiters heavier than the new count', async () => {
    const sem = new Semaphore(4);
    const held = await sem.acquire({ weight: 4 });
    const heavy = sem.acquire({ weight: 3 });
    const light = sem.acquire({ weight: 1 });
    sem.setPermits(2);
    await expect(heavy).rejects.toBeInstanceOf(RangeError);
    held.release();
    (await light).release();
  });

  it('records a wait for every acquisition, immediate ones as 0', async () => {
    vi.useFakeTimers();
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const waiting = sem.acquire();
    vi.advanceTimersByTime(40);
    held.release();
    (await waiting).release();
    const { waitMs, acquired } = sem.stats();
    expect(waitMs.count).toBe(acquired);
    expect(waitMs.min).toBe(0);
    expect(waitMs.max).toBeCloseTo(40, 5);
    expect(JSON.parse(JSON.stringify(sem.stats()))).toEqual(sem.stats());
  });

  it('close rejects waiters with ClosedError, refuses new work and lets holders release', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const waiting = sem.acquire();
    const queuedRun = sem.run(() => 'never');
    sem.close();
    sem.close();
    await expect(waiting).rejects.toBeInstanceOf(ClosedError);
    await expect(queuedRun).rejects.toBeInstanceOf(ClosedError);
    await expect(sem.acquire()).rejects.toBeInstanceOf(ClosedError);
    await expect(sem.acquire({ weight: 1 })).rejects.toBeInstanceOf(ClosedError);
    await expect(sem.run(() => 1)).rejects.toSatisfy(isClosedError);
    expect(() => sem.tryAcquire()).toThrow(ClosedError);
    held.release();
    expect(sem.stats()).toMatchObject({ active: 0, waiting: 0, closed: true });
  });

  it('Symbol.dispose closes the semaphore', async () => {
    const sem = new Semaphore(1);
    sem[Symbol.dispose]();
    expect(sem.stats().closed).toBe(true);
  });

  it('rejects bad constructor input with errors naming the option', () => {
    expect(() => new Semaphore(0)).toThrow(/permits must be >= 1, received 0/);
    expect(() => new Semaphore(-2)).toThrow(RangeError);
    expect(() => new Semaphore(1.5)).toThrow(/permits must be an integer, received 1.5/);
    expect(() => new Semaphore(Number.NaN)).toThrow(TypeError);
    expect(() => new Semaphore('3' as unknown as number)).toThrow(/permits must be a number, received "3"/);
    expect(() => new Semaphore(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => new Semaphore(1, { maxQueue: -1 })).toThrow(/maxQueue/);
  });

  it('rejects bad acquire input and keeps its state intact', async () => {
    const sem = new Semaphore(2);
    const before = sem.stats();
    await expect(sem.acquire({ weight: 3 })).rejects.toThrow(/weight must be <= permits \(2\), received 3/);
    await expect(sem.acquire({ weight: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(sem.acquire({ weight: 1.5 })).rejects.toBeInstanceOf(RangeError);
    await expect(sem.acquire({ timeoutMs: -1 })).rejects.toThrow(/timeoutMs/);
    await expect(sem.acquire({ signal: {} as AbortSignal })).rejects.toBeInstanceOf(TypeError);
    await expect(sem.run('nope' as unknown as () => void)).rejects.toBeInstanceOf(TypeError);
    expect(() => sem.tryAcquire(5)).toThrow(RangeError);
    expect(() => sem.setPermits(0)).toThrow(RangeError);
    expect(() => sem.setPermits(2.5)).toThrow(RangeError);
    expect(sem.stats()).toEqual(before);
    expect(sem.permits).toBe(2);
  });

  it('preserves AsyncLocalStorage context through acquire and run', async () => {
    const als = new AsyncLocalStorage<string>();
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const seen: Array<string | undefined> = [];
    const callers = ['a', 'b', 'c'].map((id) =>
      als.run(id, async () => {
        const permit = await sem.acquire();
        seen.push(als.getStore());
        permit.release();
        return sem.run(async () => als.getStore());
      }),
    );
    const fastRun = als.run('fast', () => new Semaphore(1).run(() => als.getStore()));
    held.release();
    expect(await Promise.all(callers)).toEqual(['a', 'b', 'c']);
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(await fastRun).toBe('fast');
  });

  it('starts a long queue of synchronous tasks in order without recursing once per task', async () => {
    const sem = new Semaphore(1);
    const held = sem.tryAcquire()!;
    const order: number[] = [];
    const n = 100_000;
    const all = Array.from({ length: n }, (_, i) =>
      sem.run(() => {
        order.push(i);
        if (i === 5) throw new Error('five');
        return i;
      }),
    );
    // Every task is synchronous: each one's release happens inside the drain that started it.
    held.release();
    const results = await Promise.allSettled(all);
    expect(order.length).toBe(n);
    expect(order.every((v, i) => v === i)).toBe(true);
    expect(results[5]).toMatchObject({ status: 'rejected', reason: new Error('five') });
    expect(results[6]).toEqual({ status: 'fulfilled', value: 6 });
    expect(results[n - 1]).toEqual({ status: 'fulfilled', value: n - 1 });
    expect(sem.stats()).toMatchObject({ active: 0, waiting: 0, acquired: n + 1 });
  });

  it('keeps each queued run task in its own caller context', async () => {
    const als = new AsyncLocalStorage<number>();
    const sem = new Semaphore(2);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        als.run(i, () =>
          sem.run(async () => {
            await settle();
            return als.getStore();
          }),
        ),
      ),
    );
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
