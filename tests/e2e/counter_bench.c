/*
 * counter_bench.c - throughput and latency of the replicated counter.
 *
 *   counter-bench --bin DIR [--seconds 10] [--warmup 2] [--clients 1,32]
 *                 [--read-clients 32] [--dir D] [--server-flag F]...
 *                 [--quantiles]
 *
 * Starts three DIR/counter-server processes on loopback (default flags:
 * fsync on, default tick) with their data in a temp dir under --dir
 * (default: DIR, the build directory, so that fsync hits a real disk rather
 * than a tmpfs /tmp), then for each client count runs a closed loop - each
 * client one outstanding INCR on its own connection, following leader
 * hints - for the warm-up and then the measured period, and prints
 *
 *   counter 3 nodes fsync, 1 client: 412 incr/s, latency median 2.31 ms, p99 4.90 ms
 *
 * Latency is from sending the request to reading the answer, retries
 * included. Then, with --read-clients clients (default 32), the same loop
 * with GETs: answered by ReadIndex (the servers' default), then from the
 * leader's lease and through the log (the servers restarted on the same
 * data with --lease-reads, then --log-reads), and a table of the GET
 * figures against INCR's. Stops every server and removes the temp dir at
 * the end.
 *
 *   counter-bench --bin DIR --restart N[,N...] [--dir D]
 *
 * measures restart time instead, for each history size N, with snapshots
 * off (--snapshot-every 0) and on (the default, every 10000 entries): a
 * fresh one-node cluster (10 ms ticks) takes N increments (pipelined,
 * from 8 connections), then is stopped and started again three times,
 * and it prints how long the process took to be back at its applied index
 * and value (the median of the three) and to answer STATUS at all:
 *
 *   restart with 1000000 increments of history, snapshots off: ...
 *
 *   counter-bench --bin DIR --unavailability N [--dir D]
 *
 * measures how long clients see no write committed during membership
 * changes, N runs of each scenario, each on a fresh cluster of three
 * voters (default ticks: 50 ms, election timeout 10 ticks) and a spare
 * node 4 (--join), with 4 clients incrementing in closed loops:
 *   - replacing a dead follower, as in make demo: SIGKILL a follower,
 *     start node 4 empty, add-learner 4, wait until it has caught up
 *     (by a snapshot: the nodes snapshot every 1000 entries), promote 4,
 *     remove the dead node;
 *   - the same when the dead node was the leader (an election first);
 *   - a leadership transfer from the leader to a follower.
 * The figure of a run is the longest time between two acknowledged
 * increments (of any client) from the kill, or the transfer request,
 * until 500 ms after the last step was acknowledged. The clients retry
 * after 1 ms (and follow leader hints at once), so the figure is the
 * cluster's, not a client backoff's. It prints each run,
 * the median, and the same figure over a quiet second before the event
 * (the noise floor).
 */
#include <dirent.h>
#include "cluster.h"
#include "flags.h"

static int opt_quantiles; /* --quantiles: print more latency quantiles */
static double g_fsync_ms;  /* median raw fdatasync of a small append */

static int cmp_i64(const void *x, const void *y);

/* The disk's own latency for what a commit needs: append 64 bytes to a
 * file in dir and fdatasync, 200 times; the median in ms (0 on error). */
static double raw_fdatasync_ms(const char *dir)
{
    enum { N = 200 };
    int64_t t[N];
    char path[CL_PATH_MAX], buf[64];
    int fd, i;
    snprintf(path, sizeof(path), "%s/fdatasync-probe", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return 0;
    }
    memset(buf, 'x', sizeof(buf));
    for (i = 0; i < N; i++) {
        int64_t t0 = cl_now_us();
        if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) ||
            fdatasync(fd) != 0) {
            close(fd);
            unlink(path);
            return 0;
        }
        t[i] = cl_now_us() - t0;
    }
    close(fd);
    unlink(path);
    qsort(t, N, sizeof(t[0]), cmp_i64);
    return (double)t[N / 2] / 1000.0;
}

struct bench {
    struct cluster *c;
    uint8_t op; /* CTR_OP_INCR or CTR_OP_GET */
    int64_t measure_from, end;
    volatile int stop;
};

/* One configuration's figures, for the reads table. */
struct result {
    int ok;
    double ops, p50, p99; /* per second; ms */
};

struct worker {
    struct bench *b;
    int idx;
    uint64_t client_id;
    int64_t *lat; /* microseconds, measured period only */
    size_t n, cap;
    uint64_t warm_ops, errors;
    struct cl_client cc;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct bench *b = w->b;
    uint64_t seq = 1;
    cl_client_init(&w->cc, b->c, w->idx, w->client_id);
    while (!b->stop) {
        struct ctr_req q = {b->op, w->client_id, seq,
                            b->op == CTR_OP_INCR ? 1 : 0};
        struct ctr_resp p;
        int64_t t0 = cl_now_us(), t1;
        int rc = cl_client_do(&w->cc, &q, &p, b->end, &b->stop);
        t1 = cl_now_us();
        if (rc == 1) {
            break; /* the end (an unfinished request is not counted) */
        }
        if (rc < 0) {
            w->errors++;
            break;
        }
        seq++;
        if (t0 < b->measure_from) {
            w->warm_ops++;
            continue;
        }
        if (t1 > b->end) {
            break; /* straddles the end of the measured period */
        }
        if (w->n == w->cap) {
            size_t ncap = w->cap ? w->cap * 2 : 4096;
            int64_t *nl = realloc(w->lat, ncap * sizeof(*nl));
            if (nl == NULL) {
                w->errors++;
                break;
            }
            w->lat = nl;
            w->cap = ncap;
        }
        w->lat[w->n++] = t1 - t0;
    }
    cl_client_close(&w->cc);
    return NULL;
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

static int run_config(struct cluster *c, uint8_t op, int nclients,
                      int warmup_s, int seconds, const char *label,
                      uint64_t *rng, struct result *res)
{
    struct bench b;
    struct worker *w = calloc((size_t)nclients, sizeof(*w));
    pthread_t *t = calloc((size_t)nclients, sizeof(*t));
    int64_t *all = NULL;
    size_t total = 0, k;
    uint64_t errors = 0, redirects = 0, retries = 0, timeouts = 0;
    int i, started = 0, rc = 0;

    if (w == NULL || t == NULL) {
        free(w);
        free(t);
        return -1;
    }
    memset(&b, 0, sizeof(b));
    memset(res, 0, sizeof(*res));
    b.c = c;
    b.op = op;
    b.measure_from = cl_now_us() + (int64_t)warmup_s * 1000000;
    b.end = b.measure_from + (int64_t)seconds * 1000000;
    for (i = 0; i < nclients; i++) {
        w[i].b = &b;
        w[i].idx = i;
        w[i].client_id = (cl_rand(rng) & ~(uint64_t)0xFFFF) | (uint64_t)(i + 1);
        if (pthread_create(&t[i], NULL, worker_main, &w[i]) != 0) {
            fprintf(stderr, "counter-bench: pthread_create failed\n");
            b.stop = 1;
            rc = -1;
            break;
        }
        started++;
    }
    for (i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
    }
    for (i = 0; i < started; i++) {
        total += w[i].n;
    }
    all = malloc((total + 1) * sizeof(*all));
    if (all == NULL) {
        rc = -1;
        total = 0;
    }
    total = 0;
    for (i = 0; i < started; i++) {
        if (all != NULL) {
            memcpy(all + total, w[i].lat, w[i].n * sizeof(*all));
            total += w[i].n;
        }
        errors += w[i].errors;
        redirects += w[i].cc.redirects;
        retries += w[i].cc.retries;
        timeouts += w[i].cc.timeouts;
        free(w[i].lat);
    }
    if (rc == 0 && total > 0) {
        double med, p99;
        qsort(all, total, sizeof(*all), cmp_i64);
        med = (double)all[total / 2] / 1000.0;
        k = (size_t)((double)total * 0.99);
        if (k >= total) {
            k = total - 1;
        }
        p99 = (double)all[k] / 1000.0;
        res->ok = 1;
        res->ops = (double)total / (double)seconds;
        res->p50 = med;
        res->p99 = p99;
        printf("counter 3 nodes %s, %d client%s: %.0f %s/s, latency median "
               "%.2f ms, p99 %.2f ms",
               label, nclients, nclients == 1 ? "" : "s", res->ops,
               op == CTR_OP_INCR ? "incr" : "get", med, p99);
        if (g_fsync_ms > 0) {
            printf(" (median = %.1f raw fdatasyncs)", med / g_fsync_ms);
        }
        printf("\n");
        if (opt_quantiles) {
            static const double qs[] = {0.1,  0.25, 0.5,  0.75, 0.9,
                                        0.95, 0.97, 0.99, 0.999};
            size_t q;
            printf("  quantiles (ms):");
            for (q = 0; q < sizeof(qs) / sizeof(qs[0]); q++) {
                size_t at = (size_t)((double)total * qs[q]);
                printf(" p%g=%.2f", qs[q] * 100,
                       (double)all[at < total ? at : total - 1] / 1000.0);
            }
            printf(" max=%.2f\n", (double)all[total - 1] / 1000.0);
        }
        if (errors > 0 || timeouts > 0 || retries > 0) {
            printf("  (%" PRIu64 " errors, %" PRIu64 " timeouts, %" PRIu64
                   " CTR_RETRY, %" PRIu64 " redirects)\n",
                   errors, timeouts, retries, redirects);
        }
    } else if (rc == 0) {
        printf("counter 3 nodes %s, %d client%s: no %s completed "
               "(%" PRIu64 " errors)\n",
               label, nclients, nclients == 1 ? "" : "s",
               op == CTR_OP_INCR ? "increment" : "read", errors);
        rc = -1;
    }
    if (errors > 0) {
        rc = -1;
    }
    fflush(stdout);
    free(all);
    free(w);
    free(t);
    return rc;
}

/* ---- reads against increments ------------------------------------------ */

/* Restart every server on its data with `mode` (NULL: none) added to the
 * first nextra extra flags; 0 once there is a leader. */
static int restart_with(struct cluster *c, int nextra, const char *mode)
{
    int i, k = nextra;
    cl_stop_all(c, SIGTERM);
    if (mode != NULL) {
        c->extra[k++] = mode;
    }
    c->extra[k++] = "--quiet";
    if (k < 8) {
        c->extra[k] = NULL;
    }
    for (i = 0; i < c->n; i++) {
        cl_start(c, i);
    }
    if (cl_wait_leader(c, 15000) < 0) {
        fprintf(stderr, "counter-bench: no leader within 15 s of a restart "
                "with %s\n", mode != NULL ? mode : "default flags");
        return -1;
    }
    return 0;
}

/* The figures of one row of the reads table. */
static void reads_row(const char *what, const struct result *r,
                      const struct result *incr)
{
    if (!r->ok) {
        printf("  %-26s %9s\n", what, "failed");
        return;
    }
    printf("  %-26s %9.0f %8.2f %8.2f", what, r->ops, r->p50, r->p99);
    if (incr->ok && incr->ops > 0 && r != incr) {
        printf(" %7.1fx", r->ops / incr->ops);
    }
    printf("\n");
}

/*
 * GET throughput and latency with n clients, by each way the server can
 * answer it, against INCR on the same cluster: ReadIndex (the default),
 * the leader's lease (--lease-reads) and, for comparison, the log
 * (--log-reads). The servers are restarted on the same data for each mode;
 * *incr is the INCR figure if already measured with n clients.
 */
static int reads_bench(struct cluster *c, int nextra, int n, int warmup,
                       int seconds, const char *label, uint64_t *rng,
                       struct result *incr)
{
    static const struct {
        const char *flag, *name;
    } modes[] = {{NULL, "GET by ReadIndex"},
                 {"--lease-reads", "GET from the lease"},
                 {"--log-reads", "GET through the log"}};
    struct result res[3];
    char lab[160];
    size_t m;
    int failed = 0;
    if (!incr->ok) {
        failed |= run_config(c, CTR_OP_INCR, n, warmup, seconds, label, rng,
                             incr) != 0;
    }
    for (m = 0; m < 3; m++) {
        memset(&res[m], 0, sizeof(res[m]));
        if (m > 0 && restart_with(c, nextra, modes[m].flag) != 0) {
            failed = 1;
            continue;
        }
        snprintf(lab, sizeof(lab), "%s, %s", label, modes[m].name);
        failed |= run_config(c, CTR_OP_GET, n, warmup, seconds, lab, rng,
                             &res[m]) != 0;
    }
    printf("counter-bench: reads against increments, %d clients, 3 nodes, %s "
           "(target: ReadIndex GETs at least 3x the INCR throughput)\n",
           n, label);
    printf("  %-26s %9s %8s %8s %8s\n", "operation", "ops/s", "p50 ms",
           "p99 ms", "vs INCR");
    reads_row("INCR (through the log)", incr, incr);
    for (m = 0; m < 3; m++) {
        reads_row(modes[m].name, &res[m], incr);
    }
    fflush(stdout);
    return failed ? -1 : 0;
}

/* ---- restart time ------------------------------------------------------- */

#define LOAD_CONNS 8
#define LOAD_DEPTH 32 /* requests in flight per connection (server: 64) */

struct loader {
    const struct cluster *c;
    int node;
    uint64_t client, quota;
    int failed;
    char why[160];
};

/* Send `quota` INCR 1 on one connection, LOAD_DEPTH in flight, each
 * answered OK in order (a stable cluster: anything else is a failure). */
static void *loader_main(void *arg)
{
    struct loader *l = arg;
    uint8_t buf[LOAD_DEPTH * CTR_REQ_LEN];
    uint64_t sent = 0, done = 0;
    int fd = cl_dial_client(l->c, l->c->addr[l->node], 5000);
    if (fd < 0) {
        snprintf(l->why, sizeof(l->why), "cannot connect to the leader");
        l->failed = 1;
        return NULL;
    }
    cl_set_timeout(fd, 30000);
    while (done < l->quota) {
        struct ctr_resp p;
        size_t k = 0;
        while (sent < l->quota && sent - done < LOAD_DEPTH) {
            struct ctr_req q = {CTR_OP_INCR, l->client, ++sent, 1};
            ctr_req_encode(&q, buf + CTR_REQ_LEN * k++);
        }
        if (k > 0 && ctr_write_full(fd, buf, CTR_REQ_LEN * k) != 0) {
            snprintf(l->why, sizeof(l->why), "write: %s", strerror(errno));
            break;
        }
        if (cl_read_resp(fd, &p) != 0 || p.status != CTR_OK) {
            snprintf(l->why, sizeof(l->why), "answer %" PRIu64 ": %s", done + 1,
                     p.status != CTR_OK ? "not OK" : "read failed");
            break;
        }
        done++;
    }
    l->failed = done < l->quota;
    close(fd);
    return NULL;
}

/* n increments through the leader; 0 on success. */
static int load(struct cluster *c, int leader, uint64_t n, uint64_t *rng)
{
    struct loader l[LOAD_CONNS];
    pthread_t t[LOAD_CONNS];
    int i, started = 0, failed = 0;
    for (i = 0; i < LOAD_CONNS; i++) {
        l[i].c = c;
        l[i].node = leader;
        l[i].client = (cl_rand(rng) & ~(uint64_t)0xFF) | (uint64_t)(i + 1);
        l[i].quota = n / LOAD_CONNS + (i < (int)(n % LOAD_CONNS) ? 1 : 0);
        l[i].failed = 0;
        l[i].why[0] = '\0';
        if (pthread_create(&t[i], NULL, loader_main, &l[i]) != 0) {
            failed = 1;
            break;
        }
        started++;
    }
    for (i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
        if (l[i].failed) {
            fprintf(stderr, "counter-bench: loader %d: %s\n", i, l[i].why);
            failed = 1;
        }
    }
    return failed ? -1 : 0;
}

/* Bytes of node i's log segments and snapshot files, and their number. */
static void node_disk(const struct cluster *c, int i, double *log_mb,
                      int *segs, double *snap_kb)
{
    char dir[CL_PATH_MAX], path[CL_PATH_MAX + 300];
    DIR *d;
    struct dirent *de;
    struct stat st;
    *log_mb = *snap_kb = 0;
    *segs = 0;
    cl_path(c, dir, sizeof(dir), i, "");
    d = opendir(dir);
    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0) {
            continue;
        }
        if (strncmp(de->d_name, "log-", 4) == 0) {
            *log_mb += (double)st.st_size / 1e6;
            (*segs)++;
        } else if (strncmp(de->d_name, "snap-", 5) == 0) {
            *snap_kb += (double)st.st_size / 1e3;
        }
    }
    closedir(d);
}

/* The last line of node i's server log containing `what`, without the
 * time stamp, into out. */
static void last_log_line(const struct cluster *c, int i, const char *what,
                          char *out, size_t len)
{
    char path[CL_PATH_MAX], line[1024];
    FILE *f;
    out[0] = '\0';
    cl_path(c, path, sizeof(path), i, ".log");
    f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *sp = strchr(line, ' ');
        if (strstr(line, what) != NULL && sp != NULL) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, len, "%s", sp + 1);
        }
    }
    fclose(f);
}

/* Stop node f (SIGTERM), start it again and time: until it answers
 * STATUS (*up_ms) and until it is back at applied >= commit with `value`
 * (*ready_ms). */
static int time_restart(struct cluster *c, int f, uint64_t commit,
                        uint64_t value, double *up_ms, double *ready_ms)
{
    int64_t t0, until;
    int up = 0;
    cl_stop(c, f, SIGTERM);
    t0 = cl_now_us();
    until = t0 + 120 * 1000000;
    cl_start(c, f);
    while (cl_now_us() < until) {
        struct ctr_resp p;
        if (cl_status(c, f, &p, 1000) == 0) {
            if (!up) {
                *up_ms = (double)(cl_now_us() - t0) / 1e3;
                up = 1;
            }
            if (p.applied >= commit && p.value == value) {
                *ready_ms = (double)(cl_now_us() - t0) / 1e3;
                return 0;
            }
        }
        cl_sleep_ms(2);
    }
    return -1;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* One history size, one snapshot setting. A one-node cluster with 10 ms
 * ticks: a restarted follower of a bigger cluster waits for the leader to
 * reconnect (its backoff grows to a second while the node is down), which
 * would hide what the restart itself costs; here the wait is the election
 * timeout, 100-125 ms, the same with snapshots or without. */
static int restart_run(const char *bin, const char *tmpl, uint64_t n,
                       bool snapshots, uint64_t *rng)
{
    enum { RUNS = 3 };
    struct cluster c;
    double up[RUNS], ready[RUNS], log_mb, snap_kb, t_load;
    uint64_t value = 0, commit = 0;
    int i, segs, rc = 0;
    int64_t t0;
    char line[1024];
    if (cl_init(&c, 1, bin, tmpl, rng) != 0) {
        return -1;
    }
    c.extra[0] = snapshots ? "--snapshot-every=10000" : "--snapshot-every=0";
    c.extra[1] = "--tick-ms=10";
    cl_start(&c, 0);
    t0 = cl_now_us();
    if (cl_wait_leader(&c, 15000) < 0 || load(&c, 0, n, rng) != 0 ||
        cl_wait_agree(&c, 60000, &value, &commit) != 0 || value != n) {
        fprintf(stderr, "counter-bench: restart %s: loading %" PRIu64
                " increments failed (value %" PRIu64 ")\n",
                snapshots ? "with snapshots" : "without", n, value);
        rc = -1;
    }
    t_load = (double)(cl_now_us() - t0) / 1e6;
    for (i = 0; i < RUNS && rc == 0; i++) {
        rc = time_restart(&c, 0, commit, value, &up[i], &ready[i]);
    }
    if (rc == 0) {
        node_disk(&c, 0, &log_mb, &segs, &snap_kb);
        last_log_line(&c, 0, " restored from ", line, sizeof(line));
        qsort(up, RUNS, sizeof(up[0]), cmp_double);
        qsort(ready, RUNS, sizeof(ready[0]), cmp_double);
        printf("restart with %" PRIu64 " increments of history, snapshots %s: "
               "%.0f ms (median of %d: %.0f .. %.0f) until back at applied %"
               PRIu64 " and value %" PRIu64 "; STATUS answered after %.0f ms\n",
               n, snapshots ? "on (every 10000)" : "off", ready[RUNS / 2], RUNS,
               ready[0], ready[RUNS - 1], commit, value, up[RUNS / 2]);
        printf("  files: %.1f MB of log in %d segment%s, %.1f kB of snapshot "
               "(history loaded in %.1f s, %.0f increments/s)\n",
               log_mb, segs, segs == 1 ? "" : "s", snap_kb, t_load,
               (double)n / t_load);
        printf("  server: %s\n", line);
    } else {
        fprintf(stderr, "counter-bench: the restarted node did not catch up "
                "within 120 s\n");
        cl_dump_logs(&c, 20);
    }
    cl_stop_all(&c, SIGTERM);
    cl_remove_dir(&c);
    return rc;
}

static int restart_bench(const char *bin, const char *dir, const char *sizes)
{
    char tmpl[CL_PATH_MAX], *list = strdup(sizes), *tok, *save = NULL;
    uint64_t rng = (uint64_t)cl_now_us() ^ ((uint64_t)getpid() << 32);
    int failed = 0;
    snprintf(tmpl, sizeof(tmpl), "%s/counter-bench.XXXXXX", dir);
    printf("counter-bench: restart time of a one-node cluster (10 ms ticks): "
           "SIGTERM, start, until it answers STATUS at its old applied index "
           "and value; data in %s\n", dir);
    for (tok = list != NULL ? strtok_r(list, ",", &save) : NULL; tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        uint64_t n = strtoull(tok, NULL, 10);
        if (n == 0) {
            fprintf(stderr, "counter-bench: bad history size '%s'\n", tok);
            failed = 1;
            continue;
        }
        failed |= restart_run(bin, tmpl, n, false, &rng) != 0;
        failed |= restart_run(bin, tmpl, n, true, &rng) != 0;
    }
    free(list);
    return failed ? 1 : 0;
}

#define MAX_SERVER_FLAGS 6

/* ---- unavailability during membership changes ------------------------- */

#define UA_CLIENTS 4

struct ua_client {
    struct cluster *c;
    volatile int *stop;
    int idx;
    uint64_t rng, client_id;
    pthread_mutex_t *mu; /* guards the times of all clients */
    int64_t **t;         /* acknowledgement times, all clients */
    size_t *n, *cap;
    uint64_t failed;
};

/* Like cl_client_do, but retrying after 1 ms instead of a backoff that
 * grows to 100 ms: the time without a commit is then the cluster's, not
 * the client's backoff. 0 on CTR_OK, 1 if it gave up. */
static int ua_do(struct cl_client *cc, const struct ctr_req *q,
                 struct ctr_resp *p, int64_t give_up_us, volatile int *stop)
{
    while (cl_now_us() < give_up_us && !*stop) {
        int next;
        if (cc->fd < 0) {
            cc->fd = cl_dial_client(cc->c, cc->c->addr[cc->node], 1000);
            cc->fd_timeout_ms = 1000;
        }
        if (cc->fd >= 0 && cl_request(cc, q, p, 1000) == 0) {
            if (p->status == CTR_OK) {
                return 0;
            }
            if (p->status == CTR_RETRY && p->role == CL_ROLE_LEADER) {
                cl_sleep_ms(1);
                continue;
            }
            next = p->status == CTR_NOT_LEADER && p->addr[0] != '\0'
                       ? cl_node_of(cc->c, p->addr) : -1;
            if (next >= 0 && next != cc->node) {
                cl_client_close(cc);
                cc->node = next;
                continue;
            }
        }
        cl_client_close(cc);
        cc->node = (cc->node + 1) % cc->c->n;
        cl_sleep_ms(1);
    }
    cl_client_close(cc);
    return 1;
}

static void *ua_client_main(void *arg)
{
    struct ua_client *x = arg;
    struct cl_client cc;
    uint64_t seq = 1;
    cl_client_init(&cc, x->c, x->idx, x->rng);
    while (!*x->stop) {
        struct ctr_req q = {CTR_OP_INCR, x->client_id, 0, 1};
        struct ctr_resp p;
        q.seq = seq;
        if (ua_do(&cc, &q, &p, cl_now_us() + 10000000, x->stop) == 0) {
            int64_t now = cl_now_us();
            pthread_mutex_lock(x->mu);
            if (*x->n == *x->cap) {
                size_t ncap = *x->cap ? *x->cap * 2 : 65536;
                int64_t *nt = realloc(*x->t, ncap * sizeof(*nt));
                if (nt != NULL) {
                    *x->t = nt;
                    *x->cap = ncap;
                }
            }
            if (*x->n < *x->cap) {
                (*x->t)[(*x->n)++] = now;
            }
            pthread_mutex_unlock(x->mu);
            seq++;
        } else if (!*x->stop) {
            x->failed++;
            seq++;
        }
    }
    cl_client_close(&cc);
    return NULL;
}

/* The longest time between two of the sorted times t[0..n) that fall in
 * [from, to], the ends counting. */
static int64_t ua_gap(const int64_t *t, size_t n, int64_t from, int64_t to)
{
    int64_t prev = from, best = 0;
    size_t k;
    for (k = 0; k < n; k++) {
        if (t[k] < from || t[k] > to) {
            continue;
        }
        best = t[k] - prev > best ? t[k] - prev : best;
        prev = t[k];
    }
    return to - prev > best ? to - prev : best;
}

/* A membership op through the client protocol; 0 when acknowledged. */
static int ua_op(struct cluster *c, uint64_t *rng, uint8_t op, int node)
{
    struct cl_client cc;
    struct ctr_req q = {0, 0, 0, 0};
    struct ctr_resp p;
    int rc;
    q.op = op;
    q.amount = (uint64_t)node + 1;
    cl_client_init(&cc, c, 0, cl_rand(rng));
    rc = cl_client_do(&cc, &q, &p, cl_now_us() + 20000000, NULL);
    cl_client_close(&cc);
    return rc;
}

enum { UA_REPLACE_FOLLOWER, UA_REPLACE_LEADER, UA_TRANSFER, UA_N };

static const char *const ua_names[UA_N] = {
    "replacing a dead follower (kill, add-learner, catch up, promote, remove)",
    "replacing a dead leader (the same, after an election)",
    "leadership transfer to a follower"};

/* One run of scenario `sc` on a fresh cluster: *gap_ms the unavailability,
 * *floor_ms the same figure over a quiet second before, *took_ms how long
 * the whole change took. 0, or -1 if something failed. */
static int ua_run(const char *bin, const char *tmpl, int sc, uint64_t *rng,
                  double *gap_ms, double *floor_ms, double *took_ms)
{
    struct cluster c;
    struct ua_client x[UA_CLIENTS];
    pthread_t tid[UA_CLIENTS];
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    volatile int stop = 0;
    int64_t *t = NULL, t_quiet = 0, t_event = 0, t_done = 0;
    size_t n = 0, cap = 0;
    int i, leader, victim, started = 0, rc = -1;
    if (cl_init(&c, 4, bin, tmpl, rng) != 0 || cl_set_initial(&c, 3) != 0) {
        return -1;
    }
    c.extra[0] = "--snapshot-every=1000";
    c.extra[1] = "--snapshot-trailing=100";
    c.extra[2] = "--quiet";
    for (i = 0; i < 3; i++) {
        cl_start(&c, i);
    }
    if ((leader = cl_wait_leader(&c, 15000)) < 0) {
        fprintf(stderr, "counter-bench: no leader\n");
        goto out;
    }
    for (i = 0; i < UA_CLIENTS; i++) {
        x[i].c = &c;
        x[i].stop = &stop;
        x[i].idx = i;
        x[i].rng = cl_rand(rng);
        x[i].client_id = cl_rand(rng) | 1;
        x[i].mu = &mu;
        x[i].t = &t;
        x[i].n = &n;
        x[i].cap = &cap;
        x[i].failed = 0;
        if (pthread_create(&tid[i], NULL, ua_client_main, &x[i]) != 0) {
            stop = 1;
            break;
        }
        started++;
    }
    cl_sleep_ms(1500);
    t_quiet = cl_now_us();
    cl_sleep_ms(1000);
    if ((leader = cl_wait_leader(&c, 5000)) < 0) {
        goto out;
    }
    victim = sc == UA_REPLACE_LEADER ? leader : (leader + 1) % 3;
    t_event = cl_now_us();
    if (sc == UA_TRANSFER) {
        struct ctr_resp p;
        if (ua_op(&c, rng, CTR_OP_TRANSFER, victim) != 0) {
            fprintf(stderr, "counter-bench: transfer %d not started\n", victim + 1);
            goto out;
        }
        while (cl_now_us() - t_event < 10000000 &&
               (cl_status(&c, victim, &p, 300) != 0 || p.role != CL_ROLE_LEADER)) {
            cl_sleep_ms(2);
        }
        if (p.role != CL_ROLE_LEADER) {
            fprintf(stderr, "counter-bench: node %d does not lead 10 s after "
                    "the transfer\n", victim + 1);
            goto out;
        }
    } else {
        int64_t until;
        cl_stop(&c, victim, SIGKILL);
        cl_start(&c, 3);
        if (ua_op(&c, rng, CTR_OP_ADD_LEARNER, 3) != 0) {
            fprintf(stderr, "counter-bench: add-learner 4 failed\n");
            goto out;
        }
        until = cl_now_us() + 10000000;
        for (;;) {
            struct ctr_resp p;
            int l = cl_find_leader(&c, NULL);
            uint32_t k;
            int caught = 0;
            if (l >= 0 && cl_conf(&c, l, &p, 500) == 0) {
                for (k = 0; k < p.n_members; k++) {
                    caught |= p.members[k].id == 4 &&
                              p.members[k].match + 10 >= p.last_index;
                }
            }
            if (caught) {
                break;
            }
            if (cl_now_us() > until) {
                fprintf(stderr, "counter-bench: node 4 did not catch up\n");
                goto out;
            }
            cl_sleep_ms(5);
        }
        if (ua_op(&c, rng, CTR_OP_ADD_VOTER, 3) != 0 ||
            ua_op(&c, rng, CTR_OP_REMOVE, victim) != 0) {
            fprintf(stderr, "counter-bench: promote 4 or remove %d failed\n",
                    victim + 1);
            goto out;
        }
    }
    t_done = cl_now_us();
    cl_sleep_ms(500);
    rc = 0;
out:
    stop = 1;
    for (i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
        if (x[i].failed > 0 && rc == 0) {
            fprintf(stderr, "counter-bench: a client gave up on a request\n");
            rc = -1;
        }
    }
    if (rc == 0) {
        qsort(t, n, sizeof(*t), cmp_i64);
        *floor_ms = (double)ua_gap(t, n, t_quiet, t_quiet + 1000000) / 1e3;
        *gap_ms = (double)ua_gap(t, n, t_event, t_done + 500000) / 1e3;
        *took_ms = (double)(t_done - t_event) / 1e3;
    }
    free(t);
    cl_stop_all(&c, SIGKILL);
    if (rc != 0) {
        cl_dump_logs(&c, 30);
    }
    cl_remove_dir(&c);
    return rc;
}

static int unavail_bench(const char *bin, const char *dir, int runs)
{
    char tmpl[CL_PATH_MAX];
    uint64_t rng = (uint64_t)cl_now_us() ^ ((uint64_t)getpid() << 32);
    int sc, k, failed = 0;
    snprintf(tmpl, sizeof(tmpl), "%s/counter-bench.XXXXXX", dir);
    printf("counter-bench: unavailability (the longest time with no "
           "increment acknowledged to any of %d closed-loop clients), %d "
           "runs per scenario; ticks of 50 ms, election timeout 500-625 ms\n",
           UA_CLIENTS, runs);
    for (sc = 0; sc < UA_N; sc++) {
        double gap[64], flo[64], took[64];
        int ok = 0;
        printf("%s:\n", ua_names[sc]);
        for (k = 0; k < runs; k++) {
            if (ua_run(bin, tmpl, sc, &rng, &gap[ok], &flo[ok], &took[ok]) != 0) {
                printf("  run %d: FAILED\n", k + 1);
                failed = 1;
                continue;
            }
            printf("  run %d: %.0f ms without a commit (the change took %.0f "
                   "ms; quiet second before: %.1f ms)\n", k + 1, gap[ok],
                   took[ok], flo[ok]);
            ok++;
        }
        if (ok > 0) {
            qsort(gap, (size_t)ok, sizeof(gap[0]), cmp_double);
            qsort(flo, (size_t)ok, sizeof(flo[0]), cmp_double);
            qsort(took, (size_t)ok, sizeof(took[0]), cmp_double);
            printf("  median of %d: %.0f ms without a commit (min %.0f, max "
                   "%.0f); the change took %.0f ms; quiet second: %.1f ms\n",
                   ok, gap[ok / 2], gap[0], gap[ok - 1], took[ok / 2],
                   flo[ok / 2]);
        }
    }
    return failed ? 1 : 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: counter-bench --bin DIR [--seconds 10] [--warmup 2] "
            "[--clients 1,32] [--read-clients 32] [--dir D]\n"
            "                     [--server-flag F]... [--quantiles]\n"
            "       counter-bench -h | --help | --version\n"
            "  --bin          directory holding counter-server (required)\n"
            "  --seconds      measured period per configuration, 1..86400 "
            "(default 10)\n"
            "  --warmup       warm-up before each period, 0..3600 (default 2)\n"
            "  --clients      comma-separated client counts, each 1..1024 "
            "(default 1,32)\n"
            "  --dir          where to put the servers' data (default: --bin)\n"
            "  --read-clients GET throughput with this many clients, by\n"
            "                 ReadIndex, lease and log, against INCR (default "
            "32, 0: skip)\n"
            "  --server-flag  extra flag for every server (repeatable, max %d)\n"
            "  --quantiles    also print p10..p99.9 and max latency\n"
            "  --restart N,.. measure restart time after N increments of "
            "history instead,\n"
            "                 with snapshots off and on\n"
            "  --unavailability N  measure the time without a commit during\n"
            "                 membership changes and transfers instead, N runs\n"
            "                 each (1..64)\n",
            MAX_SERVER_FLAGS);
}

/* --clients: a comma-separated list of counts, each 1..1024. */
static void check_clients(struct ctr_flags *f, const char *list)
{
    const char *p = list;
    do {
        char *end;
        unsigned long n = strtoul(p, &end, 10);
        if (end == p || *p < '0' || *p > '9' || n < 1 || n > 1024 ||
            (*end != ',' && *end != '\0')) {
            ctr_flag_fail(f, "--clients: must be a comma-separated list of "
                          "counts between 1 and 1024 (got '%s')", list);
        }
        p = *end == ',' ? end + 1 : end;
    } while (*p != '\0');
}

int main(int argc, char **argv)
{
    const char *bin = NULL, *dir = NULL, *clients = "1,32", *restart = NULL;
    const char *extra[8] = {NULL}, *v;
    int seconds = 10, warmup = 2, i, nextra = 0, failed = 0, leader;
    int read_clients = 32, unavail = 0;
    struct result res, incr_at_reads;
    char tmpl[CL_PATH_MAX], label[128], *list, *tok, *save = NULL;
    struct ctr_flags f;
    struct cluster c;
    uint64_t rng;

    memset(&incr_at_reads, 0, sizeof(incr_at_reads));
    ctr_flags_init(&f, "counter-bench", usage, argc, argv);
    while (ctr_flags_next(&f)) {
        if (ctr_flag_is(&f, "--quantiles")) {
            opt_quantiles = 1;
        } else if ((v = ctr_flag_value(&f, "--bin")) != NULL) {
            bin = v;
        } else if ((v = ctr_flag_value(&f, "--seconds")) != NULL) {
            seconds = (int)ctr_flag_u64(&f, v, 1, 86400);
        } else if ((v = ctr_flag_value(&f, "--warmup")) != NULL) {
            warmup = (int)ctr_flag_u64(&f, v, 0, 3600);
        } else if ((v = ctr_flag_value(&f, "--clients")) != NULL) {
            check_clients(&f, v);
            clients = v;
        } else if ((v = ctr_flag_value(&f, "--dir")) != NULL) {
            dir = v;
        } else if ((v = ctr_flag_value(&f, "--read-clients")) != NULL) {
            read_clients = (int)ctr_flag_u64(&f, v, 0, 1024);
        } else if ((v = ctr_flag_value(&f, "--restart")) != NULL) {
            restart = v;
        } else if ((v = ctr_flag_value(&f, "--unavailability")) != NULL) {
            unavail = (int)ctr_flag_u64(&f, v, 1, 64);
        } else if ((v = ctr_flag_value(&f, "--server-flag")) != NULL) {
            if (nextra == MAX_SERVER_FLAGS) {
                ctr_flag_fail(&f, "--server-flag: at most %d",
                              MAX_SERVER_FLAGS);
            }
            extra[nextra++] = v;
        } else {
            ctr_flag_unknown(&f);
        }
    }
    if (f.i < argc) {
        fprintf(stderr, "counter-bench: unexpected argument '%s'\n",
                argv[f.i]);
        usage(stderr);
        return 2;
    }
    if (bin == NULL) {
        ctr_flag_fail(&f, "--bin: required (the directory holding "
                      "counter-server)");
    }
    snprintf(tmpl, sizeof(tmpl), "%s/counter-server", bin);
    if (access(tmpl, X_OK) != 0) {
        ctr_flag_fail(&f, "--bin: %s: %s", tmpl, strerror(errno));
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    rng = (uint64_t)cl_now_us() ^ ((uint64_t)getpid() << 32);
    cl_install_handlers(0);
    if (restart != NULL) {
        return restart_bench(bin, dir != NULL ? dir : bin, restart);
    }
    if (unavail > 0) {
        return unavail_bench(bin, dir != NULL ? dir : bin, unavail);
    }
    snprintf(tmpl, sizeof(tmpl), "%s/counter-bench.XXXXXX",
             dir != NULL ? dir : bin);
    if (cl_init(&c, 3, bin, tmpl, &rng) != 0) {
        return 1;
    }
    snprintf(label, sizeof(label), "fsync");
    for (i = 0; i < nextra; i++) {
        c.extra[i] = extra[i];
        snprintf(label + strlen(label), sizeof(label) - strlen(label), " %s",
                 extra[i]);
    }
    for (i = 0; i < c.n; i++) {
        c.extra[nextra] = "--quiet";
        cl_start(&c, i);
    }
    leader = cl_wait_leader(&c, 15000);
    if (leader < 0) {
        fprintf(stderr, "counter-bench: no leader within 15 s\n");
        cl_stop_all(&c, SIGKILL);
        cl_dump_logs(&c, 40);
        cl_remove_dir(&c);
        return 1;
    }
    printf("counter-bench: 3 servers on %s, data in %s, %d s warm-up + %d s "
           "per configuration\n",
           c.peers, c.dir, warmup, seconds);
    g_fsync_ms = raw_fdatasync_ms(c.dir);
    printf("counter-bench: raw fdatasync of a 64-byte append in %s: median "
           "%.3f ms (200 samples, while the idle cluster runs)\n",
           c.dir, g_fsync_ms);
    list = strdup(clients);
    for (tok = list != NULL ? strtok_r(list, ",", &save) : NULL; tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        int n = atoi(tok);
        if (n < 1 || n > 1024) {
            fprintf(stderr, "counter-bench: bad client count '%s'\n", tok);
            failed = 1;
            continue;
        }
        if (run_config(&c, CTR_OP_INCR, n, warmup, seconds, label, &rng,
                       &res) != 0) {
            failed = 1;
        }
        if (n == read_clients) {
            incr_at_reads = res;
        }
    }
    free(list);
    if (read_clients > 0 &&
        reads_bench(&c, nextra, read_clients, warmup, seconds, label, &rng,
                    &incr_at_reads) != 0) {
        failed = 1;
    }
    for (i = 0; i < c.n; i++) {
        if (cl_check_exited(&c, i)) {
            fprintf(stderr, "counter-bench: %s\n", c.crash_msg);
            failed = 1;
        }
    }
    cl_stop_all(&c, SIGTERM);
    if (failed) {
        cl_dump_logs(&c, 40);
    }
    cl_remove_dir(&c);
    return failed ? 1 : 0;
}
