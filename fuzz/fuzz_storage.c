/*
 * fuzz_storage.c - the counter's storage (examples/counter/storage.c)
 * loading a data directory of arbitrary content.
 *
 * Each input describes a data directory, in a directory of its own under
 * /dev/shm (else $TMPDIR or /tmp), emptied before every run and removed at
 * exit (left as it is when a check fails, for inspection):
 *   - structured (byte 0 bit 0 clear): a fresh storage is written with the
 *     storage's own functions (config, state, appends in 1-4 segments,
 *     rewrites that truncate, snapshots, dropped segments, a prepared
 *     segment, installations that keep or discard the log), then damaged:
 *     truncations, flipped bytes, overwritten or zeroed ranges, deleted or
 *     renamed files, bytes appended, records (valid or not) written over
 *     the old ones, extra files of every name the storage knows;
 *   - raw (bit 0 set): a valid config and state or none, then files of any
 *     of those names with raw bytes, records or snapshots.
 * Then the directory is opened and loaded three times, as the server
 * does: st_open, st_state_read, st_config_read, st_snapshot_load,
 * st_log_load (with the snapshot's index); after the second load, a few
 * entries are appended (after the last, or over the tail: a truncation).
 *
 * Checked, at every load:
 *   - every result equals that of ref_*(): a transcription of what
 *     storage.h documents (the record and snapshot layouts, the loader's
 *     rules for the zero fill, torn tails and damage, what st_open
 *     finishes or deletes), computed from the directory's bytes before the
 *     load, independently of storage.c: which calls fail, the term and
 *     vote, the config, which snapshot is used and its bytes, the log's
 *     base and every entry, the torn tail cut (file, offset, bytes); and
 *     the directory after the load holds exactly the files and bytes the
 *     reference expects (the documented repairs only: the torn tail cut,
 *     an empty last segment removed, temporary files deleted, an
 *     interrupted installation finished, the single-file log renamed);
 *   - directly on what was loaded: indexes consecutive from the base (the
 *     index in each entry's record), the base the first segment's name or,
 *     for an empty log, the snapshot's index + 1; terms at least 1 and
 *     non-decreasing; known types; payloads within max_payload and inside
 *     their record; the storage's segments, offsets and fill agree with
 *     the files; no index past UINT64_MAX; an error names the directory
 *     (and a segment, for the log);
 *   - the second load gives the first's result (without the torn tail,
 *     cut by the first), and the append then loads as the second's entries
 *     up to the append plus the new ones;
 *   - structured inputs: the files written before the damage are laid out
 *     as storage.h says (segments but the last exactly their records, the
 *     last its records then zeros, each record byte for byte); without
 *     damage the load gives exactly what was written; with damage only in
 *     the last segment from byte X on (and anywhere outside the log), a
 *     successful load holds every entry whose record ends at or before X,
 *     unchanged (a load may fail: storage.h refuses a bad record followed
 *     by a valid one);
 *   - no leak (LeakSanitizer), and no descriptor left open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "storage.h"

#define NAME_LEN 64u
#define IMG_MAX 64u      /* files in the directory */
#define MAX_SEGS 4u      /* segments the structured build writes */
#define MAX_SNAPS 16u
#define MAX_BUILD 17u
#define MAX_DAMAGE 9u
#define MAX_RAW_FILES 12u
#define PAYLOAD_CAP 1024u /* bytes of a generated payload */
#define RAW_CAP 2048u     /* bytes of a raw file */
#define ZEROS_CAP 8192u
#define REC_MAX (ST_REC_HDR + ST_REC_FIXED + PAYLOAD_CAP + 1u)
#define RECS_MAX 8u       /* records in one generated file */
#define STATE_LEN 28u
#define CONFIG_READ 4095u /* st_config_read reads this much at most */

static const size_t max_payloads[] = FZS_MAX_PAYLOADS;
static const uint64_t segment_sizes[] = FZS_SEGMENT_BYTES;

static char g_top[256];
static char g_dir[300];
static bool g_ready;
static bool g_trace;

#define TRACE(...)                                                            \
    do {                                                                      \
        if (g_trace) {                                                        \
            fprintf(stderr, __VA_ARGS__);                                     \
        }                                                                     \
    } while (0)

/* ---- bytes ----------------------------------------------------------------- */

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* CRC-32 (IEEE, reflected, as storage.h's checksums), written out here,
 * table-driven: bit by bit, libFuzzer's comparison tracing made it the
 * largest cost of a run. */
static uint32_t crc_table[256];

static void crc_init(void)
{
    uint32_t i, c;
    int k;
    for (i = 0; i < 256; i++) {
        c = i;
        for (k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
        }
        crc_table[i] = c;
    }
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    size_t i;
    for (i = 0; i < n; i++) {
        c = crc_table[(c ^ p[i]) & 0xffu] ^ (c >> 8);
    }
    return ~c;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void fill_prng(uint8_t *p, size_t n, uint64_t *x)
{
    size_t i;
    for (i = 0; i < n; i++) {
        p[i] = (uint8_t)(splitmix(x) >> 56);
    }
}

/* A log record as storage.h lays it out. Returns its length. */
static size_t rec_encode(uint8_t *p, uint64_t index, uint64_t term, uint8_t type,
                         const uint8_t *payload, size_t len)
{
    wr32(p, (uint32_t)(ST_REC_FIXED + len));
    wr64(p + 8, index);
    wr64(p + 16, term);
    p[24] = type;
    if (len > 0) {
        memcpy(p + ST_REC_HDR + ST_REC_FIXED, payload, len);
    }
    wr32(p + 4, crc32_of(p + ST_REC_HDR, ST_REC_FIXED + len));
    return ST_REC_HDR + ST_REC_FIXED + len;
}

/* ---- the directory ------------------------------------------------------ */

static void path_of(char *p, size_t cap, const char *name)
{
    snprintf(p, cap, "%s/%s", g_dir, name);
}

static void empty_dir(const char *dir)
{
    bool again = true;
    int rounds = 0;
    /* Unlinking while reading may skip entries: read again until none is
     * left (bounded: the directory holds at most a few dozen files). */
    while (again && rounds++ < 8) {
        DIR *d = opendir(dir);
        struct dirent *de;
        again = false;
        if (d == NULL) {
            return;
        }
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
                continue;
            }
            FZ_CHECK(unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT,
                     "%s/%s: unlink: %s", dir, de->d_name, strerror(errno));
            again = true;
        }
        closedir(d);
    }
}

static void cleanup(void)
{
    empty_dir(g_dir);
    rmdir(g_dir);
    rmdir(g_top);
}

/* Open descriptors of the process (-1 without /proc/self/fd). */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (d == NULL) {
        return -1;
    }
    while (readdir(d) != NULL) {
        n++;
    }
    closedir(d);
    return n;
}

static void setup_once(void)
{
    const char *base = "/dev/shm";
    struct stat sb;
    if (g_ready) {
        return;
    }
    if (stat(base, &sb) != 0 || !S_ISDIR(sb.st_mode) || access(base, W_OK) != 0) {
        base = getenv("TMPDIR");
        if (base == NULL || base[0] == '\0') {
            base = "/tmp";
        }
    }
    snprintf(g_top, sizeof(g_top), "%s/fuzz_storage.%ld", base, (long)getpid());
    snprintf(g_dir, sizeof(g_dir), "%s/d", g_top);
    FZ_CHECK(mkdir(g_top, 0700) == 0 || errno == EEXIST, "%s: %s", g_top,
             strerror(errno));
    FZ_CHECK(mkdir(g_dir, 0700) == 0 || errno == EEXIST, "%s: %s", g_dir,
             strerror(errno));
    atexit(cleanup);
    g_trace = getenv("FUZZ_TRACE") != NULL;
    crc_init();
    g_ready = true;
}

static void write_file(const char *name, const uint8_t *d, size_t len)
{
    char p[512];
    int fd;
    path_of(p, sizeof(p), name);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FZ_CHECK(fd >= 0, "%s: %s", p, strerror(errno));
    FZ_CHECK(len == 0 || pwrite(fd, d, len, 0) == (ssize_t)len, "%s: write: %s",
             p, strerror(errno));
    close(fd);
}

/* Size of dir/name, or -1 if it does not exist. */
static int64_t file_size(const char *name)
{
    char p[512];
    struct stat sb;
    path_of(p, sizeof(p), name);
    return stat(p, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/* ---- an image of the directory: every file's name and bytes --------------- */

struct ifile {
    char name[NAME_LEN];
    uint8_t *d;
    size_t len;
};

struct image {
    struct ifile f[IMG_MAX];
    size_t n;
};

static int cmp_ifile(const void *a, const void *b)
{
    return strcmp(((const struct ifile *)a)->name, ((const struct ifile *)b)->name);
}

static void img_sort(struct image *im)
{
    qsort(im->f, im->n, sizeof(im->f[0]), cmp_ifile);
}

/* Every file but the lock (the storage's own, rewritten at each open). */
static void img_read(struct image *im)
{
    DIR *d = opendir(g_dir);
    struct dirent *de;
    FZ_CHECK(d != NULL, "%s: %s", g_dir, strerror(errno));
    im->n = 0;
    while ((de = readdir(d)) != NULL) {
        struct ifile *f;
        struct stat sb;
        int fd;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strcmp(de->d_name, "lock") == 0) {
            continue;
        }
        FZ_CHECK(im->n < IMG_MAX && strlen(de->d_name) < NAME_LEN,
                 "too many files or a long name: %s", de->d_name);
        f = &im->f[im->n++];
        snprintf(f->name, sizeof(f->name), "%s", de->d_name);
        fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
        FZ_CHECK(fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode),
                 "%s: %s", de->d_name, strerror(errno));
        f->len = (size_t)sb.st_size;
        f->d = malloc(f->len > 0 ? f->len : 1);
        FZ_CHECK(f->d != NULL, "out of memory");
        FZ_CHECK(f->len == 0 || pread(fd, f->d, f->len, 0) == (ssize_t)f->len,
                 "%s: read: %s", de->d_name, strerror(errno));
        close(fd);
    }
    closedir(d);
    img_sort(im);
}

static void img_free(struct image *im)
{
    size_t i;
    for (i = 0; i < im->n; i++) {
        free(im->f[i].d);
    }
    im->n = 0;
}

static void img_copy(struct image *dst, const struct image *src)
{
    size_t i;
    dst->n = src->n;
    for (i = 0; i < src->n; i++) {
        dst->f[i] = src->f[i];
        dst->f[i].d = fz_dup(src->f[i].d, src->f[i].len);
    }
}

static struct ifile *img_find(struct image *im, const char *name)
{
    size_t i;
    for (i = 0; i < im->n; i++) {
        if (strcmp(im->f[i].name, name) == 0) {
            return &im->f[i];
        }
    }
    return NULL;
}

static void img_remove(struct image *im, const char *name)
{
    struct ifile *f = img_find(im, name);
    if (f != NULL) {
        free(f->d);
        *f = im->f[--im->n];
        img_sort(im);
    }
}

static void img_rename(struct image *im, const char *from, const char *to)
{
    struct ifile *f;
    img_remove(im, to);
    f = img_find(im, from);
    if (f != NULL) {
        snprintf(f->name, sizeof(f->name), "%s", to);
        img_sort(im);
    }
}

static void img_expect(const struct image *got, const struct image *want,
                       const char *when)
{
    size_t i;
    for (i = 0; i < got->n || i < want->n; i++) {
        FZ_CHECK(i < got->n && i < want->n &&
                     strcmp(got->f[i].name, want->f[i].name) == 0,
                 "%s: the directory holds %s where storage.h leads to expect %s",
                 when, i < got->n ? got->f[i].name : "nothing more",
                 i < want->n ? want->f[i].name : "nothing more");
        FZ_CHECK(got->f[i].len == want->f[i].len &&
                     memcmp(got->f[i].d, want->f[i].d, got->f[i].len) == 0,
                 "%s: %s holds %zu bytes, expected %zu (or other bytes)", when,
                 got->f[i].name, got->f[i].len, want->f[i].len);
    }
}

/* ---- the reference: storage.h's rules, on an image -------------------------- */

/* prefix + exactly 20 decimal digits + suffix, the number in *v (names whose
 * number exceeds UINT64_MAX are no storage file). */
static bool ref_numbered(const char *name, const char *prefix, const char *suffix,
                         uint64_t *v)
{
    size_t lp = strlen(prefix), ls = strlen(suffix), i;
    uint64_t x = 0;
    if (strlen(name) != lp + 20 + ls || memcmp(name, prefix, lp) != 0 ||
        strcmp(name + lp + 20, suffix) != 0) {
        return false;
    }
    for (i = lp; i < lp + 20; i++) {
        unsigned dg = (unsigned)(name[i] - '0');
        if (name[i] < '0' || name[i] > '9' || x > (UINT64_MAX - dg) / 10) {
            return false;
        }
        x = x * 10 + dg;
    }
    *v = x;
    return true;
}

static bool any_numbered(const struct image *im, const char *prefix,
                         const char *suffix)
{
    size_t i;
    uint64_t v;
    for (i = 0; i < im->n; i++) {
        if (ref_numbered(im->f[i].name, prefix, suffix, &v)) {
            return true;
        }
    }
    return false;
}

/* Remove every prefix<n>suffix with n < below (all of them: below 0 means
 * no bound). */
static void remove_numbered(struct image *im, const char *prefix,
                            const char *suffix, uint64_t below, bool all)
{
    size_t i = 0;
    uint64_t v;
    while (i < im->n) {
        if (ref_numbered(im->f[i].name, prefix, suffix, &v) && (all || v < below)) {
            img_remove(im, im->f[i].name); /* re-sorted: start over */
            i = 0;
        } else {
            i++;
        }
    }
}

/* Does a record check out at p[0..avail)? Its length in *len. */
static bool ref_rec_ok(const uint8_t *p, size_t avail, size_t max_payload,
                       size_t *len)
{
    uint32_t body;
    if (avail < ST_REC_HDR) {
        return false;
    }
    body = fz_rd32(p);
    if (body < ST_REC_FIXED || body - ST_REC_FIXED > max_payload ||
        avail - ST_REC_HDR < body || fz_rd32(p + 4) != crc32_of(p + 8, body)) {
        return false;
    }
    *len = ST_REC_HDR + body;
    return true;
}

static bool ref_snap_ok(const uint8_t *p, size_t len, uint64_t *index,
                        uint64_t *term)
{
    uint32_t c;
    uint64_t b;
    if (len < ST_SNAP_HDR + 4 || memcmp(p, "CTSN", 4) != 0 || fz_rd32(p + 4) != 2) {
        return false;
    }
    c = fz_rd32(p + 24);
    b = fz_rd64(p + 32);
    if (c == 0 || c > ST_CONF_MAX || fz_rd32(p + 28) != 0 || b > len ||
        len != ST_SNAP_HDR + c + b + 4 ||
        fz_rd32(p + len - 4) != crc32_of(p, len - 4)) {
        return false;
    }
    *index = fz_rd64(p + 8);
    *term = fz_rd64(p + 16);
    return *index != 0 && *term != 0;
}

struct rent {
    uint64_t term;
    int type;
    const uint8_t *payload; /* into the reference's image */
    size_t len;
};

struct ref {
    bool open_ok, fresh;
    bool state_ok;
    uint64_t term, vote;
    bool config_ok;
    uint64_t id;
    uint64_t voters[ST_MAX_VOTERS];
    size_t n_voters;
    bool snap_found;
    uint64_t snap_index, snap_term;
    const uint8_t *snap_file;
    size_t snap_len;
    bool log_ok;
    uint64_t base;
    struct rent *e;
    size_t n, cap;
    bool torn;
    char torn_file[NAME_LEN];
    uint64_t torn_offset, torn_bytes;
    struct image after; /* the directory as the loads leave it */
};

/* st_open: refuse an unconfigured directory holding anything of a node;
 * else finish what a crash interrupted. */
static bool ref_open(struct ref *r)
{
    struct image *im = &r->after;
    struct ifile *legacy;
    uint64_t v, inst = 0;
    bool have_inst = false;
    size_t i;
    char from[NAME_LEN], to[NAME_LEN];
    r->fresh = img_find(im, "config") == NULL;
    legacy = img_find(im, "log");
    if (r->fresh) {
        return img_find(im, "state") == NULL && !any_numbered(im, "log-", "") &&
               !any_numbered(im, "snap-", "") && (legacy == NULL || legacy->len == 0);
    }
    img_remove(im, "snap.tmp");
    img_remove(im, "log.prep");
    remove_numbered(im, "snap.recv-", "", 0, true);
    for (i = 0; i < im->n; i++) {
        if (ref_numbered(im->f[i].name, "snap-", ".install", &v) &&
            (!have_inst || v > inst)) {
            inst = v;
            have_inst = true;
        }
    }
    if (have_inst) {
        /* The newest installation: older ones are superseded, and it
         * discards the log: every segment goes. */
        remove_numbered(im, "snap-", ".install", inst, false);
        remove_numbered(im, "log-", "", 0, true);
        snprintf(from, sizeof(from), "snap-%020" PRIu64 ".install", inst);
        snprintf(to, sizeof(to), "snap-%020" PRIu64, inst);
        img_rename(im, from, to);
        remove_numbered(im, "snap-", "", inst, false);
    }
    if (img_find(im, "log") != NULL) {
        if (any_numbered(im, "log-", "")) {
            return false;
        }
        img_rename(im, "log", "log-00000000000000000001");
    }
    return true;
}

static void ref_state(struct ref *r)
{
    struct ifile *f = img_find(&r->after, "state");
    r->term = r->vote = 0;
    r->state_ok = true;
    if (f == NULL) {
        return;
    }
    r->state_ok = f->len == STATE_LEN && memcmp(f->d, "CTRS", 4) == 0 &&
                  fz_rd32(f->d + 4) == 1 && fz_rd32(f->d + 24) == crc32_of(f->d, 24);
    if (r->state_ok) {
        r->term = fz_rd64(f->d + 8);
        r->vote = fz_rd64(f->d + 16);
    }
}

/* The next token of s[*pos..] split at spaces and newlines: its length
 * (0 at the end) and start in *tok. */
static size_t next_token(const char *s, size_t *pos, const char **tok)
{
    size_t n = 0;
    while (s[*pos] == ' ' || s[*pos] == '\n') {
        (*pos)++;
    }
    *tok = s + *pos;
    while (s[*pos] != '\0' && s[*pos] != ' ' && s[*pos] != '\n') {
        (*pos)++;
        n++;
    }
    return n;
}

static bool token_is(const char *tok, size_t n, const char *word)
{
    return n == strlen(word) && memcmp(tok, word, n) == 0;
}

static bool token_u64(const char *tok, size_t n, uint64_t *v)
{
    size_t i;
    uint64_t x = 0;
    if (n == 0) {
        return false;
    }
    for (i = 0; i < n; i++) {
        unsigned dg = (unsigned)(tok[i] - '0');
        if (tok[i] < '0' || tok[i] > '9' || x > (UINT64_MAX - dg) / 10) {
            return false;
        }
        x = x * 10 + dg;
    }
    *v = x;
    return true;
}

/* The config file: "counter-server-config 2\nid N\nbootstrap V...\n", or
 * version 1 with "voters" (read up to its first 4095 bytes, and up to a
 * NUL, as text). */
static void ref_config(struct ref *r)
{
    struct ifile *f = img_find(&r->after, "config");
    char buf[CONFIG_READ + 1];
    const char *tok;
    size_t pos = 0, n, len;
    bool v1;
    r->config_ok = false;
    r->n_voters = 0;
    if (f == NULL) {
        return;
    }
    len = f->len < CONFIG_READ ? f->len : CONFIG_READ;
    memcpy(buf, f->d, len);
    buf[len] = '\0';
    n = next_token(buf, &pos, &tok);
    if (!token_is(tok, n, "counter-server-config")) {
        return;
    }
    n = next_token(buf, &pos, &tok);
    v1 = token_is(tok, n, "1");
    if (!v1 && !token_is(tok, n, "2")) {
        return;
    }
    n = next_token(buf, &pos, &tok);
    if (!token_is(tok, n, "id")) {
        return;
    }
    n = next_token(buf, &pos, &tok);
    if (!token_u64(tok, n, &r->id)) {
        return;
    }
    n = next_token(buf, &pos, &tok);
    if (!token_is(tok, n, v1 ? "voters" : "bootstrap")) {
        return;
    }
    while ((n = next_token(buf, &pos, &tok)) > 0) {
        if (r->n_voters == ST_MAX_VOTERS || !token_u64(tok, n, &r->voters[r->n_voters])) {
            return;
        }
        r->n_voters++;
    }
    r->config_ok = true;
}

/* The newest snap-<n> that checks out and holds index n. */
static void ref_snapshot(struct ref *r)
{
    struct image *im = &r->after;
    size_t i;
    uint64_t v, index, term;
    r->snap_found = false;
    for (i = im->n; i-- > 0;) { /* sorted: 20 digits order as numbers */
        if (ref_numbered(im->f[i].name, "snap-", "", &v) &&
            ref_snap_ok(im->f[i].d, im->f[i].len, &index, &term) && index == v) {
            r->snap_found = true;
            r->snap_index = index;
            r->snap_term = term;
            r->snap_file = im->f[i].d;
            r->snap_len = im->f[i].len;
            return;
        }
    }
}

static void ref_push(struct ref *r, const uint8_t *rec, size_t len)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->e = realloc(r->e, r->cap * sizeof(*r->e));
        FZ_CHECK(r->e != NULL, "out of memory");
    }
    r->e[r->n].term = fz_rd64(rec + 16);
    r->e[r->n].type = rec[24];
    r->e[r->n].payload = rec + ST_REC_HDR + ST_REC_FIXED;
    r->e[r->n].len = len - ST_REC_HDR - ST_REC_FIXED;
    r->n++;
}

/* st_log_load: the segments in order of their names, each continuing the
 * one before; records checked one after the other. In the last segment
 * the first record that does not check out ends the records if only zeros
 * follow, is a torn tail (cut) if no valid record follows at any offset,
 * and damage otherwise; anywhere else it is damage. A record that checks
 * out must have the next index (none follows UINT64_MAX), a term >= 1 and
 * >= the previous one, and a known type. An empty last segment is removed; an empty log continues
 * the snapshot. */
static void ref_log(struct ref *r, uint64_t snap_index, size_t max_payload)
{
    struct image *im = &r->after;
    char names[IMG_MAX][NAME_LEN];
    uint64_t firsts[IMG_MAX], prev_last = 0, prev_term = 0, want, v;
    size_t ns = 0, k, i, last_size = 0;
    r->log_ok = false;
    r->n = 0;
    for (i = 0; i < im->n; i++) { /* in name order, which is index order */
        if (ref_numbered(im->f[i].name, "log-", "", &v)) {
            snprintf(names[ns], NAME_LEN, "%s", im->f[i].name);
            firsts[ns++] = v;
        }
    }
    if (ns > 0 && firsts[0] == 0) {
        return;
    }
    for (k = 0; k < ns; k++) {
        struct ifile *f = img_find(im, names[k]);
        bool last = k + 1 == ns;
        size_t off = 0, len = 0, o;
        if (k > 0 && firsts[k] != prev_last + 1) {
            return;
        }
        want = firsts[k];
        while (off < f->len) {
            const uint8_t *p = f->d + off;
            if (!ref_rec_ok(p, f->len - off, max_payload, &len)) {
                size_t end = f->len;
                if (last && all_zero(p, f->len - off)) {
                    break;
                }
                if (!last) {
                    return;
                }
                for (o = off + 1; o < f->len; o++) {
                    if (ref_rec_ok(f->d + o, f->len - o, max_payload, &len)) {
                        return;
                    }
                }
                while (end > off && f->d[end - 1] == 0) {
                    end--;
                }
                r->torn = true;
                snprintf(r->torn_file, sizeof(r->torn_file), "%s", f->name);
                r->torn_offset = off;
                r->torn_bytes = end - off;
                f->len = off; /* the cut */
                break;
            }
            if (want == 0 || fz_rd64(p + 8) != want || fz_rd64(p + 16) < prev_term ||
                fz_rd64(p + 16) == 0 || p[24] < RAFT_ENTRY_COMMAND ||
                p[24] > RAFT_ENTRY_CONFIG) {
                return;
            }
            ref_push(r, p, len);
            prev_term = fz_rd64(p + 16);
            want++;
            off += len;
        }
        prev_last = want - 1;
        last_size = off;
    }
    if (ns > 0 && last_size == 0) {
        img_remove(im, names[--ns]);
    }
    r->base = ns == 0 ? snap_index + 1 : firsts[0];
    r->log_ok = true;
}

/* Everything a start reads, from the directory's image `before`. */
static void ref_run(const struct image *before, size_t max_payload, struct ref *r)
{
    memset(r, 0, sizeof(*r));
    img_copy(&r->after, before);
    r->open_ok = ref_open(r);
    if (!r->open_ok) {
        return;
    }
    ref_state(r);
    ref_config(r);
    ref_snapshot(r);
    ref_log(r, r->snap_found ? r->snap_index : 0, max_payload);
}

static void ref_free(struct ref *r)
{
    free(r->e);
    img_free(&r->after);
}

/* ---- the storage's own results ---------------------------------------------- */

struct real {
    bool open_ok, fresh;
    char open_err[ST_ERR_MAX];
    int state_rc;
    raft_term term;
    raft_id vote;
    int config_rc;
    raft_id id;
    raft_id voters[ST_MAX_VOTERS];
    size_t n_voters;
    bool snap_found;
    struct st_snapshot snap;
    uint8_t *snap_data;
    size_t snap_len;
    raft_index snap_index;
    int log_rc;
    char log_err[ST_ERR_MAX];
    struct st_loaded l;
};

struct ctx {
    size_t max_payload;
    uint64_t segment_bytes;
};

static void check_err(const struct storage *st, const char *call)
{
    FZ_CHECK(st->err[0] != '\0' && strstr(st->err, g_dir) != NULL,
             "%s failed with a message not naming the directory: \"%s\"", call,
             st->err);
}

/* What was loaded, against storage.h's promises and the storage's own
 * bookkeeping (which later writes rely on). */
static void check_loaded(const struct ctx *c, const struct storage *st,
                         const struct real *g)
{
    const struct st_loaded *l = &g->l;
    raft_term prev = 0;
    size_t i, k = 0;
    char name[ST_NAME_MAX];
    int64_t size;
    FZ_CHECK(st->base == l->base && st->last == l->base + l->n - 1,
             "storage holds %" PRIu64 "..%" PRIu64 ", loaded %zu from %" PRIu64,
             st->base, st->last, l->n, l->base);
    if (l->n == 0) {
        FZ_CHECK(st->n_segs == 0 && l->base == g->snap_index + 1,
                 "an empty log (%zu segments) continues at %" PRIu64
                 ", the snapshot is %" PRIu64, st->n_segs, l->base, g->snap_index);
    } else {
        FZ_CHECK(st->n_segs > 0 && l->base == st->segs[0].first,
                 "log loaded from %" PRIu64 ", its first segment starts at %" PRIu64,
                 l->base, st->n_segs ? st->segs[0].first : 0);
        FZ_CHECK(l->base >= 1 && l->base + (l->n - 1) >= l->base,
                 "log of %zu entries from %" PRIu64 " passes the end of the "
                 "index space", l->n, l->base);
    }
    FZ_CHECK(l->n_bufs >= st->n_segs, "%zu buffers for %zu segments", l->n_bufs,
             st->n_segs);
    for (k = 0; k < st->n_segs; k++) {
        const struct st_seg *g1 = &st->segs[k];
        FZ_CHECK(g1->last >= g1->first && (k == 0 || g1->first == st->segs[k - 1].last + 1),
                 "segment %zu holds %" PRIu64 "..%" PRIu64 " after %" PRIu64, k,
                 g1->first, g1->last, k ? st->segs[k - 1].last : 0);
        st_seg_name(st, k, name);
        size = file_size(name);
        FZ_CHECK(size >= 0 && (uint64_t)size == (k + 1 == st->n_segs ? st->fill : g1->size),
                 "%s is %" PRId64 " bytes; the storage has %" PRIu64 " of records, "
                 "fill %" PRIu64, name, size, g1->size, st->fill);
    }
    k = 0;
    for (i = 0; i < l->n; i++) {
        const struct raft_entry *e = &l->entries[i];
        raft_index index = l->base + i;
        const uint8_t *rec;
        uint64_t off = st->offs[i];
        while (k < st->n_segs && st->segs[k].last < index) {
            k++;
        }
        FZ_CHECK(k < st->n_segs && st->segs[k].first <= index,
                 "entry %" PRIu64 " in no segment", index);
        FZ_CHECK(off + ST_REC_HDR + ST_REC_FIXED + e->len <= st->segs[k].size,
                 "entry %" PRIu64 " at offset %" PRIu64 " (%zu bytes) past its "
                 "segment's %" PRIu64 " bytes", index, off, e->len, st->segs[k].size);
        rec = l->bufs[k] + off;
        FZ_CHECK(fz_rd64(rec + 8) == index && fz_rd64(rec + 16) == e->term &&
                     rec[24] == e->type && fz_rd32(rec) == ST_REC_FIXED + e->len,
                 "entry %zu (index %" PRIu64 ") is not the record at offset %" PRIu64
                 " (index %" PRIu64 ")", i, index, off, fz_rd64(rec + 8));
        FZ_CHECK(e->buf == (e->len > 0 ? rec + ST_REC_HDR + ST_REC_FIXED : NULL),
                 "entry %" PRIu64 ": payload pointer not in its record", index);
        FZ_CHECK(e->len <= c->max_payload, "entry %" PRIu64 " of %zu bytes, "
                 "max_payload %zu", index, e->len, c->max_payload);
        FZ_CHECK(e->term >= 1 && e->term >= prev, "entry %" PRIu64 " has term %"
                 PRIu64 " after %" PRIu64, index, e->term, prev);
        FZ_CHECK(e->type == RAFT_ENTRY_COMMAND || e->type == RAFT_ENTRY_NOOP ||
                     e->type == RAFT_ENTRY_CONFIG,
                 "entry %" PRIu64 " of type %d", index, e->type);
        prev = e->term;
    }
    if (l->torn) {
        FZ_CHECK(l->torn_bytes >= 1 && strncmp(l->torn_file, "log-", 4) == 0,
                 "torn tail of %" PRIu64 " bytes in %s", l->torn_bytes, l->torn_file);
        size = file_size(l->torn_file);
        FZ_CHECK(size == (l->torn_offset == 0 ? -1 : (int64_t)l->torn_offset),
                 "%s is %" PRId64 " bytes after the cut at %" PRIu64, l->torn_file,
                 size, l->torn_offset);
    }
}

/* Open and read everything, as the server starts. The storage stays open
 * (the caller closes it). */
static void real_run(const struct ctx *c, struct storage *st, struct real *g)
{
    char notes[1024];
    int rc;
    memset(g, 0, sizeof(*g));
    g->open_ok = st_open(st, g_dir, c->max_payload, c->segment_bytes, &g->fresh) == 0;
    if (!g->open_ok) {
        check_err(st, "st_open");
        snprintf(g->open_err, sizeof(g->open_err), "%s", st->err);
        TRACE("load: st_open: %s\n", g->open_err);
        return;
    }
    g->state_rc = st_state_read(st, &g->term, &g->vote);
    FZ_CHECK(g->state_rc == 0 || g->state_rc == -1, "st_state_read: %d", g->state_rc);
    if (g->state_rc != 0) {
        check_err(st, "st_state_read");
    }
    g->config_rc = st_config_read(st, &g->id, g->voters, ST_MAX_VOTERS, &g->n_voters);
    FZ_CHECK(g->config_rc == 0 || g->config_rc == -1, "st_config_read: %d",
             g->config_rc);
    if (g->config_rc != 0) {
        check_err(st, "st_config_read");
    } else {
        FZ_CHECK(g->n_voters <= ST_MAX_VOTERS, "%zu voters", g->n_voters);
    }
    rc = st_snapshot_load(st, &g->snap, &g->snap_data, &g->snap_found, notes,
                          sizeof(notes));
    FZ_CHECK(rc == 0, "st_snapshot_load: %d: %s", rc, st->err);
    FZ_CHECK(g->snap_found == (g->snap_data != NULL), "snapshot found %d, data %p",
             g->snap_found, (void *)g->snap_data);
    if (g->snap_found) {
        FZ_CHECK(g->snap.conf == g->snap_data + ST_SNAP_HDR &&
                     g->snap.body == g->snap.conf + g->snap.conf_len,
                 "snapshot pointers not into its file");
        g->snap_len = (size_t)(g->snap.body - g->snap_data) + g->snap.body_len + 4;
        g->snap_index = g->snap.index;
    }
    g->log_rc = st_log_load(st, g->snap_index, &g->l);
    FZ_CHECK(g->log_rc == 0 || g->log_rc == -1, "st_log_load: %d", g->log_rc);
    if (g->log_rc != 0) {
        check_err(st, "st_log_load");
        FZ_CHECK(strstr(st->err, "log-") != NULL, "st_log_load failed with a "
                 "message naming no segment: \"%s\"", st->err);
        snprintf(g->log_err, sizeof(g->log_err), "%s", st->err);
        FZ_CHECK(g->l.entries == NULL && g->l.bufs == NULL && g->l.n == 0,
                 "a failed st_log_load left entries");
    } else {
        check_loaded(c, st, g);
    }
    TRACE("load: open %d%s, state %d (%" PRIu64 "/%" PRIu64 "), config %d, "
          "snapshot %s%" PRIu64 ", log %d: %zu entries from %" PRIu64 "%s%s\n",
          g->open_ok, g->fresh ? " (fresh)" : "", g->state_rc, g->term, g->vote,
          g->config_rc, g->snap_found ? "" : "none ", g->snap_index, g->log_rc,
          g->l.n, g->l.base, g->l.torn ? ", torn tail cut in " : "",
          g->l.torn ? g->l.torn_file : "");
    if (g->log_rc != 0) {
        TRACE("load: %s\n", g->log_err);
    }
}

static void real_free(struct real *g)
{
    st_loaded_free(&g->l);
    free(g->snap_data);
    g->snap_data = NULL;
}

static bool entry_eq(const struct raft_entry *a, const struct raft_entry *b)
{
    return a->term == b->term && a->type == b->type && a->len == b->len &&
           (a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0);
}

/* The storage against the reference. */
static void compare_ref(const struct real *g, const struct ref *r, const char *when)
{
    size_t i;
    FZ_CHECK(g->open_ok == r->open_ok, "%s: st_open %s, storage.h says it %s (%s)",
             when, g->open_ok ? "succeeded" : "failed",
             r->open_ok ? "opens" : "is refused", g->open_err);
    if (!r->open_ok) {
        return;
    }
    FZ_CHECK(g->fresh == r->fresh, "%s: fresh %d, expected %d", when, g->fresh, r->fresh);
    FZ_CHECK((g->state_rc == 0) == r->state_ok &&
                 (!r->state_ok || (g->term == r->term && g->vote == r->vote)),
             "%s: st_state_read %d (%" PRIu64 ", %" PRIu64 "), expected %s (%"
             PRIu64 ", %" PRIu64 ")", when, g->state_rc, g->term, g->vote,
             r->state_ok ? "success" : "failure", r->term, r->vote);
    FZ_CHECK((g->config_rc == 0) == r->config_ok, "%s: st_config_read %d, expected %s",
             when, g->config_rc, r->config_ok ? "success" : "failure");
    if (r->config_ok) {
        FZ_CHECK(g->id == r->id && g->n_voters == r->n_voters &&
                     memcmp(g->voters, r->voters, r->n_voters * sizeof(raft_id)) == 0,
                 "%s: config id %" PRIu64 " with %zu voters, expected %" PRIu64
                 " with %zu", when, g->id, g->n_voters, r->id, r->n_voters);
    }
    FZ_CHECK(g->snap_found == r->snap_found &&
                 (!r->snap_found ||
                  (g->snap.index == r->snap_index && g->snap.term == r->snap_term &&
                   g->snap_len == r->snap_len &&
                   memcmp(g->snap_data, r->snap_file, r->snap_len) == 0)),
             "%s: snapshot %s %" PRIu64 " (%zu bytes), expected %s %" PRIu64
             " (%zu bytes)", when, g->snap_found ? "found" : "none", g->snap_index,
             g->snap_len, r->snap_found ? "found" : "none", r->snap_index, r->snap_len);
    FZ_CHECK((g->log_rc == 0) == r->log_ok, "%s: st_log_load %s, storage.h says "
             "it %s (%s)", when, g->log_rc == 0 ? "succeeded" : "failed",
             r->log_ok ? "loads" : "is refused", g->log_err);
    if (!r->log_ok) {
        return;
    }
    FZ_CHECK(g->l.base == r->base && g->l.n == r->n, "%s: loaded %zu entries from %"
             PRIu64 ", expected %zu from %" PRIu64, when, g->l.n, g->l.base, r->n,
             r->base);
    for (i = 0; i < r->n; i++) {
        const struct raft_entry *e = &g->l.entries[i];
        FZ_CHECK(e->term == r->e[i].term && e->type == r->e[i].type &&
                     e->len == r->e[i].len &&
                     (e->len == 0 || memcmp(e->buf, r->e[i].payload, e->len) == 0),
                 "%s: entry %" PRIu64 " differs from its record", when, r->base + i);
    }
    FZ_CHECK(g->l.torn == r->torn &&
                 (!r->torn || (strcmp(g->l.torn_file, r->torn_file) == 0 &&
                               g->l.torn_offset == r->torn_offset &&
                               g->l.torn_bytes == r->torn_bytes)),
             "%s: torn tail %d (%s at %" PRIu64 ", %" PRIu64 " bytes), expected %d "
             "(%s at %" PRIu64 ", %" PRIu64 " bytes)", when, g->l.torn,
             g->l.torn_file, g->l.torn_offset, g->l.torn_bytes, r->torn,
             r->torn_file, r->torn_offset, r->torn_bytes);
}

/* One start on the directory: the reference from its bytes, then the
 * storage, then the directory the loads left. */
static void load_round(const struct ctx *c, struct storage *st, struct real *g,
                       const char *when)
{
    struct image before, after;
    struct ref r;
    img_read(&before);
    ref_run(&before, c->max_payload, &r);
    real_run(c, st, g);
    compare_ref(g, &r, when);
    img_read(&after);
    img_expect(&after, &r.after, when);
    img_free(&after);
    img_free(&before);
    ref_free(&r);
}

/* A second start finds what the first left: the same result (its torn
 * tail, if any, already cut). */
static void compare_rounds(const struct real *a, const struct real *b)
{
    size_t i;
    FZ_CHECK(a->open_ok == b->open_ok && strcmp(a->open_err, b->open_err) == 0,
             "second st_open: %d (%s), first %d (%s)", b->open_ok, b->open_err,
             a->open_ok, a->open_err);
    if (!a->open_ok) {
        return;
    }
    FZ_CHECK(a->fresh == b->fresh && a->state_rc == b->state_rc &&
                 a->term == b->term && a->vote == b->vote &&
                 a->config_rc == b->config_rc && a->id == b->id &&
                 a->n_voters == b->n_voters && a->snap_found == b->snap_found &&
                 a->snap_index == b->snap_index && a->snap_len == b->snap_len,
             "second load: state, config or snapshot differ");
    FZ_CHECK(!a->snap_found || memcmp(a->snap_data, b->snap_data, a->snap_len) == 0,
             "second load: snapshot bytes differ");
    FZ_CHECK(a->log_rc == b->log_rc && strcmp(a->log_err, b->log_err) == 0,
             "second st_log_load: %d (%s), first %d (%s)", b->log_rc, b->log_err,
             a->log_rc, a->log_err);
    if (a->log_rc != 0) {
        return;
    }
    FZ_CHECK(a->l.base == b->l.base && a->l.n == b->l.n && !b->l.torn,
             "second load: %zu entries from %" PRIu64 "%s, first %zu from %" PRIu64,
             b->l.n, b->l.base, b->l.torn ? " with a torn tail" : "", a->l.n,
             a->l.base);
    for (i = 0; i < a->l.n; i++) {
        FZ_CHECK(entry_eq(&a->l.entries[i], &b->l.entries[i]),
                 "second load: entry %" PRIu64 " differs", a->l.base + i);
    }
}

/* ---- the structured build: a model of what was written ------------------- */

struct ment {
    raft_term term;
    int type;
    uint8_t *buf;
    size_t len;
    size_t seg;      /* after the build: its segment ... */
    uint64_t off;    /* ... and offset */
};

struct msnap {
    uint64_t index;
    uint8_t *d;
    size_t len;
};

struct model {
    struct ment *e;
    size_t n, cap;
    raft_index base; /* entries base .. base + n - 1 */
    struct msnap snaps[MAX_SNAPS];
    size_t n_snaps;
    int conf_kind; /* 0 bootstrap, 1 joined, 2 version 1, 3 none */
    raft_id id;
    raft_id voters[4];
    size_t n_voters;
    bool has_state;
    raft_term term;
    raft_id vote;
    /* After the build: the segments. */
    struct {
        char name[ST_NAME_MAX];
        raft_index first, last;
        uint64_t size;
    } segs[MAX_SEGS + 1];
    size_t n_segs;
    uint64_t recv_seq;
};

static raft_index model_last(const struct model *m)
{
    return m->base + m->n - 1;
}

static raft_term model_last_term(const struct model *m)
{
    return m->n > 0 ? m->e[m->n - 1].term : 1;
}

/* The term of entry i if the model holds it, else the last term. */
static raft_term model_term_at(const struct model *m, raft_index i)
{
    return i >= m->base && i - m->base < m->n ? m->e[i - m->base].term
                                              : model_last_term(m);
}

static void model_truncate(struct model *m, size_t keep)
{
    while (m->n > keep) {
        free(m->e[--m->n].buf);
    }
}

/* Forget entries below `base` (segments dropped). */
static void model_rebase(struct model *m, raft_index base)
{
    size_t gone, i;
    if (m->n == 0 || base <= m->base) {
        m->base = m->n == 0 ? base : m->base;
        return;
    }
    gone = (size_t)(base - m->base);
    FZ_CHECK(gone <= m->n, "rebase past the log");
    for (i = 0; i < gone; i++) {
        free(m->e[i].buf);
    }
    memmove(m->e, m->e + gone, (m->n - gone) * sizeof(*m->e));
    m->n -= gone;
    m->base = base;
}

static void model_free(struct model *m)
{
    size_t i;
    model_truncate(m, 0);
    free(m->e);
    for (i = 0; i < m->n_snaps; i++) {
        free(m->snaps[i].d);
    }
}

/* A snapshot file written at `index`: it replaces one of that index, and
 * the older ones are deleted. */
static void model_snap(struct model *m, uint64_t index, const uint8_t *d, size_t len)
{
    size_t i = 0;
    while (i < m->n_snaps) {
        if (m->snaps[i].index <= index) {
            free(m->snaps[i].d);
            m->snaps[i] = m->snaps[--m->n_snaps];
        } else {
            i++;
        }
    }
    FZ_CHECK(m->n_snaps < MAX_SNAPS, "too many snapshots");
    m->snaps[m->n_snaps].index = index;
    m->snaps[m->n_snaps].d = fz_dup(d, len);
    m->snaps[m->n_snaps++].len = len;
}

static const struct msnap *model_newest_snap(const struct model *m)
{
    const struct msnap *s = NULL;
    size_t i;
    for (i = 0; i < m->n_snaps; i++) {
        if (s == NULL || m->snaps[i].index > s->index) {
            s = &m->snaps[i];
        }
    }
    return s;
}

/* The storage agrees with the model about the log's extent. */
static void model_check(const struct model *m, const struct storage *st,
                        const char *op)
{
    FZ_CHECK(st->base == m->base && st->last == model_last(m),
             "after %s the storage holds %" PRIu64 "..%" PRIu64 ", written %"
             PRIu64 "..%" PRIu64, op, st->base, st->last, m->base, model_last(m));
}

/* A sealed snapshot file of `index`/`term` with a configuration and body
 * from the PRNG; *len its size (the caller frees it). */
static uint8_t *make_snapshot(struct fz *f, uint64_t *x, uint64_t index,
                              uint64_t term, size_t *len)
{
    size_t conf_len = 1 + fz_u8(f) % 48, body_len = fz_u8(f);
    uint8_t conf[48];
    uint8_t *d;
    fill_prng(conf, conf_len, x);
    *len = st_snapshot_size(conf_len, body_len);
    d = malloc(*len);
    FZ_CHECK(d != NULL, "out of memory");
    fill_prng(d + st_snapshot_body_offset(conf_len), body_len, x);
    st_snapshot_seal(d, index, term, conf, conf_len, body_len);
    return d;
}

/* 1-8 entries of terms from `term` on (or, with flag bit 4, 9-1029 small
 * ones drawn from the PRNG: logs past the loader's first 1024 slots),
 * appended to the model (the caller truncated it where they go) and into
 * a fresh *e for the storage (the caller frees it). */
static size_t gen_entries(struct fz *f, const struct ctx *c, uint64_t *x,
                          struct model *m, raft_term term, struct raft_entry **ep)
{
    uint8_t fl = fz_u8(f);
    bool bulk = (fl & 0x10) != 0;
    size_t k = bulk ? 9 + 4 * (size_t)fz_u8(f) : 1 + (size_t)(fz_u8(f) % 8), i;
    size_t cap = c->max_payload < PAYLOAD_CAP ? c->max_payload : PAYLOAD_CAP;
    struct raft_entry *e = malloc(k * sizeof(*e));
    FZ_CHECK(e != NULL, "out of memory");
    *ep = e;
    if (bulk && cap > 16) {
        cap = 16;
    }
    switch ((fl >> 1) & 3) {
    case 0:
    case 1:
        break;
    case 2:
        term++;
        break;
    default:
        term += fz_u8(f);
        break;
    }
    for (i = 0; i < k; i++) {
        uint8_t t = bulk ? (uint8_t)splitmix(x) : fz_u8(f);
        struct ment *me;
        size_t len = (bulk ? (size_t)splitmix(x) : fz_u16(f)) % (cap + 1), got = 0;
        if (m->n == m->cap) {
            m->cap = m->cap ? 2 * m->cap : 64;
            m->e = realloc(m->e, m->cap * sizeof(*m->e));
            FZ_CHECK(m->e != NULL, "out of memory");
        }
        me = &m->e[m->n++];
        memset(me, 0, sizeof(*me));
        me->term = term;
        me->type = t % 8 < 6 ? RAFT_ENTRY_COMMAND
                   : t % 8 == 6 ? RAFT_ENTRY_NOOP : RAFT_ENTRY_CONFIG;
        me->len = len;
        me->buf = malloc(len > 0 ? len : 1);
        FZ_CHECK(me->buf != NULL, "out of memory");
        if ((fl & 8) && !bulk) {
            const uint8_t *p = fz_bytes(f, len, &got);
            memcpy(me->buf, p, got);
        }
        fill_prng(me->buf + got, len - got, x);
        e[i].term = me->term;
        e[i].type = me->type;
        e[i].buf = len > 0 ? me->buf : NULL;
        e[i].len = len;
    }
    return k;
}

/* Would the next write start a fifth segment? */
static bool segments_full(const struct storage *st)
{
    return st->n_segs >= MAX_SEGS &&
           st->segs[st->n_segs - 1].size >= st->segment_bytes;
}

static void build_op(struct fz *f, const struct ctx *c, uint64_t *x,
                     struct storage *st, struct model *m)
{
    struct raft_entry *e = NULL;
    uint8_t op = fz_u8(f) % FZS_B_COUNT;
    size_t k, len;
    uint64_t i, term;
    uint8_t fl, *d;
    int rc = 0;
    switch (op) {
    case FZS_B_APPEND:
    case FZS_B_REWRITE:
        if (segments_full(st) || (op == FZS_B_REWRITE && m->n == 0)) {
            TRACE("build: %s skipped\n", op == FZS_B_APPEND ? "append" : "rewrite");
            return;
        }
        i = op == FZS_B_APPEND ? model_last(m) + 1 : m->base + fz_u16(f) % m->n;
        model_truncate(m, (size_t)(i - m->base));
        term = model_term_at(m, i - 1);
        k = gen_entries(f, c, x, m, term, &e);
        fl = (uint8_t)(fz_u8(f) & 1);
        TRACE("build: %s %zu entries at %" PRIu64 " (term %" PRIu64 ")%s\n",
              op == FZS_B_APPEND ? "append" : "rewrite", k, i, e[0].term,
              fl ? ", no sync" : "");
        rc = fl ? st_log_write(st, i, e, k) : st_log_append(st, i, e, k);
        free(e);
        break;
    case FZS_B_SNAPSHOT:
        fl = fz_u8(f);
        if (m->n == 0) {
            return;
        }
        i = m->base + fz_u16(f) % m->n;
        d = make_snapshot(f, x, i, model_term_at(m, i), &len);
        TRACE("build: snapshot at %" PRIu64 "%s\n", i, fl & 1 ? ", drop" : "");
        rc = st_snapshot_write(st, i, d, len);
        if (rc == 0) {
            model_snap(m, i, d, len);
        }
        free(d);
        if (rc == 0 && (fl & 1)) {
            rc = st_log_drop(st, i);
            model_rebase(m, st->base);
        }
        break;
    case FZS_B_PREPARE:
        TRACE("build: prepare\n");
        for (k = 0; k < 8 && st_log_prepare(st); k++) {
        }
        break;
    case FZS_B_STATE:
        m->has_state = true;
        m->term = fz_u8(f);
        m->vote = fz_u8(f) % 4;
        TRACE("build: state %" PRIu64 " %" PRIu64 "\n", m->term, m->vote);
        rc = st_state_write(st, m->term, m->vote);
        break;
    case FZS_B_INSTALL: {
        char name[ST_NAME_MAX], p[512];
        bool keep;
        int fd;
        fl = fz_u8(f);
        keep = (fl & 1) && m->n > 0;
        if (keep || ((fl & 2) && m->n > 0)) {
            i = m->base + fz_u16(f) % m->n;
        } else {
            i = model_last(m) + 1 + fz_u8(f);
        }
        term = model_term_at(m, i) + (keep ? 0 : 1);
        d = make_snapshot(f, x, i, term, &len);
        snprintf(name, sizeof(name), "snap.recv-%020" PRIu64, ++m->recv_seq);
        path_of(p, sizeof(p), name);
        fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        FZ_CHECK(fd >= 0 && pwrite(fd, d, len, 0) == (ssize_t)len, "%s: %s", p,
                 strerror(errno));
        TRACE("build: install %" PRIu64 "%s\n", i, keep ? " (keep)" : "");
        rc = st_snapshot_install(st, i, keep, fd, name);
        if (rc == 0) {
            model_snap(m, i, d, len);
            if (keep) {
                model_rebase(m, st->base);
            } else {
                model_truncate(m, 0);
                m->base = i + 1;
            }
        }
        free(d);
        break;
    }
    default:
        TRACE("build: sync\n");
        rc = st_log_sync(st);
        break;
    }
    FZ_CHECK(rc == 0, "build operation %u failed: %s", op, st->err);
    model_check(m, st, "a build operation");
}

/* The files as written, before any damage: as storage.h lays them out. */
static void check_written(const struct model *m, struct image *im)
{
    uint8_t rec[REC_MAX];
    size_t k, i, nsegs = 0;
    uint64_t v;
    for (i = 0; i < im->n; i++) {
        const struct ifile *f = &im->f[i];
        bool known = strcmp(f->name, "config") == 0 || strcmp(f->name, "state") == 0 ||
                     strcmp(f->name, "log.prep") == 0;
        if (ref_numbered(f->name, "log-", "", &v)) {
            nsegs++;
            known = true;
        } else if (ref_numbered(f->name, "snap-", "", &v)) {
            for (k = 0; k < m->n_snaps && m->snaps[k].index != v; k++) {
            }
            FZ_CHECK(k < m->n_snaps && m->snaps[k].len == f->len &&
                         memcmp(m->snaps[k].d, f->d, f->len) == 0,
                     "%s is not a snapshot written (or not as written)", f->name);
            known = true;
        }
        FZ_CHECK(known, "the build left %s", f->name);
    }
    FZ_CHECK(nsegs == m->n_segs, "%zu segment files, the storage has %zu", nsegs,
             m->n_segs);
    for (k = 0; k < m->n_snaps; k++) {
        char name[NAME_LEN];
        snprintf(name, sizeof(name), "snap-%020" PRIu64, m->snaps[k].index);
        FZ_CHECK(img_find(im, name) != NULL, "%s is missing", name);
    }
    for (k = 0; k < m->n_segs; k++) {
        const struct ifile *f = img_find(im, m->segs[k].name);
        uint64_t off = 0;
        FZ_CHECK(f != NULL, "%s is missing", m->segs[k].name);
        for (v = m->segs[k].first; v <= m->segs[k].last; v++) {
            const struct ment *e = &m->e[v - m->base];
            size_t n = rec_encode(rec, v, e->term, (uint8_t)e->type, e->buf, e->len);
            FZ_CHECK(off + n <= f->len && memcmp(f->d + off, rec, n) == 0,
                     "%s: record %" PRIu64 " at offset %" PRIu64 " is not as written",
                     f->name, v, off);
            off += n;
        }
        FZ_CHECK(off == m->segs[k].size, "%s: %" PRIu64 " bytes of records, the "
                 "storage says %" PRIu64, f->name, off, m->segs[k].size);
        if (k + 1 < m->n_segs) {
            FZ_CHECK(f->len == off, "%s is not the last segment but holds %zu "
                     "bytes after its %" PRIu64 " of records", f->name, f->len, off);
        } else {
            FZ_CHECK(all_zero(f->d + off, f->len - off), "%s: bytes other than "
                     "zeros after its records", f->name);
        }
    }
}

/* Each entry's segment and offset, from the segments the storage reported. */
static void model_locate(struct model *m)
{
    size_t k, j;
    for (k = 0; k < m->n_segs; k++) {
        uint64_t off = 0;
        FZ_CHECK(m->segs[k].first >= m->base &&
                     (k > 0 || m->segs[k].first == m->base) &&
                     m->segs[k].last <= model_last(m),
                 "segment %s outside the log", m->segs[k].name);
        for (j = (size_t)(m->segs[k].first - m->base);
             j + m->base <= m->segs[k].last; j++) {
            m->e[j].seg = k;
            m->e[j].off = off;
            off += ST_REC_HDR + ST_REC_FIXED + m->e[j].len;
        }
    }
}

/* ---- damage ---------------------------------------------------------------- */

struct damage {
    bool any;       /* any damage at all */
    bool other;     /* damage the tail check does not cover */
    uint64_t tail;  /* the last segment is untouched before this offset */
};

/* The model segment a file is, or -1. */
static int model_seg(const struct model *m, const char *name)
{
    size_t k;
    for (k = 0; k < m->n_segs; k++) {
        if (strcmp(m->segs[k].name, name) == 0) {
            return (int)k;
        }
    }
    return -1;
}

/* Records of model segment k: their number, and the offset of the j-th. */
static size_t seg_records(const struct model *m, int k)
{
    return k < 0 ? 0 : (size_t)(m->segs[k].last + 1 - m->segs[k].first);
}

static uint64_t seg_record_off(const struct model *m, int k, size_t j)
{
    return m->e[m->segs[k].first - m->base + j].off;
}

/* An offset in a file of `len` bytes (segment k of the model, or -1): any,
 * at a record's start (plus a few bytes), in the zero fill, from the end. */
static uint64_t pick_off(struct fz *f, const struct model *m, int k, uint64_t len)
{
    uint8_t mode = fz_u8(f);
    uint16_t v = fz_u16(f);
    uint64_t o;
    size_t nrec = seg_records(m, k);
    switch (mode & 3) {
    case 0:
        return v % (len + 1);
    case 1:
        o = nrec > 0 ? seg_record_off(m, k, v % nrec) + (mode >> 2) : v % (len + 1);
        return o < len ? o : len;
    case 2:
        o = (k >= 0 ? m->segs[k].size : len) + v % 64;
        return o < len ? o : len;
    default:
        return len - v % (len + 1);
    }
}

/* One record from a description: the index and term continue *index and
 * *term, or step aside from them; a known or any type; a payload within
 * or just past max_payload; a good or a broken checksum. */
static size_t gen_record(struct fz *f, const struct ctx *c, uint64_t *x,
                         uint64_t *index, uint64_t *term, uint8_t *out)
{
    uint8_t fl = fz_u8(f), payload[PAYLOAD_CAP + 1];
    size_t cap = c->max_payload < PAYLOAD_CAP ? c->max_payload : PAYLOAD_CAP;
    size_t len = fz_u16(f) % (cap + 1), n;
    uint8_t type;
    switch (fl & 3) {
    case 0:
        break;
    case 1:
        *index += 1 + fz_u8(f);
        break;
    case 2:
        *index -= 1;
        break;
    default:
        *index = fz_u64(f);
        break;
    }
    switch ((fl >> 2) & 3) {
    case 0:
        break;
    case 1:
        *term += 1;
        break;
    case 2:
        *term -= 1;
        break;
    default:
        *term = fz_u64(f);
        break;
    }
    type = (fl & 0x10) ? fz_u8(f) : (uint8_t)(RAFT_ENTRY_COMMAND + fz_u8(f) % 3);
    if ((fl & 0x20) && c->max_payload < PAYLOAD_CAP) {
        len = c->max_payload + 1; /* one byte too many */
    }
    fill_prng(payload, len, x);
    n = rec_encode(out, *index, *term, type, payload, len);
    if (fl & 0x40) {
        out[4] ^= 1; /* checksum */
    }
    (*index)++;
    return n;
}

/* A file of any name the storage knows, with raw bytes, records, a sealed
 * snapshot or zeros. */
static void new_file(struct fz *f, const struct ctx *c, uint64_t *x,
                     const struct model *m, struct damage *dm)
{
    static uint8_t buf[RECS_MAX * REC_MAX > ZEROS_CAP ? RECS_MAX * REC_MAX : ZEROS_CAP];
    uint8_t kind = fz_u8(f) % FZS_F_COUNT, nm = fz_u8(f), cm;
    char name[NAME_LEN];
    uint64_t num, index, term;
    size_t len = 0, got, i, n;
    uint8_t *snap = NULL;
    switch (nm & 3) {
    case 0:
        num = model_last(m) + 1;
        break;
    case 1:
        num = m->base + (m->n > 0 ? fz_u8(f) % m->n : 0);
        break;
    case 2:
        num = fz_u8(f);
        break;
    default:
        num = fz_u64(f);
        break;
    }
    cm = fz_u8(f);
    switch (kind) {
    case FZS_F_SEGMENT:
        snprintf(name, sizeof(name), "log-%020" PRIu64, num);
        break;
    case FZS_F_SNAP:
        snprintf(name, sizeof(name), "snap-%020" PRIu64, num);
        break;
    case FZS_F_INSTALL:
        snprintf(name, sizeof(name), "snap-%020" PRIu64 ".install", num);
        break;
    case FZS_F_PREP:
        snprintf(name, sizeof(name), "log.prep");
        break;
    case FZS_F_LEGACY:
        snprintf(name, sizeof(name), "log");
        num = 1;
        break;
    case FZS_F_SNAPTMP:
        snprintf(name, sizeof(name), "snap.tmp");
        break;
    case FZS_F_RECV:
        snprintf(name, sizeof(name), "snap.recv-%020" PRIu64, num);
        break;
    case FZS_F_STATE:
        snprintf(name, sizeof(name), "state");
        break;
    case FZS_F_CONFIG:
        snprintf(name, sizeof(name), "config");
        break;
    default:
        snprintf(name, sizeof(name), "state.tmp");
        break;
    }
    switch (cm % FZS_C_COUNT) {
    case FZS_C_RAW: {
        const uint8_t *p = fz_bytes(f, fz_u16(f) % (RAW_CAP + 1), &got);
        memcpy(buf, p, got);
        len = got;
        break;
    }
    case FZS_C_RECORDS:
        index = num;
        term = model_term_at(m, num);
        n = 1 + fz_u8(f) % RECS_MAX;
        for (i = 0; i < n; i++) {
            len += gen_record(f, c, x, &index, &term, buf + len);
        }
        break;
    case FZS_C_SNAPSHOT:
        index = (cm & 0x80) ? fz_u64(f) : num;
        term = (cm & 0x40) ? fz_u64(f) : model_term_at(m, index);
        snap = make_snapshot(f, x, index, term, &len);
        break;
    default:
        len = fz_u16(f) % (ZEROS_CAP + 1);
        memset(buf, 0, len);
        break;
    }
    TRACE("damage: new file %s, %zu bytes (content %u)\n", name, len,
          cm % FZS_C_COUNT);
    write_file(name, snap != NULL ? snap : buf, len);
    free(snap);
    dm->any = true;
    if (kind == FZS_F_SEGMENT || kind == FZS_F_INSTALL || kind == FZS_F_LEGACY) {
        dm->other = true; /* the log's files change */
    }
}

static void damage_op(struct fz *f, const struct ctx *c, uint64_t *x,
                      const struct model *m, struct damage *dm)
{
    struct image im;
    uint8_t op = fz_u8(f) % FZS_D_COUNT, sel;
    uint8_t rec[REC_MAX], zeros[4096];
    const char *last = m->n_segs > 0 ? m->segs[m->n_segs - 1].name : NULL;
    char target[NAME_LEN], p[512];
    uint64_t off = 0, v, index, term;
    int64_t size;
    int k, fd;
    size_t n, got;
    const uint8_t *bytes;
    if (op == FZS_D_NEWFILE) {
        new_file(f, c, x, m, dm);
        return;
    }
    sel = fz_u8(f); /* below 128: the last segment; else any file */
    if (sel < 128 && last != NULL && file_size(last) >= 0) {
        snprintf(target, sizeof(target), "%s", last);
    } else {
        img_read(&im);
        if (im.n == 0) {
            return;
        }
        snprintf(target, sizeof(target), "%s", im.f[sel % im.n].name);
        img_free(&im);
    }
    size = file_size(target);
    k = model_seg(m, target);
    path_of(p, sizeof(p), target);
    switch (op) {
    case FZS_D_TRUNC:
        off = pick_off(f, m, k, (uint64_t)size);
        FZ_CHECK(truncate(p, (off_t)off) == 0, "%s: %s", p, strerror(errno));
        break;
    case FZS_D_FLIP:
    case FZS_D_OVERWRITE:
    case FZS_D_ZERO:
    case FZS_D_RECORD:
        off = pick_off(f, m, k, (uint64_t)size);
        if (op == FZS_D_FLIP) {
            uint8_t b = 0, mask = fz_u8(f);
            if (off >= (uint64_t)size) {
                return;
            }
            fd = open(p, O_RDWR | O_CLOEXEC);
            FZ_CHECK(fd >= 0 && pread(fd, &b, 1, (off_t)off) == 1, "%s: %s", p,
                     strerror(errno));
            b ^= mask != 0 ? mask : 1;
            FZ_CHECK(pwrite(fd, &b, 1, (off_t)off) == 1, "%s: %s", p, strerror(errno));
            close(fd);
            break;
        }
        if (op == FZS_D_OVERWRITE) {
            bytes = fz_bytes(f, 1 + fz_u8(f) % 64, &n);
        } else if (op == FZS_D_ZERO) {
            n = 1 + fz_u16(f) % sizeof(zeros);
            memset(zeros, 0, n);
            bytes = zeros;
        } else {
            /* The index the record at `off` would have in the model. */
            size_t j = 0, nrec = seg_records(m, k);
            while (j < nrec && seg_record_off(m, k, j) < off) {
                j++;
            }
            index = k >= 0 ? m->segs[k].first + j : model_last(m) + 1;
            term = model_term_at(m, index);
            n = gen_record(f, c, x, &index, &term, rec);
            bytes = rec;
        }
        if (n == 0) {
            return;
        }
        fd = open(p, O_RDWR | O_CLOEXEC);
        FZ_CHECK(fd >= 0 && pwrite(fd, bytes, n, (off_t)off) == (ssize_t)n, "%s: %s",
                 p, strerror(errno));
        close(fd);
        break;
    case FZS_D_DELETE:
        FZ_CHECK(unlink(p) == 0, "%s: %s", p, strerror(errno));
        break;
    case FZS_D_APPEND:
        off = (uint64_t)size;
        v = fz_u8(f);
        n = 1 + (size_t)fz_u8(f);
        if (v & 1) {
            memset(zeros, 0, n);
            bytes = zeros;
        } else {
            bytes = fz_bytes(f, n, &got);
            n = got;
        }
        if (n == 0) {
            return;
        }
        fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
        FZ_CHECK(fd >= 0 && write(fd, bytes, n) == (ssize_t)n, "%s: %s", p,
                 strerror(errno));
        close(fd);
        break;
    default: { /* FZS_D_RENAME */
        char to[NAME_LEN], q[512];
        uint8_t how = fz_u8(f);
        if (!ref_numbered(target, "log-", "", &v)) {
            return;
        }
        v = (how & 1) ? fz_u64(f) : v + (uint64_t)(int64_t)(int8_t)fz_u8(f);
        snprintf(to, sizeof(to), "log-%020" PRIu64, v);
        path_of(q, sizeof(q), to);
        FZ_CHECK(rename(p, q) == 0, "%s: %s", p, strerror(errno));
        dm->other = true;
        break;
    }
    }
    TRACE("damage: op %u on %s at %" PRIu64 "\n", op, target, off);
    dm->any = true;
    if (last != NULL && strcmp(target, last) == 0 && op != FZS_D_RENAME) {
        if (op == FZS_D_DELETE) {
            off = 0;
        }
        dm->tail = off < dm->tail ? off : dm->tail;
    } else if (ref_numbered(target, "log-", "", &v) || strcmp(target, "log") == 0 ||
               ref_numbered(target, "snap-", ".install", &v)) {
        dm->other = true;
    }
}

/* ---- after the loads --------------------------------------------------------- */

/* Without damage the load gives back what was written; with damage only
 * at the tail, at least every entry before it. */
static void check_model(const struct model *m, const struct real *g,
                        const struct damage *dm)
{
    const struct msnap *s = model_newest_snap(m);
    size_t j;
    if (!dm->any) {
        bool ok = m->conf_kind != 3 ||
                  (!m->has_state && m->n_segs == 0 && m->n_snaps == 0);
        FZ_CHECK(g->open_ok == ok, "undamaged: st_open %d, expected %d: %s",
                 g->open_ok, ok, g->open_err);
        if (!ok) {
            return;
        }
        FZ_CHECK(g->log_rc == 0 && !g->l.torn, "undamaged: st_log_load %d%s: %s",
                 g->log_rc, g->l.torn ? " (torn)" : "", g->log_err);
        FZ_CHECK(g->state_rc == 0 && g->term == (m->has_state ? m->term : 0) &&
                     g->vote == (m->has_state ? m->vote : 0),
                 "undamaged: state %" PRIu64 "/%" PRIu64 " read back as %" PRIu64
                 "/%" PRIu64, m->term, m->vote, g->term, g->vote);
        if (m->conf_kind != 3) {
            FZ_CHECK(g->config_rc == 0 && g->id == m->id &&
                         g->n_voters == m->n_voters &&
                         memcmp(g->voters, m->voters, m->n_voters * sizeof(raft_id)) == 0,
                     "undamaged: config not read back as written");
        }
        FZ_CHECK(g->snap_found == (s != NULL) &&
                     (s == NULL || (g->snap_index == s->index && g->snap_len == s->len &&
                                    memcmp(g->snap_data, s->d, s->len) == 0)),
                 "undamaged: snapshot %" PRIu64 " loaded, newest written %" PRIu64,
                 g->snap_index, s != NULL ? s->index : 0);
        FZ_CHECK(g->l.n == m->n && g->l.base == (m->n > 0 ? m->base
                                                          : (s ? s->index : 0) + 1),
                 "undamaged: %zu entries from %" PRIu64 " loaded, %zu from %" PRIu64
                 " written", g->l.n, g->l.base, m->n, m->base);
    }
    if (dm->other || !g->open_ok || g->log_rc != 0) {
        return;
    }
    for (j = 0; j < m->n; j++) {
        const struct ment *e = &m->e[j];
        raft_index index = m->base + j;
        struct raft_entry want;
        if (e->seg + 1 == m->n_segs &&
            e->off + ST_REC_HDR + ST_REC_FIXED + e->len > dm->tail) {
            break; /* this one and the rest reach the damage */
        }
        want.term = e->term;
        want.type = e->type;
        want.buf = e->buf;
        want.len = e->len;
        FZ_CHECK(index >= g->l.base && index - g->l.base < g->l.n &&
                     entry_eq(&g->l.entries[index - g->l.base], &want),
                 "entry %" PRIu64 " (written before the damage at byte %" PRIu64
                 " of the last segment) lost or changed: loaded %zu entries from %"
                 PRIu64, index, dm->tail, g->l.n, g->l.base);
    }
}

/* After the second load: append over the tail or after it, then the third
 * load must give the second's entries up to there plus the new ones. */
static void append_and_reload(struct fz *f, const struct ctx *c, uint64_t *x,
                              struct storage *st, struct real *g2)
{
    struct raft_entry e[3];
    uint8_t payload[3][64];
    struct real g3;
    uint8_t p = fz_u8(f);
    uint16_t v = fz_u16(f);
    size_t k = 1 + p % 3, i, keep;
    size_t cap = c->max_payload < sizeof(payload[0]) ? c->max_payload
                                                     : sizeof(payload[0]);
    raft_index first;
    raft_term term;
    /* Not on a directory without config (the server writes one first: a
     * log without it is refused), nor at the end of the index space. */
    if (!g2->open_ok || g2->fresh || g2->log_rc != 0 || st->last >= UINT64_MAX - 4) {
        st_close(st);
        return;
    }
    first = (p & 0x80) && g2->l.n > 0 ? g2->l.base + v % g2->l.n : st->last + 1;
    keep = (size_t)(first - g2->l.base);
    term = keep > 0 ? g2->l.entries[keep - 1].term : 1;
    if (((p >> 3) & 1) && term < UINT64_MAX) {
        term++;
    }
    for (i = 0; i < k; i++) {
        e[i].term = term;
        e[i].type = RAFT_ENTRY_COMMAND;
        e[i].len = (v >> 4) % (cap + 1);
        fill_prng(payload[i], e[i].len, x);
        e[i].buf = e[i].len > 0 ? payload[i] : NULL;
    }
    TRACE("append: %zu entries at %" PRIu64 "\n", k, first);
    FZ_CHECK(st_log_append(st, first, e, k) == 0, "append of %zu entries at %"
             PRIu64 " after a load of %zu from %" PRIu64 ": %s", k, first,
             g2->l.n, g2->l.base, st->err);
    st_close(st);
    load_round(c, st, &g3, "third load (after an append)");
    FZ_CHECK(g3.open_ok && g3.log_rc == 0 && !g3.l.torn && g3.l.base == g2->l.base &&
                 g3.l.n == keep + k,
             "after appending %zu at %" PRIu64 ": %zu entries from %" PRIu64
             " (%d, %s)", k, first, g3.l.n, g3.l.base, g3.log_rc, g3.log_err);
    for (i = 0; i < g3.l.n; i++) {
        FZ_CHECK(entry_eq(&g3.l.entries[i], i < keep ? &g2->l.entries[i] : &e[i - keep]),
                 "after the append: entry %" PRIu64 " differs", g3.l.base + i);
    }
    FZ_CHECK(g3.snap_found == g2->snap_found && g3.snap_index == g2->snap_index &&
                 g3.state_rc == g2->state_rc && g3.term == g2->term,
             "after the append: snapshot or state changed");
    st_close(st);
    real_free(&g3);
}

/* ---- the input ------------------------------------------------------------- */

static void write_config(struct storage *st, struct model *m)
{
    char text[256];
    int n;
    switch (m->conf_kind) {
    case 0:
    case 1:
        FZ_CHECK(st_config_write(st, m->id, m->voters, m->n_voters) == 0,
                 "st_config_write: %s", st->err);
        break;
    case 2:
        n = snprintf(text, sizeof(text), "counter-server-config 1\nid %" PRIu64
                     "\nvoters", m->id);
        for (size_t i = 0; i < m->n_voters; i++) {
            n += snprintf(text + n, sizeof(text) - (size_t)n, " %" PRIu64, m->voters[i]);
        }
        n += snprintf(text + n, sizeof(text) - (size_t)n, "\n");
        write_file("config", (const uint8_t *)text, (size_t)n);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {data, size};
    struct ctx c;
    struct storage st;
    struct st_loaded l;
    struct model m;
    struct damage dm = {false, false, UINT64_MAX};
    struct real g1, g2;
    struct image im;
    uint8_t b0 = fz_u8(&f), b1 = fz_u8(&f);
    uint64_t x;
    size_t i, n;
    bool fresh, raw = (b0 & 1) != 0;
    int fds;

    setup_once();
    fds = open_fds();
    empty_dir(g_dir);
    memset(&m, 0, sizeof(m));
    m.base = 1;
    c.max_payload = max_payloads[(b0 >> 1) & 7];
    c.segment_bytes = segment_sizes[(b0 >> 4) & 3];
    x = fz_u8(&f); /* the payload PRNG's seed */
    TRACE("%s, max_payload %zu, segment_bytes %" PRIu64 "\n",
          raw ? "raw" : "structured", c.max_payload, c.segment_bytes);

    /* Write: the config, then the log and snapshots (structured mode). */
    m.conf_kind = raw ? ((b1 & 1) ? 0 : 3) : b1 & 3;
    m.id = raw ? 1 : 1 + (b1 >> 5);
    m.n_voters = m.conf_kind == 1 ? 0 : raw ? 3 : 1 + ((b1 >> 3) & 3);
    for (i = 0; i < m.n_voters; i++) {
        m.voters[i] = i + 1;
    }
    FZ_CHECK(st_open(&st, g_dir, c.max_payload, c.segment_bytes, &fresh) == 0 && fresh,
             "st_open of an empty directory: %s", st.err);
    write_config(&st, &m);
    if (raw ? (b1 & 2) != 0 : (b1 & 4) != 0) {
        m.has_state = true;
        m.term = 3;
        m.vote = 1;
        FZ_CHECK(st_state_write(&st, m.term, m.vote) == 0, "st_state_write: %s", st.err);
    }
    FZ_CHECK(st_log_load(&st, 0, &l) == 0 && l.n == 0 && l.base == 1,
             "st_log_load of an empty log: %s", st.err);
    st_loaded_free(&l);
    if (!raw) {
        n = fz_u8(&f) % MAX_BUILD;
        for (i = 0; i < n; i++) {
            build_op(&f, &c, &x, &st, &m);
        }
        FZ_CHECK(st.n_segs <= MAX_SEGS, "the build wrote %zu segments", st.n_segs);
        m.n_segs = st.n_segs;
        for (i = 0; i < st.n_segs; i++) {
            st_seg_name(&st, i, m.segs[i].name);
            m.segs[i].first = st.segs[i].first;
            m.segs[i].last = st.segs[i].last;
            m.segs[i].size = st.segs[i].size;
        }
    }
    st_close(&st);
    model_locate(&m);
    img_read(&im);
    check_written(&m, &im);
    img_free(&im);

    /* Damage (structured), or the files (raw). */
    if (raw) {
        for (i = 0; i < MAX_RAW_FILES && f.n > 0; i++) {
            new_file(&f, &c, &x, &m, &dm);
        }
    } else {
        n = fz_u8(&f) % MAX_DAMAGE;
        for (i = 0; i < n; i++) {
            damage_op(&f, &c, &x, &m, &dm);
        }
    }

    /* Load, load again, append, load. */
    load_round(&c, &st, &g1, "first load");
    st_close(&st);
    if (!raw) {
        check_model(&m, &g1, &dm);
    }
    load_round(&c, &st, &g2, "second load");
    compare_rounds(&g1, &g2);
    real_free(&g1);
    append_and_reload(&f, &c, &x, &st, &g2);
    real_free(&g2);
    model_free(&m);
    FZ_CHECK(open_fds() == fds, "descriptors left open: %d open, %d before "
             "the run", open_fds(), fds);
    return 0;
}
