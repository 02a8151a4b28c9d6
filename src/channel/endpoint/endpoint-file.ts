import { readFileSync, writeFileSync } from 'node:fs';

/** What a loopback TCP hub publishes: where it listens and the token peers must prove. */
export interface EndpointRecord {
  readonly port: number;
  readonly token: Buffer;
  /** The hub's pid: a file naming a dead process is stale, whoever holds the port now. */
  readonly pid: number;
  /** The PID namespace of `pid`: only there does the pid tell whether the hub runs. */
  readonly pidNs?: string | undefined;
}

const VERSION = 1;

/** Writes a new file (never an existing one) readable by this user only. */
export function writeEndpointFile(path: string, record: EndpointRecord): void {
  const text = JSON.stringify({
    v: VERSION,
    host: '127.0.0.1',
    port: record.port,
    token: record.token.toString('hex'),
    pid: record.pid,
    pidNs: record.pidNs,
  });
  writeFileSync(path, `${text}\n`, { mode: 0o600, flag: 'wx' });
}

/**
 * Reads a published endpoint file. Throws the fs error (ENOENT: nobody published); returns
 * undefined for content that no hub of this version wrote, which counts as stale.
 */
export function readEndpointFile(path: string): EndpointRecord | undefined {
  const text = readFileSync(path, 'utf8');
  let parsed: { v?: unknown; port?: unknown; token?: unknown; pid?: unknown; pidNs?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    return undefined;
  }
  const { v, port, token, pid, pidNs } = parsed ?? {};
  if (
    v !== VERSION ||
    !Number.isInteger(port) ||
    (port as number) < 1 ||
    (port as number) > 65535 ||
    typeof token !== 'string' ||
    !/^[0-9a-f]{64}$/.test(token) ||
    !Number.isInteger(pid)
  ) {
    return undefined;
  }
  return {
    port: port as number,
    token: Buffer.from(token, 'hex'),
    pid: pid as number,
    pidNs: typeof pidNs === 'string' ? pidNs : undefined,
  };
}
