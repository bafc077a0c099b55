// CircuitBreaker closed path (every call succeeds, so the circuit never opens) against cockatiel and
// opossum doing the same: a rate-based breaker over a 10 s rolling window, 50 % threshold. opossum runs
// with `timeout: false` so it does not pay a setTimeout per call that the others do not have; cockatiel
// is measured with its rate-based SamplingBreaker (our equivalent) and its ConsecutiveBreaker.
import { defineSuite } from '@perf/bench';
import { ConsecutiveBreaker, circuitBreaker, handleAll, SamplingBreaker } from 'cockatiel';
import Opossum from 'opossum';
import { CircuitBreaker } from '../src/index';

const OPS = 2_000;
const work = () => Promise.resolve(1);

async function loop(call: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < OPS; i++) await call();
}

export default defineSuite({
  name: 'async',
  scenarios: [
    {
      name: 'CircuitBreaker closed path',
      table: 'Async Operations',
      // Longer than the 1 s default and in interleaved rounds (ours, peers, ours, ...): the machine is
      // shared, and alternating the subjects makes a load swing hit all of them alike.
      timeMs: 3000,
      rounds: 5,
      opsPerCall: OPS,
      setup: () =>
        new CircuitBreaker({ failureRateThreshold: 0.5, minimumCalls: 10, windowMs: 10_000, openMs: 10_000 }),
      fn: (breaker: CircuitBreaker) => loop(() => breaker.execute(work)),
      teardown: (breaker: CircuitBreaker) => {
        const { state, calls, latencyMs } = breaker.stats();
        return { state, calls, p99: latencyMs.p99 };
      },
      peers: [
        {
          name: 'cockatiel',
          opsPerCall: OPS,
          setup: () =>
            circuitBreaker(handleAll, {
              halfOpenAfter: 10_000,
              breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000, minimumRps: 1 }),
            }),
          fn: (policy: ReturnType<typeof circuitBreaker>) => loop(() => policy.execute(work)),
        },
        {
          name: 'cockatiel (ConsecutiveBreaker)',
          opsPerCall: OPS,
          setup: () =>
            circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
          fn: (policy: ReturnType<typeof circuitBreaker>) => loop(() => policy.execute(work)),
        },
        {
          name: 'opossum',
          opsPerCall: OPS,
          setup: () =>
            new Opossum(work, {
              timeout: false,
              errorThresholdPercentage: 50,
              volumeThreshold: 10,
              rollingCountTimeout: 10_000,
              resetTimeout: 10_000,
            }),
          fn: (breaker: Opossum) => loop(() => breaker.fire()),
          teardown: (breaker: Opossum) => breaker.shutdown(),
        },
      ],
      targets: [
        { peer: 'cockatiel', minRatio: 1 },
        { peer: 'opossum', minRatio: 3 },
      ],
    },
  ],
});
