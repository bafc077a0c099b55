import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** What one child process did. */
export interface ProcessResult {
  /** Index of the process in the batch, 0-based. */
  index: number;
  pid: number | undefined;
  /** Exit code, `null` when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last stdout line parsed as JSON, or `undefined` when it is not JSON. */
  result: unknown;
  durationMs: number;
}

/** Options for {@link runNodeScript} and {@link runProcesses}. */
export interface RunProcessOptions {
  /** Arguments after the script path. The batch form also passes the process index via `PERF_PROC_INDEX`. */
  args?: string[];
  /** Extra environment variables (merged over `process.env`). */
  env?: Record<string, string>;
  /**
   * Kill the process with SIGKILL after this long.
   * @default 60_000
   */
  timeoutMs?: number;
  /** Working directory. @default process.cwd() */
  cwd?: string;
}

/**
 * Runs a TypeScript or JavaScript file in a real Node.js child process (TypeScript through `tsx`, with the
 * `@perf/source` condition so workspace packages load from source). Resolves when it exits, whatever the
 * exit code; rejects only when it cannot be spawned.
 *
 * @example
 * const r = await runNodeScript(join(__dirname, 'fixtures/hold-lock.ts'), { args: [path] });
 * expect(r.code).toBe(0);
 */
export function runNodeScript(
  script: string,
  options: RunProcessOptions = {},
  index = 0,
): Promise<ProcessResult> {
  const tsx = require.resolve('tsx');
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@perf/source', '--import', tsx, script, ...(options.args ?? [])],
      {
        cwd: options.cwd ?? process.cwd(),
        env: { ...process.env, ...options.env, PERF_PROC_INDEX: String(index) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        index,
        pid: child.pid,
        code,
        signal,
        stdout,
        stderr,
        result: lastJsonLine(stdout),
        durationMs: performance.now() - started,
      });
    });
  });
}

/**
 * Starts `count` real child processes of the same script at once and collects every result, in index
 * order. Each child sees its index in `PERF_PROC_INDEX`.
 */
export function runProcesses(
  count: number,
  script: string,
  options: RunProcessOptions = {},
): Promise<ProcessResult[]> {
  if (!Number.isInteger(count) || count < 1) {
    throw new TypeError(`runProcesses: count must be a positive integer, received ${String(count)}`);
  }
  return Promise.all(Array.from({ length: count }, (_, i) => runNodeScript(script, options, i)));
}

function lastJsonLine(stdout: string): unknown {
  const lines = stdout.trim().split('\n');
  const last = lines[lines.length - 1];
  if (!last) return undefined;
  try {
    return JSON.parse(last);
  } catch {
    return undefined;
  }
}
