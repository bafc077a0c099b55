import type { Client, ClientConfig, Notification, Pool, PoolClient, PoolConfig } from 'pg';

/**
 * Connection plumbing of the PostgreSQL lock: loading the optional `pg` peer dependency lazily (so
 * `@perf/lock` loads without it), checking a client out of a pool in a way a signal can abandon, and the
 * provider's one side connection for LISTEN and `pg_cancel_backend`.
 */

/** The `pg` module (node-postgres). */
export type PgModule = typeof import('pg');

let pgModule: Promise<PgModule> | undefined;

/**
 * Loads `pg` on first use.
 * @throws {Error} explaining that the optional peer dependency `pg` must be installed.
 */
export function loadPg(): Promise<PgModule> {
  pgModule ??= import('pg').then(
    (mod) => ((mod as unknown as { default?: PgModule }).default ?? mod) as PgModule,
    (error: unknown) => {
      pgModule = undefined;
      throw new Error("@perf/lock: PostgreSQL locks need the 'pg' package: npm install pg", { cause: error });
    },
  );
  return pgModule;
}

/** True for a `pg.Pool` (or a pool with the same API), as opposed to a connection config. */
export function isPool(value: unknown): value is Pool {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Pool).connect === 'function' &&
    'totalCount' in value &&
    'idleCount' in value
  );
}

/** What {@link checkout} needs of an acquisition: whether and why it was aborted. */
export interface Abortable {
  readonly aborted: boolean;
  readonly signal: AbortSignal;
  onAbort(hook: () => void): () => void;
}

/**
 * `pool.connect()` that an aborted acquisition can abandon: it rejects with the abort reason at once,
 * and the client, when the pool hands it over later, goes straight back.
 */
export function checkout(pool: Pool, op: Abortable | undefined): Promise<PoolClient> {
  // With an idle client the pool answers at once: no need to make the wait abandonable.
  const immediate = pool.idleCount > 0;
  const connecting = pool.connect();
  if (!op || (immediate && !op.aborted)) return connecting;
  if (op.aborted) {
    connecting.then((client) => client.release(), noop);
    return Promise.reject(op.signal.reason);
  }
  return new Promise((resolve, reject) => {
    const off = op.onAbort(() => reject(op.signal.reason));
    connecting.then(
      (client) => {
        off();
        if (op.aborted) client.release();
        else resolve(client);
      },
      (error: unknown) => {
        off();
        reject(error);
      },
    );
  });
}

/** The SQLSTATE of a PostgreSQL error, `undefined` for anything else. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The provider's single side connection, opened on first need: it LISTENs on the lock's release channel
 * (poll waiters wake on NOTIFY instead of oversleeping) and sends `pg_cancel_backend` to abort a
 * blocking wait. It is a plain `pg.Client`, never a pool member, so a burst of waiters cannot starve it.
 * When it dies it is reopened on the next use, and `onDown` lets waiters retry at once (a release may
 * have been missed).
 */
export class ControlConnection {
  private client: Client | undefined;
  private opening: Promise<Client> | undefined;
  private listening = false;
  private closed = false;
  private retryAt = 0;
  private arming: Promise<boolean> | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: () => Promise<ClientConfig>,
    private readonly channel: string,
    private readonly onNotify: (payload: string) => void,
    private readonly onDown: () => void,
  ) {}

  /** True while LISTEN is active. */
  get isListening(): boolean {
    return this.listening;
  }

  /**
   * Makes sure LISTEN is active. Resolves `true` when it was not before this call (see
   * `BaseLockProvider.armWake`), `false` when it already was or cannot be set up right now (then waiters
   * fall back to their backoff delays; a new attempt is made after a second).
   */
  listen(): Promise<boolean> {
    if (this.listening || this.closed || performance.now() < this.retryAt) return Promise.resolve(false);
    // Callers arriving while LISTEN is being set up share it (one statement at a time per client).
    this.arming ??= this.arm().finally(() => {
      this.arming = undefined;
    });
    return this.arming;
  }

  private async arm(): Promise<boolean> {
    try {
      const client = await this.open();
      if (!this.listening) {
        await this.serial(client, `LISTEN "${this.channel}"`);
        this.listening = true;
      }
      return true;
    } catch {
      this.retryAt = performance.now() + 1000;
      return false;
    }
  }

  /** Asks PostgreSQL to cancel the running statement of backend `pid` (a blocking `pg_advisory_lock`). */
  async cancel(pid: number): Promise<void> {
    if (this.closed) return;
    const client = await this.open();
    await this.serial(client, `SELECT pg_cancel_backend(${Math.trunc(pid)})`);
  }

  /**
   * Sends `payload` on the channel from this connection, when it is open and listening (no pool client
   * needed); `false` when it is not, or the NOTIFY failed.
   */
  async notify(payload: string): Promise<boolean> {
    const client = this.client;
    if (!client || !this.listening || this.closed) return false;
    try {
      await this.serial(client, `SELECT pg_notify('${this.channel}', '${payload.replace(/'/g, "''")}')`);
      return true;
    } catch {
      return false;
    }
  }

  /** One statement at a time on the side connection (pg would queue them, with a deprecation warning). */
  private serial(client: Client, sql: string): Promise<unknown> {
    const run = this.queue.then(() => client.query(sql));
    this.queue = run.then(noop, noop);
    return run;
  }

  /** Closes the connection; later calls do nothing. */
  async close(): Promise<void> {
    this.closed = true;
    const client = this.client ?? (await this.opening?.catch(() => undefined));
    this.drop();
    await client?.end().catch(noop);
  }

  private open(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    this.opening ??= (async () => {
      const { Client } = await loadPg();
      const client = new Client(await this.config());
      client.on('error', () => this.lost(client));
      client.on('end', () => this.lost(client));
      client.on('notification', (message: Notification) => {
        if (message.channel === this.channel) this.onNotify(message.payload ?? '');
      });
      try {
        await client.connect();
      } catch (error) {
        client.end().catch(noop);
        throw error;
      }
      if (this.closed) {
        client.end().catch(noop);
        throw new Error('lock provider closed');
      }
      this.client = client;
      return client;
    })().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private lost(client: Client): void {
    if (this.client !== client) return;
    const wasListening = this.listening;
    this.drop();
    client.end().catch(noop);
    if (wasListening && !this.closed) this.onDown();
  }

  private drop(): void {
    this.client = undefined;
    this.listening = false;
  }
}

/** Connection settings a side connection can be opened with, from a pool or a config. */
export function clientConfigOf(source: Pool | PoolConfig | string): ClientConfig {
  if (typeof source === 'string') return { connectionString: source };
  if (isPool(source)) {
    // pg-pool keeps the password as a non-enumerable property (so it is not logged): copy it explicitly.
    const options = (source as unknown as { options: PoolConfig }).options;
    return { ...options, password: options.password } as ClientConfig;
  }
  return { ...source };
}

function noop(): void {}
