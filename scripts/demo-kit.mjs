/**
 * What the demos share (scripts/demo.mjs, scripts/demo-hosts.mjs): colored output and a table,
 * running commands, finding processes in /proc, and a private PM2 driven through the project's
 * own pm2 CLI.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PM2_BIN = join(ROOT, 'node_modules/pm2/bin/pm2');

// ---- output ---------------------------------------------------------------------------------

const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (text) => (tty ? `\x1b[${code}m${text}\x1b[0m` : String(text));
export const bold = paint('1');
export const dim = paint('2');
export const green = paint('32');
export const red = paint('31');
export const cyan = paint('36');
export const say = (line = '') => process.stdout.write(`${line}\n`);
export const step = (text) => say(`\n${bold(text)}`);
export const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** Left-aligned columns with a header and a rule. */
export function table(rows, columns, indent = '   ') {
  const cells = rows.map((row) => columns.map(([key]) => String(row[key] ?? '')));
  // eslint-disable-next-line no-control-regex
  const width = (text) => text.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = columns.map(([, title], i) =>
    Math.max(title.length, ...cells.map((row) => width(row[i]))),
  );
  const pad = (text, i) => text + ' '.repeat(widths[i] - width(text));
  const line = (values) => (indent + values.map(pad).join('  ')).trimEnd();
  say(bold(line(columns.map(([, title]) => title))));
  say(indent + dim(widths.map((w) => '─'.repeat(w)).join('  ')));
  for (const row of cells) say(line(row));
}

// ---- processes ------------------------------------------------------------------------------

/** Runs a command; rejects with its output when it fails. */
export function run(file, argv, options = {}) {
  return new Promise((resolveRun, reject) => {
    execFile(file, argv, { maxBuffer: 64 * 1024 * 1024, ...options }, (error, stdout, stderr) => {
      if (error)
        reject(
          new Error(
            `${relative(ROOT, argv[0] ?? file)} ${argv.slice(1).join(' ')} failed:\n${stdout}${stderr}`,
          ),
        );
      else resolveRun(stdout);
    });
  });
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

/**
 * Processes (not zombies) whose parent is `ppid`, whose command line contains `text`, or whose
 * environment holds `env` (Linux /proc; PM2's workers inherit the daemon's PM2_HOME).
 */
export function findProcesses({ ppid, text, env }) {
  const found = [];
  let entries;
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return found;
  }
  for (const entry of entries) {
    try {
      if (ppid !== undefined) {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[1]) === ppid && fields[0] !== 'Z') found.push(Number(entry));
      } else if (text !== undefined) {
        if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text))
          found.push(Number(entry));
      } else if (Number(entry) !== process.pid) {
        const vars = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
        if (vars.includes(env) && isAlive(Number(entry))) found.push(Number(entry));
      }
    } catch {
      /* gone */
    }
  }
  return found;
}

/** A private PM2: its own PM2_HOME, driven through the project's pm2 CLI. */
export class Pm2 {
  /** `app`: the PM2 app name instances() reports on. */
  constructor(home, appEnv, app) {
    this.home = home;
    this.app = app;
    this.env = {
      ...process.env,
      ...appEnv,
      PM2_HOME: home,
      PM2_DISCRETE_MODE: 'true',
      PM2_NO_INTERACTION: 'true',
      PM2_DISABLE_VERSION_CHECK: 'true',
    };
    delete this.env.NODE_OPTIONS;
  }

  run(...argv) {
    return run(process.execPath, [PM2_BIN, ...argv], {
      cwd: ROOT,
      env: this.env,
      timeout: 120_000,
    });
  }

  async instances() {
    const list = JSON.parse(await this.run('jlist'));
    const map = new Map();
    for (const p of list) {
      if (p.name === this.app && p.pm2_env.status === 'online')
        map.set(Number(p.pm2_env.NODE_APP_INSTANCE), p.pid);
    }
    return map;
  }

  /** The daemon's pid, if it runs (read without starting one: any pm2 command would). */
  daemon() {
    let pid = 0;
    try {
      pid = Number(readFileSync(join(this.home, 'pm2.pid'), 'utf8'));
    } catch {
      /* not written yet */
    }
    if (pid > 0 && isAlive(pid)) return pid;
    return findProcesses({ text: `God Daemon (${this.home})` })[0];
  }

  /**
   * `pm2 kill`, then makes sure the daemon and every process of this PM2_HOME are gone (SIGKILL
   * after 10 s), then removes PM2_HOME.
   */
  async destroy() {
    const daemon = this.daemon();
    if (daemon !== undefined) {
      await this.run('kill', '-s').catch(() => isAlive(daemon) && process.kill(daemon, 'SIGTERM'));
    }
    const ours = () => findProcesses({ env: `PM2_HOME=${this.home}` });
    const deadline = Date.now() + 10_000;
    while (ours().length > 0 && Date.now() < deadline) await sleep(50);
    for (const pid of ours()) process.kill(pid, 'SIGKILL');
    rmSync(this.home, { recursive: true, force: true });
  }
}

// ---- waiting ----

export async function eventually(check, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}${last ? ` (${last.message})` : ''}.`);
    await sleep(100);
  }
}
