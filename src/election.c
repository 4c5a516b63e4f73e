/*
 * election.c - leader election (Raft 5.2) with the election restriction
 * (5.4.1), plus a tie-break for candidates that time out together.
 */
#include "election.h"
#include "conf.h"
#include "read.h"

#include <string.h>

#include "quorum.h"
#include "replication.h"

/* Ask every other voter for its vote (type RAFT_MSG_VOTE, at the current
 * term, once the term and self-vote are durable) or for a pre-vote
 * (RAFT_MSG_PREVOTE, for the next term, at once: nothing was written). */
static void send_vote_requests(struct raft *r, int type)
{
    struct raft_msg m;
    size_t i;
    bool pre = type == RAFT_MSG_PREVOTE;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.from = r->cfg.id;
    m.term = pre ? r->term + 1 : r->term;
    m.u.vote.last_index = raft__log_last(&r->log);
    m.u.vote.last_term = raft__log_last_term(&r->log);
    m.u.vote.transfer = !pre && r->campaign_transfer;
    for (i = 0; i < r->n; i++) {
        if (i != r->self && raft__is_voter(r, i)) {
            m.to = r->prs[i].id;
            raft__queue(r, &m, pre ? RAFT__AFTER_NOTHING : RAFT__AFTER_STATE);
        }
    }
}

/* The election's outcome (RAFT__VOTE_WON, _LOST or _PENDING) with the
 * votes counted so far, over the configuration in force (quorum.h: only
 * voters count, of both groups while joint). The candidate's own vote
 * counts only once the write holding it is durable (always, in
 * synchronous mode); a pre-candidate's own pre-vote is written nowhere and
 * counts at once. */
static int outcome(const struct raft *r)
{
    size_t i;
    /* RAFT__VOTE_GRANTED and _REJECTED are quorum.h's WON and LOST. */
    for (i = 0; i < r->n; i++) {
        uint8_t v = r->prs[i].vote;
        if (i == r->self && r->role == RAFT_CANDIDATE && r->w_done < r->w_vote) {
            v = RAFT__VOTE_NONE;
        }
        r->vote_scratch[i] = v;
    }
    return raft__quorum_vote(r->mflags, r->vote_scratch, r->n);
}

int raft__election_start(struct raft *r)
{
    /* No term left (the new one must stay below UINT64_MAX, which no
     * message may carry). */
    if (r->term >= UINT64_MAX - 1) {
        return RAFT_ENOSPACE;
    }
    return raft__election_start_at(r, r->term + 1);
}

int raft__election_start_at(struct raft *r, raft_term term)
{
    bool was_leader = r->role == RAFT_LEADER;
    size_t i;
    int rc;
    /* No index left for the new term's no-op (entries end at
     * UINT64_MAX - 1: no follower accepts one beyond). */
    if (raft__log_last(&r->log) >= UINT64_MAX - 1) {
        return RAFT_ENOSPACE;
    }
    /* Room for the no-op of a term we may win during this very call, so
     * that winning cannot fail for want of memory. */
    rc = raft__log_reserve(&r->log, 1, raft__lead_entry_bytes(r), 1);
    if (rc != 0) {
        return rc;
    }
    /* Raft 5.2: increment the term and vote for self, durably and in one
     * write, before asking anyone. */
    rc = raft__set_term_vote(r, term, r->cfg.id);
    if (rc != 0) {
        return rc;
    }
    if (was_leader) {
        /* A leader of an older term told to campaign (TimeoutNow). */
        raft__emit(r, RAFT_EVENT_STEP_DOWN, 0, 0, "saw a higher term");
    }
    r->metrics.elections_started++;
    r->w_vote = r->w_state;
    r->leader = 0;
    raft__set_role(r, RAFT_CANDIDATE);
    raft__reset_election_timer(r);
    for (i = 0; i < r->n; i++) {
        r->prs[i].vote = RAFT__VOTE_NONE;
    }
    r->prs[r->self].vote = RAFT__VOTE_GRANTED;
    raft__emit(r, RAFT_EVENT_ELECTION_START, 0, 0, NULL);
    send_vote_requests(r, RAFT_MSG_VOTE);
    return raft__election_check_won(r);
}

/* Thesis 9.6: the pre-vote changes no term and no vote and writes nothing;
 * the node only asks whether it could win at the next term. */
static int prevote_start(struct raft *r)
{
    size_t i;
    if (r->term >= UINT64_MAX - 1 || raft__log_last(&r->log) >= UINT64_MAX - 1) {
        return RAFT_ENOSPACE; /* as raft__election_start would find */
    }
    if (r->self_quorum) {
        /* Its own pre-vote is a majority (a one-voter cluster): won before
         * it is asked, so the election starts at once, from the node as
         * it is. A failed start (RAFT_EPERSIST, RAFT_ENOMEM) then leaves
         * it so, and the next tick tries again (raft_tick). */
        return raft__election_start(r);
    }
    r->metrics.prevotes_started++;
    r->leader = 0;
    raft__set_role(r, RAFT_PRECANDIDATE);
    raft__reset_election_timer(r);
    for (i = 0; i < r->n; i++) {
        r->prs[i].vote = RAFT__VOTE_NONE;
    }
    r->prs[r->self].vote = RAFT__VOTE_GRANTED;
    raft__emit(r, RAFT_EVENT_PREVOTE_START, 0, 0, NULL);
    send_vote_requests(r, RAFT_MSG_PREVOTE);
    return 0;
}

int raft__election_timeout(struct raft *r)
{
    bool voter = raft__is_voter(r, r->self);
    if (!voter && !raft__conf_was_voter(r)) {
        /* Learners, removed nodes and nodes waiting to join never
         * campaign (thesis 4.2.1, 4.2.2); a node that a change not yet
         * committed here removes still does, since it may hold the only
         * log that can win (a leader that removed itself, then lost its
         * leadership before the change committed). Having heard nothing
         * from their leader for a timeout, the others forget it, as a
         * voter does by campaigning: vote requests are no longer held
         * back, and reads waiting for it fail. */
        r->leader = 0;
        raft__read_leader_lost(r);
        raft__reset_election_timer(r);
        return 0;
    }
    if (r->cfg.disable_pre_vote && voter) {
        return raft__election_start(r);
    }
    /* A node that may campaign only as a voter of the previous
     * configuration pre-votes even with PreVote off: most likely its
     * removal did commit and it missed the news, and a campaign raising
     * the term would depose the leader of a cluster it is no longer in.
     * The pre-vote leaves the term alone, and a leader answers it by
     * telling the node the change committed (raft__repl_tell_removed). */
    return prevote_start(r);
}

bool raft__election_in_lease(const struct raft *r, raft_term term)
{
    if (r->cfg.disable_check_quorum) {
        return false;
    }
    if (term == r->term && (r->leader != 0 || !r->cfg.lease_reads)) {
        /* A request of our own term, whose leader we know (who cannot
         * lose it to a vote) or without leases: answered as usual. */
        return false;
    }
    if (r->role == RAFT_LEADER) {
        return true; /* CheckQuorum deposes it within an election timeout */
    }
    if (r->cfg.lease_reads) {
        /* A leader's lease may rest on this node's acknowledgement for
         * election_ticks after it heard from that leader: hold back even
         * if a later term was adopted since (from a reply or a refusal,
         * which forgets the leader). A node that just started may have
         * acknowledged a round before it stopped: its start counts as
         * hearing from a leader (leader_heard starts at 0). A request of
         * our own term is held back too when we know no leader of it:
         * the leader heard may be of an older term (this one adopted
         * since from a reply or a refusal, with the vote still free, or
         * before a restart), and a vote granted in it could elect
         * another leader while that one's lease runs. */
        return r->now - r->leader_heard < r->cfg.election_ticks;
    }
    if (r->leader == 0) {
        return false;
    }
    return r->election_elapsed < r->cfg.election_ticks;
}

int raft__election_check_won(struct raft *r)
{
    if (r->role != RAFT_CANDIDATE || outcome(r) != RAFT__VOTE_WON) {
        return 0;
    }
    /* The caller reserved room for the no-op. */
    return raft__repl_become_leader(r);
}

/* Raft 5.4.1: is a log ending at (index, term) at least as up-to-date as
 * ours? */
static bool log_up_to_date(const struct raft *r, raft_index index, raft_term term)
{
    raft_term my_term = raft__log_last_term(&r->log);
    return term > my_term || (term == my_term && index >= raft__log_last(&r->log));
}

/*
 * A competing candidate of our own term asked for our vote. Raft leaves
 * simultaneous candidates to their random timeouts; on a coarse clock those
 * often coincide again and split the vote again. Instead the candidates
 * agree on an order: the more up-to-date log first, then the lower id. The
 * preferred one retries after one heartbeat interval if this term fails;
 * the others wait out their full randomized timeout. This only changes
 * timing, never what a node may vote for, so safety is untouched; the order
 * is antisymmetric, so two candidates that see each other never both hurry.
 */
static void tie_break(struct raft *r, const struct raft_msg *m)
{
    raft_term my_term = raft__log_last_term(&r->log);
    raft_index my_index = raft__log_last(&r->log);
    bool preferred =
        my_term > m->u.vote.last_term ||
        (my_term == m->u.vote.last_term &&
         (my_index > m->u.vote.last_index ||
          (my_index == m->u.vote.last_index && r->cfg.id < m->from)));
    if (!preferred) {
        r->yielded = true;
        r->election_timeout = r->base_timeout;
        return;
    }
    if (!r->yielded) {
        unsigned t = r->election_elapsed + r->cfg.heartbeat_ticks;
        if (t < r->election_timeout) {
            r->election_timeout = t;
        }
    }
}

/* Is a log ending at (index, term) strictly more up-to-date than ours? */
static bool log_newer(const struct raft *r, raft_index index, raft_term term)
{
    raft_term my_term = raft__log_last_term(&r->log);
    return term > my_term || (term == my_term && index > raft__log_last(&r->log));
}

/* A vote or pre-vote reply of `term`, naming our last entry, queued to
 * leave once the writes named by `after` are durable. */
static void send_vote_resp(struct raft *r, int type, raft_id to, raft_term term,
                           bool granted, int after)
{
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.from = r->cfg.id;
    m.to = to;
    m.term = term;
    m.u.vote_resp.granted = granted;
    m.u.vote_resp.last_index = raft__log_last(&r->log);
    m.u.vote_resp.last_term = raft__log_last_term(&r->log);
    raft__queue(r, &m, after);
}

int raft__election_recv_vote(struct raft *r, const struct raft_msg *m)
{
    bool new_term = m->term > r->term;
    raft_id vote = new_term ? 0 : r->vote;
    /* Figure 2, RequestVote 2: grant if we have not voted for another in
     * this term and the candidate's log is at least as up-to-date. A leader
     * or candidate of this term has voted for itself. */
    bool grant = (vote == 0 || vote == m->from) &&
                 log_up_to_date(r, m->u.vote.last_index, m->u.vote.last_term);
    if (new_term || (grant && r->vote != m->from)) {
        /* A new term and the vote are persisted in one write: two writes
         * would let a crash between them cause a double vote. */
        int rc = raft__set_term_vote(r, m->term, grant ? m->from : 0);
        if (rc != 0) {
            return rc;
        }
    }
    if (new_term) {
        /* Adopting the term alone does not restart the election timer
         * (Figure 2 restarts it only on hearing the leader, granting a vote
         * or starting an election): otherwise a candidate with a stale log
         * and a fast clock could keep every up-to-date node from ever
         * timing out, and no leader would be elected. A fresh timeout is
         * drawn all the same, so the survivors of one election do not keep
         * the long timeouts that made them lose it. */
        bool was_leader = r->role == RAFT_LEADER;
        r->leader = 0;
        raft__set_role(r, RAFT_FOLLOWER);
        raft__draw_election_timeout(r);
        if (was_leader) {
            raft__emit(r, RAFT_EVENT_STEP_DOWN, m->from, 0, "saw a higher term");
        }
    }
    if (grant) {
        /* Figure 2, Followers: granting a vote restarts the timeout. */
        raft__reset_election_timer(r);
    } else if (r->role == RAFT_CANDIDATE) {
        tie_break(r, m);
    }
    /* A grant leaves once the vote is durable (Raft 5.2). */
    send_vote_resp(r, RAFT_MSG_VOTE_RESP, m->from, r->term, grant,
                   RAFT__AFTER_STATE);
    return 0;
}

int raft__election_recv_prevote(struct raft *r, const struct raft_msg *m)
{
    /* Would we vote for it at m->term? A later term than ours frees our
     * vote; at our own term only a vote not given to another (and no
     * leader known) allows it. Nothing changes here: no term, no vote,
     * no timer, no write (thesis 9.6). */
    bool free_vote = m->term > r->term ||
                     r->vote == m->from || (r->vote == 0 && r->leader == 0);
    bool grant = free_vote &&
                 log_up_to_date(r, m->u.vote.last_index, m->u.vote.last_term);
    /* A grant carries the term asked about, so the pre-candidate counts it
     * without taking it for a newer term; a refusal carries ours, so a
     * pre-candidate behind us catches up. Nothing was written: it leaves
     * at once. */
    send_vote_resp(r, RAFT_MSG_PREVOTE_RESP, m->from, grant ? m->term : r->term,
                   grant, RAFT__AFTER_NOTHING);
    return 0;
}

int raft__election_recv_prevote_resp(struct raft *r, struct raft__progress *pr,
                                     const struct raft_msg *m)
{
    bool grant = m->u.vote_resp.granted;
    if (r->role != RAFT_PRECANDIDATE || pr->vote != RAFT__VOTE_NONE ||
        m->term != (grant ? r->term + 1 : r->term)) {
        return 0; /* late, duplicated, or about another round */
    }
    if (grant) {
        pr->vote = RAFT__VOTE_GRANTED;
        if (outcome(r) == RAFT__VOTE_WON) {
            /* A failed start (RAFT_EPERSIST, RAFT_ENOMEM) leaves the node
             * unchanged, the grant untaken: delivered again, it starts
             * the election then. */
            int rc = raft__election_start(r);
            if (rc != 0) {
                pr->vote = RAFT__VOTE_NONE;
            }
            return rc;
        }
        return 0;
    }
    pr->vote = RAFT__VOTE_REJECTED;
    if (outcome(r) == RAFT__VOTE_LOST) {
        raft__emit(r, RAFT_EVENT_ELECTION_LOST, m->from, 0,
                   log_newer(r, m->u.vote_resp.last_index, m->u.vote_resp.last_term)
                       ? "pre-vote: a voter's log is more up-to-date"
                       : "pre-vote: a majority refused");
        raft__set_role(r, RAFT_FOLLOWER); /* same term, no leader known */
    }
    return 0;
}

int raft__election_recv_vote_resp(struct raft *r, struct raft__progress *pr,
                                  const struct raft_msg *m)
{
    if (r->role != RAFT_CANDIDATE || pr->vote != RAFT__VOTE_NONE) {
        return 0; /* late or duplicated reply */
    }
    if (!m->u.vote_resp.granted) {
        /* Reported once, by the rejection that decides the election: the
         * node stays a candidate, and later ones change nothing. */
        bool lost = outcome(r) == RAFT__VOTE_LOST;
        pr->vote = RAFT__VOTE_REJECTED;
        if (!lost && outcome(r) == RAFT__VOTE_LOST) {
            raft__emit(r, RAFT_EVENT_ELECTION_LOST, m->from, 0,
                       log_newer(r, m->u.vote_resp.last_index, m->u.vote_resp.last_term)
                           ? "a voter's log is more up-to-date"
                           : "votes went to another candidate");
        }
        return 0;
    }
    pr->vote = RAFT__VOTE_GRANTED;
    if (outcome(r) == RAFT__VOTE_WON) {
        /* Reserve the no-op's room before taking the vote, so running out
         * of memory leaves the reply unprocessed rather than half-done. */
        int rc = raft__log_reserve(&r->log, 1, raft__lead_entry_bytes(r), 1);
        if (rc != 0) {
            pr->vote = RAFT__VOTE_NONE;
            return rc;
        }
        return raft__repl_become_leader(r);
    }
    return 0;
}
