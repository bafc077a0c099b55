// The seed's monitoring examples (section 5 "Performance Monitoring and Metrics" and "Monitoring and
// Alerting"), in TypeScript, so that they stay true. Differences from the Python: durations are in ms,
// `async with` is `await using`, the decorator also exists as a plain wrapper, `exportToFile` is async.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpDir } from '@perf/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type DashboardData,
  getPerformanceMonitor,
  monitorPerformance,
  PerformanceMonitor,
  setPerformanceMonitor,
} from '../src/index';

const users = new Map([[1, { id: 1, name: 'Ada' }]]);
const db = { execute: async (_sql: string) => [...users.values()] };
const userService = { get: async (id: number) => users.get(id) };

beforeEach(() => setPerformanceMonitor(undefined));
afterEach(() => {
  setPerformanceMonitor(undefined)?.close();
  vi.useRealTimers();
});

describe('seed section 5: Performance Monitoring and Metrics', () => {
  it('monitors operations, wraps functions and tracks custom metrics', async () => {
    // Get global monitor
    const monitor = getPerformanceMonitor();
    expect(monitor).toBeInstanceOf(PerformanceMonitor);

    // Monitor operations
    let result: unknown;
    {
      await using _ = monitor.monitor('database_query', { table: 'users' });
      result = await db.execute('SELECT * FROM users');
    }
    expect(result).toHaveLength(1);

    // Decorator for monitoring (the function form; the method decorator form is in monitor.test.ts)
    const getUser = monitorPerformance('api_endpoint', async (userId: number) => userService.get(userId));
    expect(await getUser(1)).toEqual({ id: 1, name: 'Ada' });

    // Track custom metrics (ms, where the seed used seconds)
    monitor.trackRequest('/api/users', 'GET', 200, 50);
    monitor.trackDatabaseOperation('SELECT', 'users', 20, 10);

    const summary = monitor.metricsCollector.getSummary();
    expect(summary.operations.map((o) => [o.name, o.tags, o.count])).toEqual([
      ['api_endpoint', {}, 1],
      ['database_query', { table: 'users' }, 1],
    ]);
    expect(summary.requests.byRoute).toEqual([
      expect.objectContaining({
        method: 'GET',
        route: '/api/users',
        count: 1,
        p50Ms: 50,
        statuses: { 200: 1 },
      }),
    ]);
    expect(summary.database).toEqual([
      expect.objectContaining({ operation: 'SELECT', table: 'users', count: 1, rowsAffected: 10, maxMs: 20 }),
    ]);
  });
});

describe('seed: Monitoring and Alerting', () => {
  it('gets dashboard data, exports metrics, runs a custom alert callback and summarises', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    await using dir = await tmpDir('seed-monitor-');
    const alertingSystem = { sent: [] as string[], sendAlert: (m: string) => alertingSystem.sent.push(m) };

    // Get dashboard data
    const monitor = getPerformanceMonitor();
    const dashboardData = monitor.getDashboardData();
    expect(dashboardData.resources.cpuPercent).toBeGreaterThanOrEqual(0);

    // Export metrics
    const file = join(dir.path, 'metrics.json');
    await monitor.exportToFile(file);
    expect(JSON.parse(await readFile(file, 'utf8'))).toHaveProperty('resources.rssBytes');

    // Custom alerts
    const seen: DashboardData[] = [];
    function customAlertCallback(data: DashboardData): void {
      seen.push(data);
      if (data.resources.cpuPercent > 95) {
        // Trigger alert
        alertingSystem.sendAlert('High CPU usage detected');
      }
    }
    monitor.addExportCallback(customAlertCallback);
    vi.advanceTimersByTime(monitor.sampleIntervalMs * 3);
    expect(seen).toHaveLength(3);
    expect(alertingSystem.sent.length).toBe(seen.filter((d) => d.resources.cpuPercent > 95).length);

    // Get performance metrics summary
    const metricsSummary = monitor.metricsCollector.getSummary();
    expect(metricsSummary.monitor).toMatchObject({ samples: 3, exportCallbacks: 1, callbackErrors: 0 });
  });
});
