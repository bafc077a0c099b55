import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type AlertEvent, type DashboardData, PerformanceMonitor } from '../src/index';

let monitor: PerformanceMonitor;
let value: number;
let events: AlertEvent[];
const record = (e: AlertEvent) => {
  events.push(e);
};
const states = () => events.map((e) => `${e.name}:${e.state}`);
/** Sets the watched value, then lets one sample (1 s) happen. */
const sampleWith = (v: number) => {
  value = v;
  vi.advanceTimersByTime(1000);
};

beforeEach(() => {
  vi.useFakeTimers();
  monitor = new PerformanceMonitor({ sampleIntervalMs: 1000 });
  value = 0;
  events = [];
});
afterEach(() => {
  monitor.close();
  vi.useRealTimers();
});

describe('addAlert', () => {
  it('fires once per breach and resolves when back within bounds', () => {
    monitor.addAlert({ name: 'q', metric: () => value, above: 10, callback: record });
    expect(monitor.sampling).toBe(true);
    sampleWith(5);
    sampleWith(20);
    sampleWith(30);
    sampleWith(25);
    expect(states()).toEqual(['q:firing']);
    expect(events[0]).toMatchObject({ metric: 'custom', value: 20, threshold: 10, direction: 'above' });
    sampleWith(10);
    expect(states()).toEqual(['q:firing', 'q:resolved']);
    expect(events[1]).toMatchObject({ value: 10, since: events[0]!.since });
    sampleWith(11);
    expect(states()).toEqual(['q:firing', 'q:resolved', 'q:firing']);
    expect(monitor.getDashboardData().alerts).toEqual([
      expect.objectContaining({ name: 'q', state: 'firing', value: 11, firedCount: 2 }),
    ]);
  });

  it('waits forMs before firing, so a short spike does not fire', () => {
    monitor.addAlert({ name: 'slow', metric: () => value, above: 100, forMs: 3000, callback: record });
    sampleWith(500);
    sampleWith(0);
    expect(events).toEqual([]);
    sampleWith(500); // breach begins
    sampleWith(500);
    sampleWith(500);
    expect(events).toEqual([]);
    expect(monitor.getDashboardData().alerts[0]!.state).toBe('pending');
    sampleWith(500); // 3 s after the breach began
    expect(states()).toEqual(['slow:firing']);
    expect(events[0]!.at - events[0]!.since).toBe(3000);
  });

  it('sends resolved events to onResolve when given', () => {
    const resolved: AlertEvent[] = [];
    monitor.addAlert({
      name: 'low',
      metric: () => value,
      below: 1,
      callback: record,
      onResolve: (e) => {
        resolved.push(e);
      },
    });
    sampleWith(0);
    sampleWith(5);
    expect(states()).toEqual(['low:firing']);
    expect(events[0]!.direction).toBe('below');
    expect(resolved.map((e) => e.state)).toEqual(['resolved']);
  });

  it('fires at most once per cooldownMs while the value flaps', () => {
    monitor.addAlert({ name: 'flap', metric: () => value, above: 1, cooldownMs: 10_000, callback: record });
    for (let i = 0; i < 4; i++) {
      sampleWith(2);
      sampleWith(0);
    }
    // firing at t=1 s, resolved at 2 s; breaches at 3, 5, 7 s fall in the cooldown and end unfired
    expect(states()).toEqual(['flap:firing', 'flap:resolved']);
    sampleWith(2); // t=9 s: in cooldown, pending
    sampleWith(2);
    expect(monitor.getDashboardData().alerts[0]).toMatchObject({ state: 'pending', firedCount: 1 });
    sampleWith(2); // t=11 s: the cooldown (until 11 s) is over and the breach still lasts
    expect(states()).toEqual(['flap:firing', 'flap:resolved', 'flap:firing']);
  });

  it('isolates throwing and rejecting callbacks, counts them, and keeps sampling', async () => {
    let later = 0;
    monitor.addAlert({
      name: 'throws',
      metric: () => value,
      above: 1,
      callback: () => {
        throw new Error('pager down');
      },
    });
    monitor.addAlert({
      name: 'rejects',
      metric: () => value,
      above: 1,
      callback: () => Promise.reject(new Error('x')),
    });
    monitor.addAlert({ name: 'bad-metric', metric: () => JSON.parse('{'), above: 1, callback: record });
    monitor.addAlert({
      name: 'after',
      metric: () => value,
      above: 1,
      callback: () => {
        later++;
      },
    });
    sampleWith(5);
    await Promise.resolve();
    expect(later).toBe(1);
    sampleWith(0);
    sampleWith(5);
    await Promise.resolve();
    expect(later).toBe(3); // firing, resolved, firing
    // the same 3 events for 'throws' and for 'rejects', plus 3 bad metric reads (one per sample)
    expect(monitor.stats()).toMatchObject({ callbackErrors: 9, samples: 3, sampling: true });
    expect(monitor.metrics.callbackErrors.get({ kind: 'alert' })).toBe(9);
    expect(events).toEqual([]);
  });

  it('watches resource figures by name', () => {
    monitor.addAlert({ name: 'heap', metric: 'heapUsedBytes', above: 1, callback: record });
    vi.advanceTimersByTime(1000);
    expect(states()).toEqual(['heap:firing']);
    expect(events[0]!.value).toBeGreaterThan(1_000_000);
  });

  it('stops evaluating a removed alert', () => {
    const remove = monitor.addAlert({ name: 'r', metric: () => value, above: 1, callback: record });
    remove();
    sampleWith(5);
    expect(events).toEqual([]);
    expect(monitor.getDashboardData().alerts).toEqual([]);
  });

  it('validates rules', () => {
    const callback = () => {};
    const ok = { name: 'a', metric: 'cpuPercent' as const, above: 90, callback };
    monitor.addAlert(ok);
    expect(() => monitor.addAlert(ok)).toThrow(/exists/);
    expect(() => monitor.addAlert({ ...ok, name: '' })).toThrow(TypeError);
    expect(() => monitor.addAlert({ ...ok, name: 'b', metric: 'cpu' as never })).toThrow(/metric/);
    expect(() => monitor.addAlert({ name: 'c', metric: 'cpuPercent', callback })).toThrow(/above/);
    expect(() => monitor.addAlert({ ...ok, name: 'd', above: Number.NaN })).toThrow(/above/);
    expect(() => monitor.addAlert({ ...ok, name: 'e', forMs: -1 })).toThrow(RangeError);
    expect(() => monitor.addAlert({ ...ok, name: 'f', cooldownMs: Number.POSITIVE_INFINITY })).toThrow(
      /cooldownMs/,
    );
    expect(() => monitor.addAlert({ ...ok, name: 'g', callback: undefined as never })).toThrow(/callback/);
  });
});

describe('addExportCallback', () => {
  it('receives the dashboard data on every sample; a throwing one is isolated and counted', () => {
    const seen: DashboardData[] = [];
    monitor.addExportCallback(() => {
      throw new Error('exporter bug');
    });
    const remove = monitor.addExportCallback((data) => {
      seen.push(data);
    });
    monitor.trackRequest('/a', 'GET', 200, 3);
    vi.advanceTimersByTime(3000);
    expect(seen).toHaveLength(3);
    expect(seen[2]!.requests.total).toBe(1);
    expect(typeof seen[2]!.resources.cpuPercent).toBe('number');
    expect(monitor.metrics.callbackErrors.get({ kind: 'export' })).toBe(3);
    remove();
    vi.advanceTimersByTime(1000);
    expect(seen).toHaveLength(3);
    expect(monitor.stats()).toMatchObject({ samples: 4, exportCallbacks: 1 });
    expect(() => monitor.addExportCallback('x' as never)).toThrow(TypeError);
  });
});
