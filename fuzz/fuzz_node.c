/*
 * fuzz_node.c - one node driven by an adversarial cluster.
 *
 * The fuzzer plays every other node, the network, the disk, the clock, the
 * client and the allocator of a single started node (3 or 5 voters, small
 * fixed limits). The input format is described in fuzz.h: a setup (cluster
 * size, which voter this node is, PRNG seed, bootstrap or restore from a
 * generated log), then operations: ticks; messages built structurally from
 * the input so that plausible terms and indexes are frequent (relative to
 * the node's own term, last index and commit index, with its own log's
 * terms), optionally sent through the wire codec; messages decoded from raw
 * bytes; proposals and batches; armed failures of persist_state,
 * persist_entries (with a partial write), send, apply and the k-th next
 * allocation; restarts from the simulated disk; and two shortcuts (win an
 * election, acknowledge the leader's log) that make deep states common.
 *
 * Checked in the callbacks, as they happen:
 *   - persist_state: terms never decrease, the vote of a term never changes
 *     once given, votes go to voters;
 *   - persist_entries: first > commit index (committed entries are never
 *     rewritten), no gap after the node's log, a leader only appends,
 *     entries are a valid continuation (terms >= 1, non-decreasing, at most
 *     the persisted term), at most max_msg_entries per call;
 *   - send: from this node to a peer, term equal to the persisted term, a
 *     vote request only with a persisted self-vote, a granted vote only
 *     with the persisted vote, AppendEntries only from a leader and
 *     carrying entries equal to the persisted log (within the limits),
 *     acknowledgements only of persisted entries; every message encodes
 *     and decodes back to itself;
 *   - apply: indexes consecutive from 1 per incarnation, at or below the
 *     commit index, entry equal to the persisted one;
 *   - every callback: mutating calls on the node return RAFT_EBUSY and
 *     raft_destroy is ignored.
 * Checked after every operation (raft_status, raft_progress, raft_entry_at):
 *   - the return code is one the function documents, RAFT_EPERSIST /
 *     RAFT_EAPPLY / RAFT_ENOMEM exactly when such a failure was injected
 *     during the call, and refusals (ENOTMEMBER, EBADMSG, ETOOBIG, ESTALE,
 *     ENOMEM, ENOTLEADER, EINVAL, ENOSPACE) leave the node unchanged and
 *     persist nothing; expected refusals (wrong recipient, non-member
 *     sender, stale term, proposal to a non-leader, oversized entries);
 *   - term never decreases; commit never decreases within an incarnation;
 *     commit <= last_index; applied <= commit; term and vote equal the
 *     persisted ones; the log equals the persisted log as the persistence
 *     contract defines it; a leader's log never shrinks while it stays
 *     leader of the same term; a leader has voted for itself and names
 *     itself leader; progress: match < next <= last + 1, inflight within
 *     max_inflight;
 *   - accepted proposals sit at last_index + 1.. in the leader's term;
 *   - no leak: every block allocated through the hooks is freed by
 *     raft_destroy (at every restart and at the end).
 */
#include "fuzz.h"

#define MAX_VOTERS 5
#define CFG_ELECTION 5
#define CFG_HEARTBEAT 1
#define CFG_MAX_ENTRIES 4
#define CFG_MAX_BYTES 128
#define CFG_INFLIGHT 2
#define MAX_BATCH 9
#define MSG_ENTRIES (CFG_MAX_ENTRIES + 2)
#define WIRE_ENTRIES 64

typedef unsigned long long ull;

struct dent {
    raft_term term;
    int type;
    uint8_t *buf;
    size_t len;
};

/* The simulated disk. The node's log, as the persistence contract defines
 * it, is e[0..known); a failed write may leave more on the disk, which a
 * restart restores. */
struct disk {
    raft_term term;
    raft_id vote;
    struct dent *e;
    size_t len, cap;
    size_t known;
};

struct heap {
    size_t blocks;         /* outstanding */
    unsigned long fail_in; /* fail the fail_in-th next allocation, 0: off */
    bool hit;              /* an allocation failed during this call */
};

enum { K_TICK, K_STEP, K_PROPOSE };

struct world {
    struct raft *r;
    struct raft_config cfg;
    raft_id ids[MAX_VOTERS];
    size_t n;
    raft_id self;
    struct disk d;
    struct heap h;
    /* Armed failures: the k-th next call fails (0: off). */
    unsigned fail_state, fail_entries, fail_send, fail_apply;
    uint8_t partial; /* what a failed persist_entries leaves on disk */
    /* Observed during the current call. */
    unsigned persist_calls;
    bool hit_persist, hit_apply;
    /* Current incarnation. */
    raft_index applied;
    raft_index check_from; /* log compared with the disk below this */
};

static const uint8_t zeros[512];

/* FUZZ_TRACE=1 in the environment prints every operation's result (for
 * reading a crash input: build/fuzz/fuzz_node crash-...). */
static bool tracing(void)
{
    static int on = -1;
    if (on < 0) {
        on = getenv("FUZZ_TRACE") != NULL;
    }
    return on;
}

/* ---- helpers ------------------------------------------------------------- */

static bool fire(unsigned *k)
{
    return *k != 0 && --*k == 0;
}

static bool is_voter(const struct world *w, raft_id id)
{
    size_t i;
    for (i = 0; i < w->n; i++) {
        if (w->ids[i] == id) {
            return true;
        }
    }
    return false;
}

static bool is_peer(const struct world *w, raft_id id)
{
    return id != w->self && is_voter(w, id);
}

/* Term of the node's entry at idx per the disk, 0 if none. */
static raft_term lterm(const struct world *w, raft_index idx)
{
    return idx == 0 || idx > w->d.known ? 0 : w->d.e[idx - 1].term;
}

static bool dent_eq(const struct dent *d, const struct raft_entry *e)
{
    return d->term == e->term && d->type == e->type && d->len == e->len &&
           (e->len == 0 || memcmp(d->buf, e->buf, e->len) == 0);
}

static void disk_truncate(struct disk *d, size_t len)
{
    while (d->len > len) {
        free(d->e[--d->len].buf);
    }
}

static void disk_append(struct disk *d, raft_term term, int type,
                        const void *buf, size_t len)
{
    struct dent *e;
    if (d->len == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 16;
        d->e = realloc(d->e, d->cap * sizeof(*d->e));
        FZ_CHECK(d->e != NULL, "out of memory");
    }
    e = &d->e[d->len++];
    e->term = term;
    e->type = type;
    e->len = len;
    e->buf = fz_dup(buf, len);
}

static bool heap_fail(struct heap *h)
{
    if (h->fail_in != 0 && --h->fail_in == 0) {
        h->hit = true;
        return true;
    }
    return false;
}

static void *h_alloc(void *ctx, size_t size)
{
    struct heap *h = ctx;
    void *p;
    if (heap_fail(h)) {
        return NULL;
    }
    p = malloc(size);
    FZ_CHECK(p != NULL, "out of memory (%zu bytes)", size);
    h->blocks++;
    return p;
}

static void *h_realloc(void *ctx, void *ptr, size_t size)
{
    struct heap *h = ctx;
    void *p;
    if (heap_fail(h)) {
        return NULL;
    }
    p = realloc(ptr, size);
    FZ_CHECK(p != NULL, "out of memory (%zu bytes)", size);
    if (ptr == NULL) {
        h->blocks++;
    }
    return p;
}

static void h_free(void *ctx, void *ptr)
{
    struct heap *h = ctx;
    FZ_CHECK(ptr != NULL, "free(ctx, NULL) called");
    FZ_CHECK(h->blocks > 0, "more blocks freed than allocated");
    h->blocks--;
    free(ptr);
}

/* ---- callbacks -------------------------------------------------------------- */

static void check_reentry(struct world *w, struct raft *r)
{
    struct raft_msg m;
    FZ_CHECK(r == w->r, "callback from an unknown node");
    memset(&m, 0, sizeof(m));
    FZ_CHECK(raft_tick(r) == RAFT_EBUSY, "raft_tick inside a callback");
    FZ_CHECK(raft_step(r, &m) == RAFT_EBUSY, "raft_step inside a callback");
    FZ_CHECK(raft_propose(r, NULL, 0, NULL) == RAFT_EBUSY,
             "raft_propose inside a callback");
    raft_destroy(r); /* must be ignored */
}

static int cb_persist_state(struct raft *r, void *ctx, raft_term term, raft_id vote)
{
    struct world *w = ctx;
    struct raft_status st;
    check_reentry(w, r);
    raft_status(r, &st);
    w->persist_calls++;
    FZ_CHECK(term >= 1 && term >= w->d.term, "persist_state term %llu after %llu",
             (ull)term, (ull)w->d.term);
    FZ_CHECK(term != w->d.term || w->d.vote == 0 || vote == w->d.vote,
             "vote of term %llu changed from %llu to %llu", (ull)term,
             (ull)w->d.vote, (ull)vote);
    FZ_CHECK(vote == 0 || is_voter(w, vote), "vote for non-voter %llu", (ull)vote);
    FZ_CHECK(st.term == w->d.term && st.vote == w->d.vote,
             "node adopted term %llu vote %llu before persisting them",
             (ull)st.term, (ull)st.vote);
    if (fire(&w->fail_state)) {
        w->hit_persist = true;
        return -1;
    }
    w->d.term = term;
    w->d.vote = vote;
    return 0;
}

static int cb_persist_entries(struct raft *r, void *ctx, raft_index first,
                              const struct raft_entry *ents, size_t n)
{
    struct world *w = ctx;
    struct disk *d = &w->d;
    struct raft_status st;
    raft_term prev;
    size_t i;
    check_reentry(w, r);
    raft_status(r, &st);
    w->persist_calls++;
    /* A follower stores what a leader sent, which may exceed its own
     * sending limits (MSG_ENTRIES is the most this harness sends). */
    FZ_CHECK(n >= 1 && ents != NULL && n <= MSG_ENTRIES,
             "persist_entries of %zu entries", n);
    FZ_CHECK(first > st.commit, "persist_entries at %llu rewrites committed "
             "entries (commit %llu)", (ull)first, (ull)st.commit);
    FZ_CHECK(first >= 1 && first <= d->known + 1, "persist_entries at %llu "
             "leaves a gap after the log's %zu entries", (ull)first, d->known);
    FZ_CHECK(st.role != RAFT_LEADER || first == d->known + 1,
             "leader rewrites its own log from %llu (log has %zu)", (ull)first,
             d->known);
    prev = first > 1 ? d->e[first - 2].term : 0;
    for (i = 0; i < n; i++) {
        const struct raft_entry *e = &ents[i];
        FZ_CHECK(e->term >= 1 && e->term >= prev && e->term <= d->term,
                 "entry %llu has term %llu after %llu (persisted term %llu)",
                 (ull)(first + i), (ull)e->term, (ull)prev, (ull)d->term);
        FZ_CHECK(e->type == RAFT_ENTRY_COMMAND || e->type == RAFT_ENTRY_NOOP,
                 "entry type %d", e->type);
        FZ_CHECK((e->buf != NULL || e->len == 0) && e->len <= CFG_MAX_BYTES,
                 "entry payload %p, %zu bytes", e->buf, e->len);
        prev = e->term;
    }
    if (first < w->check_from) {
        w->check_from = first;
    }
    if (fire(&w->fail_entries)) {
        /* A failed write may leave part of the new entries or part of the
         * old tail, as raft_persist_entries_cb allows. */
        size_t k = w->partial / 3;
        w->hit_persist = true;
        switch (w->partial % 3) {
        case 0:
            disk_truncate(d, first - 1);
            break;
        case 1:
            disk_truncate(d, first - 1);
            for (i = 0; i < k % (n + 1); i++) {
                disk_append(d, ents[i].term, ents[i].type, ents[i].buf, ents[i].len);
            }
            break;
        default:
            disk_truncate(d, first - 1 + k % (d->len - (first - 1) + 1));
            break;
        }
        d->known = first - 1;
        return -1;
    }
    disk_truncate(d, first - 1);
    for (i = 0; i < n; i++) {
        disk_append(d, ents[i].term, ents[i].type, ents[i].buf, ents[i].len);
    }
    d->known = d->len;
    return 0;
}

/* Every message a node sends must survive the wire. */
static void check_encodes(const struct raft_msg *m)
{
    uint8_t buf[1024];
    struct raft_entry ents[MSG_ENTRIES];
    struct raft_msg back;
    size_t len = 0;
    int rc = raft_msg_encode(m, buf, sizeof(buf), &len);
    FZ_CHECK(rc == 0, "sent message does not encode: %d", rc);
    rc = raft_msg_decode(buf, len, NULL, &back, ents, MSG_ENTRIES);
    FZ_CHECK(rc == 0 && fz_msg_eq(m, &back), "sent message does not round-trip: %d", rc);
}

static int cb_send(struct raft *r, void *ctx, const struct raft_msg *m)
{
    struct world *w = ctx;
    struct raft_status st;
    size_t i, bytes = 0;
    check_reentry(w, r);
    raft_status(r, &st);
    FZ_CHECK(m != NULL, "NULL message");
    FZ_CHECK(m->from == w->self && is_peer(w, m->to), "message %llu -> %llu",
             (ull)m->from, (ull)m->to);
    FZ_CHECK(m->term == w->d.term && m->term == st.term,
             "message of term %llu, persisted term %llu, node term %llu",
             (ull)m->term, (ull)w->d.term, (ull)st.term);
    switch (m->type) {
    case RAFT_MSG_VOTE:
        FZ_CHECK(st.role == RAFT_CANDIDATE && w->d.vote == w->self,
                 "vote request by role %d with persisted vote %llu", st.role,
                 (ull)w->d.vote);
        FZ_CHECK(m->u.vote.last_index == w->d.known &&
                     m->u.vote.last_term == lterm(w, w->d.known),
                 "vote request names (%llu, %llu), log ends at (%zu, %llu)",
                 (ull)m->u.vote.last_index, (ull)m->u.vote.last_term,
                 w->d.known, (ull)lterm(w, w->d.known));
        break;
    case RAFT_MSG_VOTE_RESP:
        FZ_CHECK(!m->u.vote_resp.granted || w->d.vote == m->to,
                 "vote granted to %llu, persisted vote %llu", (ull)m->to,
                 (ull)w->d.vote);
        FZ_CHECK(m->u.vote_resp.last_index == st.last_index &&
                     m->u.vote_resp.last_term == st.last_term,
                 "vote reply names (%llu, %llu), log ends at (%llu, %llu)",
                 (ull)m->u.vote_resp.last_index, (ull)m->u.vote_resp.last_term,
                 (ull)st.last_index, (ull)st.last_term);
        break;
    case RAFT_MSG_APPEND: {
        const struct raft_msg_append *a = &m->u.append;
        FZ_CHECK(st.role == RAFT_LEADER, "AppendEntries sent by role %d", st.role);
        FZ_CHECK(a->prev_index <= w->d.known && a->prev_term == lterm(w, a->prev_index),
                 "AppendEntries prev (%llu, %llu) not in the persisted log",
                 (ull)a->prev_index, (ull)a->prev_term);
        FZ_CHECK(a->n_entries <= CFG_MAX_ENTRIES && (a->n_entries == 0 || a->entries),
                 "AppendEntries with %zu entries", a->n_entries);
        FZ_CHECK(a->prev_index + a->n_entries <= w->d.known,
                 "AppendEntries sends unpersisted entries up to %llu (log %zu)",
                 (ull)(a->prev_index + a->n_entries), w->d.known);
        for (i = 0; i < a->n_entries; i++) {
            FZ_CHECK(dent_eq(&w->d.e[a->prev_index + i], &a->entries[i]),
                     "AppendEntries entry %llu differs from the log",
                     (ull)(a->prev_index + i + 1));
            bytes += a->entries[i].len;
        }
        FZ_CHECK(bytes <= CFG_MAX_BYTES || a->n_entries == 1,
                 "AppendEntries with %zu payload bytes", bytes);
        FZ_CHECK(a->commit <= st.commit, "AppendEntries commit %llu > %llu",
                 (ull)a->commit, (ull)st.commit);
        break;
    }
    case RAFT_MSG_APPEND_RESP: {
        const struct raft_msg_append_resp *a = &m->u.append_resp;
        if (a->success) {
            FZ_CHECK(a->index <= w->d.known, "acknowledges %llu, persisted %zu",
                     (ull)a->index, w->d.known);
        } else {
            FZ_CHECK(a->hint_index <= a->index && a->hint_index <= w->d.known &&
                         a->hint_term == lterm(w, a->hint_index),
                     "rejection hint (%llu, %llu) for %llu", (ull)a->hint_index,
                     (ull)a->hint_term, (ull)a->index);
        }
        break;
    }
    default:
        FZ_CHECK(false, "message type %d", m->type);
    }
    check_encodes(m);
    return fire(&w->fail_send) ? -1 : 0;
}

static int cb_apply(struct raft *r, void *ctx, raft_index index,
                    const struct raft_entry *e)
{
    struct world *w = ctx;
    struct raft_status st;
    check_reentry(w, r);
    raft_status(r, &st);
    FZ_CHECK(index == w->applied + 1, "applied %llu after %llu", (ull)index,
             (ull)w->applied);
    FZ_CHECK(index <= st.commit && index <= w->d.known,
             "applied %llu, commit %llu, log %zu", (ull)index, (ull)st.commit,
             w->d.known);
    FZ_CHECK(e != NULL && dent_eq(&w->d.e[index - 1], e),
             "applied entry %llu differs from the persisted one", (ull)index);
    if (fire(&w->fail_apply)) {
        w->hit_apply = true;
        return -1;
    }
    w->applied = index;
    return 0;
}

static void cb_event(struct raft *r, void *ctx, const struct raft_event *ev)
{
    struct world *w = ctx;
    check_reentry(w, r);
    FZ_CHECK(ev != NULL && ev->type >= RAFT_EVENT_ROLE &&
                 ev->type <= RAFT_EVENT_STEP_DOWN,
             "event type %d", ev ? ev->type : 0);
    FZ_CHECK(ev->term == raft_current_term(r) && ev->role == raft_role(r),
             "event %d says term %llu role %d", ev->type, (ull)ev->term, ev->role);
    FZ_CHECK(ev->type != RAFT_EVENT_MSG_REJECTED || ev->error < 0,
             "rejection without an error code");
}

static const struct raft_callbacks callbacks = {
    .send = cb_send,
    .persist_state = cb_persist_state,
    .persist_entries = cb_persist_entries,
    .apply = cb_apply,
    .event = cb_event,
};

/* ---- checks after an operation ----------------------------------------------- */

static bool rc_allowed(int kind, int rc)
{
    switch (rc) {
    case 0:
    case RAFT_EAPPLY:
    case RAFT_ENOMEM:
    case RAFT_EPERSIST:
        return true;
    case RAFT_ENOSPACE:
        return kind == K_TICK || kind == K_PROPOSE;
    case RAFT_ENOTMEMBER:
    case RAFT_EBADMSG:
    case RAFT_ESTALE:
        return kind == K_STEP;
    case RAFT_ETOOBIG:
        return kind == K_STEP || kind == K_PROPOSE;
    case RAFT_ENOTLEADER:
    case RAFT_EINVAL:
        return kind == K_PROPOSE;
    default:
        return false;
    }
}

static bool is_refusal(int rc)
{
    switch (rc) {
    case RAFT_ENOTMEMBER:
    case RAFT_EBADMSG:
    case RAFT_ETOOBIG:
    case RAFT_ESTALE:
    case RAFT_ENOMEM:
    case RAFT_ENOTLEADER:
    case RAFT_EINVAL:
    case RAFT_ENOSPACE:
        return true;
    default:
        return false;
    }
}

static void begin(struct world *w, struct raft_status *before)
{
    raft_status(w->r, before);
    w->persist_calls = 0;
    w->hit_persist = false;
    w->hit_apply = false;
    w->h.hit = false;
}

static void check_log(struct world *w)
{
    struct raft_entry e;
    raft_index i;
    for (i = w->check_from; i <= w->d.known; i++) {
        FZ_CHECK(raft_entry_at(w->r, i, &e) == 0 && dent_eq(&w->d.e[i - 1], &e),
                 "log entry %llu differs from the persisted one", (ull)i);
    }
    w->check_from = w->d.known + 1;
    FZ_CHECK(raft_entry_at(w->r, w->d.known + 1, &e) == RAFT_EINVAL &&
                 raft_entry_at(w->r, 0, &e) == RAFT_EINVAL,
             "raft_entry_at outside the log");
}

static void check_progress(struct world *w, const struct raft_status *st)
{
    struct raft_progress p;
    size_t i;
    if (st->role != RAFT_LEADER) {
        FZ_CHECK(raft_progress(w->r, 0, &p) == RAFT_ENOTLEADER,
                 "progress on a non-leader");
        return;
    }
    for (i = 0; i < w->n; i++) {
        FZ_CHECK(raft_progress(w->r, i, &p) == 0 && p.id == w->ids[i] &&
                     p.self == (w->ids[i] == w->self),
                 "progress %zu", i);
        FZ_CHECK(p.state == RAFT_PROGRESS_PROBE || p.state == RAFT_PROGRESS_REPLICATE,
                 "progress state %d", p.state);
        FZ_CHECK(p.match < p.next && p.next <= st->last_index + 1,
                 "progress of %llu: match %llu next %llu, last %llu", (ull)p.id,
                 (ull)p.match, (ull)p.next, (ull)st->last_index);
        FZ_CHECK(p.inflight <= CFG_INFLIGHT, "%u in flight", p.inflight);
        FZ_CHECK(!p.self || p.match == st->last_index, "leader's own match");
    }
    FZ_CHECK(raft_progress(w->r, w->n, &p) == RAFT_EINVAL, "progress past the voters");
}

static void check_after(struct world *w, int kind, int rc,
                        const struct raft_status *b)
{
    struct raft_status st;
    raft_status(w->r, &st);
    if (tracing()) {
        static const char *const names[] = {"tick", "step", "propose"};
        fprintf(stderr, "%-7s -> %-3d role %d term %llu vote %llu leader %llu "
                "commit %llu applied %llu last %llu/%llu\n", names[kind], rc,
                st.role, (ull)st.term, (ull)st.vote, (ull)st.leader,
                (ull)st.commit, (ull)st.applied, (ull)st.last_index,
                (ull)st.last_term);
    }
    FZ_CHECK(rc_allowed(kind, rc), "operation %d returned %d (%s)", kind, rc,
             raft_strerror(rc));
    FZ_CHECK((rc == RAFT_EPERSIST) == w->hit_persist,
             "returned %d after %s persistence failure", rc,
             w->hit_persist ? "a" : "no");
    FZ_CHECK(rc != RAFT_EAPPLY || w->hit_apply, "RAFT_EAPPLY without a failure");
    FZ_CHECK(!w->hit_apply || rc != 0, "a failed apply was swallowed");
    FZ_CHECK((rc == RAFT_ENOMEM) == w->h.hit, "returned %d after %s allocation "
             "failure", rc, w->h.hit ? "an" : "no");
    if (is_refusal(rc)) {
        FZ_CHECK(w->persist_calls == 0, "refusal %d persisted something", rc);
        FZ_CHECK(st.term == b->term && st.vote == b->vote && st.role == b->role &&
                     st.leader == b->leader && st.commit == b->commit &&
                     st.last_index == b->last_index && st.last_term == b->last_term,
                 "refusal %d changed the node", rc);
    }
    FZ_CHECK(st.id == w->self && st.n_voters == w->n, "status identity");
    FZ_CHECK(st.role >= RAFT_FOLLOWER && st.role <= RAFT_LEADER, "role %d", st.role);
    FZ_CHECK(st.term == w->d.term && st.vote == w->d.vote,
             "node term %llu vote %llu, persisted %llu %llu", (ull)st.term,
             (ull)st.vote, (ull)w->d.term, (ull)w->d.vote);
    FZ_CHECK(st.term >= b->term, "term went back from %llu to %llu", (ull)b->term,
             (ull)st.term);
    FZ_CHECK(st.commit >= b->commit, "commit went back from %llu to %llu",
             (ull)b->commit, (ull)st.commit);
    FZ_CHECK(st.commit <= st.last_index && st.applied <= st.commit,
             "commit %llu, applied %llu, last %llu", (ull)st.commit,
             (ull)st.applied, (ull)st.last_index);
    FZ_CHECK(st.applied == w->applied, "applied %llu, apply callbacks %llu",
             (ull)st.applied, (ull)w->applied);
    FZ_CHECK(st.last_index == w->d.known && st.last_term == lterm(w, w->d.known),
             "log ends at (%llu, %llu), persisted log at (%zu, %llu)",
             (ull)st.last_index, (ull)st.last_term, w->d.known,
             (ull)lterm(w, w->d.known));
    if (b->role == RAFT_LEADER && st.role == RAFT_LEADER && st.term == b->term) {
        FZ_CHECK(st.last_index >= b->last_index, "leader's log shrank from %llu "
                 "to %llu", (ull)b->last_index, (ull)st.last_index);
    }
    if (st.role == RAFT_LEADER) {
        FZ_CHECK(st.leader == w->self && st.vote == w->self,
                 "leader names leader %llu, vote %llu", (ull)st.leader, (ull)st.vote);
    } else if (st.role == RAFT_CANDIDATE) {
        FZ_CHECK(st.vote == w->self && st.leader == 0,
                 "candidate voted %llu, names leader %llu", (ull)st.vote,
                 (ull)st.leader);
    }
    FZ_CHECK(st.leader == 0 || is_voter(w, st.leader), "leader %llu", (ull)st.leader);
    FZ_CHECK(raft_role(w->r) == st.role && raft_current_term(w->r) == st.term &&
                 raft_leader(w->r) == st.leader,
             "queries disagree with raft_status");
    check_log(w);
    check_progress(w, &st);
}

/* ---- node lifecycle ------------------------------------------------------------ */

/* Create and start the node: bootstrap, or restore what the disk holds.
 * Armed allocation failures may hit here; then everything must have been
 * released, and the start is retried. */
static void node_start(struct world *w, bool bootstrap)
{
    struct raft_entry *ents = NULL;
    struct raft_status st;
    struct raft_msg m;
    size_t i;
    int rc;
    w->h.hit = false;
    for (;;) {
        rc = raft_create(&w->cfg, &callbacks, w, &w->r);
        if (rc == 0) {
            break;
        }
        FZ_CHECK(rc == RAFT_ENOMEM && w->h.hit && w->h.blocks == 0,
                 "raft_create gave %d, %zu blocks held", rc, w->h.blocks);
        w->h.hit = false;
    }
    memset(&m, 0, sizeof(m));
    FZ_CHECK(raft_tick(w->r) == RAFT_ENOTSTARTED &&
                 raft_step(w->r, &m) == RAFT_ENOTSTARTED &&
                 raft_propose(w->r, "x", 1, NULL) == RAFT_ENOTSTARTED &&
                 raft_role(w->r) == 0,
             "unstarted node accepts calls");
    if (w->d.len > 0) {
        ents = malloc(w->d.len * sizeof(*ents));
        FZ_CHECK(ents != NULL, "out of memory");
        for (i = 0; i < w->d.len; i++) {
            ents[i].term = w->d.e[i].term;
            ents[i].type = w->d.e[i].type;
            ents[i].buf = w->d.e[i].buf;
            ents[i].len = w->d.e[i].len;
        }
    }
    for (;;) {
        w->h.hit = false;
        rc = bootstrap ? raft_bootstrap(w->r, w->ids, w->n)
                       : raft_restore(w->r, w->ids, w->n, w->d.term, w->d.vote,
                                      ents, w->d.len);
        if (rc == 0) {
            break;
        }
        FZ_CHECK(rc == RAFT_ENOMEM && w->h.hit, "starting the node gave %d (%s)",
                 rc, raft_strerror(rc));
    }
    w->h.hit = false;
    free(ents);
    FZ_CHECK(raft_bootstrap(w->r, w->ids, w->n) == RAFT_ESTARTED,
             "second start accepted");
    FZ_CHECK(raft_step(w->r, NULL) == RAFT_EINVAL, "NULL message accepted");
    w->d.known = w->d.len;
    w->applied = 0;
    w->check_from = 1;
    raft_status(w->r, &st);
    FZ_CHECK(st.role == RAFT_FOLLOWER && st.commit == 0 && st.applied == 0 &&
                 st.term == w->d.term && st.vote == w->d.vote &&
                 st.last_index == w->d.len && st.last_term == lterm(w, w->d.len),
             "fresh node: role %d term %llu commit %llu last %llu", st.role,
             (ull)st.term, (ull)st.commit, (ull)st.last_index);
    check_log(w);
}

static void node_stop(struct world *w)
{
    raft_destroy(w->r);
    w->r = NULL;
    FZ_CHECK(w->h.blocks == 0, "%zu blocks leaked by raft_destroy", w->h.blocks);
}

/* An initial log for raft_restore: up to 7 entries with non-decreasing
 * terms (per entry one byte: bits 0-3 payload length, bits 4-5 term
 * increment, bit 6 no-op; then the payload), then the term (last entry's
 * plus 0..2) and the vote (0 or a voter). */
static void initial_log(struct world *w, struct fz *in)
{
    size_t i, k = fz_u8(in) % 8, got;
    raft_term t = 1;
    for (i = 0; i < k; i++) {
        uint8_t b = fz_u8(in);
        size_t len = b % 16;
        const uint8_t *p = fz_bytes(in, len, &got);
        t += (b >> 4) & 3;
        disk_append(&w->d, t, b & 0x40 ? RAFT_ENTRY_NOOP : RAFT_ENTRY_COMMAND,
                    got == len ? p : zeros, len);
    }
    w->d.term = (k > 0 ? t : 0) + fz_u8(in) % 3;
    i = fz_u8(in) % (w->n + 1);
    w->d.vote = w->d.term > 0 && i < w->n ? w->ids[i] : 0;
}

/* ---- building messages ---------------------------------------------------------- */

static raft_term pick_term(struct fz *in, raft_term cur)
{
    uint8_t b = fz_u8(in);
    switch (b % 8) {
    case 0:
    case 1:
    case 2:
        return cur;
    case 3:
    case 4:
        return cur + 1;
    case 5:
        return cur + 2 + (b >> 3);
    case 6:
        return cur > 0 ? cur - 1 : 0;
    default:
        return fz_u64(in);
    }
}

static raft_index pick_index(struct fz *in, const struct raft_status *st)
{
    uint8_t b = fz_u8(in);
    raft_index last = st->last_index;
    switch (b % 8) {
    case 0:
        return last;
    case 1:
        return last > 0 ? last - 1 : 0;
    case 2:
        return st->commit;
    case 3:
        return last + 1;
    case 4:
        return last > (raft_index)(b >> 3) ? last - (b >> 3) : 0;
    case 5:
        return 0;
    case 6:
        return st->commit + (b >> 3);
    default:
        return fz_u64(in);
    }
}

/* A term for index idx: mostly the node's own, sometimes a conflicting or
 * arbitrary one. */
static raft_term pick_term_at(const struct world *w, struct fz *in, raft_index idx,
                              raft_term mterm)
{
    uint8_t b = fz_u8(in);
    raft_term t;
    if (idx == 0) {
        return b == 0xff ? 1 : 0;
    }
    switch (b % 4) {
    case 0:
    case 1:
        t = lterm(w, idx);
        return t > 0 ? t : mterm;
    case 2:
        t = lterm(w, idx) + 1;
        return t <= mterm ? t : mterm;
    default:
        return b >> 2;
    }
}

static void build_msg(struct world *w, struct fz *in, int type,
                      const struct raft_status *st, struct raft_msg *m,
                      struct raft_entry *ents)
{
    uint8_t who = fz_u8(in), b;
    size_t i;
    memset(m, 0, sizeof(*m));
    m->type = type;
    if (who < 0xf0) {
        m->from = w->ids[who % w->n];
        if (m->from == w->self) {
            m->from = w->ids[(who + 1) % w->n];
        }
    } else {
        m->from = who & 1 ? w->self : 6 + (who & 0xe); /* self or stranger */
    }
    m->to = who >= 0xe8 && who < 0xf0 ? m->from : w->self;
    m->term = pick_term(in, st->term);
    switch (type) {
    case RAFT_MSG_VOTE:
        m->u.vote.last_index = pick_index(in, st);
        m->u.vote.last_term = pick_term_at(w, in, m->u.vote.last_index, m->term);
        break;
    case RAFT_MSG_VOTE_RESP:
        m->u.vote_resp.granted = (fz_u8(in) & 3) != 0;
        m->u.vote_resp.last_index = pick_index(in, st);
        m->u.vote_resp.last_term =
            pick_term_at(w, in, m->u.vote_resp.last_index, m->term);
        break;
    case RAFT_MSG_APPEND_RESP: {
        struct raft_msg_append_resp *a = &m->u.append_resp;
        b = fz_u8(in);
        a->success = (b & 3) != 0;
        a->index = pick_index(in, st);
        a->hint_index = pick_index(in, st);
        if (!(b & 4) && a->hint_index > a->index) {
            a->hint_index = a->index;
        }
        a->hint_term = pick_term_at(w, in, a->hint_index, m->term);
        break;
    }
    default: { /* RAFT_MSG_APPEND */
        struct raft_msg_append *a = &m->u.append;
        raft_term t;
        size_t n;
        a->prev_index = pick_index(in, st);
        a->prev_term = pick_term_at(w, in, a->prev_index, m->term);
        b = fz_u8(in);
        n = b % 8 <= CFG_MAX_ENTRIES ? b % 8u : b % 8 == 5 ? 1 : b % 8 == 6 ? 2
                                                                   : CFG_MAX_ENTRIES + 1;
        t = a->prev_term > 0 ? a->prev_term : 1;
        for (i = 0; i < n; i++) {
            uint8_t eb = fz_u8(in), lb = fz_u8(in);
            size_t len = lb < 0xf8 ? lb % 24 : CFG_MAX_BYTES / 2 + (lb & 7), got;
            const uint8_t *p = fz_bytes(in, len, &got);
            if ((eb & 3) == 0 && t < m->term) {
                t++;
            } else if (eb == 0xff) {
                t = m->term;
            }
            ents[i].term = eb == 0xfe ? 0 : t;
            ents[i].type = eb == 0xfd ? 7 : (eb & 4) ? RAFT_ENTRY_NOOP : RAFT_ENTRY_COMMAND;
            ents[i].buf = got == len ? p : zeros;
            ents[i].len = len;
        }
        a->n_entries = n;
        a->entries = n > 0 ? ents : NULL;
        switch (b >> 6) {
        case 0:
            a->commit = a->prev_index + n;
            break;
        case 1:
            a->commit = pick_index(in, st);
            break;
        case 2:
            a->commit = st->commit;
            break;
        default:
            a->commit = a->prev_index + n + (b & 0x38) / 8;
            break;
        }
        break;
    }
    }
}

/* ---- operations --------------------------------------------------------------- */

static void do_tick(struct world *w)
{
    struct raft_status b;
    begin(w, &b);
    check_after(w, K_TICK, raft_tick(w->r), &b);
}

static void do_step(struct world *w, const struct raft_msg *m)
{
    struct raft_status b, st;
    bool member = is_peer(w, m->from);
    size_t i, bytes = 0;
    int rc;
    begin(w, &b);
    rc = raft_step(w->r, m);
    check_after(w, K_STEP, rc, &b);
    raft_status(w->r, &st);
    if (m->to != w->self) {
        FZ_CHECK(rc == RAFT_EBADMSG, "message to %llu gave %d", (ull)m->to, rc);
    } else if (!member) {
        FZ_CHECK(rc == RAFT_ENOTMEMBER, "message from %llu gave %d", (ull)m->from, rc);
    }
    FZ_CHECK(rc != RAFT_ESTALE || m->term < b.term,
             "ESTALE for term %llu at term %llu", (ull)m->term, (ull)b.term);
    if (m->term < b.term) {
        FZ_CHECK(rc == RAFT_ESTALE || rc == RAFT_EBADMSG || rc == RAFT_ETOOBIG ||
                     rc == RAFT_ENOTMEMBER,
                 "stale term %llu at term %llu gave %d", (ull)m->term,
                 (ull)b.term, rc);
    }
    if (rc == 0 && m->term > b.term) {
        FZ_CHECK(st.term == m->term, "accepted term %llu but at %llu",
                 (ull)m->term, (ull)st.term);
    }
    if (rc == 0 && m->type == RAFT_MSG_APPEND) {
        FZ_CHECK(st.role == RAFT_FOLLOWER && st.leader == m->from,
                 "accepted AppendEntries: role %d leader %llu", st.role,
                 (ull)st.leader);
    }
    if (rc == RAFT_ETOOBIG) {
        FZ_CHECK(m->type == RAFT_MSG_APPEND, "ETOOBIG for type %d", m->type);
        for (i = 0; i < m->u.append.n_entries; i++) {
            bytes += m->u.append.entries[i].len;
        }
        /* The node's own limits bound what it sends, not what it takes. */
        FZ_CHECK(m->u.append.n_entries > RAFT_MAX_ACCEPT_ENTRIES ||
                     bytes > RAFT_MAX_ACCEPT_BYTES,
                 "ETOOBIG for %zu entries, %zu bytes", m->u.append.n_entries, bytes);
    }
}

/* A message built from the input, stepped as is or through the codec. */
static void op_step(struct world *w, struct fz *in, int type, bool via_wire)
{
    struct raft_entry ents[MSG_ENTRIES], dents[MSG_ENTRIES];
    struct raft_status st;
    struct raft_msg m, d;
    uint8_t buf[1024];
    size_t len;
    raft_status(w->r, &st);
    build_msg(w, in, type, &st, &m, ents);
    if (via_wire && raft_msg_encode(&m, buf, sizeof(buf), &len) == 0 &&
        raft_msg_decode(buf, len, NULL, &d, dents, MSG_ENTRIES) == 0) {
        FZ_CHECK(fz_msg_eq(&m, &d), "message changed through the codec");
        do_step(w, &d);
        return;
    }
    do_step(w, &m);
}

/* Raw bytes through the decoder; whatever decodes is stepped. */
static void op_step_wire(struct world *w, struct fz *in)
{
    struct raft_entry *ents = malloc(WIRE_ENTRIES * sizeof(*ents));
    struct raft_msg m;
    size_t got, want = fz_u16(in) % 1024;
    const uint8_t *p = fz_bytes(in, want, &got);
    uint8_t *buf = fz_dup(p, got);
    int rc;
    FZ_CHECK(ents != NULL, "out of memory");
    rc = raft_msg_decode(buf, got, NULL, &m, ents, WIRE_ENTRIES);
    FZ_CHECK(fz_decode_rc_ok(rc), "decode gave %d", rc);
    if (rc == 0) {
        do_step(w, &m);
    }
    free(buf);
    free(ents);
}

static void pick_payload(struct fz *in, struct raft_buf *b)
{
    uint8_t x = fz_u8(in);
    size_t got, len = x < 0xf0 ? x % 64u : CFG_MAX_BYTES - 4 + (x & 7u);
    const uint8_t *p = fz_bytes(in, len, &got);
    b->base = got == len ? p : zeros;
    b->len = len;
    if (x == 0xff) {
        b->base = NULL; /* missing payload */
        b->len = 1;
    }
}

static void do_propose(struct world *w, const struct raft_buf *bufs, size_t n,
                       bool single)
{
    struct raft_status b, st;
    raft_index idx = 0;
    bool null_buf = false, too_big = false;
    size_t i;
    int rc;
    for (i = 0; bufs != NULL && i < n; i++) {
        null_buf |= bufs[i].base == NULL && bufs[i].len > 0;
        too_big |= bufs[i].len > CFG_MAX_BYTES;
    }
    begin(w, &b);
    rc = single ? raft_propose(w->r, bufs[0].base, bufs[0].len, &idx)
                : raft_propose_batch(w->r, bufs, n, &idx);
    check_after(w, K_PROPOSE, rc, &b);
    raft_status(w->r, &st);
    if (bufs == NULL || n == 0) {
        FZ_CHECK(rc == RAFT_EINVAL, "empty batch gave %d", rc);
    } else if (b.role != RAFT_LEADER) {
        FZ_CHECK(rc == RAFT_ENOTLEADER, "proposal to role %d gave %d", b.role, rc);
        FZ_CHECK(st.leader == 0 || is_peer(w, st.leader), "redirect to %llu",
                 (ull)st.leader);
    } else if (null_buf || too_big) {
        FZ_CHECK(too_big ? (rc == RAFT_ETOOBIG || (null_buf && rc == RAFT_EINVAL))
                         : rc == RAFT_EINVAL,
                 "invalid proposal (NULL payload %d, too big %d) gave %d",
                 null_buf, too_big, rc);
    } else {
        FZ_CHECK(rc == 0 || rc == RAFT_EPERSIST || rc == RAFT_ENOMEM ||
                     rc == RAFT_EAPPLY,
                 "valid proposal to the leader gave %d", rc);
        if (rc == RAFT_EPERSIST) {
            FZ_CHECK(st.role == RAFT_FOLLOWER, "leader kept leading after its "
                     "append failed");
        }
        if (rc == 0 || rc == RAFT_EAPPLY) {
            FZ_CHECK(idx == b.last_index + 1 && st.last_index == b.last_index + n,
                     "proposal of %zu at %llu, log %llu -> %llu", n, (ull)idx,
                     (ull)b.last_index, (ull)st.last_index);
            for (i = 0; i < n; i++) {
                const struct dent *e = &w->d.e[idx - 1 + i];
                FZ_CHECK(e->term == b.term && e->type == RAFT_ENTRY_COMMAND &&
                             e->len == bufs[i].len &&
                             (e->len == 0 || memcmp(e->buf, bufs[i].base, e->len) == 0),
                         "proposed entry %llu differs", (ull)(idx + i));
            }
        }
    }
}

static void op_fault(struct world *w, struct fz *in)
{
    uint8_t b = fz_u8(in);
    unsigned k = 1 + (b / 5) % 4;
    switch (b % 5) {
    case 0:
        w->fail_state = k;
        break;
    case 1:
        w->fail_entries = k;
        w->partial = fz_u8(in);
        break;
    case 2:
        w->fail_send = k;
        break;
    case 3:
        w->fail_apply = k;
        break;
    default:
        w->h.fail_in = k;
        break;
    }
}

/* Tick until a candidate, then grant votes from the peers in order. */
static void op_elect(struct world *w)
{
    struct raft_msg m;
    size_t i;
    int t;
    for (t = 0; t < 4 * CFG_ELECTION && raft_role(w->r) == RAFT_FOLLOWER; t++) {
        do_tick(w);
    }
    for (i = 0; i < w->n && raft_role(w->r) == RAFT_CANDIDATE; i++) {
        if (w->ids[i] == w->self) {
            continue;
        }
        memset(&m, 0, sizeof(m));
        m.type = RAFT_MSG_VOTE_RESP;
        m.from = w->ids[i];
        m.to = w->self;
        m.term = raft_current_term(w->r);
        m.u.vote_resp.granted = true;
        do_step(w, &m);
    }
}

/* Leader: peers acknowledge its whole log. */
static void op_ack(struct world *w, struct fz *in)
{
    uint8_t b = fz_u8(in);
    struct raft_status st;
    struct raft_msg m;
    size_t i;
    for (i = 0; i < w->n && raft_role(w->r) == RAFT_LEADER; i++) {
        raft_id id = w->ids[(b + i) % w->n];
        if (id == w->self) {
            continue;
        }
        raft_status(w->r, &st);
        memset(&m, 0, sizeof(m));
        m.type = RAFT_MSG_APPEND_RESP;
        m.from = id;
        m.to = w->self;
        m.term = st.term;
        m.u.append_resp.success = true;
        m.u.append_resp.index = st.last_index;
        do_step(w, &m);
        if (!(b & 0x80)) {
            break; /* one peer only */
        }
    }
}

static void run_op(struct world *w, struct fz *in)
{
    uint8_t op = fz_u8(in);
    bool alt = (op / FZ_OP_COUNT) & 1;
    struct raft_buf bufs[MAX_BATCH];
    size_t i, n;
    switch (op % FZ_OP_COUNT) {
    case FZ_OP_TICK:
        for (n = 1 + fz_u8(in) % 4u; n > 0; n--) {
            do_tick(w);
        }
        break;
    case FZ_OP_STEP:
        op_step(w, in, 1 + fz_u8(in) % 4, alt);
        break;
    case FZ_OP_STEP_VOTE:
        op_step(w, in, RAFT_MSG_VOTE, alt);
        break;
    case FZ_OP_STEP_VRESP:
        op_step(w, in, RAFT_MSG_VOTE_RESP, alt);
        break;
    case FZ_OP_STEP_APPEND:
        op_step(w, in, RAFT_MSG_APPEND, alt);
        break;
    case FZ_OP_STEP_ARESP:
        op_step(w, in, RAFT_MSG_APPEND_RESP, alt);
        break;
    case FZ_OP_STEP_WIRE:
        op_step_wire(w, in);
        break;
    case FZ_OP_PROPOSE:
        pick_payload(in, &bufs[0]);
        do_propose(w, bufs, 1, true);
        break;
    case FZ_OP_BATCH:
        n = fz_u8(in) % (MAX_BATCH + 1);
        for (i = 0; i < n; i++) {
            pick_payload(in, &bufs[i]);
        }
        do_propose(w, n == 0 && alt ? NULL : bufs, n, false);
        break;
    case FZ_OP_FAULT:
        op_fault(w, in);
        if (tracing()) {
            fprintf(stderr, "fault: state %u entries %u (partial %u) send %u "
                    "apply %u alloc %lu\n", w->fail_state, w->fail_entries,
                    w->partial, w->fail_send, w->fail_apply, w->h.fail_in);
        }
        break;
    case FZ_OP_RESTART:
        if (tracing()) {
            fprintf(stderr, "restart\n");
        }
        node_stop(w);
        node_start(w, false);
        break;
    case FZ_OP_ELECT:
        op_elect(w);
        break;
    default:
        op_ack(w, in);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in = {data, size};
    struct world w;
    uint8_t setup, start;
    size_t i;

    memset(&w, 0, sizeof(w));
    setup = fz_u8(&in);
    w.n = setup & 1 ? 5 : 3;
    for (i = 0; i < w.n; i++) {
        w.ids[i] = i + 1;
    }
    w.self = w.ids[(setup >> 1) % w.n];
    w.cfg.id = w.self;
    w.cfg.election_ticks = CFG_ELECTION;
    w.cfg.heartbeat_ticks = CFG_HEARTBEAT;
    w.cfg.seed = fz_u8(&in);
    w.cfg.max_msg_entries = CFG_MAX_ENTRIES;
    w.cfg.max_msg_bytes = CFG_MAX_BYTES;
    w.cfg.max_inflight = CFG_INFLIGHT;
    w.cfg.allocator.ctx = &w.h;
    w.cfg.allocator.alloc = h_alloc;
    w.cfg.allocator.realloc = h_realloc;
    w.cfg.allocator.free = h_free;
    start = fz_u8(&in);
    if (start & 1) {
        initial_log(&w, &in);
        node_start(&w, false);
    } else {
        node_start(&w, true);
    }

    while (in.n > 0) {
        run_op(&w, &in);
    }

    node_stop(&w);
    disk_truncate(&w.d, 0);
    free(w.d.e);
    return 0;
}
