/*
 * quorum.c - Raft 5.2 / 5.3: elections and commitment are decided by
 * majorities of the voters; thesis 4.3: while a configuration is joint, by
 * majorities of both its outgoing and its incoming voters.
 */
#include "quorum.h"

/* Insertion sort, descending: n is the number of voters (a handful), so
 * this beats anything cleverer and needs no memory. */
static void sort_desc(raft_index *v, size_t n)
{
    size_t i;
    for (i = 1; i < n; i++) {
        raft_index x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] < x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

raft_index raft__quorum_commit_index(raft_index *match, size_t n)
{
    sort_desc(match, n);
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

/* The majority index of the group of members whose flags have `bit`, or
 * UINT64_MAX if the group is empty (it constrains nothing). */
static raft_index group_index(const uint8_t *flags, const raft_index *idx,
                              size_t n, raft_index *scratch, unsigned bit)
{
    size_t i, k = 0;
    for (i = 0; i < n; i++) {
        if ((flags[i] & bit) != 0) {
            scratch[k++] = idx[i];
        }
    }
    if (k == 0) {
        return UINT64_MAX;
    }
    return raft__quorum_commit_index(scratch, k);
}

raft_index raft__quorum_index(const uint8_t *flags, const raft_index *idx,
                              size_t n, raft_index *scratch)
{
    raft_index in = group_index(flags, idx, n, scratch, RAFT_MEMBER_VOTER);
    raft_index out = group_index(flags, idx, n, scratch, RAFT_MEMBER_OUTGOING);
    if (in == UINT64_MAX) {
        return 0;
    }
    return in < out ? in : out;
}

static int group_vote(const uint8_t *flags, const uint8_t *votes, size_t n,
                      unsigned bit)
{
    size_t i, k = 0, granted = 0, rejected = 0;
    for (i = 0; i < n; i++) {
        if ((flags[i] & bit) != 0) {
            k++;
            granted += votes[i] == RAFT__VOTE_WON;
            rejected += votes[i] == RAFT__VOTE_LOST;
        }
    }
    if (k == 0) {
        return -1; /* no such group */
    }
    return raft__quorum_vote_result(k, granted, rejected);
}

int raft__quorum_vote(const uint8_t *flags, const uint8_t *votes, size_t n)
{
    int in = group_vote(flags, votes, n, RAFT_MEMBER_VOTER);
    int out = group_vote(flags, votes, n, RAFT_MEMBER_OUTGOING);
    if (in < 0 || in == RAFT__VOTE_LOST || out == RAFT__VOTE_LOST) {
        return RAFT__VOTE_LOST;
    }
    if (in == RAFT__VOTE_WON && (out < 0 || out == RAFT__VOTE_WON)) {
        return RAFT__VOTE_WON;
    }
    return RAFT__VOTE_PENDING;
}
