/*
 * test_codec.c - the wire format: raft_msg_encode, raft_msg_peek_len and
 * raft_msg_decode against docs/wire-format.md, which is the contract.
 *
 * The offsets, sizes, type codes and default limits below are written out
 * from the document on purpose instead of being taken from src/codec.h, so
 * a change to the format fails these tests.
 *
 * Every decode of hostile bytes goes through an exactly-sized heap copy
 * (dec_exact), so ASan and valgrind see any read outside the input.
 * Allocations are tracked and freed by the fixture, so a failing test
 * leaks nothing under CK_FORK=no either.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raft.h"
#include "suites.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Check's assertions cost a write(2) even when they pass; loops use this. */
#define CHECK(cond, ...)               \
    do {                               \
        if (!(cond)) {                 \
            ck_abort_msg(__VA_ARGS__); \
        }                              \
    } while (0)

#define MIB (1024u * 1024u)

/* ---- the layout, from docs/wire-format.md ------------------------------ */

enum {
    O_LEN = 0,   /* u32 length */
    O_VER = 4,   /* u8 version */
    O_TYPE = 5,  /* u8 type */
    O_FLAGS = 6, /* u16 flags */
    O_FROM = 8,
    O_TO = 16,
    O_TERM = 24,
    O_NENT = 56, /* APPEND: u32 n_entries */
    O_RSV = 60,  /* APPEND: u32 reserved */
    O_SINDEX = 32, /* SNAPSHOT: u64 index */
    O_STERM = 40,  /* u64 index_term */
    O_SOFF = 48,   /* u64 offset */
    O_SLEN = 56,   /* u32 len */
    O_SCLEN = 60,  /* u32 conf_len (0 unless last) */
    O_RINDEX = 32, /* SNAPSHOT reply: u64 index */
    O_ROFF = 40,   /* u64 offset */

    LEN_HEADER = 32,
    LEN_VOTE = 48,
    LEN_APPEND_RESP = 56,
    LEN_APPEND = 64,
    LEN_ENTRY = 16,
    LEN_SNAPSHOT = 64, /* before the data */
    LEN_SNAPSHOT_RESP = 48,

    T_SNAPSHOT = 5,
    T_SNAPSHOT_RESP = 6,
    T_TIMEOUT_NOW = 13,
    T_FIRST_UNKNOWN = 14, /* the lowest type the format leaves undefined */
    F_OK = 1,             /* flag bit 0 */
    F_TRANSFER = 2,       /* flag bit 1: RequestVote only */
    MAX_CONF = 8 + 9 * 255, /* the largest configuration, and conf_len */

    EO_TERM = 0, /* entry: u64 term */
    EO_LEN = 8,  /* u32 len */
    EO_TYPE = 12, /* u8 type */
    EO_RSV = 13,  /* 3 reserved bytes */
    ET_CONFIG = 3,
    ET_FIRST_UNKNOWN = 4,

    /* A configuration: version, flags, u16 reserved, u32 n, then n times
     * u64 id + u8 flags. */
    CO_VER = 0,
    CO_FLAGS = 1,
    CO_RSV = 2,
    CO_N = 4,
    CO_MEMBERS = 8,
    C_MEMBER = 9
};

#define DEF_MAX_ENTRIES 64u
#define DEF_MAX_ENTRY_BYTES MIB
#define DEF_MAX_MSG_BYTES (64u * MIB)

static void wle(uint8_t *p, unsigned width, uint64_t v)
{
    for (unsigned i = 0; i < width; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t rle(const uint8_t *p, unsigned width)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static const char *err_name(int rc)
{
    switch (rc) {
#define CASE_NAME(name, value, text) \
    case name:                       \
        return #name;
        RAFT_ERRNO_MAP(CASE_NAME)
#undef CASE_NAME
    case 0:
        return "0";
    default:
        return "?";
    }
}

/* ---- tracked allocations ------------------------------------------------ */

#define MAX_LIVE 1024
static void *live[MAX_LIVE];

static void *track(void *p)
{
    for (size_t i = 0; p != NULL && i < MAX_LIVE; i++) {
        if (live[i] == NULL) {
            live[i] = p;
            return p;
        }
    }
    free(p);
    return NULL;
}

static void *xmalloc(size_t n)
{
    void *p = track(malloc(n > 0 ? n : 1));
    CHECK(p != NULL, "out of memory (%zu bytes)", n);
    return p;
}

static void xfree(void *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < MAX_LIVE; i++) {
        if (live[i] == p) {
            live[i] = NULL;
        }
    }
    free(p);
}

/*
 * Copy data[0..n) to the very end of a heap block of exactly n bytes
 * (n == 0: a pointer one past the end of a 1-byte block), so that any read
 * past the input is an out-of-bounds read. *block receives what to free.
 */
static uint8_t *exact_copy(const void *data, size_t n, uint8_t **block)
{
    *block = xmalloc(n > 0 ? n : 1);
    if (n == 0) {
        return *block + 1;
    }
    memcpy(*block, data, n);
    return *block;
}

/* Decode data[0..n) from an exact heap copy; for error cases only (the
 * decoded payloads would point into the freed copy). */
static int dec_exact(const void *data, size_t n,
                     const struct raft_wire_limits *lim, struct raft_msg *m,
                     struct raft_entry *ents, size_t cap)
{
    uint8_t *block;
    uint8_t *p = exact_copy(data, n, &block);
    int rc = raft_msg_decode(p, n, lim, m, ents, cap);
    xfree(block);
    return rc;
}

/* Encode into a fresh exactly-sized buffer, learning the size with cap 0. */
static uint8_t *enc_alloc(const struct raft_msg *m, size_t *len)
{
    size_t need = 0;
    int rc = raft_msg_encode(m, NULL, 0, &need);
    CHECK(rc == RAFT_ENOBUFS, "encode(NULL, 0) = %s, want RAFT_ENOBUFS",
          err_name(rc));
    uint8_t *buf = xmalloc(need);
    size_t got = 0;
    rc = raft_msg_encode(m, buf, need, &got);
    CHECK(rc == 0 && got == need, "encode(cap %zu) = %s, len %zu", need,
          err_name(rc), got);
    *len = got;
    return buf;
}

/* The encoded size by the document. */
static size_t spec_size(const struct raft_msg *m)
{
    switch (m->type) {
    case RAFT_MSG_VOTE:
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE:
    case RAFT_MSG_PREVOTE_RESP:
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_HEARTBEAT_RESP:
    case RAFT_MSG_READ:
    case RAFT_MSG_READ_RESP:
    case RAFT_MSG_TIMEOUT_NOW:
        return LEN_VOTE;
    case RAFT_MSG_APPEND_RESP:
        return LEN_APPEND_RESP;
    case RAFT_MSG_SNAPSHOT:
        return LEN_SNAPSHOT + m->u.snapshot.len + m->u.snapshot.conf_len;
    case RAFT_MSG_SNAPSHOT_RESP:
        return LEN_SNAPSHOT_RESP;
    default: {
        size_t n = LEN_APPEND;
        for (size_t i = 0; i < m->u.append.n_entries; i++) {
            n += LEN_ENTRY + m->u.append.entries[i].len;
        }
        return n;
    }
    }
}

/* Fail unless `got` carries exactly what `want` does. */
static void check_msg_eq(const struct raft_msg *want, const struct raft_msg *got,
                         const struct raft_entry *ents, const char *name)
{
    CHECK(got->type == want->type, "%s: type %d, want %d", name, got->type,
          want->type);
    CHECK(got->from == want->from && got->to == want->to &&
              got->term == want->term,
          "%s: header differs", name);
    switch (want->type) {
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PREVOTE:
        CHECK(got->u.vote.last_index == want->u.vote.last_index &&
                  got->u.vote.last_term == want->u.vote.last_term,
              "%s: vote body differs", name);
        CHECK(got->u.vote.transfer == want->u.vote.transfer,
              "%s: transfer %d, want %d", name, got->u.vote.transfer,
              want->u.vote.transfer);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        break; /* no body */
    case RAFT_MSG_PREVOTE_RESP:
    case RAFT_MSG_VOTE_RESP:
        CHECK(got->u.vote_resp.granted == want->u.vote_resp.granted,
              "%s: granted %d, want %d", name, got->u.vote_resp.granted,
              want->u.vote_resp.granted);
        CHECK(got->u.vote_resp.last_index == want->u.vote_resp.last_index &&
                  got->u.vote_resp.last_term == want->u.vote_resp.last_term,
              "%s: vote_resp body differs", name);
        break;
    case RAFT_MSG_APPEND_RESP:
        CHECK(got->u.append_resp.success == want->u.append_resp.success,
              "%s: success %d, want %d", name, got->u.append_resp.success,
              want->u.append_resp.success);
        CHECK(got->u.append_resp.index == want->u.append_resp.index &&
                  got->u.append_resp.hint_index ==
                      want->u.append_resp.hint_index &&
                  got->u.append_resp.hint_term == want->u.append_resp.hint_term,
              "%s: append_resp body differs", name);
        break;
    case RAFT_MSG_SNAPSHOT: {
        const struct raft_msg_snapshot *w = &want->u.snapshot;
        const struct raft_msg_snapshot *g = &got->u.snapshot;
        CHECK(g->last == w->last, "%s: last %d, want %d", name, g->last,
              w->last);
        CHECK(g->index == w->index && g->index_term == w->index_term &&
                  g->offset == w->offset,
              "%s: snapshot body differs", name);
        CHECK(g->len == w->len, "%s: %zu data bytes, want %zu", name, g->len,
              w->len);
        CHECK(w->len == 0 ? g->data == NULL
                          : memcmp(g->data, w->data, w->len) == 0,
              "%s: snapshot data differs (or not NULL when empty)", name);
        CHECK(g->conf_len == w->conf_len, "%s: %zu configuration bytes, "
              "want %zu", name, g->conf_len, w->conf_len);
        CHECK(w->conf_len == 0 ? g->conf == NULL
                               : memcmp(g->conf, w->conf, w->conf_len) == 0,
              "%s: snapshot configuration differs (or not NULL when empty)",
              name);
        break;
    }
    case RAFT_MSG_SNAPSHOT_RESP:
        CHECK(got->u.snapshot_resp.done == want->u.snapshot_resp.done,
              "%s: done %d, want %d", name, got->u.snapshot_resp.done,
              want->u.snapshot_resp.done);
        CHECK(got->u.snapshot_resp.index == want->u.snapshot_resp.index &&
                  got->u.snapshot_resp.offset == want->u.snapshot_resp.offset,
              "%s: snapshot_resp body differs", name);
        break;
    default: {
        const struct raft_msg_append *w = &want->u.append;
        const struct raft_msg_append *g = &got->u.append;
        CHECK(g->prev_index == w->prev_index && g->prev_term == w->prev_term &&
                  g->commit == w->commit,
              "%s: append body differs", name);
        CHECK(g->n_entries == w->n_entries, "%s: %zu entries, want %zu", name,
              g->n_entries, w->n_entries);
        if (w->n_entries > 0) {
            CHECK(g->entries == ents,
                  "%s: entries not in the caller's array", name);
        }
        for (size_t i = 0; i < w->n_entries; i++) {
            const struct raft_entry *we = &w->entries[i];
            const struct raft_entry *ge = &g->entries[i];
            CHECK(ge->term == we->term && ge->type == we->type &&
                      ge->len == we->len,
                  "%s: entry %zu: term/type/len %llu/%d/%zu, want "
                  "%llu/%d/%zu",
                  name, i, (unsigned long long)ge->term, ge->type, ge->len,
                  (unsigned long long)we->term, we->type, we->len);
            CHECK(we->len == 0 || memcmp(ge->buf, we->buf, we->len) == 0,
                  "%s: entry %zu: payload differs", name, i);
        }
        break;
    }
    }
}

/* A decoded message must not be able to pass for a correct one by
 * accident: decode into this poison. */
static void poison(struct raft_msg *m, struct raft_entry *ents, size_t n)
{
    memset(m, 0xA5, sizeof(*m));
    m->u.vote_resp.granted = true; /* a valid bool in the poisoned union */
    if (n > 0) {
        memset(ents, 0xA5, n * sizeof(*ents));
    }
}

/* ---- payloads and the round-trip table ---------------------------------- */

static uint8_t PAY_BIN[300]; /* filled by setup() */
static const char PAY_ABC[] = "abc";
static const char PAY_ODD[] = "\0\xff\x01\x80\x7f"; /* 5 bytes */

static const struct raft_entry ENTS_EMPTY_NULL[] = {
    {.term = 1, .type = RAFT_ENTRY_NOOP, .buf = NULL, .len = 0},
};
static const struct raft_entry ENTS_EMPTY_PTR[] = {
    {.term = 1, .type = RAFT_ENTRY_COMMAND, .buf = PAY_ABC, .len = 0},
};
static const struct raft_entry ENTS_MIX[] = {
    {.term = 1, .type = RAFT_ENTRY_NOOP, .buf = NULL, .len = 0},
    {.term = 1, .type = RAFT_ENTRY_COMMAND, .buf = PAY_ABC, .len = 3},
    {.term = 2, .type = RAFT_ENTRY_COMMAND, .buf = PAY_ODD, .len = 5},
    {.term = UINT64_MAX, .type = RAFT_ENTRY_COMMAND, .buf = PAY_BIN,
     .len = sizeof(PAY_BIN)},
    {.term = 0, .type = RAFT_ENTRY_NOOP, .buf = NULL, .len = 0},
    {.term = 0x0102030405060708u, .type = RAFT_ENTRY_COMMAND, .buf = PAY_ABC,
     .len = 1},
    {.term = 9, .type = RAFT_ENTRY_NOOP, .buf = PAY_ODD, .len = 2},
};
/* Configurations, byte by byte from the document. */
#define LE8(v, k) (uint8_t)((uint64_t)(v) >> (8 * (k)))
#define LE64(v)                                                    \
    LE8(v, 0), LE8(v, 1), LE8(v, 2), LE8(v, 3), LE8(v, 4), LE8(v, 5), \
        LE8(v, 6), LE8(v, 7)

/* Voters 1 and 2, learner 3: the document's example. */
static const uint8_t CONF3[] = {
    1, 0, 0, 0, 3, 0, 0, 0,
    LE64(1u), 1,
    LE64(2u), 1,
    LE64(3u), 4,
};
/* Joint, left automatically: 1 stays, 2 goes, 4 comes in, a voter with a
 * large id is demoted to learner. */
static const uint8_t CONF_JOINT[] = {
    1, 1, 0, 0, 4, 0, 0, 0,
    LE64(1u), 3,
    LE64(2u), 2,
    LE64(4u), 1,
    LE64(0x0102030405060708u), 6,
};
static uint8_t CONF_BIG[MAX_CONF]; /* 255 voters; filled by setup() */

static const struct raft_entry ENTS_CONF[] = {
    {.term = 1, .type = RAFT_ENTRY_CONFIG, .buf = CONF3, .len = sizeof(CONF3)},
    {.term = 2, .type = RAFT_ENTRY_COMMAND, .buf = PAY_ABC, .len = 3},
    {.term = 2, .type = RAFT_ENTRY_CONFIG, .buf = CONF_JOINT,
     .len = sizeof(CONF_JOINT)},
    /* The codec does not look inside a configuration: raft_step does. */
    {.term = 3, .type = RAFT_ENTRY_CONFIG, .buf = PAY_ODD, .len = 5},
    {.term = 3, .type = RAFT_ENTRY_CONFIG, .buf = NULL, .len = 0},
};

static const struct raft_entry ENTS_MAXTERM[] = {
    {.term = UINT64_MAX, .type = RAFT_ENTRY_COMMAND, .buf = PAY_ABC, .len = 3},
    {.term = UINT64_MAX, .type = RAFT_ENTRY_NOOP, .buf = NULL, .len = 0},
};

#define M UINT64_MAX
#define MIXED_A 0x0102030405060708u
#define MIXED_B 0x8070605040302010u

struct rt_case {
    const char *name;
    struct raft_msg m;
};

static const struct rt_case RT[] = {
    {"vote, all zero", {.type = RAFT_MSG_VOTE}},
    {"vote, all max",
     {.type = RAFT_MSG_VOTE, .from = M, .to = M, .term = M,
      .u.vote = {.last_index = M, .last_term = M}}},
    {"vote, mixed",
     {.type = RAFT_MSG_VOTE, .from = 1, .to = 2, .term = MIXED_A,
      .u.vote = {.last_index = MIXED_B, .last_term = 7}}},
    {"vote of a transfer, all zero",
     {.type = RAFT_MSG_VOTE, .u.vote = {.transfer = true}}},
    {"vote of a transfer, all max",
     {.type = RAFT_MSG_VOTE, .from = M, .to = M, .term = M,
      .u.vote = {.last_index = M, .last_term = M, .transfer = true}}},
    {"prevote, mixed",
     {.type = RAFT_MSG_PREVOTE, .from = 3, .to = 1, .term = MIXED_A,
      .u.vote = {.last_index = MIXED_B, .last_term = 7}}},
    {"timeout_now, all zero", {.type = RAFT_MSG_TIMEOUT_NOW}},
    {"timeout_now, all max", {.type = RAFT_MSG_TIMEOUT_NOW, .from = M, .to = M, .term = M}},
    {"vote_resp granted, all zero",
     {.type = RAFT_MSG_VOTE_RESP, .u.vote_resp = {.granted = true}}},
    {"vote_resp denied, all zero", {.type = RAFT_MSG_VOTE_RESP}},
    {"vote_resp granted, all max",
     {.type = RAFT_MSG_VOTE_RESP, .from = M, .to = M, .term = M,
      .u.vote_resp = {.granted = true, .last_index = M, .last_term = M}}},
    {"vote_resp denied, all max",
     {.type = RAFT_MSG_VOTE_RESP, .from = M, .to = M, .term = M,
      .u.vote_resp = {.granted = false, .last_index = M, .last_term = M}}},
    {"append_resp success, all zero",
     {.type = RAFT_MSG_APPEND_RESP, .u.append_resp = {.success = true}}},
    {"append_resp failure, all zero", {.type = RAFT_MSG_APPEND_RESP}},
    {"append_resp success, all max",
     {.type = RAFT_MSG_APPEND_RESP, .from = M, .to = M, .term = M,
      .u.append_resp = {.success = true, .index = M, .hint_index = M,
                        .hint_term = M}}},
    {"append_resp failure, all max",
     {.type = RAFT_MSG_APPEND_RESP, .from = M, .to = M, .term = M,
      .u.append_resp = {.success = false, .index = M, .hint_index = M,
                        .hint_term = M}}},
    {"append_resp failure, mixed",
     {.type = RAFT_MSG_APPEND_RESP, .from = 3, .to = MIXED_A, .term = 4,
      .u.append_resp = {.success = false, .index = MIXED_B, .hint_index = 5,
                        .hint_term = 6}}},
    {"append heartbeat, all zero", {.type = RAFT_MSG_APPEND}},
    {"append heartbeat, all max",
     {.type = RAFT_MSG_APPEND, .from = M, .to = M, .term = M,
      .u.append = {.prev_index = M, .prev_term = M, .commit = M}}},
    {"append, no entries but a non-NULL array",
     {.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 3,
      .u.append = {.prev_index = 4, .prev_term = 3, .commit = 2,
                   .n_entries = 0, .entries = ENTS_MIX}}},
    {"append, one empty entry with NULL payload",
     {.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 3,
      .u.append = {.n_entries = 1, .entries = ENTS_EMPTY_NULL}}},
    {"append, one empty entry with a non-NULL payload",
     {.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 3,
      .u.append = {.prev_index = 1, .prev_term = 1, .n_entries = 1,
                   .entries = ENTS_EMPTY_PTR}}},
    {"append, mixed entries",
     {.type = RAFT_MSG_APPEND, .from = MIXED_A, .to = MIXED_B, .term = 9,
      .u.append = {.prev_index = MIXED_B, .prev_term = MIXED_A, .commit = 1,
                   .n_entries = ARRAY_LEN(ENTS_MIX), .entries = ENTS_MIX}}},
    {"append, configuration entries",
     {.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 3,
      .u.append = {.prev_index = 0, .prev_term = 0, .commit = 0,
                   .n_entries = ARRAY_LEN(ENTS_CONF), .entries = ENTS_CONF}}},
    {"append, all max with entries",
     {.type = RAFT_MSG_APPEND, .from = M, .to = M, .term = M,
      .u.append = {.prev_index = M, .prev_term = M, .commit = M,
                   .n_entries = ARRAY_LEN(ENTS_MAXTERM),
                   .entries = ENTS_MAXTERM}}},
    {"snapshot, all zero", {.type = RAFT_MSG_SNAPSHOT}},
    {"snapshot last, all zero",
     {.type = RAFT_MSG_SNAPSHOT, .u.snapshot = {.last = true}}},
    {"snapshot, empty chunk with a non-NULL pointer",
     {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 3,
      .u.snapshot = {.index = 10, .index_term = 2, .offset = 0,
                     .last = true, .len = 0, .data = PAY_ABC}}},
    {"snapshot, first chunk",
     {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 3,
      .u.snapshot = {.index = 10, .index_term = 2, .offset = 0,
                     .last = false, .len = 3, .data = PAY_ABC}}},
    {"snapshot last, 300 bytes",
     {.type = RAFT_MSG_SNAPSHOT, .from = MIXED_A, .to = MIXED_B, .term = 9,
      .u.snapshot = {.index = MIXED_B, .index_term = MIXED_A,
                     .offset = 0x100000000u, .last = true,
                     .len = sizeof(PAY_BIN), .data = PAY_BIN}}},
    {"snapshot, offset UINT64_MAX - 5 with 5 bytes",
     {.type = RAFT_MSG_SNAPSHOT, .from = 2, .to = 1, .term = 4,
      .u.snapshot = {.index = 7, .index_term = 4, .offset = M - 5,
                     .last = false, .len = 5, .data = PAY_ODD}}},
    {"snapshot last, all max",
     {.type = RAFT_MSG_SNAPSHOT, .from = M, .to = M, .term = M,
      .u.snapshot = {.index = M, .index_term = M, .offset = M, .last = true,
                     .len = 1, .data = PAY_ODD}}},
    {"snapshot last, 3 bytes and the configuration",
     {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 3,
      .u.snapshot = {.index = 10, .index_term = 2, .offset = 7,
                     .last = true, .len = 3, .data = PAY_ABC,
                     .conf_len = sizeof(CONF3), .conf = CONF3}}},
    {"snapshot last, empty chunk and the largest configuration",
     {.type = RAFT_MSG_SNAPSHOT, .from = M, .to = M, .term = M,
      .u.snapshot = {.index = M, .index_term = M, .offset = M,
                     .last = true, .conf_len = MAX_CONF, .conf = CONF_BIG}}},
    {"snapshot last, a joint configuration, 300 bytes",
     {.type = RAFT_MSG_SNAPSHOT, .from = 2, .to = 5, .term = 8,
      .u.snapshot = {.index = 90, .index_term = 8, .offset = 300,
                     .last = true, .len = sizeof(PAY_BIN), .data = PAY_BIN,
                     .conf_len = sizeof(CONF_JOINT), .conf = CONF_JOINT}}},
    {"snapshot last, 1 configuration byte (not valid; not the codec's to check)",
     {.type = RAFT_MSG_SNAPSHOT, .from = 2, .to = 5, .term = 8,
      .u.snapshot = {.index = 90, .index_term = 8, .last = true,
                     .conf_len = 1, .conf = PAY_ODD}}},
    {"snapshot, a non-NULL configuration pointer with conf_len 0",
     {.type = RAFT_MSG_SNAPSHOT, .from = 2, .to = 5, .term = 8,
      .u.snapshot = {.index = 90, .index_term = 8, .len = 3, .data = PAY_ABC,
                     .conf = CONF3}}},
    {"snapshot_resp, all zero", {.type = RAFT_MSG_SNAPSHOT_RESP}},
    {"snapshot_resp done, all zero",
     {.type = RAFT_MSG_SNAPSHOT_RESP, .u.snapshot_resp = {.done = true}}},
    {"snapshot_resp, all max",
     {.type = RAFT_MSG_SNAPSHOT_RESP, .from = M, .to = M, .term = M,
      .u.snapshot_resp = {.index = M, .offset = M, .done = false}}},
    {"snapshot_resp done, all max",
     {.type = RAFT_MSG_SNAPSHOT_RESP, .from = M, .to = M, .term = M,
      .u.snapshot_resp = {.index = M, .offset = M, .done = true}}},
    {"snapshot_resp, mixed",
     {.type = RAFT_MSG_SNAPSHOT_RESP, .from = 3, .to = MIXED_A, .term = 4,
      .u.snapshot_resp = {.index = MIXED_B, .offset = M - 1, .done = false}}},
};

#undef M

/* 255 voters with ids i * 0x0101010101010101 + 1. */
static void fill_conf_big(uint8_t *b)
{
    b[CO_VER] = 1;
    b[CO_FLAGS] = 0;
    wle(b + CO_RSV, 2, 0);
    wle(b + CO_N, 4, 255);
    for (unsigned i = 0; i < 255; i++) {
        wle(b + CO_MEMBERS + C_MEMBER * i, 8, i * 0x0101010101010101u + 1);
        b[CO_MEMBERS + C_MEMBER * i + 8] = RAFT_MEMBER_VOTER;
    }
}

static void setup(void)
{
    for (size_t i = 0; i < sizeof(PAY_BIN); i++) {
        PAY_BIN[i] = (uint8_t)(i * 37 + 11);
    }
    fill_conf_big(CONF_BIG);
}

static struct raft *wnode[4]; /* the integration test's nodes */

static void teardown(void)
{
    for (size_t i = 0; i < ARRAY_LEN(wnode); i++) {
        raft_destroy(wnode[i]);
        wnode[i] = NULL;
    }
    for (size_t i = 0; i < MAX_LIVE; i++) {
        free(live[i]);
        live[i] = NULL;
    }
}

/* Decode buf (left in place: exactly sized by enc_alloc) and compare with
 * the original; then re-encode the decoded message: same bytes. */
static void round_trip(const struct raft_msg *m, const uint8_t *buf, size_t len,
                       const struct raft_wire_limits *lim, const char *name)
{
    size_t cap = m->type == RAFT_MSG_APPEND ? m->u.append.n_entries : 0;
    struct raft_entry *ents = cap > 0 ? xmalloc(cap * sizeof(*ents)) : NULL;
    struct raft_msg d;
    poison(&d, ents, cap);
    int rc = raft_msg_decode(buf, len, lim, &d, ents, cap);
    CHECK(rc == 0, "%s: decode = %s", name, err_name(rc));
    check_msg_eq(m, &d, ents, name);

    size_t len2 = 0;
    uint8_t *again = enc_alloc(&d, &len2);
    CHECK(len2 == len && memcmp(again, buf, len) == 0,
          "%s: re-encoding the decoded message gives other bytes", name);
    xfree(again);
    xfree(ents);
}

/* ======================================================================
 * Round trips
 * ====================================================================== */

START_TEST(test_roundtrip_every_type)
{
    for (size_t i = 0; i < ARRAY_LEN(RT); i++) {
        const struct rt_case *c = &RT[i];
        size_t len = 0;
        uint8_t *buf = enc_alloc(&c->m, &len);
        CHECK(len == spec_size(&c->m), "%s: encoded %zu bytes, spec says %zu",
              c->name, len, spec_size(&c->m));
        CHECK(rle(buf + O_LEN, 4) == len && buf[O_VER] == 1 &&
                  buf[O_TYPE] == c->m.type,
              "%s: length/version/type bytes wrong", c->name);
        if (c->m.type == RAFT_MSG_SNAPSHOT) {
            const struct raft_msg_snapshot *sn = &c->m.u.snapshot;
            CHECK(rle(buf + O_SINDEX, 8) == sn->index &&
                      rle(buf + O_STERM, 8) == sn->index_term &&
                      rle(buf + O_SOFF, 8) == sn->offset &&
                      rle(buf + O_SLEN, 4) == sn->len &&
                      rle(buf + O_SCLEN, 4) == sn->conf_len,
                  "%s: snapshot fields not at the documented offsets",
                  c->name);
            CHECK(sn->len == 0 ||
                      memcmp(buf + LEN_SNAPSHOT, sn->data, sn->len) == 0,
                  "%s: data not at offset 64", c->name);
            CHECK(sn->conf_len == 0 ||
                      memcmp(buf + LEN_SNAPSHOT + sn->len, sn->conf,
                             sn->conf_len) == 0,
                  "%s: configuration not right after the data", c->name);
        } else if (c->m.type == RAFT_MSG_TIMEOUT_NOW) {
            CHECK(rle(buf + 32, 8) == 0 && rle(buf + 40, 8) == 0,
                  "%s: reserved bytes not zero", c->name);
        } else if (c->m.type == RAFT_MSG_SNAPSHOT_RESP) {
            CHECK(rle(buf + O_RINDEX, 8) == c->m.u.snapshot_resp.index &&
                      rle(buf + O_ROFF, 8) == c->m.u.snapshot_resp.offset,
                  "%s: snapshot_resp fields not at the documented offsets",
                  c->name);
        }

        size_t peek = 0;
        int rc = raft_msg_peek_len(buf, len, &peek);
        CHECK(rc == 0 && peek == len, "%s: peek_len = %s, %zu", c->name,
              err_name(rc), peek);

        round_trip(&c->m, buf, len, NULL, c->name);
        /* Zero in every limit selects the defaults. */
        const struct raft_wire_limits zero = {0, 0, 0};
        round_trip(&c->m, buf, len, &zero, c->name);
        xfree(buf);
    }
}
END_TEST

/* raft.h: the buffers need no alignment. Every case is encoded at each
 * offset 1..7 of a block and decoded from there (the entry array is the
 * caller's, aligned as any struct raft_entry); a configuration decodes
 * from an odd address too. */
START_TEST(test_any_alignment)
{
    for (size_t i = 0; i < ARRAY_LEN(RT); i++) {
        const struct rt_case *c = &RT[i];
        size_t len = 0;
        uint8_t *ref = enc_alloc(&c->m, &len);
        uint8_t *block = xmalloc(len + 8);
        for (size_t off = 1; off < 8; off++) {
            size_t got = 0;
            int rc = raft_msg_encode(&c->m, block + off, len, &got);
            CHECK(rc == 0 && got == len && memcmp(block + off, ref, len) == 0,
                  "%s at offset %zu: encode = %s", c->name, off, err_name(rc));
            round_trip(&c->m, block + off, len, NULL, c->name);
            size_t peek = 0;
            CHECK(raft_msg_peek_len(block + off, len, &peek) == 0 && peek == len,
                  "%s at offset %zu: peek_len", c->name, off);
        }
        xfree(block);
        xfree(ref);
    }
    uint8_t odd[1 + sizeof(CONF3)];
    memcpy(odd + 1, CONF3, sizeof(CONF3));
    struct raft_member mem[3];
    size_t n = 0;
    ck_assert_int_eq(raft_conf_decode(odd + 1, sizeof(CONF3), mem, 3, &n), 0);
    ck_assert_uint_eq(n, 3);
}
END_TEST

/* Flags follow the booleans exactly: bit 0 of the u16 at offset 6, bit 1
 * for a RequestVote's transfer. */
START_TEST(test_roundtrip_flag_bit)
{
    for (size_t i = 0; i < ARRAY_LEN(RT); i++) {
        const struct rt_case *c = &RT[i];
        size_t len = 0;
        uint8_t *buf = enc_alloc(&c->m, &len);
        uint64_t want = 0;
        if (c->m.type == RAFT_MSG_VOTE) {
            want = c->m.u.vote.transfer ? F_TRANSFER : 0;
        } else if (c->m.type == RAFT_MSG_VOTE_RESP) {
            want = c->m.u.vote_resp.granted;
        } else if (c->m.type == RAFT_MSG_APPEND_RESP) {
            want = c->m.u.append_resp.success;
        } else if (c->m.type == RAFT_MSG_SNAPSHOT) {
            want = c->m.u.snapshot.last;
        } else if (c->m.type == RAFT_MSG_SNAPSHOT_RESP) {
            want = c->m.u.snapshot_resp.done;
        }
        CHECK(rle(buf + O_FLAGS, 2) == want, "%s: flags 0x%04llx, want %llu",
              c->name, (unsigned long long)rle(buf + O_FLAGS, 2),
              (unsigned long long)want);
        xfree(buf);
    }
}
END_TEST

/* Entries and messages exactly at the default limits decode; one more
 * byte or entry does not. */
START_TEST(test_roundtrip_at_default_limits)
{
    /* Pattern source: entry i's payload starts at pattern + i, so every
     * entry's bytes differ. */
    size_t pat_len = DEF_MAX_ENTRY_BYTES + DEF_MAX_ENTRIES + 1;
    uint8_t *pat = xmalloc(pat_len);
    for (size_t i = 0; i < pat_len; i++) {
        pat[i] = (uint8_t)((i * 131) ^ (i >> 9));
    }
    struct raft_entry ents[DEF_MAX_ENTRIES + 1];
    struct raft_msg m = {.type = RAFT_MSG_APPEND, .from = 1, .to = 2,
                         .term = 5,
                         .u.append = {.prev_index = 10, .prev_term = 4,
                                      .commit = 10, .entries = ents}};
    uint8_t *buf;
    size_t len;
    struct raft_msg d;
    struct raft_entry dents[DEF_MAX_ENTRIES + 1];

    /* One entry of exactly max_entry_bytes. */
    ents[0] = (struct raft_entry){.term = 5, .type = RAFT_ENTRY_COMMAND,
                                  .buf = pat, .len = DEF_MAX_ENTRY_BYTES};
    m.u.append.n_entries = 1;
    buf = enc_alloc(&m, &len);
    ck_assert_uint_eq(len, LEN_APPEND + LEN_ENTRY + DEF_MAX_ENTRY_BYTES);
    round_trip(&m, buf, len, NULL, "one 1 MiB entry");
    xfree(buf);

    /* One byte more: ELIMIT. */
    ents[0].len = DEF_MAX_ENTRY_BYTES + 1;
    buf = enc_alloc(&m, &len);
    ck_assert_int_eq(raft_msg_decode(buf, len, NULL, &d, dents, 1), RAFT_ELIMIT);
    xfree(buf);

    /* 64 entries, and a message of exactly 64 MiB: each entry takes
     * 16 + (1 MiB - 17) bytes, 64 of them plus the 64-byte fixed part. */
    for (size_t i = 0; i < DEF_MAX_ENTRIES; i++) {
        ents[i] = (struct raft_entry){.term = 5 + i,
                                      .type = RAFT_ENTRY_COMMAND,
                                      .buf = pat + i,
                                      .len = DEF_MAX_ENTRY_BYTES - 17};
    }
    m.u.append.n_entries = DEF_MAX_ENTRIES;
    buf = enc_alloc(&m, &len);
    ck_assert_uint_eq(len, DEF_MAX_MSG_BYTES);
    round_trip(&m, buf, len, NULL, "64 entries, 64 MiB");
    xfree(buf);

    /* One byte more in the last entry: the message exceeds 64 MiB. */
    ents[DEF_MAX_ENTRIES - 1].len++;
    buf = enc_alloc(&m, &len);
    ck_assert_uint_eq(len, DEF_MAX_MSG_BYTES + 1);
    ck_assert_int_eq(raft_msg_decode(buf, len, NULL, &d, dents, DEF_MAX_ENTRIES),
                     RAFT_ELIMIT);
    xfree(buf);

    /* 64 empty entries decode; 65 are over the entry-count limit. */
    for (size_t i = 0; i <= DEF_MAX_ENTRIES; i++) {
        ents[i] = (struct raft_entry){.term = 5, .type = RAFT_ENTRY_NOOP};
    }
    m.u.append.n_entries = DEF_MAX_ENTRIES;
    buf = enc_alloc(&m, &len);
    round_trip(&m, buf, len, NULL, "64 empty entries");
    xfree(buf);
    m.u.append.n_entries = DEF_MAX_ENTRIES + 1;
    buf = enc_alloc(&m, &len);
    ck_assert_int_eq(raft_msg_decode(buf, len, NULL, &d, dents,
                                     DEF_MAX_ENTRIES + 1),
                     RAFT_ELIMIT);
    xfree(buf);
    xfree(pat);
}
END_TEST

/* Custom limits are inclusive: a message exactly at each passes. */
START_TEST(test_roundtrip_at_custom_limits)
{
    static const struct raft_entry ents[] = {
        {.term = 3, .type = RAFT_ENTRY_COMMAND, .buf = "abc", .len = 3},
        {.term = 3, .type = RAFT_ENTRY_COMMAND, .buf = "hello", .len = 5},
        {.term = 4, .type = RAFT_ENTRY_NOOP, .buf = NULL, .len = 0},
    };
    const struct raft_msg m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 4,
        .u.append = {.prev_index = 4, .prev_term = 2, .commit = 4,
                     .n_entries = 3, .entries = ents}};
    size_t len;
    uint8_t *buf = enc_alloc(&m, &len);
    ck_assert_uint_eq(len, 64 + 3 * 16 + 8);
    const struct raft_wire_limits exact = {.max_entries = 3,
                                           .max_entry_bytes = 5,
                                           .max_msg_bytes = (uint32_t)len};
    round_trip(&m, buf, len, &exact, "exactly at custom limits");

    struct raft_msg d;
    struct raft_entry dents[4];
    struct raft_wire_limits l = exact;
    l.max_entries = 2;
    ck_assert_int_eq(raft_msg_decode(buf, len, &l, &d, dents, 4), RAFT_ELIMIT);
    l = exact;
    l.max_entry_bytes = 4;
    ck_assert_int_eq(raft_msg_decode(buf, len, &l, &d, dents, 4), RAFT_ELIMIT);
    l = exact;
    l.max_msg_bytes = (uint32_t)len - 1;
    ck_assert_int_eq(raft_msg_decode(buf, len, &l, &d, dents, 4), RAFT_ELIMIT);
    xfree(buf);
}
END_TEST

/* A snapshot chunk is one payload: max_entry_bytes bounds its length as it
 * bounds an entry's, and max_msg_bytes the whole message. */
START_TEST(test_roundtrip_snapshot_limits)
{
    uint8_t *pat = xmalloc(DEF_MAX_ENTRY_BYTES + 1);
    for (size_t i = 0; i <= DEF_MAX_ENTRY_BYTES; i++) {
        pat[i] = (uint8_t)((i * 151) ^ (i >> 11));
    }
    struct raft_msg m = {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2,
                         .term = 5,
                         .u.snapshot = {.index = 100, .index_term = 4,
                                        .offset = 3 * DEF_MAX_ENTRY_BYTES,
                                        .last = true, .data = pat,
                                        .len = DEF_MAX_ENTRY_BYTES}};
    struct raft_msg d;
    size_t len;
    uint8_t *buf = enc_alloc(&m, &len);
    ck_assert_uint_eq(len, LEN_SNAPSHOT + DEF_MAX_ENTRY_BYTES);
    round_trip(&m, buf, len, NULL, "1 MiB chunk");
    xfree(buf);

    /* One byte more: over the default, within a raised limit. */
    m.u.snapshot.len++;
    buf = enc_alloc(&m, &len);
    ck_assert_int_eq(dec_exact(buf, len, NULL, &d, NULL, 0), RAFT_ELIMIT);
    const struct raft_wire_limits raised = {
        .max_entry_bytes = DEF_MAX_ENTRY_BYTES + 1};
    round_trip(&m, buf, len, &raised, "1 MiB + 1 chunk, raised limit");
    xfree(buf);

    /* Custom limits are inclusive; max_entries plays no part. */
    m.u.snapshot.len = 10;
    buf = enc_alloc(&m, &len);
    ck_assert_uint_eq(len, LEN_SNAPSHOT + 10);
    const struct raft_wire_limits exact = {.max_entries = 1,
                                           .max_entry_bytes = 10,
                                           .max_msg_bytes = LEN_SNAPSHOT + 10};
    round_trip(&m, buf, len, &exact, "chunk exactly at custom limits");
    struct raft_wire_limits l = exact;
    l.max_entry_bytes = 9;
    ck_assert_int_eq(dec_exact(buf, len, &l, &d, NULL, 0), RAFT_ELIMIT);
    l = exact;
    l.max_msg_bytes = LEN_SNAPSHOT + 9;
    ck_assert_int_eq(dec_exact(buf, len, &l, &d, NULL, 0), RAFT_ELIMIT);
    /* The message limit binds before the chunk limit is looked at. */
    l.max_entry_bytes = UINT32_MAX;
    ck_assert_int_eq(dec_exact(buf, len, &l, &d, NULL, 0), RAFT_ELIMIT);
    xfree(buf);

    /* An empty chunk passes any chunk limit. */
    m.u.snapshot.len = 0;
    buf = enc_alloc(&m, &len);
    l = (struct raft_wire_limits){.max_entry_bytes = 1,
                                  .max_msg_bytes = LEN_SNAPSHOT};
    round_trip(&m, buf, len, &l, "empty chunk, tight limits");
    xfree(buf);

    /* A reply has no payload: only max_msg_bytes applies. */
    const struct raft_msg resp = {.type = RAFT_MSG_SNAPSHOT_RESP, .from = 2,
                                  .to = 1, .term = 5,
                                  .u.snapshot_resp = {.index = 100,
                                                      .offset = 7}};
    buf = enc_alloc(&resp, &len);
    l = (struct raft_wire_limits){.max_entries = 1, .max_entry_bytes = 1,
                                  .max_msg_bytes = LEN_SNAPSHOT_RESP};
    round_trip(&resp, buf, len, &l, "snapshot_resp, tight limits");
    l.max_msg_bytes = LEN_SNAPSHOT_RESP - 1;
    ck_assert_int_eq(dec_exact(buf, len, &l, &d, NULL, 0), RAFT_ELIMIT);
    xfree(buf);
    xfree(pat);
}
END_TEST

/* ======================================================================
 * Golden bytes, written out by hand from docs/wire-format.md
 * ====================================================================== */

#define GOLD_PAYLOAD 259u
#define CANARY_GOLD 0x5a

static void gold_payload(uint8_t *p)
{
    for (unsigned i = 0; i < GOLD_PAYLOAD; i++) {
        p[i] = (uint8_t)(i * 7 + 1);
    }
}

START_TEST(test_golden_append)
{
    static const uint8_t want_head[96] = {
        /*  0 length 355   */ 0x63, 0x01, 0x00, 0x00,
        /*  4 version 1    */ 0x01,
        /*  5 type 3       */ 0x03,
        /*  6 flags 0      */ 0x00, 0x00,
        /*  8 from         */ 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
        /* 16 to           */ 0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,
        /* 24 term         */ 0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21,
        /* 32 prev_index   */ 0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31,
        /* 40 prev_term    */ 0x48, 0x47, 0x46, 0x45, 0x44, 0x43, 0x42, 0x41,
        /* 48 commit       */ 0x58, 0x57, 0x56, 0x55, 0x54, 0x53, 0x52, 0x51,
        /* 56 n_entries 2  */ 0x02, 0x00, 0x00, 0x00,
        /* 60 reserved     */ 0x00, 0x00, 0x00, 0x00,
        /* 64 e0 term      */ 0x68, 0x67, 0x66, 0x65, 0x64, 0x63, 0x62, 0x61,
        /* 72 e0 len 0     */ 0x00, 0x00, 0x00, 0x00,
        /* 76 e0 type 2    */ 0x02,
        /* 77 reserved     */ 0x00, 0x00, 0x00,
        /* 80 e1 term      */ 0x78, 0x77, 0x76, 0x75, 0x74, 0x73, 0x72, 0x71,
        /* 88 e1 len 259   */ 0x03, 0x01, 0x00, 0x00,
        /* 92 e1 type 1    */ 0x01,
        /* 93 reserved     */ 0x00, 0x00, 0x00,
        /* 96 e1 payload follows */
    };
    uint8_t want[96 + GOLD_PAYLOAD];
    memcpy(want, want_head, sizeof(want_head));
    gold_payload(want + 96);

    uint8_t payload[GOLD_PAYLOAD];
    gold_payload(payload);
    const struct raft_entry ents[2] = {
        {.term = 0x6162636465666768u, .type = RAFT_ENTRY_NOOP},
        {.term = 0x7172737475767778u, .type = RAFT_ENTRY_COMMAND,
         .buf = payload, .len = GOLD_PAYLOAD},
    };
    const struct raft_msg m = {
        .type = RAFT_MSG_APPEND,
        .from = 0x0102030405060708u,
        .to = 0x1112131415161718u,
        .term = 0x2122232425262728u,
        .u.append = {.prev_index = 0x3132333435363738u,
                     .prev_term = 0x4142434445464748u,
                     .commit = 0x5152535455565758u,
                     .n_entries = 2,
                     .entries = ents}};

    uint8_t out[sizeof(want)];
    size_t len = 0;
    ck_assert_int_eq(raft_msg_encode(&m, out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, sizeof(want));
    for (size_t i = 0; i < sizeof(want); i++) {
        CHECK(out[i] == want[i], "append byte %zu: 0x%02x, want 0x%02x", i,
              out[i], want[i]);
    }

    /* And the hand-written bytes decode to the message. */
    struct raft_msg d;
    struct raft_entry dents[2];
    poison(&d, dents, 2);
    ck_assert_int_eq(raft_msg_decode(want, sizeof(want), NULL, &d, dents, 2), 0);
    check_msg_eq(&m, &d, dents, "golden append");
}
END_TEST

START_TEST(test_golden_vote_resp)
{
    static const uint8_t want[48] = {
        /*  0 length 48       */ 0x30, 0x00, 0x00, 0x00,
        /*  4 version, type 2 */ 0x01, 0x02,
        /*  6 flags: granted  */ 0x01, 0x00,
        /*  8 from            */ 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 16 to              */ 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        /* 24 term            */ 0xef, 0xbe, 0xad, 0xde, 0x00, 0x00, 0x00, 0x00,
        /* 32 last_index      */ 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
        /* 40 last_term       */ 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    };
    struct raft_msg m = {
        .type = RAFT_MSG_VOTE_RESP,
        .from = 3,
        .to = 0x0000000100000002u,
        .term = 0xdeadbeefu,
        .u.vote_resp = {.granted = true,
                        .last_index = 0x8000000000000001u,
                        .last_term = 0xfffffffffffffffeu}};
    uint8_t out[64];
    memset(out, 0x5a, sizeof(out));
    size_t len = 0;
    ck_assert_int_eq(raft_msg_encode(&m, out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, 48);
    for (size_t i = 0; i < sizeof(want); i++) {
        CHECK(out[i] == want[i], "vote_resp byte %zu: 0x%02x, want 0x%02x", i,
              out[i], want[i]);
    }
    for (size_t i = sizeof(want); i < sizeof(out); i++) {
        CHECK(out[i] == 0x5a, "vote_resp: byte %zu past the message written",
              i);
    }
    struct raft_msg d;
    poison(&d, NULL, 0);
    ck_assert_int_eq(raft_msg_decode(want, sizeof(want), NULL, &d, NULL, 0), 0);
    check_msg_eq(&m, &d, NULL, "golden vote_resp");

    /* Denied: the same bytes with flag bit 0 clear. */
    m.u.vote_resp.granted = false;
    ck_assert_int_eq(raft_msg_encode(&m, out, sizeof(out), &len), 0);
    for (size_t i = 0; i < sizeof(want); i++) {
        uint8_t w = i == O_FLAGS ? 0x00 : want[i];
        CHECK(out[i] == w, "denied vote_resp byte %zu: 0x%02x, want 0x%02x", i,
              out[i], w);
    }
}
END_TEST

START_TEST(test_golden_vote_and_append_resp)
{
    static const uint8_t want_vote[48] = {
        0x30, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    static const uint8_t want_resp[56] = {
        0x38, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xef, 0xcd, 0xab, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    const struct raft_msg vote = {
        .type = RAFT_MSG_VOTE, .from = 1, .to = 2, .term = 5,
        .u.vote = {.last_index = 0x1234, .last_term = 4}};
    const struct raft_msg resp = {
        .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 0x100,
        .u.append_resp = {.success = true, .index = 0x10000, .hint_index = 7,
                          .hint_term = 0xabcdef}};
    uint8_t out[64];
    size_t len = 0;
    ck_assert_int_eq(raft_msg_encode(&vote, out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, sizeof(want_vote));
    ck_assert_mem_eq(out, want_vote, sizeof(want_vote));
    ck_assert_int_eq(raft_msg_encode(&resp, out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, sizeof(want_resp));
    ck_assert_mem_eq(out, want_resp, sizeof(want_resp));

    struct raft_msg d;
    poison(&d, NULL, 0);
    ck_assert_int_eq(raft_msg_decode(want_vote, 48, NULL, &d, NULL, 0), 0);
    check_msg_eq(&vote, &d, NULL, "golden vote");
    poison(&d, NULL, 0);
    ck_assert_int_eq(raft_msg_decode(want_resp, 56, NULL, &d, NULL, 0), 0);
    check_msg_eq(&resp, &d, NULL, "golden append_resp");
}
END_TEST

START_TEST(test_golden_snapshot)
{
    static const uint8_t want[69] = {
        /*  0 length 69    */ 0x45, 0x00, 0x00, 0x00,
        /*  4 version 1    */ 0x01,
        /*  5 type 5       */ 0x05,
        /*  6 flags: last  */ 0x01, 0x00,
        /*  8 from         */ 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
        /* 16 to           */ 0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,
        /* 24 term         */ 0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21,
        /* 32 index        */ 0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31,
        /* 40 index_term   */ 0x48, 0x47, 0x46, 0x45, 0x44, 0x43, 0x42, 0x41,
        /* 48 offset       */ 0x58, 0x57, 0x56, 0x55, 0x54, 0x53, 0x52, 0x51,
        /* 56 len 5        */ 0x05, 0x00, 0x00, 0x00,
        /* 60 reserved     */ 0x00, 0x00, 0x00, 0x00,
        /* 64 data         */ 0xde, 0xad, 0x00, 0xbe, 0xef,
    };
    static const uint8_t data[5] = {0xde, 0xad, 0x00, 0xbe, 0xef};
    struct raft_msg m = {
        .type = RAFT_MSG_SNAPSHOT,
        .from = 0x0102030405060708u,
        .to = 0x1112131415161718u,
        .term = 0x2122232425262728u,
        .u.snapshot = {.index = 0x3132333435363738u,
                       .index_term = 0x4142434445464748u,
                       .offset = 0x5152535455565758u,
                       .last = true,
                       .len = 5,
                       .data = data}};
    uint8_t out[80];
    size_t len = 0;
    memset(out, CANARY_GOLD, sizeof(out));
    ck_assert_int_eq(raft_msg_encode(&m, out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, sizeof(want));
    for (size_t i = 0; i < sizeof(want); i++) {
        CHECK(out[i] == want[i], "snapshot byte %zu: 0x%02x, want 0x%02x", i,
              out[i], want[i]);
    }
    for (size_t i = sizeof(want); i < sizeof(out); i++) {
        CHECK(out[i] == CANARY_GOLD, "snapshot: byte %zu past the message "
              "written", i);
    }
    struct raft_msg d;
    poison(&d, NULL, 0);
    ck_assert_int_eq(raft_msg_decode(want, sizeof(want), NULL, &d, NULL, 0), 0);
    check_msg_eq(&m, &d, NULL, "golden snapshot");
    ck_assert_ptr_eq(d.u.snapshot.data, want + 64);

    /* Not the last chunk: the same bytes with flag bit 0 clear. */
    m.u.snapshot.last = false;
    ck_assert_int_eq(raft_msg_encode(&m, out, sizeof(out), &len), 0);
    for (size_t i = 0; i < sizeof(want); i++) {
        uint8_t w = i == O_FLAGS ? 0x00 : want[i];
        CHECK(out[i] == w, "non-last snapshot byte %zu: 0x%02x, want 0x%02x",
              i, out[i], w);
    }
}
END_TEST

START_TEST(test_golden_snapshot_resp)
{
    static const uint8_t want[48] = {
        /*  0 length 48       */ 0x30, 0x00, 0x00, 0x00,
        /*  4 version, type 6 */ 0x01, 0x06,
        /*  6 flags: done     */ 0x01, 0x00,
        /*  8 from            */ 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 16 to              */ 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 24 term            */ 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 32 index           */ 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 40 offset          */ 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    };
    struct raft_msg m = {
        .type = RAFT_MSG_SNAPSHOT_RESP, .from = 2, .to = 1, .term = 7,
        .u.snapshot_resp = {.index = 0x100, .offset = UINT64_MAX - 1,
                            .done = true}};
    uint8_t out[64];
    size_t len = 0;
    memset(out, CANARY_GOLD, sizeof(out));
    ck_assert_int_eq(raft_msg_encode(&m, out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, sizeof(want));
    ck_assert_mem_eq(out, want, sizeof(want));
    for (size_t i = sizeof(want); i < sizeof(out); i++) {
        CHECK(out[i] == CANARY_GOLD, "snapshot_resp: byte %zu written", i);
    }
    struct raft_msg d;
    poison(&d, NULL, 0);
    ck_assert_int_eq(raft_msg_decode(want, sizeof(want), NULL, &d, NULL, 0), 0);
    check_msg_eq(&m, &d, NULL, "golden snapshot_resp");

    m.u.snapshot_resp.done = false;
    ck_assert_int_eq(raft_msg_encode(&m, out, sizeof(out), &len), 0);
    for (size_t i = 0; i < sizeof(want); i++) {
        uint8_t w = i == O_FLAGS ? 0x00 : want[i];
        CHECK(out[i] == w, "snapshot_resp (not done) byte %zu: 0x%02x, want "
              "0x%02x", i, out[i], w);
    }
}
END_TEST

/* The document's configuration example, hand-written once more. */
static const uint8_t GOLD_CONF3[35] = {
    /*  0 version 1, flags 0 */ 0x01, 0x00,
    /*  2 reserved           */ 0x00, 0x00,
    /*  4 n = 3              */ 0x03, 0x00, 0x00, 0x00,
    /*  8 id 1, VOTER        */ 0x01, 0, 0, 0, 0, 0, 0, 0, 0x01,
    /* 17 id 2, VOTER        */ 0x02, 0, 0, 0, 0, 0, 0, 0, 0x01,
    /* 26 id 3, LEARNER      */ 0x03, 0, 0, 0, 0, 0, 0, 0, 0x04,
};

START_TEST(test_golden_snapshot_conf)
{
    static const uint8_t want_head[66] = {
        /*  0 length 101   */ 0x65, 0x00, 0x00, 0x00,
        /*  4 version 1    */ 0x01,
        /*  5 type 5       */ 0x05,
        /*  6 flags: last  */ 0x01, 0x00,
        /*  8 from         */ 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 16 to           */ 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 24 term         */ 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 32 index        */ 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 40 index_term   */ 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 48 offset       */ 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 56 len 2        */ 0x02, 0x00, 0x00, 0x00,
        /* 60 conf_len 35  */ 0x23, 0x00, 0x00, 0x00,
        /* 64 data         */ 0xab, 0xcd,
        /* 66 conf follows */
    };
    uint8_t want[101];
    memcpy(want, want_head, sizeof(want_head));
    memcpy(want + 66, GOLD_CONF3, sizeof(GOLD_CONF3));
    ck_assert_mem_eq(CONF3, GOLD_CONF3, sizeof(GOLD_CONF3));
    static const uint8_t data[2] = {0xab, 0xcd};
    const struct raft_msg m = {
        .type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 7,
        .u.snapshot = {.index = 0x100, .index_term = 6, .offset = 16,
                       .last = true, .len = 2, .data = data,
                       .conf_len = sizeof(GOLD_CONF3), .conf = GOLD_CONF3}};
    uint8_t out[120];
    size_t len = 0;
    memset(out, CANARY_GOLD, sizeof(out));
    ck_assert_int_eq(raft_msg_encode(&m, out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, sizeof(want));
    for (size_t i = 0; i < sizeof(want); i++) {
        CHECK(out[i] == want[i], "snapshot+conf byte %zu: 0x%02x, want 0x%02x",
              i, out[i], want[i]);
    }
    for (size_t i = sizeof(want); i < sizeof(out); i++) {
        CHECK(out[i] == CANARY_GOLD, "snapshot+conf: byte %zu written", i);
    }
    struct raft_msg d;
    poison(&d, NULL, 0);
    ck_assert_int_eq(raft_msg_decode(want, sizeof(want), NULL, &d, NULL, 0), 0);
    check_msg_eq(&m, &d, NULL, "golden snapshot with its configuration");
    ck_assert_ptr_eq(d.u.snapshot.conf, want + 66);
}
END_TEST

START_TEST(test_golden_config_entry)
{
    static const uint8_t want_head[80] = {
        /*  0 length 115   */ 0x73, 0x00, 0x00, 0x00,
        /*  4 version, type 3, flags 0 */ 0x01, 0x03, 0x00, 0x00,
        /*  8 from         */ 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 16 to           */ 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 24 term         */ 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 32 prev_index   */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 40 prev_term    */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 48 commit       */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 56 n_entries 1  */ 0x01, 0x00, 0x00, 0x00,
        /* 60 reserved     */ 0x00, 0x00, 0x00, 0x00,
        /* 64 e0 term 1    */ 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 72 e0 len 35    */ 0x23, 0x00, 0x00, 0x00,
        /* 76 e0 type 3    */ 0x03,
        /* 77 reserved     */ 0x00, 0x00, 0x00,
        /* 80 payload follows */
    };
    uint8_t want[115];
    memcpy(want, want_head, sizeof(want_head));
    memcpy(want + 80, GOLD_CONF3, sizeof(GOLD_CONF3));
    /* A cluster's first entry: its first leader's configuration. */
    const struct raft_entry e = {.term = 1, .type = RAFT_ENTRY_CONFIG,
                                 .buf = GOLD_CONF3, .len = sizeof(GOLD_CONF3)};
    const struct raft_msg m = {.type = RAFT_MSG_APPEND, .from = 1, .to = 3,
                               .term = 1,
                               .u.append = {.n_entries = 1, .entries = &e}};
    uint8_t out[sizeof(want)];
    size_t len = 0;
    ck_assert_int_eq(raft_msg_encode(&m, out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, sizeof(want));
    ck_assert_mem_eq(out, want, sizeof(want));
    struct raft_msg d;
    struct raft_entry de;
    poison(&d, &de, 1);
    ck_assert_int_eq(raft_msg_decode(want, sizeof(want), NULL, &d, &de, 1), 0);
    check_msg_eq(&m, &d, &de, "golden configuration entry");
    ck_assert_ptr_eq(de.buf, want + 80);
    /* And the payload reads as the document's example. */
    struct raft_member mem[3];
    size_t n = 0;
    ck_assert_int_eq(raft_conf_decode(de.buf, de.len, mem, 3, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert(mem[0].id == 1 && mem[0].flags == RAFT_MEMBER_VOTER);
    ck_assert(mem[1].id == 2 && mem[1].flags == RAFT_MEMBER_VOTER);
    ck_assert(mem[2].id == 3 && mem[2].flags == RAFT_MEMBER_LEARNER);
}
END_TEST

START_TEST(test_golden_timeout_now_and_transfer_vote)
{
    static const uint8_t want_tn[48] = {
        /*  0 length 48        */ 0x30, 0x00, 0x00, 0x00,
        /*  4 version, type 13 */ 0x01, 0x0d,
        /*  6 flags 0          */ 0x00, 0x00,
        /*  8 from             */ 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 16 to               */ 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 24 term             */ 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 32 reserved         */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 40 reserved         */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    static const uint8_t want_vote[48] = {
        /*  0 length 48        */ 0x30, 0x00, 0x00, 0x00,
        /*  4 version, type 1  */ 0x01, 0x01,
        /*  6 flags: transfer  */ 0x02, 0x00,
        /*  8 from             */ 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 16 to               */ 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 24 term             */ 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 32 last_index       */ 0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 40 last_term        */ 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    /* TimeoutNow has no fields: whatever the union holds is not sent. */
    struct raft_msg tn = {.type = RAFT_MSG_TIMEOUT_NOW, .from = 1, .to = 3,
                          .term = 9};
    memset(&tn.u, 0xA5, sizeof(tn.u));
    const struct raft_msg vote = {
        .type = RAFT_MSG_VOTE, .from = 3, .to = 2, .term = 10,
        .u.vote = {.last_index = 42, .last_term = 9, .transfer = true}};
    uint8_t out[64];
    size_t len = 0;
    ck_assert_int_eq(raft_msg_encode(&tn, out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, 48);
    ck_assert_mem_eq(out, want_tn, sizeof(want_tn));
    ck_assert_int_eq(raft_msg_encode(&vote, out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, 48);
    ck_assert_mem_eq(out, want_vote, sizeof(want_vote));

    struct raft_msg d;
    poison(&d, NULL, 0);
    ck_assert_int_eq(raft_msg_decode(want_tn, 48, NULL, &d, NULL, 0), 0);
    ck_assert_int_eq(d.type, RAFT_MSG_TIMEOUT_NOW);
    ck_assert(d.from == 1 && d.to == 3 && d.term == 9);
    poison(&d, NULL, 0);
    ck_assert_int_eq(raft_msg_decode(want_vote, 48, NULL, &d, NULL, 0), 0);
    check_msg_eq(&vote, &d, NULL, "golden vote of a transfer");

    /* Every reserved byte of TimeoutNow, and every flag. */
    uint8_t bad[48];
    for (size_t i = 32; i < 48; i++) {
        memcpy(bad, want_tn, sizeof(bad));
        bad[i] = (uint8_t)(1u << (i % 8));
        CHECK(dec_exact(bad, 48, NULL, &d, NULL, 0) == RAFT_EFORMAT,
              "timeout_now, reserved byte %zu set: accepted", i);
    }
    for (unsigned bit = 0; bit < 16; bit++) {
        memcpy(bad, want_tn, sizeof(bad));
        wle(bad + O_FLAGS, 2, 1u << bit);
        CHECK(dec_exact(bad, 48, NULL, &d, NULL, 0) == RAFT_EFORMAT,
              "timeout_now, flag bit %u: accepted", bit);
    }
    /* The transfer flag: RequestVote only, and bit 0 is not RequestVote's. */
    static const struct {
        int type;
        unsigned flags;
        int want;
    } flag_cases[] = {
        {RAFT_MSG_VOTE, F_TRANSFER, 0},
        {RAFT_MSG_VOTE, 0, 0},
        {RAFT_MSG_VOTE, F_OK, RAFT_EFORMAT},
        {RAFT_MSG_VOTE, F_OK | F_TRANSFER, RAFT_EFORMAT},
        {RAFT_MSG_VOTE, F_TRANSFER | 4, RAFT_EFORMAT},
        {RAFT_MSG_PREVOTE, F_TRANSFER, RAFT_EFORMAT},
        {RAFT_MSG_PREVOTE, 0, 0},
        {RAFT_MSG_VOTE_RESP, F_TRANSFER, RAFT_EFORMAT},
        {RAFT_MSG_VOTE_RESP, F_OK | F_TRANSFER, RAFT_EFORMAT},
        {RAFT_MSG_PREVOTE_RESP, F_TRANSFER, RAFT_EFORMAT},
        {RAFT_MSG_READ_RESP, F_TRANSFER, RAFT_EFORMAT},
    };
    for (size_t i = 0; i < ARRAY_LEN(flag_cases); i++) {
        memcpy(bad, want_vote, sizeof(bad));
        bad[O_TYPE] = (uint8_t)flag_cases[i].type;
        wle(bad + O_FLAGS, 2, flag_cases[i].flags);
        poison(&d, NULL, 0);
        int rc = dec_exact(bad, 48, NULL, &d, NULL, 0);
        CHECK(rc == flag_cases[i].want, "type %d, flags 0x%x: %s, want %s",
              flag_cases[i].type, flag_cases[i].flags, err_name(rc),
              err_name(flag_cases[i].want));
        if (rc == 0 && (flag_cases[i].type == RAFT_MSG_VOTE ||
                        flag_cases[i].type == RAFT_MSG_PREVOTE)) {
            CHECK(d.u.vote.transfer == (flag_cases[i].flags == F_TRANSFER),
                  "type %d, flags 0x%x: transfer %d", flag_cases[i].type,
                  flag_cases[i].flags, d.u.vote.transfer);
        }
    }
    /* A pre-vote cannot carry it: the encoder refuses, writing nothing. */
    struct raft_msg pv = vote;
    pv.type = RAFT_MSG_PREVOTE;
    memset(out, CANARY_GOLD, sizeof(out));
    ck_assert_int_eq(raft_msg_encode(&pv, out, sizeof(out), &len), RAFT_EINVAL);
    for (size_t i = 0; i < sizeof(out); i++) {
        CHECK(out[i] == CANARY_GOLD, "refused pre-vote: byte %zu written", i);
    }
    pv.u.vote.transfer = false;
    ck_assert_int_eq(raft_msg_encode(&pv, out, sizeof(out), &len), 0);
    ck_assert_uint_eq(rle(out + O_FLAGS, 2), 0);
}
END_TEST

/* ======================================================================
 * raft_msg_encode: ENOBUFS and EINVAL
 * ====================================================================== */

#define CANARY 0x5a

START_TEST(test_encode_too_small_writes_nothing)
{
    for (size_t i = 0; i < ARRAY_LEN(RT); i++) {
        const struct rt_case *c = &RT[i];
        size_t need = spec_size(&c->m);
        size_t total = need + 16;
        uint8_t *buf = xmalloc(total);
        const size_t caps[] = {0, 1, need / 2, need - 1};
        for (size_t k = 0; k < ARRAY_LEN(caps); k++) {
            memset(buf, CANARY, total);
            size_t len = 12345;
            int rc = raft_msg_encode(&c->m, buf, caps[k], &len);
            CHECK(rc == RAFT_ENOBUFS, "%s, cap %zu: %s, want RAFT_ENOBUFS",
                  c->name, caps[k], err_name(rc));
            CHECK(len == need, "%s, cap %zu: *len %zu, want %zu", c->name,
                  caps[k], len, need);
            for (size_t b = 0; b < total; b++) {
                CHECK(buf[b] == CANARY, "%s, cap %zu: byte %zu written",
                      c->name, caps[k], b);
            }
        }
        /* NULL with cap 0: the documented way to learn the size. */
        size_t len = 0;
        ck_assert_int_eq(raft_msg_encode(&c->m, NULL, 0, &len), RAFT_ENOBUFS);
        ck_assert_uint_eq(len, need);

        /* Exactly enough, and more than enough: only *len bytes written. */
        const size_t ok_caps[] = {need, total};
        for (size_t k = 0; k < ARRAY_LEN(ok_caps); k++) {
            memset(buf, CANARY, total);
            len = 0;
            int rc = raft_msg_encode(&c->m, buf, ok_caps[k], &len);
            CHECK(rc == 0 && len == need, "%s, cap %zu: %s, len %zu", c->name,
                  ok_caps[k], err_name(rc), len);
            for (size_t b = need; b < total; b++) {
                CHECK(buf[b] == CANARY, "%s, cap %zu: byte %zu past the end "
                      "written", c->name, ok_caps[k], b);
            }
        }
        xfree(buf);
    }
}
END_TEST

static const struct raft_entry BAD_ETYPE0[] = {
    {.term = 1, .type = 0, .buf = "x", .len = 1}};
static const struct raft_entry BAD_ETYPE4[] = {
    {.term = 1, .type = RAFT_ENTRY_CONFIG, .buf = CONF3, .len = sizeof(CONF3)},
    {.term = 1, .type = ET_FIRST_UNKNOWN, .buf = "x", .len = 1}};
static const struct raft_entry BAD_NULLBUF[] = {
    {.term = 1, .type = RAFT_ENTRY_COMMAND, .buf = "x", .len = 1},
    {.term = 1, .type = RAFT_ENTRY_COMMAND, .buf = NULL, .len = 1}};

START_TEST(test_encode_einval)
{
    const struct raft_msg good = {.type = RAFT_MSG_VOTE, .from = 1, .to = 2,
                                  .term = 1};
    uint8_t buf[256];
    size_t len = 0;

    ck_assert_int_eq(raft_msg_encode(NULL, buf, sizeof(buf), &len), RAFT_EINVAL);
    ck_assert_int_eq(raft_msg_encode(NULL, NULL, 0, &len), RAFT_EINVAL);
    ck_assert_int_eq(raft_msg_encode(&good, buf, sizeof(buf), NULL), RAFT_EINVAL);
    ck_assert_int_eq(raft_msg_encode(&good, NULL, 0, NULL), RAFT_EINVAL);
    ck_assert_int_eq(raft_msg_encode(&good, NULL, 1, &len), RAFT_EINVAL);
    ck_assert_int_eq(raft_msg_encode(&good, NULL, 4096, &len), RAFT_EINVAL);

    struct {
        const char *name;
        struct raft_msg m;
    } bad[] = {
        {"type 0", {.type = 0, .from = 1, .to = 2, .term = 1}},
        {"first unknown type",
         {.type = T_FIRST_UNKNOWN, .from = 1, .to = 2, .term = 1}},
        {"type 15", {.type = 15, .from = 1, .to = 2, .term = 1}},
        {"type 255", {.type = 255, .from = 1, .to = 2, .term = 1}},
        {"type -1", {.type = -1, .from = 1, .to = 2, .term = 1}},
        {"type 256+1", {.type = 257, .from = 1, .to = 2, .term = 1}},
        {"entry type 0",
         {.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1,
          .u.append = {.n_entries = 1, .entries = BAD_ETYPE0}}},
        {"entry type 4 (after a configuration entry)",
         {.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1,
          .u.append = {.n_entries = 2, .entries = BAD_ETYPE4}}},
        {"entries NULL with n_entries 1",
         {.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1,
          .u.append = {.n_entries = 1, .entries = NULL}}},
        {"NULL payload with len 1",
         {.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1,
          .u.append = {.n_entries = 2, .entries = BAD_NULLBUF}}},
        {"snapshot chunk: NULL data with len 1",
         {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 1,
          .u.snapshot = {.index = 1, .index_term = 1, .len = 1,
                         .data = NULL}}},
        {"last snapshot chunk: NULL data with len 300",
         {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 1,
          .u.snapshot = {.index = 1, .index_term = 1, .last = true,
                         .len = 300, .data = NULL}}},
        {"last snapshot chunk: NULL configuration with conf_len 35",
         {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 1,
          .u.snapshot = {.index = 1, .index_term = 1, .last = true,
                         .conf_len = sizeof(CONF3), .conf = NULL}}},
        {"a configuration on a chunk that is not the last",
         {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 1,
          .u.snapshot = {.index = 1, .index_term = 1, .len = 1, .data = "x",
                         .conf_len = sizeof(CONF3), .conf = CONF3}}},
        {"last snapshot chunk: conf_len 2304",
         {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 1,
          .u.snapshot = {.index = 1, .index_term = 1, .last = true,
                         .conf_len = MAX_CONF + 1, .conf = CONF_BIG}}},
        {"prevote with transfer set",
         {.type = RAFT_MSG_PREVOTE, .from = 1, .to = 2, .term = 1,
          .u.vote = {.last_index = 1, .last_term = 1, .transfer = true}}},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        const size_t caps[] = {0, sizeof(buf)};
        for (size_t k = 0; k < ARRAY_LEN(caps); k++) {
            memset(buf, CANARY, sizeof(buf));
            int rc = raft_msg_encode(&bad[i].m, caps[k] ? buf : NULL, caps[k],
                                     &len);
            CHECK(rc == RAFT_EINVAL, "%s, cap %zu: %s, want RAFT_EINVAL",
                  bad[i].name, caps[k], err_name(rc));
            for (size_t b = 0; b < sizeof(buf); b++) {
                CHECK(buf[b] == CANARY, "%s: byte %zu written", bad[i].name, b);
            }
        }
    }

    /* Size limits, with cap 0 so no payload is ever read: an encoding of
     * exactly UINT32_MAX bytes is fine (ENOBUFS, its size), one byte more
     * is EINVAL. The payload pointer is never dereferenced by a correct
     * encoder here. */
    static const char one = 'x';
    struct raft_entry big = {.term = 1, .type = RAFT_ENTRY_COMMAND, .buf = &one};
    struct raft_msg m = {.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1,
                         .u.append = {.n_entries = 1, .entries = &big}};
    big.len = (size_t)UINT32_MAX - LEN_APPEND - LEN_ENTRY;
    len = 0;
    ck_assert_int_eq(raft_msg_encode(&m, NULL, 0, &len), RAFT_ENOBUFS);
    ck_assert_uint_eq(len, UINT32_MAX);
    big.len++;
    ck_assert_int_eq(raft_msg_encode(&m, NULL, 0, &len), RAFT_EINVAL);
    big.len = UINT32_MAX;
    ck_assert_int_eq(raft_msg_encode(&m, NULL, 0, &len), RAFT_EINVAL);
#if SIZE_MAX > UINT32_MAX
    big.len = (size_t)UINT32_MAX + 1;
    ck_assert_int_eq(raft_msg_encode(&m, NULL, 0, &len), RAFT_EINVAL);
    big.len = SIZE_MAX;
    ck_assert_int_eq(raft_msg_encode(&m, NULL, 0, &len), RAFT_EINVAL);
#endif

    /* The same bounds for a snapshot chunk: 64 + len <= UINT32_MAX. */
    struct raft_msg sn = {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2,
                          .term = 1,
                          .u.snapshot = {.index = 1, .index_term = 1,
                                         .data = &one}};
    sn.u.snapshot.len = (size_t)UINT32_MAX - LEN_SNAPSHOT;
    len = 0;
    ck_assert_int_eq(raft_msg_encode(&sn, NULL, 0, &len), RAFT_ENOBUFS);
    ck_assert_uint_eq(len, UINT32_MAX);
    sn.u.snapshot.len++;
    ck_assert_int_eq(raft_msg_encode(&sn, NULL, 0, &len), RAFT_EINVAL);
    sn.u.snapshot.len = UINT32_MAX;
    ck_assert_int_eq(raft_msg_encode(&sn, NULL, 0, &len), RAFT_EINVAL);
#if SIZE_MAX > UINT32_MAX
    sn.u.snapshot.len = (size_t)UINT32_MAX + LEN_SNAPSHOT + 1;
    ck_assert_int_eq(raft_msg_encode(&sn, NULL, 0, &len), RAFT_EINVAL);
    sn.u.snapshot.len = SIZE_MAX;
    ck_assert_int_eq(raft_msg_encode(&sn, NULL, 0, &len), RAFT_EINVAL);
#endif
    /* With a configuration: 64 + len + conf_len <= UINT32_MAX. */
    sn.u.snapshot.last = true;
    sn.u.snapshot.conf = CONF_BIG;
    sn.u.snapshot.conf_len = MAX_CONF;
    sn.u.snapshot.len = (size_t)UINT32_MAX - LEN_SNAPSHOT - MAX_CONF;
    ck_assert_int_eq(raft_msg_encode(&sn, NULL, 0, &len), RAFT_ENOBUFS);
    ck_assert_uint_eq(len, UINT32_MAX);
    sn.u.snapshot.len++;
    ck_assert_int_eq(raft_msg_encode(&sn, NULL, 0, &len), RAFT_EINVAL);
    sn.u.snapshot.conf_len = MAX_CONF - 1;
    ck_assert_int_eq(raft_msg_encode(&sn, NULL, 0, &len), RAFT_ENOBUFS);
    ck_assert_uint_eq(len, UINT32_MAX);
    /* Without one, the whole room is the chunk's (the bound does not
     * reserve room for a configuration). */
    sn.u.snapshot.conf_len = 0;
    sn.u.snapshot.len = (size_t)UINT32_MAX - LEN_SNAPSHOT;
    ck_assert_int_eq(raft_msg_encode(&sn, NULL, 0, &len), RAFT_ENOBUFS);
    ck_assert_uint_eq(len, UINT32_MAX);
}
END_TEST

/* ======================================================================
 * raft_msg_peek_len
 * ====================================================================== */

START_TEST(test_peek_len)
{
    uint8_t b[8] = {0x30, 0, 0, 0, 1, 1, 0, 0};
    size_t n = 0;
    for (size_t len = 0; len < RAFT_WIRE_PREFIX; len++) {
        ck_assert_int_eq(raft_msg_peek_len(b, len, &n), RAFT_ESHORT);
    }
    /* An exact 3-byte heap buffer: nothing past it is read either. */
    uint8_t *blk;
    uint8_t *p = exact_copy(b, 3, &blk);
    ck_assert_int_eq(raft_msg_peek_len(p, 3, &n), RAFT_ESHORT);
    xfree(blk);

    const struct {
        uint32_t prefix;
        int rc;
    } cases[] = {
        {0, RAFT_EFORMAT},          {1, RAFT_EFORMAT},
        {32, RAFT_EFORMAT},         {47, RAFT_EFORMAT},
        {0x2f000000, 0},            {48, 0},
        {49, 0},                    {56, 0},
        {64, 0},                    {0x04030201, 0},
        {DEF_MAX_MSG_BYTES + 1, 0}, {UINT32_MAX, 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        wle(b, 4, cases[i].prefix);
        /* Only the 4 prefix bytes are needed, from an exact buffer. */
        p = exact_copy(b, RAFT_WIRE_PREFIX, &blk);
        n = 0;
        int rc = raft_msg_peek_len(p, RAFT_WIRE_PREFIX, &n);
        xfree(blk);
        CHECK(rc == cases[i].rc, "prefix %u: %s, want %s", cases[i].prefix,
              err_name(rc), err_name(cases[i].rc));
        if (rc == 0) {
            CHECK(n == cases[i].prefix, "prefix %u: got %zu", cases[i].prefix,
                  n);
        }
        /* More bytes given change nothing. */
        n = 0;
        rc = raft_msg_peek_len(b, sizeof(b), &n);
        CHECK(rc == cases[i].rc && (rc != 0 || n == cases[i].prefix),
              "prefix %u with 8 bytes: %s, %zu", cases[i].prefix, err_name(rc),
              n);
    }
}
END_TEST

/* ======================================================================
 * Decoding checks, one test per row of the table in docs/wire-format.md,
 * in its order. Each case mutates a valid encoding.
 * ====================================================================== */

enum {
    B_VOTE,
    B_VOTE_RESP,
    B_APPEND_RESP,
    B_APPEND0,
    B_APPEND2,
    B_SNAP,      /* a 10-byte chunk, not the last */
    B_SNAP0,     /* an empty last chunk */
    B_SNAP_RESP, /* not done */
    B_SNAPC,     /* a last chunk: 3 data bytes, then CONF3 */
    B_VOTE_T,    /* a RequestVote with the transfer flag */
    B_TIMEOUT,   /* TimeoutNow */
    N_BASES
};

/* B_SNAPC: data at 64..67, configuration at 67..102, length 102. */
#define SNAPC_DATA 3u
#define SNAPC_CONF ((unsigned)sizeof(CONF3))
#define LEN_SC (64u + SNAPC_DATA + SNAPC_CONF)

/* B_SNAP: data at 64..74, length 74. */
#define SNAP_DATA 10u
#define LEN_S10 (64u + SNAP_DATA)

/* B_APPEND2: entry 0 at 64 ("abc", payload 80..83), entry 1 at 83
 * ("hello", payload 99..104), length 104. */
#define E0 64u
#define E1 83u
#define LEN_A2 104u

static const struct raft_entry BASE_ENTS[] = {
    {.term = 3, .type = RAFT_ENTRY_COMMAND, .buf = "abc", .len = 3},
    {.term = 3, .type = RAFT_ENTRY_COMMAND, .buf = "hello", .len = 5},
};

static const struct raft_msg BASES[N_BASES] = {
    [B_VOTE] = {.type = RAFT_MSG_VOTE, .from = 1, .to = 2, .term = 3,
                .u.vote = {.last_index = 4, .last_term = 2}},
    [B_VOTE_RESP] = {.type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .term = 3,
                     .u.vote_resp = {.granted = false, .last_index = 4,
                                     .last_term = 2}},
    [B_APPEND_RESP] = {.type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1,
                       .term = 3,
                       .u.append_resp = {.success = false, .index = 4,
                                         .hint_index = 2, .hint_term = 1}},
    [B_APPEND0] = {.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 3,
                   .u.append = {.prev_index = 4, .prev_term = 2, .commit = 4}},
    [B_APPEND2] = {.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 3,
                   .u.append = {.prev_index = 4, .prev_term = 2, .commit = 4,
                                .n_entries = 2, .entries = BASE_ENTS}},
    [B_SNAP] = {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 3,
                .u.snapshot = {.index = 9, .index_term = 2, .offset = 20,
                               .last = false, .len = SNAP_DATA,
                               .data = "0123456789"}},
    [B_SNAP0] = {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 3,
                 .u.snapshot = {.index = 9, .index_term = 2, .offset = 30,
                                .last = true}},
    [B_SNAP_RESP] = {.type = RAFT_MSG_SNAPSHOT_RESP, .from = 2, .to = 1,
                     .term = 3,
                     .u.snapshot_resp = {.index = 9, .offset = 30}},
    [B_SNAPC] = {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 3,
                 .u.snapshot = {.index = 9, .index_term = 2, .offset = 30,
                                .last = true, .len = SNAPC_DATA, .data = "xyz",
                                .conf_len = SNAPC_CONF, .conf = CONF3}},
    [B_VOTE_T] = {.type = RAFT_MSG_VOTE, .from = 1, .to = 2, .term = 3,
                  .u.vote = {.last_index = 4, .last_term = 2,
                             .transfer = true}},
    [B_TIMEOUT] = {.type = RAFT_MSG_TIMEOUT_NOW, .from = 1, .to = 2, .term = 3},
};

struct patch {
    unsigned off;
    unsigned width; /* 0 ends the list */
    uint64_t val;
};

enum { CAP_DEF = 0, CAP_NULL = -1, CAP_ZERO = -2 };

struct dcase {
    const char *name;
    int base;
    struct patch p[4];
    int extra; /* bytes added (zero) or removed at the end */
    struct raft_wire_limits lim;
    int cap;   /* CAP_DEF (8 entries), CAP_NULL (NULL, 0), CAP_ZERO, or n */
    int want;
};

#define P(o, w, v) {(o), (w), (uint64_t)(v)}

/* Limits that let any count or length through to the later checks. */
#define HUGE_LIMITS                                             \
    {.max_entries = UINT32_MAX, .max_entry_bytes = UINT32_MAX, \
     .max_msg_bytes = UINT32_MAX}

struct frame {
    uint8_t b[512];
    size_t n;
};

static void base_frame(int base, struct frame *f)
{
    size_t len = 0;
    int rc = raft_msg_encode(&BASES[base], f->b, sizeof(f->b), &len);
    CHECK(rc == 0, "base %d: encode %s", base, err_name(rc));
    f->n = len;
}

static int run_dcase(const struct dcase *c)
{
    struct frame f;
    base_frame(c->base, &f);
    for (size_t k = 0; k < ARRAY_LEN(c->p) && c->p[k].width > 0; k++) {
        wle(f.b + c->p[k].off, c->p[k].width, c->p[k].val);
    }
    CHECK(c->extra <= 0 || f.n + (size_t)c->extra <= sizeof(f.b),
          "%s: the frame holds %zu bytes", c->name, sizeof(f.b));
    if (c->extra > 0) {
        memset(f.b + f.n, 0, (size_t)c->extra);
    }
    f.n = (size_t)((long)f.n + c->extra);
    struct raft_entry ents[8];
    struct raft_msg m;
    struct raft_entry *e = ents;
    size_t cap = 8;
    if (c->cap == CAP_NULL) {
        e = NULL;
        cap = 0;
    } else if (c->cap == CAP_ZERO) {
        cap = 0;
    } else if (c->cap > 0) {
        cap = (size_t)c->cap;
    }
    return dec_exact(f.b, f.n, &c->lim, &m, e, cap);
}

static void run_dcases(const struct dcase *cs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = run_dcase(&cs[i]);
        CHECK(rc == cs[i].want, "%s: decode = %s, want %s", cs[i].name,
              err_name(rc), err_name(cs[i].want));
    }
}

#define RUN(table) run_dcases(table, ARRAY_LEN(table))

START_TEST(test_decode_00_bases_are_valid)
{
    for (int b = 0; b < N_BASES; b++) {
        struct frame f;
        base_frame(b, &f);
        struct raft_msg d;
        struct raft_entry ents[2];
        poison(&d, ents, 2);
        int rc = dec_exact(f.b, f.n, NULL, &d, ents, 2);
        CHECK(rc == 0, "base %d: %s", b, err_name(rc));
    }
    struct frame f;
    base_frame(B_APPEND2, &f);
    ck_assert_uint_eq(f.n, LEN_A2);
    ck_assert_uint_eq(rle(f.b + E0 + EO_LEN, 4), 3);
    ck_assert_uint_eq(rle(f.b + E1 + EO_LEN, 4), 5);
    base_frame(B_SNAP, &f);
    ck_assert_uint_eq(f.n, LEN_S10);
    ck_assert_uint_eq(rle(f.b + O_SLEN, 4), SNAP_DATA);
    base_frame(B_SNAP0, &f);
    ck_assert_uint_eq(f.n, LEN_SNAPSHOT);
    base_frame(B_SNAP_RESP, &f);
    ck_assert_uint_eq(f.n, LEN_SNAPSHOT_RESP);
    base_frame(B_SNAPC, &f);
    ck_assert_uint_eq(f.n, LEN_SC);
    ck_assert_uint_eq(rle(f.b + O_SLEN, 4), SNAPC_DATA);
    ck_assert_uint_eq(rle(f.b + O_SCLEN, 4), SNAPC_CONF);
    ck_assert_mem_eq(f.b + LEN_SNAPSHOT + SNAPC_DATA, CONF3, SNAPC_CONF);
    base_frame(B_VOTE_T, &f);
    ck_assert_uint_eq(rle(f.b + O_FLAGS, 2), F_TRANSFER);
    base_frame(B_TIMEOUT, &f);
    ck_assert_uint_eq(f.n, LEN_VOTE);
}
END_TEST

START_TEST(test_decode_01_short_header)
{
    static const struct dcase cs[] = {
        {.name = "vote, 31 bytes", .base = B_VOTE, .extra = -17,
         .want = RAFT_ESHORT},
        {.name = "append, 31 bytes", .base = B_APPEND2, .extra = -73,
         .want = RAFT_ESHORT},
        {.name = "append, 1 byte", .base = B_APPEND2, .extra = -103,
         .want = RAFT_ESHORT},
        {.name = "0 bytes", .base = B_VOTE, .extra = -48,
         .want = RAFT_ESHORT},
        {.name = "31 bytes with a bad version", .base = B_VOTE,
         .p = {P(O_VER, 1, 9)}, .extra = -17, .want = RAFT_ESHORT},
        {.name = "31 bytes with length 0", .base = B_VOTE,
         .p = {P(O_LEN, 4, 0)}, .extra = -17, .want = RAFT_ESHORT},
        {.name = "31 bytes with length 31", .base = B_VOTE,
         .p = {P(O_LEN, 4, 31)}, .extra = -17, .want = RAFT_ESHORT},
        {.name = "snapshot, 31 bytes", .base = B_SNAP, .extra = -43,
         .want = RAFT_ESHORT},
        {.name = "snapshot_resp, 31 bytes", .base = B_SNAP_RESP, .extra = -17,
         .want = RAFT_ESHORT},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_02_version)
{
    static const struct dcase cs[] = {
        {.name = "vote, version 0", .base = B_VOTE, .p = {P(O_VER, 1, 0)},
         .want = RAFT_EVERSION},
        {.name = "vote, version 2", .base = B_VOTE, .p = {P(O_VER, 1, 2)},
         .want = RAFT_EVERSION},
        {.name = "vote, version 0x81", .base = B_VOTE,
         .p = {P(O_VER, 1, 0x81)}, .want = RAFT_EVERSION},
        {.name = "vote, version 255", .base = B_VOTE,
         .p = {P(O_VER, 1, 255)}, .want = RAFT_EVERSION},
        {.name = "append, version 0", .base = B_APPEND2,
         .p = {P(O_VER, 1, 0)}, .want = RAFT_EVERSION},
        {.name = "32 bytes only, version 2", .base = B_VOTE,
         .p = {P(O_VER, 1, 2)}, .extra = -16, .want = RAFT_EVERSION},
        {.name = "snapshot, version 2", .base = B_SNAP,
         .p = {P(O_VER, 1, 2)}, .want = RAFT_EVERSION},
        {.name = "snapshot_resp, version 0", .base = B_SNAP_RESP,
         .p = {P(O_VER, 1, 0)}, .want = RAFT_EVERSION},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_03_length_below_smallest)
{
    static const struct dcase cs[] = {
        {.name = "length 0", .base = B_VOTE, .p = {P(O_LEN, 4, 0)},
         .want = RAFT_EFORMAT},
        {.name = "length 4", .base = B_VOTE, .p = {P(O_LEN, 4, 4)},
         .want = RAFT_EFORMAT},
        {.name = "length 32", .base = B_VOTE, .p = {P(O_LEN, 4, 32)},
         .want = RAFT_EFORMAT},
        {.name = "length 47", .base = B_VOTE, .p = {P(O_LEN, 4, 47)},
         .want = RAFT_EFORMAT},
        {.name = "length 47 with 47 bytes", .base = B_VOTE,
         .p = {P(O_LEN, 4, 47)}, .extra = -1, .want = RAFT_EFORMAT},
        {.name = "length 32 with 32 bytes", .base = B_VOTE,
         .p = {P(O_LEN, 4, 32)}, .extra = -16, .want = RAFT_EFORMAT},
        {.name = "append, length 40", .base = B_APPEND2,
         .p = {P(O_LEN, 4, 40)}, .want = RAFT_EFORMAT},
        {.name = "snapshot, length 47", .base = B_SNAP,
         .p = {P(O_LEN, 4, 47)}, .extra = -27, .want = RAFT_EFORMAT},
        {.name = "snapshot_resp, length 47", .base = B_SNAP_RESP,
         .p = {P(O_LEN, 4, 47)}, .extra = -1, .want = RAFT_EFORMAT},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_04_over_message_limit)
{
    static const struct dcase cs[] = {
        {.name = "append 104 bytes, limit 103", .base = B_APPEND2,
         .lim = {.max_msg_bytes = LEN_A2 - 1}, .want = RAFT_ELIMIT},
        {.name = "append 104 bytes, limit 104", .base = B_APPEND2,
         .lim = {.max_msg_bytes = LEN_A2}, .want = 0},
        {.name = "vote, limit 47", .base = B_VOTE,
         .lim = {.max_msg_bytes = 47}, .want = RAFT_ELIMIT},
        {.name = "vote, limit 48", .base = B_VOTE,
         .lim = {.max_msg_bytes = 48}, .want = 0},
        {.name = "limit checked before the bytes are counted", .base = B_VOTE,
         .p = {P(O_LEN, 4, 1000)}, .lim = {.max_msg_bytes = 500},
         .want = RAFT_ELIMIT},
        {.name = "default limit: length 64 MiB + 1", .base = B_VOTE,
         .p = {P(O_LEN, 4, DEF_MAX_MSG_BYTES + 1)}, .want = RAFT_ELIMIT},
        {.name = "default limit: length 64 MiB is allowed", .base = B_VOTE,
         .p = {P(O_LEN, 4, DEF_MAX_MSG_BYTES)}, .want = RAFT_ESHORT},
        {.name = "default limit: length UINT32_MAX", .base = B_VOTE,
         .p = {P(O_LEN, 4, UINT32_MAX)}, .want = RAFT_ELIMIT},
        {.name = "limit UINT32_MAX: length UINT32_MAX", .base = B_VOTE,
         .p = {P(O_LEN, 4, UINT32_MAX)}, .lim = {.max_msg_bytes = UINT32_MAX},
         .want = RAFT_ESHORT},
        {.name = "snapshot 74 bytes, limit 73", .base = B_SNAP,
         .lim = {.max_msg_bytes = LEN_S10 - 1}, .want = RAFT_ELIMIT},
        {.name = "snapshot 74 bytes, limit 74", .base = B_SNAP,
         .lim = {.max_msg_bytes = LEN_S10}, .want = 0},
        {.name = "snapshot, default limit: length 64 MiB + 1", .base = B_SNAP,
         .p = {P(O_LEN, 4, DEF_MAX_MSG_BYTES + 1)}, .want = RAFT_ELIMIT},
        {.name = "snapshot_resp, limit 47", .base = B_SNAP_RESP,
         .lim = {.max_msg_bytes = 47}, .want = RAFT_ELIMIT},
        {.name = "snapshot_resp, limit 48", .base = B_SNAP_RESP,
         .lim = {.max_msg_bytes = 48}, .want = 0},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_05_short_of_length)
{
    static const struct dcase cs[] = {
        {.name = "vote, 47 bytes", .base = B_VOTE, .extra = -1,
         .want = RAFT_ESHORT},
        {.name = "vote, 32 bytes", .base = B_VOTE, .extra = -16,
         .want = RAFT_ESHORT},
        {.name = "append_resp, 55 bytes", .base = B_APPEND_RESP, .extra = -1,
         .want = RAFT_ESHORT},
        {.name = "append, 103 bytes", .base = B_APPEND2, .extra = -1,
         .want = RAFT_ESHORT},
        {.name = "vote, length 49 with 48 bytes", .base = B_VOTE,
         .p = {P(O_LEN, 4, 49)}, .want = RAFT_ESHORT},
        {.name = "append, length 200 with 104 bytes", .base = B_APPEND2,
         .p = {P(O_LEN, 4, 200)}, .want = RAFT_ESHORT},
        {.name = "snapshot, 73 bytes", .base = B_SNAP, .extra = -1,
         .want = RAFT_ESHORT},
        {.name = "snapshot, the fixed part only", .base = B_SNAP,
         .extra = -(int)SNAP_DATA, .want = RAFT_ESHORT},
        {.name = "empty snapshot chunk, 63 bytes", .base = B_SNAP0,
         .extra = -1, .want = RAFT_ESHORT},
        {.name = "snapshot_resp, 47 bytes", .base = B_SNAP_RESP, .extra = -1,
         .want = RAFT_ESHORT},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_06_more_than_length)
{
    static const struct dcase cs[] = {
        {.name = "vote + 1 byte", .base = B_VOTE, .extra = 1,
         .want = RAFT_ETRAILING},
        {.name = "vote + 8 bytes", .base = B_VOTE, .extra = 8,
         .want = RAFT_ETRAILING},
        {.name = "vote_resp + 1 byte", .base = B_VOTE_RESP, .extra = 1,
         .want = RAFT_ETRAILING},
        {.name = "append_resp + 1 byte", .base = B_APPEND_RESP, .extra = 1,
         .want = RAFT_ETRAILING},
        {.name = "heartbeat + 1 byte", .base = B_APPEND0, .extra = 1,
         .want = RAFT_ETRAILING},
        {.name = "append + 1 byte", .base = B_APPEND2, .extra = 1,
         .want = RAFT_ETRAILING},
        {.name = "append + 100 bytes", .base = B_APPEND2, .extra = 100,
         .want = RAFT_ETRAILING},
        {.name = "vote, length 48 given 104", .base = B_VOTE, .extra = 56,
         .want = RAFT_ETRAILING},
        {.name = "snapshot + 1 byte", .base = B_SNAP, .extra = 1,
         .want = RAFT_ETRAILING},
        {.name = "empty snapshot chunk + 1 byte", .base = B_SNAP0, .extra = 1,
         .want = RAFT_ETRAILING},
        {.name = "snapshot_resp + 1 byte", .base = B_SNAP_RESP, .extra = 1,
         .want = RAFT_ETRAILING},
    };
    RUN(cs);
    /* Every valid encoding followed by one more byte. */
    for (size_t i = 0; i < ARRAY_LEN(RT); i++) {
        size_t len;
        uint8_t *enc = enc_alloc(&RT[i].m, &len);
        uint8_t *longer = xmalloc(len + 1);
        memcpy(longer, enc, len);
        longer[len] = 0;
        struct raft_msg d;
        struct raft_entry ents[16];
        int rc = dec_exact(longer, len + 1, NULL, &d, ents, 16);
        CHECK(rc == RAFT_ETRAILING, "%s + 1 byte: %s", RT[i].name,
              err_name(rc));
        xfree(longer);
        xfree(enc);
    }
}
END_TEST

/* docs/wire-format.md, "Encoding": a Read carries its id only; the reply
 * fields of struct raft_msg_read are not encoded. */
START_TEST(test_read_request_carries_id_only)
{
    const struct raft_msg m = {.type = RAFT_MSG_READ, .from = 3, .to = 1,
                               .term = 9,
                               .u.read = {.id = 5, .index = 7, .ok = true}};
    uint8_t buf[LEN_VOTE];
    size_t len = 0;
    struct raft_msg d;
    ck_assert_int_eq(raft_msg_encode(&m, buf, sizeof(buf), &len), 0);
    ck_assert_uint_eq(len, LEN_VOTE);
    ck_assert_uint_eq(buf[O_FLAGS], 0);
    ck_assert_uint_eq(rle(buf + 40, 8), 0);
    ck_assert_int_eq(raft_msg_decode(buf, len, NULL, &d, NULL, 0), 0);
    ck_assert_uint_eq(d.u.read.id, 5);
    ck_assert_uint_eq(d.u.read.index, 0);
    ck_assert(!d.u.read.ok);
}
END_TEST

/* The PreVote, heartbeat-round, read and TimeoutNow messages: 48 bytes
 * each, flag bit 0 only where it means something, bit 1 never, reserved
 * u64s zero. */
START_TEST(test_codec_prevote_and_read_types)
{
    struct raft_msg ms[9];
    memset(ms, 0, sizeof(ms));
    for (size_t i = 0; i < ARRAY_LEN(ms); i++) {
        ms[i].from = 3;
        ms[i].to = 1;
        ms[i].term = 9;
    }
    ms[0].type = RAFT_MSG_PREVOTE;
    ms[0].u.vote.last_index = 40;
    ms[0].u.vote.last_term = 8;
    ms[1].type = RAFT_MSG_PREVOTE_RESP;
    ms[1].u.vote_resp.granted = true;
    ms[1].u.vote_resp.last_index = 41;
    ms[1].u.vote_resp.last_term = 7;
    ms[2].type = RAFT_MSG_PREVOTE_RESP; /* refused */
    ms[2].u.vote_resp.last_index = 2;
    ms[2].u.vote_resp.last_term = 1;
    ms[3].type = RAFT_MSG_HEARTBEAT;
    ms[3].u.heartbeat.round = UINT64_MAX;
    ms[4].type = RAFT_MSG_HEARTBEAT_RESP;
    ms[4].u.heartbeat.round = 5;
    ms[5].type = RAFT_MSG_READ;
    ms[5].u.read.id = 77;
    ms[6].type = RAFT_MSG_READ_RESP;
    ms[6].u.read.id = 77;
    ms[6].u.read.index = 1234;
    ms[6].u.read.ok = true;
    ms[7].type = RAFT_MSG_READ_RESP; /* refused */
    ms[7].u.read.id = 78;
    ms[8].type = RAFT_MSG_TIMEOUT_NOW;
    for (size_t i = 0; i < ARRAY_LEN(ms); i++) {
        uint8_t buf[64];
        size_t len = 0;
        struct raft_msg d;
        ck_assert_int_eq(raft_msg_encode(&ms[i], buf, sizeof(buf), &len), 0);
        ck_assert_uint_eq(len, 48);
        ck_assert_int_eq(raft_msg_decode(buf, len, NULL, &d, NULL, 0), 0);
        ck_assert_int_eq(memcmp(&d, &ms[i], sizeof(d)), 0);
        bool has_flag = (ms[i].type == RAFT_MSG_PREVOTE_RESP && ms[i].u.vote_resp.granted) ||
                        (ms[i].type == RAFT_MSG_READ_RESP && ms[i].u.read.ok);
        ck_assert_uint_eq(buf[6], has_flag ? 1 : 0);
        /* Flag bit 0 where the type has none, any other flag bit. */
        uint8_t bad[64];
        memcpy(bad, buf, len);
        bad[6] = 1;
        bool flag_ok = ms[i].type == RAFT_MSG_PREVOTE_RESP || ms[i].type == RAFT_MSG_READ_RESP;
        ck_assert_int_eq(raft_msg_decode(bad, len, NULL, &d, NULL, 0),
                         flag_ok ? 0 : RAFT_EFORMAT);
        memcpy(bad, buf, len);
        bad[7] = 0x80;
        ck_assert_int_eq(raft_msg_decode(bad, len, NULL, &d, NULL, 0), RAFT_EFORMAT);
        /* Flag bit 1 is RequestVote's only. */
        memcpy(bad, buf, len);
        bad[6] |= F_TRANSFER;
        ck_assert_int_eq(raft_msg_decode(bad, len, NULL, &d, NULL, 0), RAFT_EFORMAT);
        /* The reserved u64 of HEARTBEAT, HEARTBEAT_RESP, READ and
         * TIMEOUT_NOW; TIMEOUT_NOW's first u64 too. */
        memcpy(bad, buf, len);
        bad[47] = 1;
        bool reserved = ms[i].type == RAFT_MSG_HEARTBEAT ||
                        ms[i].type == RAFT_MSG_HEARTBEAT_RESP || ms[i].type == RAFT_MSG_READ ||
                        ms[i].type == RAFT_MSG_TIMEOUT_NOW;
        ck_assert_int_eq(raft_msg_decode(bad, len, NULL, &d, NULL, 0),
                         reserved ? RAFT_EFORMAT : 0);
        memcpy(bad, buf, len);
        bad[32] = 1;
        ck_assert_int_eq(raft_msg_decode(bad, len, NULL, &d, NULL, 0),
                         ms[i].type == RAFT_MSG_TIMEOUT_NOW ? RAFT_EFORMAT : 0);
        /* Exactly 48 bytes: one more, stated in the prefix, is refused. */
        memcpy(bad, buf, len);
        bad[48] = 0;
        bad[0] = 49;
        ck_assert_int_eq(raft_msg_decode(bad, 49, NULL, &d, NULL, 0), RAFT_EFORMAT);
    }
}
END_TEST

START_TEST(test_decode_07_message_type)
{
    static const struct dcase cs[] = {
        {.name = "type 0", .base = B_VOTE, .p = {P(O_TYPE, 1, 0)},
         .want = RAFT_ETYPE},
        {.name = "first unknown type", .base = B_VOTE,
         .p = {P(O_TYPE, 1, T_FIRST_UNKNOWN)}, .want = RAFT_ETYPE},
        {.name = "type 14", .base = B_VOTE, .p = {P(O_TYPE, 1, 14)},
         .want = RAFT_ETYPE},
        {.name = "type 255", .base = B_VOTE, .p = {P(O_TYPE, 1, 255)},
         .want = RAFT_ETYPE},
        {.name = "append, type 0", .base = B_APPEND2, .p = {P(O_TYPE, 1, 0)},
         .want = RAFT_ETYPE},
        {.name = "append_resp, first unknown type", .base = B_APPEND_RESP,
         .p = {P(O_TYPE, 1, T_FIRST_UNKNOWN)}, .want = RAFT_ETYPE},
        {.name = "snapshot, first unknown type", .base = B_SNAP,
         .p = {P(O_TYPE, 1, T_FIRST_UNKNOWN)}, .want = RAFT_ETYPE},
        {.name = "snapshot_resp, type 0", .base = B_SNAP_RESP,
         .p = {P(O_TYPE, 1, 0)}, .want = RAFT_ETYPE},
        {.name = "snapshot_resp, type 255", .base = B_SNAP_RESP,
         .p = {P(O_TYPE, 1, 255)}, .want = RAFT_ETYPE},
        {.name = "vote relabelled vote_resp is valid", .base = B_VOTE,
         .p = {P(O_TYPE, 1, 2)}, .want = 0},
        /* Types 5 and 6 are known: 48 bytes are a valid type 6. */
        {.name = "vote relabelled type 6 is valid", .base = B_VOTE,
         .p = {P(O_TYPE, 1, T_SNAPSHOT_RESP)}, .want = 0},
        {.name = "snapshot_resp relabelled vote is valid", .base = B_SNAP_RESP,
         .p = {P(O_TYPE, 1, RAFT_MSG_VOTE)}, .want = 0},
        /* A 64-byte heartbeat has n_entries 0 where a chunk has len 0. */
        {.name = "heartbeat relabelled type 5 is an empty chunk",
         .base = B_APPEND0, .p = {P(O_TYPE, 1, T_SNAPSHOT)}, .want = 0},
        /* Type 13 is known: a zero body is a TimeoutNow, any other one is
         * refused for its reserved bytes (a later row). */
        {.name = "timeout_now relabelled vote is valid", .base = B_TIMEOUT,
         .p = {P(O_TYPE, 1, RAFT_MSG_VOTE)}, .want = 0},
        {.name = "vote with an empty body relabelled type 13 is valid",
         .base = B_VOTE, .p = {P(O_TYPE, 1, T_TIMEOUT_NOW), P(32, 8, 0),
                               P(40, 8, 0)},
         .want = 0},
        {.name = "vote relabelled type 13: its body is reserved there",
         .base = B_VOTE, .p = {P(O_TYPE, 1, T_TIMEOUT_NOW)},
         .want = RAFT_EFORMAT},
    };
    RUN(cs);
}
END_TEST

/* The flag bits a type defines, from the header table: bit 0 for the
 * replies that grant or succeed, the last chunk and a read's answer; bit 1
 * for a RequestVote of a transfer; nothing for the others. */
static unsigned defined_flags(int type)
{
    switch (type) {
    case RAFT_MSG_VOTE:
        return F_TRANSFER;
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_APPEND_RESP:
    case T_SNAPSHOT:
    case T_SNAPSHOT_RESP:
    case RAFT_MSG_PREVOTE_RESP:
    case RAFT_MSG_READ_RESP:
        return F_OK;
    default:
        return 0;
    }
}

START_TEST(test_decode_08_flags)
{
    for (int b = 0; b < N_BASES; b++) {
        int type = BASES[b].type;
        unsigned mine = defined_flags(type);
        /* Bits 0 and 1 in every combination, alone and with each higher
         * bit: valid exactly when the type defines every bit set. */
        for (unsigned high = 1; high <= 15; high++) {
            for (unsigned low = 0; low < 4; low++) {
                unsigned flags = (high == 1 ? 0 : 1u << high) | low;
                if (high == 1 && low == 0) {
                    continue;
                }
                struct dcase c = {.name = "flags", .base = b,
                                  .p = {P(O_FLAGS, 2, flags)}};
                int want = (flags & ~mine) == 0 ? 0 : RAFT_EFORMAT;
                if (want == 0 && b == B_SNAPC && (flags & F_OK) == 0) {
                    want = RAFT_EFORMAT; /* a configuration without `last` */
                }
                int rc = run_dcase(&c);
                CHECK(rc == want, "type %d, flags 0x%04x: %s, want %s", type,
                      flags, err_name(rc), err_name(want));
            }
        }
    }
}
END_TEST

START_TEST(test_decode_09_fixed_length)
{
    static const struct dcase cs[] = {
        {.name = "vote, length 56", .base = B_VOTE, .p = {P(O_LEN, 4, 56)},
         .extra = 8, .want = RAFT_EFORMAT},
        {.name = "vote, length 64", .base = B_VOTE, .p = {P(O_LEN, 4, 64)},
         .extra = 16, .want = RAFT_EFORMAT},
        {.name = "vote_resp, length 56", .base = B_VOTE_RESP,
         .p = {P(O_LEN, 4, 56)}, .extra = 8, .want = RAFT_EFORMAT},
        {.name = "vote_resp, length 49", .base = B_VOTE_RESP,
         .p = {P(O_LEN, 4, 49)}, .extra = 1, .want = RAFT_EFORMAT},
        {.name = "append_resp, length 48", .base = B_APPEND_RESP,
         .p = {P(O_LEN, 4, 48)}, .extra = -8, .want = RAFT_EFORMAT},
        {.name = "append_resp, length 55", .base = B_APPEND_RESP,
         .p = {P(O_LEN, 4, 55)}, .extra = -1, .want = RAFT_EFORMAT},
        {.name = "append_resp, length 64", .base = B_APPEND_RESP,
         .p = {P(O_LEN, 4, 64)}, .extra = 8, .want = RAFT_EFORMAT},
        {.name = "append, length 48", .base = B_APPEND0,
         .p = {P(O_LEN, 4, 48)}, .extra = -16, .want = RAFT_EFORMAT},
        {.name = "append, length 56", .base = B_APPEND0,
         .p = {P(O_LEN, 4, 56)}, .extra = -8, .want = RAFT_EFORMAT},
        {.name = "append, length 63", .base = B_APPEND0,
         .p = {P(O_LEN, 4, 63)}, .extra = -1, .want = RAFT_EFORMAT},
        /* The expected length follows the type byte. */
        {.name = "48-byte vote relabelled append", .base = B_VOTE,
         .p = {P(O_TYPE, 1, RAFT_MSG_APPEND)}, .want = RAFT_EFORMAT},
        {.name = "48-byte vote relabelled append_resp", .base = B_VOTE,
         .p = {P(O_TYPE, 1, RAFT_MSG_APPEND_RESP)}, .want = RAFT_EFORMAT},
        {.name = "56-byte append_resp relabelled vote", .base = B_APPEND_RESP,
         .p = {P(O_TYPE, 1, RAFT_MSG_VOTE)}, .want = RAFT_EFORMAT},
        {.name = "56-byte append_resp relabelled append", .base = B_APPEND_RESP,
         .p = {P(O_TYPE, 1, RAFT_MSG_APPEND)}, .want = RAFT_EFORMAT},
        {.name = "64-byte heartbeat relabelled vote_resp", .base = B_APPEND0,
         .p = {P(O_TYPE, 1, RAFT_MSG_VOTE_RESP)}, .want = RAFT_EFORMAT},
        {.name = "64-byte heartbeat relabelled append_resp", .base = B_APPEND0,
         .p = {P(O_TYPE, 1, RAFT_MSG_APPEND_RESP)}, .want = RAFT_EFORMAT},
        {.name = "snapshot_resp, length 56", .base = B_SNAP_RESP,
         .p = {P(O_LEN, 4, 56)}, .extra = 8, .want = RAFT_EFORMAT},
        {.name = "snapshot_resp, length 49", .base = B_SNAP_RESP,
         .p = {P(O_LEN, 4, 49)}, .extra = 1, .want = RAFT_EFORMAT},
        {.name = "snapshot_resp, length 64", .base = B_SNAP_RESP,
         .p = {P(O_LEN, 4, 64)}, .extra = 16, .want = RAFT_EFORMAT},
        {.name = "snapshot, length 48", .base = B_SNAP0,
         .p = {P(O_LEN, 4, 48)}, .extra = -16, .want = RAFT_EFORMAT},
        {.name = "snapshot, length 63", .base = B_SNAP0,
         .p = {P(O_LEN, 4, 63)}, .extra = -1, .want = RAFT_EFORMAT},
        {.name = "48-byte vote relabelled snapshot", .base = B_VOTE,
         .p = {P(O_TYPE, 1, T_SNAPSHOT)}, .want = RAFT_EFORMAT},
        {.name = "48-byte snapshot_resp relabelled snapshot",
         .base = B_SNAP_RESP, .p = {P(O_TYPE, 1, T_SNAPSHOT)},
         .want = RAFT_EFORMAT},
        {.name = "56-byte append_resp relabelled snapshot_resp",
         .base = B_APPEND_RESP, .p = {P(O_TYPE, 1, T_SNAPSHOT_RESP)},
         .want = RAFT_EFORMAT},
        {.name = "64-byte heartbeat relabelled snapshot_resp",
         .base = B_APPEND0, .p = {P(O_TYPE, 1, T_SNAPSHOT_RESP)},
         .want = RAFT_EFORMAT},
        {.name = "74-byte snapshot relabelled snapshot_resp", .base = B_SNAP,
         .p = {P(O_TYPE, 1, T_SNAPSHOT_RESP)}, .want = RAFT_EFORMAT},
        {.name = "timeout_now, length 56", .base = B_TIMEOUT,
         .p = {P(O_LEN, 4, 56)}, .extra = 8, .want = RAFT_EFORMAT},
        {.name = "timeout_now, length 64", .base = B_TIMEOUT,
         .p = {P(O_LEN, 4, 64)}, .extra = 16, .want = RAFT_EFORMAT},
        {.name = "64-byte heartbeat relabelled timeout_now", .base = B_APPEND0,
         .p = {P(O_TYPE, 1, T_TIMEOUT_NOW)}, .want = RAFT_EFORMAT},
        {.name = "102-byte last chunk relabelled timeout_now", .base = B_SNAPC,
         .p = {P(O_TYPE, 1, T_TIMEOUT_NOW), P(O_FLAGS, 2, 0)},
         .want = RAFT_EFORMAT},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_10_append_reserved_u32)
{
    static const struct dcase cs[] = {
        {.name = "heartbeat, byte 60", .base = B_APPEND0,
         .p = {P(O_RSV, 1, 1)}, .want = RAFT_EFORMAT},
        {.name = "heartbeat, byte 61", .base = B_APPEND0,
         .p = {P(O_RSV + 1, 1, 1)}, .want = RAFT_EFORMAT},
        {.name = "heartbeat, byte 62", .base = B_APPEND0,
         .p = {P(O_RSV + 2, 1, 0x10)}, .want = RAFT_EFORMAT},
        {.name = "heartbeat, byte 63", .base = B_APPEND0,
         .p = {P(O_RSV + 3, 1, 0x80)}, .want = RAFT_EFORMAT},
        {.name = "append, reserved 0xffffffff", .base = B_APPEND2,
         .p = {P(O_RSV, 4, UINT32_MAX)}, .want = RAFT_EFORMAT},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_11_entry_count_limit)
{
    static const struct dcase cs[] = {
        {.name = "2 entries, max_entries 1", .base = B_APPEND2,
         .lim = {.max_entries = 1}, .want = RAFT_ELIMIT},
        {.name = "2 entries, max_entries 2", .base = B_APPEND2,
         .lim = {.max_entries = 2}, .want = 0},
        {.name = "n_entries 65, default limit", .base = B_APPEND2,
         .p = {P(O_NENT, 4, DEF_MAX_ENTRIES + 1)}, .want = RAFT_ELIMIT},
        /* 64 passes the default limit and fails the next check: pins the
         * default at exactly 64. */
        {.name = "n_entries 64, default limit", .base = B_APPEND2,
         .p = {P(O_NENT, 4, DEF_MAX_ENTRIES)}, .want = RAFT_ECOUNT},
        {.name = "n_entries UINT32_MAX", .base = B_APPEND2,
         .p = {P(O_NENT, 4, UINT32_MAX)}, .want = RAFT_ELIMIT},
        {.name = "heartbeat, n_entries 65", .base = B_APPEND0,
         .p = {P(O_NENT, 4, 65)}, .want = RAFT_ELIMIT},
        {.name = "heartbeat, max_entries 1", .base = B_APPEND0,
         .lim = {.max_entries = 1}, .want = 0},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_12_count_vs_length)
{
    static const struct dcase cs[] = {
        {.name = "append, n_entries 3 in room for 2", .base = B_APPEND2,
         .p = {P(O_NENT, 4, 3)}, .want = RAFT_ECOUNT},
        {.name = "heartbeat, n_entries 1", .base = B_APPEND0,
         .p = {P(O_NENT, 4, 1)}, .want = RAFT_ECOUNT},
        {.name = "heartbeat + 15 bytes, n_entries 1", .base = B_APPEND0,
         .p = {P(O_LEN, 4, 79), P(O_NENT, 4, 1)}, .extra = 15,
         .want = RAFT_ECOUNT},
        /* n * 16 == length - 64 passes: the next check sees the zeroed
         * entry's type 0. */
        {.name = "heartbeat + 16 bytes, n_entries 1", .base = B_APPEND0,
         .p = {P(O_LEN, 4, 80), P(O_NENT, 4, 1)}, .extra = 16,
         .want = RAFT_ETYPE},
        /* n * 16 wraps to 0 in 32 bits. */
        {.name = "n_entries 2^28", .base = B_APPEND2,
         .p = {P(O_NENT, 4, 0x10000000u)}, .lim = HUGE_LIMITS, .want = RAFT_ECOUNT},
        {.name = "n_entries 2^28 + 2", .base = B_APPEND2,
         .p = {P(O_NENT, 4, 0x10000002u)}, .lim = HUGE_LIMITS, .want = RAFT_ECOUNT},
        {.name = "n_entries UINT32_MAX", .base = B_APPEND2,
         .p = {P(O_NENT, 4, UINT32_MAX)}, .lim = HUGE_LIMITS, .want = RAFT_ECOUNT},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_13_entry_array_too_small)
{
    static const struct dcase cs[] = {
        {.name = "2 entries, cap 1", .base = B_APPEND2, .cap = 1,
         .want = RAFT_ENOBUFS},
        {.name = "2 entries, cap 0", .base = B_APPEND2, .cap = CAP_ZERO,
         .want = RAFT_ENOBUFS},
        {.name = "2 entries, NULL array", .base = B_APPEND2, .cap = CAP_NULL,
         .want = RAFT_ENOBUFS},
        {.name = "2 entries, cap 2", .base = B_APPEND2, .cap = 2, .want = 0},
        {.name = "heartbeat, NULL array", .base = B_APPEND0, .cap = CAP_NULL,
         .want = 0},
        {.name = "vote, NULL array", .base = B_VOTE, .cap = CAP_NULL,
         .want = 0},
        {.name = "append_resp, NULL array", .base = B_APPEND_RESP,
         .cap = CAP_NULL, .want = 0},
        {.name = "snapshot, NULL array", .base = B_SNAP, .cap = CAP_NULL,
         .want = 0},
        {.name = "snapshot_resp, NULL array", .base = B_SNAP_RESP,
         .cap = CAP_NULL, .want = 0},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_14_entry_header_fits)
{
    /* With entry 0's payload L bytes long, entry 1's header starts at
     * 80 + L and needs 16 bytes before 104: L <= 8. */
    static const struct dcase cs[] = {
        {.name = "entry 0 len 9", .base = B_APPEND2,
         .p = {P(E0 + EO_LEN, 4, 9)}, .want = RAFT_ECOUNT},
        {.name = "entry 0 len 17", .base = B_APPEND2,
         .p = {P(E0 + EO_LEN, 4, 17)}, .want = RAFT_ECOUNT},
        {.name = "entry 0 len 24: header at the very end", .base = B_APPEND2,
         .p = {P(E0 + EO_LEN, 4, 24)}, .want = RAFT_ECOUNT},
        {.name = "3 entries, the third without room", .base = B_APPEND2,
         .p = {P(O_LEN, 4, LEN_A2 + 8), P(O_NENT, 4, 3)}, .extra = 8,
         .want = RAFT_ECOUNT},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_15_entry_type)
{
    static const struct dcase cs[] = {
        {.name = "entry 0 type 0", .base = B_APPEND2,
         .p = {P(E0 + EO_TYPE, 1, 0)}, .want = RAFT_ETYPE},
        {.name = "entry 0 type 4", .base = B_APPEND2,
         .p = {P(E0 + EO_TYPE, 1, ET_FIRST_UNKNOWN)}, .want = RAFT_ETYPE},
        {.name = "entry 0 type 255", .base = B_APPEND2,
         .p = {P(E0 + EO_TYPE, 1, 255)}, .want = RAFT_ETYPE},
        {.name = "entry 1 type 0", .base = B_APPEND2,
         .p = {P(E1 + EO_TYPE, 1, 0)}, .want = RAFT_ETYPE},
        {.name = "entry 1 type 4", .base = B_APPEND2,
         .p = {P(E1 + EO_TYPE, 1, ET_FIRST_UNKNOWN)}, .want = RAFT_ETYPE},
        {.name = "entry 1 type 0x83", .base = B_APPEND2,
         .p = {P(E1 + EO_TYPE, 1, 0x80 | ET_CONFIG)}, .want = RAFT_ETYPE},
        {.name = "entry 0 type 2 (no-op) is valid", .base = B_APPEND2,
         .p = {P(E0 + EO_TYPE, 1, RAFT_ENTRY_NOOP)}, .want = 0},
        /* The decoder does not look inside a configuration: "abc" is
         * raft_step's to refuse. */
        {.name = "entry 0 type 3 (configuration) is valid", .base = B_APPEND2,
         .p = {P(E0 + EO_TYPE, 1, ET_CONFIG)}, .want = 0},
        {.name = "entry 1 type 3 (configuration) is valid", .base = B_APPEND2,
         .p = {P(E1 + EO_TYPE, 1, ET_CONFIG)}, .want = 0},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_16_entry_reserved)
{
    static const struct dcase cs[] = {
        {.name = "entry 0 byte 13", .base = B_APPEND2,
         .p = {P(E0 + EO_RSV, 1, 1)}, .want = RAFT_EFORMAT},
        {.name = "entry 0 byte 14", .base = B_APPEND2,
         .p = {P(E0 + EO_RSV + 1, 1, 1)}, .want = RAFT_EFORMAT},
        {.name = "entry 0 byte 15", .base = B_APPEND2,
         .p = {P(E0 + EO_RSV + 2, 1, 0x80)}, .want = RAFT_EFORMAT},
        {.name = "entry 1 byte 13", .base = B_APPEND2,
         .p = {P(E1 + EO_RSV, 1, 0x40)}, .want = RAFT_EFORMAT},
        {.name = "entry 1 byte 15", .base = B_APPEND2,
         .p = {P(E1 + EO_RSV + 2, 1, 1)}, .want = RAFT_EFORMAT},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_17_entry_len_limit)
{
    static const struct dcase cs[] = {
        {.name = "max_entry_bytes 2: entry 0 (3 bytes)", .base = B_APPEND2,
         .lim = {.max_entry_bytes = 2}, .want = RAFT_ELIMIT},
        {.name = "max_entry_bytes 4: entry 1 (5 bytes)", .base = B_APPEND2,
         .lim = {.max_entry_bytes = 4}, .want = RAFT_ELIMIT},
        {.name = "max_entry_bytes 5", .base = B_APPEND2,
         .lim = {.max_entry_bytes = 5}, .want = 0},
        {.name = "default: entry len 1 MiB + 1", .base = B_APPEND2,
         .p = {P(E0 + EO_LEN, 4, DEF_MAX_ENTRY_BYTES + 1)},
         .want = RAFT_ELIMIT},
        /* 1 MiB is within the default and fails the next check: pins the
         * default at exactly 1 MiB. */
        {.name = "default: entry len 1 MiB", .base = B_APPEND2,
         .p = {P(E0 + EO_LEN, 4, DEF_MAX_ENTRY_BYTES)}, .want = RAFT_EFORMAT},
        {.name = "default: entry len UINT32_MAX", .base = B_APPEND2,
         .p = {P(E1 + EO_LEN, 4, UINT32_MAX)}, .want = RAFT_ELIMIT},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_18_payload_past_length)
{
    static const struct dcase cs[] = {
        {.name = "entry 1 len 6", .base = B_APPEND2,
         .p = {P(E1 + EO_LEN, 4, 6)}, .want = RAFT_EFORMAT},
        {.name = "entry 0 len 25", .base = B_APPEND2,
         .p = {P(E0 + EO_LEN, 4, 25)}, .want = RAFT_EFORMAT},
        {.name = "entry 0 len 1000", .base = B_APPEND2,
         .p = {P(E0 + EO_LEN, 4, 1000)}, .want = RAFT_EFORMAT},
        /* Lengths that wrap a 32-bit position back inside the message. */
        {.name = "entry 1 len UINT32_MAX", .base = B_APPEND2,
         .p = {P(E1 + EO_LEN, 4, UINT32_MAX)}, .lim = HUGE_LIMITS,
         .want = RAFT_EFORMAT},
        {.name = "entry 0 len 2^32 - 16", .base = B_APPEND2,
         .p = {P(E0 + EO_LEN, 4, 0xfffffff0u)}, .lim = HUGE_LIMITS,
         .want = RAFT_EFORMAT},
        {.name = "entry 0 len 2^32 - 80", .base = B_APPEND2,
         .p = {P(E0 + EO_LEN, 4, 0xffffffb0u)}, .lim = HUGE_LIMITS,
         .want = RAFT_EFORMAT},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_19_bytes_after_last_entry)
{
    static const struct dcase cs[] = {
        {.name = "append, length 105", .base = B_APPEND2,
         .p = {P(O_LEN, 4, LEN_A2 + 1)}, .extra = 1, .want = RAFT_ETRAILING},
        {.name = "heartbeat, length 65", .base = B_APPEND0,
         .p = {P(O_LEN, 4, 65)}, .extra = 1, .want = RAFT_ETRAILING},
        {.name = "heartbeat, length 79", .base = B_APPEND0,
         .p = {P(O_LEN, 4, 79)}, .extra = 15, .want = RAFT_ETRAILING},
        {.name = "entry 1 len 4: one byte left", .base = B_APPEND2,
         .p = {P(E1 + EO_LEN, 4, 4)}, .want = RAFT_ETRAILING},
        {.name = "entry 1 len 0", .base = B_APPEND2,
         .p = {P(E1 + EO_LEN, 4, 0)}, .want = RAFT_ETRAILING},
        {.name = "n_entries 1: entry 1 left over", .base = B_APPEND2,
         .p = {P(O_NENT, 4, 1)}, .want = RAFT_ETRAILING},
        {.name = "n_entries 0: both entries left over", .base = B_APPEND2,
         .p = {P(O_NENT, 4, 0)}, .want = RAFT_ETRAILING},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_20_einval)
{
    struct frame f;
    base_frame(B_APPEND2, &f);
    struct raft_msg d;
    struct raft_entry ents[4];
    ck_assert_int_eq(raft_msg_decode(NULL, f.n, NULL, &d, ents, 4), RAFT_EINVAL);
    ck_assert_int_eq(raft_msg_decode(NULL, 0, NULL, &d, ents, 4), RAFT_EINVAL);
    ck_assert_int_eq(raft_msg_decode(f.b, f.n, NULL, NULL, ents, 4),
                     RAFT_EINVAL);
    ck_assert_int_eq(raft_msg_decode(f.b, f.n, NULL, &d, NULL, 4), RAFT_EINVAL);
    ck_assert_int_eq(raft_msg_decode(f.b, f.n, NULL, &d, NULL, 1), RAFT_EINVAL);
    /* NULL ents with cap 0 is allowed (see test 13). */
    base_frame(B_VOTE, &f);
    ck_assert_int_eq(raft_msg_decode(f.b, f.n, NULL, &d, NULL, 0), 0);
    ck_assert_int_eq(raft_msg_decode(NULL, f.n, NULL, &d, NULL, 0), RAFT_EINVAL);
    ck_assert_int_eq(raft_msg_decode(f.b, f.n, NULL, NULL, NULL, 0),
                     RAFT_EINVAL);
}
END_TEST

/* conf_len: at most 2303, and only with `last`. Each case states a
 * consistent length where it can, so only this row can refuse it. */
START_TEST(test_decode_21_snapshot_conf_len)
{
    static const struct dcase cs[] = {
        {.name = "not last, conf_len 1 (and the byte)", .base = B_SNAP,
         .p = {P(O_LEN, 4, LEN_S10 + 1), P(O_SCLEN, 4, 1)}, .extra = 1,
         .want = RAFT_EFORMAT},
        {.name = "not last, byte 61", .base = B_SNAP,
         .p = {P(O_SCLEN + 1, 1, 1)}, .want = RAFT_EFORMAT},
        {.name = "not last, byte 62", .base = B_SNAP,
         .p = {P(O_SCLEN + 2, 1, 0x10)}, .want = RAFT_EFORMAT},
        {.name = "not last, byte 63", .base = B_SNAP,
         .p = {P(O_SCLEN + 3, 1, 0x80)}, .want = RAFT_EFORMAT},
        {.name = "a last chunk with its configuration, bit 0 cleared",
         .base = B_SNAPC, .p = {P(O_FLAGS, 2, 0)}, .want = RAFT_EFORMAT},
        {.name = "last, conf_len 0xffffffff", .base = B_SNAP0,
         .p = {P(O_SCLEN, 4, UINT32_MAX)}, .lim = HUGE_LIMITS,
         .want = RAFT_EFORMAT},
        {.name = "last, conf_len 2^32 - 64", .base = B_SNAP0,
         .p = {P(O_SCLEN, 4, 0xffffffc0u)}, .lim = HUGE_LIMITS,
         .want = RAFT_EFORMAT},
        /* Above the bound even where the chunk limit would refuse too
         * (the row before it); exactly at the bound, that limit does. */
        {.name = "last, conf_len 2304", .base = B_SNAPC,
         .p = {P(O_SCLEN, 4, MAX_CONF + 1)}, .lim = {.max_entry_bytes = 1},
         .want = RAFT_EFORMAT},
        {.name = "last, conf_len 2303", .base = B_SNAPC,
         .p = {P(O_SCLEN, 4, MAX_CONF)}, .lim = {.max_entry_bytes = 1},
         .want = RAFT_ELIMIT},
        /* A last chunk without a configuration decodes: raft_step()
         * refuses it. */
        {.name = "last, conf_len 0", .base = B_SNAP0, .want = 0},
        {.name = "last, all 38 bytes as configuration", .base = B_SNAPC,
         .p = {P(O_SLEN, 4, 0), P(O_SCLEN, 4, SNAPC_DATA + SNAPC_CONF)},
         .want = 0},
    };
    RUN(cs);
}
END_TEST

/* The largest configuration, in a message of the right length: 2303 bytes
 * decode, 2304 do not, whatever the limits. */
START_TEST(test_decode_snapshot_conf_bound)
{
    struct raft_msg m = BASES[B_SNAP0];
    m.u.snapshot.conf = CONF_BIG;
    m.u.snapshot.conf_len = MAX_CONF;
    size_t len;
    uint8_t *buf = enc_alloc(&m, &len);
    ck_assert_uint_eq(len, LEN_SNAPSHOT + MAX_CONF);
    /* Not a payload: the smallest chunk limit lets it through. */
    const struct raft_wire_limits tight = {.max_entry_bytes = 1};
    round_trip(&m, buf, len, &tight, "empty last chunk, 2303-byte configuration");
    xfree(buf);

    uint8_t *big = xmalloc(LEN_SNAPSHOT + MAX_CONF + 1);
    struct frame f;
    base_frame(B_SNAP0, &f);
    memcpy(big, f.b, LEN_SNAPSHOT);
    memcpy(big + LEN_SNAPSHOT, CONF_BIG, MAX_CONF);
    big[LEN_SNAPSHOT + MAX_CONF] = 0;
    wle(big + O_LEN, 4, LEN_SNAPSHOT + MAX_CONF + 1);
    wle(big + O_SCLEN, 4, MAX_CONF + 1);
    const struct raft_wire_limits huge = HUGE_LIMITS;
    struct raft_msg d;
    ck_assert_int_eq(dec_exact(big, LEN_SNAPSHOT + MAX_CONF + 1, &huge, &d,
                               NULL, 0),
                     RAFT_EFORMAT);
    /* The same bytes as one data byte more and the 2303-byte
     * configuration: valid. */
    wle(big + O_SLEN, 4, 1);
    wle(big + O_SCLEN, 4, MAX_CONF);
    ck_assert_int_eq(dec_exact(big, LEN_SNAPSHOT + MAX_CONF + 1, &huge, &d,
                               NULL, 0),
                     0);
    xfree(big);
}
END_TEST

START_TEST(test_decode_22_snapshot_len_limit)
{
    static const struct dcase cs[] = {
        {.name = "10-byte chunk, max_entry_bytes 9", .base = B_SNAP,
         .lim = {.max_entry_bytes = SNAP_DATA - 1}, .want = RAFT_ELIMIT},
        {.name = "10-byte chunk, max_entry_bytes 10", .base = B_SNAP,
         .lim = {.max_entry_bytes = SNAP_DATA}, .want = 0},
        {.name = "10-byte chunk, max_entry_bytes 1, max_entries 1",
         .base = B_SNAP, .lim = {.max_entries = 1, .max_entry_bytes = 1},
         .want = RAFT_ELIMIT},
        {.name = "default: len 1 MiB + 1", .base = B_SNAP,
         .p = {P(O_SLEN, 4, DEF_MAX_ENTRY_BYTES + 1)}, .want = RAFT_ELIMIT},
        /* 1 MiB is within the default and fails the next check: pins the
         * default at exactly 1 MiB. */
        {.name = "default: len 1 MiB", .base = B_SNAP,
         .p = {P(O_SLEN, 4, DEF_MAX_ENTRY_BYTES)}, .want = RAFT_EFORMAT},
        {.name = "default: len UINT32_MAX", .base = B_SNAP0,
         .p = {P(O_SLEN, 4, UINT32_MAX)}, .want = RAFT_ELIMIT},
        /* The limit applies to the stated length, before it is compared
         * with the message's. */
        {.name = "len 1000 in a 74-byte message, limit 500", .base = B_SNAP,
         .p = {P(O_SLEN, 4, 1000)}, .lim = {.max_entry_bytes = 500},
         .want = RAFT_ELIMIT},
        {.name = "len 5 in a 74-byte message, limit 4", .base = B_SNAP,
         .p = {P(O_SLEN, 4, 5)}, .lim = {.max_entry_bytes = 4},
         .want = RAFT_ELIMIT},
        /* The configuration is not a payload: only `len` counts. */
        {.name = "3 data bytes + 35 configuration bytes, limit 3",
         .base = B_SNAPC, .lim = {.max_entry_bytes = SNAPC_DATA}, .want = 0},
        {.name = "3 data bytes + 35 configuration bytes, limit 2",
         .base = B_SNAPC, .lim = {.max_entry_bytes = SNAPC_DATA - 1},
         .want = RAFT_ELIMIT},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_23_snapshot_data_past_length)
{
    static const struct dcase cs[] = {
        {.name = "10-byte chunk, len 11", .base = B_SNAP,
         .p = {P(O_SLEN, 4, SNAP_DATA + 1)}, .want = RAFT_EFORMAT},
        {.name = "empty chunk, len 1", .base = B_SNAP0,
         .p = {P(O_SLEN, 4, 1)}, .want = RAFT_EFORMAT},
        {.name = "10-byte chunk, len 1000", .base = B_SNAP,
         .p = {P(O_SLEN, 4, 1000)}, .want = RAFT_EFORMAT},
        /* Lengths whose sum with the fixed part wraps in 32 bits. */
        {.name = "len UINT32_MAX", .base = B_SNAP,
         .p = {P(O_SLEN, 4, UINT32_MAX)}, .lim = HUGE_LIMITS,
         .want = RAFT_EFORMAT},
        {.name = "len 2^32 - 64", .base = B_SNAP0,
         .p = {P(O_SLEN, 4, 0xffffffc0u)}, .lim = HUGE_LIMITS,
         .want = RAFT_EFORMAT},
        {.name = "len 2^32 - 54", .base = B_SNAP,
         .p = {P(O_SLEN, 4, 0xffffffcau)}, .lim = HUGE_LIMITS,
         .want = RAFT_EFORMAT},
        {.name = "len = the message length", .base = B_SNAP,
         .p = {P(O_SLEN, 4, LEN_S10)}, .want = RAFT_EFORMAT},
        /* With a configuration: len + conf_len against length - 64. */
        {.name = "configuration, len 4", .base = B_SNAPC,
         .p = {P(O_SLEN, 4, SNAPC_DATA + 1)}, .want = RAFT_EFORMAT},
        {.name = "configuration, conf_len 36", .base = B_SNAPC,
         .p = {P(O_SCLEN, 4, SNAPC_CONF + 1)}, .want = RAFT_EFORMAT},
        {.name = "configuration, conf_len 39 (len 0)", .base = B_SNAPC,
         .p = {P(O_SLEN, 4, 0), P(O_SCLEN, 4, SNAPC_DATA + SNAPC_CONF + 1)},
         .want = RAFT_EFORMAT},
        {.name = "configuration, len UINT32_MAX", .base = B_SNAPC,
         .p = {P(O_SLEN, 4, UINT32_MAX)}, .lim = HUGE_LIMITS,
         .want = RAFT_EFORMAT},
        /* len + conf_len wraps to exactly length - 64 in 32 bits. */
        {.name = "conf_len 2303, len 2^32 - 2303 + 38", .base = B_SNAPC,
         .p = {P(O_SCLEN, 4, MAX_CONF),
               P(O_SLEN, 4, 0x100000000ull - MAX_CONF + LEN_SC - LEN_SNAPSHOT)},
         .lim = HUGE_LIMITS, .want = RAFT_EFORMAT},
        {.name = "configuration, len 2^32 - 35", .base = B_SNAPC,
         .p = {P(O_SLEN, 4, 0xffffffffu - SNAPC_CONF + 1)},
         .lim = HUGE_LIMITS, .want = RAFT_EFORMAT},
    };
    RUN(cs);
}
END_TEST

START_TEST(test_decode_24_snapshot_bytes_after_data)
{
    static const struct dcase cs[] = {
        {.name = "10-byte chunk, len 9", .base = B_SNAP,
         .p = {P(O_SLEN, 4, SNAP_DATA - 1)}, .want = RAFT_ETRAILING},
        {.name = "10-byte chunk, len 0", .base = B_SNAP,
         .p = {P(O_SLEN, 4, 0)}, .want = RAFT_ETRAILING},
        {.name = "empty chunk, length 65", .base = B_SNAP0,
         .p = {P(O_LEN, 4, LEN_SNAPSHOT + 1)}, .extra = 1,
         .want = RAFT_ETRAILING},
        {.name = "10-byte chunk, length 75", .base = B_SNAP,
         .p = {P(O_LEN, 4, LEN_S10 + 1)}, .extra = 1,
         .want = RAFT_ETRAILING},
        {.name = "10-byte chunk, length 474", .base = B_SNAP,
         .p = {P(O_LEN, 4, LEN_S10 + 400)}, .extra = 400,
         .want = RAFT_ETRAILING},
        {.name = "configuration, len 2", .base = B_SNAPC,
         .p = {P(O_SLEN, 4, SNAPC_DATA - 1)}, .want = RAFT_ETRAILING},
        {.name = "configuration, conf_len 34", .base = B_SNAPC,
         .p = {P(O_SCLEN, 4, SNAPC_CONF - 1)}, .want = RAFT_ETRAILING},
        {.name = "configuration, conf_len 0", .base = B_SNAPC,
         .p = {P(O_SCLEN, 4, 0)}, .want = RAFT_ETRAILING},
        {.name = "configuration, length 103", .base = B_SNAPC,
         .p = {P(O_LEN, 4, LEN_SC + 1)}, .extra = 1, .want = RAFT_ETRAILING},
    };
    RUN(cs);
}
END_TEST

/* Where a message breaks two rules, the earlier row of the table wins. */
START_TEST(test_decode_check_order)
{
    static const struct dcase cs[] = {
        {.name = "short header before version", .base = B_VOTE,
         .p = {P(O_VER, 1, 2)}, .extra = -17, .want = RAFT_ESHORT},
        {.name = "version before length < 48", .base = B_VOTE,
         .p = {P(O_VER, 1, 2), P(O_LEN, 4, 40)}, .want = RAFT_EVERSION},
        {.name = "version before type", .base = B_VOTE,
         .p = {P(O_VER, 1, 0), P(O_TYPE, 1, 0)}, .want = RAFT_EVERSION},
        {.name = "length < 48 before the message limit", .base = B_VOTE,
         .p = {P(O_LEN, 4, 40)}, .lim = {.max_msg_bytes = 30},
         .want = RAFT_EFORMAT},
        {.name = "length < 48 before short input", .base = B_VOTE,
         .p = {P(O_LEN, 4, 40)}, .extra = -10, .want = RAFT_EFORMAT},
        {.name = "message limit before short input", .base = B_APPEND2,
         .p = {P(O_LEN, 4, 1000)}, .lim = {.max_msg_bytes = 500},
         .want = RAFT_ELIMIT},
        {.name = "message limit before trailing input", .base = B_APPEND2,
         .extra = 1, .lim = {.max_msg_bytes = 100}, .want = RAFT_ELIMIT},
        {.name = "short input before type", .base = B_VOTE,
         .p = {P(O_TYPE, 1, 0)}, .extra = -1, .want = RAFT_ESHORT},
        {.name = "trailing input before type", .base = B_VOTE,
         .p = {P(O_TYPE, 1, 0)}, .extra = 1, .want = RAFT_ETRAILING},
        {.name = "trailing input before flags", .base = B_VOTE,
         .p = {P(O_FLAGS, 2, 2)}, .extra = 1, .want = RAFT_ETRAILING},
        {.name = "type before flags", .base = B_VOTE,
         .p = {P(O_TYPE, 1, T_FIRST_UNKNOWN), P(O_FLAGS, 2, 0x8000)}, .want = RAFT_ETYPE},
        {.name = "reserved u32 before the entry limit", .base = B_APPEND2,
         .p = {P(O_RSV, 4, 1), P(O_NENT, 4, 65)}, .want = RAFT_EFORMAT},
        {.name = "entry limit before count vs length", .base = B_APPEND2,
         .p = {P(O_NENT, 4, 3)}, .lim = {.max_entries = 2},
         .want = RAFT_ELIMIT},
        {.name = "count vs length before the entry array", .base = B_APPEND2,
         .p = {P(O_NENT, 4, 3)}, .cap = 1, .want = RAFT_ECOUNT},
        {.name = "entry array before entry type", .base = B_APPEND2,
         .p = {P(E0 + EO_TYPE, 1, 0)}, .cap = 1, .want = RAFT_ENOBUFS},
        {.name = "entry array before entry reserved", .base = B_APPEND2,
         .p = {P(E0 + EO_RSV, 1, 1)}, .cap = CAP_NULL,
         .want = RAFT_ENOBUFS},
        {.name = "header fit before the entry's type", .base = B_APPEND2,
         .p = {P(E0 + EO_LEN, 4, 9), P(89 + EO_TYPE, 1, 0)},
         .want = RAFT_ECOUNT},
        {.name = "entry type before entry reserved", .base = B_APPEND2,
         .p = {P(E0 + EO_TYPE, 1, 9), P(E0 + EO_RSV, 1, 1)},
         .want = RAFT_ETYPE},
        {.name = "entry reserved before entry len limit", .base = B_APPEND2,
         .p = {P(E0 + EO_RSV + 1, 1, 1)}, .lim = {.max_entry_bytes = 1},
         .want = RAFT_EFORMAT},
        {.name = "entry len limit before payload past length",
         .base = B_APPEND2, .p = {P(E0 + EO_LEN, 4, 1000)},
         .lim = {.max_entry_bytes = 500}, .want = RAFT_ELIMIT},
        {.name = "entry 0 (type) before entry 1 (reserved)", .base = B_APPEND2,
         .p = {P(E0 + EO_TYPE, 1, 0), P(E1 + EO_RSV, 1, 1)},
         .want = RAFT_ETYPE},
        {.name = "entry 0 (reserved) before entry 1 (type)", .base = B_APPEND2,
         .p = {P(E0 + EO_RSV, 1, 1), P(E1 + EO_TYPE, 1, 0)},
         .want = RAFT_EFORMAT},
        {.name = "entry 0 (len limit) before entry 1 (type)", .base = B_APPEND2,
         .p = {P(E1 + EO_TYPE, 1, 0)}, .lim = {.max_entry_bytes = 2},
         .want = RAFT_ELIMIT},
        {.name = "trailing input before the chunk's conf_len",
         .base = B_SNAP, .p = {P(O_SCLEN, 4, 1)}, .extra = 1,
         .want = RAFT_ETRAILING},
        {.name = "snapshot flags before its length", .base = B_SNAP0,
         .p = {P(O_FLAGS, 2, 3), P(O_LEN, 4, 48)}, .extra = -16,
         .want = RAFT_EFORMAT},
        {.name = "type 6 before its flags", .base = B_SNAP_RESP,
         .p = {P(O_TYPE, 1, T_FIRST_UNKNOWN), P(O_FLAGS, 2, 0x8000)},
         .want = RAFT_ETYPE},
        {.name = "conf_len without last before the chunk limit",
         .base = B_SNAP, .p = {P(O_SCLEN, 4, 1), P(O_SLEN, 4, UINT32_MAX)},
         .want = RAFT_EFORMAT},
        {.name = "conf_len bound before the chunk limit", .base = B_SNAPC,
         .p = {P(O_SCLEN, 4, MAX_CONF + 1), P(O_SLEN, 4, UINT32_MAX)},
         .want = RAFT_EFORMAT},
        {.name = "chunk limit before the configuration past length",
         .base = B_SNAPC, .p = {P(O_SCLEN, 4, 100)},
         .lim = {.max_entry_bytes = SNAPC_DATA - 1}, .want = RAFT_ELIMIT},
        {.name = "timeout_now flags before its reserved bytes",
         .base = B_TIMEOUT, .p = {P(O_FLAGS, 2, F_OK), P(40, 8, 1)},
         .extra = 0, .want = RAFT_EFORMAT},
        {.name = "type 13 before its flags", .base = B_TIMEOUT,
         .p = {P(O_TYPE, 1, T_FIRST_UNKNOWN), P(O_FLAGS, 2, F_TRANSFER)},
         .want = RAFT_ETYPE},
        {.name = "chunk limit before data past length", .base = B_SNAP,
         .p = {P(O_SLEN, 4, SNAP_DATA + 1)},
         .lim = {.max_entry_bytes = SNAP_DATA}, .want = RAFT_ELIMIT},
        {.name = "chunk limit before bytes after the data", .base = B_SNAP,
         .p = {P(O_LEN, 4, LEN_S10 + 1)}, .extra = 1,
         .lim = {.max_entry_bytes = SNAP_DATA - 1}, .want = RAFT_ELIMIT},
    };
    RUN(cs);
}
END_TEST

/* ======================================================================
 * Truncations, mutations, zero copy
 * ====================================================================== */

/* Every proper prefix of every valid encoding is ESHORT, read from an
 * exactly-sized buffer. */
START_TEST(test_every_truncation_is_eshort)
{
    for (size_t i = 0; i < ARRAY_LEN(RT); i++) {
        size_t len;
        uint8_t *enc = enc_alloc(&RT[i].m, &len);
        struct raft_msg d;
        struct raft_entry ents[16];
        for (size_t k = 0; k < len; k++) {
            int rc = dec_exact(enc, k, NULL, &d, ents, 16);
            CHECK(rc == RAFT_ESHORT, "%s: %zu of %zu bytes: %s", RT[i].name, k,
                  len, err_name(rc));
        }
        xfree(enc);
    }
}
END_TEST

/*
 * Every single-byte change of a valid encoding either decodes to a message
 * that re-encodes to exactly the changed bytes (the format is canonical) or
 * is rejected with one of the decoder's documented codes.
 */
START_TEST(test_byte_mutations_are_canonical_or_rejected)
{
    static const int bases[] = {B_VOTE_RESP, B_APPEND_RESP, B_APPEND2,
                                B_SNAP,      B_SNAP0,       B_SNAP_RESP,
                                B_SNAPC,     B_VOTE_T,      B_TIMEOUT};
    unsigned long accepted = 0, rejected = 0;
    for (size_t b = 0; b < ARRAY_LEN(bases); b++) {
        struct frame f;
        base_frame(bases[b], &f);
        for (size_t off = 0; off < f.n; off++) {
            uint8_t orig = f.b[off];
            for (unsigned v = 0; v < 256; v++) {
                if (v == orig) {
                    continue;
                }
                f.b[off] = (uint8_t)v;
                uint8_t *blk;
                uint8_t *in = exact_copy(f.b, f.n, &blk);
                struct raft_msg d;
                struct raft_entry ents[8];
                int rc = raft_msg_decode(in, f.n, NULL, &d, ents, 8);
                if (rc == 0) {
                    uint8_t out[sizeof(f.b)];
                    size_t len = 0;
                    int erc = raft_msg_encode(&d, out, sizeof(out), &len);
                    CHECK(erc == 0 && len == f.n && memcmp(out, f.b, len) == 0,
                          "base %d, byte %zu = 0x%02x: decoded but does not "
                          "re-encode to the same bytes",
                          bases[b], off, v);
                    accepted++;
                } else {
                    CHECK(rc == RAFT_ESHORT || rc == RAFT_ETRAILING ||
                              rc == RAFT_EVERSION || rc == RAFT_ETYPE ||
                              rc == RAFT_ECOUNT || rc == RAFT_ELIMIT ||
                              rc == RAFT_ENOBUFS || rc == RAFT_EFORMAT,
                          "base %d, byte %zu = 0x%02x: %d is not a decode "
                          "error code",
                          bases[b], off, v, rc);
                    rejected++;
                }
                xfree(blk);
            }
            f.b[off] = orig;
        }
    }
    ck_assert_uint_gt(accepted, 0);
    ck_assert_uint_gt(rejected, 0);
}
END_TEST

START_TEST(test_zero_copy)
{
    static const struct raft_entry ents[] = {
        {.term = 3, .type = RAFT_ENTRY_COMMAND, .buf = "abc", .len = 3},
        {.term = 3, .type = RAFT_ENTRY_NOOP, .buf = NULL, .len = 0},
        {.term = 4, .type = RAFT_ENTRY_COMMAND, .buf = "hello", .len = 5},
    };
    const struct raft_msg m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 4,
        .u.append = {.n_entries = 3, .entries = ents}};
    size_t len;
    uint8_t *buf = enc_alloc(&m, &len);
    struct raft_msg d;
    struct raft_entry dents[3];
    poison(&d, dents, 3);
    ck_assert_int_eq(raft_msg_decode(buf, len, NULL, &d, dents, 3), 0);
    ck_assert_ptr_eq(d.u.append.entries, dents);
    /* Payloads at 64+16 and 64+16+3+16+16. */
    ck_assert_ptr_eq(dents[0].buf, buf + 80);
    ck_assert_ptr_eq(dents[2].buf, buf + 115);
    /* An empty payload is NULL or points inside the buffer. */
    ck_assert(dents[1].buf == NULL ||
              ((const uint8_t *)dents[1].buf >= buf &&
               (const uint8_t *)dents[1].buf <= buf + len));
    /* It aliases the input: a change to the input shows through. */
    buf[115] = 'J';
    ck_assert_int_eq(((const char *)dents[2].buf)[0], 'J');
    xfree(buf);

    /* A chunk's data is at offset 64 of the input; empty data is NULL. */
    const struct raft_msg sn = {
        .type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 4,
        .u.snapshot = {.index = 3, .index_term = 2, .len = 5,
                       .data = "hello"}};
    buf = enc_alloc(&sn, &len);
    poison(&d, NULL, 0);
    ck_assert_int_eq(raft_msg_decode(buf, len, NULL, &d, NULL, 0), 0);
    ck_assert_ptr_eq(d.u.snapshot.data, buf + 64);
    buf[66] = 'L';
    ck_assert_int_eq(((const char *)d.u.snapshot.data)[2], 'L');
    xfree(buf);
    struct raft_msg empty = sn;
    empty.u.snapshot.len = 0;
    buf = enc_alloc(&empty, &len);
    poison(&d, NULL, 0);
    ck_assert_int_eq(raft_msg_decode(buf, len, NULL, &d, NULL, 0), 0);
    ck_assert_ptr_null(d.u.snapshot.data);
    ck_assert_uint_eq(d.u.snapshot.len, 0);
    ck_assert_ptr_null(d.u.snapshot.conf);
    ck_assert_uint_eq(d.u.snapshot.conf_len, 0);
    xfree(buf);

    /* A last chunk's configuration is at 64 + len; alone, at 64. */
    struct raft_msg last = sn;
    last.u.snapshot.last = true;
    last.u.snapshot.conf = CONF3;
    last.u.snapshot.conf_len = sizeof(CONF3);
    buf = enc_alloc(&last, &len);
    poison(&d, NULL, 0);
    ck_assert_int_eq(raft_msg_decode(buf, len, NULL, &d, NULL, 0), 0);
    ck_assert_ptr_eq(d.u.snapshot.data, buf + 64);
    ck_assert_ptr_eq(d.u.snapshot.conf, buf + 69);
    buf[69 + CO_N] = 9;
    ck_assert_uint_eq(((const uint8_t *)d.u.snapshot.conf)[CO_N], 9);
    xfree(buf);
    last.u.snapshot.len = 0;
    buf = enc_alloc(&last, &len);
    poison(&d, NULL, 0);
    ck_assert_int_eq(raft_msg_decode(buf, len, NULL, &d, NULL, 0), 0);
    ck_assert_ptr_null(d.u.snapshot.data);
    ck_assert_ptr_eq(d.u.snapshot.conf, buf + 64);
    ck_assert_uint_eq(d.u.snapshot.conf_len, sizeof(CONF3));
    xfree(buf);
}
END_TEST

/* ======================================================================
 * raft_conf_decode: the configuration encoding, table by table
 * ====================================================================== */

#define V RAFT_MEMBER_VOTER
#define O RAFT_MEMBER_OUTGOING
#define L RAFT_MEMBER_LEARNER
#define NO_N UINT64_MAX /* ccase.n: the member count */

struct cmember {
    uint64_t id;
    unsigned flags;
};

struct ccase {
    const char *name;
    unsigned ver, flags, rsv2, rsv3; /* header bytes 0-3 */
    uint64_t n;                      /* the u32 at 4, NO_N: the members' */
    size_t nm;
    struct cmember m[6];
    int extra; /* bytes added (zero) or removed at the end */
    int want;
};

/* Encode c into b (room for 8 + 9 * 6 + 16 bytes); returns the length. */
static size_t conf_bytes(const struct ccase *c, uint8_t *b)
{
    b[CO_VER] = (uint8_t)c->ver;
    b[CO_FLAGS] = (uint8_t)c->flags;
    b[CO_RSV] = (uint8_t)c->rsv2;
    b[CO_RSV + 1] = (uint8_t)c->rsv3;
    wle(b + CO_N, 4, c->n == NO_N ? c->nm : c->n);
    for (size_t i = 0; i < c->nm; i++) {
        wle(b + CO_MEMBERS + C_MEMBER * i, 8, c->m[i].id);
        b[CO_MEMBERS + C_MEMBER * i + 8] = (uint8_t)c->m[i].flags;
    }
    size_t len = CO_MEMBERS + C_MEMBER * c->nm;
    if (c->extra > 0) {
        memset(b + len, 0, (size_t)c->extra);
    }
    return (size_t)((long)len + c->extra);
}

/* Decode buf[0..len) from an exact heap copy. */
static int conf_dec_exact(const uint8_t *buf, size_t len, struct raft_member *out,
                          size_t cap, size_t *n)
{
    uint8_t *block;
    const uint8_t *p = exact_copy(buf, len, &block);
    int rc = raft_conf_decode(p, len, out, cap, n);
    xfree(block);
    return rc;
}

static const struct ccase CONF_CASES[] = {
    /* Valid. */
    {"one voter", 1, 0, 0, 0, NO_N, 1, {{1, V}}, 0, 0},
    {"voters 1 and 2, learner 3", 1, 0, 0, 0, NO_N, 3, {{1, V}, {2, V}, {3, L}}, 0, 0},
    {"ids at the extremes", 1, 0, 0, 0, NO_N, 2, {{UINT64_MAX, V}, {1, L}}, 0, 0},
    {"joint, explicit leave", 1, 0, 0, 0, NO_N, 3, {{1, V | O}, {2, O}, {3, V}}, 0, 0},
    {"joint, automatic leave", 1, 1, 0, 0, NO_N, 3, {{1, V | O}, {2, O}, {3, V}}, 0, 0},
    {"joint, a voter demoted", 1, 1, 0, 0, NO_N, 2, {{1, V | O}, {2, L | O}}, 0, 0},
    {"joint, all replaced", 1, 1, 0, 0, NO_N, 4, {{1, O}, {2, O}, {3, V}, {4, V}}, 0, 0},
    {"joint, learners around", 1, 0, 0, 0, NO_N, 4, {{7, L}, {1, V | O}, {9, L}, {2, V}}, 0, 0},
    /* Header. */
    {"version 0", 0, 0, 0, 0, NO_N, 1, {{1, V}}, 0, RAFT_EFORMAT},
    {"version 2", 2, 0, 0, 0, NO_N, 1, {{1, V}}, 0, RAFT_EFORMAT},
    {"version 255", 255, 0, 0, 0, NO_N, 1, {{1, V}}, 0, RAFT_EFORMAT},
    {"flags bit 1", 1, 2, 0, 0, NO_N, 2, {{1, V | O}, {2, V}}, 0, RAFT_EFORMAT},
    {"flags bit 2", 1, 4, 0, 0, NO_N, 1, {{1, V}}, 0, RAFT_EFORMAT},
    {"flags bit 7", 1, 0x80, 0, 0, NO_N, 1, {{1, V}}, 0, RAFT_EFORMAT},
    {"flags 0xff", 1, 0xff, 0, 0, NO_N, 2, {{1, V | O}, {2, V}}, 0, RAFT_EFORMAT},
    {"reserved byte 2", 1, 0, 1, 0, NO_N, 1, {{1, V}}, 0, RAFT_EFORMAT},
    {"reserved byte 3", 1, 0, 0, 0x80, NO_N, 1, {{1, V}}, 0, RAFT_EFORMAT},
    /* Count and length. */
    {"count 0, 8 bytes", 1, 0, 0, 0, NO_N, 0, {{0, 0}}, 0, RAFT_EFORMAT},
    {"count 0 with a member after it", 1, 0, 0, 0, 0, 1, {{1, V}}, 0, RAFT_EFORMAT},
    {"count 256", 1, 0, 0, 0, 256, 1, {{1, V}}, 0, RAFT_EFORMAT},
    {"count 2^32 - 1", 1, 0, 0, 0, UINT32_MAX, 1, {{1, V}}, 0, RAFT_EFORMAT},
    /* 2^32 / 9 members would wrap a 32-bit length to a small one. */
    {"count 0x1c71c71d", 1, 0, 0, 0, 0x1c71c71du, 1, {{1, V}}, 0, RAFT_EFORMAT},
    {"count 2 with 3 members", 1, 0, 0, 0, 2, 3, {{1, V}, {2, V}, {3, V}}, 0, RAFT_EFORMAT},
    {"count 3 with 2 members", 1, 0, 0, 0, 3, 2, {{1, V}, {2, V}}, 0, RAFT_EFORMAT},
    {"one byte missing", 1, 0, 0, 0, NO_N, 2, {{1, V}, {2, V}}, -1, RAFT_EFORMAT},
    {"one byte more", 1, 0, 0, 0, NO_N, 2, {{1, V}, {2, V}}, 1, RAFT_EFORMAT},
    {"a member more", 1, 0, 0, 0, NO_N, 1, {{1, V}}, 9, RAFT_EFORMAT},
    {"7 bytes", 1, 0, 0, 0, NO_N, 0, {{0, 0}}, -1, RAFT_EFORMAT},
    {"the header without its count", 1, 0, 0, 0, NO_N, 0, {{0, 0}}, -4, RAFT_EFORMAT},
    /* Members. */
    {"id 0, first", 1, 0, 0, 0, NO_N, 2, {{0, V}, {2, V}}, 0, RAFT_EFORMAT},
    {"id 0, last (a learner)", 1, 0, 0, 0, NO_N, 3, {{1, V}, {2, V}, {0, L}}, 0, RAFT_EFORMAT},
    {"duplicate id, adjacent", 1, 0, 0, 0, NO_N, 2, {{5, V}, {5, V}}, 0, RAFT_EFORMAT},
    {"duplicate id, voter and learner", 1, 0, 0, 0, NO_N, 3, {{5, V}, {6, V}, {5, L}}, 0, RAFT_EFORMAT},
    {"duplicate id, in a joint configuration", 1, 1, 0, 0, NO_N, 3, {{5, V | O}, {6, V}, {5, O}}, 0, RAFT_EFORMAT},
    {"flags 0", 1, 0, 0, 0, NO_N, 2, {{1, V}, {2, 0}}, 0, RAFT_EFORMAT},
    {"flags 5 (voter and learner)", 1, 0, 0, 0, NO_N, 2, {{1, V}, {2, V | L}}, 0, RAFT_EFORMAT},
    {"flags 7", 1, 0, 0, 0, NO_N, 2, {{1, V}, {2, V | L | O}}, 0, RAFT_EFORMAT},
    {"flags 8", 1, 0, 0, 0, NO_N, 2, {{1, V}, {2, 8}}, 0, RAFT_EFORMAT},
    {"flags 9 (voter + bit 3)", 1, 0, 0, 0, NO_N, 1, {{1, V | 8}}, 0, RAFT_EFORMAT},
    {"flags 0x81", 1, 0, 0, 0, NO_N, 1, {{1, 0x81}}, 0, RAFT_EFORMAT},
    {"flags 0xff", 1, 0, 0, 0, NO_N, 2, {{1, V}, {2, 0xff}}, 0, RAFT_EFORMAT},
    /* The whole. */
    {"no voter: learners only", 1, 0, 0, 0, NO_N, 2, {{1, L}, {2, L}}, 0, RAFT_EFORMAT},
    {"no voter: outgoing only", 1, 0, 0, 0, NO_N, 2, {{1, O}, {2, L | O}}, 0, RAFT_EFORMAT},
    {"no voter, automatic leave", 1, 1, 0, 0, NO_N, 1, {{1, O}}, 0, RAFT_EFORMAT},
    {"automatic leave, not joint", 1, 1, 0, 0, NO_N, 2, {{1, V}, {2, L}}, 0, RAFT_EFORMAT},
};

START_TEST(test_conf_decode_table)
{
    for (size_t i = 0; i < ARRAY_LEN(CONF_CASES); i++) {
        const struct ccase *c = &CONF_CASES[i];
        uint8_t b[CO_MEMBERS + C_MEMBER * 6 + 16];
        size_t len = conf_bytes(c, b);
        struct raft_member out[8];
        size_t n = 12345;
        memset(out, 0xA5, sizeof(out));
        int rc = conf_dec_exact(b, len, out, ARRAY_LEN(out), &n);
        CHECK(rc == c->want, "%s: %s, want %s", c->name, err_name(rc),
              err_name(c->want));
        if (rc != 0) {
            continue;
        }
        CHECK(n == c->nm, "%s: %zu members, want %zu", c->name, n, c->nm);
        for (size_t k = 0; k < c->nm; k++) {
            CHECK(out[k].id == c->m[k].id && out[k].flags == c->m[k].flags,
                  "%s: member %zu is %llu/%u", c->name, k,
                  (unsigned long long)out[k].id, out[k].flags);
        }
        /* Exactly enough room, and too little: ENOBUFS with the count,
         * nothing written. */
        n = 0;
        CHECK(conf_dec_exact(b, len, out, c->nm, &n) == 0 && n == c->nm,
              "%s: cap %zu", c->name, c->nm);
        struct raft_member few[8];
        memset(few, 0x5a, sizeof(few));
        n = 0;
        rc = conf_dec_exact(b, len, few, c->nm - 1, &n);
        CHECK(rc == RAFT_ENOBUFS && n == c->nm, "%s: cap %zu: %s, n %zu",
              c->name, c->nm - 1, err_name(rc), n);
        for (size_t k = 0; k < sizeof(few); k++) {
            CHECK(((const uint8_t *)few)[k] == 0x5a, "%s: ENOBUFS wrote byte %zu",
                  c->name, k);
        }
        n = 0;
        rc = raft_conf_decode(b, len, NULL, 0, &n);
        CHECK(rc == RAFT_ENOBUFS && n == c->nm, "%s: NULL, 0: %s, n %zu",
              c->name, err_name(rc), n);
    }
}
END_TEST

/* Every proper prefix of a valid configuration is refused. */
START_TEST(test_conf_decode_prefixes)
{
    struct raft_member out[4];
    size_t n;
    for (size_t k = 0; k < sizeof(CONF_JOINT); k++) {
        int rc = conf_dec_exact(CONF_JOINT, k, out, 4, &n);
        CHECK(rc == RAFT_EFORMAT, "%zu of %zu bytes: %s", k, sizeof(CONF_JOINT),
              err_name(rc));
    }
    ck_assert_int_eq(conf_dec_exact(CONF_JOINT, sizeof(CONF_JOINT), out, 4, &n), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert(out[3].id == 0x0102030405060708u &&
              out[3].flags == (RAFT_MEMBER_LEARNER | RAFT_MEMBER_OUTGOING));
}
END_TEST

/* RAFT_MAX_MEMBERS members and one more; a duplicate at the far end. */
START_TEST(test_conf_decode_large)
{
    static struct raft_member out[256];
    size_t n = 0;
    ck_assert_int_eq(RAFT_MAX_MEMBERS, 255);
    ck_assert_int_eq(conf_dec_exact(CONF_BIG, MAX_CONF, out, 255, &n), 0);
    ck_assert_uint_eq(n, 255);
    ck_assert_uint_eq(out[254].id, 254 * 0x0101010101010101u + 1);
    ck_assert_int_eq(conf_dec_exact(CONF_BIG, MAX_CONF, out, 254, &n),
                     RAFT_ENOBUFS);
    ck_assert_uint_eq(n, 255);

    uint8_t *b = xmalloc(MAX_CONF + C_MEMBER);
    memcpy(b, CONF_BIG, MAX_CONF);
    wle(b + MAX_CONF, 8, 0xfeedu);
    b[MAX_CONF + 8] = RAFT_MEMBER_VOTER;
    wle(b + CO_N, 4, 256);
    ck_assert_int_eq(conf_dec_exact(b, MAX_CONF + C_MEMBER, out, 256, &n),
                     RAFT_EFORMAT);
    /* The last member repeats the first. */
    memcpy(b, CONF_BIG, MAX_CONF);
    wle(b + CO_MEMBERS + C_MEMBER * 254, 8, 1);
    ck_assert_int_eq(conf_dec_exact(b, MAX_CONF, out, 255, &n), RAFT_EFORMAT);
    /* The only voter is the last member. */
    memcpy(b, CONF_BIG, MAX_CONF);
    for (unsigned i = 0; i < 254; i++) {
        b[CO_MEMBERS + C_MEMBER * i + 8] = RAFT_MEMBER_LEARNER;
    }
    ck_assert_int_eq(conf_dec_exact(b, MAX_CONF, out, 255, &n), 0);
    b[CO_MEMBERS + C_MEMBER * 254 + 8] = RAFT_MEMBER_LEARNER;
    ck_assert_int_eq(conf_dec_exact(b, MAX_CONF, out, 255, &n), RAFT_EFORMAT);
    xfree(b);
}
END_TEST

START_TEST(test_conf_decode_einval)
{
    struct raft_member out[4];
    size_t n = 7;
    ck_assert_int_eq(raft_conf_decode(NULL, sizeof(CONF3), out, 4, &n), RAFT_EINVAL);
    ck_assert_int_eq(raft_conf_decode(NULL, 0, out, 4, &n), RAFT_EINVAL);
    ck_assert_int_eq(raft_conf_decode(CONF3, sizeof(CONF3), out, 4, NULL),
                     RAFT_EINVAL);
    ck_assert_int_eq(raft_conf_decode(CONF3, sizeof(CONF3), NULL, 1, &n),
                     RAFT_EINVAL);
    ck_assert_uint_eq(n, 7);
    /* The arguments are checked before the bytes, the bytes before the
     * room. */
    static const uint8_t bad_version[] = {2, 0, 0, 0, 1, 0, 0, 0, LE64(1u), 1};
    ck_assert_int_eq(raft_conf_decode(bad_version, sizeof(bad_version), NULL, 1, &n),
                     RAFT_EINVAL);
    ck_assert_int_eq(raft_conf_decode(bad_version, sizeof(bad_version), NULL, 0, &n),
                     RAFT_EFORMAT);
    ck_assert_int_eq(raft_conf_decode(CONF3, sizeof(CONF3) - 1, NULL, 0, &n),
                     RAFT_EFORMAT);
    /* NULL out with cap 0 asks for the count. */
    ck_assert_int_eq(raft_conf_decode(CONF3, sizeof(CONF3), NULL, 0, &n),
                     RAFT_ENOBUFS);
    ck_assert_uint_eq(n, 3);
}
END_TEST

#undef V
#undef O
#undef L

/* ======================================================================
 * Integration: a three-node cluster whose every message goes through
 * encode, peek_len and decode.
 * ====================================================================== */

#define WQ_CAP 256
#define WSNAP_MAX 256

/* A node's host snapshot (what raft_compact or an installation left) and
 * the one it is receiving. */
struct wire_snap {
    raft_index index;
    raft_term term;
    uint8_t data[WSNAP_MAX];
    size_t len;
    uint8_t rx[WSNAP_MAX];
    size_t rx_len;
    unsigned rx_confs; /* chunks of the stream that came with a configuration */
    struct raft_member conf[4]; /* the installed snapshot's configuration */
    size_t conf_n;
    unsigned installs;
    bool keep;
};

struct wire_q {
    uint8_t *frame[WQ_CAP];
    size_t len[WQ_CAP];
    size_t head, tail;
    unsigned seen[16];   /* messages per type */
    unsigned send_err;   /* encode failures or a full queue */
    raft_id down;        /* messages to this node are lost */
    raft_index applied[4];
    struct wire_snap snap[4];
    unsigned reads;       /* read callbacks with status 0 */
    raft_index read_index;
    unsigned conf_entries; /* configuration entries delivered */
    unsigned transfer_votes; /* RequestVotes with the transfer flag */
    const struct raft_wire_limits *lim; /* the decoder's (NULL: defaults) */
    const struct raft_wire_limits *probe; /* if set, every frame is also
                                             decoded with these */
    unsigned probe_elimit; /* frames the probe limits refused (ELIMIT) */
};

static int w_send(struct raft *r, void *ctx, const struct raft_msg *msg)
{
    struct wire_q *q = ctx;
    (void)r;
    size_t need = 0;
    if (msg->to == q->down) {
        return 0; /* lost on the way */
    }
    if (raft_msg_encode(msg, NULL, 0, &need) != RAFT_ENOBUFS ||
        q->tail == WQ_CAP) {
        q->send_err++;
        return -1;
    }
    uint8_t *f = track(malloc(need));
    size_t got = 0;
    if (f == NULL || raft_msg_encode(msg, f, need, &got) != 0 || got != need) {
        xfree(f);
        q->send_err++;
        return -1;
    }
    q->frame[q->tail] = f;
    q->len[q->tail] = got;
    q->tail++;
    return 0;
}

static int w_persist_state(struct raft *r, void *ctx, raft_term t, raft_id v)
{
    (void)r, (void)ctx, (void)t, (void)v;
    return 0;
}

static int w_persist_entries(struct raft *r, void *ctx, raft_index first,
                             const struct raft_entry *e, size_t n)
{
    (void)r, (void)ctx, (void)first, (void)e, (void)n;
    return 0;
}

static void w_read(struct raft *r, void *ctx, void *req, raft_index index,
                   int status)
{
    struct wire_q *q = ctx;
    (void)r;
    CHECK(req == q && status == 0, "read settled with %s", err_name(status));
    q->reads++;
    q->read_index = index;
}

static int w_apply(struct raft *r, void *ctx, raft_index index,
                   const struct raft_entry *e)
{
    struct wire_q *q = ctx;
    (void)e;
    struct raft_status st;
    raft_status(r, &st);
    if (st.id < 4) {
        q->applied[st.id] = index;
    }
    return 0;
}

/* Deliver every queued frame as a stream transport would: peek the length
 * from the first 4 bytes, decode, step, then scribble over and free the
 * frame (raft_step must have copied what it keeps). */
static void w_deliver_all(struct wire_q *q)
{
    unsigned rounds = 0;
    while (q->head < q->tail) {
        CHECK(++rounds < WQ_CAP, "message storm");
        uint8_t *f = q->frame[q->head];
        size_t flen = q->len[q->head];
        q->frame[q->head] = NULL;
        q->head++;

        size_t mlen = 0;
        int rc = raft_msg_peek_len(f, RAFT_WIRE_PREFIX, &mlen);
        CHECK(rc == 0 && mlen == flen, "peek_len: %s, %zu of %zu",
              err_name(rc), mlen, flen);
        struct raft_msg m;
        struct raft_entry ents[64];
        if (q->probe != NULL) {
            rc = raft_msg_decode(f, mlen, q->probe, &m, ents, ARRAY_LEN(ents));
            CHECK(rc == 0 || rc == RAFT_ELIMIT, "probe: %s", err_name(rc));
            q->probe_elimit += rc == RAFT_ELIMIT;
        }
        rc = raft_msg_decode(f, mlen, q->lim, &m, ents, ARRAY_LEN(ents));
        CHECK(rc == 0, "decoding a frame the library sent: %s", err_name(rc));
        CHECK(m.to >= 1 && m.to <= 3, "message to %llu",
              (unsigned long long)m.to);
        CHECK(m.type >= 1 && (size_t)m.type < ARRAY_LEN(q->seen),
              "message type %d", m.type);
        q->seen[m.type]++;
        q->transfer_votes += m.type == RAFT_MSG_VOTE && m.u.vote.transfer;
        for (size_t i = 0; m.type == RAFT_MSG_APPEND && i < m.u.append.n_entries; i++) {
            const struct raft_entry *e = &m.u.append.entries[i];
            size_t n;
            if (e->type == RAFT_ENTRY_CONFIG) {
                rc = raft_conf_decode(e->buf, e->len, NULL, 0, &n);
                CHECK(rc == RAFT_ENOBUFS, "configuration entry: %s", err_name(rc));
                q->conf_entries++;
            }
        }
        rc = raft_step(wnode[m.to], &m);
        CHECK(rc == 0, "raft_step(type %d, %llu -> %llu) = %s", m.type,
              (unsigned long long)m.from, (unsigned long long)m.to,
              err_name(rc));
        memset(f, 0xee, flen);
        xfree(f);
    }
    q->head = q->tail = 0;
}

/* Create nodes 1..n of a 3-voter cluster on q's wire with callbacks cbs:
 * proto's limits, election 10 and heartbeat 1 ticks, seed seed0 + id. */
static void w_start(struct wire_q *q, const struct raft_callbacks *cbs,
                    struct raft_config proto, raft_id n, uint64_t seed0)
{
    const raft_id voters[] = {1, 2, 3};
    for (raft_id id = 1; id <= n; id++) {
        struct raft_config cfg = proto;
        cfg.id = id;
        cfg.election_ticks = 10;
        cfg.heartbeat_ticks = 1;
        cfg.seed = seed0 + id;
        ck_assert_int_eq(raft_create(&cfg, cbs, q, &wnode[id]), 0);
        ck_assert_int_eq(raft_bootstrap(wnode[id], voters, 3), 0);
    }
}

/* The callbacks of the wire tests that need no read callback. */
static const struct raft_callbacks w_cbs = {.send = w_send,
                                            .persist_state = w_persist_state,
                                            .persist_entries = w_persist_entries,
                                            .apply = w_apply};

/* Tick node 1 until it leads, delivering everything over the wire. */
static void w_elect_1(struct wire_q *q)
{
    unsigned ticks = 0;
    while (raft_role(wnode[1]) != RAFT_LEADER) {
        ck_assert_uint_lt(ticks++, 100);
        ck_assert_int_eq(raft_tick(wnode[1]), 0);
        w_deliver_all(q);
    }
}

START_TEST(test_decoded_messages_drive_a_cluster)
{
    static struct wire_q q;
    memset(&q, 0, sizeof(q));
    const struct raft_callbacks cbs = {.send = w_send,
                                       .persist_state = w_persist_state,
                                       .persist_entries = w_persist_entries,
                                       .apply = w_apply,
                                       .read = w_read};
    w_start(&q, &cbs, (struct raft_config){0}, 3, 100);

    /* Node 1 campaigns (a pre-vote, then the vote: PreVote is on by
     * default); the votes travel as bytes. */
    unsigned ticks = 0;
    while (raft_role(wnode[1]) != RAFT_PRECANDIDATE) {
        ck_assert_uint_lt(ticks++, 100);
        ck_assert_int_eq(raft_tick(wnode[1]), 0);
    }
    ck_assert_uint_eq(q.tail, 2);
    w_deliver_all(&q);
    ck_assert_int_eq(raft_role(wnode[1]), RAFT_LEADER);
    ck_assert_uint_eq(raft_leader(wnode[2]), 1);
    ck_assert_uint_eq(raft_leader(wnode[3]), 1);

    /* A command, replicated and committed over the wire. */
    static const char cmd[] = "set x = 42";
    raft_index idx = 0;
    ck_assert_int_eq(raft_propose(wnode[1], cmd, sizeof(cmd), &idx), 0);
    w_deliver_all(&q);
    ck_assert_int_eq(raft_tick(wnode[1]), 0); /* heartbeat carries commit */
    w_deliver_all(&q);

    raft_term term = raft_current_term(wnode[1]);
    for (raft_id id = 1; id <= 3; id++) {
        struct raft_entry e;
        ck_assert_int_eq(raft_entry_at(wnode[id], idx, &e), 0);
        ck_assert_uint_eq(e.term, term);
        ck_assert_int_eq(e.type, RAFT_ENTRY_COMMAND);
        ck_assert_uint_eq(e.len, sizeof(cmd));
        ck_assert_mem_eq(e.buf, cmd, sizeof(cmd));
        struct raft_status st;
        raft_status(wnode[id], &st);
        ck_assert_uint_eq(st.commit, idx);
        ck_assert_uint_eq(q.applied[id], idx);
    }
    ck_assert_uint_eq(q.send_err, 0);
    /* A linearizable read on a follower: it asks the leader, which
     * confirms its leadership with a heartbeat round; all over the wire. */
    ck_assert_int_eq(raft_read_index(wnode[2], &q), 0);
    w_deliver_all(&q);
    ck_assert_uint_eq(q.reads, 1);
    ck_assert_uint_eq(q.read_index, idx);

    ck_assert_uint_gt(q.seen[RAFT_MSG_PREVOTE], 0);
    ck_assert_uint_gt(q.seen[RAFT_MSG_PREVOTE_RESP], 0);
    ck_assert_uint_gt(q.seen[RAFT_MSG_VOTE], 0);
    ck_assert_uint_gt(q.seen[RAFT_MSG_VOTE_RESP], 0);
    ck_assert_uint_gt(q.seen[RAFT_MSG_APPEND], 0);
    ck_assert_uint_gt(q.seen[RAFT_MSG_APPEND_RESP], 0);
    ck_assert_uint_gt(q.seen[RAFT_MSG_READ], 0);
    ck_assert_uint_gt(q.seen[RAFT_MSG_READ_RESP], 0);
    ck_assert_uint_gt(q.seen[RAFT_MSG_HEARTBEAT], 0);
    ck_assert_uint_gt(q.seen[RAFT_MSG_HEARTBEAT_RESP], 0);
}
END_TEST

static struct wire_snap *w_snap(struct raft *r, struct wire_q *q)
{
    struct raft_status st;
    raft_status(r, &st);
    CHECK(st.id >= 1 && st.id <= 3, "node %llu", (unsigned long long)st.id);
    return &q->snap[st.id];
}

static int w_snapshot_read(struct raft *r, void *ctx, raft_index index,
                           uint64_t offset, size_t max, const void **data,
                           size_t *len, bool *last)
{
    struct wire_snap *sn = w_snap(r, ctx);
    if (index != sn->index || offset > sn->len) {
        return -1;
    }
    size_t n = sn->len - (size_t)offset;
    *len = n < max ? n : max;
    *data = sn->data + offset;
    *last = offset + *len == sn->len;
    return 0;
}

static int w_snapshot_write(struct raft *r, void *ctx,
                            const struct raft_snapshot_meta *meta,
                            uint64_t offset, const void *data, size_t len)
{
    struct wire_snap *sn = w_snap(r, ctx);
    CHECK(meta->conf == NULL ? meta->conf_len == 0 : meta->conf_len > 0,
          "chunk at %llu: configuration %p of %zu bytes",
          (unsigned long long)offset, meta->conf, meta->conf_len);
    if (offset == 0) {
        sn->rx_len = 0;
        sn->rx_confs = 0;
    }
    sn->rx_confs += meta->conf != NULL;
    CHECK(offset == sn->rx_len && len <= WSNAP_MAX - sn->rx_len,
          "chunk at %llu (+%zu) after %zu bytes", (unsigned long long)offset,
          len, sn->rx_len);
    if (len > 0) {
        memcpy(sn->rx + sn->rx_len, data, len);
    }
    sn->rx_len += len;
    return 0;
}

static int w_snapshot_install(struct raft *r, void *ctx,
                              const struct raft_snapshot_meta *meta, bool keep)
{
    struct wire_snap *sn = w_snap(r, ctx);
    /* The last chunk, and only it, brought the configuration. */
    CHECK(sn->rx_confs == 1 && meta->conf != NULL,
          "install after %u chunks with a configuration", sn->rx_confs);
    int rc = raft_conf_decode(meta->conf, meta->conf_len, sn->conf,
                              ARRAY_LEN(sn->conf), &sn->conf_n);
    CHECK(rc == 0, "installed configuration: %s", err_name(rc));
    sn->index = meta->index;
    sn->term = meta->term;
    memcpy(sn->data, sn->rx, sn->rx_len);
    sn->len = sn->rx_len;
    sn->installs++;
    sn->keep = keep;
    return 0;
}

/* A follower that missed what the leader compacted catches up from the
 * leader's snapshot, streamed in chunks that travel as bytes. */
START_TEST(test_decoded_snapshot_catches_up_a_follower)
{
    static struct wire_q q;
    memset(&q, 0, sizeof(q));
    const struct raft_callbacks cbs = {
        .send = w_send,
        .persist_state = w_persist_state,
        .persist_entries = w_persist_entries,
        .apply = w_apply,
        .snapshot_read = w_snapshot_read,
        .snapshot_write = w_snapshot_write,
        .snapshot_install = w_snapshot_install};
    /* 16-byte chunks, one trailing entry kept after compaction. */
    w_start(&q, &cbs,
            (struct raft_config){.max_msg_bytes = 16, .snapshot_trailing = 1},
            3, 200);

    /* Node 3 is cut off while node 1 is elected and commits 6 commands. */
    q.down = 3;
    w_elect_1(&q);
    raft_index idx = 0;
    for (unsigned i = 0; i < 6; i++) {
        char cmd[8] = "cmd ";
        cmd[4] = (char)('0' + i);
        ck_assert_int_eq(raft_propose(wnode[1], cmd, 5, &idx), 0);
        w_deliver_all(&q);
    }
    ck_assert_int_eq(raft_tick(wnode[1]), 0);
    w_deliver_all(&q);
    ck_assert_uint_eq(q.applied[1], idx);
    ck_assert_uint_eq(q.applied[3], 0);

    /* Node 1's host snapshots its state machine (100 bytes: 7 chunks) at
     * the applied index; the log keeps one entry behind it. */
    struct wire_snap *s1 = &q.snap[1];
    s1->index = idx;
    s1->len = 100;
    for (size_t i = 0; i < s1->len; i++) {
        s1->data[i] = (uint8_t)(i * 13 + 5);
    }
    ck_assert_int_eq(raft_compact(wnode[1], idx), 0);
    struct raft_status st;
    raft_status(wnode[1], &st);
    ck_assert_uint_eq(st.snapshot_index, idx);
    ck_assert_uint_eq(st.first_index, idx);
    struct raft_entry e;
    ck_assert_int_eq(raft_entry_at(wnode[1], idx - 1, &e), RAFT_ECOMPACTED);

    /* Node 3 comes back: heartbeats, its rejection, then the snapshot. */
    q.down = 0;
    for (unsigned t = 0; t < 5 && q.snap[3].installs == 0; t++) {
        ck_assert_int_eq(raft_tick(wnode[1]), 0);
        w_deliver_all(&q);
    }
    ck_assert_uint_eq(q.send_err, 0);
    ck_assert_uint_eq(q.snap[3].installs, 1);
    ck_assert(!q.snap[3].keep);
    ck_assert_uint_eq(q.snap[3].index, idx);
    ck_assert_uint_eq(q.snap[3].term, raft_current_term(wnode[1]));
    ck_assert_uint_eq(q.snap[3].len, s1->len);
    ck_assert_mem_eq(q.snap[3].data, s1->data, s1->len);
    ck_assert_uint_ge(q.seen[RAFT_MSG_SNAPSHOT], 7);
    ck_assert_uint_gt(q.seen[RAFT_MSG_SNAPSHOT_RESP], 0);
    raft_status(wnode[3], &st);
    ck_assert_uint_eq(st.snapshot_index, idx);
    ck_assert_uint_ge(st.commit, idx);
    ck_assert_uint_eq(st.applied, idx);
    /* The configuration came with the last chunk: the bootstrap voters. */
    ck_assert_uint_eq(q.snap[3].conf_n, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(q.snap[3].conf[i].id, i + 1);
        ck_assert_uint_eq(q.snap[3].conf[i].flags, RAFT_MEMBER_VOTER);
    }

    /* And it follows on from the snapshot with ordinary entries. */
    raft_index next = 0;
    ck_assert_int_eq(raft_propose(wnode[1], "after", 5, &next), 0);
    w_deliver_all(&q);
    ck_assert_int_eq(raft_tick(wnode[1]), 0);
    w_deliver_all(&q);
    ck_assert_uint_eq(next, idx + 1);
    ck_assert_uint_eq(q.applied[3], next);
    ck_assert_int_eq(raft_entry_at(wnode[3], next, &e), 0);
    ck_assert_uint_eq(e.len, 5);
    ck_assert_mem_eq(e.buf, "after", 5);
}
END_TEST

/* The configuration in force on node r, as id -> flags for ids 1-3 (0:
 * not a member), and whether it is joint. */
static void w_conf(struct raft *r, unsigned flags[4], bool *joint)
{
    struct raft_member mem[8];
    size_t n = 0;
    struct raft_status st;
    ck_assert_int_eq(raft_conf(r, mem, ARRAY_LEN(mem), &n), 0);
    memset(flags, 0, 4 * sizeof(*flags));
    for (size_t i = 0; i < n; i++) {
        CHECK(mem[i].id >= 1 && mem[i].id <= 3, "member %llu",
              (unsigned long long)mem[i].id);
        flags[mem[i].id] = mem[i].flags;
    }
    raft_status(r, &st);
    *joint = st.joint;
}

/* A membership change whose entries travel as bytes: voter 3 becomes a
 * learner through a joint configuration the leader leaves on its own;
 * then the leader hands over to voter 2. */
START_TEST(test_decoded_membership_change)
{
    static struct wire_q q;
    memset(&q, 0, sizeof(q));
    w_start(&q, &w_cbs, (struct raft_config){0}, 3, 300);
    w_elect_1(&q);
    ck_assert_int_eq(raft_tick(wnode[1]), 0); /* commit the first entry */
    w_deliver_all(&q);
    /* The first leader's first entry: the bootstrap configuration. */
    ck_assert_uint_ge(q.conf_entries, 2);

    const struct raft_change demote = {.type = RAFT_CHANGE_ADD_LEARNER, .id = 3};
    raft_index idx = 0;
    ck_assert_int_eq(raft_propose_change(wnode[1], &demote, 1,
                                         RAFT_JOINT_IMPLICIT, &idx),
                     0);
    unsigned flags[4];
    bool joint;
    w_conf(wnode[1], flags, &joint);
    ck_assert(joint);
    ck_assert_uint_eq(flags[3], RAFT_MEMBER_LEARNER | RAFT_MEMBER_OUTGOING);
    for (unsigned t = 0; t < 10; t++) {
        w_deliver_all(&q);
        ck_assert_int_eq(raft_tick(wnode[1]), 0);
    }
    w_deliver_all(&q);
    ck_assert_uint_eq(q.send_err, 0);
    for (raft_id id = 1; id <= 3; id++) {
        w_conf(wnode[id], flags, &joint);
        CHECK(!joint && flags[1] == RAFT_MEMBER_VOTER &&
                  flags[2] == RAFT_MEMBER_VOTER && flags[3] == RAFT_MEMBER_LEARNER,
              "node %llu: joint %d, flags %u %u %u", (unsigned long long)id,
              joint, flags[1], flags[2], flags[3]);
        struct raft_status st;
        raft_status(wnode[id], &st);
        CHECK(st.commit >= idx + 1 && st.conf_index == idx + 1,
              "node %llu: commit %llu, configuration from %llu (joint at %llu)",
              (unsigned long long)id, (unsigned long long)st.commit,
              (unsigned long long)st.conf_index, (unsigned long long)idx);
    }
    /* Bootstrap (to each follower), joint and leave entries. */
    ck_assert_uint_ge(q.conf_entries, 6);

    /* Leadership goes to voter 2: a TimeoutNow, then a campaign whose
     * requests carry the transfer flag, all over the wire. */
    unsigned tn = q.seen[RAFT_MSG_TIMEOUT_NOW];
    raft_term term = raft_current_term(wnode[1]);
    ck_assert_int_eq(raft_transfer_leadership(wnode[1], 2), 0);
    for (unsigned t = 0; t < 5 && raft_role(wnode[2]) != RAFT_LEADER; t++) {
        w_deliver_all(&q);
        ck_assert_int_eq(raft_tick(wnode[1]), 0);
    }
    w_deliver_all(&q);
    ck_assert_int_eq(raft_role(wnode[2]), RAFT_LEADER);
    ck_assert_uint_eq(raft_current_term(wnode[2]), term + 1);
    ck_assert_uint_eq(raft_leader(wnode[1]), 2);
    ck_assert_uint_eq(q.seen[RAFT_MSG_TIMEOUT_NOW], tn + 1);
    ck_assert_uint_gt(q.transfer_votes, 0);
    ck_assert_uint_eq(q.send_err, 0);
}
END_TEST

/* Values the decoder takes and raft_step() refuses, as the last table of
 * docs/wire-format.md says: decoding checks the encoding only. */
START_TEST(test_decoded_but_refused_by_step)
{
    static struct wire_q q;
    memset(&q, 0, sizeof(q));
    w_start(&q, &w_cbs, (struct raft_config){0}, 2, 700);
    const struct {
        const char *name;
        struct raft_msg m;
    } cases[] = {
        {"heartbeat round 0", {.type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2,
                               .term = 1}},
        {"read id 0", {.type = RAFT_MSG_READ, .from = 2, .to = 1, .term = 1}},
        {"read answer id 0", {.type = RAFT_MSG_READ_RESP, .from = 1, .to = 2,
                              .term = 1, .u.read = {.ok = true, .index = 1}}},
        {"read answer ok with index 0",
         {.type = RAFT_MSG_READ_RESP, .from = 1, .to = 2, .term = 1,
          .u.read = {.id = 1, .ok = true}}},
        {"read refusal with an index",
         {.type = RAFT_MSG_READ_RESP, .from = 1, .to = 2, .term = 1,
          .u.read = {.id = 1, .index = 1}}},
        {"snapshot reply for index 0",
         {.type = RAFT_MSG_SNAPSHOT_RESP, .from = 2, .to = 1, .term = 1}},
        {"last chunk without configuration",
         {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 1,
          .u.snapshot = {.index = 1, .index_term = 1, .last = true}}},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t len = 0;
        uint8_t *buf = enc_alloc(&cases[i].m, &len);
        struct raft_msg d;
        int rc = raft_msg_decode(buf, len, NULL, &d, NULL, 0);
        CHECK(rc == 0, "%s: decode = %s", cases[i].name, err_name(rc));
        rc = raft_step(wnode[d.to], &d);
        CHECK(rc == RAFT_EBADMSG, "%s: raft_step = %s", cases[i].name,
              err_name(rc));
        xfree(buf);
    }
}
END_TEST

/* Decoder limits above the node's safety caps: the decoder takes a
 * message of RAFT_MAX_ACCEPT_ENTRIES + 1 entries, and raft_step() refuses
 * it with RAFT_ETOOBIG (raft.h, struct raft_wire_limits). */
START_TEST(test_decoded_above_accept_caps)
{
    static struct wire_q q;
    memset(&q, 0, sizeof(q));
    w_start(&q, &w_cbs, (struct raft_config){0}, 2, 750);
    const size_t n = (size_t)RAFT_MAX_ACCEPT_ENTRIES + 1;
    struct raft_entry *ents = xmalloc(n * sizeof(*ents));
    memset(ents, 0, n * sizeof(*ents));
    for (size_t i = 0; i < n; i++) {
        ents[i].term = 1;
        ents[i].type = RAFT_ENTRY_NOOP;
    }
    const struct raft_msg m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1,
        .u.append = {.entries = ents, .n_entries = n}};
    size_t len = 0;
    uint8_t *buf = enc_alloc(&m, &len);
    const struct raft_wire_limits above = {.max_entries = UINT32_MAX,
                                           .max_entry_bytes = UINT32_MAX,
                                           .max_msg_bytes = UINT32_MAX};
    struct raft_msg d;
    memset(ents, 0, n * sizeof(*ents));
    ck_assert_int_eq(raft_msg_decode(buf, len, &above, &d, ents, n), 0);
    ck_assert_uint_eq(d.u.append.n_entries, n);
    struct raft_status before, after;
    raft_status(wnode[2], &before);
    ck_assert_int_eq(raft_step(wnode[2], &d), RAFT_ETOOBIG);
    raft_status(wnode[2], &after);
    ck_assert_uint_eq(after.last_index, before.last_index);
    ck_assert_uint_eq(after.term, before.term);
    xfree(buf);
    xfree(ents);
}
END_TEST

/* Decoder limits set as raft.h advises for the senders' limits (struct
 * raft_wire_limits) take every message the senders send. The advice used
 * to be max_entry_bytes >= the senders' max_msg_bytes, but a leader sends
 * a configuration entry alone whatever its size: here the bootstrap
 * configuration (35 bytes) and the joint ones, above max_msg_bytes 16,
 * which a decoder set that way refuses with RAFT_ELIMIT (the probe). */
START_TEST(test_decoded_with_advised_limits)
{
    static struct wire_q q;
    memset(&q, 0, sizeof(q));
    enum { SEND_ENTRIES = 4, SEND_BYTES = 16 };
    const struct raft_wire_limits advised = {
        .max_entries = SEND_ENTRIES,
        .max_entry_bytes = MAX_CONF, /* the larger of it and SEND_BYTES */
        .max_msg_bytes = LEN_APPEND + LEN_ENTRY * SEND_ENTRIES + SEND_BYTES + MAX_CONF};
    const struct raft_wire_limits old_advice = {.max_entries = SEND_ENTRIES,
                                                .max_entry_bytes = SEND_BYTES};
    q.lim = &advised;
    q.probe = &old_advice;
    w_start(&q, &w_cbs,
            (struct raft_config){.max_msg_entries = SEND_ENTRIES,
                                 .max_msg_bytes = SEND_BYTES},
            3, 500);
    w_elect_1(&q);
    static const char cmd[SEND_BYTES] = "sixteen bytes..";
    for (unsigned i = 0; i < 6; i++) {
        ck_assert_int_eq(raft_propose(wnode[1], cmd, sizeof(cmd), NULL), 0);
    }
    w_deliver_all(&q);
    const struct raft_change demote = {.type = RAFT_CHANGE_ADD_LEARNER, .id = 3};
    raft_index idx = 0;
    ck_assert_int_eq(raft_propose_change(wnode[1], &demote, 1,
                                         RAFT_JOINT_IMPLICIT, &idx),
                     0);
    for (unsigned t = 0; t < 10; t++) {
        w_deliver_all(&q);
        ck_assert_int_eq(raft_tick(wnode[1]), 0);
    }
    w_deliver_all(&q);
    ck_assert_uint_eq(q.send_err, 0);
    ck_assert_uint_ge(q.conf_entries, 6);
    ck_assert_uint_gt(q.probe_elimit, 0);
    for (raft_id id = 1; id <= 3; id++) {
        struct raft_status st;
        raft_status(wnode[id], &st);
        CHECK(!st.joint && st.conf_index == idx + 1 && st.commit >= idx + 1,
              "node %llu: joint %d, configuration from %llu, commit %llu",
              (unsigned long long)id, st.joint,
              (unsigned long long)st.conf_index, (unsigned long long)st.commit);
    }
}
END_TEST

Suite *raft_codec_suite(void)
{
    Suite *s = suite_create("codec");

    TCase *tc = tcase_create("encode");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_roundtrip_every_type);
    tcase_add_test(tc, test_roundtrip_flag_bit);
    tcase_add_test(tc, test_any_alignment);
    tcase_add_test(tc, test_roundtrip_at_default_limits);
    tcase_add_test(tc, test_roundtrip_at_custom_limits);
    tcase_add_test(tc, test_roundtrip_snapshot_limits);
    tcase_add_test(tc, test_golden_append);
    tcase_add_test(tc, test_golden_vote_resp);
    tcase_add_test(tc, test_golden_vote_and_append_resp);
    tcase_add_test(tc, test_golden_snapshot);
    tcase_add_test(tc, test_golden_snapshot_resp);
    tcase_add_test(tc, test_golden_snapshot_conf);
    tcase_add_test(tc, test_golden_config_entry);
    tcase_add_test(tc, test_golden_timeout_now_and_transfer_vote);
    tcase_add_test(tc, test_encode_too_small_writes_nothing);
    tcase_add_test(tc, test_encode_einval);
    tcase_add_test(tc, test_peek_len);
    tcase_set_timeout(tc, 120); /* 64 MiB messages under valgrind */
    suite_add_tcase(s, tc);

    tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_decode_00_bases_are_valid);
    tcase_add_test(tc, test_decode_01_short_header);
    tcase_add_test(tc, test_decode_02_version);
    tcase_add_test(tc, test_decode_03_length_below_smallest);
    tcase_add_test(tc, test_decode_04_over_message_limit);
    tcase_add_test(tc, test_decode_05_short_of_length);
    tcase_add_test(tc, test_decode_06_more_than_length);
    tcase_add_test(tc, test_decode_07_message_type);
    tcase_add_test(tc, test_codec_prevote_and_read_types);
    tcase_add_test(tc, test_read_request_carries_id_only);
    tcase_add_test(tc, test_decode_08_flags);
    tcase_add_test(tc, test_decode_09_fixed_length);
    tcase_add_test(tc, test_decode_10_append_reserved_u32);
    tcase_add_test(tc, test_decode_11_entry_count_limit);
    tcase_add_test(tc, test_decode_12_count_vs_length);
    tcase_add_test(tc, test_decode_13_entry_array_too_small);
    tcase_add_test(tc, test_decode_14_entry_header_fits);
    tcase_add_test(tc, test_decode_15_entry_type);
    tcase_add_test(tc, test_decode_16_entry_reserved);
    tcase_add_test(tc, test_decode_17_entry_len_limit);
    tcase_add_test(tc, test_decode_18_payload_past_length);
    tcase_add_test(tc, test_decode_19_bytes_after_last_entry);
    tcase_add_test(tc, test_decode_20_einval);
    tcase_add_test(tc, test_decode_21_snapshot_conf_len);
    tcase_add_test(tc, test_decode_snapshot_conf_bound);
    tcase_add_test(tc, test_decode_22_snapshot_len_limit);
    tcase_add_test(tc, test_decode_23_snapshot_data_past_length);
    tcase_add_test(tc, test_decode_24_snapshot_bytes_after_data);
    tcase_add_test(tc, test_decode_check_order);
    tcase_add_test(tc, test_every_truncation_is_eshort);
    tcase_add_test(tc, test_byte_mutations_are_canonical_or_rejected);
    tcase_add_test(tc, test_zero_copy);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("conf");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_conf_decode_table);
    tcase_add_test(tc, test_conf_decode_prefixes);
    tcase_add_test(tc, test_conf_decode_large);
    tcase_add_test(tc, test_conf_decode_einval);
    suite_add_tcase(s, tc);

    tc = tcase_create("wire_cluster");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_decoded_messages_drive_a_cluster);
    tcase_add_test(tc, test_decoded_snapshot_catches_up_a_follower);
    tcase_add_test(tc, test_decoded_membership_change);
    tcase_add_test(tc, test_decoded_with_advised_limits);
    tcase_add_test(tc, test_decoded_but_refused_by_step);
    tcase_add_test(tc, test_decoded_above_accept_caps);
    suite_add_tcase(s, tc);
    return s;
}
