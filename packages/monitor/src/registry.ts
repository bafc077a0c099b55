/**
 * The registry: owns metric families and pulled {@link MetricsSource}s, and produces the read-time view
 * every exporter (JSON snapshot, Prometheus, OpenTelemetry) is built from.
 */
import { Counter, type CounterOptions } from './counter';
import type { FamilyHooks, MetricOptions, MetricType } from './family';
import { Gauge, type GaugeOptions } from './gauge';
import type { HistogramSnapshot } from './histogram';
import { HistogramMetric, type HistogramMetricOptions, type HistogramSeries } from './histogram-metric';
import { checkMetricName, type Labels, type SeriesLabels } from './labels';
import type { MetricsSource } from './source';
import { SourceSet, valueView } from './source-set';

/** Any metric family a registry holds. */
export type Metric = Counter | Gauge | HistogramMetric;

/** Options of {@link MetricsRegistry}. */
export interface MetricsRegistryOptions {
  /**
   * Default cardinality cap of every family (see {@link MetricOptions.maxSeries}).
   * @default 1000
   */
  maxSeriesPerMetric?: number;
}

/** A series holding one number (counter, gauge, or a flattened source leaf). */
export interface ValueSeries {
  readonly labels: SeriesLabels;
  readonly value: number;
}

/** The read-time view of one family that exporters consume; live families satisfy it directly. */
export type CollectedMetric =
  | {
      readonly type: 'counter' | 'gauge';
      readonly name: string;
      readonly help: string;
      series(): Iterable<ValueSeries>;
    }
  | {
      readonly type: 'histogram';
      readonly name: string;
      readonly help: string;
      readonly buckets: readonly number[];
      series(): Iterable<HistogramSeries>;
    };

/** JSON form of a counter or gauge family. */
export interface ValueMetricSnapshot {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  series: Array<{ labels: Record<string, string>; value: number }>;
}

/** JSON form of a histogram family. */
export interface HistogramMetricSnapshot {
  name: string;
  type: 'histogram';
  help: string;
  series: Array<{ labels: Record<string, string>; histogram: HistogramSnapshot }>;
}

/** JSON form of one family, as returned by {@link MetricsRegistry.snapshot}. */
export type MetricSnapshot = ValueMetricSnapshot | HistogramMetricSnapshot;

/**
 * Name of the counter of new label sets folded into an overflow series, labelled by `metric`: it grows
 * by one per call that resolved an unseen label set past the cap (each observation, or each `labels()`
 * bind), since remembering which sets were dropped would itself need unbounded memory.
 */
export const DROPPED_SERIES_METRIC = 'perf_metrics_dropped_series_total';
/** Name of the counter of throwing `stats()`/`collect` callbacks, labelled by `source`. */
export const SOURCE_ERRORS_METRIC = 'perf_metrics_source_errors_total';
/** Name of the counter of ignored NaN/negative/infinite values, labelled by `metric`. */
export const INVALID_VALUES_METRIC = 'perf_metrics_invalid_values_total';

/**
 * A set of metric families and pulled sources. Families are created (or fetched, idempotently) by name;
 * sources are read only when the registry is read, so an idle registry costs nothing.
 *
 * Three families describe the registry itself: {@link DROPPED_SERIES_METRIC} (observations folded into
 * `{overflow="true"}` series: counting distinct dropped sets would itself need unbounded memory),
 * {@link SOURCE_ERRORS_METRIC} and {@link INVALID_VALUES_METRIC}.
 *
 * @example
 * const registry = new MetricsRegistry();
 * const latency = registry.histogram({ name: 'http_request_ms', help: 'Request time in ms', labelNames: ['route'] });
 * latency.record({ route: '/users/:id' }, 12.3);
 * registry.registerSource('db_pool', pool);  // pool.stats().waiting → gauge db_pool_waiting
 * registry.snapshot();                       // plain JSON of every series
 *
 * @throws {RangeError} from the constructor when `maxSeriesPerMetric` is not an integer ≥ 1.
 */
export class MetricsRegistry {
  /** Default cardinality cap of new families. */
  readonly maxSeriesPerMetric: number;
  /** Observations folded into overflow series, by `metric`. */
  readonly droppedSeries: Counter;
  /** Throwing `stats()` / gauge `collect` callbacks, by `source`. */
  readonly sourceErrors: Counter;

  private readonly families = new Map<string, Metric>();
  /** Every exposition name (including `_bucket`, `_sum`, ...) → the family that owns it. */
  private readonly claimed = new Map<string, string>();
  private readonly sources = new SourceSet();
  private readonly hooks: FamilyHooks;

  constructor(options: MetricsRegistryOptions = {}) {
    this.maxSeriesPerMetric = checkMaxSeries(
      'MetricsRegistry',
      'maxSeriesPerMetric',
      options.maxSeriesPerMetric ?? 1000,
    );
    this.hooks = { onOverflow: (family) => this.droppedSeries.inc({ metric: family.name }) };
    this.droppedSeries = this.counter({
      name: DROPPED_SERIES_METRIC,
      help: 'Observations of new label sets folded into the {overflow="true"} series past the cardinality cap',
      labelNames: ['metric'],
      maxSeries: 100_000,
    });
    this.sourceErrors = this.counter({
      name: SOURCE_ERRORS_METRIC,
      help: 'Metrics sources whose stats() or gauge collect callbacks threw at read time',
      labelNames: ['source'],
      maxSeries: 100_000,
    });
    this.claim(INVALID_VALUES_METRIC, [INVALID_VALUES_METRIC]);
  }

  /**
   * The counter family `options.name`, created on first call. Calling again with the same name and
   * label names returns the same family.
   * @throws {TypeError} on an invalid name/label name, or when the name is taken by another type or
   * other label names. @throws {RangeError} when `maxSeries` is not an integer ≥ 1.
   */
  counter(options: CounterOptions): Counter {
    return this.register('counter', options, (max) => new Counter(options, max, this.hooks));
  }

  /** The gauge family `options.name`, created on first call (see {@link MetricsRegistry.counter}). */
  gauge(options: GaugeOptions): Gauge {
    return this.register('gauge', options, (max) => new Gauge(options, max, this.hooks));
  }

  /**
   * The histogram family `options.name`, created on first call (see {@link MetricsRegistry.counter}).
   * It also claims `<name>_bucket`, `_sum`, `_count` and `_quantiles`.
   * @throws {RangeError} also for a bad `relativeAccuracy`, `maxBuckets` or unsorted `buckets`.
   */
  histogram(options: HistogramMetricOptions): HistogramMetric {
    return this.register('histogram', options, (max) => new HistogramMetric(options, max, this.hooks));
  }

  /** The family named `name`, if registered. */
  get(name: string): Metric | undefined {
    return this.families.get(name);
  }

  /** Unregisters the family `name` (the registry's own families cannot be removed). */
  remove(name: string): boolean {
    const family = this.families.get(name);
    if (family === undefined || family === this.droppedSeries || family === this.sourceErrors) return false;
    this.families.delete(name);
    for (const [claimedName, owner] of this.claimed) if (owner === name) this.claimed.delete(claimedName);
    return true;
  }

  /** Every registered family, in registration order (the registry's own families first). */
  metrics(): IterableIterator<Metric> {
    return this.families.values();
  }

  /**
   * Registers a pulled source: at read time `source.stats()` is flattened (see {@link flattenStats}) and
   * each numeric leaf becomes a gauge `<name>_<path>` carrying `labels`. Registering a name again
   * replaces the previous source. A throwing `stats()` is counted in {@link SOURCE_ERRORS_METRIC} and
   * skipped for that read.
   * @throws {TypeError} when `name` is not a valid metric name, `source` has no `stats()`, or a label
   * name is invalid.
   */
  registerSource(name: string, source: MetricsSource, labels?: Labels): void {
    this.sources.register(name, source, labels);
  }

  /** Removes the source registered as `name`; returns whether there was one. */
  unregisterSource(name: string): boolean {
    return this.sources.unregister(name);
  }

  /**
   * Reads everything: runs gauge `collect` callbacks, flattens sources and returns the live view
   * exporters format. Callback and source failures are counted, never thrown.
   */
  collect(): CollectedMetric[] {
    const out: CollectedMetric[] = [];
    for (const family of this.families.values()) {
      if (family.type === 'gauge' && family.collect !== undefined) {
        try {
          family.collect(family);
        } catch {
          this.sourceErrors.inc({ source: family.name });
        }
      }
    }
    const fromSources = this.sources.collect(
      (metric) => this.claimed.has(metric),
      (source) => this.sourceErrors.inc({ source }),
    );
    const invalid: ValueSeries[] = [];
    for (const family of this.families.values()) {
      out.push(family);
      const n = family.invalidValues;
      if (n > 0) invalid.push({ labels: Object.freeze({ metric: family.name }), value: n });
    }
    out.push(...fromSources);
    out.push(
      valueView(
        'counter',
        INVALID_VALUES_METRIC,
        'Values ignored because NaN, negative or infinite',
        invalid,
      ),
    );
    return out;
  }

  /** Plain JSON of every series of every family and source, as read now. */
  snapshot(): MetricSnapshot[] {
    return this.collect().map((m): MetricSnapshot => {
      if (m.type === 'histogram') {
        const series = [...m.series()].map((s) => ({ labels: { ...s.labels }, histogram: s.snapshot() }));
        return { name: m.name, type: m.type, help: m.help, series };
      }
      const series = [...m.series()].map((s) => ({ labels: { ...s.labels }, value: s.value }));
      return { name: m.name, type: m.type, help: m.help, series };
    });
  }

  /** Zeroes every series of every family in place (families, bound children and sources stay). */
  reset(): void {
    for (const family of this.families.values()) family.reset();
  }

  /** Unregisters every family and source, and zeroes the registry's own counters. */
  clear(): void {
    for (const name of [...this.families.keys()]) this.remove(name);
    this.sources.clear();
    this.droppedSeries.reset();
    this.sourceErrors.reset();
  }

  private register<M extends Metric>(
    type: MetricType,
    options: MetricOptions,
    make: (maxSeries: number) => M,
  ): M {
    const owner = `MetricsRegistry.${type}`;
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`${owner}: options must be an object, received ${String(options)}`);
    }
    const name = checkMetricName(owner, 'name', options.name);
    if (typeof options.help !== 'string') {
      throw new TypeError(`${owner}: help of "${name}" must be a string, received ${String(options.help)}`);
    }
    const existing = this.families.get(name);
    if (existing !== undefined) {
      if (existing.type !== type) {
        throw new TypeError(`${owner}: "${name}" is already registered as a ${existing.type}`);
      }
      if (!sameNames(existing.labelNames, options.labelNames)) {
        throw new TypeError(
          `${owner}: "${name}" is already registered with labelNames [${existing.labelNames?.join(', ') ?? ''}]`,
        );
      }
      return existing as M;
    }
    const maxSeries = checkMaxSeries(owner, 'maxSeries', options.maxSeries ?? this.maxSeriesPerMetric);
    const names =
      type === 'histogram'
        ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`, `${name}_quantiles`]
        : [name];
    for (const n of names) {
      const holder = this.claimed.get(n);
      if (holder !== undefined)
        throw new TypeError(`${owner}: "${name}" collides with "${n}" of metric "${holder}"`);
    }
    const family = make(maxSeries);
    this.families.set(name, family);
    this.claim(name, names);
    return family;
  }

  private claim(owner: string, names: readonly string[]): void {
    for (const n of names) this.claimed.set(n, owner);
  }
}

function sameNames(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

function checkMaxSeries(owner: string, option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`${owner}: ${option} must be an integer >= 1, received ${String(value)}`);
  }
  return value;
}
