/*
 * sim_fig_conf.c - membership figures (`sim --conf-figures`): how long
 * clients cannot write during a leadership transfer and during the
 * replacement of a voter.
 *
 * Each run is a fault-free cluster of the simulator (every safety check
 * still runs): election_ticks 10, heartbeat_ticks 1, every clock at one
 * tick per step, latency 1..2 steps, FIFO links, synchronous disks, n
 * voters and one spare node started empty (raft_join). Every step a client
 * proposes one command to the leader of the highest term (a refusal is
 * retried at the next step). Once a leader has held SIM_FC_SETTLE steps
 * the scenario starts:
 *   quiet:     nothing happens (the baseline);
 *   crash:     the leader crashes for good (an election, for comparison);
 *   transfer:  the leader hands over to a follower
 *              (raft_transfer_leadership);
 *   replace:   the spare X replaces a voter Y, the way an operator does it:
 *              add X as a learner, wait until it has caught up (its match
 *              reaches the leader's commit index), promote it, remove Y.
 *              Y is a live follower, a follower that crashed for good at
 *              the start (a dead machine), or the leader itself (which
 *              hands over once its removal commits).
 * The scenario is done once its last step is in force: a new leader has
 * committed a command (crash, transfer), or the leader's committed
 * configuration no longer has Y (replace). Unavailability is the longest
 * run of consecutive steps (= ticks) in which no command committed, from
 * the start of the scenario to SIM_FC_AFTER steps after it is done.
 */
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

#define SIM_FC_ELECTION 10
#define SIM_FC_HEARTBEAT 1
#define SIM_FC_SETTLE 50
#define SIM_FC_WARMUP 2000 /* steps allowed for the first leader */
#define SIM_FC_QUIET 200   /* the quiet scenario's window */
#define SIM_FC_AFTER 20    /* steps measured after a scenario is done */
#define SIM_FC_LIMIT 3000  /* steps a scenario may take */

enum {
    SIM_FC_QUIET_RUN,
    SIM_FC_CRASH,
    SIM_FC_TRANSFER,
    SIM_FC_REPLACE,
    SIM_FC_REPLACE_DEAD,
    SIM_FC_REPLACE_LEADER,
    SIM_FC_COUNT
};

struct sim_fc_result {
    uint64_t gap;  /* longest run of steps without a command committed */
    uint64_t span; /* steps from the start to done */
};

/* The running leader of the highest term, or NULL. */
static struct sim_node *sim_fc_leader(struct sim *s)
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

/* One step: time, deliveries, a client proposal; counts the run of steps
 * without a committed command. */
static void sim_fc_step(struct sim *s, uint64_t *run, uint64_t *gap)
{
    uint64_t before = s->cmds_committed;
    sim_time_step(s);
    sim_net_deliver_due(s);
    struct sim_node *l = sim_fc_leader(s);
    if (l != NULL && !s->failed && !s->oom)
        sim_node_propose(l);
    *run = s->cmds_committed > before ? 0 : *run + 1;
    if (*run > *gap)
        *gap = *run;
}

/* The spare's progress, seen from leader l: has it caught up? */
static bool sim_fc_caught_up(struct sim_node *l, raft_id x)
{
    struct raft_status st;
    struct raft_progress p;
    raft_status(l->r, &st);
    for (size_t i = 0; raft_progress(l->r, i, &p) == 0; i++)
        if (p.id == x)
            return p.match >= st.commit;
    return false;
}

/* Replacement done: the leader's committed configuration is settled and
 * has X as a voter and no Y. */
static bool sim_fc_replaced(struct sim_node *l, raft_id x, raft_id y)
{
    struct sim_conf c;
    return l != NULL && sim_conf_settled(l, &c) && c.fl[y] == 0 &&
           c.fl[x] == RAFT_MEMBER_VOTER;
}

static int sim_fc_run(int scenario, unsigned n, uint64_t seed,
                      struct sim_fc_result *res, char *err, size_t errlen)
{
    static const struct sim_opts opts; /* all defaults */
    struct sim_rng g;
    struct sim *s = calloc(1, sizeof *s);
    memset(res, 0, sizeof *res);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return SIM_ERROR;
    }
    sim_rng_init(&g, seed * 1000003u + (uint64_t)scenario * 131u + n * 7u);
    sim_rng_chooser(&g, &s->ch);
    s->opts = &opts;
    s->err = err;
    s->errlen = errlen;
    s->faults_on = false; /* latency 1..2, FIFO links, nothing injected */
    s->catchup = true;
    s->n_boot = n;
    s->n = n + 1; /* the spare */
    s->persist_mode = SIM_PERSIST_SYNC;
    s->cfg.election_ticks = SIM_FC_ELECTION;
    s->cfg.heartbeat_ticks = SIM_FC_HEARTBEAT;
    for (unsigned i = 0; i < n; i++)
        s->voters[i] = i + 1;
    for (unsigned i = 0; i < s->n && !s->failed && !s->oom; i++)
        sim_node_init(s, &s->nodes[i], i + 1, true);
    uint64_t settle = 0, run = 0, gap = 0;
    struct sim_node *l = NULL;
    for (uint64_t k = 0; k < SIM_FC_WARMUP && settle < SIM_FC_SETTLE &&
                         !s->failed && !s->oom;
         k++) {
        sim_fc_step(s, &run, &gap);
        struct sim_node *now = sim_fc_leader(s);
        settle = now != NULL && now == l ? settle + 1 : 0;
        l = now;
    }
    int rc = SIM_PASS;
    if (s->failed || s->oom || l == NULL || settle < SIM_FC_SETTLE) {
        if (!s->failed)
            snprintf(err, errlen, "no stable leader before the scenario");
        rc = s->failed ? SIM_FAIL : SIM_ERROR;
        goto out;
    }
    raft_id x = n + 1;                       /* the spare */
    raft_id y = l->id == n ? n - 1 : n;      /* a follower */
    if (scenario == SIM_FC_REPLACE_LEADER)
        y = l->id;
    raft_term t0 = raft_current_term(l->r);
    uint64_t mark = UINT64_MAX;
    int phase = 0;
    uint64_t done = 0, k;
    run = gap = 0;
    if (scenario == SIM_FC_CRASH)
        sim_node_crash(l);
    else if (scenario == SIM_FC_REPLACE_DEAD)
        sim_node_crash(&s->nodes[y - 1]);
    for (k = 1; k <= SIM_FC_LIMIT && !s->failed && !s->oom; k++) {
        struct sim_node *cur = sim_fc_leader(s);
        struct raft_change ch;
        if (done == 0 && cur != NULL) {
            switch (scenario) {
            case SIM_FC_QUIET_RUN:
                if (k >= SIM_FC_QUIET)
                    done = k;
                break;
            case SIM_FC_TRANSFER:
            case SIM_FC_CRASH:
                if (scenario == SIM_FC_TRANSFER && phase == 0) {
                    phase = sim_conf_transfer(cur, cur->id == n ? n - 1 : n) == 0;
                    break;
                }
                /* Then a new leader, and a command it committed. */
                if (raft_current_term(cur->r) > t0 && mark == UINT64_MAX)
                    mark = s->cmds_committed;
                if (mark != UINT64_MAX && s->cmds_committed > mark)
                    done = k;
                break;
            default: /* the replacements */
                if (phase == 0) {
                    ch = (struct raft_change){RAFT_CHANGE_ADD_LEARNER, x};
                    phase += sim_conf_change(cur, &ch, 1, RAFT_JOINT_AUTO,
                                             false, false) == 0;
                } else if (phase == 1) {
                    phase += sim_fc_caught_up(cur, x);
                } else if (phase == 2) {
                    ch = (struct raft_change){RAFT_CHANGE_ADD_VOTER, x};
                    phase += sim_conf_change(cur, &ch, 1, RAFT_JOINT_AUTO,
                                             false, false) == 0;
                } else if (phase == 3) {
                    ch = (struct raft_change){RAFT_CHANGE_REMOVE, y};
                    phase += sim_conf_change(cur, &ch, 1, RAFT_JOINT_AUTO,
                                             false, false) == 0;
                } else if (sim_fc_replaced(cur, x, y)) {
                    done = k;
                }
                break;
            }
        }
        if (s->failed || s->oom)
            break;
        sim_fc_step(s, &run, &gap);
        if (done != 0 && k >= done + SIM_FC_AFTER)
            break;
    }
    res->gap = gap;
    res->span = done != 0 ? done : SIM_FC_LIMIT;
    rc = s->failed ? SIM_FAIL : s->oom ? SIM_ERROR : SIM_PASS;
    if (rc == SIM_PASS && done == 0) {
        snprintf(err, errlen, "the scenario did not complete within %d steps",
                 SIM_FC_LIMIT);
        rc = SIM_ERROR;
    }
out:
    sim_teardown(s);
    if (s->failed)
        rc = SIM_FAIL;
    free(s);
    return rc;
}

int sim_conf_figures(FILE *out, unsigned seeds)
{
    static const char *const names[SIM_FC_COUNT] = {
        "quiet (baseline)", "leader crash (election)", "leadership transfer",
        "replace a follower", "replace a dead follower", "replace the leader"};
    char err[1024];
    int failed = 0;
    uint64_t *v[2];
    if (seeds == 0)
        seeds = 1;
    for (int i = 0; i < 2; i++) {
        v[i] = calloc(seeds, sizeof *v[i]);
        if (v[i] == NULL) {
            free(v[0]);
            return SIM_ERROR;
        }
    }
    fprintf(out,
            "Membership figures: election_ticks %d (randomized up to %d), "
            "heartbeat_ticks %d, one tick per step, latency 1..2 steps, a "
            "proposal every step; %u seeds per row, median / max.\n"
            "  unavailable: the longest run of ticks in which no command "
            "committed, from the start of the scenario to %d ticks after "
            "it is done\n"
            "  duration: ticks from the start to done (a new leader "
            "committed; the replaced voter is out of the committed "
            "configuration)\n\n",
            SIM_FC_ELECTION, SIM_FC_ELECTION + SIM_FC_ELECTION / 4,
            SIM_FC_HEARTBEAT, seeds, SIM_FC_AFTER);
    fprintf(out, "%-26s %5s  %-16s %s\n", "scenario", "nodes",
            "unavailable", "duration");
    for (int sc = 0; sc < SIM_FC_COUNT; sc++) {
        for (unsigned n = 3; n <= 5; n += 2) {
            unsigned k = 0;
            for (unsigned seed = 0; seed < seeds; seed++) {
                struct sim_fc_result r;
                int rc = sim_fc_run(sc, n, seed, &r, err, sizeof err);
                if (rc != SIM_PASS) {
                    fprintf(out, "conf figures: %s, %u nodes, seed %u: %s: "
                            "%s\n", names[sc], n, seed,
                            rc == SIM_FAIL ? "FAIL" : "ERROR", err);
                    failed = 1;
                    continue;
                }
                v[0][k] = r.gap;
                v[1][k] = r.span;
                k++;
            }
            if (k == 0)
                continue;
            char c[2][40];
            sim_fig_cell(c[0], sizeof c[0], v[0], k, 0);
            sim_fig_cell(c[1], sizeof c[1], v[1], k, 0);
            fprintf(out, "%-26s %5u  %-16s %s\n", names[sc], n, c[0], c[1]);
        }
    }
    free(v[0]);
    free(v[1]);
    return failed ? SIM_FAIL : SIM_PASS;
}
