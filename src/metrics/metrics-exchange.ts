import type { Channel } from '../channel/channel.js';
import type { DeliveryFailure } from '../channel/errors.js';

/** Channel event names of the metrics collection (not for use by applications). */
export const METRICS_WIRE = {
  /** `[round]`: send me your registries' metrics. */
  request: '@ipc/metrics-rq',
  /** `[round, metrics | null, error?]`: one array per registry, as `getMetricsAsJSON()` made it. */
  response: '@ipc/metrics-rs',
} as const;

/** What each process contributes: its registries' `getMetricsAsJSON()`, one array per registry. */
export type MetricsSource = () => Promise<object[][]>;

/** How one peer answered a collection round. */
export type PeerAnswer =
  | { readonly peer: number; readonly up: true; readonly metrics: object[][] }
  | { readonly peer: number; readonly up: false; readonly reason: string };

/**
 * Requests and responses travel only to the process that holds the id now, even while it
 * retires (a worker being reloaded still answers), and are never held for an absent id: a
 * peer that is gone is reported at once, not after the timeout.
 */
const NOW = { hold: false, _toProcess: true } as const;

/** One collection: the peers asked, what each answered, and the deadline for the rest. */
class Round {
  private readonly answers = new Map<number, PeerAnswer>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly peers: readonly number[],
    timeoutMs: number,
    private readonly finish: (answers: PeerAnswer[]) => void,
  ) {
    this.timer = setTimeout(() => this.end(`no answer within ${timeoutMs} ms`), timeoutMs);
  }

  settle(answer: PeerAnswer): void {
    if (!this.peers.includes(answer.peer) || this.answers.has(answer.peer)) return;
    this.answers.set(answer.peer, answer);
    if (this.answers.size === this.peers.length) this.end('');
  }

  /** Ends the round now; peers that have not answered are down for `reason`. */
  end(reason: string): void {
    clearTimeout(this.timer);
    const all = this.peers.map(
      (peer) => this.answers.get(peer) ?? { peer, up: false as const, reason },
    );
    this.finish(all);
  }
}

/**
 * JSON carries NaN (a gauge never set, a mean of nothing) as null, which sums as 0: a value is
 * never null, so each null is put back as the NaN it was.
 */
function restoreNaN(registries: object[][]): object[][] {
  for (const metrics of registries) {
    for (const metric of metrics as { values?: { value: number | null }[] }[]) {
      for (const v of metric.values ?? []) if (v.value === null) v.value = NaN;
    }
  }
  return registries;
}

/** The exchange of each channel, made on first use: a channel reads each event name once. */
const exchanges = new WeakMap<Channel, MetricsExchange>();

/**
 * The metrics collection over one channel. Every process that has a source answers requests
 * with its registries' metrics; a process whose source was removed answers at once that it has
 * none. A process that never set one up does not read these events at all: it is reported down
 * when the round's time is up.
 */
export class MetricsExchange {
  /** What this process answers with; undefined answers "no metrics here". */
  source: MetricsSource | undefined;
  private readonly rounds = new Map<number, Round>();
  private nextRound = 1;

  static of(channel: Channel): MetricsExchange {
    let exchange = exchanges.get(channel);
    if (exchange === undefined) {
      exchange = new MetricsExchange(channel);
      exchanges.set(channel, exchange);
    }
    return exchange;
  }

  private constructor(private readonly channel: Channel) {
    channel._read(METRICS_WIRE.request, (sender, [round]) => this.answer(sender, round));
    channel._read(METRICS_WIRE.response, (sender, [round, metrics, error]) => {
      const answer: PeerAnswer = Array.isArray(metrics)
        ? { peer: sender, up: true, metrics: restoreNaN(metrics as object[][]) }
        : { peer: sender, up: false, reason: typeof error === 'string' ? error : 'no metrics' };
      this.rounds.get(round as number)?.settle(answer);
    });
    // A request that cannot reach its peer (gone, or gone after reading it) settles that peer
    // now; a response that cannot reach its collector has nobody left to tell.
    channel._claimUndeliverable(METRICS_WIRE.request, (failure) => this.undelivered(failure));
    channel._claimUndeliverable(METRICS_WIRE.response, () => undefined);
  }

  /**
   * Asks `peers` for their metrics; resolves once each has answered, or could not be reached,
   * or `timeoutMs` has passed, with one answer per peer in the order given.
   */
  ask(peers: readonly number[], timeoutMs: number): Promise<PeerAnswer[]> {
    if (peers.length === 0) return Promise.resolve([]);
    const id = this.nextRound++;
    return new Promise<PeerAnswer[]>((resolve) => {
      const round = new Round(peers, timeoutMs, (answers) => {
        this.rounds.delete(id);
        resolve(answers);
      });
      this.rounds.set(id, round);
      for (const peer of peers) {
        try {
          this.channel.to(peer, NOW).emit(METRICS_WIRE.request, id);
        } catch (e) {
          round.settle({ peer, up: false, reason: (e as Error).message });
        }
      }
    });
  }

  private undelivered(failure: DeliveryFailure): void {
    const round = Array.isArray(failure.data) ? (failure.data[0] as number) : undefined;
    if (round === undefined) return;
    this.rounds
      .get(round)
      ?.settle({ peer: failure.target, up: false, reason: `not delivered (${failure.reason})` });
  }

  private answer(collector: number, round: unknown): void {
    const source = this.source;
    if (source === undefined) {
      this.respond(collector, round, null, 'this process serves no metrics');
      return;
    }
    source().then(
      (metrics) => this.respond(collector, round, metrics),
      (e: unknown) => this.respond(collector, round, null, `collecting failed: ${String(e)}`),
    );
  }

  private respond(collector: number, round: unknown, metrics: unknown, error?: string): void {
    try {
      if (error === undefined)
        this.channel.to(collector, NOW).emit(METRICS_WIRE.response, round, metrics);
      else this.channel.to(collector, NOW).emit(METRICS_WIRE.response, round, null, error);
    } catch (e) {
      // Too large to send, or the channel is closing: say so, which is small enough to go.
      if (error === undefined) this.respond(collector, round, null, (e as Error).message);
    }
  }
}
