/*
 * log.c - compact in-memory log storage; see log.h for the layout.
 */
#include "log.h"

#include <string.h>

#include "heap.h"

#define BLOCK_SHIFT RAFT__LOG_BLOCK_SHIFT
#define BLOCK_SIZE ((size_t)1 << BLOCK_SHIFT)
#define CHUNK_MIN ((size_t)4096)   /* first chunk: small nodes stay small */
#define CHUNK_MAX ((size_t)65536)  /* chunks double up to this size */


void raft__log_init(struct raft__log *l, const struct raft_allocator *a)
{
    memset(l, 0, sizeof(*l));
    l->a = a;
    l->slot0 = 1;
    l->slots_end = 1;
}

/* Free chunk c and every older one. */
static void free_chunks(const struct raft_allocator *a, struct raft__log_chunk *c)
{
    /* Bounded by the number of chunks. */
    while (c != NULL) {
        struct raft__log_chunk *prev = c->prev;
        raft__heap_free(a, c);
        c = prev;
    }
}

void raft__log_close(struct raft__log *l)
{
    size_t i;
    free_chunks(l->a, l->tail);
    for (i = 0; i < l->nblocks; i++) {
        raft__heap_free(l->a, l->blocks[i]);
    }
    raft__heap_free(l->a, l->blocks);
    raft__heap_free(l->a, l->runs);
    memset(l, 0, sizeof(*l));
}

#define ent_at raft__log_ent_at
#define run_of raft__log_run_of

size_t raft__log_run_of(const struct raft__log *l, raft_index i)
{
    size_t lo = 0;
    size_t hi = l->nruns - 1;
    if (l->runs[hi].start <= i) {
        return hi; /* the common case: the current term */
    }
    /* Invariant: runs[lo].start <= i < runs[hi].start. */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->runs[mid].start <= i) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Set last_term from the runs, which changed. */
static void set_last_term(struct raft__log *l)
{
    l->last_term = l->nruns == 0 ? l->base_term : l->runs[l->nruns - 1].term;
}

raft_term raft__log_term_slow(const struct raft__log *l, raft_index i)
{
    if (i > l->last || i <= l->base) {
        return i == l->base ? l->base_term : 0;
    }
    return l->runs[run_of(l, i)].term;
}

static int grow(const struct raft_allocator *a, void **p, size_t *cap,
                size_t need, size_t elem)
{
    size_t ncap;
    void *np;
    if (need <= *cap) {
        return 0;
    }
    ncap = *cap == 0 ? 8 : *cap;
    while (ncap < need) {
        ncap *= 2;
    }
    np = raft__heap_realloc(a, *p, ncap * elem);
    if (np == NULL) {
        return RAFT_ENOMEM;
    }
    *p = np;
    *cap = ncap;
    return 0;
}

static int reserve_blocks(struct raft__log *l, size_t n)
{
    size_t need = (size_t)((l->last + 1 - l->slot0 + n + BLOCK_SIZE - 1) >> BLOCK_SHIFT);
    void *dir = l->blocks;
    if (grow(l->a, &dir, &l->blocks_cap, need, sizeof(*l->blocks)) != 0) {
        return RAFT_ENOMEM;
    }
    l->blocks = dir;
    while (l->nblocks < need) {
        struct raft__log_ent *b =
            raft__heap_alloc(l->a, BLOCK_SIZE * sizeof(struct raft__log_ent));
        if (b == NULL) {
            return RAFT_ENOMEM; /* blocks already added are kept: harmless */
        }
        l->blocks[l->nblocks++] = b;
        l->slots_end += BLOCK_SIZE;
    }
    return 0;
}

static int reserve_bytes(struct raft__log *l, size_t bytes)
{
    struct raft__log_chunk *c;
    size_t cap;
    if (bytes == 0 || (l->tail != NULL && l->tail->cap - l->tail->used >= bytes)) {
        return 0;
    }
    cap = l->tail == NULL ? CHUNK_MIN : l->tail->cap * 2;
    if (cap > CHUNK_MAX) {
        cap = CHUNK_MAX;
    }
    if (cap < bytes) {
        cap = bytes;
    }
    if (cap > SIZE_MAX - sizeof(*c)) {
        return RAFT_ENOMEM;
    }
    c = raft__heap_alloc(l->a, sizeof(*c) + cap);
    if (c == NULL) {
        return RAFT_ENOMEM;
    }
    /* The rest of the old tail is abandoned; at most one entry's worth. */
    c->prev = l->tail;
    c->first = l->last + 1;
    c->used = 0;
    c->cap = cap;
    l->tail = c;
    return 0;
}

int raft__log_reserve_slow(struct raft__log *l, size_t n, size_t bytes,
                           size_t runs)
{
    void *rp = l->runs;
    if (grow(l->a, &rp, &l->runs_cap, l->nruns + runs, sizeof(*l->runs)) != 0) {
        return RAFT_ENOMEM;
    }
    l->runs = rp;
    if (reserve_blocks(l, n) != 0) {
        return RAFT_ENOMEM;
    }
    return reserve_bytes(l, bytes);
}

void raft__log_append_many(struct raft__log *l, const struct raft_entry *e,
                           size_t n)
{
    struct raft__log_chunk *t = l->tail;
    uint8_t *dst = t != NULL ? t->data + t->used : NULL;
    raft_term run_term = l->nruns > 0 ? l->runs[l->nruns - 1].term : 0;
    raft_index i = l->last;
    struct raft__log_ent *d = NULL;
    size_t room = 0; /* descriptors left in d's block */
    size_t k;
    /* Bounded by n, reserved by the caller. One term-run check per entry
     * against a register, one descriptor store (the directory is consulted
     * once per block), one copy. */
    for (k = 0; k < n; k++) {
        size_t len = e[k].len;
        i++;
        if (e[k].term != run_term) {
            run_term = e[k].term;
            l->runs[l->nruns].start = i;
            l->runs[l->nruns].term = run_term;
            l->nruns++;
            l->last_term = run_term;
        }
        if (room == 0) {
            d = ent_at(l, i);
            room = BLOCK_SIZE - (size_t)((i - l->slot0) & (BLOCK_SIZE - 1));
        }
        room--;
        d->len = (uint32_t)len;
        d->type = (uint8_t)e[k].type;
        d->buf = dst; /* NULL only before the first chunk: empty payloads */
        d++;
        if (len > 0) {
            memcpy(dst, e[k].buf, len);
            dst += len;
        }
    }
    if (t != NULL) {
        t->used = (size_t)(dst - t->data);
    }
    l->last = i;
}

void raft__log_truncate_slow(struct raft__log *l, raft_index from)
{
    struct raft__log_chunk *keep = NULL;
    /* Chunks whose first entry is truncated hold nothing that survives. Keep
     * the largest of them, emptied, as the new tail so a reservation made
     * before the truncation still holds after it. */
    while (l->tail != NULL && l->tail->first >= from) {
        struct raft__log_chunk *c = l->tail;
        l->tail = c->prev;
        if (keep == NULL || c->cap > keep->cap) {
            raft__heap_free(l->a, keep);
            keep = c;
        } else {
            raft__heap_free(l->a, c);
        }
    }
    if (l->tail != NULL && from - 1 > l->base) {
        /* Entry from-1 was appended into this chunk (its first < from), so
         * its payload ends where the truncated payloads began. */
        const struct raft__log_ent *e = ent_at(l, from - 1);
        l->tail->used = (size_t)(e->buf + e->len - l->tail->data);
    } else if (l->tail != NULL) {
        /* No entry is left: the remaining chunks hold only compacted
         * payloads. The newest is reused from its start. */
        l->tail->used = 0;
        l->tail->first = from;
        free_chunks(l->a, l->tail->prev);
        l->tail->prev = NULL;
    }
    if (keep != NULL) {
        keep->prev = l->tail;
        keep->first = from;
        keep->used = 0;
        l->tail = keep;
    }
    while (l->nruns > 0 && l->runs[l->nruns - 1].start >= from) {
        l->nruns--;
    }
    set_last_term(l);
    l->last = from - 1;
}


size_t raft__log_slice(const struct raft__log *l, raft_index lo, size_t max_n,
                       size_t max_bytes, struct raft_entry *out, size_t *total)
{
    size_t n = 0;
    size_t bytes = 0;
    size_t run;
    raft_index next_start;
    raft_index i;
    raft_index end;
    *total = 0;
    if (lo <= l->base || lo > l->last) {
        return 0;
    }
    end = l->last - lo < max_n ? l->last + 1 : lo + max_n;
    run = run_of(l, lo);
    next_start = run + 1 < l->nruns ? l->runs[run + 1].start : end;
    /* Bounded by max_n and by the log's end. */
    for (i = lo; i < end; i++) {
        const struct raft__log_ent *d = ent_at(l, i);
        /* A first entry larger than the limit goes alone (a
         * configuration entry may be: it is not bounded by max_msg_bytes
         * as commands are), and nothing joins it. */
        if ((uint64_t)d->len + bytes > max_bytes && n > 0) {
            break;
        }
        if (i == next_start) {
            run++;
            next_start = run + 1 < l->nruns ? l->runs[run + 1].start : end;
        }
        bytes += d->len;
        out[n].term = l->runs[run].term;
        out[n].type = d->type;
        out[n].buf = d->buf;
        out[n].len = d->len;
        n++;
    }
    *total = bytes;
    return n;
}

raft_index raft__log_match_hint(const struct raft__log *l, raft_index i,
                                raft_term t)
{
    size_t r;
    if (i > l->last) {
        i = l->last;
    }
    if (i > l->base) {
        /* Walk runs backwards from the one holding i: O(number of terms). */
        r = run_of(l, i);
        for (;;) {
            if (l->runs[r].term <= t) {
                return i;
            }
            i = l->runs[r].start - 1;
            if (r == 0) {
                break; /* i == base */
            }
            r--;
        }
    }
    /* i <= base: every term up to base is <= base_term. */
    return l->base_term <= t ? i : 0;
}

/* Free the descriptor blocks whose slots all lie at or below `upto`, and
 * move the directory down. */
static void drop_blocks(struct raft__log *l, raft_index upto)
{
    size_t k = (size_t)((upto + 1 - l->slot0) >> BLOCK_SHIFT);
    size_t i;
    if (k > l->nblocks) {
        k = l->nblocks;
    }
    if (k == 0) {
        return;
    }
    /* Bounded by the number of blocks. */
    for (i = 0; i < k; i++) {
        raft__heap_free(l->a, l->blocks[i]);
    }
    memmove(l->blocks, l->blocks + k, (l->nblocks - k) * sizeof(*l->blocks));
    l->nblocks -= k;
    l->slot0 += (raft_index)k << BLOCK_SHIFT; /* slots_end stays */
}

void raft__log_compact(struct raft__log *l, raft_index upto)
{
    struct raft__log_chunk *c;
    size_t k;
    if (upto <= l->base || upto > l->last) {
        return;
    }
    l->base_term = l->runs[run_of(l, upto)].term;
    /* Payloads: chunks older than the one holding entry upto+1 (or, when
     * nothing is retained, older than the tail) hold only dropped ones.
     * Bounded by the number of chunks. */
    c = l->tail;
    while (c != NULL && c->first > upto + 1) {
        c = c->prev;
    }
    if (c != NULL) {
        free_chunks(l->a, c->prev);
        c->prev = NULL;
    }
    /* Runs: those that end at or below upto go; the next one starts after
     * it. Bounded by the number of runs. */
    k = 0;
    while (k < l->nruns && (k + 1 == l->nruns ? l->last : l->runs[k + 1].start - 1) <= upto) {
        k++;
    }
    memmove(l->runs, l->runs + k, (l->nruns - k) * sizeof(*l->runs));
    l->nruns -= k;
    if (l->nruns > 0) {
        l->runs[0].start = upto + 1;
    }
    l->base = upto;
    drop_blocks(l, upto); /* last and last_term stay */
}

void raft__log_reset(struct raft__log *l, raft_index index, raft_term term)
{
    size_t i;
    free_chunks(l->a, l->tail);
    l->tail = NULL;
    for (i = 0; i < l->nblocks; i++) {
        raft__heap_free(l->a, l->blocks[i]);
    }
    l->nblocks = 0;
    l->nruns = 0;
    l->base = index;
    l->base_term = term;
    l->last = index;
    l->last_term = term;
    l->slot0 = (index & ~(raft_index)(BLOCK_SIZE - 1)) + 1;
    l->slots_end = l->slot0;
}
