import type { IdRecord, UndeliverableReason } from './errors.js';
import { TARGET_ALL, TARGET_OTHERS } from './wire/frame.js';

// The messages of UndeliverableError and DeliveryUncertainError: each reason says what happened
// and what to do about it.

export function undeliverableText(
  target: number,
  reason: UndeliverableReason,
  event: string,
  record?: IdRecord,
): string {
  const who =
    target === TARGET_ALL
      ? 'every peer'
      : target === TARGET_OTHERS
        ? 'the other peers'
        : `peer ${target}`;
  const what = `${event === 'message' ? 'A message' : `An '${event}' event`} to ${who}`;
  switch (reason) {
    case 'grace-expired':
      if (record?.everHeld === true)
        return `${what} was not delivered: the process holding id ${target} left and no process took the id back within graceMs. Raise graceMs if its restarts take longer.`;
      if (record?.everHeld === false)
        return `${what} was not delivered: no process held id ${target} within the grace period, nor at any time since this process joined. Check the id against peers.`;
      return `${what} was not delivered: no process held id ${target} within the grace period. Check the id, or raise graceMs.`;
    case 'hold-full':
      return `${what} was not delivered: the hub already holds maxHeldBytes of messages for absent peers. Send to ids that are held (see peers), or raise maxHeldBytes on every process.`;
    case 'peer-absent':
      if (record?.leftMsAgo !== undefined)
        return `${what} was not delivered: peer ${target} is restarting (the process holding id ${target} left ${record.leftMsAgo} ms ago, and none has taken the id back yet). Retry shortly; without { hold: false } a message waits graceMs for its id.`;
      if (record?.everHeld === false)
        return `${what} was not delivered: no peer holds id ${target}, nor has any since this process joined. Check the id against peers.`;
      return `${what} was not delivered: no peer holds id ${target}. Check the id against peers; without { hold: false } a message waits graceMs for its id.`;
    case 'peer-retiring':
      return `${what} was not delivered: that peer is shutting down and takes nothing new. Retry; its successor will take the id.`;
    case 'peer-left':
      return `${what} was not delivered: the peer left before confirming it had read it (it may have).`;
    case 'frame-too-large':
      return `${what} was not delivered: it is larger than the maxFrameBytes of ${who}, which would not read it. Give every process of the channel the same maxFrameBytes.`;
    case 'channel-closed':
      return `${what} was not delivered before this channel closed: close() waits up to closeTimeoutMs for deliveries (raise it), and nothing is delivered by a channel that never joined (see connect()'s error).`;
  }
}

export function uncertainText(target: number, reason: UndeliverableReason, event: string): string {
  const what = `${event === 'message' ? 'A message' : `An '${event}' event`} to peer ${target}`;
  const retry = 'It may have been handled once: retry only if handling it twice is safe.';
  if (reason === 'channel-closed')
    return `${what} was written but not confirmed before this channel closed. ${retry}`;
  const then =
    reason === 'grace-expired'
      ? `no process took id ${target} again within graceMs`
      : reason === 'hold-full'
        ? `the hub already held maxHeldBytes of messages for absent peers`
        : `it could not be delivered again (${reason})`;
  return `${what} may have been read by the process holding id ${target}, which went away (or lost its hub) before confirming it; then ${then}, so no other process received it. ${retry}`;
}
