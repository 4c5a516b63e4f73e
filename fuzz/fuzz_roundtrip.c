/*
 * fuzz_roundtrip.c - the wire format is canonical: bytes -> message ->
 * bytes and message -> bytes -> message are identities.
 *
 * Input: byte 0 bit 0 selects the mode.
 *   0: the rest is decoded (limits wide open, so any well-formed message
 *      decodes). If it decodes, encode must report exactly its size, refuse
 *      a buffer one byte short without writing to it, reproduce the input
 *      byte for byte, and the result must decode to an equal message.
 *   1: the rest describes a message structurally (any of the thirteen
 *      types: ids, term, body fields and flags, up to 16 entries of the
 *      three types with payloads taken from the input, or a snapshot chunk
 *      of up to 2 KiB with, on a last chunk, a configuration of up to 2303
 *      bytes; TimeoutNow with junk in the unused union; and now and then
 *      something unencodable: an unknown message or entry type, a NULL
 *      payload, chunk or configuration with a length, NULL entries, a
 *      configuration on a chunk that is not the last or longer than 2303
 *      bytes, a PreVote with the transfer flag). Unencodable messages
 *      must give RAFT_EINVAL; the others encode to the documented size,
 *      decode (default limits, entry array exactly n long) to an equal
 *      message, and re-encode to identical bytes. The limits are also
 *      probed: one entry slot fewer gives RAFT_ENOBUFS, a max_entries,
 *      max_entry_bytes (an entry's or the chunk's) or max_msg_bytes one
 *      below what the message needs gives RAFT_ELIMIT. A chunk with an
 *      arbitrary 64-bit length (with or without a configuration) is only
 *      sized (cap 0, so no byte of it is read): 64 + len + conf_len bytes
 *      up to UINT32_MAX, RAFT_EINVAL beyond.
 * Every buffer is exactly sized on the heap, so ASan catches overruns.
 */
#include "fuzz.h"

#define MAX_ENTRIES 16
#define MAX_CHUNK 2048
#define MAX_CONF FZ_CONF_MAX /* 2303 */

/* Encode, checking the size query and the one-byte-short refusal. Returns
 * the heap buffer (caller frees) and its length. */
static uint8_t *encode_checked(const struct raft_msg *m, size_t *len_out)
{
    size_t need = 0, len = 0, i;
    uint8_t *buf;
    int rc = raft_msg_encode(m, NULL, 0, &need);
    FZ_CHECK(rc == RAFT_ENOBUFS, "size query gave %d", rc);
    FZ_CHECK(need >= 48, "size query gave %zu bytes", need);
    buf = malloc(need);
    FZ_CHECK(buf != NULL, "out of memory");
    memset(buf, 0xa5, need);
    rc = raft_msg_encode(m, buf, need - 1, &len);
    FZ_CHECK(rc == RAFT_ENOBUFS && len == need, "encode into %zu bytes gave %d, "
             "len %zu", need - 1, rc, len);
    for (i = 0; i < need; i++) {
        FZ_CHECK(buf[i] == 0xa5, "failed encode wrote byte %zu", i);
    }
    rc = raft_msg_encode(m, buf, need, &len);
    FZ_CHECK(rc == 0 && len == need, "encode gave %d, len %zu, want %zu", rc,
             len, need);
    FZ_CHECK(fz_rd32(buf) == need, "length prefix %u for %zu bytes",
             (unsigned)fz_rd32(buf), need);
    *len_out = len;
    return buf;
}

static void from_bytes(const uint8_t *data, size_t size)
{
    const struct raft_wire_limits wide = {UINT32_MAX, UINT32_MAX, UINT32_MAX};
    size_t cap = size / 16 + 1;
    uint8_t *in = fz_dup(data, size);
    struct raft_entry *ents = malloc(cap * sizeof(*ents));
    struct raft_entry *ents2 = malloc(cap * sizeof(*ents2));
    struct raft_msg m, m2;
    uint8_t *out;
    size_t len;
    int rc;
    FZ_CHECK(ents != NULL && ents2 != NULL, "out of memory");
    rc = raft_msg_decode(in, size, &wide, &m, ents, cap);
    FZ_CHECK(fz_decode_rc_ok(rc), "undocumented decode result %d", rc);
    if (rc == 0) {
        out = encode_checked(&m, &len);
        FZ_CHECK(len == size && memcmp(out, in, size) == 0,
                 "re-encoding a decoded message changed its bytes (%zu -> %zu)",
                 size, len);
        rc = raft_msg_decode(out, len, &wide, &m2, ents2, cap);
        FZ_CHECK(rc == 0, "re-encoded message does not decode: %d", rc);
        FZ_CHECK(fz_msg_eq(&m, &m2), "re-decoded message differs");
        free(out);
    }
    free(ents2);
    free(ents);
    free(in);
}

/* The size docs/wire-format.md gives for a valid message. */
static size_t wire_size(const struct raft_msg *m)
{
    size_t i, n = 64;
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
        return 48;
    case RAFT_MSG_APPEND_RESP:
        return 56;
    case RAFT_MSG_SNAPSHOT:
        return 64 + m->u.snapshot.len + m->u.snapshot.conf_len;
    case RAFT_MSG_SNAPSHOT_RESP:
        return 48;
    default:
        for (i = 0; i < m->u.append.n_entries; i++) {
            n += 16 + m->u.append.entries[i].len;
        }
        return n;
    }
}

static void expect_decode(const uint8_t *buf, size_t len,
                          const struct raft_wire_limits *lim, size_t cap,
                          int want, const char *what)
{
    struct raft_entry *ents = cap > 0 ? malloc(cap * sizeof(*ents)) : NULL;
    struct raft_msg m;
    int rc = raft_msg_decode(buf, len, lim, &m, ents, cap);
    FZ_CHECK(rc == want, "%s: decode gave %d, expected %d", what, rc, want);
    free(ents);
}

/* A chunk whose length need not be backed by memory: only its size is
 * asked for (cap 0), which must not read the data or the configuration. */
static void huge_chunk(struct raft_msg *m, uint64_t len, size_t conf_len)
{
    static const uint8_t one = 1;
    size_t need = 12345;
    int rc;
#if SIZE_MAX == UINT64_MAX
    m->u.snapshot.len = (size_t)len;
#else
    m->u.snapshot.len = (size_t)(len % ((uint64_t)SIZE_MAX + 1));
#endif
    m->u.snapshot.data = &one;
    m->u.snapshot.conf_len = conf_len;
    m->u.snapshot.conf = conf_len > 0 ? &one : NULL;
    rc = raft_msg_encode(m, NULL, 0, &need);
    if ((conf_len > 0 && !m->u.snapshot.last) || conf_len > MAX_CONF) {
        FZ_CHECK(rc == RAFT_EINVAL, "chunk with a %zu-byte configuration (last "
                 "%d): size query gave %d", conf_len, m->u.snapshot.last, rc);
    } else if ((uint64_t)m->u.snapshot.len <= UINT32_MAX - 64u - conf_len) {
        FZ_CHECK(rc == RAFT_ENOBUFS && need == 64 + m->u.snapshot.len + conf_len,
                 "chunk of %zu + %zu bytes: size query gave %d, %zu",
                 m->u.snapshot.len, conf_len, rc, need);
    } else {
        FZ_CHECK(rc == RAFT_EINVAL, "chunk of %zu + %zu bytes: size query gave %d",
                 m->u.snapshot.len, conf_len, rc);
    }
}

/* A configuration for a config entry or a last chunk: mostly a valid one
 * built from the input (1-8 members, flags from the documented set), else
 * raw input bytes (the codec does not look inside). Writes to out (room
 * for MAX_CONF bytes), returns the length. */
static size_t pick_conf(struct fz *in, uint8_t *out, size_t room)
{
    uint8_t how = fz_u8(in);
    size_t n, i, got;
    if (how & 0x80) {
        const uint8_t *p;
        size_t want = (how & 0x40) ? fz_u16(in) % (room + 1) : how & 0x3f;
        p = fz_bytes(in, want, &got);
        memset(out, 0, want);
        memcpy(out, p, got);
        return want;
    }
    static const uint8_t mflags[] = {1, 4, 3, 2, 6, 1, 1, 4};
    (void)room; /* 8 + 9 * 8 bytes at most */
    n = 1 + how % 8;
    out[0] = 1;
    out[1] = (how >> 3) & 1;
    out[2] = 0;
    out[3] = 0;
    out[4] = (uint8_t)n;
    out[5] = out[6] = out[7] = 0;
    for (i = 0; i < n; i++) {
        uint8_t b = fz_u8(in);
        uint64_t id = 1 + i + (uint64_t)(b >> 3) * 8; /* distinct */
        size_t k;
        for (k = 0; k < 8; k++) {
            out[8 + 9 * i + k] = (uint8_t)(id >> (8 * k));
        }
        out[8 + 9 * i + 8] = mflags[b & 7];
    }
    return 8 + 9 * n;
}

static void structured(const uint8_t *data, size_t size)
{
    static const uint8_t zeros[MAX_CHUNK];
    static uint8_t confs[MAX_ENTRIES][MAX_CONF];
    static uint8_t conf[MAX_CONF + 1];
    struct fz in = {data, size};
    struct raft_entry ents[MAX_ENTRIES];
    struct raft_entry *dents = NULL;
    struct raft_msg m, d;
    bool valid = true;
    uint8_t t = fz_u8(&in), *buf, *buf2;
    size_t n = 0, i, len, len2, need, maxlen = 0;
    int rc;

    memset(&m, 0, sizeof(m));
    if (t < 0xf0) {
        m.type = 1 + t % RAFT_MSG_TIMEOUT_NOW;
    } else {
        /* An unknown type: 0, 14..28 or something far off. */
        m.type = t == 0xff ? (int)(int32_t)fz_u32(&in)
                           : (t & 1 ? 0 : RAFT_MSG_TIMEOUT_NOW + 1 + (t & 0xf));
        valid = m.type >= 1 && m.type <= RAFT_MSG_TIMEOUT_NOW;
    }
    m.from = fz_u64(&in);
    m.to = fz_u64(&in);
    m.term = fz_u64(&in);
    switch (m.type) {
    case RAFT_MSG_VOTE:
        m.u.vote.last_index = fz_u64(&in);
        m.u.vote.last_term = fz_u64(&in);
        m.u.vote.transfer = fz_u8(&in) & 1;
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        /* No body: whatever the union holds must not matter. */
        memset(&m.u, fz_u8(&in), sizeof(m.u));
        break;
    case RAFT_MSG_VOTE_RESP:
        m.u.vote_resp.granted = fz_u8(&in) & 1;
        m.u.vote_resp.last_index = fz_u64(&in);
        m.u.vote_resp.last_term = fz_u64(&in);
        break;
    case RAFT_MSG_APPEND_RESP:
        m.u.append_resp.success = fz_u8(&in) & 1;
        m.u.append_resp.index = fz_u64(&in);
        m.u.append_resp.hint_index = fz_u64(&in);
        m.u.append_resp.hint_term = fz_u64(&in);
        break;
    case RAFT_MSG_APPEND: {
        uint8_t nb = fz_u8(&in);
        m.u.append.prev_index = fz_u64(&in);
        m.u.append.prev_term = fz_u64(&in);
        m.u.append.commit = fz_u64(&in);
        n = nb % (MAX_ENTRIES + 1);
        for (i = 0; i < n; i++) {
            uint8_t how = fz_u8(&in);
            size_t got, want = fz_u8(&in);
            const uint8_t *p = fz_bytes(&in, want, &got);
            ents[i].term = fz_u64(&in);
            ents[i].type = how & 1 ? RAFT_ENTRY_NOOP : RAFT_ENTRY_COMMAND;
            ents[i].len = want;
            ents[i].buf = got == want ? p : zeros; /* want < sizeof zeros */
            if ((how & 0x0c) == 0x0c && how < 0xf0) {
                /* A configuration entry (want bytes of the input, or a
                 * valid configuration built from it). */
                ents[i].type = RAFT_ENTRY_CONFIG;
                if (how & 0x10) {
                    ents[i].len = pick_conf(&in, confs[i], MAX_CONF);
                    ents[i].buf = confs[i];
                    want = ents[i].len;
                }
            }
            if (want == 0 && (how & 2)) {
                ents[i].buf = NULL; /* allowed when empty */
            }
            if (how == 0xfe) {
                ents[i].type = (int)fz_u8(&in) + 4; /* unknown entry type */
                valid = false;
            } else if (how == 0xfd && want > 0) {
                ents[i].buf = NULL; /* payload missing */
                valid = false;
            }
            maxlen = want > maxlen ? want : maxlen;
        }
        m.u.append.n_entries = n;
        m.u.append.entries = n > 0 ? ents : NULL;
        if (n > 0 && nb >= 0xf0) {
            m.u.append.entries = NULL; /* entries missing */
            valid = false;
        }
        break;
    }
    case RAFT_MSG_SNAPSHOT: {
        /* how: bit 0 last; 0xfc, 0xfd a huge length (sized only, bit 0
         * of the next byte: with a configuration); 0xfe a NULL chunk with a
         * length; bit 1 with an empty chunk: NULL data; bit 2: a
         * configuration (on a chunk that is not the last: unencodable);
         * bits 3-4 with bit 2: 1 a NULL one with a length, 2 one byte too
         * long (if that passes 2303 bytes, unencodable), 3 a non-NULL one
         * with length 0. */
        uint8_t how = fz_u8(&in);
        size_t got, want;
        const uint8_t *p;
        m.u.snapshot.last = how & 1;
        m.u.snapshot.index = fz_u64(&in);
        m.u.snapshot.index_term = fz_u64(&in);
        m.u.snapshot.offset = fz_u64(&in);
        if (how == 0xfc || how == 0xfd) {
            uint64_t len = fz_u64(&in);
            uint8_t c = fz_u8(&in);
            huge_chunk(&m, len, c & 1 ? (c & 2 ? MAX_CONF + (c >> 7) : c >> 2) : 0);
            return;
        }
        want = fz_u16(&in) % MAX_CHUNK;
        p = fz_bytes(&in, want, &got);
        m.u.snapshot.len = want;
        m.u.snapshot.data = got == want ? p : zeros;
        if (want == 0 && (how & 2)) {
            m.u.snapshot.data = NULL; /* allowed when empty */
        }
        if (how == 0xfe && want > 0) {
            m.u.snapshot.data = NULL; /* chunk missing */
            valid = false;
        }
        maxlen = want;
        if ((how & 4) && how < 0xfc) {
            size_t c = pick_conf(&in, conf, MAX_CONF);
            m.u.snapshot.conf = conf;
            m.u.snapshot.conf_len = c;
            switch ((how >> 3) & 3) {
            case 1:
                m.u.snapshot.conf = NULL; /* configuration missing */
                break;
            case 2:
                conf[c] = 0; /* conf has room for it */
                m.u.snapshot.conf_len = c + 1;
                break;
            case 3:
                m.u.snapshot.conf_len = 0; /* a pointer without bytes */
                break;
            default:
                break;
            }
            if (m.u.snapshot.conf_len > 0 &&
                (!m.u.snapshot.last || m.u.snapshot.conf == NULL ||
                 m.u.snapshot.conf_len > MAX_CONF)) {
                valid = false;
            }
        }
        break;
    }
    case RAFT_MSG_SNAPSHOT_RESP:
        m.u.snapshot_resp.done = fz_u8(&in) & 1;
        m.u.snapshot_resp.index = fz_u64(&in);
        m.u.snapshot_resp.offset = fz_u64(&in);
        break;
    case RAFT_MSG_PREVOTE:
        m.u.vote.last_index = fz_u64(&in);
        m.u.vote.last_term = fz_u64(&in);
        if ((fz_u8(&in) & 0x0f) == 0x0f) {
            m.u.vote.transfer = true; /* RequestVote's flag only */
            valid = false;
        }
        break;
    case RAFT_MSG_PREVOTE_RESP:
        m.u.vote_resp.granted = fz_u8(&in) & 1;
        m.u.vote_resp.last_index = fz_u64(&in);
        m.u.vote_resp.last_term = fz_u64(&in);
        break;
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_HEARTBEAT_RESP:
        m.u.heartbeat.round = fz_u64(&in);
        break;
    case RAFT_MSG_READ:
        m.u.read.id = fz_u64(&in);
        break;
    case RAFT_MSG_READ_RESP:
        m.u.read.ok = fz_u8(&in) & 1;
        m.u.read.id = fz_u64(&in);
        m.u.read.index = fz_u64(&in);
        break;
    default:
        break;
    }

    need = 0;
    rc = raft_msg_encode(&m, NULL, 0, &need);
    if (!valid) {
        FZ_CHECK(rc == RAFT_EINVAL, "unencodable message gave %d", rc);
        return;
    }
    FZ_CHECK(rc == RAFT_ENOBUFS && need == wire_size(&m),
             "size query gave %d, %zu bytes; want %zu", rc, need, wire_size(&m));
    buf = encode_checked(&m, &len);
    FZ_CHECK(buf[4] == RAFT_WIRE_VERSION && buf[5] == m.type,
             "header version %u type %u", buf[4], buf[5]);

    if (n > 0) {
        dents = malloc(n * sizeof(*dents));
        FZ_CHECK(dents != NULL, "out of memory");
    }
    rc = raft_msg_decode(buf, len, NULL, &d, dents, n);
    FZ_CHECK(rc == 0, "encoded message does not decode: %d (%s)", rc,
             raft_strerror(rc));
    FZ_CHECK(fz_msg_eq(&m, &d), "decoded message differs from the original");
    buf2 = encode_checked(&d, &len2);
    FZ_CHECK(len2 == len && memcmp(buf, buf2, len) == 0,
             "second encoding differs from the first");
    free(buf2);

    /* The limits bind exactly where documented. */
    if (n > 0) {
        expect_decode(buf, len, NULL, n - 1, RAFT_ENOBUFS, "one slot short");
    }
    if (n >= 2) {
        struct raft_wire_limits lim = {(uint32_t)(n - 1), 0, 0};
        expect_decode(buf, len, &lim, n, RAFT_ELIMIT, "max_entries n-1");
    }
    if (maxlen >= 2) {
        struct raft_wire_limits lim = {0, (uint32_t)(maxlen - 1), 0};
        expect_decode(buf, len, &lim, n, RAFT_ELIMIT, "max_entry_bytes short");
        lim.max_entry_bytes = (uint32_t)maxlen;
        expect_decode(buf, len, &lim, n, 0, "max_entry_bytes exact");
    }
    {
        struct raft_wire_limits lim = {0, 0, (uint32_t)(len - 1)};
        expect_decode(buf, len, &lim, n, RAFT_ELIMIT, "max_msg_bytes short");
        lim.max_msg_bytes = (uint32_t)len;
        lim.max_entries = (uint32_t)n;
        expect_decode(buf, len, &lim, n, 0, "limits exact");
    }
    free(dents);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    if (data[0] & 1) {
        structured(data + 1, size - 1);
    } else {
        from_bytes(data + 1, size - 1);
    }
    return 0;
}
