/*
 * storage.c - the files of one counter-server node: config, state, log.
 * See storage.h for the formats. Only libc and POSIX.
 */
#include "storage.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto.h"

#define STATE_LEN 28u
#define STATE_MAGIC "CTRS"
#define STATE_VERSION 1u
#define CONFIG_HEADER "counter-server-config"
#define CONFIG_VERSION "1"
#define CONFIG_MAX 4096u
#define PATH_BYTES 4096u

/* ---- errors ------------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(struct storage *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
    return -1;
}

/* Same, with ": strerror(errno)" appended; errno is read first. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail_errno(struct storage *s, const char *fmt, ...)
{
    int e = errno;
    size_t used;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
    used = strlen(s->err);
    snprintf(s->err + used, sizeof(s->err) - used, ": %s", strerror(e));
    return -1;
}

/* ---- small file helpers ------------------------------------------------ */

static int pwrite_full(int fd, const uint8_t *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int pread_full(int fd, uint8_t *p, size_t len)
{
    uint64_t off = 0;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO; /* the file shrank under us */
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Replace dir/name by data in one step: a crash leaves the old file or the
 * new one, never a mix (write name.tmp, fsync, rename, fsync the dir). */
static int write_atomic(struct storage *s, const char *name, const void *data,
                        size_t len)
{
    char tmp[64];
    int fd;
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    fd = openat(s->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return fail_errno(s, "%s/%s: open", s->dir, tmp);
    }
    if (ctr_write_full(fd, data, len) != 0 || fsync(fd) != 0) {
        /* Nothing renamed yet: the previous file is intact. */
        fail_errno(s, "%s/%s: write", s->dir, tmp);
        close(fd);
        return -1;
    }
    if (close(fd) != 0) {
        return fail_errno(s, "%s/%s: close", s->dir, tmp);
    }
    if (renameat(s->dir_fd, tmp, s->dir_fd, name) != 0) {
        return fail_errno(s, "%s/%s: rename", s->dir, name);
    }
    if (fsync(s->dir_fd) != 0) {
        s->broken = true;
        return fail_errno(s, "%s: fsync of the directory", s->dir);
    }
    return 0;
}

/* Read a whole small file into buf (NUL-terminated). 1 if it does not
 * exist, 0 if read, -1 on error. */
static int read_small(struct storage *s, const char *name, char *buf,
                      size_t cap, size_t *len)
{
    ssize_t n;
    size_t got = 0;
    int fd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 1 : fail_errno(s, "%s/%s: open", s->dir, name);
    }
    while (got < cap - 1 && (n = read(fd, buf + got, cap - 1 - got)) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail_errno(s, "%s/%s: read", s->dir, name);
            close(fd);
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return 0;
}

/* ---- directory ---------------------------------------------------------- */

/* mkdir -p: each missing component is created. */
static int mkdir_p(struct storage *s, const char *dir)
{
    char path[PATH_BYTES];
    size_t i, len = strlen(dir);
    if (len == 0 || len >= sizeof(path)) {
        return fail(s, "data directory path empty or too long");
    }
    memcpy(path, dir, len + 1);
    for (i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0') {
            continue;
        }
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            return fail_errno(s, "%s: mkdir", path);
        }
        path[i] = dir[i];
    }
    return 0;
}

/* Make the directory's own entry durable in its parent. */
static int fsync_parent(struct storage *s, const char *dir)
{
    char path[PATH_BYTES];
    char *slash;
    int fd, rc;
    snprintf(path, sizeof(path), "%s", dir);
    while (strlen(path) > 1 && path[strlen(path) - 1] == '/') {
        path[strlen(path) - 1] = '\0';
    }
    slash = strrchr(path, '/');
    if (slash == NULL) {
        strcpy(path, ".");
    } else if (slash == path) {
        path[1] = '\0';
    } else {
        *slash = '\0';
    }
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return fail_errno(s, "%s: open", path);
    }
    rc = fsync(fd);
    close(fd);
    return rc == 0 ? 0 : fail_errno(s, "%s: fsync", path);
}

/* A directory without config must not hold a log or state either: those
 * would belong to a node we know nothing about. */
static int check_unconfigured(struct storage *s)
{
    struct stat st;
    if (fstatat(s->dir_fd, "state", &st, 0) == 0) {
        return fail(s, "%s: has a state file but no config file; refusing to "
                       "start (not a counter-server directory?)", s->dir);
    }
    if (fstatat(s->dir_fd, "log", &st, 0) == 0 && st.st_size > 0) {
        return fail(s, "%s: has a log but no config file; refusing to start "
                       "(not a counter-server directory?)", s->dir);
    }
    return 0;
}

int st_open(struct storage *s, const char *dir, size_t max_payload,
            bool *fresh)
{
    struct stat st;
    memset(s, 0, sizeof(*s));
    s->dir_fd = -1;
    s->log_fd = -1;
    s->max_payload = max_payload;
    s->dir = strdup(dir);
    if (s->dir == NULL) {
        return fail(s, "out of memory");
    }
    if (mkdir_p(s, dir) != 0 || fsync_parent(s, dir) != 0) {
        return -1;
    }
    s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dir_fd < 0) {
        return fail_errno(s, "%s: open", dir);
    }
    if (fstatat(s->dir_fd, "config", &st, 0) == 0) {
        *fresh = false;
        return 0;
    }
    if (errno != ENOENT) {
        return fail_errno(s, "%s/config: stat", dir);
    }
    *fresh = true;
    return check_unconfigured(s);
}

void st_close(struct storage *s)
{
    if (s->log_fd >= 0) {
        close(s->log_fd);
    }
    if (s->dir_fd >= 0) {
        close(s->dir_fd);
    }
    free(s->offs);
    free(s->scratch);
    free(s->dir);
    s->log_fd = s->dir_fd = -1;
    s->offs = NULL;
    s->scratch = NULL;
    s->dir = NULL;
}

/* ---- config ------------------------------------------------------------- */

int st_config_write(struct storage *s, raft_id id, const raft_id *voters,
                    size_t n)
{
    char buf[CONFIG_MAX];
    size_t i, len;
    int w = snprintf(buf, sizeof(buf), "%s %s\nid %" PRIu64 "\nvoters",
                     CONFIG_HEADER, CONFIG_VERSION, id);
    for (i = 0; i < n && w > 0 && (size_t)w < sizeof(buf); i++) {
        w += snprintf(buf + w, sizeof(buf) - (size_t)w, " %" PRIu64, voters[i]);
    }
    if (w < 0 || (size_t)w + 2 > sizeof(buf)) {
        return fail(s, "%s/config: voter list too long", s->dir);
    }
    len = (size_t)w;
    buf[len++] = '\n';
    return write_atomic(s, "config", buf, len);
}

static int parse_u64(const char *tok, uint64_t *v)
{
    char *end;
    if (tok == NULL || *tok < '0' || *tok > '9') {
        return -1;
    }
    errno = 0;
    *v = strtoull(tok, &end, 10);
    return (*end != '\0' || errno != 0) ? -1 : 0;
}

int st_config_read(struct storage *s, raft_id *id, raft_id *voters,
                   size_t cap, size_t *n)
{
    char buf[CONFIG_MAX];
    char *save = NULL, *tok;
    size_t len;
    int rc = read_small(s, "config", buf, sizeof(buf), &len);
    if (rc != 0) {
        return rc < 0 ? -1 : fail(s, "%s/config: missing", s->dir);
    }
    tok = strtok_r(buf, " \n", &save);
    if (tok == NULL || strcmp(tok, CONFIG_HEADER) != 0 ||
        (tok = strtok_r(NULL, " \n", &save)) == NULL ||
        strcmp(tok, CONFIG_VERSION) != 0 ||
        (tok = strtok_r(NULL, " \n", &save)) == NULL || strcmp(tok, "id") != 0 ||
        parse_u64(strtok_r(NULL, " \n", &save), id) != 0 ||
        (tok = strtok_r(NULL, " \n", &save)) == NULL ||
        strcmp(tok, "voters") != 0) {
        return fail(s, "%s/config: not a counter-server config (version %s)",
                    s->dir, CONFIG_VERSION);
    }
    for (*n = 0; (tok = strtok_r(NULL, " \n", &save)) != NULL; (*n)++) {
        if (*n == cap || parse_u64(tok, &voters[*n]) != 0) {
            return fail(s, "%s/config: bad or too many voters", s->dir);
        }
    }
    return 0;
}

/* ---- term and vote ------------------------------------------------------ */

int st_state_write(struct storage *s, raft_term term, raft_id vote)
{
    uint8_t b[STATE_LEN];
    if (s->broken) {
        return fail(s, "%s: an earlier fsync failed; restart the node", s->dir);
    }
    memcpy(b, STATE_MAGIC, 4);
    ctr_put32(b + 4, STATE_VERSION);
    ctr_put64(b + 8, term);
    ctr_put64(b + 16, vote);
    ctr_put32(b + 24, ctr_crc32(0, b, 24));
    return write_atomic(s, "state", b, sizeof(b));
}

int st_state_read(struct storage *s, raft_term *term, raft_id *vote)
{
    char b[STATE_LEN + 2];
    size_t len;
    const uint8_t *u = (const uint8_t *)b;
    int rc = read_small(s, "state", b, sizeof(b), &len);
    if (rc != 0) {
        *term = 0;
        *vote = 0;
        return rc < 0 ? -1 : 0;
    }
    /* Written atomically, so never torn: anything else is corruption. */
    if (len != STATE_LEN || memcmp(b, STATE_MAGIC, 4) != 0 ||
        ctr_get32(u + 4) != STATE_VERSION ||
        ctr_get32(u + 24) != ctr_crc32(0, b, 24)) {
        return fail(s, "%s/state: corrupt (%zu bytes, bad magic, version or "
                       "crc); refusing to start", s->dir, len);
    }
    *term = ctr_get64(u + 8);
    *vote = ctr_get64(u + 16);
    return 0;
}

/* ---- log: records ------------------------------------------------------- */

enum { REC_OK, REC_SHORT, REC_BAD };

/* Check the record at p[0..avail): its length is possible, it fits, and
 * the checksum matches. *why says what failed. */
static int rec_check(const uint8_t *p, size_t avail, size_t max_payload,
                     size_t *rec_len, const char **why)
{
    uint32_t body;
    if (avail < ST_REC_HDR) {
        *why = "record header cut short by the end of the file";
        return REC_SHORT;
    }
    body = ctr_get32(p);
    if (body < ST_REC_FIXED || body - ST_REC_FIXED > max_payload) {
        *why = "impossible record length";
        return REC_BAD;
    }
    if (avail - ST_REC_HDR < body) {
        *why = "record runs past the end of the file";
        return REC_SHORT;
    }
    if (ctr_get32(p + 4) != ctr_crc32(0, p + ST_REC_HDR, body)) {
        *why = "checksum mismatch";
        return REC_BAD;
    }
    *rec_len = ST_REC_HDR + body;
    return REC_OK;
}

/* First offset in [from, size) where a valid record starts, or size.
 * A torn write leaves garbage only at the very end of the file; a valid
 * record after a bad one means the damage is elsewhere. */
static size_t find_valid(const uint8_t *d, size_t size, size_t from,
                         size_t max_payload)
{
    size_t off, len;
    const char *why;
    for (off = from; off + ST_REC_HDR + ST_REC_FIXED <= size; off++) {
        if (rec_check(d + off, size - off, max_payload, &len, &why) == REC_OK) {
            return off;
        }
    }
    return size;
}

static size_t rec_encode(uint8_t *p, raft_index index,
                         const struct raft_entry *e)
{
    uint32_t body = (uint32_t)(ST_REC_FIXED + e->len);
    ctr_put32(p, body);
    ctr_put64(p + 8, index);
    ctr_put64(p + 16, e->term);
    p[24] = (uint8_t)e->type;
    if (e->len > 0) {
        memcpy(p + ST_REC_HDR + ST_REC_FIXED, e->buf, e->len);
    }
    ctr_put32(p + 4, ctr_crc32(0, p + ST_REC_HDR, body));
    return ST_REC_HDR + body;
}

/* Room for offs[0..want]. */
static int offs_reserve(struct storage *s, size_t want)
{
    size_t cap = s->offs_cap ? s->offs_cap : 1024;
    uint64_t *p;
    if (want < s->offs_cap) {
        return 0;
    }
    while (cap <= want) {
        cap *= 2;
    }
    p = realloc(s->offs, cap * sizeof(*p));
    if (p == NULL) {
        return fail(s, "%s/log: out of memory", s->dir);
    }
    s->offs = p;
    s->offs_cap = cap;
    return 0;
}

/* ---- log: load ---------------------------------------------------------- */

struct loader {
    struct storage *s;
    const uint8_t *d;
    size_t size;
    struct st_loaded *out;
    size_t ents_cap;
};

static int push_entry(struct loader *l, size_t off, size_t len)
{
    const uint8_t *b = l->d + off + ST_REC_HDR;
    struct raft_entry *e;
    if (l->out->n == l->ents_cap) {
        size_t cap = l->ents_cap ? l->ents_cap * 2 : 1024;
        e = realloc(l->out->entries, cap * sizeof(*e));
        if (e == NULL) {
            return fail(l->s, "%s/log: out of memory", l->s->dir);
        }
        l->out->entries = e;
        l->ents_cap = cap;
    }
    if (offs_reserve(l->s, l->out->n + 1) != 0) {
        return -1;
    }
    e = &l->out->entries[l->out->n];
    e->term = ctr_get64(b + 8);
    e->type = b[16];
    e->len = len - ST_REC_HDR - ST_REC_FIXED;
    e->buf = e->len > 0 ? b + ST_REC_FIXED : NULL;
    l->s->offs[l->out->n++] = off;
    return 0;
}

/* A record with a good checksum must still continue the log. */
static int check_content(struct loader *l, size_t off)
{
    const uint8_t *b = l->d + off + ST_REC_HDR;
    uint64_t index = ctr_get64(b), term = ctr_get64(b + 8);
    uint64_t want = l->out->n + 1;
    uint64_t prev = l->out->n ? l->out->entries[l->out->n - 1].term : 0;
    if (index != want) {
        return fail(l->s, "%s/log: record at byte offset %zu has index %" PRIu64
                          ", expected %" PRIu64 "; refusing to start",
                    l->s->dir, off, index, want);
    }
    if (term < prev || term == 0) {
        return fail(l->s, "%s/log: record at byte offset %zu (index %" PRIu64
                          ") has term %" PRIu64 ", previous %" PRIu64
                          "; refusing to start",
                    l->s->dir, off, index, term, prev);
    }
    if (b[16] != RAFT_ENTRY_COMMAND && b[16] != RAFT_ENTRY_NOOP) {
        return fail(l->s, "%s/log: record at byte offset %zu has unknown type "
                          "%u; refusing to start", l->s->dir, off, b[16]);
    }
    return 0;
}

/* The record at `off` is bad: cut it if nothing valid follows, else fail. */
static int bad_record(struct loader *l, size_t off, const char *why)
{
    struct storage *s = l->s;
    size_t next = find_valid(l->d, l->size, off + 1, s->max_payload);
    if (next < l->size) {
        return fail(s, "%s/log: corrupt record at byte offset %zu (where index "
                       "%zu should be: %s) followed by a valid record at byte "
                       "offset %zu; "
                       "refusing to start rather than lose entries",
                    s->dir, off, l->out->n + 1, why, next);
    }
    if (ftruncate(s->log_fd, (off_t)off) != 0 || fdatasync(s->log_fd) != 0) {
        return fail_errno(s, "%s/log: cutting the torn tail at offset %zu",
                          s->dir, off);
    }
    l->out->torn = true;
    l->out->torn_offset = off;
    l->out->torn_bytes = l->size - off;
    return 0;
}

static int scan(struct loader *l)
{
    size_t off = 0, len = 0;
    const char *why = NULL;
    while (off < l->size) {
        int rc = rec_check(l->d + off, l->size - off, l->s->max_payload, &len,
                           &why);
        if (rc != REC_OK) {
            if (bad_record(l, off, why) != 0) {
                return -1;
            }
            break;
        }
        if (check_content(l, off) != 0 || push_entry(l, off, len) != 0) {
            return -1;
        }
        off += len;
    }
    if (offs_reserve(l->s, l->out->n) != 0) {
        return -1;
    }
    l->s->offs[l->out->n] = off;
    l->s->n = l->out->n;
    return 0;
}

static int open_log(struct storage *s, size_t *size)
{
    struct stat st;
    s->log_fd = openat(s->dir_fd, "log", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->log_fd < 0) {
        return fail_errno(s, "%s/log: open", s->dir);
    }
    /* The file may have just been created: make its name durable. */
    if (fsync(s->dir_fd) != 0) {
        return fail_errno(s, "%s: fsync", s->dir);
    }
    if (fstat(s->log_fd, &st) != 0) {
        return fail_errno(s, "%s/log: stat", s->dir);
    }
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX / 2) {
        return fail(s, "%s/log: too large to load", s->dir);
    }
    *size = (size_t)st.st_size;
    return 0;
}

int st_log_load(struct storage *s, struct st_loaded *out)
{
    struct loader l;
    size_t size = 0;
    uint8_t *d;
    memset(out, 0, sizeof(*out));
    if (open_log(s, &size) != 0) {
        return -1;
    }
    d = malloc(size > 0 ? size : 1);
    if (d == NULL) {
        return fail(s, "%s/log: out of memory for %zu bytes", s->dir, size);
    }
    if (pread_full(s->log_fd, d, size) != 0) {
        free(d);
        return fail_errno(s, "%s/log: read", s->dir);
    }
    out->data = d;
    l.s = s;
    l.d = d;
    l.size = size;
    l.out = out;
    l.ents_cap = 0;
    if (scan(&l) != 0) {
        st_loaded_free(out);
        return -1;
    }
    return 0;
}

void st_loaded_free(struct st_loaded *l)
{
    free(l->entries);
    free(l->data);
    l->entries = NULL;
    l->data = NULL;
    l->n = 0;
}

/* ---- log: append -------------------------------------------------------- */

/* Drop records from index `first` on, durably: without the fsync, a crash
 * could mix surviving old records with the new ones written over them. */
static int truncate_at(struct storage *s, raft_index first)
{
    uint64_t off = s->offs[first - 1];
    if (ftruncate(s->log_fd, (off_t)off) != 0) {
        return fail_errno(s, "%s/log: truncate at offset %" PRIu64, s->dir, off);
    }
    s->n = (size_t)first - 1;
    if (fdatasync(s->log_fd) != 0) {
        s->broken = true;
        return fail_errno(s, "%s/log: fdatasync", s->dir);
    }
    return 0;
}

/* Build all records in the scratch buffer; their total size in *total. */
static int build_records(struct storage *s, raft_index first,
                         const struct raft_entry *e, size_t n, size_t *total)
{
    size_t i, sum = 0, at = 0;
    for (i = 0; i < n; i++) {
        if (e[i].len > s->max_payload || (e[i].buf == NULL && e[i].len > 0)) {
            return fail(s, "%s/log: entry of %zu bytes refused", s->dir, e[i].len);
        }
        sum += ST_REC_HDR + ST_REC_FIXED + e[i].len;
    }
    if (sum > s->scratch_cap) {
        uint8_t *p = realloc(s->scratch, sum);
        if (p == NULL) {
            return fail(s, "%s/log: out of memory", s->dir);
        }
        s->scratch = p;
        s->scratch_cap = sum;
    }
    for (i = 0; i < n; i++) {
        s->offs[first - 1 + i] = s->offs[first - 1] + at;
        at += rec_encode(s->scratch + at, first + i, &e[i]);
    }
    *total = sum;
    return 0;
}

int st_log_write(struct storage *s, raft_index first,
                 const struct raft_entry *e, size_t n)
{
    size_t total = 0;
    uint64_t start;
    if (s->broken) {
        return fail(s, "%s/log: an earlier fsync failed; restart the node",
                    s->dir);
    }
    if (first == 0 || first > (raft_index)s->n + 1 || n == 0) {
        return fail(s, "%s/log: append of %zu entries at index %" PRIu64
                       " to a log of %zu", s->dir, n, first, s->n);
    }
    if (offs_reserve(s, (size_t)first + n) != 0) {
        return -1;
    }
    if (first <= s->n && truncate_at(s, first) != 0) {
        return -1;
    }
    start = s->offs[first - 1];
    if (build_records(s, first, e, n, &total) != 0) {
        return -1;
    }
    if (pwrite_full(s->log_fd, s->scratch, total, start) != 0) {
        fail_errno(s, "%s/log: write of %zu bytes at offset %" PRIu64, s->dir,
                   total, start);
        /* Leave no partial records behind; a crash would cut them anyway. */
        if (ftruncate(s->log_fd, (off_t)start) != 0) {
            s->broken = true;
        }
        return -1;
    }
    s->n = (size_t)first - 1 + n;
    s->offs[s->n] = start + total;
    return 0;
}

int st_log_sync(struct storage *s)
{
    if (s->broken) {
        return fail(s, "%s/log: an earlier fsync failed; restart the node",
                    s->dir);
    }
    if (fdatasync(s->log_fd) != 0) {
        s->broken = true;
        return fail_errno(s, "%s/log: fdatasync", s->dir);
    }
    return 0;
}

int st_log_append(struct storage *s, raft_index first,
                  const struct raft_entry *e, size_t n)
{
    if (st_log_write(s, first, e, n) != 0) {
        return -1;
    }
    return st_log_sync(s);
}
