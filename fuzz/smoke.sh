#!/usr/bin/env bash
# fuzz/smoke.sh BINDIR SECONDS JOBS TARGET...
#
# Runs each libFuzzer target BINDIR/TARGET for SECONDS from a scratch copy
# (BINDIR/smoke/TARGET/corpus) of its seed corpus fuzz/corpus/TARGET plus
# its regression inputs fuzz/regress/TARGET, JOBS targets at a time, with
# leak detection on. Prints one line per target (executions, exec/s, final
# cov: / ft: / corpus size) and exits non-zero if any target found a crash,
# leak, timeout, sanitizer report or check failure; the log and the
# crashing input are kept under BINDIR/smoke/TARGET/.
set -u

if [ $# -lt 4 ]; then
    echo "usage: $0 BINDIR SECONDS JOBS TARGET..." >&2
    exit 2
fi
bindir=$1
secs=$2
jobs=$3
shift 3
src=$(cd "$(dirname "$0")" && pwd)
work=$bindir/smoke
rm -rf "$work"
mkdir -p "$work"

run_one() {
    local t=$1 d=$work/$1 start f
    mkdir -p "$d/corpus"
    for f in "$src/corpus/$t"/* "$src/regress/$t"/*; do
        [ -f "$f" ] || continue
        case $f in
        "$src/regress/"*) cp "$f" "$d/corpus/regress-$(basename "$f")" ;;
        *) cp "$f" "$d/corpus/" ;;
        esac
    done
    start=$(date +%s)
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
    UBSAN_OPTIONS=print_stacktrace=1 \
        "$bindir/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$d/" \
        "$d/corpus" >"$d/log" 2>&1
    echo $? >"$d/rc"
    echo $(($(date +%s) - start)) >"$d/secs"
}

t0=$(date +%s)
echo "fuzz-smoke: ${secs}s per target, $jobs at a time: $*"
for t in "$@"; do
    if [ ! -x "$bindir/$t" ]; then
        echo "fuzz-smoke: $bindir/$t not built" >&2
        exit 2
    fi
    run_one "$t" &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n
    done
done
wait

fail=0
for t in "$@"; do
    d=$work/$t
    rc=$(cat "$d/rc" 2>/dev/null || echo 99)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/log" | tail -n 1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$d/log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$d/log" | grep 'cov: ' | tail -n 1)
    cov=$(echo "$last" | grep -o 'cov: [0-9]*')
    ft=$(echo "$last" | grep -o 'ft: [0-9]*')
    corp=$(echo "$last" | grep -o 'corp: [0-9]*' | sed 's/corp: //')
    if [ "$rc" = 0 ]; then
        printf '%-15s ok    %4ss %10s runs %8s exec/s  %-9s %-10s corpus %s\n' \
            "$t" "$(cat "$d/secs")" "${runs:-?}" "${eps:-?}" "$cov" "$ft" "${corp:-?}"
    else
        fail=1
        why=$(grep -m 1 -E 'FUZZ CHECK FAILED|^sim: |runtime error|ERROR: |^SUMMARY' "$d/log")
        unit=$(grep -o 'Test unit written to .*' "$d/log" | sed 's/Test unit written to //')
        printf '%-15s FAIL  %4ss %10s runs (exit %s)\n' "$t" "$(cat "$d/secs")" \
            "${runs:-?}" "$rc"
        echo "    ${why:-no report; see the log}"
        [ -n "$unit" ] && echo "    input: $unit (replay: $bindir/$t $unit)"
        echo "    log:   $d/log"
    fi
done
echo "fuzz-smoke: $(($(date +%s) - t0))s in all, $([ $fail = 0 ] && echo passed || echo FAILED)"
exit $fail
