/**
 * The faults of a chaos round, how often the seed picks each, and the liveness settings the
 * chaos peers run with (see harness.ts).
 */
export type Fault =
  | 'killHub'
  | 'killPeer'
  | 'stopPeer'
  | 'stopHub'
  | 'hangReader'
  | 'hangHub'
  | 'addPeer'
  | 'killHubTwice'
  | 'killHubAndPeer'
  | 'stopPeerKillHub'
  | 'none';

/** Each fault's share of the rounds, in the order the seed's roll picks them. */
const FAULT_ODDS: [Fault, number][] = [
  ['killHub', 0.14],
  ['killPeer', 0.18],
  ['hangReader', 0.1],
  ['stopPeer', 0.08],
  ['stopHub', 0.06],
  ['hangHub', 0.08],
  ['addPeer', 0.08],
  ['killHubTwice', 0.08],
  ['killHubAndPeer', 0.07],
  ['stopPeerKillHub', 0.08],
];

/**
 * The peers' liveness settings: short, so that a process stopped for a second or two crosses
 * them, and the run takes no longer than with shorter stops.
 */
export const LIVENESS = {
  heartbeatIntervalMs: 250,
  heartbeatTimeoutMs: 1000,
  stallTimeoutMs: 1000,
};

/** How many processes each fault kills with SIGKILL. */
export const KILLS: Record<Fault, number> = {
  killHub: 1,
  killPeer: 1,
  stopPeer: 0,
  stopHub: 0,
  hangReader: 0,
  hangHub: 0,
  addPeer: 0,
  killHubTwice: 2,
  killHubAndPeer: 2,
  stopPeerKillHub: 1,
  none: 0,
};

export function pickFault(roll: number): Fault {
  let edge = 0;
  for (const [fault, odds] of FAULT_ODDS) {
    edge += odds;
    if (roll < edge) return fault;
  }
  return 'none';
}
