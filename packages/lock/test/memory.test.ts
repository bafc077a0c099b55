import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createLockProvider,
  FileLockProvider,
  isLockClosedError,
  isLockLostError,
  isLockTimeoutError,
  LockTimeoutError,
  MemoryLockProvider,
  MemoryLockRegistry,
} from '../src/index';

describe('MemoryLockProvider', () => {
  let registry: MemoryLockRegistry;
  beforeEach(() => {
    registry = new MemoryLockRegistry();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('grants an uncontended lock at once with one attempt and releases idempotently', async () => {
    const lock = new MemoryLockProvider('a', { registry });
    const handle = await lock.acquire();
    expect(handle.key).toBe('memory:a');
    expect(handle.attempts).toBe(1);
    expect(handle.released).toBe(false);
    expect(handle.signal.aborted).toBe(false);
    expect(handle.fencingToken).toBeUndefined();
    expect(registry.isHeld('a')).toBe(true);
    const first = handle.release();
    expect(handle.release()).toBe(first);
    await first;
    await handle.release();
    expect(handle.released).toBe(true);
    expect(handle.signal.aborted).toBe(false);
    expect(registry.isHeld('a')).toBe(false);
    expect(lock.stats()).toMatchObject({ acquisitions: 1, attempts: 1, contended: 0, held: 0, lost: 0 });
    await lock.close();
  });

  it('excludes a second provider with the same key in the same registry, not another registry', async () => {
    const a = new MemoryLockProvider('k', { registry });
    const b = new MemoryLockProvider('k', { registry });
    const other = new MemoryLockProvider('k', { registry: new MemoryLockRegistry() });
    const held = await a.acquire();
    expect(await b.tryAcquire()).toBeNull();
    const elsewhere = await other.tryAcquire();
    expect(elsewhere).not.toBeNull();
    await held.release();
    const next = await b.tryAcquire();
    expect(next).not.toBeNull();
    await Promise.all([next!.release(), elsewhere!.release(), a.close(), b.close(), other.close()]);
  });

  it('wakes a waiter on release instead of sleeping out its backoff delay', async () => {
    vi.useFakeTimers();
    const lock = new MemoryLockProvider('w', {
      registry,
      backoff: { baseDelayMs: 60_000, maxDelayMs: 60_000, jitter: 'none' },
    });
    const holder = await lock.acquire();
    const waiting = lock.acquire();
    await vi.advanceTimersByTimeAsync(10);
    await holder.release();
    // No timer advanced past the 60 s delay: the release itself woke the waiter.
    const handle = await waiting;
    expect(handle.attempts).toBe(2);
    expect(lock.stats().contended).toBe(1);
    await handle.release();
    await lock.close();
  });

  it('wakes waiters of another provider sharing the key', async () => {
    vi.useFakeTimers();
    const a = new MemoryLockProvider('x', { registry });
    const b = new MemoryLockProvider('x', {
      registry,
      backoff: { baseDelayMs: 60_000, maxDelayMs: 60_000, jitter: 'none' },
    });
    const held = await a.acquire();
    const waiting = b.acquire();
    await vi.advanceTimersByTimeAsync(5);
    await held.release();
    const handle = await waiting;
    await handle.release();
    await Promise.all([a.close(), b.close()]);
  });

  it('times out with LockTimeoutError after timeoutMs and counts it', async () => {
    vi.useFakeTimers();
    const lock = new MemoryLockProvider('t', { registry });
    const holder = await lock.acquire();
    const waiting = lock.acquire({ timeoutMs: 250 });
    const settled = waiting.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(300);
    const error = await settled;
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect(isLockTimeoutError(error)).toBe(true);
    expect((error as LockTimeoutError).waitedMs).toBeGreaterThanOrEqual(250);
    expect((error as LockTimeoutError).attempts).toBeGreaterThan(1);
    expect(lock.stats().timeouts).toBe(1);
    await holder.release();
    await lock.close();
  });

  it('timeoutMs 0 makes a single attempt', async () => {
    const lock = new MemoryLockProvider('z', { registry });
    const holder = await lock.acquire();
    await expect(lock.acquire({ timeoutMs: 0 })).rejects.toMatchObject({
      code: 'ERR_LOCK_TIMEOUT',
      attempts: 1,
    });
    await holder.release();
    await lock.close();
  });

  it('gives up with LockTimeoutError when the backoff policy is exhausted', async () => {
    vi.useFakeTimers();
    const lock = new MemoryLockProvider('e', {
      registry,
      backoff: { maxRetries: 3, baseDelayMs: 10, jitter: 'none' },
    });
    const holder = await lock.acquire();
    const settled = lock.acquire().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1000);
    const error = (await settled) as LockTimeoutError;
    expect(isLockTimeoutError(error)).toBe(true);
    expect(error.attempts).toBe(4);
    await holder.release();
    await lock.close();
  });

  it('rejects an aborted wait with the signal reason and leaves nothing behind', async () => {
    const lock = new MemoryLockProvider('ab', { registry });
    const holder = await lock.acquire();
    const controller = new AbortController();
    const waiting = lock.acquire({ signal: controller.signal });
    const reason = new Error('user gave up');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await expect(lock.acquire({ signal: AbortSignal.abort('early') })).rejects.toBe('early');
    expect(lock.stats()).toMatchObject({ aborted: 2, held: 1 });
    await holder.release();
    expect(registry.isHeld('ab')).toBe(false);
    await lock.close();
  });

  it('rejects invalid options with errors naming them, without changing state', async () => {
    expect(() => new MemoryLockProvider('', { registry })).toThrow(/key must be a non-empty string/);
    expect(() => new MemoryLockProvider('m', { registry, mode: 'both' as never })).toThrow(/mode must be/);
    expect(() => new MemoryLockProvider('m', { registry, backoff: { baseDelayMs: -1 } })).toThrow(
      /baseDelayMs/,
    );
    const lock = new MemoryLockProvider('v', { registry });
    await expect(lock.acquire({ timeoutMs: -5 })).rejects.toThrow(RangeError);
    await expect(lock.acquire({ timeoutMs: -5 })).rejects.toThrow(/timeoutMs must be >= 0, received -5/);
    await expect(lock.acquire({ timeoutMs: Number.NaN })).rejects.toThrow(TypeError);
    await expect(lock.acquire({ signal: 'x' as never })).rejects.toThrow(/signal must be an AbortSignal/);
    await expect(lock.withLock('nope' as never)).rejects.toThrow(/fn must be a function/);
    expect(lock.stats()).toMatchObject({ attempts: 0, held: 0, failures: 0 });
    const handle = await lock.acquire();
    await handle.release();
    await lock.close();
  });

  it('hands out strictly increasing fencing tokens per key across providers', async () => {
    const a = new MemoryLockProvider('f', { registry, fencing: true });
    const b = new MemoryLockProvider('f', { registry, fencing: true });
    const tokens: bigint[] = [];
    for (let i = 0; i < 5; i++) {
      for (const lock of [a, b]) {
        await lock.withLock((h) => {
          tokens.push(h.fencingToken!);
        });
      }
    }
    expect(tokens).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
    await a.close();
    const c = new MemoryLockProvider('f', { registry, fencing: true });
    await c.withLock((h) => expect(h.fencingToken).toBe(11n));
    await Promise.all([b.close(), c.close()]);
  });

  it('lets shared holders in together and keeps an exclusive one out', async () => {
    const r1 = new MemoryLockProvider('s', { registry, mode: 'shared' });
    const r2 = new MemoryLockProvider('s', { registry, mode: 'shared' });
    const w = new MemoryLockProvider('s', { registry });
    const h1 = await r1.acquire();
    const h2 = await r2.acquire();
    expect(await w.tryAcquire()).toBeNull();
    await h1.release();
    expect(await w.tryAcquire()).toBeNull();
    await h2.release();
    const hw = await w.tryAcquire();
    expect(hw).not.toBeNull();
    expect(await r1.tryAcquire()).toBeNull();
    await hw!.release();
    await Promise.all([r1.close(), r2.close(), w.close()]);
  });

  it('withLock releases when fn throws and returns fn result otherwise', async () => {
    const lock = new MemoryLockProvider('wl', { registry });
    await expect(lock.withLock(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(registry.isHeld('wl')).toBe(false);
    await expect(lock.withLock(async (h) => h.attempts)).resolves.toBe(1);
    expect(lock.stats()).toMatchObject({ acquisitions: 2, held: 0 });
    expect(lock.stats().holdMs.count).toBe(2);
    await lock.close();
  });

  it('supports await using on the handle and on the provider', async () => {
    {
      await using lock = new MemoryLockProvider('u', { registry });
      {
        await using handle = await lock.acquire();
        expect(handle.released).toBe(false);
        expect(registry.isHeld('u')).toBe(true);
      }
      expect(registry.isHeld('u')).toBe(false);
    }
    expect(registry.size).toBe(0);
  });

  it('close() rejects waiters with LockClosedError, releases held locks and refuses new ones', async () => {
    const lock = new MemoryLockProvider('c', { registry });
    const holder = await lock.acquire();
    const other = new MemoryLockProvider('c', { registry });
    const otherHolder = await other.tryAcquire();
    expect(otherHolder).toBeNull();
    const waiting = lock.acquire().catch((e: unknown) => e);
    await lock.close();
    expect(isLockClosedError(await waiting)).toBe(true);
    expect(holder.released).toBe(true);
    expect(holder.signal.aborted).toBe(false);
    expect(registry.isHeld('c')).toBe(false);
    await expect(lock.acquire()).rejects.toMatchObject({ code: 'ERR_LOCK_CLOSED' });
    await lock.close();
    await other.close();
  });

  it('stats() is a plain JSON-serialisable snapshot with wait and hold histograms', async () => {
    const lock = new MemoryLockProvider('st', { registry });
    await lock.withLock(() => undefined);
    const stats = lock.stats();
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
    expect(Object.keys(stats).sort()).toEqual(
      [
        'acquisitions',
        'aborted',
        'attempts',
        'contended',
        'failures',
        'held',
        'holdMs',
        'lost',
        'timeouts',
        'waitMs',
      ].sort(),
    );
    expect(stats.waitMs).toMatchObject({ count: 1 });
    await lock.close();
  });

  it('propagates AsyncLocalStorage context through a contended wait', async () => {
    const als = new AsyncLocalStorage<string>();
    const lock = new MemoryLockProvider('als', { registry });
    const holder = await lock.acquire();
    const seen: Array<string | undefined> = [];
    const waiters = ['one', 'two', 'three'].map((id) =>
      als.run(id, async () => {
        await lock.withLock(async () => {
          seen.push(als.getStore());
          await new Promise((r) => setTimeout(r, 1));
        });
        seen.push(als.getStore());
      }),
    );
    await holder.release();
    await Promise.all(waiters);
    expect(seen.sort()).toEqual(['one', 'one', 'three', 'three', 'two', 'two']);
    await lock.close();
  });

  it('a lost handle aborts its signal with LockLostError and frees the key', async () => {
    const lock = new MemoryLockProvider('lost', { registry });
    const handle = await lock.acquire();
    (handle as unknown as { lose(reason: string): void }).lose('test');
    expect(handle.signal.aborted).toBe(true);
    expect(isLockLostError(handle.signal.reason)).toBe(true);
    expect(handle.released).toBe(true);
    await handle.release();
    expect(registry.isHeld('lost')).toBe(false);
    expect(lock.stats()).toMatchObject({ lost: 1, held: 0 });
    await lock.close();
  });
});

describe('createLockProvider', () => {
  it('builds memory and file providers with the same contract, and rejects unknown types', async () => {
    const memory = createLockProvider({
      type: 'memory',
      key: 'factory',
      registry: new MemoryLockRegistry(),
      fencing: true,
    });
    expect(memory).toBeInstanceOf(MemoryLockProvider);
    await memory.withLock((h) => expect(h.fencingToken).toBe(1n));
    await memory.close();
    const dir = await mkdtemp(join(tmpdir(), 'lock-factory-'));
    try {
      const file = createLockProvider({ type: 'file', path: join(dir, 'resource') });
      expect(file).toBeInstanceOf(FileLockProvider);
      await file.withLock((h) => expect(h.key).toContain('resource'));
      await file.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(() => createLockProvider({ type: 'redis' } as never)).toThrow(
      /type must be 'postgres', 'file' or 'memory', received redis/,
    );
    expect(() => createLockProvider(null as never)).toThrow(/config must be an object/);
  });
});
