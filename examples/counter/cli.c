/*
 * cli.c - command-line client for the replicated counter.
 *
 *   counter-cli --token-file PATH [--servers H:P,H:P,...] [--timeout-ms MS]
 *               [--deadline-ms MS] [--client-id N] [--seq N]
 *               incr N | get | status [--json] | conf [--json]
 *               | add-learner ID | promote ID | remove ID | transfer ID
 *               | load [SECONDS]
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
 * Membership (all go to the leader, found as for incr, and retry until the
 * deadline while another change is in progress):
 *   conf          the configuration (voters, learners, whether it is joint
 *                 and committed) and, from the leader, how far each member
 *                 is behind its log (--json: as JSON);
 *   add-learner   add node ID as a learner: it receives the log (or a
 *                 snapshot) but does not vote; answered once committed;
 *   promote       make node ID a voter (a learner that has caught up, or
 *                 a new node); answered once committed;
 *   remove        remove node ID (voter or learner); answered once
 *                 committed. Removing the leader makes it hand over first;
 *   transfer      hand leadership to voter ID; waits until ID leads.
 * Asking for a change the configuration already has succeeds at once, so
 * a command that timed out can simply be run again.
 *
 * load is a client that never stops: it increments by 1, one request at a
 * time, each retried (same client id and seq) until it is acknowledged or
 * --deadline-ms passes, until SECONDS have passed or it gets SIGINT or
 * SIGTERM. Then it prints how many increments were acknowledged, how many
 * were given up on, and the longest waits between two acknowledgements:
 * the time no write was seen committed.
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
#include "raft.h" /* constants only: the CLI does not link the library */

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
            "       [--deadline-ms MS] [--client-id N] [--seq N]\n"
            "       incr N | get | status [--json] | conf [--json]\n"
            "       | add-learner ID | promote ID | remove ID | transfer ID\n"
            "       | load [SECONDS]\n"
            "       %s -h | --help | --version\n"
            "  --token-file   file holding the cluster token (required; "
            "mode 0600)\n"
            "  --servers      comma-separated server addresses (default %s)\n"
            "  --timeout-ms   per-attempt timeout, 1..3600000 (default 1000)\n"
            "  --deadline-ms  overall deadline of a command, retries included\n"
            "                 (default 10000)\n"
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
    case CTR_CHANGE_REFUSED:
        return "change refused";
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

/* Send q to the leader (starting with the first server, following the
 * hints of "not leader" answers, trying the next server otherwise) and
 * retry with the same request on timeouts, lost connections and "retry"
 * answers until the deadline. 0 with *p the CTR_OK answer; 1 after
 * printing why not. */
static int leader_call(char **servers, int n, uint64_t timeout_ms,
                       uint64_t deadline_ms, const struct ctr_req *q,
                       struct ctr_resp *p)
{
    uint64_t deadline = ctr_now_ms() + deadline_ms;
    uint64_t backoff = 20;
    char target[CTR_ADDR_MAX + 1];
    const char *last_why = "no server tried";
    int next = 0, attempts = 0;

    snprintf(target, sizeof(target), "%s", servers[0]);
    next = 1 % n;
    for (;;) {
        const char *why = NULL;
        uint64_t now = ctr_now_ms(), left;
        int redirect = 0;
        if (now >= deadline) {
            break;
        }
        left = deadline - now;
        attempts++;
        if (call(target, q, p, timeout_ms < left ? timeout_ms : left, &why) != 0) {
            last_why = why;
        } else if (p->status == CTR_OK) {
            return 0;
        } else if (p->status == CTR_REFUSED) {
            fprintf(stderr, "%s: %s refused the connection: %s (is "
                    "--token-file the cluster's token file?)\n", prog, target,
                    ctr_refusal_text((int)p->value));
            return 1;
        } else if (p->status == CTR_BAD_REQUEST) {
            fprintf(stderr,
                    "%s: %s rejected the request (CTR_BAD_REQUEST: malformed, "
                    "or a seq older than this client id's latest)\n",
                    prog, target);
            return 1;
        } else if (p->status == CTR_CHANGE_REFUSED) {
            int rc = -(int)p->value;
            fprintf(stderr, "%s: the leader (%s) refused the change: %s\n",
                    prog, target,
                    rc == RAFT_EBADCONF
                        ? "it does not fit the configuration (a member that "
                          "already is one, a node that is not a member, or "
                          "no voter left)"
                    : rc == RAFT_EINVAL ? "invalid argument"
                                        : "error");
            return 1;
        } else if (p->status == CTR_NOT_LEADER) {
            last_why = "no leader known";
            if (p->addr[0] != '\0' && strcmp(p->addr, target) != 0) {
                snprintf(target, sizeof(target), "%s", p->addr);
                redirect = 1;
            }
        } else {
            last_why = p->status == CTR_RETRY ? "server asked to retry"
                                              : "unexpected status";
            if (p->status == CTR_RETRY && p->role == ROLE_LEADER) {
                /* Still the leader: ask it again after a backoff. */
                sleep_ms(backoff);
                backoff = backoff < 200 ? backoff * 2 : backoff;
                continue;
            }
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
    if (q->op == CTR_OP_INCR || q->op == CTR_OP_GET) {
        fprintf(stderr,
                "%s: gave up after %d attempts in %" PRIu64 " ms (last: %s); "
                "the request may or may not have been applied - retry with "
                "--client-id %" PRIu64 " --seq %" PRIu64 " to find out\n",
                prog, attempts, deadline_ms, last_why, q->client_id, q->seq);
    } else {
        fprintf(stderr, "%s: gave up after %d attempts in %" PRIu64 " ms "
                "(last: %s); the change may or may not have been made - run "
                "the command again, or see counter-cli conf\n", prog,
                attempts, deadline_ms, last_why);
    }
    return 1;
}

/* incr/get: find the leader and retry with the same (client_id, seq) until
 * the deadline. */
static int cmd_op(char **servers, int n, uint64_t timeout_ms,
                  uint64_t deadline_ms, const struct ctr_req *q)
{
    struct ctr_resp p;
    if (leader_call(servers, n, timeout_ms, deadline_ms, q, &p) != 0) {
        return 1;
    }
    printf("%" PRIu64 "\n", p.value);
    fflush(stdout);
    return 0;
}

/* ---- membership ----------------------------------------------------------- */

static const char *member_role(uint32_t flags)
{
    switch (flags) {
    case RAFT_MEMBER_VOTER:
        return "voter";
    case RAFT_MEMBER_LEARNER:
        return "learner";
    case RAFT_MEMBER_OUTGOING:
        return "voter, leaving";
    case RAFT_MEMBER_VOTER | RAFT_MEMBER_OUTGOING:
        return "voter, staying";
    case RAFT_MEMBER_LEARNER | RAFT_MEMBER_OUTGOING:
        return "voter, to learner";
    case 0:
        return "not a member";
    default:
        return "?";
    }
}

static const char *progress_state(uint32_t state)
{
    switch (state) {
    case RAFT_PROGRESS_PROBE:
        return "probe";
    case RAFT_PROGRESS_REPLICATE:
        return "replicate";
    case RAFT_PROGRESS_SNAPSHOT:
        return "snapshot";
    default:
        return "-";
    }
}

/* The leader's CONF answer (or, if no server knows a leader, the first
 * answer). 0, or 1 after printing why not. */
static int conf_ask(char **servers, int n, uint64_t timeout_ms,
                    uint64_t deadline_ms, struct ctr_resp *out)
{
    struct ctr_req q = {CTR_OP_CONF, 0, 0, 0};
    uint64_t deadline = ctr_now_ms() + deadline_ms;
    struct ctr_resp p;
    char target[CTR_ADDR_MAX + 1];
    const char *why = "no server answered";
    int i, have = 0, hops;
    for (i = 0; i < n && ctr_now_ms() < deadline; i++) {
        snprintf(target, sizeof(target), "%s", servers[i]);
        for (hops = 0; hops < 4; hops++) {
            if (call(target, &q, &p, timeout_ms, &why) != 0) {
                break; /* p holds no answer: why says what failed */
            }
            if (p.status != CTR_OK || !p.has_conf) {
                why = p.status == CTR_REFUSED ? "refused the connection"
                                              : "no configuration in the answer";
                break;
            }
            if (!have) {
                *out = p;
                have = 1;
            }
            if (p.conf_flags & CTR_CONF_PROGRESS) {
                *out = p;
                return 0;
            }
            if (p.addr[0] == '\0' || strcmp(p.addr, target) == 0) {
                break;
            }
            snprintf(target, sizeof(target), "%s", p.addr);
        }
    }
    if (have) {
        return 0;
    }
    fprintf(stderr, "%s: conf: no server answered (last: %s)\n", prog, why);
    return 1;
}

static void conf_print_json(const struct ctr_resp *p)
{
    uint32_t i;
    bool prog_ok = (p->conf_flags & CTR_CONF_PROGRESS) != 0;
    printf("{\"node\":%" PRIu64 ",\"role\":\"%s\",\"term\":%" PRIu64
           ",\"leader\":%" PRIu64 ",\"commit\":%" PRIu64 ",\"last_index\":%"
           PRIu64 ",\"conf_index\":%" PRIu64 ",\"committed\":%s,\"joint\":%s"
           ",\"progress\":%s,\"members\":[",
           p->node_id, role_name(p->role), p->term, p->leader_id, p->commit,
           p->last_index, p->conf_index,
           p->commit >= p->conf_index ? "true" : "false",
           (p->conf_flags & CTR_CONF_JOINT) ? "true" : "false",
           prog_ok ? "true" : "false");
    for (i = 0; i < p->n_members; i++) {
        const struct ctr_member *m = &p->members[i];
        printf("%s{\"id\":%" PRIu64 ",\"role\":\"%s\",\"flags\":%" PRIu32,
               i > 0 ? "," : "", m->id, member_role(m->flags), m->flags);
        if (prog_ok) {
            printf(",\"state\":\"%s\",\"match\":%" PRIu64 ",\"behind\":%" PRIu64
                   ",\"next\":%" PRIu64 ",\"inflight\":%" PRIu32
                   ",\"snapshot_acked\":%" PRIu64,
                   m->self ? "leader" : progress_state(m->state), m->match,
                   p->last_index > m->match ? p->last_index - m->match : 0,
                   m->next, m->inflight, m->snapshot_acked);
        }
        printf("}");
    }
    printf("]}\n");
}

static void conf_print(const struct ctr_resp *p, const char *addr)
{
    uint32_t i;
    bool prog_ok = (p->conf_flags & CTR_CONF_PROGRESS) != 0;
    if (p->n_members == 0) {
        printf("n%" PRIu64 " (%s) has no configuration yet (an empty node "
               "waiting to be added)\n", p->node_id, addr);
        return;
    }
    printf("configuration: entry %" PRIu64 " (%s%s), as the %s n%" PRIu64
           " (%s) sees it; term %" PRIu64 ", commit %" PRIu64 ", last index %"
           PRIu64 "\n",
           p->conf_index, p->commit >= p->conf_index ? "committed"
                                                     : "not committed yet",
           (p->conf_flags & CTR_CONF_JOINT) ? ", joint" : "",
           prog_ok ? "leader" : role_name(p->role), p->node_id, addr, p->term,
           p->commit, p->last_index);
    printf("  node  role               match   behind  replication\n");
    for (i = 0; i < p->n_members; i++) {
        const struct ctr_member *m = &p->members[i];
        char node[24];
        snprintf(node, sizeof(node), "n%" PRIu64, m->id);
        if (!prog_ok) {
            printf("  %-5s %-17s %7s  %7s  %s\n", node, member_role(m->flags),
                   "-", "-", m->self ? "(this node)" : "-");
            continue;
        }
        printf("  %-5s %-17s %7" PRIu64 "  %7" PRIu64 "  ", node,
               member_role(m->flags), m->match,
               p->last_index > m->match ? p->last_index - m->match : 0);
        if (m->self) {
            printf("leader\n");
        } else if (m->state == RAFT_PROGRESS_SNAPSHOT) {
            printf("snapshot (%" PRIu64 " bytes acknowledged)\n",
                   m->snapshot_acked);
        } else {
            printf("%s\n", progress_state(m->state));
        }
    }
    if (!prog_ok) {
        printf("  (no leader answered: progress is known only to the "
               "leader)\n");
    }
}

static int cmd_conf(char **servers, int n, uint64_t timeout_ms,
                    uint64_t deadline_ms, bool json)
{
    static struct ctr_resp p;
    if (conf_ask(servers, n, timeout_ms, deadline_ms, &p) != 0) {
        return 1;
    }
    if (json) {
        conf_print_json(&p);
    } else {
        conf_print(&p, p.addr[0] != '\0' && p.leader_id == p.node_id
                           ? p.addr : "answering");
    }
    fflush(stdout);
    return 0;
}

/* add-learner, promote, remove: answered once the entry is committed. */
static int cmd_change(char **servers, int n, uint64_t timeout_ms,
                      uint64_t deadline_ms, uint8_t op, uint64_t id)
{
    static struct ctr_resp p;
    struct ctr_req q = {0, 0, 0, 0};
    q.op = op;
    q.amount = id;
    if (leader_call(servers, n, timeout_ms, deadline_ms, &q, &p) != 0) {
        return 1;
    }
    printf("n%" PRIu64 " %s (configuration entry %" PRIu64 ", committed)\n", id,
           op == CTR_OP_ADD_LEARNER ? "is a learner"
           : op == CTR_OP_ADD_VOTER ? "is a voter"
                                    : "is not a member",
           p.value);
    fflush(stdout);
    return 0;
}

/* transfer: start it on the leader, then wait until node `id` leads. */
static int cmd_transfer(char **servers, int n, uint64_t timeout_ms,
                        uint64_t deadline_ms, uint64_t id)
{
    static struct ctr_resp p;
    struct ctr_req q = {CTR_OP_TRANSFER, 0, 0, 0};
    uint64_t t0 = ctr_now_ms(), deadline = t0 + deadline_ms;
    q.amount = id;
    if (leader_call(servers, n, timeout_ms, deadline_ms, &q, &p) != 0) {
        return 1;
    }
    while (ctr_now_ms() < deadline) {
        struct ctr_req s = {CTR_OP_STATUS, 0, 1, 0};
        int i;
        for (i = 0; i < n; i++) {
            const char *why;
            if (call(servers[i], &s, &p, timeout_ms, &why) == 0 &&
                p.status == CTR_OK && p.node_id == id &&
                p.role == ROLE_LEADER) {
                printf("n%" PRIu64 " leads (term %" PRIu64 "), %" PRIu64
                       " ms after the request\n", id, p.term,
                       ctr_now_ms() - t0);
                fflush(stdout);
                return 0;
            }
        }
        sleep_ms(10);
    }
    fprintf(stderr, "%s: transfer: n%" PRIu64 " does not lead after %" PRIu64
            " ms (the transfer is abandoned after an election timeout; is n%"
            PRIu64 " in --servers?)\n", prog, id, deadline_ms, id);
    return 1;
}

/* ---- load --------------------------------------------------------------- */

static volatile sig_atomic_t g_load_stop;

static void on_load_signal(int sig)
{
    (void)sig;
    g_load_stop = 1;
}

#define LOAD_GAPS 5 /* longest waits reported */

struct gap {
    uint64_t ms, at_ms; /* the wait, and when it ended (since the start) */
};

/* Keep the LOAD_GAPS longest, longest first. */
static void gap_note(struct gap *g, uint64_t ms, uint64_t at_ms)
{
    int i, k;
    for (i = 0; i < LOAD_GAPS && g[i].ms >= ms; i++) {
    }
    if (i == LOAD_GAPS) {
        return;
    }
    for (k = LOAD_GAPS - 1; k > i; k--) {
        g[k] = g[k - 1];
    }
    g[i].ms = ms;
    g[i].at_ms = at_ms;
}

/* One increment, retried with the same seq until acknowledged or the
 * deadline; follows leader hints, and sticks to the last leader. 0 with
 * *value, or 1. */
static int load_one(char **servers, int n, int *target, char *hint,
                    uint64_t timeout_ms, uint64_t deadline,
                    const struct ctr_req *q, uint64_t *value)
{
    struct ctr_resp p;
    uint64_t backoff = 5;
    uint64_t now;
    while ((now = ctr_now_ms()) < deadline && !g_load_stop) {
        const char *why;
        const char *addr = hint[0] != '\0' ? hint : servers[*target];
        uint64_t left = deadline - now;
        if (call(addr, q, &p, timeout_ms < left ? timeout_ms : left, &why) == 0) {
            if (p.status == CTR_OK) {
                *value = p.value;
                return 0;
            }
            if (p.status == CTR_REFUSED || p.status == CTR_BAD_REQUEST) {
                fprintf(stderr, "%s: load: %s answered %s\n", prog, addr,
                        status_name(p.status));
                g_load_stop = 1;
                return 1;
            }
            if (p.status == CTR_NOT_LEADER && p.addr[0] != '\0' &&
                strcmp(p.addr, addr) != 0) {
                snprintf(hint, CTR_ADDR_MAX + 1, "%s", p.addr);
                continue;
            }
            if (p.status == CTR_RETRY && p.role == ROLE_LEADER) {
                sleep_ms(backoff);
                backoff = backoff < 50 ? backoff * 2 : backoff;
                continue;
            }
        }
        hint[0] = '\0';
        *target = (*target + 1) % n;
        sleep_ms(backoff);
        backoff = backoff < 50 ? backoff * 2 : backoff;
    }
    return 1;
}

static int cmd_load(char **servers, int n, uint64_t timeout_ms,
                    uint64_t deadline_ms, uint64_t client_id, uint64_t seconds)
{
    struct sigaction sa;
    struct gap gaps[LOAD_GAPS];
    char hint[CTR_ADDR_MAX + 1] = "";
    uint64_t t0 = ctr_now_ms(), last = t0, acked = 0, failed = 0, value = 0;
    uint64_t seq = 1, now;
    int target = 0, i;
    memset(gaps, 0, sizeof(gaps));
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_load_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!g_load_stop && (seconds == 0 || ctr_now_ms() - t0 < seconds * 1000)) {
        struct ctr_req q = {CTR_OP_INCR, client_id, 0, 1};
        q.seq = seq++;
        if (load_one(servers, n, &target, hint, timeout_ms,
                     ctr_now_ms() + deadline_ms, &q, &value) == 0) {
            now = ctr_now_ms();
            gap_note(gaps, now - last, now - t0);
            last = now;
            acked++;
        } else if (!g_load_stop) {
            failed++;
        }
    }
    now = ctr_now_ms();
    printf("load: %" PRIu64 " increments acknowledged in %.1f s (counter now "
           "%" PRIu64 "), %" PRIu64 " failed (given up after %" PRIu64
           " ms)\n", acked, (double)(now - t0) / 1e3, value, failed,
           deadline_ms);
    printf("load: longest waits between two acknowledged increments:");
    for (i = 0; i < LOAD_GAPS && gaps[i].ms > 0; i++) {
        printf("%s %" PRIu64 " ms (ending at %.1f s)", i > 0 ? "," : "",
               gaps[i].ms, (double)gaps[i].at_ms / 1e3);
    }
    printf("\n");
    fflush(stdout);
    return failed > 0 || acked == 0 ? 1 : 0;
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
    if (strcmp(argv[0], "load") == 0 && argc <= 2) {
        uint64_t secs = 0;
        if (argc == 2 && parse_u64(argv[1], &secs) != 0) {
            fprintf(stderr, "%s: load: SECONDS must be a number (got '%s')\n",
                    prog, argv[1]);
            return 2;
        }
        return cmd_load(servers, nservers, timeout_ms, deadline_ms, client_id,
                        secs);
    }
    if (strcmp(argv[0], "conf") == 0 &&
        (argc == 1 || (argc == 2 && strcmp(argv[1], "--json") == 0))) {
        return cmd_conf(servers, nservers, timeout_ms, deadline_ms, argc == 2);
    }
    if ((strcmp(argv[0], "add-learner") == 0 || strcmp(argv[0], "promote") == 0 ||
         strcmp(argv[0], "remove") == 0 || strcmp(argv[0], "transfer") == 0) &&
        argc == 2) {
        uint64_t id;
        if (parse_u64(argv[1], &id) != 0 || id == 0) {
            fprintf(stderr, "%s: %s: ID must be a positive integer (got '%s')\n",
                    prog, argv[0], argv[1]);
            return 2;
        }
        if (strcmp(argv[0], "transfer") == 0) {
            return cmd_transfer(servers, nservers, timeout_ms, deadline_ms, id);
        }
        return cmd_change(servers, nservers, timeout_ms, deadline_ms,
                          argv[0][0] == 'a'   ? CTR_OP_ADD_LEARNER
                          : argv[0][0] == 'p' ? CTR_OP_ADD_VOTER
                                              : CTR_OP_REMOVE,
                          id);
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
        fprintf(stderr, "%s: no command (incr N, get, status, conf, "
                "add-learner ID, promote ID, remove ID or transfer ID)\n",
                prog);
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
