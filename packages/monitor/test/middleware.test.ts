// Every middleware against the real framework on a real 127.0.0.1 socket: routes are recorded by
// template, 404s share one `unmatched` series whatever the URL.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expressMetrics } from '../src/express';
import { fastifyMetrics } from '../src/fastify';
import { honoMetrics } from '../src/hono';
import { methodLabel, RequestRecorder } from '../src/http';
import { PerformanceMonitor, type RouteSummary } from '../src/index';
import { withRequestMetrics } from '../src/node';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function get(base: string, path: string, init?: RequestInit): Promise<number> {
  const res = await fetch(base + path, init);
  await res.arrayBuffer();
  return res.status;
}

function routes(monitor: PerformanceMonitor): RouteSummary[] {
  return monitor.metricsCollector.getSummary().requests.byRoute;
}

function route(monitor: PerformanceMonitor, method: string, template: string): RouteSummary | undefined {
  return routes(monitor).find((r) => r.method === method && r.route === template);
}

/** Records happen on the response's `close`, which may come just after the client has the body. */
async function expectRecorded(monitor: PerformanceMonitor, total: number): Promise<void> {
  await vi.waitFor(() => expect(monitor.metricsCollector.getSummary().requests.total).toBe(total));
}

describe('node:http withRequestMetrics', () => {
  it('labels requests with the route() template and everything else as unmatched', async () => {
    const monitor = new PerformanceMonitor();
    const handler = withRequestMetrics(
      (req, res) => {
        res.statusCode = req.url?.startsWith('/users/') ? 200 : 404;
        res.end('x');
      },
      { monitor, route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined) },
    );
    const base = await listen(createServer(handler));
    for (const path of ['/users/1', '/users/2', '/users/3', '/a', '/b?x=1', '/c/d']) await get(base, path);
    await expectRecorded(monitor, 6);
    expect(
      routes(monitor)
        .map((r) => `${r.method} ${r.route} ${JSON.stringify(r.statuses)}`)
        .sort(),
    ).toEqual(['GET /users/:id {"200":3}', 'GET unmatched {"404":3}']);
    expect(route(monitor, 'GET', '/users/:id')!.p50Ms).toBeGreaterThanOrEqual(0);
  });

  it('uses one fixed label without a route function, never the raw URL', async () => {
    const monitor = new PerformanceMonitor();
    const base = await listen(createServer(withRequestMetrics((_req, res) => res.end('ok'), { monitor })));
    for (let i = 0; i < 20; i++) await get(base, `/items/${i}`);
    await expectRecorded(monitor, 20);
    expect(routes(monitor)).toHaveLength(1);
    expect(routes(monitor)[0]).toMatchObject({ route: 'unmatched', count: 20, statuses: { 200: 20 } });
  });

  it('records a request whose client disconnected as 499', async () => {
    const monitor = new PerformanceMonitor();
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const handler = withRequestMetrics(() => arrived(), { monitor, route: () => '/slow' });
    const base = await listen(createServer(handler));
    const controller = new AbortController();
    const pending = fetch(`${base}/slow`, { signal: controller.signal }).catch(() => 'aborted');
    await arrival;
    controller.abort();
    expect(await pending).toBe('aborted');
    await expectRecorded(monitor, 1);
    expect(route(monitor, 'GET', '/slow')!.statuses).toEqual({ 499: 1 });
  });

  it('skips what skip() says and survives a throwing route()', async () => {
    const monitor = new PerformanceMonitor();
    const handler = withRequestMetrics((_req, res) => res.end('ok'), {
      monitor,
      route: (req) => {
        if (req.url === '/boom') throw new Error('route function bug');
        return req.url;
      },
      skip: (_method, r) => r === '/metrics',
    });
    const base = await listen(createServer(handler));
    expect(await get(base, '/metrics')).toBe(200);
    expect(await get(base, '/boom')).toBe(200);
    await expectRecorded(monitor, 1);
    expect(routes(monitor)[0]!.route).toBe('unmatched');
  });

  it('rejects bad arguments with TypeErrors', () => {
    expect(() => withRequestMetrics(42 as never)).toThrow(TypeError);
    expect(() => withRequestMetrics(() => {}, { route: 'x' as never })).toThrow(/route must be a function/);
    expect(() => withRequestMetrics(() => {}, { unmatchedRoute: '' })).toThrow(/unmatchedRoute/);
  });

  it('RequestRecorder: runs of one request kind and every switch between kinds land in the right series', () => {
    const monitor = new PerformanceMonitor();
    const recorder = new RequestRecorder('test', { monitor });
    const calls: Array<[string | undefined, string | undefined, number, number]> = [
      ['GET', '/', 200, 1],
      ['GET', '/', 200, 2],
      ['GET', '/', 404, 3],
      ['GET', '/', 200, 4],
      ['post', '/', 200, 5],
      ['POST', '/', 200, 6],
      ['GET', '/a', 200, 7],
      ['GET', undefined, 200, 8],
      ['GET', '', 200, 9],
      ['GET', '/', 200, Number.NaN],
      ['GET', '/', 200, -1],
    ];
    const recorded = calls.map(([m, r, s, d]) => recorder.record(m, r, s, d));
    expect(recorded).toEqual([true, true, true, true, true, true, true, true, true, false, false]);
    const byKey = Object.fromEntries(
      routes(monitor).map((r) => [`${r.method} ${r.route}`, { count: r.count, statuses: r.statuses }]),
    );
    expect(byKey).toEqual({
      'GET /': { count: 4, statuses: { '200': 3, '404': 1 } },
      'POST /': { count: 2, statuses: { '200': 2 } },
      'GET /a': { count: 1, statuses: { '200': 1 } },
      'GET unmatched': { count: 2, statuses: { '200': 2 } },
    });
    // With `skip`, every request is asked about (no shortcut past it).
    const asked: string[] = [];
    const skipping = new RequestRecorder('test', {
      monitor,
      skip: (m, r) => {
        asked.push(`${m} ${r}`);
        return r === '/metrics';
      },
    });
    expect([skipping.record('GET', '/metrics', 200, 1), skipping.record('GET', '/metrics', 200, 1)]).toEqual([
      false,
      false,
    ]);
    expect(asked).toEqual(['GET /metrics', 'GET /metrics']);
  });

  it('maps non-standard methods to OTHER', () => {
    expect(methodLabel('GET')).toBe('GET');
    expect(methodLabel('patch')).toBe('PATCH');
    expect(methodLabel('PROPFIND')).toBe('OTHER');
    expect(methodLabel(undefined)).toBe('OTHER');
  });
});

describe('express 5', () => {
  it('records route templates, mount paths, errors, and folds 404s into unmatched', async () => {
    const monitor = new PerformanceMonitor();
    const app = express();
    app.use(expressMetrics({ monitor }));
    app.get('/users/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
    const api = express.Router();
    api.get('/items/:itemId', (_req, res) => {
      res.send('item');
    });
    app.use('/api', api);
    app.get('/fail', () => {
      throw new Error('boom');
    });
    const base = await listen(app.listen(0, '127.0.0.1') as unknown as Server);
    expect(await get(base, '/users/123')).toBe(200);
    expect(await get(base, '/users/456')).toBe(200);
    expect(await get(base, '/api/items/9')).toBe(200);
    expect(await get(base, '/fail')).toBe(500);
    for (let i = 0; i < 5; i++) expect(await get(base, `/missing/${i}`)).toBe(404);
    await expectRecorded(monitor, 9);
    expect(route(monitor, 'GET', '/users/:id')).toMatchObject({ count: 2, statuses: { 200: 2 } });
    expect(route(monitor, 'GET', '/api/items/:itemId')).toMatchObject({ count: 1 });
    expect(route(monitor, 'GET', '/fail')).toMatchObject({ statuses: { 500: 1 }, serverErrors: 1 });
    expect(route(monitor, 'GET', 'unmatched')).toMatchObject({ count: 5, statuses: { 404: 5 } });
    expect(routes(monitor)).toHaveLength(4);
  });
});

describe('fastify 5', () => {
  it('applies to the whole app as a plugin, with prefixes, and folds 404s into unmatched', async () => {
    const monitor = new PerformanceMonitor();
    const app = Fastify();
    await app.register(fastifyMetrics, { monitor });
    app.get('/users/:id', async (req) => ({ id: (req.params as { id: string }).id }));
    // An encapsulated child context: the hook must still apply (skip-override).
    await app.register(
      async (child) => {
        child.get('/items/:itemId', async () => 'item');
      },
      { prefix: '/v1' },
    );
    app.get('/fail', async () => {
      throw new Error('boom');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    expect(await get(base, '/users/123')).toBe(200);
    expect(await get(base, '/users/456')).toBe(200);
    expect(await get(base, '/v1/items/7')).toBe(200);
    expect(await get(base, '/fail')).toBe(500);
    for (let i = 0; i < 5; i++) expect(await get(base, `/missing/${i}`)).toBe(404);
    await expectRecorded(monitor, 9);
    expect(route(monitor, 'GET', '/users/:id')).toMatchObject({ count: 2, statuses: { 200: 2 } });
    expect(route(monitor, 'GET', '/v1/items/:itemId')).toMatchObject({ count: 1 });
    expect(route(monitor, 'GET', '/fail')).toMatchObject({ statuses: { 500: 1 } });
    expect(route(monitor, 'GET', 'unmatched')).toMatchObject({ count: 5, statuses: { 404: 5 } });
    expect(routes(monitor)).toHaveLength(4);
  });

  it('sets skip-override so one registration covers the app', () => {
    expect((fastifyMetrics as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')]).toBe(true);
  });
});

describe('hono 4 on @hono/node-server', () => {
  it('records route templates including sub-app prefixes, and folds 404s into unmatched', async () => {
    const monitor = new PerformanceMonitor();
    const app = new Hono();
    app.use('*', honoMetrics({ monitor }));
    app.get('/users/:id', (c) => c.json({ id: c.req.param('id') }));
    const sub = new Hono();
    sub.get('/items/:itemId', (c) => c.text('item'));
    app.route('/api', sub);
    app.get('/fail', () => {
      throw new Error('boom');
    });
    app.onError((_err, c) => c.text('failed', 500));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await once(server, 'listening');
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await get(base, '/users/123')).toBe(200);
    expect(await get(base, '/users/456')).toBe(200);
    expect(await get(base, '/api/items/3')).toBe(200);
    expect(await get(base, '/fail')).toBe(500);
    for (let i = 0; i < 5; i++) expect(await get(base, `/missing/${i}`)).toBe(404);
    await expectRecorded(monitor, 9);
    expect(route(monitor, 'GET', '/users/:id')).toMatchObject({ count: 2, statuses: { 200: 2 } });
    expect(route(monitor, 'GET', '/api/items/:itemId')).toMatchObject({ count: 1 });
    expect(route(monitor, 'GET', '/fail')).toMatchObject({ statuses: { 500: 1 } });
    expect(route(monitor, 'GET', 'unmatched')).toMatchObject({ count: 5, statuses: { 404: 5 } });
    expect(routes(monitor)).toHaveLength(4);
  });
});
