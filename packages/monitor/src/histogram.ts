/** Options for {@link Histogram}. */
export interface HistogramOptions {
  /**
   * Relative-error guarantee of every reported quantile: the value returned is within
   * `relativeAccuracy × true value` of a recorded value of that rank (DDSketch). Between 0 and 0.5 exclusive.
   * @default 0.01
   */
  relativeAccuracy?: number;
  /**
   * Most log buckets kept (8 bytes each). When the recorded range needs more, the lowest buckets are
   * folded together, so memory stays bounded and only the lowest quantiles lose accuracy. With 1%
   * accuracy this happens only past a 1e35 ratio of max to min; with 0.1% past a ratio of about 3,600.
   * @default 4096
   */
  maxBuckets?: number;
}

/** A point-in-time summary of a {@link Histogram}: plain and JSON-serialisable. */
export interface HistogramSnapshot {
  count: number;
  sum: number;
  /** `0` when empty. */
  min: number;
  /** `0` when empty. */
  max: number;
  /** `0` when empty. */
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
}

/** The serialised form of a {@link Histogram}, for merging across processes. */
export interface HistogramJSON {
  relativeAccuracy: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  zeroCount: number;
  invalid: number;
  /** Index of the first entry of `counts`. */
  offset: number;
  counts: number[];
  /** The bucket bound of the source histogram; absent in JSON from older versions (then 4096). */
  maxBuckets?: number;
}

/** Values below this are counted in the zero bucket (they would need absurdly many log buckets). */
const MIN_INDEXABLE = 1e-9;
const QUANTILES = [0.5, 0.9, 0.95, 0.99] as const;

/**
 * A log-bucketed histogram with a relative-error guarantee (DDSketch-style), bounded memory, and exact
 * count/sum/min/max. Recording is a logarithm and an array increment; reading walks the buckets and never
 * sorts samples. Histograms with the same `relativeAccuracy` merge exactly.
 *
 * Only finite values ≥ 0 are recorded; NaN, negative and infinite values are ignored and counted in
 * {@link Histogram.invalid} so that one bad measurement cannot poison the summary.
 *
 * @example
 * const h = new Histogram();           // 1% relative error
 * h.record(12.5);                      // e.g. a duration in ms
 * h.percentile(0.99);                  // within 1% of the true p99
 * h.snapshot();                        // { count, sum, min, max, mean, p50, p90, p95, p99 }
 *
 * @throws {RangeError} from the constructor when `relativeAccuracy` is not in (0, 0.5) or `maxBuckets` < 16.
 */
export class Histogram {
  /** Number of values recorded (invalid ones excluded). */
  count = 0;
  /** Sum of the recorded values. */
  sum = 0;
  /** Smallest recorded value, `Infinity` when empty. */
  min = Number.POSITIVE_INFINITY;
  /** Largest recorded value, `-Infinity` when empty. */
  max = Number.NEGATIVE_INFINITY;
  /** Values rejected by {@link Histogram.record}: NaN, negative or infinite. */
  invalid = 0;
  /** The relative-error guarantee this histogram was built with. */
  readonly relativeAccuracy: number;

  private readonly gamma: number;
  private readonly multiplier: number;
  private readonly maxBuckets: number;
  private zeroCount = 0;
  private offset = 0;
  private counts: Float64Array = new Float64Array(0);

  constructor(options: HistogramOptions = {}) {
    const accuracy = options.relativeAccuracy ?? 0.01;
    if (!(accuracy > 0 && accuracy < 0.5)) {
      throw new RangeError(`Histogram: relativeAccuracy must be in (0, 0.5), received ${String(accuracy)}`);
    }
    const maxBuckets = options.maxBuckets ?? 4096;
    if (!Number.isInteger(maxBuckets) || maxBuckets < 16) {
      throw new RangeError(`Histogram: maxBuckets must be an integer >= 16, received ${String(maxBuckets)}`);
    }
    this.relativeAccuracy = accuracy;
    this.gamma = (1 + accuracy) / (1 - accuracy);
    this.multiplier = 1 / Math.log(this.gamma);
    this.maxBuckets = maxBuckets;
  }

  /** Records one value. Invalid values (NaN, negative, ±Infinity) are counted in `invalid` and skipped. */
  record(value: number): void {
    if (!(value >= 0) || value === Number.POSITIVE_INFINITY) {
      this.invalid++;
      return;
    }
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (value < MIN_INDEXABLE) {
      this.zeroCount++;
      return;
    }
    const index = Math.ceil(Math.log(value) * this.multiplier);
    const slot = index - this.offset;
    if (slot >= 0 && slot < this.counts.length) this.counts[slot]!++;
    else this.addAt(index, 1);
  }

  /** The value at quantile `q` (0..1), within `relativeAccuracy` of the true one; `0` when empty. */
  percentile(q: number): number {
    if (!(q >= 0 && q <= 1))
      throw new RangeError(`Histogram.percentile: q must be in [0, 1], received ${String(q)}`);
    if (this.count === 0) return 0;
    return this.quantiles([q])[0]!;
  }

  /** Count, sum, min, max, mean and p50/p90/p95/p99 in one pass over the buckets. */
  snapshot(): HistogramSnapshot {
    if (this.count === 0)
      return { count: 0, sum: 0, min: 0, max: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0 };
    const [p50, p90, p95, p99] = this.quantiles(QUANTILES);
    return {
      count: this.count,
      sum: this.sum,
      min: this.min,
      max: this.max,
      mean: this.sum / this.count,
      p50: p50!,
      p90: p90!,
      p95: p95!,
      p99: p99!,
    };
  }

  /**
   * Number of recorded values ≤ `bound` (exact for the zero bucket, bucket-granular above it). Used for
   * Prometheus `_bucket{le=...}` series.
   */
  countAtOrBelow(bound: number): number {
    if (this.count === 0 || !(bound >= this.min)) return 0;
    if (bound >= this.max) return this.count;
    let total = this.zeroCount;
    if (bound < MIN_INDEXABLE) return total;
    const last = Math.ceil(Math.log(bound) * this.multiplier) - this.offset;
    const end = Math.min(last, this.counts.length - 1);
    for (let i = 0; i <= end; i++) total += this.counts[i]!;
    return total;
  }

  /**
   * {@link Histogram.countAtOrBelow} for each of `bounds` (ascending) in one walk over the buckets: the
   * cumulative `le` counts of a Prometheus histogram.
   */
  countsAtOrBelow(bounds: readonly number[]): number[] {
    const out = new Array<number>(bounds.length);
    let total = this.zeroCount;
    let next = 0;
    for (let b = 0; b < bounds.length; b++) {
      const bound = bounds[b]!;
      if (this.count === 0 || !(bound >= this.min)) out[b] = 0;
      else if (bound >= this.max) out[b] = this.count;
      else if (bound < MIN_INDEXABLE) out[b] = this.zeroCount;
      else {
        const last = Math.min(
          Math.ceil(Math.log(bound) * this.multiplier) - this.offset,
          this.counts.length - 1,
        );
        while (next <= last) total += this.counts[next++]!;
        out[b] = total;
      }
    }
    return out;
  }

  /**
   * Adds every value recorded in `other` to this histogram (exact: same buckets).
   * @throws {RangeError} when the two were built with different `relativeAccuracy`.
   */
  merge(other: Histogram): this {
    if (other.relativeAccuracy !== this.relativeAccuracy) {
      throw new RangeError(
        `Histogram.merge: relativeAccuracy differs (${this.relativeAccuracy} vs ${other.relativeAccuracy})`,
      );
    }
    if (other.count === 0) {
      this.invalid += other.invalid;
      return this;
    }
    for (let i = 0; i < other.counts.length; i++) {
      const c = other.counts[i]!;
      if (c > 0) this.addAt(other.offset + i, c);
    }
    this.zeroCount += other.zeroCount;
    this.count += other.count;
    this.sum += other.sum;
    this.invalid += other.invalid;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    return this;
  }

  /** Forgets every value (keeps the allocated buckets for reuse). */
  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = Number.NEGATIVE_INFINITY;
    this.invalid = 0;
    this.zeroCount = 0;
    this.counts.fill(0);
  }

  /** A new histogram with the same contents. */
  clone(): Histogram {
    return Histogram.fromJSON(this.toJSON());
  }

  /** Serialisable form; {@link Histogram.fromJSON} restores it exactly (e.g. to merge across workers). */
  toJSON(): HistogramJSON {
    let first = 0;
    let last = this.counts.length - 1;
    while (first <= last && this.counts[first] === 0) first++;
    while (last >= first && this.counts[last] === 0) last--;
    return {
      relativeAccuracy: this.relativeAccuracy,
      count: this.count,
      sum: this.sum,
      min: this.min,
      max: this.max,
      zeroCount: this.zeroCount,
      invalid: this.invalid,
      offset: this.offset + first,
      counts: Array.from(this.counts.subarray(first, last + 1)),
      maxBuckets: this.maxBuckets,
    };
  }

  /**
   * Rebuilds a histogram from {@link Histogram.toJSON} output.
   * @throws {TypeError} when the input is not a serialised histogram.
   */
  static fromJSON(json: HistogramJSON): Histogram {
    const bad = (what: string) =>
      new TypeError(`Histogram.fromJSON: expected the output of Histogram.toJSON() (${what})`);
    if (!json || typeof json !== 'object' || !Array.isArray(json.counts)) throw bad('counts');
    if (!Number.isInteger(json.offset)) throw bad('offset');
    // Validate everything before building, so a corrupt payload cannot yield a histogram full of NaN.
    for (const field of ['count', 'sum', 'zeroCount', 'invalid'] as const) {
      const v = json[field];
      if (typeof v !== 'number' || !(v >= 0) || v === Number.POSITIVE_INFINITY) throw bad(field);
    }
    let total = json.zeroCount;
    for (const c of json.counts) {
      if (typeof c !== 'number' || !(c >= 0) || c === Number.POSITIVE_INFINITY) throw bad('counts');
      total += c;
    }
    if (total !== json.count) throw bad('count does not match the buckets');
    if (json.count > 0 && !(Number.isFinite(json.min) && Number.isFinite(json.max) && json.min <= json.max)) {
      throw bad('min/max');
    }
    const maxBuckets = Math.max(json.maxBuckets ?? 4096, json.counts.length, 16);
    const h = new Histogram({ relativeAccuracy: json.relativeAccuracy, maxBuckets });
    h.counts = Float64Array.from(json.counts);
    h.offset = json.offset;
    h.count = json.count;
    h.sum = json.sum;
    h.min = json.count > 0 ? json.min : Number.POSITIVE_INFINITY;
    h.max = json.count > 0 ? json.max : Number.NEGATIVE_INFINITY;
    h.zeroCount = json.zeroCount;
    h.invalid = json.invalid;
    return h;
  }

  /** The representative value of bucket `index`: within `relativeAccuracy` of every value in it. */
  private bucketValue(index: number): number {
    return (2 * this.gamma ** index) / (this.gamma + 1);
  }

  /** Quantiles for ascending `qs`, one walk over the buckets, clamped to the exact min and max. */
  private quantiles(qs: readonly number[]): number[] {
    const out: number[] = [];
    let qi = 0;
    let cumulative = this.zeroCount;
    const rankOf = (q: number) => q * (this.count - 1);
    while (qi < qs.length && rankOf(qs[qi]!) < cumulative) {
      out.push(this.min < MIN_INDEXABLE ? this.min : 0);
      qi++;
    }
    for (let i = 0; i < this.counts.length && qi < qs.length; i++) {
      cumulative += this.counts[i]!;
      while (qi < qs.length && rankOf(qs[qi]!) < cumulative) {
        out.push(this.clamp(this.bucketValue(this.offset + i)));
        qi++;
      }
    }
    while (qi++ < qs.length) out.push(this.max);
    return out;
  }

  private clamp(v: number): number {
    return Math.min(Math.max(v, this.min), this.max);
  }

  /** Slow path: grows (or folds) the bucket array so that `index` fits, then adds `n` there. */
  private addAt(index: number, n: number): void {
    const len = this.counts.length;
    if (len === 0) {
      this.counts = new Float64Array(64);
      this.offset = index - 32;
    }
    let slot = index - this.offset;
    if (slot < 0 || slot >= this.counts.length) {
      const lo = Math.min(this.offset, index);
      const hi = Math.max(this.offset + this.counts.length - 1, index);
      const needed = hi - lo + 1;
      if (needed <= this.maxBuckets) {
        // Grow with head/tail room so a drifting range does not reallocate on every new bucket.
        const size = Math.min(this.maxBuckets, Math.max(needed, this.counts.length * 2));
        const pad = size - needed;
        const newOffset = index < this.offset ? lo - Math.floor(pad / 2) : lo;
        const next = new Float64Array(size);
        next.set(this.counts, this.offset - newOffset);
        this.counts = next;
        this.offset = newOffset;
      } else {
        // Fold the lowest buckets so the highest (the tail that matters for latency) stay exact.
        const newOffset = hi - this.maxBuckets + 1;
        const next = new Float64Array(this.maxBuckets);
        for (let i = 0; i < this.counts.length; i++) {
          const c = this.counts[i]!;
          if (c === 0) continue;
          const target = Math.max(this.offset + i, newOffset) - newOffset;
          next[target]! += c;
        }
        this.counts = next;
        this.offset = newOffset;
        index = Math.max(index, newOffset);
      }
      slot = index - this.offset;
    }
    this.counts[slot]! += n;
  }
}
