import { EventEmitter } from 'node:events';

/**
 * Leadership changes of every shared channel of this process, as `'change'` with the channel
 * name. A decorator or a service built before any IpcServer or IpcClient has joined learns of
 * them here, without dependency injection.
 */
export const leadershipEvents = new EventEmitter();
leadershipEvents.setMaxListeners(0);
