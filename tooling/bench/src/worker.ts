// Runs one benchmark file in this process and writes its SuiteResult JSON to the path given.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { suiteText } from './format';
import { runSuite } from './run';
import type { Suite } from './types';

const [file, out] = process.argv.slice(2);
if (!file || !out) throw new TypeError('usage: worker.ts <file.bench.ts> <out.json>');
const mod = (await import(pathToFileURL(file).href)) as { default?: Suite };
const suite = mod.default;
if (!suite || !Array.isArray(suite.scenarios)) {
  throw new TypeError(`${file}: the default export must be a suite from defineSuite()`);
}
const result = await runSuite(suite, process.env.BENCH_FILTER ? { filter: process.env.BENCH_FILTER } : {});
console.log(`\n${suiteText(result)}\n`);
writeFileSync(out, JSON.stringify(result));
// Benchmarks of servers and pools may leave handles a peer library does not close; results are written.
process.exit(0);
