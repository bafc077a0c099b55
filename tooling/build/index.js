// Plain JavaScript on purpose: tsup loads each package's tsup.config.ts with a bundler that leaves
// workspace dependencies external, so this factory must be loadable by Node without a TS loader.
import { defineConfig } from 'tsup';

/**
 * The tsup config every @perf package uses: ESM + CJS + `.d.ts`/`.d.cts`, Node 20 target, sourcemaps,
 * dependencies external. `using` declarations in sources are lowered by esbuild for Node 20.
 *
 * @param {import('./index.js').PerfBuildOptions} [options]
 */
export function createTsupConfig(options = {}) {
  const entry = options.entry ?? ['src/index.ts'];
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    target: 'node20',
    platform: 'node',
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: true,
    treeshake: true,
    outDir: 'dist',
    external: options.external ?? [],
  });
}
