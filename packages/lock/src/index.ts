/**
 * @perf/lock: PostgreSQL advisory locks, file locks and in-process locks behind one `LockProvider`
 * contract, with backoff, wake-on-release, fencing tokens, lost-lock signals and metrics.
 */

export type { BackoffConfig, BackoffOptions, Jitter } from '@perf/async';
export {
  type AttemptContext,
  type BaseLockOptions,
  BaseLockProvider,
  checkAcquireOptions,
  isDeadlineAbort,
  type Lease,
} from './base';
export * from './errors';
export {
  createLockProvider,
  type FileProviderConfig,
  type LockProviderConfig,
  type MemoryProviderConfig,
  type PostgresProviderConfig,
} from './factory';
export { type FileLease, type FileLockOptions, FileLockProvider } from './file';
export {
  type FileLockInfo,
  type FileLockOwner,
  type InspectFileLockOptions,
  inspectFileLock,
} from './file-owner';
export { Handle } from './handle';
export {
  type AdvisoryLockKey,
  advisoryLockId,
  DEFAULT_LOCK_NAMESPACE,
  describeAdvisoryKey,
  releaseChannel,
} from './keys';
export { type LockMode, type MemoryLockOptions, MemoryLockProvider, MemoryLockRegistry } from './memory';
export {
  type PgLease,
  type PostgresLockOptions,
  PostgresLockProvider,
  type PostgresWaitMode,
} from './postgres';
export { FencingTable, type FencingTableOptions } from './postgres-fencing';
export {
  type TransactionLockInfo,
  type TransactionLockOptions,
  withTransactionLock,
} from './postgres-transaction';
export type { AcquireOptions, LockHandle, LockProvider, LockStats } from './types';
