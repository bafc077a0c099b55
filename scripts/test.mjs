#!/usr/bin/env node
// `pnpm test`: typecheck, lint, then one vitest run over every project. Ends with the line
// `N passed, N failed[, N skipped]` read from vitest's JSON report, and exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const resultsDir = join(root, 'test-results');
const jsonFile = join(resultsDir, 'vitest.json');
const extra = process.argv.slice(2);

function step(label, command, args) {
  process.stdout.write(`\n▶ ${label}: ${command} ${args.join(' ')}\n`);
  const res = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: process.env });
  return res.status ?? 1;
}

let failedSteps = 0;
failedSteps += step('typecheck', 'pnpm', ['-s', 'typecheck']) === 0 ? 0 : 1;
failedSteps += step('lint', 'pnpm', ['-s', 'lint']) === 0 ? 0 : 1;

mkdirSync(resultsDir, { recursive: true });
rmSync(jsonFile, { force: true });
const vitestStatus = step('vitest', 'pnpm', [
  '-s',
  'exec',
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${jsonFile}`,
  ...extra,
]);

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(jsonFile)) {
  const report = JSON.parse(readFileSync(jsonFile, 'utf8'));
  passed = report.numPassedTests ?? 0;
  failed = (report.numFailedTests ?? 0) + (report.numFailedTestSuites ?? 0);
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
} else {
  failed += 1;
  process.stdout.write('vitest wrote no JSON report\n');
}
if (failedSteps > 0)
  process.stdout.write(`\n${failedSteps} check step(s) failed (typecheck/lint): counted as failures\n`);
failed += failedSteps;
if (vitestStatus !== 0 && failed === 0) failed = 1;
process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
