/** The one payload every scenario and every competitor sends: `{ n: i, s: <64 chars> }`. */
export interface BenchPayload {
  n: number;
  s: string;
  /** Send time (shared clock, ns): only the failover ticks carry it. */
  t?: number;
}

/** 64 characters of ASCII, so byte and character counts agree on every transport. */
export const SIXTY_FOUR = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/';

/** A fresh object per message: encoding it is part of the cost being measured. */
export function payload(n: number): BenchPayload {
  return { n, s: SIXTY_FOUR };
}
