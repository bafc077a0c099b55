/**
 * `@perf/monitor/otel`: feeds a registry into a user's OpenTelemetry `MeterProvider` (or `Meter`), so
 * services that export through the OpenTelemetry SDK see the same numbers as `/metrics`.
 *
 * Only types come from `@opentelemetry/api` (an optional peer dependency): the instruments are created
 * through the meter the caller passes, so this module loads nothing at runtime.
 */
import type {
  BatchObservableCallback,
  BatchObservableResult,
  Meter,
  MeterProvider,
  Observable,
} from '@opentelemetry/api';
import type { CollectedMetric, MetricsRegistry } from './registry';

/** Options of {@link bridgeToOpenTelemetry}. */
export interface OpenTelemetryBridgeOptions {
  /**
   * Instrumentation scope name used when a `MeterProvider` is passed.
   * @default '@perf/monitor'
   */
  meterName?: string;
  /** Instrumentation scope version used when a `MeterProvider` is passed. */
  meterVersion?: string;
}

/** The live link between a registry and a meter; dispose it to stop reporting. */
export interface OpenTelemetryBridge extends Disposable {
  /** Stops feeding the meter (idempotent). OpenTelemetry has no way to delete instruments; they go quiet. */
  dispose(): void;
  /**
   * Creates instruments for families (and source gauges) that appeared since the last collection.
   * Called automatically after each collection; call it yourself to have a new family reported in the
   * very next collection.
   */
  refresh(): void;
}

/**
 * Mirrors every family of `registry` as asynchronous (observable) OpenTelemetry instruments, read at
 * collection time through one batch callback, so recording stays on the registry's fast path and the
 * OpenTelemetry SDK pays only at export time.
 *
 * Mapping: counter → `ObservableCounter`; gauge and source leaves → `ObservableGauge`; histogram `x`
 * → `ObservableCounter`s `x_count` and `x_sum` plus an `ObservableGauge` `x_quantiles` with a
 * `quantile` attribute (0.5/0.9/0.95/0.99): the OpenTelemetry API has no asynchronous histogram, so
 * bucket counts are not mirrored. Series labels become attributes.
 *
 * @example
 * import { MeterProvider } from '@opentelemetry/sdk-metrics';
 * import { bridgeToOpenTelemetry } from '@perf/monitor/otel';
 * const provider = new MeterProvider({ readers: [reader] });
 * using bridge = bridgeToOpenTelemetry(registry, provider);
 *
 * @throws {TypeError} when `target` is neither a `MeterProvider` nor a `Meter`.
 */
export function bridgeToOpenTelemetry(
  registry: MetricsRegistry,
  target: MeterProvider | Meter,
  options: OpenTelemetryBridgeOptions = {},
): OpenTelemetryBridge {
  const meter = resolveMeter(target, options);
  /** Instrument per exported name, plus the family type it was created for. */
  const instruments = new Map<string, { observable: Observable; type: string }>();
  let registered: Observable[] = [];
  let disposed = false;
  let stale = false;

  const callback: BatchObservableCallback = (result) => {
    for (const metric of registry.collect()) observeMetric(metric, result);
    if (stale) queueMicrotask(refresh);
  };

  /** The instrument for `name`, or undefined (and a refresh scheduled) when it does not exist yet. */
  function instrument(name: string, type: string): Observable | undefined {
    const existing = instruments.get(name);
    if (existing !== undefined) return existing.type === type ? existing.observable : undefined;
    stale = true;
    return undefined;
  }

  function observeMetric(metric: CollectedMetric, result: BatchObservableResult): void {
    if (metric.type !== 'histogram') {
      const o = instrument(metric.name, metric.type);
      if (o === undefined) return;
      for (const s of metric.series()) result.observe(o, s.value, s.labels);
      return;
    }
    const count = instrument(`${metric.name}_count`, 'histogram');
    const sum = instrument(`${metric.name}_sum`, 'histogram');
    const quantiles = instrument(`${metric.name}_quantiles`, 'histogram');
    for (const s of metric.series()) {
      if (count !== undefined) result.observe(count, s.count, s.labels);
      if (sum !== undefined) result.observe(sum, s.sum, s.labels);
      if (quantiles === undefined || s.count === 0) continue;
      const snap = s.snapshot();
      result.observe(quantiles, snap.p50, { ...s.labels, quantile: '0.5' });
      result.observe(quantiles, snap.p90, { ...s.labels, quantile: '0.9' });
      result.observe(quantiles, snap.p95, { ...s.labels, quantile: '0.95' });
      result.observe(quantiles, snap.p99, { ...s.labels, quantile: '0.99' });
    }
  }

  function create(name: string, type: string, help: string, kind: 'counter' | 'gauge'): void {
    if (instruments.has(name)) return;
    const observable =
      kind === 'counter'
        ? meter.createObservableCounter(name, { description: help })
        : meter.createObservableGauge(name, { description: help });
    instruments.set(name, { observable, type });
  }

  function refresh(): void {
    if (disposed) return;
    stale = false;
    const before = instruments.size;
    for (const metric of registry.collect()) {
      if (metric.type !== 'histogram') create(metric.name, metric.type, metric.help, metric.type);
      else {
        create(`${metric.name}_count`, 'histogram', `${metric.help} (count)`, 'counter');
        create(`${metric.name}_sum`, 'histogram', `${metric.help} (sum)`, 'counter');
        create(`${metric.name}_quantiles`, 'histogram', `${metric.help} (quantile estimates)`, 'gauge');
      }
    }
    if (instruments.size === before && registered.length > 0) return;
    // A batch callback is bound to a fixed instrument list: re-register it with the grown list.
    if (registered.length > 0) meter.removeBatchObservableCallback(callback, registered);
    registered = [...instruments.values()].map((i) => i.observable);
    if (registered.length > 0) meter.addBatchObservableCallback(callback, registered);
  }

  function dispose(): void {
    if (disposed) return;
    disposed = true;
    if (registered.length > 0) meter.removeBatchObservableCallback(callback, registered);
    registered = [];
  }

  refresh();
  return { dispose, refresh, [Symbol.dispose]: dispose };
}

function resolveMeter(target: MeterProvider | Meter, options: OpenTelemetryBridgeOptions): Meter {
  if (target !== null && typeof target === 'object') {
    if (typeof (target as MeterProvider).getMeter === 'function') {
      const name = options.meterName ?? '@perf/monitor';
      return options.meterVersion === undefined
        ? (target as MeterProvider).getMeter(name)
        : (target as MeterProvider).getMeter(name, options.meterVersion);
    }
    if (typeof (target as Meter).addBatchObservableCallback === 'function') return target as Meter;
  }
  throw new TypeError(
    `bridgeToOpenTelemetry: target must be a MeterProvider or a Meter, received ${String(target)}`,
  );
}
