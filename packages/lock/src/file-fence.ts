import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { LockError } from './errors';

/**
 * Takes the next fencing token of a file lock: reads the counter file, adds one, and replaces the file
 * atomically (write a temporary file beside it, then rename over it), so a reader never sees a half
 * written number and a crash leaves either the old or the new value. Call it only while holding the
 * lock: mutual exclusion is what makes read + increment + write safe across processes.
 *
 * The counter is not fsync'ed: it survives process crashes, not a power loss of the machine.
 *
 * @param fencePath - the counter file, created with `1` on first use.
 * @param unique - makes the temporary file name unique (the acquisition's token).
 * @throws {LockError} code `ERR_LOCK_FENCE` when the file holds something other than a counter.
 */
export async function nextFencingToken(fencePath: string, unique: string, key: string): Promise<bigint> {
  let current = 0n;
  try {
    const text = (await readFile(fencePath, 'utf8')).trim();
    if (!/^\d+$/.test(text)) {
      throw new LockError(
        `lock ${key}: fencing counter ${fencePath} holds ${JSON.stringify(text.slice(0, 40))}, not a number`,
        'ERR_LOCK_FENCE',
        key,
      );
    }
    current = BigInt(text);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const next = current + 1n;
  const tmp = `${fencePath}.${unique}.tmp`;
  try {
    await writeFile(tmp, `${next}\n`);
    await rename(tmp, fencePath);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  return next;
}
