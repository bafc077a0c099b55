import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay, type Jitter, resolveBackoffOptions } from '../src/index';

/** Arbitrary valid options plus a fixed random draw, so a counterexample replays exactly. */
const optionsArb = fc
  .record({
    baseDelayMs: fc.double({ min: 0, max: 10_000, noNaN: true }),
    spread: fc.double({ min: 0, max: 100_000, noNaN: true }),
    multiplier: fc.double({ min: 1, max: 10, noNaN: true }),
    draw: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  })
  .map(({ baseDelayMs, spread, multiplier, draw }) => ({
    baseDelayMs,
    maxDelayMs: baseDelayMs + spread,
    multiplier,
    random: () => draw,
  }));
const attemptArb = fc.integer({ min: 0, max: 60 });

/** `baseDelayMs × multiplier^attempt` capped at `maxDelayMs`: the no-jitter delay. */
const ceiling = (o: { baseDelayMs: number; maxDelayMs: number; multiplier: number }, attempt: number) =>
  Math.min(o.maxDelayMs, o.baseDelayMs * o.multiplier ** attempt);

// Relative slack for float rounding in `a + r × (b - a)`.
const tol = (x: number) => 1e-9 * Math.max(1, x);

describe('backoffDelay bounds (property)', () => {
  it("'none' is exactly min(maxDelayMs, baseDelayMs × multiplier^attempt)", () => {
    fc.assert(
      fc.property(optionsArb, attemptArb, (o, attempt) => {
        const resolved = resolveBackoffOptions({ ...o, jitter: 'none' });
        expect(backoffDelay(attempt, resolved)).toBe(ceiling(o, attempt));
      }),
    );
  });

  it("'full' stays within [0, ceiling]", () => {
    fc.assert(
      fc.property(optionsArb, attemptArb, (o, attempt) => {
        const d = backoffDelay(attempt, resolveBackoffOptions({ ...o, jitter: 'full' }));
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(ceiling(o, attempt) + tol(ceiling(o, attempt)));
      }),
    );
  });

  it("'equal' stays within [ceiling / 2, ceiling]", () => {
    fc.assert(
      fc.property(optionsArb, attemptArb, (o, attempt) => {
        const c = ceiling(o, attempt);
        const d = backoffDelay(attempt, resolveBackoffOptions({ ...o, jitter: 'equal' }));
        expect(d).toBeGreaterThanOrEqual(c / 2 - tol(c));
        expect(d).toBeLessThanOrEqual(c + tol(c));
      }),
    );
  });

  it("'decorrelated' stays within [baseDelayMs, min(maxDelayMs, 3 × previous)]", () => {
    fc.assert(
      fc.property(optionsArb, fc.double({ min: 0, max: 1e6, noNaN: true }), (o, previous) => {
        const resolved = resolveBackoffOptions({ ...o, jitter: 'decorrelated' });
        const d = backoffDelay(0, resolved, previous);
        const upper = Math.min(o.maxDelayMs, Math.max(o.baseDelayMs, 3 * previous));
        expect(d).toBeGreaterThanOrEqual(o.baseDelayMs - tol(o.baseDelayMs));
        expect(d).toBeLessThanOrEqual(upper + tol(upper));
      }),
    );
  });

  it('never exceeds maxDelayMs in any mode, for any attempt', () => {
    const modes: Jitter[] = ['none', 'full', 'equal', 'decorrelated'];
    fc.assert(
      fc.property(optionsArb, attemptArb, fc.constantFrom(...modes), (o, attempt, jitter) => {
        const backoff = new Backoff({ ...o, jitter, maxRetries: attempt + 1 });
        for (let i = 0; i <= attempt; i++) {
          const d = backoff.next(0)!;
          expect(d).toBeLessThanOrEqual(o.maxDelayMs);
          expect(d).toBeGreaterThanOrEqual(0);
        }
      }),
    );
  });
});

describe('Backoff', () => {
  it('hands out exactly maxRetries delays, then undefined until reset', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 50 }), (maxRetries) => {
        const backoff = new Backoff({ maxRetries, jitter: 'none' });
        let n = 0;
        while (backoff.next(0) !== undefined) n++;
        expect(n).toBe(maxRetries);
        expect(backoff.attempt).toBe(maxRetries);
        backoff.reset();
        expect(backoff.attempt).toBe(0);
        if (maxRetries > 0) expect(backoff.next(0)).toBe(10);
      }),
    );
  });

  it('keeps the sum of delays within deadlineMs when the clock advances by each delay', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 10_000, noNaN: true }),
        fc.constantFrom<Jitter>('none', 'full', 'equal', 'decorrelated'),
        (deadlineMs, jitter) => {
          const backoff = new Backoff({ deadlineMs, jitter, maxRetries: Number.POSITIVE_INFINITY });
          let now = 0;
          let total = 0;
          for (let i = 0; i < 10_000; i++) {
            const d = backoff.next(now);
            if (d === undefined) break;
            total += d;
            now += d;
          }
          expect(total).toBeLessThanOrEqual(deadlineMs + tol(deadlineMs));
          expect(backoff.next(now)).toBeUndefined();
        },
      ),
    );
  });

  it('grows by the multiplier without jitter (seed defaults 10 ms, ×2, 5000 ms cap)', () => {
    const backoff = new Backoff({ jitter: 'none' });
    const delays = Array.from({ length: 11 }, () => backoff.next(0));
    expect(delays).toEqual([10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5000, 5000]);
  });
});

describe('resolveBackoffOptions', () => {
  it('fills the seed defaults', () => {
    expect(resolveBackoffOptions()).toMatchObject({
      baseDelayMs: 10,
      maxDelayMs: 5000,
      multiplier: 2,
      jitter: 'full',
      maxRetries: 20,
      deadlineMs: Number.POSITIVE_INFINITY,
    });
    expect(resolveBackoffOptions({ jitter: true }).jitter).toBe('full');
    expect(resolveBackoffOptions({ jitter: false }).jitter).toBe('none');
  });

  it('rejects bad options naming the option and the value', () => {
    expect(() => resolveBackoffOptions({ baseDelayMs: -1 })).toThrow(/baseDelayMs must be >= 0, received -1/);
    expect(() => resolveBackoffOptions({ baseDelayMs: 100, maxDelayMs: 50 })).toThrow(
      /maxDelayMs must be >= baseDelayMs/,
    );
    expect(() => resolveBackoffOptions({ multiplier: 0.5 })).toThrow(/multiplier/);
    expect(() => resolveBackoffOptions({ maxRetries: 1.5 })).toThrow(/maxRetries must be an integer/);
    expect(() => resolveBackoffOptions({ jitter: 'wild' as Jitter })).toThrow(TypeError);
    expect(() => resolveBackoffOptions({ random: 3 as unknown as () => number })).toThrow(
      /random must be a function/,
    );
    expect(() => new Backoff({ deadlineMs: -5 })).toThrow(RangeError);
  });
});
