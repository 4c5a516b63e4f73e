/*
 * sim.c - one simulation run: setup, fault phase, heal phase, teardown.
 *
 * An "event" is one atomic action of the simulated world: one library call
 * on one node (tick, delivery of one message, proposal), the loss or
 * duplication of one message, a partition change, a crash or a restart.
 * Invariants are checked after every library call on the node it touched
 * (other nodes cannot change: callbacks only talk to the simulated world),
 * and inside callbacks where the property concerns the callback itself.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

/* Heal-phase budget, see README.md "Liveness bound". */
#define SIM_LIVE_ELECTIONS 50 /* election timeouts allowed for elections */
#define SIM_LIVE_PER_ENTRY 8  /* steps per entry/term to repair a log */
#define SIM_LIVE_SLACK 100    /* stale long-delayed messages, startup */

static unsigned long long sim_ull(uint64_t x)
{
    return (unsigned long long)x;
}

uint64_t sim_choose(struct sim *s, uint64_t bound)
{
    if (bound < 2)
        return 0;
    return s->ch.next(s->ch.ctx, bound) % bound;
}

bool sim_one_in(struct sim *s, uint64_t n)
{
    return n != 0 && sim_choose(s, n) == 0;
}

void sim_fail(struct sim *s, const char *property, const char *fmt, ...)
{
    if (s->failed)
        return; /* the first violation is the one worth reporting */
    s->failed = true;
    s->st.fail_event = s->event;
    if (s->svg != NULL)
        sim_svg_fail(s);
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (s->errlen > 0)
        snprintf(s->err, s->errlen, "event %llu: %s: %s", sim_ull(s->event),
                 property, detail);
    if (s->trace != NULL)
        fprintf(s->trace, "FAIL event %llu: %s: %s\n", sim_ull(s->event),
                property, detail);
}

void sim_tracef(struct sim *s, const char *fmt, ...)
{
    if (s->trace == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(s->trace, "%7llu t=%-5llu ", sim_ull(s->event), sim_ull(s->now));
    vfprintf(s->trace, fmt, ap);
    fputc('\n', s->trace);
    va_end(ap);
}

void *sim_grow(struct sim *s, void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    size_t ncap = *cap < 16 ? 16 : *cap * 2;
    if (ncap < need)
        ncap = need;
    uint8_t *np = realloc(p, ncap * size);
    if (np == NULL) {
        s->oom = true;
        return NULL;
    }
    memset(np + *cap * size, 0, (ncap - *cap) * size);
    *cap = ncap;
    return np;
}

static bool sim_stop(const struct sim *s)
{
    return s->failed || s->oom;
}

/* ---- setup -------------------------------------------------------------- */

/*
 * Smallest election timeout for which a healthy leader is never deposed in
 * the heal phase (latency 1..2 steps). Without skew a follower sees at most
 * h + 2 ticks between heartbeats, under h + 4. With skew (rates 2/3..3/2) a
 * slow leader needs up to 2h steps for h ticks, latency adds up to 2, and a
 * fast follower counts at most 3k/2 + 1 ticks in k steps: 3h + 4, under
 * 4h + 4. (Randomized timeouts only ever add to election_ticks.)
 */
static unsigned sim_min_election(unsigned h, bool skewed)
{
    return skewed ? 4 * h + 4 : h + 4;
}

static void sim_setup_config(struct sim *s)
{
    struct raft_config *c = &s->cfg;
    memset(c, 0, sizeof *c);
    s->skewed = sim_choose(s, 2) == 0;
    c->heartbeat_ticks = 1 + (unsigned)sim_choose(s, 3);
    unsigned emin = sim_min_election(c->heartbeat_ticks, s->skewed);
    c->election_ticks = emin + (unsigned)sim_choose(s, 21 - emin);
    switch (sim_choose(s, 4)) { /* small limits exercise batching/paging */
    case 0:  c->max_msg_entries = 0; break; /* library default */
    case 1:  c->max_msg_entries = 1 + (uint32_t)sim_choose(s, 3); break;
    case 2:  c->max_msg_entries = 1 + (uint32_t)sim_choose(s, 8); break;
    default: c->max_msg_entries = 1 + (uint32_t)sim_choose(s, 64); break;
    }
    c->max_inflight = (uint32_t)sim_choose(s, 9); /* 0: default */
    /* Never below one maximal payload, so no proposal is too big. */
    if (sim_choose(s, 3) == 0)
        c->max_msg_bytes = 64 + (uint32_t)sim_choose(s, 449);
}

static void sim_setup_faults(struct sim *s)
{
    struct sim_faults *f = &s->f;
    uint32_t *w = f->weight;
    uint32_t n = s->n;
    w[SIM_EV_STEP] = 100;
    w[SIM_EV_TICK] = (uint32_t)sim_choose(s, 21);
    /* 2n..4n deliveries per step outpace the ~2n messages a step creates */
    w[SIM_EV_DELIVER] = 100 * (2 * n + (uint32_t)sim_choose(s, 2 * n + 1));
    w[SIM_EV_DROP] = w[SIM_EV_DELIVER] * (uint32_t)sim_choose(s, 11) / 100;
    w[SIM_EV_DUP] = w[SIM_EV_DELIVER] * (uint32_t)sim_choose(s, 6) / 100;
    w[SIM_EV_PROPOSE] = 10 + (uint32_t)sim_choose(s, 91);
    w[SIM_EV_PARTITION] = (uint32_t)sim_choose(s, 9);
    w[SIM_EV_CUT] = (uint32_t)sim_choose(s, 7);
    w[SIM_EV_HEAL] = 2 + (uint32_t)sim_choose(s, 9);
    w[SIM_EV_CRASH] = (uint32_t)sim_choose(s, 7);
    w[SIM_EV_RESTART] = 3 + (uint32_t)sim_choose(s, 13);
    /* Disks from about as fast as the network to several times slower. */
    w[SIM_EV_DURABLE] = s->any_async ? 25 * n + (uint32_t)sim_choose(s, 200 * n + 1)
                                     : 0;
    f->weight_total = 0;
    for (int i = 0; i < SIM_EV_COUNT; i++)
        f->weight_total += w[i];
    f->persist_fail = sim_choose(s, 3) == 0 ? 20 + sim_choose(s, 481) : 0;
    f->send_fail = sim_choose(s, 3) == 0 ? 20 + sim_choose(s, 181) : 0;
    f->apply_fail = sim_choose(s, 4) == 0 ? 50 + sim_choose(s, 451) : 0;
    f->sync_fail = sim_choose(s, 4) == 0 ? 50 + sim_choose(s, 951) : 0;
    f->max_latency = (unsigned)sim_choose(s, 6);
    f->long_delay = sim_choose(s, 3) == 0 ? 30 + sim_choose(s, 71) : 0;
    f->snap_fail = sim_choose(s, 4) == 0 ? 10 + sim_choose(s, 91) : 0;
}

/* Seven runs in eight take snapshots, most with a trailing window of a few
 * entries so that followers often need a snapshot rather than entries; a
 * snapshot is 24 bytes to a few KiB, in chunks of max_msg_bytes (64..512
 * bytes in most of these runs). */
static void sim_setup_snapshots(struct sim *s)
{
    uint32_t *w = s->f.weight;
    s->snap_trailing = 0;
    if (sim_choose(s, 8) == 0)
        return;
    s->snap_trailing = sim_choose(s, 4) == 0 ? 1 + sim_choose(s, 64)
                                             : 1 + sim_choose(s, 4);
    s->cfg.snapshot_trailing = s->snap_trailing;
    s->snap_size = 24 + (size_t)sim_choose(s, 4000);
    if (s->cfg.max_msg_bytes == 0 && sim_choose(s, 4) != 0)
        s->cfg.max_msg_bytes = 64 + (uint32_t)sim_choose(s, 449);
    w[SIM_EV_SNAPSHOT] = 20 + (uint32_t)sim_choose(s, 181);
    s->f.weight_total += w[SIM_EV_SNAPSHOT];
}

static int sim_setup(struct sim *s, const struct sim_opts *o)
{
    /* Odd sizes, the usual deployments, twice as often. */
    static const unsigned sizes[10] = {1, 2, 3, 3, 4, 5, 5, 6, 7, 7};
    /* Always drawn, so --nodes K with the drawn K replays the same run;
     * likewise the persistence mode. */
    unsigned drawn = sizes[sim_choose(s, 10)];
    int mode = 1 + (int)sim_choose(s, 3);
    s->n_boot = o->n_nodes ? o->n_nodes : drawn;
    s->st.n_nodes = s->n_boot;
    s->persist_mode = o->persist_mode ? o->persist_mode : mode;
    if (s->n_boot > SIM_MAX_NODES || s->n_boot == 0) {
        if (s->errlen > 0)
            snprintf(s->err, s->errlen, "1 to %d nodes", SIM_MAX_NODES);
        return -1;
    }
    /* Reconfiguration in two runs in three (never with a zero chooser):
     * node slots beyond the bootstrap voters, spares to be added, so the
     * cluster can grow to SIM_MAX_NODES members. */
    bool reconf = sim_choose(s, 3) != 0;
    unsigned spares = (unsigned)sim_choose(s, SIM_MAX_NODES - s->n_boot + 1);
    if (o->reconf != 0)
        reconf = o->reconf == SIM_RECONF_ON;
    if (reconf && spares == 0 && s->n_boot < SIM_MAX_NODES)
        spares = 1;
    s->rc.on = reconf;
    s->n = s->n_boot + (reconf ? spares : 0);
    uint64_t ev = 2000 + sim_choose(s, 4001);
    s->fault_events = o->fault_events ? o->fault_events : ev;
    s->any_async = s->persist_mode != SIM_PERSIST_SYNC;
    sim_setup_config(s);
    sim_setup_faults(s);
    sim_setup_snapshots(s);
    sim_nemesis_setup(s);
    /* A third of the runs of three or more nodes have one node whose links
     * are slow: a round trip of several heartbeat intervals. Such a run
     * gets an election timeout of 30..60 ticks, and the delay stays within
     * a sixth of it (less 2 steps) so that even at the fastest clock (3/2
     * ticks a step) the slow node remains a healthy member. The others are
     * a majority without it, so it cannot hold up an election. */
    if (s->n >= 3 && sim_choose(s, 3) == 0) {
        uint64_t h = s->cfg.heartbeat_ticks;
        uint64_t d = (2 + sim_choose(s, 3)) * h;
        uint64_t e = 30 + sim_choose(s, 31), cap;
        if (e > s->cfg.election_ticks)
            s->cfg.election_ticks = (unsigned)e;
        cap = s->cfg.election_ticks / 6 - 2;
        s->slow_node = 1 + sim_choose(s, s->n);
        s->slow_delay = d < cap ? d : cap;
        s->st.slow_runs = 1;
    }
    s->relimit = sim_choose(s, 3) == 0;
    sim_read_setup(s);
    sim_stretch_setup(s);
    sim_conf_setup(s);
    sim_tracef(s, "setup: %u nodes, election %u heartbeat %u, max entries "
               "%u bytes %u inflight %u, skew %d, faults: persist 1/%llu "
               "send 1/%llu apply 1/%llu latency 0..%u long delay 1/%llu, "
               "persistence %s, slow node %llu (+%llu steps), relimit %d",
               s->n, s->cfg.election_ticks, s->cfg.heartbeat_ticks,
               s->cfg.max_msg_entries, s->cfg.max_msg_bytes,
               s->cfg.max_inflight, (int)s->skewed,
               sim_ull(s->f.persist_fail), sim_ull(s->f.send_fail),
               sim_ull(s->f.apply_fail), s->f.max_latency,
               sim_ull(s->f.long_delay),
               s->persist_mode == SIM_PERSIST_SYNC    ? "sync"
               : s->persist_mode == SIM_PERSIST_ASYNC ? "async"
                                                      : "mixed",
               sim_ull(s->slow_node), sim_ull(s->slow_delay), (int)s->relimit);
    for (unsigned i = 0; i < s->n_boot; i++)
        s->voters[i] = i + 1;
    /* Spares start empty at once half the time, else later. */
    for (unsigned i = 0; i < s->n && !sim_stop(s); i++)
        if (sim_node_init(s, &s->nodes[i], i + 1,
                          i < s->n_boot || sim_choose(s, 2) == 0) != 0)
            return -1;
    for (unsigned i = 0; i < s->n; i++)
        sim_tracef(s, "node %u ticks %u per %u steps", i + 1,
                   s->nodes[i].rate_num, s->nodes[i].rate_den);
    return sim_stop(s) ? -1 : 0;
}

/* ---- events --------------------------------------------------------------- */

/* A random node that is running (want_alive) or down; NULL if there is
 * none. A paused node is neither: nothing happens to it. */
static bool sim_pickable(const struct sim_node *nd, bool want_alive)
{
    return want_alive ? sim_node_running(nd) : !sim_node_alive(nd);
}

static struct sim_node *sim_pick_node(struct sim *s, bool want_alive)
{
    unsigned k = 0;
    for (unsigned i = 0; i < s->n; i++)
        k += sim_pickable(&s->nodes[i], want_alive);
    if (k == 0)
        return NULL;
    uint64_t j = sim_choose(s, k);
    for (unsigned i = 0; i < s->n; i++)
        if (sim_pickable(&s->nodes[i], want_alive) && j-- == 0)
            return &s->nodes[i];
    return NULL;
}

/* A global step begins: stretch faults move on, paused nodes due resume. */
void sim_step_begin(struct sim *s)
{
    s->now++;
    s->st.steps++;
    if (s->faults_on)
        sim_stretch_step(s, s->event < s->fault_end);
    sim_pause_resume(s, false);
}

/* One global time step: sim_step_begin, then each live node ticks per its
 * rate, in an order rotated at random so no node is systematically first.
 * A paused node's clock only counts the ticks it misses. Lease runs have
 * clocks of their own (sim_read.c). */
void sim_time_step(struct sim *s)
{
    if (s->lease) {
        sim_clock_step(s);
        return;
    }
    sim_step_begin(s);
    unsigned start = (unsigned)sim_choose(s, s->n);
    for (unsigned k = 0; k < s->n && !sim_stop(s); k++) {
        struct sim_node *nd = &s->nodes[(start + k) % s->n];
        if (!sim_node_alive(nd))
            continue;
        if (nd->paused_until != 0) {
            nd->rate_acc += nd->rate_num;
            for (; nd->rate_acc >= nd->rate_den; nd->rate_acc -= nd->rate_den)
                nd->missed++;
            continue;
        }
        nd->rate_acc += nd->rate_num;
        while (nd->rate_acc >= nd->rate_den && !sim_stop(s) &&
               sim_node_alive(nd)) {
            nd->rate_acc -= nd->rate_den;
            sim_node_tick(nd);
        }
    }
}

/* The node a client asks: a running leader (one of them, if several
 * believe they lead) unless the 1-in-`odds` draw says anyone; NULL if
 * nobody runs. */
static struct sim_node *sim_pick_client_target(struct sim *s, uint64_t odds)
{
    struct sim_node *leaders[SIM_MAX_NODES];
    unsigned k = 0;
    for (unsigned i = 0; i < s->n; i++)
        if (sim_node_running(&s->nodes[i]) &&
            raft_role(s->nodes[i].r) == RAFT_LEADER)
            leaders[k++] = &s->nodes[i];
    return k > 0 && sim_choose(s, odds) != 0 ? leaders[sim_choose(s, k)]
                                             : sim_pick_node(s, true);
}

/* Clients mostly find the leader; sometimes they ask anyone. */
static void sim_ev_propose(struct sim *s)
{
    struct sim_node *nd = sim_pick_client_target(s, 4);
    if (nd != NULL)
        sim_node_propose(nd);
}

/* Clients ask the leader for a read half the time, anyone otherwise. */
static void sim_ev_read(struct sim *s)
{
    struct sim_node *nd = sim_pick_client_target(s, 2);
    if (nd != NULL)
        sim_read_ask(nd);
}

static void sim_ev_partition(struct sim *s)
{
    bool side[SIM_MAX_NODES + 1];
    unsigned in_a = 0;
    if (s->n < 2)
        return;
    for (unsigned i = 1; i <= s->n; i++)
        in_a += side[i] = sim_choose(s, 2) == 0;
    if (in_a == 0 || in_a == s->n) { /* both sides non-empty */
        unsigned i = 1 + (unsigned)sim_choose(s, s->n);
        side[i] = !side[i];
    }
    char desc[64] = "";
    size_t len = 0;
    for (unsigned a = 1; a <= s->n; a++) {
        for (unsigned b = 1; b <= s->n; b++)
            s->cut[a][b] = side[a] != side[b];
        if (len + 4 < sizeof desc)
            len += (size_t)snprintf(desc + len, sizeof desc - len, "%s%u",
                                    side[a] ? "A" : "B", a);
    }
    s->event++;
    s->st.partitions++;
    sim_tracef(s, "partition %s", desc);
}

static void sim_ev_cut(struct sim *s)
{
    if (s->n < 2)
        return;
    unsigned a = 1 + (unsigned)sim_choose(s, s->n);
    unsigned b = 1 + (unsigned)sim_choose(s, s->n - 1);
    if (b >= a)
        b++;
    s->cut[a][b] = true;
    s->event++;
    sim_tracef(s, "cut link %u->%u", a, b);
}

static void sim_ev_heal(struct sim *s)
{
    memset(s->cut, 0, sizeof s->cut);
    s->event++;
    sim_tracef(s, "heal all links");
}

static void sim_ev_crash(struct sim *s)
{
    struct sim_node *nd = sim_pick_node(s, true);
    if (nd == NULL)
        return;
    sim_node_crash(nd);
    if (sim_choose(s, 2) == 0)
        sim_net_drop_to(s, nd->id);
}

static void sim_ev_restart(struct sim *s)
{
    struct sim_node *nd = sim_pick_node(s, false);
    if (nd != NULL)
        sim_node_start(nd, true);
}

/* A disk completes some of a node's pending writes: one, or a batch (group
 * commit), or fails them. */
static void sim_ev_durable(struct sim *s)
{
    unsigned k = 0;
    struct sim_node *cand[SIM_MAX_NODES];
    for (unsigned i = 0; i < s->n; i++)
        if (sim_node_running(&s->nodes[i]) &&
            sim_stretch_disk_ready(s, &s->nodes[i]) > 0)
            cand[k++] = &s->nodes[i];
    if (k == 0) {
        /* Nothing pending: time passes, except around a split or a slow
         * disk, whose timing wants deliveries to keep up with the messages
         * (an idle disk's turns would make time outrun them). */
        if (!sim_stretch_quiet(s))
            sim_time_step(s);
        return;
    }
    struct sim_node *nd = cand[sim_choose(s, k)];
    size_t ready = sim_stretch_disk_ready(s, nd);
    size_t n = sim_choose(s, 2) == 0 ? 1 : 1 + (size_t)sim_choose(s, ready);
    sim_node_complete(nd, n, s->faults_on && sim_one_in(s, s->f.sync_fail));
}

/* Heal phase: every disk completes everything pending. */
static void sim_complete_all(struct sim *s)
{
    for (unsigned i = 0; i < s->n && !sim_stop(s); i++)
        if (sim_node_alive(&s->nodes[i]) && s->nodes[i].pend_len > 0)
            sim_node_complete(&s->nodes[i], s->nodes[i].pend_len, false);
}

static int sim_pick_event(struct sim *s)
{
    uint64_t x = sim_choose(s, s->f.weight_total);
    for (int i = 0; i < SIM_EV_COUNT; i++) {
        if (x < s->f.weight[i])
            return i;
        x -= s->f.weight[i];
    }
    return SIM_EV_STEP;
}

static void sim_fault_event(struct sim *s)
{
    struct sim_node *nd;
    if (sim_nemesis_step(s) || sim_read_step(s) || sim_stretch_event(s))
        return;
    int ev = sim_pick_event(s);
    if (sim_stretch_holds(s, ev))
        return; /* a split leaves it out (sim_stretch.c) */
    switch (ev) {
    case SIM_EV_TICK:
        nd = sim_pick_node(s, true);
        if (nd != NULL)
            sim_node_tick(nd);
        else
            sim_time_step(s);
        break;
    case SIM_EV_DELIVER:
        if (!sim_net_deliver_one(s))
            sim_time_step(s); /* nothing due: time passes */
        break;
    case SIM_EV_DROP:      sim_net_drop_one(s); break;
    case SIM_EV_DUP:       sim_net_dup_one(s); break;
    case SIM_EV_PROPOSE:   sim_ev_propose(s); break;
    case SIM_EV_PARTITION: sim_ev_partition(s); break;
    case SIM_EV_CUT:       sim_ev_cut(s); break;
    case SIM_EV_HEAL:      sim_ev_heal(s); break;
    case SIM_EV_CRASH:     sim_ev_crash(s); break;
    case SIM_EV_READ:      sim_ev_read(s); break;
    case SIM_EV_PAUSE:     sim_pause_one(s); break;
    case SIM_EV_CONF:      sim_conf_event(s); break;
    case SIM_EV_RESTART:   sim_ev_restart(s); break;
    case SIM_EV_DURABLE:   sim_ev_durable(s); break;
    case SIM_EV_SNAPSHOT: {
        struct sim_node *snd = sim_pick_node(s, true);
        if (snd != NULL)
            sim_node_snapshot(snd);
        break;
    }
    default:               sim_time_step(s); break;
    }
}

static void sim_fault_phase(struct sim *s)
{
    uint64_t end = s->event + s->fault_events;
    s->fault_end = end;
    /* Some choices are no-ops (a drop with nothing in flight, a step with
     * every node down); the iteration cap bounds the phase regardless. A
     * stretch fault (at most 800 steps, and events outnumber steps)
     * extends the phase until it is over. */
    for (uint64_t it = 0;
         (it < 4 * s->fault_events || (sim_stretch_busy(s) && it < 64 * s->fault_events)) &&
         (s->event < end || sim_stretch_busy(s)) && !sim_stop(s);
         it++) {
        if (s->ch.exhausted != NULL && s->ch.exhausted(s->ch.ctx))
            break;
        sim_fault_event(s);
        if (s->svg != NULL)
            sim_svg_links(s);
    }
}

/* ---- heal phase ----------------------------------------------------------- */

/* Number of runs of equal terms in a disk log: each may cost the leader
 * one rejected probe to skip. */
static uint64_t sim_term_runs(const struct sim_disk *d)
{
    uint64_t runs = 0;
    for (size_t i = 0; i < d->len; i++)
        runs += i == 0 || d->ents[i].term != d->ents[i - 1].term;
    runs += d->snap.index > 0; /* a snapshot to send costs about one more */
    return runs;
}

/*
 * Step budget for the heal phase (README.md, "Liveness bound"): elections
 * get SIM_LIVE_ELECTIONS maximal election timeouts of the slowest clock;
 * log repair gets SIM_LIVE_PER_ENTRY steps (a round trip plus a heartbeat
 * period) per entry of the longest log and per term run in any log, as if
 * each cost one AppendEntries round trip of its own.
 */
static uint64_t sim_heal_bound(const struct sim *s)
{
    uint64_t e = s->cfg.election_ticks;
    uint64_t timeout = e + e / 4 + 1;            /* ticks */
    uint64_t steps = s->skewed ? (timeout * 3 + 1) / 2 : timeout; /* rate 2/3 */
    uint64_t longest = 0, runs = 0;
    for (unsigned i = 0; i < s->n; i++) {
        const struct sim_disk *d = &s->nodes[i].disk;
        uint64_t r = sim_term_runs(d);
        longest = d->len > longest ? d->len : longest;
        runs = r > runs ? r : runs;
    }
    /* A snapshot to send: a round trip per chunk of at least 64 bytes,
     * twice over (a stream may have to start over once). */
    uint64_t chunks = s->snap_trailing ? 2 * (s->snap_size / 64 + 2) : 0;
    return SIM_LIVE_ELECTIONS * steps +
           (SIM_LIVE_PER_ENTRY + 2 * s->slow_delay) * (longest + runs + chunks) +
           SIM_LIVE_SLACK;
}

/* Does every member of l's configuration (learners included) follow l in
 * its term? Nodes outside it (removed, or spares never added) are not
 * asked: nobody sends them anything. */
static bool sim_followed(struct sim *s, struct sim_node *l,
                         const struct sim_conf *c)
{
    raft_term t = raft_current_term(l->r);
    for (unsigned i = 0; i < s->n; i++) {
        const struct sim_node *nd = &s->nodes[i];
        if (c->fl[nd->id] == 0 && nd != l)
            continue;
        if (!sim_node_alive(nd) || raft_current_term(nd->r) != t ||
            raft_leader(nd->r) != l->id)
            return false;
    }
    return true;
}

/* The leader every member of its configuration follows, if any. */
static struct sim_node *sim_agreed_leader(struct sim *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        struct sim_node *l = &s->nodes[i];
        struct sim_conf c;
        if (!sim_node_alive(l) || raft_role(l->r) != RAFT_LEADER)
            continue;
        sim_conf_of(l, &c);
        if (sim_followed(s, l, &c))
            return l;
    }
    return NULL;
}

/*
 * Liveness: an agreed leader exists; a fresh probe proposed to it commits;
 * every member applies it and catches up with the leader's commit index;
 * the leader's configuration is committed, not joint, has the leader as a
 * voter, is the last committed one, and every member reports it. If
 * leadership moves before that, a new probe goes to the new leader.
 */
static bool sim_live_poll(struct sim *s)
{
    struct sim_live *lv = &s->live;
    struct sim_conf c;
    if (lv->index == 0) {
        struct sim_node *l = sim_agreed_leader(s);
        raft_index idx;
        uint64_t hash;
        if (l != NULL)
            sim_conf_heal(l); /* leave an explicit joint configuration */
        if (l != NULL && !sim_stop(s) && raft_role(l->r) == RAFT_LEADER &&
            sim_node_propose_probe(l, &idx, &hash) == 0) {
            *lv = (struct sim_live){l, raft_current_term(l->r), idx, hash};
            sim_tracef(s, "liveness probe at index %llu via node %llu",
                       sim_ull(idx), sim_ull(l->id));
        }
        return false;
    }
    struct raft_status ls;
    raft_status(lv->leader->r, &ls);
    if (ls.role != RAFT_LEADER || ls.term != lv->term) {
        lv->index = 0;
        return false;
    }
    if (!sim_conf_settled(lv->leader, &c)) {
        sim_conf_heal(lv->leader);
        return false;
    }
    /* Messages of the fault phase (delayed up to 60 steps) must be gone
     * before the stability check: a late TIMEOUT_NOW of an abandoned
     * transfer still starts an election. */
    if (s->backlog)
        return false;
    if (!sim_followed(s, lv->leader, &c))
        return false;
    for (unsigned i = 0; i < s->n; i++) {
        struct raft_status st;
        struct sim_conf ci;
        if (c.fl[s->nodes[i].id] == 0)
            continue;
        raft_status(s->nodes[i].r, &st);
        if (st.applied < lv->index || st.applied < ls.commit)
            return false;
        sim_conf_of(&s->nodes[i], &ci);
        if (!sim_conf_equal(&ci, &c))
            return false;
    }
    if (s->chain_len < lv->index || s->chain[lv->index - 1].term != lv->term ||
        s->chain[lv->index - 1].hash != lv->hash) {
        sim_fail(s, "Liveness", "probe at index %llu term %llu was applied "
                 "everywhere with different contents", sim_ull(lv->index),
                 sim_ull(lv->term));
        return true;
    }
    struct sim_conf last;
    sim_conf_committed_at(s, s->chain_len, &last);
    if (!sim_conf_equal(&last, &c)) {
        sim_conf_trace(s, "the leader's configuration", &c);
        sim_conf_trace(s, "the last committed one", &last);
        sim_fail(s, "Configuration convergence", "leader %llu settled on "
                 "a configuration other than the last committed one",
                 sim_ull(lv->leader->id));
    }
    return true;
}

/*
 * Stability: once the cluster is live, nobody disrupts it. For several
 * election timeouts of fault-free time, no node is elected (removed nodes,
 * spares and learners never campaign, or never win) and the leader leads
 * on in its term.
 */
#define SIM_STABLE_TIMEOUTS 3
static void sim_check_stable(struct sim *s)
{
    struct sim_node *l = s->live.leader;
    raft_term t = s->live.term;
    uint64_t e = s->cfg.election_ticks;
    uint64_t steps = SIM_STABLE_TIMEOUTS * (s->skewed ? (e * 3 + 1) / 2 : e);
    uint64_t elections = s->st.elections;
    for (uint64_t k = 0; k < steps && !sim_stop(s); k++) {
        sim_time_step(s);
        sim_complete_all(s);
        sim_net_deliver_due(s);
        sim_complete_all(s);
        if (sim_stop(s))
            return;
        if (s->st.elections != elections || !sim_node_alive(l) ||
            raft_role(l->r) != RAFT_LEADER || raft_current_term(l->r) != t) {
            sim_fail(s, "Stability", "node %llu led term %llu with every "
                     "member following, and %llu steps later %s",
                     sim_ull(l->id), sim_ull(t), sim_ull(k + 1),
                     s->st.elections != elections ? "another leader was elected"
                                                  : "it no longer leads");
            return;
        }
    }
}

static void sim_live_fail(struct sim *s, uint64_t bound)
{
    char desc[900] = "";
    size_t len = 0;
    for (unsigned i = 0; i < s->n && len < sizeof desc; i++) {
        struct raft_status st;
        raft_status(s->nodes[i].r, &st);
        len += (size_t)snprintf(desc + len, sizeof desc - len,
                                " [%u: role %d term %llu leader %llu commit "
                                "%llu applied %llu last %llu conf %llu/%zu%s%s]",
                                i + 1, st.role, sim_ull(st.term),
                                sim_ull(st.leader), sim_ull(st.commit),
                                sim_ull(st.applied), sim_ull(st.last_index),
                                sim_ull(st.conf_index), st.n_members,
                                st.joint ? " joint" : "",
                                st.is_voter ? "" : " non-voter");
    }
    sim_fail(s, "Liveness", "no agreed leader committed a fresh proposal on "
             "all nodes within %llu heal steps:%s", sim_ull(bound), desc);
}

/*
 * No resend storm: in the fault-free heal phase, once the last message of
 * the fault phase is delivered, the payload sent in AppendEntries stays
 * within a small multiple of what the followers could need, each follower receiving the longest log a few times over (log
 * repair after the faults, a new leader, heartbeat-anchored rejections
 * under reordering). Resending in-flight entries every heartbeat, or the
 * whole log after every hiccup, exceeds it.
 */
#define SIM_RESEND_FACTOR 4
static void sim_check_resend(struct sim *s)
{
    uint64_t longest = 0;
    for (unsigned i = 0; i < s->n; i++) {
        const struct sim_disk *d = &s->nodes[i].disk;
        uint64_t b = 0;
        for (size_t k = 0; k < d->len; k++)
            b += d->ents[k].len;
        longest = b > longest ? b : longest;
    }
    uint64_t bound = SIM_RESEND_FACTOR * (s->n - 1) * longest + 4096;
    if (s->heal_sent > bound)
        sim_fail(s, "Resend storm", "the heal phase sent %llu payload bytes "
                 "in AppendEntries, more than %d times the longest log "
                 "(%llu bytes) per follower", sim_ull(s->heal_sent),
                 SIM_RESEND_FACTOR, sim_ull(longest));
}

/* Is a message of the fault phase still in flight? */
static bool sim_backlog(const struct sim *s)
{
    for (size_t i = 0; i < s->bag_len; i++)
        if (s->bag[i]->seq <= s->fault_seq)
            return true;
    return false;
}

/*
 * Every read still pending on a live node settles once the cluster has an
 * agreed leader: the leader confirms its reads with a heartbeat round, a
 * follower resends its request every heartbeat interval, and any change
 * of term or role fails them. Ten election timeouts is plenty.
 */
static void sim_settle_reads(struct sim *s)
{
    uint64_t e = s->cfg.election_ticks;
    uint64_t bound = 10 * (s->skewed ? (e * 3 + 1) / 2 : e) + SIM_LIVE_SLACK;
    for (uint64_t step = 0; step < bound && !sim_stop(s) &&
                            sim_read_pending(s) > 0;
         step++) {
        sim_time_step(s);
        sim_complete_all(s);
        sim_net_deliver_due(s);
        sim_complete_all(s);
    }
    if (!sim_stop(s) && sim_read_pending(s) > 0)
        sim_read_fail_pending(s);
}

static void sim_heal_phase(struct sim *s)
{
    s->faults_on = false;
    s->fault_seq = s->msg_seq;
    s->backlog = true;
    memset(s->cut, 0, sizeof s->cut);
    sim_stretch_stop(s);
    sim_pause_resume(s, true); /* with the ticks they missed (if on) */
    if (s->svg != NULL)
        sim_svg_heal(s);
    sim_tracef(s, "heal phase: no more faults");
    for (unsigned i = 0; i < s->n && !sim_stop(s); i++)
        if (!sim_node_alive(&s->nodes[i]))
            sim_node_start(&s->nodes[i], true);
    uint64_t bound = sim_heal_bound(s);
    if (s->opts->skip_liveness) /* still run a while to check safety */
        bound = bound < 200 ? bound : 200;
    s->st.heal_bound = bound;
    for (uint64_t step = 1; step <= bound && !sim_stop(s); step++) {
        if (s->backlog)
            s->backlog = sim_backlog(s);
        sim_time_step(s);
        sim_complete_all(s);
        sim_net_deliver_due(s);
        sim_complete_all(s);
        if (!s->opts->skip_liveness && !sim_stop(s) && sim_live_poll(s)) {
            s->st.heal_steps = step;
            sim_check_stable(s);
            sim_settle_reads(s);
            sim_check_resend(s);
            sim_check_final(s);
            return;
        }
    }
    if (!s->opts->skip_liveness && !sim_stop(s))
        sim_live_fail(s, bound);
}

/* ---- run ------------------------------------------------------------------ */

void sim_teardown(struct sim *s)
{
    for (unsigned i = 0; i < SIM_MAX_NODES; i++)
        if (s->nodes[i].sim != NULL)
            sim_node_free(&s->nodes[i]);
    sim_net_free(s);
    sim_check_free(s);
    sim_read_free(s);
    sim_conf_free(s);
}

int sim_run(const struct sim_opts *o, const struct sim_chooser *ch, char *err,
            size_t errlen)
{
    if (errlen > 0)
        err[0] = '\0';
    struct sim *s = calloc(1, sizeof *s);
    if (s == NULL) {
        if (errlen > 0)
            snprintf(err, errlen, "out of memory");
        return SIM_ERROR;
    }
    s->opts = o;
    s->ch = *ch;
    s->trace = o->trace;
    s->err = err;
    s->errlen = errlen;
    s->faults_on = true;
    if (o->svg != NULL && sim_svg_new(s) != 0) {
        free(s);
        if (errlen > 0)
            snprintf(err, errlen, "out of memory");
        return SIM_ERROR;
    }
    bool setup_ok = sim_setup(s, o) == 0;
    if (setup_ok) {
        sim_fault_phase(s);
        if (!sim_stop(s))
            sim_heal_phase(s);
    }
    s->st.events = s->event;
    sim_teardown(s); /* may still report a leak in the library */
    if (s->svg != NULL) {
        if (setup_ok && !s->oom)
            sim_svg_write(s, o->svg);
        sim_svg_free(s);
    }
    int rc = s->failed ? SIM_FAIL : SIM_PASS;
    if (s->oom) { /* the world is incomplete: no verdict on the library */
        if (errlen > 0)
            snprintf(err, errlen, "simulator out of memory");
        rc = SIM_ERROR;
    } else if (!setup_ok && !s->failed) {
        rc = SIM_ERROR; /* bad options; err says why */
    }
    if (o->stats != NULL)
        *o->stats = s->st;
    free(s);
    return rc;
}
