import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createPrometheusHandler,
  escapeLabelValue,
  MAX_LABEL_VALUE_LENGTH,
  MetricsRegistry,
  PROMETHEUS_CONTENT_TYPE,
  toPrometheus,
} from '../src/index';
import { type Family, parseExposition } from './exposition-parser';

const family = (families: Map<string, Family>, name: string): Family => {
  const f = families.get(name);
  if (f === undefined) throw new Error(`no family ${name}`);
  return f;
};

describe('toPrometheus', () => {
  it('writes HELP/TYPE and samples for counters and gauges', () => {
    const r = new MetricsRegistry();
    r.counter({ name: 'req_total', help: 'Requests served', labelNames: ['route', 'method'] }).inc(
      { route: '/a', method: 'GET' },
      3,
    );
    r.gauge({ name: 'temp', help: 'T' }).set(undefined, -1.5);
    const text = toPrometheus(r);
    expect(text).toContain(
      '# HELP req_total Requests served\n# TYPE req_total counter\nreq_total{route="/a",method="GET"} 3\n',
    );
    expect(text).toContain('# TYPE temp gauge\ntemp -1.5\n');
    const families = parseExposition(text);
    expect(family(families, 'req_total').samples).toEqual([
      { name: 'req_total', labels: { route: '/a', method: 'GET' }, value: 3 },
    ]);
  });

  it('writes histograms as cumulative _bucket/_sum/_count plus a _quantiles gauge family', () => {
    const r = new MetricsRegistry();
    const h = r.histogram({
      name: 'db_ms',
      help: 'Query time',
      labelNames: ['table'],
      buckets: [1, 10, 100],
    });
    const values = [0.5, 2, 3, 20, 200, 50];
    for (const v of values) h.record({ table: 'users' }, v);
    r.histogram({ name: 'idle_ms', help: 'nothing yet' }).labels({});
    const families = parseExposition(toPrometheus(r));
    const db = family(families, 'db_ms');
    expect(db.type).toBe('histogram');
    const bucket = (le: string) =>
      db.samples.find((s) => s.name === 'db_ms_bucket' && s.labels.le === le)?.value;
    expect([bucket('1'), bucket('10'), bucket('100'), bucket('+Inf')]).toEqual([1, 3, 5, 6]);
    expect(db.samples.find((s) => s.name === 'db_ms_sum')).toEqual({
      name: 'db_ms_sum',
      labels: { table: 'users' },
      value: 275.5,
    });
    expect(db.samples.find((s) => s.name === 'db_ms_count')?.value).toBe(6);
    const q = family(families, 'db_ms_quantiles');
    expect(q.type).toBe('gauge');
    const snap = h.get({ table: 'users' })!.snapshot();
    expect(
      q.samples.filter((s) => s.labels.table === 'users').map((s) => [s.labels.quantile, s.value]),
    ).toEqual([
      ['0.5', snap.p50],
      ['0.9', snap.p90],
      ['0.95', snap.p95],
      ['0.99', snap.p99],
    ]);
    // An empty series has no quantiles: NaN, not a made-up 0.
    const idle = family(families, 'idle_ms_quantiles').samples;
    expect(idle).toHaveLength(4);
    expect(idle.every((s) => Number.isNaN(s.value))).toBe(true);
  });

  it('escapes label values and HELP text so any string round-trips (property)', () => {
    const text = fc.string({
      unit: fc.constantFrom('a', 'z', '"', '\\', '\n', 'n', ' ', '{', '}', ',', '=', 'é', '🙂'),
      maxLength: 300,
    });
    fc.assert(
      fc.property(text, text, (value, help) => {
        const r = new MetricsRegistry();
        r.counter({ name: 'c', help, labelNames: ['v'] }).inc({ v: value });
        const f = family(parseExposition(toPrometheus(r)), 'c');
        expect(f.help).toBe(help);
        const expected = value.slice(0, MAX_LABEL_VALUE_LENGTH);
        expect(f.samples).toEqual([{ name: 'c', labels: expected === '' ? {} : { v: expected }, value: 1 }]);
      }),
      { numRuns: 300 },
    );
  });

  it('escapes exactly backslash, double quote and newline', () => {
    expect(escapeLabelValue('a\\b"c\nd\te')).toBe('a\\\\b\\"c\\nd\te');
    expect(escapeLabelValue('plain')).toBe('plain');
  });

  it('includes sources, the overflow series and the registry’s own counters', () => {
    const r = new MetricsRegistry();
    const c = r.counter({ name: 'hits_total', help: 'h', labelNames: ['user'], maxSeries: 2 });
    for (const user of ['a', 'b', 'c', 'd']) c.inc({ user });
    c.inc({ user: 'a' }, Number.NaN);
    r.registerSource('pool', { stats: () => ({ idle: 3 }) }, { pool: 'main' });
    r.registerSource('broken', {
      stats() {
        throw new Error('boom');
      },
    });
    const families = parseExposition(toPrometheus(r));
    expect(family(families, 'hits_total').samples.map((s) => s.labels)).toEqual([
      { user: 'a' },
      { user: 'b' },
      { overflow: 'true' },
    ]);
    expect(family(families, 'perf_metrics_dropped_series_total').samples).toEqual([
      { name: 'perf_metrics_dropped_series_total', labels: { metric: 'hits_total' }, value: 2 },
    ]);
    expect(family(families, 'pool_idle').samples[0]).toMatchObject({ labels: { pool: 'main' }, value: 3 });
    expect(family(families, 'perf_metrics_source_errors_total').samples[0]).toMatchObject({
      labels: { source: 'broken' },
      value: 1,
    });
    expect(family(families, 'perf_metrics_invalid_values_total').samples[0]).toMatchObject({
      labels: { metric: 'hits_total' },
      value: 1,
    });
  });

  it('writes 10,000 series that parse, with every sample present', () => {
    const r = new MetricsRegistry({ maxSeriesPerMetric: 10_000 });
    const c = r.counter({ name: 'req_total', help: 'requests', labelNames: ['route', 'status'] });
    const g = r.gauge({ name: 'pool_size', help: 'pool size', labelNames: ['pool'] });
    const h = r.histogram({ name: 'db_ms', help: 'query time', labelNames: ['table'] });
    for (let i = 0; i < 5000; i++) c.inc({ route: `/r/"${i >> 2}"\n`, status: 200 + (i & 3) }, i);
    for (let i = 0; i < 4000; i++) g.set({ pool: `p\\${i}` }, i / 3);
    for (let i = 0; i < 1000; i++) for (let j = 1; j <= 20; j++) h.record({ table: `t${i}` }, i * j * 0.37);
    const families = parseExposition(toPrometheus(r));
    expect(family(families, 'req_total').samples).toHaveLength(5000);
    expect(family(families, 'pool_size').samples).toHaveLength(4000);
    expect(family(families, 'pool_size').samples[7]).toEqual({
      name: 'pool_size',
      labels: { pool: 'p\\7' },
      value: 7 / 3,
    });
    // 14 default bounds + +Inf, _sum and _count per series.
    expect(family(families, 'db_ms').samples).toHaveLength(1000 * 17);
    expect(family(families, 'db_ms_quantiles').samples).toHaveLength(4000);
    expect(family(families, 'req_total').samples[5]?.labels.route).toBe('/r/"1"\n');
  });
});

describe('the test exposition parser', () => {
  it('rejects malformed text, so "it parses" means something', () => {
    const bad = [
      'a{x="unterminated} 1\n',
      'a{x="bad \\q escape"} 1\n',
      'a{x=unquoted} 1\n',
      'a 1',
      'a one\n',
      '# TYPE a counter\nb 1\n',
      '# TYPE a counter\na 1\n# TYPE b gauge\nb 1\n# TYPE a counter\n',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
      '# TYPE a counter\na 1\na 2\n',
    ];
    for (const text of bad) expect(() => parseExposition(text), text).toThrow();
    expect(parseExposition('# TYPE a counter\na{x="q\\"\\n\\\\"} 1\n').get('a')?.samples[0]?.labels.x).toBe(
      'q"\n\\',
    );
  });
});

describe('createPrometheusHandler', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server === undefined) return;
    server.close();
    await once(server, 'close');
    server = undefined;
  });

  async function serve(registry: MetricsRegistry): Promise<string> {
    const handler = createPrometheusHandler(registry);
    server = createServer((req, res) =>
      req.url === '/metrics' ? handler(req, res) : res.writeHead(404).end(),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  }

  it('serves the exposition over HTTP with the 0.0.4 content type', async () => {
    const r = new MetricsRegistry();
    r.counter({ name: 'up_total', help: 'h' }).inc();
    const url = await serve(r);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    const body = await res.text();
    expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(body));
    expect(family(parseExposition(body), 'up_total').samples[0]?.value).toBe(1);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(url, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers 500 instead of crashing when reading the registry fails', async () => {
    class BrokenRegistry extends MetricsRegistry {
      override collect(): never {
        throw new Error('disk on fire');
      }
    }
    const res = await fetch(await serve(new BrokenRegistry()));
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('disk on fire');
  });
});
