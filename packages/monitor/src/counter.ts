/**
 * A monotonically increasing count (requests served, errors, bytes sent), per label set.
 */
import { type FamilyHooks, MetricFamily, type MetricOptions, type Series } from './family';
import type { Labels, SeriesLabels } from './labels';

/** Options of {@link MetricsRegistry.counter}. */
export interface CounterOptions extends MetricOptions {}

/** A counter bound to one label set: the fastest way to count on a hot path. */
export interface BoundCounter {
  /**
   * Adds `value` (default 1). NaN, negative and infinite values are ignored and counted in the family's
   * {@link Counter.invalidValues}: a counter only goes up.
   */
  inc(value?: number): void;
}

/** One series of a {@link Counter}: its labels and current value. */
export class CounterSeries implements BoundCounter, Series {
  /** Current total. */
  value = 0;
  /** @internal Created by {@link Counter}. */
  constructor(
    readonly labels: SeriesLabels,
    private readonly family: Counter,
  ) {}

  /** Adds `value` (default 1); NaN, negative and infinite values are ignored and counted. */
  inc(value = 1): void {
    if (value >= 0 && value !== Number.POSITIVE_INFINITY) this.value += value;
    else this.family.invalidValues++;
  }
}

/**
 * A counter family. Create it with {@link MetricsRegistry.counter}; exported to Prometheus as
 * `# TYPE <name> counter` (name it `..._total` by convention).
 *
 * @example
 * const requests = registry.counter({ name: 'http_requests_total', help: 'Requests served', labelNames: ['route'] });
 * requests.inc({ route: '/users/:id' });
 * const users = requests.labels({ route: '/users/:id' }); // bind once...
 * users.inc();                                             // ...then count with no lookup at all
 */
export class Counter extends MetricFamily<CounterSeries> {
  /** Always `'counter'`. */
  readonly type = 'counter' as const;
  /** Values rejected by `inc` (NaN, negative or infinite). */
  invalidValues = 0;

  /** @internal Use {@link MetricsRegistry.counter}. */
  constructor(options: CounterOptions, maxSeries: number, hooks?: FamilyHooks) {
    super(`counter ${options.name}`, options, maxSeries, [], hooks);
  }

  /**
   * Adds `value` (default 1) to the series of `labels`. Invalid values are ignored and counted in
   * {@link Counter.invalidValues}.
   * @throws {TypeError} when a new label set uses an invalid or undeclared label name.
   */
  inc(labels?: Labels, value = 1): void {
    if (value >= 0 && value !== Number.POSITIVE_INFINITY) this.seriesFor(labels).value += value;
    else this.invalidValues++;
  }

  /**
   * The series of `labels`, created if needed, to call `inc` on without a lookup. Past the cardinality
   * cap this is the shared overflow series.
   * @throws {TypeError} when a new label set uses an invalid or undeclared label name.
   */
  labels(labels: Labels): BoundCounter {
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

  protected create(labels: SeriesLabels): CounterSeries {
    return new CounterSeries(labels, this);
  }
}
