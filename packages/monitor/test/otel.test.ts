import {
  type DataPoint,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../src/index';
import { bridgeToOpenTelemetry } from '../src/otel';

/** A reader that exports only when the test calls `collect()`. */
class TestReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

type Points = Map<string, Array<{ attributes: Record<string, unknown>; value: unknown }>>;

function pointsOf(metrics: ResourceMetrics): Points {
  const out: Points = new Map();
  for (const scope of metrics.scopeMetrics) {
    for (const m of scope.metrics) {
      const list = (m.dataPoints as Array<DataPoint<unknown>>).map((p) => ({
        attributes: { ...p.attributes },
        value: p.value,
      }));
      out.set(m.descriptor.name, [...(out.get(m.descriptor.name) ?? []), ...list]);
    }
  }
  return out;
}

async function read(reader: MetricReader): Promise<Points> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return pointsOf(resourceMetrics);
}

describe('bridgeToOpenTelemetry', () => {
  const providers: MeterProvider[] = [];
  afterEach(async () => {
    for (const p of providers.splice(0)) await p.shutdown();
  });

  function setup() {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    providers.push(provider);
    return { reader, provider };
  }

  it('feeds counters, gauges, histograms and sources into a real MeterProvider at collection time', async () => {
    const registry = new MetricsRegistry();
    const { reader, provider } = setup();
    const requests = registry.counter({
      name: 'http_requests_total',
      help: 'Requests',
      labelNames: ['route'],
    });
    const open = registry.gauge({ name: 'db_open', help: 'Open connections' });
    const latency = registry.histogram({ name: 'db_ms', help: 'Query time', labelNames: ['table'] });
    registry.registerSource('pool', { stats: () => ({ waiting: 2 }) }, { pool: 'main' });
    using _bridge = bridgeToOpenTelemetry(registry, provider);

    requests.inc({ route: '/a' }, 3);
    open.set(undefined, 5);
    for (let i = 1; i <= 100; i++) latency.record({ table: 'users' }, i);
    const points = await read(reader);

    expect(points.get('http_requests_total')).toEqual([{ attributes: { route: '/a' }, value: 3 }]);
    expect(points.get('db_open')).toEqual([{ attributes: {}, value: 5 }]);
    expect(points.get('pool_waiting')).toEqual([{ attributes: { pool: 'main' }, value: 2 }]);
    expect(points.get('db_ms_count')).toEqual([{ attributes: { table: 'users' }, value: 100 }]);
    expect(points.get('db_ms_sum')).toEqual([{ attributes: { table: 'users' }, value: 5050 }]);
    const p99 = points.get('db_ms_quantiles')?.find((p) => p.attributes.quantile === '0.99');
    expect(p99?.attributes).toEqual({ table: 'users', quantile: '0.99' });
    expect(Math.abs((p99?.value as number) - 99)).toBeLessThanOrEqual(0.99);

    // Values are read at each collection, not copied at bridge time.
    requests.inc({ route: '/a' });
    expect((await read(reader)).get('http_requests_total')).toEqual([
      { attributes: { route: '/a' }, value: 4 },
    ]);
  });

  it('picks up families registered after the bridge', async () => {
    const registry = new MetricsRegistry();
    const { reader, provider } = setup();
    const bridge = bridgeToOpenTelemetry(registry, provider.getMeter('mine'));
    registry.counter({ name: 'late_total', help: 'h' }).inc(undefined, 2);
    bridge.refresh();
    expect((await read(reader)).get('late_total')).toEqual([{ attributes: {}, value: 2 }]);

    // Without an explicit refresh, a new family is reported from the collection after it is seen.
    registry.gauge({ name: 'later', help: 'h' }).set(undefined, 7);
    await read(reader);
    await Promise.resolve();
    expect((await read(reader)).get('later')).toEqual([{ attributes: {}, value: 7 }]);
    bridge.dispose();
  });

  it('stops reporting when disposed (idempotently)', async () => {
    const registry = new MetricsRegistry();
    const { reader, provider } = setup();
    const counter = registry.counter({ name: 'c_total', help: 'h' });
    counter.inc();
    const bridge = bridgeToOpenTelemetry(registry, provider);
    expect((await read(reader)).get('c_total')).toHaveLength(1);
    bridge.dispose();
    bridge[Symbol.dispose]();
    counter.inc();
    const after = (await read(reader)).get('c_total') ?? [];
    // The cumulative SDK may repeat the last value it had; it must not see the new increment.
    expect(after.every((p) => p.value === 1)).toBe(true);
  });

  it('does not let a throwing source break a collection', async () => {
    const registry = new MetricsRegistry();
    const { reader, provider } = setup();
    registry.registerSource('bad', {
      stats() {
        throw new Error('boom');
      },
    });
    registry.gauge({ name: 'ok', help: 'h' }).set(undefined, 1);
    using _bridge = bridgeToOpenTelemetry(registry, provider);
    const points = await read(reader);
    expect(points.get('ok')).toEqual([{ attributes: {}, value: 1 }]);
    expect(points.get('perf_metrics_source_errors_total')?.[0]?.attributes).toEqual({ source: 'bad' });
  });

  it('rejects a target that is neither a MeterProvider nor a Meter', () => {
    expect(() => bridgeToOpenTelemetry(new MetricsRegistry(), {} as never)).toThrow(TypeError);
  });
});
