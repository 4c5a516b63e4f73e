/*
 * node.h - struct raft, private to src/, and the helpers every module of
 * the core shares (role changes, persistence and send wrappers, events).
 */
#ifndef RAFT_NODE_H
#define RAFT_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "../raft.h"
#include "log.h"
#include "progress.h"

#define RAFT__DEFAULT_ELECTION_TICKS 10u
#define RAFT__DEFAULT_HEARTBEAT_TICKS 1u
#define RAFT__DEFAULT_MAX_MSG_ENTRIES 64u
#define RAFT__DEFAULT_MAX_MSG_BYTES (1024u * 1024u)
#define RAFT__DEFAULT_MAX_INFLIGHT 8u

struct raft {
    struct raft_config cfg;     /* defaults filled in */
    struct raft_callbacks cb;
    void *ctx;

    int role;                   /* 0 until started */
    bool busy;                  /* inside a mutating call: re-entry refused */

    /* Persistent state (Raft Figure 2), mirrored by persist_state. */
    raft_term term;
    raft_id vote;

    /* Volatile state. */
    raft_id leader;             /* leader of `term` if known */
    raft_index commit;
    raft_index applied;
    struct raft__log log;

    /* Voters, in configuration order; prs[self] is this node. */
    struct raft__progress *prs;
    size_t n;
    size_t self;
    raft_index *infl_store;     /* n * max_inflight ring slots */
    raft_index *match_scratch;  /* n slots for commit computation */
    struct raft_entry *ents;    /* max_msg_entries slots for messages */

    /* Timers, in ticks. */
    unsigned election_elapsed;
    unsigned election_timeout;  /* effective timeout */
    unsigned base_timeout;      /* randomized timeout of this term */
    unsigned heartbeat_elapsed;
    uint64_t rng;

    /* Candidate: tie-break between simultaneous candidates (election.c). */
    bool yielded;
};

/* ---- raft.c ---- */

/* Report a diagnostic event; free when no event callback is set. */
void raft__emit_slow(struct raft *r, int type, raft_id peer, int error,
                     const char *reason);
#define raft__emit(r, type, peer, error, reason)                      \
    do {                                                              \
        if ((r)->cb.event != NULL) {                                  \
            raft__emit_slow((r), (type), (peer), (error), (reason));  \
        }                                                             \
    } while (0)

/* Send, turning a failure into an event. Returns true if handed over. */
bool raft__send(struct raft *r, const struct raft_msg *m);

/* Persist and adopt (term, vote). RAFT_EPERSIST leaves both unchanged. */
int raft__set_term_vote(struct raft *r, raft_term term, raft_id vote);

/* Set the role (emitting an event when it changes). */
void raft__set_role(struct raft *r, int role);

/*
 * Become follower of `term` (>= current) with the given known leader (0 if
 * unknown), persisting a term change first. RAFT_EPERSIST leaves the node
 * unchanged. A leader stepping down for a newer term reports STEP_DOWN;
 * callers stepping down in the same term report their own reason.
 */
int raft__become_follower(struct raft *r, raft_term term, raft_id leader);

/* Draw a fresh randomized timeout, keeping the time already elapsed. */
void raft__draw_election_timeout(struct raft *r);

/* Restart the election timer with a fresh randomized timeout. */
void raft__reset_election_timer(struct raft *r);

/* Find a voter's progress by id, or NULL. */
struct raft__progress *raft__voter(struct raft *r, raft_id id);

/* Apply committed entries in order. RAFT_EAPPLY if the callback failed. */
int raft__apply(struct raft *r);

#endif
