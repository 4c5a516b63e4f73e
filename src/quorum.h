/*
 * quorum.h - majority math over a configuration, free of any node state.
 *
 * A configuration is given as one flags byte per member (RAFT_MEMBER_*):
 * the voters (RAFT_MEMBER_VOTER) form one majority group and, while the
 * configuration is joint, the outgoing voters (RAFT_MEMBER_OUTGOING) a
 * second one; a decision needs a majority of each group that exists
 * (Raft thesis 4.3). Learners and non-members (flags without either bit)
 * never count. Callers never need to know whether a configuration is
 * joint.
 */
#ifndef RAFT_QUORUM_H
#define RAFT_QUORUM_H

#include <stddef.h>
#include <stdint.h>

#include "../raft.h"

enum { RAFT__VOTE_PENDING = 0, RAFT__VOTE_WON = 1, RAFT__VOTE_LOST = 2 };

/* Number of votes that make a majority of n voters. */
static inline size_t raft__quorum_majority(size_t n)
{
    return n / 2 + 1;
}

/*
 * The highest index replicated on a majority, given each voter's match
 * index in match[0..n). Sorts match in place (n is the voter count, small).
 * The one-group case of raft__quorum_index.
 */
raft_index raft__quorum_commit_index(raft_index *match, size_t n);

/* Outcome of an election among n voters with the given tallies. The
 * one-group case of raft__quorum_vote. */
int raft__quorum_vote_result(size_t n, size_t granted, size_t rejected);

/*
 * The highest index v such that a majority of each voter group holds an
 * index >= v, given member i's flags flags[i] and index idx[i], i < n;
 * scratch has room for n indexes. 0 if the voter group is empty (a node
 * with no configuration decides nothing). Bounded by n squared, n <=
 * RAFT_MAX_MEMBERS + 1.
 */
raft_index raft__quorum_index(const uint8_t *flags, const raft_index *idx,
                              size_t n, raft_index *scratch);

/*
 * Outcome of an election given each member's answer votes[i] (0: none yet,
 * RAFT__VOTE_WON: granted, RAFT__VOTE_LOST: refused): won once each voter
 * group has a majority of grants, lost once some group can no longer reach
 * one, pending otherwise. Lost if the voter group is empty.
 */
int raft__quorum_vote(const uint8_t *flags, const uint8_t *votes, size_t n);

#endif
