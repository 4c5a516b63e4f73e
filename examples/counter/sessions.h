/*
 * sessions.h - the counter's session table: client id -> (last applied
 * seq, its result, the log index of the entry that last used it). It is
 * what makes a retried INCR take effect exactly once (see server.c).
 *
 * The table is part of the replicated state machine: it changes only when
 * a log entry is applied (ses_touch) or a snapshot restored (ses_decode),
 * so every node holds the same one. It keeps at most `max` sessions; a new
 * client when it is full evicts the session used longest ago: the one with
 * the smallest `index`. That depends on the applied log alone, so every
 * node evicts the same one.
 *
 * Eviction costs O(1): the sessions are chained in a list in the order of
 * their last use (see struct ses_table), instead of a scan of the whole
 * table for the smallest index, which at 65,536 sessions read 4 MiB in
 * the apply callback of every entry of a new client.
 *
 * No I/O and no clocks; memory from malloc, and none once the table has
 * grown to hold `max` sessions, except in ses_encode and ses_decode. Not
 * thread-safe: one owner.
 */
#ifndef COUNTER_SESSIONS_H
#define COUNTER_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

/* One session in a snapshot body (ses_encode, ses_decode), little-endian:
 * u64 client_id, u64 seq, u64 value, u64 index. */
#define SES_RECORD_BYTES 32u

/* The largest `max` (bucket numbers must fit the list's uint32_t links). */
#define SES_MAX_LIMIT (1u << 28)

struct ses {
    uint64_t client; /* 0: free bucket */
    uint64_t seq;    /* last applied seq */
    uint64_t value;  /* its result */
    uint64_t index;  /* log index of the entry that last used it */
    uint32_t prev, next; /* buckets of the neighbours in the use order */
};

/* The use order. Invariant: the list from `head` along `next` holds every
 * session once, in increasing `index`, so `head` is the session to evict
 * (the one the full scan chose). It holds because entries are applied in
 * increasing index order and each one moves the session it uses to the
 * tail, and because ses_decode links a snapshot's sessions by (index,
 * client id). Indexes are distinct in a table built from the log (an
 * entry uses one session), so the client id only matters for a crafted
 * snapshot (repeated indexes, or indexes past the snapshot's own): the
 * order is then no longer by index alone, but still the same on every
 * node that restores that snapshot and applies the log after it.
 * Memory: 40 bytes a bucket, so 5 MiB at 65,536 sessions (131,072
 * buckets), of which 1 MiB for the links. */
struct ses_table {
    struct ses *tab; /* open addressing, linear probing; cap a power of 2 */
    size_t cap, n;
    size_t max;      /* sessions kept at most */
    uint32_t head, tail; /* used longest ago, last used; SES_NONE if empty */
    uint64_t probes; /* buckets examined by ses_touch: a cost measure for
                        tests, not part of the replicated state */
};

#define SES_NONE UINT32_MAX

/* An empty table keeping at most `max` (1 .. SES_MAX_LIMIT) sessions.
 * Allocates nothing. */
void ses_init(struct ses_table *t, size_t max);
/* Free the table's memory; t is then empty, as after ses_init() with the
 * same max. Harmless on an empty table, and on an all-zero struct. */
void ses_free(struct ses_table *t);

/* The session of `client` (not 0), or NULL. The pointer is borrowed: valid
 * until the next ses_touch, ses_decode or ses_free on t. */
struct ses *ses_find(const struct ses_table *t, uint64_t client);

/* The session of `client` (not 0), created (seq and value 0) if it has
 * none, after evicting the session used longest ago (the head of the use
 * order) if the table holds `max`; either way marked as used by the entry
 * at log `index`, which moves it to the tail. Indexes must increase from
 * one call to the next, as entries are applied (and be above those of a
 * snapshot restored before): that keeps the use order by index. Returns
 * the session (borrowed, as for ses_find), or NULL with t unchanged if
 * memory runs out (the table grows up to about 2 x max buckets, then no
 * longer allocates). Cost: one lookup, plus for a new client one removal
 * and one insertion, each bounded by the length of a probe run. */
struct ses *ses_touch(struct ses_table *t, uint64_t client, uint64_t index);

/* Write the t->n sessions, sorted by client id (so that nodes with the
 * same table write the same bytes), to p[0 .. SES_RECORD_BYTES * t->n).
 * Returns 0, or -1 if memory runs out (nothing written). */
int ses_encode(const struct ses_table *t, uint8_t *p);

/* Build *t (its previous content is ignored and not freed) from the n
 * session records at p, bytes from a disk or a peer: at most max, none
 * with client id 0, no client twice. The use order is rebuilt from the
 * records' indexes (then client ids): the same order as on a node that
 * applied the log, so both evict the same sessions from then on. Returns
 * 0, or -1 with *why (static text) and nothing allocated if the records
 * are not valid or memory runs out. */
int ses_decode(struct ses_table *t, size_t max, const uint8_t *p, size_t n,
               const char **why);

#endif
