/*
 * read.c - ReadIndex and lease reads (Raft thesis 6.4, 6.4.1).
 *
 * Reads wait in one FIFO ring. On the leader each read gets, once the
 * leader has committed an entry of its term, the commit index as its read
 * index and the next heartbeat round; a majority echoing that round (or a
 * later one) confirms it, and it is answered once applied (own reads) or
 * sent back (a follower's). One round is in flight at a time, so every
 * read asked for during a round trip shares the next round. Indexes and
 * rounds only grow along the ring, so reads settle from its head. On a
 * follower each read is forwarded to the leader (one message per call
 * covers every read so far) and settles when the leader's answer is
 * applied here. Every read in the ring was made in one term and role:
 * when either changes, they all fail.
 */
#include "read.h"

#include <string.h>

#include "heap.h"
#include "quorum.h"

static struct raft__read *rq_at(const struct raft *r, uint32_t k)
{
    return &r->rq[(r->rq_head + k) % r->rq_cap];
}

static void rq_pop(struct raft *r)
{
    r->rq_head = (r->rq_head + 1) % r->rq_cap;
    r->rq_len--;
}

/* Settle the head read: call the host back (own reads) and drop it. */
static void settle_head(struct raft *r, int status)
{
    struct raft__read x = *rq_at(r, 0);
    rq_pop(r);
    if (x.from != 0) {
        return; /* a follower's read, dropped: it asks again or gives up */
    }
    if (status == 0) {
        r->metrics.reads_served++;
        r->cb.read(r, r->ctx, x.req, x.index, 0);
    } else {
        r->metrics.reads_failed++;
        r->cb.read(r, r->ctx, x.req, 0, status);
    }
}

/* Fail every read if the term or role they were made in is gone. */
static void check_epoch(struct raft *r)
{
    if (r->rq_len == 0) {
        r->rq_term = r->term;
        r->rq_role = r->role;
        r->rq_new = 0;
        return;
    }
    if (r->rq_term == r->term && r->rq_role == r->role) {
        return;
    }
    /* Bounded by the ring's length. */
    while (r->rq_len > 0) {
        settle_head(r, RAFT_ELEADERLOST);
    }
    r->rq_new = 0;
    r->rq_term = r->term;
    r->rq_role = r->role;
}

/* Room for one more read: RAFT_EFULL, RAFT_ENOMEM (the ring is allocated
 * at its first use) or 0. */
static int make_room(struct raft *r)
{
    if (r->rq == NULL) {
        r->rq = raft__heap_alloc(&r->cfg.allocator,
                                 (size_t)r->cfg.max_pending_reads * sizeof(*r->rq));
        if (r->rq == NULL) {
            return RAFT_ENOMEM;
        }
        r->rq_cap = r->cfg.max_pending_reads;
    }
    return r->rq_len < r->rq_cap ? 0 : RAFT_EFULL;
}

static void push(struct raft *r, void *req, raft_id from, uint64_t id)
{
    struct raft__read *x = rq_at(r, r->rq_len);
    x->req = req;
    x->from = from;
    x->id = id;
    x->index = 0;
    x->round = 0;
    x->ready = false;
    x->status = 0;
    r->rq_len++;
    r->rq_new++;
    r->read_work = true;
}

int raft__read_add(struct raft *r, void *req)
{
    int rc;
    if (r->cb.read == NULL) {
        return RAFT_EINVAL;
    }
    if (r->role != RAFT_LEADER && (r->role != RAFT_FOLLOWER || r->leader == 0)) {
        return RAFT_ENOTLEADER;
    }
    if (r->transfer_to != 0) {
        return RAFT_ETRANSFER;
    }
    check_epoch(r);
    rc = make_room(r);
    if (rc != 0) {
        return rc;
    }
    push(r, req, 0, r->role == RAFT_LEADER ? 0 : ++r->read_id);
    return 0;
}

/* ---- leader ---------------------------------------------------------------- */

/* The highest round a majority echoed (the leader echoes every round). */
static void confirm(struct raft *r)
{
    raft_index *v = r->match_scratch;
    uint64_t c;
    uint32_t k;
    size_t i;
    for (i = 0; i < r->n; i++) {
        v[i] = i == r->self ? r->read_round : r->prs[i].read_ack;
    }
    if (r->conf_simple) {
        c = raft__quorum_commit_index(v, r->n);
    } else {
        c = raft__quorum_index(r->mflags, v, r->n, r->match_scratch2);
    }
    if (c <= r->read_confirmed) {
        return;
    }
    r->read_confirmed = c;
    if (r->cfg.lease_reads && !r->lease_off && r->read_round - c < RAFT__ROUND_TICKS) {
        /* Those voters heard from us after round c started, and ignore
         * vote requests for election_ticks of their ticks from then. A
         * count of ticks measures an interval up to one tick short (the
         * round left just after one of our ticks, a voter heard it just
         * before one of its own): one tick comes off for that, beside
         * the drift. */
        uint64_t until = r->round_tick[c % RAFT__ROUND_TICKS] +
                         r->cfg.election_ticks - r->cfg.lease_drift_ticks - 1;
        if (until > r->lease_until) {
            r->lease_until = until;
        }
    }
    /* Rounds grow along the ring; unassigned reads (round 0) are last. */
    for (k = 0; k < r->rq_len; k++) {
        struct raft__read *x = rq_at(r, k);
        if (x->ready) {
            continue; /* a lease read waiting to be applied */
        }
        if (x->round == 0 || x->round > c) {
            break;
        }
        x->ready = true;
    }
}

static void start_round(struct raft *r)
{
    struct raft_msg m;
    size_t i;
    r->read_round_due = false;
    r->read_round_retry = false;
    r->read_round++;
    r->metrics.read_rounds++;
    r->round_tick[r->read_round % RAFT__ROUND_TICKS] = r->now;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_HEARTBEAT;
    m.from = r->cfg.id;
    m.term = r->term;
    m.u.heartbeat.round = r->read_round;
    for (i = 0; i < r->n; i++) {
        if (i != r->self && raft__is_voter(r, i)) {
            m.to = r->prs[i].id;
            raft__send(r, &m);
        }
    }
    confirm(r); /* a one-voter cluster confirms at once */
}

/* The answer to a follower's reads up to `id`: index 0 with ok false is a
 * refusal. */
static void read_resp(const struct raft *r, raft_id to, uint64_t id,
                      raft_index index, bool ok, struct raft_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->type = RAFT_MSG_READ_RESP;
    m->from = r->cfg.id;
    m->to = to;
    m->term = r->term;
    m->u.read.id = id;
    m->u.read.index = index;
    m->u.read.ok = ok;
}

static void leader_flush(struct raft *r)
{
    uint32_t k;
    /* A new leader knows the commit index only once an entry of its own
     * term is committed (thesis 6.4, step 1): reads wait for it. */
    if (r->rq_new > 0 && r->commit >= r->lead_first) {
        bool lease = r->cfg.lease_reads && r->now < r->lease_until;
        for (k = r->rq_len - r->rq_new; k < r->rq_len; k++) {
            struct raft__read *x = rq_at(r, k);
            x->index = r->commit;
            if (lease) {
                x->ready = true;
                r->metrics.lease_reads++;
            } else {
                x->round = r->read_round + 1;
                r->read_round_due = true;
            }
        }
        r->rq_new = 0;
    }
    /* One round in flight at a time: reads asked for meanwhile share the
     * next one, started when the outstanding round is confirmed, or at a
     * heartbeat if it seems lost. */
    if (r->read_round_due &&
        (r->read_confirmed == r->read_round || r->read_round_retry)) {
        start_round(r);
    }
    /* Bounded by the ring's length. */
    while (r->rq_len > 0) {
        struct raft__read *x = rq_at(r, 0);
        if (!x->ready) {
            break;
        }
        if (x->from != 0) {
            struct raft_msg m;
            read_resp(r, x->from, x->id, x->index, true, &m);
            raft__send(r, &m);
        } else if (r->applied < x->index) {
            break;
        }
        settle_head(r, 0);
    }
}

void raft__read_heartbeat(struct raft *r)
{
    /* Renew the lease, or ask again for a round that went unanswered. */
    if (r->cfg.lease_reads ||
        (r->rq_len > 0 && r->read_round > r->read_confirmed)) {
        r->read_round_due = true;
        r->read_round_retry = true;
        r->read_work = true;
    }
}

int raft__read_recv_heartbeat_resp(struct raft *r, struct raft__progress *pr,
                                   const struct raft_msg *m)
{
    if (r->role != RAFT_LEADER || m->u.heartbeat.round == 0) {
        /* For a leadership that is over, or the answer to a round of an
         * older term (round 0: it only carries the replier's term). */
        return 0;
    }
    if (m->u.heartbeat.round > r->read_round) {
        r->metrics.rejected[RAFT_REJECT_CONFLICT]++;
        raft__emit(r, RAFT_EVENT_MSG_REJECTED, m->from, RAFT_EBADMSG,
                   "echoes a round this leader never started");
        return RAFT_EBADMSG;
    }
    pr->heard = r->now;
    if (m->u.heartbeat.round > pr->read_ack) {
        pr->read_ack = m->u.heartbeat.round;
        confirm(r);
    }
    return 0;
}

int raft__read_recv(struct raft *r, const struct raft_msg *m)
{
    uint32_t k;
    int rc;
    if (r->role != RAFT_LEADER) {
        struct raft_msg out;
        read_resp(r, m->from, m->u.read.id, 0, false, &out);
        raft__queue(r, &out, RAFT__AFTER_STATE);
        return 0;
    }
    check_epoch(r);
    /* A follower asks again every heartbeat interval until answered: a
     * request that adds nothing must not take another slot. One already
     * here from it with a number at least as high covers this one (the
     * leader received it after every read it covers was asked for); one
     * not yet given an index may simply cover more. Bounded by the
     * ring's length. */
    for (k = 0; k < r->rq_len; k++) {
        struct raft__read *x = rq_at(r, k);
        if (x->from != m->from) {
            continue;
        }
        if (x->id >= m->u.read.id) {
            return 0;
        }
        if (x->round == 0 && !x->ready) {
            x->id = m->u.read.id;
            return 0;
        }
    }
    rc = make_room(r);
    if (rc != 0) {
        /* Dropped: the follower asks again. Out of memory is reported
         * like any other; a full ring is not an error of this call. */
        return rc == RAFT_ENOMEM ? rc : 0;
    }
    push(r, NULL, m->from, m->u.read.id);
    return 0;
}

/* ---- follower ---------------------------------------------------------------- */

int raft__read_recv_heartbeat(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg *out;
    int rc;
    rc = raft__second_leader(r, m);
    if (rc != 0) {
        return rc;
    }
    rc = raft__follow(r, m);
    if (rc != 0) {
        return rc;
    }
    out = raft__queue_slot(r, m->from, RAFT__AFTER_STATE);
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
        out->type = RAFT_MSG_HEARTBEAT_RESP;
        out->from = r->cfg.id;
        out->to = m->from;
        out->term = r->term;
        out->u.heartbeat.round = m->u.heartbeat.round;
        raft__queue_done(r);
    }
    return 0;
}

int raft__read_recv_resp(struct raft *r, const struct raft_msg *m)
{
    uint32_t k;
    if (r->role != RAFT_FOLLOWER || m->from != r->leader ||
        m->u.read.id > r->read_id) {
        return 0; /* for reads this node no longer waits for, or for an
                     earlier incarnation's */
    }
    /* Ids grow along the ring: the answer covers a prefix of it. */
    for (k = 0; k < r->rq_len; k++) {
        struct raft__read *x = rq_at(r, k);
        if (x->id > m->u.read.id) {
            break;
        }
        if (!x->ready) {
            x->ready = true;
            x->index = m->u.read.index;
            x->status = m->u.read.ok ? 0 : RAFT_ELEADERLOST;
        }
    }
    return 0;
}

void raft__read_tick(struct raft *r)
{
    if (++r->read_elapsed >= r->cfg.heartbeat_ticks) {
        r->read_elapsed = 0;
        r->read_resend = true;
    }
}

static void follower_flush(struct raft *r)
{
    if ((r->rq_new > 0 || r->read_resend) && r->role == RAFT_FOLLOWER &&
        r->leader != 0) {
        uint32_t k;
        for (k = 0; k < r->rq_len; k++) {
            if (!rq_at(r, k)->ready) {
                struct raft_msg m;
                memset(&m, 0, sizeof(m));
                m.type = RAFT_MSG_READ;
                m.from = r->cfg.id;
                m.to = r->leader;
                m.term = r->term;
                m.u.read.id = r->read_id; /* covers every read so far */
                raft__send(r, &m);
                break;
            }
        }
        r->read_elapsed = 0;
    }
    r->rq_new = 0;
    r->read_resend = false;
    /* Bounded by the ring's length. */
    while (r->rq_len > 0) {
        struct raft__read *x = rq_at(r, 0);
        if (r->leader == 0) {
            /* The leader is forgotten (raft__read_leader_lost): what it
             * answered may never be applied here. */
            settle_head(r, RAFT_ELEADERLOST);
            continue;
        }
        if (!x->ready || (x->status == 0 && r->applied < x->index)) {
            break;
        }
        settle_head(r, x->status);
    }
}

void raft__read_flush(struct raft *r)
{
    if ((r->gate & RAFT__GATE_STOPPED) != 0) {
        /* Every later call returns RAFT_ESTOPPED and raft_destroy calls
         * nothing: this is the last chance to keep the promise of one
         * callback per read. A follower's read on a leader is dropped
         * unanswered (nothing is sent any more). Bounded by the ring. */
        while (r->rq_len > 0) {
            settle_head(r, RAFT_ELEADERLOST);
        }
        r->rq_new = 0;
        r->read_round_due = false;
        r->read_round_retry = false;
        r->read_work = false;
        return;
    }
    check_epoch(r);
    if (r->role == RAFT_LEADER) {
        leader_flush(r);
    } else {
        r->read_round_due = false;
        r->read_round_retry = false;
        follower_flush(r);
    }
    r->read_work = r->rq_len != 0 || r->read_round_due;
}

void raft__read_leader_lost(struct raft *r)
{
    if (r->rq_len > 0) {
        r->read_work = true; /* the flush fails them (follower_flush) */
    }
}
