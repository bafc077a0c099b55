// retry() against p-retry and cockatiel's retry policy, as a reference (the issue sets no ratio here):
// a call that succeeds at once, and a call that fails twice before it succeeds with a zero-delay backoff.
// With a zero delay our retry runs the next attempt without a timer; p-retry and cockatiel still go
// through setTimeout(0), which Node rounds up to 1 ms, so the second row mostly measures that choice.
import { defineSuite } from '@perf/bench';
import { ConstantBackoff, retry as cockatielRetry, handleAll } from 'cockatiel';
import pRetry from 'p-retry';
import { retry } from '../src/index';

const ok = () => Promise.resolve(1);

/** A function that fails twice, then succeeds; `reset()` before each retried operation. */
function flaky() {
  let calls = 0;
  return {
    reset: () => {
      calls = 0;
    },
    fn: () => (++calls <= 2 ? Promise.reject(new Error('transient')) : Promise.resolve(calls)),
  };
}

async function times(n: number, op: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < n; i++) await op();
}

const zero = { baseDelayMs: 0, maxDelayMs: 0 };
const cockatielPolicy = cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ConstantBackoff(0) });

export default defineSuite({
  name: 'async',
  scenarios: [
    {
      name: 'retry, no failures',
      table: 'Async Operations',
      // Longer than the 1 s default: the machine is shared, and a longer run averages out load swings.
      timeMs: 3000,
      opsPerCall: 2_000,
      fn: () => times(2_000, () => retry(ok, { maxAttempts: 3, backoff: zero })),
      peers: [
        {
          name: 'p-retry',
          opsPerCall: 2_000,
          fn: () => times(2_000, () => pRetry(ok, { retries: 2, minTimeout: 0 })),
        },
        {
          name: 'cockatiel retry',
          opsPerCall: 2_000,
          fn: () => times(2_000, () => cockatielPolicy.execute(ok)),
        },
      ],
    },
    {
      name: 'retry, 2 failures then success (zero-delay backoff)',
      table: 'Async Operations',
      opsPerCall: 500,
      setup: flaky,
      fn: (f: ReturnType<typeof flaky>) =>
        times(500, () => {
          f.reset();
          return retry(f.fn, { maxAttempts: 3, backoff: zero });
        }),
      peers: [
        {
          name: 'p-retry',
          opsPerCall: 5,
          setup: flaky,
          fn: (f: ReturnType<typeof flaky>) =>
            times(5, () => {
              f.reset();
              return pRetry(f.fn, { retries: 2, minTimeout: 0 });
            }),
        },
        {
          name: 'cockatiel retry',
          opsPerCall: 5,
          setup: flaky,
          fn: (f: ReturnType<typeof flaky>) =>
            times(5, () => {
              f.reset();
              return cockatielPolicy.execute(f.fn);
            }),
        },
      ],
    },
  ],
});
