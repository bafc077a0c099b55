/**
 * The rolling window of a CircuitBreaker: a fixed ring of time buckets holding call and failure counts,
 * plus running totals. Recording a call is two array increments; sliding forward clears only the buckets
 * that expired. Nothing is allocated after construction.
 */
export class FailureWindow {
  /** Calls in the window. */
  calls = 0;
  /** Failures in the window. */
  failures = 0;
  private readonly bucketMs: number;
  private readonly callCounts: Float64Array;
  private readonly failureCounts: Float64Array;
  // Absolute bucket number (time / bucketMs) that `index` holds, and its time span.
  private epoch = Number.NEGATIVE_INFINITY;
  private index = 0;
  private bucketStart = Number.POSITIVE_INFINITY;
  private bucketEnd = Number.NEGATIVE_INFINITY;

  constructor(windowMs: number, buckets: number) {
    this.bucketMs = windowMs / buckets;
    this.callCounts = new Float64Array(buckets);
    this.failureCounts = new Float64Array(buckets);
  }

  /** Counts one call that ended at `now` (ms, monotonic). */
  record(now: number, failed: boolean): void {
    if (now >= this.bucketEnd || now < this.bucketStart) this.advance(now);
    this.callCounts[this.index]!++;
    this.calls++;
    if (failed) {
      this.failureCounts[this.index]!++;
      this.failures++;
    }
  }

  /** Counts `n` successful calls at `now` (a group the breaker placed with one clock read). */
  recordSuccesses(now: number, n: number): void {
    if (now >= this.bucketEnd || now < this.bucketStart) this.advance(now);
    this.callCounts[this.index]! += n;
    this.calls += n;
  }

  /** Slides the window to `now`, dropping buckets that fell out of it. */
  advance(now: number): void {
    const epoch = Math.floor(now / this.bucketMs);
    const steps = epoch - this.epoch;
    if (steps === 0) return;
    const n = this.callCounts.length;
    if (steps < 0 || steps >= n) {
      // Everything expired (or the clock went back, which only a test clock does): start empty.
      this.reset();
    } else {
      for (let k = 1; k <= steps; k++) {
        const i = (this.index + k) % n;
        this.calls -= this.callCounts[i]!;
        this.failures -= this.failureCounts[i]!;
        this.callCounts[i] = 0;
        this.failureCounts[i] = 0;
      }
    }
    this.epoch = epoch;
    this.index = epoch % n;
    this.bucketStart = epoch * this.bucketMs;
    this.bucketEnd = this.bucketStart + this.bucketMs;
  }

  /** Empties every bucket. */
  reset(): void {
    this.callCounts.fill(0);
    this.failureCounts.fill(0);
    this.calls = 0;
    this.failures = 0;
  }
}
