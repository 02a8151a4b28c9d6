import { Controller } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import type { IpcContext } from 'nestjs-ipc-channel';
import { CacheService } from '../cache/cache.service.js';
import { WorkerStats } from './worker-stats.service.js';
import type { Pong, WorkerInfo } from './workers.types.js';

const MiB = 1024 * 1024;

/** Requests other workers send to this one over the channel. */
@Controller()
export class WorkersHandlers {
  constructor(
    private readonly stats: WorkerStats,
    private readonly cache: CacheService,
  ) {}

  @MessagePattern('stats')
  describe(@Payload() _query: unknown, @Ctx() ctx: IpcContext): WorkerInfo {
    const channel = ctx.getChannel();
    const memory = process.memoryUsage();
    const instance = process.env.NODE_APP_INSTANCE;
    return {
      peer: channel.id!,
      pid: process.pid,
      instance: instance === undefined ? null : Number(instance),
      hub: channel.isHub,
      uptimeSec: Math.round((Date.now() - this.stats.startedAt) / 100) / 10,
      rssMiB: Math.round((memory.rss / MiB) * 10) / 10,
      heapUsedMiB: Math.round((memory.heapUsed / MiB) * 10) / 10,
      httpRequests: this.stats.httpRequests,
      ipcMessages: this.stats.ipcMessages,
      cacheKeys: this.cache.size,
      invalidations: this.cache.invalidations,
    };
  }

  @MessagePattern('ping')
  ping(@Payload() data: unknown, @Ctx() ctx: IpcContext): Pong {
    return { peer: ctx.getChannel().id!, pid: process.pid, from: ctx.getSender(), data };
  }
}
