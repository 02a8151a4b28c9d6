/** `cache.warm`: what the leader's warm-up job sends every worker. */
export interface WarmUp {
  /** Peer id and pid of the worker that ran the job (the leader). */
  by: number;
  pid: number;
  /** Its leadership epoch: one leader per epoch, a higher epoch for every later leader. */
  epoch: number;
  /** The how-manieth run on that worker. */
  run: number;
  /** When it ran (ms since the epoch, the machine's clock). */
  at: number;
}
