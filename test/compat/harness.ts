/**
 * Helpers for the compat entry point's end-to-end tests: the library built into dist/, an
 * application directory that installs it as a user's would, the ipchannel README example's
 * expected output, and a controller that runs numbered traffic through example workers.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Channel } from '../../src/compat/channel.js';
import { sleep, until } from '../helpers/processes.js';
import { ROOT, newest } from '../pm2/sample-build.js';

const EXAMPLES = join(ROOT, 'test/compat/examples');
const TSC_BIN = join(ROOT, 'node_modules/typescript/bin/tsc');

/**
 * Builds dist/ (what `nestjs-ipc-channel/compat` resolves to) when src/ is newer. A lock
 * directory keeps test files that run in parallel from building at the same time.
 */
export async function buildDist(): Promise<void> {
  const lock = join(ROOT, '.compat-build.lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) rmSync(lock, { recursive: true, force: true });
      await sleep(100);
    }
  }
  try {
    let built = 0;
    try {
      built = statSync(join(ROOT, 'dist/compat/index.js')).mtimeMs;
    } catch {
      /* never built */
    }
    if (newest(join(ROOT, 'src')) > built) {
      execFileSync(process.execPath, [TSC_BIN, '-p', 'tsconfig.build.json'], {
        cwd: ROOT,
        stdio: 'inherit',
      });
    }
  } finally {
    rmdirSync(lock);
  }
}

/**
 * The changes made to ipchannel's README example (examples/readme) to run it: the module name
 * alone, the same in CommonJS, and the port to the native API exactly as docs/compat.md shows it.
 * Each `from` must occur in the example; a string replaces every occurrence.
 */
const VARIANTS = {
  esm: [["from 'ipchannel'", "from 'nestjs-ipc-channel/compat'"]],
  cjs: [
    [
      "import channel from 'ipchannel';",
      "const channel = require('nestjs-ipc-channel/compat').default;",
    ],
  ],
  native: [
    [
      "import channel from 'ipchannel';",
      "import { Channel } from 'nestjs-ipc-channel/channel';\nconst channel = new Channel();",
    ],
    ["channel.on('connect', () => {", 'channel.connect().then(() => {'],
    ['channel.pid', 'channel.id'],
  ],
} as const;

type Variant = keyof typeof VARIANTS;

/** A user's application: an example's files, with the package installed under node_modules. */
export class App {
  /** The application's directory. */
  readonly path: string;
  /** The channel's socket directory (NESTJS_IPC_DIR), private as the channel requires. */
  readonly ipcDir: string;
  /** The README example's entry script (its cluster primary). */
  readonly entry: string;
  private readonly root = mkdtempSync('/tmp/ipcc-');

  constructor(example: Variant | 'traffic' | 'require') {
    this.path = join(this.root, 'app');
    this.ipcDir = join(this.root, 'ipc');
    mkdirSync(this.ipcDir, { mode: 0o700 });
    if (example === 'traffic' || example === 'require') {
      cpSync(join(EXAMPLES, example), this.path, { recursive: true });
      this.entry = '';
    } else this.entry = this.readme(example);
    mkdirSync(join(this.path, 'node_modules'));
    // As `npm install` of a local folder does: the package is the repository itself.
    symlinkSync(ROOT, join(this.path, 'node_modules/nestjs-ipc-channel'), 'dir');
  }

  /** Writes the README example's variant; returns the path of its entry script. */
  private readme(variant: Variant): string {
    mkdirSync(this.path);
    let task = readFileSync(join(EXAMPLES, 'readme/task.js'), 'utf8');
    for (const [from, to] of VARIANTS[variant]) {
      if (!task.includes(from)) throw new Error(`the README example has no ${from}`);
      task = task.replaceAll(from, to);
    }
    writeFileSync(join(this.path, 'task.js'), task);
    // An ES module application says so, and its CommonJS entry script then ends in .cjs.
    const esm = variant !== 'cjs';
    if (esm) writeFileSync(join(this.path, 'package.json'), '{ "type": "module" }\n');
    const entry = join(this.path, esm ? 'index.cjs' : 'index.js');
    cpSync(join(EXAMPLES, 'readme/index.js'), entry);
    return entry;
  }

  file(name: string): string {
    return join(this.path, name);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

// ---- the README example --------------------------------------------------------------------

const PRE = 'This message is sent before connection.';

/** What each peer of the README example prints, by peer id (4 peers). */
export const README_OUTPUT: Record<number, string[]> = {
  1: [
    'undefined',
    'false',
    'true',
    `Peer 1 says: ${PRE}`,
    `Peer 2 says: ${PRE}`,
    `Peer 3 says: ${PRE}`,
    `Peer 4 says: ${PRE}`,
    "Peer 2 says: Hi peer 1, I'm peer 2.",
    'Peer 3 emits: ["hello world"]',
    'Peer 4 says: all attention',
    'Peer 4 emits: ["all attention"]',
  ],
  2: ['undefined', 'false', 'true', 'Peer 4 says: all attention'],
  3: ['undefined', 'false', 'true', 'Peer 4 says: all attention'],
  4: ['undefined', 'false', 'true', 'Peer 4 says: all attention'],
};

/** Lines, sorted: the order across processes is not defined. */
export const sorted = (lines: string[]) => [...lines].sort();

/** Non-empty lines of `text`. */
export const lines = (text: string) => text.split('\n').filter((l) => l.length > 0);

// ---- traffic -------------------------------------------------------------------------------

/** The controller's peer id (the workers answer it there). */
const CONTROLLER = 100;

interface Status {
  id: number;
  pid: number;
  hub: boolean;
  connected: boolean;
}

interface Row {
  count: number;
  last: number;
  bad: number;
}

export interface Report {
  id: number;
  hub: boolean;
  sent: number;
  sentWhenHubLost: number;
  unicast: Record<string, Row>;
  broadcast: Record<string, Row>;
  errors: string[];
}

export interface TrafficResult {
  /** The peer id of the worker whose process hosted the hub and was killed. */
  killed: number;
  survivors: number[];
  reports: Report[];
  /** Whether the controller hosts the hub at the end. */
  controllerIsHub: boolean;
}

/**
 * Joins the workers' channel as peer 100, finds the 4 workers and which hosts the hub, has the
 * other three send `count` numbered messages to each other (and every tenth to all), SIGKILLs
 * the hub's process once each of them is a fifth of the way through, and returns their reports
 * once every survivor has received everything (or after 60 s).
 */
export async function killHubUnderTraffic(
  name: string,
  dir: string,
  count: number,
): Promise<TrafficResult> {
  // Joining only once a worker hosts the hub: the process to kill must be a worker.
  await until(
    () => readdirSync(dir).some((f) => f.endsWith('.sock') || f.endsWith('.tcp')),
    60_000,
    'a worker to host the hub',
  );
  const ctl = new Channel({ name, dir, id: CONTROLLER });
  const statuses = new Map<number, Status>();
  const progress = new Set<number>();
  const reports = new Map<number, Report>();
  ctl.on('status', (_sender, s: Status) => statuses.set(s.id, s));
  ctl.on('progress', (sender) => progress.add(sender));
  ctl.on('report', (_sender, r: Report) => reports.set(r.id, r));
  const errors: string[] = [];
  ctl.on('error', (error) => errors.push(error.message));
  const state = () =>
    `controller ${ctl.pid ?? '-'} ${ctl.connected ? 'joined' : 'not joined'}, ` +
    `statuses ${JSON.stringify([...statuses.values()])}, errors ${JSON.stringify(errors)}`;
  try {
    await until(
      () => {
        if (ctl.connected) ctl.to('others').emit('status?');
        const all = [...statuses.values()];
        return all.length === 4 && all.every((s) => s.connected) && all.some((s) => s.hub);
      },
      60_000,
      'four workers, one of them the hub',
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${state()}`);
    });
    await sleep(0);
    const hub = [...statuses.values()].find((s) => s.hub)!;
    const survivors = [...statuses.keys()].filter((id) => id !== hub.id).sort((a, b) => a - b);
    for (const id of survivors) {
      ctl.to(id).emit(
        'go',
        survivors.filter((t) => t !== id),
        count,
      );
    }
    await until(() => progress.size === survivors.length, 60_000, 'the traffic to start');
    process.kill(hub.pid, 'SIGKILL');
    const complete = (r: Report | undefined) =>
      r !== undefined &&
      survivors.every(
        (s) =>
          r.broadcast[s]?.count === count / 10 && (s === r.id || r.unicast[s]?.count === count),
      );
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !survivors.every((id) => complete(reports.get(id)))) {
      reports.clear();
      for (const id of survivors) ctl.to(id).emit('report?');
      await sleep(300);
    }
    return {
      killed: hub.id,
      survivors,
      reports: survivors.map((id) => reports.get(id)!),
      controllerIsHub: ctl.native.isHub,
    };
  } finally {
    ctl.disconnect();
    await new Promise<void>((resolve) => ctl.once('disconnect', resolve));
  }
}

/** What every survivor must report: exactly everything, in order, once, and no error. */
export function expectNothingLost(result: TrafficResult, count: number): void {
  const { survivors, reports, killed } = result;
  expect(survivors).toHaveLength(3);
  expect(survivors).not.toContain(killed);
  for (const r of reports) {
    expect(r).toBeDefined();
    const unicast: Record<string, Row> = {};
    const broadcast: Record<string, Row> = {};
    for (const s of survivors) {
      if (s !== r.id) unicast[s] = { count, last: count, bad: 0 };
      broadcast[s] = { count: count / 10, last: count, bad: 0 };
    }
    expect(r.unicast).toEqual(unicast);
    expect(r.broadcast).toEqual(broadcast);
    expect(r.errors).toEqual([]);
    expect(r.sent).toBe(count);
    // The hub died while this worker was sending, not before or after.
    expect(r.sentWhenHubLost).toBeGreaterThan(0);
    expect(r.sentWhenHubLost).toBeLessThan(count);
  }
  // One new hub, among the survivors or the controller.
  expect(reports.filter((r) => r.hub).length + (result.controllerIsHub ? 1 : 0)).toBe(1);
}
