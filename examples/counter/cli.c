/*
 * cli.c - command-line client for the replicated counter.
 *
 *   counter-cli --token-file PATH [--servers H:P,H:P,...] [--timeout-ms MS]
 *               [--deadline-ms MS] [--client-id N] [--seq N]
 *               incr N | get | status [--json]
 *
 * incr and get go to the leader: the CLI starts with the first server,
 * follows the leader hint of a CTR_NOT_LEADER answer (or tries the next
 * server when there is none), and on a timeout, a lost connection or
 * CTR_RETRY sends the same request again - same client_id, same seq - after
 * a short backoff, until the overall deadline. The server's session table
 * makes such retries exactly-once. On success it prints the counter value
 * (just the number) and exits 0; otherwise it prints why and exits 1.
 *
 * status asks every server for its local state and its library counters
 * (raft_metrics) and prints one line each, followed by six indented lines
 * of counters:
 *   127.0.0.1:7001 id=1 role=leader term=3 leader=1 commit=12 applied=12 value=42
 *       sent      vote 2  vote_resp 0  append 31  append_resp 0  (failed 0, queue full 0)
 *       ...
 *   127.0.0.1:7002 unreachable (connection refused)
 * status --json prints the same as a JSON array, one object per server.
 * It exits 0 if at least one server answered, 1 otherwise.
 *
 * Every connection opens with a hello carrying the cluster token from
 * --token-file (handshake.h). A server that refuses it answers CTR_REFUSED:
 * the CLI says why and exits 1 without retrying.
 *
 * Usage errors exit 2. Only libc and POSIX.
 */
#include "flags.h"
#include "handshake.h"
#include "proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SERVERS "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"
#define MAX_SERVERS 64
#define ROLE_FOLLOWER 1 /* RAFT_FOLLOWER etc. in raft.h */
#define ROLE_CANDIDATE 2
#define ROLE_LEADER 3
#define ROLE_PRECANDIDATE 4

static const char *prog = "counter-cli";
static struct ctr_token g_token; /* from --token-file */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s --token-file PATH [--servers H:P,H:P,...] "
            "[--timeout-ms MS]\n"
            "       [--deadline-ms MS] [--client-id N] [--seq N] "
            "incr N | get | status [--json]\n"
            "       %s -h | --help | --version\n"
            "  --token-file   file holding the cluster token (required; "
            "mode 0600)\n"
            "  --servers      comma-separated server addresses (default %s)\n"
            "  --timeout-ms   per-attempt timeout, 1..3600000 (default 1000)\n"
            "  --deadline-ms  overall deadline for incr/get (default 10000)\n"
            "  --client-id    client id, > 0 (default: random)\n"
            "  --seq          request sequence number, > 0 (default 1); reuse\n"
            "                 the same client id and seq to retry a request\n",
            prog, prog, DEFAULT_SERVERS);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (s == NULL || *s == '\0' || *s == '-') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static const char *role_name(uint8_t role)
{
    switch (role) {
    case ROLE_FOLLOWER:
        return "follower";
    case ROLE_CANDIDATE:
        return "candidate";
    case ROLE_LEADER:
        return "leader";
    case ROLE_PRECANDIDATE:
        return "pre-candidate";
    default:
        return "unknown";
    }
}

static const char *status_name(uint8_t st)
{
    switch (st) {
    case CTR_OK:
        return "ok";
    case CTR_NOT_LEADER:
        return "not leader";
    case CTR_RETRY:
        return "retry";
    case CTR_BAD_REQUEST:
        return "bad request";
    case CTR_REFUSED:
        return "refused";
    default:
        return "unknown status";
    }
}

/* A random non-zero client id: /dev/urandom, else time and pid. */
static uint64_t random_client_id(void)
{
    uint64_t id = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (ctr_read_full(fd, &id, sizeof(id)) != 0) {
            id = 0;
        }
        close(fd);
    }
    if (id == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        id = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
             ((uint64_t)getpid() << 16);
        id ^= id >> 31;
        id *= 0x9E3779B97F4A7C15u;
        if (id == 0) {
            id = 1;
        }
    }
    return id;
}

/* Connect to addr within timeout_ms and send the client hello with the
 * token; the socket is left blocking with send/receive timeouts of
 * timeout_ms. -1 on error, with *why set. */
static int dial(const char *addr, uint64_t timeout_ms, const char **why)
{
    return ctr_dial_client(addr, &g_token, timeout_ms, why);
}

/* One request/response exchange on a connected client socket. 0 on
 * success; -1 on a lost connection, timeout or malformed answer. */
static int exchange(int fd, const struct ctr_req *q, struct ctr_resp *p,
                    const char **why)
{
    uint8_t req[CTR_REQ_LEN];
    uint8_t resp[CTR_RESP_MAX];
    uint32_t len;

    ctr_req_encode(q, req);
    if (ctr_write_full(fd, req, sizeof(req)) != 0) {
        *why = "send failed";
        return -1;
    }
    if (ctr_read_full(fd, resp, 4) != 0) {
        *why = errno == EAGAIN || errno == EWOULDBLOCK ? "timed out"
                                                       : "connection lost";
        return -1;
    }
    len = ctr_get32(resp);
    if (len < CTR_RESP_FIXED || len > sizeof(resp)) {
        *why = "malformed response";
        return -1;
    }
    if (ctr_read_full(fd, resp + 4, len - 4) != 0) {
        *why = errno == EAGAIN || errno == EWOULDBLOCK ? "timed out"
                                                       : "connection lost";
        return -1;
    }
    if (ctr_resp_decode(resp, len, p) != 0) {
        *why = "malformed response";
        return -1;
    }
    return 0;
}

/* Connect, send one request, read the answer, close. */
static int call(const char *addr, const struct ctr_req *q, struct ctr_resp *p,
                uint64_t timeout_ms, const char **why)
{
    int rc, fd = dial(addr, timeout_ms, why);
    if (fd < 0) {
        return -1;
    }
    rc = exchange(fd, q, p, why);
    close(fd);
    return rc;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000u);
    ts.tv_nsec = (long)((ms % 1000u) * 1000000u);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- status ----------------------------------------------------------- */

/* Names of the counters, by position in CTR_METRICS_MAP. */
#define M_GROUP(group, name, field) #group,
#define M_NAME(group, name, field) #name,
static const char *const m_group[CTR_M_COUNT] = {CTR_METRICS_MAP(M_GROUP)};
static const char *const m_name[CTR_M_COUNT] = {CTR_METRICS_MAP(M_NAME)};
#undef M_GROUP
#undef M_NAME

/* Ask one server for its status and counters. A server that predates the
 * METRICS request closes the connection on it: then ask for STATUS. */
static int ask_status(const char *addr, uint64_t timeout_ms, uint64_t cid,
                      struct ctr_resp *p, const char **why)
{
    struct ctr_req q = {CTR_OP_METRICS, cid, 1, 0};
    if (call(addr, &q, p, timeout_ms, why) == 0) {
        return 0;
    }
    if (strcmp(*why, "connection lost") != 0) {
        return -1;
    }
    q.op = CTR_OP_STATUS;
    return call(addr, &q, p, timeout_ms, why);
}

/* The six indented lines of counters under a server's status line. */
static void print_metrics(const struct ctr_resp *p)
{
    uint64_t v[CTR_M_COUNT];
    const char *sep = "";
    int i;
    if (!p->has_metrics) {
        printf("    (no counters: the server predates them)\n");
        return;
    }
    memset(v, 0, sizeof(v)); /* counters an older server lacks read 0 */
    memcpy(v, p->metrics, p->n_metrics * sizeof(v[0]));
    printf("    sent      vote %" PRIu64 "  vote_resp %" PRIu64 "  append %" PRIu64
           "  append_resp %" PRIu64 "  (failed %" PRIu64 ", queue full %" PRIu64
           ")\n",
           v[CTR_M_sent_vote], v[CTR_M_sent_vote_resp], v[CTR_M_sent_append],
           v[CTR_M_sent_append_resp], v[CTR_M__send_failures],
           v[CTR_M__queue_full]);
    printf("    received  vote %" PRIu64 "  vote_resp %" PRIu64 "  append %" PRIu64
           "  append_resp %" PRIu64 "  (rejected:",
           v[CTR_M_recv_vote], v[CTR_M_recv_vote_resp], v[CTR_M_recv_append],
           v[CTR_M_recv_append_resp]);
    for (i = 0; i < CTR_M_COUNT; i++) {
        if (strcmp(m_group[i], "rejected") == 0 && v[i] > 0) {
            printf("%s %s %" PRIu64, sep, m_name[i], v[i]);
            sep = ",";
        }
    }
    printf("%s)\n", sep[0] == '\0' ? " none" : "");
    printf("    entries   proposed %" PRIu64 "  replicated %" PRIu64
           "  applied %" PRIu64 "  sent %" PRIu64 " (%" PRIu64
           " payload bytes)\n",
           v[CTR_M__entries_proposed], v[CTR_M__entries_replicated],
           v[CTR_M__entries_applied], v[CTR_M__entries_sent],
           v[CTR_M__entry_bytes_sent]);
    printf("    elections %" PRIu64 " (won %" PRIu64 ")  step-downs %" PRIu64
           "  persist: state %" PRIu64 "  entries %" PRIu64
           "  completed %" PRIu64 "\n",
           v[CTR_M__elections_started], v[CTR_M__elections_won],
           v[CTR_M__step_downs], v[CTR_M__persist_state_calls],
           v[CTR_M__persist_entries_calls], v[CTR_M__writes_completed]);
    printf("    snapshots taken %" PRIu64 "  installed %" PRIu64 "  sent %" PRIu64
           " chunks (%" PRIu64 " bytes)\n",
           v[CTR_M_snapshots_compactions], v[CTR_M_snapshots_installed],
           v[CTR_M_snapshots_chunks_sent], v[CTR_M_snapshots_bytes_sent]);
    printf("    reads     served %" PRIu64 "  failed %" PRIu64 "  rounds %" PRIu64
           "  lease %" PRIu64 "  (pre-votes %" PRIu64 ", quorum lost %" PRIu64
           ")\n",
           v[CTR_M_reads_served], v[CTR_M_reads_failed], v[CTR_M_reads_rounds],
           v[CTR_M_reads_lease], v[CTR_M__prevotes_started],
           v[CTR_M__quorum_lost]);
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            printf("\\%c", ch);
        } else if (ch < 0x20) {
            printf("\\u%04x", ch);
        } else {
            putchar(ch);
        }
    }
    putchar('"');
}

/* The counters as a JSON object: grouped ones (sent, recv, rejected) as
 * nested objects, the others at the top level. */
static void json_metrics(const struct ctr_resp *p)
{
    uint32_t i;
    printf("{");
    for (i = 0; i < p->n_metrics; i++) {
        const char *g = m_group[i];
        bool first = i == 0 || strcmp(m_group[i - 1], g) != 0;
        bool last = i + 1 == p->n_metrics || strcmp(m_group[i + 1], g) != 0;
        printf("%s", i > 0 ? "," : "");
        if (g[0] != '\0' && first) {
            printf("\"%s\":{", g);
        }
        printf("\"%s\":%" PRIu64, m_name[i], p->metrics[i]);
        if (g[0] != '\0' && last) {
            printf("}");
        }
    }
    printf("}");
}

static void json_status(const char *server, const struct ctr_resp *p,
                        const char *error)
{
    printf("{\"server\":");
    json_str(server);
    if (error != NULL) {
        printf(",\"error\":");
        json_str(error);
        printf("}");
        return;
    }
    printf(",\"id\":%" PRIu64 ",\"role\":\"%s\",\"term\":%" PRIu64
           ",\"leader\":%" PRIu64 ",\"commit\":%" PRIu64
           ",\"applied\":%" PRIu64 ",\"value\":%" PRIu64,
           p->node_id, role_name(p->role), p->term, p->leader_id, p->commit,
           p->applied, p->value);
    if (p->has_metrics) {
        printf(",\"metrics\":");
        json_metrics(p);
    }
    printf("}");
}

static int cmd_status(char **servers, int n, uint64_t timeout_ms, uint64_t cid,
                      bool json)
{
    int i, answered = 0;
    if (json) {
        printf("[\n");
    }
    for (i = 0; i < n; i++) {
        struct ctr_resp p;
        const char *why = NULL;
        char err[128];
        const char *error = NULL;
        if (ask_status(servers[i], timeout_ms, cid, &p, &why) != 0) {
            snprintf(err, sizeof(err), "unreachable (%s)", why);
            error = err;
        } else if (p.status == CTR_REFUSED) {
            snprintf(err, sizeof(err), "refused the connection (%s)",
                     ctr_refusal_text((int)p.value));
            error = err;
        } else if (p.status != CTR_OK) {
            snprintf(err, sizeof(err), "error (%s)", status_name(p.status));
            error = err;
        } else {
            answered++;
        }
        if (json) {
            json_status(servers[i], &p, error);
            printf("%s\n", i + 1 < n ? "," : "");
            continue;
        }
        if (error != NULL) {
            printf("%s %s\n", servers[i], error);
            continue;
        }
        printf("%s id=%" PRIu64 " role=%s term=%" PRIu64 " leader=%" PRIu64
               " commit=%" PRIu64 " applied=%" PRIu64 " value=%" PRIu64 "\n",
               servers[i], p.node_id, role_name(p.role), p.term, p.leader_id,
               p.commit, p.applied, p.value);
        print_metrics(&p);
    }
    if (json) {
        printf("]\n");
    }
    fflush(stdout);
    return answered > 0 ? 0 : 1;
}

/* incr/get: find the leader and retry with the same (client_id, seq) until
 * the deadline. */
static int cmd_op(char **servers, int n, uint64_t timeout_ms,
                  uint64_t deadline_ms, const struct ctr_req *q)
{
    uint64_t deadline = ctr_now_ms() + deadline_ms;
    uint64_t backoff = 20;
    char target[CTR_ADDR_MAX + 1];
    const char *last_why = "no server tried";
    int next = 0, attempts = 0;

    snprintf(target, sizeof(target), "%s", servers[0]);
    next = 1 % n;
    for (;;) {
        struct ctr_resp p;
        const char *why = NULL;
        uint64_t now = ctr_now_ms(), left;
        int redirect = 0;
        if (now >= deadline) {
            break;
        }
        left = deadline - now;
        attempts++;
        if (call(target, q, &p, timeout_ms < left ? timeout_ms : left, &why) != 0) {
            last_why = why;
        } else if (p.status == CTR_OK) {
            printf("%" PRIu64 "\n", p.value);
            fflush(stdout);
            return 0;
        } else if (p.status == CTR_REFUSED) {
            fprintf(stderr, "%s: %s refused the connection: %s (is "
                    "--token-file the cluster's token file?)\n", prog, target,
                    ctr_refusal_text((int)p.value));
            return 1;
        } else if (p.status == CTR_BAD_REQUEST) {
            fprintf(stderr,
                    "%s: %s rejected the request (CTR_BAD_REQUEST: malformed, "
                    "or a seq older than this client id's latest)\n",
                    prog, target);
            return 1;
        } else if (p.status == CTR_NOT_LEADER) {
            last_why = "no leader known";
            if (p.addr[0] != '\0' && strcmp(p.addr, target) != 0) {
                snprintf(target, sizeof(target), "%s", p.addr);
                redirect = 1;
            }
        } else {
            last_why = p.status == CTR_RETRY ? "server asked to retry"
                                              : "unexpected status";
        }
        if (redirect) {
            continue; /* follow the hint at once */
        }
        /* Next server in the list, after a short backoff. */
        snprintf(target, sizeof(target), "%s", servers[next]);
        next = (next + 1) % n;
        sleep_ms(backoff);
        if (backoff < 200) {
            backoff *= 2;
        }
        if (attempts > 10000) {
            break; /* guards against a pathological hint loop */
        }
    }
    fprintf(stderr,
            "%s: gave up after %d attempts in %" PRIu64 " ms (last: %s); the "
            "request may or may not have been applied - retry with "
            "--client-id %" PRIu64 " --seq %" PRIu64 " to find out\n",
            prog, attempts, deadline_ms, last_why, q->client_id, q->seq);
    return 1;
}

/* Parse the server list (modified in place) and run the command argv[0]. */
static int run(char *servers_arg, int argc, char **argv, uint64_t timeout_ms,
               uint64_t deadline_ms, uint64_t client_id, uint64_t seq)
{
    char *servers[MAX_SERVERS];
    int nservers = 0;
    struct sockaddr_in sas[MAX_SERVERS];
    char *tok, *save = NULL;
    int k;

    for (tok = strtok_r(servers_arg, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (nservers == MAX_SERVERS) {
            fprintf(stderr, "%s: --servers: more than %d addresses\n", prog,
                    MAX_SERVERS);
            return 2;
        }
        if (ctr_parse_addr(tok, &sas[nservers]) != 0) {
            fprintf(stderr, "%s: --servers: '%s' is not an IPv4 HOST:PORT\n",
                    prog, tok);
            return 2;
        }
        for (k = 0; k < nservers; k++) {
            if (sas[k].sin_addr.s_addr == sas[nservers].sin_addr.s_addr &&
                sas[k].sin_port == sas[nservers].sin_port) {
                fprintf(stderr, "%s: --servers: duplicate address %s\n", prog,
                        tok);
                return 2;
            }
        }
        servers[nservers++] = tok;
    }
    if (nservers == 0) {
        fprintf(stderr, "%s: --servers: empty list\n", prog);
        return 2;
    }
    if (client_id == 0) {
        client_id = random_client_id();
    }
    if (strcmp(argv[0], "status") == 0 &&
        (argc == 1 || (argc == 2 && strcmp(argv[1], "--json") == 0))) {
        return cmd_status(servers, nservers, timeout_ms, client_id, argc == 2);
    }
    if (strcmp(argv[0], "get") == 0 && argc == 1) {
        struct ctr_req q = {CTR_OP_GET, client_id, seq, 0};
        return cmd_op(servers, nservers, timeout_ms, deadline_ms, &q);
    }
    if (strcmp(argv[0], "incr") == 0 && argc == 2) {
        struct ctr_req q = {CTR_OP_INCR, client_id, seq, 0};
        if (parse_u64(argv[1], &q.amount) != 0 || q.amount == 0) {
            fprintf(stderr, "%s: incr: N must be a positive integer (got "
                    "'%s')\n", prog, argv[1]);
            return 2;
        }
        return cmd_op(servers, nservers, timeout_ms, deadline_ms, &q);
    }
    fprintf(stderr, "%s: unknown command or wrong arguments: %s\n", prog,
            argv[0]);
    usage(stderr);
    return 2;
}

int main(int argc, char **argv)
{
    struct ctr_flags f;
    const char *servers_opt = DEFAULT_SERVERS, *token_file = NULL, *v;
    char *servers_arg, err[CTR_TOKEN_ERR_MAX];
    uint64_t timeout_ms = 1000, deadline_ms = 10000, client_id = 0, seq = 1;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    ctr_flags_init(&f, prog, usage, argc, argv);
    while (ctr_flags_next(&f)) {
        if ((v = ctr_flag_value(&f, "--token-file")) != NULL) {
            token_file = v;
        } else if ((v = ctr_flag_value(&f, "--servers")) != NULL) {
            servers_opt = v;
        } else if ((v = ctr_flag_value(&f, "--timeout-ms")) != NULL) {
            timeout_ms = ctr_flag_u64(&f, v, 1, 3600000u);
        } else if ((v = ctr_flag_value(&f, "--deadline-ms")) != NULL) {
            deadline_ms = ctr_flag_u64(&f, v, 1, UINT64_MAX);
        } else if ((v = ctr_flag_value(&f, "--client-id")) != NULL) {
            client_id = ctr_flag_u64(&f, v, 1, UINT64_MAX);
        } else if ((v = ctr_flag_value(&f, "--seq")) != NULL) {
            seq = ctr_flag_u64(&f, v, 1, UINT64_MAX);
        } else {
            ctr_flag_unknown(&f);
        }
    }
    if (f.i >= argc) {
        fprintf(stderr, "%s: no command (incr N, get or status)\n", prog);
        usage(stderr);
        return 2;
    }
    if (token_file == NULL) {
        ctr_flag_fail(&f, "--token-file: required (the cluster token)");
    }
    if (ctr_token_read(token_file, &g_token, err, sizeof(err)) != 0) {
        ctr_flag_fail(&f, "--token-file: %s", err);
    }

    servers_arg = strdup(servers_opt);
    if (servers_arg == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    rc = run(servers_arg, argc - f.i, argv + f.i, timeout_ms, deadline_ms,
             client_id, seq);
    free(servers_arg);
    return rc;
}
