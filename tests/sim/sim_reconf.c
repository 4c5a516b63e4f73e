/*
 * sim_reconf.c - the membership client: random configuration changes and
 * leadership transfers, and what the host does about membership when the
 * faults heal.
 *
 * In a reconfiguration run (two runs in three) the cluster has node slots
 * beyond its bootstrap voters: spares, started empty with raft_join (some
 * only later, by a restart event). A SIM_EV_CONF event is one request of
 * the client, usually to a leader: add a learner, promote one, add or
 * remove a voter, demote one, several changes at once (each joint mode),
 * leave a joint configuration, transfer leadership, remove or demote the
 * leader itself, or a change that must be refused. Voter counts move
 * between 1 and 7. Removed nodes keep running. Every answer is checked
 * against what raft.h promises, computed beforehand from the node's log
 * (sim_conf.c reads it): the exact error code (RAFT_ECONFBUSY exactly while
 * the last configuration entry is uncommitted or joint or the leader has
 * not committed an entry of its term, RAFT_EBADCONF, RAFT_EINVAL,
 * RAFT_ENOTLEADER, RAFT_ETRANSFER) and, when accepted, the entry appended.
 */
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

#define SIM_VOTERS_MAX 7 /* voter counts stay within 1..7 */
#define SIM_VOTING (RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING)

static unsigned long long sim_ull(uint64_t x)
{
    return (unsigned long long)x;
}

/* ---- setup ------------------------------------------------------------------ */

void sim_conf_setup(struct sim *s)
{
    struct sim_reconf *rc = &s->rc;
    rc->max_voters = SIM_VOTERS_MAX;
    if (!rc->on)
        return;
    for (int k = 0; k < SIM_RC_COUNT; k++)
        rc->weight[k] = 1 + (uint32_t)sim_choose(s, 4);
    rc->weight[SIM_RC_INVALID] = (uint32_t)sim_choose(s, 3);
    /* Joint configurations are where two majorities must agree: often. */
    rc->weight[SIM_RC_JOINT] += 2 + (uint32_t)sim_choose(s, 4);
    rc->total = 0;
    for (int k = 0; k < SIM_RC_COUNT; k++)
        rc->total += rc->weight[k];
    rc->to_anyone = 4 + sim_choose(s, 12);
    s->f.weight[SIM_EV_CONF] = 20 + (uint32_t)sim_choose(s, 201);
    s->f.weight_total += s->f.weight[SIM_EV_CONF];
    s->st.reconf_runs = 1;
    sim_tracef(s, "reconfiguration: %u bootstrap voters, %u slots, weight "
               "%u, actions %u/%u/%u/%u/%u/%u/%u/%u/%u/%u, 1 in %llu to "
               "anyone", s->n_boot, s->n, s->f.weight[SIM_EV_CONF],
               rc->weight[0], rc->weight[1], rc->weight[2], rc->weight[3],
               rc->weight[4], rc->weight[5], rc->weight[6], rc->weight[7],
               rc->weight[8], rc->weight[9], sim_ull(rc->to_anyone));
}

/* ---- the membership client ---------------------------------------------------- */

/*
 * What raft_propose_change (leave false) or raft_leave_joint (leave true)
 * must return on nd, from raft.h and nd's own log; on 0, *want is the
 * configuration it must append.
 */
static int sim_conf_expect(struct sim_node *nd, const struct raft_status *st,
                           const struct raft_change *ch, size_t n, int joint,
                           bool leave, struct sim_conf *want)
{
    struct sim_conf c;
    if (!leave) {
        if (n == 0 || ch == NULL || joint < RAFT_JOINT_AUTO ||
            joint > RAFT_JOINT_EXPLICIT)
            return RAFT_EINVAL;
        for (size_t i = 0; i < n; i++)
            if (ch[i].id == 0 || ch[i].type < RAFT_CHANGE_ADD_VOTER ||
                ch[i].type > RAFT_CHANGE_REMOVE)
                return RAFT_EINVAL;
    }
    if (st->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    if (nd->xfer != 0)
        return RAFT_ETRANSFER;
    raft_index ci = sim_conf_of(nd, &c);
    bool joint_now = sim_conf_is_joint(&c);
    if (leave && !joint_now)
        return RAFT_EBADCONF;
    if (ci > st->commit || st->commit < sim_conf_first_of_term(nd, st->term) ||
        (!leave && joint_now))
        return RAFT_ECONFBUSY;
    *want = c;
    want->auto_leave = false;
    if (leave) {
        for (unsigned i = 1; i <= SIM_MAX_NODES; i++)
            want->fl[i] &= (uint8_t)~RAFT_MEMBER_OUTGOING;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        raft_id id = ch[i].id;
        for (size_t j = 0; j < i; j++)
            if (ch[j].id == id)
                return RAFT_EBADCONF;
        if (id > SIM_MAX_NODES)
            return RAFT_EBADCONF; /* never drawn */
        uint8_t f = want->fl[id];
        if (ch[i].type == RAFT_CHANGE_REMOVE) {
            if (f == 0)
                return RAFT_EBADCONF;
            want->fl[id] = 0;
        } else if (ch[i].type == RAFT_CHANGE_ADD_VOTER) {
            if (f == RAFT_MEMBER_VOTER)
                return RAFT_EBADCONF;
            want->fl[id] = RAFT_MEMBER_VOTER;
        } else {
            if (f == RAFT_MEMBER_LEARNER)
                return RAFT_EBADCONF;
            want->fl[id] = RAFT_MEMBER_LEARNER;
        }
    }
    unsigned changed = 0;
    for (unsigned i = 1; i <= SIM_MAX_NODES; i++)
        changed += ((c.fl[i] & RAFT_MEMBER_VOTER) != 0) !=
                   ((want->fl[i] & RAFT_MEMBER_VOTER) != 0);
    if (sim_conf_count(want, RAFT_MEMBER_VOTER) == 0)
        return RAFT_EBADCONF;
    if (joint != RAFT_JOINT_AUTO || changed > 1) {
        for (unsigned i = 1; i <= SIM_MAX_NODES; i++)
            if (c.fl[i] & RAFT_MEMBER_VOTER)
                want->fl[i] |= RAFT_MEMBER_OUTGOING;
        want->auto_leave = joint != RAFT_JOINT_EXPLICIT;
    }
    return 0;
}

/* Ask nd for a change (leave: raft_leave_joint) and check the answer;
 * returns the library's code. A patient client (may_wait) mostly does not
 * ask when it can tell the answer is "not now" (returns 1 then). */
int sim_conf_change(struct sim_node *nd, const struct raft_change *ch,
                    size_t n, int joint, bool leave, bool may_wait)
{
    struct sim *s = nd->sim;
    struct raft_status st;
    struct sim_conf want, got = {0};
    char desc[160];
    size_t k = 0;
    raft_status(nd->r, &st);
    int exp = sim_conf_expect(nd, &st, ch, n, joint, leave, &want);
    bool may_xfer = sim_conf_may_transfer(nd, &st);
    /* A client that knows a change or a transfer is under way, or that
     * the node does not lead, mostly waits (a third of these requests
     * still go, to check the refusal). */
    if (may_wait && (exp == RAFT_ECONFBUSY || exp == RAFT_ETRANSFER ||
                     exp == RAFT_ENOTLEADER) && sim_choose(s, 3) != 0)
        return 1;
    raft_index idx = 0;
    desc[0] = '\0';
    for (size_t i = 0; i < n && k < sizeof desc; i++)
        k += (size_t)snprintf(desc + k, sizeof desc - k, " %s%llu",
                              ch[i].type == RAFT_CHANGE_ADD_VOTER     ? "+v"
                              : ch[i].type == RAFT_CHANGE_ADD_LEARNER ? "+l"
                              : ch[i].type == RAFT_CHANGE_REMOVE      ? "-"
                                                                      : "?",
                              sim_ull(ch[i].id));
    sim_call_begin(s);
    s->st.changes++;
    int rc = leave ? raft_leave_joint(nd->r, &idx)
                   : raft_propose_change(nd->r, ch, n, joint, &idx);
    sim_tracef(s, "%s node %llu%s joint %d -> %s index %llu (expected %s)",
               leave ? "raft_leave_joint" : "raft_propose_change",
               sim_ull(nd->id), desc, joint, raft_strerror(rc), sim_ull(idx),
               raft_strerror(exp));
    bool appended = false;
    if (exp == 0 && (rc == 0 || (rc == RAFT_EAPPLY && s->inj_apply))) {
        appended = true;
    } else if (exp == 0 && rc == RAFT_EPERSIST && s->inj_persist) {
        if (raft_role(nd->r) == RAFT_LEADER)
            sim_fail(s, "persist_entries", "leader %llu still leads after "
                     "its own append failed", sim_ull(nd->id));
    } else if (rc == RAFT_ETRANSFER && may_xfer) {
        /* handing over on its own: nothing appended */
    } else if (rc != exp) {
        sim_fail(s, "Configuration change", "%s on node %llu (role %d, "
                 "commit %llu)%s returned %s, raft.h says %s",
                 leave ? "raft_leave_joint" : "raft_propose_change",
                 sim_ull(nd->id), st.role, sim_ull(st.commit), desc,
                 raft_strerror(rc), raft_strerror(exp));
    }
    if (appended) {
        struct raft_entry e;
        s->st.changes_ok++;
        if (rc == 0 && idx != st.last_index + 1)
            sim_fail(s, "Configuration change", "node %llu accepted a change "
                     "at index %llu with last index %llu", sim_ull(nd->id),
                     sim_ull(idx), sim_ull(st.last_index));
        else if (raft_entry_at(nd->r, st.last_index + 1, &e) != 0 ||
                 e.term != st.term || e.type != RAFT_ENTRY_CONFIG ||
                 !sim_conf_parse(e.buf, e.len, &got) || !sim_conf_equal(&got, &want)) {
            char b1[96], b2[96];
            sim_conf_str(&want, b1, sizeof b1);
            sim_conf_str(&got, b2, sizeof b2);
            sim_fail(s, "Configuration change", "node %llu accepted%s but "
                     "does not hold %s at index %llu term %llu (holds %s)",
                     sim_ull(nd->id), desc, b1, sim_ull(st.last_index + 1),
                     sim_ull(st.term), b2);
        }
    } else if (rc == RAFT_ECONFBUSY) {
        s->st.changes_busy++;
    } else if (rc == RAFT_EBADCONF || rc == RAFT_EINVAL) {
        s->st.changes_bad++;
    }
    sim_check_node(nd);
    return rc;
}

static void sim_conf_request(struct sim_node *nd, const struct raft_change *ch,
                             size_t n, int joint, bool leave)
{
    sim_conf_change(nd, ch, n, joint, leave, true);
}

int sim_conf_transfer(struct sim_node *nd, raft_id to)
{
    struct sim *s = nd->sim;
    struct raft_status st;
    struct sim_conf c;
    raft_status(nd->r, &st);
    sim_conf_of(nd, &c);
    int exp = st.role != RAFT_LEADER          ? RAFT_ENOTLEADER
              : to == 0 || to == nd->id       ? RAFT_EINVAL
              : to > SIM_MAX_NODES ||
                !(c.fl[to] & RAFT_MEMBER_VOTER) ? RAFT_EBADCONF
              : nd->xfer != 0                 ? RAFT_ETRANSFER
                                              : 0;
    bool may_xfer = sim_conf_may_transfer(nd, &st);
    sim_call_begin(s);
    s->st.transfers++;
    int rc = raft_transfer_leadership(nd->r, to);
    sim_tracef(s, "raft_transfer_leadership node %llu to %llu -> %s "
               "(expected %s)", sim_ull(nd->id), sim_ull(to),
               raft_strerror(rc), raft_strerror(exp));
    /* RAFT_EAPPLY: started, and an entry whose apply failed earlier
     * failed again on the way out (raft.h does not list it). */
    bool started = rc == 0 || (rc == RAFT_EAPPLY && exp == 0 && s->inj_apply);
    if (rc != exp && !started && !(rc == RAFT_ETRANSFER && exp == 0 && may_xfer))
        sim_fail(s, "Transfer", "raft_transfer_leadership on node %llu "
                 "(role %d) to %llu returned %s, raft.h says %s",
                 sim_ull(nd->id), st.role, sim_ull(to), raft_strerror(rc),
                 raft_strerror(exp));
    if (started) {
        nd->xfer = to;
        nd->lead_removed = 0; /* the host's transfer hands over instead */
        s->st.transfers_ok++;
        s->xfer_to = to;
        s->xfer_term = st.term;
    }
    sim_check_node(nd);
    return rc;
}

/* A random id of 1..s->n for which pick(flags, id) holds, 0 if none. */
static raft_id sim_conf_pick(struct sim *s, const struct sim_conf *c,
                             raft_id not, unsigned mask, bool members)
{
    raft_id ids[SIM_MAX_NODES];
    unsigned k = 0;
    for (raft_id i = 1; i <= s->n; i++) {
        if (i == not)
            continue;
        if (members ? (c->fl[i] & mask) != 0 : c->fl[i] == 0)
            ids[k++] = i;
    }
    return k == 0 ? 0 : ids[sim_choose(s, k)];
}

/* Several changes at once, keeping 1..max voters (the leader may be among
 * them), in a joint mode drawn. */
static size_t sim_conf_joint_changes(struct sim *s, const struct sim_conf *c,
                                     struct raft_change *ch)
{
    struct sim_conf w = *c;
    size_t n = 0, want = 1 + (size_t)sim_choose(s, 4);
    raft_id order[SIM_MAX_NODES];
    for (raft_id i = 1; i <= s->n; i++)
        order[i - 1] = i;
    for (unsigned i = s->n; i > 1; i--) { /* Fisher-Yates */
        unsigned j = (unsigned)sim_choose(s, i);
        raft_id t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (unsigned k = 0; k < s->n && n < want; k++) {
        raft_id id = order[k];
        unsigned voters = sim_conf_count(&w, RAFT_MEMBER_VOTER);
        uint8_t f = w.fl[id];
        int type;
        if (f == 0)
            type = sim_choose(s, 2) == 0 ? RAFT_CHANGE_ADD_VOTER
                                         : RAFT_CHANGE_ADD_LEARNER;
        else if (f == RAFT_MEMBER_LEARNER)
            type = sim_choose(s, 2) == 0 ? RAFT_CHANGE_ADD_VOTER
                                         : RAFT_CHANGE_REMOVE;
        else
            type = sim_choose(s, 2) == 0 ? RAFT_CHANGE_ADD_LEARNER
                                         : RAFT_CHANGE_REMOVE;
        bool voter_now = f == RAFT_MEMBER_VOTER;
        bool voter_next = type == RAFT_CHANGE_ADD_VOTER;
        if (voter_next && !voter_now && voters >= s->rc.max_voters)
            continue;
        if (voter_now && !voter_next && voters <= 1)
            continue;
        w.fl[id] = type == RAFT_CHANGE_REMOVE ? 0
                   : voter_next            ? RAFT_MEMBER_VOTER
                                           : RAFT_MEMBER_LEARNER;
        ch[n++] = (struct raft_change){type, id};
    }
    return n;
}

/* A change raft.h says must be refused (EBADCONF or EINVAL), or a call
 * that must be: leaving a configuration that is not joint. */
static void sim_conf_invalid(struct sim_node *nd, const struct sim_conf *c)
{
    struct sim *s = nd->sim;
    struct raft_change ch[SIM_MAX_NODES + 1];
    size_t n = 0;
    raft_id v = sim_conf_pick(s, c, 0, RAFT_MEMBER_VOTER, true);
    raft_id l = sim_conf_pick(s, c, 0, RAFT_MEMBER_LEARNER, true);
    raft_id out = sim_conf_pick(s, c, 0, 0, false);
    switch (sim_choose(s, 8)) {
    case 0: /* the same id twice */
        ch[n++] = (struct raft_change){RAFT_CHANGE_ADD_LEARNER, v ? v : 1};
        ch[n++] = (struct raft_change){RAFT_CHANGE_REMOVE, v ? v : 1};
        break;
    case 1: /* a voter added as a voter */
        if (v == 0)
            return;
        ch[n++] = (struct raft_change){RAFT_CHANGE_ADD_VOTER, v};
        break;
    case 2: /* a learner added as a learner */
        if (l == 0)
            return;
        ch[n++] = (struct raft_change){RAFT_CHANGE_ADD_LEARNER, l};
        break;
    case 3: /* a non-member removed */
        if (out == 0)
            return;
        ch[n++] = (struct raft_change){RAFT_CHANGE_REMOVE, out};
        break;
    case 4: /* every voter removed or demoted */
        for (raft_id i = 1; i <= s->n; i++)
            if (c->fl[i] & RAFT_MEMBER_VOTER)
                ch[n++] = (struct raft_change){
                    sim_choose(s, 2) == 0 ? RAFT_CHANGE_REMOVE
                                          : RAFT_CHANGE_ADD_LEARNER, i};
        break;
    case 5: /* id 0, or an unknown type */
        ch[n++] = sim_choose(s, 2) == 0
                      ? (struct raft_change){RAFT_CHANGE_ADD_LEARNER, 0}
                      : (struct raft_change){RAFT_CHANGE_REMOVE + 1, v ? v : 1};
        break;
    case 6: /* an unknown joint mode */
        ch[n++] = (struct raft_change){RAFT_CHANGE_ADD_LEARNER, out ? out : 1};
        sim_conf_request(nd, ch, n, RAFT_JOINT_EXPLICIT + 1, false);
        return;
    default: /* leave a configuration that may not be joint */
        sim_conf_request(nd, NULL, 0, RAFT_JOINT_AUTO, true);
        return;
    }
    sim_conf_request(nd, ch, n, (int)sim_choose(s, 3), false);
}

/* Who gets a membership request: a running leader, or 1 in to_anyone
 * times any running node. */
static struct sim_node *sim_conf_target(struct sim *s)
{
    struct sim_node *pick[SIM_MAX_NODES];
    unsigned k = 0, any = 0;
    for (unsigned i = 0; i < s->n; i++) {
        struct sim_node *nd = &s->nodes[i];
        if (!sim_node_running(nd))
            continue;
        any++;
        if (raft_role(nd->r) == RAFT_LEADER)
            pick[k++] = nd;
    }
    if (any == 0)
        return NULL;
    bool anyone = sim_one_in(s, s->rc.to_anyone);
    if (k > 0 && !anyone)
        return pick[sim_choose(s, k)];
    if (!anyone)
        return NULL; /* no leader: the client waits */
    uint64_t j = sim_choose(s, any);
    for (unsigned i = 0; i < s->n; i++)
        if (sim_node_running(&s->nodes[i]) && j-- == 0)
            return &s->nodes[i];
    return NULL;
}

void sim_conf_event(struct sim *s)
{
    struct sim_node *nd = sim_conf_target(s);
    struct raft_change ch[SIM_MAX_NODES + 1];
    struct sim_conf c;
    raft_id id;
    if (nd == NULL || s->rc.total == 0)
        return;
    sim_conf_of(nd, &c);
    uint64_t x = sim_choose(s, s->rc.total);
    int kind = 0;
    while (x >= s->rc.weight[kind])
        x -= s->rc.weight[kind++];
    unsigned voters = sim_conf_count(&c, RAFT_MEMBER_VOTER);
    bool room = voters < s->rc.max_voters;
    switch (kind) {
    case SIM_RC_ADD_LEARNER:
        if ((id = sim_conf_pick(s, &c, 0, 0, false)) == 0)
            return;
        ch[0] = (struct raft_change){RAFT_CHANGE_ADD_LEARNER, id};
        sim_conf_request(nd, ch, 1, RAFT_JOINT_AUTO, false);
        return;
    case SIM_RC_PROMOTE:
        if (!room || (id = sim_conf_pick(s, &c, 0, RAFT_MEMBER_LEARNER, true)) == 0)
            return;
        ch[0] = (struct raft_change){RAFT_CHANGE_ADD_VOTER, id};
        sim_conf_request(nd, ch, 1, RAFT_JOINT_AUTO, false);
        return;
    case SIM_RC_ADD_VOTER:
        if (!room || (id = sim_conf_pick(s, &c, 0, 0, false)) == 0)
            return;
        ch[0] = (struct raft_change){RAFT_CHANGE_ADD_VOTER, id};
        sim_conf_request(nd, ch, 1, RAFT_JOINT_AUTO, false);
        return;
    case SIM_RC_REMOVE:
        id = sim_conf_pick(s, &c, nd->id, RAFT_MEMBER_VOTER | RAFT_MEMBER_LEARNER,
                           true);
        if (id == 0 || (c.fl[id] == RAFT_MEMBER_VOTER && voters <= 1))
            return;
        ch[0] = (struct raft_change){RAFT_CHANGE_REMOVE, id};
        sim_conf_request(nd, ch, 1, RAFT_JOINT_AUTO, false);
        return;
    case SIM_RC_DEMOTE:
        if (voters <= 1 || (id = sim_conf_pick(s, &c, nd->id, RAFT_MEMBER_VOTER,
                                               true)) == 0)
            return;
        ch[0] = (struct raft_change){RAFT_CHANGE_ADD_LEARNER, id};
        sim_conf_request(nd, ch, 1, RAFT_JOINT_AUTO, false);
        return;
    case SIM_RC_JOINT: {
        size_t n = sim_conf_joint_changes(s, &c, ch);
        if (n > 0)
            sim_conf_request(nd, ch, n, (int)sim_choose(s, 3), false);
        return;
    }
    case SIM_RC_LEAVE: /* mostly when joint */
        if (sim_conf_is_joint(&c) || sim_one_in(s, 3))
            sim_conf_request(nd, NULL, 0, RAFT_JOINT_AUTO, true);
        return;
    case SIM_RC_TRANSFER:
        /* A voter mostly; sometimes itself, a non-voter or 0. */
        id = sim_conf_pick(s, &c, nd->id, SIM_VOTING, true);
        if (sim_one_in(s, 6))
            id = sim_choose(s, 3) == 0 ? nd->id : (raft_id)sim_choose(s, s->n + 1);
        if (id == 0 && !sim_one_in(s, 4))
            return;
        sim_conf_transfer(nd, id);
        return;
    case SIM_RC_SELF:
        if (voters <= 1 || !(c.fl[nd->id] & RAFT_MEMBER_VOTER))
            return;
        ch[0] = (struct raft_change){sim_choose(s, 3) == 0
                                         ? RAFT_CHANGE_ADD_LEARNER
                                         : RAFT_CHANGE_REMOVE, nd->id};
        sim_conf_request(nd, ch, 1, sim_choose(s, 2) == 0 ? RAFT_JOINT_AUTO
                                                          : (int)sim_choose(s, 3),
                         false);
        return;
    default:
        sim_conf_invalid(nd, &c);
        return;
    }
}

/* ---- heal phase ---------------------------------------------------------------- */

void sim_conf_heal(struct sim_node *l)
{
    struct sim_conf c;
    struct raft_status st;
    raft_index ci = sim_conf_of(l, &c);
    raft_status(l->r, &st);
    /* The host ends the joint configuration it entered explicitly, once
     * the leader will take it (asking earlier is checked too, but would
     * only be refused). */
    if (sim_conf_is_joint(&c) && !c.auto_leave && ci <= st.commit &&
        st.commit >= sim_conf_first_of_term(l, st.term))
        sim_conf_change(l, NULL, 0, RAFT_JOINT_AUTO, true, false);
}

bool sim_conf_settled(struct sim_node *nd, struct sim_conf *c)
{
    struct raft_status st;
    raft_index ci = sim_conf_of(nd, c);
    raft_status(nd->r, &st);
    return c->valid && !sim_conf_is_joint(c) && ci <= st.commit &&
           sim_conf_is_voter(c, nd->id);
}
