import type { ProcSpec, Traffic } from '../shared/protocol.js';

/** What a scenario needs: requests or events, to one receiver or to several. */
export interface Shape {
  traffic: Traffic;
  receivers: number;
}

/** Processes started stage by stage; a stage may use what earlier ones reported (a port). */
export type Stage = (ready: Record<string, Record<string, unknown>>) => ProcSpec[];

/**
 * How a competitor lays out its processes for a shape. Every topology names its driving
 * process `driver` and its receivers `recv-1`..`recv-N`, so scenarios need not know more.
 */
export interface Topology {
  stages: Stage[];
}

export const DRIVER = 'driver';

export function receiverNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `recv-${i + 1}`);
}
