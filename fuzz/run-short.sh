#!/usr/bin/env bash
# Run every fuzz target for a short, bounded time (default 30 s each), seeding its
# corpus from the compatibility vectors. Usage: fuzz/run-short.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz`); the stable toolchain works with
# RUSTC_BOOTSTRAP=1, which this script sets. A crash exits non-zero and leaves the
# input under fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-30}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(job_parser canonical snapshot_doc chain_diff dashboard_scope dashboard_oracles)
fi
vectors=../tests/vectors
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
    esac
}
for target in "${targets[@]}"; do
    seed "$target"
    echo "== $target (${secs}s)"
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=262144 2>&1 \
        | grep -E '^(#[0-9]+ +DONE|==|SUMMARY|Done|.*panicked)' || true
    echo "corpus: $(ls "corpus/$target" | wc -l) inputs, $(du -sk "corpus/$target" | cut -f1) KiB"
    if [ -n "$(ls -A "artifacts/$target" 2>/dev/null)" ]; then
        echo "crash inputs in fuzz/artifacts/$target" >&2
        exit 1
    fi
done
