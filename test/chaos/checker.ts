/**
 * Judges a chaos run from what each process logged. The rules follow docs/guarantees.md, and
 * nothing weaker:
 *
 * 1. Ids are stable: every incarnation of slot s joined (and rejoined after each failover) as
 *    peer s, and every received message names as its sender the slot of the process that sent it.
 * 2. Within one receiver incarnation, the messages of one sender incarnation arrive in the order
 *    they were sent, each at most once (targeted messages and broadcasts are separate streams).
 *    This holds for every sender, killed ones too. Large payloads arrive intact.
 * 3. Targeted messages of a sender alive at the end (its send log is complete): each accepted
 *    message gets at most one verdict, and
 *    - with none, it is delivered at least once to some incarnation of its target slot. More
 *      than one delivery is allowed only across incarnations, each earlier one of which was
 *      killed with SIGKILL (a message the dead process read but had not confirmed is delivered
 *      again to its successor); these are counted as "redelivered after a crash";
 *    - reported as UndeliverableError (no process received it), it is delivered nowhere;
 *    - reported as DeliveryUncertainError (the process holding its target id may have read it,
 *      but went away or lost its hub before confirming it, and no other process got it), it is
 *      delivered at most once: to that process or to nobody, never to two.
 *    Anything else is lost, duplicated or misreported.
 * 4. Broadcasts of a sender alive at the end reach every receiver incarnation that had joined
 *    before the send call and lived to the end (SIGSTOP and hub kills included), with one
 *    exception the guarantees state: a reader stopped for longer than stallTimeoutMs is cut off
 *    and may miss the broadcasts sent from a second before it stopped until it joined again.
 * 5. Every request of a sender alive at the end settled: answered with its own echo, or failed
 *    with a typed error (an IpcChannelError code). No request is executed twice, anywhere, and
 *    an answered one was executed exactly once.
 * 6. At the end every live process agrees on one hub, which says it is the hub, and on the same
 *    membership: exactly the live slots.
 *
 * Messages of a sender that was killed are checked by rule 2 only: what it had not yet handed to
 * a hub died with it, and its send log died too.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface LogEntry {
  kind: 'T' | 'L' | 'B';
  sender: number;
  pid: number;
  k: number;
  corrupt: boolean;
}

/** One process's life: what its log file says, and how it ended. */
export interface IncarnationLog {
  slot: number;
  pid: number;
  /** Killed with SIGKILL by the harness (a crash). */
  killed: boolean;
  joins: { id: number; at: number }[];
  received: LogEntry[];
  executed: { pid: number; k: number }[];
}

/** What a sender alive at the end reports about its sends. */
export interface SenderReport {
  slot: number;
  pid: number;
  id: number;
  isHub: boolean;
  hubId: number | undefined;
  connected: boolean;
  peers: number[];
  sentTo: Record<string, number>;
  /** [target, k, reason] of each targeted message reported as UndeliverableError. */
  undeliverable: [number, number, string][];
  /** [target, k, reason] of each targeted message reported as DeliveryUncertainError. */
  uncertain: [number, number, string][];
  /** Per error code, the Nest binding's frames that got either verdict. */
  nestVerdicts: Record<string, number>;
  broadcasts: number[];
  requests: [number, number, string][];
  otherErrors: string[];
}

export interface Verdict {
  violations: string[];
  stats: {
    targeted: number;
    broadcasts: number;
    broadcastDeliveriesChecked: number;
    /** Broadcasts a hung reader missed while it was cut off (allowed, see mayMiss). */
    missedWhileCutOff: number;
    requests: number;
    requestsAnswered: number;
    requestsFailed: Record<string, number>;
    received: number;
    lost: number;
    duplicated: number;
    redeliveredAfterCrash: number;
    reportedUndeliverable: number;
    reportedUncertain: number;
    /** Of those reported uncertain, how many the process that went away had handled. */
    uncertainHandled: number;
    nestVerdicts: Record<string, number>;
    uncheckedSenders: number;
  };
}

/** Every incarnation's log in `logDir` (files `<slot>-<pid>.log`), parsed. */
export function readLogs(logDir: string, killedPids: ReadonlySet<number>): IncarnationLog[] {
  return readdirSync(logDir).map((file) => {
    const [slot, pid] = file.replace('.log', '').split('-').map(Number) as [number, number];
    return parseLog(slot, pid, killedPids.has(pid), readFileSync(`${logDir}/${file}`, 'utf8'));
  });
}

export function parseLog(slot: number, pid: number, killed: boolean, text: string): IncarnationLog {
  const log: IncarnationLog = { slot, pid, killed, joins: [], received: [], executed: [] };
  const lines = text.split('\n');
  // Each line is one write(2), so a kill -9 should never cut one short; if it ever did, the
  // unterminated rest is no message (it could read as a wrong number).
  lines.pop();
  for (const line of lines) {
    const f = line.split(' ');
    if (f[0] === 'J' && f.length === 3) log.joins.push({ id: Number(f[1]), at: Number(f[2]) });
    else if (f[0] === 'E' && f.length === 3)
      log.executed.push({ pid: Number(f[1]), k: Number(f[2]) });
    else if ((f[0] === 'T' || f[0] === 'L' || f[0] === 'B') && f.length >= 4 && f[3] !== '') {
      log.received.push({
        kind: f[0],
        sender: Number(f[1]),
        pid: Number(f[2]),
        k: Number(f[3]),
        corrupt: f[4] === 'CORRUPT',
      });
    }
  }
  return log;
}

/**
 * A reader the harness stopped (SIGSTOP) for longer than stallTimeoutMs, from `from` to `to`
 * (ms since the epoch): the hub cuts it off, and it joins again when it runs.
 */
export interface Hang {
  pid: number;
  from: number;
  to: number;
}

/**
 * The broadcasts a hung reader may miss: those sent from a second before it stopped (they may
 * still have been on their way to it, in the hub's buffer for its connection, when it was cut
 * off) until it joined again. None if it never joined again after waking: it was not cut off.
 */
function mayMiss(hangs: Hang[], log: IncarnationLog, at: number): boolean {
  for (const h of hangs) {
    if (h.pid !== log.pid) continue;
    const rejoin = log.joins.find((j) => j.at >= h.to);
    if (rejoin !== undefined && at >= h.from - 1000 && at <= rejoin.at) return true;
  }
  return false;
}

/** What a sender was told about one targeted message that failed, as the checker words it. */
interface SendFailure {
  kind: 'undeliverable' | 'delivery-uncertain';
  reason: string;
}

const LIMIT = 30;

/**
 * Judges the logs by rules 1 to 6. `liveSlots` undefined skips rule 6, for a run whose hubs and
 * memberships the caller judges itself (federated hosts: one hub per host).
 */
export function check(
  logs: IncarnationLog[],
  senders: SenderReport[],
  liveSlots: number[] | undefined,
  hangs: Hang[] = [],
): Verdict {
  const violations: string[] = [];
  const fail = (v: string) => {
    if (violations.length < LIMIT) violations.push(v);
    else if (violations.length === LIMIT) violations.push('... more violations not shown');
  };
  const stats: Verdict['stats'] = {
    targeted: 0,
    broadcasts: 0,
    broadcastDeliveriesChecked: 0,
    missedWhileCutOff: 0,
    requests: 0,
    requestsAnswered: 0,
    requestsFailed: {},
    received: 0,
    lost: 0,
    duplicated: 0,
    redeliveredAfterCrash: 0,
    reportedUndeliverable: 0,
    reportedUncertain: 0,
    uncertainHandled: 0,
    nestVerdicts: {},
    uncheckedSenders: logs.filter((l) => l.killed).length,
  };
  const slotOfPid = new Map(logs.map((l) => [l.pid, l.slot]));
  const bySlot = new Map<number, IncarnationLog[]>();
  for (const l of logs) {
    const list = bySlot.get(l.slot) ?? [];
    list.push(l);
    bySlot.set(l.slot, list);
  }
  for (const list of bySlot.values())
    list.sort((a, b) => (a.joins[0]?.at ?? 0) - (b.joins[0]?.at ?? 0));

  // Rules 1 and 2, for every incarnation and every sender.
  for (const l of logs) {
    for (const j of l.joins) {
      if (j.id !== l.slot) fail(`ids: pid ${l.pid} of slot ${l.slot} joined as peer ${j.id}`);
    }
    const last = new Map<string, number>();
    for (const e of l.received) {
      stats.received++;
      const from = slotOfPid.get(e.pid);
      if (from !== undefined && e.sender !== from)
        fail(
          `sender: slot ${l.slot} (pid ${l.pid}) got a message of pid ${e.pid} (slot ${from}) marked as from peer ${e.sender}`,
        );
      if (e.corrupt)
        fail(`payload: a large message from pid ${e.pid} #${e.k} arrived altered at pid ${l.pid}`);
      const stream = `${e.kind === 'B' ? 'B' : 'T'} ${e.pid}`;
      const prev = last.get(stream) ?? 0;
      if (e.k <= prev) {
        stats.duplicated++;
        fail(
          `order: pid ${l.pid} (slot ${l.slot}) got ${stream} #${e.k} after #${prev} (${e.k === prev ? 'twice' : 'out of order'})`,
        );
      }
      last.set(stream, Math.max(prev, e.k));
    }
  }

  // Rule 3.
  const deliveries = new Map<string, IncarnationLog[]>();
  for (const l of logs) {
    for (const e of l.received) {
      if (e.kind === 'B') continue;
      const key = `${e.pid} ${l.slot} ${e.k}`;
      const list = deliveries.get(key) ?? [];
      list.push(l);
      deliveries.set(key, list);
    }
  }
  for (const s of senders) {
    const verdicts = new Map<string, SendFailure>();
    const give = (kind: SendFailure['kind'], [target, k, reason]: [number, number, string]) => {
      const key = `${target} ${k}`;
      const earlier = verdicts.get(key);
      if (earlier !== undefined)
        fail(
          `verdicts: pid ${s.pid} was told #${k} to slot ${target} was ${earlier.kind} (${earlier.reason}) and ${kind} (${reason})`,
        );
      else verdicts.set(key, { kind, reason });
    };
    for (const v of s.undeliverable) give('undeliverable', v);
    for (const v of s.uncertain) give('delivery-uncertain', v);
    for (const [code, count] of Object.entries(s.nestVerdicts))
      stats.nestVerdicts[code] = (stats.nestVerdicts[code] ?? 0) + count;
    for (const [target, count] of Object.entries(s.sentTo)) {
      for (let k = 1; k <= count; k++) {
        stats.targeted++;
        // A copy inside one incarnation was reported by rule 2 already.
        const got = [...new Set(deliveries.get(`${s.pid} ${target} ${k}`) ?? [])];
        const verdict = verdicts.get(`${target} ${k}`);
        if (verdict !== undefined) {
          const told = `${verdict.kind}: pid ${s.pid} was told #${k} to slot ${target} was ${verdict.kind} (${verdict.reason})`;
          if (verdict.kind === 'undeliverable') {
            stats.reportedUndeliverable++;
            if (got.length > 0) fail(`${told}, yet pid ${got[0]!.pid} got it`);
          } else {
            stats.reportedUncertain++;
            if (got.length > 1)
              fail(`${told}, yet pids ${got.map((l) => l.pid).join(', ')} got it`);
            else if (got.length === 1) stats.uncertainHandled++;
          }
          continue;
        }
        if (got.length === 0) {
          stats.lost++;
          fail(`lost: message #${k} from slot ${s.slot} (pid ${s.pid}) to slot ${target}`);
          continue;
        }
        if (got.length > 1) {
          const order = bySlot.get(Number(target)) ?? [];
          const sorted = [...got].sort((a, b) => order.indexOf(a) - order.indexOf(b));
          if (sorted.slice(0, -1).every((l) => l.killed)) stats.redeliveredAfterCrash++;
          else {
            stats.duplicated++;
            fail(
              `duplicate: #${k} from pid ${s.pid} reached slot ${target} in pids ${sorted.map((l) => l.pid).join(', ')}, not all crashed`,
            );
          }
        }
      }
    }
  }

  // Rule 4.
  for (const s of senders) {
    stats.broadcasts += s.broadcasts.length;
    s.broadcasts.forEach((at, i) => {
      const k = i + 1;
      for (const l of logs) {
        if (l.killed || l.joins.length === 0 || l.joins[0]!.at >= at) continue;
        const got = l.received.some((e) => e.kind === 'B' && e.pid === s.pid && e.k === k);
        if (mayMiss(hangs, l, at)) {
          if (!got) stats.missedWhileCutOff++;
          continue;
        }
        stats.broadcastDeliveriesChecked++;
        if (!got) {
          stats.lost++;
          fail(
            `lost: broadcast #${k} from slot ${s.slot} (pid ${s.pid}) never reached pid ${l.pid} (slot ${l.slot}), joined ${at - l.joins[0]!.at} ms before it`,
          );
        }
      }
    });
  }

  // Rule 5.
  const executions = new Map<string, number>();
  for (const l of logs) {
    for (const x of l.executed) {
      const key = `${x.pid} ${x.k}`;
      executions.set(key, (executions.get(key) ?? 0) + 1);
    }
  }
  for (const [key, n] of executions) {
    if (n > 1) fail(`request: pid/k ${key} was executed ${n} times`);
  }
  for (const s of senders) {
    for (const [target, k, outcome] of s.requests) {
      stats.requests++;
      const executed = executions.get(`${s.pid} ${k}`) ?? 0;
      if (outcome === 'ok') {
        stats.requestsAnswered++;
        if (executed !== 1)
          fail(
            `request: #${k} of pid ${s.pid} to slot ${target} answered but executed ${executed} times`,
          );
      } else if (/^ERR_IPC_[A-Z_]+$/.test(outcome)) {
        stats.requestsFailed[outcome] = (stats.requestsFailed[outcome] ?? 0) + 1;
      } else {
        fail(`request: #${k} of pid ${s.pid} to slot ${target} ended as ${outcome}`);
      }
    }
  }

  // Rule 6.
  if (liveSlots === undefined) return { violations, stats };
  const hubs = senders.filter((s) => s.isHub);
  if (hubs.length !== 1) fail(`hub: ${hubs.length} processes say they are the hub at the end`);
  const want = [...liveSlots].sort((a, b) => a - b);
  for (const s of senders) {
    if (!s.connected) fail(`membership: slot ${s.slot} is not connected at the end`);
    if (hubs.length === 1 && s.hubId !== hubs[0]!.id)
      fail(`hub: slot ${s.slot} thinks the hub is ${s.hubId}, not ${hubs[0]!.id}`);
    if (JSON.stringify(s.peers) !== JSON.stringify(want))
      fail(`membership: slot ${s.slot} sees peers ${s.peers.join(',')}, not ${want.join(',')}`);
  }
  return { violations, stats };
}
