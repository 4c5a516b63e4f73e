/*
 * log.h - the in-memory log: entries 1 .. last, compactly stored.
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

#include "../raft.h"

struct raft__log_ent {
    const uint8_t *buf; /* into a chunk; NULL only for empty payloads */
    uint32_t len;
    uint8_t type;
};

struct raft__log_run {
    raft_index start; /* first index of the run */
    raft_term term;
};

struct raft__log_chunk;

struct raft__log {
    const struct raft_allocator *a;
    raft_index last;                /* 0 when empty */
    struct raft__log_ent **blocks;  /* directory of descriptor blocks */
    size_t nblocks;                 /* blocks allocated */
    size_t blocks_cap;              /* directory capacity */
    struct raft__log_run *runs;     /* ascending start; runs[0].start == 1 */
    size_t nruns;
    size_t runs_cap;
    struct raft__log_chunk *tail;   /* newest payload chunk, or NULL */
};

void raft__log_init(struct raft__log *l, const struct raft_allocator *a);
void raft__log_close(struct raft__log *l);

static inline raft_index raft__log_last(const struct raft__log *l)
{
    return l->last;
}

/* Term of the entry at index i; 0 for i == 0 or i > last. */
raft_term raft__log_term(const struct raft__log *l, raft_index i);

/* Term of the last entry, 0 if empty. */
raft_term raft__log_last_term(const struct raft__log *l);

/*
 * Make room to append n entries with `bytes` payload bytes in total, whose
 * terms form at most `runs` runs, after an optional truncation. Returns 0 or
 * RAFT_ENOMEM (the log is unchanged either way).
 */
int raft__log_reserve(struct raft__log *l, size_t n, size_t bytes, size_t runs);

/* Append one entry at last+1, copying the payload. Needs a reservation. */
void raft__log_append(struct raft__log *l, raft_term term, int type,
                      const void *buf, size_t len);

/* Remove every entry with index >= from (from >= 1). Never allocates. */
void raft__log_truncate(struct raft__log *l, raft_index from);

/* Fill *e with the entry at index i, 1 <= i <= last (payload borrowed). */
void raft__log_get(const struct raft__log *l, raft_index i, struct raft_entry *e);

/*
 * Fill out[0..) with entries from index lo on: at most max_n entries, and
 * no more payload bytes than max_bytes unless the first entry alone exceeds
 * it. Returns the number filled (0 when lo > last).
 */
size_t raft__log_slice(const struct raft__log *l, raft_index lo, size_t max_n,
                       size_t max_bytes, struct raft_entry *out);

/*
 * The largest index j <= min(i, last) whose term is <= t (0 if none): the
 * last entry that may still match a log whose entry at i has term t. Used
 * on both sides of fast log backtracking.
 */
raft_index raft__log_match_hint(const struct raft__log *l, raft_index i,
                                raft_term t);

#endif
