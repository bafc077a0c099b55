export {
  type PostgresConnectionConfig,
  queryOnce,
  type StartPostgresOptions,
  startPostgres,
  type TestPostgres,
} from './postgres';
export { type ProcessResult, type RunProcessOptions, runNodeScript, runProcesses } from './processes';
export { type TmpDir, tmpDir } from './tmp';
