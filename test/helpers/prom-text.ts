/** One sample line: `name{labels} value`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A metric family: its `# TYPE`, its `# HELP`, and its samples in order. */
export interface Family {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  readonly help: string;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/**
 * Prometheus text exposition (format 0.0.4), parsed strictly: every line must be a HELP, a
 * TYPE or a sample of the family the last TYPE declared (`_bucket` with `le`, `_sum`, `_count`
 * for histograms and summaries), no family is declared twice, no series appears twice, and
 * every value is a number Prometheus reads; empty lines are ignored, as the format says.
 * Anything else throws, naming the line.
 */
export class PromText {
  readonly families = new Map<string, Family>();

  constructor(text: string) {
    if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition must end with \\n');
    const series = new Set<string>();
    const help = new Map<string, string>();
    let current: Family | undefined;
    const lines = text.split('\n');
    lines.pop();
    lines.forEach((line, i) => {
      const where = `line ${i + 1}: ${JSON.stringify(line)}`;
      if (line.startsWith('# HELP ')) {
        const [name, ...rest] = line.slice(7).split(' ');
        if (!METRIC_NAME.test(name!)) throw new Error(`bad metric name, ${where}`);
        if (help.has(name!)) throw new Error(`second HELP, ${where}`);
        help.set(name!, rest.join(' '));
        return;
      }
      if (line.startsWith('# TYPE ')) {
        const [name, type, extra] = line.slice(7).split(' ');
        if (!METRIC_NAME.test(name!) || !TYPES.has(type!) || extra !== undefined)
          throw new Error(`bad TYPE, ${where}`);
        if (this.families.has(name!)) throw new Error(`family declared twice, ${where}`);
        current = {
          name: name!,
          type: type as Family['type'],
          help: help.get(name!) ?? '',
          samples: [],
        };
        this.families.set(name!, current);
        return;
      }
      if (line === '') return; // the format ignores empty lines
      if (line.startsWith('#')) throw new Error(`unexpected comment, ${where}`);
      const sample = parseSample(line, where);
      if (current === undefined || !belongs(current, sample))
        throw new Error(`sample outside its family, ${where}`);
      const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
      if (series.has(key)) throw new Error(`series repeated, ${where}`);
      series.add(key);
      current.samples.push(sample);
    });
  }

  /** The family named `name`; throws if there is none. */
  family(name: string): Family {
    const f = this.families.get(name);
    if (f === undefined) throw new Error(`no metric family ${name}`);
    return f;
  }

  /** The value of the one sample named `name` whose labels are exactly `labels`. */
  value(name: string, labels: Record<string, string> = {}): number {
    const want = JSON.stringify(Object.entries(labels).sort());
    for (const f of this.families.values()) {
      for (const s of f.samples) {
        if (s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)
          return s.value;
      }
    }
    throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
  }

  /** Every sample named `name`, as `{ [label value of `by`]: value }`. */
  by(name: string, label: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const f of this.families.values())
      for (const s of f.samples) if (s.name === name) out[s.labels[label] ?? ''] = s.value;
    return out;
  }
}

function belongs(family: Family, sample: Sample): boolean {
  const base = family.name;
  if (family.type === 'histogram') {
    if (sample.name === `${base}_bucket`) return sample.labels.le !== undefined;
    return sample.name === `${base}_sum` || sample.name === `${base}_count`;
  }
  if (family.type === 'summary') {
    if (sample.name === base) return sample.labels.quantile !== undefined;
    return sample.name === `${base}_sum` || sample.name === `${base}_count`;
  }
  return sample.name === base;
}

function parseSample(line: string, where: string): Sample {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
  if (match === null) throw new Error(`bad sample, ${where}`);
  const labels: Record<string, string> = {};
  if (match[3] !== undefined && match[3] !== '') parseLabels(match[3], labels, where);
  return { name: match[1]!, labels, value: parseValue(match[4]!, where) };
}

function parseLabels(text: string, labels: Record<string, string>, where: string): void {
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('="', i);
    if (eq < 0) throw new Error(`bad labels, ${where}`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name) || name in labels) throw new Error(`bad label ${name}, ${where}`);
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] !== '\\') {
        value += text[j];
        continue;
      }
      const next = text[++j];
      if (next === 'n') value += '\n';
      else if (next === '\\' || next === '"') value += next;
      else throw new Error(`bad escape in label ${name}, ${where}`);
    }
    if (j >= text.length) throw new Error(`unterminated label ${name}, ${where}`);
    labels[name] = value;
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`labels must be separated by commas, ${where}`);
      i++;
    }
  }
}

function parseValue(text: string, where: string): number {
  // Prometheus reads these as Go's ParseFloat does: in any case (prom-client writes 'Nan').
  const special = text.toLowerCase();
  if (special === '+inf' || special === 'inf') return Infinity;
  if (special === '-inf') return -Infinity;
  if (special === 'nan') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`bad value, ${where}`);
  return Number(text);
}
