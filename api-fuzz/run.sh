#!/usr/bin/env bash
# Schema-driven API fuzzing: schemathesis (PyPI) against the real `tessera` binary on its
# embedded default (memory store + SQLite), from the server's own `/openapi.json`.
#
#   api-fuzz/run.sh [MAX_EXAMPLES]     # default 25 per operation and phase (CI); try 200+
#
# Checks: no 5xx (`not_a_server_error`), every answer matches its documented schema
# (`response_schema_conformance`) and media type (`content_type_conformance`). The user
# endpoints run with a signed-in user's bearer token, the operator endpoints with the admin
# key, RFC 7662/7009 with a client's Basic credentials; the endpoints that end the caller's
# session run last, each pass with a fresh sign-in, so the others stay authenticated.
# Exit status: schemathesis's (non-zero on any failure). Needs python3; installs
# schemathesis when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

examples="${1:-25}"
python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install --quiet 'schemathesis>=4.3,<5'

[ -n "${NO_BUILD:-}" ] || cargo build --release --bin tessera
bin="$PWD/target/release/tessera"

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
admin="admin-key-for-api-fuzzing-0123456789"
client_id="fuzz-client"
client_secret="fuzz-client-secret-0123456789abcdefghij"

# The embedded default whatever the caller's environment holds (CI exports DATABASE_URL
# for the tests; this server must not use that shared database or its keys).
env -u DATABASE_URL -u REDIS_URL -u TESSERA_CONFIG -u TESSERA_MASTER_KEY -u TESSERA_MASTER_KEY_FILE \
  TESSERA_DATA_DIR="$work/data" TESSERA_LISTEN="127.0.0.1:$port" \
  TESSERA_ADMIN_TOKEN="$admin" \
  TESSERA_INTROSPECTION_CLIENTS="$client_id:$client_secret" \
  TESSERA_LOG=warn \
  "$bin" serve >"$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [ "${status:-1}" != 0 ]; then
    echo "--- server log (last 50 lines)"; tail -50 "$work/server.log" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/openapi.json" >"$work/openapi.json"

# A signed-in user: prints a fresh access token.
sign_in() {
  python3 - "$base" "$1" <<'PY'
import json, sys, urllib.request
base, n = sys.argv[1], sys.argv[2]
def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    try:
        return json.load(urllib.request.urlopen(req))
    except urllib.error.HTTPError as e:
        return json.load(e)
email, password = f"fuzz{n}@example.com", "correct horse battery staple 42"
post("/v1/auth/register", {"email": email, "password": password})
print(post("/v1/auth/login", {"email": email, "password": password})["access_token"])
PY
}

checks="not_a_server_error,response_schema_conformance,content_type_conformance"
run() { # in the scratch directory: schemathesis keeps state in ./.schemathesis
  (cd "$work" && schemathesis run "$work/openapi.json" --url "$base" \
    --checks "$checks" --max-examples "$examples" --seed 20261206 \
    --phases examples,coverage,fuzzing --generation-database none \
    --workers 2 --suppress-health-check all --no-color "$@")
}

status=0
echo "== user endpoints (bearer)"
run -H "Authorization: Bearer $(sign_in 1)" \
  --exclude-tag admin --exclude-tag standards \
  --exclude-operation-id logout --exclude-operation-id logout_all \
  --exclude-operation-id change --exclude-operation-id end_session || status=1
echo "== operator endpoints (admin key)"
run -H "Authorization: Bearer $admin" --include-tag admin || status=1
echo "== RFC 7662 / 7009 and metadata (client credentials)"
run --auth "$client_id:$client_secret" --include-tag standards || status=1
echo "== endpoints that end the caller's session"
for op in end_session change logout logout_all; do
  run -H "Authorization: Bearer $(sign_in "2$op")" --include-operation-id "$op" || status=1
done
exit "$status"
