/*
 * node.h - struct raft, private to src/, and the helpers every module of
 * the core shares.
 *
 * Effects model. A public mutating call (raft_tick, raft_step,
 * raft_propose*, raft_persisted) runs in two halves:
 *   1. handlers change the node's state and record what must happen:
 *      messages go to the outgoing queue (effects.c), events to the event
 *      queue, followers that may be sent entries are marked `dirty`;
 *      persistence callbacks are started where the state they record is
 *      decided (their failure changes what the handler does next);
 *   2. the flush (raft__effects_flush) then carries out the rest in one
 *      ordered pass, with the node's state final: events, queued messages
 *      whose writes are durable, AppendEntries to dirty followers, and
 *      applying newly committed entries.
 * So no event, send or apply callback sees a state in mid-transition.
 *
 * Writes. Every persist callback starts one write; writes are numbered
 * 1, 2, ... in the order they were started (w_issued) and complete in that
 * order (w_done). In synchronous mode a callback returns once its write is
 * durable, so w_done == w_issued between calls. In asynchronous mode the
 * host reports completions with raft_persisted(); pending writes are kept in
 * a ring so the node knows what each one makes durable.
 */
#ifndef RAFT_NODE_H
#define RAFT_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "../raft.h"
#include "log.h"
#include "progress.h"

/* Keep a function out of line: for the less common branches of a hot
 * function, which would otherwise make every call of it save and restore
 * the registers they need (measured on W1). Only a hint. */
#if defined(__GNUC__)
#define RAFT__NOINLINE __attribute__((noinline))
#else
#define RAFT__NOINLINE
#endif
/* Inline a small function into every caller whatever the compiler's
 * estimate: for the entry and exit of the public calls (measured on W1). */
#if defined(__GNUC__)
#define RAFT__ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define RAFT__ALWAYS_INLINE inline
#endif

#define RAFT__DEFAULT_ELECTION_TICKS 10u
#define RAFT__DEFAULT_HEARTBEAT_TICKS 1u
#define RAFT__DEFAULT_MAX_MSG_ENTRIES 64u
#define RAFT__DEFAULT_MAX_MSG_BYTES (1024u * 1024u)
#define RAFT__DEFAULT_MAX_INFLIGHT 8u
#define RAFT__DEFAULT_SNAPSHOT_TRAILING 1024u
#define RAFT__DEFAULT_MAX_PENDING_READS 1024u

/* Events recorded during one call; more are dropped (diagnostics only,
 * and no handler records more than a few). */
#define RAFT__EVQ_CAP 8u

/* A write started and not yet reported durable (asynchronous mode). */
struct raft__write {
    raft_index last; /* entries write: last index it makes durable, lowered
                        when a later write truncates below it (so never
                        above the log's last index) */
    bool entries;    /* false: a term/vote write */
};

/* A message waiting in the outgoing queue. It leaves once write number
 * `barrier` is durable (0: at once). */
struct raft__out {
    struct raft_msg m; /* never carries entries: those are built at the
                          flush from the log (replicate) */
    uint64_t barrier;
};

/* Counters behind raft_metrics(), which copies them into the public
 * struct (whose layout is fixed by its ABI rule, not by the hot paths).
 * Each is one addition where the counted thing already happens. Two
 * counters bumped together on a hot path are not adjacent: compilers
 * would otherwise merge the two additions into vector instructions that
 * cost more than the additions. There is no counter of applied entries:
 * r->applied is one, as every incarnation applies from index 1. */
struct raft__metrics {
    uint64_t sent[RAFT_METRICS_MSG_SLOTS];
    uint64_t recv[RAFT_METRICS_MSG_SLOTS];
    uint64_t rejected[RAFT_METRICS_REJECT_SLOTS];
    uint64_t entries_sent;
    uint64_t send_failures;
    uint64_t queue_full;
    uint64_t entry_bytes_sent;
    uint64_t elections_started;
    uint64_t elections_won;
    uint64_t step_downs;
    uint64_t entries_proposed;
    uint64_t persist_state_calls;
    uint64_t entries_replicated;
    uint64_t writes_completed;
    uint64_t persist_entries_calls;
    uint64_t applied_by_snapshot; /* entries counted applied without an
                                     apply callback: a snapshot covered them */
    uint64_t compactions;
    uint64_t snapshot_chunks_sent;
    uint64_t snapshot_bytes_sent;
    uint64_t snapshots_installed;
    uint64_t prevotes_started;
    uint64_t quorum_lost;
    uint64_t reads_served;
    uint64_t reads_failed;
    uint64_t read_rounds;
    uint64_t lease_reads;
};

/* A read waiting in the node (read.c). */
struct raft__read {
    void *req;        /* the host's (own reads), NULL for a follower's */
    raft_id from;     /* leader: the follower that asked, 0: own read */
    uint64_t id;      /* follower: its number; leader: the follower's id */
    raft_index index; /* the read index, once known */
    uint64_t round;   /* leader: the round confirming it, 0: none yet */
    bool ready;       /* leader: confirmed; follower: answered */
    int status;       /* 0, or RAFT_ELEADERLOST once refused */
};

/* Heartbeat rounds whose start tick the leader remembers for its lease. */
#define RAFT__ROUND_TICKS 16u

/* A recorded event; term and role are filled in when it is emitted. */
struct raft__ev {
    int type;
    int error;
    raft_id peer;
    const char *reason;
};

/* Bits of struct raft's gate. */
#define RAFT__GATE_BUSY 1u      /* inside a mutating call: re-entry refused */
#define RAFT__GATE_UNSTARTED 2u /* neither bootstrapped nor restored */
#define RAFT__GATE_STOPPED 4u   /* a write failed in asynchronous mode */

struct raft {
    struct raft_config cfg;     /* defaults filled in */
    struct raft_callbacks cb;
    void *ctx;

    int role;                   /* 0 until started */
    /* Why mutating calls are refused (RAFT__GATE_* bits), 0 when they are
     * accepted: one test on entry to every call covers all three. */
    uint8_t gate;
    /* The flush must take its general path: an event is recorded, the term
     * or role may differ from the last reported ones, or the node stopped.
     * Set where those change, cleared by the general path. */
    bool fx_slow;

    /* Persistent state (Raft Figure 2), mirrored by persist_state. */
    raft_term term;
    raft_id vote;

    /* Volatile state. */
    raft_id leader;             /* leader of `term` if known */
    raft_index commit;
    raft_index applied;
    struct raft__log log;
    /* Invariant: durable <= last index. Entries 1..durable are on disk
     * exactly as in memory: what a leader counts as its own match and
     * what any node may apply. Equal to the last index in synchronous
     * mode. */
    raft_index durable;

    /* Writes (see the top of this file). */
    uint64_t w_issued;
    uint64_t w_done;
    uint64_t w_state;           /* number of the latest term/vote write */
    uint64_t w_vote;            /* candidate: the write holding its self-vote */
    struct raft__write *wq;     /* ring of writes w_done+1 .. w_issued */
    size_t wq_cap;              /* a power of two, or 0 */

    /* Outgoing queue, in the order the messages were made. */
    struct raft__out *out;
    size_t out_len;
    size_t out_cap;

    /* Event queue, and the role and term last reported by an event. */
    struct raft__ev evq[RAFT__EVQ_CAP];
    unsigned n_ev;
    int ev_role;
    raft_term ev_term;

    /* Members (conf.h): slots 0..n, in the order of the configuration in
     * force, then this node if it is not a member, then on a leader the
     * members removed lately (n_departing); prs[self] is this node. */
    struct raft__progress *prs;
    uint8_t *mflags;            /* RAFT_MEMBER_* of each slot (0: this
                                   node, not a member, or a removed one) */
    size_t n;
    size_t self;
    size_t slots_cap;           /* room in every slot array */
    struct raft__progress *prs_spare; /* the next configuration's slots */
    struct raft__infl *infl_spare;
    uint8_t *mflags_spare;
    uint8_t *vote_scratch;      /* slots_cap votes for tallies */
    raft_index *match_scratch2; /* slots_cap indexes for quorum math */
    size_t n_members;           /* members of the configuration in force */
    size_t n_voters;            /* its voters (RAFT_MEMBER_VOTER) */
    size_t n_departing;         /* leader: slots of members just removed,
                                   kept until an election timeout after the
                                   change commits (conf.c) */
    unsigned departing_ticks;   /* ticks since then */
    raft_index conf_index;      /* the entry it came from: at most
                                   snap_index when it is the base one */
    uint64_t conf_version;      /* counts configurations taken; 0: none */
    uint64_t ev_conf_version;   /* the one last reported (RAFT_EVENT_CONF) */
    bool conf_joint;
    bool conf_auto_leave;       /* joint: the leader leaves it on its own */
    bool conf_simple;           /* not joint, no learner, this node a
                                   voter: every slot is a voter, which the
                                   hot paths count without flags */
    bool self_quorum;           /* this node alone is a majority */
    size_t ack_need;            /* conf_simple: the majority of the slots,
                                   else 0 (replication.c) */
    bool lead_open;             /* leader taking proposals and reads: not
                                   transferring leadership */
    uint8_t *base_conf;         /* encoded configuration at snap_index
                                   (before any snapshot: the bootstrap
                                   list), NULL for a node that has none */
    size_t base_conf_len;
    raft_index base_conf_index; /* it is the configuration at every index
                                   from this one to snap_index (so the
                                   one of an older snapshot, too) */

    /* Snapshots (snapshot.c). Invariant: log.base <= snap_index <= applied. */
    raft_index snap_index;      /* latest snapshot the host holds, 0: none */
    raft_term snap_term;        /* term of its last entry */
    bool rx_active;             /* follower: receiving the snapshot below */
    raft_index rx_index;        /* its last entry */
    raft_term rx_term;          /* that entry's term */
    raft_term rx_leader_term;   /* term of the leader streaming it */
    uint64_t rx_offset;         /* next byte expected */
    bool rx_first_again;        /* a copy of the first chunk came, answered
                                   with rx_offset, and no chunk was taken
                                   since */
    struct raft__infl *infl_store; /* n * max_inflight ring slots */
    raft_index *match_scratch;  /* n slots for commit computation */
    struct raft_entry *ents;    /* max_msg_entries slots for messages */
    raft_index ents_lo;         /* ents[0 .. ents_n) hold entries from */
    size_t ents_n;              /* ents_lo on (0: nothing cached), with */
    size_t ents_bytes;          /* this many payload bytes; */
    struct raft_msg ents_msg;   /* the AppendEntries carrying them (its
                                   recipient set per send) */
    bool any_dirty;             /* some prs[i].dirty is set */

    /* Timers, in ticks. */
    unsigned election_elapsed;
    unsigned election_timeout;  /* effective timeout */
    unsigned base_timeout;      /* randomized timeout of this term */
    unsigned heartbeat_elapsed;
    uint64_t rng;

    /* Candidate: tie-break between simultaneous candidates (election.c). */
    bool yielded;
    /* The election being started is a leadership transfer's campaign: its
     * vote requests say so (election.c). */
    bool campaign_transfer;

    /* Leader: leadership transfer (conf.c) to this voter, 0: none; ticks
     * since it began; whether one was tried because this leader is no
     * longer a voter. */
    raft_id transfer_to;
    unsigned transfer_elapsed;
    bool transfer_sent;         /* TIMEOUT_NOW went out at least once */
    bool transfer_removal;

    /* Ticks since the node started: the clock of CheckQuorum and leases. */
    uint64_t now;
    /* `now` when this node last heard from a leader (0: its start). With
     * leases it holds back its vote for election_ticks from then, whatever
     * term it adopts meanwhile (election.c). */
    uint64_t leader_heard;
    /* Leader: index of its term's first entry (the no-op): the term has
     * committed an entry once commit reaches it. */
    raft_index lead_first;
    /* Leader: an upper bound on every follower's match that exceeds both
     * commit and the leader's durable index (raised where a match rises
     * above them and commit does not follow), or UINT64_MAX when the
     * leader alone is a majority. Its own durable index rising can raise
     * commit only when this exceeds commit: commit is the majority index
     * after every call, so only a follower holding more than the leader
     * did can complete a new majority. */
    raft_index match_hi;

    /* Reads (read.c): a FIFO ring of rq_cap slots, allocated at first
     * use; every read in it was made in term rq_term and role rq_role. */
    struct raft__read *rq;
    uint32_t rq_cap;
    uint32_t rq_head;
    uint32_t rq_len;
    uint32_t rq_new;            /* the last rq_new reads are not yet
                                   assigned a round (leader) or forwarded
                                   (follower) */
    raft_term rq_term;
    int rq_role;
    uint64_t read_id;           /* follower: number of the latest read */
    bool read_resend;           /* follower: forward again at the flush */
    unsigned read_elapsed;      /* follower: ticks since the last forward */
    uint64_t read_round;        /* leader: latest round started */
    uint64_t read_confirmed;    /* leader: latest round a majority echoed */
    bool read_work;             /* reads wait, or a round is due: the
                                   flush calls raft__read_flush */
    bool read_round_due;        /* leader: reads wait for round
                                   read_round + 1, started at the flush
                                   once no round is outstanding */
    bool read_round_retry;      /* leader: start it even so (heartbeat) */
    uint64_t lease_until;       /* leader: the lease holds while now < it */
    bool lease_off;             /* leader: a transfer was started this term:
                                   a TIMEOUT_NOW may still arrive and start
                                   an election voters do not hold back */
    uint64_t round_tick[RAFT__ROUND_TICKS]; /* start tick of round k at
                                   k % RAFT__ROUND_TICKS */

    struct raft__metrics metrics;
};

/* ---- effects.c ---- */

/* Record a diagnostic event, delivered at the flush; free when no event
 * callback is set. */
void raft__emit_slow(struct raft *r, int type, raft_id peer, int error,
                     const char *reason);
#define raft__emit(r, type, peer, error, reason)                      \
    do {                                                              \
        if ((r)->cb.event != NULL) {                                  \
            raft__emit_slow((r), (type), (peer), (error), (reason));  \
        }                                                             \
    } while (0)

/* Barriers for raft__queue. */
enum {
    RAFT__AFTER_NOTHING = 0, /* leaves at the flush */
    RAFT__AFTER_STATE = 1,   /* after the latest term/vote write */
    RAFT__AFTER_ALL = 2      /* after every write started so far */
};

/* Queue `m` (entries must be empty) to leave at the flush once the writes
 * named by `after` are durable. A full queue loses the message (reported as
 * RAFT_EVENT_SEND_FAILED), which Raft tolerates like any lost message. */
void raft__queue(struct raft *r, const struct raft_msg *m, int after);

/* The same in two steps, without a copy: take a slot for a message to `to`
 * (NULL if the queue is full: the message is lost), fill it, then call
 * raft__queue_done. */
void raft__queue_full(struct raft *r, raft_id to);
static inline struct raft_msg *raft__queue_slot(struct raft *r, raft_id to,
                                                int after)
{
    struct raft__out *o;
    if (r->out_len == r->out_cap) {
        raft__queue_full(r, to);
        return NULL;
    }
    o = &r->out[r->out_len++];
    o->barrier = after == RAFT__AFTER_ALL     ? r->w_issued
                 : after == RAFT__AFTER_STATE ? r->w_state
                                              : 0;
    return &o->m;
}
void raft__queue_coalesce(struct raft *r);
static inline void raft__queue_done(struct raft *r)
{
    if (r->out_len > 1 && r->out[r->out_len - 1].barrier > r->w_done) {
        raft__queue_coalesce(r); /* it waits: merge with older replies */
    }
}

/* Send now (flush only), turning a failure into an event, emitted at once.
 * Returns true if the message was handed over. */
void raft__send_failed(struct raft *r, const struct raft_msg *m);
/* The same for a snapshot chunk the host could not read (flush only). */
void raft__snapshot_read_failed(struct raft *r, raft_id peer);
static inline bool raft__send(struct raft *r, const struct raft_msg *m)
{
    if (r->cb.send(r, r->ctx, m) != 0) {
        raft__send_failed(r, m);
        return false;
    }
    r->metrics.sent[m->type]++; /* a type this node made: always in range */
    return true;
}

/* Make room for k more pending writes (asynchronous mode; no-op otherwise).
 * RAFT_ENOMEM leaves the node unchanged. */
int raft__writes_reserve_slow(struct raft *r, size_t k);
static inline int raft__writes_reserve(struct raft *r, size_t k)
{
    if (!r->cfg.async_persist || r->w_issued - r->w_done + k <= r->wq_cap) {
        return 0;
    }
    return raft__writes_reserve_slow(r, k);
}

/* A persist callback just started a write (returned 0): number it and, in
 * synchronous mode, complete it. `last` is the entries write's last index,
 * or 0 with entries == false for a term/vote write. */
static inline struct raft__write *raft__write_at(const struct raft *r,
                                                 uint64_t w)
{
    return &r->wq[(w - 1) & (r->wq_cap - 1)];
}
static inline void raft__write_pending(struct raft *r, bool entries,
                                       raft_index last)
{
    /* raft__writes_reserve() made room. */
    struct raft__write *x = raft__write_at(r, r->w_issued);
    x->entries = entries;
    x->last = last;
}
static inline void raft__write_started(struct raft *r, bool entries,
                                       raft_index last)
{
    r->w_issued++;
    if (!entries) {
        r->w_state = r->w_issued;
    }
    if (r->cfg.async_persist) {
        raft__write_pending(r, entries, last);
        return;
    }
    r->w_done = r->w_issued;
    if (entries) {
        r->durable = last;
    }
}

/* The log was cut back to from-1 (a truncation or a failed write): nothing
 * at or above `from` is durable as it is in memory. */
void raft__durable_cut_slow(struct raft *r, raft_index from);
static inline void raft__durable_cut(struct raft *r, raft_index from)
{
    if (r->durable >= from || r->w_issued != r->w_done) {
        raft__durable_cut_slow(r, from);
    }
}

/* Complete the n oldest pending writes. */
static inline void raft__writes_complete(struct raft *r, uint64_t n)
{
    /* Bounded by n <= pending writes (checked by raft_persisted). */
    while (n-- > 0) {
        const struct raft__write *x = raft__write_at(r, r->w_done + 1);
        if (x->entries && x->last > r->durable) {
            r->durable = x->last;
        }
        r->w_done++;
    }
}

/* Carry out the recorded effects (see the top of this file). Returns 0 or
 * RAFT_EAPPLY. Events and queued messages go first: inline when there is
 * no event and at most one message (sent if its writes are done, else left
 * waiting: what most calls record), otherwise through raft__flush_events_and_queue, which returns
 * false if the node is stopped and must do nothing more. Then replication
 * to marked followers, then apply. */
bool raft__flush_events_and_queue(struct raft *r);
void raft__repl_flush(struct raft *r); /* replication.c */
void raft__read_flush(struct raft *r); /* read.c */
int raft__apply(struct raft *r);       /* role.c */
static inline int raft__effects_flush(struct raft *r)
{
    if (r->fx_slow || r->out_len > 1) {
        if (!raft__flush_events_and_queue(r)) {
            /* Stopped: nothing is sent or applied, but reads still
             * waiting fail now (no later call will settle them). */
            if (r->read_work) {
                raft__read_flush(r);
            }
            return 0;
        }
    } else if (r->out_len == 1 && r->out[0].barrier <= r->w_done) {
        r->out_len = 0;
        raft__send(r, &r->out[0].m);
    }
    if (r->any_dirty) {
        raft__repl_flush(r);
    }
    if (r->applied < r->commit && r->applied < r->durable) {
        int rc = raft__apply(r);
        if (r->read_work) {
            raft__read_flush(r);
        }
        return rc;
    }
    if (r->read_work) {
        raft__read_flush(r);
    }
    return 0;
}

/* Drop every queued message and event (the node stops). */
void raft__effects_discard(struct raft *r);

/* ---- role.c ---- */

/* Persist and adopt (term, vote). RAFT_EPERSIST leaves both unchanged. */
int raft__set_term_vote(struct raft *r, raft_term term, raft_id vote);

/* Set the role. The ROLE event is derived at the flush. */
void raft__set_role(struct raft *r, int role);

/*
 * Become follower of `term` (>= current) with the given known leader (0 if
 * unknown), persisting a term change first. RAFT_EPERSIST leaves the node
 * unchanged. A leader stepping down for a newer term reports STEP_DOWN;
 * callers stepping down in the same term report their own reason.
 */
int raft__become_follower(struct raft *r, raft_term term, raft_id leader);

/* A message only a leader sends (AppendEntries, a snapshot chunk, a
 * heartbeat round), of a term >= ours: RAFT_EBADMSG, reported and counted
 * as a conflict, if another node leads our term (or we do); 0 otherwise. */
int raft__second_leader(struct raft *r, const struct raft_msg *m);

/* Such a message, checked: follow its sender as leader of its term (a
 * newer term is persisted first; RAFT_EPERSIST leaves the node unchanged)
 * and restart the election timer's count. */
int raft__follow(struct raft *r, const struct raft_msg *m);

/* Draw a fresh randomized timeout, keeping the time already elapsed. */
void raft__draw_election_timeout(struct raft *r);

/* Restart the election timer with a fresh randomized timeout. */
void raft__reset_election_timer(struct raft *r);

/* Find a member's slot by id (this node's included), or NULL. Hosts often
 * number members 1..n in configuration order, so slot id - 1 is tried
 * first; otherwise linear: members are few. */
static inline struct raft__progress *raft__member(const struct raft *r,
                                                  raft_id id)
{
    size_t i;
    if (id - 1 < r->n && r->prs[id - 1].id == id) {
        return &r->prs[id - 1];
    }
    for (i = 0; i < r->n; i++) {
        if (r->prs[i].id == id) {
            return &r->prs[i];
        }
    }
    return NULL;
}

/* Is slot i a voter (of either group while joint)? */
static inline bool raft__is_voter(const struct raft *r, size_t i)
{
    return (r->mflags[i] & (RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING)) != 0;
}

/* Payload bytes of the first entry of a term this node would lead: the
 * cluster's first leader writes the bootstrap configuration instead of a
 * no-op (so that every log holding index 1 holds a configuration). */
static inline size_t raft__lead_entry_bytes(const struct raft *r)
{
    return raft__log_last(&r->log) == 0 ? r->base_conf_len : 0;
}

/* raft__apply (declared above, with the flush): apply committed, durable
 * entries in order, of which there must be one at least (applied below
 * both commit and durable); RAFT_EAPPLY if the callback failed. */

#endif
