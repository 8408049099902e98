#!/usr/bin/env bash
# Schemathesis (from PyPI, pinned) against the service's own OpenAPI document, /docs/json, on
# the built server on the embedded default (a fresh SQLite file in a temporary folder):
# positive and negative data, every phase (examples, coverage, fuzzing, stateful), every
# check but those excluded below with the contract sentence that allows it. 0 failures.
#   bash scripts/schemathesis.sh            (MAX_EXAMPLES=N, MAX_TIME=S to change the time box)
# It runs itself a second time (--against-server) beside the server scripts/with-server.ts
# starts, which stops it afterwards and prints its last log lines if anything failed.
# Two runs, so the operations that end sessions, try passwords or delete accounts cannot revoke
# or lock the Admin whose token the rest use, nor delete the throwaway user of the second run:
#   1. everything else, with the bootstrap Admin's bearer token;
#   2. sign-in, refresh, sign-out, password change, session and account deletion, with a
#      throwaway user's token (schemathesis does not know its password: it tries wrong ones;
#      DELETE /users/{id} answers it 403).
set -Eeuo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
cd "$(dirname "$self")/.."

SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES=${MAX_EXAMPLES:-40}
MAX_TIME=${MAX_TIME:-75}
venv=.venv-schemathesis

if [ "${1:-}" != --against-server ]; then
  . scripts/lib/pip-tool.sh
  pip_tool "$venv" schemathesis "$SCHEMATHESIS_VERSION"
  "$venv/bin/schemathesis" --version

  # --- the built service on a fresh SQLite file ----------------------------------------
  npm run -s build
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  admin_password=$(node -e 'console.log(require("node:crypto").randomBytes(18).toString("base64url"))')
  # AUTH_RATE_LIMIT raised so the per-address limit does not answer (429) most of the runs; an Admin
  # address of its own each run, as the per-email throttle lives in a shared Redis across runs.
  HOST=127.0.0.1 DATABASE_URL="sqlite:$dir/bookstore.db" LOG_LEVEL=warn AUTH_RATE_LIMIT=1000000 \
    ADMIN_EMAIL="schemathesis-admin-$(date +%s%N)@example.com" ADMIN_PASSWORD=$admin_password SCHEMATHESIS_DIR=$dir \
    node dist/scripts/with-server.js -- bash "$self" --against-server
  exit
fi

# --- beside the server (with-server.js): $SERVER_URL, its Admin in $ADMIN_EMAIL/PASSWORD --
api=$SERVER_URL
dir=$SCHEMATHESIS_DIR
admin_email=$ADMIN_EMAIL
admin_password=$ADMIN_PASSWORD

# POST a JSON body, print one field of the JSON answer.
post_field () {
  node -e '
    const [url, body, field] = process.argv.slice(1)
    fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body })
      .then(async (r) => { const j = await r.json(); if (!r.ok) throw new Error(`${r.status} ${JSON.stringify(j)}`); console.log(j[field]) })
      .catch((e) => { console.error(`schemathesis: ${url}: ${e.message}`); process.exit(1) })' "$@"
}
admin_token=$(post_field "$api/users/sign-in" "{\"email\":\"$admin_email\",\"password\":\"$admin_password\"}" token)
user_email=schemathesis-user-$RANDOM@example.com
user_password=$(node -e 'console.log(require("node:crypto").randomBytes(18).toString("base64url"))')
post_field "$api/users" "{\"email\":\"$user_email\",\"password\":\"$user_password\"}" id >/dev/null
user_token=$(post_field "$api/users/sign-in" "{\"email\":\"$user_email\",\"password\":\"$user_password\"}" token)

# The operations that end sessions or try passwords: run 2 only.
session_ops=(postUsersSignIn postUsersRefresh postUsersSignOut putUsersMePassword deleteUsersMeSessions deleteUsersMeSessionsById deleteUsersMe deleteUsersById)

# Checks left out, each with the contract sentence (shared/API.md) that allows it:
excluded_checks=(
  # unsupported_method wants 405 for a method a path lacks (TRACE /books). The contract has no
  # 405 and no code for it: "Every error answer's `code` is one of: `VALIDATION_ERROR`, ...,
  # `ROUTE_NOT_FOUND`, ..." and "Status codes: ... 404 not found", so an unknown method and
  # path pair is the 404 ROUTE_NOT_FOUND of an unknown route (QUERY, which Node parses as a
  # method with a body, is a 400 VALIDATION_ERROR), in the contract's shape.
  unsupported_method
  # ensure_resource_availability wants a resource just created to be there on the next step.
  # A review is not, when the stateful phase deleted its book in between: "`DELETE
  # /books/:id` | Author | 204; the book's reviews go with it". (Set per operation, the check
  # is not turned off in the stateful phase, where it runs, so it is left out whole.)
  ensure_resource_availability
)
# Answers a check does not expect by default, allowed per operation, each with its sentence.
config="$dir/schemathesis.toml"
cat >"$config" <<'TOML'
# "`o` and `after` together are 400" (GET /books): a schema-valid query can be refused.
[[operations]]
include-operation-id = "getBooks"
checks.positive_data_acceptance.expected-statuses = ["2xx", "304", "400", "401", "403", "404", "409", "429", "5xx"]

# "one found on a shipped list of the most common breached passwords is refused (400)" (sign-up),
# and "The new password follows the sign-up rules (400 otherwise)" (password change).
[[operations]]
include-operation-id = ["postUsers", "putUsersMePassword"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429", "5xx"]

# "the same key with another body is 422 `IDEMPOTENCY_KEY_REUSED`" (POST /books, POST /reviews):
# schemathesis draws Idempotency-Key values from a small space, so keys repeat with other bodies.
[[operations]]
include-operation-id = ["postBooks", "postReviews"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429", "5xx"]

# "when it lists neither the resource's current ETag nor `*`, the answer is 412"
# (PUT and DELETE of books and reviews): the header is declared, so schemathesis sends tags of
# its own, which never match (an empty If-Match lists none).
[[operations]]
include-operation-id = ["putBooksById", "deleteBooksById", "putReviewsById", "deleteReviewsById"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "412", "429", "5xx"]

# Tokens, codes and credentials only a mailbox, an authenticator app or an authenticator has:
# "An unknown, used, expired or superseded token is 400 `VERIFICATION_TOKEN_INVALID`", "An
# unknown, used or expired token is 400 `RESET_TOKEN_INVALID`", "A wrong code is 400
# `MFA_CODE_INVALID`" (TOTP confirm), "a response that does not verify ... is 400
# `PASSKEY_INVALID`": a schema-valid one made up by a generator is refused.
[[operations]]
include-operation-id = ["postUsersVerifyEmail", "postUsersPasswordResetConfirm", "postUsersMeTotpConfirm", "postUsersMePasskeys"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429", "5xx"]

# The stateful phase follows GET /audit-events' `user_id` into /users/{id}, also where it is
# null ("`user_id` null for an unknown address"), and sends the text "None": not an id (400).
[[operations]]
include-operation-id = ["getUsersById", "patchUsersById", "deleteUsersById"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429", "5xx"]

# The two passkey options routes take "no body or `{}`": a request without a body is valid.
[[operations]]
include-operation-id = ["postUsersMePasskeysOptions", "postUsersSignInPasskeyOptions"]
checks.negative_data_rejection.expected-statuses = ["2xx", "400", "401", "403", "404", "405", "406", "409", "413", "414", "415", "422", "428", "429", "5xx"]

# Schema-violating input may also be refused before validation, by size:
# "Request bodies larger than 64 KiB are refused with 413" (a long string of escaped
# characters), and "a path parameter longer than 100 characters or a URL longer than 2,048
# characters is 414 `URI_TOO_LONG`".
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "414", "415", "422", "428", "429", "5xx"]
TOML

common=(
  --mode all
  --report vcr,junit
  --report-dir "${SCHEMATHESIS_REPORT_DIR:-schemathesis-report}"
  --phases examples,coverage,fuzzing,stateful
  --checks all
  --max-examples "$MAX_EXAMPLES"
  --max-time "$MAX_TIME"
  --request-timeout 10
  --generation-deterministic
  --no-color
  --warnings off
)
if [ "${#excluded_checks[@]}" -gt 0 ]; then
  common+=(--exclude-checks "$(IFS=,; echo "${excluded_checks[*]}")")
fi

status=0
echo "== schemathesis 1/2: every operation but those that end sessions or try passwords, as the Admin"
include=()
for op in "${session_ops[@]}"; do include+=(--exclude-operation-id "$op"); done
"$venv/bin/schemathesis" --config-file "$config" run "$api/docs/json" "${common[@]}" "${include[@]}" \
  -H "Authorization: Bearer $admin_token" || status=1

echo "== schemathesis 2/2: sign-in, refresh, sign-out, password change, session and account deletion, as a throwaway user"
include=()
for op in "${session_ops[@]}"; do include+=(--include-operation-id "$op"); done
"$venv/bin/schemathesis" --config-file "$config" run "$api/docs/json" "${common[@]}" "${include[@]}" \
  -H "Authorization: Bearer $user_token" || status=1

# The Admin is untouched by run 2: its token still works.
node -e 'fetch(process.argv[1], { headers: { authorization: `Bearer ${process.argv[2]}` } }).then((r) => { if (r.status !== 200) { console.error(`schemathesis: the Admin token answers ${r.status} after the runs`); process.exit(1) } })' \
  "$api/users/me" "$admin_token" || status=1
exit "$status"
