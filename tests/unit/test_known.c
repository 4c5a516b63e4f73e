/*
 * test_known.c - scenarios known to break Raft implementations around
 * membership changes, leadership transfer, snapshots, PreVote and vote
 * counting, reads, and stale or reordered replies.
 *
 * Each test says what can go wrong in its scenario and what this library
 * must do instead. The scenarios are driven through the harness
 * deterministically; most of them run a small "world" on top of it: every
 * live node ticks once per round, then the network is drained, and after
 * every round the safety checks run:
 *   - at most one leader per term, over the whole run;
 *   - no committed entry is ever lost or changed: the first time any node
 *     reports index i committed, its term is recorded, and every node that
 *     later holds i committed holds the same term there.
 * Nodes can be cut off (their traffic is held, and delivered when they
 * come back), split into two sides (traffic across is held), or crashed
 * (not ticked, their traffic dropped).
 */
#include <string.h>

#include "harness.h"
#include "suites.h"

#define E 10u /* election_ticks */

/* Terms and log indexes the safety records cover; the scenarios stay far
 * below both. */
#define W_TERMS 512u
#define W_INDEXES 1024u

/* ---- the world ------------------------------------------------------------ */

struct world {
    struct harness *h;
    uint32_t dead; /* crashed: not ticked, traffic dropped */
    uint32_t cut;  /* cut off: traffic held */
    uint32_t side; /* traffic between this side and the rest is held */
    raft_id leader_of[W_TERMS];       /* the leader seen in each term */
    raft_term committed[W_INDEXES];   /* term of each index seen committed */
};

static bool w_hold(const struct raft_msg *m, void *arg)
{
    const struct world *w = arg;
    uint32_t off = w->dead | w->cut;
    return ((off >> m->from) & 1u) || ((off >> m->to) & 1u) ||
           (((w->side >> m->from) ^ (w->side >> m->to)) & 1u);
}

static bool started(struct harness *h, raft_id id)
{
    struct raft *r = h_raft(h, id);
    return r != NULL && raft_role(r) != 0;
}

/* The safety checks (see the top of the file). */
static void w_check(struct world *w)
{
    struct harness *h = w->h;
    for (raft_id id = 1; id <= h->n; id++) {
        if (!started(h, id)) {
            continue;
        }
        struct raft_status st = h_status(h, id);
        if (st.role == RAFT_LEADER) {
            ck_assert_uint_lt(st.term, W_TERMS);
            H_CHECK(w->leader_of[st.term] == 0 || w->leader_of[st.term] == id,
                    "two leaders in term %llu: %llu and %llu",
                    (unsigned long long)st.term,
                    (unsigned long long)w->leader_of[st.term],
                    (unsigned long long)id);
            w->leader_of[st.term] = id;
        }
        ck_assert_uint_lt(st.commit, W_INDEXES);
        for (raft_index i = st.first_index; i <= st.commit && i <= st.last_index; i++) {
            struct raft_entry e;
            if (i == 0 || raft_entry_at(h_raft(h, id), i, &e) != 0) {
                continue;
            }
            H_CHECK(w->committed[i] == 0 || w->committed[i] == e.term,
                    "node %llu holds term %llu at committed index %llu, "
                    "which was committed with term %llu",
                    (unsigned long long)id, (unsigned long long)e.term,
                    (unsigned long long)i, (unsigned long long)w->committed[i]);
            w->committed[i] = e.term;
        }
    }
}

static void w_init(struct world *w, struct harness *h)
{
    memset(w, 0, sizeof(*w));
    w->h = h;
    h->hold = w_hold;
    h->hold_arg = w;
    w_check(w);
}

/* Drain the network: deliver what may pass, drop what involves a crashed
 * node, keep the rest held. */
static void w_net(struct world *w)
{
    h_deliver_all(w->h);
    for (raft_id id = 1; id <= w->h->n; id++) {
        if ((w->dead >> id) & 1u) {
            h_drop(w->h, id, 0, 0);
            h_drop(w->h, 0, id, 0);
        }
    }
    w_check(w);
}

/* Node id comes back; what was held to or from it was lost. */
static void w_rejoin_lossy(struct world *w, raft_id id)
{
    h_drop(w->h, id, 0, 0);
    h_drop(w->h, 0, id, 0);
    w->cut &= ~(1u << id);
}

/* `rounds` rounds: every live node ticks once, then the network drains. */
static void w_run(struct world *w, unsigned rounds)
{
    for (unsigned k = 0; k < rounds; k++) {
        for (raft_id id = 1; id <= w->h->n; id++) {
            if (!((w->dead >> id) & 1u) && started(w->h, id)) {
                int rc = raft_tick(h_raft(w->h, id));
                H_CHECK(rc == 0, "raft_tick(%llu) = %d (%s)",
                        (unsigned long long)id, rc, raft_strerror(rc));
            }
        }
        w_net(w);
    }
}

/* The live leader of the highest term, or 0. */
static raft_id w_leader(const struct world *w)
{
    raft_id best = 0;
    raft_term bt = 0;
    for (raft_id id = 1; id <= w->h->n; id++) {
        if (((w->dead >> id) & 1u) || !started(w->h, id)) {
            continue;
        }
        struct raft *r = h_raft(w->h, id);
        if (raft_role(r) == RAFT_LEADER && raft_current_term(r) >= bt) {
            best = id;
            bt = raft_current_term(r);
        }
    }
    return best;
}

/* Run until a live leader holds the highest term among the live nodes
 * that can hear it; fail the test after `max` rounds. */
static raft_id w_until_leader(struct world *w, unsigned max)
{
    for (unsigned k = 0; k < max; k++) {
        raft_id l = w_leader(w);
        if (l != 0) {
            return l;
        }
        w_run(w, 1);
    }
    ck_abort_msg("no leader after %u rounds (seed %llu)", max,
                 (unsigned long long)w->h->opts.seed);
    return 0;
}

/* The same, for a leader among the nodes of `mask`. */
static raft_id w_until_leader_in(struct world *w, uint32_t mask, unsigned max)
{
    for (unsigned k = 0; k < max; k++) {
        for (raft_id id = 1; id <= w->h->n; id++) {
            if (((mask >> id) & 1u) && !((w->dead >> id) & 1u) &&
                started(w->h, id) && raft_role(h_raft(w->h, id)) == RAFT_LEADER) {
                return id;
            }
        }
        w_run(w, 1);
    }
    ck_abort_msg("no leader among %#x after %u rounds (seed %llu)", mask, max,
                 (unsigned long long)w->h->opts.seed);
    return 0;
}

/* Did any node lead any term? (id 0: anyone). */
static bool w_ever_led(const struct world *w, raft_id id)
{
    for (size_t t = 0; t < W_TERMS; t++) {
        if (w->leader_of[t] != 0 && (id == 0 || w->leader_of[t] == id)) {
            return true;
        }
    }
    return false;
}

/* ---- helpers -------------------------------------------------------------- */

static struct h_opts opts(uint64_t seed, bool prevote_cq)
{
    struct h_opts o;
    memset(&o, 0, sizeof(o));
    o.election_ticks = E;
    o.heartbeat_ticks = 1;
    o.seed = seed;
    o.pre_vote = prevote_cq;
    o.check_quorum = prevote_cq;
    return o;
}

static struct h_opts snap_opts(uint64_t seed)
{
    struct h_opts o = opts(seed, true);
    o.snapshots = true;
    o.snapshot_trailing = 1;
    o.snapshot_size = 100;
    return o;
}

static struct raft_metrics metrics(struct harness *h, raft_id id)
{
    struct raft_metrics m;
    ck_assert_int_eq(raft_metrics(h_raft(h, id), &m, sizeof(m)), 0);
    return m;
}

/* A node that committed everything its leader did, and holds it. */
static void assert_caught_up(struct harness *h, raft_id id, raft_id leader)
{
    struct raft_status a = h_status(h, id), b = h_status(h, leader);
    ck_assert_uint_eq(a.commit, b.commit);
    ck_assert_uint_eq(a.last_index, b.last_index);
    h_assert_logs_equal(h, id, leader);
}

/* A world over h_conf_cluster(1, o), lenient (h->strict off), in which
 * node 4 was added as a learner and had 3 rounds to catch up. */
static struct harness *w_cluster_with_learner(struct world *w,
                                              const struct h_opts *o)
{
    struct harness *h = h_conf_cluster(1, o);
    w_init(w, h);
    h->strict = false;
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 4, NULL), 0);
    w_run(w, 3);
    return h;
}

/* A world over h_conf_cluster(0, o), lenient, holding five commands, from
 * which node 3 is removed; `rounds` rounds later (its removal committed by
 * then) it is wiped and added back empty as a learner, with fresh
 * progress. */
static struct harness *w_re_added_empty(struct world *w, const struct h_opts *o,
                                        unsigned rounds)
{
    struct harness *h = h_conf_cluster(0, o);
    w_init(w, h);
    h->strict = false;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(h_propose(h, 1, "c", NULL), 0);
    }
    w_run(w, 2);
    raft_index idx;
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_REMOVE, 3, &idx), 0);
    w_run(w, rounds);
    ck_assert_uint_ge(h_status(h, 1).commit, idx);
    h_wipe_and_join(h, 3);
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 3, NULL), 0);
    ck_assert_uint_eq(h_progress(h, 1, 3).match, 0);
    return h;
}

/* ---- removed and demoted members ------------------------------------------- */

/*
 * A voter removed while cut off never learns it, keeps electing itself at
 * ever higher terms, and on its return deposes the healthy leader, again
 * when it is added back as a non-voter. Here, with PreVote and
 * CheckQuorum (the defaults), its term never rises and the leader keeps
 * its term throughout; added back as a learner it catches up and never
 * campaigns.
 */
START_TEST(test_removed_unaware_voter_does_not_disrupt)
{
    struct h_opts o = opts(101, true);
    struct harness *h = h_conf_cluster(0, &o);
    struct world w;
    w_init(&w, h);
    h->strict = false; /* replies of the removed node are refused */
    raft_term t = h_status(h, 1).term;
    w.cut = 1u << 3;
    raft_index idx;
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_REMOVE, 3, &idx), 0);
    w_run(&w, 10 * E);
    ck_assert_uint_ge(h_status(h, 1).commit, idx);
    H_ASSERT_CONF(h, 3, "1V 2V 3V"); /* it does not know */
    ck_assert_uint_eq(h_status(h, 3).term, t);
    ck_assert_uint_gt(metrics(h, 3).prevotes_started, 0);
    w.cut = 0;
    w_run(&w, 5 * E);
    ck_assert_uint_eq(w_leader(&w), 1);
    ck_assert_uint_eq(h_status(h, 1).term, t);
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 3, NULL), 0);
    w_run(&w, 5 * E);
    H_ASSERT_CONF(h, 3, "1V 2V 3L");
    ck_assert(!h_status(h, 3).is_voter);
    assert_caught_up(h, 3, 1);
    uint64_t pv = metrics(h, 3).prevotes_started;
    w_run(&w, 5 * E);
    ck_assert_uint_eq(metrics(h, 3).prevotes_started, pv);
    ck_assert_uint_eq(w_leader(&w), 1);
    ck_assert_uint_eq(h_status(h, 1).term, t);
    h_free(h);
}
END_TEST

/*
 * The same, after a restart: a restarted node cannot know whether the
 * last configuration in its log is committed. A removed member restarts
 * with commit index 0, so its own removal looks uncommitted and it may
 * campaign; with PreVote and CheckQuorum that must not depose the leader
 * or raise anyone's term.
 */
START_TEST(test_removed_node_restarted_does_not_disrupt)
{
    struct h_opts o = opts(103, true);
    struct harness *h = h_conf_cluster(0, &o);
    struct world w;
    w_init(&w, h);
    h->strict = false;
    raft_index idx;
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_REMOVE, 3, &idx), 0);
    w_run(&w, 3 * E);
    ck_assert_uint_ge(h_status(h, 3).commit, idx);
    H_ASSERT_CONF(h, 3, "1V 2V");
    raft_term t = h_status(h, 1).term;
    ck_assert_int_eq(h_restart(h, 3), 0);
    H_ASSERT_CONF(h, 3, "1V 2V");
    w_run(&w, 15 * E);
    ck_assert_uint_eq(w_leader(&w), 1);
    ck_assert_uint_eq(h_status(h, 1).term, t);
    ck_assert_uint_eq(h_status(h, 2).term, t);
    ck_assert(!w_ever_led(&w, 3));
    /* the two voters commit without it */
    raft_index x;
    ck_assert_int_eq(h_propose(h, 1, "x", &x), 0);
    w_run(&w, 2);
    ck_assert_uint_ge(h_status(h, 2).commit, x);
    h_free(h);
}
END_TEST

/*
 * A learner promoted while cut off still thinks it is a learner; when the
 * leader dies, the only voter with the promotion needs its vote, and a
 * learner that refuses to vote leaves the cluster without a leader.
 */
START_TEST(test_learner_unaware_of_promotion_votes)
{
    struct h_opts o = opts(107, true);
    struct harness *h = h_conf_cluster(0, &o);
    struct world w;
    w_init(&w, h);
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 3, NULL), 0);
    w_run(&w, 3);
    H_ASSERT_CONF(h, 3, "1V 2V 3L");
    w.cut = 1u << 3;
    raft_index p;
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_VOTER, 3, &p), 0);
    w_run(&w, 2);
    ck_assert_uint_ge(h_status(h, 1).commit, p); /* 1 and 2 of {1, 2, 3} */
    H_ASSERT_CONF(h, 2, "1V 2V 3V");
    H_ASSERT_CONF(h, 3, "1V 2V 3L");
    /* the leader dies; 3 comes back without ever hearing of the change */
    w.dead = 1u << 1;
    w.cut = 0;
    raft_id l = w_until_leader(&w, 40 * E);
    ck_assert_uint_eq(l, 2);
    w_run(&w, 3);
    H_ASSERT_CONF(h, 3, "1V 2V 3V");
    assert_caught_up(h, 3, 2);
    h_free(h);
}
END_TEST

/*
 * A voter demoted while cut off learns of it only from a snapshot; it
 * must take the learner role from the snapshot's configuration and stop
 * campaigning.
 */
START_TEST(test_snapshot_demotes_voter)
{
    struct h_opts o = snap_opts(109);
    struct harness *h = h_conf_cluster(0, &o);
    struct world w;
    w_init(&w, h);
    w.cut = 1u << 3;
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 3, NULL), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(h_propose(h, 1, "c", NULL), 0);
    }
    w_run(&w, 3);
    ck_assert_int_eq(h_snapshot_take(h, 1), 0);
    ck_assert_uint_gt(h_status(h, 1).first_index, h_status(h, 3).last_index + 1);
    H_ASSERT_CONF(h, 3, "1V 2V 3V");
    raft_term t = h_status(h, 1).term;
    w_rejoin_lossy(&w, 3);
    w_run(&w, 5);
    ck_assert_uint_eq(metrics(h, 3).snapshots_installed, 1);
    H_ASSERT_CONF(h, 3, "1V 2V 3L");
    ck_assert(!h_status(h, 3).is_voter);
    uint64_t pv = metrics(h, 3).prevotes_started;
    uint64_t el = metrics(h, 3).elections_started;
    w_run(&w, 10 * E);
    ck_assert_uint_eq(metrics(h, 3).prevotes_started, pv);
    ck_assert_uint_eq(metrics(h, 3).elections_started, el);
    ck_assert_uint_eq(w_leader(&w), 1);
    ck_assert_uint_eq(h_status(h, 1).term, t);
    assert_caught_up(h, 3, 1);
    h_free(h);
}
END_TEST

/*
 * A member whose disk was lost rejoins empty under its old id while the
 * leader still holds its old progress (match far above the empty log); a
 * leader that trusts that progress can crash the node. The way out is to
 * remove the member and add it back, which must start its progress
 * afresh. Here the empty node is added back an election timeout after
 * its removal committed: it must start from nothing and catch up from
 * index 1.
 */
START_TEST(test_member_re_added_empty_after_departure_catches_up)
{
    struct h_opts o = opts(211, true);
    struct world w;
    struct harness *h = w_re_added_empty(&w, &o, 2 * E);
    w_run(&w, 3);
    H_ASSERT_CONF(h, 3, "1V 2V 3L");
    assert_caught_up(h, 3, 1);
    h_free(h);
}
END_TEST

/*
 * The same, within the departure: the member is removed and added
 * back at once, before the election timeout after its removal commits
 * (during which the leader keeps its slot to tell it of the removal).
 * The leader must not take the new, empty node for the old one: it
 * starts it from nothing, as raft_join promises ("takes whatever a
 * leader sends it: the log from index 1, or a snapshot"), and it does
 * not report a match the node does not hold (raft_progress: "highest
 * index known replicated there"). A leader that reused the departed
 * slot's progress would probe the empty node at its old match, and, unable
 * to go below match + 1, resend the refused probe at once, forever: a
 * message storm within one tick. Checked here: the re-added member gets
 * fresh progress (match 0); the traffic of one tick comes to an end (a
 * probe refused at match waits for the next heartbeat); the leader never
 * reports a match above the node's log; and the learner catches up.
 */
START_TEST(test_member_re_added_empty_within_departure_catches_up)
{
    struct h_opts o = opts(223, true);
    struct world w;
    struct harness *h = w_re_added_empty(&w, &o, 2);
    /* one tick's worth of traffic must come to an end */
    ck_assert_int_eq(h_tick(h, 1, 1), 0);
    size_t n = 0;
    while (h->n_net > 0 && n < 1000) {
        h_deliver_at(h, 0);
        n++;
    }
    struct raft_progress p = h_progress(h, 1, 3);
    H_CHECK(h->n_net == 0,
            "after %zu deliveries, %zu messages still in flight: the leader "
            "and the re-added node exchange the same probe forever (its "
            "progress: match %llu, next %llu; its log ends at %llu)",
            n, h->n_net, (unsigned long long)p.match, (unsigned long long)p.next,
            (unsigned long long)h_status(h, 3).last_index);
    ck_assert_uint_le(p.match, h_status(h, 3).last_index);
    w_run(&w, 3);
    H_ASSERT_CONF(h, 3, "1V 2V 3L");
    assert_caught_up(h, 3, 1);
    h_free(h);
}
END_TEST

/* ---- configurations in force on append ------------------------------------- */

/*
 * Where a configuration takes effect only once applied, a node that holds
 * the entry adding a fourth voter still counts majorities of three, so
 * two nodes elect a leader that a majority of four never agreed to. Here
 * the entry is in force once appended: 2 and 3, cut off from 1 and the
 * new voter 4, cannot elect anyone.
 */
START_TEST(test_added_voter_counts_once_appended)
{
    struct h_opts o = opts(113, true);
    struct harness *h = h_conf_cluster(1, &o);
    struct world w;
    w_init(&w, h);
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 4, NULL), 0);
    w_run(&w, 3);
    w.cut = 1u << 4;
    raft_index p;
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_VOTER, 4, &p), 0);
    w_run(&w, 2);
    H_ASSERT_CONF(h, 2, "1V 2V 3V 4V");
    H_ASSERT_CONF(h, 3, "1V 2V 3V 4V");
    raft_term t = h_status(h, 1).term;
    /* {1, 4} | {2, 3} */
    w.cut = 0;
    w.side = 1u << 1 | 1u << 4;
    w_run(&w, 15 * E);
    for (raft_term k = t + 1; k < W_TERMS; k++) {
        ck_assert_uint_eq(w.leader_of[k], 0);
    }
    ck_assert_int_ne(raft_role(h_raft(h, 1)), RAFT_LEADER); /* CheckQuorum */
    w.side = 0;
    raft_id l = w_until_leader(&w, 40 * E);
    w_run(&w, 3);
    for (raft_id id = 1; id <= 4; id++) {
        H_ASSERT_CONF(h, id, "1V 2V 3V 4V");
        assert_caught_up(h, id, l);
    }
    h_free(h);
}
END_TEST

/*
 * A removes C, then B; both commit on A while B and C have not taken the
 * changes in. With changes taken on apply, B and C (still counting
 * {A, B, C}) elect a second leader. Here B has the first removal in
 * force ({A, B}: it needs A) and C's log is behind B's: neither can
 * lead, and A, sole voter, goes on alone.
 */
START_TEST(test_two_removals_leave_no_second_majority)
{
    struct h_opts o = opts(127, true);
    struct harness *h = h_conf_cluster(0, &o);
    struct world w;
    w_init(&w, h);
    h->strict = false;
    w.cut = 1u << 3;
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_REMOVE, 3, NULL), 0);
    w_net(&w);
    w.cut = 1u << 2 | 1u << 3;
    raft_index r2;
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_REMOVE, 2, &r2), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, r2); /* a majority of {1} */
    H_ASSERT_CONF(h, 1, "1V");
    H_ASSERT_CONF(h, 2, "1V 2V");
    H_ASSERT_CONF(h, 3, "1V 2V 3V");
    /* 1 on one side, 2 and 3 on the other */
    w.cut = 0;
    w.side = 1u << 1;
    w_run(&w, 20 * E);
    for (size_t k = 0; k < W_TERMS; k++) {
        ck_assert(w.leader_of[k] == 0 || w.leader_of[k] == 1);
    }
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    raft_index x;
    ck_assert_int_eq(h_propose(h, 1, "x", &x), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, x);
    h_free(h);
}
END_TEST

/*
 * A new leader that loses track of the change its predecessor left
 * uncommitted counts the wrong majorities and may accept a second change
 * on top of it. It must take that change in: count the majorities it
 * sets, and refuse another change until it is committed under the new
 * term.
 */
START_TEST(test_new_leader_inherits_uncommitted_change)
{
    struct h_opts o = opts(131, false);
    struct harness *h = h_conf_cluster(1, &o);
    struct world w;
    w_init(&w, h);
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 4, NULL), 0);
    w_run(&w, 3);
    w.cut = 1u << 3 | 1u << 4;
    raft_index p;
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_VOTER, 4, &p), 0);
    w_net(&w); /* 2 gets it; 1 and 2 are not 3 of 4 */
    ck_assert_uint_lt(h_status(h, 1).commit, p);
    H_ASSERT_CONF(h, 2, "1V 2V 3V 4V");
    /* 1 dies; 2 wins with votes of 1 (cast before it died) and 3 */
    w.dead = 1u << 1;
    w.cut = 0;
    h_drop_all(h);
    h_make_leader_scripted(h, 2);
    w_check(&w);
    struct raft_status st = h_status(h, 2);
    ck_assert_uint_eq(st.n_voters, 4);
    ck_assert_uint_eq(st.conf_index, p);
    ck_assert_int_eq(h_change1(h, 2, RAFT_CHANGE_REMOVE, 1, NULL), RAFT_ECONFBUSY);
    /* 2 and 3 alone are not a majority of four: nothing commits */
    w.cut = 1u << 4;
    for (int i = 0; i < 3; i++) {
        h_tick(h, 2, 1);
        w_net(&w);
    }
    ck_assert_uint_lt(h_status(h, 2).commit, p);
    ck_assert_int_eq(h_change1(h, 2, RAFT_CHANGE_REMOVE, 1, NULL), RAFT_ECONFBUSY);
    w.cut = 0;
    for (int i = 0; i < 3; i++) {
        h_tick(h, 2, 1);
        w_net(&w);
    }
    ck_assert_uint_eq(h_status(h, 2).commit, h_status(h, 2).last_index);
    raft_index rm;
    ck_assert_int_eq(h_change1(h, 2, RAFT_CHANGE_REMOVE, 1, &rm), 0);
    for (int i = 0; i < 3; i++) {
        h_tick(h, 2, 1);
        w_net(&w);
    }
    ck_assert_uint_ge(h_status(h, 2).commit, rm);
    H_ASSERT_CONF(h, 4, "2V 3V 4V");
    h_free(h);
}
END_TEST

/* ---- joint consensus -------------------------------------------------------- */

/* Node 1 proposes the joint change {+4 voter, -3} (left on its own), and
 * the network drains: the joint entry is committed on 1 and is its last
 * entry (the leave entry comes at 1's next tick). Returns its index. */
static raft_index w_swap_committed(struct world *w)
{
    struct harness *h = w->h;
    struct raft_change swap[] = {{RAFT_CHANGE_ADD_VOTER, 4}, {RAFT_CHANGE_REMOVE, 3}};
    raft_index j;
    ck_assert_int_eq(raft_propose_change(h_raft(h, 1), swap, 2, RAFT_JOINT_AUTO, &j), 0);
    w_net(w);
    struct raft_status st = h_status(h, 1);
    ck_assert(st.joint);
    ck_assert_uint_eq(st.commit, j);
    ck_assert_uint_eq(st.last_index, j);
    return j;
}

/* Node id has left the joint configuration of entry j, and committed it. */
static void assert_left_joint(struct harness *h, raft_id id, raft_index j)
{
    struct raft_status st = h_status(h, id);
    ck_assert(!st.joint);
    ck_assert_uint_gt(st.conf_index, j);
    ck_assert_uint_ge(st.commit, st.conf_index);
}

/*
 * A leader that steps down after the joint entry commits but before it
 * proposes leaving can leave the cluster joint for good, if the new
 * leader never leaves it on its own. Here the leader dies right after the
 * joint entry commits; whoever leads next must leave.
 */
START_TEST(test_auto_leave_after_leader_change)
{
    struct h_opts o = opts(137, true);
    struct world w;
    struct harness *h = w_cluster_with_learner(&w, &o);
    raft_index j = w_swap_committed(&w);
    w.dead = 1u << 1;
    w_until_leader(&w, 40 * E);
    w_run(&w, 5 * E);
    raft_id l = w_leader(&w);
    ck_assert(l == 2 || l == 4);
    assert_left_joint(h, l, j);
    H_ASSERT_CONF(h, 2, "1V 2V 4V");
    H_ASSERT_CONF(h, 4, "1V 2V 4V");
    h_free(h);
}
END_TEST

/*
 * Replacing the leader through a joint configuration, where a leader
 * that is not a voter of the committed configuration must step down:
 * {1, 2, 3} -> {2, 3, 4}. While joint, the leader counts in the outgoing
 * majority only; the entry leaving the joint configuration needs two of
 * {2, 3, 4}, the leader not counting; then leadership goes to one of
 * them.
 */
START_TEST(test_joint_change_replacing_the_leader)
{
    struct h_opts o = opts(139, true);
    struct world w;
    struct harness *h = w_cluster_with_learner(&w, &o);
    struct raft_change swap[] = {{RAFT_CHANGE_ADD_VOTER, 4}, {RAFT_CHANGE_REMOVE, 1}};
    raft_index j;
    w.cut = 1u << 3 | 1u << 4;
    ck_assert_int_eq(raft_propose_change(h_raft(h, 1), swap, 2, RAFT_JOINT_AUTO, &j), 0);
    H_ASSERT_CONF(h, 1, "1O 2VO 3VO 4V");
    w_run(&w, 2);
    /* {1, 2, 3} has a majority (1, 2); {2, 3, 4} has only 2, 1 not
     * counting there */
    ck_assert_uint_lt(h_status(h, 1).commit, j);
    w.cut = 1u << 3;
    w_net(&w);
    ck_assert_uint_eq(h_status(h, 1).commit, j); /* 1, 2 and 2, 4 */
    /* the leave entry reaches 4 only: 1 and 4 are not a majority of
     * {2, 3, 4} */
    w.cut = 1u << 2 | 1u << 3;
    w_run(&w, 1);
    H_ASSERT_CONF(h, 1, "2V 3V 4V");
    raft_index leave = h_status(h, 1).conf_index;
    ck_assert_uint_gt(leave, j);
    w_run(&w, 2);
    ck_assert_uint_lt(h_status(h, 1).commit, leave);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    w.cut = 0;
    w_run(&w, 10 * E);
    raft_id l = w_leader(&w);
    ck_assert(l == 2 || l == 3 || l == 4);
    ck_assert_uint_ge(h_status(h, l).commit, leave);
    for (raft_id id = 1; id <= 4; id++) {
        H_ASSERT_CONF(h, id, "2V 3V 4V");
    }
    /* 1 is out for good */
    raft_term t = h_status(h, l).term;
    w_run(&w, 10 * E);
    ck_assert_uint_eq(w_leader(&w), l);
    ck_assert_uint_eq(h_status(h, l).term, t);
    h_free(h);
}
END_TEST

/*
 * A node that is not a voter of its latest configuration may still be the
 * only one that can lead, so it must not stop campaigning: a leader
 * replacing C with D writes the entry leaving the joint configuration,
 * which reaches only C, and dies. C alone holds the latest log but is no
 * member of it; B and D cannot win without C's vote. C must still
 * campaign (thesis 4.2.2), win, and hand over.
 */
START_TEST(test_removed_node_holding_latest_log_campaigns)
{
    struct h_opts o = opts(149, true);
    struct world w;
    struct harness *h = w_cluster_with_learner(&w, &o);
    raft_index j = w_swap_committed(&w);
    w.cut = 1u << 2 | 1u << 4;
    w_run(&w, 1); /* the leave entry, to 3 only */
    raft_index leave = h_status(h, 1).conf_index;
    ck_assert_uint_gt(leave, j);
    H_ASSERT_CONF(h, 3, "1V 2V 4V");
    ck_assert(!h_status(h, 3).is_voter);
    ck_assert_uint_lt(h_status(h, 1).commit, leave);
    w.dead = 1u << 1;
    w.cut = 0;
    w_run(&w, 30 * E);
    ck_assert(w_ever_led(&w, 3));
    raft_id l = w_leader(&w);
    ck_assert(l == 2 || l == 4);
    ck_assert_uint_ge(h_status(h, l).commit, leave);
    H_ASSERT_CONF(h, 2, "1V 2V 4V");
    H_ASSERT_CONF(h, 4, "1V 2V 4V");
    h_free(h);
}
END_TEST

/*
 * A single voter A makes itself a non-voter and B a voter through a joint
 * configuration, then loses leadership before it commits. A is the only
 * node that can lead (B never saw the change), and needs its own vote in
 * the outgoing group and B's in the incoming one; a candidate that skips
 * its own vote because it is no voter of the incoming group leaves the
 * cluster leaderless for good.
 */
START_TEST(test_demoted_voter_in_joint_votes_for_itself)
{
    struct h_opts o = opts(151, true);
    o.n_boot = 1;
    struct harness *h = h_new(2, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    struct world w;
    w_init(&w, h);
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 2, NULL), 0);
    w_run(&w, 3);
    H_ASSERT_CONF(h, 2, "1V 2L");
    w.cut = 1u << 2;
    struct raft_change swap[] = {{RAFT_CHANGE_ADD_LEARNER, 1}, {RAFT_CHANGE_ADD_VOTER, 2}};
    raft_index j;
    ck_assert_int_eq(raft_propose_change(h_raft(h, 1), swap, 2, RAFT_JOINT_AUTO, &j), 0);
    H_ASSERT_CONF(h, 1, "1OL 2V");
    w_run(&w, 3 * E);
    ck_assert_int_ne(raft_role(h_raft(h, 1)), RAFT_LEADER); /* CheckQuorum */
    ck_assert_uint_lt(h_status(h, 1).commit, j);
    H_ASSERT_CONF(h, 2, "1V 2L"); /* it never saw the change */
    raft_term t = h_status(h, 1).term;
    w_rejoin_lossy(&w, 2);
    w_run(&w, 20 * E);
    /* 1, the only node that can, led again before handing over */
    bool led = false;
    for (raft_term k = t + 1; k < W_TERMS; k++) {
        led |= w.leader_of[k] == 1;
    }
    ck_assert(led);
    ck_assert_uint_eq(w_leader(&w), 2);
    H_ASSERT_CONF(h, 1, "1L 2V");
    H_ASSERT_CONF(h, 2, "1L 2V");
    ck_assert_uint_ge(h_status(h, 2).commit, h_status(h, 2).conf_index);
    h_free(h);
}
END_TEST

/*
 * A read confirmed by acknowledgements of nodes that could then be
 * removed is not safe: while joint, a read must be confirmed by a
 * majority of each voter group; the incoming voters alone do not confirm
 * it.
 */
START_TEST(test_read_index_in_joint_needs_both_majorities)
{
    struct h_opts o = opts(157, false);
    struct harness *h = h_conf_cluster(2, &o);
    struct world w;
    w_init(&w, h);
    struct raft_change add[] = {{RAFT_CHANGE_ADD_LEARNER, 4}, {RAFT_CHANGE_ADD_LEARNER, 5}};
    ck_assert_int_eq(raft_propose_change(h_raft(h, 1), add, 2, RAFT_JOINT_AUTO, NULL), 0);
    w_run(&w, 3);
    struct raft_change swap[] = {{RAFT_CHANGE_ADD_VOTER, 4},
                                 {RAFT_CHANGE_ADD_VOTER, 5},
                                 {RAFT_CHANGE_REMOVE, 2},
                                 {RAFT_CHANGE_REMOVE, 3}};
    ck_assert_int_eq(raft_propose_change(h_raft(h, 1), swap, 4, RAFT_JOINT_EXPLICIT, NULL), 0);
    w_run(&w, 3);
    H_ASSERT_CONF(h, 1, "1VO 2O 3O 4V 5V");
    ck_assert_uint_eq(h_status(h, 1).commit, h_status(h, 1).last_index);
    w.cut = 1u << 2 | 1u << 3;
    int req = 1;
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &req), 0);
    w_run(&w, 3);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 0);
    w.cut = 1u << 3;
    w_run(&w, 2);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 1);
    ck_assert_int_eq(h_node(h, 1)->reads[0].status, 0);
    ck_assert_ptr_eq(h_node(h, 1)->reads[0].req, &req);
    h_free(h);
}
END_TEST

/* ---- the leader removing itself -------------------------------------------- */

/*
 * A leader being removed goes on replicating (thesis 4.2.2: "it
 * replicates log entries but does not count itself in majorities") and
 * must not hand leadership to a non-voter: the removal of the leader
 * commits only with both remaining voters, and the hand-over goes to a
 * voter, never to the learner, however far ahead the learner is.
 */
START_TEST(test_removed_leader_does_not_count_itself)
{
    struct h_opts o = opts(163, true);
    struct world w;
    struct harness *h = w_cluster_with_learner(&w, &o);
    w.cut = 1u << 3;
    raft_index idx;
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_REMOVE, 1, &idx), 0);
    H_ASSERT_CONF(h, 1, "2V 3V 4L");
    w_run(&w, 3);
    H_ASSERT_CONF(h, 2, "2V 3V 4L");
    ck_assert_uint_lt(h_status(h, 1).commit, idx); /* 1 and 2 are not 2 of {2, 3} */
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    w.cut = 0;
    w_run(&w, 5 * E);
    raft_id l = w_leader(&w);
    ck_assert(l == 2 || l == 3);
    ck_assert(!w_ever_led(&w, 4));
    ck_assert_uint_ge(h_status(h, l).commit, idx);
    H_ASSERT_CONF(h, 4, "2V 3V 4L");
    h_free(h);
}
END_TEST

/* ---- leadership transfer ----------------------------------------------------- */

/*
 * A transfer that goes on while its target is being demoted, or a
 * TimeoutNow sent to a non-voter, can make a learner leader. Here: no
 * transfer to a learner or to a voter that an appended change demotes; no
 * change while a transfer lasts; and a TimeoutNow reaching a learner
 * starts nothing.
 */
START_TEST(test_transfer_never_reaches_a_non_voter)
{
    struct h_opts o = opts(167, true);
    struct harness *h = h_conf_cluster(1, &o);
    struct world w;
    w_init(&w, h);
    struct raft *r = h_raft(h, 1);
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 4, NULL), 0);
    w_run(&w, 3);
    ck_assert_int_eq(raft_transfer_leadership(r, 4), RAFT_EBADCONF);
    /* demoting 3, not committed yet: already in force */
    w.cut = 1u << 2 | 1u << 3;
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 3, NULL), 0);
    ck_assert_int_eq(raft_transfer_leadership(r, 3), RAFT_EBADCONF);
    w.cut = 0;
    w_run(&w, 3);
    H_ASSERT_CONF(h, 3, "1V 2V 3L 4L");
    ck_assert_int_eq(raft_transfer_leadership(r, 3), RAFT_EBADCONF);
    /* no change, joint or not, while a transfer lasts */
    ck_assert_int_eq(raft_transfer_leadership(r, 2), 0);
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_VOTER, 3, NULL), RAFT_ETRANSFER);
    ck_assert_int_eq(raft_leave_joint(r, NULL), RAFT_ETRANSFER);
    /* a TimeoutNow of this term, from the leader, reaching a learner (sent
     * by mistake, or stale) */
    struct raft_msg tn;
    memset(&tn, 0, sizeof(tn));
    tn.type = RAFT_MSG_TIMEOUT_NOW;
    tn.from = 1;
    tn.term = h_status(h, 1).term;
    for (raft_id id = 3; id <= 4; id++) {
        tn.to = id;
        uint64_t el = metrics(h, id).elections_started;
        ck_assert_int_eq(raft_step(h_raft(h, id), &tn), 0);
        ck_assert_int_eq(raft_role(h_raft(h, id)), RAFT_FOLLOWER);
        ck_assert_uint_eq(h_status(h, id).term, tn.term);
        ck_assert_uint_eq(metrics(h, id).elections_started, el);
        ck_assert_uint_eq(h_count(h, id, 0, RAFT_MSG_VOTE), 0);
    }
    w_run(&w, 3);
    ck_assert_uint_eq(w_leader(&w), 2);
    ck_assert_uint_eq(h_status(h, 2).term, tn.term + 1);
    ck_assert(!w_ever_led(&w, 3) && !w_ever_led(&w, 4));
    ck_assert_int_eq(h_change1(h, 2, RAFT_CHANGE_ADD_VOTER, 3, NULL), 0);
    w_run(&w, 3);
    H_ASSERT_CONF(h, 3, "1V 2V 3V 4L");
    h_free(h);
}
END_TEST

/*
 * With PreVote on, a transfer target that runs a pre-vote first, at its
 * old term, is turned back into a follower by the old leader's next
 * heartbeat, and the transfer comes to nothing. The target must campaign
 * at once at the next term, where that heartbeat is stale.
 */
START_TEST(test_transfer_target_ignores_old_leaders_heartbeat)
{
    struct h_opts o = opts(173, true);
    struct harness *h = h_conf_cluster(0, &o);
    raft_term t = h_status(h, 1).term;
    ck_assert_int_eq(raft_transfer_leadership(h_raft(h, 1), 3), 0);
    ck_assert_uint_eq(h_count(h, 1, 3, RAFT_MSG_TIMEOUT_NOW), 1);
    ck_assert_int_eq(h_deliver_one(h, 1, 3, RAFT_MSG_TIMEOUT_NOW), 0);
    ck_assert_int_eq(raft_role(h_raft(h, 3)), RAFT_CANDIDATE);
    ck_assert_uint_eq(h_status(h, 3).term, t + 1);
    ck_assert_uint_eq(h_nevents(h, 3, RAFT_EVENT_PREVOTE_START), 0);
    /* the old leader's heartbeat, sent before it heard of the campaign,
     * arrives first */
    ck_assert_int_eq(h_tick(h, 1, 1), 0);
    ck_assert_uint_gt(h_count(h, 1, 3, RAFT_MSG_APPEND), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 3, RAFT_MSG_APPEND), RAFT_ESTALE);
    ck_assert_int_eq(raft_role(h_raft(h, 3)), RAFT_CANDIDATE);
    ck_assert_uint_eq(h_status(h, 3).term, t + 1);
    h_deliver_all(h);
    ck_assert_int_eq(raft_role(h_raft(h, 3)), RAFT_LEADER);
    ck_assert_uint_eq(h_status(h, 3).term, t + 1);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_FOLLOWER);
    h_free(h);
}
END_TEST

/*
 * A TimeoutNow delayed past the end of its transfer reaches the target
 * after the leader went on committing without it; the target campaigns
 * with a stale log. Nothing committed may be lost, it must not win, and
 * the cluster must get a leader again.
 */
START_TEST(test_stale_timeout_now_after_abort)
{
    struct h_opts o = opts(179, true);
    struct harness *h = h_conf_cluster(0, &o);
    struct world w;
    w_init(&w, h);
    raft_term t = h_status(h, 1).term;
    w.cut = 1u << 3;
    ck_assert_int_eq(raft_transfer_leadership(h_raft(h, 1), 3), 0);
    ck_assert_uint_eq(h_count(h, 1, 3, RAFT_MSG_TIMEOUT_NOW), 1); /* held */
    w_run(&w, E + 1);
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_TRANSFER_ABORTED), 1);
    raft_index x;
    ck_assert_int_eq(h_propose(h, 1, "x", &x), 0);
    ck_assert_int_eq(h_propose(h, 1, "y", NULL), 0);
    w_run(&w, 2);
    ck_assert_uint_gt(h_status(h, 1).commit, x);
    ck_assert_uint_lt(h_status(h, 3).last_index, x);
    /* 3 comes back: the held TimeoutNow is the first thing it gets */
    uint64_t el = metrics(h, 3).elections_started;
    w.cut = 0;
    w_net(&w);
    ck_assert_uint_gt(metrics(h, 3).elections_started, el);
    ck_assert_uint_ne(w.leader_of[t + 1], 3);
    ck_assert_uint_ge(h_status(h, 3).term, t + 1);
    w_until_leader(&w, 40 * E);
    w_run(&w, 5);
    raft_id l = w_leader(&w);
    ck_assert_uint_gt(h_status(h, l).commit, x);
    for (raft_id id = 1; id <= 3; id++) {
        assert_caught_up(h, id, l);
    }
    h_free(h);
}
END_TEST

/*
 * A transfer target told to campaign before it has caught up loses to a
 * longer log, and the transfer fails. A target so far behind that it
 * needs the leader's snapshot is brought up to date first, snapshot and
 * log, and only then told to campaign; it wins, with every committed
 * entry.
 */
START_TEST(test_transfer_to_target_needing_a_snapshot)
{
    struct h_opts o = snap_opts(181);
    struct harness *h = h_conf_cluster(0, &o);
    struct world w;
    w_init(&w, h);
    w.cut = 1u << 3;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(h_propose(h, 1, "c", NULL), 0);
    }
    w_run(&w, 3);
    ck_assert_int_eq(h_snapshot_take(h, 1), 0);
    ck_assert_int_eq(h_propose(h, 1, "after", NULL), 0);
    w_run(&w, 2);
    ck_assert_uint_gt(h_status(h, 1).first_index, h_status(h, 3).last_index + 1);
    raft_term t = h_status(h, 1).term;
    ck_assert_int_eq(raft_transfer_leadership(h_raft(h, 1), 3), 0);
    ck_assert_uint_eq(h_count(h, 1, 3, RAFT_MSG_TIMEOUT_NOW), 0);
    w_rejoin_lossy(&w, 3);
    w_run(&w, E / 2);
    ck_assert_uint_eq(metrics(h, 3).snapshots_installed, 1);
    ck_assert_uint_eq(w_leader(&w), 3);
    ck_assert_uint_eq(h_status(h, 3).term, t + 1);
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_TRANSFER_ABORTED), 0);
    w_run(&w, 3);
    assert_caught_up(h, 1, 3);
    h_free(h);
}
END_TEST

/* ---- snapshots and configurations ------------------------------------------ */

/*
 * A snapshot must restore the whole configuration, learners and joint
 * members included: a voter cut off while the cluster replaces it through
 * an explicit joint configuration gets the joint configuration from the
 * snapshot, keeps it across a restart from that snapshot, and learns the
 * final one when the joint configuration is left.
 */
START_TEST(test_snapshot_carries_joint_configuration)
{
    struct h_opts o = snap_opts(191);
    struct world w;
    struct harness *h = w_cluster_with_learner(&w, &o);
    w.cut = 1u << 3;
    struct raft_change swap[] = {{RAFT_CHANGE_ADD_VOTER, 4}, {RAFT_CHANGE_REMOVE, 3}};
    raft_index j;
    ck_assert_int_eq(raft_propose_change(h_raft(h, 1), swap, 2, RAFT_JOINT_EXPLICIT, &j), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(h_propose(h, 1, "c", NULL), 0);
    }
    w_run(&w, 3);
    ck_assert_uint_gt(h_status(h, 1).commit, j);
    ck_assert_int_eq(h_snapshot_take(h, 1), 0);
    ck_assert_uint_gt(h_status(h, 1).first_index, j);
    H_ASSERT_CONF(h, 3, "1V 2V 3V 4L");
    w_rejoin_lossy(&w, 3);
    w_run(&w, 5);
    ck_assert_uint_eq(metrics(h, 3).snapshots_installed, 1);
    H_ASSERT_CONF(h, 3, "1VO 2VO 3O 4V");
    ck_assert(h_status(h, 3).joint);
    ck_assert_int_eq(h_restart(h, 3), 0);
    H_ASSERT_CONF(h, 3, "1VO 2VO 3O 4V");
    ck_assert(h_status(h, 3).joint);
    w_run(&w, 3);
    raft_term t = h_status(h, 1).term;
    raft_index leave;
    ck_assert_int_eq(raft_leave_joint(h_raft(h, 1), &leave), 0);
    w_run(&w, 3);
    H_ASSERT_CONF(h, 3, "1V 2V 4V");
    ck_assert_uint_ge(h_status(h, 3).commit, leave);
    w_run(&w, 10 * E);
    ck_assert_uint_eq(w_leader(&w), 1);
    ck_assert_uint_eq(h_status(h, 1).term, t);
    h_free(h);
}
END_TEST

/*
 * The configuration before an uncommitted one was compacted into a
 * snapshot; when the uncommitted one is truncated away, the node must go
 * back to the snapshot's configuration (a node that looks for it in the
 * log fails an assertion, or keeps the uncommitted configuration).
 * Checked without and with a restart from the snapshot in between.
 */
static void rollback_after_compaction(bool restart)
{
    struct h_opts o = snap_opts(restart ? 197 : 193);
    struct harness *h = h_conf_cluster(1, &o);
    struct world w;
    w_init(&w, h);
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 4, NULL), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(h_propose(h, 1, "c", NULL), 0);
    }
    w_run(&w, 3);
    ck_assert_int_eq(h_snapshot_take(h, 1), 0);
    raft_index snap = h_status(h, 1).snapshot_index;
    ck_assert_uint_gt(h_status(h, 1).first_index, 2); /* the entry of 4L is gone */
    w.cut = 1u << 1;
    raft_index x;
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_REMOVE, 4, &x), 0);
    ck_assert_uint_eq(x, snap + 1);
    H_ASSERT_CONF(h, 1, "1V 2V 3V");
    if (restart) {
        ck_assert_int_eq(h_restart(h, 1), 0);
        H_ASSERT_CONF(h, 1, "1V 2V 3V");
    }
    w_until_leader_in(&w, 1u << 2 | 1u << 3, 40 * E);
    w.cut = 0;
    w_run(&w, 2 * E);
    H_ASSERT_CONF(h, 1, "1V 2V 3V 4L");
    ck_assert_uint_le(h_status(h, 1).conf_index, snap);
    assert_caught_up(h, 1, w_leader(&w));
    h_free(h);
}

START_TEST(test_config_rollback_after_compaction)
{
    rollback_after_compaction(false);
}
END_TEST

START_TEST(test_config_rollback_after_compaction_and_restart)
{
    rollback_after_compaction(true);
}
END_TEST

/*
 * A follower that keeps its entry at the snapshot's index, of another
 * term, after installing the snapshot rejects every AppendEntries and
 * asks for the snapshot again, forever. Here the
 * follower's divergent suffix also holds a configuration change: the
 * whole log goes, the snapshot's configuration is in force, and one
 * snapshot suffices.
 */
START_TEST(test_snapshot_replaces_conflicting_suffix)
{
    struct h_opts o = snap_opts(199);
    struct harness *h = h_conf_cluster(0, &o);
    struct world w;
    w_init(&w, h);
    ck_assert_int_eq(h_propose(h, 1, "a", NULL), 0);
    ck_assert_int_eq(h_propose(h, 1, "b", NULL), 0);
    w_run(&w, 3);
    raft_index base = h_status(h, 1).commit;
    /* 1, cut off, writes a divergent suffix with a change in it */
    w.cut = 1u << 1;
    ck_assert_int_eq(h_propose(h, 1, "d1", NULL), 0);
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 9, NULL), 0);
    ck_assert_int_eq(h_propose(h, 1, "d2", NULL), 0);
    H_ASSERT_CONF(h, 1, "1V 2V 3V 9L");
    raft_id l = w_until_leader_in(&w, 1u << 2 | 1u << 3, 40 * E);
    ck_assert_int_eq(h_propose(h, l, "e", NULL), 0);
    w_run(&w, 2);
    ck_assert_uint_eq(h_status(h, l).commit, base + 2);
    ck_assert_int_eq(h_snapshot_take(h, l), 0); /* at base + 2: 1 holds it, of another term */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(h_propose(h, l, "f", NULL), 0);
    }
    w_run(&w, 2);
    ck_assert_uint_gt(h_status(h, l).first_index, base + 1);
    ck_assert_uint_eq(h_status(h, 1).last_index, base + 3); /* untouched */
    w_rejoin_lossy(&w, 1);
    w_run(&w, 3 * E);
    ck_assert_uint_eq(metrics(h, 1).snapshots_installed, 1);
    const struct h_call *c = h_call(h, 1, H_CB_SNAPSHOT_INSTALL, 0);
    ck_assert_ptr_nonnull(c);
    ck_assert(!c->keep);
    H_ASSERT_CONF(h, 1, "1V 2V 3V");
    assert_caught_up(h, 1, w_leader(&w));
    h_free(h);
}
END_TEST

/* ---- elections: PreVote, stale and duplicated answers ----------------------- */

/*
 * PreVote can deadlock an election: a node cut off at a low term comes
 * back while the leader of the higher term crashes. Its pre-votes carry a
 * term older than the other survivor's; dropped without an answer, they
 * never teach it the higher term, while the other survivor's pre-votes
 * are refused because its log is behind. Neither could win, for ever. Here the lagging-term node holds the more up-to-date
 * log (3: term 2, last entry of term 2; 1: term 5, last entry of term 1):
 * 1 must answer the stale pre-vote with its term, 3 must take it, and 3
 * must then win.
 */
START_TEST(test_prevote_lower_term_node_with_longest_log_wins)
{
    struct h_opts o = opts(229, true);
    struct harness *h = h_new(3, &o);
    const raft_term a[] = {1, 1};
    const raft_term c[] = {1, 1, 2};
    ck_assert_int_eq(h_restore(h, 1, 5, 0, a, H_ARRAY_LEN(a)), 0);
    ck_assert_int_eq(h_restore(h, 3, 2, 0, c, H_ARRAY_LEN(c)), 0);
    struct world w;
    w_init(&w, h);
    w.dead = 1u << 2; /* the leader of term 5 crashed for good */
    raft_id l = w_until_leader(&w, 20 * E);
    ck_assert_uint_eq(l, 3);
    ck_assert_uint_gt(h_status(h, 3).term, 5);
    ck_assert(!w_ever_led(&w, 1));
    w_run(&w, 3);
    assert_caught_up(h, 1, 3);
    h_free(h);
}
END_TEST

/* Holds traffic between nodes 1 and 3 while *(bool *)arg. */
static bool hold_1_3(const struct raft_msg *m, void *arg)
{
    return *(const bool *)arg && ((m->from == 1 && m->to == 3) ||
                                  (m->from == 3 && m->to == 1));
}

/*
 * A pre-vote grant carries the term the pre-candidate asked about (one
 * above its own); a node that adopts the term of any message above its
 * own takes that future term from a grant that arrives after it went back
 * to following its leader, and with it deposes a healthy leader, which is
 * what PreVote exists to prevent: a granted pre-vote answer must never
 * raise a term. Here 3, cut off from leader 1 only, pre-votes; 2 grants,
 * but the grant is late: 3 hears from 1 first. The late grant must change
 * nothing: 3 stays at 1's term, following 1, and 1 keeps leading at its
 * term.
 */
START_TEST(test_late_prevote_grant_changes_no_term)
{
    struct h_opts o = opts(233, false);
    o.pre_vote = true; /* no CheckQuorum: 2 answers pre-votes at once */
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 2);
    raft_term t = h_status(h, 1).term;
    bool cut = true;
    h->hold = hold_1_3;
    h->hold_arg = &cut;
    ck_assert_uint_gt(h_tick_until_role(h, 3, RAFT_PRECANDIDATE, 3 * E), 0);
    ck_assert_int_eq(h_deliver_one(h, 3, 2, RAFT_MSG_PREVOTE), 0);
    const struct raft_msg *g = h_find(h, 2, 3, RAFT_MSG_PREVOTE_RESP, 0);
    ck_assert_ptr_nonnull(g);
    ck_assert(g->u.vote_resp.granted);
    ck_assert_uint_eq(g->term, t + 1);
    /* take the grant out of the network: it arrives last */
    struct h_msg late;
    size_t k = 0;
    while (h->net[k].m.type != RAFT_MSG_PREVOTE_RESP) {
        k++;
    }
    late = h->net[k];
    memmove(&h->net[k], &h->net[k + 1], (h->n_net - k - 1) * sizeof(h->net[0]));
    h->n_net--;
    /* the link heals (3's pre-vote to 1 was lost): 1's heartbeat turns 3
     * back into its follower */
    h_drop(h, 3, 1, RAFT_MSG_PREVOTE);
    cut = false;
    h_heartbeat(h, 1, 1);
    ck_assert_int_eq(raft_role(h_raft(h, 3)), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_leader(h_raft(h, 3)), 1);
    ck_assert_uint_eq(h_status(h, 3).term, t);
    /* the late grant */
    (void)raft_step(h_raft(h, 3), &late.m);
    h_msg_free(&late);
    ck_assert_uint_eq(h_status(h, 3).term, t);
    ck_assert_int_eq(raft_role(h_raft(h, 3)), RAFT_FOLLOWER);
    h_heartbeat(h, 1, 3);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    for (raft_id id = 1; id <= 3; id++) {
        ck_assert_uint_eq(h_status(h, id).term, t);
    }
    ck_assert_uint_eq(metrics(h, 3).elections_started, 0);
    h_free(h);
}
END_TEST

/*
 * A candidate that counts granted answers rather than the voters who
 * granted becomes leader without a majority when the network duplicates
 * one voter's answer. Here, in a cluster of five, one
 * voter's grant delivered three times (pre-vote, then vote) counts once;
 * and a follower's acknowledgement delivered three times does not commit
 * an entry either.
 */
START_TEST(test_duplicated_grants_and_acks_count_once)
{
    for (int pre = 0; pre <= 1; pre++) {
        struct h_opts o = opts(239 + (uint64_t)pre, pre != 0);
        struct harness *h = h_new(5, &o);
        h_bootstrap_all(h);
        struct raft *r = h_raft(h, 1);
        int want = pre ? RAFT_PRECANDIDATE : RAFT_CANDIDATE;
        ck_assert_uint_gt(h_tick_until_role(h, 1, want, 3 * E), 0);
        h_drop_all(h);
        struct raft_status st = h_status(h, 1);
        raft_term asked = pre ? st.term + 1 : st.term;
        struct raft_msg g = h_msg_vote_resp(2, 1, asked, true, st.last_index, st.last_term);
        if (pre) {
            g.type = RAFT_MSG_PREVOTE_RESP;
        }
        for (int i = 0; i < 3; i++) {
            (void)raft_step(r, &g);
            ck_assert_int_eq(raft_role(r), want);
        }
        if (pre) {
            /* a third voter: the pre-vote is won, the real one starts */
            g.from = 3;
            ck_assert_int_eq(raft_step(r, &g), 0);
            ck_assert_int_eq(raft_role(r), RAFT_CANDIDATE);
            h_drop_all(h);
            st = h_status(h, 1);
            g = h_msg_vote_resp(2, 1, st.term, true, st.last_index, st.last_term);
            for (int i = 0; i < 3; i++) {
                (void)raft_step(r, &g);
                ck_assert_int_eq(raft_role(r), RAFT_CANDIDATE);
            }
        }
        g.from = 3;
        ck_assert_int_eq(raft_step(r, &g), 0);
        ck_assert_int_eq(raft_role(r), RAFT_LEADER);
        h_drop_all(h);
        /* acknowledgements: 1 and 2 are not 3 of 5 */
        raft_index x;
        ck_assert_int_eq(h_propose(h, 1, "x", &x), 0);
        h_drop_all(h);
        st = h_status(h, 1);
        struct raft_msg ack = h_msg_append_resp(2, 1, st.term, true, x, 0, 0);
        for (int i = 0; i < 3; i++) {
            (void)raft_step(r, &ack);
            ck_assert_uint_lt(h_status(h, 1).commit, x);
        }
        ack.from = 3;
        ck_assert_int_eq(raft_step(r, &ack), 0);
        ck_assert_uint_eq(h_status(h, 1).commit, x);
        h_free(h);
    }
}
END_TEST

/* ---- snapshots: what the log no longer holds -------------------------------- */

/* The vote or pre-vote answer from `from` to `to` in flight, or NULL. */
static const struct raft_msg *vote_answer(struct harness *h, raft_id from, raft_id to)
{
    const struct raft_msg *m = h_find(h, from, to, RAFT_MSG_VOTE_RESP, 0);
    return m != NULL ? m : h_find(h, from, to, RAFT_MSG_PREVOTE_RESP, 0);
}

/* Node `id` is asked for its vote (or pre-vote) by 2 at term t, for a log
 * ending at (li, lt); returns whether it granted. */
static bool asked_vote(struct harness *h, raft_id id, int type, raft_term t,
                       raft_index li, raft_term lt)
{
    h_drop_all(h);
    struct raft_msg m = h_msg_vote(2, id, t, li, lt);
    m.type = type;
    ck_assert_int_eq(raft_step(h_raft(h, id), &m), 0);
    const struct raft_msg *a = vote_answer(h, id, 2);
    ck_assert_ptr_nonnull(a);
    bool g = a->u.vote_resp.granted;
    h_drop_all(h);
    return g;
}

/*
 * A node whose log holds nothing after its snapshot can take the term of
 * its last entry to be 0 (the empty log's), and so lose elections it
 * should win and grant its vote to candidates missing committed
 * entries. Here node 3 installs its leader's snapshot and holds nothing
 * after it; its pre-votes and votes must name the snapshot's last entry,
 * and it must refuse candidates whose log ends before that entry, or
 * ends at its index with an older term; the same after a restart from
 * the snapshot.
 */
START_TEST(test_vote_freshness_of_a_log_that_is_only_a_snapshot)
{
    struct h_opts o = snap_opts(241);
    o.check_quorum = false; /* votes are answered at once */
    struct harness *h = h_conf_cluster(0, &o);
    struct world w;
    /* Two more elections, so that the snapshot's last term is above 1 and
     * a candidate's log can end later with an older term. */
    h_elect(h, 2);
    h_elect(h, 1);
    w_init(&w, h);
    w.cut = 1u << 3;
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(h_propose(h, 1, "c", NULL), 0);
    }
    w_run(&w, 2);
    ck_assert_int_eq(h_snapshot_take(h, 1), 0);
    raft_index s = h_status(h, 1).snapshot_index;
    raft_term st = h_status(h, 1).term;
    ck_assert_uint_gt(st, 1);
    ck_assert_uint_eq(h_status(h, 1).last_index, s);
    ck_assert_uint_gt(s, 2);
    w_rejoin_lossy(&w, 3);
    w_run(&w, 3);
    ck_assert_uint_eq(metrics(h, 3).snapshots_installed, 1);
    struct raft_status s3 = h_status(h, 3);
    ck_assert_uint_eq(s3.snapshot_index, s);
    ck_assert_uint_eq(s3.last_index, s);
    ck_assert_uint_eq(s3.last_term, st);
    h->hold = NULL;
    h_drop_all(h);
    for (int restart = 0; restart <= 1; restart++) {
        if (restart) {
            ck_assert_int_eq(h_restart(h, 3), 0);
            ck_assert_uint_eq(h_status(h, 3).last_index, s);
            ck_assert_uint_eq(h_status(h, 3).last_term, st);
        }
        for (int pre = 0; pre <= 1; pre++) {
            int type = pre ? RAFT_MSG_PREVOTE : RAFT_MSG_VOTE;
            raft_term t = h_status(h, 3).term + 1;
            ck_assert(!asked_vote(h, 3, type, t, s - 1, st));
            t = h_status(h, 3).term + 1;
            ck_assert(!asked_vote(h, 3, type, t, s + 5, st - 1));
            t = h_status(h, 3).term + 1;
            ck_assert(asked_vote(h, 3, type, t, s, st));
        }
        /* its own campaign names the snapshot's last entry */
        ck_assert_uint_gt(h_tick_until_role(h, 3, RAFT_PRECANDIDATE, 3 * E), 0);
        const struct raft_msg *pv = h_find(h, 3, 1, RAFT_MSG_PREVOTE, 0);
        ck_assert_ptr_nonnull(pv);
        ck_assert_uint_eq(pv->u.vote.last_index, s);
        ck_assert_uint_eq(pv->u.vote.last_term, st);
        h_drop_all(h);
    }
    h_free(h);
}
END_TEST

/*
 * A late AppendEntries that starts inside, or before, what a follower has
 * compacted into its snapshot (prev_index 0, or an index whose term the
 * follower no longer has) must neither append its compacted entries a
 * second time after the snapshot nor be refused for good. The entries the
 * snapshot covers are committed: they must be skipped, the rest checked
 * and appended as usual, and nothing the follower holds rewritten.
 */
START_TEST(test_append_reaching_into_the_snapshot)
{
    struct h_opts o = snap_opts(251);
    o.check_quorum = false;
    o.pre_vote = false;
    struct harness *h = h_new(3, &o);
    /* snapshot of 1..5 (last term 1), then 6..7 of term 2; term 2 */
    const raft_term after[] = {2, 2};
    ck_assert_int_eq(h_restore_snapshot(h, 1, 5, 1, 2, 0, 6, after, 2), 0);
    struct raft *r = h_raft(h, 1);
    const raft_term all[] = {1, 1, 1, 1, 1, 2, 2, 2, 2, 2};
    struct raft_entry ents[10];
    char bufs[10 * 48];
    h_mk_entries(ents, bufs, 1, all, 10);
    struct {
        raft_index prev; /* entries prev+1 .. last */
        raft_index last;
    } cases[] = {{0, 8}, {3, 9}, {0, 3}, {5, 10}, {2, 7}};
    for (size_t c = 0; c < H_ARRAY_LEN(cases); c++) {
        raft_index prev = cases[c].prev, last = cases[c].last;
        raft_index had = h_status(h, 1).last_index;
        h_reset_calls(h, 1);
        h_drop_all(h);
        struct raft_msg m = h_msg_append(2, 1, 2, prev, prev ? all[prev - 1] : 0, 5,
                                         &ents[prev], (size_t)(last - prev));
        ck_assert_int_eq(raft_step(r, &m), 0);
        const struct raft_msg *a = h_find(h, 1, 2, RAFT_MSG_APPEND_RESP, 0);
        ck_assert_ptr_nonnull(a);
        H_CHECK(a->u.append_resp.success, "case %zu (prev %llu): refused", c,
                (unsigned long long)prev);
        /* prev_index + n_entries, or the commit index (5) if the whole
         * request lay at or below it (raft.h) */
        ck_assert_uint_eq(a->u.append_resp.index, last > 5 ? last : 5);
        raft_index want = last > had ? last : had;
        struct raft_status st = h_status(h, 1);
        ck_assert_uint_eq(st.last_index, want);
        ck_assert_uint_eq(st.snapshot_index, 5);
        /* only what the follower lacked was written */
        for (size_t k = 0; k < h_ncalls(h, 1, H_CB_PERSIST_ENTRIES); k++) {
            ck_assert_uint_gt(h_call(h, 1, H_CB_PERSIST_ENTRIES, k)->index, had);
        }
        raft_term terms[16];
        size_t n = h_log_terms(h, 1, terms, 16);
        ck_assert_uint_eq(n, want - st.first_index + 1);
        for (size_t k = 0; k < n; k++) {
            ck_assert_uint_eq(terms[k], all[st.first_index - 1 + k]);
        }
        for (raft_index i = 6; i <= want; i++) {
            struct raft_entry e;
            ck_assert_int_eq(raft_entry_at(r, i, &e), 0);
            char b[48];
            size_t len = h_payload(b, i, all[i - 1]);
            ck_assert_uint_eq(e.len, len);
            ck_assert(memcmp(e.buf, b, len) == 0);
        }
    }
    h_assert_disk_matches(h, 1);
    h_free(h);
}
END_TEST

/* Holds: everything to or from node 2 (crashed), AppendEntries and their
 * replies (heartbeats lost), and every snapshot chunk but one per tick
 * (*(int *)arg chunks may still pass). */
static bool hold_slow_stream(const struct raft_msg *m, void *arg)
{
    int *left = arg;
    if (m->from == 2 || m->to == 2 || m->type == RAFT_MSG_APPEND ||
        m->type == RAFT_MSG_APPEND_RESP) {
        return true;
    }
    if (m->type == RAFT_MSG_SNAPSHOT) {
        if (*left == 0) {
            return true;
        }
        (*left)--;
    }
    return false;
}

/*
 * CheckQuorum must not depose a leader whose only live follower is busy
 * receiving its snapshot. More generally, a snapshot stream that
 * lasts longer than an election timeout must count as contact both ways:
 * the leader, hearing only the answers to its chunks, keeps its quorum,
 * and the follower, hearing only chunks, does not campaign. Here node 2 has
 * crashed and node 3 takes a snapshot of 40 chunks at one chunk per tick,
 * over four election timeouts, while every heartbeat between them is lost:
 * the stream alone must keep both.
 */
START_TEST(test_slow_snapshot_stream_keeps_leader_and_follower)
{
    struct h_opts o = snap_opts(257);
    o.snapshot_size = 4000;
    o.max_msg_bytes = 100;
    o.max_inflight = 1;
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_partition(h, 1u << 3);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(h_propose(h, 1, "c", NULL), 0);
    }
    h_deliver_all(h);
    h_heartbeat(h, 1, 1);
    ck_assert_int_eq(h_snapshot_take(h, 1), 0);
    ck_assert_uint_gt(h_status(h, 1).first_index, h_status(h, 3).last_index + 1);
    h_drop(h, 1, 3, 0);
    h_drop(h, 3, 1, 0);
    raft_term t = h_status(h, 1).term;
    int left = 0;
    h->hold = hold_slow_stream;
    h->hold_arg = &left;
    unsigned ticks = 0;
    while (metrics(h, 3).snapshots_installed == 0) {
        H_CHECK(ticks < 8 * E, "no snapshot installed after %u ticks", ticks);
        ck_assert_int_eq(raft_tick(h_raft(h, 1)), 0);
        ck_assert_int_eq(raft_tick(h_raft(h, 3)), 0);
        ticks++;
        left = 1;
        h_deliver_all(h);
        h_drop(h, 1, 2, 0);
        h_drop(h, 1, 3, RAFT_MSG_APPEND);
        h_drop(h, 3, 1, RAFT_MSG_APPEND_RESP);
        H_CHECK(raft_role(h_raft(h, 1)) == RAFT_LEADER,
                "tick %u: the leader stepped down while streaming", ticks);
        H_CHECK(raft_role(h_raft(h, 3)) == RAFT_FOLLOWER &&
                    metrics(h, 3).prevotes_started == 0,
                "tick %u: the follower campaigned while receiving", ticks);
    }
    ck_assert_uint_ge(ticks, 4 * E);
    ck_assert_uint_eq(h_status(h, 1).term, t);
    ck_assert_uint_eq(h_status(h, 3).term, t);
    ck_assert_uint_eq(h_status(h, 3).snapshot_index, h_status(h, 1).snapshot_index);
    h_free(h);
}
END_TEST

/* ---- reads, transfers and quorums ------------------------------------------ */

/* Is any read of node `id` served (status 0) from position `from` of its
 * settled reads on? */
static bool served_since(struct harness *h, raft_id id, size_t from)
{
    struct h_node *nd = h_node(h, id);
    for (size_t k = from; k < nd->n_reads; k++) {
        if (nd->reads[k].status == 0) {
            return true;
        }
    }
    return false;
}

/*
 * A leader that transfers leadership and goes on renewing its lease, from rounds its
 * followers acknowledge until one of them votes for the target, can take
 * up leading again when the transfer times out and serve reads from that
 * lease, while the target, elected meanwhile, commits writes: stale reads.
 * Here the TimeoutNow is delayed until just before the transfer times
 * out; 3 acknowledges every round of 1 until it votes for 2, which then
 * commits a write; 1, cut off, times the transfer out: no read may be
 * served on 1 after the transfer started.
 */
START_TEST(test_no_lease_read_after_a_transfer)
{
    struct h_opts o = opts(263, true);
    o.lease_reads = true;
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    h_tick(h, 2, E); /* a node holds back its vote for E ticks after start */
    h_tick(h, 3, E);
    h_drop_all(h);
    h_elect(h, 1);
    ck_assert_int_eq(h_propose(h, 1, "x", NULL), 0);
    h_deliver_all(h);
    h_heartbeat(h, 1, 2);
    struct raft *r1 = h_raft(h, 1);
    int req[64];
    int nreq = 0;
    ck_assert_int_eq(raft_read_index(r1, &req[nreq++]), 0);
    ck_assert_uint_eq(metrics(h, 1).lease_reads, 1); /* the lease holds */
    size_t before = h_node(h, 1)->n_reads;
    raft_term t = h_status(h, 1).term;
    ck_assert_int_eq(raft_transfer_leadership(r1, 2), 0);
    ck_assert_int_eq(raft_read_index(r1, &req[nreq++]), RAFT_ETRANSFER);
    nreq--;
    /* rounds go on, acknowledged, while the TimeoutNow is late */
    struct h_msg tn;
    memset(&tn, 0, sizeof(tn));
    unsigned k;
    for (k = 0; k < E - 2; k++) {
        ck_assert_int_eq(raft_tick(r1), 0);
        for (size_t i = 0; i < h->n_net;) {
            if (h->net[i].m.type == RAFT_MSG_TIMEOUT_NOW) {
                if (tn.m.type == 0) {
                    tn = h->net[i];
                } else {
                    h_msg_free(&h->net[i]);
                }
                memmove(&h->net[i], &h->net[i + 1], (h->n_net - i - 1) * sizeof(h->net[0]));
                h->n_net--;
            } else {
                i++;
            }
        }
        h_deliver_all(h);
    }
    ck_assert_int_eq(tn.m.type, RAFT_MSG_TIMEOUT_NOW);
    ck_assert_int_eq(raft_role(r1), RAFT_LEADER);
    /* 1 is cut off; 2 campaigns, 3 votes for it, 2 commits a write */
    h_partition(h, 1u << 1);
    ck_assert_int_eq(raft_step(h_raft(h, 2), &tn.m), 0);
    h_msg_free(&tn);
    h_deliver_all(h);
    ck_assert_int_eq(raft_role(h_raft(h, 2)), RAFT_LEADER);
    ck_assert_uint_eq(h_status(h, 2).term, t + 1);
    raft_index y;
    ck_assert_int_eq(h_propose(h, 2, "y", &y), 0);
    h_deliver_all(h);
    ck_assert_uint_ge(h_status(h, 2).commit, y);
    /* 1 times the transfer out and leads on until CheckQuorum */
    unsigned accepted = 0;
    for (k = 0; k < 2 * E && raft_role(r1) == RAFT_LEADER; k++) {
        ck_assert_int_eq(raft_tick(r1), 0);
        if (nreq < 64 && raft_read_index(r1, &req[nreq]) == 0) {
            nreq++;
            accepted++;
        }
        H_CHECK(!served_since(h, 1, before),
                "tick %u after the election of 2: node 1 served a read "
                "(index %llu) while 2 had committed %llu",
                k, (unsigned long long)h_node(h, 1)->reads[h_node(h, 1)->n_reads - 1].index,
                (unsigned long long)y);
    }
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_TRANSFER_ABORTED), 1);
    ck_assert_uint_gt(accepted, 0); /* it did lead on, taking reads */
    ck_assert_int_ne(raft_role(r1), RAFT_LEADER);
    ck_assert(!served_since(h, 1, before));
    ck_assert_uint_eq(h_node(h, 1)->n_reads, before + accepted); /* failed */
    h_free(h);
}
END_TEST

/*
 * A new leader, asked for a read index by a follower, does not know the commit index of its
 * predecessor until it commits an entry of its own term; answering a read
 * index before that gives an index below a write already acknowledged to
 * a client. Here 1 commits x (2 and 3 hold it, neither knows it is
 * committed) and crashes; 2 is elected; 3 asks 2 for a read index before
 * 2's no-op commits: the read must settle at an index covering x, once x
 * is applied on 3.
 */
START_TEST(test_forwarded_read_waits_for_the_new_leaders_term)
{
    struct h_opts o = opts(269, false); /* 3 votes at once */
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 2);
    raft_index x;
    ck_assert_int_eq(h_propose(h, 1, "x", &x), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_APPEND), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 3, RAFT_MSG_APPEND), 0);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_APPEND_RESP), 0);
    ck_assert_int_eq(h_deliver_one(h, 3, 1, RAFT_MSG_APPEND_RESP), 0);
    ck_assert_uint_ge(h_status(h, 1).commit, x); /* acknowledged to the client */
    h_drop_all(h);
    ck_assert_uint_lt(h_status(h, 2).commit, x);
    ck_assert_uint_lt(h_status(h, 3).commit, x);
    /* 1 crashes; 2 wins with 3's vote */
    h_partition(h, 1u << 1);
    ck_assert_uint_gt(h_tick_until_role(h, 2, RAFT_CANDIDATE, 3 * E), 0);
    ck_assert_int_eq(h_deliver_one(h, 2, 3, RAFT_MSG_VOTE), 0);
    ck_assert_int_eq(h_deliver_one(h, 3, 2, RAFT_MSG_VOTE_RESP), 0);
    ck_assert_int_eq(raft_role(h_raft(h, 2)), RAFT_LEADER);
    /* 3 hears of its leader (the no-op arrives); the ack is held */
    ck_assert_int_eq(h_deliver_one(h, 2, 3, RAFT_MSG_APPEND), 0);
    ck_assert_uint_eq(raft_leader(h_raft(h, 3)), 2);
    ck_assert_uint_lt(h_status(h, 2).commit, x);
    int req = 1;
    ck_assert_int_eq(raft_read_index(h_raft(h, 3), &req), 0);
    ck_assert_int_eq(h_deliver_one(h, 3, 2, RAFT_MSG_READ), 0);
    /* whatever 2 answers now, and then everything */
    h_deliver_all(h);
    h_heartbeat(h, 2, 2);
    struct h_node *n3 = h_node(h, 3);
    ck_assert_uint_eq(n3->n_reads, 1);
    ck_assert_int_eq(n3->reads[0].status, 0);
    H_CHECK(n3->reads[0].index >= x && n3->reads[0].applied >= x,
            "read served at index %llu with %llu applied; x, committed before "
            "the read was asked for, is at %llu",
            (unsigned long long)n3->reads[0].index,
            (unsigned long long)n3->reads[0].applied, (unsigned long long)x);
    h_free(h);
}
END_TEST

/*
 * If the entry leaving a joint configuration were written only once, when
 * the joint entry commits, a leader kept from writing it then would never
 * try again, and the cluster would stay joint for good. A leader that
 * stepped down is covered above by test_auto_leave_after_leader_change;
 * here the leader is busy with a leadership transfer, which refuses
 * proposals, when the joint entry commits. The transfer is abandoned (its
 * target is cut off): the leader must then leave the joint configuration.
 */
START_TEST(test_auto_leave_after_an_abandoned_transfer)
{
    struct h_opts o = opts(271, true);
    struct world w;
    struct harness *h = w_cluster_with_learner(&w, &o);
    w.cut = 1u << 2;
    /* committed on 1 ({1, 3} and {1, 4}); no tick yet */
    raft_index j = w_swap_committed(&w);
    ck_assert_int_eq(raft_transfer_leadership(h_raft(h, 1), 2), 0);
    w_run(&w, 3 * E);
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_TRANSFER_ABORTED), 1);
    ck_assert_uint_eq(w_leader(&w), 1);
    assert_left_joint(h, 1, j);
    H_ASSERT_CONF(h, 1, "1V 2V 4V");
    H_ASSERT_CONF(h, 4, "1V 2V 4V");
    w.cut = 0;
    w_run(&w, 3);
    H_ASSERT_CONF(h, 2, "1V 2V 4V");
    h_free(h);
}
END_TEST

/*
 * CheckQuorum must count what a majority counts: a leader that hears only
 * from learners, or, while joint, from a majority of one voter group
 * only, has lost its quorum and must step down. Here: voters {1, 2, 3}
 * with learners 4 and 5, 2 and 3 cut off; then the joint {1, 2, 3} ->
 * {1, 4, 5}, 2 and 3 cut off (4 and 5 are a majority of the incoming
 * group with 1).
 */
START_TEST(test_check_quorum_counts_voters_of_each_group)
{
    for (int joint = 0; joint <= 1; joint++) {
        struct h_opts o = opts(277 + (uint64_t)joint, true);
        struct harness *h = h_conf_cluster(2, &o);
        struct world w;
        w_init(&w, h);
        h->strict = false;
        struct raft_change add[] = {{RAFT_CHANGE_ADD_LEARNER, 4}, {RAFT_CHANGE_ADD_LEARNER, 5}};
        ck_assert_int_eq(raft_propose_change(h_raft(h, 1), add, 2, RAFT_JOINT_AUTO, NULL), 0);
        w_run(&w, 3);
        if (joint) {
            struct raft_change swap[] = {{RAFT_CHANGE_ADD_VOTER, 4},
                                         {RAFT_CHANGE_ADD_VOTER, 5},
                                         {RAFT_CHANGE_REMOVE, 2},
                                         {RAFT_CHANGE_REMOVE, 3}};
            ck_assert_int_eq(raft_propose_change(h_raft(h, 1), swap, 4, RAFT_JOINT_EXPLICIT, NULL), 0);
            w_run(&w, 3);
            H_ASSERT_CONF(h, 1, "1VO 2O 3O 4V 5V");
        } else {
            H_ASSERT_CONF(h, 1, "1V 2V 3V 4L 5L");
        }
        ck_assert_uint_eq(h_status(h, 1).commit, h_status(h, 1).last_index);
        w.cut = 1u << 2 | 1u << 3;
        w_run(&w, 2 * E + 2);
        H_CHECK(raft_role(h_raft(h, 1)) != RAFT_LEADER,
                "%s: node 1 still leads two election timeouts after 2 and 3 "
                "were cut off", joint ? "joint" : "learners");
        ck_assert_uint_eq(metrics(h, 1).quorum_lost, 1);
        h_free(h);
    }
}
END_TEST

/* ---- reordered and duplicated replies ---------------------------------------- */

/* Position in the network of the k-th message from -> to of `type`. */
static size_t net_pos(struct harness *h, raft_id from, raft_id to, int type, size_t k)
{
    for (size_t i = 0; i < h->n_net; i++) {
        const struct raft_msg *m = &h->net[i].m;
        if (m->from == from && m->to == to && m->type == type && k-- == 0) {
            return i;
        }
    }
    ck_abort_msg("no %s %llu -> %llu in flight", h_msg_type_name(type),
                 (unsigned long long)from, (unsigned long long)to);
    return 0;
}

/*
 * Stale replies must not move a leader's progress back: a duplicated
 * rejection must not lower the follower's next index a second time, a
 * rejection overtaken by later traffic must not send the follower entries
 * again, and an acknowledgement arriving after a later one must not lower
 * match and next. Here, for follower 2 of
 * leader 1: a rejection duplicated by the network arrives again once 2 has
 * caught up, and acknowledgements of two pipelined messages arrive in
 * reverse order. The leader's progress for 2 must neither go back nor
 * leave pipelining, and it must send 2 no entry a second time.
 */
START_TEST(test_stale_and_reordered_append_replies)
{
    struct h_opts o = opts(281, false);
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 2);
    /* 2 misses three entries */
    h_partition(h, 1u << 2);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(h_propose(h, 1, "c", NULL), 0);
    }
    h_deliver_all(h);
    h_drop(h, 1, 2, 0);
    h_partition(h, 0);
    raft_index last = h_status(h, 1).last_index;
    /* the heartbeat is refused, and the refusal duplicated */
    ck_assert_int_eq(h_tick(h, 1, 1), 0);
    h_drop(h, 1, 3, 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_APPEND), 0);
    size_t i = net_pos(h, 2, 1, RAFT_MSG_APPEND_RESP, 0);
    ck_assert(!h->net[i].m.u.append_resp.success);
    h_duplicate_at(h, i);
    ck_assert_int_eq(h_deliver_at(h, net_pos(h, 2, 1, RAFT_MSG_APPEND_RESP, 0)), 0);
    /* the missing entries, and their acknowledgement */
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_APPEND), 0);
    size_t ack = net_pos(h, 2, 1, RAFT_MSG_APPEND_RESP, 1);
    ck_assert(h->net[ack].m.u.append_resp.success);
    ck_assert_int_eq(h_deliver_at(h, ack), 0);
    struct raft_progress p = h_progress(h, 1, 2);
    ck_assert_uint_eq(p.match, last);
    ck_assert_int_eq(p.state, RAFT_PROGRESS_REPLICATE);
    /* the duplicate of the refusal, late */
    h_reset_calls(h, 1);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_APPEND_RESP), 0);
    p = h_progress(h, 1, 2);
    ck_assert_uint_eq(p.match, last);
    ck_assert_uint_eq(p.next, last + 1);
    ck_assert_int_eq(p.state, RAFT_PROGRESS_REPLICATE);
    ck_assert_uint_eq(h_count(h, 1, 2, RAFT_MSG_APPEND), 0);
    /* two pipelined messages, acknowledged in reverse order */
    h_drop_all(h);
    raft_index a, b;
    ck_assert_int_eq(h_propose(h, 1, "a", &a), 0);
    ck_assert_int_eq(h_propose(h, 1, "b", &b), 0);
    h_drop(h, 1, 3, 0);
    ck_assert_uint_eq(h_count(h, 1, 2, RAFT_MSG_APPEND), 2);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_APPEND), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_APPEND), 0);
    ck_assert_int_eq(h_deliver_at(h, net_pos(h, 2, 1, RAFT_MSG_APPEND_RESP, 1)), 0);
    p = h_progress(h, 1, 2);
    ck_assert_uint_eq(p.match, b);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_APPEND_RESP), 0);
    p = h_progress(h, 1, 2);
    ck_assert_uint_eq(p.match, b);
    ck_assert_uint_eq(p.next, b + 1);
    ck_assert_int_eq(p.state, RAFT_PROGRESS_REPLICATE);
    ck_assert_uint_eq(h_count(h, 1, 2, RAFT_MSG_APPEND), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, b);
    h_free(h);
}
END_TEST

Suite *raft_known_suite(void)
{
    Suite *s = suite_create("known");
    TCase *tc = tcase_create("removed");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_removed_unaware_voter_does_not_disrupt);
    tcase_add_test(tc, test_removed_node_restarted_does_not_disrupt);
    tcase_add_test(tc, test_learner_unaware_of_promotion_votes);
    tcase_add_test(tc, test_snapshot_demotes_voter);
    tcase_add_test(tc, test_member_re_added_empty_after_departure_catches_up);
    tcase_add_test(tc, test_member_re_added_empty_within_departure_catches_up);
    suite_add_tcase(s, tc);

    tc = tcase_create("in_force");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_added_voter_counts_once_appended);
    tcase_add_test(tc, test_two_removals_leave_no_second_majority);
    tcase_add_test(tc, test_new_leader_inherits_uncommitted_change);
    suite_add_tcase(s, tc);

    tc = tcase_create("joint");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_auto_leave_after_leader_change);
    tcase_add_test(tc, test_joint_change_replacing_the_leader);
    tcase_add_test(tc, test_removed_node_holding_latest_log_campaigns);
    tcase_add_test(tc, test_demoted_voter_in_joint_votes_for_itself);
    tcase_add_test(tc, test_read_index_in_joint_needs_both_majorities);
    tcase_add_test(tc, test_removed_leader_does_not_count_itself);
    suite_add_tcase(s, tc);

    tc = tcase_create("transfer");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_transfer_never_reaches_a_non_voter);
    tcase_add_test(tc, test_transfer_target_ignores_old_leaders_heartbeat);
    tcase_add_test(tc, test_stale_timeout_now_after_abort);
    tcase_add_test(tc, test_transfer_to_target_needing_a_snapshot);
    suite_add_tcase(s, tc);

    tc = tcase_create("snapshots");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_snapshot_carries_joint_configuration);
    tcase_add_test(tc, test_config_rollback_after_compaction);
    tcase_add_test(tc, test_config_rollback_after_compaction_and_restart);
    tcase_add_test(tc, test_snapshot_replaces_conflicting_suffix);
    suite_add_tcase(s, tc);

    tc = tcase_create("elections");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_prevote_lower_term_node_with_longest_log_wins);
    tcase_add_test(tc, test_late_prevote_grant_changes_no_term);
    tcase_add_test(tc, test_duplicated_grants_and_acks_count_once);
    suite_add_tcase(s, tc);

    tc = tcase_create("snapshots2");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_vote_freshness_of_a_log_that_is_only_a_snapshot);
    tcase_add_test(tc, test_append_reaching_into_the_snapshot);
    tcase_add_test(tc, test_slow_snapshot_stream_keeps_leader_and_follower);
    suite_add_tcase(s, tc);

    tc = tcase_create("reads_quorums");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_no_lease_read_after_a_transfer);
    tcase_add_test(tc, test_forwarded_read_waits_for_the_new_leaders_term);
    tcase_add_test(tc, test_auto_leave_after_an_abandoned_transfer);
    tcase_add_test(tc, test_check_quorum_counts_voters_of_each_group);
    suite_add_tcase(s, tc);

    tc = tcase_create("replies");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_stale_and_reordered_append_replies);
    suite_add_tcase(s, tc);
    return s;
}
