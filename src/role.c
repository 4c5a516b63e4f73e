/*
 * role.c - role transitions, the persistent term and vote, election timers,
 * and applying committed entries.
 */
#include "conf.h"
#include "node.h"
#include "rand.h"

int raft__set_term_vote(struct raft *r, raft_term term, raft_id vote)
{
    r->metrics.persist_state_calls++;
    if (r->cb.persist_state(r, r->ctx, term, vote) != 0) {
        return RAFT_EPERSIST;
    }
    raft__write_started(r, false, 0);
    r->fx_slow |= term != r->term;
    r->term = term;
    r->vote = vote;
    return 0;
}

void raft__set_role(struct raft *r, int role)
{
    r->fx_slow |= role != r->role;
    r->transfer_to = 0; /* a transfer ends with the leadership */
    r->transfer_removal = false;
    r->lead_open = role == RAFT_LEADER;
    r->metrics.step_downs += r->role == RAFT_LEADER && role != RAFT_LEADER;
    r->role = role;
    if (r->n_departing > 0 && role != RAFT_LEADER) {
        raft__conf_drop_departing(r); /* only a leader sends them the log */
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

int raft__second_leader(struct raft *r, const struct raft_msg *m)
{
    if (m->term == r->term &&
        (r->role == RAFT_LEADER || (r->leader != 0 && r->leader != m->from))) {
        r->metrics.rejected[RAFT_REJECT_CONFLICT]++;
        raft__emit(r, RAFT_EVENT_MSG_REJECTED, m->from, RAFT_EBADMSG,
                   "second leader in the same term");
        return RAFT_EBADMSG; /* impossible under Election Safety */
    }
    return 0;
}

int raft__follow(struct raft *r, const struct raft_msg *m)
{
    /* Figure 2, All servers / Candidates: recognise the leader of a term
     * at least as new as ours (persisting a term change first). */
    if (m->term != r->term || r->role != RAFT_FOLLOWER) {
        int rc = raft__become_follower(r, m->term, m->from);
        if (rc != 0) {
            return rc;
        }
    }
    r->leader = m->from;
    r->election_elapsed = 0;
    r->leader_heard = r->now;
    return 0;
}

int raft__apply(struct raft *r)
{
    /* Only entries this node holds durably are applied: in asynchronous
     * mode a follower may learn that an entry is committed before its own
     * copy is on disk. The caller (the flush) found applied below both
     * commit and durable, so there is at least one. Bounded by
     * min(commit, durable) - applied; each entry is offered exactly once
     * per incarnation unless the host's callback fails.
     * The bounds are read from the node at each turn, not kept in locals
     * (the callback cannot move them: it may not re-enter): fewer values
     * live across the call make the usual call, one entry, cheaper. */
    struct raft_entry e;
    raft_index run_end = 0; /* e.term holds for indexes below run_end */
    do {
        raft_index i = r->applied + 1;
        const struct raft__log_ent *d;
        if (i >= run_end) {
            /* A term lookup once per run of equal terms, not per entry;
             * the current term's run, the usual one, without a search. */
            const struct raft__log_run *last = &r->log.runs[r->log.nruns - 1];
            if (last->start <= i) {
                e.term = last->term;
                run_end = UINT64_MAX;
            } else {
                size_t k = raft__log_run_of(&r->log, i);
                e.term = r->log.runs[k].term;
                run_end = r->log.runs[k + 1].start;
            }
        }
        d = raft__log_ent_at(&r->log, i);
        e.type = d->type;
        e.buf = d->buf;
        e.len = d->len;
        if (r->cb.apply(r, r->ctx, i, &e) != 0) {
            return RAFT_EAPPLY;
        }
        r->applied = i;
    } while (r->applied < r->commit && r->applied < r->durable);
    return 0;
}
