/*
 * proto.h - the counter example's client protocol and shared I/O helpers.
 *
 * One TCP listen address per server carries both Raft peers and clients.
 * Every connection opens with a hello (handshake.h) that says which it is
 * and presents the cluster token:
 *   'R'  a Raft peer: then a stream of raft wire-format messages
 *        (docs/wire-format.md), each self-delimited by its length prefix;
 *   'C'  a client: then a stream of requests, each answered in order.
 *
 * Client request, 32 bytes, little-endian:
 *   0  u32 length (32)
 *   4  u8  op: CTR_OP_INCR, CTR_OP_GET, CTR_OP_STATUS, CTR_OP_METRICS, or
 *          one of the membership ops (CTR_OP_CONF ... CTR_OP_TRANSFER)
 *   5  u8[3] zero
 *   8  u64 client_id   (INCR, GET: non-zero, chosen by the client, e.g.
 *                       random; other ops: ignored)
 *   16 u64 seq         (INCR, GET: per client, starts at 1, +1 per new
 *                       request; a retry reuses the same seq; other ops:
 *                       ignored)
 *   24 u64 amount      (INCR: the increment; a membership change or a
 *                       transfer: the node id it is about; otherwise 0)
 *
 * Response, 56 bytes + addr_len, little-endian:
 *   0  u32 length
 *   4  u8  status: CTR_OK, CTR_NOT_LEADER, CTR_RETRY, CTR_BAD_REQUEST,
 *          CTR_REFUSED (the hello was refused: value holds the reason,
 *          an enum ctr_refusal; the server then closes the connection)
 *   5  u8  role of the answering node (RAFT_FOLLOWER/CANDIDATE/LEADER)
 *   6  u16 addr_len
 *   8  u64 value       (INCR/GET: counter value after the operation in
 *                       log order; STATUS: this node's applied value)
 *   16 u64 leader_id   (known leader, 0 if none)
 *   24 u64 term
 *   32 u64 commit
 *   40 u64 applied
 *   48 u64 node_id     (the answering node)
 *   56 addr_len bytes: the leader's "host:port", if known
 * and, in the answer to METRICS only, the node's library counters:
 *   +0 u32 count       (at most CTR_METRICS_MAX)
 *   +4 count u64       in the order of CTR_METRICS_MAP
 * and, in the answer to CONF only, a count of 0 counters as above, then
 * the configuration in force on the answering node (raft_conf) and, if it
 * leads, each member's replication progress (raft_progress):
 *   +0  u64 last_index  (the answering node's last log index)
 *   +8  u64 conf_index  (the entry the configuration comes from; committed
 *                        once commit >= conf_index)
 *   +16 u32 flags       (CTR_CONF_JOINT, CTR_CONF_PROGRESS)
 *   +20 u32 count       (at most CTR_MEMBERS_MAX)
 *   +24 count x 48 bytes, one per member (then the leader itself if it is
 *       not a member):
 *       u64 id, u32 member flags (RAFT_MEMBER_*; 0: not a member),
 *       u32 progress state (RAFT_PROGRESS_*; 0 without progress),
 *       u64 match, u64 next, u64 snapshot bytes acknowledged,
 *       u32 AppendEntries in flight, u32 1 if it is the answering node
 *
 * Membership ops, on the leader (others answer CTR_NOT_LEADER):
 *   CONF         the configuration and progress (any node answers; only
 *                the leader has progress);
 *   ADD_LEARNER  add node `amount` as a learner (or demote a voter);
 *   ADD_VOTER    add node `amount` as a voter, or promote a learner;
 *   REMOVE       remove node `amount` (a voter or a learner);
 *   TRANSFER     hand leadership to voter `amount`.
 * A change is answered CTR_OK once its configuration entry is committed,
 * with that entry's index as the value; one the configuration already
 * reflects is answered CTR_OK at once (so a retry after a lost answer
 * succeeds). CTR_RETRY: another change is in progress, the leader has not
 * committed an entry of its term yet, or leadership changed: ask again.
 * CTR_CHANGE_REFUSED: the library refused it; the value is the raft error
 * code, negated (RAFT_EBADCONF: it does not fit the configuration, e.g.
 * removing the last voter). TRANSFER is answered CTR_OK once the transfer
 * has started; the new leader is seen in STATUS.
 *
 * INCR goes through the Raft log. GET is linearizable without a log entry
 * (the leader confirms its leadership with raft_read_index; a server run
 * with --log-reads sends it through the log instead); neither records a
 * session for it unless it went through the log. STATUS answers at once
 * from local state and never goes through the log.
 * METRICS is STATUS plus the counters. It came after the other ops: a
 * server that predates it closes the connection as on any malformed
 * request, and a client can fall back to STATUS. The list of counters only
 * grows at its end; a decoder keeps those it knows (the first
 * CTR_METRICS_MAP entries) and skips the rest.
 * A request with a (client_id, seq) already applied returns the recorded
 * result without applying again (exactly-once for retries). A client must
 * not have two requests outstanding with different seqs and then retry the
 * older one: the session remembers only the latest seq per client.
 */
#ifndef COUNTER_PROTO_H
#define COUNTER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTR_HELLO_PEER 'R'
#define CTR_HELLO_CLIENT 'C'

#define CTR_REQ_LEN 32u
#define CTR_RESP_FIXED 56u
#define CTR_ADDR_MAX 255u
#define CTR_METRICS_MAX 128u /* counters a METRICS answer may carry, ever */
#define CTR_MEMBERS_MAX 64u  /* members a CONF answer may carry */
#define CTR_CONF_FIXED 24u
#define CTR_MEMBER_BYTES 48u
/* Largest response: with an address and every counter, or a configuration. */
#define CTR_RESP_MAX                                                   \
    (CTR_RESP_FIXED + CTR_ADDR_MAX + 4u + 8u * CTR_METRICS_MAX +       \
     CTR_CONF_FIXED + CTR_MEMBER_BYTES * CTR_MEMBERS_MAX)

enum {
    CTR_OP_INCR = 1,
    CTR_OP_GET = 2,
    CTR_OP_STATUS = 3,
    CTR_OP_METRICS = 4,
    CTR_OP_CONF = 5,
    CTR_OP_ADD_LEARNER = 6,
    CTR_OP_ADD_VOTER = 7,
    CTR_OP_REMOVE = 8,
    CTR_OP_TRANSFER = 9
};

/* CONF answer flags. */
#define CTR_CONF_JOINT 1u    /* a joint configuration */
#define CTR_CONF_PROGRESS 2u /* the answering node leads: progress is set */

/*
 * The counters of a METRICS answer, in wire order; append only.
 * X(group, name, field): the CLI prints `name` inside `group` (empty: at
 * the top level); the server sends the struct raft_metrics `field`.
 */
#define CTR_METRICS_MAP(X)                                       \
    X(sent, vote, sent[RAFT_MSG_VOTE])                           \
    X(sent, vote_resp, sent[RAFT_MSG_VOTE_RESP])                 \
    X(sent, append, sent[RAFT_MSG_APPEND])                       \
    X(sent, append_resp, sent[RAFT_MSG_APPEND_RESP])             \
    X(recv, vote, recv[RAFT_MSG_VOTE])                           \
    X(recv, vote_resp, recv[RAFT_MSG_VOTE_RESP])                 \
    X(recv, append, recv[RAFT_MSG_APPEND])                       \
    X(recv, append_resp, recv[RAFT_MSG_APPEND_RESP])             \
    X(rejected, malformed, rejected[RAFT_REJECT_MALFORMED])      \
    X(rejected, not_member, rejected[RAFT_REJECT_NOT_MEMBER])    \
    X(rejected, too_big, rejected[RAFT_REJECT_TOO_BIG])          \
    X(rejected, stale_term, rejected[RAFT_REJECT_STALE_TERM])    \
    X(rejected, conflict, rejected[RAFT_REJECT_CONFLICT])        \
    X(rejected, log_mismatch, rejected[RAFT_REJECT_LOG_MISMATCH]) \
    X(, send_failures, send_failures)                            \
    X(, queue_full, queue_full)                                  \
    X(, entries_sent, entries_sent)                              \
    X(, entry_bytes_sent, entry_bytes_sent)                      \
    X(, elections_started, elections_started)                    \
    X(, elections_won, elections_won)                            \
    X(, step_downs, step_downs)                                  \
    X(, entries_proposed, entries_proposed)                      \
    X(, entries_replicated, entries_replicated)                  \
    X(, entries_applied, entries_applied)                        \
    X(, persist_state_calls, persist_state_calls)                \
    X(, persist_entries_calls, persist_entries_calls)            \
    X(, writes_completed, writes_completed)                      \
    X(snapshots, compactions, compactions)                       \
    X(snapshots, installed, snapshots_installed)                 \
    X(snapshots, chunks_sent, snapshot_chunks_sent)              \
    X(snapshots, bytes_sent, snapshot_bytes_sent)                \
    X(, prevotes_started, prevotes_started)                      \
    X(, quorum_lost, quorum_lost)                                \
    X(reads, served, reads_served)                               \
    X(reads, failed, reads_failed)                               \
    X(reads, rounds, read_rounds)                                \
    X(reads, lease, lease_reads)

/* Positions in CTR_METRICS_MAP: CTR_M_<group>_<name>, CTR_M__<name>. */
enum {
#define CTR_M_ENUM(group, name, field) CTR_M_##group##_##name,
    CTR_METRICS_MAP(CTR_M_ENUM)
#undef CTR_M_ENUM
    CTR_M_COUNT
};
enum { CTR_OK = 0, CTR_NOT_LEADER = 1, CTR_RETRY = 2, CTR_BAD_REQUEST = 3 };
enum { CTR_REFUSED = 4 }; /* a status too: the hello was refused */
enum { CTR_CHANGE_REFUSED = 5 }; /* a membership op refused: value is the
                                  * raft error code, negated */

/* One member in a CONF answer. */
struct ctr_member {
    uint64_t id;
    uint32_t flags; /* RAFT_MEMBER_* */
    uint32_t state; /* RAFT_PROGRESS_*, 0 without progress */
    uint64_t match, next, snapshot_acked;
    uint32_t inflight;
    uint32_t self; /* the answering node */
};

struct ctr_req {
    uint8_t op;
    uint64_t client_id;
    uint64_t seq;
    uint64_t amount;
};

struct ctr_resp {
    uint8_t status;
    uint8_t role;
    uint64_t value;
    uint64_t leader_id;
    uint64_t term;
    uint64_t commit;
    uint64_t applied;
    uint64_t node_id;
    char addr[CTR_ADDR_MAX + 1]; /* NUL-terminated */
    /* METRICS answer: counters in CTR_METRICS_MAP order (decoded: the
     * first min(sent, CTR_M_COUNT)); has_metrics false for other ops. */
    bool has_metrics;
    uint32_t n_metrics;
    uint64_t metrics[CTR_M_COUNT];
    /* CONF answer: has_conf, and the configuration. */
    bool has_conf;
    uint64_t last_index, conf_index;
    uint32_t conf_flags; /* CTR_CONF_* */
    uint32_t n_members;
    struct ctr_member members[CTR_MEMBERS_MAX];
};

/* Encode into buf (CTR_REQ_LEN bytes). */
void ctr_req_encode(const struct ctr_req *q, uint8_t *buf);
/* Decode exactly CTR_REQ_LEN bytes; -1 if malformed (length, zero bytes,
 * op unknown). */
int ctr_req_decode(const uint8_t *buf, size_t len, struct ctr_req *q);

/* Encode into buf (at least CTR_RESP_MAX bytes; CTR_RESP_FIXED +
 * CTR_ADDR_MAX without metrics or configuration); returns the encoded
 * length. */
size_t ctr_resp_encode(const struct ctr_resp *p, uint8_t *buf);
/* Decode a whole response of `len` bytes, with or without counters or a
 * configuration; -1 if malformed. */
int ctr_resp_decode(const uint8_t *buf, size_t len, struct ctr_resp *p);

/* Little-endian helpers. */
void ctr_put32(uint8_t *p, uint32_t v);
void ctr_put64(uint8_t *p, uint64_t v);
uint32_t ctr_get32(const uint8_t *p);
uint64_t ctr_get64(const uint8_t *p);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of buf[0..len), starting
 * from crc (0 for a fresh checksum). */
uint32_t ctr_crc32(uint32_t crc, const void *buf, size_t len);

/* Blocking I/O on a file descriptor, retrying EINTR and short transfers.
 * 0 on success, -1 on error or (read) end of file before len bytes. */
int ctr_read_full(int fd, void *buf, size_t len);
int ctr_write_full(int fd, const void *buf, size_t len);

/*
 * Connect over TCP to "host:port" within timeout_ms (close-on-exec socket,
 * TCP_NODELAY) and leave it blocking with send and receive timeouts of
 * timeout_ms (taken as 1 if 0, and as one day if longer: never "no
 * timeout"). Sends nothing: see ctr_dial_client() in handshake.h. Returns
 * the fd, or -1 with *why (if not NULL) set to a static or strerror() text.
 */
int ctr_dial(const char *addr, uint64_t timeout_ms, const char **why);

/* Monotonic time in milliseconds. */
uint64_t ctr_now_ms(void);

/* Parse "host:port" (IPv4 dotted or "localhost") into a sockaddr_in;
 * -1 if invalid. */
struct sockaddr_in;
int ctr_parse_addr(const char *s, struct sockaddr_in *sa);

#endif
