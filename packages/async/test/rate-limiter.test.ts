import { AsyncLocalStorage } from 'node:async_hooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClosedError, isQueueFullError, isTimeoutError, RateLimiter } from '../src/index';

/** Lets granted waiters' continuations run (fake timers leave microtasks alone). */
const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

/** Acquires and records the fake time of the grant. */
function timed(limiter: RateLimiter, log: Array<[string, number]>, name: string, tokens = 1) {
  return limiter.acquire(tokens).then(() => {
    log.push([name, performance.now()]);
  });
}

beforeEach(() => {
  // Vitest 4 fakes `performance` by default; listing it keeps that explicit for the token maths.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('RateLimiter', () => {
  it('starts with a full bucket of `burst` tokens, then refills at `rate` per `intervalMs`', async () => {
    const limiter = new RateLimiter({ rate: 10, intervalMs: 1000, burst: 3 });
    const t0 = performance.now();
    const log: Array<[string, number]> = [];
    const all = ['a', 'b', 'c', 'd', 'e'].map((name) => timed(limiter, log, name));
    await flush();
    expect(log.map(([n]) => n)).toEqual(['a', 'b', 'c']);
    await vi.advanceTimersByTimeAsync(99);
    expect(log).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(log).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all(all);
    expect(log.map(([, at]) => at - t0)).toEqual([0, 0, 0, 100, 200]);
  });

  it('serves a large request before later small ones (FIFO, no starvation)', async () => {
    const limiter = new RateLimiter({ rate: 10, intervalMs: 1000, burst: 5 });
    await limiter.acquire(5);
    const log: Array<[string, number]> = [];
    const t0 = performance.now();
    const big = timed(limiter, log, 'big', 5);
    const smalls = ['s1', 's2', 's3'].map((name) => timed(limiter, log, name));
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all([big, ...smalls]);
    expect(log.map(([n, at]) => [n, at - t0])).toEqual([
      ['big', 500],
      ['s1', 600],
      ['s2', 700],
      ['s3', 800],
    ]);
  });

  it('keeps at most one timer, and none while idle', async () => {
    const limiter = new RateLimiter({ rate: 100, intervalMs: 1000, burst: 1 });
    expect(vi.getTimerCount()).toBe(0);
    const waits = Array.from({ length: 50 }, () => limiter.acquire());
    await flush();
    expect(vi.getTimerCount()).toBe(1);
    for (let i = 0; i < 80; i++) {
      await vi.advanceTimersByTimeAsync(7);
      expect(vi.getTimerCount()).toBeLessThanOrEqual(1);
    }
    await Promise.all(waits);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('delivers the exact long-run rate however the clock advances', async () => {
    const limiter = new RateLimiter({ rate: 30, intervalMs: 1000, burst: 1 });
    await limiter.acquire();
    let granted = 0;
    const waits = Array.from({ length: 1000 }, () =>
      limiter.acquire().then(() => {
        granted++;
      }),
    );
    // Odd steps: grants between timer fires must carry the fractional token forward.
    for (let t = 0; t < 20_000; t += 13) await vi.advanceTimersByTimeAsync(13);
    const elapsed = Math.floor(20_007 / 13) * 13;
    expect(granted).toBe(Math.floor((elapsed * 30) / 1000));
    limiter.close();
    await Promise.allSettled(waits);
  });

  it('rejects with TimeoutError after timeoutMs and moves the next waiter up', async () => {
    const limiter = new RateLimiter({ rate: 1, intervalMs: 1000, burst: 2 });
    await limiter.acquire(2);
    const slow = limiter.acquire(2, { timeoutMs: 100 }).catch((e: unknown) => e);
    const quick = limiter.acquire(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(isTimeoutError(await slow)).toBe(true);
    await vi.advanceTimersByTimeAsync(900);
    await quick;
    expect(limiter.stats()).toMatchObject({ timedOut: 1, waiting: 0, acquired: 2 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with signal.reason on abort and drops the timer when nobody waits', async () => {
    const limiter = new RateLimiter({ rate: 1, intervalMs: 1000 });
    await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(1, { signal: controller.signal });
    await flush();
    expect(vi.getTimerCount()).toBe(1);
    controller.abort();
    await expect(waiting).rejects.toBe(controller.signal.reason);
    expect(vi.getTimerCount()).toBe(0);
    await expect(limiter.acquire(1, { signal: AbortSignal.abort('late') })).rejects.toBe('late');
    expect(limiter.stats()).toMatchObject({ aborted: 2, waiting: 0 });
  });

  it('tryAcquire takes tokens only when there are enough and nobody waits', async () => {
    const limiter = new RateLimiter({ rate: 2, intervalMs: 1000 });
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire(2)).toBe(false);
    const waiting = limiter.acquire(2);
    await vi.advanceTimersByTimeAsync(400);
    expect(limiter.tryAcquire()).toBe(false);
    await vi.advanceTimersByTimeAsync(100);
    await waiting;
    expect(limiter.tryAcquire()).toBe(false);
    await vi.advanceTimersByTimeAsync(500);
    expect(limiter.tryAcquire()).toBe(true);
  });

  it('limit(fn) and run(fn) pass arguments and results through, one token per call', async () => {
    const limiter = new RateLimiter({ rate: 1, intervalMs: 100 });
    const double = limiter.limit(async (x: number, y: number) => (x + y) * 2);
    await expect(double(1, 2)).resolves.toBe(6);
    const second = double(2, 3);
    await vi.advanceTimersByTimeAsync(100);
    await expect(second).resolves.toBe(10);
    const third = limiter.run(() => 'ran', { tokens: 1 });
    await vi.advanceTimersByTimeAsync(100);
    await expect(third).resolves.toBe('ran');
    expect(limiter.stats()).toMatchObject({ acquired: 3, tokensGranted: 3 });
  });

  it('rejects with QueueFullError beyond maxQueue', async () => {
    const limiter = new RateLimiter({ rate: 1, maxQueue: 1 });
    await limiter.acquire();
    const queued = limiter.acquire();
    expect(isQueueFullError(await limiter.acquire().catch((e: unknown) => e))).toBe(true);
    expect(limiter.stats()).toMatchObject({ rejected: 1, waiting: 1 });
    await vi.advanceTimersByTimeAsync(1000);
    await queued;
  });

  it('close rejects waiters with ClosedError, clears its timer and refuses new work', async () => {
    const limiter = new RateLimiter({ rate: 1 });
    await limiter.acquire();
    const waiting = limiter.acquire();
    await flush();
    limiter.close();
    await expect(waiting).rejects.toBeInstanceOf(ClosedError);
    expect(vi.getTimerCount()).toBe(0);
    await expect(limiter.acquire()).rejects.toBeInstanceOf(ClosedError);
    await expect(limiter.run(() => 1)).rejects.toBeInstanceOf(ClosedError);
    expect(() => limiter.tryAcquire()).toThrow(ClosedError);
    limiter[Symbol.dispose]();
    expect(limiter.stats().closed).toBe(true);
  });

  it('reports stats without changing state', async () => {
    const limiter = new RateLimiter({ rate: 10, intervalMs: 1000, burst: 10 });
    await limiter.acquire(4);
    await vi.advanceTimersByTimeAsync(150);
    const stats = limiter.stats();
    expect(stats).toMatchObject({ rate: 10, intervalMs: 1000, burst: 10, acquired: 1, tokensGranted: 4 });
    expect(stats.tokens).toBeCloseTo(7.5, 9);
    expect(limiter.stats().tokens).toBeCloseTo(7.5, 9);
    expect(stats.waitMs.count).toBe(1);
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
  });

  it('rejects bad options with errors naming the option', () => {
    expect(() => new RateLimiter({ rate: 0 })).toThrow(/rate must be >= 1, received 0/);
    expect(() => new RateLimiter({ rate: -5 })).toThrow(RangeError);
    expect(() => new RateLimiter({ rate: 2.5 })).toThrow(/rate must be an integer, received 2.5/);
    expect(() => new RateLimiter({ rate: '100' as unknown as number })).toThrow(TypeError);
    expect(() => new RateLimiter({ rate: 1, intervalMs: 0 })).toThrow(/intervalMs must be > 0/);
    expect(() => new RateLimiter({ rate: 1, intervalMs: -1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ rate: 1, burst: 0 })).toThrow(/burst/);
    expect(() => new RateLimiter({ rate: 1, maxQueue: 1.5 })).toThrow(/maxQueue/);
    expect(() => new RateLimiter(undefined as unknown as { rate: number })).toThrow(TypeError);
  });

  it('rejects bad tokens (including more than burst) and keeps its state intact', async () => {
    const limiter = new RateLimiter({ rate: 5, burst: 5 });
    const before = limiter.stats();
    await expect(limiter.acquire(6)).rejects.toThrow(/tokens must be <= burst \(5\), received 6/);
    await expect(limiter.acquire(0)).rejects.toBeInstanceOf(RangeError);
    await expect(limiter.acquire(1.5)).rejects.toBeInstanceOf(RangeError);
    await expect(limiter.acquire(1, { timeoutMs: Number.NaN })).rejects.toBeInstanceOf(TypeError);
    expect(() => limiter.tryAcquire(6)).toThrow(RangeError);
    expect(() => limiter.limit(42 as unknown as () => void)).toThrow(TypeError);
    await expect(limiter.run(null as unknown as () => void)).rejects.toBeInstanceOf(TypeError);
    expect(limiter.stats()).toEqual(before);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('preserves AsyncLocalStorage context after acquire and inside limit(fn)', async () => {
    const als = new AsyncLocalStorage<string>();
    const limiter = new RateLimiter({ rate: 1, intervalMs: 10 });
    const whoAmI = limiter.limit(async () => als.getStore());
    const results = ['a', 'b', 'c'].map((id) =>
      als.run(id, async () => {
        await limiter.acquire();
        const after = als.getStore();
        return [after, await whoAmI()];
      }),
    );
    await vi.advanceTimersByTimeAsync(100);
    expect(await Promise.all(results)).toEqual([
      ['a', 'a'],
      ['b', 'b'],
      ['c', 'c'],
    ]);
  });
});
