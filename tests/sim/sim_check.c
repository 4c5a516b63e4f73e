/*
 * sim_check.c - safety bookkeeping, checked incrementally after every event.
 *
 * Global knowledge kept across the whole run (all incarnations of all nodes):
 *   - the committed chain: index -> (term, payload hash) for the longest
 *     prefix any node has reported committed (raft_status().commit or an
 *     apply callback). Every later observation must agree with it.
 *   - the Log Matching map: (index, term) -> (payload hash, previous term),
 *     recorded the first time any node persists (index, term).
 *   - the leader of each term (node id and incarnation).
 *   - every proposal a leader accepted.
 * Cost per event is O(1) amortised: each node re-verifies its log against
 * the chain only once per index per incarnation, and Leader Completeness
 * (O(committed prefix)) runs once per won election.
 *
 * Entries are compared by term alone wherever the Log Matching map already
 * guarantees that equal (index, term) means equal payload; payload hashes
 * are compared where an entry leaves the library (apply, final check).
 */
#include <stdlib.h>

#include "sim_int.h"

uint64_t sim_entry_hash(int type, const void *buf, size_t len)
{
    /* FNV-1a 64 over the type byte and the payload. */
    uint64_t h = 0xcbf29ce484222325ULL;
    h = (h ^ (uint8_t)type) * 0x100000001b3ULL;
    const uint8_t *p = buf;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static unsigned long long sim_ull(uint64_t x)
{
    return (unsigned long long)x;
}

/* ---- Log Matching map (open addressing, linear probing) ---------------- */

static size_t sim_lm_slot_of(const struct sim_lm_slot *tab, size_t cap,
                             raft_index index, raft_term term)
{
    uint64_t h = index * 0x9e3779b97f4a7c15ULL ^ term * 0xc2b2ae3d27d4eb4fULL;
    h ^= h >> 29;
    size_t i = (size_t)h & (cap - 1);
    while (tab[i].index != 0 && (tab[i].index != index || tab[i].term != term))
        i = (i + 1) & (cap - 1);
    return i;
}

/* Keep the load factor at most 1/2 so probes stay short. */
static bool sim_lm_reserve(struct sim *s)
{
    if ((s->lm_used + 1) * 2 <= s->lm_cap)
        return true;
    size_t cap = s->lm_cap ? s->lm_cap * 2 : 1024;
    struct sim_lm_slot *tab = calloc(cap, sizeof *tab);
    if (tab == NULL) {
        s->oom = true;
        return false;
    }
    for (size_t i = 0; i < s->lm_cap; i++)
        if (s->lm[i].index != 0)
            tab[sim_lm_slot_of(tab, cap, s->lm[i].index, s->lm[i].term)] =
                s->lm[i];
    free(s->lm);
    s->lm = tab;
    s->lm_cap = cap;
    return true;
}

static const struct sim_lm_slot *sim_lm_find(const struct sim *s,
                                             raft_index index, raft_term term)
{
    if (s->lm_cap == 0)
        return NULL;
    const struct sim_lm_slot *e =
        &s->lm[sim_lm_slot_of(s->lm, s->lm_cap, index, term)];
    return e->index != 0 ? e : NULL;
}

/*
 * Log Matching: any two entries ever persisted with the same (index, term)
 * carry the same payload and follow an entry of the same term. `insert`
 * records a first sighting (persist); messages only compare.
 */
static void sim_lm_check(struct sim_node *nd, raft_index index, raft_term term,
                         raft_term prev, uint64_t hash, bool insert,
                         const char *what)
{
    struct sim *s = nd->sim;
    const struct sim_lm_slot *e = sim_lm_find(s, index, term);
    if (e == NULL) {
        if (!insert || !sim_lm_reserve(s))
            return;
        size_t i = sim_lm_slot_of(s->lm, s->lm_cap, index, term);
        s->lm[i] = (struct sim_lm_slot){index, term, prev, hash};
        s->lm_used++;
        return;
    }
    if (e->hash != hash)
        sim_fail(s, "Log Matching",
                 "node %llu %s index %llu term %llu with a payload differing "
                 "from the one persisted earlier at the same index and term",
                 sim_ull(nd->id), what, sim_ull(index), sim_ull(term));
    else if (e->prev_term != prev)
        sim_fail(s, "Log Matching",
                 "node %llu %s index %llu term %llu after an entry of term "
                 "%llu, but it was persisted earlier after term %llu",
                 sim_ull(nd->id), what, sim_ull(index), sim_ull(term),
                 sim_ull(prev), sim_ull(e->prev_term));
}

/* ---- committed chain ---------------------------------------------------- */

/* Append index chain_len + 1, seen committed by a node in term `seen`;
 * also checks that no payload id commits twice. */
static void sim_chain_extend(struct sim_node *nd, const struct raft_entry *e,
                             uint64_t hash, raft_term seen)
{
    struct sim *s = nd->sim;
    struct sim_link *c =
        sim_grow(s, s->chain, &s->chain_cap, s->chain_len + 1, sizeof *c);
    if (c == NULL)
        return;
    s->chain = c;
    c[s->chain_len++] = (struct sim_link){e->term, hash, seen};
    s->st.committed = s->chain_len;
    sim_conf_chain(s, s->chain_len, e);
    if (e->type != RAFT_ENTRY_COMMAND)
        return;
    s->cmds_committed++;
    uint64_t pid = 0;
    if (e->len >= 8)
        for (int i = 7; i >= 0; i--)
            pid = pid << 8 | ((const uint8_t *)e->buf)[i];
    if (pid == 0 || pid > s->next_pid) {
        sim_fail(s, "State Machine Safety",
                 "index %zu committed a command nobody proposed",
                 s->chain_len);
        return;
    }
    raft_index *where = sim_grow(s, s->pid_index, &s->pid_cap, s->next_pid + 1,
                                 sizeof *where);
    if (where == NULL)
        return;
    s->pid_index = where;
    if (where[pid] != 0)
        sim_fail(s, "State Machine Safety",
                 "proposal %llu committed twice, at indexes %llu and %zu",
                 sim_ull(pid), sim_ull(where[pid]), s->chain_len);
    where[pid] = s->chain_len;
}

/* Check a node's committed prefix (verified, commit] against the chain;
 * the node is in term `term`. */
static void sim_verify_commit(struct sim_node *nd, raft_index commit,
                              raft_term term)
{
    struct sim *s = nd->sim;
    for (raft_index i = nd->verified + 1; i <= commit && !s->failed; i++) {
        struct raft_entry e;
        if (raft_entry_at(nd->r, i, &e) != 0) {
            sim_fail(s, "API", "node %llu: raft_entry_at(%llu) failed "
                     "below its commit index %llu", sim_ull(nd->id),
                     sim_ull(i), sim_ull(commit));
            return;
        }
        if (i <= s->chain_len) {
            struct sim_link *c = &s->chain[i - 1];
            if (e.term != c->term)
                sim_fail(s, "Commit Safety",
                         "node %llu has index %llu committed with term %llu, "
                         "but that index was committed with term %llu",
                         sim_ull(nd->id), sim_ull(i), sim_ull(e.term),
                         sim_ull(c->term));
            if (term < c->commit_term)
                c->commit_term = term;
        } else {
            sim_chain_extend(nd, &e, sim_entry_hash(e.type, e.buf, e.len),
                             term);
        }
    }
    if (commit > nd->verified)
        nd->verified = commit;
}

/* Does the node hold committed index i with term t? An entry compacted
 * into a snapshot counts: snapshots are checked as whole states. */
static bool sim_holds(struct sim_node *nd, raft_index i, raft_term t)
{
    struct raft_entry e;
    int rc = raft_entry_at(nd->r, i, &e);
    return rc == RAFT_ECOMPACTED || (rc == 0 && e.term == t);
}

/* ---- per-node invariants ------------------------------------------------ */

static bool sim_leader_known(const struct sim *s, raft_term term, raft_id id)
{
    return term < s->leaders_cap && s->leaders[term].id == id;
}

/* raft_status invariants and durability of what the node reports. */
static void sim_check_status(struct sim_node *nd, const struct raft_status *st)
{
    struct sim *s = nd->sim;
    const struct sim_disk *d = &nd->disk;
    unsigned long long id = sim_ull(nd->id);
    if (st->id != nd->id || st->role < RAFT_FOLLOWER ||
        st->role > RAFT_PRECANDIDATE || st->leader > s->n)
        sim_fail(s, "raft_status", "node %llu reports id %llu, role %d, "
                 "leader %llu", id, sim_ull(st->id), st->role,
                 sim_ull(st->leader));
    else if (st->commit > st->last_index)
        sim_fail(s, "Commit bound", "node %llu: commit %llu > last index %llu",
                 id, sim_ull(st->commit), sim_ull(st->last_index));
    else if (st->applied > st->commit)
        sim_fail(s, "Apply bound", "node %llu: applied %llu > commit %llu",
                 id, sim_ull(st->applied), sim_ull(st->commit));
    else if (st->applied != nd->applied)
        sim_fail(s, "Apply accounting", "node %llu reports applied %llu, but "
                 "its apply callback succeeded up to %llu", id,
                 sim_ull(st->applied), sim_ull(nd->applied));
    else if (st->commit < nd->commit_seen)
        sim_fail(s, "Commit monotonicity", "node %llu: commit went from %llu "
                 "down to %llu", id, sim_ull(nd->commit_seen),
                 sim_ull(st->commit));
    else if (st->role == RAFT_LEADER && st->leader != nd->id)
        sim_fail(s, "raft_status", "node %llu is leader but reports leader "
                 "%llu", id, sim_ull(st->leader));
    else if (st->term < nd->term_seen)
        sim_fail(s, "Term monotonicity", "node %llu: term went from %llu "
                 "down to %llu", id, sim_ull(nd->term_seen), sim_ull(st->term));
    else if (st->term != d->term || st->vote != d->vote)
        sim_fail(s, "Durability", "node %llu runs with term %llu vote %llu "
                 "but persisted term %llu vote %llu", id, sim_ull(st->term),
                 sim_ull(st->vote), sim_ull(d->term), sim_ull(d->vote));
    else if (st->last_index != nd->log_last ||
             (st->last_index > sim_disk_last(d) && st->last_index != d->snap.index) ||
             st->last_term != (sim_disk_at(d, st->last_index) != NULL
                                   ? sim_disk_at(d, st->last_index)->term
                                   : st->last_index == d->snap.index
                                         ? d->snap.term
                                         : sim_disk_term(d, st->last_index)))
        sim_fail(s, "Durability", "node %llu's log ends at %llu/%llu, which "
                 "is not what it persisted (log of %llu entries, disk up to "
                 "%llu, snapshot %llu)", id, sim_ull(st->last_index),
                 sim_ull(st->last_term), sim_ull(nd->log_last),
                 sim_ull(sim_disk_last(d)), sim_ull(d->snap.index));
    else if (st->snapshot_index != d->snap.index || st->first_index > st->snapshot_index + 1)
        sim_fail(s, "Snapshot", "node %llu reports snapshot %llu and first "
                 "index %llu; its host holds snapshot %llu", id,
                 sim_ull(st->snapshot_index), sim_ull(st->first_index),
                 sim_ull(d->snap.index));
    else if (st->leader != 0 && !sim_leader_known(s, st->term, st->leader))
        sim_fail(s, "Election Safety", "node %llu follows node %llu in term "
                 "%llu, which never became leader of that term", id,
                 sim_ull(st->leader), sim_ull(st->term));
}

/* The node's counters against what the host saw it do. */
static void sim_check_metrics(struct sim_node *nd)
{
    const struct sim_tally *t = &nd->tally;
    struct raft_metrics m;
    if (raft_metrics(nd->r, &m, sizeof m) != 0 || m.size != sizeof m) {
        sim_fail(nd->sim, "Metrics", "raft_metrics on node %llu failed",
                 sim_ull(nd->id));
        return;
    }
    uint64_t looked_at = m.rejected[RAFT_REJECT_MALFORMED] +
                         m.rejected[RAFT_REJECT_NOT_MEMBER] +
                         m.rejected[RAFT_REJECT_TOO_BIG];
    for (size_t i = 0; i < RAFT_METRICS_MSG_SLOTS; i++)
        looked_at += m.recv[i];
    const struct {
        const char *name;
        uint64_t lib, host;
    } c[] = {
        {"sent[VOTE]", m.sent[RAFT_MSG_VOTE], t->sent[RAFT_MSG_VOTE]},
        {"sent[VOTE_RESP]", m.sent[RAFT_MSG_VOTE_RESP], t->sent[RAFT_MSG_VOTE_RESP]},
        {"sent[APPEND]", m.sent[RAFT_MSG_APPEND], t->sent[RAFT_MSG_APPEND]},
        {"sent[APPEND_RESP]", m.sent[RAFT_MSG_APPEND_RESP], t->sent[RAFT_MSG_APPEND_RESP]},
        {"send_failures", m.send_failures, t->send_failures},
        {"entries_sent", m.entries_sent, t->entries_sent},
        {"entry_bytes_sent", m.entry_bytes_sent, t->entry_bytes_sent},
        {"persist_state_calls", m.persist_state_calls, t->persist_state_calls},
        {"persist_entries_calls", m.persist_entries_calls, t->persist_entries_calls},
        {"writes_completed", m.writes_completed, t->writes_completed},
        {"entries_applied", m.entries_applied, t->applied},
        {"reads_served", m.reads_served, t->reads_served},
        {"reads_failed", m.reads_failed, t->reads_failed},
        {"rejected[STALE_TERM]", m.rejected[RAFT_REJECT_STALE_TERM], t->stale},
        {"messages stepped (recv[] + refused unread)", looked_at,
         t->step_oom ? looked_at : t->stepped},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        if (c[i].lib != c[i].host) {
            sim_fail(nd->sim, "Metrics", "node %llu counts %s = %llu, the "
                     "host counted %llu", sim_ull(nd->id), c[i].name,
                     sim_ull(c[i].lib), sim_ull(c[i].host));
            return;
        }
    }
    /* Every message type, and the snapshot chunks among them: what the
     * send callback took, not what the node meant to send. */
    for (int type = RAFT_MSG_VOTE; type <= RAFT_MSG_TIMEOUT_NOW; type++) {
        if (m.sent[type] != t->sent[type]) {
            sim_fail(nd->sim, "Metrics", "node %llu counts sent[%d] = %llu, "
                     "the host counted %llu", sim_ull(nd->id), type,
                     sim_ull(m.sent[type]), sim_ull(t->sent[type]));
            return;
        }
    }
    if (m.snapshot_chunks_sent != t->sent[RAFT_MSG_SNAPSHOT]) {
        sim_fail(nd->sim, "Metrics", "node %llu counts snapshot_chunks_sent "
                 "= %llu, the host took %llu chunks", sim_ull(nd->id),
                 sim_ull(m.snapshot_chunks_sent),
                 sim_ull(t->sent[RAFT_MSG_SNAPSHOT]));
    }
}

void sim_check_node(struct sim_node *nd)
{
    struct sim *s = nd->sim;
    if (s->svg != NULL && nd->r != NULL)
        sim_svg_node(nd);
    if (nd->r == NULL || s->failed)
        return;
    struct raft_status st;
    raft_status(nd->r, &st);
    if (st.role == RAFT_LEADER)
        sim_note_leader(nd, st.term);
    sim_check_status(nd, &st);
    if (s->failed)
        return;
    sim_conf_check_node(nd, &st);
    if (s->failed)
        return;
    /* A leader's commit index may only rise to an entry a majority of
     * each voter group holds durably (sim_conf.c). */
    if (st.role == RAFT_LEADER && st.commit > nd->commit_seen) {
        sim_conf_check_commit(nd, st.commit);
        if (s->failed)
            return;
        sim_nemesis_on_commit(nd, st.term);
    }
    sim_check_metrics(nd);
    if (s->failed)
        return;
    nd->commit_seen = st.commit;
    nd->term_seen = st.term;
    if (st.term > s->st.max_term)
        s->st.max_term = st.term;
    sim_verify_commit(nd, st.commit, st.term);
}

void sim_check_rc(struct sim_node *nd, const char *call, int rc, int also_ok)
{
    struct sim *s = nd->sim;
    bool injected = s->inj_persist || s->inj_apply;
    if (rc == 0) {
        if (injected)
            sim_fail(s, "Error reporting", "%s on node %llu returned 0 "
                     "although a %s callback failed during it", call,
                     sim_ull(nd->id), s->inj_persist ? "persist" : "apply");
        return;
    }
    if ((also_ok != 0 && rc == also_ok) ||
        (rc == RAFT_EPERSIST && s->inj_persist) ||
        (rc == RAFT_EAPPLY && s->inj_apply))
        return;
    sim_fail(s, "Return code", "%s on node %llu returned %d (%s)%s", call,
             sim_ull(nd->id), rc, raft_strerror(rc),
             injected ? "" : " with no injected failure");
}

/* ---- callbacks ---------------------------------------------------------- */

/*
 * The committed entries a write at `first` would remove must come back,
 * unless the write comes from a leader of a term older than the one the
 * entry was committed in. Such a stale leader may lack the entry (Leader
 * Completeness only covers later terms), and a node that accepts its
 * entries is still in an older term itself, so it was not part of the
 * majority that committed the entry. As in Leader Completeness, the commit
 * term of index i is bounded by the lowest bound from i on; the bound only
 * grows with i, so the lowest removed committed index decides.
 */
static void sim_check_truncation(struct sim_node *nd, raft_index first,
                                 const struct raft_entry *e, size_t n)
{
    struct sim *s = nd->sim;
    const struct sim_disk *d = &nd->disk;
    /* Only the node's log counts: a disk tail beyond it (left by a failed
     * write) is already forgotten by the node and may go. */
    for (raft_index i = first; i <= nd->log_last && i <= s->chain_len; i++) {
        raft_term old = sim_disk_term(d, i);
        if (old != s->chain[i - 1].term)
            continue; /* not the committed entry: it may go */
        size_t k = (size_t)(i - first);
        if (k < n && e[k].term == old)
            continue; /* written back */
        raft_term bound = UINT64_MAX;
        for (size_t j = s->chain_len; j >= i; j--)
            if (s->chain[j - 1].commit_term < bound)
                bound = s->chain[j - 1].commit_term;
        /* The write happens in the node's current term, which it persisted
         * before accepting the leader's entries. */
        if (bound <= d->term)
            sim_fail(s, "No committed entry lost",
                     "node %llu (term %llu) overwrites index %llu (term "
                     "%llu), committed by term %llu, with a write at %llu of "
                     "%zu entries", sim_ull(nd->id), sim_ull(d->term),
                     sim_ull(i), sim_ull(old), sim_ull(bound), sim_ull(first),
                     n);
        return;
    }
}

void sim_check_persist(struct sim_node *nd, raft_index first,
                       const struct raft_entry *e, size_t n)
{
    struct sim *s = nd->sim;
    const struct sim_disk *d = &nd->disk;
    if (n == 0 || e == NULL || first <= d->snap.index || first <= d->base ||
        first > nd->log_last + 1) {
        sim_fail(s, "persist_entries", "node %llu writes %zu entries at %llu "
                 "onto a log of %llu entries", sim_ull(nd->id), n,
                 sim_ull(first), sim_ull(nd->log_last));
        return;
    }
    raft_term prev = sim_disk_term(d, first - 1);
    for (size_t k = 0; k < n && !s->failed; k++) {
        const struct raft_entry *x = &e[k];
        if (x->term == 0 || x->term < prev || x->term > d->term ||
            (x->type < RAFT_ENTRY_COMMAND || x->type > RAFT_ENTRY_CONFIG) ||
            (x->len > 0 && x->buf == NULL)) {
            sim_fail(s, "persist_entries", "node %llu (term %llu) writes an "
                     "impossible entry at %llu: term %llu after term %llu, "
                     "type %d", sim_ull(nd->id), sim_ull(d->term),
                     sim_ull(first + k), sim_ull(x->term), sim_ull(prev),
                     x->type);
            return;
        }
        sim_lm_check(nd, first + k, x->term, prev,
                     sim_entry_hash(x->type, x->buf, x->len), true, "persists");
        prev = x->term;
    }
    sim_check_truncation(nd, first, e, n);
    /* A leader only appends its own new entries: configuration changes
     * among them must be legal steps (sim_conf.c). */
    if (!s->failed && raft_role(nd->r) == RAFT_LEADER)
        sim_conf_check_append(nd, first, e, n);
}

/* Messages must depend only on persisted state and respect the limits. */
static void sim_check_append_out(struct sim_node *nd, const struct raft_msg *m)
{
    struct sim *s = nd->sim;
    const struct raft_msg_append *a = &m->u.append;
    uint32_t max_n = nd->cfg.max_msg_entries ? nd->cfg.max_msg_entries : 64;
    uint64_t max_b = nd->cfg.max_msg_bytes ? nd->cfg.max_msg_bytes : 1u << 20;
    uint64_t bytes = 0;
    raft_term prev = a->prev_term;
    if (raft_role(nd->r) != RAFT_LEADER || (a->prev_index == 0) != (prev == 0) ||
        (a->n_entries > 0 && a->entries == NULL)) {
        sim_fail(s, "Send", "node %llu (role %d) sends a malformed APPEND",
                 sim_ull(nd->id), raft_role(nd->r));
        return;
    }
    if (a->n_entries > max_n) {
        sim_fail(s, "Message limits", "node %llu sends %zu entries, limit "
                 "%u", sim_ull(nd->id), a->n_entries, max_n);
        return;
    }
    for (size_t k = 0; k < a->n_entries && !s->failed; k++) {
        const struct raft_entry *x = &a->entries[k];
        bytes += x->len;
        if (x->term < prev || x->term > m->term || x->term == 0) {
            sim_fail(s, "Send", "node %llu sends entry %llu with term %llu "
                     "after term %llu in a term-%llu APPEND", sim_ull(nd->id),
                     sim_ull(a->prev_index + 1 + k), sim_ull(x->term),
                     sim_ull(prev), sim_ull(m->term));
            return;
        }
        sim_lm_check(nd, a->prev_index + 1 + k, x->term, prev,
                     sim_entry_hash(x->type, x->buf, x->len), false, "sends");
        prev = x->term;
    }
    if (bytes > max_b && a->n_entries > 1)
        sim_fail(s, "Message limits", "node %llu sends %llu payload bytes, "
                 "limit %llu", sim_ull(nd->id), sim_ull(bytes), sim_ull(max_b));
}

void sim_check_outgoing(struct sim_node *nd, const struct raft_msg *m)
{
    struct sim *s = nd->sim;
    const struct sim_disk *d = &nd->disk;
    unsigned long long id = sim_ull(nd->id);
    if (m->from != nd->id || m->to == 0 || m->to > s->n || m->to == nd->id ||
        m->type < RAFT_MSG_VOTE || m->type > RAFT_MSG_TIMEOUT_NOW) {
        sim_fail(s, "Send", "node %llu sends type %d from %llu to %llu", id,
                 m->type, sim_ull(m->from), sim_ull(m->to));
        return;
    }
    /* What a message depends on must be durable when it leaves. With
     * asynchronous persistence a message may wait while the node moves on,
     * so the durable term may be newer than the message's by then. */
    const struct sim_disk *dd = sim_durable(nd);
    if (m->type == RAFT_MSG_PREVOTE || m->type == RAFT_MSG_PREVOTE_RESP) {
        /* A pre-vote asks about the next term and leaves at once; a grant
         * answers with the term asked about; a refusal carries the
         * sender's term (a stale-term refusal waits for that term to be
         * durable, so the sender may have moved on since). */
        raft_term t = raft_current_term(nd->r);
        bool ok = m->type == RAFT_MSG_PREVOTE
                      ? m->term == t + 1 && raft_role(nd->r) == RAFT_PRECANDIDATE
                      : (m->u.vote_resp.granted ? m->term > 0
                                                : m->term <= t);
        if (!ok)
            sim_fail(s, "PreVote", "node %llu (term %llu, role %d) sends a "
                     "%s of term %llu", id, sim_ull(t), raft_role(nd->r),
                     m->type == RAFT_MSG_PREVOTE ? "pre-vote request" : "pre-vote reply",
                     sim_ull(m->term));
        if (m->type == RAFT_MSG_PREVOTE) {
            struct sim_conf c;
            sim_conf_of(nd, &c);
            if (!sim_conf_is_voter(&c, m->to))
                sim_fail(s, "Membership", "node %llu asks %llu for a "
                         "pre-vote, not a voter of its configuration", id,
                         sim_ull(m->to));
        }
        return;
    }
    if (m->type == RAFT_MSG_READ) {
        /* A follower's read request promises nothing and depends on no
         * write: like a pre-vote it may leave before its term is durable
         * (asynchronous persistence), but only to its leader, in its term. */
        if (raft_role(nd->r) != RAFT_FOLLOWER || m->to != raft_leader(nd->r) ||
            m->term != raft_current_term(nd->r))
            sim_fail(s, "Reads", "node %llu (role %d, term %llu, leader "
                     "%llu) sends a read request of term %llu to %llu", id,
                     raft_role(nd->r), sim_ull(raft_current_term(nd->r)),
                     sim_ull(raft_leader(nd->r)), sim_ull(m->term),
                     sim_ull(m->to));
        return;
    }
    if (m->term == 0 || m->term > dd->term || (!nd->async && m->term != d->term)) {
        sim_fail(s, "Durability", "node %llu sends a term-%llu message with "
                 "term %llu durable", id, sim_ull(m->term), sim_ull(dd->term));
        return;
    }
    switch (m->type) {
    case RAFT_MSG_VOTE: {
        struct sim_conf c;
        sim_conf_of(nd, &c);
        /* (A request that waited for the self-vote to be durable may
         * leave after the node stepped down in the same term and rolled
         * its configuration back: checked only while it campaigns.) */
        if (!sim_conf_is_voter(&c, m->to) && raft_role(nd->r) == RAFT_CANDIDATE)
            sim_fail(s, "Membership", "node %llu asks %llu for its vote, "
                     "not a voter of its configuration", id, sim_ull(m->to));
        if (dd->term == m->term && dd->vote != nd->id)
            sim_fail(s, "Durability", "node %llu requests votes in term %llu "
                     "without a durable vote for itself (vote %llu)", id,
                     sim_ull(m->term), sim_ull(dd->vote));
        break;
    }
    case RAFT_MSG_VOTE_RESP:
        if (m->u.vote_resp.granted && dd->term == m->term && dd->vote != m->to)
            sim_fail(s, "Durability", "node %llu grants its term-%llu vote "
                     "to %llu but made durable a vote for %llu", id,
                     sim_ull(m->term), sim_ull(m->to), sim_ull(dd->vote));
        break;
    case RAFT_MSG_APPEND:
        sim_check_append_out(nd, m);
        break;
    case RAFT_MSG_SNAPSHOT: {
        const struct raft_msg_snapshot *x = &m->u.snapshot;
        struct sim_conf got, want;
        if (raft_role(nd->r) != RAFT_LEADER || x->index == 0 ||
            x->index > s->chain_len || s->chain[x->index - 1].term != x->index_term) {
            sim_fail(s, "Snapshot", "node %llu (role %d) sends a snapshot of "
                     "%llu/%llu, which is not a committed entry", id,
                     raft_role(nd->r), sim_ull(x->index), sim_ull(x->index_term));
            break;
        }
        if (!x->last)
            break;
        sim_conf_committed_at(s, x->index, &want);
        if (!sim_conf_parse(x->conf, x->conf_len, &got) ||
            !sim_conf_equal(&got, &want))
            sim_fail(s, "Snapshot", "node %llu sends snapshot %llu with a "
                     "configuration other than the one committed there", id,
                     sim_ull(x->index));
        break;
    }
    case RAFT_MSG_TIMEOUT_NOW: {
        struct sim_conf c;
        sim_conf_of(nd, &c);
        if (raft_role(nd->r) != RAFT_LEADER || !sim_conf_is_voter(&c, m->to))
            sim_fail(s, "Transfer", "node %llu (role %d) sends TIMEOUT_NOW "
                     "to %llu, not a voter of its configuration", id,
                     raft_role(nd->r), sim_ull(m->to));
        break;
    }
    case RAFT_MSG_SNAPSHOT_RESP: {
        /* "Done" needs the snapshot durable, or entries up to its index
         * durable in the log (the node had them committed already). */
        raft_index x = m->u.snapshot_resp.index;
        if (m->u.snapshot_resp.done && dd->snap.index < x &&
            sim_disk_last(dd) < x)
            sim_fail(s, "Durability", "node %llu reports snapshot %llu "
                     "installed with snapshot %llu and log up to %llu "
                     "durable", id, sim_ull(x), sim_ull(dd->snap.index),
                     sim_ull(sim_disk_last(dd)));
        break;
    }
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_HEARTBEAT_RESP:
    case RAFT_MSG_READ:
    case RAFT_MSG_READ_RESP:
        break;
    default:
        if (!m->u.append_resp.success)
            break;
        if (!nd->async && m->u.append_resp.index > nd->log_last)
            sim_fail(s, "Durability", "node %llu acknowledges index %llu "
                     "with only %llu entries persisted", id,
                     sim_ull(m->u.append_resp.index), sim_ull(nd->log_last));
        else if (nd->async && m->u.append_resp.index > sim_disk_last(dd) &&
                 m->u.append_resp.index > dd->snap.index &&
                 m->u.append_resp.index < nd->cut_in_call)
            sim_fail(s, "Durability", "node %llu acknowledges index %llu "
                     "with only %llu entries durable", id,
                     sim_ull(m->u.append_resp.index),
                     sim_ull(sim_disk_last(dd)));
        break;
    }
}

void sim_check_apply(struct sim_node *nd, raft_index index,
                     const struct raft_entry *e)
{
    struct sim *s = nd->sim;
    const struct sim_disk *d = &nd->disk;
    unsigned long long id = sim_ull(nd->id);
    struct raft_status st;
    raft_status(nd->r, &st);
    /* Cheap checks first: the payload is hashed only once the entry is
     * known to be in the log, so a bogus entry cannot crash the simulator. */
    if (index != nd->applied + 1) {
        sim_fail(s, "State Machine Safety", "node %llu applies index %llu "
                 "after index %llu (must be in order, each once)", id,
                 sim_ull(index), sim_ull(nd->applied));
        return;
    }
    if (index > st.commit) {
        sim_fail(s, "State Machine Safety", "node %llu applies index %llu "
                 "above its commit index %llu", id, sim_ull(index),
                 sim_ull(st.commit));
        return;
    }
    /* Applied entries must be durable on the node itself. */
    const struct sim_disk *dd = sim_durable(nd);
    const struct sim_entry *x =
        nd->async ? sim_disk_at(dd, index)
                  : (index <= nd->log_last ? sim_disk_at(d, index) : NULL);
    if (x == NULL || x->term != e->term || x->type != e->type ||
        x->len != e->len || x->hash != sim_entry_hash(e->type, e->buf, e->len)) {
        sim_fail(s, "Durability", "node %llu applies index %llu term %llu, "
                 "which differs from its durable log", id, sim_ull(index),
                 sim_ull(e->term));
        return;
    }
    if (index > s->chain_len) {
        sim_chain_extend(nd, e, x->hash, st.term); /* index == len + 1 */
        return;
    }
    const struct sim_link *c = &s->chain[index - 1];
    if (c->term != e->term || c->hash != x->hash)
        sim_fail(s, "State Machine Safety", "node %llu applies index %llu "
                 "term %llu, but term %llu%s was committed there", id,
                 sim_ull(index), sim_ull(e->term), sim_ull(c->term),
                 c->term == e->term ? " with another payload" : "");
}

/* The disk a node restarts from must be a log the library could write. */
void sim_check_restore(struct sim_node *nd)
{
    struct sim *s = nd->sim;
    const struct sim_disk *d = &nd->disk;
    raft_term prev = 0;
    if (d->vote > s->n)
        sim_fail(s, "Durability", "node %llu persisted a vote for %llu",
                 sim_ull(nd->id), sim_ull(d->vote));
    prev = d->base_term;
    for (size_t i = 0; i < d->len && !s->failed; i++) {
        const struct sim_entry *x = &d->ents[i];
        raft_index idx = d->base + 1 + i;
        if (x->term < prev || x->term > d->term)
            sim_fail(s, "Durability", "node %llu's disk holds term %llu at "
                     "index %llu after term %llu, with term %llu persisted",
                     sim_ull(nd->id), sim_ull(x->term), sim_ull(idx),
                     sim_ull(prev), sim_ull(d->term));
        else if (prev != 0 || idx == 1)
            sim_lm_check(nd, idx, x->term, prev, x->hash, true, "restores");
        prev = x->term;
    }
}

/*
 * Leader Completeness: a leader of `term` holds every entry committed in an
 * earlier term. Index i was committed by the time any index j >= i was, so
 * its commit term is at most the minimum bound over the chain from i on.
 * A bound equal to `term` also counts: nothing commits in a term before its
 * leader exists, and this runs the moment the leader is first seen. Entries
 * committed only in later terms may legitimately be missing (a candidate
 * can win an old term from delayed votes after a newer term committed).
 */
static void sim_check_completeness(struct sim_node *nd, raft_term term)
{
    struct sim *s = nd->sim;
    raft_term bound = UINT64_MAX;
    for (size_t i = s->chain_len; i >= 1; i--) {
        const struct sim_link *c = &s->chain[i - 1];
        bound = c->commit_term < bound ? c->commit_term : bound;
        if (bound > term)
            continue;
        if (!sim_holds(nd, i, c->term)) {
            sim_fail(s, "Leader Completeness", "node %llu leads term %llu but "
                     "lacks index %zu (term %llu), committed by term %llu",
                     sim_ull(nd->id), sim_ull(term), i, sim_ull(c->term),
                     sim_ull(bound));
            return;
        }
    }
}

/*
 * Called whenever a node is seen leading `term` (event callback or status).
 * Election Safety: one leader per term, one incarnation of it. Leader
 * Completeness: its log holds the whole committed chain known so far.
 */
void sim_note_leader(struct sim_node *nd, raft_term term)
{
    struct sim *s = nd->sim;
    if (nd->led_term == term || s->failed)
        return;
    nd->led_term = term;
    struct sim_leader *l =
        sim_grow(s, s->leaders, &s->leaders_cap, term + 1, sizeof *l);
    if (l == NULL)
        return;
    s->leaders = l;
    if (l[term].id == 0) {
        l[term] = (struct sim_leader){nd->id, nd->incarnation};
        s->st.elections++;
        if (nd->id == s->xfer_to && term > s->xfer_term) {
            s->st.transfers_done++; /* the transfer's target took over */
            s->xfer_to = 0;
        }
        sim_tracef(s, "node %llu leads term %llu", sim_ull(nd->id),
                   sim_ull(term));
        sim_nemesis_on_leader(nd, term);
        sim_read_on_leader(nd, term);
    } else if (l[term].id != nd->id || l[term].incarnation != nd->incarnation) {
        sim_fail(s, "Election Safety", "node %llu (incarnation %llu) leads "
                 "term %llu, already led by node %llu (incarnation %llu)",
                 sim_ull(nd->id), sim_ull(nd->incarnation), sim_ull(term),
                 sim_ull(l[term].id), sim_ull(l[term].incarnation));
        return;
    }
    sim_check_completeness(nd, term);
}

void sim_note_proposal(struct sim *s, uint64_t pid, raft_index index,
                       raft_term term, uint64_t hash)
{
    struct sim_proposal *p =
        sim_grow(s, s->props, &s->props_cap, s->props_len + 1, sizeof *p);
    if (p == NULL)
        return;
    s->props = p;
    p[s->props_len++] = (struct sim_proposal){pid, index, term, hash};
}

/* After the heal phase: every node holds the committed chain, and every
 * acknowledged proposal sits at its index with its payload everywhere. */
void sim_check_final(struct sim *s)
{
    struct sim_conf c; /* the members: the others are sent nothing */
    sim_conf_committed_at(s, s->chain_len, &c);
    for (unsigned k = 0; k < s->n && !s->failed; k++) {
        struct sim_node *nd = &s->nodes[k];
        if (c.fl[nd->id] == 0)
            continue;
        for (size_t i = 1; i <= s->chain_len; i++) {
            if (!sim_holds(nd, i, s->chain[i - 1].term)) {
                sim_fail(s, "No committed entry lost", "at the end node %llu "
                         "lacks committed index %zu (term %llu)",
                         sim_ull(nd->id), i, sim_ull(s->chain[i - 1].term));
                return;
            }
        }
    }
    for (size_t j = 0; j < s->props_len && !s->failed; j++) {
        const struct sim_proposal *p = &s->props[j];
        if (p->index > s->chain_len || s->chain[p->index - 1].term != p->term)
            continue; /* never committed: may be gone */
        for (unsigned k = 0; k < s->n; k++) {
            struct raft_entry e;
            if (c.fl[k + 1] == 0)
                continue;
            int rc = raft_entry_at(s->nodes[k].r, p->index, &e);
            if (rc == RAFT_ECOMPACTED)
                continue; /* in the node's snapshot, checked as a state */
            if (rc != 0 || e.term != p->term ||
                sim_entry_hash(e.type, e.buf, e.len) != p->hash) {
                sim_fail(s, "Acknowledged proposals", "proposal %llu "
                         "acknowledged at index %llu term %llu is not there "
                         "on node %u at the end", sim_ull(p->pid),
                         sim_ull(p->index), sim_ull(p->term), k + 1);
                return;
            }
        }
    }
}

void sim_check_free(struct sim *s)
{
    free(s->chain);
    free(s->lm);
    free(s->leaders);
    free(s->props);
    free(s->pid_index);
    free(s->sm_at);
    s->sm_at = NULL;
    s->chain = NULL;
    s->lm = NULL;
    s->leaders = NULL;
    s->props = NULL;
    s->pid_index = NULL;
}

void sim_check_state(struct sim_node *nd, raft_index index, uint64_t state,
                     const char *what)
{
    struct sim *s = nd->sim;
    if (index == 0)
        return;
    if (index > s->sm_len) {
        if (index > s->sm_len + 1) {
            /* Only reachable through a snapshot of a state nobody applied. */
            sim_fail(s, "State Machine Safety", "node %llu %s the state at "
                     "index %llu, which no node has applied (states known up "
                     "to %zu)", sim_ull(nd->id), what, sim_ull(index),
                     s->sm_len);
            return;
        }
        uint64_t *a = sim_grow(s, s->sm_at, &s->sm_cap, s->sm_len + 1, sizeof *a);
        if (a == NULL)
            return;
        s->sm_at = a;
        s->sm_at[s->sm_len++] = state;
        return;
    }
    if (s->sm_at[index - 1] != state)
        sim_fail(s, "State Machine Safety", "node %llu %s a state at index "
                 "%llu that differs from the state another node had there",
                 sim_ull(nd->id), what, sim_ull(index));
}
