import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { IpcClient, type IpcContext, IpcEventPattern } from 'nestjs-ipc-channel';
import { CacheService, type Invalidate, type Invalidated } from './cache.service.js';

/** What other workers (and other processes on the channel) ask of this worker's cache. */
@Controller()
export class CacheHandlers {
  constructor(
    private readonly cache: CacheService,
    private readonly ipc: IpcClient,
  ) {}

  /** Drops the key and confirms to whoever sent the invalidation. */
  @IpcEventPattern('cache.invalidate')
  invalidate(@Payload() event: Invalidate, @Ctx() ctx: IpcContext): void {
    const had = this.cache.drop(event.key);
    const ack: Invalidated = {
      ref: event.ref,
      key: event.key,
      peer: ctx.getChannel().id!,
      pid: process.pid,
      had,
    };
    this.ipc.to(ctx.getSender()).emit('cache.invalidated', ack);
  }

  @IpcEventPattern('cache.invalidated')
  invalidated(@Payload() ack: Invalidated, @Ctx() ctx: IpcContext): void {
    this.cache.confirmed(ack, ctx.getSender());
  }
}
