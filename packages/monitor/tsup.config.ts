import { createTsupConfig } from '@perf/build';

export default createTsupConfig({
  entry: {
    index: 'src/index.ts',
    node: 'src/node.ts',
    express: 'src/express.ts',
    fastify: 'src/fastify.ts',
    hono: 'src/hono.ts',
    otel: 'src/otel.ts',
  },
});
