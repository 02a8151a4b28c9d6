import { Module } from '@nestjs/common';
import { CacheController } from './cache.controller.js';
import { CacheHandlers } from './cache.handlers.js';
import { CacheService } from './cache.service.js';

@Module({
  controllers: [CacheController, CacheHandlers],
  providers: [CacheService],
  exports: [CacheService],
})
export class CacheModule {}
