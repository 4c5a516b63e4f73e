/*
 * test_async.c - asynchronous persistence (cfg.async_persist) and the
 * effects model: what waits for a write, what does not, group commit,
 * failed writes, and events reported with the node's final state.
 *
 * In these tests the harness's fake disk takes every write at once, but
 * the node learns of durability only through h_persisted(), so a test
 * decides exactly when each write "completes".
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

static struct h_opts test_opts(bool async)
{
    struct h_opts o;
    memset(&o, 0, sizeof(o));
    o.seed = 1;
    o.async = async;
    return o;
}

/* A 3-node asynchronous cluster with node 1 leading and everything
 * settled (the no-op committed and applied everywhere). */
static struct harness *async_cluster(void)
{
    struct h_opts o = test_opts(true);
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 1);
    h_settle(h);
    h_reset_all_calls(h);
    return h;
}

START_TEST(test_ack_waits_for_durable_entries)
{
    struct harness *h = async_cluster();
    raft_index idx;
    ck_assert_int_eq(h_propose(h, 1, "x", &idx), 0);
    h_deliver_one(h, 1, 2, RAFT_MSG_APPEND);
    /* The follower started the write but must not acknowledge it yet. */
    ck_assert_uint_eq(h_node(h, 2)->pending, 1);
    ck_assert_uint_eq(h_ncalls(h, 2, H_CB_PERSIST_ENTRIES), 1);
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_APPEND_RESP), 0);
    ck_assert_int_eq(h_persisted(h, 2, 1, 0), 0);
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_APPEND_RESP), 1);
    const struct raft_msg *m = h_find(h, 2, 1, RAFT_MSG_APPEND_RESP, 0);
    ck_assert(m->u.append_resp.success);
    ck_assert_uint_eq(m->u.append_resp.index, idx);
    h_free(h);
}
END_TEST

START_TEST(test_leader_sends_before_its_own_write)
{
    struct harness *h = async_cluster();
    raft_index idx;
    ck_assert_int_eq(h_propose(h, 1, "x", &idx), 0);
    /* Thesis 10.2.1: AppendEntries leave with the leader's write pending. */
    ck_assert_uint_eq(h_node(h, 1)->pending, 1);
    ck_assert_uint_eq(h_count(h, 1, 2, RAFT_MSG_APPEND), 1);
    ck_assert_uint_eq(h_count(h, 1, 3, RAFT_MSG_APPEND), 1);
    /* One follower's ack and the leader's non-durable copy are not a
     * majority: the leader's match is its durable index. */
    h_drop(h, 1, 3, RAFT_MSG_APPEND);
    h_deliver_one(h, 1, 2, RAFT_MSG_APPEND);
    h_persisted(h, 2, 1, 0);
    h_deliver_one(h, 2, 1, RAFT_MSG_APPEND_RESP);
    ck_assert_uint_lt(h_status(h, 1).commit, idx);
    struct raft_progress p = h_progress(h, 1, 1);
    ck_assert(p.self);
    ck_assert_uint_eq(p.match, idx - 1);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_APPLY), 0);
    /* Once its own write is durable, the leader commits and applies. */
    ck_assert_int_eq(h_persisted(h, 1, 1, 0), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, idx);
    ck_assert_uint_eq(h_status(h, 1).applied, idx);
    h_free(h);
}
END_TEST

START_TEST(test_followers_alone_can_commit)
{
    /* Two followers are a majority of three without the leader's copy. */
    struct harness *h = async_cluster();
    raft_index idx;
    ck_assert_int_eq(h_propose(h, 1, "x", &idx), 0);
    h_deliver_one(h, 1, 2, RAFT_MSG_APPEND);
    h_deliver_one(h, 1, 3, RAFT_MSG_APPEND);
    h_persisted(h, 2, 1, 0);
    h_persisted(h, 3, 1, 0);
    h_deliver_all(h);
    ck_assert_uint_eq(h_status(h, 1).commit, idx);
    /* Committed, but not applied on the leader before its own copy is
     * durable. */
    ck_assert_uint_eq(h_status(h, 1).applied, idx - 1);
    h_persisted(h, 1, 1, 0);
    ck_assert_uint_eq(h_status(h, 1).applied, idx);
    h_free(h);
}
END_TEST

START_TEST(test_candidate_counts_own_vote_once_durable)
{
    struct h_opts o = test_opts(true);
    struct harness *h = h_new(1, &o);
    h_bootstrap_all(h);
    ck_assert_uint_ne(h_tick_until_role(h, 1, RAFT_CANDIDATE, 100), 0);
    /* A one-voter cluster would win at once, but its vote is not durable. */
    ck_assert_int_eq(h_tick(h, 1, 1), 0);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_CANDIDATE);
    ck_assert_uint_eq(h_node(h, 1)->pending, 1);
    ck_assert_int_eq(h_persisted(h, 1, 1, 0), 0);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    /* The no-op is written; committed only when durable. */
    ck_assert_uint_eq(h_node(h, 1)->pending, 1);
    ck_assert_uint_eq(h_status(h, 1).commit, 0);
    ck_assert_int_eq(h_persisted(h, 1, 1, 0), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, 1);
    ck_assert_uint_eq(h_status(h, 1).applied, 1);
    h_free(h);
}
END_TEST

START_TEST(test_vote_grant_waits_for_durable_vote)
{
    struct h_opts o = test_opts(true);
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    struct raft_msg v = h_msg_vote(1, 2, 1, 0, 0);
    ck_assert_int_eq(raft_step(h_raft(h, 2), &v), 0);
    ck_assert_uint_eq(h_ncalls(h, 2, H_CB_PERSIST_STATE), 1);
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_VOTE_RESP), 0);
    ck_assert_int_eq(h_persisted(h, 2, 1, 0), 0);
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_VOTE_RESP), 1);
    ck_assert(h_find(h, 2, 1, RAFT_MSG_VOTE_RESP, 0)->u.vote_resp.granted);
    h_free(h);
}
END_TEST

START_TEST(test_vote_requests_wait_for_durable_term)
{
    struct h_opts o = test_opts(true);
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    ck_assert_uint_ne(h_tick_until_role(h, 1, RAFT_CANDIDATE, 100), 0);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_VOTE), 0);
    h_persisted(h, 1, 1, 0);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_VOTE), 2);
    h_free(h);
}
END_TEST

START_TEST(test_group_commit_one_ack)
{
    /* A follower accepts more AppendEntries while its first write is in
     * flight and acknowledges the whole range once, when durable. */
    struct harness *h = async_cluster();
    raft_index a, b;
    ck_assert_int_eq(h_propose(h, 1, "a", &a), 0);
    ck_assert_int_eq(h_propose(h, 1, "b", &b), 0);
    ck_assert_uint_eq(h_count(h, 1, 2, RAFT_MSG_APPEND), 2);
    h_deliver_one(h, 1, 2, RAFT_MSG_APPEND);
    h_deliver_one(h, 1, 2, RAFT_MSG_APPEND);
    ck_assert_uint_eq(h_node(h, 2)->pending, 2);
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_APPEND_RESP), 0);
    /* Only the first write durable: only its range is acknowledged. */
    h_persisted(h, 2, 1, 0);
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_APPEND_RESP), 1);
    ck_assert_uint_eq(h_find(h, 2, 1, RAFT_MSG_APPEND_RESP, 0)->u.append_resp.index, a);
    h_persisted(h, 2, 1, 0);
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_APPEND_RESP), 2);
    ck_assert_uint_eq(h_find(h, 2, 1, RAFT_MSG_APPEND_RESP, 1)->u.append_resp.index, b);
    h_drop_all(h);
    /* Both writes reported in one call: one acknowledgement, the newest. */
    ck_assert_int_eq(h_propose(h, 1, "c", &a), 0);
    ck_assert_int_eq(h_propose(h, 1, "d", &b), 0);
    h_deliver_one(h, 1, 2, RAFT_MSG_APPEND);
    h_deliver_one(h, 1, 2, RAFT_MSG_APPEND);
    h_persisted(h, 2, 2, 0);
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_APPEND_RESP), 1);
    ck_assert_uint_eq(h_find(h, 2, 1, RAFT_MSG_APPEND_RESP, 0)->u.append_resp.index, b);
    h_free(h);
}
END_TEST

/* Acknowledgements that wait for the same write leave as one: a follower
 * whose write is in flight and that gets two more AppendEntries without
 * entries meanwhile sends one acknowledgement once the write is durable,
 * not three. */
START_TEST(test_waiting_acks_leave_as_one)
{
    struct harness *h = async_cluster();
    raft_index a;
    ck_assert_int_eq(h_propose(h, 1, "a", &a), 0);
    h_deliver_one(h, 1, 2, RAFT_MSG_APPEND);
    h_drop_all(h);
    ck_assert_uint_eq(h_node(h, 2)->pending, 1);
    struct raft_status s2 = h_status(h, 2);
    ck_assert_uint_eq(s2.last_index, a);
    for (int k = 0; k < 2; k++) {
        struct raft_msg ae = h_msg_append(1, 2, s2.term, a, s2.last_term,
                                          s2.commit, NULL, 0);
        ck_assert_int_eq(raft_step(h_raft(h, 2), &ae), 0);
    }
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_APPEND_RESP), 0);
    h_persisted(h, 2, 1, 0);
    ck_assert_uint_eq(h_count(h, 2, 1, RAFT_MSG_APPEND_RESP), 1);
    const struct raft_msg *r = h_find(h, 2, 1, RAFT_MSG_APPEND_RESP, 0);
    ck_assert(r->u.append_resp.success);
    ck_assert_uint_eq(r->u.append_resp.index, a);
    h_free(h);
}
END_TEST

START_TEST(test_follower_applies_only_durable)
{
    struct harness *h = async_cluster();
    raft_index idx;
    ck_assert_int_eq(h_propose(h, 1, "x", &idx), 0);
    h_deliver_one(h, 1, 3, RAFT_MSG_APPEND);
    h_persisted(h, 3, 1, 0);
    h_persisted(h, 1, 1, 0);
    h_deliver_one(h, 3, 1, RAFT_MSG_APPEND_RESP);
    ck_assert_uint_eq(h_status(h, 1).commit, idx);
    /* Node 2 receives the entry and the commit index together, in one
     * AppendEntries built now, but its copy is not yet durable. */
    h_drop(h, 1, 2, RAFT_MSG_APPEND);
    char buf[48];
    struct raft_entry e;
    raft_entry_at(h_raft(h, 1), idx, &e);
    memcpy(buf, e.buf, e.len);
    e.buf = buf;
    struct raft_msg m = h_msg_append(1, 2, raft_current_term(h_raft(h, 1)),
                                     idx - 1, raft_current_term(h_raft(h, 1)),
                                     idx, &e, 1);
    ck_assert_int_eq(raft_step(h_raft(h, 2), &m), 0);
    ck_assert_uint_eq(h_status(h, 2).commit, idx);
    ck_assert_uint_eq(h_status(h, 2).applied, idx - 1);
    ck_assert_uint_eq(h_ncalls(h, 2, H_CB_APPLY), 0);
    h_persisted(h, 2, 1, 0);
    ck_assert_uint_eq(h_status(h, 2).applied, idx);
    h_free(h);
}
END_TEST

START_TEST(test_truncation_is_not_durable_until_rewritten)
{
    /* Follower 2 holds 1..3 of term 1 (durable), then a term-2 leader
     * replaces index 3. Until the replacement is durable, a report of the
     * older writes must not make index 3 count as durable. */
    struct h_opts o = test_opts(true);
    raft_term log1[] = {1, 1, 1};
    struct harness *h = h_single(3, &o, 1, 0, log1, 3);
    raft_term t2[] = {2};
    char bufs[48];
    struct raft_entry e;
    h_mk_entries(&e, bufs, 3, t2, 1);
    struct raft_msg m = h_msg_append(3, 1, 2, 2, 1, 0, &e, 1);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    /* Writes: the term (2), then the entries from index 3. */
    ck_assert_uint_eq(h_node(h, 1)->pending, 2);
    ck_assert_uint_eq(h_count(h, 1, 3, RAFT_MSG_APPEND_RESP), 0);
    h_persisted(h, 1, 1, 0);
    ck_assert_uint_eq(h_count(h, 1, 3, RAFT_MSG_APPEND_RESP), 0);
    /* A commit index of 3 now must not apply the replaced entry. */
    struct raft_msg hb = h_msg_append(3, 1, 2, 3, 2, 3, NULL, 0);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &hb), 0);
    ck_assert_uint_eq(h_status(h, 1).applied, 2);
    h_persisted(h, 1, 1, 0);
    ck_assert_uint_eq(h_status(h, 1).applied, 3);
    /* The two acknowledgements waited for the same write: only the newer
     * one leaves. */
    ck_assert_uint_eq(h_count(h, 1, 3, RAFT_MSG_APPEND_RESP), 1);
    ck_assert_uint_eq(h_find(h, 1, 3, RAFT_MSG_APPEND_RESP, 0)->u.append_resp.index, 3);
    h_free(h);
}
END_TEST

/* Follower 1 of an asynchronous 3-node cluster, holding entry 1 (term 1),
 * has started writing 2..3 of term 1 from leader 2: one write pending. */
static struct harness *follower_writing_2_3(void)
{
    struct h_opts o = test_opts(true);
    raft_term log1[] = {1};
    struct harness *h = h_single(3, &o, 1, 0, log1, 1);
    raft_term t1[] = {1, 1};
    char bufs1[2 * 48];
    struct raft_entry e1[2];
    h_mk_entries(e1, bufs1, 2, t1, 2);
    struct raft_msg m = h_msg_append(2, 1, 1, 1, 1, 0, e1, 2);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    ck_assert_uint_eq(h_node(h, 1)->pending, 1);
    return h;
}

/* The same while the write of the replaced entries is still pending:
 * follower 1 started writing 2..3 of term 1 when a term-2 leader replaced
 * index 3. The older write, once reported, makes only index 2 durable. */
START_TEST(test_truncation_of_pending_write_is_not_durable)
{
    struct harness *h = follower_writing_2_3();
    raft_term t2[] = {2};
    char bufs2[48];
    struct raft_entry e2;
    h_mk_entries(&e2, bufs2, 3, t2, 1);
    struct raft_msg m = h_msg_append(3, 1, 2, 2, 1, 3, &e2, 1);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    /* Writes: entries 2..3 (term 1), the term (2), entry 3 (term 2). */
    ck_assert_uint_eq(h_node(h, 1)->pending, 3);
    ck_assert_uint_eq(h_status(h, 1).commit, 3);
    ck_assert_uint_eq(h_status(h, 1).applied, 1);
    ck_assert_int_eq(h_persisted(h, 1, 1, 0), 0);
    ck_assert_uint_eq(h_status(h, 1).applied, 2);
    ck_assert_int_eq(h_persisted(h, 1, 1, 0), 0);
    ck_assert_uint_eq(h_status(h, 1).applied, 2);
    ck_assert_int_eq(h_persisted(h, 1, 1, 0), 0);
    ck_assert_uint_eq(h_status(h, 1).applied, 3);
    ck_assert_uint_eq(h_count(h, 1, 3, RAFT_MSG_APPEND_RESP), 1);
    ck_assert_uint_eq(h_find(h, 1, 3, RAFT_MSG_APPEND_RESP, 0)->u.append_resp.index, 3);
    h_free(h);
}
END_TEST

/* A write the persist_entries callback refuses forgets only what it was
 * to write: follower 1 started writing 2..3, then refused the in-order
 * write of 4. Once the first write is reported, 2..3 are durable, and
 * applied when committed. */
START_TEST(test_refused_write_keeps_earlier_pending_write)
{
    struct harness *h = follower_writing_2_3();
    raft_term t1[] = {1};
    char bufs2[48];
    struct raft_entry e2;
    h_mk_entries(&e2, bufs2, 4, t1, 1);
    h_node(h, 1)->fail_persist_entries = 1;
    struct raft_msg m = h_msg_append(2, 1, 1, 3, 1, 0, &e2, 1);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), RAFT_EPERSIST);
    ck_assert_uint_eq(h_node(h, 1)->pending, 1);
    ck_assert_uint_eq(h_status(h, 1).last_index, 3);
    ck_assert_int_eq(h_persisted(h, 1, 1, 0), 0);
    m = h_msg_append(2, 1, 1, 3, 1, 3, NULL, 0);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, 3);
    ck_assert_uint_eq(h_status(h, 1).applied, 3);
    h_free(h);
}
END_TEST

START_TEST(test_failed_write_stops_node)
{
    struct harness *h = async_cluster();
    raft_index idx;
    ck_assert_int_eq(h_propose(h, 1, "x", &idx), 0);
    h_deliver_one(h, 1, 2, RAFT_MSG_APPEND);
    ck_assert_int_eq(h_persisted(h, 2, 1, -5), RAFT_ESTOPPED);
    /* The acknowledgement that waited for the write never leaves. */
    ck_assert_uint_eq(h_count(h, 2, 0, 0), 0);
    ck_assert_int_eq(raft_tick(h_raft(h, 2)), RAFT_ESTOPPED);
    ck_assert_int_eq(h_persisted(h, 2, 0, 0), RAFT_ESTOPPED);
    ck_assert_int_eq(raft_propose(h_raft(h, 2), "y", 1, NULL), RAFT_ESTOPPED);
    /* Restarting from the disk brings it back. */
    ck_assert_int_eq(h_restart(h, 2), 0);
    h_heartbeat(h, 1, 2);
    h_settle(h);
    h_heartbeat(h, 1, 1); /* carries the commit index */
    h_settle(h);
    ck_assert_uint_eq(h_status(h, 2).applied, idx);
    h_free(h);
}
END_TEST

START_TEST(test_failed_write_steps_leader_down)
{
    struct harness *h = async_cluster();
    ck_assert_int_eq(h_propose(h, 1, "x", NULL), 0);
    h_drop_all(h);
    ck_assert_int_eq(h_persisted(h, 1, 1, -1), RAFT_ESTOPPED);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_FOLLOWER);
    const struct h_event *ev = h_event(h, 1, RAFT_EVENT_STEP_DOWN, 0);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->error, RAFT_EPERSIST);
    ck_assert_int_eq(ev->role, RAFT_FOLLOWER);
    ck_assert_uint_eq(h_tick(h, 1, 30), RAFT_ESTOPPED);
    ck_assert_uint_eq(h_count(h, 1, 0, 0), 0);
    h_free(h);
}
END_TEST

START_TEST(test_persisted_misuse)
{
    struct harness *h = async_cluster();
    struct raft_status before = h_status(h, 1);
    ck_assert_int_eq(h_persisted(h, 1, 1, 0), RAFT_EINVAL); /* none pending */
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, "after EINVAL");
    ck_assert_int_eq(raft_persisted(NULL, 0, 0), RAFT_EINVAL);
    ck_assert_int_eq(raft_persisted(h_raft(h, 1), 0, 0), 0);
    h_free(h);
    /* Synchronous nodes have nothing to report. */
    struct h_opts o = test_opts(false);
    h = h_new(1, &o);
    h_bootstrap_all(h);
    ck_assert_int_eq(raft_persisted(h_raft(h, 1), 0, 0), RAFT_EINVAL);
    h_free(h);
}
END_TEST

START_TEST(test_crash_loses_pending_writes)
{
    /* A node that crashes with writes pending restarts from what was
     * durable; the cluster, which never counted them, is unharmed. */
    struct harness *h = async_cluster();
    raft_index idx;
    ck_assert_int_eq(h_propose(h, 1, "x", &idx), 0);
    h_deliver_one(h, 1, 2, RAFT_MSG_APPEND);
    /* Crash node 2 before its write lands: drop the entry from its disk. */
    struct h_node *nd = h_node(h, 2);
    ck_assert_uint_eq(nd->disk.n, idx);
    free(nd->disk.e[idx - 1].buf);
    nd->disk.n = (size_t)(idx - 1);
    ck_assert_int_eq(h_restart(h, 2), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, idx - 1);
    h_persisted(h, 1, 1, 0);
    h_deliver_all(h);
    h_settle(h);
    ck_assert_uint_eq(h_status(h, 1).commit, idx);
    h_heartbeat(h, 1, 2);
    h_settle(h);
    ck_assert_uint_eq(h_status(h, 2).applied, idx);
    h_free(h);
}
END_TEST

/* ---- effects: events report the node's final state --------------------- */

START_TEST(test_deposed_leader_event_reports_follower)
{
    struct h_opts o = test_opts(false);
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_reset_all_calls(h);
    raft_term t = raft_current_term(h_raft(h, 1));
    struct raft_msg m = h_msg_append(2, 1, t + 1, 0, 0, 0, NULL, 0);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    size_t n = h_nevents(h, 1, 0);
    ck_assert_uint_ge(n, 3);
    for (size_t i = 0; i < n; i++) {
        const struct h_event *ev = &h_node(h, 1)->events[i];
        ck_assert_uint_eq(ev->term, t + 1);
        ck_assert_int_eq(ev->role, RAFT_FOLLOWER);
    }
    ck_assert_int_eq(h_node(h, 1)->events[0].type, RAFT_EVENT_TERM);
    ck_assert_int_eq(h_node(h, 1)->events[1].type, RAFT_EVENT_ROLE);
    ck_assert_ptr_nonnull(h_event(h, 1, RAFT_EVENT_STEP_DOWN, 0));
    h_free(h);
}
END_TEST

/* Records the kinds of a node's callbacks in call order (0: event). */
struct kinds {
    int k[64];
    size_t n;
};

static void record_kind(struct h_node *nd, int kind)
{
    struct kinds *ks = nd->hook_arg;
    if (ks->n < H_ARRAY_LEN(ks->k)) {
        ks->k[ks->n++] = kind;
    }
}

START_TEST(test_events_before_sends)
{
    /* Events of a call are delivered before its messages and no message
     * leaves in the middle of a handler: an election's TERM, ROLE and
     * ELECTION_START events all come before its vote requests, which come
     * after the term/vote write. */
    struct h_opts o = test_opts(false);
    struct harness *h = h_new(3, &o);
    struct kinds ks = {{0}, 0};
    size_t i, first_send = SIZE_MAX, last_event = 0, n_events = 0;
    h_bootstrap_all(h);
    h_node(h, 1)->hook = record_kind;
    h_node(h, 1)->hook_arg = &ks;
    ck_assert_uint_ne(h_tick_until_role(h, 1, RAFT_CANDIDATE, 100), 0);
    h_node(h, 1)->hook = NULL;
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_ELECTION_START), 1);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_VOTE), 2);
    for (i = 0; i < ks.n; i++) {
        if (ks.k[i] == 0) {
            last_event = i;
            n_events++;
        } else if (ks.k[i] == H_CB_SEND && first_send == SIZE_MAX) {
            first_send = i;
        }
    }
    ck_assert_uint_eq(n_events, 3); /* TERM, ROLE, ELECTION_START */
    ck_assert_uint_ne(first_send, SIZE_MAX);
    ck_assert_uint_lt(last_event, first_send);
    ck_assert_int_gt(h_call_pos(h, 1, H_CB_SEND, 0),
                     h_call_pos(h, 1, H_CB_PERSIST_STATE, 0));
    h_free(h);
}
END_TEST

Suite *raft_async_suite(void)
{
    Suite *s = suite_create("async");
    TCase *tc = tcase_create("async");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_ack_waits_for_durable_entries);
    tcase_add_test(tc, test_leader_sends_before_its_own_write);
    tcase_add_test(tc, test_followers_alone_can_commit);
    tcase_add_test(tc, test_candidate_counts_own_vote_once_durable);
    tcase_add_test(tc, test_vote_grant_waits_for_durable_vote);
    tcase_add_test(tc, test_vote_requests_wait_for_durable_term);
    tcase_add_test(tc, test_group_commit_one_ack);
    tcase_add_test(tc, test_waiting_acks_leave_as_one);
    tcase_add_test(tc, test_follower_applies_only_durable);
    tcase_add_test(tc, test_truncation_is_not_durable_until_rewritten);
    tcase_add_test(tc, test_truncation_of_pending_write_is_not_durable);
    tcase_add_test(tc, test_refused_write_keeps_earlier_pending_write);
    tcase_add_test(tc, test_failed_write_stops_node);
    tcase_add_test(tc, test_failed_write_steps_leader_down);
    tcase_add_test(tc, test_persisted_misuse);
    tcase_add_test(tc, test_crash_loses_pending_writes);
    suite_add_tcase(s, tc);
    tc = tcase_create("effects");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_deposed_leader_event_reports_follower);
    tcase_add_test(tc, test_events_before_sends);
    suite_add_tcase(s, tc);
    return s;
}
