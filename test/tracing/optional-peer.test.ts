import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const SRC = join(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

test('only the tracing entry point imports OpenTelemetry (an optional peer dependency)', () => {
  const importers = sources(SRC)
    .filter((file) => /from '@opentelemetry\//.test(readFileSync(file, 'utf8')))
    .map((file) => relative(SRC, file))
    .sort();
  expect(importers).toEqual(['tracing/enable-ipc-tracing.ts', 'tracing/message-spans.ts']);
});
