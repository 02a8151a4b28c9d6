import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_DIR } from '../shared/paths.js';
import type { BenchResults } from './results.js';
import { renderSvg } from './svg.js';
import type { TargetResult } from './targets.js';

/**
 * Writes `<base>.json` and `<base>.svg`, each through a temp file so a reader never sees half of
 * one. Full runs write `latest.*` (what the README quotes, committed); quick runs write `quick.*` and
 * `--only` runs `partial.*` (both ignored by git), so a smoke run never overwrites the published numbers.
 */
export function writeResults(r: BenchResults, targets: TargetResult[], base: string): string[] {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const files: [string, string][] = [
    [`${base}.json`, JSON.stringify({ ...r, targets }, null, 2) + '\n'],
    [`${base}.svg`, renderSvg(r)],
  ];
  return files.map(([name, content]) => {
    const path = join(RESULTS_DIR, name);
    writeFileSync(`${path}.tmp`, content);
    renameSync(`${path}.tmp`, path);
    return path;
  });
}
