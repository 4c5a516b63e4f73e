/*
 * conf.c - configurations and membership changes (Raft thesis ch. 4; the
 * joint consensus of 4.3, generalized to any set of changes at once): the
 * encoding of a configuration, the changes a leader accepts, and the
 * node's member slots, rebuilt whenever the configuration in force
 * changes.
 */
#include "conf.h"

#include <string.h>

#include "heap.h"
#include "quorum.h"
#include "replication.h"

/* ---- encoding ---------------------------------------------------------- */

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static raft_id member_id(const uint8_t *buf, size_t i)
{
    return get64(buf + RAFT__CONF_HEADER + i * RAFT__CONF_MEMBER);
}

static uint8_t member_flags(const uint8_t *buf, size_t i)
{
    return buf[RAFT__CONF_HEADER + i * RAFT__CONF_MEMBER + 8];
}

/* The combinations a member's flags may take. */
static bool flags_ok(unsigned f)
{
    return f == RAFT_MEMBER_VOTER || f == RAFT_MEMBER_LEARNER ||
           f == RAFT_MEMBER_OUTGOING ||
           f == (RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING) ||
           f == (RAFT_MEMBER_LEARNER | RAFT_MEMBER_OUTGOING);
}

int raft__conf_check(const void *buf, size_t len, size_t *n)
{
    const uint8_t *b = buf;
    size_t count, i, j;
    bool voter = false, outgoing = false;
    if (buf == NULL || len < RAFT__CONF_HEADER || b[0] != 1 ||
        (b[1] & ~RAFT__CONF_AUTO_LEAVE) != 0 || b[2] != 0 || b[3] != 0) {
        return RAFT_EFORMAT;
    }
    count = get32(b + 4);
    if (count == 0 || count > RAFT_MAX_MEMBERS ||
        len != RAFT__CONF_HEADER + count * RAFT__CONF_MEMBER) {
        return RAFT_EFORMAT;
    }
    /* Bounded by RAFT_MAX_MEMBERS squared. */
    for (i = 0; i < count; i++) {
        raft_id id = member_id(b, i);
        unsigned f = member_flags(b, i);
        if (id == 0 || !flags_ok(f)) {
            return RAFT_EFORMAT;
        }
        voter |= (f & RAFT_MEMBER_VOTER) != 0;
        outgoing |= (f & RAFT_MEMBER_OUTGOING) != 0;
        for (j = 0; j < i; j++) {
            if (member_id(b, j) == id) {
                return RAFT_EFORMAT;
            }
        }
    }
    /* At least one voter; leaving automatically means a joint one. */
    if (!voter || ((b[1] & RAFT__CONF_AUTO_LEAVE) != 0 && !outgoing)) {
        return RAFT_EFORMAT;
    }
    *n = count;
    return 0;
}

static size_t encode(uint8_t *out, const raft_id *ids, const uint8_t *flags,
                     size_t n, bool auto_leave)
{
    size_t i, k = 0;
    uint8_t *p = out + RAFT__CONF_HEADER;
    for (i = 0; i < n; i++) {
        if (flags[i] != 0) {
            put64(p, ids[i]);
            p[8] = flags[i];
            p += RAFT__CONF_MEMBER;
            k++;
        }
    }
    out[0] = 1;
    out[1] = auto_leave ? RAFT__CONF_AUTO_LEAVE : 0;
    out[2] = 0;
    out[3] = 0;
    put32(out + 4, (uint32_t)k);
    return RAFT__CONF_HEADER + k * RAFT__CONF_MEMBER;
}

int raft_conf_decode(const void *buf, size_t len, struct raft_member *out,
                     size_t cap, size_t *n)
{
    size_t count, i;
    int rc;
    if (buf == NULL || n == NULL || (out == NULL && cap > 0)) {
        return RAFT_EINVAL;
    }
    rc = raft__conf_check(buf, len, &count);
    if (rc != 0) {
        return rc;
    }
    *n = count;
    if (count > cap) {
        return RAFT_ENOBUFS;
    }
    for (i = 0; i < count; i++) {
        out[i].id = member_id(buf, i);
        out[i].flags = member_flags(buf, i);
    }
    return 0;
}

/* ---- slots ------------------------------------------------------------- */

/* Outgoing queue slots. The queue holds what one call sends apart from
 * AppendEntries with entries (heartbeats, votes, replies: a few per peer)
 * and, in asynchronous mode, replies waiting for a write, of which
 * coalescing keeps about one per peer. */
#define OUT_PER_PEER 4u
#define OUT_EXTRA 8u

/* Grow one slot array from `old` slots of `size` bytes to `cap` (copying
 * the first `keep`). NULL on failure, the old array untouched. */
static void *grow(const struct raft_allocator *a, void *old, size_t keep,
                  size_t cap, size_t size)
{
    void *p;
    if (size != 0 && cap > SIZE_MAX / size) {
        return NULL; /* only where size_t is narrower than 64 bits */
    }
    p = raft__heap_alloc(a, cap * size);
    if (p != NULL && keep > 0) {
        memcpy(p, old, keep * size);
    }
    return p;
}

/* The arrays with one element per slot (and the outgoing queue, sized
 * by the members), handled together. */
struct slot_arrays {
    struct raft__progress *prs, *prs_spare;
    struct raft__infl *infl, *infl_spare;
    uint8_t *mflags, *mflags_spare, *votes;
    raft_index *scratch, *scratch2;
    struct raft__out *out;
};

static void arrays_free(const struct raft_allocator *a, const struct slot_arrays *s)
{
    raft__heap_free(a, s->prs);
    raft__heap_free(a, s->prs_spare);
    raft__heap_free(a, s->infl);
    raft__heap_free(a, s->infl_spare);
    raft__heap_free(a, s->mflags);
    raft__heap_free(a, s->mflags_spare);
    raft__heap_free(a, s->votes);
    raft__heap_free(a, s->scratch);
    raft__heap_free(a, s->scratch2);
    raft__heap_free(a, s->out);
}

/* Swap the node's arrays with *s. */
static void arrays_swap(struct raft *r, struct slot_arrays *s)
{
    struct slot_arrays old = {r->prs, r->prs_spare, r->infl_store,
                              r->infl_spare, r->mflags, r->mflags_spare,
                              r->vote_scratch, r->match_scratch,
                              r->match_scratch2, r->out};
    r->prs = s->prs;
    r->prs_spare = s->prs_spare;
    r->infl_store = s->infl;
    r->infl_spare = s->infl_spare;
    r->mflags = s->mflags;
    r->mflags_spare = s->mflags_spare;
    r->vote_scratch = s->votes;
    r->match_scratch = s->scratch;
    r->match_scratch2 = s->scratch2;
    r->out = s->out;
    *s = old;
}

void raft__conf_free(struct raft *r)
{
    struct slot_arrays none;
    memset(&none, 0, sizeof(none));
    arrays_swap(r, &none);
    arrays_free(&r->cfg.allocator, &none);
    raft__heap_free(&r->cfg.allocator, r->base_conf);
    r->base_conf = NULL;
}

/* Room for `cap` slots. */
static int reserve_slots(struct raft *r, size_t cap)
{
    const struct raft_allocator *a = &r->cfg.allocator;
    size_t w = r->cfg.max_inflight;
    size_t i;
    size_t out_cap = OUT_PER_PEER * (cap - 1) + OUT_EXTRA;
    struct slot_arrays s;
    if (cap <= r->slots_cap) {
        return 0;
    }
    if (cap > SIZE_MAX / w) {
        return RAFT_ENOMEM; /* cap * w below cannot be represented */
    }
    s.prs = grow(a, r->prs, r->n, cap, sizeof(*s.prs));
    s.prs_spare = grow(a, NULL, 0, cap, sizeof(*s.prs_spare));
    s.infl = grow(a, r->infl_store, r->n * w, cap * w, sizeof(*s.infl));
    s.infl_spare = grow(a, NULL, 0, cap * w, sizeof(*s.infl_spare));
    s.mflags = grow(a, r->mflags, r->n, cap, 1);
    s.mflags_spare = grow(a, NULL, 0, cap, 1);
    s.votes = grow(a, NULL, 0, cap, 1);
    s.scratch = grow(a, NULL, 0, cap, sizeof(*s.scratch));
    s.scratch2 = grow(a, NULL, 0, cap, sizeof(*s.scratch2));
    s.out = grow(a, r->out, r->out_len, out_cap, sizeof(*s.out));
    if (s.prs == NULL || s.prs_spare == NULL || s.infl == NULL ||
        s.infl_spare == NULL || s.mflags == NULL || s.mflags_spare == NULL ||
        s.votes == NULL || s.scratch == NULL || s.scratch2 == NULL ||
        s.out == NULL) {
        arrays_free(a, &s);
        return RAFT_ENOMEM;
    }
    for (i = 0; i < r->n; i++) {
        s.prs[i].infl = s.infl + i * w;
    }
    arrays_swap(r, &s);
    arrays_free(a, &s); /* the old ones */
    r->out_cap = out_cap;
    r->slots_cap = cap;
    return 0;
}

int raft__conf_reserve(struct raft *r, size_t n)
{
    return reserve_slots(r, n + 1); /* and this node's, if not a member */
}

int raft__conf_dup(struct raft *r, const void *buf, size_t len, uint8_t **out)
{
    uint8_t *p = NULL;
    if (len > 0) {
        p = raft__heap_alloc(&r->cfg.allocator, len);
        if (p == NULL) {
            return RAFT_ENOMEM;
        }
        memcpy(p, buf, len);
    }
    *out = p;
    return 0;
}

void raft__conf_adopt_base(struct raft *r, uint8_t *p, size_t len)
{
    raft__heap_free(&r->cfg.allocator, r->base_conf);
    r->base_conf = p;
    r->base_conf_len = len;
}

static int set_base(struct raft *r, const void *buf, size_t len)
{
    uint8_t *p;
    int rc = raft__conf_dup(r, buf, len, &p);
    if (rc == 0) {
        raft__conf_adopt_base(r, p, len);
    }
    return rc;
}

int raft__conf_set_base(struct raft *r, const void *buf, size_t len)
{
    size_t n;
    if (buf == r->base_conf) {
        return 0;
    }
    if (len > 0) {
        int rc = raft__conf_check(buf, len, &n);
        if (rc != 0) {
            return rc;
        }
        rc = raft__conf_reserve(r, n);
        if (rc != 0) {
            return rc;
        }
    }
    return set_base(r, buf, len);
}

int raft__conf_set_base_voters(struct raft *r, const raft_id *voters, size_t n)
{
    uint8_t buf[RAFT__CONF_MAX_BYTES];
    uint8_t flags[RAFT_MAX_MEMBERS];
    size_t len;
    memset(flags, RAFT_MEMBER_VOTER, n);
    len = encode(buf, voters, flags, n, false);
    return raft__conf_set_base(r, buf, len);
}

/* Fill slot k of the spare arrays for member `id`: its progress carried
 * over from the configuration in force, or fresh. A member removed lately
 * and added back starts afresh: the id may now name a new, empty node (a
 * host replacing a machine), which holds nothing the old match says. */
static void place(struct raft *r, size_t k, raft_id id, uint8_t flags)
{
    size_t w = r->cfg.max_inflight;
    struct raft__progress *np = &r->prs_spare[k];
    struct raft__infl *ring = r->infl_spare + k * w;
    const struct raft__progress *old = raft__member(r, id);
    r->mflags_spare[k] = flags;
    if (old != NULL && flags != 0 && id != r->cfg.id &&
        r->mflags[old - r->prs] == 0) {
        old = NULL;
    }
    if (old != NULL) {
        *np = *old;
        memcpy(ring, old->infl, w * sizeof(*ring));
        np->infl = ring;
        return;
    }
    memset(np, 0, sizeof(*np));
    np->id = id;
    np->infl = ring;
    raft__progress_reset(np, raft__log_last(&r->log));
    np->heard = r->now; /* CheckQuorum: one timeout of grace */
    if (r->role == RAFT_LEADER && id != r->cfg.id) {
        np->dirty = true; /* a new member: start sending it the log */
        r->any_dirty = true;
    }
}

/* Is `id` among the members encoded in buf (n of them)? */
static bool has_member(const uint8_t *buf, size_t n, raft_id id)
{
    size_t k;
    for (k = 0; k < n; k++) {
        if (member_id(buf, k) == id) {
            return true;
        }
    }
    return false;
}

/* Make buf[0..len) (checked; len 0: no configuration) the configuration
 * in force, from the entry at `index`. Room was reserved. A leader keeps
 * the slots of members the change removes (flags 0, "departing") when
 * `departing` is set and there is room: it goes on sending them the log
 * until an election timeout after the change committed, so that they
 * learn they were removed and do not campaign (thesis 4.2.2);
 * raft__conf_tick drops them then. */
static void install(struct raft *r, const uint8_t *buf, size_t len,
                    raft_index index, bool departing)
{
    size_t n = len == 0 ? 0 : get32(buf + 4);
    size_t k, self = SIZE_MAX, voters = 0, slots;
    bool joint = false, simple = true;
    void *t;
    /* Bounded by n * slots, both at most RAFT_MAX_MEMBERS + 1. */
    for (k = 0; k < n; k++) {
        raft_id id = member_id(buf, k);
        uint8_t f = member_flags(buf, k);
        place(r, k, id, f);
        if (id == r->cfg.id) {
            self = k;
        }
        voters += (f & RAFT_MEMBER_VOTER) != 0;
        joint |= (f & RAFT_MEMBER_OUTGOING) != 0;
        simple &= f == RAFT_MEMBER_VOTER;
    }
    slots = n;
    if (self == SIZE_MAX) {
        self = n;
        place(r, n, r->cfg.id, 0);
        simple = false;
        slots++;
    }
    r->n_departing = 0;
    r->departing_ticks = 0;
    if (departing && r->role == RAFT_LEADER) {
        /* Bounded by the old slots (RAFT_MAX_MEMBERS + 1) times n. */
        for (k = 0; k < r->n && slots < r->slots_cap; k++) {
            if (k != r->self && !has_member(buf, n, r->prs[k].id)) {
                place(r, slots++, r->prs[k].id, 0);
                r->n_departing++;
                simple = false;
            }
        }
    }
    t = r->prs, r->prs = r->prs_spare, r->prs_spare = t;
    t = r->infl_store, r->infl_store = r->infl_spare, r->infl_spare = t;
    t = r->mflags, r->mflags = r->mflags_spare, r->mflags_spare = t;
    r->n = slots;
    r->self = self;
    r->n_members = n;
    r->n_voters = voters;
    r->conf_joint = joint;
    r->conf_auto_leave = n > 0 && (buf[1] & RAFT__CONF_AUTO_LEAVE) != 0;
    r->conf_simple = simple;
    r->ack_need = simple ? raft__quorum_majority(r->n) : 0;
    r->conf_index = index;
    r->conf_version++;
    r->fx_slow = true; /* RAFT_EVENT_CONF at the flush */
    /* Does this node alone make a majority of each voter group? */
    for (k = 0; k < r->n; k++) {
        r->match_scratch2[k] = k == self;
    }
    r->self_quorum = raft__quorum_index(r->mflags, r->match_scratch2, r->n,
                                        r->match_scratch) == 1;
    if (r->role == RAFT_LEADER) {
        raft__repl_conf_changed(r);
    }
}

/* The last configuration entry at or below hi and above the snapshot, or
 * 0. Bounded by hi - snap_index: configuration entries are rare, and the
 * callers ask from where one was just appended, after a truncation or for
 * a compaction (both rare, and linear in entries the call handles), or
 * for the configuration before an uncommitted one (raft__conf_was_voter,
 * once per election timeout while a node holds such a configuration). */
static raft_index find(const struct raft *r, raft_index hi)
{
    raft_index i;
    raft_index lo = r->snap_index > r->log.base ? r->snap_index : r->log.base;
    for (i = hi; i > lo; i--) {
        if (raft__log_ent_at(&r->log, i)->type == RAFT_ENTRY_CONFIG) {
            return i;
        }
    }
    return 0;
}

/* Take the configuration the log (or the base) now ends with: if it is
 * not the one in force, or always with `force`. `keep_departing`: see
 * install(). */
static void reload(struct raft *r, bool force, bool keep_departing)
{
    raft_index i = find(r, raft__log_last(&r->log));
    if (i == 0) {
        if (force || r->conf_index > r->snap_index || r->conf_version == 0) {
            install(r, r->base_conf, r->base_conf_len, r->snap_index,
                    keep_departing);
        }
        return;
    }
    if (force || i != r->conf_index || r->conf_version == 0) {
        const struct raft__log_ent *e = raft__log_ent_at(&r->log, i);
        install(r, e->buf, e->len, i, keep_departing);
    }
}

void raft__conf_reload(struct raft *r)
{
    reload(r, false, true);
}

void raft__conf_reload_force(struct raft *r)
{
    /* A new base (a snapshot installed or a start): slots of members
     * removed before it are not kept. */
    reload(r, true, false);
}

raft_index raft__conf_at(const struct raft *r, raft_index index,
                         const void **buf, size_t *len)
{
    raft_index i;
    if (r->conf_index > r->snap_index && r->conf_index <= index) {
        i = r->conf_index; /* the last one of the whole log */
    } else if (r->conf_index <= r->snap_index) {
        i = 0; /* none above the snapshot */
    } else {
        i = find(r, index);
    }
    if (i == 0) {
        *buf = r->base_conf;
        *len = r->base_conf_len;
        return 0;
    }
    *buf = raft__log_ent_at(&r->log, i)->buf;
    *len = raft__log_ent_at(&r->log, i)->len;
    return i;
}

size_t raft__conf_members(const struct raft *r, struct raft_member *out,
                          size_t cap)
{
    size_t i, k = 0;
    for (i = 0; i < r->n; i++) {
        if (r->mflags[i] != 0) {
            if (k < cap) {
                out[k].id = r->prs[i].id;
                out[k].flags = r->mflags[i];
            }
            k++;
        }
    }
    return k;
}

/* ---- changes ----------------------------------------------------------- */

/* Apply one change to ids/flags[0..*n) (flags 0: removed), of which *live
 * are members. The caller refused a second change of the same id, so an
 * id removed here is never seen again. */
static int apply_change(const struct raft_change *c, raft_id *ids,
                        uint8_t *flags, size_t *n, size_t *live)
{
    size_t i;
    for (i = 0; i < *n && ids[i] != c->id; i++) {
    }
    switch (c->type) {
    case RAFT_CHANGE_ADD_VOTER:
        if (i < *n && flags[i] == RAFT_MEMBER_VOTER) {
            return RAFT_EBADCONF;
        }
        break;
    case RAFT_CHANGE_ADD_LEARNER:
        if (i < *n && flags[i] == RAFT_MEMBER_LEARNER) {
            return RAFT_EBADCONF;
        }
        break;
    default:
        if (i == *n) {
            return RAFT_EBADCONF;
        }
        flags[i] = 0;
        (*live)--;
        return 0;
    }
    if (i == *n) {
        if (*live == RAFT_MAX_MEMBERS) {
            return RAFT_EINVAL;
        }
        ids[i] = c->id;
        (*n)++;
        (*live)++;
    }
    flags[i] = c->type == RAFT_CHANGE_ADD_VOTER ? RAFT_MEMBER_VOTER
                                                : RAFT_MEMBER_LEARNER;
    return 0;
}

int raft__conf_propose(struct raft *r, const struct raft_change *changes,
                       size_t n, int joint, raft_index *index)
{
    /* The members, then the ids the changes add: removed ones keep their
     * place (flags 0), so at most twice the limit. */
    uint8_t buf[RAFT__CONF_MAX_BYTES];
    raft_id ids[2 * RAFT_MAX_MEMBERS];
    uint8_t flags[2 * RAFT_MAX_MEMBERS];
    uint8_t old[RAFT_MAX_MEMBERS];
    size_t m = 0, live, members, i, j, changed = 0, voters = 0, len;
    bool to_joint;
    int rc;
    if (n > 0) {
        if (changes == NULL || joint < RAFT_JOINT_AUTO || joint > RAFT_JOINT_EXPLICIT) {
            return RAFT_EINVAL;
        }
        /* Bounded by n, the caller's own list. */
        for (i = 0; i < n; i++) {
            if (changes[i].id == 0 || changes[i].type < RAFT_CHANGE_ADD_VOTER ||
                changes[i].type > RAFT_CHANGE_REMOVE) {
                return RAFT_EINVAL;
            }
        }
    }
    if (r->role != RAFT_LEADER) {
        return RAFT_ENOTLEADER;
    }
    if (r->transfer_to != 0) {
        return RAFT_ETRANSFER;
    }
    if (n == 0 && !r->conf_joint) {
        return RAFT_EBADCONF;
    }
    /* One change at a time, and only once this leader's term has
     * committed an entry (thesis 4.1 and its errata: a leader may not yet
     * know of a change an earlier leader began). */
    if (r->conf_index > r->commit || r->commit < r->lead_first ||
        (n > 0 && r->conf_joint)) {
        return RAFT_ECONFBUSY;
    }
    for (i = 0; i < r->n; i++) {
        if (r->mflags[i] != 0) {
            ids[m] = r->prs[i].id;
            old[m] = r->mflags[i];
            flags[m] = r->mflags[i] & (uint8_t)~RAFT_MEMBER_OUTGOING;
            m++;
        }
    }
    members = live = m;
    if (n == 0) {
        len = encode(buf, ids, flags, m, false); /* leave the joint one */
        goto propose;
    }
    /* Bounded by n times the members (RAFT_MAX_MEMBERS). */
    for (i = 0; i < n; i++) {
        for (j = 0; j < i; j++) {
            if (changes[j].id == changes[i].id) {
                return RAFT_EBADCONF;
            }
        }
        rc = apply_change(&changes[i], ids, flags, &m, &live);
        if (rc != 0) {
            return rc;
        }
    }
    for (i = 0; i < m; i++) {
        bool was = i < r->n_members && (old[i] & RAFT_MEMBER_VOTER) != 0;
        bool is = flags[i] == RAFT_MEMBER_VOTER;
        voters += is;
        changed += was != is;
    }
    if (voters == 0) {
        return RAFT_EBADCONF;
    }
    to_joint = joint != RAFT_JOINT_AUTO || changed > 1;
    if (to_joint) {
        /* Thesis 4.3: the old voters keep a say until the joint
         * configuration is left; those removed stay in it as members, so
         * it may hold more than the configuration that follows. */
        for (i = 0; i < r->n_members && i < m; i++) {
            if ((old[i] & RAFT_MEMBER_VOTER) != 0) {
                live += flags[i] == 0;
                flags[i] |= RAFT_MEMBER_OUTGOING;
            }
        }
        if (live > RAFT_MAX_MEMBERS) {
            return RAFT_EINVAL;
        }
    }
    len = encode(buf, ids, flags, m, to_joint && joint != RAFT_JOINT_EXPLICIT);
propose:
    /* Room for the slots in use (members, this node, members removed
     * lately) and one for each id added: what install() may need. */
    rc = reserve_slots(r, r->n + (m - members));
    if (rc != 0) {
        return rc;
    }
    return raft__repl_propose_conf(r, buf, len, index);
}

/* ---- leadership transfer (thesis 3.10) ---------------------------------- */

void raft__conf_transfer_check(struct raft *r, const struct raft__progress *pr)
{
    struct raft_msg *m;
    if (pr == NULL) {
        pr = raft__member(r, r->transfer_to);
    }
    if (pr == NULL || pr->match < raft__log_last(&r->log)) {
        return; /* not yet: replication brings it up to date */
    }
    r->transfer_sent = true;
    m = raft__queue_slot(r, pr->id, RAFT__AFTER_NOTHING);
    if (m == NULL) {
        return; /* lost, like any message: sent again at a heartbeat */
    }
    memset(m, 0, sizeof(*m));
    m->type = RAFT_MSG_TIMEOUT_NOW;
    m->from = r->cfg.id;
    m->to = pr->id;
    m->term = r->term;
}

int raft__conf_transfer(struct raft *r, raft_id id)
{
    const struct raft__progress *pr;
    if (r->role != RAFT_LEADER) {
        return RAFT_ENOTLEADER;
    }
    if (id == 0 || id == r->cfg.id) {
        return RAFT_EINVAL;
    }
    pr = raft__member(r, id);
    if (pr == NULL || (r->mflags[pr - r->prs] & RAFT_MEMBER_VOTER) == 0) {
        /* A member only the outgoing group of a joint configuration counts
         * is on its way out: it would have to hand over again. */
        return RAFT_EBADCONF;
    }
    if (r->transfer_to != 0) {
        return RAFT_ETRANSFER;
    }
    r->transfer_to = id;
    r->transfer_elapsed = 0;
    r->transfer_sent = false;
    r->lead_open = false;
    r->fx_slow = true; /* the flush watches the target (effects.c) */
    /* Its campaign is heard despite leader stickiness, which the lease
     * relies on: no lease read from here on (read.c). */
    r->lease_until = 0;
    r->lease_off = true;
    raft__conf_transfer_check(r, pr);
    return 0;
}

/* Hand over to the voter holding the most of the log, if there is one. */
static bool transfer_to_best(struct raft *r)
{
    size_t i, best = SIZE_MAX;
    for (i = 0; i < r->n; i++) {
        if (i != r->self && (r->mflags[i] & RAFT_MEMBER_VOTER) != 0 &&
            (best == SIZE_MAX || r->prs[i].match > r->prs[best].match)) {
            best = i;
        }
    }
    return best != SIZE_MAX && raft__conf_transfer(r, r->prs[best].id) == 0;
}

void raft__conf_drop_departing(struct raft *r)
{
    size_t w = r->cfg.max_inflight;
    size_t i, k = 0, self = r->self;
    bool simple = !r->conf_joint;
    /* Bounded by the slots. Slot k's ring stays at infl_store + k * w. */
    for (i = 0; i < r->n; i++) {
        if (r->mflags[i] == 0 && i != r->self) {
            continue;
        }
        if (k != i) {
            r->prs[k] = r->prs[i];
            memcpy(r->infl_store + k * w, r->prs[i].infl, w * sizeof(*r->infl_store));
            r->prs[k].infl = r->infl_store + k * w;
            r->mflags[k] = r->mflags[i];
        }
        if (i == r->self) {
            self = k;
        }
        simple &= r->mflags[k] == RAFT_MEMBER_VOTER;
        k++;
    }
    r->n = k;
    r->self = self;
    r->n_departing = 0;
    r->conf_simple = simple;
    r->ack_need = simple ? raft__quorum_majority(r->n) : 0;
    if (r->role == RAFT_LEADER) {
        raft__repl_slots_changed(r); /* the voters, and the lease, stay */
    }
}

int raft__conf_tick(struct raft *r)
{
    if (r->n_departing > 0 && r->conf_index <= r->commit &&
        ++r->departing_ticks >= r->cfg.election_ticks) {
        /* For an election timeout after the change committed, heartbeats
         * told the removed members so (their commit index covers it), so
         * that they stop campaigning (raft__conf_was_voter). */
        raft__conf_drop_departing(r);
    }
    if (r->transfer_to != 0) {
        const struct raft__progress *pr = raft__member(r, r->transfer_to);
        if (++r->transfer_elapsed < r->cfg.election_ticks && pr != NULL) {
            if (r->transfer_elapsed % r->cfg.heartbeat_ticks == 0) {
                raft__conf_transfer_check(r, pr); /* in case it was lost */
            }
            return 0;
        }
        raft__emit(r, RAFT_EVENT_TRANSFER_ABORTED, r->transfer_to, 0,
                   "no election within an election timeout");
        r->transfer_to = 0;
        r->lead_open = true;
        if (!r->transfer_removal) {
            return 0;
        }
        /* The handover of a leader no longer a voter failed: it steps
         * down now, below, rather than take proposals until the next
         * tick. */
    }
    if (r->conf_index > r->commit) {
        return 0;
    }
    if (r->conf_joint) {
        if (r->conf_auto_leave && r->commit >= r->lead_first) {
            return raft__conf_propose(r, NULL, 0, RAFT_JOINT_AUTO, NULL);
        }
        return 0;
    }
    if ((r->mflags[r->self] & RAFT_MEMBER_VOTER) == 0) {
        /* Thesis 4.2.2: a leader that is no longer a voter leaves once the
         * configuration that says so is committed: it hands over to the
         * most up-to-date voter, and steps down if that did not work. */
        if (!r->transfer_removal) {
            r->transfer_removal = true;
            if (transfer_to_best(r)) {
                return 0;
            }
        }
        raft__become_follower(r, r->term, 0); /* same term: cannot fail */
        raft__emit(r, RAFT_EVENT_STEP_DOWN, 0, RAFT_EREMOVED,
                   "not a voter of the committed configuration");
    }
    return 0;
}

/* Bounded by the members of the configuration before the one in force. */
bool raft__conf_was_voter(const struct raft *r)
{
    const void *buf;
    size_t len, n, k;
    if (r->conf_index <= r->commit || r->conf_index <= r->snap_index) {
        return false;
    }
    raft__conf_at(r, r->conf_index - 1, &buf, &len);
    if (len == 0) {
        return false;
    }
    n = get32((const uint8_t *)buf + 4);
    for (k = 0; k < n; k++) {
        if (member_id(buf, k) == r->cfg.id) {
            return (member_flags(buf, k) & (RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING)) != 0;
        }
    }
    return false;
}
