/*
 * conf.h - configurations (Raft thesis ch. 4): their encoding, the changes
 * a leader may propose, and the node's members.
 *
 * The node keeps one slot per member of the configuration in force: its
 * id, its RAFT_MEMBER_* flags (r->mflags) and, on a leader, its progress
 * (r->prs), in the configuration's order, plus a slot for the node itself
 * with flags 0 when it is not a member. A configuration is in force as
 * soon as its entry is in the log (thesis 4.1): the one in force is that
 * of the last RAFT_ENTRY_CONFIG entry above the snapshot, or else the
 * snapshot's (r->base_conf, which is the bootstrap list before any
 * snapshot, and empty on a node started with raft_join).
 *
 * Memory. Slot arrays have room for r->slots_cap slots and never shrink;
 * room is reserved for every configuration when its entry reaches the log
 * (or the snapshot arrives), before anything changes, so going back to an
 * earlier configuration (a truncation) needs no allocation.
 *
 * Encoding (docs/wire-format.md), little-endian:
 *   u8 version (1), u8 flags (bit 0: leave a joint configuration
 *   automatically), u16 zero, u32 member count n (1..RAFT_MAX_MEMBERS),
 *   then n times: u64 id, u8 RAFT_MEMBER_* flags.
 */
#ifndef RAFT_CONF_H
#define RAFT_CONF_H

#include "node.h"

#define RAFT__CONF_HEADER 8u
#define RAFT__CONF_MEMBER 9u
#define RAFT__CONF_MAX_BYTES (RAFT__CONF_HEADER + RAFT__CONF_MEMBER * RAFT_MAX_MEMBERS)
#define RAFT__CONF_AUTO_LEAVE 1u

/* Check an encoded configuration: 0 with its member count in *n (out), or
 * RAFT_EFORMAT. Bounded by n squared (duplicate ids), n <= RAFT_MAX_MEMBERS. */
int raft__conf_check(const void *buf, size_t len, size_t *n);

/* Room for slots of configurations of up to n members (and this node).
 * RAFT_ENOMEM leaves the node unchanged. */
int raft__conf_reserve(struct raft *r, size_t n);

/* Free the slot arrays, the outgoing queue and the base configuration
 * (raft_destroy). */
void raft__conf_free(struct raft *r);

/* Make buf[0..len) (checked, borrowed) the base configuration: the one in
 * force at the snapshot (or from the start). Copies it; RAFT_ENOMEM leaves
 * the node unchanged. Does not change the configuration in force. */
int raft__conf_set_base(struct raft *r, const void *buf, size_t len);

/* The same in two steps, for callers with a callback in between that may
 * fail: copy buf[0..len) into *out (NULL when len is 0; RAFT_ENOMEM), then
 * make the copy the base, which frees the previous one. */
int raft__conf_dup(struct raft *r, const void *buf, size_t len, uint8_t **out);
void raft__conf_adopt_base(struct raft *r, uint8_t *p, size_t len);

/* Encode a bootstrap voter list (checked by the caller) as the base
 * configuration. RAFT_ENOMEM leaves the node unchanged. */
int raft__conf_set_base_voters(struct raft *r, const raft_id *voters, size_t n);

/* The configuration in force may have changed (entries appended or
 * truncated, a snapshot installed, a start): find it again in the log, or
 * the base, and take it if it differs. Room must have been reserved. */
void raft__conf_reload(struct raft *r);

/* The same, taking the configuration found even if it is the one in force
 * by index (the base changed: a snapshot was installed). */
void raft__conf_reload_force(struct raft *r);

/* Forget the slots of members removed by the configuration in force
 * (kept by a leader until an election timeout after the change commits). */
void raft__conf_drop_departing(struct raft *r);

/* The log was cut back to from - 1: reload if that removed the entry of
 * the configuration in force. */
static inline void raft__conf_truncated(struct raft *r, raft_index from)
{
    if (r->conf_index >= from && r->conf_index > r->snap_index) {
        raft__conf_reload(r);
    }
}

/* The configuration in force at `index` (snap_index <= index <= last), for
 * a snapshot's metadata: *buf (a log payload or r->base_conf, valid until
 * the log or base changes) and *len. Returns the index of its entry, or 0
 * for the base. */
raft_index raft__conf_at(const struct raft *r, raft_index index,
                         const void **buf, size_t *len);

/* raft_propose_change and raft_leave_joint, on a leader; n == 0 leaves the
 * joint configuration. */
int raft__conf_propose(struct raft *r, const struct raft_change *changes,
                       size_t n, int joint, raft_index *index);

/* Leader tick: time a leadership transfer out; leave a joint
 * configuration once its entry is committed, if it says so; hand over
 * and step down once a committed configuration leaves this node out of
 * the voters. */
int raft__conf_tick(struct raft *r);

/* raft_transfer_leadership, on any node (checks the role). */
int raft__conf_transfer(struct raft *r, raft_id id);

/* Leader transferring leadership: tell the target (pr, or NULL to look
 * it up) to campaign if it holds the whole log. Called at the start, at
 * every flush until it is sent once (effects.c), and at every heartbeat
 * while the transfer lasts. */
void raft__conf_transfer_check(struct raft *r, const struct raft__progress *pr);

/* Fill a public member list from the slots. */
size_t raft__conf_members(const struct raft *r, struct raft_member *out,
                          size_t cap);

/* Was this node a voter of the configuration before the one in force,
 * which is not known committed? */
bool raft__conf_was_voter(const struct raft *r);

#endif
