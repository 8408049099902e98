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

admin_email=client-check-admin@example.com
admin_password=$(node -e 'console.log(require("node:crypto").randomBytes(18).toString("base64url"))')
echo "== client-check: every operation against the built server (scripts/with-server.ts)"
HOST=127.0.0.1 DATABASE_URL=sqlite::memory: LOG_LEVEL=warn ADMIN_EMAIL=$admin_email ADMIN_PASSWORD=$admin_password \
  node dist/scripts/with-server.js -- \
  sh -c 'node client-check/dist/check.mjs "$SERVER_URL" "$ADMIN_EMAIL" "$ADMIN_PASSWORD"'
