/* codec.h - wire format constants shared by codec.c (see
 * docs/wire-format.md for the layout). */
#ifndef RAFT_CODEC_H
#define RAFT_CODEC_H

#define RAFT__WIRE_HEADER 32u      /* length, version, type, flags, from, to, term */
#define RAFT__WIRE_VOTE 48u        /* header + last_index + last_term */
#define RAFT__WIRE_APPEND_RESP 56u /* header + index + hint_index + hint_term */
#define RAFT__WIRE_APPEND 64u      /* header + prev_index + prev_term + commit +
                                      n_entries + reserved, before entries */
#define RAFT__WIRE_ENTRY 16u       /* term, len, type, 3 reserved bytes */
#define RAFT__WIRE_SNAPSHOT 64u    /* header + index + index_term + offset +
                                      len + conf_len, before the data and
                                      the configuration */
#define RAFT__WIRE_MAX_CONF (8u + 9u * RAFT_MAX_MEMBERS) /* an encoded
                                      configuration's largest size */
#define RAFT__WIRE_SNAPSHOT_RESP 48u /* header + index + offset */
#define RAFT__WIRE_SHORT 48u       /* header + two u64: HEARTBEAT(_RESP), READ
                                      (_RESP), TIMEOUT_NOW; the second is
                                      reserved in all but READ_RESP, both
                                      in TIMEOUT_NOW */
#define RAFT__WIRE_FLAG_OK 1u      /* bit 0: granted / success / last / done /
                                      ok */
#define RAFT__WIRE_FLAG_TRANSFER 2u /* bit 1, VOTE only: the campaign of a
                                      leadership transfer */

#define RAFT__WIRE_DEFAULT_MAX_ENTRIES 64u
#define RAFT__WIRE_DEFAULT_MAX_ENTRY_BYTES (1024u * 1024u)
#define RAFT__WIRE_DEFAULT_MAX_MSG_BYTES (64u * 1024u * 1024u)

#endif
