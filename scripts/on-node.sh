#!/usr/bin/env bash
# Runs a command with another Node.js first on PATH, so it and every process it starts (Jest's
# fixtures, PM2's daemon and workers) run on that version:
#   npm ci --prefix compat/node        # Node 22, 24 and 26 from the npm registry (Linux x64)
#   scripts/on-node.sh 26 npm test
set -euo pipefail
usage="usage: scripts/on-node.sh <22|24|26> <command...>"
major="${1:?${usage}}"
shift
[ $# -gt 0 ] || { echo "${usage}" >&2; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${root}/compat/node/node_modules/node${major}/bin"
if [ ! -x "${bin}/node" ]; then
  echo "Node ${major} is not installed: run 'npm ci --prefix compat/node' (Linux x64 only)." >&2
  exit 1
fi
# A binary that is there but cannot run here (say, glibc's on musl) must not pass for Node N.
version="$("${bin}/node" --version 2>/dev/null || true)"
case "${version}" in
  "v${major}."*) ;;
  *)
    echo "compat/node's Node ${major} does not run on this machine (got '${version}')." >&2
    exit 1
    ;;
esac
echo "on ${version}: $*"
PATH="${bin}:${PATH}" exec "$@"
