/*
 * test_raft.c - lifecycle, API misuse, raft_strerror, queries, randomized
 * timeouts and determinism, re-entrancy from callbacks.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

#define E 10u

static const struct h_opts opts = {.election_ticks = E, .heartbeat_ticks = 1,
                                   .seed = 5};

/* Callbacks that must never be reached in these tests. */
static int never_send(struct raft *r, void *c, const struct raft_msg *m)
{
    (void)r, (void)c, (void)m;
    ck_abort_msg("send called");
    return -1;
}
static int never_ps(struct raft *r, void *c, raft_term t, raft_id v)
{
    (void)r, (void)c, (void)t, (void)v;
    ck_abort_msg("persist_state called");
    return -1;
}
static int never_pe(struct raft *r, void *c, raft_index f,
                    const struct raft_entry *e, size_t n)
{
    (void)r, (void)c, (void)f, (void)e, (void)n;
    ck_abort_msg("persist_entries called");
    return -1;
}
static int never_apply(struct raft *r, void *c, raft_index i,
                       const struct raft_entry *e)
{
    (void)r, (void)c, (void)i, (void)e;
    ck_abort_msg("apply called");
    return -1;
}
static void *my_alloc(void *c, size_t n)
{
    (void)c;
    return malloc(n);
}
static void *my_realloc(void *c, void *p, size_t n)
{
    (void)c;
    return realloc(p, n);
}
static void my_free(void *c, void *p)
{
    (void)c;
    free(p);
}

static struct raft_config good_config(void)
{
    struct raft_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.id = 1;
    cfg.election_ticks = 10;
    cfg.heartbeat_ticks = 1;
    return cfg;
}

static const struct raft_callbacks never_cbs = {.send = never_send,
                                                .persist_state = never_ps,
                                                .persist_entries = never_pe,
                                                .apply = never_apply};

/* ------------------------------------------------------------------------
 * raft_create rejects bad configurations with RAFT_EINVAL.
 * ------------------------------------------------------------------------ */

enum {
    BAD_NULL_CFG, BAD_NULL_CBS, BAD_NULL_OUT, BAD_ID0, BAD_ELECTION_EQ_HB,
    BAD_ELECTION_LT_HB, BAD_DEFAULT_ELECTION_LE_HB, BAD_DEFAULT_HB_GE_ELECTION,
    BAD_NO_SEND, BAD_NO_PERSIST_STATE, BAD_NO_PERSIST_ENTRIES, BAD_NO_APPLY,
    BAD_ALLOC_ONLY, BAD_ALLOC_REALLOC, BAD_FREE_ONLY, BAD_REALLOC_FREE,
    BAD_N
};

static const char *const bad_names[BAD_N] = {
    "cfg NULL", "cbs NULL", "out NULL", "id 0", "election == heartbeat",
    "election < heartbeat", "default election (10) <= heartbeat 10",
    "election 1 <= default heartbeat (1)", "no send", "no persist_state",
    "no persist_entries", "no apply", "allocator: alloc only",
    "allocator: alloc+realloc", "allocator: free only",
    "allocator: realloc+free"};

START_TEST(test_create_rejects_bad_configs)
{
    struct raft_config cfg = good_config();
    struct raft_callbacks cbs = never_cbs;
    const struct raft_config *pcfg = &cfg;
    const struct raft_callbacks *pcbs = &cbs;
    struct raft *sentinel = (struct raft *)&cfg;
    struct raft *out = sentinel;
    struct raft **pout = &out;
    switch (_i) {
    case BAD_NULL_CFG: pcfg = NULL; break;
    case BAD_NULL_CBS: pcbs = NULL; break;
    case BAD_NULL_OUT: pout = NULL; break;
    case BAD_ID0: cfg.id = 0; break;
    case BAD_ELECTION_EQ_HB: cfg.election_ticks = 5; cfg.heartbeat_ticks = 5; break;
    case BAD_ELECTION_LT_HB: cfg.election_ticks = 3; cfg.heartbeat_ticks = 5; break;
    case BAD_DEFAULT_ELECTION_LE_HB: cfg.election_ticks = 0; cfg.heartbeat_ticks = 10; break;
    case BAD_DEFAULT_HB_GE_ELECTION: cfg.election_ticks = 1; cfg.heartbeat_ticks = 0; break;
    case BAD_NO_SEND: cbs.send = NULL; break;
    case BAD_NO_PERSIST_STATE: cbs.persist_state = NULL; break;
    case BAD_NO_PERSIST_ENTRIES: cbs.persist_entries = NULL; break;
    case BAD_NO_APPLY: cbs.apply = NULL; break;
    case BAD_ALLOC_ONLY: cfg.allocator.alloc = my_alloc; break;
    case BAD_ALLOC_REALLOC:
        cfg.allocator.alloc = my_alloc;
        cfg.allocator.realloc = my_realloc;
        break;
    case BAD_FREE_ONLY: cfg.allocator.free = my_free; break;
    case BAD_REALLOC_FREE:
        cfg.allocator.realloc = my_realloc;
        cfg.allocator.free = my_free;
        break;
    default: ck_abort();
    }
    int rc = raft_create(pcfg, pcbs, NULL, pout);
    ck_assert_msg(rc == RAFT_EINVAL, "%s: raft_create = %d (%s)",
                  bad_names[_i], rc, raft_strerror(rc));
    if (rc == 0 && pout != NULL) {
        raft_destroy(out); /* keep a failing run leak-free */
    }
}
END_TEST

/* The documented defaults are accepted, the event callback is optional, a
 * full custom allocator is accepted, and the context is passed back. */
START_TEST(test_create_accepts_defaults_and_optional_event)
{
    struct raft_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.id = 42; /* everything else: defaults */
    struct raft *r = NULL;
    ck_assert_int_eq(raft_create(&cfg, &never_cbs, NULL, &r), 0);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(raft_role(r), 0);
    struct raft_status st;
    raft_status(r, &st);
    ck_assert_uint_eq(st.id, 42);
    ck_assert_int_eq(st.role, 0);
    raft_destroy(r);

    cfg = good_config();
    cfg.allocator.alloc = my_alloc;
    cfg.allocator.realloc = my_realloc;
    cfg.allocator.free = my_free;
    r = NULL;
    ck_assert_int_eq(raft_create(&cfg, &never_cbs, NULL, &r), 0);
    raft_destroy(r);
}
END_TEST

/* The default election timeout is 10 ticks (raft.h): a one-voter node
 * created with zeros elects itself after 10..12 ticks. */
START_TEST(test_default_election_ticks_is_10)
{
    struct h_opts o = {.seed = 9};
    struct harness *h = h_new(1, &o);
    /* h_new fills in 10/1 itself; rebuild node 1 with true zeros */
    raft_destroy(h_node(h, 1)->r);
    struct raft_config cfg = h_config(h, 1);
    cfg.election_ticks = 0;
    cfg.heartbeat_ticks = 0;
    struct raft_callbacks cbs = h_callbacks(h);
    ck_assert_int_eq(raft_create(&cfg, &cbs, h_node(h, 1), &h_node(h, 1)->r),
                     0);
    h_bootstrap_all(h);
    unsigned t = h_tick_until_role(h, 1, RAFT_LEADER, 100);
    ck_assert_msg(t >= 10 && t <= 12, "one-voter leader after %u ticks", t);
    h_free(h);
}
END_TEST

START_TEST(test_destroy_null_is_harmless)
{
    raft_destroy(NULL);
}
END_TEST

/* raft_destroy invokes no callback, even on a leader with work pending. */
START_TEST(test_destroy_invokes_no_callback)
{
    struct harness *h = h_new(3, &opts);
    h_bootstrap_all(h);
    h_elect(h, 1);
    ck_assert_int_eq(h_propose(h, 1, "pending", NULL), 0);
    h_drop_all(h);
    h_reset_all_calls(h);
    raft_destroy(h_node(h, 1)->r);
    h_node(h, 1)->r = NULL;
    ck_assert_uint_eq(h_ncalls(h, 1, 0), 0);
    ck_assert_uint_eq(h_nevents(h, 1, 0), 0);
    ck_assert_uint_eq(h_count(h, 0, 0, 0), 0);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Before start: RAFT_ENOTSTARTED from every driving call.
 * ------------------------------------------------------------------------ */

START_TEST(test_calls_before_start_return_enotstarted)
{
    struct raft_config cfg = good_config();
    struct raft *r = NULL;
    ck_assert_int_eq(raft_create(&cfg, &never_cbs, NULL, &r), 0);
    ck_assert_int_eq(raft_tick(r), RAFT_ENOTSTARTED);
    struct raft_msg m = h_msg_append(2, 1, 1, 0, 0, 0, NULL, 0);
    ck_assert_int_eq(raft_step(r, &m), RAFT_ENOTSTARTED);
    ck_assert_int_eq(raft_propose(r, "x", 1, NULL), RAFT_ENOTSTARTED);
    struct raft_buf b = {"x", 1};
    ck_assert_int_eq(raft_propose_batch(r, &b, 1, NULL), RAFT_ENOTSTARTED);
    struct raft_change c = {RAFT_CHANGE_ADD_VOTER, 4};
    ck_assert_int_eq(raft_propose_change(r, &c, 1, RAFT_JOINT_AUTO, NULL),
                     RAFT_ENOTSTARTED);
    ck_assert_int_eq(raft_leave_joint(r, NULL), RAFT_ENOTSTARTED);
    ck_assert_int_eq(raft_transfer_leadership(r, 2), RAFT_ENOTSTARTED);
    int req;
    ck_assert_int_eq(raft_read_index(r, &req), RAFT_ENOTSTARTED);
    ck_assert_int_eq(raft_role(r), 0);
    ck_assert_uint_eq(raft_current_term(r), 0);
    ck_assert_uint_eq(raft_leader(r), 0);
    struct raft_progress p;
    ck_assert_int_eq(raft_progress(r, 0, &p), RAFT_ENOTLEADER);
    struct raft_entry e;
    ck_assert_int_eq(raft_entry_at(r, 1, &e), RAFT_EINVAL);
    /* and it can still be started after all that */
    raft_id v[] = {1, 2, 3};
    ck_assert_int_eq(raft_bootstrap(r, v, 3), 0);
    ck_assert_int_eq(raft_role(r), RAFT_FOLLOWER);
    raft_destroy(r);
}
END_TEST

START_TEST(test_double_start_returns_estarted)
{
    struct harness *h = h_new(3, &opts);
    raft_id v[] = {1, 2, 3};
    const raft_term log[] = {1};
    /* bootstrap then bootstrap / restore */
    ck_assert_int_eq(raft_bootstrap(h_raft(h, 1), v, 3), 0);
    ck_assert_int_eq(raft_bootstrap(h_raft(h, 1), v, 3), RAFT_ESTARTED);
    ck_assert_int_eq(h_restore(h, 1, 1, 0, log, 1), RAFT_ESTARTED);
    ck_assert_uint_eq(h_status(h, 1).last_index, 0);
    /* restore then bootstrap / restore */
    ck_assert_int_eq(h_restore(h, 2, 3, 0, log, 1), 0);
    ck_assert_int_eq(raft_bootstrap(h_raft(h, 2), v, 3), RAFT_ESTARTED);
    ck_assert_int_eq(raft_restore(h_raft(h, 2), v, 3, 7, 0, NULL, 0),
                     RAFT_ESTARTED);
    struct raft_status st = h_status(h, 2);
    ck_assert_uint_eq(st.term, 3);
    ck_assert_uint_eq(st.last_index, 1);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * raft_bootstrap: voter list validation; a rejected call leaves the node
 * unstarted (it can be bootstrapped properly afterwards).
 * ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    raft_id v[4];
    size_t n;
    bool null_list;
} bad_voters[] = {
    {"empty list", {0}, 0, false},
    {"NULL list", {0}, 3, true},
    {"duplicate", {1, 2, 2}, 3, false},
    {"duplicate self", {1, 1}, 2, false},
    {"zero id", {1, 0, 3}, 3, false},
    {"missing self", {2, 3, 4}, 3, false},
};

START_TEST(test_bootstrap_rejects_bad_voter_lists)
{
    struct harness *h = h_new(1, &opts);
    struct raft *r = h_raft(h, 1);
    const raft_id *v = bad_voters[_i].null_list ? NULL : bad_voters[_i].v;
    int rc = raft_bootstrap(r, v, bad_voters[_i].n);
    ck_assert_msg(rc == RAFT_EINVAL, "%s: raft_bootstrap = %d",
                  bad_voters[_i].name, rc);
    ck_assert_int_eq(raft_role(r), 0);
    ck_assert_int_eq(raft_tick(r), RAFT_ENOTSTARTED);
    /* restore validates the same way */
    rc = raft_restore(r, v, bad_voters[_i].n, 1, 0, NULL, 0);
    ck_assert_msg(rc == RAFT_EINVAL, "%s: raft_restore = %d",
                  bad_voters[_i].name, rc);
    ck_assert_int_eq(raft_role(r), 0);
    raft_id ok[] = {1};
    ck_assert_int_eq(raft_bootstrap(r, ok, 1), 0);
    ck_assert_int_eq(raft_role(r), RAFT_FOLLOWER);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * raft_restore: the persisted state must be a possible one.
 * ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    raft_term term;
    raft_id vote;
    raft_term terms[3];
    int types[3];
    size_t n;
    size_t big; /* index+1 of an entry whose payload exceeds the limit */
    bool null_entries; /* entries passed as NULL (with n above 0) */
} bad_restores[] = {
    {"malformed configuration entry", 2, 0, {1}, {RAFT_ENTRY_CONFIG}, 1, 0, false},
    {"entry term 0", 2, 0, {1, 0}, {1, 1}, 2, 0, false},
    {"entry terms decrease", 3, 0, {1, 3, 2}, {1, 1, 1}, 3, 0, false},
    {"entry term above term", 2, 0, {1, 3}, {1, 1}, 2, 0, false},
    {"unknown entry type", 2, 0, {1, 2}, {1, 99}, 2, 0, false},
    {"entry type 0", 2, 0, {1}, {0}, 1, 0, false},
    {"payload above UINT32_MAX bytes", 2, 0, {1, 2}, {1, 1}, 2, 2, false},
    {"entries at term 0", 0, 0, {1}, {1}, 1, 0, false},
    {"entries NULL with a count", 2, 0, {1}, {1}, 1, 0, true},
};

START_TEST(test_restore_rejects_bad_state)
{
    struct h_opts o = opts;
    o.max_msg_bytes = 32;
    struct harness *h = h_new(3, &o);
    struct raft *r = h_raft(h, 1);
    static char big[33];
    struct raft_entry ents[3];
    for (size_t i = 0; i < bad_restores[_i].n; i++) {
        ents[i].term = bad_restores[_i].terms[i];
        ents[i].type = bad_restores[_i].types[i];
        ents[i].buf = "e";
        ents[i].len = 1;
        if (bad_restores[_i].big == i + 1) {
            /* Rejected on the length alone, before the payload is read. */
            ents[i].buf = big;
            ents[i].len = (size_t)UINT32_MAX + 1;
        }
    }
    int rc = raft_restore(r, h->voters, 3, bad_restores[_i].term,
                          bad_restores[_i].vote,
                          bad_restores[_i].null_entries ? NULL : ents,
                          bad_restores[_i].n);
    ck_assert_msg(rc == RAFT_EINVAL, "%s: raft_restore = %d (%s)",
                  bad_restores[_i].name, rc, raft_strerror(rc));
    ck_assert_int_eq(raft_role(r), 0);
    /* nothing half-restored: a valid restore still works */
    const raft_term good[] = {1, 2};
    ck_assert_int_eq(h_restore(h, 1, 2, 1, good, 2), 0);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.term, 2);
    ck_assert_uint_eq(st.vote, 1);
    ck_assert_uint_eq(st.last_index, 2);
    ck_assert_uint_eq(st.last_term, 2);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * A restart from the persisted state continues exactly: term, vote, log;
 * commit and applied start from 0 and everything is applied again.
 * ------------------------------------------------------------------------ */

START_TEST(test_restart_continues_from_persisted_state)
{
    struct harness *h = h_new(3, &opts);
    h_bootstrap_all(h);
    h_elect(h, 1);
    char buf[16];
    for (int i = 0; i < 5; i++) {
        snprintf(buf, sizeof(buf), "cmd%d", i);
        ck_assert_int_eq(h_propose(h, 1, buf, NULL), 0);
    }
    h_deliver_all(h);
    h_heartbeat(h, 1, 2);
    for (raft_id id = 1; id <= 3; id++) {
        struct raft_status before = h_status(h, id);
        ck_assert_uint_eq(before.applied, 6);
        ck_assert_int_eq(h_restart(h, id), 0);
        struct raft_status st = h_status(h, id);
        ck_assert_int_eq(st.role, RAFT_FOLLOWER);
        ck_assert_uint_eq(st.term, before.term);
        ck_assert_uint_eq(st.vote, before.vote);
        ck_assert_uint_eq(st.last_index, before.last_index);
        ck_assert_uint_eq(st.last_term, before.last_term);
        ck_assert_uint_eq(st.commit, 0);
        ck_assert_uint_eq(st.applied, 0);
        h_assert_disk_matches(h, id);
        if (id != 1) {
            h_assert_logs_equal(h, 1, id);
        }
    }
    /* node 1 voted for itself in term 1: after the restart it keeps that
     * vote and a new election moves on to term 2 */
    ck_assert_uint_eq(h_status(h, 1).vote, 1);
    h_elect(h, 2);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 2)), 2);
    h_heartbeat(h, 2, 2);
    for (raft_id id = 1; id <= 3; id++) {
        struct h_node *nd = h_node(h, id);
        struct raft_status st = h_status(h, id);
        ck_assert_uint_eq(st.applied, 7); /* 6 + the new no-op */
        ck_assert_uint_eq(nd->applied.n, 7);
        for (size_t i = 0; i < nd->applied.n; i++) {
            ck_assert_uint_eq(nd->applied_idx[i], i + 1); /* from index 1 */
        }
        ck_assert_uint_eq(nd->applied.e[1].len, 4);
        ck_assert(memcmp(nd->applied.e[1].buf, "cmd0", 4) == 0);
    }
    h_free(h);
}
END_TEST

/* A one-voter cluster elects itself at the first timeout and commits (and
 * applies) proposals during raft_propose. */
START_TEST(test_one_voter_cluster_elects_itself_and_commits_immediately)
{
    struct harness *h = h_new(1, &opts);
    h_bootstrap_all(h);
    unsigned t = h_tick_until_role(h, 1, RAFT_LEADER, 3 * E);
    ck_assert_msg(t >= E && t <= E + E / 4, "leader after %u ticks", t);
    ck_assert_uint_eq(h_count(h, 0, 0, 0), 0); /* nobody to talk to */
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.term, 1);
    ck_assert_uint_eq(st.commit, 1); /* the no-op */
    ck_assert_uint_eq(st.applied, 1);
    raft_index idx;
    ck_assert_int_eq(h_propose(h, 1, "solo", &idx), 0);
    ck_assert_uint_eq(idx, 2);
    st = h_status(h, 1);
    ck_assert_uint_eq(st.commit, 2);
    ck_assert_uint_eq(st.applied, 2);
    struct h_node *nd = h_node(h, 1);
    ck_assert_uint_eq(nd->applied.n, 2);
    ck_assert_uint_eq(nd->applied_idx[1], 2);
    ck_assert(memcmp(nd->applied.e[1].buf, "solo", 4) == 0);
    struct raft_buf b[2] = {{"a", 1}, {"b", 1}};
    raft_index first;
    ck_assert_int_eq(raft_propose_batch(h_raft(h, 1), b, 2, &first), 0);
    ck_assert_uint_eq(first, 3);
    ck_assert_uint_eq(h_status(h, 1).applied, 4);
    /* it stays leader while ticking */
    ck_assert_int_eq(h_tick(h, 1, 5 * E), 0);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_LEADER);
    ck_assert_uint_eq(raft_current_term(h_raft(h, 1)), 1);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * raft_strerror: every code, success, and unknown codes.
 * ------------------------------------------------------------------------ */

static const struct {
    int code;
    const char *text;
} errs[] = {
#define X(name, value, text) {name, text},
    RAFT_ERRNO_MAP(X)
#undef X
};

START_TEST(test_strerror_covers_every_code)
{
    /* The codes are -1, -2, ... in table order: no gaps, no reuse. */
    for (size_t i = 0; i < H_ARRAY_LEN(errs); i++) {
        ck_assert_int_eq(errs[i].code, -(int)i - 1);
    }
    for (size_t i = 0; i < H_ARRAY_LEN(errs); i++) {
        const char *s = raft_strerror(errs[i].code);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s, errs[i].text);
        /* distinct codes */
        for (size_t j = 0; j < i; j++) {
            ck_assert_int_ne(errs[i].code, errs[j].code);
        }
    }
    ck_assert_str_eq(raft_strerror(0), "success");
    const int unknown[] = {1, 2, 100, -(int)H_ARRAY_LEN(errs) - 1, -1000,
                           INT_MIN, INT_MAX};
    for (size_t i = 0; i < H_ARRAY_LEN(unknown); i++) {
        ck_assert_str_eq(raft_strerror(unknown[i]), "unknown error");
    }
    ck_assert_int_eq(raft_version_number(), RAFT_VERSION_NUMBER);
}
END_TEST

/* ------------------------------------------------------------------------
 * Randomized election timeouts stay in [E, E + E/4], differ across seeds,
 * and replay identically for the same seed.
 * ------------------------------------------------------------------------ */

#define N_TIMEOUTS 6

/* The first N_TIMEOUTS election timeouts of a 3-voter node 1 (it never
 * hears back, so it keeps starting elections). */
static void timeouts(unsigned e, uint64_t seed, unsigned out[N_TIMEOUTS])
{
    struct h_opts o = {.election_ticks = e, .heartbeat_ticks = 1,
                       .seed = seed};
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    struct raft *r = h_raft(h, 1);
    for (int k = 0; k < N_TIMEOUTS; k++) {
        raft_term t = raft_current_term(r);
        unsigned n = 0;
        while (raft_current_term(r) == t && n < 4 * e) {
            raft_tick(r);
            n++;
        }
        out[k] = n;
        h_drop_all(h);
    }
    h_free(h);
}

START_TEST(test_randomized_election_timeouts_in_range_and_seeded)
{
    static const unsigned es[] = {4, 10, 20, 100};
    for (size_t ei = 0; ei < H_ARRAY_LEN(es); ei++) {
        unsigned e = es[ei];
        bool seen[200] = {false};
        size_t distinct = 0;
        for (uint64_t seed = 1; seed <= 40; seed++) {
            unsigned a[N_TIMEOUTS], b[N_TIMEOUTS];
            timeouts(e, seed, a);
            timeouts(e, seed, b);
            for (int k = 0; k < N_TIMEOUTS; k++) {
                ck_assert_msg(a[k] >= e && a[k] <= e + e / 4,
                              "election_ticks %u seed %llu: timeout #%d is "
                              "%u ticks, want [%u, %u]",
                              e, (unsigned long long)seed, k, a[k], e,
                              e + e / 4);
                ck_assert_msg(a[k] == b[k],
                              "election_ticks %u seed %llu: replay differs "
                              "at timeout #%d (%u vs %u)",
                              e, (unsigned long long)seed, k, a[k], b[k]);
                if (!seen[a[k]]) {
                    seen[a[k]] = true;
                    distinct++;
                }
            }
        }
        /* 40 seeds x 6 timeouts over a range of e/4 + 1 values: a fixed or
         * nearly fixed timeout means the randomization is broken */
        size_t want = e / 4 + 1 < 5 ? e / 4 + 1 : 5;
        ck_assert_msg(distinct >= want,
                      "election_ticks %u: only %zu distinct timeouts over "
                      "seeds 1..40", e, distinct);
    }
    /* different seeds give different sequences (not just shifted ones) */
    unsigned a[N_TIMEOUTS], b[N_TIMEOUTS];
    timeouts(100, 1, a);
    timeouts(100, 2, b);
    ck_assert_msg(memcmp(a, b, sizeof(a)) != 0,
                  "seeds 1 and 2 give the same timeouts");
}
END_TEST

/* The same seeds and the same calls give the same behaviour, message for
 * message (raft.h: a node is deterministic). */
static void trace(uint64_t seed, char *out, size_t cap)
{
    struct h_opts o = {.election_ticks = E, .heartbeat_ticks = 2,
                       .seed = seed};
    struct harness *h = h_new(5, &o);
    h_bootstrap_all(h);
    size_t off = 0;
    out[0] = 0;
    for (unsigned t = 0; t < 60; t++) {
        for (raft_id id = 1; id <= 5; id++) {
            raft_tick(h_raft(h, id));
            if (raft_role(h_raft(h, id)) == RAFT_LEADER && t % 7 == 0) {
                h_propose(h, id, "t", NULL);
            }
        }
        /* deliver half, drop the rest: a lossy but deterministic network */
        size_t n = h->n_net;
        for (size_t i = 0; i < n / 2 && h->n_net > 0; i++) {
            const struct raft_msg *m = h_find(h, 0, 0, 0, 0);
            if (off + 64 < cap) {
                off += (size_t)snprintf(out + off, cap - off, "%d:%llu>%llu@%llu ",
                                        m->type, (unsigned long long)m->from,
                                        (unsigned long long)m->to,
                                        (unsigned long long)m->term);
            }
            h_deliver_one(h, m->from, m->to, m->type);
        }
        h_drop_all(h);
    }
    for (raft_id id = 1; id <= 5; id++) {
        struct raft_status st = h_status(h, id);
        if (off + 64 < cap) {
            off += (size_t)snprintf(out + off, cap - off, "[%d %llu %llu %llu]",
                                    st.role, (unsigned long long)st.term,
                                    (unsigned long long)st.last_index,
                                    (unsigned long long)st.commit);
        }
    }
    h_free(h);
}

START_TEST(test_same_seed_same_behaviour)
{
    static char a[1 << 16], b[1 << 16];
    for (uint64_t seed = 1; seed <= 5; seed++) {
        trace(seed, a, sizeof(a));
        trace(seed, b, sizeof(b));
        ck_assert_msg(strcmp(a, b) == 0, "seed %llu: two runs differ",
                      (unsigned long long)seed);
    }
}
END_TEST

/* ------------------------------------------------------------------------
 * Queries.
 * ------------------------------------------------------------------------ */

START_TEST(test_queries_status_progress_entry_at)
{
    struct harness *h = h_new(3, &opts);
    h_bootstrap_all(h);
    struct raft *r = h_raft(h, 2);
    struct raft_progress p;
    struct raft_entry e;
    struct raft_status st = h_status(h, 2);
    ck_assert_uint_eq(st.id, 2);
    ck_assert_int_eq(st.role, RAFT_FOLLOWER);
    ck_assert_uint_eq(st.n_voters, 3);
    ck_assert_uint_eq(st.term, 0);
    ck_assert_uint_eq(st.last_index, 0);
    ck_assert_int_eq(raft_progress(r, 0, &p), RAFT_ENOTLEADER);
    ck_assert_int_eq(raft_entry_at(r, 0, &e), RAFT_EINVAL);
    ck_assert_int_eq(raft_entry_at(r, 1, &e), RAFT_EINVAL);
    h_elect(h, 1);
    r = h_raft(h, 1);
    ck_assert_int_eq(raft_progress(r, 3, &p), RAFT_EINVAL);
    ck_assert_int_eq(raft_progress(r, SIZE_MAX, &p), RAFT_EINVAL);
    /* in voter-list order, the leader itself flagged */
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(raft_progress(r, i, &p), 0);
        ck_assert_uint_eq(p.id, i + 1);
        ck_assert(p.self == (i == 0));
        ck_assert_uint_eq(p.flags, RAFT_MEMBER_VOTER);
        ck_assert_uint_eq(p.match, 1);
        ck_assert_uint_gt(p.next, p.match);
        if (p.self) {
            /* the leader itself: replicating, next after its last entry */
            ck_assert_int_eq(p.state, RAFT_PROGRESS_REPLICATE);
            ck_assert_uint_eq(p.next, h_status(h, 1).last_index + 1);
        }
    }
    /* the first leader writes the bootstrap configuration, not a no-op */
    ck_assert_int_eq(raft_entry_at(r, 1, &e), 0);
    ck_assert_int_eq(e.type, RAFT_ENTRY_CONFIG);
    struct raft_member mem[3];
    size_t nm;
    ck_assert_int_eq(raft_conf_decode(e.buf, e.len, mem, 3, &nm), 0);
    ck_assert_uint_eq(nm, 3);
    ck_assert_uint_eq(mem[2].id, 3);
    ck_assert_uint_eq(mem[2].flags, RAFT_MEMBER_VOTER);
    ck_assert_int_eq(raft_entry_at(r, 2, &e), RAFT_EINVAL);
    ck_assert_uint_eq(raft_current_term(r), 1);
    ck_assert_uint_eq(raft_leader(r), 1);
    ck_assert_int_eq(raft_role(r), RAFT_LEADER);
    /* a follower: progress is leader-only */
    ck_assert_int_eq(raft_progress(h_raft(h, 2), 0, &p), RAFT_ENOTLEADER);
    h_free(h);
}
END_TEST

/* API misuse of the propose calls; an all-or-none batch. */
START_TEST(test_propose_argument_errors)
{
    struct h_opts o = opts;
    o.max_msg_bytes = 16;
    struct harness *h = h_new(1, &o);
    h_bootstrap_all(h);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_LEADER, 3 * E), 0);
    struct raft *r = h_raft(h, 1);
    h_reset_all_calls(h);
    struct raft_status before = h_status(h, 1);
    ck_assert_int_eq(raft_propose(r, NULL, 3, NULL), RAFT_EINVAL);
    ck_assert_int_eq(raft_propose_batch(r, NULL, 1, NULL), RAFT_EINVAL);
    struct raft_buf b[3] = {{"ok", 2}, {"fine", 4}, {NULL, 0}};
    ck_assert_int_eq(raft_propose_batch(r, b, 0, NULL), RAFT_EINVAL);
    b[2].base = "0123456789abcdefX"; /* 17 > 16 */
    b[2].len = 17;
    ck_assert_int_eq(raft_propose_batch(r, b, 3, NULL), RAFT_ETOOBIG);
    b[2].base = NULL;
    b[2].len = 5;
    ck_assert_int_eq(raft_propose_batch(r, b, 3, NULL), RAFT_EINVAL);
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, "rejected proposals");
    ck_assert_uint_eq(h_ncalls(h, 1, 0), 0);
    /* an empty command is a command */
    raft_index idx;
    ck_assert_int_eq(raft_propose(r, NULL, 0, &idx), 0);
    ck_assert_uint_eq(idx, before.last_index + 1);
    struct raft_entry e;
    ck_assert_int_eq(raft_entry_at(r, idx, &e), 0);
    ck_assert_uint_eq(e.len, 0);
    ck_assert_int_eq(e.type, RAFT_ENTRY_COMMAND);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Re-entrancy: a callback calling a mutating function gets RAFT_EBUSY
 * (raft_destroy is ignored); queries work.
 * ------------------------------------------------------------------------ */

struct reenter {
    bool in_hook;
    unsigned seen[5];   /* per callback kind (0 = event) */
    unsigned not_busy;  /* mutating calls that did not return EBUSY */
    char what[128];
    bool destroy;       /* also try raft_destroy from the callback */
};

static void reenter_hook(struct h_node *nd, int kind)
{
    struct reenter *re = nd->hook_arg;
    if (re->in_hook) {
        return; /* a library that re-enters must not recurse forever */
    }
    re->in_hook = true;
    re->seen[kind]++;
    struct raft *r = nd->r;
    raft_id v[] = {1, 2, 3};
    struct raft_msg m = h_msg_append(2, nd->id, 100, 0, 0, 0, NULL, 0);
    struct raft_buf b = {"x", 1};
    struct {
        const char *name;
        int rc;
    } calls[] = {
        {"raft_tick", raft_tick(r)},
        {"raft_step", raft_step(r, &m)},
        {"raft_propose", raft_propose(r, "x", 1, NULL)},
        {"raft_propose_batch", raft_propose_batch(r, &b, 1, NULL)},
        {"raft_bootstrap", raft_bootstrap(r, v, 3)},
        {"raft_restore", raft_restore(r, v, 3, 100, 0, NULL, 0)},
    };
    for (size_t i = 0; i < H_ARRAY_LEN(calls); i++) {
        if (calls[i].rc != RAFT_EBUSY) {
            re->not_busy++;
            snprintf(re->what, sizeof(re->what), "%s from callback %d: %d",
                     calls[i].name, kind, calls[i].rc);
        }
    }
    /* queries are allowed */
    struct raft_status st;
    raft_status(r, &st);
    (void)raft_role(r);
    (void)raft_leader(r);
    (void)raft_current_term(r);
    if (re->destroy) {
        raft_destroy(r); /* must be ignored */
    }
    re->in_hook = false;
}

START_TEST(test_reentrant_calls_from_callbacks_return_ebusy)
{
    struct reenter re;
    memset(&re, 0, sizeof(re));
    re.destroy = _i == 1;
    struct harness *h = h_new(3, &opts);
    h_bootstrap_all(h);
    h_node(h, 1)->hook = reenter_hook;
    h_node(h, 1)->hook_arg = &re;
    h_elect(h, 1);
    ck_assert_int_eq(h_propose(h, 1, "cmd", NULL), 0);
    h_deliver_all(h);
    h_heartbeat(h, 1, 2);
    ck_assert_msg(re.not_busy == 0, "%u re-entrant calls not refused, e.g. %s",
                  re.not_busy, re.what);
    ck_assert_uint_gt(re.seen[H_CB_SEND], 0);
    ck_assert_uint_gt(re.seen[H_CB_PERSIST_STATE], 0);
    ck_assert_uint_gt(re.seen[H_CB_PERSIST_ENTRIES], 0);
    ck_assert_uint_gt(re.seen[H_CB_APPLY], 0);
    ck_assert_uint_gt(re.seen[0], 0);
    /* the node is intact and still leads at term 1 */
    h_node(h, 1)->hook = NULL;
    struct raft_status st = h_status(h, 1);
    ck_assert_int_eq(st.role, RAFT_LEADER);
    ck_assert_uint_eq(st.term, 1);
    ck_assert_uint_eq(st.applied, 2);
    ck_assert_int_eq(h_propose(h, 1, "after", NULL), 0);
    h_deliver_all(h);
    ck_assert_uint_eq(h_status(h, 1).applied, 3);
    h_free(h);
}
END_TEST

Suite *raft_api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("lifecycle");
    h_tcase_cleanup(tc);
    tcase_add_loop_test(tc, test_create_rejects_bad_configs, 0, BAD_N);
    tcase_add_test(tc, test_create_accepts_defaults_and_optional_event);
    tcase_add_test(tc, test_default_election_ticks_is_10);
    tcase_add_test(tc, test_destroy_null_is_harmless);
    tcase_add_test(tc, test_destroy_invokes_no_callback);
    tcase_add_test(tc, test_calls_before_start_return_enotstarted);
    tcase_add_test(tc, test_double_start_returns_estarted);
    tcase_add_loop_test(tc, test_bootstrap_rejects_bad_voter_lists, 0,
                        (int)H_ARRAY_LEN(bad_voters));
    tcase_add_loop_test(tc, test_restore_rejects_bad_state, 0,
                        (int)H_ARRAY_LEN(bad_restores));
    tcase_add_test(tc, test_restart_continues_from_persisted_state);
    tcase_add_test(tc, test_one_voter_cluster_elects_itself_and_commits_immediately);
    suite_add_tcase(s, tc);

    TCase *tq = tcase_create("api");

    h_tcase_cleanup(tq);
    tcase_add_test(tq, test_strerror_covers_every_code);
    tcase_add_test(tq, test_randomized_election_timeouts_in_range_and_seeded);
    tcase_add_test(tq, test_same_seed_same_behaviour);
    tcase_add_test(tq, test_queries_status_progress_entry_at);
    tcase_add_test(tq, test_propose_argument_errors);
    tcase_add_loop_test(tq, test_reentrant_calls_from_callbacks_return_ebusy,
                        0, 2);
    tcase_set_timeout(tq, 60);
    suite_add_tcase(s, tq);
    return s;
}
