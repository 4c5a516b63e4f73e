/*
 * handshake.c - the cluster token file and the connection hello (format
 * in handshake.h). Only libc and POSIX.
 */
#include "handshake.h"

#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HELLO_TOKEN_AT 32u

static int token_fail(char *err, size_t errlen, int fd, const char *fmt,
                      const char *path, const char *detail)
{
    snprintf(err, errlen, fmt, path, detail);
    if (fd >= 0) {
        close(fd);
    }
    return -1;
}

int ctr_token_read(const char *path, struct ctr_token *t, char *err,
                   size_t errlen)
{
    /* One byte more than a token and its newline tells "too long". */
    uint8_t buf[CTR_TOKEN_MAX + 2];
    struct stat st;
    char detail[160];
    size_t n = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    memset(t, 0, sizeof(*t));
    if (fd < 0) {
        return token_fail(err, errlen, -1, "%s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        return token_fail(err, errlen, fd, "%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return token_fail(err, errlen, fd, "%s: %s", path,
                          "not a regular file");
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        snprintf(detail, sizeof(detail), "mode %04o gives group or others "
                 "access; the token file must be private (chmod 600)",
                 (unsigned)(st.st_mode & 07777));
        return token_fail(err, errlen, fd, "%s: %s", path, detail);
    }
    while (n < sizeof(buf)) {
        ssize_t r = read(fd, buf + n, sizeof(buf) - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return token_fail(err, errlen, fd, "%s: %s", path, strerror(errno));
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
    }
    if (n == 0) {
        return token_fail(err, errlen, -1, "%s: %s", path,
                          "empty (it must hold the cluster token)");
    }
    if (n > CTR_TOKEN_MAX) {
        snprintf(detail, sizeof(detail), "longer than %u bytes", CTR_TOKEN_MAX);
        return token_fail(err, errlen, -1, "%s: %s", path, detail);
    }
    if (n < CTR_TOKEN_MIN) {
        snprintf(detail, sizeof(detail), "%zu bytes; a token must have at "
                 "least %u (e.g. 64 hex digits from /dev/urandom)", n,
                 CTR_TOKEN_MIN);
        return token_fail(err, errlen, -1, "%s: %s", path, detail);
    }
    memcpy(t->bytes, buf, n);
    t->len = n;
    return 0;
}

bool ctr_token_equal(const struct ctr_token *a, const struct ctr_token *b)
{
    /* Volatile reads: the compiler may neither skip bytes nor stop at the
     * first difference. Both buffers are zero-padded to CTR_TOKEN_MAX. */
    const volatile uint8_t *p = a->bytes, *q = b->bytes;
    unsigned diff = (unsigned)(a->len != b->len);
    size_t i;
    for (i = 0; i < CTR_TOKEN_MAX; i++) {
        diff |= (unsigned)(p[i] ^ q[i]);
    }
    return diff == 0;
}

void ctr_hello_encode(const struct ctr_hello *h, uint8_t *buf)
{
    memset(buf, 0, CTR_HELLO_LEN);
    buf[0] = h->kind;
    buf[1] = 'c';
    buf[2] = 't';
    buf[3] = 'r';
    buf[4] = (uint8_t)CTR_PROTO_VERSION;
    buf[5] = (uint8_t)h->token.len;
    ctr_put64(buf + 8, h->sender);
    ctr_put64(buf + 16, h->target);
    memcpy(buf + HELLO_TOKEN_AT, h->token.bytes, h->token.len);
}

int ctr_hello_decode(const uint8_t *buf, size_t len, struct ctr_hello *h)
{
    static const uint8_t magic[3] = {'c', 't', 'r'};
    size_t i, tlen;
    if (len == 0) {
        return -1;
    }
    if (buf[0] != CTR_HELLO_PEER && buf[0] != CTR_HELLO_CLIENT) {
        return CTR_REFUSE_KIND;
    }
    for (i = 1; i < 4 && i < len; i++) {
        if (buf[i] != magic[i - 1]) {
            return CTR_REFUSE_MAGIC;
        }
    }
    if (len < 5) {
        return -1;
    }
    if (buf[4] != CTR_PROTO_VERSION) {
        return CTR_REFUSE_VERSION;
    }
    if (len < CTR_HELLO_LEN) {
        return -1;
    }
    tlen = buf[5];
    if (tlen == 0 || tlen > CTR_TOKEN_MAX || buf[6] != 0 || buf[7] != 0) {
        return CTR_REFUSE_FORMAT;
    }
    for (i = HELLO_TOKEN_AT + tlen; i < CTR_HELLO_LEN; i++) {
        if (buf[i] != 0) {
            return CTR_REFUSE_FORMAT;
        }
    }
    memset(h, 0, sizeof(*h));
    h->kind = buf[0];
    h->sender = ctr_get64(buf + 8);
    h->target = ctr_get64(buf + 16);
    h->token.len = tlen;
    memcpy(h->token.bytes, buf + HELLO_TOKEN_AT, tlen);
    if (ctr_get64(buf + 24) != 0 ||
        (h->kind == CTR_HELLO_CLIENT && (h->sender != 0 || h->target != 0))) {
        return CTR_REFUSE_FORMAT;
    }
    return CTR_REFUSE_NONE;
}

const char *ctr_refusal_text(int reason)
{
    switch (reason) {
    case CTR_REFUSE_KIND:
        return "not a hello: the first byte is neither 'R' (peer) nor 'C' "
               "(client)";
    case CTR_REFUSE_MAGIC:
        return "not a hello (an older version of the counter, or another "
               "protocol)";
    case CTR_REFUSE_VERSION:
        return "another protocol version";
    case CTR_REFUSE_FORMAT:
        return "malformed hello";
    case CTR_REFUSE_TOKEN:
        return "wrong cluster token";
    case CTR_REFUSE_PEER:
        return "not a peer of this cluster";
    default:
        return "refused";
    }
}

int ctr_dial_client(const char *addr, const struct ctr_token *t,
                    uint64_t timeout_ms, const char **why)
{
    struct ctr_hello h;
    uint8_t buf[CTR_HELLO_LEN];
    int fd = ctr_dial(addr, timeout_ms, why);
    if (fd < 0) {
        return -1;
    }
    memset(&h, 0, sizeof(h));
    h.kind = CTR_HELLO_CLIENT;
    h.token = *t;
    ctr_hello_encode(&h, buf);
    if (ctr_write_full(fd, buf, sizeof(buf)) != 0) {
        if (why != NULL) {
            *why = "send failed";
        }
        close(fd);
        return -1;
    }
    return fd;
}
