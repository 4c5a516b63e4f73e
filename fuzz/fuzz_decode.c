/*
 * fuzz_decode.c - raft_msg_decode() and raft_msg_peek_len() on arbitrary
 * bytes.
 *
 * Input: byte 0 is a mode byte, then optional parameters, then the bytes to
 * decode (any of the thirteen message types):
 *   bits 0-1  limits: 0 NULL; 1 all-zero struct (defaults); 2 small limits
 *             from the next 5 bytes (max_entries u8, max_entry_bytes u16,
 *             max_msg_bytes u16, 0 = default); 3 raw u32 limits from the
 *             next 12 bytes
 *   bit 2     ents_cap from the next byte (otherwise 64)
 *   bit 3     the bytes are a configuration, not a message: the next byte
 *             is the member array's size, the rest goes to
 *             raft_conf_decode()
 * The message bytes are copied into an exactly-sized heap buffer and the
 * entry array is exactly ents_cap long, so ASan reports any read past the
 * input or write past the array.
 *
 * Checks:
 *   - the result is 0 or a documented code, and is exactly the code that
 *     ref_decode(), an independent transcription of the check table in
 *     docs/wire-format.md, gives (same order of checks);
 *   - on success every field equals the reference's, n_entries <= ents_cap,
 *     entries live in the caller's array (NULL when there are none) and
 *     payload and chunk data pointers point into the input at the
 *     documented offsets (NULL for empty payloads and chunks);
 *   - on success, the input minus its last byte gives RAFT_ESHORT and the
 *     input plus one byte gives RAFT_ETRAILING;
 *   - raft_msg_peek_len() agrees with the length prefix and with decode;
 *   - every configuration a decoded message carries (an entry of type 3,
 *     a last chunk's conf), and the raw configurations of bit 3, give
 *     raft_conf_decode() exactly the result of fz_conf_ref(), the
 *     document's configuration checks written out independently.
 */
#include "fuzz.h"

#define REF_DEFAULT_MAX_ENTRIES 64u
#define REF_DEFAULT_MAX_ENTRY_BYTES (1024u * 1024u)
#define REF_DEFAULT_MAX_MSG_BYTES (64u * 1024u * 1024u)

/* docs/wire-format.md, "Decoding rules and error codes", line by line, in
 * 64-bit arithmetic. */
static int ref_decode(const uint8_t *p, size_t len,
                      const struct raft_wire_limits *limits, size_t cap,
                      struct raft_msg *m, struct raft_entry *ents)
{
    uint64_t max_entries = REF_DEFAULT_MAX_ENTRIES;
    uint64_t max_entry_bytes = REF_DEFAULT_MAX_ENTRY_BYTES;
    uint64_t max_msg_bytes = REF_DEFAULT_MAX_MSG_BYTES;
    uint64_t length, n, o, i;
    unsigned type, flags;
    if (limits != NULL) {
        max_entries = limits->max_entries ? limits->max_entries : max_entries;
        max_entry_bytes = limits->max_entry_bytes ? limits->max_entry_bytes
                                                  : max_entry_bytes;
        max_msg_bytes = limits->max_msg_bytes ? limits->max_msg_bytes : max_msg_bytes;
    }
    if (len < 32) {
        return RAFT_ESHORT;
    }
    length = fz_rd32(p);
    if (p[4] != 1) {
        return RAFT_EVERSION;
    }
    if (length < 48) {
        return RAFT_EFORMAT;
    }
    if (length > max_msg_bytes) {
        return RAFT_ELIMIT;
    }
    if (len < length) {
        return RAFT_ESHORT;
    }
    if (len > length) {
        return RAFT_ETRAILING;
    }
    type = p[5];
    if (type < 1 || type > 13) {
        return RAFT_ETYPE;
    }
    flags = (unsigned)p[6] | ((unsigned)p[7] << 8);
    if ((flags & 0xfffcu) != 0 ||
        ((flags & 1u) && (type == 1 || type == 3 || type == 7 || type == 9 ||
                          type == 10 || type == 11 || type == 13)) ||
        ((flags & 2u) && type != 1)) {
        return RAFT_EFORMAT;
    }
    if ((type == 1 && length != 48) || (type == 2 && length != 48) ||
        (type == 4 && length != 56) || (type == 6 && length != 48) ||
        (type >= 7 && length != 48) || ((type == 3 || type == 5) && length < 64)) {
        return RAFT_EFORMAT;
    }
    if ((type == 9 || type == 10 || type == 11) && fz_rd64(p + 40) != 0) {
        return RAFT_EFORMAT;
    }
    if (type == 13 && (fz_rd64(p + 32) != 0 || fz_rd64(p + 40) != 0)) {
        return RAFT_EFORMAT;
    }
    memset(m, 0, sizeof(*m));
    m->type = (int)type;
    m->from = fz_rd64(p + 8);
    m->to = fz_rd64(p + 16);
    m->term = fz_rd64(p + 24);
    switch (type) {
    case 1:
    case 7:
        m->u.vote.last_index = fz_rd64(p + 32);
        m->u.vote.last_term = fz_rd64(p + 40);
        m->u.vote.transfer = (flags & 2u) != 0;
        return 0;
    case 13:
        return 0;
    case 9:
    case 10:
        m->u.heartbeat.round = fz_rd64(p + 32);
        return 0;
    case 11:
        m->u.read.id = fz_rd64(p + 32);
        return 0;
    case 12:
        m->u.read.ok = flags & 1u;
        m->u.read.id = fz_rd64(p + 32);
        m->u.read.index = fz_rd64(p + 40);
        return 0;
    case 2:
    case 8:
        m->u.vote_resp.granted = flags & 1u;
        m->u.vote_resp.last_index = fz_rd64(p + 32);
        m->u.vote_resp.last_term = fz_rd64(p + 40);
        return 0;
    case 4:
        m->u.append_resp.success = flags & 1u;
        m->u.append_resp.index = fz_rd64(p + 32);
        m->u.append_resp.hint_index = fz_rd64(p + 40);
        m->u.append_resp.hint_term = fz_rd64(p + 48);
        return 0;
    case 6:
        m->u.snapshot_resp.done = flags & 1u;
        m->u.snapshot_resp.index = fz_rd64(p + 32);
        m->u.snapshot_resp.offset = fz_rd64(p + 40);
        return 0;
    case 5: {
        uint64_t c = fz_rd32(p + 60);
        if (c > FZ_CONF_MAX || (c > 0 && !(flags & 1u))) {
            return RAFT_EFORMAT;
        }
        n = fz_rd32(p + 56);
        if (n > max_entry_bytes) {
            return RAFT_ELIMIT;
        }
        if (64 + n + c > length) {
            return RAFT_EFORMAT;
        }
        if (64 + n + c < length) {
            return RAFT_ETRAILING;
        }
        m->u.snapshot.last = flags & 1u;
        m->u.snapshot.index = fz_rd64(p + 32);
        m->u.snapshot.index_term = fz_rd64(p + 40);
        m->u.snapshot.offset = fz_rd64(p + 48);
        m->u.snapshot.len = (size_t)n;
        m->u.snapshot.data = n > 0 ? p + 64 : NULL;
        m->u.snapshot.conf_len = (size_t)c;
        m->u.snapshot.conf = c > 0 ? p + 64 + n : NULL;
        return 0;
    }
    default:
        break;
    }
    m->u.append.prev_index = fz_rd64(p + 32);
    m->u.append.prev_term = fz_rd64(p + 40);
    m->u.append.commit = fz_rd64(p + 48);
    if (fz_rd32(p + 60) != 0) {
        return RAFT_EFORMAT;
    }
    n = fz_rd32(p + 56);
    if (n > max_entries) {
        return RAFT_ELIMIT;
    }
    if (n * 16 > length - 64) {
        return RAFT_ECOUNT;
    }
    if (n > cap) {
        return RAFT_ENOBUFS;
    }
    o = 64;
    for (i = 0; i < n; i++) {
        uint64_t elen;
        if (o + 16 > length) {
            return RAFT_ECOUNT;
        }
        if (p[o + 12] < 1 || p[o + 12] > 3) {
            return RAFT_ETYPE;
        }
        if (p[o + 13] != 0 || p[o + 14] != 0 || p[o + 15] != 0) {
            return RAFT_EFORMAT;
        }
        elen = fz_rd32(p + o + 8);
        if (elen > max_entry_bytes) {
            return RAFT_ELIMIT;
        }
        if (o + 16 + elen > length) {
            return RAFT_EFORMAT;
        }
        ents[i].term = fz_rd64(p + o);
        ents[i].type = p[o + 12];
        ents[i].len = (size_t)elen;
        ents[i].buf = p + o + 16; /* where the payload is, even if empty */
        o += 16 + elen;
    }
    if (o != length) {
        return RAFT_ETRAILING;
    }
    m->u.append.n_entries = (size_t)n;
    m->u.append.entries = ents;
    return 0;
}

static void check_same(const struct raft_msg *got, const struct raft_msg *want,
                       const struct raft_entry *ents, size_t cap,
                       const uint8_t *buf, size_t len)
{
    size_t i;
    FZ_CHECK(fz_msg_eq(got, want), "decoded message differs from the reference");
    if (got->type == RAFT_MSG_SNAPSHOT) {
        FZ_CHECK(got->u.snapshot.data == want->u.snapshot.data,
                 "chunk data at %p, expected %p (input at %p, NULL when "
                 "empty)", got->u.snapshot.data, want->u.snapshot.data,
                 (const void *)buf);
        FZ_CHECK(got->u.snapshot.conf == want->u.snapshot.conf,
                 "chunk configuration at %p, expected %p (input at %p, NULL "
                 "when empty)", got->u.snapshot.conf, want->u.snapshot.conf,
                 (const void *)buf);
        if (got->u.snapshot.conf_len > 0) {
            fz_conf_check(got->u.snapshot.conf, got->u.snapshot.conf_len,
                          got->u.snapshot.conf_len % 256);
        }
        return;
    }
    if (got->type != RAFT_MSG_APPEND) {
        return;
    }
    FZ_CHECK(got->u.append.n_entries <= cap, "n_entries %zu > cap %zu",
             got->u.append.n_entries, cap);
    FZ_CHECK(got->u.append.n_entries == 0 ? got->u.append.entries == NULL
                                          : got->u.append.entries == ents,
             "entries not in the caller's array (or not NULL when empty)");
    for (i = 0; i < got->u.append.n_entries; i++) {
        const struct raft_entry *e = &got->u.append.entries[i];
        const struct raft_entry *w = &want->u.append.entries[i];
        if (e->len > 0) {
            FZ_CHECK(e->buf == w->buf && (const uint8_t *)e->buf + e->len <= buf + len,
                     "entry %zu payload at offset %td, expected %td", i,
                     (const uint8_t *)e->buf - buf, (const uint8_t *)w->buf - buf);
        } else {
            FZ_CHECK(e->buf == NULL, "empty payload %zu decoded to non-NULL", i);
        }
        if (e->type == RAFT_ENTRY_CONFIG && e->len > 0) {
            fz_conf_check(e->buf, e->len, (e->len + i) % 256);
        }
    }
}

static void check_peek(const uint8_t *buf, size_t len, int decode_rc)
{
    size_t msg_len = 12345;
    size_t k = len < RAFT_WIRE_PREFIX ? len : RAFT_WIRE_PREFIX;
    uint8_t *prefix = fz_dup(buf, k);
    int rc = raft_msg_peek_len(buf, len, &msg_len);
    int rc2 = raft_msg_peek_len(prefix, k, &msg_len);
    FZ_CHECK(rc == rc2, "peek_len depends on bytes past the prefix: %d vs %d",
             rc, rc2);
    free(prefix);
    if (len < RAFT_WIRE_PREFIX) {
        FZ_CHECK(rc == RAFT_ESHORT, "peek_len on %zu bytes gave %d", len, rc);
        return;
    }
    if (fz_rd32(buf) < 48) {
        FZ_CHECK(rc == RAFT_EFORMAT, "peek_len of prefix %u gave %d",
                 (unsigned)fz_rd32(buf), rc);
        return;
    }
    FZ_CHECK(rc == 0 && msg_len == fz_rd32(buf), "peek_len gave %d, %zu for "
             "prefix %u", rc, msg_len, (unsigned)fz_rd32(buf));
    if (decode_rc == 0) {
        FZ_CHECK(msg_len == len, "peek_len %zu but decoded %zu bytes", msg_len, len);
    }
}

/* Decode buf[0..len) with a buffer one byte shorter / longer. */
static void check_neighbours(const uint8_t *buf, size_t len,
                             const struct raft_wire_limits *limits,
                             struct raft_entry *ents, size_t cap)
{
    struct raft_msg m;
    uint8_t *p = fz_dup(buf, len - 1);
    int rc = raft_msg_decode(p, len - 1, limits, &m, ents, cap);
    FZ_CHECK(rc == RAFT_ESHORT, "decoding all but the last byte gave %d", rc);
    free(p);
    p = malloc(len + 1);
    FZ_CHECK(p != NULL, "out of memory");
    memcpy(p, buf, len);
    p[len] = 0;
    rc = raft_msg_decode(p, len + 1, limits, &m, ents, cap);
    FZ_CHECK(rc == RAFT_ETRAILING, "decoding with a byte appended gave %d", rc);
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in = {data, size};
    struct raft_wire_limits lim;
    const struct raft_wire_limits *limits = NULL;
    struct raft_msg msg, ref;
    struct raft_entry *ents, *ref_ents;
    size_t cap = 64;
    uint8_t mode, *buf;
    int rc, want;

    if (size == 0) {
        return 0;
    }
    mode = fz_u8(&in);
    memset(&lim, 0, sizeof(lim));
    switch (mode & 3) {
    case 1:
        limits = &lim;
        break;
    case 2:
        lim.max_entries = fz_u8(&in);
        lim.max_entry_bytes = fz_u16(&in);
        lim.max_msg_bytes = fz_u16(&in);
        limits = &lim;
        break;
    case 3:
        lim.max_entries = fz_u32(&in);
        lim.max_entry_bytes = fz_u32(&in);
        lim.max_msg_bytes = fz_u32(&in);
        limits = &lim;
        break;
    default:
        break;
    }
    if (mode & 4) {
        cap = fz_u8(&in);
    }
    if (mode & 8) {
        size_t ccap = fz_u8(&in);
        fz_conf_check(in.p, in.n, ccap);
        /* NULL arguments. */
        FZ_CHECK(raft_conf_decode(NULL, in.n, NULL, 0, &cap) == RAFT_EINVAL &&
                     raft_conf_decode(in.p, in.n, NULL, 0, NULL) == RAFT_EINVAL,
                 "raft_conf_decode accepted a NULL argument");
        return 0;
    }

    buf = fz_dup(in.p, in.n);
    ents = cap > 0 ? malloc(cap * sizeof(*ents)) : NULL;
    ref_ents = malloc((cap > 0 ? cap : 1) * sizeof(*ref_ents));
    FZ_CHECK((cap == 0 || ents != NULL) && ref_ents != NULL, "out of memory");

    rc = raft_msg_decode(buf, in.n, limits, &msg, ents, cap);
    FZ_CHECK(fz_decode_rc_ok(rc), "undocumented result %d", rc);
    want = ref_decode(buf, in.n, limits, cap, &ref, ref_ents);
    FZ_CHECK(rc == want, "decode gave %d (%s), the specification says %d (%s)",
             rc, raft_strerror(rc), want, raft_strerror(want));
    if (rc == 0) {
        check_same(&msg, &ref, ents, cap, buf, in.n);
        check_neighbours(buf, in.n, limits, ents, cap);
    }
    check_peek(buf, in.n, rc);

    /* NULL arguments. */
    FZ_CHECK(raft_msg_decode(NULL, in.n, limits, &msg, ents, cap) == RAFT_EINVAL,
             "NULL buffer accepted");
    FZ_CHECK(raft_msg_decode(buf, in.n, limits, NULL, ents, cap) == RAFT_EINVAL,
             "NULL message accepted");
    FZ_CHECK(raft_msg_decode(buf, in.n, limits, &msg, NULL, 1) == RAFT_EINVAL,
             "NULL entries with cap 1 accepted");
    FZ_CHECK(raft_msg_peek_len(NULL, in.n, &cap) == RAFT_EINVAL &&
                 raft_msg_peek_len(buf, in.n, NULL) == RAFT_EINVAL,
             "peek_len accepted a NULL argument");

    free(ref_ents);
    free(ents);
    free(buf);
    return 0;
}
