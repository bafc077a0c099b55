import type { TestProject } from 'vitest/node';
import { startPostgres, type TestPostgres } from './postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the PostgreSQL server shared by the whole test run. */
    pgUrl: string;
  }
}

// Vitest calls the global setup once per project that inherits the root config; the server is shared
// through a process-wide slot so that the whole run starts exactly one, and the last teardown stops it.
const SLOT = Symbol.for('@perf/testing/global-postgres');
interface Shared {
  server: Promise<TestPostgres>;
  users: number;
}
const registry = globalThis as unknown as { [SLOT]?: Shared | undefined };

export default async function setup(project: TestProject) {
  let shared = registry[SLOT];
  if (!shared) {
    shared = { server: startPostgres(), users: 0 };
    registry[SLOT] = shared;
  }
  shared.users++;
  const server = await shared.server;
  // Forked test workers inherit the environment, so `startPostgres()` in a test reuses this server.
  process.env.PERF_PG_URL = server.url;
  project.provide('pgUrl', server.url);
  return async () => {
    const current = registry[SLOT];
    if (!current || --current.users > 0) return;
    registry[SLOT] = undefined;
    await server.stop();
  };
}
