import { readFileSync, readdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { resolveEndpoint } from '../../src/channel/endpoint/endpoint.js';

/**
 * The endpoint kind this run of the suite uses: `npm run test:tcp` sets NESTJS_IPC_TRANSPORT=tcp,
 * which every Channel (in fixtures and in tests) honours; otherwise Unix sockets.
 */
export const TRANSPORT: 'unix' | 'tcp' =
  process.env.NESTJS_IPC_TRANSPORT === 'tcp' ? 'tcp' : 'unix';

/** The one file in `dir` whose name ends in `ext`. */
function fileEndingIn(dir: string, ext: string): string {
  const name = readdirSync(dir).find((f) => f.endsWith(ext));
  if (name === undefined)
    throw new Error(`no ${ext} file in ${dir}: ${readdirSync(dir).join(', ')}`);
  return join(dir, name);
}

/** The public endpoint file of the one channel in `dir`: `<base>.sock`, or `<base>.tcp` under tcp. */
export function publicEndpoint(dir: string): string {
  return fileEndingIn(dir, TRANSPORT === 'tcp' ? '.tcp' : '.sock');
}

/** A connection to the live hub of channel `name` in `dir`, as a peer opens it (past the tcp token proof). */
export async function openHubSocket(name: string, dir: string): Promise<Socket> {
  const outcome = await resolveEndpoint(name, { dir, transport: TRANSPORT }).connect();
  if (outcome.socket === undefined) throw new Error(`cannot reach the hub: ${outcome.code}`);
  return outcome.socket;
}

/** What a tcp hub publishes in its endpoint file. */
export interface TcpEndpointRecord {
  v: number;
  host: string;
  port: number;
  token: string;
  pid: number;
  /** The hub's PID namespace (Linux). */
  pidNs?: string;
}

/** The endpoint file of the one tcp channel in `dir` (whatever transport this run uses). */
export function tcpEndpointPath(dir: string): string {
  return fileEndingIn(dir, '.tcp');
}

/** What the tcp hub of the one channel in `dir` published. */
export function readTcpEndpoint(dir: string): TcpEndpointRecord {
  return JSON.parse(readFileSync(tcpEndpointPath(dir), 'utf8')) as TcpEndpointRecord;
}
