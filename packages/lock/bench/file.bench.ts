// File locks against proper-lockfile called directly, in the same run: uncontended acquire+release (the
// seed's "File Lock (Optimized)" row of "Distributed Lock Performance"), and 4 real processes contending.
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSuite, isQuick } from '@perf/bench';
import lockfile from 'proper-lockfile';
import { FileLockProvider } from '../src/index';
import { type Contenders, startContenders } from './fixtures/contenders';

const TABLE = 'Distributed Lock Performance';
const quick = isQuick();
const UNCONTENDED_OPS = 100;
const PROCESSES = 4;
const PER_PROCESS = 50;
const contender = join(import.meta.dirname, 'fixtures/file-contender.ts');

interface Dir {
  dir: string;
  path: string;
}
const newDir = async (): Promise<Dir> => {
  const dir = await mkdtemp(join(tmpdir(), 'lock-bench-'));
  return { dir, path: join(dir, 'resource') };
};
const removeDir = (ctx: { dir: string }) => rm(ctx.dir, { recursive: true, force: true });

interface Contended extends Dir {
  contenders: Contenders;
}
const contended = (mode: 'perf' | 'plf', gapMs: number, processes = PROCESSES) => ({
  opsPerCall: PROCESSES * PER_PROCESS,
  setup: async (): Promise<Contended> => {
    const dir = await newDir();
    return {
      ...dir,
      contenders: await startContenders(processes, contender, [
        mode,
        dir.path,
        String((PROCESSES * PER_PROCESS) / processes),
        '1',
        String(gapMs),
      ]),
    };
  },
  fn: async (ctx: Contended) => ({ samplesMs: await ctx.contenders.round() }),
  teardown: async (ctx: Contended) => {
    await ctx.contenders.close();
    await removeDir(ctx);
  },
});

export default defineSuite({
  name: 'lock-file',
  scenarios: [
    {
      name: 'File Lock (Optimized)',
      table: TABLE,
      timeMs: 5000,
      rounds: 5,
      opsPerCall: UNCONTENDED_OPS,
      setup: async () => ({ ...(await newDir()), lock: undefined as FileLockProvider | undefined }),
      fn: async (ctx: Dir & { lock?: FileLockProvider | undefined }) => {
        ctx.lock ??= new FileLockProvider(ctx.path);
        for (let i = 0; i < UNCONTENDED_OPS; i++) {
          const handle = await ctx.lock.acquire();
          await handle.release();
        }
      },
      teardown: async (ctx: Dir & { lock?: FileLockProvider | undefined }) => {
        await ctx.lock?.close();
        await removeDir(ctx);
      },
      peers: [
        {
          name: 'proper-lockfile (realpath: false)',
          opsPerCall: UNCONTENDED_OPS,
          setup: newDir,
          fn: async (ctx: Dir) => {
            for (let i = 0; i < UNCONTENDED_OPS; i++) {
              const release = await lockfile.lock(ctx.path, { realpath: false });
              await release();
            }
          },
          teardown: removeDir,
        },
        {
          name: 'proper-lockfile (defaults)',
          opsPerCall: UNCONTENDED_OPS,
          setup: async () => {
            const dir = await newDir();
            // Its default `realpath: true` needs the file to exist.
            writeFileSync(dir.path, '');
            return dir;
          },
          fn: async (ctx: Dir) => {
            for (let i = 0; i < UNCONTENDED_OPS; i++) {
              const release = await lockfile.lock(ctx.path);
              await release();
            }
          },
          teardown: removeDir,
        },
      ],
      targets: [{ peer: 'proper-lockfile (realpath: false)', minRatio: 0.9 }],
    },
    {
      name: 'File Lock, 4 processes × 50, 1 ms hold',
      table: TABLE,
      // Quick mode: one call per subject (each call is a whole 200-acquisition round).
      timeMs: quick ? 0 : 10_000,
      rounds: 5,
      minCalls: quick ? 1 : 5,
      warmupCalls: 1,
      ...contended('perf', 0),
      peers: [
        { name: 'proper-lockfile, retries 5–100 ms', ...contended('plf', 0) },
        // The ceiling of this scenario: the same 200 acquire/hold/release cycles in ONE process, so no
        // hand-off at all. A holder that re-acquires at once keeps the lock in every library, so the
        // 4-process rounds cannot beat this; proper-lockfile's time over it bounds any ratio to it.
        { name: 'ceiling: 1 process × 200, no hand-off', ...contended('perf', 0, 1) },
      ],
      targets: [{ peer: 'proper-lockfile, retries 5–100 ms', minRatio: 2.5 }],
    },
    // A reference row without a target: left out of quick runs (their time budget).
    ...(quick
      ? []
      : [
          {
            // Holders that do other work between acquisitions leave gaps a waiter must notice to fill.
            name: 'File Lock, 4 processes × 50, 1 ms hold + 1 ms work between',
            table: TABLE,
            timeMs: 10_000,
            rounds: 5,
            minCalls: 5,
            warmupCalls: 1,
            ...contended('perf', 1),
            peers: [{ name: 'proper-lockfile, retries 5–100 ms', ...contended('plf', 1) }],
          },
        ]),
  ],
});
