/** Most incarnations remembered; each restart of any peer adds one. */
const MAX_TRACKED = 16_384;

/**
 * Drops frames this process has already accepted. After a failover a sender writes again every
 * frame the hub had not confirmed, and some of them were delivered before the hub died; since
 * each sender's frames reach a receiver in sequence order, "not above the last one accepted"
 * identifies those copies. Keyed by the sender's incarnation, so a restarted sender (whose
 * sequence starts again at 1) is a new stream.
 */
export class Dedup {
  private readonly last = new Map<number, number>();

  /** True the first time (incarnation, seq) is seen in order; false for a copy. */
  accept(incarnation: number, seq: number): boolean {
    const last = this.last.get(incarnation);
    if (last !== undefined && seq <= last) return false;
    if (last === undefined && this.last.size >= MAX_TRACKED) {
      // Forget the oldest stream: Map keeps insertion order.
      this.last.delete(this.last.keys().next().value!);
    }
    this.last.set(incarnation, seq);
    return true;
  }

  /**
   * Takes another process's marks as this one's (see Welcome.consumed): frames up to each are
   * dropped as copies.
   */
  seed(marks: ReadonlyMap<number, number>): void {
    for (const [inc, seq] of marks) {
      const last = this.last.get(inc);
      if (last === undefined || seq > last) this.accept(inc, seq);
    }
  }

  /** The last sequence accepted from each of these incarnations: what this process consumed. */
  marks(incarnations: Iterable<number>): [incarnation: number, seq: number][] {
    const out: [number, number][] = [];
    for (const inc of incarnations) {
      const seq = this.last.get(inc);
      if (seq !== undefined) out.push([inc, seq]);
    }
    return out;
  }
}
