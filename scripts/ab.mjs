// npm run bench:ab -- --a <git ref> [--b <git ref>] [--mode rr|emit] [--runs 8] [--seconds 2] [--warmup 1500]
// npm run bench:ab -- --a <git ref> [--b <git ref>] [--mode rr|emit] --series 250 [--seconds 6]
//
// Tells one change apart from this machine's drift: two builds of the library, A and B (B is the
// working tree unless given), measured alternately, run by run, with one real Nest server and
// one real Nest client process (scripts/ab-worker.mjs; one hop, the server hosts the hub).
// `rr` keeps 100 requests in flight and counts answers; `emit` emits with backpressure honored
// and counts at the server. Each run also reads both processes' CPU time from /proc (Linux), so
// a change that costs less CPU shows even when the machine's speed moves the rates.
//
// `--series <ms>` shows how one fresh pair of processes per build gets going instead: from the
// moment both are up, every <ms> it prints the rate, each process's CPU (share of a core and µs
// per operation) and its read and write system calls per operation (/proc/<pid>/io), for
// `--seconds` (6 by default). That is where the JIT's warm-up and the machine's swings show.
import { fork, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { args, option } from './run-jest.mjs';

const USAGE =
  'usage: npm run bench:ab -- --a <git ref> [--b <git ref>] [--mode rr|emit] [--runs 8] [--seconds 2] [--warmup 1500]\n' +
  '       npm run bench:ab -- --a <git ref> [--b <git ref>] [--mode rr|emit] --series <ms> [--seconds 6]';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const worker = join(root, 'scripts/ab-worker.mjs');
const a = option('--a', undefined);
const b = option('--b', undefined);
const mode = option('--mode', 'rr');
const runs = Number(option('--runs', '8'));
// A --series without its interval is a usage error, not the alternating runs.
const seriesMs = args.includes('--series') ? Number(option('--series', 'NaN')) : undefined;
const seconds = Number(option('--seconds', seriesMs === undefined ? '2' : '6'));
const warmupMs = Number(option('--warmup', '1500'));
if (
  a === undefined ||
  args.includes('--help') ||
  !['rr', 'emit'].includes(mode) ||
  ![runs, seconds, warmupMs, seriesMs ?? 1].every((v) => Number.isFinite(v) && v > 0)
) {
  console.error(USAGE);
  process.exit(2);
}
if (process.platform !== 'linux') {
  console.error('bench:ab reads CPU time from /proc: it runs on Linux only.');
  process.exit(2);
}

/**
 * Builds `ref` (a commit, or the working tree when undefined) and returns its dist/index.js.
 * Commits are built once into node_modules/.cache, where the repository's node_modules resolve.
 */
function build(ref) {
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  if (ref === undefined) {
    run(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')]);
    return join(root, 'dist/index.js');
  }
  const sha = run('git', ['rev-parse', '--verify', `${ref}^{commit}`]).trim();
  const dir = join(root, 'node_modules/.cache/nestjs-ipc-ab', sha);
  const entry = join(dir, 'dist/index.js');
  if (existsSync(entry)) return entry;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const archive = join(dir, 'src.tar');
  run('git', ['archive', '-o', archive, sha, 'src', 'tsconfig.json', 'tsconfig.build.json']);
  run('tar', ['-xf', archive, '-C', dir]);
  run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.build.json')]);
  return entry;
}

function run(command, argv) {
  const r = spawnSync(command, argv, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${command} ${argv.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}

/** User + system CPU time of a process so far, in ms (clock ticks are 10 ms on Linux). */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const children = new Set();
const dirs = new Set();
function cleanUp() {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanUp);
process.on('SIGINT', () => process.exit(130));

function start(lib, role, dir) {
  const child = fork(worker, [role, dir, mode], {
    cwd: root,
    env: { ...process.env, AB_LIB: lib },
  });
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = new Promise((resolve, reject) => {
    child.once('message', resolve);
    exited.then((code) => reject(new Error(`the ${role} exited (${code}) before it was ready`)));
  });
  return { child, ready, exited };
}

/** The count a process keeps; fails (instead of waiting forever) if the process is gone. */
function ask(p) {
  return new Promise((resolve, reject) => {
    p.exited.then((code) => reject(new Error(`a worker exited (${code}) during the measurement`)));
    p.child.once('message', (m) => resolve(m.done));
    p.child.send('count');
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a fresh server and client of one build in a directory of their own, hands them to
 * `use` (with the one that counts operations), and stops them and removes the directory after.
 */
async function withPair(lib, use) {
  const dir = mkdtempSync(join(tmpdir(), 'ipc-ab-'));
  dirs.add(dir);
  const started = [];
  try {
    const server = start(lib, 'server', dir);
    started.push(server);
    await server.ready;
    const client = start(lib, 'client', dir);
    started.push(client);
    await client.ready;
    return await use(server, client, mode === 'rr' ? client : server);
  } finally {
    await stop(started.reverse());
    rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
  }
}

/** Asks the processes to exit, and kills those still there after 3 s. */
async function stop(procs) {
  for (const p of procs) {
    if (p.child.connected) p.child.send('exit');
    await Promise.race([p.exited, sleep(3000)]);
    p.child.kill('SIGKILL');
    children.delete(p.child);
  }
}

/** One measurement of one build: fresh processes, warm-up, then `seconds` counted. */
function measure(lib) {
  return withPair(lib, async (server, client, counter) => {
    await sleep(warmupMs);
    const n0 = await ask(counter);
    const s0 = cpuMs(server.child.pid);
    const c0 = cpuMs(client.child.pid);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const n1 = await ask(counter);
    const ms = performance.now() - t0;
    const ops = n1 - n0;
    return {
      perSec: (ops / ms) * 1000,
      serverUs: ((cpuMs(server.child.pid) - s0) * 1000) / ops,
      clientUs: ((cpuMs(client.child.pid) - c0) * 1000) / ops,
    };
  });
}

/** Read and write system calls of a process so far (reads, recvmsg...; writes, writev...). */
function syscalls(pid) {
  const text = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { r: Number(/syscr: (\d+)/.exec(text)[1]), w: Number(/syscw: (\d+)/.exec(text)[1]) };
}

/** One fresh pair of processes of one build, sampled every `seriesMs` from the start. */
function series(lib) {
  return withPair(lib, async (server, client, counter) => {
    const sample = async () => ({
      n: await ask(counter),
      t: performance.now(),
      procs: [server, client].map((p) => ({ cpu: cpuMs(p.child.pid), ...syscalls(p.child.pid) })),
    });
    const t0 = performance.now();
    let prev = await sample();
    while (prev.t - t0 < seconds * 1000) {
      await sleep(seriesMs);
      const cur = await sample();
      const ops = cur.n - prev.n;
      const ms = cur.t - prev.t;
      const side = (name, i) => {
        const [was, now] = [prev.procs[i], cur.procs[i]];
        const per = (v) => (ops > 0 ? (v / ops).toFixed(3) : '-');
        return (
          `${name} ${(((now.cpu - was.cpu) / ms) * 100).toFixed(0).padStart(3)}% ` +
          `${ops > 0 ? us(((now.cpu - was.cpu) * 1000) / ops) : '-'}/op ` +
          `r ${per(now.r - was.r)} w ${per(now.w - was.w)}`
        );
      };
      console.log(
        `  ${((cur.t - t0) / 1000).toFixed(2).padStart(5)} s ${k((ops / ms) * 1000).padStart(9)}  ` +
          `${side('server', 0)}  ${side('client', 1)}`,
      );
      prev = cur;
    }
  });
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const k = (v) => `${(v / 1000).toFixed(1)}k/s`;
const us = (v) => `${v.toFixed(2)} µs`;

let sides;
try {
  sides = [
    { name: 'A', ref: a, lib: build(a), results: [] },
    { name: 'B', ref: b ?? 'working tree', lib: build(b), results: [] },
  ];
} catch (e) {
  console.error(`bench:ab could not build both sides: ${e.message}`);
  process.exit(1);
}
const unit = mode === 'rr' ? 'requests (100 in flight)' : 'events';
if (seriesMs !== undefined) {
  console.log(
    `${unit}: one fresh server and client per build, every ${seriesMs} ms for ${seconds} s; ` +
      'CPU (share of a core, µs per operation) and read (r) / write (w) system calls per operation',
  );
  for (const side of sides) {
    console.log(`${side.name} = ${side.ref}`);
    await series(side.lib);
  }
  process.exit(0);
}
console.log(
  `A = ${sides[0].ref}, B = ${sides[1].ref}; ${unit}, ${runs} runs each, alternating, ` +
    `${seconds} s measured after ${warmupMs} ms; CPU per operation from /proc`,
);
for (let i = 1; i <= runs; i++) {
  for (const side of sides) {
    const r = await measure(side.lib);
    side.results.push(r);
    console.log(
      `  run ${i} ${side.name}: ${k(r.perSec)}  server ${us(r.serverUs)}  client ${us(r.clientUs)}`,
    );
  }
}
console.log('medians:');
const med = sides.map((side) => ({
  perSec: median(side.results.map((r) => r.perSec)),
  serverUs: median(side.results.map((r) => r.serverUs)),
  clientUs: median(side.results.map((r) => r.clientUs)),
}));
for (const [i, side] of sides.entries()) {
  const m = med[i];
  console.log(`  ${side.name}: ${k(m.perSec)}  server ${us(m.serverUs)}  client ${us(m.clientUs)}`);
}
console.log(
  `  B/A: rate ${(med[1].perSec / med[0].perSec).toFixed(3)}x, server CPU ` +
    `${(med[1].serverUs / med[0].serverUs).toFixed(3)}x, client CPU ` +
    `${(med[1].clientUs / med[0].clientUs).toFixed(3)}x`,
);
