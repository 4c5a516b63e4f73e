#!/usr/bin/env bash
# demo.sh BUILD_DIR - a guided tour of the replicated counter (make demo).
#
# Starts a 3-node cluster on loopback (free ports from 7101 up, data, logs
# and a fresh cluster token in a temp dir), increments the counter, SIGKILLs the leader, shows a new
# leader taking over and increments still succeeding, restarts the old
# leader on its data dir and shows it catching up. Then snapshots: the
# nodes snapshot every 20 entries (--snapshot-every 20), so after a
# follower is stopped and 80 increments go by, the others have compacted
# their logs past it; restarted, it catches up by installing the leader's
# snapshot, which the demo shows from its log and its status. Everything
# it started is killed and the temp dir removed on exit, however the
# script ends.
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
declare -a PID PORT ADDR
cleanup() {
    local i
    trap - EXIT INT TERM HUP
    for i in 1 2 3; do
        if [[ -n ${PID[i]:-} ]]; then
            kill -KILL "${PID[i]}" 2>/dev/null
            wait "${PID[i]}" 2>/dev/null
        fi
    done
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'echo "demo: interrupted" >&2; exit 130' INT TERM HUP

say() { printf '\n== %s\n' "$*"; }
die() {
    local i
    echo "demo: $*" >&2
    for i in 1 2 3; do
        if [[ -f $DIR/n$i.log ]]; then
            echo "---- node $i log (last lines) ----" >&2
            tail -n 20 "$DIR/n$i.log" >&2
        fi
    done
    exit 1
}

# A port is taken if something accepts a connection on it.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

p=7101
for i in 1 2 3; do
    while ! port_free "$p"; do
        p=$((p + 1))
        ((p < 7200)) || die "no free port in 7101..7199"
    done
    PORT[i]=$p
    ADDR[i]=127.0.0.1:$p
    p=$((p + 1))
done
PEERS="1=${ADDR[1]},2=${ADDR[2]},3=${ADDR[3]}"
SERVERS="${ADDR[1]},${ADDR[2]},${ADDR[3]}"

# The cluster token: 32 random bytes as 64 hex digits, readable by this
# user only (the servers refuse a token file that others can read).
TOKEN=$DIR/token
(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$TOKEN") ||
    die "cannot write the token file $TOKEN"

# Small snapshot settings, so that the demo shows compaction: a snapshot
# every 20 applied entries, 5 entries kept behind it, 4 KiB log segments.
SNAP_EVERY=20
start_node() {
    local i=$1
    "$SERVER" --id "$i" --data "$DIR/n$i" --listen "${ADDR[i]}" \
        --peers "$PEERS" --token-file "$TOKEN" --snapshot-every "$SNAP_EVERY" \
        --snapshot-trailing 5 --segment-bytes 4096 >>"$DIR/n$i.log" 2>&1 &
    PID[i]=$!
}

# Lines of node $1's log (this run of it: after line $2) matching $3,
# without the time stamp, indented.
log_lines() {
    tail -n +"$(($2 + 1))" "$DIR/n$1.log" | grep -E "$3" | cut -d' ' -f2- |
        while IFS= read -r l; do printf '   %s\n' "$l"; done
}

cli() { "$CLI" --token-file "$TOKEN" --servers "$SERVERS" --timeout-ms 500 "$@"; }

# STATUS of every node into $STATUS (one line per node).
STATUS=
refresh() { STATUS=$(cli status 2>/dev/null); }
show_status() { refresh; printf '%s\n' "$STATUS" | while IFS= read -r l; do printf '   %s\n' "$l"; done; }

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
    for i in 1 2 3; do
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

wait_leader() { # [not_this_node]
    local l n
    for ((n = 0; n < 100; n++)); do
        refresh
        l=$(leader)
        if [[ -n $l && $l != "${1:-}" ]]; then
            printf '%s' "$l"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

incr() {
    local v
    v=$(cli incr "$1") || die "increment by $1 failed"
    printf '   incr %-3s -> %s\n' "$1" "$v"
    LAST=$v
}

# ---------------------------------------------------------------------------
T0=$SECONDS
say "Starting 3 counter-server nodes on $SERVERS (data and logs in $DIR)"
for i in 1 2 3; do start_node "$i"; done
sleep 0.2
for i in 1 2 3; do
    kill -0 "${PID[i]}" 2>/dev/null || die "node $i exited at startup"
done

say "Waiting for the nodes to elect a leader"
L=$(wait_leader) || die "no leader after 10 s"
echo "   node $L is the leader"
show_status

say "Incrementing the counter through the leader (counter-cli incr N)"
LAST=0
for n in 1 2 3 4 5; do incr "$n"; done

say "A client with another cluster's token is refused"
OTHER=$DIR/other-token
(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$OTHER") ||
    die "cannot write $OTHER"
if out=$("$CLI" --token-file "$OTHER" --servers "${ADDR[L]}" incr 1000 2>&1); then
    die "a client with a wrong token was served: $out"
fi
printf '   counter-cli: %s\n' "${out#*: }"
printf '   node %s log: %s\n' "$L" "$(grep -m1 'refused: wrong cluster token' "$DIR/n$L.log" | cut -d' ' -f3-)"

say "Killing the leader, node $L (pid ${PID[L]}), with SIGKILL"
OLD=$L
# (Grouped so that the shell's "Killed" job notice is silenced too.)
{ kill -KILL "${PID[OLD]}"; wait "${PID[OLD]}"; } 2>/dev/null
PID[OLD]=

say "Waiting for the two survivors to elect a new leader"
L=$(wait_leader "$OLD") || die "no new leader after 10 s"
echo "   node $L took over (node $OLD is down)"
show_status

say "Increments still succeed with node $OLD down"
for n in 10 20 30; do incr "$n"; done
V=$(cli get) || die "get failed"
echo "   get      -> $V"

say "Restarting node $OLD on its old data dir"
start_node "$OLD"

say "Waiting for node $OLD to catch up (its applied index and value match the leader's)"
ok=
for ((n = 0; n < 100; n++)); do
    refresh
    L=$(leader)
    if [[ -n $L && -n $(field "$OLD" applied) &&
        $(field "$OLD" applied) == "$(field "$L" applied)" &&
        $(field "$OLD" value) == "$V" && $(field "$L" value) == "$V" ]]; then
        ok=1
        break
    fi
    sleep 0.1
done
[[ -n $ok ]] || { show_status; die "node $OLD did not catch up within 10 s"; }
show_status

say "Snapshots: every node snapshots its state every $SNAP_EVERY applied entries and compacts its log"
L=$(wait_leader) || die "no leader"
F=$(( L % 3 + 1 ))
refresh
echo "   stopping node $F (a follower, applied index $(field "$F" applied)) with SIGTERM"
kill -TERM "${PID[F]}"
wait "${PID[F]}" 2>/dev/null
PID[F]=
printf '   80 increments of 1 while node %s is down:' "$F"
for ((n = 0; n < 80; n++)); do
    LAST=$(cli incr 1) || die "increment failed"
done
echo " counter now $LAST"
echo "   the leader, node $L, snapshotted and compacted past node $F meanwhile:"
log_lines "$L" 0 "took snapshot" | tail -n 3
echo "   node $L's data directory now holds: $(cd "$DIR/n$L" && echo snap-* log-*)"

say "Restarting node $F: the entries it lacks are gone from the leader's log, so it gets a snapshot"
MARK=$(wc -l <"$DIR/n$F.log")
start_node "$F"
ok=
for ((n = 0; n < 100; n++)); do
    refresh
    L=$(leader)
    if [[ -n $L && -n $(field "$F" applied) &&
        $(field "$F" applied) == "$(field "$L" applied)" &&
        $(field "$F" value) == "$LAST" ]]; then
        ok=1
        break
    fi
    sleep 0.1
done
[[ -n $ok ]] || { show_status; die "node $F did not catch up within 10 s"; }
log_lines "$F" "$MARK" "restored from|receiving snapshot|installed snapshot|took snapshot"
grep -q "installed snapshot" <(tail -n +"$((MARK + 1))" "$DIR/n$F.log") ||
    die "node $F caught up without installing a snapshot"
echo "   node $F installed the leader's snapshot and caught up: applied index $(field "$F" applied), value $(field "$F" value)"
echo "   node $F's data directory now holds: $(cd "$DIR/n$F" && echo snap-* log-*)"
echo "   its status (the library's counters since this restart):"
cli status 2>/dev/null | grep -A5 "^${ADDR[F]} " | grep -E "id=|snapshots" | sed 's/^/   /'
V=$LAST

say "The count on every node"
refresh
for i in 1 2 3; do
    echo "   node $i: $(field "$i" value)"
    [[ $(field "$i" value) == "$V" ]] || die "node $i disagrees"
done

say "Stopping the cluster and removing $DIR"
for i in 1 2 3; do
    kill -TERM "${PID[i]}" 2>/dev/null
done
for i in 1 2 3; do
    for ((n = 0; n < 30; n++)); do
        kill -0 "${PID[i]}" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "${PID[i]}" 2>/dev/null
    wait "${PID[i]}" 2>/dev/null
    PID[i]=
done
echo "   done in $((SECONDS - T0)) s: all 3 nodes count $V"
