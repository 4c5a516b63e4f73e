/*
 * sessions.h - the counter's session table: client id -> (last applied
 * seq, its result, the log index of the entry that last used it). It is
 * what makes a retried INCR take effect exactly once (see server.c).
 *
 * The table is part of the replicated state machine: it changes only when
 * a log entry is applied (ses_touch) or a snapshot restored (ses_decode),
 * so every node holds the same one. It keeps at most `max` sessions; a new
 * client when it is full evicts the session used longest ago, i.e. the one
 * with the smallest `index`, which depends on the applied log alone, so
 * every node evicts the same one.
 *
 * No I/O and no clocks; memory from malloc. Not thread-safe: one owner.
 */
#ifndef COUNTER_SESSIONS_H
#define COUNTER_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

/* One session in a snapshot body (ses_encode, ses_decode), little-endian:
 * u64 client_id, u64 seq, u64 value, u64 index. */
#define SES_RECORD_BYTES 32u

struct ses {
    uint64_t client; /* 0: free bucket */
    uint64_t seq;    /* last applied seq */
    uint64_t value;  /* its result */
    uint64_t index;  /* log index of the entry that last used it */
};

struct ses_table {
    struct ses *tab; /* open addressing, linear probing; cap a power of 2 */
    size_t cap, n;
    size_t max;      /* sessions kept at most */
    uint64_t probes; /* buckets examined by ses_touch: a cost measure for
                        tests, not part of the replicated state */
};

/* An empty table keeping at most `max` (>= 1) sessions. Allocates nothing. */
void ses_init(struct ses_table *t, size_t max);
/* Free the table's memory; t is then empty, as after ses_init(). */
void ses_free(struct ses_table *t);

/* The session of `client` (not 0), or NULL. The pointer is borrowed: valid
 * until the next ses_touch, ses_decode or ses_free on t. */
struct ses *ses_find(const struct ses_table *t, uint64_t client);

/* The session of `client` (not 0), created (seq and value 0) if it has
 * none, after evicting the session used longest ago if the table holds
 * `max`; either way marked as used by the entry at log `index`. Indexes
 * must come in increasing order, as entries are applied. Returns the
 * session (borrowed, as for ses_find), or NULL with t unchanged if memory
 * runs out (the table grows up to about 2 x max buckets, then no longer
 * allocates). */
struct ses *ses_touch(struct ses_table *t, uint64_t client, uint64_t index);

/* Write the t->n sessions, sorted by client id (so that nodes with the
 * same table write the same bytes), to p[0 .. SES_RECORD_BYTES * t->n).
 * Returns 0, or -1 if memory runs out (nothing written). */
int ses_encode(const struct ses_table *t, uint8_t *p);

/* Build *t (its previous content is ignored and not freed) from the n
 * session records at p, bytes from a disk or a peer: at most max, none
 * with client id 0, no client twice. Returns 0, or -1 with *why (static
 * text) and nothing allocated if they are not or memory runs out. */
int ses_decode(struct ses_table *t, size_t max, const uint8_t *p, size_t n,
               const char **why);

#endif
