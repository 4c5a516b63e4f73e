/*
 * progress.c - per-follower replication state on the leader.
 */
#include "progress.h"

void raft__progress_reset(struct raft__progress *pr, raft_index last)
{
    pr->next = last + 1;
    pr->match = 0;
    pr->hb_pending = 0;
    pr->infl_head = 0;
    pr->infl_count = 0;
    pr->state = RAFT_PROGRESS_PROBE;
    pr->probe_sent = false;
}

void raft__progress_become_probe(struct raft__progress *pr)
{
    /* Restart from the last index known to match. */
    pr->state = RAFT_PROGRESS_PROBE;
    pr->next = pr->match + 1;
    pr->probe_sent = false;
    pr->infl_head = 0;
    pr->infl_count = 0;
}

void raft__progress_become_replicate(struct raft__progress *pr)
{
    pr->state = RAFT_PROGRESS_REPLICATE;
    pr->next = pr->match + 1;
    pr->probe_sent = false;
    pr->infl_head = 0;
    pr->infl_count = 0;
}




bool raft__progress_reject(struct raft__progress *pr, raft_index rejected,
                           raft_index next_hint)
{
    if (pr->state == RAFT_PROGRESS_REPLICATE) {
        if (rejected <= pr->match) {
            return false; /* reordered reply to an old message */
        }
        /* A pipelined message was lost or refused: fall back to probing
         * from the last index known to match. */
        raft__progress_become_probe(pr);
        return true;
    }
    if (pr->next == 0 || rejected != pr->next - 1) {
        return false; /* not the probe outstanding */
    }
    if (next_hint >= pr->next) {
        next_hint = pr->next - 1;
    }
    if (next_hint <= pr->match) {
        next_hint = pr->match + 1;
    }
    pr->next = next_hint;
    pr->probe_sent = false;
    return true;
}
