import { join } from 'node:path';
import { FULL, QUICK, type Settings } from './settings.js';
import { RESULTS_DIR } from './shared/paths.js';

export const USAGE = `usage: npm run bench -- [options]
  --quick          a smoke run (1 run, short trials, 3 failover kills): under a minute
  --runs N         repetitions of every trial (default ${FULL.runs}, quick ${QUICK.runs})
  --warmup MS      traffic before each measurement (default ${FULL.warmupMs}, quick ${QUICK.warmupMs})
  --measure MS     length of each measurement (default ${FULL.measureMs}, quick ${QUICK.measureMs})
  --only a,b       only these competitors and/or scenarios, e.g.
                   --only channel-relayed,one-way   (keys are listed in the table's notes)
  --redis-fsync M  appendfsync of the bench's redis-server: everysec (default) or always
  --cpu-prof       workers write V8 CPU profiles to bench/results/profiles/
  --verbose        show what workers print
  --help`;

/** A bad command line: printed as its message alone (no stack), exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseArgs(argv: string[]): Settings | 'help' {
  const quick = argv.includes('--quick');
  const s: Settings = {
    ...(quick ? QUICK : FULL),
    only: [],
    workerFlags: [],
    verbose: false,
    redisFsync: 'everysec',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    if (arg === '--quick') continue;
    else if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '--runs') s.runs = positiveInt(arg, value());
    else if (arg === '--warmup') s.warmupMs = windowMs(arg, value());
    else if (arg === '--measure') s.measureMs = windowMs(arg, value());
    else if (arg === '--only') s.only.push(...value().split(',').filter(Boolean));
    else if (arg === '--redis-fsync') {
      const mode = value();
      if (mode !== 'always' && mode !== 'everysec')
        throw new UsageError(`--redis-fsync takes always or everysec, not ${mode}`);
      s.redisFsync = mode;
    } else if (arg === '--cpu-prof')
      s.workerFlags.push('--cpu-prof', `--cpu-prof-dir=${join(RESULTS_DIR, 'profiles')}`);
    else if (arg === '--verbose') s.verbose = true;
    else throw new UsageError(`unknown option ${arg}\n${USAGE}`);
  }
  return s;
}

/** A warm-up or measurement must end well inside the per-step timeout, or every trial fails. */
const MAX_WINDOW_MS = 20_000;

function windowMs(name: string, text: string): number {
  const ms = positiveInt(name, text);
  if (ms > MAX_WINDOW_MS) throw new UsageError(`${name} takes at most ${MAX_WINDOW_MS} ms`);
  return ms;
}

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} needs a positive integer`);
  return n;
}
