// HTTP middleware overhead and resource-sampling cost.
//
// Middleware: a node:http hello-world runs in child processes (bench/fixtures/http-server.ts) in three
// forms: bare, wrapped with withRequestMetrics, and with the usual prom-client middleware (a labelled
// Histogram, startTimer() per request), two servers of each.
//
// The target row measures them the way a throughput claim needs on a 2-core shared machine: all six
// servers share ONE core (taskset) and are loaded AT THE SAME TIME by a lean generator on the other core
// (bench/fixtures/load-generator.ts), 8 keep-alive connections each, so every server is saturated and the
// scheduler gives each the same CPU time; the requests a server completes in a window then compare its
// cost per request, and a load change on the machine hits all of them alike. Each row's ops/s are the
// mean of its two servers' requests over the same windows (ten windows, connections opened in
// alternating order); how far a kind's two servers differ (`bareServer2VsServer1`, ...) shows the noise.
// Run one server at a time with autocannon (the second scenario), the generator, not the server, sets
// the pace on two cores, and second-to-second load swings of ±10% make single ratios noise; those rows
// are kept for reference, without a target.
//
// Sampling: the CPU time of one monitor.sample() call, scaled to the default 10 s interval, plus the
// CPU an otherwise idle process spends on the always-on probes (event-loop delay timer, GC observer),
// measured as the difference between two idle child processes (bare vs sampling started).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { type CallReport, defineSuite, isQuick, type Subject } from '@perf/bench';
import { runNodeScript } from '@perf/testing';
import autocannon from 'autocannon';
import { PerformanceMonitor } from '../src/index';
import { withRequestMetrics } from '../src/node';
import { withPromClientMetrics } from './fixtures/prom-client-middleware';

const require = createRequire(import.meta.url);
const quick = isQuick();
const fixtures = join(import.meta.dirname, 'fixtures');

// Pin servers to CPU 0 and the generator to CPU 1 when the machine has two cores and taskset; otherwise
// run unpinned (the shared windows still load all servers alike).
const pinned = availableParallelism() >= 2 && spawnSync('taskset', ['-V']).status === 0;
const SERVER_CPU = '0';
const GENERATOR_CPU = '1';

/** `node <args>` pinned to `cpu` when pinning is available. */
function spawnNode(cpu: string, args: string[]): ChildProcess {
  const node = [process.execPath, ...args];
  const [cmd, ...rest] = pinned ? ['taskset', '-c', cpu, ...node] : node;
  return spawn(cmd!, rest, { stdio: ['pipe', 'pipe', 'inherit'] });
}

const tsxArgs = ['--conditions=@perf/source', '--import', require.resolve('tsx')];

interface ServerCtx {
  child: ChildProcess;
  port: number;
  url: string;
}

async function startServer(mode: string, cpu = SERVER_CPU): Promise<ServerCtx> {
  const child = spawnNode(cpu, [...tsxArgs, join(fixtures, 'http-server.ts'), mode]);
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const { port } = JSON.parse(line) as { port: number };
    lines.close();
    return { child, port, url: `http://127.0.0.1:${port}/` };
  }
  throw new Error(`http-server ${mode} exited before listening`);
}

async function serverCpuUs(ctx: ServerCtx): Promise<number> {
  const res = await fetch(`${ctx.url}__cpu`);
  return ((await res.json()) as { cpuUs: number }).cpuUs;
}

const fixed = (n: number) => n.toFixed(3);

// ---- Shared windows: all servers loaded at once, each subject reads its own count -------------------

const BARE = 'node:http bare (no metrics)';
const PROM = 'node:http + prom-client Histogram';
const OURS = 'node:http + @perf/monitor withRequestMetrics';
// Two servers of each kind: two identical servers differed by up to 2.4% in a run (memory layout, JIT
// timing), as much as the margin the target leaves, so each subject's figure is the mean of two, and
// how far its two servers differ is reported beside it.
const SERVERS: [name: string, mode: string][] = [
  [BARE, 'bare'],
  [OURS, 'perf'],
  [PROM, 'prom-client'],
  [BARE, 'bare'],
  [OURS, 'perf'],
  [PROM, 'prom-client'],
];
const REPLICAS = 2;
const WINDOW_MS = quick ? 500 : 2000;
const WINDOWS = quick ? 1 : 10;
const CONNECTIONS = 8;
/** Subjects of the target row: ours, bare, prom-client. */
const SHARED_SUBJECTS = 3;

interface WindowEntry {
  requests: number;
  windowMs: number;
  cpuUs: number;
}

/**
 * The six servers and the generator, shared by the three subjects of the target row. A subject's call
 * takes its own entry of the current window; the first subject to find its entry already taken runs the
 * next window (for all six), so one harness round (ours, bare, prom-client) is one window.
 */
class SharedWindows {
  private current = new Map<string, WindowEntry>();
  private windows = 0;
  private released = 0;
  /** Requests per server over all windows (index as in SERVERS). */
  private readonly totals = SERVERS.map(() => 0);
  private readonly oursVsBare: number[] = [];
  private generatorCpu: number[] = [];
  private busy: number[] = [];

  private constructor(
    private readonly servers: ServerCtx[],
    private readonly generator: ChildProcess,
    private readonly replies: AsyncIterator<string>,
    private readonly lines: Interface,
  ) {}

  static async start(): Promise<SharedWindows> {
    const servers = await Promise.all(SERVERS.map(([, mode]) => startServer(mode)));
    const generator = spawnNode(GENERATOR_CPU, [...tsxArgs, join(fixtures, 'load-generator.ts')]);
    const lines = createInterface({ input: generator.stdout! });
    const shared = new SharedWindows(servers, generator, lines[Symbol.asyncIterator](), lines);
    // JIT warm-up of every server (and the generator) before anything counts.
    await shared.window(quick ? 1000 : 4000);
    return shared;
  }

  /** One subject's share of the current window (a new window when it already took its share). */
  async take(name: string): Promise<CallReport> {
    if (!this.current.has(name)) await this.next();
    const entry = this.current.get(name)!;
    this.current.delete(name);
    return {
      ops: Math.round(entry.requests),
      elapsedMs: entry.windowMs,
      metrics: {
        serverCpuUsPerReq: Number((entry.cpuUs / entry.requests).toFixed(2)),
        servers: REPLICAS,
        ...(name === OURS ? this.summary() : {}),
      },
    };
  }

  /**
   * Ends the servers and the generator once each of the three subjects let go; true then. Counted, not
   * reference-counted: quick mode measures the subjects one after another (set up, measure, tear down),
   * and the later ones must still find the window the first one ran.
   */
  release(): boolean {
    if (++this.released < SHARED_SUBJECTS) return false;
    this.lines.close();
    this.generator.kill('SIGTERM');
    for (const s of this.servers) s.child.kill('SIGTERM');
    return true;
  }

  /** Runs a window; each subject's entry is the mean of its servers. */
  private async next(): Promise<void> {
    const entries = await this.window(WINDOW_MS);
    const current = new Map<string, WindowEntry>();
    entries.forEach((e, i) => {
      this.totals[i]! += e.requests;
      const name = SERVERS[i]![0];
      const sum = current.get(name) ?? { requests: 0, windowMs: e.windowMs, cpuUs: 0 };
      sum.requests += e.requests / REPLICAS;
      sum.cpuUs += e.cpuUs / REPLICAS;
      current.set(name, sum);
    });
    this.current = current;
    this.oursVsBare.push(current.get(OURS)!.requests / current.get(BARE)!.requests);
  }

  private async window(windowMs: number): Promise<WindowEntry[]> {
    const cpuBefore = await Promise.all(this.servers.map(serverCpuUs));
    this.generator.stdin!.write(
      `${JSON.stringify({
        ports: this.servers.map((s) => s.port),
        connections: CONNECTIONS,
        warmupMs: 300,
        windowMs,
        reverse: this.windows++ % 2 === 1,
      })}\n`,
    );
    const reply = await this.replies.next();
    if (reply.done) throw new Error('load generator exited');
    const r = JSON.parse(reply.value) as {
      counts: number[];
      non200: number[];
      windowMs: number;
      cpuPct: number;
    };
    if (r.non200.some((n) => n > 0)) throw new Error(`non-200 responses: ${r.non200.join(', ')}`);
    // CPU over warm-up + window; per request it is the same figure as over the window alone.
    const cpuAfter = await Promise.all(this.servers.map(serverCpuUs));
    const cpuUs = cpuAfter.map((c, i) => c - cpuBefore[i]!);
    this.generatorCpu.push(r.cpuPct);
    this.busy.push((cpuUs.reduce((a, b) => a + b, 0) / 1000 / (r.windowMs + 300)) * 100);
    return r.counts.map((requests, i) => ({
      requests,
      windowMs: r.windowMs,
      cpuUs: (cpuUs[i]! * r.windowMs) / (r.windowMs + 300),
    }));
  }

  private summary(): Record<string, string | number> {
    /** Second server of a kind over its first, all windows so far. */
    const replicas = (name: string) => {
      const [a, b] = SERVERS.flatMap(([n], i) => (n === name ? [this.totals[i]!] : []));
      return fixed((b ?? 0) / (a || 1));
    };
    const sorted = [...this.oursVsBare].sort((a, b) => a - b);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    return {
      pinned: pinned ? `servers cpu ${SERVER_CPU}, generator cpu ${GENERATOR_CPU}` : 'no',
      windows: sorted.length,
      windowRatioMedian: fixed(median(sorted)),
      windowRatioRange: `${fixed(sorted[0] ?? 0)}..${fixed(sorted[sorted.length - 1] ?? 0)}`,
      bareServer2VsServer1: replicas(BARE),
      oursServer2VsServer1: replicas(OURS),
      serversCpuPctOfCore: Number(median(this.busy).toFixed(1)),
      generatorCpuPctOfCore: Number(median(this.generatorCpu).toFixed(1)),
    };
  }
}

let shared: Promise<SharedWindows> | undefined;
function sharedSubject(name: string): Subject<SharedWindows> {
  return {
    name,
    setup: async () => {
      shared ??= SharedWindows.start();
      return shared;
    },
    fn: (ctx) => ctx.take(name),
    teardown: (ctx) => {
      if (ctx.release()) shared = undefined;
    },
  };
}

// ---- One server at a time with autocannon (reference rows) ----------------------------------------

const autocannonSeconds = quick ? 1 : 2;

async function autocannonRun(ctx: ServerCtx): Promise<CallReport> {
  const cpuBefore = await serverCpuUs(ctx);
  const result = await autocannon({ url: ctx.url, connections: 32, duration: autocannonSeconds });
  const cpuUs = (await serverCpuUs(ctx)) - cpuBefore;
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`);
  return {
    ops: result.requests.total,
    elapsedMs: autocannonSeconds * 1000,
    metrics: {
      serverCpuUsPerReq: Number((cpuUs / result.requests.total).toFixed(2)),
      latencyP99Ms: result.latency.p99,
    },
  };
}

function autocannonServer(name: string, mode: string): Subject<ServerCtx> {
  return {
    name,
    // Unpinned: autocannon runs in this (unpinned) process and the server gets whichever core is free.
    setup: () => startServer(mode, '0-1'),
    fn: autocannonRun,
    teardown: (ctx) => {
      ctx.child.kill('SIGTERM');
    },
  };
}

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
  return withPromClientMetrics(helloInProcess, (req) => req.url);
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
      ...sharedSubject(OURS),
      name: 'node:http hello world with request metrics (6 servers share one core, loaded at once)',
      table: 'HTTP middleware (loopback, keep-alive)',
      // Exactly one call per subject and round: the peers' calls return at once (their share of the
      // window ours just ran), and any time budget would make them run windows of their own.
      timeMs: 0,
      rounds: WINDOWS,
      minCalls: WINDOWS,
      maxCalls: WINDOWS,
      warmupCalls: 0,
      peers: [sharedSubject(BARE), sharedSubject(PROM)],
      targets: [
        { peer: BARE, minRatio: 0.95 },
        { peer: PROM, minRatio: 1 },
      ],
    },
    // A reference row without a target: left out of quick runs (their time budget).
    ...(quick
      ? []
      : [
          {
            ...autocannonServer(OURS, 'perf'),
            name: 'node:http hello world with request metrics (autocannon, one server at a time; reference)',
            table: 'HTTP middleware (loopback, keep-alive)',
            timeMs: 1,
            rounds: 3,
            minCalls: 3,
            maxCalls: 3,
            warmupCalls: 1,
            peers: [autocannonServer(BARE, 'bare'), autocannonServer(PROM, 'prom-client')],
          },
        ]),
    {
      name: 'Request middleware per-request cost (in process, no socket)',
      table: 'HTTP middleware (loopback, keep-alive)',
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
        // Bare and sampling idle processes side by side (same machine load), three pairs, median
        // (quick mode: one pair).
        const durationMs = quick ? 1000 : 5000;
        const diffs: number[] = [];
        for (let i = 0; i < (quick ? 1 : 3); i++) {
          const [bare, sampling] = await Promise.all([
            idleCpuMs('bare', durationMs),
            idleCpuMs('sampling', durationMs),
          ]);
          diffs.push(Math.max(0, sampling - bare));
        }
        const median = diffs.sort((x, y) => x - y)[Math.floor(diffs.length / 2)]!;
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
