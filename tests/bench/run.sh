#!/usr/bin/env bash
# Run the whole raft benchmark and print one line per figure.
#
#   bash tests/bench/run.sh build/bench        (what `make bench` runs)
#
# Needs bash, valgrind (callgrind), callgrind_annotate and awk. See README.md
# in this directory for what each figure means. Knobs (environment):
#   BENCH_SEED=1       seed of every run
#   BENCH_N=100000     W1/W3 entries; the callgrind pair is N and N/10
#   BENCH_RUNS=5       W1 timed runs per configuration (median reported)
#   BENCH_SEEDS=1000   W2 seeds per variant
#   BENCH_JOBS=2       callgrind runs in parallel
#   BENCH_TOP=0        also print the top K library functions by self Ir
#                      for each W1 configuration (N run)
#   BENCH_KEEP=dir     keep the callgrind output files in dir
set -u

bench=${1:-build/bench}
here=${BASH_SOURCE[0]%/*}
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
repo=$(cd "$here/../.." && pwd) || exit 1
case $bench in /*) ;; *) bench=$PWD/$bench ;; esac
cd "$repo" || exit 1

seed=${BENCH_SEED:-1}
n=${BENCH_N:-100000}
n_small=$((n / 10))
runs=${BENCH_RUNS:-5}
seeds=${BENCH_SEEDS:-1000}
jobs=${BENCH_JOBS:-2}
top=${BENCH_TOP:-0}
configs="3:1 3:64 5:1 5:64"

if [ ! -x "$bench" ]; then
    echo "run.sh: $bench: no such executable (run make bench)" >&2
    exit 1
fi
if [ -n "${BENCH_KEEP:-}" ]; then
    work=$BENCH_KEEP
    mkdir -p "$work" || exit 1
else
    work=${TMPDIR:-/tmp}/raft-bench.$$
    mkdir -p "$work" || exit 1
    trap 'rm -rf "$work"' EXIT
fi

status=0
fail() {
    echo "run.sh: error: $*" >&2
    status=1
}

# Run the bench binary, keep its stdout line, pass errors through.
run() {
    local out
    if ! out=$("$bench" "$@" 2>"$work/stderr"); then
        cat "$work/stderr" >&2
        fail "bench $* failed"
        return 1
    fi
    cat "$work/stderr" >&2
    printf '%s\n' "$out"
}

# ---- W1: timed runs first, alone on the machine -------------------------
declare -A w1line
for c in $configs; do
    v=${c%:*} b=${c#*:}
    w1line[$c]=$(run w1 --voters "$v" --batch "$b" --n "$n" --runs "$runs" \
                     --seed "$seed")
done

# ---- W1 instructions: callgrind pairs, in the background ----------------
callgrind_one() { # voters batch n
    local f="$work/callgrind.v$1.b$2.n$3"
    if valgrind --tool=callgrind --callgrind-out-file="$f" \
            "$bench" w1-once --voters "$1" --batch "$2" --n "$3" \
            --seed "$seed" >/dev/null 2>"$f.log"; then
        echo 0 >"$f.rc"
    else
        echo 1 >"$f.rc"
    fi
}
callgrind_all() {
    local running=0 c nn
    for c in $configs; do
        for nn in "$n" "$n_small"; do
            callgrind_one "${c%:*}" "${c#*:}" "$nn" &
            running=$((running + 1))
            if [ "$running" -ge "$jobs" ]; then
                wait -n
                running=$((running - 1))
            fi
        done
    done
    wait
}
callgrind_all &
cg_pid=$!

# ---- W2 and W3 meanwhile (not timed) ------------------------------------
w2c=$(run w2 --election 10 --heartbeat 1 --seeds "$seeds" --seed "$seed" \
          --label coarse)
w2f=$(run w2 --election 1000 --heartbeat 100 --seeds "$seeds" --seed "$seed" \
          --label fine)
w3=$(run w3 --n "$n" --seed "$seed")

wait "$cg_pid"

# Self Ir summed over functions whose file is the library's (src/*), from
# callgrind_annotate's file:function list. Prints "ir nfuncs".
lib_ir() {
    callgrind_annotate --inclusive=no --threshold=100 --auto=no \
        --show-percs=no "$1" |
    awk -v repo="$repo" '
        function islib(f) {
            if (substr(f, 1, length(repo) + 1) == repo "/")
                f = substr(f, length(repo) + 2)
            return f ~ /^src\/[^\/]+$/
        }
        NF >= 2 && $1 ~ /^[0-9,]+$/ {
            ir = $1; gsub(/,/, "", ir)
            fileFn = $2; k = index(fileFn, ":")
            if (k > 0 && islib(substr(fileFn, 1, k - 1))) { sum += ir; nf++ }
        }
        END { printf "%.0f %d\n", sum, nf }'
}

# Top K library functions by self Ir.
lib_top() {
    callgrind_annotate --inclusive=no --threshold=100 --auto=no \
        --show-percs=yes "$1" |
    awk -v repo="$repo" -v k="$2" '
        function islib(f) {
            if (substr(f, 1, length(repo) + 1) == repo "/")
                f = substr(f, length(repo) + 2)
            return f ~ /^src\/[^\/]+$/
        }
        NF >= 3 && $1 ~ /^[0-9,]+$/ && shown < k {
            j = index($3, ":")
            if (j > 0 && islib(substr($3, 1, j - 1))) {
                printf "    %15s %s %s\n", $1, $2, $3; shown++
            }
        }'
}

# From the raw callgrind file: inclusive Ir of calls made by library
# functions to code that is neither the library nor the harness (libc:
# memcpy, memset, ...), and the callees' names. Prints "ir names".
lib_external() {
    awk -v repo="$repo" '
        function nm(kind, s,   p, id, rest) {
            if (substr(s, 1, 1) != "(") return s
            p = index(s, ")"); id = substr(s, 2, p - 2)
            rest = substr(s, p + 2)
            if (rest != "") names[kind, id] = rest
            return names[kind, id]
        }
        function rel(f) {
            if (substr(f, 1, length(repo) + 1) == repo "/")
                f = substr(f, length(repo) + 2)
            return f
        }
        function islib(f) { return rel(f) ~ /^src\/[^\/]+$/ }
        function isharness(f) { return rel(f) ~ /^tests\// }
        /^fl=/ { curfl = nm("f", substr($0, 4)); next }
        /^(fi|fe)=/ { nm("f", substr($0, 4)); next }
        /^fn=/ { nm("fn", substr($0, 4)); lib = islib(curfl); next }
        /^(cfi|cfl)=/ { cfile = nm("f", substr($0, 5)); cset = 1; next }
        /^cfn=/ { cname = nm("fn", substr($0, 5)); next }
        /^calls=/ { pending = 1; next }
        /^[0-9+*-]/ {
            if (!pending) next
            pending = 0
            f = cset ? cfile : curfl; cset = 0
            if (lib && !islib(f) && !isharness(f)) {
                ext += $2; by[cname] += $2
            }
        }
        END {
            s = ""
            for (c in by) s = s (s == "" ? "" : ",") c
            printf "%.0f %s\n", ext, (s == "" ? "-" : s)
        }' "$1"
}

for c in $configs; do
    v=${c%:*} b=${c#*:}
    big=$work/callgrind.v$v.b$b.n$n small=$work/callgrind.v$v.b$b.n$n_small
    line=${w1line[$c]}
    [ -n "$line" ] || continue
    if [ "$(cat "$big.rc" 2>/dev/null)" != 0 ] ||
       [ "$(cat "$small.rc" 2>/dev/null)" != 0 ]; then
        cat "$big.log" "$small.log" >&2 2>/dev/null
        fail "callgrind run for voters=$v B=$b failed"
        echo "$line"
        continue
    fi
    read -r ir_big nf_big < <(lib_ir "$big")
    read -r ir_small nf_small < <(lib_ir "$small")
    if [ "$nf_big" -eq 0 ] || [ "$nf_small" -eq 0 ]; then
        fail "callgrind_annotate attributed no function to src/ (is the" \
             "library built with -g?)"
        echo "$line"
        continue
    fi
    read -r ext_big ext_names < <(lib_external "$big")
    read -r ext_small _ < <(lib_external "$small")
    per=$(awk -v a="$ir_big" -v b="$ir_small" -v d=$((n - n_small)) \
              'BEGIN { printf "%.0f", (a - b) / d }')
    ext=$(awk -v a="$ext_big" -v b="$ext_small" -v d=$((n - n_small)) \
              'BEGIN { printf "%.0f", (a - b) / d }')
    if [ "$ext_big" = 0 ]; then
        note="the library calls no libc function"
    else
        note="libc functions it calls ($ext_names) not counted: +$ext instr/entry"
    fi
    echo "$line, $per instr/entry (library code: self Ir of functions in" \
         "src/, callgrind, (Ir(N=$n) - Ir(N=$n_small)) / $((n - n_small));" \
         "$note)"
    if [ "$top" -gt 0 ]; then
        echo "  top $top library functions by self Ir, voters=$v B=$b N=$n:"
        lib_top "$big" "$top"
    fi
done
[ -n "$w2c" ] && echo "$w2c"
[ -n "$w2f" ] && echo "$w2f"
[ -n "$w3" ] && echo "$w3"
exit "$status"
