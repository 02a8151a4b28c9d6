import { createHmac } from 'node:crypto';
import { FrameType, HEADER_SIZE, writeHeader } from '../../src/channel/wire/frame.js';

/**
 * An inbox batch built by hand from the federation contract, as a Redis client that is no host
 * of the channel would write it: one Federated frame for `target` on the receiving host, claiming
 * to come from peer `from.id` of host `from.host`, carrying the event 'n' with `args`.
 *
 * Signed with `secret` (the HMAC-SHA256 trailer the bridges use), with a wrong one, or not at all:
 * a receiver must take only the first when its channel has a secret.
 */
export function forgedBatch(opts: {
  channel: string;
  target: number;
  from: { host: string; id: number; incarnation: number; seq: number };
  args: unknown[];
  secret?: string;
}): Buffer {
  const inner = eventFrame('n', opts.args);
  const host = Buffer.from(opts.from.host, 'utf8');
  const body = Buffer.alloc(1 + host.length + 2 + 4 + 8);
  let at = 0;
  body[at++] = host.length;
  at += host.copy(body, at);
  body.writeUInt16LE(opts.from.id, at);
  body.writeUInt32LE(opts.from.incarnation, at + 2);
  body.writeUInt32LE(Math.floor(opts.from.seq / 2 ** 32), at + 6);
  body.writeUInt32LE(opts.from.seq >>> 0, at + 10);
  const frame = Buffer.alloc(HEADER_SIZE + body.length + inner.length);
  writeHeader(frame, FrameType.Federated, 0, opts.target, 0, 0x5eed, 1);
  body.copy(frame, HEADER_SIZE);
  inner.copy(frame, HEADER_SIZE + body.length);
  if (opts.secret === undefined) return frame;
  const key = createHmac('sha256', opts.secret).update(`ipc-federation:${opts.channel}`).digest();
  return Buffer.concat([frame, createHmac('sha256', key).update(frame).digest()]);
}

/** An Event frame as a sender encodes it with the JSON codec; its routing fields are 0. */
function eventFrame(name: string, args: unknown[]): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const payload = Buffer.from(JSON.stringify(args), 'utf8');
  const frame = Buffer.alloc(HEADER_SIZE + nameBytes.length + payload.length);
  writeHeader(frame, FrameType.Event, 0, 0, nameBytes.length, 0, 0);
  nameBytes.copy(frame, HEADER_SIZE);
  payload.copy(frame, HEADER_SIZE + nameBytes.length);
  return frame;
}
