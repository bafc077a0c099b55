import type { ClientBase } from 'pg';
import { sqlState } from './postgres-connection';

/** Where PostgreSQL fencing tokens live. */
export interface FencingTableOptions {
  /**
   * Schema of the table; created with `CREATE SCHEMA IF NOT EXISTS` when given.
   * @default none: the table is resolved through `search_path` (normally `public`)
   */
  schema?: string;
  /** Table name. @default 'perf_lock_fencing' */
  table?: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * The fencing-token counter of PostgreSQL locks: one row per lock id in a small table
 * (`lock_key bigint primary key, token bigint`), created on first use with `CREATE TABLE IF NOT EXISTS`.
 * {@link FencingTable.next} runs in the session that holds the lock, right after acquiring it, as one
 * `INSERT … ON CONFLICT DO UPDATE SET token = token + 1 RETURNING token`: every holder of a key gets a
 * larger token than every earlier holder, whichever process or provider it came from.
 *
 * @throws {TypeError} from the constructor when `schema` or `table` is not a plain SQL identifier.
 */
export class FencingTable {
  /** The quoted, qualified table name used in SQL. */
  readonly qualifiedName: string;
  private readonly createSql: string[];
  private ready: Promise<void> | undefined;

  constructor(options: FencingTableOptions = {}, owner = 'PostgresLockProvider') {
    const table = options.table ?? 'perf_lock_fencing';
    checkIdentifier(owner, 'fencing.table', table);
    if (options.schema !== undefined) checkIdentifier(owner, 'fencing.schema', options.schema);
    this.qualifiedName = options.schema === undefined ? `"${table}"` : `"${options.schema}"."${table}"`;
    this.createSql = [
      ...(options.schema === undefined ? [] : [`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`]),
      `CREATE TABLE IF NOT EXISTS ${this.qualifiedName} (lock_key bigint PRIMARY KEY, token bigint NOT NULL)`,
    ];
  }

  /**
   * Increments and returns the token of lock `id`, creating the table the first time. Call it on the
   * client that holds the lock (or inside the transaction that holds a transaction lock).
   */
  async next(client: ClientBase, id: bigint): Promise<bigint> {
    await this.ensure(client);
    const { rows } = await client.query<{ token: string }>(
      `INSERT INTO ${this.qualifiedName} AS f (lock_key, token) VALUES (${id}, 1) ` +
        'ON CONFLICT (lock_key) DO UPDATE SET token = f.token + 1 RETURNING token',
    );
    return BigInt(rows[0]!.token);
  }

  /**
   * Creates the table once per instance (later calls share the first call's promise; a failure is
   * retried by the next call). Run it outside a transaction: a catalog race inside one would abort it.
   */
  ensure(client: ClientBase): Promise<void> {
    this.ready ??= this.create(client).catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  private async create(client: ClientBase): Promise<void> {
    for (const sql of this.createSql) {
      try {
        await client.query(sql);
      } catch (error) {
        // Two sessions creating the same table at once: the loser sees a duplicate in the catalog even
        // with IF NOT EXISTS. The table exists either way.
        const state = sqlState(error);
        if (state !== '23505' && state !== '42P07' && state !== '42P06') throw error;
      }
    }
  }
}

function checkIdentifier(owner: string, name: string, value: unknown): void {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new TypeError(
      `${owner}: ${name} must be a plain SQL identifier (letters, digits, _; at most 63), received ${String(value)}`,
    );
  }
}
