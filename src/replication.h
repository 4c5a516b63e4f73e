/* replication.h - log replication and commitment (Raft 5.3, 5.4.2). */
#ifndef RAFT_REPLICATION_H
#define RAFT_REPLICATION_H

#include "node.h"

/* Take leadership of the current term: reset every follower's progress and
 * append the term's no-op (its room must be reserved by the caller). On a
 * persistence failure the node steps down and RAFT_EPERSIST is returned. */
int raft__repl_become_leader(struct raft *r);

/* Leader's tick: CheckQuorum, configuration follow-ups (conf.h),
 * heartbeats and stalled-pipeline detection. */
int raft__repl_tick(struct raft *r);

/* Leader: append, persist and replicate n commands. */
int raft__repl_propose(struct raft *r, const struct raft_buf *bufs, size_t n,
                       raft_index *first);

/* The same for one command (raft_propose): what raft__repl_propose does
 * with n == 1, without the loops over pieces and buffers, except that
 * persist_entries is given the log's copy of the payload (NULL when it is
 * empty and the log holds no payload yet), and that the entry is left as
 * the flush's slice for followers in step (replication.c, prime_slice). */
int raft__repl_propose_one(struct raft *r, const void *buf, size_t len,
                           raft_index *index);

/* Leader: append, persist and replicate a configuration entry (encoded
 * in buf[0..len), borrowed), in force at once; room for its slots was
 * reserved. Errors as raft__repl_propose_one. */
int raft__repl_propose_conf(struct raft *r, const void *buf, size_t len,
                            raft_index *index);
/* Leader: a vote or pre-vote request came from `to`, a node outside the
 * configuration in force and without a slot. If that configuration is
 * committed, tell `to` so with an empty AppendEntries whose commit index
 * covers it: a node removed by it that never learned the change committed
 * (it missed the heartbeats that said so, or restarted, forgetting its
 * commit index) stops campaigning (raft__conf_was_voter). */
void raft__repl_tell_removed(struct raft *r, raft_id to);
/* Leader: the configuration in force changed (conf.c). */
void raft__repl_conf_changed(struct raft *r);
/* Leader: the slots changed, not the voters (departing ones dropped). */
void raft__repl_slots_changed(struct raft *r);
/* raft__repl_flush (declared in node.h, used by the flush): send what flow
 * control allows to every follower marked by a handler, round robin. */

/* A follower installed the snapshot ending at `index`: probe it from
 * index + 1 (snapshot.c). */
void raft__repl_installed(struct raft *r, struct raft__progress *pr,
                          raft_index index);

/* The leader's durable index rose: commit what a majority now holds.
 * With two voters or more that needs a follower holding more than commit
 * (match_hi tells), which is usually not so yet: the leader writes while
 * its followers still receive the entries. */
void raft__repl_durable_advanced_slow(struct raft *r);
static inline void raft__repl_durable_advanced(struct raft *r)
{
    if (r->match_hi > r->commit) {
        raft__repl_durable_advanced_slow(r);
    }
}

/* AppendEntries whose term is >= ours, validated; `bytes` is the sum of
 * its entries' payload lengths (validation added them up). */
int raft__repl_recv_append(struct raft *r, const struct raft_msg *m,
                           size_t bytes);
/* The same for one carrying configuration entries, of conf_n members at
 * most (room for them is reserved before anything changes). */
int raft__repl_recv_append_conf(struct raft *r, const struct raft_msg *m,
                                size_t bytes, size_t conf_n);

/* An AppendEntries reply of our current term. */
int raft__repl_recv_append_resp(struct raft *r, struct raft__progress *pr,
                                const struct raft_msg *m);

#endif
