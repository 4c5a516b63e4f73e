#!/bin/sh
# check_svg.sh FILE [NODES] - is FILE a complete timeline picture written
# by `sim --svg`? Checks the shape of what the simulator writes (one
# element per line): an XML prolog, one <svg> root ending the file,
# balanced groups and text elements, self-closed shapes, as many lanes as
# the root's data-nodes (and NODES, if given), and at least one leader
# band. Prints what is wrong and exits 1; exits 0 if nothing is.
set -u
f=${1:?usage: check_svg.sh FILE [NODES]}
want=${2:-}
[ -r "$f" ] || { echo "check_svg: cannot read $f"; exit 1; }
awk -v want="$want" -v file="$f" '
function bad(msg) { print "check_svg: " file ": " msg; failed = 1 }
function count(s, re,    n) { n = 0; while (match(s, re)) { n++; s = substr(s, RSTART + RLENGTH) } return n }
NR == 1 && $0 !~ /^<\?xml / { bad("line 1 is not an XML prolog") }
NR == 2 && $0 !~ /^<svg / { bad("line 2 does not open <svg>") }
{
    last = $0
    lt += count($0, "<"); gt += count($0, ">")
    svg_open += count($0, "<svg[ >]"); svg_close += count($0, "</svg>")
    g_open += count($0, "<g[ >]"); g_close += count($0, "</g>")
    text_open += count($0, "<text[ >]"); text_close += count($0, "</text>")
    shapes += count($0, "<(rect|path|circle)[ >]")
    closed += count($0, "<(rect|path|circle) [^<>]*/>")
    lanes += count($0, "<g id=\"node-[0-9]+\">")
    if (match($0, /data-nodes="[0-9]+"/))
        nodes = substr($0, RSTART + 12, RLENGTH - 13) + 0
}
/^<g class="leader"/ { in_leader = 1; next }
/^<\/g>/ { in_leader = 0 }
in_leader && /^<rect / { leader_rects++ }
END {
    if (NR == 0) { bad("empty"); exit 1 }
    if (last != "</svg>") bad("the last line is not </svg>")
    if (svg_open != 1 || svg_close != 1) bad("<svg> opened " svg_open " times, closed " svg_close)
    if (g_open != g_close) bad("<g> opened " g_open " times, closed " g_close)
    if (text_open != text_close) bad("<text> opened " text_open " times, closed " text_close)
    if (shapes != closed) bad(shapes - closed " of " shapes " shapes not self-closed")
    if (lt != gt) bad(lt " < against " gt " >")
    if (nodes < 1) bad("no data-nodes on the root")
    if (lanes != nodes) bad(lanes " lanes for " nodes " nodes")
    if (want != "" && lanes != want + 0) bad(lanes " lanes, expected " want)
    if (leader_rects < 1) bad("no leader band")
    exit failed
}' "$f"
