/*
 * raft.c - lifecycle (create, destroy, bootstrap, restore), queries,
 * version and error text.
 */
#include <string.h>

#include "conf.h"
#include "heap.h"
#include "node.h"
#include "rand.h"
#include "snapshot.h"

/* ---- errors and version ---------------------------------------------- */

const char *raft_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define RAFT__ERRNO_TEXT(name, value, text) \
    case name:                              \
        return text;
        RAFT_ERRNO_MAP(RAFT__ERRNO_TEXT)
#undef RAFT__ERRNO_TEXT
    default:
        return "unknown error";
    }
}

int raft_version_number(void)
{
    return RAFT_VERSION_NUMBER;
}

/* ---- lifecycle -------------------------------------------------------------- */

static int config_fill(struct raft_config *c)
{
    const struct raft_allocator *a = &c->allocator;
    bool any = a->alloc != NULL || a->realloc != NULL || a->free != NULL;
    bool all = a->alloc != NULL && a->realloc != NULL && a->free != NULL;
    if (c->id == 0 || (any && !all)) {
        return RAFT_EINVAL;
    }
    if (c->election_ticks == 0) {
        c->election_ticks = RAFT__DEFAULT_ELECTION_TICKS;
    }
    if (c->heartbeat_ticks == 0) {
        c->heartbeat_ticks = RAFT__DEFAULT_HEARTBEAT_TICKS;
    }
    if (c->max_msg_entries == 0) {
        c->max_msg_entries = RAFT__DEFAULT_MAX_MSG_ENTRIES;
    }
    if (c->max_msg_bytes == 0) {
        c->max_msg_bytes = RAFT__DEFAULT_MAX_MSG_BYTES;
    }
    if (c->max_inflight == 0) {
        c->max_inflight = RAFT__DEFAULT_MAX_INFLIGHT;
    }
    if (c->snapshot_trailing == 0) {
        c->snapshot_trailing = RAFT__DEFAULT_SNAPSHOT_TRAILING;
    }
    if (c->lease_drift_ticks == 0) {
        c->lease_drift_ticks = c->election_ticks / 4 > 0 ? c->election_ticks / 4 : 1;
    }
    if (c->max_pending_reads == 0) {
        c->max_pending_reads = RAFT__DEFAULT_MAX_PENDING_READS;
    }
    if (c->max_inflight_bytes == 0) {
        uint64_t b = (uint64_t)c->max_inflight * c->max_msg_bytes;
        c->max_inflight_bytes = b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
    }
    if (c->max_msg_entries > RAFT_MAX_ACCEPT_ENTRIES ||
        c->max_msg_bytes > RAFT_MAX_ACCEPT_BYTES) {
        return RAFT_EINVAL;
    }
    /* Keep timer arithmetic far from overflow. */
    if (c->election_ticks <= c->heartbeat_ticks || c->election_ticks > UINT32_MAX / 4) {
        return RAFT_EINVAL;
    }
    /* A lease needs stickiness and some length left after the drift. */
    if (c->lease_reads &&
        (c->disable_check_quorum || c->lease_drift_ticks >= c->election_ticks)) {
        return RAFT_EINVAL;
    }
    if (c->max_pending_reads > UINT32_MAX / 2) {
        return RAFT_EINVAL;
    }
#if SIZE_MAX / 64 < UINT32_MAX
    /* A 32-bit size_t: the read ring must fit. */
    if (c->max_pending_reads > SIZE_MAX / sizeof(struct raft__read)) {
        return RAFT_EINVAL;
    }
#endif
    return 0;
}

int raft_create(const struct raft_config *cfg, const struct raft_callbacks *cbs,
                void *ctx, struct raft **out)
{
    struct raft_config c;
    struct raft *r;
    if (cfg == NULL || cbs == NULL || out == NULL || cbs->send == NULL ||
        cbs->persist_state == NULL || cbs->persist_entries == NULL ||
        cbs->apply == NULL) {
        return RAFT_EINVAL;
    }
    /* The snapshot callbacks come as a set. */
    if ((cbs->snapshot_read == NULL) != (cbs->snapshot_write == NULL) ||
        (cbs->snapshot_read == NULL) != (cbs->snapshot_install == NULL)) {
        return RAFT_EINVAL;
    }
    c = *cfg;
    if (config_fill(&c) != 0) {
        return RAFT_EINVAL;
    }
    r = raft__heap_alloc(&c.allocator, sizeof(*r));
    if (r == NULL) {
        return RAFT_ENOMEM;
    }
    memset(r, 0, sizeof(*r));
    r->gate = RAFT__GATE_UNSTARTED;
    r->cfg = c;
    r->cb = *cbs;
    r->ctx = ctx;
    r->rng = c.seed;
    /* Follower read ids must not repeat across restarts: a late answer to
     * an earlier incarnation's request would settle a new read. */
    r->read_id = raft__rand_next(&r->rng) >> 16;
    r->ents = raft__heap_alloc(&r->cfg.allocator,
                               c.max_msg_entries * sizeof(*r->ents));
    if (r->ents == NULL) {
        raft__heap_free(&r->cfg.allocator, r);
        return RAFT_ENOMEM;
    }
    raft__log_init(&r->log, &r->cfg.allocator);
    *out = r;
    return 0;
}

void raft_destroy(struct raft *r)
{
    const struct raft_allocator *a;
    if (r == NULL || (r->gate & RAFT__GATE_BUSY) != 0) {
        return;
    }
    a = &r->cfg.allocator;
    raft__log_close(&r->log);
    raft__conf_free(r);
    raft__heap_free(a, r->ents);
    raft__heap_free(a, r->wq);
    raft__heap_free(a, r->rq);
    raft__heap_free(a, r);
}

static int voters_check(const struct raft *r, const raft_id *voters, size_t n)
{
    size_t i, j;
    bool self = false;
    if (voters == NULL || n == 0 || n > RAFT_MAX_MEMBERS) {
        return RAFT_EINVAL;
    }
    /* Quadratic, but over a voter list given by the host once at start. */
    for (i = 0; i < n; i++) {
        if (voters[i] == 0) {
            return RAFT_EINVAL;
        }
        if (voters[i] == r->cfg.id) {
            self = true;
        }
        for (j = 0; j < i; j++) {
            if (voters[j] == voters[i]) {
                return RAFT_EINVAL;
            }
        }
    }
    return self ? 0 : RAFT_EINVAL;
}

static int entries_check(raft_term term,
                         const struct raft_entry *e, size_t n, size_t *bytes,
                         size_t *runs, size_t *conf_max)
{
    size_t i;
    raft_term prev = 0;
    *bytes = 0;
    *runs = 0;
    if (n > 0 && e == NULL) {
        return RAFT_EINVAL;
    }
    for (i = 0; i < n; i++) {
        if (e[i].term == 0 || e[i].term < prev || e[i].term > term ||
            e[i].type < RAFT_ENTRY_COMMAND || e[i].type > RAFT_ENTRY_CONFIG ||
            (e[i].buf == NULL && e[i].len > 0) || (uint64_t)e[i].len > UINT32_MAX) {
            return RAFT_EINVAL;
        }
        if (e[i].type == RAFT_ENTRY_CONFIG) {
            size_t members;
            if (raft__conf_check(e[i].buf, e[i].len, &members) != 0) {
                return RAFT_EINVAL;
            }
            if (members > *conf_max) {
                *conf_max = members;
            }
        }
        if (e[i].term != prev) {
            (*runs)++;
        }
        prev = e[i].term;
        if (e[i].len > SIZE_MAX - *bytes) {
            return RAFT_EINVAL;
        }
        *bytes += e[i].len;
    }
    return 0;
}

/* Start the node: the base configuration (encoded in conf[0..conf_len),
 * or the bootstrap list voters[0..n_voters), or none), term and vote,
 * and a log whose entries entries[0..n) follow (base, base_term). */
static int start(struct raft *r, const void *conf, size_t conf_len,
                 const raft_id *voters, size_t n_voters, raft_term term,
                 raft_id vote, raft_index base, raft_term base_term,
                 const struct raft_entry *entries, size_t n_entries)
{
    size_t bytes, runs, conf_max = 0, members = 0;
    int rc;
    if (r == NULL) {
        return RAFT_EINVAL;
    }
    if ((r->gate & RAFT__GATE_BUSY) != 0) {
        return RAFT_EBUSY;
    }
    if (r->role != 0) {
        return RAFT_ESTARTED;
    }
    if (voters != NULL || n_voters != 0) {
        rc = voters_check(r, voters, n_voters);
        if (rc != 0) {
            return rc;
        }
        members = n_voters;
    }
    if (conf != NULL && raft__conf_check(conf, conf_len, &members) != 0) {
        return RAFT_EINVAL;
    }
    if (term == UINT64_MAX || (term == 0 && vote != 0) || base_term > term ||
        base == UINT64_MAX || n_entries > UINT64_MAX - 1 - base) {
        return RAFT_EINVAL;
    }
    rc = entries_check(term, entries, n_entries, &bytes, &runs, &conf_max);
    if (rc != 0) {
        return rc;
    }
    if (n_entries > 0 && entries[0].term < base_term) {
        return RAFT_EINVAL;
    }
    /* Also with base 0: an earlier start that ran out of memory may have
     * left another base, and reserved room, in the log. */
    raft__log_reset(&r->log, base, base_term);
    rc = raft__log_reserve(&r->log, n_entries, bytes, runs);
    if (rc != 0) {
        return rc;
    }
    rc = raft__conf_reserve(r, members > conf_max ? members : conf_max);
    if (rc == 0 && conf != NULL) {
        rc = raft__conf_set_base(r, conf, conf_len);
    } else if (rc == 0 && voters != NULL) {
        rc = raft__conf_set_base_voters(r, voters, n_voters);
    }
    if (rc != 0) {
        return rc;
    }
    if (n_entries > 0) {
        raft__log_append_n(&r->log, entries, n_entries);
    }
    r->term = term;
    r->vote = vote;
    r->role = RAFT_FOLLOWER;
    r->gate = 0; /* not busy (checked above) nor stopped (never started) */
    r->durable = raft__log_last(&r->log); /* given by the host from its disk */
    r->snap_index = base;
    r->snap_term = base_term;
    r->commit = base;
    r->applied = base;
    r->metrics.applied_by_snapshot = base;
    r->ev_term = term; /* starting is not an event */
    r->ev_role = RAFT_FOLLOWER;
    r->base_conf_index = base;
    raft__conf_reload(r);
    r->ev_conf_version = r->conf_version;
    r->fx_slow = false;
    raft__reset_election_timer(r);
    return 0;
}

int raft_restore(struct raft *r, const raft_id *voters, size_t n_voters,
                 raft_term term, raft_id vote, const struct raft_entry *entries,
                 size_t n_entries)
{
    return start(r, NULL, 0, voters, n_voters, term, vote, 0, 0, entries,
                 n_entries);
}

int raft_restore_snapshot(struct raft *r, const struct raft_snapshot_meta *snap,
                          raft_term term, raft_id vote, raft_index first_index,
                          const struct raft_entry *entries, size_t n_entries)
{
    raft_index skip;
    if (r == NULL || snap == NULL || snap->index == 0 ||
        snap->index == UINT64_MAX || snap->term == 0 ||
        first_index == 0 || (n_entries > 0 && entries == NULL) ||
        n_entries > UINT64_MAX - first_index) {
        return RAFT_EINVAL;
    }
    if (!raft__snapshot_enabled(r)) {
        return RAFT_EINVAL;
    }
    if (n_entries > 0) {
        raft_index last = first_index + n_entries - 1;
        if (first_index > snap->index + 1 || last < snap->index) {
            return RAFT_ESNAPSHOT; /* a gap, or a log that ends before it */
        }
        skip = snap->index + 1 - first_index; /* entries it covers */
        if (skip > 0 && entries[skip - 1].term != snap->term) {
            return RAFT_ESNAPSHOT;
        }
        entries += skip;
        n_entries -= (size_t)skip;
        if (n_entries > 0 && entries[0].term < snap->term) {
            return RAFT_ESNAPSHOT; /* terms go down after it */
        }
    }
    if (snap->conf == NULL) {
        return RAFT_EINVAL;
    }
    return start(r, snap->conf, snap->conf_len, NULL, 0, term, vote,
                 snap->index, snap->term, entries, n_entries);
}

int raft_bootstrap(struct raft *r, const raft_id *voters, size_t n_voters)
{
    if (voters == NULL) {
        return RAFT_EINVAL; /* NULL would start a node with no configuration */
    }
    return raft_restore(r, voters, n_voters, 0, 0, NULL, 0);
}

int raft_join(struct raft *r)
{
    return start(r, NULL, 0, NULL, 0, 0, 0, 0, 0, NULL, 0);
}

/* ---- queries ---------------------------------------------------------------- */

void raft_status(const struct raft *r, struct raft_status *st)
{
    st->id = r->cfg.id;
    st->role = r->role;
    st->term = r->term;
    st->vote = r->vote;
    st->leader = r->leader;
    st->commit = r->commit;
    st->applied = r->applied;
    st->last_index = raft__log_last(&r->log);
    st->last_term = raft__log_last_term(&r->log);
    st->n_voters = r->n_voters;
    st->snapshot_index = r->snap_index;
    st->first_index = r->log.base + 1;
    st->n_members = r->n_members;
    st->conf_index = r->conf_index;
    st->joint = r->conf_joint;
    st->is_voter = r->role != 0 && raft__is_voter(r, r->self);
}

int raft_conf(const struct raft *r, struct raft_member *out, size_t cap,
              size_t *n)
{
    if (r == NULL || n == NULL || (out == NULL && cap > 0)) {
        return RAFT_EINVAL;
    }
    *n = r->role == 0 ? 0 : r->n_members;
    if (*n > cap) {
        return RAFT_ENOBUFS;
    }
    if (*n > 0) {
        raft__conf_members(r, out, cap);
    }
    return 0;
}

int raft_role(const struct raft *r)
{
    return r->role;
}

raft_term raft_current_term(const struct raft *r)
{
    return r->term;
}

raft_id raft_leader(const struct raft *r)
{
    return r->leader;
}

int raft_progress(const struct raft *r, size_t i, struct raft_progress *p)
{
    const struct raft__progress *pr;
    if (r->role != RAFT_LEADER) {
        return RAFT_ENOTLEADER;
    }
    if (i >= r->n || p == NULL) {
        return RAFT_EINVAL;
    }
    pr = &r->prs[i];
    p->id = pr->id;
    p->self = i == r->self;
    p->flags = r->mflags[i];
    if (p->self) {
        p->state = RAFT_PROGRESS_REPLICATE;
        p->match = r->durable;
        p->next = raft__log_last(&r->log) + 1;
        p->inflight = 0;
        p->snapshot_acked = 0;
    } else {
        p->state = pr->state;
        p->match = pr->match;
        p->next = pr->next;
        p->inflight = pr->infl_count;
        p->snapshot_acked = pr->state == RAFT_PROGRESS_SNAPSHOT ? pr->snap_acked : 0;
    }
    return 0;
}

int raft_metrics(const struct raft *r, struct raft_metrics *out, size_t size)
{
    const struct raft__metrics *c;
    struct raft_metrics m;
    size_t fill = size < sizeof(m) ? size : sizeof(m);
    if (r == NULL || out == NULL || size < sizeof(uint64_t) ||
        size % sizeof(uint64_t) != 0) {
        return RAFT_EINVAL;
    }
    c = &r->metrics;
    memset(&m, 0, sizeof(m));
    m.size = fill;
    memcpy(m.sent, c->sent, sizeof(m.sent));
    memcpy(m.recv, c->recv, sizeof(m.recv));
    memcpy(m.rejected, c->rejected, sizeof(m.rejected));
    m.send_failures = c->send_failures;
    m.queue_full = c->queue_full;
    m.entries_sent = c->entries_sent;
    m.entry_bytes_sent = c->entry_bytes_sent;
    m.elections_started = c->elections_started;
    m.elections_won = c->elections_won;
    m.step_downs = c->step_downs;
    m.entries_proposed = c->entries_proposed;
    m.entries_replicated = c->entries_replicated;
    m.entries_applied = r->applied - c->applied_by_snapshot;
    m.persist_state_calls = c->persist_state_calls;
    m.persist_entries_calls = c->persist_entries_calls;
    m.writes_completed = c->writes_completed;
    m.compactions = c->compactions;
    m.snapshot_chunks_sent = c->snapshot_chunks_sent;
    m.snapshot_bytes_sent = c->snapshot_bytes_sent;
    m.snapshots_installed = c->snapshots_installed;
    m.prevotes_started = c->prevotes_started;
    m.quorum_lost = c->quorum_lost;
    m.reads_served = c->reads_served;
    m.reads_failed = c->reads_failed;
    m.read_rounds = c->read_rounds;
    m.lease_reads = c->lease_reads;
    memcpy(out, &m, fill);
    if (size > fill) {
        /* A caller built against a newer raft.h: counters this library
         * does not have read 0. */
        memset((char *)out + fill, 0, size - fill);
    }
    return 0;
}

int raft_entry_at(const struct raft *r, raft_index index, struct raft_entry *e)
{
    if (r == NULL || e == NULL || index == 0 || index > raft__log_last(&r->log)) {
        return RAFT_EINVAL;
    }
    if (index <= r->log.base) {
        return RAFT_ECOMPACTED;
    }
    raft__log_get(&r->log, index, e);
    return 0;
}
