/**
 * perf-bench: runs benchmark files, each in its own Node process with `--expose-gc`, and writes
 * `bench-results/<package>.json` and `bench-results/REPORT.md` at the workspace root.
 *
 *   perf-bench run [files...] [--quick] [--filter text]   this package's bench/*.bench.ts by default
 *   perf-bench all [--quick] [--filter text]              every workspace package's bench/, then the report
 *   perf-bench report                                      rebuild REPORT.md from the JSON files
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reportMarkdown } from './format';
import type { SuiteResult } from './types';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

function workspaceRoot(from: string): string {
  let dir = resolve(from);
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`perf-bench: no pnpm-workspace.yaml above ${from}`);
    dir = parent;
  }
  return dir;
}

function benchFiles(pkgDir: string): string[] {
  const dir = join(pkgDir, 'bench');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bench.ts'))
    .sort()
    .map((f) => join(dir, f));
}

function packageName(pkgDir: string): string {
  return basename(pkgDir);
}

/** Runs each file in a fresh process; merges their suites into one result for the package. */
function runPackage(pkgDir: string, files: string[], outDir: string, args: Args): SuiteResult | undefined {
  const parts: SuiteResult[] = [];
  // Per-process: concurrent runs (one per package) must not delete each other's parts.
  const tmp = join(outDir, `.parts-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  for (const file of files) {
    const out = join(tmp, `${packageName(pkgDir)}-${basename(file, '.bench.ts')}.json`);
    const started = performance.now();
    const res = spawnSync(
      process.execPath,
      [
        '--expose-gc',
        '--conditions=@perf/source',
        '--import',
        require.resolve('tsx'),
        join(here, 'worker.ts'),
        file,
        out,
      ],
      {
        cwd: pkgDir,
        stdio: 'inherit',
        env: {
          ...process.env,
          ...(args.quick ? { BENCH_QUICK: '1' } : {}),
          ...(args.filter ? { BENCH_FILTER: args.filter } : {}),
        },
      },
    );
    // Where the time goes, file by file (the quick run has a budget).
    process.stdout.write(
      `perf-bench: ${packageName(pkgDir)}/${basename(file)} took ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
    if (res.status !== 0) {
      process.stderr.write(`perf-bench: ${file} exited with ${res.status ?? res.signal}\n`);
      process.exitCode = 1;
      continue;
    }
    parts.push(JSON.parse(readFileSync(out, 'utf8')) as SuiteResult);
  }
  rmSync(tmp, { recursive: true, force: true });
  const [first] = parts;
  if (!first) return undefined;
  const merged: SuiteResult = {
    ...first,
    suite: packageName(pkgDir),
    scenarios: parts.flatMap((p) => p.scenarios),
  };
  writeFileSync(join(outDir, `${merged.suite}.json`), `${JSON.stringify(merged, null, 2)}\n`);
  return merged;
}

function writeReport(outDir: string): string {
  const results = readdirSync(outDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(outDir, f), 'utf8')) as SuiteResult);
  const path = join(outDir, 'REPORT.md');
  writeFileSync(path, reportMarkdown(results));
  return path;
}

interface Args {
  command: string;
  files: string[];
  quick: boolean;
  filter: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { command: argv[0] ?? 'run', files: [], quick: false, filter: undefined };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') args.quick = true;
    else if (a === '--filter') args.filter = argv[++i];
    else if (a.startsWith('--')) throw new TypeError(`perf-bench: unknown option ${a}`);
    else args.files.push(a);
  }
  return args;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const root = workspaceRoot(process.cwd());
  const outDir = join(root, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  if (args.command === 'report') {
    console.log(`wrote ${writeReport(outDir)}`);
    return;
  }
  if (args.command === 'run') {
    const pkgDir = process.cwd();
    const files = args.files.length > 0 ? args.files.map((f) => resolve(f)) : benchFiles(pkgDir);
    if (files.length === 0) throw new Error(`perf-bench: no bench/*.bench.ts in ${pkgDir}`);
    runPackage(pkgDir, files, outDir, args);
    console.log(`wrote ${writeReport(outDir)}`);
    return;
  }
  if (args.command === 'all') {
    const dirs = ['packages', 'tooling', 'examples']
      .filter((g) => existsSync(join(root, g)))
      .flatMap((g) =>
        readdirSync(join(root, g))
          .sort()
          .map((d) => join(root, g, d)),
      )
      .filter((d) => benchFiles(d).length > 0);
    const started = performance.now();
    for (const [i, dir] of dirs.entries()) {
      process.stderr.write(`\n=== ${packageName(dir)} (${i + 1}/${dirs.length}) ===\n`);
      runPackage(dir, benchFiles(dir), outDir, args);
    }
    const path = writeReport(outDir);
    console.log(
      `\nwrote ${path} (${dirs.length} packages, ${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
    return;
  }
  throw new TypeError(`perf-bench: unknown command ${args.command} (run | all | report)`);
}

main();
