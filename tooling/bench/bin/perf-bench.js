#!/usr/bin/env node
// Re-executes the TypeScript CLI under tsx with the `@perf/source` condition, so benchmarks run the
// workspace packages from source without a build.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const cli = join(dirname(fileURLToPath(import.meta.url)), '../src/cli.ts');
const result = spawnSync(
  process.execPath,
  ['--conditions=@perf/source', '--import', require.resolve('tsx'), cli, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
