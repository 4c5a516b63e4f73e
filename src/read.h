/* read.h - linearizable reads without log writes (Raft thesis 6.4). */
#ifndef RAFT_READ_H
#define RAFT_READ_H

#include "node.h"

/* raft_read_index(): queue the host's read. RAFT_EINVAL (no read
 * callback), RAFT_ENOTLEADER, RAFT_EFULL or RAFT_ENOMEM leave the node
 * unchanged. */
int raft__read_add(struct raft *r, void *req);

/* Follower or candidate tick: forward unanswered reads again once every
 * heartbeat_ticks. */
void raft__read_tick(struct raft *r);

/* Leader heartbeat: a round is due to renew the lease, or to confirm
 * reads whose round went unanswered. */
void raft__read_heartbeat(struct raft *r);

/* Messages of a term >= ours (step.c adopts a later one first). */
int raft__read_recv_heartbeat(struct raft *r, const struct raft_msg *m);
int raft__read_recv_heartbeat_resp(struct raft *r, struct raft__progress *pr,
                                   const struct raft_msg *m);
int raft__read_recv(struct raft *r, const struct raft_msg *m);
int raft__read_recv_resp(struct raft *r, const struct raft_msg *m);

/* The node forgot its leader (r->leader is 0) and will not learn of
 * another by campaigning: every pending read fails at the flush. */
void raft__read_leader_lost(struct raft *r);

#endif
