/*
 * fuzz.h - helpers shared by the libFuzzer targets in fuzz/ and by the seed
 * corpus generator: a byte reader over the fuzzer input, a check macro that
 * reports and aborts, deep comparison of messages, and the op codes of
 * fuzz_node's and fuzz_storage's input formats.
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
               a->u.vote.last_term == b->u.vote.last_term &&
               a->u.vote.transfer == b->u.vote.transfer;
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
                       a->u.snapshot.len) == 0) &&
               a->u.snapshot.conf_len == b->u.snapshot.conf_len &&
               (a->u.snapshot.conf_len == 0 ||
                memcmp(a->u.snapshot.conf, b->u.snapshot.conf,
                       a->u.snapshot.conf_len) == 0);
    case RAFT_MSG_SNAPSHOT_RESP:
        return a->u.snapshot_resp.index == b->u.snapshot_resp.index &&
               a->u.snapshot_resp.offset == b->u.snapshot_resp.offset &&
               a->u.snapshot_resp.done == b->u.snapshot_resp.done;
    case RAFT_MSG_PREVOTE:
        return a->u.vote.last_index == b->u.vote.last_index &&
               a->u.vote.last_term == b->u.vote.last_term &&
               a->u.vote.transfer == b->u.vote.transfer;
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
    case RAFT_MSG_TIMEOUT_NOW:
        return true; /* no body */
    default:
        return false;
    }
}

/* ---- configurations ------------------------------------------------------
 *
 * fz_conf_ref: the configuration checks of docs/wire-format.md
 * ("Configuration"), written out independently of src/conf.c: 0 with the
 * member count in *n, or RAFT_EFORMAT. */
#define FZ_CONF_MAX (8u + 9u * 255u)

static inline bool fz_member_flags_ok(unsigned f)
{
    return f == 1 || f == 2 || f == 3 || f == 4 || f == 6;
}

static inline int fz_conf_ref(const uint8_t *b, size_t len, size_t *n)
{
    uint64_t count, i, j;
    bool voter = false, outgoing = false;
    if (len < 8 || b[0] != 1 || (b[1] & 0xfe) != 0 || b[2] != 0 || b[3] != 0) {
        return RAFT_EFORMAT;
    }
    count = fz_rd32(b + 4);
    if (count == 0 || count > 255 || (uint64_t)len != 8 + 9 * count) {
        return RAFT_EFORMAT;
    }
    for (i = 0; i < count; i++) {
        uint64_t id = fz_rd64(b + 8 + 9 * i);
        unsigned f = b[8 + 9 * i + 8];
        if (id == 0 || !fz_member_flags_ok(f)) {
            return RAFT_EFORMAT;
        }
        for (j = 0; j < i; j++) {
            if (fz_rd64(b + 8 + 9 * j) == id) {
                return RAFT_EFORMAT;
            }
        }
        voter |= (f & 1) != 0;
        outgoing |= (f & 2) != 0;
    }
    if (!voter || ((b[1] & 1) && !outgoing)) {
        return RAFT_EFORMAT;
    }
    *n = (size_t)count;
    return 0;
}

/* raft_conf_decode() on buf[0..len) (an exactly-sized copy is made, so
 * ASan sees any read past it) must agree with fz_conf_ref, fill exactly
 * the members the bytes hold, and report RAFT_ENOBUFS with the count when
 * cap is too small, writing nothing. Returns the result. */
static inline int fz_conf_check(const void *buf, size_t len, size_t cap)
{
    uint8_t *p = fz_dup(buf, len);
    struct raft_member *out = malloc((cap > 0 ? cap : 1) * sizeof(*out));
    size_t n = 12345, want_n = 0, i;
    int rc, want;
    FZ_CHECK(out != NULL, "out of memory");
    memset(out, 0x5a, (cap > 0 ? cap : 1) * sizeof(*out));
    rc = raft_conf_decode(p, len, cap > 0 ? out : NULL, cap, &n);
    want = fz_conf_ref(p, len, &want_n);
    if (want == 0 && want_n > cap) {
        want = RAFT_ENOBUFS;
    }
    FZ_CHECK(rc == want, "raft_conf_decode of %zu bytes (cap %zu) gave %d, the "
             "specification says %d", len, cap, rc, want);
    if (rc == 0 || rc == RAFT_ENOBUFS) {
        FZ_CHECK(n == want_n, "raft_conf_decode: %zu members, want %zu", n, want_n);
    }
    if (rc == 0) {
        for (i = 0; i < n; i++) {
            FZ_CHECK(out[i].id == fz_rd64(p + 8 + 9 * i) &&
                         out[i].flags == p[8 + 9 * i + 8],
                     "member %zu decoded as %llu/%u", i,
                     (unsigned long long)out[i].id, out[i].flags);
        }
    } else if (cap > 0) {
        const uint8_t *o = (const uint8_t *)out;
        for (i = 0; i < cap * sizeof(*out); i++) {
            FZ_CHECK(o[i] == 0x5a, "failed raft_conf_decode wrote byte %zu", i);
        }
    }
    free(out);
    free(p);
    return rc;
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
 * when neither existed, keep running classic Raft; bit 7 set: the node
 * joins (raft_join, or raft_restore without voters with bit 0) as node
 * 1 + the cluster size, outside the bootstrap list).
 * With bit 0 of byte 2, byte 3 is the restored log's count byte: bits 0-2
 * the number of entries (up to 7); bits 3-7 meant nothing before, and the
 * value FZ_NEAR_END (count byte 0x40-0x47, which no committed input has)
 * starts the node near the end of the index space instead: a u16 (K =
 * u16 % FZ_NEAR_END_SPAN) and a byte (the snapshot's size / 3) follow,
 * and the node is restored from a host snapshot at UINT64_MAX - 1 - K
 * (term 1, the bootstrap list as its configuration, the snapshot
 * callbacks on whatever bit 1 says) and the entries after it, at most K
 * of them (entries end at UINT64_MAX - 1). In that mode an AppendEntries
 * whose count is 7 (5 entries otherwise) is a bulk one of up to
 * FZ_BULK_MAX entries, its length chosen relative to the end of the index
 * space or to the node's last index (see fuzz_node.c, bulk_entries): a
 * wrap there needs more new entries than the distance to the end, which
 * is more than a descriptor block (512) before the last block.
 * Then a stream of operations until the input ends: one op byte
 * (op % FZ_OP_COUNT selects the operation, and bit 0 of op / FZ_OP_COUNT
 * is a variant flag) followed by its arguments. Operations are only ever
 * added at the end, so an op byte below the old count keeps its meaning
 * (the committed regression inputs were written with 13, 16 or 18
 * operations; see fuzz/README.md).
 */
#define FZ_NEAR_END 0x40u        /* count byte & 0xf8: see above */
#define FZ_NEAR_END_SPAN 2048u   /* snapshot at UINT64_MAX - 1 - (0..2047) */
#define FZ_BULK_MAX 2048u        /* entries of a bulk AppendEntries */

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
    FZ_OP_CHANGE,       /* raft_propose_change: 0-3 changes, any joint mode
                           (18-22: membership, see fuzz_node.c) */
    FZ_OP_LEAVE_JOINT,  /* raft_leave_joint */
    FZ_OP_TRANSFER,     /* raft_transfer_leadership */
    FZ_OP_STEP_XFER,    /* a structured TimeoutNow, or a RequestVote with
                           the transfer flag */
    FZ_OP_STEP_ANY,     /* a structured message of any type (1-13), from
                           any id 1-8, configurations from the input */
    FZ_OP_COUNT
};

/* ---- fuzz_storage input format --------------------------------------------
 *
 * Byte 0: bit 0 set: raw mode; bits 1-3: max_payload (FZS_MAX_PAYLOADS);
 * bits 4-5: segment_bytes (FZS_SEGMENT_BYTES). See fuzz_storage.c for the
 * rest. Structured mode: byte 1 the config and state written, byte 2 the
 * payload seed, byte 3 the number of build operations (% 17), the build
 * operations (FZS_B_*), one byte with the number of damage operations
 * (% 9), the damage operations (FZS_D_*), then the append made after the
 * second load. Raw mode: byte 1 (bit 0: a valid config, bit 1: a valid
 * state), byte 2 the seed, then up to 12 files (FZS_D_NEWFILE's
 * arguments), then the append.
 */
enum {
    FZS_B_APPEND = 0, /* 1-8 entries after the last (st_log_append or
                         st_log_write alone), or 9-1029 small ones */
    FZS_B_REWRITE,    /* the same from an index inside the log */
    FZS_B_SNAPSHOT,   /* st_snapshot_write at an index of the log, maybe
                         st_log_drop */
    FZS_B_PREPARE,    /* st_log_prepare until done */
    FZS_B_STATE,      /* st_state_write */
    FZS_B_INSTALL,    /* st_snapshot_install, keep or not */
    FZS_B_SYNC,       /* st_log_sync */
    FZS_B_COUNT
};

enum {
    FZS_D_TRUNC = 0, /* truncate a file at an offset */
    FZS_D_FLIP,      /* xor one byte */
    FZS_D_OVERWRITE, /* 1-64 bytes of input at an offset */
    FZS_D_ZERO,      /* 1-4096 zeros at an offset */
    FZS_D_DELETE,    /* unlink a file */
    FZS_D_APPEND,    /* 1-256 bytes (input or zeros) at the end */
    FZS_D_RECORD,    /* a record (valid or not) written at an offset */
    FZS_D_NEWFILE,   /* a file of kind FZS_F_* */
    FZS_D_RENAME,    /* a segment under another first index */
    FZS_D_COUNT
};

enum {
    FZS_F_SEGMENT = 0, /* log-<n> */
    FZS_F_SNAP,        /* snap-<n> */
    FZS_F_INSTALL,     /* snap-<n>.install */
    FZS_F_PREP,        /* log.prep */
    FZS_F_LEGACY,      /* log (the single-file layout) */
    FZS_F_SNAPTMP,     /* snap.tmp */
    FZS_F_RECV,        /* snap.recv-<n> */
    FZS_F_STATE,       /* state */
    FZS_F_CONFIG,      /* config */
    FZS_F_OTHERTMP,    /* state.tmp */
    FZS_F_COUNT
};

/* FZS_D_NEWFILE's content (the byte after the name's, % FZS_C_COUNT). */
enum { FZS_C_RAW = 0, FZS_C_RECORDS, FZS_C_SNAPSHOT, FZS_C_ZEROS, FZS_C_COUNT };

#define FZS_MAX_PAYLOADS {0u, 16u, 64u, 200u, 512u, 1024u, 4096u, 65536u}
#define FZS_SEGMENT_BYTES {4096u, 4096u, 6144u, 8192u}

#endif
