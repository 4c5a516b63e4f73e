/*
 * step.c - the public driving calls (tick, step, propose, persisted):
 * entering and leaving a call, validating messages, dispatching them.
 *
 * Every mutating call has the same shape: refuse re-entry, validate
 * everything, reserve memory, persist, change the in-memory state while
 * recording effects, and flush them on the way out (node.h). That ordering
 * is what lets a failing call leave the node as it was.
 */
#include <string.h>

#include "conf.h"
#include "election.h"
#include "node.h"
#include "read.h"
#include "replication.h"
#include "snapshot.h"

/* ---- driving -------------------------------------------------------------- */

/* Why the gate is closed, in the order the reasons are reported. */
static int refused(const struct raft *r)
{
    if ((r->gate & RAFT__GATE_BUSY) != 0) {
        return RAFT_EBUSY;
    }
    if ((r->gate & RAFT__GATE_UNSTARTED) != 0) {
        return RAFT_ENOTSTARTED;
    }
    return RAFT_ESTOPPED;
}

/* Enter a mutating call that may start up to `writes` writes. */
static inline int enter(struct raft *r, size_t writes)
{
    int rc;
    if (r == NULL) {
        return RAFT_EINVAL;
    }
    if (r->gate != 0) {
        return refused(r);
    }
    rc = raft__writes_reserve(r, writes);
    if (rc != 0) {
        return rc;
    }
    r->gate = RAFT__GATE_BUSY;
    return 0;
}

/* Leave a mutating call: carry out its effects. The call's own error wins
 * over a failure to apply (applying is retried at the next call). A node
 * that stopped during the call stays stopped. The slice cache
 * (replication.c) lives for one call: the log may change before the next. */
static RAFT__ALWAYS_INLINE int leave(struct raft *r, int rc)
{
    int frc = raft__effects_flush(r);
    r->ents_n = 0;
    r->gate &= (uint8_t)~RAFT__GATE_BUSY;
    return rc != 0 ? rc : frc;
}

/* Writes a tick may start: a new term and vote. */
#define TICK_WRITES 1u
/* Writes a message may start: a new term, the entries, and the no-op of a
 * won election. */
#define STEP_WRITES 3u

int raft_tick(struct raft *r)
{
    int rc = enter(r, TICK_WRITES);
    if (rc != 0) {
        return rc;
    }
    r->now++;
    if (r->role == RAFT_LEADER) {
        rc = raft__repl_tick(r);
    } else {
        if (r->rq_len != 0) {
            raft__read_tick(r);
        }
        if (++r->election_elapsed >= r->election_timeout) {
            rc = raft__election_timeout(r);
        }
    }
    return leave(r, rc);
}

/* The category of a rejection by raft_step's validation or term check
 * (the other sites, in replication.c, count their own). */
static int reject_kind(int rc)
{
    switch (rc) {
    case RAFT_ESTALE:
        return RAFT_REJECT_STALE_TERM;
    case RAFT_ENOTMEMBER:
        return RAFT_REJECT_NOT_MEMBER;
    case RAFT_ETOOBIG:
        return RAFT_REJECT_TOO_BIG;
    default:
        return RAFT_REJECT_MALFORMED;
    }
}

static int reject(struct raft *r, const struct raft_msg *m, int rc,
                  const char *why)
{
    r->metrics.rejected[reject_kind(rc)]++;
    raft__emit(r, RAFT_EVENT_MSG_REJECTED, m->from, rc, why);
    return rc;
}

/* (index, term) pairs: index 0 goes with term 0 and only with it. */
static bool pair_ok(raft_index index, raft_term term, raft_term msg_term)
{
    return (index == 0) == (term == 0) && term <= msg_term;
}

/* The entries, checked one by one: the first fault, in the order a
 * reader meets them, or else their payload bytes in *bytes (out) and, as
 * the result, the most members of a configuration among them (0: none).
 * Taken when validate_append's pass meets a configuration entry or a
 * fault. */
static int entries_check(const struct raft_msg *m, size_t *bytes,
                         const char **why)
{
    const struct raft_msg_append *a = &m->u.append;
    raft_term prev = a->prev_term;
    size_t sum = 0, members, conf_n = 0;
    size_t i;
    /* Bounded by RAFT_MAX_ACCEPT_ENTRIES. */
    for (i = 0; i < a->n_entries; i++) {
        const struct raft_entry *e = &a->entries[i];
        if (e->term == 0 || e->term < prev || e->term > m->term) {
            *why = "entry terms out of order";
            return RAFT_EBADMSG;
        }
        if (e->type < RAFT_ENTRY_COMMAND || e->type > RAFT_ENTRY_CONFIG) {
            *why = "unknown entry type";
            return RAFT_EBADMSG;
        }
        if (e->buf == NULL && e->len > 0) {
            *why = "entry payload missing";
            return RAFT_EBADMSG;
        }
        if (e->len > RAFT_MAX_ACCEPT_BYTES - sum) {
            *why = "too many payload bytes";
            return RAFT_ETOOBIG;
        }
        if (e->type == RAFT_ENTRY_CONFIG) {
            if (raft__conf_check(e->buf, e->len, &members) != 0) {
                *why = "malformed configuration entry";
                return RAFT_EBADMSG;
            }
            if (members > conf_n) {
                conf_n = members; /* at most RAFT_MAX_MEMBERS */
            }
        }
        sum += e->len;
        prev = e->term;
    }
    *bytes = sum;
    return (int)conf_n;
}

/* Validate an AppendEntries; *bytes (out) receives its payload bytes.
 * Returns a negative code, 0, or (valid, carrying configurations) the
 * most members of one of them. */
static int validate_append(const struct raft_msg *m, size_t *bytes,
                           const char **why)
{
    const struct raft_msg_append *a = &m->u.append;
    raft_term prev = a->prev_term;
    uint64_t sum = 0;
    size_t i;
    if (!pair_ok(a->prev_index, a->prev_term, m->term)) {
        *why = "impossible previous entry";
        return RAFT_EBADMSG;
    }
    if (a->n_entries > 0 && a->entries == NULL) {
        *why = "entries missing";
        return RAFT_EBADMSG;
    }
    if (a->n_entries > RAFT_MAX_ACCEPT_ENTRIES) {
        *why = "too many entries";
        return RAFT_ETOOBIG;
    }
    if (a->prev_index > UINT64_MAX - 1 - a->n_entries) {
        *why = "index range overflows";
        return RAFT_EBADMSG;
    }
    /* Terms that never decrease (so the first is the least and the last
     * the greatest, checked after the loop), commands and no-ops,
     * payloads present, and a byte total that cannot overflow (at most
     * RAFT_MAX_ACCEPT_ENTRIES lengths of at most RAFT_MAX_ACCEPT_BYTES
     * each). Anything else stops the pass: entries_check then checks
     * every entry, configurations included, and names the first fault.
     * Bounded by RAFT_MAX_ACCEPT_ENTRIES. */
    for (i = 0; i < a->n_entries; i++) {
        const struct raft_entry *e = &a->entries[i];
        if (e->term < prev ||
            (unsigned)e->type - RAFT_ENTRY_COMMAND >
                (unsigned)(RAFT_ENTRY_NOOP - RAFT_ENTRY_COMMAND) ||
            e->len > RAFT_MAX_ACCEPT_BYTES || (e->buf == NULL && e->len > 0)) {
            return entries_check(m, bytes, why);
        }
        sum += e->len;
        prev = e->term;
    }
    if (a->n_entries > 0 &&
        (a->entries[0].term == 0 || prev > m->term || sum > RAFT_MAX_ACCEPT_BYTES)) {
        return entries_check(m, bytes, why);
    }
    *bytes = (size_t)sum;
    return 0;
}

/* Every type but AppendEntries and its reply, and unknown types (out of
 * the common path). */
RAFT__NOINLINE static int validate_other(const struct raft_msg *m,
                                         const char **why)
{
    const struct raft_msg_snapshot *s = &m->u.snapshot;
    size_t members;
    switch (m->type) {
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PREVOTE:
        if (!pair_ok(m->u.vote.last_index, m->u.vote.last_term, m->term)) {
            *why = "impossible last entry";
            return RAFT_EBADMSG;
        }
        return 0;
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE_RESP:
        if (!pair_ok(m->u.vote_resp.last_index, m->u.vote_resp.last_term, m->term)) {
            *why = "impossible last entry";
            return RAFT_EBADMSG;
        }
        return 0;
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_HEARTBEAT_RESP:
        if (m->u.heartbeat.round == 0 && m->type == RAFT_MSG_HEARTBEAT) {
            *why = "impossible round";
            return RAFT_EBADMSG;
        }
        return 0;
    case RAFT_MSG_TIMEOUT_NOW:
        return 0;
    case RAFT_MSG_READ:
    case RAFT_MSG_READ_RESP:
        if (m->u.read.id == 0 ||
            (m->type == RAFT_MSG_READ_RESP && (m->u.read.index == 0) == m->u.read.ok)) {
            *why = "impossible read";
            return RAFT_EBADMSG;
        }
        return 0;
    default:
        break;
    }
    if (m->type == RAFT_MSG_SNAPSHOT_RESP) {
        if (m->u.snapshot_resp.index == 0) {
            *why = "impossible snapshot index";
            return RAFT_EBADMSG;
        }
        return 0;
    }
    if (m->type != RAFT_MSG_SNAPSHOT) {
        *why = "unknown message type";
        return RAFT_EBADMSG;
    }
    if (s->index == 0 || s->index == UINT64_MAX || s->index_term == 0 ||
        s->index_term > m->term) {
        *why = "impossible last entry";
        return RAFT_EBADMSG;
    }
    if (s->len > 0 && s->data == NULL) {
        *why = "chunk data missing";
        return RAFT_EBADMSG;
    }
    if (s->len > RAFT_MAX_ACCEPT_BYTES) {
        *why = "chunk too big";
        return RAFT_ETOOBIG;
    }
    if (s->offset > UINT64_MAX - s->len) {
        *why = "chunk range overflows";
        return RAFT_EBADMSG;
    }
    if (s->last ? raft__conf_check(s->conf, s->conf_len, &members) != 0
                : s->conf_len != 0) {
        *why = "malformed snapshot configuration";
        return RAFT_EBADMSG;
    }
    return 0;
}

/* Messages a node takes from anyone: requests (their sender may be a
 * leader or a candidate of a configuration this node has not seen yet, a
 * leader that removed itself and hands over, a node waiting to join that
 * asks for a read index) and the answer to a read. Only the other replies
 * need the sender's slot: they update its progress or count its vote. */
static bool from_anyone(int type)
{
    return type != RAFT_MSG_VOTE_RESP && type != RAFT_MSG_PREVOTE_RESP &&
           type != RAFT_MSG_APPEND_RESP && type != RAFT_MSG_SNAPSHOT_RESP &&
           type != RAFT_MSG_HEARTBEAT_RESP;
}

/* Returns a negative code, 0, or validate_append's count. *pr (out) is
 * the sender's slot, NULL if it has none or is not looked up, set unless
 * the message is refused before its sender is checked. */
static int validate(struct raft *r, const struct raft_msg *m,
                    struct raft__progress **pr, size_t *bytes, const char **why)
{
    if (m->to != r->cfg.id) {
        *why = "addressed to another node";
        return RAFT_EBADMSG;
    }
    if (m->from == r->cfg.id) {
        *why = "sent by this node";
        return RAFT_ENOTMEMBER;
    }
    /* An AppendEntries, taken from anyone, is handled without a slot:
     * no lookup. */
    *pr = m->type == RAFT_MSG_APPEND ? NULL : raft__member(r, m->from);
    if (*pr == NULL && (m->from == 0 || !from_anyone(m->type))) {
        *why = m->from == 0 ? "sender id 0" : "sender is not a member";
        return RAFT_ENOTMEMBER;
    }
    if (m->term == 0 || m->term == UINT64_MAX) {
        *why = "impossible term";
        return RAFT_EBADMSG;
    }
    /* The replication pair first, by compares: a switch over every type
     * would cost the common messages a jump table. */
    if (m->type == RAFT_MSG_APPEND) {
        return validate_append(m, bytes, why);
    }
    if (m->type == RAFT_MSG_APPEND_RESP) {
        if (m->u.append_resp.hint_index > m->u.append_resp.index ||
            !pair_ok(m->u.append_resp.hint_index, m->u.append_resp.hint_term,
                     m->term)) {
            *why = "impossible hint";
            return RAFT_EBADMSG;
        }
        return 0;
    }
    return validate_other(m, why);
}

/* Answer a request from an older term so its sender learns ours (5.1).
 * Out of line: rare, and its message on the stack would cost every call. */
RAFT__NOINLINE static void reply_stale(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg out;
    memset(&out, 0, sizeof(out));
    out.from = r->cfg.id;
    out.to = m->from;
    out.term = r->term;
    if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE) {
        out.type = m->type == RAFT_MSG_VOTE ? RAFT_MSG_VOTE_RESP : RAFT_MSG_PREVOTE_RESP;
        out.u.vote_resp.granted = false;
        out.u.vote_resp.last_index = raft__log_last(&r->log);
        out.u.vote_resp.last_term = raft__log_last_term(&r->log);
    } else if (m->type == RAFT_MSG_HEARTBEAT) {
        out.type = RAFT_MSG_HEARTBEAT_RESP;
        out.u.heartbeat.round = 0; /* acknowledges no round of any term */
    } else if (m->type == RAFT_MSG_READ) {
        out.type = RAFT_MSG_READ_RESP;
        out.u.read.id = m->u.read.id;
        out.u.read.ok = false;
    } else if (m->type == RAFT_MSG_SNAPSHOT) {
        out.type = RAFT_MSG_SNAPSHOT_RESP;
        out.u.snapshot_resp.index = m->u.snapshot.index;
    } else {
        out.type = RAFT_MSG_APPEND_RESP;
        out.u.append_resp.success = false;
        out.u.append_resp.index = m->u.append.prev_index;
    }
    raft__queue(r, &out, RAFT__AFTER_STATE);
}

/* Leader stickiness: a vote or pre-vote request of a higher term (with
 * leases, or of our own term whose leader we do not know), while this
 * node has heard from a leader lately (or leads), is ignored. */
static int ignore_in_lease(struct raft *r, const struct raft_msg *m)
{
    r->metrics.rejected[RAFT_REJECT_IN_LEASE]++;
    raft__emit(r, RAFT_EVENT_MSG_REJECTED, m->from, 0,
               "vote request ignored: a leader was heard from lately");
    return 0;
}

/* The leader hands leadership over (thesis 3.10): campaign at once,
 * without a pre-vote, in a campaign voters hear despite stickiness. */
static int recv_timeout_now(struct raft *r, const struct raft_msg *m)
{
    /* It starts a campaign only from our leader, or from the leader of a
     * later term, and on a node that can campaign: it votes, and neither
     * the term nor the index space is exhausted. A later term is adopted
     * either way, as from any message. */
    bool campaign = (m->term > r->term ||
                     (r->role == RAFT_FOLLOWER && r->leader == m->from)) &&
                    raft__is_voter(r, r->self) && m->term < UINT64_MAX - 1 &&
                    raft__log_last(&r->log) < UINT64_MAX - 1;
    int rc;
    if (!campaign) {
        return m->term > r->term ? raft__become_follower(r, m->term, m->from)
                                 : 0;
    }
    /* Straight to the term after the sender's, in one write (Raft 5.2: the
     * term and the self-vote together), not through the sender's term
     * first: a failed write then leaves the node as it was, as a failed
     * election start does everywhere else, and delivered again the
     * message campaigns. */
    r->campaign_transfer = true;
    rc = raft__election_start_at(r, m->term + 1);
    r->campaign_transfer = false;
    return rc;
}

/* Every type but AppendEntries and its reply, of a term >= ours. Counted
 * per case, a constant slot each. */
RAFT__NOINLINE static int step_other(struct raft *r, struct raft__progress *pr,
                                     const struct raft_msg *m)
{
    switch (m->type) {
    case RAFT_MSG_VOTE:
        r->metrics.recv[RAFT_MSG_VOTE]++;
        /* A transfer's campaign was asked for by the leader itself, of
         * a voter: a late one (the transfer was abandoned, then the
         * target removed) from a node that is no voter here is held
         * back like any other. */
        if (raft__election_in_lease(r, m->term) &&
            (!m->u.vote.transfer || pr == NULL ||
             !raft__is_voter(r, (size_t)(pr - r->prs)))) {
            if (pr == NULL) {
                raft__repl_tell_removed(r, m->from);
            }
            return ignore_in_lease(r, m);
        }
        /* A higher term and a vote are persisted together there. */
        return raft__election_recv_vote(r, m);
    case RAFT_MSG_VOTE_RESP:
        r->metrics.recv[RAFT_MSG_VOTE_RESP]++;
        if (m->term > r->term) {
            return raft__become_follower(r, m->term, 0);
        }
        return raft__election_recv_vote_resp(r, pr, m);
    case RAFT_MSG_PREVOTE:
        r->metrics.recv[RAFT_MSG_PREVOTE]++;
        if (pr == NULL) {
            raft__repl_tell_removed(r, m->from); /* changes nothing here */
        }
        if (raft__election_in_lease(r, m->term)) {
            return ignore_in_lease(r, m);
        }
        return raft__election_recv_prevote(r, m); /* changes nothing */
    case RAFT_MSG_PREVOTE_RESP:
        r->metrics.recv[RAFT_MSG_PREVOTE_RESP]++;
        if (m->term > r->term && !m->u.vote_resp.granted) {
            /* Refused by a voter of a later term: catch up with it. A
             * grant carries the term asked about instead, not the
             * voter's. */
            return raft__become_follower(r, m->term, 0);
        }
        return raft__election_recv_prevote_resp(r, pr, m);
    case RAFT_MSG_SNAPSHOT:
        r->metrics.recv[RAFT_MSG_SNAPSHOT]++;
        return raft__snapshot_recv(r, m);
    case RAFT_MSG_SNAPSHOT_RESP:
        r->metrics.recv[RAFT_MSG_SNAPSHOT_RESP]++;
        if (m->term > r->term) {
            return raft__become_follower(r, m->term, 0);
        }
        return raft__snapshot_recv_resp(r, pr, m);
    case RAFT_MSG_HEARTBEAT:
        r->metrics.recv[RAFT_MSG_HEARTBEAT]++;
        return raft__read_recv_heartbeat(r, m);
    case RAFT_MSG_HEARTBEAT_RESP:
        r->metrics.recv[RAFT_MSG_HEARTBEAT_RESP]++;
        if (m->term > r->term) {
            return raft__become_follower(r, m->term, 0);
        }
        return raft__read_recv_heartbeat_resp(r, pr, m);
    case RAFT_MSG_TIMEOUT_NOW:
        r->metrics.recv[RAFT_MSG_TIMEOUT_NOW]++;
        return recv_timeout_now(r, m);
    case RAFT_MSG_READ:
        r->metrics.recv[RAFT_MSG_READ]++;
        if (m->term > r->term) {
            int rc = raft__become_follower(r, m->term, 0);
            if (rc != 0) {
                return rc;
            }
        }
        return raft__read_recv(r, m);
    default:
        r->metrics.recv[RAFT_MSG_READ_RESP]++;
        if (m->term > r->term) {
            return raft__become_follower(r, m->term, 0);
        }
        return raft__read_recv_resp(r, m);
    }
}

/* A valid message of a term other than ours: 0 if it goes on to be
 * stepped (a newer term, adopted by its handler), or the code of its
 * rejection. Out of line: the common messages carry our term. */
RAFT__NOINLINE static int other_term(struct raft *r, struct raft__progress *pr,
                                     const struct raft_msg *m)
{
    if (m->term > r->term) {
        if (pr != NULL && !from_anyone(m->type) && r->mflags[pr - r->prs] == 0) {
            /* A member a change removed, kept only to learn of its
             * removal (a late TimeoutNow may have made it campaign): its
             * newer term does not depose this leader. */
            return reject(r, m, RAFT_ENOTMEMBER, "sender was removed");
        }
        return 0;
    }
    r->metrics.recv[m->type]++;
    if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_APPEND ||
        m->type == RAFT_MSG_SNAPSHOT || m->type == RAFT_MSG_PREVOTE ||
        m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_READ) {
        reply_stale(r, m);
    }
    return reject(r, m, RAFT_ESTALE, "stale term");
}

static int step(struct raft *r, const struct raft_msg *m)
{
    struct raft__progress *pr;
    size_t bytes; /* AppendEntries: its payload bytes (set if valid) */
    const char *why; /* set if not valid */
    int rc = validate(r, m, &pr, &bytes, &why);
    if (rc < 0) {
        return reject(r, m, rc, why);
    }
    /* Valid from here on, so m->type is known. Counted per case below, a
     * constant slot each. */
    if (m->term != r->term) {
        int orc = other_term(r, pr, m);
        if (orc != 0) {
            return orc;
        }
    }
    switch (m->type) {
    case RAFT_MSG_APPEND:
        r->metrics.recv[RAFT_MSG_APPEND]++;
        if (rc > 0) {
            /* Configurations among the entries: rc members at most. */
            return raft__repl_recv_append_conf(r, m, bytes, (size_t)rc);
        }
        return raft__repl_recv_append(r, m, bytes);
    case RAFT_MSG_APPEND_RESP:
        r->metrics.recv[RAFT_MSG_APPEND_RESP]++;
        if (m->term > r->term) {
            return raft__become_follower(r, m->term, 0);
        }
        return raft__repl_recv_append_resp(r, pr, m);
    default:
        return step_other(r, pr, m);
    }
}

int raft_step(struct raft *r, const struct raft_msg *m)
{
    int rc = enter(r, STEP_WRITES);
    if (rc != 0) {
        return rc;
    }
    if (m == NULL) {
        r->gate = 0;
        return RAFT_EINVAL;
    }
    return leave(r, step(r, m));
}

int raft_propose_batch(struct raft *r, const struct raft_buf *bufs, size_t n,
                       raft_index *first_index)
{
    /* One write per message-sized piece (room is needed only for writes
     * that stay pending, in asynchronous mode). */
    size_t pieces = r != NULL && r->cfg.async_persist
                        ? n / r->cfg.max_msg_entries + 1
                        : 0;
    int rc = enter(r, pieces);
    if (rc != 0) {
        return rc;
    }
    if (bufs == NULL || n == 0) {
        rc = RAFT_EINVAL;
    } else if (!r->lead_open) {
        rc = r->role != RAFT_LEADER ? RAFT_ENOTLEADER : RAFT_ETRANSFER;
    } else {
        rc = raft__repl_propose(r, bufs, n, first_index);
    }
    return leave(r, rc);
}

int raft_propose(struct raft *r, const void *buf, size_t len, raft_index *index)
{
    /* raft_propose_batch with n == 1: the same writes reserved (one piece,
     * plus one as the batch's count has it when max_msg_entries is 1), the
     * same checks in the same order. */
    size_t pieces = r != NULL && r->cfg.async_persist
                        ? 1 + (r->cfg.max_msg_entries == 1)
                        : 0;
    int rc = enter(r, pieces);
    if (rc != 0) {
        return rc;
    }
    if (!r->lead_open) {
        rc = r->role != RAFT_LEADER ? RAFT_ENOTLEADER : RAFT_ETRANSFER;
    } else {
        rc = raft__repl_propose_one(r, buf, len, index);
    }
    return leave(r, rc);
}


int raft_read_index(struct raft *r, void *req)
{
    int rc = enter(r, 0);
    if (rc != 0) {
        return rc;
    }
    return leave(r, raft__read_add(r, req));
}

int raft_persisted(struct raft *r, size_t n, int status)
{
    raft_index durable;
    /* No write slot is taken here: only a candidate's completion, which
     * may win the election and append the term's first entry, starts a
     * write, so a failure report never fails for want of memory. */
    int rc = enter(r, 0);
    if (rc != 0) {
        return rc;
    }
    if (!r->cfg.async_persist || n > r->w_issued - r->w_done) {
        rc = RAFT_EINVAL;
    } else if (status == 0 && r->role == RAFT_CANDIDATE &&
               ((rc = raft__writes_reserve(r, 1)) != 0 ||
                (rc = raft__log_reserve(&r->log, 1, raft__lead_entry_bytes(r),
                                        1)) != 0)) {
        /* Room for the no-op of an election won now is missing: the
         * report is refused and the node unchanged. */
    } else if (status != 0) {
        /* What reached the disk is unknown: only a restart from it tells.
         * Nothing waiting for these writes may leave, and the node must
         * not go on as if it held what it cannot vouch for. */
        bool was_leader = r->role == RAFT_LEADER;
        raft__effects_discard(r);
        r->gate |= RAFT__GATE_STOPPED;
        r->fx_slow = true;
        raft__set_role(r, RAFT_FOLLOWER);
        r->leader = 0;
        if (was_leader) {
            raft__emit(r, RAFT_EVENT_STEP_DOWN, 0, RAFT_EPERSIST,
                       "a write failed");
        }
        rc = RAFT_ESTOPPED;
    } else {
        durable = r->durable;
        raft__writes_complete(r, n);
        r->metrics.writes_completed += n;
        if (r->durable > durable && r->role == RAFT_LEADER) {
            raft__repl_durable_advanced(r);
        }
        if (r->role == RAFT_CANDIDATE) {
            rc = raft__election_check_won(r);
        }
    }
    return leave(r, rc);
}

int raft_propose_change(struct raft *r, const struct raft_change *changes,
                        size_t n, int joint, raft_index *index)
{
    int rc = enter(r, 1);
    if (rc != 0) {
        return rc;
    }
    if (n == 0) {
        rc = RAFT_EINVAL;
    } else {
        rc = raft__conf_propose(r, changes, n, joint, index);
    }
    return leave(r, rc);
}

int raft_leave_joint(struct raft *r, raft_index *index)
{
    int rc = enter(r, 1);
    if (rc != 0) {
        return rc;
    }
    return leave(r, raft__conf_propose(r, NULL, 0, RAFT_JOINT_AUTO, index));
}

int raft_transfer_leadership(struct raft *r, raft_id id)
{
    int rc = enter(r, 0);
    if (rc != 0) {
        return rc;
    }
    return leave(r, raft__conf_transfer(r, id));
}

int raft_compact(struct raft *r, raft_index index)
{
    int rc = enter(r, 0);
    if (rc != 0) {
        return rc;
    }
    return leave(r, raft__snapshot_compact(r, index));
}
