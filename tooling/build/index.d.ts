import type { Options } from 'tsup';

/** Options for {@link createTsupConfig}. */
export interface PerfBuildOptions {
  /** Entry points, one per subpath export. @default ['src/index.ts'] */
  entry?: string[] | Record<string, string>;
  /** Extra modules to keep external (dependencies and peers are external already). @default [] */
  external?: string[];
}

/** The shared tsup config: ESM + CJS + d.ts/d.cts for Node >= 20. */
export declare function createTsupConfig(options?: PerfBuildOptions): Options | Options[];
