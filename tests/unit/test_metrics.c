/*
 * test_metrics.c - raft_metrics(): the call itself (arguments, the size
 * rule of its ABI) and the exact value of every counter after scripted
 * scenarios: an election, proposals, each category of rejected message,
 * failed sends, a full outgoing queue, failed writes, step-downs,
 * asynchronous completions and a restart.
 *
 * Every scenario states the whole expected struct, not just the counters
 * it is about, so a counter bumped in the wrong place fails too.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

/* ---- helpers ------------------------------------------------------------ */

static struct raft_metrics metrics(struct harness *h, raft_id id)
{
    struct raft_metrics m;
    memset(&m, 0xA5, sizeof(m));
    int rc = raft_metrics(h_raft(h, id), &m, sizeof(m));
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(m.size, sizeof(m));
    return m;
}

/* An expectation: every counter 0. */
static struct raft_metrics zero(void)
{
    struct raft_metrics m;
    memset(&m, 0, sizeof(m));
    m.size = sizeof(m);
    return m;
}

/* Name of the uint64_t at word w of struct raft_metrics, into buf. */
static const char *field_name(size_t w, char *buf, size_t cap)
{
    static const struct {
        const char *name;
        size_t off;
        size_t words;
    } f[] = {
#define FIELD(x) {#x, offsetof(struct raft_metrics, x), \
                  sizeof(((struct raft_metrics *)0)->x) / sizeof(uint64_t)}
        FIELD(size), FIELD(sent), FIELD(recv), FIELD(rejected),
        FIELD(send_failures), FIELD(queue_full), FIELD(entries_sent),
        FIELD(entry_bytes_sent), FIELD(elections_started),
        FIELD(elections_won), FIELD(step_downs), FIELD(entries_proposed),
        FIELD(entries_replicated), FIELD(entries_applied),
        FIELD(persist_state_calls), FIELD(persist_entries_calls),
        FIELD(writes_completed),
#undef FIELD
    };
    size_t off = w * sizeof(uint64_t);
    for (size_t i = 0; i < H_ARRAY_LEN(f); i++) {
        if (off >= f[i].off && off < f[i].off + f[i].words * sizeof(uint64_t)) {
            if (f[i].words == 1) {
                snprintf(buf, cap, "%s", f[i].name);
            } else {
                snprintf(buf, cap, "%s[%zu]", f[i].name,
                         (off - f[i].off) / sizeof(uint64_t));
            }
            return buf;
        }
    }
    snprintf(buf, cap, "word %zu", w);
    return buf;
}

/* Fail, naming every counter that differs, unless node id's counters are
 * exactly `want`. */
static void expect(struct harness *h, raft_id id, const struct raft_metrics *want,
                   const char *what)
{
    struct raft_metrics got = metrics(h, id);
    uint64_t g[sizeof(got) / sizeof(uint64_t)], w[sizeof(got) / sizeof(uint64_t)];
    char diff[1024] = "";
    size_t used = 0;
    memcpy(g, &got, sizeof(got));
    memcpy(w, want, sizeof(got));
    for (size_t i = 0; i < H_ARRAY_LEN(g); i++) {
        if (g[i] != w[i] && used < sizeof(diff) - 80) {
            char name[48];
            used += (size_t)snprintf(diff + used, sizeof(diff) - used,
                                     " %s=%llu (want %llu)",
                                     field_name(i, name, sizeof(name)),
                                     (unsigned long long)g[i],
                                     (unsigned long long)w[i]);
        }
    }
    ck_assert_msg(used == 0, "%s, node %llu:%s", what, (unsigned long long)id,
                  diff);
}

/* A 3-node cluster with node 1 elected; `o` may be NULL. */
static struct harness *elected(const struct h_opts *o)
{
    struct h_opts d = {.seed = 5};
    struct harness *h = h_new(3, o != NULL ? o : &d);
    h_bootstrap_all(h);
    h_elect(h, 1);
    return h;
}

/* ---- the call ------------------------------------------------------------ */

START_TEST(test_metrics_arguments)
{
    struct harness *h = h_new(1, NULL);
    struct raft *r = h_raft(h, 1);
    struct raft_metrics m;
    memset(&m, 0xA5, sizeof(m));
    ck_assert_int_eq(raft_metrics(NULL, &m, sizeof(m)), RAFT_EINVAL);
    ck_assert_int_eq(raft_metrics(r, NULL, sizeof(m)), RAFT_EINVAL);
    ck_assert_int_eq(raft_metrics(r, &m, 0), RAFT_EINVAL);
    ck_assert_int_eq(raft_metrics(r, &m, 4), RAFT_EINVAL);
    ck_assert_int_eq(raft_metrics(r, &m, sizeof(m) - 4), RAFT_EINVAL);
    /* Refused calls leave out untouched. */
    ck_assert_uint_eq(m.size, 0xA5A5A5A5A5A5A5A5u);

    /* Not even started: every counter is 0. */
    struct raft_metrics want = zero();
    expect(h, 1, &want, "a node just created");
    h_free(h);
}
END_TEST

/* A caller built against an older raft.h passes a smaller size: only that
 * prefix is written. One built against a newer raft.h passes a larger
 * size: the words the library does not know are zeroed, and `size` says
 * where they start. */
START_TEST(test_metrics_size_rule)
{
    struct harness *h = elected(NULL);
    struct raft *r = h_raft(h, 1);
    struct raft_metrics full = metrics(h, 1);
    ck_assert_uint_eq(full.sent[RAFT_MSG_VOTE], 2);

    /* Older: size and sent[] only. */
    size_t old = offsetof(struct raft_metrics, recv);
    uint64_t buf[sizeof(struct raft_metrics) / sizeof(uint64_t) + 4];
    memset(buf, 0xA5, sizeof(buf));
    ck_assert_int_eq(raft_metrics(r, (struct raft_metrics *)(void *)buf, old), 0);
    ck_assert_uint_eq(buf[0], old);
    ck_assert_int_eq(memcmp(&buf[1], full.sent, sizeof(full.sent)), 0);
    for (size_t i = old / sizeof(uint64_t); i < H_ARRAY_LEN(buf); i++) {
        ck_assert_uint_eq(buf[i], 0xA5A5A5A5A5A5A5A5u);
    }

    /* Only the size word. */
    memset(buf, 0xA5, sizeof(buf));
    ck_assert_int_eq(raft_metrics(r, (struct raft_metrics *)(void *)buf, 8), 0);
    ck_assert_uint_eq(buf[0], 8);
    ck_assert_uint_eq(buf[1], 0xA5A5A5A5A5A5A5A5u);

    /* Newer: four words more than this library has. */
    memset(buf, 0xA5, sizeof(buf));
    ck_assert_int_eq(raft_metrics(r, (struct raft_metrics *)(void *)buf,
                                  sizeof(buf)), 0);
    ck_assert_uint_eq(buf[0], sizeof(struct raft_metrics));
    ck_assert_int_eq(memcmp(&buf[1], &full.sent,
                            sizeof(full) - sizeof(uint64_t)), 0);
    for (size_t i = sizeof(full) / sizeof(uint64_t); i < H_ARRAY_LEN(buf); i++) {
        ck_assert_uint_eq(buf[i], 0);
    }
    h_free(h);
}
END_TEST

/* ---- scenarios ------------------------------------------------------------ */

/*
 * Node 1 times out and wins: it persists term 1 and its vote, asks 2 and
 * 3, wins on the first grant, writes its no-op and sends it to both; the
 * second grant arrives late (counted as received, not rejected); both
 * followers store and acknowledge the no-op, which commits and is applied
 * on the leader.
 */
START_TEST(test_metrics_after_election)
{
    struct harness *h = elected(NULL);
    struct raft_metrics l = zero();
    l.sent[RAFT_MSG_VOTE] = 2;
    l.sent[RAFT_MSG_APPEND] = 2;
    l.recv[RAFT_MSG_VOTE_RESP] = 2;
    l.recv[RAFT_MSG_APPEND_RESP] = 2;
    l.entries_sent = 2; /* the first entry, to each follower: the
                           configuration of 3 voters, 8 + 3 * 9 bytes */
    l.entry_bytes_sent = 2 * (8 + 3 * 9);
    l.elections_started = 1;
    l.elections_won = 1;
    l.entries_applied = 1;
    l.persist_state_calls = 1;
    l.persist_entries_calls = 1;
    expect(h, 1, &l, "leader after the election");

    struct raft_metrics f = zero();
    f.sent[RAFT_MSG_VOTE_RESP] = 1;
    f.sent[RAFT_MSG_APPEND_RESP] = 1;
    f.recv[RAFT_MSG_VOTE] = 1;
    f.recv[RAFT_MSG_APPEND] = 1;
    f.entries_replicated = 1;
    f.persist_state_calls = 1;
    f.persist_entries_calls = 1;
    expect(h, 2, &f, "follower after the election");
    expect(h, 3, &f, "follower after the election");
    h_free(h);
}
END_TEST

/*
 * Three single proposals of 1, 2 and 3 bytes, then a batch of two of 4
 * bytes each, then one heartbeat round that carries the commit index.
 */
START_TEST(test_metrics_after_proposals)
{
    struct harness *h = elected(NULL);
    struct raft_metrics l = metrics(h, 1);
    struct raft_metrics f = metrics(h, 2);

    ck_assert_int_eq(h_propose(h, 1, "a", NULL), 0);
    ck_assert_int_eq(h_propose(h, 1, "bb", NULL), 0);
    ck_assert_int_eq(h_propose(h, 1, "ccc", NULL), 0);
    /* One AppendEntries per proposal and follower (pipelined), one entry
     * each. */
    l.sent[RAFT_MSG_APPEND] += 6;
    l.entries_sent += 6;
    l.entry_bytes_sent += 2 * (1 + 2 + 3);
    l.entries_proposed += 3;
    l.persist_entries_calls += 3;
    expect(h, 1, &l, "leader after three proposals");

    struct raft_buf b[2] = {{"dddd", 4}, {"eeee", 4}};
    ck_assert_int_eq(raft_propose_batch(h_raft(h, 1), b, 2, NULL), 0);
    l.sent[RAFT_MSG_APPEND] += 2; /* one message per follower, both entries */
    l.entries_sent += 4;
    l.entry_bytes_sent += 2 * 8;
    l.entries_proposed += 2;
    l.persist_entries_calls += 1; /* one write for the batch */
    expect(h, 1, &l, "leader after a batch of two");

    h_deliver_all(h);
    /* Each follower stored and acknowledged four messages (the first
     * carried commit 1: each applies the no-op); each ack commits more on
     * the leader, which applies the 5 commands. */
    l.recv[RAFT_MSG_APPEND_RESP] += 8;
    l.entries_applied += 5;
    expect(h, 1, &l, "leader after the acks");
    f.recv[RAFT_MSG_APPEND] += 4;
    f.sent[RAFT_MSG_APPEND_RESP] += 4;
    f.entries_replicated += 5;
    f.entries_applied += 1;
    f.persist_entries_calls += 4;
    expect(h, 2, &f, "follower after the proposals");

    /* A heartbeat (no entries) tells the followers the commit index. */
    h_heartbeat(h, 1, 1);
    l.sent[RAFT_MSG_APPEND] += 2;
    l.recv[RAFT_MSG_APPEND_RESP] += 2;
    expect(h, 1, &l, "leader after a heartbeat");
    f.recv[RAFT_MSG_APPEND] += 1;
    f.sent[RAFT_MSG_APPEND_RESP] += 1;
    f.entries_applied += 5;
    expect(h, 2, &f, "follower after a heartbeat");
    expect(h, 3, &f, "follower after a heartbeat");
    h_free(h);
}
END_TEST

/* ---- rejections, one row per rejection site -------------------------------- */

/* Node 1 is put in one of these roles before each message. */
enum {
    FOLLOWER, /* term 5, log [1,1,2], leader 2, commit 1 */
    LEADER    /* term 6, log [1,1,2,6] */
};

static char payload[4] = "abc";
static struct raft_entry ents[2];

struct reject_case {
    const char *name;
    int role;
    int kind;     /* RAFT_REJECT_* */
    int rc;       /* raft_step's code */
    bool replies; /* a stale-term request is answered */
    struct raft_msg (*build)(void);
};

/* A valid heartbeat of term 5 from the leader, 2, to follower 1. */
static struct raft_msg hb5(void)
{
    return h_msg_append(2, 1, 5, 3, 2, 1, NULL, 0);
}
/* An AppendEntries of term 5 from 2 with one entry of term 5 after (3,2). */
static struct raft_msg app5(void)
{
    ents[0] = (struct raft_entry){5, RAFT_ENTRY_COMMAND, payload, 3};
    ents[1] = ents[0];
    return h_msg_append(2, 1, 5, 3, 2, 1, ents, 1);
}

static struct raft_msg c_wrong_recipient(void)
{
    struct raft_msg m = hb5();
    m.to = 3;
    return m;
}
static struct raft_msg c_term_zero(void)
{
    struct raft_msg m = hb5();
    m.term = 0;
    return m;
}
static struct raft_msg c_term_max(void)
{
    struct raft_msg m = hb5();
    m.term = UINT64_MAX;
    return m;
}
static struct raft_msg c_unknown_type(void)
{
    struct raft_msg m = hb5();
    m.type = 14; /* the first type after RAFT_MSG_TIMEOUT_NOW */
    return m;
}
static struct raft_msg c_vote_bad_pair(void)
{
    return h_msg_vote(3, 1, 7, 0, 2);
}
static struct raft_msg c_vote_resp_bad_pair(void)
{
    return h_msg_vote_resp(2, 1, 7, true, 4, 0);
}
static struct raft_msg c_append_bad_prev(void)
{
    return h_msg_append(2, 1, 5, 3, 0, 1, NULL, 0);
}
static struct raft_msg c_append_entries_missing(void)
{
    struct raft_msg m = app5();
    m.u.append.entries = NULL;
    return m;
}
static struct raft_msg c_append_index_overflow(void)
{
    struct raft_msg m = app5();
    m.u.append.prev_index = UINT64_MAX - 1;
    return m;
}
static struct raft_msg c_entry_term_zero(void)
{
    struct raft_msg m = app5();
    ents[0].term = 0;
    return m;
}
static struct raft_msg c_entry_type(void)
{
    struct raft_msg m = app5();
    ents[0].type = 7;
    return m;
}
static struct raft_msg c_entry_payload_missing(void)
{
    struct raft_msg m = app5();
    ents[0].buf = NULL;
    return m;
}
static struct raft_msg c_append_resp_bad_hint(void)
{
    return h_msg_append_resp(2, 1, 6, false, 2, 3, 1);
}
static struct raft_msg c_unknown_sender(void)
{
    struct raft_msg m = hb5();
    m.from = 9;
    m.type = RAFT_MSG_APPEND_RESP; /* a reply: requests from anyone are taken */
    memset(&m.u, 0, sizeof(m.u));
    return m;
}
static struct raft_msg c_from_self(void)
{
    struct raft_msg m = hb5();
    m.from = 1;
    return m;
}
static struct raft_msg c_too_many_entries(void)
{
    struct raft_msg m = app5();
    m.u.append.n_entries = RAFT_MAX_ACCEPT_ENTRIES + 1u; /* never read */
    return m;
}
static struct raft_msg c_too_many_bytes(void)
{
    struct raft_msg m = app5();
    ents[0].len = RAFT_MAX_ACCEPT_BYTES + 1u; /* never read */
    return m;
}
static struct raft_msg c_stale_vote(void)
{
    return h_msg_vote(3, 1, 4, 3, 2);
}
static struct raft_msg c_stale_append(void)
{
    return h_msg_append(3, 1, 4, 3, 2, 1, NULL, 0);
}
static struct raft_msg c_stale_vote_resp(void)
{
    return h_msg_vote_resp(3, 1, 4, true, 3, 2);
}
static struct raft_msg c_stale_append_resp(void)
{
    return h_msg_append_resp(3, 1, 4, true, 3, 0, 0);
}
static struct raft_msg c_second_leader(void)
{
    return h_msg_append(3, 1, 5, 3, 2, 1, NULL, 0);
}
static struct raft_msg c_conflicts_with_commit(void)
{
    /* Commit is 1; entry 2 (term 1 here) claimed with term 2 after (1,1). */
    ents[0] = (struct raft_entry){2, RAFT_ENTRY_COMMAND, payload, 3};
    ents[1] = (struct raft_entry){2, RAFT_ENTRY_COMMAND, payload, 3};
    return h_msg_append(2, 1, 5, 0, 0, 1, ents, 2);
}
static struct raft_msg c_conflicts_below_commit(void)
{
    /* Commit is 1; entry 1 (term 1 here) claimed with term 2, and no
     * entry above the commit index. */
    ents[0] = (struct raft_entry){2, RAFT_ENTRY_COMMAND, payload, 3};
    return h_msg_append(2, 1, 5, 0, 0, 1, ents, 1);
}
static struct raft_msg c_ack_past_log(void)
{
    return h_msg_append_resp(2, 1, 6, true, 9, 0, 0);
}
static struct raft_msg c_log_mismatch(void)
{
    return h_msg_append(2, 1, 5, 3, 3, 1, NULL, 0);
}
static struct raft_msg c_log_too_short(void)
{
    return h_msg_append(2, 1, 5, 7, 4, 1, NULL, 0);
}

static const struct reject_case reject_cases[] = {
    {"wrong recipient", FOLLOWER, RAFT_REJECT_MALFORMED, RAFT_EBADMSG, false, c_wrong_recipient},
    {"term 0", FOLLOWER, RAFT_REJECT_MALFORMED, RAFT_EBADMSG, false, c_term_zero},
    {"term UINT64_MAX", FOLLOWER, RAFT_REJECT_MALFORMED, RAFT_EBADMSG, false, c_term_max},
    {"unknown type", FOLLOWER, RAFT_REJECT_MALFORMED, RAFT_EBADMSG, false, c_unknown_type},
    {"vote: impossible last entry", FOLLOWER, RAFT_REJECT_MALFORMED, RAFT_EBADMSG, false, c_vote_bad_pair},
    {"vote reply: impossible last entry", FOLLOWER, RAFT_REJECT_MALFORMED, RAFT_EBADMSG, false, c_vote_resp_bad_pair},
    {"append: impossible previous entry", FOLLOWER, RAFT_REJECT_MALFORMED, RAFT_EBADMSG, false, c_append_bad_prev},
    {"append: entries missing", FOLLOWER, RAFT_REJECT_MALFORMED, RAFT_EBADMSG, false, c_append_entries_missing},
    {"append: index range overflows", FOLLOWER, RAFT_REJECT_MALFORMED, RAFT_EBADMSG, false, c_append_index_overflow},
    {"append: entry term 0", FOLLOWER, RAFT_REJECT_MALFORMED, RAFT_EBADMSG, false, c_entry_term_zero},
    {"append: unknown entry type", FOLLOWER, RAFT_REJECT_MALFORMED, RAFT_EBADMSG, false, c_entry_type},
    {"append: payload missing", FOLLOWER, RAFT_REJECT_MALFORMED, RAFT_EBADMSG, false, c_entry_payload_missing},
    {"append reply: impossible hint", LEADER, RAFT_REJECT_MALFORMED, RAFT_EBADMSG, false, c_append_resp_bad_hint},
    {"unknown sender", FOLLOWER, RAFT_REJECT_NOT_MEMBER, RAFT_ENOTMEMBER, false, c_unknown_sender},
    {"sent by this node", FOLLOWER, RAFT_REJECT_NOT_MEMBER, RAFT_ENOTMEMBER, false, c_from_self},
    {"too many entries", FOLLOWER, RAFT_REJECT_TOO_BIG, RAFT_ETOOBIG, false, c_too_many_entries},
    {"too many payload bytes", FOLLOWER, RAFT_REJECT_TOO_BIG, RAFT_ETOOBIG, false, c_too_many_bytes},
    {"stale vote", FOLLOWER, RAFT_REJECT_STALE_TERM, RAFT_ESTALE, true, c_stale_vote},
    {"stale append", FOLLOWER, RAFT_REJECT_STALE_TERM, RAFT_ESTALE, true, c_stale_append},
    {"stale vote reply", LEADER, RAFT_REJECT_STALE_TERM, RAFT_ESTALE, false, c_stale_vote_resp},
    {"stale append reply", LEADER, RAFT_REJECT_STALE_TERM, RAFT_ESTALE, false, c_stale_append_resp},
    {"second leader in a term", FOLLOWER, RAFT_REJECT_CONFLICT, RAFT_EBADMSG, false, c_second_leader},
    {"conflicts with a committed entry", FOLLOWER, RAFT_REJECT_CONFLICT, RAFT_EBADMSG, false, c_conflicts_with_commit},
    {"conflicts with committed entries only", FOLLOWER, RAFT_REJECT_CONFLICT, RAFT_EBADMSG, false, c_conflicts_below_commit},
    {"acknowledges past the log", LEADER, RAFT_REJECT_CONFLICT, RAFT_EBADMSG, false, c_ack_past_log},
    {"log mismatch: other term", FOLLOWER, RAFT_REJECT_LOG_MISMATCH, 0, true, c_log_mismatch},
    {"log mismatch: log too short", FOLLOWER, RAFT_REJECT_LOG_MISMATCH, 0, true, c_log_too_short},
};

static struct harness *reject_setup(int role)
{
    const raft_term log[] = {1, 1, 2};
    struct h_opts o = {.seed = 3};
    struct harness *h = h_single(3, &o, 5, 0, log, 3);
    if (role == FOLLOWER) {
        struct raft_msg m = hb5();
        ck_assert_int_eq(raft_step(h_raft(h, 1), &m), 0);
        ck_assert_uint_eq(raft_leader(h_raft(h, 1)), 2);
    } else {
        h_make_leader_scripted(h, 1);
    }
    h_drop_all(h);
    h_reset_all_calls(h);
    return h;
}

START_TEST(test_metrics_rejected_by_category)
{
    const struct reject_case *c = &reject_cases[_i];
    struct harness *h = reject_setup(c->role);
    struct raft_metrics want = metrics(h, 1);
    struct raft_msg m = c->build();
    int type = m.type;
    int rc = raft_step(h_raft(h, 1), &m);
    ck_assert_msg(rc == c->rc, "%s: raft_step = %d, want %d", c->name, rc,
                  c->rc);
    want.rejected[c->kind]++;
    /* Refused by validation: not received. Otherwise received, rejected
     * afterwards. */
    if (c->kind == RAFT_REJECT_STALE_TERM || c->kind == RAFT_REJECT_CONFLICT ||
        c->kind == RAFT_REJECT_LOG_MISMATCH) {
        want.recv[type]++;
    }
    if (c->replies) {
        want.sent[type == RAFT_MSG_VOTE ? RAFT_MSG_VOTE_RESP
                                        : RAFT_MSG_APPEND_RESP]++;
    }
    expect(h, 1, &want, c->name);
    h_free(h);
}
END_TEST

/* ---- losses and failures -------------------------------------------------- */

/* A send the callback refuses is a failure, not a message sent. */
START_TEST(test_metrics_failed_send)
{
    struct harness *h = elected(NULL);
    struct raft_metrics l = metrics(h, 1);
    h_node(h, 1)->fail_send_to[2] = 1;
    ck_assert_int_eq(h_propose(h, 1, "xy", NULL), 0);
    l.sent[RAFT_MSG_APPEND] += 1; /* to 3 only */
    l.entries_sent += 1;
    l.entry_bytes_sent += 2;
    l.send_failures += 1;
    l.entries_proposed += 1;
    l.persist_entries_calls += 1;
    expect(h, 1, &l, "leader after a failed send");
    ck_assert_uint_eq(h_node(h, 1)->fail_send_to[2], 0);
    h_free(h);
}
END_TEST

/*
 * Asynchronous mode: replies to stale-term requests wait for the node's
 * pending term write, so they pile up in the outgoing queue (4 slots per
 * voter plus 8: 20 for 3 voters). One is already waiting; 25 more
 * requests fill the 19 free slots and lose 6. Reporting the write sends
 * the 20.
 */
START_TEST(test_metrics_queue_full)
{
    const raft_term log[] = {1, 1, 2};
    struct h_opts o = {.seed = 3, .async = true};
    struct harness *h = h_single(3, &o, 5, 0, log, 3);
    struct raft *r = h_raft(h, 1);
    /* A term-6 candidate with a shorter log: refused, but term 6 adopted
     * (a write, not yet durable), and the refusal waits for it. */
    struct raft_msg v = h_msg_vote(2, 1, 6, 1, 1);
    ck_assert_int_eq(raft_step(r, &v), 0);
    for (int i = 0; i < 25; i++) {
        struct raft_msg s = h_msg_vote(3, 1, 5, 3, 2);
        ck_assert_int_eq(raft_step(r, &s), RAFT_ESTALE);
    }
    struct raft_metrics want = zero();
    want.recv[RAFT_MSG_VOTE] = 26;
    want.rejected[RAFT_REJECT_STALE_TERM] = 25;
    want.queue_full = 6;
    want.persist_state_calls = 1;
    expect(h, 1, &want, "20 replies waiting, 6 lost");
    ck_assert_uint_eq(h_count(h, 0, 0, 0), 0);

    ck_assert_int_eq(h_persisted(h, 1, 1, 0), 0);
    want.writes_completed = 1;
    want.sent[RAFT_MSG_VOTE_RESP] = 20;
    expect(h, 1, &want, "after the write completed");
    ck_assert_uint_eq(h_count(h, 1, 0, RAFT_MSG_VOTE_RESP), 20);
    h_free(h);
}
END_TEST

/* A failed persist_state is a call made, but no election. */
START_TEST(test_metrics_failed_term_write)
{
    struct h_opts o = {.seed = 5};
    struct harness *h = h_new(3, &o);
    h_bootstrap_all(h);
    h_node(h, 1)->fail_persist_state = 1;
    ck_assert_uint_ne(h_tick_until_role(h, 1, RAFT_CANDIDATE, 100), 0);
    struct raft_metrics want = zero();
    want.persist_state_calls = 2; /* the failed one, then the next tick's */
    want.elections_started = 1;
    want.sent[RAFT_MSG_VOTE] = 2;
    expect(h, 1, &want, "candidate after one failed term write");
    h_free(h);
}
END_TEST

/*
 * Step-downs: a leader whose own write fails (synchronous), a leader that
 * sees a higher term, and one whose asynchronous write fails.
 */
START_TEST(test_metrics_step_downs)
{
    struct harness *h = elected(NULL);
    struct raft_metrics l = metrics(h, 1);
    h_node(h, 1)->fail_persist_entries = 1;
    ck_assert_int_eq(h_propose(h, 1, "x", NULL), RAFT_EPERSIST);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_FOLLOWER);
    l.step_downs += 1;
    l.persist_entries_calls += 1; /* failed: nothing proposed */
    expect(h, 1, &l, "leader whose write failed");
    h_free(h);

    h = elected(NULL);
    l = metrics(h, 1);
    struct raft_msg v = h_msg_vote(2, 1, 9, 1, 1); /* shorter log: refused */
    ck_assert_int_eq(raft_step(h_raft(h, 1), &v), 0);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_FOLLOWER);
    l.step_downs += 1;
    l.recv[RAFT_MSG_VOTE] += 1;
    l.sent[RAFT_MSG_VOTE_RESP] += 1;
    l.persist_state_calls += 1; /* term 9, no vote */
    expect(h, 1, &l, "leader that saw a higher term");
    h_free(h);

    struct h_opts o = {.seed = 5, .async = true};
    h = elected(&o);
    l = metrics(h, 1);
    ck_assert_int_eq(h_propose(h, 1, "x", NULL), 0);
    ck_assert_int_eq(h_persisted(h, 1, 1, -1), RAFT_ESTOPPED);
    ck_assert_int_eq(raft_role(h_raft(h, 1)), RAFT_FOLLOWER);
    l.sent[RAFT_MSG_APPEND] += 2; /* before its own write (thesis 10.2.1) */
    l.entries_sent += 2;
    l.entry_bytes_sent += 2;
    l.entries_proposed += 1;
    l.persist_entries_calls += 1;
    l.step_downs += 1;
    expect(h, 1, &l, "leader whose asynchronous write failed");
    h_free(h);
}
END_TEST

/*
 * Asynchronous mode: completions are counted as reported; acknowledgements
 * wait for them, and two that leave together are sent as one; the leader
 * applies once its own copy is durable.
 */
START_TEST(test_metrics_async_completions)
{
    struct h_opts o = {.seed = 5, .async = true};
    struct harness *h = elected(&o);
    struct raft_metrics l = metrics(h, 1);
    struct raft_metrics f = metrics(h, 2);
    /* The election's writes on the leader: term/vote and the no-op. */
    ck_assert_uint_eq(l.writes_completed, 2);
    ck_assert_uint_eq(l.persist_state_calls, 1);
    ck_assert_uint_eq(l.persist_entries_calls, 1);

    ck_assert_int_eq(h_propose(h, 1, "a", NULL), 0);
    ck_assert_int_eq(h_propose(h, 1, "b", NULL), 0);
    h_deliver_all(h);
    l.sent[RAFT_MSG_APPEND] += 4;
    l.entries_sent += 4;
    l.entry_bytes_sent += 4;
    l.entries_proposed += 2;
    l.persist_entries_calls += 2;
    expect(h, 1, &l, "leader, nothing durable yet");
    f.recv[RAFT_MSG_APPEND] += 2;
    f.entries_replicated += 2;
    f.persist_entries_calls += 2;
    f.entries_applied += 1; /* the no-op: durable, and now known committed */
    expect(h, 2, &f, "follower, acks waiting for its writes");

    ck_assert_int_eq(h_persisted(h, 2, 2, 0), 0);
    f.writes_completed += 2;
    f.sent[RAFT_MSG_APPEND_RESP] += 1; /* the newer ack says it all */
    expect(h, 2, &f, "follower after its writes");
    h_deliver_all(h);
    l.recv[RAFT_MSG_APPEND_RESP] += 1;
    expect(h, 1, &l, "leader: one ack, its own copy not durable");

    ck_assert_int_eq(h_persisted(h, 1, 2, 0), 0);
    l.writes_completed += 2;
    l.entries_applied += 2;
    expect(h, 1, &l, "leader after its own writes");
    h_free(h);
}
END_TEST

/* Counters are not persisted: a restarted node counts from 0. */
START_TEST(test_metrics_restart_counts_from_zero)
{
    struct harness *h = elected(NULL);
    ck_assert_int_eq(h_propose(h, 1, "a", NULL), 0);
    h_deliver_all(h);
    ck_assert_int_eq(h_restart(h, 2), 0);
    struct raft_metrics want = zero();
    expect(h, 2, &want, "restarted node");
    /* The leader's next heartbeat: received, acknowledged, and it learns
     * the commit index and applies the whole log again. */
    h_heartbeat(h, 1, 1);
    want.recv[RAFT_MSG_APPEND] = 1;
    want.sent[RAFT_MSG_APPEND_RESP] = 1;
    want.entries_applied = 2;
    expect(h, 2, &want, "restarted node after a heartbeat");
    h_free(h);
}
END_TEST

/* Counting does not depend on the event callback being set. */
START_TEST(test_metrics_without_event_callback)
{
    struct h_opts o = {.seed = 5, .no_event_cb = true};
    struct harness *h = elected(&o);
    struct raft_metrics l = metrics(h, 1);
    ck_assert_uint_eq(l.elections_started, 1);
    ck_assert_uint_eq(l.elections_won, 1);
    struct raft_msg m = h_msg_append_resp(2, 1, 1, true, 9, 0, 0);
    ck_assert_int_eq(raft_step(h_raft(h, 1), &m), RAFT_EBADMSG);
    l.recv[RAFT_MSG_APPEND_RESP] += 1;
    l.rejected[RAFT_REJECT_CONFLICT] += 1;
    expect(h, 1, &l, "without an event callback");
    h_free(h);
}
END_TEST

Suite *raft_metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    h_tcase_cleanup(tc);
    tcase_add_test(tc, test_metrics_arguments);
    tcase_add_test(tc, test_metrics_size_rule);
    tcase_add_test(tc, test_metrics_after_election);
    tcase_add_test(tc, test_metrics_after_proposals);
    tcase_add_loop_test(tc, test_metrics_rejected_by_category, 0,
                        (int)H_ARRAY_LEN(reject_cases));
    tcase_add_test(tc, test_metrics_failed_send);
    tcase_add_test(tc, test_metrics_queue_full);
    tcase_add_test(tc, test_metrics_failed_term_write);
    tcase_add_test(tc, test_metrics_step_downs);
    tcase_add_test(tc, test_metrics_async_completions);
    tcase_add_test(tc, test_metrics_restart_counts_from_zero);
    tcase_add_test(tc, test_metrics_without_event_callback);
    suite_add_tcase(s, tc);
    return s;
}
