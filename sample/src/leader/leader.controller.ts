import { Controller, Get } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { type Channel, IpcClient, IpcEventPattern, IpcLeadership } from 'nestjs-ipc-channel';
import { CacheWarmUp } from './cache-warm-up.job.js';
import type { WarmUp } from './warm-up.types.js';

@Controller()
export class LeaderController {
  constructor(
    private readonly ipc: IpcClient,
    private readonly leadership: IpcLeadership,
    private readonly warmUps: CacheWarmUp,
  ) {}

  /** Who leads, as this worker sees it, and the warm-ups it received. */
  @Get('leader')
  async leader() {
    await this.ipc.connect(); // already joined, except in the first moments of a (re)start
    return {
      worker: this.ipc.id,
      pid: process.pid,
      isLeader: this.leadership.isLeader,
      epoch: this.leadership.epoch,
      leader: this.ipc.unwrap<Channel>().hubId ?? null,
      warmUpsRun: this.warmUps.ran,
      warmUpsReceived: this.warmUps.received,
    };
  }

  /** The leader's warm-up reaches every worker, which keeps the warm data. */
  @IpcEventPattern('cache.warm')
  warm(@Payload() warm: WarmUp): void {
    this.warmUps.receive(warm);
  }
}
