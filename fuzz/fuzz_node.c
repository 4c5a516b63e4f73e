/*
 * fuzz_node.c - one node driven by an adversarial cluster.
 *
 * The fuzzer plays every other node, the network, the disk, the clock, the
 * client and the allocator of a single started node (3 or 5 voters, small
 * fixed limits). The input format is described in fuzz.h: a setup (cluster
 * size, which voter this node is, PRNG seed, bootstrap or restore from a
 * generated log), then operations: ticks; messages built structurally from
 * the input so that plausible terms and indexes are frequent (relative to
 * the node's own term, last index and commit index, with its own log's
 * terms), optionally sent through the wire codec; messages decoded from raw
 * bytes; proposals and batches; armed failures of persist_state,
 * persist_entries (with a partial write), send, apply and the k-th next
 * allocation; restarts from the simulated disk; and two shortcuts (win an
 * election, acknowledge the leader's log) that make deep states common.
 * Snapshots: unless the setup turns them off, the snapshot callbacks keep
 * an in-memory host snapshot; the fuzzer compacts (raft_compact at or near
 * the applied index), streams InstallSnapshot chunks to the node as a
 * leader would (fresh streams, continuations, gaps, arbitrary offsets),
 * answers the node's own chunks, and arms failures of snapshot_read,
 * snapshot_write and snapshot_install. A restart restores from the host
 * snapshot and the log after it (raft_restore_snapshot).
 * Membership: the fuzzer proposes configuration changes (0-3 changes of
 * ids 0-8, every joint mode), leaves joint configurations, transfers
 * leadership, sends TimeoutNow and transfer campaigns, and sends messages
 * from ids beyond the bootstrap list with configurations of its own
 * (entries and a snapshot's), valid or not; the node may also join
 * (raft_join) instead of being in the bootstrap list.
 * The end of the index space: a setup value (fuzz.h, FZ_NEAR_END) restores
 * the node from a host snapshot at most FZ_NEAR_END_SPAN indexes below
 * UINT64_MAX - 1, so that every index it then sees is near the end, and
 * lets AppendEntries carry up to FZ_BULK_MAX entries, often exactly up to
 * the end of the index space or just past it.
 *
 * Checked in the callbacks, as they happen:
 *   - persist_state: terms never decrease, the vote of a term never changes
 *     once given, votes go to nodes heard of;
 *   - persist_entries: first > commit index (committed entries are never
 *     rewritten), no gap after the node's log, a leader only appends,
 *     entries are a valid continuation (terms >= 1, non-decreasing, at most
 *     the persisted term), at most max_msg_entries per call;
 *   - send: from this node to a peer, term equal to the persisted term, a
 *     vote request only with a persisted self-vote, a granted vote only
 *     with the persisted vote, AppendEntries only from a leader and
 *     carrying entries equal to the persisted log (within the limits),
 *     acknowledgements only of persisted entries, snapshot chunks only
 *     from a leader, of a snapshot the host holds, with its bytes at the
 *     stated offset (at most max_msg_bytes, `last` exactly at its end),
 *     snapshot replies naming the next byte the host was given (or 0) and
 *     `done` only for an index at or below the commit index; every
 *     message encodes and decodes back to itself;
 *   - apply: indexes consecutive from the snapshot per incarnation (or per
 *     installation), at or below the commit index, entry equal to the
 *     persisted one;
 *   - snapshot_read: only for a snapshot the host was given;
 *     snapshot_write: chunks in order without gaps, offset 0 starting
 *     over, a valid configuration with the last chunk only; snapshot_install:
 *     only after the whole stream of that snapshot was written, above the
 *     commit index, `keep` exactly when the log holds the snapshot's last
 *     entry with its term;
 *   - PreVote, CheckQuorum and reads (when the setup turns them on): a
 *     pre-vote request only from a pre-candidate, for its term + 1 and its
 *     own last entry; heartbeat rounds only from a leader; forwarded reads
 *     only from a follower to its leader; a read answered ok only by a
 *     leader, with an index within its commit index;
 *   - read: each accepted raft_read_index settles at most once per
 *     incarnation, with its own req pointer; status 0 only with the index
 *     applied (1 <= index <= applied), RAFT_ELEADERLOST with index 0;
 *   - every callback: mutating calls on the node return RAFT_EBUSY and
 *     raft_destroy is ignored.
 * Checked after every operation (raft_status, raft_progress, raft_entry_at):
 *   - the return code is one the function documents, RAFT_EPERSIST /
 *     RAFT_EAPPLY / RAFT_ENOMEM exactly when such a failure was injected
 *     during the call, and refusals (ENOTMEMBER, EBADMSG, ETOOBIG, ESTALE,
 *     ENOMEM, ENOTLEADER, EINVAL, ENOSPACE) leave the node unchanged and
 *     persist nothing; expected refusals (wrong recipient, non-member
 *     sender, stale term, proposal to a non-leader, oversized entries);
 *   - term never decreases; commit never decreases within an incarnation;
 *     commit <= last_index; applied <= commit; term and vote equal the
 *     persisted ones; the log equals the persisted log as the persistence
 *     contract defines it; a leader's log never shrinks while it stays
 *     leader of the same term; a leader has voted for itself and names
 *     itself leader; progress: match < next <= last + 1, inflight within
 *     max_inflight, snapshot_acked within the snapshot; the snapshot
 *     index is the host's, commit and applied at or above it, entries up
 *     to first_index - 1 compacted (RAFT_ECOMPACTED);
 *   - raft_compact: RAFT_EINVAL above the applied index or without the
 *     callbacks; otherwise the snapshot index and first_index move as the
 *     header says, and nothing else changes;
 *   - a snapshot chunk without the callbacks is refused with RAFT_EINVAL;
 *   - no leak: every block allocated through the hooks is freed by
 *     raft_destroy (at every restart and at the end);
 *   - membership: the configuration in force is the one the log says (the
 *     last configuration entry, else the snapshot's or the bootstrap
 *     list); a change's entry holds what raft.h's rules give; refusals
 *     (ECONFBUSY only while a change is in progress) change nothing; vote
 *     requests go to voters and a leader's messages to slots; only voters
 *     campaign; a TimeoutNow only to the transfer's caught-up target, its
 *     campaign a RequestVote with the transfer flag; RAFT_ETRANSFER from
 *     proposals and reads exactly during a transfer; a snapshot's last
 *     chunk carries the configuration the host recorded with it; a
 *     malformed configuration is refused with RAFT_EBADMSG.
 */
#include "fuzz.h"

#define MAX_VOTERS 5
#define MAX_IDS 8 /* ids 1..8: the bootstrap list, a joining node, others the
                     fuzzer adds with configuration changes */
#define MAX_HEARD 64
#define CFG_ELECTION 5
#define CFG_HEARTBEAT 1
#define CFG_MAX_ENTRIES 4
#define CFG_MAX_BYTES 128
#define CFG_INFLIGHT 2
#define MAX_BATCH 9
#define MSG_ENTRIES (CFG_MAX_ENTRIES + 2)
#define WIRE_ENTRIES 64

typedef unsigned long long ull;

struct dent {
    raft_term term;
    int type;
    uint8_t *buf;
    size_t len;
};

/* The simulated disk. e[i] is the entry at index base + 1 + i; base is 0
 * or the last entry of an installed snapshot (the host drops what the
 * snapshot covers then; after raft_compact it keeps its copies). The
 * node's log, as the persistence contract defines it, is e[0..known); a
 * failed write may leave more on the disk, which a restart restores. */
struct disk {
    raft_term term;
    raft_id vote;
    raft_index base;
    raft_term base_term; /* term of the entry at base, 0 if base is 0 */
    struct dent *e;
    size_t len, cap;
    size_t known;
};

/* A snapshot as the host keeps it, with the configuration at its index
 * (which the host works out from its log, as raft.h asks). */
struct hsnap {
    raft_index index; /* 0: none */
    raft_term term;
    uint8_t *data;
    size_t len;
    uint8_t *conf;
    size_t conf_len;
};

/* A decoded configuration. */
struct fconf {
    size_t n;
    raft_id id[255];
    uint8_t f[255];
    bool auto_leave;
};

/* The snapshot being received (snapshot_write). */
struct rx {
    bool active;
    raft_index index;
    raft_term term;
    uint8_t *data;
    size_t len, cap;
};

struct heap {
    size_t blocks;         /* outstanding */
    unsigned long fail_in; /* fail the fail_in-th next allocation, 0: off */
    bool hit;              /* an allocation failed during this call */
};

enum { K_TICK, K_STEP, K_PROPOSE, K_COMPACT, K_READ, K_CONF, K_TRANSFER };

#define MAX_READS 64 /* reads waiting in the node that the harness tracks */

struct world {
    unsigned settled_ticks;   /* see check_progress */
    struct raft *r;
    struct raft_config cfg;
    raft_id ids[MAX_VOTERS]; /* the bootstrap list */
    size_t n;
    raft_id self;
    bool joined; /* started with raft_join: not in the bootstrap list */
    uint8_t boot_conf[8 + 9 * MAX_VOTERS]; /* the bootstrap list, encoded */
    size_t boot_conf_len;                  /* 0 for a joined node */
    uint8_t *base_conf; /* the configuration of the snapshot at the disk's
                           base (installed), when the base is not 0 */
    size_t base_conf_len;
    raft_id heard[MAX_HEARD]; /* senders of messages stepped (a node may
                                 answer any of them) */
    raft_id departed[MAX_IDS + 1]; /* ids a change removed while the node
                                      led, which kept a slot (cleared at a
                                      restart) */
    size_t n_departed;
    size_t n_heard;
    bool heard_full;
    /* A leadership transfer the node took (0: none). */
    raft_id xfer_to;
    raft_term xfer_term;
    bool conf_mode;      /* building a message of the membership ops:
                            configurations and ids beyond the bootstrap
                            list from the input */
    bool in_timeout_now; /* stepping a TimeoutNow */
    raft_id vote_from;   /* stepping a vote or pre-vote request from it */
    bool in_last_chunk;  /* stepping the last chunk of a snapshot */
    /* Configurations of the messages built (alive until stepped). */
    uint8_t msg_conf[FZ_CONF_MAX + 1];
    uint8_t ent_conf[MSG_ENTRIES][8 + 9 * MAX_IDS];
    struct disk d;
    struct heap h;
    bool snap_cbs;   /* the snapshot callbacks are set */
    bool near_end;   /* started near the end of the index space (fuzz.h,
                        FZ_NEAR_END): bulk AppendEntries on */
    struct hsnap hs, hs_prev; /* the host's latest snapshot and the one
                                 before it (still readable) */
    size_t snap_len_max; /* the largest snapshot the host ever held (a
                            leader may go on streaming one it dropped) */
    struct rx rx;
    /* Armed failures: the k-th next call fails (0: off). */
    unsigned fail_state, fail_entries, fail_send, fail_apply;
    unsigned fail_read, fail_write, fail_install;
    uint8_t partial; /* what a failed persist_entries leaves on disk */
    /* Observed during the current call. */
    unsigned persist_calls;
    bool hit_persist, hit_apply;
    bool einval_ok; /* RAFT_EINVAL is the expected answer to this step */
    /* Reads accepted and not yet settled (this incarnation), by number;
     * a read's req pointer is its number. */
    uint64_t read_ids[MAX_READS];
    size_t n_reads;
    uint64_t next_read;
    /* Current incarnation. */
    raft_index applied;
    raft_index check_from; /* log compared with the disk from here on */
};

static const uint8_t zeros[FZ_CONF_MAX + 1];

/* FUZZ_TRACE=1 in the environment prints every operation's result (for
 * reading a crash input: build/fuzz/fuzz_node crash-...). */
static size_t trace_size; /* the input's size, for the trace's offsets */

static bool tracing(void)
{
    static int on = -1;
    if (on < 0) {
        on = getenv("FUZZ_TRACE") != NULL;
    }
    return on;
}

/* ---- helpers ------------------------------------------------------------- */

static bool fire(unsigned *k)
{
    return *k != 0 && --*k == 0;
}

/* An id the node may know: one of ids 1..MAX_IDS, or a sender it heard. */
static bool is_known(const struct world *w, raft_id id)
{
    size_t i;
    if (id >= 1 && id <= MAX_IDS) {
        return true;
    }
    for (i = 0; i < w->n_heard; i++) {
        if (w->heard[i] == id) {
            return true;
        }
    }
    return w->heard_full && id != 0;
}

static void heard_from(struct world *w, raft_id id)
{
    if (is_known(w, id) || id == 0) {
        return;
    }
    if (w->n_heard == MAX_HEARD) {
        w->heard_full = true;
        return;
    }
    w->heard[w->n_heard++] = id;
}

static bool is_peer(const struct world *w, raft_id id)
{
    return id != w->self && id != 0 && is_known(w, id);
}

/* ---- configurations --------------------------------------------------- */

static void conf_parse(const uint8_t *b, size_t len, struct fconf *c)
{
    size_t n = 0, i;
    memset(c, 0, sizeof(*c));
    if (len == 0) {
        return; /* none: a node that joined and has not learnt one */
    }
    FZ_CHECK(fz_conf_ref(b, len, &n) == 0, "invalid configuration of %zu bytes",
             len);
    c->n = n;
    c->auto_leave = (b[1] & 1) != 0;
    for (i = 0; i < n; i++) {
        c->id[i] = fz_rd64(b + 8 + 9 * i);
        c->f[i] = b[8 + 9 * i + 8];
    }
}

/* Flags of id in c (0: not a member). */
static unsigned conf_flags(const struct fconf *c, raft_id id)
{
    size_t i;
    for (i = 0; i < c->n; i++) {
        if (c->id[i] == id) {
            return c->f[i];
        }
    }
    return 0;
}

static bool conf_joint(const struct fconf *c)
{
    size_t i;
    for (i = 0; i < c->n; i++) {
        if (c->f[i] & RAFT_MEMBER_OUTGOING) {
            return true;
        }
    }
    return false;
}

/* Same members with the same flags, in any order. */
static bool conf_same(const struct fconf *a, const struct fconf *b)
{
    size_t i;
    if (a->n != b->n || a->auto_leave != b->auto_leave) {
        return false;
    }
    for (i = 0; i < a->n; i++) {
        if (conf_flags(b, a->id[i]) != a->f[i]) {
            return false;
        }
    }
    return true;
}

static size_t conf_encode(const struct fconf *c, uint8_t *out)
{
    size_t i, k;
    out[0] = 1;
    out[1] = c->auto_leave ? 1 : 0;
    out[2] = out[3] = 0;
    for (k = 0; k < 4; k++) {
        out[4 + k] = (uint8_t)(c->n >> (8 * k));
    }
    for (i = 0; i < c->n; i++) {
        for (k = 0; k < 8; k++) {
            out[8 + 9 * i + k] = (uint8_t)(c->id[i] >> (8 * k));
        }
        out[8 + 9 * i + 8] = c->f[i];
    }
    return 8 + 9 * c->n;
}

/* The configuration in force on the node, by raft_conf(). */
static void node_conf(const struct world *w, struct fconf *c)
{
    static struct raft_member mem[256];
    size_t n = 0, i;
    int rc = raft_conf(w->r, mem, 256, &n);
    FZ_CHECK(rc == 0 && n <= 255, "raft_conf gave %d, %zu members", rc, n);
    memset(c, 0, sizeof(*c));
    c->n = n;
    for (i = 0; i < n; i++) {
        c->id[i] = mem[i].id;
        c->f[i] = (uint8_t)mem[i].flags;
    }
}

/* Does the node hold a slot for id (a member of its configuration, or on a
 * leader a member a change removed, until that change commits)? A
 * follower may still hold one from when it led: not observable, so any id
 * removed then counts. */
static bool has_slot(const struct world *w, raft_id id)
{
    struct raft_progress p;
    struct fconf c;
    size_t i;
    if (raft_role(w->r) == RAFT_LEADER) {
        for (i = 0; raft_progress(w->r, i, &p) == 0; i++) {
            if (p.id == id) {
                return true;
            }
        }
        return false;
    }
    for (i = 0; i < w->n_departed; i++) {
        if (w->departed[i] == id) {
            return true;
        }
    }
    node_conf(w, &c);
    return conf_flags(&c, id) != 0;
}

/* A leader that the committed configuration leaves out of the voters may
 * hand over on its own (raft__conf_tick): a transfer the host did not ask
 * for. */
static bool may_self_transfer(const struct raft_status *st)
{
    return st->role == RAFT_LEADER && !st->is_voter;
}

/* A valid configuration from the input: members among ids 1..MAX_IDS
 * (byte 0 the set, 0: one voter), two bits of flags each from the
 * documented combinations (byte 1 and 2), at least one voter, auto-leave
 * (byte 3 bit 0) only when joint. Returns the length. */
static size_t build_conf(struct fz *in, uint8_t *out)
{
    static const uint8_t combos[] = {RAFT_MEMBER_VOTER, RAFT_MEMBER_LEARNER,
                                     RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING,
                                     RAFT_MEMBER_OUTGOING,
                                     RAFT_MEMBER_LEARNER | RAFT_MEMBER_OUTGOING,
                                     RAFT_MEMBER_VOTER, RAFT_MEMBER_VOTER,
                                     RAFT_MEMBER_VOTER};
    struct fconf c;
    uint8_t set = fz_u8(in);
    uint32_t fl = fz_u16(in) | (uint32_t)fz_u8(in) << 16;
    uint8_t x = fz_u8(in);
    size_t i;
    bool voter = false;
    memset(&c, 0, sizeof(c));
    for (i = 0; i < MAX_IDS; i++) {
        if (set & (1u << i)) {
            c.id[c.n] = i + 1;
            c.f[c.n] = combos[(fl >> (3 * i)) & 7];
            voter |= (c.f[c.n] & RAFT_MEMBER_VOTER) != 0;
            c.n++;
        }
    }
    if (!voter) {
        c.id[c.n] = 1 + (x >> 4) % MAX_IDS;
        for (i = 0; i < c.n && c.id[i] != c.id[c.n]; i++) {
        }
        c.f[i] = RAFT_MEMBER_VOTER | (c.f[i] & RAFT_MEMBER_OUTGOING);
        if (i == c.n) {
            c.n++;
        }
    }
    c.auto_leave = (x & 1) && conf_joint(&c);
    return conf_encode(&c, out);
}

/* Index of the node's last entry per the disk. */
static raft_index dlast(const struct world *w)
{
    return w->d.base + w->d.known;
}

/* Disk entry at idx, base < idx <= base + len. */
static struct dent *dent_at(const struct world *w, raft_index idx)
{
    FZ_CHECK(idx > w->d.base && idx - w->d.base <= w->d.len,
             "entry %llu not on the disk (base %llu, %zu entries)", (ull)idx,
             (ull)w->d.base, w->d.len);
    return &w->d.e[idx - w->d.base - 1];
}

/* Term of the node's entry at idx per the disk, 0 if none or unknown
 * (below the disk's base, for building messages only). */
static raft_term lterm(const struct world *w, raft_index idx)
{
    if (idx == 0 || idx > dlast(w) || idx < w->d.base) {
        return 0;
    }
    return idx == w->d.base ? w->d.base_term : dent_at(w, idx)->term;
}

/* The same where the node's own messages name idx: it must be known. */
static raft_term lterm_known(const struct world *w, raft_index idx)
{
    FZ_CHECK(idx == 0 || idx >= w->d.base, "index %llu below the disk's base %llu",
             (ull)idx, (ull)w->d.base);
    return lterm(w, idx);
}

static bool dent_eq(const struct dent *d, const struct raft_entry *e)
{
    return d->term == e->term && d->type == e->type && d->len == e->len &&
           (e->len == 0 || memcmp(d->buf, e->buf, e->len) == 0);
}

static void disk_truncate(struct disk *d, size_t len)
{
    while (d->len > len) {
        free(d->e[--d->len].buf);
    }
}

/* Drop the first k entries: the base moves to the last of them. */
static void disk_drop_prefix(struct disk *d, size_t k)
{
    size_t i;
    FZ_CHECK(k <= d->len && k <= d->known, "dropping %zu of %zu entries", k, d->len);
    if (k == 0) {
        return;
    }
    d->base_term = d->e[k - 1].term;
    d->base += k;
    for (i = 0; i < k; i++) {
        free(d->e[i].buf);
    }
    memmove(d->e, d->e + k, (d->len - k) * sizeof(*d->e));
    d->len -= k;
    d->known -= k;
}

static void hsnap_free(struct hsnap *h)
{
    free(h->data);
    free(h->conf);
    memset(h, 0, sizeof(*h));
}

/* The host takes a new snapshot, with the configuration at its index; the
 * previous one stays readable. */
static void hsnap_push(struct world *w, raft_index index, raft_term term,
                       const uint8_t *data, size_t len, const uint8_t *conf,
                       size_t conf_len)
{
    hsnap_free(&w->hs_prev);
    w->hs_prev = w->hs;
    w->hs.index = index;
    w->hs.term = term;
    w->hs.data = fz_dup(data, len);
    w->hs.len = len;
    w->hs.conf = fz_dup(conf, conf_len);
    w->hs.conf_len = conf_len;
    if (len > w->snap_len_max) {
        w->snap_len_max = len;
    }
}

/* The configuration in force at idx (base <= idx <= the disk's end), as a
 * host works it out: the last configuration entry at or below idx, else
 * the one at the disk's base (the installed snapshot's, or the bootstrap
 * list). *at: the entry's index, or the base. */
static const uint8_t *conf_at(const struct world *w, raft_index idx, size_t *len,
                              raft_index *at)
{
    raft_index i;
    FZ_CHECK(idx >= w->d.base && idx - w->d.base <= w->d.len,
             "configuration at %llu asked, disk %llu + %zu", (ull)idx,
             (ull)w->d.base, w->d.len);
    /* Bounded by the disk's entries. */
    for (i = idx; i > w->d.base; i--) {
        const struct dent *e = &w->d.e[i - w->d.base - 1];
        if (e->type == RAFT_ENTRY_CONFIG) {
            *len = e->len;
            *at = i;
            return e->buf;
        }
    }
    *at = w->d.base;
    if (w->d.base == 0) {
        *len = w->boot_conf_len;
        return w->boot_conf;
    }
    *len = w->base_conf_len;
    return w->base_conf;
}

/* Undo hsnap_push (the node refused the compaction). */
static void hsnap_pop(struct world *w)
{
    hsnap_free(&w->hs);
    w->hs = w->hs_prev;
    memset(&w->hs_prev, 0, sizeof(w->hs_prev));
}

static const struct hsnap *hsnap_find(const struct world *w, raft_index index)
{
    if (w->hs.index != 0 && w->hs.index == index) {
        return &w->hs;
    }
    if (w->hs_prev.index != 0 && w->hs_prev.index == index) {
        return &w->hs_prev;
    }
    return NULL;
}

static void disk_append(struct disk *d, raft_term term, int type,
                        const void *buf, size_t len)
{
    struct dent *e;
    if (d->len == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 16;
        d->e = realloc(d->e, d->cap * sizeof(*d->e));
        FZ_CHECK(d->e != NULL, "out of memory");
    }
    e = &d->e[d->len++];
    e->term = term;
    e->type = type;
    e->len = len;
    e->buf = fz_dup(buf, len);
}

static bool heap_fail(struct heap *h)
{
    if (h->fail_in != 0 && --h->fail_in == 0) {
        h->hit = true;
        return true;
    }
    return false;
}

static void *h_alloc(void *ctx, size_t size)
{
    struct heap *h = ctx;
    void *p;
    if (heap_fail(h)) {
        return NULL;
    }
    p = malloc(size);
    FZ_CHECK(p != NULL, "out of memory (%zu bytes)", size);
    h->blocks++;
    return p;
}

static void *h_realloc(void *ctx, void *ptr, size_t size)
{
    struct heap *h = ctx;
    void *p;
    if (heap_fail(h)) {
        return NULL;
    }
    p = realloc(ptr, size);
    FZ_CHECK(p != NULL, "out of memory (%zu bytes)", size);
    if (ptr == NULL) {
        h->blocks++;
    }
    return p;
}

static void h_free(void *ctx, void *ptr)
{
    struct heap *h = ctx;
    FZ_CHECK(ptr != NULL, "free(ctx, NULL) called");
    FZ_CHECK(h->blocks > 0, "more blocks freed than allocated");
    h->blocks--;
    free(ptr);
}

/* ---- callbacks -------------------------------------------------------------- */

static void check_reentry(struct world *w, struct raft *r)
{
    struct raft_msg m;
    FZ_CHECK(r == w->r, "callback from an unknown node");
    memset(&m, 0, sizeof(m));
    FZ_CHECK(raft_tick(r) == RAFT_EBUSY, "raft_tick inside a callback");
    FZ_CHECK(raft_step(r, &m) == RAFT_EBUSY, "raft_step inside a callback");
    FZ_CHECK(raft_propose(r, NULL, 0, NULL) == RAFT_EBUSY,
             "raft_propose inside a callback");
    raft_destroy(r); /* must be ignored */
}

static int cb_persist_state(struct raft *r, void *ctx, raft_term term, raft_id vote)
{
    struct world *w = ctx;
    struct raft_status st;
    check_reentry(w, r);
    raft_status(r, &st);
    w->persist_calls++;
    FZ_CHECK(term >= 1 && term >= w->d.term, "persist_state term %llu after %llu",
             (ull)term, (ull)w->d.term);
    FZ_CHECK(term != w->d.term || w->d.vote == 0 || vote == w->d.vote,
             "vote of term %llu changed from %llu to %llu", (ull)term,
             (ull)w->d.vote, (ull)vote);
    FZ_CHECK(vote == 0 || vote == w->self || is_known(w, vote),
             "vote for %llu, never heard of", (ull)vote);
    FZ_CHECK(st.term == w->d.term && st.vote == w->d.vote,
             "node adopted term %llu vote %llu before persisting them",
             (ull)st.term, (ull)st.vote);
    if (fire(&w->fail_state)) {
        w->hit_persist = true;
        return -1;
    }
    w->d.term = term;
    w->d.vote = vote;
    return 0;
}

static int cb_persist_entries(struct raft *r, void *ctx, raft_index first,
                              const struct raft_entry *ents, size_t n)
{
    struct world *w = ctx;
    struct disk *d = &w->d;
    struct raft_status st;
    raft_term prev;
    size_t i, pos;
    check_reentry(w, r);
    raft_status(r, &st);
    w->persist_calls++;
    /* A follower stores what a leader sent, which may exceed its own
     * sending limits (MSG_ENTRIES is the most this harness sends, but for
     * bulk messages). */
    FZ_CHECK(n >= 1 && ents != NULL &&
                 n <= (w->near_end ? FZ_BULK_MAX : MSG_ENTRIES),
             "persist_entries of %zu entries", n);
    FZ_CHECK(first > st.commit, "persist_entries at %llu rewrites committed "
             "entries (commit %llu)", (ull)first, (ull)st.commit);
    FZ_CHECK(first > d->base && first <= dlast(w) + 1, "persist_entries at %llu "
             "outside the log after %llu (last %llu)", (ull)first,
             (ull)d->base, (ull)dlast(w));
    /* Entries end at UINT64_MAX - 1 (raft.h): the last is first + n - 1. */
    FZ_CHECK(n <= UINT64_MAX - first, "persist_entries of %zu at %llu passes "
             "the end of the index space", n, (ull)first);
    FZ_CHECK(st.role != RAFT_LEADER || first == dlast(w) + 1,
             "leader rewrites its own log from %llu (log ends at %llu)",
             (ull)first, (ull)dlast(w));
    pos = (size_t)(first - 1 - d->base); /* entries kept before first */
    prev = lterm_known(w, first - 1);
    for (i = 0; i < n; i++) {
        const struct raft_entry *e = &ents[i];
        FZ_CHECK(e->term >= 1 && e->term >= prev && e->term <= d->term,
                 "entry %llu has term %llu after %llu (persisted term %llu)",
                 (ull)(first + i), (ull)e->term, (ull)prev, (ull)d->term);
        FZ_CHECK(e->type == RAFT_ENTRY_COMMAND || e->type == RAFT_ENTRY_NOOP ||
                     e->type == RAFT_ENTRY_CONFIG,
                 "entry type %d", e->type);
        /* A configuration entry may exceed max_msg_bytes: it is the whole
         * configuration. */
        FZ_CHECK((e->buf != NULL || e->len == 0) &&
                     (e->len <= CFG_MAX_BYTES || e->type == RAFT_ENTRY_CONFIG),
                 "entry payload %p, %zu bytes", e->buf, e->len);
        if (e->type == RAFT_ENTRY_CONFIG) {
            size_t members;
            FZ_CHECK(fz_conf_ref(e->buf, e->len, &members) == 0,
                     "entry %llu: an invalid configuration of %zu bytes",
                     (ull)(first + i), e->len);
        }
        prev = e->term;
    }
    if (first < w->check_from) {
        w->check_from = first;
    }
    if (fire(&w->fail_entries)) {
        /* A failed write may leave part of the new entries or part of the
         * old tail, as raft_persist_entries_cb allows. */
        size_t k = w->partial / 3;
        w->hit_persist = true;
        switch (w->partial % 3) {
        case 0:
            disk_truncate(d, pos);
            break;
        case 1:
            disk_truncate(d, pos);
            for (i = 0; i < k % (n + 1); i++) {
                disk_append(d, ents[i].term, ents[i].type, ents[i].buf, ents[i].len);
            }
            break;
        default:
            disk_truncate(d, pos + k % (d->len - pos + 1));
            break;
        }
        d->known = pos;
        return -1;
    }
    disk_truncate(d, pos);
    for (i = 0; i < n; i++) {
        disk_append(d, ents[i].term, ents[i].type, ents[i].buf, ents[i].len);
    }
    d->known = d->len;
    return 0;
}

/* Every message a node sends must survive the wire. */
static void check_encodes(const struct raft_msg *m)
{
    static uint8_t buf[64 + CFG_MAX_BYTES + FZ_CONF_MAX +
                       CFG_MAX_ENTRIES * (16 + FZ_CONF_MAX)];
    struct raft_entry ents[MSG_ENTRIES];
    struct raft_msg back;
    size_t len = 0;
    int rc = raft_msg_encode(m, buf, sizeof(buf), &len);
    FZ_CHECK(rc == 0, "sent message does not encode: %d", rc);
    rc = raft_msg_decode(buf, len, NULL, &back, ents, MSG_ENTRIES);
    FZ_CHECK(rc == 0 && fz_msg_eq(m, &back), "sent message does not round-trip: %d", rc);
}

static int cb_send(struct raft *r, void *ctx, const struct raft_msg *m)
{
    struct world *w = ctx;
    struct raft_status st;
    size_t i, bytes = 0;
    check_reentry(w, r);
    raft_status(r, &st);
    FZ_CHECK(m != NULL, "NULL message");
    {
        /* To a node heard of or in a configuration the node took; requests
         * of an election to voters, a leader's to members, of the
         * configuration in force; a TimeoutNow to the transfer's target,
         * once it holds the leader's whole log. */
        struct fconf c;
        unsigned f;
        node_conf(w, &c);
        f = conf_flags(&c, m->to);
        FZ_CHECK(m->from == w->self &&
                     (is_peer(w, m->to) ||
                      (m->to != w->self && (f != 0 || has_slot(w, m->to)))),
                 "message %llu -> %llu", (ull)m->from, (ull)m->to);
        if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE) {
            FZ_CHECK((f & (RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING)) != 0,
                     "vote request (type %d) to %llu, flags %u", m->type,
                     (ull)m->to, f);
            FZ_CHECK(m->type == RAFT_MSG_VOTE || !m->u.vote.transfer,
                     "a pre-vote with the transfer flag");
            FZ_CHECK(!w->in_timeout_now || (m->type == RAFT_MSG_VOTE &&
                                            m->u.vote.transfer),
                     "campaign on a TimeoutNow: type %d, transfer %d", m->type,
                     m->u.vote.transfer);
        } else if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAPSHOT ||
                   m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_TIMEOUT_NOW) {
            /* To a node with no slot only in answer to its vote request:
             * an empty AppendEntries telling it the configuration in force
             * (which leaves it out) committed. */
            bool tells = m->type == RAFT_MSG_APPEND && w->vote_from == m->to &&
                         m->u.append.n_entries == 0 &&
                         m->u.append.commit == m->u.append.prev_index &&
                         m->u.append.prev_index >= 1 &&
                         m->u.append.prev_index <= st.commit &&
                         st.conf_index <= st.commit && f == 0;
            FZ_CHECK(st.role == RAFT_LEADER && (has_slot(w, m->to) || tells),
                     "leader's message (type %d) to %llu, not a member (role %d)",
                     m->type, (ull)m->to, st.role);
        }
        if (m->type == RAFT_MSG_TIMEOUT_NOW) {
            struct raft_progress pr;
            size_t i;
            if (w->xfer_to == 0 && may_self_transfer(&st)) {
                w->xfer_to = m->to; /* the node's own hand-over */
                w->xfer_term = st.term;
            }
            FZ_CHECK(st.role == RAFT_LEADER && w->xfer_to == m->to &&
                         w->xfer_term == st.term &&
                         (f & (RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING)) != 0,
                     "TimeoutNow to %llu by role %d, transfer to %llu in term %llu",
                     (ull)m->to, st.role, (ull)w->xfer_to, (ull)w->xfer_term);
            for (i = 0; raft_progress(r, i, &pr) == 0 && pr.id != m->to; i++) {
            }
            FZ_CHECK(pr.id == m->to && pr.match == st.last_index,
                     "TimeoutNow to %llu, its match %llu, the log ends at %llu",
                     (ull)m->to, (ull)pr.match, (ull)st.last_index);
        }
    }
    if (m->type == RAFT_MSG_PREVOTE) {
        /* Asks about the next term, which nothing persisted yet. */
        FZ_CHECK(st.role == RAFT_PRECANDIDATE && m->term == st.term + 1 &&
                     st.term == w->d.term && m->u.vote.last_index == dlast(w) &&
                     m->u.vote.last_term == lterm(w, dlast(w)),
                 "pre-vote request of term %llu by role %d at term %llu, "
                 "naming (%llu, %llu)", (ull)m->term, st.role, (ull)st.term,
                 (ull)m->u.vote.last_index, (ull)m->u.vote.last_term);
    } else if (m->type == RAFT_MSG_PREVOTE_RESP) {
        /* A grant carries the term asked about, a refusal ours. */
        FZ_CHECK(m->u.vote_resp.granted ? m->term >= st.term : m->term == st.term,
                 "pre-vote reply (granted %d) of term %llu at term %llu",
                 m->u.vote_resp.granted, (ull)m->term, (ull)st.term);
        FZ_CHECK(m->u.vote_resp.last_index == st.last_index &&
                     m->u.vote_resp.last_term == st.last_term,
                 "pre-vote reply names (%llu, %llu), log ends at (%llu, %llu)",
                 (ull)m->u.vote_resp.last_index, (ull)m->u.vote_resp.last_term,
                 (ull)st.last_index, (ull)st.last_term);
    } else {
        FZ_CHECK(m->term == w->d.term && m->term == st.term,
                 "message of term %llu, persisted term %llu, node term %llu",
                 (ull)m->term, (ull)w->d.term, (ull)st.term);
    }
    switch (m->type) {
    case RAFT_MSG_PREVOTE:
    case RAFT_MSG_PREVOTE_RESP:
    case RAFT_MSG_TIMEOUT_NOW:
        break;
    case RAFT_MSG_HEARTBEAT:
        FZ_CHECK(st.role == RAFT_LEADER && m->u.heartbeat.round >= 1,
                 "heartbeat round %llu by role %d", (ull)m->u.heartbeat.round,
                 st.role);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        /* Any round, or 0 answering a round of an older term. */
        break;
    case RAFT_MSG_READ:
        FZ_CHECK(st.role == RAFT_FOLLOWER && st.leader == m->to &&
                     m->u.read.id >= 1,
                 "read %llu forwarded to %llu by role %d following %llu",
                 (ull)m->u.read.id, (ull)m->to, st.role, (ull)st.leader);
        break;
    case RAFT_MSG_READ_RESP:
        FZ_CHECK(m->u.read.id >= 1 &&
                     (m->u.read.ok ? st.role == RAFT_LEADER && m->u.read.index >= 1 &&
                                         m->u.read.index <= st.commit
                                   : m->u.read.index == 0),
                 "read %llu answered (ok %d, index %llu) by role %d, commit %llu",
                 (ull)m->u.read.id, m->u.read.ok, (ull)m->u.read.index, st.role,
                 (ull)st.commit);
        break;
    case RAFT_MSG_VOTE:
        FZ_CHECK(st.role == RAFT_CANDIDATE && w->d.vote == w->self,
                 "vote request by role %d with persisted vote %llu", st.role,
                 (ull)w->d.vote);
        FZ_CHECK(m->u.vote.last_index == dlast(w) &&
                     m->u.vote.last_term == lterm(w, dlast(w)),
                 "vote request names (%llu, %llu), log ends at (%llu, %llu)",
                 (ull)m->u.vote.last_index, (ull)m->u.vote.last_term,
                 (ull)dlast(w), (ull)lterm(w, dlast(w)));
        break;
    case RAFT_MSG_VOTE_RESP:
        FZ_CHECK(!m->u.vote_resp.granted || w->d.vote == m->to,
                 "vote granted to %llu, persisted vote %llu", (ull)m->to,
                 (ull)w->d.vote);
        FZ_CHECK(m->u.vote_resp.last_index == st.last_index &&
                     m->u.vote_resp.last_term == st.last_term,
                 "vote reply names (%llu, %llu), log ends at (%llu, %llu)",
                 (ull)m->u.vote_resp.last_index, (ull)m->u.vote_resp.last_term,
                 (ull)st.last_index, (ull)st.last_term);
        break;
    case RAFT_MSG_APPEND: {
        const struct raft_msg_append *a = &m->u.append;
        FZ_CHECK(st.role == RAFT_LEADER, "AppendEntries sent by role %d", st.role);
        FZ_CHECK(a->prev_index >= st.first_index - 1 && a->prev_index <= dlast(w) &&
                     a->prev_term == lterm_known(w, a->prev_index),
                 "AppendEntries prev (%llu, %llu) not in the persisted log "
                 "(first %llu)", (ull)a->prev_index, (ull)a->prev_term,
                 (ull)st.first_index);
        FZ_CHECK(a->n_entries <= CFG_MAX_ENTRIES && (a->n_entries == 0 || a->entries),
                 "AppendEntries with %zu entries", a->n_entries);
        FZ_CHECK(a->n_entries <= dlast(w) - a->prev_index, /* no wrap */
                 "AppendEntries sends unpersisted entries up to %llu (log %llu)",
                 (ull)(a->prev_index + a->n_entries), (ull)dlast(w));
        for (i = 0; i < a->n_entries; i++) {
            FZ_CHECK(dent_eq(dent_at(w, a->prev_index + 1 + i), &a->entries[i]),
                     "AppendEntries entry %llu differs from the log",
                     (ull)(a->prev_index + i + 1));
            bytes += a->entries[i].len;
        }
        FZ_CHECK(bytes <= CFG_MAX_BYTES || a->n_entries == 1,
                 "AppendEntries with %zu payload bytes", bytes);
        FZ_CHECK(a->commit <= st.commit, "AppendEntries commit %llu > %llu",
                 (ull)a->commit, (ull)st.commit);
        break;
    }
    case RAFT_MSG_APPEND_RESP: {
        const struct raft_msg_append_resp *a = &m->u.append_resp;
        if (a->success) {
            FZ_CHECK(a->index <= dlast(w), "acknowledges %llu, persisted %llu",
                     (ull)a->index, (ull)dlast(w));
        } else {
            FZ_CHECK(a->hint_index <= a->index && a->hint_index <= dlast(w) &&
                         a->hint_term == lterm_known(w, a->hint_index),
                     "rejection hint (%llu, %llu) for %llu", (ull)a->hint_index,
                     (ull)a->hint_term, (ull)a->index);
        }
        break;
    }
    case RAFT_MSG_SNAPSHOT: {
        const struct raft_msg_snapshot *sn = &m->u.snapshot;
        const struct hsnap *h = hsnap_find(w, sn->index);
        FZ_CHECK(st.role == RAFT_LEADER && w->snap_cbs,
                 "snapshot chunk sent by role %d", st.role);
        FZ_CHECK(h != NULL && sn->index_term == h->term,
                 "chunk of snapshot (%llu, %llu), the host holds %llu and %llu",
                 (ull)sn->index, (ull)sn->index_term, (ull)w->hs.index,
                 (ull)w->hs_prev.index);
        FZ_CHECK(sn->len <= CFG_MAX_BYTES && sn->offset <= h->len &&
                     sn->len <= h->len - sn->offset &&
                     (sn->len == 0 ||
                      memcmp(sn->data, h->data + sn->offset, sn->len) == 0),
                 "chunk %llu+%zu differs from the snapshot's %zu bytes",
                 (ull)sn->offset, sn->len, h->len);
        FZ_CHECK(sn->last == (sn->offset + sn->len == h->len),
                 "chunk %llu+%zu of %zu bytes: last %d", (ull)sn->offset,
                 sn->len, h->len, sn->last);
        /* The last chunk carries the configuration at the snapshot's
         * index, the one the host keeps with it; the others none. */
        FZ_CHECK(sn->last ? sn->conf_len == h->conf_len && sn->conf != NULL &&
                                memcmp(sn->conf, h->conf, h->conf_len) == 0
                          : sn->conf_len == 0,
                 "chunk %llu+%zu of snapshot %llu (last %d) with a %zu-byte "
                 "configuration, the host's has %zu bytes", (ull)sn->offset,
                 sn->len, (ull)sn->index, sn->last, sn->conf_len, h->conf_len);
        break;
    }
    case RAFT_MSG_SNAPSHOT_RESP: {
        const struct raft_msg_snapshot_resp *a = &m->u.snapshot_resp;
        FZ_CHECK(a->index > 0, "snapshot reply for index 0");
        if (a->done) {
            FZ_CHECK(a->index <= st.commit &&
                         (a->offset == 0 ||
                          (a->index == w->hs.index && a->offset == w->hs.len)),
                     "done for %llu at %llu, commit %llu, snapshot %llu of %zu "
                     "bytes", (ull)a->index, (ull)a->offset, (ull)st.commit,
                     (ull)w->hs.index, w->hs.len);
        } else {
            FZ_CHECK(a->offset == 0 || (w->rx.active && a->index == w->rx.index &&
                                        a->offset == w->rx.len),
                     "snapshot reply for %llu expects byte %llu, the host has "
                     "%zu bytes of %llu", (ull)a->index, (ull)a->offset,
                     w->rx.active ? w->rx.len : 0, (ull)w->rx.index);
        }
        break;
    }
    default:
        FZ_CHECK(false, "message type %d", m->type);
    }
    check_encodes(m);
    if (tracing()) {
        fprintf(stderr, "  send %d -> %llu term %llu", m->type, (ull)m->to,
                (ull)m->term);
        if (m->type == RAFT_MSG_SNAPSHOT) {
            fprintf(stderr, ": chunk of %llu at %llu, %zu bytes%s",
                    (ull)m->u.snapshot.index, (ull)m->u.snapshot.offset,
                    m->u.snapshot.len, m->u.snapshot.last ? ", last" : "");
        } else if (m->type == RAFT_MSG_SNAPSHOT_RESP) {
            fprintf(stderr, ": %llu expects %llu%s", (ull)m->u.snapshot_resp.index,
                    (ull)m->u.snapshot_resp.offset,
                    m->u.snapshot_resp.done ? ", done" : "");
        }
        fputc('\n', stderr);
    }
    return fire(&w->fail_send) ? -1 : 0;
}

static int cb_apply(struct raft *r, void *ctx, raft_index index,
                    const struct raft_entry *e)
{
    struct world *w = ctx;
    struct raft_status st;
    check_reentry(w, r);
    raft_status(r, &st);
    FZ_CHECK(index == w->applied + 1, "applied %llu after %llu", (ull)index,
             (ull)w->applied);
    FZ_CHECK(index <= st.commit && index <= dlast(w),
             "applied %llu, commit %llu, log %llu", (ull)index, (ull)st.commit,
             (ull)dlast(w));
    FZ_CHECK(e != NULL && dent_eq(dent_at(w, index), e),
             "applied entry %llu differs from the persisted one", (ull)index);
    if (fire(&w->fail_apply)) {
        w->hit_apply = true;
        return -1;
    }
    w->applied = index;
    return 0;
}

static void cb_event(struct raft *r, void *ctx, const struct raft_event *ev)
{
    struct world *w = ctx;
    check_reentry(w, r);
    FZ_CHECK(ev != NULL && ev->type >= RAFT_EVENT_ROLE &&
                 ev->type <= RAFT_EVENT_TRANSFER_ABORTED,
             "event type %d", ev ? ev->type : 0);
    if (ev->type == RAFT_EVENT_TRANSFER_ABORTED) {
        struct raft_status st;
        raft_status(r, &st);
        /* A leader no longer a voter whose hand-over failed steps down in
         * the same tick. */
        FZ_CHECK((st.role == RAFT_LEADER &&
                  ((w->xfer_to != 0 && st.term == w->xfer_term) ||
                   may_self_transfer(&st))) ||
                     (st.role == RAFT_FOLLOWER && !st.is_voter),
                 "transfer aborted, none under way (to %llu in term %llu)",
                 (ull)w->xfer_to, (ull)w->xfer_term);
        w->xfer_to = 0;
    }
    FZ_CHECK(ev->term == raft_current_term(r) && ev->role == raft_role(r),
             "event %d says term %llu role %d", ev->type, (ull)ev->term, ev->role);
    /* A vote request ignored under stickiness is the one rejection that
     * raft_step answers with 0. */
    FZ_CHECK(ev->type != RAFT_EVENT_MSG_REJECTED || ev->error < 0 ||
                 (ev->error == 0 && !w->cfg.disable_check_quorum),
             "rejection without an error code");
}

static void cb_read(struct raft *r, void *ctx, void *req, raft_index index,
                    int status)
{
    struct world *w = ctx;
    struct raft_status st;
    uint64_t id = (uint64_t)(uintptr_t)req;
    size_t k;
    check_reentry(w, r);
    raft_status(r, &st);
    for (k = 0; k < w->n_reads && w->read_ids[k] != id; k++) {
    }
    FZ_CHECK(k < w->n_reads, "read %llu settled but not pending", (ull)id);
    w->read_ids[k] = w->read_ids[--w->n_reads];
    FZ_CHECK(status == 0 ? index >= 1 && index <= st.applied
                         : status == RAFT_ELEADERLOST && index == 0,
             "read %llu settled with %d at index %llu, applied %llu", (ull)id,
             status, (ull)index, (ull)st.applied);
}

/* ---- snapshot callbacks ----------------------------------------------------- */

/* The configuration comes with the last chunk (and the installation),
 * valid; raft_step refuses a last chunk without one. */
static void check_meta(const struct world *w, const struct raft_snapshot_meta *meta,
                       bool with_conf)
{
    size_t n;
    FZ_CHECK(meta != NULL && meta->index > 0 && meta->term > 0 &&
                 meta->term <= w->d.term,
             "snapshot meta (%llu, %llu) at term %llu", meta ? (ull)meta->index : 0,
             meta ? (ull)meta->term : 0, (ull)w->d.term);
    if (with_conf) {
        FZ_CHECK(meta->conf != NULL && fz_conf_ref(meta->conf, meta->conf_len, &n) == 0,
                 "snapshot configuration %p of %zu bytes", meta->conf,
                 meta->conf_len);
    } else {
        FZ_CHECK(meta->conf == NULL && meta->conf_len == 0,
                 "a configuration with a chunk that is not the last");
    }
}

static int cb_snapshot_read(struct raft *r, void *ctx, raft_index index,
                            uint64_t offset, size_t max, const void **data,
                            size_t *len, bool *last)
{
    struct world *w = ctx;
    struct raft_status st;
    const struct hsnap *h = hsnap_find(w, index);
    check_reentry(w, r);
    raft_status(r, &st);
    FZ_CHECK(st.role == RAFT_LEADER, "snapshot_read by role %d", st.role);
    FZ_CHECK(max == CFG_MAX_BYTES, "snapshot_read of up to %zu bytes", max);
    FZ_CHECK(data != NULL && len != NULL && last != NULL, "NULL out parameter");
    FZ_CHECK(index > 0 && index <= w->hs.index,
             "snapshot_read of %llu, the host's latest is %llu", (ull)index,
             (ull)w->hs.index);
    if (fire(&w->fail_read) || h == NULL || offset > h->len) {
        /* Gone (replaced twice over), or an offset past its end: the
         * header lets the host refuse. */
        return -1;
    }
    *len = h->len - (size_t)offset < max ? h->len - (size_t)offset : max;
    *data = h->data + offset;
    *last = offset + *len == h->len;
    return 0;
}

static int cb_snapshot_write(struct raft *r, void *ctx,
                             const struct raft_snapshot_meta *meta,
                             uint64_t offset, const void *data, size_t len)
{
    struct world *w = ctx;
    struct rx *x = &w->rx;
    struct raft_status st;
    check_reentry(w, r);
    raft_status(r, &st);
    check_meta(w, meta, w->in_last_chunk);
    FZ_CHECK(st.role == RAFT_FOLLOWER, "snapshot_write by role %d", st.role);
    FZ_CHECK(meta->index > st.commit, "snapshot_write of %llu, commit %llu",
             (ull)meta->index, (ull)st.commit);
    FZ_CHECK(data != NULL || len == 0, "NULL chunk of %zu bytes", len);
    FZ_CHECK(offset == 0 || (x->active && x->index == meta->index &&
                             x->term == meta->term && offset == x->len),
             "chunk of (%llu, %llu) at %llu; the host has %zu bytes of (%llu, "
             "%llu)", (ull)meta->index, (ull)meta->term, (ull)offset,
             x->active ? x->len : 0, (ull)x->index, (ull)x->term);
    if (fire(&w->fail_write)) {
        w->hit_persist = true;
        return -1;
    }
    if (offset == 0) {
        x->active = true;
        x->index = meta->index;
        x->term = meta->term;
        x->len = 0;
    }
    if (x->len + len > x->cap) {
        x->cap = 2 * (x->len + len) + 64;
        x->data = realloc(x->data, x->cap);
        FZ_CHECK(x->data != NULL, "out of memory");
    }
    if (len > 0) {
        memcpy(x->data + x->len, data, len);
    }
    x->len += len;
    return 0;
}

static int cb_snapshot_install(struct raft *r, void *ctx,
                               const struct raft_snapshot_meta *meta, bool keep)
{
    struct world *w = ctx;
    struct disk *d = &w->d;
    struct raft_status st;
    bool has;
    check_reentry(w, r);
    raft_status(r, &st);
    check_meta(w, meta, true);
    w->persist_calls++;
    FZ_CHECK(w->rx.active && w->rx.index == meta->index && w->rx.term == meta->term,
             "install of (%llu, %llu) without its stream", (ull)meta->index,
             (ull)meta->term);
    FZ_CHECK(meta->index > st.commit && meta->index > d->base,
             "install of %llu, commit %llu", (ull)meta->index, (ull)st.commit);
    has = meta->index <= dlast(w) && lterm(w, meta->index) == meta->term;
    FZ_CHECK(keep == has, "install keep %d, the log %s (%llu, %llu)", keep,
             has ? "holds" : "does not hold", (ull)meta->index, (ull)meta->term);
    if (fire(&w->fail_install)) {
        w->hit_persist = true;
        return -1;
    }
    hsnap_push(w, meta->index, meta->term, w->rx.data, w->rx.len, meta->conf,
               meta->conf_len);
    free(w->base_conf);
    w->base_conf = fz_dup(meta->conf, meta->conf_len);
    w->base_conf_len = meta->conf_len;
    w->rx.active = false;
    if (keep) {
        disk_drop_prefix(d, (size_t)(meta->index - d->base));
    } else {
        disk_truncate(d, 0);
        d->known = 0;
        d->base = meta->index;
        d->base_term = meta->term;
    }
    w->applied = meta->index;
    w->check_from = d->base + 1;
    return 0;
}

static const struct raft_callbacks callbacks = {
    .send = cb_send,
    .persist_state = cb_persist_state,
    .persist_entries = cb_persist_entries,
    .apply = cb_apply,
    .event = cb_event,
    .snapshot_read = cb_snapshot_read,
    .snapshot_write = cb_snapshot_write,
    .snapshot_install = cb_snapshot_install,
    .read = cb_read,
};

static const struct raft_callbacks callbacks_nosnap = {
    .send = cb_send,
    .persist_state = cb_persist_state,
    .persist_entries = cb_persist_entries,
    .apply = cb_apply,
    .event = cb_event,
    .read = cb_read,
};

/* ---- checks after an operation ----------------------------------------------- */

static bool rc_allowed(int kind, int rc)
{
    switch (rc) {
    case 0:
    case RAFT_EAPPLY:
    case RAFT_ENOMEM:
    case RAFT_EPERSIST:
        return true;
    case RAFT_ENOSPACE:
        return kind == K_TICK || kind == K_PROPOSE || kind == K_CONF;
    case RAFT_ENOTMEMBER:
    case RAFT_EBADMSG:
    case RAFT_ESTALE:
        return kind == K_STEP;
    case RAFT_ETOOBIG:
        return kind == K_STEP || kind == K_PROPOSE;
    case RAFT_ENOTLEADER:
        return kind == K_PROPOSE || kind == K_READ || kind == K_CONF ||
               kind == K_TRANSFER;
    case RAFT_EFULL:
        return kind == K_READ;
    case RAFT_EINVAL:
        return kind == K_PROPOSE || kind == K_COMPACT || kind == K_CONF ||
               kind == K_TRANSFER;
    case RAFT_ECONFBUSY:
        return kind == K_CONF;
    case RAFT_EBADCONF:
        return kind == K_CONF || kind == K_TRANSFER;
    case RAFT_ETRANSFER:
        /* raft_propose_change does not list it; a transfer stops proposals
         * (see the report of fuzz/README.md). */
        return kind == K_PROPOSE || kind == K_READ || kind == K_TRANSFER ||
               kind == K_CONF;
    default:
        return false;
    }
}

static bool is_refusal(int rc)
{
    switch (rc) {
    case RAFT_ENOTMEMBER:
    case RAFT_EBADMSG:
    case RAFT_ETOOBIG:
    case RAFT_ESTALE:
    case RAFT_ENOMEM:
    case RAFT_ENOTLEADER:
    case RAFT_EINVAL:
    case RAFT_ENOSPACE:
    case RAFT_EFULL:
    case RAFT_ECONFBUSY:
    case RAFT_EBADCONF:
    case RAFT_ETRANSFER:
        return true;
    default:
        return false;
    }
}

static void begin(struct world *w, struct raft_status *before)
{
    raft_status(w->r, before);
    w->persist_calls = 0;
    w->hit_persist = false;
    w->hit_apply = false;
    w->h.hit = false;
}

static void check_log(struct world *w)
{
    struct raft_status st;
    struct raft_entry e;
    raft_index i;
    raft_status(w->r, &st);
    FZ_CHECK(st.first_index >= 1 && st.first_index - 1 >= w->d.base &&
                 st.first_index - 1 <= st.snapshot_index &&
                 st.first_index <= dlast(w) + 1,
             "first index %llu: disk base %llu, snapshot %llu, last %llu",
             (ull)st.first_index, (ull)w->d.base, (ull)st.snapshot_index,
             (ull)dlast(w));
    i = w->check_from > st.first_index ? w->check_from : st.first_index;
    for (; i <= dlast(w); i++) {
        FZ_CHECK(raft_entry_at(w->r, i, &e) == 0 && dent_eq(dent_at(w, i), &e),
                 "log entry %llu differs from the persisted one", (ull)i);
    }
    w->check_from = dlast(w) + 1;
    FZ_CHECK(raft_entry_at(w->r, dlast(w) + 1, &e) == RAFT_EINVAL &&
                 raft_entry_at(w->r, 0, &e) == RAFT_EINVAL,
             "raft_entry_at outside the log");
    if (st.first_index > 1) {
        FZ_CHECK(raft_entry_at(w->r, st.first_index - 1, &e) == RAFT_ECOMPACTED &&
                     raft_entry_at(w->r, 1, &e) == RAFT_ECOMPACTED,
                 "raft_entry_at below first index %llu", (ull)st.first_index);
    }
}

/* A leader's progress: one per member of the configuration in force, in
 * raft_conf()'s order, then itself if it is not a member. */
static void check_progress(struct world *w, int kind, const struct raft_status *st,
                           const struct raft_status *b, const struct fconf *c)
{
    /* Ticks in a row of a leader whose configuration was committed before
     * each of them: raft.h sends removed members the log for an election
     * timeout after the change commits, then drops them. */
    bool settled;
    if (kind == K_TICK && b->role == RAFT_LEADER && b->term == st->term &&
        b->conf_index == st->conf_index && b->commit >= b->conf_index) {
        w->settled_ticks++;
    } else if (kind == K_TICK || st->role != RAFT_LEADER ||
               b->conf_index != st->conf_index || b->term != st->term) {
        w->settled_ticks = 0;
    }
    settled = w->settled_ticks >= CFG_ELECTION;
    struct raft_progress p;
    size_t i, n = c->n + (conf_flags(c, w->self) == 0 ? 1 : 0);
    if (st->role != RAFT_LEADER) {
        FZ_CHECK(raft_progress(w->r, 0, &p) == RAFT_ENOTLEADER,
                 "progress on a non-leader");
        return;
    }
    for (i = 0; i < n; i++) {
        raft_id id = i < c->n ? c->id[i] : w->self;
        unsigned f = i < c->n ? c->f[i] : 0;
        FZ_CHECK(raft_progress(w->r, i, &p) == 0 && p.id == id &&
                     p.self == (id == w->self) && p.flags == f,
                 "progress %zu: %llu (self %d, flags %u), want %llu (flags %u)",
                 i, (ull)p.id, p.self, p.flags, (ull)id, f);
        FZ_CHECK(p.state == RAFT_PROGRESS_PROBE || p.state == RAFT_PROGRESS_REPLICATE ||
                     (p.state == RAFT_PROGRESS_SNAPSHOT && w->snap_cbs && !p.self),
                 "progress state %d", p.state);
        FZ_CHECK(p.state == RAFT_PROGRESS_SNAPSHOT ? p.snapshot_acked <= w->snap_len_max
                                                   : p.snapshot_acked == 0,
                 "progress of %llu: state %d, %llu snapshot bytes acknowledged",
                 (ull)p.id, p.state, (ull)p.snapshot_acked);
        FZ_CHECK(p.match < p.next && p.next <= st->last_index + 1,
                 "progress of %llu: match %llu next %llu, last %llu", (ull)p.id,
                 (ull)p.match, (ull)p.next, (ull)st->last_index);
        FZ_CHECK(p.inflight <= CFG_INFLIGHT, "%u in flight", p.inflight);
        FZ_CHECK(!p.self || p.match == st->last_index, "leader's own match");
    }
    /* Then the members a change removed, until it commits. */
    for (; raft_progress(w->r, i, &p) == 0; i++) {
        size_t k;
        for (k = 0; k < w->n_departed && w->departed[k] != p.id; k++) {
        }
        if (k == w->n_departed && k < MAX_IDS + 1) {
            w->departed[w->n_departed++] = p.id;
        }
        FZ_CHECK(i < n + MAX_IDS + MAX_HEARD && p.flags == 0 && !p.self &&
                     conf_flags(c, p.id) == 0,
                 "progress %zu: %llu, flags %u, after the %zu members", i,
                 (ull)p.id, p.flags, n);
        /* Dropped an election timeout after the change commits. */
        FZ_CHECK(!settled, "a removed member's slot (%llu) %u ticks after "
                 "the change committed at %llu", (ull)p.id, w->settled_ticks,
                 (ull)st->conf_index);
    }
}

/* The configuration in force is the one a host reads from its log: the
 * last configuration entry, else the snapshot's (or the bootstrap list);
 * raft_status agrees with raft_conf. */
static void check_conf(struct world *w, const struct raft_status *st,
                       struct fconf *c)
{
    struct fconf want;
    size_t len, i, voters = 0;
    raft_index at;
    const uint8_t *b = conf_at(w, dlast(w), &len, &at);
    conf_parse(b, len, &want);
    node_conf(w, c);
    c->auto_leave = want.auto_leave; /* raft_conf does not tell */
    FZ_CHECK(conf_same(c, &want) && c->n == want.n,
             "configuration in force: %zu members, the log's (at %llu) %zu",
             c->n, (ull)at, want.n);
    for (i = 0; i < c->n; i++) {
        FZ_CHECK(c->id[i] == want.id[i], "member %zu is %llu, the log says %llu",
                 i, (ull)c->id[i], (ull)want.id[i]);
        voters += (c->f[i] & RAFT_MEMBER_VOTER) != 0;
    }
    FZ_CHECK(st->n_members == c->n && st->n_voters == voters &&
                 st->joint == conf_joint(c) &&
                 st->is_voter == ((conf_flags(c, w->self) &
                                   (RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING)) != 0),
             "status: %zu members, %zu voters, joint %d, voter %d; raft_conf: %zu "
             "members, %zu voters", st->n_members, st->n_voters, st->joint,
             st->is_voter, c->n, voters);
    FZ_CHECK(at > st->snapshot_index ? st->conf_index == at
                                     : st->conf_index <= st->snapshot_index,
             "configuration from %llu, the log's at %llu, snapshot %llu",
             (ull)st->conf_index, (ull)at, (ull)st->snapshot_index);
}

static void check_after(struct world *w, int kind, int rc,
                        const struct raft_status *b)
{
    struct raft_status st;
    raft_status(w->r, &st);
    if (tracing()) {
        static const char *const names[] = {"tick",    "step", "propose",
                                            "compact", "read", "conf",
                                            "transfer"};
        fprintf(stderr, "%-7s -> %-3d role %d term %llu vote %llu leader %llu "
                "commit %llu applied %llu last %llu/%llu snap %llu first %llu\n",
                names[kind], rc, st.role, (ull)st.term, (ull)st.vote,
                (ull)st.leader, (ull)st.commit, (ull)st.applied,
                (ull)st.last_index, (ull)st.last_term, (ull)st.snapshot_index,
                (ull)st.first_index);
    }
    FZ_CHECK(rc_allowed(kind, rc) || (rc == RAFT_EINVAL && w->einval_ok),
             "operation %d returned %d (%s)", kind, rc, raft_strerror(rc));
    FZ_CHECK((rc == RAFT_EPERSIST) == w->hit_persist,
             "returned %d after %s persistence failure", rc,
             w->hit_persist ? "a" : "no");
    FZ_CHECK(rc != RAFT_EAPPLY || w->hit_apply, "RAFT_EAPPLY without a failure");
    FZ_CHECK(!w->hit_apply || rc != 0, "a failed apply was swallowed");
    FZ_CHECK((rc == RAFT_ENOMEM) == w->h.hit, "returned %d after %s allocation "
             "failure", rc, w->h.hit ? "an" : "no");
    if (is_refusal(rc)) {
        FZ_CHECK(w->persist_calls == 0, "refusal %d persisted something", rc);
        FZ_CHECK(st.term == b->term && st.vote == b->vote && st.role == b->role &&
                     st.leader == b->leader && st.commit == b->commit &&
                     st.last_index == b->last_index && st.last_term == b->last_term,
                 "refusal %d changed the node", rc);
    }
    FZ_CHECK(st.id == w->self, "status identity");
    FZ_CHECK(st.role >= RAFT_FOLLOWER && st.role <= RAFT_PRECANDIDATE, "role %d",
             st.role);
    /* With PreVote off, only a node that may campaign as a voter of the
     * configuration before the one in force pre-votes. */
    FZ_CHECK(st.role != RAFT_PRECANDIDATE || !w->cfg.disable_pre_vote || !st.is_voter,
             "pre-candidate with PreVote off");
    FZ_CHECK(st.term == w->d.term && st.vote == w->d.vote,
             "node term %llu vote %llu, persisted %llu %llu", (ull)st.term,
             (ull)st.vote, (ull)w->d.term, (ull)w->d.vote);
    FZ_CHECK(st.term >= b->term, "term went back from %llu to %llu", (ull)b->term,
             (ull)st.term);
    FZ_CHECK(st.commit >= b->commit, "commit went back from %llu to %llu",
             (ull)b->commit, (ull)st.commit);
    FZ_CHECK(st.commit <= st.last_index && st.applied <= st.commit,
             "commit %llu, applied %llu, last %llu", (ull)st.commit,
             (ull)st.applied, (ull)st.last_index);
    FZ_CHECK(st.applied == w->applied, "applied %llu, apply callbacks %llu",
             (ull)st.applied, (ull)w->applied);
    FZ_CHECK(st.last_index == dlast(w) && st.last_term == lterm(w, dlast(w)),
             "log ends at (%llu, %llu), persisted log at (%llu, %llu)",
             (ull)st.last_index, (ull)st.last_term, (ull)dlast(w),
             (ull)lterm(w, dlast(w)));
    FZ_CHECK(st.snapshot_index == w->hs.index && st.commit >= st.snapshot_index &&
                 st.applied >= st.snapshot_index,
             "snapshot %llu (host %llu), commit %llu, applied %llu",
             (ull)st.snapshot_index, (ull)w->hs.index, (ull)st.commit,
             (ull)st.applied);
    if (b->role == RAFT_LEADER && st.role == RAFT_LEADER && st.term == b->term) {
        FZ_CHECK(st.last_index >= b->last_index, "leader's log shrank from %llu "
                 "to %llu", (ull)b->last_index, (ull)st.last_index);
    }
    if (st.role == RAFT_LEADER) {
        FZ_CHECK(st.leader == w->self && st.vote == w->self,
                 "leader names leader %llu, vote %llu", (ull)st.leader, (ull)st.vote);
    } else if (st.role == RAFT_CANDIDATE) {
        FZ_CHECK(st.vote == w->self && st.leader == 0,
                 "candidate voted %llu, names leader %llu", (ull)st.vote,
                 (ull)st.leader);
    } else if (st.role == RAFT_PRECANDIDATE) {
        FZ_CHECK(st.leader == 0, "pre-candidate names leader %llu", (ull)st.leader);
    }
    FZ_CHECK(st.leader == 0 || st.leader == w->self || is_known(w, st.leader),
             "leader %llu", (ull)st.leader);
    FZ_CHECK(raft_role(w->r) == st.role && raft_current_term(w->r) == st.term &&
                 raft_leader(w->r) == st.leader,
             "queries disagree with raft_status");
    check_log(w);
    {
        struct fconf c;
        check_conf(w, &st, &c);
        check_progress(w, kind, &st, b, &c);
    }
    /* Only a voter campaigns, or a node that a configuration not yet
     * committed on it removes (it may hold the only log that can win; its
     * configuration cannot change while it campaigns: entries and
     * snapshots come from a leader, which ends the campaign). */
    FZ_CHECK((st.role != RAFT_CANDIDATE && st.role != RAFT_PRECANDIDATE) ||
                 st.is_voter || st.conf_index > st.commit,
             "role %d, not a voter, configuration %llu committed (%llu)",
             st.role, (ull)st.conf_index, (ull)st.commit);
    /* A transfer ends when the node stops leading. */
    if (st.role != RAFT_LEADER || st.term != w->xfer_term) {
        w->xfer_to = 0;
    }
}

/* ---- node lifecycle ------------------------------------------------------------ */

/* Create and start the node: bootstrap, or restore what the disk holds.
 * Armed allocation failures may hit here; then everything must have been
 * released, and the start is retried. */
static void node_start(struct world *w, bool bootstrap)
{
    struct raft_entry *ents = NULL;
    struct raft_snapshot_meta meta;
    struct raft_status st;
    struct raft_msg m;
    size_t i;
    int rc;
    w->h.hit = false;
    for (;;) {
        rc = raft_create(&w->cfg, w->snap_cbs ? &callbacks : &callbacks_nosnap, w,
                         &w->r);
        if (rc == 0) {
            break;
        }
        FZ_CHECK(rc == RAFT_ENOMEM && w->h.hit && w->h.blocks == 0,
                 "raft_create gave %d, %zu blocks held", rc, w->h.blocks);
        w->h.hit = false;
    }
    memset(&m, 0, sizeof(m));
    FZ_CHECK(raft_tick(w->r) == RAFT_ENOTSTARTED &&
                 raft_step(w->r, &m) == RAFT_ENOTSTARTED &&
                 raft_propose(w->r, "x", 1, NULL) == RAFT_ENOTSTARTED &&
                 raft_role(w->r) == 0,
             "unstarted node accepts calls");
    if (w->d.len > 0) {
        ents = malloc(w->d.len * sizeof(*ents));
        FZ_CHECK(ents != NULL, "out of memory");
        for (i = 0; i < w->d.len; i++) {
            ents[i].term = w->d.e[i].term;
            ents[i].type = w->d.e[i].type;
            ents[i].buf = w->d.e[i].buf;
            ents[i].len = w->d.e[i].len;
        }
    }
    meta.index = w->hs.index;
    meta.term = w->hs.term;
    meta.conf = w->hs.conf;
    meta.conf_len = w->hs.conf_len;
    for (;;) {
        w->h.hit = false;
        if (bootstrap) {
            rc = w->joined ? raft_join(w->r) : raft_bootstrap(w->r, w->ids, w->n);
        } else if (w->hs.index > 0) {
            rc = raft_restore_snapshot(w->r, &meta, w->d.term, w->d.vote,
                                       w->d.base + 1, ents, w->d.len);
        } else {
            FZ_CHECK(w->d.base == 0, "disk base %llu without a snapshot",
                     (ull)w->d.base);
            rc = w->joined ? raft_restore(w->r, NULL, 0, w->d.term, w->d.vote,
                                          ents, w->d.len)
                           : raft_restore(w->r, w->ids, w->n, w->d.term,
                                          w->d.vote, ents, w->d.len);
        }
        if (rc == 0) {
            break;
        }
        FZ_CHECK(rc == RAFT_ENOMEM && w->h.hit, "starting the node gave %d (%s)",
                 rc, raft_strerror(rc));
    }
    w->h.hit = false;
    w->n_departed = 0;
    free(ents);
    FZ_CHECK(raft_bootstrap(w->r, w->ids, w->n) == RAFT_ESTARTED &&
                 raft_join(w->r) == RAFT_ESTARTED,
             "second start accepted");
    FZ_CHECK(raft_step(w->r, NULL) == RAFT_EINVAL, "NULL message accepted");
    w->d.known = w->d.len;
    w->applied = w->hs.index;
    w->check_from = 1;
    w->rx.active = false; /* the node starts any stream over */
    raft_status(w->r, &st);
    FZ_CHECK(st.role == RAFT_FOLLOWER && st.commit == w->hs.index &&
                 st.applied == w->hs.index && st.term == w->d.term &&
                 st.vote == w->d.vote && st.last_index == dlast(w) &&
                 st.last_term == lterm(w, dlast(w)) &&
                 st.snapshot_index == w->hs.index,
             "fresh node: role %d term %llu commit %llu last %llu snapshot %llu",
             st.role, (ull)st.term, (ull)st.commit, (ull)st.last_index,
             (ull)st.snapshot_index);
    check_log(w);
    {
        struct fconf c;
        check_conf(w, &st, &c);
    }
    w->xfer_to = 0;
}

static void node_stop(struct world *w)
{
    raft_destroy(w->r);
    w->r = NULL;
    w->n_reads = 0; /* pending reads go with the node, unsettled */
    FZ_CHECK(w->h.blocks == 0, "%zu blocks leaked by raft_destroy", w->h.blocks);
}

/* The bootstrap list as a configuration of voters: its length. */
static size_t boot_list(const struct world *w, uint8_t *out)
{
    struct fconf boot;
    size_t i;
    memset(&boot, 0, sizeof(boot));
    for (i = 0; i < w->n; i++) {
        boot.id[i] = w->ids[i];
        boot.f[i] = RAFT_MEMBER_VOTER;
    }
    boot.n = w->n;
    return conf_encode(&boot, out);
}

/* Near the end of the index space (fuzz.h, FZ_NEAR_END): the host holds a
 * snapshot at UINT64_MAX - 1 - K (K = u16 % FZ_NEAR_END_SPAN; term 1; the
 * next byte times 3 its size; the bootstrap list its configuration, which
 * leaves a joining node out) and the disk's log starts after it. The
 * snapshot callbacks are on whatever the setup says: raft_restore_snapshot
 * needs them. Returns K, the most entries that fit after the snapshot. */
static raft_index near_end_snapshot(struct world *w, struct fz *in)
{
    uint8_t data[255 * 3], conf[8 + 9 * MAX_VOTERS];
    raft_index k = fz_u16(in) % FZ_NEAR_END_SPAN, index = UINT64_MAX - 1 - k;
    size_t size = (size_t)fz_u8(in) * 3, clen = boot_list(w, conf), i;
    for (i = 0; i < size; i++) {
        data[i] = (uint8_t)(index * 31 + i * 7);
    }
    w->near_end = true;
    w->snap_cbs = true;
    hsnap_push(w, index, 1, data, size, conf, clen);
    w->base_conf = fz_dup(conf, clen);
    w->base_conf_len = clen;
    w->d.base = index;
    w->d.base_term = 1;
    return k;
}

/* An initial log for raft_restore: a count byte (bits 0-2: up to 7
 * entries; bits 3-7 FZ_NEAR_END: after a snapshot near the end of the
 * index space, whose bytes follow), the entries with non-decreasing terms
 * (per entry one byte: bits 0-3 payload length, bits 4-5 term increment,
 * bit 6 no-op, bit 7 a configuration (build_conf's bytes follow instead
 * of a payload); then the payload), then the term (last entry's, or the
 * snapshot's, plus 0..2) and the vote (0 or a voter). */
static void initial_log(struct world *w, struct fz *in)
{
    uint8_t count = fz_u8(in);
    size_t i, k = count % 8, got;
    raft_term t = 1;
    if ((count & 0xf8) == FZ_NEAR_END) {
        raft_index room = near_end_snapshot(w, in);
        if (k > room) {
            k = (size_t)room; /* entries end at UINT64_MAX - 1 */
        }
    }
    for (i = 0; i < k; i++) {
        uint8_t b = fz_u8(in);
        size_t len = b % 16;
        const uint8_t *p;
        t += (b >> 4) & 3;
        if (b & 0x80) {
            uint8_t conf[FZ_CONF_MAX];
            len = build_conf(in, conf);
            disk_append(&w->d, t, RAFT_ENTRY_CONFIG, conf, len);
            continue;
        }
        p = fz_bytes(in, len, &got);
        disk_append(&w->d, t, b & 0x40 ? RAFT_ENTRY_NOOP : RAFT_ENTRY_COMMAND,
                    got == len ? p : zeros, len);
    }
    w->d.term = (k > 0 || w->near_end ? t : 0) + fz_u8(in) % 3;
    i = fz_u8(in) % (w->n + 1);
    w->d.vote = w->d.term > 0 && i < w->n ? w->ids[i] : 0;
}

/* ---- building messages ---------------------------------------------------------- */

static raft_term pick_term(struct fz *in, raft_term cur)
{
    uint8_t b = fz_u8(in);
    switch (b % 8) {
    case 0:
    case 1:
    case 2:
        return cur;
    case 3:
    case 4:
        return cur + 1;
    case 5:
        return cur + 2 + (b >> 3);
    case 6:
        return cur > 0 ? cur - 1 : 0;
    default:
        return fz_u64(in);
    }
}

static raft_index pick_index(struct fz *in, const struct raft_status *st)
{
    uint8_t b = fz_u8(in);
    raft_index last = st->last_index;
    switch (b % 8) {
    case 0:
        return last;
    case 1:
        return last > 0 ? last - 1 : 0;
    case 2:
        return st->commit;
    case 3:
        return last + 1;
    case 4:
        return last > (raft_index)(b >> 3) ? last - (b >> 3) : 0;
    case 5:
        return 0;
    case 6:
        return st->commit + (b >> 3);
    default:
        return fz_u64(in);
    }
}

/* A term for index idx: mostly the node's own, sometimes a conflicting or
 * arbitrary one. */
static raft_term pick_term_at(const struct world *w, struct fz *in, raft_index idx,
                              raft_term mterm)
{
    uint8_t b = fz_u8(in);
    raft_term t;
    if (idx == 0) {
        return b == 0xff ? 1 : 0;
    }
    switch (b % 4) {
    case 0:
    case 1:
        t = lterm(w, idx);
        return t > 0 ? t : mterm;
    case 2:
        t = lterm(w, idx) + 1;
        return t <= mterm ? t : mterm;
    default:
        return b >> 2;
    }
}

/* An InstallSnapshot chunk from a leader (the fuzzer). Mode byte: bits 0-1
 * where it goes (0: a new stream at offset 0; 1: the next chunk of the
 * stream the host is receiving; 2: a gap or a step back in that stream;
 * 3: an arbitrary index and offset), bit 2 last, bits 3-7 the length (31:
 * a larger one from the next byte); 0xff: data missing. The data comes
 * from the input. A last chunk's configuration is the one in force on the
 * node (none if it has none), or with the membership ops one byte more:
 * below 0xf0 a valid one (build_conf), 0xf0-0xfc (b - 0xf0) * 7 raw
 * bytes, 0xfd the host's own snapshot's, 0xfe none, 0xff a NULL one with
 * a length. */
static void build_chunk(struct world *w, struct fz *in,
                        const struct raft_status *st, struct raft_msg *m)
{
    struct raft_msg_snapshot *sn = &m->u.snapshot;
    uint8_t b = fz_u8(in);
    size_t got;
    const uint8_t *p;
    unsigned mode = b & 3;
    if ((mode == 1 || mode == 2) && w->rx.active) {
        sn->index = w->rx.index;
        sn->index_term = w->rx.term;
        sn->offset = w->rx.len;
        if (mode == 2) {
            uint8_t g = fz_u8(in);
            sn->offset = g & 1 ? sn->offset + 1 + g / 2
                               : sn->offset - (g / 2 < sn->offset ? g / 2 : sn->offset);
        }
    } else {
        sn->index = pick_index(in, st);
        sn->index_term = pick_term_at(w, in, sn->index, m->term);
        sn->offset = mode == 3 ? fz_u64(in) : 0;
    }
    sn->last = (b >> 2) & 1;
    sn->len = b >> 3 < 31 ? b >> 3 : 31 + fz_u8(in) % (512 - 31);
    p = fz_bytes(in, sn->len, &got);
    sn->data = sn->len == 0 ? NULL : got == sn->len ? p : zeros;
    if (b == 0xff) {
        sn->data = NULL; /* missing */
    }
    if (sn->last && !w->conf_mode) {
        raft_index at;
        const uint8_t *c = conf_at(w, dlast(w), &sn->conf_len, &at);
        memcpy(w->msg_conf, c, sn->conf_len);
        sn->conf = sn->conf_len > 0 ? w->msg_conf : NULL;
    } else if (sn->last) {
        uint8_t c = fz_u8(in);
        sn->conf = w->msg_conf;
        if (c < 0xf0) {
            sn->conf_len = build_conf(in, w->msg_conf);
        } else if (c <= 0xfc) {
            sn->conf_len = (size_t)(c - 0xf0) * 7;
            p = fz_bytes(in, sn->conf_len, &got);
            memset(w->msg_conf, 0, sn->conf_len);
            memcpy(w->msg_conf, p, got);
        } else if (c == 0xfd && w->hs.conf_len > 0) {
            sn->conf_len = w->hs.conf_len;
            memcpy(w->msg_conf, w->hs.conf, w->hs.conf_len);
        } else if (c == 0xff) {
            sn->conf = NULL;
            sn->conf_len = 1; /* missing */
        } else {
            sn->conf = NULL; /* none */
        }
    }
}

/* A follower's (the fuzzer's) reply to the node's chunks. Mode byte: bits
 * 0-1 the index (0: the host's latest snapshot, 1: the one before, 2: a
 * picked index, 3: arbitrary), bits 2-3 the offset (0: 0; 1: what the
 * node's progress says is acknowledged plus 1..4 chunks; 2: the whole
 * snapshot; 3: arbitrary), bit 4 done. */
static void build_chunk_resp(struct world *w, struct fz *in, struct raft_msg *m)
{
    struct raft_msg_snapshot_resp *a = &m->u.snapshot_resp;
    struct raft_progress pr;
    struct raft_status st;
    uint8_t b = fz_u8(in);
    size_t i;
    raft_status(w->r, &st);
    switch (b & 3) {
    case 0:
        a->index = w->hs.index;
        break;
    case 1:
        a->index = w->hs_prev.index;
        break;
    case 2:
        a->index = pick_index(in, &st);
        break;
    default:
        a->index = fz_u64(in);
        break;
    }
    switch ((b >> 2) & 3) {
    case 0:
        a->offset = 0;
        break;
    case 1:
        a->offset = 0;
        for (i = 0; raft_progress(w->r, i, &pr) == 0; i++) {
            if (pr.id == m->from) {
                a->offset = pr.snapshot_acked;
            }
        }
        a->offset += (uint64_t)CFG_MAX_BYTES * (1 + (b >> 6));
        break;
    case 2:
        a->offset = a->index == w->hs_prev.index ? w->hs_prev.len : w->hs.len;
        break;
    default:
        a->offset = fz_u64(in);
        break;
    }
    a->done = (b >> 4) & 1;
}

/* A bulk AppendEntries' entries (near-end mode): a length byte c, bits
 * 0-1 how the count is chosen: 0, u16 % (FZ_BULK_MAX + 1); 1, ending c >> 2
 * entries before the last usable index, UINT64_MAX - 1 (0 if prev is
 * there already); 2, ending c >> 2 entries past it (refused: the range
 * reaches UINT64_MAX); 3, ending c >> 2 entries past the node's last
 * index. At most FZ_BULK_MAX (a longer one is cut). Then a split byte s:
 * the first count * s / 256 entries have term t (the previous entry's),
 * the others the message's; and a byte p: payloads of p % 4 zero bytes,
 * no-ops with bit 2. Returns the count. */
static size_t bulk_entries(struct fz *in, const struct raft_status *st,
                           raft_index prev, raft_term t, raft_term mterm,
                           struct raft_entry *ents)
{
    const raft_index end = UINT64_MAX - 1;
    uint8_t c = fz_u8(in), s, p;
    uint64_t d = c >> 2, want;
    size_t n, i, split;
    switch (c & 3) {
    case 0:
        want = fz_u16(in) % (FZ_BULK_MAX + 1);
        break;
    case 1:
        want = prev < end && end - prev > d ? end - prev - d : 0;
        break;
    case 2:
        want = prev <= end ? end - prev : 0;
        want = want >= FZ_BULK_MAX ? FZ_BULK_MAX : want + 1 + d;
        break;
    default:
        want = st->last_index >= prev ? st->last_index - prev : 0;
        want = want >= FZ_BULK_MAX ? FZ_BULK_MAX : want + d;
        break;
    }
    n = want > FZ_BULK_MAX ? FZ_BULK_MAX : (size_t)want;
    s = fz_u8(in);
    p = fz_u8(in);
    split = n * s / 256;
    /* Bounded by FZ_BULK_MAX. */
    for (i = 0; i < n; i++) {
        ents[i].term = i < split ? t : mterm;
        ents[i].type = p & 4 ? RAFT_ENTRY_NOOP : RAFT_ENTRY_COMMAND;
        ents[i].buf = zeros;
        ents[i].len = p % 4;
    }
    return n;
}

/* A message of the given type built from the input; ents has room for
 * FZ_BULK_MAX entries. */
static void build_msg(struct world *w, struct fz *in, int type,
                      const struct raft_status *st, struct raft_msg *m,
                      struct raft_entry *ents)
{
    uint8_t who = fz_u8(in), b;
    size_t i;
    memset(m, 0, sizeof(*m));
    m->type = type;
    if (w->conf_mode && who >= 0xd0 && who < 0xe0) {
        /* An id outside the bootstrap list (added by a change, or not). */
        m->from = w->n + 1 + who % (MAX_IDS - w->n);
        if (m->from == w->self) {
            m->from = m->from % MAX_IDS + 1;
        }
    } else if (who < 0xf0) {
        m->from = w->ids[who % w->n];
        if (m->from == w->self) {
            m->from = w->ids[(who + 1) % w->n];
        }
    } else {
        m->from = who & 1 ? w->self : 6 + (who & 0xe); /* self or stranger */
    }
    m->to = who >= 0xe8 && who < 0xf0 ? m->from : w->self;
    m->term = pick_term(in, st->term);
    switch (type) {
    case RAFT_MSG_VOTE:
        m->u.vote.last_index = pick_index(in, st);
        m->u.vote.last_term = pick_term_at(w, in, m->u.vote.last_index, m->term);
        break;
    case RAFT_MSG_VOTE_RESP:
        m->u.vote_resp.granted = (fz_u8(in) & 3) != 0;
        m->u.vote_resp.last_index = pick_index(in, st);
        m->u.vote_resp.last_term =
            pick_term_at(w, in, m->u.vote_resp.last_index, m->term);
        break;
    case RAFT_MSG_APPEND_RESP: {
        struct raft_msg_append_resp *a = &m->u.append_resp;
        b = fz_u8(in);
        a->success = (b & 3) != 0;
        a->index = pick_index(in, st);
        a->hint_index = pick_index(in, st);
        if (!(b & 4) && a->hint_index > a->index) {
            a->hint_index = a->index;
        }
        a->hint_term = pick_term_at(w, in, a->hint_index, m->term);
        break;
    }
    case RAFT_MSG_SNAPSHOT:
        build_chunk(w, in, st, m);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        build_chunk_resp(w, in, m);
        break;
    case RAFT_MSG_PREVOTE:
        /* Mostly the term after the sender's, as a pre-candidate asks. */
        m->u.vote.last_index = pick_index(in, st);
        m->u.vote.last_term = pick_term_at(w, in, m->u.vote.last_index, m->term);
        if (m->term < UINT64_MAX && (fz_u8(in) & 1)) {
            m->term++;
        }
        break;
    case RAFT_MSG_PREVOTE_RESP:
        b = fz_u8(in);
        m->u.vote_resp.granted = (b & 3) != 0;
        if (m->u.vote_resp.granted && (b & 4) && st->term < UINT64_MAX) {
            m->term = st->term + 1; /* the grant of our own pre-vote */
        }
        m->u.vote_resp.last_index = pick_index(in, st);
        m->u.vote_resp.last_term =
            pick_term_at(w, in, m->u.vote_resp.last_index, m->term);
        break;
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_HEARTBEAT_RESP:
        b = fz_u8(in);
        m->u.heartbeat.round = b < 0xf0 ? b % 6 : fz_u64(in);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        break; /* no body */
    case RAFT_MSG_READ:
    case RAFT_MSG_READ_RESP:
        b = fz_u8(in);
        m->u.read.id = b < 0xf0 ? b % 8 : fz_u64(in);
        m->u.read.ok = (b & 1) != 0;
        if (type == RAFT_MSG_READ_RESP) {
            m->u.read.index = (b & 2) ? pick_index(in, st) : 0;
        }
        break;
    default: { /* RAFT_MSG_APPEND */
        struct raft_msg_append *a = &m->u.append;
        raft_term t;
        size_t n;
        bool bulk;
        a->prev_index = pick_index(in, st);
        a->prev_term = pick_term_at(w, in, a->prev_index, m->term);
        b = fz_u8(in);
        n = b % 8 <= CFG_MAX_ENTRIES ? b % 8u : b % 8 == 5 ? 1 : b % 8 == 6 ? 2
                                                                   : CFG_MAX_ENTRIES + 1;
        t = a->prev_term > 0 ? a->prev_term : 1;
        bulk = w->near_end && b % 8 == 7;
        if (bulk) {
            n = bulk_entries(in, st, a->prev_index, t, m->term, ents);
        }
        for (i = 0; !bulk && i < n; i++) {
            uint8_t eb = fz_u8(in), lb = fz_u8(in);
            size_t len = lb < 0xf8 ? lb % 24 : CFG_MAX_BYTES / 2 + (lb & 7), got;
            const uint8_t *p = fz_bytes(in, len, &got);
            if ((eb & 3) == 0 && t < m->term) {
                t++;
            } else if (eb == 0xff) {
                t = m->term;
            }
            ents[i].term = eb == 0xfe ? 0 : t;
            ents[i].type = eb == 0xfd ? 7 : (eb & 4) ? RAFT_ENTRY_NOOP : RAFT_ENTRY_COMMAND;
            ents[i].buf = got == len ? p : zeros;
            ents[i].len = len;
            if (w->conf_mode && (eb & 0x18) == 0x18 && eb < 0xf8) {
                /* A configuration: a valid one, or the payload's bytes. */
                ents[i].type = RAFT_ENTRY_CONFIG;
                if (!(eb & 0x20)) {
                    ents[i].len = build_conf(in, w->ent_conf[i]);
                    ents[i].buf = w->ent_conf[i];
                }
            }
        }
        a->n_entries = n;
        a->entries = n > 0 ? ents : NULL;
        switch (b >> 6) {
        case 0:
            a->commit = a->prev_index + n;
            break;
        case 1:
            a->commit = pick_index(in, st);
            break;
        case 2:
            a->commit = st->commit;
            break;
        default:
            a->commit = a->prev_index + n + (b & 0x38) / 8;
            break;
        }
        break;
    }
    }
}

/* ---- operations --------------------------------------------------------------- */

static void do_tick(struct world *w)
{
    struct raft_status b;
    begin(w, &b);
    check_after(w, K_TICK, raft_tick(w->r), &b);
}

/* What a node takes from a sender without a slot (raft.h, RAFT_ENOTMEMBER):
 * everything but the replies that would update the sender's progress or
 * count as its vote. */
static bool from_anyone(int type)
{
    return type != RAFT_MSG_VOTE_RESP && type != RAFT_MSG_PREVOTE_RESP &&
           type != RAFT_MSG_APPEND_RESP && type != RAFT_MSG_SNAPSHOT_RESP &&
           type != RAFT_MSG_HEARTBEAT_RESP;
}

/* Does the message carry a configuration raft_step must refuse? */
static bool bad_conf(const struct raft_msg *m)
{
    size_t i, n;
    if (m->type == RAFT_MSG_SNAPSHOT) {
        return m->u.snapshot.last
                   ? m->u.snapshot.conf == NULL ||
                         fz_conf_ref(m->u.snapshot.conf, m->u.snapshot.conf_len, &n) != 0
                   : m->u.snapshot.conf_len != 0;
    }
    for (i = 0; m->type == RAFT_MSG_APPEND && m->u.append.entries != NULL &&
                i < m->u.append.n_entries;
         i++) {
        const struct raft_entry *e = &m->u.append.entries[i];
        if (e->type == RAFT_ENTRY_CONFIG &&
            (e->buf == NULL || fz_conf_ref(e->buf, e->len, &n) != 0)) {
            return true;
        }
    }
    return false;
}

static void do_step(struct world *w, const struct raft_msg *m)
{
    struct raft_status b, st;
    bool member;
    size_t i, bytes = 0;
    int rc;
    struct raft_metrics m0, m1;
    bool ignored, sender_votes;
    struct fconf fc;
    member = m->from != w->self && m->from != 0 && has_slot(w, m->from);
    node_conf(w, &fc);
    sender_votes = (conf_flags(&fc, m->from) &
                    (RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING)) != 0;
    heard_from(w, m->from);
    if (tracing()) {
        fprintf(stderr, "  recv %d from %llu to %llu term %llu\n", m->type,
                (ull)m->from, (ull)m->to, (ull)m->term);
    }
    begin(w, &b);
    w->einval_ok = m->type == RAFT_MSG_SNAPSHOT && !w->snap_cbs;
    w->in_timeout_now = m->type == RAFT_MSG_TIMEOUT_NOW;
    w->vote_from = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE ? m->from : 0;
    w->in_last_chunk = m->type == RAFT_MSG_SNAPSHOT && m->u.snapshot.last;
    FZ_CHECK(raft_metrics(w->r, &m0, sizeof(m0)) == 0, "raft_metrics");
    rc = raft_step(w->r, m);
    FZ_CHECK(raft_metrics(w->r, &m1, sizeof(m1)) == 0, "raft_metrics");
    w->in_timeout_now = false;
    w->vote_from = 0;
    w->in_last_chunk = false;
    ignored = m1.rejected[RAFT_REJECT_IN_LEASE] > m0.rejected[RAFT_REJECT_IN_LEASE];
    /* (RAFT_EAPPLY: an earlier entry failed to apply again on the way
     * out, as after any call.) A transfer's campaign is not ignored,
     * unless its candidate is no voter here (a late TimeoutNow reached a
     * node removed since). Only requests of a later term are ignored, or,
     * with leases, of the node's own term when it knows no leader of it
     * (a term adopted without a vote). */
    FZ_CHECK(!ignored || ((rc == 0 || rc == RAFT_EAPPLY) && !w->cfg.disable_check_quorum &&
                          (m->term > b.term ||
                           (m->term == b.term && w->cfg.lease_reads &&
                            b.leader == 0)) &&
                          ((m->type == RAFT_MSG_VOTE &&
                            (!m->u.vote.transfer || !sender_votes)) ||
                           m->type == RAFT_MSG_PREVOTE)),
             "message type %d of term %llu ignored at term %llu (rc %d)", m->type,
             (ull)m->term, (ull)b.term, rc);
    check_after(w, K_STEP, rc, &b);
    w->einval_ok = false;
    raft_status(w->r, &st);
    if (m->to != w->self) {
        FZ_CHECK(rc == RAFT_EBADMSG, "message to %llu gave %d", (ull)m->to, rc);
    } else if (m->from == w->self || m->from == 0 ||
               (!member && !from_anyone(m->type))) {
        FZ_CHECK(rc == RAFT_ENOTMEMBER, "message type %d from %llu gave %d",
                 m->type, (ull)m->from, rc);
    } else if (bad_conf(m)) {
        FZ_CHECK(rc == RAFT_EBADMSG || rc == RAFT_ETOOBIG,
                 "message type %d with an invalid configuration gave %d", m->type,
                 rc);
    }
    FZ_CHECK(rc != RAFT_ESTALE || m->term < b.term,
             "ESTALE for term %llu at term %llu", (ull)m->term, (ull)b.term);
    if (m->term < b.term) {
        FZ_CHECK(rc == RAFT_ESTALE || rc == RAFT_EBADMSG || rc == RAFT_ETOOBIG ||
                     rc == RAFT_ENOTMEMBER,
                 "stale term %llu at term %llu gave %d", (ull)m->term,
                 (ull)b.term, rc);
    }
    if ((rc == 0 || rc == RAFT_EAPPLY) && m->term > b.term) {
        /* A pre-vote, a grant of one and a vote request ignored under
         * stickiness leave the term; everything else adopts it. */
        bool keeps = m->type == RAFT_MSG_PREVOTE ||
                     (m->type == RAFT_MSG_PREVOTE_RESP && m->u.vote_resp.granted) ||
                     (m->type == RAFT_MSG_VOTE && ignored);
        /* A grant that completes a pre-vote starts the real election. */
        bool won = m->type == RAFT_MSG_PREVOTE_RESP && m->u.vote_resp.granted &&
                   b.role == RAFT_PRECANDIDATE && m->term == b.term + 1 &&
                   st.term == m->term &&
                   (st.role == RAFT_CANDIDATE || st.role == RAFT_LEADER);
        /* A TimeoutNow may start a campaign at the term after its own. */
        won |= m->type == RAFT_MSG_TIMEOUT_NOW && st.term == m->term + 1 &&
               (st.role == RAFT_CANDIDATE || st.role == RAFT_LEADER);
        FZ_CHECK(won || (keeps ? st.term == b.term : st.term == m->term),
                 "message type %d of term %llu: term %llu -> %llu", m->type,
                 (ull)m->term, (ull)b.term, (ull)st.term);
    }
    if (m->type == RAFT_MSG_PREVOTE || ignored) {
        FZ_CHECK(st.term == b.term && st.vote == b.vote && st.role == b.role &&
                     st.leader == b.leader && w->persist_calls == 0,
                 "%s changed the node",
                 ignored ? "an ignored vote request" : "a pre-vote request");
    }
    if (rc == 0 && (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAPSHOT ||
                    m->type == RAFT_MSG_HEARTBEAT)) {
        FZ_CHECK(st.role == RAFT_FOLLOWER && st.leader == m->from,
                 "accepted %s: role %d leader %llu",
                 m->type == RAFT_MSG_APPEND ? "AppendEntries" : "a snapshot chunk",
                 st.role, (ull)st.leader);
    }
    if (m->type == RAFT_MSG_SNAPSHOT && !w->snap_cbs) {
        FZ_CHECK(rc != 0, "snapshot chunk accepted without the callbacks");
    }
    if (rc == RAFT_ETOOBIG) {
        FZ_CHECK(m->type == RAFT_MSG_APPEND, "ETOOBIG for type %d", m->type);
        for (i = 0; i < m->u.append.n_entries; i++) {
            bytes += m->u.append.entries[i].len;
        }
        /* The node's own limits bound what it sends, not what it takes. */
        FZ_CHECK(m->u.append.n_entries > RAFT_MAX_ACCEPT_ENTRIES ||
                     bytes > RAFT_MAX_ACCEPT_BYTES,
                 "ETOOBIG for %zu entries, %zu bytes", m->u.append.n_entries, bytes);
    }
}

/* A message built from the input, stepped as is or through the codec. */
static void op_step_x(struct world *w, struct fz *in, int type, bool via_wire,
                      bool transfer, bool conf_mode)
{
    static struct raft_entry ents[FZ_BULK_MAX];
    struct raft_entry dents[MSG_ENTRIES];
    struct raft_status st;
    struct raft_msg m, d;
    static uint8_t buf[64 + 512 + FZ_CONF_MAX + MSG_ENTRIES * (16 + 128)];
    size_t len;
    raft_status(w->r, &st);
    w->conf_mode = conf_mode;
    build_msg(w, in, type, &st, &m, ents);
    w->conf_mode = false;
    if (type == RAFT_MSG_VOTE) {
        m.u.vote.transfer = transfer;
    }
    if (via_wire && raft_msg_encode(&m, buf, sizeof(buf), &len) == 0 &&
        raft_msg_decode(buf, len, NULL, &d, dents, MSG_ENTRIES) == 0) {
        FZ_CHECK(fz_msg_eq(&m, &d), "message changed through the codec");
        do_step(w, &d);
        return;
    }
    do_step(w, &m);
}

static void op_step(struct world *w, struct fz *in, int type, bool via_wire)
{
    op_step_x(w, in, type, via_wire, false, false);
}

/* Raw bytes through the decoder; whatever decodes is stepped. */
static void op_step_wire(struct world *w, struct fz *in)
{
    struct raft_entry *ents = malloc(WIRE_ENTRIES * sizeof(*ents));
    struct raft_msg m;
    size_t got, want = fz_u16(in) % 1024;
    const uint8_t *p = fz_bytes(in, want, &got);
    uint8_t *buf = fz_dup(p, got);
    int rc;
    FZ_CHECK(ents != NULL, "out of memory");
    rc = raft_msg_decode(buf, got, NULL, &m, ents, WIRE_ENTRIES);
    FZ_CHECK(fz_decode_rc_ok(rc), "decode gave %d", rc);
    if (rc == 0) {
        do_step(w, &m);
    }
    free(buf);
    free(ents);
}

static void pick_payload(struct fz *in, struct raft_buf *b)
{
    uint8_t x = fz_u8(in);
    size_t got, len = x < 0xf0 ? x % 64u : CFG_MAX_BYTES - 4 + (x & 7u);
    const uint8_t *p = fz_bytes(in, len, &got);
    b->base = got == len ? p : zeros;
    b->len = len;
    if (x == 0xff) {
        b->base = NULL; /* missing payload */
        b->len = 1;
    }
}

static void do_propose(struct world *w, const struct raft_buf *bufs, size_t n,
                       bool single)
{
    struct raft_status b, st;
    raft_index idx = 0;
    bool null_buf = false, too_big = false, xfer;
    size_t i;
    int rc;
    for (i = 0; bufs != NULL && i < n; i++) {
        null_buf |= bufs[i].base == NULL && bufs[i].len > 0;
        too_big |= bufs[i].len > CFG_MAX_BYTES;
    }
    begin(w, &b);
    xfer = b.role == RAFT_LEADER && w->xfer_to != 0;
    rc = single ? raft_propose(w->r, bufs[0].base, bufs[0].len, &idx)
                : raft_propose_batch(w->r, bufs, n, &idx);
    check_after(w, K_PROPOSE, rc, &b);
    raft_status(w->r, &st);
    FZ_CHECK(rc != RAFT_ETRANSFER || xfer || may_self_transfer(&b),
             "ETRANSFER without a transfer");
    xfer |= rc == RAFT_ETRANSFER; /* the node's own hand-over */
    if (bufs == NULL || n == 0) {
        FZ_CHECK(rc == RAFT_EINVAL, "empty batch gave %d", rc);
    } else if (b.role != RAFT_LEADER) {
        FZ_CHECK(rc == RAFT_ENOTLEADER, "proposal to role %d gave %d", b.role, rc);
        FZ_CHECK(st.leader == 0 || is_peer(w, st.leader), "redirect to %llu",
                 (ull)st.leader);
    } else if (null_buf || too_big) {
        FZ_CHECK((xfer && rc == RAFT_ETRANSFER) ||
                     (too_big ? (rc == RAFT_ETOOBIG || (null_buf && rc == RAFT_EINVAL))
                              : rc == RAFT_EINVAL),
                 "invalid proposal (NULL payload %d, too big %d) gave %d",
                 null_buf, too_big, rc);
    } else if (xfer) {
        /* A leader handing over takes no proposals (raft.h). */
        FZ_CHECK(rc == RAFT_ETRANSFER, "proposal during a transfer gave %d", rc);
    } else {
        /* Entries end at UINT64_MAX - 1: a snapshot near the end of the
         * index space can leave no room. */
        FZ_CHECK(rc == 0 || rc == RAFT_EPERSIST || rc == RAFT_ENOMEM ||
                     rc == RAFT_EAPPLY ||
                     (rc == RAFT_ENOSPACE && b.last_index > UINT64_MAX - 1 - n),
                 "valid proposal to the leader gave %d", rc);
        if (rc == RAFT_EPERSIST) {
            FZ_CHECK(st.role == RAFT_FOLLOWER, "leader kept leading after its "
                     "append failed");
        }
        if (rc == 0 || rc == RAFT_EAPPLY) {
            FZ_CHECK(idx == b.last_index + 1 && st.last_index == b.last_index + n,
                     "proposal of %zu at %llu, log %llu -> %llu", n, (ull)idx,
                     (ull)b.last_index, (ull)st.last_index);
            for (i = 0; i < n; i++) {
                const struct dent *e = dent_at(w, idx + i);
                FZ_CHECK(e->term == b.term && e->type == RAFT_ENTRY_COMMAND &&
                             e->len == bufs[i].len &&
                             (e->len == 0 || memcmp(e->buf, bufs[i].base, e->len) == 0),
                         "proposed entry %llu differs", (ull)(idx + i));
            }
        }
    }
}

/* The host snapshots its state machine at (or near) the applied index and
 * tells the node. Mode byte: bits 0-1 the index (0: applied; 1: applied
 * minus bits 2-7; 2: above applied, refused; 3: the current snapshot, a
 * no-op); the next byte times 3 is the snapshot's size in bytes. */
static void op_compact(struct world *w, struct fz *in)
{
    uint8_t x = fz_u8(in), data[255 * 3];
    size_t size = (size_t)fz_u8(in) * 3, i;
    struct raft_status b, st;
    raft_index idx, base;
    bool valid, pushed = false;
    int rc;
    raft_status(w->r, &b);
    switch (x % 4) {
    case 0:
        idx = b.applied;
        break;
    case 1:
        idx = b.applied > (raft_index)(x >> 2) ? b.applied - (x >> 2) : 0;
        break;
    case 2:
        /* Saturated: near the end of the index space it would wrap to an
         * index the node may take. */
        idx = b.applied <= UINT64_MAX - 1 - (x >> 2) ? b.applied + 1 + (x >> 2)
                                                     : UINT64_MAX;
        break;
    default:
        idx = b.snapshot_index;
        break;
    }
    valid = w->snap_cbs && idx <= b.applied;
    if (valid && idx > b.snapshot_index) {
        size_t clen;
        raft_index at;
        const uint8_t *conf = conf_at(w, idx, &clen, &at);
        /* raft.h: refused (RAFT_EINVAL) while no configuration is known
         * at idx (a joined node that has learnt none yet). */
        valid = clen > 0;
        if (valid) {
            /* Durable before the node hears of it. */
            for (i = 0; i < size; i++) {
                data[i] = (uint8_t)(idx * 31 + i * 7);
            }
            hsnap_push(w, idx, lterm_known(w, idx), data, size, conf, clen);
            pushed = true;
        }
    }
    begin(w, &b);
    rc = raft_compact(w->r, idx);
    if (rc != 0 && rc != RAFT_EAPPLY && pushed) {
        /* The node did not take it: the host drops it. (RAFT_EAPPLY is an
         * earlier entry failing to apply again on the way out, after the
         * compaction, as for every driving call.) */
        hsnap_pop(w);
    }
    check_after(w, K_COMPACT, rc, &b);
    raft_status(w->r, &st);
    if (!valid) {
        FZ_CHECK(rc == RAFT_EINVAL, "raft_compact(%llu), applied %llu, "
                 "callbacks %d: %d", (ull)idx, (ull)b.applied, w->snap_cbs, rc);
        return;
    }
    /* RAFT_ENOMEM: copying the configuration at idx, a refusal. */
    if (rc == RAFT_ENOMEM) {
        return;
    }
    FZ_CHECK(rc == 0 || rc == RAFT_EAPPLY, "raft_compact(%llu), applied %llu: %d",
             (ull)idx, (ull)b.applied, rc);
    FZ_CHECK(w->persist_calls == 0, "raft_compact persisted something");
    base = b.first_index - 1;
    if (idx > b.snapshot_index && idx > w->cfg.snapshot_trailing &&
        idx - w->cfg.snapshot_trailing > base) {
        base = idx - w->cfg.snapshot_trailing;
    }
    FZ_CHECK(st.first_index == base + 1 && st.term == b.term &&
                 st.vote == b.vote && st.role == b.role && st.commit == b.commit &&
                 st.last_index == b.last_index && st.last_term == b.last_term,
             "raft_compact(%llu) with %llu trailing: first %llu -> %llu",
             (ull)idx, (ull)w->cfg.snapshot_trailing, (ull)b.first_index,
             (ull)st.first_index);
}

static void op_fault(struct world *w, struct fz *in)
{
    uint8_t b = fz_u8(in);
    unsigned k = 1 + (b / 5) % 4;
    if (b >= 0xf0) {
        /* The snapshot callbacks: read, write, install. */
        switch (b % 3) {
        case 0:
            w->fail_read = 1 + (b >> 2) % 2;
            break;
        case 1:
            w->fail_write = 1 + (b >> 2) % 2;
            break;
        default:
            w->fail_install = 1;
            break;
        }
        return;
    }
    switch (b % 5) {
    case 0:
        w->fail_state = k;
        break;
    case 1:
        w->fail_entries = k;
        w->partial = fz_u8(in);
        break;
    case 2:
        w->fail_send = k;
        break;
    case 3:
        w->fail_apply = k;
        break;
    default:
        w->h.fail_in = k;
        break;
    }
}

/* Tick until a (pre-)candidate, then grant pre-votes and votes from the
 * voters of its configuration, in order. */
static void op_elect(struct world *w)
{
    struct raft_msg m;
    struct fconf c;
    size_t i;
    int t;
    for (t = 0; t < 4 * CFG_ELECTION && raft_role(w->r) == RAFT_FOLLOWER; t++) {
        do_tick(w);
    }
    node_conf(w, &c);
    for (i = 0; i < c.n && raft_role(w->r) == RAFT_PRECANDIDATE; i++) {
        if (c.id[i] == w->self ||
            !(c.f[i] & (RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING))) {
            continue;
        }
        memset(&m, 0, sizeof(m));
        m.type = RAFT_MSG_PREVOTE_RESP;
        m.from = c.id[i];
        m.to = w->self;
        m.term = raft_current_term(w->r) + 1;
        m.u.vote_resp.granted = true;
        do_step(w, &m);
    }
    node_conf(w, &c);
    for (i = 0; i < c.n && raft_role(w->r) == RAFT_CANDIDATE; i++) {
        if (c.id[i] == w->self ||
            !(c.f[i] & (RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING))) {
            continue;
        }
        memset(&m, 0, sizeof(m));
        m.type = RAFT_MSG_VOTE_RESP;
        m.from = c.id[i];
        m.to = w->self;
        m.term = raft_current_term(w->r);
        m.u.vote_resp.granted = true;
        do_step(w, &m);
    }
}

/* Leader: members acknowledge its whole log. */
static void op_ack(struct world *w, struct fz *in)
{
    uint8_t b = fz_u8(in);
    struct raft_status st;
    struct raft_msg m;
    struct fconf c;
    size_t i;
    node_conf(w, &c);
    for (i = 0; i < c.n && raft_role(w->r) == RAFT_LEADER; i++) {
        raft_id id = c.id[(b + i) % c.n];
        if (id == w->self) {
            continue;
        }
        raft_status(w->r, &st);
        memset(&m, 0, sizeof(m));
        m.type = RAFT_MSG_APPEND_RESP;
        m.from = id;
        m.to = w->self;
        m.term = st.term;
        m.u.append_resp.success = true;
        m.u.append_resp.index = st.last_index;
        do_step(w, &m);
        if (!(b & 0x80)) {
            break; /* one member only */
        }
    }
}

/* The host asks for a linearizable read. */
static void op_read(struct world *w)
{
    struct raft_status b;
    uint64_t id = ++w->next_read;
    bool xfer, certain;
    int rc;
    if (w->n_reads == MAX_READS) {
        return; /* the harness tracks no more */
    }
    begin(w, &b);
    certain = b.role == RAFT_LEADER && w->xfer_to != 0;
    xfer = certain || (b.role == RAFT_LEADER && may_self_transfer(&b));
    /* Registered first: the read may settle before the call returns. */
    w->read_ids[w->n_reads++] = id;
    rc = raft_read_index(w->r, (void *)(uintptr_t)id);
    check_after(w, K_READ, rc, &b);
    if (rc != 0 && rc != RAFT_EAPPLY) {
        size_t k;
        for (k = 0; k < w->n_reads && w->read_ids[k] != id; k++) {
        }
        FZ_CHECK(k < w->n_reads, "refused read %llu settled (%d)", (ull)id, rc);
        w->read_ids[k] = w->read_ids[--w->n_reads];
    }
    if (b.role != RAFT_LEADER && (b.role != RAFT_FOLLOWER || b.leader == 0)) {
        FZ_CHECK(rc == RAFT_ENOTLEADER, "read on role %d (leader %llu) gave %d",
                 b.role, (ull)b.leader, rc);
    } else if (certain) {
        FZ_CHECK(rc == RAFT_ETRANSFER, "read during a transfer gave %d", rc);
    } else if (xfer && rc == RAFT_ETRANSFER) {
        /* the node's own hand-over */
    } else {
        FZ_CHECK(rc == 0 || rc == RAFT_ENOMEM || rc == RAFT_EFULL || rc == RAFT_EAPPLY,
                 "read on role %d gave %d", b.role, rc);
    }
    FZ_CHECK(w->persist_calls == 0, "a read persisted something");
}

/* ---- membership ------------------------------------------------------------ */

/* The first index of the leader's term in its log (its no-op or
 * configuration), or 0. */
static raft_index lead_first(const struct world *w, raft_term term)
{
    raft_index i, first = 0;
    /* Bounded by the disk's entries. */
    for (i = dlast(w); i > w->d.base && lterm(w, i) == term; i--) {
        first = i;
    }
    return first;
}

/* raft.h's rules for raft_propose_change, on the configuration in force
 * (not joint): 0 with the result in *out, or the refusal. */
static int model_change(const struct fconf *cur, const struct raft_change *ch,
                        size_t n, int joint, struct fconf *out)
{
    struct fconf nc;
    size_t i, j, changed = 0, voters = 0;
    bool to_joint;
    nc = *cur;
    nc.auto_leave = false;
    for (i = 0; i < n; i++) {
        for (j = 0; j < i; j++) {
            if (ch[j].id == ch[i].id) {
                return RAFT_EBADCONF; /* two changes of one id */
            }
        }
        for (j = 0; j < nc.n && nc.id[j] != ch[i].id; j++) {
        }
        switch (ch[i].type) {
        case RAFT_CHANGE_ADD_VOTER:
        case RAFT_CHANGE_ADD_LEARNER: {
            uint8_t f = ch[i].type == RAFT_CHANGE_ADD_VOTER ? RAFT_MEMBER_VOTER
                                                            : RAFT_MEMBER_LEARNER;
            if (j < nc.n && nc.f[j] == f) {
                return RAFT_EBADCONF; /* a voter added as a voter, ... */
            }
            if (j == nc.n) {
                if (nc.n == 255) {
                    return RAFT_EINVAL;
                }
                nc.id[nc.n++] = ch[i].id;
            }
            nc.f[j] = f;
            break;
        }
        default:
            if (j == nc.n || nc.f[j] == 0) {
                return RAFT_EBADCONF; /* not a member */
            }
            nc.f[j] = 0;
            break;
        }
    }
    for (i = 0; i < nc.n; i++) {
        bool was = (conf_flags(cur, nc.id[i]) & RAFT_MEMBER_VOTER) != 0;
        bool is = nc.f[i] == RAFT_MEMBER_VOTER;
        voters += is;
        changed += was != is;
    }
    if (voters == 0) {
        return RAFT_EBADCONF;
    }
    /* More than one voter in or out, or asked for: through a joint
     * configuration, in which the old voters keep a say (thesis 4.3). */
    to_joint = joint != RAFT_JOINT_AUTO || changed > 1;
    memset(out, 0, sizeof(*out));
    for (i = 0; i < nc.n; i++) {
        uint8_t f = nc.f[i];
        if (to_joint && (conf_flags(cur, nc.id[i]) & RAFT_MEMBER_VOTER)) {
            f |= RAFT_MEMBER_OUTGOING;
        }
        if (f != 0) {
            out->id[out->n] = nc.id[i];
            out->f[out->n++] = f;
        }
    }
    out->auto_leave = to_joint && joint != RAFT_JOINT_EXPLICIT;
    return 0;
}

/* After a configuration change the call said it appended at idx: the
 * entry is there, of the leader's term, and holds `want`. */
static void check_conf_entry(const struct world *w, raft_index idx, raft_term term,
                             const struct fconf *want)
{
    struct fconf got;
    const struct dent *e;
    FZ_CHECK(idx >= 1 && idx <= dlast(w), "configuration entry at %llu, log %llu",
             (ull)idx, (ull)dlast(w));
    e = dent_at(w, idx);
    FZ_CHECK(e->type == RAFT_ENTRY_CONFIG && e->term == term,
             "entry %llu: type %d term %llu", (ull)idx, e->type, (ull)e->term);
    conf_parse(e->buf, e->len, &got);
    FZ_CHECK(conf_same(&got, want), "entry %llu: %zu members (auto-leave %d), "
             "the rules give %zu (auto-leave %d)", (ull)idx, got.n,
             got.auto_leave, want->n, want->auto_leave);
}

/* raft_propose_change. Byte 0: bits 0-1 the number of changes (0: refused),
 * bits 2-3 the joint mode (3: unknown), bit 4 changes NULL. Then per change
 * a byte: bits 0-1 the type (3: unknown), bits 3-7 the id (below 30: one
 * of 1..MAX_IDS, 30: 0, 31: this node's). */
static void op_change(struct world *w, struct fz *in)
{
    struct raft_change ch[3];
    struct raft_status b, st;
    struct fconf cur, want;
    uint8_t h = fz_u8(in);
    size_t n = h & 3, i;
    int joint = (h >> 2) & 3, rc, model;
    bool args_ok = n > 0 && !(h & 0x10) && joint != 3, busy, xfer;
    raft_index idx = 0;
    if (joint == 3) {
        joint = h & 0x80 ? -1 : 3;
    }
    for (i = 0; i < n; i++) {
        uint8_t c = fz_u8(in);
        unsigned k = c >> 3;
        ch[i].type = (c & 3) == 3 ? (c & 4 ? 0 : 4) : 1 + (c & 3);
        ch[i].id = k < 30 ? 1 + k % MAX_IDS : k == 30 ? 0 : w->self;
        args_ok &= (c & 3) != 3 && ch[i].id != 0;
    }
    node_conf(w, &cur);
    begin(w, &b);
    xfer = b.role == RAFT_LEADER && w->xfer_to != 0;
    busy = b.joint || b.conf_index > b.commit || b.commit < lead_first(w, b.term);
    rc = raft_propose_change(w->r, h & 0x10 ? NULL : ch, n, joint, &idx);
    check_after(w, K_CONF, rc, &b);
    raft_status(w->r, &st);
    if (tracing()) {
        fprintf(stderr, "change: %zu changes, joint %d -> %d\n", n, joint, rc);
    }
    if (!args_ok) {
        FZ_CHECK(rc == RAFT_EINVAL || (b.role != RAFT_LEADER && rc == RAFT_ENOTLEADER),
                 "invalid change (%zu changes, joint %d) gave %d", n, joint, rc);
        return;
    }
    if (b.role != RAFT_LEADER) {
        FZ_CHECK(rc == RAFT_ENOTLEADER, "change on role %d gave %d", b.role, rc);
        return;
    }
    model = b.joint ? 0 : model_change(&cur, ch, n, joint, &want);
    if (rc == RAFT_ECONFBUSY) {
        FZ_CHECK(busy, "ECONFBUSY: joint %d, configuration at %llu, commit %llu, "
                 "term from %llu", b.joint, (ull)b.conf_index, (ull)b.commit,
                 (ull)lead_first(w, b.term));
        return;
    }
    if (rc == RAFT_ETRANSFER) {
        FZ_CHECK(xfer || may_self_transfer(&b), "ETRANSFER without a transfer");
        return;
    }
    if (rc == RAFT_EPERSIST || rc == RAFT_ENOMEM || rc == RAFT_ENOSPACE) {
        return; /* checked by check_after */
    }
    FZ_CHECK(!busy || model != 0, "change while busy (joint %d, configuration "
             "at %llu, commit %llu) gave %d", b.joint, (ull)b.conf_index,
             (ull)b.commit, rc);
    if (model != 0) {
        FZ_CHECK(rc == model || (busy && rc == RAFT_ECONFBUSY),
                 "change refused by the rules with %d gave %d", model, rc);
        return;
    }
    FZ_CHECK(rc == 0 || rc == RAFT_EAPPLY, "valid change gave %d", rc);
    FZ_CHECK(idx == b.last_index + 1 && st.last_index >= idx,
             "change at %llu, log %llu -> %llu", (ull)idx, (ull)b.last_index,
             (ull)st.last_index);
    check_conf_entry(w, idx, b.term, &want);
}

/* raft_leave_joint. */
static void op_leave(struct world *w)
{
    struct raft_status b, st;
    struct fconf cur, want;
    raft_index idx = 0;
    size_t i;
    bool busy;
    int rc;
    node_conf(w, &cur);
    begin(w, &b);
    busy = b.conf_index > b.commit || b.commit < lead_first(w, b.term);
    rc = raft_leave_joint(w->r, &idx);
    check_after(w, K_CONF, rc, &b);
    raft_status(w->r, &st);
    if (b.role != RAFT_LEADER) {
        FZ_CHECK(rc == RAFT_ENOTLEADER, "leave on role %d gave %d", b.role, rc);
        return;
    }
    if (rc == RAFT_EPERSIST || rc == RAFT_ENOMEM || rc == RAFT_ENOSPACE ||
        (rc == RAFT_ETRANSFER && (w->xfer_to != 0 || may_self_transfer(&b)))) {
        return;
    }
    if (!b.joint) {
        FZ_CHECK(rc == RAFT_EBADCONF || (busy && rc == RAFT_ECONFBUSY),
                 "leaving a configuration that is not joint gave %d", rc);
        return;
    }
    if (busy) {
        FZ_CHECK(rc == RAFT_ECONFBUSY, "leave before the joint entry is "
                 "committed gave %d", rc);
        return;
    }
    FZ_CHECK(rc == 0 || rc == RAFT_EAPPLY, "leave gave %d", rc);
    memset(&want, 0, sizeof(want));
    for (i = 0; i < cur.n; i++) {
        uint8_t f = cur.f[i] & (uint8_t)~RAFT_MEMBER_OUTGOING;
        if (f != 0) {
            want.id[want.n] = cur.id[i];
            want.f[want.n++] = f;
        }
    }
    FZ_CHECK(idx == b.last_index + 1, "leave at %llu, log %llu", (ull)idx,
             (ull)b.last_index);
    check_conf_entry(w, idx, b.term, &want);
}

/* raft_transfer_leadership. Byte: below 0xc0 an id of 1..MAX_IDS, then 0,
 * this node, a stranger. */
static void op_transfer(struct world *w, struct fz *in)
{
    uint8_t x = fz_u8(in);
    raft_id id = x < 0xc0 ? 1 + x % MAX_IDS : x < 0xd0 ? 0 : x < 0xe0 ? w->self : 100;
    struct raft_status b;
    struct fconf cur;
    bool voter, active;
    int rc;
    node_conf(w, &cur);
    /* A member of the outgoing group only is on its way out: refused. */
    voter = (conf_flags(&cur, id) & RAFT_MEMBER_VOTER) != 0;
    begin(w, &b);
    active = w->xfer_to != 0;
    if (b.role == RAFT_LEADER && !active) {
        /* Taken before the call returns: its TimeoutNow may be sent in it. */
        w->xfer_to = id;
        w->xfer_term = b.term;
    }
    rc = raft_transfer_leadership(w->r, id);
    if (rc != 0 && !active) {
        w->xfer_to = 0;
    }
    check_after(w, K_TRANSFER, rc, &b);
    if (tracing()) {
        fprintf(stderr, "transfer to %llu -> %d\n", (ull)id, rc);
    }
    if (b.role != RAFT_LEADER) {
        FZ_CHECK(rc == RAFT_ENOTLEADER || (rc == RAFT_EINVAL && (id == 0 || id == w->self)),
                 "transfer on role %d gave %d", b.role, rc);
    } else if (id == 0 || id == w->self) {
        FZ_CHECK(rc == RAFT_EINVAL, "transfer to %llu gave %d", (ull)id, rc);
    } else if (!voter) {
        FZ_CHECK(rc == RAFT_EBADCONF || (active && rc == RAFT_ETRANSFER),
                 "transfer to non-voter %llu gave %d", (ull)id, rc);
    } else if (active || may_self_transfer(&b)) {
        FZ_CHECK(rc == RAFT_ETRANSFER || (!active && rc == 0),
                 "second transfer gave %d", rc);
    } else {
        FZ_CHECK(rc == 0 || rc == RAFT_EAPPLY, "transfer to voter %llu gave %d",
                 (ull)id, rc);
    }
    FZ_CHECK(w->persist_calls == 0, "a transfer persisted something");
}

static void run_op(struct world *w, struct fz *in)
{
    uint8_t op = fz_u8(in);
    bool alt = (op / FZ_OP_COUNT) & 1;
    struct raft_buf bufs[MAX_BATCH];
    size_t i, n;
    if (tracing()) {
        fprintf(stderr, "op %u (byte %u at %zu)\n", op % FZ_OP_COUNT, op,
                trace_size - in->n - 1);
    }
    switch (op % FZ_OP_COUNT) {
    case FZ_OP_TICK:
        for (n = 1 + fz_u8(in) % 4u; n > 0; n--) {
            do_tick(w);
        }
        break;
    case FZ_OP_STEP:
        op_step(w, in, 1 + fz_u8(in) % 4, alt);
        break;
    case FZ_OP_STEP_VOTE:
        op_step(w, in, RAFT_MSG_VOTE, alt);
        break;
    case FZ_OP_STEP_VRESP:
        op_step(w, in, RAFT_MSG_VOTE_RESP, alt);
        break;
    case FZ_OP_STEP_APPEND:
        op_step(w, in, RAFT_MSG_APPEND, alt);
        break;
    case FZ_OP_STEP_ARESP:
        op_step(w, in, RAFT_MSG_APPEND_RESP, alt);
        break;
    case FZ_OP_STEP_WIRE:
        op_step_wire(w, in);
        break;
    case FZ_OP_PROPOSE:
        pick_payload(in, &bufs[0]);
        do_propose(w, bufs, 1, true);
        break;
    case FZ_OP_BATCH:
        n = fz_u8(in) % (MAX_BATCH + 1);
        for (i = 0; i < n; i++) {
            pick_payload(in, &bufs[i]);
        }
        do_propose(w, n == 0 && alt ? NULL : bufs, n, false);
        break;
    case FZ_OP_FAULT:
        op_fault(w, in);
        if (tracing()) {
            fprintf(stderr, "fault: state %u entries %u (partial %u) send %u "
                    "apply %u alloc %lu read %u write %u install %u\n",
                    w->fail_state, w->fail_entries, w->partial, w->fail_send,
                    w->fail_apply, w->h.fail_in, w->fail_read, w->fail_write,
                    w->fail_install);
        }
        break;
    case FZ_OP_RESTART:
        if (tracing()) {
            fprintf(stderr, "restart\n");
        }
        node_stop(w);
        node_start(w, false);
        break;
    case FZ_OP_ELECT:
        op_elect(w);
        break;
    case FZ_OP_ACK:
        op_ack(w, in);
        break;
    case FZ_OP_STEP_SNAP:
        op_step(w, in, RAFT_MSG_SNAPSHOT, alt);
        break;
    case FZ_OP_STEP_SRESP:
        op_step(w, in, RAFT_MSG_SNAPSHOT_RESP, alt);
        break;
    case FZ_OP_STEP_NEW:
        op_step(w, in, RAFT_MSG_PREVOTE + fz_u8(in) % 6, alt);
        break;
    case FZ_OP_READ:
        op_read(w);
        break;
    case FZ_OP_CHANGE:
        op_change(w, in);
        break;
    case FZ_OP_LEAVE_JOINT:
        op_leave(w);
        break;
    case FZ_OP_TRANSFER:
        op_transfer(w, in);
        break;
    case FZ_OP_STEP_XFER:
        op_step_x(w, in, alt ? RAFT_MSG_VOTE : RAFT_MSG_TIMEOUT_NOW, fz_u8(in) & 1,
                  true, true);
        break;
    case FZ_OP_STEP_ANY:
        op_step_x(w, in, 1 + fz_u8(in) % RAFT_MSG_TIMEOUT_NOW, alt, false, true);
        break;
    default:
        op_compact(w, in);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in = {data, size};
    struct world w;
    uint8_t setup, start;
    size_t i;

    memset(&w, 0, sizeof(w));
    trace_size = size;
    setup = fz_u8(&in);
    w.n = setup & 1 ? 5 : 3;
    for (i = 0; i < w.n; i++) {
        w.ids[i] = i + 1;
    }
    w.self = w.ids[(setup >> 1) % w.n];
    w.cfg.election_ticks = CFG_ELECTION;
    w.cfg.heartbeat_ticks = CFG_HEARTBEAT;
    w.cfg.seed = fz_u8(&in);
    w.cfg.max_msg_entries = CFG_MAX_ENTRIES;
    w.cfg.max_msg_bytes = CFG_MAX_BYTES;
    w.cfg.max_inflight = CFG_INFLIGHT;
    w.cfg.allocator.ctx = &w.h;
    w.cfg.allocator.alloc = h_alloc;
    w.cfg.allocator.realloc = h_realloc;
    w.cfg.allocator.free = h_free;
    start = fz_u8(&in);
    if (start & 0x80) {
        w.joined = true; /* not in the bootstrap list, which it never sees */
        w.self = w.n + 1;
    } else {
        w.boot_conf_len = boot_list(&w, w.boot_conf);
    }
    w.cfg.id = w.self;
    w.snap_cbs = !(start & 2);
    w.cfg.snapshot_trailing = 1 + ((start >> 2) & 3);
    w.cfg.disable_pre_vote = !(start & 0x10);
    w.cfg.disable_check_quorum = !(start & 0x20);
    w.cfg.lease_reads = (start & 0x60) == 0x60;
    w.cfg.max_pending_reads = 8;
    if (start & 1) {
        initial_log(&w, &in);
        node_start(&w, false);
    } else {
        node_start(&w, true);
    }

    while (in.n > 0) {
        run_op(&w, &in);
    }

    node_stop(&w);
    disk_truncate(&w.d, 0);
    free(w.d.e);
    hsnap_free(&w.hs);
    hsnap_free(&w.hs_prev);
    free(w.rx.data);
    free(w.base_conf);
    return 0;
}
