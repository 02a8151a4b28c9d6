/**
 * Every ```ts snippet of README.md and docs/*.md compiles against the packed tarball under the
 * tsconfig of a fresh `nest new` app (CLI 12's templates, `strict` on), as ESM and as CommonJS.
 * How snippets are grouped into files: test/pack/doc-snippets.ts. Run with `npm run test:pack`.
 */
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { docSnippets } from './doc-snippets.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const templates = join(root, 'node_modules/@nestjs/schematics/dist/lib/application/files');
const docs = ['README.md', ...readdirSync(join(root, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
  f.endsWith('.md'),
);
const modes = [
  { mode: 'ESM', template: 'ts-esm', packageJson: { type: 'module' } },
  { mode: 'CommonJS', template: 'ts', packageJson: {} },
] as const;

let work: string;
let previous: ts.Program | undefined;

beforeAll(() => {
  work = mkdtempSync('/tmp/ipc-snippets-');
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tarball = join(work, (JSON.parse(out) as { filename: string }[])[0]!.filename);
  // The app's other packages are this repository's (one copy of each, so types line up); the
  // package under test is the tarball, unpacked as npm installs it.
  const modules = join(work, 'node_modules');
  mkdirSync(modules);
  for (const entry of readdirSync(join(root, 'node_modules'))) {
    if (entry.startsWith('.')) continue;
    symlinkSync(join(root, 'node_modules', entry), join(modules, entry));
  }
  const pkg = join(modules, 'nestjs-ipc-channel');
  mkdirSync(pkg);
  execFileSync('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1']);
}, 240_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The template's tsconfig as `nest new --strict` writes it; test runners' types left out. */
function nestNewOptions(template: string, dir: string): ts.CompilerOptions {
  const text = readFileSync(join(templates, template, 'tsconfig.json'), 'utf8').replace(
    '<%= strict %>',
    'true',
  );
  const config = JSON.parse(text) as { compilerOptions: Record<string, unknown> };
  // jest / vitest are the app's test runners, not installed here; `nest new` adds them.
  config.compilerOptions.types = ['node'];
  config.compilerOptions.incremental = false;
  config.compilerOptions.noEmit = true;
  const parsed = ts.parseJsonConfigFileContent({ ...config, files: [] }, ts.sys, dir);
  return parsed.options;
}

for (const { mode, template, packageJson } of modes) {
  describe(`as ${mode}`, () => {
    test.each(docs)(`every ts snippet of %s compiles (strict)`, (doc) => {
      const { sets } = docSnippets(join(root, doc));
      const problems: string[] = [];
      sets.forEach((set, n) => {
        const dir = join(work, mode, doc.replace(/[/.]/g, '-'), String(n));
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'package.json'), JSON.stringify(packageJson));
        const origin = new Map<string, number>();
        for (const s of set) {
          writeFileSync(join(dir, s.file), s.code);
          origin.set(join(dir, s.file), s.line);
        }
        const program = ts.createProgram({
          rootNames: set.map((s) => join(dir, s.file)),
          options: nestNewOptions(template, dir),
          oldProgram: previous,
        });
        previous = program;
        for (const d of ts.getPreEmitDiagnostics(program)) {
          const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
          if (d.file === undefined || d.start === undefined) {
            problems.push(`TS${d.code}: ${text}`);
            continue;
          }
          const { line } = d.file.getLineAndCharacterOfPosition(d.start);
          const first = origin.get(d.file.fileName);
          const where =
            first === undefined
              ? relative(work, d.file.fileName)
              : `${doc}:${first + line} (${relative(dir, d.file.fileName)})`;
          problems.push(`${where}: TS${d.code}: ${text}`);
        }
      });
      expect(problems).toEqual([]);
    });
  });
}
