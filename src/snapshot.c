/*
 * snapshot.c - compaction, and streaming the leader's snapshot to a
 * follower that needs entries the leader compacted (Raft 7; thesis 5.3).
 *
 * Leader: a follower whose next index is at or below the log's base gets
 * the latest snapshot, read from the host in chunks of at most
 * max_msg_bytes and pipelined up to max_inflight_bytes unacknowledged
 * bytes. Each chunk is answered with the next byte the follower expects;
 * the answer to the last one says the snapshot is installed, and the
 * follower is probed again from the snapshot's index + 1.
 *
 * Follower: chunks are written through the host in order, without gaps;
 * one at another offset is not written and is answered with the offset
 * expected (0 when the follower holds nothing of that stream: after a
 * restart, or when another leader or another snapshot started one). The
 * last chunk installs the snapshot, unless the follower's commit index has
 * reached it meanwhile (then it is not needed).
 *
 * Lost chunks: a gap is seen by the follower and answered at once; a lost
 * tail (no answer at all) is resent after an election timeout without any
 * acknowledgement. Rewinds happen at most once per heartbeat interval, so
 * a burst of answers to reordered chunks costs one resend, not one each.
 */
#include "snapshot.h"

#include <string.h>

#include "conf.h"
#include "heap.h"
#include "progress.h"
#include "replication.h"

int raft__snapshot_compact(struct raft *r, raft_index index)
{
    uint64_t keep = r->cfg.snapshot_trailing;
    raft_index upto;
    const void *conf;
    size_t conf_len;
    raft_index conf_index;
    if (!raft__snapshot_enabled(r) || index > r->applied) {
        return RAFT_EINVAL;
    }
    if (index <= r->snap_index) {
        return 0;
    }
    /* The configuration at index goes with the snapshot: copied before
     * the entry holding it may be dropped. */
    conf_index = raft__conf_at(r, index, &conf, &conf_len);
    if (conf_len == 0) {
        /* A node started with raft_join that has learnt no configuration
         * yet: a snapshot without one could not be restarted from. */
        return RAFT_EINVAL;
    }
    if (conf != r->base_conf) {
        uint8_t *p;
        int rc = raft__conf_dup(r, conf, conf_len, &p);
        if (rc != 0) {
            return rc;
        }
        raft__conf_adopt_base(r, p, conf_len);
        r->base_conf_index = conf_index;
    }
    /* Invariant base <= snap_index < index <= applied <= last: index's
     * term is still in the log. */
    r->snap_term = raft__log_term(&r->log, index);
    r->snap_index = index;
    r->metrics.compactions++;
    upto = index > keep ? index - keep : 0;
    if (upto > r->log.base) {
        raft__log_compact(&r->log, upto);
    }
    return 0;
}

/* ---- leader ---------------------------------------------------------------- */

bool raft__snapshot_send(struct raft *r, struct raft__progress *pr)
{
    struct raft_msg m;
    const void *data = NULL;
    size_t len = 0;
    bool last = false;
    uint64_t window = r->cfg.max_inflight_bytes;
    if (pr->snap_all_sent || pr->snap_sent - pr->snap_acked >= window) {
        return false;
    }
    if (r->cb.snapshot_read(r, r->ctx, pr->snap_index, pr->snap_sent,
                            r->cfg.max_msg_bytes, &data, &len, &last) != 0 ||
        len > r->cfg.max_msg_bytes || (len > 0 && data == NULL) ||
        (len == 0 && !last) || len > UINT64_MAX - pr->snap_sent) {
        /* That snapshot is gone (or the host answered nonsense): start over
         * with the latest one, at the next heartbeat. */
        raft__snapshot_read_failed(r, pr->id);
        if (pr->snap_index != r->snap_index) {
            raft__progress_become_snapshot(pr, r->snap_index, r->snap_term);
        }
        return false;
    }
    if (last && pr->snap_index < r->base_conf_index) {
        /* The last chunk carries the snapshot's configuration, which this
         * node no longer knows for a snapshot that old: start over with
         * the latest one, at the next heartbeat. */
        raft__progress_become_snapshot(pr, r->snap_index, r->snap_term);
        return false;
    }
    memset(&m, 0, sizeof(m));
    m.u.snapshot.conf = last ? r->base_conf : NULL;
    m.u.snapshot.conf_len = last ? r->base_conf_len : 0;
    m.type = RAFT_MSG_SNAPSHOT;
    m.from = r->cfg.id;
    m.to = pr->id;
    m.term = r->term;
    m.u.snapshot.index = pr->snap_index;
    m.u.snapshot.index_term = pr->snap_term;
    m.u.snapshot.offset = pr->snap_sent;
    m.u.snapshot.last = last;
    m.u.snapshot.len = len;
    m.u.snapshot.data = data;
    if (!raft__send(r, &m)) {
        return false; /* lost before the network: the idle timer resends */
    }
    r->metrics.snapshot_chunks_sent++;
    r->metrics.snapshot_bytes_sent += len;
    pr->snap_sent += len;
    if (pr->snap_sent > pr->snap_hwm) {
        pr->snap_hwm = pr->snap_sent;
    }
    pr->snap_all_sent = last;
    return !last && pr->snap_sent - pr->snap_acked < window;
}

/* Send again from byte `offset`: at once, or at the next heartbeat if a
 * rewind happened less than a heartbeat interval ago (then the lowest
 * offset asked for meanwhile wins). */
static void rewind_to(struct raft *r, struct raft__progress *pr, uint64_t offset)
{
    if (pr->snap_rewind_age < r->cfg.heartbeat_ticks) {
        if (!pr->snap_rewind_due || offset < pr->snap_rewind_to) {
            pr->snap_rewind_to = offset;
        }
        pr->snap_rewind_due = true;
        return;
    }
    pr->snap_rewind_due = false;
    pr->snap_sent = offset;
    if (pr->snap_acked > offset) {
        pr->snap_acked = offset;
    }
    pr->snap_all_sent = false;
    pr->snap_rewind_age = 0;
    pr->dirty = true;
    r->any_dirty = true;
}

void raft__snapshot_tick(struct raft *r, struct raft__progress *pr)
{
    unsigned hb = r->cfg.heartbeat_ticks;
    pr->snap_rewind_age += pr->snap_rewind_age < UINT32_MAX - hb ? hb : 0;
    pr->snap_idle += pr->snap_idle < UINT32_MAX - hb ? hb : 0;
    if (pr->snap_acked == 0 && pr->snap_index != r->snap_index) {
        /* Nothing of it acknowledged and a newer snapshot exists. */
        raft__progress_become_snapshot(pr, r->snap_index, r->snap_term);
    } else if (pr->snap_rewind_due) {
        rewind_to(r, pr, pr->snap_rewind_to);
    } else if (pr->snap_idle >= r->cfg.election_ticks &&
               (pr->snap_sent > pr->snap_acked || pr->snap_asked < pr->snap_acked)) {
        /* No acknowledgement for an election timeout: the tail was lost,
         * or the follower holds less than it acknowledged (a late answer
         * from before it lost the stream raised snap_acked): go back to
         * the lowest offset it asked for since. */
        uint64_t to = pr->snap_asked < pr->snap_acked ? pr->snap_asked : pr->snap_acked;
        pr->snap_idle = 0;
        pr->snap_asked = UINT64_MAX;
        rewind_to(r, pr, to);
    }
    /* Whatever flow control allows now goes (after a failed send, say). */
    pr->dirty = true;
    r->any_dirty = true;
}

int raft__snapshot_recv_resp(struct raft *r, struct raft__progress *pr,
                             const struct raft_msg *m)
{
    const struct raft_msg_snapshot_resp *a = &m->u.snapshot_resp;
    if (r->role == RAFT_LEADER) {
        pr->heard = r->now; /* CheckQuorum: any reply shows it follows */
    }
    if (r->role != RAFT_LEADER || pr->state != RAFT_PROGRESS_SNAPSHOT ||
        a->index != pr->snap_index) {
        return 0; /* an answer to a stream this leader is not running */
    }
    if (a->done) {
        raft__repl_installed(r, pr, a->index);
        return 0;
    }
    if (a->offset > pr->snap_hwm) {
        return 0; /* more than was ever sent; ignore it (raft__snapshot_recv
                     starts over on a second first chunk) */
    }
    if (a->offset > pr->snap_acked) {
        /* After a rewind the follower may hold more than was resent. */
        pr->snap_acked = a->offset;
        pr->snap_asked = UINT64_MAX;
        if (pr->snap_sent < a->offset) {
            pr->snap_sent = a->offset;
            pr->snap_all_sent = false;
        }
        pr->snap_idle = 0;
        pr->dirty = true; /* the window moved */
        r->any_dirty = true;
    } else if (a->offset == pr->snap_acked) {
        if (a->offset < pr->snap_sent) {
            /* It still expects the byte after what it holds while more
             * followed: a chunk was lost or overtaken. */
            rewind_to(r, pr, a->offset);
        }
    } else if (a->offset == 0) {
        /* It holds nothing of the stream any more (it restarted, or its
         * installation failed): start over. */
        rewind_to(r, pr, 0);
    } else if (a->offset < pr->snap_asked) {
        /* Below what it acknowledged: a late or duplicated answer, or the
         * follower lost what a late answer claimed. Remembered: if no
         * progress follows for an election timeout, the idle rewind goes
         * back there. */
        pr->snap_asked = a->offset;
    }
    return 0;
}

/* ---- follower -------------------------------------------------------------- */

static void reply(struct raft *r, const struct raft_msg *m, uint64_t offset,
                  bool done, int after)
{
    struct raft_msg *out = raft__queue_slot(r, m->from, after);
    if (out == NULL) {
        return;
    }
    out->type = RAFT_MSG_SNAPSHOT_RESP;
    out->from = r->cfg.id;
    out->to = m->from;
    out->term = r->term;
    out->u.snapshot_resp.index = m->u.snapshot.index;
    out->u.snapshot_resp.offset = offset;
    out->u.snapshot_resp.done = done;
    raft__queue_done(r);
}

/* The last chunk is in: install (Raft Figure 13, steps 5-8). */
static int install(struct raft *r, const struct raft_msg *m,
                   const struct raft_snapshot_meta *meta, uint8_t *conf)
{
    raft_index index = meta->index;
    /* index > commit >= base, so its term is known if the log has it. */
    bool keep = index <= raft__log_last(&r->log) &&
                raft__log_term(&r->log, index) == meta->term;
    r->rx_active = false;
    if (r->cb.snapshot_install(r, r->ctx, meta, keep) != 0) {
        raft__heap_free(&r->cfg.allocator, conf);
        return RAFT_EPERSIST; /* nothing changed: the leader starts over */
    }
    raft__conf_adopt_base(r, conf, meta->conf_len);
    r->base_conf_index = index;
    if (keep) {
        /* Entries after the snapshot match the leader's: they may count
         * toward commitment already, so they stay. */
        raft__log_compact(&r->log, index);
        /* Every entry kept was written by an earlier write, so once this
         * one is durable the whole log is. Its last is the log's last, not
         * less: pending writes must end in non-decreasing order, or a
         * later truncation (raft__durable_cut) stops at this write and
         * leaves an earlier one claiming truncated entries durable. */
        raft__write_started(r, true, raft__log_last(&r->log));
    } else {
        /* Entries above the commit index conflict or are missing: all go.
         * Those at or below it agree with the snapshot, so what was durable
         * of them stays durable as far as the snapshot goes. */
        raft__durable_cut(r, r->commit + 1);
        raft__log_reset(&r->log, index, meta->term);
        raft__write_started(r, true, index);
    }
    r->snap_index = index;
    r->snap_term = meta->term;
    r->commit = index;
    r->metrics.applied_by_snapshot += index - r->applied;
    r->metrics.snapshots_installed++;
    r->applied = index;
    /* The configuration is the snapshot's, or a later one among the
     * entries kept. */
    raft__conf_reload_force(r);
    /* Acknowledged once the installation is durable. */
    reply(r, m, m->u.snapshot.offset + m->u.snapshot.len, true, RAFT__AFTER_ALL);
    return 0;
}

int raft__snapshot_recv(struct raft *r, const struct raft_msg *m)
{
    const struct raft_msg_snapshot *s = &m->u.snapshot;
    struct raft_snapshot_meta meta;
    uint8_t *conf = NULL;
    bool same;
    int rc;
    rc = raft__second_leader(r, m);
    if (rc != 0) {
        return rc;
    }
    if (!raft__snapshot_enabled(r)) {
        raft__emit(r, RAFT_EVENT_MSG_REJECTED, m->from, RAFT_EINVAL,
                   "no snapshot callbacks");
        return RAFT_EINVAL;
    }
    if (s->last && s->index > r->commit) {
        /* Room for the snapshot's configuration, and its copy, before
         * anything changes (the leader's term included): running out of
         * memory changes nothing, and the chunk counts as lost. */
        size_t members;
        raft__conf_check(s->conf, s->conf_len, &members);
        rc = raft__conf_reserve(r, members);
        if (rc == 0) {
            rc = raft__conf_dup(r, s->conf, s->conf_len, &conf);
        }
        if (rc != 0) {
            return rc;
        }
    }
    /* Recognise the leader, as for AppendEntries. */
    rc = raft__follow(r, m);
    if (rc != 0 || s->index <= r->commit) {
        raft__heap_free(&r->cfg.allocator, conf);
    }
    if (rc != 0) {
        return rc;
    }
    if (s->index <= r->commit) {
        /* Everything it covers is committed here already, and durable
         * once the writes started so far are (an installation of this
         * very snapshot may still be pending). */
        reply(r, m, 0, true, RAFT__AFTER_ALL);
        return 0;
    }
    same = r->rx_active && r->rx_index == s->index && r->rx_term == s->index_term &&
           r->rx_leader_term == m->term;
    /* Offset 0 starts over, except a copy of the first chunk of the stream
     * being received, which is answered like any chunk it already has;
     * any other offset must continue the stream. Once: a second copy of
     * the first chunk with no chunk taken in between means the leader
     * starts over (its stream state was reset, as for a member removed and
     * added back, and it ignores an answer beyond what it sent), so this
     * node does too. Chunks it cannot take in between (the rest of the
     * leader's window) do not count. */
    if ((s->offset == 0 && same && r->rx_offset > 0 && !r->rx_first_again) ||
        (s->offset != 0 && (!same || s->offset != r->rx_offset))) {
        raft__heap_free(&r->cfg.allocator, conf);
        r->rx_first_again |= s->offset == 0;
        reply(r, m, same ? r->rx_offset : 0, false, RAFT__AFTER_STATE);
        return 0;
    }
    r->rx_first_again = false;
    meta.index = s->index;
    meta.term = s->index_term;
    meta.conf = s->last ? s->conf : NULL; /* validated by raft_step */
    meta.conf_len = s->last ? s->conf_len : 0;
    if (r->cb.snapshot_write(r, r->ctx, &meta, s->offset, s->data, s->len) != 0) {
        if (s->offset == 0) {
            r->rx_active = false;
        }
        raft__heap_free(&r->cfg.allocator, conf);
        return RAFT_EPERSIST; /* the chunk counts as lost */
    }
    if (s->offset == 0) {
        r->rx_active = true;
        r->rx_index = s->index;
        r->rx_term = s->index_term;
        r->rx_leader_term = m->term;
    }
    r->rx_offset = s->offset + s->len;
    if (s->last) {
        return install(r, m, &meta, conf);
    }
    reply(r, m, r->rx_offset, false, RAFT__AFTER_STATE);
    return 0;
}
