/*
 * bench.c - benchmark of the raft library (see README.md in this directory).
 *
 *   bench w1 --voters 3 --batch 64 --n 100000 [--runs 5] [--seed S]
 *   bench w1-once --voters 3 --batch 64 --n 100000 [--seed S]   (callgrind)
 *   bench w2 --election 10 --heartbeat 1 [--seeds 1000] [--seed S]
 *   bench w3 [--n 100000] [--seed S]
 *   bench w5 [--n 20000] [--delay D] [--seed S]
 *   bench w6 [--n 10000000] [--check 1000000] [--every 100000] [--seed S]
 *   bench w7 [--size 104857600] [--msg-bytes M] [--inflight-bytes I]
 *            [--n 10000] [--trailing 64] [--seed S]
 *   (w1, w1-once and w5 take --async 1 for asynchronous persistence)
 *
 * Every cluster lives in this process: a message queue stands in for the
 * network, the persistence callbacks keep nothing but the last index, and
 * an allocator hook counts what each node allocates. Runs are deterministic
 * for a given seed. The benchmark prints figures; it exits non-zero only
 * when a run is invalid (the library misbehaved, so the figure would be
 * meaningless), never because of a number.
 */
#include "raft.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_NODES 5
#define PAYLOAD 64 /* bytes per proposed entry */

/* Asynchronous persistence (--async 1): each node's disk completes every
 * write it was given as soon as the library call that started it returns,
 * through raft_persisted(). */
static int g_async;

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2), noreturn))
#endif
static void die(const char *fmt, ...);

static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "bench: error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

/* ---- deterministic randomness ------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static uint64_t rng_next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15u;
    return mix64(*s);
}

/* The value carried in the first 8 bytes of the i-th proposed entry. */
static uint64_t entry_value(uint64_t seed, uint64_t i)
{
    return mix64(seed * 0x100000001b3u ^ i);
}

/* ---- counting allocator ------------------------------------------------- */

struct alloc_stats {
    size_t cur;          /* bytes currently allocated (requested sizes) */
    size_t peak;
    uint64_t n_alloc;    /* alloc calls */
    uint64_t n_realloc;  /* realloc calls */
    uint64_t n_free;     /* free calls */
};

/* Each block carries its requested size in a header, so that frees and
 * reallocs are accounted exactly. */
union hdr {
    max_align_t align;
    size_t size;
};

static void *hook_alloc(void *ctx, size_t size)
{
    struct alloc_stats *as = ctx;
    union hdr *h = malloc(sizeof *h + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    as->n_alloc++;
    as->cur += size;
    if (as->cur > as->peak)
        as->peak = as->cur;
    return h + 1;
}

static void *hook_realloc(void *ctx, void *ptr, size_t size)
{
    struct alloc_stats *as = ctx;
    union hdr *h;
    size_t old;
    if (ptr == NULL) {
        void *p = hook_alloc(ctx, size);
        if (p != NULL) {
            as->n_alloc--; /* counted as a realloc call below */
            as->n_realloc++;
        }
        return p;
    }
    h = (union hdr *)ptr - 1;
    old = h->size;
    h = realloc(h, sizeof *h + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    as->n_realloc++;
    as->cur = as->cur - old + size;
    if (as->cur > as->peak)
        as->peak = as->cur;
    return h + 1;
}

static void hook_free(void *ctx, void *ptr)
{
    struct alloc_stats *as = ctx;
    union hdr *h = (union hdr *)ptr - 1;
    as->n_free++;
    as->cur -= h->size;
    free(h);
}

/* ---- message queue (the network) ---------------------------------------- */

/* A message deep-copied out of the send callback (the library's buffers are
 * only borrowed): entries and payloads live in one heap block. */
struct qmsg {
    struct raft_msg m;
    void *blk;
};

struct queue {
    struct qmsg *v;
    size_t head, tail, cap;
};

static void queue_push(struct queue *q, const struct raft_msg *m)
{
    struct qmsg *e;
    if (q->tail == q->cap) {
        if (q->head > 0 && q->head >= q->cap / 2) {
            memmove(q->v, q->v + q->head, (q->tail - q->head) * sizeof *q->v);
            q->tail -= q->head;
            q->head = 0;
        } else {
            size_t cap = q->cap ? q->cap * 2 : 256;
            struct qmsg *v = realloc(q->v, cap * sizeof *v);
            if (v == NULL)
                die("out of memory (queue of %zu)", cap);
            q->v = v;
            q->cap = cap;
        }
    }
    e = &q->v[q->tail++];
    e->m = *m;
    e->blk = NULL;
    if (m->type == RAFT_MSG_APPEND && m->u.append.n_entries > 0) {
        size_t n = m->u.append.n_entries, bytes = n * sizeof(struct raft_entry);
        const struct raft_entry *src = m->u.append.entries;
        struct raft_entry *es;
        unsigned char *p;
        size_t i;
        for (i = 0; i < n; i++)
            bytes += src[i].len;
        es = malloc(bytes);
        if (es == NULL)
            die("out of memory (message of %zu bytes)", bytes);
        p = (unsigned char *)(es + n);
        for (i = 0; i < n; i++) {
            es[i] = src[i];
            if (src[i].len > 0) {
                memcpy(p, src[i].buf, src[i].len);
                es[i].buf = p;
                p += src[i].len;
            } else {
                es[i].buf = NULL;
            }
        }
        e->m.u.append.entries = es;
        e->blk = es;
    }
}

static int queue_empty(const struct queue *q) { return q->head == q->tail; }

/* Take the oldest message (FIFO) or, with rng != NULL, a random one. */
static struct qmsg queue_pop(struct queue *q, uint64_t *rng)
{
    struct qmsg e;
    if (rng != NULL) {
        size_t i = q->head + (size_t)(rng_next(rng) % (q->tail - q->head));
        e = q->v[i];
        q->v[i] = q->v[q->head];
    } else {
        e = q->v[q->head];
    }
    q->head++;
    if (q->head == q->tail)
        q->head = q->tail = 0;
    return e;
}

static void queue_clear(struct queue *q)
{
    while (!queue_empty(q))
        free(queue_pop(q, NULL).blk);
    free(q->v);
    memset(q, 0, sizeof *q);
}

/* ---- cluster ------------------------------------------------------------ */

struct cluster;

/* A host's snapshot of its state machine (W6, W7): the state at `index`.
 * As bytes it is SNAP_HDR bytes of header (index, sum, cmds, little-endian)
 * followed by deterministic filler up to the cluster's snap_size, generated
 * on the fly from the header: W7's 100 MiB is never held in memory. */
#define SNAP_HDR 24
struct snap {
    raft_index index;
    uint64_t sum;  /* the state machine at index */
    uint64_t cmds; /* command entries it has applied */
};

struct node {
    struct cluster *c;
    struct raft *r;
    raft_id id;
    struct alloc_stats as;
    uint64_t sum;         /* the state machine: sum of first 8 bytes */
    uint64_t n_cmds;      /* command entries applied */
    raft_index applied;   /* last index applied */
    raft_index persisted; /* last index persisted */
    raft_term term;       /* persisted term and vote */
    raft_id vote;
    size_t pending;       /* asynchronous mode: writes not yet reported */
};

/* A node's host's snapshots (W6, W7 only). Kept out of struct node, whose
 * size W1's compiled code depends on. */
struct host {
    struct snap snap;     /* the latest snapshot, index 0: none */
    int compact_due;      /* snap is newer than what raft_compact was told */
    unsigned char *chunk; /* snapshot_read's buffer (one chunk) */
    size_t chunk_cap;
    uint64_t rx_len;      /* snapshot being received: bytes written, */
    uint64_t rx_hash;     /* their running FNV-1a hash */
    unsigned char rx_hdr[SNAP_HDR]; /* and its header */
    size_t rx_max_chunk;  /* largest chunk snapshot_write was given */
};

struct cluster {
    size_t n;
    struct node nodes[MAX_NODES];
    raft_id voters[MAX_NODES];
    struct queue q;
    uint64_t n_msgs;                    /* messages sent, all nodes */
    uint64_t appends[MAX_NODES + 1];    /* AppendEntries sent, per node */
    raft_id cut;                        /* drop all to/from this node */
    raft_id slow;                       /* W5: links of this node are slow */
    struct qmsg *late;                  /* W5: messages on slow links, */
    uint64_t *late_due;                 /* with their delivery tick, FIFO */
    size_t late_head, late_len, late_cap;
    uint64_t now;                       /* W5: ticks so far */
    uint64_t delay;                     /* W5: one-way delay in ticks */
    uint64_t wire_bytes;                /* W5: encoded bytes sent */
    raft_id leader;                     /* whose applies free proposal slots */
    uint64_t freed;                     /* commands applied there, unrefilled */
    int strict;                         /* any rejected message is fatal */
    uint64_t n_rejected[16];            /* raft_step errors, by -code */
    int bad_apply;
    /* Snapshots (W6, W7 only). */
    struct host hosts[MAX_NODES];       /* node i's is hosts[i] */
    uint64_t snap_size;                 /* bytes of every host snapshot */
    raft_index compact_every;           /* W6: hosts snapshot at multiples */
    uint64_t compactions;               /* raft_compact calls by the hosts */
    uint64_t snap_q[MAX_NODES + 1];     /* chunk bytes queued to each node */
    uint64_t snap_q_peak[MAX_NODES + 1];/* the most at any time */
    uint64_t snap_msgs[RAFT_MSG_SNAPSHOT_RESP + 1]; /* chunks and replies
                                           sent, */
    uint64_t snap_wire;                 /* their raft_msg_encode bytes */
    int bad_snapshot;                   /* a chunk out of order, or an
                                           installed snapshot that does not
                                           match its header */
};

static int cb_send(struct raft *r, void *ctx, const struct raft_msg *msg)
{
    struct node *nd = ctx;
    struct cluster *c = nd->c;
    (void)r;
    c->n_msgs++;
    if (msg->type == RAFT_MSG_APPEND && msg->from <= MAX_NODES)
        c->appends[msg->from]++;
    if (c->cut != 0 && (msg->from == c->cut || msg->to == c->cut))
        return 0; /* handed to the network, which loses it */
    if (c->slow != 0) { /* W5 only: size it on the wire, maybe delay it */
        size_t len = 0;
        if (raft_msg_encode(msg, NULL, 0, &len) != RAFT_ENOBUFS)
            die("raft_msg_encode failed on a message the library sent");
        c->wire_bytes += len;
        if (msg->from == c->slow || msg->to == c->slow) {
            struct queue tmp = {NULL, 0, 0, 0};
            if (c->late_head + c->late_len == c->late_cap) {
                c->late_cap = c->late_cap ? 2 * c->late_cap : 256;
                c->late = realloc(c->late, c->late_cap * sizeof *c->late);
                c->late_due = realloc(c->late_due,
                                      c->late_cap * sizeof *c->late_due);
                if (c->late == NULL || c->late_due == NULL)
                    die("out of memory");
            }
            queue_push(&tmp, msg); /* deep copy */
            c->late[c->late_head + c->late_len] = queue_pop(&tmp, NULL);
            c->late_due[c->late_head + c->late_len] = c->now + c->delay;
            c->late_len++;
            free(tmp.v);
            return 0;
        }
    }
    queue_push(&c->q, msg);
    return 0;
}

static int cb_persist_state(struct raft *r, void *ctx, raft_term term,
                            raft_id vote)
{
    struct node *nd = ctx;
    (void)r;
    nd->term = term;
    nd->vote = vote;
    nd->pending += g_async != 0;
    return 0;
}

static int cb_persist_entries(struct raft *r, void *ctx, raft_index first,
                              const struct raft_entry *entries, size_t n)
{
    struct node *nd = ctx;
    (void)r;
    (void)entries;
    nd->persisted = first + n - 1;
    nd->pending += g_async != 0;
    return 0;
}

/* Asynchronous mode: the disk reports every write given to it. */
static void disk_done(struct node *nd)
{
    int rc;
    if (nd->pending == 0)
        return;
    rc = raft_persisted(nd->r, nd->pending, 0);
    nd->pending = 0;
    if (rc != 0)
        die("raft_persisted(node %" PRIu64 ") returned %d (%s)", nd->id, rc,
            raft_strerror(rc));
}

static int cb_apply(struct raft *r, void *ctx, raft_index index,
                    const struct raft_entry *entry)
{
    struct node *nd = ctx;
    (void)r;
    if (index != nd->applied + 1)
        nd->c->bad_apply = 1;
    nd->applied = index;
    if (entry->type == RAFT_ENTRY_COMMAND) {
        uint64_t v = 0;
        if (entry->len >= sizeof v)
            memcpy(&v, entry->buf, sizeof v);
        else
            nd->c->bad_apply = 1;
        nd->sum += v;
        nd->n_cmds++;
        if (nd->id == nd->c->leader)
            nd->c->freed++;
    }
    return 0;
}

static const struct raft_callbacks callbacks = {
    .send = cb_send,
    .persist_state = cb_persist_state,
    .persist_entries = cb_persist_entries,
    .apply = cb_apply,
};

/* ---- snapshots (W6, W7) -------------------------------------------------- */

#define FNV_OFFSET 0xcbf29ce484222325u
#define FNV_PRIME 0x100000001b3u

static void put_le64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Bytes off .. off+len-1 of the snapshot s (see struct snap). */
static void snap_bytes(const struct snap *s, uint64_t off, unsigned char *p,
                       size_t len)
{
    unsigned char hdr[SNAP_HDR];
    uint64_t salt = mix64(s->index ^ 0x5eed5eedu), w = 0;
    size_t i;
    put_le64(hdr, s->index);
    put_le64(hdr + 8, s->sum);
    put_le64(hdr + 16, s->cmds);
    for (i = 0; i < len; i++) {
        uint64_t o = off + i;
        if (o < SNAP_HDR) {
            p[i] = hdr[o];
            continue;
        }
        if (i == 0 || (o & 7) == 0) /* SNAP_HDR is a multiple of 8 */
            w = mix64(salt ^ (o >> 3));
        p[i] = (unsigned char)(w >> (8 * (o & 7)));
    }
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++)
        h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

/* FNV-1a of the whole snapshot s of `size` bytes, generated piecewise. */
static uint64_t snap_hash(const struct snap *s, uint64_t size)
{
    unsigned char buf[65536];
    uint64_t off, h = FNV_OFFSET;
    for (off = 0; off < size; off += sizeof buf) {
        size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
        snap_bytes(s, off, buf, n);
        h = fnv1a(h, buf, n);
    }
    return h;
}

static struct host *host_of(struct node *nd)
{
    return &nd->c->hosts[nd->id - 1];
}

/* Snapshot chunks need a copy of their data (borrowed by the send
 * callback), and the network's chunk bytes toward each node are counted;
 * every other message goes through cb_send, which W1 uses. */
static int cb_send_snap(struct raft *r, void *ctx, const struct raft_msg *msg)
{
    struct node *nd = ctx;
    struct cluster *c = nd->c;
    struct qmsg *e;
    size_t len = 0;
    if (msg->type == RAFT_MSG_SNAPSHOT || msg->type == RAFT_MSG_SNAPSHOT_RESP) {
        if (raft_msg_encode(msg, NULL, 0, &len) != RAFT_ENOBUFS)
            die("raft_msg_encode failed on a message the library sent");
        c->snap_wire += len;
        c->snap_msgs[msg->type]++;
    }
    if (msg->type != RAFT_MSG_SNAPSHOT)
        return cb_send(r, ctx, msg);
    c->n_msgs++;
    if (msg->to == 0 || msg->to > MAX_NODES)
        die("snapshot chunk to unknown node %" PRIu64, msg->to);
    if (c->cut != 0 && (msg->from == c->cut || msg->to == c->cut))
        return 0; /* handed to the network, which loses it */
    queue_push(&c->q, msg);
    e = &c->q.v[c->q.tail - 1];
    len = msg->u.snapshot.len;
    if (len > 0) {
        e->blk = malloc(len);
        if (e->blk == NULL)
            die("out of memory (chunk of %zu bytes)", len);
        memcpy(e->blk, msg->u.snapshot.data, len);
        e->m.u.snapshot.data = e->blk;
    }
    c->snap_q[msg->to] += len;
    if (c->snap_q[msg->to] > c->snap_q_peak[msg->to])
        c->snap_q_peak[msg->to] = c->snap_q[msg->to];
    return 0;
}

/* W6: the host snapshots its state at every multiple of compact_every;
 * it tells the node (raft_compact, a mutating call) once the driving call
 * has returned, in compact_due(). */
static int cb_apply_snap(struct raft *r, void *ctx, raft_index index,
                         const struct raft_entry *entry)
{
    struct node *nd = ctx;
    struct host *h = host_of(nd);
    raft_index every = nd->c->compact_every;
    int rc = cb_apply(r, ctx, index, entry);
    if (rc == 0 && every != 0 && index % every == 0) {
        h->snap.index = index;
        h->snap.sum = nd->sum;
        h->snap.cmds = nd->n_cmds;
        h->compact_due = 1;
    }
    return rc;
}

static int cb_snapshot_read(struct raft *r, void *ctx, raft_index index,
                            uint64_t offset, size_t max, const void **data,
                            size_t *len, bool *last)
{
    struct node *nd = ctx;
    struct host *h = host_of(nd);
    uint64_t size = nd->c->snap_size;
    size_t n;
    (void)r;
    if (index != h->snap.index || offset > size)
        return -1; /* not the host's latest snapshot */
    n = size - offset < max ? (size_t)(size - offset) : max;
    if (n > h->chunk_cap) {
        unsigned char *p = realloc(h->chunk, n);
        if (p == NULL)
            die("out of memory (chunk of %zu bytes)", n);
        h->chunk = p;
        h->chunk_cap = n;
    }
    snap_bytes(&h->snap, offset, h->chunk, n);
    *data = h->chunk;
    *len = n;
    *last = offset + n == size;
    return 0;
}

/* The receiving host keeps a running hash and the length, as if it
 * streamed the chunks to disk, and the header (its future state). */
static int cb_snapshot_write(struct raft *r, void *ctx,
                             const struct raft_snapshot_meta *meta,
                             uint64_t offset, const void *data, size_t len)
{
    struct node *nd = ctx;
    struct host *h = host_of(nd);
    const unsigned char *p = data;
    size_t i;
    (void)r;
    (void)meta;
    if (offset == 0) {
        h->rx_len = 0;
        h->rx_hash = FNV_OFFSET;
        memset(h->rx_hdr, 0, sizeof h->rx_hdr);
    }
    if (offset != h->rx_len) {
        nd->c->bad_snapshot = 1; /* the library promises order */
        return -1;
    }
    for (i = 0; i < len && offset + i < SNAP_HDR; i++)
        h->rx_hdr[offset + i] = p[i];
    h->rx_hash = fnv1a(h->rx_hash, p, len);
    h->rx_len += len;
    if (len > h->rx_max_chunk)
        h->rx_max_chunk = len;
    return 0;
}

/* Check the received bytes against what the header says the snapshot is
 * (regenerating it), then load the state. */
static int cb_snapshot_install(struct raft *r, void *ctx,
                               const struct raft_snapshot_meta *meta,
                               bool keep)
{
    struct node *nd = ctx;
    struct host *h = host_of(nd);
    struct cluster *c = nd->c;
    struct snap s;
    (void)r;
    s.index = get_le64(h->rx_hdr);
    s.sum = get_le64(h->rx_hdr + 8);
    s.cmds = get_le64(h->rx_hdr + 16);
    if (h->rx_len != c->snap_size || s.index != meta->index ||
        h->rx_hash != snap_hash(&s, c->snap_size)) {
        c->bad_snapshot = 1;
        return -1;
    }
    h->snap = s;
    nd->applied = s.index;
    nd->sum = s.sum;
    nd->n_cmds = s.cmds;
    if (!keep || nd->persisted < s.index)
        nd->persisted = s.index;
    nd->pending += g_async != 0;
    return 0;
}

static const struct raft_callbacks snap_callbacks = {
    .send = cb_send_snap,
    .persist_state = cb_persist_state,
    .persist_entries = cb_persist_entries,
    .apply = cb_apply_snap,
    .snapshot_read = cb_snapshot_read,
    .snapshot_write = cb_snapshot_write,
    .snapshot_install = cb_snapshot_install,
};

/* Limits of the snapshot clusters (W6, W7); 0 selects the default. */
struct snap_opts {
    uint64_t trailing;           /* cfg.snapshot_trailing */
    uint32_t max_msg_bytes;      /* cfg.max_msg_bytes */
    uint32_t max_inflight_bytes; /* cfg.max_inflight_bytes */
};

/* A cluster of n voters; with so != NULL its hosts keep snapshots (the
 * snapshot callbacks are set) and so's limits apply. */
static struct cluster *cluster_create(size_t n, unsigned election,
                                      unsigned heartbeat, uint64_t seed,
                                      const struct snap_opts *so)
{
    struct cluster *c = calloc(1, sizeof *c);
    size_t i;
    int rc;
    if (c == NULL)
        die("out of memory");
    c->n = n;
    for (i = 0; i < n; i++)
        c->voters[i] = (raft_id)(i + 1);
    for (i = 0; i < n; i++) {
        struct node *nd = &c->nodes[i];
        struct raft_config cfg;
        memset(&cfg, 0, sizeof cfg);
        nd->c = c;
        nd->id = (raft_id)(i + 1);
        cfg.id = nd->id;
        cfg.election_ticks = election;
        cfg.heartbeat_ticks = heartbeat;
        cfg.seed = mix64(seed ^ mix64(nd->id));
        cfg.async_persist = g_async != 0;
        cfg.allocator.ctx = &nd->as;
        cfg.allocator.alloc = hook_alloc;
        cfg.allocator.realloc = hook_realloc;
        cfg.allocator.free = hook_free;
        if (so != NULL) {
            cfg.snapshot_trailing = so->trailing;
            cfg.max_msg_bytes = so->max_msg_bytes;
            cfg.max_inflight_bytes = so->max_inflight_bytes;
        }
        rc = raft_create(&cfg, so != NULL ? &snap_callbacks : &callbacks, nd,
                         &nd->r);
        if (rc != 0)
            die("raft_create: %s (%d)", raft_strerror(rc), rc);
        rc = raft_bootstrap(nd->r, c->voters, n);
        if (rc != 0)
            die("raft_bootstrap: %s (%d)", raft_strerror(rc), rc);
    }
    return c;
}

static struct cluster *cluster_new(size_t n, unsigned election,
                                   unsigned heartbeat, uint64_t seed)
{
    return cluster_create(n, election, heartbeat, seed, NULL);
}

static void cluster_free(struct cluster *c)
{
    size_t i;
    for (i = 0; i < c->n; i++) {
        raft_destroy(c->nodes[i].r);
        free(c->hosts[i].chunk);
    }
    queue_clear(&c->q);
    free(c);
}

static struct node *node_of(struct cluster *c, raft_id id)
{
    if (id == 0 || id > c->n)
        die("message to unknown node %" PRIu64, id);
    return &c->nodes[id - 1];
}

/* Deliver one message (FIFO, or random with rng). Returns 0 if none. */
static int deliver_one(struct cluster *c, uint64_t *rng)
{
    struct qmsg e;
    int rc;
    if (queue_empty(&c->q))
        return 0;
    e = queue_pop(&c->q, rng);
    if (c->cut != 0 && (e.m.from == c->cut || e.m.to == c->cut)) {
        free(e.blk);
        return 1;
    }
    rc = raft_step(node_of(c, e.m.to)->r, &e.m);
    free(e.blk);
    disk_done(node_of(c, e.m.to));
    if (rc != 0) {
        if (c->strict) {
            fprintf(stderr,
                    "bench: error: raft_step(node %" PRIu64 ", type %d from %"
                    PRIu64 " term %" PRIu64 ") returned %d (%s) in a "
                    "fault-free run\n",
                    e.m.to, e.m.type, e.m.from, e.m.term, rc,
                    raft_strerror(rc));
            exit(1);
        }
        c->n_rejected[(-rc) & 15]++;
    }
    return 1;
}

static void deliver_all(struct cluster *c, uint64_t *rng)
{
    while (deliver_one(c, rng))
        ;
}

static void tick(struct node *nd)
{
    int rc = raft_tick(nd->r);
    if (rc != 0) {
        fprintf(stderr, "bench: error: raft_tick(node %" PRIu64 ") returned "
                "%d (%s)\n", nd->id, rc, raft_strerror(rc));
        exit(1);
    }
    disk_done(nd);
}

/* All nodes have applied everything the leader has in its log. */
static int all_applied(struct cluster *c, struct node *leader)
{
    struct raft_status st;
    size_t i;
    raft_status(leader->r, &st);
    for (i = 0; i < c->n; i++)
        if (c->nodes[i].applied != st.last_index)
            return 0;
    return 1;
}

/* Tick node 1 alone until it is leader, delivering FIFO after each tick,
 * then heartbeat until every node applied the leader's no-op. */
static struct node *elect_first(struct cluster *c)
{
    struct node *l = &c->nodes[0];
    int i;
    for (i = 0; raft_role(l->r) != RAFT_LEADER; i++) {
        if (i > 10000)
            die("node 1 did not become leader after %d ticks", i);
        tick(l);
        deliver_all(c, NULL);
    }
    for (i = 0; !all_applied(c, l); i++) {
        if (i > 1000)
            die("followers did not apply the no-op after %d heartbeats", i);
        tick(l);
        deliver_all(c, NULL);
    }
    return l;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- W1 / W3 load: N entries with B outstanding ------------------------- */

struct load {
    uint64_t seed;
    uint64_t proposed;
    uint64_t expected; /* sum of the proposed values */
    size_t batch;
    struct raft_buf *bufs;
    unsigned char *payloads; /* batch * PAYLOAD bytes, reused */
};

static void propose(struct node *l, struct load *ld, size_t k)
{
    size_t i;
    int rc;
    for (i = 0; i < k; i++) {
        unsigned char *p = ld->payloads + i * PAYLOAD;
        uint64_t v = entry_value(ld->seed, ld->proposed + i);
        memcpy(p, &v, sizeof v);
        memset(p + sizeof v, (int)(v & 0xff), PAYLOAD - sizeof v);
        ld->bufs[i].base = p;
        ld->bufs[i].len = PAYLOAD;
        ld->expected += v;
    }
    if (ld->batch == 1)
        rc = raft_propose(l->r, ld->bufs[0].base, ld->bufs[0].len, NULL);
    else
        rc = raft_propose_batch(l->r, ld->bufs, k, NULL);
    if (rc != 0) {
        fprintf(stderr, "bench: error: raft_propose%s(%zu) after %" PRIu64
                " proposals returned %d (%s)\n",
                ld->batch == 1 ? "" : "_batch", k, ld->proposed, rc,
                raft_strerror(rc));
        exit(1);
    }
    disk_done(l);
    ld->proposed += k;
}

/* Commit and apply n entries on every node, batch outstanding. The cluster
 * must have a leader (l). No ticks until the leader has applied all of
 * them; then the leader heartbeats until the followers have too. */
static void run_load(struct cluster *c, struct node *l, size_t batch,
                     uint64_t n, uint64_t seed, uint64_t *expected)
{
    struct load ld;
    size_t i;
    int t;
    memset(&ld, 0, sizeof ld);
    ld.seed = seed;
    ld.batch = batch;
    ld.bufs = calloc(batch, sizeof *ld.bufs);
    ld.payloads = calloc(batch, PAYLOAD);
    if (ld.bufs == NULL || ld.payloads == NULL)
        die("out of memory");
    c->leader = l->id;
    c->freed = 0;

    propose(l, &ld, batch < n ? batch : (size_t)n);
    while (deliver_one(c, NULL)) {
        if (c->freed > 0 && ld.proposed < n) {
            uint64_t k = c->freed < n - ld.proposed ? c->freed
                                                    : n - ld.proposed;
            c->freed = 0;
            propose(l, &ld, (size_t)k);
        }
    }
    if (l->n_cmds != n) {
        fprintf(stderr, "bench: error: stalled: the network is idle but the "
                "leader applied %" PRIu64 " of %" PRIu64 " entries (%" PRIu64
                " proposed, %zu outstanding allowed)\n",
                l->n_cmds, n, ld.proposed, batch);
        exit(1);
    }
    for (t = 0; !all_applied(c, l); t++) {
        if (t > 1000)
            die("followers did not catch up after %d heartbeats", t);
        tick(l);
        deliver_all(c, NULL);
    }
    if (c->bad_apply)
        die("apply callback saw an out-of-order index or a short entry");
    for (i = 0; i < c->n; i++) {
        if (c->nodes[i].n_cmds != n || c->nodes[i].sum != ld.expected) {
            fprintf(stderr, "bench: error: node %zu applied %" PRIu64
                    " entries summing to %" PRIu64 ", expected %" PRIu64
                    " summing to %" PRIu64 "\n", i + 1, c->nodes[i].n_cmds,
                    c->nodes[i].sum, n, ld.expected);
            exit(1);
        }
    }
    free(ld.bufs);
    free(ld.payloads);
    *expected = ld.expected;
}

static uint64_t total_allocs(const struct cluster *c)
{
    uint64_t s = 0;
    size_t i;
    for (i = 0; i < c->n; i++)
        s += c->nodes[i].as.n_alloc + c->nodes[i].as.n_realloc;
    return s;
}

struct w1_result {
    double cpu;      /* seconds */
    uint64_t allocs; /* alloc + realloc calls, all nodes, timed part */
    uint64_t msgs;   /* messages sent, all nodes, timed part */
};

/* The measured part of W1: under callgrind, run.sh collects costs only
 * inside this function (--toggle-collect), so that cluster setup, the
 * election and teardown are left out. Kept out of line and unclonable so
 * that its name is stable. */
#if defined(__clang__)
__attribute__((noinline))
#elif defined(__GNUC__)
__attribute__((noinline, noclone))
#endif
void bench_w1_load(struct cluster *c, struct node *l, size_t batch,
                   uint64_t n, uint64_t seed, uint64_t *expected);

void bench_w1_load(struct cluster *c, struct node *l, size_t batch,
                   uint64_t n, uint64_t seed, uint64_t *expected)
{
    run_load(c, l, batch, n, seed, expected);
}

static void w1_run(size_t voters, size_t batch, uint64_t n, uint64_t seed,
                   struct w1_result *res)
{
    struct cluster *c = cluster_new(voters, 10, 1, seed);
    struct node *l;
    uint64_t a0, m0, expected;
    double t0, t1;
    c->strict = 1;
    l = elect_first(c);
    a0 = total_allocs(c);
    m0 = c->n_msgs;
    t0 = cpu_now();
    bench_w1_load(c, l, batch, n, seed, &expected);
    t1 = cpu_now();
    res->cpu = t1 - t0;
    res->allocs = total_allocs(c) - a0;
    res->msgs = c->n_msgs - m0;
    cluster_free(c);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int w1(size_t voters, size_t batch, uint64_t n, int runs, uint64_t seed,
              int once)
{
    double cpu[64];
    struct w1_result res, first;
    int i;
    if (voters < 1 || voters > MAX_NODES || batch < 1 || n < 1 || runs < 1 ||
        runs > 64)
        die("w1: bad arguments");
    memset(&first, 0, sizeof first);
    for (i = 0; i < runs; i++) {
        w1_run(voters, batch, n, seed, &res);
        cpu[i] = res.cpu;
        if (i == 0)
            first = res;
        else if (res.allocs != first.allocs || res.msgs != first.msgs)
            fprintf(stderr, "bench: warning: run %d is not deterministic "
                    "(allocs %" PRIu64 " vs %" PRIu64 ", msgs %" PRIu64
                    " vs %" PRIu64 ")\n", i, res.allocs, first.allocs,
                    res.msgs, first.msgs);
    }
    if (once) {
        printf("w1-once%s voters=%zu B=%zu N=%" PRIu64 " seed=%" PRIu64
               ": ok, %.3f s cpu\n", g_async ? " async" : "", voters, batch,
               n, seed, cpu[0]);
        return 0;
    }
    qsort(cpu, (size_t)runs, sizeof cpu[0], cmp_double);
    {
        double med = runs % 2 ? cpu[runs / 2]
                              : (cpu[runs / 2 - 1] + cpu[runs / 2]) / 2;
        printf("W1 throughput%s voters=%zu B=%zu N=%" PRIu64 " seed=%" PRIu64
               ": %.0f entries/s cpu (%d-byte entries committed and applied "
               "on every node per process CPU second, median of %d runs), "
               "%.3f allocs/entry (alloc+realloc hook calls, all nodes), "
               "%.3f msgs/entry (sent, all nodes)\n",
               g_async ? " async" : "", voters, batch, n, seed,
               (double)n / med, PAYLOAD, runs,
               (double)first.allocs / (double)n,
               (double)first.msgs / (double)n);
    }
    return 0;
}

/* ---- W2: failover ------------------------------------------------------- */

static struct node *find_leader(struct cluster *c, raft_id except)
{
    struct node *best = NULL;
    size_t i;
    for (i = 0; i < c->n; i++) {
        struct node *nd = &c->nodes[i];
        if (nd->id == except || raft_role(nd->r) != RAFT_LEADER)
            continue;
        if (best == NULL ||
            raft_current_term(nd->r) > raft_current_term(best->r))
            best = nd;
    }
    return best;
}

/* Ticks from cutting off a stable leader until another node leads. */
static long w2_one(unsigned election, unsigned heartbeat, uint64_t seed,
                   uint64_t *rejected)
{
    struct cluster *c = cluster_new(5, election, heartbeat, seed);
    uint64_t rng = mix64(seed ^ 0x5eedu);
    struct node *l = NULL;
    raft_term lterm = 0;
    uint64_t hb_before[MAX_NODES + 1];
    long round, limit = 100L * (long)election + 1000;
    int hbs = 0;
    size_t i;

    /* Phase 1: elect a leader and let it settle. */
    for (round = 0;; round++) {
        struct node *nl;
        if (round > limit)
            die("w2 seed %" PRIu64 ": no stable leader after %ld rounds",
                seed, round);
        memcpy(hb_before, c->appends, sizeof hb_before);
        for (i = 0; i < c->n; i++)
            tick(&c->nodes[i]);
        {
            /* did the leader send AppendEntries on its tick? */
            int sent = l != NULL && c->appends[l->id] > hb_before[l->id];
            deliver_all(c, &rng);
            nl = find_leader(c, 0);
            if (nl == NULL || nl != l || raft_current_term(nl->r) != lterm) {
                l = nl;
                lterm = l ? raft_current_term(l->r) : 0;
                hbs = 0;
                continue;
            }
            if (!all_applied(c, l))
                continue;
            if (sent && ++hbs >= 3)
                break; /* its heartbeat was just delivered */
        }
    }

    /* Phase 2: cut it off and count rounds until another node leads. */
    c->cut = l->id;
    for (round = 1;; round++) {
        if (round > limit)
            die("w2 seed %" PRIu64 ": no new leader %ld rounds after the "
                "cut", seed, round);
        for (i = 0; i < c->n; i++)
            tick(&c->nodes[i]);
        deliver_all(c, &rng);
        if (find_leader(c, l->id) != NULL)
            break;
    }
    for (i = 0; i < 16; i++)
        rejected[i] += c->n_rejected[i];
    cluster_free(c);
    return round;
}

static long nearest_rank(const long *v, size_t n, double p)
{
    size_t k = (size_t)(p * (double)n + 0.999999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

static int w2(unsigned election, unsigned heartbeat, size_t seeds,
              uint64_t seed, const char *label)
{
    long *v = calloc(seeds, sizeof *v);
    uint64_t rejected[16];
    size_t s;
    long med, p99;
    if (v == NULL || seeds == 0 || election <= heartbeat)
        die("w2: bad arguments");
    memset(rejected, 0, sizeof rejected);
    for (s = 0; s < seeds; s++) {
        v[s] = w2_one(election, heartbeat, seed + s, rejected);
    }
    qsort(v, seeds, sizeof *v, cmp_long);
    med = nearest_rank(v, seeds, 0.50);
    p99 = nearest_rank(v, seeds, 0.99);
    printf("W2 failover%s%s (election=%u heartbeat=%u): median %ld ticks "
           "(%.2fx), p99 %ld ticks (%.2fx), max %ld ticks (%.2fx), %zu seeds "
           "from %" PRIu64 "; ticks from cutting off a stable leader of 5 "
           "voters until another node leads, x = multiple of election_ticks, "
           "random delivery order\n",
           *label ? " " : "", label, election, heartbeat, med,
           (double)med / election, p99, (double)p99 / election, v[seeds - 1],
           (double)v[seeds - 1] / election, seeds, seed);
    for (s = 1; s < 16; s++)
        if (rejected[s] != 0 && -(int)s != RAFT_ESTALE)
            fprintf(stderr, "bench: note: w2: raft_step rejected %" PRIu64
                    " messages with %s\n", rejected[s],
                    raft_strerror(-(int)s));
    free(v);
    return 0;
}

/* ---- W3: memory --------------------------------------------------------- */

static double median3(double a, double b, double c)
{
    if (a > b) {
        double t = a;
        a = b;
        b = t;
    }
    /* now a <= b */
    return c < a ? a : (c > b ? b : c);
}

static int w3(uint64_t n, uint64_t seed)
{
    struct cluster *c = cluster_new(3, 10, 1, seed);
    size_t base[3], per[3], i;
    double b[3];
    struct node *l;
    uint64_t expected;
    c->strict = 1;
    for (i = 0; i < 3; i++)
        base[i] = c->nodes[i].as.cur;
    l = elect_first(c);
    run_load(c, l, 64, n, seed, &expected);
    for (i = 0; i < 3; i++) {
        per[i] = c->nodes[i].as.cur;
        b[i] = ((double)per[i] - (double)base[i]) / (double)n;
    }
    printf("W3 memory voters=3 N=%" PRIu64 " seed=%" PRIu64 ": %.1f heap "
           "bytes per retained %d-byte entry per node (median over nodes; "
           "node 1 (leader) %.1f, nodes 2-3 %.1f %.1f; bytes requested "
           "through the allocator hook with the full log minus with an empty "
           "log just after start (%zu), not malloc's own overhead)\n",
           n, seed, median3(b[0], b[1], b[2]), PAYLOAD, b[0], b[1], b[2],
           base[0]);
    if (base[1] != base[0] || base[2] != base[0])
        fprintf(stderr, "bench: note: w3: start-up bytes differ: %zu %zu "
                "%zu\n", base[0], base[1], base[2]);
    cluster_free(c);
    return 0;
}

/* ---- W5: bytes on the wire, with a slow follower ------------------------ */

/* Move the slow links' messages that are due into the network, in order. */
static void late_release(struct cluster *c)
{
    while (c->late_len > 0 && c->late_due[c->late_head] <= c->now) {
        struct qmsg e = c->late[c->late_head++];
        c->late_len--;
        queue_push(&c->q, &e.m);
        free(e.blk);
    }
    if (c->late_len == 0)
        c->late_head = 0;
}

static int w5(uint64_t n, uint64_t delay, uint64_t seed)
{
    /* Election timeout far above the round trip, heartbeat every tick. */
    struct cluster *c = cluster_new(3, 100, 1, seed);
    struct node *l;
    struct load ld;
    uint64_t t, b0;
    c->strict = 1;
    l = elect_first(c);
    c->slow = 3;
    c->delay = delay;
    memset(&ld, 0, sizeof ld);
    ld.seed = seed;
    ld.batch = 4;
    ld.bufs = calloc(4, sizeof *ld.bufs);
    ld.payloads = calloc(4, PAYLOAD);
    if (ld.bufs == NULL || ld.payloads == NULL)
        die("out of memory");
    c->leader = l->id;
    b0 = c->wire_bytes;
    /* Four proposals a tick, then ticks until every node has everything. */
    for (t = 0; t < n / 4 + 1000; t++) {
        if (ld.proposed < n)
            propose(l, &ld, 4);
        c->now++;
        tick(l);
        late_release(c);
        while (deliver_one(c, NULL))
            late_release(c);
        if (ld.proposed >= n && all_applied(c, l) && c->late_len == 0)
            break;
    }
    if (!all_applied(c, l))
        die("w5: the cluster did not catch up");
    printf("W5 wire bytes voters=3 delay=%" PRIu64 " (follower 3 at a round "
           "trip of %" PRIu64 " heartbeat intervals)%s N=%" PRIu64 " seed=%"
           PRIu64 ": %.1f bytes per committed %d-byte entry (encoded "
           "messages of every node, raft_msg_encode sizes)\n",
           delay, 2 * delay, g_async ? " async" : "", ld.proposed, seed,
           (double)(c->wire_bytes - b0) / (double)ld.proposed, PAYLOAD);
    free(ld.bufs);
    free(ld.payloads);
    while (c->late_len > 0) {
        free(c->late[c->late_head++].blk);
        c->late_len--;
    }
    free(c->late);
    free(c->late_due);
    cluster_free(c);
    return 0;
}

/* ---- W6, W7: snapshots --------------------------------------------------- */

#define W6_EVERY 100000 /* hosts snapshot every this many applied entries */
#define W7_SIZE (100u * 1024 * 1024) /* bytes of W7's snapshot */
/* The library's documented defaults, to print the limits in force. */
#define DEFAULT_MAX_MSG_BYTES (1024u * 1024)
#define DEFAULT_MAX_INFLIGHT 8u
#define DEFAULT_TRAILING 1024u

/* Tell each node about its host's newer snapshot (W6), after the driving
 * call in which the host took it. */
static void compact_due(struct cluster *c)
{
    size_t i;
    for (i = 0; i < c->n; i++) {
        struct node *nd = &c->nodes[i];
        struct host *h = &c->hosts[i];
        int rc;
        if (!h->compact_due)
            continue;
        h->compact_due = 0;
        rc = raft_compact(nd->r, h->snap.index);
        if (rc != 0)
            die("raft_compact(node %" PRIu64 ", %" PRIu64 ") returned %d "
                "(%s)", nd->id, h->snap.index, rc, raft_strerror(rc));
        c->compactions++;
    }
}

/* The host snapshots its current state and compacts (W7). */
static void snapshot_now(struct node *nd)
{
    struct host *h = host_of(nd);
    h->snap.index = nd->applied;
    h->snap.sum = nd->sum;
    h->snap.cmds = nd->n_cmds;
    h->compact_due = 1;
    compact_due(nd->c);
}

/* deliver_one (FIFO) for the snapshot clusters, which are strict: keeps
 * the count of chunk bytes in the network, then lets the hosts compact.
 * (Not built on deliver_one, so that W1's compiled code stays as it was.) */
static int deliver_snap(struct cluster *c)
{
    struct qmsg e;
    struct node *to;
    int rc;
    if (queue_empty(&c->q))
        return 0;
    e = queue_pop(&c->q, NULL);
    if (e.m.type == RAFT_MSG_SNAPSHOT)
        c->snap_q[e.m.to] -= e.m.u.snapshot.len;
    to = node_of(c, e.m.to);
    rc = raft_step(to->r, &e.m);
    free(e.blk);
    disk_done(to);
    if (rc != 0)
        die("raft_step(node %" PRIu64 ", type %d from %" PRIu64 ") returned "
            "%d (%s) in a fault-free run", e.m.to, e.m.type, e.m.from, rc,
            raft_strerror(rc));
    compact_due(c);
    return 1;
}

/* Every node but the cut one has applied all of the leader's log. */
static int connected_applied(struct cluster *c, struct node *leader)
{
    struct raft_status st;
    size_t i;
    raft_status(leader->r, &st);
    for (i = 0; i < c->n; i++)
        if (c->nodes[i].id != c->cut && c->nodes[i].applied != st.last_index)
            return 0;
    return 1;
}

static void load_init(struct load *ld, uint64_t seed, size_t batch)
{
    memset(ld, 0, sizeof *ld);
    ld->seed = seed;
    ld->batch = batch;
    ld->bufs = calloc(batch, sizeof *ld->bufs);
    ld->payloads = calloc(batch, PAYLOAD);
    if (ld->bufs == NULL || ld->payloads == NULL)
        die("out of memory");
}

static void load_free(struct load *ld)
{
    free(ld->bufs);
    free(ld->payloads);
}

/* run_load for the snapshot clusters, resumable: propose until `target`
 * commands in all (ld->proposed so far), ld->batch outstanding, as W1
 * does; hosts compact where due; then the leader heartbeats until every
 * connected node has applied everything. */
static void snap_load(struct cluster *c, struct node *l, struct load *ld,
                      uint64_t target)
{
    uint64_t k;
    int t;
    c->leader = l->id;
    c->freed = 0;
    k = target - ld->proposed < ld->batch ? target - ld->proposed : ld->batch;
    if (k > 0)
        propose(l, ld, (size_t)k);
    compact_due(c);
    while (deliver_snap(c)) {
        if (c->freed > 0 && ld->proposed < target) {
            k = c->freed < target - ld->proposed ? c->freed
                                                 : target - ld->proposed;
            c->freed = 0;
            propose(l, ld, (size_t)k);
            compact_due(c);
        }
    }
    if (l->n_cmds != target)
        die("stalled: the network is idle but the leader applied %" PRIu64
            " of %" PRIu64 " entries", l->n_cmds, target);
    for (t = 0; !connected_applied(c, l); t++) {
        if (t > 1000)
            die("followers did not catch up after %d heartbeats", t);
        tick(l);
        compact_due(c);
        while (deliver_snap(c))
            ;
    }
}

/* Every node (but the cut one) applied `n` commands summing to `sum`. */
static void check_state(struct cluster *c, uint64_t n, uint64_t sum,
                        const char *what)
{
    size_t i;
    if (c->bad_apply)
        die("%s: apply callback saw an out-of-order index or a short entry",
            what);
    if (c->bad_snapshot)
        die("%s: a snapshot arrived out of order or did not match its "
            "header", what);
    for (i = 0; i < c->n; i++) {
        struct node *nd = &c->nodes[i];
        if (nd->id == c->cut)
            continue;
        if (nd->n_cmds != n || nd->sum != sum)
            die("%s: node %zu applied %" PRIu64 " entries summing to %"
                PRIu64 ", expected %" PRIu64 " summing to %" PRIu64, what,
                i + 1, nd->n_cmds, nd->sum, n, sum);
    }
}

static size_t max_peak(const struct cluster *c)
{
    size_t i, m = 0;
    for (i = 0; i < c->n; i++)
        if (c->nodes[i].as.peak > m)
            m = c->nodes[i].as.peak;
    return m;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

/* W6 without compaction: the contrast, `n` entries. */
static void w6_plain(uint64_t n, uint64_t seed)
{
    struct snap_opts so = {0, 0, 0};
    struct cluster *c = cluster_create(3, 10, 1, seed, &so);
    struct node *l;
    struct load ld;
    c->strict = 1;
    c->snap_size = SNAP_HDR;
    l = elect_first(c);
    load_init(&ld, seed, 64);
    snap_load(c, l, &ld, n);
    check_state(c, n, ld.expected, "w6");
    printf("W6 memory without compaction voters=3 B=64 N=%" PRIu64 " seed=%"
           PRIu64 ": peak %zu bytes (%.1f MiB) at %" PRIu64 " entries (max "
           "over nodes of the peak bytes live through the node's allocator "
           "hook since raft_create)\n", n, seed, max_peak(c),
           mib(max_peak(c)), n);
    load_free(&ld);
    cluster_free(c);
}

static int w6(uint64_t n, uint64_t check, uint64_t every, uint64_t seed)
{
    struct snap_opts so = {0, 0, 0};
    struct cluster *c;
    struct node *l;
    struct load ld;
    struct raft_metrics mt;
    struct raft_status st;
    size_t peak_check, peak_end, i;
    uint64_t sent = 0, live = 0, kept = 0;
    double t0, c0;
    if (check < 1 || check > n || every < 1)
        die("w6: bad arguments");
    w6_plain(check, seed);
    t0 = wall_now();
    c0 = cpu_now();
    c = cluster_create(3, 10, 1, seed, &so);
    c->strict = 1;
    c->snap_size = SNAP_HDR;
    c->compact_every = every;
    l = elect_first(c);
    load_init(&ld, seed, 64);
    snap_load(c, l, &ld, check);
    check_state(c, check, ld.expected, "w6");
    peak_check = max_peak(c);
    snap_load(c, l, &ld, n);
    check_state(c, n, ld.expected, "w6");
    peak_end = max_peak(c);
    for (i = 0; i < c->n; i++) {
        raft_metrics(c->nodes[i].r, &mt, sizeof mt);
        sent += mt.snapshot_chunks_sent;
        raft_status(c->nodes[i].r, &st);
        if (st.last_index - st.first_index + 1 > kept)
            kept = st.last_index - st.first_index + 1;
        if (c->nodes[i].as.cur > live)
            live = c->nodes[i].as.cur;
    }
    printf("W6 memory with compaction voters=3 B=64 every=%" PRIu64
           " trailing=%u N=%" PRIu64 " seed=%" PRIu64 ": peak %zu bytes "
           "(%.1f MiB) at %" PRIu64 " entries, %zu bytes (%.1f MiB) at %"
           PRIu64 " entries, ratio %.3f (max over nodes of the peak bytes "
           "live through the node's allocator hook since raft_create; every "
           "host snapshots and calls raft_compact at each multiple of %"
           PRIu64 " of its applied index: %" PRIu64 " compactions, %" PRIu64
           " snapshot chunks sent); at the end %" PRIu64 " bytes live and "
           "at most %" PRIu64 " entries in a node's log; %.1f s wall, %.1f s "
           "cpu\n", every, DEFAULT_TRAILING, n, seed, peak_check,
           mib(peak_check), check, peak_end, mib(peak_end), n,
           (double)peak_end / (double)peak_check, every, c->compactions, sent,
           live, kept, wall_now() - t0, cpu_now() - c0);
    load_free(&ld);
    cluster_free(c);
    return 0;
}

/* W7: node 3 is cut off while the leader commits n entries, compacts
 * (trailing small) and commits n/10 more; then the link heals and the
 * leader streams its snapshot of `size` bytes. */
static int w7(uint64_t size, uint32_t msg_bytes, uint32_t inflight_bytes,
              uint64_t n, uint64_t trailing, uint64_t seed)
{
    struct snap_opts so;
    struct cluster *c;
    struct node *l, *f;
    struct load ld;
    struct raft_metrics lm0, lm1, fm0, fm1;
    struct raft_status st;
    uint64_t msg_eff, win_eff, chunks, replies, bytes, msgs0;
    size_t lbase, fbase;
    raft_index snap_index;
    double c0, cpu;
    int t, t_first = -1;
    if (size < SNAP_HDR || n < 1 || trailing < 1)
        die("w7: bad arguments");
    so.trailing = trailing;
    so.max_msg_bytes = msg_bytes;
    so.max_inflight_bytes = inflight_bytes;
    msg_eff = msg_bytes ? msg_bytes : DEFAULT_MAX_MSG_BYTES;
    win_eff = inflight_bytes ? inflight_bytes : DEFAULT_MAX_INFLIGHT * msg_eff;
    c = cluster_create(3, 10, 1, seed, &so);
    c->strict = 1;
    c->snap_size = size;
    l = elect_first(c);
    f = &c->nodes[2];
    if (l->id == f->id)
        die("w7: node 3 leads");
    c->cut = f->id;
    load_init(&ld, seed, 64);
    snap_load(c, l, &ld, n);
    for (t = 0; t < (int)c->n; t++)
        if (c->nodes[t].id != c->cut)
            snapshot_now(&c->nodes[t]);
    snap_index = host_of(l)->snap.index;
    snap_load(c, l, &ld, n + n / 10);
    check_state(c, ld.proposed, ld.expected, "w7");

    /* Heal; measure until node 3 has installed the snapshot and applied
     * everything. The leader alone is ticked. */
    raft_metrics(l->r, &lm0, sizeof lm0);
    raft_metrics(f->r, &fm0, sizeof fm0);
    lbase = l->as.peak = l->as.cur;
    fbase = f->as.peak = f->as.cur;
    memset(c->snap_q_peak, 0, sizeof c->snap_q_peak);
    memset(c->snap_msgs, 0, sizeof c->snap_msgs);
    c->snap_wire = 0;
    msgs0 = c->n_msgs;
    c->cut = 0;
    c0 = cpu_now();
    for (t = 0; !connected_applied(c, l); t++) {
        if (t > 10000)
            die("w7: node 3 did not catch up after %d heartbeats", t);
        tick(l);
        while (deliver_snap(c))
            if (t_first < 0 && c->snap_msgs[RAFT_MSG_SNAPSHOT] > 0)
                t_first = t;
    }
    cpu = cpu_now() - c0;
    check_state(c, ld.proposed, ld.expected, "w7");
    raft_metrics(l->r, &lm1, sizeof lm1);
    raft_metrics(f->r, &fm1, sizeof fm1);
    raft_status(f->r, &st);
    if (fm1.snapshots_installed - fm0.snapshots_installed != 1 ||
        st.snapshot_index != snap_index)
        die("w7: node 3 installed %" PRIu64 " snapshots, at %" PRIu64
            " (expected one, at %" PRIu64 ")",
            fm1.snapshots_installed - fm0.snapshots_installed,
            st.snapshot_index, snap_index);
    chunks = lm1.snapshot_chunks_sent - lm0.snapshot_chunks_sent;
    if (c->snap_msgs[RAFT_MSG_SNAPSHOT] != chunks)
        die("w7: the leader counted %" PRIu64 " chunks sent, the send "
            "callback saw %" PRIu64, chunks, c->snap_msgs[RAFT_MSG_SNAPSHOT]);
    replies = fm1.sent[RAFT_MSG_SNAPSHOT_RESP] - fm0.sent[RAFT_MSG_SNAPSHOT_RESP];
    bytes = lm1.snapshot_bytes_sent - lm0.snapshot_bytes_sent;
    printf("W7 install snapshot voters=3 size=%" PRIu64 " (%.0f MiB) "
           "max_msg_bytes=%" PRIu64 "%s max_inflight_bytes=%" PRIu64 "%s "
           "trailing=%" PRIu64 " seed=%" PRIu64 ": node 3, cut off from "
           "index 1, installed the snapshot at index %" PRIu64 " and caught "
           "up to %" PRIu64 " in %d heartbeats (ticks of the leader; the "
           "first chunk after the heal at tick %d); %" PRIu64 " chunks + %"
           PRIu64 " replies = %" PRIu64 " snapshot messages (%" PRIu64
           " messages in all; %" PRIu64 " chunks had gone into the "
           "partition before the heal), %" PRIu64 " chunk data bytes (%.3fx "
           "the snapshot), %" PRIu64 " encoded bytes of chunks and replies; "
           "peak in flight to node 3: %" PRIu64 " bytes of chunks sent and not "
           "yet delivered (%.2fx max_inflight_bytes, %.2f%% of the "
           "snapshot); node 3's host holds the chunk being written (at most "
           "%zu bytes, borrowed for the call) and nothing else of the "
           "snapshot (a running hash and length); library heap above its "
           "level at the heal: leader +%zu bytes peak, node 3 +%zu bytes "
           "peak; %.2f s cpu (generating, copying and hashing the bytes "
           "included)\n", size, mib(size), msg_eff,
           msg_bytes ? "" : " (default)",
           win_eff, inflight_bytes ? "" : " (default)", trailing, seed,
           snap_index, st.last_index, t, t_first + 1, chunks, replies,
           chunks + replies, c->n_msgs - msgs0, lm0.snapshot_chunks_sent,
           bytes, (double)bytes / (double)size, c->snap_wire, c->snap_q_peak[f->id],
           (double)c->snap_q_peak[f->id] / (double)win_eff,
           100.0 * (double)c->snap_q_peak[f->id] / (double)size,
           host_of(f)->rx_max_chunk, l->as.peak - lbase, f->as.peak - fbase, cpu);
    load_free(&ld);
    cluster_free(c);
    return 0;
}

/* ---- main --------------------------------------------------------------- */

static void usage_to(FILE *f, int status)
{
    fprintf(f,
            "usage: bench w1 --voters V --batch B --n N [--runs R] [--seed S]\n"
            "       bench w1-once --voters V --batch B --n N [--seed S]\n"
            "       bench w2 --election E --heartbeat H [--seeds K] [--seed S] "
            "[--label L]\n"
            "       bench w3 [--n N] [--seed S]\n"
            "       bench w5 [--n N] [--delay D] [--seed S]\n"
            "       bench w6 [--n 10000000] [--check 1000000] [--every 100000] "
            "[--seed S]\n"
            "       bench w7 [--size 104857600] [--msg-bytes M] "
            "[--inflight-bytes I] [--n 10000] [--trailing 64] [--seed S]\n"
            "       bench -h | --help | --version\n"
            "       (w1, w1-once, w5: --async 1 for asynchronous "
            "persistence)\n");
    exit(status);
}

static void usage(void)
{
    usage_to(stderr, 2);
}

/* -h, --help and --version anywhere among the arguments. */
static void help_or_version(const char *a)
{
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
        usage_to(stdout, 0);
    if (strcmp(a, "--version") == 0) {
        printf("bench (raft library %d.%d.%d)\n", RAFT_VERSION_MAJOR,
               RAFT_VERSION_MINOR, RAFT_VERSION_PATCH);
        exit(0);
    }
}

int main(int argc, char **argv)
{
    uint64_t voters = 3, batch = 1, n = 100000, runs = 5, seed = 1;
    uint64_t election = 10, heartbeat = 1, seeds = 1000, delay = 0;
    uint64_t check = 1000000, every = W6_EVERY, size = W7_SIZE;
    uint64_t msg_bytes = 0, inflight_bytes = 0, trailing = 64;
    int n_set = 0;
    const char *label = "";
    int i;
    if (argc < 2)
        usage();
    help_or_version(argv[1]);
    for (i = 2; i < argc; i++) {
        const char *o = argv[i];
        char *end;
        uint64_t v;
        help_or_version(o);
        if (i + 1 >= argc)
            usage();
        if (strcmp(o, "--label") == 0) {
            label = argv[++i];
            continue;
        }
        v = strtoull(argv[++i], &end, 10);
        if (*end != '\0' || end == argv[i])
            usage();
        if (strcmp(o, "--voters") == 0)
            voters = v;
        else if (strcmp(o, "--batch") == 0)
            batch = v;
        else if (strcmp(o, "--n") == 0) {
            n = v;
            n_set = 1;
        } else if (strcmp(o, "--check") == 0)
            check = v;
        else if (strcmp(o, "--every") == 0)
            every = v;
        else if (strcmp(o, "--size") == 0)
            size = v;
        else if (strcmp(o, "--msg-bytes") == 0 && v <= UINT32_MAX)
            msg_bytes = v;
        else if (strcmp(o, "--inflight-bytes") == 0 && v <= UINT32_MAX)
            inflight_bytes = v;
        else if (strcmp(o, "--trailing") == 0)
            trailing = v;
        else if (strcmp(o, "--runs") == 0)
            runs = v;
        else if (strcmp(o, "--seed") == 0)
            seed = v;
        else if (strcmp(o, "--election") == 0)
            election = v;
        else if (strcmp(o, "--heartbeat") == 0)
            heartbeat = v;
        else if (strcmp(o, "--seeds") == 0)
            seeds = v;
        else if (strcmp(o, "--delay") == 0)
            delay = v;
        else if (strcmp(o, "--async") == 0)
            g_async = v != 0;
        else
            usage();
    }
    if (strcmp(argv[1], "w1") == 0)
        return w1((size_t)voters, (size_t)batch, n, (int)runs, seed, 0);
    if (strcmp(argv[1], "w1-once") == 0)
        return w1((size_t)voters, (size_t)batch, n, 1, seed, 1);
    if (strcmp(argv[1], "w2") == 0)
        return w2((unsigned)election, (unsigned)heartbeat, (size_t)seeds, seed,
                  label);
    if (strcmp(argv[1], "w3") == 0)
        return w3(n, seed);
    if (strcmp(argv[1], "w5") == 0)
        return w5(n, delay, seed);
    if (strcmp(argv[1], "w6") == 0)
        return w6(n_set ? n : 10000000, check, every, seed);
    if (strcmp(argv[1], "w7") == 0)
        return w7(size, (uint32_t)msg_bytes, (uint32_t)inflight_bytes,
                  n_set ? n : 10000, trailing, seed);
    usage();
    return 2;
}
