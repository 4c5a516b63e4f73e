/* snapshot.h - compaction, and snapshots streamed to followers that need
 * entries the leader no longer has (Raft 7; thesis 5). */
#ifndef RAFT_SNAPSHOT_H
#define RAFT_SNAPSHOT_H

#include "node.h"

/* Are the snapshot callbacks set? */
static inline bool raft__snapshot_enabled(const struct raft *r)
{
    return r->cb.snapshot_read != NULL;
}

/* raft_compact's work, once the call is entered. */
int raft__snapshot_compact(struct raft *r, raft_index index);

/* Leader: send the next chunk of the snapshot to a follower in SNAPSHOT
 * state if flow control allows. Returns true if another could follow. */
bool raft__snapshot_send(struct raft *r, struct raft__progress *pr);

/* Leader, every heartbeat interval for a follower in SNAPSHOT state: after
 * an election timeout without an acknowledgement, resend what is not
 * acknowledged (the tail was lost). */
void raft__snapshot_tick(struct raft *r, struct raft__progress *pr);

/* A snapshot chunk whose term is >= ours. */
int raft__snapshot_recv(struct raft *r, const struct raft_msg *m);

/* A reply to a snapshot chunk, of our current term. */
int raft__snapshot_recv_resp(struct raft *r, struct raft__progress *pr,
                             const struct raft_msg *m);

#endif
