/** The sample's traffic tool, run beside the cluster, and its report. */
import { join } from 'node:path';
import { SAMPLE } from './sample-build.js';
import { start, type Spawned } from './started.js';
import { eventually } from './http.js';

export interface TrafficReport {
  type: 'progress' | 'summary';
  events: {
    sent: number;
    confirmed: number;
    lost: number;
    /** Events the channel reported it could not deliver (UndeliverableError). */
    undeliverable: number;
    duplicated: number;
    misrouted: number;
    outOfOrder: number;
  };
  requests: {
    sent: number;
    answered: number;
    /** Sent again after PeerUnavailableError (the worker had just left; it was not sent). */
    retried: number;
    wrong: number;
    failed: number;
    answeredBy: Record<string, number>;
    errors: Record<string, number>;
  };
  workers: Record<
    string,
    {
      sent: number;
      confirmed: number;
      lost: number;
      undeliverable: number;
      /** UndeliverableError reasons, with how many events each. */
      reasons: Record<string, number>;
      duplicated: number;
      pids: number[];
      /** [pid, first, last] event number that process confirmed. */
      ranges: [number, number, number][];
    }
  >;
  ok?: boolean;
}

/** The sample's traffic tool (sample/dist/traffic.js), joined to the app's channel. */
export class Traffic {
  private readonly proc: Spawned;
  private buffer = '';
  readonly reports: TrafficReport[] = [];
  started: { workers: number[]; id: number } | undefined;

  constructor(env: Record<string, string>) {
    this.proc = start(join(SAMPLE, 'dist/traffic.js'), env);
    this.proc.child.stdout!.on('data', (d: Buffer) => {
      this.buffer += d.toString();
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const msg = JSON.parse(line) as { type: string };
        if (msg.type === 'start') this.started = msg as unknown as Traffic['started'];
        else this.reports.push(msg as TrafficReport);
      }
    });
  }

  get latest(): TrafficReport | undefined {
    return this.reports[this.reports.length - 1];
  }

  /** Waits until a progress report satisfies `check`. */
  until(
    check: (r: TrafficReport) => boolean,
    what: string,
    timeoutMs = 60_000,
  ): Promise<TrafficReport> {
    return eventually(
      async () => {
        if (this.proc.child.exitCode !== null)
          throw new Error(`traffic exited early:\n${this.proc.output()}`);
        const r = this.latest;
        return r !== undefined && check(r) ? r : undefined;
      },
      what,
      timeoutMs,
    );
  }

  /** Stops sending, waits for the last confirmations, and returns the summary. */
  async stop(): Promise<TrafficReport> {
    this.proc.child.kill('SIGINT');
    const code = await this.proc.exited;
    const summary = this.reports.find((r) => r.type === 'summary');
    if (summary === undefined)
      throw new Error(`traffic gave no summary (exit ${code}):\n${this.proc.output()}`);
    return summary;
  }

  output(): string {
    return this.proc.output();
  }
}
