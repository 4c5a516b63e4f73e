/*
 * server.c - counter-server: one node of a replicated counter built on the
 * raft library, with real processes, TCP and files.
 *
 * One thread runs a poll() loop over the listen socket, the outbound
 * connection to each peer, and inbound peer and client connections. Every
 * socket is non-blocking and every buffer has a fixed cap, so a slow or
 * dead peer never stalls the loop and never makes memory grow.
 *
 * Flow of a client INCR on the leader: the request is read, all requests
 * read in the same loop iteration go to the log in one raft_propose_batch
 * (one fsync for all of them), the (index, term) each got is remembered,
 * and the client is answered when the apply callback sees that index with
 * that term, i.e. once the entry is committed, hence fsynced on a
 * majority. Sessions (client_id -> last seq and result) make retries
 * exactly-once. See README.md for the flags and the file formats.
 *
 * A GET on the leader writes nothing: one raft_read_index() call for all
 * the GETs read in a loop iteration confirms the leadership (a heartbeat
 * round shared by the reads waiting for it, or the lease with
 * --lease-reads) and the read callback answers each of them with the
 * counter once this node has applied everything committed before they
 * arrived. Peer messages are stepped after the clients' requests of the
 * same iteration are taken (take_requests, step_peers), and each
 * connection gets one write per iteration (answer_clients, flush_peers).
 *
 * Persistence is asynchronous (unless --sync-persist): the persist
 * callbacks queue each write (writer.c), and at the end of the loop
 * iteration, once its messages left, the queued writes start. On the
 * leader a writer thread batches everything queued into one write and
 * one fdatasync and then wakes the loop through a pipe; the loop reports
 * the completed writes with raft_persisted(). So the leader's
 * AppendEntries leave before its own fsync, and it keeps taking requests
 * and acknowledgements while its write is in flight. A node that does
 * not lead makes the batch durable on the loop thread instead (its
 * acknowledgements wait for the write anyway, and the two thread
 * hand-offs cost about as much as a fast fdatasync): what arrives
 * meanwhile waits in the socket and goes into the next write, all of it
 * in one. The loop thread is the only one that calls the raft library;
 * the writer thread owns the files while it runs a batch.
 *
 * Membership lives in the raft log: configuration entries, applied like
 * no-ops except that the last one applied is kept, because a snapshot
 * must store the configuration at its index. --peers is only an address
 * book (who can be reached where), and the data directory's config only
 * says how the node first started (--bootstrap voters, or --join).
 * Clients ask the leader for one change at a time (change_start), which
 * is answered like an INCR once its configuration entry is applied, or
 * for a leadership transfer (transfer_start).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "flags.h"
#include "handshake.h"
#include "proto.h"
#include "raft.h"
#include "sessions.h"
#include "storage.h"
#include "writer.h"

/* ---- limits ------------------------------------------------------------- */

#define MAX_PEERS 32           /* nodes in the address book (--peers) */
#define MAX_CONNS 512           /* inbound connections (peers and clients);
                                 * when full, a new one evicts an old one */
#define CLIENT_DEPTH 64         /* requests in flight per client connection */
#define CLIENT_IN_MAX (CTR_REQ_LEN * CLIENT_DEPTH)
#define RESP_MAX CTR_RESP_MAX
#define CLIENT_OUT_MAX (RESP_MAX * CLIENT_DEPTH)
#define MAX_ENTRIES 256u        /* per AppendEntries and per proposed batch */
#define MAX_PAYLOAD 65536u      /* payload bytes per AppendEntries */
#define MAX_FRAME (64u + 16u * MAX_ENTRIES + MAX_PAYLOAD) /* wire bytes */
#define PEER_OUT_MAX (4u << 20) /* queued bytes per peer before dropping */
#define PEER_OUT_MIN 256u       /* allocated at start: holds the hello */
_Static_assert(CTR_HELLO_LEN <= PEER_OUT_MIN, "the peer hello fits the queue");
#define MAX_PENDING 8192u       /* client requests waiting for their entry */
#define MAX_READS 8192u         /* GETs waiting for their read callback (and
                                 * the library's max_pending_reads) */
#define STALL_MS 5000u          /* a peer not reading this long is dropped */
#define HELLO_MS 5000u          /* time for a new connection to complete
                                 * its hello and, if a peer, send a first
                                 * message */
#define FRAME_MS 5000u          /* time to complete a request or peer frame,
                                 * counted from its first byte */
#define IDLE_MS 60000u          /* a client with nothing in flight, silent
                                 * this long, is closed */
#define CLOCK_STEP_MAX_MS 1000u /* see conn_clock() */
#define POLL_MAX_MS 1000        /* wake up at least this often */
#define DROP_REPORT_MS 5000u    /* at most one summary of drops this often */
#define BACKOFF_MIN_MS 50u
#define BACKOFF_MAX_MS 1000u
#define LINK_LASTED_MS 1000u    /* a link up this long was not refused */
#define READ_CHUNK 16384u
#define SESSIONS_MAX 65536u
#define CMD_LEN 32u
#define ADDR_TEXT 64u

/* ---- logging ------------------------------------------------------------ */

enum { L_ERR, L_INFO, L_DEBUG };

static raft_id g_log_id;
static int g_verbosity = L_INFO;
static volatile sig_atomic_t g_stop;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void logm(int level, const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int w;
    va_list ap;
    if (level > g_verbosity) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%H:%M:%S", &tm);
    w = snprintf(line + n, sizeof(line) - n, ".%03ld n%" PRIu64 " %s",
                 ts.tv_nsec / 1000000L, g_log_id,
                 level == L_ERR ? "error: " : "");
    n += w > 0 ? (size_t)w : 0;
    va_start(ap, fmt);
    w = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    n += w > 0 ? (size_t)w : 0;
    if (n > sizeof(line) - 2) {
        n = sizeof(line) - 2;
    }
    line[n++] = '\n';
    /* One write per line, so lines of concurrent nodes never interleave. */
    (void)ctr_write_full(STDERR_FILENO, line, n);
}

static const char *role_name(int role)
{
    switch (role) {
    case RAFT_LEADER:
        return "leader";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_PRECANDIDATE:
        return "pre-candidate";
    case RAFT_FOLLOWER:
        return "follower";
    default:
        return "none";
    }
}

/* ---- bounded byte buffers ----------------------------------------------- */

/* Bytes p[off..len) are queued; the buffer never holds more than max. */
struct buf {
    uint8_t *p;
    size_t off, len, cap, max;
};

static size_t buf_used(const struct buf *b)
{
    return b->len - b->off;
}

static void buf_consume(struct buf *b, size_t n)
{
    b->off += n;
    if (b->off == b->len) {
        b->off = b->len = 0;
    }
}

/* Make room for n more bytes after p[len]; -1 if that would pass max or
 * memory runs out. */
static int buf_reserve(struct buf *b, size_t n)
{
    size_t used = buf_used(b), cap;
    uint8_t *p;
    if (n > b->max - used) {
        return -1;
    }
    if (b->cap - b->len >= n) {
        return 0;
    }
    if (b->off > 0) {
        memmove(b->p, b->p + b->off, used);
        b->off = 0;
        b->len = used;
        if (b->cap - b->len >= n) {
            return 0;
        }
    }
    for (cap = b->cap ? b->cap : 256; cap - used < n; cap *= 2) {
    }
    cap = cap > b->max ? b->max : cap;
    p = realloc(b->p, cap);
    if (p == NULL) {
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->off = b->len = b->cap = 0;
}

/* Send what b holds until the socket would block. -1 (errno set) if the
 * connection is broken. *progress is set if anything was written. */
static int buf_send(int fd, struct buf *b, bool *progress)
{
    while (buf_used(b) > 0) {
        ssize_t n = send(fd, b->p + b->off, buf_used(b), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        }
        buf_consume(b, (size_t)n);
        *progress = true;
    }
    return 0;
}

/* ---- types -------------------------------------------------------------- */

enum { SLOT_WAIT, SLOT_DONE };

/* One client request in flight; answered in arrival order. */
struct slot {
    uint8_t state;
    uint8_t status;
    uint64_t value;
};

enum { CONN_NEW, CONN_PEER, CONN_CLIENT };

/* An accepted connection: a peer sending us messages, or a client.
 * Times (_ms) are on the connection clock, s->conn_now. */
struct conn {
    int fd;
    int kind;
    uint64_t no; /* connection number, for logs */
    char name[ADDR_TEXT];
    struct buf in, out;
    uint64_t opened_ms;
    uint64_t active_ms;  /* last byte read or written */
    uint64_t rx;         /* bytes read so far */
    uint64_t partial_at; /* stream offset where the incomplete request or
                          * frame at the end of `in` begins ... */
    uint64_t partial_ms; /* ... and when its first byte arrived */
    bool partial;        /* `in` ends with an incomplete request or frame */
    uint64_t out_ms;     /* answers queued: when they last moved */
    raft_id sender;      /* peer: the node its hello named; only its
                          * messages are accepted here */
    raft_id peer;        /* messages from this node arrive here, and this
                          * is the newest such connection: never evicted */
    bool greeted;        /* peer: a message from its node arrived */
    bool served;         /* client: a whole request arrived */
    bool eof;  /* client half-closed: finish answering, then close */
    bool dead; /* closed at the end of this loop iteration */
    struct slot slots[CLIENT_DEPTH];
    uint8_t extra[CLIENT_DEPTH]; /* what the slot's answer carries besides
                                  * the status: EXTRA_* */
    unsigned head, count;
    unsigned reads;      /* GETs of this connection waiting in the library */
};

/* What an answer carries after the fixed part (proto.h). */
enum { EXTRA_NONE, EXTRA_METRICS, EXTRA_CONF };

enum { LINK_DOWN, LINK_CONNECTING, LINK_UP };

/* A node of the address book (--peers), member or not, and our outbound
 * connection to it (unused for ourselves). */
struct peer {
    raft_id id;
    char addr[ADDR_TEXT];
    struct sockaddr_in sa;
    int fd;
    int link;
    struct buf out;
    uint64_t retry_ms;    /* no new attempt before this */
    uint64_t backoff_ms;
    uint64_t up_ms;       /* when the link came up */
    uint64_t progress_ms; /* last time queued bytes moved (or started to wait) */
    uint64_t dropped;     /* messages dropped on a full buffer, this link */
    bool reported_down;
    bool refused;         /* it refused our hello: until a link lasts
                           * LINK_LASTED_MS, reconnects are not logged */
};

/* A client request waiting for the entry it was proposed as. */
struct pending {
    raft_index index;
    raft_term term;
    struct conn *c; /* NULL once the connection is gone */
    unsigned slot;
};

/* A GET waiting for its read callback. The GETs read in one loop
 * iteration form a batch, chained by `next`, and the first one is the
 * `req` given to raft_read_index() for all of them, retained by the library
 * until that callback. Unused records are chained on the free list. */
struct read_req {
    struct conn *c; /* NULL once the connection is gone */
    unsigned slot;
    struct read_req *next;
};

/* The replicated state machine. */
struct sm {
    uint64_t counter;
    struct ses_table ses; /* at most SESSIONS_MAX */
};

struct opts {
    raft_id id;
    const char *data;
    const char *listen;
    struct peer peers[MAX_PEERS]; /* the address book: every node this one
                                   * may talk to, members or not */
    size_t n_peers;
    raft_id bootstrap[MAX_PEERS]; /* --bootstrap: first start of a new
                                   * cluster with these voters */
    size_t n_bootstrap;
    bool join;               /* --join: first start, empty, to be added to
                              * a running cluster */
    unsigned tick_ms, election_ticks, heartbeat_ticks;
    uint64_t seed;
    bool have_seed;
    bool sync_persist;       /* persist in the loop thread, synchronously */
    unsigned write_delay_ms; /* test knob: sleep before each batch of writes */
    uint64_t snapshot_every; /* applied entries between snapshots, 0: never */
    unsigned snapshot_trailing; /* entries kept behind a snapshot */
    uint64_t segment_bytes;  /* log segment size */
    bool record_applied;     /* test knob: DATA/applied gets every applied
                              * entry */
    bool lease_reads;        /* cfg.lease_reads: GETs answered from the
                              * leader's lease (a timing assumption) */
    bool log_reads;          /* GETs go through the log, as INCRs do (for
                              * comparison) instead of raft_read_index */
    const char *token_file;
    struct ctr_token token;  /* every hello must present this */
};

struct server {
    struct opts o;
    struct raft *raft;
    struct storage st;
    struct writer wr;       /* asynchronous persistence (not --sync-persist) */
    bool wr_polled;         /* pfd holds the writer's pipe, last slot */
    struct sm sm;
    /* The configuration as of the applied index: the payload of the last
     * RAFT_ENTRY_CONFIG entry applied, or the one of the snapshot the node
     * restored or installed. A snapshot taken at the applied index stores
     * it (raft_snapshot_meta.conf). conf_len 0: none yet. */
    uint8_t conf[ST_CONF_MAX];
    size_t conf_len;
    raft_index conf_at;     /* its entry (or the snapshot's index) */
    bool member;            /* this node is a member of the configuration in
                             * force (for the "removed" log line) */
    raft_id warned[MAX_PEERS]; /* ids without an address already reported */
    size_t n_warned;
    /* Snapshots. The loop serialises the state machine in the apply
     * callback of the entry it is taken at, so it is exactly the state at
     * that index; the file is written by the writer thread (inline with
     * --sync-persist) and raft_compact() is called once it is durable. */
    struct st_snapio io;    /* current snapshot (read), received one */
    raft_index snap_base;   /* latest snapshot of the state machine: taken
                             * (queued), installed or restored */
    bool snap_busy;         /* one taken, not durable yet */
    raft_index snap_taken;  /* latest own snapshot durable and compacted */
    raft_index dropped_upto; /* segments up to here are (being) deleted */
    raft_index snap_pending; /* the one taken, while snap_busy */
    uint8_t *snap_file;     /* --sync-persist: taken, to be written */
    size_t snap_len, snap_sessions;
    raft_index snap_sending; /* last snapshot logged as being sent */
    uint64_t snaps_taken, snaps_installed; /* this process, for the logs */
    uint8_t chunk[MAX_PAYLOAD]; /* snapshot_read: retained until sent */
    int applied_fd;         /* --record-applied, else -1 */
    int lfd;
    uint64_t now;
    uint64_t conn_now, conn_clock_at; /* see conn_clock() */
    uint64_t drops_timed_out, drops_evicted, drop_report_ms;
    char drop_last[256];
    uint64_t next_tick;
    uint64_t accept_paused_until;
    int last_tick_rc;
    raft_id shown_leader;
    bool more_work; /* parsed requests wait: poll without sleeping */
    bool wrote_here; /* writes ran on this thread: collect them next */
    size_t unreported; /* durable writes raft_persisted() refused for lack
                          of memory: reported again with the next ones */
    struct conn *conns[MAX_CONNS];
    size_t n_conns, n_polled, rr;
    uint64_t next_conn_no;
    struct pollfd pfd[1 + MAX_PEERS + MAX_CONNS + 1];
    /* Pending requests in index order: absolute positions head..tail. */
    struct pending pend[MAX_PENDING];
    uint64_t pend_head, pend_tail;
    /* GETs waiting for the read callback; unused ones on a free list;
     * this iteration's batch, not yet given to the library. */
    struct read_req reads[MAX_READS];
    struct read_req *reads_free;
    struct read_req *batch_reads, **batch_reads_end;
    /* This iteration's batch of commands. */
    uint8_t cmd[MAX_ENTRIES][CMD_LEN];
    struct raft_buf bufs[MAX_ENTRIES];
    struct conn *batch_conn[MAX_ENTRIES];
    unsigned batch_slot[MAX_ENTRIES];
    size_t batch_n;
    struct raft_wire_limits wire;
    struct raft_entry ents[MAX_ENTRIES]; /* decoder output */
};

/* ---- state machine: snapshots ------------------------------------------- */

/* Snapshot body (the state machine; storage.h has the file around it),
 * little-endian:
 *   0   u64 counter
 *   8   u64 number of sessions N (at most SESSIONS_MAX)
 *   16  N x {u64 client_id, u64 seq, u64 value, u64 index}, by client_id
 * Sorted, so that nodes snapshotting the same index write the same bytes.
 * `index` is kept: eviction picks the session touched longest ago, and a
 * node restoring the snapshot rebuilds that order from it (sessions.h). */
#define SNAP_BODY_FIXED 16u
_Static_assert(SES_RECORD_BYTES == 32u, "the snapshot format's session size");

/* The whole snapshot file of the state machine as it is, covering `index`
 * of `term`, in a fresh buffer of *len bytes; NULL if memory runs out. */
static uint8_t *sm_snapshot(const struct sm *m, raft_index index,
                            raft_term term, const uint8_t *conf,
                            size_t conf_len, size_t *len)
{
    size_t body = SNAP_BODY_FIXED + SES_RECORD_BYTES * m->ses.n;
    uint8_t *file = malloc(st_snapshot_size(conf_len, body)), *p;
    if (file == NULL) {
        return NULL;
    }
    p = file + st_snapshot_body_offset(conf_len);
    ctr_put64(p, m->counter);
    ctr_put64(p + 8, m->ses.n);
    if (ses_encode(&m->ses, p + SNAP_BODY_FIXED) != 0) {
        free(file);
        return NULL;
    }
    st_snapshot_seal(file, index, term, conf, conf_len, body);
    *len = st_snapshot_size(conf_len, body);
    return file;
}

/* Replace *m by the state of snapshot body p[0..len). -1 with *why, and m
 * unchanged, if the body is malformed (bytes from a disk or a peer) or
 * memory runs out. */
static int sm_restore(struct sm *m, const uint8_t *p, size_t len,
                      const char **why)
{
    struct sm fresh;
    uint64_t n;
    if (len < SNAP_BODY_FIXED ||
        (n = ctr_get64(p + 8)) > SESSIONS_MAX ||
        len != SNAP_BODY_FIXED + SES_RECORD_BYTES * n) {
        *why = "state machine: lengths do not add up";
        return -1;
    }
    fresh.counter = ctr_get64(p);
    if (ses_decode(&fresh.ses, SESSIONS_MAX, p + SNAP_BODY_FIXED, (size_t)n,
                   why) != 0) {
        return -1;
    }
    ses_free(&m->ses);
    *m = fresh;
    return 0;
}

/* ---- state machine: commands -------------------------------------------- */

/* Command payload, little-endian, CMD_LEN bytes:
 * u8 op (CTR_OP_INCR or CTR_OP_GET), u8[7] zero, u64 client_id, u64 seq,
 * u64 amount. */
struct cmd {
    uint8_t op;
    uint64_t client, seq, amount;
};

static void cmd_encode(const struct ctr_req *q, uint8_t *p)
{
    memset(p, 0, CMD_LEN);
    p[0] = q->op;
    ctr_put64(p + 8, q->client_id);
    ctr_put64(p + 16, q->seq);
    ctr_put64(p + 24, q->op == CTR_OP_INCR ? q->amount : 0);
}

static int cmd_decode(const struct raft_entry *e, struct cmd *c)
{
    const uint8_t *p = e->buf;
    size_t i;
    if (e->len != CMD_LEN || (p[0] != CTR_OP_INCR && p[0] != CTR_OP_GET)) {
        return -1;
    }
    for (i = 1; i < 8; i++) {
        if (p[i] != 0) {
            return -1;
        }
    }
    c->op = p[0];
    c->client = ctr_get64(p + 8);
    c->seq = ctr_get64(p + 16);
    c->amount = ctr_get64(p + 24);
    return c->client != 0 && c->seq != 0 ? 0 : -1;
}

/* Apply one command; its result in *res. -1 only if memory ran out (the
 * library then offers the entry again, so the state stays deterministic). */
static int sm_apply(struct sm *m, raft_index index, const struct cmd *c,
                    struct slot *res)
{
    struct ses *se = ses_touch(&m->ses, c->client, index);
    if (se == NULL) {
        return -1;
    }
    res->state = SLOT_DONE;
    if (c->seq < se->seq) {
        /* Older than the last request of this client: the result is no
         * longer known (clients retry only their latest request). */
        res->status = CTR_BAD_REQUEST;
        res->value = 0;
    } else if (c->seq > se->seq) {
        if (c->op == CTR_OP_INCR) {
            m->counter += c->amount; /* wraps modulo 2^64 */
        }
        se->seq = c->seq;
        se->value = m->counter;
        res->status = CTR_OK;
        res->value = m->counter;
    } else {
        res->status = CTR_OK; /* a retry already applied: same answer */
        res->value = se->value;
    }
    return 0;
}

/* ---- pending client requests -------------------------------------------- */

static void slot_done(struct conn *c, unsigned slot, uint8_t status,
                      uint64_t value)
{
    c->slots[slot].state = SLOT_DONE;
    c->slots[slot].status = status;
    c->slots[slot].value = value;
}

static void pend_complete(struct pending *p, uint8_t status, uint64_t value)
{
    if (p->c != NULL) {
        slot_done(p->c, p->slot, status, value);
    }
}

/* Entry `index` of `term` was applied with result *res (NULL: not a
 * command). Requests proposed at lower indexes can no longer be answered
 * by it; the one proposed at this index succeeded only if the term matches
 * (otherwise another leader's entry replaced it). */
static void pending_resolve(struct server *s, raft_index index, raft_term term,
                            const struct slot *res)
{
    while (s->pend_head < s->pend_tail) {
        struct pending *p = &s->pend[s->pend_head % MAX_PENDING];
        if (p->index > index) {
            return;
        }
        if (p->index == index && p->term == term && res != NULL) {
            pend_complete(p, res->status, res->value);
        } else {
            pend_complete(p, CTR_RETRY, 0);
        }
        s->pend_head++;
    }
}

/* Leadership lost: the outcome of every pending request is unknown, so
 * the client must retry (its session makes the retry exactly-once). */
static void pending_fail_all(struct server *s)
{
    while (s->pend_head < s->pend_tail) {
        pend_complete(&s->pend[s->pend_head % MAX_PENDING], CTR_RETRY, 0);
        s->pend_head++;
    }
}

/* A proposal failed: answer the requests registered from `mark` on. */
static void pending_fail_from(struct server *s, uint64_t mark, uint8_t status)
{
    while (s->pend_tail > s->pend_head && s->pend_tail > mark) {
        s->pend_tail--;
        pend_complete(&s->pend[s->pend_tail % MAX_PENDING], status, 0);
    }
}

static void pending_forget(struct server *s, const struct conn *c)
{
    uint64_t k;
    for (k = s->pend_head; k < s->pend_tail; k++) {
        if (s->pend[k % MAX_PENDING].c == c) {
            s->pend[k % MAX_PENDING].c = NULL;
        }
    }
}

static size_t pending_room(const struct server *s)
{
    return MAX_PENDING - (size_t)(s->pend_tail - s->pend_head);
}

/* ---- pending reads (GET through raft_read_index) ------------------------- */

static void reads_init(struct server *s)
{
    size_t i;
    s->reads_free = NULL;
    for (i = MAX_READS; i-- > 0;) {
        s->reads[i].next = s->reads_free;
        s->reads_free = &s->reads[i];
    }
    s->batch_reads = NULL;
    s->batch_reads_end = &s->batch_reads;
}

static void read_release(struct server *s, struct read_req *q)
{
    if (q->c != NULL) {
        q->c->reads--;
        q->c = NULL;
    }
    q->next = s->reads_free;
    s->reads_free = q;
}

/* Answer every GET of the batch that starts at q, and free the records:
 * with the counter (status 0) or CTR_RETRY. Bounded by MAX_READS. */
static void reads_settle(struct server *s, struct read_req *q, uint8_t status)
{
    while (q != NULL) {
        struct read_req *next = q->next;
        if (q->c != NULL) {
            slot_done(q->c, q->slot, status,
                      status == CTR_OK ? s->sm.counter : 0);
        }
        read_release(s, q);
        q = next;
    }
}

/* The connection is going away: its reads are still settled by the
 * library later (exactly once each), but nobody is left to answer. */
static void reads_forget(struct server *s, struct conn *c)
{
    size_t i;
    for (i = 0; i < MAX_READS && c->reads > 0; i++) {
        if (s->reads[i].c == c) {
            s->reads[i].c = NULL;
            c->reads--;
        }
    }
}

/* The read callback, for a batch of GETs: status 0 means this node has
 * applied everything that was committed when the batch was asked for,
 * after every GET of it arrived, and the leadership behind it was
 * confirmed (by a heartbeat round, or by the lease): the counter as it is
 * now is a linearizable answer to each. RAFT_ELEADERLOST: ask again (the
 * client retries with the same seq and finds the new leader). */
static void on_read(struct raft *r, void *ctx, void *req, raft_index index,
                    int status)
{
    (void)r;
    (void)index;
    reads_settle(ctx, req, status == 0 ? CTR_OK : CTR_RETRY);
}

/* ---- peers: outbound links ---------------------------------------------- */

static struct peer *peer_by_id(struct server *s, raft_id id)
{
    size_t i;
    for (i = 0; i < s->o.n_peers; i++) {
        if (s->o.peers[i].id == id) {
            return &s->o.peers[i];
        }
    }
    return NULL;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    int one = 1;
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        return -1;
    }
    /* Messages and responses are small: do not wait to coalesce them. */
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Close the link; reconnect after a backoff that doubles while links keep
 * failing fast and restarts from the minimum after one that lasted. */
static void peer_down(struct server *s, struct peer *p, const char *why,
                      int err)
{
    if (!p->reported_down) {
        logm(L_INFO, "link to n%" PRIu64 " (%s) down: %s%s%s", p->id, p->addr,
             why, err ? ": " : "", err ? strerror(err) : "");
        p->reported_down = true;
    }
    if (p->fd >= 0) {
        close(p->fd);
    }
    p->fd = -1;
    if (p->link == LINK_UP && s->now - p->up_ms >= LINK_LASTED_MS) {
        p->backoff_ms = BACKOFF_MIN_MS;
    } else {
        p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : BACKOFF_MIN_MS;
        p->backoff_ms = p->backoff_ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms;
    }
    p->link = LINK_DOWN;
    p->retry_ms = s->now + p->backoff_ms;
    p->out.off = p->out.len = 0;
}

static void peer_up(struct server *s, struct peer *p)
{
    p->link = LINK_UP;
    p->up_ms = s->now;
    p->progress_ms = s->now;
    p->dropped = 0;
    if (!p->refused) {
        p->reported_down = false;
        logm(L_INFO, "link to n%" PRIu64 " (%s) up", p->id, p->addr);
    }
}

/* A link that was refused before is up and has lasted: the peer took our
 * hello this time (its token file or ours was fixed). */
static void peer_check_refused(struct server *s, struct peer *p)
{
    if (p->link == LINK_UP && p->refused &&
        s->now - p->up_ms >= LINK_LASTED_MS) {
        p->refused = false;
        p->reported_down = false;
        logm(L_INFO, "link to n%" PRIu64 " (%s) up, no longer refused",
             p->id, p->addr);
    }
}

/* Start connecting, unless backing off. The hello is queued first;
 * messages queued while connecting go out once connected. */
static void peer_connect(struct server *s, struct peer *p)
{
    struct ctr_hello h;
    int fd;
    if (p->link != LINK_DOWN || s->now < p->retry_ms) {
        return;
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || set_nonblock(fd) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        peer_down(s, p, "socket", e);
        return;
    }
    memset(&h, 0, sizeof(h));
    h.kind = CTR_HELLO_PEER;
    h.token = s->o.token;
    h.sender = s->o.id;
    h.target = p->id;
    p->fd = fd;
    p->out.off = p->out.len = 0;
    ctr_hello_encode(&h, p->out.p); /* out.cap >= PEER_OUT_MIN from start */
    p->out.len = CTR_HELLO_LEN;
    p->progress_ms = s->now;
    if (connect(fd, (const struct sockaddr *)&p->sa, sizeof(p->sa)) == 0) {
        peer_up(s, p);
    } else if (errno == EINPROGRESS || errno == EINTR) {
        p->link = LINK_CONNECTING;
    } else {
        peer_down(s, p, "connect", errno);
    }
}

static void peer_connecting_event(struct server *s, struct peer *p)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
    }
    if (err != 0) {
        peer_down(s, p, "connect", err);
    } else {
        peer_up(s, p);
    }
}

static void peer_flush(struct server *s, struct peer *p)
{
    bool progress = false;
    if (p->link != LINK_UP || buf_used(&p->out) == 0) {
        return;
    }
    if (buf_send(p->fd, &p->out, &progress) != 0) {
        peer_down(s, p, "send", errno);
        return;
    }
    if (progress) {
        p->progress_ms = s->now;
    }
}

/* Peers never write on our outbound connection: readable means closed,
 * or refused with a CTR_REFUSED response that says why (or a confused
 * peer). */
static void peer_readable(struct server *s, struct peer *p)
{
    uint8_t b[256];
    struct ctr_resp r;
    char why[128];
    ssize_t n = read(p->fd, b, sizeof(b));
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (n < 0) {
        peer_down(s, p, "read", errno);
    } else if (n >= (ssize_t)CTR_RESP_FIXED && ctr_get32(b) <= (size_t)n &&
               ctr_resp_decode(b, ctr_get32(b), &r) == 0 &&
               r.status == CTR_REFUSED) {
        snprintf(why, sizeof(why), "it refused this node: %s",
                 ctr_refusal_text((int)r.value));
        p->refused = true;
        peer_down(s, p, why, 0);
    } else {
        peer_down(s, p, n == 0 ? "closed by the peer" : "unexpected bytes", 0);
    }
}

static void peer_event(struct server *s, struct peer *p, short re)
{
    if (p->fd < 0 || re == 0) {
        return;
    }
    if (p->link == LINK_CONNECTING) {
        peer_connecting_event(s, p);
        return;
    }
    if (re & POLLOUT) {
        peer_flush(s, p);
    }
    if (p->fd >= 0 && (re & (POLLIN | POLLHUP | POLLERR))) {
        peer_readable(s, p);
    }
}

/* Drop a link whose peer has not taken a byte for STALL_MS (or is stuck
 * connecting): its queue would otherwise only hold stale messages. */
static void peer_check_stall(struct server *s, struct peer *p)
{
    if (p->link == LINK_DOWN || s->now - p->progress_ms < STALL_MS) {
        return;
    }
    if (p->link == LINK_CONNECTING) {
        peer_down(s, p, "connect timed out", 0);
    } else if (buf_used(&p->out) > 0) {
        logm(L_INFO, "n%" PRIu64 " read nothing for %u ms (%zu bytes queued, "
             "%" PRIu64 " messages dropped): reconnecting",
             p->id, STALL_MS, buf_used(&p->out), p->dropped);
        p->reported_down = true;
        peer_down(s, p, "stalled", 0);
    }
}

/* ---- raft callbacks ----------------------------------------------------- */

/* A member this node must talk to is not in its address book: say so
 * once per id (it cannot be reached until the node is restarted with an
 * address for it in --peers). */
static void warn_no_address(struct server *s, raft_id id)
{
    size_t i;
    for (i = 0; i < s->n_warned; i++) {
        if (s->warned[i] == id) {
            return;
        }
    }
    if (s->n_warned < MAX_PEERS) {
        s->warned[s->n_warned++] = id;
    }
    logm(L_ERR, "n%" PRIu64 " is in the configuration but has no address "
         "here: add %" PRIu64 "=HOST:PORT to --peers and restart this node "
         "to reach it", id, id);
}

/* Encode into the peer's queue; the loop writes it out. Non-zero (a lost
 * message, as far as the library is concerned) when there is no link or
 * the queue is full. */
static int on_send(struct raft *r, void *ctx, const struct raft_msg *m)
{
    struct server *s = ctx;
    struct peer *p = peer_by_id(s, m->to);
    size_t need = 0;
    int rc;
    (void)r;
    if (p == NULL) {
        warn_no_address(s, m->to);
        return -1;
    }
    if (p->id == s->o.id) {
        return -1;
    }
    peer_connect(s, p);
    if (p->link == LINK_DOWN) {
        return -1;
    }
    rc = raft_msg_encode(m, p->out.p + p->out.len, p->out.cap - p->out.len, &need);
    if (rc == RAFT_ENOBUFS) {
        if (buf_reserve(&p->out, need) != 0) {
            p->dropped++;
            logm(L_DEBUG, "queue to n%" PRIu64 " full: message dropped", p->id);
            return -1;
        }
        rc = raft_msg_encode(m, p->out.p + p->out.len, p->out.cap - p->out.len,
                             &need);
    }
    if (rc != 0) {
        logm(L_ERR, "encoding a message to n%" PRIu64 ": %s", p->id,
             raft_strerror(rc));
        return -1;
    }
    if (buf_used(&p->out) == 0) {
        p->progress_ms = s->now; /* the stall clock starts with the queue */
    }
    p->out.len += need;
    return 0;
}

static int on_persist_state(struct raft *r, void *ctx, raft_term term,
                            raft_id vote)
{
    struct server *s = ctx;
    (void)r;
    if (!s->o.sync_persist) {
        if (wr_state(&s->wr, term, vote) != 0) {
            logm(L_ERR, "queueing term %" PRIu64 " vote %" PRIu64 ": out of "
                 "memory", term, vote);
            return -1;
        }
        return 0;
    }
    if (st_state_write(&s->st, term, vote) != 0) {
        logm(L_ERR, "persisting term %" PRIu64 " vote %" PRIu64 ": %s", term,
             vote, s->st.err);
        return -1;
    }
    return 0;
}

static int on_persist_entries(struct raft *r, void *ctx, raft_index first,
                              const struct raft_entry *e, size_t n)
{
    struct server *s = ctx;
    (void)r;
    if (!s->o.sync_persist) {
        if (wr_entries(&s->wr, first, e, n) != 0) {
            logm(L_ERR, "queueing %zu entries at index %" PRIu64 ": out of "
                 "memory", n, first);
            return -1;
        }
        return 0;
    }
    if (st_log_append(&s->st, first, e, n) != 0) {
        logm(L_ERR, "persisting %zu entries at index %" PRIu64 ": %s", n, first,
             s->st.err);
        return -1;
    }
    return 0;
}

/* Every --snapshot-every applied entries, serialise the state machine as
 * it is now, i.e. exactly at `index`, for the writer thread to write
 * (with --sync-persist: snapshot_flush_sync() after the driving call).
 * One at a time: the next is due --snapshot-every entries after this one. */
static void snapshot_take(struct server *s, raft_index index, raft_term term)
{
    uint8_t *file;
    size_t len = 0;
    if (s->o.snapshot_every == 0 || s->snap_busy ||
        index - s->snap_base < s->o.snapshot_every || index <= s->snap_base ||
        s->conf_len == 0) {
        return;
    }
    file = sm_snapshot(&s->sm, index, term, s->conf, s->conf_len, &len);
    if (file == NULL) {
        logm(L_ERR, "snapshot at index %" PRIu64 ": out of memory; trying "
             "again at the next entry", index);
        return;
    }
    if (s->o.sync_persist) {
        s->snap_file = file;
    } else if (wr_snapshot(&s->wr, index, file, len) != 0) {
        free(file);
        logm(L_ERR, "snapshot at index %" PRIu64 ": out of memory; trying "
             "again at the next entry", index);
        return;
    }
    s->snap_busy = true;
    s->snap_base = s->snap_pending = index;
    s->snap_len = len;
    s->snap_sessions = s->sm.ses.n;
}

/* --record-applied: the entry, as a log record, appended to DATA/applied
 * (one write: a kill -9 loses nothing already written). */
static void record_applied(struct server *s, raft_index index,
                           const struct raft_entry *e)
{
    uint8_t rec[ST_REC_HDR + ST_REC_FIXED + ST_CONF_MAX];
    if (s->applied_fd < 0 || e->len > ST_CONF_MAX) {
        return;
    }
    if (ctr_write_full(s->applied_fd, rec, st_rec_encode(rec, index, e)) != 0) {
        logm(L_ERR, "%s/applied: %s", s->o.data, strerror(errno));
    }
}

static int on_apply(struct raft *r, void *ctx, raft_index index,
                    const struct raft_entry *e)
{
    struct server *s = ctx;
    struct slot res = {SLOT_DONE, CTR_RETRY, 0};
    struct cmd c;
    bool is_cmd = false;
    (void)r;
    if (e->type == RAFT_ENTRY_CONFIG && e->len <= sizeof(s->conf)) {
        /* Not for the state machine, but the configuration as of this
         * index: a snapshot taken here must store it. */
        memcpy(s->conf, e->buf, e->len);
        s->conf_len = e->len;
        s->conf_at = index;
        res.status = CTR_OK; /* a membership change waiting for it */
        res.value = index;
    } else if (e->type == RAFT_ENTRY_CONFIG) {
        logm(L_ERR, "entry %" PRIu64 ": a configuration of %zu bytes, more "
             "than this server keeps (%u)", index, e->len, ST_CONF_MAX);
    }
    if (e->type == RAFT_ENTRY_COMMAND) {
        if (cmd_decode(e, &c) != 0) {
            /* Deterministic on every node: skip it everywhere. */
            logm(L_ERR, "entry %" PRIu64 ": malformed command of %zu bytes, "
                 "ignored", index, e->len);
        } else if (sm_apply(&s->sm, index, &c, &res) != 0) {
            logm(L_ERR, "entry %" PRIu64 ": out of memory, will retry", index);
            return -1;
        } else {
            is_cmd = true;
        }
    }
    pending_resolve(s, index, e->term,
                    is_cmd || e->type == RAFT_ENTRY_CONFIG ? &res : NULL);
    record_applied(s, index, e);
    snapshot_take(s, index, e->term);
    return 0;
}

/* Leader: a chunk of the current snapshot file, into s->chunk (retained
 * until the send callback that carries it, which comes next). Non-zero if
 * `index` is no longer the current file: the library starts over with the
 * one it knows as the latest. */
static int on_snapshot_read(struct raft *r, void *ctx, raft_index index,
                            uint64_t offset, size_t max, const void **data,
                            size_t *len, bool *last)
{
    struct server *s = ctx;
    (void)r;
    if (st_io_read(&s->io, index, offset, s->chunk,
                   max < sizeof(s->chunk) ? max : sizeof(s->chunk), len,
                   last) != 0) {
        logm(L_DEBUG, "snapshot %" PRIu64 " at offset %" PRIu64 " not served "
             "(current: %" PRIu64 ")", index, offset, s->io.cur_index);
        return -1;
    }
    if (offset == 0) {
        /* Once per snapshot: a stream to a dead peer restarts every tick. */
        logm(s->snap_sending == index ? L_DEBUG : L_INFO, "sending snapshot "
             "%" PRIu64 " (%" PRIu64 " bytes) to a follower that needs "
             "compacted entries", index, s->io.cur_size);
        s->snap_sending = index;
    }
    *data = s->chunk;
    return 0;
}

/* Follower: chunks go to a temp file, in order (st_io_recv_write). */
static int on_snapshot_write(struct raft *r, void *ctx,
                             const struct raft_snapshot_meta *meta,
                             uint64_t offset, const void *data, size_t len)
{
    struct server *s = ctx;
    if (st_io_recv_write(&s->io, offset, data, len) != 0) {
        logm(L_ERR, "%s", s->io.err);
        return -1;
    }
    if (offset == 0) {
        logm(L_INFO, "receiving snapshot %" PRIu64 " (term %" PRIu64 ") from "
             "the leader, n%" PRIu64, meta->index, meta->term, raft_leader(r));
    }
    return 0;
}

/* Two encoded configurations with the same members and flags, in any
 * order (both valid). */
static bool conf_same(const void *a, size_t alen, const void *b, size_t blen)
{
    struct raft_member x[RAFT_MAX_MEMBERS], y[RAFT_MAX_MEMBERS];
    size_t nx = 0, ny = 0, i, j;
    if (raft_conf_decode(a, alen, x, RAFT_MAX_MEMBERS, &nx) != 0 ||
        raft_conf_decode(b, blen, y, RAFT_MAX_MEMBERS, &ny) != 0 || nx != ny) {
        return false;
    }
    for (i = 0; i < nx; i++) {
        for (j = 0; j < ny && (y[j].id != x[i].id || y[j].flags != x[i].flags);
             j++) {
        }
        if (j == ny) {
            return false;
        }
    }
    return true;
}

/* Remember conf[0..len) as the configuration as of index `at`. */
static void conf_remember(struct server *s, const void *conf, size_t len,
                          raft_index at)
{
    if (len <= sizeof(s->conf)) {
        memcpy(s->conf, conf, len);
        s->conf_len = len;
        s->conf_at = at;
    }
}

/* Follower: the received snapshot is complete. It is checked and loaded
 * into the state machine now (the library counts every entry up to
 * meta->index as applied when this returns, and may apply the next ones
 * before the installation is durable), and its installation is a write
 * queued behind the writes already started, reported through
 * raft_persisted() in order with them (with --sync-persist: done here). */
static int on_snapshot_install(struct raft *r, void *ctx,
                               const struct raft_snapshot_meta *meta, bool keep)
{
    struct server *s = ctx;
    struct st_snapshot snap;
    struct sm fresh;
    uint8_t *buf = NULL;
    size_t len = 0;
    char why[256], name[ST_NAME_MAX];
    const char *bad = NULL;
    int fd, rc;
    memset(&fresh, 0, sizeof(fresh));
    if (st_io_recv_read(&s->io, &buf, &len) != 0) {
        logm(L_ERR, "installing snapshot %" PRIu64 ": %s", meta->index, s->io.err);
        return -1;
    }
    if (st_snapshot_parse(buf, len, &snap, why, sizeof(why)) != 0) {
        bad = why;
    } else if (snap.index != meta->index || snap.term != meta->term ||
               !conf_same(snap.conf, snap.conf_len, meta->conf,
                          meta->conf_len)) {
        bad = "its index, term or configuration differ from the leader's "
              "message";
    } else if (sm_restore(&fresh, snap.body, snap.body_len, &bad) == 0) {
        bad = NULL;
    }
    free(buf);
    if (bad != NULL) {
        logm(L_ERR, "received snapshot %" PRIu64 " refused: %s", meta->index, bad);
        return -1;
    }
    st_io_recv_take(&s->io, &fd, name);
    if (s->o.sync_persist) {
        rc = st_snapshot_install(&s->st, meta->index, keep, fd, name);
        if (rc == 0 && st_io_set_current(&s->io, meta->index) != 0) {
            logm(L_ERR, "%s", s->io.err);
        }
    } else if ((rc = wr_install(&s->wr, meta->index, keep, fd, name)) != 0) {
        close(fd);
        snprintf(s->st.err, sizeof(s->st.err), "out of memory");
    }
    if (rc != 0) {
        logm(L_ERR, "installing snapshot %" PRIu64 ": %s", meta->index, s->st.err);
        ses_free(&fresh.ses);
        return -1;
    }
    ses_free(&s->sm.ses);
    s->sm = fresh;
    conf_remember(s, meta->conf, meta->conf_len, meta->index);
    pending_fail_all(s); /* their entries may be in the snapshot: unknown */
    if (s->snap_file != NULL) {
        /* --sync-persist: ours, taken earlier in this loop iteration and
         * not written yet, is older than this one: drop it. */
        free(s->snap_file);
        s->snap_file = NULL;
        s->snap_busy = false;
    }
    s->snap_base = meta->index;
    s->snaps_installed++;
    logm(L_INFO, "installed snapshot %" PRIu64 " (term %" PRIu64 ", %zu bytes) "
         "from the leader, n%" PRIu64 ": value %" PRIu64 ", %zu session%s; log "
         "%s", meta->index, meta->term, len, raft_leader(r), s->sm.counter,
         s->sm.ses.n, s->sm.ses.n == 1 ? "" : "s",
         keep ? "entries after it kept" : "discarded, continues after it");
    return 0;
}

static const char *event_name(int type)
{
    switch (type) {
    case RAFT_EVENT_ELECTION_START:
        return "election started";
    case RAFT_EVENT_ELECTION_WON:
        return "election won";
    case RAFT_EVENT_APPEND_REJECTED:
        return "entries refused (log mismatch)";
    case RAFT_EVENT_SEND_FAILED:
        return "send failed";
    default:
        return "event";
    }
}

/* "voters n1 n2 n3, learners n4" for the configuration in force, into
 * buf; joint configurations show the outgoing voters too. */
static void conf_text(const struct raft *r, char *buf, size_t len)
{
    static const struct {
        unsigned flag;
        const char *name;
    } kinds[] = {{RAFT_MEMBER_VOTER, "voters"},
                 {RAFT_MEMBER_OUTGOING, "outgoing voters"},
                 {RAFT_MEMBER_LEARNER, "learners"}};
    struct raft_member m[CTR_MEMBERS_MAX];
    size_t n = 0, i, k, off = 0;
    buf[0] = '\0';
    if (raft_conf(r, m, CTR_MEMBERS_MAX, &n) != 0 || n == 0) {
        snprintf(buf, len, "none");
        return;
    }
    for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        bool first = true;
        for (i = 0; i < n && off < len; i++) {
            if (m[i].flags & kinds[k].flag) {
                int w = snprintf(buf + off, len - off, "%s%s n%" PRIu64,
                                 first && off > 0 ? ", " : "",
                                 first ? kinds[k].name : "", m[i].id);
                off += w > 0 ? (size_t)w : 0;
                first = false;
            }
        }
    }
}

/* Is `id` a member of the configuration in force (flags in *flags)? */
static bool conf_has(const struct raft *r, raft_id id, unsigned *flags)
{
    struct raft_member m[RAFT_MAX_MEMBERS];
    size_t n = 0, i;
    if (raft_conf(r, m, RAFT_MAX_MEMBERS, &n) != 0) {
        n = 0;
    }
    for (i = 0; i < n; i++) {
        if (m[i].id == id) {
            if (flags != NULL) {
                *flags = m[i].flags;
            }
            return true;
        }
    }
    return false;
}

/* The configuration in force changed (appended, truncated away, or
 * brought by a snapshot): log it, and whether this node is in it. */
static void conf_changed(struct server *s, struct raft *r)
{
    struct raft_status st;
    char text[512];
    bool now = conf_has(r, s->o.id, NULL);
    raft_status(r, &st);
    conf_text(r, text, sizeof(text));
    logm(L_INFO, "configuration (entry %" PRIu64 "%s): %s", st.conf_index,
         st.joint ? ", joint" : "", text);
    if (s->member && !now) {
        logm(L_INFO, "this node is no longer a member: it takes no part in "
             "the cluster any more and may be stopped");
    } else if (!s->member && now) {
        logm(L_INFO, "this node is now a member (%s)",
             st.is_voter ? "a voter" : "a learner");
    }
    s->member = now;
}

static void on_event(struct raft *r, void *ctx, const struct raft_event *ev)
{
    struct server *s = ctx;
    switch (ev->type) {
    case RAFT_EVENT_CONF:
        conf_changed(s, r);
        break;
    case RAFT_EVENT_TRANSFER_ABORTED:
        logm(L_INFO, "leadership transfer to n%" PRIu64 " abandoned (no "
             "election within an election timeout); leading on", ev->peer);
        break;
    case RAFT_EVENT_ROLE:
        logm(L_INFO, "role %s, term %" PRIu64, role_name(ev->role), ev->term);
        if (ev->role != RAFT_LEADER) {
            pending_fail_all(s);
        }
        break;
    case RAFT_EVENT_TERM:
        logm(L_INFO, "term %" PRIu64, ev->term);
        break;
    case RAFT_EVENT_ELECTION_LOST:
    case RAFT_EVENT_STEP_DOWN:
        logm(L_INFO, "%s in term %" PRIu64 ": %s",
             ev->type == RAFT_EVENT_STEP_DOWN ? "stepped down" : "lost election",
             ev->term, ev->reason ? ev->reason : "?");
        break;
    case RAFT_EVENT_MSG_REJECTED:
        logm(L_DEBUG, "rejected a message from n%" PRIu64 ": %s (%s)", ev->peer,
             raft_strerror(ev->error), ev->reason ? ev->reason : "?");
        break;
    default:
        logm(L_DEBUG, "%s, peer n%" PRIu64 ", term %" PRIu64 "%s%s",
             event_name(ev->type), ev->peer, ev->term,
             ev->reason ? ": " : "", ev->reason ? ev->reason : "");
        break;
    }
}

/* ---- driving the node --------------------------------------------------- */

/* The clock of ticks, in ms: CLOCK_BOOTTIME where there is one, since it
 * keeps counting while the machine is suspended, else CLOCK_MONOTONIC. */
static uint64_t tick_clock_ms(void)
{
    struct timespec ts;
#ifdef CLOCK_BOOTTIME
    if (clock_gettime(CLOCK_BOOTTIME, &ts) == 0) {
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    }
#endif
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Deliver every tick that elapsed, however many: after a stall (SIGSTOP, a
 * VM pause, a slow disk) the node catches up on all the ticks it missed
 * before it acts on anything else. Leases depend on it (raft.h, "Reads"):
 * a leader that woke up must see that its lease ran out, and a follower
 * that its leader went silent, before either answers anything; dropping
 * missed ticks would stretch every timer by the length of the stall. The
 * burst is cheap: one raft_tick() per tick (an hour's stall at 50 ms is
 * 72,000 calls), and what the node sends meanwhile is bounded by the peer
 * queues.
 *
 * Called from the loop, and right before every raft_step() and
 * raft_read_index(): the bytes of a message or request were read before the
 * clock is taken here, so a stall anywhere between the read and the call
 * is counted before the node judges the input.
 */
static void run_ticks(struct server *s)
{
    uint64_t now = tick_clock_ms(), late, n = 0;
    int rc;
    if (now < s->next_tick) {
        return;
    }
    late = now - s->next_tick;
    while (now >= s->next_tick) {
        rc = raft_tick(s->raft);
        if (rc != 0 && rc != s->last_tick_rc) {
            logm(L_ERR, "tick: %s", raft_strerror(rc));
        }
        s->last_tick_rc = rc;
        s->next_tick += s->o.tick_ms;
        n++;
    }
    if (n >= s->o.election_ticks) {
        logm(L_INFO, "%" PRIu64 " ms late (stopped or stalled): delivered the "
             "%" PRIu64 " ticks missed", late, n);
    }
}

static void node_step(struct server *s, const struct raft_msg *m)
{
    int rc;
    run_ticks(s); /* a stall since the bytes were read counts first */
    rc = raft_step(s->raft, m);
    switch (rc) {
    case 0:
        break;
    case RAFT_ENOTMEMBER:
    case RAFT_ESTALE:
    case RAFT_EBADMSG:
    case RAFT_ETOOBIG:
        /* Stale or duplicate messages are normal on a real network. */
        logm(L_DEBUG, "step (type %d from n%" PRIu64 "): %s", m->type, m->from,
             raft_strerror(rc));
        break;
    default:
        logm(L_ERR, "step (type %d from n%" PRIu64 "): %s", m->type, m->from,
             raft_strerror(rc));
        break;
    }
}

/* Delete the log segments the library no longer needs (entries below its
 * first index): a durable snapshot covers them. */
static void log_drop(struct server *s)
{
    struct raft_status st;
    raft_index upto;
    raft_status(s->raft, &st);
    upto = st.first_index - 1;
    if (upto <= s->dropped_upto) {
        return;
    }
    s->dropped_upto = upto;
    if (!s->o.sync_persist) {
        if (wr_drop(&s->wr, upto) != 0) {
            logm(L_ERR, "queueing the deletion of log segments: out of memory");
        }
    } else if (st_log_drop(&s->st, upto) != 0) {
        logm(L_ERR, "deleting log segments: %s", s->st.err);
    }
}

/* Snapshot files became durable: serve the newest to followers, and for
 * one of our own tell the library, which drops the log behind it (only
 * now: raft_compact() says the host holds a durable snapshot), then
 * delete the segments it dropped. */
static void snapshot_durable(struct server *s, raft_index taken,
                             raft_index latest)
{
    struct raft_status st;
    raft_index first;
    int rc;
    if (latest > s->io.cur_index && st_io_set_current(&s->io, latest) != 0) {
        logm(L_ERR, "%s", s->io.err);
    }
    if (taken <= s->snap_taken) {
        return;
    }
    s->snap_taken = taken;
    s->snap_busy = false;
    s->snaps_taken++;
    raft_status(s->raft, &st);
    first = st.first_index;
    rc = raft_compact(s->raft, taken);
    raft_status(s->raft, &st);
    if (rc == RAFT_EAPPLY) {
        /* Compacted; an apply that failed earlier failed again on the
         * way out (logged where it happens). */
        rc = 0;
    }
    if (rc != 0) {
        logm(L_ERR, "raft_compact(%" PRIu64 "): %s", taken, raft_strerror(rc));
        return;
    }
    logm(L_INFO, "took snapshot %" PRIu64 " (%zu bytes, %zu session%s; "
         "snapshots taken %" PRIu64 ", installed %" PRIu64 "): %s %" PRIu64
         " on kept", taken, s->snap_len, s->snap_sessions,
         s->snap_sessions == 1 ? "" : "s", s->snaps_taken, s->snaps_installed,
         st.first_index > first ? "log compacted, entries from"
                                : "nothing compacted (the trailing entries stay), entries from",
         st.first_index);
    log_drop(s);
}

/* --sync-persist: write the snapshot taken during the last driving call. */
static void snapshot_flush_sync(struct server *s)
{
    raft_index index = s->snap_pending;
    int rc;
    if (s->snap_file == NULL) {
        return;
    }
    rc = st_snapshot_write(&s->st, index, s->snap_file, s->snap_len);
    free(s->snap_file);
    s->snap_file = NULL;
    if (rc != 0) {
        logm(L_ERR, "writing snapshot %" PRIu64 ": %s", index, s->st.err);
        s->snap_busy = false;
        return;
    }
    snapshot_durable(s, index, index);
}

/* A batch finished (on the writer thread, which woke us, or on this one):
 * report what became durable. A failed write stops the node (what reached
 * the disk is unknown) and so the process: restarting re-reads the
 * files. */
static int collect_writes(struct server *s, bool woken)
{
    char err[ST_ERR_MAX];
    size_t n = 0;
    raft_index taken = 0, latest = 0;
    int failed = wr_collect(&s->wr, woken, &n, &taken, &latest, err,
                            sizeof(err));
    int rc;
    s->wrote_here = false;
    n += s->unreported;
    rc = raft_persisted(s->raft, n, 0);
    /* RAFT_ENOMEM leaves the node unchanged: report them again soon (the
     * next iteration, at the latest the next tick). */
    s->unreported = rc == RAFT_ENOMEM ? n : 0;
    if (rc != 0 && rc != RAFT_EAPPLY) {
        logm(L_ERR, "raft_persisted(%zu): %s", n, raft_strerror(rc));
    }
    if (failed == 0) {
        snapshot_durable(s, taken, latest);
    }
    if (failed != 0) {
        raft_persisted(s->raft, 0, -1);
        logm(L_ERR, "%s; stopping (restart the node to recover from its "
             "files)", err);
        return -1;
    }
    return 0;
}

static void show_leader(struct server *s)
{
    raft_id leader = raft_leader(s->raft);
    struct peer *p;
    if (leader == s->shown_leader) {
        return;
    }
    s->shown_leader = leader;
    p = peer_by_id(s, leader);
    if (p != NULL) {
        logm(L_INFO, "leader is n%" PRIu64 " (%s)%s", leader, p->addr,
             leader == s->o.id ? ", this node" : "");
    } else if (leader != 0) {
        logm(L_INFO, "leader is n%" PRIu64 " (no address for it in --peers)",
             leader);
    } else {
        logm(L_INFO, "leader unknown");
    }
}

/* ---- inbound connections ------------------------------------------------ */

static const char *conn_kind(const struct conn *c)
{
    return c->kind == CONN_PEER ? "peer" : c->kind == CONN_CLIENT ? "client"
                                                                  : "new";
}

static void conn_kill(struct conn *c, int level, const char *why)
{
    if (!c->dead) {
        logm(level, "connection #%" PRIu64 " (%s, %s): %s; closing", c->no,
             c->name, conn_kind(c), why);
    }
    c->dead = true;
}

/* Close c because it stalled or idled (a timeout), or to make room for a
 * new connection (evicted). One line per connection only with --verbose;
 * otherwise report_drops() sums them up now and then, so that a flood of
 * connections does not flood the log as well. */
static void conn_drop(struct server *s, struct conn *c, bool evicted,
                      const char *why)
{
    if (c->dead) {
        return;
    }
    conn_kill(c, L_DEBUG, why);
    if (evicted) {
        s->drops_evicted++;
    } else {
        s->drops_timed_out++;
    }
    snprintf(s->drop_last, sizeof(s->drop_last), "#%" PRIu64 " (%s, %s) %s",
             c->no, c->name, conn_kind(c), why);
}

static void report_drops(struct server *s)
{
    uint64_t n;
    if (s->drops_timed_out + s->drops_evicted == 0 || s->now < s->drop_report_ms) {
        return;
    }
    n = s->drops_timed_out + s->drops_evicted;
    logm(L_INFO, "closed %" PRIu64 " connection%s (%" PRIu64 " stalled or "
         "idle, %" PRIu64 " evicted from a full table); last: %s", n,
         n == 1 ? "" : "s", s->drops_timed_out, s->drops_evicted, s->drop_last);
    s->drops_timed_out = s->drops_evicted = 0;
    s->drop_report_ms = s->now + DROP_REPORT_MS;
}

/* Messages from node `id` arrive on c, so c is now its link. An older
 * connection that carried them is left over from before a reconnect (a
 * peer sends on one connection at a time): it no longer counts as a link,
 * so it can be evicted, and closed once idle. */
static void peer_claim(struct server *s, struct conn *c, raft_id id)
{
    size_t i;
    c->greeted = true;
    if (c->peer == id) {
        return;
    }
    for (i = 0; i < s->n_conns; i++) {
        if (s->conns[i] != c && s->conns[i]->peer == id) {
            s->conns[i]->peer = 0;
        }
    }
    c->peer = id;
}

/* A frame that cannot be a message: the stream is out of sync, so the
 * connection is useless. The sender reconnects if it is a real peer. */
static void bad_frame(struct conn *c, const char *what, int rc)
{
    char why[128];
    snprintf(why, sizeof(why), "bad %s: %s", what, raft_strerror(rc));
    conn_kill(c, L_INFO, why);
}

static void peer_input(struct server *s, struct conn *c)
{
    struct raft_msg m;
    size_t mlen;
    int rc;
    while (!c->dead && buf_used(&c->in) >= RAFT_WIRE_PREFIX) {
        const uint8_t *p = c->in.p + c->in.off;
        rc = raft_msg_peek_len(p, buf_used(&c->in), &mlen);
        if (rc == 0 && mlen > s->wire.max_msg_bytes) {
            rc = RAFT_ELIMIT;
        }
        if (rc != 0) {
            bad_frame(c, "frame length", rc);
            return;
        }
        if (buf_used(&c->in) < mlen) {
            return; /* in.max holds a whole frame: room is there */
        }
        rc = raft_msg_decode(p, mlen, &s->wire, &m, s->ents, MAX_ENTRIES);
        if (rc != 0) {
            bad_frame(c, "message", rc);
            return;
        }
        if (m.from != c->sender) {
            char why[128];
            snprintf(why, sizeof(why), "a message from n%" PRIu64 " on the "
                     "connection of n%" PRIu64, m.from, c->sender);
            conn_kill(c, L_INFO, why);
            return;
        }
        peer_claim(s, c, m.from);
        node_step(s, &m); /* copies what it keeps: the bytes may go */
        buf_consume(&c->in, mlen);
    }
}

/* A peer's hello passed the token check: it must also name itself as
 * another node of our address book (member or not: the library decides
 * what to take from whom; a node we could not answer is no use), and mean
 * to reach this node. CTR_REFUSE_NONE, or CTR_REFUSE_PEER with the detail
 * in why. */
static int peer_hello_check(const struct server *s, const struct ctr_hello *h,
                            char *why, size_t len)
{
    const struct peer *p = NULL;
    size_t i;
    for (i = 0; i < s->o.n_peers; i++) {
        p = s->o.peers[i].id == h->sender ? &s->o.peers[i] : p;
    }
    if (p == NULL || h->sender == s->o.id) {
        snprintf(why, len, "right token, but its hello claims to be n%" PRIu64
                 ", %s", h->sender, p == NULL ? "not in --peers here"
                 : "which is this node");
    } else if (h->target != s->o.id) {
        snprintf(why, len, "right token, but n%" PRIu64 " means to reach n%"
                 PRIu64 " and this is n%" PRIu64 " (check --peers)",
                 h->sender, h->target, s->o.id);
    } else {
        return CTR_REFUSE_NONE;
    }
    return CTR_REFUSE_PEER;
}

static void conn_write(struct server *s, struct conn *c);

/* Refuse the hello: one log line, then close. A client or peer is told
 * why first, in a CTR_REFUSED response, if the socket takes it at once (a
 * new connection's send buffer is empty, so it does); a caller that is
 * neither gets nothing. */
static void conn_refuse(struct server *s, struct conn *c, int reason,
                        const char *detail)
{
    const uint8_t *p = c->in.p + c->in.off;
    char why[256];
    if (reason == CTR_REFUSE_KIND) {
        snprintf(why, sizeof(why), "refused: first byte 0x%02x is neither "
                 "'R' (peer) nor 'C' (client)", p[0]);
    } else if (reason == CTR_REFUSE_VERSION) {
        snprintf(why, sizeof(why), "refused: protocol version %u, this node "
                 "speaks %u", p[4], CTR_PROTO_VERSION);
    } else if (reason == CTR_REFUSE_TOKEN && p[0] == CTR_HELLO_PEER) {
        snprintf(why, sizeof(why), "refused: wrong cluster token (a peer "
                 "hello, claiming to be n%" PRIu64 ")", ctr_get64(p + 8));
    } else {
        snprintf(why, sizeof(why), "refused: %s", detail != NULL ? detail
                 : ctr_refusal_text(reason));
    }
    if (reason != CTR_REFUSE_KIND && buf_reserve(&c->out, RESP_MAX) == 0) {
        struct ctr_resp r;
        memset(&r, 0, sizeof(r));
        r.status = CTR_REFUSED;
        r.value = (uint64_t)reason;
        c->out.len += ctr_resp_encode(&r, c->out.p + c->out.len);
        conn_write(s, c);
    }
    conn_kill(c, L_INFO, why);
}

/* The hello says who is calling and presents the token. Nothing after it
 * is looked at before it has passed every check, so a refused connection
 * never delivers a message or a request. An incomplete hello waits (the
 * HELLO_MS deadline applies). */
static void conn_hello(struct server *s, struct conn *c)
{
    struct ctr_hello h;
    char why[192];
    int rc = ctr_hello_decode(c->in.p + c->in.off, buf_used(&c->in), &h);
    if (rc < 0) {
        return;
    }
    if (rc == CTR_REFUSE_NONE && !ctr_token_equal(&h.token, &s->o.token)) {
        rc = CTR_REFUSE_TOKEN;
    }
    if (rc == CTR_REFUSE_NONE && h.kind == CTR_HELLO_PEER) {
        rc = peer_hello_check(s, &h, why, sizeof(why));
    }
    if (rc != CTR_REFUSE_NONE) {
        conn_refuse(s, c, rc, rc == CTR_REFUSE_PEER ? why : NULL);
        return;
    }
    buf_consume(&c->in, CTR_HELLO_LEN);
    if (h.kind == CTR_HELLO_PEER) {
        c->kind = CONN_PEER;
        c->sender = h.sender;
        c->in.max = MAX_FRAME;
        logm(L_DEBUG, "connection #%" PRIu64 " (%s): peer n%" PRIu64, c->no,
             c->name, h.sender);
    } else {
        c->kind = CONN_CLIENT;
        c->out.max = CLIENT_OUT_MAX;
    }
}

static bool conn_busy(const struct conn *c)
{
    return c->count > 0 || buf_used(&c->out) > 0 ||
           buf_used(&c->in) >= CTR_REQ_LEN;
}

/* `left` bytes at the end of `in` are an incomplete request or frame: its
 * deadline runs from when its first byte arrived. */
static void conn_track_partial(struct server *s, struct conn *c, size_t left)
{
    uint64_t at = c->rx - left;
    if (left == 0) {
        c->partial = false;
    } else if (!c->partial || c->partial_at != at) {
        c->partial = true;
        c->partial_at = at;
        c->partial_ms = s->conn_now;
    }
}

static void conn_read(struct server *s, struct conn *c)
{
    size_t room = c->in.max - buf_used(&c->in);
    ssize_t n;
    room = room < READ_CHUNK ? room : READ_CHUNK;
    if (room == 0 || c->eof) {
        return;
    }
    if (buf_reserve(&c->in, room) != 0) {
        conn_kill(c, L_ERR, "out of memory");
        return;
    }
    n = read(c->fd, c->in.p + c->in.len, room);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            conn_kill(c, L_DEBUG, strerror(errno));
        }
        return;
    }
    if (n == 0) {
        /* A client may half-close after its last request: answer first. */
        if (c->kind == CONN_CLIENT && conn_busy(c)) {
            c->eof = true;
        } else {
            conn_kill(c, L_DEBUG, "closed by the other side");
        }
        return;
    }
    c->in.len += (size_t)n;
    c->rx += (uint64_t)n;
    c->active_ms = s->conn_now;
    if (c->kind == CONN_NEW) {
        conn_hello(s, c);
    }
    if (c->kind == CONN_CLIENT) {
        /* Requests are consumed whole, so any remainder is the last one. */
        c->served |= buf_used(&c->in) >= CTR_REQ_LEN;
        conn_track_partial(s, c, buf_used(&c->in) % CTR_REQ_LEN);
    }
}

static void conn_write(struct server *s, struct conn *c)
{
    bool progress = false;
    if (!c->dead && buf_send(c->fd, &c->out, &progress) != 0) {
        conn_kill(c, L_DEBUG, strerror(errno));
    }
    if (progress) {
        c->active_ms = c->out_ms = s->conn_now;
    }
}

static void conn_event(struct server *s, struct conn *c, short re)
{
    if (re & POLLOUT) {
        conn_write(s, c);
    }
    if (c->dead) {
        return;
    }
    if (re & POLLIN) {
        conn_read(s, c);
    } else if (re & (POLLHUP | POLLERR | POLLNVAL)) {
        conn_kill(c, L_DEBUG, "hung up");
    }
}

static void conn_free(struct conn *c)
{
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
}

static void conn_add(struct server *s, int fd, const struct sockaddr_in *sa)
{
    struct conn *c = calloc(1, sizeof(*c));
    char host[INET_ADDRSTRLEN];
    if (c == NULL) {
        logm(L_ERR, "accept: out of memory");
        close(fd);
        return;
    }
    c->fd = fd;
    c->kind = CONN_NEW;
    c->no = ++s->next_conn_no;
    c->opened_ms = c->active_ms = s->conn_now;
    c->in.max = CLIENT_IN_MAX;
    c->out.max = RESP_MAX;
    if (inet_ntop(AF_INET, &sa->sin_addr, host, sizeof(host)) == NULL) {
        strcpy(host, "?");
    }
    snprintf(c->name, sizeof(c->name), "%s:%u", host, ntohs(sa->sin_port));
    s->conns[s->n_conns++] = c;
}

/* Nothing in flight, nothing to say: a client with no request pending, or
 * a peer connection that is no longer a peer's link. */
static bool conn_idle(const struct conn *c)
{
    if (c->kind == CONN_CLIENT) {
        return c->count == 0 && buf_used(&c->in) == 0 && buf_used(&c->out) == 0;
    }
    return c->kind == CONN_PEER && c->greeted && c->peer == 0;
}

/* Close a connection that stalls or idles, so that it gives its slot back:
 * no hello (or, after 'R', no message from its node) within HELLO_MS; a
 * request or frame still incomplete FRAME_MS after its first byte; a
 * client that takes no byte of its answers for STALL_MS; a client with
 * nothing in flight, or a superseded peer connection, silent for IDLE_MS.
 * A peer's link may be silent for any time (a follower has nothing to say
 * to another follower). */
static void conn_check_time(struct server *s, struct conn *c)
{
    uint64_t now = s->conn_now;
    char why[96];
    if (c->kind == CONN_NEW && now - c->opened_ms >= HELLO_MS) {
        conn_drop(s, c, false, "no complete hello in time");
    } else if (c->kind == CONN_PEER && !c->greeted &&
               now - c->opened_ms >= HELLO_MS) {
        conn_drop(s, c, false, "no message from its node in time");
    } else if (c->partial && now - c->partial_ms >= FRAME_MS) {
        snprintf(why, sizeof(why), "%s incomplete for %u ms",
                 c->kind == CONN_PEER ? "frame" : "request", FRAME_MS);
        conn_drop(s, c, false, why);
    } else if (c->kind == CONN_CLIENT && buf_used(&c->out) > 0 &&
               now - c->out_ms >= STALL_MS) {
        snprintf(why, sizeof(why), "took no answer byte for %u ms", STALL_MS);
        conn_drop(s, c, false, why);
    } else if (conn_idle(c) && now - c->active_ms >= IDLE_MS) {
        snprintf(why, sizeof(why), "idle for %u ms", IDLE_MS);
        conn_drop(s, c, false, why);
    }
}

static void conn_remove(struct server *s, size_t j)
{
    struct conn *c = s->conns[j];
    pending_forget(s, c);
    reads_forget(s, c);
    conn_free(c);
    s->conns[j] = s->conns[--s->n_conns];
}

/* Eviction order: connections that have not proven useful (no hello yet,
 * a peer connection that is no peer's link, a client that never sent a
 * whole request) before clients that have; least recently active first. */
static bool evict_before(const struct conn *a, const struct conn *b)
{
    bool a_served = a->kind == CONN_CLIENT && a->served;
    bool b_served = b->kind == CONN_CLIENT && b->served;
    if (a_served != b_served) {
        return b_served;
    }
    return a->active_ms < b->active_ms ||
           (a->active_ms == b->active_ms && a->no < b->no);
}

/* The table is full and a connection arrives: make room, so that stalled
 * or idle connections cannot lock out new clients or a reconnecting peer.
 * A connection already closed goes first, else one in evict_before()
 * order. A peer's link is never evicted; there is at most one per peer,
 * so there is always a candidate. */
static bool conn_make_room(struct server *s)
{
    size_t i, v = s->n_conns;
    for (i = 0; i < s->n_conns; i++) {
        const struct conn *c = s->conns[i];
        if (c->dead) {
            v = i;
            break;
        }
        if (c->kind == CONN_PEER && c->peer != 0) {
            continue;
        }
        if (v == s->n_conns || evict_before(c, s->conns[v])) {
            v = i;
        }
    }
    if (v == s->n_conns) {
        return false;
    }
    conn_drop(s, s->conns[v], true, "evicted: connection table full");
    conn_remove(s, v);
    return true;
}

static void do_accept(struct server *s)
{
    struct sockaddr_in sa;
    socklen_t len;
    int fd;
    for (;;) {
        len = sizeof(sa);
        fd = accept(s->lfd, (struct sockaddr *)&sa, &len);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
                errno == ENOBUFS) {
                /* Pending connections stay queued; retry shortly rather than
                 * spin on a listen socket that stays readable. */
                logm(L_ERR, "accept: %s", strerror(errno));
                s->accept_paused_until = s->now + 100;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != EINTR && errno != ECONNABORTED) {
                logm(L_ERR, "accept: %s", strerror(errno));
            }
            return;
        }
        if (set_nonblock(fd) != 0) {
            logm(L_ERR, "accept: %s", strerror(errno));
            close(fd);
            continue;
        }
        if (s->n_conns == MAX_CONNS && !conn_make_room(s)) {
            logm(L_ERR, "accept: too many connections, refused");
            close(fd);
            continue;
        }
        conn_add(s, fd, &sa);
    }
}

/* Close dead connections, connections past a deadline, and clients that
 * half-closed and got their answers. */
static void reap(struct server *s)
{
    size_t j = s->n_conns;
    while (j-- > 0) {
        struct conn *c = s->conns[j];
        if (!c->dead) {
            conn_check_time(s, c);
        }
        if (c->dead || (c->eof && !conn_busy(c))) {
            conn_remove(s, j);
        }
    }
    report_drops(s);
}

/* ---- clients ------------------------------------------------------------ */

enum {
    ANSWER_NOW,
    ANSWER_AFTER_COMMIT,
    ANSWER_AFTER_READ,
    ANSWER_AFTER_CHANGE, /* a membership change: once its entry commits */
    ANSWER_TRANSFER      /* start a leadership transfer, answer at once */
};

static bool is_change(uint8_t op)
{
    return op == CTR_OP_ADD_LEARNER || op == CTR_OP_ADD_VOTER ||
           op == CTR_OP_REMOVE;
}

/* Decide a request: answered from local state, through the log (INCR, and
 * GET with --log-reads), by the read callback (GET), or as a membership
 * change or transfer. */
static int classify(struct server *s, const struct ctr_req *q, uint8_t *status,
                    uint64_t *value)
{
    const struct ses *se;
    *status = CTR_OK;
    *value = s->sm.counter;
    if (q->op == CTR_OP_STATUS || q->op == CTR_OP_METRICS ||
        q->op == CTR_OP_CONF) {
        return ANSWER_NOW;
    }
    if (is_change(q->op) || q->op == CTR_OP_TRANSFER) {
        /* No session: a retried change is recognised by its effect. */
        *value = 0;
        if (q->amount == 0) {
            *status = CTR_BAD_REQUEST;
        } else if (raft_role(s->raft) != RAFT_LEADER) {
            *status = CTR_NOT_LEADER;
        } else {
            return q->op == CTR_OP_TRANSFER ? ANSWER_TRANSFER
                                            : ANSWER_AFTER_CHANGE;
        }
        return ANSWER_NOW;
    }
    if (q->client_id == 0 || q->seq == 0) {
        *status = CTR_BAD_REQUEST;
    } else if (raft_role(s->raft) != RAFT_LEADER) {
        *status = CTR_NOT_LEADER;
    } else if (q->op == CTR_OP_GET && !s->o.log_reads) {
        /* A read changes nothing: no session, no log entry, and a retry
         * simply reads again. */
        return ANSWER_AFTER_READ;
    } else if ((se = ses_find(&s->sm.ses, q->client_id)) != NULL && q->seq <= se->seq) {
        /* Already applied: a retry. Only the latest result is kept. */
        *status = q->seq == se->seq ? CTR_OK : CTR_BAD_REQUEST;
        *value = se->value;
    } else {
        return ANSWER_AFTER_COMMIT;
    }
    return ANSWER_NOW;
}

/* Add the GET in c's slot to this iteration's batch (reads_start). */
static void read_add(struct server *s, struct conn *c, unsigned slot)
{
    struct read_req *q = s->reads_free;
    s->reads_free = q->next;
    q->c = c;
    q->slot = slot;
    q->next = NULL;
    c->reads++;
    *s->batch_reads_end = q;
    s->batch_reads_end = &q->next;
}

/*
 * Ask the library to confirm one read for every GET read in this loop
 * iteration: one raft_read_index() call, so they all share the next
 * heartbeat round. (One call per GET would put the first alone in a
 * round whenever none is in flight, and the others in the round after
 * it.) The read index the library takes now is at least the commit index
 * at each GET's arrival, so one answer serves them all. The records are
 * registered before the call: the callback may run inside it (a one-voter
 * cluster, or a lease).
 */
static void reads_start(struct server *s)
{
    struct read_req *q = s->batch_reads;
    int rc;
    if (q == NULL) {
        return;
    }
    s->batch_reads = NULL;
    s->batch_reads_end = &s->batch_reads;
    run_ticks(s); /* the lease is judged after every tick up to now */
    rc = raft_read_index(s->raft, q);
    if (rc == RAFT_EAPPLY) {
        rc = 0; /* accepted; an apply failure is logged where it happens */
    }
    if (rc != 0) {
        /* Not accepted: no callback will come. */
        logm(rc == RAFT_ENOTLEADER || rc == RAFT_EFULL || rc == RAFT_ETRANSFER
                 ? L_DEBUG : L_ERR,
             "read: %s", raft_strerror(rc));
        reads_settle(s, q, rc == RAFT_ENOTLEADER ? CTR_NOT_LEADER : CTR_RETRY);
    }
}

static bool batch_room(const struct server *s)
{
    return s->batch_n < MAX_ENTRIES && s->batch_n < pending_room(s);
}

static const char *change_text(uint8_t op)
{
    return op == CTR_OP_ADD_LEARNER ? "as a learner"
           : op == CTR_OP_ADD_VOTER ? "as a voter"
                                    : "removed";
}

/* A membership change from a client: one change, made in one step (the
 * library needs no joint configuration to add or remove one voter). It is
 * answered once its entry is applied, i.e. committed (pending_resolve). A
 * change the configuration already reflects is answered at once: so a
 * client that retries after losing the answer learns it succeeded. */
static void change_start(struct server *s, struct conn *c, unsigned slot,
                         const struct ctr_req *q)
{
    struct raft_change ch;
    struct raft_status st;
    struct pending *p;
    unsigned flags = 0;
    bool in = conf_has(s->raft, q->amount, &flags), done;
    uint64_t mark = s->pend_tail;
    raft_index index = 0;
    uint8_t status;
    int rc;
    raft_status(s->raft, &st);
    ch.id = q->amount;
    if (q->op == CTR_OP_ADD_LEARNER) {
        ch.type = RAFT_CHANGE_ADD_LEARNER;
        done = in && flags == RAFT_MEMBER_LEARNER;
    } else if (q->op == CTR_OP_ADD_VOTER) {
        ch.type = RAFT_CHANGE_ADD_VOTER;
        done = in && flags == RAFT_MEMBER_VOTER;
    } else {
        ch.type = RAFT_CHANGE_REMOVE;
        done = !in;
    }
    if (!in && q->op != CTR_OP_REMOVE) {
        /* A CONF answer carries at most CTR_MEMBERS_MAX members: a
         * cluster larger than that could not be shown to its clients. */
        size_t members = 0;
        (void)raft_conf(s->raft, NULL, 0, &members); /* RAFT_ENOBUFS */
        if (members >= CTR_MEMBERS_MAX) {
            logm(L_INFO, "membership change n%" PRIu64 " %s refused: the "
                 "cluster has %zu members, the most this server supports",
                 ch.id, change_text(q->op), members);
            slot_done(c, slot, CTR_CHANGE_REFUSED, (uint64_t)-RAFT_EINVAL);
            return;
        }
    }
    if (done && !st.joint) {
        /* Not committed yet: the client asks again shortly. */
        slot_done(c, slot, st.commit >= st.conf_index ? CTR_OK : CTR_RETRY,
                  st.conf_index);
        return;
    }
    /* Registered first: the entry may be applied within the call. */
    p = &s->pend[s->pend_tail++ % MAX_PENDING];
    p->index = st.last_index + 1;
    p->term = st.term;
    p->c = c;
    p->slot = slot;
    rc = raft_propose_change(s->raft, &ch, 1, RAFT_JOINT_AUTO, &index);
    if (rc == RAFT_EAPPLY) {
        rc = 0; /* appended; an apply failure is logged where it happens */
    }
    if (rc == 0 && index != st.last_index + 1) {
        logm(L_ERR, "change got index %" PRIu64 ", expected %" PRIu64, index,
             st.last_index + 1);
        pending_fail_all(s);
        return;
    }
    if (rc == 0) {
        logm(L_INFO, "membership change proposed: n%" PRIu64 " %s (entry %"
             PRIu64 ")", ch.id, change_text(q->op), index);
        return;
    }
    status = rc == RAFT_ENOTLEADER                            ? CTR_NOT_LEADER
             : rc == RAFT_EBADCONF || rc == RAFT_EINVAL ? CTR_CHANGE_REFUSED
                                                              : CTR_RETRY;
    logm(status == CTR_CHANGE_REFUSED ? L_INFO : L_DEBUG,
         "membership change n%" PRIu64 " %s not proposed: %s", ch.id,
         change_text(q->op), raft_strerror(rc));
    pending_fail_from(s, mark, status);
    slot_done(c, slot, status, status == CTR_CHANGE_REFUSED ? (uint64_t)-rc : 0);
}

/* A leadership transfer from a client: answered once it has started (or
 * at once if this node is the target); the client watches STATUS for the
 * new leader. */
static void transfer_start(struct server *s, struct conn *c, unsigned slot,
                           raft_id id)
{
    uint8_t status = CTR_OK;
    int rc = id == s->o.id ? 0 : raft_transfer_leadership(s->raft, id);
    if (rc == 0 && id != s->o.id) {
        logm(L_INFO, "transferring leadership to n%" PRIu64, id);
    } else if (rc != 0) {
        status = rc == RAFT_ENOTLEADER                            ? CTR_NOT_LEADER
                 : rc == RAFT_EBADCONF || rc == RAFT_EINVAL ? CTR_CHANGE_REFUSED
                                                                  : CTR_RETRY;
        logm(status == CTR_CHANGE_REFUSED ? L_INFO : L_DEBUG,
             "leadership transfer to n%" PRIu64 " not started: %s", id,
             raft_strerror(rc));
    }
    slot_done(c, slot, status, status == CTR_CHANGE_REFUSED ? (uint64_t)-rc : 0);
}

/* Handle the next buffered request of c; false to stop reading from c. */
static bool client_next(struct server *s, struct conn *c)
{
    struct ctr_req q;
    uint8_t status;
    uint64_t value;
    unsigned slot;
    int how;
    if (ctr_req_decode(c->in.p + c->in.off, CTR_REQ_LEN, &q) != 0) {
        conn_kill(c, L_INFO, "malformed request");
        return false;
    }
    how = classify(s, &q, &status, &value);
    if ((how == ANSWER_AFTER_COMMIT && !batch_room(s)) ||
        (how == ANSWER_AFTER_READ && s->reads_free == NULL) ||
        (how == ANSWER_AFTER_CHANGE && pending_room(s) <= s->batch_n)) {
        return false;
    }
    buf_consume(&c->in, CTR_REQ_LEN);
    slot = (c->head + c->count++) % CLIENT_DEPTH;
    c->slots[slot].state = SLOT_WAIT;
    c->extra[slot] = q.op == CTR_OP_METRICS ? EXTRA_METRICS
                     : q.op == CTR_OP_CONF  ? EXTRA_CONF
                                            : EXTRA_NONE;
    if (how == ANSWER_NOW) {
        slot_done(c, slot, status, value);
        return true;
    }
    if (how == ANSWER_AFTER_READ) {
        read_add(s, c, slot);
        return true;
    }
    if (how == ANSWER_AFTER_CHANGE) {
        change_start(s, c, slot, &q);
        return true;
    }
    if (how == ANSWER_TRANSFER) {
        transfer_start(s, c, slot, q.amount);
        return true;
    }
    cmd_encode(&q, s->cmd[s->batch_n]);
    s->bufs[s->batch_n].base = s->cmd[s->batch_n];
    s->bufs[s->batch_n].len = CMD_LEN;
    s->batch_conn[s->batch_n] = c;
    s->batch_slot[s->batch_n] = slot;
    s->batch_n++;
    return true;
}

/* Propose the batch as one raft_propose_batch: one append, one fsync.
 * Each request is registered under the index it will get before the call,
 * because the entry may be applied before the call returns. */
static void propose_batch(struct server *s)
{
    struct raft_status st;
    raft_index first = 0;
    uint64_t mark = s->pend_tail;
    size_t i;
    int rc;
    raft_status(s->raft, &st);
    for (i = 0; i < s->batch_n; i++) {
        struct pending *p = &s->pend[s->pend_tail++ % MAX_PENDING];
        p->index = st.last_index + 1 + i;
        p->term = st.term;
        p->c = s->batch_conn[i];
        p->slot = s->batch_slot[i];
    }
    rc = raft_propose_batch(s->raft, s->bufs, s->batch_n, &first);
    if (rc == RAFT_EAPPLY) {
        rc = 0; /* appended; an apply failure is logged where it happens */
    }
    if (rc == 0 && first != st.last_index + 1) {
        logm(L_ERR, "proposal got index %" PRIu64 ", expected %" PRIu64, first,
             st.last_index + 1);
        pending_fail_all(s);
    } else if (rc != 0) {
        logm(rc == RAFT_ENOTLEADER || rc == RAFT_ETRANSFER ? L_DEBUG : L_ERR,
             "propose %zu: %s", s->batch_n, raft_strerror(rc));
        pending_fail_from(s, mark, rc == RAFT_ENOTLEADER ? CTR_NOT_LEADER
                                                        : CTR_RETRY);
    }
    s->batch_n = 0;
}

/* The library's counters, in the order of the METRICS answer. */
static void metrics_fill(const struct server *s, struct ctr_resp *r)
{
    struct raft_metrics m;
    if (raft_metrics(s->raft, &m, sizeof(m)) != 0) {
        memset(&m, 0, sizeof(m));
    }
    r->n_metrics = 0;
#define CTR_M_PUT(group, name, field) r->metrics[r->n_metrics++] = m.field;
    CTR_METRICS_MAP(CTR_M_PUT)
#undef CTR_M_PUT
}

/* The configuration in force and, on the leader, every member's progress,
 * for a CONF answer. */
static void conf_fill(const struct server *s, struct ctr_resp *r)
{
    struct raft_member m[CTR_MEMBERS_MAX];
    struct raft_status st;
    struct raft_progress pr;
    size_t n = 0, i, k;
    raft_status(s->raft, &st);
    r->last_index = st.last_index;
    r->conf_index = st.conf_index;
    r->conf_flags = st.joint ? CTR_CONF_JOINT : 0;
    if (raft_conf(s->raft, m, CTR_MEMBERS_MAX, &n) != 0) {
        n = 0;
    }
    memset(r->members, 0, sizeof(r->members));
    for (i = 0; i < n; i++) {
        r->members[i].id = m[i].id;
        r->members[i].flags = m[i].flags;
        r->members[i].self = m[i].id == s->o.id;
    }
    r->n_members = (uint32_t)n;
    if (st.role != RAFT_LEADER) {
        return;
    }
    r->conf_flags |= CTR_CONF_PROGRESS;
    /* raft_progress: the members in raft_conf's order, then the leader if
     * it is not one: at most n + 1. */
    for (i = 0; i <= n && raft_progress(s->raft, i, &pr) == 0; i++) {
        for (k = 0; k < r->n_members && r->members[k].id != pr.id; k++) {
        }
        if (k == r->n_members) {
            if (k == CTR_MEMBERS_MAX) {
                break;
            }
            r->members[k].id = pr.id;
            r->members[k].self = pr.self;
            r->n_members++;
        }
        r->members[k].state = (uint32_t)pr.state;
        r->members[k].match = pr.match;
        r->members[k].next = pr.next;
        r->members[k].snapshot_acked = pr.snapshot_acked;
        r->members[k].inflight = pr.inflight;
    }
}

static void client_answer(struct server *s, struct conn *c)
{
    struct raft_status st;
    struct ctr_resp r;
    const struct peer *lp;
    bool have_metrics = false, have_conf = false;
    if (c->count == 0 || c->slots[c->head].state != SLOT_DONE) {
        return;
    }
    raft_status(s->raft, &st);
    lp = peer_by_id(s, st.leader);
    memset(&r, 0, sizeof(r));
    r.role = (uint8_t)st.role;
    r.leader_id = st.leader;
    r.term = st.term;
    r.commit = st.commit;
    r.applied = st.applied;
    r.node_id = s->o.id;
    snprintf(r.addr, sizeof(r.addr), "%s", lp != NULL ? lp->addr : "");
    if (buf_used(&c->out) == 0) {
        c->out_ms = s->conn_now; /* the stall clock starts with the queue */
    }
    while (c->count > 0 && c->slots[c->head].state == SLOT_DONE &&
           buf_reserve(&c->out, RESP_MAX) == 0) {
        r.status = c->slots[c->head].status;
        r.value = c->slots[c->head].value;
        r.has_metrics = c->extra[c->head] == EXTRA_METRICS;
        r.has_conf = c->extra[c->head] == EXTRA_CONF;
        if (r.has_metrics && !have_metrics) {
            metrics_fill(s, &r);
            have_metrics = true;
        }
        if (r.has_conf && !have_conf) {
            conf_fill(s, &r);
            have_conf = true;
        }
        c->out.len += ctr_resp_encode(&r, c->out.p + c->out.len);
        c->head = (c->head + 1) % CLIENT_DEPTH;
        c->count--;
    }
}

static bool client_ready(const struct conn *c)
{
    return c->kind == CONN_CLIENT && !c->dead && c->count < CLIENT_DEPTH &&
           buf_used(&c->in) >= CTR_REQ_LEN;
}

/* Take every buffered request (starting with a different connection each
 * time, for fairness): propose the INCRs as one batch, ask for one read
 * for the GETs. */
static void take_requests(struct server *s)
{
    size_t k, n = s->n_conns;
    for (k = 0; k < n; k++) {
        struct conn *c = s->conns[(s->rr + k) % n];
        while (client_ready(c) && client_next(s, c)) {
        }
    }
    s->rr++;
    if (s->batch_n > 0) {
        propose_batch(s);
    }
    reads_start(s);
}

/* Step the messages that peers' connections brought in this iteration.
 * After take_requests: the GETs that arrived with a heartbeat reply then
 * join the round that reply lets the leader start, rather than the one
 * after it. */
static void step_peers(struct server *s)
{
    size_t k;
    for (k = 0; k < s->n_conns; k++) {
        struct conn *c = s->conns[k];
        if (c->kind == CONN_PEER && !c->dead) {
            peer_input(s, c); /* consumes every whole frame */
            conn_track_partial(s, c, buf_used(&c->in));
        }
    }
}

/* Queue every answer that is ready, in order, and write each client's
 * answers with one send. */
static void answer_clients(struct server *s)
{
    size_t k, n = s->n_conns;
    s->more_work = false;
    for (k = 0; k < n; k++) {
        struct conn *c = s->conns[k];
        if (c->kind == CONN_CLIENT && !c->dead) {
            client_answer(s, c);
            conn_write(s, c);
            /* Requests left behind by a full batch: come back at once,
             * unless only commits (i.e. peer messages) can make room. */
            s->more_work |= client_ready(c) && pending_room(s) > 0;
        }
    }
}

/* ---- the loop ----------------------------------------------------------- */

static short conn_events(const struct conn *c)
{
    short ev = 0;
    if (!c->eof && !c->dead && buf_used(&c->in) < c->in.max) {
        ev |= POLLIN;
    }
    if (buf_used(&c->out) > 0) {
        ev |= POLLOUT;
    }
    return ev;
}

static size_t poll_build(struct server *s)
{
    size_t n = 0, i;
    s->pfd[n].fd = s->now < s->accept_paused_until ? -1 : s->lfd;
    s->pfd[n++].events = POLLIN;
    for (i = 0; i < s->o.n_peers; i++) {
        struct peer *p = &s->o.peers[i];
        s->pfd[n].fd = p->fd;
        s->pfd[n++].events = p->link == LINK_CONNECTING ? POLLOUT
                             : (short)(POLLIN | (buf_used(&p->out) ? POLLOUT : 0));
    }
    for (i = 0; i < s->n_conns; i++) {
        s->pfd[n].fd = s->conns[i]->fd;
        s->pfd[n++].events = conn_events(s->conns[i]);
    }
    s->n_polled = s->n_conns;
    s->wr_polled = !s->o.sync_persist;
    if (s->wr_polled) {
        s->pfd[n].fd = wr_fd(&s->wr);
        s->pfd[n++].events = POLLIN;
    }
    return n;
}

static int poll_timeout(const struct server *s)
{
    uint64_t now = tick_clock_ms();
    if (s->more_work || s->wrote_here || now >= s->next_tick) {
        return 0;
    }
    /* At least every POLL_MAX_MS, for the connection deadlines in reap(). */
    return s->next_tick - now < POLL_MAX_MS ? (int)(s->next_tick - now)
                                            : POLL_MAX_MS;
}

/* The clock of connection deadlines. It follows the monotonic clock but
 * counts at most CLOCK_STEP_MAX_MS per loop iteration. The loop wakes at
 * least every POLL_MAX_MS, so a longer gap means this process did not run
 * (SIGSTOP, a VM pause, a slow fsync): not the fault of the connections
 * whose bytes waited in the kernel meanwhile. */
static void conn_clock(struct server *s)
{
    uint64_t step = s->now - s->conn_clock_at;
    s->conn_now += step < CLOCK_STEP_MAX_MS ? step : CLOCK_STEP_MAX_MS;
    s->conn_clock_at = s->now;
}

static void poll_dispatch(struct server *s)
{
    size_t i, base = 1 + s->o.n_peers;
    for (i = 0; i < s->o.n_peers; i++) {
        peer_event(s, &s->o.peers[i], s->pfd[1 + i].revents);
    }
    /* Connections accepted below are not in pfd yet. */
    for (i = 0; i < s->n_polled; i++) {
        if (s->pfd[base + i].revents != 0) {
            conn_event(s, s->conns[i], s->pfd[base + i].revents);
        }
    }
    if (s->pfd[0].revents & POLLIN) {
        do_accept(s);
    }
}

static void flush_peers(struct server *s)
{
    size_t i;
    for (i = 0; i < s->o.n_peers; i++) {
        peer_flush(s, &s->o.peers[i]);
        peer_check_stall(s, &s->o.peers[i]);
        peer_check_refused(s, &s->o.peers[i]);
    }
}

/* Start the writes the iteration queued, once its messages left. A node
 * that does not lead makes them durable here, on this thread (see
 * wr_run_here), and the next iteration collects them without sleeping;
 * a leader's go to the writer thread while it goes on serving. */
static void start_writes(struct server *s)
{
    if (raft_role(s->raft) != RAFT_LEADER && wr_run_here(&s->wr) != 0) {
        s->wrote_here = true; /* cleared once collected */
    }
    wr_kick(&s->wr);
}

static int run(struct server *s)
{
    while (!g_stop) {
        size_t n = poll_build(s);
        bool woken;
        if (!s->o.sync_persist) {
            start_writes(s); /* after flush_peers: our messages left first */
        }
        if (poll(s->pfd, (nfds_t)n, poll_timeout(s)) < 0) {
            if (errno == EINTR) {
                continue;
            }
            logm(L_ERR, "poll: %s", strerror(errno));
            return -1;
        }
        s->now = ctr_now_ms();
        conn_clock(s);
        /* Durability first: it releases acknowledgements and commits. */
        woken = s->wr_polled && (s->pfd[n - 1].revents & POLLIN);
        if ((woken || s->wrote_here || s->unreported > 0) &&
            collect_writes(s, woken) != 0) {
            return -1;
        }
        poll_dispatch(s);
        run_ticks(s);
        take_requests(s);
        step_peers(s);
        answer_clients(s);
        snapshot_flush_sync(s);
        flush_peers(s);
        show_leader(s);
        reap(s);
    }
    return 0;
}

/* ---- startup ------------------------------------------------------------ */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int setup_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR */
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
        return -1;
    }
    sa.sa_handler = SIG_IGN; /* a closed socket is an error code, not a kill */
    return sigaction(SIGPIPE, &sa, NULL);
}

static int listen_open(struct server *s)
{
    struct sockaddr_in sa;
    int one = 1;
    if (ctr_parse_addr(s->o.listen, &sa) != 0) {
        logm(L_ERR, "--listen %s: not HOST:PORT", s->o.listen);
        return -1;
    }
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->lfd < 0 ||
        setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(s->lfd, (const struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(s->lfd, 128) != 0 || set_nonblock(s->lfd) != 0) {
        logm(L_ERR, "listen on %s: %s", s->o.listen, strerror(errno));
        return -1;
    }
    return 0;
}

/* The directory must belong to this node. It also holds the bootstrap
 * voters (none for a node that joined): all the library needs from it on
 * a restart, and only until the first leader has written them to the log. */
static int config_check(struct server *s, raft_id *voters, size_t *n)
{
    raft_id id;
    if (st_config_read(&s->st, &id, voters, MAX_PEERS, n) != 0) {
        logm(L_ERR, "%s", s->st.err);
        return -1;
    }
    if (id != s->o.id) {
        logm(L_ERR, "%s/config: belongs to node %" PRIu64 ", not --id %" PRIu64,
             s->o.data, id, s->o.id);
        return -1;
    }
    return 0;
}

/* The name of the segment holding index i, for messages. */
static const char *seg_holding(const struct storage *st, raft_index i,
                               char *name)
{
    size_t k;
    for (k = st->n_segs; k-- > 0;) {
        if (st->segs[k].first <= i || k == 0) {
            st_seg_name(st, k, name);
            return name;
        }
    }
    return "(no segment)";
}

/* raft_restore_snapshot() said RAFT_ESNAPSHOT: say which files disagree
 * and how. Nothing is repaired: entries the node acknowledged are gone. */
static void explain_esnapshot(struct server *s, const struct st_snapshot *snap,
                              const struct st_loaded *l)
{
    raft_index last = l->base + l->n - 1;
    char seg[ST_NAME_MAX];
    char what[512];
    if (l->base > snap->index + 1) {
        snprintf(what, sizeof(what), "the snapshot covers entries up to %"
                 PRIu64 " but the log starts at index %" PRIu64 " (%s): "
                 "entries %" PRIu64 "..%" PRIu64 " are missing", snap->index,
                 l->base, seg_holding(&s->st, l->base, seg), snap->index + 1,
                 l->base - 1);
    } else if (last < snap->index) {
        snprintf(what, sizeof(what), "the log ends at index %" PRIu64 " (%s), "
                 "before the snapshot's index %" PRIu64, last,
                 seg_holding(&s->st, last, seg), snap->index);
    } else if (snap->index >= l->base &&
               l->entries[snap->index - l->base].term != snap->term) {
        snprintf(what, sizeof(what), "entry %" PRIu64 " in %s has term %"
                 PRIu64 ", the snapshot says %" PRIu64, snap->index,
                 seg_holding(&s->st, snap->index, seg),
                 l->entries[snap->index - l->base].term, snap->term);
    } else {
        snprintf(what, sizeof(what), "the entry after it, in %s, has a lower "
                 "term than %" PRIu64, seg_holding(&s->st, snap->index + 1, seg),
                 snap->term);
    }
    logm(L_ERR, "%s/snap-%020" PRIu64 " (index %" PRIu64 ", term %" PRIu64 ") "
         "and the log in %s (indexes %" PRIu64 "..%" PRIu64 ") do not fit: %s; "
         "refusing to start", s->o.data, snap->index, snap->index, snap->term,
         s->o.data, l->base, last, what);
}

/* The latest valid snapshot, if any, loaded into the state machine. */
static int restore_snapshot_file(struct server *s, struct st_snapshot *snap,
                                 uint8_t **data, bool *found)
{
    char notes[1024];
    const char *why = NULL;
    if (st_snapshot_load(&s->st, snap, data, found, notes, sizeof(notes)) != 0) {
        logm(L_ERR, "%s", s->st.err);
        return -1;
    }
    if (notes[0] != '\0') {
        logm(L_ERR, "%s", notes);
    }
    if (!*found) {
        return 0;
    }
    if (sm_restore(&s->sm, snap->body, snap->body_len, &why) != 0) {
        logm(L_ERR, "%s/snap-%020" PRIu64 ": %s; refusing to start", s->o.data,
             snap->index, why);
        return -1;
    }
    return 0;
}

/* Start from the disk: the latest snapshot into the state machine, then
 * the log after it (raft_restore_snapshot skips what the snapshot covers
 * and refuses a log that does not continue it). */
static int restore(struct server *s, const raft_id *voters, size_t n)
{
    struct st_snapshot snap;
    struct raft_snapshot_meta meta;
    struct st_loaded l;
    uint8_t *data = NULL;
    bool found = false;
    raft_term term;
    raft_id vote;
    uint64_t t0 = ctr_now_ms();
    int rc;
    if (st_state_read(&s->st, &term, &vote) != 0) {
        logm(L_ERR, "%s", s->st.err);
        return -1;
    }
    if (restore_snapshot_file(s, &snap, &data, &found) != 0) {
        free(data);
        return -1;
    }
    if (st_log_load(&s->st, found ? snap.index : 0, &l) != 0) {
        logm(L_ERR, "%s", s->st.err);
        free(data);
        return -1;
    }
    if (l.torn) {
        logm(L_INFO, "%s/%s: cut a torn tail of %" PRIu64 " bytes at offset "
             "%" PRIu64 " (an interrupted write)", s->o.data, l.torn_file,
             l.torn_bytes, l.torn_offset);
    }
    if (found) {
        meta.index = snap.index;
        meta.term = snap.term;
        meta.conf = snap.conf;
        meta.conf_len = snap.conf_len;
        rc = raft_restore_snapshot(s->raft, &meta, term, vote, l.base,
                                   l.entries, l.n);
        if (rc == 0) {
            conf_remember(s, snap.conf, snap.conf_len, snap.index);
        }
        if (rc == RAFT_ESNAPSHOT) {
            explain_esnapshot(s, &snap, &l);
        }
    } else if (l.n > 0 && l.base != 1) {
        char seg[ST_NAME_MAX];
        logm(L_ERR, "%s/%s: the log starts at index %" PRIu64 " but there is no "
             "snapshot: entries 1..%" PRIu64 " are missing; refusing to start",
             s->o.data, seg_holding(&s->st, l.base, seg), l.base, l.base - 1);
        rc = RAFT_ESNAPSHOT;
    } else {
        rc = raft_restore(s->raft, n > 0 ? voters : NULL, n, term, vote,
                          l.entries, l.n);
    }
    if (rc != 0 && rc != RAFT_ESNAPSHOT) {
        logm(L_ERR, "restoring from %s: %s (term %" PRIu64 ", vote %" PRIu64
             ", %zu entries from index %" PRIu64 ", last term %" PRIu64 ")",
             s->o.data, raft_strerror(rc), term, vote, l.n, l.base,
             l.n ? l.entries[l.n - 1].term : 0);
    } else if (rc == 0) {
        char from[96] = "no snapshot";
        if (found) {
            snprintf(from, sizeof(from), "snapshot %" PRIu64 " (value %" PRIu64
                     ", %zu sessions)", snap.index, s->sm.counter, s->sm.ses.n);
            s->snap_base = s->snap_taken = snap.index;
        }
        logm(L_INFO, "restored from %s in %" PRIu64 " ms: %s, term %" PRIu64
             ", vote %" PRIu64 ", %zu log entries loaded (indexes %" PRIu64
             "..%" PRIu64 " in %zu segments, last term %" PRIu64 ")", s->o.data,
             ctr_now_ms() - t0, from, term, vote, l.n, l.base,
             l.base + l.n - 1, s->st.n_segs, l.n ? l.entries[l.n - 1].term : 0);
    }
    if (rc == 0 && found && st_io_set_current(&s->io, snap.index) != 0) {
        logm(L_ERR, "%s", s->io.err);
        rc = -1;
    }
    st_loaded_free(&l);
    free(data);
    return rc == 0 ? 0 : -1;
}

/* First start on an empty directory: a new cluster of the --bootstrap
 * voters (n > 0), or an empty node that joins a running one (--join, n
 * 0): it has no configuration and waits for a leader to add it. */
static int first_start(struct server *s, const raft_id *voters, size_t n)
{
    struct st_loaded l;
    char ids[256];
    size_t i, off = 0;
    int rc;
    if (st_config_write(&s->st, s->o.id, voters, n) != 0 ||
        st_log_load(&s->st, 0, &l) != 0) {
        logm(L_ERR, "%s", s->st.err);
        return -1;
    }
    st_loaded_free(&l);
    rc = n > 0 ? raft_bootstrap(s->raft, voters, n) : raft_join(s->raft);
    if (rc != 0) {
        logm(L_ERR, "%s: %s", n > 0 ? "bootstrap" : "join", raft_strerror(rc));
        return -1;
    }
    for (i = 0; i < n && off < sizeof(ids); i++) {
        int w = snprintf(ids + off, sizeof(ids) - off, " n%" PRIu64, voters[i]);
        off += w > 0 ? (size_t)w : 0;
    }
    if (n > 0) {
        logm(L_INFO, "bootstrapped a new cluster in %s, voters%s", s->o.data,
             ids);
    } else {
        logm(L_INFO, "started empty in %s to join a running cluster: waiting "
             "for its leader to add this node (counter-cli add-learner %" PRIu64
             ")", s->o.data, s->o.id);
    }
    return 0;
}

static int node_create(struct server *s)
{
    struct raft_config cfg;
    struct raft_callbacks cb = {.send = on_send,
                                .persist_state = on_persist_state,
                                .persist_entries = on_persist_entries,
                                .apply = on_apply,
                                .event = on_event,
                                .snapshot_read = on_snapshot_read,
                                .snapshot_write = on_snapshot_write,
                                .snapshot_install = on_snapshot_install,
                                .read = on_read};
    int rc;
    memset(&cfg, 0, sizeof(cfg));
    cfg.id = s->o.id;
    cfg.election_ticks = s->o.election_ticks;
    cfg.heartbeat_ticks = s->o.heartbeat_ticks;
    cfg.seed = s->o.seed;
    cfg.max_msg_entries = MAX_ENTRIES;
    cfg.max_msg_bytes = MAX_PAYLOAD;
    cfg.async_persist = !s->o.sync_persist;
    cfg.snapshot_trailing = s->o.snapshot_trailing;
    cfg.lease_reads = s->o.lease_reads;
    cfg.max_pending_reads = MAX_READS;
    s->wire.max_entries = MAX_ENTRIES;
    s->wire.max_entry_bytes = MAX_PAYLOAD;
    s->wire.max_msg_bytes = MAX_FRAME;
    rc = raft_create(&cfg, &cb, s, &s->raft);
    if (rc != 0) {
        logm(L_ERR, "raft_create: %s", raft_strerror(rc));
        return -1;
    }
    return 0;
}

/* Before anything can fail: cleanup must see no descriptor as open. */
static void server_init(struct server *s)
{
    size_t i;
    s->lfd = -1;
    s->st.dir_fd = -1;
    s->st.log_fd = -1;
    s->st.lock_fd = -1;
    s->io.dir_fd = s->io.cur_fd = s->io.recv_fd = -1;
    s->applied_fd = -1;
    ses_init(&s->sm.ses, SESSIONS_MAX);
    reads_init(s);
    for (i = 0; i < MAX_PEERS; i++) {
        s->o.peers[i].fd = -1;
        s->o.peers[i].link = LINK_DOWN;
    }
}

static int peers_init(struct server *s)
{
    size_t i;
    for (i = 0; i < s->o.n_peers; i++) {
        struct peer *p = &s->o.peers[i];
        p->out.max = PEER_OUT_MAX;
        if (p->id != s->o.id && buf_reserve(&p->out, PEER_OUT_MIN) != 0) {
            logm(L_ERR, "out of memory");
            return -1;
        }
    }
    return 0;
}

static int applied_open(struct server *s)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/applied", s->o.data);
    s->applied_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s->applied_fd < 0) {
        logm(L_ERR, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int server_start(struct server *s)
{
    raft_id voters[MAX_PEERS];
    size_t n = s->o.n_bootstrap;
    bool fresh;
    char conf[512];
    s->now = ctr_now_ms();
    s->conn_now = s->conn_clock_at = s->now;
    /* The data directory first: its lock and its checks say more than a
     * port in use would (a second server on the same directory). */
    if (st_open(&s->st, s->o.data, MAX_PAYLOAD, s->o.segment_bytes, &fresh) != 0) {
        logm(L_ERR, "%s", s->st.err);
        return -1;
    }
    if (st_io_open(&s->io, s->o.data) != 0) {
        logm(L_ERR, "%s", s->io.err);
        return -1;
    }
    if (s->o.record_applied && applied_open(s) != 0) {
        return -1;
    }
    if (fresh && n == 0 && !s->o.join) {
        logm(L_ERR, "%s holds no node yet: give --bootstrap ID,... to start a "
             "new cluster with those voters, or --join to start empty and be "
             "added to a running cluster", s->o.data);
        return -1;
    }
    memcpy(voters, s->o.bootstrap, n * sizeof(*voters));
    if ((!fresh && config_check(s, voters, &n) != 0) || node_create(s) != 0 ||
        (fresh ? first_start(s, voters, n) : restore(s, voters, n)) != 0) {
        return -1;
    }
    s->member = conf_has(s->raft, s->o.id, NULL);
    if (peers_init(s) != 0 || listen_open(s) != 0) {
        return -1;
    }
    if (!s->o.sync_persist && wr_start(&s->wr, &s->st, s->o.write_delay_ms) != 0) {
        logm(L_ERR, "starting the writer thread: %s", strerror(errno));
        return -1;
    }
    conf_text(s->raft, conf, sizeof(conf));
    logm(L_INFO, "listening on %s; configuration: %s; %zu addresses in "
         "--peers; tick %u ms, election %u ticks, "
         "heartbeat %u ticks; seed %" PRIu64 "; %s persistence; snapshot "
         "every %" PRIu64 " entries (0: never), %u trailing; GET %s",
         s->o.listen, conf, s->o.n_peers, s->o.tick_ms, s->o.election_ticks,
         s->o.heartbeat_ticks, s->o.seed,
         s->o.sync_persist ? "synchronous" : "asynchronous",
         s->o.snapshot_every, s->o.snapshot_trailing,
         s->o.log_reads     ? "through the log"
         : s->o.lease_reads ? "from the leader's lease (ReadIndex without it)"
                            : "by ReadIndex");
    s->next_tick = tick_clock_ms() + s->o.tick_ms;
    return 0;
}

static void server_stop(struct server *s)
{
    size_t i;
    for (i = 0; i < s->n_conns; i++) {
        conn_free(s->conns[i]);
    }
    for (i = 0; i < s->o.n_peers; i++) {
        if (s->o.peers[i].fd >= 0) {
            close(s->o.peers[i].fd);
        }
        buf_free(&s->o.peers[i].out);
    }
    if (s->lfd >= 0) {
        close(s->lfd);
    }
    wr_stop(&s->wr); /* finishes the queued writes */
    raft_destroy(s->raft);
    st_io_close(&s->io);
    st_close(&s->st);
    if (s->applied_fd >= 0) {
        close(s->applied_fd);
    }
    free(s->snap_file);
    ses_free(&s->sm.ses);
}

/* ---- flags -------------------------------------------------------------- */

#define PROG "counter-server"
#define PEERS_TEXT_MAX 4096u

static void usage(FILE *f)
{
    fprintf(f,
        "usage: " PROG " --id N --data DIR --peers ID=HOST:PORT,...\n"
        "                      --token-file PATH [--bootstrap ID,... | --join]\n"
        "                      [--listen HOST:PORT]\n"
        "                      [--tick-ms 50] [--election-ticks 10]\n"
        "                      [--heartbeat-ticks 1] [--seed N]\n"
        "                      [--quiet | --verbose] [--sync-persist]\n"
        "                      [--write-delay-ms N]\n"
        "                      [--snapshot-every 100000] [--snapshot-trailing 1024]\n"
        "                      [--segment-bytes 1048576] [--record-applied]\n"
        "                      [--lease-reads | --log-reads]\n"
        "       " PROG " -h | --help | --version\n"
        "  --peers is the address book: every node this one may talk to, this\n"
        "  node included, members or not (it may name future members); ids\n"
        "  and addresses distinct. The first start on an empty --data needs\n"
        "  --bootstrap (a new cluster with these voters; give every initial\n"
        "  node the same list) or --join (start empty, to be added to a\n"
        "  running cluster with counter-cli add-learner); later starts ignore\n"
        "  both: the configuration is in the log. --token-file holds\n"
        "  the cluster token (mode 0600, 16 to 128 bytes; one trailing\n"
        "  newline is ignored); every node and client needs the same one.\n"
        "  --listen defaults to this node's --peers address.\n"
        "  --tick-ms 1..10000; --election-ticks above --heartbeat-ticks.\n"
        "  --sync-persist writes and fsyncs inside the persist callbacks\n"
        "  instead of in batches; --write-delay-ms (testing) delays every batch.\n"
        "  --snapshot-every N: snapshot the state machine and compact the log\n"
        "  every N applied entries (0: never); --snapshot-trailing N: entries\n"
        "  kept behind a snapshot for followers slightly behind; --segment-bytes\n"
        "  N: log segment size; --record-applied (testing) appends every applied\n"
        "  entry to DIR/applied.\n"
        "  GET is a ReadIndex read (raft_read_index: a heartbeat round, no log\n"
        "  entry); --lease-reads answers it from the leader's lease instead\n"
        "  (assumes bounded clock drift, see README.md; give every node the\n"
        "  same setting); --log-reads sends it through the log, like INCR.\n");
}

/* One "ID=HOST:PORT" of --peers. */
static void parse_peer(struct ctr_flags *f, struct opts *o, char *item)
{
    char *eq = strchr(item, '='), *end = item;
    struct peer *p = &o->peers[o->n_peers];
    size_t i;
    if (eq == NULL) {
        ctr_flag_fail(f, "--peers: '%s' is not ID=HOST:PORT", item);
    }
    if (o->n_peers == MAX_PEERS) {
        ctr_flag_fail(f, "--peers: more than %d nodes", MAX_PEERS);
    }
    *eq = '\0';
    errno = 0;
    p->id = item[0] >= '0' && item[0] <= '9' ? strtoull(item, &end, 10) : 0;
    if (p->id == 0 || *end != '\0' || errno != 0) {
        ctr_flag_fail(f, "--peers: id '%s' must be a positive integer", item);
    }
    if (strlen(eq + 1) >= sizeof(p->addr) || ctr_parse_addr(eq + 1, &p->sa) != 0) {
        ctr_flag_fail(f, "--peers: '%s' (of node %" PRIu64 ") is not an IPv4 "
                      "HOST:PORT", eq + 1, p->id);
    }
    for (i = 0; i < o->n_peers; i++) {
        const struct peer *q = &o->peers[i];
        if (q->id == p->id) {
            ctr_flag_fail(f, "--peers: duplicate id %" PRIu64, p->id);
        }
        if (q->sa.sin_addr.s_addr == p->sa.sin_addr.s_addr &&
            q->sa.sin_port == p->sa.sin_port) {
            ctr_flag_fail(f, "--peers: duplicate address %s", eq + 1);
        }
    }
    strcpy(p->addr, eq + 1);
    o->n_peers++;
}

static void parse_peers(struct ctr_flags *f, struct opts *o, const char *arg)
{
    char list[PEERS_TEXT_MAX];
    char *save = NULL, *item;
    if (o->n_peers > 0) {
        ctr_flag_fail(f, "--peers: given twice (list every node in one "
                      "--peers)");
    }
    if (strlen(arg) >= sizeof(list)) {
        ctr_flag_fail(f, "--peers: longer than %u characters",
                      PEERS_TEXT_MAX - 1);
    }
    strcpy(list, arg);
    for (item = strtok_r(list, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        parse_peer(f, o, item);
    }
    if (o->n_peers == 0) {
        ctr_flag_fail(f, "--peers: empty list (want ID=HOST:PORT,...)");
    }
}

/* --bootstrap ID,ID,...: distinct positive ids. */
static void parse_bootstrap(struct ctr_flags *f, struct opts *o, const char *arg)
{
    char list[PEERS_TEXT_MAX];
    char *save = NULL, *item, *end;
    size_t i;
    if (o->n_bootstrap > 0) {
        ctr_flag_fail(f, "--bootstrap: given twice");
    }
    if (strlen(arg) >= sizeof(list)) {
        ctr_flag_fail(f, "--bootstrap: longer than %u characters",
                      PEERS_TEXT_MAX - 1);
    }
    strcpy(list, arg);
    for (item = strtok_r(list, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        raft_id id;
        if (o->n_bootstrap == MAX_PEERS) {
            ctr_flag_fail(f, "--bootstrap: more than %d voters", MAX_PEERS);
        }
        errno = 0;
        end = item;
        id = item[0] >= '0' && item[0] <= '9' ? strtoull(item, &end, 10) : 0;
        if (id == 0 || *end != '\0' || errno != 0) {
            ctr_flag_fail(f, "--bootstrap: id '%s' must be a positive integer",
                          item);
        }
        for (i = 0; i < o->n_bootstrap; i++) {
            if (o->bootstrap[i] == id) {
                ctr_flag_fail(f, "--bootstrap: duplicate id %" PRIu64, id);
            }
        }
        o->bootstrap[o->n_bootstrap++] = id;
    }
    if (o->n_bootstrap == 0) {
        ctr_flag_fail(f, "--bootstrap: empty list (want ID,ID,...)");
    }
}

static void parse_one(struct ctr_flags *f, struct opts *o)
{
    const char *v;
    if ((v = ctr_flag_value(f, "--id")) != NULL) {
        o->id = ctr_flag_u64(f, v, 1, UINT64_MAX);
    } else if ((v = ctr_flag_value(f, "--data")) != NULL) {
        if (v[0] == '\0') {
            ctr_flag_fail(f, "--data: must not be empty");
        }
        o->data = v;
    } else if ((v = ctr_flag_value(f, "--listen")) != NULL) {
        struct sockaddr_in sa;
        if (ctr_parse_addr(v, &sa) != 0) {
            ctr_flag_fail(f, "--listen: '%s' is not an IPv4 HOST:PORT", v);
        }
        o->listen = v;
    } else if ((v = ctr_flag_value(f, "--peers")) != NULL) {
        parse_peers(f, o, v);
    } else if ((v = ctr_flag_value(f, "--bootstrap")) != NULL) {
        parse_bootstrap(f, o, v);
    } else if (ctr_flag_is(f, "--join")) {
        o->join = true;
    } else if ((v = ctr_flag_value(f, "--token-file")) != NULL) {
        o->token_file = v;
    } else if ((v = ctr_flag_value(f, "--tick-ms")) != NULL) {
        o->tick_ms = (unsigned)ctr_flag_u64(f, v, 1, 10000);
    } else if ((v = ctr_flag_value(f, "--election-ticks")) != NULL) {
        o->election_ticks = (unsigned)ctr_flag_u64(f, v, 2, 1000000);
    } else if ((v = ctr_flag_value(f, "--heartbeat-ticks")) != NULL) {
        o->heartbeat_ticks = (unsigned)ctr_flag_u64(f, v, 1, 1000000);
    } else if ((v = ctr_flag_value(f, "--seed")) != NULL) {
        o->have_seed = true;
        o->seed = ctr_flag_u64(f, v, 0, UINT64_MAX);
    } else if ((v = ctr_flag_value(f, "--write-delay-ms")) != NULL) {
        o->write_delay_ms = (unsigned)ctr_flag_u64(f, v, 0, 60000);
    } else if ((v = ctr_flag_value(f, "--snapshot-every")) != NULL) {
        o->snapshot_every = ctr_flag_u64(f, v, 0, UINT64_MAX);
    } else if ((v = ctr_flag_value(f, "--snapshot-trailing")) != NULL) {
        o->snapshot_trailing = (unsigned)ctr_flag_u64(f, v, 1, 1000000000);
    } else if ((v = ctr_flag_value(f, "--segment-bytes")) != NULL) {
        o->segment_bytes = ctr_flag_u64(f, v, 4096, UINT64_MAX);
    } else if (ctr_flag_is(f, "--record-applied")) {
        o->record_applied = true;
    } else if (ctr_flag_is(f, "--lease-reads")) {
        o->lease_reads = true;
    } else if (ctr_flag_is(f, "--log-reads")) {
        o->log_reads = true;
    } else if (ctr_flag_is(f, "--sync-persist")) {
        o->sync_persist = true;
    } else if (ctr_flag_is(f, "--quiet")) {
        g_verbosity = L_ERR;
    } else if (ctr_flag_is(f, "--verbose")) {
        g_verbosity = L_DEBUG;
    } else {
        ctr_flag_unknown(f);
    }
}

/* Rules that involve more than one flag, the token file, defaults. */
static void check_opts(struct ctr_flags *f, struct opts *o)
{
    struct timespec ts;
    char err[CTR_TOKEN_ERR_MAX];
    size_t i;
    const char *self = NULL;
    if (o->id == 0 || o->data == NULL || o->n_peers == 0 ||
        o->token_file == NULL) {
        ctr_flag_fail(f, "%s: required (see --help)",
                      o->id == 0 ? "--id" : o->data == NULL ? "--data"
                      : o->n_peers == 0 ? "--peers" : "--token-file");
    }
    for (i = 0; i < o->n_peers; i++) {
        self = o->peers[i].id == o->id ? o->peers[i].addr : self;
    }
    if (self == NULL) {
        ctr_flag_fail(f, "--peers: must include this node (--id %" PRIu64 ")",
                      o->id);
    }
    if (o->n_bootstrap > 0 && o->join) {
        ctr_flag_fail(f, "--bootstrap and --join: choose one (a new cluster, "
                      "or joining a running one)");
    }
    for (i = 0; i < o->n_bootstrap && o->bootstrap[i] != o->id; i++) {
    }
    if (o->n_bootstrap > 0 && i == o->n_bootstrap) {
        ctr_flag_fail(f, "--bootstrap: must include this node (--id %" PRIu64
                      "); a node that is not an initial voter starts with "
                      "--join", o->id);
    }
    if (o->election_ticks <= o->heartbeat_ticks) {
        ctr_flag_fail(f, "--election-ticks: must exceed --heartbeat-ticks "
                      "(%u <= %u)", o->election_ticks, o->heartbeat_ticks);
    }
    if (o->lease_reads && o->log_reads) {
        ctr_flag_fail(f, "--lease-reads and --log-reads: choose one");
    }
    if (ctr_token_read(o->token_file, &o->token, err, sizeof(err)) != 0) {
        ctr_flag_fail(f, "--token-file: %s", err);
    }
    o->listen = o->listen ? o->listen : self;
    if (!o->have_seed) {
        clock_gettime(CLOCK_REALTIME, &ts);
        o->seed = o->id * 0x9e3779b97f4a7c15u ^ (uint64_t)ts.tv_sec * 1000000000u ^
                  (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
    }
}

/* Exits 0 for --help and --version, 2 on a bad flag. */
static void parse_args(struct opts *o, int argc, char **argv)
{
    struct ctr_flags f;
    o->tick_ms = 50;
    o->election_ticks = 10;
    o->heartbeat_ticks = 1;
    o->snapshot_every = 100000;
    o->snapshot_trailing = 1024;
    o->segment_bytes = ST_SEGMENT_BYTES_DEFAULT;
    ctr_flags_init(&f, PROG, usage, argc, argv);
    while (ctr_flags_next(&f)) {
        parse_one(&f, o);
    }
    if (f.i < argc) {
        fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[f.i]);
        usage(stderr);
        exit(2);
    }
    check_opts(&f, o);
}

int main(int argc, char **argv)
{
    struct server *s = calloc(1, sizeof(*s));
    int rc = 1;
    if (s == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    parse_args(&s->o, argc, argv);
    g_log_id = s->o.id;
    server_init(s);
    if (setup_signals() != 0) {
        logm(L_ERR, "sigaction: %s", strerror(errno));
    } else if (server_start(s) == 0 && run(s) == 0) {
        logm(L_INFO, "shutting down");
        rc = 0;
    }
    server_stop(s);
    free(s);
    return rc;
}
