import { AsyncLocalStorage } from 'node:async_hooks';
import { startPostgres, type TestPostgres } from '@perf/testing';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createLockProvider,
  isLockTimeoutError,
  LockTimeoutError,
  type PostgresLockOptions,
  PostgresLockProvider,
  withTransactionLock,
} from '../src/index';
import { releaseChannel } from '../src/keys';

let server: TestPostgres;
let pool: pg.Pool;
let admin: pg.Pool;
const providers: PostgresLockProvider[] = [];
let nextKey = 0;

/** A key no other test (or earlier run against the same server) uses. */
function freshKey(): string {
  return `test-${process.pid}-${Date.now()}-${nextKey++}`;
}

function provider(
  options: Partial<PostgresLockOptions> & Pick<PostgresLockOptions, 'key'>,
  from: pg.Pool = pool,
) {
  const p = new PostgresLockProvider(from, options);
  providers.push(p);
  return p;
}

/** Whether some session other than `admin`'s holds the advisory lock, asked from a third session. */
async function isLocked(p: PostgresLockProvider): Promise<boolean> {
  const { rows } = await admin.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${p.lockId}) AS ok`);
  if (rows[0]!.ok) await admin.query(`SELECT pg_advisory_unlock(${p.lockId})`);
  return !rows[0]!.ok;
}

beforeAll(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ ...server.pool, max: 12 });
  admin = new pg.Pool({ ...server.pool, max: 1 });
});
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
});
afterAll(async () => {
  await pool.end();
  await admin.end();
  await server.stop();
});

describe('PostgresLockProvider', () => {
  it('acquires on a pinned session, checks the unlock and returns the client to the pool', async () => {
    const lock = provider({ key: freshKey() });
    const handle = await lock.acquire();
    expect(handle.key).toMatch(/^pg:perf:test-/);
    expect(handle.attempts).toBe(1);
    expect(handle.fencingToken).toBeUndefined();
    expect(handle.acquiredAt).toBeLessThanOrEqual(Date.now());
    expect(await isLocked(lock)).toBe(true);
    expect(pool.totalCount - pool.idleCount).toBe(1);
    await handle.release();
    await handle.release();
    expect(await isLocked(lock)).toBe(false);
    expect(pool.totalCount - pool.idleCount).toBe(0);
    expect(lock.stats()).toMatchObject({ acquisitions: 1, held: 0, lost: 0, attempts: 1 });
  });

  it("keeps one session listener per pooled client and never swallows an 'error' of a client it does not hold", async () => {
    const single = new pg.Pool({ ...server.pool, max: 1 });
    try {
      const lock = provider({ key: freshKey() }, single);
      for (let i = 0; i < 3; i++) await (await lock.acquire()).release();
      const client = await single.connect();
      try {
        // Listeners were attached once, not once per acquisition (the pool's own idle listener is off
        // while the client is checked out).
        expect(client.listenerCount('error')).toBe(1);
        expect(client.listenerCount('end')).toBe(1);
        // Checked out by someone else with no 'error' listener of their own: the error is not swallowed,
        // it surfaces exactly as an 'error' event without listeners would.
        const boom = new Error('socket hang up');
        expect(() => client.emit('error', boom)).toThrow(boom);
        // With their own listener, ours stays out of the way.
        const seen: unknown[] = [];
        client.on('error', (error) => seen.push(error));
        expect(() => client.emit('error', boom)).not.toThrow();
        expect(seen).toEqual([boom]);
      } finally {
        client.release(new Error('test client'));
      }
      // The lock still works on a fresh client afterwards.
      const handle = await lock.acquire();
      expect(await isLocked(lock)).toBe(true);
      await handle.release();
    } finally {
      await Promise.all(providers.splice(0).map((p) => p.close()));
      await single.end();
    }
  });

  it('tryAcquire returns null while another session holds the lock', async () => {
    const key = freshKey();
    const a = provider({ key });
    const b = provider({ key });
    const held = await a.acquire();
    expect(await b.tryAcquire()).toBeNull();
    await held.release();
    const next = await b.tryAcquire();
    expect(next).not.toBeNull();
    await next!.release();
  });

  it("wait:'block' queues in PostgreSQL and hands over on release; lock_timeout is put back", async () => {
    const key = freshKey();
    const a = provider({ key });
    const b = provider({ key, wait: 'block' });
    const held = await a.acquire();
    const waiting = b.acquire({ timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    await held.release();
    const handle = await waiting;
    expect(b.stats().contended).toBe(1);
    const client = (handle as unknown as { state: { client: pg.PoolClient } }).state.client;
    await handle.release();
    const { rows } = await client.query('SHOW lock_timeout');
    expect(rows[0].lock_timeout).toBe('0');
  });

  it("wait:'block' times out with LockTimeoutError and leaves no waiting backend", async () => {
    const key = freshKey();
    const a = provider({ key });
    const b = provider({ key });
    const held = await a.acquire();
    const error = await b.acquire({ timeoutMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect(b.stats()).toMatchObject({ timeouts: 1, held: 0 });
    const { rows } = await admin.query(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
    );
    expect(rows[0].n).toBe(0);
    await held.release();
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });

  it("aborting a wait:'block' waiter cancels its statement in PostgreSQL", async () => {
    const key = freshKey();
    const a = provider({ key });
    const b = provider({ key });
    const held = await a.acquire();
    const controller = new AbortController();
    const waiting = b.acquire({ signal: controller.signal }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 150));
    controller.abort(new Error('stop waiting'));
    expect(((await waiting) as Error).message).toBe('stop waiting');
    for (let i = 0; i < 50; i++) {
      const { rows } = await admin.query(
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
      );
      if (rows[0].n === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const { rows } = await admin.query(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
    );
    expect(rows[0].n).toBe(0);
    expect(b.stats().aborted).toBe(1);
    await held.release();
    const after = await b.acquire({ timeoutMs: 2000 });
    await after.release();
  });

  it("wait:'poll' holds no connection while sleeping and wakes on NOTIFY, not after its backoff delay", async () => {
    const key = freshKey();
    const a = provider({ key, wait: 'poll' });
    // A 3 s first delay: a waiter that slept it out could not finish below the bound asserted below.
    const b = provider({
      key,
      wait: 'poll',
      backoff: { baseDelayMs: 3000, maxDelayMs: 3000, jitter: 'none' },
    });
    const held = await a.acquire();
    const started = performance.now();
    const waiting = b.acquire({ timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(pool.totalCount - pool.idleCount).toBe(1);
    await held.release();
    const handle = await waiting;
    expect(performance.now() - started).toBeLessThan(2500);
    expect(handle.attempts).toBeGreaterThanOrEqual(2);
    await handle.release();
  });

  it('a poll waiter in another pool (another process, as far as PostgreSQL knows) is woken by the NOTIFY', async () => {
    const key = freshKey();
    const otherPool = new pg.Pool({ ...server.pool, max: 2 });
    try {
      const a = provider({ key, wait: 'poll' });
      const b = provider(
        { key, wait: 'poll', backoff: { baseDelayMs: 3000, maxDelayMs: 3000, jitter: 'none' } },
        otherPool,
      );
      const held = await a.acquire();
      const waiting = b.acquire();
      await new Promise((r) => setTimeout(r, 300));
      const released = performance.now();
      await held.release();
      const handle = await waiting;
      expect(performance.now() - released).toBeLessThan(2000);
      await handle.release();
      await b.close();
    } finally {
      await otherPool.end();
    }
  });

  it('poll providers of one pool and key share one LISTEN connection, closed by the last one out', async () => {
    const key = freshKey();
    const listening = async (of: PostgresLockProvider) => {
      const { rows } = await admin.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1',
        [`LISTEN "${releaseChannel(of.lockId)}"`],
      );
      return rows[0]!.n;
    };
    const holder = provider({ key, wait: 'poll' });
    const waiters = [1, 2, 3].map(() =>
      provider({ key, wait: 'poll', backoff: { baseDelayMs: 3000, maxDelayMs: 3000, jitter: 'none' } }),
    );
    const held = await holder.acquire();
    const pending = waiters.map((w) => w.acquire({ timeoutMs: 20_000 }).then((h) => h.release()));
    await new Promise((r) => setTimeout(r, 300));
    expect(await listening(holder)).toBe(1);
    await held.release();
    // Each waiter is still woken by a release (well before its 3 s delay), one after the other.
    const started = performance.now();
    await Promise.all(pending);
    expect(performance.now() - started).toBeLessThan(2500);
    await Promise.all(waiters.map((w) => w.close()));
    await holder.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(await listening(holder)).toBe(0);
  });

  it('shared holders coexist and exclude an exclusive one', async () => {
    const key = freshKey();
    const r1 = provider({ key, mode: 'shared' });
    const r2 = provider({ key, mode: 'shared' });
    const w = provider({ key });
    const [h1, h2] = await Promise.all([r1.acquire({ timeoutMs: 1000 }), r2.acquire({ timeoutMs: 1000 })]);
    expect(await w.tryAcquire()).toBeNull();
    await h1.release();
    await h2.release();
    const hw = await w.tryAcquire();
    expect(hw).not.toBeNull();
    expect(await r1.tryAcquire()).toBeNull();
    await hw!.release();
  });

  it('fencing tokens increase strictly per key across providers and pools', async () => {
    const key = freshKey();
    const table = `fence_${process.pid}_${Date.now()}`;
    const otherPool = new pg.Pool({ ...server.pool, max: 2 });
    try {
      const a = provider({ key, fencing: { table } });
      const b = provider({ key, fencing: { table } }, otherPool);
      const tokens: bigint[] = [];
      for (let i = 0; i < 4; i++) {
        for (const p of [a, b]) await p.withLock((h) => void tokens.push(h.fencingToken!));
      }
      expect(tokens).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]);
      const c = provider({ key: freshKey(), fencing: { table } });
      await c.withLock((h) => expect(h.fencingToken).toBe(1n));
      await b.close();
    } finally {
      await otherPool.end();
      await admin.query(`DROP TABLE IF EXISTS "${table}"`);
    }
  });

  it('fencing works in a configured schema created on first use', async () => {
    const schema = `perf_fence_${process.pid}_${Date.now()}`;
    try {
      const lock = provider({ key: 7, fencing: { schema, table: 'tokens' } });
      const h1 = await lock.acquire();
      expect(h1.fencingToken).toBe(1n);
      await h1.release();
      const { rows } = await admin.query(`SELECT token::text FROM "${schema}".tokens WHERE lock_key = 7`);
      expect(rows[0].token).toBe('1');
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });

  it('rejects invalid keys and options with clear errors', () => {
    expect(() => new PostgresLockProvider(pool, { key: 1.5 })).toThrow(/safe integer/);
    expect(() => new PostgresLockProvider(pool, { key: 2n ** 64n })).toThrow(RangeError);
    expect(() => new PostgresLockProvider(pool, { key: '' })).toThrow(/non-empty/);
    expect(() => new PostgresLockProvider(pool, undefined as never)).toThrow(/options with a key/);
    expect(() => new PostgresLockProvider(pool, { key: 1, wait: 'spin' as never })).toThrow(/wait must be/);
    expect(() => new PostgresLockProvider(pool, { key: 1, mode: 'x' as never })).toThrow(/mode must be/);
    expect(() => new PostgresLockProvider(pool, { key: 1, healthCheckIntervalMs: -1 })).toThrow(
      /healthCheckIntervalMs/,
    );
    expect(() => new PostgresLockProvider(pool, { key: 1, fencing: { table: 'x; drop' } })).toThrow(
      /identifier/,
    );
    expect(() => new PostgresLockProvider(new pg.Client(server.pool) as never, { key: 1 })).toThrow(
      /not a pg.Client/,
    );
    expect(() => new PostgresLockProvider(42 as never, { key: 1 })).toThrow(/pg.Pool/);
  });

  it('rejects a negative timeout before touching the database', async () => {
    const lock = provider({ key: freshKey() });
    await expect(lock.acquire({ timeoutMs: -1 })).rejects.toThrow(/timeoutMs must be >= 0, received -1/);
    expect(lock.stats().attempts).toBe(0);
  });

  it('opens and ends its own pool when given a connection URL', async () => {
    const lock = new PostgresLockProvider(server.url, { key: freshKey(), wait: 'poll' });
    const handle = await lock.acquire();
    expect(await isLocked(lock)).toBe(true);
    await lock.close();
    expect(handle.released).toBe(true);
    expect(await isLocked(lock)).toBe(false);
  });

  it("createLockProvider({ type: 'postgres' }) builds the same provider", async () => {
    const lock = createLockProvider({ type: 'postgres', pool, key: freshKey(), wait: 'poll', fencing: true });
    expect(lock).toBeInstanceOf(PostgresLockProvider);
    providers.push(lock as PostgresLockProvider);
    await lock.withLock((h) => expect(typeof h.fencingToken).toBe('bigint'));
  });

  it('close() rejects waiters, releases held locks and leaks no clients', async () => {
    const key = freshKey();
    const idleBefore = pool.totalCount - pool.idleCount;
    const a = provider({ key, wait: 'poll' });
    const b = provider({ key, wait: 'poll' });
    const c = provider({ key, wait: 'block' });
    const held = await a.acquire();
    const pollWaiter = b.acquire().catch((e: unknown) => e);
    const blockWaiter = c.acquire().catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 150));
    await Promise.all([b.close(), c.close()]);
    expect(await pollWaiter).toMatchObject({ code: 'ERR_LOCK_CLOSED' });
    expect(await blockWaiter).toMatchObject({ code: 'ERR_LOCK_CLOSED' });
    await a.close();
    expect(held.released).toBe(true);
    expect(await isLocked(a)).toBe(false);
    expect(pool.totalCount - pool.idleCount).toBe(idleBefore);
    expect(pool.waitingCount).toBe(0);
  });

  it('propagates AsyncLocalStorage context through contended waits', async () => {
    const als = new AsyncLocalStorage<number>();
    const key = freshKey();
    const block = provider({ key });
    const poll = provider({ key, wait: 'poll' });
    const seen: Array<[number, number | undefined]> = [];
    await Promise.all(
      [0, 1, 2, 3].map((id) =>
        als.run(id, async () => {
          const lock = id % 2 === 0 ? block : poll;
          await lock.withLock(async () => {
            seen.push([id, als.getStore()]);
            await new Promise((r) => setTimeout(r, 5));
          });
          seen.push([id, als.getStore()]);
        }),
      ),
    );
    expect(seen).toHaveLength(8);
    for (const [id, store] of seen) expect(store).toBe(id);
  });
});

describe('withTransactionLock', () => {
  it('holds a transaction lock while fn runs and commits its work', async () => {
    const key = freshKey();
    const probe = provider({ key });
    const result = await withTransactionLock(pool, key, async (client, info) => {
      expect(await probe.tryAcquire()).toBeNull();
      const { rows } = await client.query('SELECT 41 + 1 AS n');
      expect(info.key).toBe(`pg:perf:${key}`);
      return rows[0].n as number;
    });
    expect(result).toBe(42);
    const after = await probe.tryAcquire();
    expect(after).not.toBeNull();
    await after!.release();
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });

  it('rolls back and releases when fn throws', async () => {
    const table = `txlock_${process.pid}_${Date.now()}`;
    await admin.query(`CREATE TABLE "${table}" (n int)`);
    try {
      const key = freshKey();
      await expect(
        withTransactionLock(pool, key, async (client) => {
          await client.query(`INSERT INTO "${table}" VALUES (1)`);
          throw new Error('fn failed');
        }),
      ).rejects.toThrow('fn failed');
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM "${table}"`);
      expect(rows[0].n).toBe(0);
      const probe = provider({ key });
      const handle = await probe.tryAcquire();
      expect(handle).not.toBeNull();
      await handle!.release();
    } finally {
      await admin.query(`DROP TABLE IF EXISTS "${table}"`);
    }
  });

  it('times out with LockTimeoutError, and timeoutMs 0 makes one try', async () => {
    const key = freshKey();
    const holder = provider({ key });
    const held = await holder.acquire();
    const client = await pool.connect();
    try {
      const error = await withTransactionLock(client, key, () => 'never', { timeoutMs: 150 }).catch(
        (e: unknown) => e,
      );
      expect(isLockTimeoutError(error)).toBe(true);
      await expect(withTransactionLock(client, key, () => 'never', { timeoutMs: 0 })).rejects.toMatchObject({
        code: 'ERR_LOCK_TIMEOUT',
      });
      // The client is usable afterwards: no transaction left open, no lock_timeout left behind.
      const { rows } = await client.query(
        "SELECT current_setting('lock_timeout') AS t, now() = statement_timestamp() AS fresh",
      );
      expect(rows[0]).toEqual({ t: '0', fresh: true });
    } finally {
      client.release();
    }
    await held.release();
    await expect(withTransactionLock(pool, key, () => 'ok', { timeoutMs: 1000 })).resolves.toBe('ok');
  });

  it('hands out fencing tokens in the transaction and validates its input', async () => {
    const table = `txfence_${process.pid}_${Date.now()}`;
    try {
      const tokens: Array<bigint | undefined> = [];
      for (let i = 0; i < 3; i++) {
        await withTransactionLock(pool, 99, (_c, info) => void tokens.push(info.fencingToken), {
          fencing: { table },
        });
      }
      expect(tokens).toEqual([1n, 2n, 3n]);
    } finally {
      await admin.query(`DROP TABLE IF EXISTS "${table}"`);
    }
    await expect(withTransactionLock(pool, 1.5, () => 1)).rejects.toThrow(/safe integer/);
    await expect(withTransactionLock(pool, 1, () => 1, { timeoutMs: -1 })).rejects.toThrow(/timeoutMs/);
    await expect(withTransactionLock({} as never, 1, () => 1)).rejects.toThrow(/client or pool/);
  });
});
