import { COMPETITORS } from '../competitors/index.js';
import type { Competitor } from '../competitors/competitor.js';
import { FAILOVER_KEY } from '../scenarios/failover.js';
import { MEMORY_KEY } from '../scenarios/memory.js';
import { mb, micros, ms, rate } from './format.js';
import { type BenchResults, failoverSummary, medianOf } from './results.js';

/**
 * The README chart, as plain SVG: four panels of horizontal bars (one per competitor), the
 * failover and memory numbers, and the machine they came from. Hand-written so the bench needs
 * no chart library; every size below is in SVG user units (px).
 */

interface Panel {
  title: string;
  scenario: string;
  metric: string;
  format(v: number): string;
}

const PANELS: Panel[] = [
  {
    title: 'One-way events/s (higher is better)',
    scenario: 'one-way',
    metric: 'perSec',
    format: rate,
  },
  {
    title: 'Broadcast to 4: deliveries/s (higher is better)',
    scenario: 'broadcast',
    metric: 'perSec',
    format: rate,
  },
  {
    title: 'Requests/s, 100 in flight (higher is better)',
    scenario: 'rr-100',
    metric: 'perSec',
    format: rate,
  },
  {
    title: 'Sequential round trip p50, µs (lower is better)',
    scenario: 'rr-seq',
    metric: 'p50Us',
    format: micros,
  },
];

const COLORS: Record<Competitor['family'], string> = {
  channel: '#2563eb',
  'nest-ipc': '#059669',
  reference: '#9ca3af',
};

const WIDTH = 1000;
const PANEL_W = 480;
const GAP = 20;
const LABEL_W = 150;
const BAR_MAX = 240;
const ROW_H = 22;
const TITLE_H = 30;
const TOP = 56;

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${x}" y="${y}" ${attrs}>${esc(content)}</text>`;
}

function panel(r: BenchResults, p: Panel, x: number, y: number): string {
  const rows = COMPETITORS.filter((c) => r.competitors.some((s) => s.key === c.key));
  const values = rows.map((c) => medianOf(r, c.key, p.scenario, p.metric));
  const max = Math.max(...values.filter(Number.isFinite), 1);
  const out = [text(x, y + 18, p.title, 'class="title"')];
  rows.forEach((c, i) => {
    const rowY = y + TITLE_H + i * ROW_H;
    const status = r.competitors.find((s) => s.key === c.key)!;
    out.push(text(x + LABEL_W - 8, rowY + 15, c.label, 'class="label" text-anchor="end"'));
    const v = values[i]!;
    if (status.status !== 'ran' || !Number.isFinite(v)) {
      const why = status.status === 'ran' ? 'not measured' : status.status;
      out.push(text(x + LABEL_W, rowY + 15, why, 'class="note"'));
      return;
    }
    const w = Math.max(1, (v / max) * BAR_MAX);
    out.push(
      `<rect x="${x + LABEL_W}" y="${rowY + 4}" width="${w.toFixed(1)}" height="${ROW_H - 8}" rx="2" fill="${COLORS[c.family]}"/>`,
    );
    out.push(text(x + LABEL_W + w + 6, rowY + 15, p.format(v), 'class="value"'));
  });
  return out.join('\n');
}

export function renderSvg(r: BenchResults): string {
  const rows = COMPETITORS.filter((c) => r.competitors.some((s) => s.key === c.key)).length;
  const panelH = TITLE_H + rows * ROW_H + 16;
  const footerY = TOP + 2 * panelH + 10;
  const height = footerY + 62;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">`,
    '<style>.h{font-size:18px;font-weight:600;fill:#111827}.title{font-size:14px;font-weight:600;fill:#111827}' +
      '.label{font-size:12px;fill:#374151}.value{font-size:12px;fill:#111827}.note{font-size:12px;fill:#9ca3af;font-style:italic}' +
      '.foot{font-size:12px;fill:#4b5563}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    text(20, 30, 'nestjs-ipc-channel vs. raw sockets and Nest transports', 'class="h"'),
    text(
      20,
      48,
      `medians of ${r.settings.runs} run${r.settings.runs === 1 ? '' : 's'} (${r.settings.mode} mode); payload {n, s: 64 chars}; every endpoint in its own process`,
      'class="foot"',
    ),
  );
  const legend: [string, Competitor['family']][] = [
    ['channel core', 'channel'],
    ['Nest IPC', 'nest-ipc'],
    ['others', 'reference'],
  ];
  legend.forEach(([name, family], i) => {
    const x = WIDTH - 330 + i * 110;
    parts.push(`<rect x="${x}" y="20" width="12" height="12" rx="2" fill="${COLORS[family]}"/>`);
    parts.push(text(x + 18, 30, name, 'class="label"'));
  });
  PANELS.forEach((p, i) => {
    const x = 20 + (i % 2) * (PANEL_W + GAP);
    const y = TOP + Math.floor(i / 2) * panelH;
    parts.push(panel(r, p, x, y));
  });

  const f = failoverSummary(r, 'channel', FAILOVER_KEY);
  const mem = (c: string) => medianOf(r, c, MEMORY_KEY, 'hubRssPeakMb');
  const facts: string[] = [];
  if (f.kills > 0)
    facts.push(
      `Failover gap after kill -9 of the hub: p50 ${ms(f.p50Ms)}, p99 ${ms(f.p99Ms)} (${f.kills} kills, ${f.missing} lost)`,
    );
  if (Number.isFinite(mem('channel-relayed')) || Number.isFinite(mem('channel-1hop'))) {
    facts.push(
      `Hub RSS with ${r.settings.memoryMessages / 1000}k messages queued for a stalled peer: ${mb(mem('channel-1hop'))} (one hop), ${mb(mem('channel-relayed'))} (relayed)`,
    );
  }
  facts.forEach((line, i) => parts.push(text(20, footerY + i * 18, line, 'class="foot"')));
  const m = r.machine;
  parts.push(
    text(
      20,
      footerY + 40,
      `${m.cpu}, ${m.cores} cores, ${m.os}, Node ${m.node}, commit ${m.commit}, ${m.date.slice(0, 10)}`,
      'class="foot"',
    ),
  );
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
