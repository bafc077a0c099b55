/**
 * A distribution (latencies, sizes) per label set, each series a {@link Histogram} sketch.
 */
import { type FamilyHooks, MetricFamily, type MetricOptions, type Series } from './family';
import { Histogram } from './histogram';
import type { Labels, SeriesLabels } from './labels';

/**
 * Prometheus `le` bounds used when none are given, in ms: from 0.5 ms to 10 s, the range of request and
 * query latencies. Quantiles do not depend on them (the sketch keeps 1% accuracy over any range).
 */
export const DEFAULT_BUCKETS_MS: readonly number[] = Object.freeze([
  0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
]);

/** Options of {@link MetricsRegistry.histogram}. */
export interface HistogramMetricOptions extends MetricOptions {
  /**
   * Relative-error guarantee of every quantile of every series, between 0 and 0.5 exclusive.
   * @default 0.01
   */
  relativeAccuracy?: number;
  /**
   * Upper bounds of the cumulative `_bucket{le=...}` series in the Prometheus exposition (a `+Inf`
   * bucket is always added). They only shape the exposition: recording cost and quantile accuracy are
   * the same whatever the bounds, and they can be chosen without knowing the data.
   * @default DEFAULT_BUCKETS_MS (0.5 ms … 10 s)
   */
  buckets?: readonly number[];
  /**
   * Most sketch buckets per series (memory bound; see `HistogramOptions.maxBuckets`).
   * @default 4096
   */
  maxBuckets?: number;
}

/** A histogram bound to one label set. */
export interface BoundHistogram {
  /** Records one value; NaN, negative and infinite values are ignored and counted. */
  record(value: number): void;
}

/** One series of a {@link HistogramMetric}: a {@link Histogram} that knows its labels. */
export class HistogramSeries extends Histogram implements BoundHistogram, Series {
  /** @internal Created by {@link HistogramMetric}. */
  constructor(
    readonly labels: SeriesLabels,
    options: { relativeAccuracy: number; maxBuckets: number },
  ) {
    super(options);
  }
}

/**
 * A histogram family. Create it with {@link MetricsRegistry.histogram}. Exported to Prometheus as a
 * `histogram` (`_bucket`/`_sum`/`_count`) plus a `<name>_quantiles` gauge family with p50/p90/p95/p99.
 *
 * @example
 * const latency = registry.histogram({ name: 'db_query_ms', help: 'Query time in ms', labelNames: ['table'] });
 * latency.record({ table: 'users' }, 3.2);
 * const users = latency.labels({ table: 'users' });   // bind once for the hot path
 * users.record(2.9);
 * latency.get({ table: 'users' })?.percentile(0.99);
 */
export class HistogramMetric extends MetricFamily<HistogramSeries> {
  /** Always `'histogram'`. */
  readonly type = 'histogram' as const;
  /** The relative-error guarantee of every series. */
  readonly relativeAccuracy: number;
  /** The `le` bounds of the exposition, ascending, without `+Inf`. */
  readonly buckets: readonly number[];
  private readonly maxBuckets: number;
  /** Invalid values passed to `record(labels, v)` (those passed to a bound child count in its series). */
  private rejected = 0;

  /** @internal Use {@link MetricsRegistry.histogram}. */
  constructor(options: HistogramMetricOptions, maxSeries: number, hooks?: FamilyHooks) {
    super(`histogram ${options.name}`, options, maxSeries, ['le', 'quantile'], hooks);
    const owner = `histogram ${options.name}`;
    // Validates both numbers with the Histogram's own RangeErrors before any series exists.
    const probe = new Histogram({
      ...(options.relativeAccuracy === undefined ? {} : { relativeAccuracy: options.relativeAccuracy }),
      ...(options.maxBuckets === undefined ? {} : { maxBuckets: options.maxBuckets }),
    });
    this.relativeAccuracy = probe.relativeAccuracy;
    this.maxBuckets = options.maxBuckets ?? 4096;
    this.buckets = checkBuckets(owner, options.buckets ?? DEFAULT_BUCKETS_MS);
  }

  /**
   * Records `value` in the series of `labels` (pass `undefined` for no labels). NaN, negative and
   * infinite values are ignored and counted in that series' `invalid`.
   * @throws {TypeError} when a new label set uses an invalid or undeclared label name.
   */
  record(labels: Labels | undefined, value: number): void {
    // Checked here too so that an invalid value never creates a series.
    if (value >= 0 && value !== Number.POSITIVE_INFINITY) this.seriesFor(labels).record(value);
    else this.rejected++;
  }

  /** The series of `labels`, created if needed, to record into without a lookup. */
  labels(labels: Labels): BoundHistogram {
    return this.seriesFor(labels);
  }

  /** The histogram of `labels` if that series exists (read it, merge it, snapshot it). */
  get(labels?: Labels): Histogram | undefined {
    return this.lookup(labels);
  }

  /** Values rejected across every series (NaN, negative or infinite). */
  get invalidValues(): number {
    let n = this.rejected;
    for (const s of this.series()) n += s.invalid;
    return n;
  }

  /** Empties every series in place (bound children stay valid). */
  reset(): void {
    for (const s of this.all()) s.reset();
    this.rejected = 0;
  }

  protected create(labels: SeriesLabels): HistogramSeries {
    return new HistogramSeries(labels, {
      relativeAccuracy: this.relativeAccuracy,
      maxBuckets: this.maxBuckets,
    });
  }
}

function checkBuckets(owner: string, buckets: readonly number[]): readonly number[] {
  if (!Array.isArray(buckets)) throw new TypeError(`${owner}: buckets must be an array of numbers`);
  const out = buckets.filter((b) => b !== Number.POSITIVE_INFINITY);
  for (let i = 0; i < out.length; i++) {
    const b = out[i];
    if (typeof b !== 'number' || !Number.isFinite(b)) {
      throw new TypeError(`${owner}: buckets must be finite numbers, received ${String(b)}`);
    }
    if (i > 0 && b <= out[i - 1]!) {
      throw new RangeError(`${owner}: buckets must be strictly ascending, received [${buckets.join(', ')}]`);
    }
  }
  return Object.freeze(out);
}
