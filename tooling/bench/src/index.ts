import type { Suite } from './types';

export { formatMs, formatNumber, markdownTable, reportMarkdown, suiteText, textTable } from './format';
export { compare, isQuick, type RunSuiteOptions, runSuite } from './run';
export {
  bestPeer,
  quantile,
  quantileSorted,
  type SampleSummary,
  speedRatio,
  summarize,
  type Throughput,
} from './stats';
export type * from './types';

/**
 * Declares a benchmark file's suite (its default export). Identity at run time; it exists for types.
 *
 * @example
 * export default defineSuite({
 *   name: 'async',
 *   scenarios: [{
 *     name: 'Semaphore Limited', table: 'Async Operations', opsPerCall: 10_000,
 *     fn: () => runTasks(ours), peers: [{ name: 'p-limit', opsPerCall: 10_000, fn: () => runTasks(pLimit) }],
 *     targets: [{ peer: 'p-limit', minRatio: 3 }],
 *   }],
 * });
 */
export function defineSuite(suite: Suite): Suite {
  return suite;
}
