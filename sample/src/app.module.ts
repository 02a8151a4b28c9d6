import { Module } from '@nestjs/common';
import { IpcModule } from 'nestjs-ipc-channel';
import { CacheModule } from './cache/cache.module.js';
import { ipcOptions } from './ipc.options.js';
import { LeaderModule } from './leader/leader.module.js';
import { RoomsModule } from './socket-io/rooms.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { WorkersModule } from './workers/workers.module.js';

@Module({
  imports: [
    // The channel for the whole app: IpcServer, IpcClient and IpcLeadership, injectable anywhere.
    IpcModule.forRoot({ ...ipcOptions(), timeout: 5000 }),
    CacheModule,
    WorkersModule,
    LeaderModule,
    RoomsModule,
    MetricsModule,
  ],
})
export class AppModule {}
