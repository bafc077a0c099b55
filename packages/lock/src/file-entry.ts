import fs from 'node:fs';

/**
 * How a file lock lives on disk, and the state one process keeps per lock path.
 *
 * proper-lockfile drives the protocol: create `<path>.lock` atomically (fails with EEXIST when held),
 * refresh its mtime every `update` ms, treat an entry older than `stale` ms as abandoned, report a lock
 * whose entry vanished or changed as compromised. It performs every file operation through the `fs`
 * option, and {@link LockSlot.fs} is where this package changes the entry itself: instead of an empty
 * directory (mkdir) it is a symbolic link whose target is the owner record (pid, start time, token,
 * hostname). Creating a symlink is as atomic as mkdir and fails the same way when the entry exists; the
 * owner metadata costs no extra file operation (a directory with an owner file inside needs two more,
 * which measured at half of proper-lockfile's throughput), and a target under 60 bytes is stored inside
 * the inode on ext4, so creating the entry is cheaper than a directory.
 * A plain proper-lockfile directory at the same path still excludes us and is taken over when stale.
 *
 * The adapter also closes two holes of proper-lockfile's removals, both of which blindly `rmdir`:
 * - releasing: when our last refresh is old enough that someone may have taken the lock over as stale,
 *   the entry is read first and removed only if it still carries our token;
 * - removing a stale entry: only the exact entry that was judged stale (same inode and mtime) is
 *   removed, so two waiters that both saw it stale cannot delete each other's fresh lock.
 */

/** What this process is doing with a lock path. One proper-lockfile lock per path at a time. */
export type SlotPhase = 'idle' | 'attempting' | 'held' | 'releasing';

/** Something to wake when the lock is released in this process (a FileLockProvider). */
export interface SlotListener {
  wakeFromSlot(): void;
}

type Errback = (error: NodeJS.ErrnoException | null) => void;

/**
 * Per-process state of one lock path, shared by every FileLockProvider of this process for that path.
 * Providers of one process exclude each other here first (no file operation needed) and proper-lockfile,
 * which keeps one module-wide entry per path, never sees two locks of the same path from one process.
 */
export class LockSlot {
  phase: SlotPhase = 'idle';
  /** Owner record the next entry is created with (see `ownerRecord`). */
  record = '';
  /** The lease of the current attempt or hold: whose phase this is. */
  lease: object | undefined;
  /** Epoch ms of the last write of our entry's mtime (creation or refresh). */
  freshAt = 0;
  readonly listeners = new Set<SlotListener>();
  /** The file operations proper-lockfile performs for this path; see the module comment. */
  readonly fs: Record<string, unknown>;
  /** The entry the last stale check saw; only that one may be removed as stale. */
  private seen: { ino: number; mtimeMs: number } | undefined;

  constructor(
    readonly lockPath: string,
    /** Refreshes older than this (ms) make a release verify the entry before removing it. */
    private readonly verifyAfterMs: number,
  ) {
    this.fs = {
      mkdir: (path: string, cb: Errback) =>
        fs.symlink(this.record, path, (error) => {
          if (!error) this.freshAt = Date.now();
          cb(error);
        }),
      stat: (path: string, cb: (error: NodeJS.ErrnoException | null, stat?: fs.Stats) => void) =>
        fs.lstat(path, (error, stat) => {
          if (!error && this.phase === 'attempting') this.seen = { ino: stat.ino, mtimeMs: stat.mtimeMs };
          cb(error, stat);
        }),
      utimes: (path: string, atime: Date, mtime: Date, cb: Errback) =>
        fs.lutimes(path, atime, mtime, (error) => {
          if (!error) this.freshAt = Date.now();
          cb(error);
        }),
      rmdir: (path: string, cb: Errback) =>
        this.phase === 'releasing' ? this.removeOurs(path, cb) : this.removeStale(path, cb),
      // proper-lockfile's exit hook removes entries still held when the process exits: only if ours.
      rmdirSync: (path: string) => {
        if (fs.readlinkSync(path) === this.record) fs.unlinkSync(path);
      },
    };
  }

  private removeOurs(path: string, cb: Errback): void {
    if (Date.now() - this.freshAt <= this.verifyAfterMs) {
      removeEntry(path, (error) =>
        cb(error?.code === 'ENOENT' ? lostError('removed by someone else') : error),
      );
      return;
    }
    fs.readlink(path, (error, target) => {
      if (error) return cb(error.code === 'ENOENT' ? lostError('removed by someone else') : error);
      if (target !== this.record) return cb(lostError('taken over by another owner'));
      removeEntry(path, cb);
    });
  }

  private removeStale(path: string, cb: Errback): void {
    const seen = this.seen;
    this.seen = undefined;
    fs.lstat(path, (error, stat) => {
      if (error) return cb(error);
      if (seen && stat.ino === seen.ino && stat.mtimeMs === seen.mtimeMs) return removeEntry(path, cb);
      // Not the entry judged stale: either someone else took the lock over first (leave it), or this is
      // our own entry whose creation proper-lockfile is undoing after a failed mtime probe.
      fs.readlink(path, (readError, target) => {
        if (!readError && target === this.record) return removeEntry(path, cb);
        cb(Object.assign(new Error('Lock file is already being held'), { code: 'ELOCKED' }));
      });
    });
  }
}

const slots = new Map<string, LockSlot>();

/** The slot of `lockPath` in this process, created on first use. */
export function slotFor(lockPath: string, verifyAfterMs: number): LockSlot {
  let slot = slots.get(lockPath);
  if (!slot) {
    slot = new LockSlot(lockPath, verifyAfterMs);
    slots.set(lockPath, slot);
  }
  return slot;
}

/** Forgets the slot of `lockPath` once no provider uses it and nothing is held. */
export function dropSlot(slot: LockSlot): void {
  if (slot.listeners.size === 0 && slot.phase === 'idle' && slots.get(slot.lockPath) === slot) {
    slots.delete(slot.lockPath);
  }
}

/** Error code of a release that found the entry was no longer ours. */
export const ELOST = 'ELOST';

function lostError(what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`lock entry was ${what} before release`), { code: ELOST });
}

/** Removes a lock entry: our symlink, or a directory left by plain proper-lockfile. */
function removeEntry(path: string, cb: Errback): void {
  fs.unlink(path, (error) => {
    if (error && (error.code === 'EISDIR' || error.code === 'EPERM')) fs.rmdir(path, cb);
    else cb(error);
  });
}
