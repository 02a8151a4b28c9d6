/** peer.js fixtures run as the instances of a PM2 app, for tests of what a `pm2 reload` does. */
import type { PeerState } from './peer-fixture.js';
import { Proc } from './processes.js';
import type { Sandbox } from './sandbox.js';

/**
 * The environment of a peer.js fixture run as instance `instance` of the PM2 app `app`: it
 * prefers peer id instance + 1, and logs to stderr (where the hub says who waits for an id).
 */
export function pm2PeerEnv(box: Sandbox, app: string, instance: number): Record<string, string> {
  return {
    ...box.peerEnv(),
    pm_id: String(10 + instance),
    name: app,
    NODE_APP_INSTANCE: String(instance),
    PEER_LOG: '1',
  };
}

/** A reload caught midway (see reloadMidway). */
export interface ReloadMidway {
  /** Instance 1: hosts the hub, as id 2. */
  hub: Proc;
  /** The old process of instance 0: holds id 1. */
  old: Proc;
  /** The new process of instance 0: its Join waits for id 1. */
  next: Proc;
  /** Its connect(), which settles once it has id 1. */
  joining: Promise<PeerState>;
}

/**
 * Starts a PM2 app's instance 1 (the hub) and the old process of instance 0, then the new
 * process of instance 0, and returns once the hub has said that the new one waits for id 1.
 */
export async function reloadMidway(box: Sandbox, app: string): Promise<ReloadMidway> {
  const hub = await Proc.start('peer.js', pm2PeerEnv(box, app, 1));
  await hub.call('connect');
  const old = await Proc.start('peer.js', pm2PeerEnv(box, app, 0));
  await old.call('connect');
  const next = await Proc.start('peer.js', pm2PeerEnv(box, app, 0));
  const joining = next.call<PeerState>('connect');
  await hub.waitStderr(`hub: pid ${next.pid} waits for id 1`);
  return { hub, old, next, joining };
}
