import { resolve } from 'node:path';
import type { BaseLockOptions } from './base';

/** Options for {@link FileLockProvider}. */
export interface FileLockOptions extends BaseLockOptions {
  /**
   * A lock entry whose mtime is older than this is treated as abandoned (its holder crashed) and taken
   * over. Holders refresh it every `updateMs`, so only a dead or frozen holder goes stale. Minimum 2000
   * (proper-lockfile's floor).
   * @default 10_000
   */
  staleMs?: number;
  /** How often a holder refreshes the entry's mtime, in ms: from 1000 to `staleMs / 2`. @default staleMs / 2 */
  updateMs?: number;
  /**
   * Give every handle a `fencingToken` from a counter file (`fencePath`), incremented while holding the
   * lock: strictly increasing across every holder and process that uses the same counter file.
   * @default false
   */
  fencing?: boolean;
  /** The fencing counter file. @default `${path}.fence` */
  fencePath?: string;
  /** The lock entry. Processes that should exclude each other must agree on it. @default `${path}.lock` */
  lockPath?: string;
  /**
   * Wake waiters as soon as the entry disappears (`fs.watch` on its directory) instead of at the end of
   * their backoff delay. Turn off on file systems where `fs.watch` misbehaves; backoff still works.
   * @default true
   */
  watch?: boolean;
}

/** {@link FileLockOptions} with defaults filled in and paths made absolute. */
export interface ResolvedFileLockOptions {
  path: string;
  staleMs: number;
  updateMs: number;
  fencing: boolean;
  lockPath: string;
  fencePath: string;
  watch: boolean;
}

const OWNER = 'FileLockProvider';

/**
 * Validates a file lock's path and options and fills the defaults (the `backoff` option is the base
 * provider's). proper-lockfile silently clamps `stale`/`update` to its floors; out-of-range values are
 * rejected here instead, so what you configure is what runs.
 * @throws {TypeError | RangeError} naming the option and the value received.
 */
export function resolveFileLockOptions(path: unknown, options: FileLockOptions): ResolvedFileLockOptions {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`${OWNER}: path must be a non-empty string, received ${String(path)}`);
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${OWNER}: options must be an object, received ${String(options)}`);
  }
  const absolute = resolve(path);
  const staleMs = checkMs('staleMs', options.staleMs ?? 10_000, 2000);
  const updateMs = checkMs('updateMs', options.updateMs ?? Math.max(1000, staleMs / 2), 1000);
  if (updateMs > staleMs / 2) {
    throw new RangeError(`${OWNER}: updateMs must be <= staleMs / 2 (${staleMs / 2}), received ${updateMs}`);
  }
  return {
    path: absolute,
    staleMs,
    updateMs,
    fencing: checkBoolean('fencing', options.fencing, false),
    lockPath: resolve(checkPath('lockPath', options.lockPath) ?? `${absolute}.lock`),
    fencePath: resolve(checkPath('fencePath', options.fencePath) ?? `${absolute}.fence`),
    watch: checkBoolean('watch', options.watch, true),
  };
}

function checkMs(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${OWNER}: ${name} must be a number, received ${String(value)}`);
  }
  if (!Number.isFinite(value) || value < min) {
    throw new RangeError(`${OWNER}: ${name} must be a finite number >= ${min}, received ${value}`);
  }
  return value;
}

function checkBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new TypeError(`${OWNER}: ${name} must be a boolean, received ${String(value)}`);
  return value;
}

function checkPath(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${OWNER}: ${name} must be a non-empty string, received ${String(value)}`);
  }
  return value;
}
