/*
 * codec.c - encoding and decoding of messages; the format is specified in
 * docs/wire-format.md.
 *
 * The decoder treats every byte as hostile: each read is preceded by a
 * bounds check against the message length, which was itself checked
 * against the input length, and every count is checked against the bytes
 * that could hold it before anything is trusted. Integers are assembled
 * byte by byte, so the code is independent of host endianness and
 * alignment.
 */
#include <string.h>

#include "../raft.h"
#include "codec.h"

static void put8(uint8_t *p, uint8_t v)
{
    p[0] = v;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)(p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) | ((uint32_t)get16(p + 2) << 16);
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

static bool entry_type_ok(int type)
{
    return type == RAFT_ENTRY_COMMAND || type == RAFT_ENTRY_NOOP ||
           type == RAFT_ENTRY_CONFIG;
}

/* Encoded size of msg, or 0 if msg cannot be encoded. */
static uint64_t encoded_size(const struct raft_msg *m)
{
    const struct raft_msg_append *a = &m->u.append;
    uint64_t size;
    size_t i;
    switch (m->type) {
    case RAFT_MSG_PREVOTE:
        /* The transfer flag exists for RAFT_MSG_VOTE only: a pre-vote
         * carrying it could not be decoded back. */
        return m->u.vote.transfer ? 0 : RAFT__WIRE_VOTE;
    case RAFT_MSG_VOTE:
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE_RESP:
        return RAFT__WIRE_VOTE;
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_HEARTBEAT_RESP:
    case RAFT_MSG_READ:
    case RAFT_MSG_READ_RESP:
    case RAFT_MSG_TIMEOUT_NOW:
        return RAFT__WIRE_SHORT;
    case RAFT_MSG_APPEND_RESP:
        return RAFT__WIRE_APPEND_RESP;
    case RAFT_MSG_SNAPSHOT_RESP:
        return RAFT__WIRE_SNAPSHOT_RESP;
    case RAFT_MSG_SNAPSHOT:
        if ((m->u.snapshot.len > 0 && m->u.snapshot.data == NULL) ||
            (m->u.snapshot.conf_len > 0 && m->u.snapshot.conf == NULL) ||
            (m->u.snapshot.conf_len > 0 && !m->u.snapshot.last) ||
            m->u.snapshot.conf_len > RAFT__WIRE_MAX_CONF ||
            m->u.snapshot.len > UINT32_MAX - RAFT__WIRE_SNAPSHOT - m->u.snapshot.conf_len) {
            return 0;
        }
        return RAFT__WIRE_SNAPSHOT + (uint64_t)m->u.snapshot.len +
               m->u.snapshot.conf_len;
    case RAFT_MSG_APPEND:
        break;
    default:
        return 0;
    }
    if ((a->n_entries > 0 && a->entries == NULL) || a->n_entries > UINT32_MAX) {
        return 0;
    }
    size = RAFT__WIRE_APPEND;
    /* Bounded by n_entries; size stays far below overflow because each
     * step adds at most 2^32 + 16 and stops past UINT32_MAX. */
    for (i = 0; i < a->n_entries; i++) {
        const struct raft_entry *e = &a->entries[i];
        if (!entry_type_ok(e->type) || e->len > UINT32_MAX ||
            (e->buf == NULL && e->len > 0)) {
            return 0;
        }
        size += RAFT__WIRE_ENTRY + (uint64_t)e->len;
        if (size > UINT32_MAX) {
            return 0;
        }
    }
    return size;
}

static void encode_header(const struct raft_msg *m, uint8_t *p, uint32_t size,
                          uint16_t flags)
{
    put32(p, size);
    put8(p + 4, RAFT_WIRE_VERSION);
    put8(p + 5, (uint8_t)m->type);
    put16(p + 6, flags);
    put64(p + 8, m->from);
    put64(p + 16, m->to);
    put64(p + 24, m->term);
}

static void encode_body(const struct raft_msg *m, uint8_t *p)
{
    size_t i;
    switch (m->type) {
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PREVOTE:
        put64(p + 32, m->u.vote.last_index);
        put64(p + 40, m->u.vote.last_term);
        break;
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE_RESP:
        put64(p + 32, m->u.vote_resp.last_index);
        put64(p + 40, m->u.vote_resp.last_term);
        break;
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_HEARTBEAT_RESP:
        put64(p + 32, m->u.heartbeat.round);
        put64(p + 40, 0);
        break;
    case RAFT_MSG_READ:
        put64(p + 32, m->u.read.id);
        put64(p + 40, 0);
        break;
    case RAFT_MSG_READ_RESP:
        put64(p + 32, m->u.read.id);
        put64(p + 40, m->u.read.index);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        put64(p + 32, 0);
        put64(p + 40, 0);
        break;
    case RAFT_MSG_APPEND_RESP:
        put64(p + 32, m->u.append_resp.index);
        put64(p + 40, m->u.append_resp.hint_index);
        put64(p + 48, m->u.append_resp.hint_term);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        put64(p + 32, m->u.snapshot_resp.index);
        put64(p + 40, m->u.snapshot_resp.offset);
        break;
    case RAFT_MSG_SNAPSHOT:
        put64(p + 32, m->u.snapshot.index);
        put64(p + 40, m->u.snapshot.index_term);
        put64(p + 48, m->u.snapshot.offset);
        put32(p + 56, (uint32_t)m->u.snapshot.len);
        put32(p + 60, (uint32_t)m->u.snapshot.conf_len);
        if (m->u.snapshot.len > 0) {
            memcpy(p + RAFT__WIRE_SNAPSHOT, m->u.snapshot.data, m->u.snapshot.len);
        }
        if (m->u.snapshot.conf_len > 0) {
            memcpy(p + RAFT__WIRE_SNAPSHOT + m->u.snapshot.len, m->u.snapshot.conf,
                   m->u.snapshot.conf_len);
        }
        break;
    default: /* RAFT_MSG_APPEND, checked by encoded_size() */
        put64(p + 32, m->u.append.prev_index);
        put64(p + 40, m->u.append.prev_term);
        put64(p + 48, m->u.append.commit);
        put32(p + 56, (uint32_t)m->u.append.n_entries);
        put32(p + 60, 0);
        p += RAFT__WIRE_APPEND;
        for (i = 0; i < m->u.append.n_entries; i++) {
            const struct raft_entry *e = &m->u.append.entries[i];
            put64(p, e->term);
            put32(p + 8, (uint32_t)e->len);
            put8(p + 12, (uint8_t)e->type);
            put8(p + 13, 0);
            put16(p + 14, 0);
            if (e->len > 0) {
                memcpy(p + RAFT__WIRE_ENTRY, e->buf, e->len);
            }
            p += RAFT__WIRE_ENTRY + e->len;
        }
        break;
    }
}

int raft_msg_encode(const struct raft_msg *msg, void *buf, size_t cap, size_t *len)
{
    uint64_t size;
    uint16_t flags = 0;
    if (msg == NULL || len == NULL || (buf == NULL && cap > 0)) {
        return RAFT_EINVAL;
    }
    size = encoded_size(msg);
    if (size == 0 || size > SIZE_MAX) {
        return RAFT_EINVAL;
    }
    *len = (size_t)size;
    if (cap < size) {
        return RAFT_ENOBUFS;
    }
    if (((msg->type == RAFT_MSG_VOTE_RESP || msg->type == RAFT_MSG_PREVOTE_RESP) &&
         msg->u.vote_resp.granted) ||
        (msg->type == RAFT_MSG_READ_RESP && msg->u.read.ok) ||
        (msg->type == RAFT_MSG_APPEND_RESP && msg->u.append_resp.success) ||
        (msg->type == RAFT_MSG_SNAPSHOT && msg->u.snapshot.last) ||
        (msg->type == RAFT_MSG_SNAPSHOT_RESP && msg->u.snapshot_resp.done)) {
        flags = RAFT__WIRE_FLAG_OK;
    } else if (msg->type == RAFT_MSG_VOTE && msg->u.vote.transfer) {
        flags = RAFT__WIRE_FLAG_TRANSFER;
    }
    encode_header(msg, buf, (uint32_t)size, flags);
    encode_body(msg, buf);
    return 0;
}

int raft_msg_peek_len(const void *buf, size_t len, size_t *msg_len)
{
    uint32_t n;
    if (buf == NULL || msg_len == NULL) {
        return RAFT_EINVAL;
    }
    if (len < RAFT_WIRE_PREFIX) {
        return RAFT_ESHORT;
    }
    n = get32(buf);
    if (n < RAFT__WIRE_VOTE) {
        return RAFT_EFORMAT;
    }
    *msg_len = n;
    return 0;
}

/* The flag bits a (known) message type defines: bit 0 for the replies
 * that grant or succeed, the last chunk and READ_RESP; bit 1 for a
 * leadership transfer's RequestVote. */
static uint16_t flags_defined(uint8_t type)
{
    switch (type) {
    case RAFT_MSG_VOTE:
        return RAFT__WIRE_FLAG_TRANSFER;
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE_RESP:
    case RAFT_MSG_APPEND_RESP:
    case RAFT_MSG_SNAPSHOT:
    case RAFT_MSG_SNAPSHOT_RESP:
    case RAFT_MSG_READ_RESP:
        return RAFT__WIRE_FLAG_OK;
    default:
        return 0;
    }
}

static void limits_fill(const struct raft_wire_limits *in, struct raft_wire_limits *out)
{
    out->max_entries = RAFT__WIRE_DEFAULT_MAX_ENTRIES;
    out->max_entry_bytes = RAFT__WIRE_DEFAULT_MAX_ENTRY_BYTES;
    out->max_msg_bytes = RAFT__WIRE_DEFAULT_MAX_MSG_BYTES;
    if (in != NULL) {
        if (in->max_entries != 0) {
            out->max_entries = in->max_entries;
        }
        if (in->max_entry_bytes != 0) {
            out->max_entry_bytes = in->max_entry_bytes;
        }
        if (in->max_msg_bytes != 0) {
            out->max_msg_bytes = in->max_msg_bytes;
        }
    }
}

/* Entries of an APPEND whose fixed part p[0..64) and total size are
 * checked. Every read below stays inside p[0..size). */
static int decode_entries(const uint8_t *p, uint32_t size,
                          const struct raft_wire_limits *lim,
                          struct raft_msg *m, struct raft_entry *ents,
                          size_t ents_cap)
{
    uint32_t n = get32(p + 56);
    uint32_t pos = RAFT__WIRE_APPEND;
    uint32_t i;
    if (get32(p + 60) != 0) {
        return RAFT_EFORMAT;
    }
    if (n > lim->max_entries) {
        return RAFT_ELIMIT;
    }
    /* Each entry needs at least its 16-byte header. */
    if ((uint64_t)n * RAFT__WIRE_ENTRY > size - RAFT__WIRE_APPEND) {
        return RAFT_ECOUNT;
    }
    if (n > ents_cap) {
        return RAFT_ENOBUFS;
    }
    /* Bounded by n, itself bounded by max_entries and the message size. */
    for (i = 0; i < n; i++) {
        const uint8_t *e = p + pos;
        uint32_t elen;
        if (size - pos < RAFT__WIRE_ENTRY) {
            return RAFT_ECOUNT; /* earlier payloads took the room */
        }
        elen = get32(e + 8);
        if (!entry_type_ok(e[12])) {
            return RAFT_ETYPE;
        }
        if (e[13] != 0 || get16(e + 14) != 0) {
            return RAFT_EFORMAT;
        }
        if (elen > lim->max_entry_bytes) {
            return RAFT_ELIMIT;
        }
        if (elen > size - pos - RAFT__WIRE_ENTRY) {
            return RAFT_EFORMAT; /* payload runs past the stated length */
        }
        ents[i].term = get64(e);
        ents[i].type = e[12];
        ents[i].len = elen;
        ents[i].buf = elen > 0 ? e + RAFT__WIRE_ENTRY : NULL;
        pos += RAFT__WIRE_ENTRY + elen;
    }
    if (pos != size) {
        return RAFT_ETRAILING; /* bytes after the last entry */
    }
    m->u.append.n_entries = n;
    m->u.append.entries = n > 0 ? ents : NULL;
    return 0;
}

/* The chunk of a SNAPSHOT whose fixed part p[0..64) and total size are
 * checked, in the order of the entry checks: the configuration's length
 * (only in the last chunk, at most RAFT__WIRE_MAX_CONF), the limit on one
 * payload, then the stated lengths against the message's. The
 * configuration's content is raft_step's to check. */
static int decode_snapshot(const uint8_t *p, uint32_t size,
                           const struct raft_wire_limits *lim, struct raft_msg *m)
{
    uint32_t n = get32(p + 56);
    uint32_t c = get32(p + 60);
    uint32_t room = size - RAFT__WIRE_SNAPSHOT;
    if (c > RAFT__WIRE_MAX_CONF || (c > 0 && !m->u.snapshot.last)) {
        return RAFT_EFORMAT;
    }
    if (n > lim->max_entry_bytes) {
        return RAFT_ELIMIT;
    }
    if (c > room || n > room - c) {
        return RAFT_EFORMAT; /* the data runs past the stated length */
    }
    if (n < room - c) {
        return RAFT_ETRAILING; /* bytes after the configuration */
    }
    m->u.snapshot.index = get64(p + 32);
    m->u.snapshot.index_term = get64(p + 40);
    m->u.snapshot.offset = get64(p + 48);
    m->u.snapshot.len = n;
    m->u.snapshot.data = n > 0 ? p + RAFT__WIRE_SNAPSHOT : NULL;
    m->u.snapshot.conf_len = c;
    m->u.snapshot.conf = c > 0 ? p + RAFT__WIRE_SNAPSHOT + n : NULL;
    return 0;
}

int raft_msg_decode(const void *buf, size_t len, const struct raft_wire_limits *limits,
                    struct raft_msg *msg, struct raft_entry *ents, size_t ents_cap)
{
    const uint8_t *p = buf;
    struct raft_wire_limits lim;
    uint32_t size;
    uint16_t flags;
    uint32_t want;
    bool variable;
    if (buf == NULL || msg == NULL || (ents == NULL && ents_cap > 0)) {
        return RAFT_EINVAL;
    }
    limits_fill(limits, &lim);
    if (len < RAFT__WIRE_HEADER) {
        return RAFT_ESHORT;
    }
    size = get32(p);
    if (p[4] != RAFT_WIRE_VERSION) {
        return RAFT_EVERSION;
    }
    if (size < RAFT__WIRE_VOTE) {
        return RAFT_EFORMAT; /* shorter than the smallest message */
    }
    if (size > lim.max_msg_bytes) {
        return RAFT_ELIMIT;
    }
    if (len < size) {
        return RAFT_ESHORT;
    }
    if (len > size) {
        return RAFT_ETRAILING;
    }
    flags = get16(p + 6);
    switch (p[5]) {
    case RAFT_MSG_VOTE:
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE:
    case RAFT_MSG_PREVOTE_RESP:
        want = RAFT__WIRE_VOTE;
        break;
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_HEARTBEAT_RESP:
    case RAFT_MSG_READ:
    case RAFT_MSG_READ_RESP:
    case RAFT_MSG_TIMEOUT_NOW:
        want = RAFT__WIRE_SHORT;
        break;
    case RAFT_MSG_APPEND_RESP:
        want = RAFT__WIRE_APPEND_RESP;
        break;
    case RAFT_MSG_APPEND:
        want = RAFT__WIRE_APPEND;
        break;
    case RAFT_MSG_SNAPSHOT:
        want = RAFT__WIRE_SNAPSHOT;
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        want = RAFT__WIRE_SNAPSHOT_RESP;
        break;
    default:
        return RAFT_ETYPE;
    }
    if ((flags & ~flags_defined(p[5])) != 0) {
        return RAFT_EFORMAT;
    }
    /* APPEND and SNAPSHOT have a variable part after `want` bytes; the
     * other types are exactly `want` bytes long. */
    variable = p[5] == RAFT_MSG_APPEND || p[5] == RAFT_MSG_SNAPSHOT;
    if (variable ? size < want : size != want) {
        return RAFT_EFORMAT;
    }
    memset(msg, 0, sizeof(*msg));
    msg->type = p[5];
    msg->from = get64(p + 8);
    msg->to = get64(p + 16);
    msg->term = get64(p + 24);
    switch (msg->type) {
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PREVOTE:
        msg->u.vote.last_index = get64(p + 32);
        msg->u.vote.last_term = get64(p + 40);
        msg->u.vote.transfer = (flags & RAFT__WIRE_FLAG_TRANSFER) != 0;
        return 0;
    case RAFT_MSG_TIMEOUT_NOW:
        if (get64(p + 32) != 0 || get64(p + 40) != 0) {
            return RAFT_EFORMAT; /* reserved */
        }
        return 0;
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_HEARTBEAT_RESP:
    case RAFT_MSG_READ:
        if (get64(p + 40) != 0) {
            return RAFT_EFORMAT; /* reserved */
        }
        if (msg->type == RAFT_MSG_READ) {
            msg->u.read.id = get64(p + 32);
        } else {
            msg->u.heartbeat.round = get64(p + 32);
        }
        return 0;
    case RAFT_MSG_READ_RESP:
        msg->u.read.ok = flags != 0;
        msg->u.read.id = get64(p + 32);
        msg->u.read.index = get64(p + 40);
        return 0;
    case RAFT_MSG_PREVOTE_RESP:
    case RAFT_MSG_VOTE_RESP:
        msg->u.vote_resp.granted = flags != 0;
        msg->u.vote_resp.last_index = get64(p + 32);
        msg->u.vote_resp.last_term = get64(p + 40);
        return 0;
    case RAFT_MSG_APPEND_RESP:
        msg->u.append_resp.success = flags != 0;
        msg->u.append_resp.index = get64(p + 32);
        msg->u.append_resp.hint_index = get64(p + 40);
        msg->u.append_resp.hint_term = get64(p + 48);
        return 0;
    case RAFT_MSG_SNAPSHOT_RESP:
        msg->u.snapshot_resp.done = flags != 0;
        msg->u.snapshot_resp.index = get64(p + 32);
        msg->u.snapshot_resp.offset = get64(p + 40);
        return 0;
    case RAFT_MSG_SNAPSHOT:
        msg->u.snapshot.last = flags != 0;
        return decode_snapshot(p, size, &lim, msg);
    default:
        msg->u.append.prev_index = get64(p + 32);
        msg->u.append.prev_term = get64(p + 40);
        msg->u.append.commit = get64(p + 48);
        return decode_entries(p, size, &lim, msg, ents, ents_cap);
    }
}
