import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { queryOnce, runNodeScript, startPostgres, type TestPostgres } from '../src/index';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startPostgres', () => {
  const started: TestPostgres[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.stop()));
  });

  it('gives the whole test run one shared server through PERF_PG_URL', async () => {
    const url = inject('pgUrl');
    expect(url).toMatch(/^postgres:\/\//);
    expect(process.env.PERF_PG_URL).toBe(url);
    const { rows } = await queryOnce(url, 'select 1 + 1 as two');
    expect(rows[0]?.two).toBe(2);
  });

  it('with PERF_PG_URL set it starts nothing and reuses that server', async () => {
    const server = await startPostgres();
    expect(server.embedded).toBe(false);
    expect(server.pid).toBeUndefined();
    expect(server.url).toBe(process.env.PERF_PG_URL);
    await server.stop();
    const { rows } = await queryOnce(server.pool, 'select current_database() as db');
    expect(rows[0]?.db).toBe(server.pool.database);
  });

  it('starts two embedded servers in parallel without collisions, each answering queries', async () => {
    const [a, b] = await Promise.all([startPostgres({ useEnv: false }), startPostgres({ useEnv: false })]);
    started.push(a, b);
    expect(a.embedded && b.embedded).toBe(true);
    expect(a.pool.port).not.toBe(b.pool.port);
    expect(a.dataDir).not.toBe(b.dataDir);
    const pool = new pg.Pool(a.pool);
    try {
      await pool.query('create table t (v int)');
      await pool.query('insert into t values (41)');
      const { rows } = await pool.query<{ v: number }>('select v + 1 as v from t');
      expect(rows[0]?.v).toBe(42);
    } finally {
      await pool.end();
    }
    // b is a different cluster: the table created in a does not exist there.
    await expect(queryOnce(b.pool, 'select * from t')).rejects.toThrow(/does not exist/);
  });

  it('stop() leaves no server process and no data directory behind', async () => {
    const server = await startPostgres({ useEnv: false });
    const { pid, dataDir } = server;
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid!)).toBe(true);
    expect(existsSync(dataDir!)).toBe(true);
    await server.stop();
    await server.stop(); // idempotent
    expect(isAlive(pid!)).toBe(false);
    expect(existsSync(dataDir!)).toBe(false);
  });

  it('restart() terminates sessions and serves again on the same port', async () => {
    const server = await startPostgres({ useEnv: false });
    started.push(server);
    const client = new pg.Client(server.pool);
    client.on('error', () => undefined);
    await client.connect();
    await server.restart();
    await expect(client.query('select 1')).rejects.toThrow();
    await client.end().catch(() => undefined);
    const { rows } = await queryOnce(server.pool, 'select 7 as n');
    expect(rows[0]?.n).toBe(7);
  });

  it('a process that exits without stop() leaves no server and no data directory behind', async () => {
    const r = await runNodeScript(join(import.meta.dirname, 'fixtures/abandon-postgres.ts'));
    expect(r.code).toBe(0);
    const { pid, dataDir } = r.result as { pid: number; dataDir: string };
    expect(pid).toBeGreaterThan(0);
    // SIGKILL is delivered at exit; give the kernel a moment to reap the server.
    for (let i = 0; i < 50 && isAlive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  });
});
