/*
 * harness.c - see harness.h.
 *
 * The harness itself uses libc malloc, never the counting allocator: only
 * the library's allocations are counted.
 */
#include "harness.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------ */

static void *xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);
    H_CHECK(p != NULL, "harness: out of memory");
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n == 0 ? 1 : n);
    H_CHECK(q != NULL, "harness: out of memory");
    return q;
}

static char *xdup(const void *buf, size_t len)
{
    if (len == 0) {
        return NULL;
    }
    char *p = xmalloc(len);
    memcpy(p, buf, len);
    return p;
}

static void put64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint64_t get64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

#define GROW(arr, n, cap)                                           \
    do {                                                            \
        if ((n) == (cap)) {                                         \
            (cap) = (cap) ? (cap) * 2 : 16;                         \
            (arr) = xrealloc((arr), (cap) * sizeof(*(arr)));        \
        }                                                           \
    } while (0)

/* ---- counting allocator --------------------------------------------------- */

/* Every block carries a header with its size and a magic number, so frees
 * of foreign pointers are caught and outstanding bytes are exact, and a
 * guard after its last byte, checked when it is freed or resized, so a
 * write past its end (the library under-reserving an array) fails the
 * test at the latest when the node is destroyed. */
#define H_MAGIC 0x52414654u
#define H_GUARD_LEN 32u
#define H_GUARD_BYTE 0xa5
struct h_hdr {
    alignas(max_align_t) size_t size;
    unsigned magic;
};

static void guard_set(struct h_hdr *hd)
{
    memset((unsigned char *)(hd + 1) + hd->size, H_GUARD_BYTE, H_GUARD_LEN);
}

static void guard_check(const struct h_hdr *hd)
{
    const unsigned char *g = (const unsigned char *)(hd + 1) + hd->size;
    for (size_t i = 0; i < H_GUARD_LEN; i++) {
        H_CHECK(g[i] == H_GUARD_BYTE,
                "heap block of %zu bytes written past its end (byte %zu)",
                hd->size, hd->size + i);
    }
}

static bool alloc_should_fail(struct h_alloc *a)
{
    a->calls++;
    if (a->fail_at != 0 && a->calls == a->fail_at) {
        a->failures++;
        return true;
    }
    return false;
}

static void *h_alloc_alloc(void *ctx, size_t size)
{
    struct h_alloc *a = ctx;
    if (alloc_should_fail(a)) {
        return NULL;
    }
    struct h_hdr *hd = malloc(sizeof(*hd) + size + H_GUARD_LEN);
    if (hd == NULL) {
        return NULL;
    }
    hd->size = size;
    hd->magic = H_MAGIC;
    guard_set(hd);
    a->blocks++;
    a->bytes += size;
    return hd + 1;
}

static void h_alloc_free(void *ctx, void *ptr)
{
    struct h_alloc *a = ctx;
    if (ptr == NULL) {
        a->bad_free++; /* raft.h: free(ctx, NULL) is never called */
        return;
    }
    struct h_hdr *hd = (struct h_hdr *)ptr - 1;
    if (hd->magic != H_MAGIC) {
        a->bad_free++;
        return;
    }
    guard_check(hd);
    hd->magic = 0;
    a->blocks--;
    a->bytes -= hd->size;
    free(hd);
}

static void *h_alloc_realloc(void *ctx, void *ptr, size_t size)
{
    struct h_alloc *a = ctx;
    if (ptr == NULL) {
        return h_alloc_alloc(ctx, size);
    }
    struct h_hdr *hd = (struct h_hdr *)ptr - 1;
    if (hd->magic != H_MAGIC) {
        a->bad_free++;
        return NULL;
    }
    if (alloc_should_fail(a)) {
        return NULL; /* the old block stays valid, as with realloc(3) */
    }
    guard_check(hd);
    size_t old = hd->size;
    struct h_hdr *nh = realloc(hd, sizeof(*nh) + size + H_GUARD_LEN);
    if (nh == NULL) {
        return NULL;
    }
    nh->size = size;
    guard_set(nh);
    a->bytes = a->bytes - old + size;
    return nh + 1;
}

struct raft_allocator h_alloc_table(struct h_alloc *a)
{
    struct raft_allocator t = {a, h_alloc_alloc, h_alloc_realloc,
                               h_alloc_free};
    return t;
}

/* ---- logs ------------------------------------------------------------------ */

static void log_truncate(struct h_log *l, size_t n)
{
    while (l->n > n) {
        l->n--;
        free(l->e[l->n].buf);
        l->e[l->n].buf = NULL;
    }
}

static void log_push(struct h_log *l, raft_term term, int type,
                     const void *buf, size_t len)
{
    GROW(l->e, l->n, l->cap);
    struct h_entry *e = &l->e[l->n++];
    e->term = term;
    e->type = type;
    e->len = len;
    e->buf = xdup(buf, len);
}

static void log_free(struct h_log *l)
{
    log_truncate(l, 0);
    free(l->e);
    memset(l, 0, sizeof(*l));
}

/* ---- the fake state machine ------------------------------------------------ */

#define H_FNV_BASIS 0xcbf29ce484222325ull
#define H_FNV_PRIME 0x100000001b3ull

static uint64_t fnv(uint64_t x, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        x = (x ^ p[i]) * H_FNV_PRIME;
    }
    return x;
}

static void sm_reset(struct h_node *nd)
{
    nd->sm_index = 0;
    nd->sm_term = 0;
    nd->sm_hash = H_FNV_BASIS;
}

static void sm_apply(struct h_node *nd, raft_index index,
                     const struct raft_entry *e)
{
    /* With snapshots the state machine is checked: apply continues one
     * past what was applied or installed. (Other suites restore nodes by
     * hand, and apply from 1 again, which is their contract.) */
    H_CHECK(!nd->h->opts.snapshots || index == nd->sm_index + 1,
            "node %llu: apply(%llu) but the state machine is at %llu",
            (unsigned long long)nd->id, (unsigned long long)index,
            (unsigned long long)nd->sm_index);
    unsigned char hdr[17];
    put64le(hdr, index);
    put64le(hdr + 8, e->term);
    hdr[16] = (unsigned char)e->type;
    nd->sm_hash = fnv(fnv(nd->sm_hash, hdr, sizeof(hdr)), e->buf, e->len);
    nd->sm_index = index;
    nd->sm_term = e->term;
}

/* ---- callbacks ----------------------------------------------------------- */

static struct h_call *push_call(struct h_node *nd, int kind)
{
    GROW(nd->calls, nd->n_calls, nd->cap_calls);
    struct h_call *c = &nd->calls[nd->n_calls++];
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    return c;
}

static bool take_fault(int *counter)
{
    if (*counter == 0) {
        return false;
    }
    if (*counter > 0) {
        (*counter)--;
    }
    return true;
}

static void copy_msg(struct h_msg *dst, const struct raft_msg *m)
{
    dst->m = *m;
    dst->ents = NULL;
    dst->data = NULL;
    if (m->type == RAFT_MSG_SNAPSHOT) {
        /* the chunk is borrowed for the send call only */
        dst->data = xdup(m->u.snapshot.data, m->u.snapshot.len);
        dst->m.u.snapshot.data = dst->data;
    } else if (m->type == RAFT_MSG_APPEND) {
        size_t n = m->u.append.n_entries;
        if (n > 0 && m->u.append.entries != NULL) {
            dst->ents = xmalloc(n * sizeof(*dst->ents));
            for (size_t i = 0; i < n; i++) {
                dst->ents[i] = m->u.append.entries[i];
                dst->ents[i].buf = xdup(m->u.append.entries[i].buf,
                                        m->u.append.entries[i].len);
            }
        }
        dst->m.u.append.entries = dst->ents;
    }
}

static void free_msg(struct h_msg *hm)
{
    if (hm->ents != NULL) {
        for (size_t i = 0; i < hm->m.u.append.n_entries; i++) {
            free((void *)hm->ents[i].buf);
        }
        free(hm->ents);
    }
    hm->ents = NULL;
    free(hm->data);
    hm->data = NULL;
}

static int cb_send(struct raft *r, void *ctx, const struct raft_msg *msg)
{
    (void)r;
    struct h_node *nd = ctx;
    struct harness *h = nd->h;
    if (nd->hook != NULL) {
        nd->hook(nd, H_CB_SEND);
    }
    struct h_call *c = push_call(nd, H_CB_SEND);
    c->msg_type = msg->type;
    c->to = msg->to;
    c->term = msg->term;
    if (msg->type == RAFT_MSG_VOTE_RESP) {
        c->ok = msg->u.vote_resp.granted;
    } else if (msg->type == RAFT_MSG_APPEND_RESP) {
        c->ok = msg->u.append_resp.success;
        c->index = msg->u.append_resp.index;
    } else if (msg->type == RAFT_MSG_APPEND) {
        c->index = msg->u.append.prev_index;
        c->n = msg->u.append.n_entries;
    } else if (msg->type == RAFT_MSG_SNAPSHOT) {
        c->index = msg->u.snapshot.index;
        c->offset = msg->u.snapshot.offset;
        c->n = msg->u.snapshot.len;
        c->ok = msg->u.snapshot.last;
    } else if (msg->type == RAFT_MSG_SNAPSHOT_RESP) {
        c->index = msg->u.snapshot_resp.index;
        c->offset = msg->u.snapshot_resp.offset;
        c->ok = msg->u.snapshot_resp.done;
    }
    if (msg->to <= H_MAX_NODES && take_fault(&nd->fail_send_to[msg->to])) {
        c->rc = -1;
        return -1;
    }
    GROW(h->net, h->n_net, h->cap_net);
    copy_msg(&h->net[h->n_net++], msg);
    return 0;
}

static int cb_persist_state(struct raft *r, void *ctx, raft_term term,
                            raft_id vote)
{
    (void)r;
    struct h_node *nd = ctx;
    if (nd->hook != NULL) {
        nd->hook(nd, H_CB_PERSIST_STATE);
    }
    struct h_call *c = push_call(nd, H_CB_PERSIST_STATE);
    c->term = term;
    c->vote = vote;
    if (take_fault(&nd->fail_persist_state) ||
        (vote == nd->id && take_fault(&nd->fail_persist_campaign))) {
        c->rc = -1;
        return -1; /* nothing written: the old pair stays */
    }
    nd->d_term = term;
    nd->d_vote = vote;
    nd->pending += nd->cfg.async_persist;
    return 0;
}

static int cb_persist_entries(struct raft *r, void *ctx, raft_index first,
                              const struct raft_entry *entries, size_t n)
{
    (void)r;
    struct h_node *nd = ctx;
    if (nd->hook != NULL) {
        nd->hook(nd, H_CB_PERSIST_ENTRIES);
    }
    struct h_call *c = push_call(nd, H_CB_PERSIST_ENTRIES);
    c->index = first;
    c->n = n;
    H_CHECK(first >= 1 && n >= 1 && entries != NULL,
                  "node %llu: persist_entries(first=%llu, n=%zu) violates "
                  "raft.h (first >= 1, n >= 1)",
                  (unsigned long long)nd->id, (unsigned long long)first, n);
    H_CHECK(first > nd->disk_base && first <= nd->disk_base + nd->disk.n + 1,
                  "node %llu: persist_entries(first=%llu) leaves a hole "
                  "after the %zu stored entries from %llu, or rewrites the "
                  "snapshot",
                  (unsigned long long)nd->id, (unsigned long long)first,
                  nd->disk.n, (unsigned long long)nd->disk_base + 1);
    size_t keep = (size_t)(first - 1 - nd->disk_base);
    if (take_fault(&nd->fail_persist_entries)) {
        /* raft.h allows any prefix to have been written; the simplest
         * faithful model is "the old entries at >= first were discarded
         * and the first new one (if more than one) was stored", which
         * makes a library that trusts the disk after a failure visible. */
        log_truncate(&nd->disk, keep);
        if (n > 1) {
            log_push(&nd->disk, entries[0].term, entries[0].type,
                     entries[0].buf, entries[0].len);
        }
        c->rc = -1;
        return -1;
    }
    log_truncate(&nd->disk, keep);
    for (size_t i = 0; i < n; i++) {
        log_push(&nd->disk, entries[i].term, entries[i].type, entries[i].buf,
                 entries[i].len);
    }
    nd->pending += nd->cfg.async_persist;
    return 0;
}

static void sm_conf_set(struct h_node *nd, const void *conf, size_t len)
{
    free(nd->sm_conf);
    nd->sm_conf = xmalloc(len ? len : 1);
    memcpy(nd->sm_conf, conf, len);
    nd->sm_conf_len = len;
}

unsigned char *h_conf_encode(const raft_id *ids, const unsigned *flags,
                             size_t n, bool auto_leave, size_t *len)
{
    unsigned char *p = xmalloc(8 + 9 * n);
    p[0] = 1;
    p[1] = auto_leave ? 1 : 0;
    p[2] = p[3] = 0;
    p[4] = (unsigned char)n;
    p[5] = (unsigned char)(n >> 8);
    p[6] = p[7] = 0;
    for (size_t i = 0; i < n; i++) {
        put64le(p + 8 + 9 * i, ids[i]);
        p[8 + 9 * i + 8] = (unsigned char)(flags != NULL ? flags[i]
                                                         : RAFT_MEMBER_VOTER);
    }
    *len = 8 + 9 * n;
    return p;
}

static void sm_conf_voters(struct h_node *nd)
{
    size_t len;
    free(nd->sm_conf);
    nd->sm_conf = h_conf_encode(nd->h->voters, NULL, nd->h->n_boot, false, &len);
    nd->sm_conf_len = len;
}

static int cb_apply(struct raft *r, void *ctx, raft_index index,
                    const struct raft_entry *entry)
{
    (void)r;
    struct h_node *nd = ctx;
    if (nd->hook != NULL) {
        nd->hook(nd, H_CB_APPLY);
    }
    struct h_call *c = push_call(nd, H_CB_APPLY);
    c->index = index;
    c->term = entry->term;
    if (take_fault(&nd->fail_apply)) {
        c->rc = -1;
        return -1;
    }
    if (nd->applied.n == nd->applied_cap) {
        nd->applied_cap = nd->applied_cap ? nd->applied_cap * 2 : 16;
        nd->applied_idx = xrealloc(nd->applied_idx,
                                   nd->applied_cap * sizeof(raft_index));
    }
    nd->applied_idx[nd->applied.n] = index;
    log_push(&nd->applied, entry->term, entry->type, entry->buf, entry->len);
    sm_apply(nd, index, entry);
    if (entry->type == RAFT_ENTRY_CONFIG) {
        sm_conf_set(nd, entry->buf, entry->len);
    }
    return 0;
}

static void cb_read(struct raft *r, void *ctx, void *req, raft_index index,
                    int status)
{
    struct h_node *nd = ctx;
    struct raft_status st;
    raft_status(r, &st);
    if (nd->n_reads == nd->cap_reads) {
        nd->cap_reads = nd->cap_reads ? nd->cap_reads * 2 : 8;
        nd->reads = xrealloc(nd->reads, nd->cap_reads * sizeof(*nd->reads));
    }
    nd->reads[nd->n_reads].req = req;
    nd->reads[nd->n_reads].index = index;
    nd->reads[nd->n_reads].status = status;
    nd->reads[nd->n_reads].applied = st.applied;
    nd->n_reads++;
}

/* ---- snapshots --------------------------------------------------------------- */

/* Padding byte j of a snapshot whose state hashes to `hash`: every byte
 * depends on its position, so a chunk written at the wrong offset shows. */
static unsigned char pad_byte(uint64_t hash, size_t j)
{
    return (unsigned char)((hash >> ((j % 8) * 8)) ^ (j * 131u) ^ (j >> 8));
}

static const char snap_magic[8] = {'H', 'S', 'N', 'A', 'P', 0, 0, 0};

unsigned char *h_snapshot_encode(raft_index index, raft_term term,
                                 uint64_t hash, size_t len)
{
    H_CHECK(len >= H_SNAP_HEADER, "h_snapshot_encode: %zu bytes", len);
    unsigned char *p = xmalloc(len);
    memcpy(p, snap_magic, sizeof(snap_magic));
    put64le(p + 8, index);
    put64le(p + 16, term);
    put64le(p + 24, hash);
    for (size_t j = H_SNAP_HEADER; j < len; j++) {
        p[j] = pad_byte(hash, j);
    }
    return p;
}

bool h_snapshot_parse(const void *data, size_t len, raft_index *index,
                      raft_term *term, uint64_t *hash)
{
    const unsigned char *p = data;
    if (len < H_SNAP_HEADER || memcmp(p, snap_magic, sizeof(snap_magic)) != 0) {
        return false;
    }
    uint64_t x = get64le(p + 24);
    for (size_t j = H_SNAP_HEADER; j < len; j++) {
        if (p[j] != pad_byte(x, j)) {
            return false;
        }
    }
    *index = get64le(p + 8);
    *term = get64le(p + 16);
    *hash = x;
    return true;
}

size_t h_chunks(size_t len, size_t max)
{
    return len == 0 ? 1 : (len + max - 1) / max;
}

static void snap_free(struct h_snap *s)
{
    free(s->data);
    free(s->conf);
    memset(s, 0, sizeof(*s));
}

static void rx_clear(struct h_node *nd)
{
    free(nd->rx);
    nd->rx = NULL;
    nd->rx_len = nd->rx_cap = 0;
    nd->rx_active = false;
    nd->rx_index = 0;
    nd->rx_term = 0;
}

/* Drop the disk entries up to `upto` (if above disk_base). */
static void disk_drop_upto(struct h_node *nd, raft_index upto)
{
    if (upto <= nd->disk_base) {
        return;
    }
    size_t k = (size_t)(upto - nd->disk_base);
    H_CHECK(k <= nd->disk.n, "node %llu: dropping disk entries up to %llu, "
            "past the last stored %llu", (unsigned long long)nd->id,
            (unsigned long long)upto,
            (unsigned long long)(nd->disk_base + nd->disk.n));
    for (size_t i = 0; i < k; i++) {
        free(nd->disk.e[i].buf);
    }
    memmove(nd->disk.e, nd->disk.e + k, (nd->disk.n - k) * sizeof(*nd->disk.e));
    nd->disk.n -= k;
    nd->disk_base = upto;
}

/* The configuration of a snapshot being installed must decode. */
static void check_conf(const struct h_node *nd,
                       const struct raft_snapshot_meta *meta)
{
    size_t n = 0;
    int rc = raft_conf_decode(meta->conf, meta->conf_len, NULL, 0, &n);
    H_CHECK(meta->conf != NULL && (rc == 0 || rc == RAFT_ENOBUFS) && n > 0,
            "node %llu: snapshot metadata has no valid configuration (%d)",
            (unsigned long long)nd->id, rc);
}

static int cb_snapshot_read(struct raft *r, void *ctx, raft_index index,
                            uint64_t offset, size_t max, const void **data,
                            size_t *len, bool *last)
{
    (void)r;
    struct h_node *nd = ctx;
    if (nd->hook != NULL) {
        nd->hook(nd, H_CB_SNAPSHOT_READ);
    }
    struct h_call *c = push_call(nd, H_CB_SNAPSHOT_READ);
    c->index = index;
    c->offset = offset;
    H_CHECK(max >= 1 && data != NULL && len != NULL && last != NULL,
            "node %llu: snapshot_read(max=%zu) with a NULL output",
            (unsigned long long)nd->id, max);
    if (take_fault(&nd->fail_snapshot_read) || !nd->snap.have ||
        nd->snap.index != index || offset > nd->snap.len) {
        c->rc = -1;
        return -1;
    }
    size_t k = nd->snap.len - (size_t)offset;
    if (k > max) {
        k = max;
    }
    *data = nd->snap.data + offset;
    *len = k;
    *last = offset + k == nd->snap.len;
    c->n = k;
    c->last = *last;
    return 0;
}

static int cb_snapshot_write(struct raft *r, void *ctx,
                             const struct raft_snapshot_meta *meta,
                             uint64_t offset, const void *data, size_t len)
{
    (void)r;
    struct h_node *nd = ctx;
    if (nd->hook != NULL) {
        nd->hook(nd, H_CB_SNAPSHOT_WRITE);
    }
    struct h_call *c = push_call(nd, H_CB_SNAPSHOT_WRITE);
    c->index = meta->index;
    c->term = meta->term;
    c->offset = offset;
    c->n = len;
    H_CHECK(len == 0 || data != NULL, "node %llu: snapshot_write of %zu "
            "bytes from NULL", (unsigned long long)nd->id, len);
    /* raft.h: chunks come in order, without gaps; offset 0 starts over */
    H_CHECK(offset == 0 ||
                (nd->rx_active && nd->rx_index == meta->index &&
                 nd->rx_term == meta->term && offset == nd->rx_len),
            "node %llu: snapshot_write(index %llu, term %llu, offset %llu) "
            "does not continue the snapshot being received (%s, index %llu, "
            "term %llu, %zu bytes written)",
            (unsigned long long)nd->id, (unsigned long long)meta->index,
            (unsigned long long)meta->term, (unsigned long long)offset,
            nd->rx_active ? "active" : "none", (unsigned long long)nd->rx_index,
            (unsigned long long)nd->rx_term, nd->rx_len);
    if (offset == 0) {
        rx_clear(nd); /* a partly received snapshot is discarded */
    }
    if (take_fault(&nd->fail_snapshot_write)) {
        c->rc = -1;
        return -1; /* nothing written */
    }
    if (offset == 0) {
        nd->rx_active = true;
        nd->rx_index = meta->index;
        nd->rx_term = meta->term;
    }
    if (nd->rx_len + len > nd->rx_cap) {
        nd->rx_cap = (nd->rx_len + len) * 2;
        nd->rx = xrealloc(nd->rx, nd->rx_cap);
    }
    if (len > 0) {
        memcpy(nd->rx + nd->rx_len, data, len);
    }
    nd->rx_len += len;
    return 0;
}

static int cb_snapshot_install(struct raft *r, void *ctx,
                               const struct raft_snapshot_meta *meta,
                               bool keep)
{
    (void)r;
    struct h_node *nd = ctx;
    if (nd->hook != NULL) {
        nd->hook(nd, H_CB_SNAPSHOT_INSTALL);
    }
    struct h_call *c = push_call(nd, H_CB_SNAPSHOT_INSTALL);
    c->index = meta->index;
    c->term = meta->term;
    c->keep = keep;
    check_conf(nd, meta);
    if (take_fault(&nd->fail_snapshot_install)) {
        c->rc = -1;
        return -1; /* nothing changed */
    }
    H_CHECK(nd->rx_active && nd->rx_index == meta->index &&
                nd->rx_term == meta->term,
            "node %llu: snapshot_install(index %llu, term %llu) of a "
            "snapshot not received (receiving: %s, index %llu, term %llu)",
            (unsigned long long)nd->id, (unsigned long long)meta->index,
            (unsigned long long)meta->term, nd->rx_active ? "yes" : "no",
            (unsigned long long)nd->rx_index, (unsigned long long)nd->rx_term);
    raft_index si;
    raft_term st;
    uint64_t hash;
    H_CHECK(h_snapshot_parse(nd->rx, nd->rx_len, &si, &st, &hash) &&
                si == meta->index && st == meta->term,
            "node %llu: snapshot_install(index %llu): the %zu bytes received "
            "are not that snapshot", (unsigned long long)nd->id,
            (unsigned long long)meta->index, nd->rx_len);
    if (keep) {
        raft_index i = meta->index;
        H_CHECK(i > nd->disk_base && i <= nd->disk_base + nd->disk.n &&
                    nd->disk.e[i - nd->disk_base - 1].term == meta->term,
                "node %llu: snapshot_install(keep) but the disk (entries "
                "%llu..%llu) lacks entry %llu of term %llu",
                (unsigned long long)nd->id,
                (unsigned long long)nd->disk_base + 1,
                (unsigned long long)(nd->disk_base + nd->disk.n),
                (unsigned long long)i, (unsigned long long)meta->term);
        disk_drop_upto(nd, i);
    } else {
        log_truncate(&nd->disk, 0);
        nd->disk_base = meta->index;
    }
    snap_free(&nd->snap);
    nd->snap.have = true;
    nd->snap.index = meta->index;
    nd->snap.term = meta->term;
    nd->snap.data = nd->rx;
    nd->snap.len = nd->rx_len;
    nd->snap.conf = xmalloc(meta->conf_len);
    memcpy(nd->snap.conf, meta->conf, meta->conf_len);
    nd->snap.conf_len = meta->conf_len;
    sm_conf_set(nd, meta->conf, meta->conf_len);
    nd->rx = NULL;
    rx_clear(nd);
    nd->sm_index = si;
    nd->sm_term = st;
    nd->sm_hash = hash;
    nd->pending += nd->cfg.async_persist;
    return 0;
}

int h_snapshot_take(struct harness *h, raft_id id)
{
    struct h_node *nd = h_node(h, id);
    struct raft_status st = h_status(h, id);
    H_CHECK(nd->sm_index == st.applied, "node %llu: state machine at %llu, "
            "applied index %llu", (unsigned long long)id,
            (unsigned long long)nd->sm_index, (unsigned long long)st.applied);
    if (st.applied > 0 && st.applied > nd->snap.index) {
        size_t len = h->opts.snapshot_size > H_SNAP_HEADER
                         ? h->opts.snapshot_size
                         : H_SNAP_HEADER;
        /* durable first, then the node is told */
        snap_free(&nd->snap);
        nd->snap.have = true;
        nd->snap.index = nd->sm_index;
        nd->snap.term = nd->sm_term;
        nd->snap.data = h_snapshot_encode(nd->sm_index, nd->sm_term,
                                          nd->sm_hash, len);
        nd->snap.len = len;
        nd->snap.conf = xmalloc(nd->sm_conf_len ? nd->sm_conf_len : 1);
        memcpy(nd->snap.conf, nd->sm_conf, nd->sm_conf_len);
        nd->snap.conf_len = nd->sm_conf_len;
    }
    int rc = raft_compact(nd->r, st.applied);
    if (rc == 0) {
        st = h_status(h, id);
        disk_drop_upto(nd, st.first_index - 1);
    }
    return rc;
}

static void cb_event(struct raft *r, void *ctx, const struct raft_event *ev)
{
    (void)r;
    struct h_node *nd = ctx;
    if (nd->hook != NULL) {
        nd->hook(nd, 0);
    }
    GROW(nd->events, nd->n_events, nd->cap_events);
    struct h_event *e = &nd->events[nd->n_events++];
    e->type = ev->type;
    e->term = ev->term;
    e->role = ev->role;
    e->peer = ev->peer;
    e->error = ev->error;
}

/* ---- lifecycle -------------------------------------------------------------- */

struct raft_config h_config(const struct harness *h, raft_id id)
{
    struct raft_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.id = id;
    cfg.election_ticks = h->opts.election_ticks ? h->opts.election_ticks : 10;
    cfg.heartbeat_ticks = h->opts.heartbeat_ticks ? h->opts.heartbeat_ticks : 1;
    cfg.seed = h->opts.seed * 1000 + id;
    cfg.max_msg_entries = h->opts.max_msg_entries;
    cfg.max_msg_bytes = h->opts.max_msg_bytes;
    cfg.max_inflight = h->opts.max_inflight;
    cfg.max_inflight_bytes = h->opts.max_inflight_bytes;
    cfg.async_persist = h->opts.async;
    cfg.snapshot_trailing = h->opts.snapshot_trailing;
    cfg.disable_pre_vote = !h->opts.pre_vote;
    cfg.disable_check_quorum = !h->opts.check_quorum;
    cfg.lease_reads = h->opts.lease_reads;
    cfg.max_pending_reads = h->opts.max_pending_reads;
    if (h->opts.counting_alloc) {
        cfg.allocator = h_alloc_table((struct h_alloc *)&h->alloc);
    }
    return cfg;
}

struct raft_callbacks h_callbacks(const struct harness *h)
{
    struct raft_callbacks cbs = {.send = cb_send,
                                 .persist_state = cb_persist_state,
                                 .persist_entries = cb_persist_entries,
                                 .apply = cb_apply,
                                 .event = cb_event,
                                 .read = cb_read};
    if (h->opts.no_event_cb) {
        cbs.event = NULL;
    }
    if (h->opts.snapshots) {
        cbs.snapshot_read = cb_snapshot_read;
        cbs.snapshot_write = cb_snapshot_write;
        cbs.snapshot_install = cb_snapshot_install;
    }
    return cbs;
}

static struct harness *live;

void h_cleanup_all(void)
{
    while (live != NULL) {
        h_free(live);
    }
}

static void noop_setup(void)
{
}

void h_tcase_cleanup(TCase *tc)
{
    tcase_add_checked_fixture(tc, noop_setup, h_cleanup_all);
}

struct harness *h_new(size_t n, const struct h_opts *opts)
{
    H_CHECK(n >= 1 && n <= H_MAX_NODES, "h_new: bad node count");
    struct harness *h = xmalloc(sizeof(*h));
    memset(h, 0, sizeof(*h));
    if (opts != NULL) {
        h->opts = *opts;
    }
    h->n = n;
    h->n_boot = h->opts.n_boot != 0 && h->opts.n_boot < n ? h->opts.n_boot : n;
    h->strict = true;
    h->next_live = live;
    live = h;
    for (size_t i = 0; i < n; i++) {
        h->voters[i] = (raft_id)(i + 1);
    }
    struct raft_callbacks cbs = h_callbacks(h);
    for (raft_id id = 1; id <= n; id++) {
        struct h_node *nd = &h->nodes[id];
        nd->h = h;
        nd->id = id;
        nd->cfg = h_config(h, id);
        sm_reset(nd);
        sm_conf_voters(nd);
        if (h->opts.no_create) {
            continue;
        }
        int rc = raft_create(&nd->cfg, &cbs, nd, &nd->r);
        H_CHECK(rc == 0, "raft_create(node %llu) = %d (%s), seed %llu",
                      (unsigned long long)id, rc, raft_strerror(rc),
                      (unsigned long long)h->opts.seed);
    }
    return h;
}

static void node_clear_records(struct h_node *nd)
{
    log_free(&nd->applied);
    free(nd->applied_idx);
    nd->applied_idx = NULL;
    nd->applied_cap = 0;
    free(nd->reads);
    nd->reads = NULL;
    nd->n_reads = nd->cap_reads = 0;
    free(nd->calls);
    nd->calls = NULL;
    nd->n_calls = nd->cap_calls = 0;
    free(nd->events);
    nd->events = NULL;
    nd->n_events = nd->cap_events = 0;
}

void h_free(struct harness *h)
{
    if (h == NULL) {
        return;
    }
    for (struct harness **p = &live; *p != NULL; p = &(*p)->next_live) {
        if (*p == h) {
            *p = h->next_live;
            break;
        }
    }
    for (raft_id id = 1; id <= h->n; id++) {
        struct h_node *nd = &h->nodes[id];
        raft_destroy(nd->r);
        nd->r = NULL;
        log_free(&nd->disk);
        snap_free(&nd->snap);
        free(nd->sm_conf);
        nd->sm_conf = NULL;
        rx_clear(nd);
        node_clear_records(nd);
    }
    for (size_t i = 0; i < h->n_net; i++) {
        free_msg(&h->net[i]);
    }
    free(h->net);
    free(h);
}

struct h_node *h_node(struct harness *h, raft_id id)
{
    H_CHECK(id >= 1 && id <= h->n, "no node %llu", (unsigned long long)id);
    return &h->nodes[id];
}

struct raft *h_raft(struct harness *h, raft_id id)
{
    return h_node(h, id)->r;
}

void h_bootstrap_all(struct harness *h)
{
    for (raft_id id = 1; id <= h->n; id++) {
        int rc = id > h->n_boot ? raft_join(h_raft(h, id))
                                : raft_bootstrap(h_raft(h, id), h->voters, h->n_boot);
        H_CHECK(rc == 0, "raft_bootstrap(node %llu) = %d (%s)",
                      (unsigned long long)id, rc, raft_strerror(rc));
    }
}

size_t h_payload(char *buf, raft_index index, raft_term term)
{
    int k = snprintf(buf, 48, "i%llut%llu", (unsigned long long)index,
                     (unsigned long long)term);
    return (size_t)k;
}

void h_mk_entries(struct raft_entry *out, char *bufs, raft_index first,
                  const raft_term *terms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *b = bufs + i * 48;
        out[i].term = terms[i];
        out[i].type = RAFT_ENTRY_COMMAND;
        out[i].len = h_payload(b, first + i, terms[i]);
        out[i].buf = b;
    }
}

int h_restore(struct harness *h, raft_id id, raft_term term, raft_id vote,
              const raft_term *terms, size_t n)
{
    struct h_node *nd = h_node(h, id);
    struct raft_entry *ents = xmalloc((n ? n : 1) * sizeof(*ents));
    char *bufs = xmalloc((n ? n : 1) * 48);
    h_mk_entries(ents, bufs, 1, terms, n);
    int rc = raft_restore(nd->r, h->voters, h->n_boot, term, vote, ents, n);
    if (rc == 0) {
        nd->d_term = term;
        nd->d_vote = vote;
        log_truncate(&nd->disk, 0);
        nd->disk_base = 0;
        snap_free(&nd->snap);
        rx_clear(nd);
        sm_reset(nd);
        for (size_t i = 0; i < n; i++) {
            log_push(&nd->disk, ents[i].term, ents[i].type, ents[i].buf,
                     ents[i].len);
        }
    }
    free(bufs);
    free(ents);
    return rc;
}

int h_restart(struct harness *h, raft_id id)
{
    struct h_node *nd = h_node(h, id);
    raft_destroy(nd->r);
    nd->r = NULL;
    nd->pending = 0; /* the fake disk kept every write started */
    node_clear_records(nd);
    struct raft_callbacks cbs = h_callbacks(h);
    int rc = raft_create(&nd->cfg, &cbs, nd, &nd->r);
    if (rc != 0) {
        nd->r = NULL;
        return rc;
    }
    size_t n = nd->disk.n;
    struct raft_entry *ents = xmalloc((n ? n : 1) * sizeof(*ents));
    for (size_t i = 0; i < n; i++) {
        ents[i].term = nd->disk.e[i].term;
        ents[i].type = nd->disk.e[i].type;
        ents[i].buf = nd->disk.e[i].buf;
        ents[i].len = nd->disk.e[i].len;
    }
    /* what was being received was not durable; the state machine comes
     * back from the snapshot, or empty */
    rx_clear(nd);
    sm_reset(nd);
    if (nd->snap.have) {
        struct raft_snapshot_meta meta = {.index = nd->snap.index,
                                          .term = nd->snap.term,
                                          .conf = nd->snap.conf,
                                          .conf_len = nd->snap.conf_len};
        sm_conf_set(nd, nd->snap.conf, nd->snap.conf_len);
        H_CHECK(h_snapshot_parse(nd->snap.data, nd->snap.len, &nd->sm_index,
                                 &nd->sm_term, &nd->sm_hash),
                "node %llu: the durable snapshot is corrupt",
                (unsigned long long)id);
        rc = raft_restore_snapshot(nd->r, &meta, nd->d_term, nd->d_vote,
                                   nd->disk_base + 1, ents, n);
    } else {
        H_CHECK(nd->disk_base == 0, "node %llu: disk starts after %llu "
                "without a snapshot", (unsigned long long)id,
                (unsigned long long)nd->disk_base);
        sm_conf_voters(nd);
        rc = raft_restore(nd->r, id > h->n_boot ? NULL : h->voters,
                          id > h->n_boot ? 0 : h->n_boot, nd->d_term, nd->d_vote,
                          ents, n);
    }
    free(ents);
    return rc;
}

int h_restore_snapshot(struct harness *h, raft_id id, raft_index snap_index,
                       raft_term snap_term, raft_term term, raft_id vote,
                       raft_index first, const raft_term *terms, size_t n)
{
    struct h_node *nd = h_node(h, id);
    size_t len = h->opts.snapshot_size > H_SNAP_HEADER ? h->opts.snapshot_size
                                                       : H_SNAP_HEADER;
    /* a state machine that applied snap_index entries: any hash will do,
     * as long as it is the snapshot's */
    uint64_t hash = fnv(H_FNV_BASIS, &snap_index, sizeof(snap_index));
    snap_free(&nd->snap);
    rx_clear(nd);
    nd->snap.have = true;
    nd->snap.index = snap_index;
    nd->snap.term = snap_term;
    nd->snap.data = h_snapshot_encode(snap_index, snap_term, hash, len);
    nd->snap.len = len;
    sm_conf_voters(nd);
    nd->snap.conf = xmalloc(nd->sm_conf_len);
    memcpy(nd->snap.conf, nd->sm_conf, nd->sm_conf_len);
    nd->snap.conf_len = nd->sm_conf_len;
    nd->sm_index = snap_index;
    nd->sm_term = snap_term;
    nd->sm_hash = hash;
    nd->d_term = term;
    nd->d_vote = vote;
    log_truncate(&nd->disk, 0);
    nd->disk_base = first - 1;
    struct raft_entry *ents = xmalloc((n ? n : 1) * sizeof(*ents));
    char *bufs = xmalloc((n ? n : 1) * 48);
    h_mk_entries(ents, bufs, first, terms, n);
    for (size_t i = 0; i < n; i++) {
        log_push(&nd->disk, ents[i].term, ents[i].type, ents[i].buf,
                 ents[i].len);
    }
    struct raft_snapshot_meta meta = {.index = snap_index, .term = snap_term,
                                      .conf = nd->snap.conf,
                                      .conf_len = nd->snap.conf_len};
    int rc = raft_restore_snapshot(nd->r, &meta, term, vote, first, ents, n);
    free(bufs);
    free(ents);
    return rc;
}

/* ---- driving ----------------------------------------------------------------- */

int h_tick(struct harness *h, raft_id id, unsigned n)
{
    int first = 0;
    for (unsigned i = 0; i < n; i++) {
        int rc = raft_tick(h_raft(h, id));
        if (rc != 0 && first == 0) {
            first = rc;
        }
    }
    return first;
}

unsigned h_tick_count(struct harness *h, raft_id id, unsigned n, int rc)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        int got = raft_tick(h_raft(h, id));
        H_CHECK(got == 0 || got == rc, "raft_tick(%llu) = %d (%s)",
                (unsigned long long)id, got, raft_strerror(got));
        k += got == rc;
    }
    return k;
}

unsigned h_tick_until_role(struct harness *h, raft_id id, int role,
                           unsigned max)
{
    for (unsigned i = 1; i <= max; i++) {
        raft_tick(h_raft(h, id));
        if (raft_role(h_raft(h, id)) == role) {
            return i;
        }
    }
    return 0;
}

static unsigned max_timeout(const struct harness *h)
{
    unsigned e = h->opts.election_ticks ? h->opts.election_ticks : 10;
    return e + e / 4;
}

void h_elect(struct harness *h, raft_id id)
{
    struct raft *r = h_raft(h, id);
    if (raft_role(r) != RAFT_LEADER) {
        raft_term t0 = raft_current_term(r);
        unsigned max = 2 * max_timeout(h) + 2;
        for (unsigned i = 0; i < max && raft_current_term(r) == t0 &&
                             raft_role(r) != RAFT_LEADER &&
                             raft_role(r) != RAFT_PRECANDIDATE;
             i++) {
            raft_tick(r);
        }
        if (h->opts.async) {
            h_settle(h);
        } else {
            h_deliver_all(h);
        }
    }
    H_CHECK(raft_role(r) == RAFT_LEADER,
                  "h_elect: node %llu is not leader (role %d, term %llu), "
                  "seed %llu",
                  (unsigned long long)id, raft_role(r),
                  (unsigned long long)raft_current_term(r),
                  (unsigned long long)h->opts.seed);
}

void h_heartbeat(struct harness *h, raft_id leader, unsigned rounds)
{
    unsigned hb = h->opts.heartbeat_ticks ? h->opts.heartbeat_ticks : 1;
    for (unsigned i = 0; i < rounds; i++) {
        h_tick(h, leader, hb);
        h_deliver_all(h);
    }
}

int h_persisted(struct harness *h, raft_id id, size_t n, int status)
{
    struct h_node *nd = h_node(h, id);
    int rc = raft_persisted(nd->r, n, status);
    if (rc == 0 || rc == RAFT_EAPPLY || rc == RAFT_ESTOPPED) {
        nd->pending -= n;
    }
    return rc;
}

void h_settle(struct harness *h)
{
    bool busy = true;
    /* Bounded: each round either completes writes or delivers messages,
     * and a quiet cluster (no ticks) produces finitely many of both. */
    for (unsigned round = 0; busy && round < 10000; round++) {
        busy = false;
        for (raft_id id = 1; id <= h->n; id++) {
            struct h_node *nd = h_node(h, id);
            if (nd->r != NULL && nd->pending > 0) {
                h_persisted(h, id, nd->pending, 0);
                busy = true;
            }
        }
        if (h_deliver_all(h) > 0) {
            busy = true;
        }
    }
    H_CHECK(!busy, "h_settle: the cluster did not settle");
}

int h_propose(struct harness *h, raft_id id, const char *s, raft_index *idx)
{
    return raft_propose(h_raft(h, id), s, strlen(s), idx);
}

/* ---- network -------------------------------------------------------------------- */

static bool matches(const struct raft_msg *m, raft_id from, raft_id to,
                    int type)
{
    return (from == 0 || m->from == from) && (to == 0 || m->to == to) &&
           (type == 0 || m->type == type);
}

size_t h_count(const struct harness *h, raft_id from, raft_id to, int type)
{
    size_t k = 0;
    for (size_t i = 0; i < h->n_net; i++) {
        k += matches(&h->net[i].m, from, to, type);
    }
    return k;
}

const struct raft_msg *h_find(const struct harness *h, raft_id from,
                              raft_id to, int type, size_t k)
{
    for (size_t i = 0; i < h->n_net; i++) {
        if (matches(&h->net[i].m, from, to, type) && k-- == 0) {
            return &h->net[i].m;
        }
    }
    return NULL;
}

const char *h_msg_type_name(int type)
{
    switch (type) {
    case RAFT_MSG_VOTE: return "VOTE";
    case RAFT_MSG_VOTE_RESP: return "VOTE_RESP";
    case RAFT_MSG_APPEND: return "APPEND";
    case RAFT_MSG_APPEND_RESP: return "APPEND_RESP";
    case RAFT_MSG_SNAPSHOT: return "SNAPSHOT";
    case RAFT_MSG_SNAPSHOT_RESP: return "SNAPSHOT_RESP";
    default: return "?";
    }
}

/* Remove net[i] and step it into its recipient. */
static int deliver_at(struct harness *h, size_t i)
{
    struct h_msg hm = h->net[i];
    memmove(&h->net[i], &h->net[i + 1], (h->n_net - i - 1) * sizeof(hm));
    h->n_net--;
    int rc = RAFT_EINVAL;
    if (hm.m.to >= 1 && hm.m.to <= h->n && h->nodes[hm.m.to].r != NULL &&
        raft_role(h->nodes[hm.m.to].r) != 0) {
        rc = raft_step(h->nodes[hm.m.to].r, &hm.m);
        h->delivered++;
        if (h->strict) {
            H_CHECK(rc != RAFT_EBADMSG && rc != RAFT_ETOOBIG &&
                              rc != RAFT_ENOTMEMBER && rc != RAFT_EINVAL,
                          "node %llu rejected a library-made %s from %llu "
                          "(term %llu) with %d (%s); seed %llu",
                          (unsigned long long)hm.m.to,
                          h_msg_type_name(hm.m.type),
                          (unsigned long long)hm.m.from,
                          (unsigned long long)hm.m.term, rc, raft_strerror(rc),
                          (unsigned long long)h->opts.seed);
        }
    }
    free_msg(&hm);
    return rc;
}

int h_deliver_one(struct harness *h, raft_id from, raft_id to, int type)
{
    for (size_t i = 0; i < h->n_net; i++) {
        if (matches(&h->net[i].m, from, to, type)) {
            return deliver_at(h, i);
        }
    }
    ck_abort_msg("h_deliver_one: no %s message %llu -> %llu in flight",
                 type ? h_msg_type_name(type) : "", (unsigned long long)from,
                 (unsigned long long)to);
    return 0;
}

size_t h_deliver_all(struct harness *h)
{
    size_t n = 0;
    for (;;) {
        size_t i = 0;
        while (i < h->n_net && h->hold != NULL &&
               h->hold(&h->net[i].m, h->hold_arg)) {
            i++;
        }
        if (i == h->n_net) {
            return n;
        }
        deliver_at(h, i);
        n++;
        H_CHECK(n < 1000000, "h_deliver_all: message storm; seed %llu",
                      (unsigned long long)h->opts.seed);
    }
}

bool h_hold_nodes(const struct raft_msg *m, void *arg)
{
    uint32_t mask = *(const uint32_t *)arg;
    return ((mask >> m->from) & 1u) || ((mask >> m->to) & 1u);
}

void h_partition(struct harness *h, uint32_t mask)
{
    h->partition = mask;
    h->hold = mask ? h_hold_nodes : NULL;
    h->hold_arg = mask ? &h->partition : NULL;
}

int h_deliver_at(struct harness *h, size_t i)
{
    H_CHECK(i < h->n_net, "h_deliver_at: no message %zu", i);
    return deliver_at(h, i);
}

void h_drop_at(struct harness *h, size_t i)
{
    H_CHECK(i < h->n_net, "h_drop_at: no message %zu", i);
    free_msg(&h->net[i]);
    memmove(&h->net[i], &h->net[i + 1], (h->n_net - i - 1) * sizeof(h->net[0]));
    h->n_net--;
}

void h_duplicate_at(struct harness *h, size_t i)
{
    H_CHECK(i < h->n_net, "h_duplicate_at: no message %zu", i);
    GROW(h->net, h->n_net, h->cap_net);
    struct raft_msg m = h->net[i].m;
    copy_msg(&h->net[h->n_net++], &m);
}

bool h_pop(struct harness *h, struct h_msg *out)
{
    if (h->n_net == 0) {
        return false;
    }
    *out = h->net[0];
    memmove(&h->net[0], &h->net[1], (h->n_net - 1) * sizeof(*out));
    h->n_net--;
    return true;
}

void h_msg_free(struct h_msg *m)
{
    free_msg(m);
}

void h_drop(struct harness *h, raft_id from, raft_id to, int type)
{
    size_t j = 0;
    for (size_t i = 0; i < h->n_net; i++) {
        if (matches(&h->net[i].m, from, to, type)) {
            free_msg(&h->net[i]);
        } else {
            h->net[j++] = h->net[i];
        }
    }
    h->n_net = j;
}

void h_drop_all(struct harness *h)
{
    h_drop(h, 0, 0, 0);
}

/* ---- inspection -------------------------------------------------------------------- */

struct raft_status h_status(struct harness *h, raft_id id)
{
    struct raft_status st;
    memset(&st, 0, sizeof(st));
    raft_status(h_raft(h, id), &st);
    return st;
}

bool h_status_eq(const struct raft_status *a, const struct raft_status *b)
{
    return a->id == b->id && a->role == b->role && a->term == b->term &&
           a->vote == b->vote && a->leader == b->leader &&
           a->commit == b->commit && a->applied == b->applied &&
           a->last_index == b->last_index && a->last_term == b->last_term &&
           a->n_voters == b->n_voters;
}

void h_assert_status_eq(const struct raft_status *a,
                        const struct raft_status *b, const char *what)
{
    H_CHECK(h_status_eq(a, b),
                  "%s: status changed: role %d->%d term %llu->%llu vote "
                  "%llu->%llu leader %llu->%llu commit %llu->%llu applied "
                  "%llu->%llu last %llu/%llu->%llu/%llu voters %zu->%zu",
                  what, a->role, b->role, (unsigned long long)a->term,
                  (unsigned long long)b->term, (unsigned long long)a->vote,
                  (unsigned long long)b->vote, (unsigned long long)a->leader,
                  (unsigned long long)b->leader, (unsigned long long)a->commit,
                  (unsigned long long)b->commit,
                  (unsigned long long)a->applied,
                  (unsigned long long)b->applied,
                  (unsigned long long)a->last_index,
                  (unsigned long long)a->last_term,
                  (unsigned long long)b->last_index,
                  (unsigned long long)b->last_term, a->n_voters, b->n_voters);
}

size_t h_log_terms(struct harness *h, raft_id id, raft_term *terms, size_t cap)
{
    struct raft_status st = h_status(h, id);
    size_t n = 0;
    for (raft_index i = st.first_index; i <= st.last_index; i++) {
        struct raft_entry e;
        int rc = raft_entry_at(h_raft(h, id), i, &e);
        H_CHECK(rc == 0, "raft_entry_at(node %llu, %llu) = %d with "
                      "last_index %llu", (unsigned long long)id,
                      (unsigned long long)i, rc,
                      (unsigned long long)st.last_index);
        if (n < cap) {
            terms[n] = e.term;
        }
        n++;
    }
    return n;
}

static void fmt_terms(char *buf, size_t cap, const raft_term *t, size_t n)
{
    size_t off = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && off + 24 < cap; i++) {
        off += (size_t)snprintf(buf + off, cap - off, "%s%llu", i ? "," : "",
                                (unsigned long long)t[i]);
    }
}

void h_assert_log_terms(struct harness *h, raft_id id, const raft_term *terms,
                        size_t n)
{
    size_t cap = n + 1;
    raft_term *got = xmalloc(cap * sizeof(*got));
    size_t k = h_log_terms(h, id, got, cap);
    bool eq = k == n;
    for (size_t i = 0; eq && i < n; i++) {
        eq = got[i] == terms[i];
    }
    if (!eq) {
        char a[1024], b[1024];
        fmt_terms(a, sizeof(a), terms, n);
        fmt_terms(b, sizeof(b), got, k < cap ? k : cap);
        free(got);
        ck_abort_msg("node %llu log terms: want [%s], got [%s]",
                     (unsigned long long)id, a, b);
    }
    free(got);
}

void h_assert_logs_equal(struct harness *h, raft_id a, raft_id b)
{
    struct raft_status sa = h_status(h, a), sb = h_status(h, b);
    H_CHECK(sa.last_index == sb.last_index,
                  "logs of %llu and %llu differ in length: %llu vs %llu",
                  (unsigned long long)a, (unsigned long long)b,
                  (unsigned long long)sa.last_index,
                  (unsigned long long)sb.last_index);
    raft_index from = sa.first_index > sb.first_index ? sa.first_index
                                                       : sb.first_index;
    for (raft_index i = from; i <= sa.last_index; i++) {
        struct raft_entry ea, eb;
        H_CHECK(raft_entry_at(h_raft(h, a), i, &ea) == 0 &&
                    raft_entry_at(h_raft(h, b), i, &eb) == 0,
                "raft_entry_at(%llu) failed below last_index",
                (unsigned long long)i);
        H_CHECK(ea.term == eb.term && ea.type == eb.type &&
                          ea.len == eb.len &&
                          (ea.len == 0 || memcmp(ea.buf, eb.buf, ea.len) == 0),
                      "logs of %llu and %llu differ at index %llu (terms "
                      "%llu/%llu)",
                      (unsigned long long)a, (unsigned long long)b,
                      (unsigned long long)i, (unsigned long long)ea.term,
                      (unsigned long long)eb.term);
    }
}

void h_assert_disk_matches(struct harness *h, raft_id id)
{
    struct h_node *nd = h_node(h, id);
    struct raft_status st = h_status(h, id);
    H_CHECK(nd->d_term == st.term && nd->d_vote == st.vote,
                  "node %llu: disk has term %llu vote %llu, memory term %llu "
                  "vote %llu",
                  (unsigned long long)id, (unsigned long long)nd->d_term,
                  (unsigned long long)nd->d_vote, (unsigned long long)st.term,
                  (unsigned long long)st.vote);
    H_CHECK(nd->disk_base + nd->disk.n == st.last_index,
                  "node %llu: disk has %zu entries after %llu, memory "
                  "last_index %llu",
                  (unsigned long long)id, nd->disk.n,
                  (unsigned long long)nd->disk_base,
                  (unsigned long long)st.last_index);
    /* The disk may still hold entries the node compacted, never lack
     * ones it retains. */
    H_CHECK(nd->disk_base < st.first_index,
            "node %llu: disk starts at %llu, memory at %llu",
            (unsigned long long)id, (unsigned long long)nd->disk_base + 1,
            (unsigned long long)st.first_index);
    H_CHECK(nd->disk_base == 0 || (nd->snap.have && nd->snap.index >= nd->disk_base),
            "node %llu: disk starts after %llu, not covered by a snapshot",
            (unsigned long long)id, (unsigned long long)nd->disk_base);
    for (size_t i = (size_t)(st.first_index - 1 - nd->disk_base); i < nd->disk.n; i++) {
        raft_index idx = nd->disk_base + 1 + i;
        struct raft_entry e;
        H_CHECK(raft_entry_at(nd->r, idx, &e) == 0,
                "raft_entry_at(%llu) failed below last_index",
                (unsigned long long)idx);
        const struct h_entry *d = &nd->disk.e[i];
        H_CHECK(d->term == e.term && d->type == e.type &&
                          d->len == e.len &&
                          (e.len == 0 || memcmp(d->buf, e.buf, e.len) == 0),
                      "node %llu: disk and memory differ at index %llu",
                      (unsigned long long)id, (unsigned long long)idx);
    }
}

void h_reset_calls(struct harness *h, raft_id id)
{
    struct h_node *nd = h_node(h, id);
    nd->n_calls = 0;
    nd->n_events = 0;
}

void h_reset_all_calls(struct harness *h)
{
    for (raft_id id = 1; id <= h->n; id++) {
        h_reset_calls(h, id);
    }
}

size_t h_ncalls(const struct harness *h, raft_id id, int kind)
{
    const struct h_node *nd = &h->nodes[id];
    size_t k = 0;
    for (size_t i = 0; i < nd->n_calls; i++) {
        k += kind == 0 || nd->calls[i].kind == kind;
    }
    return k;
}

long h_call_pos(const struct harness *h, raft_id id, int kind, size_t k)
{
    const struct h_node *nd = &h->nodes[id];
    for (size_t i = 0; i < nd->n_calls; i++) {
        if ((kind == 0 || nd->calls[i].kind == kind) && k-- == 0) {
            return (long)i;
        }
    }
    return -1;
}

const struct h_call *h_call(const struct harness *h, raft_id id, int kind,
                            size_t k)
{
    long p = h_call_pos(h, id, kind, k);
    return p < 0 ? NULL : &h->nodes[id].calls[p];
}

size_t h_nevents(const struct harness *h, raft_id id, int type)
{
    return h_nevents_error(h, id, type, 0);
}

size_t h_nevents_error(const struct harness *h, raft_id id, int type,
                       int error)
{
    const struct h_node *nd = &h->nodes[id];
    size_t k = 0;
    for (size_t i = 0; i < nd->n_events; i++) {
        k += (type == 0 || nd->events[i].type == type) &&
             (error == 0 || nd->events[i].error == error);
    }
    return k;
}

const struct h_event *h_event(const struct harness *h, raft_id id, int type,
                              size_t k)
{
    const struct h_node *nd = &h->nodes[id];
    for (size_t i = 0; i < nd->n_events; i++) {
        if ((type == 0 || nd->events[i].type == type) && k-- == 0) {
            return &nd->events[i];
        }
    }
    return NULL;
}

/* ---- membership ------------------------------------------------------------------ */

struct harness *h_conf_cluster(size_t spare, const struct h_opts *o)
{
    struct h_opts d = {.election_ticks = 10, .heartbeat_ticks = 1, .seed = 7};
    if (o != NULL) {
        d = *o;
    }
    d.n_boot = 3;
    struct harness *h = h_new(3 + spare, &d);
    h_bootstrap_all(h);
    h_elect(h, 1);
    h_heartbeat(h, 1, 1);
    ck_assert_uint_eq(h_status(h, 1).commit, 1);
    return h;
}

const char *h_conf_str(struct harness *h, raft_id id, char *buf, size_t cap)
{
    struct raft_member m[16];
    size_t n = 0, used = 0;
    ck_assert_int_eq(raft_conf(h_raft(h, id), m, H_ARRAY_LEN(m), &n), 0);
    buf[0] = 0;
    for (size_t i = 0; i < n && used + 8 < cap; i++) {
        used += (size_t)snprintf(buf + used, cap - used, "%s%llu%s%s%s",
                                 i ? " " : "", (unsigned long long)m[i].id,
                                 m[i].flags & RAFT_MEMBER_VOTER ? "V" : "",
                                 m[i].flags & RAFT_MEMBER_OUTGOING ? "O" : "",
                                 m[i].flags & RAFT_MEMBER_LEARNER ? "L" : "");
    }
    return buf;
}

int h_change1(struct harness *h, raft_id leader, int type, raft_id id,
              raft_index *idx)
{
    struct raft_change c = {type, id};
    return raft_propose_change(h_raft(h, leader), &c, 1, RAFT_JOINT_AUTO, idx);
}

void h_wipe_and_join(struct harness *h, raft_id id)
{
    struct h_node *nd = h_node(h, id);
    raft_destroy(nd->r);
    nd->r = NULL;
    log_truncate(&nd->disk, 0);
    nd->disk_base = 0;
    nd->d_term = 0;
    nd->d_vote = 0;
    nd->pending = 0;
    snap_free(&nd->snap);
    rx_clear(nd);
    sm_reset(nd);
    sm_conf_voters(nd);
    struct raft_callbacks cbs = h_callbacks(h);
    ck_assert_int_eq(raft_create(&nd->cfg, &cbs, nd, &nd->r), 0);
    ck_assert_int_eq(raft_join(nd->r), 0);
}

/* ---- message builders ---------------------------------------------------------- */

struct raft_msg h_msg_vote(raft_id from, raft_id to, raft_term term,
                           raft_index last_index, raft_term last_term)
{
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_VOTE;
    m.from = from;
    m.to = to;
    m.term = term;
    m.u.vote.last_index = last_index;
    m.u.vote.last_term = last_term;
    return m;
}

struct raft_msg h_msg_vote_resp(raft_id from, raft_id to, raft_term term,
                                bool granted, raft_index last_index,
                                raft_term last_term)
{
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_VOTE_RESP;
    m.from = from;
    m.to = to;
    m.term = term;
    m.u.vote_resp.granted = granted;
    m.u.vote_resp.last_index = last_index;
    m.u.vote_resp.last_term = last_term;
    return m;
}

struct raft_msg h_msg_append(raft_id from, raft_id to, raft_term term,
                             raft_index prev_index, raft_term prev_term,
                             raft_index commit,
                             const struct raft_entry *entries, size_t n)
{
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_APPEND;
    m.from = from;
    m.to = to;
    m.term = term;
    m.u.append.prev_index = prev_index;
    m.u.append.prev_term = prev_term;
    m.u.append.commit = commit;
    m.u.append.entries = entries;
    m.u.append.n_entries = n;
    return m;
}

struct raft_msg h_msg_append_resp(raft_id from, raft_id to, raft_term term,
                                  bool success, raft_index index,
                                  raft_index hint_index, raft_term hint_term)
{
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_APPEND_RESP;
    m.from = from;
    m.to = to;
    m.term = term;
    m.u.append_resp.success = success;
    m.u.append_resp.index = index;
    m.u.append_resp.hint_index = hint_index;
    m.u.append_resp.hint_term = hint_term;
    return m;
}

static void make_leader(struct harness *h, raft_id id, bool keep_appends);

void h_make_leader_scripted(struct harness *h, raft_id id)
{
    make_leader(h, id, false);
}

void h_make_leader_keep_appends(struct harness *h, raft_id id)
{
    make_leader(h, id, true);
}

struct raft_progress h_progress(struct harness *h, raft_id leader,
                                raft_id peer)
{
    struct raft_progress p;
    for (size_t i = 0; i < h->n; i++) {
        memset(&p, 0, sizeof(p));
        int rc = raft_progress(h_raft(h, leader), i, &p);
        H_CHECK(rc == 0, "raft_progress(%llu, %zu) = %d (%s)",
                      (unsigned long long)leader, i, rc, raft_strerror(rc));
        if (p.id == peer) {
            return p;
        }
    }
    ck_abort_msg("no progress for voter %llu", (unsigned long long)peer);
    return p;
}

static void make_leader(struct harness *h, raft_id id, bool keep_appends)
{
    struct raft *r = h_raft(h, id);
    unsigned t = h_tick_until_role(h, id, RAFT_CANDIDATE, 2 * max_timeout(h));
    H_CHECK(t > 0 || raft_role(r) == RAFT_LEADER,
                  "node %llu never became candidate", (unsigned long long)id);
    struct raft_status st = h_status(h, id);
    for (raft_id p = 1; p <= h->n && raft_role(r) != RAFT_LEADER; p++) {
        if (p == id) {
            continue;
        }
        /* the voter's last entry: claim an empty log, which is always
         * consistent with granting */
        struct raft_msg m = h_msg_vote_resp(p, id, st.term, true, 0, 0);
        int rc = raft_step(r, &m);
        H_CHECK(rc == 0, "granted vote from %llu: raft_step = %d (%s)",
                      (unsigned long long)p, rc, raft_strerror(rc));
    }
    H_CHECK(raft_role(r) == RAFT_LEADER,
                  "node %llu did not become leader after a majority of votes",
                  (unsigned long long)id);
    if (keep_appends) {
        h_drop(h, 0, 0, RAFT_MSG_VOTE);
        h_drop(h, 0, 0, RAFT_MSG_VOTE_RESP);
    } else {
        h_drop_all(h);
    }
    h_reset_all_calls(h);
}

struct harness *h_single(size_t n, const struct h_opts *opts, raft_term term,
                         raft_id vote, const raft_term *log, size_t nlog)
{
    struct harness *h = h_new(n, opts);
    int rc = h_restore(h, 1, term, vote, log, nlog);
    H_CHECK(rc == 0, "h_single: raft_restore = %d (%s)", rc,
                  raft_strerror(rc));
    return h;
}

long h_assert_sent(const struct harness *h, raft_id id, int type, raft_id to)
{
    const struct h_node *nd = &h->nodes[id];
    for (size_t i = 0; i < nd->n_calls; i++) {
        if (nd->calls[i].kind == H_CB_SEND && nd->calls[i].msg_type == type &&
            nd->calls[i].to == to) {
            return (long)i;
        }
    }
    ck_abort_msg("node %llu sent no %s to %llu", (unsigned long long)id,
                 h_msg_type_name(type), (unsigned long long)to);
    return -1;
}
