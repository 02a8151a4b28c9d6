import {
  AuthenticationError,
  HandshakeError,
  IdTakenError,
  type JoinRejectedError,
  MalformedFrameError,
} from '../errors.js';
import { MAX_PEER_ID, PROTOCOL_VERSION, readJson } from './frame.js';
import {
  type HubHello,
  type JoinRequest,
  type Reject,
  type Welcome,
  joinProof,
  proofsMatch,
  welcomeProof,
} from './handshake.js';

/**
 * What every process of a channel must share, as one side of a handshake knows it. Both sides
 * check the other against their own terms with the functions below, so a hub and a peer refuse
 * the same mismatch for the same reason, in the same words.
 */
export interface ChannelTerms {
  readonly name: string;
  readonly codec: string;
  readonly secret: Buffer | undefined;
}

/** The terms a handshake frame states (its fields come off the wire, unchecked). */
interface StatedTerms {
  readonly protocol: number;
  readonly name: string;
  readonly codec: string;
}

/**
 * How far past the wall clock (in ms) a stated leadership epoch may be. A hub that knows no
 * history starts at the clock and each later one adds one, so a real channel runs ahead of the
 * clock by its number of leaders at most. The bound keeps one Join stating 2^53 − 1 (where
 * adding one no longer changes a number) from stopping the fencing token from rising.
 */
export const MAX_EPOCH_AHEAD = 2 ** 32;

/** The highest leadership epoch a peer may state now. */
export function maxEpoch(now = Date.now()): number {
  return now + MAX_EPOCH_AHEAD;
}

/** Whether `value` is a leadership epoch a peer may have seen: an integer from 0 to maxEpoch(). */
export function isEpoch(value: unknown, now = Date.now()): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= maxEpoch(now);
}

/** A stated PID namespace: a short string (a Linux one reads 'pid:[4026531836]'), or none. */
export function readPidNs(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= 64 ? value : undefined;
}

/** Consumed marks (of a Join or a Leave) as a map, malformed pairs skipped. */
export function readConsumed(value: unknown): Map<number, number> | undefined {
  if (!Array.isArray(value)) return undefined;
  const marks = new Map<number, number>();
  for (const pair of value) {
    if (Array.isArray(pair) && typeof pair[0] === 'number' && typeof pair[1] === 'number') {
      marks.set(pair[0] >>> 0, pair[1]);
    }
  }
  return marks;
}

/** Whether `value` is a peer id: an integer from 1 to MAX_PEER_ID. */
export function isPeerId(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_PEER_ID;
}

/**
 * Reads a Join as far as the hub needs before it can answer with a Reject: a frame that is not
 * JSON, or lacks the joiner's incarnation, is malformed (the hub closes the connection).
 */
export function readJoin(frame: Buffer): JoinRequest {
  let req: JoinRequest;
  try {
    req = readJson<JoinRequest>(frame);
  } catch {
    throw new MalformedFrameError('Join is not JSON');
  }
  if (typeof req !== 'object' || req === null || typeof req.incarnation !== 'number') {
    throw new MalformedFrameError('Join lacks its fields');
  }
  return req;
}

/**
 * The hub's side: why it refuses this Join (protocol, channel name, codec, secret proof), or
 * undefined. `hubNonce` is the challenge of the HubHello the joiner answers.
 */
export function joinRefusal(
  req: JoinRequest,
  hub: ChannelTerms,
  hubNonce: string,
): Reject | undefined {
  const { name, codec, secret } = hub;
  const mismatch = termsMismatch({ protocol: PROTOCOL_VERSION, name, codec }, req, '');
  if (mismatch !== undefined) return mismatch;
  if (secret !== undefined && !proofsMatch(joinProof(secret, hubNonce, name), req.proof)) {
    return {
      reason: 'auth-failed',
      message: `Channel '${name}' requires a secret, and this process ${req.proof === undefined ? 'gave none' : 'gave a different one'}. Pass the same 'secret' option to every process.`,
    };
  }
  const now = Date.now();
  if (req.epoch !== undefined && !isEpoch(req.epoch, now)) {
    return {
      reason: 'invalid-epoch',
      message: `The Join states leadership epoch ${String(req.epoch)}, outside 0..${maxEpoch(now)} (the clock in ms plus 2^32): no hub of channel '${name}' gave it. Only nestjs-ipc-channel peers may join; restart this process.`,
    };
  }
  return undefined;
}

/**
 * The peer's side, on the hub's greeting: why it must not join this hub, or undefined.
 * `socketPath` names the endpoint in the message.
 */
export function helloRefusal(
  hello: HubHello,
  peer: ChannelTerms,
  socketPath: string,
): Reject | undefined {
  const { name, codec, secret } = peer;
  const ours = { protocol: PROTOCOL_VERSION, name, codec };
  const mismatch = termsMismatch(hello, ours, ` at ${socketPath}`);
  if (mismatch !== undefined) return mismatch;
  if (secret !== undefined && !hello.secured) {
    return {
      reason: 'auth-failed',
      message: `This process has a secret, but the process hosting channel '${name}' has none, so it cannot prove it is trusted. Pass the same 'secret' option to every process.`,
    };
  }
  if (secret === undefined && hello.secured) {
    return {
      reason: 'auth-failed',
      message: `Channel '${name}' requires a secret and this process has none. Pass the same 'secret' option to every process.`,
    };
  }
  return undefined;
}

/**
 * The peer's side, on the hub's Welcome: with a secret, the hub must prove it knows it too,
 * over the challenge `peerNonce` this peer sent in its Join.
 */
export function welcomeRefusal(
  welcome: Welcome,
  peer: ChannelTerms,
  peerNonce: string,
): Reject | undefined {
  const { name, secret } = peer;
  if (secret === undefined || proofsMatch(welcomeProof(secret, peerNonce, name), welcome.proof))
    return undefined;
  return {
    reason: 'auth-failed',
    message: `The process hosting channel '${name}' does not know this process's secret. Pass the same 'secret' option to every process.`,
  };
}

/** The typed error a peer raises for a refusal, whichever side refused. */
export function rejectionError(reject: Reject): JoinRejectedError {
  if (reject.reason === 'id-taken') return new IdTakenError(reject.id ?? 0);
  if (reject.reason === 'auth-failed') return new AuthenticationError(reject.message);
  return new HandshakeError(reject.reason, reject.message);
}

/** The checks both sides make alike; `where` places the socket in the name mismatch's message. */
function termsMismatch(hub: StatedTerms, peer: StatedTerms, where: string): Reject | undefined {
  if (hub.protocol !== peer.protocol) {
    return {
      reason: 'protocol-mismatch',
      message: `The hub of channel '${String(peer.name)}' speaks protocol ${String(hub.protocol)}, this process speaks ${String(peer.protocol)}: every process of a channel must run a compatible nestjs-ipc-channel. Restart them all on one version.`,
    };
  }
  if (hub.name !== peer.name) {
    return {
      reason: 'name-mismatch',
      message: `The socket${where} belongs to channel '${String(hub.name)}', not '${String(peer.name)}'. Use another 'dir' for this channel.`,
    };
  }
  if (hub.codec !== peer.codec) {
    return {
      reason: 'codec-mismatch',
      message: `Channel '${String(hub.name)}' uses the '${String(hub.codec)}' codec but this process uses '${String(peer.codec)}'. Every process of a channel must use the same codec.`,
    };
  }
  return undefined;
}
