import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { CacheModule } from '../cache/cache.module.js';
import { CountRequestsInterceptor } from './count-requests.interceptor.js';
import { WorkerStats } from './worker-stats.service.js';
import { WorkersController } from './workers.controller.js';
import { WorkersHandlers } from './workers.handlers.js';

@Module({
  imports: [CacheModule],
  controllers: [WorkersController, WorkersHandlers],
  providers: [WorkerStats, { provide: APP_INTERCEPTOR, useClass: CountRequestsInterceptor }],
})
export class WorkersModule {}
