/*
 * test_oom.c - out of memory, everywhere.
 *
 * One scenario on a 3-node cluster - create, bootstrap, elect, propose,
 * replicate, commit, restart a node from its disk (raft_restore with
 * entries), a partitioned leader's uncommitted entry overwritten by a new
 * leader, more proposals, membership changes and a leadership transfer -
 * is run over and over with the counting allocator
 * failing the k-th allocation, for k = 1, 2, ... until a run completes
 * without reaching k allocations, once with synchronous and once with
 * asynchronous persistence (where every call is followed by raft_persisted
 * for its writes). Every library call goes through run_op(), which checks,
 * for the call that met the failed allocation:
 *   - it returned RAFT_ENOMEM (raft_create: and left *out untouched, and
 *     freed whatever it had allocated);
 *   - the node is unchanged: raft_status, every log entry, and no callback
 *     at all was invoked (a node that persisted, sent, acknowledged or
 *     applied something and then reported failure would have acted on a
 *     state it claims not to be in);
 *   - the same call, retried with memory available, succeeds, so the
 *     scenario can go on.
 * At the end every node is destroyed and the allocator must report zero
 * outstanding blocks and bytes, and no bad free.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

#define E 10u
#define SEED 21u

enum { OP_CREATE = 1, OP_BOOTSTRAP, OP_RESTORE, OP_TICK, OP_STEP,
       OP_PROPOSE, OP_BATCH, OP_PERSISTED, OP_CHANGE, OP_TRANSFER };

static const char *const op_names[] = {"", "raft_create", "raft_bootstrap",
                                       "raft_restore", "raft_tick",
                                       "raft_step", "raft_propose",
                                       "raft_propose_batch",
                                       "raft_persisted",
                                       "raft_propose_change",
                                       "raft_transfer_leadership"};

struct oom {
    struct harness *h;
    bool async;             /* asynchronous persistence: every call is
                               followed by raft_persisted for its writes */
    unsigned long k;        /* the allocation that fails */
    unsigned long enomem;   /* calls that returned RAFT_ENOMEM */
    unsigned long ops;      /* library calls made */
};

struct op {
    int kind;
    raft_id id;
    const struct raft_msg *msg;   /* OP_STEP */
    const char *s;                /* OP_PROPOSE */
    const struct raft_buf *bufs;  /* OP_BATCH */
    const struct raft_change *changes; /* OP_CHANGE */
    raft_id target;               /* OP_TRANSFER */
    size_t n;
};

/* Perform the call itself. */
static int do_op(struct oom *o, const struct op *op)
{
    struct harness *h = o->h;
    struct h_node *nd = h_node(h, op->id);
    switch (op->kind) {
    case OP_CREATE: {
        struct raft_callbacks cbs = h_callbacks(h);
        struct raft *sentinel = (struct raft *)&o->k;
        struct raft *out = sentinel;
        size_t blocks = h->alloc.blocks;
        int rc = raft_create(&nd->cfg, &cbs, nd, &out);
        if (rc == 0) {
            nd->r = out;
        } else {
            H_CHECK(out == sentinel,
                          "k=%lu: failed raft_create wrote *out", o->k);
            H_CHECK(h->alloc.blocks == blocks,
                          "k=%lu: failed raft_create leaked %zu blocks",
                          o->k, h->alloc.blocks - blocks);
        }
        return rc;
    }
    case OP_BOOTSTRAP:
        return raft_bootstrap(nd->r, h->voters, h->n);
    case OP_RESTORE: {
        struct raft_entry *ents = malloc((nd->disk.n + 1) * sizeof(*ents));
        ck_assert_ptr_nonnull(ents);
        for (size_t i = 0; i < nd->disk.n; i++) {
            ents[i].term = nd->disk.e[i].term;
            ents[i].type = nd->disk.e[i].type;
            ents[i].buf = nd->disk.e[i].buf;
            ents[i].len = nd->disk.e[i].len;
        }
        int rc = raft_restore(nd->r, h->voters, h->n, nd->d_term, nd->d_vote,
                              ents, nd->disk.n);
        free(ents);
        return rc;
    }
    case OP_TICK:
        return raft_tick(nd->r);
    case OP_STEP:
        return raft_step(nd->r, op->msg);
    case OP_PROPOSE:
        return raft_propose(nd->r, op->s, strlen(op->s), NULL);
    case OP_BATCH:
        return raft_propose_batch(nd->r, op->bufs, op->n, NULL);
    case OP_PERSISTED:
        return h_persisted(h, op->id, nd->pending, 0);
    case OP_CHANGE:
        return raft_propose_change(nd->r, op->changes, op->n, RAFT_JOINT_AUTO,
                                   NULL);
    case OP_TRANSFER:
        return raft_transfer_leadership(nd->r, op->target);
    default:
        ck_abort();
        return 0;
    }
}

static int run_op(struct oom *o, const struct op *op);

/* Asynchronous mode: the disk completes what the call wrote, through
 * raft_persisted, itself run with the same checks. */
static void persist_done(struct oom *o, const struct op *op)
{
    struct h_node *nd = h_node(o->h, op->id);
    if (o->async && op->kind != OP_PERSISTED && nd->r != NULL &&
        nd->pending > 0) {
        struct op p = {.kind = OP_PERSISTED, .id = op->id};
        int rc = run_op(o, &p);
        H_CHECK(rc == 0, "k=%lu: raft_persisted on node %llu = %d (%s)",
                o->k, (unsigned long long)op->id, rc, raft_strerror(rc));
    }
}

/* Run one library call with the checks described at the top. */
static int run_op(struct oom *o, const struct op *op)
{
    struct harness *h = o->h;
    struct h_node *nd = h_node(h, op->id);
    /* snapshot the node only while the failure can still happen: it is
     * one-shot, and the snapshot of a long log is not free */
    bool exists = nd->r != NULL && h->alloc.failures == 0 && o->k != 0;
    struct raft_status before;
    raft_term *log_before = NULL;
    size_t n_log = 0;
    memset(&before, 0, sizeof(before));
    if (exists) {
        before = h_status(h, op->id);
        log_before = malloc((before.last_index + 1) * sizeof(*log_before));
        ck_assert_ptr_nonnull(log_before);
        n_log = h_log_terms(h, op->id, log_before, before.last_index + 1);
    }
    size_t calls = nd->n_calls, net = h->n_net;
    unsigned long failures = h->alloc.failures;
    o->ops++;
    int rc = do_op(o, op);
    bool hit = h->alloc.failures != failures;
    const char *name = op_names[op->kind];
    if (!hit) {
        free(log_before);
        H_CHECK(rc != RAFT_ENOMEM,
                      "k=%lu: %s on node %llu returned RAFT_ENOMEM but no "
                      "allocation failed", o->k, name,
                      (unsigned long long)op->id);
        persist_done(o, op);
        return rc;
    }
    H_CHECK(rc == RAFT_ENOMEM,
                  "k=%lu: allocation %lu failed inside %s on node %llu, "
                  "which returned %d (%s) instead of RAFT_ENOMEM",
                  o->k, o->k, name, (unsigned long long)op->id, rc,
                  raft_strerror(rc));
    o->enomem++;
    H_CHECK(nd->n_calls == calls,
                  "k=%lu: %s on node %llu returned RAFT_ENOMEM after "
                  "invoking %zu callbacks (first: kind %d)",
                  o->k, name, (unsigned long long)op->id, nd->n_calls - calls,
                  nd->calls[calls].kind);
    H_CHECK(h->n_net == net, "k=%lu: %s sent messages, then ENOMEM",
                  o->k, name);
    if (exists) {
        struct raft_status after = h_status(h, op->id);
        char what[96];
        snprintf(what, sizeof(what), "k=%lu: %s on node %llu (ENOMEM)", o->k,
                 name, (unsigned long long)op->id);
        h_assert_status_eq(&before, &after, what);
        h_assert_log_terms(h, op->id, log_before, n_log);
    }
    free(log_before);
    /* allocation works again (the failure is one-shot): the retry must
     * succeed where the first attempt failed */
    rc = do_op(o, op);
    H_CHECK(rc != RAFT_ENOMEM, "k=%lu: retried %s still ENOMEM", o->k,
                  name);
    persist_done(o, op);
    return rc;
}

static void op_simple(struct oom *o, int kind, raft_id id)
{
    struct op op = {.kind = kind, .id = id};
    int rc = run_op(o, &op);
    H_CHECK(rc == 0, "k=%lu: %s on node %llu = %d (%s)", o->k,
                  op_names[kind], (unsigned long long)id, rc,
                  raft_strerror(rc));
}

static void op_propose(struct oom *o, raft_id id, const char *s)
{
    struct op op = {.kind = OP_PROPOSE, .id = id, .s = s};
    int rc = run_op(o, &op);
    H_CHECK(rc == 0, "k=%lu: raft_propose(%s) = %d (%s)", o->k, s, rc,
                  raft_strerror(rc));
}

/* Deliver every message, each raft_step through run_op. */
static void deliver_all(struct oom *o)
{
    struct harness *h = o->h;
    struct h_msg hm;
    unsigned guard = 0;
    while (h_pop(h, &hm)) {
        struct h_node *nd = h_node(h, hm.m.to);
        if (nd->r != NULL && raft_role(nd->r) != 0) {
            struct op op = {.kind = OP_STEP, .id = hm.m.to, .msg = &hm.m};
            int rc = run_op(o, &op);
            H_CHECK(rc == 0 || rc == RAFT_ESTALE,
                          "k=%lu: node %llu stepping a %s from %llu: %d (%s)",
                          o->k, (unsigned long long)hm.m.to,
                          h_msg_type_name(hm.m.type),
                          (unsigned long long)hm.m.from, rc, raft_strerror(rc));
        }
        h_msg_free(&hm);
        H_CHECK(++guard < 100000, "message storm");
    }
}

static void heartbeat(struct oom *o, raft_id leader, unsigned rounds)
{
    for (unsigned i = 0; i < rounds; i++) {
        op_simple(o, OP_TICK, leader);
        deliver_all(o);
    }
}

/* Tick `id` until its term moves on, then deliver everything. */
static void elect(struct oom *o, raft_id id)
{
    struct raft *r = h_raft(o->h, id);
    raft_term t = raft_current_term(r);
    for (unsigned i = 0; i < 3 * E && raft_current_term(r) == t; i++) {
        op_simple(o, OP_TICK, id);
    }
    deliver_all(o);
    H_CHECK(raft_role(r) == RAFT_LEADER,
                  "k=%lu: node %llu did not win its election", o->k,
                  (unsigned long long)id);
}

static void assert_converged(struct oom *o, raft_index last)
{
    struct harness *h = o->h;
    for (raft_id id = 1; id <= 3; id++) {
        struct raft_status st = h_status(h, id);
        H_CHECK(st.last_index == last && st.commit == last &&
                          st.applied == last,
                      "k=%lu: node %llu last %llu commit %llu applied %llu, "
                      "want %llu",
                      o->k, (unsigned long long)id,
                      (unsigned long long)st.last_index,
                      (unsigned long long)st.commit,
                      (unsigned long long)st.applied,
                      (unsigned long long)last);
        h_assert_logs_equal(h, 1, id);
        h_assert_disk_matches(h, id);
    }
}

static char big_payload[300];

/* The scenario; returns the number of allocations that were failed. */
static unsigned long scenario(struct oom *o)
{
    struct h_opts opts = {.election_ticks = E, .heartbeat_ticks = 1,
                          .seed = SEED, .counting_alloc = true,
                          .no_create = true, .max_msg_entries = 16,
                          .async = o->async};
    struct harness *h = h_new(3, &opts);
    o->h = h;
    h->alloc.fail_at = o->k;

    for (raft_id id = 1; id <= 3; id++) {
        op_simple(o, OP_CREATE, id);
    }
    for (raft_id id = 1; id <= 3; id++) {
        op_simple(o, OP_BOOTSTRAP, id);
    }
    elect(o, 1);
    heartbeat(o, 1, 2);
    op_propose(o, 1, "a");
    deliver_all(o);
    op_propose(o, 1, "bb");
    op_propose(o, 1, "ccc");
    deliver_all(o);
    struct raft_buf b[4] = {{"d", 1}, {"ee", 2}, {"fff", 3}, {"", 0}};
    struct op batch = {.kind = OP_BATCH, .id = 1, .bufs = b, .n = 4};
    ck_assert_int_eq(run_op(o, &batch), 0);
    deliver_all(o);
    heartbeat(o, 1, 2);
    assert_converged(o, 8); /* no-op + 3 + 4 */

    /* enough entries and bytes to need more than one block of entries and
     * several payload chunks, on every node */
    static struct raft_buf many[200];
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < 200; i++) {
            many[i].base = big_payload;
            many[i].len = (i * 37 + (size_t)round * 11) % sizeof(big_payload);
        }
        struct op bigb = {.kind = OP_BATCH, .id = 1, .bufs = many, .n = 200};
        ck_assert_int_eq(run_op(o, &bigb), 0);
        deliver_all(o);
    }
    heartbeat(o, 1, 2);
    assert_converged(o, 608);

    /* node 3 crashes and comes back from its disk, with entries */
    raft_destroy(h_node(h, 3)->r);
    h_node(h, 3)->r = NULL;
    op_simple(o, OP_CREATE, 3);
    op_simple(o, OP_RESTORE, 3);
    ck_assert_uint_eq(h_status(h, 3).last_index, 608);
    heartbeat(o, 1, 2);

    /* node 1 appends an entry nobody gets, then node 2 takes over and
     * overwrites it on node 1 */
    op_propose(o, 1, "lost");
    h_drop_all(h);
    elect(o, 2);
    heartbeat(o, 2, 2);
    op_propose(o, 2, "g");
    deliver_all(o);
    heartbeat(o, 2, 2);
    assert_converged(o, 610); /* 608 + node 2's no-op + "g" */
    struct raft_entry e;
    ck_assert_int_eq(raft_entry_at(h_raft(h, 1), 609, &e), 0);
    ck_assert_int_eq(e.type, RAFT_ENTRY_NOOP);

    /* many terms: the log's per-term bookkeeping grows too */
    static const raft_id order[] = {3, 1, 2, 3, 1, 2, 3, 1, 2};
    for (size_t i = 0; i < H_ARRAY_LEN(order); i++) {
        elect(o, order[i]);
        op_propose(o, order[i], "t");
        deliver_all(o);
        heartbeat(o, order[i], 1);
    }
    assert_converged(o, 610 + 2 * H_ARRAY_LEN(order));

    /* membership: node 3 removed, back as a learner, promoted (single
     * changes), then two joint changes (two voters demoted to learners
     * together, and promoted back, each left at a tick); then leadership
     * goes to node 3 */
    raft_id lead = order[H_ARRAY_LEN(order) - 1];
    const struct raft_change steps[][2] = {
        {{RAFT_CHANGE_REMOVE, 3}, {0, 0}},
        {{RAFT_CHANGE_ADD_LEARNER, 3}, {0, 0}},
        {{RAFT_CHANGE_ADD_VOTER, 3}, {0, 0}},
        {{RAFT_CHANGE_ADD_LEARNER, 3}, {RAFT_CHANGE_ADD_LEARNER, lead == 2 ? 1 : 2}},
        {{RAFT_CHANGE_ADD_VOTER, 3}, {RAFT_CHANGE_ADD_VOTER, lead == 2 ? 1 : 2}},
    };
    raft_index last = 610 + 2 * H_ARRAY_LEN(order);
    for (size_t i = 0; i < H_ARRAY_LEN(steps); i++) {
        struct op ch = {.kind = OP_CHANGE, .id = lead, .changes = steps[i],
                        .n = steps[i][1].id != 0 ? 2 : 1};
        int rc = run_op(o, &ch);
        H_CHECK(rc == 0, "k=%lu: change %zu = %d (%s)", o->k, i, rc,
                raft_strerror(rc));
        deliver_all(o);
        heartbeat(o, lead, 3);
        last += ch.n == 2 ? 2 : 1;
    }
    assert_converged(o, last);
    struct op tr = {.kind = OP_TRANSFER, .id = lead, .target = 3};
    ck_assert_int_eq(run_op(o, &tr), 0);
    heartbeat(o, lead, 2);
    H_CHECK(raft_role(h_raft(h, 3)) == RAFT_LEADER, "k=%lu: no transfer", o->k);
    heartbeat(o, 3, 2);
    assert_converged(o, last + 1);

    unsigned long failures = h->alloc.failures;
    /* destroy everything: nothing may be left */
    for (raft_id id = 1; id <= 3; id++) {
        raft_destroy(h_node(h, id)->r);
        h_node(h, id)->r = NULL;
    }
    H_CHECK(h->alloc.blocks == 0 && h->alloc.bytes == 0,
                  "k=%lu: %zu blocks (%zu bytes) leaked", o->k,
                  h->alloc.blocks, h->alloc.bytes);
    H_CHECK(h->alloc.bad_free == 0, "k=%lu: %lu bad frees", o->k,
                  h->alloc.bad_free);
    h_free(h);
    o->h = NULL;
    return failures;
}

static void every_allocation_failure(bool async)
{
    /* baseline: the scenario passes with memory always available */
    struct oom base = {.k = 0, .async = async};
    ck_assert_uint_eq(scenario(&base), 0);
    unsigned long k, enomem = 0;
    for (k = 1; k < 100000; k++) {
        struct oom o = {.k = k, .async = async};
        if (scenario(&o) == 0) {
            break; /* fewer than k allocations: every one has been failed */
        }
        enomem += o.enomem;
    }
    H_CHECK(k > 1, "the scenario never allocates");
    H_CHECK(enomem == k - 1, "%lu of %lu injected failures reported",
                  enomem, k - 1);
}

START_TEST(test_oom_every_allocation_failure_is_clean)
{
    every_allocation_failure(false);
}
END_TEST

/* The same with asynchronous persistence: the write ring grows, and
 * raft_persisted (which may win an election and append its no-op) is
 * itself failed at every allocation. */
START_TEST(test_oom_async_every_allocation_failure_is_clean)
{
    every_allocation_failure(true);
}
END_TEST

/* The allocator is used for everything: a node that is created, started,
 * driven and destroyed never touches libc malloc in a way the allocator
 * doesn't see - checked by blocks returning to zero - and with the counting
 * allocator failing every call, raft_create fails cleanly. */
START_TEST(test_oom_create_with_no_memory_at_all)
{
    struct h_opts opts = {.election_ticks = E, .seed = SEED,
                          .counting_alloc = true, .no_create = true};
    struct harness *h = h_new(1, &opts);
    struct h_node *nd = h_node(h, 1);
    struct raft_callbacks cbs = h_callbacks(h);
    for (unsigned long k = 1; k <= 8; k++) {
        h->alloc.fail_at = h->alloc.calls + 1; /* the very next call */
        struct raft *sentinel = (struct raft *)&opts;
        struct raft *out = sentinel;
        int rc = raft_create(&nd->cfg, &cbs, nd, &out);
        if (rc == 0) {
            raft_destroy(out); /* create didn't allocate at this point */
            continue;
        }
        ck_assert_int_eq(rc, RAFT_ENOMEM);
        ck_assert_ptr_eq(out, sentinel);
    }
    ck_assert_uint_eq(h->alloc.blocks, 0);
    h_free(h);
}
END_TEST

/* A pre-candidate whose pre-vote is won by a grant, and which then finds no
 * room for the first entry of the term it would campaign for, returns
 * RAFT_ENOMEM: the grant must not stay counted. Stepped again with memory
 * available, the same grant must start the election; were it kept, the
 * retry would be ignored as a duplicate and the won pre-vote lost. */
START_TEST(test_oom_prevote_grant_not_counted_on_enomem)
{
    struct h_opts opts = {.election_ticks = E, .seed = SEED,
                          .counting_alloc = true, .pre_vote = true};
    struct harness *h = h_new(3, &opts);
    h_bootstrap_all(h);
    struct raft *r = h_raft(h, 1);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_PRECANDIDATE, 3 * E), 0);
    h_drop_all(h);
    /* node 2 grants the pre-vote for the next term: with node 1's own, a
     * majority of three */
    struct raft_msg g = h_msg_vote_resp(2, 1, raft_current_term(r) + 1, true,
                                        0, 0);
    g.type = RAFT_MSG_PREVOTE_RESP;
    struct raft_status before = h_status(h, 1);
    h->alloc.fail_at = h->alloc.calls + 1;
    ck_assert_int_eq(raft_step(r, &g), RAFT_ENOMEM);
    h->alloc.fail_at = 0;
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, "after RAFT_ENOMEM");
    ck_assert_int_eq(raft_role(r), RAFT_PRECANDIDATE);
    ck_assert_uint_eq(h_count(h, 1, 0, 0), 0);
    /* the retry, with memory: the grant wins the pre-vote */
    ck_assert_int_eq(raft_step(r, &g), 0);
    ck_assert_int_eq(raft_role(r), RAFT_CANDIDATE);
    ck_assert_uint_eq(raft_current_term(r), before.term + 1);
    h_free(h);
}
END_TEST

/* A failed write reported while the ring of pending writes is full and
 * memory is out: the report needs no room (only a candidate's completion,
 * which may win an election and start a write, does), so the node stops at
 * once rather than answering RAFT_ENOMEM and going on as if it held what
 * the failed write was to store. */
START_TEST(test_oom_failed_write_reported_without_memory)
{
    struct h_opts opts = {.election_ticks = E, .seed = SEED,
                          .counting_alloc = true, .async = true};
    struct harness *h = h_new(1, &opts);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_settle(h);
    struct raft *r = h_raft(h, 1);
    ck_assert_int_eq(raft_role(r), RAFT_LEADER);
    /* Proposals until the next one would have to grow the ring. */
    size_t pending = 0;
    for (;;) {
        raft_index before = h_status(h, 1).last_index;
        h->alloc.fail_at = h->alloc.calls + 1;
        int rc = h_propose(h, 1, "x", NULL);
        h->alloc.fail_at = 0;
        if (rc == RAFT_ENOMEM) {
            ck_assert_uint_eq(h_status(h, 1).last_index, before);
            break;
        }
        ck_assert_int_eq(rc, 0);
        pending++;
        ck_assert_uint_lt(pending, 1000);
    }
    ck_assert_uint_gt(pending, 0);
    h->alloc.fail_at = h->alloc.calls + 1;
    ck_assert_int_eq(h_persisted(h, 1, 1, -5), RAFT_ESTOPPED);
    h->alloc.fail_at = 0;
    ck_assert_int_eq(raft_propose(r, "y", 1, NULL), RAFT_ESTOPPED);
    h_free(h);
}
END_TEST

Suite *raft_oom_suite(void)
{
    Suite *s = suite_create("oom");
    TCase *tc = tcase_create("oom");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_oom_every_allocation_failure_is_clean);
    tcase_add_test(tc, test_oom_async_every_allocation_failure_is_clean);
    tcase_add_test(tc, test_oom_create_with_no_memory_at_all);
    tcase_add_test(tc, test_oom_prevote_grant_not_counted_on_enomem);
    tcase_add_test(tc, test_oom_failed_write_reported_without_memory);
    tcase_set_timeout(tc, 600);
    suite_add_tcase(s, tc);
    return s;
}
