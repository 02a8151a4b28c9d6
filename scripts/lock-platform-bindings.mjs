// Restores lock entries for platform bindings that this workplace's npm mirror does not serve.
//
// `npm install` here writes only the linux x64/arm64 bindings of unrs-resolver (Jest's resolver)
// into package-lock.json, because the mirror answers 404 for the others. `npm ci` then refuses
// the lock as out of sync with the optional dependencies it declares. Listing the missing
// bindings with their os/cpu/libc lets `npm ci` skip them as foreign platforms without fetching.
// Run after any `npm install` that rewrites the lock: node scripts/lock-platform-bindings.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages;

const platforms = {
  'android-arm-eabi': { os: 'android', cpu: 'arm' },
  'android-arm64': { os: 'android', cpu: 'arm64' },
  'darwin-arm64': { os: 'darwin', cpu: 'arm64' },
  'darwin-x64': { os: 'darwin', cpu: 'x64' },
  'freebsd-x64': { os: 'freebsd', cpu: 'x64' },
  'linux-arm-gnueabihf': { os: 'linux', cpu: 'arm', libc: 'glibc' },
  'linux-arm-musleabihf': { os: 'linux', cpu: 'arm', libc: 'musl' },
  'linux-arm64-gnu': { os: 'linux', cpu: 'arm64', libc: 'glibc' },
  'linux-arm64-musl': { os: 'linux', cpu: 'arm64', libc: 'musl' },
  'linux-loong64-gnu': { os: 'linux', cpu: 'loong64', libc: 'glibc' },
  'linux-loong64-musl': { os: 'linux', cpu: 'loong64', libc: 'musl' },
  'linux-ppc64-gnu': { os: 'linux', cpu: 'ppc64', libc: 'glibc' },
  'linux-riscv64-gnu': { os: 'linux', cpu: 'riscv64', libc: 'glibc' },
  'linux-riscv64-musl': { os: 'linux', cpu: 'riscv64', libc: 'musl' },
  'linux-s390x-gnu': { os: 'linux', cpu: 's390x', libc: 'glibc' },
  'linux-x64-gnu': { os: 'linux', cpu: 'x64', libc: 'glibc' },
  'linux-x64-musl': { os: 'linux', cpu: 'x64', libc: 'musl' },
  'openharmony-arm64': { os: 'openharmony', cpu: 'arm64' },
  'win32-arm64-msvc': { os: 'win32', cpu: 'arm64' },
  'win32-ia32-msvc': { os: 'win32', cpu: 'ia32' },
  'win32-x64-msvc': { os: 'win32', cpu: 'x64' },
};

let added = 0;
for (const [owner, entry] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const suffix = dep.startsWith('@unrs/resolver-binding-')
      ? dep.slice('@unrs/resolver-binding-'.length)
      : undefined;
    const key = `${owner.replace(/[^/]+$/, '')}${dep}`.replace(/^\//, '');
    const target = key.startsWith('node_modules/') ? key : `node_modules/${dep}`;
    if (!suffix || packages[target]) continue;
    const platform = platforms[suffix];
    if (!platform) throw new Error(`no os/cpu known for ${dep}; add it to ${lockPath.pathname}`);
    packages[target] = {
      version,
      cpu: [platform.cpu],
      dev: entry.dev === true ? true : undefined,
      ...(platform.libc ? { libc: [platform.libc] } : {}),
      license: 'MIT',
      optional: true,
      os: [platform.os],
    };
    added++;
  }
}

lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a < b ? -1 : 1)));
writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
console.log(`added ${added} platform binding entries to package-lock.json`);
