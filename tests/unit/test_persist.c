/*
 * test_persist.c - failing callbacks: persist_state, persist_entries, send
 * and apply. raft.h says what a node does in each case; these tests hold it
 * to that, and check that the cluster carries on afterwards.
 */
#include <string.h>

#include "harness.h"
#include "suites.h"

#define E 10u

static const struct h_opts opts = {.election_ticks = E, .heartbeat_ticks = 1,
                                   .seed = 13};

/* Did node `id` send any vote grant / append success? */
static bool sent_ok(const struct harness *h, raft_id id, int type)
{
    const struct h_node *nd = &h->nodes[id];
    for (size_t i = 0; i < nd->n_calls; i++) {
        if (nd->calls[i].kind == H_CB_SEND && nd->calls[i].msg_type == type &&
            nd->calls[i].ok) {
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------------
 * persist_state fails while granting a vote: no granted reply, term and
 * vote unchanged, RAFT_EPERSIST; the same request succeeds later.
 * ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    raft_term req_term; /* 5: same term; 6: a new term too */
} vote_fail_cases[] = {
    {"vote in the current term", 5},
    {"vote in a new term", 6},
};

START_TEST(test_persist_state_failure_when_granting_vote)
{
    const raft_term log[] = {1};
    const char *name = vote_fail_cases[_i].name;
    struct harness *h = h_single(3, &opts, 5, 0, log, 1);
    struct raft *r = h_raft(h, 1);
    struct raft_status before = h_status(h, 1);
    h_node(h, 1)->fail_persist_state = 1;
    struct raft_msg m = h_msg_vote(2, 1, vote_fail_cases[_i].req_term, 1, 1);
    int rc = raft_step(r, &m);
    ck_assert_msg(rc == RAFT_EPERSIST, "%s: raft_step = %d (%s)", name, rc,
                  raft_strerror(rc));
    ck_assert_msg(!sent_ok(h, 1, RAFT_MSG_VOTE_RESP),
                  "%s: vote granted although it was not durable", name);
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, name);
    h_assert_disk_matches(h, 1);
    /* the candidate asks again, the disk works now */
    h_reset_calls(h, 1);
    h_drop_all(h);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert(sent_ok(h, 1, RAFT_MSG_VOTE_RESP));
    ck_assert_uint_eq(h_status(h, 1).vote, 2);
    ck_assert_uint_eq(h_status(h, 1).term, vote_fail_cases[_i].req_term);
    h_assert_disk_matches(h, 1);
    h_free(h);
}
END_TEST

/* persist_state fails when adopting the higher term of an AppendEntries:
 * nothing is acknowledged, nothing appended. */
START_TEST(test_persist_state_failure_on_new_term_from_leader)
{
    const raft_term log[] = {1};
    struct harness *h = h_single(3, &opts, 5, 0, log, 1);
    struct raft *r = h_raft(h, 1);
    struct raft_status before = h_status(h, 1);
    raft_term ts[] = {6};
    struct raft_entry ents[1];
    char bufs[48];
    h_mk_entries(ents, bufs, 2, ts, 1);
    struct raft_msg m = h_msg_append(2, 1, 6, 1, 1, 2, ents, 1);
    h_node(h, 1)->fail_persist_state = 1;
    ck_assert_int_eq(raft_step(r, &m), RAFT_EPERSIST);
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, "new term not durable");
    ck_assert(!sent_ok(h, 1, RAFT_MSG_APPEND_RESP));
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_PERSIST_ENTRIES), 0);
    h_drop_all(h);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert(sent_ok(h, 1, RAFT_MSG_APPEND_RESP));
    ck_assert_uint_eq(h_status(h, 1).last_index, 2);
    ck_assert_uint_eq(h_status(h, 1).commit, 2);
    h_free(h);
}
END_TEST

/* A leader that sees a higher term but cannot persist it: the call fails
 * and leaves the node as it was (raft.h: the node keeps its previous term
 * and vote) - still leading its own term; the next attempt steps down.
 * The higher term comes in an AppendEntries reply (_i == 0) or in a
 * follower's read request (_i == 1), which the leader must not take. */
START_TEST(test_persist_state_failure_on_leader_seeing_higher_term)
{
    const raft_term log[] = {1};
    struct harness *h = h_single(3, &opts, 1, 0, log, 1);
    h_make_leader_scripted(h, 1);
    struct raft *r = h_raft(h, 1);
    struct raft_status before = h_status(h, 1);
    struct raft_msg m = h_msg_append_resp(2, 1, 9, false, before.last_index,
                                          1, 1);
    if (_i == 1) {
        memset(&m, 0, sizeof(m));
        m.type = RAFT_MSG_READ;
        m.from = 2;
        m.to = 1;
        m.term = 9;
        m.u.read.id = 1;
    }
    h_node(h, 1)->fail_persist_state = 1;
    ck_assert_int_eq(raft_step(r, &m), RAFT_EPERSIST);
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, "leader, higher term not durable");
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_STEP_DOWN), 0);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert_int_eq(raft_role(r), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_current_term(r), 9);
    h_assert_disk_matches(h, 1);
    h_free(h);
}
END_TEST

/* Tick r until its election timer fires and the start fails with
 * RAFT_EPERSIST (within 3 election timeouts); returns the ticks taken. */
static unsigned tick_until_start_fails(struct raft *r)
{
    unsigned t = 0;
    int rc = 0;
    while (rc == 0 && t < 3 * E) {
        rc = raft_tick(r);
        t++;
    }
    ck_assert_msg(rc == RAFT_EPERSIST, "raft_tick = %d after %u ticks", rc, t);
    return t;
}

/* ------------------------------------------------------------------------
 * persist_state fails when starting an election: still follower at the old
 * term, nothing sent, raft_tick returns RAFT_EPERSIST, and the election is
 * retried at the next tick.
 * ------------------------------------------------------------------------ */

START_TEST(test_persist_state_failure_when_starting_election)
{
    struct harness *h = h_new(3, &opts);
    h_bootstrap_all(h);
    struct raft *r = h_raft(h, 1);
    struct h_node *nd = h_node(h, 1);
    nd->fail_persist_state = -1; /* the disk is broken for a while */
    ck_assert_uint_ge(tick_until_start_fails(r), E);
    for (int k = 0; k < 3; k++) {
        struct raft_status st = h_status(h, 1);
        ck_assert_int_eq(st.role, RAFT_FOLLOWER);
        ck_assert_uint_eq(st.term, 0);
        ck_assert_uint_eq(st.vote, 0);
        ck_assert_uint_eq(h_count(h, 1, 0, 0), 0);
        /* each later tick tries again, and fails again */
        ck_assert_int_eq(raft_tick(r), RAFT_EPERSIST);
    }
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_ELECTION_START), 0);
    nd->fail_persist_state = 0;
    ck_assert_int_eq(raft_tick(r), 0);
    struct raft_status st = h_status(h, 1);
    ck_assert_int_eq(st.role, RAFT_CANDIDATE);
    ck_assert_uint_eq(st.term, 1);
    ck_assert_uint_eq(st.vote, 1);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_VOTE), 2);
    h_assert_disk_matches(h, 1);
    h_deliver_all(h);
    ck_assert_int_eq(raft_role(r), RAFT_LEADER);
    h_free(h);
}
END_TEST

/* The same in a one-voter cluster with PreVote on (the library's
 * default): its own pre-vote wins at once and the election starts in the
 * same tick. When that start fails the tick must leave the node as it was
 * (no pre-candidate left behind with its timer restarted), and the next
 * tick must try again, as raft.h says for raft_tick. */
START_TEST(test_persist_state_failure_when_starting_election_one_voter)
{
    struct h_opts o = opts;
    o.pre_vote = true;
    struct harness *h = h_new(1, &o);
    h_bootstrap_all(h);
    struct raft *r = h_raft(h, 1);
    struct h_node *nd = h_node(h, 1);
    nd->fail_persist_state = -1;
    tick_until_start_fails(r);
    for (int k = 0; k < 3; k++) {
        struct raft_status st = h_status(h, 1);
        ck_assert_int_eq(st.role, RAFT_FOLLOWER);
        ck_assert_uint_eq(st.term, 0);
        ck_assert_uint_eq(st.vote, 0);
        ck_assert_int_eq(raft_tick(r), RAFT_EPERSIST);
    }
    nd->fail_persist_state = 0;
    ck_assert_int_eq(raft_tick(r), 0);
    ck_assert_int_eq(raft_role(r), RAFT_LEADER);
    ck_assert_uint_eq(raft_current_term(r), 1);
    h_assert_disk_matches(h, 1);
    h_free(h);
}
END_TEST

/* persist_state fails when the pre-vote grant that makes a majority starts
 * the election: RAFT_EPERSIST, and the grant is not taken (raft.h: the
 * message was not processed). Delivered again once the disk works, it
 * starts the election; it must not be ignored as a duplicate of a grant
 * already counted. */
START_TEST(test_persist_state_failure_when_prevote_won)
{
    const raft_term log[] = {1};
    struct h_opts o = opts;
    o.pre_vote = true;
    struct harness *h = h_single(3, &o, 5, 0, log, 1);
    struct raft *r = h_raft(h, 1);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_PRECANDIDATE, 3 * E), 0);
    h_drop_all(h);
    struct raft_status before = h_status(h, 1);
    struct raft_msg g = h_msg_vote_resp(2, 1, 6, true, 1, 1);
    g.type = RAFT_MSG_PREVOTE_RESP;
    h_node(h, 1)->fail_persist_state = 1;
    ck_assert_int_eq(raft_step(r, &g), RAFT_EPERSIST);
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, "pre-vote won, term not durable");
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_VOTE), 0);
    ck_assert_int_eq(raft_step(r, &g), 0);
    ck_assert_int_eq(raft_role(r), RAFT_CANDIDATE);
    ck_assert_uint_eq(raft_current_term(r), 6);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_VOTE), 2);
    h_assert_disk_matches(h, 1);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * A TimeoutNow of a later term whose campaign cannot be persisted: like
 * any other failed start of an election (a timeout, a won pre-vote, a
 * vote request of a later term), the node is left as it was - not at the
 * sender's term following it - sends nothing, and delivered again the
 * message starts the campaign at the term after the sender's.
 * ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    bool async;
    bool leader; /* node 1 leads an older term */
} timeout_now_fail_cases[] = {
    {"follower", false, false},
    {"follower, asynchronous writes", true, false},
    {"leader of an older term", false, true},
};

START_TEST(test_persist_state_failure_when_timeout_now_campaigns)
{
    const raft_term log[] = {1};
    const char *name = timeout_now_fail_cases[_i].name;
    struct h_opts o = opts;
    o.async = timeout_now_fail_cases[_i].async;
    struct harness *h = h_single(3, &o, 5, 0, log, 1);
    struct raft *r = h_raft(h, 1);
    if (timeout_now_fail_cases[_i].leader) {
        h_make_leader_scripted(h, 1);
    }
    h_reset_calls(h, 1);
    struct raft_status before = h_status(h, 1);
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_TIMEOUT_NOW;
    m.from = 2;
    m.to = 1;
    m.term = before.term + 2;
    h_node(h, 1)->fail_persist_campaign = 1;
    int rc = raft_step(r, &m);
    ck_assert_msg(rc == RAFT_EPERSIST, "%s: raft_step = %d (%s)", name, rc,
                  raft_strerror(rc));
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, name);
    ck_assert_msg(h_nevents(h, 1, 0) == 0, "%s: %zu events reported", name,
                  h_nevents(h, 1, 0));
    h_assert_disk_matches(h, 1);
    if (o.async) {
        ck_assert_int_eq(h_persisted(h, 1, h_node(h, 1)->pending, 0), 0);
    }
    ck_assert_uint_eq(h_count(h, 1, 0, 0), 0);
    /* delivered again, the disk working: the campaign starts */
    ck_assert_int_eq(raft_step(r, &m), 0);
    if (o.async) {
        ck_assert_int_eq(h_persisted(h, 1, h_node(h, 1)->pending, 0), 0);
    }
    after = h_status(h, 1);
    ck_assert_int_eq(after.role, RAFT_CANDIDATE);
    ck_assert_uint_eq(after.term, m.term + 1);
    ck_assert_uint_eq(after.vote, 1);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_VOTE), 2);
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_ELECTION_START), 1);
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_STEP_DOWN),
                      timeout_now_fail_cases[_i].leader);
    h_assert_disk_matches(h, 1);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * persist_entries fails on a follower: no success ack, entries at >= first
 * forgotten, RAFT_EPERSIST; the leader's retry succeeds.
 * Follower: term 3, log [1,1,2].
 * ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    raft_index prev_index;
    raft_term prev_term;
    size_t n;
    raft_index last_after_failure; /* entries >= first forgotten */
    raft_term want[5];
    size_t n_want;
} entries_fail_cases[] = {
    {"new entries after the log", 3, 2, 2, 3, {1, 1, 2, 3, 3}, 5},
    {"entries replacing a conflicting tail", 2, 1, 2, 2, {1, 1, 3, 3}, 4},
};

START_TEST(test_persist_entries_failure_on_follower)
{
    const raft_term log[] = {1, 1, 2};
    const char *name = entries_fail_cases[_i].name;
    struct harness *h = h_single(3, &opts, 3, 0, log, 3);
    struct raft *r = h_raft(h, 1);
    raft_term ts[] = {3, 3};
    struct raft_entry ents[2];
    char bufs[96];
    raft_index prev = entries_fail_cases[_i].prev_index;
    h_mk_entries(ents, bufs, prev + 1, ts, entries_fail_cases[_i].n);
    /* the leader says everything it sends is committed */
    struct raft_msg m = h_msg_append(2, 1, 3, prev, entries_fail_cases[_i].prev_term,
                                     prev + 2, ents, entries_fail_cases[_i].n);
    h_node(h, 1)->fail_persist_entries = 1;
    int rc = raft_step(r, &m);
    ck_assert_msg(rc == RAFT_EPERSIST, "%s: raft_step = %d (%s)", name, rc,
                  raft_strerror(rc));
    ck_assert_msg(!sent_ok(h, 1, RAFT_MSG_APPEND_RESP), "%s: acked", name);
    struct raft_status st = h_status(h, 1);
    ck_assert_msg(st.last_index == entries_fail_cases[_i].last_after_failure,
                  "%s: last_index %llu after the failure, want %llu", name,
                  (unsigned long long)st.last_index,
                  (unsigned long long)entries_fail_cases[_i].last_after_failure);
    ck_assert_msg(st.commit <= st.last_index, "%s: commit %llu past the log",
                  name, (unsigned long long)st.commit);
    ck_assert_msg(st.applied <= entries_fail_cases[_i].last_after_failure,
                  "%s: applied an entry that is not durable", name);
    ck_assert_uint_eq(st.term, 3);
    /* the leader retries */
    h_drop_all(h);
    h_reset_calls(h, 1);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert(sent_ok(h, 1, RAFT_MSG_APPEND_RESP));
    h_assert_log_terms(h, 1, entries_fail_cases[_i].want,
                       entries_fail_cases[_i].n_want);
    h_assert_disk_matches(h, 1);
    ck_assert_uint_eq(h_status(h, 1).commit, prev + 2);
    h_free(h);
}
END_TEST

/* The one trace raft.h lets a failed write leave of a message: the later
 * term of an AppendEntries, adopted in a write of its own before its
 * entries fail. The node follows the sender at that term, acknowledges
 * nothing, and takes the entries when they come again. */
START_TEST(test_persist_entries_failure_after_new_term_keeps_the_term)
{
    const raft_term log[] = {1, 1, 2};
    struct harness *h = h_single(3, &opts, 3, 0, log, 3);
    struct raft *r = h_raft(h, 1);
    raft_term ts[] = {4, 4};
    struct raft_entry ents[2];
    char bufs[96];
    h_mk_entries(ents, bufs, 4, ts, 2);
    struct raft_msg m = h_msg_append(2, 1, 4, 3, 2, 0, ents, 2);
    h_node(h, 1)->fail_persist_entries = 1;
    ck_assert_int_eq(raft_step(r, &m), RAFT_EPERSIST);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.term, 4);
    ck_assert_uint_eq(st.vote, 0);
    ck_assert_uint_eq(st.leader, 2);
    ck_assert_int_eq(st.role, RAFT_FOLLOWER);
    ck_assert_uint_eq(st.last_index, 3);
    ck_assert(!sent_ok(h, 1, RAFT_MSG_APPEND_RESP));
    ck_assert_uint_eq(h_node(h, 1)->d_term, 4);
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_TERM), 1);
    h_drop_all(h);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert(sent_ok(h, 1, RAFT_MSG_APPEND_RESP));
    ck_assert_uint_eq(h_status(h, 1).last_index, 5);
    h_assert_disk_matches(h, 1);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * persist_entries fails on the leader's propose: RAFT_EPERSIST, the leader
 * steps down, and the same index never later holds a different entry at
 * that term - on any node, in memory or on disk.
 * ------------------------------------------------------------------------ */

static void assert_no_other_entry_at(struct harness *h, raft_index idx,
                                     raft_term term, const char *payload)
{
    size_t plen = strlen(payload);
    for (raft_id id = 1; id <= h->n; id++) {
        struct h_node *nd = h_node(h, id);
        struct raft_entry e;
        if (raft_entry_at(nd->r, idx, &e) == 0 && e.term == term) {
            ck_assert_msg(e.len == plen && memcmp(e.buf, payload, plen) == 0,
                          "node %llu holds a different entry at (%llu, term "
                          "%llu)",
                          (unsigned long long)id, (unsigned long long)idx,
                          (unsigned long long)term);
        }
        if (nd->disk.n >= idx && nd->disk.e[idx - 1].term == term) {
            const struct h_entry *d = &nd->disk.e[idx - 1];
            ck_assert_msg(d->len == plen && memcmp(d->buf, payload, plen) == 0,
                          "node %llu's disk holds a different entry at "
                          "(%llu, term %llu)",
                          (unsigned long long)id, (unsigned long long)idx,
                          (unsigned long long)term);
        }
    }
}

START_TEST(test_persist_entries_failure_on_leader_propose_steps_down)
{
    struct harness *h = h_new(3, &opts);
    h->strict = false; /* late acks may refer to entries the leader forgot */
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 1);
    struct raft *r = h_raft(h, 1);
    raft_term T = raft_current_term(r);
    raft_index idx = h_status(h, 1).last_index + 1;
    h_reset_all_calls(h);
    h_drop_all(h);
    /* a batch of two, so the fake disk keeps a prefix (the first one) */
    struct raft_buf b[2] = {{"X1", 2}, {"X2", 2}};
    h_node(h, 1)->fail_persist_entries = 1;
    int rc = raft_propose_batch(r, b, 2, NULL);
    ck_assert_msg(rc == RAFT_EPERSIST, "raft_propose_batch = %d (%s)", rc,
                  raft_strerror(rc));
    struct raft_status st = h_status(h, 1);
    ck_assert_int_eq(st.role, RAFT_FOLLOWER);
    ck_assert_uint_eq(st.term, T);
    ck_assert_uint_lt(st.last_index, idx);
    ck_assert_uint_lt(st.commit, idx);
    /* one step-down, and it says why */
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_STEP_DOWN), 1);
    const struct h_event *ev = h_event(h, 1, RAFT_EVENT_STEP_DOWN, 0);
    ck_assert_msg(ev->error == RAFT_EPERSIST,
                  "STEP_DOWN event error %d, want RAFT_EPERSIST", ev->error);
    /* X never left the node */
    for (size_t k = 0; k < h_count(h, 1, 0, RAFT_MSG_APPEND); k++) {
        const struct raft_msg *a = h_find(h, 1, 0, RAFT_MSG_APPEND, k);
        ck_assert_msg(a->u.append.prev_index + a->u.append.n_entries < idx,
                      "an entry that failed to persist was sent");
    }
    ck_assert_int_eq(raft_propose(r, "late", 4, NULL), RAFT_ENOTLEADER);
    /* node 1 may even restart from its half-written disk */
    ck_assert_int_eq(h_restart(h, 1), 0);
    /* the cluster moves on: node 2 leads term T+1 and fills idx */
    h_elect(h, 2);
    ck_assert_uint_gt(raft_current_term(h_raft(h, 2)), T);
    ck_assert_int_eq(h_propose(h, 2, "Y", NULL), 0);
    h_deliver_all(h);
    h_heartbeat(h, 2, 3);
    assert_no_other_entry_at(h, idx, T, "X1");
    assert_no_other_entry_at(h, idx + 1, T, "X2");
    for (raft_id id = 1; id <= 3; id++) {
        h_assert_logs_equal(h, 2, id);
        ck_assert_uint_eq(h_status(h, id).commit, h_status(h, 2).last_index);
    }
    h_free(h);
}
END_TEST

/* A batch larger than one persist call (if the library splits it): the
 * second call fails. All or none: none of the batch stays in the leader's
 * log, none was sent, and the leader steps down. */
static void fail_second_persist_entries(struct h_node *nd, int kind)
{
    int *seen = nd->hook_arg;
    if (kind == H_CB_PERSIST_ENTRIES && ++*seen == 2) {
        nd->fail_persist_entries = 1;
    }
}

START_TEST(test_persist_entries_failure_mid_batch_keeps_durable_pieces)
{
    struct h_opts o = opts;
    o.max_msg_entries = 2;
    struct harness *h = h_new(3, &o);
    h->strict = false;
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 1);
    h_drop_all(h);
    h_reset_all_calls(h);
    struct raft *r = h_raft(h, 1);
    raft_index last = h_status(h, 1).last_index;
    struct raft_buf b[5] = {{"b1", 2}, {"b2", 2}, {"b3", 2}, {"b4", 2},
                            {"b5", 2}};
    int seen = 0;
    h_node(h, 1)->hook = fail_second_persist_entries;
    h_node(h, 1)->hook_arg = &seen;
    int rc = raft_propose_batch(r, b, 5, NULL);
    /* Pieces of max_msg_entries (2): the first is durable and stays, the
     * second fails, so the log ends after the first piece. */
    ck_assert_int_eq(seen, 2);
    {
        ck_assert_int_eq(rc, RAFT_EPERSIST);
        struct raft_status st = h_status(h, 1);
        ck_assert_uint_eq(st.last_index, last + 2);
        ck_assert_int_eq(st.role, RAFT_FOLLOWER);
        for (size_t k = 0; k < h_count(h, 1, 0, RAFT_MSG_APPEND); k++) {
            const struct raft_msg *a = h_find(h, 1, 0, RAFT_MSG_APPEND, k);
            ck_assert_uint_eq(a->u.append.n_entries, 0);
        }
    }
    h_node(h, 1)->hook = NULL;
    h_free(h);
}
END_TEST

/* The same with a single proposal, and a one-voter cluster, where the
 * leader would otherwise commit the entry on its own. */
START_TEST(test_persist_entries_failure_one_voter)
{
    struct harness *h = h_new(1, &opts);
    h_bootstrap_all(h);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_LEADER, 3 * E), 0);
    struct raft *r = h_raft(h, 1);
    raft_term T = raft_current_term(r);
    h_node(h, 1)->fail_persist_entries = 1;
    ck_assert_int_eq(h_propose(h, 1, "X", NULL), RAFT_EPERSIST);
    struct raft_status st = h_status(h, 1);
    ck_assert_int_eq(st.role, RAFT_FOLLOWER);
    ck_assert_uint_eq(st.last_index, 1);
    ck_assert_uint_eq(st.commit, 1);
    ck_assert_uint_eq(h_node(h, 1)->applied.n, 1); /* X never applied */
    /* it elects itself again, in a new term */
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_LEADER, 3 * E), 0);
    ck_assert_uint_gt(raft_current_term(r), T);
    ck_assert_int_eq(h_propose(h, 1, "Y", NULL), 0);
    assert_no_other_entry_at(h, 2, T, "X");
    h_free(h);
}
END_TEST

/* persist_entries fails for the new leader's no-op: it must not lead with
 * an entry that is not durable. */
START_TEST(test_persist_entries_failure_on_leader_noop)
{
    struct harness *h = h_new(3, &opts);
    h->strict = false;
    h_bootstrap_all(h);
    struct raft *r = h_raft(h, 1);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_CANDIDATE, 3 * E), 0);
    h_node(h, 1)->fail_persist_entries = 1;
    h_deliver_one(h, 1, 2, RAFT_MSG_VOTE);
    int rc = h_deliver_one(h, 2, 1, RAFT_MSG_VOTE_RESP);
    ck_assert_msg(rc == RAFT_EPERSIST, "winning vote: raft_step = %d (%s)", rc,
                  raft_strerror(rc));
    ck_assert_int_ne(raft_role(r), RAFT_LEADER);
    ck_assert_uint_eq(h_status(h, 1).last_index, 0);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * send fails for one peer: the others still get their messages; the call
 * itself succeeds (a failed send is a lost message).
 * ------------------------------------------------------------------------ */

START_TEST(test_send_failure_for_one_peer_others_still_get_messages)
{
    struct harness *h = h_new(5, &opts);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 1);
    h_drop_all(h);
    h_reset_all_calls(h);
    h_node(h, 1)->fail_send_to[2] = -1;
    raft_index idx;
    ck_assert_int_eq(h_propose(h, 1, "p", &idx), 0);
    ck_assert_uint_eq(h_count(h, 1, 2, 0), 0);
    for (raft_id p = 3; p <= 5; p++) {
        ck_assert_msg(h_count(h, 1, p, RAFT_MSG_APPEND) == 1,
                      "peer %llu got no AppendEntries", (unsigned long long)p);
    }
    const struct h_event *ev = h_event(h, 1, RAFT_EVENT_SEND_FAILED, 0);
    ck_assert(ev != NULL);
    ck_assert_uint_eq(ev->peer, 2);
    ck_assert_int_eq(h_tick(h, 1, 1), 0); /* heartbeats: also not an error */
    h_deliver_all(h);
    ck_assert_uint_eq(h_status(h, 1).commit, idx);
    /* the link heals: node 2 catches up */
    h_node(h, 1)->fail_send_to[2] = 0;
    h_heartbeat(h, 1, 5);
    h_assert_logs_equal(h, 1, 2);
    ck_assert_uint_eq(h_status(h, 2).commit, idx);
    /* a candidate whose send to one peer fails still asks the others */
    h_node(h, 3)->fail_send_to[1] = 1;
    ck_assert_uint_gt(h_tick_until_role(h, 3, RAFT_CANDIDATE, 3 * E), 0);
    ck_assert_uint_eq(h_count(h, 3, 1, RAFT_MSG_VOTE), 0);
    for (raft_id p = 2; p <= 5; p++) {
        if (p != 3) {
            ck_assert_uint_eq(h_count(h, 3, p, RAFT_MSG_VOTE), 1);
        }
    }
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * apply fails: RAFT_EAPPLY, applied index not advanced, the same entry is
 * offered again at the next tick, and each entry is applied exactly once.
 * ------------------------------------------------------------------------ */

START_TEST(test_apply_failure_returns_eapply_and_retries_on_next_tick)
{
    struct harness *h = h_new(1, &opts);
    h_bootstrap_all(h);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_LEADER, 3 * E), 0);
    struct raft *r = h_raft(h, 1);
    struct h_node *nd = h_node(h, 1);
    nd->fail_apply = 1;
    raft_index idx = 0;
    int rc = raft_propose(r, "a", 1, &idx);
    ck_assert_msg(rc == RAFT_EAPPLY, "raft_propose = %d (%s)", rc,
                  raft_strerror(rc));
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.last_index, 2); /* appended all the same */
    ck_assert_uint_eq(st.commit, 2);
    ck_assert_uint_eq(st.applied, 1);
    ck_assert_uint_eq(nd->applied.n, 1);
    ck_assert_int_eq(raft_tick(r), 0);
    st = h_status(h, 1);
    ck_assert_uint_eq(st.applied, 2);
    ck_assert_uint_eq(nd->applied.n, 2);
    ck_assert_uint_eq(nd->applied_idx[1], 2);
    ck_assert(memcmp(nd->applied.e[1].buf, "a", 1) == 0);
    /* a failing apply stops at the failing entry: 3 ok, 4 fails, 5 waits */
    h_reset_calls(h, 1);
    struct raft_buf b[3] = {{"b", 1}, {"c", 1}, {"d", 1}};
    nd->fail_apply = 0;
    ck_assert_int_eq(raft_propose_batch(r, b, 1, NULL), 0); /* 3 */
    nd->fail_apply = 1;
    ck_assert_int_eq(raft_propose_batch(r, b + 1, 2, NULL), RAFT_EAPPLY);
    st = h_status(h, 1);
    ck_assert_uint_eq(st.commit, 5);
    ck_assert_uint_eq(st.applied, 3);
    ck_assert_uint_eq(nd->applied.n, 3);
    ck_assert_int_eq(raft_tick(r), 0);
    st = h_status(h, 1);
    ck_assert_uint_eq(st.applied, 5);
    ck_assert_uint_eq(nd->applied.n, 5);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_uint_eq(nd->applied_idx[i], i + 1); /* in order, once */
    }
    h_free(h);
}
END_TEST

/* On a follower, via raft_step: the ack still goes out (the entries are
 * durable), the step returns RAFT_EAPPLY, and the next tick applies. */
START_TEST(test_apply_failure_on_follower_step)
{
    const raft_term log[] = {1, 1};
    struct harness *h = h_single(3, &opts, 1, 0, log, 2);
    struct raft *r = h_raft(h, 1);
    struct h_node *nd = h_node(h, 1);
    nd->fail_apply = 1;
    struct raft_msg m = h_msg_append(2, 1, 1, 2, 1, 2, NULL, 0);
    ck_assert_int_eq(raft_step(r, &m), RAFT_EAPPLY);
    ck_assert(sent_ok(h, 1, RAFT_MSG_APPEND_RESP));
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.commit, 2);
    ck_assert_uint_eq(st.applied, 0);
    /* also retried by the next raft_step, not only raft_tick */
    nd->fail_apply = 0;
    m = h_msg_append(2, 1, 1, 2, 1, 2, NULL, 0);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert_uint_eq(h_status(h, 1).applied, 2);
    ck_assert_uint_eq(nd->applied.n, 2);
    ck_assert_uint_eq(nd->applied_idx[0], 1);
    ck_assert_uint_eq(nd->applied_idx[1], 2);
    ck_assert_int_eq(raft_tick(r), 0);
    ck_assert_uint_eq(nd->applied.n, 2);
    h_free(h);
}
END_TEST

Suite *raft_persist_suite(void)
{
    Suite *s = suite_create("persist");
    TCase *tc = tcase_create("failing_callbacks");
    h_tcase_cleanup(tc);
    tcase_add_loop_test(tc, test_persist_state_failure_when_granting_vote, 0,
                        (int)H_ARRAY_LEN(vote_fail_cases));
    tcase_add_test(tc, test_persist_state_failure_on_new_term_from_leader);
    tcase_add_loop_test(tc, test_persist_state_failure_on_leader_seeing_higher_term, 0, 2);
    tcase_add_test(tc, test_persist_state_failure_when_starting_election);
    tcase_add_test(tc, test_persist_state_failure_when_starting_election_one_voter);
    tcase_add_test(tc, test_persist_state_failure_when_prevote_won);
    tcase_add_loop_test(tc, test_persist_state_failure_when_timeout_now_campaigns,
                        0, (int)H_ARRAY_LEN(timeout_now_fail_cases));
    tcase_add_loop_test(tc, test_persist_entries_failure_on_follower, 0,
                        (int)H_ARRAY_LEN(entries_fail_cases));
    tcase_add_test(tc, test_persist_entries_failure_after_new_term_keeps_the_term);
    tcase_add_test(tc, test_persist_entries_failure_on_leader_propose_steps_down);
    tcase_add_test(tc, test_persist_entries_failure_one_voter);
    tcase_add_test(tc, test_persist_entries_failure_mid_batch_keeps_durable_pieces);
    tcase_add_test(tc, test_persist_entries_failure_on_leader_noop);
    tcase_add_test(tc, test_send_failure_for_one_peer_others_still_get_messages);
    tcase_add_test(tc, test_apply_failure_returns_eapply_and_retries_on_next_tick);
    tcase_add_test(tc, test_apply_failure_on_follower_step);
    suite_add_tcase(s, tc);
    return s;
}
