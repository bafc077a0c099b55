import { AsyncLocalStorage } from 'node:async_hooks';
import { join } from 'node:path';
import { runNodeScript } from '@perf/testing';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  isClosedError,
  isPoolCreateError,
  isTimeoutError,
  type Lease,
  PoolCreateError,
  ResourcePool,
  type ResourcePoolOptions,
} from '../src/index';

interface Conn {
  id: number;
  healthy: boolean;
}

/** A pool of fake connections that records what was created and destroyed. */
function makePool(options: Partial<ResourcePoolOptions<Conn>> = {}) {
  let next = 0;
  const destroyed: number[] = [];
  const pool = new ResourcePool<Conn>({
    create: () => ({ id: ++next, healthy: true }),
    destroy: (c) => void destroyed.push(c.id),
    ...options,
  });
  return { pool, destroyed, created: () => next };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ResourcePool', () => {
  it('start() warms min resources', async () => {
    const { pool } = makePool({ min: 3, max: 5 });
    await pool.start();
    expect(pool.stats()).toMatchObject({ size: 3, available: 3, borrowed: 0, created: 3 });
    await pool.close();
  });

  it('lends a resource and takes it back; release is idempotent', async () => {
    const { pool } = makePool({ max: 2 });
    const lease = await pool.acquire();
    expect(lease.resource.id).toBe(1);
    expect(pool.stats()).toMatchObject({ size: 1, borrowed: 1, available: 0, acquired: 1 });
    lease.release();
    lease.release();
    await lease.destroy(); // after release: a no-op too
    expect(lease.released).toBe(true);
    expect(pool.stats()).toMatchObject({ size: 1, borrowed: 0, available: 1, destroyed: 0 });
    const again = await pool.acquire();
    expect(again.resource.id).toBe(1); // reused, not created
    again.release();
    await pool.close();
  });

  it('never exceeds max and serves waiters FIFO as resources come back', async () => {
    const { pool } = makePool({ max: 2 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const order: string[] = [];
    const track = (name: string) => (lease: Lease<Conn>) => {
      order.push(name);
      return lease;
    };
    const w1 = pool.acquire().then(track('w1'));
    const w2 = pool.acquire().then(track('w2'));
    const w3 = pool.acquire().then(track('w3'));
    await settle();
    expect(pool.stats()).toMatchObject({ size: 2, pending: 3, created: 2 });
    b.release();
    a.release();
    const [l1, l2] = await Promise.all([w1, w2]);
    expect(order).toEqual(['w1', 'w2']);
    expect([l1.resource.id, l2.resource.id]).toEqual([2, 1]);
    l1.release();
    (await w3).release();
    l2.release();
    expect(pool.stats()).toMatchObject({ size: 2, pending: 0, borrowed: 0 });
    expect(pool.stats().acquireWaitMs.count).toBe(5);
    await pool.close();
  });

  it('destroy() on a lease drops a broken resource and a waiter gets a fresh one', async () => {
    const { pool, destroyed } = makePool({ max: 1 });
    const lease = await pool.acquire();
    const waiter = pool.acquire();
    await lease.destroy();
    lease.release(); // no-op after destroy
    const next = await waiter;
    expect(destroyed).toEqual([1]);
    expect(next.resource.id).toBe(2);
    next.release();
    expect(pool.stats()).toMatchObject({ size: 1, destroyed: 1, borrowed: 0 });
    await pool.close();
  });

  it('works with using / await using', async () => {
    const { pool } = makePool();
    {
      await using lease = await pool.acquire();
      expect(pool.stats().borrowed).toBe(1);
      expect(lease.resource.id).toBe(1);
    }
    {
      using lease = await pool.acquire();
      expect(lease.resource.id).toBe(1);
    }
    expect(pool.stats().borrowed).toBe(0);
    await pool.close();
  });

  it('use() releases also when fn throws', async () => {
    const { pool } = makePool();
    await expect(pool.use((c) => c.id * 10)).resolves.toBe(10);
    await expect(
      pool.use(() => {
        throw new Error('query failed');
      }),
    ).rejects.toThrow('query failed');
    expect(pool.stats()).toMatchObject({ borrowed: 0, available: 1 });
    await pool.close();
  });

  it('validates idle resources on borrow, destroying those that fail (or throw)', async () => {
    const { pool, destroyed } = makePool({
      max: 3,
      validate: (c) => {
        if (c.id === 2) throw new Error('validate crashed');
        return c.healthy;
      },
    });
    const l1 = await pool.acquire();
    const l2 = await pool.acquire();
    l1.resource.healthy = false;
    l2.release();
    l1.release(); // idle stack: [2, 1]; 1 is on top
    const lease = await pool.acquire();
    expect(lease.resource.id).toBe(3); // 1 unhealthy, 2 threw: both destroyed, 3 created
    expect(destroyed.sort()).toEqual([1, 2]);
    expect(pool.stats()).toMatchObject({ validationFailures: 2, size: 1 });
    lease.release();
    await pool.close();
  });

  it('retires a resource after maxUses loans', async () => {
    const { pool, destroyed } = makePool({ maxUses: 2 });
    for (let i = 0; i < 5; i++) (await pool.acquire()).release();
    expect(destroyed).toEqual([1, 2]);
    expect(pool.stats()).toMatchObject({ created: 3, size: 1 });
    await pool.close();
  });

  it('rejects acquirers with PoolCreateError (cause attached) when create fails, then backs off', async () => {
    vi.useFakeTimers();
    try {
      let down = true;
      const create = vi.fn(async () => {
        if (down) throw new Error('ECONNREFUSED');
        return { id: 1, healthy: true };
      });
      const pool = new ResourcePool<Conn>({ create, createRetry: { baseDelayMs: 100, jitter: 'none' } });
      const first = await pool.acquire().catch((e: unknown) => e);
      expect(isPoolCreateError(first)).toBe(true);
      expect((first as PoolCreateError).code).toBe('ERR_POOL_CREATE');
      expect((first as Error).cause).toMatchObject({ message: 'ECONNREFUSED' });
      expect((first as PoolCreateError).retryInMs).toBe(100);
      // Within the backoff: fail fast, create is not called again.
      await expect(pool.acquire()).rejects.toBeInstanceOf(PoolCreateError);
      expect(create).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(100);
      await expect(pool.acquire()).rejects.toBeInstanceOf(PoolCreateError); // probe failed: next delay 200
      expect(create).toHaveBeenCalledTimes(2);
      await vi.advanceTimersByTimeAsync(199);
      await expect(pool.acquire()).rejects.toBeInstanceOf(PoolCreateError);
      expect(create).toHaveBeenCalledTimes(2);
      down = false;
      await vi.advanceTimersByTimeAsync(1);
      const lease = await pool.acquire();
      expect(lease.resource.id).toBe(1);
      lease.release();
      expect(pool.stats()).toMatchObject({ createErrors: 2, createRejected: 4, created: 1, pending: 0 });
      await pool.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('a create failure rejects only waiters counting on a create, not those waiting for a release', async () => {
    let fail = false;
    let next = 0;
    const pool = new ResourcePool<Conn>({
      max: 2,
      createRetry: { jitter: 'none' },
      create: async () => {
        if (fail) throw new Error('down');
        return { id: ++next, healthy: true };
      },
    });
    const a = await pool.acquire();
    const b = await pool.acquire();
    await b.destroy(); // size 1, max 2
    fail = true;
    const w1 = pool.acquire().catch((e: unknown) => e); // needs a create: fails
    const w2 = pool.acquire(); // waits for a's release
    expect(isPoolCreateError(await w1)).toBe(true);
    a.release();
    const served = await w2;
    expect(served.resource.id).toBe(1);
    served.release();
    await pool.drain();
    await pool.clear();
  });

  it('a create that throws synchronously with a zero backoff fails its waiters once, without a retry loop', async () => {
    const create = vi.fn(() => {
      throw new Error('sync failure');
    });
    const pool = new ResourcePool({ create, max: 3, createRetry: { baseDelayMs: 0, maxDelayMs: 0 } });
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map(() => pool.acquire()));
    expect(results.every((r) => r.status === 'rejected' && isPoolCreateError(r.reason))).toBe(true);
    expect(create.mock.calls.length).toBeLessThanOrEqual(5);
    expect(pool.stats()).toMatchObject({ size: 0, pending: 0, createRejected: 5 });
    await pool.close();
  });

  it('start() rejects with PoolCreateError when create fails, and the pool stays usable', async () => {
    let calls = 0;
    const pool = new ResourcePool({
      min: 2,
      create: () => {
        if (++calls === 1) throw new Error('first fails');
        return calls;
      },
      createRetry: { baseDelayMs: 0, maxDelayMs: 0 },
    });
    const error = await pool.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PoolCreateError);
    expect((error as Error).cause).toMatchObject({ message: 'first fails' });
    await pool.start();
    expect(pool.stats()).toMatchObject({ size: 2, createErrors: 1 });
    await pool.close();
  });

  it('drain() refuses new acquirers, serves queued ones, resolves when all leases are back; clear() destroys', async () => {
    const { pool, destroyed } = makePool({ max: 1 });
    const lease = await pool.acquire();
    const queued = pool.acquire();
    let drained = false;
    const drain = pool.drain().then(() => (drained = true));
    const late = await pool.acquire().catch((e: unknown) => e);
    expect(isClosedError(late)).toBe(true);
    lease.release();
    const second = await queued;
    await settle();
    expect(drained).toBe(false);
    second.release();
    await drain;
    expect(destroyed).toEqual([]);
    await pool.clear();
    expect(destroyed).toEqual([1]);
    expect(pool.stats()).toMatchObject({ size: 0, available: 0 });
    await expect(pool.acquire()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(pool.start()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('clear() rejects queued acquirers and destroys leases released later', async () => {
    const { pool, destroyed } = makePool({ max: 1 });
    const lease = await pool.acquire();
    const queued = pool.acquire().catch((e: unknown) => e);
    await pool.clear();
    expect(isClosedError(await queued)).toBe(true);
    lease.release();
    await settle();
    expect(destroyed).toEqual([1]);
  });

  it('counts destroy errors without throwing', async () => {
    const pool = new ResourcePool({
      create: () => ({}),
      destroy: () => Promise.reject(new Error('close failed')),
    });
    (await pool.acquire()).release();
    await pool.close();
    expect(pool.stats()).toMatchObject({ destroyed: 1, destroyErrors: 1 });
  });

  it('keeps the AsyncLocalStorage context of each acquirer', async () => {
    const als = new AsyncLocalStorage<string>();
    const { pool } = makePool({ max: 1 });
    const held = await pool.acquire();
    const results = Promise.all(
      ['a', 'b', 'c'].map((name) =>
        als.run(name, async () => {
          const lease = await pool.acquire();
          const seen = als.getStore();
          lease.release();
          return seen;
        }),
      ),
    );
    held.release();
    await expect(results).resolves.toEqual(['a', 'b', 'c']);
    await als.run('use', async () => {
      await pool.use(async () => expect(als.getStore()).toBe('use'));
    });
    await pool.close();
  });

  it('keeps every timer unref-ed while idle and clears them on close()', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const { pool } = makePool({ max: 3, idleTimeoutMs: 60_000 });
    const leases = await Promise.all([pool.acquire(), pool.acquire({ timeoutMs: 60_000 })]);
    const waiter = pool.acquire({ timeoutMs: 60_000 });
    expect(timers()).toBe(before); // the waiter's timeout timer is unref'ed
    for (const l of leases) l.release();
    (await waiter).release();
    expect(timers()).toBe(before); // so is the idle-eviction timer
    await pool.close();
    expect(timers()).toBe(before);
  });

  it('lets the process exit with idle resources, an open breaker and a pending withTimeout', async () => {
    const fixture = join(import.meta.dirname, 'fixtures/idle-primitives.ts');
    const child = await runNodeScript(fixture, { timeoutMs: 20_000 });
    expect(child.stderr).toBe('');
    expect(child.signal).toBeNull(); // not killed at the 20 s limit: it exited on its own
    expect(child.code).toBe(0);
    expect(child.result).toEqual({ pool: 3, breaker: 'open' });
  });

  it('keeps its books straight under any sequence of acquire, abort, release and destroy (property)', async () => {
    type Op = { kind: 'acquire' | 'abort' | 'release' | 'destroy' | 'releaseTwice'; pick: number };
    const op = fc.record({
      kind: fc.constantFrom('acquire', 'abort', 'release', 'destroy', 'releaseTwice'),
      pick: fc.nat(),
    }) as fc.Arbitrary<Op>;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.integer({ min: 1, max: 4 }), async (ops, max) => {
        const { pool } = makePool({ max, maxUses: 3 });
        const live: Lease<Conn>[] = [];
        const pending: Array<Promise<unknown>> = [];
        const check = () => {
          const s = pool.stats();
          expect(s.size).toBeLessThanOrEqual(max);
          expect(s.borrowed).toBe(live.length);
          expect(s.available + s.borrowed + s.creating + s.validating).toBe(s.size);
        };
        for (const { kind, pick } of ops) {
          if (kind === 'acquire' || kind === 'abort') {
            const controller = new AbortController();
            const p = pool.acquire({ signal: controller.signal }).then(
              (lease) => void live.push(lease),
              () => {},
            );
            pending.push(p);
            if (kind === 'abort') controller.abort();
          } else if (live.length > 0) {
            const [lease] = live.splice(pick % live.length, 1);
            if (kind === 'destroy') await lease!.destroy();
            else lease!.release();
            if (kind === 'releaseTwice') lease!.release();
          }
          await settle();
          check();
        }
        while (live.length > 0 || pool.stats().pending > 0) {
          for (const lease of live.splice(0)) lease.release();
          await settle();
        }
        await Promise.all(pending);
        check();
        expect(pool.stats()).toMatchObject({ borrowed: 0, pending: 0 });
        await pool.close();
      }),
      { numRuns: 60 },
    );
  });

  it.each([
    [{ create: undefined }, TypeError, /create/],
    [{ destroy: 1 }, TypeError, /destroy/],
    [{ validate: 'x' }, TypeError, /validate/],
    [{ min: -1 }, RangeError, /min.*-1/],
    [{ max: 0 }, RangeError, /max.*0/],
    [{ max: 2.5 }, RangeError, /max.*2\.5/],
    [{ min: 5, max: 2 }, RangeError, /min must be <= max/],
    [{ acquireTimeoutMs: -5 }, RangeError, /acquireTimeoutMs.*-5/],
    [{ idleTimeoutMs: 'soon' }, TypeError, /idleTimeoutMs.*"soon"/],
    [{ maxUses: 0 }, RangeError, /maxUses.*0/],
    [{ createRetry: { multiplier: 0.5 } }, RangeError, /createRetry.*multiplier/],
  ])('rejects bad option %o', (bad, type, message) => {
    const options = { create: () => 1, ...bad } as never;
    expect(() => new ResourcePool(options)).toThrow(type);
    expect(() => new ResourcePool(options)).toThrow(message);
  });

  it('rejects bad acquire options without changing state', async () => {
    const { pool } = makePool();
    await expect(pool.acquire({ timeoutMs: -1 })).rejects.toThrow(RangeError);
    await expect(pool.acquire({ signal: {} as never })).rejects.toThrow(TypeError);
    expect(pool.stats()).toMatchObject({ size: 0, pending: 0, acquired: 0 });
    (await pool.acquire()).release();
    await pool.close();
  });
});

describe('ResourcePool with fake timers', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('times out an acquire after acquireTimeoutMs (or its own timeoutMs) and removes the waiter', async () => {
    const { pool } = makePool({ max: 1, acquireTimeoutMs: 500 });
    const lease = await pool.acquire();
    const byDefault = pool.acquire().catch((e: unknown) => e);
    const own = pool.acquire({ timeoutMs: 100 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    expect(isTimeoutError(await own)).toBe(true);
    expect(pool.stats().pending).toBe(1);
    await vi.advanceTimersByTimeAsync(400);
    expect(await byDefault).toMatchObject({ code: 'ERR_TIMEOUT', timeoutMs: 500 });
    expect(pool.stats()).toMatchObject({ pending: 0, timedOut: 2 });
    lease.release();
    expect(pool.stats()).toMatchObject({ available: 1 });
  });

  it('expires waiters on the pool-wide timeout with one shared timer, each at its own deadline', async () => {
    const { pool } = makePool({ max: 1, acquireTimeoutMs: 1000 });
    const lease = await pool.acquire();
    const expired: string[] = [];
    const wait = (name: string, options?: { timeoutMs: number }) =>
      pool.acquire(options).then(
        (l) => l,
        (e: unknown) => {
          expect(isTimeoutError(e)).toBe(true);
          expired.push(name);
        },
      );
    const a = wait('a'); // deadline 1000
    const long = wait('long', { timeoutMs: 5000 }); // its own timer, ahead of the shared ones in the queue
    await vi.advanceTimersByTimeAsync(300);
    const b = wait('b'); // deadline 1300
    const c = wait('c'); // deadline 1300
    expect(vi.getTimerCount()).toBe(2); // one shared + one own
    await vi.advanceTimersByTimeAsync(699);
    expect(expired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(expired).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(299);
    expect(expired).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(1);
    expect(expired).toEqual(['a', 'b', 'c']);
    expect(pool.stats()).toMatchObject({ pending: 1, timedOut: 3 });
    lease.release();
    const served = await long;
    await Promise.all([a, b, c]);
    expect(vi.getTimerCount()).toBe(0); // nobody waits: no deadline timer
    served?.release();
    expect(vi.getTimerCount()).toBe(1); // only the idle-eviction timer
  });

  it('aborts a waiting acquire with signal.reason', async () => {
    const { pool } = makePool({ max: 1 });
    const lease = await pool.acquire();
    const controller = new AbortController();
    const waiting = pool.acquire({ signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(new Error('client left'));
    expect(await waiting).toMatchObject({ message: 'client left' });
    await expect(pool.acquire({ signal: controller.signal })).rejects.toThrow('client left');
    expect(pool.stats()).toMatchObject({ pending: 0, aborted: 1 });
    lease.release();
  });

  it('evicts idle resources above min after idleTimeoutMs with a single timer', async () => {
    const { pool, destroyed } = makePool({ min: 1, max: 4, idleTimeoutMs: 1000 });
    const leases: Lease<Conn>[] = await Promise.all([1, 2, 3, 4].map(() => pool.acquire()));
    leases[0]!.release(); // idle since t=0
    await vi.advanceTimersByTimeAsync(400);
    leases[1]!.release(); // t=400
    leases[2]!.release(); // t=400
    await vi.advanceTimersByTimeAsync(200);
    leases[3]!.release(); // t=600
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(400); // t=1000: the first one expires
    expect(destroyed).toEqual([1]);
    await vi.advanceTimersByTimeAsync(400); // t=1400: two more
    expect(destroyed).toEqual([1, 2, 3]);
    await vi.advanceTimersByTimeAsync(10_000); // the last stays: min is 1
    expect(destroyed).toEqual([1, 2, 3]);
    expect(pool.stats()).toMatchObject({ size: 1, available: 1 });
    expect(vi.getTimerCount()).toBe(0);
    leases[0] = await pool.acquire();
    const extra = await pool.acquire();
    leases[0].release();
    extra.release();
    expect(vi.getTimerCount()).toBe(1);
    await pool.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('replaces a destroyed resource to keep min', async () => {
    const { pool } = makePool({ min: 2, max: 4 });
    await pool.start();
    const lease = await pool.acquire();
    await lease.destroy();
    await vi.advanceTimersByTimeAsync(0);
    expect(pool.stats()).toMatchObject({ size: 2, created: 3, destroyed: 1 });
  });
});
