/*
 * test_snapshot.c - snapshots and log compaction (Raft 7): raft_compact,
 * raft_restore_snapshot, and the leader streaming its snapshot to a
 * follower that needs entries it compacted, in chunks, under loss,
 * duplication, reordering, restarts, leader changes and failed callbacks.
 *
 * The harness's fake host (h_opts.snapshots) keeps one durable snapshot
 * per node, checks that snapshot_write receives chunks in order without
 * gaps, and that snapshot_install installs exactly the bytes received as
 * a well-formed snapshot of the index it names; its state machine checks
 * that apply continues one past the applied or installed index.
 *
 * Most tests use the same far-behind follower: in a 3-node cluster led by
 * node 1, node 3 is cut off while nodes 1 and 2 commit entries; node 1
 * snapshots and compacts with snapshot_trailing 1, so node 3 can only be
 * caught up by the snapshot: SNAP bytes in chunks of CHUNK bytes, WINDOW
 * of them unacknowledged at most (the default max_inflight_bytes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

/* The configuration of voters 1, 2 and 3, encoded (docs/wire-format.md):
 * what a leader's last chunk carries. */
static const unsigned char conf123[8 + 3 * 9] = {
    1, 0, 0, 0, 3, 0, 0, 0,
    1, 0, 0, 0, 0, 0, 0, 0, RAFT_MEMBER_VOTER,
    2, 0, 0, 0, 0, 0, 0, 0, RAFT_MEMBER_VOTER,
    3, 0, 0, 0, 0, 0, 0, 0, RAFT_MEMBER_VOTER};


#define E 10u
#define BIT(id) (1u << (id))

#define CHUNK 100u               /* max_msg_bytes */
#define SNAP 1050u               /* snapshot_size: 11 chunks, the last 50 */
#define NCHUNKS 11u
#define WINDOW 8u                /* default max_inflight (8) chunks */
#define BEHIND 20u               /* entries node 3 misses */
#define SNAP_INDEX (BEHIND + 1u) /* the no-op, then BEHIND commands */

static struct h_opts snap_opts(void)
{
    struct h_opts o;
    memset(&o, 0, sizeof(o));
    o.election_ticks = E;
    o.heartbeat_ticks = 1;
    o.seed = 7;
    o.snapshots = true;
    o.snapshot_trailing = 1;
    o.snapshot_size = SNAP;
    o.max_msg_bytes = CHUNK;
    return o;
}

/* Propose "<tag><k>" for k in 0..n-1 on the leader, delivering each. */
static void propose_n(struct harness *h, raft_id leader, const char *tag,
                      unsigned n)
{
    char buf[32];
    for (unsigned k = 0; k < n; k++) {
        snprintf(buf, sizeof(buf), "%s%u", tag, k);
        int rc = h_propose(h, leader, buf, NULL);
        ck_assert_msg(rc == 0, "propose %s: %d (%s)", buf, rc,
                      raft_strerror(rc));
        h_deliver_all(h);
    }
}

/* A 3-node cluster led by node 1, its no-op committed and applied
 * everywhere, nothing in flight and no call recorded. */
static struct harness *cluster(const struct h_opts *o)
{
    struct harness *h = h_new(3, o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 2);
    for (raft_id id = 1; id <= 3; id++) {
        ck_assert_uint_eq(h_status(h, id).applied, 1);
    }
    h_reset_all_calls(h);
    return h;
}

/* The far-behind follower (see the top): node 3 misses entries 2..21,
 * nodes 1 and 2 commit and apply them, node 1 snapshots at 21 and keeps
 * only entry 21. Node 3 is reconnected with nothing in flight. */
static struct harness *behind(const struct h_opts *o)
{
    struct harness *h = cluster(o);
    h_partition(h, BIT(3));
    propose_n(h, 1, "e", BEHIND);
    h_heartbeat(h, 1, 1);
    ck_assert_uint_eq(h_status(h, 1).applied, SNAP_INDEX);
    ck_assert_uint_eq(h_status(h, 2).applied, SNAP_INDEX);
    ck_assert_uint_eq(h_status(h, 3).last_index, 1);
    ck_assert_int_eq(h_snapshot_take(h, 1), 0);
    ck_assert_uint_eq(h_status(h, 1).first_index, SNAP_INDEX);
    h_partition(h, 0);
    h_drop(h, 1, 3, 0);
    h_drop(h, 3, 1, 0);
    h_reset_all_calls(h);
    return h;
}

static bool hold_chunks(const struct raft_msg *m, void *arg)
{
    (void)arg;
    return m->type == RAFT_MSG_SNAPSHOT;
}

/* One heartbeat: node 1 finds that node 3 needs entries it compacted and
 * sends the first window of chunks, left in flight (everything else is
 * delivered). The stream starts at the tick itself. */
static void start_stream(struct harness *h)
{
    h->hold = hold_chunks;
    h_tick(h, 1, 1);
    h_deliver_all(h);
    h->hold = NULL;
    ck_assert_uint_eq(h_count(h, 1, 3, RAFT_MSG_SNAPSHOT), WINDOW);
    ck_assert_int_eq(h_progress(h, 1, 3).state, RAFT_PROGRESS_SNAPSHOT);
}

/* Has node 3 installed the snapshot ending at `index`, and node 1 seen
 * it? */
static bool installed(struct harness *h, raft_index index)
{
    return h_status(h, 3).snapshot_index >= index &&
           h_progress(h, 1, 3).state != RAFT_PROGRESS_SNAPSHOT;
}

/* Deliver everything, then tick the leader and deliver, until node 3 has
 * installed `index`; returns the leader ticks it took (fails the test
 * after `max`). */
static unsigned finish(struct harness *h, raft_index index, unsigned max)
{
    h_deliver_all(h);
    for (unsigned t = 0; t <= max; t++) {
        if (installed(h, index)) {
            return t;
        }
        h_tick(h, 1, 1);
        h_deliver_all(h);
    }
    ck_abort_msg("node 3 did not install snapshot %llu in %u ticks "
                 "(snapshot_index %llu, leader's progress state %d)",
                 (unsigned long long)index, max,
                 (unsigned long long)h_status(h, 3).snapshot_index,
                 h_progress(h, 1, 3).state);
    return 0;
}

/* Node 3's durable snapshot is byte for byte node `from`'s. */
static void assert_same_snapshot(struct harness *h, raft_id from)
{
    const struct h_snap *a = &h_node(h, from)->snap, *b = &h_node(h, 3)->snap;
    ck_assert(a->have && b->have);
    ck_assert_uint_eq(b->index, a->index);
    ck_assert_uint_eq(b->term, a->term);
    ck_assert_uint_eq(b->len, a->len);
    ck_assert_int_eq(memcmp(a->data, b->data, a->len), 0);
}

/* After the install: two new entries replicate to node 3 and apply there,
 * and nothing else is applied; its log and disk agree with the leader. */
static void assert_caught_up(struct harness *h, raft_id leader,
                             raft_index snap_index)
{
    struct h_node *n3 = h_node(h, 3);
    size_t applied_before = n3->applied.n;
    raft_index from = h_status(h, 3).applied;
    raft_index last = h_status(h, leader).last_index;
    ck_assert_uint_ge(from, snap_index);
    ck_assert_int_eq(h_propose(h, leader, "after-a", NULL), 0);
    ck_assert_int_eq(h_propose(h, leader, "after-b", NULL), 0);
    h_deliver_all(h);
    h_heartbeat(h, leader, 2);
    struct raft_status st = h_status(h, 3);
    ck_assert_uint_eq(st.last_index, last + 2);
    ck_assert_uint_eq(st.commit, last + 2);
    ck_assert_uint_eq(st.applied, last + 2);
    ck_assert_uint_eq(st.snapshot_index, snap_index);
    /* applied: exactly the entries after what was applied or installed */
    ck_assert_uint_eq(n3->applied.n - applied_before, last + 2 - from);
    for (size_t i = applied_before; i < n3->applied.n; i++) {
        ck_assert_uint_eq(n3->applied_idx[i], from + 1 + (i - applied_before));
    }
    ck_assert_uint_eq(n3->sm_index, last + 2);
    ck_assert_uint_eq(n3->sm_hash, h_node(h, leader)->sm_hash);
    h_assert_logs_equal(h, leader, 3);
    h_assert_disk_matches(h, 3);
    h_assert_disk_matches(h, leader);
}

/* Snapshot chunks node 1 sent node 3 (as recorded). */
/* The usual end of a stream test: node 3 installed node 1's snapshot once,
 * byte for byte, and caught up with node 1's log after it. */
static void assert_installed_once(struct harness *h)
{
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    assert_same_snapshot(h, 1);
    assert_caught_up(h, 1, SNAP_INDEX);
}

static size_t chunks_sent(struct harness *h)
{
    size_t k = 0;
    for (size_t i = 0; i < h_ncalls(h, 1, H_CB_SEND); i++) {
        const struct h_call *c = h_call(h, 1, H_CB_SEND, i);
        k += c->msg_type == RAFT_MSG_SNAPSHOT && c->to == 3;
    }
    return k;
}

/* Recorded calls of a kind that succeeded. */
static size_t ok_calls(struct harness *h, raft_id id, int kind)
{
    size_t k = 0;
    for (size_t i = 0; i < h_ncalls(h, id, kind); i++) {
        k += h_call(h, id, kind, i)->rc == 0;
    }
    return k;
}

/* ------------------------------------------------------------------------
 * raft_compact
 * ------------------------------------------------------------------------ */

START_TEST(test_compact_drops_up_to_trailing)
{
    struct h_opts o = snap_opts();
    o.snapshot_trailing = 3;
    struct harness *h = cluster(&o);
    struct raft *r = h_raft(h, 1);
    propose_n(h, 1, "c", 19);
    h_heartbeat(h, 1, 1);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.applied, 20);
    ck_assert_uint_eq(st.snapshot_index, 0);
    ck_assert_uint_eq(st.first_index, 1);

    ck_assert_int_eq(h_snapshot_take(h, 1), 0);
    st = h_status(h, 1);
    ck_assert_uint_eq(st.snapshot_index, 20);
    ck_assert_uint_eq(st.first_index, 18); /* 20 - 3 dropped */
    ck_assert_uint_eq(st.last_index, 20);
    ck_assert_uint_eq(st.commit, 20);
    ck_assert_uint_eq(st.applied, 20);
    struct raft_entry e;
    ck_assert_int_eq(raft_entry_at(r, 1, &e), RAFT_ECOMPACTED);
    ck_assert_int_eq(raft_entry_at(r, 17, &e), RAFT_ECOMPACTED);
    ck_assert_int_eq(raft_entry_at(r, 18, &e), 0);
    ck_assert_uint_eq(e.term, st.term);
    ck_assert_uint_eq(e.len, 3);
    ck_assert_int_eq(memcmp(e.buf, "c16", 3), 0); /* entry 18: "c16" */
    ck_assert_int_eq(raft_entry_at(r, 20, &e), 0);
    ck_assert_int_eq(memcmp(e.buf, "c18", 3), 0);
    ck_assert_int_eq(raft_entry_at(r, 21, &e), RAFT_EINVAL);
    ck_assert_int_eq(raft_entry_at(r, 0, &e), RAFT_EINVAL);
    ck_assert_uint_eq(h_node(h, 1)->disk_base, 17);
    h_assert_disk_matches(h, 1);

    /* above the applied index: refused, nothing changes */
    ck_assert_int_eq(raft_compact(r, 21), RAFT_EINVAL);
    /* at or below the latest snapshot: no change */
    ck_assert_int_eq(raft_compact(r, 20), 0);
    ck_assert_int_eq(raft_compact(r, 10), 0);
    struct raft_status again = h_status(h, 1);
    ck_assert_uint_eq(again.snapshot_index, 20);
    ck_assert_uint_eq(again.first_index, 18);
    h_assert_status_eq(&st, &again, "raft_compact refused or a no-op");

    /* a later one moves both on */
    propose_n(h, 1, "d", 5);
    h_heartbeat(h, 1, 1);
    ck_assert_uint_eq(h_status(h, 1).applied, 25);
    ck_assert_int_eq(raft_compact(r, 23), 0);
    st = h_status(h, 1);
    ck_assert_uint_eq(st.snapshot_index, 23);
    ck_assert_uint_eq(st.first_index, 21);
    ck_assert_uint_eq(st.last_index, 25);
    ck_assert_int_eq(raft_entry_at(r, 20, &e), RAFT_ECOMPACTED);
    ck_assert_int_eq(raft_entry_at(r, 21, &e), 0);
    ck_assert_int_eq(memcmp(e.buf, "d0", 2), 0);

    /* the cluster goes on: followers (uncompacted) still replicate */
    propose_n(h, 1, "f", 2);
    h_heartbeat(h, 1, 1);
    ck_assert_uint_eq(h_status(h, 2).applied, 27);
    ck_assert_uint_eq(h_status(h, 3).applied, 27);
    ck_assert_uint_eq(h_status(h, 2).first_index, 1);
    h_free(h);
}
END_TEST

/* Fewer entries than snapshot_trailing: the snapshot is recorded, nothing
 * is dropped. */
START_TEST(test_compact_keeps_trailing_entries)
{
    struct h_opts o = snap_opts();
    o.snapshot_trailing = 0; /* the default, 1024 */
    struct harness *h = cluster(&o);
    propose_n(h, 1, "c", 9);
    h_heartbeat(h, 1, 1);
    ck_assert_int_eq(h_snapshot_take(h, 1), 0);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.snapshot_index, 10);
    ck_assert_uint_eq(st.first_index, 1);
    struct raft_entry e;
    ck_assert_int_eq(raft_entry_at(h_raft(h, 1), 1, &e), 0);
    ck_assert_int_eq(e.type, RAFT_ENTRY_CONFIG); /* the first leader's */
    ck_assert_uint_eq(h_node(h, 1)->disk_base, 0);
    h_assert_disk_matches(h, 1);
    h_free(h);
}
END_TEST

START_TEST(test_compact_misuse)
{
    /* without snapshot callbacks, even at index 0 */
    struct h_opts o = snap_opts();
    o.snapshots = false;
    struct harness *h = cluster(&o);
    struct raft_status before = h_status(h, 1);
    ck_assert_int_eq(raft_compact(h_raft(h, 1), 1), RAFT_EINVAL);
    ck_assert_int_eq(raft_compact(h_raft(h, 1), 0), RAFT_EINVAL);
    struct raft_status after = h_status(h, 1);
    h_assert_status_eq(&before, &after, "raft_compact without callbacks");
    ck_assert_uint_eq(after.snapshot_index, 0);
    ck_assert_uint_eq(after.first_index, 1);
    /* and a chunk is refused */
    static const char data[4] = "abc";
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_SNAPSHOT;
    m.from = 1;
    m.to = 2;
    m.term = before.term;
    m.u.snapshot.index = 5;
    m.u.snapshot.index_term = before.term;
    m.u.snapshot.len = sizeof(data);
    m.u.snapshot.data = data;
    m.u.snapshot.last = true;
    m.u.snapshot.conf = conf123;
    m.u.snapshot.conf_len = sizeof(conf123);
    ck_assert_int_eq(raft_step(h_raft(h, 2), &m), RAFT_EINVAL);
    ck_assert_uint_eq(h_status(h, 2).commit, 1);
    ck_assert_uint_eq(h_count(h, 2, 1, 0), 0);
    h_free(h);

    /* a node not started, and NULL */
    o.snapshots = true;
    h = h_new(1, &o);
    ck_assert_int_eq(raft_compact(h_raft(h, 1), 0), RAFT_ENOTSTARTED);
    ck_assert_int_eq(raft_compact(NULL, 0), RAFT_EINVAL);
    h_free(h);
}
END_TEST

/* From within a callback, raft_compact is a mutating call like the others. */
static void compact_from_apply(struct h_node *nd, int kind)
{
    if (kind == H_CB_APPLY) {
        *(int *)nd->hook_arg = raft_compact(nd->r, 0);
    }
}

START_TEST(test_compact_from_callback_is_busy)
{
    struct h_opts o = snap_opts();
    struct harness *h = cluster(&o);
    int rc = 1;
    h_node(h, 1)->hook = compact_from_apply;
    h_node(h, 1)->hook_arg = &rc;
    propose_n(h, 1, "x", 1);
    ck_assert_int_eq(rc, RAFT_EBUSY);
    h_node(h, 1)->hook = NULL;
    h_free(h);
}
END_TEST

START_TEST(test_create_rejects_partial_snapshot_callbacks)
{
    struct h_opts o = snap_opts();
    o.no_create = true;
    struct harness *h = h_new(1, &o);
    struct h_node *nd = h_node(h, 1);
    const struct raft_callbacks full = h_callbacks(h);
    ck_assert(full.snapshot_read != NULL);
    /* every subset of the three: only all or none is accepted */
    for (unsigned mask = 0; mask < 8; mask++) {
        struct raft_callbacks cbs = full;
        if (!(mask & 1u)) {
            cbs.snapshot_read = NULL;
        }
        if (!(mask & 2u)) {
            cbs.snapshot_write = NULL;
        }
        if (!(mask & 4u)) {
            cbs.snapshot_install = NULL;
        }
        struct raft *sentinel = (struct raft *)&o;
        struct raft *out = sentinel;
        int rc = raft_create(&nd->cfg, &cbs, nd, &out);
        if (mask == 0 || mask == 7) {
            ck_assert_msg(rc == 0, "mask %u: %d", mask, rc);
            raft_destroy(out);
        } else {
            ck_assert_msg(rc == RAFT_EINVAL, "mask %u: %d", mask, rc);
            ck_assert_ptr_eq(out, sentinel);
        }
    }
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Memory is proportional to the retained log
 * ------------------------------------------------------------------------ */

#define MEM_K 64u        /* entries between snapshots */
#define MEM_TRAILING 16u
#define MEM_PAYLOAD 100u

/* Propose `n` more entries of MEM_PAYLOAD bytes in batches of MEM_K,
 * committing each batch everywhere and, if `compact`, snapshotting every
 * node after it. */
static void mem_run(struct harness *h, unsigned n, bool compact)
{
    static char payload[MEM_PAYLOAD];
    struct raft_buf bufs[MEM_K];
    memset(payload, 'p', sizeof(payload));
    for (unsigned i = 0; i < MEM_K; i++) {
        bufs[i].base = payload;
        bufs[i].len = sizeof(payload);
    }
    for (unsigned done = 0; done < n; done += MEM_K) {
        ck_assert_int_eq(raft_propose_batch(h_raft(h, 1), bufs, MEM_K, NULL), 0);
        h_deliver_all(h);
        h_heartbeat(h, 1, 1);
        if (compact) {
            for (raft_id id = 1; id <= 3; id++) {
                ck_assert_int_eq(h_snapshot_take(h, id), 0);
            }
        }
    }
}

static size_t mem_after(unsigned n, bool compact, raft_index *first)
{
    struct h_opts o = snap_opts();
    o.counting_alloc = true;
    o.snapshot_trailing = MEM_TRAILING;
    o.max_msg_bytes = 0;
    o.max_msg_entries = MEM_K;
    struct harness *h = cluster(&o);
    mem_run(h, n, compact);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.applied, 1 + n);
    ck_assert_uint_eq(h_status(h, 3).applied, 1 + n);
    *first = st.first_index;
    size_t bytes = h->alloc.bytes;
    h_free(h);
    return bytes;
}

START_TEST(test_compact_bounds_memory)
{
    const unsigned n1 = 1024, n2 = 10 * n1;
    raft_index f1, f2, g1, g2;
    size_t b1 = mem_after(n1, true, &f1);
    size_t b2 = mem_after(n2, true, &f2);
    size_t u1 = mem_after(n1, false, &g1);
    size_t u2 = mem_after(n2, false, &g2);
    printf("snapshot: 3 nodes, %u-byte entries, compacting every %u with "
           "%u trailing: %zu bytes after %u entries, %zu after %u; "
           "without compaction %zu and %zu\n",
           MEM_PAYLOAD, MEM_K, MEM_TRAILING, b1, n1, b2, n2, u1, u2);
    ck_assert_uint_eq(f1, 1 + n1 - MEM_TRAILING + 1);
    ck_assert_uint_eq(f2, 1 + n2 - MEM_TRAILING + 1);
    ck_assert_uint_eq(g2, 1);
    /* 10 times the entries, about the same memory ... */
    ck_assert_msg(b2 <= b1 + b1 / 2, "memory grew from %zu to %zu", b1, b2);
    /* ... where without compaction it grows with the log (the measure
     * sees the log) */
    ck_assert_msg(u2 >= 5 * u1, "uncompacted: %zu then %zu", u1, u2);
    ck_assert_msg(b2 * 10 <= u2, "compacted %zu vs uncompacted %zu", b2, u2);
}
END_TEST

/* ------------------------------------------------------------------------
 * A far-behind follower catches up through the snapshot
 * ------------------------------------------------------------------------ */

START_TEST(test_far_behind_follower_gets_snapshot)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    start_stream(h);
    struct raft_progress p = h_progress(h, 1, 3);
    ck_assert_uint_eq(p.snapshot_acked, 0);
    /* the chunks in flight: offsets 0, CHUNK, ... of snapshot 21 */
    for (size_t k = 0; k < WINDOW; k++) {
        const struct raft_msg *m = h_find(h, 1, 3, RAFT_MSG_SNAPSHOT, k);
        ck_assert_uint_eq(m->u.snapshot.index, SNAP_INDEX);
        ck_assert_uint_eq(m->u.snapshot.index_term, h_status(h, 1).term);
        ck_assert_uint_eq(m->u.snapshot.offset, k * CHUNK);
        ck_assert_uint_eq(m->u.snapshot.len, CHUNK);
        ck_assert(!m->u.snapshot.last);
    }
    /* the chunks arrive, their answers wait */
    while (h_count(h, 1, 3, RAFT_MSG_SNAPSHOT) > 0) {
        h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT);
    }
    ck_assert_uint_eq(h_count(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP), WINDOW);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), WINDOW);
    ck_assert_uint_eq(h_progress(h, 1, 3).snapshot_acked, 0);
    /* one answer moves the window by one chunk */
    const struct raft_msg *a = h_find(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP, 0);
    ck_assert_uint_eq(a->u.snapshot_resp.index, SNAP_INDEX);
    ck_assert_uint_eq(a->u.snapshot_resp.offset, CHUNK);
    ck_assert(!a->u.snapshot_resp.done);
    h_deliver_one(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP);
    p = h_progress(h, 1, 3);
    ck_assert_int_eq(p.state, RAFT_PROGRESS_SNAPSHOT);
    ck_assert_uint_eq(p.snapshot_acked, CHUNK);
    ck_assert_uint_eq(h_count(h, 1, 3, RAFT_MSG_SNAPSHOT), 1);
    ck_assert_uint_eq(h_find(h, 1, 3, RAFT_MSG_SNAPSHOT, 0)->u.snapshot.offset,
                      WINDOW * CHUNK);
    /* the rest, without loss: each chunk sent and written once */
    ck_assert_uint_eq(finish(h, SNAP_INDEX, 0), 0);
    ck_assert_uint_eq(chunks_sent(h), NCHUNKS);
    ck_assert_uint_eq(NCHUNKS, h_chunks(SNAP, CHUNK));
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), NCHUNKS);
    for (size_t k = 0; k < NCHUNKS; k++) {
        const struct h_call *c = h_call(h, 3, H_CB_SNAPSHOT_WRITE, k);
        ck_assert_uint_eq(c->offset, k * CHUNK);
        ck_assert_uint_eq(c->n, k + 1 < NCHUNKS ? CHUNK : SNAP - k * CHUNK);
        ck_assert_uint_eq(c->index, SNAP_INDEX);
    }
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    const struct h_call *ins = h_call(h, 3, H_CB_SNAPSHOT_INSTALL, 0);
    ck_assert_uint_eq(ins->index, SNAP_INDEX);
    ck_assert(!ins->keep); /* node 3's log ends at 1 */
    /* the done answer carried the full length */
    const struct h_call *done = NULL;
    for (size_t i = 0; i < h_ncalls(h, 3, H_CB_SEND); i++) {
        const struct h_call *c = h_call(h, 3, H_CB_SEND, i);
        if (c->msg_type == RAFT_MSG_SNAPSHOT_RESP && c->ok) {
            ck_assert_ptr_null(done);
            done = c;
        }
    }
    ck_assert_ptr_nonnull(done);
    ck_assert_uint_eq(done->offset, SNAP);
    ck_assert_uint_eq(done->index, SNAP_INDEX);
    assert_same_snapshot(h, 1);
    struct raft_status st = h_status(h, 3);
    ck_assert_uint_eq(st.commit, SNAP_INDEX);
    ck_assert_uint_eq(st.applied, SNAP_INDEX);
    ck_assert_uint_eq(st.snapshot_index, SNAP_INDEX);
    ck_assert_uint_eq(st.first_index, SNAP_INDEX + 1);
    ck_assert_uint_eq(st.last_index, SNAP_INDEX);
    ck_assert_uint_eq(h_node(h, 3)->sm_index, SNAP_INDEX);
    ck_assert_uint_eq(h_node(h, 3)->sm_hash, h_node(h, 1)->sm_hash);
    /* installed, not applied: the apply callback saw none of 2..21 */
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_APPLY), 0);
    p = h_progress(h, 1, 3);
    ck_assert_int_eq(p.state, RAFT_PROGRESS_PROBE);
    ck_assert_uint_eq(p.match, SNAP_INDEX);
    ck_assert_uint_eq(p.snapshot_acked, 0);
    assert_caught_up(h, 1, SNAP_INDEX);
    ck_assert_int_eq(h_progress(h, 1, 3).state, RAFT_PROGRESS_REPLICATE);
    h_free(h);
}
END_TEST

/* Flow control: with max_inflight_bytes of two chunks, never more than two
 * chunks are unacknowledged: in flight, or delivered with their answer in
 * flight (messages delivered in order; heartbeats when the network is
 * quiet). */

/* Every chunk node 1 sent since call `from` of its log ends within the
 * window past what it knows acknowledged. Returns the new position. */
static size_t assert_sent_within_window(struct harness *h, size_t from,
                                        uint64_t window)
{
    const struct h_node *nd = h_node(h, 1);
    uint64_t acked = h_progress(h, 1, 3).snapshot_acked;
    for (size_t i = from; i < nd->n_calls; i++) {
        const struct h_call *c = &nd->calls[i];
        if (c->kind == H_CB_SEND && c->msg_type == RAFT_MSG_SNAPSHOT) {
            ck_assert_msg(c->offset + c->n <= acked + window,
                          "chunk at %llu (+%zu) sent with %llu acknowledged",
                          (unsigned long long)c->offset, c->n,
                          (unsigned long long)acked);
        }
    }
    return nd->n_calls;
}

START_TEST(test_snapshot_window)
{
    struct h_opts o = snap_opts();
    o.max_inflight_bytes = 2 * CHUNK;
    struct harness *h = behind(&o);
    size_t most = 0, steps = 0, seen = 0;
    while (!installed(h, SNAP_INDEX)) {
        size_t unacked = h_count(h, 1, 3, RAFT_MSG_SNAPSHOT) +
                         h_count(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP);
        ck_assert_msg(unacked <= 2, "%zu chunks unacknowledged", unacked);
        most = unacked > most ? unacked : most;
        if (h_progress(h, 1, 3).state == RAFT_PROGRESS_SNAPSHOT) {
            seen = assert_sent_within_window(h, seen, 2 * CHUNK);
        }
        if (h->n_net == 0) {
            h_tick(h, 1, 1);
        } else {
            h_deliver_at(h, 0);
        }
        ck_assert_uint_lt(++steps, 1000);
    }
    ck_assert_uint_eq(most, 2);
    ck_assert_uint_eq(chunks_sent(h), NCHUNKS);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), NCHUNKS);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    assert_same_snapshot(h, 1);
    h_free(h);
}
END_TEST

/* The same bound with messages delivered in a shuffled order, and the
 * leader ticking meanwhile (node 2 is left out): answers come late or out
 * of order, the follower answers gaps, the leader rewinds and resends;
 * whatever it resends, it never sends past the window, and the stream
 * completes with one install of the right bytes. */
START_TEST(test_snapshot_window_shuffled)
{
    for (uint64_t seed = 1; seed <= 8; seed++) {
        struct h_opts o = snap_opts();
        o.max_inflight_bytes = 2 * CHUNK;
        struct harness *h = behind(&o);
        uint64_t x = seed * 0x9e3779b97f4a7c15ull;
        size_t steps = 0, seen = 0;
        while (!installed(h, SNAP_INDEX)) {
            h_drop(h, 1, 2, 0);
            h_drop(h, 2, 1, 0);
            if (h_progress(h, 1, 3).state == RAFT_PROGRESS_SNAPSHOT) {
                seen = assert_sent_within_window(h, seen, 2 * CHUNK);
            }
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            unsigned pick = (unsigned)(x >> 33);
            if (h->n_net == 0 || pick % 4 == 0) {
                h_tick(h, 1, 1);
            } else {
                h_deliver_at(h, (pick >> 2) % h->n_net);
            }
            ck_assert_msg(++steps < 20000, "seed %llu: no install after %zu "
                          "steps (see test_snapshot_stale_answer)",
                          (unsigned long long)seed, steps);
        }
        ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
        assert_same_snapshot(h, 1);
        h_free(h);
    }
}
END_TEST

/* A chunk lost in the middle: the follower answers the chunks after it
 * with the offset it still expects, the leader sends again from there,
 * and every byte is written exactly once. */
START_TEST(test_snapshot_lost_middle_chunk)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    start_stream(h);
    /* chunk 3 (offset 300) is lost */
    const struct raft_msg *m = h_find(h, 1, 3, RAFT_MSG_SNAPSHOT, 3);
    ck_assert_uint_eq(m->u.snapshot.offset, 3 * CHUNK);
    for (size_t i = 0; i < h->n_net; i++) {
        if (&h->net[i].m == m) {
            h_drop_at(h, i);
            break;
        }
    }
    for (int k = 0; k < 4; k++) {
        h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT); /* 0, 1, 2, then 4 */
    }
    /* the gap is answered at once with the offset expected */
    const struct raft_msg *gap = h_find(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP, 3);
    ck_assert_uint_eq(gap->u.snapshot_resp.offset, 3 * CHUNK);
    ck_assert(!gap->u.snapshot_resp.done);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), 3);
    /* without waiting for an election timeout: within a heartbeat */
    unsigned ticks = finish(h, SNAP_INDEX, 3 * E);
    ck_assert_msg(ticks <= 1, "the lost chunk was resent only after %u "
                  "leader ticks (election timeout %u)", ticks, E);
    /* 11 chunks, and again from 300: 8 more */
    ck_assert_uint_eq(chunks_sent(h), NCHUNKS + NCHUNKS - 3);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), NCHUNKS);
    for (size_t k = 0; k < NCHUNKS; k++) {
        ck_assert_uint_eq(h_call(h, 3, H_CB_SNAPSHOT_WRITE, k)->offset, k * CHUNK);
    }
    assert_installed_once(h);
    h_free(h);
}
END_TEST

/* The same for a stream that a new leader starts as soon as it learns
 * that a follower needs the snapshot (from the follower's rejection, not
 * at a heartbeat): node 1 restarts (from its snapshot) and is elected
 * again; it believes node 3 up to date, is told otherwise, and streams. A
 * chunk lost in the middle must still be resent within a heartbeat
 * interval, not after an election timeout. */
START_TEST(test_snapshot_lost_middle_chunk_new_leader)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    ck_assert_int_eq(h_restart(h, 1), 0);
    ck_assert_uint_eq(h_status(h, 1).snapshot_index, SNAP_INDEX);
    h->hold = hold_chunks;
    h_elect(h, 1);
    h->hold = NULL;
    ck_assert_uint_eq(raft_current_term(h_raft(h, 1)), 2);
    ck_assert_int_eq(h_progress(h, 1, 3).state, RAFT_PROGRESS_SNAPSHOT);
    ck_assert_uint_eq(h_count(h, 1, 3, RAFT_MSG_SNAPSHOT), WINDOW);
    h_drop_at(h, 3);
    ck_assert_uint_eq(h_find(h, 1, 3, RAFT_MSG_SNAPSHOT, 3)->u.snapshot.offset,
                      4 * CHUNK);
    unsigned ticks = finish(h, SNAP_INDEX, 3 * E);
    ck_assert_msg(ticks <= 1, "the lost chunk was resent only after %u "
                  "leader ticks (election timeout %u)", ticks, E);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), NCHUNKS);
    assert_installed_once(h);
    h_free(h);
}
END_TEST

/* Node 1's chunk to node 3 at `offset` in flight: its position, or
 * h->n_net if there is none. */
static size_t chunk_at(struct harness *h, uint64_t offset)
{
    size_t i;
    for (i = 0; i < h->n_net; i++) {
        const struct raft_msg *m = &h->net[i].m;
        if (m->type == RAFT_MSG_SNAPSHOT && m->from == 1 && m->to == 3 &&
            m->u.snapshot.offset == offset) {
            break;
        }
    }
    return i;
}

/* Rewinds are held back only within a heartbeat interval of the previous
 * one. Chunk 1 is lost and the follower's answer to chunk 2 makes the
 * leader send again from it; a heartbeat interval later the resent chunk 1
 * is lost too: the answer showing it makes the leader send chunk 1 again
 * in the very call that receives it, not a heartbeat later. */
START_TEST(test_snapshot_rewind_a_heartbeat_after_the_last_is_at_once)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    start_stream(h);
    ck_assert_int_eq(h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT), 0); /* 0 */
    h_drop_at(h, chunk_at(h, CHUNK));
    ck_assert_int_eq(h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT), 0); /* 2 */
    h_drop(h, 1, 3, RAFT_MSG_SNAPSHOT); /* the rest of the window too */
    ck_assert_uint_eq(h_count(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP), 2);
    ck_assert_int_eq(h_deliver_one(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP), 0);
    ck_assert_uint_eq(h_progress(h, 1, 3).snapshot_acked, CHUNK);
    ck_assert_int_eq(h_deliver_one(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP), 0);
    /* the first rewind: at once */
    ck_assert_uint_lt(chunk_at(h, CHUNK), h->n_net);
    h_tick(h, 1, 1); /* a heartbeat interval passes */
    h_drop_at(h, chunk_at(h, CHUNK)); /* the resent chunk 1 is lost */
    ck_assert_uint_eq(chunk_at(h, CHUNK), h->n_net);
    ck_assert_int_eq(h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT), 0);
    ck_assert_uint_eq(h_count(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP), 1);
    ck_assert_uint_eq(h_find(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP, 0)
                          ->u.snapshot_resp.offset, CHUNK);
    ck_assert_int_eq(h_deliver_one(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP), 0);
    ck_assert_msg(chunk_at(h, CHUNK) < h->n_net,
                  "a rewind a heartbeat interval after the previous one "
                  "waited for the next heartbeat");
    ck_assert_uint_eq(finish(h, SNAP_INDEX, 3 * E), 0);
    assert_installed_once(h);
    h_free(h);
}
END_TEST

/* raft.h: a chunk's data "may be NULL when len is 0". Such a chunk is
 * taken, not refused as malformed, and the stream goes on. */
START_TEST(test_snapshot_empty_chunk_with_null_data_taken)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    start_stream(h);
    struct raft_msg m = *h_find(h, 1, 3, RAFT_MSG_SNAPSHOT, 0);
    ck_assert_uint_eq(m.u.snapshot.offset, 0);
    m.u.snapshot.len = 0;
    m.u.snapshot.data = NULL;
    ck_assert_int_eq(raft_step(h_raft(h, 3), &m), 0);
    ck_assert_uint_eq(h_nevents(h, 3, RAFT_EVENT_MSG_REJECTED), 0);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), 1);
    ck_assert_uint_eq(h_call(h, 3, H_CB_SNAPSHOT_WRITE, 0)->n, 0);
    finish(h, SNAP_INDEX, 3 * E);
    assert_installed_once(h);
    h_free(h);
}
END_TEST

/* Index in the network of the answer from node 3 with this offset. */
static size_t find_answer(struct harness *h, uint64_t offset)
{
    for (size_t i = 0; i < h->n_net; i++) {
        const struct raft_msg *m = &h->net[i].m;
        if (m->type == RAFT_MSG_SNAPSHOT_RESP && m->from == 3 &&
            m->u.snapshot_resp.offset == offset) {
            return i;
        }
    }
    ck_abort_msg("no answer with offset %llu in flight", (unsigned long long)offset);
    return 0;
}

/* An answer delayed (or duplicated by the network) arrives long after
 * later ones: it says nothing new, the follower has written far more.
 * Window of two chunks: the answer to chunk 0 (offset 100) is held back
 * while chunks up to offset 800 are written and acknowledged. */
START_TEST(test_snapshot_stale_answer)
{
    struct h_opts o = snap_opts();
    o.max_inflight_bytes = 2 * CHUNK;
    struct harness *h = behind(&o);
    h->hold = hold_chunks;
    h_tick(h, 1, 1);
    h_deliver_all(h);
    h->hold = NULL;
    ck_assert_uint_eq(h_count(h, 1, 3, RAFT_MSG_SNAPSHOT), 2);
    /* a heartbeat interval passes: any rewind is allowed from here on */
    h_tick(h, 1, 1);
    h_drop(h, 1, 0, RAFT_MSG_APPEND);
    h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT);
    h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT);
    size_t i = find_answer(h, CHUNK);
    struct raft_msg stale = h->net[i].m; /* owns nothing */
    h_drop_at(h, i);
    /* the rest flows in order until node 3 has written 800 bytes */
    while (h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE) < 8) {
        ck_assert_uint_gt(h->n_net, 0);
        h_deliver_at(h, 0);
    }
    while (h_count(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP) > 0) {
        h_deliver_one(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP);
    }
    ck_assert_uint_eq(h_progress(h, 1, 3).snapshot_acked, 8 * CHUNK);
    /* now the stale answer (offset 100) arrives */
    ck_assert_int_eq(raft_step(h_raft(h, 1), &stale), 0);
    ck_assert_msg(h_progress(h, 1, 3).snapshot_acked == 8 * CHUNK,
                  "a stale answer lowered the acknowledged offset from %u to "
                  "%llu: the follower has written %u bytes", 8 * CHUNK,
                  (unsigned long long)h_progress(h, 1, 3).snapshot_acked,
                  8 * CHUNK);
    finish(h, SNAP_INDEX, 5 * E);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    assert_same_snapshot(h, 1);
    h_free(h);
}
END_TEST

/* The stream completes even when the stale answer rewinds the leader
 * (the acknowledged offset is not checked here). */
START_TEST(test_snapshot_stale_answer_completes)
{
    struct h_opts o = snap_opts();
    o.max_inflight_bytes = 2 * CHUNK;
    struct harness *h = behind(&o);
    h->hold = hold_chunks;
    h_tick(h, 1, 1);
    h_deliver_all(h);
    h->hold = NULL;
    h_tick(h, 1, 1);
    h_drop(h, 1, 0, RAFT_MSG_APPEND);
    h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT);
    h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT);
    size_t i = find_answer(h, CHUNK);
    struct raft_msg stale = h->net[i].m;
    h_drop_at(h, i);
    while (h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE) < 8) {
        h_deliver_at(h, 0);
    }
    while (h_count(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP) > 0) {
        h_deliver_one(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP);
    }
    ck_assert_int_eq(raft_step(h_raft(h, 1), &stale), 0);
    unsigned ticks = finish(h, SNAP_INDEX, 10 * E);
    ck_assert_uint_le(ticks, 2 * E);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    ck_assert_uint_eq(ok_calls(h, 3, H_CB_SNAPSHOT_WRITE), NCHUNKS);
    assert_same_snapshot(h, 1);
    h_free(h);
}
END_TEST

/* Deliver until the last chunk is the next SNAPSHOT in flight. */
static void deliver_until_last_chunk(struct harness *h)
{
    for (unsigned guard = 0; guard < 1000; guard++) {
        const struct raft_msg *m = h_find(h, 1, 3, RAFT_MSG_SNAPSHOT, 0);
        if (m != NULL && m->u.snapshot.last) {
            return;
        }
        ck_assert_uint_gt(h->n_net, 0);
        h_deliver_at(h, 0);
    }
    ck_abort_msg("no last chunk");
}

/* The last chunk is lost: no answer at all. It is sent again after an
 * election timeout without acknowledgement, not before. */
START_TEST(test_snapshot_lost_tail)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    start_stream(h);
    deliver_until_last_chunk(h);
    h_drop(h, 1, 3, RAFT_MSG_SNAPSHOT);
    h_deliver_all(h);
    ck_assert_uint_eq(h_progress(h, 1, 3).snapshot_acked, SNAP - SNAP % CHUNK);
    size_t sent = chunks_sent(h);
    ck_assert_uint_eq(sent, NCHUNKS);
    unsigned t;
    for (t = 1; t <= 2 * E && chunks_sent(h) == sent; t++) {
        h_tick(h, 1, 1);
        h_drop(h, 1, 3, RAFT_MSG_APPEND); /* heartbeats say nothing here */
        h_drop(h, 1, 2, 0);
    }
    ck_assert_uint_eq(t - 1, E);
    ck_assert_uint_eq(chunks_sent(h), sent + 1);
    const struct raft_msg *m = h_find(h, 1, 3, RAFT_MSG_SNAPSHOT, 0);
    ck_assert_uint_eq(m->u.snapshot.offset, SNAP - SNAP % CHUNK);
    ck_assert(m->u.snapshot.last);
    ck_assert_uint_eq(finish(h, SNAP_INDEX, 0), 0);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), NCHUNKS);
    assert_installed_once(h);
    h_free(h);
}
END_TEST

/* The last chunk arrives and installs, but its `done` answer is lost: the
 * next heartbeat (answered with success at the snapshot's index) tells the
 * leader, which leaves the snapshot state at the heartbeat after; nothing
 * is sent or installed again. */
START_TEST(test_snapshot_lost_done_answer)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    start_stream(h);
    deliver_until_last_chunk(h);
    h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    ck_assert_uint_eq(h_status(h, 3).snapshot_index, SNAP_INDEX);
    h_drop(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP);
    h_deliver_all(h);
    ck_assert_int_eq(h_progress(h, 1, 3).state, RAFT_PROGRESS_SNAPSHOT);
    size_t sent = chunks_sent(h);
    ck_assert_uint_eq(finish(h, SNAP_INDEX, 2 * E), 2);
    ck_assert_uint_eq(chunks_sent(h), sent);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    ck_assert_uint_eq(h_progress(h, 1, 3).match, SNAP_INDEX);
    assert_caught_up(h, 1, SNAP_INDEX);
    h_free(h);
}
END_TEST

/* A duplicated chunk and two reordered ones: one install, right bytes. */
START_TEST(test_snapshot_duplicated_chunk)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    start_stream(h);
    h_duplicate_at(h, 2); /* offset 200 again, after the window */
    ck_assert_uint_eq(h_count(h, 1, 3, RAFT_MSG_SNAPSHOT), WINDOW + 1);
    finish(h, SNAP_INDEX, 3 * E);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    ck_assert_uint_eq(ok_calls(h, 3, H_CB_SNAPSHOT_WRITE), NCHUNKS);
    assert_same_snapshot(h, 1);
    /* and later duplicates of any chunk change nothing */
    assert_caught_up(h, 1, SNAP_INDEX);
    h_free(h);
}
END_TEST

/* A copy of the first chunk arrives after the whole window. If node 3
 * takes it as a new start (offset 0 starts over), its answers fall below
 * what the leader has seen acknowledged and the leader must follow it
 * back; either way, one install of the right bytes follows, in bounded
 * time. */
START_TEST(test_snapshot_duplicated_first_chunk)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    start_stream(h);
    h_duplicate_at(h, 0);
    while (h_count(h, 1, 3, RAFT_MSG_SNAPSHOT) > 0) {
        h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT);
    }
    unsigned ticks = finish(h, SNAP_INDEX, 10 * E);
    ck_assert_msg(ticks <= 2 * E + 2, "took %u ticks", ticks);
    assert_installed_once(h);
    h_free(h);
}
END_TEST

START_TEST(test_snapshot_reordered_chunks)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    start_stream(h);
    /* 0, 1, 3, 2, 4, ...: chunk 3 overtakes chunk 2 */
    h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT);
    h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT);
    ck_assert_uint_eq(h_find(h, 1, 3, RAFT_MSG_SNAPSHOT, 1)->u.snapshot.offset,
                      3 * CHUNK);
    size_t i3 = 0;
    for (; i3 < h->n_net; i3++) {
        if (h->net[i3].m.type == RAFT_MSG_SNAPSHOT &&
            h->net[i3].m.u.snapshot.offset == 3 * CHUNK) {
            break;
        }
    }
    h_deliver_at(h, i3);
    const struct raft_msg *a = h_find(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP, 2);
    ck_assert_uint_eq(a->u.snapshot_resp.offset, 2 * CHUNK);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), 2);
    finish(h, SNAP_INDEX, 3 * E);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), NCHUNKS);
    assert_same_snapshot(h, 1);
    assert_caught_up(h, 1, SNAP_INDEX);
    h_free(h);
}
END_TEST

/* Node 3 restarts mid-stream: what it had received is gone; the chunks
 * still in flight are answered with offset 0 and the stream starts over. */
START_TEST(test_snapshot_follower_restarts_mid_stream)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    start_stream(h);
    for (int k = 0; k < 4; k++) {
        h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT);
    }
    h_drop(h, 3, 1, 0);
    ck_assert_int_eq(h_restart(h, 3), 0);
    ck_assert_uint_eq(h_status(h, 3).last_index, 1);
    h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT); /* offset 400 */
    const struct raft_msg *a = h_find(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP, 0);
    ck_assert_uint_eq(a->u.snapshot_resp.offset, 0);
    ck_assert(!a->u.snapshot_resp.done);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), 0);
    finish(h, SNAP_INDEX, 3 * E);
    /* after the restart: the whole snapshot, from 0, once */
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), NCHUNKS);
    ck_assert_uint_eq(h_call(h, 3, H_CB_SNAPSHOT_WRITE, 0)->offset, 0);
    assert_installed_once(h);
    h_free(h);
}
END_TEST

/* A late answer from before node 3 restarted claims more than node 3 now
 * holds: the leader, told 400 bytes are written, resends from there while
 * node 3 keeps asking for byte 100. The leader goes back to the lowest
 * offset asked for once an election timeout passes without progress. */
START_TEST(test_snapshot_late_answer_after_restart)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    start_stream(h);
    for (int k = 0; k < 4; k++) {
        h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT);
    }
    size_t i = find_answer(h, 4 * CHUNK);
    struct raft_msg late = h->net[i].m; /* owns nothing */
    h_drop(h, 3, 1, 0);
    ck_assert_int_eq(h_restart(h, 3), 0);
    h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT); /* offset 400: answered 0 */
    h_drop(h, 1, 3, RAFT_MSG_SNAPSHOT);
    h_deliver_one(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP); /* the leader starts over */
    h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT);      /* offset 0 */
    h_drop(h, 1, 3, RAFT_MSG_SNAPSHOT);             /* the rest is lost */
    h_deliver_one(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP); /* 100 written */
    ck_assert_uint_eq(h_progress(h, 1, 3).snapshot_acked, CHUNK);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &late), 0);
    ck_assert_uint_eq(h_progress(h, 1, 3).snapshot_acked, 4 * CHUNK);
    unsigned ticks = finish(h, SNAP_INDEX, 10 * E);
    ck_assert_msg(ticks <= 2 * E + 2, "took %u ticks", ticks);
    assert_installed_once(h);
    h_free(h);
}
END_TEST

/* Node 3 restarts after answering every chunk but the last, which is then
 * lost: the leader resends the tail after an election timeout, learns
 * that node 3 starts over, and the stream completes. */
START_TEST(test_snapshot_follower_restarts_before_tail)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    start_stream(h);
    deliver_until_last_chunk(h);
    h_drop(h, 1, 3, RAFT_MSG_SNAPSHOT);
    h_deliver_all(h);
    ck_assert_int_eq(h_restart(h, 3), 0);
    unsigned ticks = finish(h, SNAP_INDEX, 10 * E);
    ck_assert_msg(ticks <= 2 * E + 2, "took %u ticks", ticks);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    ck_assert_uint_eq(ok_calls(h, 3, H_CB_SNAPSHOT_WRITE), NCHUNKS);
    assert_same_snapshot(h, 1);
    assert_caught_up(h, 1, SNAP_INDEX);
    h_free(h);
}
END_TEST

/* The leader starts its stream over while node 3 holds all but the last
 * chunk of it: node 3 is removed and added back at once, which gives it
 * fresh progress. The new stream's window (chunk 0, then the next ones)
 * reaches a node expecting the last chunk: it answers the first copy of
 * chunk 0 with what it holds (more than the leader sent, so ignored),
 * cannot take the rest of the window, and starts over at the leader's
 * next copy of chunk 0, no chunk having been taken in between. */
START_TEST(test_snapshot_stream_started_over_by_the_leader)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    raft_index idx;
    start_stream(h);
    deliver_until_last_chunk(h);
    h_drop(h, 1, 3, 0);
    h_drop(h, 3, 1, 0);
    h->strict = false; /* node 3's late answers once it is removed */
    h_partition(h, BIT(3));
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_REMOVE, 3, &idx), 0);
    h_deliver_all(h);
    h_heartbeat(h, 1, 1);
    ck_assert_uint_ge(h_status(h, 1).commit, idx);
    ck_assert_int_eq(h_change1(h, 1, RAFT_CHANGE_ADD_LEARNER, 3, NULL), 0);
    ck_assert_uint_eq(h_progress(h, 1, 3).match, 0);
    h_deliver_all(h);
    h_partition(h, 0);
    h_drop(h, 1, 3, 0);
    h_drop(h, 3, 1, 0);
    unsigned ticks = finish(h, SNAP_INDEX, 10 * E);
    ck_assert_msg(ticks <= 3 * E, "took %u ticks", ticks);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    assert_same_snapshot(h, 1);
    h_free(h);
}
END_TEST

/* The leader changes mid-stream. Node 1 streams its snapshot at 22; node
 * 2, elected in term 2, streams its own (at 21): node 3 starts over at
 * offset 0 and installs node 2's. Node 1's chunks, arriving late, carry a
 * stale term and are refused with RAFT_ESTALE, without a write. */
START_TEST(test_snapshot_leader_changes_mid_stream)
{
    struct h_opts o = snap_opts();
    struct harness *h = cluster(&o);
    h_partition(h, BIT(3));
    propose_n(h, 1, "e", BEHIND);
    h_heartbeat(h, 1, 1);
    ck_assert_uint_eq(h_status(h, 2).applied, SNAP_INDEX);
    ck_assert_int_eq(h_snapshot_take(h, 2), 0);
    propose_n(h, 1, "x", 1);
    h_heartbeat(h, 1, 1);
    ck_assert_uint_eq(h_status(h, 1).applied, SNAP_INDEX + 1);
    ck_assert_int_eq(h_snapshot_take(h, 1), 0);
    h_partition(h, 0);
    h_drop(h, 1, 3, 0);
    h_drop(h, 3, 1, 0);
    h_reset_all_calls(h);

    start_stream(h);
    for (int k = 0; k < 3; k++) {
        h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT);
    }
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), 3);
    ck_assert_uint_eq(h_call(h, 3, H_CB_SNAPSHOT_WRITE, 0)->index, SNAP_INDEX + 1);
    /* the rest of node 1's window is delayed; everything else is lost */
    size_t late = h_count(h, 1, 3, RAFT_MSG_SNAPSHOT);
    ck_assert_uint_eq(late, WINDOW - 3);
    struct h_msg *held = calloc(late, sizeof(*held));
    ck_assert_ptr_nonnull(held);
    for (size_t k = 0; k < late;) {
        struct h_msg hm;
        ck_assert(h_pop(h, &hm));
        if (hm.m.type == RAFT_MSG_SNAPSHOT) {
            held[k++] = hm;
        } else {
            h_msg_free(&hm);
        }
    }
    h_drop_all(h);
    /* node 2 takes over (node 1 votes for it: their logs end alike) and
     * starts its stream; its chunks wait */
    h->hold = hold_chunks;
    h_elect(h, 2);
    h->hold = NULL;
    ck_assert_uint_eq(raft_current_term(h_raft(h, 2)), 2);
    ck_assert_int_eq(h_progress(h, 2, 3).state, RAFT_PROGRESS_SNAPSHOT);
    ck_assert_uint_eq(h_count(h, 2, 3, RAFT_MSG_SNAPSHOT), WINDOW);
    ck_assert_uint_eq(h_find(h, 2, 3, RAFT_MSG_SNAPSHOT, 0)->u.snapshot.index,
                      SNAP_INDEX);
    /* node 1's late chunks are refused */
    for (size_t k = 0; k < late; k++) {
        ck_assert_int_eq(raft_step(h_raft(h, 3), &held[k].m), RAFT_ESTALE);
        h_msg_free(&held[k]);
    }
    free(held);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), 3);
    ck_assert_uint_eq(h_count(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP), late);
    const struct raft_msg *a = h_find(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP, 0);
    ck_assert_uint_eq(a->term, 2);
    ck_assert(!a->u.snapshot_resp.done);
    /* node 2's stream */
    h_deliver_all(h);
    for (unsigned t = 0; t < 3 * E && !(h_status(h, 3).snapshot_index > 0 &&
                                        h_progress(h, 2, 3).state != RAFT_PROGRESS_SNAPSHOT);
         t++) {
        h_tick(h, 2, 1);
        h_deliver_all(h);
    }
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    const struct h_call *ins = h_call(h, 3, H_CB_SNAPSHOT_INSTALL, 0);
    ck_assert_uint_eq(ins->index, SNAP_INDEX);
    ck_assert_uint_eq(ins->term, 1);
    ck_assert_uint_eq(h_call(h, 3, H_CB_SNAPSHOT_WRITE, 3)->offset, 0);
    ck_assert_uint_eq(h_call(h, 3, H_CB_SNAPSHOT_WRITE, 3)->index, SNAP_INDEX);
    ck_assert_uint_eq(ok_calls(h, 3, H_CB_SNAPSHOT_WRITE), 3 + NCHUNKS);
    assert_same_snapshot(h, 2);
    /* entries 22 (term 1) and 23 (node 2's no-op) came as entries */
    ck_assert_uint_eq(h_status(h, 3).applied, SNAP_INDEX + 2);
    assert_caught_up(h, 2, SNAP_INDEX);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * The follower's side, by hand-made chunks
 * ------------------------------------------------------------------------ */

static struct raft_msg chunk_msg(raft_id from, raft_id to, raft_term term,
                                 raft_index index, raft_term index_term,
                                 const unsigned char *data, size_t len,
                                 uint64_t offset, size_t n)
{
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_SNAPSHOT;
    m.from = from;
    m.to = to;
    m.term = term;
    m.u.snapshot.index = index;
    m.u.snapshot.index_term = index_term;
    m.u.snapshot.offset = offset;
    m.u.snapshot.len = n;
    m.u.snapshot.data = data + offset;
    m.u.snapshot.last = offset + n == len;
    if (m.u.snapshot.last) {
        m.u.snapshot.conf = conf123;
        m.u.snapshot.conf_len = sizeof(conf123);
    }
    return m;
}

/* Step a whole snapshot (index, index_term) of `len` bytes into node 1
 * from node 2 in `term`, in chunks of CHUNK bytes, checking each answer;
 * returns the last raft_step code. */
static int send_snapshot(struct harness *h, raft_term term, raft_index index,
                         raft_term index_term, size_t len)
{
    unsigned char *data = h_snapshot_encode(index, index_term, 0x5eed, len);
    int rc = 0;
    for (uint64_t off = 0; off < len; off += CHUNK) {
        size_t n = len - off < CHUNK ? len - off : CHUNK;
        struct raft_msg m = chunk_msg(2, 1, term, index, index_term, data, len, off, n);
        rc = raft_step(h_raft(h, 1), &m);
        if (rc != 0) {
            break;
        }
        const struct raft_msg *a = h_find(h, 1, 2, RAFT_MSG_SNAPSHOT_RESP, 0);
        ck_assert_ptr_nonnull(a);
        ck_assert_uint_eq(a->term, term);
        ck_assert_uint_eq(a->u.snapshot_resp.index, index);
        ck_assert_uint_eq(a->u.snapshot_resp.offset, off + n);
        ck_assert(a->u.snapshot_resp.done == (off + n == len));
        h_drop_all(h);
    }
    free(data);
    return rc;
}

/* A chunk of a snapshot at or below the commit index: answered `done`,
 * nothing written or installed, nothing changes. */
START_TEST(test_chunk_at_or_below_commit_is_done)
{
    struct h_opts o = snap_opts();
    struct harness *h = cluster(&o);
    propose_n(h, 1, "c", 4);
    h_heartbeat(h, 1, 1);
    struct raft_status before = h_status(h, 2);
    ck_assert_uint_eq(before.commit, 5);
    unsigned char *data = h_snapshot_encode(5, 1, 1, 250);
    const raft_index idx[] = {3, 5};
    const uint64_t offs[] = {0, 200};
    for (size_t i = 0; i < 2; i++) {
        size_t n = offs[i] == 200 ? 50 : CHUNK;
        struct raft_msg m = chunk_msg(1, 2, before.term, idx[i], 1, data, 250,
                                      offs[i], n);
        ck_assert_int_eq(raft_step(h_raft(h, 2), &m), 0);
        ck_assert_uint_eq(h_count(h, 2, 1, 0), 1);
        const struct raft_msg *a = h_find(h, 2, 1, RAFT_MSG_SNAPSHOT_RESP, 0);
        ck_assert_ptr_nonnull(a);
        ck_assert_uint_eq(a->u.snapshot_resp.index, idx[i]);
        ck_assert_uint_eq(a->u.snapshot_resp.offset, 0);
        ck_assert(a->u.snapshot_resp.done);
        h_drop_all(h);
    }
    free(data);
    ck_assert_uint_eq(h_ncalls(h, 2, H_CB_SNAPSHOT_WRITE), 0);
    ck_assert_uint_eq(h_ncalls(h, 2, H_CB_SNAPSHOT_INSTALL), 0);
    struct raft_status after = h_status(h, 2);
    h_assert_status_eq(&before, &after, "chunk below commit");
    ck_assert_uint_eq(after.snapshot_index, 0);
    h_free(h);
}
END_TEST

/* The first chunk of another snapshot whose write fails ends the stream
 * being received: the host was told to start over, so what it held of the
 * old stream is gone. A later chunk of the old stream must not be taken
 * as its continuation: it is answered with offset 0, nothing written. */
START_TEST(test_failed_first_chunk_ends_the_stream)
{
    struct h_opts o = snap_opts();
    raft_term log[30];
    for (size_t i = 0; i < 30; i++) {
        log[i] = 1;
    }
    struct harness *h = h_single(3, &o, 1, 0, log, 30);
    unsigned char *a = h_snapshot_encode(21, 1, 0x5eed, 250);
    unsigned char *b = h_snapshot_encode(25, 1, 0x5eed, 250);
    struct raft_msg m = chunk_msg(2, 1, 1, 21, 1, a, 250, 0, CHUNK);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    h_drop_all(h);
    h_node(h, 1)->fail_snapshot_write = 1;
    m = chunk_msg(2, 1, 1, 25, 1, b, 250, 0, CHUNK);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), RAFT_EPERSIST);
    h_drop_all(h);
    size_t writes = h_ncalls(h, 1, H_CB_SNAPSHOT_WRITE);
    m = chunk_msg(2, 1, 1, 21, 1, a, 250, CHUNK, CHUNK);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_SNAPSHOT_WRITE), writes);
    const struct raft_msg *r = h_find(h, 1, 2, RAFT_MSG_SNAPSHOT_RESP, 0);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->u.snapshot_resp.index, 21);
    ck_assert_uint_eq(r->u.snapshot_resp.offset, 0);
    ck_assert(!r->u.snapshot_resp.done);
    free(a);
    free(b);
    h_free(h);
}
END_TEST

/* keep: node 1's log holds the snapshot's last entry (21, term 1) and nine
 * more; none is committed. The entries after the snapshot stay. */
START_TEST(test_install_keeps_matching_suffix)
{
    struct h_opts o = snap_opts();
    raft_term log[30];
    for (size_t i = 0; i < 30; i++) {
        log[i] = 1;
    }
    struct harness *h = h_single(3, &o, 1, 0, log, 30);
    ck_assert_int_eq(send_snapshot(h, 1, 21, 1, 250), 0);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_SNAPSHOT_WRITE), 3);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_SNAPSHOT_INSTALL), 1);
    const struct h_call *ins = h_call(h, 1, H_CB_SNAPSHOT_INSTALL, 0);
    ck_assert(ins->keep);
    ck_assert_uint_eq(ins->index, 21);
    ck_assert_uint_eq(ins->term, 1);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.snapshot_index, 21);
    ck_assert_uint_eq(st.first_index, 22);
    ck_assert_uint_eq(st.last_index, 30);
    ck_assert_uint_eq(st.commit, 21);
    ck_assert_uint_eq(st.applied, 21);
    ck_assert_uint_eq(st.leader, 2);
    struct raft_entry e;
    char buf[48];
    ck_assert_int_eq(raft_entry_at(h_raft(h, 1), 21, &e), RAFT_ECOMPACTED);
    for (raft_index i = 22; i <= 30; i++) {
        ck_assert_int_eq(raft_entry_at(h_raft(h, 1), i, &e), 0);
        size_t n = h_payload(buf, i, 1);
        ck_assert_uint_eq(e.len, n);
        ck_assert_int_eq(memcmp(e.buf, buf, n), 0);
    }
    ck_assert_uint_eq(h_node(h, 1)->disk_base, 21);
    ck_assert_uint_eq(h_node(h, 1)->disk.n, 9);
    h_assert_disk_matches(h, 1);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_APPLY), 0);
    /* the leader's commit index then applies 22..30, and only those */
    struct raft_msg m = h_msg_append(2, 1, 1, 30, 1, 30, NULL, 0);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    ck_assert_uint_eq(h_status(h, 1).applied, 30);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_APPLY), 9);
    for (size_t k = 0; k < 9; k++) {
        ck_assert_uint_eq(h_call(h, 1, H_CB_APPLY, k)->index, 22 + k);
    }
    /* a restart comes back from the snapshot and the kept entries */
    ck_assert_int_eq(h_restart(h, 1), 0);
    st = h_status(h, 1);
    ck_assert_uint_eq(st.snapshot_index, 21);
    ck_assert_uint_eq(st.commit, 21);
    ck_assert_uint_eq(st.last_index, 30);
    h_assert_disk_matches(h, 1);
    h_free(h);
}
END_TEST

/* Not keep: the log has index 21 with another term (2, the snapshot says
 * 3), or does not reach 21. Every entry goes. */
START_TEST(test_install_drops_conflicting_log)
{
    struct h_opts o = snap_opts();
    raft_term log[30];
    for (size_t i = 0; i < 30; i++) {
        log[i] = i < 20 ? 1 : 2;
    }
    struct harness *h = h_single(3, &o, 2, 0, log, 30);
    ck_assert_int_eq(send_snapshot(h, 3, 21, 3, 250), 0);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_SNAPSHOT_INSTALL), 1);
    ck_assert(!h_call(h, 1, H_CB_SNAPSHOT_INSTALL, 0)->keep);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.term, 3);
    ck_assert_uint_eq(st.snapshot_index, 21);
    ck_assert_uint_eq(st.first_index, 22);
    ck_assert_uint_eq(st.last_index, 21);
    ck_assert_uint_eq(st.last_term, 3);
    ck_assert_uint_eq(st.commit, 21);
    ck_assert_uint_eq(st.applied, 21);
    struct raft_entry e;
    ck_assert_int_eq(raft_entry_at(h_raft(h, 1), 22, &e), RAFT_EINVAL);
    ck_assert_int_eq(raft_entry_at(h_raft(h, 1), 21, &e), RAFT_ECOMPACTED);
    ck_assert_uint_eq(h_node(h, 1)->disk_base, 21);
    ck_assert_uint_eq(h_node(h, 1)->disk.n, 0);
    h_assert_disk_matches(h, 1);
    /* the log continues the snapshot: entry 22 from the leader */
    raft_term t22[] = {3};
    struct raft_entry ents[1];
    char bufs[48];
    h_mk_entries(ents, bufs, 22, t22, 1);
    struct raft_msg m = h_msg_append(2, 1, 3, 21, 3, 22, ents, 1);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    ck_assert_uint_eq(h_status(h, 1).applied, 22);
    ck_assert_uint_eq(h_call(h, 1, H_CB_PERSIST_ENTRIES, 0)->index, 22);
    h_assert_disk_matches(h, 1);
    h_free(h);

    /* a log that ends before the snapshot */
    h = h_single(3, &o, 1, 0, log, 10);
    ck_assert_int_eq(send_snapshot(h, 1, 21, 1, 250), 0);
    ck_assert(!h_call(h, 1, H_CB_SNAPSHOT_INSTALL, 0)->keep);
    st = h_status(h, 1);
    ck_assert_uint_eq(st.last_index, 21);
    ck_assert_uint_eq(st.first_index, 22);
    ck_assert_uint_eq(st.commit, 21);
    h_assert_disk_matches(h, 1);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Failed callbacks
 * ------------------------------------------------------------------------ */

/* Deliver node 1's chunks to node 3 up to (not including) the one at
 * `offset`, in order, with everything else. */
static void deliver_chunks_before(struct harness *h, uint64_t offset)
{
    for (unsigned guard = 0; guard < 1000; guard++) {
        const struct raft_msg *m = h_find(h, 1, 3, RAFT_MSG_SNAPSHOT, 0);
        if (m != NULL && m->u.snapshot.offset == offset) {
            return;
        }
        ck_assert_uint_gt(h->n_net, 0);
        h_deliver_at(h, 0);
    }
    ck_abort_msg("no chunk at %llu", (unsigned long long)offset);
}

/* snapshot_write fails for the chunk at 300: it counts as lost. */
START_TEST(test_snapshot_write_fails)
{
    const uint64_t at[] = {3 * CHUNK, 0};
    for (size_t i = 0; i < H_ARRAY_LEN(at); i++) {
        struct h_opts o = snap_opts();
        struct harness *h = behind(&o);
        start_stream(h);
        deliver_chunks_before(h, at[i]);
        h_node(h, 3)->fail_snapshot_write = 1;
        size_t answers = h_count(h, 3, 1, 0);
        ck_assert_int_eq(h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT), RAFT_EPERSIST);
        ck_assert_uint_eq(h_count(h, 3, 1, 0), answers); /* no answer */
        ck_assert_uint_eq(finish(h, SNAP_INDEX, 3 * E), 0);
        ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), NCHUNKS + 1);
        ck_assert_uint_eq(ok_calls(h, 3, H_CB_SNAPSHOT_WRITE), NCHUNKS);
        ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
        assert_same_snapshot(h, 1);
        assert_caught_up(h, 1, SNAP_INDEX);
        h_free(h);
    }
}
END_TEST

/* snapshot_install fails: nothing changes on node 3; the leader starts
 * over later and the second install succeeds. */
START_TEST(test_snapshot_install_fails)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    start_stream(h);
    deliver_until_last_chunk(h);
    struct raft_status before = h_status(h, 3);
    h_node(h, 3)->fail_snapshot_install = 1;
    size_t answers = h_count(h, 3, 1, 0);
    ck_assert_int_eq(h_deliver_one(h, 1, 3, RAFT_MSG_SNAPSHOT), RAFT_EPERSIST);
    ck_assert_uint_eq(h_count(h, 3, 1, 0), answers);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    struct raft_status after = h_status(h, 3);
    h_assert_status_eq(&before, &after, "failed install");
    ck_assert_uint_eq(after.snapshot_index, 0);
    ck_assert_uint_eq(after.first_index, 1);
    ck_assert(!h_node(h, 3)->snap.have);
    h_assert_disk_matches(h, 3);
    unsigned ticks = finish(h, SNAP_INDEX, 10 * E);
    ck_assert_msg(ticks <= 2 * E + 2, "took %u ticks", ticks);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 2);
    ck_assert_uint_eq(ok_calls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    assert_same_snapshot(h, 1);
    assert_caught_up(h, 1, SNAP_INDEX);
    h_free(h);
}
END_TEST

/* snapshot_read fails once: the chunk is not sent, the leader retries at
 * the next heartbeat. The failure is reported by the call that met it (the
 * tick), not held back to the next one. */
START_TEST(test_snapshot_read_fails_once)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    h_node(h, 1)->fail_snapshot_read = 1;
    h->hold = hold_chunks;
    h_tick(h, 1, 1);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_SNAPSHOT_READ), 1);
    ck_assert_ptr_nonnull(h_event(h, 1, RAFT_EVENT_SEND_FAILED, 0));
    h_deliver_all(h);
    h->hold = NULL;
    ck_assert_uint_eq(h_count(h, 1, 3, RAFT_MSG_SNAPSHOT), 0);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_SNAPSHOT_READ), 1);
    ck_assert_int_eq(h_call(h, 1, H_CB_SNAPSHOT_READ, 0)->rc, -1);
    ck_assert_uint_eq(h_call(h, 1, H_CB_SNAPSHOT_READ, 0)->offset, 0);
    const struct h_event *ev = h_event(h, 1, RAFT_EVENT_SEND_FAILED, 0);
    ck_assert_ptr_nonnull(ev);
    ck_assert_uint_eq(ev->peer, 3);
    ck_assert_int_eq(h_progress(h, 1, 3).state, RAFT_PROGRESS_SNAPSHOT);
    ck_assert_uint_eq(finish(h, SNAP_INDEX, 3 * E), 1);
    ck_assert_uint_eq(chunks_sent(h), NCHUNKS);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    assert_same_snapshot(h, 1);
    h_free(h);
}
END_TEST

/* A chunk the send callback refuses did not leave (raft.h, metrics:
 * snapshot_chunks_sent counts the chunks the callback took): the stream
 * stops there rather than run ahead of a hole, and the idle timer sends
 * it again from the same offset. Here every send to node 3 fails for one
 * leader tick. */
START_TEST(test_snapshot_chunk_refused_by_send)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    h_node(h, 1)->fail_send_to[3] = -1;
    h_tick(h, 1, 1);
    h_node(h, 1)->fail_send_to[3] = 0;
    size_t chunks = 0;
    for (size_t i = 0; i < h_ncalls(h, 1, H_CB_SEND); i++) {
        const struct h_call *c = h_call(h, 1, H_CB_SEND, i);
        if (c->to == 3 && c->msg_type == RAFT_MSG_SNAPSHOT) {
            ck_assert_int_ne(c->rc, 0);
            ck_assert_uint_eq(c->offset, 0);
            chunks++;
        }
    }
    ck_assert_uint_eq(chunks, 1); /* the first, refused: no more */
    struct raft_metrics m;
    ck_assert_int_eq(raft_metrics(h_raft(h, 1), &m, sizeof(m)), 0);
    ck_assert_uint_eq(m.snapshot_chunks_sent, 0);
    ck_assert_uint_eq(m.snapshot_bytes_sent, 0);
    ck_assert_int_eq(h_progress(h, 1, 3).state, RAFT_PROGRESS_SNAPSHOT);
    finish(h, SNAP_INDEX, 3 * E);
    ck_assert_uint_eq(h_call(h, 3, H_CB_SNAPSHOT_WRITE, 0)->offset, 0);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), NCHUNKS);
    assert_installed_once(h);
    h_free(h);
}
END_TEST

/* The leader's host replaces the snapshot mid-stream (a later one, at 23):
 * reading the old one fails, and node 3 gets the new one from offset 0. */
START_TEST(test_snapshot_read_fails_newer_snapshot)
{
    struct h_opts o = snap_opts();
    struct harness *h = behind(&o);
    start_stream(h);
    deliver_chunks_before(h, 3 * CHUNK);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE), 3);
    /* two more entries, committed without node 3; a new snapshot */
    h_partition(h, BIT(3));
    propose_n(h, 1, "n", 2);
    h_heartbeat(h, 1, 1);
    ck_assert_uint_eq(h_status(h, 1).applied, SNAP_INDEX + 2);
    ck_assert_int_eq(h_snapshot_take(h, 1), 0);
    ck_assert_uint_eq(h_status(h, 1).snapshot_index, SNAP_INDEX + 2);
    h_partition(h, 0);
    finish(h, SNAP_INDEX + 2, 3 * E);
    /* the old one could not be read past the window sent */
    bool failed_old = false;
    for (size_t i = 0; i < h_ncalls(h, 1, H_CB_SNAPSHOT_READ); i++) {
        const struct h_call *c = h_call(h, 1, H_CB_SNAPSHOT_READ, i);
        if (c->index == SNAP_INDEX) {
            failed_old |= c->rc != 0;
            ck_assert_uint_le(c->offset, WINDOW * CHUNK + 3 * CHUNK);
        }
    }
    ck_assert(failed_old);
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    ck_assert_uint_eq(h_call(h, 3, H_CB_SNAPSHOT_INSTALL, 0)->index, SNAP_INDEX + 2);
    /* the new stream started at 0, and was written once */
    size_t first_new = SIZE_MAX, n_new = 0;
    for (size_t i = 0; i < h_ncalls(h, 3, H_CB_SNAPSHOT_WRITE); i++) {
        const struct h_call *c = h_call(h, 3, H_CB_SNAPSHOT_WRITE, i);
        if (c->index == SNAP_INDEX + 2) {
            first_new = first_new == SIZE_MAX ? i : first_new;
            n_new++;
        }
    }
    ck_assert_uint_ne(first_new, SIZE_MAX);
    ck_assert_uint_eq(h_call(h, 3, H_CB_SNAPSHOT_WRITE, first_new)->offset, 0);
    ck_assert_uint_eq(n_new, NCHUNKS);
    assert_same_snapshot(h, 1);
    assert_caught_up(h, 1, SNAP_INDEX + 2);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * raft_restore_snapshot
 * ------------------------------------------------------------------------ */

struct restore_case {
    const char *what;
    raft_index first;
    raft_term terms[8];
    size_t n;
    int rc;
    raft_index last;     /* good cases: last_index */
    raft_term last_term; /* and last_term */
};

/* A snapshot at 5 (term 2); the node's term is 3. */
static const struct restore_case restore_cases[] = {
    {"gap after the snapshot", 7, {2, 3}, 2, RAFT_ESNAPSHOT, 0, 0},
    {"log ends before it", 1, {1, 1, 2, 2}, 4, RAFT_ESNAPSHOT, 0, 0},
    {"log ends well before it", 2, {1}, 1, RAFT_ESNAPSHOT, 0, 0},
    {"another term at its index", 1, {1, 1, 2, 2, 3, 3}, 6, RAFT_ESNAPSHOT, 0, 0},
    {"another term at its index (lower)", 5, {1, 2}, 2, RAFT_ESNAPSHOT, 0, 0},
    {"terms go down after it", 6, {1, 2}, 2, RAFT_ESNAPSHOT, 0, 0},
    {"terms go down after it, from before it", 4, {2, 2, 1}, 3, RAFT_ESNAPSHOT, 0, 0},
    {"entries after it", 6, {2, 3, 3}, 3, 0, 8, 3},
    {"entries through it", 1, {1, 1, 2, 2, 2, 3}, 6, 0, 6, 3},
    {"entries ending at it", 3, {2, 2, 2}, 3, 0, 5, 2},
    {"no entries", 6, {0}, 0, 0, 5, 2},
};

/* Only a snapshot brings the log index near UINT64_MAX (raft.h, raft_tick):
 * a node whose log ends at UINT64_MAX - 2 still wins an election (its
 * no-op takes UINT64_MAX - 1, the last index a follower accepts), and then
 * refuses every proposal, one entry or a batch, with RAFT_ENOSPACE. The
 * same with a pre-vote first (_i == 1): it asks nothing of the index space
 * the election after it does not. */
START_TEST(test_index_space_nearly_exhausted)
{
    struct h_opts o = snap_opts();
    o.pre_vote = _i == 1;
    struct harness *h = h_new(1, &o);
    const raft_term none[] = {0};
    ck_assert_int_eq(h_restore_snapshot(h, 1, UINT64_MAX - 2, 2, 3, 0,
                                        UINT64_MAX - 1, none, 0), 0);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_LEADER, 3 * E), 0);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.last_index, UINT64_MAX - 1);
    ck_assert_uint_eq(st.commit, UINT64_MAX - 1);
    struct raft_buf b = {.base = "x", .len = 1};
    raft_index idx = 0;
    ck_assert_int_eq(raft_propose_batch(h_raft(h, 1), &b, 1, &idx), RAFT_ENOSPACE);
    ck_assert_int_eq(h_propose(h, 1, "x", &idx), RAFT_ENOSPACE);
    ck_assert_uint_eq(h_status(h, 1).last_index, UINT64_MAX - 1);
    h_free(h);
}
END_TEST

/* A batch may end exactly at UINT64_MAX - 1, the last usable index: from
 * a log ending at UINT64_MAX - 2 (the no-op), a batch of two is refused
 * with RAFT_ENOSPACE and a batch of one takes UINT64_MAX - 1. */
START_TEST(test_batch_may_end_at_last_usable_index)
{
    struct h_opts o = snap_opts();
    struct harness *h = h_new(1, &o);
    const raft_term none[] = {0};
    ck_assert_int_eq(h_restore_snapshot(h, 1, UINT64_MAX - 3, 2, 3, 0,
                                        UINT64_MAX - 2, none, 0), 0);
    ck_assert_uint_gt(h_tick_until_role(h, 1, RAFT_LEADER, 3 * E), 0);
    ck_assert_uint_eq(h_status(h, 1).last_index, UINT64_MAX - 2);
    struct raft_buf b[2] = {{.base = "x", .len = 1}, {.base = "y", .len = 1}};
    raft_index idx = 0;
    ck_assert_int_eq(raft_propose_batch(h_raft(h, 1), b, 2, &idx), RAFT_ENOSPACE);
    ck_assert_uint_eq(h_status(h, 1).last_index, UINT64_MAX - 2);
    ck_assert_int_eq(raft_propose_batch(h_raft(h, 1), b, 1, &idx), 0);
    ck_assert_uint_eq(idx, UINT64_MAX - 1);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.last_index, UINT64_MAX - 1);
    ck_assert_uint_eq(st.commit, UINT64_MAX - 1);
    ck_assert_int_eq(h_propose(h, 1, "z", &idx), RAFT_ENOSPACE);
    h_free(h);
}
END_TEST

/* A node whose log ends at UINT64_MAX - 1 has no index left for a new
 * term's no-op: raft_tick reports RAFT_ENOSPACE and no election, nor
 * pre-vote (_i == 1), is started. */
START_TEST(test_index_space_exhausted_no_election)
{
    struct h_opts o = snap_opts();
    o.pre_vote = _i == 1;
    struct harness *h = h_new(3, &o);
    const raft_term none[] = {0};
    ck_assert_int_eq(h_restore_snapshot(h, 1, UINT64_MAX - 1, 2, 3, 0,
                                        UINT64_MAX, none, 0), 0);
    ck_assert_uint_gt(h_tick_count(h, 1, 5 * E, RAFT_ENOSPACE), 0);
    ck_assert_uint_eq(h_count(h, 1, 0, 0), 0);
    struct raft_status st = h_status(h, 1);
    ck_assert_int_eq(st.role, RAFT_FOLLOWER);
    ck_assert_uint_eq(st.term, 3);
    h_free(h);
}
END_TEST

/* A TimeoutNow of a later term reaching a node whose log ends at
 * UINT64_MAX - 1 (no index left for a new term's no-op) starts no
 * election: the node adopts the term, follows the sender, and raft_step
 * returns 0 (the message is well formed; only the campaign is not
 * possible). */
START_TEST(test_index_space_exhausted_timeout_now_ignored)
{
    struct h_opts o = snap_opts();
    struct harness *h = h_new(3, &o);
    const raft_term none[] = {0};
    ck_assert_int_eq(h_restore_snapshot(h, 1, UINT64_MAX - 1, 2, 3, 0,
                                        UINT64_MAX, none, 0), 0);
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_TIMEOUT_NOW;
    m.from = 2;
    m.to = 1;
    m.term = 4;
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    struct raft_status st = h_status(h, 1);
    ck_assert_int_eq(st.role, RAFT_FOLLOWER);
    ck_assert_uint_eq(st.term, 4);
    ck_assert_uint_eq(raft_leader(h_raft(h, 1)), 2);
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_VOTE), 0);
    ck_assert_uint_eq(h_nevents(h, 1, RAFT_EVENT_ELECTION_START), 0);
    h_free(h);
}
END_TEST

/* A follower whose log ends near UINT64_MAX takes an AppendEntries that
 * replaces its tail with more entries than it drops: the message ends
 * below UINT64_MAX - 1, but the log's last index plus the number of
 * entries does not fit in 64 bits. The room reserved before the
 * truncation must still cover the new entries (a descriptor block beyond
 * the one the log holds). */
START_TEST(test_index_space_conflict_near_end)
{
    enum { KEEP = 424, NEW = 650, BACK = 100 };
    struct h_opts o = snap_opts();
    struct harness *h = h_new(3, &o);
    const raft_index base = UINT64_MAX - 1023; /* 1 + a multiple of 512 */
    static raft_term terms[KEEP];
    static struct raft_entry ents[NEW];
    for (size_t i = 0; i < KEEP; i++) {
        terms[i] = 1;
    }
    for (size_t i = 0; i < NEW; i++) {
        ents[i].term = 2;
        ents[i].type = RAFT_ENTRY_COMMAND;
        ents[i].buf = NULL;
        ents[i].len = 0;
    }
    ck_assert_int_eq(h_restore_snapshot(h, 2, base, 1, 1, 0, base + 1, terms,
                                        KEEP), 0);
    raft_index last = base + KEEP;
    ck_assert_uint_eq(h_status(h, 2).last_index, last);
    /* prev + NEW stays in the index space; last + NEW wraps around. */
    raft_index prev = last - BACK;
    ck_assert_uint_lt(prev + NEW, UINT64_MAX - 1);
    ck_assert_uint_lt(last + NEW, last);
    struct raft_msg m = h_msg_append(1, 2, 2, prev, 1, base, ents, NEW);
    ck_assert_int_eq(raft_step(h_raft(h, 2), &m), 0);
    struct raft_status st = h_status(h, 2);
    ck_assert_uint_eq(st.term, 2);
    ck_assert_uint_eq(st.last_index, prev + NEW);
    h_free(h);
}
END_TEST

START_TEST(test_restore_snapshot_cases)
{
    struct h_opts o = snap_opts();
    for (size_t i = 0; i < H_ARRAY_LEN(restore_cases); i++) {
        const struct restore_case *c = &restore_cases[i];
        struct harness *h = h_new(3, &o);
        int rc = h_restore_snapshot(h, 1, 5, 2, 3, 0, c->first, c->terms, c->n);
        ck_assert_msg(rc == c->rc, "%s: %d (%s), want %d", c->what, rc,
                      raft_strerror(rc), c->rc);
        if (rc != 0) {
            /* the node is as it was: not started, and can be started */
            ck_assert_int_eq(raft_role(h_raft(h, 1)), 0);
            const raft_term ok[] = {3};
            ck_assert_int_eq(h_restore_snapshot(h, 1, 5, 2, 3, 0, 6, ok, 1), 0);
            ck_assert_uint_eq(h_status(h, 1).last_index, 6);
            h_free(h);
            continue;
        }
        struct raft_status st = h_status(h, 1);
        ck_assert_msg(st.last_index == c->last && st.last_term == c->last_term,
                      "%s: last %llu/%llu", c->what,
                      (unsigned long long)st.last_index,
                      (unsigned long long)st.last_term);
        ck_assert_int_eq(st.role, RAFT_FOLLOWER);
        ck_assert_uint_eq(st.term, 3);
        ck_assert_uint_eq(st.commit, 5);
        ck_assert_uint_eq(st.applied, 5);
        ck_assert_uint_eq(st.snapshot_index, 5);
        ck_assert_uint_eq(st.first_index, 6);
        struct raft_entry e;
        ck_assert_int_eq(raft_entry_at(h_raft(h, 1), 5, &e), RAFT_ECOMPACTED);
        ck_assert_int_eq(raft_entry_at(h_raft(h, 1), 1, &e), RAFT_ECOMPACTED);
        for (raft_index j = 6; j <= st.last_index; j++) {
            char buf[48];
            ck_assert_int_eq(raft_entry_at(h_raft(h, 1), j, &e), 0);
            size_t n = h_payload(buf, j, e.term);
            ck_assert_uint_eq(e.len, n);
            ck_assert_int_eq(memcmp(e.buf, buf, n), 0);
            ck_assert_uint_eq(e.term, c->terms[j - c->first]);
        }
        ck_assert_uint_eq(h_ncalls(h, 1, 0), 0);
        h_free(h);
    }
}
END_TEST

START_TEST(test_restore_snapshot_einval)
{
    struct h_opts o = snap_opts();
    struct harness *h = h_new(3, &o);
    struct raft *r = h_raft(h, 1);
    const raft_term t[] = {2};
    struct raft_entry ents[1];
    char bufs[48];
    h_mk_entries(ents, bufs, 6, t, 1);
    size_t conf_len, other_len;
    unsigned char *conf = h_conf_encode(h->voters, NULL, 3, false, &conf_len);
    raft_id others[] = {2, 3};
    unsigned char *other = h_conf_encode(others, NULL, 2, false, &other_len);
    struct raft_snapshot_meta good = {5, 2, conf, conf_len};
    struct raft_snapshot_meta m;
    ck_assert_int_eq(raft_restore_snapshot(r, NULL, 3, 0, 6, ents, 1), RAFT_EINVAL);
    m = good;
    m.index = 0;
    ck_assert_int_eq(raft_restore_snapshot(r, &m, 3, 0, 1, ents, 1), RAFT_EINVAL);
    m = good;
    m.term = 0;
    ck_assert_int_eq(raft_restore_snapshot(r, &m, 3, 0, 6, ents, 1), RAFT_EINVAL);
    m = good;
    m.term = 4; /* above the node's term */
    ck_assert_int_eq(raft_restore_snapshot(r, &m, 3, 0, 6, NULL, 0), RAFT_EINVAL);
    ck_assert_int_eq(raft_restore_snapshot(r, &good, 3, 0, 0, ents, 1), RAFT_EINVAL);
    ck_assert_int_eq(raft_restore_snapshot(r, &good, 3, 0, 6, NULL, 1), RAFT_EINVAL);
    m = good;
    m.conf = NULL;
    ck_assert_int_eq(raft_restore_snapshot(r, &m, 3, 0, 6, ents, 1), RAFT_EINVAL);
    m.conf = conf;
    m.conf_len = conf_len - 1; /* not a configuration */
    ck_assert_int_eq(raft_restore_snapshot(r, &m, 3, 0, 6, ents, 1), RAFT_EINVAL);
    ck_assert_int_eq(raft_restore_snapshot(NULL, &good, 3, 0, 6, ents, 1), RAFT_EINVAL);
    ck_assert_int_eq(raft_role(r), 0);
    ck_assert_int_eq(raft_restore_snapshot(r, &good, 3, 0, 6, ents, 1), 0);
    ck_assert_int_eq(raft_restore_snapshot(r, &good, 3, 0, 6, ents, 1), RAFT_ESTARTED);
    h_free(h);

    /* a node without snapshot callbacks cannot start from a snapshot */
    o.snapshots = false;
    h = h_new(3, &o);
    ck_assert_int_eq(raft_restore_snapshot(h_raft(h, 1), &good, 3, 0, 6, ents, 1),
                     RAFT_EINVAL);
    h_free(h);

    /* a configuration without this node is a valid one: it was removed,
     * and starts as a non-member */
    o.snapshots = true;
    h = h_new(3, &o);
    m = good;
    m.conf = other;
    m.conf_len = other_len;
    ck_assert_int_eq(raft_restore_snapshot(h_raft(h, 1), &m, 3, 0, 6, ents, 1), 0);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(st.n_members, 2);
    ck_assert(!st.is_voter);
    h_free(h);
    free(conf);
    free(other);
}
END_TEST

/* raft_restore_snapshot running out of memory leaves the node unstarted
 * and as it was: a later start of another kind (raft_restore from a log
 * at index 1, raft_join) must not inherit the snapshot's log base. Every
 * allocation of the call fails in turn. */
START_TEST(test_restore_snapshot_enomem_then_restore)
{
    struct h_opts o = snap_opts();
    o.counting_alloc = true;
    const raft_term t[] = {2, 2};
    struct raft_entry ents[2];
    char bufs[2 * 48];
    h_mk_entries(ents, bufs, 6, t, 2);
    size_t conf_len;
    const raft_id voters[] = {1, 2, 3};
    unsigned char *conf = h_conf_encode(voters, NULL, 3, false, &conf_len);
    struct raft_snapshot_meta snap = {5, 2, conf, conf_len};
    unsigned failed = 0;
    for (unsigned long k = 1;; k++) {
        struct harness *h = h_new(3, &o);
        struct raft *r = h_raft(h, 1);
        h->alloc.fail_at = h->alloc.calls + k;
        int rc = raft_restore_snapshot(r, &snap, 3, 0, 6, ents, 2);
        h->alloc.fail_at = 0;
        if (rc == 0) {
            h_free(h);
            break;
        }
        ck_assert_int_eq(rc, RAFT_ENOMEM);
        ck_assert_int_eq(raft_role(r), 0);
        failed++;
        /* the host falls back to a log from index 1 (odd k) or joins */
        if (k % 2 == 1) {
            h_mk_entries(ents, bufs, 1, t, 2);
            ck_assert_int_eq(raft_restore(r, voters, 3, 3, 0, ents, 2), 0);
            h_mk_entries(ents, bufs, 6, t, 2);
        } else {
            ck_assert_int_eq(raft_join(r), 0);
        }
        struct raft_status st = h_status(h, 1);
        ck_assert_uint_eq(st.snapshot_index, 0);
        ck_assert_uint_eq(st.first_index, 1);
        ck_assert_uint_eq(st.last_index, k % 2 == 1 ? 2 : 0);
        struct raft_entry e;
        if (k % 2 == 1) {
            ck_assert_int_eq(raft_entry_at(r, 1, &e), 0);
            ck_assert_uint_eq(e.term, 2);
        }
        h_free(h);
    }
    ck_assert_uint_gt(failed, 0);
    free(conf);
}
END_TEST

/* Started from a snapshot at 5 with entries 6..8: a leader's heartbeat
 * with commit 8 applies 6, 7 and 8, and nothing else. */
START_TEST(test_restore_snapshot_applies_after_it)
{
    struct h_opts o = snap_opts();
    struct harness *h = h_new(3, &o);
    const raft_term t[] = {2, 3, 3};
    ck_assert_int_eq(h_restore_snapshot(h, 1, 5, 2, 3, 0, 6, t, 3), 0);
    h_assert_disk_matches(h, 1);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_APPLY), 0);
    struct raft_msg m = h_msg_append(2, 1, 3, 8, 3, 8, NULL, 0);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    const struct raft_msg *a = h_find(h, 1, 2, RAFT_MSG_APPEND_RESP, 0);
    ck_assert(a->u.append_resp.success);
    ck_assert_uint_eq(a->u.append_resp.index, 8);
    ck_assert_uint_eq(h_status(h, 1).applied, 8);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_APPLY), 3);
    for (size_t k = 0; k < 3; k++) {
        const struct h_call *c = h_call(h, 1, H_CB_APPLY, k);
        ck_assert_uint_eq(c->index, 6 + k);
        ck_assert_uint_eq(c->term, t[k]);
    }
    /* a heartbeat anchored inside the snapshot is answered from it */
    h_drop_all(h);
    m = h_msg_append(2, 1, 3, 5, 2, 8, NULL, 0);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    a = h_find(h, 1, 2, RAFT_MSG_APPEND_RESP, 0);
    ck_assert(a->u.append_resp.success);
    ck_assert_uint_eq(a->u.append_resp.index, 8);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Asynchronous persistence: the install is a write
 * ------------------------------------------------------------------------ */

static size_t done_answers(struct harness *h)
{
    size_t k = 0;
    for (size_t i = 0; i < h_count(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP); i++) {
        k += h_find(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP, i)->u.snapshot_resp.done;
    }
    return k;
}

/* Complete every pending write of nodes 1 and 2, deliver, repeat. */
static void settle_12(struct harness *h)
{
    for (int round = 0; round < 100; round++) {
        bool busy = false;
        for (raft_id id = 1; id <= 2; id++) {
            if (h_node(h, id)->pending > 0) {
                ck_assert_int_eq(h_persisted(h, id, h_node(h, id)->pending, 0), 0);
                busy = true;
            }
        }
        if (h_deliver_all(h) > 0) {
            busy = true;
        }
        if (!busy) {
            return;
        }
    }
    ck_abort_msg("no settling");
}

START_TEST(test_snapshot_async_install_acknowledged_when_durable)
{
    struct h_opts o = snap_opts();
    o.async = true;
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 1);
    h_settle(h);
    h_partition(h, BIT(3));
    for (unsigned k = 0; k < BEHIND; k++) {
        ck_assert_int_eq(h_propose(h, 1, "a", NULL), 0);
        h_settle(h);
    }
    h_tick(h, 1, 1);
    h_settle(h);
    ck_assert_uint_eq(h_status(h, 1).applied, SNAP_INDEX);
    ck_assert_int_eq(h_snapshot_take(h, 1), 0);
    h_partition(h, 0);
    h_drop(h, 1, 3, 0);
    h_drop(h, 3, 1, 0);
    h_settle(h);
    h_reset_all_calls(h);
    /* stream until node 3 calls install; its writes before are completed */
    for (unsigned t = 0; t < 5 * E && h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL) == 0; t++) {
        h_tick(h, 1, 1);
        settle_12(h);
        if (h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL) == 0 && h_node(h, 3)->pending > 0) {
            h_persisted(h, 3, h_node(h, 3)->pending, 0);
            settle_12(h);
        }
    }
    ck_assert_uint_eq(h_ncalls(h, 3, H_CB_SNAPSHOT_INSTALL), 1);
    ck_assert_uint_eq(h_node(h, 3)->pending, 1);
    ck_assert_uint_eq(done_answers(h), 0);
    /* time passes, heartbeats come and go: still no acknowledgement */
    for (int k = 0; k < 3; k++) {
        h_tick(h, 1, 1);
        settle_12(h);
    }
    ck_assert_uint_eq(done_answers(h), 0);
    ck_assert_int_eq(h_progress(h, 1, 3).state, RAFT_PROGRESS_SNAPSHOT);
    ck_assert_uint_lt(h_progress(h, 1, 3).match, SNAP_INDEX);
    for (size_t i = 0; i < h_ncalls(h, 3, H_CB_SEND); i++) {
        const struct h_call *c = h_call(h, 3, H_CB_SEND, i);
        ck_assert(!(c->msg_type == RAFT_MSG_SNAPSHOT_RESP && c->ok));
        ck_assert(!(c->msg_type == RAFT_MSG_APPEND_RESP && c->ok));
    }
    /* durable: the `done` answer leaves */
    ck_assert_int_eq(h_persisted(h, 3, 1, 0), 0);
    ck_assert_uint_eq(done_answers(h), 1);
    ck_assert_int_eq(h_deliver_one(h, 3, 1, RAFT_MSG_SNAPSHOT_RESP), 0);
    ck_assert_int_eq(h_progress(h, 1, 3).state, RAFT_PROGRESS_PROBE);
    ck_assert_uint_eq(h_progress(h, 1, 3).match, SNAP_INDEX);
    h_settle(h);
    assert_same_snapshot(h, 1);
    /* and entries follow */
    ck_assert_int_eq(h_propose(h, 1, "z", NULL), 0);
    h_settle(h);
    h_tick(h, 1, 1);
    h_settle(h);
    h_tick(h, 1, 1);
    h_settle(h);
    ck_assert_uint_eq(h_status(h, 3).applied, SNAP_INDEX + 1);
    ck_assert_uint_eq(h_node(h, 3)->sm_hash, h_node(h, 1)->sm_hash);
    h_assert_disk_matches(h, 3);
    h_free(h);
}
END_TEST

/* Asynchronous mode: a snapshot installed with `keep` while an earlier
 * write of entries past it is still pending, then a conflict truncates
 * those entries. The truncation must lower what the pending write makes
 * durable: the entries that replace the truncated ones are not durable
 * until their own write is, so they are not applied before, and the node
 * never counts as durable more than its log holds. */
START_TEST(test_snapshot_async_keep_then_truncation)
{
    struct h_opts o = snap_opts();
    o.async = true;
    raft_term log[20];
    for (size_t i = 0; i < 20; i++) {
        log[i] = 1;
    }
    struct harness *h = h_single(3, &o, 1, 0, log, 20);
    /* leader 2 of term 2: entries 21..30 of term 2 (writes 1: the term,
     * 2: the entries, both pending) */
    raft_term t2[10];
    for (size_t i = 0; i < 10; i++) {
        t2[i] = 2;
    }
    struct raft_entry ents[10];
    char bufs[10 * 48];
    h_mk_entries(ents, bufs, 21, t2, 10);
    struct raft_msg m = h_msg_append(2, 1, 2, 20, 1, 0, ents, 10);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    ck_assert_uint_eq(h_node(h, 1)->pending, 2);
    /* its snapshot at 20, in one chunk: kept suffix (write 3) */
    unsigned char *data = h_snapshot_encode(20, 1, 0x5eed, 250);
    m = chunk_msg(2, 1, 2, 20, 1, data, 250, 0, 250);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    free(data);
    ck_assert_uint_eq(h_ncalls(h, 1, H_CB_SNAPSHOT_INSTALL), 1);
    ck_assert(h_call(h, 1, H_CB_SNAPSHOT_INSTALL, 0)->keep);
    ck_assert_uint_eq(h_node(h, 1)->pending, 3);
    ck_assert_uint_eq(h_status(h, 1).applied, 20);
    /* leader 3 of term 3: its log differs from 25 on; 25 and 26 replace
     * 25..30 (writes 4: the term, 5: the entries), commit 26 */
    raft_term t3[2] = {3, 3};
    h_mk_entries(ents, bufs, 25, t3, 2);
    m = h_msg_append(3, 1, 3, 24, 2, 26, ents, 2);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
    ck_assert_uint_eq(h_node(h, 1)->pending, 5);
    ck_assert_uint_eq(h_status(h, 1).last_index, 26);
    ck_assert_uint_eq(h_status(h, 1).commit, 26);
    /* writes 1..4 durable: entries up to 24 are on disk as in memory, 25
     * and 26 are not */
    for (size_t k = 0; k < 4; k++) {
        ck_assert_int_eq(h_persisted(h, 1, 1, 0), 0);
        ck_assert_uint_le(h_status(h, 1).applied, 24);
    }
    ck_assert_uint_eq(h_status(h, 1).applied, 24);
    ck_assert_int_eq(h_persisted(h, 1, 1, 0), 0);
    ck_assert_uint_eq(h_status(h, 1).applied, 26);
    /* as leader, its own match is its durable index: no more than its log */
    h_make_leader_scripted(h, 1);
    ck_assert_uint_le(h_progress(h, 1, 1).match, h_status(h, 1).last_index);
    h_settle(h);
    struct raft_status st = h_status(h, 1);
    ck_assert_uint_eq(h_progress(h, 1, 1).match, st.last_index);
    h_free(h);
}
END_TEST

/* ------------------------------------------------------------------------
 * Out of memory
 * ------------------------------------------------------------------------ */

/*
 * One snapshot scenario run over and over with the counting allocator
 * failing its k-th allocation (counted from the end of raft_create), for
 * k = 1, 2, ... until a run completes without reaching k: elect, replicate
 * while node 3 is cut off, compact, stream the snapshot to node 3, restart
 * node 3 from its snapshot (raft_restore_snapshot), replicate more. Every
 * library call goes through oom_run(): a call that met the failed
 * allocation must return RAFT_ENOMEM, invoke no callback, send nothing and
 * leave the node's status as it was; retried, it must succeed. At the end
 * nothing is left allocated.
 */
enum { OOM_TICK = 1, OOM_STEP, OOM_PROPOSE, OOM_COMPACT, OOM_RESTART,
       OOM_BOOTSTRAP };

struct oom {
    struct harness *h;
    unsigned long k;
    unsigned long enomem;
    bool cut3;               /* node 3 is cut off: its traffic is lost */
};

struct oom_op {
    int kind;
    raft_id id;
    const struct raft_msg *msg;
};

static int oom_do(struct oom *o, const struct oom_op *op)
{
    struct harness *h = o->h;
    switch (op->kind) {
    case OOM_TICK:
        return raft_tick(h_raft(h, op->id));
    case OOM_STEP:
        return raft_step(h_raft(h, op->id), op->msg);
    case OOM_PROPOSE:
        return h_propose(h, op->id, "oom", NULL);
    case OOM_COMPACT:
        return h_snapshot_take(h, op->id);
    case OOM_RESTART:
        return h_restart(h, op->id);
    case OOM_BOOTSTRAP:
        return raft_bootstrap(h_raft(h, op->id), h->voters, h->n);
    default:
        ck_abort();
        return 0;
    }
}

static int oom_run(struct oom *o, int kind, raft_id id, const struct raft_msg *msg)
{
    struct harness *h = o->h;
    struct oom_op op = {kind, id, msg};
    struct h_node *nd = h_node(h, id);
    bool started = kind != OOM_RESTART && nd->r != NULL && raft_role(nd->r) != 0;
    struct raft_status before;
    memset(&before, 0, sizeof(before));
    if (started) {
        before = h_status(h, id);
    }
    size_t calls = nd->n_calls, net = h->n_net;
    unsigned long failures = h->alloc.failures;
    int rc = oom_do(o, &op);
    if (h->alloc.failures == failures) {
        H_CHECK(rc != RAFT_ENOMEM, "k=%lu: op %d on node %llu: ENOMEM without "
                "a failed allocation", o->k, kind, (unsigned long long)id);
        return rc;
    }
    H_CHECK(rc == RAFT_ENOMEM, "k=%lu: op %d on node %llu met the failed "
            "allocation and returned %d (%s)", o->k, kind,
            (unsigned long long)id, rc, raft_strerror(rc));
    o->enomem++;
    if (started) {
        struct raft_status after = h_status(h, id);
        char what[64];
        snprintf(what, sizeof(what), "k=%lu: op %d (ENOMEM)", o->k, kind);
        h_assert_status_eq(&before, &after, what);
        H_CHECK(after.snapshot_index == before.snapshot_index &&
                    after.first_index == before.first_index,
                "%s: snapshot or first index changed", what);
        H_CHECK(nd->n_calls == calls, "%s: %zu callbacks before ENOMEM", what,
                nd->n_calls - calls);
        H_CHECK(h->n_net == net, "%s: sent, then ENOMEM", what);
    }
    rc = oom_do(o, &op);
    H_CHECK(rc != RAFT_ENOMEM, "k=%lu: op %d retried: still ENOMEM", o->k, kind);
    return rc;
}

static void oom_ok(struct oom *o, int kind, raft_id id)
{
    int rc = oom_run(o, kind, id, NULL);
    H_CHECK(rc == 0, "k=%lu: op %d on node %llu: %d (%s)", o->k, kind,
            (unsigned long long)id, rc, raft_strerror(rc));
}

static void oom_deliver(struct oom *o)
{
    struct h_msg hm;
    unsigned guard = 0;
    while (h_pop(o->h, &hm)) {
        if (!(o->cut3 && (hm.m.to == 3 || hm.m.from == 3))) {
            int rc = oom_run(o, OOM_STEP, hm.m.to, &hm.m);
            H_CHECK(rc == 0 || rc == RAFT_ESTALE, "k=%lu: node %llu stepping "
                    "a %s: %d (%s)", o->k, (unsigned long long)hm.m.to,
                    h_msg_type_name(hm.m.type), rc, raft_strerror(rc));
        }
        h_msg_free(&hm);
        H_CHECK(++guard < 100000, "message storm");
    }
}

static void oom_heartbeat(struct oom *o, unsigned rounds)
{
    for (unsigned i = 0; i < rounds; i++) {
        oom_ok(o, OOM_TICK, 1);
        oom_deliver(o);
    }
}

static unsigned long oom_scenario(struct oom *o)
{
    struct h_opts opts = snap_opts();
    opts.counting_alloc = true;
    opts.snapshot_size = 350; /* four chunks */
    struct harness *h = h_new(3, &opts);
    o->h = h;
    h->alloc.fail_at = o->k == 0 ? 0 : h->alloc.calls + o->k;
    for (raft_id id = 1; id <= 3; id++) {
        oom_ok(o, OOM_BOOTSTRAP, id);
    }
    for (unsigned t = 0; t < 3 * E && raft_role(h_raft(h, 1)) != RAFT_CANDIDATE; t++) {
        oom_ok(o, OOM_TICK, 1);
    }
    oom_deliver(o);
    H_CHECK(raft_role(h_raft(h, 1)) == RAFT_LEADER, "k=%lu: no leader", o->k);
    oom_heartbeat(o, 1);
    o->cut3 = true;
    for (int i = 0; i < 6; i++) {
        oom_ok(o, OOM_PROPOSE, 1);
        oom_deliver(o);
    }
    oom_heartbeat(o, 1);
    oom_ok(o, OOM_COMPACT, 1);
    oom_ok(o, OOM_COMPACT, 2);
    H_CHECK(h_status(h, 1).snapshot_index == 7, "k=%lu: snapshot at %llu",
            o->k, (unsigned long long)h_status(h, 1).snapshot_index);
    o->cut3 = false;
    for (unsigned t = 0; t < 3 * E && h_status(h, 3).snapshot_index < 7; t++) {
        oom_heartbeat(o, 1);
    }
    H_CHECK(h_status(h, 3).snapshot_index == 7, "k=%lu: node 3 did not "
            "install the snapshot", o->k);
    oom_ok(o, OOM_PROPOSE, 1);
    oom_deliver(o);
    oom_heartbeat(o, 2);
    oom_ok(o, OOM_RESTART, 3);
    H_CHECK(h_status(h, 3).snapshot_index == 7 && h_status(h, 3).last_index == 8,
            "k=%lu: node 3 restarted at %llu..%llu", o->k,
            (unsigned long long)h_status(h, 3).snapshot_index,
            (unsigned long long)h_status(h, 3).last_index);
    oom_ok(o, OOM_PROPOSE, 1);
    oom_deliver(o);
    oom_heartbeat(o, 2);
    for (raft_id id = 1; id <= 3; id++) {
        struct raft_status st = h_status(h, id);
        H_CHECK(st.commit == 9 && st.applied == 9 && st.last_index == 9,
                "k=%lu: node %llu at commit %llu applied %llu last %llu", o->k,
                (unsigned long long)id, (unsigned long long)st.commit,
                (unsigned long long)st.applied, (unsigned long long)st.last_index);
        H_CHECK(h_node(h, id)->sm_hash == h_node(h, 1)->sm_hash,
                "k=%lu: node %llu's state machine differs", o->k,
                (unsigned long long)id);
        h_assert_disk_matches(h, id);
    }
    unsigned long failures = h->alloc.failures;
    for (raft_id id = 1; id <= 3; id++) {
        raft_destroy(h_node(h, id)->r);
        h_node(h, id)->r = NULL;
    }
    H_CHECK(h->alloc.blocks == 0 && h->alloc.bytes == 0 && h->alloc.bad_free == 0,
            "k=%lu: %zu blocks (%zu bytes) left, %lu bad frees", o->k,
            h->alloc.blocks, h->alloc.bytes, h->alloc.bad_free);
    h_free(h);
    o->h = NULL;
    return failures;
}

START_TEST(test_snapshot_oom)
{
    struct oom base = {.k = 0};
    ck_assert_uint_eq(oom_scenario(&base), 0);
    unsigned long k, enomem = 0;
    for (k = 1; k < 100000; k++) {
        struct oom o = {.k = k};
        if (oom_scenario(&o) == 0) {
            break;
        }
        enomem += o.enomem;
    }
    printf("snapshot: out-of-memory scenario: allocations 1..%lu failed in "
           "turn, each reported as RAFT_ENOMEM\n", k - 1);
    ck_assert_uint_gt(k, 10);
    ck_assert_msg(enomem == k - 1, "%lu of %lu injected failures reported",
                  enomem, k - 1);
}
END_TEST

Suite *raft_snapshot_suite(void)
{
    Suite *s = suite_create("snapshot");
    TCase *tc = tcase_create("compact");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_compact_drops_up_to_trailing);
    tcase_add_test(tc, test_compact_keeps_trailing_entries);
    tcase_add_test(tc, test_compact_misuse);
    tcase_add_test(tc, test_compact_from_callback_is_busy);
    tcase_add_test(tc, test_create_rejects_partial_snapshot_callbacks);
    tcase_add_test(tc, test_compact_bounds_memory);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    tc = tcase_create("stream");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_far_behind_follower_gets_snapshot);
    tcase_add_test(tc, test_snapshot_window);
    tcase_add_test(tc, test_snapshot_window_shuffled);
    tcase_add_test(tc, test_snapshot_stale_answer);
    tcase_add_test(tc, test_snapshot_stale_answer_completes);
    tcase_add_test(tc, test_snapshot_lost_middle_chunk);
    tcase_add_test(tc, test_snapshot_rewind_a_heartbeat_after_the_last_is_at_once);
    tcase_add_test(tc, test_snapshot_empty_chunk_with_null_data_taken);
    tcase_add_test(tc, test_snapshot_lost_middle_chunk_new_leader);
    tcase_add_test(tc, test_snapshot_lost_tail);
    tcase_add_test(tc, test_snapshot_lost_done_answer);
    tcase_add_test(tc, test_snapshot_duplicated_chunk);
    tcase_add_test(tc, test_snapshot_duplicated_first_chunk);
    tcase_add_test(tc, test_snapshot_reordered_chunks);
    tcase_add_test(tc, test_snapshot_follower_restarts_mid_stream);
    tcase_add_test(tc, test_snapshot_follower_restarts_before_tail);
    tcase_add_test(tc, test_snapshot_stream_started_over_by_the_leader);
    tcase_add_test(tc, test_snapshot_late_answer_after_restart);
    tcase_add_test(tc, test_snapshot_leader_changes_mid_stream);
    suite_add_tcase(s, tc);
    tc = tcase_create("follower");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_chunk_at_or_below_commit_is_done);
    tcase_add_test(tc, test_install_keeps_matching_suffix);
    tcase_add_test(tc, test_failed_first_chunk_ends_the_stream);
    tcase_add_test(tc, test_install_drops_conflicting_log);
    suite_add_tcase(s, tc);
    tc = tcase_create("failures");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_snapshot_write_fails);
    tcase_add_test(tc, test_snapshot_install_fails);
    tcase_add_test(tc, test_snapshot_read_fails_once);
    tcase_add_test(tc, test_snapshot_chunk_refused_by_send);
    tcase_add_test(tc, test_snapshot_read_fails_newer_snapshot);
    suite_add_tcase(s, tc);
    tc = tcase_create("restore");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_restore_snapshot_cases);
    tcase_add_loop_test(tc, test_index_space_nearly_exhausted, 0, 2);
    tcase_add_test(tc, test_batch_may_end_at_last_usable_index);
    tcase_add_loop_test(tc, test_index_space_exhausted_no_election, 0, 2);
    tcase_add_test(tc, test_index_space_exhausted_timeout_now_ignored);
    tcase_add_test(tc, test_index_space_conflict_near_end);
    tcase_add_test(tc, test_restore_snapshot_einval);
    tcase_add_test(tc, test_restore_snapshot_enomem_then_restore);
    tcase_add_test(tc, test_restore_snapshot_applies_after_it);
    suite_add_tcase(s, tc);
    tc = tcase_create("async");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_snapshot_async_install_acknowledged_when_durable);
    tcase_add_test(tc, test_snapshot_async_keep_then_truncation);
    suite_add_tcase(s, tc);
    tc = tcase_create("oom");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_snapshot_oom);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return s;
}
