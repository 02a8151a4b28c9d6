import type { Endpoint } from '../endpoint/endpoint.js';
import type { IpcChannelError } from '../errors.js';
import type { ExpectedPeer, HubOptions } from '../hub/hub.js';
import type { Log } from '../logger.js';
import type { JoinRequest, Welcome } from '../wire/handshake.js';
import type { BridgeHost } from './bridge-host.js';

/** The states of a peer's link to its hub. */
export enum HubLinkState {
  Idle = 'idle',
  /** Looking for the hub, or becoming it. */
  Electing = 'electing',
  /** Connected; exchanging HubHello / Join / Welcome. */
  Handshaking = 'handshaking',
  /** Joined: data flows. */
  Joined = 'joined',
  /** Sent Leave, waiting for Bye. */
  Leaving = 'leaving',
  Closed = 'closed',
}

/** What the link needs from the channel that owns it. */
export interface HubLinkOwner {
  /** The Join to send (claim, meta, incarnation) for the hub that greeted us. */
  joinRequest(nonce: string): Omit<JoinRequest, 'nonce' | 'proof'>;
  /** Peers to keep ids for, should this process become the hub. */
  expectedPeers(): ExpectedPeer[];
  joined(welcome: Welcome, hubMaxFrameBytes: number): void;
  /** Frames that follow the Welcome on the same connection. */
  frames(frames: Buffer[]): void;
  /** The connection to the hub is gone (`handover`: the hub announced it); already electing. */
  disconnected(error: Error | undefined, handover: boolean): void;
  /** The hub refused us, or the handshake failed. */
  failed(error: IpcChannelError, initial: boolean): void;
  /** A recoverable problem worth reporting (an election error, a fault). */
  error(error: IpcChannelError): void;
}

export interface HubLinkOptions {
  readonly endpoint: Endpoint;
  readonly name: string;
  readonly codec: string;
  readonly secret: Buffer | undefined;
  readonly maxFrameBytes: number;
  readonly hub: Omit<
    HubOptions,
    'expected' | 'name' | 'codec' | 'secret' | 'maxFrameBytes' | 'log'
  >;
  readonly log: Log;
  /** The bridge to other hosts of a federated channel, made with each hub this process hosts. */
  readonly bridges?: BridgeHost;
}
