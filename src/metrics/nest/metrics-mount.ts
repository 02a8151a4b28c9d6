import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChannelOptions } from '../../channel/channel-options.js';
import { ClusterMetrics, type ClusterMetricsOptions } from '../cluster-metrics.js';

/** Options of `IpcMetricsModule.forRoot()`. */
export interface IpcMetricsModuleOptions extends ClusterMetricsOptions {
  /**
   * The channel's options: give the same ones as the app's IpcServer and IpcClient, and the
   * three share one connection and one peer id. Default `{}` (the default channel).
   */
  channel?: ChannelOptions;
  /**
   * Where the whole channel's metrics are served (GET and HEAD), under the app's global prefix.
   * `false` serves nothing: inject `ClusterMetrics` into a controller of your own. Default
   * `'metrics'`.
   */
  path?: string | false;
}

/**
 * What IpcMetricsModule sets up in one app: this process's ClusterMetrics on the shared channel
 * connection (the IpcServer's and IpcClient's), and the handler of the metrics path.
 */
export class MetricsMount {
  private metrics: ClusterMetrics | undefined;
  private release: (() => Promise<void>) | undefined;
  private connect: (() => Promise<void>) | undefined;
  /** Why joining the channel failed, when it did: scrapes say so. */
  private joinError: Error | undefined;

  constructor(readonly options: IpcMetricsModuleOptions) {}

  /**
   * Takes a share of the process's connection to the channel (made now if no IpcServer or
   * IpcClient made it yet) and starts answering collections, from the join on.
   */
  async start(): Promise<ClusterMetrics> {
    // Loaded here, not at the top: it brings Nest, which a framework-free user of
    // ClusterMetrics does not have.
    const registry = await import('../../nest/shared/channel-registry.js');
    const shared = registry.acquireSharedChannel(this.options.channel ?? {});
    try {
      this.metrics = new ClusterMetrics(shared.channel, this.options);
    } catch (e) {
      await registry.releaseSharedChannel(shared);
      throw e;
    }
    this.release = () => registry.releaseSharedChannel(shared);
    this.connect = () => shared.connect();
    return this.metrics;
  }

  /**
   * Joins the channel, if the app's IpcServer or IpcClient has not started to, once the app
   * is bootstrapped: not while its modules load. A PM2 instance waits only so long for the
   * process it replaces to release its peer id, and that wait starts with the join; joining
   * before the app is ready would spend it while PM2 has not yet stopped that process. The
   * join is not waited for: the IpcServer waits for it, and reports its errors too.
   */
  join(): void {
    this.connect?.().catch((e: unknown) => {
      this.joinError = e as Error;
    });
  }

  /** The metrics path's handler, as Nest middleware (Express and Fastify alike). */
  readonly serve = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      next();
      return;
    }
    void this.answer(req.method === 'HEAD', res);
  };

  /** Stops answering collections and drops this module's share of the connection. */
  async stop(): Promise<void> {
    this.metrics?.close();
    this.metrics = undefined;
    const release = this.release;
    this.release = undefined;
    await release?.();
  }

  private async answer(head: boolean, res: ServerResponse): Promise<void> {
    const metrics = this.metrics;
    let status = 200;
    let body: string;
    try {
      if (metrics === undefined) throw new Error('the app is not initialized (or is closing)');
      if (this.joinError !== undefined) throw this.joinError;
      body = await metrics.metrics();
    } catch (e) {
      status = 503;
      body = `cluster metrics unavailable: ${(e as Error).message}\n`;
    }
    res.statusCode = status;
    res.setHeader(
      'Content-Type',
      status === 200 ? metrics!.contentType : 'text/plain; charset=utf-8',
    );
    res.end(head ? undefined : body);
  }
}
