import type { ClientBase, Pool } from 'pg';
import { LockTimeoutError } from './errors';
import { type AdvisoryLockKey, advisoryLockId, describeAdvisoryKey } from './keys';
import { checkMode, type LockMode } from './memory';
import { isPool, sqlState } from './postgres-connection';
import { FencingTable, type FencingTableOptions } from './postgres-fencing';

/** Options for {@link withTransactionLock}. */
export interface TransactionLockOptions {
  /** Namespace of a string key (hashed as `namespace:key`). @default 'perf' */
  namespace?: string;
  /** `exclusive` (`pg_advisory_xact_lock`) or `shared` (`pg_advisory_xact_lock_shared`). @default 'exclusive' */
  mode?: LockMode;
  /**
   * Give up waiting after this many ms (`SET LOCAL lock_timeout`) and reject with `LockTimeoutError`;
   * `0` means a single try (`pg_try_advisory_xact_lock`). @default Infinity
   */
  timeoutMs?: number;
  /** Take a fencing token inside the transaction (same table as {@link PostgresLockProvider}). @default false */
  fencing?: boolean | FencingTableOptions;
}

/** What {@link withTransactionLock} passes to its function besides the client. */
export interface TransactionLockInfo {
  /** The key as shown in messages (`pg:42`, `pg:namespace:name`). */
  key: string;
  /** The int64 lock id. */
  lockId: bigint;
  /** The fencing token, when `fencing` is on. */
  fencingToken: bigint | undefined;
}

const fencingTables = new Map<string, FencingTable>();

/**
 * Runs `fn` inside a transaction that holds a transaction-scoped advisory lock
 * (`pg_advisory_xact_lock`): `BEGIN`, lock, `fn(client)`, `COMMIT`; `ROLLBACK` when anything throws. The
 * lock is released by the commit or rollback, never by a separate unlock, so it cannot leak.
 *
 * This is the mode that works behind PgBouncer in transaction pooling mode: session locks
 * ({@link PostgresLockProvider}) are tied to a server session that PgBouncer hands to other clients
 * between transactions, so they would be held by, and released from, the wrong session.
 *
 * Pass a `pg.Pool` to have a client checked out and returned (destroyed if the transaction failed at
 * the connection level), or a client you manage.
 *
 * @example
 * await withTransactionLock(pool, 'inventory', async (client) => {
 *   const { rows } = await client.query('SELECT qty FROM stock WHERE id = 1');
 *   await client.query('UPDATE stock SET qty = $1 WHERE id = 1', [rows[0].qty - 1]);
 * }, { timeoutMs: 2000 });
 * @throws {LockTimeoutError} when the lock was not granted within `timeoutMs`.
 * @throws {TypeError | RangeError} for an invalid key or option; otherwise whatever `fn` or PostgreSQL throws.
 */
export async function withTransactionLock<T>(
  clientOrPool: ClientBase | Pool,
  key: AdvisoryLockKey,
  fn: (client: ClientBase, info: TransactionLockInfo) => T | Promise<T>,
  options: TransactionLockOptions = {},
): Promise<T> {
  const lockId = advisoryLockId(key, options.namespace);
  const label = describeAdvisoryKey(key, options.namespace);
  const mode = checkMode('withTransactionLock', options.mode);
  const timeoutMs = options.timeoutMs ?? Number.POSITIVE_INFINITY;
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new RangeError(
      `withTransactionLock: timeoutMs must be a number >= 0, received ${String(timeoutMs)}`,
    );
  }
  if (typeof fn !== 'function')
    throw new TypeError(`withTransactionLock: fn must be a function, received ${String(fn)}`);
  const fencing = options.fencing ? fencingTable(options.fencing === true ? {} : options.fencing) : undefined;
  // Set when ROLLBACK itself failed: the session is unusable and must not go back to the pool.
  let broken: Error | undefined;
  if (isPool(clientOrPool)) {
    const client = await clientOrPool.connect();
    try {
      return await run(client);
    } finally {
      client.release(broken);
    }
  }
  if (!clientOrPool || typeof (clientOrPool as ClientBase).query !== 'function') {
    throw new TypeError(
      `withTransactionLock: expected a pg client or pool, received ${String(clientOrPool)}`,
    );
  }
  return run(clientOrPool as ClientBase);

  async function run(client: ClientBase): Promise<T> {
    if (fencing) await fencing.ensure(client);
    const started = performance.now();
    const suffix = mode === 'shared' ? '_shared' : '';
    await client.query('BEGIN');
    try {
      if (timeoutMs === 0) {
        const { rows } = await client.query<{ ok: boolean }>(
          `SELECT pg_try_advisory_xact_lock${suffix}(${lockId}) AS ok`,
        );
        if (rows[0]?.ok !== true) throw new LockTimeoutError(label, performance.now() - started, 1);
      } else if (timeoutMs === Number.POSITIVE_INFINITY) {
        await client.query(`SELECT pg_advisory_xact_lock${suffix}(${lockId})`);
      } else {
        // Bound only the lock wait: the transaction-local setting is put back before fn runs.
        const ms = String(Math.max(1, Math.min(2_147_483_647, Math.ceil(timeoutMs))));
        try {
          await client.query(
            `SELECT set_config('lock_timeout', $1, true), pg_advisory_xact_lock${suffix}(${lockId})`,
            [ms],
          );
        } catch (error) {
          if (sqlState(error) === '55P03') {
            throw new LockTimeoutError(label, performance.now() - started, 1, { cause: error });
          }
          throw error;
        }
        await client.query(
          "SELECT set_config('lock_timeout', (SELECT reset_val FROM pg_settings WHERE name = 'lock_timeout'), true)",
        );
      }
      const fencingToken = fencing ? await fencing.next(client, lockId) : undefined;
      const result = await fn(client, { key: label, lockId, fencingToken });
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    }
  }
}

/** One table object per name, so the `CREATE TABLE IF NOT EXISTS` runs once per process and table. */
function fencingTable(options: FencingTableOptions): FencingTable {
  const id = `${options.schema ?? ''}.${options.table ?? ''}`;
  let table = fencingTables.get(id);
  if (!table) {
    table = new FencingTable(options, 'withTransactionLock');
    fencingTables.set(id, table);
  }
  return table;
}
