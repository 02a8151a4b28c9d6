/**
 * `npm pack` produces a tarball that installs and works in a fresh directory: from ESM, from
 * CommonJS (through require(esm)), with TypeScript types, and without Nest for the bare channel.
 * Run with `npm run test:pack` (CI does); it needs the npm registry for the consumer's peers.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let work: string;
let tarball: string;
let app: string;

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A script that joins a channel twice in one process and passes one message over the socket. */
const roundTrip = (importLine: string) => `${importLine}
const dir = process.argv[2];
const a = new Channel({ name: 'pack', dir });
const b = new Channel({ name: 'pack', dir });
const got = new Promise((resolve) => a.on('message', (sender, msg) => resolve({ sender, msg })));
a.connect().then(() => b.connect()).then(() => { b.to(1).send({ hello: 'packed' }); return got; })
  .then(async (r) => { await b.close(); await a.close(); console.log(JSON.stringify(r)); });
`;

beforeAll(() => {
  work = mkdtempSync('/tmp/ipc-pack-');
  const packed = JSON.parse(run(npm, ['pack', '--json', '--pack-destination', work], root)) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarball = join(work, packed[0]!.filename);
  writeFileSync(join(work, 'files.json'), JSON.stringify(packed[0]!.files.map((f) => f.path)));
  app = join(work, 'app');
  mkdirSync(app);
  copyFileSync(join(root, 'test/pack/consumer/package.json'), join(app, 'package.json'));
  copyFileSync(join(root, 'test/pack/consumer/package-lock.json'), join(app, 'package-lock.json'));
  run(npm, ['ci', '--no-audit', '--no-fund'], app);
  run(npm, ['install', '--no-save', '--no-audit', '--no-fund', tarball], app);
}, 240_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

test('the tarball holds the build, the types, the sources they map to, the README and the licence', () => {
  const files = JSON.parse(run('cat', [join(work, 'files.json')], work)) as string[];
  expect(files).toContain('package.json');
  expect(files).toContain('README.md');
  expect(files).toContain('dist/index.js');
  expect(files).toContain('dist/index.d.ts');
  expect(files).toContain('dist/channel/index.js');
  expect(files).toContain('dist/compat/index.js');
  expect(files).toContain('LICENSE');
  expect(files).toContain('src/index.ts'); // what dist's source maps point to
  const stray = files.filter(
    (f) => !/^(dist|src)\//.test(f) && !['package.json', 'README.md', 'LICENSE'].includes(f),
  );
  expect(stray).toEqual([]);
});

test('an ESM app imports it by name and talks over a real socket', () => {
  const dir = mkdtempSync('/tmp/ipc-pk-');
  writeFileSync(
    join(app, 'esm.mjs'),
    roundTrip(`import { Channel, IpcServer, IpcClient, IPC_TRANSPORT } from 'nestjs-ipc-channel';
if (typeof IpcServer !== 'function' || typeof IpcClient !== 'function' || typeof IPC_TRANSPORT !== 'symbol') throw new Error('exports');`),
  );
  expect(JSON.parse(run('node', ['esm.mjs', dir], app))).toEqual({
    sender: 2,
    msg: { hello: 'packed' },
  });
  rmSync(dir, { recursive: true, force: true });
});

test('a CommonJS app requires it (require(esm)) and talks over a real socket', () => {
  const dir = mkdtempSync('/tmp/ipc-pk-');
  writeFileSync(
    join(app, 'cjs.cjs'),
    roundTrip(`const { Channel, IpcServer } = require('nestjs-ipc-channel');
if (typeof IpcServer !== 'function') throw new Error('exports');`),
  );
  expect(JSON.parse(run('node', ['cjs.cjs', dir], app))).toEqual({
    sender: 2,
    msg: { hello: 'packed' },
  });
  rmSync(dir, { recursive: true, force: true });
});

test('TypeScript (NodeNext) finds the declarations through the exports map', () => {
  writeFileSync(
    join(app, 'check.ts'),
    `import { Channel, IpcClient, IpcServer, type IpcReply, UndeliverableError } from 'nestjs-ipc-channel';
import { Channel as Bare } from 'nestjs-ipc-channel/channel';
const ch: Channel = new Channel({ name: 'x' });
const ok: boolean = ch.to(2).emit('evt', 1);
const server = new IpcServer({ name: 'x' });
const client = new IpcClient({ name: 'x', timeout: 100 });
const reply: IpcReply<number> = { peer: 1, data: 2 };
const e: UndeliverableError | undefined = undefined;
export { ok, server, client, reply, e, Bare };
`,
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        experimentalDecorators: true,
        typeRoots: [join(root, 'node_modules/@types')],
        types: ['node'],
      },
      files: ['check.ts'],
    }),
  );
  expect(run('node', [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.'], app)).toBe('');
});

test('without Nest installed, the framework-free entry point still works', () => {
  const bare = join(work, 'bare');
  mkdirSync(bare);
  writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'bare', private: true }));
  run(npm, ['install', '--no-save', '--no-audit', '--no-fund', tarball], bare);
  const dir = mkdtempSync('/tmp/ipc-pk-');
  writeFileSync(
    join(bare, 'bare.mjs'),
    roundTrip(`import { Channel } from 'nestjs-ipc-channel/channel';`),
  );
  expect(JSON.parse(run('node', ['bare.mjs', dir], bare))).toEqual({
    sender: 2,
    msg: { hello: 'packed' },
  });
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

test('coming from ipchannel: the compat entry point joins by itself, from ESM and CommonJS, without Nest', () => {
  const bare = join(work, 'bare'); // the Nest-less app of the test above
  const script = (load: string) => `${load}
channel.on('connect', () => {
  const pid = channel.pid;
  channel.on('disconnect', () => console.log(JSON.stringify({ pid, connected: channel.connected })));
  channel.disconnect();
});`;
  writeFileSync(
    join(bare, 'compat.mjs'),
    script(`import channel from 'nestjs-ipc-channel/compat';`),
  );
  writeFileSync(
    join(bare, 'compat.cjs'),
    script(`const { channel } = require('nestjs-ipc-channel/compat');`),
  );
  for (const file of ['compat.mjs', 'compat.cjs']) {
    const dir = mkdtempSync('/tmp/ipc-pk-');
    const out = execFileSync('node', [file], {
      cwd: bare,
      encoding: 'utf8',
      env: { ...process.env, NESTJS_IPC_DIR: dir },
    });
    expect(JSON.parse(out)).toEqual({ pid: 1, connected: false });
    rmSync(dir, { recursive: true, force: true });
  }
});
