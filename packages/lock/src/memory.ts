import { type AttemptContext, type BaseLockOptions, BaseLockProvider, type Lease } from './base';
import type { Handle } from './handle';

/** Whether holders exclude each other (`exclusive`) or only exclusive holders (`shared`, readers). */
export type LockMode = 'exclusive' | 'shared';

/** Options for {@link MemoryLockProvider}. */
export interface MemoryLockOptions extends BaseLockOptions {
  /** `exclusive` (one holder) or `shared` (many shared holders, no exclusive one). @default 'exclusive' */
  mode?: LockMode;
  /** Hand out a fencing token (strictly increasing per key within the registry) with every handle. @default false */
  fencing?: boolean;
  /**
   * The lock table. Providers with the same key and registry exclude each other; the default registry is
   * shared by the whole process (per copy of this package). Pass your own to isolate tests.
   * @default the process-wide registry
   */
  registry?: MemoryLockRegistry;
}

interface Entry {
  exclusive: boolean;
  shared: number;
  /** Providers with this key, so a release wakes waiters of all of them. */
  providers: Set<MemoryLockProvider>;
}

/**
 * The lock table behind {@link MemoryLockProvider}: which keys are held, and the fencing counter per key.
 * An entry lives while a provider for its key is open; fencing counters live as long as the registry,
 * so tokens keep increasing across providers and holders (one bigint per key that used fencing).
 */
export class MemoryLockRegistry {
  /** @internal */ readonly entries = new Map<string, Entry>();
  /** @internal */ readonly tokens = new Map<string, bigint>();

  /** Keys with at least one open provider. */
  get size(): number {
    return this.entries.size;
  }

  /** True when `name` is held, by any provider of this registry. */
  isHeld(name: string): boolean {
    const entry = this.entries.get(name);
    return entry !== undefined && (entry.exclusive || entry.shared > 0);
  }
}

let defaultRegistry: MemoryLockRegistry | undefined;

/**
 * An in-process lock with the same contract as the PostgreSQL and file locks: for tests, for single
 * instances, and as the fallback of `createLockProvider({ type: 'memory' })`. Waiters wake on release
 * (the oldest first), with the backoff policy as the bound on how long they keep trying.
 *
 * @example
 * const lock = new MemoryLockProvider('invoices', { fencing: true });
 * await using handle = await lock.acquire({ timeoutMs: 1000 });
 * console.log(handle.fencingToken); // 1n, then 2n for the next holder, ...
 *
 * @throws {TypeError} for an empty or non-string key, an unknown mode, or invalid backoff options.
 */
export class MemoryLockProvider extends BaseLockProvider<LockMode> {
  /** The lock's name (without the `memory:` prefix). */
  readonly name: string;
  /** `exclusive` or `shared`. */
  readonly mode: LockMode;
  private readonly fencing: boolean;
  private readonly registry: MemoryLockRegistry;
  private readonly entry: Entry;

  constructor(name: string, options: MemoryLockOptions = {}) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError(`MemoryLockProvider: key must be a non-empty string, received ${String(name)}`);
    }
    super(`memory:${name}`, options, 'MemoryLockProvider');
    this.name = name;
    this.mode = checkMode('MemoryLockProvider', options.mode);
    this.fencing = options.fencing ?? false;
    defaultRegistry ??= new MemoryLockRegistry();
    this.registry = options.registry ?? defaultRegistry;
    if (!(this.registry instanceof MemoryLockRegistry)) {
      throw new TypeError('MemoryLockProvider: registry must be a MemoryLockRegistry');
    }
    this.wakeAll = this.mode === 'shared';
    let entry = this.registry.entries.get(name);
    if (!entry) {
      entry = { exclusive: false, shared: 0, providers: new Set() };
      this.registry.entries.set(name, entry);
    }
    entry.providers.add(this);
    this.entry = entry;
  }

  protected override tryOnce(_ctx: AttemptContext): Promise<Lease<LockMode> | undefined> {
    const entry = this.entry;
    if (entry.exclusive || (this.mode === 'exclusive' && entry.shared > 0)) return Promise.resolve(undefined);
    if (this.mode === 'exclusive') entry.exclusive = true;
    else entry.shared++;
    return Promise.resolve({ state: this.mode, fencingToken: this.fencing ? this.nextToken() : undefined });
  }

  protected override releaseOnce(handle: Handle<LockMode>): Promise<void> {
    if (handle.state === 'exclusive') this.entry.exclusive = false;
    else this.entry.shared--;
    // Waiters of other providers with this key sleep in their own provider; the base wakes ours.
    for (const provider of this.entry.providers) if (provider !== this) provider.wake();
    return Promise.resolve();
  }

  protected override onClose(): void {
    this.entry.providers.delete(this);
    if (this.entry.providers.size === 0) this.registry.entries.delete(this.name);
  }

  private nextToken(): bigint {
    const token = (this.registry.tokens.get(this.name) ?? 0n) + 1n;
    this.registry.tokens.set(this.name, token);
    return token;
  }
}

/**
 * Validates a lock mode option.
 * @throws {TypeError} naming the option and the value received.
 */
export function checkMode(owner: string, mode: unknown): LockMode {
  if (mode === undefined) return 'exclusive';
  if (mode !== 'exclusive' && mode !== 'shared') {
    throw new TypeError(`${owner}: mode must be 'exclusive' or 'shared', received ${String(mode)}`);
  }
  return mode;
}
