import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpDir } from '@perf/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type DashboardData, PerformanceMonitor } from '../src/index';

let monitor: PerformanceMonitor;
afterEach(() => monitor?.close());

function seeded(topOperations?: number): PerformanceMonitor {
  monitor = new PerformanceMonitor(topOperations === undefined ? {} : { topOperations });
  for (let i = 1; i <= 100; i++) {
    monitor.recordOperation('fast', undefined, i / 100);
    monitor.recordOperation('slow', { table: 'orders' }, i);
    monitor.recordOperation('medium', undefined, i / 10);
  }
  monitor.recordOperation('slow', { table: 'orders' }, 5, { error: new TypeError('x') });
  monitor.trackRequest('/users/:id', 'GET', 200, 10);
  monitor.trackRequest('/users/:id', 'GET', 200, 30);
  monitor.trackRequest('/users/:id', 'GET', 404, 2);
  monitor.trackRequest('/users', 'POST', 201, 50);
  monitor.trackRequest('/users', 'POST', 500, 80);
  monitor.trackDatabaseOperation('SELECT', 'users', 3, 7);
  monitor.register('pool', { stats: () => ({ idle: 2, waiting: 0 }) });
  monitor.register('broken', {
    stats: () => {
      throw new Error('stats failed');
    },
  });
  return monitor;
}

describe('getDashboardData', () => {
  it('lists the top operations by p95, request stats by route and status, database calls and sources', () => {
    const data = seeded(2).getDashboardData();
    expect(data.operations.map((o) => o.name)).toEqual(['slow', 'medium']);
    const slow = data.operations[0]!;
    expect(slow).toMatchObject({
      tags: { table: 'orders' },
      count: 101,
      errors: 1,
      errorsByName: { TypeError: 1 },
    });
    expect(slow.p95Ms).toBeGreaterThan(94 * 0.99);
    expect(slow.p95Ms).toBeLessThan(96 * 1.01);
    expect(data.requests).toMatchObject({ total: 5, serverErrors: 1 });
    expect(data.requests.byRoute).toEqual([
      expect.objectContaining({ method: 'GET', route: '/users/:id', count: 3, statuses: { 200: 2, 404: 1 } }),
      expect.objectContaining({
        method: 'POST',
        route: '/users',
        count: 2,
        statuses: { 201: 1, 500: 1 },
        serverErrors: 1,
      }),
    ]);
    expect(data.requests.byRoute[0]!.maxMs).toBe(30);
    expect(data.database).toEqual([
      expect.objectContaining({ operation: 'SELECT', table: 'users', rowsAffected: 7, count: 1 }),
    ]);
    expect(data.sources).toEqual({ pool: { idle: 2, waiting: 0 }, broken: { error: 'stats failed' } });
    expect(data.resources.rssBytes).toBeGreaterThan(0);
    expect(data.alerts).toEqual([]);
    expect(data.monitor).toMatchObject({ rejected: 0, sampling: false });
    expect(Date.parse(data.timestamp)).not.toBeNaN();
  });

  it('is plain JSON (survives a round trip unchanged)', () => {
    const data = seeded().getDashboardData();
    expect(JSON.parse(JSON.stringify(data))).toEqual(data);
  });
});

describe('metricsCollector.getSummary', () => {
  it('lists every operation sorted by name, with requests and database calls', () => {
    const summary = seeded(1).metricsCollector.getSummary();
    expect(summary.operations.map((o) => o.name)).toEqual(['fast', 'medium', 'slow']);
    expect(summary.requests.total).toBe(5);
    expect(summary.database).toHaveLength(1);
    expect(summary.monitor.rejected).toBe(0);
  });
});

describe('exportToFile', () => {
  it('writes the dashboard JSON atomically and leaves no temp file', async () => {
    await using dir = await tmpDir('monitor-export-');
    const path = join(dir.path, 'metrics.json');
    seeded();
    await monitor.exportToFile(path);
    await monitor.exportToFile(path); // replaces the previous file
    const data = JSON.parse(await readFile(path, 'utf8')) as DashboardData;
    expect(data.requests.total).toBe(5);
    expect(await readdir(dir.path)).toEqual(['metrics.json']);
  });

  it('rejects with the file-system error and cleans up when the target cannot be written', async () => {
    await using dir = await tmpDir('monitor-export-');
    seeded();
    await expect(monitor.exportToFile(join(dir.path, 'missing', 'metrics.json'))).rejects.toMatchObject({
      code: 'ENOENT',
    });
    // The target is a directory: the temp file is written, the rename fails, the temp file is removed.
    await mkdir(join(dir.path, 'taken'));
    await expect(monitor.exportToFile(join(dir.path, 'taken'))).rejects.toThrow();
    expect(await readdir(dir.path)).toEqual(['taken']);
    await expect(monitor.exportToFile('')).rejects.toThrow(TypeError);
  });
});
