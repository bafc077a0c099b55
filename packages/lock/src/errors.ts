/**
 * Every error @perf/lock throws. Each sets `name`, carries a stable `code` and a brand property checked
 * by its `isXError()` guard, so guards work across duplicate installs of this package. Bad options and
 * keys throw `TypeError`/`RangeError` naming the option and the value received.
 */

/** Base of every @perf/lock error. */
export class LockError extends Error {
  /** Brand shared by every @perf/lock error. */
  readonly isPerfLockError = true;
  constructor(
    message: string,
    /** Stable machine-readable code, e.g. `ERR_LOCK_TIMEOUT`. */
    readonly code: string,
    /** The lock's key as shown in messages (`pg:42`, `file:/var/run/app.lock`). */
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'LockError';
  }
}

/** The lock was not acquired within `timeoutMs` (or the backoff policy gave up). Code `ERR_LOCK_TIMEOUT`. */
export class LockTimeoutError extends LockError {
  readonly isLockTimeoutError = true;
  constructor(
    key: string,
    /** How long the caller waited, in ms. */
    readonly waitedMs: number,
    /** Acquisition attempts made. */
    readonly attempts: number,
    options?: ErrorOptions,
  ) {
    super(
      `lock ${key} not acquired after ${Math.round(waitedMs)} ms (${attempts} attempts)`,
      'ERR_LOCK_TIMEOUT',
      key,
      options,
    );
    this.name = 'LockTimeoutError';
  }
}

/**
 * A held lock is gone: its database session died, the server restarted, or the lock file was taken over
 * or removed. `handle.signal` aborts with this error; work guarded by the lock must stop. Code
 * `ERR_LOCK_LOST`.
 */
export class LockLostError extends LockError {
  readonly isLockLostError = true;
  constructor(key: string, reason: string, options?: ErrorOptions) {
    super(`lock ${key} lost: ${reason}`, 'ERR_LOCK_LOST', key, options);
    this.name = 'LockLostError';
  }
}

/** The provider was closed; no new acquisitions. Code `ERR_LOCK_CLOSED`. */
export class LockClosedError extends LockError {
  readonly isLockClosedError = true;
  constructor(key: string) {
    super(`lock provider for ${key} is closed`, 'ERR_LOCK_CLOSED', key);
    this.name = 'LockClosedError';
  }
}

/**
 * A file lock cannot be created at its path: the directory does not exist, is not a directory, or is not
 * writable. Code `ERR_LOCK_PATH`; `cause` is the file-system error (`ENOENT`, `ENOTDIR`, `EACCES`, ...).
 */
export class LockPathError extends LockError {
  readonly isLockPathError = true;
  constructor(
    key: string,
    /** The lock entry that could not be created. */
    readonly path: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`lock ${key}: cannot create ${path}: ${reason}`, 'ERR_LOCK_PATH', key, options);
    this.name = 'LockPathError';
  }
}

/** True for any @perf/lock error (also from another copy of the package). */
export const isLockError = (e: unknown): e is LockError =>
  e instanceof Error && (e as Partial<LockError>).isPerfLockError === true;
/** True for a {@link LockTimeoutError} (also from another copy of the package). */
export const isLockTimeoutError = (e: unknown): e is LockTimeoutError =>
  e instanceof Error && (e as Partial<LockTimeoutError>).isLockTimeoutError === true;
/** True for a {@link LockLostError} (also from another copy of the package). */
export const isLockLostError = (e: unknown): e is LockLostError =>
  e instanceof Error && (e as Partial<LockLostError>).isLockLostError === true;
/** True for a {@link LockClosedError} (also from another copy of the package). */
export const isLockClosedError = (e: unknown): e is LockClosedError =>
  e instanceof Error && (e as Partial<LockClosedError>).isLockClosedError === true;
/** True for a {@link LockPathError} (also from another copy of the package). */
export const isLockPathError = (e: unknown): e is LockPathError =>
  e instanceof Error && (e as Partial<LockPathError>).isLockPathError === true;
