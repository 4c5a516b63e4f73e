/*
 * replication.c - log replication (Raft 5.3) and commitment (5.4.2).
 *
 * Leader side: per-follower progress with probing and pipelining, fast
 * backtracking from the follower's hint, commit by counting replicas of
 * current-term entries. Follower side: the AppendEntries consistency check,
 * conflict truncation, persistence before acknowledgement.
 */
#include "replication.h"

#include <string.h>

#include "conf.h"
#include "quorum.h"
#include "read.h"
#include "snapshot.h"

/* ---- leader ---------------------------------------------------------------- */

/* An empty AppendEntries, queued: it leaves at the flush. */
static void queue_heartbeat(struct raft *r, raft_id to, raft_index prev,
                            raft_index commit)
{
    struct raft_msg *m = raft__queue_slot(r, to, RAFT__AFTER_NOTHING);
    if (m == NULL) {
        return;
    }
    m->type = RAFT_MSG_APPEND;
    m->from = r->cfg.id;
    m->to = to;
    m->term = r->term;
    m->u.append.prev_index = prev;
    m->u.append.prev_term = raft__log_term(&r->log, prev);
    m->u.append.commit = commit;
    m->u.append.n_entries = 0;
    m->u.append.entries = NULL;
}

/* The AppendEntries carrying r->ents[0 .. n), entries from lo on, in
 * r->ents_msg but for its recipient; prev_term is the term of entry
 * lo - 1. */
static void slice_msg(struct raft *r, raft_index lo, raft_term prev_term,
                      size_t n)
{
    struct raft_msg *m = &r->ents_msg;
    m->type = RAFT_MSG_APPEND;
    m->from = r->cfg.id;
    m->term = r->term;
    m->u.append.prev_index = lo - 1;
    m->u.append.prev_term = prev_term;
    m->u.append.commit = r->commit;
    m->u.append.n_entries = n;
    m->u.append.entries = n > 0 ? r->ents : NULL;
}

/* Entries from lo on (base < lo <= last), as many as one message may
 * carry, in r->ents, and their message (slice_msg). Followers in step ask
 * for the same slice: it and its message are built once per call, during
 * whose flush term and commit stay as they are; a proposal leaves its
 * entry there already (prime_slice). leave() empties the cache at the end
 * of every call. */
static size_t slice(struct raft *r, raft_index lo)
{
    if (r->ents_n == 0 || r->ents_lo != lo) {
        size_t n = raft__log_slice(&r->log, lo, r->cfg.max_msg_entries,
                                   r->cfg.max_msg_bytes, r->ents,
                                   &r->ents_bytes);
        r->ents_n = n;
        r->ents_lo = lo;
        slice_msg(r, lo, raft__log_term(&r->log, lo - 1), n);
    }
    return r->ents_n;
}

/* r->ents[0] describes entry lo, just appended as the log's last, with its
 * payload in the log (len bytes), after an entry of term prev_term:
 * exactly what slice(r, lo) would build. Called once nothing before the
 * flush can change the term or commit. */
static void prime_slice(struct raft *r, raft_index lo, raft_term prev_term,
                        size_t len)
{
    r->ents_n = 1;
    r->ents_lo = lo;
    r->ents_bytes = len;
    slice_msg(r, lo, prev_term, 1);
}

/* Send one AppendEntries with entries to a follower if flow control allows:
 * one probe at a time, or up to max_inflight pipelined messages. Returns
 * false when nothing more can be sent to it now (possibly after sending
 * one). */
static bool replicate_one(struct raft *r, struct raft__progress *pr)
{
    uint32_t w = r->cfg.max_inflight;
    raft_index prev;
    size_t n;
    if (raft__progress_paused(pr, w, r->cfg.max_inflight_bytes) ||
        pr->next > raft__log_last(&r->log)) {
        /* A follower receiving the snapshot counts as paused for entries. */
        return pr->state == RAFT_PROGRESS_SNAPSHOT && raft__snapshot_send(r, pr);
    }
    if (pr->next <= r->log.base) {
        /* It needs entries this leader compacted: send the snapshot. */
        raft__progress_become_snapshot(pr, r->snap_index, r->snap_term);
        return raft__snapshot_send(r, pr);
    }
    slice(r, pr->next);
    r->ents_msg.to = pr->id;
    if (!raft__send(r, &r->ents_msg)) {
        /* The message never left: nothing changes (next stays where
         * backtracking put it) and the next heartbeat, or reply, retries
         * rather than a loop now. */
        return false;
    }
    /* What the message carried is read back from the node (the send
     * callback cannot change it): fewer values live across the call. */
    n = r->ents_n;
    prev = pr->next - 1;
    w = r->cfg.max_inflight;
    r->metrics.entries_sent += n;
    r->metrics.entry_bytes_sent += r->ents_bytes;
    raft__progress_sent(pr, prev + n, r->ents_bytes, w);
    /* Whether another message could follow, so the round robin ends
     * without a pass that only finds nothing to send. The end of the log,
     * what usually stops it, is tested first. */
    return pr->next <= raft__log_last(&r->log) &&
           !raft__progress_paused(pr, w, r->cfg.max_inflight_bytes);
}

/* Mark a follower to be sent what flow control allows at the flush. */
static void want_replicate(struct raft *r, struct raft__progress *pr)
{
    pr->dirty = true;
    r->any_dirty = true;
}

/* Mark every follower: every slot, then this node's taken back out, so
 * the loop needs no test per slot. */
static void replicate_all(struct raft *r)
{
    struct raft__progress *prs = r->prs;
    size_t n = r->n;
    size_t i;
    for (i = 0; i < n; i++) {
        prs[i].dirty = true;
    }
    prs[r->self].dirty = false;
    r->any_dirty = true;
}

void raft__repl_flush(struct raft *r)
{
    struct raft__progress *prs = r->prs;
    size_t n = r->n;
    bool more = true;
    size_t i;
    r->any_dirty = false;
    if (r->role != RAFT_LEADER) {
        for (i = 0; i < n; i++) {
            prs[i].dirty = false;
        }
        return;
    }
    /* Round robin, one message per follower per round, so followers in step
     * share each slice. A follower leaves the rounds (its flag cleared) once
     * flow control or the end of the log stops it, so no flag survives.
     * Bounded by max_inflight rounds plus one. */
    while (more) {
        more = false;
        for (i = 0; i < n; i++) {
            if (prs[i].dirty) {
                if (replicate_one(r, &prs[i])) {
                    more = true;
                } else {
                    prs[i].dirty = false;
                }
            }
        }
    }
}

/* Highest index known stored on voter i. For the leader itself that is its
 * durable index, not its last: in asynchronous mode its own write may still
 * be in flight while followers already acknowledge (Raft thesis 10.2.1). */
static raft_index match_of(const struct raft *r, size_t i)
{
    return i == r->self ? r->durable : r->prs[i].match;
}

/* Raft 5.3, 5.4.2: commit the highest index stored on a majority, but only
 * by counting replicas of an entry of the current term (Figure 8). */
static void maybe_commit(struct raft *r)
{
    raft_index n;
    size_t i;
    for (i = 0; i < r->n; i++) {
        r->match_scratch[i] = match_of(r, i);
    }
    if (r->conf_simple) {
        n = raft__quorum_commit_index(r->match_scratch, r->n);
    } else {
        /* Learners do not count; while joint, both voter groups must
         * hold it (thesis 4.3). */
        memcpy(r->match_scratch2, r->match_scratch, r->n * sizeof(raft_index));
        n = raft__quorum_index(r->mflags, r->match_scratch2, r->n,
                               r->match_scratch);
    }
    if (n > r->commit && raft__log_term(&r->log, n) == r->term) {
        r->commit = n;
    }
}


/* A voter's match just rose to m > commit. If a majority already holds m,
 * m is the new majority index (nothing above m can have gained a replica);
 * if no majority holds anything above commit, the majority index has not
 * moved; otherwise fall back to the full computation. `acked` is 1 when
 * the rise is a voter's acknowledgement of m (it holds m without being
 * looked at), else 0. */
static inline void commit_after_ack(struct raft *r, raft_index m, size_t acked)
{
    const struct raft__progress *prs = r->prs;
    raft_index self = r->durable;
    raft_index commit = r->commit;
    size_t need = r->ack_need;
    size_t have = (self >= m) + acked, above = 0;
    size_t i;
    if (need == 0) {
        maybe_commit(r); /* the counts below assume every slot votes */
        return;
    }
    if (have < need) {
        /* The leader and the voter that acknowledged (a majority of
         * three when the leader's copy is durable) are not enough:
         * count every voter. The
         * leader's own slot counts its durable index (match_of): taken
         * first, and its progress entry taken back out after the loop,
         * which then needs no test per voter. Bounded by the number of
         * voters. */
        have = self >= m;
        above = self > commit;
        for (i = 0; i < r->n; i++) {
            have += prs[i].match >= m;
            above += prs[i].match > commit;
        }
        have -= prs[r->self].match >= m;
        above -= prs[r->self].match > commit;
    }
    if (have >= need) {
        /* Raft 5.4.2: only an entry of the current term commits by
         * counting replicas; in a leader's log those are the entries
         * from lead_first on (m <= last). */
        if (m >= r->lead_first) {
            r->commit = m;
            return;
        }
    } else if (above >= need) {
        maybe_commit(r);
    }
    /* m may stay above commit: the bound match_hi must cover it. */
    if (m > r->match_hi) {
        r->match_hi = m;
    }
}

void raft__repl_installed(struct raft *r, struct raft__progress *pr,
                          raft_index index)
{
    if (index > pr->match) {
        pr->match = index;
    }
    raft__progress_become_probe(pr, index + 1);
    if (pr->match > r->commit) {
        commit_after_ack(r, pr->match, 0); /* pr may be a departing slot */
    }
    want_replicate(r, pr);
}

void raft__repl_durable_advanced_slow(struct raft *r)
{
    /* The leader's own match rose, as a follower's does on an ack. */
    if (r->role == RAFT_LEADER && r->durable > r->commit) {
        commit_after_ack(r, r->durable, 0);
    }
}

/* The leader's own write failed: forget the entries from `first` on and
 * step down, so this term's (index, term) pairs are never reused for
 * different entries. */
static int step_down_after_persist_failure(struct raft *r, raft_index first)
{
    raft__durable_cut(r, first);
    raft__log_truncate(&r->log, first);
    raft__conf_truncated(r, first);
    raft__become_follower(r, r->term, 0); /* same term: cannot fail */
    raft__emit(r, RAFT_EVENT_STEP_DOWN, 0, RAFT_EPERSIST, "persisting entries failed");
    return RAFT_EPERSIST;
}

int raft__repl_become_leader(struct raft *r)
{
    raft_index last = raft__log_last(&r->log);
    struct raft_entry noop;
    int type = RAFT_ENTRY_NOOP;
    size_t i;
    for (i = 0; i < r->n; i++) {
        raft__progress_reset(&r->prs[i], last);
        r->prs[i].heard = r->now; /* CheckQuorum: one timeout of grace */
        r->prs[i].read_ack = 0;
    }
    r->lead_first = last + 1;
    /* Every follower's match is 0 now. Alone, the leader's own durable
     * index is a majority: match_hi then lets every advance through (as it
     * does for configurations the fast counts do not cover). */
    r->match_hi = r->self_quorum || !r->conf_simple ? UINT64_MAX : 0;
    r->read_round = 0;
    r->read_confirmed = 0;
    r->read_round_due = false;
    r->read_round_retry = false;
    r->lease_until = 0;
    r->lease_off = false;
    r->leader = r->cfg.id;
    r->heartbeat_elapsed = 0;
    raft__set_role(r, RAFT_LEADER);
    r->metrics.elections_won++;
    raft__emit(r, RAFT_EVENT_ELECTION_WON, 0, 0, NULL);
    /* A no-op of the new term: committing it commits every earlier entry,
     * which the leader cannot do by counting replicas (Raft 5.4.2, 8). Its
     * room was reserved by the caller (raft__lead_entry_bytes). The first
     * leader of a cluster writes its configuration instead, so that the
     * log says what the bootstrap list said, to nodes that join later. */
    noop.buf = NULL;
    noop.len = 0;
    if (last == 0 && r->base_conf_len > 0) {
        type = RAFT_ENTRY_CONFIG;
        noop.buf = r->base_conf;
        noop.len = r->base_conf_len;
    }
    raft__log_append(&r->log, r->term, type, noop.buf, noop.len);
    noop.term = r->term;
    noop.type = type;
    r->metrics.persist_entries_calls++;
    if (r->cb.persist_entries(r, r->ctx, last + 1, &noop, 1) != 0) {
        return step_down_after_persist_failure(r, last + 1);
    }
    raft__write_started(r, true, last + 1);
    if (type == RAFT_ENTRY_CONFIG) {
        raft__conf_reload(r); /* the same configuration, now from the log */
    }
    if (r->self_quorum) {
        maybe_commit(r); /* the leader's own copy is a majority */
    }
    replicate_all(r);
    return 0;
}

int raft__repl_propose(struct raft *r, const struct raft_buf *bufs, size_t n,
                       raft_index *first_out)
{
    raft_index first = raft__log_last(&r->log) + 1;
    size_t bytes = 0;
    size_t i, k;
    int rc;
    /* Bounded by n, the caller's own batch. */
    for (i = 0; i < n; i++) {
        if (bufs[i].base == NULL && bufs[i].len > 0) {
            return RAFT_EINVAL;
        }
        if (bufs[i].len > r->cfg.max_msg_bytes) {
            return RAFT_ETOOBIG;
        }
        if (bufs[i].len > SIZE_MAX - bytes) {
            return RAFT_ETOOBIG;
        }
        bytes += bufs[i].len;
    }
    if (n > UINT64_MAX - first) {
        return RAFT_ENOSPACE;
    }
    rc = raft__log_reserve(&r->log, n, bytes, 1);
    if (rc != 0) {
        return rc;
    }
    /* Append, and persist in message-sized pieces straight from the
     * host's buffers (borrowed for this call), which the scratch array
     * describes one piece at a time. */
    for (i = 0; i < n; i += k) {
        size_t j;
        k = n - i < r->cfg.max_msg_entries ? n - i : r->cfg.max_msg_entries;
        for (j = 0; j < k; j++) {
            const struct raft_buf *b = &bufs[i + j];
            struct raft_entry *e = &r->ents[j];
            e->term = r->term;
            e->type = RAFT_ENTRY_COMMAND;
            e->buf = b->base;
            e->len = b->len;
        }
        raft__log_append_n(&r->log, r->ents, k);
        r->metrics.persist_entries_calls++;
        if (r->cb.persist_entries(r, r->ctx, first + i, r->ents, k) != 0) {
            /* Earlier pieces are durable (or being written) and stay; only
             * this piece and what follows it are forgotten. */
            return step_down_after_persist_failure(r, first + i);
        }
        raft__write_started(r, true, first + i + k - 1);
        r->metrics.entries_proposed += k;
    }
    if (first_out != NULL) {
        *first_out = first;
    }
    if (r->self_quorum) {
        maybe_commit(r); /* the leader's own copy is a majority */
    }
    replicate_all(r);
    return 0;
}

int raft__repl_propose_one(struct raft *r, const void *buf, size_t len,
                           raft_index *index)
{
    raft_index i = raft__log_last(&r->log) + 1;
    raft_term prev_term = raft__log_last_term(&r->log);
    struct raft_entry *e = &r->ents[0];
    int rc;
    if (buf == NULL && len > 0) {
        return RAFT_EINVAL;
    }
    if (len > r->cfg.max_msg_bytes) {
        return RAFT_ETOOBIG;
    }
    if (1 > UINT64_MAX - i) {
        return RAFT_ENOSPACE;
    }
    rc = raft__log_reserve(&r->log, 1, len, 1);
    if (rc != 0) {
        return rc;
    }
    e->buf = raft__log_append(&r->log, r->term, RAFT_ENTRY_COMMAND, buf, len);
    e->term = r->term;
    e->type = RAFT_ENTRY_COMMAND;
    e->len = len;
    r->metrics.persist_entries_calls++;
    if (r->cb.persist_entries(r, r->ctx, i, e, 1) != 0) {
        return step_down_after_persist_failure(r, i);
    }
    raft__write_started(r, true, i);
    r->metrics.entries_proposed++;
    if (index != NULL) {
        *index = i;
    }
    if (r->self_quorum) {
        maybe_commit(r); /* the leader's own copy is a majority */
    }
    replicate_all(r);
    prime_slice(r, i, prev_term, len);
    return 0;
}

int raft__repl_propose_conf(struct raft *r, const void *buf, size_t len,
                            raft_index *index)
{
    raft_index i = raft__log_last(&r->log) + 1;
    struct raft_entry *e = &r->ents[0];
    int rc;
    if (1 > UINT64_MAX - i) {
        return RAFT_ENOSPACE;
    }
    rc = raft__log_reserve(&r->log, 1, len, 1);
    if (rc != 0) {
        return rc;
    }
    e->term = r->term;
    e->type = RAFT_ENTRY_CONFIG;
    e->buf = buf;
    e->len = len;
    r->metrics.persist_entries_calls++;
    if (r->cb.persist_entries(r, r->ctx, i, e, 1) != 0) {
        return step_down_after_persist_failure(r, i);
    }
    raft__log_append(&r->log, r->term, RAFT_ENTRY_CONFIG, buf, len);
    raft__write_started(r, true, i);
    r->metrics.entries_proposed++;
    if (index != NULL) {
        *index = i;
    }
    /* In force at once, on the leader as everywhere (thesis 4.1). */
    raft__conf_reload(r);
    if (r->self_quorum) {
        maybe_commit(r);
    }
    replicate_all(r);
    return 0;
}

void raft__repl_tell_removed(struct raft *r, raft_id to)
{
    /* Anchored at the entry of the configuration in force, or at the
     * log's base if that was compacted: a node holding it learns that the
     * commit index covers it. */
    raft_index at = r->conf_index > r->log.base ? r->conf_index : r->log.base;
    if (r->role == RAFT_LEADER && at > 0 && r->conf_index <= r->commit &&
        at <= r->commit) {
        queue_heartbeat(r, to, at, at);
    }
}

void raft__repl_conf_changed(struct raft *r)
{
    /* A lease rests on the voters that confirmed it: those of another
     * configuration must confirm it again (read.c). */
    r->lease_until = 0;
    raft__repl_slots_changed(r);
}

void raft__repl_slots_changed(struct raft *r)
{
    size_t i;
    /* The fast counts of commit_after_ack need a bound on the matches of
     * the voters; other configurations take the full computation. */
    r->match_hi = UINT64_MAX;
    if (r->conf_simple && !r->self_quorum) {
        r->match_hi = 0;
        for (i = 0; i < r->n; i++) {
            if (i != r->self && r->prs[i].match > r->match_hi) {
                r->match_hi = r->prs[i].match;
            }
        }
    }
    /* A majority may hold more now (a lagging voter left). */
    if (r->lead_first <= raft__log_last(&r->log)) {
        maybe_commit(r);
    }
}

/* CheckQuorum: has the leader heard from a majority of the voters (of
 * each group while joint), itself included, within the last
 * election_ticks ticks? */
static bool quorum_active(const struct raft *r)
{
    size_t active = 1;
    size_t i;
    if (!r->conf_simple) {
        for (i = 0; i < r->n; i++) {
            r->vote_scratch[i] = i == r->self || r->now - r->prs[i].heard <
                                                     r->cfg.election_ticks
                                     ? RAFT__VOTE_WON
                                     : RAFT__VOTE_PENDING;
        }
        return raft__quorum_vote(r->mflags, r->vote_scratch, r->n) == RAFT__VOTE_WON;
    }
    for (i = 0; i < r->n; i++) {
        if (i != r->self && r->now - r->prs[i].heard < r->cfg.election_ticks) {
            active++;
        }
    }
    return active >= raft__quorum_majority(r->n);
}

int raft__repl_tick(struct raft *r)
{
    raft_index last;
    size_t i;
    int rc = 0;
    if (!r->cfg.disable_check_quorum && !quorum_active(r)) {
        r->metrics.quorum_lost++;
        raft__become_follower(r, r->term, 0); /* same term: cannot fail */
        raft__emit(r, RAFT_EVENT_STEP_DOWN, 0, RAFT_ENOQUORUM,
                   "no majority heard from within an election timeout");
        return 0;
    }
    if (!r->conf_simple || r->transfer_to != 0) {
        /* A failure (the automatic leave of a joint configuration could
         * not be proposed; it is tried again at the next tick) is
         * returned after the heartbeats, which must not wait for it. */
        rc = raft__conf_tick(r);
        if (r->role != RAFT_LEADER) {
            return rc;
        }
    }
    if (++r->heartbeat_elapsed < r->cfg.heartbeat_ticks) {
        return rc;
    }
    r->heartbeat_elapsed = 0;
    raft__read_heartbeat(r);
    last = raft__log_last(&r->log);
    for (i = 0; i < r->n; i++) {
        struct raft__progress *pr = &r->prs[i];
        if (i == r->self) {
            continue;
        }
        if (pr->state != RAFT_PROGRESS_SNAPSHOT && pr->next <= r->log.base) {
            /* Compaction passed what it needs. */
            raft__progress_become_snapshot(pr, r->snap_index, r->snap_term);
        } else if (pr->state == RAFT_PROGRESS_SNAPSHOT && pr->match >= r->log.base) {
            /* An acknowledgement showed it holds what the log still has
             * after all (a reply to an older AppendEntries): no snapshot. */
            raft__progress_become_probe(pr, pr->match + 1);
        }
        if (pr->state == RAFT_PROGRESS_SNAPSHOT) {
            /* The chunks go at the flush; the heartbeat, anchored at the
             * log's base, keeps the follower from campaigning meanwhile
             * (it lacks the base and rejects it, which is ignored). */
            raft__snapshot_tick(r, pr);
            queue_heartbeat(r, pr->id, r->log.base,
                            r->commit < r->log.base ? r->commit : r->log.base);
            continue;
        }
        if (pr->state == RAFT_PROGRESS_PROBE && !pr->probe_sent &&
            pr->next <= last) {
            /* No probe outstanding (a reply unpaused it, or its send
             * failed): the probe goes out with entries, at the flush. */
            want_replicate(r, pr);
            continue;
        }
        /* In PROBE with a probe outstanding, an empty probe at the same
         * index: its reply unpauses the probe, so the entries are resent
         * at most once per round trip, however long. In REPLICATE, an
         * empty message anchored at the last index sent: if the tail was
         * lost the follower rejects it and its hint says where it stands.
         * Either way commit goes no further than the anchor. */
        queue_heartbeat(r, pr->id, pr->next - 1,
                        r->commit < pr->next - 1 ? r->commit : pr->next - 1);
        if (pr->state == RAFT_PROGRESS_PROBE) {
            pr->probe_sent = true;
        } else if (!raft__progress_paused(pr, r->cfg.max_inflight,
                                          r->cfg.max_inflight_bytes) &&
                   pr->next <= last) {
            want_replicate(r, pr); /* e.g. after a failed send */
        }
    }
    return rc;
}

int raft__repl_recv_append_resp(struct raft *r, struct raft__progress *pr,
                                const struct raft_msg *m)
{
    const struct raft_msg_append_resp *a = &m->u.append_resp;
    if (r->role != RAFT_LEADER) {
        return 0; /* a reply to a leader we no longer are */
    }
    pr->heard = r->now;
    if (a->index > raft__log_last(&r->log)) {
        if (!a->success) {
            /* A stale-term request answered with the responder's newer
             * term: it may name an index of a longer log we had as leader
             * of an older term. Nothing to learn from it. */
            return 0;
        }
        /* Within a term the leader's log only grows, so a success beyond
         * it cannot answer anything this leader sent. */
        r->metrics.rejected[RAFT_REJECT_CONFLICT]++;
        raft__emit(r, RAFT_EVENT_MSG_REJECTED, m->from, RAFT_EBADMSG,
                   "acknowledges an index past the log");
        return RAFT_EBADMSG;
    }
    if (a->success) {
        raft_index probe_at = pr->next - 1;
        bool advanced = raft__progress_update(pr, a->index, r->cfg.max_inflight);
        /* A probe ends with news: a match above the known one, or the
         * answer to the probe (or its heartbeat) at next - 1. A late reply
         * to something older says nothing, and pipelining again from match
         * would resend what the outstanding probe carries. */
        if (pr->state == RAFT_PROGRESS_PROBE && (advanced || a->index >= probe_at)) {
            raft__progress_become_replicate(pr);
        }
        /* Only a match above the commit index can raise it. */
        if (advanced && pr->match > r->commit) {
            commit_after_ack(r, pr->match, 1);
        }
    } else {
        /* Fast backtracking: skip every entry whose term shows it cannot
         * match the follower's hint. */
        raft_index j = raft__log_match_hint(&r->log, a->hint_index, a->hint_term);
        if (!raft__progress_reject(pr, a->index, j + 1)) {
            return 0;
        }
    }
    if (!raft__progress_paused(pr, r->cfg.max_inflight, r->cfg.max_inflight_bytes) &&
        pr->next <= raft__log_last(&r->log)) {
        want_replicate(r, pr);
    }
    return 0;
}

/* ---- follower ---------------------------------------------------------------- */

static inline void send_append_resp(struct raft *r, raft_id to, bool success,
                                    raft_index index, raft_index hint_index)
{
    /* An acknowledgement leaves once every write started so far, which
     * includes the acknowledged entries and the term, is durable. */
    struct raft_msg *m = raft__queue_slot(r, to, RAFT__AFTER_ALL);
    if (m == NULL) {
        return;
    }
    m->type = RAFT_MSG_APPEND_RESP;
    m->from = r->cfg.id;
    m->to = to;
    m->term = r->term;
    m->u.append_resp.success = success;
    m->u.append_resp.index = index;
    m->u.append_resp.hint_index = hint_index;
    m->u.append_resp.hint_term = hint_index == 0 ? 0 : raft__log_term(&r->log, hint_index);
    raft__queue_done(r);
}

/* Entries that contradict committed ones: only a faulty sender sends them. */
static int reject_conflict(struct raft *r, const struct raft_msg *m)
{
    r->metrics.rejected[RAFT_REJECT_CONFLICT]++;
    raft__emit(r, RAFT_EVENT_MSG_REJECTED, m->from, RAFT_EBADMSG,
               "conflicts with a committed entry");
    return RAFT_EBADMSG;
}

/* The general case of raft__repl_recv_append, out of line: its registers
 * would otherwise cost the in-order path below on every message. */
RAFT__NOINLINE static int recv_append_any(struct raft *r,
                                          const struct raft_msg *m,
                                          size_t bytes, size_t conf_n)
{
    const struct raft_msg_append *a = &m->u.append;
    const struct raft_entry *ents = a->entries;
    size_t n = a->n_entries;
    raft_index prev = a->prev_index;
    raft_term prev_term = a->prev_term;
    raft_index last = raft__log_last(&r->log);
    raft_index first = 0; /* first index to write, 0 if none */
    size_t i = 0;
    bool match;
    int rc;

    rc = raft__second_leader(r, m);
    if (rc != 0) {
        return rc;
    }
    /* Entries up to our commit index are known to match any leader's log
     * (Leader Completeness), so only the part after it needs checking. */
    if (prev < r->commit) {
        raft_index skip = r->commit - prev;
        if (skip >= n) {
            /* Every entry is at or below the commit index: the last one,
             * unless compacted, must be ours (the ones before it then are
             * too, by Log Matching). */
            if (n > 0 && prev + n >= r->log.base &&
                raft__log_term(&r->log, prev + n) != ents[n - 1].term) {
                return reject_conflict(r, m);
            }
            n = 0; /* ents is unused from here on (and may be NULL) */
            prev_term = raft__log_term(&r->log, r->commit); /* reply: commit */
        } else {
            ents += skip;
            n -= (size_t)skip;
            prev_term = ents[-1].term;
        }
        prev = r->commit;
        if (n > 0 && raft__log_term(&r->log, prev) != prev_term) {
            return reject_conflict(r, m);
        }
    }
    /* Figure 2, AppendEntries 2: the log must contain prev with its term. */
    match = prev <= last && raft__log_term(&r->log, prev) == prev_term;
    if (match) {
        /* AppendEntries 3, 4: skip entries already present; the first whose
         * term differs, and everything after it, is replaced. Bounded by n. */
        for (i = 0; i < n; i++) {
            raft_index idx = prev + 1 + i;
            if (idx > last || raft__log_term(&r->log, idx) != ents[i].term) {
                break;
            }
        }
        if (i < n) {
            size_t runs = 1;
            size_t j;
            first = prev + 1 + i;
            if (first != a->prev_index + 1) {
                /* Only a part is written: count its bytes. Bounded by n. */
                bytes = 0;
                for (j = i; j < n; j++) {
                    bytes += ents[j].len;
                }
            }
            /* Terms never decrease (validated): equal ends make one run,
             * the usual case. Otherwise count. Bounded by n. */
            if (ents[i].term != ents[n - 1].term) {
                for (j = i + 1; j < n; j++) {
                    runs += ents[j].term != ents[j - 1].term;
                }
            }
            /* Slots past our last index only: the entries end at
             * prev + n, in the index space (validated), while last + n - i
             * may not be, after a truncation near its end. */
            rc = raft__log_reserve(&r->log,
                                   prev + n > last ? (size_t)(prev + n - last) : 0,
                                   bytes, runs);
            if (rc != 0) {
                return rc;
            }
            /* Room for the configurations among them (conf.h). */
            rc = raft__conf_reserve(r, conf_n);
            if (rc != 0) {
                return rc;
            }
        }
    }
    rc = raft__follow(r, m);
    if (rc != 0) {
        return rc;
    }
    if (!match) {
        raft_index hint = raft__log_match_hint(&r->log, prev, prev_term);
        r->metrics.rejected[RAFT_REJECT_LOG_MISMATCH]++;
        raft__emit(r, RAFT_EVENT_APPEND_REJECTED, m->from, 0, "log mismatch");
        send_append_resp(r, m->from, false, a->prev_index, hint);
        return 0;
    }
    if (first != 0) {
        /* Durable before acknowledged. On failure the host may hold any
         * prefix of the old or new entries from `first` on: forget them all
         * (none is committed) and acknowledge nothing. */
        r->metrics.persist_entries_calls++;
        if (r->cb.persist_entries(r, r->ctx, first, ents + i, n - i) != 0) {
            raft__durable_cut(r, first);
            raft__log_truncate(&r->log, first);
            raft__conf_truncated(r, first);
            return RAFT_EPERSIST;
        }
        raft__durable_cut(r, first);
        raft__log_truncate(&r->log, first);
        raft__conf_truncated(r, first);
        raft__log_append_n(&r->log, ents + i, n - i);
        raft__write_started(r, true, prev + n);
        r->metrics.entries_replicated += n - i;
        if (conf_n != 0) {
            raft__conf_reload(r); /* in force once appended (thesis 4.1) */
        }
    }
    /* AppendEntries 5: commit = min(leaderCommit, index of last new entry). */
    if (a->commit > r->commit) {
        raft_index c = a->commit < prev + n ? a->commit : prev + n;
        if (c > r->commit) {
            r->commit = c;
        }
    }
    send_append_resp(r, m->from, true, prev + n, 0);
    return 0;
}

/* The usual message: from the known leader of our term, anchored at our
 * last entry, which it matches, at or above commit. What the general path
 * does then, without its work that cannot apply: no entry is present
 * already (so nothing is skipped, counted again or truncated), no
 * committed entry is covered, no role or term changes. */
static int append_in_order(struct raft *r, const struct raft_msg *m,
                           size_t bytes)
{
    const struct raft_msg_append *a = &m->u.append;
    size_t n = a->n_entries;
    raft_index prev = a->prev_index;
    if (n > 0) {
        const struct raft_entry *ents = a->entries;
        size_t runs = 1;
        size_t j;
        int rc;
        /* Terms never decrease (validated): equal ends make one run, the
         * usual case. Otherwise count. Bounded by n. */
        if (ents[0].term != ents[n - 1].term) {
            for (j = 1; j < n; j++) {
                runs += ents[j].term != ents[j - 1].term;
            }
        }
        rc = raft__log_reserve(&r->log, n, bytes, runs);
        if (rc != 0) {
            return rc;
        }
        r->election_elapsed = 0;
        r->leader_heard = r->now;
        /* Durable before acknowledged; on failure nothing was appended.
         * Nothing at or above prev + 1 is durable or being written (the
         * durable index and every pending write end at or below the last
         * index, which is prev), so unlike the general path there is
         * nothing to cut (raft__durable_cut) either way. */
        r->metrics.persist_entries_calls++;
        if (r->cb.persist_entries(r, r->ctx, prev + 1, ents, n) != 0) {
            return RAFT_EPERSIST;
        }
        raft__log_append_n(&r->log, ents, n);
        raft__write_started(r, true, prev + n);
        r->metrics.entries_replicated += n;
    } else {
        r->election_elapsed = 0;
        r->leader_heard = r->now;
    }
    /* AppendEntries 5: commit = min(leaderCommit, index of last new entry). */
    if (a->commit > r->commit) {
        r->commit = a->commit < prev + n ? a->commit : prev + n;
    }
    send_append_resp(r, m->from, true, prev + n, 0);
    return 0;
}

int raft__repl_recv_append_conf(struct raft *r, const struct raft_msg *m,
                                size_t bytes, size_t conf_n)
{
    return recv_append_any(r, m, bytes, conf_n);
}

int raft__repl_recv_append(struct raft *r, const struct raft_msg *m,
                           size_t bytes)
{
    if (m->term == r->term && r->role == RAFT_FOLLOWER &&
        r->leader == m->from &&
        m->u.append.prev_index == raft__log_last(&r->log) &&
        m->u.append.prev_index >= r->commit &&
        m->u.append.prev_term == raft__log_last_term(&r->log)) {
        return append_in_order(r, m, bytes);
    }
    return recv_append_any(r, m, bytes, 0);
}
