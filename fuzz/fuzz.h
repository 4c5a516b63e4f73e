/*
 * fuzz.h - helpers shared by the libFuzzer targets in fuzz/ and by the seed
 * corpus generator: a byte reader over the fuzzer input, a check macro that
 * reports and aborts, deep comparison of messages, and the op codes of
 * fuzz_node's input format.
 */
#ifndef RAFT_FUZZ_H
#define RAFT_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A violated property: say which, then abort so libFuzzer saves the input. */
#define FZ_CHECK(cond, ...)                                                   \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "FUZZ CHECK FAILED: %s:%d: %s: ", __FILE__,       \
                    __LINE__, #cond);                                         \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* ---- input reader: yields zeros once the input is exhausted ------------ */

struct fz {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fz_u8(struct fz *f)
{
    if (f->n == 0) {
        return 0;
    }
    f->n--;
    return *f->p++;
}

static inline uint16_t fz_u16(struct fz *f)
{
    uint16_t lo = fz_u8(f);
    return (uint16_t)(lo | (uint16_t)(fz_u8(f) << 8));
}

static inline uint32_t fz_u32(struct fz *f)
{
    uint32_t lo = fz_u16(f);
    return lo | ((uint32_t)fz_u16(f) << 16);
}

static inline uint64_t fz_u64(struct fz *f)
{
    uint64_t lo = fz_u32(f);
    return lo | ((uint64_t)fz_u32(f) << 32);
}

/* Up to `want` bytes of input (pointer into the input; *got may be less). */
static inline const uint8_t *fz_bytes(struct fz *f, size_t want, size_t *got)
{
    const uint8_t *p = f->p;
    *got = want < f->n ? want : f->n;
    f->p += *got;
    f->n -= *got;
    return p;
}

static inline uint32_t fz_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t fz_rd64(const uint8_t *p)
{
    return (uint64_t)fz_rd32(p) | ((uint64_t)fz_rd32(p + 4) << 32);
}

/* A heap copy of exactly len bytes (at least one byte is allocated so the
 * pointer is never NULL), so ASan flags any read past the end. */
static inline uint8_t *fz_dup(const void *src, size_t len)
{
    uint8_t *p = malloc(len > 0 ? len : 1);
    FZ_CHECK(p != NULL, "out of memory");
    if (len > 0) {
        memcpy(p, src, len);
    }
    return p;
}

/* ---- message comparison ------------------------------------------------ */

static inline bool fz_entry_eq(const struct raft_entry *a, const struct raft_entry *b)
{
    return a->term == b->term && a->type == b->type && a->len == b->len &&
           (a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0);
}

/* Equal as the wire format sees them: the fields of the message's type,
 * entries by value (payload bytes, not pointers). */
static inline bool fz_msg_eq(const struct raft_msg *a, const struct raft_msg *b)
{
    size_t i;
    if (a->type != b->type || a->from != b->from || a->to != b->to ||
        a->term != b->term) {
        return false;
    }
    switch (a->type) {
    case RAFT_MSG_VOTE:
        return a->u.vote.last_index == b->u.vote.last_index &&
               a->u.vote.last_term == b->u.vote.last_term;
    case RAFT_MSG_VOTE_RESP:
        return a->u.vote_resp.granted == b->u.vote_resp.granted &&
               a->u.vote_resp.last_index == b->u.vote_resp.last_index &&
               a->u.vote_resp.last_term == b->u.vote_resp.last_term;
    case RAFT_MSG_APPEND_RESP:
        return a->u.append_resp.success == b->u.append_resp.success &&
               a->u.append_resp.index == b->u.append_resp.index &&
               a->u.append_resp.hint_index == b->u.append_resp.hint_index &&
               a->u.append_resp.hint_term == b->u.append_resp.hint_term;
    case RAFT_MSG_APPEND:
        if (a->u.append.prev_index != b->u.append.prev_index ||
            a->u.append.prev_term != b->u.append.prev_term ||
            a->u.append.commit != b->u.append.commit ||
            a->u.append.n_entries != b->u.append.n_entries) {
            return false;
        }
        for (i = 0; i < a->u.append.n_entries; i++) {
            if (!fz_entry_eq(&a->u.append.entries[i], &b->u.append.entries[i])) {
                return false;
            }
        }
        return true;
    case RAFT_MSG_SNAPSHOT:
        return a->u.snapshot.index == b->u.snapshot.index &&
               a->u.snapshot.index_term == b->u.snapshot.index_term &&
               a->u.snapshot.offset == b->u.snapshot.offset &&
               a->u.snapshot.last == b->u.snapshot.last &&
               a->u.snapshot.len == b->u.snapshot.len &&
               (a->u.snapshot.len == 0 ||
                memcmp(a->u.snapshot.data, b->u.snapshot.data,
                       a->u.snapshot.len) == 0);
    case RAFT_MSG_SNAPSHOT_RESP:
        return a->u.snapshot_resp.index == b->u.snapshot_resp.index &&
               a->u.snapshot_resp.offset == b->u.snapshot_resp.offset &&
               a->u.snapshot_resp.done == b->u.snapshot_resp.done;
    case RAFT_MSG_PREVOTE:
        return a->u.vote.last_index == b->u.vote.last_index &&
               a->u.vote.last_term == b->u.vote.last_term;
    case RAFT_MSG_PREVOTE_RESP:
        return a->u.vote_resp.granted == b->u.vote_resp.granted &&
               a->u.vote_resp.last_index == b->u.vote_resp.last_index &&
               a->u.vote_resp.last_term == b->u.vote_resp.last_term;
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_HEARTBEAT_RESP:
        return a->u.heartbeat.round == b->u.heartbeat.round;
    case RAFT_MSG_READ:
        return a->u.read.id == b->u.read.id;
    case RAFT_MSG_READ_RESP:
        return a->u.read.id == b->u.read.id && a->u.read.index == b->u.read.index &&
               a->u.read.ok == b->u.read.ok;
    default:
        return false;
    }
}

/* Is rc one of the codes raft_msg_decode() documents? */
static inline bool fz_decode_rc_ok(int rc)
{
    switch (rc) {
    case 0:
    case RAFT_EINVAL:
    case RAFT_ESHORT:
    case RAFT_ETRAILING:
    case RAFT_EVERSION:
    case RAFT_ETYPE:
    case RAFT_ECOUNT:
    case RAFT_ELIMIT:
    case RAFT_ENOBUFS:
    case RAFT_EFORMAT:
        return true;
    default:
        return false;
    }
}

/* ---- fuzz_node input format ----------------------------------------------
 *
 * Setup: byte 0 picks the cluster (bit 0: 3 or 5 voters; bits 1-3: which
 * voter this node is), byte 1 the node's PRNG seed, byte 2 the start
 * (bit 0 clear: bootstrap; set: raft_restore from a log described by the
 * following bytes, see fuzz_node.c; bit 1 set: no snapshot callbacks;
 * bits 2-3: snapshot_trailing - 1; bit 4 set: PreVote on; bit 5 set:
 * CheckQuorum on, and with bit 6 also lease reads; older inputs, written
 * when neither existed, keep running classic Raft).
 * Then a stream of operations until the input ends: one op byte
 * (op % FZ_OP_COUNT selects the operation, and bit 0 of op / FZ_OP_COUNT
 * is a variant flag) followed by its arguments. Operations are only ever
 * added at the end, so an op byte below the old count keeps its meaning
 * (the committed seeds and regression inputs were written with 13 or 16).
 */
enum {
    FZ_OP_TICK = 0,     /* 1 byte: 1 + b % 4 ticks */
    FZ_OP_STEP,         /* a message built structurally from the bytes */
    FZ_OP_STEP_VOTE,    /* the same, message type forced to RequestVote */
    FZ_OP_STEP_VRESP,   /* ... RequestVote reply */
    FZ_OP_STEP_APPEND,  /* ... AppendEntries */
    FZ_OP_STEP_ARESP,   /* ... AppendEntries reply */
    FZ_OP_STEP_WIRE,    /* u16 length + that many bytes: decode, then step */
    FZ_OP_PROPOSE,      /* one command */
    FZ_OP_BATCH,        /* raft_propose_batch of 1..9 commands */
    FZ_OP_FAULT,        /* arm a failure: persist/send/apply/allocation */
    FZ_OP_RESTART,      /* destroy, check for leaks, create + restore */
    FZ_OP_ELECT,        /* tick to candidate, then grant votes from peers */
    FZ_OP_ACK,          /* leader: a success reply from a peer for its log */
    FZ_OP_STEP_SNAP,    /* a structured InstallSnapshot chunk */
    FZ_OP_STEP_SRESP,   /* ... InstallSnapshot reply */
    FZ_OP_COMPACT,      /* the host snapshots: raft_compact */
    FZ_OP_STEP_NEW,     /* a structured PreVote, heartbeat-round or read
                           message (types 7-12) */
    FZ_OP_READ,         /* raft_read_index */
    FZ_OP_COUNT
};

#endif
