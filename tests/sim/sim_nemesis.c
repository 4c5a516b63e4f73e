/*
 * sim_nemesis.c - faults aimed at the leader ("leader churn").
 *
 * The random fault mix of sim.c rarely takes a leader down at the moment
 * that matters for the subtle histories of the Raft paper (Figure 8): a
 * leader whose entries reached only a minority loses leadership, another
 * leader writes different entries at those indexes, the first log wins
 * again and re-replicates its old-term entries, and loses leadership again
 * before an entry of its own term reaches a majority. The nemesis makes
 * such histories common. In the runs where it is enabled (drawn per run):
 *
 *   - when a node is first seen leading a term, when a leader's commit
 *     index advances, or when a leader accepts a proposal, a strike
 *     against that leader is scheduled a short random number of events
 *     later: in some strikes within 3 events (before the leader's
 *     messages leave, or right after it learnt of an acknowledgement),
 *     in the others spread over a few round trips, favouring short
 *     delays, so that strikes also land while entries are half
 *     replicated;
 *   - a new leader may get a burst of client proposals first, so that the
 *     logs of successive leaders diverge over several entries;
 *   - a strike, if the node still leads that term, is one of: isolate it
 *     (rotating: the previous isolation heals, so the rest of the cluster
 *     is whole again and old logs come back into elections), isolate it
 *     with a minority of followers, let it reach exactly one follower,
 *     cut its outgoing links only, crash it with a quick restart, or lose
 *     in one burst every message it has in flight except to one follower;
 *   - in half of those runs the random partitions, link cuts and crashes
 *     of sim.c are off, so that nothing heals or disturbs the churn at
 *     random (heals, restarts and everything else stay).
 *
 * Strikes are only scheduled from inside library calls (callbacks and the
 * checks after a call); they are carried out as events of their own by
 * sim_nemesis_step(), one at a time. Every choice goes through the
 * chooser, a zero choice disables the nemesis, and all of it is off in the
 * heal phase, whose liveness requirement is therefore unchanged.
 */
#include <stdio.h>
#include <string.h>

#include "sim_int.h"

static unsigned long long sim_ull(uint64_t x)
{
    return (unsigned long long)x;
}

static const char *const sim_nem_names[SIM_NEM_COUNT] = {
    "isolate", "isolate with a minority", "reach one follower",
    "mute outgoing links", "crash", "lose in-flight messages"};

void sim_nemesis_setup(struct sim *s)
{
    struct sim_nemesis *nm = &s->nem;
    memset(nm, 0, sizeof *nm);
    /* In a third of the runs, and with a zero choice, only the classic
     * mix of sim.c runs. */
    if (sim_choose(s, 3) == 0 || s->n < 2)
        return;
    nm->on = true;
    nm->alone = sim_choose(s, 2) == 0;
    if (nm->alone) {
        /* The nemesis alone partitions and crashes. */
        uint32_t *w = s->f.weight;
        s->f.weight_total -= w[SIM_EV_PARTITION] + w[SIM_EV_CUT] + w[SIM_EV_CRASH];
        w[SIM_EV_PARTITION] = w[SIM_EV_CUT] = w[SIM_EV_CRASH] = 0;
    }
    nm->on_elect = 1 + sim_choose(s, 2);     /* every or every other */
    nm->on_commit = 1 + sim_choose(s, 2);    /* commit advance likewise */
    nm->on_propose = sim_choose(s, 2) == 0 ? 0 : 5 + sim_choose(s, 46);
    nm->quick = 1 + sim_choose(s, 2);        /* all or half within 3 events */
    nm->span = 8 + sim_choose(s, 143);       /* the others within 8..150 */
    nm->burst = (unsigned)sim_choose(s, 49); /* 1..burst proposals on winning */
    nm->restart_span = 5 + sim_choose(s, 196);
    nm->mode_total = 0;
    for (int i = 0; i < SIM_NEM_COUNT; i++) {
        /* Each kind off in about a fifth of the runs, and isolation
         * (the plainest way to churn) never off. */
        uint32_t w = (uint32_t)sim_choose(s, 5);
        if (i == SIM_NEM_ISOLATE && w == 0)
            w = 1;
        nm->mode_weight[i] = w;
        nm->mode_total += w;
    }
    sim_tracef(s, "nemesis: strike 1 in %llu new leaders, 1 in %llu "
               "proposals, 1 in %llu commits, delay up to %llu events (1 in "
               "%llu at once), burst %u, restart within %llu events, modes "
               "%u/%u/%u/%u/%u/%u%s", sim_ull(nm->on_elect),
               sim_ull(nm->on_propose), sim_ull(nm->on_commit),
               sim_ull(nm->span), sim_ull(nm->quick), nm->burst,
               sim_ull(nm->restart_span), nm->mode_weight[0],
               nm->mode_weight[1], nm->mode_weight[2], nm->mode_weight[3],
               nm->mode_weight[4], nm->mode_weight[5],
               nm->alone ? ", no other partitions or crashes" : "");
}

static bool sim_nem_leads(struct sim *s, raft_id id, raft_term term)
{
    const struct sim_node *nd = &s->nodes[id - 1];
    return sim_node_alive(nd) && raft_role(nd->r) == RAFT_LEADER &&
           raft_current_term(nd->r) == term;
}

/* Delay in events: uniform below a bound that is itself uniform, so short
 * delays are the most likely but a few round trips remain common. */
static uint64_t sim_nem_delay(struct sim *s, uint64_t span)
{
    return sim_choose(s, 1 + sim_choose(s, span + 1));
}

static void sim_nem_schedule(struct sim_node *nd, raft_term term)
{
    struct sim *s = nd->sim;
    struct sim_nemesis *nm = &s->nem;
    if (nm->target != 0 && sim_nem_leads(s, nm->target, nm->term))
        return; /* one strike pending at a time */
    uint64_t x = sim_choose(s, nm->mode_total);
    int mode = 0;
    while (x >= nm->mode_weight[mode])
        x -= nm->mode_weight[mode++];
    nm->target = nd->id;
    nm->term = term;
    nm->mode = mode;
    nm->at = s->event + (sim_one_in(s, nm->quick) ? sim_choose(s, 4)
                                                  : sim_nem_delay(s, nm->span));
    sim_tracef(s, "  nemesis: strike (%s) on leader %llu of term %llu due "
               "at event %llu", sim_nem_names[mode], sim_ull(nd->id),
               sim_ull(term), sim_ull(nm->at));
}

/* Called when nd is first seen leading `term` (possibly inside a call). */
void sim_nemesis_on_leader(struct sim_node *nd, raft_term term)
{
    struct sim *s = nd->sim;
    struct sim_nemesis *nm = &s->nem;
    if (!nm->on || !s->faults_on)
        return;
    if (nm->burst > 0) {
        nm->burst_id = nd->id;
        nm->burst_term = term;
        nm->burst_left = 1 + (unsigned)sim_choose(s, nm->burst);
    }
    if (sim_one_in(s, nm->on_elect))
        sim_nem_schedule(nd, term);
}

/* Called when leader nd accepted a proposal in `term`. */
void sim_nemesis_on_propose(struct sim_node *nd, raft_term term)
{
    struct sim *s = nd->sim;
    struct sim_nemesis *nm = &s->nem;
    if (nm->on && s->faults_on && sim_one_in(s, nm->on_propose))
        sim_nem_schedule(nd, term);
}

/* Called when leader nd's commit index advanced in `term`. */
void sim_nemesis_on_commit(struct sim_node *nd, raft_term term)
{
    struct sim *s = nd->sim;
    struct sim_nemesis *nm = &s->nem;
    if (nm->on && s->faults_on && sim_one_in(s, nm->on_commit))
        sim_nem_schedule(nd, term);
}

/* A follower other than `id`, at random. */
static unsigned sim_nem_other(struct sim *s, unsigned id)
{
    unsigned f = 1 + (unsigned)sim_choose(s, s->n - 1);
    return f >= id ? f + 1 : f;
}

/* Heal every link, then cut both directions between the leader's side
 * and the rest. */
static void sim_nem_split(struct sim *s, const bool *side)
{
    memset(s->cut, 0, sizeof s->cut);
    for (unsigned a = 1; a <= s->n; a++)
        for (unsigned b = 1; b <= s->n; b++)
            s->cut[a][b] = side[a] != side[b];
}

static void sim_nem_strike(struct sim *s, struct sim_node *nd)
{
    struct sim_nemesis *nm = &s->nem;
    unsigned id = (unsigned)nd->id;
    unsigned n = s->n;
    unsigned f = sim_nem_other(s, id); /* a follower some modes spare */
    bool side[SIM_MAX_NODES + 1] = {false};
    char desc[64] = "";
    s->st.strikes++;
    if (s->svg != NULL)
        sim_svg_mark(s, nd->id, SIM_SVG_MARK_STRIKE);
    if (nm->mode == SIM_NEM_CRASH) { /* the crash is the event */
        sim_node_crash(nd);
        if (sim_choose(s, 2) == 0)
            sim_net_drop_to(s, nd->id);
        nm->restart_at[id] = s->event + 1 + sim_nem_delay(s, nm->restart_span);
        sim_tracef(s, "nemesis: crashed leader %u of term %llu, restart at "
                   "event %llu", id, sim_ull(nm->term),
                   sim_ull(nm->restart_at[id]));
        return;
    }
    s->event++;
    switch (nm->mode) {
    case SIM_NEM_ISOLATE:
    case SIM_NEM_MINORITY: {
        /* The leader's side: itself, plus 1 .. (n - 1) / 2 - 1 others in
         * the minority mode (5 nodes or more). */
        unsigned extra = nm->mode == SIM_NEM_MINORITY && n >= 5
                             ? 1 + (unsigned)sim_choose(s, (n - 1) / 2 - 1)
                             : 0;
        unsigned others[SIM_MAX_NODES], k = 0;
        size_t len = 0;
        for (unsigned b = 1; b <= n; b++)
            if (b != id)
                others[k++] = b;
        side[id] = true;
        for (unsigned j = 0; j < extra; j++) { /* draw without replacement */
            unsigned x = j + (unsigned)sim_choose(s, k - j);
            unsigned t = others[x];
            others[x] = others[j];
            others[j] = t;
            side[t] = true;
        }
        sim_nem_split(s, side);
        for (unsigned a = 1; a <= n; a++)
            if (side[a] && len + 4 < sizeof desc)
                len += (size_t)snprintf(desc + len, sizeof desc - len, " %u",
                                        a);
        s->st.partitions++;
        sim_tracef(s, "nemesis: partition {%s } from the rest (leader %u of "
                   "term %llu)", desc, id, sim_ull(nm->term));
        break;
    }
    case SIM_NEM_REACH_ONE:
        memset(s->cut, 0, sizeof s->cut);
        for (unsigned b = 1; b <= n; b++)
            if (b != id && b != f)
                s->cut[id][b] = s->cut[b][id] = true;
        s->st.partitions++;
        sim_tracef(s, "nemesis: leader %u of term %llu keeps only its links "
                   "with %u", id, sim_ull(nm->term), f);
        break;
    case SIM_NEM_MUTE: {
        bool keep_one = sim_choose(s, 2) == 0;
        memset(s->cut, 0, sizeof s->cut);
        for (unsigned b = 1; b <= n; b++)
            if (b != id && !(keep_one && b == f))
                s->cut[id][b] = true;
        s->st.partitions++;
        if (keep_one)
            snprintf(desc, sizeof desc, " except to %u", f);
        sim_tracef(s, "nemesis: cut the outgoing links of leader %u of term "
                   "%llu%s", id, sim_ull(nm->term), desc);
        break;
    }
    default: /* SIM_NEM_LOSS */
        sim_tracef(s, "nemesis: lose the messages leader %u of term %llu "
                   "has in flight, except to %u", id, sim_ull(nm->term), f);
        for (size_t i = 0; i < s->bag_len;) {
            const struct raft_msg *m = &s->bag[i]->m;
            if (m->from == nd->id && m->to != f)
                sim_net_drop_at(s, i);
            else
                i++;
        }
        break;
    }
}

/*
 * Run one due nemesis action as the next event. Returns false if nothing
 * is due, and the caller picks an ordinary event.
 */
bool sim_nemesis_step(struct sim *s)
{
    struct sim_nemesis *nm = &s->nem;
    if (!nm->on)
        return false;
    for (unsigned i = 1; i <= s->n; i++) {
        struct sim_node *nd = &s->nodes[i - 1];
        if (nm->restart_at[i] != 0 && s->event >= nm->restart_at[i]) {
            nm->restart_at[i] = 0;
            if (!sim_node_alive(nd)) {
                sim_node_start(nd, true);
                return true;
            }
        }
    }
    if (nm->burst_left > 0) {
        if (sim_nem_leads(s, nm->burst_id, nm->burst_term) &&
            sim_node_running(&s->nodes[nm->burst_id - 1])) {
            nm->burst_left--;
            sim_node_propose(&s->nodes[nm->burst_id - 1]);
            return true;
        }
        nm->burst_left = 0;
    }
    if (nm->target != 0 && s->event >= nm->at && !sim_stretch_quiet(s)) {
        raft_id id = nm->target;
        nm->target = 0;
        if (sim_nem_leads(s, id, nm->term)) {
            sim_nem_strike(s, &s->nodes[id - 1]);
            return true;
        }
    }
    return false;
}
