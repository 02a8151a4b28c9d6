import type { LoggerService } from '@nestjs/common';
import { Observable } from 'rxjs';
import type { TargetSpec } from '../../channel/channel-target.js';
import type { Channel } from '../../channel/channel.js';
import type { SharedChannel } from '../shared/shared-channel.js';

/** What `emit` returns for an event above the high-water mark: completes on 'drain'. */
export function whenWritable(channel: Channel): Observable<undefined> {
  return new Observable<undefined>((subscriber) => {
    const done = () => {
      subscriber.next(undefined);
      subscriber.complete();
    };
    channel.once('drain', done);
    return () => channel.off('drain', done);
  });
}

/**
 * What `emit` returns under `confirmEvents`, for the event just sent: it completes once every
 * peer it went to has read it and one of them handles its pattern, and errors with the channel's
 * verdict (UndeliverableError, DeliveryUncertainError) or NoEventHandlerError. Both are asked
 * now, subscribed or not (Nest's emit is hot); a failure nobody has subscribed to yet is logged,
 * not lost.
 */
export function whenConfirmed(
  shared: SharedChannel,
  route: string,
  target: TargetSpec,
  log: LoggerService,
): Observable<undefined> {
  const channel = shared.channel;
  let watched = false;
  const outcome = Promise.all([
    channel._confirmation(channel._lastSeq),
    shared.directory.eventVerdict(route, target),
  ]).then(
    () => undefined,
    (error: unknown) => {
      if (!watched) log.warn(`emit '${route}' failed: ${(error as Error).message}`);
      throw error;
    },
  );
  outcome.catch(() => {}); // reported above or through the Observable, never as unhandled
  return new Observable<undefined>((subscriber) => {
    watched = true;
    outcome.then(
      () => {
        subscriber.next(undefined);
        subscriber.complete();
      },
      (error: unknown) => subscriber.error(error),
    );
  });
}
