/*
 * progress.c - per-follower replication state on the leader; the policy is
 * described in progress.h.
 */
#include "progress.h"

static void infl_clear(struct raft__progress *pr)
{
    pr->infl_head = 0;
    pr->infl_count = 0;
    pr->infl_bytes = 0;
}

void raft__progress_reset(struct raft__progress *pr, raft_index last)
{
    pr->next = last + 1;
    pr->match = 0;
    pr->state = RAFT_PROGRESS_PROBE;
    pr->probe_sent = false;
    infl_clear(pr);
}

void raft__progress_become_probe(struct raft__progress *pr, raft_index next)
{
    pr->state = RAFT_PROGRESS_PROBE;
    pr->next = next > pr->match ? next : pr->match + 1;
    pr->probe_sent = false;
    infl_clear(pr);
}

void raft__progress_become_snapshot(struct raft__progress *pr, raft_index index,
                                    raft_term term)
{
    pr->state = RAFT_PROGRESS_SNAPSHOT;
    pr->probe_sent = false;
    infl_clear(pr);
    /* No AppendEntries with entries until it is installed: the byte count
     * in flight at its maximum makes raft__progress_paused() say so at no
     * cost to the other states (nothing is in the ring, so acknowledgements
     * never subtract from it; leaving the state clears it). */
    pr->infl_bytes = UINT64_MAX;
    pr->snap_index = index;
    pr->snap_term = term;
    pr->snap_sent = 0;
    pr->snap_hwm = 0;
    pr->snap_acked = 0;
    pr->snap_all_sent = false;
    pr->snap_idle = 0;
    pr->snap_asked = UINT64_MAX;
    pr->snap_rewind_age = UINT32_MAX / 2; /* the first rewind may come at once */
    pr->snap_rewind_due = false;
    pr->snap_rewind_to = 0;
}

void raft__progress_become_replicate(struct raft__progress *pr)
{
    pr->state = RAFT_PROGRESS_REPLICATE;
    pr->next = pr->match + 1;
    pr->probe_sent = false;
    infl_clear(pr);
}

bool raft__progress_reject(struct raft__progress *pr, raft_index rejected,
                           raft_index next_hint)
{
    if (pr->state == RAFT_PROGRESS_REPLICATE) {
        if (rejected <= pr->match || rejected >= pr->next) {
            return false; /* reordered reply to an old message */
        }
        /* A pipelined message or the tail was lost (or refused): probe from
         * where the follower's hint says its log ends, not from match,
         * which may lie far behind. */
        raft__progress_become_probe(pr, next_hint <= rejected ? next_hint
                                                              : rejected);
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
    if (next_hint == pr->next) {
        /* Refused at match: the follower lacks what it acknowledged (its
         * disk lost it, or a new node took the id). Sending the same probe
         * again at once would loop at network speed; it waits for the
         * heartbeat, which repeats it once per interval. */
        return false;
    }
    pr->next = next_hint;
    pr->probe_sent = false;
    return true;
}
