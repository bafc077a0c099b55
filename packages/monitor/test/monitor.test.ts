import { AsyncLocalStorage } from 'node:async_hooks';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { runNodeScript } from '@perf/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  getPerformanceMonitor,
  MetricsRegistry,
  monitorPerformance,
  PerformanceMonitor,
  setPerformanceMonitor,
  toPrometheus,
} from '../src/index';

const monitors: PerformanceMonitor[] = [];
function create(options?: ConstructorParameters<typeof PerformanceMonitor>[0]): PerformanceMonitor {
  const m = new PerformanceMonitor(options);
  monitors.push(m);
  return m;
}
afterEach(() => {
  for (const m of monitors.splice(0)) m.close();
  setPerformanceMonitor(undefined)?.close();
});

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** Forces a full collection and waits for the (asynchronous) GC performance entries to be delivered. */
async function collectGarbage(): Promise<void> {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const gcPauses = (m: PerformanceMonitor) => [...m.metrics.gcPause.series()].reduce((n, s) => n + s.count, 0);

/** Active resource types now present more often than in `before` (other tests' handles may have ended). */
function extraResources(before: string[]): string[] {
  const left = new Map<string, number>();
  for (const t of before) left.set(t, (left.get(t) ?? 0) + 1);
  const extra: string[] = [];
  for (const t of process.getActiveResourcesInfo()) {
    const n = left.get(t) ?? 0;
    if (n > 0) left.set(t, n - 1);
    else extra.push(t);
  }
  return extra;
}

const ops = (m: PerformanceMonitor) => m.metricsCollector.getSummary().operations;
const rejected = (m: PerformanceMonitor, reason: string) => m.metrics.rejected.get({ reason });

describe('timing scopes', () => {
  it('records a duration when an `await using` block exits', async () => {
    const m = create();
    {
      await using _ = m.monitor('database_query', { table: 'users' });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const [op] = ops(m);
    expect(op).toMatchObject({ name: 'database_query', tags: { table: 'users' }, count: 1, errors: 0 });
    expect(op!.maxMs).toBeGreaterThan(0);
  });

  it('records with a sync `using` block and explicit end(), once', () => {
    const m = create();
    {
      using _ = m.monitor('a');
    }
    const scope = m.monitor('a');
    const d = scope.end();
    expect(scope.end()).toBe(d);
    expect(scope.fail(new Error('late'))).toBe(d);
    scope[Symbol.dispose]();
    expect(ops(m)[0]).toMatchObject({ name: 'a', count: 2, errors: 0 });
  });

  it('counts errors by name with fail()', () => {
    const m = create();
    m.monitor('job').fail(new RangeError('x'));
    m.monitor('job').fail(new RangeError('y'));
    m.monitor('job').fail('a string');
    m.monitor('job').end();
    expect(ops(m)[0]).toMatchObject({ count: 4, errors: 3, errorsByName: { RangeError: 2, string: 1 } });
    expect(ops(m)[0]!.errorRate).toBe(0.75);
  });

  it('rejects an empty operation name', () => {
    const m = create();
    expect(() => m.monitor('')).toThrow(TypeError);
    expect(() => m.monitor(42 as never)).toThrow(/non-empty string/);
  });
});

describe('time()', () => {
  it('times sync and async functions and rethrows their errors', async () => {
    const m = create();
    expect(m.time('sync', () => 7)).toBe(7);
    expect(await m.time('async', { kind: 'x' }, async () => 8)).toBe(8);
    expect(() =>
      m.time('sync', () => {
        throw new TypeError('bad');
      }),
    ).toThrow('bad');
    await expect(
      m.time('async', { kind: 'x' }, () => Promise.reject(new SyntaxError('nope'))),
    ).rejects.toThrow('nope');
    const byName = Object.fromEntries(ops(m).map((o) => [o.name, o]));
    expect(byName.sync).toMatchObject({ count: 2, errorsByName: { TypeError: 1 } });
    expect(byName.async).toMatchObject({ count: 2, tags: { kind: 'x' }, errorsByName: { SyntaxError: 1 } });
  });
});

describe('monitorPerformance', () => {
  it('wraps a function and keeps this, arguments and result', async () => {
    const m = create();
    const obj = {
      factor: 3,
      mul: monitorPerformance(
        'mul',
        async function (this: { factor: number }, x: number) {
          return x * this.factor;
        },
        { monitor: m },
      ),
    };
    expect(await obj.mul(2)).toBe(6);
    expect(obj.mul.name).toBe('');
    expect(ops(m)[0]).toMatchObject({ name: 'mul', count: 1 });
  });

  it('works as a TS 5 standard method decorator (compiled by tsx in a child process)', async () => {
    const r = await runNodeScript(join(import.meta.dirname, 'fixtures/decorated.ts'));
    expect(r.stderr).toBe('');
    expect(r.result).toEqual({
      user: 'u1',
      failed: 'no',
      operations: [
        { name: 'api_endpoint', tags: { service: 'users' }, count: 1, errorsByName: {} },
        { name: 'fail', tags: {}, count: 1, errorsByName: { Error: 1 } },
      ],
    });
  });

  it('uses the process-wide monitor by default, resolved at call time', () => {
    const wrapped = monitorPerformance('late', () => 1);
    const m = create();
    setPerformanceMonitor(m);
    wrapped();
    expect(ops(m)[0]).toMatchObject({ name: 'late', count: 1 });
  });
});

describe('trackRequest and trackDatabaseOperation', () => {
  it('records requests by method, route and status', () => {
    const m = create();
    m.trackRequest('/api/users/:id', 'GET', 200, 10);
    m.trackRequest('/api/users/:id', 'GET', 200, 20);
    m.trackRequest('/api/users/:id', 'GET', 503, 30);
    m.trackRequest('/api/users/:id?debug=1', 'GET', 200, 5);
    const { requests } = m.metricsCollector.getSummary();
    expect(requests).toMatchObject({ total: 4, serverErrors: 1 });
    expect(requests.byRoute).toHaveLength(1);
    expect(requests.byRoute[0]).toMatchObject({ route: '/api/users/:id', statuses: { 200: 3, 503: 1 } });
  });

  it('records database operations and affected rows', () => {
    const m = create();
    m.trackDatabaseOperation('SELECT', 'users', 2, 10);
    m.trackDatabaseOperation('SELECT', 'users', 4, 5);
    m.trackDatabaseOperation('DELETE', 'users', 1);
    const db = m.metricsCollector.getSummary().database;
    expect(db.find((d) => d.operation === 'SELECT')).toMatchObject({ count: 2, rowsAffected: 15, maxMs: 4 });
    expect(db.find((d) => d.operation === 'DELETE')).toMatchObject({ count: 1, rowsAffected: 0 });
  });

  it('folds raw URLs past the cardinality cap into one overflow series', () => {
    const m = create({ registry: new MetricsRegistry({ maxSeriesPerMetric: 50 }) });
    for (let i = 0; i < 5_000; i++) m.trackRequest(`/users/${i}`, 'GET', 200, 1);
    const family = m.metrics.requestDuration;
    expect(family.seriesCount).toBe(50);
    expect([...family.series()].at(-1)!.labels).toEqual({ overflow: 'true' });
    expect(m.registry.droppedSeries.get({ metric: 'perf_http_request_duration_ms' })).toBe(4_950);
    expect(m.metricsCollector.getSummary().requests.total).toBe(5_000);
  });
});

describe('bad input', () => {
  it('rejects NaN, negative and infinite durations and counts them', () => {
    const m = create();
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(m.trackRequest('/x', 'GET', 200, bad)).toBe(false);
      expect(m.trackDatabaseOperation('SELECT', 't', bad)).toBe(false);
      expect(m.recordOperation('op', undefined, bad)).toBe(false);
    }
    expect(m.trackDatabaseOperation('SELECT', 't', 1, Number.NaN)).toBe(false);
    expect(rejected(m, 'duration')).toBe(12);
    expect(rejected(m, 'rows')).toBe(1);
    expect(m.stats().rejected).toBe(13);
    const summary = m.metricsCollector.getSummary();
    expect(summary.requests.total).toBe(0);
    expect(summary.database).toEqual([]);
    expect(summary.operations).toEqual([]);
  });

  it('rejects invalid tag names without throwing', () => {
    const m = create();
    expect(m.recordOperation('op', { 'bad-name': 'x' }, 1)).toBe(false);
    expect(m.recordOperation('op', { __reserved: 'x' }, 1)).toBe(false);
    expect(rejected(m, 'tags')).toBe(2);
    expect(m.recordOperation('op', { good: 'x' }, 1)).toBe(true);
  });

  it('truncates huge tag values and escapes quotes and newlines in the exposition', () => {
    const m = create();
    m.monitor('q', { note: 'x'.repeat(100_000) }).end();
    m.monitor('q', { note: 'say "hi"\nback\\slash' }).end();
    const tags = ops(m).map((o) => o.tags.note!);
    expect(Math.max(...tags.map((t) => t.length))).toBe(256);
    const text = toPrometheus(m.registry);
    expect(text).toContain('note="say \\"hi\\"\\nback\\\\slash"');
    expect(text).not.toContain('x'.repeat(257));
  });

  it('validates options', () => {
    expect(() => new PerformanceMonitor({ sampleIntervalMs: 0 })).toThrow(/sampleIntervalMs/);
    expect(() => new PerformanceMonitor({ sampleIntervalMs: 1.5 })).toThrow(RangeError);
    expect(() => new PerformanceMonitor({ prefix: 'a-b' })).toThrow(/prefix/);
    expect(() => new PerformanceMonitor({ topOperations: -1 })).toThrow(/topOperations/);
    expect(() => new PerformanceMonitor({ eventLoopResolutionMs: 0 })).toThrow(/eventLoopResolutionMs/);
  });
});

describe('register', () => {
  it('flattens a source into prefixed gauges and shows it in the dashboard', () => {
    const m = create();
    let waiting = 3;
    m.register('db_semaphore', { stats: () => ({ waiting, inFlight: 2 }) });
    expect(toPrometheus(m.registry)).toMatch(/^perf_db_semaphore_waiting 3$/m);
    waiting = 5;
    expect(toPrometheus(m.registry)).toMatch(/^perf_db_semaphore_waiting 5$/m);
    expect(m.getDashboardData().sources).toEqual({ db_semaphore: { waiting: 5, inFlight: 2 } });
    expect(() => m.register('x', {} as never)).toThrow(TypeError);
  });
});

describe('process-wide monitor and lifecycle', () => {
  it('is lazy: getPerformanceMonitor() returns one instance and starts nothing', () => {
    const before = process.getActiveResourcesInfo();
    const m = getPerformanceMonitor();
    expect(getPerformanceMonitor()).toBe(m);
    m.trackRequest('/x', 'GET', 200, 1);
    m.getDashboardData();
    expect(m.sampling).toBe(false);
    expect(extraResources(before)).toEqual([]);
  });

  it('close() stops the timer, the event-loop probe and the GC observer', async () => {
    const before = process.getActiveResourcesInfo();
    vi.useFakeTimers();
    try {
      const m = create({ sampleIntervalMs: 1000 });
      m.start();
      m.start();
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(3000);
      expect(m.stats().samples).toBe(3);
      m.close();
      m.close();
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(10_000);
      expect(m.stats()).toMatchObject({ samples: 3, sampling: false });
    } finally {
      vi.useRealTimers();
    }
    // The GC observer is disconnected: a forced collection after close() is not recorded.
    const m = create();
    m.start();
    await collectGarbage();
    const seen = gcPauses(m);
    expect(seen).toBeGreaterThan(0);
    m.close();
    await collectGarbage();
    expect(gcPauses(m)).toBe(seen);
    expect(extraResources(before)).toEqual([]);
  });

  it('starts nothing on import, and lets the process exit by itself after close()', async () => {
    const r = await runNodeScript(join(import.meta.dirname, 'fixtures/lifecycle.ts'), { timeoutMs: 20_000 });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    const out = r.result as {
      before: string[];
      afterImport: string[];
      afterClose: string[];
      exported: number;
    };
    expect(out.afterImport).toEqual(out.before);
    expect(out.afterClose).toEqual(out.before);
    expect(out.exported).toBeGreaterThan(0);
  });

  it("time() runs the function in the caller's AsyncLocalStorage context", async () => {
    const m = create();
    const als = new AsyncLocalStorage<string>();
    const seen = await als.run('request-1', () =>
      m.time('ctx', async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return als.getStore();
      }),
    );
    expect(seen).toBe('request-1');
  });

  it('keeps recording after close, and can start again', () => {
    const m = create();
    m.start();
    m.close();
    expect(m.trackRequest('/x', 'GET', 200, 1)).toBe(true);
    m.start();
    expect(m.sampling).toBe(true);
    m[Symbol.dispose]();
    expect(m.sampling).toBe(false);
  });
});
