import type { Shape } from '../orchestrator/topology.js';
import type { Trial } from '../orchestrator/trial.js';
import type { Settings } from '../settings.js';

export type Metrics = Record<string, number>;

/** A measurement that every competitor runs on a fresh trial of the given shape. */
export interface Scenario {
  key: string;
  label: string;
  shape: Shape;
  measure(trial: Trial, s: Settings): Promise<Metrics>;
}
