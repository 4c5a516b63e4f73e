/*
 * progress.h - the leader's view of each voter's log (Raft 5.3 nextIndex and
 * matchIndex), with flow control.
 *
 * A follower is either probed (one AppendEntries at a time, until the leader
 * finds where their logs match), replicated to (AppendEntries pipelined
 * without waiting for replies, at most max_inflight messages and about
 * max_inflight_bytes payload bytes at once), or sent the leader's snapshot
 * (when it needs entries the leader compacted: chunks pipelined up to
 * max_inflight_bytes unacknowledged bytes, see snapshot.c).
 * Invariant: match < next.
 *
 * Flow-control policy, kept here in one place:
 *   - a probe is unpaused by a reply (to it or to a heartbeat anchored at
 *     the same index), never by a timer alone, so a round trip longer than
 *     the heartbeat interval does not resend the probe's entries;
 *   - a failed send changes nothing but the fact that the message did not
 *     leave: next stays where backtracking put it;
 *   - while pipelining, heartbeats are anchored at the last index sent: a
 *     follower that lacks it (the tail was lost) rejects the heartbeat and
 *     its hint names where it stands, so only what it lacks is sent again.
 */
#ifndef RAFT_PROGRESS_H
#define RAFT_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "../raft.h"

enum { RAFT__VOTE_NONE = 0, RAFT__VOTE_GRANTED = 1, RAFT__VOTE_REJECTED = 2 };

/* One AppendEntries in flight. */
struct raft__infl {
    raft_index last; /* its last entry's index */
    uint32_t bytes;  /* its payload bytes (capped, see raft__progress_sent) */
};

struct raft__progress {
    raft_id id;
    raft_index next;
    raft_index match;
    struct raft__infl *infl; /* ring of max_inflight messages in flight */
    uint64_t infl_bytes;     /* sum of infl[].bytes */
    uint32_t infl_head;
    uint32_t infl_count;
    uint8_t state;           /* RAFT_PROGRESS_* */
    bool probe_sent;         /* PROBE: a probe is outstanding, wait */
    uint8_t vote;            /* RAFT__VOTE_*: this voter's answer as candidate */
    bool dirty;              /* send it what flow control allows at the flush */
    /* SNAPSHOT: the snapshot streamed (index and term of its last entry)
     * and how far. Invariant: snap_acked <= snap_sent. */
    bool snap_all_sent;      /* the last chunk left: wait for the answer */
    raft_index snap_index;
    raft_term snap_term;
    uint64_t snap_sent;      /* next byte to send */
    uint64_t snap_hwm;       /* end of the furthest chunk sent */
    uint64_t snap_acked;     /* bytes the follower has written */
    unsigned snap_idle;      /* ticks since the last acknowledgement */
    uint64_t snap_asked;     /* lowest offset the follower answered with
                                since then (UINT64_MAX: none) */
    unsigned snap_rewind_age;/* ticks since the last rewind */
    bool snap_rewind_due;    /* a rewind to snap_rewind_to waits for the
                                next heartbeat (one per interval) */
    uint64_t snap_rewind_to;
    /* CheckQuorum and reads (leader). */
    uint64_t heard;          /* r->now when a reply from it last came */
    uint64_t read_ack;       /* highest heartbeat round it echoed */
};

/* Reset for a new leader whose log ends at last. */
void raft__progress_reset(struct raft__progress *pr, raft_index last);

/* Probe from `next` (clamped above match). */
void raft__progress_become_probe(struct raft__progress *pr, raft_index next);

/* Stream the snapshot ending at (index, term) from its first byte. */
void raft__progress_become_snapshot(struct raft__progress *pr, raft_index index,
                                    raft_term term);
void raft__progress_become_replicate(struct raft__progress *pr);

/* Is sending more entries to this follower paused by flow control? */
static inline bool raft__progress_paused(const struct raft__progress *pr,
                                         uint32_t max_inflight,
                                         uint32_t max_bytes)
{
    if (pr->state == RAFT_PROGRESS_PROBE) {
        return pr->probe_sent;
    }
    /* (SNAPSHOT is paused too: see raft__progress_become_snapshot.) */
    return pr->infl_count >= max_inflight || pr->infl_bytes >= max_bytes;
}

/* Record an AppendEntries carrying entries up to `last` (`bytes` payload
 * bytes) just handed to the transport. */
static inline void raft__progress_sent(struct raft__progress *pr, raft_index last,
                                       size_t bytes, uint32_t max_inflight)
{
    struct raft__infl *f;
    if (pr->state == RAFT_PROGRESS_PROBE) {
        pr->probe_sent = true;
        return;
    }
    /* Optimistically assume delivery: the next message follows this one. */
    pr->next = last + 1;
    f = &pr->infl[(pr->infl_head + pr->infl_count) % max_inflight];
    f->last = last;
    f->bytes = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
    pr->infl_bytes += f->bytes;
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
    while (pr->infl_count > 0 && pr->infl[pr->infl_head].last <= m) {
        pr->infl_bytes -= pr->infl[pr->infl_head].bytes;
        pr->infl_head = (pr->infl_head + 1) % max_inflight;
        pr->infl_count--;
    }
    return advanced;
}

/*
 * A rejection of prev index `rejected`, with next_hint the leader's chosen
 * next index from the follower's hint. Returns false if the rejection is
 * stale (answers an older probe, or an index already known to match) or
 * would only repeat the probe outstanding (a follower refusing its match).
 */
bool raft__progress_reject(struct raft__progress *pr, raft_index rejected,
                           raft_index next_hint);

#endif
