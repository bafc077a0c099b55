// HTTP middleware overhead and resource-sampling cost.
//
// Middleware: a node:http hello-world runs in a child process (bench/fixtures/http-server.ts) in three
// forms: bare, wrapped with withRequestMetrics, and with the usual prom-client middleware (a labelled
// Histogram, startTimer() per request). autocannon drives it from this process over 127.0.0.1 with
// keep-alive connections; server and load generator in separate processes so the generator does not
// steal the server's event loop. The table rows alternate the three in five rounds (harness `rounds`);
// on a shared machine load differs by up to 2x from second to second, so the first row's notes also
// carry ratios from rounds where all three serve load at the same time (see `concurrent`), and a second
// scenario measures the middleware's own per-request cost in process, without sockets.
//
// Sampling: the CPU time of one monitor.sample() call, scaled to the default 10 s interval, plus the
// CPU an otherwise idle process spends on the always-on probes (event-loop delay timer, GC observer),
// measured as the difference between two idle child processes (bare vs sampling started).
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { defineSuite, isQuick, type Subject } from '@perf/bench';
import { runNodeScript } from '@perf/testing';
import autocannon from 'autocannon';
import { Histogram, Registry } from 'prom-client';
import { PerformanceMonitor } from '../src/index';
import { withRequestMetrics } from '../src/node';

const require = createRequire(import.meta.url);
const quick = isQuick();
const loadSeconds = quick ? 1 : 3;
const connections = 32;
const fixtures = join(import.meta.dirname, 'fixtures');

interface ServerCtx {
  child: ChildProcess;
  url: string;
}

async function startServer(mode: string): Promise<ServerCtx> {
  const child = spawn(
    process.execPath,
    ['--conditions=@perf/source', '--import', require.resolve('tsx'), join(fixtures, 'http-server.ts'), mode],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const { port } = JSON.parse(line) as { port: number };
    lines.close();
    return { child, url: `http://127.0.0.1:${port}/` };
  }
  throw new Error(`http-server ${mode} exited before listening`);
}

async function serverCpuUs(ctx: ServerCtx): Promise<number> {
  const res = await fetch(`${ctx.url}__cpu`);
  return ((await res.json()) as { cpuUs: number }).cpuUs;
}

async function run(ctx: ServerCtx, seconds: number) {
  const cpuBefore = await serverCpuUs(ctx);
  const result = await autocannon({ url: ctx.url, connections, duration: seconds });
  const cpuUs = (await serverCpuUs(ctx)) - cpuBefore;
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`);
  return {
    requests: result.requests.total,
    rps: result.requests.total / seconds,
    cpuUsPerReq: cpuUs / result.requests.total,
    p99: result.latency.p99,
  };
}

async function load(ctx: ServerCtx) {
  const r = await run(ctx, loadSeconds);
  return {
    ops: r.requests,
    metrics: { serverCpuUsPerReq: Number(r.cpuUsPerReq.toFixed(2)), latencyP99Ms: r.p99 },
  };
}

/**
 * Rounds in which bare, ours and prom-client serve load AT THE SAME TIME, each from its own autocannon
 * instance, so that whatever else runs on the machine hits all three alike (sequential runs on a shared
 * box differed by 2x from one second to the next). Two ratios to bare per round: throughput, and server
 * CPU µs per request (bare / other, so 0.95 means 5% more CPU per request). Median over the rounds, with
 * the lowest and highest round. A second bare server (`controlBareVsBare`) shows how far two identical
 * servers drift apart in the same rounds: differences smaller than that are noise.
 */
async function concurrent(rounds: number, seconds: number) {
  // A second bare server is the control: its ratio to the first shows the noise floor of the round.
  const servers = await Promise.all(['bare', 'perf', 'prom-client', 'bare'].map(startServer));
  try {
    const r = {
      oursRps: [] as number[],
      promRps: [] as number[],
      oursCpu: [] as number[],
      promCpu: [] as number[],
      control: [] as number[],
    };
    for (let round = 0; round < rounds; round++) {
      const [bare, ours, prom, control] = await Promise.all(servers.map((s) => run(s, seconds)));
      r.oursRps.push(ours!.rps / bare!.rps);
      r.promRps.push(prom!.rps / bare!.rps);
      r.oursCpu.push(bare!.cpuUsPerReq / ours!.cpuUsPerReq);
      r.promCpu.push(bare!.cpuUsPerReq / prom!.cpuUsPerReq);
      r.control.push(control!.rps / bare!.rps);
    }
    const stat = (xs: number[]) => {
      const s = [...xs].sort((x, y) => x - y);
      return `${fixed(s[Math.floor(s.length / 2)]!)} (${fixed(s[0]!)}..${fixed(s[s.length - 1]!)})`;
    };
    return {
      concurrentRpsVsBare: stat(r.oursRps),
      concurrentCpuVsBare: stat(r.oursCpu),
      promConcurrentRpsVsBare: stat(r.promRps),
      promConcurrentCpuVsBare: stat(r.promCpu),
      controlBareVsBare: stat(r.control),
    };
  } finally {
    for (const s of servers) s.child.kill('SIGTERM');
  }
}

function server(name: string, mode: string): Subject<ServerCtx> {
  return {
    name,
    setup: () => startServer(mode),
    fn: load,
    teardown: (ctx) => {
      ctx.child.kill('SIGTERM');
    },
  };
}

interface OursCtx extends ServerCtx {
  ratios: Record<string, string>;
}

const fixed = (n: number) => n.toFixed(3);
const ours: Subject<OursCtx> = {
  name: 'node:http + @perf/monitor withRequestMetrics',
  setup: async () => {
    const ratios = await concurrent(quick ? 3 : 5, quick ? 1 : 2);
    return { ...(await startServer('perf')), ratios };
  },
  fn: async (ctx) => {
    const report = await load(ctx);
    return { ...report, metrics: { ...report.metrics, ...ctx.ratios } };
  },
  teardown: (ctx) => {
    ctx.child.kill('SIGTERM');
  },
};

// In-process cost of the middleware itself: the same hello-world handler called with a stand-in
// request/response (an EventEmitter emitting `close`), no socket. Stable on a busy machine, and the
// difference to bare is the per-request overhead each middleware adds to a real server.
const REQUESTS = 20_000;
type Handler = (req: IncomingMessage, res: ServerResponse) => unknown;
const helloInProcess: Handler = (_req, res) => {
  res.statusCode = 200;
};
function fakeExchange(handler: Handler): void {
  for (let i = 0; i < REQUESTS; i++) {
    const res = new EventEmitter() as unknown as ServerResponse & { writableFinished: boolean };
    res.writableFinished = true;
    handler({ url: '/', method: 'GET' } as IncomingMessage, res);
    res.emit('finish');
    res.emit('close');
  }
}
function promClientHandler(): Handler {
  const registry = new Registry();
  const histogram = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry],
  });
  return (req, res) => {
    const end = histogram.startTimer();
    res.once('finish', () => end({ method: req.method ?? 'GET', route: '/', status_code: res.statusCode }));
    helloInProcess(req, res);
  };
}

interface SamplingCtx {
  monitor: PerformanceMonitor;
  probePercent: number;
}

async function idleCpuMs(mode: string, durationMs: number): Promise<number> {
  const r = await runNodeScript(join(fixtures, 'idle.ts'), { args: [mode, String(durationMs), '10000'] });
  const out = r.result as { cpuMs: number; wallMs: number } | undefined;
  if (!out) throw new Error(`idle.ts failed: ${r.stderr}`);
  return out.cpuMs;
}

const samplesPerCall = 200;

export default defineSuite({
  name: 'monitor-http',
  scenarios: [
    {
      ...ours,
      name: 'node:http hello world with request metrics',
      table: 'HTTP middleware (autocannon, 32 connections, loopback)',
      // Five interleaved rounds (ours, bare, prom-client, ours, ...), one load run each, so that machine
      // load drifting between seconds hits all three alike.
      timeMs: 1,
      rounds: 5,
      minCalls: 5,
      maxCalls: 5,
      warmupCalls: 1,
      peers: [
        server('node:http bare (no metrics)', 'bare'),
        server('node:http + prom-client Histogram', 'prom-client'),
      ],
      targets: [
        { peer: 'node:http bare (no metrics)', minRatio: 0.95 },
        { peer: 'node:http + prom-client Histogram', minRatio: 1 },
      ],
    },
    {
      name: 'Request middleware per-request cost (in process, no socket)',
      table: 'HTTP middleware (autocannon, 32 connections, loopback)',
      opsPerCall: REQUESTS,
      setup: () =>
        withRequestMetrics(helloInProcess, { monitor: new PerformanceMonitor(), route: (req) => req.url }),
      fn: fakeExchange,
      peers: [
        {
          name: 'prom-client Histogram startTimer()',
          opsPerCall: REQUESTS,
          setup: promClientHandler,
          fn: fakeExchange,
        },
        {
          name: 'bare handler (no metrics)',
          opsPerCall: REQUESTS,
          setup: () => helloInProcess,
          fn: fakeExchange,
        },
      ],
      targets: [{ peer: 'prom-client Histogram startTimer()', minRatio: 1 }],
    },
    {
      name: 'Resource sampling: monitor.sample()',
      table: 'Resource sampling',
      opsPerCall: samplesPerCall,
      setup: async (): Promise<SamplingCtx> => {
        // Bare and sampling idle processes side by side (same machine load), three pairs, median.
        const durationMs = quick ? 2000 : 5000;
        const diffs: number[] = [];
        for (let i = 0; i < 3; i++) {
          const [bare, sampling] = await Promise.all([
            idleCpuMs('bare', durationMs),
            idleCpuMs('sampling', durationMs),
          ]);
          diffs.push(Math.max(0, sampling - bare));
        }
        const median = diffs.sort((x, y) => x - y)[1]!;
        const monitor = new PerformanceMonitor().start();
        return { monitor, probePercent: (median / durationMs) * 100 };
      },
      fn: (ctx: SamplingCtx) => {
        const cpu = process.cpuUsage();
        for (let i = 0; i < samplesPerCall; i++) ctx.monitor.sample();
        const used = process.cpuUsage(cpu);
        const cpuUsPerSample = (used.user + used.system) / samplesPerCall;
        // One sample every sampleIntervalMs: CPU µs per sample / interval µs, as % of one core.
        const samplePercent = (cpuUsPerSample / (ctx.monitor.sampleIntervalMs * 1000)) * 100;
        return {
          metrics: {
            cpuUsPerSample: Number(cpuUsPerSample.toFixed(1)),
            samplePctOfCoreAt10s: Number(samplePercent.toFixed(5)),
            probesPctOfCore: Number(ctx.probePercent.toFixed(3)),
            totalPctOfCore: Number((samplePercent + ctx.probePercent).toFixed(3)),
          },
        };
      },
      teardown: (ctx: SamplingCtx) => ctx.monitor.close(),
    },
  ],
});
