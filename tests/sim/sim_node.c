/*
 * sim_node.c - node lifecycle, simulated disk and the raft callbacks.
 *
 * Persistence is synchronous, so after every library call a node's log
 * equals the prefix of its disk up to raft_status().last_index; the disk
 * may hold more only after an injected persist_entries failure, which the
 * header allows to leave part of the write behind (those entries come back
 * at the next restart, as on a real disk).
 */
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

#define SIM_BATCH_MAX 8
#define SIM_PAYLOAD_MIN 8 /* the unique id */
#define SIM_PAYLOAD_MAX 64

static unsigned long long sim_ull(uint64_t x)
{
    return (unsigned long long)x;
}

static uint64_t sim_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

bool sim_node_alive(const struct sim_node *nd)
{
    return nd->r != NULL;
}

bool sim_node_running(const struct sim_node *nd)
{
    return nd->r != NULL && nd->paused_until == 0;
}

/* ---- simulated disk ----------------------------------------------------- */

/* Keep the entries up to index `last` (at least base). */
static void sim_disk_cut(struct sim_disk *d, raft_index last)
{
    size_t len = last > d->base ? (size_t)(last - d->base) : 0;
    for (size_t i = len; i < d->len; i++)
        free(d->ents[i].buf);
    if (len < d->len)
        d->len = len;
    while (d->n_confs > 0 && d->confs[d->n_confs - 1] > d->base + d->len)
        d->n_confs--;
}

/* Forget the configuration entries up to `upto` (compacted). */
static void sim_disk_drop_confs(struct sim_disk *d, raft_index upto)
{
    size_t k = 0;
    while (k < d->n_confs && d->confs[k] <= upto)
        k++;
    if (k == 0)
        return;
    memmove(d->confs, d->confs + k, (d->n_confs - k) * sizeof *d->confs);
    d->n_confs -= k;
}

/* Forget every entry up to index `upto` (compacted by the host). */
static void sim_disk_drop_front(struct sim_disk *d, raft_index upto)
{
    if (upto <= d->base)
        return;
    if (upto >= sim_disk_last(d)) {
        d->base_term = sim_disk_term(d, upto);
        sim_disk_cut(d, d->base);
        d->base = upto;
        return;
    }
    size_t k = (size_t)(upto - d->base);
    sim_disk_drop_confs(d, upto);
    d->base_term = d->ents[k - 1].term;
    for (size_t i = 0; i < k; i++)
        free(d->ents[i].buf);
    memmove(d->ents, d->ents + k, (d->len - k) * sizeof *d->ents);
    d->len -= k;
    d->base = upto;
}

/* Drop every entry; the log continues the snapshot sn. */
static void sim_disk_reset(struct sim_disk *d, const struct sim_snap *sn)
{
    sim_disk_cut(d, d->base);
    d->base = sn->index;
    d->base_term = sn->term;
}

/* Append copies of e[0..n) after the last stored entry of d. */
static bool sim_disk_append_to(struct sim_node *nd, struct sim_disk *d,
                               const struct raft_entry *e, size_t n)
{
    struct sim *s = nd->sim;
    struct sim_entry *ents =
        sim_grow(s, d->ents, &d->cap, d->len + n, sizeof *ents);
    if (ents == NULL)
        return false;
    d->ents = ents;
    for (size_t k = 0; k < n; k++) {
        struct sim_entry *x = &d->ents[d->len];
        x->term = e[k].term;
        x->type = e[k].type;
        x->len = e[k].len;
        x->buf = NULL;
        if (x->len > 0) {
            x->buf = malloc(x->len);
            if (x->buf == NULL) {
                s->oom = true;
                return false;
            }
            memcpy(x->buf, e[k].buf, x->len);
        }
        x->hash = sim_entry_hash(x->type, x->buf, x->len);
        d->len++;
        if (x->type == RAFT_ENTRY_CONFIG) {
            raft_index *c = sim_grow(s, d->confs, &d->confs_cap,
                                     d->n_confs + 1, sizeof *c);
            if (c == NULL)
                return false;
            d->confs = c;
            d->confs[d->n_confs++] = d->base + d->len;
        }
    }
    return true;
}

static bool sim_disk_append(struct sim_node *nd, const struct raft_entry *e,
                            size_t n)
{
    return sim_disk_append_to(nd, &nd->disk, e, n);
}

/* The same, from entries the simulator owns. */
static bool sim_disk_append_ents(struct sim_node *nd, struct sim_disk *d,
                                 const struct sim_entry *x, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        struct raft_entry e = {x[k].term, x[k].type, x[k].buf, x[k].len};
        if (!sim_disk_append_to(nd, d, &e, 1))
            return false;
    }
    return true;
}

static void sim_disk_free(struct sim_disk *d)
{
    sim_disk_cut(d, d->base);
    free(d->ents);
    d->ents = NULL;
    d->cap = 0;
    free(d->confs);
    d->confs = NULL;
    d->n_confs = d->confs_cap = 0;
}

/* ---- asynchronous writes -------------------------------------------------- */

const struct sim_disk *sim_durable(const struct sim_node *nd)
{
    return nd->async ? &nd->dur : &nd->disk;
}

static void sim_write_free(struct sim_write *w)
{
    for (size_t k = 0; k < w->n; k++)
        free(w->ents[k].buf);
    free(w->ents);
    w->ents = NULL;
    w->n = 0;
}

/* Queue a started write; its entries are copied (the library's are only
 * borrowed). */
static bool sim_pend_push(struct sim_node *nd, const struct sim_write *w,
                          const struct raft_entry *e)
{
    struct sim *s = nd->sim;
    struct sim_write *p = sim_grow(s, nd->pend, &nd->pend_cap,
                                   nd->pend_len + 1, sizeof *p);
    if (p == NULL)
        return false;
    nd->pend = p;
    struct sim_write *x = &nd->pend[nd->pend_len];
    *x = *w;
    x->at = s->now;
    x->ents = NULL;
    if (w->n > 0) {
        x->ents = calloc(w->n, sizeof *x->ents);
        if (x->ents == NULL) {
            s->oom = true;
            return false;
        }
        for (size_t k = 0; k < w->n; k++) {
            x->ents[k].term = e[k].term;
            x->ents[k].type = e[k].type;
            x->ents[k].len = e[k].len;
            x->ents[k].hash = sim_entry_hash(e[k].type, e[k].buf, e[k].len);
            if (e[k].len > 0) {
                x->ents[k].buf = malloc(e[k].len);
                if (x->ents[k].buf == NULL) {
                    s->oom = true;
                    x->n = k;
                    nd->pend_len++;
                    return false;
                }
                memcpy(x->ents[k].buf, e[k].buf, e[k].len);
            }
        }
    }
    nd->pend_len++;
    return true;
}

/* Make write w durable; an entries write keeps only its first `keep`
 * entries (a crash in the middle of it). */
static void sim_write_land(struct sim_node *nd, const struct sim_write *w,
                           size_t keep)
{
    struct sim_disk *d = &nd->dur;
    nd->sim->st.ghost_landed += w->ghost;
    if (w->state) {
        d->term = w->term;
        d->vote = w->vote;
        sim_conf_note_vote(nd, w->term, w->vote);
        return;
    }
    if (w->install) {
        d->snap = w->snap;
        if (!w->keep)
            sim_disk_reset(d, &w->snap);
        return;
    }
    sim_disk_cut(d, w->first - 1);
    sim_disk_append_ents(nd, d, w->ents, keep < w->n ? keep : w->n);
    if (w->first < nd->cut_in_call)
        nd->cut_in_call = w->first;
}

/* Drop the k oldest pending writes (already landed or lost). */
static void sim_pend_pop(struct sim_node *nd, size_t k)
{
    if (k == 0)
        return;
    for (size_t i = 0; i < k; i++)
        sim_write_free(&nd->pend[i]);
    memmove(nd->pend, nd->pend + k, (nd->pend_len - k) * sizeof *nd->pend);
    nd->pend_len -= k;
}

/* A crash or a failed completion: some prefix of the pending writes lands,
 * the last of it possibly in part, and the rest is lost. The node's disk is
 * then what is durable. */
static void sim_pend_crash(struct sim_node *nd)
{
    struct sim *s = nd->sim;
    if (!nd->async)
        return;
    size_t j = (size_t)sim_choose(s, nd->pend_len + 1);
    for (size_t i = 0; i < j; i++)
        sim_write_land(nd, &nd->pend[i], SIZE_MAX);
    if (j < nd->pend_len && !nd->pend[j].state && !nd->pend[j].install &&
        nd->pend[j].n > 0 && sim_choose(s, 2) == 0)
        sim_write_land(nd, &nd->pend[j], (size_t)sim_choose(s, nd->pend[j].n));
    sim_tracef(s, "  [%llu] crash: %zu of %zu pending writes landed",
               sim_ull(nd->id), j, nd->pend_len);
    sim_pend_pop(nd, nd->pend_len);
    sim_disk_cut(&nd->disk, nd->disk.base);
    nd->disk.base = nd->dur.base;
    nd->disk.base_term = nd->dur.base_term;
    sim_disk_append_ents(nd, &nd->disk, nd->dur.ents, nd->dur.len);
    nd->disk.term = nd->dur.term;
    nd->disk.vote = nd->dur.vote;
    nd->disk.snap = nd->dur.snap;
}

/* ---- allocator: counts blocks so a leak in the library is caught at
 * raft_destroy() without valgrind ---------------------------------------- */

static void *sim_alloc(void *ctx, size_t size)
{
    struct sim_node *nd = ctx;
    void *p = malloc(size ? size : 1);
    if (p != NULL)
        nd->alloc_live++;
    return p;
}

static void *sim_realloc(void *ctx, void *p, size_t size)
{
    if (p == NULL)
        return sim_alloc(ctx, size);
    return realloc(p, size ? size : 1);
}

static void sim_free(void *ctx, void *p)
{
    struct sim_node *nd = ctx;
    if (p == NULL) {
        sim_fail(nd->sim, "API", "node %llu: allocator free(NULL) called",
                 sim_ull(nd->id));
        return;
    }
    nd->alloc_live--;
    free(p);
}

/* ---- callbacks ------------------------------------------------------------ */

static bool sim_cb_node_ok(struct sim_node *nd, const struct raft *r,
                           const char *cb)
{
    if (r == nd->r)
        return true;
    sim_fail(nd->sim, "API", "%s callback of node %llu got another node's "
             "handle", cb, sim_ull(nd->id));
    return false;
}

static int sim_cb_send(struct raft *r, void *ctx, const struct raft_msg *m)
{
    struct sim_node *nd = ctx;
    struct sim *s = nd->sim;
    if (!sim_cb_node_ok(nd, r, "send"))
        return -1;
    sim_check_outgoing(nd, m);
    if (!s->faults_on && !s->backlog && m->type == RAFT_MSG_APPEND) {
        for (size_t k = 0; k < m->u.append.n_entries; k++)
            s->heal_sent += m->u.append.entries[k].len;
    }
    if (s->trace != NULL) {
        char d[160];
        sim_net_describe(m, d, sizeof d);
        sim_tracef(s, "  send %s", d);
    }
    if (s->faults_on && sim_one_in(s, s->f.send_fail)) {
        s->st.send_failures++;
        nd->tally.send_failures++;
        sim_tracef(s, "  [%llu] send fails (injected)", sim_ull(nd->id));
        return -1;
    }
    sim_net_send(s, m);
    if (m->type >= 0 && m->type < RAFT_METRICS_MSG_SLOTS)
        nd->tally.sent[m->type]++;
    if (m->type == RAFT_MSG_APPEND) {
        nd->tally.entries_sent += m->u.append.n_entries;
        for (size_t k = 0; k < m->u.append.n_entries; k++)
            nd->tally.entry_bytes_sent += m->u.append.entries[k].len;
    }
    return 0;
}

static int sim_cb_persist_state(struct raft *r, void *ctx, raft_term term,
                                raft_id vote)
{
    struct sim_node *nd = ctx;
    struct sim *s = nd->sim;
    struct sim_disk *d = &nd->disk;
    if (!sim_cb_node_ok(nd, r, "persist_state"))
        return -1;
    nd->tally.persist_state_calls++;
    if (term < d->term || term == 0 || vote > s->n)
        sim_fail(s, "persist_state", "node %llu persists term %llu vote %llu "
                 "over term %llu", sim_ull(nd->id), sim_ull(term),
                 sim_ull(vote), sim_ull(d->term));
    else if (term == d->term && d->vote != 0 && vote != d->vote)
        sim_fail(s, "Election Safety", "node %llu changes its term-%llu vote "
                 "from %llu to %llu", sim_ull(nd->id), sim_ull(term),
                 sim_ull(d->vote), sim_ull(vote));
    /* The header promises mutating calls from callbacks are refused. */
    if (raft_tick(r) != RAFT_EBUSY)
        sim_fail(s, "API", "raft_tick from within a callback of node %llu "
                 "was not refused with RAFT_EBUSY", sim_ull(nd->id));
    if (s->faults_on && sim_one_in(s, s->f.persist_fail)) {
        s->inj_persist = true;
        s->st.persist_failures++;
        sim_tracef(s, "  [%llu] persist_state term=%llu vote=%llu FAILS "
                   "(injected)", sim_ull(nd->id), sim_ull(term), sim_ull(vote));
        return -1;
    }
    sim_tracef(s, "  [%llu] persist_state term=%llu vote=%llu%s",
               sim_ull(nd->id), sim_ull(term), sim_ull(vote),
               nd->async ? " (started)" : "");
    d->term = term;
    d->vote = vote;
    if (nd->async) {
        struct sim_write w = {.state = true, .term = term, .vote = vote};
        if (!sim_pend_push(nd, &w, NULL))
            return -1;
    } else {
        sim_conf_note_vote(nd, term, vote);
    }
    return 0;
}

/* Injected failure: the disk keeps an arbitrary part of the write, as the
 * header allows: either the truncation happened and a prefix (possibly
 * empty) of the new entries landed, or only part of the old tail went.
 * An asynchronous node's call failed to start its write, which the header
 * treats as a failed synchronous write: the same part of it is queued as
 * a ghost write, behind the writes already pending (a crash may lose it
 * with them), and the node's disk view (dur + pend) shows it at once. */
static void sim_persist_partial(struct sim_node *nd, raft_index first,
                                const struct raft_entry *e, size_t n)
{
    struct sim *s = nd->sim;
    struct sim_disk *d = &nd->disk;
    size_t base = (size_t)(first - 1 - d->base); /* stored entries kept */
    struct sim_write w = {.ghost = true};
    const char *how = nd->async ? "FAILS to start" : "FAILS";
    if (d->len <= base || sim_choose(s, 2) == 0) {
        sim_disk_cut(d, first - 1);
        size_t k = (size_t)sim_choose(s, n);
        sim_disk_append(nd, e, k);
        w.first = first;
        w.n = k;
        sim_tracef(s, "  [%llu] persist_entries first=%llu n=%zu %s "
                   "(injected), %zu new entries stored", sim_ull(nd->id),
                   sim_ull(first), n, how, k);
    } else {
        size_t keep = (size_t)sim_choose(s, d->len - base + 1);
        sim_disk_cut(d, first - 1 + keep);
        w.first = first + keep; /* a cut, no entry */
        sim_tracef(s, "  [%llu] persist_entries first=%llu n=%zu %s "
                   "(injected), %zu old entries kept", sim_ull(nd->id),
                   sim_ull(first), n, how, keep);
    }
    if (nd->async) {
        s->st.ghost_writes++;
        sim_pend_push(nd, &w, e);
    }
}

static int sim_cb_persist_entries(struct raft *r, void *ctx, raft_index first,
                                  const struct raft_entry *e, size_t n)
{
    struct sim_node *nd = ctx;
    struct sim *s = nd->sim;
    if (!sim_cb_node_ok(nd, r, "persist_entries"))
        return -1;
    nd->tally.persist_entries_calls++;
    sim_check_persist(nd, first, e, n);
    if (s->failed)
        return -1; /* the write may be impossible to perform; run is over */
    if (s->faults_on && sim_one_in(s, s->f.persist_fail)) {
        s->inj_persist = true;
        s->st.persist_failures++;
        sim_persist_partial(nd, first, e, n);
        nd->log_last = first - 1;
        return -1;
    }
    sim_tracef(s, "  [%llu] persist_entries first=%llu n=%zu (terms "
               "%llu..%llu)%s", sim_ull(nd->id), sim_ull(first), n,
               sim_ull(e[0].term), sim_ull(e[n - 1].term),
               nd->async ? " (started)" : "");
    sim_disk_cut(&nd->disk, first - 1);
    nd->log_last = first - 1;
    if (!sim_disk_append(nd, e, n))
        return -1;
    if (nd->async) {
        struct sim_write w = {.first = first, .n = n};
        if (!sim_pend_push(nd, &w, e))
            return -1;
    }
    nd->log_last = first - 1 + n;
    return 0;
}

static int sim_cb_apply(struct raft *r, void *ctx, raft_index index,
                        const struct raft_entry *e)
{
    struct sim_node *nd = ctx;
    struct sim *s = nd->sim;
    if (!sim_cb_node_ok(nd, r, "apply"))
        return -1;
    sim_check_apply(nd, index, e);
    if (s->failed)
        return -1; /* stop a broken node from applying further (past its
                      log, it may not even hold the entries it applies) */
    if (s->faults_on && sim_one_in(s, s->f.apply_fail)) {
        s->inj_apply = true;
        s->st.apply_failures++;
        sim_tracef(s, "  [%llu] apply index=%llu FAILS (injected)",
                   sim_ull(nd->id), sim_ull(index));
        return -1;
    }
    sim_tracef(s, "  [%llu] apply index=%llu term=%llu", sim_ull(nd->id),
               sim_ull(index), sim_ull(e->term));
    nd->applied = index;
    nd->sm = sim_mix64(nd->sm ^ sim_entry_hash(e->type, e->buf, e->len));
    sim_check_state(nd, index, nd->sm, "applies");
    nd->tally.applied++;
    return 0;
}

static const char *sim_event_name(int type)
{
    static const char *const names[] = {
        "?",           "ROLE",           "TERM",
        "ELECTION_START", "ELECTION_WON", "ELECTION_LOST",
        "MSG_REJECTED", "APPEND_REJECTED", "SEND_FAILED",
        "STEP_DOWN",   "PREVOTE_START",  "CONF",
        "TRANSFER_ABORTED"};
    return type >= 1 && type <= RAFT_EVENT_TRANSFER_ABORTED ? names[type]
                                                           : names[0];
}

static void sim_cb_event(struct raft *r, void *ctx, const struct raft_event *ev)
{
    struct sim_node *nd = ctx;
    struct sim *s = nd->sim;
    if (!sim_cb_node_ok(nd, r, "event"))
        return;
    sim_tracef(s, "  [%llu] event %s term=%llu role=%d peer=%llu error=%d%s%s",
               sim_ull(nd->id), sim_event_name(ev->type), sim_ull(ev->term),
               ev->role,
               sim_ull(ev->peer), ev->error, ev->reason ? " " : "",
               ev->reason ? ev->reason : "");
    if (s->svg != NULL)
        sim_svg_event(nd, ev);
    if (ev->term != raft_current_term(r) || ev->role != raft_role(r))
        sim_fail(s, "Events", "node %llu reports event %s with term %llu role "
                 "%d, but its queries say term %llu role %d", sim_ull(nd->id),
                 sim_event_name(ev->type), sim_ull(ev->term), ev->role,
                 sim_ull(raft_current_term(r)), raft_role(r));
    if (ev->type == RAFT_EVENT_ELECTION_WON) {
        const struct sim_disk *dd = sim_durable(nd);
        if (dd->term != ev->term || dd->vote != nd->id)
            sim_fail(s, "Durability", "node %llu won term %llu with its own "
                     "vote not durable (durable term %llu vote %llu)",
                     sim_ull(nd->id), sim_ull(ev->term), sim_ull(dd->term),
                     sim_ull(dd->vote));
    }
    /* Record leadership at once: a leader whose first append fails steps
     * down within the same call, before the post-call status check. */
    if (ev->type == RAFT_EVENT_ELECTION_WON ||
        (ev->type == RAFT_EVENT_ROLE && ev->role == RAFT_LEADER))
        sim_note_leader(nd, ev->term);
    if (ev->type == RAFT_EVENT_ELECTION_WON)
        sim_conf_check_won(nd, ev->term);
    sim_conf_on_event(nd, ev);
    if (ev->type == RAFT_EVENT_STEP_DOWN && ev->error != 0 &&
        !(ev->error == RAFT_EPERSIST && s->inj_persist) &&
        ev->error != RAFT_ENOQUORUM && ev->error != RAFT_EREMOVED)
        sim_fail(s, "Error reporting", "node %llu stepped down with error "
                 "%d without an injected persist failure", sim_ull(nd->id),
                 ev->error);
}

/* ---- snapshots ------------------------------------------------------------ */

#define SIM_SNAP_HEADER 24 /* index, term, state: 8 bytes each */

static bool sim_snap_conf_ok(struct sim_node *nd, const struct sim_snap *sn,
                             const char *what);

uint8_t sim_snap_byte(const struct sim_snap *sn, size_t k)
{
    if (k < SIM_SNAP_HEADER) {
        uint64_t v = k < 8 ? sn->index : k < 16 ? sn->term : sn->state;
        return (uint8_t)(v >> (8 * (k % 8)));
    }
    return (uint8_t)sim_mix64(sn->state ^ sn->index ^ (uint64_t)k);
}

static void sim_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t sim_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int sim_cb_snapshot_read(struct raft *r, void *ctx, raft_index index,
                                uint64_t offset, size_t max, const void **data,
                                size_t *len, bool *last)
{
    struct sim_node *nd = ctx;
    struct sim *s = nd->sim;
    const struct sim_snap *sn = &nd->disk.snap;
    if (!sim_cb_node_ok(nd, r, "snapshot_read"))
        return -1;
    if (index != sn->index || index == 0) {
        sim_tracef(s, "  [%llu] snapshot_read index=%llu: gone (have %llu)",
                   sim_ull(nd->id), sim_ull(index), sim_ull(sn->index));
        return -1;
    }
    if (offset > s->snap_size || max == 0) {
        sim_fail(s, "API", "node %llu reads snapshot %llu at offset %llu "
                 "(size %zu), max %zu", sim_ull(nd->id), sim_ull(index),
                 sim_ull(offset), s->snap_size, max);
        return -1;
    }
    if (s->faults_on && sim_one_in(s, s->f.snap_fail)) {
        sim_tracef(s, "  [%llu] snapshot_read FAILS (injected)", sim_ull(nd->id));
        return -1;
    }
    size_t n = s->snap_size - (size_t)offset;
    n = n < max ? n : max;
    if (n > nd->rd_cap) {
        uint8_t *b = realloc(nd->rd_buf, n);
        if (b == NULL) {
            s->oom = true;
            return -1;
        }
        nd->rd_buf = b;
        nd->rd_cap = n;
    }
    for (size_t k = 0; k < n; k++)
        nd->rd_buf[k] = sim_snap_byte(sn, (size_t)offset + k);
    *data = nd->rd_buf;
    *len = n;
    *last = offset + n == s->snap_size;
    s->st.snap_chunks++;
    return 0;
}

static int sim_cb_snapshot_write(struct raft *r, void *ctx,
                                 const struct raft_snapshot_meta *meta,
                                 uint64_t offset, const void *data, size_t len)
{
    struct sim_node *nd = ctx;
    struct sim *s = nd->sim;
    if (!sim_cb_node_ok(nd, r, "snapshot_write"))
        return -1;
    if (meta->index == 0 || meta->term == 0 ||
        (offset != 0 && (meta->index != nd->rx.index ||
                         meta->term != nd->rx.term || offset != nd->rx_len)) ||
        offset + len > s->snap_size || (len > 0 && data == NULL)) {
        sim_fail(s, "Snapshot", "node %llu gets chunk %llu+%zu of snapshot "
                 "%llu/%llu, after %zu bytes of %llu/%llu", sim_ull(nd->id),
                 sim_ull(offset), len, sim_ull(meta->index),
                 sim_ull(meta->term), nd->rx_len, sim_ull(nd->rx.index),
                 sim_ull(nd->rx.term));
        return -1;
    }
    if (s->faults_on && sim_one_in(s, s->f.snap_fail)) {
        s->inj_persist = true;
        sim_tracef(s, "  [%llu] snapshot_write FAILS (injected)", sim_ull(nd->id));
        return -1;
    }
    if (offset == 0) {
        nd->rx.index = meta->index;
        nd->rx.term = meta->term;
        nd->rx_len = 0;
    }
    if (nd->rx_cap < s->snap_size) {
        uint8_t *b = realloc(nd->rx_buf, s->snap_size);
        if (b == NULL) {
            s->oom = true;
            return -1;
        }
        nd->rx_buf = b;
        nd->rx_cap = s->snap_size;
    }
    if (len > 0)
        memcpy(nd->rx_buf + offset, data, len);
    nd->rx_len = (size_t)offset + len;
    sim_tracef(s, "  [%llu] snapshot_write %llu/%llu offset=%llu len=%zu",
               sim_ull(nd->id), sim_ull(meta->index), sim_ull(meta->term),
               sim_ull(offset), len);
    return 0;
}

static int sim_cb_snapshot_install(struct raft *r, void *ctx,
                                   const struct raft_snapshot_meta *meta,
                                   bool keep)
{
    struct sim_node *nd = ctx;
    struct sim *s = nd->sim;
    struct sim_disk *d = &nd->disk;
    if (!sim_cb_node_ok(nd, r, "snapshot_install"))
        return -1;
    struct sim_snap sn = {meta->index, meta->term, 0, 0, {0}};
    if (meta->conf == NULL || meta->conf_len > SIM_CONF_MAX ||
        raft_conf_decode(meta->conf, meta->conf_len, NULL, 0, &sn.conf_len) ==
            RAFT_EFORMAT) {
        sim_fail(s, "Snapshot", "node %llu installs snapshot %llu/%llu "
                 "without a valid configuration", sim_ull(nd->id),
                 sim_ull(meta->index), sim_ull(meta->term));
        return -1;
    }
    memcpy(sn.conf, meta->conf, meta->conf_len);
    sn.conf_len = meta->conf_len;
    if (!sim_snap_conf_ok(nd, &sn, "installs"))
        return -1;
    bool whole = nd->rx.index == meta->index && nd->rx.term == meta->term &&
                 nd->rx_len == s->snap_size;
    if (whole)
        sn.state = sim_get64(nd->rx_buf + 16);
    for (size_t k = 0; whole && k < s->snap_size; k++)
        whole = nd->rx_buf[k] == sim_snap_byte(&sn, k);
    if (!whole) {
        sim_fail(s, "Snapshot", "node %llu installs snapshot %llu/%llu with "
                 "%zu bytes received of %llu/%llu, or corrupted",
                 sim_ull(nd->id), sim_ull(meta->index), sim_ull(meta->term),
                 nd->rx_len, sim_ull(nd->rx.index), sim_ull(nd->rx.term));
        return -1;
    }
    /* keep: the log holds the snapshot's last entry with its term. */
    bool holds = meta->index <= nd->log_last &&
                 sim_disk_term(d, meta->index) == meta->term;
    if (keep != holds) {
        sim_fail(s, "Snapshot", "node %llu installs snapshot %llu/%llu with "
                 "keep=%d, but its log %s that entry", sim_ull(nd->id),
                 sim_ull(meta->index), sim_ull(meta->term), (int)keep,
                 holds ? "holds" : "does not hold");
        return -1;
    }
    if (meta->index <= nd->applied) {
        sim_fail(s, "State Machine Safety", "node %llu installs snapshot "
                 "%llu over a state machine at %llu: its state goes back",
                 sim_ull(nd->id), sim_ull(meta->index), sim_ull(nd->applied));
        return -1;
    }
    if (s->faults_on && sim_one_in(s, s->f.snap_fail)) {
        s->inj_persist = true;
        sim_tracef(s, "  [%llu] snapshot_install FAILS (injected)",
                   sim_ull(nd->id));
        return -1;
    }
    sim_check_state(nd, meta->index, sn.state, "installs");
    sim_tracef(s, "  [%llu] snapshot_install %llu/%llu keep=%d%s",
               sim_ull(nd->id), sim_ull(meta->index), sim_ull(meta->term),
               (int)keep, nd->async ? " (started)" : "");
    sim_stretch_on_install(s, nd);
    d->snap = sn;
    if (!keep) {
        sim_disk_reset(d, &sn);
        nd->log_last = meta->index;
    }
    if (nd->async) {
        struct sim_write w = {.install = true, .keep = keep, .snap = sn};
        if (!sim_pend_push(nd, &w, NULL))
            return -1;
    }
    nd->sm = sn.state;
    nd->applied = meta->index;
    if (nd->verified < meta->index)
        nd->verified = meta->index;
    s->st.installs++;
    if (s->svg != NULL)
        sim_svg_mark(s, nd->id, SIM_SVG_MARK_INSTALL);
    return 0;
}

/* Encode the bootstrap configuration (voters 1..n_boot) into sn. */
void sim_conf_bootstrap(const struct sim *s, struct sim_snap *sn)
{
    uint8_t *p = sn->conf;
    memset(p, 0, 8);
    p[0] = 1;
    p[4] = (uint8_t)s->n_boot;
    for (size_t i = 0; i < s->n_boot; i++) {
        sim_put64(p + 8 + 9 * i, s->voters[i]);
        p[8 + 9 * i + 8] = RAFT_MEMBER_VOTER;
    }
    sn->conf_len = 8 + 9 * s->n_boot;
}

/* A snapshot covers committed entries only: its configuration is the one
 * committed at its index. */
static bool sim_snap_conf_ok(struct sim_node *nd, const struct sim_snap *sn,
                             const char *what)
{
    struct sim_conf got, want;
    sim_conf_committed_at(nd->sim, sn->index, &want);
    if (sim_conf_parse(sn->conf, sn->conf_len, &got) &&
        sim_conf_equal(&got, &want))
        return true;
    sim_fail(nd->sim, "Snapshot", "node %llu %s snapshot %llu/%llu with a "
             "configuration other than the one committed at %llu",
             sim_ull(nd->id), what, sim_ull(sn->index), sim_ull(sn->term),
             sim_ull(sn->index));
    return false;
}

/* What a host does to put the configuration at x into its snapshot: the
 * last configuration entry at or below x still in the log, or else its
 * current snapshot's (the bootstrap list before any). */
void sim_conf_at(struct sim_node *nd, raft_index x, raft_index snap_index,
                 struct sim_snap *sn)
{
    struct raft_entry e;
    for (raft_index i = x; i > snap_index; i--) {
        if (raft_entry_at(nd->r, i, &e) == 0 && e.type == RAFT_ENTRY_CONFIG &&
            e.len <= SIM_CONF_MAX) {
            memcpy(sn->conf, e.buf, e.len);
            sn->conf_len = e.len;
            return;
        }
    }
    if (nd->disk.snap.index > 0) {
        memcpy(sn->conf, nd->disk.snap.conf, nd->disk.snap.conf_len);
        sn->conf_len = nd->disk.snap.conf_len;
    } else {
        sim_conf_bootstrap(nd->sim, sn);
    }
}

void sim_node_snapshot(struct sim_node *nd)
{
    struct sim *s = nd->sim;
    struct raft_status st;
    struct raft_entry e;
    if (s->snap_trailing == 0 || !sim_node_alive(nd))
        return;
    raft_status(nd->r, &st);
    if (sim_choose(s, 8) == 0) {
        /* Past the applied index: refused, nothing changes. */
        raft_index bad = st.applied + 1 + sim_choose(s, 4);
        sim_call_begin(s);
        int rc = raft_compact(nd->r, bad);
        sim_tracef(s, "compact node %llu at %llu, applied %llu -> %s",
                   sim_ull(nd->id), sim_ull(bad), sim_ull(st.applied),
                   raft_strerror(rc));
        if (rc != RAFT_EINVAL)
            sim_fail(s, "Compaction", "node %llu accepts raft_compact(%llu) "
                     "with only %llu applied (%s)", sim_ull(nd->id),
                     sim_ull(bad), sim_ull(st.applied), raft_strerror(rc));
        sim_check_node(nd);
        if (s->failed)
            return;
        raft_status(nd->r, &st); /* the call may have applied (a retry) */
    }
    if (st.applied <= st.snapshot_index)
        return;
    /* At the applied index, or at an earlier one whose state the host kept
     * (the state there is the one every node had there). */
    raft_index x = st.applied;
    uint64_t state = nd->sm;
    if (sim_choose(s, 4) == 0) {
        x = st.snapshot_index + 1 + sim_choose(s, st.applied - st.snapshot_index);
        if (x > s->sm_len) {
            sim_fail(s, "State Machine Safety", "node %llu applied %llu, "
                     "beyond the states recorded", sim_ull(nd->id), sim_ull(x));
            return;
        }
        state = s->sm_at[x - 1];
    }
    if (raft_entry_at(nd->r, x, &e) != 0) {
        sim_fail(s, "API", "node %llu cannot read its applied entry %llu",
                 sim_ull(nd->id), sim_ull(x));
        return;
    }
    struct sim_snap sn = {x, e.term, state, 0, {0}};
    sim_conf_at(nd, x, st.snapshot_index, &sn);
    if (!sim_snap_conf_ok(nd, &sn, "snapshots"))
        return;
    nd->disk.snap = sn; /* written durably before the node is told */
    if (nd->async)
        nd->dur.snap = sn;
    sim_call_begin(s);
    sim_tracef(s, "snapshot node %llu at %llu/%llu", sim_ull(nd->id),
               sim_ull(x), sim_ull(e.term));
    int rc = raft_compact(nd->r, x);
    sim_check_rc(nd, "raft_compact", rc, 0);
    raft_status(nd->r, &st);
    if (st.snapshot_index != x || st.first_index > x + 1 ||
        (st.first_index > 1 &&
         raft_entry_at(nd->r, st.first_index - 1, &e) != RAFT_ECOMPACTED))
        sim_fail(s, "Compaction", "node %llu compacted at %llu reports "
                 "snapshot %llu, first index %llu", sim_ull(nd->id),
                 sim_ull(x), sim_ull(st.snapshot_index),
                 sim_ull(st.first_index));
    /* The host may now drop its copies of what the node dropped. */
    sim_disk_drop_front(&nd->disk, st.first_index - 1);
    if (nd->async)
        sim_disk_drop_front(&nd->dur, st.first_index - 1);
    s->st.snapshots++;
    sim_check_node(nd);
}

static const struct raft_callbacks sim_callbacks = {
    .send = sim_cb_send,
    .persist_state = sim_cb_persist_state,
    .persist_entries = sim_cb_persist_entries,
    .apply = sim_cb_apply,
    .event = sim_cb_event,
    .snapshot_read = sim_cb_snapshot_read,
    .snapshot_write = sim_cb_snapshot_write,
    .snapshot_install = sim_cb_snapshot_install,
    .read = sim_read_cb,
};

/* ---- lifecycle ------------------------------------------------------------ */

/* raft_destroy and check the library returned every block it allocated. */
static void sim_node_destroy(struct sim_node *nd)
{
    raft_destroy(nd->r);
    nd->r = NULL;
    if (nd->alloc_live != 0)
        sim_fail(nd->sim, "Memory", "node %llu: %llu blocks still allocated "
                 "after raft_destroy", sim_ull(nd->id),
                 sim_ull(nd->alloc_live));
    nd->alloc_live = 0;
}

int sim_node_init(struct sim *s, struct sim_node *nd, raft_id id, bool start)
{
    static const unsigned rates[3][2] = {{1, 1}, {2, 3}, {3, 2}};
    nd->sim = s;
    nd->id = id;
    nd->cfg = s->cfg;
    nd->cfg.id = id;
    nd->cfg.allocator = (struct raft_allocator){nd, sim_alloc, sim_realloc,
                                                sim_free};
    size_t rate = s->skewed ? (size_t)sim_choose(s, 3) : 0;
    nd->rate_num = rates[rate][0];
    nd->rate_den = rates[rate][1];
    nd->async = s->persist_mode == SIM_PERSIST_ASYNC ||
                (s->persist_mode == SIM_PERSIST_MIXED && sim_choose(s, 2) == 0);
    nd->cfg.async_persist = nd->async;
    s->st.async_nodes += nd->async;
    nd->cut_in_call = UINT64_MAX;
    nd->joined = id > s->n_boot;
    if (!start) {
        sim_tracef(s, "node %llu waits to be started (raft_join)",
                   sim_ull(id));
        return 0;
    }
    return sim_node_start(nd, false);
}

static int sim_node_restore(struct sim_node *nd)
{
    struct sim *s = nd->sim;
    const struct sim_disk *d = &nd->disk;
    struct raft_entry *ents = NULL;
    if (d->len > 0) {
        ents = malloc(d->len * sizeof *ents);
        if (ents == NULL)
            return RAFT_ENOMEM;
    }
    for (size_t i = 0; i < d->len; i++)
        ents[i] = (struct raft_entry){d->ents[i].term, d->ents[i].type,
                                      d->ents[i].buf, d->ents[i].len};
    int rc;
    if (d->snap.index > 0) {
        struct raft_snapshot_meta meta = {d->snap.index, d->snap.term,
                                          d->snap.conf, d->snap.conf_len};
        rc = raft_restore_snapshot(nd->r, &meta, d->term, d->vote, d->base + 1,
                                   ents, d->len);
    } else if (nd->joined) {
        rc = raft_restore(nd->r, NULL, 0, d->term, d->vote, ents, d->len);
    } else {
        rc = raft_restore(nd->r, s->voters, s->n_boot, d->term, d->vote, ents,
                          d->len);
    }
    free(ents);
    return rc;
}

/* A freshly started node: follower, nothing committed, log == disk. */
static void sim_node_check_fresh(struct sim_node *nd)
{
    struct raft_status st;
    raft_status(nd->r, &st);
    const struct sim_disk *d = &nd->disk;
    raft_index last = sim_disk_last(d) > d->snap.index ? sim_disk_last(d)
                                                       : d->snap.index;
    if (st.role != RAFT_FOLLOWER || st.commit != d->snap.index ||
        st.applied != d->snap.index || st.last_index != last ||
        st.leader != 0 || st.snapshot_index != d->snap.index)
        sim_fail(nd->sim, "Restart", "node %llu starts as role %d, commit "
                 "%llu, applied %llu, leader %llu, log %llu (disk %llu, "
                 "snapshot %llu)", sim_ull(nd->id), st.role,
                 sim_ull(st.commit), sim_ull(st.applied), sim_ull(st.leader),
                 sim_ull(st.last_index), sim_ull(sim_disk_last(d)),
                 sim_ull(d->snap.index));
}

/* Create and bootstrap (first start) or restore (restart from disk). */
int sim_node_start(struct sim_node *nd, bool restore)
{
    struct sim *s = nd->sim;
    if (restore) {
        nd->incarnation++;
        s->st.restarts++;
    }
    nd->cfg.seed = sim_mix64(sim_choose(s, UINT64_MAX) ^
                             sim_mix64(nd->id << 32 ^ nd->incarnation));
    /* A node may come back with other message limits than before (and
     * than its peers): limits bound what it sends, not what it accepts. */
    if (restore && s->relimit && sim_choose(s, 2) == 0) {
        nd->cfg.max_msg_entries = 1 + (uint32_t)sim_choose(s, 64);
        nd->cfg.max_inflight = (uint32_t)sim_choose(s, 9);
        nd->cfg.max_msg_bytes = sim_choose(s, 2) == 0
                                    ? 0 : 64 + (uint32_t)sim_choose(s, 449);
        sim_tracef(s, "node %llu restarts with limits: entries %u bytes %u "
                   "inflight %u", sim_ull(nd->id), nd->cfg.max_msg_entries,
                   nd->cfg.max_msg_bytes, nd->cfg.max_inflight);
    }
    /* The host loads its snapshot, if any, into the state machine. */
    nd->applied = nd->commit_seen = nd->verified = nd->disk.snap.index;
    nd->sm = nd->disk.snap.state;
    nd->rx.index = 0;
    nd->rx_len = 0;
    memset(&nd->tally, 0, sizeof nd->tally);
    nd->log_last = sim_disk_last(&nd->disk) > nd->disk.snap.index
                       ? sim_disk_last(&nd->disk)
                       : nd->disk.snap.index;
    /* A crash may lose a term write that was not yet durable. */
    if (nd->async && nd->term_seen > nd->disk.term)
        nd->term_seen = nd->disk.term;
    nd->led_term = 0;
    nd->rate_acc = 0;
    s->event++;
    sim_tracef(s, "%s node %llu (term %llu vote %llu, %zu entries on disk "
               "after %llu, snapshot %llu)", restore ? "restart" : "start",
               sim_ull(nd->id), sim_ull(nd->disk.term), sim_ull(nd->disk.vote),
               nd->disk.len, sim_ull(nd->disk.base), sim_ull(nd->disk.snap.index));
    const char *call = "raft_create";
    int rc = raft_create(&nd->cfg, &sim_callbacks, nd, &nd->r);
    if (rc == 0) {
        if (restore)
            sim_check_restore(nd);
        /* A spare is started empty, to be added to the cluster later. */
        call = nd->started ? "raft_restore"
               : nd->joined ? "raft_join" : "raft_bootstrap";
        rc = nd->started ? sim_node_restore(nd)
             : nd->joined ? raft_join(nd->r)
                          : raft_bootstrap(nd->r, s->voters, s->n_boot);
    }
    if (rc != 0) {
        if (rc == RAFT_ENOMEM)
            s->oom = true;
        else
            sim_fail(s, "Restart", "%s of node %llu failed: %s", call,
                     sim_ull(nd->id), raft_strerror(rc));
        if (nd->r != NULL)
            sim_node_destroy(nd);
        return -1;
    }
    nd->started = true;
    nd->xfer = 0;
    nd->lead_removed = 0;
    nd->removed_leading = false;
    sim_conf_of(nd, &nd->conf_seen); /* no event at start */
    nd->conf_event = false;
    sim_node_check_fresh(nd);
    sim_check_node(nd);
    if (s->svg != NULL && restore)
        sim_svg_mark(s, nd->id, SIM_SVG_MARK_RESTART);
    return 0;
}

void sim_node_crash(struct sim_node *nd)
{
    struct sim *s = nd->sim;
    s->event++;
    s->st.crashes++;
    sim_tracef(s, "crash node %llu", sim_ull(nd->id));
    sim_read_drop(nd); /* before raft_destroy, which must not settle them */
    nd->paused_until = 0;
    nd->missed = 0;
    sim_node_destroy(nd);
    sim_pend_crash(nd);
    if (s->svg != NULL) {
        sim_svg_node(nd);
        sim_svg_mark(s, nd->id, SIM_SVG_MARK_CRASH);
    }
}

void sim_node_free(struct sim_node *nd)
{
    if (nd->r != NULL)
        sim_node_destroy(nd);
    sim_disk_free(&nd->disk);
    sim_disk_free(&nd->dur);
    free(nd->rx_buf);
    free(nd->rd_buf);
    nd->rx_buf = nd->rd_buf = NULL;
    nd->rx_cap = nd->rd_cap = 0;
    sim_pend_pop(nd, nd->pend_len);
    free(nd->pend);
    nd->pend = NULL;
    nd->pend_cap = 0;
}

/* ---- driving ---------------------------------------------------------- */

void sim_call_begin(struct sim *s)
{
    s->event++;
    s->inj_persist = false;
    s->inj_apply = false;
}

void sim_node_complete(struct sim_node *nd, size_t k, bool fail)
{
    struct sim *s = nd->sim;
    if (k > nd->pend_len)
        k = nd->pend_len;
    size_t own = 0; /* the node's writes among them: ghosts are not its */
    for (size_t i = 0; i < k; i++)
        own += !nd->pend[i].ghost;
    sim_call_begin(s);
    s->st.completions++;
    if (fail) {
        /* What landed is unknown to the node; it must stop, and this host
         * then crashes it to restart it from its disk. */
        s->st.sync_failures++;
        s->inj_persist = true;
        sim_tracef(s, "persisted node %llu n=%zu FAILS (injected)",
                   sim_ull(nd->id), own);
        int rc = raft_persisted(nd->r, own, -1);
        if (rc != RAFT_ESTOPPED)
            sim_fail(s, "Return code", "raft_persisted(failure) on node %llu "
                     "returned %d (%s), not RAFT_ESTOPPED", sim_ull(nd->id),
                     rc, raft_strerror(rc));
        if (!s->failed && raft_tick(nd->r) != RAFT_ESTOPPED)
            sim_fail(s, "Return code", "stopped node %llu accepts raft_tick",
                     sim_ull(nd->id));
        sim_node_crash(nd);
        return;
    }
    nd->cut_in_call = UINT64_MAX;
    for (size_t i = 0; i < k; i++)
        sim_write_land(nd, &nd->pend[i], SIZE_MAX);
    sim_pend_pop(nd, k);
    sim_tracef(s, "persisted node %llu n=%zu%s (%zu still pending)",
               sim_ull(nd->id), own, own < k ? " and ghost writes" : "",
               nd->pend_len);
    int rc = raft_persisted(nd->r, own, 0);
    if (rc != RAFT_EINVAL && rc != RAFT_ENOMEM) /* the report was taken */
        nd->tally.writes_completed += own;
    nd->cut_in_call = UINT64_MAX;
    sim_check_rc(nd, "raft_persisted", rc, 0);
    sim_check_node(nd);
}

void sim_node_tick(struct sim_node *nd)
{
    struct sim *s = nd->sim;
    sim_call_begin(s);
    sim_tracef(s, "tick node %llu", sim_ull(nd->id));
    if (nd->removed_leading)
        nd->lead_removed++;
    int rc = raft_tick(nd->r);
    sim_check_rc(nd, "raft_tick", rc, 0);
    sim_check_node(nd);
}

void sim_node_step(struct sim_node *nd, const struct raft_msg *m)
{
    struct sim *s = nd->sim;
    raft_term before = raft_current_term(nd->r);
    struct raft_status st0;
    struct sim_conf c0;
    raft_status(nd->r, &st0);
    sim_conf_of(nd, &c0);
    bool was_member = m->from <= SIM_MAX_NODES && c0.fl[m->from] != 0;
    s->inj_persist = false;
    s->inj_apply = false;
    int rc = raft_step(nd->r, m);
    if (m->type == RAFT_MSG_PREVOTE) {
        /* Thesis 9.6: answering a pre-vote changes nothing. */
        struct raft_status st1;
        raft_status(nd->r, &st1);
        if (st1.term != st0.term || st1.vote != st0.vote || st1.role != st0.role ||
            st1.leader != st0.leader)
            sim_fail(s, "PreVote", "node %llu answered a pre-vote from %llu "
                     "and went from term %llu vote %llu role %d to term %llu "
                     "vote %llu role %d", sim_ull(nd->id), sim_ull(m->from),
                     sim_ull(st0.term), sim_ull(st0.vote), st0.role,
                     sim_ull(st1.term), sim_ull(st1.vote), st1.role);
    }
    nd->tally.stepped++;
    nd->tally.stale += rc == RAFT_ESTALE;
    nd->tally.step_oom |= rc == RAFT_ENOMEM;
    if (rc != 0)
        sim_tracef(s, "  [%llu] -> %s", sim_ull(nd->id), raft_strerror(rc));
    bool not_member = rc == RAFT_ENOTMEMBER;
    sim_conf_check_step(nd, m, was_member, st0.role == RAFT_LEADER, rc);
    sim_check_rc(nd, "raft_step", rc, not_member ? RAFT_ENOTMEMBER : RAFT_ESTALE);
    if (!s->failed && !not_member && (rc == RAFT_ESTALE) != (m->term < before))
        sim_fail(s, "Return code", "raft_step on node %llu (term %llu) of a "
                 "term-%llu message returned %s", sim_ull(nd->id),
                 sim_ull(before), sim_ull(m->term), raft_strerror(rc));
    sim_check_node(nd);
}

/* Payload: the unique id (8 bytes, little-endian), then filler bytes. */
static void sim_payload(struct sim *s, uint8_t *buf, size_t len, uint64_t *pid)
{
    uint64_t id = ++s->next_pid;
    uint64_t x = sim_choose(s, UINT64_MAX);
    for (size_t i = 0; i < 8; i++)
        buf[i] = (uint8_t)(id >> (8 * i));
    for (size_t i = 8; i < len; i++) {
        if (i % 8 == 0)
            x = sim_mix64(x + i);
        buf[i] = (uint8_t)(x >> (8 * (i % 8)));
    }
    *pid = id;
}

struct sim_batch {
    size_t n;
    uint8_t data[SIM_BATCH_MAX][SIM_PAYLOAD_MAX];
    struct raft_buf bufs[SIM_BATCH_MAX];
    uint64_t pid[SIM_BATCH_MAX];
    uint64_t hash[SIM_BATCH_MAX];
};

/* Up to n payloads whose total fits one AppendEntries, so that a batch is
 * never legitimately refused with RAFT_ETOOBIG. */
static void sim_batch_fill(struct sim_node *nd, struct sim_batch *b, size_t n)
{
    struct sim *s = nd->sim;
    uint64_t max_b = nd->cfg.max_msg_bytes ? nd->cfg.max_msg_bytes : 1u << 20;
    uint64_t total = 0;
    b->n = 0;
    while (b->n < n) {
        size_t len = SIM_PAYLOAD_MIN +
                     sim_choose(s, SIM_PAYLOAD_MAX - SIM_PAYLOAD_MIN + 1);
        if (b->n > 0 && total + len > max_b)
            break;
        size_t k = b->n++;
        sim_payload(s, b->data[k], len, &b->pid[k]);
        b->bufs[k] = (struct raft_buf){b->data[k], len};
        b->hash[k] = sim_entry_hash(RAFT_ENTRY_COMMAND, b->data[k], len);
        total += len;
    }
}

/* The leader appended the batch at idx.. in its term: check and record. */
static void sim_check_accepted(struct sim_node *nd,
                               const struct raft_status *before,
                               raft_index idx, const struct sim_batch *b)
{
    struct sim *s = nd->sim;
    if (before->role != RAFT_LEADER || idx != before->last_index + 1) {
        sim_fail(s, "Propose", "node %llu (role %d, last index %llu) "
                 "accepted a proposal at index %llu", sim_ull(nd->id),
                 before->role, sim_ull(before->last_index), sim_ull(idx));
        return;
    }
    for (size_t k = 0; k < b->n; k++) {
        struct raft_entry e;
        if (raft_entry_at(nd->r, idx + k, &e) != 0 || e.term != before->term ||
            sim_entry_hash(e.type, e.buf, e.len) != b->hash[k]) {
            sim_fail(s, "Propose", "node %llu does not hold proposal %llu at "
                     "index %llu term %llu right after accepting it",
                     sim_ull(nd->id), sim_ull(b->pid[k]), sim_ull(idx + k),
                     sim_ull(before->term));
            return;
        }
        sim_note_proposal(s, b->pid[k], idx + k, before->term, b->hash[k]);
    }
    s->st.accepted += b->n;
    sim_nemesis_on_propose(nd, before->term);
}

/* A non-leader refuses and names a plausible leader (or none). */
static void sim_check_redirect(struct sim_node *nd,
                               const struct raft_status *before)
{
    raft_id hint = raft_leader(nd->r);
    if (before->role == RAFT_LEADER || hint > nd->sim->n || hint == nd->id)
        sim_fail(nd->sim, "Propose", "node %llu (role %d) refused with "
                 "RAFT_ENOTLEADER and leader hint %llu", sim_ull(nd->id),
                 before->role, sim_ull(hint));
}

/* Propose b's payloads to nd; returns the library's code, *idx the index. */
static int sim_submit(struct sim_node *nd, const struct sim_batch *b,
                      bool batch, raft_index *idx)
{
    struct sim *s = nd->sim;
    struct raft_status before;
    raft_status(nd->r, &before);
    sim_call_begin(s);
    s->st.proposals += b->n;
    *idx = 0;
    const char *call = batch ? "raft_propose_batch" : "raft_propose";
    int rc = batch ? raft_propose_batch(nd->r, b->bufs, b->n, idx)
                   : raft_propose(nd->r, b->bufs[0].base, b->bufs[0].len, idx);
    sim_tracef(s, "%s node %llu n=%zu pid=%llu.. -> %s index %llu", call,
               sim_ull(nd->id), b->n, sim_ull(b->pid[0]), raft_strerror(rc),
               sim_ull(*idx));
    sim_conf_check_etransfer(nd, call, rc, &before);
    sim_check_rc(nd, call, rc, rc == RAFT_ETRANSFER ? RAFT_ETRANSFER
                                                    : RAFT_ENOTLEADER);
    if (rc == RAFT_EAPPLY && *idx == 0)
        *idx = before.last_index + 1; /* appended; index maybe not reported */
    if (rc == 0 || rc == RAFT_EAPPLY)
        sim_check_accepted(nd, &before, *idx, b);
    else if (rc == RAFT_ENOTLEADER)
        sim_check_redirect(nd, &before);
    else if (rc == RAFT_EPERSIST && raft_role(nd->r) == RAFT_LEADER)
        sim_fail(s, "persist_entries", "leader %llu still leads after its "
                 "own append failed", sim_ull(nd->id));
    sim_check_node(nd);
    return rc;
}

/* A client request: usually one command, sometimes a batch of 1..8. */
void sim_node_propose(struct sim_node *nd)
{
    struct sim *s = nd->sim;
    struct sim_batch b;
    size_t n = sim_choose(s, 4) == 0 ? 1 + (size_t)sim_choose(s, SIM_BATCH_MAX)
                                     : 1;
    bool batch = n > 1 || sim_choose(s, 8) == 0;
    raft_index idx;
    sim_batch_fill(nd, &b, n);
    sim_submit(nd, &b, batch, &idx);
}

/* The heal phase's fresh proposal, which must commit everywhere. */
int sim_node_propose_probe(struct sim_node *nd, raft_index *index,
                           uint64_t *hash)
{
    struct sim_batch b;
    sim_batch_fill(nd, &b, 1);
    *hash = b.hash[0];
    return sim_submit(nd, &b, false, index);
}
