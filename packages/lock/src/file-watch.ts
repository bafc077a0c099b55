import { type FSWatcher, lstat, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * Tells waiters that a file lock's entry disappeared, so they retry at once instead of sleeping out their
 * backoff delay. It watches the entry's directory (the entry itself comes and goes, so it cannot be
 * watched) and reacts only to `rename` events of the entry's name whose follow-up `lstat` finds it gone:
 * the holder's mtime refreshes (`change`) and a new holder's creation wake nobody.
 *
 * `fs.watch` is unreliable on network and some container file systems (no events, or an `error`): then
 * nothing wakes early and the backoff delays are the fallback. The watcher is `persistent: false`, so it
 * never keeps the process alive.
 */
export class ReleaseWatcher {
  private watcher: FSWatcher | undefined;
  private readonly name: string;
  private readonly dir: string;
  private checking = false;
  private recheck = false;

  constructor(
    private readonly lockPath: string,
    private readonly onRelease: () => void,
  ) {
    this.name = basename(lockPath);
    this.dir = dirname(lockPath);
  }

  /** True while watching. */
  get active(): boolean {
    return this.watcher !== undefined;
  }

  /** Starts watching; `true` when it was not watching before and now is. Never throws. */
  start(): boolean {
    if (this.watcher) return false;
    try {
      this.watcher = watch(this.dir, { persistent: false }, (type, filename) => this.onEvent(type, filename));
    } catch {
      // Unsupported here, or out of inotify watches: the backoff delays are the fallback.
      return false;
    }
    this.watcher.on('error', () => this.stop());
    return true;
  }

  /** Stops watching. Idempotent. */
  stop(): void {
    const watcher = this.watcher;
    this.watcher = undefined;
    watcher?.close();
  }

  private onEvent(type: string, filename: string | null): void {
    // Some platforms omit the name: then every rename in the directory is a candidate.
    if (type !== 'rename' || (filename !== null && filename !== this.name)) return;
    // A release and the next holder's create arrive close together: one lstat in flight is enough,
    // plus one more if events came in while it ran.
    if (this.checking) {
      this.recheck = true;
      return;
    }
    this.check();
  }

  private check(): void {
    this.checking = true;
    lstat(this.lockPath, (error) => {
      this.checking = false;
      if (error?.code === 'ENOENT') this.onRelease();
      else if (this.recheck && this.watcher) {
        this.recheck = false;
        this.check();
        return;
      }
      this.recheck = false;
    });
  }
}
