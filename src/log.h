/*
 * log.h - the in-memory log: entries base+1 .. last, compactly stored.
 *
 * Entries up to `base` were compacted away (they are in the host's
 * snapshot); only base's term is kept, so that an AppendEntries whose
 * previous entry is `base` can be checked. Below base nothing is known:
 * callers never ask (every index they use is at least the commit index,
 * and base <= commit), and the functions below say what they return.
 *
 * Layout, chosen so a retained entry costs little more than its payload:
 *   - descriptors (payload pointer, length, type: 16 bytes) live in
 *     fixed-size blocks found through a directory, so growing the log never
 *     copies descriptors and never over-allocates more than one block;
 *   - terms are stored as runs (first index, term): a term changes only at
 *     elections, so a long log has few runs;
 *   - payloads are copied back to back into chunks (arenas) in index order,
 *     so appending costs no allocation per entry.
 *
 * Failure model: raft__log_reserve() is the only function that allocates.
 * After it succeeds, appending the reserved entries and truncating the log
 * cannot fail, so callers reserve first and mutate only once nothing can go
 * wrong (a node runs out of memory with its state unchanged).
 */
#ifndef RAFT_LOG_H
#define RAFT_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../raft.h"

struct raft__log_ent {
    const uint8_t *buf; /* into a chunk; NULL only for empty payloads */
    uint32_t len;       /* fits: every payload is <= UINT32_MAX, checked
                           before it reaches the log */
    uint8_t type;
};

struct raft__log_run {
    raft_index start; /* first index of the run */
    raft_term term;
};

/* A payload arena. Payloads of entries first, first+1, ... are stored back
 * to back; an entry whose payload is here was appended while this chunk was
 * the tail. Chunks are linked newest first. */
struct raft__log_chunk {
    struct raft__log_chunk *prev;
    raft_index first; /* index of the first entry appended into this chunk */
    size_t used;
    size_t cap;
    uint8_t data[];
};

/* 512 descriptors (8 KiB) per block. */
#define RAFT__LOG_BLOCK_SHIFT 9u

struct raft__log {
    const struct raft_allocator *a;
    raft_index base;                /* entries 1..base are compacted */
    raft_term base_term;            /* term of entry base (0 if base is 0) */
    raft_index last;                /* base when no entry is retained */
    /* Descriptor of index i: slot i - slot0 of the blocks; slot0 - 1 is a
     * multiple of the block size, and slot0 <= base + 1. */
    raft_index slot0;
    struct raft__log_ent **blocks;  /* directory of descriptor blocks */
    size_t nblocks;                 /* blocks allocated */
    raft_index slots_end;           /* slot0 + nblocks * block size: the
                                       first index without a slot */
    size_t blocks_cap;              /* directory capacity */
    struct raft__log_run *runs;     /* ascending start; runs[0].start ==
                                       base + 1 when last > base; none
                                       otherwise */
    size_t nruns;
    size_t runs_cap;
    raft_term last_term;            /* term of entry last: the last run's,
                                       base_term when there is none */
    struct raft__log_chunk *tail;   /* newest payload chunk, or NULL */
};

void raft__log_init(struct raft__log *l, const struct raft_allocator *a);
void raft__log_close(struct raft__log *l);

static inline raft_index raft__log_last(const struct raft__log *l)
{
    return l->last;
}

raft_term raft__log_term_slow(const struct raft__log *l, raft_index i);

/* Index into runs of the run holding i, base < i <= last. */
size_t raft__log_run_of(const struct raft__log *l, raft_index i);

/* Term of the entry at index i, base <= i <= last; 0 for i > last, for
 * i == 0, and for i < base (unknown: compacted). */
static inline raft_term raft__log_term(const struct raft__log *l, raft_index i)
{
    /* base < i <= last, in one comparison (unsigned wrap-around), and the
     * current term's run: the common case. */
    if (i > l->last || i <= l->base) {
        return i == l->base ? l->base_term : 0;
    }
    if (l->runs[l->nruns - 1].start <= i) {
        return l->runs[l->nruns - 1].term; /* the common case: this term */
    }
    return raft__log_term_slow(l, i);
}

/* Term of the last entry (base_term if none is retained). */
static inline raft_term raft__log_last_term(const struct raft__log *l)
{
    return l->last_term;
}

/*
 * Make room to append n entries with `bytes` payload bytes in total, whose
 * terms form at most `runs` runs, after an optional truncation. Returns 0 or
 * RAFT_ENOMEM (the log is unchanged either way). Descriptor slots are
 * counted from last: n is how far the log may then end past last (entries
 * that replace truncated ones take their slots), and last + n must not
 * exceed UINT64_MAX, which the fast test below needs (it does not wrap).
 */
int raft__log_reserve_slow(struct raft__log *l, size_t n, size_t bytes,
                          size_t runs);

/* Free bytes at the end of the newest chunk. */
static inline size_t raft__log_tail_room(const struct raft__log *l)
{
    return l->tail == NULL ? 0 : l->tail->cap - l->tail->used;
}

static inline int raft__log_reserve(struct raft__log *l, size_t n, size_t bytes,
                                    size_t runs)
{
    /* Fast path, taken by almost every append: everything already fits. */
    if (l->nruns + runs <= l->runs_cap &&
        l->last + n < l->slots_end &&
        (bytes == 0 || raft__log_tail_room(l) >= bytes)) {
        return 0;
    }
    return raft__log_reserve_slow(l, n, bytes, runs);
}

/* Descriptor of the entry at index i, base < i <= last (or a reserved slot
 * up to last + n). */
static inline struct raft__log_ent *raft__log_ent_at(const struct raft__log *l,
                                                     raft_index i)
{
    size_t p = (size_t)(i - l->slot0);
    return &l->blocks[p >> RAFT__LOG_BLOCK_SHIFT]
                     [p & (((size_t)1 << RAFT__LOG_BLOCK_SHIFT) - 1)];
}

/* Append one entry at last+1, copying the payload. Needs a reservation.
 * Returns the log's copy of the payload (NULL when len is 0 and no chunk
 * exists yet), valid until the entry is truncated or compacted away.
 * Inline: it is a few stores on the path of every entry, which a call
 * would cost as much as (measured on W1). */
static inline const void *raft__log_append(struct raft__log *l, raft_term term,
                                           int type, const void *buf,
                                           size_t len)
{
    struct raft__log_ent *e;
    uint8_t *dst = NULL;
    raft_index i = l->last + 1;
    if (l->nruns == 0 || l->last_term != term) {
        l->runs[l->nruns].start = i;
        l->runs[l->nruns].term = term;
        l->nruns++;
        l->last_term = term;
    }
    e = raft__log_ent_at(l, i);
    e->len = (uint32_t)len;
    e->type = (uint8_t)type;
    if (l->tail != NULL) {
        dst = l->tail->data + l->tail->used;
        l->tail->used += len;
    }
    e->buf = dst; /* NULL only before the first chunk: empty payloads */
    l->last = i;
    if (len > 0) {
        return memcpy(dst, buf, len);
    }
    return dst;
}

/* Append e[0..n) at last+1.., copying the payloads; the same as n calls
 * of raft__log_append, in one pass. Needs a reservation. */
void raft__log_append_many(struct raft__log *l, const struct raft_entry *e,
                           size_t n);
static inline void raft__log_append_n(struct raft__log *l,
                                      const struct raft_entry *e, size_t n)
{
    if (n == 1) {
        raft__log_append(l, e->term, e->type, e->buf, e->len);
    } else {
        raft__log_append_many(l, e, n);
    }
}

/* Remove every entry with index >= from (base < from). Never allocates. */
void raft__log_truncate_slow(struct raft__log *l, raft_index from);
static inline void raft__log_truncate(struct raft__log *l, raft_index from)
{
    /* A follower appending after its last entry, the common case, has
     * nothing to remove. */
    if (from <= l->last) {
        raft__log_truncate_slow(l, from);
    }
}

/* Drop entries base+1 .. upto (base < upto <= last): the host's snapshot
 * covers them. Frees the memory that only they used. Never allocates. */
void raft__log_compact(struct raft__log *l, raft_index upto);

/* Drop every entry and start over after (index, term), an installed
 * snapshot's last entry: base = last = index. Never allocates. */
void raft__log_reset(struct raft__log *l, raft_index index, raft_term term);

/* Fill *e with the entry at index i, base < i <= last (payload borrowed). */
static inline void raft__log_get(const struct raft__log *l, raft_index i,
                                 struct raft_entry *e)
{
    const struct raft__log_ent *d = raft__log_ent_at(l, i);
    e->term = raft__log_term(l, i);
    e->type = d->type;
    e->buf = d->buf;
    e->len = d->len;
}

/*
 * Fill out[0..) with entries from index lo on: at most max_n entries, and
 * no more payload bytes than max_bytes unless the first entry alone exceeds
 * it. Returns the number filled (0 when lo > last or lo <= base); *bytes
 * (out) receives their payload bytes.
 */
size_t raft__log_slice(const struct raft__log *l, raft_index lo, size_t max_n,
                       size_t max_bytes, struct raft_entry *out, size_t *bytes);

/*
 * The largest index j <= min(i, last) whose term is <= t (0 if none): the
 * last entry that may still match a log whose entry at i has term t. Used
 * on both sides of fast log backtracking. Below base terms are unknown:
 * if the answer would be there, it is min(i, base) when base's term is
 * <= t (every earlier term is too), 0 otherwise.
 */
raft_index raft__log_match_hint(const struct raft__log *l, raft_index i,
                                raft_term t);

#endif
