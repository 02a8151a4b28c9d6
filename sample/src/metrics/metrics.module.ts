import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { IpcMetricsModule } from 'nestjs-ipc-channel/metrics';
import { collectDefaultMetrics } from 'prom-client';
import { ipcOptions } from '../ipc.options.js';
import { HttpRequestsInterceptor } from './http-requests.interceptor.js';

// Node's own figures (heap, event loop lag, CPU) for each worker, summed over the cluster.
collectDefaultMetrics();

/**
 * `GET /metrics` on any worker returns the whole cluster's metrics: each worker's prom-client
 * registry, gathered over the channel and aggregated, plus the channel's own `ipc_channel_*`
 * figures and `ipc_metrics_peer_up` for each worker.
 */
@Module({
  imports: [IpcMetricsModule.forRoot({ channel: ipcOptions() })],
  providers: [{ provide: APP_INTERCEPTOR, useClass: HttpRequestsInterceptor }],
})
export class MetricsModule {}
