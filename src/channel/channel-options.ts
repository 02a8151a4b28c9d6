import cluster from 'node:cluster';
import { resolve } from 'node:path';
import type { Codec, CodecName } from './wire/codec.js';
import {
  type PlatformFacts,
  type TransportKind,
  type TransportOption,
  chooseTransport,
  isTransportOption,
} from './endpoint/endpoint-choice.js';
import { InvalidOptionError, shownValue } from './errors.js';
import { MAX_PEER_ID } from './wire/frame.js';
import type { ChannelLogger } from './logger.js';
import {
  type FederationOptions,
  type ResolvedFederationOptions,
  resolveFederation,
} from './federation/federation-options.js';

export type { FederationOptions } from './federation/federation-options.js';

/** Options of `new Channel()`. Every one is optional; the defaults suit a PM2 cluster. */
export interface ChannelOptions {
  /**
   * Processes with the same name form one channel. Default: the PM2 app name under PM2,
   * otherwise the absolute path of the entry script, so the workers of one app meet without
   * configuration.
   */
  name?: string;
  /**
   * This process's peer id (1..65532). Connect fails with IdTakenError if a live peer has it.
   * Default: `NODE_APP_INSTANCE + 1` under PM2 (waiting briefly for a reloading predecessor to
   * leave), otherwise the lowest free id.
   */
  id?: number;
  /** Directory for the socket (mode 0700, created if missing). Default `/tmp/nestjs-ipc-<uid>`, or `$NESTJS_IPC_DIR`. */
  dir?: string;
  /**
   * Where the hub listens: `'auto'` (default; a Unix socket on Linux and macOS, a named pipe on
   * Windows, loopback TCP in Windows cluster workers), or `'unix'`, `'pipe'`, `'tcp'` to force
   * one. Every process of a channel must end up on the same kind. Default `$NESTJS_IPC_TRANSPORT`,
   * else `'auto'`.
   */
  transport?: TransportOption;
  /** Payload codec: `'json'` (default), `'v8'`, or a custom `{ name, encode, decode }`. */
  codec?: CodecName | Codec;
  /** When set, only processes that know this secret can join (proved by HMAC, never sent). */
  secret?: string | Buffer;
  /** Largest frame accepted or sent, in bytes. Default 64 MiB. */
  maxFrameBytes?: number;
  /** How long a message to an absent peer id is held for that id to (re)join. Default 5000 ms. */
  graceMs?: number;
  /** Undelivered bytes above which send/emit return false (wait for 'drain'). Default 8 MiB. */
  highWaterMark?: number;
  /** Undelivered bytes above which send/emit throw QueueFullError. Default 256 MiB. */
  maxQueueBytes?: number;
  /** How long `connect()` may take before it fails with ConnectTimeoutError. Default 30000 ms. */
  connectTimeoutMs?: number;
  /** How long `close()` waits for undelivered messages before giving up on them. Default 5000 ms. */
  closeTimeoutMs?: number;
  /** How long a PM2 instance waits for its previous process to release its id. Default 10000 ms. */
  preferredIdWaitMs?: number;
  /**
   * Bytes the hub holds for absent peer ids, all together, before refusing more (the sender gets
   * UndeliverableError, reason `hold-full`). Default 64 MiB.
   */
  maxHeldBytes?: number;
  /**
   * Whether peers send to each other over direct links (Linux, `'unix'` transport): one socket
   * hop instead of two through the hub, with the same order and delivery guarantees; the hub
   * carries whatever a link cannot. Default true, or `$NESTJS_IPC_DIRECT_LINKS` (`0` turns them
   * off). Elsewhere, and with `false`, everything goes through the hub.
   */
  directLinks?: boolean;
  /**
   * How long a connection to or from the hub may carry nothing before its sender adds a 24-byte
   * heartbeat; traffic counts as one, so a busy channel sends none. Default 1000 ms.
   */
  heartbeatIntervalMs?: number;
  /**
   * How long a peer waits without hearing from its hub (data or heartbeat) before it deposes it
   * and elects another, and the hub waits without hearing from a peer before it cuts it off as
   * stalled. Must exceed `heartbeatIntervalMs`; give every process the same value. Default 5000
   * ms: far above a full GC pause or the event-loop lag of a loaded machine, so a healthy but
   * slow hub is not replaced.
   */
  heartbeatTimeoutMs?: number;
  /**
   * How long a peer may leave what it was sent unread (no receipt, no direct-link ack) before it
   * is cut off, so that it holds back no one else: its unicasts are then held for it for
   * `graceMs`, broadcasts sent while it is out are not. Default 5000 ms.
   */
  stallTimeoutMs?: number;
  /** Small JSON-able data other peers see as `peerMeta(id)`; change it with `setMeta`. */
  meta?: unknown;
  /** A Nest `LoggerService` (or `console`). The channel logs nothing without one. */
  logger?: ChannelLogger;
  /**
   * Spans the channel across hosts through a shared store (Redis): peers elsewhere are
   * `'<host>/<id>'`, `'all'` and `'others'` reach every host, `'host'` this host only, and one
   * process of all hosts leads. Off by default: the channel stays on this machine.
   */
  federation?: FederationOptions;
}

export interface ResolvedOptions {
  readonly name: string;
  readonly id: number | undefined;
  readonly preferredId: number | undefined;
  readonly dir: string | undefined;
  /** The endpoint kind chosen for this process. */
  readonly transport: TransportKind;
  readonly secret: Buffer | undefined;
  readonly maxFrameBytes: number;
  readonly graceMs: number;
  readonly highWaterMark: number;
  readonly maxQueueBytes: number;
  readonly connectTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly preferredIdWaitMs: number;
  readonly maxHeldBytes: number;
  readonly directLinks: boolean;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly stallTimeoutMs: number;
  /** This host's name when federated (see ChannelOptions.federation). */
  readonly host: string | undefined;
  /** The federation options, checked (undefined: not federated). */
  readonly federation: ResolvedFederationOptions | undefined;
}

const MiB = 1024 * 1024;

/** The default channel name (see ChannelOptions.name). */
export function defaultChannelName(): string {
  const env = process.env;
  if (env.pm_id !== undefined && env.name) return `pm2:${env.name}`;
  const entry = process.argv[1];
  return entry ? resolve(entry) : resolve('.');
}

/**
 * Under PM2 cluster (and fork) mode every instance has a stable number, reused when the instance
 * restarts or reloads; it makes a natural, stable peer id.
 */
export function pm2PreferredId(): number | undefined {
  const env = process.env;
  if (env.pm_id === undefined) return undefined;
  const varName = env.instance_var || 'NODE_APP_INSTANCE';
  const raw = env[varName];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  const id = Number(raw) + 1;
  return id <= MAX_PEER_ID ? id : undefined;
}

function directLinksOption(value: unknown): boolean {
  if (value === undefined) {
    const env = process.env.NESTJS_IPC_DIRECT_LINKS;
    return env === undefined || !['0', 'false', 'off', 'no'].includes(env.trim().toLowerCase());
  }
  if (typeof value !== 'boolean') {
    throw new InvalidOptionError(
      `Option 'directLinks' must be true or false, not ${shown(value)}.`,
    );
  }
  return value;
}

/** The longest a Node timer waits; a longer one fires after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A value as the reader should see it in an option error: `'5000'` must not read as 5000. */
function shown(value: unknown): string {
  return typeof value === 'string' ? `${shownValue(value)} (a string)` : shownValue(value);
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError(
      `Option '${name}' must be a positive number, got ${shown(value)}.`,
    );
  }
  return value;
}

/** A time limit in ms: positive, and short enough for a Node timer. */
export function duration(name: string, value: number | undefined, fallback: number): number {
  const ms = positive(name, value, fallback);
  if (ms > MAX_TIMER_MS) {
    throw new InvalidOptionError(
      `Option '${name}' must be at most ${MAX_TIMER_MS} ms (about 24.8 days), the longest a Node timer can wait; got ${ms}.`,
    );
  }
  return ms;
}

/** `meta` travels to every peer as JSON: anything else would fail in the middle of a join. */
export function checkMeta(meta: unknown, where: string): void {
  let json: string | undefined;
  try {
    json = JSON.stringify(meta);
  } catch (e) {
    throw new InvalidOptionError(
      `${where} must be JSON data (it reaches every peer as JSON): ${(e as Error).message}.`,
    );
  }
  if (json === undefined && meta !== undefined) {
    throw new InvalidOptionError(
      `${where} must be JSON data (it reaches every peer as JSON), got a ${typeof meta}.`,
    );
  }
}

/** A logger must have the methods the channel calls, or it would fail in the middle of a join. */
function checkLogger(logger: unknown): void {
  if (logger === undefined) return;
  const l = logger as Record<string, unknown> | null;
  const missing = ['log', 'warn', 'error'].filter((m) => typeof l?.[m] !== 'function');
  if (l === null || typeof l !== 'object' || missing.length > 0) {
    throw new InvalidOptionError(
      `Option 'logger' must have log, warn and error methods (console, or a Nest Logger)${
        l !== null && typeof l === 'object'
          ? `; it lacks ${missing.join(', ')}`
          : `, got ${shown(logger)}`
      }.`,
    );
  }
}

/**
 * The transport option, else NESTJS_IPC_TRANSPORT (so an operator can move every process of an
 * app at once), resolved to an endpoint kind for this platform.
 */
function resolveTransport(option: unknown, facts: PlatformFacts): TransportKind {
  const fromEnv = process.env.NESTJS_IPC_TRANSPORT;
  const source = option !== undefined ? "Option 'transport'" : 'NESTJS_IPC_TRANSPORT';
  const value = option ?? (fromEnv === undefined || fromEnv === '' ? 'auto' : fromEnv);
  if (!isTransportOption(value)) {
    throw new InvalidOptionError(
      `${source} must be 'auto', 'unix', 'pipe' or 'tcp', got ${JSON.stringify(value)}.`,
    );
  }
  return chooseTransport(value, facts);
}

export function resolveOptions(
  options: ChannelOptions,
  facts: PlatformFacts = {
    platform: process.platform,
    clusterWorker: cluster.isWorker,
  },
): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('Channel options must be an object.');
  }
  const name = options.name ?? defaultChannelName();
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError(
      `Option 'name' must be a non-empty string, got ${JSON.stringify(name)}.`,
    );
  }
  const id = options.id;
  if (id !== undefined && (!Number.isInteger(id) || id < 1 || id > MAX_PEER_ID)) {
    throw new InvalidOptionError(
      `Option 'id' must be an integer from 1 to ${MAX_PEER_ID}, got ${shown(id)}.`,
    );
  }
  if (options.dir !== undefined && (typeof options.dir !== 'string' || options.dir.length === 0)) {
    throw new InvalidOptionError(`Option 'dir' must be a non-empty path.`);
  }
  let secret: Buffer | undefined;
  if (options.secret !== undefined) {
    if (typeof options.secret === 'string') secret = Buffer.from(options.secret, 'utf8');
    else if (Buffer.isBuffer(options.secret)) secret = options.secret;
    else throw new InvalidOptionError(`Option 'secret' must be a string or a Buffer.`);
    if (secret.length === 0) throw new InvalidOptionError(`Option 'secret' must not be empty.`);
  }
  checkLogger(options.logger);
  checkMeta(options.meta, "Option 'meta'");
  const maxFrameBytes = positive('maxFrameBytes', options.maxFrameBytes, 64 * MiB);
  if (maxFrameBytes < 1024 || maxFrameBytes > 0xffffffff) {
    throw new InvalidOptionError(`Option 'maxFrameBytes' must be between 1024 and 4294967295.`);
  }
  const highWaterMark = positive('highWaterMark', options.highWaterMark, 8 * MiB);
  const maxQueueBytes = positive('maxQueueBytes', options.maxQueueBytes, 256 * MiB);
  if (maxQueueBytes < highWaterMark) {
    throw new InvalidOptionError(`Option 'maxQueueBytes' must not be below 'highWaterMark'.`);
  }
  const federation = resolveFederation(options.federation, name);
  const heartbeatIntervalMs = duration('heartbeatIntervalMs', options.heartbeatIntervalMs, 1000);
  const heartbeatTimeoutMs = duration('heartbeatTimeoutMs', options.heartbeatTimeoutMs, 5000);
  if (heartbeatTimeoutMs < 2 * heartbeatIntervalMs) {
    throw new InvalidOptionError(
      `Option 'heartbeatTimeoutMs' (${heartbeatTimeoutMs}) must be at least twice 'heartbeatIntervalMs' (${heartbeatIntervalMs}), or one late heartbeat would look like a hung process.`,
    );
  }
  return {
    name,
    id,
    preferredId: id === undefined ? pm2PreferredId() : undefined,
    dir: options.dir === undefined ? undefined : resolve(options.dir),
    transport: resolveTransport(options.transport, facts),
    secret,
    maxFrameBytes,
    graceMs: duration('graceMs', options.graceMs, 5000),
    highWaterMark,
    maxQueueBytes,
    connectTimeoutMs: duration('connectTimeoutMs', options.connectTimeoutMs, 30_000),
    closeTimeoutMs: duration('closeTimeoutMs', options.closeTimeoutMs, 5000),
    preferredIdWaitMs: duration('preferredIdWaitMs', options.preferredIdWaitMs, 10_000),
    maxHeldBytes: positive('maxHeldBytes', options.maxHeldBytes, 64 * MiB),
    directLinks: directLinksOption(options.directLinks),
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    stallTimeoutMs: duration('stallTimeoutMs', options.stallTimeoutMs, 5000),
    host: federation?.host,
    federation,
  };
}

/** The options the hub this process may host takes from the channel's. */
export function hubLimits(opts: ResolvedOptions) {
  return {
    graceMs: opts.graceMs,
    preferredIdWaitMs: opts.preferredIdWaitMs,
    maxHeldBytes: opts.maxHeldBytes,
    handshakeTimeoutMs: 10_000,
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    heartbeatTimeoutMs: opts.heartbeatTimeoutMs,
    stallTimeoutMs: opts.stallTimeoutMs,
  };
}
