/*
 * counter_bench.c - throughput and latency of the replicated counter.
 *
 *   counter-bench --bin DIR [--seconds 10] [--warmup 2] [--clients 1,32]
 *                 [--read-clients 32] [--reads readindex,lease,log]
 *                 [--runs 1] [--threads 1] [--dir D] [--server-flag F]...
 *                 [--quantiles]
 *
 * Starts three DIR/counter-server processes on loopback (default flags:
 * fsync on, default tick) with their data in a temp dir under --dir
 * (default: DIR, the build directory, so that fsync hits a real disk rather
 * than a tmpfs /tmp), then for each client count runs a closed loop - each
 * client one outstanding INCR on its own connection, following leader
 * hints; one thread drives all the clients over poll(), or --threads
 * threads a share each - for the warm-up and then the measured period,
 * and prints
 *
 *   counter 3 nodes fsync, 1 client: 412 incr/s, latency median 2.31 ms, p99 4.90 ms
 *
 * with the median in fdatasyncs of a 64-byte append, probed just before
 * and after the configuration: by one writer alone, and by three writers
 * at once on files of their own (the three nodes share this disk, so a
 * commit's fdatasyncs run beside each other's).
 *
 * and where the CPU went meanwhile: each server's and this process's
 * user and system time (from /proc and getrusage), in % of one core and
 * in all per operation. Latency is from sending the request to reading
 * the answer, retries included. Then, with --read-clients clients
 * (default 32), the same loop with GETs: answered by ReadIndex (the
 * servers' default), from the leader's lease and through the log (the
 * servers restarted on the same data with --lease-reads, then
 * --log-reads), or those of them --reads names, with the leader's
 * heartbeat rounds per GET, and a table of the GET figures against
 * INCR's; with --runs N, INCR and the GETs take turns N times and the
 * table gives medians. Stops every server and removes the temp dir at
 * the end.
 *
 *   counter-bench --bin DIR --restart N[,N...] [--dir D]
 *
 * measures restart time instead, for each history size N, with snapshots
 * off (--snapshot-every 0) and on (every 10000 entries): a
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
#include <sys/resource.h>
#include "cluster.h"
#include "flags.h"

#define LOOP_THREADS 1 /* threads driving a configuration's clients */
#define LOOP_THREADS_MAX 64

static int opt_quantiles; /* --quantiles: print more latency quantiles */
static int opt_threads = LOOP_THREADS; /* --threads: closed-loop threads */

static int cmp_i64(const void *x, const void *y);

/* The disk's own latency for what a commit needs: append 64 bytes to a
 * file in dir and fdatasync, PROBE_N times; the times in us into t[]
 * (out). Returns 0, or -1 on error. */
#define PROBE_N 200
static int probe_file_us(const char *dir, int k, int64_t t[PROBE_N])
{
    char path[CL_PATH_MAX], buf[64];
    int fd, i;
    snprintf(path, sizeof(path), "%s/fdatasync-probe-%d", dir, k);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return -1;
    }
    memset(buf, 'x', sizeof(buf));
    for (i = 0; i < PROBE_N; i++) {
        int64_t t0 = cl_now_us();
        if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) ||
            fdatasync(fd) != 0) {
            close(fd);
            unlink(path);
            return -1;
        }
        t[i] = cl_now_us() - t0;
    }
    close(fd);
    unlink(path);
    return 0;
}

static int raw_fdatasync_us(const char *dir, int64_t t[PROBE_N])
{
    return probe_file_us(dir, 0, t);
}

/* The same with PROBE_WRITERS threads at once, each on its own file, as
 * the three nodes of a cluster on this one disk: a commit waits for
 * fdatasyncs that run at the same time as others. The times of all the
 * writers into t[] (out). Returns 0, or -1 on error. */
#define PROBE_WRITERS 3
struct probe_writer {
    const char *dir;
    int k;
    int64_t *t;
    int rc;
};

static void *probe_writer_main(void *arg)
{
    struct probe_writer *w = arg;
    w->rc = probe_file_us(w->dir, w->k, w->t);
    return NULL;
}

static int together_fdatasync_us(const char *dir,
                                 int64_t t[PROBE_WRITERS * PROBE_N])
{
    struct probe_writer w[PROBE_WRITERS];
    pthread_t th[PROBE_WRITERS];
    int i, started = 0, rc = 0;
    for (i = 0; i < PROBE_WRITERS; i++) {
        w[i].dir = dir;
        w[i].k = i + 1;
        w[i].t = t + i * PROBE_N;
        w[i].rc = -1;
        if (pthread_create(&th[i], NULL, probe_writer_main, &w[i]) != 0) {
            rc = -1;
            break;
        }
        started++;
    }
    for (i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        rc = w[i].rc != 0 ? -1 : rc;
    }
    return rc;
}

/* The median of n samples in us, in ms (sorts t). */
static double median_ms(int64_t *t, size_t n)
{
    qsort(t, n, sizeof(t[0]), cmp_i64);
    return (double)t[n / 2] / 1000.0;
}

/* The quantile q of n sorted samples in us, in ms. */
static double quantile_ms(const int64_t *t, size_t n, double q)
{
    size_t at = (size_t)((double)n * q);
    return (double)t[at < n ? at : n - 1] / 1000.0;
}

/* Both probes once, their medians and p99s. */
static void print_probes(const char *dir)
{
    static int64_t t[PROBE_WRITERS * PROBE_N];
    if (raw_fdatasync_us(dir, t) != 0) {
        printf("counter-bench: the fdatasync probe failed in %s\n", dir);
        return;
    }
    qsort(t, PROBE_N, sizeof(t[0]), cmp_i64);
    printf("counter-bench: raw fdatasync of a 64-byte append in %s: median "
           "%.3f ms, p99 %.3f ms (%d samples, while the idle cluster runs)\n",
           dir, quantile_ms(t, PROBE_N, 0.5), quantile_ms(t, PROBE_N, 0.99),
           PROBE_N);
    if (together_fdatasync_us(dir, t) != 0) {
        return;
    }
    qsort(t, PROBE_WRITERS * PROBE_N, sizeof(t[0]), cmp_i64);
    printf("counter-bench: the same by %d writers at once, each on its own "
           "file (as the nodes sharing this disk): median %.3f ms, p99 "
           "%.3f ms\n",
           PROBE_WRITERS, quantile_ms(t, PROBE_WRITERS * PROBE_N, 0.5),
           quantile_ms(t, PROBE_WRITERS * PROBE_N, 0.99));
}

/* One configuration's figures, for the reads table. */
struct result {
    int ok;
    double ops, p50, p99; /* per second; ms */
    double cpu_us;        /* CPU of the servers and the bench per operation,
                           * in us (0: unknown) */
    double srv_us;        /* the servers' part of it */
    double per_round;     /* GETs per heartbeat round on the leader (0: none
                           * or unknown) */
};

/* ---- CPU and the leader's counters over the measured period ------------ */

/* CPU time consumed so far, in seconds: each server process (all its
 * threads, from /proc/PID/stat; have_proc 0 where there is none) and this
 * one (getrusage), and the leader's read counters (METRICS). */
struct spent {
    double user[CL_MAX], sys[CL_MAX], self_user, self_sys;
    int have_proc, have_metrics;
    uint64_t reads, rounds, lease, entries, appends;
};

/* utime and stime of a process from /proc/PID/stat; -1 if unreadable. */
static int proc_cpu(pid_t pid, double *user, double *sys)
{
    char path[64], buf[1024], *p;
    unsigned long ut, st;
    long hz = sysconf(_SC_CLK_TCK);
    size_t n;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (hz <= 0 || (f = fopen(path, "r")) == NULL) {
        return -1;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name, in parentheses, may hold anything: fields 3 (state)
     * to 13 follow its closing parenthesis, then utime and stime. */
    p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 1, " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                            "%*s %lu %lu", &ut, &st) != 2) {
        return -1;
    }
    *user = (double)ut / (double)hz;
    *sys = (double)st / (double)hz;
    return 0;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void spent_sample(const struct cluster *c, int leader, struct spent *u)
{
    struct rusage ru;
    struct ctr_resp p;
    int i;
    memset(u, 0, sizeof(*u));
    u->have_proc = 1;
    for (i = 0; i < c->n; i++) {
        if (cl_pids[i] <= 0 || proc_cpu(cl_pids[i], &u->user[i], &u->sys[i])) {
            u->have_proc = 0;
        }
    }
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        u->self_user = tv_s(ru.ru_utime);
        u->self_sys = tv_s(ru.ru_stime);
    }
    if (leader >= 0 && cl_metrics(c, leader, &p, 1000) == 0 &&
        p.n_metrics > CTR_M_reads_lease) {
        u->have_metrics = 1;
        u->reads = p.metrics[CTR_M_reads_served];
        u->rounds = p.metrics[CTR_M_reads_rounds];
        u->lease = p.metrics[CTR_M_reads_lease];
        u->entries = p.metrics[CTR_M__entries_proposed];
        u->appends = p.metrics[CTR_M__persist_entries_calls];
    }
}

/*
 * Where the CPU went between a and b, `ops` operations: each server and
 * this process, in % of one core (user + system), and in all per
 * operation; for GETs, how many the leader confirmed per heartbeat round.
 */
static void spent_report(const struct cluster *c, int leader,
                         const struct spent *a, const struct spent *b,
                         double secs, double ops, int reads,
                         struct result *res)
{
    double all = 0, srv, u, s;
    int i;
    if (!a->have_proc || !b->have_proc || secs <= 0 || ops <= 0) {
        return;
    }
    printf("  cpu, %% of one core (user + system):");
    for (i = 0; i < c->n; i++) {
        u = b->user[i] - a->user[i];
        s = b->sys[i] - a->sys[i];
        all += u + s;
        printf(" n%d%s %.0f%% (%.0f + %.0f),", i + 1,
               i == leader ? " (leader)" : "", 100 * (u + s) / secs,
               100 * u / secs, 100 * s / secs);
    }
    srv = all;
    u = b->self_user - a->self_user;
    s = b->self_sys - a->self_sys;
    all += u + s;
    printf(" counter-bench %.0f%% (%.0f + %.0f); in all %.0f%%; per "
           "operation %.1f us, %.1f of them in the servers\n",
           100 * (u + s) / secs, 100 * u / secs, 100 * s / secs,
           100 * all / secs, 1e6 * all / ops, 1e6 * srv / ops);
    res->cpu_us = 1e6 * all / ops;
    res->srv_us = 1e6 * srv / ops;
    if (!reads && a->have_metrics && b->have_metrics &&
        b->appends > a->appends) {
        printf("  the leader: %" PRIu64 " entries proposed, %" PRIu64
               " appends to its log (%.1f entries each)\n",
               b->entries - a->entries, b->appends - a->appends,
               (double)(b->entries - a->entries) /
                   (double)(b->appends - a->appends));
    }
    if (reads && a->have_metrics && b->have_metrics && b->reads > a->reads) {
        uint64_t rounds = b->rounds - a->rounds, lease = b->lease - a->lease;
        uint64_t asked = b->reads - a->reads;
        /* The server asks the library once for all the GETs it read in
         * one loop iteration: a read there is a batch of GETs. */
        printf("  the leader: %" PRIu64 " reads confirmed (%.1f GETs each), "
               "%" PRIu64 " from its lease; %" PRIu64 " heartbeat rounds "
               "(%.0f/s", asked, ops / (double)asked, lease, rounds,
               (double)rounds / secs);
        if (rounds > 0 && lease == 0) {
            res->per_round = ops / (double)rounds;
            printf(", %.1f GETs per round", res->per_round);
        }
        printf(")\n");
    }
}

/* ---- the closed loop ---------------------------------------------------- */

#define ATTEMPT_MS 1000 /* no answer by then: try the next node */
#define BACKOFF_FIRST_MS 10
#define BACKOFF_MAX_MS 100

enum { LC_WAIT, LC_BACKOFF, LC_FAILED };

/*
 * One closed-loop client: its own connection (non-blocking once dialled),
 * one request outstanding, retried with the same seq after CTR_RETRY, a
 * timeout or a lost connection, following leader hints, as cl_client_do
 * does, in a loop thread (loop_main) with other clients.
 */
struct lclient {
    int fd; /* -1: not connected */
    int node;
    int state;
    uint64_t id, seq;
    int64_t t0;    /* when seq was first sent, us */
    int64_t until; /* LC_WAIT: the attempt's deadline; LC_BACKOFF: when to
                    * send again */
    int64_t backoff_ms;
    uint64_t rng;
    size_t have; /* bytes of the answer read so far */
    uint8_t in[CTR_RESP_MAX];
};

/* A loop thread (loop_main) and its clients. */
struct loop {
    struct cluster *c;
    struct lclient *cl;
    int ncl;
    uint8_t op; /* CTR_OP_INCR or CTR_OP_GET */
    int64_t measure_from, end;
    int64_t *lat; /* microseconds, measured period only */
    size_t n, cap;
    uint64_t errors, redirects, retries, timeouts;
};

static void lc_close(struct lclient *lc)
{
    if (lc->fd >= 0) {
        close(lc->fd);
        lc->fd = -1;
    }
}

/* Try again after a backoff that doubles up to BACKOFF_MAX_MS, on the
 * next node if next_node. */
static void lc_backoff(const struct loop *l, struct lclient *lc, int64_t now,
                       int next_node)
{
    if (next_node) {
        lc_close(lc);
        lc->node = (lc->node + 1) % l->c->n;
    }
    lc->state = LC_BACKOFF;
    lc->until = now + 1000 * (lc->backoff_ms +
                              (int64_t)cl_rand_range(&lc->rng, 0, 10));
    if (lc->backoff_ms < BACKOFF_MAX_MS) {
        lc->backoff_ms *= 2;
    }
}

/* Send the client's request, dialling first if it has no connection (a
 * blocking dial: it happens at the start and after leader changes only). */
static void lc_send(struct loop *l, struct lclient *lc, int64_t now)
{
    struct ctr_req q = {l->op, lc->id, lc->seq, l->op == CTR_OP_INCR ? 1 : 0};
    uint8_t req[CTR_REQ_LEN];
    if (lc->fd < 0) {
        lc->fd = cl_dial_client(l->c, l->c->addr[lc->node], ATTEMPT_MS);
        if (lc->fd < 0 || fcntl(lc->fd, F_SETFL, O_NONBLOCK) != 0) {
            lc_backoff(l, lc, now, 1);
            return;
        }
    }
    ctr_req_encode(&q, req);
    /* An empty send buffer (one request at a time) takes it whole. */
    if (send(lc->fd, req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req)) {
        lc_backoff(l, lc, now, 1);
        return;
    }
    lc->state = LC_WAIT;
    lc->until = now + 1000 * ATTEMPT_MS;
    lc->have = 0;
}

/* The answer to the outstanding request, read at `now`. */
static void lc_answer(struct loop *l, struct lclient *lc,
                      const struct ctr_resp *p, int64_t now)
{
    int next;
    switch (p->status) {
    case CTR_OK:
        if (lc->t0 >= l->measure_from && now <= l->end) {
            if (l->n == l->cap) {
                size_t ncap = l->cap ? l->cap * 2 : 65536;
                int64_t *nl = realloc(l->lat, ncap * sizeof(*nl));
                if (nl == NULL) {
                    l->errors++;
                    lc->state = LC_FAILED;
                    return;
                }
                l->lat = nl;
                l->cap = ncap;
            }
            l->lat[l->n++] = now - lc->t0;
        }
        lc->seq++;
        lc->t0 = now;
        lc->backoff_ms = BACKOFF_FIRST_MS;
        lc_send(l, lc, now);
        return;
    case CTR_NOT_LEADER:
        next = p->addr[0] != '\0' ? cl_node_of(l->c, p->addr) : -1;
        if (next >= 0 && next != lc->node) {
            l->redirects++;
            lc_close(lc);
            lc->node = next;
            lc_send(l, lc, now); /* follow the hint at once */
            return;
        }
        lc_backoff(l, lc, now, 1);
        return;
    case CTR_RETRY:
        l->retries++;
        /* Still the leader: the same node, after a backoff. */
        lc_backoff(l, lc, now, p->role != CL_ROLE_LEADER);
        return;
    default: /* CTR_BAD_REQUEST: a server bug for a well-formed request */
        l->errors++;
        lc_close(lc);
        lc->state = LC_FAILED;
        return;
    }
}

/* The connection is readable: read what there is of the answer. */
static void lc_read(struct loop *l, struct lclient *lc)
{
    size_t want = lc->have >= 4 ? ctr_get32(lc->in) : sizeof(lc->in);
    ssize_t n = read(lc->fd, lc->in + lc->have, want - lc->have);
    struct ctr_resp p;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        lc_backoff(l, lc, cl_now_us(), 1); /* closed or broken */
        return;
    }
    lc->have += (size_t)n;
    if (lc->have < 4) {
        return;
    }
    want = ctr_get32(lc->in);
    if (want < CTR_RESP_FIXED || want > sizeof(lc->in) || lc->have > want) {
        l->errors++; /* malformed: nothing follows an answer here */
        lc_close(lc);
        lc->state = LC_FAILED;
        return;
    }
    if (lc->have < want) {
        return;
    }
    if (ctr_resp_decode(lc->in, want, &p) != 0) {
        l->errors++;
        lc_close(lc);
        lc->state = LC_FAILED;
        return;
    }
    lc_answer(l, lc, &p, cl_now_us());
}

/*
 * One loop thread: its share of the clients, for the warm-up and the
 * measured period, one poll() over their connections, each answer read
 * and the next request sent as soon as poll() reports it. One thread for
 * all the clients by default rather than one per client, so that the
 * load generator, which shares the machine's cores with the servers,
 * costs little more than the two system calls per operation that it
 * cannot avoid: a blocking thread per client spent more CPU than the
 * leader, a wake-up and a context switch per answer. More threads
 * (--threads) cost more wake-ups; on a machine loaded by other jobs they
 * keep one thread that the scheduler holds back from holding back every
 * client.
 */
static void *loop_main(void *arg)
{
    struct loop *l = arg;
    struct pollfd *pfd = calloc((size_t)l->ncl, sizeof(*pfd));
    int *who = calloc((size_t)l->ncl, sizeof(*who));
    int k, np;
    if (pfd == NULL || who == NULL) {
        l->errors++;
        free(pfd);
        free(who);
        return NULL;
    }
    for (;;) {
        int64_t now = cl_now_us(), wake = l->end, ms;
        if (now >= l->end) {
            break;
        }
        np = 0;
        /* Bounded by the client count. */
        for (k = 0; k < l->ncl; k++) {
            struct lclient *lc = &l->cl[k];
            if (lc->state == LC_BACKOFF && lc->until <= now) {
                lc_send(l, lc, now);
            }
            if (lc->state == LC_WAIT && lc->until <= now) {
                l->timeouts++;
                lc_backoff(l, lc, now, 1);
            }
            if (lc->state == LC_WAIT) {
                pfd[np].fd = lc->fd;
                pfd[np].events = POLLIN;
                pfd[np].revents = 0;
                who[np++] = k;
            }
            if (lc->state != LC_FAILED && lc->until < wake) {
                wake = lc->until;
            }
        }
        ms = wake > now ? (wake - now + 999) / 1000 : 0;
        if (poll(pfd, (nfds_t)np, (int)ms) < 0 && errno != EINTR) {
            l->errors++;
            break;
        }
        for (k = 0; k < np; k++) {
            if (pfd[k].revents != 0) {
                lc_read(l, &l->cl[who[k]]);
            }
        }
    }
    for (k = 0; k < l->ncl; k++) {
        lc_close(&l->cl[k]);
    }
    free(pfd);
    free(who);
    return NULL;
}

/* Sleep until cl_now_us() reaches t. */
static void sleep_until_us(int64_t t)
{
    int64_t now;
    while ((now = cl_now_us()) < t) {
        cl_sleep_ms((t - now + 999) / 1000);
    }
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
    int nt = nclients < opt_threads ? nclients : opt_threads;
    struct lclient *cl = calloc((size_t)nclients, sizeof(*cl));
    struct loop *lt = calloc((size_t)nt, sizeof(*lt));
    pthread_t *t = calloc((size_t)nt, sizeof(*t));
    struct spent ua, ub;
    struct loop l;
    size_t k;
    int i, rc = 0, started = 0, leader = cl_find_leader(c, NULL);
    int64_t from, probe[2 * PROBE_N];
    static int64_t together[2 * PROBE_WRITERS * PROBE_N];
    bool probe_ok, together_ok;

    memset(res, 0, sizeof(*res));
    memset(&l, 0, sizeof(l));
    if (cl == NULL || lt == NULL || t == NULL) {
        free(cl);
        free(lt);
        free(t);
        return -1;
    }
    for (i = 0; i < nclients; i++) {
        cl[i].fd = -1;
        cl[i].node = i % c->n;
        cl[i].id = (cl_rand(rng) & ~(uint64_t)0xFFFF) | (uint64_t)(i + 1);
        cl[i].rng = cl[i].id;
        cl[i].seq = 1;
        cl[i].t0 = cl_now_us();
        cl[i].backoff_ms = BACKOFF_FIRST_MS;
        cl[i].state = LC_BACKOFF; /* sent at the loop's first iteration */
        cl[i].until = 0;
    }
    /* Thread i drives clients i*nclients/nt .. (i+1)*nclients/nt - 1. */
    for (i = 0; i < nt; i++) {
        int lo = i * nclients / nt, hi = (i + 1) * nclients / nt;
        lt[i].c = c;
        lt[i].cl = cl + lo;
        lt[i].ncl = hi - lo;
        lt[i].op = op;
    }
    /* The disk drifts (other tenants of the host): the probe brackets
     * this configuration, just before its clients start and just after
     * they stop, and its ratio is against the median of both. */
    probe_ok = raw_fdatasync_us(c->dir, probe) == 0;
    together_ok = together_fdatasync_us(c->dir, together) == 0;
    from = cl_now_us() + (int64_t)warmup_s * 1000000;
    for (i = 0; i < nt; i++) {
        lt[i].measure_from = from;
        lt[i].end = from + (int64_t)seconds * 1000000;
    }
    for (i = 0; i < nt; i++) {
        if (pthread_create(&t[i], NULL, loop_main, &lt[i]) != 0) {
            fprintf(stderr, "counter-bench: pthread_create failed\n");
            rc = -1;
            break;
        }
        started++;
    }
    /* The threads stop by themselves at the end. */
    if (rc == 0) {
        sleep_until_us(from);
        spent_sample(c, leader, &ua);
        sleep_until_us(lt[0].end);
        spent_sample(c, leader, &ub);
    }
    for (i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
    }
    probe_ok = probe_ok && raw_fdatasync_us(c->dir, probe + PROBE_N) == 0;
    together_ok = together_ok &&
                  together_fdatasync_us(c->dir, together + PROBE_WRITERS * PROBE_N) == 0;
    /* One loop with every thread's figures. */
    for (i = 0; i < started; i++) {
        l.errors += lt[i].errors;
        l.timeouts += lt[i].timeouts;
        l.retries += lt[i].retries;
        l.redirects += lt[i].redirects;
        l.n += lt[i].n;
    }
    l.lat = malloc((l.n + 1) * sizeof(*l.lat));
    if (l.lat == NULL) {
        l.errors++;
        l.n = 0;
    }
    for (i = 0, k = 0; i < started; i++) {
        if (l.lat != NULL && lt[i].n > 0) {
            memcpy(l.lat + k, lt[i].lat, lt[i].n * sizeof(*l.lat));
            k += lt[i].n;
        }
        free(lt[i].lat);
    }
    free(cl);
    free(lt);
    free(t);
    if (l.n > 0) {
        double med, p99, secs = (double)seconds;
        int64_t *all = l.lat;
        size_t total = l.n;
        qsort(all, total, sizeof(*all), cmp_i64);
        med = (double)all[total / 2] / 1000.0;
        k = (size_t)((double)total * 0.99);
        if (k >= total) {
            k = total - 1;
        }
        p99 = (double)all[k] / 1000.0;
        res->ok = 1;
        res->ops = (double)total / secs;
        res->p50 = med;
        res->p99 = p99;
        printf("counter 3 nodes %s, %d client%s: %.0f %s/s, latency median "
               "%.2f ms, p99 %.2f ms",
               label, nclients, nclients == 1 ? "" : "s", res->ops,
               op == CTR_OP_INCR ? "incr" : "get", med, p99);
        if (probe_ok) {
            double raw = median_ms(probe, 2 * PROBE_N);
            printf(" (median = %.1f raw fdatasyncs of %.3f ms", med / raw, raw);
            if (together_ok) {
                raw = median_ms(together, 2 * PROBE_WRITERS * PROBE_N);
                printf(", %.1f of %.3f ms by %d writers at once", med / raw,
                       raw, PROBE_WRITERS);
            }
            printf(", probed just before and after)");
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
        spent_report(c, leader, &ua, &ub, secs, (double)total,
                     op == CTR_OP_GET, res);
        if (l.errors > 0 || l.timeouts > 0 || l.retries > 0) {
            printf("  (%" PRIu64 " errors, %" PRIu64 " timeouts, %" PRIu64
                   " CTR_RETRY, %" PRIu64 " redirects)\n",
                   l.errors, l.timeouts, l.retries, l.redirects);
        }
    } else {
        printf("counter 3 nodes %s, %d client%s: no %s completed "
               "(%" PRIu64 " errors)\n",
               label, nclients, nclients == 1 ? "" : "s",
               op == CTR_OP_INCR ? "increment" : "read", l.errors);
        rc = -1;
    }
    if (l.errors > 0) {
        rc = -1;
    }
    fflush(stdout);
    free(l.lat);
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

#define RUNS_MAX 15

/* The ways a server can answer a GET, for --reads. */
enum { M_READINDEX, M_LEASE, M_LOG, M_COUNT };
static const struct {
    const char *key, *flag, *name;
} g_modes[M_COUNT] = {{"readindex", NULL, "GET by ReadIndex"},
                      {"lease", "--lease-reads", "GET from the lease"},
                      {"log", "--log-reads", "GET through the log"}};

static int cmp_dbl(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* The median of v[0..n), n > 0 (sorts v). */
static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_dbl);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * One row of the reads table: the medians over the runs that completed
 * (r[k] of run k; incr[k] the same run's INCR figure, NULL for the INCR
 * row itself), and with several runs the spread of the throughput and of
 * its ratio to INCR.
 */
static void reads_row(const char *what, const struct result *r, size_t stride,
                      const struct result *incr, int runs)
{
    double ops[RUNS_MAX], p50[RUNS_MAX], p99[RUNS_MAX], cpu[RUNS_MAX];
    double srv[RUNS_MAX], per[RUNS_MAX], ratio[RUNS_MAX], lo, hi;
    double rlo = 0, rhi = 0;
    int k, n = 0, nc = 0, np = 0, nr = 0;
    for (k = 0; k < runs; k++) {
        const struct result *x = &r[k * stride];
        const struct result *in = incr != NULL ? &incr[k * stride] : NULL;
        if (!x->ok) {
            continue;
        }
        ops[n] = x->ops;
        p50[n] = x->p50;
        p99[n++] = x->p99;
        if (x->cpu_us > 0) {
            srv[nc] = x->srv_us;
            cpu[nc++] = x->cpu_us;
        }
        if (x->per_round > 0) {
            per[np++] = x->per_round;
        }
        if (in != NULL && in->ok && in->ops > 0) {
            ratio[nr++] = x->ops / in->ops;
        }
    }
    if (n == 0) {
        printf("  %-26s %9s\n", what, "failed");
        return;
    }
    qsort(ops, (size_t)n, sizeof(*ops), cmp_dbl);
    lo = ops[0];
    hi = ops[n - 1];
    printf("  %-26s %9.0f %8.2f %8.2f", what, median_of(ops, n),
           median_of(p50, n), median_of(p99, n));
    if (nr > 0) {
        qsort(ratio, (size_t)nr, sizeof(*ratio), cmp_dbl);
        rlo = ratio[0];
        rhi = ratio[nr - 1];
        printf(" %7.2fx", median_of(ratio, nr));
    } else {
        printf(" %8s", "");
    }
    if (nc > 0) {
        printf(" %7.1f %7.1f", median_of(srv, nc), median_of(cpu, nc));
    } else {
        printf(" %7s %7s", "", "");
    }
    if (np > 0) {
        printf(" %10.1f", median_of(per, np));
    } else {
        printf(" %10s", "");
    }
    if (runs > 1) {
        printf("   %.0f .. %.0f", lo, hi);
        if (nr > 0) {
            printf(" (%.2fx .. %.2fx)", rlo, rhi);
        }
        if (n < runs) {
            printf(", %d of %d runs", n, runs);
        }
    }
    printf("\n");
}

/*
 * GET throughput and latency with n clients, by each way of answering it
 * in `modes` (bits of M_*), against INCR on the same cluster: ReadIndex
 * (the default), the leader's lease (--lease-reads) and, for comparison,
 * the log (--log-reads). The servers are restarted on the same data
 * whenever the mode changes. With runs > 1, INCR and the GETs take turns
 * that many times and the table gives medians. *incr is the INCR figure of
 * the first run if already measured with n clients.
 */
static int reads_bench(struct cluster *c, int nextra, int n, int warmup,
                       int seconds, const char *label, uint64_t *rng,
                       const struct result *incr, unsigned modes, int runs)
{
    struct result res[RUNS_MAX][1 + M_COUNT];
    const char *flags_now = NULL; /* the servers run with default flags */
    char lab[160];
    int m, k, failed = 0;
    memset(res, 0, sizeof(res));
    for (k = 0; k < runs; k++) {
        if (k == 0 && incr->ok) {
            res[0][0] = *incr;
        } else {
            if (flags_now != NULL && restart_with(c, nextra, NULL) != 0) {
                failed = 1;
                continue;
            }
            flags_now = NULL;
            failed |= run_config(c, CTR_OP_INCR, n, warmup, seconds, label,
                                 rng, &res[k][0]) != 0;
        }
        for (m = 0; m < M_COUNT; m++) {
            if (!(modes & (1u << m))) {
                continue;
            }
            if (g_modes[m].flag != flags_now) {
                if (restart_with(c, nextra, g_modes[m].flag) != 0) {
                    failed = 1;
                    continue;
                }
                flags_now = g_modes[m].flag;
            }
            snprintf(lab, sizeof(lab), "%s, %s", label, g_modes[m].name);
            failed |= run_config(c, CTR_OP_GET, n, warmup, seconds, lab, rng,
                                 &res[k][1 + m]) != 0;
        }
    }
    printf("counter-bench: reads against increments, %d clients, 3 nodes, %s",
           n, label);
    if (runs > 1) {
        printf(", medians of %d runs", runs);
    }
    printf(" (target: ReadIndex GETs at least 3x the INCR throughput)\n");
    printf("  %-26s %9s %8s %8s %8s %15s %10s\n", "", "", "", "", "",
           "cpu us per op", "");
    printf("  %-26s %9s %8s %8s %8s %7s %7s %10s%s\n", "operation", "ops/s",
           "p50 ms", "p99 ms", "vs INCR", "servers", "all", "GETs/round",
           runs > 1 ? "   ops/s min .. max (vs INCR)" : "");
    reads_row("INCR (through the log)", &res[0][0], 1 + M_COUNT, NULL, runs);
    for (m = 0; m < M_COUNT; m++) {
        if (modes & (1u << m)) {
            reads_row(g_modes[m].name, &res[0][1 + m], 1 + M_COUNT, &res[0][0],
                      runs);
        }
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
    _Atomic int *stop;
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
                 struct ctr_resp *p, int64_t give_up_us, _Atomic int *stop)
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
    _Atomic int stop = 0;
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
            "                     [--reads readindex,lease,log] [--runs 1] "
            "[--threads 1] [--server-flag F]...\n"
            "                     [--quantiles]\n"
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
            "  --reads        which of those GET figures (default: all three)\n"
            "  --runs         INCR and those GETs take turns this many times, "
            "1..%d;\n"
            "                 the table gives medians (default 1)\n"
            "  --threads      threads driving the clients of a closed loop, "
            "1..%d (default %d)\n"
            "  --server-flag  extra flag for every server (repeatable, max %d)\n"
            "  --quantiles    also print p10..p99.9 and max latency\n"
            "  --restart N,.. measure restart time after N increments of "
            "history instead,\n"
            "                 with snapshots off and on\n"
            "  --unavailability N  measure the time without a commit during\n"
            "                 membership changes and transfers instead, N runs\n"
            "                 each (1..64)\n",
            RUNS_MAX, LOOP_THREADS_MAX, LOOP_THREADS, MAX_SERVER_FLAGS);
}

/* --reads: a comma-separated list of g_modes keys; the M_* bits. */
static unsigned parse_modes(struct ctr_flags *f, const char *list)
{
    const char *p = list;
    unsigned modes = 0;
    int m;
    do {
        size_t len = strcspn(p, ",");
        for (m = 0; m < M_COUNT; m++) {
            if (strlen(g_modes[m].key) == len &&
                strncmp(p, g_modes[m].key, len) == 0) {
                break;
            }
        }
        if (m == M_COUNT) {
            ctr_flag_fail(f, "--reads: must be a comma-separated list of "
                          "readindex, lease and log (got '%s')", list);
        }
        modes |= 1u << m;
        p += len;
        p += *p == ',';
    } while (*p != '\0');
    return modes;
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
    int read_clients = 32, unavail = 0, runs = 1;
    unsigned modes = (1u << M_COUNT) - 1;
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
        } else if ((v = ctr_flag_value(&f, "--reads")) != NULL) {
            modes = parse_modes(&f, v);
        } else if ((v = ctr_flag_value(&f, "--threads")) != NULL) {
            opt_threads = (int)ctr_flag_u64(&f, v, 1, LOOP_THREADS_MAX);
        } else if ((v = ctr_flag_value(&f, "--runs")) != NULL) {
            runs = (int)ctr_flag_u64(&f, v, 1, RUNS_MAX);
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
    print_probes(c.dir);
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
                    &incr_at_reads, modes, runs) != 0) {
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
