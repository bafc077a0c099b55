import { createTsupConfig } from '@perf/build';

export default createTsupConfig({ entry: { index: 'src/index.ts' } });
