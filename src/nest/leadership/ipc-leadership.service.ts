import { Injectable } from '@nestjs/common';
import { Observable, distinctUntilChanged } from 'rxjs';
import { leadershipEvents } from './leadership-events.js';
import {
  type IpcLeadershipState,
  type LeadershipOptions,
  leadership,
  runOnLeader,
} from './run-on-leader.js';

/**
 * This process's leadership of the channel, for injection: add `IpcLeadership` to a module's
 * providers. It reads the process's IpcServer / IpcClient connection (there is one per
 * channel), so it needs no options; in a process with several channels use
 * `IpcLeadership.forChannel(name)` as the provider's factory.
 *
 * ```ts
 * constructor(private readonly leadership: IpcLeadership) {}
 * this.leadership.changes.subscribe(({ isLeader, epoch }) => ...);
 * ```
 */
@Injectable()
export class IpcLeadership {
  private options: LeadershipOptions = {};

  /** An IpcLeadership for one channel of a process that uses several. */
  static forChannel(name: string): IpcLeadership {
    const view = new IpcLeadership();
    view.options = { channel: name };
    return view;
  }

  /** Whether this process leads now (false until an IpcServer or IpcClient has joined). */
  get isLeader(): boolean {
    return leadership(this.options).isLeader;
  }

  /** The epoch of the current leadership, a fencing token (0 before joining). */
  get epoch(): number {
    return leadership(this.options).epoch;
  }

  /**
   * The leadership now, then every change: becoming leader, stepping down, a new epoch.
   * It never completes; unsubscribe when done.
   */
  readonly changes: Observable<IpcLeadershipState> = new Observable<IpcLeadershipState>(
    (subscriber) => {
      const update = (name: string) => {
        if (this.options.channel === undefined || this.options.channel === name)
          subscriber.next(leadership(this.options));
      };
      subscriber.next(leadership(this.options));
      leadershipEvents.on('change', update);
      return () => leadershipEvents.off('change', update);
    },
  ).pipe(distinctUntilChanged((a, b) => a.isLeader === b.isLeader && a.epoch === b.epoch));

  /** Runs `fn(epoch)` if this process leads; otherwise does nothing and returns undefined. */
  runOnLeader<T>(fn: (epoch: number) => T): T | undefined {
    return runOnLeader(fn, this.options);
  }
}
