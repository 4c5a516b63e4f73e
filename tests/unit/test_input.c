/*
 * test_input.c - bad input to raft_step, one case each.
 *
 * For every case: the return code is the documented one; the node is
 * unchanged (raft_status, log, no persist or apply callback); it sends
 * nothing except the documented reply to a stale-term request; the
 * rejection is reported as RAFT_EVENT_MSG_REJECTED; and the node still
 * works afterwards.
 *
 * Many malformed messages carry a HIGHER term than the node's on purpose:
 * a node that adopts the term before validating the message would change
 * (and persist) its term on garbage.
 */
#include <string.h>

#include "harness.h"
#include "suites.h"

#define E 10u
#define MAX_ENTRIES 4u
#define MAX_BYTES 64u

static const struct h_opts opts = {.election_ticks = E, .heartbeat_ticks = 1,
                                   .seed = 3, .max_msg_entries = MAX_ENTRIES,
                                   .max_msg_bytes = MAX_BYTES};

/* Roles the target node is put in before the bad message. */
enum {
    FOLLOWER, /* term 5, log [1,1,2], leader 2 known, commit 1 */
    CANDIDATE, /* term 6 (from term 5, log [1,1,2]) */
    LEADER     /* term 6, log [1,1,2,6(no-op)] */
};

static struct harness *setup(int role)
{
    const raft_term log[] = {1, 1, 2};
    struct harness *h = h_single(3, &opts, 5, 0, log, 3);
    struct raft *r = h_raft(h, 1);
    if (role == FOLLOWER) {
        struct raft_msg hb = h_msg_append(2, 1, 5, 3, 2, 1, NULL, 0);
        ck_assert_int_eq(raft_step(r, &hb), 0);
        ck_assert_uint_eq(raft_leader(r), 2);
    } else if (role == CANDIDATE) {
        ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_CANDIDATE, 2 * E), 0);
        ck_assert_uint_eq(raft_current_term(r), 6);
    } else {
        h_make_leader_scripted(h, 1);
        ck_assert_uint_eq(raft_current_term(r), 6);
    }
    h_drop_all(h);
    h_reset_all_calls(h);
    return h;
}

/* A message the node in `role` must accept, to show it still works. */
static void still_works(struct harness *h, int role, const char *name)
{
    struct raft *r = h_raft(h, 1);
    h_drop_all(h);
    h_reset_all_calls(h);
    int rc;
    if (role == FOLLOWER) {
        struct raft_msg hb = h_msg_append(2, 1, 5, 3, 2, 3, NULL, 0);
        rc = raft_step(r, &hb);
        ck_assert_msg(rc == 0, "%s: afterwards a heartbeat gives %d", name, rc);
        const struct raft_msg *resp = h_find(h, 1, 2, RAFT_MSG_APPEND_RESP, 0);
        ck_assert_msg(resp != NULL && resp->u.append_resp.success,
                      "%s: afterwards a heartbeat is not acked", name);
        ck_assert_uint_eq(h_status(h, 1).commit, 3);
    } else if (role == CANDIDATE) {
        struct raft_msg g = h_msg_vote_resp(2, 1, 6, true, 3, 2);
        rc = raft_step(r, &g);
        ck_assert_msg(rc == 0 && raft_role(r) == RAFT_LEADER,
                      "%s: afterwards a granted vote gives %d, role %d", name,
                      rc, raft_role(r));
    } else {
        struct raft_msg ok = h_msg_append_resp(2, 1, 6, true, 4, 0, 0);
        rc = raft_step(r, &ok);
        ck_assert_msg(rc == 0, "%s: afterwards an ack gives %d", name, rc);
        ck_assert_uint_eq(h_progress(h, 1, 2).match, 4);
    }
}

/* Entry payload storage for the cases (stable for the test's duration). */
static char pay40[40];
static char pay64[64];

struct bad_case {
    const char *name;
    int role;
    int want;      /* expected raft_step code */
    bool replies;  /* a stale-term request: answered with our term */
    void (*build)(struct raft_msg *m, struct raft_entry *ents);
};

/* Shorthand builders. A valid APPEND of term 6 from 2 at prev (3,2) with
 * entries of term 6, which the follower would accept; each case breaks one
 * thing. */
static void base_append(struct raft_msg *m, struct raft_entry *ents,
                        size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ents[i].term = 6;
        ents[i].type = RAFT_ENTRY_COMMAND;
        ents[i].buf = "e";
        ents[i].len = 1;
    }
    *m = h_msg_append(2, 1, 6, 3, 2, 3, ents, n);
}

/* A reply from a node that is not a member (requests from non-members
 * are taken: their sender may be in a configuration not seen yet). */
static void b_unknown_sender(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 1);
    m->from = 9;
    m->type = RAFT_MSG_APPEND_RESP;
    memset(&m->u, 0, sizeof(m->u));
    m->u.append_resp.index = 3;
}
static void b_from_self(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 1);
    m->from = 1;
}
static void b_wrong_recipient(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 1);
    m->to = 3;
}
static void b_zero_sender(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 1);
    m->from = 0;
}
static void b_stale_append(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 1);
    m->term = 4;
    e[0].term = 4;
}
static void b_stale_vote(struct raft_msg *m, struct raft_entry *e)
{
    (void)e;
    *m = h_msg_vote(3, 1, 4, 9, 4); /* better log, older term */
}
static void b_stale_vote_resp(struct raft_msg *m, struct raft_entry *e)
{
    (void)e;
    *m = h_msg_vote_resp(2, 1, 5, true, 3, 2); /* from the previous term */
}
static void b_stale_append_resp(struct raft_msg *m, struct raft_entry *e)
{
    (void)e;
    *m = h_msg_append_resp(2, 1, 5, true, 3, 0, 0);
}
static void b_term_zero(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 0);
    m->term = 0;
}
static void b_term_max(struct raft_msg *m, struct raft_entry *e)
{
    (void)e;
    *m = h_msg_vote(2, 1, UINT64_MAX, 3, 2);
}
static void b_prev_index0_term1(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 1);
    m->u.append.prev_index = 0;
    m->u.append.prev_term = 1;
}
static void b_prev_index2_term0(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 1);
    m->u.append.prev_index = 2;
    m->u.append.prev_term = 0;
}
static void b_prev_term_above_msg(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 0);
    m->u.append.prev_term = 7; /* the message is of term 6 */
}
static void b_entry_payload_null(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 2);
    e[1].buf = NULL; /* len stays 1 */
}
static void b_vote_index0_term1(struct raft_msg *m, struct raft_entry *e)
{
    (void)e;
    *m = h_msg_vote(2, 1, 6, 0, 1);
}
static void b_vote_index3_term0(struct raft_msg *m, struct raft_entry *e)
{
    (void)e;
    *m = h_msg_vote(2, 1, 6, 3, 0);
}
static void b_vote_resp_index0_term2(struct raft_msg *m, struct raft_entry *e)
{
    (void)e;
    *m = h_msg_vote_resp(2, 1, 6, true, 0, 2);
}
static void b_vote_resp_unknown(struct raft_msg *m, struct raft_entry *e)
{
    (void)e;
    *m = h_msg_vote_resp(9, 1, 6, true, 0, 0);
}
static void b_terms_decrease(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 2);
    e[0].term = 5;
    e[1].term = 4;
}
static void b_term_above_msg(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 1);
    e[0].term = 7;
}
static void b_term_below_prev(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 1);
    e[0].term = 1; /* prev_term is 2 */
}
static void b_entry_term0(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 2);
    e[1].term = 0;
}
static void b_entry_type_unknown(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 2);
    e[1].type = 99;
}
static void b_entry_type_zero(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 1);
    e[0].type = 0;
}
static void b_msg_type_unknown(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 0);
    m->type = 99;
}
static void b_msg_type_zero(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 0);
    m->type = 0;
}
static void b_entries_null(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 2);
    m->u.append.entries = NULL;
}
static void b_index_overflow(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 2);
    m->u.append.prev_index = UINT64_MAX - 1;
}
/* Above the safety caps (the node's own, smaller, limits bound only what
 * it sends). Rejected on the count and lengths alone, before any payload
 * is read, so the small buffers behind them are never overrun. */
static void b_too_many_entries(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 1);
    m->u.append.n_entries = (size_t)RAFT_MAX_ACCEPT_ENTRIES + 1;
}
static void b_too_many_bytes(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 2);
    e[0].buf = e[1].buf = pay40;
    e[0].len = RAFT_MAX_ACCEPT_BYTES;
    e[1].len = 1;
}
/* Several faults in one message: the first entry's first fault, in the
 * order the checks are listed, is the one reported (the codes differ). */
static void b_bytes_then_term(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 2);
    e[0].buf = pay40;
    e[0].len = (size_t)RAFT_MAX_ACCEPT_BYTES + 1;
    e[1].term = 7;
}
static void b_term_then_bytes(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 2);
    e[0].term = 7;
    e[1].buf = pay40;
    e[1].len = (size_t)RAFT_MAX_ACCEPT_BYTES + 1;
}
static void b_sum_then_term(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 3);
    e[0].buf = e[1].buf = pay40;
    e[0].len = RAFT_MAX_ACCEPT_BYTES;
    e[2].term = 7;
}
static void b_term_with_sum(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 2);
    e[0].buf = e[1].buf = pay40;
    e[0].len = RAFT_MAX_ACCEPT_BYTES;
    e[1].term = 7;
}
static void b_second_leader(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 0);
    m->from = 3; /* node 2 is the leader of term 5 */
    m->term = 5;
}
/* A snapshot chunk is a leader's message too: from a node other than the
 * known leader of our term it is refused before anything else is looked
 * at (here the node has no snapshot callbacks, which would give
 * RAFT_EINVAL). */
static void b_second_leader_snapshot(struct raft_msg *m, struct raft_entry *e)
{
    (void)e;
    memset(m, 0, sizeof(*m));
    m->type = RAFT_MSG_SNAPSHOT;
    m->from = 3; /* node 2 is the leader of term 5 */
    m->to = 1;
    m->term = 5;
    m->u.snapshot.index = 3;
    m->u.snapshot.index_term = 2;
    m->u.snapshot.len = sizeof(pay40);
    m->u.snapshot.data = pay40;
}
static void b_leader_other_leader(struct raft_msg *m, struct raft_entry *e)
{
    base_append(m, e, 0);
    m->u.append.prev_index = 3;
    m->u.append.prev_term = 2;
}
static void b_ack_past_log(struct raft_msg *m, struct raft_entry *e)
{
    (void)e;
    *m = h_msg_append_resp(2, 1, 6, true, 9, 0, 0);
}
static void b_reject_past_log(struct raft_msg *m, struct raft_entry *e)
{
    (void)e;
    *m = h_msg_append_resp(2, 1, 6, false, 9, 4, 6);
}

static const struct bad_case cases[] = {
    {"unknown sender", FOLLOWER, RAFT_ENOTMEMBER, false, b_unknown_sender},
    {"sender is this node", FOLLOWER, RAFT_ENOTMEMBER, false, b_from_self},
    {"sender id 0", FOLLOWER, RAFT_ENOTMEMBER, false, b_zero_sender},
    {"vote from an unknown node", CANDIDATE, RAFT_ENOTMEMBER, false,
     b_vote_resp_unknown},
    {"wrong recipient", FOLLOWER, RAFT_EBADMSG, false, b_wrong_recipient},
    {"stale APPEND", FOLLOWER, RAFT_ESTALE, true, b_stale_append},
    {"stale VOTE", FOLLOWER, RAFT_ESTALE, true, b_stale_vote},
    {"stale VOTE_RESP", CANDIDATE, RAFT_ESTALE, false, b_stale_vote_resp},
    {"stale APPEND_RESP", LEADER, RAFT_ESTALE, false, b_stale_append_resp},
    {"term 0", FOLLOWER, RAFT_EBADMSG, false, b_term_zero},
    {"term UINT64_MAX", FOLLOWER, RAFT_EBADMSG, false, b_term_max},
    {"prev_index 0 with prev_term 1", FOLLOWER, RAFT_EBADMSG, false,
     b_prev_index0_term1},
    {"prev_index 2 with prev_term 0", FOLLOWER, RAFT_EBADMSG, false,
     b_prev_index2_term0},
    {"prev_term above message term", FOLLOWER, RAFT_EBADMSG, false,
     b_prev_term_above_msg},
    {"entry payload NULL with len 1", FOLLOWER, RAFT_EBADMSG, false,
     b_entry_payload_null},
    {"VOTE last_index 0 with last_term 1", FOLLOWER, RAFT_EBADMSG, false,
     b_vote_index0_term1},
    {"VOTE last_index 3 with last_term 0", FOLLOWER, RAFT_EBADMSG, false,
     b_vote_index3_term0},
    {"VOTE_RESP last_index 0 with last_term 2", CANDIDATE, RAFT_EBADMSG, false,
     b_vote_resp_index0_term2},
    {"entry terms decrease", FOLLOWER, RAFT_EBADMSG, false, b_terms_decrease},
    {"entry term above message term", FOLLOWER, RAFT_EBADMSG, false,
     b_term_above_msg},
    {"entry term below prev_term", FOLLOWER, RAFT_EBADMSG, false,
     b_term_below_prev},
    {"entry term 0", FOLLOWER, RAFT_EBADMSG, false, b_entry_term0},
    {"unknown entry type", FOLLOWER, RAFT_EBADMSG, false,
     b_entry_type_unknown},
    {"entry type 0", FOLLOWER, RAFT_EBADMSG, false, b_entry_type_zero},
    {"unknown message type", FOLLOWER, RAFT_EBADMSG, false,
     b_msg_type_unknown},
    {"message type 0", FOLLOWER, RAFT_EBADMSG, false, b_msg_type_zero},
    {"entries NULL with n_entries 2", FOLLOWER, RAFT_EBADMSG, false,
     b_entries_null},
    {"index range overflows", FOLLOWER, RAFT_EBADMSG, false, b_index_overflow},
    {"n_entries > RAFT_MAX_ACCEPT_ENTRIES", FOLLOWER, RAFT_ETOOBIG, false,
     b_too_many_entries},
    {"payload bytes > RAFT_MAX_ACCEPT_BYTES", FOLLOWER, RAFT_ETOOBIG, false,
     b_too_many_bytes},
    {"too big entry before a term above the message's", FOLLOWER,
     RAFT_ETOOBIG, false, b_bytes_then_term},
    {"term above the message's before a too big entry", FOLLOWER,
     RAFT_EBADMSG, false, b_term_then_bytes},
    {"byte total over the cap before a later bad term", FOLLOWER,
     RAFT_ETOOBIG, false, b_sum_then_term},
    {"bad term on the entry that passes the byte cap", FOLLOWER,
     RAFT_EBADMSG, false, b_term_with_sum},
    {"second leader in the same term", FOLLOWER, RAFT_EBADMSG, false,
     b_second_leader},
    {"snapshot from a second leader in the same term", FOLLOWER, RAFT_EBADMSG,
     false, b_second_leader_snapshot},
    {"another leader in the leader's own term", LEADER, RAFT_EBADMSG, false,
     b_leader_other_leader},
    {"ack of an index past the leader's log", LEADER, RAFT_EBADMSG, false,
     b_ack_past_log},
};

START_TEST(test_bad_input_rejected_and_node_unchanged)
{
    const struct bad_case *c = &cases[_i];
    struct harness *h = setup(c->role);
    struct raft *r = h_raft(h, 1);
    struct raft_status before = h_status(h, 1);
    raft_term log_before[16];
    size_t n_before = h_log_terms(h, 1, log_before, 16);
    struct raft_entry ents[MAX_ENTRIES + 1];
    struct raft_msg m;
    memset(ents, 0, sizeof(ents));
    c->build(&m, ents);

    int rc = raft_step(r, &m);
    ck_assert_msg(rc == c->want, "%s: raft_step = %d (%s), want %d (%s)",
                  c->name, rc, raft_strerror(rc), c->want,
                  raft_strerror(c->want));
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, c->name);
    h_assert_log_terms(h, 1, log_before, n_before);
    ck_assert_msg(h_ncalls(h, 1, H_CB_PERSIST_STATE) == 0 &&
                      h_ncalls(h, 1, H_CB_PERSIST_ENTRIES) == 0 &&
                      h_ncalls(h, 1, H_CB_APPLY) == 0,
                  "%s: persist/apply callbacks were called", c->name);
    h_assert_disk_matches(h, 1);
    if (c->replies) {
        ck_assert_msg(h_count(h, 1, 0, 0) == 1,
                      "%s: want exactly one reply, got %zu messages", c->name,
                      h_count(h, 1, 0, 0));
        const struct raft_msg *resp = h_find(h, 1, 0, 0, 0);
        ck_assert_msg(resp->to == m.from && resp->term == before.term,
                      "%s: reply to %llu term %llu", c->name,
                      (unsigned long long)resp->to,
                      (unsigned long long)resp->term);
        if (resp->type == RAFT_MSG_VOTE_RESP) {
            ck_assert(!resp->u.vote_resp.granted);
        } else {
            ck_assert_int_eq(resp->type, RAFT_MSG_APPEND_RESP);
            ck_assert(!resp->u.append_resp.success);
        }
    } else {
        ck_assert_msg(h_count(h, 1, 0, 0) == 0, "%s: sent %zu messages",
                      c->name, h_count(h, 1, 0, 0));
    }
    const struct h_event *ev = h_event(h, 1, RAFT_EVENT_MSG_REJECTED, 0);
    ck_assert_msg(ev != NULL, "%s: no RAFT_EVENT_MSG_REJECTED", c->name);
    ck_assert_msg(ev->error == c->want, "%s: event error %d", c->name,
                  ev->error);
    ck_assert_msg(h_nevents(h, 1, RAFT_EVENT_ROLE) == 0 &&
                      h_nevents(h, 1, RAFT_EVENT_TERM) == 0,
                  "%s: role/term events", c->name);
    still_works(h, c->role, c->name);
    h_free(h);
}
END_TEST

START_TEST(test_step_null_message_is_einval)
{
    struct harness *h = setup(FOLLOWER);
    struct raft_status before = h_status(h, 1);
    ck_assert_int_eq(raft_step(h_raft(h, 1), NULL), RAFT_EINVAL);
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, "NULL message");
    still_works(h, FOLLOWER, "NULL message");
    h_free(h);
}
END_TEST

/* A rejection naming an index past the leader's log is not malformed: a
 * node answers a stale-term request with its own newer term, so a leader of
 * that newer term can receive the answer to what it sent, with a longer
 * log, as leader of an older term. It is ignored: no error, nothing sent,
 * nothing changed. */
START_TEST(test_rejection_past_log_is_ignored)
{
    struct harness *h = setup(LEADER);
    struct raft_msg m;
    struct raft_status before = h_status(h, 1);
    b_reject_past_log(&m, NULL);
    ck_assert_uint_gt(m.u.append_resp.index, before.last_index);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, "rejection past the log");
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_APPEND), 0);
    still_works(h, LEADER, "rejection past the log");
    h_free(h);
}
END_TEST

/* A message at this node's own sending limits is accepted (and so is a
 * larger one: see test_flow.c). */
START_TEST(test_limits_are_inclusive)
{
    struct harness *h = setup(FOLLOWER);
    struct raft_entry ents[MAX_ENTRIES];
    struct raft_msg m;
    base_append(&m, ents, MAX_ENTRIES);
    m.term = 5;
    for (size_t i = 0; i < MAX_ENTRIES; i++) {
        ents[i].term = 5;
    }
    ents[0].buf = pay64;
    ents[0].len = MAX_BYTES - (MAX_ENTRIES - 1);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    ck_assert_uint_eq(h_status(h, 1).last_index, 3 + MAX_ENTRIES);
    h_free(h);
}
END_TEST

/* A flood of garbage of every kind, in a row, leaves the node exactly as
 * it was: rejections accumulate no state. */
START_TEST(test_bad_input_flood_leaves_follower_unchanged)
{
    struct harness *h = setup(FOLLOWER);
    struct raft_status before = h_status(h, 1);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < H_ARRAY_LEN(cases); i++) {
            if (cases[i].role != FOLLOWER) {
                continue;
            }
            struct raft_entry ents[MAX_ENTRIES + 1];
            struct raft_msg m;
            cases[i].build(&m, ents);
            ck_assert_int_eq(raft_step(h_raft(h, 1), &m), cases[i].want);
        }
    }
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, "flood");
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_PERSIST_STATE), 0);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_PERSIST_ENTRIES), 0);
    still_works(h, FOLLOWER, "flood");
    h_free(h);
}
END_TEST

Suite *raft_input_suite(void)
{
    Suite *s = suite_create("input");
    TCase *tc = tcase_create("bad_input");
    h_tcase_cleanup(tc);
    tcase_add_loop_test(tc, test_bad_input_rejected_and_node_unchanged, 0,
                        (int)H_ARRAY_LEN(cases));
    tcase_add_test(tc, test_step_null_message_is_einval);
    tcase_add_test(tc, test_rejection_past_log_is_ignored);
    tcase_add_test(tc, test_limits_are_inclusive);
    tcase_add_test(tc, test_bad_input_flood_leaves_follower_unchanged);
    suite_add_tcase(s, tc);
    return s;
}
