import { lstat, readlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

/**
 * Who holds a file lock: written by {@link FileLockProvider} into the lock entry when it acquires, read
 * by {@link inspectFileLock}. Enough to find the holder (`ssh hostname; ps -p pid`) and see how long it
 * has held the lock.
 */
export interface FileLockOwner {
  /** Process id of the holder, on `hostname`. */
  pid: number;
  /** `os.hostname()` of the holder's machine. */
  hostname: string;
  /** When the lock was acquired, ISO 8601. */
  started: string;
  /** Random id of this acquisition (8 hex digits); tells two holders of the same process apart. */
  token: string;
}

/** What {@link inspectFileLock} found at a lock path. */
export interface FileLockInfo {
  /** The lock entry (`<path>.lock`). */
  lockPath: string;
  /**
   * The holder, or `undefined` when the entry carries no owner metadata (a lock taken by plain
   * `proper-lockfile`, which creates an empty directory).
   */
  owner: FileLockOwner | undefined;
  /** Last time the holder refreshed the entry (its mtime), ISO 8601. */
  updatedAt: string;
  /** ms since that refresh. */
  ageMs: number;
  /** True when `ageMs` exceeds `staleMs`: a waiter would take the lock over. */
  stale: boolean;
}

/** Options for {@link inspectFileLock}. */
export interface InspectFileLockOptions {
  /** Same meaning as {@link FileLockOptions.staleMs}: decides `stale`. @default 10_000 */
  staleMs?: number;
  /** The lock entry, when not `<path>.lock`. @default `${path}.lock` */
  lockPath?: string;
}

let host: string | undefined;

/**
 * A new acquisition's owner record, as the lock entry stores it: `<pid> <epoch ms> <token> <hostname>`,
 * e.g. `4242 1764222545123 9f86d081 api-7d9f8c6b5d-x2x9k`. Compact on purpose: a symlink target under 60
 * bytes lives inside the inode on ext4 (a "fast symlink"), so creating the entry allocates no data block
 * and costs less than proper-lockfile's mkdir. `readlink <path>.lock` shows it to a human as well.
 */
export function ownerRecord(token: string): string {
  host ??= hostname().replace(/\s/g, '_');
  return `${process.pid} ${Date.now()} ${token} ${host}`;
}

/** A random 8-hex-digit token: with the pid and the start time it identifies one acquisition. */
export function newToken(): string {
  return ((Math.random() * 0x1_0000_0000) >>> 0).toString(16).padStart(8, '0');
}

/**
 * Reads who holds the file lock of `path` without touching it: `null` when nobody holds it, else the
 * owner metadata and how fresh the lock is. For operators and health endpoints ("who holds the
 * migration lock, since when?"); never use it to decide whether to take the lock (that would race).
 *
 * @example
 * const info = await inspectFileLock('/var/run/app/migrate');
 * if (info) console.log(`held by pid ${info.owner?.pid} on ${info.owner?.hostname} since ${info.owner?.started}`);
 * @throws {TypeError} when `path` is not a non-empty string.
 * @throws the file-system error when the entry exists but cannot be read (not `ENOENT`).
 */
export async function inspectFileLock(
  path: string,
  options: InspectFileLockOptions = {},
): Promise<FileLockInfo | null> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`inspectFileLock: path must be a non-empty string, received ${String(path)}`);
  }
  const lockPath = options.lockPath ?? `${resolve(path)}.lock`;
  const staleMs = options.staleMs ?? 10_000;
  let mtimeMs: number;
  let isLink: boolean;
  try {
    const stat = await lstat(lockPath);
    mtimeMs = stat.mtimeMs;
    isLink = stat.isSymbolicLink();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let owner: FileLockOwner | undefined;
  if (isLink) {
    try {
      owner = parseOwner(await readlink(lockPath));
    } catch (error) {
      // Released between lstat and readlink.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }
  const ageMs = Math.max(0, Date.now() - mtimeMs);
  return { lockPath, owner, updatedAt: new Date(mtimeMs).toISOString(), ageMs, stale: ageMs > staleMs };
}

/** Parses an owner record written by {@link ownerRecord}; `undefined` for anything else (never throws). */
export function parseOwner(text: string): FileLockOwner | undefined {
  const [pid, started, token, hostname, ...rest] = text.split(' ');
  if (rest.length > 0 || !pid || !started || !token || !hostname) return undefined;
  if (!/^\d+$/.test(pid) || !/^\d+$/.test(started)) return undefined;
  return { pid: Number(pid), hostname, started: new Date(Number(started)).toISOString(), token };
}
