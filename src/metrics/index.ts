export { ClusterMetrics, type ClusterMetricsOptions, PEER_UP_METRIC } from './cluster-metrics.js';
export { CHANNEL_FIGURES } from './channel-metrics.js';
export { IpcMetricsModule } from './nest/ipc-metrics.module.js';
export type { IpcMetricsModuleOptions } from './nest/metrics-mount.js';
