import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { CacheWarmUp } from './cache-warm-up.job.js';
import { LeaderController } from './leader.controller.js';

/** Run-once-per-cluster work: the leader-only warm-up job, and GET /leader. */
@Module({
  imports: [ScheduleModule.forRoot()],
  controllers: [LeaderController],
  providers: [CacheWarmUp], // IpcLeadership comes from IpcModule
})
export class LeaderModule {}
