/**
 * Traffic for the running app, from one more process on its channel (the way a batch job or an
 * admin CLI would join): `node sample/dist/traffic.js`.
 *
 * - Numbered `cache.invalidate` events to every worker, by peer id. Each worker confirms each one
 *   with `cache.invalidated`, so every event is accounted for: confirmed once, twice, or never.
 * - `ping` requests, taking turns among the workers. Each must be answered. One that found its
 *   worker gone (PeerUnavailableError: not sent) is sent again, as the library advises.
 *
 * TRAFFIC_TARGETS (say `2,3,4`) limits both to those peer ids; the requests then go to them by id
 * in turn instead of to whichever worker's turn it is.
 *
 * It runs until SIGINT/SIGTERM (or for TRAFFIC_SECONDS), waits for the last confirmations, prints
 * one JSON line `{"type":"summary",...}` and exits 0 if nothing was lost or duplicated. While it
 * runs it prints `{"type":"progress",...}` lines. Try it during `pm2 reload cache-api`.
 *
 * Environment: IPC_CHANNEL (default `pm2:cache-api`, the channel of the PM2 app), TRAFFIC_ID (its
 * own peer id, default 100), TRAFFIC_INTERVAL_MS (default 5: one event per worker and one request
 * per tick), TRAFFIC_SECONDS (default: until stopped), NESTJS_IPC_DIR (as for the workers).
 */
import 'reflect-metadata';
import { Controller, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientsModule, Ctx, Payload } from '@nestjs/microservices';
import {
  IpcClient,
  type IpcContext,
  IpcEventPattern,
  IpcServer,
  PeerUnavailableError,
  type PeerId,
  UndeliverableError,
} from 'nestjs-ipc-channel';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import type { Invalidate, Invalidated } from './cache/cache.service.js';
import type { Pong, WorkerInfo } from './workers/workers.types.js';

const IPC = Symbol('IPC');
const options = {
  name: process.env.IPC_CHANNEL || 'pm2:cache-api',
  id: Number(process.env.TRAFFIC_ID ?? 100),
};
const intervalMs = Number(process.env.TRAFFIC_INTERVAL_MS ?? 5);
const seconds = Number(process.env.TRAFFIC_SECONDS ?? 0);
/** How long to wait for the last confirmations after stopping (above the channel's 5 s grace). */
const SETTLE_MS = 15_000;

/** Everything sent and everything that came back. */
@Injectable()
class Tally {
  /**
   * Per worker peer id: events sent, confirmations received per event number, and per process
   * that confirmed (in order of appearance) the first and last event number it confirmed.
   */
  readonly events = new Map<
    number,
    {
      sent: number;
      acks: Uint8Array;
      /** Events the channel reported undeliverable (UndeliverableError): failed, not lost. */
      failed: Uint8Array;
      reasons: Map<string, number>;
      pids: number[];
      ranges: Map<number, [number, number]>;
    }
  >();
  /** Confirmations from a peer other than the one the event was sent to. */
  misrouted = 0;
  /** Confirmations that came from one process in another order than the events were sent. */
  outOfOrder = 0;
  requests = { sent: 0, answered: 0, retried: 0, wrong: 0, failed: 0 };
  readonly answeredBy = new Map<number, number>();
  readonly errors = new Map<string, number>();

  track(worker: number): void {
    this.events.set(worker, {
      sent: 0,
      acks: new Uint8Array(1 << 20),
      failed: new Uint8Array(1 << 20),
      reasons: new Map(),
      pids: [],
      ranges: new Map(),
    });
  }

  confirmed(ack: Invalidated, sender: PeerId): void {
    const [, worker, n] = ack.ref.split(':').map(Number);
    const entry = this.events.get(worker!);
    if (entry === undefined || sender !== worker || ack.peer !== worker) {
      this.misrouted++;
      return;
    }
    if (entry.acks[n!]! < 255) entry.acks[n!]!++;
    if (!entry.pids.includes(ack.pid)) entry.pids.push(ack.pid);
    const range = entry.ranges.get(ack.pid);
    if (range === undefined) entry.ranges.set(ack.pid, [n!, n!]);
    else if (n! > range[1]) range[1] = n!;
    else this.outOfOrder++;
  }

  /** The channel told this process an event did not reach its worker, and why. */
  undeliverable(error: UndeliverableError): void {
    const ref = /"ref":"t:(\d+):(\d+)"/.exec(JSON.stringify(error.data) ?? '');
    const entry = ref === null ? undefined : this.events.get(Number(ref[1]));
    if (entry === undefined) return;
    entry.failed[Number(ref![2])] = 1;
    entry.reasons.set(error.reason, (entry.reasons.get(error.reason) ?? 0) + 1);
  }

  get settled(): boolean {
    const r = this.requests;
    if (r.answered + r.wrong + r.failed < r.sent) return false;
    for (const e of this.events.values()) {
      for (let n = 0; n < e.sent; n++) if (e.acks[n] === 0 && e.failed[n] === 0) return false;
    }
    return true;
  }

  summary(type: 'progress' | 'summary') {
    const workers: Record<string, unknown> = {};
    let sent = 0;
    let confirmed = 0;
    let lost = 0;
    let duplicated = 0;
    let undeliverable = 0;
    for (const [worker, e] of this.events) {
      let once = 0;
      let none = 0;
      let more = 0;
      let failed = 0;
      for (let n = 0; n < e.sent; n++) {
        const acks = e.acks[n]!;
        if (acks === 0 && e.failed[n] !== 0) failed++;
        else if (acks === 0) none++;
        else if (acks === 1) once++;
        else more++;
      }
      sent += e.sent;
      confirmed += once + more;
      lost += none;
      duplicated += more;
      undeliverable += failed;
      workers[worker] = {
        sent: e.sent,
        confirmed: once + more,
        lost: none,
        undeliverable: failed,
        reasons: Object.fromEntries(e.reasons),
        duplicated: more,
        pids: e.pids,
        /** [pid, first, last] event number each process confirmed, in order of appearance. */
        ranges: e.pids.map((pid) => [pid, ...e.ranges.get(pid)!]),
      };
    }
    const ok =
      lost === 0 &&
      duplicated === 0 &&
      this.misrouted === 0 &&
      this.outOfOrder === 0 &&
      this.requests.wrong === 0 &&
      this.requests.failed === 0;
    return {
      type,
      events: {
        sent,
        confirmed,
        lost,
        undeliverable,
        duplicated,
        misrouted: this.misrouted,
        outOfOrder: this.outOfOrder,
      },
      requests: {
        ...this.requests,
        answeredBy: Object.fromEntries(this.answeredBy),
        errors: Object.fromEntries(this.errors),
      },
      workers,
      ...(type === 'summary' ? { ok } : {}),
    };
  }
}

@Controller()
class Confirmations {
  constructor(private readonly tally: Tally) {}

  @IpcEventPattern('cache.invalidated')
  invalidated(@Payload() ack: Invalidated, @Ctx() ctx: IpcContext): void {
    this.tally.confirmed(ack, ctx.getSender());
  }
}

@Module({
  imports: [ClientsModule.register([{ name: IPC, customClass: IpcClient, options }])],
  controllers: [Confirmations],
  providers: [Tally],
})
class TrafficModule {}

const print = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

async function main(): Promise<void> {
  const app = await NestFactory.createMicroservice(TrafficModule, {
    strategy: new IpcServer(options),
    logger: ['error', 'warn'],
  });
  await app.listen();
  const ipc = app.get<IpcClient>(IPC);
  const tally = app.get(Tally);
  ipc.on('error', (error: unknown) => {
    if (error instanceof UndeliverableError) tally.undeliverable(error);
  });
  await ipc.connect();

  // The workers are the peers that answer `stats`.
  const replies = await lastValueFrom(ipc.to('all').send<WorkerInfo>('stats', {}).pipe(toArray()));
  // The sample runs on one host: every peer id is a number.
  const found = replies.map((r) => r.peer as number).sort((a, b) => a - b);
  const targets = process.env.TRAFFIC_TARGETS?.split(',').map(Number);
  const workers = targets ?? found;
  if (workers.length === 0) throw new Error(`no worker answered on channel '${options.name}'`);
  workers.forEach((w) => tally.track(w));
  print({ type: 'start', id: ipc.id, channel: options.name, workers });

  let running = true;
  const tick = setInterval(() => {
    if (!running) return;
    for (const worker of workers) {
      const entry = tally.events.get(worker)!;
      const n = entry.sent++;
      const event: Invalidate = { key: `traffic:${worker}:${n}`, ref: `t:${worker}:${n}` };
      ipc.to(worker).emit('cache.invalidate', event);
    }
    ping(tally.requests.sent++, 0);
  }, intervalMs);

  /**
   * One `ping`: to whichever worker's turn it is, or to the targets by id in turn. A request that
   * found nobody holding the id (PeerUnavailableError: the worker it was meant for had just left)
   * was not sent, so it is safe to send again; any other failure counts as failed.
   */
  const ping = (n: number, attempt: number): void => {
    const request =
      targets === undefined
        ? ipc.send<Pong>('ping', { n })
        : ipc.to(targets[(n + attempt) % targets.length]!).send<Pong>('ping', { n });
    firstValueFrom(request).then(
      (pong) => {
        if ((pong.data as { n?: number })?.n !== n) tally.requests.wrong++;
        else tally.requests.answered++;
        tally.answeredBy.set(pong.peer, (tally.answeredBy.get(pong.peer) ?? 0) + 1);
      },
      (error: unknown) => {
        if (error instanceof PeerUnavailableError && attempt < 10) {
          tally.requests.retried++;
          setTimeout(() => ping(n, attempt + 1), 20);
          return;
        }
        tally.requests.failed++;
        const name = (error as { code?: string })?.code ?? String(error);
        tally.errors.set(name, (tally.errors.get(name) ?? 0) + 1);
      },
    );
  };
  const progress = setInterval(() => print(tally.summary('progress')), 500);

  const stop = async () => {
    if (!running) return;
    running = false;
    clearInterval(tick);
    const deadline = Date.now() + SETTLE_MS;
    while (!tally.settled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    clearInterval(progress);
    const summary = tally.summary('summary');
    print(summary);
    await app.close();
    process.exit(summary.ok ? 0 : 1);
  };
  process.on('SIGINT', stop).on('SIGTERM', stop);
  if (seconds > 0) setTimeout(stop, seconds * 1000);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
