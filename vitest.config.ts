import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Tests import workspace packages from source: every package's `exports` has an `@perf/source`
// condition pointing at `src/`, so `vitest run` needs no build first.
const conditions = ['@perf/source', ...defaultServerConditions];

/** One vitest project per workspace folder that has a `test/` directory. */
function workspaceProjects() {
  const projects = [];
  for (const group of ['packages', 'tooling', 'examples']) {
    if (!existsSync(group)) continue;
    for (const name of readdirSync(group).sort()) {
      const dir = join(group, name);
      if (!existsSync(join(dir, 'test'))) continue;
      projects.push({
        extends: true as const,
        test: { name, root: dir, include: ['test/**/*.test.ts'] },
      });
    }
  }
  return projects;
}

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@perf/source'] } },
  test: {
    // One PostgreSQL server for the whole run, shared by every project (see @perf/testing).
    globalSetup: [join(import.meta.dirname, 'tooling/testing/src/global-setup.ts')],
    projects: workspaceProjects(),
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
