import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Histogram } from '../src/index';

/** Deterministic PRNG (mulberry32) so a failing fast-check seed reproduces the same samples. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand: () => number): number {
  const u = 1 - rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

function lognormal(seed: number, n: number, mu: number, sigma: number): number[] {
  const rand = rng(seed);
  return Array.from({ length: n }, () => Math.exp(mu + sigma * normal(rand)));
}

function bimodal(seed: number, n: number, fast: number, slow: number, slowShare: number): number[] {
  const rand = rng(seed);
  return Array.from({ length: n }, () =>
    rand() < slowShare
      ? Math.exp(Math.log(slow) + 0.3 * normal(rand))
      : Math.exp(Math.log(fast) + 0.3 * normal(rand)),
  );
}

/**
 * The sketch answers quantile q with a value of the sample at rank floor(q·(n−1)) of the sorted data,
 * so that sample is the exact percentile it is compared with.
 */
function exact(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

/** Relative error bound plus float slack for values that sit exactly on a bucket boundary. */
function expectWithin(estimate: number, truth: number, accuracy: number): void {
  expect(Math.abs(estimate - truth)).toBeLessThanOrEqual(accuracy * truth * (1 + 1e-9) + 1e-12);
}

function checkQuantiles(data: number[], accuracy = 0.01): void {
  // The default sketch for the 1% properties; for finer accuracies enough buckets that no folding
  // happens (folding trades the lowest values' accuracy for memory, tested separately).
  const h =
    accuracy === 0.01 ? new Histogram() : new Histogram({ relativeAccuracy: accuracy, maxBuckets: 1 << 16 });
  for (const v of data) h.record(v);
  const sorted = [...data].sort((a, b) => a - b);
  const snap = h.snapshot();
  for (const [q, est] of [
    [0.5, snap.p50],
    [0.9, snap.p90],
    [0.95, snap.p95],
    [0.99, snap.p99],
  ] as const) {
    expectWithin(est, exact(sorted, q), accuracy);
    expectWithin(h.percentile(q), exact(sorted, q), accuracy);
  }
  expect(h.count).toBe(data.length);
  expect(h.min).toBe(sorted[0]);
  expect(h.max).toBe(sorted[sorted.length - 1]);
}

describe('Histogram quantile accuracy (property)', () => {
  it('p50/p90/p95/p99 are within 1% of the exact percentiles on lognormal data', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 1, max: 5000 }),
        fc.double({ min: -5, max: 10, noNaN: true }),
        fc.double({ min: 0.05, max: 3, noNaN: true }),
        (seed, n, mu, sigma) => checkQuantiles(lognormal(seed, n, mu, sigma)),
      ),
      { numRuns: 150 },
    );
  });

  it('p50/p90/p95/p99 are within 1% of the exact percentiles on bimodal data', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 1, max: 5000 }),
        fc.double({ min: 0.01, max: 10, noNaN: true }),
        fc.double({ min: 20, max: 5000, noNaN: true }),
        fc.double({ min: 0.005, max: 0.5, noNaN: true }),
        (seed, n, fast, slow, share) => checkQuantiles(bimodal(seed, n, fast, slow, share)),
      ),
      { numRuns: 150 },
    );
  });

  it('holds the guarantee for other accuracies and arbitrary positive doubles', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1e-6, max: 1e12, noNaN: true }), { minLength: 1, maxLength: 500 }),
        fc.constantFrom(0.001, 0.005, 0.02, 0.05),
        (data, accuracy) => checkQuantiles(data, accuracy),
      ),
      { numRuns: 200 },
    );
  });
});

describe('Histogram', () => {
  it('summarises count, sum, min, max and mean exactly', () => {
    const h = new Histogram();
    for (const v of [1, 2, 3, 4, 10]) h.record(v);
    expect(h.snapshot()).toMatchObject({ count: 5, sum: 20, min: 1, max: 10, mean: 4 });
  });

  it('reports zeros for an empty histogram', () => {
    const h = new Histogram();
    expect(h.snapshot()).toEqual({
      count: 0,
      sum: 0,
      min: 0,
      max: 0,
      mean: 0,
      p50: 0,
      p90: 0,
      p95: 0,
      p99: 0,
    });
    expect(h.percentile(0.99)).toBe(0);
  });

  it('records zero and sub-nanosecond values in the zero bucket', () => {
    const h = new Histogram();
    for (let i = 0; i < 60; i++) h.record(0);
    for (let i = 0; i < 40; i++) h.record(5);
    expect(h.percentile(0.5)).toBe(0);
    expectWithin(h.percentile(0.99), 5, 0.01);
  });

  it('ignores NaN, negative and infinite values and counts them', () => {
    const h = new Histogram();
    h.record(3);
    for (const bad of [Number.NaN, -1, -0.001, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])
      h.record(bad);
    expect(h.invalid).toBe(5);
    expect(h.snapshot()).toMatchObject({ count: 1, sum: 3, min: 3, max: 3 });
  });

  it('throws RangeError for bad constructor options and quantiles', () => {
    for (const relativeAccuracy of [0, 0.5, -0.1, 1, Number.NaN]) {
      expect(() => new Histogram({ relativeAccuracy })).toThrow(RangeError);
    }
    for (const maxBuckets of [15, 16.5, Number.NaN, 0])
      expect(() => new Histogram({ maxBuckets })).toThrow(/maxBuckets/);
    expect(() => new Histogram().percentile(1.5)).toThrow(RangeError);
    expect(() => new Histogram().percentile(Number.NaN)).toThrow(RangeError);
  });

  it('merging equals recording everything in one histogram (property)', () => {
    const value = fc.oneof(
      fc.double({ min: 0, max: 1e9, noNaN: true }),
      fc.constantFrom(0, 1, Number.NaN, -5),
    );
    fc.assert(
      fc.property(fc.array(value, { maxLength: 300 }), fc.array(value, { maxLength: 300 }), (a, b) => {
        const left = new Histogram();
        const right = new Histogram();
        const all = new Histogram();
        for (const v of a) {
          left.record(v);
          all.record(v);
        }
        for (const v of b) {
          right.record(v);
          all.record(v);
        }
        const merged = left.merge(right).toJSON();
        const expected = all.toJSON();
        // Float addition order differs, so the sums may differ in the last bits.
        expect(merged.sum).toBeCloseTo(expected.sum, 0);
        expect({ ...merged, sum: 0 }).toEqual({ ...expected, sum: 0 });
        expect(left.snapshot().p99).toBe(all.snapshot().p99);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses to merge histograms of different accuracy', () => {
    expect(() => new Histogram().merge(new Histogram({ relativeAccuracy: 0.02 }))).toThrow(RangeError);
  });

  it('round-trips through toJSON/fromJSON and JSON text', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { maxLength: 300 }), (data) => {
        const h = new Histogram({ relativeAccuracy: 0.02, maxBuckets: 512 });
        for (const v of data) h.record(v);
        h.record(Number.NaN);
        const back = Histogram.fromJSON(JSON.parse(JSON.stringify(h.toJSON())));
        expect(back.toJSON()).toEqual(h.toJSON());
        expect(back.snapshot()).toEqual(h.snapshot());
        expect(back.clone().snapshot()).toEqual(h.snapshot());
      }),
      { numRuns: 100 },
    );
  });

  it('rejects a corrupt serialised histogram with TypeError', () => {
    const good = (() => {
      const h = new Histogram();
      h.record(5);
      return h.toJSON();
    })();
    expect(() => Histogram.fromJSON(null as never)).toThrow(TypeError);
    expect(() => Histogram.fromJSON({ ...good, counts: ['x' as never] })).toThrow(TypeError);
    expect(() => Histogram.fromJSON({ ...good, counts: [-1] })).toThrow(TypeError);
    expect(() => Histogram.fromJSON({ ...good, count: 7 })).toThrow(/count/);
    expect(() => Histogram.fromJSON({ ...good, offset: 1.5 })).toThrow(/offset/);
    expect(() => Histogram.fromJSON({ ...good, sum: Number.NaN })).toThrow(/sum/);
  });

  it('keeps memory bounded by folding the lowest buckets, keeping the tail accurate', () => {
    const h = new Histogram({ maxBuckets: 64 });
    const data: number[] = [];
    for (let e = -8; e <= 30; e += 0.01) data.push(10 ** e);
    for (const v of data) h.record(v);
    const json = h.toJSON();
    expect(json.counts.length).toBeLessThanOrEqual(64);
    expect(h.count).toBe(data.length);
    expect(h.min).toBe(data[0]);
    expect(h.max).toBe(data[data.length - 1]);
    // The top 64 buckets are exact, which covers the last ~0.3% of this range: p99.9 stays accurate.
    const sorted = [...data].sort((a, b) => a - b);
    expectWithin(h.percentile(0.999), exact(sorted, 0.999), 0.01);
    // Folding is also bounded for merges of far-apart ranges.
    const low = new Histogram({ maxBuckets: 64 });
    low.record(1e-8);
    expect(h.merge(low).toJSON().counts.length).toBeLessThanOrEqual(64);
  });

  it('counts values at or below a bound, bucket-granular (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }),
        fc.array(fc.double({ min: 0, max: 2e6, noNaN: true }), { minLength: 1, maxLength: 20 }),
        (data, rawBounds) => {
          const h = new Histogram();
          for (const v of data) h.record(v);
          const bounds = [...new Set(rawBounds)].sort((a, b) => a - b);
          const counts = h.countsAtOrBelow(bounds);
          bounds.forEach((bound, i) => {
            const atOrBelow = data.filter((v) => v <= bound).length;
            // A bucket spans a factor (1+a)/(1-a), so values up to that factor above the bound may count;
            // values below 1e-9 share the zero bucket.
            const slack = data.filter((v) => v <= Math.max(bound * 1.0203, 1e-9)).length;
            expect(counts[i]).toBe(h.countAtOrBelow(bound));
            expect(counts[i]).toBeGreaterThanOrEqual(atOrBelow);
            expect(counts[i]).toBeLessThanOrEqual(slack);
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reset forgets every value but keeps working', () => {
    const h = new Histogram();
    for (let i = 1; i <= 100; i++) h.record(i);
    h.reset();
    expect(h.snapshot().count).toBe(0);
    h.record(7);
    expectWithin(h.percentile(0.5), 7, 0.01);
  });
});
