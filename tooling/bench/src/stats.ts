/**
 * Exact statistics over measured samples. Benchmarks keep every sample (they are few: one per call), so
 * percentiles here are exact, computed on a sorted copy with linear interpolation between ranks.
 */

/** Summary of a list of samples. */
export interface SampleSummary {
  count: number;
  mean: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of `sorted` (ascending) with linear interpolation between closest ranks
 * (the "R-7" / NumPy default definition).
 * @throws {RangeError} when `sorted` is empty or `q` is outside [0, 1].
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of an empty sample');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile q must be within [0, 1], received ${q}`);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

/** The q-quantile of unsorted samples (copies, never mutates the input). */
export function quantile(samples: ArrayLike<number>, q: number): number {
  return quantileSorted(Float64Array.from(samples).sort(), q);
}

/** Mean, min, max and p50/p95/p99 of the samples. @throws {RangeError} when empty. */
export function summarize(samples: ArrayLike<number>): SampleSummary {
  if (samples.length === 0) throw new RangeError('summary of an empty sample');
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    mean: sum / sorted.length,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    p50: quantileSorted(sorted, 0.5),
    p95: quantileSorted(sorted, 0.95),
    p99: quantileSorted(sorted, 0.99),
  };
}

/** One measured subject (ours or a peer) as the ratio logic needs it. */
export interface Throughput {
  name: string;
  opsPerSec: number;
}

/** The peer with the highest throughput, or `undefined` when there are none. */
export function bestPeer<T extends Throughput>(peers: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const p of peers) if (!best || p.opsPerSec > best.opsPerSec) best = p;
  return best;
}

/**
 * How many times faster `ours` is than `peer` (ops/s over ops/s). 2 means twice the throughput.
 * @throws {RangeError} when either throughput is not a positive finite number.
 */
export function speedRatio(ours: number, peer: number): number {
  if (!(ours > 0 && Number.isFinite(ours)))
    throw new RangeError(`ours must be a positive ops/s, received ${ours}`);
  if (!(peer > 0 && Number.isFinite(peer)))
    throw new RangeError(`peer must be a positive ops/s, received ${peer}`);
  return ours / peer;
}
