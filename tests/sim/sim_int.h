/*
 * sim_int.h - internals shared by the simulator's translation units.
 *
 * Layout: sim.c runs the phases and picks events, sim_node.c owns the node
 * lifecycle and the raft callbacks (simulated disk), sim_net.c the network,
 * sim_check.c the safety bookkeeping, sim_conf.c the checks across
 * configurations, sim_reconf.c the membership client,
 * sim_chooser.c the choosers, sim_svg.c the optional timeline picture.
 */
#ifndef SIM_INT_H
#define SIM_INT_H

#include "raft.h"
#include "sim.h"

#if defined(__GNUC__) || defined(__clang__)
#define SIM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SIM_PRINTF(f, a)
#endif

/* One entry on a simulated disk; owns its payload copy. */
struct sim_entry {
    raft_term term;
    int type;
    uint8_t *buf;
    size_t len;
    uint64_t hash; /* sim_entry_hash() of (type, payload) */
};

/* Bytes of an encoded configuration of up to SIM_MAX_NODES members. */
#define SIM_CONF_MAX (8 + 9 * SIM_MAX_NODES)

/* A snapshot of the simulated state machine: the state after applying
 * every entry up to `index`. Its bytes (sim_snap_byte) are a header
 * (index, term, state) and filler derived from them, `size` in all. */
struct sim_snap {
    raft_index index; /* 0: none */
    raft_term term;
    uint64_t state;
    /* its configuration, as the node gave it (snapshot metadata) */
    size_t conf_len;
    uint8_t conf[SIM_CONF_MAX];
};

/* What a node has made durable: survives crashes. */
struct sim_disk {
    raft_term term;
    raft_id vote;
    struct sim_snap snap;   /* the host's latest snapshot */
    raft_index base;        /* entries up to base are not stored */
    raft_term base_term;    /* term of entry base (0 if unknown or none) */
    struct sim_entry *ents; /* ents[i] holds index base + 1 + i */
    size_t len, cap;
    /* Indexes of the stored RAFT_ENTRY_CONFIG entries, ascending (kept
     * with the entries, so finding a log's configuration costs nothing). */
    raft_index *confs;
    size_t n_confs, confs_cap;
};

/*
 * A configuration as the simulator reads it (sim_conf.c), independently of
 * the library: the flags of each member by id (node ids are
 * 1..SIM_MAX_NODES here).
 */
struct sim_conf {
    bool valid;      /* false: none (a node started with raft_join) */
    bool auto_leave; /* the encoding's "leave the joint one" flag */
    uint8_t fl[SIM_MAX_NODES + 1]; /* RAFT_MEMBER_* of id i; 0: not a member */
};

/* Where a node's configuration came from: its entry (index, payload
 * hash), or (index 0) its snapshot (index, term); a cache key. */
struct sim_conf_key {
    raft_index index;
    uint64_t a, b;
};

/* A committed configuration entry (the committed configuration history). */
struct sim_cconf {
    raft_index index;
    struct sim_conf conf;
};

/* Index of the last stored entry (base when none is stored). */
static inline raft_index sim_disk_last(const struct sim_disk *d)
{
    return d->base + d->len;
}

/* The stored entry at index i, NULL if not stored. */
static inline const struct sim_entry *sim_disk_at(const struct sim_disk *d,
                                                  raft_index i)
{
    return i > d->base && i <= d->base + d->len ? &d->ents[i - 1 - d->base]
                                                : NULL;
}

/* Term at index i: of the stored entry, of base, or 0. */
static inline raft_term sim_disk_term(const struct sim_disk *d, raft_index i)
{
    const struct sim_entry *x = sim_disk_at(d, i);
    return x != NULL ? x->term : i == d->base ? d->base_term : 0;
}

/* A write a node in asynchronous mode started and the simulated disk has
 * not yet made durable. */
struct sim_write {
    bool ghost;             /* what a persist_entries call that failed to
                               start left behind (a prefix of its entries,
                               or a cut of the old tail): it lands in order
                               with the others, but the node does not know
                               of it (raft_persisted does not count it) */
    bool state;             /* term/vote write, else entries */
    bool install;           /* snapshot installation (snap, keep) */
    bool keep;
    struct sim_snap snap;
    raft_term term;
    raft_id vote;
    raft_index first;
    struct sim_entry *ents; /* n owned copies */
    size_t n;
    uint64_t at;            /* global step at which it was started */
};

struct sim;
struct sim_svg;

/* What the host saw a node's incarnation do, to check raft_metrics()
 * against: counted in the callbacks and around the driving calls. */
struct sim_tally {
    uint64_t sent[RAFT_METRICS_MSG_SLOTS]; /* sends that returned 0 */
    uint64_t send_failures;
    uint64_t entries_sent, entry_bytes_sent;
    uint64_t persist_state_calls, persist_entries_calls;
    uint64_t writes_completed;
    uint64_t applied;       /* apply callbacks that returned 0 */
    uint64_t reads_served;  /* read callbacks with status 0 */
    uint64_t reads_failed;  /* read callbacks with RAFT_ELEADERLOST */
    uint64_t stepped;       /* messages handed to raft_step */
    uint64_t stale;         /* ... that it refused as stale */
    bool step_oom;          /* a raft_step returned RAFT_ENOMEM: whether it
                               counted the message is not known */
};

struct sim_node {
    struct sim *sim;
    raft_id id;
    struct raft *r; /* NULL while crashed */
    struct raft_config cfg;
    /* Clock skew: the node ticks rate_num times per rate_den global steps. */
    unsigned rate_num, rate_den, rate_acc;
    /* The disk as the node's persist calls define it: every write started,
     * in order. In synchronous mode also what is durable. */
    struct sim_disk disk;
    /* Asynchronous mode: what is durable (survives a crash), and the writes
     * started but not yet durable, oldest first. disk == dur + pend. */
    bool async;
    struct sim_disk dur;
    struct sim_write *pend;
    size_t pend_len, pend_cap;
    /* Lowest `first` of an entries write made durable during the current
     * raft_persisted call (UINT64_MAX if none): an acknowledgement sent in
     * that call may name entries such a write has just replaced. */
    raft_index cut_in_call;
    uint64_t incarnation; /* bumped at every restart */
    uint64_t alloc_live;  /* blocks outstanding from this node's allocator */
    /* Length of the node's log as the persistence contract defines it: the
     * disk length after a restore or a successful persist_entries, first - 1
     * after a failed one (the node forgets everything from `first` on, even
     * if part of the write reached the disk). The disk may be longer. */
    raft_index log_last;

    /* Observations about the current incarnation (reset on restart). */
    raft_index applied;     /* successful apply callbacks: index of the last */
    raft_index commit_seen; /* highest commit index observed */
    raft_index verified;    /* log prefix checked against the committed chain */
    raft_term led_term;     /* last term this incarnation was seen leading */
    uint64_t sm;            /* state machine: hash chain up to `applied` */

    /* Snapshot chunks received (snapshot_write), and a buffer the leader
     * hands chunks out of (snapshot_read). */
    struct sim_snap rx;
    uint8_t *rx_buf;
    size_t rx_len, rx_cap;
    uint8_t *rd_buf;
    size_t rd_cap;
    struct sim_tally tally; /* checked against raft_metrics() */

    raft_term term_seen; /* highest term observed, across incarnations */

    /* Clock pause (sim_read.c): frozen until global step paused_until (0:
     * running); `missed` counts the ticks its clock skipped meanwhile. */
    uint64_t paused_until;
    uint64_t missed;
    /* Lease runs' clock (sim_read.c): it ticks every `period` units of
     * s->clock, next at `tick_at`; a restart draws a new phase. */
    uint64_t period, tick_at;
    uint64_t ticks, heard; /* lease runs: ticks, and ticks when it last got
                              a message from a split's leader */
    uint64_t reads_pending; /* accepted reads of this incarnation not yet
                               settled */

    /* Membership (sim_conf.c). */
    bool joined;          /* started with raft_join, not bootstrapped */
    bool started;         /* started at least once */
    raft_id *vote_hist;   /* durable vote of each term (index), across
                             incarnations; 0: none */
    size_t vote_hist_cap;
    raft_id xfer;         /* leadership transfer the host asked for and
                             the node has not ended yet (0: none) */
    uint64_t lead_removed;/* ticks led since the node was seen leading
                             without being a voter of its committed
                             configuration */
    bool removed_leading; /* so seen at the last check */
    struct sim_conf conf_seen; /* configuration derived at the last check */
    bool conf_cached;     /* sim_conf_of's last answer, and its key */
    struct sim_conf_key conf_key;
    struct sim_conf conf_cache;
    bool conf_event;      /* RAFT_EVENT_CONF since the last check */
};

/* A message in flight; entries and payloads live in the same allocation. */
struct sim_msg {
    struct raft_msg m;
    uint64_t deliver_at; /* global step from which it may be delivered */
    uint64_t seq;        /* send order */
    uint64_t event;      /* the event in which it was sent */
};

/* Event kinds of the fault phase. */
enum {
    SIM_EV_STEP,      /* advance global time, tick nodes per their rate */
    SIM_EV_TICK,      /* one extra tick of one node (clock jitter) */
    SIM_EV_DELIVER,   /* deliver one due message, chosen at random */
    SIM_EV_DROP,      /* lose one in-flight message */
    SIM_EV_DUP,       /* duplicate one in-flight message */
    SIM_EV_PROPOSE,   /* a client proposes (single or batch) */
    SIM_EV_PARTITION, /* split the nodes into two groups */
    SIM_EV_CUT,       /* cut one link in one direction */
    SIM_EV_HEAL,      /* restore all links */
    SIM_EV_CRASH,     /* crash a live node */
    SIM_EV_RESTART,   /* restart a crashed node from its disk */
    SIM_EV_DURABLE,   /* a node's disk completes some of its pending writes */
    SIM_EV_SNAPSHOT,  /* a node's host snapshots its state machine */
    SIM_EV_READ,      /* a client asks a node for a linearizable read */
    SIM_EV_PAUSE,     /* a node's process is frozen for a while */
    SIM_EV_CONF,      /* a membership change or a leadership transfer */
    SIM_EV_COUNT
};

/* Fault knobs, drawn once per run. A "1 in N" of 0 disables the fault. */
struct sim_faults {
    uint32_t weight[SIM_EV_COUNT];
    uint64_t weight_total;
    uint64_t persist_fail; /* 1 in N persist_state/persist_entries fail */
    uint64_t send_fail;    /* 1 in N sends fail */
    uint64_t apply_fail;   /* 1 in N applies fail */
    uint64_t sync_fail;    /* 1 in N asynchronous completions fail */
    uint64_t snap_fail;    /* 1 in N snapshot reads/writes/installs fail */
    unsigned max_latency;  /* fault-phase latency 0..max_latency steps */
    uint64_t long_delay;   /* 1 in N messages delayed 10..60 steps */
};

/* Strikes of the leader-churn nemesis (sim_nemesis.c). */
enum {
    SIM_NEM_ISOLATE,   /* cut the leader off from everyone */
    SIM_NEM_MINORITY,  /* cut the leader and a minority off */
    SIM_NEM_REACH_ONE, /* the leader keeps links to one follower only */
    SIM_NEM_MUTE,      /* cut the leader's outgoing links (all but one or all) */
    SIM_NEM_CRASH,     /* crash the leader, restart it soon */
    SIM_NEM_LOSS,      /* lose its in-flight messages except to one follower */
    SIM_NEM_COUNT
};

/* Leader-churn nemesis: knobs drawn per run, and its pending actions. */
struct sim_nemesis {
    bool on;
    bool alone;            /* the random partitions/cuts/crashes are off */
    uint64_t on_elect;     /* strike 1 in N new leaders (0: never) */
    uint64_t on_propose;   /* strike 1 in N accepted proposals (0: never) */
    uint64_t on_commit;    /* strike 1 in N commit advances (0: never) */
    uint64_t span;         /* strike delays are 0..span events */
    uint64_t quick;        /* 1 in N strikes comes within 0..3 events */
    uint64_t restart_span; /* a crashed leader restarts within this */
    unsigned burst;        /* a new leader may get 1..burst proposals */
    uint32_t mode_weight[SIM_NEM_COUNT];
    uint64_t mode_total;
    /* The pending strike (target 0: none). */
    raft_id target;
    raft_term term;
    int mode;
    uint64_t at; /* event number from which it is due */
    /* The pending proposal burst. */
    raft_id burst_id;
    raft_term burst_term;
    unsigned burst_left;
    /* Event from which a crashed node restarts, by id (0: none). */
    uint64_t restart_at[SIM_MAX_NODES + 1];
};

/* The committed chain: index i + 1 is committed with this term/payload. */
struct sim_link {
    raft_term term;
    uint64_t hash;
    /* Upper bound on the term in which the entry was committed: the lowest
     * current term of any node seen holding it as committed (a node learns
     * of a commitment from a leader of its own term or an older one). */
    raft_term commit_term;
};

/* Log Matching map slot: (index, term) -> (payload hash, previous term). */
struct sim_lm_slot {
    raft_index index; /* 0: empty slot */
    raft_term term;
    raft_term prev_term;
    uint64_t hash;
};

/* Who led a term, and in which incarnation. */
struct sim_leader {
    raft_id id;
    uint64_t incarnation;
};

/* A proposal a leader accepted. */
struct sim_proposal {
    uint64_t pid; /* unique id carried in the payload's first 8 bytes */
    raft_index index;
    raft_term term;
    uint64_t hash;
};

/* A read a client asked a node for (raft_read_index). */
enum {
    SIM_READ_PENDING = 1, /* accepted, not settled */
    SIM_READ_SERVED,      /* settled with status 0 */
    SIM_READ_FAILED,      /* settled with RAFT_ELEADERLOST */
    SIM_READ_DROPPED,     /* its node crashed first */
    SIM_READ_REFUSED      /* raft_read_index did not accept it */
};

struct sim_read {
    raft_id node;
    uint64_t incarnation;
    raft_index committed; /* the committed chain's length when asked for */
    uint64_t event;       /* when it was asked for */
    int state;            /* SIM_READ_* */
};

/* Long-stretch link faults (sim_stretch.c), one profile per run. */
enum {
    SIM_STRETCH_NONE,
    SIM_STRETCH_DEAF,    /* a node can send but not receive */
    SIM_STRETCH_MUTE,    /* a node can receive but not send */
    SIM_STRETCH_FLAP,    /* some links of a node go down and up every few steps */
    SIM_STRETCH_ISOLATE, /* a node is cut off from everyone */
    SIM_STRETCH_SPLIT,   /* a follower is cut off from the leader, whose
                            replication to the others stalls (lease runs) */
    SIM_STRETCH_DISK,    /* a follower's disk stalls while its leader
                            sends it a snapshot, then the leader is lost
                            (runs with asynchronous nodes) */
    SIM_STRETCH_FREEZE,  /* a settled leader's clock and process stop, and
                            it resumes without the ticks it missed while
                            the others lead on (runs without leases) */
    SIM_STRETCH_COUNT
};

/* Parts of a slow-disk stretch (sim_stretch.c). */
enum {
    SIM_DISK_GAP,      /* links of the leader slow, an AppendEntries to the
                          follower held back */
    SIM_DISK_STALL,    /* the follower's disk stalled, the leader's
                          replication to the others too */
    SIM_DISK_ISOLATED, /* the leader cut off from everyone */
    SIM_DISK_SLOW      /* the follower's writes slow, the rest healed */
};

struct sim_stretch {
    int kind;            /* the run's profile */
    unsigned left;       /* stretches still to come */
    uint64_t next;       /* global step at which the next one starts */
    bool active;
    raft_id node;        /* the node it is aimed at */
    raft_id leader;      /* SPLIT: the leader it is cut off from */
    bool due;            /* SPLIT: the next one is due, links healed */
    bool isolated;       /* SPLIT: the stall is over, the leader is cut
                            off from everyone */
    uint64_t after;      /* SPLIT: steps from then to the end */
    uint64_t read_step;  /* SPLIT: the step of the last read it asked for */
    size_t read_chain;   /* SPLIT: the committed chain's length then */
    bool isolate_due;    /* SPLIT: the stall is over, the leader is cut off
                            after the next echo it gets */
    bool peer[SIM_MAX_NODES + 1]; /* FLAP: its flapping links */
    bool both_ways;      /* FLAP: both directions, else node -> peer */
    unsigned period;     /* FLAP: steps between a link change */
    bool down;           /* FLAP: links currently down */
    uint64_t end;        /* global step at which the active one ends */
    int part;            /* DISK: SIM_DISK_* */
    uint64_t lag;        /* DISK: steps added to the leader's links, but
                            the one to the node */
    uint64_t hold;       /* DISK: steps the held-back message waits */
    uint64_t slow;       /* DISK: steps a write of the follower takes in
                            the last part */
    bool held;           /* DISK: that message has been held back */
    raft_index gap;      /* DISK: the index before its entries */
    bool past[SIM_MAX_NODES + 1]; /* DISK: sent entries past the gap by
                            more than the trailing window */
    unsigned n_past, quorum; /* DISK: how many; how many make, with the
                            leader, a majority of the voters */
    unsigned burst;      /* DISK: client requests still to reach the
                            leader once the follower's disk stalls */
    uint64_t stall_event; /* DISK: the leader's AppendEntries to the others
                            sent after this event are lost (0: none) */
};

/* Reconfiguration actions (sim_conf.c), drawn with per-run weights. */
enum {
    SIM_RC_ADD_LEARNER, /* a non-member joins as a learner */
    SIM_RC_PROMOTE,     /* a learner becomes a voter */
    SIM_RC_ADD_VOTER,   /* a non-member joins as a voter at once */
    SIM_RC_REMOVE,      /* a voter or learner other than the leader leaves */
    SIM_RC_DEMOTE,      /* a voter becomes a learner */
    SIM_RC_JOINT,       /* several changes at once, through joint consensus */
    SIM_RC_LEAVE,       /* raft_leave_joint */
    SIM_RC_TRANSFER,    /* raft_transfer_leadership */
    SIM_RC_SELF,        /* the leader removes or demotes itself */
    SIM_RC_INVALID,     /* a change that must be refused */
    SIM_RC_COUNT
};

struct sim_reconf {
    bool on;
    uint32_t weight[SIM_RC_COUNT];
    uint64_t total;
    unsigned max_voters;   /* voter counts kept in 1..max_voters */
    uint64_t to_anyone;    /* 1 in N requests go to any running node */
};

/* Progress of the heal-phase liveness requirement. */
struct sim_live {
    struct sim_node *leader; /* the leader the probe was proposed to */
    raft_term term;
    raft_index index; /* probe's index, 0 while no probe is pending */
    uint64_t hash;
};

struct sim {
    const struct sim_opts *opts;
    struct sim_chooser ch;
    FILE *trace;
    unsigned n;      /* node slots in use: ids 1..n */
    unsigned n_boot; /* the bootstrap voters, 1..n_boot (voters[]); the
                        others start with raft_join */
    struct sim_node nodes[SIM_MAX_NODES];
    raft_id voters[SIM_MAX_NODES];
    struct sim_reconf rc;
    /* Committed configuration entries, in index order (sim_conf.c). */
    struct sim_cconf *cconf;
    size_t cconf_len, cconf_cap;
    uint64_t cmds_committed; /* commands on the committed chain */
    int codec_probe;     /* 1: the codec carries transfers, 2: not yet
                            (sim_net.c), 0: not asked yet */
    raft_id xfer_to;     /* the last transfer accepted: its target, */
    raft_term xfer_term; /* and the term it was asked in */
    uint64_t now;   /* global time, in steps */
    uint64_t event; /* events so far (1-based once running) */

    /* Network. cut[a][b]: messages from a to b are lost (ids index it). */
    struct sim_msg **bag;
    size_t bag_len, bag_cap;
    bool cut[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1];
    /* Heal phase: links are FIFO, like TCP; the latest delivery step of
     * each link so far. */
    uint64_t link_due[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1];
    uint64_t msg_seq;
    size_t *due; /* scratch: indexes of deliverable messages */
    size_t due_cap;

    struct raft_config cfg; /* shared by all nodes except id and seed */
    bool skewed;            /* node tick rates differ */
    int persist_mode;       /* SIM_PERSIST_* of this run */
    raft_id slow_node;      /* its links add slow_delay steps, 0: none */
    uint64_t slow_delay;
    bool relimit;           /* restarts may draw new message limits */
    uint64_t heal_sent;     /* payload bytes of AppendEntries sent in the
                               heal phase once no message of the fault
                               phase is left (resend-storm check) */
    uint64_t fault_seq;     /* last message sent in the fault phase */
    bool backlog;           /* some such message is still in flight */
    bool any_async;         /* some node persists asynchronously */
    uint64_t snap_trailing; /* cfg.snapshot_trailing of the run, 0: no
                               snapshots in this run */
    size_t snap_size;       /* bytes of every snapshot of the run */
    uint64_t *sm_at;        /* state after index i + 1, as first seen */
    size_t sm_len, sm_cap;
    uint64_t fault_events;  /* fault phase length */
    uint64_t fault_end;     /* event number at which it ends */
    struct sim_faults f;
    bool faults_on; /* false in the heal phase */
    struct sim_nemesis nem;

    /* Failures injected during the current library call. */
    bool inj_persist, inj_apply;

    /* Safety bookkeeping (sim_check.c). */
    struct sim_link *chain;
    size_t chain_len, chain_cap;
    struct sim_lm_slot *lm;
    size_t lm_used, lm_cap;
    struct sim_leader *leaders; /* indexed by term */
    size_t leaders_cap;
    struct sim_proposal *props;
    size_t props_len, props_cap;
    raft_index *pid_index; /* payload id -> index it committed at, or 0 */
    size_t pid_cap;
    uint64_t next_pid;

    struct sim_live live;

    /* Reads (sim_read.c): every read asked for, indexed by id - 1 (the id
     * is the req pointer handed to the library). */
    struct sim_read *reads;
    size_t reads_len, reads_cap;
    bool lease;          /* every node has cfg.lease_reads */
    uint64_t clock;      /* lease runs: global time in units of ... */
    uint64_t clock_unit; /* ... which a step has this many */
    uint64_t clock_fast, clock_slow; /* lease runs: the extreme periods */
    bool catchup;        /* a paused node gets its missed ticks at resume */
    raft_id rburst_id;   /* reads for a new leader, asked right away */
    raft_term rburst_term;
    unsigned rburst_left;
    unsigned rburst_max; /* a new leader gets 0..rburst_max reads */
    raft_id stale_id;    /* the stale leader last asked (sim_read_step) */
    uint64_t stale_step; /* the step it was asked at */
    size_t stale_chain;  /* the committed chain's length then */

    struct sim_stretch stretch;

    /* The timeline picture's recording (sim_svg.c), NULL unless
     * opts->svg is set; every hook is behind a check of this pointer. */
    struct sim_svg *svg;

    bool failed;
    bool oom;
    char *err;
    size_t errlen;
    struct sim_stats st;
};

/* ---- sim.c ---- */
uint64_t sim_choose(struct sim *s, uint64_t bound);
bool sim_one_in(struct sim *s, uint64_t n);
void sim_fail(struct sim *s, const char *property, const char *fmt, ...)
    SIM_PRINTF(3, 4);
void sim_tracef(struct sim *s, const char *fmt, ...) SIM_PRINTF(2, 3);
/* Grow array p of *cap elements of `size` bytes to hold `need`; new
 * elements are zeroed. Returns the (possibly moved) array, or NULL with
 * s->oom set, in which case p is still valid and unchanged. */
void *sim_grow(struct sim *s, void *p, size_t *cap, size_t need, size_t size);
/* Free every node, the network and the bookkeeping (not s itself). */
void sim_teardown(struct sim *s);
/* Advance global time by one step (see sim.c). */
void sim_time_step(struct sim *s);
/* The start of a step: now++, stretch faults, resumes (see sim.c). */
void sim_step_begin(struct sim *s);

/* ---- sim_node.c ---- */
/* Byte k of the snapshot sn in a run whose snapshots are `size` bytes. */
uint8_t sim_snap_byte(const struct sim_snap *sn, size_t k);
void sim_conf_bootstrap(const struct sim *s, struct sim_snap *sn);
void sim_conf_at(struct sim_node *nd, raft_index x, raft_index snap_index,
                 struct sim_snap *sn);
/* The host of a live node snapshots its state machine and compacts. */
void sim_node_snapshot(struct sim_node *nd);
/* Set up node slot id; start it (bootstrap, or raft_join for a spare) if
 * `start`, else a restart event or the heal phase will. */
int sim_node_init(struct sim *s, struct sim_node *nd, raft_id id, bool start);
int sim_node_start(struct sim_node *nd, bool restore);
void sim_node_crash(struct sim_node *nd);
void sim_node_free(struct sim_node *nd);
void sim_node_tick(struct sim_node *nd);
void sim_node_step(struct sim_node *nd, const struct raft_msg *m);
void sim_node_propose(struct sim_node *nd);
/* Start a library call on a node: counts the event, clears injection flags. */
void sim_call_begin(struct sim *s);
/* Up and not frozen by a clock pause: the host may call it. */
bool sim_node_running(const struct sim_node *nd);
int sim_node_propose_probe(struct sim_node *nd, raft_index *index,
                           uint64_t *hash);
bool sim_node_alive(const struct sim_node *nd);
/* Make the oldest k pending writes durable (asynchronous mode), or fail
 * them: the node then stops and the host crashes it. Ghost writes among
 * them land (or fail) with the others; raft_persisted() is told of the
 * node's own writes only. */
void sim_node_complete(struct sim_node *nd, size_t k, bool fail);
/* What survives a crash of the node. */
const struct sim_disk *sim_durable(const struct sim_node *nd);

/* ---- sim_net.c ---- */
void sim_net_send(struct sim *s, const struct raft_msg *m);
bool sim_net_deliver_one(struct sim *s);
void sim_net_deliver_due(struct sim *s);
void sim_net_drop_one(struct sim *s);
void sim_net_dup_one(struct sim *s);
void sim_net_drop_to(struct sim *s, raft_id to);
void sim_net_drop_at(struct sim *s, size_t i);
void sim_net_free(struct sim *s);
void sim_net_describe(const struct raft_msg *m, char *buf, size_t len);

/* Is the link from -> to cut (partition, one-way cut or stretch profile)? */
bool sim_net_cut(const struct sim *s, raft_id from, raft_id to);

/* ---- sim_read.c ---- */
void sim_read_setup(struct sim *s);
/* A client asks nd (running) for a read. */
void sim_read_ask(struct sim_node *nd);
/* The read callback. */
void sim_read_cb(struct raft *r, void *ctx, void *req, raft_index index,
                 int status);
/* nd crashes: its pending reads are gone with it. */
void sim_read_drop(struct sim_node *nd);
/* nd is first seen leading term: reads for it may follow at once. */
void sim_read_on_leader(struct sim_node *nd, raft_term term);
/* A due read burst event; false if none. */
bool sim_read_step(struct sim *s);
/* Pending reads on live nodes. */
size_t sim_read_pending(const struct sim *s);
/* Fail the run naming a read still pending on a live node. */
void sim_read_fail_pending(struct sim *s);
/* Clock pauses: freeze a running node; resume those due (all if `all`). */
void sim_pause_one(struct sim *s);
void sim_pause_resume(struct sim *s, bool all);
/* Lease runs: time passes to the next tick or step in the fault phase, by
 * a whole step in the heal phase. */
void sim_clock_step(struct sim *s);
void sim_read_free(struct sim *s);

/* ---- sim_figures.c ---- */
/* "median / max" of v[0..k) into buf (sorts v); a "+" marks values at or
 * above cap (0: no cap). */
void sim_fig_cell(char *buf, size_t len, uint64_t *v, unsigned k, uint64_t cap);

/* ---- sim_stretch.c ---- */
void sim_stretch_setup(struct sim *s);
/* At each fault-phase step: start, flap and end stretches. */
void sim_stretch_step(struct sim *s, bool may_start);
bool sim_stretch_busy(const struct sim *s);
bool sim_stretch_cut(const struct sim *s, raft_id from, raft_id to);
/* Is a split under way, or due and waiting (a while) for a leader that
 * is ready? Nemesis strikes wait meanwhile. */
bool sim_stretch_quiet(const struct sim *s);
/* Does a split (under way or due) hold back events of kind ev (SIM_EV_*):
 * partitions, link cuts, crashes, clock pauses and membership requests,
 * and client proposals until its old leader is cut off? */
bool sim_stretch_holds(const struct sim *s, int ev);
/* False for a node a freeze stretch resumes without its missed ticks. */
bool sim_stretch_catchup(const struct sim *s, const struct sim_node *nd);
/* A node sends m: a vote granted to a split's cut-off follower ends the
 * stall. */
void sim_stretch_on_send(struct sim *s, const struct raft_msg *m);
/* Is sm lost by a stalled replication stream (its link is up)? */
bool sim_stretch_stalled(const struct sim *s, const struct sim_msg *sm);
/* m is delivered (not lost). */
void sim_stretch_on_deliver(struct sim *s, const struct raft_msg *m);
/* SPLIT, leader cut off: m takes no time; m waits (a vote request of the
 * cut-off node until its target's hold-back is over). */
bool sim_stretch_fast(const struct sim *s, const struct raft_msg *m);
bool sim_stretch_waits(const struct sim *s, const struct raft_msg *m);
/* Steps a slow-disk stretch adds to m's latency (0 for other runs: no
 * draw). */
uint64_t sim_stretch_delay(struct sim *s, const struct raft_msg *m);
/* Does a slow-disk stretch keep m's link in order (its follower's
 * answers to its leader)? */
bool sim_stretch_ordered(const struct sim *s, const struct raft_msg *m);
/* How many of nd's oldest pending writes its disk may complete now: all,
 * unless a slow-disk stretch holds them back. */
size_t sim_stretch_disk_ready(const struct sim *s, const struct sim_node *nd);
/* nd's host installs a snapshot: a slow disk's leader is then lost. */
void sim_stretch_on_install(struct sim *s, const struct sim_node *nd);
/* A split's client read at its old leader, due at this event; false if
 * none. */
bool sim_stretch_event(struct sim *s);
void sim_stretch_stop(struct sim *s);

/* ---- sim_nemesis.c ---- */
void sim_nemesis_setup(struct sim *s);
bool sim_nemesis_step(struct sim *s);
void sim_nemesis_on_leader(struct sim_node *nd, raft_term term);
void sim_nemesis_on_propose(struct sim_node *nd, raft_term term);
void sim_nemesis_on_commit(struct sim_node *nd, raft_term term);

/* ---- sim_svg.c ---- (call only when s->svg != NULL) */
/* Marks on a node's lane. */
enum {
    SIM_SVG_MARK_CANDIDATE, /* started an election */
    SIM_SVG_MARK_LEADER,    /* won an election */
    SIM_SVG_MARK_CRASH,
    SIM_SVG_MARK_RESTART,
    SIM_SVG_MARK_STRIKE,    /* leader-churn nemesis strike on it */
    SIM_SVG_MARK_INSTALL,   /* installed a snapshot from its leader */
    SIM_SVG_MARK_PAUSE,     /* its clock paused (frozen) */
    SIM_SVG_MARK_RESUME,    /* resumed from a pause */
    SIM_SVG_MARK_COUNT
};
int sim_svg_new(struct sim *s);
/* Record nd's role (or down), term and commit index at the current step. */
void sim_svg_node(struct sim_node *nd);
/* Record which nodes have links cut (after any change of s->cut). */
void sim_svg_links(struct sim *s);
void sim_svg_mark(struct sim *s, raft_id id, int kind);
void sim_svg_event(struct sim_node *nd, const struct raft_event *ev);
void sim_svg_heal(struct sim *s);
void sim_svg_fail(struct sim *s);
/* Write the picture of the run to f (at the end of the run). */
void sim_svg_write(struct sim *s, FILE *f);
void sim_svg_free(struct sim *s);

/* ---- sim_conf.c (reading configurations, checks) and sim_reconf.c (the
 * membership client) ---- */
/* Read an encoded configuration; false if it is not one the simulator
 * could have produced. */
bool sim_conf_parse(const void *buf, size_t len, struct sim_conf *c);
/* The configuration nd's own log implies (its last configuration entry
 * above its snapshot, else the snapshot's, else the bootstrap list, or none
 * for a node that joined); returns that entry's index (0: none in the
 * log). */
raft_index sim_conf_of(const struct sim_node *nd, struct sim_conf *c);
bool sim_conf_is_voter(const struct sim_conf *c, raft_id id);
/* Members with any of the bits in mask (0: every member). */
unsigned sim_conf_count(const struct sim_conf *c, unsigned mask);
/* "{ 1 2 3o 4l }" into buf: o outgoing, l learner, + voter and outgoing. */
void sim_conf_str(const struct sim_conf *c, char *buf, size_t len);
/* The first index of term t in nd's log, whose entries from there on all
 * have term t (a leader's own term); base + 1 if compacted away. */
raft_index sim_conf_first_of_term(const struct sim_node *nd, raft_term t);
/* May nd (before is its status before a call) answer RAFT_ETRANSFER? */
bool sim_conf_may_transfer(struct sim_node *nd, const struct raft_status *before);
bool sim_conf_is_joint(const struct sim_conf *c);
bool sim_conf_equal(const struct sim_conf *a, const struct sim_conf *b);
/* The configuration committed at index x (committed history). */
void sim_conf_committed_at(const struct sim *s, raft_index x,
                           struct sim_conf *c);
void sim_conf_setup(struct sim *s);
/* Trace "what {configuration}". */
void sim_conf_trace(const struct sim *s, const char *what,
                    const struct sim_conf *c);
/* Per-node checks after a library call (raft_status already read). */
void sim_conf_check_node(struct sim_node *nd, const struct raft_status *st);
/* Leader nd's commit index rose to c: a majority of each voter group of
 * its configuration holds entry c durably. */
void sim_conf_check_commit(struct sim_node *nd, raft_index c);
/* nd won `term`: a majority of each voter group voted for it durably. */
void sim_conf_check_won(struct sim_node *nd, raft_term term);
/* A durable term/vote pair of nd. */
void sim_conf_note_vote(struct sim_node *nd, raft_term term, raft_id vote);
/* Leader nd appends configuration entries among e[0..n) at first. */
void sim_conf_check_append(struct sim_node *nd, raft_index first,
                           const struct raft_entry *e, size_t n);
/* Committed index `index` holds entry e (called once per index). */
void sim_conf_chain(struct sim *s, raft_index index, const struct raft_entry *e);
/* A RAFT_EVENT_CONF, TRANSFER_ABORTED or STEP_DOWN event on nd. */
void sim_conf_on_event(struct sim_node *nd, const struct raft_event *ev);
/* raft_step on nd returned rc for m; was_member: the sender was a member
 * of nd's configuration when it was stepped. Fails the run unless
 * RAFT_ENOTMEMBER comes exactly where it is due; returns rc. */
int sim_conf_check_step(struct sim_node *nd, const struct raft_msg *m,
                        bool was_member, bool was_leader, int rc);
/* raft_propose/raft_read_index refused with RAFT_ETRANSFER: judged. */
void sim_conf_check_etransfer(struct sim_node *nd, const char *call, int rc,
                              const struct raft_status *before);
/* The fault phase's reconfiguration event. */
void sim_conf_event(struct sim *s);
/* Ask nd for changes ch[0..n) in joint mode `joint` (leave: call
 * raft_leave_joint instead) and check the answer against raft.h; returns
 * the library's code. A patient client (may_wait) mostly skips a request
 * it can tell would be refused for now (returns 1 then). */
int sim_conf_change(struct sim_node *nd, const struct raft_change *ch,
                    size_t n, int joint, bool leave, bool may_wait);
/* Ask nd to hand leadership to `to` and check the answer. */
int sim_conf_transfer(struct sim_node *nd, raft_id to);
/* Heal phase: the host ends an explicit joint configuration on leader l. */
void sim_conf_heal(struct sim_node *l);
/* Is nd's configuration settled (committed, not joint, nd a voter of it)? */
bool sim_conf_settled(struct sim_node *nd, struct sim_conf *c);
void sim_conf_free(struct sim *s);

/* ---- sim_check.c ---- */
uint64_t sim_entry_hash(int type, const void *buf, size_t len);
void sim_check_node(struct sim_node *nd);
void sim_check_rc(struct sim_node *nd, const char *call, int rc, int also_ok);
void sim_check_persist(struct sim_node *nd, raft_index first,
                       const struct raft_entry *e, size_t n);
void sim_check_outgoing(struct sim_node *nd, const struct raft_msg *m);
void sim_check_apply(struct sim_node *nd, raft_index index,
                     const struct raft_entry *e);
void sim_check_restore(struct sim_node *nd);
/* State Machine Safety for whole states: the state a node reaches at
 * `index` (by applying, or by installing a snapshot) equals the state any
 * node reached there before. */
void sim_check_state(struct sim_node *nd, raft_index index, uint64_t state,
                     const char *what);
void sim_note_leader(struct sim_node *nd, raft_term term);
void sim_note_proposal(struct sim *s, uint64_t pid, raft_index index,
                       raft_term term, uint64_t hash);
void sim_check_final(struct sim *s);
void sim_check_free(struct sim *s);

#endif /* SIM_INT_H */
