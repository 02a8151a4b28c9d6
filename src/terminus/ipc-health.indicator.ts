import { Injectable } from '@nestjs/common';
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { findSharedChannel } from '../nest/shared/channel-registry.js';
import { type IpcHealthOptions, assessChannel } from './ipc-health.js';

/**
 * A Terminus health indicator for this process's channel: up, with its peer id, role, peers,
 * leader, epoch, queued bytes and unconfirmed messages, while it is joined; down when it has
 * not joined, has had no hub for longer than `maxElectionMs`, or holds more unconfirmed bytes
 * than `maxQueuedBytes`. Works with @nestjs/terminus 11 and 12.
 *
 * ```ts
 * @Get('health')
 * @HealthCheck()
 * check() {
 *   return this.health.check([() => this.ipc.isHealthy('ipc')]);
 * }
 * ```
 */
@Injectable()
export class IpcHealthIndicator {
  constructor(private readonly indicators: HealthIndicatorService) {}

  /**
   * The health of the channel this process's IpcServer and IpcClient share (or of
   * `options.channel`), under `key` in Terminus' report.
   */
  isHealthy<const Key extends string>(
    key: Key,
    options: IpcHealthOptions = {},
  ): HealthIndicatorResult<Key> {
    const check = this.indicators.check(key);
    let verdict;
    try {
      verdict = assessChannel(findSharedChannel(options.channel)?.channel, options);
    } catch (e) {
      // Several channels and no name: the message says which option to set.
      return check.down({ message: (e as Error).message });
    }
    const data: Record<string, unknown> = { ...verdict.details };
    return verdict.up ? check.up(data) : check.down(data);
  }
}
