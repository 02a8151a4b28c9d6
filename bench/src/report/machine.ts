import { execFileSync } from 'node:child_process';
import { cpus, release, totalmem, type as osType } from 'node:os';
import { REPO_ROOT } from '../shared/paths.js';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  date: string;
  commit: string;
}

function git(...args: string[]): string {
  try {
    return execFileSync('git', args, {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

/** Where the numbers came from: they mean little without the machine and the code. */
export function machineInfo(): MachineInfo {
  const list = cpus();
  const commit = git('rev-parse', '--short', 'HEAD');
  // The results this run replaces are not a change to the code measured.
  const dirty =
    git('status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)bench/results') !==
    '';
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${osType()} ${release()} ${process.arch}`,
    node: process.version,
    date: new Date().toISOString(),
    commit: commit === '' ? 'unknown' : `${commit}${dirty ? ' (modified)' : ''}`,
  };
}
