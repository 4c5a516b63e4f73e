/*
 * gen_corpus.c - writes the seed corpora under <dir>/<target>/ (make
 * fuzz-corpus writes fuzz/corpus/). Deterministic: the same files every run.
 *
 *   fuzz_decode     a mode byte (see fuzz_decode.c) + encoded messages of
 *                   every type, with default, small and raw limits; raw
 *                   configurations
 *   fuzz_roundtrip  raw mode: encoded messages; structured mode: message
 *                   descriptions in fuzz_roundtrip.c's format
 *   fuzz_node       operation streams in fuzz_node's format (fuzz.h): win an
 *                   election and replicate, follow a leader, restore and
 *                   restart, failures, messages through the codec; receive
 *                   and install a snapshot, compact and stream one, the
 *                   snapshot callbacks failing, a node without them;
 *                   membership changes (single, joint, explicit leave), a
 *                   leadership transfer either side, a joining node;
 *                   a follower and a leader near the end of the index
 *                   space (bulk appends up to it, past it, compaction)
 *   fuzz_sim        byte-chooser strings from a fixed PRNG
 *   fuzz_storage    data directories in fuzz_storage's format (fuzz.h):
 *                   a log of 3-4 segments with a snapshot, intact or
 *                   damaged (torn tails, garbage over the zero fill, flipped
 *                   or deleted records and segments, a valid record after
 *                   the fill), installations, a crash in one, a prepared
 *                   segment, truncations, the single-file log; raw files
 */
#include <errno.h>
#include <sys/stat.h>

#include "fuzz.h"

struct out {
    uint8_t b[8192];
    size_t n;
};

static void put(struct out *o, const void *p, size_t n)
{
    if (o->n + n > sizeof(o->b)) {
        fprintf(stderr, "gen_corpus: file too big\n");
        exit(1);
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void u8(struct out *o, unsigned v)
{
    uint8_t b = (uint8_t)v;
    put(o, &b, 1);
}

static void u16(struct out *o, unsigned v)
{
    u8(o, v & 0xff);
    u8(o, (v >> 8) & 0xff);
}

static void u32(struct out *o, uint32_t v)
{
    u16(o, v & 0xffff);
    u16(o, v >> 16);
}

static void u64(struct out *o, uint64_t v)
{
    u32(o, (uint32_t)v);
    u32(o, (uint32_t)(v >> 32));
}

static void msg(struct out *o, const struct raft_msg *m)
{
    size_t len = 0;
    if (raft_msg_encode(m, o->b + o->n, sizeof(o->b) - o->n, &len) != 0) {
        fprintf(stderr, "gen_corpus: encode failed\n");
        exit(1);
    }
    o->n += len;
}

/* A message through the node's STEP_WIRE operation. */
static void wire_op(struct out *o, const struct raft_msg *m)
{
    size_t len = 0;
    raft_msg_encode(m, NULL, 0, &len);
    u8(o, FZ_OP_STEP_WIRE);
    u16(o, (unsigned)len);
    msg(o, m);
}

static const char *root;

static void mkdirs(const char *target)
{
    char path[512];
    if (mkdir(root, 0755) != 0 && errno != EEXIST) {
        perror(root);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s", root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
}

static void save(const char *target, const char *name, const struct out *o)
{
    char path[512];
    FILE *f;
    mkdirs(target);
    snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(o->b, 1, o->n, f) != o->n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* ---- sample messages -------------------------------------------------------- */

static const struct raft_entry two[2] = {
    {3, RAFT_ENTRY_COMMAND, "hello", 5},
    {4, RAFT_ENTRY_NOOP, NULL, 0},
};
static const struct raft_entry three[3] = {
    {2, RAFT_ENTRY_NOOP, NULL, 0},
    {2, RAFT_ENTRY_COMMAND, "set x=1", 7},
    {5, RAFT_ENTRY_COMMAND, "0123456789abcdef", 16},
};
static const char chunk[] = "snapshot bytes: state machine";
/* Voters 1, 2, 3 (the bootstrap list of the samples). */
static const uint8_t conf123[35] = {
    1, 0, 0, 0, 3, 0, 0, 0,
    1, 0, 0, 0, 0, 0, 0, 0, 1,
    2, 0, 0, 0, 0, 0, 0, 0, 1,
    3, 0, 0, 0, 0, 0, 0, 0, 1,
};
/* Joint: 1 and 2 stay, 3 goes, 4 comes in; left automatically. */
static const uint8_t conf_joint[44] = {
    1, 1, 0, 0, 4, 0, 0, 0,
    1, 0, 0, 0, 0, 0, 0, 0, 3,
    2, 0, 0, 0, 0, 0, 0, 0, 3,
    3, 0, 0, 0, 0, 0, 0, 0, 2,
    4, 0, 0, 0, 0, 0, 0, 0, 1,
};
static const struct raft_entry confs[3] = {
    {1, RAFT_ENTRY_CONFIG, conf123, sizeof(conf123)},
    {2, RAFT_ENTRY_COMMAND, "x", 1},
    {2, RAFT_ENTRY_CONFIG, conf_joint, sizeof(conf_joint)},
};

static struct raft_msg sample(int which)
{
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.from = 1;
    m.to = 2;
    m.term = 5;
    switch (which) {
    case 0:
        m.type = RAFT_MSG_VOTE;
        m.u.vote.last_index = 7;
        m.u.vote.last_term = 4;
        break;
    case 1:
        m.type = RAFT_MSG_VOTE_RESP;
        m.u.vote_resp.granted = true;
        m.u.vote_resp.last_index = 3;
        m.u.vote_resp.last_term = 2;
        break;
    case 2:
        m.type = RAFT_MSG_APPEND_RESP;
        m.u.append_resp.success = true;
        m.u.append_resp.index = 9;
        break;
    case 3:
        m.type = RAFT_MSG_APPEND_RESP;
        m.u.append_resp.index = 9;
        m.u.append_resp.hint_index = 6;
        m.u.append_resp.hint_term = 3;
        break;
    case 4:
        m.type = RAFT_MSG_APPEND; /* heartbeat */
        m.u.append.prev_index = 4;
        m.u.append.prev_term = 3;
        m.u.append.commit = 4;
        break;
    case 5:
        m.type = RAFT_MSG_APPEND;
        m.u.append.prev_index = 2;
        m.u.append.prev_term = 2;
        m.u.append.commit = 3;
        m.u.append.n_entries = 2;
        m.u.append.entries = two;
        break;
    case 6:
        m.type = RAFT_MSG_APPEND;
        m.u.append.prev_index = 0;
        m.u.append.prev_term = 0;
        m.u.append.commit = 1;
        m.u.append.n_entries = 3;
        m.u.append.entries = three;
        break;
    case 7:
        m.type = RAFT_MSG_SNAPSHOT; /* a first chunk */
        m.u.snapshot.index = 9;
        m.u.snapshot.index_term = 4;
        m.u.snapshot.len = sizeof(chunk) - 1;
        m.u.snapshot.data = chunk;
        break;
    case 8:
        m.type = RAFT_MSG_SNAPSHOT; /* an empty last chunk, and the
                                       configuration */
        m.u.snapshot.index = 9;
        m.u.snapshot.index_term = 4;
        m.u.snapshot.offset = sizeof(chunk) - 1;
        m.u.snapshot.last = true;
        m.u.snapshot.conf = conf123;
        m.u.snapshot.conf_len = sizeof(conf123);
        break;
    case 9:
        m.type = RAFT_MSG_SNAPSHOT_RESP;
        m.u.snapshot_resp.index = 9;
        m.u.snapshot_resp.offset = sizeof(chunk) - 1;
        break;
    case 10:
        m.type = RAFT_MSG_SNAPSHOT_RESP;
        m.u.snapshot_resp.index = 9;
        m.u.snapshot_resp.offset = sizeof(chunk) - 1;
        m.u.snapshot_resp.done = true;
        break;
    case 11:
        m.type = RAFT_MSG_PREVOTE;
        m.term = 6; /* the sender's term + 1 */
        m.u.vote.last_index = 7;
        m.u.vote.last_term = 4;
        break;
    case 12:
        m.type = RAFT_MSG_PREVOTE_RESP;
        m.term = 6;
        m.u.vote_resp.granted = true;
        m.u.vote_resp.last_index = 7;
        m.u.vote_resp.last_term = 4;
        break;
    case 13:
        m.type = RAFT_MSG_HEARTBEAT;
        m.u.heartbeat.round = 3;
        break;
    case 14:
        m.type = RAFT_MSG_HEARTBEAT_RESP;
        m.u.heartbeat.round = 3;
        break;
    case 15:
        m.type = RAFT_MSG_READ;
        m.u.read.id = 12;
        break;
    case 16:
        m.type = RAFT_MSG_READ_RESP;
        m.u.read.id = 12;
        m.u.read.index = 9;
        m.u.read.ok = true;
        break;
    case 17:
        m.type = RAFT_MSG_READ_RESP; /* refused */
        m.u.read.id = 12;
        break;
    case 18:
        m.type = RAFT_MSG_APPEND; /* configuration entries */
        m.term = 2;
        m.u.append.commit = 1;
        m.u.append.n_entries = 3;
        m.u.append.entries = confs;
        break;
    case 19:
        m.type = RAFT_MSG_SNAPSHOT; /* a whole snapshot in one chunk */
        m.u.snapshot.index = 9;
        m.u.snapshot.index_term = 4;
        m.u.snapshot.len = sizeof(chunk) - 1;
        m.u.snapshot.data = chunk;
        m.u.snapshot.last = true;
        m.u.snapshot.conf = conf_joint;
        m.u.snapshot.conf_len = sizeof(conf_joint);
        break;
    case 20:
        m.type = RAFT_MSG_TIMEOUT_NOW;
        break;
    default:
        m.type = RAFT_MSG_VOTE; /* a transfer's campaign */
        m.term = 6;
        m.u.vote.last_index = 7;
        m.u.vote.last_term = 5;
        m.u.vote.transfer = true;
        break;
    }
    return m;
}

#define N_SAMPLES 22
static const char *const sample_names[N_SAMPLES] = {
    "vote", "vote_resp", "append_resp_ok", "append_resp_reject",
    "heartbeat", "append_2", "append_3", "snapshot", "snapshot_last_empty",
    "snapshot_resp", "snapshot_resp_done", "prevote", "prevote_resp",
    "round", "round_resp", "read", "read_resp", "read_resp_refused",
    "append_conf", "snapshot_whole_conf", "timeout_now", "vote_transfer",
};

/* ---- fuzz_decode and fuzz_roundtrip --------------------------------------------- */

static void gen_decode(void)
{
    struct raft_msg m;
    struct out o;
    char name[64];
    int i;
    for (i = 0; i < N_SAMPLES; i++) {
        m = sample(i);
        o.n = 0;
        u8(&o, 0); /* NULL limits, 64 entry slots */
        msg(&o, &m);
        snprintf(name, sizeof(name), "%s", sample_names[i]);
        save("fuzz_decode", name, &o);
    }
    m = sample(6);
    o.n = 0;
    u8(&o, 2); /* small limits: 3 entries, 16 bytes each, 200 in all */
    u8(&o, 3);
    u16(&o, 16);
    u16(&o, 200);
    msg(&o, &m);
    save("fuzz_decode", "append_3_small_limits", &o);
    o.n = 0;
    u8(&o, 3 | 4); /* raw limits and 2 entry slots: ENOBUFS */
    u32(&o, 64);
    u32(&o, 1024);
    u32(&o, 4096);
    u8(&o, 2);
    msg(&o, &m);
    save("fuzz_decode", "append_3_two_slots", &o);
    m = sample(5);
    o.n = 0;
    u8(&o, 1);
    msg(&o, &m);
    o.n -= 3; /* truncated payload: ESHORT */
    save("fuzz_decode", "append_2_truncated", &o);
    m = sample(7);
    o.n = 0;
    u8(&o, 2); /* small limits: chunks of at most 16 bytes: ELIMIT */
    u8(&o, 1);
    u16(&o, 16);
    u16(&o, 200);
    msg(&o, &m);
    save("fuzz_decode", "snapshot_small_limits", &o);
    o.n = 0;
    u8(&o, 0);
    msg(&o, &m);
    o.n -= 5; /* truncated data: ESHORT */
    save("fuzz_decode", "snapshot_truncated", &o);
    o.n = 0;
    u8(&o, 8); /* a configuration, room for 4 members */
    u8(&o, 4);
    put(&o, conf_joint, sizeof(conf_joint));
    save("fuzz_decode", "conf_joint", &o);
    o.n = 0;
    u8(&o, 8); /* room for 2 of 3: ENOBUFS */
    u8(&o, 2);
    put(&o, conf123, sizeof(conf123));
    save("fuzz_decode", "conf_enobufs", &o);
}

static void gen_roundtrip(void)
{
    struct raft_msg m;
    struct out o;
    char name[64];
    int i;
    for (i = 0; i < N_SAMPLES; i++) {
        m = sample(i);
        o.n = 0;
        u8(&o, 0); /* raw mode */
        msg(&o, &m);
        snprintf(name, sizeof(name), "raw_%s", sample_names[i]);
        save("fuzz_roundtrip", name, &o);
    }
    /* Structured: type byte (type - 1), from, to, term, body. */
    o.n = 0;
    u8(&o, 1);
    u8(&o, RAFT_MSG_APPEND - 1);
    u64(&o, 1);
    u64(&o, 2);
    u64(&o, 7);
    u8(&o, 3);   /* 3 entries */
    u64(&o, 10); /* prev_index */
    u64(&o, 6);  /* prev_term */
    u64(&o, 9);  /* commit */
    u8(&o, 0);   /* command */
    u8(&o, 4);
    put(&o, "abcd", 4);
    u64(&o, 6);
    u8(&o, 1);   /* no-op */
    u8(&o, 0);
    u64(&o, 7);
    u8(&o, 0);
    u8(&o, 20);
    put(&o, "payload of 20 bytes.", 20);
    u64(&o, 7);
    save("fuzz_roundtrip", "struct_append_3", &o);
    o.n = 0;
    u8(&o, 1);
    u8(&o, RAFT_MSG_APPEND_RESP - 1);
    u64(&o, 3);
    u64(&o, 1);
    u64(&o, 7);
    u8(&o, 0); /* rejected */
    u64(&o, 10);
    u64(&o, 8);
    u64(&o, 5);
    save("fuzz_roundtrip", "struct_append_resp", &o);
    o.n = 0;
    u8(&o, 1);
    u8(&o, RAFT_MSG_VOTE_RESP - 1);
    u64(&o, 2);
    u64(&o, 1);
    u64(&o, UINT64_MAX - 1);
    u8(&o, 1); /* granted */
    u64(&o, UINT64_MAX);
    u64(&o, 1);
    save("fuzz_roundtrip", "struct_vote_resp", &o);
    o.n = 0;
    u8(&o, 1);
    u8(&o, 0xf2); /* unknown type: must not encode */
    u64(&o, 1);
    u64(&o, 2);
    u64(&o, 3);
    save("fuzz_roundtrip", "struct_bad_type", &o);
    o.n = 0;
    u8(&o, 1);
    u8(&o, RAFT_MSG_SNAPSHOT - 1);
    u64(&o, 1);
    u64(&o, 2);
    u64(&o, 7);
    u8(&o, 1);             /* last */
    u64(&o, 40);           /* index */
    u64(&o, 6);            /* index_term */
    u64(&o, UINT64_MAX - 20); /* offset */
    u16(&o, 20);
    put(&o, "twenty bytes of data", 20);
    save("fuzz_roundtrip", "struct_snapshot", &o);
    o.n = 0;
    u8(&o, 1);
    u8(&o, RAFT_MSG_SNAPSHOT - 1);
    u64(&o, 1);
    u64(&o, 2);
    u64(&o, 7);
    u8(&o, 0xfc);          /* a huge chunk, sized only */
    u64(&o, 40);
    u64(&o, 6);
    u64(&o, 0);
    u64(&o, (uint64_t)UINT32_MAX - 64);
    save("fuzz_roundtrip", "struct_snapshot_huge", &o);
    o.n = 0;
    u8(&o, 1);
    u8(&o, RAFT_MSG_SNAPSHOT - 1);
    u64(&o, 1);
    u64(&o, 2);
    u64(&o, 7);
    u8(&o, 0xfe);          /* data missing: must not encode */
    u64(&o, 40);
    u64(&o, 6);
    u64(&o, 0);
    u16(&o, 3);
    save("fuzz_roundtrip", "struct_snapshot_null", &o);
    o.n = 0;
    u8(&o, 1);
    u8(&o, RAFT_MSG_SNAPSHOT_RESP - 1);
    u64(&o, 2);
    u64(&o, 1);
    u64(&o, 7);
    u8(&o, 1);             /* done */
    u64(&o, 40);
    u64(&o, 4096);
    save("fuzz_roundtrip", "struct_snapshot_resp", &o);
    o.n = 0;
    u8(&o, 1);
    u8(&o, RAFT_MSG_SNAPSHOT - 1);
    u64(&o, 1);
    u64(&o, 2);
    u64(&o, 7);
    u8(&o, 1 | 4);         /* last, with a configuration */
    u64(&o, 40);
    u64(&o, 6);
    u64(&o, 4096);
    u16(&o, 4);
    put(&o, "tail", 4);
    u8(&o, 2 | 8);         /* built: 3 members, auto-leave if joint */
    u8(&o, 0);             /* id 1, voter */
    u8(&o, 2);             /* id 2, voter in both */
    u8(&o, 3);             /* id 3, outgoing only */
    save("fuzz_roundtrip", "struct_snapshot_conf", &o);
    o.n = 0;
    u8(&o, 1);
    u8(&o, RAFT_MSG_SNAPSHOT - 1);
    u64(&o, 1);
    u64(&o, 2);
    u64(&o, 7);
    u8(&o, 0x04);          /* not last, with a configuration: unencodable */
    u64(&o, 40);
    u64(&o, 6);
    u64(&o, 0);
    u16(&o, 0);
    u8(&o, 0);
    u8(&o, 0);
    save("fuzz_roundtrip", "struct_snapshot_conf_not_last", &o);
    o.n = 0;
    u8(&o, 1);
    u8(&o, RAFT_MSG_APPEND - 1);
    u64(&o, 1);
    u64(&o, 2);
    u64(&o, 3);
    u8(&o, 2);             /* 2 entries */
    u64(&o, 0);
    u64(&o, 0);
    u64(&o, 0);
    u8(&o, 0x1c);          /* a configuration, built */
    u8(&o, 0);
    u64(&o, 1);
    u8(&o, 3);             /* 4 members */
    u8(&o, 0);
    u8(&o, 8);
    u8(&o, 17);
    u8(&o, 4);
    u8(&o, 0x0c);          /* a configuration, 5 raw bytes */
    u8(&o, 5);
    put(&o, "raw!!", 5);
    u64(&o, 2);
    save("fuzz_roundtrip", "struct_append_conf", &o);
    o.n = 0;
    u8(&o, 1);
    u8(&o, RAFT_MSG_VOTE - 1);
    u64(&o, 3);
    u64(&o, 2);
    u64(&o, 9);
    u64(&o, 20);
    u64(&o, 8);
    u8(&o, 1);             /* transfer */
    save("fuzz_roundtrip", "struct_vote_transfer", &o);
    o.n = 0;
    u8(&o, 1);
    u8(&o, RAFT_MSG_PREVOTE - 1);
    u64(&o, 3);
    u64(&o, 2);
    u64(&o, 9);
    u64(&o, 20);
    u64(&o, 8);
    u8(&o, 0x0f);          /* transfer on a pre-vote: unencodable */
    save("fuzz_roundtrip", "struct_prevote_transfer", &o);
    o.n = 0;
    u8(&o, 1);
    u8(&o, RAFT_MSG_TIMEOUT_NOW - 1);
    u64(&o, 1);
    u64(&o, 3);
    u64(&o, 9);
    u8(&o, 0xa5);          /* junk in the union: not sent */
    save("fuzz_roundtrip", "struct_timeout_now", &o);
}

/* ---- fuzz_node ------------------------------------------------------------------ */

/* A structured AppendEntries from voter 1 (the node is voter 2) carrying
 * n entries of the message term with short payloads. */
static void node_append(struct out *o, unsigned term_pick, unsigned prev_pick,
                        unsigned n, unsigned commit_mode)
{
    unsigned i;
    u8(o, FZ_OP_STEP_APPEND);
    u8(o, 0);         /* from ids[0] = 1 */
    u8(o, term_pick); /* 0: current term, 3: current + 1 */
    u8(o, prev_pick); /* 0: last index, 5: 0 */
    u8(o, 0);         /* prev term: the node's own */
    u8(o, n | (commit_mode << 6));
    for (i = 0; i < n; i++) {
        u8(o, 1);     /* same term, command */
        u8(o, 3);     /* 3 payload bytes */
        put(o, "abc", 3);
    }
}

static void gen_node(void)
{
    struct raft_msg m;
    struct out o;

    /* Node 1 of 3 wins, proposes, replicates, commits. */
    o.n = 0;
    u8(&o, 0);     /* 3 voters, self = 1 */
    u8(&o, 7);     /* seed */
    u8(&o, 0);     /* bootstrap */
    u8(&o, FZ_OP_ELECT);
    u8(&o, FZ_OP_PROPOSE);
    u8(&o, 5);
    put(&o, "hello", 5);
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);  /* all peers */
    u8(&o, FZ_OP_TICK);
    u8(&o, 1);
    u8(&o, FZ_OP_BATCH);
    u8(&o, 3);
    u8(&o, 2);
    put(&o, "aa", 2);
    u8(&o, 0);
    u8(&o, 4);
    put(&o, "cccc", 4);
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x81);
    u8(&o, FZ_OP_TICK);
    u8(&o, 3);
    save("fuzz_node", "leader", &o);

    /* Node 2 of 3 follows leader 1: entries, a heartbeat through the codec,
     * a vote request of a later term. */
    o.n = 0;
    u8(&o, 2);     /* 3 voters, self = 2 */
    u8(&o, 1);
    u8(&o, 0);
    node_append(&o, 3, 5, 2, 0);
    node_append(&o, 0, 0, 3, 0);
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_APPEND;
    m.from = 1;
    m.to = 2;
    m.term = 1;
    m.u.append.prev_index = 5;
    m.u.append.prev_term = 1;
    m.u.append.commit = 5;
    wire_op(&o, &m);
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_VOTE;
    m.from = 3;
    m.to = 2;
    m.term = 2;
    m.u.vote.last_index = 5;
    m.u.vote.last_term = 1;
    wire_op(&o, &m);
    u8(&o, FZ_OP_TICK);
    u8(&o, 3);
    save("fuzz_node", "follower", &o);

    /* Node 3 of 5 restored from a log of two terms, elected, restarted. */
    o.n = 0;
    u8(&o, 1 | (2 << 1)); /* 5 voters, self = 3 */
    u8(&o, 3);
    u8(&o, 1);     /* restore */
    u8(&o, 4);     /* 4 entries */
    u8(&o, 0x02);  /* term 1, 2 bytes */
    put(&o, "e1", 2);
    u8(&o, 0x40);  /* term 1, no-op */
    u8(&o, 0x12);  /* term 2, 2 bytes */
    put(&o, "e3", 2);
    u8(&o, 0x01);
    put(&o, "4", 1);
    u8(&o, 1);     /* term 3 */
    u8(&o, 0);     /* voted for voter 1 */
    u8(&o, FZ_OP_ELECT);
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_PROPOSE);
    u8(&o, 1);
    put(&o, "x", 1);
    u8(&o, FZ_OP_RESTART);
    u8(&o, FZ_OP_TICK);
    u8(&o, 2);
    save("fuzz_node", "restore_restart", &o);

    /* Failures around a leader: a partial write, an allocation, an apply. */
    o.n = 0;
    u8(&o, 0);
    u8(&o, 9);
    u8(&o, 0);
    u8(&o, FZ_OP_ELECT);
    u8(&o, FZ_OP_FAULT);
    u8(&o, 1);     /* persist_entries, next call */
    u8(&o, 4);     /* new entries landed: 1 */
    u8(&o, FZ_OP_BATCH);
    u8(&o, 6);
    u8(&o, 1); put(&o, "1", 1);
    u8(&o, 1); put(&o, "2", 1);
    u8(&o, 1); put(&o, "3", 1);
    u8(&o, 1); put(&o, "4", 1);
    u8(&o, 1); put(&o, "5", 1);
    u8(&o, 1); put(&o, "6", 1);
    u8(&o, FZ_OP_ELECT);
    u8(&o, FZ_OP_FAULT);
    u8(&o, 3);     /* apply */
    u8(&o, FZ_OP_FAULT);
    u8(&o, 4);     /* allocation */
    u8(&o, FZ_OP_PROPOSE);
    u8(&o, 60);
    put(&o, "sixty bytes of payload: the longest a proposal op draws: 63.", 60);
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_TICK);
    u8(&o, 0);
    u8(&o, FZ_OP_RESTART);
    save("fuzz_node", "faults", &o);

    /* Every message type through the codec to node 2. */
    o.n = 0;
    u8(&o, 2);
    u8(&o, 5);
    u8(&o, 0);
    for (int i = 0; i < N_SAMPLES; i++) {
        m = sample(i);
        m.term = 1 + (uint64_t)i / 2;
        if (m.type == RAFT_MSG_APPEND && m.u.append.n_entries > 0) {
            continue; /* terms of the samples are above the message term */
        }
        wire_op(&o, &m);
    }
    save("fuzz_node", "wire", &o);
}

/* A structured InstallSnapshot chunk from voter 1 (see build_chunk in
 * fuzz_node.c): mode 0 starts a stream at index 5 (term 1), mode 1
 * continues the one the node is receiving. */
static void node_chunk(struct out *o, unsigned term_pick, unsigned mode,
                       bool last, const char *data, unsigned len)
{
    u8(o, FZ_OP_STEP_SNAP);
    u8(o, 0);         /* from ids[0] = 1 */
    u8(o, term_pick); /* 0: current term, 3: current + 1 */
    u8(o, mode | (last ? 4u : 0u) | (len << 3));
    if (mode == 0) {
        u8(o, 7);     /* index: the next 8 bytes */
        u64(o, 5);
        u8(o, 0x07);  /* its term: 1 */
    }
    put(o, data, len); /* a last chunk: the node's configuration */
}

/* build_conf's 5 bytes (fuzz_node.c): the members among ids 1-8 (a bit
 * each), 3 bits of flags each (0 voter, 1 learner, 2 voter in both halves,
 * 3 outgoing only, 4 learner | outgoing), bit 0 of the last auto-leave. */
static void conf_bytes(struct out *o, unsigned set, uint32_t flags, unsigned x)
{
    u8(o, set);
    u16(o, flags & 0xffff);
    u8(o, flags >> 16);
    u8(o, x);
}

/* An AppendEntries (FZ_OP_STEP_ANY) from voter 1 (2 if the node is 1)
 * whose entries are configurations (conf_bytes follow each) or 3-byte
 * commands. */
static void node_append_confs(struct out *o, unsigned term_pick, unsigned prev_pick,
                              unsigned n)
{
    u8(o, FZ_OP_STEP_ANY);
    u8(o, RAFT_MSG_APPEND - 1);
    u8(o, 0);
    u8(o, term_pick);
    u8(o, prev_pick);
    u8(o, 0);
    u8(o, n); /* commit: prev + n */
}

static void conf_entry(struct out *o)
{
    u8(o, 0x19); /* same term, a configuration built from the input */
    u8(o, 0);    /* no payload bytes */
}

static void cmd_entry(struct out *o)
{
    u8(o, 1);
    u8(o, 3);
    put(o, "abc", 3);
}

static void gen_node_snapshots(void)
{
    struct out o;

    /* Node 2 of 3 receives a snapshot in three chunks, installs it,
     * continues with entries after it, and restarts from it. */
    o.n = 0;
    u8(&o, 2);     /* 3 voters, self = 2 */
    u8(&o, 1);
    u8(&o, 0);     /* bootstrap, snapshot callbacks, 1 trailing entry */
    node_chunk(&o, 3, 0, false, "first chunk", 11);
    node_chunk(&o, 0, 1, false, "second one", 10);
    node_chunk(&o, 0, 1, true, "last.", 5);
    node_append(&o, 0, 0, 2, 0);
    u8(&o, FZ_OP_RESTART);
    u8(&o, FZ_OP_TICK);
    u8(&o, 1);
    save("fuzz_node", "snapshot_follower", &o);

    /* Node 1 of 3 leads and commits with voter 3, compacts into a
     * 300-byte snapshot; voter 2 answers its first probe with a rejection
     * (hint 0), so it gets the snapshot: 128-byte chunks, acknowledged
     * one by one, then done. Then a restart from the snapshot. */
    o.n = 0;
    u8(&o, 0);     /* 3 voters, self = 1 */
    u8(&o, 7);
    u8(&o, 0);
    u8(&o, FZ_OP_ELECT);
    u8(&o, FZ_OP_PROPOSE);
    u8(&o, 5);
    put(&o, "hello", 5);
    u8(&o, FZ_OP_ACK);
    u8(&o, 2);     /* voter 3 only */
    u8(&o, FZ_OP_BATCH);
    u8(&o, 3);
    u8(&o, 2);
    put(&o, "aa", 2);
    u8(&o, 0);
    u8(&o, 4);
    put(&o, "cccc", 4);
    u8(&o, FZ_OP_ACK);
    u8(&o, 2);
    u8(&o, FZ_OP_COMPACT);
    u8(&o, 0);     /* at the applied index */
    u8(&o, 100);   /* 300 bytes */
    u8(&o, FZ_OP_STEP_ARESP);
    u8(&o, 1);     /* from ids[1] = 2 */
    u8(&o, 0);     /* current term */
    u8(&o, 0);     /* rejected */
    u8(&o, 5);     /* index 0 */
    u8(&o, 5);     /* hint 0 */
    u8(&o, 0);
    u8(&o, FZ_OP_STEP_SRESP);
    u8(&o, 1);
    u8(&o, 0);
    u8(&o, 1 << 2);               /* acknowledged + one chunk */
    u8(&o, FZ_OP_STEP_SRESP);
    u8(&o, 1);
    u8(&o, 0);
    u8(&o, (2 << 2) | (1 << 4));  /* all of it, done */
    u8(&o, FZ_OP_TICK);
    u8(&o, 1);
    u8(&o, FZ_OP_RESTART);
    u8(&o, FZ_OP_TICK);
    u8(&o, 2);
    save("fuzz_node", "snapshot_leader", &o);

    /* The snapshot callbacks failing: a write, then an installation, then
     * a read on a leader. */
    o.n = 0;
    u8(&o, 2);
    u8(&o, 3);
    u8(&o, 4);     /* 2 trailing entries */
    u8(&o, FZ_OP_FAULT);
    u8(&o, 0xf1);  /* snapshot_write, next call */
    node_chunk(&o, 3, 0, false, "lost", 4);
    node_chunk(&o, 0, 0, false, "again", 5);
    u8(&o, FZ_OP_FAULT);
    u8(&o, 0xf2);  /* snapshot_install */
    node_chunk(&o, 0, 1, true, "end", 3);
    node_chunk(&o, 0, 0, true, "whole", 5);
    u8(&o, FZ_OP_ELECT);
    u8(&o, FZ_OP_FAULT);
    u8(&o, 0xf0);  /* snapshot_read */
    u8(&o, FZ_OP_STEP_ARESP);
    u8(&o, 1);     /* from voter 3 */
    u8(&o, 0);
    u8(&o, 0);     /* rejected */
    u8(&o, 1);     /* index: last - 1, the probe's prev (5) */
    u8(&o, 5);     /* hint 0 */
    u8(&o, 0);
    u8(&o, FZ_OP_TICK);
    u8(&o, 3);
    save("fuzz_node", "snapshot_faults", &o);

    /* A node without the snapshot callbacks refuses chunks and
     * compaction. */
    o.n = 0;
    u8(&o, 2);
    u8(&o, 1);
    u8(&o, 2);     /* no snapshot callbacks */
    node_chunk(&o, 3, 0, true, "no", 2);
    u8(&o, FZ_OP_COMPACT);
    u8(&o, 0);
    u8(&o, 1);
    save("fuzz_node", "snapshot_no_callbacks", &o);
}

/* Membership changes and leadership transfers (op codes 18-21), and a node
 * that joins (setup byte 2 bit 7). */
static void gen_node_membership(void)
{
    struct out o;

    /* Node 1 of 3 leads: a learner added, then promoted while voter 3
     * goes (joint, left automatically), a learner added through an
     * explicit joint configuration and raft_leave_joint, a transfer to
     * voter 2, whose election ends this leadership; restart. */
    o.n = 0;
    u8(&o, 0);
    u8(&o, 4);
    u8(&o, 0);
    u8(&o, FZ_OP_ELECT);
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_TICK);
    u8(&o, 0);
    u8(&o, FZ_OP_CHANGE);
    u8(&o, 1);            /* one change, RAFT_JOINT_AUTO */
    u8(&o, (3 << 3) | 1); /* add learner 4 */
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_TICK);
    u8(&o, 0);
    u8(&o, FZ_OP_CHANGE);
    u8(&o, 2 | (1 << 2)); /* two changes, RAFT_JOINT_IMPLICIT */
    u8(&o, (3 << 3) | 0); /* promote 4 */
    u8(&o, (2 << 3) | 2); /* remove 3 */
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_TICK);
    u8(&o, 0);
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_TICK);
    u8(&o, 0);
    u8(&o, FZ_OP_CHANGE);
    u8(&o, 1 | (2 << 2)); /* one change, RAFT_JOINT_EXPLICIT */
    u8(&o, (4 << 3) | 1); /* add learner 5 */
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_TICK);
    u8(&o, 0);
    u8(&o, FZ_OP_LEAVE_JOINT);
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_TICK);
    u8(&o, 0);
    u8(&o, FZ_OP_TRANSFER);
    u8(&o, 1);            /* to voter 2 */
    u8(&o, FZ_OP_PROPOSE); /* refused meanwhile */
    u8(&o, 1);
    put(&o, "x", 1);
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_TICK);
    u8(&o, 0);
    node_append(&o, 3, 0, 0, 0); /* voter 2 won the next term */
    u8(&o, FZ_OP_RESTART);
    u8(&o, FZ_OP_TICK);
    u8(&o, 2);
    save("fuzz_node", "membership_leader", &o);

    /* Node 2 of 3 follows leader 1, which hands over to it: TimeoutNow,
     * a campaign without pre-vote; then a transfer's vote request from
     * voter 3, which stickiness does not ignore. PreVote and CheckQuorum
     * on. */
    o.n = 0;
    u8(&o, 2);
    u8(&o, 6);
    u8(&o, 0x30);
    node_append(&o, 3, 5, 2, 0);
    u8(&o, FZ_OP_STEP_XFER);  /* TimeoutNow */
    u8(&o, 1);                /* through the codec */
    u8(&o, 0);                /* from 1 */
    u8(&o, 0);                /* the node's term */
    u8(&o, FZ_OP_ELECT);
    u8(&o, FZ_OP_TICK);
    u8(&o, 1);
    u8(&o, FZ_OP_STEP_XFER + FZ_OP_COUNT); /* a transfer's RequestVote */
    u8(&o, 1);
    u8(&o, 1);                /* from 3 */
    u8(&o, 3);                /* the next term */
    u8(&o, 0);                /* its log: as long as ours */
    u8(&o, 0);
    u8(&o, FZ_OP_TICK);
    u8(&o, 3);
    save("fuzz_node", "transfer_follower", &o);

    /* A node that joins (node 4 beside voters 1-3): the leader's log
     * from index 1 (the configuration with node 4 as a learner), then a
     * configuration that makes it a voter, a TimeoutNow, an election, a
     * change of its own, a restart (raft_restore without voters). */
    o.n = 0;
    u8(&o, 0);
    u8(&o, 2);
    u8(&o, 0x80);             /* raft_join */
    node_append_confs(&o, 3, 5, 1);
    conf_entry(&o);
    conf_bytes(&o, 0x0f, 1u << 9, 0); /* 1-3 voters, 4 learner */
    node_append_confs(&o, 0, 0, 2);
    cmd_entry(&o);
    conf_entry(&o);
    conf_bytes(&o, 0x0f, 0, 0);       /* 1-4 voters */
    u8(&o, FZ_OP_STEP_XFER);
    u8(&o, 0);
    u8(&o, 0);
    u8(&o, 0);
    u8(&o, FZ_OP_ELECT);
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_TICK);
    u8(&o, 0);
    u8(&o, FZ_OP_CHANGE);
    u8(&o, 1);
    u8(&o, (0 << 3) | 2);     /* remove 1 */
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_RESTART);
    u8(&o, FZ_OP_TICK);
    u8(&o, 3);
    save("fuzz_node", "join", &o);

    /* Restored from a log with configurations (a joint one last), elected;
     * the joint configuration is left, then a snapshot is compacted and
     * the node restarts from it. */
    o.n = 0;
    u8(&o, 0);
    u8(&o, 5);
    u8(&o, 1);                /* raft_restore */
    u8(&o, 3);                /* 3 entries */
    u8(&o, 0x80);             /* term 1, a configuration: */
    conf_bytes(&o, 0x07, 0, 0);
    u8(&o, 0x01);
    put(&o, "c", 1);
    u8(&o, 0x90);             /* term 2, joint, left automatically */
    conf_bytes(&o, 0x0b, (2u << 0) | (3u << 3), 1); /* 1 both, 2 out, 4 in */
    u8(&o, 0);                /* term 2 */
    u8(&o, 0);
    u8(&o, FZ_OP_ELECT);
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_TICK);
    u8(&o, 0);
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_TICK);
    u8(&o, 0);
    u8(&o, FZ_OP_COMPACT);
    u8(&o, 0);
    u8(&o, 10);
    u8(&o, FZ_OP_RESTART);
    u8(&o, FZ_OP_ELECT);
    save("fuzz_node", "restore_conf", &o);
}

/* ---- fuzz_sim ------------------------------------------------------------------- */

/* PreVote, CheckQuorum, heartbeat rounds and reads (setup bits 4-6). */
static void gen_node_reads(void)
{
    struct out o;

    /* Node 1 of 3, everything on: pre-vote, election, a command, reads
     * confirmed by a round, a lease read, then cut off until CheckQuorum
     * deposes it while a read waits. */
    o.n = 0;
    u8(&o, 0);
    u8(&o, 3);
    u8(&o, 0x70); /* bootstrap; PreVote, CheckQuorum, lease reads */
    u8(&o, FZ_OP_ELECT);
    u8(&o, FZ_OP_PROPOSE);
    u8(&o, 3);
    put(&o, "abc", 3);
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_READ);
    u8(&o, FZ_OP_READ);
    /* A structured echo: type, sender, term pick, round. */
    u8(&o, FZ_OP_STEP_NEW);
    u8(&o, RAFT_MSG_HEARTBEAT_RESP - RAFT_MSG_PREVOTE);
    u8(&o, 1);  /* from node 2 */
    u8(&o, 0);  /* the node's term */
    u8(&o, 1);  /* round 1 */
    u8(&o, FZ_OP_TICK);
    u8(&o, 3);
    u8(&o, FZ_OP_READ);
    u8(&o, FZ_OP_TICK);
    u8(&o, 3);
    u8(&o, FZ_OP_TICK);
    u8(&o, 3);
    save("fuzz_node", "leader_reads", &o);

    /* Node 2 of 3 with PreVote and CheckQuorum: pre-votes asked of it,
     * a leader's round and a read answer, its own pre-vote. */
    o.n = 0;
    u8(&o, 2);
    u8(&o, 9);
    u8(&o, 0x30);
    u8(&o, FZ_OP_STEP_NEW);
    u8(&o, 0);  /* PREVOTE */
    u8(&o, 0);  /* from node 1 */
    u8(&o, 1);  /* a later term */
    u8(&o, 0);
    u8(&o, 0);
    u8(&o, 1);
    u8(&o, FZ_OP_STEP_NEW);
    u8(&o, RAFT_MSG_HEARTBEAT - RAFT_MSG_PREVOTE);
    u8(&o, 0);
    u8(&o, 1);
    u8(&o, 2);
    u8(&o, FZ_OP_READ);
    u8(&o, FZ_OP_STEP_NEW);
    u8(&o, RAFT_MSG_READ_RESP - RAFT_MSG_PREVOTE);
    u8(&o, 0);
    u8(&o, 0);
    u8(&o, 3);  /* ok, with an index */
    u8(&o, 0);
    u8(&o, FZ_OP_TICK);
    u8(&o, 3);
    u8(&o, FZ_OP_TICK);
    u8(&o, 3);
    u8(&o, FZ_OP_TICK);
    u8(&o, 3);
    u8(&o, FZ_OP_ELECT);
    save("fuzz_node", "follower_prevote_reads", &o);
}

/* A bulk AppendEntries (near-end mode, see bulk_entries in fuzz_node.c)
 * from voter 1 to voter 2: prev (pick_index's byte), count mode byte c,
 * commit mode (build_msg's bits 6-7), all entries of the message term. */
static void node_bulk(struct out *o, unsigned term_pick, unsigned prev_pick,
                      unsigned c, unsigned commit_mode)
{
    u8(o, FZ_OP_STEP_APPEND);
    u8(o, 0);         /* from ids[0] = 1 */
    u8(o, term_pick);
    u8(o, prev_pick);
    u8(o, 0);         /* prev term: the node's own */
    u8(o, 7 | (commit_mode << 6)); /* count 7: bulk */
    u8(o, c);
    u8(o, 0);         /* split: every entry of the message term */
    u8(o, 1);         /* 1-byte commands */
}

/* Near the end of the index space (fuzz.h, FZ_NEAR_END): restored from a
 * snapshot at UINT64_MAX - 1 - K and `entries` 1-byte entries of term 1. */
static void near_end_head(struct out *o, unsigned self, unsigned k,
                          unsigned entries)
{
    unsigned i;
    u8(o, self << 1); /* 3 voters */
    u8(o, 5);
    u8(o, 1);         /* restore, snapshot callbacks */
    u8(o, FZ_NEAR_END | entries);
    u16(o, k);
    u8(o, 10);        /* a 30-byte snapshot */
    for (i = 0; i < entries; i++) {
        u8(o, 0x01);
        put(o, "e", 1);
    }
    u8(o, 0);         /* term 1 */
    u8(o, 3);         /* no vote */
}

static void gen_node_near_end(void)
{
    struct out o;

    /* Node 2 of 3, 1,000 indexes before the end: a leader of term 2
     * extends its log by 63 entries (nothing committed), then fills it up
     * to 3 entries before the last usable index and commits it all; the
     * host compacts; an append past the end is refused; the node
     * restarts, campaigns and leads until no index is left. */
    o.n = 0;
    near_end_head(&o, 1, 1000, 7);
    node_bulk(&o, 3, 0, 3 | (63u << 2), 2);
    node_bulk(&o, 0, 0, 1 | (3u << 2), 0);
    u8(&o, FZ_OP_COMPACT);
    u8(&o, 0);        /* at the applied index */
    u8(&o, 5);
    node_bulk(&o, 0, 0, 2 | (1u << 2), 2);
    u8(&o, FZ_OP_RESTART);
    u8(&o, FZ_OP_ELECT);
    u8(&o, FZ_OP_BATCH);
    u8(&o, 2);
    u8(&o, 1); put(&o, "x", 1);
    u8(&o, 1); put(&o, "y", 1);
    u8(&o, FZ_OP_PROPOSE);
    u8(&o, 1); put(&o, "z", 1);
    u8(&o, FZ_OP_ACK);
    u8(&o, 0x80);
    u8(&o, FZ_OP_TICK);
    u8(&o, 3);
    save("fuzz_node", "near_end_follower", &o);

    /* Node 1 of 3, 3 indexes before the end with 1 entry: it wins, its
     * proposal takes the last usable index, node 2 acknowledges, it
     * compacts and streams its snapshot to node 3, which has nothing. */
    o.n = 0;
    near_end_head(&o, 0, 3, 1);
    u8(&o, FZ_OP_ELECT);
    u8(&o, FZ_OP_PROPOSE);
    u8(&o, 1); put(&o, "x", 1);
    u8(&o, FZ_OP_ACK);
    u8(&o, 0);        /* node 2: committed */
    u8(&o, FZ_OP_COMPACT);
    u8(&o, 0);
    u8(&o, 60);       /* 180 bytes: two chunks */
    u8(&o, FZ_OP_STEP_ARESP);
    u8(&o, 2);        /* from node 3 */
    u8(&o, 0);        /* the node's term */
    u8(&o, 0);        /* a rejection */
    u8(&o, 0);        /* of the leader's last index */
    u8(&o, 5);        /* hint 0: it has nothing */
    u8(&o, 0);
    u8(&o, FZ_OP_TICK);
    u8(&o, 3);
    save("fuzz_node", "near_end_leader", &o);
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void gen_sim(void)
{
    static const size_t sizes[] = {16, 200, 800, 2000};
    struct out o;
    char name[64];
    uint64_t x = 42;
    size_t i, j;
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        o.n = 0;
        for (j = 0; j < sizes[i]; j++) {
            u8(&o, (unsigned)(splitmix(&x) >> 56));
        }
        snprintf(name, sizeof(name), "random_%zu", sizes[i]);
        save("fuzz_sim", name, &o);
    }
    o.n = 0;
    save("fuzz_sim", "empty", &o); /* every choice 0 */
}

/* ---- fuzz_storage ------------------------------------------------------------ */

/* Structured mode: max_payload 1024, segments of 4096 bytes (payloads of
 * 300 bytes: 12 records a segment), config with 3 voters (conf_kind 0,
 * or as given), state written. */
static void st_head(struct out *o, unsigned conf_kind, unsigned n_build)
{
    u8(o, 5u << 1);                      /* structured, max_payload 1024 */
    u8(o, conf_kind | 4u | (2u << 3));   /* state, 3 voters, id 1 */
    u8(o, 7);                            /* seed */
    u8(o, n_build);
}

/* k entries of `len` PRNG bytes after the last (a term step with step). */
static void st_append(struct out *o, unsigned k, unsigned len, int step,
                      int nosync)
{
    unsigned i;
    u8(o, FZS_B_APPEND);
    u8(o, step ? 4u : 0u); /* term + 1 */
    u8(o, k - 1);
    for (i = 0; i < k; i++) {
        u8(o, 0); /* command */
        u16(o, len);
    }
    u8(o, (unsigned)nosync);
}

/* Four segments: entries 1..60 (terms 1-3), a snapshot at 20 and the
 * first segment dropped: log-17, log-33, log-49 (the last: 49..60 in 3900
 * bytes, then zeros up to 4096). */
static void st_base(struct out *o, unsigned conf_kind)
{
    int i;
    st_head(o, conf_kind, 9);
    for (i = 0; i < 7; i++) {
        st_append(o, 8, 300, i == 3 || i == 5, 0);
    }
    u8(o, FZS_B_SNAPSHOT);
    u8(o, 1);      /* and st_log_drop */
    u16(o, 19);    /* index base + 19 = 20 */
    u8(o, 16);     /* configuration bytes - 1 */
    u8(o, 40);     /* body bytes */
    st_append(o, 4, 300, 0, 0);
}

static void st_save(struct out *o, const char *name, unsigned append)
{
    u8(o, append);  /* the append after the second load */
    u16(o, 0x0123);
    save("fuzz_storage", name, o);
}

static void gen_storage(void)
{
    struct out o;
    int i;

    o.n = 0; /* no damage */
    st_base(&o, 0);
    u8(&o, 0);
    st_save(&o, "intact", 0x80); /* then an append over the tail */

    o.n = 0; /* the last segment cut 10 bytes into its 4th record */
    st_base(&o, 0);
    u8(&o, 1);
    u8(&o, FZS_D_TRUNC);
    u8(&o, 0);            /* the last segment */
    u8(&o, 1 | (10 << 2)); /* record start + 10 */
    u16(&o, 3);
    st_save(&o, "torn-record", 0);

    o.n = 0; /* garbage written over the zero fill: a torn write */
    st_base(&o, 0);
    u8(&o, 1);
    u8(&o, FZS_D_OVERWRITE);
    u8(&o, 0);
    u8(&o, 2);            /* the end of the records + v % 64 */
    u16(&o, 0);
    u8(&o, 29);           /* 30 bytes */
    put(&o, "a torn write over the zeros..", 30);
    st_save(&o, "torn-over-fill", 0);

    o.n = 0; /* a payload byte flipped in the last segment's 3rd record */
    st_base(&o, 0);
    u8(&o, 1);
    u8(&o, FZS_D_FLIP);
    u8(&o, 0);
    u8(&o, 1 | (30 << 2));
    u16(&o, 2);
    u8(&o, 0x40);
    st_save(&o, "flip-last", 0);

    o.n = 0; /* a valid next record 40 bytes into the zero fill */
    st_base(&o, 0);
    u8(&o, 1);
    u8(&o, FZS_D_RECORD);
    u8(&o, 0);
    u8(&o, 2);
    u16(&o, 40);
    u8(&o, 0);            /* next index, same term, good checksum */
    u16(&o, 32);          /* payload */
    u8(&o, 0);            /* type: command */
    st_save(&o, "valid-after-zeros", 0);

    o.n = 0; /* a record of the middle segment flipped (files: config,
              * log-17, log-33, log-49, snap-20, state; 128 % 6 = 2) */
    st_base(&o, 0);
    u8(&o, 1);
    u8(&o, FZS_D_FLIP);
    u8(&o, 128);
    u8(&o, 1 | (12 << 2));
    u16(&o, 5);
    u8(&o, 1);
    st_save(&o, "flip-middle", 0);

    o.n = 0; /* the middle segment deleted */
    st_base(&o, 0);
    u8(&o, 1);
    u8(&o, FZS_D_DELETE);
    u8(&o, 128);
    st_save(&o, "delete-middle", 0);

    o.n = 0; /* the last segment deleted */
    st_base(&o, 0);
    u8(&o, 1);
    u8(&o, FZS_D_DELETE);
    u8(&o, 0);
    st_save(&o, "delete-last", 0);

    o.n = 0; /* the middle segment renamed one index on */
    st_base(&o, 0);
    u8(&o, 1);
    u8(&o, FZS_D_RENAME);
    u8(&o, 128);
    u8(&o, 0);
    u8(&o, 1);
    st_save(&o, "rename-middle", 0);

    o.n = 0; /* the snapshot damaged (130 % 6 = 4) */
    st_base(&o, 0);
    u8(&o, 1);
    u8(&o, FZS_D_FLIP);
    u8(&o, 130);
    u8(&o, 0);
    u16(&o, 100);
    u8(&o, 4);
    st_save(&o, "snapshot-flip", 0);

    o.n = 0; /* a crash inside an installation that discards the log */
    st_base(&o, 0);
    u8(&o, 1);
    u8(&o, FZS_D_NEWFILE);
    u8(&o, FZS_F_INSTALL);
    u8(&o, 0);            /* the index after the last */
    u8(&o, FZS_C_SNAPSHOT);
    u8(&o, 8);
    u8(&o, 20);
    st_save(&o, "install-crash", 0);

    o.n = 0; /* the state file cut */
    st_base(&o, 0);
    u8(&o, 1);
    u8(&o, FZS_D_TRUNC);
    u8(&o, 131);          /* 131 % 6 = 5 */
    u8(&o, 0);
    u16(&o, 20);
    st_save(&o, "state-cut", 0);

    o.n = 0; /* installations: keeping the log, then discarding it */
    st_head(&o, 0, 8);
    for (i = 0; i < 3; i++) {
        st_append(&o, 8, 300, i == 1, 0);
    }
    u8(&o, FZS_B_INSTALL);
    u8(&o, 1);            /* keep */
    u16(&o, 17);
    u8(&o, 8);
    u8(&o, 8);
    st_append(&o, 8, 300, 0, 0);
    u8(&o, FZS_B_INSTALL);
    u8(&o, 0);            /* discard */
    u8(&o, 5);            /* last + 1 + 5 */
    u8(&o, 8);
    u8(&o, 8);
    st_append(&o, 8, 300, 1, 0);
    st_append(&o, 8, 300, 0, 1);
    u8(&o, 0);
    st_save(&o, "installs", 0);

    o.n = 0; /* a prepared segment taken by the roll, a truncation into an
              * earlier segment, a write left unsynced, then torn */
    st_head(&o, 2, 8);    /* config of format 1 */
    st_append(&o, 8, 300, 0, 0);
    u8(&o, FZS_B_PREPARE);
    st_append(&o, 8, 300, 0, 0);
    st_append(&o, 8, 300, 1, 0);
    u8(&o, FZS_B_REWRITE);
    u16(&o, 12);          /* index 13 */
    u8(&o, 4);
    u8(&o, 4);            /* 5 entries */
    for (i = 0; i < 5; i++) {
        u8(&o, i == 0 ? 7 : 0); /* a configuration entry first */
        u16(&o, 200);
    }
    u8(&o, 0);
    u8(&o, FZS_B_PREPARE);
    st_append(&o, 8, 300, 0, 1);
    u8(&o, FZS_B_STATE);
    u8(&o, 9);
    u8(&o, 2);
    u8(&o, 1);
    u8(&o, FZS_D_TRUNC);
    u8(&o, 0);
    u8(&o, 3);            /* from the end of the file */
    u16(&o, 3000);
    st_save(&o, "prepared-rewrite-torn", 0x81);

    o.n = 0; /* over 1024 entries: two bulk appends, a torn tail */
    st_head(&o, 0, 2);
    for (i = 0; i < 2; i++) {
        u8(&o, FZS_B_APPEND);
        u8(&o, 0x10 | (i ? 4 : 0)); /* bulk (the second of term 2) */
        u8(&o, 200);                /* 9 + 4 * 200 entries */
        u8(&o, 0);
    }
    u8(&o, 1);
    u8(&o, FZS_D_TRUNC);
    u8(&o, 0);
    u8(&o, 3);
    u16(&o, 7);
    st_save(&o, "bulk-torn", 0);

    o.n = 0; /* no config: a directory with a log is refused */
    st_head(&o, 3, 2);
    st_append(&o, 4, 16, 0, 0);
    st_append(&o, 4, 16, 0, 0);
    u8(&o, 0);
    st_save(&o, "no-config", 0);

    o.n = 0; /* raw: the single-file log of 6 records, config and state */
    u8(&o, 1 | (2u << 1)); /* raw, max_payload 64 */
    u8(&o, 3);
    u8(&o, 9);
    u8(&o, FZS_F_LEGACY);
    u8(&o, 0);
    u8(&o, FZS_C_RECORDS);
    u8(&o, 5);            /* 6 records */
    for (i = 0; i < 6; i++) {
        u8(&o, i == 3 ? 4 : 0); /* the 4th starts term 2 */
        u16(&o, 20);
        u8(&o, 0);
    }
    save("fuzz_storage", "raw-legacy-log", &o);

    o.n = 0; /* raw: two segments of records, a snapshot, a torn tail */
    u8(&o, 1 | (2u << 1));
    u8(&o, 3);
    u8(&o, 9);
    u8(&o, FZS_F_SEGMENT);
    u8(&o, 2);
    u8(&o, 1);            /* log-1 */
    u8(&o, FZS_C_RECORDS);
    u8(&o, 3);            /* 4 records */
    for (i = 0; i < 4; i++) {
        u8(&o, 0);
        u16(&o, 10);
        u8(&o, 0);
    }
    u8(&o, FZS_F_SEGMENT);
    u8(&o, 2);
    u8(&o, 5);            /* log-5 */
    u8(&o, FZS_C_RECORDS);
    u8(&o, 2);
    for (i = 0; i < 3; i++) {
        u8(&o, i == 2 ? 0x40 : 0); /* the last with a bad checksum */
        u16(&o, 10);
        u8(&o, 0);
    }
    u8(&o, FZS_F_SNAP);
    u8(&o, 2);
    u8(&o, 3);            /* snap-3 */
    u8(&o, FZS_C_SNAPSHOT);
    u8(&o, 4);
    u8(&o, 12);
    save("fuzz_storage", "raw-segments", &o);

    o.n = 0; /* raw: junk config, state and segment */
    u8(&o, 1);
    u8(&o, 0);
    u8(&o, 9);
    u8(&o, FZS_F_CONFIG);
    u8(&o, 0);
    u8(&o, FZS_C_RAW);
    u16(&o, 41);
    put(&o, "counter-server-config 2\nid 7\nbootstrap 7\n", 41);
    u8(&o, FZS_F_STATE);
    u8(&o, 0);
    u8(&o, FZS_C_RAW);
    u16(&o, 28);
    put(&o, "CTRS\1\0\0\0\3\0\0\0\0\0\0\0\7\0\0\0\0\0\0\0\0\0\0", 28);
    u8(&o, FZS_F_SEGMENT);
    u8(&o, 2);
    u8(&o, 1);
    u8(&o, FZS_C_RAW);
    u16(&o, 40);
    put(&o, "\x29\0\0\0 not a record, not zeros either....", 40);
    u8(&o, FZS_F_SNAP);   /* a snapshot of format 1 */
    u8(&o, 2);
    u8(&o, 5);
    u8(&o, FZS_C_RAW);
    u16(&o, 44);
    put(&o, "CTSN\1\0\0\0\5", 9);
    for (i = 9; i < 44; i++) {
        u8(&o, 0);
    }
    save("fuzz_storage", "raw-junk", &o);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    root = argv[1];
    gen_decode();
    gen_roundtrip();
    gen_node();
    gen_node_snapshots();
    gen_node_reads();
    gen_node_membership();
    gen_node_near_end();
    gen_sim();
    gen_storage();
    return 0;
}
