/*
 * sim_conf.c - membership: the invariants that hold across configurations.
 * (The membership client that makes the changes is sim_reconf.c.)
 *
 * The configuration of a node is derived from its own log as the
 * simulated disk holds it (the last configuration entry above its
 * snapshot, else the snapshot's, else the bootstrap list), never from the
 * library's answer, and the committed configuration history from the
 * committed chain. After every call on a node: raft_conf and raft_status
 * agree with its log; pre-candidates, candidates and new leaders are
 * voters of it (or of the one before it while it is uncommitted); a
 * leader not a voter of its committed configuration leaves within a
 * bounded number of ticks. Whenever a leader's commit index rises, a
 * majority of each voter group of its configuration holds the entry
 * durably; an election is won only with durable votes of a majority of
 * each voter group. Every configuration entry a leader writes is a legal
 * step from the previous one, written only once that one is committed and
 * an entry of the leader's term is. Snapshots carry the configuration
 * committed at their index.
 */
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

#define SIM_CONF_HEADER 8
#define SIM_CONF_MEMBER 9
#define SIM_CONF_AUTO_LEAVE 1u
#define SIM_VOTING (RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING)

static unsigned long long sim_ull(uint64_t x)
{
    return (unsigned long long)x;
}

/* ---- reading configurations --------------------------------------------- */

static uint64_t sim_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static bool sim_flags_ok(unsigned f)
{
    return f == RAFT_MEMBER_VOTER || f == RAFT_MEMBER_LEARNER ||
           f == RAFT_MEMBER_OUTGOING ||
           f == (RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING) ||
           f == (RAFT_MEMBER_LEARNER | RAFT_MEMBER_OUTGOING);
}

/* The encoding of docs/wire-format.md, read here without the library. */
bool sim_conf_parse(const void *buf, size_t len, struct sim_conf *c)
{
    const uint8_t *b = buf;
    bool voter = false, outgoing = false;
    memset(c, 0, sizeof *c);
    if (buf == NULL || len < SIM_CONF_HEADER || b[0] != 1 ||
        (b[1] & ~SIM_CONF_AUTO_LEAVE) != 0 || b[2] != 0 || b[3] != 0)
        return false;
    uint64_t n = sim_le(b + 4, 4);
    if (n == 0 || n > SIM_MAX_NODES || len != SIM_CONF_HEADER + n * SIM_CONF_MEMBER)
        return false;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *p = b + SIM_CONF_HEADER + i * SIM_CONF_MEMBER;
        uint64_t id = sim_le(p, 8);
        if (id == 0 || id > SIM_MAX_NODES || c->fl[id] != 0 || !sim_flags_ok(p[8]))
            return false;
        c->fl[id] = p[8];
        voter |= (p[8] & RAFT_MEMBER_VOTER) != 0;
        outgoing |= (p[8] & RAFT_MEMBER_OUTGOING) != 0;
    }
    c->auto_leave = (b[1] & SIM_CONF_AUTO_LEAVE) != 0;
    if (!voter || (c->auto_leave && !outgoing))
        return false;
    c->valid = true;
    return true;
}

static void sim_conf_boot(const struct sim *s, struct sim_conf *c)
{
    memset(c, 0, sizeof *c);
    c->valid = true;
    for (unsigned i = 0; i < s->n_boot; i++)
        c->fl[s->voters[i]] = RAFT_MEMBER_VOTER;
}

bool sim_conf_is_voter(const struct sim_conf *c, raft_id id)
{
    return id >= 1 && id <= SIM_MAX_NODES && (c->fl[id] & SIM_VOTING) != 0;
}

bool sim_conf_is_joint(const struct sim_conf *c)
{
    for (unsigned i = 1; i <= SIM_MAX_NODES; i++)
        if (c->fl[i] & RAFT_MEMBER_OUTGOING)
            return true;
    return false;
}

bool sim_conf_equal(const struct sim_conf *a, const struct sim_conf *b)
{
    return a->valid == b->valid && a->auto_leave == b->auto_leave &&
           memcmp(a->fl, b->fl, sizeof a->fl) == 0;
}

/* Members with any of the bits in `mask` (0: every member). */
unsigned sim_conf_count(const struct sim_conf *c, unsigned mask)
{
    unsigned k = 0;
    for (unsigned i = 1; i <= SIM_MAX_NODES; i++)
        k += c->fl[i] != 0 && (mask == 0 || (c->fl[i] & mask) != 0);
    return k;
}

/* "{1 2 3o 4l}": o outgoing, l learner, + voter and outgoing. */
void sim_conf_str(const struct sim_conf *c, char *buf, size_t len)
{
    size_t k = 0;
    if (!c->valid) {
        snprintf(buf, len, "{none}");
        return;
    }
    k += (size_t)snprintf(buf + k, len - k, "{");
    for (unsigned i = 1; i <= SIM_MAX_NODES && k < len; i++) {
        unsigned f = c->fl[i];
        if (f == 0)
            continue;
        k += (size_t)snprintf(buf + k, len - k, " %u%s", i,
                              f == RAFT_MEMBER_VOTER ? ""
                              : f == RAFT_MEMBER_LEARNER ? "l"
                              : f == RAFT_MEMBER_OUTGOING ? "o"
                              : f == (RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING) ? "+"
                                                                                : "lo");
    }
    if (k < len)
        snprintf(buf + k, len - k, " }%s", c->auto_leave ? " auto" : "");
}

void sim_conf_trace(const struct sim *s, const char *what,
                    const struct sim_conf *c)
{
    char b[96];
    if (s->trace == NULL)
        return;
    sim_conf_str(c, b, sizeof b);
    sim_tracef((struct sim *)s, "%s %s", what, b);
}

/* The configuration nd's log implies at `upto` (entries of the node's
 * log, up to log_last, are on its disk view); returns its entry's index. */
static raft_index sim_conf_upto(const struct sim_node *nd, raft_index upto,
                                struct sim_conf *c)
{
    const struct sim_disk *d = &nd->disk;
    for (size_t k = d->n_confs; k > 0; k--) {
        raft_index i = d->confs[k - 1];
        if (i > upto)
            continue;
        if (i <= d->snap.index)
            break;
        const struct sim_entry *x = sim_disk_at(d, i);
        sim_conf_parse(x->buf, x->len, c); /* invalid: valid is false */
        return i;
    }
    if (d->snap.index > 0)
        sim_conf_parse(d->snap.conf, d->snap.conf_len, c);
    else if (nd->joined)
        memset(c, 0, sizeof *c);
    else
        sim_conf_boot(nd->sim, c);
    return 0;
}

/* Checked after every call on every node: the last answer is kept, keyed
 * by where it came from (an entry's index and payload hash, or the
 * snapshot), so that an unchanged log costs no parsing. */
raft_index sim_conf_of(const struct sim_node *nd, struct sim_conf *c)
{
    struct sim_node *m = (struct sim_node *)nd; /* the cache only */
    const struct sim_disk *d = &nd->disk;
    struct sim_conf_key k = {0, 0, 0};
    for (size_t j = d->n_confs; j > 0; j--) {
        raft_index i = d->confs[j - 1];
        if (i > nd->log_last)
            continue;
        if (i > d->snap.index)
            k = (struct sim_conf_key){i, sim_disk_at(d, i)->hash, 0};
        break;
    }
    if (k.index == 0)
        k = (struct sim_conf_key){0, d->snap.index, d->snap.term};
    if (m->conf_cached && memcmp(&k, &m->conf_key, sizeof k) == 0) {
        *c = m->conf_cache;
        return k.index;
    }
    raft_index ci = sim_conf_upto(nd, nd->log_last, c);
    m->conf_key = k;
    m->conf_cache = *c;
    m->conf_cached = true;
    return ci;
}

/*
 * May nd campaign (or have won) with its log as it is? A voter of its
 * configuration may. So may a voter of the configuration before it while
 * the one in force is not known to be committed: that entry may yet be
 * rolled back, and a leader that removed itself and lost its leadership
 * before the change committed may hold the only log that can win (thesis
 * 4.2.2: until the change commits, the old voters run the cluster). Votes
 * are counted in the configuration in force either way.
 */
static bool sim_conf_may_campaign(const struct sim_node *nd, raft_index commit)
{
    struct sim_conf c;
    raft_index ci = sim_conf_of(nd, &c);
    if (sim_conf_is_voter(&c, nd->id))
        return true;
    if (ci == 0 || ci <= commit)
        return false;
    sim_conf_upto(nd, ci - 1, &c);
    return sim_conf_is_voter(&c, nd->id);
}

/* The configuration committed at x: the last committed configuration
 * entry at or below x, or the bootstrap list. */
void sim_conf_committed_at(const struct sim *s, raft_index x, struct sim_conf *c)
{
    size_t lo = 0, hi = s->cconf_len; /* first entry above x */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->cconf[mid].index <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        sim_conf_boot(s, c);
    else
        *c = s->cconf[lo - 1].conf;
}

/* The first index of term t in nd's log, whose entries from there to
 * log_last all have term t (a leader's own term); base + 1 if the first
 * of them is compacted away. Terms never decrease along a log. */
raft_index sim_conf_first_of_term(const struct sim_node *nd, raft_term t)
{
    const struct sim_disk *d = &nd->disk;
    raft_index lo = d->base + 1, hi = nd->log_last + 1;
    while (lo < hi) {
        raft_index mid = lo + (hi - lo) / 2;
        if (sim_disk_term(d, mid) < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- teardown ---------------------------------------------------------------- */

void sim_conf_free(struct sim *s)
{
    free(s->cconf);
    s->cconf = NULL;
    s->cconf_len = s->cconf_cap = 0;
    for (unsigned i = 0; i < SIM_MAX_NODES; i++) {
        free(s->nodes[i].vote_hist);
        s->nodes[i].vote_hist = NULL;
        s->nodes[i].vote_hist_cap = 0;
    }
}

/* ---- committed history and votes ------------------------------------------- */

void sim_conf_chain(struct sim *s, raft_index index, const struct raft_entry *e)
{
    struct sim_conf c;
    if (index == 1 && e->type != RAFT_ENTRY_CONFIG) {
        sim_fail(s, "Configuration", "index 1 committed with type %d, not "
                 "the bootstrap configuration", e->type);
        return;
    }
    if (e->type != RAFT_ENTRY_CONFIG)
        return;
    if (!sim_conf_parse(e->buf, e->len, &c)) {
        sim_fail(s, "Configuration", "index %llu committed a configuration "
                 "the simulator cannot read", sim_ull(index));
        return;
    }
    if (index == 1) {
        struct sim_conf b;
        sim_conf_boot(s, &b);
        if (!sim_conf_equal(&b, &c)) {
            sim_fail(s, "Configuration", "index 1 committed a configuration "
                     "other than the bootstrap list");
            return;
        }
    }
    struct sim_cconf *p =
        sim_grow(s, s->cconf, &s->cconf_cap, s->cconf_len + 1, sizeof *p);
    if (p == NULL)
        return;
    s->cconf = p;
    p[s->cconf_len++] = (struct sim_cconf){index, c};
    s->st.conf_committed++;
    s->st.joint_committed += sim_conf_is_joint(&c);
    s->st.voter_sizes |= 1u << sim_conf_count(&c, RAFT_MEMBER_VOTER);
    sim_conf_trace(s, "  committed configuration", &c);
}

void sim_conf_note_vote(struct sim_node *nd, raft_term term, raft_id vote)
{
    struct sim *s = nd->sim;
    if (vote == 0)
        return;
    raft_id *h = sim_grow(s, nd->vote_hist, &nd->vote_hist_cap, (size_t)term + 1,
                          sizeof *h);
    if (h == NULL)
        return;
    nd->vote_hist = h;
    if (h[term] != 0 && h[term] != vote)
        sim_fail(s, "Election Safety", "node %llu made durable votes for "
                 "%llu and %llu in term %llu", sim_ull(nd->id),
                 sim_ull(h[term]), sim_ull(vote), sim_ull(term));
    h[term] = vote;
}

/* Does group `bit` of c have a majority among the ids with have[id]?
 * An empty group constrains nothing. */
static bool sim_conf_majority(const struct sim_conf *c, unsigned bit,
                              const bool *have, unsigned *got, unsigned *of)
{
    unsigned n = 0, k = 0;
    for (unsigned i = 1; i <= SIM_MAX_NODES; i++) {
        if (c->fl[i] & bit) {
            n++;
            k += have[i];
        }
    }
    *got = k;
    *of = n;
    return n == 0 || k >= n / 2 + 1;
}

static bool sim_conf_quorum(struct sim *s, const struct sim_conf *c,
                            const bool *have, const char *property,
                            const char *what)
{
    unsigned got, of;
    char b[96];
    for (unsigned bit = RAFT_MEMBER_VOTER; bit <= RAFT_MEMBER_OUTGOING; bit <<= 1) {
        if (!sim_conf_majority(c, bit, have, &got, &of) ||
            (bit == RAFT_MEMBER_VOTER && of == 0)) {
            sim_conf_str(c, b, sizeof b);
            sim_fail(s, property, "%s: only %u of the %u %s voters of %s", what,
                     got, of, bit == RAFT_MEMBER_VOTER ? "incoming" : "outgoing",
                     b);
            return false;
        }
    }
    return true;
}

void sim_conf_check_won(struct sim_node *nd, raft_term term)
{
    struct sim *s = nd->sim;
    struct sim_conf c;
    bool have[SIM_MAX_NODES + 1] = {false};
    char what[128];
    struct raft_status st;
    raft_status(nd->r, &st);
    sim_conf_of(nd, &c);
    if (!sim_conf_may_campaign(nd, st.commit)) {
        char b[96];
        sim_conf_str(&c, b, sizeof b);
        sim_fail(s, "Membership", "node %llu won term %llu but is not a "
                 "voter of its configuration %s (nor of the one before, "
                 "uncommitted)", sim_ull(nd->id), sim_ull(term), b);
        return;
    }
    for (unsigned i = 1; i <= s->n; i++) {
        const struct sim_node *v = &s->nodes[i - 1];
        have[i] = term < v->vote_hist_cap && v->vote_hist[term] == nd->id;
    }
    snprintf(what, sizeof what, "node %llu won term %llu with durable votes",
             sim_ull(nd->id), sim_ull(term));
    sim_conf_quorum(s, &c, have, "Election quorum", what);
}

void sim_conf_check_commit(struct sim_node *nd, raft_index c)
{
    struct sim *s = nd->sim;
    struct raft_entry e;
    struct sim_conf conf;
    bool have[SIM_MAX_NODES + 1] = {false};
    char what[160];
    if (raft_entry_at(nd->r, c, &e) != 0)
        return; /* the status check reports a commit past the log */
    sim_conf_of(nd, &conf);
    for (unsigned i = 1; i <= s->n; i++) {
        const struct sim_disk *dd = sim_durable(&s->nodes[i - 1]);
        /* A durable snapshot covering c holds it too (it covers only
         * committed entries). */
        have[i] = dd->snap.index >= c || sim_disk_term(dd, c) == e.term;
    }
    snprintf(what, sizeof what, "leader %llu commits index %llu (term %llu) "
             "held durably", sim_ull(nd->id), sim_ull(c), sim_ull(e.term));
    sim_conf_quorum(s, &conf, have, "Commit quorum", what);
}

/* ---- per-node checks ---------------------------------------------------------- */

/* raft_conf's answer as a sim_conf (auto_leave is not part of it). */
static bool sim_conf_reported(struct sim_node *nd, struct sim_conf *c)
{
    struct raft_member m[SIM_MAX_NODES + 1];
    size_t n = 0;
    memset(c, 0, sizeof *c);
    int rc = raft_conf(nd->r, m, SIM_MAX_NODES + 1, &n);
    if (rc != 0) {
        sim_fail(nd->sim, "Configuration", "raft_conf on node %llu returned "
                 "%s (%zu members)", sim_ull(nd->id), raft_strerror(rc), n);
        return false;
    }
    for (size_t k = 0; k < n; k++) {
        if (m[k].id == 0 || m[k].id > SIM_MAX_NODES || c->fl[m[k].id] != 0 ||
            !sim_flags_ok(m[k].flags)) {
            sim_fail(nd->sim, "Configuration", "raft_conf on node %llu "
                     "reports member %llu with flags %u", sim_ull(nd->id),
                     sim_ull(m[k].id), m[k].flags);
            return false;
        }
        c->fl[m[k].id] = (uint8_t)m[k].flags;
    }
    c->valid = n > 0;
    return true;
}

/* raft_progress on leader nd: one entry per member of its configuration
 * c, with its flags, then the leader itself if it is not a member, then
 * the members a change removed (flags 0) until it commits; the leader's
 * own entry is its durable index. */
static void sim_conf_check_progress(struct sim_node *nd,
                                    const struct raft_status *st,
                                    const struct sim_conf *c)
{
    struct sim *s = nd->sim;
    struct raft_progress p;
    bool seen[SIM_MAX_NODES + 1] = {false};
    unsigned members = sim_conf_count(c, 0);
    unsigned want = members + (c->fl[nd->id] == 0);
    unsigned k;
    const char *why = NULL;
    for (k = 0; why == NULL && raft_progress(nd->r, k, &p) == 0; k++) {
        if (p.id == 0 || p.id > SIM_MAX_NODES || seen[p.id])
            why = "an unknown or repeated id";
        else if (p.self != (p.id == nd->id))
            why = "the self flag wrong";
        else if (p.flags != c->fl[p.id])
            why = "flags other than the configuration's";
        else if (k < members && p.flags == 0)
            why = "a non-member among the members";
        else if (k >= members && p.flags != 0)
            why = "a member after the members";
        else if (p.match > st->last_index)
            why = "a match past the leader's log";
        else if (p.self && p.match > sim_disk_last(sim_durable(nd)) &&
                 p.match > sim_durable(nd)->snap.index)
            why = "the leader's own match above its durable log";
        if (p.id >= 1 && p.id <= SIM_MAX_NODES)
            seen[p.id] = true;
    }
    if (why == NULL && (k < want || (c->fl[nd->id] == 0 && !seen[nd->id])))
        why = "not every member";
    if (why != NULL)
        sim_fail(s, "Progress", "raft_progress on leader %llu: %s (entry "
                 "%u; %u members)", sim_ull(nd->id), why, k, members);
}

void sim_conf_check_node(struct sim_node *nd, const struct raft_status *st)
{
    struct sim *s = nd->sim;
    struct sim_conf c, rep;
    char b1[96], b2[96];
    unsigned long long id = sim_ull(nd->id);
    raft_index ci = sim_conf_of(nd, &c);
    bool voter = sim_conf_is_voter(&c, nd->id);
    bool committed = ci <= st->commit;
    if (!s->opts->no_conf_compare) {
        if (!sim_conf_reported(nd, &rep))
            return;
        rep.auto_leave = c.auto_leave;
        bool idx_ok = ci > 0 ? st->conf_index == ci
                             : st->conf_index <= nd->disk.snap.index;
        if (!sim_conf_equal(&rep, &c) || st->n_members != sim_conf_count(&c, 0) ||
            st->n_voters != sim_conf_count(&c, RAFT_MEMBER_VOTER) ||
            st->joint != sim_conf_is_joint(&c) || st->is_voter != voter ||
            !idx_ok) {
            sim_conf_str(&rep, b1, sizeof b1);
            sim_conf_str(&c, b2, sizeof b2);
            sim_fail(s, "Configuration", "node %llu reports configuration %s "
                     "(%zu members, %zu voters, joint %d, voter %d, entry "
                     "%llu); its log implies %s (entry %llu, snapshot %llu)",
                     id, b1, st->n_members, st->n_voters, (int)st->joint,
                     (int)st->is_voter, sim_ull(st->conf_index), b2,
                     sim_ull(ci), sim_ull(nd->disk.snap.index));
            return;
        }
    }
    if (!sim_conf_equal(&c, &nd->conf_seen) && !nd->conf_event &&
        !s->opts->no_conf_compare) {
        sim_conf_str(&nd->conf_seen, b1, sizeof b1);
        sim_conf_str(&c, b2, sizeof b2);
        sim_fail(s, "Events", "node %llu's configuration went from %s to %s "
                 "without a RAFT_EVENT_CONF", id, b1, b2);
        return;
    }
    nd->conf_seen = c;
    nd->conf_event = false;
    if ((st->role == RAFT_PRECANDIDATE || st->role == RAFT_CANDIDATE) &&
        !voter && !sim_conf_may_campaign(nd, st->commit)) {
        sim_conf_str(&c, b1, sizeof b1);
        sim_fail(s, "Membership", "node %llu campaigns (role %d, term %llu) "
                 "but is not a voter of its configuration %s (entry %llu), "
                 "nor of the one before while that is uncommitted", id,
                 st->role, sim_ull(st->term), b1, sim_ull(ci));
        return;
    }
    if (st->role == RAFT_LEADER && !s->opts->no_conf_compare)
        sim_conf_check_progress(nd, st, &c);
    if (s->failed)
        return;
    if (st->role != RAFT_LEADER) {
        nd->xfer = 0; /* a transfer ends with the leadership */
        nd->lead_removed = 0;
        nd->removed_leading = false;
        return;
    }
    /* Thesis 4.2.2: a leader that its committed configuration leaves out
     * of the voters hands over (at most an election timeout, twice if a
     * transfer the host asked for was under way) and steps down. */
    nd->removed_leading = !voter && committed && !sim_conf_is_joint(&c);
    if (!nd->removed_leading) {
        nd->lead_removed = 0;
    } else if (nd->lead_removed > 2 * (uint64_t)nd->cfg.election_ticks + 4) {
        sim_conf_str(&c, b1, sizeof b1);
        sim_fail(s, "Membership", "node %llu still leads term %llu %llu "
                 "ticks after its configuration %s (entry %llu) committed "
                 "without it as a voter", id, sim_ull(st->term),
                 sim_ull(nd->lead_removed), b1, sim_ull(ci));
    }
}

/* A leader's new configuration entry must be a legal step from the one in
 * force, taken only once that one is committed and the leader's term has
 * an entry committed (thesis 4.1, 4.3 and the errata's safety rule). */
static void sim_conf_check_step_to(struct sim_node *nd, raft_index idx,
                                   const struct sim_conf *prev,
                                   raft_index prev_idx,
                                   const struct sim_conf *next)
{
    struct sim *s = nd->sim;
    struct raft_status st;
    char b1[96], b2[96];
    const char *why = NULL;
    raft_status(nd->r, &st);
    sim_conf_str(prev, b1, sizeof b1);
    sim_conf_str(next, b2, sizeof b2);
    if (prev_idx > st.commit)
        why = "the previous configuration entry is not committed";
    else if (st.commit < sim_conf_first_of_term(nd, st.term))
        why = "no entry of the leader's term is committed";
    else if (sim_conf_is_joint(prev)) {
        struct sim_conf want = *prev;
        want.auto_leave = false;
        for (unsigned i = 1; i <= SIM_MAX_NODES; i++)
            want.fl[i] &= (uint8_t)~RAFT_MEMBER_OUTGOING;
        if (!sim_conf_equal(&want, next))
            why = "a joint configuration may only be left";
    } else if (sim_conf_is_joint(next)) {
        for (unsigned i = 1; i <= SIM_MAX_NODES && why == NULL; i++)
            if (((next->fl[i] & RAFT_MEMBER_OUTGOING) != 0) !=
                ((prev->fl[i] & RAFT_MEMBER_VOTER) != 0))
                why = "the outgoing voters are not the previous voters";
    } else {
        unsigned changed = 0;
        for (unsigned i = 1; i <= SIM_MAX_NODES; i++)
            changed += ((next->fl[i] & RAFT_MEMBER_VOTER) != 0) !=
                       ((prev->fl[i] & RAFT_MEMBER_VOTER) != 0);
        if (changed > 1)
            why = "more than one voter changes outside joint consensus";
    }
    if (why != NULL)
        sim_fail(s, "Configuration change", "leader %llu (term %llu, commit "
                 "%llu) writes %s at %llu after %s at %llu: %s",
                 sim_ull(nd->id), sim_ull(st.term), sim_ull(st.commit), b2,
                 sim_ull(idx), b1, sim_ull(prev_idx), why);
}

void sim_conf_check_append(struct sim_node *nd, raft_index first,
                           const struct raft_entry *e, size_t n)
{
    struct sim *s = nd->sim;
    for (size_t k = 0; k < n && !s->failed; k++) {
        struct sim_conf next, prev;
        if (e[k].type != RAFT_ENTRY_CONFIG)
            continue;
        if (!sim_conf_parse(e[k].buf, e[k].len, &next)) {
            sim_fail(s, "Configuration change", "leader %llu writes an "
                     "unreadable configuration at %llu", sim_ull(nd->id),
                     sim_ull(first + k));
            return;
        }
        if (first + k == 1) {
            sim_conf_boot(s, &prev);
            if (!sim_conf_equal(&prev, &next))
                sim_fail(s, "Configuration change", "leader %llu writes a "
                         "configuration other than the bootstrap list at 1",
                         sim_ull(nd->id));
            continue;
        }
        if (k > 0) { /* never: configurations are proposed one by one */
            sim_fail(s, "Configuration change", "leader %llu writes a "
                     "configuration at %llu within a batch", sim_ull(nd->id),
                     sim_ull(first + k));
            return;
        }
        raft_index pi = sim_conf_of(nd, &prev);
        sim_conf_check_step_to(nd, first + k, &prev, pi, &next);
        s->st.conf_written++;
    }
}

void sim_conf_on_event(struct sim_node *nd, const struct raft_event *ev)
{
    struct sim *s = nd->sim;
    struct sim_conf c;
    switch (ev->type) {
    case RAFT_EVENT_CONF:
        nd->conf_event = true;
        break;
    case RAFT_EVENT_TRANSFER_ABORTED:
        nd->xfer = 0;
        s->st.transfers_aborted++;
        break;
    case RAFT_EVENT_STEP_DOWN:
        if (ev->error != RAFT_EREMOVED)
            break;
        s->st.removed_leaders++;
        sim_conf_of(nd, &c);
        if (sim_conf_is_voter(&c, nd->id))
            sim_fail(s, "Membership", "node %llu stepped down as removed but "
                     "is a voter of its configuration", sim_ull(nd->id));
        break;
    default:
        break;
    }
}

/* Requests a node takes from anyone (raft.h: from a leader or candidate
 * of a configuration it has not seen yet; a leader that removed itself
 * hands over with TIMEOUT_NOW). The library also takes READ_RESP, which
 * raft.h lists among the replies it refuses. */
static bool sim_conf_from_anyone(int type)
{
    return type == RAFT_MSG_APPEND || type == RAFT_MSG_VOTE ||
           type == RAFT_MSG_PREVOTE || type == RAFT_MSG_SNAPSHOT ||
           type == RAFT_MSG_HEARTBEAT || type == RAFT_MSG_READ_RESP ||
           type == RAFT_MSG_TIMEOUT_NOW;
}

int sim_conf_check_step(struct sim_node *nd, const struct raft_msg *m,
                        bool was_member, bool was_leader, int rc)
{
    struct sim *s = nd->sim;
    bool refusable = !was_member && !sim_conf_from_anyone(m->type);
    /* A read request from a non-member may be refused, or answered (with
     * a refusal: the leader sends it nothing to apply). */
    if (rc != RAFT_ENOTMEMBER && m->type == RAFT_MSG_READ)
        refusable = false;
    if (rc == RAFT_ENOTMEMBER) {
        if (!refusable) {
            sim_fail(s, "Membership", "node %llu refused a type-%d message "
                     "from %llu as from a non-member (member: %d)",
                     sim_ull(nd->id), m->type, sim_ull(m->from),
                     (int)was_member);
            return rc;
        }
        s->st.not_member++;
        return rc;
    }
    /* A leader keeps the slots of members it just removed until the
     * change commits, and takes their replies meanwhile. */
    if (refusable && !was_leader && rc != RAFT_ENOMEM)
        sim_fail(s, "Membership", "node %llu took a type-%d message from "
                 "%llu, not a member of its configuration (returned %s)",
                 sim_ull(nd->id), m->type, sim_ull(m->from), raft_strerror(rc));
    return rc;
}

/* ETRANSFER is due while a transfer the host asked for is under way, and
 * allowed from a leader that is no voter of its configuration (it may be
 * handing over on its own). */
bool sim_conf_may_transfer(struct sim_node *nd,
                                  const struct raft_status *before)
{
    struct sim_conf c;
    sim_conf_of(nd, &c);
    return before->role == RAFT_LEADER &&
           (nd->xfer != 0 || !sim_conf_is_voter(&c, nd->id));
}

void sim_conf_check_etransfer(struct sim_node *nd, const char *call, int rc,
                              const struct raft_status *before)
{
    struct sim *s = nd->sim;
    bool due = before->role == RAFT_LEADER && nd->xfer != 0;
    if (rc == RAFT_ETRANSFER && !sim_conf_may_transfer(nd, before))
        sim_fail(s, "Transfer", "%s on leader %llu returned RAFT_ETRANSFER "
                 "with no transfer under way", call, sim_ull(nd->id));
    else if (due && rc != RAFT_ETRANSFER)
        sim_fail(s, "Transfer", "%s on leader %llu returned %s while it "
                 "transfers leadership to %llu", call, sim_ull(nd->id),
                 raft_strerror(rc), sim_ull(nd->xfer));
}

