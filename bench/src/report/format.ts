/** Number formats shared by the table and the chart. */

export function rate(v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(0);
}

export function micros(v: number): string {
  return Number.isFinite(v) ? v.toFixed(0) : '-';
}

export function ms(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(1)} ms` : '-';
}

export function mb(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(1)} MB` : '-';
}
