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
#   BENCH_W6_N=10000000  W6 entries (with compaction; 0 skips W6)
#   BENCH_W7=1         W7 (0 skips it)
#   BENCH_BASELINE=path  the bench binary of another tree (built in that
#                      tree, e.g. /tmp/bench-main/build/bench): also measure
#                      its W1 instructions per entry and W3, and print a
#                      before (it) / after (this tree) table
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
w6_n=${BENCH_W6_N:-10000000}
w7_on=${BENCH_W7:-1}
baseline=${BENCH_BASELINE:-}
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
# The baseline's tree: the nearest directory above its binary holding raft.h
# (callgrind names the library's files by their absolute path there).
base_repo=
if [ -n "$baseline" ]; then
    case $baseline in /*) ;; *) baseline=$PWD/$baseline ;; esac
    if [ ! -x "$baseline" ]; then
        echo "run.sh: BENCH_BASELINE=$baseline: no such executable" >&2
        exit 1
    fi
    base_repo=${baseline%/*}
    while [ -n "$base_repo" ] && [ ! -f "$base_repo/raft.h" ]; do
        base_repo=${base_repo%/*}
    done
    if [ -z "$base_repo" ]; then
        echo "run.sh: no raft.h in a directory above $baseline" >&2
        exit 1
    fi
    base_repo=$(cd "$base_repo" && pwd) || exit 1
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

# Run a bench binary, keep its stdout line, pass errors through.
run_bin() { # binary args...
    local out bin=$1
    shift
    if ! out=$("$bin" "$@" 2>"$work/stderr"); then
        to_stderr "$work/stderr"
        fail "$bin $* failed"
        return 1
    fi
    to_stderr "$work/stderr"
    printf '%s\n' "$out"
}
run() { run_bin "$bench" "$@"; }

# ---- W1: timed runs first, alone on the machine -------------------------
declare -A w1line
for c in $configs; do
    IFS=: read -r v b a <<<"$c"
    w1line[$c]=$(run w1 --voters "$v" --batch "$b" --n "$n" --runs "$runs" \
                     --seed "$seed" --async "$a")
    [ -n "${w1line[$c]}" ] || status=1 # run failed, in a subshell
done

# ---- W1 instructions: callgrind pairs, in the background ----------------
callgrind_one() { # binary file-prefix voters batch async n
    local f="$work/$2callgrind.v$3.b$4.a$5.n$6"
    if valgrind --tool=callgrind --callgrind-out-file="$f" \
            --toggle-collect='bench_w1_load*' \
            "$1" w1-once --voters "$3" --batch "$4" --n "$6" \
            --async "$5" --seed "$seed" >/dev/null 2>"$f.log"; then
        echo 0 >"$f.rc"
    else
        echo 1 >"$f.rc"
    fi
}
callgrind_all() {
    local running=0 c nn v b a bin pre
    for bin in "$bench" ${baseline:+"$baseline"}; do
        pre=
        [ "$bin" = "$bench" ] || pre=base.
        for c in $configs; do
            IFS=: read -r v b a <<<"$c"
            for nn in "$n" "$n_small"; do
                callgrind_one "$bin" "$pre" "$v" "$b" "$a" "$nn" &
                running=$((running + 1))
                if [ "$running" -ge "$jobs" ]; then
                    wait -n
                    running=$((running - 1))
                fi
            done
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
w6= w7a= w7b= base_w3=
if [ "$w6_n" != 0 ]; then
    w6=$(run w6 --n "$w6_n" --check $((w6_n < 1000000 ? w6_n : 1000000)) \
             --seed "$seed")
    [ -n "$w6" ] || status=1
fi
if [ "$w7_on" != 0 ]; then
    w7a=$(run w7 --seed "$seed")
    w7b=$(run w7 --msg-bytes 65536 --inflight-bytes 262144 --seed "$seed")
    [ -n "$w7a" ] && [ -n "$w7b" ] || status=1
fi
if [ -n "$baseline" ]; then
    base_w3=$(run_bin "$baseline" w3 --n "$n" --seed "$seed")
    [ -n "$base_w3" ] || status=1
fi

[ "$have_cg" = 1 ] && wait "$cg_pid"

# Self Ir summed over functions whose file is the library's (src/* of the
# tree $2, default this one), from callgrind_annotate's file:function list.
# Prints "ir nfuncs".
lib_ir() {
    callgrind_annotate --inclusive=no --threshold=100 --auto=no \
        --show-percs=no "$1" |
    awk -v repo="${2:-$repo}" '
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
# memset, ...), src/ and tests/ being those of the tree $2 (default this
# one). Prints "callee ir" lines and a "TOTAL ir" line.
lib_external() {
    awk -v repo="${2:-$repo}" '
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

# W1 instructions per entry of one configuration from its callgrind pair:
# sets per (library), ext and ext_names (libc called by it), ir_big.
# Returns 1 (with the reason on stderr) if the pair is unusable.
w1_instr() { # file-prefix tree voters batch async
    local big=$work/$1callgrind.v$3.b$4.a$5.n$n
    local small=$work/$1callgrind.v$3.b$4.a$5.n$n_small
    local ir_small nf_big nf_small
    if [ "$(<"$big.rc")" != 0 ] || [ "$(<"$small.rc")" != 0 ]; then
        to_stderr "$big.log" "$small.log"
        fail "callgrind run of ${1:+the baseline, }voters=$3 B=$4 async=$5" \
             "failed"
        return 1
    fi
    read -r ir_big nf_big < <(lib_ir "$big" "$2")
    read -r ir_small nf_small < <(lib_ir "$small" "$2")
    if [ "$nf_big" -eq 0 ] || [ "$nf_small" -eq 0 ]; then
        fail "callgrind_annotate attributed no function to $2/src/ (is the" \
             "library built with -g?)"
        return 1
    fi
    lib_external "$big" "$2" >"$big.ext"
    lib_external "$small" "$2" >"$small.ext"
    read -r ext ext_names < <(external_per_entry "$small.ext" "$big.ext" \
                                 $((n - n_small)))
    per=$(awk -v a="$ir_big" -v b="$ir_small" -v d=$((n - n_small)) \
              'BEGIN { printf "%.0f", (a - b) / d }')
}

declare -A after_per after_ext
for c in $configs; do
    IFS=: read -r v b a <<<"$c"
    line=${w1line[$c]}
    [ -n "$line" ] || continue
    if [ "$have_cg" != 1 ] || ! w1_instr "" "$repo" "$v" "$b" "$a"; then
        echo "$line"
        continue
    fi
    after_per[$c]=$per after_ext[$c]=$ext
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
        lib_top "$work/callgrind.v$v.b$b.a$a.n$n" "$top" "$ir_big"
    fi
done
[ -n "$w2c" ] && echo "$w2c"
[ -n "$w2f" ] && echo "$w2f"
[ -n "$w3" ] && echo "$w3"
[ -n "$w5a" ] && echo "$w5a"
[ -n "$w5b" ] && echo "$w5b"
[ -n "$w6" ] && echo "$w6"
[ -n "$w7a" ] && echo "$w7a"
[ -n "$w7b" ] && echo "$w7b"

# ---- before/after table (BENCH_BASELINE) ---------------------------------
rev() { git -C "$1" rev-parse --short HEAD 2>/dev/null || echo "?"; }
change() { # before after
    awk -v x="$1" -v y="$2" 'BEGIN {
        num = "^[0-9]+([.][0-9]+)?$"
        if (x !~ num || y !~ num || x + 0 == 0) print "?"
        else printf "%+.1f%%", 100 * (y - x) / x }'
}
w3_fig() { sed -n 's/.*: \([0-9.]*\) heap bytes per retained.*/\1/p'; }
if [ -n "$baseline" ] && [ "$have_cg" = 1 ]; then
    echo "W1/W3 before/after: before = $baseline (tree $base_repo at" \
         "$(rev "$base_repo")), after = $bench (tree $repo at $(rev "$repo"))," \
         "seed=$seed N=$n; W1 instr/entry as in the W1 lines (library code," \
         "and libc functions the library calls)"
    printf '  %-26s %8s %8s %8s   %8s %8s\n' "W1 instr/entry" before after \
           change "libc bef" "libc aft"
    for c in $configs; do
        IFS=: read -r v b a <<<"$c"
        bp=? be=?
        if w1_instr base. "$base_repo" "$v" "$b" "$a"; then
            bp=$per be=$ext
        fi
        ap=${after_per[$c]:-?} ae=${after_ext[$c]:-?}
        mode=sync
        [ "$a" = 1 ] && mode=async
        printf '  %-26s %8s %8s %8s   %8s %8s\n' \
               "voters=$v B=$b $mode" "$bp" "$ap" "$(change "$bp" "$ap")" \
               "+$be" "+$ae"
    done
    bw3=$(w3_fig <<<"$base_w3") aw3=$(w3_fig <<<"$w3")
    printf '  %-26s %8s %8s %8s\n' "W3 bytes/entry" "${bw3:-?}" \
           "${aw3:-?}" "$(change "$bw3" "$aw3")"
fi
echo "run.sh: done in ${SECONDS} s" >&2
exit "$status"
