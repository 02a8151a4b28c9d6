import { readFileSync, readdirSync } from 'node:fs';
import { nowMs } from '../shared/clock.js';

/**
 * How much CPU processes other than the bench's own used during a measurement, from Linux's
 * /proc (jiffies: 1/100 s). On a 2-core machine a compiler or a test suite running alongside
 * halves a result, and the bench would print it as fact; with this it can measure again and
 * say who was busy. Off Linux it reports nothing (0).
 */
const HZ = 100;

/** utime + stime of every process, by pid, and each one's name. */
function snapshot(): Map<number, { busy: number; name: string }> {
  const out = new Map<number, { busy: number; name: string }>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      // After the name (which may hold spaces): state is field 3, utime 14, stime 15.
      const fields = stat.slice(close + 2).split(' ');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      out.set(Number(entry), { busy: Number(fields[11]) + Number(fields[12]), name });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** A short command line, to say who was busy ("node .../jest.js"). */
function commandLine(pid: number): string | undefined {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const short = args.slice(0, 3).map((a) => (a.length > 40 ? `...${a.slice(-37)}` : a));
    return short.length > 0 ? short.join(' ') : undefined;
  } catch {
    return undefined;
  }
}

export interface OtherCpu {
  /** Cores used by other processes over the watch (0.5 = half of one core). */
  cores: number;
  /** The biggest of them, e.g. "node 0.81, tsc 0.10". */
  top: string;
}

export class CpuWatch {
  private constructor(
    private readonly startMs: number,
    private readonly before: Map<number, { busy: number; name: string }>,
  ) {}

  static start(): CpuWatch {
    return new CpuWatch(nowMs(), snapshot());
  }

  /** Other processes' use since start: every process but `ours` (and those that came and went). */
  stop(ours: number[]): OtherCpu {
    const after = snapshot();
    const seconds = (nowMs() - this.startMs) / 1000;
    const mine = new Set(ours);
    const others: { pid: number; name: string; cores: number }[] = [];
    for (const [pid, now] of after) {
      if (mine.has(pid)) continue;
      const used = now.busy - (this.before.get(pid)?.busy ?? 0);
      if (used > 0) others.push({ pid, name: now.name, cores: used / HZ / seconds });
    }
    others.sort((a, b) => b.cores - a.cores);
    for (const o of others.slice(0, 3)) o.name = commandLine(o.pid) ?? o.name;
    return {
      cores: others.reduce((sum, o) => sum + o.cores, 0),
      top: others
        .slice(0, 3)
        .map((o) => `${o.name} ${o.cores.toFixed(2)}`)
        .join(', '),
    };
  }
}
