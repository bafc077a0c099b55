import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary directory that removes itself on dispose. */
export interface TmpDir extends AsyncDisposable {
  /** Absolute path of the directory. */
  path: string;
  /** Removes the directory and everything in it. Idempotent. */
  remove(): Promise<void>;
}

/**
 * Creates a fresh temporary directory (`mkdtemp` under the OS temp dir).
 *
 * @example
 * await using dir = await tmpDir('lock-');
 * await writeFile(join(dir.path, 'x'), '1');
 */
export async function tmpDir(prefix = 'perf-'): Promise<TmpDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  let removed: Promise<void> | undefined;
  const remove = () => {
    removed ??= rm(path, { recursive: true, force: true });
    return removed;
  };
  return { path, remove, [Symbol.asyncDispose]: remove };
}
