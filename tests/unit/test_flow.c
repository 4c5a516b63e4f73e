/*
 * test_flow.c - flow control on real networks: failed sends while probing,
 * round trips longer than the heartbeat interval, nodes configured with
 * different message limits, and bytes in flight.
 *
 * Each test measures what the leader sends (entries and messages) and
 * bounds it by what the scenario needs.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

/* Totals of AppendEntries traffic to one follower. */
struct flow_count {
    size_t msgs;
    size_t entries;
    size_t bytes;
};

static void count_msg(struct flow_count *c, const struct raft_msg *m)
{
    if (m->type != RAFT_MSG_APPEND) {
        return;
    }
    c->msgs++;
    c->entries += m->u.append.n_entries;
    for (size_t i = 0; i < m->u.append.n_entries; i++) {
        c->bytes += m->u.append.entries[i].len;
    }
}

/* Deliver every message in flight (and those they cause), counting the
 * leader's AppendEntries to `to`. */
static void deliver_counting(struct harness *h, raft_id leader, raft_id to,
                             struct flow_count *c)
{
    struct h_msg m;
    /* Bounded by the test's small scenario. */
    for (unsigned i = 0; i < 100000 && h_pop(h, &m); i++) {
        if (m.m.from == leader && m.m.to == to) {
            count_msg(c, &m.m);
        }
        raft_step(h_raft(h, m.m.to), &m.m);
        h_msg_free(&m);
    }
}

/* Three nodes restored with the same long log of term 1. */
static struct harness *long_log_cluster(size_t nlog, const struct h_opts *o)
{
    struct harness *h = h_new(3, o);
    raft_term *terms = malloc(nlog * sizeof(*terms));
    ck_assert_ptr_nonnull(terms);
    for (size_t i = 0; i < nlog; i++) {
        terms[i] = 1;
    }
    for (raft_id id = 1; id <= 3; id++) {
        ck_assert_int_eq(h_restore(h, id, 1, 0, terms, nlog), 0);
    }
    free(terms);
    return h;
}

/*
 * A new leader's first AppendEntries to a follower that already holds the
 * whole log fails to send. The leader must retry from where it was, not
 * from the start of the log.
 */
START_TEST(test_failed_send_keeps_probe_position)
{
    struct h_opts o = {.seed = 3};
    struct harness *h = long_log_cluster(3001, &o);
    ck_assert_uint_ne(h_tick_until_role(h, 1, RAFT_CANDIDATE, 100), 0);
    h_deliver_one(h, 1, 2, RAFT_MSG_VOTE);
    h_deliver_one(h, 1, 3, RAFT_MSG_VOTE);
    h_node(h, 1)->fail_send_to[2] = 1; /* the first AppendEntries to 2 */
    struct flow_count c = {0, 0, 0};
    deliver_counting(h, 1, 2, &c);
    ck_assert_uint_eq(h_node(h, 1)->fail_send_to[2], 0);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    for (unsigned i = 0; i < 5; i++) {
        h_tick(h, 1, 1);
        deliver_counting(h, 1, 2, &c);
    }
    ck_assert_uint_eq(h_progress(h, 1, 2).match, 3002);
    /* The no-op, sent again once: two entries, a handful of messages. */
    ck_assert_msg(c.entries <= 2, "resent %zu entries in %zu messages",
                  c.entries, c.msgs);
    h_free(h);
}
END_TEST

/*
 * A network whose one-way latency is `delay` heartbeat intervals: each
 * message is delivered `delay` leader ticks after it was sent.
 */
struct slow_net {
    struct h_msg *q;
    unsigned *due;
    size_t n, cap;
};

static void slow_take(struct harness *h, struct slow_net *s, unsigned now,
                      unsigned delay)
{
    struct h_msg m;
    while (h_pop(h, &m)) {
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 64;
            s->q = realloc(s->q, s->cap * sizeof(*s->q));
            s->due = realloc(s->due, s->cap * sizeof(*s->due));
            ck_assert(s->q != NULL && s->due != NULL);
        }
        s->q[s->n] = m;
        s->due[s->n] = now + delay;
        s->n++;
    }
}

/* Deliver, in order, every message due by `now`; what they cause is taken
 * into the slow network. */
static void slow_deliver(struct harness *h, struct slow_net *s, unsigned now,
                         unsigned delay, struct flow_count *c)
{
    size_t i = 0;
    while (i < s->n) {
        if (s->due[i] > now) {
            i++;
            continue;
        }
        struct h_msg m = s->q[i];
        memmove(&s->q[i], &s->q[i + 1], (s->n - i - 1) * sizeof(*s->q));
        memmove(&s->due[i], &s->due[i + 1], (s->n - i - 1) * sizeof(*s->due));
        s->n--;
        if (m.m.from == 1 && m.m.type == RAFT_MSG_APPEND) {
            count_msg(c, &m.m);
        }
        raft_step(h_raft(h, m.m.to), &m.m);
        h_msg_free(&m);
        slow_take(h, s, now, delay);
        i = 0; /* keep order: restart from the oldest */
    }
}

/* Replicate `n` entries proposed 4 per tick over a network of the given
 * one-way delay (in ticks, heartbeat every tick), then run until everyone
 * has everything; returns what the leader sent to followers. */
static struct flow_count run_slow(unsigned delay, size_t n)
{
    struct h_opts o = {.seed = 5};
    o.election_ticks = 100; /* far above the round trip */
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 2);
    struct slow_net s = {NULL, NULL, 0, 0};
    struct flow_count c = {0, 0, 0};
    size_t proposed = 0;
    unsigned now = 0;
    /* Bounded: proposals end after n / 4 ticks, then a drain period. */
    for (; now < n / 4 + 20 * delay + 40; now++) {
        for (int k = 0; k < 4 && proposed < n; k++, proposed++) {
            char buf[64];
            memset(buf, 'a' + (int)(proposed % 26), sizeof(buf));
            ck_assert_int_eq(raft_propose(h_raft(h, 1), buf, sizeof(buf), NULL), 0);
        }
        ck_assert_int_eq(raft_tick(h_raft(h, 1)), 0);
        slow_take(h, &s, now, delay);
        slow_deliver(h, &s, now, delay, &c);
    }
    for (raft_id id = 2; id <= 3; id++) {
        ck_assert_uint_eq(h_status(h, id).last_index, h_status(h, 1).last_index);
    }
    for (size_t i = 0; i < s.n; i++) {
        h_msg_free(&s.q[i]);
    }
    free(s.q);
    free(s.due);
    h_free(h);
    return c;
}

/* A round trip of several heartbeat intervals must not make the leader
 * send the same entries again and again. */
START_TEST(test_long_round_trip_no_resend)
{
    struct flow_count base = run_slow(0, 2000);
    struct flow_count rtt2 = run_slow(1, 2000);
    struct flow_count rtt4 = run_slow(2, 2000);
    ck_assert_uint_ge(base.bytes, 2 * 2000 * 64);
    ck_assert_msg(rtt2.bytes * 10 <= base.bytes * 11,
                  "RTT 2 heartbeats: %zu payload bytes vs %zu without delay",
                  rtt2.bytes, base.bytes);
    ck_assert_msg(rtt4.bytes * 10 <= base.bytes * 11,
                  "RTT 4 heartbeats: %zu payload bytes vs %zu without delay",
                  rtt4.bytes, base.bytes);
}
END_TEST

/* A follower configured with smaller limits than the leader still accepts
 * the leader's larger messages: limits bound what a node sends. */
START_TEST(test_smaller_limits_accept_larger_messages)
{
    struct h_opts o = {.seed = 7};
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    /* Node 2 sends at most 2 entries and 100 bytes per message. */
    h_node(h, 2)->cfg.max_msg_entries = 2;
    h_node(h, 2)->cfg.max_msg_bytes = 100;
    ck_assert_int_eq(h_restart(h, 2), 0); /* recreated with that config */
    h_elect(h, 1);
    h->strict = true;
    for (int i = 0; i < 40; i++) {
        char buf[60];
        memset(buf, 'x', sizeof(buf));
        ck_assert_int_eq(raft_propose(h_raft(h, 1), buf, sizeof(buf), NULL), 0);
    }
    h_deliver_all(h);
    h_heartbeat(h, 1, 2);
    ck_assert_uint_eq(h_status(h, 2).last_index, h_status(h, 1).last_index);
    ck_assert_uint_eq(h_status(h, 2).commit, h_status(h, 1).commit);
    h_free(h);
}
END_TEST

/* A node restarted with a lower max_msg_bytes than some entry of its own
 * log still restores it. */
START_TEST(test_restore_with_lower_limit)
{
    struct h_opts o = {.seed = 9};
    o.max_msg_bytes = 16;
    struct harness *h = h_new(3, &o);
    static char big[100];
    struct raft_entry e[3] = {{1, RAFT_ENTRY_COMMAND, big, 10},
                              {1, RAFT_ENTRY_COMMAND, big, 100},
                              {2, RAFT_ENTRY_NOOP, NULL, 0}};
    /* Written when the limit was higher; the node must still start. */
    ck_assert_int_eq(raft_restore(h_raft(h, 1), h->voters, 3, 2, 0, e, 3), 0);
    ck_assert_uint_eq(h_status(h, 1).last_index, 3);
    h_free(h);
}
END_TEST

/* With max_inflight_bytes set, the leader stops pipelining to a follower
 * that has that many payload bytes unacknowledged. */
START_TEST(test_inflight_bytes_bound)
{
    struct h_opts o = {.seed = 11};
    o.max_msg_entries = 1;
    o.max_inflight = 64;
    o.max_inflight_bytes = 1000;
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 2);
    h_drop_all(h);
    for (int i = 0; i < 40; i++) {
        char buf[100];
        memset(buf, 'y', sizeof(buf));
        ck_assert_int_eq(raft_propose(h_raft(h, 1), buf, sizeof(buf), NULL), 0);
    }
    /* 100-byte entries, one per message: ten fill the 1000-byte window. */
    size_t sent = h_count(h, 1, 2, RAFT_MSG_APPEND);
    ck_assert_uint_eq(sent, 10);
    ck_assert_uint_eq(h_progress(h, 1, 2).inflight, 10);
    /* Acknowledgements open the window again, and everything gets there. */
    for (int i = 0; i < 10; i++) {
        h_deliver_all(h);
    }
    ck_assert_uint_eq(h_status(h, 2).last_index, h_status(h, 1).last_index);
    h_free(h);
}
END_TEST

Suite *raft_flow_suite(void)
{
    Suite *s = suite_create("flow");
    TCase *tc = tcase_create("flow");
    h_tcase_cleanup(tc);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_failed_send_keeps_probe_position);
    tcase_add_test(tc, test_long_round_trip_no_resend);
    tcase_add_test(tc, test_smaller_limits_accept_larger_messages);
    tcase_add_test(tc, test_restore_with_lower_limit);
    tcase_add_test(tc, test_inflight_bytes_bound);
    suite_add_tcase(s, tc);
    return s;
}
