import { startPostgres, type TestPostgres } from '@perf/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresLockProvider, type PostgresWaitMode } from '../src/index';

// Mutual exclusion proven, not assumed: 8 workers, each on its own connection, increment one table row
// with a read, an await, and a write. Without the lock the interleaving loses updates; with it the
// final count equals the number of acquisitions.
const WORKERS = 8;

describe('PostgreSQL lock mutual exclusion', () => {
  let server: TestPostgres;
  let lockPool: pg.Pool;
  let workPool: pg.Pool;
  const table = `perf_lock_counter_${process.pid}_${Date.now()}`;

  beforeAll(async () => {
    server = await startPostgres();
    lockPool = new pg.Pool({ ...server.pool, max: WORKERS + 2 });
    workPool = new pg.Pool({ ...server.pool, max: WORKERS });
    await workPool.query(`CREATE TABLE "${table}" (id text PRIMARY KEY, n int NOT NULL)`);
  });
  afterAll(async () => {
    await workPool.query(`DROP TABLE IF EXISTS "${table}"`);
    await lockPool.end();
    await workPool.end();
    await server.stop();
  });

  async function hammer(
    row: string,
    perWorker: number,
    lockFor: (worker: number) => PostgresLockProvider | undefined,
  ) {
    await workPool.query(`INSERT INTO "${table}" VALUES ($1, 0)`, [row]);
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, worker) => {
        const client = await workPool.connect();
        try {
          for (let i = 0; i < perWorker; i++) {
            const increment = async () => {
              const { rows } = await client.query(`SELECT n FROM "${table}" WHERE id = $1`, [row]);
              await new Promise((r) => setImmediate(r));
              await client.query(`UPDATE "${table}" SET n = $1 WHERE id = $2`, [rows[0].n + 1, row]);
            };
            const lock = lockFor(worker);
            if (lock) await lock.withLock(increment, { timeoutMs: 30_000 });
            else await increment();
          }
        } finally {
          client.release();
        }
      }),
    );
    const { rows } = await workPool.query(`SELECT n FROM "${table}" WHERE id = $1`, [row]);
    return rows[0].n as number;
  }

  it('the read-modify-write loses updates without a lock (the test can fail)', async () => {
    expect(await hammer('unlocked', 50, () => undefined)).toBeLessThan(WORKERS * 50);
  });

  for (const wait of ['block', 'poll'] as PostgresWaitMode[]) {
    it(`8 connections x 500 acquisitions with wait:'${wait}' count exactly 4000`, async () => {
      // One provider per worker, as 8 separate services would have.
      const providers = Array.from(
        { length: WORKERS },
        () =>
          new PostgresLockProvider(lockPool, {
            key: `counter-${wait}-${table}`,
            wait,
            backoff: { baseDelayMs: 5, maxDelayMs: 200, maxRetries: Number.POSITIVE_INFINITY },
          }),
      );
      try {
        expect(await hammer(wait, 500, (worker) => providers[worker])).toBe(WORKERS * 500);
        const totals = providers.map((p) => p.stats());
        expect(totals.reduce((sum, s) => sum + s.acquisitions, 0)).toBe(WORKERS * 500);
        expect(totals.reduce((sum, s) => sum + s.lost + s.failures + s.timeouts, 0)).toBe(0);
      } finally {
        await Promise.all(providers.map((p) => p.close()));
      }
      expect(lockPool.totalCount - lockPool.idleCount).toBe(0);
    }, 120_000);
  }
});
