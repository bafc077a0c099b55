/**
 * The part every labelled metric shares: turning caller labels into a series, fast. A family keeps one
 * `Map` from a label key string to its series object; the key is built from the label values only, in a
 * form that cannot collide, so a hit costs one property read, one string check and one `Map.get`. Misses
 * (new label sets) take the slow path that validates, normalises and enforces the cardinality cap.
 */
import {
  checkLabelName,
  type Labels,
  labelValue,
  MAX_LABEL_VALUE_LENGTH,
  normaliseLabels,
  type SeriesLabels,
} from './labels';

/** The kind of a metric family, as in the Prometheus data model. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Options every metric family takes. */
export interface MetricOptions {
  /** Metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*` (e.g. `http_requests_total`). */
  name: string;
  /** One line saying what is measured and in which unit; shown as `# HELP`. */
  help: string;
  /**
   * The label names this family accepts, in exposition order. Declaring them is the fast path: the key
   * is built from these properties only, and any other property throws a TypeError naming it. A declared
   * label that is missing (or `undefined`, or `''`) is absent from the series. When `labelNames` is
   * omitted, any valid label names are accepted, in any order (the set is canonicalised per new series),
   * which costs a little more per call.
   */
  labelNames?: readonly string[];
  /**
   * Most distinct label sets kept. Past it, new label sets are folded into one `{overflow="true"}` series
   * and `perf_metrics_dropped_series_total{metric=...}` is incremented, so memory stays bounded whatever
   * the input (an unbounded label such as a raw URL or a user id cannot exhaust the heap).
   * @default 1000 (the registry's `maxSeriesPerMetric`)
   */
  maxSeries?: number;
}

/** A stored series: its labels plus whatever value the family keeps. */
export interface Series {
  /** The normalised labels of this series (`{ overflow: 'true' }` for the overflow series). */
  readonly labels: SeriesLabels;
}

/** @internal Callbacks from a family to the registry that owns it. */
export interface FamilyHooks {
  /** A new label set was folded into the overflow series. */
  onOverflow(family: MetricFamily<Series>): void;
}

/** The labels of the series that receives label sets past the cardinality cap. */
export const OVERFLOW_LABELS: SeriesLabels = Object.freeze({ overflow: 'true' });

const NONE = 0;
const ONE = 1;
const MANY = 2;
const FREE = 3;
/** Bound on cached non-canonical label orders of a free-form family (beyond it, they are re-sorted). */
const ALIAS_FACTOR = 4;
const MAX_KNOWN_NAMES = 1024;

/**
 * Base of {@link Counter}, {@link Gauge} and {@link HistogramMetric}: label handling, the series map
 * and the cardinality cap. Create families through a `MetricsRegistry`, not directly.
 */
export abstract class MetricFamily<S extends Series> {
  /** `counter`, `gauge` or `histogram`. */
  abstract readonly type: MetricType;
  /** The metric name. */
  readonly name: string;
  /** The `# HELP` text. */
  readonly help: string;
  /** Declared label names, or `undefined` for a free-form family. */
  readonly labelNames: readonly string[] | undefined;
  /** Cardinality cap of this family. */
  readonly maxSeries: number;

  private readonly map = new Map<string, S>();
  private readonly list: S[] = [];
  private readonly mode: number;
  private readonly first: string;
  private readonly reserved: readonly string[];
  private readonly known = new Set<string>();
  private aliases = 0;
  private overflowSeries: S | undefined;

  protected constructor(
    owner: string,
    options: MetricOptions,
    maxSeries: number,
    reserved: readonly string[],
    private readonly hooks: FamilyHooks | undefined,
  ) {
    this.name = options.name;
    this.help = options.help;
    this.maxSeries = maxSeries;
    this.reserved = reserved;
    const names = options.labelNames;
    if (names !== undefined) {
      if (!Array.isArray(names)) throw new TypeError(`${owner}: labelNames must be an array of strings`);
      for (const n of names) checkLabelName(owner, n, reserved);
      if (new Set(names).size !== names.length) {
        throw new TypeError(`${owner}: labelNames has duplicates: [${names.join(', ')}]`);
      }
      this.labelNames = Object.freeze([...names]);
    } else this.labelNames = undefined;
    this.mode = names === undefined ? FREE : names.length === 0 ? NONE : names.length === 1 ? ONE : MANY;
    this.first = names?.[0] ?? '';
  }

  /** Number of distinct label sets stored (the overflow series excluded). */
  get seriesCount(): number {
    return this.list.length;
  }

  /** Every stored series, then the overflow series if any label set was folded. */
  *series(): IterableIterator<S> {
    yield* this.list;
    if (this.overflowSeries !== undefined) yield this.overflowSeries;
  }

  /**
   * Forgets the series of `labels`. Bound children obtained for it keep working but are no longer
   * exported. Returns whether a series was removed.
   */
  remove(labels?: Labels): boolean {
    const s = this.lookup(labels);
    if (s === undefined) return false;
    let keys = 0;
    for (const [key, value] of this.map) {
      if (value !== s) continue;
      this.map.delete(key);
      keys++;
    }
    this.aliases -= keys - 1;
    this.list.splice(this.list.indexOf(s), 1);
    return true;
  }

  /** Zeroes every series in place (bound children stay valid) and the invalid-value count. */
  abstract reset(): void;

  /** Values the family ignored because they were NaN, negative (counters, histograms) or infinite. */
  abstract readonly invalidValues: number;

  /** Builds the value holder of a new series. */
  protected abstract create(labels: SeriesLabels): S;

  /** The series of `labels`, created on first use (hot path). */
  protected seriesFor(labels: Labels | undefined): S {
    let key: string;
    if (this.mode === ONE) {
      const v = labels === undefined ? undefined : labels[this.first];
      key = typeof v === 'string' ? v : v === undefined ? '' : String(v);
      if (key.length > MAX_LABEL_VALUE_LENGTH) key = key.slice(0, MAX_LABEL_VALUE_LENGTH);
    } else key = this.keyOf(labels);
    const s = this.map.get(key);
    if (s === undefined) return this.miss(key, labels);
    if (this.mode !== FREE && labels !== undefined) this.checkDeclared(labels);
    return s;
  }

  /** Undeclared label names throw even when the declared values hit an existing series. */
  private checkDeclared(labels: Labels): void {
    if (this.mode === ONE) {
      for (const name in labels) if (name !== this.first) this.undeclared(name);
      return;
    }
    for (const name in labels) if (!this.labelNames!.includes(name)) this.undeclared(name);
  }

  private undeclared(name: string): never {
    throw new TypeError(
      `metric ${this.name}: label "${name}" is not one of the declared labelNames [${this.labelNames!.join(', ')}]`,
    );
  }

  /** The existing series of `labels`, without creating one. */
  protected lookup(labels: Labels | undefined): S | undefined {
    const s = this.map.get(this.keyOf(labels));
    if (s !== undefined || this.mode !== FREE || labels === undefined) return s;
    return this.map.get(this.keyOf(labels, true));
  }

  /** Every stored series including the overflow one, for resets. */
  protected all(): S[] {
    return this.overflowSeries === undefined ? this.list : [...this.list, this.overflowSeries];
  }

  /**
   * The map key of a label set. Values are length-prefixed (`3:GET`), so no value can forge another
   * set's key; free-form keys also carry the (validated) names, sorted when `canonical`.
   */
  private keyOf(labels: Labels | undefined, canonical = false): string {
    if (labels === undefined || this.mode === NONE) return '';
    if (this.mode === ONE) return labelValue(labels[this.first]);
    let key = '';
    if (this.mode === MANY) {
      for (const name of this.labelNames!) {
        const v = labelValue(labels[name]);
        key += `${v.length}:${v}`;
      }
      return key;
    }
    if (canonical) {
      for (const name of Object.keys(labels).sort()) {
        if (!this.known.has(name)) this.learn(name);
        const v = labelValue(labels[name]);
        if (v !== '') key += `${name}=${v.length}:${v}`;
      }
      return key;
    }
    // for-in rather than Object.keys: no array allocation on the hot path.
    for (const name in labels) {
      if (!this.known.has(name)) this.learn(name);
      const v = labelValue(labels[name]);
      if (v !== '') key += `${name}=${v.length}:${v}`;
    }
    return key;
  }

  /** Validates a free-form label name once, so later calls only pay a `Set.has`. */
  private learn(name: string): void {
    checkLabelName(`metric ${this.name}`, name, this.reserved);
    if (this.known.size < MAX_KNOWN_NAMES) this.known.add(name);
  }

  /** Slow path: a label set not seen before (or not in this order). */
  private miss(key: string, labels: Labels | undefined): S {
    if (this.mode === FREE && labels !== undefined) {
      const canonical = this.keyOf(labels, true);
      if (canonical !== key) {
        const existing = this.map.get(canonical);
        if (existing !== undefined) {
          if (this.aliases < this.maxSeries * ALIAS_FACTOR) {
            this.aliases++;
            this.map.set(key, existing);
          }
          return existing;
        }
      }
    }
    const normalised = normaliseLabels(`metric ${this.name}`, labels, this.labelNames, this.reserved);
    if (this.list.length >= this.maxSeries) {
      this.overflowSeries ??= this.create(OVERFLOW_LABELS);
      this.hooks?.onOverflow(this);
      return this.overflowSeries;
    }
    const s = this.create(normalised);
    this.list.push(s);
    this.map.set(key, s);
    if (this.mode === FREE && labels !== undefined) {
      const canonical = this.keyOf(labels, true);
      if (canonical !== key) this.map.set(canonical, s);
    }
    return s;
  }
}
