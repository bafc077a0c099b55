import { join } from 'node:path';
import { runNodeScript, startPostgres, type TestPostgres } from '@perf/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLockLostError, type LockHandle, PostgresLockProvider } from '../src/index';

const FIXTURE = join(import.meta.dirname, 'fixtures/hold-pg-lock.ts');

/** Resolves with the reason `signal` aborts with, or rejects after `ms`. */
function aborted(signal: AbortSignal, ms: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return resolve(signal.reason);
    const timer = setTimeout(() => reject(new Error(`signal did not abort within ${ms} ms`)), ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve(signal.reason);
    });
  });
}

/** Polls `fn` until it returns a value other than `undefined`, for at most `ms`. */
async function eventually<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The backend pid holding the advisory lock `id`, from pg_locks (int8 keys are split in classid/objid). */
async function holderPid(admin: pg.Pool, id: bigint): Promise<number | undefined> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
       AND ((classid::bigint << 32) | objid::bigint) = (${id} & x'FFFFFFFFFFFFFFFF'::bigint)`,
  );
  return rows[0]?.pid;
}

describe('PostgresLockProvider faults (shared server)', () => {
  let server: TestPostgres;
  let pool: pg.Pool;
  let admin: pg.Pool;
  beforeAll(async () => {
    server = await startPostgres();
    pool = new pg.Pool({ ...server.pool, max: 6 });
    admin = new pg.Pool({ ...server.pool, max: 1 });
  });
  afterAll(async () => {
    await pool.end();
    await admin.end();
    await server.stop();
  });

  it('pg_terminate_backend of the holder aborts handle.signal with LockLostError and a waiter gets in', async () => {
    const key = `terminate-${process.pid}-${Date.now()}`;
    const healthCheckIntervalMs = 500;
    const holder = new PostgresLockProvider(pool, { key, healthCheckIntervalMs });
    const waiter = new PostgresLockProvider(pool, { key });
    try {
      const handle = await holder.acquire();
      const waiting = waiter.acquire({ timeoutMs: 10_000 });
      const pid = await eventually(() => holderPid(admin, holder.lockId), 2000);
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const reason = await aborted(handle.signal, healthCheckIntervalMs + 1000);
      expect(isLockLostError(reason)).toBe(true);
      expect((reason as Error).message).toMatch(/lost/);
      expect(handle.released).toBe(true);
      const next = await waiting;
      expect(next.signal.aborted).toBe(false);
      await next.release();
      await handle.release();
      expect(holder.stats()).toMatchObject({ lost: 1, held: 0 });
    } finally {
      await holder.close();
      await waiter.close();
    }
    // The dead client was destroyed, not returned: every remaining pooled client answers.
    expect(pool.totalCount - pool.idleCount).toBe(0);
    const clients = await Promise.all(Array.from({ length: pool.totalCount }, () => pool.connect()));
    for (const client of clients) {
      await client.query('SELECT 1');
      client.release();
    }
  });

  it('a session that stops answering is declared lost by the health check', async () => {
    const key = `silent-${process.pid}-${Date.now()}`;
    const lock = new PostgresLockProvider(pool, {
      key,
      healthCheckIntervalMs: 200,
      healthCheckTimeoutMs: 200,
    });
    try {
      const handle = await lock.acquire();
      // Stop reading the socket: the probe's answer never arrives, as with a dead network path.
      const client = (
        handle as unknown as { state: { client: { connection: { stream: NodeJS.ReadableStream } } } }
      ).state.client;
      client.connection.stream.pause();
      const reason = await aborted(handle.signal, 200 + 200 + 1000);
      expect(isLockLostError(reason)).toBe(true);
      expect(String((reason as Error).cause)).toMatch(/SELECT 1/);
    } finally {
      await lock.close();
    }
  });

  it('a SIGKILLed holder process frees the lock at once', async () => {
    const key = `sigkill-${process.pid}-${Date.now()}`;
    const tag = `perf-holder-${process.pid}-${Date.now()}`;
    const lock = new PostgresLockProvider(pool, { key, wait: 'poll' });
    const child = runNodeScript(FIXTURE, { args: [key, tag], env: { PERF_PG_URL: server.url } });
    try {
      const osPid = await eventually(async () => {
        const { rows } = await admin.query<{ name: string }>(
          `SELECT a.application_name AS name FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
            WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE $1`,
          [`${tag}:%`],
        );
        return rows[0] ? Number(rows[0].name.split(':')[1]) : undefined;
      }, 30_000);
      expect(await lock.tryAcquire()).toBeNull();
      process.kill(osPid, 'SIGKILL');
      const result = await child;
      expect(result.signal).toBe('SIGKILL');
      const killedAt = performance.now();
      const handle = await lock.acquire({ timeoutMs: 5000 });
      expect(performance.now() - killedAt).toBeLessThan(5000);
      await handle.release();
    } finally {
      await lock.close();
    }
  }, 60_000);
});

describe('PostgresLockProvider across a server restart', () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startPostgres({ useEnv: false });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('holders see LockLostError when PostgreSQL restarts; acquisitions work once it is back', async () => {
    const pool = new pg.Pool({ ...server.pool, max: 6 });
    pool.on('error', () => undefined); // idle clients die with the server; the pool replaces them
    const block = new PostgresLockProvider(pool, { key: 'restart-block' });
    const poll = new PostgresLockProvider(pool, { key: 'restart-poll', wait: 'poll' });
    const pollWaiter = new PostgresLockProvider(pool, { key: 'restart-poll', wait: 'poll' });
    try {
      const handles: LockHandle[] = [await block.acquire(), await poll.acquire()];
      // A waiter whose wait spans the restart: it must not hang, whatever it ends with.
      const waiting = pollWaiter.acquire({ timeoutMs: 30_000 }).then(
        (h) => h.release(),
        () => undefined,
      );
      await server.restart();
      for (const handle of handles) {
        expect(isLockLostError(await aborted(handle.signal, 5000))).toBe(true);
      }
      await waiting;
      const again = await eventually(async () => {
        try {
          return await block.acquire({ timeoutMs: 1000 });
        } catch {
          return undefined;
        }
      }, 20_000);
      expect(again.signal.aborted).toBe(false);
      await again.release();
      const pollAgain = await poll.acquire({ timeoutMs: 5000 });
      await pollAgain.release();
      expect(block.stats().lost).toBe(1);
      expect(poll.stats().lost).toBe(1);
    } finally {
      await Promise.all([block.close(), poll.close(), pollWaiter.close()]);
      await pool.end();
    }
  }, 120_000);
});
