/*
 * sim_figures.c - election figures with PreVote and CheckQuorum on and off
 * (`sim --figures`, `make bench-elections`).
 *
 * Each run is a fault-free cluster of the simulator (every safety check
 * still runs) with one scripted fault: election_ticks 10, heartbeat_ticks
 * 1, every clock at one tick per step, latency 1..2 steps, FIFO links,
 * synchronous disks, and one client proposal every SIM_FIG_PROPOSE_EVERY
 * steps to the leader of the highest term. A run first waits for a leader
 * (SIM_FIG_SETTLE steps after one appears), then applies its fault:
 *   A: a follower X can send but not receive, for SIM_FIG_WINDOW steps;
 *   B: a follower X is cut off from everyone for SIM_FIG_ISOLATE steps,
 *      then rejoins; measured over SIM_FIG_WINDOW steps;
 *   C: the leader X is cut off from everyone (both directions) for
 *      SIM_FIG_C_WINDOW steps; every step a client proposes to it.
 * The run is deterministic: a seed fixes everything.
 */
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

#define SIM_FIG_ELECTION 10
#define SIM_FIG_HEARTBEAT 1
#define SIM_FIG_PROPOSE_EVERY 5
#define SIM_FIG_SETTLE 50
#define SIM_FIG_WARMUP 2000 /* steps allowed for the first leader */
#define SIM_FIG_WINDOW 2000
#define SIM_FIG_ISOLATE 200
#define SIM_FIG_C_WINDOW 1000

enum { SIM_FIG_A, SIM_FIG_B, SIM_FIG_C };

struct sim_fig_result {
    uint64_t no_leader; /* steps without a majority-backed leader */
    uint64_t x_elections;
    uint64_t depositions;
    uint64_t max_term;
    uint64_t accepting; /* C: steps after the cut X still accepted */
};

/* A leader followed (same term, raft_leader() naming it) by a majority,
 * itself included. */
static bool sim_fig_led(const struct sim *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        const struct sim_node *l = &s->nodes[i];
        if (!sim_node_alive(l) || raft_role(l->r) != RAFT_LEADER)
            continue;
        raft_term t = raft_current_term(l->r);
        unsigned k = 0;
        for (unsigned j = 0; j < s->n; j++) {
            const struct sim_node *f = &s->nodes[j];
            k += sim_node_alive(f) && raft_current_term(f->r) == t &&
                 raft_leader(f->r) == l->id;
        }
        if (k >= s->n / 2 + 1)
            return true;
    }
    return false;
}

/* The leader of the highest term, or NULL. */
static struct sim_node *sim_fig_leader(struct sim *s)
{
    struct sim_node *best = NULL;
    for (unsigned i = 0; i < s->n; i++) {
        struct sim_node *nd = &s->nodes[i];
        if (sim_node_alive(nd) && raft_role(nd->r) == RAFT_LEADER &&
            (best == NULL ||
             raft_current_term(nd->r) > raft_current_term(best->r)))
            best = nd;
    }
    return best;
}

static void sim_fig_step(struct sim *s)
{
    sim_time_step(s);
    sim_net_deliver_due(s);
    if (s->now % SIM_FIG_PROPOSE_EVERY == 0 && !s->failed && !s->oom) {
        struct sim_node *l = sim_fig_leader(s);
        if (l != NULL)
            sim_node_propose(l);
    }
}

static void sim_fig_isolate(struct sim *s, raft_id x, bool in, bool out)
{
    for (unsigned b = 1; b <= s->n; b++) {
        if (b == x)
            continue;
        s->cut[b][x] = in;
        s->cut[x][b] = out;
    }
}

/* One run; returns SIM_PASS, or SIM_FAIL / SIM_ERROR with err set. */
static int sim_fig_run(int scenario, unsigned n, bool on, uint64_t seed,
                       struct sim_fig_result *res, char *err, size_t errlen)
{
    static const struct sim_opts opts; /* all defaults */
    struct sim_rng g;
    struct sim *s = calloc(1, sizeof *s);
    memset(res, 0, sizeof *res);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return SIM_ERROR;
    }
    sim_rng_init(&g, seed * 1000003u + (uint64_t)scenario * 97u + n * 7u + on);
    sim_rng_chooser(&g, &s->ch);
    s->opts = &opts;
    s->err = err;
    s->errlen = errlen;
    s->faults_on = false; /* latency 1..2, FIFO links, nothing injected */
    s->catchup = true;
    s->n = n;
    s->persist_mode = SIM_PERSIST_SYNC;
    s->cfg.election_ticks = SIM_FIG_ELECTION;
    s->cfg.heartbeat_ticks = SIM_FIG_HEARTBEAT;
    s->cfg.disable_pre_vote = !on;
    s->cfg.disable_check_quorum = !on;
    s->n_boot = n;
    for (unsigned i = 0; i < n; i++)
        s->voters[i] = i + 1;
    for (unsigned i = 0; i < n && !s->failed && !s->oom; i++)
        sim_node_init(s, &s->nodes[i], i + 1, true);
    uint64_t settle = 0;
    for (uint64_t k = 0; k < SIM_FIG_WARMUP && settle < SIM_FIG_SETTLE &&
                         !s->failed && !s->oom;
         k++) {
        sim_fig_step(s);
        settle = sim_fig_led(s) ? settle + 1 : 0;
    }
    struct sim_node *l = sim_fig_leader(s);
    int rc = SIM_PASS;
    if (s->failed || s->oom || l == NULL || settle < SIM_FIG_SETTLE) {
        if (!s->failed)
            snprintf(err, errlen, "no stable leader before the fault");
        rc = s->failed ? SIM_FAIL : SIM_ERROR;
        goto out;
    }
    /* X: the leader (C), or the follower with the highest id. */
    raft_id x = l->id;
    if (scenario != SIM_FIG_C)
        x = l->id == n ? n - 1 : n;
    struct sim_node *xn = &s->nodes[x - 1];
    uint64_t window = scenario == SIM_FIG_C ? SIM_FIG_C_WINDOW : SIM_FIG_WINDOW;
    raft_term xterm = raft_current_term(xn->r);
    bool led = true;
    sim_fig_isolate(s, x, true, scenario != SIM_FIG_A);
    for (uint64_t k = 1; k <= window && !s->failed && !s->oom; k++) {
        if (scenario == SIM_FIG_B && k == SIM_FIG_ISOLATE + 1)
            sim_fig_isolate(s, x, false, false);
        sim_fig_step(s);
        if (scenario == SIM_FIG_C) {
            raft_index idx;
            uint64_t hash;
            if (raft_role(xn->r) == RAFT_LEADER &&
                sim_node_propose_probe(xn, &idx, &hash) == 0)
                res->accepting = k;
            continue;
        }
        bool now_led = sim_fig_led(s);
        res->no_leader += !now_led;
        res->depositions += led && !now_led;
        led = now_led;
        raft_term t = raft_current_term(xn->r);
        if (t > xterm && raft_role(xn->r) == RAFT_CANDIDATE)
            res->x_elections += t - xterm;
        xterm = t;
    }
    for (unsigned i = 0; i < n; i++)
        if (sim_node_alive(&s->nodes[i]) &&
            raft_current_term(s->nodes[i].r) > res->max_term)
            res->max_term = raft_current_term(s->nodes[i].r);
    rc = s->failed ? SIM_FAIL : s->oom ? SIM_ERROR : SIM_PASS;
out:
    sim_teardown(s);
    if (s->failed)
        rc = SIM_FAIL;
    free(s);
    return rc;
}

static int sim_fig_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void sim_fig_cell(char *buf, size_t len, uint64_t *v, unsigned k, uint64_t cap)
{
    qsort(v, k, sizeof *v, sim_fig_cmp);
    uint64_t med = v[k / 2], max = v[k - 1];
    snprintf(buf, len, "%llu%s / %llu%s", (unsigned long long)med,
             cap && med >= cap ? "+" : "", (unsigned long long)max,
             cap && max >= cap ? "+" : "");
}

int sim_figures(FILE *out, unsigned seeds)
{
    static const char *const names[3] = {
        "A: X can send, not receive, 2000 ticks",
        "B: X isolated 200 ticks, then rejoins",
        "C: leader X cut off from everyone"};
    char err[512];
    int failed = 0;
    uint64_t *v[4];
    if (seeds == 0)
        seeds = 1;
    for (int i = 0; i < 4; i++) {
        v[i] = calloc(seeds, sizeof *v[i]);
        if (v[i] == NULL) {
            for (int j = 0; j < i; j++)
                free(v[j]);
            return SIM_ERROR;
        }
    }
    fprintf(out,
            "Election figures: election_ticks %d, heartbeat_ticks %d, one "
            "tick per step on every node, latency 1..2 steps, one proposal "
            "every %d steps; %u seeds per row, each cell median / max.\n"
            "  no-leader ticks: steps of the window at which no node leads "
            "its term with a majority (itself included) following it\n"
            "  X elections: real elections (term raised, as candidate) that "
            "the faulty node X started\n"
            "  depositions: times the cluster went from such a leader to none\n"
            "  accepting: C only, steps after the cut during which X still "
            "accepted proposals (+: through the whole %d-step window)\n\n",
            SIM_FIG_ELECTION, SIM_FIG_HEARTBEAT, SIM_FIG_PROPOSE_EVERY, seeds,
            SIM_FIG_C_WINDOW);
    fprintf(out, "%-40s %5s %6s  %-16s %-13s %-13s %-13s %s\n", "scenario",
            "nodes", "PV+CQ", "no-leader ticks", "X elections",
            "depositions", "max term", "accepting");
    for (int sc = SIM_FIG_A; sc <= SIM_FIG_C; sc++) {
        for (unsigned n = 3; n <= 5; n += 2) {
            for (int on = 1; on >= 0; on--) {
                unsigned k = 0;
                for (unsigned seed = 0; seed < seeds; seed++) {
                    struct sim_fig_result r;
                    int rc = sim_fig_run(sc, n, on, seed, &r, err, sizeof err);
                    if (rc != SIM_PASS) {
                        fprintf(out, "figures: scenario %c, %u nodes, %s, "
                                "seed %u: %s: %s\n", 'A' + sc, n,
                                on ? "on" : "off", seed,
                                rc == SIM_FAIL ? "FAIL" : "ERROR", err);
                        failed = 1;
                        continue;
                    }
                    v[0][k] = r.no_leader;
                    v[1][k] = r.x_elections;
                    v[2][k] = r.depositions;
                    v[3][k] = sc == SIM_FIG_C ? r.accepting : r.max_term;
                    k++;
                }
                if (k == 0)
                    continue;
                char c[4][40];
                if (sc == SIM_FIG_C) {
                    sim_fig_cell(c[3], sizeof c[3], v[3], k, SIM_FIG_C_WINDOW);
                    fprintf(out, "%-40s %5u %6s  %-16s %-13s %-13s %-13s %s\n",
                            names[sc], n, on ? "on" : "off", "-", "-", "-",
                            "-", c[3]);
                    continue;
                }
                for (int i = 0; i < 4; i++)
                    sim_fig_cell(c[i], sizeof c[i], v[i], k, 0);
                fprintf(out, "%-40s %5u %6s  %-16s %-13s %-13s %-13s %s\n",
                        names[sc], n, on ? "on" : "off", c[0], c[1], c[2],
                        c[3], "-");
            }
        }
    }
    for (int i = 0; i < 4; i++)
        free(v[i]);
    return failed ? SIM_FAIL : SIM_PASS;
}
