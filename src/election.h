/* election.h - leader election (Raft 5.2, 5.4.1). */
#ifndef RAFT_ELECTION_H
#define RAFT_ELECTION_H

#include "node.h"

/* Start an election: new term, vote for self (persisted together), ask
 * every voter. RAFT_EPERSIST / RAFT_ENOMEM / RAFT_ENOSPACE leave the node
 * unchanged; the election is then retried at the next tick. */
int raft__election_start(struct raft *r);

/* The same at `term` (above the current term, below UINT64_MAX), which
 * may skip terms: a TimeoutNow of a later term campaigns at the term after
 * the sender's in one write, so a failure leaves the node as it was. A
 * leader (of an older term) steps down. */
int raft__election_start_at(struct raft *r, raft_term term);

/* The election timer fired: start a pre-vote (thesis 9.6), or an
 * election if PreVote is off. Errors as raft__election_start. */
int raft__election_timeout(struct raft *r);

/* Leader stickiness: does this node ignore a vote or pre-vote request of
 * `term` (>= ours; see raft_config)? One of a higher term, or with leases
 * one of our own term whose leader this node does not know. */
bool raft__election_in_lease(const struct raft *r, raft_term term);

/* A pre-vote request of a term >= ours, not ignored under stickiness:
 * answered, nothing else changes. */
int raft__election_recv_prevote(struct raft *r, const struct raft_msg *m);

/* A pre-vote reply whose term is ours or ours + 1 (step.c handles a
 * refusal from a later term). */
int raft__election_recv_prevote_resp(struct raft *r, struct raft__progress *pr,
                                     const struct raft_msg *m);

/* Candidate: become leader if the votes counted so far (the node's own
 * only once durable) make a majority. Room for the no-op must be reserved
 * by the caller. */
int raft__election_check_won(struct raft *r);

/* RequestVote from a voter whose term is >= ours. */
int raft__election_recv_vote(struct raft *r, const struct raft_msg *m);

/* A vote reply of our current term. */
int raft__election_recv_vote_resp(struct raft *r, struct raft__progress *pr,
                                  const struct raft_msg *m);

#endif
