/*
 * cluster.h - shared by the counter end-to-end test and benchmark: run a
 * local cluster of counter-server processes and talk to it as a client.
 *
 * Header-only (static inline) because counter.mk builds each test from a
 * single .c file plus proto.c. Only libc, POSIX and pthreads.
 *
 * Process hygiene: every server is a child of this process; its pid sits in
 * a global table that a signal handler (SIGINT, SIGTERM, SIGHUP, SIGALRM
 * for the watchdog, and the crash signals) and an atexit() handler use to
 * SIGKILL whatever is still running, so no server outlives the test on any
 * path short of SIGKILL of the test itself.
 */
#ifndef COUNTER_E2E_CLUSTER_H
#define COUNTER_E2E_CLUSTER_H

#include "handshake.h"
#include "proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CL_MAX 7
#define CL_ROLE_FOLLOWER 1 /* RAFT_FOLLOWER etc. in raft.h */
#define CL_ROLE_CANDIDATE 2
#define CL_ROLE_LEADER 3

/* Directory names are short (a temp dir, a build dir); longer ones are
 * refused by cl_init. */
#define CL_DIR_MAX 256
#define CL_PATH_MAX (CL_DIR_MAX + 64)

/* ---- time and randomness ------------------------------------------------ */

static inline int64_t cl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline void cl_sleep_ms(int64_t ms)
{
    struct timespec ts;
    if (ms <= 0) {
        return;
    }
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* splitmix64: small, seedable, good enough for test choices. */
static inline uint64_t cl_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline uint64_t cl_rand_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
    return lo + cl_rand(state) % (hi - lo + 1);
}

/* ---- the cluster ---------------------------------------------------------- */

struct cluster {
    int n;                     /* nodes, ids 1..n: all in every --peers */
    int n_initial;             /* nodes 1..n_initial bootstrap the cluster
                                * (--bootstrap); the others start with
                                * --join, to be added later */
    char bootstrap[CL_MAX * 4]; /* "1,2,3" */
    char bin[CL_DIR_MAX];      /* directory holding counter-server */
    char dir[CL_DIR_MAX];      /* temp dir: data dirs and logs */
    int port[CL_MAX];
    char addr[CL_MAX][32];   /* "127.0.0.1:port" */
    char peers[CL_MAX * 40]; /* "1=127.0.0.1:p1,2=..." */
    char token_file[CL_PATH_MAX]; /* DIR/token, mode 0600 */
    struct ctr_token token;  /* what it holds: the cluster token */
    const char *extra[8];    /* extra server flags, NULL-terminated */
    int starts[CL_MAX];      /* how many times each node was started */
    int crashed;             /* a server exited on its own */
    char crash_msg[256];
    pthread_mutex_t mu;
};

/* pids for the cleanup handlers; 0 = not running. */
static _Atomic pid_t cl_pids[CL_MAX];
static char cl_dir_for_handler[CL_DIR_MAX]; /* reported on interruption */
static volatile sig_atomic_t cl_handlers_installed;

static inline void cl_kill_all_now(void)
{
    int i;
    for (i = 0; i < CL_MAX; i++) {
        pid_t p = cl_pids[i];
        if (p > 0) {
            kill(p, SIGKILL);
        }
    }
}

static inline void cl_reap_all(void)
{
    int i;
    for (i = 0; i < CL_MAX; i++) {
        pid_t p = cl_pids[i];
        if (p > 0) {
            kill(p, SIGKILL);
            cl_pids[i] = 0;
            while (waitpid(p, NULL, 0) < 0 && errno == EINTR) {
            }
        }
    }
}

static void cl_on_signal(int sig)
{
    static const char msg[] =
        "\ncounter test: interrupted or timed out; killing servers\n";
    static const char crash[] =
        "\ncounter test: crashed; killing servers\n";
    int i;
    for (i = 0; i < CL_MAX; i++) {
        pid_t p = cl_pids[i];
        if (p > 0) {
            kill(p, SIGKILL);
            waitpid(p, NULL, 0);
            cl_pids[i] = 0;
        }
    }
    if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGABRT ||
        sig == SIGILL) {
        (void)!write(2, crash, sizeof(crash) - 1);
        signal(sig, SIG_DFL);
        raise(sig);
    }
    (void)!write(2, msg, sizeof(msg) - 1);
    if (cl_dir_for_handler[0] != '\0') {
        static const char kept[] = "counter test: data and logs kept in ";
        (void)!write(2, kept, sizeof(kept) - 1);
        (void)!write(2, cl_dir_for_handler, strlen(cl_dir_for_handler));
        (void)!write(2, "\n", 1);
    }
    _exit(sig == SIGALRM ? 3 : 128 + sig);
}

static void cl_atexit(void)
{
    cl_reap_all();
}

/* Install cleanup handlers and a watchdog that kills everything after
 * watchdog_s seconds (0: none). */
static inline void cl_install_handlers(unsigned watchdog_s)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGALRM, SIGSEGV,
                               SIGBUS, SIGFPE, SIGABRT, SIGILL};
    struct sigaction sa;
    size_t i;
    signal(SIGPIPE, SIG_IGN);
    if (!cl_handlers_installed) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = cl_on_signal;
        sigemptyset(&sa.sa_mask);
        for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
            sigaction(sigs[i], &sa, NULL);
        }
        atexit(cl_atexit);
        cl_handlers_installed = 1;
    }
    if (watchdog_s > 0) {
        alarm(watchdog_s);
    }
}

/* Is 127.0.0.1:port free to listen on? */
static inline int cl_port_free(int port)
{
    struct sockaddr_in sa;
    int ok, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return 0;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* Pick n distinct free ports below the kernel's ephemeral range (so that
 * outgoing connections never take a killed server's port while it is
 * down). */
static inline int cl_pick_ports(int *ports, int n, uint64_t *rng)
{
    int lo = 32768, tries, k = 0;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f != NULL) {
        int a, b;
        if (fscanf(f, "%d %d", &a, &b) == 2 && a > 12000) {
            lo = a;
        }
        fclose(f);
    }
    for (tries = 0; tries < 2000 && k < n; tries++) {
        int p = (int)cl_rand_range(rng, 10000, (uint64_t)lo - 1), j, dup = 0;
        for (j = 0; j < k; j++) {
            dup |= ports[j] == p;
        }
        if (!dup && cl_port_free(p)) {
            ports[k++] = p;
        }
    }
    return k == n ? 0 : -1;
}

/* Write a fresh cluster token into c->dir/token: 32 bytes from
 * /dev/urandom (the rng if that fails), hex-encoded, mode 0600; then read
 * it back as the servers will. */
static inline int cl_make_token(struct cluster *c, uint64_t *rng)
{
    uint8_t raw[32];
    char hex[2 * sizeof(raw) + 1], err[CTR_TOKEN_ERR_MAX];
    size_t k;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC), ok;
    ok = fd >= 0 && ctr_read_full(fd, raw, sizeof(raw)) == 0;
    if (fd >= 0) {
        close(fd);
    }
    for (k = 0; !ok && k < sizeof(raw); k++) {
        raw[k] = (uint8_t)cl_rand(rng);
    }
    for (k = 0; k < sizeof(raw); k++) {
        snprintf(hex + 2 * k, 3, "%02x", raw[k]);
    }
    hex[2 * sizeof(raw)] = '\n';
    snprintf(c->token_file, sizeof(c->token_file), "%s/token", c->dir);
    fd = open(c->token_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || ctr_write_full(fd, hex, sizeof(hex)) != 0) {
        fprintf(stderr, "%s: %s\n", c->token_file, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    close(fd);
    if (ctr_token_read(c->token_file, &c->token, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

/* Nodes 1..k bootstrap the cluster; nodes k+1..n start with --join. */
static inline int cl_set_initial(struct cluster *c, int k)
{
    size_t off = 0;
    int i;
    if (k < 1 || k > c->n) {
        return -1;
    }
    c->n_initial = k;
    for (i = 0; i < k; i++) {
        off += (size_t)snprintf(c->bootstrap + off, sizeof(c->bootstrap) - off,
                                "%s%d", i > 0 ? "," : "", i + 1);
    }
    return 0;
}

/* Set up (no process started): temp dir, token file, ports, peer list.
 * All n nodes bootstrap the cluster unless c->n_initial is lowered (then
 * call cl_set_initial). */
static inline int cl_init(struct cluster *c, int n, const char *bin,
                          const char *tmpl, uint64_t *rng)
{
    int i;
    size_t off = 0;
    memset(c, 0, sizeof(*c));
    if (n < 1 || n > CL_MAX) {
        return -1;
    }
    c->n = n;
    c->n_initial = n;
    pthread_mutex_init(&c->mu, NULL);
    if (strlen(bin) >= sizeof(c->bin) || strlen(tmpl) >= sizeof(c->dir)) {
        fprintf(stderr, "directory name too long: %s or %s\n", bin, tmpl);
        return -1;
    }
    memcpy(c->bin, bin, strlen(bin) + 1);
    memcpy(c->dir, tmpl, strlen(tmpl) + 1);
    if (mkdtemp(c->dir) == NULL) {
        fprintf(stderr, "mkdtemp %s: %s\n", tmpl, strerror(errno));
        return -1;
    }
    memcpy(cl_dir_for_handler, c->dir, sizeof(cl_dir_for_handler));
    if (cl_make_token(c, rng) != 0) {
        return -1;
    }
    if (cl_pick_ports(c->port, n, rng) != 0) {
        fprintf(stderr, "no free ports found\n");
        return -1;
    }
    for (i = 0; i < n; i++) {
        snprintf(c->addr[i], sizeof(c->addr[i]), "127.0.0.1:%d", c->port[i]);
        off += (size_t)snprintf(c->peers + off, sizeof(c->peers) - off, "%s%d=%s",
                                i > 0 ? "," : "", i + 1, c->addr[i]);
    }
    return cl_set_initial(c, n);
}

static inline void cl_path(const struct cluster *c, char *buf, size_t len,
                           int i, const char *what)
{
    snprintf(buf, len, "%s/n%d%s", c->dir, i + 1, what);
}

/* Append a line to node i's log file (from the test, between runs). */
static inline void cl_log_note(const struct cluster *c, int i, const char *fmt,
                               ...)
{
    char path[CL_PATH_MAX];
    va_list ap;
    FILE *f;
    cl_path(c, path, sizeof(path), i, ".log");
    f = fopen(path, "a");
    if (f == NULL) {
        return;
    }
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

static inline int cl_running(const struct cluster *c, int i)
{
    (void)c;
    return cl_pids[i] > 0;
}

/* Start node i (index 0..n-1, id i+1); stdout and stderr appended to
 * DIR/nI.log. Safe to call with other threads running: nothing but
 * async-signal-safe calls between fork and exec. */
static inline int cl_start(struct cluster *c, int i)
{
    char idbuf[16], data[CL_PATH_MAX], logp[CL_PATH_MAX], exe[CL_PATH_MAX];
    char *argv[32];
    int k = 0, j;
    pid_t pid;
    sigset_t none;

    if (cl_pids[i] > 0) {
        return 0;
    }
    snprintf(idbuf, sizeof(idbuf), "%d", i + 1);
    cl_path(c, data, sizeof(data), i, "");
    cl_path(c, logp, sizeof(logp), i, ".log");
    snprintf(exe, sizeof(exe), "%s/counter-server", c->bin);
    argv[k++] = exe;
    argv[k++] = (char *)"--id";
    argv[k++] = idbuf;
    argv[k++] = (char *)"--data";
    argv[k++] = data;
    argv[k++] = (char *)"--listen";
    argv[k++] = c->addr[i];
    argv[k++] = (char *)"--peers";
    argv[k++] = c->peers;
    argv[k++] = (char *)"--token-file";
    argv[k++] = c->token_file;
    /* Only the first start of a node reads these. */
    if (i < c->n_initial) {
        argv[k++] = (char *)"--bootstrap";
        argv[k++] = c->bootstrap;
    } else {
        argv[k++] = (char *)"--join";
    }
    for (j = 0; j < 8 && c->extra[j] != NULL; j++) {
        argv[k++] = (char *)c->extra[j];
    }
    argv[k] = NULL;
    mkdir(data, 0700);
    pthread_mutex_lock(&c->mu);
    c->starts[i]++;
    pthread_mutex_unlock(&c->mu);
    cl_log_note(c, i, "=== counter test: start #%d of node %d ===\n",
                c->starts[i], i + 1);
    sigemptyset(&none);
    pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        struct sigaction dfl;
        int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644), s;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        for (s = 1; s < 32; s++) {
            if (s != SIGKILL && s != SIGSTOP) {
                sigaction(s, &dfl, NULL);
            }
        }
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            if (fd > 2) {
                close(fd);
            }
        }
        fd = open("/dev/null", O_RDONLY);
        if (fd >= 0 && fd != 0) {
            dup2(fd, 0);
            close(fd);
        }
        execv(exe, argv);
        _exit(127);
    }
    cl_pids[i] = pid;
    return 0;
}

/* Did node i exit on its own? Records it (c->crashed) and clears the slot.
 * Returns 1 if it had exited. */
static inline int cl_check_exited(struct cluster *c, int i)
{
    pid_t p = cl_pids[i];
    int st;
    if (p <= 0) {
        return 0;
    }
    if (waitpid(p, &st, WNOHANG) == p) {
        cl_pids[i] = 0;
        pthread_mutex_lock(&c->mu);
        if (!c->crashed) {
            c->crashed = 1;
            if (WIFSIGNALED(st)) {
                snprintf(c->crash_msg, sizeof(c->crash_msg),
                         "node %d (pid %d) died of signal %d", i + 1, (int)p,
                         WTERMSIG(st));
            } else {
                snprintf(c->crash_msg, sizeof(c->crash_msg),
                         "node %d (pid %d) exited with status %d", i + 1,
                         (int)p, WEXITSTATUS(st));
            }
        }
        pthread_mutex_unlock(&c->mu);
        return 1;
    }
    return 0;
}

/* Stop node i with sig (SIGKILL, or SIGTERM with a SIGKILL fallback after
 * 3 s) and reap it. Reports an earlier unexpected exit. */
static inline void cl_stop(struct cluster *c, int i, int sig)
{
    pid_t p;
    int64_t until;
    if (cl_check_exited(c, i)) {
        return;
    }
    p = cl_pids[i];
    if (p <= 0) {
        return;
    }
    kill(p, sig);
    if (sig != SIGKILL) {
        until = cl_now_us() + 3000000;
        while (cl_now_us() < until) {
            if (waitpid(p, NULL, WNOHANG) == p) {
                cl_pids[i] = 0;
                return;
            }
            cl_sleep_ms(10);
        }
        kill(p, SIGKILL);
    }
    cl_pids[i] = 0;
    while (waitpid(p, NULL, 0) < 0 && errno == EINTR) {
    }
}

static inline void cl_stop_all(struct cluster *c, int sig)
{
    int i;
    for (i = 0; i < c->n; i++) {
        cl_stop(c, i, sig);
    }
}

/* Remove the temp dir (data dirs and logs). */
static inline void cl_remove_dir(const struct cluster *c)
{
    char cmd[CL_PATH_MAX];
    pid_t p;
    if (c->dir[0] == '\0') {
        return;
    }
    snprintf(cmd, sizeof(cmd), "%s", c->dir);
    p = fork();
    if (p == 0) {
        execlp("rm", "rm", "-rf", "--", cmd, (char *)NULL);
        _exit(127);
    }
    if (p > 0) {
        while (waitpid(p, NULL, 0) < 0 && errno == EINTR) {
        }
    }
}

/* Print the last max_lines lines of every node's log to stderr. */
static inline void cl_dump_logs(const struct cluster *c, int max_lines)
{
    int i;
    for (i = 0; i < c->n; i++) {
        char path[CL_PATH_MAX], line[1024];
        long total = 0, skip, k = 0;
        FILE *f;
        cl_path(c, path, sizeof(path), i, ".log");
        f = fopen(path, "r");
        if (f == NULL) {
            fprintf(stderr, "---- %s: (missing)\n", path);
            continue;
        }
        while (fgets(line, sizeof(line), f) != NULL) {
            total++;
        }
        skip = total > max_lines ? total - max_lines : 0;
        fprintf(stderr, "---- %s (%ld lines%s) ----\n", path, total,
                skip > 0 ? ", last ones only" : "");
        rewind(f);
        while (fgets(line, sizeof(line), f) != NULL) {
            if (k++ >= skip) {
                fputs(line, stderr);
            }
        }
        fclose(f);
    }
    fprintf(stderr, "---- end of server logs ----\n");
}

/* ---- client side ------------------------------------------------------- */

static inline void cl_set_timeout(int fd, int64_t ms)
{
    struct timeval tv;
    if (ms < 1) {
        ms = 1;
    }
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* TCP connect within timeout_ms, sending nothing. Returns the fd
 * (blocking, with I/O timeouts) or -1. */
static inline int cl_dial(const char *addr, int64_t timeout_ms)
{
    return ctr_dial(addr, timeout_ms > 0 ? (uint64_t)timeout_ms : 1, NULL);
}

/* The same, then a client hello with the cluster's token. */
static inline int cl_dial_client(const struct cluster *c, const char *addr,
                                 int64_t timeout_ms)
{
    return ctr_dial_client(addr, &c->token,
                           timeout_ms > 0 ? (uint64_t)timeout_ms : 1, NULL);
}

/* Read one response. 0 ok; -1 error/timeout/EOF; -2 malformed. */
static inline int cl_read_resp(int fd, struct ctr_resp *p)
{
    uint8_t buf[CTR_RESP_MAX]; /* a METRICS answer included */
    uint32_t len;
    if (ctr_read_full(fd, buf, 4) != 0) {
        return -1;
    }
    len = ctr_get32(buf);
    if (len < CTR_RESP_FIXED || len > sizeof(buf)) {
        return -2;
    }
    if (ctr_read_full(fd, buf + 4, len - 4) != 0) {
        return -1;
    }
    return ctr_resp_decode(buf, len, p) == 0 ? 0 : -2;
}

/* Read the answer to the one request in flight on fd, usually in one
 * read(): only for a connection that never has another answer queued
 * behind it (cl_client_do). Same results as cl_read_resp. */
static inline int cl_read_only_resp(int fd, struct ctr_resp *p)
{
    uint8_t buf[CTR_RESP_MAX];
    size_t have = 0, len = sizeof(buf);
    while (have < len) {
        ssize_t n = read(fd, buf + have, len - have);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        have += (size_t)n;
        if (len == sizeof(buf) && have >= 4) {
            len = ctr_get32(buf);
            if (len < CTR_RESP_FIXED || len > sizeof(buf) || have > len) {
                return -2;
            }
        }
    }
    return ctr_resp_decode(buf, len, p) == 0 ? 0 : -2;
}

/* Send one request on fd and read its response within timeout_ms. */
static inline int cl_exchange(int fd, const struct ctr_req *q,
                              struct ctr_resp *p, int64_t timeout_ms)
{
    uint8_t req[CTR_REQ_LEN];
    cl_set_timeout(fd, timeout_ms);
    ctr_req_encode(q, req);
    if (ctr_write_full(fd, req, sizeof(req)) != 0) {
        return -1;
    }
    return cl_read_resp(fd, p);
}

/* One request of type op (as client `client`) to node i over a fresh
 * connection: 0 if it was answered CTR_OK, -1 otherwise. */
static inline int cl_ask(const struct cluster *c, int i, uint8_t op,
                         uint64_t client, struct ctr_resp *p,
                         int64_t timeout_ms)
{
    struct ctr_req q = {op, client, 1, 0};
    int rc, fd = cl_dial_client(c, c->addr[i], timeout_ms);
    if (fd < 0) {
        return -1;
    }
    rc = cl_exchange(fd, &q, p, timeout_ms);
    close(fd);
    return rc == 0 && p->status == CTR_OK ? 0 : -1;
}

/* STATUS of node i over a fresh connection. */
static inline int cl_status(const struct cluster *c, int i, struct ctr_resp *p,
                            int64_t timeout_ms)
{
    return cl_ask(c, i, CTR_OP_STATUS, 0x5747415455530001u, p, timeout_ms);
}

/* METRICS of node i over a fresh connection: STATUS and its library
 * counters (p->metrics, CTR_METRICS_MAP order). */
static inline int cl_metrics(const struct cluster *c, int i, struct ctr_resp *p,
                             int64_t timeout_ms)
{
    return cl_ask(c, i, CTR_OP_METRICS, 0x4d4554524943u, p, timeout_ms) == 0 &&
                   p->has_metrics
               ? 0
               : -1;
}

/* Index of the node that says it is leader with the highest term, or -1. */
static inline int cl_find_leader(const struct cluster *c, uint64_t *term_out)
{
    int i, best = -1;
    uint64_t best_term = 0;
    for (i = 0; i < c->n; i++) {
        struct ctr_resp p;
        if (cl_running(c, i) && cl_status(c, i, &p, 300) == 0 &&
            p.role == CL_ROLE_LEADER && (best < 0 || p.term > best_term)) {
            best = i;
            best_term = p.term;
        }
    }
    if (term_out != NULL) {
        *term_out = best_term;
    }
    return best;
}

/* Wait up to timeout_ms for a leader; its index or -1. */
static inline int cl_wait_leader(const struct cluster *c, int64_t timeout_ms)
{
    int64_t until = cl_now_us() + timeout_ms * 1000;
    do {
        int l = cl_find_leader(c, NULL);
        if (l >= 0) {
            return l;
        }
        cl_sleep_ms(50);
    } while (cl_now_us() < until);
    return -1;
}

/* Node index for a "host:port" leader hint, or -1. */
static inline int cl_node_of(const struct cluster *c, const char *addr)
{
    int i;
    for (i = 0; i < c->n; i++) {
        if (strcmp(c->addr[i], addr) == 0) {
            return i;
        }
    }
    return -1;
}

/* A client's connection state: which node it talks to. */
struct cl_client {
    const struct cluster *c;
    int fd;        /* -1 when not connected */
    int node;      /* node the fd is connected to / next to try */
    uint64_t rng;  /* for backoff jitter */
    int64_t attempt_timeout_ms;
    int64_t fd_timeout_ms; /* the I/O timeouts fd has (set at the dial) */
    /* statistics */
    uint64_t attempts, redirects, timeouts, retries, conn_errors;
};

static inline void cl_client_init(struct cl_client *cc, const struct cluster *c,
                                  int first_node, uint64_t seed)
{
    memset(cc, 0, sizeof(*cc));
    cc->c = c;
    cc->fd = -1;
    cc->node = first_node % c->n;
    cc->rng = seed;
    cc->attempt_timeout_ms = 1000;
}

static inline void cl_client_close(struct cl_client *cc)
{
    if (cc->fd >= 0) {
        close(cc->fd);
        cc->fd = -1;
    }
}

/* Send q (INCR or GET) until it succeeds, retrying with the same
 * (client_id, seq) and following leader hints, or until give_up_us
 * (cl_now_us() clock) passes. Returns 0 with *p filled on CTR_OK, 1 if it
 * gave up (outcome unknown), -1 on CTR_BAD_REQUEST or a malformed answer (a
 * server bug for a well-formed request). *stop, if non-NULL and set, also
 * makes it give up. */
/* cl_exchange on cc's connection, with fewer system calls: the timeouts
 * are set only when they change, and the answer is read in one go. */
static inline int cl_request(struct cl_client *cc, const struct ctr_req *q,
                             struct ctr_resp *p, int64_t timeout_ms)
{
    uint8_t req[CTR_REQ_LEN];
    if (timeout_ms != cc->fd_timeout_ms) {
        cl_set_timeout(cc->fd, timeout_ms);
        cc->fd_timeout_ms = timeout_ms;
    }
    ctr_req_encode(q, req);
    if (ctr_write_full(cc->fd, req, sizeof(req)) != 0) {
        return -1;
    }
    return cl_read_only_resp(cc->fd, p);
}

static inline int cl_client_do(struct cl_client *cc, const struct ctr_req *q,
                               struct ctr_resp *p, int64_t give_up_us,
                               _Atomic int *stop)
{
    int64_t backoff = 10;
    for (;;) {
        int64_t now = cl_now_us(), left_ms;
        int rc, next_node = -1;
        if (now >= give_up_us || (stop != NULL && *stop)) {
            cl_client_close(cc);
            return 1;
        }
        left_ms = (give_up_us - now) / 1000 + 1;
        if (left_ms > cc->attempt_timeout_ms) {
            left_ms = cc->attempt_timeout_ms;
        }
        cc->attempts++;
        if (cc->fd < 0) {
            cc->fd = cl_dial_client(cc->c, cc->c->addr[cc->node], left_ms);
            if (cc->fd < 0) {
                cc->conn_errors++;
                goto next_server;
            }
            cc->fd_timeout_ms = left_ms;
        }
        rc = cl_request(cc, q, p, left_ms);
        if (rc == -2) {
            cl_client_close(cc);
            return -1;
        }
        if (rc != 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                cc->timeouts++;
            } else {
                cc->conn_errors++;
            }
            cl_client_close(cc);
            goto next_server;
        }
        switch (p->status) {
        case CTR_OK:
            return 0;
        case CTR_BAD_REQUEST:
        case CTR_CHANGE_REFUSED:
            cl_client_close(cc);
            return -1;
        case CTR_NOT_LEADER:
            next_node = p->addr[0] != '\0' ? cl_node_of(cc->c, p->addr) : -1;
            if (next_node >= 0 && next_node != cc->node) {
                cc->redirects++;
                cl_client_close(cc);
                cc->node = next_node;
                continue; /* follow the hint at once */
            }
            cl_client_close(cc);
            goto next_server;
        case CTR_RETRY:
        default:
            cc->retries++;
            if (p->role == CL_ROLE_LEADER) {
                /* Still leader: same node, after a backoff. */
                cl_sleep_ms(backoff + (int64_t)cl_rand_range(&cc->rng, 0, 10));
                if (backoff < 100) {
                    backoff *= 2;
                }
                continue;
            }
            cl_client_close(cc);
            goto next_server;
        }
    next_server:
        cc->node = (cc->node + 1) % cc->c->n;
        cl_sleep_ms(backoff + (int64_t)cl_rand_range(&cc->rng, 0, 10));
        if (backoff < 100) {
            backoff *= 2;
        }
    }
}

/* Wait until every node of `set` (set[i] non-zero: node i; NULL: all)
 * answers STATUS with the same commit, applied == commit and the same
 * value, twice in a row 200 ms apart. 0 on success (value in *value,
 * commit in *commit), -1 on timeout. */
static inline int cl_wait_agree_set(const struct cluster *c, const int *set,
                                    int64_t timeout_ms, uint64_t *value,
                                    uint64_t *commit)
{
    int64_t until = cl_now_us() + timeout_ms * 1000;
    uint64_t prev_commit = 0, prev_value = 0;
    int stable = 0, first = 0;
    while (set != NULL && first < c->n && !set[first]) {
        first++;
    }
    if (first == c->n) {
        return -1;
    }
    while (cl_now_us() < until) {
        struct ctr_resp r0, r;
        int i, ok = cl_status(c, first, &r0, 500) == 0 && r0.applied == r0.commit;
        for (i = first + 1; ok && i < c->n; i++) {
            if (set != NULL && !set[i]) {
                continue;
            }
            ok = cl_status(c, i, &r, 500) == 0 && r.commit == r0.commit &&
                 r.applied == r0.applied && r.value == r0.value;
        }
        if (ok && stable > 0 && r0.commit == prev_commit &&
            r0.value == prev_value) {
            *value = r0.value;
            *commit = r0.commit;
            return 0;
        }
        stable = ok;
        prev_commit = r0.commit;
        prev_value = r0.value;
        cl_sleep_ms(200);
    }
    return -1;
}

/* The same for every node. */
static inline int cl_wait_agree(const struct cluster *c, int64_t timeout_ms,
                                uint64_t *value, uint64_t *commit)
{
    return cl_wait_agree_set(c, NULL, timeout_ms, value, commit);
}

/* CONF of node i over a fresh connection: the configuration it has and,
 * if it leads, the members' progress. */
static inline int cl_conf(const struct cluster *c, int i, struct ctr_resp *p,
                          int64_t timeout_ms)
{
    struct ctr_req q = {CTR_OP_CONF, 0, 0, 0};
    int rc, fd = cl_dial_client(c, c->addr[i], timeout_ms);
    if (fd < 0) {
        return -1;
    }
    rc = cl_exchange(fd, &q, p, timeout_ms);
    close(fd);
    return rc == 0 && p->status == CTR_OK && p->has_conf ? 0 : -1;
}

#endif
