/*
 * test_election.c - Figure 2 of the Raft paper, the rules about terms,
 * RequestVote, followers' and candidates' timers, and the persistence order
 * of term and vote.
 *
 * Most tests drive a single node (node 1) with hand-made messages and then
 * look at what it sent and persisted: the other nodes of the harness exist
 * only as names in the voter list.
 */
#include <string.h>

#include "harness.h"
#include "suites.h"

#define E 10u /* election_ticks used throughout */

static const struct h_opts opts5 = {.election_ticks = E, .heartbeat_ticks = 1,
                                    .seed = 7};

/* The last message node `id` sent, of a type, to a peer (from the net). */
static const struct raft_msg *last_sent(struct harness *h, raft_id id,
                                        raft_id to, int type)
{
    size_t n = h_count(h, id, to, type);
    return n ? h_find(h, id, to, type, n - 1) : NULL;
}

/* ------------------------------------------------------------------------
 * All servers: if RPC request or response contains term T > currentTerm,
 * set currentTerm = T and convert to follower.
 * ------------------------------------------------------------------------ */

enum { AS_FOLLOWER, AS_CANDIDATE, AS_LEADER };

static const struct {
    int role;
    int msg;
    const char *name;
} higher_term_cases[] = {
    {AS_FOLLOWER, RAFT_MSG_VOTE, "follower gets VOTE"},
    {AS_FOLLOWER, RAFT_MSG_APPEND, "follower gets APPEND"},
    {AS_CANDIDATE, RAFT_MSG_VOTE_RESP, "candidate gets VOTE_RESP"},
    {AS_CANDIDATE, RAFT_MSG_APPEND, "candidate gets APPEND"},
    {AS_CANDIDATE, RAFT_MSG_VOTE, "candidate gets VOTE"},
    {AS_LEADER, RAFT_MSG_APPEND_RESP, "leader gets APPEND_RESP"},
    {AS_LEADER, RAFT_MSG_VOTE, "leader gets VOTE"},
    {AS_LEADER, RAFT_MSG_APPEND, "leader gets APPEND"},
};

START_TEST(test_all_servers_if_rpc_term_greater_then_convert_to_follower)
{
    const raft_term log[] = {1, 2};
    struct harness *h = h_single(5, &opts5, 2, 0, log, 2);
    struct raft *r = h_raft(h, 1);
    int role = higher_term_cases[_i].role;
    const char *name = higher_term_cases[_i].name;
    if (role == AS_CANDIDATE) {
        ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_CANDIDATE, 2 * E), 0);
    } else if (role == AS_LEADER) {
        h_make_leader_scripted(h, 1);
    }
    struct raft_status before = h_status(h, 1);
    h_drop_all(h);
    h_reset_all_calls(h);

    const raft_term T = 7;
    struct raft_msg m;
    switch (higher_term_cases[_i].msg) {
    case RAFT_MSG_VOTE:
        /* a candidate with a stale log: the term must be adopted even
         * though the vote is refused */
        m = h_msg_vote(2, 1, T, 1, 1);
        break;
    case RAFT_MSG_APPEND:
        m = h_msg_append(2, 1, T, 1, 1, 0, NULL, 0);
        break;
    case RAFT_MSG_VOTE_RESP:
        m = h_msg_vote_resp(2, 1, T, false, 1, 1);
        break;
    default:
        m = h_msg_append_resp(2, 1, T, false, before.last_index, 1, 1);
        break;
    }
    int rc = raft_step(r, &m);
    ck_assert_msg(rc == 0, "%s: raft_step = %d (%s)", name, rc,
                  raft_strerror(rc));
    struct raft_status st = h_status(h, 1);
    ck_assert_msg(st.role == RAFT_FOLLOWER, "%s: role %d", name, st.role);
    ck_assert_msg(st.term == T, "%s: term %llu, want %llu", name,
                  (unsigned long long)st.term, (unsigned long long)T);
    ck_assert_msg(st.vote == 0, "%s: vote %llu in the new term", name,
                  (unsigned long long)st.vote);
    if (m.type == RAFT_MSG_APPEND) {
        ck_assert_msg(st.leader == 2, "%s: leader %llu", name,
                      (unsigned long long)st.leader);
    } else {
        ck_assert_msg(st.leader == 0, "%s: leader %llu, want unknown", name,
                      (unsigned long long)st.leader);
    }
    /* the new term is durable, and was made durable before any reply */
    const struct h_call *ps = h_call(h, 1, H_CB_PERSIST_STATE, 0);
    ck_assert_msg(ps != NULL && ps->term == T, "%s: new term not persisted",
                  name);
    long first_send = h_call_pos(h, 1, H_CB_SEND, 0);
    ck_assert_msg(first_send < 0 ||
                      first_send > h_call_pos(h, 1, H_CB_PERSIST_STATE, 0),
                  "%s: a message was sent before the new term was persisted",
                  name);
    h_assert_disk_matches(h, 1);
    /* diagnostics: the term change is reported with the new term */
    const struct h_event *te = h_event(h, 1, RAFT_EVENT_TERM, 0);
    ck_assert_msg(te != NULL && te->term == T, "%s: no TERM event for %llu",
                  name, (unsigned long long)T);
    if (role != AS_FOLLOWER) {
        const struct h_event *re = h_event(h, 1, RAFT_EVENT_ROLE, 0);
        ck_assert_msg(re != NULL && re->role == RAFT_FOLLOWER,
                      "%s: no ROLE event to follower", name);
    }
    if (role == AS_LEADER) {
        const struct h_event *ev = h_event(h, 1, RAFT_EVENT_STEP_DOWN, 0);
        ck_assert_msg(h_nevents(h, 1, RAFT_EVENT_STEP_DOWN) == 1 &&
                          ev->error == 0,
                      "%s: want one STEP_DOWN event with error 0", name);
    }
    /* the log survives a term change */
    ck_assert_uint_eq(st.last_index, before.last_index);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * RequestVote 1: reply false if term < currentTerm.
 * ------------------------------------------------------------------------ */

START_TEST(test_request_vote_reply_false_if_term_lt_current_term)
{
    const raft_term log[] = {1, 2};
    struct harness *h = h_single(3, &opts5, 5, 0, log, 2);
    struct raft_status before = h_status(h, 1);
    /* the candidate's log is better than ours: only the term disqualifies */
    struct raft_msg m = h_msg_vote(2, 1, 4, 10, 4);
    int rc = raft_step(h_raft(h, 1), &m);
    ck_assert_int_eq(rc, RAFT_ESTALE);
    const struct raft_msg *resp = last_sent(h, 1, 2, RAFT_MSG_VOTE_RESP);
    ck_assert_msg(resp != NULL, "stale VOTE not answered");
    ck_assert(!resp->u.vote_resp.granted);
    ck_assert_uint_eq(resp->term, 5); /* so the candidate can catch up */
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, "stale VOTE");
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_PERSIST_STATE), 0);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_PERSIST_ENTRIES), 0);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * RequestVote 2: if votedFor is null or candidateId, and candidate's log is
 * at least as up-to-date as receiver's log, grant vote (5.2, 5.4).
 * Receiver: term 5, log terms [1,1,3] (last 3/3).
 * ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    raft_id voted;          /* vote already given in term 5 */
    raft_term term;         /* request term */
    raft_index last_index;  /* candidate's log */
    raft_term last_term;
    bool grant;
} vote_cases[] = {
    {"no vote yet, equal logs", 0, 5, 3, 3, true},
    {"already voted for this candidate", 2, 5, 3, 3, true},
    {"already voted for another", 3, 5, 3, 3, false},
    {"voted for another, but in an older term", 3, 6, 3, 3, true},
    {"candidate's last term is older", 0, 6, 3, 2, false},
    {"candidate's last term older but log longer", 0, 6, 9, 2, false},
    {"same last term, shorter log", 0, 6, 2, 3, false},
    {"same last term, longer log", 0, 6, 4, 3, true},
    {"newer last term, shorter log", 0, 6, 1, 4, true},
    {"candidate's log is empty", 0, 6, 0, 0, false},
};

START_TEST(test_request_vote_grant_if_voted_for_null_or_candidate_and_log_up_to_date)
{
    const raft_term log[] = {1, 1, 3};
    const char *name = vote_cases[_i].name;
    struct harness *h = h_single(3, &opts5, 5, vote_cases[_i].voted, log, 3);
    struct raft_msg m = h_msg_vote(2, 1, vote_cases[_i].term,
                                   vote_cases[_i].last_index,
                                   vote_cases[_i].last_term);
    int rc = raft_step(h_raft(h, 1), &m);
    ck_assert_msg(rc == 0, "%s: raft_step = %d (%s)", name, rc,
                  raft_strerror(rc));
    ck_assert_msg(h_count(h, 1, 2, RAFT_MSG_VOTE_RESP) == 1,
                  "%s: want exactly one VOTE_RESP", name);
    const struct raft_msg *resp = h_find(h, 1, 2, RAFT_MSG_VOTE_RESP, 0);
    ck_assert_msg(resp->u.vote_resp.granted == vote_cases[_i].grant,
                  "%s: granted = %d", name, resp->u.vote_resp.granted);
    ck_assert_msg(resp->term == vote_cases[_i].term, "%s: reply term %llu",
                  name, (unsigned long long)resp->term);
    ck_assert_msg(resp->from == 1 && resp->to == 2, "%s: addressing", name);
    /* the reply describes the voter's log (raft.h) */
    ck_assert_msg(resp->u.vote_resp.last_index == 3 &&
                      resp->u.vote_resp.last_term == 3,
                  "%s: reply last %llu/%llu, want 3/3", name,
                  (unsigned long long)resp->u.vote_resp.last_index,
                  (unsigned long long)resp->u.vote_resp.last_term);
    struct raft_status st = h_status(h, 1);
    raft_id want_vote = vote_cases[_i].grant
                            ? 2
                            : (vote_cases[_i].term == 5 ? vote_cases[_i].voted
                                                         : 0);
    ck_assert_msg(st.vote == want_vote, "%s: vote %llu, want %llu", name,
                  (unsigned long long)st.vote, (unsigned long long)want_vote);
    ck_assert_uint_eq(st.term, vote_cases[_i].term);
    ck_assert_int_eq(st.role, RAFT_FOLLOWER);
    if (vote_cases[_i].grant && vote_cases[_i].voted != 2) {
        /* a new vote is durable before the reply leaves */
        long ps = h_call_pos(h, 1, H_CB_PERSIST_STATE, 0);
        ck_assert_msg(ps >= 0, "%s: vote not persisted", name);
        ck_assert_msg(ps < h_call_pos(h, 1, H_CB_SEND, 0),
                      "%s: vote sent before it was persisted", name);
    }
    h_assert_disk_matches(h, 1);
    h_free(h);
}
END_TEST

/* A candidate has voted for itself, so it refuses another candidate of its
 * own term however good that candidate's log is. */
START_TEST(test_request_vote_candidate_refuses_other_candidate_same_term)
{
    const raft_term log[] = {1};
    struct harness *h = h_single(3, &opts5, 1, 0, log, 1);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_CANDIDATE, 2 * E), 0);
    raft_term t = raft_current_term(h_raft(h, 1));
    h_drop_all(h);
    struct raft_msg m = h_msg_vote(3, 1, t, 50, t - 1 ? t - 1 : 1);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    const struct raft_msg *resp = last_sent(h, 1, 3, RAFT_MSG_VOTE_RESP);
    ck_assert(resp != NULL);
    ck_assert(!resp->u.vote_resp.granted);
    ck_assert_uint_eq(h_status(h, 1).vote, 1);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_CANDIDATE);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Persistent state: currentTerm and votedFor are updated on stable storage
 * before responding to RPCs - in ONE persist_state call (raft.h).
 * ------------------------------------------------------------------------ */

START_TEST(test_persist_term_and_vote_in_one_call_before_vote_reply)
{
    const raft_term log[] = {1};
    struct harness *h = h_single(3, &opts5, 1, 0, log, 1);
    struct raft_msg m = h_msg_vote(3, 1, 2, 1, 1);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    /* a new term AND a vote: one atomic write, not (2,0) then (2,3): a
     * crash between two writes would be harmless here, but two calls where
     * one is promised means the host cannot rely on the pair */
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_PERSIST_STATE), 1);
    const struct h_call *ps = h_call(h, 1, H_CB_PERSIST_STATE, 0);
    ck_assert_uint_eq(ps->term, 2);
    ck_assert_uint_eq(ps->vote, 3);
    long send = h_assert_sent(h, 1, RAFT_MSG_VOTE_RESP, 3);
    ck_assert_int_lt(h_call_pos(h, 1, H_CB_PERSIST_STATE, 0), send);
    ck_assert(h_node(h, 1)->calls[send].ok);
    h_free(h);
}
END_TEST

/* If persist_state is failing at the moment of the vote, the reply must not
 * say "granted" (see also test_persist.c). Here: the ordering with a crash.
 * A node restarted right after granting keeps its vote and refuses a
 * second candidate of the same term. */
START_TEST(test_vote_survives_restart)
{
    const raft_term log[] = {1};
    struct harness *h = h_single(3, &opts5, 1, 0, log, 1);
    struct raft_msg m = h_msg_vote(2, 1, 2, 1, 1);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    ck_assert_int_eq(h_restart(h, 1), 0);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.term, 2);
    ck_assert_uint_eq(st.vote, 2);
    h_drop_all(h);
    m = h_msg_vote(3, 1, 2, 1, 1);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    const struct raft_msg *resp = last_sent(h, 1, 3, RAFT_MSG_VOTE_RESP);
    ck_assert(resp != NULL);
    ck_assert_msg(!resp->u.vote_resp.granted,
                  "voted twice in term 2 across a restart");
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Followers: respond to RPCs from candidates and leaders.
 * ------------------------------------------------------------------------ */

START_TEST(test_follower_respond_to_rpcs)
{
    const raft_term log[] = {1, 2};
    struct harness *h = h_single(5, &opts5, 2, 0, log, 2);
    struct raft *r = h_raft(h, 1);
    /* a candidate of term 3 */
    struct raft_msg m = h_msg_vote(2, 1, 3, 2, 2);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert_uint_eq(h_count(h, 1, 0, 0), 1);
    const struct raft_msg *resp = h_find(h, 1, 2, RAFT_MSG_VOTE_RESP, 0);
    ck_assert(resp != NULL);
    ck_assert_uint_eq(resp->from, 1);
    ck_assert_uint_eq(resp->term, 3);
    ck_assert(resp->u.vote_resp.granted);
    h_drop_all(h);
    /* the leader of term 3 turned out to be node 3 (votes from 3, 4, 5) */
    m = h_msg_append(3, 1, 3, 2, 2, 0, NULL, 0);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert_uint_eq(h_count(h, 1, 0, 0), 1);
    resp = h_find(h, 1, 3, RAFT_MSG_APPEND_RESP, 0);
    ck_assert(resp != NULL);
    ck_assert_uint_eq(resp->term, 3);
    ck_assert(resp->u.append_resp.success);
    ck_assert_uint_eq(resp->u.append_resp.index, 2);
    ck_assert_uint_eq(raft_leader(r), 3);
    ck_assert_int_eq(raft_role(r), RAFT_FOLLOWER);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Followers: if election timeout elapses without receiving AppendEntries
 * from the current leader or granting a vote: convert to candidate.
 * ------------------------------------------------------------------------ */

START_TEST(test_follower_convert_to_candidate_on_election_timeout)
{
    struct harness *h = h_new(3, &opts5);
    h_bootstrap_all(h);
    struct raft *r = h_raft(h, 1);
    unsigned t = 0;
    while (raft_role(r) == RAFT_FOLLOWER && t < 3 * E) {
        /* nothing is sent while the follower waits */
        ck_assert_uint_eq(h_count(h, 0, 0, 0), 0);
        ck_assert_int_eq(raft_tick(r), 0);
        t++;
    }
    ck_assert_int_eq(raft_role(r), RAFT_CANDIDATE);
    ck_assert_msg(t >= E && t <= E + E / 4,
                  "election after %u ticks, want [%u, %u]; seed %llu", t, E,
                  E + E / 4, (unsigned long long)opts5.seed);
    ck_assert_uint_eq(raft_current_term(r), 1);
    h_free(h);
}
END_TEST

/* A follower that hears from its leader more often than the timeout never
 * starts an election. */
START_TEST(test_follower_heartbeats_prevent_election)
{
    struct harness *h = h_new(3, &opts5);
    h_bootstrap_all(h);
    struct raft *r = h_raft(h, 1);
    for (unsigned round = 0; round < 20; round++) {
        ck_assert_int_eq(h_tick(h, 1, E - 1), 0);
        struct raft_msg m = h_msg_append(2, 1, 1, 0, 0, 0, NULL, 0);
        ck_assert_int_eq(raft_step(r, &m), 0);
    }
    ck_assert_int_eq(raft_role(r), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_current_term(r), 1);
    ck_assert_uint_eq(raft_leader(r), 2);
    h_free(h);
}
END_TEST

/* Granting a vote restarts the election timer (Figure 2, followers). */
START_TEST(test_follower_granting_vote_resets_election_timer)
{
    struct harness *h = h_new(3, &opts5);
    h_bootstrap_all(h);
    struct raft *r = h_raft(h, 1);
    ck_assert_int_eq(h_tick(h, 1, E - 1), 0);
    struct raft_msg m = h_msg_vote(2, 1, 1, 0, 0);
    ck_assert_int_eq(raft_step(r, &m), 0);
    ck_assert_uint_eq(h_status(h, 1).vote, 2);
    /* E - 1 more ticks: 2E - 2 since start, but only E - 1 since the vote */
    ck_assert_int_eq(h_tick(h, 1, E - 1), 0);
    ck_assert_int_eq(raft_role(r), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_current_term(r), 1);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Candidates: on conversion to candidate, start election: increment
 * currentTerm, vote for self, reset election timer, send RequestVote RPCs
 * to all other servers.
 * ------------------------------------------------------------------------ */

START_TEST(test_candidate_on_conversion_increment_term_vote_self_reset_timer_send_request_vote)
{
    const raft_term log[] = {1, 1, 2};
    struct harness *h = h_single(5, &opts5, 2, 0, log, 3);
    struct raft *r = h_raft(h, 1);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_CANDIDATE, 2 * E), 0);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.term, 3);
    ck_assert_uint_eq(st.vote, 1);
    ck_assert_uint_eq(st.leader, 0);
    /* one durable (3, self) before any request leaves */
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_PERSIST_STATE), 1);
    const struct h_call *ps = h_call(h, 1, H_CB_PERSIST_STATE, 0);
    ck_assert_uint_eq(ps->term, 3);
    ck_assert_uint_eq(ps->vote, 1);
    ck_assert_int_lt(h_call_pos(h, 1, H_CB_PERSIST_STATE, 0),
                     h_call_pos(h, 1, H_CB_SEND, 0));
    /* RequestVote to every other voter, none to itself */
    ck_assert_uint_eq(h_count(h, 1, 1, 0), 0);
    for (raft_id p = 2; p <= 5; p++) {
        ck_assert_uint_eq(h_count(h, 1, p, RAFT_MSG_VOTE), 1);
        const struct raft_msg *v = h_find(h, 1, p, RAFT_MSG_VOTE, 0);
        ck_assert_uint_eq(v->term, 3);
        ck_assert_uint_eq(v->u.vote.last_index, 3);
        ck_assert_uint_eq(v->u.vote.last_term, 2);
    }
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_ELECTION_START), 1);
    ck_assert_uint_eq(h_event(h, 1, RAFT_EVENT_ELECTION_START, 0)->term, 3);
    const struct h_event *re = h_event(h, 1, RAFT_EVENT_ROLE, 0);
    ck_assert(re != NULL);
    ck_assert_int_eq(re->role, RAFT_CANDIDATE);
    h_assert_disk_matches(h, 1);
    /* the timer was reset: E - 1 ticks later it is still the same election */
    ck_assert_int_eq(h_tick(h, 1, E - 1), 0);
    ck_assert_uint_eq(raft_current_term(r), 3);
    ck_assert_int_eq(raft_role(r), RAFT_CANDIDATE);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Candidates: if votes received from majority of servers: become leader.
 * ------------------------------------------------------------------------ */

START_TEST(test_candidate_become_leader_on_majority)
{
    struct harness *h = h_new(5, &opts5);
    h_bootstrap_all(h);
    struct raft *r = h_raft(h, 1);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_CANDIDATE, 2 * E), 0);
    raft_term t = raft_current_term(r);
    struct raft_msg g2 = h_msg_vote_resp(2, 1, t, true, 0, 0);
    struct raft_msg d3 = h_msg_vote_resp(3, 1, t, false, 0, 0);
    struct raft_msg g4 = h_msg_vote_resp(4, 1, t, true, 0, 0);
    ck_assert_int_eq(raft_step(r, &g2), 0);
    ck_assert_int_eq(raft_role(r), RAFT_CANDIDATE); /* 2 of 5 */
    /* the same voter twice is still one vote */
    ck_assert_int_eq(raft_step(r, &g2), 0);
    ck_assert_int_eq(raft_role(r), RAFT_CANDIDATE);
    ck_assert_int_eq(raft_step(r, &d3), 0);
    ck_assert_int_eq(raft_role(r), RAFT_CANDIDATE);
    h_reset_calls(h, 1);
    ck_assert_int_eq(raft_step(r, &g4), 0); /* 3 of 5 */
    ck_assert_int_eq(raft_role(r), RAFT_LEADER);
    ck_assert_uint_eq(raft_leader(r), 1);
    ck_assert_uint_eq(raft_current_term(r), t);
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_ELECTION_WON), 1);
    h_free(h);
}
END_TEST

/* A majority of rejections: RAFT_EVENT_ELECTION_LOST, no leadership, and a
 * later election can still be won. */
START_TEST(test_candidate_election_lost_event)
{
    const raft_term log[] = {1};
    struct harness *h = h_single(3, &opts5, 1, 0, log, 1);
    struct raft *r = h_raft(h, 1);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_CANDIDATE, 2 * E), 0);
    raft_term t = raft_current_term(r);
    /* both peers have better logs */
    struct raft_msg d2 = h_msg_vote_resp(2, 1, t, false, 2, 1);
    struct raft_msg d3 = h_msg_vote_resp(3, 1, t, false, 2, 1);
    ck_assert_int_eq(raft_step(r, &d2), 0);
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_ELECTION_LOST), 0);
    ck_assert_int_eq(raft_step(r, &d3), 0);
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_ELECTION_LOST), 1);
    ck_assert_uint_eq(h_event(h, 1, RAFT_EVENT_ELECTION_LOST, 0)->term, t);
    ck_assert_int_ne(raft_role(r), RAFT_LEADER);
    ck_assert_uint_eq(raft_current_term(r), t);
    /* a late grant of the lost term does not make it leader either way it
     * is handled; a later election is won normally */
    unsigned n = 0;
    while (raft_current_term(r) == t && n++ < 3 * E) {
        raft_tick(r);
    }
    ck_assert_uint_eq(raft_current_term(r), t + 1);
    struct raft_msg g = h_msg_vote_resp(2, 1, t + 1, true, 1, 1);
    ck_assert_int_eq(raft_step(r, &g), 0);
    ck_assert_int_eq(raft_role(r), RAFT_LEADER);
    h_free(h);
}
END_TEST

/* RAFT_EVENT_ELECTION_LOST comes once per election, from the rejection
 * that decides it: in a 5-node cluster, rejections after the third do not
 * report the loss again. */
START_TEST(test_candidate_election_lost_reported_once)
{
    const raft_term log[] = {1};
    struct harness *h = h_single(5, &opts5, 1, 0, log, 1);
    struct raft *r = h_raft(h, 1);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_CANDIDATE, 2 * E), 0);
    raft_term t = raft_current_term(r);
    for (raft_id id = 2; id <= 5; id++) {
        struct raft_msg d = h_msg_vote_resp(id, 1, t, false, 2, 1);
        ck_assert_int_eq(raft_step(r, &d), 0);
        ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_ELECTION_LOST), id < 4 ? 0 : 1);
    }
    ck_assert_uint_eq(h_event(h, 1, RAFT_EVENT_ELECTION_LOST, 0)->peer, 4);
    h_free(h);
}
END_TEST

/* raft_bootstrap invokes no callback (raft.h). */
START_TEST(test_bootstrap_invokes_no_callback)
{
    struct harness *h = h_new(3, &opts5);
    h_bootstrap_all(h);
    for (raft_id id = 1; id <= 3; id++) {
        ck_assert_uint_eq(h_ncalls(h, id, 0), 0);
        struct raft_status st = h_status(h, id);
        ck_assert_int_eq(st.role, RAFT_FOLLOWER);
        ck_assert_uint_eq(st.term, 0);
        ck_assert_uint_eq(st.last_index, 0);
        ck_assert_uint_eq(st.n_voters, 3);
    }
    h_free(h);
}
END_TEST

/* A vote granted in an older term must not count toward this one. */
START_TEST(test_candidate_ignores_votes_of_older_term)
{
    const raft_term log[] = {1};
    struct harness *h = h_single(3, &opts5, 1, 0, log, 1);
    struct raft *r = h_raft(h, 1);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_CANDIDATE, 2 * E), 0);
    raft_term t = raft_current_term(r);
    struct raft_msg old = h_msg_vote_resp(2, 1, t - 1, true, 1, 1);
    ck_assert_int_eq(raft_step(r, &old), RAFT_ESTALE);
    ck_assert_int_eq(raft_role(r), RAFT_CANDIDATE);
    /* a grant from the previous election does not count in the next */
    unsigned n = 0;
    while (raft_current_term(r) == t && n++ < 2 * E) {
        raft_tick(r);
    }
    ck_assert_uint_eq(raft_current_term(r), t + 1);
    struct raft_msg stale = h_msg_vote_resp(2, 1, t, true, 1, 1);
    ck_assert_int_eq(raft_step(r, &stale), RAFT_ESTALE);
    ck_assert_int_eq(raft_role(r), RAFT_CANDIDATE);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Candidates: if AppendEntries RPC received from new leader: convert to
 * follower.
 * ------------------------------------------------------------------------ */

START_TEST(test_candidate_convert_to_follower_on_append_from_new_leader)
{
    const raft_term log[] = {1, 2};
    struct harness *h = h_single(3, &opts5, 2, 0, log, 2);
    struct raft *r = h_raft(h, 1);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_CANDIDATE, 2 * E), 0);
    ck_assert_uint_eq(raft_current_term(r), 3);
    h_drop_all(h);
    h_reset_calls(h, 1);
    /* same term: node 2 won this term */
    struct raft_msg m = h_msg_append(2, 1, 3, 2, 2, 0, NULL, 0);
    ck_assert_int_eq(raft_step(r, &m), 0);
    struct raft_status st = h_status(h, 1);
    ck_assert_int_eq(st.role, RAFT_FOLLOWER);
    ck_assert_uint_eq(st.term, 3);
    ck_assert_uint_eq(st.leader, 2);
    /* the vote of term 3 was given (to itself) and must stay */
    ck_assert_uint_eq(st.vote, 1);
    /* the role change is reported in this call, though the term stays */
    const struct h_event *ev = h_event(h, 1, RAFT_EVENT_ROLE, 0);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->role, RAFT_FOLLOWER);
    ck_assert_uint_eq(ev->term, 3);
    const struct raft_msg *resp = h_find(h, 1, 2, RAFT_MSG_APPEND_RESP, 0);
    ck_assert(resp != NULL);
    ck_assert(resp->u.append_resp.success);
    ck_assert_uint_eq(resp->term, 3);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Candidates: if election timeout elapses: start new election.
 * ------------------------------------------------------------------------ */

START_TEST(test_candidate_start_new_election_on_timeout)
{
    const raft_term log[] = {1, 2};
    struct harness *h = h_single(3, &opts5, 2, 0, log, 2);
    struct raft *r = h_raft(h, 1);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_CANDIDATE, 2 * E), 0);
    h_drop_all(h);
    h_reset_calls(h, 1);
    unsigned t = 0;
    while (raft_current_term(r) == 3 && t < 3 * E) {
        ck_assert_int_eq(raft_tick(r), 0);
        t++;
    }
    ck_assert_msg(t >= E && t <= E + E / 4,
                  "new election after %u ticks, want [%u, %u]; seed %llu", t,
                  E, E + E / 4, (unsigned long long)opts5.seed);
    struct raft_status st = h_status(h, 1);
    ck_assert_int_eq(st.role, RAFT_CANDIDATE);
    ck_assert_uint_eq(st.term, 4);
    ck_assert_uint_eq(st.vote, 1);
    const struct h_call *ps = h_call(h, 1, H_CB_PERSIST_STATE, 0);
    ck_assert(ps != NULL);
    ck_assert_uint_eq(ps->term, 4);
    ck_assert_uint_eq(ps->vote, 1);
    for (raft_id p = 2; p <= 3; p++) {
        const struct raft_msg *v = h_find(h, 1, p, RAFT_MSG_VOTE, 0);
        ck_assert(v != NULL);
        ck_assert_uint_eq(v->term, 4);
    }
    h_free(h);
}
END_TEST

/* An end-to-end election in a real (harness) cluster: every node agrees on
 * the leader and the term, and the persisted state matches. */
START_TEST(test_election_in_cluster_all_agree)
{
    struct harness *h = h_new(5, &opts5);
    h_bootstrap_all(h);
    h_elect(h, 3);
    h_heartbeat(h, 3, 1);
    for (raft_id id = 1; id <= 5; id++) {
        struct raft_status st = h_status(h, id);
        ck_assert_uint_eq(st.term, 1);
        ck_assert_uint_eq(st.leader, 3);
        ck_assert_int_eq(st.role, id == 3 ? RAFT_LEADER : RAFT_FOLLOWER);
        h_assert_disk_matches(h, id);
    }
    h_free(h);
}
END_TEST

/* Liveness with simultaneous timeouts: every node is ticked in lockstep,
 * so candidates collide; a leader must still emerge quickly, and never two
 * in one term (Election Safety). Seeded; the seed is in every message. */
START_TEST(test_election_liveness_with_simultaneous_timeouts)
{
    static const size_t sizes[] = {3, 5};
    for (size_t si = 0; si < H_ARRAY_LEN(sizes); si++) {
        for (uint64_t seed = 1; seed <= 30; seed++) {
            struct h_opts o = {.election_ticks = E, .heartbeat_ticks = 1,
                               .seed = seed};
            struct harness *h = h_new(sizes[si], &o);
            h_bootstrap_all(h);
            raft_id leader_of[64] = {0};
            raft_id leader = 0;
            unsigned t;
            for (t = 0; t < 20 * E && leader == 0; t++) {
                for (raft_id id = 1; id <= h->n; id++) {
                    raft_tick(h_raft(h, id));
                }
                h_deliver_all(h);
                for (raft_id id = 1; id <= h->n; id++) {
                    struct raft_status st = h_status(h, id);
                    if (st.role != RAFT_LEADER) {
                        continue;
                    }
                    ck_assert_uint_lt(st.term, 64);
                    ck_assert_msg(leader_of[st.term] == 0 ||
                                      leader_of[st.term] == id,
                                  "seed %llu, %zu nodes: two leaders in term "
                                  "%llu", (unsigned long long)seed, h->n,
                                  (unsigned long long)st.term);
                    leader_of[st.term] = id;
                    leader = id;
                }
            }
            ck_assert_msg(leader != 0,
                          "seed %llu, %zu nodes: no leader after %u ticks",
                          (unsigned long long)seed, h->n, t);
            ck_assert_msg(t <= 5 * E, "seed %llu, %zu nodes: leader only "
                          "after %u ticks", (unsigned long long)seed, h->n, t);
            h_free(h);
        }
    }
}
END_TEST

/* The term space is finite: a node at term UINT64_MAX - 1 cannot start an
 * election (a message of term UINT64_MAX is malformed, raft.h), must not
 * send one, and stays a sane follower. With PreVote (_i == 1) not even a
 * pre-vote: it asks for a term that could not be taken. */
START_TEST(test_term_space_exhausted)
{
    const raft_term log[] = {1};
    struct h_opts o = opts5;
    o.pre_vote = _i == 1;
    struct harness *h = h_new(3, &o);
    ck_assert_int_eq(h_restore(h, 1, UINT64_MAX - 1, 0, log, 1), 0);
    /* raft_restore of term UINT64_MAX is not a possible state */
    ck_assert_int_eq(h_restore(h, 2, UINT64_MAX, 0, log, 1), RAFT_EINVAL);
    ck_assert_uint_gt(h_tick_count(h, 1, 5 * E, RAFT_ENOSPACE), 0);
    for (size_t k = 0; k < h_count(h, 1, 0, 0); k++) {
        ck_assert_uint_lt(h_find(h, 1, 0, 0, k)->term, UINT64_MAX);
    }
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.term, UINT64_MAX - 1);
    ck_assert_int_eq(st.role, RAFT_FOLLOWER);
    h_assert_disk_matches(h, 1);
    /* it still votes and follows in its term */
    struct raft_msg m = h_msg_append(3, 1, UINT64_MAX - 1, 1, 1, 1, NULL, 0);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    ck_assert_uint_eq(h_status(h, 1).commit, 1);
    h_free(h);
}
END_TEST

/* TIMEOUT_NOW of term UINT64_MAX - 2 still leaves one term to campaign
 * in: the node adopts it and starts the election of term UINT64_MAX - 1,
 * the last one (the bound is exact, as in test_term_space_exhausted). */
START_TEST(test_timeout_now_at_last_usable_term)
{
    const raft_term log[] = {1};
    struct harness *h = h_new(3, &opts5);
    ck_assert_int_eq(h_restore(h, 1, UINT64_MAX - 3, 0, log, 1), 0);
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_TIMEOUT_NOW;
    m.from = 2;
    m.to = 1;
    m.term = UINT64_MAX - 2;
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    struct raft_status st = h_status(h, 1);
    ck_assert_int_eq(st.role, RAFT_CANDIDATE);
    ck_assert_uint_eq(st.term, UINT64_MAX - 1);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_VOTE), 2);
    h_free(h);
}
END_TEST

/* Only the campaign TIMEOUT_NOW starts carries the transfer flag (voters
 * hear it despite stickiness): when it fails, the node's next campaign, on
 * its own timeout, is an ordinary one. */
START_TEST(test_transfer_flag_only_on_the_campaign_timeout_now_starts)
{
    const raft_term log[] = {1};
    struct harness *h = h_single(3, &opts5, 1, 0, log, 1);
    struct raft_msg hb = h_msg_append(2, 1, 1, 1, 1, 0, NULL, 0);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &hb), 0);
    h_drop_all(h);
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_TIMEOUT_NOW;
    m.from = 2;
    m.to = 1;
    m.term = 1;
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    ck_assert_uint_eq(h_status(h, 1).term, 2);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_VOTE), 2);
    ck_assert(h_find(h, 1, 3, RAFT_MSG_VOTE, 0)->u.vote.transfer);
    h_drop_all(h);
    for (unsigned i = 0; i < 3 * E && h_status(h, 1).term == 2; i++) {
        ck_assert_int_eq(raft_tick(h_raft(h, 1)), 0);
    }
    ck_assert_uint_eq(h_status(h, 1).term, 3);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_VOTE), 2);
    ck_assert(!h_find(h, 1, 2, RAFT_MSG_VOTE, 0)->u.vote.transfer);
    ck_assert(!h_find(h, 1, 3, RAFT_MSG_VOTE, 0)->u.vote.transfer);
    h_free(h);
}
END_TEST

/* Split votes: a candidate that meets another candidate of its term with
 * a less up-to-date log (or, the logs equal, a higher id) is preferred and
 * retries one heartbeat interval later (_i == 0). One that then meets a
 * candidate it is not preferred to yields: it waits out its full timeout
 * again, however it was shortened before (_i == 1). One that hears the
 * leader of its term instead follows it with a full timeout too (_i == 2). */
START_TEST(test_split_vote_order)
{
    const raft_term log[] = {1};
    struct harness *h = h_single(5, &opts5, 1, 0, log, 1);
    struct raft *r = h_raft(h, 1);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_CANDIDATE, 3 * E), 0);
    raft_term t = raft_current_term(r);
    h_drop_all(h);
    struct raft_msg v = h_msg_vote(4, 1, t, 1, 1);
    ck_assert_int_eq(raft_step(r, &v), 0);
    ck_assert(!h_find(h, 1, 4, RAFT_MSG_VOTE_RESP, 0)->u.vote_resp.granted);
    if (_i == 1) {
        v = h_msg_vote(2, 1, t, 5, 1);
        ck_assert_int_eq(raft_step(r, &v), 0);
        ck_assert(!h_find(h, 1, 2, RAFT_MSG_VOTE_RESP, 0)->u.vote_resp.granted);
    } else if (_i == 2) {
        struct raft_msg ae = h_msg_append(4, 1, t, 1, 1, 0, NULL, 0);
        ck_assert_int_eq(raft_step(r, &ae), 0);
        ck_assert_int_eq(raft_role(r), RAFT_FOLLOWER);
        ck_assert_uint_eq(raft_leader(r), 4);
    }
    unsigned ticks = 0;
    while (raft_current_term(r) == t && ticks < 3 * E) {
        ck_assert_int_eq(raft_tick(r), 0);
        ticks++;
    }
    ck_assert_uint_eq(raft_current_term(r), t + 1);
    if (_i == 0) {
        ck_assert_uint_eq(ticks, opts5.heartbeat_ticks);
    } else {
        ck_assert_uint_ge(ticks, E);
    }
    h_free(h);
}
END_TEST

Suite *raft_election_suite(void)
{
    Suite *s = suite_create("election");
    TCase *tc = tcase_create("figure2");
    h_tcase_cleanup(tc);
    tcase_add_loop_test(tc,
                        test_all_servers_if_rpc_term_greater_then_convert_to_follower,
                        0, (int)H_ARRAY_LEN(higher_term_cases));
    tcase_add_test(tc, test_request_vote_reply_false_if_term_lt_current_term);
    tcase_add_loop_test(
        tc, test_request_vote_grant_if_voted_for_null_or_candidate_and_log_up_to_date,
        0, (int)H_ARRAY_LEN(vote_cases));
    tcase_add_test(tc, test_request_vote_candidate_refuses_other_candidate_same_term);
    tcase_add_test(tc, test_persist_term_and_vote_in_one_call_before_vote_reply);
    tcase_add_test(tc, test_vote_survives_restart);
    tcase_add_test(tc, test_follower_respond_to_rpcs);
    tcase_add_test(tc, test_follower_convert_to_candidate_on_election_timeout);
    tcase_add_test(tc, test_follower_heartbeats_prevent_election);
    tcase_add_test(tc, test_follower_granting_vote_resets_election_timer);
    tcase_add_test(
        tc, test_candidate_on_conversion_increment_term_vote_self_reset_timer_send_request_vote);
    tcase_add_test(tc, test_candidate_become_leader_on_majority);
    tcase_add_test(tc, test_candidate_ignores_votes_of_older_term);
    tcase_add_test(tc, test_candidate_election_lost_event);
    tcase_add_test(tc, test_candidate_election_lost_reported_once);
    tcase_add_test(tc, test_bootstrap_invokes_no_callback);
    tcase_add_test(tc, test_candidate_convert_to_follower_on_append_from_new_leader);
    tcase_add_test(tc, test_candidate_start_new_election_on_timeout);
    tcase_add_test(tc, test_election_in_cluster_all_agree);
    tcase_add_test(tc, test_election_liveness_with_simultaneous_timeouts);
    tcase_add_loop_test(tc, test_term_space_exhausted, 0, 2);
    tcase_add_test(tc, test_timeout_now_at_last_usable_term);
    tcase_add_test(tc, test_transfer_flag_only_on_the_campaign_timeout_now_starts);
    tcase_add_loop_test(tc, test_split_vote_order, 0, 3);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
