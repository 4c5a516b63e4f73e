/*
 * sim_svg.c - a picture of one run: every node's timeline as an SVG file.
 *
 * With opts->svg set, the simulator records for each node the runs of
 * equal state (its role, or down; its term; whether its links are cut),
 * its commit index, and marks for election starts, won elections,
 * crashes, restarts and nemesis strikes, each at the global step it was
 * observed. Observations come from where the simulator already looks:
 * after every library call on a node (sim_check_node), at crashes and
 * restarts, inside the event callback, and after every fault-phase event
 * for the links. Nothing here draws from the chooser, so a run with a
 * picture is the same run as without one. Without opts->svg, s->svg is
 * NULL and the callers skip these functions: nothing is recorded or
 * allocated.
 *
 * The plot is SIM_SVG_PLOT pixels wide whatever the run's length. Each
 * pixel column shows the state at its middle step, so a lane has at most
 * one rectangle per column for its role and one for its links, a commit
 * line of at most two segments per column, and at most one mark of a kind
 * per SIM_SVG_MARK_GAP columns and one term label per few columns. That
 * bounds a lane to about 160 KB however many steps and elections the run
 * has; in practice a run of the usual 2,000..6,000 events gives 7..45 KB
 * and a run of a million events with 9 nodes 200..350 KB.
 *
 * Everything is plain SVG with presentation attributes, one element per
 * line: no stylesheet, script, font or other file is referenced. The
 * root's data-nodes attribute and the lanes' ids (node-1, ...) and
 * classes (leader, ...) are what tests/sim/check_svg.sh checks.
 */
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

/* Geometry, in pixels. A lane: term labels, marks, role band, link band. */
#define SIM_SVG_LEFT 140  /* lane labels */
#define SIM_SVG_PLOT 1000 /* the time axis */
#define SIM_SVG_RIGHT 80  /* final commit index */
#define SIM_SVG_TOP 62    /* title, failure line, phase labels */
#define SIM_SVG_LANE 52   /* lane pitch */
#define SIM_SVG_TERM_Y 9  /* baseline of the term labels, in a lane */
#define SIM_SVG_MARK_Y 16 /* centre of the marks */
#define SIM_SVG_BAND_Y 22 /* top of the role band */
#define SIM_SVG_BAND_H 20
#define SIM_SVG_LINK_Y 43 /* top of the link band */
#define SIM_SVG_LINK_H 5
#define SIM_SVG_MARK_GAP 4 /* marks of a kind closer than this are merged */
#define SIM_SVG_ERR_MAX 150 /* characters of a failure shown */

#define SIM_SVG_DOWN 0 /* state of a crashed node; else RAFT_<role> */
#define SIM_SVG_NO_COMMIT UINT64_MAX /* commit of a crashed node */

/* Link state of a node: none of its links cut, some, or all both ways. */
enum { SIM_SVG_LINKS_OK, SIM_SVG_LINKS_SOME, SIM_SVG_LINKS_ALL };

/* From `at` on (until the next span), the node is in this state. */
struct sim_svg_span {
    uint64_t at;
    raft_term term;
    uint8_t state; /* SIM_SVG_DOWN or RAFT_<role> */
    uint8_t links; /* SIM_SVG_LINKS_* */
};

struct sim_svg_commit {
    uint64_t at;
    raft_index commit; /* SIM_SVG_NO_COMMIT while down */
};

struct sim_svg_mark {
    uint64_t at;
    raft_id id;
    int kind; /* SIM_SVG_MARK_* */
};

struct sim_svg_lane {
    struct sim_svg_span *span;
    size_t span_len, span_cap;
    struct sim_svg_commit *commit;
    size_t commit_len, commit_cap;
};

struct sim_svg {
    struct sim_svg_lane lane[SIM_MAX_NODES];
    struct sim_svg_mark *mark;
    size_t mark_len, mark_cap;
    bool heal, failed;
    uint64_t heal_at, fail_at; /* steps */
};

/* Colours, and the order the legend shows them in. */
static const char *const sim_svg_state_fill[5] = {
    "#c8c8c8", "#dbe8f5", "#f5a55a", "#2e9e44", "#f8d9a8"}; /* down, F, C, L, P */
static const char *const sim_svg_state_name[5] = {"down", "follower",
                                                 "candidate", "leader",
                                                 "pre-candidate"};
static const char *const sim_svg_link_fill[3] = {"none", "#f2a0a0",
                                                "#c62828"};
static const char *const sim_svg_link_name[3] = {"", "some links cut",
                                                "isolated"};
#define SIM_SVG_COMMIT_STROKE "#1a1a1a"
#define SIM_SVG_HEAL_STROKE "#1565c0"
#define SIM_SVG_FAIL_STROKE "#d50000"

static unsigned long long sim_ull(uint64_t x)
{
    return (unsigned long long)x;
}

/* ---- recording -------------------------------------------------------- */

int sim_svg_new(struct sim *s)
{
    s->svg = calloc(1, sizeof *s->svg);
    return s->svg != NULL ? 0 : -1;
}

void sim_svg_free(struct sim *s)
{
    struct sim_svg *g = s->svg;
    if (g == NULL)
        return;
    for (unsigned i = 0; i < SIM_MAX_NODES; i++) {
        free(g->lane[i].span);
        free(g->lane[i].commit);
    }
    free(g->mark);
    free(g);
    s->svg = NULL;
}

static bool sim_svg_same(const struct sim_svg_span *a,
                         const struct sim_svg_span *b)
{
    return a->term == b->term && a->state == b->state && a->links == b->links;
}

/* Enter state x at the current step. Changes within one step keep only
 * the last state: a step is the picture's finest unit of time. */
static void sim_svg_enter(struct sim *s, struct sim_svg_lane *ln,
                          struct sim_svg_span x)
{
    x.at = s->now;
    if (ln->span_len > 0) {
        struct sim_svg_span *last = &ln->span[ln->span_len - 1];
        if (sim_svg_same(last, &x))
            return;
        if (last->at == x.at) {
            if (ln->span_len > 1 && sim_svg_same(last - 1, &x))
                ln->span_len--; /* back to the state before this step */
            else
                *last = x;
            return;
        }
    }
    struct sim_svg_span *p = sim_grow(s, ln->span, &ln->span_cap,
                                      ln->span_len + 1, sizeof *p);
    if (p == NULL)
        return;
    ln->span = p;
    ln->span[ln->span_len++] = x;
}

static void sim_svg_set_commit(struct sim *s, struct sim_svg_lane *ln,
                               raft_index c)
{
    if (ln->commit_len > 0) {
        struct sim_svg_commit *last = &ln->commit[ln->commit_len - 1];
        if (last->commit == c)
            return;
        if (last->at == s->now) {
            last->commit = c;
            return;
        }
    }
    struct sim_svg_commit *p = sim_grow(s, ln->commit, &ln->commit_cap,
                                        ln->commit_len + 1, sizeof *p);
    if (p == NULL)
        return;
    ln->commit = p;
    ln->commit[ln->commit_len++] = (struct sim_svg_commit){s->now, c};
}

/* The lane's current state (a follower in term 0 before anything). */
static struct sim_svg_span sim_svg_current(const struct sim_svg_lane *ln)
{
    if (ln->span_len > 0)
        return ln->span[ln->span_len - 1];
    return (struct sim_svg_span){0, 0, RAFT_FOLLOWER, SIM_SVG_LINKS_OK};
}

void sim_svg_node(struct sim_node *nd)
{
    struct sim *s = nd->sim;
    struct sim_svg_lane *ln = &s->svg->lane[nd->id - 1];
    struct sim_svg_span x = sim_svg_current(ln);
    raft_index commit = SIM_SVG_NO_COMMIT;
    if (nd->r == NULL) {
        x.state = SIM_SVG_DOWN;
    } else {
        struct raft_status st;
        raft_status(nd->r, &st);
        x.state = (uint8_t)st.role;
        x.term = st.term;
        commit = st.commit;
    }
    sim_svg_enter(s, ln, x);
    sim_svg_set_commit(s, ln, commit);
}

void sim_svg_links(struct sim *s)
{
    for (unsigned a = 1; a <= s->n; a++) {
        unsigned cut = 0;
        for (unsigned b = 1; b <= s->n; b++)
            cut += (b != a && sim_net_cut(s, a, b)) + (b != a && sim_net_cut(s, b, a));
        struct sim_svg_lane *ln = &s->svg->lane[a - 1];
        struct sim_svg_span x = sim_svg_current(ln);
        x.links = cut == 0                 ? SIM_SVG_LINKS_OK
                  : cut == 2 * (s->n - 1) ? SIM_SVG_LINKS_ALL
                                           : SIM_SVG_LINKS_SOME;
        sim_svg_enter(s, ln, x);
    }
}

void sim_svg_mark(struct sim *s, raft_id id, int kind)
{
    struct sim_svg *g = s->svg;
    struct sim_svg_mark *p = sim_grow(s, g->mark, &g->mark_cap,
                                      g->mark_len + 1, sizeof *p);
    if (p == NULL)
        return;
    g->mark = p;
    g->mark[g->mark_len++] = (struct sim_svg_mark){s->now, id, kind};
}

void sim_svg_event(struct sim_node *nd, const struct raft_event *ev)
{
    if (ev->type == RAFT_EVENT_ELECTION_START)
        sim_svg_mark(nd->sim, nd->id, SIM_SVG_MARK_CANDIDATE);
    else if (ev->type == RAFT_EVENT_ELECTION_WON)
        sim_svg_mark(nd->sim, nd->id, SIM_SVG_MARK_LEADER);
}

void sim_svg_heal(struct sim *s)
{
    s->svg->heal = true;
    s->svg->heal_at = s->now;
    sim_svg_links(s);
}

void sim_svg_fail(struct sim *s)
{
    s->svg->failed = true;
    s->svg->fail_at = s->now;
}

/* ---- writing ----------------------------------------------------------- */

/* Pixel geometry of one picture. */
struct sim_svg_geom {
    uint64_t steps; /* length of the time axis, at least 1 */
    raft_index max_commit;
    unsigned width, height, axis_y;
};

static unsigned sim_svg_x(const struct sim_svg_geom *gm, uint64_t at)
{
    if (at > gm->steps)
        at = gm->steps;
    return SIM_SVG_LEFT + (unsigned)(at * SIM_SVG_PLOT / gm->steps);
}

/* The step shown by pixel column c: the middle of the column. */
static uint64_t sim_svg_col_step(const struct sim_svg_geom *gm, unsigned c)
{
    return (2 * (uint64_t)c + 1) * gm->steps / (2 * SIM_SVG_PLOT);
}

/* Text content with the XML specials escaped, at most max characters. */
static void sim_svg_text(FILE *f, const char *t, size_t max)
{
    for (size_t i = 0; t[i] != '\0' && i < max; i++) {
        switch (t[i]) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            fputc((unsigned char)t[i] < 0x20 ? ' ' : t[i], f);
            break;
        }
    }
}

/* Marks of a kind are drawn in a group that carries their colours. */
static const char *const sim_svg_mark_group[SIM_SVG_MARK_COUNT] = {
    "fill=\"#ffffff\" stroke=\"#b35900\" stroke-width=\"1.5\"",
    "fill=\"#1b5e20\"",
    "fill=\"none\" stroke=\"#d50000\" stroke-width=\"2\"",
    "fill=\"#37474f\"",
    "fill=\"#7b1fa2\"",
    "fill=\"#00838f\"",
    "fill=\"#e65100\"",
    "fill=\"#e65100\""};

static const char *const sim_svg_mark_name[SIM_SVG_MARK_COUNT] = {
    "election started", "election won", "crash", "restart",
    "nemesis strike", "snapshot installed", "clock paused", "resumed"};

/* The glyph of a mark centred at (x, y), inside its kind's group; the
 * legend draws the same. */
static void sim_svg_glyph(FILE *f, int kind, unsigned x, unsigned y)
{
    switch (kind) {
    case SIM_SVG_MARK_CANDIDATE: /* ring */
        fprintf(f, "<circle cx=\"%u\" cy=\"%u\" r=\"3\"/>\n", x, y);
        break;
    case SIM_SVG_MARK_LEADER: /* triangle pointing down at the band */
        fprintf(f, "<path d=\"M%u %ul-5 -8h10z\"/>\n", x, y + 4);
        break;
    case SIM_SVG_MARK_CRASH: /* cross */
        fprintf(f, "<path d=\"M%u %ul8 8m0 -8l-8 8\"/>\n", x - 4, y - 4);
        break;
    case SIM_SVG_MARK_RESTART: /* triangle pointing right */
        fprintf(f, "<path d=\"M%u %ul8 4.5l-8 4.5z\"/>\n", x - 3, y - 4);
        break;
    case SIM_SVG_MARK_INSTALL: /* square */
        fprintf(f, "<rect x=\"%u\" y=\"%u\" width=\"7\" height=\"7\"/>\n",
                x - 3, y - 3);
        break;
    case SIM_SVG_MARK_PAUSE: /* two bars */
        fprintf(f, "<path d=\"M%u %uh3v9h-3zm5 0h3v9h-3z\"/>\n", x - 4, y - 4);
        break;
    case SIM_SVG_MARK_RESUME: /* a bar and a triangle */
        fprintf(f, "<path d=\"M%u %uh2v9h-2zm4 0l5 4.5l-5 4.5z\"/>\n", x - 4,
                y - 4);
        break;
    default: /* SIM_SVG_MARK_STRIKE: a bolt */
        fprintf(f, "<path d=\"M%u %ul-5 7h4l-2 6l6 -8h-4l2 -5z\"/>\n", x + 1,
                y - 6);
        break;
    }
}

/* Per pixel column of one lane: the state and commit index it shows. */
struct sim_svg_cols {
    uint8_t state[SIM_SVG_PLOT];
    uint8_t links[SIM_SVG_PLOT];
    raft_index commit[SIM_SVG_PLOT];
};

static void sim_svg_sample(const struct sim_svg_geom *gm,
                           const struct sim_svg_lane *ln,
                           struct sim_svg_cols *cols)
{
    size_t i = 0, j = 0;
    for (unsigned c = 0; c < SIM_SVG_PLOT; c++) {
        uint64_t t = sim_svg_col_step(gm, c);
        while (i + 1 < ln->span_len && ln->span[i + 1].at <= t)
            i++;
        while (j + 1 < ln->commit_len && ln->commit[j + 1].at <= t)
            j++;
        struct sim_svg_span x = i < ln->span_len ? ln->span[i]
                                                 : sim_svg_current(ln);
        cols->state[c] = x.state;
        cols->links[c] = x.links;
        cols->commit[c] = j < ln->commit_len ? ln->commit[j].commit
                                             : SIM_SVG_NO_COMMIT;
    }
}

/* One rectangle per run of columns in which v[] equals `want`. */
static void sim_svg_runs(FILE *f, const uint8_t *v, uint8_t want,
                         unsigned y, unsigned h)
{
    for (unsigned c = 0; c < SIM_SVG_PLOT;) {
        if (v[c] != want) {
            c++;
            continue;
        }
        unsigned e = c;
        while (e < SIM_SVG_PLOT && v[e] == want)
            e++;
        fprintf(f, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\"/>\n",
                SIM_SVG_LEFT + c, y, e - c, h);
        c = e;
    }
}

static bool sim_svg_has(const uint8_t *v, uint8_t want)
{
    for (unsigned c = 0; c < SIM_SVG_PLOT; c++)
        if (v[c] == want)
            return true;
    return false;
}

static double sim_svg_commit_y(const struct sim_svg_geom *gm, unsigned y0,
                               raft_index c)
{
    double top = y0 + SIM_SVG_BAND_Y + 2.0;
    double bottom = y0 + SIM_SVG_BAND_Y + SIM_SVG_BAND_H - 1.5;
    if (gm->max_commit == 0)
        return bottom;
    return bottom - (bottom - top) * (double)c / (double)gm->max_commit;
}

/* The commit index as a staircase over the role band: at the bottom for
 * 0, at the top for the run's highest commit index, broken while down. */
static void sim_svg_commit_line(FILE *f, const struct sim_svg_geom *gm,
                                const struct sim_svg_cols *cols, unsigned y0)
{
    bool open = false, any = false;
    raft_index prev = 0;
    for (unsigned c = 0; c < SIM_SVG_PLOT; c++) {
        raft_index v = cols->commit[c];
        unsigned x = SIM_SVG_LEFT + c;
        if (v == SIM_SVG_NO_COMMIT) {
            if (open)
                fprintf(f, "H%u", x);
            open = false;
            continue;
        }
        if (!any)
            fprintf(f, "<path d=\"");
        any = true;
        if (!open)
            fprintf(f, "M%u %.1f", x, sim_svg_commit_y(gm, y0, v));
        else if (v != prev)
            fprintf(f, "H%uV%.1f", x, sim_svg_commit_y(gm, y0, v));
        open = true;
        prev = v;
    }
    if (open)
        fprintf(f, "H%u", SIM_SVG_LEFT + SIM_SVG_PLOT);
    if (any)
        fprintf(f, "\" fill=\"none\" stroke=\"" SIM_SVG_COMMIT_STROKE
                "\" stroke-width=\"1.2\"/>\n");
}

/* Term labels where the term changes (if there is room since the last
 * label), and a thin white line through the band at each change. */
static void sim_svg_terms(FILE *f, const struct sim_svg_geom *gm,
                          const struct sim_svg_lane *ln, unsigned y0)
{
    unsigned label_end = 0, last_x = 0;
    bool any_line = false;
    for (size_t pass = 0; pass < 2; pass++) {
        raft_term term = 0;
        for (size_t i = 0; i < ln->span_len; i++) {
            const struct sim_svg_span *x = &ln->span[i];
            if (i > 0 && (x->term == term || x->state == SIM_SVG_DOWN))
                continue;
            term = x->term;
            unsigned px = sim_svg_x(gm, x->at);
            if (pass == 0 && px >= label_end) {
                char buf[32];
                int len = snprintf(buf, sizeof buf, "t%llu", sim_ull(term));
                fprintf(f, "<text x=\"%u\" y=\"%u\" font-size=\"9\" "
                        "fill=\"#333333\">%s</text>\n", px + 1,
                        y0 + SIM_SVG_TERM_Y, buf);
                label_end = px + 1 + 5 * (unsigned)len + 3;
            } else if (pass == 1 && i > 0 &&
                       (!any_line || px >= last_x + SIM_SVG_MARK_GAP)) {
                if (!any_line)
                    fprintf(f, "<path d=\"");
                any_line = true;
                fprintf(f, "M%u %uv%u", px, y0 + SIM_SVG_BAND_Y,
                        SIM_SVG_BAND_H);
                last_x = px;
            }
        }
    }
    if (any_line)
        fprintf(f, "\" stroke=\"#ffffff\" stroke-width=\"1\"/>\n");
}

/* The node's marks, a group per kind; marks of a kind closer than
 * SIM_SVG_MARK_GAP pixels to the last one drawn are left out. Won
 * elections go on top: a strike often follows at once. */
static void sim_svg_marks(FILE *f, const struct sim *s,
                          const struct sim_svg_geom *gm, raft_id id,
                          unsigned y0)
{
    static const int order[SIM_SVG_MARK_COUNT] = {
        SIM_SVG_MARK_CANDIDATE, SIM_SVG_MARK_CRASH, SIM_SVG_MARK_RESTART,
        SIM_SVG_MARK_STRIKE, SIM_SVG_MARK_INSTALL, SIM_SVG_MARK_PAUSE,
        SIM_SVG_MARK_RESUME, SIM_SVG_MARK_LEADER};
    const struct sim_svg *g = s->svg;
    for (int k = 0; k < SIM_SVG_MARK_COUNT; k++) {
        int kind = order[k];
        bool any = false;
        unsigned last = 0;
        for (size_t i = 0; i < g->mark_len; i++) {
            const struct sim_svg_mark *m = &g->mark[i];
            if (m->id != id || m->kind != kind)
                continue;
            unsigned x = sim_svg_x(gm, m->at);
            if (any && x < last + SIM_SVG_MARK_GAP)
                continue;
            if (!any)
                fprintf(f, "<g %s>\n", sim_svg_mark_group[kind]);
            any = true;
            last = x;
            sim_svg_glyph(f, kind, x, y0 + SIM_SVG_MARK_Y);
        }
        if (any)
            fprintf(f, "</g>\n");
    }
}

static void sim_svg_lane(FILE *f, const struct sim *s,
                         const struct sim_svg_geom *gm, unsigned k,
                         struct sim_svg_cols *cols)
{
    const struct sim_node *nd = &s->nodes[k];
    const struct sim_svg_lane *ln = &s->svg->lane[k];
    unsigned y0 = SIM_SVG_TOP + k * SIM_SVG_LANE;
    unsigned band = y0 + SIM_SVG_BAND_Y;
    sim_svg_sample(gm, ln, cols);
    fprintf(f, "<g id=\"node-%u\">\n", k + 1);
    fprintf(f, "<text x=\"8\" y=\"%u\" font-size=\"13\" font-weight=\"bold\" "
            "fill=\"#000000\">node %u</text>\n", band + 12, k + 1);
    char info[64], clock[24] = "";
    if (s->skewed)
        snprintf(clock, sizeof clock, ", clock %u/%u", nd->rate_num,
                 nd->rate_den);
    snprintf(info, sizeof info, "%s disk%s%s", nd->async ? "async" : "sync",
             clock, nd->id == s->slow_node ? ", slow links" : "");
    fprintf(f, "<text x=\"8\" y=\"%u\" font-size=\"9\" fill=\"#555555\">",
            band + 24);
    sim_svg_text(f, info, sizeof info);
    fprintf(f, "</text>\n");
    /* The follower colour underneath, the other states on top. */
    fprintf(f, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" "
            "fill=\"%s\"/>\n", SIM_SVG_LEFT, band, SIM_SVG_PLOT,
            SIM_SVG_BAND_H, sim_svg_state_fill[RAFT_FOLLOWER]);
    static const uint8_t over[4] = {RAFT_PRECANDIDATE, RAFT_CANDIDATE,
                                    RAFT_LEADER, SIM_SVG_DOWN};
    for (unsigned i = 0; i < 4; i++) {
        if (!sim_svg_has(cols->state, over[i]))
            continue;
        fprintf(f, "<g class=\"%s\" fill=\"%s\">\n",
                sim_svg_state_name[over[i]], sim_svg_state_fill[over[i]]);
        sim_svg_runs(f, cols->state, over[i], band, SIM_SVG_BAND_H);
        fprintf(f, "</g>\n");
    }
    for (uint8_t l = SIM_SVG_LINKS_SOME; l <= SIM_SVG_LINKS_ALL; l++) {
        if (!sim_svg_has(cols->links, l))
            continue;
        fprintf(f, "<g class=\"%s\" fill=\"%s\">\n",
                l == SIM_SVG_LINKS_SOME ? "cut" : "isolated",
                sim_svg_link_fill[l]);
        sim_svg_runs(f, cols->links, l, y0 + SIM_SVG_LINK_Y, SIM_SVG_LINK_H);
        fprintf(f, "</g>\n");
    }
    sim_svg_terms(f, gm, ln, y0);
    sim_svg_commit_line(f, gm, cols, y0);
    sim_svg_marks(f, s, gm, nd->id, y0);
    raft_index final = 0;
    for (size_t i = ln->commit_len; i-- > 0;)
        if (ln->commit[i].commit != SIM_SVG_NO_COMMIT) {
            final = ln->commit[i].commit;
            break;
        }
    fprintf(f, "<text x=\"%u\" y=\"%u\" font-size=\"10\" fill=\"#333333\">"
            "commit %llu</text>\n", SIM_SVG_LEFT + SIM_SVG_PLOT + 6,
            band + 14, sim_ull(final));
    fprintf(f, "</g>\n");
}

/* A round tick interval (1, 2 or 5 times a power of ten) giving at most
 * about ten ticks. */
static uint64_t sim_svg_tick(uint64_t steps)
{
    uint64_t p = 1;
    for (;;) {
        static const uint64_t m[3] = {1, 2, 5};
        for (unsigned i = 0; i < 3; i++)
            if (steps / (m[i] * p) <= 10)
                return m[i] * p;
        p *= 10;
    }
}

static void sim_svg_axis(FILE *f, const struct sim_svg_geom *gm,
                         unsigned lanes_top)
{
    uint64_t tick = sim_svg_tick(gm->steps);
    unsigned y = gm->axis_y;
    /* Light grid through the lanes, then the axis and its ticks. */
    fprintf(f, "<path d=\"");
    for (uint64_t t = tick; t < gm->steps; t += tick)
        fprintf(f, "M%u %uV%u", sim_svg_x(gm, t), lanes_top, y);
    fprintf(f, "\" stroke=\"#000000\" stroke-opacity=\"0.12\"/>\n");
    fprintf(f, "<path d=\"M%u %uH%u", SIM_SVG_LEFT, y,
            SIM_SVG_LEFT + SIM_SVG_PLOT);
    for (uint64_t t = 0; t <= gm->steps; t += tick)
        fprintf(f, "M%u %uv5", sim_svg_x(gm, t), y);
    fprintf(f, "\" stroke=\"#000000\"/>\n");
    for (uint64_t t = 0; t <= gm->steps; t += tick)
        fprintf(f, "<text x=\"%u\" y=\"%u\" font-size=\"10\" "
                "text-anchor=\"middle\">%llu</text>\n", sim_svg_x(gm, t),
                y + 16, sim_ull(t));
    fprintf(f, "<text x=\"%u\" y=\"%u\" font-size=\"11\" "
            "text-anchor=\"end\">global step (each node ticks at its clock "
            "rate)</text>\n", SIM_SVG_LEFT + SIM_SVG_PLOT, y + 30);
}

/* A vertical line across every lane, with its label above them. */
static void sim_svg_vline(FILE *f, const struct sim_svg_geom *gm, unsigned x,
                          const char *stroke, const char *dash,
                          const char *label)
{
    fprintf(f, "<path d=\"M%u %uV%u\" stroke=\"%s\" stroke-width=\"1.5\" "
            "stroke-dasharray=\"%s\"/>\n", x, SIM_SVG_TOP - 12, gm->axis_y,
            stroke, dash);
    fprintf(f, "<text x=\"%u\" y=\"%u\" font-size=\"11\" fill=\"%s\">%s"
            "</text>\n", x + 3, SIM_SVG_TOP - 4, stroke, label);
}

static void sim_svg_swatch(FILE *f, unsigned *x, unsigned y,
                           const char *fill, unsigned h, const char *name)
{
    fprintf(f, "<rect x=\"%u\" y=\"%u\" width=\"18\" height=\"%u\" "
            "fill=\"%s\" stroke=\"#888888\" stroke-width=\"0.5\"/>\n", *x,
            y + 6 - h / 2, h, fill);
    fprintf(f, "<text x=\"%u\" y=\"%u\" font-size=\"11\">%s</text>\n",
            *x + 23, y + 10, name);
    *x += 23 + 6 * (unsigned)strlen(name) + 18;
}

static void sim_svg_legend(FILE *f, const struct sim_svg_geom *gm)
{
    unsigned y = gm->axis_y + 44, x = SIM_SVG_LEFT;
    fprintf(f, "<g id=\"legend\">\n");
    fprintf(f, "<text x=\"8\" y=\"%u\" font-size=\"11\" "
            "font-weight=\"bold\">legend</text>\n", y + 10);
    for (unsigned i = 1; i <= 4; i++)
        sim_svg_swatch(f, &x, y, sim_svg_state_fill[i], 12,
                       sim_svg_state_name[i]);
    sim_svg_swatch(f, &x, y, sim_svg_state_fill[SIM_SVG_DOWN], 12,
                   sim_svg_state_name[SIM_SVG_DOWN]);
    for (unsigned l = SIM_SVG_LINKS_SOME; l <= SIM_SVG_LINKS_ALL; l++)
        sim_svg_swatch(f, &x, y, sim_svg_link_fill[l], SIM_SVG_LINK_H,
                       sim_svg_link_name[l]);
    y += 20;
    x = SIM_SVG_LEFT;
    for (int k = 0; k < SIM_SVG_MARK_COUNT; k++) {
        if (k == SIM_SVG_MARK_PAUSE) { /* the rest on a line of its own */
            y += 20;
            x = SIM_SVG_LEFT;
        }
        fprintf(f, "<g %s>\n", sim_svg_mark_group[k]);
        sim_svg_glyph(f, k, x + 5, y + 6);
        fprintf(f, "</g>\n");
        fprintf(f, "<text x=\"%u\" y=\"%u\" font-size=\"11\">%s</text>\n",
                x + 14, y + 10, sim_svg_mark_name[k]);
        x += 14 + 6 * (unsigned)strlen(sim_svg_mark_name[k]) + 18;
    }
    fprintf(f, "<text x=\"%u\" y=\"%u\" font-size=\"11\" "
            "fill=\"#333333\">t7: term</text>\n", x, y + 10);
    x += 72;
    fprintf(f, "<path d=\"M%u %uh8v-8h10\" fill=\"none\" stroke=\""
            SIM_SVG_COMMIT_STROKE "\" stroke-width=\"1.2\"/>\n", x, y + 10);
    fprintf(f, "<text x=\"%u\" y=\"%u\" font-size=\"11\">commit index (0 "
            "to %llu)</text>\n", x + 23, y + 10, sim_ull(gm->max_commit));
    fprintf(f, "</g>\n");
}

void sim_svg_write(struct sim *s, FILE *f)
{
    const struct sim_svg *g = s->svg;
    struct sim_svg_geom gm;
    gm.steps = s->now > 0 ? s->now : 1;
    gm.max_commit = 0;
    for (unsigned k = 0; k < s->n; k++)
        for (size_t i = 0; i < g->lane[k].commit_len; i++) {
            raft_index c = g->lane[k].commit[i].commit;
            if (c != SIM_SVG_NO_COMMIT && c > gm.max_commit)
                gm.max_commit = c;
        }
    gm.axis_y = SIM_SVG_TOP + s->n * SIM_SVG_LANE + 2;
    gm.width = SIM_SVG_LEFT + SIM_SVG_PLOT + SIM_SVG_RIGHT;
    gm.height = gm.axis_y + 110;

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
            "width=\"%u\" height=\"%u\" viewBox=\"0 0 %u %u\" "
            "font-family=\"sans-serif\" data-nodes=\"%u\">\n", gm.width,
            gm.height, gm.width, gm.height, s->n);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" "
            "fill=\"#ffffff\"/>\n", gm.width, gm.height);
    char head[256];
    snprintf(head, sizeof head, "%s%s%u nodes, %llu steps, %llu events; "
             "election %u ticks, heartbeat %u; %s persistence; %s: %s",
             s->opts->svg_label != NULL ? s->opts->svg_label : "",
             s->opts->svg_label != NULL ? ": " : "", s->n,
             sim_ull(s->now), sim_ull(s->event), s->cfg.election_ticks,
             s->cfg.heartbeat_ticks,
             s->persist_mode == SIM_PERSIST_SYNC    ? "synchronous"
             : s->persist_mode == SIM_PERSIST_ASYNC ? "asynchronous"
                                                    : "mixed",
             s->nem.on ? "leader-churn nemesis" : "random faults",
             s->failed ? "FAIL" : "pass");
    fprintf(f, "<text x=\"8\" y=\"18\" font-size=\"14\" "
            "font-weight=\"bold\">");
    sim_svg_text(f, head, sizeof head);
    fprintf(f, "</text>\n");
    if (s->failed && s->errlen > 0) {
        fprintf(f, "<text x=\"8\" y=\"34\" font-size=\"11\" fill=\""
                SIM_SVG_FAIL_STROKE "\">FAIL ");
        sim_svg_text(f, s->err, SIM_SVG_ERR_MAX);
        fprintf(f, "%s</text>\n",
                strlen(s->err) > SIM_SVG_ERR_MAX ? " ..." : "");
    }
    fprintf(f, "<text x=\"%u\" y=\"%u\" font-size=\"11\" fill=\"#555555\">"
            "fault phase</text>\n", SIM_SVG_LEFT + 3, SIM_SVG_TOP - 4);

    struct sim_svg_cols cols; /* about 10 KB */
    for (unsigned k = 0; k < s->n; k++)
        sim_svg_lane(f, s, &gm, k, &cols);
    sim_svg_axis(f, &gm, SIM_SVG_TOP);
    if (g->heal)
        sim_svg_vline(f, &gm, sim_svg_x(&gm, g->heal_at),
                      SIM_SVG_HEAL_STROKE, "5 3", "heal phase");
    if (g->failed)
        sim_svg_vline(f, &gm, sim_svg_x(&gm, g->fail_at),
                      SIM_SVG_FAIL_STROKE, "2 2", "FAIL");
    sim_svg_legend(f, &gm);
    fprintf(f, "</svg>\n");
}
