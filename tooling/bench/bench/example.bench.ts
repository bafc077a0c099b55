// The harness's own example: summing an array with a loop vs reduce, so `pnpm bench` has a scenario
// before any package ships benchmarks, and to show how peers and targets are declared.
import { defineSuite } from '../src/index';

const data = Float64Array.from({ length: 10_000 }, (_, i) => i % 97);

export default defineSuite({
  name: 'bench-example',
  scenarios: [
    {
      name: 'Sum 10k floats (for loop)',
      table: 'Harness example',
      opsPerCall: data.length,
      fn: () => {
        let s = 0;
        for (let i = 0; i < data.length; i++) s += data[i]!;
        return { metrics: { sum: s } };
      },
      peers: [
        {
          name: 'Array.prototype.reduce',
          opsPerCall: data.length,
          fn: () => ({ metrics: { sum: data.reduce((a, b) => a + b, 0) } }),
        },
      ],
      targets: [{ peer: 'Array.prototype.reduce', minRatio: 1 }],
    },
  ],
});
