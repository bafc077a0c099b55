import { dirname } from 'node:path';
import { type AttemptContext, BaseLockProvider, type Lease } from './base';
import { LockLostError, LockPathError } from './errors';
import { dropSlot, ELOST, type LockSlot, slotFor } from './file-entry';
import { nextFencingToken } from './file-fence';
import { type FileLockOptions, resolveFileLockOptions } from './file-options';
import {
  type FileLockInfo,
  type InspectFileLockOptions,
  inspectFileLock,
  newToken,
  ownerRecord,
} from './file-owner';
import { ReleaseWatcher } from './file-watch';
import type { Handle } from './handle';

export type { FileLockOptions } from './file-options';

/** What a file-lock handle keeps: its token, proper-lockfile's release function, and a compromise. */
export interface FileLease {
  /** This acquisition's token, as in the owner record. */
  token: string;
  /** proper-lockfile's release function, once the entry is ours. */
  release: (() => Promise<void>) | undefined;
  /** What proper-lockfile reported when the lock was compromised. */
  compromised: Error | undefined;
}

type ProperLockfile = typeof import('proper-lockfile');
let properLockfile: ProperLockfile | undefined;

/** Loads proper-lockfile on first use: it installs process exit hooks when loaded, and importing starts nothing. */
async function loadProperLockfile(): Promise<ProperLockfile> {
  if (!properLockfile) {
    const mod = (await import('proper-lockfile')) as ProperLockfile & { default?: ProperLockfile };
    properLockfile = mod.default ?? mod;
  }
  return properLockfile;
}

const PATH_ERRORS = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS']);

/**
 * A lock shared by processes on one machine (or on a file system they share), on `proper-lockfile`: the
 * lock is the entry `<path>.lock`, created atomically, refreshed every `updateMs` and taken over once
 * older than `staleMs` (its holder died). The file at `path` itself need not exist and is never touched.
 *
 * On top of proper-lockfile it adds the {@link LockProvider} contract (timeouts, `AbortSignal`, backoff,
 * `await using`, stats), and:
 * - a lost lock (the entry removed or taken over, refreshes failing) aborts `handle.signal` with
 *   {@link LockLostError} and never throws from a timer (proper-lockfile's default `onCompromised` does,
 *   which crashes the process);
 * - owner metadata (pid, hostname, start time) in the entry, readable with {@link FileLockProvider.inspect};
 * - waiters wake when the entry disappears (`fs.watch`), with backoff as the fallback;
 * - fencing tokens from a counter file (`fencing: true`).
 *
 * Providers of one process for the same path exclude each other in memory first; a release wakes them.
 *
 * @example
 * const lock = new FileLockProvider('/var/run/myapp/migrate', { fencing: true });
 * await using handle = await lock.acquire({ timeoutMs: 30_000 });
 * await migrate({ signal: handle.signal, fencingToken: handle.fencingToken });
 *
 * @throws {TypeError | RangeError} from the constructor for invalid options, naming the option.
 * @throws {LockPathError} from `acquire()` when the entry cannot be created (its directory is missing).
 */
export class FileLockProvider extends BaseLockProvider<FileLease> {
  /** The protected file's absolute path (need not exist). */
  readonly path: string;
  /** The lock entry's absolute path. */
  readonly lockPath: string;
  /** The fencing counter file's absolute path. */
  readonly fencePath: string;
  /** ms after which an unrefreshed entry is taken over. */
  readonly staleMs: number;
  /** ms between refreshes of a held entry. */
  readonly updateMs: number;
  private readonly fencing: boolean;
  private readonly slot: LockSlot;
  private readonly watcher: ReleaseWatcher | undefined;
  private readonly waiting = new Set<AbortSignal>();
  private readonly listener = { wakeFromSlot: () => this.wake() };

  constructor(path: string, options: FileLockOptions = {}) {
    const o = resolveFileLockOptions(path, options);
    super(`file:${o.path}`, options, 'FileLockProvider');
    this.path = o.path;
    this.staleMs = o.staleMs;
    this.updateMs = o.updateMs;
    this.fencing = o.fencing;
    this.lockPath = o.lockPath;
    this.fencePath = o.fencePath;
    this.watcher = o.watch ? new ReleaseWatcher(this.lockPath, () => this.wake()) : undefined;
    // A release is safe without re-reading the entry while nobody can have judged it stale yet.
    this.slot = slotFor(this.lockPath, this.staleMs / 2);
    this.slot.listeners.add(this.listener);
  }

  /**
   * Who holds the lock of `path` and how fresh it is, or `null` when nobody does. See {@link inspectFileLock}.
   * @example
   * const info = await FileLockProvider.inspect('/var/run/myapp/migrate');
   */
  static inspect(path: string, options?: InspectFileLockOptions): Promise<FileLockInfo | null> {
    return inspectFileLock(path, options);
  }

  /** Who holds this provider's lock (any process), or `null` when nobody does. */
  inspect(): Promise<FileLockInfo | null> {
    return inspectFileLock(this.path, { staleMs: this.staleMs, lockPath: this.lockPath });
  }

  protected override async tryOnce(_ctx: AttemptContext): Promise<Lease<FileLease> | undefined> {
    const slot = this.slot;
    if (slot.phase !== 'idle') return undefined;
    slot.phase = 'attempting';
    const token = newToken();
    const state: FileLease = { token, release: undefined, compromised: undefined };
    slot.lease = state;
    slot.record = ownerRecord(token);
    try {
      const api = properLockfile ?? (await loadProperLockfile());
      state.release = await api.lock(this.path, {
        stale: this.staleMs,
        update: this.updateMs,
        realpath: false,
        retries: 0,
        lockfilePath: this.lockPath,
        fs: slot.fs,
        onCompromised: (error) => this.compromised(state, error),
      });
    } catch (error) {
      slot.phase = 'idle';
      return this.attemptFailed(error);
    }
    slot.phase = 'held';
    if (!this.fencing) return { state };
    try {
      return { state, fencingToken: await nextFencingToken(this.fencePath, token, this.key) };
    } catch (error) {
      await this.free(state).catch(() => undefined);
      throw error;
    }
  }

  protected override async releaseOnce(handle: Handle<FileLease>): Promise<void> {
    const state = handle.state;
    if (handle.lost || state.compromised) return this.settle(state);
    try {
      await this.free(state);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason =
        code === ELOST
          ? (error as Error).message
          : code === 'ERELEASED'
            ? 'lock entry was compromised before release'
            : `release failed: ${(error as Error).message}`;
      throw new LockLostError(this.key, reason, { cause: error });
    }
  }

  protected override onGranted(handle: Handle<FileLease>): void {
    // Compromised between the attempt and the hand-over (a slow fencing write): report it now.
    const error = handle.state.compromised;
    if (error) handle.lose(`lock entry ${this.lockPath} was lost while acquiring`, error);
  }

  protected override armWake(signal: AbortSignal): boolean {
    if (!this.watcher) return false;
    this.waiting.add(signal);
    return this.watcher.start();
  }

  protected override disarmWake(signal: AbortSignal): void {
    if (this.waiting.delete(signal) && this.waiting.size === 0) this.watcher?.stop();
  }

  protected override onClose(): void {
    this.waiting.clear();
    this.watcher?.stop();
    this.slot.listeners.delete(this.listener);
    dropSlot(this.slot);
  }

  /** Removes our entry through proper-lockfile, then frees the slot for this process's other providers. */
  private async free(state: FileLease): Promise<void> {
    if (this.slot.lease === state && this.slot.phase === 'held') this.slot.phase = 'releasing';
    try {
      await state.release?.();
    } finally {
      this.settle(state);
    }
  }

  private settle(state: FileLease): void {
    const slot = this.slot;
    if (slot.lease !== state || slot.phase === 'idle') return;
    slot.phase = 'idle';
    for (const listener of slot.listeners) if (listener !== this.listener) listener.wakeFromSlot();
  }

  /** proper-lockfile's `onCompromised`, called from its refresh timer: must never throw. */
  private compromised(state: FileLease, error: Error): void {
    state.compromised = error;
    this.settle(state);
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ECOMPROMISED' && !error.message.includes('ENOENT')
        ? `lock entry ${this.lockPath} was taken over or could not be refreshed`
        : `lock entry ${this.lockPath} was removed`;
    for (const handle of this.heldHandles()) {
      if (handle.state === state) handle.lose(reason, error);
    }
  }

  private attemptFailed(error: unknown): undefined {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOCKED') return undefined;
    if (code && PATH_ERRORS.has(code)) {
      const dir = dirname(this.lockPath);
      const why = code === 'ENOENT' ? `directory ${dir} does not exist` : `cannot create an entry in ${dir}`;
      throw new LockPathError(this.key, this.lockPath, `${why} (${code})`, { cause: error });
    }
    throw error;
  }
}
