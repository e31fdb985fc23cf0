#!/usr/bin/env bash
# Run fuzz targets with cargo-fuzz (stable toolchain, no sanitizer):
#   fuzz/run.sh SECONDS TARGET...      e.g. fuzz/run.sh 600 x224_answer event_log
# New inputs go to fuzz/corpus/TARGET (git-ignored); seeds in fuzz/seeds/TARGET
# are read only. Crashes land in fuzz/artifacts/TARGET; add each to
# fuzz/regressions/TARGET/ so `cargo test` replays it forever.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:?seconds}; shift
for t in "$@"; do
    mkdir -p "corpus/$t" logs
    # -timeout: an input taking longer than 10 s is reported as a hang;
    # -rss_limit_mb: memory beyond 2 GiB is reported as a crash.
    cargo fuzz run -s none -O "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=131072 \
        >"logs/$t.log" 2>&1 &
done
wait
