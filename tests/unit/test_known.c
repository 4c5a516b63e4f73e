/*
 * test_known.c - scenarios known to break Raft implementations around
 * membership changes, leadership transfer and snapshots.
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
    struct raft_change swap[] = {{RAFT_CHANGE_ADD_VOTER, 4}, {RAFT_CHANGE_REMOVE, 3}};
    raft_index j;
    ck_assert_int_eq(raft_propose_change(h_raft(h, 1), swap, 2, RAFT_JOINT_AUTO, &j), 0);
    w_net(&w); /* committed on 1; the leave entry comes at its next tick */
    struct raft_status st = h_status(h, 1);
    ck_assert(st.joint);
    ck_assert_uint_eq(st.commit, j);
    ck_assert_uint_eq(st.last_index, j);
    w.dead = 1u << 1;
    w_until_leader(&w, 40 * E);
    w_run(&w, 5 * E);
    raft_id l = w_leader(&w);
    ck_assert(l == 2 || l == 4);
    st = h_status(h, l);
    ck_assert(!st.joint);
    ck_assert_uint_gt(st.conf_index, j);
    ck_assert_uint_ge(st.commit, st.conf_index);
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
    struct raft_change swap[] = {{RAFT_CHANGE_ADD_VOTER, 4}, {RAFT_CHANGE_REMOVE, 3}};
    raft_index j;
    ck_assert_int_eq(raft_propose_change(h_raft(h, 1), swap, 2, RAFT_JOINT_AUTO, &j), 0);
    w_net(&w);
    ck_assert_uint_eq(h_status(h, 1).commit, j);
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
    return s;
}
