/*
 * header_test.c - the public header alone, compiled (never run) as every C
 * standard from C99 and as C++11 and later (`make test-header`), with
 * warnings as errors. It names every public type, constant and function so
 * that a declaration one language rejects fails the build.
 */
#include <raft.h>

#include <string.h>

static int on_send(struct raft *r, void *ctx, const struct raft_msg *m)
{
    (void)r;
    (void)ctx;
    return m->type == RAFT_MSG_APPEND ? 0 : 1;
}

static int on_state(struct raft *r, void *ctx, raft_term term, raft_id vote)
{
    (void)r;
    (void)ctx;
    return term == 0 && vote != 0;
}

static int on_entries(struct raft *r, void *ctx, raft_index first,
                      const struct raft_entry *e, size_t n)
{
    (void)r;
    (void)ctx;
    return first == 0 || (n > 0 && e[0].type == RAFT_ENTRY_NOOP);
}

static int on_apply(struct raft *r, void *ctx, raft_index index,
                    const struct raft_entry *e)
{
    (void)r;
    (void)ctx;
    return index == 0 || e->type == RAFT_ENTRY_COMMAND;
}

static void on_event(struct raft *r, void *ctx, const struct raft_event *ev)
{
    (void)r;
    (void)ctx;
    (void)ev;
}

static int on_snapshot_read(struct raft *r, void *ctx, raft_index index,
                            uint64_t offset, size_t max, const void **data,
                            size_t *len, bool *last)
{
    (void)r;
    (void)ctx;
    *data = NULL;
    *len = 0;
    *last = true;
    return index == 0 || offset > max;
}

static int on_snapshot_write(struct raft *r, void *ctx,
                             const struct raft_snapshot_meta *meta,
                             uint64_t offset, const void *data, size_t len)
{
    (void)r;
    (void)ctx;
    (void)data;
    return meta->index == 0 || offset + len == 0;
}

static int on_snapshot_install(struct raft *r, void *ctx,
                               const struct raft_snapshot_meta *meta, bool keep)
{
    (void)r;
    (void)ctx;
    return meta->conf_len == 0 && keep;
}

static void on_read(struct raft *r, void *ctx, void *req, raft_index index,
                    int status)
{
    (void)r;
    (void)ctx;
    (void)req;
    (void)index;
    (void)status;
}

int header_test(void);
int header_test(void)
{
    struct raft_config cfg;
    struct raft_callbacks cb;
    struct raft *r = NULL;
    struct raft_status st;
    struct raft_progress pr;
    struct raft_metrics mt;
    struct raft_entry e;
    struct raft_entry ents[4];
    struct raft_msg m;
    struct raft_buf b;
    struct raft_snapshot_meta snap;
    struct raft_wire_limits lim;
    unsigned char wire[256];
    size_t len = 0;
    raft_index first = 0;
    raft_id voters[1] = {1};
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    memset(&cb, 0, sizeof(cb));
    memset(&m, 0, sizeof(m));
    memset(&lim, 0, sizeof(lim));
    cfg.id = 1;
    cfg.max_msg_entries = RAFT_MAX_ACCEPT_ENTRIES;
    cfg.max_msg_bytes = RAFT_MAX_ACCEPT_BYTES;
    cb.send = on_send;
    cb.persist_state = on_state;
    cb.persist_entries = on_entries;
    cb.apply = on_apply;
    cb.event = on_event;
    cb.snapshot_read = on_snapshot_read;
    cb.snapshot_write = on_snapshot_write;
    cb.snapshot_install = on_snapshot_install;
    cb.read = on_read;
    cfg.disable_pre_vote = false;
    cfg.disable_check_quorum = false;
    cfg.lease_reads = true;
    cfg.lease_drift_ticks = 2;
    cfg.max_pending_reads = 16;
    b.base = "x";
    b.len = 1;

    rc = raft_create(&cfg, &cb, NULL, &r);
    rc |= raft_bootstrap(r, voters, 1);
    rc |= raft_restore(r, voters, 1, 0, 0, NULL, 0);
    rc |= raft_tick(r);
    rc |= raft_step(r, &m);
    rc |= raft_propose(r, "x", 1, &first);
    rc |= raft_propose_batch(r, &b, 1, &first);
    rc |= raft_persisted(r, 0, 0);
    rc |= raft_read_index(r, &cfg);
    rc |= m.u.heartbeat.round > 0 || m.u.read.ok || m.u.read.id > 0 ||
          m.u.read.index > 0;
    rc |= (int)RAFT_MSG_PREVOTE + (int)RAFT_MSG_PREVOTE_RESP +
          (int)RAFT_MSG_HEARTBEAT + (int)RAFT_MSG_HEARTBEAT_RESP +
          (int)RAFT_MSG_READ + (int)RAFT_MSG_READ_RESP;
    rc |= (int)RAFT_PRECANDIDATE + (int)RAFT_EVENT_PREVOTE_START +
          (int)RAFT_REJECT_IN_LEASE;
    rc |= RAFT_ELEADERLOST + RAFT_EFULL + RAFT_ENOQUORUM;
    rc |= raft_compact(r, 1);
    snap.index = 1;
    snap.term = 1;
    snap.conf = voters;
    snap.conf_len = sizeof(voters);
    rc |= raft_restore_snapshot(r, &snap, 1, 0, 2, NULL, 0);
    {
        struct raft_change ch = {RAFT_CHANGE_ADD_LEARNER, 2};
        struct raft_member mem[2];
        size_t nm = 0;
        rc |= raft_propose_change(r, &ch, 1, RAFT_JOINT_AUTO, NULL);
        rc |= raft_leave_joint(r, NULL);
        rc |= raft_transfer_leadership(r, 2);
        rc |= raft_conf(r, mem, 2, &nm);
        rc |= raft_conf_decode(wire, 8, mem, 2, &nm);
        rc |= raft_join(r);
        rc |= (int)(mem[0].flags & (RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING |
                                     RAFT_MEMBER_LEARNER));
        rc |= (int)RAFT_ENTRY_CONFIG + (int)RAFT_MSG_TIMEOUT_NOW +
              (int)RAFT_EVENT_CONF + (int)RAFT_EVENT_TRANSFER_ABORTED +
              (int)RAFT_JOINT_IMPLICIT + (int)RAFT_JOINT_EXPLICIT +
              (int)RAFT_CHANGE_ADD_VOTER + (int)RAFT_CHANGE_REMOVE;
        rc |= RAFT_ECONFBUSY + RAFT_EBADCONF + RAFT_EREMOVED + RAFT_ETRANSFER;
        rc |= st.n_members > 0 || st.conf_index > 0 || st.joint || st.is_voter;
        rc |= pr.flags > 0 || m.u.vote.transfer || m.u.snapshot.conf_len > 0 ||
              m.u.snapshot.conf != NULL || RAFT_MAX_MEMBERS > 9;
    }
    rc |= m.u.snapshot.last || m.u.snapshot_resp.done ||
          (int)RAFT_PROGRESS_SNAPSHOT == (int)RAFT_MSG_SNAPSHOT_RESP;
    raft_status(r, &st);
    rc |= st.snapshot_index > 0 && pr.snapshot_acked > 0;
    rc |= raft_progress(r, 0, &pr);
    rc |= raft_entry_at(r, 1, &e);
    rc |= raft_metrics(r, &mt, sizeof(mt));
    rc |= mt.sent[RAFT_MSG_VOTE] > 0 && RAFT_METRICS_MSG_SLOTS > 0;
    rc |= mt.prevotes_started > 0 || mt.quorum_lost > 0 ||
          mt.reads_served > 0 || mt.reads_failed > 0 ||
          mt.read_rounds > 0 || mt.lease_reads > 0;
    rc |= mt.rejected[RAFT_REJECT_STALE_TERM] > 0 &&
          RAFT_METRICS_REJECT_SLOTS > 0;
    rc |= raft_role(r) == RAFT_LEADER;
    rc |= raft_current_term(r) > 0;
    rc |= raft_leader(r) != 0;
    rc |= raft_msg_encode(&m, wire, sizeof(wire), &len);
    rc |= raft_msg_peek_len(wire, len, &len);
    rc |= raft_msg_decode(wire, len, &lim, &m, ents, 4);
    rc |= raft_version_number() == RAFT_VERSION_NUMBER;
    rc |= raft_strerror(RAFT_ENOMEM)[0] == '\0';
    rc |= RAFT_WIRE_VERSION + RAFT_WIRE_PREFIX;
    raft_destroy(r);
    return rc;
}
