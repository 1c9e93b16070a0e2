#!/usr/bin/env bash
# Run every fuzz target for a short, bounded time (default 30 s each), seeding its
# corpus from the compatibility vectors. Usage: fuzz/run-short.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz`); the stable toolchain works with
# RUSTC_BOOTSTRAP=1, which this script sets. A crash exits non-zero and leaves the
# input under fuzz/artifacts/<target>/. FUZZ_BUILD_ARGS adds cargo-fuzz build flags
# (e.g. "--dev -s none" for a faster-building, slower-running smoke check).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-30}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(job_parser canonical snapshot_doc chain_diff dashboard_scope dashboard_oracles
             exchange_manifest exchange_index exchange_chunk_line exchange_lean exchange_unpack)
fi
vectors=../tests/vectors
pack="$vectors/exchange/pack/fabric-interop-sample"
seed() {
    local target="$1"
    local dir="corpus/$target"
    mkdir -p "$dir"
    case "$target" in
        job_parser)
            find "$vectors/fabric/cases" "$vectors/fabric/invalid" -name '*.json' -size -64k \
                -exec cp -n {} "$dir/" \; 2>/dev/null || true ;;
        canonical|snapshot_doc|chain_diff)
            for f in "$vectors"/fabric/cases/*/snapshot.json "$vectors"/fabric/cases/*/report.json; do
                cp -n "$f" "$dir/$(basename "$(dirname "$f")")-$(basename "$f")" 2>/dev/null || true
            done ;;
        dashboard_scope) cp -n "$vectors/dashboard/example/scope.json" "$dir/" 2>/dev/null || true ;;
        dashboard_oracles) cp -n "$vectors/dashboard/example/oracles.json" "$dir/" 2>/dev/null || true ;;
        exchange_manifest) cp -n "$pack/manifest.json" "$dir/" 2>/dev/null || true ;;
        exchange_index)
            cp -n "$pack/index.jsonl" "$dir/" 2>/dev/null || true
            head -n 3 "$pack/index.jsonl" > "$dir/index-head.jsonl" 2>/dev/null || true ;;
        exchange_chunk_line|exchange_lean)
            # One seed per record line: each chunk line, and each vector's record_line.
            for f in "$pack"/records/*/*/chunk-*.ndjson; do
                awk -v out="$dir/$(basename "$f" .ndjson)-line-" '{ print > (out NR) }' "$f" 2>/dev/null || true
            done
            if command -v python3 >/dev/null; then
                python3 - "$vectors/exchange" "$dir" <<'PY' || true
import json, pathlib, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for name in ("canonical.jsonl", "redaction.jsonl"):
    for i, line in enumerate((src / name).read_text(encoding="utf-8").splitlines()):
        try:
            case = json.loads(line)
        except ValueError:
            continue
        for key in ("record_line", "input_line", "expected_line"):
            if isinstance(case.get(key), str):
                (dst / f"{name}-{i}-{key}").write_text(case[key], encoding="utf-8")
PY
            fi ;;
        exchange_unpack)
            # The first byte is the mode: 0 the file as is, 1 encrypt it first.
            for f in "$vectors"/exchange/pack/*.zip "$vectors"/exchange/pack/*.zip.enc; do
                [ -f "$dir/0-$(basename "$f")" ] || { printf '\000'; cat "$f"; } > "$dir/0-$(basename "$f")"
            done
            [ -f "$dir/1-sample.zip" ] || { printf '\001'; cat "$vectors/exchange/pack/fabric-interop-sample.zip"; } > "$dir/1-sample.zip"
            if command -v python3 >/dev/null && [ ! -f "$dir/0-small.zip" ]; then
                # A small stored (uncompressed) archive: easier to mutate.
                python3 - "$pack/manifest.json" "$dir" <<'PY' || true
import io, pathlib, sys, zipfile
manifest, dst = pathlib.Path(sys.argv[1]).read_bytes(), pathlib.Path(sys.argv[2])
for mode, top in ((b"\0", ""), (b"\1", "fabric-interop-sample/")):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(top + "manifest.json", manifest)
        z.writestr(top + "records/2024/2024-01-15/chunk-0001.ndjson", b"{}\n")
    (dst / f"{mode[0]}-small{'-top' if top else ''}.zip").write_bytes(mode + buf.getvalue())
PY
            fi ;;
    esac
    # The saved inputs `cargo test` replays (crates/exchange-sync/tests/fuzz-regressions).
    local saved="../crates/exchange-sync/tests/fuzz-regressions/$target"
    if [ -d "$saved" ]; then
        cp -n "$saved"/* "$dir/" 2>/dev/null || true
    fi
}
for target in "${targets[@]}"; do
    seed "$target"
    echo "== $target (${secs}s)"
    log="$(mktemp)"
    status=0
    RUSTC_BOOTSTRAP=1 cargo fuzz run ${FUZZ_BUILD_ARGS:-} "$target" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=262144 \
        >"$log" 2>&1 || status=$?
    grep -E '^(#[0-9]+ +DONE|==|SUMMARY|Done|.*panicked)' "$log" || true
    echo "corpus: $(ls "corpus/$target" | wc -l) inputs, $(du -sk "corpus/$target" | cut -f1) KiB"
    if [ "$status" -ne 0 ]; then
        # A crash, a leak, an out-of-memory or a build failure: show why and stop.
        tail -n 40 "$log" >&2
        rm -f "$log"
        echo "$target failed (exit $status); crash inputs, if any, in fuzz/artifacts/$target" >&2
        exit 1
    fi
    rm -f "$log"
done
