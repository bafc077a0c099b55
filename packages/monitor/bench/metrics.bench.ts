// Hot-path recording and exposition cost of @perf/monitor against prom-client, the OpenTelemetry SDK and
// hdr-histogram-js, all measured in the same process and run. Each peer gets its own registry/provider.

import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { defineSuite } from '@perf/bench';
import * as hdr from 'hdr-histogram-js';
import * as prom from 'prom-client';
import { MetricsRegistry, toPrometheus } from '../src/index';

const OPS = 20_000;
// Lognormal latencies around 5 ms, precomputed so the RNG is not measured.
const values = Float64Array.from({ length: 4096 }, () => {
  const u = 1 - Math.random();
  const v = Math.random();
  return Math.exp(Math.log(5) + 0.8 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
});
const MASK = values.length - 1;
const ROUTE = { route: '/users/:id' };

/** A reader that never exports on its own: the OTel instruments are live (recording), nothing else. */
class ManualReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

function otelMeter() {
  const provider = new MeterProvider({ readers: [new ManualReader()] });
  return provider.getMeter('bench');
}

const ours = new MetricsRegistry();
const ourHistogram = ours.histogram({ name: 'latency_ms', help: 'latency', labelNames: ['route'] });
const ourBound = ourHistogram.labels(ROUTE);
const ourCounter = ours.counter({ name: 'requests_total', help: 'requests', labelNames: ['route'] });

const histogramPeers = () => [
  {
    name: '@opentelemetry/sdk-metrics Histogram.record',
    opsPerCall: OPS,
    setup: () => otelMeter().createHistogram('latency_ms'),
    fn: (h: { record(v: number, a: object): void }) => {
      for (let i = 0; i < OPS; i++) h.record(values[i & MASK]!, ROUTE);
    },
  },
  {
    name: 'prom-client Histogram.observe',
    opsPerCall: OPS,
    setup: () =>
      new prom.Histogram({
        name: 'latency_ms',
        help: 'latency',
        labelNames: ['route'],
        buckets: [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
        registers: [new prom.Registry()],
      }),
    fn: (h: prom.Histogram<'route'>) => {
      for (let i = 0; i < OPS; i++) h.observe(ROUTE, values[i & MASK]!);
    },
  },
  {
    name: 'hdr-histogram-js recordValue (no labels)',
    opsPerCall: OPS,
    setup: () => hdr.build({ numberOfSignificantValueDigits: 2 }),
    // HDR records integers: values are scaled to µs, as its users do for ms latencies.
    fn: (h: hdr.Histogram) => {
      for (let i = 0; i < OPS; i++) h.recordValue(Math.round(values[i & MASK]! * 1000));
    },
  },
];

const histogramTargets = [
  { peer: '@opentelemetry/sdk-metrics Histogram.record', minRatio: 2 },
  { peer: 'prom-client Histogram.observe', minRatio: 5 },
];

/** A registry pair (ours, prom-client) each holding the same 10,000 label sets. */
function tenThousandSeries() {
  const reg = new MetricsRegistry({ maxSeriesPerMetric: 10_000 });
  const promReg = new prom.Registry();
  const c = reg.counter({ name: 'req_total', help: 'requests', labelNames: ['route', 'status'] });
  const g = reg.gauge({ name: 'pool_size', help: 'pool size', labelNames: ['pool'] });
  const h = reg.histogram({ name: 'db_ms', help: 'query time', labelNames: ['table'] });
  const pc = new prom.Counter({
    name: 'req_total',
    help: 'requests',
    labelNames: ['route', 'status'],
    registers: [promReg],
  });
  const pg = new prom.Gauge({
    name: 'pool_size',
    help: 'pool size',
    labelNames: ['pool'],
    registers: [promReg],
  });
  const ph = new prom.Histogram({
    name: 'db_ms',
    help: 'query time',
    labelNames: ['table'],
    buckets: [...h.buckets],
    registers: [promReg],
  });
  for (let i = 0; i < 5000; i++) {
    const labels = { route: `/r/${i >> 2}`, status: 200 + (i & 3) };
    c.inc(labels, i);
    pc.inc(labels, i);
  }
  for (let i = 0; i < 4000; i++) {
    g.set({ pool: `p${i}` }, i);
    pg.set({ pool: `p${i}` }, i);
  }
  for (let i = 0; i < 1000; i++) {
    for (let j = 0; j < 20; j++) {
      h.record({ table: `t${i}` }, values[(i * 20 + j) & MASK]!);
      ph.observe({ table: `t${i}` }, values[(i * 20 + j) & MASK]!);
    }
  }
  return { reg, promReg };
}

export default defineSuite({
  name: 'monitor',
  scenarios: [
    {
      name: 'Histogram.record, one label (bound child)',
      table: 'Monitoring',
      opsPerCall: OPS,
      fn: () => {
        for (let i = 0; i < OPS; i++) ourBound.record(values[i & MASK]!);
      },
      peers: histogramPeers(),
      targets: histogramTargets,
    },
    {
      name: 'Histogram.record(labels, v), one label',
      table: 'Monitoring',
      opsPerCall: OPS,
      fn: () => {
        for (let i = 0; i < OPS; i++) ourHistogram.record(ROUTE, values[i & MASK]!);
      },
      peers: histogramPeers(),
      targets: histogramTargets,
    },
    {
      name: 'Counter.inc(labels), one label',
      table: 'Monitoring',
      opsPerCall: OPS,
      fn: () => {
        for (let i = 0; i < OPS; i++) ourCounter.inc(ROUTE);
      },
      peers: [
        {
          name: 'prom-client Counter.inc',
          opsPerCall: OPS,
          setup: () =>
            new prom.Counter({
              name: 'requests_total',
              help: 'requests',
              labelNames: ['route'],
              registers: [new prom.Registry()],
            }),
          fn: (c: prom.Counter<'route'>) => {
            for (let i = 0; i < OPS; i++) c.inc(ROUTE);
          },
        },
        {
          name: '@opentelemetry/sdk-metrics Counter.add',
          opsPerCall: OPS,
          setup: () => otelMeter().createCounter('requests_total'),
          fn: (c: { add(v: number, a: object): void }) => {
            for (let i = 0; i < OPS; i++) c.add(1, ROUTE);
          },
        },
      ],
      targets: [{ peer: 'prom-client Counter.inc', minRatio: 3 }],
    },
    {
      name: 'Prometheus exposition, 10,000 series',
      table: 'Monitoring',
      opsPerCall: 1,
      minCalls: 5,
      setup: tenThousandSeries,
      fn: ({ reg }: ReturnType<typeof tenThousandSeries>) => ({
        metrics: { bytes: toPrometheus(reg).length },
      }),
      peers: [
        {
          name: 'prom-client registry.metrics()',
          opsPerCall: 1,
          setup: tenThousandSeries,
          fn: async ({ promReg }: ReturnType<typeof tenThousandSeries>) => ({
            metrics: { bytes: (await promReg.metrics()).length },
          }),
        },
      ],
    },
  ],
});
