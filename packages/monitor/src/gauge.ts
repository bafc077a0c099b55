/**
 * A value that goes up and down (queue depth, connections open, memory), per label set.
 */
import { type FamilyHooks, MetricFamily, type MetricOptions, type Series } from './family';
import type { Labels, SeriesLabels } from './labels';

/** Options of {@link MetricsRegistry.gauge}. */
export interface GaugeOptions extends MetricOptions {
  /**
   * Called at read time (snapshot, Prometheus scrape, OpenTelemetry collection) before the gauge is read,
   * to set values that are cheaper to pull than to push. A throwing callback is counted in
   * `perf_metrics_source_errors_total{source=<name>}` and the gauge keeps its previous values.
   *
   * @example
   * registry.gauge({ name: 'queue_depth', help: 'Jobs waiting', collect: (g) => g.set(undefined, queue.length) });
   */
  collect?: (gauge: Gauge) => void;
}

/** A gauge bound to one label set. Non-finite values are ignored and counted. */
export interface BoundGauge {
  /** Sets the value. */
  set(value: number): void;
  /** Adds `value` (default 1). */
  inc(value?: number): void;
  /** Subtracts `value` (default 1). */
  dec(value?: number): void;
}

/** One series of a {@link Gauge}: its labels and current value. */
export class GaugeSeries implements BoundGauge, Series {
  /** Current value. */
  value = 0;
  /** @internal Created by {@link Gauge}. */
  constructor(
    readonly labels: SeriesLabels,
    private readonly family: Gauge,
  ) {}

  /** Sets the value; NaN and ±Infinity are ignored and counted. */
  set(value: number): void {
    // `v - v === 0` is false exactly for NaN and ±Infinity.
    if (value - value === 0) this.value = value;
    else this.family.invalidValues++;
  }

  /** Adds `value` (default 1). */
  inc(value = 1): void {
    if (value - value === 0) this.value += value;
    else this.family.invalidValues++;
  }

  /** Subtracts `value` (default 1). */
  dec(value = 1): void {
    if (value - value === 0) this.value -= value;
    else this.family.invalidValues++;
  }
}

/**
 * A gauge family. Create it with {@link MetricsRegistry.gauge}.
 *
 * @example
 * const open = registry.gauge({ name: 'db_connections_open', help: 'Open connections', labelNames: ['pool'] });
 * open.inc({ pool: 'main' });
 * open.labels({ pool: 'main' }).dec();
 * open.set(undefined, 3); // a gauge without labels
 */
export class Gauge extends MetricFamily<GaugeSeries> {
  /** Always `'gauge'`. */
  readonly type = 'gauge' as const;
  /** Values rejected by `set`/`inc`/`dec` (NaN or infinite). */
  invalidValues = 0;
  /** The read-time callback, if any. */
  readonly collect: ((gauge: Gauge) => void) | undefined;

  /** @internal Use {@link MetricsRegistry.gauge}. */
  constructor(options: GaugeOptions, maxSeries: number, hooks?: FamilyHooks) {
    super(`gauge ${options.name}`, options, maxSeries, [], hooks);
    if (options.collect !== undefined && typeof options.collect !== 'function') {
      throw new TypeError(
        `gauge ${options.name}: collect must be a function, received ${String(options.collect)}`,
      );
    }
    this.collect = options.collect;
  }

  /**
   * Sets the series of `labels` (pass `undefined` for no labels) to `value`.
   * @throws {TypeError} when a new label set uses an invalid or undeclared label name.
   */
  set(labels: Labels | undefined, value: number): void {
    if (value - value === 0) this.seriesFor(labels).value = value;
    else this.invalidValues++;
  }

  /** Adds `value` (default 1) to the series of `labels`. */
  inc(labels?: Labels, value = 1): void {
    if (value - value === 0) this.seriesFor(labels).value += value;
    else this.invalidValues++;
  }

  /** Subtracts `value` (default 1) from the series of `labels`. */
  dec(labels?: Labels, value = 1): void {
    if (value - value === 0) this.seriesFor(labels).value -= value;
    else this.invalidValues++;
  }

  /** The series of `labels`, created if needed, to update without a lookup. */
  labels(labels: Labels): BoundGauge {
    return this.seriesFor(labels);
  }

  /** Current value of the series of `labels`; `0` when it does not exist. */
  get(labels?: Labels): number {
    return this.lookup(labels)?.value ?? 0;
  }

  /** Zeroes every series in place (bound children stay valid). */
  reset(): void {
    for (const s of this.all()) s.value = 0;
    this.invalidValues = 0;
  }

  protected create(labels: SeriesLabels): GaugeSeries {
    return new GaugeSeries(labels, this);
  }
}
