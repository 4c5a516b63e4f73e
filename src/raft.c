/*
 * raft.c - lifecycle, public entry points, message validation and dispatch,
 * role transitions and queries.
 *
 * Every mutating entry point follows the same shape: refuse re-entry,
 * validate everything, reserve memory, persist, and only then change the
 * in-memory state and send. That ordering is what lets a failing call leave
 * the node as it was.
 */
#include <string.h>

#include "election.h"
#include "heap.h"
#include "node.h"
#include "quorum.h"
#include "replication.h"
#include "rand.h"

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

/* ---- shared helpers ------------------------------------------------------ */

void raft__emit_slow(struct raft *r, int type, raft_id peer, int error,
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

bool raft__send(struct raft *r, const struct raft_msg *m)
{
    if (r->cb.send(r, r->ctx, m) != 0) {
        raft__emit(r, RAFT_EVENT_SEND_FAILED, m->to, 0, "send callback failed");
        return false;
    }
    return true;
}

int raft__set_term_vote(struct raft *r, raft_term term, raft_id vote)
{
    bool term_changed = term != r->term;
    if (r->cb.persist_state(r, r->ctx, term, vote) != 0) {
        return RAFT_EPERSIST;
    }
    r->term = term;
    r->vote = vote;
    if (term_changed) {
        raft__emit(r, RAFT_EVENT_TERM, 0, 0, NULL);
    }
    return 0;
}

void raft__set_role(struct raft *r, int role)
{
    if (r->role != role) {
        r->role = role;
        raft__emit(r, RAFT_EVENT_ROLE, 0, 0, NULL);
    }
}

void raft__draw_election_timeout(struct raft *r)
{
    unsigned t = r->cfg.election_ticks;
    unsigned jitter = t / 4;
    r->base_timeout = t + (unsigned)raft__rand_below(&r->rng, (uint64_t)jitter + 1);
    r->election_timeout = r->base_timeout;
    r->yielded = false;
}

void raft__reset_election_timer(struct raft *r)
{
    r->election_elapsed = 0;
    raft__draw_election_timeout(r);
}

int raft__become_follower(struct raft *r, raft_term term, raft_id leader)
{
    bool was_leader = r->role == RAFT_LEADER;
    bool newer = term > r->term;
    if (newer) {
        int rc = raft__set_term_vote(r, term, 0);
        if (rc != 0) {
            return rc;
        }
        raft__reset_election_timer(r);
    } else if (r->role != RAFT_FOLLOWER) {
        raft__reset_election_timer(r);
    }
    r->leader = leader;
    raft__set_role(r, RAFT_FOLLOWER);
    if (was_leader && newer) {
        raft__emit(r, RAFT_EVENT_STEP_DOWN, 0, 0, "saw a higher term");
    }
    return 0;
}

struct raft__progress *raft__voter(struct raft *r, raft_id id)
{
    size_t i;
    for (i = 0; i < r->n; i++) {
        if (r->prs[i].id == id) {
            return &r->prs[i];
        }
    }
    return NULL;
}

int raft__apply(struct raft *r)
{
    /* Bounded by commit - applied; each entry is offered exactly once per
     * incarnation unless the host's callback fails. */
    while (r->applied < r->commit) {
        struct raft_entry e;
        raft_index i = r->applied + 1;
        raft__log_get(&r->log, i, &e);
        if (r->cb.apply(r, r->ctx, i, &e) != 0) {
            return RAFT_EAPPLY;
        }
        r->applied = i;
    }
    return 0;
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
    /* Keep timer arithmetic far from overflow. */
    if (c->election_ticks <= c->heartbeat_ticks || c->election_ticks > UINT32_MAX / 4) {
        return RAFT_EINVAL;
    }
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
    c = *cfg;
    if (config_fill(&c) != 0) {
        return RAFT_EINVAL;
    }
    r = raft__heap_alloc(&c.allocator, sizeof(*r));
    if (r == NULL) {
        return RAFT_ENOMEM;
    }
    memset(r, 0, sizeof(*r));
    r->cfg = c;
    r->cb = *cbs;
    r->ctx = ctx;
    r->rng = c.seed;
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
    if (r == NULL || r->busy) {
        return;
    }
    a = &r->cfg.allocator;
    raft__log_close(&r->log);
    raft__heap_free(a, r->prs);
    raft__heap_free(a, r->infl_store);
    raft__heap_free(a, r->match_scratch);
    raft__heap_free(a, r->ents);
    raft__heap_free(a, r);
}

static int voters_check(const struct raft *r, const raft_id *voters, size_t n)
{
    size_t i, j;
    bool self = false;
    if (voters == NULL || n == 0 || n > SIZE_MAX / sizeof(struct raft__progress) / 2) {
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

/* Allocate and fill the voter table. Leaves r untouched on failure. */
static int voters_set(struct raft *r, const raft_id *voters, size_t n)
{
    const struct raft_allocator *a = &r->cfg.allocator;
    uint32_t w = r->cfg.max_inflight;
    struct raft__progress *prs = raft__heap_alloc(a, n * sizeof(*prs));
    raft_index *infl = raft__heap_alloc(a, n * w * sizeof(*infl));
    raft_index *scratch = raft__heap_alloc(a, n * sizeof(*scratch));
    size_t i;
    if (prs == NULL || infl == NULL || scratch == NULL) {
        raft__heap_free(a, prs);
        raft__heap_free(a, infl);
        raft__heap_free(a, scratch);
        return RAFT_ENOMEM;
    }
    memset(prs, 0, n * sizeof(*prs));
    for (i = 0; i < n; i++) {
        prs[i].id = voters[i];
        prs[i].infl = infl + i * w;
        if (voters[i] == r->cfg.id) {
            r->self = i;
        }
    }
    r->prs = prs;
    r->infl_store = infl;
    r->match_scratch = scratch;
    r->n = n;
    return 0;
}

static int entries_check(const struct raft *r, raft_term term,
                         const struct raft_entry *e, size_t n, size_t *bytes,
                         size_t *runs)
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
            (e[i].type != RAFT_ENTRY_COMMAND && e[i].type != RAFT_ENTRY_NOOP) ||
            (e[i].buf == NULL && e[i].len > 0) || e[i].len > r->cfg.max_msg_bytes) {
            return RAFT_EINVAL;
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

int raft_restore(struct raft *r, const raft_id *voters, size_t n_voters,
                 raft_term term, raft_id vote, const struct raft_entry *entries,
                 size_t n_entries)
{
    size_t bytes, runs, i;
    int rc;
    if (r == NULL) {
        return RAFT_EINVAL;
    }
    if (r->busy) {
        return RAFT_EBUSY;
    }
    if (r->role != 0) {
        return RAFT_ESTARTED;
    }
    rc = voters_check(r, voters, n_voters);
    if (rc != 0) {
        return rc;
    }
    if (vote != 0) {
        for (i = 0; i < n_voters && voters[i] != vote; i++) {
        }
        if (i == n_voters) {
            return RAFT_EINVAL;
        }
    }
    if (term == UINT64_MAX || (term == 0 && vote != 0)) {
        return RAFT_EINVAL;
    }
    rc = entries_check(r, term, entries, n_entries, &bytes, &runs);
    if (rc != 0) {
        return rc;
    }
    rc = raft__log_reserve(&r->log, n_entries, bytes, runs);
    if (rc != 0) {
        return rc;
    }
    rc = voters_set(r, voters, n_voters);
    if (rc != 0) {
        return rc;
    }
    for (i = 0; i < n_entries; i++) {
        raft__log_append(&r->log, entries[i].term, entries[i].type,
                         entries[i].buf, entries[i].len);
    }
    r->term = term;
    r->vote = vote;
    r->role = RAFT_FOLLOWER;
    raft__reset_election_timer(r);
    return 0;
}

int raft_bootstrap(struct raft *r, const raft_id *voters, size_t n_voters)
{
    return raft_restore(r, voters, n_voters, 0, 0, NULL, 0);
}

/* ---- driving -------------------------------------------------------------- */

static int enter(struct raft *r)
{
    if (r == NULL) {
        return RAFT_EINVAL;
    }
    if (r->busy) {
        return RAFT_EBUSY;
    }
    if (r->role == 0) {
        return RAFT_ENOTSTARTED;
    }
    r->busy = true;
    return 0;
}

/* Leave a mutating call: apply what became committed, unless the call
 * already failed (then its error wins; applying is retried later). */
static int leave(struct raft *r, int rc)
{
    int arc = r->applied < r->commit ? raft__apply(r) : 0;
    r->busy = false;
    return rc != 0 ? rc : arc;
}

int raft_tick(struct raft *r)
{
    int rc = enter(r);
    if (rc != 0) {
        return rc;
    }
    if (r->role == RAFT_LEADER) {
        raft__repl_tick(r);
    } else if (++r->election_elapsed >= r->election_timeout) {
        rc = raft__election_start(r);
    }
    return leave(r, rc);
}

static int reject(struct raft *r, const struct raft_msg *m, int rc,
                  const char *why)
{
    raft__emit(r, RAFT_EVENT_MSG_REJECTED, m->from, rc, why);
    return rc;
}

/* (index, term) pairs: index 0 goes with term 0 and only with it. */
static bool pair_ok(raft_index index, raft_term term, raft_term msg_term)
{
    return (index == 0) == (term == 0) && term <= msg_term;
}

static int validate_append(const struct raft *r, const struct raft_msg *m,
                           const char **why)
{
    const struct raft_msg_append *a = &m->u.append;
    raft_term prev = a->prev_term;
    size_t bytes = 0;
    size_t i;
    if (!pair_ok(a->prev_index, a->prev_term, m->term)) {
        *why = "impossible previous entry";
        return RAFT_EBADMSG;
    }
    if (a->n_entries > 0 && a->entries == NULL) {
        *why = "entries missing";
        return RAFT_EBADMSG;
    }
    if (a->n_entries > r->cfg.max_msg_entries) {
        *why = "too many entries";
        return RAFT_ETOOBIG;
    }
    if (a->prev_index > UINT64_MAX - 1 - a->n_entries) {
        *why = "index range overflows";
        return RAFT_EBADMSG;
    }
    /* Bounded by max_msg_entries. */
    for (i = 0; i < a->n_entries; i++) {
        const struct raft_entry *e = &a->entries[i];
        if (e->term == 0 || e->term < prev || e->term > m->term) {
            *why = "entry terms out of order";
            return RAFT_EBADMSG;
        }
        if (e->type != RAFT_ENTRY_COMMAND && e->type != RAFT_ENTRY_NOOP) {
            *why = "unknown entry type";
            return RAFT_EBADMSG;
        }
        if (e->buf == NULL && e->len > 0) {
            *why = "entry payload missing";
            return RAFT_EBADMSG;
        }
        if (e->len > r->cfg.max_msg_bytes - bytes) {
            *why = "too many payload bytes";
            return RAFT_ETOOBIG;
        }
        bytes += e->len;
        prev = e->term;
    }
    return 0;
}

static int validate(struct raft *r, const struct raft_msg *m,
                    struct raft__progress **pr, const char **why)
{
    if (m->to != r->cfg.id) {
        *why = "addressed to another node";
        return RAFT_EBADMSG;
    }
    if (m->from == r->cfg.id) {
        *why = "sent by this node";
        return RAFT_ENOTMEMBER;
    }
    *pr = raft__voter(r, m->from);
    if (*pr == NULL) {
        *why = "sender is not a voter";
        return RAFT_ENOTMEMBER;
    }
    if (m->term == 0 || m->term == UINT64_MAX) {
        *why = "impossible term";
        return RAFT_EBADMSG;
    }
    switch (m->type) {
    case RAFT_MSG_VOTE:
        if (!pair_ok(m->u.vote.last_index, m->u.vote.last_term, m->term)) {
            *why = "impossible last entry";
            return RAFT_EBADMSG;
        }
        return 0;
    case RAFT_MSG_VOTE_RESP:
        if (!pair_ok(m->u.vote_resp.last_index, m->u.vote_resp.last_term, m->term)) {
            *why = "impossible last entry";
            return RAFT_EBADMSG;
        }
        return 0;
    case RAFT_MSG_APPEND:
        return validate_append(r, m, why);
    case RAFT_MSG_APPEND_RESP:
        if (m->u.append_resp.hint_index > m->u.append_resp.index ||
            !pair_ok(m->u.append_resp.hint_index, m->u.append_resp.hint_term,
                     m->term)) {
            *why = "impossible hint";
            return RAFT_EBADMSG;
        }
        return 0;
    default:
        *why = "unknown message type";
        return RAFT_EBADMSG;
    }
}

/* Answer a request from an older term so its sender learns ours (5.1). */
static void reply_stale(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg out;
    memset(&out, 0, sizeof(out));
    out.from = r->cfg.id;
    out.to = m->from;
    out.term = r->term;
    if (m->type == RAFT_MSG_VOTE) {
        out.type = RAFT_MSG_VOTE_RESP;
        out.u.vote_resp.granted = false;
        out.u.vote_resp.last_index = raft__log_last(&r->log);
        out.u.vote_resp.last_term = raft__log_last_term(&r->log);
    } else {
        out.type = RAFT_MSG_APPEND_RESP;
        out.u.append_resp.success = false;
        out.u.append_resp.index = m->u.append.prev_index;
    }
    raft__send(r, &out);
}

static int step(struct raft *r, const struct raft_msg *m)
{
    struct raft__progress *pr = NULL;
    const char *why = NULL;
    int rc = validate(r, m, &pr, &why);
    if (rc != 0) {
        return reject(r, m, rc, why);
    }
    if (m->term < r->term) {
        if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_APPEND) {
            reply_stale(r, m);
        }
        return reject(r, m, RAFT_ESTALE, "stale term");
    }
    switch (m->type) {
    case RAFT_MSG_VOTE:
        /* A higher term and a vote are persisted together there. */
        return raft__election_recv_vote(r, m);
    case RAFT_MSG_VOTE_RESP:
        if (m->term > r->term) {
            return raft__become_follower(r, m->term, 0);
        }
        return raft__election_recv_vote_resp(r, pr, m);
    case RAFT_MSG_APPEND:
        return raft__repl_recv_append(r, m);
    default:
        if (m->term > r->term) {
            return raft__become_follower(r, m->term, 0);
        }
        return raft__repl_recv_append_resp(r, pr, m);
    }
}

int raft_step(struct raft *r, const struct raft_msg *m)
{
    int rc = enter(r);
    if (rc != 0) {
        return rc;
    }
    if (m == NULL) {
        r->busy = false;
        return RAFT_EINVAL;
    }
    return leave(r, step(r, m));
}

int raft_propose_batch(struct raft *r, const struct raft_buf *bufs, size_t n,
                       raft_index *first_index)
{
    int rc = enter(r);
    if (rc != 0) {
        return rc;
    }
    if (bufs == NULL || n == 0) {
        rc = RAFT_EINVAL;
    } else if (r->role != RAFT_LEADER) {
        rc = RAFT_ENOTLEADER;
    } else {
        rc = raft__repl_propose(r, bufs, n, first_index);
    }
    return leave(r, rc);
}

int raft_propose(struct raft *r, const void *buf, size_t len, raft_index *index)
{
    struct raft_buf b;
    b.base = buf;
    b.len = len;
    return raft_propose_batch(r, &b, 1, index);
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
    st->n_voters = r->n;
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
    if (p->self) {
        p->state = RAFT_PROGRESS_REPLICATE;
        p->match = raft__log_last(&r->log);
        p->next = p->match + 1;
        p->inflight = 0;
    } else {
        p->state = pr->state;
        p->match = pr->match;
        p->next = pr->next;
        p->inflight = pr->infl_count;
    }
    return 0;
}

int raft_entry_at(const struct raft *r, raft_index index, struct raft_entry *e)
{
    if (r == NULL || e == NULL || index == 0 || index > raft__log_last(&r->log)) {
        return RAFT_EINVAL;
    }
    raft__log_get(&r->log, index, e);
    return 0;
}
