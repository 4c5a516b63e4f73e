/*
 * quorum.c - Raft 5.2 / 5.3: elections and commitment are decided by
 * majorities of the voters.
 */
#include "quorum.h"

raft_index raft__quorum_commit_index(raft_index *match, size_t n)
{
    size_t i;
    /* Insertion sort, descending: n is the number of voters (a handful), so
     * this beats anything cleverer and needs no memory. */
    for (i = 1; i < n; i++) {
        raft_index v = match[i];
        size_t j = i;
        while (j > 0 && match[j - 1] < v) {
            match[j] = match[j - 1];
            j--;
        }
        match[j] = v;
    }
    /* The majority-th largest value is held by at least a majority. */
    return match[raft__quorum_majority(n) - 1];
}

int raft__quorum_vote_result(size_t n, size_t granted, size_t rejected)
{
    size_t need = raft__quorum_majority(n);
    if (granted >= need) {
        return RAFT__VOTE_WON;
    }
    if (rejected > n - need) {
        return RAFT__VOTE_LOST;
    }
    return RAFT__VOTE_PENDING;
}
