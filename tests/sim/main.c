/*
 * main.c - command-line runner for the cluster simulator.
 *
 *   sim --seeds N [--first F] [--nodes K] [--persist M] [--events E]
 *       [--no-catchup] [--stats]
 *       runs seeds F..F+N-1 and ends with "sim: P passed, Q failed";
 *       exits 1 if any seed failed.
 *   sim --seed S [--nodes K] [--persist M] [--events E] [-v] [--svg FILE]
 *       replays one seed exactly; -v traces every event to stdout, and
 *       --svg writes a picture of the run's timeline to FILE.
 *   sim --figures [--seeds N]
 *       election figures with PreVote and CheckQuorum on and off, N runs
 *       (default 20) per row (sim_figures.c).
 *   sim --conf-figures [--seeds N]
 *       membership figures: unavailability during a leadership transfer
 *       and the replacement of a voter, N runs (default 20) per row
 *       (sim_fig_conf.c).
 *   sim -h | --help | --version
 *
 * A seed fully determines a run (node count, persistence mode,
 * configuration, faults and schedule); --nodes K overrides only the node
 * count and --persist sync|async|mixed only the persistence mode, and a
 * failure report prints the exact command that reproduces it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft.h"
#include "sim.h"

struct sim_cli {
    const char *argv0;
    uint64_t first, count;
    bool single, verbose, stats, figures, conf_figures;
    const char *svg; /* picture file, or NULL */
    struct sim_opts opts;
};

struct sim_totals {
    struct sim_stats sum;
    double worst_heal; /* max heal_steps / heal_bound */
    uint64_t worst_heal_seed;
    uint64_t snap_runs, install_runs; /* runs that took / installed one */
    uint64_t voter_sizes; /* bit k: some run committed k voters */
};

static void sim_usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s --seeds N [--first F] [--nodes K] [--persist M] [--events E] "
            "[--reconf on|off] [--no-catchup] [--no-conf-compare] [--stats]\n"
            "       %s --seed S [--nodes K] [--persist M] [--events E] "
            "[--reconf on|off] [--no-catchup] [--no-conf-compare] [-v] "
            "[--svg FILE]\n"
            "       %s --figures [--seeds N] | --conf-figures [--seeds N]\n"
            "       %s -h | --help | --version\n",
            argv0, argv0, argv0, argv0);
}

static bool sim_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

static bool sim_parse_args(int argc, char **argv, struct sim_cli *c)
{
    bool have_seeds = false;
    memset(c, 0, sizeof *c);
    c->argv0 = argv[0];
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            sim_usage(stdout, argv[0]);
            exit(0);
        } else if (strcmp(a, "--version") == 0) {
            printf("sim (raft library %d.%d.%d)\n", RAFT_VERSION_MAJOR,
                   RAFT_VERSION_MINOR, RAFT_VERSION_PATCH);
            exit(0);
        } else if (strcmp(a, "-v") == 0) {
            c->verbose = true;
            i--; /* a flag: no value to skip */
        } else if (strcmp(a, "--stats") == 0) {
            c->stats = true;
            i--;
        } else if (strcmp(a, "--figures") == 0) {
            c->figures = true;
            i--;
        } else if (strcmp(a, "--conf-figures") == 0) {
            c->conf_figures = true;
            i--;
        } else if (strcmp(a, "--no-catchup") == 0) {
            c->opts.no_catchup = true;
            i--;
        } else if (strcmp(a, "--no-conf-compare") == 0) {
            c->opts.no_conf_compare = true;
            i--;
        } else if (strcmp(a, "--reconf") == 0 && v != NULL) {
            if (strcmp(v, "on") == 0)
                c->opts.reconf = SIM_RECONF_ON;
            else if (strcmp(v, "off") == 0)
                c->opts.reconf = SIM_RECONF_OFF;
            else
                return false;
        } else if (strcmp(a, "--persist") == 0 && v != NULL) {
            static const char *const modes[] = {"sync", "async", "mixed"};
            int m;
            for (m = 0; m < 3 && strcmp(v, modes[m]) != 0; m++) {
            }
            if (m == 3)
                return false;
            c->opts.persist_mode = SIM_PERSIST_SYNC + m;
        } else if (strcmp(a, "--svg") == 0 && v != NULL) {
            c->svg = v;
        } else if (!sim_parse_u64(v, &x)) {
            return false; /* every other option takes a number */
        } else if (strcmp(a, "--seeds") == 0) {
            c->count = x;
            have_seeds = true;
        } else if (strcmp(a, "--first") == 0) {
            c->first = x;
        } else if (strcmp(a, "--seed") == 0) {
            c->first = x;
            c->count = 1;
            c->single = true;
        } else if (strcmp(a, "--nodes") == 0 && x >= 1 && x <= SIM_MAX_NODES) {
            c->opts.n_nodes = (unsigned)x;
        } else if (strcmp(a, "--events") == 0) {
            c->opts.fault_events = x;
        } else {
            return false;
        }
    }
    if (c->figures || c->conf_figures) /* --seeds N optional: runs per row */
        return !c->single && c->svg == NULL && !(c->figures && c->conf_figures);
    /* A picture is of one run. */
    return have_seeds != c->single && (c->svg == NULL || c->single);
}

/* Run one seed, with its picture written to svg if not NULL; report a
 * failure with the commands that replay it and draw it. */
static int sim_run_seed(const struct sim_cli *c, uint64_t seed,
                        struct sim_stats *st, FILE *svg)
{
    struct sim_rng g;
    struct sim_chooser ch;
    struct sim_opts o = c->opts;
    char err[1024];
    char extra[160] = "";
    char label[32];
    sim_rng_init(&g, seed);
    sim_rng_chooser(&g, &ch);
    o.stats = st;
    o.trace = c->single && c->verbose ? stdout : NULL;
    o.svg = svg;
    snprintf(label, sizeof label, "seed %llu", (unsigned long long)seed);
    o.svg_label = label;
    int rc = sim_run(&o, &ch, err, sizeof err);
    if (rc == SIM_PASS)
        return 0;
    static const char *const modes[] = {"", " --persist sync",
                                        " --persist async", " --persist mixed"};
    static const char *const reconf[] = {"", " --reconf on", " --reconf off"};
    char events[40] = "";
    if (o.fault_events != 0)
        snprintf(events, sizeof events, " --events %llu",
                 (unsigned long long)o.fault_events);
    snprintf(extra, sizeof extra, "%s%s%s%s%s", events, modes[o.persist_mode],
             reconf[o.reconf], o.no_catchup ? " --no-catchup" : "",
             o.no_conf_compare ? " --no-conf-compare" : "");
    printf("seed %llu (%u nodes): %s: %s\n", (unsigned long long)seed,
           st->n_nodes, rc == SIM_FAIL ? "FAIL" : "ERROR", err);
    printf("replay: %s --seed %llu --nodes %u%s -v\n", c->argv0,
           (unsigned long long)seed, st->n_nodes, extra);
    printf("picture: %s --seed %llu --nodes %u%s --svg seed-%llu.svg\n",
           c->argv0, (unsigned long long)seed, st->n_nodes, extra,
           (unsigned long long)seed);
    fflush(stdout);
    return 1;
}

static void sim_add_stats(struct sim_totals *t, const struct sim_stats *st,
                          uint64_t seed)
{
    struct sim_stats *u = &t->sum;
    u->events += st->events;
    u->steps += st->steps;
    u->heal_steps += st->heal_steps;
    u->delivered += st->delivered;
    u->dropped += st->dropped;
    u->duplicated += st->duplicated;
    u->crashes += st->crashes;
    u->restarts += st->restarts;
    u->partitions += st->partitions;
    u->strikes += st->strikes;
    u->proposals += st->proposals;
    u->accepted += st->accepted;
    u->committed += st->committed;
    u->elections += st->elections;
    if (st->max_term > u->max_term)
        u->max_term = st->max_term;
    u->persist_failures += st->persist_failures;
    u->send_failures += st->send_failures;
    u->apply_failures += st->apply_failures;
    u->async_nodes += st->async_nodes;
    u->completions += st->completions;
    u->sync_failures += st->sync_failures;
    u->ghost_writes += st->ghost_writes;
    u->ghost_landed += st->ghost_landed;
    u->n_nodes += st->n_nodes;
    u->wire_bytes += st->wire_bytes;
    u->slow_runs += st->slow_runs;
    u->snapshots += st->snapshots;
    u->installs += st->installs;
    u->snap_chunks += st->snap_chunks;
    u->reads += st->reads;
    u->reads_served += st->reads_served;
    u->reads_failed += st->reads_failed;
    u->reads_refused += st->reads_refused;
    u->reads_dropped += st->reads_dropped;
    u->lease_runs += st->lease_runs;
    u->pauses += st->pauses;
    u->stretches += st->stretches;
    u->reconf_runs += st->reconf_runs;
    u->changes += st->changes;
    u->changes_ok += st->changes_ok;
    u->changes_busy += st->changes_busy;
    u->changes_bad += st->changes_bad;
    u->conf_written += st->conf_written;
    u->conf_committed += st->conf_committed;
    u->joint_committed += st->joint_committed;
    u->transfers += st->transfers;
    u->transfers_ok += st->transfers_ok;
    u->transfers_done += st->transfers_done;
    u->transfers_aborted += st->transfers_aborted;
    u->removed_leaders += st->removed_leaders;
    u->not_member += st->not_member;
    t->voter_sizes |= st->voter_sizes;
    t->snap_runs += st->snapshots > 0;
    t->install_runs += st->installs > 0;
    double r = st->heal_bound ? (double)st->heal_steps / (double)st->heal_bound
                              : 0;
    if (r > t->worst_heal) {
        t->worst_heal = r;
        t->worst_heal_seed = seed;
    }
}

static void sim_print_stats(const struct sim_totals *t, uint64_t runs)
{
    const struct sim_stats *u = &t->sum;
    printf("stats over %llu runs: events %llu, steps %llu, delivered %llu, "
           "dropped %llu, duplicated %llu, crashes %llu, restarts %llu, "
           "partitions %llu, nemesis strikes %llu\n",
           (unsigned long long)runs, (unsigned long long)u->events,
           (unsigned long long)u->steps, (unsigned long long)u->delivered,
           (unsigned long long)u->dropped, (unsigned long long)u->duplicated,
           (unsigned long long)u->crashes, (unsigned long long)u->restarts,
           (unsigned long long)u->partitions,
           (unsigned long long)u->strikes);
    printf("  proposals %llu, accepted %llu, committed entries %llu, "
           "elections %llu, max term %llu, injected failures: persist %llu "
           "send %llu apply %llu\n",
           (unsigned long long)u->proposals, (unsigned long long)u->accepted,
           (unsigned long long)u->committed, (unsigned long long)u->elections,
           (unsigned long long)u->max_term,
           (unsigned long long)u->persist_failures,
           (unsigned long long)u->send_failures,
           (unsigned long long)u->apply_failures);
    printf("  nodes %llu (asynchronous persistence %llu), raft_persisted "
           "calls %llu (failed %llu), writes that failed to start %llu (part "
           "of them landed %llu), runs with a slow node %llu, bytes "
           "through the wire codec %llu\n",
           (unsigned long long)u->n_nodes, (unsigned long long)u->async_nodes,
           (unsigned long long)u->completions,
           (unsigned long long)u->sync_failures,
           (unsigned long long)u->ghost_writes,
           (unsigned long long)u->ghost_landed,
           (unsigned long long)u->slow_runs,
           (unsigned long long)u->wire_bytes);
    printf("  snapshots taken %llu (in %llu runs), installed from a leader "
           "%llu (in %llu runs), chunks read %llu\n",
           (unsigned long long)u->snapshots, (unsigned long long)t->snap_runs,
           (unsigned long long)u->installs, (unsigned long long)t->install_runs,
           (unsigned long long)u->snap_chunks);
    printf("  reads asked %llu: served %llu, failed (leader lost) %llu, "
           "refused %llu, dropped by a crash %llu; runs with lease reads "
           "%llu, clock pauses %llu, stretch faults %llu\n",
           (unsigned long long)u->reads, (unsigned long long)u->reads_served,
           (unsigned long long)u->reads_failed,
           (unsigned long long)u->reads_refused,
           (unsigned long long)u->reads_dropped,
           (unsigned long long)u->lease_runs, (unsigned long long)u->pauses,
           (unsigned long long)u->stretches);
    char sizes[64] = "";
    size_t k = 0;
    for (unsigned i = 0; i < 64 && k < sizeof sizes; i++)
        if (t->voter_sizes >> i & 1)
            k += (size_t)snprintf(sizes + k, sizeof sizes - k, " %u", i);
    printf("  reconfiguration runs %llu: changes asked %llu, appended %llu, "
           "refused busy %llu, refused invalid %llu; configuration entries "
           "written %llu, committed %llu (joint %llu); voter counts "
           "committed:%s\n",
           (unsigned long long)u->reconf_runs, (unsigned long long)u->changes,
           (unsigned long long)u->changes_ok,
           (unsigned long long)u->changes_busy,
           (unsigned long long)u->changes_bad,
           (unsigned long long)u->conf_written,
           (unsigned long long)u->conf_committed,
           (unsigned long long)u->joint_committed, sizes);
    printf("  transfers asked %llu, accepted %llu, target elected %llu, "
           "abandoned %llu; removed leaders stepped down %llu; messages "
           "refused from non-members %llu\n",
           (unsigned long long)u->transfers, (unsigned long long)u->transfers_ok,
           (unsigned long long)u->transfers_done,
           (unsigned long long)u->transfers_aborted,
           (unsigned long long)u->removed_leaders,
           (unsigned long long)u->not_member);
    printf("  heal steps %llu; worst run used %.1f%% of its liveness bound "
           "(seed %llu)\n",
           (unsigned long long)u->heal_steps, 100.0 * t->worst_heal,
           (unsigned long long)t->worst_heal_seed);
}

int main(int argc, char **argv)
{
    struct sim_cli c;
    struct sim_totals t;
    uint64_t passed = 0, failed = 0;
    if (!sim_parse_args(argc, argv, &c)) {
        sim_usage(stderr, argv[0]);
        return 2;
    }
    if (c.figures)
        return sim_figures(stdout, c.count ? (unsigned)c.count : 20) == SIM_PASS
                   ? 0 : 1;
    if (c.conf_figures)
        return sim_conf_figures(stdout, c.count ? (unsigned)c.count : 20) ==
                       SIM_PASS
                   ? 0 : 1;
    FILE *svg = NULL;
    if (c.svg != NULL && (svg = fopen(c.svg, "w")) == NULL) {
        fprintf(stderr, "%s: cannot open %s: %s\n", argv[0], c.svg,
                strerror(errno));
        return 2;
    }
    memset(&t, 0, sizeof t);
    for (uint64_t i = 0; i < c.count; i++) {
        struct sim_stats st;
        memset(&st, 0, sizeof st);
        if (sim_run_seed(&c, c.first + i, &st, svg) == 0)
            passed++;
        else
            failed++;
        sim_add_stats(&t, &st, c.first + i);
    }
    long svg_size = 0;
    if (svg != NULL) {
        svg_size = ftell(svg);
        bool bad = ferror(svg) != 0;
        if (fclose(svg) != 0 || bad) {
            fprintf(stderr, "%s: cannot write %s\n", argv[0], c.svg);
            return 2;
        }
    }
    if (c.stats || c.single)
        sim_print_stats(&t, c.count);
    if (svg != NULL)
        printf("picture: %s (%ld bytes)\n", c.svg, svg_size);
    printf("sim: %llu passed, %llu failed\n", (unsigned long long)passed,
           (unsigned long long)failed);
    return failed == 0 ? 0 : 1;
}
