#!/usr/bin/env bash
# A typed client generated from docs/openapi.json, type-checked, then run against a live
# server started here on a free port on 127.0.0.1 (in-memory SQLite, a throwaway Admin).
#   bash client-check/run.sh      (npm run client-check)
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== client-check: generate types from docs/openapi.json (openapi-typescript)"
npx openapi-typescript docs/openapi.json -o client-check/generated/openapi.d.ts
echo "== client-check: type-check and compile the program (openapi-fetch)"
npx tsc -p client-check/tsconfig.json
npm run -s build

port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close() })')
admin_email=client-check-admin@example.com
admin_password=$(node -e 'console.log(require("node:crypto").randomBytes(18).toString("base64url"))')
log=$(mktemp)
HOST=127.0.0.1 PORT=$port DATABASE_URL=sqlite::memory: LOG_LEVEL=warn \
  ADMIN_EMAIL=$admin_email ADMIN_PASSWORD=$admin_password node dist/src/server.js >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  if node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "http://127.0.0.1:$port/health/ready"; then break; fi
  kill -0 "$server" 2>/dev/null || { cat "$log"; echo "client-check: the server exited" >&2; exit 1; }
  sleep 0.2
done
echo "== client-check: every operation against http://127.0.0.1:$port"
node client-check/dist/check.mjs "http://127.0.0.1:$port" "$admin_email" "$admin_password" || { tail -n 30 "$log"; exit 1; }
