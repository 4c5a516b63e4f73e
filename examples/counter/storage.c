/*
 * storage.c - the files of one counter-server node: lock, config, state,
 * log segments and snapshots. See storage.h for the formats and the crash
 * safety argument. Only libc and POSIX.
 */
#include "storage.h"

#include <dirent.h>
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
#define CONFIG_VERSION "2"
#define CONFIG_VERSION_1 "1" /* "voters ...": read as the bootstrap list */
#define CONFIG_MAX 4096u
#define PATH_BYTES 4096u
#define SNAP_MAGIC "CTSN"
#define SNAP_VERSION 2u
#define NUM_DIGITS 20u           /* index digits in file names */
#define SEG_PREFIX "log-"
#define SNAP_PREFIX "snap-"
#define INSTALL_SUFFIX ".install"
#define RECV_PREFIX "snap.recv-"
#define LEGACY_LOG "log"         /* the single log file of the old layout */
#define SEGMENT_BYTES_MIN 4096u
/* The last segment is filled with zeros this far ahead of its records at
 * most (and never past the segment size), so that one fill costs a bounded
 * write whatever --segment-bytes is. */
#define FILL_STEP (1u << 20)
#define ZEROS_BYTES 65536u
/* The prepared segment (see storage.h) is filled this much per step. */
#define PREP_STEP (1u << 18)
#define PREP_NAME "log.prep"

/* Written to fill the last segment; never modified. */
static const uint8_t zeros[ZEROS_BYTES];

/* ---- errors ------------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int failv(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

#define fail(s, ...) failv((s)->err, sizeof((s)->err), __VA_ARGS__)

/* Same, with ": strerror(errno)" appended; errno is read first. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail_errnov(char *err, size_t cap, const char *fmt, ...)
{
    int e = errno;
    size_t used;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    used = strlen(err);
    snprintf(err + used, cap - used, ": %s", strerror(e));
    return -1;
}

#define fail_errno(s, ...) fail_errnov((s)->err, sizeof((s)->err), __VA_ARGS__)

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

/* Write zeros over [from, to) of fd. Bounded by (to - from) / ZEROS_BYTES
 * writes. */
static int write_zeros(int fd, uint64_t from, uint64_t to)
{
    while (from < to) {
        size_t n = to - from < ZEROS_BYTES ? (size_t)(to - from) : ZEROS_BYTES;
        if (pwrite_full(fd, zeros, n, from) != 0) {
            return -1;
        }
        from += n;
    }
    return 0;
}

static int pread_full(int fd, uint8_t *p, size_t len, uint64_t off)
{
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

/* Make the directory's entries (creations, renames, deletions) durable. A
 * failure leaves them unknown: the storage refuses further writes. */
static int fsync_dir(struct storage *s)
{
    if (fsync(s->dir_fd) != 0) {
        s->broken = true;
        return fail_errno(s, "%s: fsync of the directory", s->dir);
    }
    return 0;
}

/* Replace dir/name by data in one step: a crash leaves the old file or the
 * new one, never a mix (write tmp, fsync, rename, fsync the dir). */
static int write_atomic(struct storage *s, const char *tmp, const char *name,
                        const void *data, size_t len)
{
    int fd = openat(s->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0644);
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
    return fsync_dir(s);
}

static int write_small_atomic(struct storage *s, const char *name,
                              const void *data, size_t len)
{
    char tmp[ST_NAME_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    return write_atomic(s, tmp, name, data, len);
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

/* Read the whole file dir/name into a fresh buffer (*data, *len). */
static int read_whole(int dir_fd, const char *dir, const char *name,
                      uint8_t **data, size_t *len, char *err, size_t errcap)
{
    struct stat st;
    uint8_t *d;
    int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail_errnov(err, errcap, "%s/%s: open", dir, name);
    }
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size > (uint64_t)SIZE_MAX / 2) {
        fail_errnov(err, errcap, "%s/%s: stat (or too large)", dir, name);
        close(fd);
        return -1;
    }
    d = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (d == NULL) {
        close(fd);
        return failv(err, errcap, "%s/%s: out of memory for %jd bytes", dir,
                     name, (intmax_t)st.st_size);
    }
    if (pread_full(fd, d, (size_t)st.st_size, 0) != 0) {
        fail_errnov(err, errcap, "%s/%s: read", dir, name);
        free(d);
        close(fd);
        return -1;
    }
    close(fd);
    *data = d;
    *len = (size_t)st.st_size;
    return 0;
}

/* ---- file names ---------------------------------------------------------- */

static void numbered(char *buf, const char *prefix, uint64_t v,
                     const char *suffix)
{
    snprintf(buf, ST_NAME_MAX, "%s%020" PRIu64 "%s", prefix, v, suffix);
}

/* Is `name` prefix + exactly NUM_DIGITS digits + suffix? Its number in *v. */
static bool parse_numbered(const char *name, const char *prefix,
                           const char *suffix, uint64_t *v)
{
    size_t lp = strlen(prefix), ls = strlen(suffix), i;
    uint64_t x = 0;
    if (strlen(name) != lp + NUM_DIGITS + ls || strncmp(name, prefix, lp) != 0 ||
        strcmp(name + lp + NUM_DIGITS, suffix) != 0) {
        return false;
    }
    for (i = lp; i < lp + NUM_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9' ||
            x > (UINT64_MAX - (uint64_t)(name[i] - '0')) / 10) {
            return false;
        }
        x = x * 10 + (uint64_t)(name[i] - '0');
    }
    *v = x;
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The numbers of the files named prefix<20 digits>suffix in the directory,
 * ascending, into a fresh array (*out, *n). */
static int list_numbered(const char *dir, const char *prefix, const char *suffix,
                         uint64_t **out, size_t *n, char *err, size_t errcap)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    uint64_t *v = NULL, x;
    size_t cap = 0;
    *n = 0;
    if (d == NULL) {
        return fail_errnov(err, errcap, "%s: opendir", dir);
    }
    /* Bounded by the directory's entries. */
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (!parse_numbered(de->d_name, prefix, suffix, &x)) {
            continue;
        }
        if (*n == cap) {
            uint64_t *nv;
            cap = cap ? cap * 2 : 16;
            nv = realloc(v, cap * sizeof(*v));
            if (nv == NULL) {
                free(v);
                closedir(d);
                return failv(err, errcap, "%s: out of memory", dir);
            }
            v = nv;
        }
        v[(*n)++] = x;
    }
    if (errno != 0) {
        fail_errnov(err, errcap, "%s: readdir", dir);
        free(v);
        closedir(d);
        return -1;
    }
    closedir(d);
    if (*n > 0) {
        qsort(v, *n, sizeof(*v), cmp_u64);
    }
    *out = v;
    return 0;
}

/* ---- directory ---------------------------------------------------------- */

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

/* mkdir -p: each missing component is created, and its entry made durable
 * in its parent at once: a power cut must not take away a level created
 * here, and the data directory with it (the caller fsyncs the parent of
 * the last level whether it created it or not). */
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
        if (mkdir(path, 0755) == 0) {
            if (i < len && fsync_parent(s, path) != 0) {
                return -1;
            }
        } else if (errno != EEXIST) {
            return fail_errno(s, "%s: mkdir", path);
        }
        path[i] = dir[i];
    }
    return 0;
}

/* Take the directory's lock (a POSIX record lock on the whole lock file)
 * for the life of the process: the descriptor stays open, and the kernel
 * drops the lock when the process dies, kill -9 included. The owner's pid
 * also goes in the file, for people. */
static int lock_dir(struct storage *s)
{
    struct flock fl;
    char pid[32];
    int n;
    s->lock_fd = openat(s->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
        return fail_errno(s, "%s/lock: open", s->dir);
    }
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET; /* l_start 0, l_len 0: the whole file */
    if (fcntl(s->lock_fd, F_SETLK, &fl) != 0) {
        if (errno != EACCES && errno != EAGAIN) {
            return fail_errno(s, "%s/lock: fcntl(F_SETLK)", s->dir);
        }
        if (fcntl(s->lock_fd, F_GETLK, &fl) != 0 || fl.l_type == F_UNLCK) {
            fl.l_pid = 0;
        }
        return fail(s, "%s: in use by another process (pid %ld holds the lock "
                       "on %s/lock); refusing to start a second server on the "
                       "same data directory", s->dir, (long)fl.l_pid, s->dir);
    }
    n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(s->lock_fd, 0) != 0 ||
        pwrite_full(s->lock_fd, (const uint8_t *)pid, (size_t)n, 0) != 0) {
        return fail_errno(s, "%s/lock: write", s->dir);
    }
    return 0;
}

/* Does the directory hold any file named prefix<digits>suffix? */
static int has_numbered(struct storage *s, const char *prefix,
                        const char *suffix, bool *yes)
{
    uint64_t *v = NULL;
    size_t n = 0;
    if (list_numbered(s->dir, prefix, suffix, &v, &n, s->err,
                      sizeof(s->err)) != 0) {
        return -1;
    }
    free(v);
    *yes = n > 0;
    return 0;
}

/* A directory without config must not hold a log, a snapshot or state
 * either: those would belong to a node we know nothing about. */
static int check_unconfigured(struct storage *s)
{
    struct stat st;
    bool segs = false, snaps = false;
    if (fstatat(s->dir_fd, "state", &st, 0) == 0) {
        return fail(s, "%s: has a state file but no config file; refusing to "
                       "start (not a counter-server directory?)", s->dir);
    }
    if (has_numbered(s, SEG_PREFIX, "", &segs) != 0 ||
        has_numbered(s, SNAP_PREFIX, "", &snaps) != 0) {
        return -1;
    }
    if ((fstatat(s->dir_fd, LEGACY_LOG, &st, 0) == 0 && st.st_size > 0) ||
        segs || snaps) {
        return fail(s, "%s: has a log or a snapshot but no config file; "
                       "refusing to start (not a counter-server directory?)",
                    s->dir);
    }
    return 0;
}

static int unlink_name(struct storage *s, const char *name)
{
    if (unlinkat(s->dir_fd, name, 0) != 0 && errno != ENOENT) {
        return fail_errno(s, "%s/%s: unlink", s->dir, name);
    }
    return 0;
}

/* Unlink every prefix<digits>suffix file whose number is below `below`,
 * or every one of them with `all` (a number may be UINT64_MAX). */
static int unlink_numbered(struct storage *s, const char *prefix,
                           const char *suffix, uint64_t below, bool all)
{
    char name[ST_NAME_MAX];
    uint64_t *v = NULL;
    size_t n = 0, i;
    int rc = 0;
    if (list_numbered(s->dir, prefix, suffix, &v, &n, s->err,
                      sizeof(s->err)) != 0) {
        return -1;
    }
    for (i = 0; i < n && (all || v[i] < below) && rc == 0; i++) {
        numbered(name, prefix, v[i], suffix);
        rc = unlink_name(s, name);
    }
    free(v);
    return rc;
}

/* The rest of an installation that discards the log (st_snapshot_install),
 * from its commit point on: snap-<index>.install is durable. Idempotent,
 * so st_open can redo it after a crash. An older .install is superseded:
 * it goes first, or a later open would finish it too and delete the log
 * written after this one. */
static int finish_install(struct storage *s, raft_index index)
{
    char from[ST_NAME_MAX], to[ST_NAME_MAX];
    if (unlink_numbered(s, SNAP_PREFIX, INSTALL_SUFFIX, index, false) != 0 ||
        unlink_numbered(s, SEG_PREFIX, "", 0, true) != 0 ||
        fsync_dir(s) != 0) {
        return -1;
    }
    numbered(from, SNAP_PREFIX, index, INSTALL_SUFFIX);
    numbered(to, SNAP_PREFIX, index, "");
    if (renameat(s->dir_fd, from, s->dir_fd, to) != 0) {
        return fail_errno(s, "%s/%s: rename", s->dir, from);
    }
    if (fsync_dir(s) != 0) {
        return -1;
    }
    /* The older snapshots' only use was to continue into the log. */
    return unlink_numbered(s, SNAP_PREFIX, "", index, false);
}

/* Finish what a crash interrupted, before anything is read. */
static int recover(struct storage *s)
{
    char seg1[ST_NAME_MAX];
    uint64_t *v = NULL;
    size_t n = 0, i;
    struct stat st;
    bool segs = false;
    int rc = 0;
    /* Temporary files: a snapshot being written or received, a segment
     * being prepared (never part of the log). */
    if (unlink_name(s, "snap.tmp") != 0 || unlink_name(s, PREP_NAME) != 0 ||
        list_numbered(s->dir, RECV_PREFIX, "", &v, &n, s->err,
                      sizeof(s->err)) != 0) {
        return -1;
    }
    for (i = 0; i < n && rc == 0; i++) {
        numbered(seg1, RECV_PREFIX, v[i], "");
        rc = unlink_name(s, seg1);
    }
    free(v);
    /* An installation past its commit point. */
    if (rc != 0 || list_numbered(s->dir, SNAP_PREFIX, INSTALL_SUFFIX, &v, &n,
                                 s->err, sizeof(s->err)) != 0) {
        return -1;
    }
    if (n > 0) {
        rc = finish_install(s, v[n - 1]);
    }
    free(v);
    if (rc != 0) {
        return -1;
    }
    /* The single log file of the old layout is the segment starting at 1:
     * the record format is the same. */
    if (fstatat(s->dir_fd, LEGACY_LOG, &st, 0) != 0) {
        return 0;
    }
    if (has_numbered(s, SEG_PREFIX, "", &segs) != 0) {
        return -1;
    }
    if (segs) {
        return fail(s, "%s: holds both a single-file log (log) and log "
                       "segments (log-*); refusing to start", s->dir);
    }
    numbered(seg1, SEG_PREFIX, 1, "");
    if (renameat(s->dir_fd, LEGACY_LOG, s->dir_fd, seg1) != 0) {
        return fail_errno(s, "%s/%s: rename to %s", s->dir, LEGACY_LOG, seg1);
    }
    return fsync_dir(s);
}

int st_open(struct storage *s, const char *dir, size_t max_payload,
            uint64_t segment_bytes, bool *fresh)
{
    struct stat st;
    memset(s, 0, sizeof(*s));
    s->dir_fd = -1;
    s->lock_fd = -1;
    s->log_fd = -1;
    s->prep_fd = -1;
    s->max_payload = max_payload;
    s->segment_bytes = segment_bytes == 0 ? ST_SEGMENT_BYTES_DEFAULT
                       : segment_bytes < SEGMENT_BYTES_MIN ? SEGMENT_BYTES_MIN
                                                           : segment_bytes;
    s->base = 1;
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
    if (lock_dir(s) != 0) {
        return -1;
    }
    if (fstatat(s->dir_fd, "config", &st, 0) == 0) {
        *fresh = false;
        return recover(s);
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
    if (s->prep_fd >= 0) {
        close(s->prep_fd); /* log.prep stays: st_open deletes it */
        s->prep_fd = -1;
    }
    if (s->dir_fd >= 0) {
        close(s->dir_fd);
    }
    if (s->lock_fd >= 0) {
        close(s->lock_fd); /* releases the lock */
    }
    free(s->segs);
    free(s->offs);
    free(s->scratch);
    free(s->dir);
    s->log_fd = s->dir_fd = s->lock_fd = -1;
    s->segs = NULL;
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
    int w = snprintf(buf, sizeof(buf), "%s %s\nid %" PRIu64 "\nbootstrap",
                     CONFIG_HEADER, CONFIG_VERSION, id);
    for (i = 0; i < n && w > 0 && (size_t)w < sizeof(buf); i++) {
        w += snprintf(buf + w, sizeof(buf) - (size_t)w, " %" PRIu64, voters[i]);
    }
    if (w < 0 || (size_t)w + 2 > sizeof(buf)) {
        return fail(s, "%s/config: voter list too long", s->dir);
    }
    len = (size_t)w;
    buf[len++] = '\n';
    return write_small_atomic(s, "config", buf, len);
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
    char *save = NULL, *tok, *version = NULL;
    size_t len;
    bool v1 = false;
    int rc = read_small(s, "config", buf, sizeof(buf), &len);
    if (rc != 0) {
        return rc < 0 ? -1 : fail(s, "%s/config: missing", s->dir);
    }
    tok = strtok_r(buf, " \n", &save);
    if (tok != NULL && strcmp(tok, CONFIG_HEADER) == 0) {
        version = strtok_r(NULL, " \n", &save);
        v1 = version != NULL && strcmp(version, CONFIG_VERSION_1) == 0;
    }
    if (version == NULL ||
        (strcmp(version, CONFIG_VERSION) != 0 && !v1) ||
        (tok = strtok_r(NULL, " \n", &save)) == NULL || strcmp(tok, "id") != 0 ||
        parse_u64(strtok_r(NULL, " \n", &save), id) != 0 ||
        (tok = strtok_r(NULL, " \n", &save)) == NULL ||
        strcmp(tok, v1 ? "voters" : "bootstrap") != 0) {
        return fail(s, "%s/config: not a counter-server config (version %s "
                    "or %s)", s->dir, CONFIG_VERSION, CONFIG_VERSION_1);
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
    return write_small_atomic(s, "state", b, sizeof(b));
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

size_t st_rec_encode(uint8_t *p, raft_index index, const struct raft_entry *e)
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
        return fail(s, "%s: out of memory for the log's offsets", s->dir);
    }
    s->offs = p;
    s->offs_cap = cap;
    return 0;
}

/* Room for one more segment. */
static int segs_reserve(struct storage *s)
{
    struct st_seg *p;
    size_t cap;
    if (s->n_segs < s->segs_cap) {
        return 0;
    }
    cap = s->segs_cap ? s->segs_cap * 2 : 16;
    p = realloc(s->segs, cap * sizeof(*p));
    if (p == NULL) {
        return fail(s, "%s: out of memory", s->dir);
    }
    s->segs = p;
    s->segs_cap = cap;
    return 0;
}

void st_seg_name(const struct storage *s, size_t k, char *name)
{
    numbered(name, SEG_PREFIX, s->segs[k].first, "");
}

/* ---- log: load ---------------------------------------------------------- */

struct loader {
    struct storage *s;
    struct st_loaded *out;
    size_t ents_cap;
    const uint8_t *d; /* the segment being read */
    size_t size;
    char name[ST_NAME_MAX];
};

static int push_entry(struct loader *l, size_t off, size_t len)
{
    const uint8_t *b = l->d + off + ST_REC_HDR;
    struct raft_entry *e;
    if (l->out->n == l->ents_cap) {
        size_t cap = l->ents_cap ? l->ents_cap * 2 : 1024;
        e = realloc(l->out->entries, cap * sizeof(*e));
        if (e == NULL) {
            return fail(l->s, "%s/%s: out of memory", l->s->dir, l->name);
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
static int check_content(struct loader *l, size_t off, raft_index want)
{
    const uint8_t *b = l->d + off + ST_REC_HDR;
    uint64_t index = ctr_get64(b), term = ctr_get64(b + 8);
    uint64_t prev = l->out->n ? l->out->entries[l->out->n - 1].term : 0;
    if (want == 0) { /* the previous record was UINT64_MAX: no index follows */
        return fail(l->s, "%s/%s: record at byte offset %zu follows index %"
                          PRIu64 ", the last there is; refusing to start",
                    l->s->dir, l->name, off, UINT64_MAX);
    }
    if (index != want) {
        return fail(l->s, "%s/%s: record at byte offset %zu has index %" PRIu64
                          ", expected %" PRIu64 "; refusing to start",
                    l->s->dir, l->name, off, index, want);
    }
    if (term < prev || term == 0) {
        return fail(l->s, "%s/%s: record at byte offset %zu (index %" PRIu64
                          ") has term %" PRIu64 ", previous %" PRIu64
                          "; refusing to start",
                    l->s->dir, l->name, off, index, term, prev);
    }
    if (b[16] != RAFT_ENTRY_COMMAND && b[16] != RAFT_ENTRY_NOOP &&
        b[16] != RAFT_ENTRY_CONFIG) {
        return fail(l->s, "%s/%s: record at byte offset %zu has unknown type "
                          "%u; refusing to start", l->s->dir, l->name, off,
                    b[16]);
    }
    return 0;
}

/* The end of the non-zero bytes of d[from..size): just past the last one,
 * or `from` if they are all zero. Bounded by size - from. */
static size_t nonzero_end(const uint8_t *d, size_t size, size_t from)
{
    while (size > from && d[size - 1] == 0) {
        size--;
    }
    return size;
}

/* The record at `off` of the last segment is bad and not followed by the
 * zero fill alone: a torn write if nothing valid follows (cut it), else
 * damage (fail). The cut is a real truncation, made durable: the file then
 * ends at `off`, as an append-only segment would, and the next write fills
 * it with zeros again. */
static int torn_tail(struct loader *l, int fd, size_t off, raft_index want,
                     const char *why)
{
    struct storage *s = l->s;
    size_t next = find_valid(l->d, l->size, off + 1, s->max_payload);
    if (next < l->size) {
        return fail(s, "%s/%s: corrupt record at byte offset %zu (where index "
                       "%" PRIu64 " should be: %s) followed by a valid record "
                       "at byte offset %zu; refusing to start rather than "
                       "lose entries", s->dir, l->name, off, want, why, next);
    }
    if (ftruncate(fd, (off_t)off) != 0 || fdatasync(fd) != 0) {
        return fail_errno(s, "%s/%s: cutting the torn tail at offset %zu",
                          s->dir, l->name, off);
    }
    l->out->torn = true;
    snprintf(l->out->torn_file, sizeof(l->out->torn_file), "%s", l->name);
    l->out->torn_offset = off;
    /* The zeros after the torn bytes were the fill, not part of the write. */
    l->out->torn_bytes = nonzero_end(l->d, l->size, off) - off;
    return 0;
}

/* Read segment k into memory (kept in out->bufs: entries point into it). */
static int seg_read(struct loader *l, size_t k)
{
    uint8_t **bufs = realloc(l->out->bufs, (l->out->n_bufs + 1) * sizeof(*bufs));
    uint8_t *d = NULL;
    size_t len = 0;
    if (bufs == NULL) {
        return fail(l->s, "%s: out of memory", l->s->dir);
    }
    l->out->bufs = bufs;
    st_seg_name(l->s, k, l->name);
    if (read_whole(l->s->dir_fd, l->s->dir, l->name, &d, &len, l->s->err,
                   sizeof(l->s->err)) != 0) {
        return -1;
    }
    bufs[l->out->n_bufs++] = d;
    l->d = d;
    l->size = len;
    return 0;
}

/* Read and check segment k. Only the last one may end in a torn write:
 * every other was fdatasynced before the next one was created. */
static int seg_load(struct loader *l, size_t k)
{
    struct storage *s = l->s;
    struct st_seg *g = &s->segs[k];
    bool last = k + 1 == s->n_segs;
    raft_index want = g->first;
    size_t off = 0, len = 0;
    const char *why = NULL;
    if (seg_read(l, k) != 0) {
        return -1;
    }
    if (k > 0 && g->first != s->segs[k - 1].last + 1) {
        char prev[ST_NAME_MAX];
        st_seg_name(s, k - 1, prev);
        return fail(s, "%s: log segment %s ends at index %" PRIu64 " (byte "
                       "offset %" PRIu64 ") but the next one, %s, starts at "
                       "index %" PRIu64 ": entries are missing; refusing to "
                       "start", s->dir, prev, s->segs[k - 1].last,
                    s->segs[k - 1].size, l->name, g->first);
    }
    while (off < l->size) {
        int rc = rec_check(l->d + off, l->size - off, s->max_payload, &len, &why);
        if (rc != REC_OK && last && nonzero_end(l->d, l->size, off) == off) {
            break; /* only the zero fill is left: the records end here */
        }
        if (rc != REC_OK && !last) {
            return fail(s, "%s/%s: %s at byte offset %zu (where index %" PRIu64
                           " should be), in a segment that is not the last: "
                           "durable entries are damaged or missing; refusing "
                           "to start", s->dir, l->name, why, off, want);
        }
        if (rc != REC_OK) {
            if (torn_tail(l, s->log_fd, off, want, why) != 0) {
                return -1;
            }
            break;
        }
        if (check_content(l, off, want) != 0 || push_entry(l, off, len) != 0) {
            return -1;
        }
        want++;
        off += len;
    }
    g->last = want - 1;
    g->size = off;
    if (last) {
        s->fill = l->out->torn ? off : l->size;
    }
    return 0;
}

/* The last segment holds nothing (a crash right after it was created, or
 * its only records were a torn write): remove it, so that the next
 * segment is created under the name of the index it will really start
 * with. */
static int drop_empty_last(struct storage *s)
{
    char name[ST_NAME_MAX];
    if (s->n_segs == 0 || s->segs[s->n_segs - 1].size > 0) {
        return 0;
    }
    st_seg_name(s, s->n_segs - 1, name);
    close(s->log_fd);
    s->log_fd = -1;
    s->n_segs--;
    if (unlink_name(s, name) != 0 || fsync_dir(s) != 0) {
        return -1;
    }
    if (s->n_segs > 0) {
        /* It was trimmed to its records before the removed one was
         * created: its size is theirs. */
        st_seg_name(s, s->n_segs - 1, name);
        s->log_fd = openat(s->dir_fd, name, O_RDWR | O_CLOEXEC);
        if (s->log_fd < 0) {
            return fail_errno(s, "%s/%s: open", s->dir, name);
        }
        s->fill = s->segs[s->n_segs - 1].size;
    }
    return 0;
}

static int log_load(struct storage *s, raft_index snap_index,
                    struct st_loaded *out)
{
    struct loader l;
    uint64_t *firsts = NULL;
    size_t n = 0, k;
    char name[ST_NAME_MAX];
    if (list_numbered(s->dir, SEG_PREFIX, "", &firsts, &n, s->err,
                      sizeof(s->err)) != 0) {
        return -1;
    }
    for (k = 0; k < n; k++) {
        if (segs_reserve(s) != 0) {
            free(firsts);
            return -1;
        }
        s->segs[s->n_segs].first = firsts[k];
        s->segs[s->n_segs].last = firsts[k] - 1;
        s->segs[s->n_segs++].size = 0;
        if (firsts[k] == 0) {
            free(firsts);
            return fail(s, "%s/%s: a segment cannot start at index 0", s->dir,
                        SEG_PREFIX "00000000000000000000");
        }
    }
    free(firsts);
    memset(&l, 0, sizeof(l));
    l.s = s;
    l.out = out;
    if (s->n_segs > 0) {
        /* The last segment is the one appended to: open it for writing
         * (the loader may cut its torn tail). */
        st_seg_name(s, s->n_segs - 1, name);
        s->log_fd = openat(s->dir_fd, name, O_RDWR | O_CLOEXEC);
        if (s->log_fd < 0) {
            return fail_errno(s, "%s/%s: open", s->dir, name);
        }
    }
    for (k = 0; k < s->n_segs; k++) {
        if (seg_load(&l, k) != 0) {
            return -1;
        }
    }
    if (drop_empty_last(s) != 0) {
        return -1;
    }
    if (s->n_segs == 0) {
        s->base = snap_index + 1; /* an empty log continues the snapshot */
        s->last = snap_index;
    } else {
        s->base = s->segs[0].first;
        s->last = s->segs[s->n_segs - 1].last;
    }
    out->base = s->base;
    if (offs_reserve(s, out->n) != 0) {
        return -1;
    }
    return 0;
}

int st_log_load(struct storage *s, raft_index snap_index,
                struct st_loaded *out)
{
    memset(out, 0, sizeof(*out));
    if (log_load(s, snap_index, out) != 0) {
        st_loaded_free(out);
        return -1;
    }
    return 0;
}

void st_loaded_free(struct st_loaded *l)
{
    size_t i;
    for (i = 0; i < l->n_bufs; i++) {
        free(l->bufs[i]);
    }
    free(l->bufs);
    free(l->entries);
    l->bufs = NULL;
    l->n_bufs = 0;
    l->entries = NULL;
    l->n = 0;
}

/* ---- log: append -------------------------------------------------------- */

/* The segment holding index i (base <= i <= last): the last one whose
 * first index is at most i. Binary search over the segments. */
static size_t seg_of(const struct storage *s, raft_index i)
{
    size_t lo = 0, hi = s->n_segs;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->segs[mid].first <= i) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Drop records from index `first` on, durably: without the fsyncs, a crash
 * could mix surviving old records with the new ones written after them.
 * Later segments go first (then the directory is fsynced), so a crash in
 * between leaves a prefix of the old log. The segment is cut by a real
 * truncation, never by zeroing a header: the old records after the cut
 * leave the file (see storage.h), and the next write fills it with fresh
 * zeros. */
static int truncate_at(struct storage *s, raft_index first)
{
    size_t k = seg_of(s, first), j;
    uint64_t off = s->offs[first - s->base];
    char name[ST_NAME_MAX], later[ST_NAME_MAX];
    st_seg_name(s, k, name);
    if (k + 1 < s->n_segs) {
        for (j = s->n_segs - 1; j > k; j--) {
            st_seg_name(s, j, later);
            if (unlink_name(s, later) != 0) {
                s->broken = true; /* the log on disk is a prefix, unknown */
                return -1;
            }
        }
        s->n_segs = k + 1;
        close(s->log_fd);
        s->log_fd = openat(s->dir_fd, name, O_RDWR | O_CLOEXEC);
        if (fsync_dir(s) != 0) {
            return -1;
        }
        if (s->log_fd < 0) {
            s->broken = true;
            return fail_errno(s, "%s/%s: open", s->dir, name);
        }
    }
    if (ftruncate(s->log_fd, (off_t)off) != 0) {
        s->broken = true;
        return fail_errno(s, "%s/%s: truncate at offset %" PRIu64, s->dir, name,
                          off);
    }
    s->segs[k].last = first - 1;
    s->segs[k].size = off;
    s->fill = off;
    s->last = first - 1;
    if (fdatasync(s->log_fd) != 0) {
        s->broken = true;
        return fail_errno(s, "%s/%s: fdatasync", s->dir, name);
    }
    s->dirty = false;
    return 0;
}

/* Bytes of zeros a prepared segment holds: a new segment's first fill. */
static uint64_t prep_target(const struct storage *s)
{
    return s->segment_bytes < FILL_STEP ? s->segment_bytes : FILL_STEP;
}

/* Close and delete the prepared segment, if any. */
static void prep_drop(struct storage *s)
{
    if (s->prep_fd >= 0) {
        close(s->prep_fd);
        s->prep_fd = -1;
    }
    s->prep_size = 0;
    (void)unlinkat(s->dir_fd, PREP_NAME, 0); /* else st_open deletes it */
}

bool st_log_prepare_wanted(const struct storage *s)
{
    return !s->prep_off && !s->broken && s->dir_fd >= 0 &&
           (s->prep_fd < 0 || s->prep_size < prep_target(s));
}

bool st_log_prepare(struct storage *s)
{
    uint64_t to;
    if (!st_log_prepare_wanted(s)) {
        return false;
    }
    if (s->prep_fd < 0) {
        s->prep_fd = openat(s->dir_fd, PREP_NAME,
                            O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (s->prep_fd < 0) {
            s->prep_off = true;
            return false;
        }
        s->prep_size = 0;
    }
    to = s->prep_size + PREP_STEP;
    if (to > prep_target(s)) {
        to = prep_target(s);
    }
    if (write_zeros(s->prep_fd, s->prep_size, to) != 0 ||
        fdatasync(s->prep_fd) != 0) {
        prep_drop(s);
        s->prep_off = true; /* no part of the log: only the roll is slower */
        return false;
    }
    s->prep_size = to;
    return s->prep_size < prep_target(s);
}

/* Start segment log-<first> for the records from `first` on. The current
 * one is trimmed to its records and made durable first, and the new name
 * before any record goes in, so that only the last segment can ever end in
 * a torn write or hold the zero fill. */
static int roll(struct storage *s, raft_index first)
{
    char name[ST_NAME_MAX];
    uint64_t fill;
    bool stuck = s->prep_stuck;
    int fd;
    if (s->n_segs > 0 && s->log_fd >= 0 &&
        s->fill > s->segs[s->n_segs - 1].size) {
        uint64_t size = s->segs[s->n_segs - 1].size;
        if (ftruncate(s->log_fd, (off_t)size) != 0) {
            st_seg_name(s, s->n_segs - 1, name);
            s->broken = true;
            return fail_errno(s, "%s/%s: trimming the zero fill at offset %"
                              PRIu64, s->dir, name, size);
        }
        s->fill = size;
        s->dirty = true; /* the fdatasync below makes the trim durable */
    }
    if (st_log_sync(s) != 0 || segs_reserve(s) != 0) {
        return -1;
    }
    numbered(name, SEG_PREFIX, first, "");
    fill = 0;
    if (s->prep_fd >= 0 && s->prep_size >= prep_target(s) &&
        linkat(s->dir_fd, PREP_NAME, s->dir_fd, name, 0) == 0) {
        /* The prepared segment: durable zeros, now under its name. */
        fd = s->prep_fd;
        fill = s->prep_size;
        s->prep_fd = -1;
        s->prep_size = 0;
        if (unlinkat(s->dir_fd, PREP_NAME, 0) != 0) {
            /* Still a name of the new segment: never prepare (O_TRUNC)
             * under it again in this run; st_open deletes it. */
            stuck = s->prep_stuck = true;
        }
    } else {
        if (s->prep_fd >= 0) {
            prep_drop(s); /* unfinished, or the link failed */
        }
        fd = openat(s->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                    0644);
        if (fd < 0) {
            return fail_errno(s, "%s/%s: create", s->dir, name);
        }
    }
    if (fsync_dir(s) != 0) {
        close(fd);
        return -1;
    }
    if (s->log_fd >= 0) {
        close(s->log_fd);
    }
    s->log_fd = fd;
    if (s->n_segs == 0) {
        s->base = first;
    }
    s->segs[s->n_segs].first = first;
    s->segs[s->n_segs].last = first - 1;
    s->segs[s->n_segs++].size = 0;
    s->fill = fill;
    s->prep_off = stuck; /* a new segment: prepare the next one */
    return 0;
}

/* The records of a write end at `end` of the last segment: if that is past
 * the zero fill and the fill is short of the segment size, write zeros
 * after them up to the segment size, at most FILL_STEP past the old fill.
 * The batch's fdatasync makes them durable with the records; from then on
 * a write inside the fill overwrites allocated blocks inside the file
 * size, which needs no journal commit. */
static int fill_ahead(struct storage *s, uint64_t end)
{
    uint64_t to = s->fill + FILL_STEP;
    if (to > s->segment_bytes) {
        to = s->segment_bytes;
    }
    if (end > s->fill && to > end &&
        write_zeros(s->log_fd, end, to) != 0) {
        return -1;
    }
    if (end > s->fill) {
        s->fill = to > end ? to : end;
    }
    return 0;
}

/* Build all records in the scratch buffer; their total size in *total. */
static int build_records(struct storage *s, raft_index first, uint64_t start,
                         const struct raft_entry *e, size_t n, size_t *total)
{
    size_t i, sum = 0, at = 0;
    for (i = 0; i < n; i++) {
        if (e[i].len > s->max_payload || (e[i].buf == NULL && e[i].len > 0)) {
            return fail(s, "%s: log entry of %zu bytes refused", s->dir,
                        e[i].len);
        }
        sum += ST_REC_HDR + ST_REC_FIXED + e[i].len;
    }
    if (sum > s->scratch_cap) {
        uint8_t *p = realloc(s->scratch, sum);
        if (p == NULL) {
            return fail(s, "%s: out of memory", s->dir);
        }
        s->scratch = p;
        s->scratch_cap = sum;
    }
    for (i = 0; i < n; i++) {
        s->offs[first - s->base + i] = start + at;
        at += st_rec_encode(s->scratch + at, first + i, &e[i]);
    }
    *total = sum;
    return 0;
}

int st_log_write(struct storage *s, raft_index first,
                 const struct raft_entry *e, size_t n)
{
    struct st_seg *g;
    size_t total = 0;
    char name[ST_NAME_MAX];
    if (s->broken) {
        return fail(s, "%s: an earlier fsync failed; restart the node", s->dir);
    }
    if (n == 0 || first < s->base || first > s->last + 1) {
        return fail(s, "%s: append of %zu entries at index %" PRIu64
                       " to a log of indexes %" PRIu64 "..%" PRIu64, s->dir,
                    n, first, s->base, s->last);
    }
    if (first <= s->last && truncate_at(s, first) != 0) {
        return -1;
    }
    g = s->n_segs > 0 ? &s->segs[s->n_segs - 1] : NULL;
    if (g == NULL || (g->size >= s->segment_bytes && g->last >= g->first)) {
        if (roll(s, first) != 0) {
            return -1;
        }
        g = &s->segs[s->n_segs - 1];
    }
    if (offs_reserve(s, (size_t)(first - s->base) + n) != 0 ||
        build_records(s, first, g->size, e, n, &total) != 0) {
        return -1;
    }
    if (pwrite_full(s->log_fd, s->scratch, total, g->size) != 0 ||
        fill_ahead(s, g->size + total) != 0) {
        st_seg_name(s, s->n_segs - 1, name);
        fail_errno(s, "%s/%s: write of %zu bytes at offset %" PRIu64, s->dir,
                   name, total, g->size);
        /* Leave no partial records behind; a crash would cut them anyway. */
        if (ftruncate(s->log_fd, (off_t)g->size) != 0) {
            s->broken = true;
        }
        s->fill = g->size;
        return -1;
    }
    g->size += total;
    g->last = first + n - 1;
    s->last = g->last;
    s->dirty = true;
    return 0;
}

int st_log_sync(struct storage *s)
{
    char name[ST_NAME_MAX];
    if (s->broken) {
        return fail(s, "%s: an earlier fsync failed; restart the node", s->dir);
    }
    if (!s->dirty || s->log_fd < 0) {
        return 0;
    }
    if (fdatasync(s->log_fd) != 0) {
        s->broken = true;
        st_seg_name(s, s->n_segs - 1, name);
        return fail_errno(s, "%s/%s: fdatasync", s->dir, name);
    }
    s->dirty = false;
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

int st_log_drop(struct storage *s, raft_index upto)
{
    char name[ST_NAME_MAX];
    size_t k = 0, gone;
    if (s->broken) {
        return fail(s, "%s: an earlier fsync failed; restart the node", s->dir);
    }
    /* Front first: a crash in between leaves a log that starts later, still
     * at or below `upto` + 1. Bounded by the number of segments. */
    while (k + 1 < s->n_segs && s->segs[k].last <= upto) {
        st_seg_name(s, k, name);
        if (unlink_name(s, name) != 0) {
            return -1;
        }
        k++;
    }
    if (k == 0) {
        return 0;
    }
    gone = (size_t)(s->segs[k].first - s->base);
    memmove(s->offs, s->offs + gone,
            (size_t)(s->last + 1 - s->segs[k].first) * sizeof(*s->offs));
    memmove(s->segs, s->segs + k, (s->n_segs - k) * sizeof(*s->segs));
    s->n_segs -= k;
    s->base = s->segs[0].first;
    return fsync_dir(s);
}

/* ---- snapshots ----------------------------------------------------------- */

size_t st_snapshot_body_offset(size_t conf_len)
{
    return ST_SNAP_HDR + conf_len;
}

size_t st_snapshot_size(size_t conf_len, size_t body_len)
{
    return st_snapshot_body_offset(conf_len) + body_len + 4u;
}

void st_snapshot_seal(uint8_t *out, raft_index index, raft_term term,
                      const void *conf, size_t conf_len, size_t body_len)
{
    size_t end = st_snapshot_body_offset(conf_len) + body_len;
    memcpy(out, SNAP_MAGIC, 4);
    ctr_put32(out + 4, SNAP_VERSION);
    ctr_put64(out + 8, index);
    ctr_put64(out + 16, term);
    ctr_put32(out + 24, (uint32_t)conf_len);
    ctr_put32(out + 28, 0);
    ctr_put64(out + 32, body_len);
    memcpy(out + ST_SNAP_HDR, conf, conf_len);
    ctr_put32(out + end, ctr_crc32(0, out, end));
}

int st_snapshot_parse(const uint8_t *p, size_t len, struct st_snapshot *out,
                      char *why, size_t whylen)
{
    uint64_t body;
    uint32_t nc;
    size_t end;
    if (len >= ST_SNAP_HDR + 4u && memcmp(p, SNAP_MAGIC, 4) == 0 &&
        ctr_get32(p + 4) == 1u) {
        return failv(why, whylen, "a snapshot of format 1, written before "
                                  "membership changes (it lacks the "
                                  "configuration)");
    }
    if (len < ST_SNAP_HDR + 4u || memcmp(p, SNAP_MAGIC, 4) != 0 ||
        ctr_get32(p + 4) != SNAP_VERSION) {
        return failv(why, whylen, "not a snapshot (%zu bytes, bad magic or "
                                  "version)", len);
    }
    nc = ctr_get32(p + 24);
    body = ctr_get64(p + 32);
    if (nc == 0 || nc > ST_CONF_MAX || ctr_get32(p + 28) != 0 ||
        body > len || len != st_snapshot_size(nc, (size_t)body)) {
        return failv(why, whylen, "snapshot of %zu bytes with a configuration "
                                  "of %" PRIu32 " bytes and a body of %" PRIu64
                                  " bytes: lengths do not add up", len, nc,
                     body);
    }
    end = len - 4u;
    if (ctr_get32(p + end) != ctr_crc32(0, p, end)) {
        return failv(why, whylen, "snapshot checksum mismatch");
    }
    out->index = ctr_get64(p + 8);
    out->term = ctr_get64(p + 16);
    if (out->index == 0 || out->term == 0) {
        return failv(why, whylen, "snapshot of index %" PRIu64 " term %" PRIu64,
                     out->index, out->term);
    }
    out->conf = p + ST_SNAP_HDR;
    out->conf_len = nc;
    out->body = p + st_snapshot_body_offset(nc);
    out->body_len = (size_t)body;
    return 0;
}

int st_snapshot_load(struct storage *s, struct st_snapshot *out,
                     uint8_t **data, bool *found, char *notes,
                     size_t notes_len)
{
    uint64_t *v = NULL;
    size_t n = 0, i, used = 0;
    *found = false;
    *data = NULL;
    notes[0] = '\0';
    if (list_numbered(s->dir, SNAP_PREFIX, "", &v, &n, s->err,
                      sizeof(s->err)) != 0) {
        return -1;
    }
    /* Newest first; each was renamed into place only once durable, so a
     * bad one is damage, not a crash: note it and fall back. */
    for (i = n; i-- > 0;) {
        char name[ST_NAME_MAX], why[256];
        uint8_t *d = NULL;
        size_t len = 0;
        numbered(name, SNAP_PREFIX, v[i], "");
        if (read_whole(s->dir_fd, s->dir, name, &d, &len, s->err,
                       sizeof(s->err)) != 0) {
            free(v);
            return -1;
        }
        if (st_snapshot_parse(d, len, out, why, sizeof(why)) == 0) {
            if (out->index == v[i]) {
                *data = d;
                *found = true;
                break;
            }
            snprintf(why, sizeof(why), "holds index %" PRIu64, out->index);
        }
        free(d);
        used += (size_t)snprintf(notes + used, notes_len - used,
                                 "%s%s/%s: %s, skipped", used ? "; " : "",
                                 s->dir, name, why);
        used = used < notes_len ? used : notes_len - 1;
    }
    free(v);
    return 0;
}

int st_snapshot_write(struct storage *s, raft_index index, const uint8_t *file,
                      size_t len)
{
    char name[ST_NAME_MAX];
    if (s->broken) {
        return fail(s, "%s: an earlier fsync failed; restart the node", s->dir);
    }
    numbered(name, SNAP_PREFIX, index, "");
    if (write_atomic(s, "snap.tmp", name, file, len) != 0) {
        return -1;
    }
    return unlink_numbered(s, SNAP_PREFIX, "", index, false);
}

int st_snapshot_install(struct storage *s, raft_index index, bool keep, int fd,
                        const char *name)
{
    char to[ST_NAME_MAX];
    if (s->broken || (keep && s->last < index)) {
        close(fd);
        return s->broken ? fail(s, "%s: an earlier fsync failed; restart the "
                                   "node", s->dir)
                         : fail(s, "%s: installing snapshot %" PRIu64 " over "
                                   "a log that ends at %" PRIu64, s->dir,
                                index, s->last);
    }
    /* The log first: with keep, the snapshot must never become current
     * ahead of the entries it is continued by. */
    if (st_log_sync(s) != 0) {
        close(fd);
        return -1;
    }
    if (fdatasync(fd) != 0) {
        fail_errno(s, "%s/%s: fdatasync", s->dir, name);
        close(fd);
        return -1;
    }
    if (close(fd) != 0) {
        return fail_errno(s, "%s/%s: close", s->dir, name);
    }
    numbered(to, SNAP_PREFIX, index, keep ? "" : INSTALL_SUFFIX);
    if (renameat(s->dir_fd, name, s->dir_fd, to) != 0) {
        return fail_errno(s, "%s/%s: rename to %s", s->dir, name, to);
    }
    if (fsync_dir(s) != 0) {
        return -1;
    }
    if (keep) {
        return unlink_numbered(s, SNAP_PREFIX, "", index, false) != 0
                   ? -1
                   : st_log_drop(s, index);
    }
    /* The commit point is behind us: from here on st_open would finish
     * the installation after a crash. */
    if (s->log_fd >= 0) {
        close(s->log_fd);
        s->log_fd = -1;
    }
    s->n_segs = 0;
    s->base = index + 1;
    s->last = index;
    s->dirty = false;
    return finish_install(s, index);
}

/* ---- snapshot I/O of the loop thread ------------------------------------ */

int st_io_open(struct st_snapio *io, const char *dir)
{
    memset(io, 0, sizeof(*io));
    io->cur_fd = io->recv_fd = -1;
    io->dir = strdup(dir);
    if (io->dir == NULL) {
        return failv(io->err, sizeof(io->err), "out of memory");
    }
    io->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (io->dir_fd < 0) {
        return fail_errnov(io->err, sizeof(io->err), "%s: open", dir);
    }
    return 0;
}

void st_io_close(struct st_snapio *io)
{
    if (io->cur_fd >= 0) {
        close(io->cur_fd);
    }
    if (io->recv_fd >= 0) {
        close(io->recv_fd);
        unlinkat(io->dir_fd, io->recv_name, 0);
    }
    if (io->dir_fd >= 0) {
        close(io->dir_fd);
    }
    free(io->dir);
    io->cur_fd = io->recv_fd = io->dir_fd = -1;
    io->dir = NULL;
}

int st_io_set_current(struct st_snapio *io, raft_index index)
{
    char name[ST_NAME_MAX];
    struct stat st;
    int fd;
    numbered(name, SNAP_PREFIX, index, "");
    fd = openat(io->dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        fail_errnov(io->err, sizeof(io->err), "%s/%s: open", io->dir, name);
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    /* An open descriptor keeps the old file readable after the writer
     * deletes it, but only the current one is served. */
    if (io->cur_fd >= 0) {
        close(io->cur_fd);
    }
    io->cur_fd = fd;
    io->cur_index = index;
    io->cur_size = (uint64_t)st.st_size;
    return 0;
}

int st_io_read(struct st_snapio *io, raft_index index, uint64_t offset,
               uint8_t *buf, size_t max, size_t *len, bool *last)
{
    uint64_t left;
    if (io->cur_fd < 0 || index != io->cur_index || offset > io->cur_size) {
        return -1;
    }
    left = io->cur_size - offset;
    *len = left < max ? (size_t)left : max;
    *last = offset + *len == io->cur_size;
    if (pread_full(io->cur_fd, buf, *len, offset) != 0) {
        return fail_errnov(io->err, sizeof(io->err), "%s: reading snapshot %"
                           PRIu64 " at offset %" PRIu64, io->dir, index, offset);
    }
    return 0;
}

int st_io_recv_write(struct st_snapio *io, uint64_t offset, const void *data,
                     size_t len)
{
    if (offset == 0) {
        if (io->recv_fd >= 0) {
            close(io->recv_fd);
            unlinkat(io->dir_fd, io->recv_name, 0);
        }
        numbered(io->recv_name, RECV_PREFIX, ++io->recv_seq, "");
        io->recv_size = 0;
        io->recv_fd = openat(io->dir_fd, io->recv_name,
                             O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (io->recv_fd < 0) {
            return fail_errnov(io->err, sizeof(io->err), "%s/%s: create",
                               io->dir, io->recv_name);
        }
    } else if (io->recv_fd < 0 || offset != io->recv_size) {
        return failv(io->err, sizeof(io->err), "%s: snapshot chunk at offset "
                     "%" PRIu64 ", expected %" PRIu64, io->dir, offset,
                     io->recv_size);
    }
    if (len > 0 && pwrite_full(io->recv_fd, data, len, offset) != 0) {
        return fail_errnov(io->err, sizeof(io->err), "%s/%s: write", io->dir,
                           io->recv_name);
    }
    io->recv_size += len;
    return 0;
}

int st_io_recv_read(struct st_snapio *io, uint8_t **buf, size_t *len)
{
    uint8_t *b;
    if (io->recv_fd < 0 || io->recv_size > SIZE_MAX / 2) {
        return failv(io->err, sizeof(io->err), "%s: no snapshot received",
                     io->dir);
    }
    b = malloc(io->recv_size > 0 ? (size_t)io->recv_size : 1);
    if (b == NULL) {
        return failv(io->err, sizeof(io->err), "%s: out of memory", io->dir);
    }
    if (pread_full(io->recv_fd, b, (size_t)io->recv_size, 0) != 0) {
        free(b);
        return fail_errnov(io->err, sizeof(io->err), "%s/%s: read", io->dir,
                           io->recv_name);
    }
    *buf = b;
    *len = (size_t)io->recv_size;
    return 0;
}

void st_io_recv_take(struct st_snapio *io, int *fd, char *name)
{
    *fd = io->recv_fd;
    snprintf(name, ST_NAME_MAX, "%s", io->recv_name);
    io->recv_fd = -1;
    io->recv_size = 0;
}
