import type { Socket } from 'node:net';
import { FrameType, MIN_LENGTH, OFF_TYPE } from '../wire/frame.js';

/** Bytes that show a HubHello: its length and its type. */
const HEAD = OFF_TYPE + 1;
/** A HubHello is a few hundred bytes; a length far above that is not one. */
const MAX_HELLO_BYTES = 64 * 1024;
/** Bytes of what a foreign server sent, quoted in the error. */
const QUOTED = 40;

/** What the other end of a fresh connection to the socket path said first. */
export type Greeting =
  | { readonly kind: 'hub' }
  /** Nothing within the wait: a blocked hub, or a server that waits for its client. */
  | { readonly kind: 'silent' }
  /** It closed without a word: a hub that is closing. */
  | { readonly kind: 'closed' }
  /** It said something no hub says first. */
  | { readonly kind: 'foreign'; readonly sent: Buffer };

/**
 * Reads the first bytes of a connection to the hub's socket path and puts them back: a hub
 * greets every connection with a HubHello at once, so anything else there is another program.
 * Telling the two apart here turns what would be a timeout, or an endless round of elections,
 * into an error that names the cause.
 */
export function probeGreeting(socket: Socket, waitMs: number): Promise<Greeting> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(false), waitMs);
    const onReadable = () => {
      if (socket.readableLength >= HEAD || socket.readableEnded) finish(false);
    };
    const onGone = () => finish(true);
    function finish(ended: boolean) {
      clearTimeout(timer);
      socket.removeListener('readable', onReadable);
      socket.removeListener('end', onGone);
      socket.removeListener('close', onGone);
      socket.removeListener('error', onGone);
      const sent = (socket.read() as Buffer | null) ?? Buffer.alloc(0);
      // Whatever was read goes back, for the connection's own reader.
      if (sent.length > 0) socket.unshift(sent);
      resolve(judge(sent, ended));
    }
    socket.on('readable', onReadable);
    socket.once('end', onGone);
    socket.once('close', onGone);
    socket.once('error', onGone);
    onReadable();
  });
}

function judge(sent: Buffer, ended: boolean): Greeting {
  if (sent.length >= HEAD) {
    const length = sent.readUInt32LE(0);
    const hello =
      sent[OFF_TYPE] === FrameType.HubHello && length >= MIN_LENGTH && length <= MAX_HELLO_BYTES;
    return hello ? { kind: 'hub' } : { kind: 'foreign', sent: sent.subarray(0, QUOTED) };
  }
  if (sent.length > 0) return { kind: 'foreign', sent };
  return ended ? { kind: 'closed' } : { kind: 'silent' };
}

/** How a foreign server's first bytes read in an error message. */
export function describeSent(sent: Buffer): string {
  const printable = [...sent].every((b) => (b >= 0x20 && b <= 0x7e) || b === 0x0a || b === 0x0d);
  return printable
    ? `a server that answered ${JSON.stringify(sent.toString('latin1'))}`
    : `a server that answered bytes no hub sends first (${sent.toString('hex')})`;
}
