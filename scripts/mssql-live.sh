#!/usr/bin/env bash
# The SQL Server live kit: proves the SQL Server mirror against a real server in
# minutes, and prints records/s and a pass/fail table.
#
#   FABRIC_TEST_MSSQL='mssql://fabric:PASSWORD@db.example:1433/FabricTest?trustServerCertificate=true' \
#     scripts/mssql-live.sh
#   scripts/mssql-live.sh          # with Docker: starts mcr.microsoft.com/mssql/server:2022-latest
#
# Steps: the backend-conformance suite and the other live tests (cargo test), then,
# through a release `fabric` binary, an import of FABRIC_LIVE_RECORDS records
# (default 1,000,000; every 1,000th with a payload past 4,000 characters) into a
# table that does not exist yet (the import creates it), the no-op re-sync, an
# export into an empty pack, and two syncs of one scope at once. Tables are made in fresh names and dropped by the
# tests; the import tables are named live_<pid>_*. Exit 0 when every step passed,
# 1 when one failed, 3 when there is no server to run against.
#
# CI never runs this script (no SQL Server there); it only checks its syntax.
set -euo pipefail
cd "$(dirname "$0")/.."

records="${FABRIC_LIVE_RECORDS:-1000000}"
image="mcr.microsoft.com/mssql/server:2022-latest"
container=""
work="$(mktemp -d "${TMPDIR:-/tmp}/fabric-mssql-live.XXXXXX")"

cleanup() {
    if [[ -n "$container" ]]; then
        docker rm -f "$container" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

docker_usable() {
    command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

# ---- the server ----
if [[ -n "${FABRIC_TEST_MSSQL:-}" ]]; then
    target="$FABRIC_TEST_MSSQL"
    echo "mssql-live: using FABRIC_TEST_MSSQL"
elif docker_usable; then
    password="Fabric-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')!"
    port="${FABRIC_LIVE_PORT:-14333}"
    echo "mssql-live: starting $image on 127.0.0.1:$port"
    container="$(docker run -d -e ACCEPT_EULA=Y -e "MSSQL_SA_PASSWORD=$password" \
        -p "127.0.0.1:$port:1433" "$image")"
    ready=""
    for _ in $(seq 1 120); do
        if docker logs "$container" 2>&1 | grep -q "SQL Server is now ready for client connections"; then
            ready=1
            break
        fi
        sleep 1
    done
    if [[ -z "$ready" ]]; then
        echo "mssql-live: the container did not report ready within 120 s; its log:" >&2
        docker logs "$container" 2>&1 | tail -20 >&2
        exit 3
    fi
    sqlcmd=(docker exec "$container" /opt/mssql-tools18/bin/sqlcmd -C -S localhost -U sa -P "$password")
    for _ in $(seq 1 30); do
        if "${sqlcmd[@]}" -Q "IF DB_ID(N'FabricLive') IS NULL CREATE DATABASE FabricLive" >/dev/null 2>&1; then
            break
        fi
        sleep 1
    done
    target="mssql://sa:${password}@127.0.0.1:${port}/FabricLive?trustServerCertificate=true"
else
    echo "mssql-live: no Docker and no FABRIC_TEST_MSSQL: there is no SQL Server to run against." >&2
    echo "  Set FABRIC_TEST_MSSQL to a connection string, e.g." >&2
    echo "  FABRIC_TEST_MSSQL='mssql://USER:PASSWORD@HOST:1433/DATABASE?trustServerCertificate=true' $0" >&2
    echo "  or install Docker (the script then starts $image itself)." >&2
    exit 3
fi
export FABRIC_TEST_MSSQL="$target"

# ---- the steps ----
results=()
failed=0

# record STEP RESULT RATE SECONDS
record() {
    results+=("$(printf '%-34s %-6s %12s %9s' "$1" "$2" "$3" "$4")")
    if [[ "$2" != pass ]]; then
        failed=1
    fi
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }'; }
json_field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d" + sys.argv[1]))' "$1"; }

# judged STEP EXPECTED EXPR FILE START: the step passed when the JSON value EXPR of
# FILE is EXPECTED; its rate is $records over the time since START.
judged() {
    local s got
    s="$(elapsed "$5")"
    got="$(json_field "$3" <"$4")"
    if [[ "$got" == "$2" ]]; then
        record "$1" pass "$(rate "$records" "$s")" "$s"
    else
        record "$1 (got $got, expected $2)" FAIL - "$s"
    fi
}

echo "== live tests (conformance, round trip, bulk throughput)"
t0="$(now)"
if cargo test -p exchange-sync --features mssql --test it mssql -- --test-threads=1 --nocapture \
    >"$work/tests.log" 2>&1; then
    record "conformance + live tests" pass - "$(elapsed "$t0")"
else
    record "conformance + live tests" FAIL - "$(elapsed "$t0")"
    tail -40 "$work/tests.log" >&2
fi
grep -E "rows/s|SKIPPED" "$work/tests.log" || true

echo "== building fabric (release)"
cargo build --release -p fabric-cli --quiet
fabric="$PWD/target/release/fabric"
export HOME="$work/home"
mkdir -p "$HOME"

# dataset NAME TABLE: a fresh dataset of scope live/record mirrored to [fabric_live].[TABLE]
dataset() {
    "$fabric" exchange init --name "$1" --source live --entity record --type http \
        --out "$work/packs" >/dev/null
    python3 - "$work/packs/$1/manifest.json" "$2" <<'EOF'
import json, sys
path, table = sys.argv[1], sys.argv[2]
m = json.load(open(path))
m["sql_target"]["schema"] = "fabric_live"
m["sql_target"]["table"] = table
json.dump(m, open(path, "w"), indent=2)
EOF
    echo "$work/packs/$1/manifest.json"
}

# generate N FIRST FILE: N records, ids and keys from FIRST on
generate() {
    python3 - "$1" "$2" >"$3" <<'EOF'
import json, sys
n, first = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout
for i in range(first, first + n):
    out.write(json.dumps({
        "exchange_id": "%08x-0000-4000-8000-%012x" % (i >> 16, i),
        "natural_key": "key-%d" % i,
        "request": {"url": "https://api.example/items/%d" % i},
        # Every 1,000th payload is past 4,000 characters: it takes the parameterized
        # INSERT path instead of bulk load (tiberius issue #322).
        "response": {"status": 200, "body": {"id": i, "text": ("record %d, café 日本 😀" % i) + ("x" * 5000 if i % 1000 == 0 else "")}},
        "observed_at_utc": "2024-%02d-%02dT%02d:%02d:%02dZ" % (1 + i % 12, 1 + i % 28, i % 24, i % 60, (i // 60) % 60),
        "provenance": {"runner_name": "mssql-live", "host": "live", "git_sha": "0", "connector_version": "1"},
    }, ensure_ascii=False) + "\n")
EOF
}

table="live_$$"
main="$(dataset main "$table")"
echo "== generating and adding $records records"
generate "$records" 0 "$work/main.ndjson"
"$fabric" exchange add --manifest "$main" "$work/main.ndjson" >/dev/null

echo "== import"
t0="$(now)"
if "$fabric" --json exchange import --manifest "$main" --target "$target" >"$work/import.json"; then
    judged "import $records" "$records" '["json_to_sql"]["inserted"]' "$work/import.json" "$t0"
else
    record "import $records" FAIL - "$(elapsed "$t0")"
fi

echo "== no-op re-sync"
t0="$(now)"
if "$fabric" --json exchange sync --manifest "$main" --target "$target" >"$work/resync.json"; then
    judged "no-op re-sync" 0 \
        '["json_to_sql"]["inserted"] + d["json_to_sql"]["updated"] + d["sql_to_json"]["inserted"]' \
        "$work/resync.json" "$t0"
else
    record "no-op re-sync" FAIL - "$(elapsed "$t0")"
fi

echo "== export into an empty pack"
empty="$(dataset empty "$table")"
t0="$(now)"
if "$fabric" --json exchange export --manifest "$empty" --target "$target" >"$work/export.json" \
    && "$fabric" exchange verify --manifest "$empty" >/dev/null; then
    judged "export $records" "$records" '["sql_to_json"]["inserted"]' "$work/export.json" "$t0"
else
    record "export $records" FAIL - "$(elapsed "$t0")"
fi

echo "== two syncs of one scope at once"
both=20000
a="$(dataset a "${table}_c")"
b="$(dataset b "${table}_c")"
generate "$both" 0 "$work/both.ndjson"
"$fabric" exchange add --manifest "$a" "$work/both.ndjson" >/dev/null
"$fabric" exchange add --manifest "$b" "$work/both.ndjson" >/dev/null
t0="$(now)"
"$fabric" exchange import --manifest "$a" --target "$target" >"$work/a.out" 2>&1 &
pa=$!
"$fabric" exchange import --manifest "$b" --target "$target" >"$work/b.out" 2>&1 &
pb=$!
ca=0
cb=0
wait "$pa" || ca=$?
wait "$pb" || cb=$?
s="$(elapsed "$t0")"
count="$("$fabric" --json exchange sync --dry-run --direction json_to_sql --manifest "$a" --target "$target" \
    | json_field '["sql_record_count"]')"
# Both finish (the second waits for the scope lock, then skips everything), or
# the second gives up with exit 3 naming the other sync; never duplicates.
if [[ "$count" == "$both" && ( "$ca$cb" == 00 || "$ca$cb" == 03 || "$ca$cb" == 30 ) ]]; then
    record "two concurrent syncs (exit $ca,$cb)" pass "$(rate "$both" "$s")" "$s"
else
    record "two concurrent syncs (exit $ca,$cb; $count rows)" FAIL - "$s"
    cat "$work/a.out" "$work/b.out" >&2
fi

echo
printf '%-34s %-6s %12s %9s\n' step result records/s seconds
printf '%s\n' "${results[@]}"
echo
echo "tables left in [fabric_live]: $table and ${table}_c (drop them when done)"
if [[ "$failed" != 0 ]]; then
    echo "mssql-live: FAILED" >&2
    exit 1
fi
echo "mssql-live: all steps passed"
