#!/usr/bin/env bash
# Check that the C code in README.md's "Driving a node" section is copied
# verbatim from examples/minimal/minimal.c: the n-th ```c block of the
# section (up to the next heading) must equal the n-th region of the file
# between a line "/* README:begin */" and a line "/* README:end */".
#
# Usage: tests/readme/check.sh [README [C-FILE]]  (paths from the repository
# root; the script runs there wherever it is called from)
set -euo pipefail
cd "$(dirname "$0")/../.."

readme=${1:-README.md}
src=${2:-examples/minimal/minimal.c}
section='## Driving a node'
sep='/* ---- next excerpt ---- */'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The section's ```c blocks, separated by $sep. A line starting with '#'
# ends the section only outside a code block (#include is not a heading).
awk -v section="$section" -v sep="$sep" '
    fence == 0 && $0 == section { in_section = 1; next }
    fence == 0 && in_section && /^#/ { in_section = 0 }
    !in_section { next }
    fence != 0 && /^```/ { fence = 0; next }
    fence == 1 { print; next }
    fence == 2 { next }
    /^```/ { fence = ($0 == "```c") ? 1 : 2; if (fence == 1 && n++) print sep }
    END { if (fence) { print "unterminated code block" > "/dev/stderr"; exit 1 } }
' "$readme" > "$tmp/readme"

# The marked regions of the C file, separated the same way.
awk -v sep="$sep" '
    $0 == "/* README:begin */" {
        if (inside) { print FILENAME ":" NR ": README:begin inside a region" > "/dev/stderr"; bad = 1; exit 1 }
        inside = 1; if (n++) print sep; next
    }
    $0 == "/* README:end */" {
        if (!inside) { print FILENAME ":" NR ": README:end outside a region" > "/dev/stderr"; bad = 1; exit 1 }
        inside = 0; next
    }
    inside { print }
    END {
        if (bad) exit 1
        if (inside) { print FILENAME ": README:begin without README:end" > "/dev/stderr"; exit 1 }
    }
' "$src" > "$tmp/source"

if [ ! -s "$tmp/readme" ]; then
    echo "check.sh: no \`\`\`c block under \"$section\" in $readme" >&2
    exit 1
fi
if [ ! -s "$tmp/source" ]; then
    echo "check.sh: no /* README:begin */ ... /* README:end */ region in $src" >&2
    exit 1
fi
if ! diff -u --label "$src (marked regions)" --label "$readme ($section)" \
        "$tmp/source" "$tmp/readme" > "$tmp/diff"; then
    echo "check.sh: the code under \"$section\" in $readme is not a verbatim" >&2
    echo "copy of the marked regions of $src; copy them again:" >&2
    cat "$tmp/diff" >&2
    exit 1
fi
echo "README code matches $src ($(grep -c '^/\* README:begin \*/$' "$src") excerpts)"
