import { join } from 'node:path';
import type { Channel, ChannelOptions } from '../../src/index.js';
import { MemoryStore } from './memory-adapter.js';
import type { Sandbox } from './sandbox.js';

/**
 * Hosts of one federated channel inside this process: each host is its own socket directory
 * under the sandbox's, and every host's bridge reaches the others through one MemoryStore (what
 * Redis is to real hosts). Fast heartbeats make host views renew every 50 ms.
 */
export class FederatedHosts {
  readonly store = new MemoryStore();

  constructor(private readonly box: Sandbox) {}

  /** A channel of `host` (not connected yet). */
  channel(host: string, options: ChannelOptions = {}): Channel {
    return this.box.channel({
      dir: join(this.box.dir, host),
      heartbeatIntervalMs: 50,
      heartbeatTimeoutMs: 1000,
      ...options,
      federation: { host, adapter: this.store.factory, hostTimeoutMs: 1000, leaseMs: 1000 },
    });
  }

  /** A connected channel of `host`. */
  async connected(host: string, options: ChannelOptions = {}): Promise<Channel> {
    const ch = this.channel(host, options);
    await ch.connect();
    return ch;
  }
}
