/*
 * sim_net.c - the simulated network: an unordered bag of in-flight messages.
 *
 * Each message carries the global step from which it may be delivered.
 * Delivery picks uniformly among the due messages, so any two due messages
 * may be reordered. Partitions and cut links are applied at delivery time:
 * a message crossing a cut link when it would arrive is lost, as is one
 * addressed to a crashed node, or one of a split's stalled replication
 * stream (sim_stretch.c).
 */
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

/* Beyond this many messages in flight the transport loses new ones; keeps
 * a run's memory and per-delivery scan bounded whatever the schedule. */
#define SIM_BAG_MAX 4096

/* Decoder limits for the simulator's transport: the library's own safety
 * caps, so any message a node may send gets through. */
static const struct raft_wire_limits sim_wire_limits = {
    RAFT_MAX_ACCEPT_ENTRIES, RAFT_MAX_ACCEPT_BYTES, UINT32_MAX};

/*
 * Does this library's wire codec carry leadership transfers (the
 * TIMEOUT_NOW type and the vote's transfer flag)? While it does not (they
 * were added to the core first), such messages travel as plain copies and
 * a vote's transfer flag is carried over by hand; once it does, everything
 * goes through the codec again and must survive it.
 */
static bool sim_codec_transfers(void)
{
    uint8_t buf[128];
    struct raft_msg m, d;
    size_t len = 0;
    memset(&m, 0, sizeof m);
    m.type = RAFT_MSG_TIMEOUT_NOW;
    m.from = 1;
    m.to = 2;
    m.term = 2;
    if (raft_msg_encode(&m, buf, sizeof buf, &len) != 0 ||
        raft_msg_decode(buf, len, NULL, &d, NULL, 0) != 0)
        return false;
    m.type = RAFT_MSG_VOTE;
    m.u.vote = (struct raft_msg_vote){1, 1, true};
    return raft_msg_encode(&m, buf, sizeof buf, &len) == 0 &&
           raft_msg_decode(buf, len, NULL, &d, NULL, 0) == 0 &&
           d.u.vote.transfer;
}

/* Copy of a message as a real transport would carry it: encoded with the
 * wire codec, then decoded (zero copy, so the entries point into the
 * encoded bytes) into one allocation. NULL when out of memory or when the
 * codec fails, which fails the run. */
static struct sim_msg *sim_msg_copy(struct sim *s, const struct raft_msg *m)
{
    size_t n = m->type == RAFT_MSG_APPEND ? m->u.append.n_entries : 0;
    size_t len = 0;
    if (s->codec_probe == 0)
        s->codec_probe = sim_codec_transfers() ? 1 : 2;
    if (s->codec_probe == 2 && m->type == RAFT_MSG_TIMEOUT_NOW) {
        struct sim_msg *raw = malloc(sizeof *raw);
        if (raw == NULL) {
            s->oom = true;
            return NULL;
        }
        raw->m = *m; /* no body: nothing points anywhere */
        raw->deliver_at = 0;
        return raw;
    }
    int rc = raft_msg_encode(m, NULL, 0, &len);
    if (rc != RAFT_ENOBUFS) {
        sim_fail(s, "Codec", "raft_msg_encode of a message node %llu sent "
                 "returned %d (%s)", (unsigned long long)m->from, rc,
                 raft_strerror(rc));
        return NULL;
    }
    size_t size = sizeof(struct sim_msg) + n * sizeof(struct raft_entry) + len;
    struct sim_msg *sm = malloc(size);
    if (sm == NULL) {
        s->oom = true;
        return NULL;
    }
    struct raft_entry *ents = (struct raft_entry *)(sm + 1);
    uint8_t *wire = (uint8_t *)(ents + n);
    size_t got = 0;
    rc = raft_msg_encode(m, wire, len, &got);
    if (rc == 0)
        rc = raft_msg_decode(wire, got, &sim_wire_limits, &sm->m, ents, n);
    if (rc != 0) {
        sim_fail(s, "Codec", "a message node %llu sent does not survive the "
                 "wire codec: %d (%s)", (unsigned long long)m->from, rc,
                 raft_strerror(rc));
        free(sm);
        return NULL;
    }
    s->st.wire_bytes += got;
    sm->deliver_at = 0;
    if (s->codec_probe == 2 && m->type == RAFT_MSG_VOTE)
        sm->m.u.vote.transfer = m->u.vote.transfer;
    return sm;
}

static uint64_t sim_net_latency(struct sim *s, const struct raft_msg *m)
{
    /* Links of the slow node (if any) add a fixed delay both ways. */
    uint64_t slow = m->from == s->slow_node || m->to == s->slow_node
                        ? s->slow_delay
                        : 0;
    if (!s->faults_on)
        return slow + 1 + sim_choose(s, 2); /* heal phase: 1..2 steps */
    if (sim_stretch_fast(s, m))
        return slow;
    uint64_t lat = slow + sim_choose(s, (uint64_t)s->f.max_latency + 1);
    if (sim_one_in(s, s->f.long_delay))
        lat += 10 + sim_choose(s, 51);
    return lat + sim_stretch_delay(s, m);
}

/* Put a copy in the bag; a full bag or a failed allocation loses it. */
static void sim_net_put(struct sim *s, const struct raft_msg *m)
{
    if (s->bag_len >= SIM_BAG_MAX) {
        s->st.dropped++;
        return;
    }
    struct sim_msg **bag =
        sim_grow(s, s->bag, &s->bag_cap, s->bag_len + 1, sizeof *bag);
    if (bag == NULL)
        return;
    s->bag = bag;
    struct sim_msg *sm = sim_msg_copy(s, m);
    if (sm == NULL)
        return;
    sm->deliver_at = s->now + sim_net_latency(s, m);
    sm->seq = ++s->msg_seq;
    sm->event = s->event;
    if (!s->faults_on) {
        /* Fault-free links keep order, as TCP does. */
        uint64_t *last = &s->link_due[m->from][m->to];
        if (sm->deliver_at < *last)
            sm->deliver_at = *last;
        *last = sm->deliver_at;
    } else if (sim_stretch_ordered(s, m)) {
        /* One message a step, in send order (delivery picks at random
         * among the messages due). */
        uint64_t *last = &s->link_due[m->from][m->to];
        if (sm->deliver_at <= *last)
            sm->deliver_at = *last + 1;
        *last = sm->deliver_at;
    }
    s->bag[s->bag_len++] = sm;
}

void sim_net_send(struct sim *s, const struct raft_msg *m)
{
    sim_stretch_on_send(s, m);
    sim_net_put(s, m);
}

/* Remove bag[i] (order of the bag is irrelevant: choices are by index). */
static struct sim_msg *sim_net_take(struct sim *s, size_t i)
{
    struct sim_msg *sm = s->bag[i];
    s->bag[i] = s->bag[--s->bag_len];
    return sm;
}

void sim_net_describe(const struct raft_msg *m, char *buf, size_t len)
{
    const char *names[] = {"?",           "VOTE",     "VOTE_RESP",
                           "APPEND",      "APPEND_RESP", "SNAPSHOT",
                           "SNAPSHOT_RESP", "PREVOTE", "PREVOTE_RESP",
                           "HEARTBEAT", "HEARTBEAT_RESP", "READ",
                           "READ_RESP",   "TIMEOUT_NOW"};
    int t = m->type >= 1 && m->type <= RAFT_MSG_TIMEOUT_NOW ? m->type : 0;
    int k = snprintf(buf, len, "%s %llu->%llu term=%llu", names[t],
                     (unsigned long long)m->from, (unsigned long long)m->to,
                     (unsigned long long)m->term);
    if (k < 0 || (size_t)k >= len)
        return;
    buf += k;
    len -= (size_t)k;
    switch (m->type) {
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_HEARTBEAT_RESP:
        snprintf(buf, len, " round=%llu",
                 (unsigned long long)m->u.heartbeat.round);
        break;
    case RAFT_MSG_READ:
    case RAFT_MSG_READ_RESP:
        snprintf(buf, len, " id=%llu index=%llu ok=%d",
                 (unsigned long long)m->u.read.id,
                 (unsigned long long)m->u.read.index, (int)m->u.read.ok);
        break;
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PREVOTE:
        snprintf(buf, len, " last=%llu/%llu",
                 (unsigned long long)m->u.vote.last_index,
                 (unsigned long long)m->u.vote.last_term);
        break;
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE_RESP:
        snprintf(buf, len, " granted=%d last=%llu/%llu",
                 (int)m->u.vote_resp.granted,
                 (unsigned long long)m->u.vote_resp.last_index,
                 (unsigned long long)m->u.vote_resp.last_term);
        break;
    case RAFT_MSG_APPEND:
        snprintf(buf, len, " prev=%llu/%llu n=%zu commit=%llu",
                 (unsigned long long)m->u.append.prev_index,
                 (unsigned long long)m->u.append.prev_term,
                 m->u.append.n_entries,
                 (unsigned long long)m->u.append.commit);
        break;
    case RAFT_MSG_APPEND_RESP:
        snprintf(buf, len, " ok=%d index=%llu hint=%llu/%llu",
                 (int)m->u.append_resp.success,
                 (unsigned long long)m->u.append_resp.index,
                 (unsigned long long)m->u.append_resp.hint_index,
                 (unsigned long long)m->u.append_resp.hint_term);
        break;
    case RAFT_MSG_SNAPSHOT:
        snprintf(buf, len, " snap=%llu/%llu offset=%llu len=%zu last=%d",
                 (unsigned long long)m->u.snapshot.index,
                 (unsigned long long)m->u.snapshot.index_term,
                 (unsigned long long)m->u.snapshot.offset, m->u.snapshot.len,
                 (int)m->u.snapshot.last);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        snprintf(buf, len, " snap=%llu offset=%llu done=%d",
                 (unsigned long long)m->u.snapshot_resp.index,
                 (unsigned long long)m->u.snapshot_resp.offset,
                 (int)m->u.snapshot_resp.done);
        break;
    default:
        break;
    }
}

/* Deliver (or lose, if the link is cut or the node down) and free sm. */
static void sim_net_deliver(struct sim *s, struct sim_msg *sm)
{
    struct sim_node *dst = &s->nodes[sm->m.to - 1];
    bool stalled = sim_stretch_stalled(s, sm);
    bool lost = !sim_node_alive(dst) || sim_net_cut(s, sm->m.from, sm->m.to) ||
                stalled;
    s->event++;
    if (s->trace != NULL) {
        char d[160];
        sim_net_describe(&sm->m, d, sizeof d);
        sim_tracef(s, "deliver %s%s", d,
                   !sim_node_alive(dst) ? " (lost: node down)"
                   : stalled && !sim_net_cut(s, sm->m.from, sm->m.to)
                       ? " (lost: replication stalled)"
                   : lost ? " (lost: link cut)"
                          : "");
    }
    if (lost) {
        s->st.dropped++;
    } else {
        s->st.delivered++;
        sim_stretch_on_deliver(s, &sm->m);
        sim_node_step(dst, &sm->m);
    }
    free(sm);
}

bool sim_net_cut(const struct sim *s, raft_id from, raft_id to)
{
    return s->cut[from][to] || sim_stretch_cut(s, from, to);
}

/* Messages to or from a paused node wait (its process is frozen). */
static bool sim_net_held(const struct sim *s, const struct raft_msg *m)
{
    return s->nodes[m->from - 1].paused_until != 0 ||
           s->nodes[m->to - 1].paused_until != 0 || sim_stretch_waits(s, m);
}

/* Indexes of the due messages into s->due; returns how many. */
static size_t sim_net_collect_due(struct sim *s)
{
    size_t k = 0;
    size_t *due = sim_grow(s, s->due, &s->due_cap, s->bag_len + 1, sizeof *due);
    if (due == NULL)
        return 0;
    s->due = due;
    for (size_t i = 0; i < s->bag_len; i++)
        if (s->bag[i]->deliver_at <= s->now && !sim_net_held(s, &s->bag[i]->m))
            due[k++] = i;
    return k;
}

/* Fault phase: deliver one due message chosen at random; false if none. */
bool sim_net_deliver_one(struct sim *s)
{
    size_t k = sim_net_collect_due(s);
    if (k == 0)
        return false;
    sim_net_deliver(s, sim_net_take(s, s->due[sim_choose(s, k)]));
    return true;
}

/*
 * Heal phase: deliver every message due now, in an order drawn from the
 * chooser. Messages sent meanwhile have latency >= 1 and wait for a later
 * step, so a step costs O(messages in flight) whatever the library sends.
 */
/* Keep the shuffled interleaving of links, but put the messages of each
 * link in send order (older messages from the fault phase aside, links are
 * FIFO in the heal phase). Quadratic in the batch, which holds what is due
 * in one step: a few dozen messages. */
static void sim_net_link_order(struct sim_msg **batch, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        /* batch[i] becomes the oldest remaining message of its link. */
        size_t best = i;
        for (size_t j = i + 1; j < k; j++)
            if (batch[j]->m.from == batch[i]->m.from &&
                batch[j]->m.to == batch[i]->m.to &&
                batch[j]->seq < batch[best]->seq)
                best = j;
        if (best != i) {
            struct sim_msg *t = batch[i];
            batch[i] = batch[best];
            batch[best] = t;
        }
    }
}

void sim_net_deliver_due(struct sim *s)
{
    struct sim_msg **batch = NULL;
    size_t k = 0, cap = 0;
    batch = sim_grow(s, batch, &cap, s->bag_len + 1, sizeof *batch);
    if (batch == NULL)
        return;
    for (size_t i = 0; i < s->bag_len;) {
        if (s->bag[i]->deliver_at <= s->now)
            batch[k++] = sim_net_take(s, i);
        else
            i++;
    }
    for (size_t i = k; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)sim_choose(s, i);
        struct sim_msg *t = batch[i - 1];
        batch[i - 1] = batch[j];
        batch[j] = t;
    }
    sim_net_link_order(batch, k);
    for (size_t i = 0; i < k; i++) {
        if (s->failed || s->oom)
            free(batch[i]);
        else
            sim_net_deliver(s, batch[i]);
    }
    free(batch);
}

void sim_net_drop_one(struct sim *s)
{
    if (s->bag_len == 0)
        return;
    struct sim_msg *sm = sim_net_take(s, sim_choose(s, s->bag_len));
    s->event++;
    s->st.dropped++;
    if (s->trace != NULL) {
        char d[160];
        sim_net_describe(&sm->m, d, sizeof d);
        sim_tracef(s, "drop %s", d);
    }
    free(sm);
}

/* Lose bag[i] now (part of a nemesis event: no event of its own). */
void sim_net_drop_at(struct sim *s, size_t i)
{
    struct sim_msg *sm = sim_net_take(s, i);
    s->st.dropped++;
    if (s->trace != NULL) {
        char d[160];
        sim_net_describe(&sm->m, d, sizeof d);
        sim_tracef(s, "  lose %s", d);
    }
    free(sm);
}

void sim_net_dup_one(struct sim *s)
{
    if (s->bag_len == 0)
        return;
    const struct sim_msg *sm = s->bag[sim_choose(s, s->bag_len)];
    s->event++;
    s->st.duplicated++;
    if (s->trace != NULL) {
        char d[160];
        sim_net_describe(&sm->m, d, sizeof d);
        sim_tracef(s, "duplicate %s", d);
    }
    sim_net_put(s, &sm->m);
}

/* A crashed node's inbox is lost with it (optional per crash). */
void sim_net_drop_to(struct sim *s, raft_id to)
{
    for (size_t i = 0; i < s->bag_len;) {
        if (s->bag[i]->m.to == to) {
            free(sim_net_take(s, i));
            s->st.dropped++;
        } else {
            i++;
        }
    }
}

void sim_net_free(struct sim *s)
{
    for (size_t i = 0; i < s->bag_len; i++)
        free(s->bag[i]);
    free(s->bag);
    free(s->due);
    s->bag = NULL;
    s->due = NULL;
    s->bag_len = s->bag_cap = s->due_cap = 0;
}
