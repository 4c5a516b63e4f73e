/*
 * sim_read.c - linearizable reads (raft_read_index), lease reads and clock
 * pauses.
 *
 * Clients ask random running nodes, leaders and followers, for reads at
 * random times, and a new leader is often asked at once (a read burst),
 * which is when its commit index is most likely behind. Each read records
 * the committed chain's length when it was asked for: every entry any node
 * had reported committed by then, so every write a client could have seen
 * acknowledged. When the read settles with status 0 the node's state
 * machine (the hash chain up to nd->applied) must include all of them:
 * that is the "Linearizable reads" property, checked at every settlement.
 * Every accepted read settles exactly once, on the node and incarnation
 * that accepted it, unless that node crashes first (its pending reads go
 * with it); after the heal phase none may be left pending on a live node.
 *
 * Lease reads (a third of the runs): every node runs with cfg.lease_reads
 * and a lease_drift_ticks that covers the run's clock skew (see
 * sim_lease_drift). A clock pause freezes one node (no ticks, no calls, no
 * messages to or from it) for longer than an election timeout; per the
 * contract in raft.h the host then hands it the ticks it missed before
 * anything else. With opts.no_catchup it does not, which breaks that
 * assumption: a paused leader then resumes believing its lease still
 * holds, and serves stale reads that this checker reports.
 */
#include <stdint.h>
#include <stdlib.h>

#include "sim_int.h"

static unsigned long long sim_ull(uint64_t x)
{
    return (unsigned long long)x;
}

/*
 * Lease runs' clocks, at the edge of the timing assumption in raft.h: no
 * node ticks faster than the leader by more than lease_drift_ticks (d) per
 * election_ticks (E) of the leader's. Each node ticks at a constant rate
 * with a phase of its own: every `period` units of s->clock (clock_unit
 * units a step), the fastest period E * SIM_CLOCK_GRAIN and the slowest
 * (E + d) * SIM_CLOCK_GRAIN, so the fastest clock runs exactly (E + d) / E
 * times the slowest. Ticks fall anywhere within a step, and in the fault
 * phase events happen between them: a round may leave just after one of
 * the leader's ticks and reach a follower just before one of its own.
 * Jitter ticks (SIM_EV_TICK) are off, as no drift bound covers them.
 *
 * Without skew the slowest clock ticks once a step and d is at most E/4
 * (the default), so the fastest ticks at most 5/4 a step: a follower still
 * counts at most 5(h + 1)/4 + 1 < h + 4 ticks between heartbeats, and the
 * heal phase's bounds (sim.c) hold. With skew the rates stay within 2/3
 * and 3/2 a step, d up to E - 2, half the time 1 or 2: the lease is safe
 * at the edge only thanks to the tick the library takes off beside the
 * drift when d * d < E, the runs that can catch its absence.
 */
#define SIM_CLOCK_GRAIN 16

static unsigned sim_lease_drift(struct sim *s)
{
    unsigned e = s->cfg.election_ticks;
    if (!s->skewed)
        return 1 + (unsigned)sim_choose(s, e / 4 > 1 ? e / 4 : 1);
    if (sim_choose(s, 2) == 0)
        return 1 + (unsigned)sim_choose(s, 2);
    return 1 + (unsigned)sim_choose(s, e - 2);
}

static void sim_clock_setup(struct sim *s)
{
    uint64_t e = s->cfg.election_ticks, d = s->cfg.lease_drift_ticks;
    s->clock_fast = e * SIM_CLOCK_GRAIN;
    s->clock_slow = (e + d) * SIM_CLOCK_GRAIN;
    if (!s->skewed) {
        s->clock_unit = s->clock_slow;
    } else {
        uint64_t lo = (2 * s->clock_slow + 2) / 3, hi = 3 * s->clock_fast / 2;
        s->clock_unit = lo + sim_choose(s, hi - lo + 1);
    }
    s->clock = s->now * s->clock_unit;
}

/* A node's clock: its period, drawn once (slow, fast or between), and a
 * phase drawn at every start. */
static void sim_clock_phase(struct sim *s, struct sim_node *nd)
{
    if (nd->period == 0) {
        uint64_t k = sim_choose(s, 8), span = s->clock_slow - s->clock_fast;
        nd->period = k < 3 ? s->clock_slow
                     : k < 6 ? s->clock_fast
                             : s->clock_fast + sim_choose(s, span + 1);
    }
    nd->tick_at = s->clock + 1 + sim_choose(s, nd->period);
    sim_tracef(s, "clock: node %llu ticks every %llu/%llu steps, next at "
               "step %llu + %llu/%llu", sim_ull(nd->id), sim_ull(nd->period),
               sim_ull(s->clock_unit), sim_ull(nd->tick_at / s->clock_unit),
               sim_ull(nd->tick_at % s->clock_unit), sim_ull(s->clock_unit));
}

/* The next tick of a live node, or the next step, whichever comes first. */
static uint64_t sim_clock_next(struct sim *s)
{
    uint64_t p = (s->now + 1) * s->clock_unit;
    for (unsigned i = 0; i < s->n; i++) {
        struct sim_node *nd = &s->nodes[i];
        if (!sim_node_alive(nd))
            continue;
        if (nd->tick_at <= s->clock) /* started since it last ticked */
            sim_clock_phase(s, nd);
        if (nd->tick_at < p)
            p = nd->tick_at;
    }
    return p;
}

/* Time passes to t, which is no later than the next tick or step. */
static void sim_clock_at(struct sim *s, uint64_t t)
{
    s->clock = t;
    if (t == (s->now + 1) * s->clock_unit)
        sim_step_begin(s);
    unsigned start = (unsigned)sim_choose(s, s->n);
    for (unsigned k = 0; k < s->n && !s->failed && !s->oom; k++) {
        struct sim_node *nd = &s->nodes[(start + k) % s->n];
        if (!sim_node_alive(nd) || nd->tick_at != t)
            continue;
        nd->tick_at += nd->period;
        nd->ticks++;
        if (nd->paused_until != 0)
            nd->missed++;
        else
            sim_node_tick(nd);
    }
}

void sim_clock_step(struct sim *s)
{
    if (s->faults_on) {
        sim_clock_at(s, sim_clock_next(s));
        return;
    }
    /* A whole step: the rest of this one, and the next, whose messages
     * are then delivered at its end. */
    uint64_t end = (s->now + 2) * s->clock_unit - 1;
    for (uint64_t t = sim_clock_next(s); t <= end && !s->failed && !s->oom;
         t = sim_clock_next(s))
        sim_clock_at(s, t);
    s->clock = end;
}

void sim_read_setup(struct sim *s)
{
    uint32_t *w = s->f.weight;
    s->catchup = !s->opts->no_catchup;
    s->lease = sim_choose(s, 3) == 0;
    w[SIM_EV_READ] = sim_choose(s, 8) == 0 ? 0 : 5 + (uint32_t)sim_choose(s, 46);
    s->rburst_max = sim_choose(s, 2) == 0 ? 0 : 1 + (unsigned)sim_choose(s, 3);
    uint32_t pause = 1 + (uint32_t)sim_choose(s, 3);
    if (s->lease) {
        s->cfg.lease_reads = true;
        s->cfg.lease_drift_ticks = sim_lease_drift(s);
        sim_clock_setup(s);
        /* Extra ticks of one node at random would make its clock run
         * faster than any bound: the lease assumption excludes that. */
        w[SIM_EV_TICK] = 0;
        /* A step takes a time event per tick of a voter (about one a
         * node) and one to begin. */
        w[SIM_EV_STEP] *= s->n_boot + 1;
        w[SIM_EV_PAUSE] = pause;
        s->st.lease_runs = 1;
    } else {
        w[SIM_EV_PAUSE] = sim_choose(s, 3) == 0 ? pause : 0;
    }
    s->f.weight_total = 0;
    for (int i = 0; i < SIM_EV_COUNT; i++)
        s->f.weight_total += w[i];
    sim_tracef(s, "reads: weight %u, burst 0..%u, lease %d (drift %u), "
               "pauses %u, catch-up ticks %d", w[SIM_EV_READ], s->rburst_max,
               (int)s->lease, s->cfg.lease_drift_ticks, w[SIM_EV_PAUSE],
               (int)s->catchup);
}

/* ---- asking and settling -------------------------------------------------- */

static struct sim_read *sim_read_new(struct sim *s, size_t *id)
{
    struct sim_read *p = sim_grow(s, s->reads, &s->reads_cap,
                                  s->reads_len + 1, sizeof *p);
    if (p == NULL)
        return NULL;
    s->reads = p;
    *id = ++s->reads_len;
    return &p[*id - 1];
}

void sim_read_ask(struct sim_node *nd)
{
    struct sim *s = nd->sim;
    struct raft_status before;
    size_t id;
    struct sim_read *x = sim_read_new(s, &id);
    if (x == NULL)
        return;
    raft_status(nd->r, &before);
    *x = (struct sim_read){nd->id, nd->incarnation, s->chain_len, s->event + 1,
                           SIM_READ_PENDING};
    nd->reads_pending++;
    s->st.reads++;
    sim_call_begin(s);
    sim_tracef(s, "read %zu asked of node %llu (role %d, committed %llu)", id,
               sim_ull(nd->id), before.role, sim_ull(s->chain_len));
    /* The id travels as the request pointer. */
    int rc = raft_read_index(nd->r, (void *)(uintptr_t)id);
    if (rc != 0)
        sim_tracef(s, "  [%llu] read %zu -> %s", sim_ull(nd->id), id,
                   raft_strerror(rc));
    x = &s->reads[id - 1]; /* the callback cannot grow the table, but be plain */
    sim_conf_check_etransfer(nd, "raft_read_index", rc, &before);
    if (rc == 0 || rc == RAFT_EAPPLY) {
        sim_check_rc(nd, "raft_read_index", rc, 0);
    } else {
        s->st.reads_refused++;
        if (x->state != SIM_READ_PENDING)
            sim_fail(s, "Reads", "node %llu settled read %zu although "
                     "raft_read_index refused it (%s)", sim_ull(nd->id), id,
                     raft_strerror(rc));
        else
            nd->reads_pending--;
        x->state = SIM_READ_REFUSED;
        if (rc == RAFT_ENOTLEADER) {
            if (before.role == RAFT_LEADER ||
                (before.role == RAFT_FOLLOWER && before.leader != 0))
                sim_fail(s, "Return code", "raft_read_index on node %llu "
                         "(role %d, leader %llu) returned RAFT_ENOTLEADER",
                         sim_ull(nd->id), before.role, sim_ull(before.leader));
        } else if (rc != RAFT_EFULL && rc != RAFT_ETRANSFER) {
            sim_check_rc(nd, "raft_read_index", rc, 0);
        }
    }
    sim_check_node(nd);
}

void sim_read_cb(struct raft *r, void *ctx, void *req, raft_index index,
                 int status)
{
    struct sim_node *nd = ctx;
    struct sim *s = nd->sim;
    uintptr_t id = (uintptr_t)req;
    if (r != nd->r) {
        sim_fail(s, "API", "read callback of node %llu got another node's "
                 "handle", sim_ull(nd->id));
        return;
    }
    if (id == 0 || id > s->reads_len) {
        sim_fail(s, "Reads", "node %llu settles a read it was never asked "
                 "for (req %llu)", sim_ull(nd->id), sim_ull(id));
        return;
    }
    struct sim_read *x = &s->reads[id - 1];
    sim_tracef(s, "  [%llu] read %llu settled: index %llu status %s, applied "
               "%llu, committed when asked %llu", sim_ull(nd->id), sim_ull(id),
               sim_ull(index), status == 0 ? "ok" : raft_strerror(status),
               sim_ull(nd->applied), sim_ull(x->committed));
    if (x->node != nd->id || x->incarnation != nd->incarnation ||
        x->state != SIM_READ_PENDING) {
        sim_fail(s, "Reads", "node %llu (incarnation %llu) settles read "
                 "%llu of node %llu (incarnation %llu) in state %d: a read "
                 "settles once, where it was accepted", sim_ull(nd->id),
                 sim_ull(nd->incarnation), sim_ull(id), sim_ull(x->node),
                 sim_ull(x->incarnation), x->state);
        return;
    }
    nd->reads_pending--;
    if (status == RAFT_ELEADERLOST && index == 0) {
        x->state = SIM_READ_FAILED;
        s->st.reads_failed++;
        nd->tally.reads_failed++;
        return;
    }
    if (status != 0) {
        sim_fail(s, "Reads", "node %llu settles read %llu with status %d "
                 "(%s), index %llu", sim_ull(nd->id), sim_ull(id), status,
                 raft_strerror(status), sim_ull(index));
        return;
    }
    x->state = SIM_READ_SERVED;
    s->st.reads_served++;
    nd->tally.reads_served++;
    if (index > nd->applied)
        sim_fail(s, "Reads", "node %llu serves read %llu at index %llu with "
                 "only %llu applied", sim_ull(nd->id), sim_ull(id),
                 sim_ull(index), sim_ull(nd->applied));
    else if (nd->applied < x->committed)
        sim_fail(s, "Linearizable reads", "node %llu (role %d, term %llu) "
                 "serves read %llu (asked at event %llu, when index %llu was "
                 "committed) from its state at index %llu (read index %llu)%s",
                 sim_ull(nd->id), raft_role(r), sim_ull(raft_current_term(r)),
                 sim_ull(id), sim_ull(x->event), sim_ull(x->committed),
                 sim_ull(nd->applied), sim_ull(index),
                 s->lease ? ", lease reads on" : "");
}

void sim_read_drop(struct sim_node *nd)
{
    struct sim *s = nd->sim;
    /* Bounded by the reads of the run; only when some are pending. */
    for (size_t i = 0; i < s->reads_len && nd->reads_pending > 0; i++) {
        struct sim_read *x = &s->reads[i];
        if (x->state == SIM_READ_PENDING && x->node == nd->id &&
            x->incarnation == nd->incarnation) {
            x->state = SIM_READ_DROPPED;
            nd->reads_pending--;
            s->st.reads_dropped++;
        }
    }
    nd->reads_pending = 0;
}

void sim_read_on_leader(struct sim_node *nd, raft_term term)
{
    struct sim *s = nd->sim;
    if (s->rburst_max == 0 || !s->faults_on)
        return;
    s->rburst_id = nd->id;
    s->rburst_term = term;
    s->rburst_left = 1 + (unsigned)sim_choose(s, s->rburst_max);
}

/*
 * A node that still leads term t while another running node leads a later
 * one: its clients have not heard of the change and keep asking it. It is
 * asked once a step, and again whenever the committed chain grows, until
 * it learns of the later term (or CheckQuorum deposes it). A read it
 * answers meanwhile without a round that a majority echoed misses what
 * the later leader committed. A split (sim_stretch.c) asks its old leader
 * itself. No draw: runs without two leaders at once are as before.
 */
static bool sim_read_stale_leader(struct sim *s)
{
    struct sim_node *old = NULL;
    raft_term hi = 0;
    if (s->f.weight[SIM_EV_READ] == 0 ||
        (s->stretch.kind == SIM_STRETCH_SPLIT && s->stretch.active))
        return false;
    for (unsigned i = 0; i < s->n; i++) {
        struct sim_node *nd = &s->nodes[i];
        if (!sim_node_running(nd) || raft_role(nd->r) != RAFT_LEADER)
            continue;
        raft_term t = raft_current_term(nd->r);
        if (t > hi)
            hi = t;
        if (old == NULL || t < raft_current_term(old->r))
            old = nd;
    }
    if (old == NULL || raft_current_term(old->r) == hi ||
        (s->stale_id == old->id && s->stale_step == s->now &&
         s->stale_chain == s->chain_len))
        return false;
    s->stale_id = old->id;
    s->stale_step = s->now;
    s->stale_chain = s->chain_len;
    sim_read_ask(old);
    return true;
}

bool sim_read_step(struct sim *s)
{
    if (sim_read_stale_leader(s))
        return true;
    if (s->rburst_left == 0)
        return false;
    struct sim_node *nd = &s->nodes[s->rburst_id - 1];
    if (!sim_node_running(nd) || raft_role(nd->r) != RAFT_LEADER ||
        raft_current_term(nd->r) != s->rburst_term) {
        s->rburst_left = 0;
        return false;
    }
    s->rburst_left--;
    sim_read_ask(nd);
    return true;
}

size_t sim_read_pending(const struct sim *s)
{
    size_t k = 0;
    for (unsigned i = 0; i < s->n; i++)
        if (sim_node_alive(&s->nodes[i]))
            k += s->nodes[i].reads_pending;
    return k;
}

void sim_read_fail_pending(struct sim *s)
{
    for (size_t i = 0; i < s->reads_len; i++) {
        const struct sim_read *x = &s->reads[i];
        const struct sim_node *nd = &s->nodes[x->node - 1];
        if (x->state == SIM_READ_PENDING && sim_node_alive(nd) &&
            x->incarnation == nd->incarnation) {
            struct raft_status st;
            raft_status(nd->r, &st);
            sim_fail(s, "Read settlement", "read %zu, asked of node %llu at "
                     "event %llu, never settled (%zu reads pending; node "
                     "%llu: role %d term %llu leader %llu commit %llu "
                     "applied %llu)", i + 1, sim_ull(x->node),
                     sim_ull(x->event), sim_read_pending(s), sim_ull(x->node),
                     st.role, sim_ull(st.term), sim_ull(st.leader),
                     sim_ull(st.commit), sim_ull(st.applied));
            return;
        }
    }
}

void sim_read_free(struct sim *s)
{
    free(s->reads);
    s->reads = NULL;
    s->reads_len = s->reads_cap = 0;
}

/* ---- clock pauses --------------------------------------------------------- */

/*
 * Freeze a running node, usually the leader, for longer than its lease:
 * two to four election timeouts of the slowest clock. Nothing calls it
 * meanwhile, and messages to and from it stay in flight (sim_net.c). One
 * node at a time.
 */
void sim_pause_one(struct sim *s)
{
    struct sim_node *pick[SIM_MAX_NODES];
    unsigned k = 0, lead = 0;
    for (unsigned i = 0; i < s->n; i++) {
        if (s->nodes[i].paused_until != 0)
            return;
        if (!sim_node_running(&s->nodes[i]))
            continue;
        if (raft_role(s->nodes[i].r) == RAFT_LEADER)
            lead = k + 1;
        pick[k++] = &s->nodes[i];
    }
    if (k == 0)
        return;
    struct sim_node *nd = lead != 0 && sim_choose(s, 4) != 0
                              ? pick[lead - 1]
                              : pick[sim_choose(s, k)];
    uint64_t e = s->cfg.election_ticks;
    uint64_t span = e * (2 + sim_choose(s, 3)) + sim_choose(s, e);
    if (s->skewed)
        span = span * 3 / 2;
    nd->paused_until = s->now + span;
    nd->missed = 0;
    s->event++;
    s->st.pauses++;
    sim_tracef(s, "pause node %llu (role %d) until step %llu",
               sim_ull(nd->id), raft_role(nd->r), sim_ull(nd->paused_until));
    if (s->svg != NULL)
        sim_svg_mark(s, nd->id, SIM_SVG_MARK_PAUSE);
}

/* The host resumes nd: first the ticks it missed (unless catch-up is
 * off), then, half the time, a read a client queued meanwhile.
 *
 * Only the lease needs the missed ticks (raft.h: its timing assumption).
 * Without leases a read must be safe whatever the clocks do, so half the
 * resumes of those runs skip them: a paused leader then comes back still
 * leading, its CheckQuorum count where it stopped, while the others have
 * elected a leader and committed more, and a read asked of it at once
 * must wait for a round that a majority echoes (a ReadIndex read answered
 * without one is stale). With catch-up ticks it steps down first, and the
 * read is refused. The draw is made at a resume, so runs without clock
 * pauses draw as before. */
static void sim_resume(struct sim *s, struct sim_node *nd)
{
    uint64_t missed = nd->missed;
    bool catchup = s->catchup && sim_stretch_catchup(s, nd);
    nd->paused_until = 0;
    nd->missed = 0;
    s->event++;
    if (catchup && !s->lease && s->faults_on && sim_choose(s, 2) == 0)
        catchup = false;
    sim_tracef(s, "resume node %llu: %s %llu missed ticks", sim_ull(nd->id),
               catchup ? "catching up" : "skipping", sim_ull(missed));
    if (s->svg != NULL)
        sim_svg_mark(s, nd->id, SIM_SVG_MARK_RESUME);
    for (uint64_t i = 0; catchup && i < missed && !s->failed && !s->oom &&
                         sim_node_alive(nd);
         i++)
        sim_node_tick(nd);
    if (s->faults_on && sim_node_running(nd) && !s->failed && !s->oom &&
        s->f.weight[SIM_EV_READ] != 0 && sim_choose(s, 2) == 0)
        sim_read_ask(nd);
}

void sim_pause_resume(struct sim *s, bool all)
{
    for (unsigned i = 0; i < s->n && !s->failed && !s->oom; i++) {
        struct sim_node *nd = &s->nodes[i];
        if (nd->paused_until != 0 && (all || s->now >= nd->paused_until))
            sim_resume(s, nd);
    }
}
