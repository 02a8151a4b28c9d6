/** Plain processes a test starts (a traffic tool, an example app) and always stops. */
import { type ChildProcess, spawn } from 'node:child_process';
import { ROOT } from './sample-build.js';
import { cleanEnv } from './pm2.js';

const spawned = new Set<ChildProcess>();

/** A process of ours, its output collected. */
export interface Spawned {
  child: ChildProcess;
  output: () => string;
  /** The exit code, or the signal that ended the process. */
  exited: Promise<number | NodeJS.Signals | null>;
}

export function start(script: string, env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, [script], {
    cwd: ROOT,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | NodeJS.Signals | null>((resolveExit) =>
    child.on('exit', (code, signal) => {
      spawned.delete(child);
      resolveExit(code ?? signal);
    }),
  );
  return { child, output: () => out, exited };
}

/** Kills (SIGKILL) every process `start` started that is still running. */
export async function killStarted(): Promise<void> {
  const all = [...spawned];
  for (const child of all) child.kill('SIGKILL');
  await Promise.all(
    all.map(
      (c) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r()))),
    ),
  );
}
