/*
 * harness.h - a tiny, deterministic, in-memory cluster for scripted unit
 * tests of the raft library.
 *
 * A harness owns K nodes with ids 1..K. Every node's callbacks record what
 * the library asked for:
 *   - send: the message is deep-copied (entries and payloads: the library's
 *     buffers are only borrowed) into one FIFO network shared by all nodes;
 *   - persist_state / persist_entries: written to a per-node fake disk;
 *   - apply: appended to a per-node list of applied entries;
 *   - every callback is also appended to a per-node call log, so tests can
 *     assert the ORDER of callbacks (persist before send, send before apply).
 * Faults can be injected per node (fail the next persist_state /
 * persist_entries / apply, fail sends to a peer), and the library can be
 * given a counting allocator that fails the k-th allocation and tracks
 * outstanding blocks.
 *
 * Snapshots (h_opts.snapshots): each node's state machine is a running
 * hash of the entries it applied (apply must come in index order, one past
 * the last applied or installed index); a snapshot is that state encoded
 * as a self-checking byte string (see h_snapshot_encode), padded to
 * h_opts.snapshot_size bytes so that tests can stream it in many chunks.
 * Each node has a fake snapshot store: one durable snapshot, and a receive
 * buffer that snapshot_write fills strictly in order. The fake disk log
 * then starts after `disk_base`.
 *
 * Nothing here ticks a node unless a test asks, so scripted tests are fully
 * deterministic: to elect node X, tick only X, then deliver messages.
 */
#ifndef RAFT_TEST_HARNESS_H
#define RAFT_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>

#include "raft.h"

#define H_MAX_NODES 9

/*
 * Like ck_assert_msg, for hot paths: Check's assertions record their
 * location through a write(2) even when they pass, which makes loops of
 * thousands of passing checks slow (the OOM test runs millions).
 */
#define H_CHECK(cond, ...)                 \
    do {                                   \
        if (!(cond)) {                     \
            ck_abort_msg(__VA_ARGS__);     \
        }                                  \
    } while (0)

/* ---- counting allocator ------------------------------------------------ */

struct h_alloc {
    size_t blocks;          /* outstanding blocks */
    size_t bytes;           /* outstanding bytes */
    unsigned long calls;    /* alloc + realloc calls that asked for memory */
    unsigned long fail_at;  /* fail the call whose number is fail_at (0: off) */
    unsigned long failures; /* how many calls were failed */
    unsigned long bad_free; /* free(NULL) or free of a foreign pointer */
};

/* An allocator table that uses `a` as its context. */
struct raft_allocator h_alloc_table(struct h_alloc *a);

/* ---- recorded callbacks ------------------------------------------------ */

enum {
    H_CB_SEND = 1,
    H_CB_PERSIST_STATE,
    H_CB_PERSIST_ENTRIES,
    H_CB_APPLY,
    H_CB_SNAPSHOT_READ,
    H_CB_SNAPSHOT_WRITE,
    H_CB_SNAPSHOT_INSTALL,
};

struct h_call {
    int kind;          /* H_CB_* */
    int rc;            /* what the fake returned */
    /* send */
    int msg_type;
    raft_id to;
    bool ok;           /* vote granted / append success (responses) */
    /* persist_state */
    raft_term term;
    raft_id vote;
    /* persist_entries (first, n) / apply (index) */
    raft_index index;
    size_t n;
    /* snapshot callbacks: index/term are the snapshot's, offset and n
     * (bytes) the chunk's; `keep` is install's argument, `last` is what
     * snapshot_read answered. Sends of SNAPSHOT record index, offset, n
     * and ok = last; of SNAPSHOT_RESP index, offset and ok = done. */
    uint64_t offset;
    bool keep;
    bool last;
};

struct h_event {
    int type;
    raft_term term;
    int role;
    raft_id peer;
    int error;
};

/* An owned copy of an entry. */
struct h_entry {
    raft_term term;
    int type;
    char *buf;   /* owned, NULL when len == 0 */
    size_t len;
};

struct h_log {
    struct h_entry *e; /* e[0] is index 1 */
    size_t n;
    size_t cap;
};

/* A message in flight: an owned deep copy. */
struct h_msg {
    struct raft_msg m;   /* m.u.append.entries points at ents */
    struct raft_entry *ents;
    void *data;          /* SNAPSHOT: m.u.snapshot.data points here */
};

/* A snapshot held by a fake host. */
struct h_snap {
    bool have;
    raft_index index;    /* last entry covered */
    raft_term term;      /* its term */
    unsigned char *data; /* owned */
    size_t len;
    unsigned char *conf; /* owned: its configuration, as the node gave it */
    size_t conf_len;
};

/* A settled read (the read callback). */
struct h_read {
    void *req;
    raft_index index;
    int status;
    raft_index applied; /* the node's applied index when it settled */
};

struct harness;

struct h_node {
    struct harness *h;
    raft_id id;
    struct raft *r;            /* NULL if not created */
    struct raft_config cfg;

    /* fake disk: disk.e[0] is the entry at index disk_base + 1 */
    raft_term d_term;
    raft_id d_vote;
    struct h_log disk;
    raft_index disk_base;

    /* snapshots (h_opts.snapshots): the durable one, and the one being
     * received (rx_len bytes written so far, in order) */
    struct h_snap snap;
    bool rx_active;
    raft_index rx_index;
    raft_term rx_term;
    unsigned char *rx;
    size_t rx_len;
    size_t rx_cap;

    /* the fake state machine: last applied (or installed) index, its
     * term, and a running hash of everything applied up to it */
    raft_index sm_index;
    raft_term sm_term;
    uint64_t sm_hash;
    /* the configuration at sm_index (owned): the last configuration entry
     * applied, or the snapshot's, or the bootstrap list encoded */
    unsigned char *sm_conf;
    size_t sm_conf_len;

    /* applied entries, in callback order (index in applied_idx) */
    struct h_log applied;
    raft_index *applied_idx;
    size_t applied_cap;

    /* callback log */
    struct h_call *calls;
    size_t n_calls;
    size_t cap_calls;
    struct h_event *events;
    size_t n_events;
    size_t cap_events;

    /* asynchronous mode: writes started and not yet reported */
    size_t pending;

    /* settled reads, in callback order */
    struct h_read *reads;
    size_t n_reads;
    size_t cap_reads;

    /* fault injection: each counter fails that many next calls (-1: all) */
    int fail_persist_state;
    int fail_persist_campaign; /* only persist_state calls that vote for
                                  the node itself (a campaign's write) */
    int fail_persist_entries;
    int fail_apply;
    int fail_send_to[H_MAX_NODES + 1];
    int fail_snapshot_read;
    int fail_snapshot_write;
    int fail_snapshot_install;

    /* Called at the start of every callback (kind H_CB_*, or 0 for the
     * event callback); used by the re-entrancy tests. */
    void (*hook)(struct h_node *nd, int kind);
    void *hook_arg;
};

struct h_opts {
    unsigned election_ticks;   /* 0: 10 */
    unsigned heartbeat_ticks;  /* 0: 1 */
    uint32_t max_msg_entries;  /* 0: library default */
    uint32_t max_msg_bytes;    /* 0: library default */
    uint32_t max_inflight;     /* 0: library default */
    uint32_t max_inflight_bytes; /* 0: library default */
    uint64_t seed;             /* node i gets seed * 1000 + i */
    bool counting_alloc;       /* give the library the counting allocator */
    bool no_event_cb;          /* leave the optional event callback NULL */
    bool no_create;            /* h_new leaves every node uncreated */
    bool async;                /* asynchronous persistence: the fake disk
                                  is written at once, but nothing is
                                  durable until h_persisted says so */
    bool snapshots;            /* set the snapshot callbacks */
    uint64_t snapshot_trailing; /* 0: library default */
    size_t snapshot_size;      /* bytes of every snapshot h_snapshot_take
                                  makes (at least H_SNAP_HEADER) */
    /* The Figure 2 tests run classic Raft: PreVote and CheckQuorum are
     * off unless asked for (the library's default is on). */
    bool pre_vote;
    bool check_quorum;
    bool lease_reads;          /* needs check_quorum */
    uint32_t max_pending_reads; /* 0: library default */
    /* Membership tests: only nodes 1..n_boot are the bootstrap voters;
     * h_bootstrap_all starts the others with raft_join, and h_restart
     * restores those without a voter list (0: every node is a voter). */
    size_t n_boot;
};

struct harness {
    struct harness *next_live; /* list of live harnesses (h_cleanup_all) */
    size_t n;
    struct h_node nodes[H_MAX_NODES + 1]; /* indexed by id, [0] unused */
    raft_id voters[H_MAX_NODES];
    size_t n_boot;                         /* the bootstrap list: voters[0..n_boot) */
    struct h_opts opts;

    struct h_msg *net;
    size_t n_net;
    size_t cap_net;

    /* Messages matching this predicate stay in the network during
     * h_deliver_all (they are "held", neither delivered nor dropped). */
    bool (*hold)(const struct raft_msg *m, void *arg);
    void *hold_arg;

    /* When true (default), h_deliver_all fails the test if a message the
     * library itself produced is rejected as malformed (EBADMSG, ETOOBIG,
     * ENOTMEMBER, EINVAL): a correct node never sends such a message. */
    bool strict;

    unsigned long delivered; /* total messages delivered */
    uint32_t partition;      /* mask used by h_partition */

    struct h_alloc alloc;
};

/* Create n nodes (raft_create), not started. Fails the test on error. */
struct harness *h_new(size_t n, const struct h_opts *opts);
/* Destroy every node and free everything. */
void h_free(struct harness *h);
/* Free every harness still alive: a checked teardown, so a test that fails
 * half-way (CK_FORK=no longjmps out of it) leaks nothing under valgrind. */
void h_cleanup_all(void);
/* Add that teardown to a test case. */
void h_tcase_cleanup(TCase *tc);

/* A raft_config for node `id` as h_new would build it. */
struct raft_config h_config(const struct harness *h, raft_id id);
/* The callback table the harness uses (all callbacks set). */
struct raft_callbacks h_callbacks(const struct harness *h);

struct h_node *h_node(struct harness *h, raft_id id);
struct raft *h_raft(struct harness *h, raft_id id);

/* Encode a configuration of voters ids[0..n) as raft.h's
 * RAFT_ENTRY_CONFIG payload (docs/wire-format.md); *len (out) its size. The
 * harness's own encoder: the format is the contract. */
unsigned char *h_conf_encode(const raft_id *ids, const unsigned *flags,
                             size_t n, bool auto_leave, size_t *len);

/* Bootstrap every node with voters 1..n; fails the test on error. */
void h_bootstrap_all(struct harness *h);

/*
 * Restore node `id` from (term, vote, a log with the given entry terms).
 * Payloads are generated ("i<index>t<term>") so that entries of different
 * nodes with equal (index, term) are byte-identical, as Raft guarantees.
 * The fake disk is set to the same state. Returns raft_restore's code.
 */
int h_restore(struct harness *h, raft_id id, raft_term term, raft_id vote,
              const raft_term *terms, size_t n);

/* Destroy node `id` and restore it from its fake disk (a crash/restart):
 * with raft_restore_snapshot from its durable snapshot and the entries
 * after disk_base if it has one, with raft_restore otherwise. Its state
 * machine is reloaded from that snapshot (or emptied), a snapshot being
 * received is forgotten (it was not durable). Clears its applied list and
 * call log. Returns the restore call's code. */
int h_restart(struct harness *h, raft_id id);

/*
 * Set the fake host of node `id` (created, not started) to hold a snapshot
 * ending at (snap_index, snap_term), term and vote, and log entries of the
 * given terms from index `first` on (generated payloads, as h_restore), so
 * that disk_base is first - 1; then start the node from it with
 * raft_restore_snapshot. The fake host is set whatever the call returns;
 * returns its code.
 */
int h_restore_snapshot(struct harness *h, raft_id id, raft_index snap_index,
                       raft_term snap_term, raft_term term, raft_id vote,
                       raft_index first, const raft_term *terms, size_t n);

/* Generated payload of entry (index, term), into buf (>= 48 bytes). */
size_t h_payload(char *buf, raft_index index, raft_term term);

/* ---- snapshots ----------------------------------------------------------- */

/* Bytes of the header that starts every harness snapshot. */
#define H_SNAP_HEADER 32u

/* A state machine (last index, its term, hash) encoded as a snapshot of
 * `len` bytes (at least H_SNAP_HEADER): malloc'ed, the caller frees. */
unsigned char *h_snapshot_encode(raft_index index, raft_term term,
                                 uint64_t hash, size_t len);
/* Check that data[0..len) is a well-formed harness snapshot (header and
 * every padding byte); fill what it describes. */
bool h_snapshot_parse(const void *data, size_t len, raft_index *index,
                      raft_term *term, uint64_t *hash);

/*
 * The host of node `id` snapshots its state machine at its applied index:
 * the bytes (h_opts.snapshot_size of them) become its durable snapshot,
 * replacing any older one, then raft_compact(r, applied) is called and, if
 * it succeeds, the fake disk drops the entries the node dropped. Returns
 * raft_compact's code.
 */
int h_snapshot_take(struct harness *h, raft_id id);

/* Number of chunks a snapshot of `len` bytes takes with max_msg_bytes
 * `max`. */
size_t h_chunks(size_t len, size_t max);

/* ---- driving ----------------------------------------------------------- */

/* Tick node id n times; returns the first non-zero code (or 0). */
int h_tick(struct harness *h, raft_id id, unsigned n);
/* Tick node id n times, each call returning 0 or `rc` (checked); returns
 * how many returned `rc`. */
unsigned h_tick_count(struct harness *h, raft_id id, unsigned n, int rc);
/* Tick until raft_role(id) == role; returns the number of ticks it took,
 * or 0 if `max` ticks were not enough. */
unsigned h_tick_until_role(struct harness *h, raft_id id, int role,
                           unsigned max);
/* Tick node id until it starts an election, then deliver every message;
 * asserts that it became leader. Only `id` is ticked. */
void h_elect(struct harness *h, raft_id id);
/* Tick the leader heartbeat_ticks and deliver all, `rounds` times. */
void h_heartbeat(struct harness *h, raft_id leader, unsigned rounds);
/* Asynchronous mode: report the oldest n pending writes of node id durable
 * (status 0) or failed; returns raft_persisted's code. */
int h_persisted(struct harness *h, raft_id id, size_t n, int status);
/* Report every pending write of every node durable, repeatedly, and
 * deliver every message, until nothing is pending or in flight. */
void h_settle(struct harness *h);
/* Propose a NUL-terminated string; returns raft_propose's code. */
int h_propose(struct harness *h, raft_id id, const char *s, raft_index *idx);

/* ---- the network --------------------------------------------------------- */

/* Number of messages in flight matching from/to/type (0 = any). */
size_t h_count(const struct harness *h, raft_id from, raft_id to, int type);
/* The k-th (0-based) message in flight matching, or NULL. */
const struct raft_msg *h_find(const struct harness *h, raft_id from,
                              raft_id to, int type, size_t k);
/* Remove and step the first matching message; returns raft_step's code.
 * Fails the test if there is none. */
int h_deliver_one(struct harness *h, raft_id from, raft_id to, int type);
/* Deliver until the network holds only held messages; returns the number
 * of messages delivered. */
size_t h_deliver_all(struct harness *h);
/* A hold predicate: hold every message to or from a node whose bit
 * (1u << id) is set in *(const uint32_t *)arg - a partition. */
bool h_hold_nodes(const struct raft_msg *m, void *arg);
/* Partition: hold traffic of the nodes in mask (0: heal). */
void h_partition(struct harness *h, uint32_t mask);

/* Step / drop / duplicate the i-th message in flight (0-based). */
int h_deliver_at(struct harness *h, size_t i);
void h_drop_at(struct harness *h, size_t i);
void h_duplicate_at(struct harness *h, size_t i);

/* Take the first message out of the network into *out (the caller frees
 * it with h_msg_free); false if the network is empty. */
bool h_pop(struct harness *h, struct h_msg *out);
void h_msg_free(struct h_msg *m);

/* Drop every message in flight (or only from->to, 0 = any). */
void h_drop_all(struct harness *h);
void h_drop(struct harness *h, raft_id from, raft_id to, int type);

/* ---- inspection ---------------------------------------------------------- */

struct raft_status h_status(struct harness *h, raft_id id);
bool h_status_eq(const struct raft_status *a, const struct raft_status *b);
/* Fail the test (with a description) if two statuses differ. */
void h_assert_status_eq(const struct raft_status *a,
                        const struct raft_status *b, const char *what);

/* Read the node's in-memory log terms into terms[] (cap entries), from
 * its first retained entry (index 1 unless compacted) to its last. */
size_t h_log_terms(struct harness *h, raft_id id, raft_term *terms,
                   size_t cap);
/* Fail the test unless the node's in-memory log has exactly these terms. */
void h_assert_log_terms(struct harness *h, raft_id id, const raft_term *terms,
                        size_t n);
/* Fail the test unless the in-memory logs of a and b are equal (terms,
 * types and payloads) where both retain entries, and end at the same
 * index. */
void h_assert_logs_equal(struct harness *h, raft_id a, raft_id b);
/* Fail the test unless the fake disk matches the node's memory: term, vote
 * and every log entry the node retains (the disk may also hold older ones
 * the node compacted, and lacks only what its snapshot covers). */
void h_assert_disk_matches(struct harness *h, raft_id id);

/* Forget the recorded calls and events of one node / every node. */
void h_reset_calls(struct harness *h, raft_id id);
void h_reset_all_calls(struct harness *h);
/* Number of recorded calls of a kind (0 = any). */
size_t h_ncalls(const struct harness *h, raft_id id, int kind);
/* Position in the call log of the k-th call of a kind, or -1. */
long h_call_pos(const struct harness *h, raft_id id, int kind, size_t k);
/* The k-th recorded call of a kind, or NULL. */
const struct h_call *h_call(const struct harness *h, raft_id id, int kind,
                            size_t k);
/* Number of recorded events of a type (0 = any). */
size_t h_nevents(const struct harness *h, raft_id id, int type);
/* The same, counting only those whose error is `error` (0 = any). */
size_t h_nevents_error(const struct harness *h, raft_id id, int type,
                       int error);
const struct h_event *h_event(const struct harness *h, raft_id id, int type,
                              size_t k);

/* ---- membership ---------------------------------------------------------- */

/*
 * Nodes 1..3 bootstrapped as voters and `spare` more (4..) started with
 * raft_join; node 1 is elected and its first entry (the configuration) is
 * committed everywhere. `o` is borrowed and copied with n_boot set to 3;
 * NULL means election_ticks 10, heartbeat_ticks 1, seed 7.
 */
struct harness *h_conf_cluster(size_t spare, const struct h_opts *o);

/* Node id's configuration as "1V 2VO 3L" (a member's id, then V, O and L
 * for its RAFT_MEMBER_* flags), "" if it has none, written into buf (cap
 * bytes; members that do not fit are left out); returns buf. */
const char *h_conf_str(struct harness *h, raft_id id, char *buf, size_t cap);

/* Fail the test unless h_conf_str(h, id) is `want`. */
#define H_ASSERT_CONF(h, id, want)                                        \
    do {                                                                  \
        char b_[128];                                                     \
        ck_assert_str_eq(h_conf_str((h), (id), b_, sizeof(b_)), (want));  \
    } while (0)

/* Propose the single change (type, id) on `leader`, joint mode
 * RAFT_JOINT_AUTO; *idx (out, may be NULL) as raft_propose_change.
 * Returns raft_propose_change's code. */
int h_change1(struct harness *h, raft_id leader, int type, raft_id id,
              raft_index *idx);

/*
 * The host of node `id` loses its disk and starts the node again empty,
 * under the same id, with raft_join (a replaced machine): its log, term,
 * vote, pending writes, snapshot store and state machine are forgotten;
 * its recorded calls, events and applied entries are kept. Fails the test
 * if raft_create or raft_join does.
 */
void h_wipe_and_join(struct harness *h, raft_id id);

/* ---- message builders ---------------------------------------------------- */

struct raft_msg h_msg_vote(raft_id from, raft_id to, raft_term term,
                           raft_index last_index, raft_term last_term);
struct raft_msg h_msg_vote_resp(raft_id from, raft_id to, raft_term term,
                                bool granted, raft_index last_index,
                                raft_term last_term);
struct raft_msg h_msg_append(raft_id from, raft_id to, raft_term term,
                             raft_index prev_index, raft_term prev_term,
                             raft_index commit,
                             const struct raft_entry *entries, size_t n);
struct raft_msg h_msg_append_resp(raft_id from, raft_id to, raft_term term,
                                  bool success, raft_index index,
                                  raft_index hint_index, raft_term hint_term);

/* Fill out[0..n) with COMMAND entries of the given terms and generated
 * payloads for indexes first..; bufs must hold n * 48 bytes. */
void h_mk_entries(struct raft_entry *out, char *bufs, raft_index first,
                  const raft_term *terms, size_t n);

/*
 * Make node `id` (already started) leader by script: tick it until it is a
 * candidate, then step hand-made granted votes from the lowest other voters
 * until it leads. Drops every message and forgets every call afterwards.
 */
void h_make_leader_scripted(struct harness *h, raft_id id);
/* The same, but keep the APPEND messages the new leader sent (only the
 * vote traffic is dropped), so a test can answer them. */
void h_make_leader_keep_appends(struct harness *h, raft_id id);

/* The leader's progress entry for voter `peer` (fails the test if none). */
struct raft_progress h_progress(struct harness *h, raft_id leader,
                                raft_id peer);

/*
 * A harness of n nodes in which only node 1 is started, restored from
 * (term, vote, log terms); the others exist but are never driven. This is
 * the usual setup for scripted single-node tests.
 */
struct harness *h_single(size_t n, const struct h_opts *opts, raft_term term,
                         raft_id vote, const raft_term *log, size_t nlog);

/* Assert that the call log of `id` holds a send of `type` to `to`; returns
 * the position of the first one. */
long h_assert_sent(const struct harness *h, raft_id id, int type, raft_id to);

const char *h_msg_type_name(int type);

#define H_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
