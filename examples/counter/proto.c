/*
 * proto.c - client protocol encoding and small I/O helpers shared by the
 * counter server, the CLI and the tests. Only libc and POSIX.
 */
#include "proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

void ctr_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void ctr_put64(uint8_t *p, uint64_t v)
{
    ctr_put32(p, (uint32_t)v);
    ctr_put32(p + 4, (uint32_t)(v >> 32));
}

uint32_t ctr_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

uint64_t ctr_get64(const uint8_t *p)
{
    return (uint64_t)ctr_get32(p) | (uint64_t)ctr_get32(p + 4) << 32;
}

void ctr_req_encode(const struct ctr_req *q, uint8_t *buf)
{
    memset(buf, 0, CTR_REQ_LEN);
    ctr_put32(buf, CTR_REQ_LEN);
    buf[4] = q->op;
    ctr_put64(buf + 8, q->client_id);
    ctr_put64(buf + 16, q->seq);
    ctr_put64(buf + 24, q->amount);
}

int ctr_req_decode(const uint8_t *buf, size_t len, struct ctr_req *q)
{
    if (len != CTR_REQ_LEN || ctr_get32(buf) != CTR_REQ_LEN || buf[5] != 0 ||
        buf[6] != 0 || buf[7] != 0) {
        return -1;
    }
    q->op = buf[4];
    if (q->op < CTR_OP_INCR || q->op > CTR_OP_TRANSFER) {
        return -1;
    }
    q->client_id = ctr_get64(buf + 8);
    q->seq = ctr_get64(buf + 16);
    q->amount = ctr_get64(buf + 24);
    return 0;
}

size_t ctr_resp_encode(const struct ctr_resp *p, uint8_t *buf)
{
    size_t alen = strnlen(p->addr, CTR_ADDR_MAX);
    size_t nm = p->n_metrics < CTR_M_COUNT ? p->n_metrics : CTR_M_COUNT;
    size_t nc = p->n_members < CTR_MEMBERS_MAX ? p->n_members : CTR_MEMBERS_MAX;
    size_t len = CTR_RESP_FIXED + alen, i;
    uint8_t *m;
    if (p->has_conf) {
        nm = 0;
    }
    ctr_put32(buf, 0); /* the length, once known */
    buf[4] = p->status;
    buf[5] = p->role;
    buf[6] = (uint8_t)alen;
    buf[7] = (uint8_t)(alen >> 8);
    ctr_put64(buf + 8, p->value);
    ctr_put64(buf + 16, p->leader_id);
    ctr_put64(buf + 24, p->term);
    ctr_put64(buf + 32, p->commit);
    ctr_put64(buf + 40, p->applied);
    ctr_put64(buf + 48, p->node_id);
    memcpy(buf + CTR_RESP_FIXED, p->addr, alen);
    if (p->has_metrics || p->has_conf) {
        m = buf + len;
        ctr_put32(m, (uint32_t)nm);
        for (i = 0; i < nm; i++) {
            ctr_put64(m + 4 + 8 * i, p->metrics[i]);
        }
        len += 4 + 8 * nm;
    }
    if (p->has_conf) {
        m = buf + len;
        ctr_put64(m, p->last_index);
        ctr_put64(m + 8, p->conf_index);
        ctr_put32(m + 16, p->conf_flags);
        ctr_put32(m + 20, (uint32_t)nc);
        for (i = 0, m += CTR_CONF_FIXED; i < nc; i++, m += CTR_MEMBER_BYTES) {
            const struct ctr_member *x = &p->members[i];
            ctr_put64(m, x->id);
            ctr_put32(m + 8, x->flags);
            ctr_put32(m + 12, x->state);
            ctr_put64(m + 16, x->match);
            ctr_put64(m + 24, x->next);
            ctr_put64(m + 32, x->snapshot_acked);
            ctr_put32(m + 40, x->inflight);
            ctr_put32(m + 44, x->self);
        }
        len += CTR_CONF_FIXED + CTR_MEMBER_BYTES * nc;
    }
    ctr_put32(buf, (uint32_t)len);
    return len;
}

/* The configuration block of a CONF answer, m[0..rest). */
static int conf_decode(const uint8_t *m, size_t rest, struct ctr_resp *p)
{
    size_t nc, i;
    if (rest < CTR_CONF_FIXED) {
        return -1;
    }
    nc = ctr_get32(m + 20);
    if (nc > CTR_MEMBERS_MAX || rest != CTR_CONF_FIXED + CTR_MEMBER_BYTES * nc) {
        return -1;
    }
    p->has_conf = true;
    p->last_index = ctr_get64(m);
    p->conf_index = ctr_get64(m + 8);
    p->conf_flags = ctr_get32(m + 16);
    p->n_members = (uint32_t)nc;
    for (i = 0, m += CTR_CONF_FIXED; i < nc; i++, m += CTR_MEMBER_BYTES) {
        struct ctr_member *x = &p->members[i];
        x->id = ctr_get64(m);
        x->flags = ctr_get32(m + 8);
        x->state = ctr_get32(m + 12);
        x->match = ctr_get64(m + 16);
        x->next = ctr_get64(m + 24);
        x->snapshot_acked = ctr_get64(m + 32);
        x->inflight = ctr_get32(m + 40);
        x->self = ctr_get32(m + 44);
    }
    return 0;
}

int ctr_resp_decode(const uint8_t *buf, size_t len, struct ctr_resp *p)
{
    size_t alen, rest, nm, i;
    if (len < CTR_RESP_FIXED || ctr_get32(buf) != len) {
        return -1;
    }
    alen = (size_t)buf[6] | (size_t)buf[7] << 8;
    if (alen > CTR_ADDR_MAX || CTR_RESP_FIXED + alen > len) {
        return -1;
    }
    /* Anything after the address is the counters of a METRICS answer, or
     * (no counters, then the configuration) a CONF answer. */
    rest = len - CTR_RESP_FIXED - alen;
    p->has_metrics = false;
    p->has_conf = false;
    p->n_metrics = 0;
    p->n_members = 0;
    if (rest > 0) {
        const uint8_t *m = buf + CTR_RESP_FIXED + alen;
        if (rest < 4) {
            return -1;
        }
        nm = ctr_get32(m);
        if (nm > CTR_METRICS_MAX || rest < 4 + 8 * nm) {
            return -1;
        }
        if (rest > 4 + 8 * nm) {
            if (nm != 0 || conf_decode(m + 4, rest - 4, p) != 0) {
                return -1;
            }
        } else {
            p->has_metrics = true;
        }
        p->n_metrics = (uint32_t)(nm < CTR_M_COUNT ? nm : CTR_M_COUNT);
        for (i = 0; i < p->n_metrics; i++) {
            p->metrics[i] = ctr_get64(m + 4 + 8 * i);
        }
    }
    p->status = buf[4];
    p->role = buf[5];
    p->value = ctr_get64(buf + 8);
    p->leader_id = ctr_get64(buf + 16);
    p->term = ctr_get64(buf + 24);
    p->commit = ctr_get64(buf + 32);
    p->applied = ctr_get64(buf + 40);
    p->node_id = ctr_get64(buf + 48);
    memcpy(p->addr, buf + CTR_RESP_FIXED, alen);
    p->addr[alen] = '\0';
    return 0;
}

uint32_t ctr_crc32(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    size_t i;
    int k;
    crc = ~crc;
    /* Bitwise: the log is small and fsync dominates; no table needed. */
    for (i = 0; i < len; i++) {
        crc ^= p[i];
        for (k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

int ctr_read_full(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int ctr_write_full(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

uint64_t ctr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int ctr_parse_addr(const char *s, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    char *end;
    long port;
    size_t hlen;
    if (colon == NULL) {
        return -1;
    }
    hlen = (size_t)(colon - s);
    if (hlen == 0 || hlen >= sizeof(host)) {
        return -1;
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535) {
        return -1;
    }
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0) {
        strcpy(host, "127.0.0.1");
    }
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int dial_fail(int fd, const char **why, const char *text)
{
    if (why != NULL) {
        *why = text;
    }
    if (fd >= 0) {
        close(fd);
    }
    return -1;
}

/* Wait for a non-blocking connect to finish. 0 or -1 with *text set. */
static int connect_wait(int fd, uint64_t timeout_ms, const char **text)
{
    struct pollfd pfd;
    int rc, err = 0;
    socklen_t elen = sizeof(err);
    pfd.fd = fd;
    pfd.events = POLLOUT;
    do {
        rc = poll(&pfd, 1, (int)timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0) {
        *text = rc == 0 ? "connect timed out" : strerror(errno);
        return -1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
        *text = strerror(err != 0 ? err : errno);
        return -1;
    }
    return 0;
}

/* The longest timeout ctr_dial() sets: one day. */
#define DIAL_MS_MAX (24u * 3600u * 1000u)

int ctr_dial(const char *addr, uint64_t timeout_ms, const char **why)
{
    struct sockaddr_in sa;
    struct timeval tv;
    const char *text = NULL;
    int fd, flags, rc, one = 1;
    if (ctr_parse_addr(addr, &sa) != 0) {
        return dial_fail(-1, why, "bad address");
    }
    /* 0 would mean "no timeout" to SO_RCVTIMEO, and past INT_MAX poll()'s
     * int turns negative (no timeout either): a caller whose deadline just
     * passed must not block forever. */
    timeout_ms = timeout_ms == 0           ? 1
                 : timeout_ms > DIAL_MS_MAX ? DIAL_MS_MAX
                                            : timeout_ms;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return dial_fail(-1, why, strerror(errno));
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (rc != 0 && errno != EINPROGRESS) {
        return dial_fail(fd, why, strerror(errno));
    }
    if (rc != 0 && connect_wait(fd, timeout_ms, &text) != 0) {
        return dial_fail(fd, why, text);
    }
    fcntl(fd, F_SETFL, flags);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    tv.tv_sec = (time_t)(timeout_ms / 1000);
    tv.tv_usec = (suseconds_t)((timeout_ms % 1000) * 1000);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}
