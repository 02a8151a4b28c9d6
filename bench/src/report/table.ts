import { COMPETITORS } from '../competitors/index.js';
import { FAILOVER_KEY } from '../scenarios/failover.js';
import { MEMORY_KEY } from '../scenarios/memory.js';
import { mb, micros, ms, rate } from './format.js';
import { type BenchResults, failoverSummary, medianOf, runsOf } from './results.js';
import type { TargetResult } from './targets.js';

interface Column {
  head: [string, string];
  scenario: string;
  metric: string;
  format(v: number): string;
}

const COLUMNS: Column[] = [
  { head: ['sequential', 'p50 µs'], scenario: 'rr-seq', metric: 'p50Us', format: micros },
  { head: ['sequential', 'p99 µs'], scenario: 'rr-seq', metric: 'p99Us', format: micros },
  { head: ['sequential', 'req/s'], scenario: 'rr-seq', metric: 'perSec', format: rate },
  { head: ['100 in flight', 'req/s'], scenario: 'rr-100', metric: 'perSec', format: rate },
  { head: ['100 in flight', 'p50 µs'], scenario: 'rr-100', metric: 'p50Us', format: micros },
  { head: ['100 in flight', 'p99 µs'], scenario: 'rr-100', metric: 'p99Us', format: micros },
  { head: ['one-way', 'events/s'], scenario: 'one-way', metric: 'perSec', format: rate },
  { head: ['broadcast', 'deliv/s'], scenario: 'broadcast', metric: 'perSec', format: rate },
];

const LABEL_WIDTH = 22;
const CELL = 10;

function row(label: string, cells: string[]): string {
  return label.padEnd(LABEL_WIDTH) + cells.map((c) => c.padStart(CELL)).join('');
}

/** The header's first line names each column group once, centered over the columns it spans. */
function groupHeader(): string {
  let line = ''.padEnd(LABEL_WIDTH);
  for (let i = 0; i < COLUMNS.length;) {
    const group = COLUMNS[i]!.head[0];
    let span = 0;
    while (i < COLUMNS.length && COLUMNS[i]!.head[0] === group) {
      span++;
      i++;
    }
    const width = span * CELL;
    const left = Math.max(1, Math.floor((width - group.length) / 2));
    line += (' '.repeat(left) + group).padEnd(width);
  }
  return line.trimEnd();
}

export function renderTable(r: BenchResults, targets: TargetResult[]): string {
  const lines: string[] = [];
  const runs = r.settings.runs;
  lines.push(
    `nestjs-ipc-channel bench (${r.settings.mode} mode): medians of ${runs} run${runs === 1 ? '' : 's'}, ` +
      `${r.settings.measureMs} ms per measurement after ${r.settings.warmupMs} ms of warm-up, ` +
      'payload {n, s: 64 chars}, every endpoint its own process',
  );
  lines.push('');
  lines.push(groupHeader());
  lines.push(
    row(
      'competitor',
      COLUMNS.map((c) => c.head[1]),
    ),
  );
  lines.push('-'.repeat(LABEL_WIDTH + CELL * COLUMNS.length));
  for (const competitor of COMPETITORS) {
    const status = r.competitors.find((c) => c.key === competitor.key);
    if (status === undefined) continue;
    if (status.status !== 'ran') {
      lines.push(row(competitor.label, [status.status]));
      continue;
    }
    lines.push(
      row(
        competitor.label,
        COLUMNS.map((c) => {
          if (runsOf(r, competitor.key, c.scenario) > 0)
            return c.format(medianOf(r, competitor.key, c.scenario, c.metric));
          const failed = r.errors.some(
            (e) => e.competitor === competitor.key && e.scenario === c.scenario,
          );
          return failed ? 'error' : '-';
        }),
      ),
    );
  }

  const f = failoverSummary(r, 'channel', FAILOVER_KEY);
  if (f.kills > 0) {
    lines.push('');
    lines.push(
      `Failover (channel core; hub SIGKILLed ${f.kills} times; gap = kill -> first message sent after it delivered):`,
    );
    lines.push(
      `  p50 ${ms(f.p50Ms)}, p99 ${ms(f.p99Ms)}, max ${ms(f.maxMs)}; messages missing ${f.missing}, duplicated ${f.duplicated}`,
    );
  }

  const memoryRows = ['channel-1hop', 'channel-relayed'].filter(
    (c) => runsOf(r, c, MEMORY_KEY) > 0,
  );
  if (memoryRows.length > 0) {
    lines.push('');
    lines.push(
      `Memory (channel core; ${r.settings.memoryMessages / 1000}k events queued for a peer that stopped reading; medians):`,
    );
    for (const c of memoryRows) {
      const m = (metric: string) => medianOf(r, c, MEMORY_KEY, metric);
      const who = c === 'channel-1hop' ? 'one hop (hub sends)' : 'relayed (hub routes)';
      lines.push(
        `  ${who.padEnd(22)} hub RSS ${mb(m('hubRssBaseMb'))} idle -> ${mb(m('hubRssPeakMb'))} peak` +
          (c === 'channel-relayed' ? `; sender RSS peak ${mb(m('senderRssPeakMb'))}` : '') +
          `; sender queue ${mb(m('senderQueuedMb'))}; delivered in ${ms(m('catchUpMs'))} once reading`,
      );
    }
  }

  lines.push('');
  lines.push(
    `Targets (ratios of medians from this run${r.settings.mode === 'quick' ? '; quick mode: informational only' : ''}):`,
  );
  for (const t of targets) {
    lines.push(`  ${t.status.toUpperCase().padEnd(8)} ${t.label.padEnd(56)} ${t.detail}`);
  }

  const notes = [
    ...r.competitors.filter((c) => c.note !== undefined).map((c) => `${c.label}: ${c.note}`),
    ...r.notes,
    ...r.errors.map(
      (e) => `error in ${e.competitor} / ${e.scenario} (run ${e.run}): ${e.message.split('\n')[0]}`,
    ),
  ];
  if (notes.length > 0) {
    lines.push('');
    lines.push('Notes:');
    for (const n of notes) lines.push(`  - ${n}`);
  }
  const m = r.machine;
  lines.push('');
  lines.push(
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; commit ${m.commit}; ${m.date}; took ${r.durationS.toFixed(0)} s`,
  );
  return lines.join('\n');
}
