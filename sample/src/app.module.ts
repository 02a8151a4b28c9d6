import { Module } from '@nestjs/common';
import { ClientsModule } from '@nestjs/microservices';
import { IpcClient } from 'nestjs-ipc-channel';
import { CacheModule } from './cache/cache.module.js';
import { IPC, ipcOptions } from './ipc.options.js';
import { LeaderModule } from './leader/leader.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { WorkersModule } from './workers/workers.module.js';

@Module({
  imports: [
    // One IpcClient for the whole app; it shares the IpcServer's connection and peer id.
    ClientsModule.register({
      isGlobal: true,
      clients: [{ name: IPC, customClass: IpcClient, options: { ...ipcOptions(), timeout: 5000 } }],
    }),
    CacheModule,
    WorkersModule,
    LeaderModule,
    MetricsModule,
  ],
})
export class AppModule {}
