import type {
  DynamicModule,
  MiddlewareConsumer,
  NestModule,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { ClusterMetrics } from '../cluster-metrics.js';
import { type IpcMetricsModuleOptions, MetricsMount } from './metrics-mount.js';

/**
 * Cluster-wide `/metrics` for a Nest app: import it in every worker's root module, with the
 * same channel options as the IpcServer. Each worker then answers collections from its
 * registries (prom-client's global `register` unless told otherwise), and `GET /metrics` on any
 * worker returns the whole channel's metrics. `ClusterMetrics` can be injected.
 *
 * ```ts
 * @Module({ imports: [IpcMetricsModule.forRoot({ channel: ipcOptions() })] })
 * export class AppModule {}
 * ```
 *
 * It uses no Nest decorator, so `nestjs-ipc-channel/metrics` loads without Nest installed.
 */
export class IpcMetricsModule {
  /** The module for one app; call it once per app. */
  static forRoot(options: IpcMetricsModuleOptions = {}): DynamicModule {
    const mount = new MetricsMount(options);
    // The module class of this app: Nest makes one instance of it, which mounts the path and
    // releases the channel when the app closes.
    class IpcMetricsHost implements NestModule, OnApplicationBootstrap, OnModuleDestroy {
      configure(consumer: MiddlewareConsumer): void {
        if (options.path !== false)
          consumer.apply(mount.serve).forRoutes(options.path ?? 'metrics');
      }

      onApplicationBootstrap(): void {
        mount.join();
      }

      onModuleDestroy(): Promise<void> {
        return mount.stop();
      }
    }
    return {
      module: IpcMetricsHost,
      providers: [{ provide: ClusterMetrics, useFactory: () => mount.start() }],
      exports: [ClusterMetrics],
    };
  }
}
