/*
 * test_reads.c - PreVote (thesis 9.6), CheckQuorum and leader stickiness,
 * and linearizable reads without log writes: ReadIndex on the leader and
 * on followers, and lease reads (thesis 6.4, 6.4.1).
 *
 * Every test here turns the features on through h_opts (the harness runs
 * classic Raft otherwise). Elections are driven by ticking one node and
 * delivering messages, so each scenario is exact.
 */
#include <string.h>

#include "harness.h"
#include "suites.h"

#define E 10u /* election_ticks used throughout */

static const struct h_opts on3 = {.election_ticks = E, .heartbeat_ticks = 1,
                                  .seed = 11, .pre_vote = true,
                                  .check_quorum = true};

static struct raft_metrics metrics(struct harness *h, raft_id id)
{
    struct raft_metrics m;
    ck_assert_int_eq(raft_metrics(h_raft(h, id), &m, sizeof(m)), 0);
    return m;
}

/* A 3-node cluster with node 1 leader and one command committed and applied
 * everywhere; returns its index. */
static raft_index leader_with_commit(struct harness *h)
{
    raft_index idx = 0;
    h_bootstrap_all(h);
    if (h->opts.lease_reads) {
        /* With leases a node ignores vote requests for election_ticks
         * after it starts: let that time pass on the others first. */
        h_tick(h, 2, E);
        h_tick(h, 3, E);
        h_drop_all(h);
    }
    h_elect(h, 1);
    ck_assert_int_eq(h_propose(h, 1, "x", &idx), 0);
    h_deliver_all(h);
    h_heartbeat(h, 1, 1); /* the commit index reaches the followers */
    for (raft_id id = 1; id <= 3; id++) {
        ck_assert_uint_eq(h_status(h, id).applied, idx);
    }
    return idx;
}

/* A 3-node cluster with lease reads on, node 1 leading with an entry of
 * its term committed (leader_with_commit). */
static struct harness *lease_cluster(void)
{
    struct h_opts o = on3;
    o.lease_reads = true;
    struct harness *h = h_new(3, &o);
    leader_with_commit(h);
    return h;
}

/* ---- PreVote ---------------------------------------------------------------- */

/* A node cut off for many election timeouts keeps its term with PreVote
 * and, once back, follows the leader it had: no election. Without PreVote
 * its term races ahead and it deposes the leader when it returns. */
START_TEST(test_prevote_isolated_node_rejoins_without_election)
{
    bool pre = _i == 0;
    struct h_opts o = on3;
    o.pre_vote = pre;
    o.check_quorum = pre;
    struct harness *h = h_new(3, &o);
    leader_with_commit(h);
    raft_term t = raft_current_term(h_raft(h, 1));

    uint64_t writes = metrics(h, 3).persist_state_calls;
    h_partition(h, 1u << 3);
    for (unsigned i = 0; i < 5 * E; i++) {
        h_tick(h, 3, 1);
        h_tick(h, 1, 1);
        h_tick(h, 2, 1);
        h_deliver_all(h);
    }
    if (pre) {
        ck_assert_uint_eq(raft_current_term(h_raft(h, 3)), t);
        ck_assert_uint_ge(metrics(h, 3).prevotes_started, 4);
        ck_assert_uint_eq(metrics(h, 3).elections_started, 0);
        ck_assert_uint_eq(metrics(h, 3).persist_state_calls, writes);
    } else {
        ck_assert_uint_gt(raft_current_term(h_raft(h, 3)), t + 3);
    }
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);

    h_partition(h, 0);
    h_drop_all(h); /* what the partition held is lost */
    h_heartbeat(h, 1, 2);
    if (pre) {
        ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
        ck_assert_uint_eq(raft_current_term(h_raft(h, 1)), t);
        ck_assert_int_eq(raft_role(h_raft(h, 3)), RAFT_FOLLOWER);
        ck_assert_uint_eq(raft_leader(h_raft(h, 3)), 1);
    } else {
        /* The leader heard a higher term in node 3's rejection. */
        ck_assert_int_ne(raft_role(h_raft(h, 1)), RAFT_LEADER);
        ck_assert_uint_gt(raft_current_term(h_raft(h, 1)), t);
    }
    h_free(h);
}
END_TEST

/* Answering a pre-vote changes nothing: no term, no vote, no write, no
 * timer reset; a grant carries the term asked about. */
START_TEST(test_prevote_request_changes_nothing)
{
    struct harness *h = h_new(3, &on3);
    const raft_term terms[] = {1, 2};
    ck_assert_int_eq(h_restore(h, 1, 4, 0, terms, 2), 0);
    h_tick(h, 1, 3);
    struct raft_status before = h_status(h, 1);

    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_PREVOTE;
    m.from = 2;
    m.to = 1;
    m.term = 6;
    m.u.vote.last_index = 2;
    m.u.vote.last_term = 2;
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, "after a pre-vote");
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_PERSIST_STATE), 0);
    const struct raft_msg *r = h_find(h, 1, 2, RAFT_MSG_PREVOTE_RESP, 0);
    ck_assert_ptr_nonnull(r);
    ck_assert(r->u.vote_resp.granted);
    ck_assert_uint_eq(r->term, 6);

    /* The timer was not reset: node 1 still times out on schedule. */
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_PRECANDIDATE, E + E / 4), 0);
    h_free(h);
}
END_TEST

/* A pre-vote for a log behind ours is refused with our own term; one from
 * a term behind ours is refused the same way (the stale-term answer). */
START_TEST(test_prevote_refused_for_stale_log_or_term)
{
    struct harness *h = h_new(3, &on3);
    const raft_term terms[] = {1, 3};
    ck_assert_int_eq(h_restore(h, 1, 4, 0, terms, 2), 0);
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_PREVOTE;
    m.from = 2;
    m.to = 1;
    m.term = 5;
    m.u.vote.last_index = 5;
    m.u.vote.last_term = 2; /* older last term: behind us */
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    const struct raft_msg *r = h_find(h, 1, 2, RAFT_MSG_PREVOTE_RESP, 0);
    ck_assert_ptr_nonnull(r);
    ck_assert(!r->u.vote_resp.granted);
    ck_assert_uint_eq(r->term, 4);

    m.term = 3; /* below our term 4 */
    m.u.vote.last_term = 3;
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), RAFT_ESTALE);
    r = h_find(h, 1, 2, RAFT_MSG_PREVOTE_RESP, 1);
    ck_assert_ptr_nonnull(r);
    ck_assert(!r->u.vote_resp.granted);
    ck_assert_uint_eq(r->term, 4);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 1)), 4);
    h_free(h);
}
END_TEST

/* The election timer starts a pre-vote; a majority of grants starts the
 * real election at term + 1, which raises the term once. */
START_TEST(test_prevote_majority_starts_real_election)
{
    struct harness *h = h_new(3, &on3);
    h_bootstrap_all(h);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_PRECANDIDATE, 2 * E), 0);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 1)), 0);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_PREVOTE), 2);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_VOTE), 0);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_PERSIST_STATE), 0);
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_PREVOTE_START), 1);
    ck_assert_uint_eq(h_find(h, 1, 2, RAFT_MSG_PREVOTE, 0)->term, 1);

    /* One grant (with its own vote) is a majority of 3. */
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_PREVOTE), 0);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_PREVOTE_RESP), 0);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_CANDIDATE);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 1)), 1);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_VOTE), 2);
    h_deliver_all(h);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 1)), 1);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 2)), 1);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 3)), 1);
    h_free(h);
}
END_TEST

/* Refusals from a majority end the pre-vote: the node follows again at its
 * term; a refusal from a later term brings the node up to that term. */
START_TEST(test_prevote_lost_and_refusal_from_later_term)
{
    struct harness *h = h_new(3, &on3);
    const raft_term behind[] = {1};
    const raft_term ahead[] = {1, 2};
    ck_assert_int_eq(h_restore(h, 1, 2, 0, behind, 1), 0);
    ck_assert_int_eq(h_restore(h, 2, 2, 0, ahead, 2), 0);
    ck_assert_int_eq(h_restore(h, 3, 5, 0, ahead, 2), 0);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_PRECANDIDATE, 2 * E), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_PREVOTE), 0);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_PREVOTE_RESP), 0);
    /* Refused by one of two peers: not yet lost (3 has not answered). */
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_PRECANDIDATE);
    ck_assert_int_eq(h_deliver_one(h, 1, 3, RAFT_MSG_PREVOTE), RAFT_ESTALE);
    ck_assert_int_eq(h_deliver_one(h, 3, 1, RAFT_MSG_PREVOTE_RESP), 0);
    /* Node 3 refused from term 5: node 1 catches up and follows. */
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 1)), 5);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 2)), 2);
    ck_assert_uint_eq(metrics(h, 1).elections_started, 0);

    /* The same pre-vote lost at its own term: refused by both peers. */
    struct harness *g = h_new(3, &on3);
    ck_assert_int_eq(h_restore(g, 1, 2, 0, behind, 1), 0);
    ck_assert_int_eq(h_restore(g, 2, 2, 0, ahead, 2), 0);
    ck_assert_int_eq(h_restore(g, 3, 2, 0, ahead, 2), 0);
    ck_assert_uint_gt(h_tick_until_role(g, 1, RAFT_PRECANDIDATE, 2 * E), 0);
    h_deliver_all(g);
    ck_assert_int_eq(raft_role(h_raft(g, 1)), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_current_term(h_raft(g, 1)), 2);
    ck_assert_uint_eq(h_nevents(g, 1, RAFT_EVENT_ELECTION_LOST), 1);
    h_free(g);
    h_free(h);
}
END_TEST

/* ---- CheckQuorum and stickiness ------------------------------------------- */

/* A leader cut off from every follower steps down within one election
 * timeout, and then refuses proposals. */
START_TEST(test_check_quorum_cut_off_leader_steps_down)
{
    struct harness *h = h_new(3, &on3);
    leader_with_commit(h);
    h_partition(h, 1u << 1);
    unsigned t = 0;
    while (raft_role(h_raft(h, 1)) == RAFT_LEADER) {
        ck_assert_uint_le(t, E);
        ck_assert_int_eq(h_propose(h, 1, "y", NULL), 0);
        ck_assert_int_eq(raft_tick(h_raft(h, 1)), 0);
        t++;
    }
    /* The followers last answered at the tick before the partition: not
     * heard from within the last election_ticks ticks exactly E ticks
     * later (raft.h, CheckQuorum), not one tick more. */
    ck_assert_uint_eq(t, E);
    ck_assert_int_eq(h_propose(h, 1, "z", NULL), RAFT_ENOTLEADER);
    ck_assert_uint_eq(h_nevents_error(h, 1, RAFT_EVENT_STEP_DOWN, RAFT_ENOQUORUM), 1);
    ck_assert_uint_eq(metrics(h, 1).quorum_lost, 1);
    ck_assert_uint_eq(raft_leader(h_raft(h, 1)), 0);
    h_free(h);
}
END_TEST

/* The same boundary where the configuration is not a plain voter list
 * (a learner, node 4): CheckQuorum then counts per voter group, and must
 * still step down exactly election_ticks ticks after the last answers. */
START_TEST(test_check_quorum_with_learner_steps_down_on_time)
{
    struct harness *h = h_conf_cluster(1, &on3);
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 4, NULL), 0);
    h_heartbeat(h, 1, 3);
    H_ASSERT_CONF(h, 1, "1V 2V 3V 4L");
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    h_partition(h, 1u << 1);
    unsigned t = 0;
    while (raft_role(h_raft(h, 1)) == RAFT_LEADER) {
        ck_assert_uint_le(t, E);
        ck_assert_int_eq(raft_tick(h_raft(h, 1)), 0);
        t++;
    }
    ck_assert_uint_eq(t, E);
    ck_assert_uint_eq(h_nevents_error(h, 1, RAFT_EVENT_STEP_DOWN, RAFT_ENOQUORUM), 1);
    h_free(h);
}
END_TEST

/* A leader that hears from a majority keeps leading, with one follower
 * gone for good. */
START_TEST(test_check_quorum_leader_with_majority_stays)
{
    struct harness *h = h_new(3, &on3);
    leader_with_commit(h);
    h_partition(h, 1u << 3);
    for (unsigned i = 0; i < 10 * E; i++) {
        h_tick(h, 1, 1);
        h_tick(h, 2, 1);
        h_deliver_all(h);
    }
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    ck_assert_uint_eq(metrics(h, 1).quorum_lost, 0);
    h_free(h);
}
END_TEST

static bool hold_appends(const struct raft_msg *m, void *arg)
{
    (void)arg;
    return m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_APPEND_RESP;
}

/* CheckQuorum counts every reply: a leader whose AppendEntries traffic is
 * lost, but whose followers echo its read rounds, still hears a majority
 * and stays. */
START_TEST(test_check_quorum_counts_read_round_echoes)
{
    struct harness *h = h_new(3, &on3);
    leader_with_commit(h);
    struct raft *l = h_raft(h, 1);
    int req;
    h->hold = hold_appends;
    for (unsigned i = 0; i < 3 * E; i++) {
        ck_assert_int_eq(raft_read_index(l, &req), 0);
        h_deliver_all(h);
        h_drop_all(h);
        ck_assert_int_eq(h_tick(h, 1, 1), 0);
        ck_assert_int_eq(raft_role(l), RAFT_LEADER);
    }
    ck_assert_uint_eq(metrics(h, 1).quorum_lost, 0);
    ck_assert_uint_ge(h_node(h, 1)->n_reads, 3 * E - 1);
    h_free(h);
}
END_TEST

/* A follower that heard from its leader within election_ticks ignores a
 * vote request of a higher term (no reply, no term change); once it has
 * not heard for that long, it answers. The leader ignores it too. */
START_TEST(test_stickiness_ignores_disruptive_vote)
{
    struct harness *h = h_new(3, &on3);
    leader_with_commit(h);
    raft_term t = raft_current_term(h_raft(h, 2));
    struct raft_status st = h_status(h, 2);
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_VOTE;
    m.from = 3;
    m.term = t + 1;
    m.u.vote.last_index = st.last_index;
    m.u.vote.last_term = st.last_term;
    for (raft_id to = 1; to <= 2; to++) {
        m.to = to;
        ck_assert_int_eq(raft_step(h_raft(h, to), &m), 0);
        ck_assert_uint_eq(raft_current_term(h_raft(h, to)), t);
        ck_assert_uint_eq(h_count(h, to, 3, RAFT_MSG_VOTE_RESP), 0);
        ck_assert_uint_eq(metrics(h, to).rejected[RAFT_REJECT_IN_LEASE], 1);
    }
    m.type = RAFT_MSG_PREVOTE;
    m.to = 2;
    ck_assert_int_eq(raft_step(h_raft(h, 2), &m), 0);
    ck_assert_uint_eq(h_count(h, 2, 3, RAFT_MSG_PREVOTE_RESP), 0);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);

    /* election_ticks without the leader: node 2 answers again (it has
     * become a pre-candidate by then and knows no leader). */
    h_tick(h, 2, E + E / 4);
    m.type = RAFT_MSG_VOTE;
    ck_assert_int_eq(raft_step(h_raft(h, 2), &m), 0);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 2)), t + 1);
    ck_assert_uint_eq(h_count(h, 2, 3, RAFT_MSG_VOTE_RESP), 1);
    h_free(h);
}
END_TEST

/* ---- ReadIndex ---------------------------------------------------------------- */

/* The leader answers reads after a majority echoed a heartbeat round sent
 * after they were asked for. One round is in flight at a time: reads asked
 * for meanwhile share the next one. The read index is the commit index
 * when the read was asked for. */
START_TEST(test_read_index_on_leader_shares_rounds)
{
    struct harness *h = h_new(3, &on3);
    raft_index idx = leader_with_commit(h);
    struct raft *l = h_raft(h, 1);
    int a, b, c;
    h_drop_all(h);
    ck_assert_int_eq(raft_read_index(l, &a), 0);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_HEARTBEAT), 2);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 0);
    ck_assert_int_eq(raft_read_index(l, &b), 0);
    ck_assert_int_eq(raft_read_index(l, &c), 0);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_HEARTBEAT), 2);
    /* Node 2 echoes round 1: with the leader a majority, which settles
     * read a and starts round 2 for b and c. */
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_HEARTBEAT), 0);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_HEARTBEAT_RESP), 0);
    struct h_node *nd = h_node(h, 1);
    ck_assert_uint_eq(nd->n_reads, 1);
    ck_assert_ptr_eq(nd->reads[0].req, &a);
    ck_assert_uint_eq(h_count(h, 1, 2, RAFT_MSG_HEARTBEAT), 1);
    ck_assert_uint_eq(h_find(h, 1, 2, RAFT_MSG_HEARTBEAT, 0)->u.heartbeat.round, 2);
    h_deliver_all(h);
    ck_assert_uint_eq(nd->n_reads, 3);
    ck_assert_ptr_eq(nd->reads[1].req, &b);
    ck_assert_ptr_eq(nd->reads[2].req, &c);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(nd->reads[i].status, 0);
        ck_assert_uint_eq(nd->reads[i].index, idx);
        ck_assert_uint_ge(nd->reads[i].applied, idx);
    }
    ck_assert_uint_eq(metrics(h, 1).reads_served, 3);
    ck_assert_uint_eq(metrics(h, 1).read_rounds, 2);
    /* Nothing was written for the reads. */
    ck_assert_uint_eq(h_status(h, 1).last_index, idx);
    h_free(h);
}
END_TEST

/* An echo that arrives late still confirms only the reads asked for before
 * its round started. */
START_TEST(test_read_index_old_round_does_not_confirm)
{
    struct harness *h = h_new(3, &on3);
    leader_with_commit(h);
    struct raft *l = h_raft(h, 1);
    int a, b;
    h_drop_all(h);
    ck_assert_int_eq(raft_read_index(l, &a), 0);
    /* Round 1 reaches node 2, whose answer is held back. */
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_HEARTBEAT), 0);
    h_drop(h, 1, 3, RAFT_MSG_HEARTBEAT);
    struct h_msg old;
    ck_assert(h_pop(h, &old));
    ck_assert_int_eq(old.m.type, RAFT_MSG_HEARTBEAT_RESP);
    ck_assert_int_eq(raft_read_index(l, &b), 0);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_HEARTBEAT), 0); /* waits */
    /* The round-1 echo settles read a only, and starts round 2. */
    ck_assert_int_eq(raft_step(l, &old.m), 0);
    h_msg_free(&old);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 1);
    ck_assert_ptr_eq(h_node(h, 1)->reads[0].req, &a);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_HEARTBEAT), 2);
    /* A duplicate of the round-1 echo changes nothing. */
    ck_assert_int_eq(raft_step(l, &(struct raft_msg){.type = RAFT_MSG_HEARTBEAT_RESP,
                                                     .from = 2, .to = 1,
                                                     .term = raft_current_term(l),
                                                     .u.heartbeat.round = 1}),
                     0);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 1);
    h_deliver_all(h);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 2);
    ck_assert_ptr_eq(h_node(h, 1)->reads[1].req, &b);
    h_free(h);
}
END_TEST

/* A new leader serves no read before an entry of its term commits: the
 * read waits (no round yet) and its index is at least the new term's
 * first entry. */
START_TEST(test_read_index_new_leader_waits_for_its_term)
{
    struct harness *h = h_new(3, &on3);
    h_bootstrap_all(h);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_PRECANDIDATE, 2 * E), 0);
    /* Win the election but hold the no-op's AppendEntries. */
    while (raft_role(h_raft(h, 1)) != RAFT_LEADER) {
        ck_assert_uint_gt(h_count(h, 0, 0, 0), 0);
        ck_assert_int_eq(h_deliver_at(h, 0), 0);
    }
    int a;
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &a), 0);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_HEARTBEAT), 0);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 0);
    h_deliver_all(h);
    struct h_node *nd = h_node(h, 1);
    ck_assert_uint_eq(nd->n_reads, 1);
    ck_assert_int_eq(nd->reads[0].status, 0);
    ck_assert_uint_ge(nd->reads[0].index, 1); /* the no-op of term 1 */
    ck_assert_uint_ge(h_status(h, 1).commit, nd->reads[0].index);
    h_free(h);
}
END_TEST

/* Reads pending when leadership is lost fail with RAFT_ELEADERLOST. */
START_TEST(test_read_index_fails_when_leadership_lost)
{
    struct harness *h = h_new(3, &on3);
    leader_with_commit(h);
    int a;
    h_drop_all(h);
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &a), 0);
    h_drop_all(h); /* the round is lost */
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_APPEND_RESP; /* a reply from a later term deposes it */
    m.from = 2;
    m.to = 1;
    m.term = raft_current_term(h_raft(h, 1)) + 1;
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    struct h_node *nd = h_node(h, 1);
    ck_assert_uint_eq(nd->n_reads, 1);
    ck_assert_ptr_eq(nd->reads[0].req, &a);
    ck_assert_int_eq(nd->reads[0].status, RAFT_ELEADERLOST);
    ck_assert_uint_eq(nd->reads[0].index, 0);
    ck_assert_uint_eq(metrics(h, 1).reads_failed, 1);
    h_free(h);
}
END_TEST

/* A configuration change can leave the voters' echoes short of the round
 * already confirmed (here voter 4, added, echoed none). A late echo of an
 * old round then confirms nothing new, and what was confirmed stays so:
 * the next read starts its round at once, as after any confirmed round. */
START_TEST(test_read_index_late_echo_after_voter_added_keeps_confirmed_round)
{
    struct harness *h = h_conf_cluster(1, &on3);
    struct raft *l = h_raft(h, 1);
    ck_assert_int_eq(h_propose(h, 1, "x", NULL), 0);
    h_deliver_all(h);
    h_heartbeat(h, 1, 1);
    int a, b, c;
    h_drop_all(h);
    /* round 1: both echo, node 3's echo is held back */
    ck_assert_int_eq(raft_read_index(l, &a), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_HEARTBEAT), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 3, RAFT_MSG_HEARTBEAT), 0);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_HEARTBEAT_RESP), 0);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 1);
    struct h_msg late;
    ck_assert(h_pop(h, &late));
    ck_assert_int_eq(late.m.type, RAFT_MSG_HEARTBEAT_RESP);
    ck_assert_uint_eq(late.m.from, 3);
    ck_assert_uint_eq(late.m.u.heartbeat.round, 1);
    /* round 2: confirmed by node 2 alone */
    ck_assert_int_eq(raft_read_index(l, &b), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_HEARTBEAT), 0);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_HEARTBEAT_RESP), 0);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 2);
    ck_assert_uint_eq(metrics(h, 1).read_rounds, 2);
    /* voter 4 joins: the leader counts it at once */
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_VOTER, 4, NULL), 0);
    H_ASSERT_CONF(h, 1, "1V 2V 3V 4V");
    h_drop_all(h);
    ck_assert_int_eq(raft_step(l, &late.m), 0);
    h_msg_free(&late);
    /* a new read starts round 3 in the same call */
    ck_assert_int_eq(raft_read_index(l, &c), 0);
    ck_assert_uint_eq(metrics(h, 1).read_rounds, 3);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_HEARTBEAT), 3);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 2);
    h_free(h);
}
END_TEST

/* A round started again at a heartbeat is the one in flight: a read asked
 * for meanwhile waits for it to be confirmed, like any other. */
START_TEST(test_read_index_retried_round_is_the_one_in_flight)
{
    struct harness *h = h_new(3, &on3);
    leader_with_commit(h);
    int a, b;
    h_drop_all(h);
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &a), 0);
    h_drop_all(h); /* round 1 is lost */
    ck_assert_int_eq(h_tick(h, 1, 1), 0);
    ck_assert_uint_eq(metrics(h, 1).read_rounds, 2);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_HEARTBEAT), 2);
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &b), 0);
    ck_assert_uint_eq(metrics(h, 1).read_rounds, 2);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_HEARTBEAT), 2);
    h_deliver_all(h);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 2);
    ck_assert_uint_eq(metrics(h, 1).read_rounds, 3);
    h_free(h);
}
END_TEST

/* A read answer of a later term is news of that term, like any message:
 * a leader that gets one adopts the term and steps down. */
START_TEST(test_read_answer_of_later_term_deposes_leader)
{
    struct harness *h = h_new(3, &on3);
    leader_with_commit(h);
    raft_term t = raft_current_term(h_raft(h, 1));
    h_drop_all(h);
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_READ_RESP;
    m.from = 2;
    m.to = 1;
    m.term = t + 1;
    m.u.read.id = 1; /* a refusal: index 0, not ok */
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 1)), t + 1);
    ck_assert_uint_eq(raft_leader(h_raft(h, 1)), 0);
    ck_assert_uint_eq(h_node(h, 1)->d_term, t + 1);
    h_free(h);
}
END_TEST

/* A round that goes unanswered is started again at the next heartbeat. */
START_TEST(test_read_index_lost_round_retried)
{
    struct harness *h = h_new(3, &on3);
    leader_with_commit(h);
    int a;
    h_drop_all(h);
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &a), 0);
    h_drop_all(h);
    h_heartbeat(h, 1, 1);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 1);
    ck_assert_int_eq(h_node(h, 1)->reads[0].status, 0);
    ck_assert_uint_eq(metrics(h, 1).read_rounds, 2);
    h_free(h);
}
END_TEST

/* A follower's reads go to the leader in one message per call; the leader
 * answers after its round; the follower settles them once it has applied
 * up to the leader's index. */
START_TEST(test_read_index_on_follower)
{
    struct harness *h = h_new(3, &on3);
    raft_index idx = leader_with_commit(h);
    int a, b;
    h_drop_all(h);
    /* A command the leader committed that node 2 has not applied yet. */
    raft_index idx2 = 0;
    h_partition(h, 1u << 2);
    ck_assert_int_eq(h_propose(h, 1, "w", &idx2), 0);
    h_deliver_all(h);
    ck_assert_uint_eq(h_status(h, 1).commit, idx2);
    ck_assert_uint_eq(h_status(h, 2).applied, idx);
    h_drop_all(h);
    h_partition(h, 0);

    struct raft *f = h_raft(h, 2);
    ck_assert_int_eq(raft_read_index(f, &a), 0);
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_READ), 1);
    ck_assert_int_eq(raft_read_index(f, &b), 0);
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_READ), 2);
    /* Deliver the READs and the round, not yet the entries node 2 lacks. */
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_READ), 0);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_READ), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 3, RAFT_MSG_HEARTBEAT), 0);
    ck_assert_int_eq(h_deliver_one(h, 3, 1, RAFT_MSG_HEARTBEAT_RESP), 0);
    const struct raft_msg *resp = h_find(h, 1, 2, RAFT_MSG_READ_RESP, 0);
    ck_assert_ptr_nonnull(resp);
    ck_assert(resp->u.read.ok);
    ck_assert_uint_eq(resp->u.read.index, idx2);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_READ_RESP), 0);
    ck_assert_uint_eq(h_node(h, 2)->n_reads, 0); /* not applied there yet */
    h_heartbeat(h, 1, 2);
    struct h_node *nd = h_node(h, 2);
    ck_assert_uint_eq(nd->n_reads, 2);
    ck_assert_ptr_eq(nd->reads[0].req, &a);
    ck_assert_ptr_eq(nd->reads[1].req, &b);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(nd->reads[i].status, 0);
        ck_assert_uint_eq(nd->reads[i].index, idx2);
        ck_assert_uint_ge(nd->reads[i].applied, idx2);
    }
    h_free(h);
}
END_TEST

/* Reads forwarded by two followers at once are both served: each
 * follower numbers its own reads, so one follower's waiting request covers
 * only that follower's later ones, whatever the numbers. */
START_TEST(test_read_index_two_followers_at_once)
{
    struct harness *h = h_new(3, &on3);
    raft_index idx = leader_with_commit(h);
    int a, b;
    h_drop_all(h);
    ck_assert_int_eq(raft_read_index(h_raft(h, 2), &a), 0);
    ck_assert_int_eq(raft_read_index(h_raft(h, 3), &b), 0);
    const struct raft_msg *r2 = h_find(h, 2, 1, RAFT_MSG_READ, 0);
    const struct raft_msg *r3 = h_find(h, 3, 1, RAFT_MSG_READ, 0);
    ck_assert_ptr_nonnull(r2);
    ck_assert_ptr_nonnull(r3);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_READ), 0);
    ck_assert_int_eq(h_deliver_one(h, 3, 1, RAFT_MSG_READ), 0);
    h_deliver_all(h); /* the round, its echoes and the answers; no tick */
    for (raft_id id = 2; id <= 3; id++) {
        struct h_node *nd = h_node(h, id);
        ck_assert_msg(nd->n_reads == 1, "node %u: %zu reads settled",
                      (unsigned)id, nd->n_reads);
        ck_assert_ptr_eq(nd->reads[0].req, id == 2 ? (void *)&a : (void *)&b);
        ck_assert_int_eq(nd->reads[0].status, 0);
        ck_assert_uint_eq(nd->reads[0].index, idx);
    }
    h_free(h);
}
END_TEST

/* A follower's read whose index it has not applied yet is settled in the
 * very call that applies up to it, not at some later call. */
START_TEST(test_read_index_follower_settled_when_applied)
{
    struct harness *h = h_new(3, &on3);
    raft_index idx = leader_with_commit(h);
    int a;
    h_drop_all(h);
    /* A command the leader committed that node 2 has not received. */
    raft_index idx2 = 0;
    h_partition(h, 1u << 2);
    ck_assert_int_eq(h_propose(h, 1, "w", &idx2), 0);
    h_deliver_all(h);
    ck_assert_uint_eq(h_status(h, 1).commit, idx2);
    ck_assert_uint_eq(h_status(h, 2).applied, idx);
    h_drop_all(h);
    h_partition(h, 0);

    ck_assert_int_eq(raft_read_index(h_raft(h, 2), &a), 0);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_READ), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 3, RAFT_MSG_HEARTBEAT), 0);
    ck_assert_int_eq(h_deliver_one(h, 3, 1, RAFT_MSG_HEARTBEAT_RESP), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_READ_RESP), 0);
    h_drop_all(h);
    struct h_node *nd = h_node(h, 2);
    ck_assert_uint_eq(nd->n_reads, 0); /* idx2 not applied there yet */
    /* One message at a time until node 2 applies idx2: the call that
     * applies it settles the read. */
    for (unsigned guard = 0; h_status(h, 2).applied < idx2; guard++) {
        ck_assert_uint_lt(guard, 100);
        if (h_count(h, 0, 0, 0) == 0) {
            h_tick(h, 1, 1);
        } else {
            ck_assert_int_eq(h_deliver_one(h, 0, 0, 0), 0);
        }
    }
    ck_assert_msg(nd->n_reads == 1,
                  "read not settled in the call that applied its index");
    ck_assert_ptr_eq(nd->reads[0].req, &a);
    ck_assert_int_eq(nd->reads[0].status, 0);
    ck_assert_uint_eq(nd->reads[0].index, idx2);
    h_free(h);
}
END_TEST

/* A follower resends its unanswered reads every heartbeat interval; a node
 * that no longer leads refuses them, and the follower fails them. */
START_TEST(test_read_index_follower_resend_and_refusal)
{
    struct harness *h = h_new(3, &on3);
    leader_with_commit(h);
    int a;
    h_drop_all(h);
    ck_assert_int_eq(raft_read_index(h_raft(h, 2), &a), 0);
    h_drop_all(h); /* the READ is lost */
    h_tick(h, 2, 1);
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_READ), 1);
    /* The leader steps down (CheckQuorum) before it sees the resend. */
    h_drop_all(h);
    for (unsigned i = 0; i < E + 1 && raft_role(h_raft(h, 1)) == RAFT_LEADER; i++) {
        h_tick(h, 1, 1);
    }
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_FOLLOWER);
    h_drop_all(h);
    h_tick(h, 2, 1);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_READ), 0);
    const struct raft_msg *resp = h_find(h, 1, 2, RAFT_MSG_READ_RESP, 0);
    ck_assert_ptr_nonnull(resp);
    ck_assert(!resp->u.read.ok);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_READ_RESP), 0);
    struct h_node *nd = h_node(h, 2);
    ck_assert_uint_eq(nd->n_reads, 1);
    ck_assert_int_eq(nd->reads[0].status, RAFT_ELEADERLOST);
    h_free(h);
}
END_TEST

/* Between heartbeat intervals a follower does not resend its unanswered
 * reads (raft.h: "resent every heartbeat_ticks until answered"): the
 * leader's messages it receives meanwhile, each a call of its own, send
 * no READ; its next tick does. */
START_TEST(test_read_index_follower_resends_only_at_its_ticks)
{
    struct harness *h = h_new(3, &on3);
    leader_with_commit(h);
    int a;
    h_drop_all(h);
    ck_assert_int_eq(raft_read_index(h_raft(h, 2), &a), 0);
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_READ), 1);
    h_drop_all(h); /* the READ is lost */
    ck_assert_int_eq(h_propose(h, 1, "y", NULL), 0);
    h_tick(h, 1, 1);
    ck_assert_uint_gt(h_count(h, 1, 2, 0), 0);
    while (h_count(h, 1, 2, 0) > 0) {
        ck_assert_int_eq(h_deliver_one(h, 1, 2, 0), 0);
        ck_assert_msg(h_count(h, 2, 1, RAFT_MSG_READ) == 0,
                      "the follower resent its read on a message from "
                      "the leader, before a heartbeat interval passed");
    }
    ck_assert_uint_eq(h_node(h, 2)->n_reads, 0);
    h_tick(h, 2, 1);
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_READ), 1);
    h_free(h);
}
END_TEST

/* An answer to a read of the follower's previous incarnation, arriving
 * after its restart, settles none of the new incarnation's reads: read
 * numbers start afresh from the seed (the host gives a new one at every
 * start, as raft_config asks), and an answer above the latest number is
 * ignored. */
START_TEST(test_read_index_answer_to_earlier_incarnation_ignored)
{
    struct harness *h = h_new(3, &on3);
    leader_with_commit(h);
    int a, b;
    h_drop_all(h);
    ck_assert_int_eq(raft_read_index(h_raft(h, 2), &a), 0);
    h_deliver_one(h, 2, 1, RAFT_MSG_READ);
    h_deliver_all(h);
    ck_assert_uint_eq(h_node(h, 2)->n_reads, 1);
    /* The same again, but the answer is held back past a restart. */
    ck_assert_int_eq(raft_read_index(h_raft(h, 2), &a), 0);
    h_deliver_one(h, 2, 1, RAFT_MSG_READ);
    while (h_count(h, 1, 2, RAFT_MSG_READ_RESP) == 0) {
        ck_assert_uint_gt(h_count(h, 0, 0, 0), 0);
        h_deliver_at(h, 0);
    }
    struct h_msg old;
    h_drop(h, 1, 2, RAFT_MSG_APPEND);
    while (h_find(h, 0, 0, 0, 0)->type != RAFT_MSG_READ_RESP) {
        h_drop_at(h, 0);
    }
    ck_assert(h_pop(h, &old));
    raft_index stale = old.m.u.read.index;
    h_drop_all(h);
    h_node(h, 2)->cfg.seed += 77; /* a fresh seed for the new start */
    ck_assert_int_eq(h_restart(h, 2), 0);
    /* Entries committed after the stale answer's index. */
    raft_index idx = 0;
    ck_assert_int_eq(h_propose(h, 1, "later", &idx), 0);
    h_deliver_all(h);
    h_heartbeat(h, 1, 2);
    ck_assert_uint_gt(idx, stale);
    ck_assert_uint_eq(h_status(h, 2).applied, idx);
    ck_assert_uint_eq(raft_leader(h_raft(h, 2)), 1);
    ck_assert_int_eq(raft_read_index(h_raft(h, 2), &b), 0);
    ck_assert_int_eq(raft_step(h_raft(h, 2), &old.m), 0);
    h_msg_free(&old);
    ck_assert_uint_eq(h_node(h, 2)->n_reads, 0);
    h_deliver_all(h);
    struct h_node *nd = h_node(h, 2);
    ck_assert_uint_eq(nd->n_reads, 1);
    ck_assert_ptr_eq(nd->reads[0].req, &b);
    ck_assert_int_eq(nd->reads[0].status, 0);
    ck_assert_uint_ge(nd->reads[0].index, idx);
    h_free(h);
}
END_TEST

/* A heartbeat round of an older term is answered with round 0, which
 * confirms nothing, even if the old leader leads the newer term by the
 * time the answer arrives. */
START_TEST(test_stale_round_answer_confirms_nothing)
{
    struct harness *h = h_new(3, &on3);
    const raft_term terms[] = {1};
    for (raft_id id = 1; id <= 3; id++) {
        ck_assert_int_eq(h_restore(h, id, 5, 0, terms, 1), 0);
    }
    h_elect(h, 1);
    h_deliver_all(h);
    struct raft *l = h_raft(h, 1);
    raft_term t = raft_current_term(l);
    ck_assert_uint_eq(t, 6);
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_HEARTBEAT; /* node 1's round 1 of term 5, late */
    m.from = 1;
    m.to = 2;
    m.term = 5;
    m.u.heartbeat.round = 1;
    h_drop_all(h);
    ck_assert_int_eq(raft_step(h_raft(h, 2), &m), RAFT_ESTALE);
    const struct raft_msg *r = h_find(h, 2, 1, RAFT_MSG_HEARTBEAT_RESP, 0);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->u.heartbeat.round, 0);
    ck_assert_uint_eq(r->term, t);
    /* Delivered to the leader of term 6 while its round 1 is out, it
     * confirms nothing. */
    int a;
    ck_assert_int_eq(raft_read_index(l, &a), 0);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_HEARTBEAT), 2);
    h_drop(h, 1, 0, RAFT_MSG_HEARTBEAT);
    h_deliver_one(h, 2, 1, RAFT_MSG_HEARTBEAT_RESP);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 0);
    ck_assert_int_eq(raft_role(l), RAFT_LEADER);
    h_free(h);
}
END_TEST

/* What raft_read_index refuses, and a one-voter cluster answering within
 * the call. */
START_TEST(test_read_index_refusals_and_single_voter)
{
    struct h_opts o = on3;
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    int a;
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &a), RAFT_ENOTLEADER);
    h_free(h);

    struct harness *one = h_new(1, &o);
    h_bootstrap_all(one);
    h_elect(one, 1);
    ck_assert_int_eq(raft_read_index(h_raft(one, 1), &a), 0);
    ck_assert_uint_eq(h_node(one, 1)->n_reads, 1);
    ck_assert_int_eq(h_node(one, 1)->reads[0].status, 0);
    ck_assert_uint_eq(h_node(one, 1)->reads[0].index, 1);
    h_free(one);

    /* Without a read callback. */
    struct harness *g = h_new(1, &(struct h_opts){.no_create = true});
    struct raft_config cfg = h_config(g, 1);
    struct raft_callbacks cbs = h_callbacks(g);
    cbs.read = NULL;
    struct raft *r = NULL;
    ck_assert_int_eq(raft_create(&cfg, &cbs, h_node(g, 1), &r), 0);
    const raft_id v[] = {1};
    ck_assert_int_eq(raft_bootstrap(r, v, 1), 0);
    ck_assert_int_eq(raft_read_index(r, &a), RAFT_EINVAL);
    raft_destroy(r);
    h_free(g);
}
END_TEST

/* cfg.max_pending_reads bounds the reads waiting on a node. */
START_TEST(test_read_index_queue_full)
{
    struct h_opts o = on3;
    o.seed = 3;
    o.max_pending_reads = 2;
    struct harness *h = h_new(3, &o);
    leader_with_commit(h);
    int a;
    h_drop_all(h);
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &a), 0);
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &a), 0);
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &a), RAFT_EFULL);
    h_deliver_all(h);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 2);
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &a), 0);
    h_free(h);
}
END_TEST

/* The read ring is allocated at the first read: when that fails the call
 * returns RAFT_ENOMEM with nothing queued, and a later call succeeds. */
START_TEST(test_read_index_out_of_memory)
{
    struct h_opts o = on3;
    o.counting_alloc = true;
    struct harness *h = h_new(3, &o);
    leader_with_commit(h);
    h_drop_all(h);
    int a;
    h->alloc.fail_at = h->alloc.calls + 1;
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &a), RAFT_ENOMEM);
    ck_assert_uint_eq(h->alloc.failures, 1);
    ck_assert_uint_eq(h_count(h, 0, 0, 0), 0);
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &a), 0);
    h_deliver_all(h);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 1);
    ck_assert_int_eq(h_node(h, 1)->reads[0].status, 0);
    h_free(h);
}
END_TEST

/* A follower asking again for the same reads takes no more room on the
 * leader: with room for two reads, five resends leave the leader room for
 * its own read. */
START_TEST(test_read_index_resends_take_no_room)
{
    struct h_opts o = on3;
    o.seed = 5;
    o.max_pending_reads = 2;
    struct harness *h = h_new(3, &o);
    leader_with_commit(h);
    int a, b;
    h_drop_all(h);
    ck_assert_int_eq(raft_read_index(h_raft(h, 2), &a), 0);
    for (int k = 0; k < 5; k++) {
        ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_READ), 0);
        h_drop(h, 1, 0, 0); /* the leader's rounds are lost */
        h_tick(h, 2, 1);    /* the follower asks again */
    }
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &b), 0);
    h_deliver_all(h);
    h_heartbeat(h, 1, 1);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 1);
    ck_assert_uint_eq(h_node(h, 2)->n_reads, 1);
    ck_assert_int_eq(h_node(h, 2)->reads[0].status, 0);
    h_free(h);
}
END_TEST

/* ---- lease reads ---------------------------------------------------------- */

/* With a lease, the leader answers within the call, without a round; once
 * the lease ran out (no majority heard for election_ticks - drift - 1 ticks)
 * reads need a round again. */
START_TEST(test_lease_read_without_round_until_lease_expires)
{
    struct h_opts o = on3;
    o.lease_reads = true;
    struct harness *h = h_new(3, &o);
    raft_index idx = leader_with_commit(h);
    h_heartbeat(h, 1, 2); /* rounds acknowledged: the lease is set */
    h_drop_all(h);
    int a, b;
    uint64_t rounds = metrics(h, 1).read_rounds;
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &a), 0);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 1);
    ck_assert_uint_eq(h_node(h, 1)->reads[0].index, idx);
    ck_assert_uint_eq(metrics(h, 1).lease_reads, 1);
    ck_assert_uint_eq(metrics(h, 1).read_rounds, rounds);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_HEARTBEAT), 0);

    /* Cut off: the lease (election_ticks - drift - 1 after the last round
     * a majority echoed) runs out before CheckQuorum deposes the leader. */
    h_partition(h, 1u << 1);
    unsigned drift = E / 4;
    h_tick(h, 1, E - drift);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &b), 0);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 1); /* waits for a round */
    ck_assert_uint_eq(metrics(h, 1).lease_reads, 1);
    h_free(h);
}
END_TEST

/* Node `id` ignores a vote request of the next term from `from`, whose
 * log is as long as its own: no term change, counted as
 * RAFT_REJECT_IN_LEASE (once so far). */
static void assert_vote_held_back(struct harness *h, raft_id id, raft_id from)
{
    struct raft_status st = h_status(h, id);
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_VOTE;
    m.from = from;
    m.to = id;
    m.term = st.term + 1;
    m.u.vote.last_index = st.last_index;
    m.u.vote.last_term = st.last_term;
    ck_assert_int_eq(raft_step(h_raft(h, id), &m), 0);
    ck_assert_uint_eq(raft_current_term(h_raft(h, id)), st.term);
    ck_assert_uint_eq(metrics(h, id).rejected[RAFT_REJECT_IN_LEASE], 1);
}

/* With leases, a node that just started ignores vote requests for
 * election_ticks: it may have echoed a round of a leader whose lease
 * still runs. */
START_TEST(test_lease_restarted_node_holds_back_its_vote)
{
    struct harness *h = lease_cluster();
    ck_assert_int_eq(h_restart(h, 2), 0);
    assert_vote_held_back(h, 2, 3);
    h_free(h);
}
END_TEST

/* With lease reads on, a follower holds back its vote for election_ticks
 * after the latest message it had from its leader, whichever path took
 * it: an AppendEntries in order, with entries (_i == 0, the common case
 * under load) or without (_i == 1), both taken without the general path;
 * a read round's heartbeat (_i == 2); an AppendEntries taken by the
 * general path, anchored below the follower's last entry (_i == 3). Each
 * is received long after the previous heartbeat. For the heartbeat this
 * is the lease's safety: the leader's lease rests on that echo, and a
 * vote granted within election_ticks of it could elect another leader
 * while the lease runs. For the appends it is leader stickiness (the
 * lease rests on heartbeat rounds only): counting from the heartbeat
 * would let a node that cannot hear the leader force an election on a
 * follower that is replicated to all along. */
START_TEST(test_lease_hold_back_renewed_by_every_leader_message)
{
    struct harness *h = lease_cluster();
    h_drop_all(h);
    /* Node 2 last heard node 1 at the heartbeat; time passes on it. */
    h_tick(h, 2, E - 2);
    ck_assert_int_eq(raft_role(h_raft(h, 2)), RAFT_FOLLOWER);
    h_drop_all(h);
    if (_i == 0) {
        /* An entry arrives in order, and node 2 acknowledges it. */
        ck_assert_int_eq(h_propose(h, 1, "y", NULL), 0);
        ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_APPEND), 0);
    } else if (_i == 1) {
        /* An AppendEntries without entries, anchored at its last entry. */
        struct raft_status s2 = h_status(h, 2);
        struct raft_msg ae = h_msg_append(1, 2, s2.term, s2.last_index,
                                          s2.last_term, s2.commit, NULL, 0);
        ck_assert_int_eq(raft_step(h_raft(h, 2), &ae), 0);
    } else if (_i == 2) {
        struct raft_msg hb;
        memset(&hb, 0, sizeof(hb));
        hb.type = RAFT_MSG_HEARTBEAT;
        hb.from = 1;
        hb.to = 2;
        hb.term = raft_current_term(h_raft(h, 2));
        hb.u.heartbeat.round = 1;
        ck_assert_int_eq(raft_step(h_raft(h, 2), &hb), 0);
    } else {
        struct raft_status s2 = h_status(h, 2);
        struct raft_entry prev;
        ck_assert_int_eq(raft_entry_at(h_raft(h, 2), s2.last_index - 1, &prev), 0);
        struct raft_msg ae = h_msg_append(1, 2, s2.term, s2.last_index - 1,
                                          prev.term, s2.commit, NULL, 0);
        ck_assert_int_eq(raft_step(h_raft(h, 2), &ae), 0);
    }
    ck_assert_uint_eq(h_count(h, 2, 1, _i == 2 ? RAFT_MSG_HEARTBEAT_RESP
                                               : RAFT_MSG_APPEND_RESP), 1);
    h_drop_all(h);
    /* election_ticks since the first heartbeat, 2 since the message. */
    h_tick(h, 2, 2);
    ck_assert_int_eq(raft_role(h_raft(h, 2)), RAFT_FOLLOWER);
    h_drop_all(h);
    assert_vote_held_back(h, 2, 3);
    h_free(h);
}
END_TEST

/* raft_create refuses a lease without CheckQuorum, or with a drift that
 * leaves nothing of the election timeout. */
START_TEST(test_lease_config_checked)
{
    struct harness *g = h_new(1, &(struct h_opts){.no_create = true});
    struct raft_config cfg = h_config(g, 1);
    struct raft_callbacks cbs = h_callbacks(g);
    struct raft *r = NULL;
    cfg.lease_reads = true;
    cfg.disable_check_quorum = true;
    ck_assert_int_eq(raft_create(&cfg, &cbs, NULL, &r), RAFT_EINVAL);
    cfg.disable_check_quorum = false;
    cfg.lease_drift_ticks = cfg.election_ticks;
    ck_assert_int_eq(raft_create(&cfg, &cbs, NULL, &r), RAFT_EINVAL);
    cfg.lease_drift_ticks = cfg.election_ticks - 1;
    ck_assert_int_eq(raft_create(&cfg, &cbs, NULL, &r), 0);
    raft_destroy(r);
    h_free(g);
}
END_TEST


/* ---- review findings --------------------------------------------------------- */

/* Copy the first message in flight matching from/to/type (no pointers in
 * the vote types, so a struct copy is a full copy). */
static struct raft_msg take(struct harness *h, raft_id from, raft_id to, int type)
{
    const struct raft_msg *m = h_find(h, from, to, type, 0);
    ck_assert_ptr_nonnull(m);
    return *m;
}

/* raft.h: a leader with cfg.lease_reads "gives up its lease at once" when
 * it starts a leadership transfer. Its own reads are refused meanwhile,
 * but a follower's read can still reach it. Here node 3's read is delayed
 * until node 2, the target, has won the next term and committed a write
 * with node 3; node 1, cut off and still leading, is within the lease it
 * held before the transfer, and must not answer the read from it. */
START_TEST(test_lease_given_up_when_a_transfer_starts)
{
    struct harness *h = lease_cluster();
    h_heartbeat(h, 1, 2); /* rounds acknowledged: the lease is set */
    h_drop_all(h);
    struct raft *r1 = h_raft(h, 1);
    int a, b;
    ck_assert_int_eq(raft_read_index(r1, &a), 0);
    ck_assert_uint_eq(metrics(h, 1).lease_reads, 1); /* the lease holds */
    ck_assert_int_eq(raft_read_index(h_raft(h, 3), &b), 0);
    struct raft_msg late = take(h, 3, 1, RAFT_MSG_READ);
    h_drop(h, 3, 1, RAFT_MSG_READ);

    ck_assert_int_eq(raft_transfer_leadership(r1, 2), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_TIMEOUT_NOW), 0);
    h_partition(h, 1u << 1);
    h_deliver_all(h);
    ck_assert_int_eq(raft_role(h_raft(h, 2)), RAFT_LEADER);
    raft_index y;
    ck_assert_int_eq(h_propose(h, 2, "y", &y), 0);
    h_deliver_all(h);
    ck_assert_uint_ge(h_status(h, 2).commit, y);

    ck_assert_int_eq(raft_role(r1), RAFT_LEADER);
    ck_assert_int_eq(raft_step(r1, &late), 0);
    const struct raft_msg *resp = h_find(h, 1, 3, RAFT_MSG_READ_RESP, 0);
    ck_assert_msg(resp == NULL || !resp->u.read.ok,
                  "node 1 answered a read from its lease after starting a "
                  "transfer: index %llu, while node 2 had committed %llu",
                  (unsigned long long)(resp ? resp->u.read.index : 0),
                  (unsigned long long)y);
    ck_assert_uint_eq(metrics(h, 1).lease_reads, 1);
    h_free(h);
}
END_TEST

/* raft.h: after starting a transfer a leader takes no lease "for the rest
 * of its term": only that term. Node 1 hands over to node 2 and gets the
 * leadership back in a later term; there it reads from a lease again. */
START_TEST(test_lease_taken_again_in_a_later_term_after_a_transfer)
{
    struct harness *h = lease_cluster();
    raft_term t = raft_current_term(h_raft(h, 1));
    ck_assert_int_eq(raft_transfer_leadership(h_raft(h, 1), 2), 0);
    h_deliver_all(h);
    ck_assert_int_eq(raft_role(h_raft(h, 2)), RAFT_LEADER);
    h_heartbeat(h, 2, 1);
    ck_assert_int_eq(raft_transfer_leadership(h_raft(h, 2), 1), 0);
    h_deliver_all(h);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 1)), t + 2);

    h_heartbeat(h, 1, 2); /* rounds acknowledged: the lease is set */
    h_drop_all(h);
    uint64_t lease = metrics(h, 1).lease_reads;
    uint64_t rounds = metrics(h, 1).read_rounds;
    int a;
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &a), 0);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 1);
    ck_assert_int_eq(h_node(h, 1)->reads[0].status, 0);
    ck_assert_uint_eq(metrics(h, 1).lease_reads, lease + 1);
    ck_assert_uint_eq(metrics(h, 1).read_rounds, rounds);
    h_free(h);
}
END_TEST

/* The opening of the two tests below, with leases on: node 2's pre-vote
 * request to node 3 at term 0 is held in *late for later; node 1 wins
 * term 1 with node 2's vote, its AppendEntries to node 2 held; node 3
 * receives the no-op (node 1 commits it with node 3's acknowledgement),
 * then loses touch with node 1; node 2, which has voted but knows no
 * leader yet, grants node 3 a pre-vote for term 2, and node 3 becomes a
 * candidate of term 2, its vote requests still in flight. */
static struct harness *lease_term2_candidate(struct raft_msg *late)
{
    struct h_opts o = on3;
    o.lease_reads = true;
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    ck_assert_uint_gt(h_tick_until_role(h, 2, RAFT_PRECANDIDATE, 2 * E), 0);
    *late = take(h, 2, 3, RAFT_MSG_PREVOTE);
    h_drop_all(h);
    h_tick(h, 3, E); /* out of its start-up window too */
    h_drop_all(h);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_PRECANDIDATE, 2 * E), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_PREVOTE), 0);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_PREVOTE_RESP), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_VOTE), 0);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_VOTE_RESP), 0);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    h_drop(h, 1, 3, RAFT_MSG_PREVOTE);
    h_drop(h, 1, 3, RAFT_MSG_VOTE);
    ck_assert_int_eq(h_deliver_one(h, 1, 3, RAFT_MSG_APPEND), 0);
    ck_assert_int_eq(h_deliver_one(h, 3, 1, RAFT_MSG_APPEND_RESP), 0);
    h_drop(h, 3, 0, 0);
    h_drop(h, 1, 3, 0);
    ck_assert_uint_eq(h_count(h, 1, 2, RAFT_MSG_APPEND), 1);
    ck_assert_uint_gt(h_tick_until_role(h, 3, RAFT_PRECANDIDATE, 2 * E), 0);
    ck_assert_int_eq(h_deliver_one(h, 3, 2, RAFT_MSG_PREVOTE), 0);
    ck_assert_int_eq(h_deliver_one(h, 2, 3, RAFT_MSG_PREVOTE_RESP), 0);
    ck_assert_int_eq(raft_role(h_raft(h, 3)), RAFT_CANDIDATE);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 3)), 2);
    return h;
}

/* The close of the two tests below: if node 3 was elected, it commits y;
 * node 1 still leads term 1 and its clock has not moved since node 2
 * acknowledged its last round, so a read asked of it now must not miss y.
 * Returns whether node 3 was elected. */
static bool no_stale_lease_read(struct harness *h)
{
    raft_index y = 0;
    static int q; /* the read's req, retained by node 1 */
    h_deliver_all(h);
    bool elected = raft_role(h_raft(h, 3)) == RAFT_LEADER;
    if (elected) {
        ck_assert_int_eq(h_propose(h, 3, "y", &y), 0);
        h_deliver_all(h);
        ck_assert_uint_ge(h_status(h, 3).commit, y);
    }
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    size_t before = h_node(h, 1)->n_reads;
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &q), 0);
    struct h_node *nd = h_node(h, 1);
    for (size_t i = before; i < nd->n_reads; i++) {
        if (nd->reads[i].req == &q && nd->reads[i].status == 0 && elected) {
            ck_assert_msg(nd->reads[i].index >= y,
                          "stale lease read: index %llu served by the term-1 "
                          "leader after the term-%llu leader committed index %llu",
                          (unsigned long long)nd->reads[i].index,
                          (unsigned long long)raft_current_term(h_raft(h, 3)),
                          (unsigned long long)y);
        }
    }
    return elected;
}

/* A follower whose acknowledgement holds up the leader's lease must keep
 * ignoring vote requests for election_ticks even if a message of a later
 * term (here a late pre-vote refusal) makes it adopt that term: otherwise
 * another node is elected, and commits a write, while the old leader still
 * serves reads from its lease. No node ticks after the lease is renewed, so
 * the lease's timing assumption holds trivially. */
START_TEST(test_review_lease_survives_term_adoption_by_follower)
{
    struct raft_msg late;
    struct harness *h = lease_term2_candidate(&late);
    h_drop(h, 3, 0, 0); /* node 3's vote requests are lost */

    /* Node 3 is cut off; nodes 1 and 2 run in lock step, and node 1 renews
     * its lease with node 2 at every heartbeat, until node 3 times out and
     * asks for pre-votes at term 3 (held). */
    h_partition(h, 1u << 3);
    h_deliver_all(h);
    raft_index old_commit = 0;
    for (unsigned i = 0; i < 3 * E && raft_role(h_raft(h, 3)) != RAFT_PRECANDIDATE; i++) {
        h_tick(h, 1, 1);
        h_tick(h, 2, 1);
        h_tick(h, 3, 1);
        h_deliver_all(h);
    }
    ck_assert_int_eq(raft_role(h_raft(h, 3)), RAFT_PRECANDIDATE);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    old_commit = h_status(h, 1).commit;
    ck_assert_uint_ge(old_commit, 1);
    struct raft_msg pre3 = take(h, 3, 2, RAFT_MSG_PREVOTE);
    ck_assert_uint_eq(pre3.term, 3);
    int probe;
    uint64_t lease_before = metrics(h, 1).lease_reads;
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &probe), 0);
    ck_assert_uint_eq(metrics(h, 1).lease_reads, lease_before + 1); /* lease holds */
    h_drop_all(h);

    /* From here on no node ticks. Node 1 is cut off. Node 2's late
     * pre-vote reaches node 3, whose refusal brings node 2 to term 2. */
    h_partition(h, 1u << 1);
    ck_assert_int_eq(raft_step(h_raft(h, 3), &late), RAFT_ESTALE);
    ck_assert_int_eq(h_deliver_one(h, 3, 2, RAFT_MSG_PREVOTE_RESP), 0);
    /* Node 3's pre-vote for term 3 arrives at node 2. */
    ck_assert_int_eq(raft_step(h_raft(h, 2), &pre3), 0);
    no_stale_lease_read(h);
    h_free(h);
}
END_TEST

/* The same hold-back at the term the follower adopted: a late pre-vote
 * refusal brings node 2 to term 2 with its vote free and no leader known,
 * and then a delayed vote request of that very term arrives. Holding back
 * only requests of a term above its own would let node 2 vote, and node 3
 * be elected and commit a write, while node 1 still serves reads from a
 * lease that rests on node 2's echo. No node ticks after the lease is
 * renewed, so the lease's timing assumption holds trivially. */
START_TEST(test_review_lease_holds_back_vote_at_adopted_term)
{
    struct raft_msg late;
    struct harness *h = lease_term2_candidate(&late);
    /* Node 3's vote request to node 2 is delayed (the one to node 1 is
     * lost). */
    struct raft_msg vote3 = take(h, 3, 2, RAFT_MSG_VOTE);
    h_drop(h, 3, 0, 0);

    /* Node 3 is cut off and stays a candidate of term 2 (it does not
     * tick); nodes 1 and 2 run in lock step, and node 1 renews its lease
     * with node 2 at every heartbeat. */
    h_partition(h, 1u << 3);
    h_deliver_all(h);
    for (unsigned i = 0; i < E; i++) {
        h_tick(h, 1, 1);
        h_tick(h, 2, 1);
        h_deliver_all(h);
    }
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    ck_assert_uint_eq(raft_leader(h_raft(h, 2)), 1);
    int probe;
    uint64_t lease_before = metrics(h, 1).lease_reads;
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &probe), 0);
    ck_assert_uint_eq(metrics(h, 1).lease_reads, lease_before + 1); /* lease holds */
    h_drop_all(h);

    /* From here on no node ticks. Node 1 is cut off. Node 2's late
     * pre-vote reaches node 3, whose refusal brings node 2 to term 2;
     * then node 3's vote request of term 2 arrives. */
    h_partition(h, 1u << 1);
    ck_assert_int_eq(raft_step(h_raft(h, 3), &late), RAFT_ESTALE);
    ck_assert_int_eq(h_deliver_one(h, 3, 2, RAFT_MSG_PREVOTE_RESP), 0);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 2)), 2);
    ck_assert_int_eq(raft_step(h_raft(h, 2), &vote3), 0);
    bool elected = no_stale_lease_read(h);
    ck_assert_msg(!elected, "node 2 voted within its hold-back");
    h_free(h);
}
END_TEST

/* The lease within the documented clock assumption (election_ticks 10,
 * lease_drift_ticks 2 by default: no node ticks more than 2 times faster
 * per 10 of the leader's ticks). Node 1 ticks every 1.0 time units and
 * starts a round right after one of its ticks, at time 0; node 2 gets the
 * round just before one of its own ticks and ticks every 0.85 units (at
 * most 12 ticks in any 10 units), so its 10th tick since the round comes
 * at 7.65, when node 1 has ticked 7 times: a tick counter measures an
 * interval up to one tick short, and the lease must allow for that on
 * top of the drift. Node 2 then votes, node 3 is elected and commits a
 * write, all at once (messages take no time), and node 1 must not answer
 * a read from its lease any more. */
START_TEST(test_review_lease_allows_for_tick_phase)
{
    struct harness *h = lease_cluster();

    /* Node 3 is cut off from node 1 for good, out of its hold-back, and a
     * pre-candidate whose request to node 2 is delayed. */
    h_partition(h, 1u << 3);
    h_drop_all(h);
    ck_assert_uint_gt(h_tick_until_role(h, 3, RAFT_PRECANDIDATE, 2 * E), 0);
    struct raft_msg pre3 = take(h, 3, 2, RAFT_MSG_PREVOTE);
    h_drop_all(h);

    /* Time 0: node 1 ticks, starts a round, and node 2 echoes it. */
    h_heartbeat(h, 1, 1);
    ck_assert_uint_eq(raft_leader(h_raft(h, 2)), 1);
    int probe;
    uint64_t lease_before = metrics(h, 1).lease_reads;
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &probe), 0);
    ck_assert_uint_eq(metrics(h, 1).lease_reads, lease_before + 1); /* lease holds */
    raft_index old_commit = h_status(h, 1).commit;
    h_drop_all(h);

    /* Node 1 is cut off. By time 7.65 it ticked 7 times, node 2 10 times
     * (what node 2 sends meanwhile is lost). */
    h_partition(h, 1u << 1);
    h_tick(h, 1, 7);
    h_tick(h, 2, E);
    h_drop_all(h);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);

    /* Node 3's pre-vote arrives: node 2 grants it and then its vote. */
    ck_assert_int_eq(raft_step(h_raft(h, 2), &pre3), 0);
    h_deliver_all(h);
    ck_assert_int_eq(raft_role(h_raft(h, 3)), RAFT_LEADER);
    raft_index y = 0;
    ck_assert_int_eq(h_propose(h, 3, "y", &y), 0);
    h_deliver_all(h);
    ck_assert_uint_ge(h_status(h, 3).commit, y);
    ck_assert_uint_gt(y, old_commit);

    /* Still time 7.65: node 1 leads term 1, 7 ticks after its round. */
    int q;
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    size_t before = h_node(h, 1)->n_reads;
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &q), 0);
    struct h_node *nd = h_node(h, 1);
    for (size_t i = before; i < nd->n_reads; i++) {
        if (nd->reads[i].req == &q && nd->reads[i].status == 0) {
            ck_assert_msg(nd->reads[i].index >= y,
                          "stale lease read: index %llu served by the term-1 "
                          "leader after the term-2 leader committed index %llu",
                          (unsigned long long)nd->reads[i].index,
                          (unsigned long long)y);
        }
    }
    h_free(h);
}
END_TEST

/* raft_read_index promises exactly one callback per accepted read. A node
 * stopped by a failed asynchronous write refuses every later call and
 * raft_destroy calls nothing, so its pending reads must be settled (failed)
 * by the raft_persisted call that stops it: a leader's (whose role changes)
 * and a follower's alike. */
START_TEST(test_review_stopped_node_settles_pending_reads)
{
    struct h_opts o = on3;
    o.async = true;
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 1);
    h_settle(h);
    h_heartbeat(h, 1, 1);
    h_settle(h);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    ck_assert_uint_eq(raft_leader(h_raft(h, 2)), 1);
    h_drop_all(h);

    /* The leader: a read waiting for its round, then a write that fails. */
    int a;
    ck_assert_int_eq(raft_read_index(h_raft(h, 1), &a), 0);
    ck_assert_int_eq(h_propose(h, 1, "x", NULL), 0);
    h_drop_all(h);
    ck_assert_uint_eq(h_node(h, 1)->n_reads, 0);
    ck_assert_int_eq(h_persisted(h, 1, h_node(h, 1)->pending, -1), RAFT_ESTOPPED);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_FOLLOWER);
    ck_assert_msg(h_node(h, 1)->n_reads == 1,
                  "stopped leader: %zu read callbacks for 1 pending read",
                  h_node(h, 1)->n_reads);
    ck_assert_ptr_eq(h_node(h, 1)->reads[0].req, &a);
    ck_assert_int_eq(h_node(h, 1)->reads[0].status, RAFT_ELEADERLOST);
    h_free(h);

    /* A follower: a forwarded read not yet answered, then a write that
     * fails. */
    h = h_new(3, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 1);
    h_settle(h);
    h_heartbeat(h, 1, 1);
    h_settle(h);
    h_drop_all(h);
    int b;
    ck_assert_int_eq(raft_read_index(h_raft(h, 2), &b), 0);
    h_drop_all(h);
    ck_assert_int_eq(h_propose(h, 1, "y", NULL), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_APPEND), 0);
    ck_assert_uint_gt(h_node(h, 2)->pending, 0);
    ck_assert_int_eq(h_persisted(h, 2, h_node(h, 2)->pending, -1), RAFT_ESTOPPED);
    ck_assert_msg(h_node(h, 2)->n_reads == 1,
                  "stopped follower: %zu read callbacks for 1 pending read",
                  h_node(h, 2)->n_reads);
    ck_assert_int_eq(h_node(h, 2)->reads[0].status, RAFT_ELEADERLOST);
    h_free(h);
}
END_TEST

Suite *raft_reads_suite(void)
{
    Suite *s = suite_create("prevote_reads");
    TCase *tc = tcase_create("prevote");
    h_tcase_cleanup(tc);
    tcase_add_loop_test(tc, test_prevote_isolated_node_rejoins_without_election, 0, 2);
    tcase_add_test(tc, test_prevote_request_changes_nothing);
    tcase_add_test(tc, test_prevote_refused_for_stale_log_or_term);
    tcase_add_test(tc, test_prevote_majority_starts_real_election);
    tcase_add_test(tc, test_prevote_lost_and_refusal_from_later_term);
    suite_add_tcase(s, tc);

    tc = tcase_create("check_quorum");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_check_quorum_cut_off_leader_steps_down);
    tcase_add_test(tc, test_check_quorum_with_learner_steps_down_on_time);
    tcase_add_test(tc, test_check_quorum_leader_with_majority_stays);
    tcase_add_test(tc, test_check_quorum_counts_read_round_echoes);
    tcase_add_test(tc, test_stickiness_ignores_disruptive_vote);
    suite_add_tcase(s, tc);

    tc = tcase_create("read_index");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_read_index_on_leader_shares_rounds);
    tcase_add_test(tc, test_read_index_old_round_does_not_confirm);
    tcase_add_test(tc, test_read_index_new_leader_waits_for_its_term);
    tcase_add_test(tc, test_read_index_fails_when_leadership_lost);
    tcase_add_test(tc, test_read_index_lost_round_retried);
    tcase_add_test(tc, test_read_answer_of_later_term_deposes_leader);
    tcase_add_test(tc, test_read_index_retried_round_is_the_one_in_flight);
    tcase_add_test(tc, test_read_index_late_echo_after_voter_added_keeps_confirmed_round);
    tcase_add_test(tc, test_read_index_on_follower);
    tcase_add_test(tc, test_read_index_follower_settled_when_applied);
    tcase_add_test(tc, test_read_index_two_followers_at_once);
    tcase_add_test(tc, test_read_index_follower_resend_and_refusal);
    tcase_add_test(tc, test_read_index_follower_resends_only_at_its_ticks);
    tcase_add_test(tc, test_read_index_refusals_and_single_voter);
    tcase_add_test(tc, test_read_index_answer_to_earlier_incarnation_ignored);
    tcase_add_test(tc, test_stale_round_answer_confirms_nothing);
    tcase_add_test(tc, test_read_index_queue_full);
    tcase_add_test(tc, test_read_index_out_of_memory);
    tcase_add_test(tc, test_read_index_resends_take_no_room);
    suite_add_tcase(s, tc);

    tc = tcase_create("lease");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_lease_read_without_round_until_lease_expires);
    tcase_add_test(tc, test_lease_restarted_node_holds_back_its_vote);
    tcase_add_loop_test(tc, test_lease_hold_back_renewed_by_every_leader_message, 0, 4);
    tcase_add_test(tc, test_lease_config_checked);
    tcase_add_test(tc, test_lease_given_up_when_a_transfer_starts);
    tcase_add_test(tc, test_lease_taken_again_in_a_later_term_after_a_transfer);
    suite_add_tcase(s, tc);

    tc = tcase_create("review");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_review_lease_survives_term_adoption_by_follower);
    tcase_add_test(tc, test_review_lease_holds_back_vote_at_adopted_term);
    tcase_add_test(tc, test_review_lease_allows_for_tick_phase);
    tcase_add_test(tc, test_review_stopped_node_settles_pending_reads);
    suite_add_tcase(s, tc);
    return s;
}
