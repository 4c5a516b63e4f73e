/*
 * test_replication.c - Figure 2 of the Raft paper for AppendEntries and
 * the leader's rules, Figures 7 and 8, the leader's no-op, fast
 * backtracking with conflict hints, pipelining and message limits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

#define E 10u

static const struct h_opts opts = {.election_ticks = E, .heartbeat_ticks = 1,
                                   .seed = 11};

/* The only message of a type from `from` to `to` in flight (asserted). */
static const struct raft_msg *only(struct harness *h, raft_id from, raft_id to,
                                   int type)
{
    size_t n = h_count(h, from, to, type);
    ck_assert_msg(n == 1, "want exactly one %s %llu -> %llu, found %zu",
                  h_msg_type_name(type), (unsigned long long)from,
                  (unsigned long long)to, n);
    return h_find(h, from, to, type, 0);
}

/* Term of entry `i` of node `id`. */
static raft_term term_at(struct harness *h, raft_id id, raft_index i)
{
    struct raft_entry e;
    ck_assert_int_eq(raft_entry_at(h_raft(h, id), i, &e), 0);
    return e.term;
}

/* ------------------------------------------------------------------------
 * AppendEntries 1: reply false if term < currentTerm.
 * ------------------------------------------------------------------------ */

START_TEST(test_append_entries_reply_false_if_term_lt_current_term)
{
    const raft_term log[] = {1, 2};
    struct harness *h = h_single(3, &opts, 5, 0, log, 2);
    struct raft_status before = h_status(h, 1);
    /* entries that would otherwise be appended, and a commit index that
     * would otherwise be adopted */
    raft_term ts[] = {4};
    struct raft_entry ents[1];
    char bufs[48];
    h_mk_entries(ents, bufs, 3, ts, 1);
    struct raft_msg m = h_msg_append(2, 1, 4, 2, 2, 3, ents, 1);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), RAFT_ESTALE);
    const struct raft_msg *resp = only(h, 1, 2, RAFT_MSG_APPEND_RESP);
    ck_assert(!resp->u.append_resp.success);
    ck_assert_uint_eq(resp->term, 5);
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, "stale APPEND");
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_PERSIST_ENTRIES), 0);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_PERSIST_STATE), 0);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_APPLY), 0);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * AppendEntries 2: reply false if log doesn't contain an entry at prevLogIndex
 * whose term matches prevLogTerm. The rejection carries the hint of raft.h:
 * the largest index <= min(prev_index, last) whose term is <= prev_term.
 * Receiver: term 3, log [1,1,2,2].
 * ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    raft_index prev_index;
    raft_term prev_term;
    raft_index hint_index;
    raft_term hint_term;
} lacks_cases[] = {
    {"prev past the end", 7, 3, 4, 2},
    {"prev past the end, older term", 9, 1, 2, 1},
    {"term mismatch at prev", 4, 3, 4, 2},
    {"term mismatch, skips the term-2 run", 4, 1, 2, 1},
    {"mismatch in the middle", 3, 3, 3, 2},
};

START_TEST(test_append_entries_reply_false_if_log_lacks_prev_entry)
{
    const raft_term log[] = {1, 1, 2, 2};
    const char *name = lacks_cases[_i].name;
    struct harness *h = h_single(3, &opts, 3, 0, log, 4);
    struct raft_status before = h_status(h, 1);
    raft_term ts[] = {3};
    struct raft_entry ents[1];
    char bufs[48];
    h_mk_entries(ents, bufs, lacks_cases[_i].prev_index + 1, ts, 1);
    struct raft_msg m = h_msg_append(2, 1, 3, lacks_cases[_i].prev_index,
                                     lacks_cases[_i].prev_term, 0, ents, 1);
    int rc = raft_step(h_raft(h, 1), &m);
    ck_assert_msg(rc == 0, "%s: a consistency-check failure is processed, "
                  "got %d (%s)", name, rc, raft_strerror(rc));
    const struct raft_msg *resp = only(h, 1, 2, RAFT_MSG_APPEND_RESP);
    ck_assert_msg(!resp->u.append_resp.success, "%s: accepted", name);
    ck_assert_uint_eq(resp->term, 3);
    ck_assert_msg(resp->u.append_resp.index == lacks_cases[_i].prev_index,
                  "%s: index %llu, want the request's prev_index", name,
                  (unsigned long long)resp->u.append_resp.index);
    ck_assert_msg(resp->u.append_resp.hint_index == lacks_cases[_i].hint_index &&
                      resp->u.append_resp.hint_term == lacks_cases[_i].hint_term,
                  "%s: hint (%llu, %llu), want (%llu, %llu)", name,
                  (unsigned long long)resp->u.append_resp.hint_index,
                  (unsigned long long)resp->u.append_resp.hint_term,
                  (unsigned long long)lacks_cases[_i].hint_index,
                  (unsigned long long)lacks_cases[_i].hint_term);
    /* the log is untouched, nothing persisted, but the leader is known */
    const raft_term same[] = {1, 1, 2, 2};
    h_assert_log_terms(h, 1, same, 4);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_PERSIST_ENTRIES), 0);
    struct raft_status after = h_status(h, 1);
    ck_assert_uint_eq(after.leader, 2);
    ck_assert_uint_eq(after.term, before.term);
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_APPEND_REJECTED), 1);
    ck_assert_uint_eq(h_event(h, 1, RAFT_EVENT_APPEND_REJECTED, 0)->peer, 2);
    /* a consistency-check failure is not a rejected message */
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_MSG_REJECTED), 0);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * AppendEntries 3: if an existing entry conflicts with a new one (same index
 * but different terms), delete the existing entry and all that follow it.
 * ------------------------------------------------------------------------ */

START_TEST(test_append_entries_delete_conflicting_entry_and_all_that_follow)
{
    const raft_term log[] = {1, 1, 2, 2, 2};
    struct harness *h = h_single(3, &opts, 3, 0, log, 5);
    raft_term ts[] = {3};
    struct raft_entry ents[1];
    char bufs[48];
    h_mk_entries(ents, bufs, 3, ts, 1);
    struct raft_msg m = h_msg_append(2, 1, 3, 2, 1, 0, ents, 1);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    const raft_term want[] = {1, 1, 3};
    h_assert_log_terms(h, 1, want, 3);
    struct raft_entry e;
    ck_assert_int_eq(raft_entry_at(h_raft(h, 1), 4, &e), RAFT_EINVAL);
    /* the disk lost 4 and 5 as well */
    h_assert_disk_matches(h, 1);
    const struct h_call *pe = h_call(h, 1, H_CB_PERSIST_ENTRIES, 0);
    ck_assert(pe != NULL);
    ck_assert_uint_eq(pe->index, 3);
    const struct raft_msg *resp = only(h, 1, 2, RAFT_MSG_APPEND_RESP);
    ck_assert(resp->u.append_resp.success);
    ck_assert_uint_eq(resp->u.append_resp.index, 3);
    h_free(h);
}
END_TEST

/* The converse matters as much: entries that match must NOT truncate the
 * log, or a delayed AppendEntries would erase entries the follower already
 * acknowledged (and the leader may have counted toward commitment). */
START_TEST(test_append_entries_stale_matching_append_does_not_truncate)
{
    const raft_term log[] = {1, 1, 2, 2};
    struct harness *h = h_single(3, &opts, 2, 0, log, 4);
    raft_term ts[] = {1, 2};
    struct raft_entry ents[2];
    char bufs[96];
    h_mk_entries(ents, bufs, 2, ts, 1); /* entry 2 (term 1) only */
    struct raft_msg m = h_msg_append(2, 1, 2, 1, 1, 0, ents, 1);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    h_assert_log_terms(h, 1, log, 4);
    h_assert_disk_matches(h, 1);
    const struct raft_msg *resp = only(h, 1, 2, RAFT_MSG_APPEND_RESP);
    ck_assert(resp->u.append_resp.success);
    ck_assert_uint_eq(resp->u.append_resp.index, 2);
    /* and a heartbeat for an earlier prefix neither */
    h_drop_all(h);
    m = h_msg_append(2, 1, 2, 2, 1, 0, NULL, 0);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    h_assert_log_terms(h, 1, log, 4);
    h_assert_disk_matches(h, 1);
    h_free(h);
}
END_TEST

/* A delayed request wholly at or below the follower's commit index: it
 * changes nothing, and the ack may not claim less than the request covers
 * nor more than the follower knows matches (its commit index; the leader
 * has every committed entry). raft.h says the ack is exactly
 * prev_index + n_entries; the library acks its commit index - both are
 * safe, see the report. */
START_TEST(test_append_entries_request_below_commit_is_acked_without_change)
{
    const raft_term log[] = {1, 1, 1, 1, 1};
    struct harness *h = h_single(3, &opts, 1, 0, log, 5);
    struct raft *r = h_raft(h, 1);
    struct raft_msg m = h_msg_append(2, 1, 1, 5, 1, 5, NULL, 0);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, 5);
    h_drop_all(h);
    h_reset_calls(h, 1);
    raft_term ts[] = {1, 1};
    struct raft_entry ents[2];
    char bufs[96];
    h_mk_entries(ents, bufs, 2, ts, 2);
    m = h_msg_append(2, 1, 1, 1, 1, 3, ents, 2);
    ck_assert_int_eq(raft_step(r, &m), 0);
    const struct raft_msg *resp = only(h, 1, 2, RAFT_MSG_APPEND_RESP);
    ck_assert(resp->u.append_resp.success);
    ck_assert_uint_ge(resp->u.append_resp.index, 3);
    ck_assert_uint_le(resp->u.append_resp.index, 5);
    h_assert_log_terms(h, 1, log, 5);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_PERSIST_ENTRIES), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, 5);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * AppendEntries 4: append any new entries not already in the log.
 * ------------------------------------------------------------------------ */

START_TEST(test_append_entries_append_new_entries_not_in_log)
{
    const raft_term log[] = {1, 1};
    struct harness *h = h_single(3, &opts, 2, 0, log, 2);
    /* entries 2..4, of which 2 is already there */
    raft_term ts[] = {1, 2, 2};
    struct raft_entry ents[3];
    char bufs[3 * 48];
    h_mk_entries(ents, bufs, 2, ts, 3);
    struct raft_msg m = h_msg_append(2, 1, 2, 1, 1, 0, ents, 3);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    const raft_term want[] = {1, 1, 2, 2};
    h_assert_log_terms(h, 1, want, 4);
    h_assert_disk_matches(h, 1);
    /* payloads are copied, not borrowed beyond the call */
    memset(bufs, 'x', sizeof(bufs));
    struct raft_entry e;
    char expect[48];
    size_t n = h_payload(expect, 4, 2);
    ck_assert_int_eq(raft_entry_at(h_raft(h, 1), 4, &e), 0);
    ck_assert_uint_eq(e.len, n);
    ck_assert(memcmp(e.buf, expect, n) == 0);
    const struct raft_msg *resp = only(h, 1, 2, RAFT_MSG_APPEND_RESP);
    ck_assert(resp->u.append_resp.success);
    ck_assert_uint_eq(resp->u.append_resp.index, 4);
    h_free(h);
}
END_TEST

/* Persistent state: entries are durable before they are acknowledged, and
 * committed entries are applied after the call's messages were sent. */
START_TEST(test_persist_entries_before_append_reply)
{
    const raft_term log[] = {1};
    struct harness *h = h_single(3, &opts, 1, 0, log, 1);
    raft_term ts[] = {1, 1};
    struct raft_entry ents[2];
    char bufs[96];
    h_mk_entries(ents, bufs, 2, ts, 2);
    struct raft_msg m = h_msg_append(2, 1, 1, 1, 1, 3, ents, 2);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_PERSIST_ENTRIES), 1);
    const struct h_call *pe = h_call(h, 1, H_CB_PERSIST_ENTRIES, 0);
    ck_assert_uint_eq(pe->index, 2);
    ck_assert_uint_eq(pe->n, 2);
    long persist = h_call_pos(h, 1, H_CB_PERSIST_ENTRIES, 0);
    long ack = h_assert_sent(h, 1, RAFT_MSG_APPEND_RESP, 2);
    long apply = h_call_pos(h, 1, H_CB_APPLY, 0);
    ck_assert_msg(persist < ack, "ack sent before the entries were durable");
    ck_assert_msg(apply > ack, "applied before the reply was sent (raft.h: "
                  "apply comes after the messages of the same call)");
    ck_assert_uint_eq(h_status(h, 1).applied, 3);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * AppendEntries 5: if leaderCommit > commitIndex, set commitIndex =
 * min(leaderCommit, index of last new entry).
 * ------------------------------------------------------------------------ */

START_TEST(test_append_entries_set_commit_to_min_of_leader_commit_and_last_new_entry)
{
    /* five entries of an older leader: only those this leader vouches for
     * (up to prev_index + n_entries) may be committed */
    const raft_term log[] = {1, 1, 1, 1, 1};
    struct harness *h = h_single(3, &opts, 1, 0, log, 5);
    struct raft *r = h_raft(h, 1);
    raft_term ts[] = {1};
    struct raft_entry ents[1];
    char bufs[48];
    h_mk_entries(ents, bufs, 3, ts, 1);
    struct raft_msg m = h_msg_append(2, 1, 1, 2, 1, 5, ents, 1);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, 3);
    ck_assert_uint_eq(h_status(h, 1).applied, 3);
    /* a heartbeat vouches for its prev_index only */
    m = h_msg_append(2, 1, 1, 3, 1, 5, NULL, 0);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, 3);
    m = h_msg_append(2, 1, 1, 4, 1, 5, NULL, 0);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, 4);
    /* the leader's commit, when lower than the last new entry */
    m = h_msg_append(2, 1, 1, 5, 1, 5, NULL, 0);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, 5);
    /* the commit index never goes back (a delayed message) */
    m = h_msg_append(2, 1, 1, 5, 1, 2, NULL, 0);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, 5);
    ck_assert_uint_eq(h_status(h, 1).applied, 5);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * All servers: if commitIndex > lastApplied: increment lastApplied, apply
 * log[lastApplied] to the state machine - in order, exactly once.
 * ------------------------------------------------------------------------ */

START_TEST(test_all_servers_apply_when_commit_gt_last_applied)
{
    const raft_term log[] = {1, 1, 2};
    struct harness *h = h_single(3, &opts, 2, 0, log, 3);
    struct raft *r = h_raft(h, 1);
    struct h_node *nd = h_node(h, 1);
    /* restored nodes start with commit 0: nothing applied yet */
    ck_assert_uint_eq(h_status(h, 1).applied, 0);
    struct raft_msg m = h_msg_append(2, 1, 2, 3, 2, 2, NULL, 0);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert_uint_eq(nd->applied.n, 2);
    ck_assert_uint_eq(h_status(h, 1).applied, 2);
    m = h_msg_append(2, 1, 2, 3, 2, 3, NULL, 0);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert_int_eq(raft_step(r, &m), 0); /* duplicate: no re-apply */
    ck_assert_uint_eq(nd->applied.n, 3);
    for (size_t i = 0; i < 3; i++) {
        char expect[48];
        size_t n = h_payload(expect, i + 1, log[i]);
        ck_assert_uint_eq(nd->applied_idx[i], i + 1);
        ck_assert_uint_eq(nd->applied.e[i].term, log[i]);
        ck_assert_uint_eq(nd->applied.e[i].len, n);
        ck_assert(memcmp(nd->applied.e[i].buf, expect, n) == 0);
    }
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.applied, 3);
    ck_assert_uint_eq(st.commit, 3);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Leaders: upon election, send initial empty AppendEntries (heartbeat) to
 * each server; repeat during idle periods.
 * ------------------------------------------------------------------------ */

START_TEST(test_leader_send_heartbeats_on_election_and_idle)
{
    struct h_opts o = opts;
    o.heartbeat_ticks = 3;
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    struct raft *r = h_raft(h, 1);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_CANDIDATE, 2 * E), 0);
    h_drop_all(h);
    h_reset_calls(h, 1);
    struct raft_msg g = h_msg_vote_resp(2, 1, 1, true, 0, 0);
    ck_assert_int_eq(raft_step(r, &g), 0);
    ck_assert_int_eq(raft_role(r), RAFT_LEADER);
    /* at once, to every other voter, in the new term */
    for (raft_id p = 2; p <= 3; p++) {
        ck_assert_msg(h_count(h, 1, p, RAFT_MSG_APPEND) >= 1,
                      "no AppendEntries to %llu on election",
                      (unsigned long long)p);
        ck_assert_uint_eq(h_find(h, 1, p, RAFT_MSG_APPEND, 0)->term, 1);
    }
    h_deliver_all(h);
    /* idle: nothing until heartbeat_ticks have passed, then every peer */
    h_drop_all(h);
    for (unsigned round = 0; round < 4; round++) {
        ck_assert_int_eq(h_tick(h, 1, 2), 0);
        ck_assert_msg(h_count(h, 1, 0, RAFT_MSG_APPEND) == 0,
                      "heartbeat before heartbeat_ticks");
        ck_assert_int_eq(h_tick(h, 1, 1), 0);
        for (raft_id p = 2; p <= 3; p++) {
            ck_assert_msg(h_count(h, 1, p, RAFT_MSG_APPEND) == 1,
                          "round %u: want one heartbeat to %llu, got %zu",
                          round, (unsigned long long)p,
                          h_count(h, 1, p, RAFT_MSG_APPEND));
        }
        h_deliver_all(h);
        h_drop_all(h);
    }
    ck_assert_int_eq(raft_role(r), RAFT_LEADER);
    h_free(h);
}
END_TEST

/* A new leader appends a no-op of its term (raft.h, Raft 8), persists it,
 * replicates it, and every node applies it as RAFT_ENTRY_NOOP. */
START_TEST(test_leader_appends_noop_at_start_of_term)
{
    const raft_term log[] = {1, 1};
    struct harness *h = h_new(3, &opts);
    for (raft_id id = 1; id <= 3; id++) {
        ck_assert_int_eq(h_restore(h, id, 1, 0, log, 2), 0);
    }
    h_elect(h, 1);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.term, 2);
    ck_assert_uint_eq(st.last_index, 3);
    ck_assert_uint_eq(st.last_term, 2);
    struct raft_entry e;
    ck_assert_int_eq(raft_entry_at(h_raft(h, 1), 3, &e), 0);
    ck_assert_int_eq(e.type, RAFT_ENTRY_NOOP);
    ck_assert_uint_eq(e.term, 2);
    h_assert_disk_matches(h, 1);
    h_heartbeat(h, 1, 2);
    for (raft_id id = 1; id <= 3; id++) {
        struct h_node *nd = h_node(h, id);
        st = h_status(h, id);
        /* committing the no-op commits the old entries too */
        ck_assert_uint_eq(st.commit, 3);
        ck_assert_uint_eq(st.applied, 3);
        ck_assert_uint_eq(nd->applied.n, 3);
        ck_assert_int_eq(nd->applied.e[2].type, RAFT_ENTRY_NOOP);
        ck_assert_uint_eq(nd->applied.e[2].term, 2);
        ck_assert_int_eq(nd->applied.e[0].type, RAFT_ENTRY_COMMAND);
        h_assert_disk_matches(h, id);
    }
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Leaders: if command received from client: append entry to local log,
 * respond after entry applied to state machine.
 * ------------------------------------------------------------------------ */

START_TEST(test_leader_append_command_and_respond_after_applied)
{
    struct harness *h = h_new(3, &opts);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 1);
    h_reset_all_calls(h);
    raft_index idx = 0;
    ck_assert_int_eq(h_propose(h, 1, "hello", &idx), 0);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(idx, st.last_index);
    ck_assert_uint_eq(st.last_term, st.term);
    struct raft_entry e;
    ck_assert_int_eq(raft_entry_at(h_raft(h, 1), idx, &e), 0);
    ck_assert_int_eq(e.type, RAFT_ENTRY_COMMAND);
    ck_assert_uint_eq(e.len, 5);
    ck_assert(memcmp(e.buf, "hello", 5) == 0);
    /* durable on the leader */
    h_assert_disk_matches(h, 1);
    /* not applied (nor committed) without a majority */
    ck_assert_uint_lt(st.commit, idx);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_APPLY), 0);
    /* one follower is enough for 2 of 3 */
    h_drop(h, 1, 3, 0);
    h_deliver_all(h);
    st = h_status(h, 1);
    ck_assert_uint_eq(st.commit, idx);
    ck_assert_uint_eq(st.applied, idx);
    struct h_node *nd = h_node(h, 1);
    ck_assert_uint_eq(nd->applied.n, idx);
    ck_assert_uint_eq(nd->applied_idx[idx - 1], idx);
    ck_assert_uint_eq(nd->applied.e[idx - 1].len, 5);
    ck_assert(memcmp(nd->applied.e[idx - 1].buf, "hello", 5) == 0);
    /* followers apply it too, once they learn the commit index */
    h_heartbeat(h, 1, 3);
    for (raft_id id = 2; id <= 3; id++) {
        ck_assert_uint_eq(h_status(h, id).applied, idx);
        h_assert_logs_equal(h, 1, id);
    }
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Leaders: if last log index >= nextIndex for a follower: send AppendEntries
 * with log entries starting at nextIndex. On success: update nextIndex and
 * matchIndex for the follower.
 * ------------------------------------------------------------------------ */

/* Nodes 1..n restored with the same log [1]; node 1 made leader of term 2
 * by script (its no-op at index 2), its first AppendEntries kept. */
static struct harness *leader_with_followers(size_t n)
{
    const raft_term log[] = {1};
    struct harness *h = h_new(n, &opts);
    for (raft_id id = 1; id <= n; id++) {
        ck_assert_int_eq(h_restore(h, id, 1, 0, log, 1), 0);
    }
    h_make_leader_keep_appends(h, 1);
    ck_assert_uint_eq(h_status(h, 1).last_index, 2);
    return h;
}

#define BIT(id) (1u << (id))

START_TEST(test_leader_on_success_update_next_and_match)
{
    struct harness *h = leader_with_followers(3);
    struct raft *r = h_raft(h, 1);
    h_partition(h, BIT(3)); /* only node 2 answers */
    h_deliver_all(h);
    struct raft_progress p = h_progress(h, 1, 2);
    ck_assert_uint_eq(p.match, 2);
    ck_assert_uint_eq(p.next, 3);
    ck_assert_int_eq(p.state, RAFT_PROGRESS_REPLICATE);
    ck_assert(!p.self);
    ck_assert_uint_eq(h_progress(h, 1, 3).match, 0);
    struct raft_progress me = h_progress(h, 1, 1);
    ck_assert(me.self);
    ck_assert_uint_eq(me.match, 2);
    ck_assert_int_eq(me.state, RAFT_PROGRESS_REPLICATE);
    /* a duplicate or older success never moves match backwards */
    struct raft_msg old = h_msg_append_resp(2, 1, 2, true, 1, 0, 0);
    ck_assert_int_eq(raft_step(r, &old), 0);
    ck_assert_uint_eq(h_progress(h, 1, 2).match, 2);
    /* more entries: match and next follow */
    ck_assert_int_eq(h_propose(h, 1, "a", NULL), 0);
    ck_assert_int_eq(h_propose(h, 1, "b", NULL), 0);
    h_deliver_all(h);
    p = h_progress(h, 1, 2);
    ck_assert_uint_eq(p.match, 4);
    ck_assert_uint_eq(p.next, 5);
    ck_assert_uint_eq(p.inflight, 0);
    h_free(h);
}
END_TEST

/* A probe ends with news only: a late success at the match already known
 * (a duplicate of an old acknowledgement) leaves a follower being probed
 * above its match in PROBE, and sends nothing (pipelining from match would
 * resend what the outstanding probe carries). */
START_TEST(test_leader_probe_not_ended_by_late_ack_at_match)
{
    struct harness *h = leader_with_followers(3);
    struct raft *r = h_raft(h, 1);
    h_partition(h, BIT(3));
    h_deliver_all(h);
    ck_assert_uint_eq(h_progress(h, 1, 2).match, 2);
    /* node 2 takes 3 and 4, its acknowledgements are lost */
    ck_assert_int_eq(h_propose(h, 1, "a", NULL), 0);
    ck_assert_int_eq(h_propose(h, 1, "b", NULL), 0);
    while (h_count(h, 1, 2, RAFT_MSG_APPEND) > 0) {
        ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_APPEND), 0);
    }
    h_drop_all(h);
    ck_assert_uint_eq(h_status(h, 2).last_index, 4);
    /* 5 is lost; node 2 refuses 6, hinting at its last entry, 4 */
    ck_assert_int_eq(h_propose(h, 1, "c", NULL), 0);
    h_drop_all(h);
    ck_assert_int_eq(h_propose(h, 1, "d", NULL), 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 2, RAFT_MSG_APPEND), 0);
    const struct raft_msg *rej = h_find(h, 2, 1, RAFT_MSG_APPEND_RESP, 0);
    ck_assert_ptr_nonnull(rej);
    ck_assert(!rej->u.append_resp.success);
    ck_assert_int_eq(h_deliver_one(h, 2, 1, RAFT_MSG_APPEND_RESP), 0);
    struct raft_progress p = h_progress(h, 1, 2);
    ck_assert_int_eq(p.state, RAFT_PROGRESS_PROBE);
    ck_assert_uint_eq(p.match, 2);
    ck_assert_uint_eq(p.next, 5);
    h_drop_all(h);
    /* the network delivers a copy of node 2's first acknowledgement */
    struct raft_msg late = h_msg_append_resp(2, 1, 2, true, 2, 0, 0);
    ck_assert_int_eq(raft_step(r, &late), 0);
    p = h_progress(h, 1, 2);
    ck_assert_int_eq(p.state, RAFT_PROGRESS_PROBE);
    ck_assert_uint_eq(p.match, 2);
    ck_assert_uint_eq(p.next, 5);
    ck_assert_uint_eq(h_count(h, 1, 2, RAFT_MSG_APPEND), 0);
    h_free(h);
}
END_TEST

START_TEST(test_leader_send_entries_from_next_index_when_last_log_ge_next_index)
{
    struct harness *h = leader_with_followers(3);
    h_partition(h, BIT(3));
    h_deliver_all(h);
    struct raft_progress p = h_progress(h, 1, 2);
    h_drop(h, 1, 2, 0);
    raft_index idx;
    ck_assert_int_eq(h_propose(h, 1, "x", &idx), 0);
    ck_assert_uint_eq(idx, 3);
    ck_assert_uint_ge(idx, p.next); /* last log index >= nextIndex */
    const struct raft_msg *a = only(h, 1, 2, RAFT_MSG_APPEND);
    ck_assert_uint_eq(a->u.append.prev_index, p.next - 1);
    ck_assert_uint_eq(a->u.append.prev_term, term_at(h, 1, p.next - 1));
    ck_assert_uint_ge(a->u.append.n_entries, 1);
    ck_assert_uint_eq(a->u.append.entries[0].term, 2);
    ck_assert_uint_eq(a->u.append.entries[0].len, 1);
    ck_assert(memcmp(a->u.append.entries[0].buf, "x", 1) == 0);
    ck_assert_uint_eq(a->u.append.commit, h_status(h, 1).commit);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * A proposal's AppendEntries (built from the proposal itself, not sliced
 * from the log again) carry what a slice of the log would: the new entry
 * alone for followers in step, with its predecessor and the leader's
 * current commit; the next proposal, a call later, carries its own.
 * ------------------------------------------------------------------------ */

START_TEST(test_proposal_appends_carry_the_new_entry_and_current_commit)
{
    struct harness *h = leader_with_followers(3);
    h_deliver_all(h); /* the no-op commits; followers in step */
    const char *payloads[] = {"x", "yz", ""};
    for (size_t k = 0; k < 3; k++) {
        raft_index idx;
        h_drop_all(h);
        raft_index commit = h_status(h, 1).commit;
        ck_assert_int_eq(h_propose(h, 1, payloads[k], &idx), 0);
        ck_assert_uint_eq(idx, 3 + k);
        for (raft_id to = 2; to <= 3; to++) {
            const struct raft_msg *a = only(h, 1, to, RAFT_MSG_APPEND);
            ck_assert_uint_eq(a->u.append.prev_index, idx - 1);
            ck_assert_uint_eq(a->u.append.prev_term, term_at(h, 1, idx - 1));
            ck_assert_uint_eq(a->u.append.commit, commit);
            ck_assert_uint_eq(a->u.append.n_entries, 1);
            ck_assert_uint_eq(a->u.append.entries[0].term, h_status(h, 1).term);
            ck_assert_int_eq(a->u.append.entries[0].type, RAFT_ENTRY_COMMAND);
            ck_assert_uint_eq(a->u.append.entries[0].len, strlen(payloads[k]));
            ck_assert(strlen(payloads[k]) == 0 ||
                      memcmp(a->u.append.entries[0].buf, payloads[k],
                             strlen(payloads[k])) == 0);
        }
        h_deliver_all(h);
        ck_assert_uint_eq(h_status(h, 1).commit, idx);
    }
    h_free(h);
}
END_TEST

/* The proposal's slice on edge paths. Every AppendEntries in flight from
 * `from` must match `from`'s log: term, predecessor, entries, and a commit
 * no higher than its own. */
static void check_appends_match_log(struct harness *h, raft_id from)
{
    struct raft *r = h_raft(h, from);
    struct raft_status st = h_status(h, from);
    for (size_t k = 0;; k++) {
        const struct raft_msg *a = h_find(h, from, 0, RAFT_MSG_APPEND, k);
        if (a == NULL) {
            break;
        }
        ck_assert_uint_eq(a->term, st.term);
        ck_assert_uint_le(a->u.append.commit, st.commit);
        if (a->u.append.prev_index > 0) {
            ck_assert_uint_eq(a->u.append.prev_term,
                              term_at(h, from, a->u.append.prev_index));
        }
        for (size_t j = 0; j < a->u.append.n_entries; j++) {
            struct raft_entry e;
            const struct raft_entry *m = &a->u.append.entries[j];
            ck_assert_int_eq(raft_entry_at(r, a->u.append.prev_index + 1 + j, &e), 0);
            ck_assert_uint_eq(m->term, e.term);
            ck_assert_int_eq(m->type, e.type);
            ck_assert_uint_eq(m->len, e.len);
            if (e.len > 0) {
                ck_assert(memcmp(m->buf, e.buf, e.len) == 0);
            }
        }
    }
}

/* A lone voter with a learner: the proposal commits in its own call, and
 * the learner's AppendEntries carries that commit. */
START_TEST(test_lone_voter_learner_append_carries_commit_of_same_call)
{
    struct h_opts o = opts;
    o.n_boot = 1;
    struct harness *h = h_new(2, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_deliver_all(h);
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 2, NULL), 0);
    for (int i = 0; i < 5; i++) {
        h_heartbeat(h, 1, 1);
    }
    ck_assert_uint_eq(h_status(h, 2).commit, h_status(h, 1).commit);
    for (int k = 0; k < 3; k++) {
        raft_index idx;
        h_drop_all(h);
        ck_assert_int_eq(h_propose(h, 1, "abc", &idx), 0);
        ck_assert_uint_eq(h_status(h, 1).commit, idx);
        const struct raft_msg *a = only(h, 1, 2, RAFT_MSG_APPEND);
        ck_assert_uint_eq(a->u.append.prev_index, idx - 1);
        ck_assert_uint_eq(a->u.append.n_entries, 1);
        ck_assert_uint_eq(a->u.append.commit, idx);
        check_appends_match_log(h, 1);
        h_deliver_all(h);
        ck_assert_uint_eq(h_status(h, 2).last_index, idx);
    }
    h_free(h);
}
END_TEST

/* One follower's send fails: at the next proposal it needs two entries
 * (a slice of the log) while the other needs only the new one (the primed
 * slice), whichever comes first in the round. */
START_TEST(test_proposal_after_failed_send_slices_per_follower)
{
    for (raft_id bad = 2; bad <= 3; bad++) {
        struct harness *h = leader_with_followers(3);
        h_deliver_all(h);
        raft_id good = bad == 2 ? 3 : 2;
        for (int k = 0; k < 4; k++) {
            raft_index idx;
            h_drop_all(h);
            h_node(h, 1)->fail_send_to[bad] = 1;
            ck_assert_int_eq(h_propose(h, 1, "first", &idx), 0);
            ck_assert_uint_eq(h_count(h, 1, bad, RAFT_MSG_APPEND), 0);
            check_appends_match_log(h, 1);
            h_drop_all(h);
            ck_assert_int_eq(h_propose(h, 1, "second!", &idx), 0);
            const struct raft_msg *a = only(h, 1, good, RAFT_MSG_APPEND);
            ck_assert_uint_eq(a->u.append.prev_index, idx - 1);
            ck_assert_uint_eq(a->u.append.n_entries, 1);
            const struct raft_msg *b = only(h, 1, bad, RAFT_MSG_APPEND);
            ck_assert_uint_eq(b->u.append.prev_index, idx - 2);
            ck_assert_uint_eq(b->u.append.n_entries, 2);
            check_appends_match_log(h, 1);
            h_deliver_all(h);
            h_heartbeat(h, 1, 1);
            ck_assert_uint_eq(h_status(h, 1).commit, idx);
            h_assert_logs_equal(h, 1, bad);
        }
        h_free(h);
    }
}
END_TEST

/* A follower in step whose AppendEntries could not be sent lacks only the
 * newest entry: the next heartbeat interval sends it that entry at once,
 * besides the heartbeat, rather than wait for the heartbeat's reply. */
START_TEST(test_heartbeat_resends_entry_after_failed_send)
{
    struct harness *h = leader_with_followers(3);
    h_deliver_all(h);
    ck_assert_int_eq(h_progress(h, 1, 2).state, RAFT_PROGRESS_REPLICATE);
    raft_index idx;
    h_drop_all(h);
    h_node(h, 1)->fail_send_to[2] = 1;
    ck_assert_int_eq(h_propose(h, 1, "x", &idx), 0);
    ck_assert_uint_eq(h_count(h, 1, 2, RAFT_MSG_APPEND), 0);
    ck_assert_uint_eq(h_progress(h, 1, 2).next, idx);
    h_drop_all(h);
    ck_assert_int_eq(h_tick(h, 1, 1), 0);
    size_t with_entries = 0;
    for (size_t k = 0; k < h_count(h, 1, 2, RAFT_MSG_APPEND); k++) {
        const struct raft_msg *a = h_find(h, 1, 2, RAFT_MSG_APPEND, k);
        if (a->u.append.n_entries > 0) {
            ck_assert_uint_eq(a->u.append.prev_index, idx - 1);
            ck_assert_uint_eq(a->u.append.n_entries, 1);
            with_entries++;
        }
    }
    ck_assert_uint_eq(with_entries, 1);
    check_appends_match_log(h, 1);
    h_deliver_all(h);
    ck_assert_uint_eq(h_status(h, 2).last_index, idx);
    h_free(h);
}
END_TEST

/* A probe is refused with a hint below what the follower acknowledged:
 * the leader never probes below its match index, which the follower
 * stored, but resumes one past it. */
START_TEST(test_probe_hint_below_match_resumes_past_match)
{
    struct harness *h = leader_with_followers(3);
    h_deliver_all(h);
    ck_assert_uint_eq(h_progress(h, 1, 2).match, 2);
    raft_index idx = 0;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(h_propose(h, 1, "x", &idx), 0);
    }
    ck_assert_uint_eq(idx, 5);
    h_drop_all(h);
    /* the tail was lost: probe from where the hint says the log ends */
    struct raft_msg m = h_msg_append_resp(2, 1, 2, false, 5, 4, 2);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    struct raft_progress p = h_progress(h, 1, 2);
    ck_assert_int_eq(p.state, RAFT_PROGRESS_PROBE);
    ck_assert_uint_eq(p.next, 5);
    ck_assert_uint_eq(only(h, 1, 2, RAFT_MSG_APPEND)->u.append.prev_index, 4);
    h_drop_all(h);
    /* refused again, the hint now below match */
    m = h_msg_append_resp(2, 1, 2, false, 4, 1, 1);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    p = h_progress(h, 1, 2);
    ck_assert_uint_eq(p.match, 2);
    ck_assert_uint_eq(p.next, 3);
    const struct raft_msg *a = only(h, 1, 2, RAFT_MSG_APPEND);
    ck_assert_uint_eq(a->u.append.prev_index, 2);
    ck_assert_uint_eq(a->u.append.n_entries, 3);
    h_free(h);
}
END_TEST

/* The first payload bytes of a log: an empty proposal after an empty
 * no-op (no chunk yet). */
START_TEST(test_empty_proposal_before_any_payload)
{
    struct harness *h = h_new(3, &opts);
    for (raft_id id = 1; id <= 3; id++) {
        ck_assert_int_eq(h_restore(h, id, 0, 0, NULL, 0), 0);
    }
    h_make_leader_keep_appends(h, 1);
    h_deliver_all(h);
    raft_index idx;
    h_drop_all(h);
    ck_assert_int_eq(raft_propose(h_raft(h, 1), NULL, 0, &idx), 0);
    check_appends_match_log(h, 1);
    h_deliver_all(h);
    ck_assert_int_eq(h_propose(h, 1, "after", &idx), 0);
    check_appends_match_log(h, 1);
    h_deliver_all(h);
    h_heartbeat(h, 1, 2);
    h_assert_logs_equal(h, 1, 2);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Leaders: if AppendEntries fails because of log inconsistency: decrement
 * nextIndex and retry (here: straight to the follower's hint).
 * ------------------------------------------------------------------------ */

START_TEST(test_leader_on_inconsistency_decrement_next_and_retry)
{
    const raft_term log[] = {1, 1, 1};
    struct harness *h = h_single(3, &opts, 1, 0, log, 3);
    h_make_leader_keep_appends(h, 1); /* term 2, no-op at 4 */
    struct raft *r = h_raft(h, 1);
    const struct raft_msg *a = only(h, 1, 2, RAFT_MSG_APPEND);
    raft_index prev = a->u.append.prev_index;
    ck_assert_uint_ge(prev, 3);
    h_drop_all(h);
    /* follower 2 has [1,1]: its hint is (2, 1) */
    struct raft_msg rej = h_msg_append_resp(2, 1, 2, false, prev, 2, 1);
    ck_assert_int_eq(raft_step(r, &rej), 0);
    const struct raft_msg *retry = only(h, 1, 2, RAFT_MSG_APPEND);
    ck_assert_uint_eq(retry->u.append.prev_index, 2);
    ck_assert_uint_eq(retry->u.append.prev_term, 1);
    ck_assert_uint_ge(retry->u.append.n_entries, 1);
    ck_assert_uint_eq(retry->u.append.entries[0].term, 1); /* entry 3 */
    ck_assert_uint_le(h_progress(h, 1, 2).next, 3);
    /* a duplicate of the same rejection is stale: it must not move the
     * leader further back than the follower's hint */
    h_drop_all(h);
    ck_assert_int_eq(raft_step(r, &rej), 0);
    for (size_t k = 0; k < h_count(h, 1, 2, RAFT_MSG_APPEND); k++) {
        ck_assert_uint_ge(
            h_find(h, 1, 2, RAFT_MSG_APPEND, k)->u.append.prev_index, 2);
    }
    /* the follower rejects the retry too (it turns out only index 1
     * matches): the leader backs up again */
    h_drop_all(h);
    struct raft_msg rej2 = h_msg_append_resp(2, 1, 2, false, 2, 1, 1);
    ck_assert_int_eq(raft_step(r, &rej2), 0);
    const struct raft_msg *r2 = only(h, 1, 2, RAFT_MSG_APPEND);
    ck_assert_uint_eq(r2->u.append.prev_index, 1);
    ck_assert_uint_eq(r2->u.append.prev_term, 1);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Leaders: if there exists an N such that N > commitIndex, a majority of
 * matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex = N.
 * ------------------------------------------------------------------------ */

START_TEST(test_leader_commit_n_when_majority_match_and_term_is_current)
{
    struct harness *h = leader_with_followers(5); /* no-op at 2, term 2 */
    h_partition(h, BIT(3) | BIT(4) | BIT(5));
    h_deliver_all(h);
    ck_assert_uint_eq(h_progress(h, 1, 2).match, 2);
    ck_assert_uint_eq(h_status(h, 1).commit, 0); /* 2 of 5 */
    h_partition(h, BIT(4) | BIT(5));
    h_deliver_all(h);
    ck_assert_uint_eq(h_status(h, 1).commit, 2); /* 3 of 5 */
    raft_index idx;
    ck_assert_int_eq(h_propose(h, 1, "a", &idx), 0);
    ck_assert_uint_eq(idx, 3);
    h_partition(h, BIT(3) | BIT(4) | BIT(5));
    h_deliver_all(h);
    ck_assert_uint_eq(h_progress(h, 1, 2).match, 3);
    ck_assert_uint_eq(h_status(h, 1).commit, 2); /* 2 of 5 have 3 */
    h_partition(h, BIT(4) | BIT(5));
    h_deliver_all(h);
    ck_assert_uint_eq(h_status(h, 1).commit, 3);
    ck_assert_uint_eq(h_status(h, 1).applied, 3);
    h_free(h);
}
END_TEST

/* Raft 5.3: an acknowledgement that raises a follower's match commits the
 * highest index a majority holds, even when no majority holds the index
 * acknowledged. Five voters, the first entry of the term (2) not yet
 * committed: node 2 holds 2; node 3 gets 2..3 in one AppendEntries (the
 * probe of 2 alone was lost) and acknowledges 3. The leader, 2 and 3
 * hold 2 then: it commits at that answer. */
START_TEST(test_leader_commit_below_the_index_acknowledged)
{
    struct harness *h = leader_with_followers(5); /* no-op at 2, term 2 */
    h_partition(h, BIT(3) | BIT(4) | BIT(5));
    h_deliver_all(h);
    ck_assert_uint_eq(h_progress(h, 1, 2).match, 2);
    ck_assert_uint_eq(h_status(h, 1).commit, 0); /* 2 of 5 */
    raft_index idx;
    ck_assert_int_eq(h_propose(h, 1, "a", &idx), 0);
    ck_assert_uint_eq(idx, 3);
    h_drop(h, 1, 0, 0);
    h_partition(h, 0);
    struct raft_entry e[2];
    char bufs[2][64];
    for (raft_index i = 2; i <= 3; i++) {
        ck_assert_int_eq(raft_entry_at(h_raft(h, 1), i, &e[i - 2]), 0);
        ck_assert_uint_le(e[i - 2].len, sizeof(bufs[0]));
        memcpy(bufs[i - 2], e[i - 2].buf, e[i - 2].len);
        e[i - 2].buf = bufs[i - 2];
    }
    struct raft_msg m = h_msg_append(1, 3, 2, 1, 1, 0, e, 2);
    ck_assert_int_eq(raft_step(h_raft(h, 3), &m), 0);
    ck_assert_uint_eq(h_count(h, 3, 1, RAFT_MSG_APPEND_RESP), 1);
    ck_assert_uint_eq(h_find(h, 3, 1, RAFT_MSG_APPEND_RESP, 0)->u.append_resp.index, 3);
    ck_assert_int_eq(h_deliver_one(h, 3, 1, RAFT_MSG_APPEND_RESP), 0);
    ck_assert_uint_eq(h_progress(h, 1, 3).match, 3);
    ck_assert_uint_eq(h_progress(h, 1, 2).match, 2);
    ck_assert_uint_eq(h_status(h, 1).commit, 2); /* 3 of 5 hold 2 */
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Figure 7: a leader of term 8 and followers (a)-(f). Whatever their logs,
 * the leader brings each follower's log to its own.
 * ------------------------------------------------------------------------ */

static const raft_term fig7_leader[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
static const struct {
    const char *name;
    raft_term log[12];
    size_t n;
} fig7[] = {
    {"(a)", {1, 1, 1, 4, 4, 5, 5, 6, 6}, 9},
    {"(b)", {1, 1, 1, 4}, 4},
    {"(c)", {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6}, 11},
    {"(d)", {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7}, 12},
    {"(e)", {1, 1, 1, 4, 4, 4, 4}, 7},
    {"(f)", {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3}, 11},
};

START_TEST(test_figure7_leader_repairs_followers_a_to_f)
{
    struct harness *h = h_new(7, &opts);
    ck_assert_int_eq(h_restore(h, 1, 7, 0, fig7_leader, 10), 0);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_int_eq(h_restore(h, (raft_id)(i + 2), 7, 0, fig7[i].log,
                                   fig7[i].n),
                         0);
    }
    /* (a), (b), (e), (f) vote for the leader; (c) and (d) refuse */
    h_elect(h, 1);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 1)), 8);
    h_heartbeat(h, 1, 3);
    const raft_term want[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 8};
    h_assert_log_terms(h, 1, want, 11);
    for (size_t i = 0; i < 6; i++) {
        raft_id id = (raft_id)(i + 2);
        raft_term got[32];
        size_t n = h_log_terms(h, id, got, 32);
        bool eq = n == 11 && memcmp(got, want, sizeof(want)) == 0;
        ck_assert_msg(eq, "follower %s (node %llu) not repaired: %zu entries",
                      fig7[i].name, (unsigned long long)id, n);
        h_assert_logs_equal(h, 1, id);
        h_assert_disk_matches(h, id);
        struct raft_status st = h_status(h, id);
        ck_assert_msg(st.commit == 11 && st.applied == 11,
                      "follower %s: commit %llu applied %llu", fig7[i].name,
                      (unsigned long long)st.commit,
                      (unsigned long long)st.applied);
        ck_assert_uint_eq(st.term, 8);
        ck_assert_uint_eq(st.leader, 1);
    }
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Figure 8. S1..S5. In (c), S1 is leader of term 4 and has replicated its
 * entry (2, term 2) to a majority: it must NOT count it as committed, since
 * S5 (with (2, term 3)) could still be elected and overwrite it, as in (d).
 * Only once an entry of term 4 is committed is (2, term 2) committed (e).
 * max_msg_entries = 1 lets the test hold back exactly the messages that
 * carry index 3.
 * ------------------------------------------------------------------------ */

/* Hold every AppendEntries that would put index 3 on a follower (one that
 * already has (2, term 2)); a follower lacking index 2 may get it, it only
 * rejects it, which is how the leader finds where to start. */
static raft_id fig8_released; /* a node whose index-3 messages pass */

static bool fig8_hold_index3(const struct raft_msg *m, void *arg)
{
    struct harness *h = arg;
    if (m->from == 5 || m->to == 5) {
        return true; /* S5 is down in (c) */
    }
    if (m->to == fig8_released) {
        return false;
    }
    if (m->type != RAFT_MSG_APPEND || m->u.append.n_entries == 0 ||
        m->u.append.prev_index + m->u.append.n_entries < 3) {
        return false;
    }
    struct raft_entry e;
    return raft_entry_at(h_raft(h, m->to), 2, &e) == 0 && e.term == 2;
}

static bool fig8_hold_s1(const struct raft_msg *m, void *arg)
{
    (void)arg;
    return m->from == 1 || m->to == 1;
}

/* Build figure 8 (c): returns the harness with S1 leader of term 4, log
 * [1,2,4], and (2, term 2) on S2, S3, S4 too. */
static struct harness *fig8_c(void)
{
    struct h_opts o = opts;
    o.max_msg_entries = 1;
    struct harness *h = h_new(5, &o);
    const raft_term s1[] = {1, 2}, s234[] = {1}, s5[] = {1, 3};
    ck_assert_int_eq(h_restore(h, 1, 3, 0, s1, 2), 0);
    for (raft_id id = 2; id <= 4; id++) {
        ck_assert_int_eq(h_restore(h, id, 3, 5, s234, 1), 0);
    }
    ck_assert_int_eq(h_restore(h, 5, 3, 5, s5, 2), 0);
    h->hold = fig8_hold_index3;
    h->hold_arg = h;
    fig8_released = 0;
    h_elect(h, 1);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 1)), 4);
    h_heartbeat(h, 1, 3);
    const raft_term want1[] = {1, 2, 4}, want234[] = {1, 2};
    h_assert_log_terms(h, 1, want1, 3);
    for (raft_id id = 2; id <= 4; id++) {
        h_assert_log_terms(h, id, want234, 2);
    }
    return h;
}

START_TEST(test_figure8_old_term_entry_not_committed_by_counting_replicas)
{
    struct harness *h = fig8_c();
    /* 4 of 5 hold (2, term 2) and the leader knows it ... */
    for (raft_id id = 2; id <= 4; id++) {
        ck_assert_uint_eq(h_progress(h, 1, id).match, 2);
    }
    /* ... yet nothing is committed: log[2].term != currentTerm */
    for (raft_id id = 1; id <= 5; id++) {
        ck_assert_msg(h_status(h, id).commit == 0,
                      "node %llu committed %llu in figure 8 (c)",
                      (unsigned long long)id,
                      (unsigned long long)h_status(h, id).commit);
        ck_assert_uint_eq(h_node(h, id)->applied.n, 0);
    }
    /* S2 gets (3, term 4): now S1 and S2 hold 3, S1..S4 hold 2 - a
     * majority for index 2 still doesn't commit it, and index 3 has no
     * majority yet */
    fig8_released = 2;
    h_deliver_all(h);
    ck_assert_uint_eq(h_progress(h, 1, 2).match, 3);
    ck_assert_msg(h_status(h, 1).commit == 0,
                  "leader committed %llu with (3, term 4) on 2 of 5",
                  (unsigned long long)h_status(h, 1).commit);
    /* (e): once (3, term 4) reaches a majority, both are committed */
    h->hold = NULL;
    h_deliver_all(h);
    h_heartbeat(h, 1, 2);
    ck_assert_uint_eq(h_status(h, 1).commit, 3);
    for (raft_id id = 1; id <= 5; id++) {
        ck_assert_uint_eq(h_status(h, id).commit, 3);
        ck_assert_uint_eq(h_node(h, id)->applied.e[1].term, 2);
    }
    h_free(h);
}
END_TEST

START_TEST(test_figure8_uncommitted_old_term_entry_may_be_overwritten)
{
    struct harness *h = fig8_c();
    /* (d): S1 crashes (its messages are lost), S5 comes back and wins with
     * votes from S2, S3, S4, whose last term (2) is older than its (3) */
    h_drop_all(h);
    h->hold = fig8_hold_s1;
    struct raft *s5 = h_raft(h, 5);
    for (unsigned attempt = 0; attempt < 5 && raft_role(s5) != RAFT_LEADER;
         attempt++) {
        raft_term t = raft_current_term(s5);
        for (unsigned i = 0; i < 3 * E && raft_current_term(s5) == t; i++) {
            raft_tick(s5);
        }
        h_deliver_all(h);
    }
    ck_assert_int_eq(raft_role(s5), RAFT_LEADER);
    h_heartbeat(h, 5, 3);
    raft_term t5 = raft_current_term(s5);
    const raft_term want[] = {1, 3, t5};
    for (raft_id id = 2; id <= 5; id++) {
        h_assert_log_terms(h, id, want, 3);
    }
    /* S1 comes back and is brought in line too */
    h->hold = NULL;
    h_heartbeat(h, 5, 3);
    h_assert_log_terms(h, 1, want, 3);
    /* nobody ever applied (2, term 2): it was never committed */
    for (raft_id id = 1; id <= 5; id++) {
        struct h_node *nd = h_node(h, id);
        for (size_t i = 0; i < nd->applied.n; i++) {
            ck_assert_msg(!(nd->applied_idx[i] == 2 &&
                            nd->applied.e[i].term == 2),
                          "node %llu applied (2, term 2)",
                          (unsigned long long)id);
        }
        ck_assert_uint_eq(h_status(h, id).applied, 3);
    }
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Fast backtracking: a follower whose long log conflicts over several terms
 * is repaired with about one rejection per conflicting term, not one per
 * entry.
 *   leader:   1 | 2 x5 | 4 x5 | 6 x5 | 8 x5     (21 entries)
 *   follower: 1 | 3 x5 | 5 x5 | 7 x5 | 7 x20    (36 entries)
 * Decrementing one by one would need ~20 rejections; with hints it's 4.
 * ------------------------------------------------------------------------ */

START_TEST(test_fast_backtracking_one_round_trip_per_conflicting_term)
{
    raft_term lead[21], fol[36];
    lead[0] = fol[0] = 1;
    for (size_t i = 1; i < 21; i++) {
        lead[i] = 2 * (1 + (i - 1) / 5);
    }
    for (size_t i = 1; i < 36; i++) {
        fol[i] = i <= 15 ? 2 * (1 + (i - 1) / 5) + 1 : 7;
    }
    struct harness *h = h_new(3, &opts);
    ck_assert_int_eq(h_restore(h, 1, 8, 0, lead, 21), 0);
    ck_assert_int_eq(h_restore(h, 3, 8, 0, lead, 21), 0);
    ck_assert_int_eq(h_restore(h, 2, 8, 0, fol, 36), 0);
    h_elect(h, 1);
    h_heartbeat(h, 1, 3);
    h_assert_logs_equal(h, 1, 2);
    size_t rejections = 0;
    const struct h_node *f = h_node(h, 2);
    for (size_t i = 0; i < f->n_calls; i++) {
        rejections += f->calls[i].kind == H_CB_SEND &&
                      f->calls[i].msg_type == RAFT_MSG_APPEND_RESP &&
                      !f->calls[i].ok;
    }
    ck_assert_msg(rejections >= 1 && rejections <= 5,
                  "%zu rejections to repair 4 conflicting terms", rejections);
    h_free(h);
}
END_TEST

/* A follower that is simply behind (a long prefix missing) is caught up in
 * one rejection, and then in batches of max_msg_entries. */
START_TEST(test_fast_backtracking_lagging_follower)
{
    raft_term lead[200];
    for (size_t i = 0; i < 200; i++) {
        lead[i] = 1;
    }
    struct h_opts o = opts;
    o.max_msg_entries = 50;
    struct harness *h = h_new(3, &o);
    ck_assert_int_eq(h_restore(h, 1, 1, 0, lead, 200), 0);
    ck_assert_int_eq(h_restore(h, 3, 1, 0, lead, 200), 0);
    ck_assert_int_eq(h_restore(h, 2, 1, 0, lead, 3), 0);
    h_elect(h, 1);
    h_heartbeat(h, 1, 5);
    h_assert_logs_equal(h, 1, 2);
    size_t rejections = 0, appends = 0;
    const struct h_node *l = h_node(h, 1), *f = h_node(h, 2);
    for (size_t i = 0; i < f->n_calls; i++) {
        rejections += f->calls[i].kind == H_CB_SEND &&
                      f->calls[i].msg_type == RAFT_MSG_APPEND_RESP &&
                      !f->calls[i].ok;
    }
    for (size_t i = 0; i < l->n_calls; i++) {
        appends += l->calls[i].kind == H_CB_SEND && l->calls[i].to == 2 &&
                   l->calls[i].msg_type == RAFT_MSG_APPEND &&
                   l->calls[i].n > 0;
        if (l->calls[i].kind == H_CB_SEND &&
            l->calls[i].msg_type == RAFT_MSG_APPEND) {
            ck_assert_uint_le(l->calls[i].n, 50);
        }
    }
    ck_assert_msg(rejections <= 2, "%zu rejections for a lagging follower",
                  rejections);
    /* 198 entries in batches of 50: 4, plus a few probes/retries */
    ck_assert_msg(appends >= 4 && appends <= 8, "%zu appends", appends);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Pipelining: a follower in replicate state gets several AppendEntries
 * without waiting for acks, at most max_inflight, each batch bounded by
 * max_msg_entries and max_msg_bytes.
 * ------------------------------------------------------------------------ */

static void assert_appends_bounded(struct harness *h, raft_id to,
                                   uint32_t max_entries, uint32_t max_bytes)
{
    for (size_t k = 0; k < h_count(h, 1, to, RAFT_MSG_APPEND); k++) {
        const struct raft_msg *a = h_find(h, 1, to, RAFT_MSG_APPEND, k);
        size_t bytes = 0;
        for (size_t i = 0; i < a->u.append.n_entries; i++) {
            bytes += a->u.append.entries[i].len;
        }
        ck_assert_msg(a->u.append.n_entries <= max_entries,
                      "append with %zu entries > %u", a->u.append.n_entries,
                      max_entries);
        ck_assert_msg(bytes <= max_bytes, "append with %zu bytes > %u", bytes,
                      max_bytes);
    }
}

static size_t count_appends_with_entries(struct harness *h, raft_id to)
{
    size_t n = 0;
    for (size_t k = 0; k < h_count(h, 1, to, RAFT_MSG_APPEND); k++) {
        n += h_find(h, 1, to, RAFT_MSG_APPEND, k)->u.append.n_entries > 0;
    }
    return n;
}

START_TEST(test_pipelining_bounded_by_max_inflight_and_max_msg_entries)
{
    struct h_opts o = opts;
    o.max_inflight = 3;
    o.max_msg_entries = 2;
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 1);
    ck_assert_int_eq(h_progress(h, 1, 2).state, RAFT_PROGRESS_REPLICATE);
    h_drop_all(h);
    /* one at a time, no acks */
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(h_propose(h, 1, "p", NULL), 0);
    }
    size_t n = count_appends_with_entries(h, 2);
    ck_assert_msg(n >= 2, "no pipelining: %zu appends in flight", n);
    ck_assert_msg(n <= 3, "%zu appends in flight > max_inflight 3", n);
    ck_assert_uint_le(h_progress(h, 1, 2).inflight, 3);
    assert_appends_bounded(h, 2, 2, UINT32_MAX);
    /* once acked, everything gets through */
    h_deliver_all(h);
    h_heartbeat(h, 1, 10);
    h_assert_logs_equal(h, 1, 2);
    h_assert_logs_equal(h, 1, 3);
    raft_index last = h_status(h, 1).last_index;
    ck_assert_uint_eq(h_status(h, 1).commit, last);
    /* a batch: one persist per max_msg_entries (2) commands, each at the
     * right index, and still bounded per message and in flight */
    h_reset_all_calls(h);
    h_drop_all(h);
    struct raft_buf bufs[10];
    for (size_t i = 0; i < 10; i++) {
        bufs[i].base = "batch";
        bufs[i].len = 5;
    }
    raft_index first;
    ck_assert_int_eq(raft_propose_batch(h_raft(h, 1), bufs, 10, &first), 0);
    ck_assert_uint_eq(first, last + 1);
    ck_assert_uint_eq(h_status(h, 1).last_index, last + 10);
    ck_assert_msg(h_ncalls(h, 1, H_CB_PERSIST_ENTRIES) == 5,
                  "raft_propose_batch of 10 with max_msg_entries 2: %zu "
                  "persist_entries calls, raft.h promises one per 2",
                  h_ncalls(h, 1, H_CB_PERSIST_ENTRIES));
    for (size_t i = 0; i < 5; i++) {
        ck_assert_uint_eq(h_call(h, 1, H_CB_PERSIST_ENTRIES, i)->n, 2);
        ck_assert_uint_eq(h_call(h, 1, H_CB_PERSIST_ENTRIES, i)->index,
                          first + 2 * i);
    }
    n = count_appends_with_entries(h, 2);
    ck_assert_msg(n >= 2 && n <= 3, "%zu appends for a batch of 10", n);
    assert_appends_bounded(h, 2, 2, UINT32_MAX);
    h_heartbeat(h, 1, 10);
    h_assert_logs_equal(h, 1, 2);
    ck_assert_uint_eq(h_status(h, 2).commit, last + 10);
    h_free(h);
}
END_TEST

START_TEST(test_batches_bounded_by_max_msg_bytes)
{
    struct h_opts o = opts;
    o.max_msg_bytes = 100;
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 1);
    h_drop_all(h);
    char payload[101];
    memset(payload, 'b', sizeof(payload));
    /* a single proposal above the limit is refused, the node unchanged */
    struct raft_status before = h_status(h, 1);
    ck_assert_int_eq(raft_propose(h_raft(h, 1), payload, 101, NULL),
                     RAFT_ETOOBIG);
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, "ETOOBIG proposal");
    /* exactly at the limit is fine */
    ck_assert_int_eq(raft_propose(h_raft(h, 1), payload, 100, NULL), 0);
    h_deliver_all(h);
    h_drop_all(h);
    /* 40-byte entries: at most two per message */
    struct raft_buf bufs[6];
    for (size_t i = 0; i < 6; i++) {
        bufs[i].base = payload;
        bufs[i].len = 40;
    }
    ck_assert_int_eq(raft_propose_batch(h_raft(h, 1), bufs, 6, NULL), 0);
    for (unsigned round = 0; round < 20; round++) {
        assert_appends_bounded(h, 2, UINT32_MAX, 100);
        assert_appends_bounded(h, 3, UINT32_MAX, 100);
        h_deliver_all(h);
        h_tick(h, 1, 1);
    }
    h_deliver_all(h);
    h_assert_logs_equal(h, 1, 2);
    h_assert_logs_equal(h, 1, 3);
    h_free(h);
}
END_TEST

/* Lost messages are retransmitted: the leader does not wait forever for an
 * ack that will never come. */
START_TEST(test_leader_retransmits_after_message_loss)
{
    struct harness *h = h_new(3, &opts);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 1);
    raft_index idx;
    for (int i = 0; i < 12; i++) {
        ck_assert_int_eq(h_propose(h, 1, "lost", &idx), 0);
        h_drop_all(h); /* every AppendEntries is lost */
    }
    for (unsigned i = 0; i < 5 * E && h_status(h, 3).commit < idx; i++) {
        h_heartbeat(h, 1, 1);
    }
    for (raft_id id = 1; id <= 3; id++) {
        ck_assert_uint_eq(h_status(h, id).commit, idx);
        h_assert_logs_equal(h, 1, id);
    }
    h_free(h);
}
END_TEST

/* raft_propose on a follower or candidate: RAFT_ENOTLEADER, and
 * raft_leader() says where to go. */
START_TEST(test_propose_on_follower_returns_enotleader_with_leader_hint)
{
    struct harness *h = h_new(3, &opts);
    h_bootstrap_all(h);
    ck_assert_uint_eq(raft_leader(h_raft(h, 2)), 0);
    ck_assert_int_eq(h_propose(h, 2, "x", NULL), RAFT_ENOTLEADER);
    h_elect(h, 1);
    h_heartbeat(h, 1, 1);
    h_reset_all_calls(h);
    struct raft_status before = h_status(h, 2);
    raft_index idx = 77;
    ck_assert_int_eq(h_propose(h, 2, "x", &idx), RAFT_ENOTLEADER);
    struct raft_buf b = {"x", 1};
    ck_assert_int_eq(raft_propose_batch(h_raft(h, 2), &b, 1, NULL),
                     RAFT_ENOTLEADER);
    struct raft_status after = h_status(h, 2);
    h_assert_status_eq(&before, &after, "propose on follower");
    ck_assert_uint_eq(raft_leader(h_raft(h, 2)), 1);
    ck_assert_uint_eq(h_ncalls(h, 2, H_CB_PERSIST_ENTRIES), 0);
    /* a candidate doesn't know a leader */
    ck_assert_uint_gt(h_tick_until_role(h, 3, RAFT_CANDIDATE, 3 * E), 0);
    ck_assert_int_eq(h_propose(h, 3, "x", NULL), RAFT_ENOTLEADER);
    ck_assert_uint_eq(raft_leader(h_raft(h, 3)), 0);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * A seeded random walk over a 5-node cluster: ticks, deliveries in random
 * order, drops, duplicates, proposals, crashes and restarts from disk, and
 * failing persist/apply/send callbacks. After every step the Raft safety
 * properties are checked:
 *   - Election Safety: at most one leader per term;
 *   - State Machine Safety: every node applies the same entry at an index;
 *   - Leader Completeness: a leader of a term after an entry was known
 *     committed has that entry;
 *   - Log Matching: two logs with the same term at an index agree on every
 *     entry up to it;
 *   - every node's fake disk matches its memory (unless a persist_entries
 *     call just failed, which may leave a prefix behind);
 *   - allocation failures (the counting allocator fails a random upcoming
 *     allocation now and then) only ever surface as RAFT_ENOMEM, and all
 *     memory is returned at the end.
 * Then the network heals and the cluster must converge. The seed is in
 * every failure message.
 * ------------------------------------------------------------------------ */

#define CHAOS_NODES 5
#define CHAOS_TERMS 4096

struct chaos {
    struct harness *h;
    uint64_t seed;
    uint64_t rng;
    raft_id leader_of[CHAOS_TERMS];
    struct h_log committed;            /* index i+1 at e[i] */
    raft_term commit_seen_term[4096];  /* a term >= the commit's term */
    size_t applied_seen[CHAOS_NODES + 1];
    size_t calls_seen[CHAOS_NODES + 1];
    bool dirty[CHAOS_NODES + 1];
    unsigned step;
};

static uint64_t chaos_rand(struct chaos *c)
{
    /* xorshift64* */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return c->rng * 2685821657736338717ull;
}

static unsigned chaos_below(struct chaos *c, unsigned n)
{
    return (unsigned)(chaos_rand(c) % n);
}

#define CHAOS_CHECK(c, cond, ...)                                           \
    do {                                                                    \
        if (!(cond)) {                                                      \
            char chaos_buf_[256];                                           \
            snprintf(chaos_buf_, sizeof(chaos_buf_), __VA_ARGS__);          \
            ck_abort_msg("seed %llu step %u: %s",                           \
                         (unsigned long long)(c)->seed, (c)->step,          \
                         chaos_buf_);                                       \
        }                                                                   \
    } while (0)

static bool same_entry(const struct raft_entry *a, const struct h_entry *b)
{
    return a->term == b->term && a->type == b->type && a->len == b->len &&
           (a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0);
}

static void chaos_check_node(struct chaos *c, raft_id id)
{
    struct harness *h = c->h;
    struct h_node *nd = h_node(h, id);
    struct raft_status st = h_status(h, id);
    /* callbacks since last time: track whether the disk is dirty */
    for (size_t i = c->calls_seen[id]; i < nd->n_calls; i++) {
        if (nd->calls[i].kind == H_CB_PERSIST_ENTRIES) {
            c->dirty[id] = nd->calls[i].rc != 0;
        }
    }
    c->calls_seen[id] = nd->n_calls;
    if (!c->dirty[id]) {
        h_assert_disk_matches(h, id);
    }
    /* state machine safety */
    for (size_t k = c->applied_seen[id]; k < nd->applied.n; k++) {
        raft_index idx = nd->applied_idx[k];
        const struct h_entry *e = &nd->applied.e[k];
        CHAOS_CHECK(c, idx == k + 1, "node %llu applied index %llu as its "
                    "#%zu apply", (unsigned long long)id,
                    (unsigned long long)idx, k + 1);
        if (idx <= c->committed.n) {
            const struct h_entry *g = &c->committed.e[idx - 1];
            CHAOS_CHECK(c, g->term == e->term && g->type == e->type &&
                               g->len == e->len &&
                               (g->len == 0 || memcmp(g->buf, e->buf, g->len) == 0),
                        "node %llu applied a different entry at %llu",
                        (unsigned long long)id, (unsigned long long)idx);
            if (st.term < c->commit_seen_term[idx - 1]) {
                c->commit_seen_term[idx - 1] = st.term;
            }
        } else {
            CHAOS_CHECK(c, idx == c->committed.n + 1 && idx <= 4096,
                        "apply gap");
            if (c->committed.n == c->committed.cap) {
                c->committed.cap = c->committed.cap ? 2 * c->committed.cap : 64;
                c->committed.e = realloc(c->committed.e,
                                         c->committed.cap * sizeof(struct h_entry));
                ck_assert_ptr_nonnull(c->committed.e);
            }
            struct h_entry *g = &c->committed.e[c->committed.n++];
            g->term = e->term;
            g->type = e->type;
            g->len = e->len;
            g->buf = NULL;
            if (e->len) {
                g->buf = malloc(e->len);
                memcpy(g->buf, e->buf, e->len);
            }
            c->commit_seen_term[idx - 1] = st.term;
        }
    }
    c->applied_seen[id] = nd->applied.n;
    CHAOS_CHECK(c, st.applied <= st.commit && st.commit <= st.last_index,
                "node %llu: applied %llu commit %llu last %llu",
                (unsigned long long)id, (unsigned long long)st.applied,
                (unsigned long long)st.commit,
                (unsigned long long)st.last_index);
    if (st.role == RAFT_LEADER) {
        CHAOS_CHECK(c, st.term < CHAOS_TERMS, "term too high");
        CHAOS_CHECK(c, c->leader_of[st.term] == 0 ||
                           c->leader_of[st.term] == id,
                    "two leaders in term %llu: %llu and %llu",
                    (unsigned long long)st.term,
                    (unsigned long long)c->leader_of[st.term],
                    (unsigned long long)id);
        c->leader_of[st.term] = id;
        /* leader completeness */
        for (size_t i = 0; i < c->committed.n; i++) {
            if (c->commit_seen_term[i] >= st.term) {
                continue;
            }
            struct raft_entry e;
            CHAOS_CHECK(c, raft_entry_at(nd->r, i + 1, &e) == 0 &&
                               same_entry(&e, &c->committed.e[i]),
                        "leader %llu of term %llu lacks committed entry %zu",
                        (unsigned long long)id, (unsigned long long)st.term,
                        i + 1);
        }
    }
}

static void chaos_check_log_matching(struct chaos *c)
{
    struct harness *h = c->h;
    for (raft_id a = 1; a <= h->n; a++) {
        for (raft_id b = a + 1; b <= h->n; b++) {
            raft_index n = h_status(h, a).last_index;
            raft_index nb = h_status(h, b).last_index;
            n = n < nb ? n : nb;
            raft_index top = 0;
            for (raft_index i = n; i >= 1 && top == 0; i--) {
                struct raft_entry ea, eb;
                raft_entry_at(h_raft(h, a), i, &ea);
                raft_entry_at(h_raft(h, b), i, &eb);
                if (ea.term == eb.term) {
                    top = i;
                }
            }
            for (raft_index i = 1; i <= top; i++) {
                struct raft_entry ea, eb;
                raft_entry_at(h_raft(h, a), i, &ea);
                raft_entry_at(h_raft(h, b), i, &eb);
                CHAOS_CHECK(c, ea.term == eb.term && ea.type == eb.type &&
                                   ea.len == eb.len &&
                                   (ea.len == 0 ||
                                    memcmp(ea.buf, eb.buf, ea.len) == 0),
                            "log matching: nodes %llu and %llu agree at %llu "
                            "but differ at %llu",
                            (unsigned long long)a, (unsigned long long)b,
                            (unsigned long long)top, (unsigned long long)i);
            }
        }
    }
}

static void chaos_rc(struct chaos *c, int rc, const char *what, raft_id id)
{
    CHAOS_CHECK(c, rc == 0 || rc == RAFT_ESTALE || rc == RAFT_EPERSIST ||
                       rc == RAFT_EAPPLY || rc == RAFT_ENOTLEADER ||
                       rc == RAFT_ENOMEM ||
                       (rc == RAFT_EBADMSG && !c->h->strict),
                "%s on node %llu: %d (%s)", what, (unsigned long long)id, rc,
                raft_strerror(rc));
}

static void chaos_run(uint64_t seed, unsigned steps)
{
    static struct chaos c;
    memset(&c, 0, sizeof(c));
    c.seed = seed;
    c.rng = seed * 0x9E3779B97F4A7C15ull + 1;
    struct h_opts o = {.election_ticks = E, .heartbeat_ticks = 2,
                       .seed = seed, .max_msg_entries = 4,
                       .max_inflight = 3, .counting_alloc = true};
    struct harness *h = h_new(CHAOS_NODES, &o);
    c.h = h;
    h_bootstrap_all(h);
    char payload[32];
    unsigned proposals = 0;
    for (c.step = 0; c.step < steps; c.step++) {
        unsigned roll = chaos_below(&c, 100);
        raft_id id = 1 + chaos_below(&c, CHAOS_NODES);
        if (roll < 35 && h->n_net > 0) {
            size_t i = chaos_below(&c, (unsigned)h->n_net);
            raft_id to = h->net[i].m.to;
            chaos_rc(&c, h_deliver_at(h, i), "raft_step", to);
            chaos_check_node(&c, to);
            continue;
        } else if (roll < 40 && h->n_net > 0) {
            h_drop_at(h, chaos_below(&c, (unsigned)h->n_net));
        } else if (roll < 43 && h->n_net > 0) {
            h_duplicate_at(h, chaos_below(&c, (unsigned)h->n_net));
        } else if (roll < 80) {
            chaos_rc(&c, raft_tick(h_raft(h, id)), "raft_tick", id);
        } else if (roll < 92) {
            snprintf(payload, sizeof(payload), "s%llu-%u",
                     (unsigned long long)seed, proposals++);
            chaos_rc(&c, h_propose(h, id, payload, NULL), "raft_propose", id);
        } else if (roll < 93) {
            /* crash and restart from disk (again, if out of memory) */
            int rc = h_restart(h, id);
            if (rc != 0) {
                CHAOS_CHECK(&c, rc == RAFT_ENOMEM, "restart: %d", rc);
                rc = h_restart(h, id);
                CHAOS_CHECK(&c, rc == 0, "restart after ENOMEM: %d", rc);
            }
            c.applied_seen[id] = 0;
            c.calls_seen[id] = 0;
        } else if (roll < 95) {
            struct h_node *nd = h_node(h, id);
            switch (chaos_below(&c, 5)) {
            case 4: h->alloc.fail_at = h->alloc.calls + 1 + chaos_below(&c, 4); break;
            case 0: nd->fail_persist_state = 1; break;
            case 1:
                nd->fail_persist_entries = 1;
                h->strict = false; /* acks of forgotten entries may arrive */
                break;
            case 2: nd->fail_apply = 1; break;
            default:
                nd->fail_send_to[1 + chaos_below(&c, CHAOS_NODES)] = 1;
                break;
            }
        }
        chaos_check_node(&c, id);
        if (c.step % 25 == 0) {
            chaos_check_log_matching(&c);
        }
    }
    /* heal: no faults, no loss; everyone converges on one log */
    for (raft_id id = 1; id <= h->n; id++) {
        struct h_node *nd = h_node(h, id);
        nd->fail_persist_state = nd->fail_persist_entries = nd->fail_apply = 0;
        memset(nd->fail_send_to, 0, sizeof(nd->fail_send_to));
    }
    h->alloc.fail_at = 0;
    raft_id leader = 0;
    bool converged = false;
    for (unsigned t = 0; t < 60 * E && !converged; t++) {
        for (raft_id id = 1; id <= h->n; id++) {
            raft_tick(h_raft(h, id));
        }
        h_deliver_all(h);
        leader = 0;
        for (raft_id id = 1; id <= h->n; id++) {
            chaos_check_node(&c, id);
            if (raft_role(h_raft(h, id)) == RAFT_LEADER) {
                leader = id;
            }
        }
        if (leader != 0) {
            struct raft_status ls = h_status(h, leader);
            converged = ls.commit == ls.last_index;
            for (raft_id id = 1; id <= h->n && converged; id++) {
                struct raft_status st = h_status(h, id);
                converged = st.last_index == ls.last_index &&
                            st.applied == ls.last_index;
            }
        }
    }
    CHAOS_CHECK(&c, converged, "no convergence after healing (leader %llu)",
                (unsigned long long)leader);
    chaos_check_log_matching(&c);
    for (raft_id id = 1; id <= h->n; id++) {
        h_assert_logs_equal(h, leader, id);
    }
    for (size_t i = 0; i < c.committed.n; i++) {
        free(c.committed.e[i].buf);
    }
    free(c.committed.e);
    for (raft_id id = 1; id <= h->n; id++) {
        raft_destroy(h_node(h, id)->r);
        h_node(h, id)->r = NULL;
    }
    CHAOS_CHECK(&c, h->alloc.blocks == 0 && h->alloc.bad_free == 0,
                "%zu blocks leaked, %lu bad frees", h->alloc.blocks,
                h->alloc.bad_free);
    h_free(h);
}


/* Regression, found by fuzz_node (fuzz/regress/fuzz_node/
 * heartbeat-below-commit-null-entries): a heartbeat (entries == NULL) whose
 * prev_index lies below the follower's commit index is acknowledged at the
 * commit index, leaves the log alone, and does no arithmetic on the NULL
 * entries pointer (undefined behaviour that clang's UBSan reports; the
 * sanitizer build of this suite uses clang). */
START_TEST(test_heartbeat_below_commit_with_null_entries)
{
    const raft_term log[] = {1, 1};
    struct harness *h = h_single(3, &opts, 1, 0, log, 2);
    struct raft *r = h_raft(h, 1);
    struct raft_msg a = h_msg_append(2, 1, 1, 2, 1, 2, NULL, 0);
    ck_assert_int_eq(raft_step(r, &a), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, 2);
    h_drop_all(h);
    struct raft_msg hb = h_msg_append(2, 1, 1, 0, 0, 2, NULL, 0);
    ck_assert_ptr_null(hb.u.append.entries);
    ck_assert_int_eq(raft_step(r, &hb), 0);
    const struct raft_msg *resp = h_find(h, 1, 2, RAFT_MSG_APPEND_RESP, 0);
    ck_assert_ptr_nonnull(resp);
    ck_assert(resp->u.append_resp.success);
    ck_assert_uint_eq(resp->u.append_resp.index, 2);
    ck_assert_uint_eq(h_status(h, 1).last_index, 2);
    ck_assert_uint_eq(h_status(h, 1).commit, 2);
    h_free(h);
}
END_TEST

/* RAFT_TEST_SEEDS=N and RAFT_TEST_FIRST_SEED=S run seeds S..S+N-1
 * (default 1..40); a failure names its seed, to be replayed alone with
 * RAFT_TEST_FIRST_SEED=seed RAFT_TEST_SEEDS=1. */
static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    return v != NULL && *v != 0 ? strtoull(v, NULL, 10) : dflt;
}

START_TEST(test_random_walk_preserves_safety_properties)
{
    uint64_t first = env_u64("RAFT_TEST_FIRST_SEED", 1);
    uint64_t n = env_u64("RAFT_TEST_SEEDS", 40);
    unsigned steps = (unsigned)env_u64("RAFT_TEST_STEPS", 3000);
    for (uint64_t seed = first; seed < first + n; seed++) {
        chaos_run(seed, steps);
    }
}
END_TEST

/* A follower makes room for every term run of the entries it appends
 * before it appends them. Its log holds k runs (terms 1..k); entries of
 * terms k+1, k+1, k+2 add two more. For every k up to 40, so that some k
 * leaves the run array exactly one short whatever its capacities are: an
 * under-reservation then writes past the array's end, which the counting
 * allocator's guard catches when the node is destroyed. Only the entries
 * the message carries count: the array holds one more, of term k+1, past
 * them. */
#define RUNS_MAX 40

/* Node 1 restored at `term` with a log of k runs, terms 1..k (also left
 * in log[0..k)), under the counting allocator and its guard bytes. */
static struct harness *with_runs(size_t k, raft_term term, raft_term *log)
{
    struct h_opts o = opts;
    o.counting_alloc = true;
    struct harness *h = h_new(3, &o);
    for (size_t i = 0; i < k; i++) {
        log[i] = i + 1;
    }
    ck_assert_int_eq(h_restore(h, 1, term, 0, log, k), 0);
    return h;
}

START_TEST(test_append_reserves_every_term_run)
{
    raft_term log[RUNS_MAX];
    for (size_t k = 1; k <= RUNS_MAX; k++) {
        struct harness *h = with_runs(k, k, log);
        const raft_term ts[] = {k + 1, k + 1, k + 2, k + 1};
        struct raft_entry ents[4];
        char bufs[4 * 48];
        h_mk_entries(ents, bufs, k + 1, ts, 4);
        struct raft_msg m = h_msg_append(2, 1, k + 2, k, k, 0, ents, 3);
        ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
        struct raft_status st = h_status(h, 1);
        ck_assert_uint_eq(st.last_index, k + 3);
        ck_assert_uint_eq(st.last_term, k + 2);
        raft_term want[RUNS_MAX + 3];
        memcpy(want, log, k * sizeof(raft_term));
        memcpy(want + k, ts, 3 * sizeof(raft_term));
        h_assert_log_terms(h, 1, want, k + 3);
        h_free(h);
    }
}
END_TEST

/* The same for the usual message, from the known leader of the term and
 * anchored at the follower's last entry: entries of terms k+1 and k+2 are
 * two runs. Only the entries the message carries are read: in the array
 * they sit between two others (terms k+2 before, k+1 after). */
START_TEST(test_append_in_order_reserves_every_term_run)
{
    raft_term log[RUNS_MAX];
    for (size_t k = 1; k <= RUNS_MAX; k++) {
        struct harness *h = with_runs(k, k + 2, log);
        struct raft_msg hb = h_msg_append(2, 1, k + 2, k, k, 0, NULL, 0);
        ck_assert_int_eq(raft_step(h_raft(h, 1), &hb), 0);
        ck_assert_uint_eq(raft_leader(h_raft(h, 1)), 2);
        const raft_term ts[] = {k + 2, k + 1, k + 2, k + 1};
        struct raft_entry ents[4];
        char bufs[4 * 48];
        h_mk_entries(ents, bufs, k, ts, 4);
        struct raft_msg m = h_msg_append(2, 1, k + 2, k, k, 0, ents + 1, 2);
        ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
        struct raft_status st = h_status(h, 1);
        ck_assert_uint_eq(st.last_index, k + 2);
        ck_assert_uint_eq(st.last_term, k + 2);
        raft_term want[RUNS_MAX + 2];
        memcpy(want, log, k * sizeof(raft_term));
        memcpy(want + k, ts + 1, 2 * sizeof(raft_term));
        h_assert_log_terms(h, 1, want, k + 2);
        h_free(h);
    }
}
END_TEST
#undef RUNS_MAX

Suite *raft_replication_suite(void)
{
    Suite *s = suite_create("replication");
    TCase *tc = tcase_create("figure2");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_append_entries_reply_false_if_term_lt_current_term);
    tcase_add_loop_test(tc, test_append_entries_reply_false_if_log_lacks_prev_entry,
                        0, (int)H_ARRAY_LEN(lacks_cases));
    tcase_add_test(tc, test_append_entries_delete_conflicting_entry_and_all_that_follow);
    tcase_add_test(tc, test_append_reserves_every_term_run);
    tcase_add_test(tc, test_append_in_order_reserves_every_term_run);
    tcase_add_test(tc, test_append_entries_stale_matching_append_does_not_truncate);
    tcase_add_test(tc, test_append_entries_append_new_entries_not_in_log);
    tcase_add_test(tc, test_append_entries_request_below_commit_is_acked_without_change);
    tcase_add_test(tc, test_persist_entries_before_append_reply);
    tcase_add_test(tc, test_append_entries_set_commit_to_min_of_leader_commit_and_last_new_entry);
    tcase_add_test(tc, test_all_servers_apply_when_commit_gt_last_applied);
    tcase_add_test(tc, test_leader_send_heartbeats_on_election_and_idle);
    tcase_add_test(tc, test_leader_appends_noop_at_start_of_term);
    tcase_add_test(tc, test_leader_append_command_and_respond_after_applied);
    tcase_add_test(tc, test_leader_on_success_update_next_and_match);
    tcase_add_test(tc, test_leader_probe_not_ended_by_late_ack_at_match);
    tcase_add_test(tc, test_leader_send_entries_from_next_index_when_last_log_ge_next_index);
    tcase_add_test(tc, test_proposal_appends_carry_the_new_entry_and_current_commit);
    tcase_add_test(tc, test_lone_voter_learner_append_carries_commit_of_same_call);
    tcase_add_test(tc, test_proposal_after_failed_send_slices_per_follower);
    tcase_add_test(tc, test_heartbeat_resends_entry_after_failed_send);
    tcase_add_test(tc, test_empty_proposal_before_any_payload);
    tcase_add_test(tc, test_leader_on_inconsistency_decrement_next_and_retry);
    tcase_add_test(tc, test_probe_hint_below_match_resumes_past_match);
    tcase_add_test(tc, test_leader_commit_n_when_majority_match_and_term_is_current);
    tcase_add_test(tc, test_leader_commit_below_the_index_acknowledged);
    suite_add_tcase(s, tc);

    TCase *sc = tcase_create("scenarios");

    h_tcase_cleanup(sc);
    tcase_add_test(sc, test_figure7_leader_repairs_followers_a_to_f);
    tcase_add_test(sc, test_figure8_old_term_entry_not_committed_by_counting_replicas);
    tcase_add_test(sc, test_figure8_uncommitted_old_term_entry_may_be_overwritten);
    tcase_add_test(sc, test_fast_backtracking_one_round_trip_per_conflicting_term);
    tcase_add_test(sc, test_fast_backtracking_lagging_follower);
    tcase_add_test(sc, test_pipelining_bounded_by_max_inflight_and_max_msg_entries);
    tcase_add_test(sc, test_batches_bounded_by_max_msg_bytes);
    tcase_add_test(sc, test_leader_retransmits_after_message_loss);
    tcase_add_test(sc, test_propose_on_follower_returns_enotleader_with_leader_hint);
    tcase_add_test(sc, test_heartbeat_below_commit_with_null_entries);
    tcase_add_test(sc, test_random_walk_preserves_safety_properties);
    tcase_set_timeout(sc, 300);
    suite_add_tcase(s, sc);
    return s;
}
