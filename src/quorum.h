/* quorum.h - majority math, free of any node state. */
#ifndef RAFT_QUORUM_H
#define RAFT_QUORUM_H

#include <stddef.h>

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
 */
raft_index raft__quorum_commit_index(raft_index *match, size_t n);

/* Outcome of an election among n voters with the given tallies. */
int raft__quorum_vote_result(size_t n, size_t granted, size_t rejected);

#endif
