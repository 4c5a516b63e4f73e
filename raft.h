/*
 * raft.h - an embeddable, I/O-agnostic Raft consensus library.
 *
 * This header is the whole public contract of the library. Everything not
 * declared here is private and may change without notice.
 *
 * The library is a deterministic state machine. The host program owns the
 * disk, the network, the clock and the threads; it drives a node with
 * raft_tick() (one unit of logical time), raft_step() (one incoming message)
 * and raft_propose() (one command to replicate), and the node acts through
 * the callbacks in struct raft_callbacks: send a message, persist term and
 * vote, persist log entries, apply committed entries, report diagnostics.
 *
 * The library never allocates except through the allocator in the config,
 * never reads a clock or a random source of its own, performs no I/O and
 * keeps no global state. Given the same config, seed and sequence of calls a
 * node behaves identically.
 *
 * Threads: a node is not thread-safe. All calls on one node must be
 * serialised by the host. Different nodes are independent.
 *
 * Conventions used in this header:
 *   - Every function returning int returns 0 on success or a negative
 *     RAFT_E* code, except raft_role() and raft_version_number(), which
 *     return a value. A call that fails leaves the node as it was, except
 *     where the function's documentation says otherwise.
 *   - Pointers are labelled "borrowed" (read during the call only),
 *     "retained" (kept until a stated event) or "out" (written by the call).
 *   - Callbacks must not call mutating functions (raft_tick, raft_step,
 *     raft_propose, raft_propose_batch, raft_persisted, raft_compact, raft_read_index,
 *     raft_propose_change, raft_leave_joint, raft_join,
 *     raft_bootstrap, raft_restore, raft_restore_snapshot, raft_destroy)
 *     on the node that invoked them; such calls return RAFT_EBUSY
 *     (raft_destroy is ignored). Queries are allowed. (So a host that
 *     decides in its apply callback to snapshot calls raft_compact once
 *     the driving call has returned.)
 */
#ifndef RAFT_H
#define RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the exported functions; everything else is hidden in the shared
 * library. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define RAFT_API __attribute__((visibility("default")))
#else
#define RAFT_API
#endif

/* ======================================================================
 * Version
 * ====================================================================== */

#define RAFT_VERSION_MAJOR 0
#define RAFT_VERSION_MINOR 1
#define RAFT_VERSION_PATCH 0
#define RAFT_VERSION_NUMBER \
    (RAFT_VERSION_MAJOR * 10000 + RAFT_VERSION_MINOR * 100 + RAFT_VERSION_PATCH)

/* Version of the library actually linked, as RAFT_VERSION_NUMBER. */
RAFT_API int raft_version_number(void);

/*
 * Compatibility policy.
 *   - Every change to this header is listed in CHANGELOG.md. Until 1.0, a
 *     minor release may change the API; from 1.0 on, only a major one.
 *   - The shared library's soname (libraft.so.N) changes with every release
 *     that breaks binary compatibility, whatever the version number says;
 *     a program linked against libraft.so.N keeps working with any later
 *     library of the same soname.
 *   - Structs the host fills in (raft_config, raft_callbacks,
 *     raft_allocator, raft_wire_limits) only grow at the end, and a new
 *     field's zero value keeps the previous behaviour: a host that
 *     zero-initialises them (memset, `= {0}` or designated initialisers)
 *     keeps its behaviour when rebuilt against a newer header. Structs the
 *     library fills in (raft_status, raft_progress, raft_event, raft_msg,
 *     raft_entry) also only grow at the end. Growing any public struct
 *     changes its size, which breaks binary compatibility: the soname
 *     changes with it. The exception is struct raft_metrics, which grows
 *     without breaking it: raft_metrics() is told the caller's size.
 *   - Error codes, enum values and wire format versions keep their numbers.
 *   - A program may compare raft_version_number() with RAFT_VERSION_NUMBER
 *     at start-up to detect a library older than its header.
 */

/* ======================================================================
 * Error codes
 * ====================================================================== */

/*
 * X(name, value, text). Codes a caller handles differently are distinct.
 * Codes returned by raft_step() for a rejected message (RAFT_ENOTMEMBER,
 * RAFT_ESTALE, RAFT_EBADMSG, RAFT_ETOOBIG) mean the message was dropped and
 * the node is unchanged apart from any reply it sent (a node answers a
 * stale-term request with its own term so the sender can catch up); a host
 * typically counts them and carries on.
 */
#define RAFT_ERRNO_MAP(X)                                                     \
    X(RAFT_ENOMEM, -1, "out of memory")                                       \
    X(RAFT_EINVAL, -2, "invalid argument")                                    \
    X(RAFT_EBUSY, -3, "mutating call made from within a callback")           \
    X(RAFT_ENOTLEADER, -4, "this node is not the leader")                     \
    X(RAFT_ENOTMEMBER, -5, "sender is not a member of the configuration")    \
    X(RAFT_ESTALE, -6, "message carries a term older than the node's")       \
    X(RAFT_EBADMSG, -7, "malformed or impossible message")                   \
    X(RAFT_ETOOBIG, -8, "entry or batch exceeds the configured limits")      \
    X(RAFT_EPERSIST, -9, "a persistence callback failed")                    \
    X(RAFT_EAPPLY, -10, "the apply callback failed")                         \
    X(RAFT_ENOTSTARTED, -11, "node not started: bootstrap or restore it")    \
    X(RAFT_ESTARTED, -12, "node already started")                            \
    X(RAFT_ENOSPACE, -13, "term or index space exhausted")                   \
    X(RAFT_ENOBUFS, -14, "buffer too small")                                 \
    X(RAFT_ESHORT, -15, "input ends before the encoded message does")        \
    X(RAFT_ETRAILING, -16, "bytes follow the encoded message")               \
    X(RAFT_EVERSION, -17, "unknown wire format version")                     \
    X(RAFT_ETYPE, -18, "unknown message or entry type")                      \
    X(RAFT_ECOUNT, -19, "entry count impossible for the input length")       \
    X(RAFT_ELIMIT, -20, "encoded message exceeds the decoder's limits")      \
    X(RAFT_EFORMAT, -21, "malformed encoding: reserved bits or bad length")   \
    X(RAFT_ESTOPPED, -22, "node stopped after a failed write: restore it")   \
    X(RAFT_ESNAPSHOT, -23, "log does not continue the snapshot")              \
    X(RAFT_ECOMPACTED, -24, "entry compacted into a snapshot")               \
    X(RAFT_ELEADERLOST, -25, "leadership changed before the read was confirmed") \
    X(RAFT_EFULL, -26, "too many requests pending")                          \
    X(RAFT_ENOQUORUM, -27, "leader lost contact with a majority")            \
    X(RAFT_ECONFBUSY, -28, "a configuration change is already in progress")  \
    X(RAFT_EBADCONF, -29, "the change is not valid for the configuration")   \
    X(RAFT_EREMOVED, -30, "this node is not a voter of the configuration")   \
    X(RAFT_ETRANSFER, -31, "leadership is being transferred")

enum {
#define RAFT__ERRNO_ENUM(name, value, text) name = value,
    RAFT_ERRNO_MAP(RAFT__ERRNO_ENUM)
#undef RAFT__ERRNO_ENUM
};

/*
 * Static English text for an error code, never NULL, never allocates.
 * Unknown codes give "unknown error"; 0 gives "success".
 */
RAFT_API const char *raft_strerror(int code);

/* ======================================================================
 * Scalar types
 * ====================================================================== */

typedef uint64_t raft_id;    /* node id; 0 means "none" and is never valid */
typedef uint64_t raft_term;  /* election term; 0 only before the first term */
typedef uint64_t raft_index; /* log index; the first entry has index 1 */

/* Roles. A pre-candidate (PreVote, see struct raft_config) asks whether it
 * could win an election before starting one; it knows no leader. */
enum {
    RAFT_FOLLOWER = 1,
    RAFT_CANDIDATE = 2,
    RAFT_LEADER = 3,
    RAFT_PRECANDIDATE = 4
};

/* ======================================================================
 * Value structs: entries and messages
 * ====================================================================== */

/* Entry types. */
enum {
    RAFT_ENTRY_COMMAND = 1, /* a host command, handed to the apply callback */
    RAFT_ENTRY_NOOP = 2,    /* written by each new leader; applied as a no-op
                               (the apply callback sees it and may ignore it) */
    RAFT_ENTRY_CONFIG = 3   /* a configuration (see "Membership"): the
                               payload is the whole new configuration, read
                               with raft_conf_decode(). Applied like a
                               no-op: the node acts on it when it is
                               appended, and the apply callback sees it
                               and may ignore it */
};

/*
 * One log entry. The index is implied by position (a message's entries
 * follow its prev_index; a callback receives the index of the first one).
 * `buf` is borrowed or retained as stated by whichever call hands it over.
 */
struct raft_entry {
    raft_term term;
    int type;        /* RAFT_ENTRY_* */
    const void *buf; /* payload, may be NULL when len is 0 */
    size_t len;      /* payload bytes */
};

/* A payload for raft_propose_batch(). */
struct raft_buf {
    const void *base;
    size_t len;
};

/* Message types. */
enum {
    RAFT_MSG_VOTE = 1,        /* RequestVote RPC (Raft 5.2) */
    RAFT_MSG_VOTE_RESP = 2,   /* its reply */
    RAFT_MSG_APPEND = 3,      /* AppendEntries RPC, also the heartbeat (5.3) */
    RAFT_MSG_APPEND_RESP = 4, /* its reply */
    RAFT_MSG_SNAPSHOT = 5,    /* InstallSnapshot: one chunk (Raft 7) */
    RAFT_MSG_SNAPSHOT_RESP = 6, /* its reply */
    RAFT_MSG_PREVOTE = 7,     /* PreVote (thesis 9.6): could a candidate of
                                 `term` win? u.vote; changes nothing */
    RAFT_MSG_PREVOTE_RESP = 8, /* its reply: u.vote_resp; `term` is the
                                 request's when granted, else the voter's */
    RAFT_MSG_HEARTBEAT = 9,   /* leader: are you still following me? Confirms
                                 leadership for reads (u.heartbeat) */
    RAFT_MSG_HEARTBEAT_RESP = 10, /* its reply: u.heartbeat */
    RAFT_MSG_READ = 11,       /* follower: a read index, please (u.read) */
    RAFT_MSG_READ_RESP = 12,  /* leader: the index for reads up to u.read.id
                                 (u.read) */
    RAFT_MSG_TIMEOUT_NOW = 13 /* leader: campaign at once, I hand over
                                 leadership (thesis 3.10); no body */
};

/* RequestVote: a candidate asks for a vote in `term`. */
struct raft_msg_vote {
    raft_index last_index; /* candidate's last log index */
    raft_term last_term;   /* term of that entry, 0 if the log is empty */
    bool transfer;         /* RAFT_MSG_VOTE only: the campaign of a
                              leadership transfer, which voters do not
                              ignore under leader stickiness (unless the
                              candidate is no voter of their
                              configuration in force) */
};

/* Reply to RequestVote. The voter's last entry tells a losing candidate
 * whether it lost to a split vote or to a more up-to-date log (the reason
 * of RAFT_EVENT_ELECTION_LOST). */
struct raft_msg_vote_resp {
    bool granted;
    raft_index last_index; /* voter's last log index */
    raft_term last_term;   /* term of that entry, 0 if the log is empty */
};

/* AppendEntries: entries prev_index+1 .. prev_index+n_entries. */
struct raft_msg_append {
    raft_index prev_index; /* index of the entry just before the new ones */
    raft_term prev_term;   /* its term, 0 when prev_index is 0 */
    raft_index commit;     /* leader's commit index */
    size_t n_entries;
    const struct raft_entry *entries; /* borrowed, see raft_send_cb/raft_step;
                                         NULL when n_entries is 0 in what
                                         the node sends */
};

/*
 * Reply to AppendEntries.
 * On success, `index` is the highest index now known to match the leader:
 * prev_index + n_entries of the request, or the follower's commit index if
 * the whole request lay at or below it.
 * On rejection, `index` is the request's prev_index, and (hint_index,
 * hint_term) is the follower's last entry that may still match: the largest
 * index <= min(prev_index, last index) whose term is <= the request's
 * prev_term, with that entry's term. The leader uses it to skip whole terms
 * of conflicting entries at once.
 */
struct raft_msg_append_resp {
    bool success;
    raft_index index;
    raft_index hint_index;
    raft_term hint_term;
};

/*
 * InstallSnapshot, streamed: bytes offset .. offset+len-1 of the leader's
 * snapshot covering every entry up to `index`. The receiver writes chunks
 * in order and installs the snapshot after the `last` one.
 */
struct raft_msg_snapshot {
    raft_index index;      /* last entry the snapshot covers */
    raft_term index_term;  /* its term */
    uint64_t offset;       /* position of this chunk in the snapshot */
    bool last;             /* the final chunk */
    size_t len;
    const void *data;      /* borrowed, see raft_send_cb/raft_step; may be
                              NULL when len is 0 */
    /* The final chunk only (empty in the others): the configuration at
     * `index`, encoded as a RAFT_ENTRY_CONFIG payload; borrowed like data. */
    size_t conf_len;
    const void *conf;
};

/*
 * Reply to InstallSnapshot for the snapshot ending at `index`. `offset` is
 * the next byte the receiver expects (everything before it is written; 0
 * asks the leader to start over); `done` says the snapshot is installed
 * (or was not needed: the receiver already holds entries up to `index`).
 */
struct raft_msg_snapshot_resp {
    raft_index index;
    uint64_t offset;
    bool done;
};

/*
 * HEARTBEAT and its reply: a leadership round. The follower echoes
 * `round`; a reply from a majority to round k shows the leader still led
 * when it sent round k.
 */
struct raft_msg_heartbeat {
    uint64_t round; /* >= 1; 0 only in the reply to a round of an older
                       term, which echoes no round and only tells the
                       replier's term */
};

/*
 * READ and its reply. A follower asks its leader for a read index for its
 * reads numbered up to `id` (its own numbering); the leader answers once
 * its leadership is confirmed, with ok and `index`, or refuses (ok false:
 * it does not lead).
 */
struct raft_msg_read {
    uint64_t id;
    raft_index index; /* reply only: serve the reads once applied to here */
    bool ok;          /* reply only */
};

/* A message between two nodes. */
struct raft_msg {
    int type;       /* RAFT_MSG_* */
    raft_id from;   /* sender */
    raft_id to;     /* recipient */
    raft_term term; /* sender's current term */
    union {
        struct raft_msg_vote vote;
        struct raft_msg_vote_resp vote_resp;
        struct raft_msg_append append;
        struct raft_msg_append_resp append_resp;
        struct raft_msg_snapshot snapshot;
        struct raft_msg_snapshot_resp snapshot_resp;
        struct raft_msg_heartbeat heartbeat;
        struct raft_msg_read read;
    } u;
};

/* ======================================================================
 * Configuration and allocator
 * ====================================================================== */

/*
 * Allocator hooks, with the host's context pointer. Either all three
 * functions are set or none (NULL means libc malloc/realloc/free).
 * `alloc` and `realloc` return NULL on failure; the library then returns
 * RAFT_ENOMEM from the call that needed memory, with the node unchanged.
 * `free(ctx, NULL)` is never called.
 */
struct raft_allocator {
    void *ctx;
    void *(*alloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t size);
    void (*free)(void *ctx, void *ptr);
};

/*
 * Node configuration, copied by raft_create(). Zero in a numeric field
 * selects the documented default, except `seed`, for which 0 is a seed like
 * any other.
 *
 * Timing is in ticks: the host decides how long a tick is. A follower that
 * hears nothing from a leader for a randomized timeout in
 * [election_ticks, election_ticks + election_ticks / 4] ticks (drawn from the
 * seeded generator) starts an election; a leader sends heartbeats every
 * heartbeat_ticks. election_ticks must be greater than heartbeat_ticks.
 * One exception shortens a timeout: when candidates of the same term see
 * each other's vote requests, the one with the more up-to-date log (then
 * the lower id) retries after heartbeat_ticks if its election fails, while
 * the others keep their full timeout, so a split vote costs one heartbeat
 * interval rather than another election timeout.
 * An election holds two writes in series: the candidate's vote requests
 * leave once its new term and its own vote are durable, and each grant
 * once the voter's term and vote are. election_ticks must therefore cover
 * two such writes (with whatever the host queues ahead of them) plus a
 * round trip, with room to spare: with slower writes every election times
 * out before it can finish, and no leader is ever elected.
 *
 * async_persist selects asynchronous persistence (see "Persistence" below
 * the callbacks): persist callbacks start writes and the host reports them
 * durable later with raft_persisted(). false keeps the synchronous contract:
 * a persist callback returns once its write is durable.
 *
 * The message limits bound what this node sends: no AppendEntries carries
 * more than max_msg_entries entries, nor more than max_msg_bytes payload
 * bytes unless it carries one entry, and a single proposal larger than
 * max_msg_bytes is refused. What a node accepts is bounded only by the
 * safety caps RAFT_MAX_ACCEPT_ENTRIES and RAFT_MAX_ACCEPT_BYTES, so nodes
 * of one cluster may be configured with different limits, and a node
 * restarted with lower limits still restores its own log.
 *
 * PreVote (Raft thesis 9.6), on unless disable_pre_vote: a node whose
 * election timer fires first becomes a pre-candidate and asks the voters
 * whether they would vote for it at the next term (RAFT_MSG_PREVOTE),
 * without raising its own term or anyone's, and without persisting
 * anything. Only with a majority of yes does it start a real election. A
 * node cut off for a while therefore comes back at the term it left with,
 * not at a higher one that deposes the leader as soon as it is heard.
 * PreVote alone does not refuse a pre-vote while a leader is heard from:
 * a node whose log is as up to date as a majority's (an idle cluster) can
 * still win one and depose a healthy leader; leader stickiness (below,
 * with CheckQuorum) is what refuses it. Every node of a cluster should
 * have the same setting (a node without PreVote still answers pre-votes).
 *
 * CheckQuorum and leader stickiness, on unless disable_check_quorum:
 *   - a leader that has not heard from a majority of the voters (itself
 *     included) within the last election_ticks ticks steps down
 *     (RAFT_EVENT_STEP_DOWN with RAFT_ENOQUORUM), so a leader cut off from
 *     the majority stops accepting proposals within one election timeout;
 *   - a node that has heard from the current leader within the last
 *     election_ticks ticks, and a leader, ignore vote and pre-vote requests
 *     of a higher term: no reply, no term change (counted as
 *     RAFT_REJECT_IN_LEASE). A node that can send but not receive cannot
 *     then force elections on a healthy cluster.
 * Other messages of a higher term are handled as without it: the receiver
 * adopts the term.
 *
 * Reads (raft_read_index): by default each read is confirmed by a round
 * of heartbeats to the voters, shared by every read waiting for it.
 * lease_reads (which needs CheckQuorum) lets a leader answer reads without
 * a round while its lease holds: a majority acknowledged a heartbeat round
 * sent at tick t, so until tick t + election_ticks - lease_drift_ticks - 1
 * no other node can have been elected (those voters ignore vote requests
 * for election_ticks ticks after hearing from the leader, even if they
 * adopt a later term meanwhile, and every node does so for election_ticks
 * ticks after it starts; the tick taken off beside the drift is because a
 * count of ticks measures an interval up to one tick short). Turning it
 * on is accepting
 * a timing assumption: no node's ticks run faster than the leader's by
 * more than lease_drift_ticks per election_ticks of the leader's, and a
 * node paused (by the scheduler, a debugger, a VM migration) is given the
 * ticks it missed (raft_tick once per tick elapsed) before any
 * raft_step() or raft_read_index() of input that arrived after the pause,
 * or is restarted: a leader whose clock stood still while others' ran
 * would trust a lease that has ended. If the assumption fails a read may miss a
 * write committed before it. Enable it on every node or on none.
 */
/* Safety caps on one incoming AppendEntries (see struct raft_config). */
#define RAFT_MAX_ACCEPT_ENTRIES 65536u
#define RAFT_MAX_ACCEPT_BYTES (1024u * 1024u * 1024u)

struct raft_config {
    raft_id id;               /* this node, non-zero */
    unsigned election_ticks;  /* default 10 */
    unsigned heartbeat_ticks; /* default 1 */
    uint64_t seed;            /* PRNG seed: give each node, and each start
                                 of a node, a different one (a clock or
                                 /dev/urandom reading); it also numbers
                                 a follower's forwarded reads, which must
                                 not repeat across restarts */
    uint32_t max_msg_entries; /* entries per AppendEntries sent, default 64,
                                 at most RAFT_MAX_ACCEPT_ENTRIES */
    uint32_t max_msg_bytes;   /* payload bytes per AppendEntries sent,
                                 default 1 MiB, at most
                                 RAFT_MAX_ACCEPT_BYTES */
    uint32_t max_inflight;    /* AppendEntries in flight per follower while
                                 pipelining, default 8 */
    uint32_t max_inflight_bytes; /* payload bytes in flight per follower
                                 while pipelining (a message that starts
                                 below the bound may cross it), default
                                 max_inflight * max_msg_bytes, at most
                                 UINT32_MAX */
    bool async_persist;       /* writes complete later, see raft_persisted */
    struct raft_allocator allocator; /* all NULL: libc */
    uint64_t snapshot_trailing; /* entries kept behind a snapshot for
                                 followers slightly behind (see
                                 raft_compact), default 1024; the
                                 smallest is 1 */
    bool disable_pre_vote;    /* PreVote off (on by default, see above) */
    bool disable_check_quorum; /* CheckQuorum and leader stickiness off
                                 (on by default, see above) */
    bool lease_reads;         /* leader answers reads from its lease (see
                                 above); needs CheckQuorum */
    unsigned lease_drift_ticks; /* clock-drift bound taken off the lease,
                                 default election_ticks / 4 (at least 1),
                                 below election_ticks (election_ticks - 1
                                 leaves no lease at all) */
    uint32_t max_pending_reads; /* reads waiting on this node (its own and,
                                 on a leader, those of followers), default
                                 1024, at most UINT32_MAX / 2 */
};

/* ======================================================================
 * Callbacks
 * ====================================================================== */

struct raft; /* opaque node */

/*
 * Send `msg` to node msg->to. The message and everything it points to
 * (entries and their payloads) are borrowed for the duration of the call:
 * the host serialises or copies what it needs before returning. Delivery
 * may be unreliable: messages may be lost, duplicated, delayed or reordered.
 * Return 0 if the message was handed to the transport, non-zero otherwise;
 * a failed send is treated as a lost message (reported as
 * RAFT_EVENT_SEND_FAILED) and never stops messages to other peers.
 *
 * Ordering: messages are sent at the end of the driving call, after its
 * events and before its apply callbacks, and only once the writes they
 * depend on are durable (see "Persistence" below): a vote grant after the
 * vote, an acknowledgement after the acknowledged entries. A leader's
 * AppendEntries do not wait for the leader's own write of their entries.
 */
typedef int (*raft_send_cb)(struct raft *r, void *ctx,
                            const struct raft_msg *msg);

/*
 * Persistence.
 *
 * Each call of persist_state, persist_entries or snapshot_install (see
 * "Snapshots") that returns 0 is one write. Writes are
 * made in the order the callbacks are called, like a write-ahead log: a
 * later write may be made durable only with (or after) every earlier one.
 * The callbacks are called during the driving call, where the node decides
 * what to record; unlike the other callbacks they may therefore observe the
 * node (through queries) before the call's transition is complete: a new
 * term or new entries may already show while the role, the leader and the
 * commit index do not yet. Hosts normally make no query there.
 *
 * Synchronous mode (cfg.async_persist false): a callback returns 0 once its
 * write is durable, or non-zero if the write failed, with the effects each
 * callback describes below.
 *
 * Asynchronous mode (cfg.async_persist true): a callback only starts the
 * write and returns 0, or non-zero if it could not even start it (handled
 * exactly as a failed synchronous write). The borrowed arguments must be
 * copied before returning. The host then reports completions, in order,
 * with raft_persisted(). Until a write is reported durable the node sends
 * nothing that depends on it and counts nothing it holds: a vote grant, a
 * candidate's own vote, an acknowledgement of entries, a leader's own copy
 * of its entries toward commitment, and applying an entry all wait for it.
 * Meanwhile the node goes on: a leader replicates entries it has not yet
 * made durable itself (Raft thesis 10.2.1), and a follower accepts further
 * AppendEntries, acknowledging each once the writes before it are durable.
 * A crash may lose any suffix of the writes not yet reported durable; the
 * host restarts the node (raft_restore) from what its disk holds.
 */

/*
 * Store the current term and vote (0 = no vote) together, in one atomic
 * write, replacing the previous pair. Called before any message that
 * depends on the new pair is sent (Raft 5.1, 5.2: a vote must survive a
 * crash). Return 0 once durable (asynchronous mode: once started), non-zero
 * on failure; on failure the node keeps its previous term and vote, sends
 * nothing that depends on them, and the driving call returns RAFT_EPERSIST.
 */
typedef int (*raft_persist_state_cb)(struct raft *r, void *ctx, raft_term term,
                                     raft_id vote);

/*
 * Store `n` >= 1 entries at indexes first .. first+n-1, first discarding
 * every stored entry with index >= first. `first` is at most one past the
 * last stored index (the log never has a gap) and above the node's commit
 * index (committed entries are never rewritten). `entries` and their
 * payloads are borrowed for the call. Called before the node acknowledges the entries to
 * anyone (followers) or counts them toward commitment (leaders). Return 0
 * once durable (asynchronous mode: once started), non-zero on failure.
 *
 * On failure the host may have stored any prefix of the new entries or kept
 * any prefix of the old ones at indexes >= first: the node forgets every
 * entry at index >= first (none of them was committed, so none is needed),
 * acknowledges nothing, and the driving call returns RAFT_EPERSIST. A leader
 * whose own append fails also steps down to follower, so it never gives the
 * same index and term to a different entry.
 */
typedef int (*raft_persist_entries_cb)(struct raft *r, void *ctx,
                                       raft_index first,
                                       const struct raft_entry *entries,
                                       size_t n);

/*
 * Apply the committed entry at `index` to the state machine. Called exactly
 * once per index per node incarnation, in index order, after the entry is
 * committed and durable on this node, and after the messages of the same
 * call have been sent.
 * `entry` and its payload are borrowed for the call. Entries of type
 * RAFT_ENTRY_NOOP are passed too (a host normally ignores them).
 * Return 0 on success. Non-zero stops applying: the entry is not counted as
 * applied, the driving call returns RAFT_EAPPLY, and the same entry is
 * offered again at the next raft_tick, raft_step or raft_propose.
 * A node started with raft_restore() applies again from index 1: a host
 * whose state machine survives a restart must start it empty or skip the
 * indexes it had already applied.
 */
typedef int (*raft_apply_cb)(struct raft *r, void *ctx, raft_index index,
                             const struct raft_entry *entry);

/* Diagnostic event types. */
enum {
    RAFT_EVENT_ROLE = 1,          /* role changed since the last ROLE event:
                                     role, term (one per call at most) */
    RAFT_EVENT_TERM = 2,          /* term changed: term (one per call) */
    RAFT_EVENT_ELECTION_START = 3,/* became candidate: term */
    RAFT_EVENT_ELECTION_WON = 4,  /* term */
    RAFT_EVENT_ELECTION_LOST = 5, /* a majority rejected us (once per
                                     election): term, peer (the rejecter
                                     that decided it), reason (split vote
                                     or a more up-to-date log). The node
                                     stays a candidate until its election
                                     timer fires again (then it campaigns
                                     at the next term) or it hears from a
                                     leader of its term or a later one
                                     (then it follows). A pre-candidate
                                     that loses its pre-vote follows
                                     again, at the same term. */
    RAFT_EVENT_MSG_REJECTED = 6,  /* raft_step refused a message: peer, error,
                                     reason (error 0: a vote request ignored
                                     under leader stickiness, for which
                                     raft_step returns 0) */
    RAFT_EVENT_APPEND_REJECTED = 7,/* follower refused entries (log mismatch):
                                     peer is the leader */
    RAFT_EVENT_SEND_FAILED = 8,   /* a message was lost before the network:
                                     the send callback failed, or the
                                     outgoing queue was full: peer, reason */
    RAFT_EVENT_STEP_DOWN = 9,     /* leader stepped down: error says why
                                     (RAFT_EPERSIST, RAFT_ENOQUORUM,
                                     RAFT_EREMOVED: removed from the
                                     configuration and its handover
                                     failed, see "Membership") or 0 for a
                                     higher term */
    RAFT_EVENT_PREVOTE_START = 10,/* became pre-candidate: term (its
                                     current term; it asks for term + 1) */
    RAFT_EVENT_CONF = 11,         /* the configuration in force changed: a
                                     configuration entry was appended or
                                     truncated away, or a snapshot brought
                                     one; raft_conf() and raft_status() tell
                                     the new one (one event per call) */
    RAFT_EVENT_TRANSFER_ABORTED = 12 /* a leadership transfer to peer was
                                     abandoned: no election within an
                                     election timeout; proposals are taken
                                     again */
};

/*
 * A diagnostic event; borrowed for the duration of the callback. Events are
 * delivered at the end of the driving call that caused them, before its
 * messages, in the order they happened; `term` and `role` are the node's
 * term and role at delivery, which queries made from the callback return
 * too. A call that changes term or role reports TERM, then ROLE, first.
 */
struct raft_event {
    int type;           /* RAFT_EVENT_* */
    raft_term term;     /* node's current term */
    int role;           /* node's current role */
    raft_id peer;       /* the other node involved, or 0 */
    int error;          /* RAFT_E* code, or 0 */
    const char *reason; /* static text, or NULL */
};

/*
 * Optional diagnostics. When NULL, no event is built and nothing is spent.
 * Must not call mutating functions on the node.
 */
typedef void (*raft_event_cb)(struct raft *r, void *ctx,
                              const struct raft_event *ev);

/*
 * Snapshots.
 *
 * The host snapshots its state machine whenever it likes, at an applied
 * index, and tells the node with raft_compact(), which then drops the log
 * up to that index (keeping cfg.snapshot_trailing entries). A follower that
 * needs an entry its leader no longer has gets the leader's latest
 * snapshot, streamed in chunks: the leader reads them from its host with
 * snapshot_read, the follower hands them to its host with snapshot_write
 * as they arrive, and calls snapshot_install once the last one is in.
 * The three callbacks are optional as a set: a node without them cannot
 * compact (raft_compact returns RAFT_EINVAL) and refuses snapshot chunks.
 */

/* Metadata of a snapshot: the last entry it covers and the configuration
 * in force at that entry, encoded as a RAFT_ENTRY_CONFIG payload (the host
 * stores these bytes with its snapshot and hands them back to
 * raft_restore_snapshot; raft_conf_decode reads them). `conf` is borrowed
 * as stated by each call. */
struct raft_snapshot_meta {
    raft_index index;
    raft_term term;
    const void *conf;
    size_t conf_len;
};

/*
 * Leader: read up to `max` bytes of the snapshot covering entries up to
 * `index` (the node's latest: the one last given to raft_compact or
 * raft_restore_snapshot, or installed through snapshot_install while this
 * node was a follower), starting at byte `offset`. Set *data to the bytes
 * (retained by the node until the send callback that carries them returns;
 * the node calls send before any other callback), *len to their number (at
 * most max; fewer only at the end) and *last to whether they end the
 * snapshot.
 * Return 0, or non-zero if that snapshot can no longer be read (for
 * instance the host replaced it with a newer one): the node then starts
 * the follower over with the snapshot it knows as the latest.
 */
typedef int (*raft_snapshot_read_cb)(struct raft *r, void *ctx, raft_index index,
                                     uint64_t offset, size_t max,
                                     const void **data, size_t *len, bool *last);

/*
 * Follower: store data[0..len) (borrowed) at byte `offset` of the snapshot
 * being received, described by *meta (borrowed). Chunks come in order,
 * without gaps: offset 0 starts a new snapshot, and the host discards any
 * partly received one (a duplicate of the first chunk of the snapshot
 * being received is not passed on). meta->conf is set with the last
 * chunk only (NULL before it); snapshot_install gets it too. Nothing needs
 * to be durable yet. Return 0, or non-zero on failure (the chunk counts as
 * lost; the leader resends it).
 */
typedef int (*raft_snapshot_write_cb)(struct raft *r, void *ctx,
                                      const struct raft_snapshot_meta *meta,
                                      uint64_t offset, const void *data,
                                      size_t len);

/*
 * Follower: the snapshot described by *meta (borrowed) is complete. Replace
 * the state machine with it during this call: every entry up to
 * meta->index counts as applied from now on (raft_status shows it at
 * once), and the apply callback continues from meta->index + 1, possibly
 * later in the same driving call. The host's log may drop every entry up to meta->index.
 * If `keep` is true the node's log held the entry meta->index with
 * meta->term and the entries after it stay; if false, every stored entry
 * goes (the log then continues the snapshot empty, as if
 * persist_entries were called with first = meta->index + 1 and nothing).
 * Making the snapshot (and the log change) durable is a write like the
 * persist callbacks' (synchronous: return once durable; asynchronous:
 * start it, report it with raft_persisted() in order with the others); the
 * installation is acknowledged to the leader only once it is durable. A
 * crash before that restarts the node from what its disk held before,
 * which is consistent: nothing depended on the installation yet. Return
 * 0, or non-zero on failure (before replacing anything): the node keeps
 * its state and the leader starts the snapshot over.
 */
typedef int (*raft_snapshot_install_cb)(struct raft *r, void *ctx,
                                        const struct raft_snapshot_meta *meta,
                                        bool keep);

/*
 * A read asked for with raft_read_index() is settled: called exactly once
 * per accepted request, with the host's `req` pointer.
 * status 0: the read may be served now, from the state machine as it is
 * (this node has applied every entry up to `index`, and no entry committed
 * before the read was asked for is missing): the result is linearizable.
 * status RAFT_ELEADERLOST: leadership changed, or this node's leader could
 * not confirm it or was not heard from for an election timeout (on a node
 * that does not campaign), or the node stopped, before the read was confirmed
 * (`index` is 0): retry, possibly on the new leader. Must not call
 * mutating functions on the node.
 */
typedef void (*raft_read_cb)(struct raft *r, void *ctx, void *req,
                             raft_index index, int status);

/* The callback table, copied by raft_create(). `send`, `persist_state`,
 * `persist_entries` and `apply` are required; `event` is optional; the
 * snapshot callbacks are optional as a set (all three or none); `read` is
 * optional. */
struct raft_callbacks {
    raft_send_cb send;
    raft_persist_state_cb persist_state;
    raft_persist_entries_cb persist_entries;
    raft_apply_cb apply;
    raft_event_cb event;
    raft_snapshot_read_cb snapshot_read;
    raft_snapshot_write_cb snapshot_write;
    raft_snapshot_install_cb snapshot_install;
    raft_read_cb read;        /* optional: needed by raft_read_index() */
};

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

/*
 * Create a node. `cfg` and `cbs` are copied; `ctx` is retained and passed to
 * every callback until raft_destroy(). On success *out holds the node, which
 * must then be started with raft_bootstrap() or raft_restore() before it can
 * be driven. Returns RAFT_EINVAL for a NULL argument, a zero id, a missing
 * required callback, an incomplete allocator, election_ticks <=
 * heartbeat_ticks, or a message limit above its cap; RAFT_ENOMEM if
 * allocation fails. On any failure *out is untouched. A node created but
 * never started may be passed to raft_destroy().
 */
RAFT_API int raft_create(const struct raft_config *cfg,
                         const struct raft_callbacks *cbs, void *ctx,
                         struct raft **out);

/*
 * Free the node and everything it allocated. No callback is invoked: in
 * particular the read callback is not called for reads still pending (see
 * raft_read_index), so the host frees their `req` itself.
 * raft_destroy(NULL) does nothing. Called from within a callback of the
 * same node, it does nothing.
 */
RAFT_API void raft_destroy(struct raft *r);

/*
 * Start a brand-new node of a brand-new cluster whose voters are
 * voters[0..n_voters) (borrowed; copied), at most RAFT_MAX_MEMBERS. Call
 * it with the same list on every initial node, and keep the list: pass it
 * to raft_restore() after a restart. (It matters only until the cluster's
 * first leader writes it to the log as a RAFT_ENTRY_CONFIG entry at index
 * 1; from then on the configuration comes from the log and snapshots.)
 * The node starts as a follower at term 0 with an empty log; no callback
 * is invoked. A one-voter cluster elects itself at the first election
 * timeout.
 * Returns RAFT_EINVAL if the list is empty, too long, has duplicates or
 * zeros, or does not contain this node; RAFT_ESTARTED if the node was
 * already started; RAFT_ENOMEM.
 */
RAFT_API int raft_bootstrap(struct raft *r, const raft_id *voters,
                            size_t n_voters);

/*
 * Start a brand-new, empty node that will join a running cluster: it has
 * no configuration, never campaigns, and takes whatever a leader sends it
 * (the log from index 1, or a snapshot), from which it learns the
 * configuration. It becomes a member once a leader adds it (usually as a
 * learner first, see raft_propose_change). After a restart, restore it
 * with raft_restore() (voters NULL) or raft_restore_snapshot().
 * Returns RAFT_ESTARTED, RAFT_EBUSY, RAFT_ENOMEM.
 */
RAFT_API int raft_join(struct raft *r);

/*
 * Start a node from the state it persisted before a crash or shutdown:
 * the voter list it was bootstrapped with (NULL with n_voters 0 for a node
 * started with raft_join), the last term and vote given to persist_state,
 * and the log entries given to persist_entries, starting at index 1 (all
 * borrowed; copied). The configuration is the last RAFT_ENTRY_CONFIG entry
 * of the log, or the bootstrap list if there is none. The node starts as a
 * follower with commit index 0 and applies committed entries again from
 * index 1 as it learns the commit index.
 * Returns RAFT_EINVAL if the voter list is invalid (as for raft_bootstrap;
 * NULL is valid), the vote is set while term is 0, term is UINT64_MAX,
 * or the entries are not a possible log (a term of 0, terms that decrease, a
 * term above `term`, an unknown type, a NULL payload with a non-zero length,
 * a payload larger than UINT32_MAX bytes, a configuration entry whose
 * payload raft_conf_decode() refuses); RAFT_ESTARTED; RAFT_ENOMEM.
 */
RAFT_API int raft_restore(struct raft *r, const raft_id *voters,
                          size_t n_voters, raft_term term, raft_id vote,
                          const struct raft_entry *entries, size_t n_entries);

/*
 * Start a node from a snapshot and the log that follows it: *snap (borrowed)
 * describes the snapshot the host's state machine was loaded from (its
 * conf is the configuration at snap->index, as the node gave it in the
 * metadata), term and vote are the last pair given to
 * persist_state, and entries[0..n_entries) (borrowed; copied) are the
 * stored entries from index first_index on. Entries at or below
 * snap->index are covered by the snapshot and dropped (if the entry at
 * snap->index is among them, its term must be snap->term). The node starts
 * with commit and applied at snap->index and applies from snap->index + 1.
 * Returns RAFT_ESNAPSHOT if the entries do not continue the snapshot: a
 * gap after it (first_index > snap->index + 1), a log that ends before it,
 * a different term at snap->index, or a first entry after it whose term is
 * below snap->term; RAFT_EINVAL as raft_restore(), if
 * raft_conf_decode() refuses snap->conf, or if snap is NULL, snap->index
 * is 0 or UINT64_MAX,
 * snap->term is 0 or above `term`, first_index is 0, entries is NULL with n_entries > 0,
 * or the node has no snapshot callbacks; RAFT_ESTARTED; RAFT_EBUSY;
 * RAFT_ENOMEM (the node stays unstarted). raft_restore() is this call
 * without a snapshot.
 */
RAFT_API int raft_restore_snapshot(struct raft *r,
                                   const struct raft_snapshot_meta *snap,
                                   raft_term term, raft_id vote,
                                   raft_index first_index,
                                   const struct raft_entry *entries,
                                   size_t n_entries);

/* ======================================================================
 * Driving a node
 * ====================================================================== */

/*
 * Advance logical time by one tick: followers and candidates count toward
 * their election timeout and start an election when it expires; a leader
 * sends heartbeats every heartbeat_ticks. Also retries applying entries if
 * an earlier apply failed.
 * Returns 0, RAFT_EPERSIST (persisting a new term failed: the election did
 * not start and will be retried at the next tick; or, on a leader, the
 * entry leaving a joint configuration could not be persisted, and the
 * leader stepped down), RAFT_ENOMEM (on a leader: the entry leaving a
 * joint configuration could not be proposed; heartbeats went out as
 * usual, and the next tick tries again; on any other node: no room for
 * the first entry of a term an election could win, so the election did
 * not start and the next tick tries again), RAFT_ENOSPACE (the term
 * has reached UINT64_MAX - 1, or the log index UINT64_MAX - 1, which only
 * a snapshot can bring near: no further election is possible), RAFT_EAPPLY,
 * RAFT_ENOTSTARTED, RAFT_ESTOPPED (a failed asynchronous write stopped the
 * node, see raft_persisted) or RAFT_EBUSY.
 */
RAFT_API int raft_tick(struct raft *r);

/*
 * Hand the node one incoming message. `msg` and everything it points to are
 * borrowed: entries are copied into the node's log before the call returns.
 * Replies are sent through the send callback before this returns, except
 * in asynchronous mode those that wait for a write (they leave during the
 * raft_persisted call that reports it).
 * Returns 0 if the message was processed (including a consistency-check
 * failure, which is answered with a rejection and reported as
 * RAFT_EVENT_APPEND_REJECTED), or:
 *   RAFT_EINVAL       msg is NULL, or a snapshot chunk reached a node
 *                     without snapshot callbacks;
 *   RAFT_ENOTMEMBER   msg->from is this node or 0, or is not a member of
 *                     the configuration in force and sent a reply that
 *                     would update its progress or count as its vote
 *                     (requests from non-members are taken: a leader or
 *                     candidate may be in a configuration this node has
 *                     not seen yet), or, on a leader, is a member a change
 *                     removed and sent such a reply of a later term (its
 *                     slot is kept only so that it learns of its removal:
 *                     its term deposes nobody);
 *   RAFT_EBADMSG      the message is impossible from a correct node:
 *                     - an unknown type, a recipient other than this node,
 *                       a term of 0 or UINT64_MAX;
 *                     - an (index, term) pair (prev_index/prev_term,
 *                       last_index/last_term, hint_index/hint_term) with
 *                       an index of 0 and a non-zero term or the reverse,
 *                       or a term above the message's own term;
 *                     - an AppendEntries reply whose hint_index is above
 *                       its index;
 *                     - entries == NULL with n_entries > 0, an index range
 *                       reaching UINT64_MAX (entries end at UINT64_MAX - 1),
 *                       an entry term of 0, below
 *                       prev_term, below the previous entry's term or
 *                       above the message term, an unknown entry type, a
 *                       NULL payload with a non-zero length, a
 *                       configuration entry whose payload
 *                       raft_conf_decode() refuses;
 *                     - a snapshot chunk whose last entry is index 0 or
 *                       UINT64_MAX, or has a term of 0 or above the
 *                       message term; NULL data with a non-zero length; an
 *                       offset range past UINT64_MAX; a last chunk whose
 *                       configuration raft_conf_decode() refuses, or a
 *                       configuration on any other chunk; a snapshot
 *                       reply for index 0;
 *                     - a heartbeat round 0 (RAFT_MSG_HEARTBEAT), a read
 *                       id 0, or a read answer whose ok disagrees with its
 *                       index (ok with index 0, a refusal with a
 *                       non-zero one);
 *                     - a success reply acknowledging an index past this
 *                       leader's log, an AppendEntries or a snapshot chunk
 *                       from a second leader in the same term, or entries
 *                       that contradict this node's committed entries;
 *   RAFT_ETOOBIG      more than RAFT_MAX_ACCEPT_ENTRIES entries or
 *                     RAFT_MAX_ACCEPT_BYTES payload bytes (in a snapshot
 *                     chunk: data bytes) (this node's own
 *                     max_msg_* limits do not apply to what it receives);
 *   RAFT_ESTALE       msg->term is older than the node's term (a request is
 *                     answered with the current term first);
 *   RAFT_EPERSIST     persisting term/vote or entries, or writing or
 *                     installing a snapshot chunk, failed (nothing that
 *                     depends on it was acknowledged; see below);
 *   RAFT_ENOMEM, RAFT_EAPPLY, RAFT_ENOTSTARTED, RAFT_ESTOPPED, RAFT_EBUSY.
 * Every rejection is also reported as RAFT_EVENT_MSG_REJECTED.
 * What a host does with the result: RAFT_ENOTMEMBER, RAFT_EBADMSG,
 * RAFT_ETOOBIG and RAFT_ESTALE mean the message was refused and the node is
 * unchanged: drop it and go on (count them, they hint at a misconfigured
 * or faulty peer). RAFT_EPERSIST and RAFT_ENOMEM mean it was not processed
 * and nothing was acknowledged (see the persist callbacks for what a failed
 * write leaves); the sender retries on its own. What a failed write may
 * leave of the message: a later term it carried, adopted in a write of
 * its own that succeeded (an AppendEntries or a snapshot chunk whose
 * entries, chunk or installation could not then be written leaves the
 * node at the sender's term, following it: the term is durable before
 * anything of that term is written); and a vote that won the election
 * whose first entry could not be written (the node stepped down at once,
 * RAFT_EVENT_STEP_DOWN). A failed write of a term or vote itself, an
 * election's start included (a timeout's, a won pre-vote's, a
 * TimeoutNow's), leaves term, vote and role as they were. RAFT_EAPPLY is
 * the host's own apply callback failing: the message itself was
 * processed (its replies sent, or queued as usual in asynchronous mode)
 * and is not to be stepped again. RAFT_ESTOPPED means the node must
 * be destroyed and restarted from its disk. RAFT_EINVAL, RAFT_EBUSY and
 * RAFT_ENOTSTARTED are host bugs.
 */
RAFT_API int raft_step(struct raft *r, const struct raft_msg *msg);

/*
 * Leader only: append one command (buf[0..len), borrowed; copied before the
 * call returns) to the log, persist it, and start replicating it. (Each new
 * leader first appends a no-op entry, the cluster's first leader a
 * configuration entry holding the bootstrap list instead, so a cluster's
 * first command has index 2.) On success
 * *index (if not NULL) receives the entry's index; the entry is applied
 * through the apply callback once committed, which may be during this call
 * in a one-voter cluster with synchronous persistence. Committed is not guaranteed: if leadership is
 * lost first, the entry may be overwritten. The entry's term is the
 * leader's current term, raft_current_term(r) right after a successful
 * call; a host that must know the outcome remembers (index, term) and
 * watches the apply callback: the entry applied at that index carries that
 * term if and only if it is this proposal.
 * Returns RAFT_ENOTLEADER on a follower or candidate (raft_leader() then
 * gives the leader to redirect to, or 0 if unknown), RAFT_ETOOBIG if len
 * exceeds max_msg_bytes, RAFT_EINVAL if buf is NULL with len > 0,
 * RAFT_EPERSIST if persisting failed (the leader then steps down),
 * RAFT_ETRANSFER (a leadership transfer is under way, see
 * raft_transfer_leadership: retry once it ends, at whichever node leads),
 * RAFT_ENOSPACE, RAFT_ENOMEM, RAFT_EAPPLY (the entry was appended; an
 * earlier entry failed to apply), RAFT_ENOTSTARTED, RAFT_ESTOPPED,
 * RAFT_EBUSY.
 */
RAFT_API int raft_propose(struct raft *r, const void *buf, size_t len,
                          raft_index *index);

/*
 * Like raft_propose() for n >= 1 commands bufs[0..n) (borrowed; copied),
 * appended, persisted and replicated together at consecutive indexes; if
 * memory runs out none is appended. *first_index (if not
 * NULL) receives the index of the first. Cheaper per command than n calls
 * to raft_propose(): one persist callback per max_msg_entries commands and,
 * per follower, as few messages as the limits allow.
 * On RAFT_EPERSIST the pieces persisted before the failing one stay in the
 * log: as with any proposal whose leader steps down, the outcome of the
 * batch's commands is unknown until they are seen applied or overwritten.
 * Same return codes as raft_propose(), plus RAFT_EINVAL if n is 0 or bufs
 * is NULL.
 */
RAFT_API int raft_propose_batch(struct raft *r, const struct raft_buf *bufs,
                                size_t n, raft_index *first_index);

/*
 * Asynchronous mode only: report that the n oldest writes not yet reported
 * (persist_state, persist_entries and snapshot_install calls, in call
 * order) have completed.
 * status 0: they are durable; the node sends what waited for them, counts
 * its own vote and entries, commits and applies accordingly (through the
 * callbacks, before this returns). n may be 0 (nothing completes; effects
 * still flush).
 * status non-zero: their outcome is unknown (as after a failed fsync, some,
 * all or none may be on disk). The node then stops: it discards every
 * message waiting to be sent, steps down to follower if it led (reported
 * as RAFT_EVENT_STEP_DOWN with RAFT_EPERSIST), sends and applies nothing
 * more, and every later mutating call returns RAFT_ESTOPPED. Queries still
 * work. Destroy it and restart it with raft_restore() from what the disk
 * holds: only the disk can say what the node may now claim.
 * Returns 0, RAFT_ESTOPPED (status non-zero, or the node was already
 * stopped), RAFT_EINVAL (synchronous mode, or n exceeds the writes
 * outstanding; the node is unchanged), RAFT_ENOMEM (only for status 0 on
 * a candidate, whose completed vote needs room for the first entry of a
 * won term; the node is unchanged: report again), RAFT_EPERSIST (the
 * report completed a candidate's vote and won it the election, but the new
 * leader's no-op entry could not be written: it stepped down; the report
 * itself was taken), RAFT_EAPPLY, RAFT_ENOTSTARTED, RAFT_EBUSY.
 */
RAFT_API int raft_persisted(struct raft *r, size_t n, int status);

/*
 * The host holds a durable snapshot of its state machine covering every
 * entry up to `index` (at most the applied index): the node remembers it as
 * its latest snapshot (what it streams to followers that need entries it no
 * longer has) and drops the log entries up to index - cfg.snapshot_trailing
 * (the trailing ones let a follower slightly behind catch up from the log;
 * with the smallest trailing window, 1, entry `index` itself stays). A
 * follower that installs a snapshot from its leader drops its whole log up
 * to the snapshot's index, whatever the trailing window.
 * The host may then delete its own copies of the dropped entries: from this
 * call on raft_entry_at() returns RAFT_ECOMPACTED for them. Memory the node
 * holds for the log is proportional to the entries it retains. An index
 * at or below the latest snapshot's changes nothing.
 * Returns 0, RAFT_EINVAL (index above the applied index, no snapshot
 * callbacks, or no configuration known at index: a node started with
 * raft_join before it learnt one), RAFT_ENOMEM (nothing was compacted:
 * the node copies the configuration at index), RAFT_EAPPLY (the
 * compaction was done; an entry whose apply failed earlier failed again
 * when retried on the way out), RAFT_ENOTSTARTED, RAFT_ESTOPPED,
 * RAFT_EBUSY.
 */
RAFT_API int raft_compact(struct raft *r, raft_index index);

/*
 * Ask for a linearizable read (Raft thesis 6.4, ReadIndex) without writing
 * to the log. `req` (retained: never dereferenced, kept until the read
 * callback that passes it back, or raft_destroy) is the host's, passed
 * back to the read callback, which is called exactly once if this returns
 * 0: when the read may be served (status 0), or when it cannot be
 * confirmed (RAFT_ELEADERLOST). If this returns an error other than
 * RAFT_EAPPLY, the read was not taken and the callback is not called for
 * `req`.
 *
 * On the leader the read index is the commit index when the read is asked
 * for (a new leader first commits an entry of its own term: reads wait for
 * it); the leader then confirms it still leads with a round of heartbeats
 * (RAFT_MSG_HEARTBEAT) to the voters, and the callback fires once a
 * majority answered and the node applied up to the index. One round is out
 * at a time: the reads asked for meanwhile share the next one. With cfg.lease_reads and a valid
 * lease, no round is needed. A one-voter cluster confirms at once: the
 * callback may then run before this returns, at the end of this call.
 *
 * On a follower that knows its leader, the reads asked for in one call go
 * to the leader in one RAFT_MSG_READ (resent every heartbeat_ticks until
 * answered); the callback fires once the leader answered and this node
 * applied up to the leader's index.
 *
 * Every pending read fails with RAFT_ELEADERLOST when the node's term or
 * role changes, when the leader refuses (it no longer leads), when a node
 * that does not campaign (a learner, a node removed or waiting to join)
 * forgets a leader it has not heard from for an election timeout, and
 * when a failed asynchronous write stops the node (in the raft_persisted()
 * call that stops it).
 * Returns 0, RAFT_EINVAL (no read callback), RAFT_ENOTLEADER (a follower
 * that knows no leader, or a candidate or pre-candidate: raft_leader()
 * tells whom to ask once one is known),
 * RAFT_EFULL (cfg.max_pending_reads reads already wait here),
 * RAFT_ETRANSFER (on a leader transferring its leadership, as for
 * raft_propose), RAFT_ENOMEM, RAFT_EAPPLY (the read was accepted; an
 * earlier entry failed to apply again on the way out), RAFT_ENOTSTARTED,
 * RAFT_ESTOPPED, RAFT_EBUSY.
 */
RAFT_API int raft_read_index(struct raft *r, void *req);

/* ======================================================================
 * Membership
 *
 * A configuration is a set of members: voters, which elect leaders and
 * make up the majorities that commit entries, and learners, which receive
 * the log and snapshots but never vote, campaign or count toward a
 * majority. A change is proposed on the leader as a RAFT_ENTRY_CONFIG
 * entry holding the whole new configuration; each node uses it as soon as
 * the entry is in its log (appended, not committed: Raft thesis 4.1), and
 * goes back to the previous one if the entry is truncated away.
 *
 * A change that adds or removes at most one voter (any number of
 * learners) is made in one step. Any other change goes through a joint
 * configuration (thesis 4.3): the outgoing voters (RAFT_MEMBER_OUTGOING)
 * and the incoming ones (RAFT_MEMBER_VOTER) must both give a majority for
 * an election to be won or an entry to be committed, until a second entry
 * leaves the joint configuration, which the leader writes on its own once
 * the joint entry is committed (or, with RAFT_JOINT_EXPLICIT, when the host
 * calls raft_leave_joint).
 *
 * Only one change is in progress at a time: a leader accepts a change once
 * the last configuration entry in its log is committed, the configuration
 * is not joint, and an entry of its own term is committed (the
 * single-server safety rule of the thesis errata).
 *
 * A node that is not a voter never campaigns; one that is not a member at
 * all (removed, or started with raft_join and not yet added) still takes
 * entries, snapshots and heartbeats from leaders, and answers vote
 * requests (the candidate counts only its voters); a node that a change
 * not yet committed on it removes may still campaign (it may hold the only
 * log that can win). A leader goes on sending the log to the members a
 * change removes until an election timeout after the change is committed,
 * so that they learn of it. A leader that is no longer a voter
 * once its configuration change is committed hands leadership over to the
 * most up-to-date voter (as raft_transfer_leadership does), and steps down
 * (RAFT_EVENT_STEP_DOWN with RAFT_EREMOVED) if that fails.
 * ====================================================================== */

/* Member flags. A configuration holds at least one voter; RAFT_MEMBER_OUTGOING
 * appears only in a joint configuration, alone (a voter being removed) or
 * with one of the other two (a voter that stays, or is demoted). */
#define RAFT_MEMBER_VOTER 1u    /* votes (in the incoming configuration,
                                   while joint) */
#define RAFT_MEMBER_OUTGOING 2u /* votes in the outgoing configuration */
#define RAFT_MEMBER_LEARNER 4u  /* receives the log, never votes */

/* Most members one configuration may hold. */
#define RAFT_MAX_MEMBERS 255u

struct raft_member {
    raft_id id;
    unsigned flags; /* RAFT_MEMBER_* */
};

/* One change, applied to the configuration in force. */
enum {
    RAFT_CHANGE_ADD_VOTER = 1,   /* add a voter, or promote a learner */
    RAFT_CHANGE_ADD_LEARNER = 2, /* add a learner, or demote a voter */
    RAFT_CHANGE_REMOVE = 3       /* remove a voter or a learner */
};

struct raft_change {
    int type; /* RAFT_CHANGE_* */
    raft_id id;
};

/* How raft_propose_change goes through a joint configuration. */
enum {
    RAFT_JOINT_AUTO = 0,     /* in one step if at most one voter is added or
                                removed, else joint, left automatically */
    RAFT_JOINT_IMPLICIT = 1, /* joint in any case, left automatically */
    RAFT_JOINT_EXPLICIT = 2  /* joint in any case, left by raft_leave_joint */
};

/*
 * Leader only: propose changes[0..n) (borrowed), applied together to the
 * configuration in force, as one RAFT_ENTRY_CONFIG entry appended,
 * persisted and replicated like a command (and in force on this node at
 * once). `joint` is RAFT_JOINT_*. *index (if not NULL) receives the
 * entry's index; the change is done once that entry is committed (for a
 * joint change: once the entry leaving the joint configuration, written
 * later, is; raft_status tells both).
 * Returns RAFT_ENOTLEADER; RAFT_ECONFBUSY if a change is in progress (see
 * above) or this leader has not committed an entry of its term yet: retry
 * later; RAFT_ETRANSFER while a leadership transfer is under way;
 * RAFT_EBADCONF if a change does not fit the configuration (adding
 * a voter that is a voter, or a learner that is a learner, removing a
 * non-member, two changes of one id, no voter left); RAFT_EINVAL if
 * changes is NULL, n is 0, a type is unknown, an id is 0, joint is
 * unknown, or the result would exceed RAFT_MAX_MEMBERS (a joint
 * configuration counts the voters it removes too); and as
 * raft_propose(): RAFT_EPERSIST (the leader steps down), RAFT_ENOSPACE,
 * RAFT_ENOMEM, RAFT_EAPPLY, RAFT_ENOTSTARTED, RAFT_ESTOPPED, RAFT_EBUSY.
 */
RAFT_API int raft_propose_change(struct raft *r, const struct raft_change *changes,
                                 size_t n, int joint, raft_index *index);

/*
 * Leader only: leave the joint configuration in force (entered with
 * RAFT_JOINT_EXPLICIT, or before the leader's automatic leave), by
 * proposing its incoming configuration. *index as for raft_propose_change.
 * Returns RAFT_EBADCONF if the configuration is not joint, RAFT_ECONFBUSY
 * if the joint entry is not committed yet, and the other codes of
 * raft_propose_change (RAFT_ETRANSFER included).
 */
RAFT_API int raft_leave_joint(struct raft *r, raft_index *index);

/*
 * Leader only: hand leadership to voter `id` (thesis 3.10). The leader
 * stops taking proposals and raft_read_index (both return RAFT_ETRANSFER,
 * to be retried at the new leader), sends `id` what it lacks and then a
 * RAFT_MSG_TIMEOUT_NOW as soon as it holds the whole log (and again at
 * every heartbeat while the transfer lasts), on which `id` campaigns at
 * once, at the next term,
 * without a pre-vote; the voters do not ignore that campaign under leader
 * stickiness (those whose configuration in force does not count `id` as
 * a voter do: a TimeoutNow that arrives late, after the transfer was
 * abandoned and `id` removed, disrupts nothing). The transfer ends when
 * this node stops leading, or is
 * abandoned after an election timeout (RAFT_EVENT_TRANSFER_ABORTED), and
 * the node leads on. A leader with cfg.lease_reads gives up its lease at
 * once, and takes none for the rest of its term. Returns 0,
 * RAFT_ENOTLEADER, RAFT_EINVAL (id is 0 or this node), RAFT_EBADCONF (id
 * is not a voter of the configuration in force; while joint, a member
 * flagged only RAFT_MEMBER_OUTGOING is not: it is being removed), RAFT_ETRANSFER (a
 * transfer is already under way), RAFT_EAPPLY (the transfer started; an
 * entry whose apply failed earlier failed again on the way out),
 * RAFT_ENOTSTARTED, RAFT_ESTOPPED, RAFT_EBUSY.
 */
RAFT_API int raft_transfer_leadership(struct raft *r, raft_id id);

/*
 * The configuration in force on this node: its members into out[0..cap)
 * (out), their number into *n (out). A node started with raft_join has
 * none until it learns one (*n is 0). Returns 0, RAFT_ENOBUFS if cap is
 * too small (*n says how many are needed; out is untouched), RAFT_EINVAL if
 * n is NULL or out is NULL with cap > 0.
 */
RAFT_API int raft_conf(const struct raft *r, struct raft_member *out,
                       size_t cap, size_t *n);

/*
 * Read an encoded configuration (a RAFT_ENTRY_CONFIG entry's payload, or a
 * snapshot's meta->conf) into out[0..cap) (out), its member count into *n
 * (out). Pure; buf (borrowed) needs no alignment. Returns 0,
 * RAFT_ENOBUFS (*n says how many are needed; out is untouched),
 * RAFT_EINVAL for a NULL argument (out may be NULL when cap is 0), or
 * RAFT_EFORMAT if the bytes are not a valid configuration (see
 * docs/wire-format.md).
 */
RAFT_API int raft_conf_decode(const void *buf, size_t len, struct raft_member *out,
                              size_t cap, size_t *n);

/* ======================================================================
 * Wire format (codec)
 *
 * A portable encoding of struct raft_msg for hosts that send messages over
 * a network: versioned, fixed little-endian, length-prefixed. The format is
 * specified byte by byte in docs/wire-format.md. These functions are pure:
 * they need no node, never allocate and never read outside the given
 * buffers. The byte buffers need no particular alignment (integers are
 * read and written byte by byte).
 * ====================================================================== */

#define RAFT_WIRE_VERSION 1
/* Bytes of the length prefix that starts every encoded message. */
#define RAFT_WIRE_PREFIX 4

/* Decoder limits; zero in a field selects the default. Bytes from the
 * network are untrusted: these bound what one message may claim. They are
 * separate from the node's raft_config limits. To take every message of
 * senders whose raft_config has max_msg_entries E and max_msg_bytes B (the
 * largest any node of the cluster leads with), set max_entries to at
 * least E; max_entry_bytes to at least the larger of B and
 * 8 + 9 * RAFT_MAX_MEMBERS (2303, the largest configuration entry, which a
 * leader sends alone even when it exceeds B); and max_msg_bytes to at
 * least 64 + 16 * E + B + 2303. With lower limits the decoder refuses some
 * of their messages with RAFT_ELIMIT, and the follower never receives
 * those entries. The defaults take what senders with the default limits
 * send. max_entry_bytes bounds every single payload: an entry's and a
 * snapshot chunk's data (a leader's chunks are at most B; a last chunk's
 * configuration is bounded by the format, not by a limit). Here
 * max_msg_bytes bounds the whole encoded message, not just its payloads.
 * Limits above the node's safety caps take nothing more in: raft_step()
 * refuses a message of more than RAFT_MAX_ACCEPT_ENTRIES entries or
 * RAFT_MAX_ACCEPT_BYTES payload bytes with RAFT_ETOOBIG, whatever the
 * decoder took. */
struct raft_wire_limits {
    uint32_t max_entries;     /* entries per message, default 64 */
    uint32_t max_entry_bytes; /* payload bytes per entry or snapshot chunk,
                                 default 1 MiB */
    uint32_t max_msg_bytes;   /* whole encoded message, default 64 MiB */
};

/*
 * Encode `msg` (borrowed) into buf[0..cap) (out). On success returns 0 and
 * sets *len (out) to the bytes written. If cap is too small, returns
 * RAFT_ENOBUFS, sets *len to the bytes needed and writes nothing: call with
 * cap 0 to learn the size. Returns RAFT_EINVAL if msg or len is NULL, buf is
 * NULL with cap > 0, the type or an entry type is unknown, entries is NULL
 * with n_entries > 0, an entry (or a snapshot chunk) has a NULL payload with
 * a non-zero length, a payload exceeds UINT32_MAX bytes, a snapshot chunk
 * has a configuration that is NULL with a non-zero length, longer than the
 * largest configuration (8 + 9 * RAFT_MAX_MEMBERS bytes) or on a chunk
 * other than the last, a PREVOTE has `transfer` set, or the encoding would
 * exceed UINT32_MAX bytes.
 */
RAFT_API int raft_msg_encode(const struct raft_msg *msg, void *buf, size_t cap,
                             size_t *len);

/*
 * Read the total length of the encoded message starting at buf[0..len)
 * (borrowed), from its length prefix, into *msg_len (out), so a stream
 * transport knows how many bytes to collect. Only the prefix is read: the
 * length is not checked against any limit (it may be up to UINT32_MAX),
 * so compare it with the decoder's max_msg_bytes before setting memory
 * aside for it.
 * Returns RAFT_EINVAL if buf or msg_len is NULL, RAFT_ESHORT if
 * len < RAFT_WIRE_PREFIX, RAFT_EFORMAT if the prefix is smaller than the
 * smallest message.
 */
RAFT_API int raft_msg_peek_len(const void *buf, size_t len, size_t *msg_len);

/*
 * Decode exactly one message from buf[0..len) (borrowed) into *msg (out),
 * with its entries in ents[0..ents_cap) (out). Zero copy: entry payload
 * pointers and a snapshot chunk's `data` and `conf` point into `buf` (NULL
 * when empty; entries is NULL when there are none), so the decoded message
 * is valid only while `buf` is unchanged; raft_step() copies what it keeps,
 * so decode, step, then reuse the buffer. `limits` (borrowed) may be NULL
 * for the defaults. Nothing is read outside buf[0..len). Returns 0, or:
 *   RAFT_EINVAL    a NULL argument (ents may be NULL when ents_cap is 0);
 *   RAFT_ESHORT    buf ends before the message does;
 *   RAFT_ETRAILING bytes follow the message, or follow its last entry (or
 *                  a snapshot chunk's data and configuration) within the
 *                  length the prefix states;
 *   RAFT_EVERSION  the version is not RAFT_WIRE_VERSION;
 *   RAFT_ETYPE     unknown message type or entry type;
 *   RAFT_ECOUNT    the entry count cannot fit in the message's length;
 *   RAFT_ELIMIT    the message, an entry, the entry count or a snapshot
 *                  chunk's data exceeds limits;
 *   RAFT_ENOBUFS   more entries than ents_cap;
 *   RAFT_EFORMAT   reserved bits or bytes are not zero, a flag is set on a
 *                  type that has none, the length prefix disagrees with
 *                  the content, or a snapshot chunk's configuration is
 *                  longer than 8 + 9 * RAFT_MAX_MEMBERS bytes or comes
 *                  with a chunk that is not the last.
 * Decoding checks the encoding only; raft_step() checks the meaning (terms,
 * indexes, membership). On failure *msg and ents are unspecified.
 */
RAFT_API int raft_msg_decode(const void *buf, size_t len,
                             const struct raft_wire_limits *limits,
                             struct raft_msg *msg, struct raft_entry *ents,
                             size_t ents_cap);

/* ======================================================================
 * Queries: read-only, allowed from within callbacks. raft_status() and the
 * scalar queries cannot fail on a started or unstarted node;
 * raft_progress() and raft_entry_at() return an error code for a request
 * the node cannot answer (not the leader, an index out of range).
 * ====================================================================== */

/* Progress-tracking states of a follower, seen from the leader. */
enum {
    RAFT_PROGRESS_PROBE = 1,    /* finding the last matching index, one
                                   message at a time */
    RAFT_PROGRESS_REPLICATE = 2, /* pipelining, up to max_inflight messages */
    RAFT_PROGRESS_SNAPSHOT = 3  /* streaming the snapshot: the follower
                                   needs entries the leader compacted */
};

/* Snapshot of a node's state, filled by raft_status(). */
struct raft_status {
    raft_id id;
    int role;              /* RAFT_FOLLOWER, RAFT_PRECANDIDATE, RAFT_CANDIDATE
                              or RAFT_LEADER;
                              0 before the node is started */
    raft_term term;
    raft_id vote;          /* voted for in `term`, or 0 */
    raft_id leader;        /* known leader of `term`, 0 if none */
    raft_index commit;     /* highest index known committed */
    raft_index applied;    /* highest index applied */
    raft_index last_index; /* index of the last log entry (snapshot_index
                              if no entry follows the snapshot, 0 if
                              neither) */
    raft_term last_term;   /* term of that entry, 0 if empty */
    size_t n_voters;       /* voters of the configuration in force
                              (incoming ones while joint) */
    raft_index snapshot_index; /* latest snapshot (raft_compact, restore or
                                  installation), 0 if none */
    raft_index first_index;    /* first entry still in the log */
    size_t n_members;          /* members of the configuration in force
                                  (raft_conf), 0 for a node that has none */
    raft_index conf_index;     /* the entry it comes from (at most
                                  snapshot_index when the snapshot brought
                                  it; 0: the bootstrap list); committed
                                  once commit >= conf_index */
    bool joint;                /* a joint configuration */
    bool is_voter;             /* this node votes in it */
};

/* Replication progress of one member, seen from the leader. */
struct raft_progress {
    raft_id id;
    bool self;          /* the leader itself */
    int state;          /* RAFT_PROGRESS_* (the leader itself: REPLICATE) */
    raft_index match;   /* highest index known replicated there (the
                           leader itself: its durable index) */
    raft_index next;    /* next index to send there (not meaningful in
                           RAFT_PROGRESS_SNAPSHOT: the follower is probed
                           from the snapshot's index + 1 once it is
                           installed) */
    unsigned inflight;  /* AppendEntries in flight */
    uint64_t snapshot_acked; /* SNAPSHOT: bytes of it the follower wrote */
    unsigned flags;     /* RAFT_MEMBER_* (0: the leader itself, if it is
                           not a member of the configuration in force) */
};

/* Fill *st (out). `r` and `st` must not be NULL. */
RAFT_API void raft_status(const struct raft *r, struct raft_status *st);

/* This node's role (0 before start), term and known leader (0 if none). */
RAFT_API int raft_role(const struct raft *r);
RAFT_API raft_term raft_current_term(const struct raft *r);
RAFT_API raft_id raft_leader(const struct raft *r);

/*
 * Leader only: fill *p (out) with the progress of the i-th member, from
 * i = 0 up to the first i for which it returns RAFT_EINVAL: voters and
 * learners (a learner has caught up when its match reaches the leader's
 * last index), in raft_conf()'s order, then the leader itself if it is
 * not a member, then members a change removed (flags 0: the leader sends
 * them the log until an election timeout after the change is committed,
 * so they learn of it).
 * Returns RAFT_ENOTLEADER on a non-leader, RAFT_EINVAL if i is out of range.
 */
RAFT_API int raft_progress(const struct raft *r, size_t i, struct raft_progress *p);

/*
 * Read the entry at `index` of the node's log into *e (out). The payload
 * pointer is retained by the node until the next mutating call on it.
 * Returns RAFT_ECOMPACTED if the entry was dropped by compaction (it is in
 * the host's snapshot), RAFT_EINVAL if index is 0 or past the last index.
 */
RAFT_API int raft_entry_at(const struct raft *r, raft_index index, struct raft_entry *e);

/* ----------------------------------------------------------------------
 * Metrics: counters of what the node did, for monitoring and debugging.
 *
 * Each counter starts at 0 in raft_create() and only increases until
 * raft_destroy(); none is persisted, so a restarted node (a new
 * raft_create) counts from 0 again. Counting costs one addition where the
 * counted thing happens, whether or not anyone reads the counters.
 * ---------------------------------------------------------------------- */

/* Slots of the per-message-type arrays of struct raft_metrics, indexed by
 * RAFT_MSG_*; slot 0 and slots of no type stay 0. Fixed: message types
 * added later take free slots. */
#define RAFT_METRICS_MSG_SLOTS 16

/*
 * Why a message was refused: indexes of raft_metrics.rejected[]. The
 * values are stable; categories added later take free slots.
 */
enum {
    RAFT_REJECT_MALFORMED = 1,  /* raft_step returned RAFT_EBADMSG because
                                   the message is impossible in itself:
                                   wrong recipient, term 0 or UINT64_MAX, a
                                   bad index/term pair or hint, bad entry
                                   terms or types, missing entries or
                                   payloads, an index range that overflows,
                                   an unknown message type */
    RAFT_REJECT_NOT_MEMBER = 2, /* RAFT_ENOTMEMBER: a reply from a node
                                   that is not a member (nor one removed
                                   lately, on a leader), a message from
                                   id 0, or one from this node */
    RAFT_REJECT_TOO_BIG = 3,    /* RAFT_ETOOBIG: above
                                   RAFT_MAX_ACCEPT_ENTRIES or
                                   RAFT_MAX_ACCEPT_BYTES */
    RAFT_REJECT_STALE_TERM = 4, /* RAFT_ESTALE: a term older than the
                                   node's */
    RAFT_REJECT_CONFLICT = 5,   /* raft_step returned RAFT_EBADMSG for a
                                   well-formed message that contradicts
                                   this node's state: a second leader in
                                   the same term, entries that contradict
                                   committed ones, a success reply for an
                                   index past the log */
    RAFT_REJECT_LOG_MISMATCH = 6, /* AppendEntries failed the consistency
                                   check (Figure 2, AppendEntries 2):
                                   raft_step returned 0 and the node sent a
                                   rejection (RAFT_EVENT_APPEND_REJECTED) */
    RAFT_REJECT_IN_LEASE = 7    /* a vote or pre-vote request of a higher
                                   term ignored under leader stickiness:
                                   raft_step returned 0, sent no reply */
};
/* Slots of raft_metrics.rejected[] (slot 0 stays 0). Fixed. */
#define RAFT_METRICS_REJECT_SLOTS 8

/*
 * Counters of one node, filled by raft_metrics().
 *
 * ABI: the struct only grows. New counters are appended at the end;
 * existing fields never move, change type or change meaning, and the
 * array sizes above never change (from the first release on). Callers pass sizeof(struct
 * raft_metrics) to raft_metrics(), which fills what both sides know and
 * zeroes the rest, so a program built against an older or newer raft.h
 * than the library it runs with reads correct counters, and 0 for those
 * the library does not have; `size` says which those are.
 */
struct raft_metrics {
    uint64_t size; /* bytes of this struct the library filled: a field at
                      an offset >= size is unknown to the library (0) */

    /* Messages. */
    uint64_t sent[RAFT_METRICS_MSG_SLOTS]; /* by RAFT_MSG_*: messages the
                      send callback took (returned 0). Whether the network
                      then delivers them is the host's business */
    uint64_t recv[RAFT_METRICS_MSG_SLOTS]; /* by RAFT_MSG_*: messages
                      raft_step() found valid (well-formed, from a node
                      it takes that type from, within the caps), whatever
                      it then did with them: a
                      stale term, a log mismatch or a conflict counts here
                      and in rejected[] */
    uint64_t rejected[RAFT_METRICS_REJECT_SLOTS]; /* by RAFT_REJECT_*:
                      messages refused, each in one slot and with a
                      RAFT_EVENT_MSG_REJECTED event (LOG_MISMATCH:
                      RAFT_EVENT_APPEND_REJECTED). MALFORMED, NOT_MEMBER
                      and TOO_BIG are refused before recv[] counts them, so
                      every message raft_step() looked at is in recv[] or
                      in one of those three. A call that returned before
                      looking at the message (RAFT_EINVAL for a NULL
                      argument, RAFT_EBUSY, RAFT_ENOTSTARTED,
                      RAFT_ESTOPPED, RAFT_ENOMEM reserving room for its
                      writes) counts nothing. Late or duplicated replies
                      are ignored, not rejected */
    uint64_t send_failures; /* messages the send callback refused
                      (returned non-zero); not counted in sent[] */
    uint64_t queue_full; /* messages lost before reaching the send
                      callback because the outgoing queue was full (both
                      are reported as RAFT_EVENT_SEND_FAILED) */
    uint64_t entries_sent; /* entries carried by the AppendEntries counted
                      in sent[] */
    uint64_t entry_bytes_sent; /* the sum of those entries' payload
                      lengths (raft_entry.len): payload bytes handed to
                      the send callback, not bytes on the wire, which the
                      host's encoding decides (see raft_msg_encode) */

    /* Roles. */
    uint64_t elections_started; /* became candidate: the new term and
                      self-vote were persisted (RAFT_EVENT_ELECTION_START) */
    uint64_t elections_won; /* became leader (RAFT_EVENT_ELECTION_WON) */
    uint64_t step_downs; /* stopped being leader, for any reason: a higher
                      term, a failed write of its own, a failed
                      asynchronous write */

    /* Log. */
    uint64_t entries_proposed; /* commands appended as leader by
                      raft_propose() and raft_propose_batch() whose
                      persist_entries call returned 0 (not the no-op of a
                      new term) */
    uint64_t entries_replicated; /* entries appended as follower from
                      AppendEntries whose persist_entries call returned 0
                      (entries it already held are not counted) */
    uint64_t entries_applied; /* apply callbacks that returned 0 (no-op
                      entries included) */

    /* Persistence. */
    uint64_t persist_state_calls;   /* persist_state callbacks made,
                      failed or not */
    uint64_t persist_entries_calls; /* persist_entries callbacks made,
                      failed or not (the leader's no-op included) */
    uint64_t writes_completed; /* asynchronous mode: writes reported durable
                      by raft_persisted() with status 0, the sum of its n
                      over the calls that took the report (all but those
                      returning RAFT_EINVAL, RAFT_ENOMEM, RAFT_ENOTSTARTED,
                      RAFT_ESTOPPED or RAFT_EBUSY); always 0 in
                      synchronous mode */

    /* Snapshots. */
    uint64_t compactions; /* raft_compact() calls that recorded a newer
                      snapshot */
    uint64_t snapshot_chunks_sent; /* RAFT_MSG_SNAPSHOT chunks the send
                      callback took (also in sent[]) */
    uint64_t snapshot_bytes_sent; /* their data bytes */
    uint64_t snapshots_installed; /* snapshot_install callbacks that
                      returned 0 */

    /* Elections and reads (PreVote, CheckQuorum, ReadIndex). */
    uint64_t prevotes_started; /* became pre-candidate
                      (RAFT_EVENT_PREVOTE_START) */
    uint64_t quorum_lost; /* leader stepped down for not hearing from a
                      majority (RAFT_ENOQUORUM; also in step_downs) */
    uint64_t reads_served; /* read callbacks with status 0 */
    uint64_t reads_failed; /* read callbacks with RAFT_ELEADERLOST */
    uint64_t read_rounds; /* leader: heartbeat rounds started to confirm
                      reads or renew the lease */
    uint64_t lease_reads; /* leader: reads confirmed by the lease, without
                      a round (also in reads_served once served) */
};

/*
 * Fill out[0..size) (out) with the node's counters. Pass size =
 * sizeof(struct raft_metrics) (see its ABI note): the first min(size, the
 * library's sizeof(struct raft_metrics)) bytes are filled and the rest are
 * zeroed. Cheap (a copy); allowed from callbacks. Returns 0, or
 * RAFT_EINVAL if r or out is NULL, or size is smaller than 8 or not a
 * multiple of 8 (out is then untouched).
 */
RAFT_API int raft_metrics(const struct raft *r, struct raft_metrics *out,
                          size_t size);

#ifdef __cplusplus
}
#endif

#endif /* RAFT_H */
