import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PerformanceMonitor, ResourceSampler, toPrometheus } from '../src/index';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const samplers: ResourceSampler[] = [];
function create(options?: ConstructorParameters<typeof ResourceSampler>[0]): ResourceSampler {
  const s = new ResourceSampler(options);
  samplers.push(s);
  return s;
}
afterEach(() => {
  for (const s of samplers.splice(0)) s.stop();
  vi.useRealTimers();
});

/** Burns at least `ms` of CPU time on this thread. */
function burnCpu(ms: number): void {
  const start = process.cpuUsage();
  let x = 0;
  while (true) {
    for (let i = 0; i < 10_000; i++) x += Math.sqrt(i);
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) break;
  }
  if (x < 0) throw new Error('unreachable');
}

describe('ResourceSampler', () => {
  it('reads memory and CPU without being started; event-loop fields stay 0', () => {
    const s = create();
    const r = s.sample();
    expect(s.running).toBe(false);
    expect(r.rssBytes).toBeGreaterThan(r.heapUsedBytes);
    expect(r.heapTotalBytes).toBeGreaterThanOrEqual(r.heapUsedBytes);
    expect(r.externalBytes).toBeGreaterThanOrEqual(r.arrayBuffersBytes);
    expect(r.cpuPercent).toBeGreaterThan(0);
    expect(r.cpuPercent).toBeCloseTo(r.cpuUserPercent + r.cpuSystemPercent, 6);
    expect(r.activeHandles).toBe(process.getActiveResourcesInfo().length);
    expect([r.eventLoopDelayP50Ms, r.eventLoopDelayP99Ms, r.eventLoopDelayMaxMs, r.gcCount]).toEqual([
      0, 0, 0, 0,
    ]);
    for (const v of Object.values(r)) expect(Number.isFinite(v)).toBe(true);
  });

  it('measures the CPU time burned during the interval', () => {
    const s = create();
    s.start();
    s.sample();
    burnCpu(60);
    const r = s.sample();
    // CPU ms in the interval = cpuPercent × intervalMs / 100; at least what was burned.
    expect((r.cpuPercent * r.intervalMs) / 100).toBeGreaterThanOrEqual(59);
  });

  it('sees an event-loop stall in the delay max and the utilization', async () => {
    const s = create({ eventLoopResolutionMs: 10 });
    s.start();
    await new Promise((resolve) => setTimeout(resolve, 30));
    s.sample();
    // After a sample the probe restarts; its first tick only sets a baseline (see the note in sampler.ts).
    await new Promise((resolve) => setTimeout(resolve, 30));
    const until = performance.now() + 120;
    while (performance.now() < until) {
      // block the loop
    }
    await new Promise((resolve) => setTimeout(resolve, 30));
    const r = s.sample();
    expect(r.eventLoopDelayMaxMs).toBeGreaterThan(60);
    expect(r.eventLoopDelayP99Ms).toBeLessThanOrEqual(r.eventLoopDelayMaxMs + 1e-9);
    expect(r.eventLoopUtilization).toBeGreaterThan(0.3);
    // The histogram restarts each interval: the next sample no longer holds the stall.
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(s.sample().eventLoopDelayMaxMs).toBeLessThan(60);
  });

  it('observes garbage collections by kind while started, and stops observing after stop()', async () => {
    const seen: string[] = [];
    const s = create({ onGc: (kind, ms) => seen.push(`${kind}:${ms >= 0}`) });
    s.start();
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const r = s.sample();
    expect(r.gcCount).toBeGreaterThanOrEqual(1);
    expect(r.gcPauseMs).toBeGreaterThan(0);
    expect(seen).toContain('major:true');
    s.stop();
    const before = seen.length;
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen.length).toBe(before);
    expect(s.sample().gcCount).toBe(0);
  });

  it('rejects a bad resolution', () => {
    expect(() => new ResourceSampler({ eventLoopResolutionMs: 0 })).toThrow(RangeError);
    expect(() => new ResourceSampler({ eventLoopResolutionMs: 2.5 })).toThrow(/eventLoopResolutionMs/);
  });
});

describe('PerformanceMonitor sampling', () => {
  it('samples on its interval (default 10 s) with fake timers', () => {
    vi.useFakeTimers();
    const m = new PerformanceMonitor();
    expect(m.sampleIntervalMs).toBe(10_000);
    m.start();
    vi.advanceTimersByTime(9_999);
    expect(m.stats().samples).toBe(0);
    vi.advanceTimersByTime(50_001);
    expect(m.stats().samples).toBe(6);
    m.close();
  });

  it('exports resource gauges only once a sample was taken', () => {
    const m = new PerformanceMonitor();
    expect(toPrometheus(m.registry)).not.toContain('perf_process_cpu_percent');
    const r = m.sample();
    const text = toPrometheus(m.registry);
    expect(text).toMatch(/^perf_process_cpu_percent\{mode="total"\} [0-9.e+-]+$/m);
    expect(text).toContain(`perf_process_memory_bytes{type="rss"} ${r.rssBytes}`);
    expect(text).toMatch(/^perf_event_loop_delay_ms\{stat="p99"\} /m);
    expect(text).toMatch(/^perf_event_loop_utilization /m);
    expect(text).toMatch(/^perf_active_handles /m);
    m.close();
  });

  it('records GC pauses into perf_gc_pause_ms{kind}', async () => {
    const m = new PerformanceMonitor().start();
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    m.close();
    expect(m.metrics.gcPause.get({ kind: 'major' })?.count).toBeGreaterThanOrEqual(1);
    expect(toPrometheus(m.registry)).toMatch(/^perf_gc_pause_ms_count\{kind="major"\} [1-9]/m);
  });
});
