import {
  constants,
  type EventLoopUtilization,
  type IntervalHistogram,
  monitorEventLoopDelay,
  type PerformanceEntry,
  PerformanceObserver,
  performance,
} from 'node:perf_hooks';

/**
 * One reading of the process's resources. Rates and event-loop figures cover the interval since the
 * previous reading (the first one covers the time since {@link ResourceSampler.start}, or since process
 * start for a sampler that was never started). Plain and JSON-serialisable.
 */
export interface ResourceSnapshot {
  /** Epoch ms of the reading. */
  timestamp: number;
  /** Length of the interval the rates cover, in ms. */
  intervalMs: number;
  /** CPU time (user + system) over wall time, as % of one core; can exceed 100 with worker threads. */
  cpuPercent: number;
  /** User-mode share of {@link ResourceSnapshot.cpuPercent}. */
  cpuUserPercent: number;
  /** Kernel-mode share of {@link ResourceSnapshot.cpuPercent}. */
  cpuSystemPercent: number;
  /** Resident set size. */
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  /** Memory of C++ objects bound to JS objects (Buffers included). */
  externalBytes: number;
  /** Memory of ArrayBuffers and SharedArrayBuffers (part of `externalBytes`). */
  arrayBuffersBytes: number;
  /** Event-loop delay median over the interval; `0` until sampling was started. */
  eventLoopDelayP50Ms: number;
  /** Event-loop delay p99 over the interval; `0` until sampling was started. */
  eventLoopDelayP99Ms: number;
  /** Worst event-loop delay over the interval; `0` until sampling was started. */
  eventLoopDelayMaxMs: number;
  /** Share of the interval the event loop spent running JS or callbacks (0..1). */
  eventLoopUtilization: number;
  /** Handles and requests keeping the loop alive (`process.getActiveResourcesInfo().length`). */
  activeHandles: number;
  /** Garbage collections seen during the interval (needs a started sampler). */
  gcCount: number;
  /** Total GC pause during the interval, in ms (needs a started sampler). */
  gcPauseMs: number;
}

/** Options for {@link ResourceSampler}. */
export interface ResourceSamplerOptions {
  /**
   * Resolution of the event-loop delay probe in ms: a timer wakes the loop this often and records how late
   * it ran. A stall of at least this long is always seen; a shorter one only when it covers a probe tick
   * (a 60 ms stall with the default: 60% of the time). Each tick is a wake-up of an otherwise idle process;
   * measured on a busy 2-core box (load average ~10), the probe cost ~0.9% of a core at 10 ms
   * (prom-client's default), ~0.5% at 20 ms, 0.25–0.5% at 50 ms and ~0.17% at 100 ms. 100 ms keeps
   * sampling within a 0.5% budget and catches every stall long enough to matter for an alert.
   * @default 100
   */
  eventLoopResolutionMs?: number;
  /** Called for every garbage collection with its kind (`minor`, `major`, `incremental`, `weakcb`) and pause. */
  onGc?: (kind: string, durationMs: number) => void;
}

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/**
 * Reads CPU, memory, event-loop and GC figures of this process. It owns no timer: the
 * {@link PerformanceMonitor} calls {@link ResourceSampler.sample} on its own interval. {@link start} turns on
 * the two probes that must watch continuously (the event-loop delay histogram and the GC observer);
 * {@link stop} turns them off so that nothing keeps the process alive.
 *
 * @example
 * const sampler = new ResourceSampler();
 * sampler.start();
 * setInterval(() => console.log(sampler.sample().cpuPercent), 10_000).unref();
 */
export class ResourceSampler {
  private readonly resolutionMs: number;
  private readonly onGc: ((kind: string, durationMs: number) => void) | undefined;
  private delay: IntervalHistogram | undefined;
  private gcObserver: PerformanceObserver | undefined;
  private lastWall = performance.now() - process.uptime() * 1000;
  private lastCpu: NodeJS.CpuUsage = { user: 0, system: 0 };
  private lastElu: EventLoopUtilization | undefined;
  private gcCount = 0;
  private gcPauseMs = 0;

  /** @throws {RangeError} when `eventLoopResolutionMs` is not an integer ≥ 1. */
  constructor(options: ResourceSamplerOptions = {}) {
    const resolution = options.eventLoopResolutionMs ?? 100;
    if (!Number.isInteger(resolution) || resolution < 1) {
      throw new RangeError(
        `ResourceSampler: eventLoopResolutionMs must be an integer >= 1, received ${String(resolution)}`,
      );
    }
    this.resolutionMs = resolution;
    this.onGc = options.onGc;
  }

  /** True between {@link start} and {@link stop}. */
  get running(): boolean {
    return this.delay !== undefined;
  }

  /** Turns on the event-loop delay probe and the GC observer, and sets the baseline of the rates. Idempotent. */
  start(): void {
    if (this.delay) return;
    // Created here, not in the constructor: even a disabled IntervalHistogram is an active resource.
    this.delay = monitorEventLoopDelay({ resolution: this.resolutionMs });
    this.delay.enable();
    this.gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.recordGc(entry);
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });
    this.lastWall = performance.now();
    this.lastCpu = process.cpuUsage();
    this.lastElu = performance.eventLoopUtilization();
  }

  /** Turns the probes off. Idempotent; {@link sample} still works afterwards (without delay and GC figures). */
  stop(): void {
    this.delay?.disable();
    this.delay = undefined;
    this.gcObserver?.disconnect();
    this.gcObserver = undefined;
  }

  /** Takes a reading and starts the next interval. Cheap: a few syscalls and histogram reads. */
  sample(): ResourceSnapshot {
    const now = performance.now();
    const intervalMs = Math.max(now - this.lastWall, 1e-3);
    const cpu = process.cpuUsage(this.lastCpu);
    this.lastCpu = process.cpuUsage();
    this.lastWall = now;
    const elu = performance.eventLoopUtilization(this.lastElu);
    this.lastElu = performance.eventLoopUtilization();
    const mem = process.memoryUsage();
    const toPercent = (micros: number) => micros / 10 / intervalMs;
    const snapshot: ResourceSnapshot = {
      timestamp: Date.now(),
      intervalMs,
      cpuPercent: toPercent(cpu.user + cpu.system),
      cpuUserPercent: toPercent(cpu.user),
      cpuSystemPercent: toPercent(cpu.system),
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      heapTotalBytes: mem.heapTotal,
      externalBytes: mem.external,
      arrayBuffersBytes: mem.arrayBuffers,
      eventLoopDelayP50Ms: 0,
      eventLoopDelayP99Ms: 0,
      eventLoopDelayMaxMs: 0,
      eventLoopUtilization: elu.utilization,
      activeHandles: process.getActiveResourcesInfo().length,
      gcCount: this.gcCount,
      gcPauseMs: this.gcPauseMs,
    };
    this.gcCount = 0;
    this.gcPauseMs = 0;
    const delay = this.delay;
    if (delay && delay.count > 0) {
      // The probe reports ns and includes its own resolution; subtracting it gives the real stall.
      const ms = (ns: number) => Math.max(0, ns / 1e6 - this.resolutionMs);
      snapshot.eventLoopDelayP50Ms = ms(delay.percentile(50));
      snapshot.eventLoopDelayP99Ms = ms(delay.percentile(99));
      snapshot.eventLoopDelayMaxMs = ms(delay.max);
      // Per-interval figures need a reset. Node's probe then uses its next tick as a baseline, so a stall
      // starting within one resolution (100 ms of a 10 s interval by default) after a sample goes unseen.
      delay.reset();
    }
    return snapshot;
  }

  private recordGc(entry: PerformanceEntry): void {
    const kind = GC_KINDS[(entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1];
    this.gcCount++;
    this.gcPauseMs += entry.duration;
    this.onGc?.(kind ?? 'other', entry.duration);
  }
}
