import { InvalidOptionError } from '../errors.js';

/** The kinds of endpoint a hub can listen on. */
export type TransportKind = 'unix' | 'pipe' | 'tcp';

/** The `transport` option: a kind, or `'auto'` to choose one for the environment. */
export type TransportOption = 'auto' | TransportKind;

/** What the choice depends on; injected by tests, read from the process otherwise. */
export interface PlatformFacts {
  readonly platform: NodeJS.Platform;
  /** Whether this process is a `node:cluster` worker (PM2 cluster mode included). */
  readonly clusterWorker: boolean;
}

const KINDS: readonly TransportOption[] = ['auto', 'unix', 'pipe', 'tcp'];

export function isTransportOption(value: unknown): value is TransportOption {
  return typeof value === 'string' && (KINDS as readonly string[]).includes(value);
}

/**
 * The endpoint kind for this environment:
 * - Linux, macOS and the BSDs: a Unix socket, whose file permissions are the access control.
 * - Windows: a named pipe. But a `node:cluster` worker (PM2 cluster mode on Windows too) cannot
 *   listen on a named pipe: libuv hands every worker's listen to the primary, which would own
 *   the pipe and outlive the election. Those workers use loopback TCP, whose exclusive listen
 *   stays in the worker.
 */
export function chooseTransport(option: TransportOption, facts: PlatformFacts): TransportKind {
  const windows = facts.platform === 'win32';
  if (option === 'auto') {
    if (!windows) return 'unix';
    return facts.clusterWorker ? 'tcp' : 'pipe';
  }
  if (option === 'pipe' && !windows) {
    throw new InvalidOptionError(
      `transport 'pipe' (a Windows named pipe) is not available on ${facts.platform}. Use 'auto', 'unix' or 'tcp'.`,
    );
  }
  if (option === 'unix' && windows) {
    throw new InvalidOptionError(
      `transport 'unix' is not available on Windows. Use 'auto', 'pipe' or 'tcp'.`,
    );
  }
  if (option === 'pipe' && facts.clusterWorker) {
    throw new InvalidOptionError(
      `transport 'pipe' cannot work in a node:cluster worker (PM2 cluster mode included): Windows cluster workers cannot listen on named pipes, so no worker could host the hub. Use 'auto' or 'tcp'.`,
    );
  }
  return option;
}
