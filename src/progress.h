/*
 * progress.h - the leader's view of each voter's log (Raft 5.3 nextIndex and
 * matchIndex), with flow control.
 *
 * A follower is either probed (one AppendEntries at a time, until the leader
 * finds where their logs match) or replicated to (AppendEntries pipelined
 * without waiting for replies, at most max_inflight at once).
 * Invariant: match < next.
 */
#ifndef RAFT_PROGRESS_H
#define RAFT_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "../raft.h"

enum { RAFT__VOTE_NONE = 0, RAFT__VOTE_GRANTED = 1, RAFT__VOTE_REJECTED = 2 };

struct raft__progress {
    raft_id id;
    raft_index next;
    raft_index match;
    raft_index hb_pending; /* newest index in flight at the previous
                              heartbeat, 0 if none (stall check) */
    raft_index *infl;      /* ring: last index of each message in flight */
    uint32_t infl_head;
    uint32_t infl_count;
    uint8_t state;         /* RAFT_PROGRESS_* */
    bool probe_sent;       /* PROBE: a probe is outstanding, wait */
    uint8_t vote;          /* RAFT__VOTE_*: this voter's answer as candidate */
    bool dirty;            /* send it what flow control allows at the flush */
};

/* Reset for a new leader whose log ends at last. */
void raft__progress_reset(struct raft__progress *pr, raft_index last);

void raft__progress_become_probe(struct raft__progress *pr);
void raft__progress_become_replicate(struct raft__progress *pr);

/* Is sending more entries to this follower paused by flow control? */
static inline bool raft__progress_paused(const struct raft__progress *pr, uint32_t max_inflight)
{
    if (pr->state == RAFT_PROGRESS_PROBE) {
        return pr->probe_sent;
    }
    return pr->infl_count >= max_inflight;
}

/* Record an AppendEntries carrying entries up to `last` just sent. */
static inline void raft__progress_sent(struct raft__progress *pr, raft_index last,
                         uint32_t max_inflight)
{
    if (pr->state == RAFT_PROGRESS_PROBE) {
        pr->probe_sent = true;
        return;
    }
    /* Optimistically assume delivery: the next message follows this one. */
    pr->next = last + 1;
    pr->infl[(pr->infl_head + pr->infl_count) % max_inflight] = last;
    pr->infl_count++;
}

/* A success reply for index m: returns true if match advanced. */
static inline bool raft__progress_update(struct raft__progress *pr, raft_index m,
                           uint32_t max_inflight)
{
    bool advanced = false;
    if (m > pr->match) {
        pr->match = m;
        advanced = true;
    }
    if (pr->next <= m) {
        pr->next = m + 1;
    }
    /* Messages whose entries are all acknowledged are no longer in flight. */
    while (pr->infl_count > 0 && pr->infl[pr->infl_head] <= m) {
        pr->infl_head = (pr->infl_head + 1) % max_inflight;
        pr->infl_count--;
    }
    return advanced;
}

/*
 * A rejection of prev index `rejected`, with next_hint the leader's chosen
 * next index from the follower's hint. Returns false if the rejection is
 * stale (answers an older probe, or an index already known to match).
 */
bool raft__progress_reject(struct raft__progress *pr, raft_index rejected,
                           raft_index next_hint);

#endif
