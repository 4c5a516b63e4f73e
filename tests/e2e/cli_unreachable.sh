#!/usr/bin/env bash
# Run counter-cli under memcheck for every command against servers that
# refuse connections (nothing listens on their ports): each must exit 1,
# having printed something (why, or status's "unreachable" lines), with no
# memcheck error (the valgrind target's
# --error-exitcode, 99). These are the paths where no answer ever arrives,
# so a response read there is one that was never filled in.
#
# Usage: tests/e2e/cli_unreachable.sh BUILD-DIR VALGRIND-COMMAND
set -euo pipefail

bin=$1
valgrind=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(umask 077 && printf '%s' 0123456789abcdef0123456789abcdef > "$tmp/token")
# Port 1 (tcpmux) is not listened on here: connect() is refused at once.
servers=127.0.0.1:1,127.0.0.1:2
failed=0
for cmd in "conf" "conf --json" "status" "status --json" "incr 1" "get" \
           "add-learner 4" "promote 4" "remove 4" "transfer 2" "load 1"; do
    set +e
    # shellcheck disable=SC2086 # $valgrind and $cmd are word lists
    $valgrind "$bin/counter-cli" --token-file "$tmp/token" --servers "$servers" \
        --deadline-ms 200 $cmd > "$tmp/out" 2> "$tmp/err"
    rc=$?
    set -e
    if [ "$rc" -ne 1 ] || { [ ! -s "$tmp/out" ] && [ ! -s "$tmp/err" ]; }; then
        echo "cli_unreachable.sh: counter-cli $cmd: exit $rc (want 1, and a reason):" >&2
        cat "$tmp/err" >&2
        failed=1
    fi
done
if [ "$failed" -ne 0 ]; then
    exit 1
fi
echo "cli_unreachable.sh: every counter-cli command against unreachable servers: exit 1, no memcheck error"
