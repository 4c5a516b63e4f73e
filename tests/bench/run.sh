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
# voters:batch:async (async 1: asynchronous persistence)
configs="3:1:0 3:64:0 5:1:0 5:64:0 3:1:1 3:64:1 5:1:1 5:64:1"

if [ "$n" -lt 10 ] 2>/dev/null; then
    echo "run.sh: BENCH_N must be at least 10" >&2
    exit 1
fi
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

# Copy a file to stderr (bash only).
to_stderr() {
    local f
    for f in "$@"; do
        [ -s "$f" ] && printf '%s\n' "$(<"$f")" >&2
    done
    return 0
}

# Run the bench binary, keep its stdout line, pass errors through.
run() {
    local out
    if ! out=$("$bench" "$@" 2>"$work/stderr"); then
        to_stderr "$work/stderr"
        fail "bench $* failed"
        return 1
    fi
    to_stderr "$work/stderr"
    printf '%s\n' "$out"
}

# ---- W1: timed runs first, alone on the machine -------------------------
declare -A w1line
for c in $configs; do
    IFS=: read -r v b a <<<"$c"
    w1line[$c]=$(run w1 --voters "$v" --batch "$b" --n "$n" --runs "$runs" \
                     --seed "$seed" --async "$a")
    [ -n "${w1line[$c]}" ] || status=1 # run failed, in a subshell
done

# ---- W1 instructions: callgrind pairs, in the background ----------------
callgrind_one() { # voters batch async n
    local f="$work/callgrind.v$1.b$2.a$3.n$4"
    if valgrind --tool=callgrind --callgrind-out-file="$f" \
            --toggle-collect='bench_w1_load*' \
            "$bench" w1-once --voters "$1" --batch "$2" --n "$4" \
            --async "$3" --seed "$seed" >/dev/null 2>"$f.log"; then
        echo 0 >"$f.rc"
    else
        echo 1 >"$f.rc"
    fi
}
callgrind_all() {
    local running=0 c nn v b a
    for c in $configs; do
        IFS=: read -r v b a <<<"$c"
        for nn in "$n" "$n_small"; do
            callgrind_one "$v" "$b" "$a" "$nn" &
            running=$((running + 1))
            if [ "$running" -ge "$jobs" ]; then
                wait -n
                running=$((running - 1))
            fi
        done
    done
    wait
}
have_cg=1
for tool in valgrind callgrind_annotate; do
    if ! command -v "$tool" >/dev/null; then
        fail "$tool not found: W1 instructions per entry not measured"
        have_cg=0
    fi
done
if [ "$have_cg" = 1 ]; then
    callgrind_all &
    cg_pid=$!
fi

# ---- W2 and W3 meanwhile (not timed) ------------------------------------
w2c=$(run w2 --election 10 --heartbeat 1 --seeds "$seeds" --seed "$seed" \
          --label coarse)
w2f=$(run w2 --election 1000 --heartbeat 100 --seeds "$seeds" --seed "$seed" \
          --label fine)
w3=$(run w3 --n "$n" --seed "$seed")
w5a=$(run w5 --n "$n" --delay 0 --seed "$seed")
w5b=$(run w5 --n "$n" --delay 2 --seed "$seed")
[ -n "$w2c" ] && [ -n "$w2f" ] && [ -n "$w3" ] && [ -n "$w5a" ] &&
    [ -n "$w5b" ] || status=1

[ "$have_cg" = 1 ] && wait "$cg_pid"

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

# Top K library functions by self Ir, with their share of the library's.
lib_top() {
    callgrind_annotate --inclusive=no --threshold=100 --auto=no \
        --show-percs=no "$1" |
    awk -v repo="$repo" -v k="$2" -v total="$3" '
        function islib(f) {
            if (substr(f, 1, length(repo) + 1) == repo "/")
                f = substr(f, length(repo) + 2)
            return f ~ /^src\/[^\/]+$/
        }
        NF >= 2 && $1 ~ /^[0-9,]+$/ && shown < k {
            ir = $1; gsub(/,/, "", ir)
            j = index($2, ":")
            if (j > 0 && islib(substr($2, 1, j - 1))) {
                printf "    %15s %5.1f%%  %s\n", $1, 100 * ir / total, $2
                shown++
            }
        }'
}

# From the raw callgrind file: inclusive Ir of the calls library functions
# make to code that is neither the library nor the harness (libc: memcpy,
# memset, ...). Prints "callee ir" lines and a "TOTAL ir" line.
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
            for (c in by) printf "%s %.0f\n", c, by[c]
            printf "TOTAL %.0f\n", ext
        }' "$1"
}

# Per-entry difference of two lib_external outputs: prints "per names",
# names being the callees costing at least 0.5 instr/entry, costliest first.
external_per_entry() { # small big divisor
    awk -v d="$3" '
        FNR == NR { small[$1] = $2; next }
        { big[$1] = $2 }
        END {
            total = (big["TOTAL"] - small["TOTAL"]) / d
            s = ""
            while (1) {
                best = ""; bv = 0.5
                for (c in big) {
                    if (c == "TOTAL" || (c in used)) continue
                    v = (big[c] - small[c]) / d
                    if (v >= bv) { best = c; bv = v }
                }
                if (best == "") break
                used[best] = 1
                s = s (s == "" ? "" : " ") sprintf("%s %.0f", best, bv)
            }
            printf "%.0f %s\n", total, (s == "" ? "-" : s)
        }' "$1" "$2"
}

for c in $configs; do
    IFS=: read -r v b a <<<"$c"
    big=$work/callgrind.v$v.b$b.a$a.n$n small=$work/callgrind.v$v.b$b.a$a.n$n_small
    line=${w1line[$c]}
    [ -n "$line" ] || continue
    if [ "$have_cg" != 1 ]; then
        echo "$line"
        continue
    fi
    if [ "$(<"$big.rc")" != 0 ] || [ "$(<"$small.rc")" != 0 ]; then
        to_stderr "$big.log" "$small.log"
        fail "callgrind run for voters=$v B=$b async=$a failed"
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
    lib_external "$big" >"$big.ext"
    lib_external "$small" >"$small.ext"
    read -r ext ext_names < <(external_per_entry "$small.ext" "$big.ext" \
                                 $((n - n_small)))
    per=$(awk -v a="$ir_big" -v b="$ir_small" -v d=$((n - n_small)) \
              'BEGIN { printf "%.0f", (a - b) / d }')
    if [ "$ext_names" = - ]; then
        note="the library calls no libc function per entry"
    else
        note="not counted: libc functions called by the library, +$ext"
        note="$note instr/entry ($ext_names)"
    fi
    echo "$line, $per instr/entry (library code: callgrind self Ir of" \
         "src/ functions in the measured part, (Ir(N=$n) - Ir(N=$n_small))" \
         "/ $((n - n_small)); $note)"
    if [ "$top" -gt 0 ]; then
        echo "  top $top library functions by self Ir, voters=$v B=$b N=$n" \
             "(% of the library's self Ir):"
        lib_top "$big" "$top" "$ir_big"
    fi
done
[ -n "$w2c" ] && echo "$w2c"
[ -n "$w2f" ] && echo "$w2f"
[ -n "$w3" ] && echo "$w3"
[ -n "$w5a" ] && echo "$w5a"
[ -n "$w5b" ] && echo "$w5b"
exit "$status"
