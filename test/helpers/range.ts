/** The `count` integers from `from` on, in order: what a stream of numbers should deliver. */
export function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}
