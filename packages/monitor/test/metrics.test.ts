import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DROPPED_SERIES_METRIC, MAX_LABEL_VALUE_LENGTH, MetricsRegistry } from '../src/index';

const labelsOf = (family: { series(): Iterable<{ labels: object }> }) =>
  [...family.series()].map((s) => s.labels);

describe('Counter', () => {
  it('counts per label set, by default by one', () => {
    const c = new MetricsRegistry().counter({ name: 'req_total', help: 'h', labelNames: ['route'] });
    c.inc({ route: '/a' });
    c.inc({ route: '/a' }, 2.5);
    c.inc({ route: '/b' });
    expect(c.get({ route: '/a' })).toBe(3.5);
    expect(c.get({ route: '/b' })).toBe(1);
    expect(c.get({ route: '/missing' })).toBe(0);
    expect(c.seriesCount).toBe(2);
  });

  it('shares one series between a bound child and labelled calls', () => {
    const c = new MetricsRegistry().counter({ name: 'req_total', help: 'h', labelNames: ['route'] });
    const bound = c.labels({ route: '/a' });
    bound.inc();
    bound.inc(4);
    c.inc({ route: '/a' });
    expect(c.get({ route: '/a' })).toBe(6);
    expect(c.labels({ route: '/a' })).toBe(bound);
  });

  it('ignores NaN, negative and infinite increments and counts them', () => {
    const c = new MetricsRegistry().counter({ name: 'req_total', help: 'h', labelNames: ['route'] });
    c.inc({ route: '/a' }, 1);
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      c.inc({ route: '/a' }, bad);
      c.labels({ route: '/a' }).inc(bad);
    }
    expect(c.get({ route: '/a' })).toBe(1);
    expect(c.invalidValues).toBe(8);
    // An invalid value does not create a series.
    c.inc({ route: '/new' }, Number.NaN);
    expect(c.seriesCount).toBe(1);
  });

  it('works without labels', () => {
    const c = new MetricsRegistry().counter({ name: 'ticks_total', help: 'h' });
    c.inc();
    c.inc(undefined, 2);
    expect(c.get()).toBe(3);
    expect(labelsOf(c)).toEqual([{}]);
  });
});

describe('Gauge', () => {
  it('sets, increments and decrements per label set, bound or not', () => {
    const g = new MetricsRegistry().gauge({ name: 'open', help: 'h', labelNames: ['pool'] });
    g.set({ pool: 'a' }, 5);
    g.inc({ pool: 'a' });
    g.dec({ pool: 'a' }, 3);
    const b = g.labels({ pool: 'b' });
    b.set(-2);
    b.inc(0.5);
    b.dec();
    g.set(undefined, 7);
    expect(g.get({ pool: 'a' })).toBe(3);
    expect(g.get({ pool: 'b' })).toBe(-2.5);
    expect(g.get()).toBe(7);
  });

  it('ignores non-finite values and counts them', () => {
    const g = new MetricsRegistry().gauge({ name: 'open', help: 'h' });
    g.set(undefined, 1);
    g.set(undefined, Number.NaN);
    g.inc(undefined, Number.POSITIVE_INFINITY);
    g.labels({}).dec(Number.NEGATIVE_INFINITY);
    expect(g.get()).toBe(1);
    expect(g.invalidValues).toBe(3);
  });

  it('rejects a non-function collect', () => {
    expect(() => new MetricsRegistry().gauge({ name: 'g', help: 'h', collect: 5 as never })).toThrow(
      /collect/,
    );
  });
});

describe('HistogramMetric', () => {
  it('records per label set and exposes each series as a Histogram', () => {
    const h = new MetricsRegistry().histogram({ name: 'db_ms', help: 'h', labelNames: ['table'] });
    for (let i = 1; i <= 100; i++) h.record({ table: 'users' }, i);
    const bound = h.labels({ table: 'orders' });
    bound.record(2);
    bound.record(4);
    expect(h.get({ table: 'users' })?.snapshot()).toMatchObject({ count: 100, sum: 5050, min: 1, max: 100 });
    expect(h.get({ table: 'orders' })?.count).toBe(2);
    expect(h.get({ table: 'none' })).toBeUndefined();
  });

  it('counts invalid values without creating series', () => {
    const h = new MetricsRegistry().histogram({ name: 'db_ms', help: 'h', labelNames: ['table'] });
    h.record({ table: 'a' }, Number.NaN);
    h.record({ table: 'a' }, -3);
    expect(h.seriesCount).toBe(0);
    h.labels({ table: 'b' }).record(Number.POSITIVE_INFINITY);
    expect(h.invalidValues).toBe(3);
    expect(h.get({ table: 'b' })?.count).toBe(0);
  });

  it('validates relativeAccuracy, maxBuckets and buckets', () => {
    const r = new MetricsRegistry();
    expect(() => r.histogram({ name: 'a', help: 'h', relativeAccuracy: 0.7 })).toThrow(RangeError);
    expect(() => r.histogram({ name: 'b', help: 'h', maxBuckets: 2 })).toThrow(RangeError);
    expect(() => r.histogram({ name: 'c', help: 'h', buckets: [1, 1] })).toThrow(/ascending/);
    expect(() => r.histogram({ name: 'd', help: 'h', buckets: [1, Number.NaN] })).toThrow(TypeError);
    expect(r.histogram({ name: 'e', help: 'h', buckets: [1, 2, Number.POSITIVE_INFINITY] }).buckets).toEqual([
      1, 2,
    ]);
    expect(r.get('a')).toBeUndefined();
  });

  it('reserves the le and quantile label names', () => {
    const r = new MetricsRegistry();
    expect(() => r.histogram({ name: 'a', help: 'h', labelNames: ['le'] })).toThrow(/"le" is reserved/);
    const free = r.histogram({ name: 'b', help: 'h' });
    expect(() => free.record({ quantile: '1' }, 1)).toThrow(/"quantile" is reserved/);
  });
});

describe('labels', () => {
  it('converts numbers and booleans to strings and drops empty values', () => {
    const c = new MetricsRegistry().counter({ name: 'c', help: 'h', labelNames: ['status', 'ok', 'route'] });
    c.inc({ status: 200, ok: true, route: '' });
    c.inc({ status: '200', ok: 'true' });
    expect(labelsOf(c)).toEqual([{ status: '200', ok: 'true' }]);
    expect(c.get({ status: 200, ok: true })).toBe(2);
  });

  it('treats free-form label sets as equal whatever the key order', () => {
    const c = new MetricsRegistry().counter({ name: 'c', help: 'h' });
    c.inc({ b: 2, a: 1 });
    c.inc({ a: 1, b: 2 });
    c.inc({ a: 1, b: 2, c: '' });
    expect(labelsOf(c)).toEqual([{ a: '1', b: '2' }]);
    expect(c.get({ b: 2, a: 1 })).toBe(3);
  });

  it('truncates huge values, so two huge values with the same prefix share a series', () => {
    const c = new MetricsRegistry().counter({ name: 'c', help: 'h', labelNames: ['q'] });
    const prefix = 'x'.repeat(MAX_LABEL_VALUE_LENGTH);
    c.inc({ q: `${prefix}aaa` });
    c.labels({ q: `${prefix}bbb` }).inc();
    const [labels] = labelsOf(c) as Array<{ q: string }>;
    expect(labels?.q).toBe(prefix);
    expect(c.get({ q: prefix })).toBe(2);
  });

  it('rejects invalid and undeclared label names with a TypeError naming the label', () => {
    const r = new MetricsRegistry();
    expect(() => r.counter({ name: 'a', help: 'h', labelNames: ['bad-name'] })).toThrow(/"bad-name"/);
    expect(() => r.counter({ name: 'b', help: 'h', labelNames: ['__reserved'] })).toThrow(/"__reserved"/);
    expect(() => r.counter({ name: 'c', help: 'h', labelNames: ['x', 'x'] })).toThrow(/duplicates/);
    const declared = r.counter({ name: 'd', help: 'h', labelNames: ['route'] });
    expect(() => declared.inc({ rout: '/a' } as never)).toThrow(/"rout"/);
    // Also when the declared values hit an existing series.
    declared.inc({ route: '/a' });
    expect(() => declared.inc({ route: '/a', extra: 1 })).toThrow(/"extra"/);
    expect(() => declared.labels({ route: '/a', extra: 1 })).toThrow(/"extra"/);
    const many = r.histogram({ name: 'm', help: 'h', labelNames: ['a', 'b'] });
    many.record({ a: 1 }, 1);
    expect(() => many.record({ a: 1, c: 2 }, 1)).toThrow(/"c"/);
    expect(declared.get({ route: '/a' })).toBe(1);
    const free = r.counter({ name: 'e', help: 'h' });
    expect(() => free.inc({ 'has space': 1 })).toThrow(/"has space"/);
    expect(free.seriesCount).toBe(0);
  });

  it('never lets one label set reach another set’s series (property)', () => {
    const value = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('1:', ':', '0:', '=', 'a=1:x'));
    fc.assert(
      fc.property(fc.array(fc.tuple(value, value, value), { maxLength: 40 }), (sets) => {
        const r = new MetricsRegistry();
        const fixed = r.counter({ name: 'fixed', help: 'h', labelNames: ['a', 'b', 'c'] });
        const free = r.counter({ name: 'free', help: 'h' });
        const expected = new Map<string, number>();
        for (const [a, b, c] of sets) {
          fixed.inc({ a, b, c });
          free.inc({ c, a, b });
          const key = JSON.stringify([a, b, c]);
          expected.set(key, (expected.get(key) ?? 0) + 1);
        }
        for (const [key, n] of expected) {
          const [a, b, c] = JSON.parse(key) as string[];
          expect(fixed.get({ a: a!, b: b!, c: c! })).toBe(n);
          expect(free.get({ a: a!, b: b!, c: c! })).toBe(n);
        }
        expect(fixed.seriesCount).toBe(expected.size);
        expect(free.seriesCount).toBe(expected.size);
      }),
      { numRuns: 200 },
    );
  });
});

describe('cardinality cap', () => {
  it('folds label sets past maxSeries into one overflow series and counts them', () => {
    const r = new MetricsRegistry();
    const c = r.counter({ name: 'req_total', help: 'h', labelNames: ['path'], maxSeries: 3 });
    for (let i = 0; i < 10; i++) c.inc({ path: `/item/${i}` });
    c.inc({ path: '/item/0' }, 5);
    expect(c.seriesCount).toBe(3);
    expect(labelsOf(c)).toContainEqual({ overflow: 'true' });
    expect(c.get({ path: '/item/0' })).toBe(6);
    expect([...c.series()].find((s) => s.labels.overflow === 'true')?.value).toBe(7);
    expect(r.droppedSeries.get({ metric: 'req_total' })).toBe(7);
    expect(r.get(DROPPED_SERIES_METRIC)).toBe(r.droppedSeries);
  });

  it('keeps memory bounded whatever the input, for every metric type', () => {
    const r = new MetricsRegistry({ maxSeriesPerMetric: 50 });
    const c = r.counter({ name: 'c', help: 'h', labelNames: ['id'] });
    const g = r.gauge({ name: 'g', help: 'h' });
    const h = r.histogram({ name: 'h', help: 'h', labelNames: ['id', 'x'] });
    for (let i = 0; i < 20_000; i++) {
      c.inc({ id: i });
      g.labels({ [`k${i % 97}`]: i }).set(i);
      h.record({ id: i, x: i % 7 }, i);
    }
    for (const family of [c, g, h]) {
      expect(family.seriesCount).toBe(50);
      expect([...family.series()]).toHaveLength(51);
    }
    expect(r.droppedSeries.get({ metric: 'c' })).toBe(20_000 - 50);
    expect(h.get({ id: 19_999, x: 19_999 % 7 })).toBeUndefined();
  });

  it('uses the registry default and validates maxSeries', () => {
    const r = new MetricsRegistry();
    expect(r.counter({ name: 'a', help: 'h' }).maxSeries).toBe(1000);
    expect(() => r.counter({ name: 'b', help: 'h', maxSeries: 0 })).toThrow(RangeError);
    expect(() => r.counter({ name: 'c', help: 'h', maxSeries: 1.5 })).toThrow(/maxSeries/);
    expect(() => new MetricsRegistry({ maxSeriesPerMetric: -1 })).toThrow(/maxSeriesPerMetric/);
  });
});

describe('remove and reset', () => {
  it('remove forgets one series; reset zeroes all in place', () => {
    const r = new MetricsRegistry();
    const c = r.counter({ name: 'c', help: 'h' });
    const bound = c.labels({ a: 1, b: 2 });
    bound.inc(3);
    c.inc({ a: 2 });
    expect(c.remove({ b: 2, a: 1 })).toBe(true);
    expect(c.remove({ a: 9 })).toBe(false);
    expect(labelsOf(c)).toEqual([{ a: '2' }]);
    c.inc({ a: 1, b: 2 });
    expect(c.get({ a: 1, b: 2 })).toBe(1);
    const h = r.histogram({ name: 'h', help: 'h' });
    const hb = h.labels({});
    hb.record(4);
    h.record(undefined, Number.NaN);
    r.reset();
    expect(c.get({ a: 2 })).toBe(0);
    expect(h.get()?.count).toBe(0);
    expect(h.invalidValues).toBe(0);
    hb.record(1);
    expect(h.get()?.count).toBe(1);
  });
});
