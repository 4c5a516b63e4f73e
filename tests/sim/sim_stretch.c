/*
 * sim_stretch.c - long-stretch link faults, one profile per run.
 *
 * The classic faults cut and heal links every few dozen steps; these keep
 * one node in trouble for hundreds of steps, long enough for many election
 * timeouts, then let it rejoin while the fault phase goes on:
 *   - deaf: the node can send but not receive (every link into it is cut);
 *   - mute: the node can receive but not send;
 *   - flap: some of its links (one or both ways) go down and up every
 *     1..6 steps;
 *   - isolate: the node is cut off from everyone;
 *   - split (lease runs only): a follower is cut off from the leader both
 *     ways, and the leader's replication stream to the other followers
 *     stalls (its AppendEntries and snapshot chunks are lost) while its
 *     heartbeat rounds, and everything else, get through, as if the host
 *     sent heartbeats on a connection of their own; once a follower votes
 *     for the cut-off one (or after two to three election timeouts), the
 *     leader is cut off from everyone instead, for two to three more;
 *   - slow disk (runs with asynchronous nodes, snapshots and five voters
 *     or more): a follower's disk stalls while its leader decides it needs
 *     a snapshot, then the leader is lost (below);
 *   - freeze (runs without leases): a settled leader stops (a clock
 *     pause) for two to four election timeouts while the others elect a
 *     leader and commit, then resumes without the ticks it missed (raft.h
 *     asks for them only for the lease), still leading; its clients keep
 *     asking it for reads (sim_read.c) until it hears of the later term,
 *     and a ReadIndex read answered without a round a majority echoed is
 *     stale.
 * Half the runs have none (a quarter of the lease runs, whose other
 * quarter gets the split; a quarter of the others, whose other quarter
 * gets the freeze; the runs that can have a slow disk get it instead of
 * none, deaf or mute). A run with a profile has 1..2 stretches (a split
 * profile 2..4, a freeze 2..4, a slow disk 3..7); the fault phase does
 * not end while one is active. A freeze waits for a settled leader and
 * holds the same faults back as a split (sim_split_pick,
 * sim_stretch_holds), client proposals only until it begins.
 * Stretch cuts are kept apart from s->cut, so a classic heal does not end
 * a stretch early.
 *
 * The split aims at the lease's hold-back. The other followers echo the
 * leader's rounds, on which its lease rests, and hear no AppendEntries;
 * each must ignore the cut-off follower's vote requests for an election
 * timeout after the latest round it echoed. One that counts from the last
 * AppendEntries instead votes an election timeout after the stall began,
 * while the leader's lease still runs: the cut-off follower wins and
 * commits, and the old leader, cut off at that vote, hears nothing of it
 * and serves a stale lease read. Clients ask the old leader for a read
 * once a step while another node leads a later term.
 *
 * A split wants a settled cluster. When one falls due, classic cuts (the
 * nemesis's too) heal and crashed nodes restart, and it begins once the
 * leader has committed an entry of its term and a majority of the voters
 * follow it with its whole log (sim_split_pick); after six election
 * timeouts without such a leader it comes due again later. From the
 * moment it is due until it ends, partitions, link cuts, crashes, clock
 * pauses, membership requests and nemesis strikes wait, and so do client
 * proposals until the old leader is cut off (sim_stretch_holds); an idle
 * disk event does not make time pass (sim.c), so that deliveries keep up
 * with the messages.
 *
 * A slow disk aims at an installation that keeps a log whose tail is not
 * yet on disk, then a truncation of that tail by a later leader: pending
 * writes must then still end in order (raft__durable_cut), or an older
 * write claims replaced entries durable and they are applied before they
 * are written. It waits, as a split does, for a settled leader with five
 * voters or more, and picks a follower with asynchronous writes holding
 * its whole log; then, in parts:
 *   1. gap: the leader's links but the one to the follower lag, and its
 *      next AppendEntries with entries to the follower is held back a
 *      few steps; once a majority has been sent more entries past it than
 *      the leader keeps behind its snapshots, the leader's stream to the
 *      others stalls, a burst of client requests reaches it, and its host
 *      compacts as soon as it applies;
 *   2. stall: from the follower's refusal of what followed the held-back
 *      message, its disk stalls (its answers wait). The leader probes it
 *      with the held-back entries and the burst, which only it gets,
 *      commits the rest with the others, compacts past its probe, and
 *      sends it the snapshot of an index it holds;
 *   3. isolated: once the follower installs it (or after four election
 *      timeouts), the leader is cut off from everyone for four to six
 *      election timeouts; the others elect a leader without the burst,
 *      which truncates the follower's tail while its writes still wait;
 *   4. slow: the links heal, and for four election timeouts each write of
 *      the follower takes a few heartbeat intervals, so that entries it
 *      appends next are still pending when the new leader's commit index
 *      reaches them (an entry applied before it is durable is caught).
 * Faults wait as for a split, except client proposals once it begins.
 */
#include <string.h>

#include "sim_int.h"

static const char *const sim_stretch_names[SIM_STRETCH_COUNT] = {
    "none", "deaf", "mute", "flap", "isolate", "split", "slow disk",
    "freeze"};

static unsigned long long sim_ull(uint64_t x)
{
    return (unsigned long long)x;
}

/* A slow disk's scenario needs a node with asynchronous writes, a leader
 * that compacts, and a majority of voters without the leader and that
 * node (five voters or more). */
static bool sim_disk_fits(const struct sim *s)
{
    return s->any_async && s->snap_trailing > 0 && s->n_boot >= 5;
}

void sim_stretch_setup(struct sim *s)
{
    struct sim_stretch *x = &s->stretch;
    memset(x, 0, sizeof *x);
    uint64_t k = sim_choose(s, 8);
    if (s->lease && s->n >= 3 && (k == 2 || k == 3)) {
        /* A quarter of the lease runs: their part of the runs without a
         * profile (the other runs draw as before). */
        x->kind = SIM_STRETCH_SPLIT;
        x->left = 2 + (unsigned)sim_choose(s, 3);
    } else if (k < 6 && sim_disk_fits(s)) {
        /* The runs that can have it (asynchronous nodes, snapshots, five
         * voters or more): their part of the runs without a profile or
         * with a deaf or mute one (the other runs draw as before). */
        x->kind = SIM_STRETCH_DISK;
        x->left = 3 + (unsigned)sim_choose(s, 5);
    } else if (!s->lease && s->n >= 3 && (k == 2 || k == 3)) {
        /* A quarter of the runs without leases and without a slow disk:
         * their part of the runs without a profile (the other runs draw
         * as before). */
        x->kind = SIM_STRETCH_FREEZE;
        x->left = 2 + (unsigned)sim_choose(s, 3);
    } else if (s->n < 2 || k < 4) {
        return;
    } else {
        x->kind = SIM_STRETCH_DEAF + (int)(k - 4);
        x->left = 1 + (unsigned)sim_choose(s, 2);
    }
    x->next = s->now + sim_choose(s, 100);
    sim_tracef(s, "stretch profile: %s, %u stretches, the first at step %llu",
               sim_stretch_names[x->kind], x->left, sim_ull(x->next));
}

/*
 * A split's leader and follower: the running leader of the highest term,
 * once it has committed an entry of its term and a majority of the voters
 * of its configuration (three or more, not joint) follow it and hold its
 * whole log; and one of those followers. False until there are: the split
 * waits, and the faults that would keep a leader from settling, and the
 * client proposals that would keep its followers from catching up, wait
 * with it (sim_stretch_holds).
 */
static bool sim_split_pick(struct sim *s)
{
    struct sim_stretch *x = &s->stretch;
    struct sim_node *l = NULL;
    for (unsigned i = 0; i < s->n; i++) {
        struct sim_node *nd = &s->nodes[i];
        if (sim_node_running(nd) && raft_role(nd->r) == RAFT_LEADER &&
            (l == NULL || raft_current_term(nd->r) > raft_current_term(l->r)))
            l = nd;
    }
    if (l == NULL)
        return false;
    /* A leader that serves reads: it has committed an entry of its term. */
    raft_term t = raft_current_term(l->r);
    struct raft_status ls;
    raft_status(l->r, &ls);
    if (ls.commit < sim_conf_first_of_term(l, t))
        return false;
    struct sim_conf c;
    sim_conf_of(l, &c);
    unsigned voters = sim_conf_count(&c, RAFT_MEMBER_VOTER);
    if (voters < 3 || sim_conf_is_joint(&c))
        return false;
    raft_id pick[SIM_MAX_NODES];
    unsigned k = 0;
    for (unsigned i = 0; i < s->n; i++) {
        struct sim_node *nd = &s->nodes[i];
        struct raft_status st;
        if (nd == l || !sim_conf_is_voter(&c, nd->id) || !sim_node_running(nd))
            continue;
        raft_status(nd->r, &st);
        if (st.term == t && st.leader == l->id && st.last_term == t &&
            st.last_index == ls.last_index)
            pick[k++] = nd->id;
    }
    /* The leader and the others make a majority (its lease), and so do
     * the cut-off follower and the others (its election). */
    if (k < voters / 2 + 1)
        return false;
    x->leader = l->id;
    x->node = pick[sim_choose(s, k)];
    return true;
}

/*
 * A slow disk's leader and follower: a split's leader (sim_split_pick),
 * with five voters or more in its configuration, and a voter with
 * asynchronous writes that follows it holding its whole log. False until
 * there are.
 */
static bool sim_disk_pick(struct sim *s)
{
    struct sim_stretch *x = &s->stretch;
    /* A split's leader and follower, but for the follower's disk. */
    if (!sim_split_pick(s))
        return false;
    struct sim_node *l = &s->nodes[x->leader - 1];
    struct raft_status ls;
    struct sim_conf c;
    raft_status(l->r, &ls);
    sim_conf_of(l, &c);
    unsigned voters = sim_conf_count(&c, RAFT_MEMBER_VOTER);
    if (voters < 5)
        return false;
    x->quorum = voters / 2;
    raft_id pick[SIM_MAX_NODES];
    unsigned k = 0;
    for (unsigned i = 0; i < s->n; i++) {
        struct sim_node *nd = &s->nodes[i];
        struct raft_status st;
        if (nd == l || !nd->async || !sim_node_running(nd) ||
            !sim_conf_is_voter(&c, nd->id))
            continue;
        raft_status(nd->r, &st);
        if (st.leader == l->id && st.last_index == ls.last_index)
            pick[k++] = nd->id;
    }
    if (k == 0)
        return false;
    x->node = pick[sim_choose(s, k)];
    return true;
}

/* Steps of the last part of a split or a slow disk, in which the leader
 * is cut off from everyone: two to three election timeouts (of the
 * slowest clock), room for an election or two. */
static uint64_t sim_stretch_after(struct sim *s)
{
    uint64_t after = s->cfg.election_ticks * (2 + sim_choose(s, 2));
    return s->skewed ? after * 3 / 2 : after;
}

static void sim_stretch_begin(struct sim *s)
{
    struct sim_stretch *x = &s->stretch;
    uint64_t len;
    if (x->kind == SIM_STRETCH_SPLIT) {
        if (!sim_split_pick(s))
            return; /* tried again at the next step */
        /* The stall lasts until a follower grants the cut-off one its
         * vote (sim_stretch_on_send), at most two to three election
         * timeouts; then the leader is cut off from everyone for two to
         * three more (of the slowest clock): room for an election or two. */
        uint64_t e = s->cfg.election_ticks;
        uint64_t stall = e * (2 + sim_choose(s, 2));
        x->after = sim_stretch_after(s);
        if (s->skewed)
            stall = stall * 3 / 2;
        x->active = true;
        x->due = false;
        x->isolated = false;
        x->isolate_due = false;
        x->left--;
        x->end = s->now + stall + x->after;
        s->st.stretches++;
        sim_tracef(s, "stretch: node %llu split from leader %llu, whose "
                   "replication to the others stalls until a follower "
                   "votes for node %llu or step %llu", sim_ull(x->node),
                   sim_ull(x->leader), sim_ull(x->node),
                   sim_ull(s->now + stall));
        return;
    }
    if (x->kind == SIM_STRETCH_FREEZE) {
        if (!sim_split_pick(s))
            return; /* tried again at the next step */
        /* The leader stops for two to four election timeouts (of the
         * slowest clock), like a clock pause (sim_read.c), but it resumes
         * without the ticks it missed (sim_stretch_catchup): without
         * leases no read may depend on them. The stretch goes on for an
         * election timeout after the resume, while clients still ask it
         * (sim_read_step). */
        struct sim_node *l = &s->nodes[x->leader - 1];
        uint64_t e = s->cfg.election_ticks;
        uint64_t span = e * (2 + sim_choose(s, 3));
        if (s->skewed)
            span = span * 3 / 2;
        l->paused_until = s->now + span;
        l->missed = 0;
        x->active = true;
        x->due = false;
        x->left--;
        x->end = l->paused_until + (s->skewed ? e * 3 / 2 : e);
        s->st.stretches++;
        sim_tracef(s, "stretch: leader %llu freezes until step %llu, then "
                   "resumes without the ticks it missed",
                   sim_ull(x->leader), sim_ull(l->paused_until));
        if (s->svg != NULL)
            sim_svg_mark(s, l->id, SIM_SVG_MARK_PAUSE);
        return;
    }
    if (x->kind == SIM_STRETCH_DISK) {
        if (!sim_disk_pick(s))
            return; /* tried again at the next step */
        /* The leader's links, but the one to the follower, lag 2..5
         * steps, and its next AppendEntries with entries to the follower
         * waits 1..lag steps: the follower refuses what follows it, and
         * the held-back entries reach its disk after the refusal. In the
         * last part each of its writes takes five heartbeat intervals and
         * 5..15 steps. */
        x->lag = 2 + sim_choose(s, 4);
        x->hold = 1 + sim_choose(s, x->lag);
        x->slow = 5 * (uint64_t)s->cfg.heartbeat_ticks + 5 + sim_choose(s, 11);
        x->held = false;
        x->stall_event = 0;
        memset(x->past, 0, sizeof x->past);
        x->n_past = 0;
        x->burst = 0;
        x->due = false;
        x->part = SIM_DISK_GAP;
        x->after = 2 * sim_stretch_after(s);
        x->active = true;
        x->isolated = false;
        x->left--;
        x->end = s->now + 8 * x->lag + x->after;
        s->st.stretches++;
        sim_tracef(s, "stretch: node %llu's leader %llu: its other links "
                   "lag %llu steps, and its next entries to node %llu wait "
                   "%llu steps", sim_ull(x->node), sim_ull(x->leader),
                   sim_ull(x->lag), sim_ull(x->node), sim_ull(x->hold));
        return;
    }
    x->active = true;
    x->left--;
    x->node = 1 + (raft_id)sim_choose(s, s->n);
    x->down = true;
    switch (x->kind) {
    case SIM_STRETCH_FLAP:
        memset(x->peer, 0, sizeof x->peer);
        for (unsigned b = 1; b <= s->n; b++)
            x->peer[b] = b != x->node && sim_choose(s, 2) == 0;
        x->peer[x->node == 1 ? 2 : 1] = true; /* at least one */
        x->both_ways = sim_choose(s, 2) == 0;
        x->period = 1 + (unsigned)sim_choose(s, 6);
        len = 100 + sim_choose(s, 301);
        break;
    case SIM_STRETCH_ISOLATE:
        len = 200 + sim_choose(s, 301);
        break;
    default: /* deaf, mute */
        len = 200 + sim_choose(s, 601);
        break;
    }
    x->end = s->now + len;
    s->st.stretches++;
    sim_tracef(s, "stretch: node %llu %s until step %llu", sim_ull(x->node),
               sim_stretch_names[x->kind], sim_ull(x->end));
}

/* Steps a due split waits for a ready leader (sim_split_pick). */
static uint64_t sim_split_wait(const struct sim *s)
{
    uint64_t w = 6 * (uint64_t)s->cfg.election_ticks;
    return s->skewed ? w * 3 / 2 : w;
}

/* The split's second part: its leader is cut off from everyone. */
static void sim_split_isolate(struct sim *s, const char *why)
{
    struct sim_stretch *x = &s->stretch;
    x->isolated = true;
    x->isolate_due = false;
    x->part = SIM_DISK_ISOLATED;
    x->end = s->now + x->after;
    sim_tracef(s, "stretch: %s: leader %llu cut off from everyone until "
               "step %llu", why, sim_ull(x->leader), sim_ull(x->end));
}

void sim_stretch_on_send(struct sim *s, const struct raft_msg *m)
{
    struct sim_stretch *x = &s->stretch;
    if (x->active && x->kind == SIM_STRETCH_DISK && x->part == SIM_DISK_GAP &&
        x->held && m->type == RAFT_MSG_APPEND_RESP &&
        !m->u.append_resp.success && m->from == x->node && m->to == x->leader) {
        /* The follower refuses what followed the held-back message: its
         * disk stalls (its answers wait for its writes from now on). */
        x->part = SIM_DISK_STALL;
        /* Until the follower installs a snapshot; at most four election
         * timeouts, room for a stream of many chunks. */
        x->end = s->now + 2 * sim_split_wait(s) / 3 + x->after;
        sim_tracef(s, "stretch: node %llu refuses: its disk stalls",
                   sim_ull(x->node));
        return;
    }
    if (x->active && x->kind == SIM_STRETCH_SPLIT && !x->isolated &&
        m->type == RAFT_MSG_VOTE_RESP && m->u.vote_resp.granted &&
        m->to == x->node)
        sim_split_isolate(s, "a follower grants its vote");
}

void sim_stretch_step(struct sim *s, bool may_start)
{
    struct sim_stretch *x = &s->stretch;
    if (x->kind == SIM_STRETCH_NONE)
        return;
    if (x->active && x->kind == SIM_STRETCH_DISK &&
        x->part == SIM_DISK_ISOLATED && s->now >= x->end) {
        /* The leader rejoins; the follower's disk stays slow a while. */
        x->part = SIM_DISK_SLOW;
        x->isolated = false;
        x->end = s->now + 2 * sim_split_wait(s) / 3;
        sim_tracef(s, "stretch: leader %llu rejoins; node %llu's writes take "
                   "%llu steps until step %llu", sim_ull(x->leader),
                   sim_ull(x->node), sim_ull(x->slow), sim_ull(x->end));
    } else if (x->active && s->now >= x->end) {
        x->active = false;
        /* Splits come closer together: each waits for a leader. */
        x->next = s->now + (x->kind == SIM_STRETCH_SPLIT ||
                                    x->kind == SIM_STRETCH_FREEZE
                                ? 10 + sim_choose(s, 50)
                                : 20 + sim_choose(s, 200));
        sim_tracef(s, "stretch: node %llu rejoins", sim_ull(x->node));
    } else if (x->active && x->kind == SIM_STRETCH_FLAP &&
               s->now % x->period == 0) {
        x->down = !x->down;
    } else if (x->active && !x->isolated &&
               (x->kind == SIM_STRETCH_SPLIT ||
                (x->kind == SIM_STRETCH_DISK && x->part == SIM_DISK_STALL) ||
                (x->kind == SIM_STRETCH_DISK && x->part == SIM_DISK_GAP)) &&
               s->now + x->after >= x->end) {
        /* A split's cut comes right after an echo, so the round a
         * follower heard last is the one the lease rests on; or an
         * election timeout later if no echo comes. */
        if (x->kind != SIM_STRETCH_SPLIT)
            sim_split_isolate(s, "time is up");
        else if (!x->isolate_due)
            x->isolate_due = true;
        else if (s->now + x->after >= x->end + s->cfg.election_ticks)
            sim_split_isolate(s, "the stall is over");
    } else if (x->due && s->now >= x->next + sim_split_wait(s)) {
        /* No leader was ready: the faults resume, the split comes due
         * again later. */
        x->due = false;
        x->next = s->now + 10 + sim_choose(s, 50);
        sim_tracef(s, "stretch: no leader ready for the split, due again at "
                   "step %llu", sim_ull(x->next));
    } else if (!x->active && x->left > 0 && s->now >= x->next && may_start) {
        if ((x->kind == SIM_STRETCH_SPLIT || x->kind == SIM_STRETCH_DISK ||
             x->kind == SIM_STRETCH_FREEZE) &&
            !x->due) {
            /* A split falls due: classic cuts (the nemesis's too) heal
             * and crashed nodes restart, so that a leader can settle
             * while it waits. */
            x->due = true;
            memset(s->cut, 0, sizeof s->cut);
            sim_tracef(s, "stretch: a %s is due: all links heal, crashed "
                       "nodes restart", sim_stretch_names[x->kind]);
            for (unsigned i = 0; i < s->n && !s->failed && !s->oom; i++)
                if (s->nodes[i].started && !sim_node_alive(&s->nodes[i]))
                    sim_node_start(&s->nodes[i], true);
        }
        sim_stretch_begin(s);
    }
}

bool sim_stretch_busy(const struct sim *s)
{
    return s->stretch.active;
}

bool sim_stretch_cut(const struct sim *s, raft_id from, raft_id to)
{
    const struct sim_stretch *x = &s->stretch;
    if (!x->active)
        return false;
    switch (x->kind) {
    case SIM_STRETCH_DEAF:    return to == x->node;
    case SIM_STRETCH_MUTE:    return from == x->node;
    case SIM_STRETCH_ISOLATE: return from == x->node || to == x->node;
    case SIM_STRETCH_FLAP:
        return x->down && ((from == x->node && x->peer[to]) ||
                           (x->both_ways && to == x->node && x->peer[from]));
    case SIM_STRETCH_DISK:
        return x->isolated && (from == x->leader || to == x->leader);
    case SIM_STRETCH_SPLIT:
        if (x->isolated)
            return from == x->leader || to == x->leader;
        return (from == x->node && to == x->leader) ||
               (from == x->leader && to == x->node);
    default:
        return false;
    }
}

bool sim_stretch_quiet(const struct sim *s)
{
    const struct sim_stretch *x = &s->stretch;
    /* Active, or due and waiting for a leader that is ready. */
    return (x->kind == SIM_STRETCH_SPLIT || x->kind == SIM_STRETCH_DISK ||
            x->kind == SIM_STRETCH_FREEZE) &&
           (x->active || x->due);
}

bool sim_stretch_catchup(const struct sim *s, const struct sim_node *nd)
{
    const struct sim_stretch *x = &s->stretch;
    return !(x->active && x->kind == SIM_STRETCH_FREEZE && nd->id == x->leader);
}

bool sim_stretch_holds(const struct sim *s, int ev)
{
    if (!sim_stretch_quiet(s))
        return false;
    switch (ev) {
    case SIM_EV_PARTITION:
    case SIM_EV_CUT:
    case SIM_EV_CRASH:
    case SIM_EV_PAUSE:
    case SIM_EV_CONF:
        return true;
    case SIM_EV_PROPOSE: /* until a split's old leader is cut off, until a
                            slow disk begins */
        return !s->stretch.active ||
               (s->stretch.kind == SIM_STRETCH_SPLIT && !s->stretch.isolated);
    default:
        return false;
    }
}

bool sim_stretch_stalled(const struct sim *s, const struct sim_msg *sm)
{
    const struct sim_stretch *x = &s->stretch;
    const struct raft_msg *m = &sm->m;
    if (!x->active || x->isolated || m->from != x->leader ||
        (m->type != RAFT_MSG_APPEND && m->type != RAFT_MSG_SNAPSHOT))
        return false;
    if (x->kind == SIM_STRETCH_SPLIT)
        return true;
    return x->kind == SIM_STRETCH_DISK && x->part <= SIM_DISK_STALL &&
           x->stall_event != 0 && m->to != x->node &&
           sm->event > x->stall_event;
}

/* Until a slow disk's follower refuses, its leader's clients send the
 * requests of the burst one an event, and its host snapshots as soon as
 * it has applied more (a host that keeps its log short). */
static bool sim_disk_event(struct sim *s)
{
    struct sim_node *l = &s->nodes[s->stretch.leader - 1];
    struct raft_status st;
    if (s->stretch.part > SIM_DISK_STALL || !sim_node_running(l))
        return false;
    if (s->stretch.burst > 0) {
        s->stretch.burst--;
        sim_node_propose(l);
        return true;
    }
    raft_status(l->r, &st);
    if (st.applied <= st.snapshot_index)
        return false;
    sim_node_snapshot(l);
    return true;
}

/* The old leader is asked for a read (see below); else, once the stall is
 * over, due messages go before anything else: they take no time. */
static bool sim_split_read(struct sim *s);

bool sim_stretch_event(struct sim *s)
{
    struct sim_stretch *x = &s->stretch;
    if (x->active && x->kind == SIM_STRETCH_DISK)
        return sim_disk_event(s);
    if (!x->active || x->kind != SIM_STRETCH_SPLIT)
        return false;
    return sim_split_read(s) ||
           ((x->isolate_due || x->isolated) && sim_net_deliver_one(s));
}

static bool sim_split_read(struct sim *s)
{
    struct sim_stretch *x = &s->stretch;
    if (x->read_step == s->now && x->read_chain == s->chain_len)
        return false;
    struct sim_node *l = &s->nodes[x->leader - 1];
    if (!sim_node_running(l) || raft_role(l->r) != RAFT_LEADER)
        return false;
    raft_term t = raft_current_term(l->r);
    bool later = false;
    for (unsigned i = 0; i < s->n; i++) {
        const struct sim_node *nd = &s->nodes[i];
        later |= sim_node_running(nd) && raft_role(nd->r) == RAFT_LEADER &&
                 raft_current_term(nd->r) > t;
    }
    /* While a later leader writes, the old one is asked once a step, and
     * again whenever the committed chain grows: a stale read, if any,
     * comes before it hears of that term (or its lease ends). */
    if (!later)
        return false;
    x->read_step = s->now;
    x->read_chain = s->chain_len;
    sim_read_ask(l);
    return true;
}

void sim_stretch_on_deliver(struct sim *s, const struct raft_msg *m)
{
    struct sim_stretch *x = &s->stretch;
    if (!x->active || x->kind != SIM_STRETCH_SPLIT)
        return;
    if (m->from == x->leader)
        s->nodes[m->to - 1].heard = s->nodes[m->to - 1].ticks;
    if (x->isolate_due && m->to == x->leader &&
        m->type == RAFT_MSG_HEARTBEAT_RESP)
        sim_split_isolate(s, "the stall is over, the leader got an echo");
}

/*
 * Once the stall is over, the split aims at the edge of the leader's
 * lease: messages take no time (until the cut, which comes right after
 * an echo, so also the last round before it; then among the others), and the cut-off node's vote
 * requests reach a follower just after the tick that ends its hold-back
 * (an election timeout after the last message it got from the leader), so
 * that the election, and the new leader's first commit, fall within one
 * tick of the end of the old leader's lease.
 */
bool sim_stretch_fast(const struct sim *s, const struct raft_msg *m)
{
    const struct sim_stretch *x = &s->stretch;
    if (!x->active || x->kind != SIM_STRETCH_SPLIT)
        return false;
    if (!x->isolated) /* the round before the cut, and its echo */
        return x->isolate_due;
    return m->from != x->leader && m->to != x->leader;
}

bool sim_stretch_waits(const struct sim *s, const struct raft_msg *m)
{
    const struct sim_stretch *x = &s->stretch;
    const struct sim_node *nd = &s->nodes[m->to - 1];
    return x->active && x->kind == SIM_STRETCH_SPLIT && x->isolated &&
           m->from == x->node &&
           (m->type == RAFT_MSG_PREVOTE || m->type == RAFT_MSG_VOTE) &&
           nd->ticks - nd->heard < s->cfg.election_ticks;
}

void sim_stretch_stop(struct sim *s)
{
    s->stretch.active = false;
    s->stretch.due = false;
    s->stretch.left = 0;
}

uint64_t sim_stretch_delay(struct sim *s, const struct raft_msg *m)
{
    struct sim_stretch *x = &s->stretch;
    if (!x->active || x->kind != SIM_STRETCH_DISK || x->part > SIM_DISK_STALL ||
        (m->from != x->leader && m->to != x->leader))
        return 0;
    if (m->from == x->node && x->part != SIM_DISK_GAP)
        return 0; /* the follower's answers to the snapshot stream */
    bool entries = m->type == RAFT_MSG_APPEND && m->u.append.n_entries > 0;
    if (m->from != x->leader || m->to != x->node) {
        /* Once a majority (with the leader) has been sent more entries
         * past the gap than the leader keeps behind its snapshots, its
         * stream to the others stalls: what it sends them after this call
         * is lost, and a burst of client requests reaches it. Those
         * entries reach the follower alone, with its next probe. */
        if (x->held && x->stall_event == 0 && entries && m->from == x->leader &&
            m->u.append.prev_index + m->u.append.n_entries >
                x->gap + s->snap_trailing && !x->past[m->to]) {
            x->past[m->to] = true;
            if (++x->n_past >= x->quorum) {
                x->stall_event = s->event;
                x->burst = 4 + (unsigned)sim_choose(s, 6);
                sim_tracef(s, "stretch: leader %llu's replication to the others "
                           "stalls; %u client requests reach it",
                           sim_ull(x->leader), x->burst);
            }
        }
        return x->lag;
    }
    if (x->held || !entries)
        return 0;
    x->held = true;
    x->gap = m->u.append.prev_index;
    sim_tracef(s, "stretch: held back %llu steps", sim_ull(x->hold));
    return x->hold;
}

size_t sim_stretch_disk_ready(const struct sim *s, const struct sim_node *nd)
{
    const struct sim_stretch *x = &s->stretch;
    if (!x->active || x->kind != SIM_STRETCH_DISK || nd->id != x->node ||
        x->part == SIM_DISK_GAP)
        return nd->pend_len;
    size_t k = 0;
    while (x->part == SIM_DISK_SLOW && k < nd->pend_len &&
           nd->pend[k].at + x->slow <= s->now)
        k++;
    return k;
}

void sim_stretch_on_install(struct sim *s, const struct sim_node *nd)
{
    const struct sim_stretch *x = &s->stretch;
    if (x->active && x->kind == SIM_STRETCH_DISK && x->part == SIM_DISK_STALL &&
        nd->id == x->node)
        sim_split_isolate(s, "the follower installs a snapshot");
}

bool sim_stretch_ordered(const struct sim *s, const struct raft_msg *m)
{
    const struct sim_stretch *x = &s->stretch;
    return x->active && x->kind == SIM_STRETCH_DISK &&
           x->part <= SIM_DISK_STALL && m->from == x->node && m->to == x->leader;
}
