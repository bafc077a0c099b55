import type { ClientConfig, Pool } from 'pg';
import { ControlConnection } from './postgres-connection';

/**
 * The LISTEN side of the PostgreSQL lock, shared: every provider of one process that uses the same
 * `pg.Pool` and key (the same release channel) shares one listening connection. Each NOTIFY then wakes
 * one backend and one client in this process instead of one per provider, which shortens the hand-off
 * of `wait: 'poll'` waiters under load. Providers with their own pool (built from a config or URL)
 * get a channel of their own.
 */

/** What a provider hears on its channel. */
export interface ReleaseSubscriber {
  /** A payload arrived on the channel. */
  onNotify(payload: string): void;
  /** The listening connection died: releases may have been missed. */
  onDown(): void;
}

/** One listening connection and the providers it serves. */
class Channel {
  readonly subscribers = new Set<ReleaseSubscriber>();
  readonly connection: ControlConnection;

  constructor(config: () => Promise<ClientConfig>, name: string) {
    this.connection = new ControlConnection(
      config,
      name,
      (payload) => {
        for (const subscriber of this.subscribers) subscriber.onNotify(payload);
      },
      () => {
        for (const subscriber of this.subscribers) subscriber.onDown();
      },
    );
  }
}

const shared = new WeakMap<Pool, Map<string, Channel>>();

/**
 * A provider's handle on its release channel. Nothing connects until {@link ReleaseListener.listen};
 * {@link ReleaseListener.close} leaves the channel and closes the connection when nobody else uses it.
 */
export class ReleaseListener {
  private readonly channel: Channel;
  private readonly registry: Map<string, Channel> | undefined;
  private left = false;

  /**
   * @param pool - the pool the provider was given, to share the connection with its other providers;
   *   `undefined` for a connection of its own.
   */
  constructor(
    pool: Pool | undefined,
    private readonly name: string,
    config: () => Promise<ClientConfig>,
    private readonly subscriber: ReleaseSubscriber,
  ) {
    let channels = pool ? shared.get(pool) : undefined;
    if (pool && !channels) {
      channels = new Map();
      shared.set(pool, channels);
    }
    let channel = channels?.get(name);
    if (!channel) {
      channel = new Channel(config, name);
      channels?.set(name, channel);
    }
    channel.subscribers.add(subscriber);
    this.channel = channel;
    this.registry = channels;
  }

  /** True while LISTEN is active. */
  get isListening(): boolean {
    return !this.left && this.channel.connection.isListening;
  }

  /** See `ControlConnection.listen`: `true` only when LISTEN was not active before. */
  listen(): Promise<boolean> | boolean {
    if (this.left || this.channel.connection.isListening) return false;
    return this.channel.connection.listen();
  }

  /** Sends `payload` on the channel through the listening connection; see `ControlConnection.notify`. */
  notify(payload: string): Promise<boolean> {
    if (this.left) return Promise.resolve(false);
    return this.channel.connection.notify(payload);
  }

  /** Leaves the channel; the last provider to leave closes the connection. */
  async close(): Promise<void> {
    if (this.left) return;
    this.left = true;
    const channel = this.channel;
    channel.subscribers.delete(this.subscriber);
    if (channel.subscribers.size > 0) return;
    // The last one out: a later provider of this pool and key opens a fresh connection.
    if (this.registry?.get(this.name) === channel) this.registry.delete(this.name);
    await channel.connection.close();
  }
}
