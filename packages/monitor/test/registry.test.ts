import { describe, expect, it } from 'vitest';
import {
  flattenStats,
  Histogram,
  INVALID_VALUES_METRIC,
  isMonitorError,
  type MetricSnapshot,
  MetricsRegistry,
  MonitorError,
  SOURCE_ERRORS_METRIC,
} from '../src/index';

const find = (snapshot: MetricSnapshot[], name: string) => snapshot.find((m) => m.name === name);

describe('MetricsRegistry registration', () => {
  it('returns the existing family for the same name, type and labels', () => {
    const r = new MetricsRegistry();
    const a = r.counter({ name: 'req_total', help: 'h', labelNames: ['route'] });
    expect(r.counter({ name: 'req_total', help: 'other help', labelNames: ['route'] })).toBe(a);
    expect(r.get('req_total')).toBe(a);
  });

  it('throws TypeError for the same name with another type or other labels', () => {
    const r = new MetricsRegistry();
    r.counter({ name: 'x', help: 'h', labelNames: ['a'] });
    expect(() => r.gauge({ name: 'x', help: 'h' })).toThrow(/already registered as a counter/);
    expect(() => r.histogram({ name: 'x', help: 'h' })).toThrow(TypeError);
    expect(() => r.counter({ name: 'x', help: 'h', labelNames: ['b'] })).toThrow(/labelNames \[a\]/);
    expect(() => r.counter({ name: 'x', help: 'h' })).toThrow(TypeError);
  });

  it('rejects names that collide with a histogram’s exposition names', () => {
    const r = new MetricsRegistry();
    r.histogram({ name: 'db_ms', help: 'h' });
    for (const suffix of ['_bucket', '_sum', '_count', '_quantiles']) {
      expect(() => r.counter({ name: `db_ms${suffix}`, help: 'h' })).toThrow(/collides/);
    }
    r.gauge({ name: 'lat_count', help: 'h' });
    expect(() => r.histogram({ name: 'lat', help: 'h' })).toThrow(/collides with "lat_count"/);
    expect(() => r.counter({ name: INVALID_VALUES_METRIC, help: 'h' })).toThrow(/collides/);
  });

  it('validates the name and help, naming them', () => {
    const r = new MetricsRegistry();
    expect(() => r.counter({ name: '1abc', help: 'h' })).toThrow(/name must match/);
    expect(() => r.counter({ name: 'a-b', help: 'h' })).toThrow(TypeError);
    expect(() => r.counter({ name: 'ok', help: 5 as never })).toThrow(/help/);
    expect(() => r.counter(undefined as never)).toThrow(/options/);
  });

  it('removes families and frees their names; keeps its own', () => {
    const r = new MetricsRegistry();
    r.histogram({ name: 'h', help: 'h' });
    expect(r.remove('h')).toBe(true);
    expect(r.remove('h')).toBe(false);
    expect(r.counter({ name: 'h_count', help: 'h' })).toBeDefined();
    expect(r.remove(SOURCE_ERRORS_METRIC)).toBe(false);
  });

  it('lists families in registration order, its own first', () => {
    const r = new MetricsRegistry();
    r.gauge({ name: 'b', help: 'h' });
    r.counter({ name: 'a', help: 'h' });
    expect([...r.metrics()].map((m) => m.name)).toEqual([
      'perf_metrics_dropped_series_total',
      SOURCE_ERRORS_METRIC,
      'b',
      'a',
    ]);
  });
});

describe('MetricsRegistry sources', () => {
  it('flattens stats() into gauges at read time, with the source labels', () => {
    const r = new MetricsRegistry();
    let waiting = 1;
    r.registerSource(
      'db_pool',
      { stats: () => ({ waiting, inFlight: 2, open: true, acquireMs: { p50: 1.5, p99: 9 } }) },
      { pool: 'main' },
    );
    waiting = 4;
    const snap = r.snapshot();
    expect(find(snap, 'db_pool_waiting')).toEqual({
      name: 'db_pool_waiting',
      type: 'gauge',
      help: 'From stats() of a registered source',
      series: [{ labels: { pool: 'main' }, value: 4 }],
    });
    expect(find(snap, 'db_pool_in_flight')?.series).toEqual([{ labels: { pool: 'main' }, value: 2 }]);
    expect(find(snap, 'db_pool_open')?.series).toEqual([{ labels: { pool: 'main' }, value: 1 }]);
    expect(find(snap, 'db_pool_acquire_ms_p99')?.series).toEqual([{ labels: { pool: 'main' }, value: 9 }]);
  });

  it('counts a throwing stats() and still reads everything else', () => {
    const r = new MetricsRegistry();
    r.registerSource('bad', {
      stats() {
        throw new Error('boom');
      },
    });
    r.registerSource('good', { stats: () => ({ n: 1 }) });
    r.gauge({
      name: 'g',
      help: 'h',
      collect: () => {
        throw new Error('collect boom');
      },
    }).set(undefined, 2);
    const snap = r.snapshot();
    expect(find(snap, 'good_n')?.series[0]).toMatchObject({ value: 1 });
    expect(find(snap, 'g')?.series[0]).toMatchObject({ value: 2 });
    expect(r.sourceErrors.get({ source: 'bad' })).toBe(1);
    expect(r.sourceErrors.get({ source: 'g' })).toBe(1);
  });

  it('skips and counts a leaf whose name belongs to a family', () => {
    const r = new MetricsRegistry();
    r.counter({ name: 'pool_open', help: 'h' }).inc();
    r.registerSource('pool', { stats: () => ({ open: 5, idle: 1 }) });
    const snap = r.snapshot();
    expect(find(snap, 'pool_open')?.type).toBe('counter');
    expect(find(snap, 'pool_idle')?.series[0]).toMatchObject({ value: 1 });
    expect(r.sourceErrors.get({ source: 'pool' })).toBe(1);
  });

  it('never writes the same series twice when two sources flatten to one name', () => {
    const r = new MetricsRegistry();
    r.registerSource('a', { stats: () => ({ b_c: 1 }) });
    r.registerSource('a_b', { stats: () => ({ c: 2 }) });
    r.registerSource('a_b_x', { stats: () => ({ y: 3 }) }, { k: 'v' });
    expect(find(r.snapshot(), 'a_b_c')?.series).toEqual([{ labels: {}, value: 1 }]);
    expect(r.sourceErrors.get({ source: 'a_b' })).toBe(1);
  });

  it('replaces a source registered again under the same name; unregisters it', () => {
    const r = new MetricsRegistry();
    r.registerSource('s', { stats: () => ({ a: 1 }) });
    r.registerSource('s', { stats: () => ({ b: 2 }) });
    expect(find(r.snapshot(), 's_a')).toBeUndefined();
    expect(find(r.snapshot(), 's_b')).toBeDefined();
    expect(r.unregisterSource('s')).toBe(true);
    expect(r.unregisterSource('s')).toBe(false);
    expect(find(r.snapshot(), 's_b')).toBeUndefined();
  });

  it('validates the source, its name and labels', () => {
    const r = new MetricsRegistry();
    expect(() => r.registerSource('bad name', { stats: () => ({}) })).toThrow(/name must match/);
    expect(() => r.registerSource('s', {} as never)).toThrow(/stats\(\)/);
    expect(() => r.registerSource('s', { stats: () => ({}) }, { 'a-b': 1 })).toThrow(/"a-b"/);
  });

  it('calls gauge collect callbacks before each read', () => {
    const r = new MetricsRegistry();
    let depth = 3;
    r.gauge({ name: 'queue_depth', help: 'h', collect: (g) => g.set(undefined, depth) });
    expect(find(r.snapshot(), 'queue_depth')?.series).toEqual([{ labels: {}, value: 3 }]);
    depth = 8;
    expect(find(r.snapshot(), 'queue_depth')?.series).toEqual([{ labels: {}, value: 8 }]);
  });
});

describe('MetricsRegistry snapshot', () => {
  it('is plain JSON of every series, histograms as snapshots', () => {
    const r = new MetricsRegistry();
    r.counter({ name: 'c', help: 'counts', labelNames: ['k'] }).inc({ k: 'v' }, 2);
    const h = r.histogram({ name: 'h_ms', help: 'lat', labelNames: ['k'] });
    for (let i = 1; i <= 10; i++) h.record({ k: 'v' }, i);
    h.record({ k: 'v' }, Number.NaN);
    const snap = r.snapshot();
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    expect(find(snap, 'c')).toEqual({
      name: 'c',
      type: 'counter',
      help: 'counts',
      series: [{ labels: { k: 'v' }, value: 2 }],
    });
    const hs = find(snap, 'h_ms');
    expect(hs?.type).toBe('histogram');
    expect(hs?.series[0]).toMatchObject({
      labels: { k: 'v' },
      histogram: { count: 10, sum: 55, min: 1, max: 10 },
    });
    expect(find(snap, INVALID_VALUES_METRIC)?.series).toEqual([{ labels: { metric: 'h_ms' }, value: 1 }]);
  });

  it('clear() unregisters everything and zeroes its own counters', () => {
    const r = new MetricsRegistry();
    const c = r.counter({ name: 'c', help: 'h', maxSeries: 1 });
    c.inc({ a: 1 });
    c.inc({ a: 2 });
    r.registerSource('s', { stats: () => ({ a: 1 }) });
    r.clear();
    expect(r.snapshot().map((m) => m.name)).toEqual([
      'perf_metrics_dropped_series_total',
      SOURCE_ERRORS_METRIC,
      INVALID_VALUES_METRIC,
    ]);
    expect(r.droppedSeries.get({ metric: 'c' })).toBe(0);
  });
});

describe('flattenStats', () => {
  it('joins nested keys in snake_case, converts booleans and bigints, skips the rest', () => {
    expect(
      flattenStats({
        waitingCount: 2,
        HTTPErrors: 1,
        'weird key!': 3,
        ok: false,
        big: 10n,
        name: 'x',
        list: [1, 2],
        typed: new Float64Array(4),
        nan: Number.NaN,
        nothing: null,
        when: new Date(),
        nested: { deeper: { value: 7 } },
      }),
    ).toEqual([
      ['waiting_count', 2],
      ['http_errors', 1],
      ['weird_key', 3],
      ['ok', 0],
      ['big', 10],
      ['nested_deeper_value', 7],
    ]);
  });

  it('reads a Histogram as its snapshot fields', () => {
    const h = new Histogram();
    h.record(4);
    const flat = Object.fromEntries(flattenStats({ latency: h }));
    expect(flat).toMatchObject({ latency_count: 1, latency_sum: 4, latency_p99: 4 });
  });

  it('survives cycles and stops at maxDepth', () => {
    const a: Record<string, unknown> = { n: 1 };
    a.self = a;
    expect(flattenStats(a)).toEqual([['n', 1]]);
    expect(flattenStats({ a: { b: { c: 1 } }, d: 2 }, { maxDepth: 1 })).toEqual([['d', 2]]);
    expect(flattenStats(5)).toEqual([]);
  });
});

describe('errors', () => {
  it('MonitorError carries a code and a brand the guard checks', () => {
    const e = new MonitorError('x', 'ERR_X', { cause: 1 });
    expect(e).toMatchObject({ name: 'MonitorError', code: 'ERR_X', cause: 1 });
    expect(isMonitorError(e)).toBe(true);
    expect(isMonitorError(Object.assign(new Error('y'), { isPerfMonitorError: true }))).toBe(true);
    expect(isMonitorError(new Error('z'))).toBe(false);
  });
});
