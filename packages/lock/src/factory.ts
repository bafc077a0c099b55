import type { Pool, PoolConfig } from 'pg';
import { type FileLockOptions, FileLockProvider } from './file';
import { type MemoryLockOptions, MemoryLockProvider } from './memory';
import { type PostgresLockOptions, PostgresLockProvider } from './postgres';
import type { LockProvider } from './types';

/** {@link createLockProvider} options for a PostgreSQL advisory lock. */
export interface PostgresProviderConfig extends PostgresLockOptions {
  type: 'postgres';
  /** A `pg.Pool` (shared with the app), a pool config, or a connection URL (the provider owns that pool). */
  pool: Pool | PoolConfig | string;
}

/** {@link createLockProvider} options for a file lock. */
export interface FileProviderConfig extends FileLockOptions {
  type: 'file';
  /** The file to lock; it need not exist, its directory must. */
  path: string;
}

/** {@link createLockProvider} options for an in-process lock. */
export interface MemoryProviderConfig extends MemoryLockOptions {
  type: 'memory';
  /** The lock's name. */
  key: string;
}

/** Options of {@link createLockProvider}: one of the three providers, chosen by `type`. */
export type LockProviderConfig = PostgresProviderConfig | FileProviderConfig | MemoryProviderConfig;

/**
 * Builds a lock provider from plain configuration, so an app can switch between PostgreSQL, file and
 * in-process locks (e.g. `memory` in tests) without code changes. Every provider has the same
 * {@link LockProvider} contract.
 *
 * @example
 * const lock = createLockProvider(
 *   process.env.DATABASE_URL
 *     ? { type: 'postgres', pool, key: 'billing-run', wait: 'block', fencing: true }
 *     : { type: 'file', path: '/var/run/billing-run.lock' },
 * );
 * await lock.withLock(async (handle) => runBilling({ signal: handle.signal }));
 * @throws {TypeError} for a missing or unknown `type`, and whatever the chosen constructor throws.
 */
export function createLockProvider(config: LockProviderConfig): LockProvider {
  if (config === null || typeof config !== 'object') {
    throw new TypeError(`createLockProvider: config must be an object, received ${String(config)}`);
  }
  switch (config.type) {
    case 'postgres': {
      const { type: _type, pool, ...options } = config;
      return new PostgresLockProvider(pool, options);
    }
    case 'file': {
      const { type: _type, path, ...options } = config;
      return new FileLockProvider(path, options);
    }
    case 'memory': {
      const { type: _type, key, ...options } = config;
      return new MemoryLockProvider(key, options);
    }
    default:
      throw new TypeError(
        `createLockProvider: type must be 'postgres', 'file' or 'memory', received ${String((config as { type?: unknown }).type)}`,
      );
  }
}
