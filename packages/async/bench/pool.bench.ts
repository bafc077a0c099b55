// ResourcePool(max 10) against generic-pool and tarn: the same acquire + release loop, first with one
// caller (a free resource is always there), then with 50 concurrent callers sharing 10 resources (every
// loan after warm-up goes through the wait queue). Resources are plain objects, so the pool is all that
// is measured.
import { defineSuite } from '@perf/bench';
import * as genericPool from 'generic-pool';
import { Pool as TarnPool } from 'tarn';
import { ResourcePool } from '../src/index';

const MAX = 10;
const SEQUENTIAL_OPS = 2_000;
const WORKERS = 50;
const PER_WORKER = 40;

/** The two loops, for any pool expressed as acquire() → resource and release(resource). */
function loops<R>(acquire: () => Promise<R>, release: (r: R) => void) {
  return {
    async sequential() {
      for (let i = 0; i < SEQUENTIAL_OPS; i++) release(await acquire());
    },
    async contended() {
      const worker = async () => {
        for (let i = 0; i < PER_WORKER; i++) {
          const r = await acquire();
          // Hold it across a tick, as real work would, so the others queue.
          await Promise.resolve();
          release(r);
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, worker));
    },
  };
}

function ours() {
  const pool = new ResourcePool({ create: () => ({}), max: MAX });
  return {
    pool,
    ...loops(
      () => pool.acquire(),
      (lease) => lease.release(),
    ),
  };
}

function generic() {
  const pool = genericPool.createPool(
    { create: async () => ({}), destroy: async () => {} },
    { max: MAX, min: 0 },
  );
  return {
    close: () => pool.drain().then(() => pool.clear()),
    ...loops(
      () => pool.acquire(),
      (r) => void pool.release(r),
    ),
  };
}

function tarn() {
  const pool = new TarnPool({ create: () => Promise.resolve({}), destroy: () => {}, min: 0, max: MAX });
  return {
    close: () => pool.destroy(),
    ...loops(
      () => pool.acquire().promise,
      (r) => void pool.release(r),
    ),
  };
}

type Loop = 'sequential' | 'contended';
const scenario = (loop: Loop, name: string, ops: number) => ({
  name,
  table: 'Async Operations',
  // Longer than the 1 s default and in interleaved rounds (ours, peers, ours, ...): the machine is
  // shared, and alternating the subjects makes a load swing hit all of them alike.
  timeMs: 3000,
  rounds: 5,
  opsPerCall: ops,
  setup: ours,
  fn: (ctx: ReturnType<typeof ours>) => ctx[loop](),
  teardown: async (ctx: ReturnType<typeof ours>) => {
    const waitMs = ctx.pool.stats().acquireWaitMs;
    await ctx.pool.close();
    return waitMs;
  },
  peers: [
    {
      name: 'generic-pool',
      opsPerCall: ops,
      setup: generic,
      fn: (c: ReturnType<typeof generic>) => c[loop](),
      teardown: (c: ReturnType<typeof generic>) => c.close(),
    },
    {
      name: 'tarn',
      opsPerCall: ops,
      setup: tarn,
      fn: (c: ReturnType<typeof tarn>) => c[loop](),
      teardown: (c: ReturnType<typeof tarn>) => c.close(),
    },
  ],
  targets: [
    { peer: 'generic-pool', minRatio: 1 },
    { peer: 'tarn', minRatio: 5 },
  ],
});

export default defineSuite({
  name: 'async',
  scenarios: [
    scenario('sequential', 'ResourcePool(max 10) acquire+release', SEQUENTIAL_OPS),
    scenario(
      'contended',
      `ResourcePool(max 10) acquire+release, ${WORKERS} concurrent`,
      WORKERS * PER_WORKER,
    ),
  ],
});
