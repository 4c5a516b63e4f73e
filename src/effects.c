/*
 * effects.c - what leaves the node: the outgoing queue, recorded events,
 * the numbering of writes and their completion, and the flush that carries
 * a call's effects out in one ordered pass (see node.h).
 */
#include <string.h>

#include "heap.h"
#include "conf.h"
#include "node.h"
#include "replication.h"

/* ---- events ------------------------------------------------------------ */

static void emit_now(struct raft *r, int type, raft_id peer, int error,
                     const char *reason)
{
    struct raft_event ev;
    ev.type = type;
    ev.term = r->term;
    ev.role = r->role;
    ev.peer = peer;
    ev.error = error;
    ev.reason = reason;
    r->cb.event(r, r->ctx, &ev);
}

void raft__emit_slow(struct raft *r, int type, raft_id peer, int error,
                     const char *reason)
{
    struct raft__ev *e;
    if (r->n_ev == RAFT__EVQ_CAP) {
        return;
    }
    e = &r->evq[r->n_ev++];
    r->fx_slow = true;
    e->type = type;
    e->peer = peer;
    e->error = error;
    e->reason = reason;
}

/* Events first, with the state final: a term or role change is reported
 * once per call, whatever intermediate states the call went through. */
static void flush_events(struct raft *r)
{
    unsigned i;
    if (r->term != r->ev_term) {
        r->ev_term = r->term;
        emit_now(r, RAFT_EVENT_TERM, 0, 0, NULL);
    }
    if (r->role != r->ev_role) {
        r->ev_role = r->role;
        emit_now(r, RAFT_EVENT_ROLE, 0, 0, NULL);
    }
    if (r->conf_version != r->ev_conf_version) {
        r->ev_conf_version = r->conf_version;
        emit_now(r, RAFT_EVENT_CONF, 0, 0, NULL);
    }
    /* Bounded by RAFT__EVQ_CAP. */
    for (i = 0; i < r->n_ev; i++) {
        const struct raft__ev *e = &r->evq[i];
        emit_now(r, e->type, e->peer, e->error, e->reason);
    }
    r->n_ev = 0;
}

/* ---- messages ----------------------------------------------------------- */

void raft__send_failed(struct raft *r, const struct raft_msg *m)
{
    r->metrics.send_failures++;
    /* Only the flush sends, after the recorded events: report at once. */
    if (r->cb.event != NULL) {
        emit_now(r, RAFT_EVENT_SEND_FAILED, m->to, 0, "send callback failed");
    }
}

void raft__snapshot_read_failed(struct raft *r, raft_id peer)
{
    /* As above: only the flush reads snapshot chunks. */
    if (r->cb.event != NULL) {
        emit_now(r, RAFT_EVENT_SEND_FAILED, peer, RAFT_EINVAL,
                 "reading the snapshot failed");
    }
}

/* A success reply to the same leader in the same term says everything an
 * older one does when it acknowledges at least as much. */
static bool supersedes(const struct raft_msg *newer, const struct raft_msg *old)
{
    return old->type == RAFT_MSG_APPEND_RESP && newer->type == RAFT_MSG_APPEND_RESP &&
           old->to == newer->to && old->term == newer->term &&
           old->u.append_resp.success && newer->u.append_resp.success &&
           old->u.append_resp.index <= newer->u.append_resp.index;
}

/* Remove queued message i, keeping the order of the others. */
static void queue_remove(struct raft *r, size_t i)
{
    memmove(&r->out[i], &r->out[i + 1], (r->out_len - i - 1) * sizeof(*r->out));
    r->out_len--;
}

void raft__queue_full(struct raft *r, raft_id to)
{
    r->metrics.queue_full++;
    raft__emit(r, RAFT_EVENT_SEND_FAILED, to, 0, "outgoing queue full");
}

void raft__queue_coalesce(struct raft *r)
{
    const struct raft__out *last = &r->out[r->out_len - 1];
    size_t i;
    /* A waiting acknowledgement that would leave together with the new one
     * (same barrier) is dropped, so a follower that gets many heartbeats
     * while a write is slow keeps one reply, not one per message. One that
     * would leave earlier is kept (it lets the leader commit sooner), but
     * the oldest such goes when the queue is full, making room ahead of
     * time. Bounded by the queue's capacity. */
    size_t older = r->out_len;
    for (i = r->out_len - 1; i-- > 0;) {
        if (supersedes(&last->m, &r->out[i].m)) {
            if (r->out[i].barrier == last->barrier) {
                queue_remove(r, i);
                return;
            }
            older = i;
        }
    }
    if (r->out_len == r->out_cap && older < r->out_len) {
        queue_remove(r, older);
    }
}

void raft__queue(struct raft *r, const struct raft_msg *m, int after)
{
    struct raft_msg *slot = raft__queue_slot(r, m->to, after);
    if (slot != NULL) {
        *slot = *m;
        raft__queue_done(r);
    }
}

/* Is queued message i superseded by a later one that leaves now too? */
static bool redundant(const struct raft *r, size_t i, size_t len)
{
    size_t j;
    if (r->out[i].m.type != RAFT_MSG_APPEND_RESP) {
        return false;
    }
    for (j = i + 1; j < len; j++) {
        if (r->out[j].barrier <= r->w_done &&
            supersedes(&r->out[j].m, &r->out[i].m)) {
            return true;
        }
    }
    return false;
}

/* Send every queued message whose writes are durable, in queue order;
 * the others keep their order. Of several acknowledgements to the same
 * leader that leave together only the newest is sent (a batch of writes
 * completed at once is acknowledged once). */
static void flush_queue(struct raft *r)
{
    size_t i, keep = 0;
    size_t len = r->out_len;
    /* Bounded by the queue's capacity (squared, for the redundancy check
     * of acknowledgements, which only waiting ones make longer than a
     * few). A send callback cannot add to the queue (it cannot re-enter),
     * so len is fixed. */
    if (len == 1 && r->out[0].barrier <= r->w_done) {
        r->out_len = 0;
        raft__send(r, &r->out[0].m);
        return;
    }
    for (i = 0; i < len; i++) {
        if (r->out[i].barrier <= r->w_done) {
            if (!redundant(r, i, len)) {
                raft__send(r, &r->out[i].m);
            }
        } else {
            if (keep != i) {
                r->out[keep] = r->out[i];
            }
            keep++;
        }
    }
    r->out_len = keep;
}

void raft__effects_discard(struct raft *r)
{
    r->out_len = 0;
    r->n_ev = 0;
}

/* ---- writes -------------------------------------------------------------- */

int raft__writes_reserve_slow(struct raft *r, size_t k)
{
    uint64_t pending = r->w_issued - r->w_done;
    size_t cap;
    struct raft__write *wq;
    size_t i;
    cap = r->wq_cap == 0 ? 16 : r->wq_cap;
    while (cap < pending + k) {
        if (cap > SIZE_MAX / 2 / sizeof(*wq)) {
            return RAFT_ENOMEM;
        }
        cap *= 2;
    }
    wq = raft__heap_alloc(&r->cfg.allocator, cap * sizeof(*wq));
    if (wq == NULL) {
        return RAFT_ENOMEM;
    }
    /* Re-linearise the ring: write w lives at (w - 1) % cap. */
    for (i = 0; i < pending; i++) {
        uint64_t w = r->w_done + 1 + i;
        wq[(w - 1) & (cap - 1)] = r->wq[(w - 1) & (r->wq_cap - 1)];
    }
    raft__heap_free(&r->cfg.allocator, r->wq);
    r->wq = wq;
    r->wq_cap = cap;
    return 0;
}


void raft__durable_cut_slow(struct raft *r, raft_index from)
{
    uint64_t w;
    if (r->durable >= from) {
        r->durable = from - 1;
    }
    /* Pending entries writes end in non-decreasing order once cut (each
     * cut lowers every later one to at most from - 1), so the walk stops
     * at the first write already below the cut. Bounded by the pending
     * writes. */
    for (w = r->w_issued; w > r->w_done; w--) {
        struct raft__write *x = raft__write_at(r, w);
        if (!x->entries) {
            continue;
        }
        if (x->last < from) {
            break;
        }
        x->last = from - 1;
    }
}

/* ---- flush ---------------------------------------------------------------- */

bool raft__flush_events_and_queue(struct raft *r)
{
    /* A leadership transfer keeps this path taken at every call, so the
     * target is told to campaign in the call that finds it caught up. */
    r->fx_slow = (r->gate & RAFT__GATE_STOPPED) != 0 || r->transfer_to != 0;
    if (r->n_ev > 0 || r->term != r->ev_term || r->role != r->ev_role ||
        r->conf_version != r->ev_conf_version) {
        if (r->cb.event != NULL) {
            flush_events(r);
        } else {
            r->ev_term = r->term;
            r->ev_role = r->role;
            r->ev_conf_version = r->conf_version;
        }
    }
    if ((r->gate & RAFT__GATE_STOPPED) != 0) {
        return false;
    }
    if (r->transfer_to != 0 && !r->transfer_sent) {
        raft__conf_transfer_check(r, NULL);
    }
    if (r->out_len > 0) {
        flush_queue(r);
    }
    return true;
}
