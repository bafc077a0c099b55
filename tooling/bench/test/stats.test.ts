import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bestPeer, compare, quantile, quantileSorted, speedRatio, suiteText, summarize } from '../src/index';
import type { SubjectResult } from '../src/types';

describe('quantile', () => {
  it('interpolates between closest ranks (R-7, the NumPy default)', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(quantile(xs, 0)).toBe(1);
    expect(quantile(xs, 1)).toBe(10);
    expect(quantile(xs, 0.5)).toBe(5.5);
    expect(quantile(xs, 0.95)).toBeCloseTo(9.55, 10);
    expect(quantile([42], 0.99)).toBe(42);
  });

  it('does not depend on input order and never mutates the input', () => {
    const xs = [5, 1, 4, 2, 3];
    expect(quantile(xs, 0.25)).toBe(2);
    expect(xs).toEqual([5, 1, 4, 2, 3]);
  });

  it('matches the sorted-rank definition for random samples (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 200 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (xs, q) => {
          const sorted = [...xs].sort((a, b) => a - b);
          const v = quantile(xs, q);
          expect(v).toBeGreaterThanOrEqual(sorted[0]!);
          expect(v).toBeLessThanOrEqual(sorted[sorted.length - 1]!);
          // monotone in q
          expect(quantile(xs, Math.min(1, q + 0.1))).toBeGreaterThanOrEqual(v);
        },
      ),
    );
  });

  it('rejects empty samples and q outside [0, 1] with RangeError', () => {
    expect(() => quantile([], 0.5)).toThrow(RangeError);
    expect(() => quantileSorted([1], 1.5)).toThrow(/within \[0, 1\], received 1.5/);
    expect(() => quantileSorted([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('reports count, mean, min, max and p50/p95/p99', () => {
    const xs = Array.from({ length: 101 }, (_, i) => i);
    expect(summarize(xs)).toEqual({ count: 101, mean: 50, min: 0, max: 100, p50: 50, p95: 95, p99: 99 });
  });
});

describe('ratio to the best peer', () => {
  const subject = (name: string, opsPerSec: number, error?: string): SubjectResult => ({
    name,
    calls: 1,
    ops: 1,
    totalMs: 1,
    opsPerSec,
    avgMs: 0,
    p95Ms: 0,
    p99Ms: 0,
    memoryDeltaMb: 0,
    metrics: {},
    ...(error ? { error } : {}),
  });

  it('speedRatio is ours over peer and rejects non-positive throughputs', () => {
    expect(speedRatio(300, 100)).toBe(3);
    expect(() => speedRatio(0, 1)).toThrow(RangeError);
    expect(() => speedRatio(1, Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('bestPeer picks the fastest', () => {
    expect(bestPeer([subject('a', 1), subject('b', 3), subject('c', 2)])?.name).toBe('b');
    expect(bestPeer([])).toBeUndefined();
  });

  it('compare uses the best successful peer and checks each target', () => {
    const r = compare(
      {
        name: 's',
        fn: () => undefined,
        targets: [
          { peer: 'slow', minRatio: 3 },
          { peer: 'fast', minRatio: 1.5 },
          { peer: 'broken', minRatio: 1 },
        ],
      },
      subject('ours', 400),
      [subject('slow', 100), subject('fast', 300), subject('broken', 0, 'Error: boom')],
    );
    expect(r.bestPeer).toBe('fast');
    expect(r.ratio).toBeCloseTo(4 / 3, 10);
    expect(r.targets.map((t) => t.met)).toEqual([true, false, false]);
    expect(r.targets[0]!.ratio).toBe(4);
    expect(r.targets[2]!.ratio).toBeUndefined();
  });

  it('a reference peer is marked, usable in a target, and never the best peer', () => {
    const r = compare(
      {
        name: 's',
        fn: () => undefined,
        peers: [
          { name: 'lib', fn: () => undefined },
          { name: 'ceiling', fn: () => undefined, reference: true },
        ],
        targets: [{ peer: 'ceiling', minRatio: 0.5 }],
      },
      subject('ours', 400),
      [subject('lib', 100), { ...subject('ceiling', 800), reference: true }],
    );
    expect(r.bestPeer).toBe('lib');
    expect(r.ratio).toBe(4);
    expect(r.peers.map((p) => p.reference ?? false)).toEqual([false, true]);
    expect(r.targets[0]).toMatchObject({ ratio: 0.5, met: true });
    const text = suiteText({ suite: 's', quick: false, startedAt: '', node: '', cpus: 2, scenarios: [r] });
    expect(text).toContain('4.00× lib');
    expect(text).toContain('reference: ours 0.50×');
  });
});
