/*
 * sim.h - deterministic fault-injecting cluster simulator for raft.h.
 *
 * One call to sim_run() builds a cluster of 1..SIM_MAX_NODES nodes wired to
 * a simulated network and simulated disks, runs a fault phase (message loss,
 * duplication, reordering, delay, partitions, crashes and restarts, failing
 * persistence/send/apply callbacks, client proposals, in most runs
 * strikes aimed at the leader of the moment, and in two runs in three
 * membership changes and leadership transfers), then a heal phase in
 * which all faults stop and the cluster must make progress. Safety
 * properties are checked after every event; see README.md.
 *
 * Every choice the simulator makes is drawn from a struct sim_chooser, so a
 * run is a pure function of (opts, chooser output). The seeded PRNG chooser
 * gives reproducible runs per seed; the byte chooser lets a fuzzer drive the
 * schedule. This file and everything linked with it has no global mutable
 * state, never calls exit() and frees everything it allocates.
 */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_MAX_NODES 9

/*
 * Source of every decision. next() returns a value in [0, bound) for
 * bound >= 2 (the simulator reduces it modulo bound anyway, so any value is
 * safe); the simulator never calls it with bound < 2. exhausted() is
 * optional: when it returns true the fault phase ends early and the run
 * proceeds to the heal phase, where a chooser returning 0 forever still
 * yields a terminating run.
 */
struct sim_chooser {
    uint64_t (*next)(void *ctx, uint64_t bound);
    bool (*exhausted)(void *ctx);
    void *ctx;
};

/* xoshiro256** seeded through splitmix64. */
struct sim_rng {
    uint64_t s[4];
};

void sim_rng_init(struct sim_rng *g, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *g);
/* Fill *out with a chooser drawing from g (retained for the chooser's use). */
void sim_rng_chooser(struct sim_rng *g, struct sim_chooser *out);

/* Chooser reading a byte string (e.g. fuzzer input); returns 0 once empty. */
struct sim_bytes {
    const uint8_t *data;
    size_t len;
    size_t pos;
};

void sim_bytes_chooser(struct sim_bytes *b, const uint8_t *data, size_t len,
                       struct sim_chooser *out);

/* Counters describing one run, filled by sim_run() when opts->stats is set. */
struct sim_stats {
    unsigned n_nodes;       /* bootstrap voters actually used (spares of a
                               reconfiguration run come on top) */
    uint64_t events;        /* events executed, fault and heal phase */
    uint64_t fail_event;    /* event number of the first violation, or 0 */
    uint64_t steps;         /* global time steps */
    uint64_t heal_steps;    /* steps the heal phase needed */
    uint64_t heal_bound;    /* steps the heal phase was allowed */
    uint64_t delivered, dropped, duplicated;
    uint64_t crashes, restarts, partitions;
    uint64_t strikes;       /* leader-churn nemesis actions on a leader */
    uint64_t proposals, accepted, committed;
    uint64_t elections;     /* distinct (term, leader) pairs seen */
    uint64_t max_term;
    uint64_t persist_failures, send_failures, apply_failures;
    uint64_t async_nodes;   /* nodes in asynchronous mode */
    uint64_t completions;   /* raft_persisted calls */
    uint64_t sync_failures; /* failed completions (node stopped) */
    uint64_t ghost_writes;  /* asynchronous persist_entries calls that
                               failed to start, leaving part of the write
                               queued behind the node's own */
    uint64_t ghost_landed;  /* ... of which reached the durable disk */
    uint64_t wire_bytes;    /* encoded bytes of every message sent */
    uint64_t slow_runs;     /* runs with a slow node */
    uint64_t snapshots;     /* raft_compact calls (snapshots taken) */
    uint64_t installs;      /* snapshots installed from a leader */
    uint64_t snap_chunks;   /* snapshot chunks read by leaders */
    uint64_t reads;         /* raft_read_index calls */
    uint64_t reads_served;  /* settled with status 0, checked */
    uint64_t reads_failed;  /* settled with RAFT_ELEADERLOST */
    uint64_t reads_refused; /* not accepted (RAFT_ENOTLEADER, RAFT_EFULL) */
    uint64_t reads_dropped; /* pending when their node crashed */
    uint64_t lease_runs;    /* runs with lease reads */
    uint64_t pauses;        /* clock pauses */
    uint64_t stretches;     /* long-stretch link faults */
    uint64_t reconf_runs;   /* runs with reconfiguration */
    uint64_t changes;       /* raft_propose_change and raft_leave_joint calls */
    uint64_t changes_ok;    /* ... that appended a configuration */
    uint64_t changes_busy;  /* ... refused with RAFT_ECONFBUSY */
    uint64_t changes_bad;   /* ... refused with RAFT_EBADCONF or RAFT_EINVAL */
    uint64_t conf_written;  /* configuration entries leaders wrote (after
                               the bootstrap one), automatic leaves included */
    uint64_t conf_committed;/* configuration entries committed */
    uint64_t joint_committed; /* ... of a joint configuration */
    uint64_t voter_sizes;   /* bit k: a configuration of k voters committed */
    uint64_t transfers;     /* raft_transfer_leadership calls */
    uint64_t transfers_ok;  /* ... accepted */
    uint64_t transfers_done;/* ... whose target then led a later term */
    uint64_t transfers_aborted; /* RAFT_EVENT_TRANSFER_ABORTED */
    uint64_t removed_leaders; /* leaders that stepped down as removed */
    uint64_t not_member;    /* messages refused with RAFT_ENOTMEMBER */
};

struct sim_opts {
    unsigned n_nodes;       /* bootstrap voters, 1..SIM_MAX_NODES; 0: drawn
                               from 1..7 */
    int persist_mode;       /* SIM_PERSIST_*; 0: drawn */
    uint64_t fault_events;  /* fault phase length; 0: drawn, 2000..6000 */
    bool skip_liveness;     /* skip the heal-phase liveness requirement
                               (safety is still checked during heal) */
    FILE *trace;            /* event trace destination, NULL for none */
    FILE *svg;              /* timeline picture destination (written at the
                               end of the run), NULL for none */
    const char *svg_label;  /* heading of the picture ("seed 7"), or NULL */
    struct sim_stats *stats;/* out, optional */
    bool no_catchup;        /* a node resuming from a clock pause does not
                               get the ticks it missed (breaks the lease
                               assumption of raft.h, on purpose) */
    int reconf;             /* SIM_RECONF_*; 0: drawn (two runs in three) */
    bool no_conf_compare;   /* skip comparing the configuration a node
                               reports with the one its log implies (to
                               see what the other invariants catch) */
};

/* Whether a run reconfigures its cluster. */
enum {
    SIM_RECONF_ON = 1,
    SIM_RECONF_OFF = 2
};

/* How the nodes of a run persist. */
enum {
    SIM_PERSIST_SYNC = 1,  /* every node synchronous */
    SIM_PERSIST_ASYNC = 2, /* every node asynchronous */
    SIM_PERSIST_MIXED = 3  /* each node drawn */
};

enum {
    SIM_PASS = 0,  /* every property held */
    SIM_FAIL = 1,  /* a property was violated: err describes it */
    SIM_ERROR = -1 /* the simulator itself could not run (out of memory,
                      bad options): err describes it */
};

/*
 * Run one simulation. `o` and `ch` are borrowed. On SIM_FAIL or SIM_ERROR a
 * NUL-terminated description ("event N: property: details") is written to
 * err[0..errlen) when errlen > 0.
 */
int sim_run(const struct sim_opts *o, const struct sim_chooser *ch, char *err,
            size_t errlen);

/*
 * Election figures (PreVote and CheckQuorum on and off, scenarios A..C of
 * sim_figures.c), `seeds` runs per row, printed as a table to `out`.
 * Returns SIM_PASS, or SIM_FAIL if a run violated a property.
 */
int sim_figures(FILE *out, unsigned seeds);

/*
 * Membership figures (sim_fig_conf.c): unavailability, the longest
 * stretch of ticks in which no client command commits, during a
 * leadership transfer and during the replacement of a voter, against a
 * quiet window and a leader crash; `seeds` runs per row, printed to out.
 */
int sim_conf_figures(FILE *out, unsigned seeds);

#endif /* SIM_H */
