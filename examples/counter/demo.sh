#!/usr/bin/env bash
# demo.sh BUILD_DIR - a guided tour of the replicated counter (make demo):
# replacing a dead machine while clients are being served.
#
# Starts a 3-node cluster on loopback (free ports from 7101 up; data, logs
# and a fresh cluster token in a temp dir) whose address book (--peers)
# also names a spare machine, node 4. A client with the wrong token is
# turned away. Then a client loop (counter-cli load) increments the counter
# without pause for the rest of the demo, while:
#   - node 3 is killed with SIGKILL for good and its disk wiped;
#   - node 4 starts empty (--join) and is added as a learner; the leader
#     has compacted its log into snapshots meanwhile, so node 4 catches up
#     by installing the leader's snapshot;
#   - once it has caught up, node 4 is promoted to voter, and node 3 is
#     removed from the configuration;
#   - leadership is handed to node 4.
# The client loop then reports whether any request failed and the longest
# time it waited between two acknowledged increments, and every live node
# must hold its count. Everything it started is killed and the temp dir
# removed on exit, however the script ends.
# Needs only bash, coreutils (od, tr) and the build outputs (counter-server,
# counter-cli); builds nothing itself.
set -u

B=${1:-build}
SERVER=$B/counter-server
CLI=$B/counter-cli
for f in "$SERVER" "$CLI"; do
    if [[ ! -x $f ]]; then
        echo "demo: $f not found; run 'make demo' (or make examples) first" >&2
        exit 1
    fi
done

DIR=$(mktemp -d "${TMPDIR:-/tmp}/counter-demo.XXXXXX") || exit 1
NODES=(1 2 3 4)
declare -a PID PORT ADDR
LOAD_PID=
cleanup() {
    local i
    trap - EXIT INT TERM HUP
    if [[ -n $LOAD_PID ]]; then
        kill -KILL "$LOAD_PID" 2>/dev/null
        wait "$LOAD_PID" 2>/dev/null
    fi
    for i in "${NODES[@]}"; do
        if [[ -n ${PID[i]:-} ]]; then
            kill -KILL "${PID[i]}" 2>/dev/null
            wait "${PID[i]}" 2>/dev/null
        fi
    done
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'echo "demo: interrupted" >&2; exit 130' INT TERM HUP

T0=$SECONDS
START_MS=$(date +%s%3N)
# Seconds since the client loop started, for the step headers.
since_load() {
    local now
    now=$(date +%s%3N)
    printf '%d.%d' $(((now - LOAD_MS) / 1000)) $((((now - LOAD_MS) % 1000) / 100))
}
LOAD_MS=$START_MS
say() { printf '\n== %s\n' "$*"; }
step() { printf '\n== [t=%ss] %s\n' "$(since_load)" "$*"; }
die() {
    local i
    echo "demo: $*" >&2
    for i in "${NODES[@]}"; do
        if [[ -f $DIR/n$i.log ]]; then
            echo "---- node $i log (last lines) ----" >&2
            grep -v "took snapshot" "$DIR/n$i.log" | tail -n 20 >&2
        fi
    done
    exit 1
}

# A port is taken if something accepts a connection on it.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

p=7101
for i in "${NODES[@]}"; do
    while ! port_free "$p"; do
        p=$((p + 1))
        ((p < 7200)) || die "no free port in 7101..7199"
    done
    PORT[i]=$p
    ADDR[i]=127.0.0.1:$p
    p=$((p + 1))
done
# The address book: every machine a node may have to talk to, including
# the spare one, node 4, which is not a member yet.
PEERS="1=${ADDR[1]},2=${ADDR[2]},3=${ADDR[3]},4=${ADDR[4]}"
SERVERS="${ADDR[1]},${ADDR[2]},${ADDR[3]},${ADDR[4]}"

# The cluster token: 32 random bytes as 64 hex digits, readable by this
# user only (the servers refuse a token file that others can read).
TOKEN=$DIR/token
(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$TOKEN") ||
    die "cannot write the token file $TOKEN"

# Small snapshot settings, so that the leader compacts its log within
# seconds: a snapshot every 1000 applied entries, 20 entries kept behind it.
start_node() { # ID --bootstrap 1,2,3 | --join
    local i=$1
    shift
    "$SERVER" --id "$i" --data "$DIR/n$i" --listen "${ADDR[i]}" \
        --peers "$PEERS" --token-file "$TOKEN" "$@" --snapshot-every 1000 \
        --snapshot-trailing 20 --segment-bytes 16384 >>"$DIR/n$i.log" 2>&1 &
    PID[i]=$!
}

indent() { while IFS= read -r l; do printf '   %s\n' "$l"; done; }

# Lines of node $1's log matching $2, without the time stamp, indented.
log_lines() { grep -E "$2" "$DIR/n$1.log" | cut -d' ' -f2- | indent; }

cli() { "$CLI" --token-file "$TOKEN" --servers "$SERVERS" --timeout-ms 500 "$@"; }

# STATUS of every node into $STATUS (one line per node).
STATUS=
refresh() { STATUS=$(cli status 2>/dev/null | grep ' id='); }

# field NODE NAME: a field of node NODE's line in $STATUS, empty if none.
field() {
    local line re="(^| )$2=([^ ]*)"
    while IFS= read -r line; do
        if [[ $line == "${ADDR[$1]} id="* && $line =~ $re ]]; then
            printf '%s' "${BASH_REMATCH[2]}"
            return
        fi
    done <<<"$STATUS"
}

# The node that says it leads in the highest term in $STATUS, or empty.
leader() {
    local i t best= bt=0
    for i in "${NODES[@]}"; do
        if [[ $(field "$i" role) == leader ]]; then
            t=$(field "$i" term)
            if [[ -z $best || $t -gt $bt ]]; then
                best=$i
                bt=$t
            fi
        fi
    done
    printf '%s' "$best"
}

wait_leader() {
    local l n
    for ((n = 0; n < 100; n++)); do
        refresh
        l=$(leader)
        if [[ -n $l ]]; then
            printf '%s' "$l"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# How far node $1 is behind the leader's log, from `conf --json` (empty
# if the leader does not list it).
behind() {
    local json re="\{\"id\":$1,[^}]*\"behind\":([0-9]+)"
    json=$(cli conf --json 2>/dev/null)
    [[ $json =~ $re ]] && printf '%s' "${BASH_REMATCH[1]}"
}

# ---------------------------------------------------------------------------
say "Starting nodes 1, 2 and 3 of a new cluster (--bootstrap 1,2,3) on ${ADDR[1]}, ${ADDR[2]}, ${ADDR[3]}"
echo "   every node's address book (--peers) also names a spare machine, node 4 at ${ADDR[4]}"
echo "   data and logs in $DIR"
for i in 1 2 3; do start_node "$i" --bootstrap 1,2,3; done
sleep 0.2
for i in 1 2 3; do
    kill -0 "${PID[i]}" 2>/dev/null || die "node $i exited at startup"
done
L=$(wait_leader) || die "no leader after 10 s"
echo "   node $L was elected leader; the configuration (counter-cli conf):"
cli conf | indent

say "A client with another cluster's token is refused"
OTHER=$DIR/other-token
(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$OTHER") ||
    die "cannot write $OTHER"
if out=$("$CLI" --token-file "$OTHER" --servers "${ADDR[L]}" incr 1000 2>&1); then
    die "a client with a wrong token was served: $out"
fi
printf '   counter-cli: %s\n' "${out#*: }"

say "A client starts incrementing the counter without pause (counter-cli load), and keeps going until the end"
LOAD_MS=$(date +%s%3N)
# (The program itself in the background, not the cli function: its pid is
# the one to signal.)
"$CLI" --token-file "$TOKEN" --servers "$SERVERS" --timeout-ms 500 \
    --deadline-ms 30000 load >"$DIR/load.out" 2>&1 &
LOAD_PID=$!
sleep 2
refresh
L=$(leader)
echo "   after 2 s the counter is at $(field "$L" value); the leader, node $L, has compacted its log into snapshots:"
log_lines "$L" "took snapshot" | tail -n 2
echo "   its data directory: $(cd "$DIR/n$L" && echo snap-* log-*)"

step "Machine 3 dies for good: SIGKILL node 3 (pid ${PID[3]}) and wipe its disk"
[[ $L == 3 ]] && echo "   (node 3 is the leader: the others elect a new one within about an election timeout)"
{ kill -KILL "${PID[3]}"; wait "${PID[3]}"; } 2>/dev/null
PID[3]=
rm -rf "$DIR/n3"
sleep 1
L=$(wait_leader) || die "no leader after losing node 3"
echo "   two of three voters are left: still a majority; node $L leads. The leader's view:"
cli conf | indent

step "Node 4 starts on the spare machine, empty (--join): it waits to be added"
start_node 4 --join
sleep 0.3
log_lines 4 "started empty"

step "Add node 4 as a learner (counter-cli add-learner 4): it gets the log but does not vote yet"
out=$(cli add-learner 4) || die "add-learner 4 failed"
printf '%s\n' "$out" | indent
n=0
while :; do
    b=$(behind 4)
    [[ $b == 0 ]] && break
    ((n++ < 100)) || die "node 4 did not catch up within 10 s"
    sleep 0.1
done
echo "   the entries node 4 lacks were compacted away on the leader, so it was sent a snapshot:"
log_lines 4 "receiving snapshot|installed snapshot|now a member"
grep -q "installed snapshot" "$DIR/n4.log" || die "node 4 caught up without a snapshot"
echo "   caught up: the leader's view (node 4's match is the leader's last index):"
cli conf | indent

step "Promote node 4 to voter (counter-cli promote 4)"
out=$(cli promote 4) || die "promote 4 failed"
printf '%s\n' "$out" | indent

step "Remove dead node 3 from the configuration (counter-cli remove 3)"
out=$(cli remove 3) || die "remove 3 failed"
printf '%s\n' "$out" | indent
cli conf | indent

step "Hand leadership to node 4 (counter-cli transfer 4)"
out=$(cli transfer 4) || die "transfer to node 4 failed"
printf '%s\n' "$out" | indent

sleep 1
step "Stopping the client loop"
kill -TERM "$LOAD_PID"
wait "$LOAD_PID"
LOAD_RC=$?
LOAD_PID=
indent <"$DIR/load.out"
V=$(sed -n 's/.*counter now \([0-9]*\).*/\1/p' "$DIR/load.out")
[[ $LOAD_RC == 0 && -n $V ]] || die "the client loop saw failures (exit status $LOAD_RC)"
echo "   no request failed: the client was served throughout the replacement"
echo "   (the waits end at times on the clock of the [t=...] headers above)."

say "The count on every node of the new configuration (1, 2 and 4)"
ok=
for ((n = 0; n < 50; n++)); do
    refresh
    if [[ $(field 1 value) == "$V" && $(field 2 value) == "$V" && $(field 4 value) == "$V" ]]; then
        ok=1
        break
    fi
    sleep 0.1
done
for i in 1 2 4; do echo "   node $i: $(field "$i" value)"; done
[[ -n $ok ]] || die "the nodes do not all hold $V"

say "Stopping the cluster and removing $DIR"
for i in "${NODES[@]}"; do
    [[ -n ${PID[i]:-} ]] && kill -TERM "${PID[i]}" 2>/dev/null
done
for i in "${NODES[@]}"; do
    [[ -n ${PID[i]:-} ]] || continue
    for ((n = 0; n < 30; n++)); do
        kill -0 "${PID[i]}" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "${PID[i]}" 2>/dev/null
    wait "${PID[i]}" 2>/dev/null
    PID[i]=
done
echo "   done in $((SECONDS - T0)) s: machine 3 replaced by machine 4, all 3 voters count $V"
