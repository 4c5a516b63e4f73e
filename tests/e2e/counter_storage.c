/*
 * counter_storage.c - the counter's storage tells a torn last write from
 * lost or damaged data, and the server refuses to start on the latter.
 *
 *   counter-storage-test [--bin DIR] [--keep]
 *
 * Part 1 drives examples/counter/storage.c directly, each case on a fresh
 * data directory holding a log of 300 entries in several small segments:
 *   - torn writes at the end of the last segment (a partial record, a
 *     partial header, the last segment cut inside a record) are cut, and
 *     everything before them loads; with the last segment filled with
 *     zeros after its records and without (an older version's layout);
 *   - the zero fill: segments but the last end at their records, the
 *     last is filled to the segment size and loads with no torn tail; a
 *     torn record over the zeros is cut and the fill restored by the next
 *     append; zeros then garbage is cut, zeros then a valid record
 *     refused; zeros in a segment that is not the last refused; a segment
 *     filled for a larger segment size trimmed when the next one starts;
 *     an old last segment filled by the next append; a truncation (in
 *     the last segment and in an earlier one) followed by a record of the
 *     same length leaves no old record anywhere in the file;
 *   - a segment that is not the last, truncated inside a record or at a
 *     record boundary, corrupted, or missing, and a bad record followed by
 *     a valid one in the last segment, make loading fail with a message
 *     naming the file and the byte offset;
 *   - truncating the log into an earlier segment, deleting segments below
 *     a snapshot, a crash in the middle of installing a snapshot that
 *     discards the log (finished at the next open), a damaged newest
 *     snapshot (skipped, the older one used), a snapshot of format 1
 *     (before membership changes: refused, saying so), the configuration
 *     stored with a snapshot read back, a configuration entry in the log,
 *     the config file of format 1 read as the bootstrap list, a second
 *     opener of the directory (refused while the first holds it), a data
 *     directory created several levels deep (each new level's entry made
 *     durable in its parent);
 *   - files no crash leaves (found by fuzz/fuzz_storage.c): of two
 *     interrupted installations the newest is finished and the older
 *     deleted (the log written next survives the next start), a segment
 *     log-<UINT64_MAX> is removed with the others, a record after index
 *     UINT64_MAX is refused;
 *   - the prepared segment (log.prep): used by the roll (the old segment
 *     trimmed, the new one its zeros then records); a crash with it
 *     prepared but unused, half prepared, linked under the new segment's
 *     name but not yet unlinked, or holding a valid record: the log loads
 *     as it was and log.prep is deleted; and the writer thread, asleep
 *     while every batch runs on the calling thread (as a follower's do),
 *     prepares the next segment after each roll.
 * Part 2 (with --bin) starts DIR/counter-server on crafted directories and
 * checks that it exits 1 with an error naming the files: a segment
 * truncated in the middle, a snapshot the log does not continue (a gap, a
 * log ending before it, a term mismatch), a log starting after 1 without
 * a snapshot, a second server on a directory in use, an empty directory
 * with neither --bootstrap nor --join; and that it starts after a torn
 * write, logging the cut.
 */
/* syscall(), for the fsync recorder below. */
#define _DEFAULT_SOURCE

#include "cluster.h"
#include "storage.h"
#include "writer.h"

#include <dirent.h>
#include <sys/syscall.h>

#define N_ENTRIES 300u
#define SEG_BYTES 4096u /* about 71 records of a 32-byte command */
#define REC_BYTES (ST_REC_HDR + ST_REC_FIXED + 32u)

/* The configuration {n1: voter} as the raft library encodes it (version 1,
 * no flags, one member: id 1, RAFT_MEMBER_VOTER); storage keeps it as
 * opaque bytes, the server hands it to raft_restore_snapshot. */
static const uint8_t CONF1[17] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};

static int n_pass, n_fail;
static int opt_keep;
static char g_root[CL_DIR_MAX]; /* temp dir holding every case's directory */
static char g_token[CL_DIR_MAX + 8]; /* the servers' cluster token file */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void expect(int ok, const char *fmt, ...)
{
    va_list ap;
    printf("counter-storage-test: %s: ", ok ? "ok" : "FAILED");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (ok) {
        n_pass++;
    } else {
        n_fail++;
    }
}

/* ---- the fsync recorder -------------------------------------------------- */

#define FSYNC_REC_MAX 64u

/* The files fsynced while `on`, by device and inode. */
static struct {
    bool on;
    size_t n;
    dev_t dev[FSYNC_REC_MAX];
    ino_t ino[FSYNC_REC_MAX];
} g_fsyncs;

/* The order of the syncs while `on`: sequence numbers of the first fsync
 * and of the first fdatasync (0: none yet). */
static struct {
    bool on;
    unsigned seq, first_fsync, first_fdatasync;
} g_order;

/* Takes the place of libc's fsync for the whole test program, the storage
 * code linked into it included: a crash test cannot see which directory
 * entries were made durable, so the cases that care record the inodes
 * synced (at most FSYNC_REC_MAX) and check them. */
int fsync(int fd)
{
    struct stat st;
    if (g_fsyncs.on && g_fsyncs.n < FSYNC_REC_MAX && fstat(fd, &st) == 0) {
        g_fsyncs.dev[g_fsyncs.n] = st.st_dev;
        g_fsyncs.ino[g_fsyncs.n++] = st.st_ino;
    }
    if (g_order.on && g_order.first_fsync == 0) {
        g_order.first_fsync = ++g_order.seq;
    }
    return (int)syscall(SYS_fsync, fd);
}

/* And of fdatasync, for the order only (the storage syncs log segments
 * with it, files it replaces whole with fsync). */
int fdatasync(int fd)
{
    if (g_order.on && g_order.first_fdatasync == 0) {
        g_order.first_fdatasync = ++g_order.seq;
    }
    return (int)syscall(SYS_fdatasync, fd);
}

/* Was the directory or file at `path` fsynced while recording? */
static bool fsynced(const char *path)
{
    struct stat st;
    size_t i;
    if (stat(path, &st) != 0) {
        return false;
    }
    for (i = 0; i < g_fsyncs.n; i++) {
        if (g_fsyncs.dev[i] == st.st_dev && g_fsyncs.ino[i] == st.st_ino) {
            return true;
        }
    }
    return false;
}

/* ---- building and damaging directories ----------------------------------- */

struct seginfo {
    char name[ST_NAME_MAX];
    raft_index first, last;
    uint64_t size;
};

/* A fresh case directory under the root. */
static void case_dir(char *dir, size_t len, const char *name)
{
    snprintf(dir, len, "%s/%s", g_root, name);
}

/* Node 1 of a one-voter cluster, term 1, entries 1..n of term `term` (a
 * no-op first, then commands) written in batches of 7, in segments of
 * SEG_BYTES. Its segments into segs[] (up to cap), their number into *nseg. */
static int build_seg(const char *dir, unsigned n, raft_term term,
                     uint64_t seg_bytes, struct seginfo *segs, size_t cap,
                     size_t *nseg)
{
    struct storage st;
    struct st_loaded l;
    raft_id voters[1] = {1};
    bool fresh;
    unsigned i, k;
    size_t j;
    if (st_open(&st, dir, 65536, seg_bytes, &fresh) != 0 || !fresh ||
        st_config_write(&st, 1, voters, 1) != 0 || st_state_write(&st, term, 1) != 0 ||
        st_log_load(&st, 0, &l) != 0) {
        fprintf(stderr, "build %s: %s\n", dir, st.err);
        st_close(&st);
        return -1;
    }
    st_loaded_free(&l);
    for (i = 1; i <= n; i += k) {
        struct raft_entry e[7];
        uint8_t cmd[7][32];
        for (k = 0; k < 7 && i + k <= n; k++) {
            memset(cmd[k], 0, sizeof(cmd[k]));
            cmd[k][0] = CTR_OP_INCR;
            ctr_put64(cmd[k] + 8, 77);          /* client */
            ctr_put64(cmd[k] + 16, i + k);      /* seq */
            ctr_put64(cmd[k] + 24, 1);          /* amount */
            e[k].term = term;
            e[k].type = i + k == 1 ? RAFT_ENTRY_NOOP : RAFT_ENTRY_COMMAND;
            e[k].buf = i + k == 1 ? NULL : cmd[k];
            e[k].len = i + k == 1 ? 0 : 32;
        }
        if (st_log_append(&st, i, e, k) != 0) {
            fprintf(stderr, "build %s: %s\n", dir, st.err);
            st_close(&st);
            return -1;
        }
    }
    *nseg = st.n_segs < cap ? st.n_segs : cap;
    for (j = 0; j < *nseg; j++) {
        st_seg_name(&st, j, segs[j].name);
        segs[j].first = st.segs[j].first;
        segs[j].last = st.segs[j].last;
        segs[j].size = st.segs[j].size;
    }
    st_close(&st);
    return 0;
}

static int build(const char *dir, unsigned n, raft_term term,
                 struct seginfo *segs, size_t cap, size_t *nseg)
{
    return build_seg(dir, n, term, SEG_BYTES, segs, cap, nseg);
}

/* Open and load the log; *ok whether both worked, the error text in err. */
static void reload(const char *dir, struct st_loaded *l, struct storage *st,
                   raft_index snap_index, bool *ok)
{
    bool fresh;
    *ok = st_open(st, dir, 65536, SEG_BYTES, &fresh) == 0 &&
          st_log_load(st, snap_index, l) == 0;
}

static void path_of(char *p, size_t len, const char *dir, const char *name)
{
    snprintf(p, len, "%s/%s", dir, name);
}

static int truncate_file(const char *dir, const char *name, uint64_t size)
{
    char p[CL_PATH_MAX + ST_NAME_MAX];
    path_of(p, sizeof(p), dir, name);
    return truncate(p, (off_t)size);
}

static int patch_file(const char *dir, const char *name, uint64_t off,
                      const void *bytes, size_t n, bool append)
{
    char p[CL_PATH_MAX + ST_NAME_MAX];
    int fd, rc;
    path_of(p, sizeof(p), dir, name);
    fd = open(p, O_WRONLY | (append ? O_APPEND : 0));
    if (fd < 0) {
        return -1;
    }
    rc = append ? (write(fd, bytes, n) == (ssize_t)n ? 0 : -1)
                : (pwrite(fd, bytes, n, (off_t)off) == (ssize_t)n ? 0 : -1);
    close(fd);
    return rc;
}

static uint64_t file_size(const char *dir, const char *name)
{
    char p[CL_PATH_MAX + ST_NAME_MAX];
    struct stat sb;
    path_of(p, sizeof(p), dir, name);
    return stat(p, &sb) == 0 ? (uint64_t)sb.st_size : UINT64_MAX;
}

static bool exists(const char *dir, const char *name)
{
    return file_size(dir, name) != UINT64_MAX;
}

/* A snapshot file of the counter's state machine with no sessions. */
static int write_snapshot(const char *dir, raft_index index, raft_term term,
                          uint64_t counter, const char *as)
{
    size_t len = st_snapshot_size(sizeof(CONF1), 16);
    uint8_t *f = calloc(1, len);
    char p[CL_PATH_MAX + ST_NAME_MAX], name[ST_NAME_MAX];
    FILE *out;
    int rc;
    if (f == NULL) {
        return -1;
    }
    ctr_put64(f + st_snapshot_body_offset(sizeof(CONF1)), counter);
    st_snapshot_seal(f, index, term, CONF1, sizeof(CONF1), 16);
    snprintf(name, sizeof(name), "snap-%020" PRIu64 "%s", index, as);
    path_of(p, sizeof(p), dir, name);
    out = fopen(p, "wb");
    rc = out != NULL && fwrite(f, 1, len, out) == len ? 0 : -1;
    if (out != NULL) {
        fclose(out);
    }
    free(f);
    return rc;
}

/* ---- part 1: the storage API --------------------------------------------- */

/* Build, damage with `damage`, reload: must fail with an error holding
 * each of want[] (NULL-terminated), or load (want == NULL). */
typedef int (*damage_fn)(const char *dir, const struct seginfo *segs, size_t n);

/* The format before the zero fill: the last segment trimmed to its
 * records, as every segment of an older version was. */
static int old_format(const char *dir, const struct seginfo *g, size_t n)
{
    return truncate_file(dir, g[n - 1].name, g[n - 1].size);
}

/* With old_fmt, the last segment is trimmed (old_format) before the damage;
 * want_torn: whether loading must report a torn tail (want == NULL). */
static void load_case_fmt(const char *name, damage_fn damage,
                          const char *const *want, unsigned want_entries,
                          bool old_fmt, bool want_torn)
{
    char dir[CL_PATH_MAX];
    struct seginfo segs[32];
    struct storage st;
    struct st_loaded l;
    size_t nseg = 0, i;
    bool ok;
    case_dir(dir, sizeof(dir), name);
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 || nseg < 4 ||
        (old_fmt && old_format(dir, segs, nseg) != 0) ||
        damage(dir, segs, nseg) != 0) {
        expect(0, "%s: setting up (%zu segments)", name, nseg);
        return;
    }
    reload(dir, &l, &st, 0, &ok);
    if (want == NULL) {
        expect(ok && l.n == want_entries && l.base == 1 && l.torn == want_torn,
               "%s: loads %zu entries (want %u), %s%s (want %s)%s%s", name,
               ok ? l.n : 0, want_entries,
               l.torn ? "cut a torn tail of " : "no torn tail",
               l.torn ? l.torn_file : "", want_torn ? "a cut" : "none",
               ok ? "" : "; error: ", ok ? "" : st.err);
    } else {
        bool all = !ok;
        for (i = 0; want[i] != NULL && all; i++) {
            all = strstr(st.err, want[i]) != NULL;
        }
        expect(all, "%s: refused: %s", name, ok ? "(it loaded)" : st.err);
    }
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);
}

static void load_case(const char *name, damage_fn damage, const char *const *want,
                      unsigned want_entries, bool want_torn)
{
    load_case_fmt(name, damage, want, want_entries, false, want_torn);
}

static int dmg_none(const char *dir, const struct seginfo *g, size_t n)
{
    (void)dir, (void)g, (void)n;
    return 0;
}

/* A write cut short where the next record goes: over the zero fill, or
 * appended to a segment of the old format. */
static int dmg_torn_record(const char *dir, const struct seginfo *g, size_t n)
{
    uint8_t part[30];
    memset(part, 0xA5, sizeof(part));
    ctr_put32(part, ST_REC_FIXED + 32); /* a plausible length, then cut */
    return patch_file(dir, g[n - 1].name, g[n - 1].size, part, sizeof(part),
                      false);
}

static int dmg_torn_header(const char *dir, const struct seginfo *g, size_t n)
{
    return patch_file(dir, g[n - 1].name, g[n - 1].size, "\x31\x00\x00", 3,
                      false);
}

static int dmg_last_cut(const char *dir, const struct seginfo *g, size_t n)
{
    return truncate_file(dir, g[n - 1].name, g[n - 1].size - 20);
}

static int dmg_mid_cut(const char *dir, const struct seginfo *g, size_t n)
{
    (void)n;
    return truncate_file(dir, g[1].name, 10 * REC_BYTES + 20);
}

static int dmg_mid_boundary(const char *dir, const struct seginfo *g, size_t n)
{
    (void)n;
    return truncate_file(dir, g[1].name, 10 * REC_BYTES);
}

static int dmg_mid_flip(const char *dir, const struct seginfo *g, size_t n)
{
    uint8_t x = 0xFF;
    (void)n;
    return patch_file(dir, g[1].name, 5 * REC_BYTES + 30, &x, 1, false);
}

static int dmg_mid_missing(const char *dir, const struct seginfo *g, size_t n)
{
    char p[CL_PATH_MAX + ST_NAME_MAX];
    (void)n;
    path_of(p, sizeof(p), dir, g[1].name);
    return unlink(p);
}

static int dmg_last_flip(const char *dir, const struct seginfo *g, size_t n)
{
    uint8_t x = 0xFF;
    return patch_file(dir, g[n - 1].name, 2 * REC_BYTES + 30, &x, 1, false);
}

static void part1_loads(void)
{
    static char off_mid[64], off_flip[64], off_last[64];
    static const char *w_mid[] = {NULL, off_mid, "not the last", NULL};
    static const char *w_bound[] = {"ends at index", NULL, NULL, NULL};
    static const char *w_flip[] = {NULL, off_flip, "checksum", NULL};
    static const char *w_gap[] = {"entries are missing", NULL, NULL, NULL};
    static const char *w_last[] = {NULL, off_last, "followed by a valid record", NULL};
    char seg[ST_NAME_MAX];
    snprintf(off_mid, sizeof(off_mid), "byte offset %u", 10 * REC_BYTES);
    snprintf(off_flip, sizeof(off_flip), "byte offset %u", 5 * REC_BYTES);
    snprintf(off_last, sizeof(off_last), "byte offset %u", 2 * REC_BYTES);
    load_case("intact", dmg_none, NULL, N_ENTRIES, false);
    load_case("torn-record", dmg_torn_record, NULL, N_ENTRIES, true);
    load_case("torn-header", dmg_torn_header, NULL, N_ENTRIES, true);
    /* The limit of what a loader can tell: a last segment cut inside a
     * record looks like a torn write. */
    load_case("last-segment-cut", dmg_last_cut, NULL, N_ENTRIES - 1, true);
    /* The same on segments of the format before the zero fill. */
    load_case_fmt("old-format-intact", dmg_none, NULL, N_ENTRIES, true, false);
    load_case_fmt("old-format-torn-record", dmg_torn_record, NULL, N_ENTRIES,
                  true, true);
    load_case_fmt("old-format-torn-header", dmg_torn_header, NULL, N_ENTRIES,
                  true, true);
    load_case_fmt("old-format-last-segment-cut", dmg_last_cut, NULL,
                  N_ENTRIES - 1, true, true);
    /* Here only the file name's pattern; part1_names checks a whole one. */
    snprintf(seg, sizeof(seg), "log-0000000000000000");
    w_mid[0] = w_flip[0] = seg;
    w_bound[1] = seg;
    w_gap[1] = seg;
    w_last[0] = seg;
    load_case("middle-segment-cut-in-a-record", dmg_mid_cut, w_mid, 0, false);
    load_case("middle-segment-cut-at-a-boundary", dmg_mid_boundary, w_bound, 0,
              false);
    load_case("middle-segment-corrupt", dmg_mid_flip, w_flip, 0, false);
    load_case("middle-segment-missing", dmg_mid_missing, w_gap, 0, false);
    load_case("last-segment-corrupt-before-valid", dmg_last_flip, w_last, 0,
              false);
    load_case_fmt("old-format-last-segment-corrupt-before-valid", dmg_last_flip,
                  w_last, 0, true, false);
}

/* ---- part 1: the zero fill of the last segment ---------------------------- */

/* The whole file dir/name into a fresh buffer (*len bytes); NULL on error. */
static uint8_t *slurp(const char *dir, const char *name, size_t *len)
{
    char p[CL_PATH_MAX + ST_NAME_MAX];
    uint64_t size = file_size(dir, name);
    uint8_t *d;
    FILE *f;
    path_of(p, sizeof(p), dir, name);
    if (size == UINT64_MAX || (d = malloc(size + 1)) == NULL) {
        return NULL;
    }
    f = fopen(p, "rb");
    if (f == NULL || fread(d, 1, size, f) != size) {
        if (f != NULL) {
            fclose(f);
        }
        free(d);
        return NULL;
    }
    fclose(f);
    *len = size;
    return d;
}

/* Do bytes [from, end of file) of dir/name hold zeros only? */
static bool zeros_after(const char *dir, const char *name, uint64_t from)
{
    size_t len = 0, i;
    uint8_t *d = slurp(dir, name, &len);
    bool all = d != NULL && from <= len;
    for (i = from; all && i < len; i++) {
        all = d[i] == 0;
    }
    free(d);
    return all;
}

/* Valid records (length, checksum) of an index above `above` anywhere in
 * dir/name, at any byte offset: what a crash could bring back. */
static unsigned records_above(const char *dir, const char *name,
                              raft_index above)
{
    size_t len = 0, off;
    uint8_t *d = slurp(dir, name, &len);
    unsigned n = 0;
    for (off = 0; d != NULL && off + ST_REC_HDR + ST_REC_FIXED <= len; off++) {
        uint32_t body = ctr_get32(d + off);
        if (body >= ST_REC_FIXED && body <= ST_REC_FIXED + 65536 &&
            body <= len - off - ST_REC_HDR &&
            ctr_get32(d + off + 4) == ctr_crc32(0, d + off + ST_REC_HDR, body) &&
            ctr_get64(d + off + ST_REC_HDR) > above) {
            n++;
        }
    }
    free(d);
    return n;
}

/* A 32-byte INCR entry of client `client` (its payload in cmd). */
static struct raft_entry incr_entry(uint8_t *cmd, raft_term term,
                                    uint64_t client, uint64_t seq)
{
    struct raft_entry e;
    memset(cmd, 0, 32);
    cmd[0] = CTR_OP_INCR;
    ctr_put64(cmd + 8, client);
    ctr_put64(cmd + 16, seq);
    ctr_put64(cmd + 24, 1);
    e.term = term;
    e.type = RAFT_ENTRY_COMMAND;
    e.buf = cmd;
    e.len = 32;
    return e;
}

/* Zeros after the records' end, then garbage: a later block of a torn
 * write reached the disk, the block where it starts did not. */
static int dmg_garbage_after_zeros(const char *dir, const struct seginfo *g,
                                   size_t n)
{
    uint8_t junk[100];
    memset(junk, 0x5A, sizeof(junk));
    return patch_file(dir, g[n - 1].name, g[n - 1].size + 200, junk,
                      sizeof(junk), false);
}

/* Zeros where record last + 1 should be, then a valid record last + 2. */
static int dmg_valid_after_zeros(const char *dir, const struct seginfo *g,
                                 size_t n)
{
    uint8_t cmd[32], rec[REC_BYTES];
    struct raft_entry e = incr_entry(cmd, 1, 77, g[n - 1].last + 2);
    st_rec_encode(rec, g[n - 1].last + 2, &e);
    return patch_file(dir, g[n - 1].name, g[n - 1].size + REC_BYTES, rec,
                      sizeof(rec), false);
}

/* A segment that is not the last with zeros after its records. */
static int dmg_mid_zeros(const char *dir, const struct seginfo *g, size_t n)
{
    (void)n;
    return truncate_file(dir, g[1].name, g[1].size + 512);
}

/* The last segment after a truncation at `first` (in segment k of the
 * build) and one new INCR of the old records' length: no old record
 * after it anywhere in the file, the fill restored, and it loads back
 * with the new record last. */
static void truncate_case(const char *name, raft_index first, size_t k)
{
    char dir[CL_PATH_MAX];
    struct seginfo segs[32];
    struct storage st;
    struct st_loaded l;
    struct raft_entry e;
    uint8_t cmd[32];
    size_t nseg = 0;
    uint64_t end = 0;
    unsigned stale;
    bool ok;
    case_dir(dir, sizeof(dir), name);
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 || nseg < 4 ||
        first < segs[k].first || first > segs[k].last) {
        expect(0, "%s: setting up", name);
        return;
    }
    /* Same term, same length: only the payload (client 99) differs, so an
     * old record right after it would continue the log. */
    e = incr_entry(cmd, 1, 99, 1);
    reload(dir, &l, &st, 0, &ok);
    ok = ok && st_log_append(&st, first, &e, 1) == 0;
    if (ok) {
        end = st.segs[st.n_segs - 1].size;
        st_loaded_free(&l);
    }
    st_close(&st);
    stale = records_above(dir, segs[k].name, first);
    expect(ok && end == (first - segs[k].first + 1) * REC_BYTES && stale == 0 &&
           file_size(dir, segs[k].name) == SEG_BYTES &&
           zeros_after(dir, segs[k].name, end) &&
           (k + 1 == nseg || !exists(dir, segs[k + 1].name)),
           "%s: after a truncation at %" PRIu64 " and a record of the same "
           "length, %s holds %u valid records above %" PRIu64 ", is %" PRIu64
           " bytes, zeros after offset %" PRIu64 "%s%s", name, first,
           segs[k].name, stale, first, file_size(dir, segs[k].name), end,
           ok ? "" : ": ", ok ? "" : st.err);
    reload(dir, &l, &st, 0, &ok);
    expect(ok && l.n == first && !l.torn &&
           ctr_get64((const uint8_t *)l.entries[l.n - 1].buf + 8) == 99,
           "%s: reloaded: %zu entries, the last one the new record", name,
           ok ? l.n : 0);
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);
}

/* Open dir (its log loaded) and append entry `index` to it: whether both
 * worked; *n_segs (out, unless NULL) the segments after the append. */
static bool append_one(const char *dir, raft_index index, size_t *n_segs)
{
    struct storage st;
    struct st_loaded l;
    struct raft_entry e;
    uint8_t cmd[32];
    bool ok;
    reload(dir, &l, &st, 0, &ok);
    e = incr_entry(cmd, 1, 77, index);
    ok = ok && st_log_append(&st, index, &e, 1) == 0;
    if (n_segs != NULL) {
        *n_segs = st.n_segs;
    }
    if (l.entries != NULL) {
        st_loaded_free(&l);
    }
    st_close(&st);
    return ok;
}

/* Reload dir and expect n entries and no torn tail. */
static void expect_reloaded(const char *dir, size_t n, const char *name)
{
    struct storage st;
    struct st_loaded l;
    bool ok;
    reload(dir, &l, &st, 0, &ok);
    expect(ok && l.n == n && !l.torn, "%s: reloaded: %zu entries (want %zu), "
           "no torn tail%s%s", name, ok ? l.n : 0, n, ok ? "" : "; error: ",
           ok ? "" : st.err);
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);
}

static void part1_fill(void)
{
    static char off_zero[64], off_valid[64], off_mid[64];
    static const char *w_valid[] = {"corrupt record", off_zero,
                                    "followed by a valid record", off_valid,
                                    NULL};
    static const char *w_mid[] = {"impossible record length", off_mid,
                                  "not the last", NULL};
    char dir[CL_PATH_MAX];
    struct seginfo segs[32];
    struct storage st;
    struct st_loaded l;
    size_t nseg = 0, j;
    bool ok, exact = true;

    /* Every segment but the last is exactly its records; the last is
     * filled with zeros to the segment size and loads without a cut. */
    case_dir(dir, sizeof(dir), "fill");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 || nseg < 4) {
        expect(0, "fill: setting up");
        return;
    }
    for (j = 0; j + 1 < nseg; j++) {
        exact = exact && file_size(dir, segs[j].name) == segs[j].size;
    }
    expect(exact && segs[nseg - 1].size < SEG_BYTES &&
           file_size(dir, segs[nseg - 1].name) == SEG_BYTES &&
           zeros_after(dir, segs[nseg - 1].name, segs[nseg - 1].size),
           "fill: segments before the last end at their records; the last "
           "(%" PRIu64 " bytes of records) is filled with zeros to %" PRIu64,
           segs[nseg - 1].size, file_size(dir, segs[nseg - 1].name));
    reload(dir, &l, &st, 0, &ok);
    expect(ok && l.n == N_ENTRIES && !l.torn && st.fill == SEG_BYTES,
           "fill: the trailing zeros load as the end of the records, no torn "
           "tail (%zu entries)", ok ? l.n : 0);
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);

    /* A torn record over the zeros is cut by a truncation; the next write
     * fills the segment again. */
    case_dir(dir, sizeof(dir), "fill-torn");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 || nseg < 4 ||
        dmg_torn_record(dir, segs, nseg) != 0) {
        expect(0, "fill-torn: setting up");
        return;
    }
    reload(dir, &l, &st, 0, &ok);
    expect(ok && l.n == N_ENTRIES && l.torn &&
           l.torn_offset == segs[nseg - 1].size && l.torn_bytes == 30 &&
           file_size(dir, segs[nseg - 1].name) == segs[nseg - 1].size,
           "fill-torn: a torn record in the zero fill is cut: %" PRIu64
           " bytes at offset %" PRIu64 ", the file ends there",
           l.torn_bytes, l.torn_offset);
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);
    ok = append_one(dir, N_ENTRIES + 1, NULL);
    expect(ok && file_size(dir, segs[nseg - 1].name) == SEG_BYTES &&
           zeros_after(dir, segs[nseg - 1].name, segs[nseg - 1].size + REC_BYTES),
           "fill-torn: the next append fills the segment with zeros again");
    expect_reloaded(dir, N_ENTRIES + 1, "fill-torn");

    /* Zeros then garbage: a torn write whose first block is missing. Zeros
     * then a valid record: refused, as a bad record before a valid one. */
    load_case("fill-garbage-after-zeros", dmg_garbage_after_zeros, NULL,
              N_ENTRIES, true);
    case_dir(dir, sizeof(dir), "fill-offsets"); /* the same build's offsets */
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) == 0 && nseg >= 4) {
        snprintf(off_zero, sizeof(off_zero), "byte offset %" PRIu64,
                 segs[nseg - 1].size);
        snprintf(off_valid, sizeof(off_valid), "byte offset %" PRIu64,
                 segs[nseg - 1].size + REC_BYTES);
        snprintf(off_mid, sizeof(off_mid), "byte offset %" PRIu64,
                 segs[1].size);
    }
    load_case("fill-valid-after-zeros", dmg_valid_after_zeros, w_valid, 0,
              false);
    load_case("fill-in-a-middle-segment", dmg_mid_zeros, w_mid, 0, false);

    /* A truncation never brings old records back. */
    truncate_case("fill-truncate-last", 250, 3);
    truncate_case("fill-truncate-earlier", 100, 1);

    /* A segment filled for a larger segment size (an earlier run's
     * --segment-bytes) is trimmed to its records when the next one
     * starts: zeros are only ever in the last segment. */
    case_dir(dir, sizeof(dir), "fill-roll-trims");
    if (build_seg(dir, 100, 1, 4 * SEG_BYTES, segs, 32, &nseg) != 0 ||
        nseg != 1 || file_size(dir, segs[0].name) != 4 * SEG_BYTES) {
        expect(0, "fill-roll-trims: setting up (%zu segments)", nseg);
        return;
    }
    ok = append_one(dir, 101, &nseg);
    expect(ok && nseg == 2 && file_size(dir, segs[0].name) == segs[0].size,
           "fill-roll-trims: a new segment started with a smaller segment "
           "size: the previous one is trimmed to its %" PRIu64 " bytes of "
           "records (%" PRIu64 ")", segs[0].size, file_size(dir, segs[0].name));
    expect_reloaded(dir, 101, "fill-roll-trims");

    /* A last segment of the old format loads, and is filled with zeros at
     * the next append. */
    case_dir(dir, sizeof(dir), "fill-old-format");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 || nseg < 4 ||
        old_format(dir, segs, nseg) != 0) {
        expect(0, "fill-old-format: setting up");
        return;
    }
    expect_reloaded(dir, N_ENTRIES, "fill-old-format (before the append)");
    ok = append_one(dir, N_ENTRIES + 1, NULL);
    expect(ok && file_size(dir, segs[nseg - 1].name) == SEG_BYTES,
           "fill-old-format: a last segment without fill loads, and the next "
           "append fills it (%" PRIu64 " bytes)",
           file_size(dir, segs[nseg - 1].name));
    expect_reloaded(dir, N_ENTRIES + 1, "fill-old-format");
}

/* The exact file names must be in the messages: check one case by name. */
static void part1_names(void)
{
    char dir[CL_PATH_MAX], want[CL_PATH_MAX + ST_NAME_MAX + 96];
    struct seginfo segs[32];
    struct storage st;
    struct st_loaded l;
    size_t nseg = 0;
    bool ok;
    case_dir(dir, sizeof(dir), "names");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 || nseg < 4 ||
        dmg_mid_cut(dir, segs, nseg) != 0) {
        expect(0, "names: setting up");
        return;
    }
    reload(dir, &l, &st, 0, &ok);
    snprintf(want, sizeof(want), "%s/%s: record runs past the end of the file "
             "at byte offset %u", dir, segs[1].name, 10 * REC_BYTES);
    expect(!ok && strstr(st.err, want) != NULL, "a segment cut in the middle "
           "names its path and offset: \"%s\"", st.err);
    st_close(&st);
}

static void part1_truncate_and_drop(void)
{
    char dir[CL_PATH_MAX];
    struct seginfo segs[32];
    struct storage st;
    struct st_loaded l;
    struct raft_entry e = {2, RAFT_ENTRY_NOOP, NULL, 0};
    size_t nseg = 0;
    bool ok;
    case_dir(dir, sizeof(dir), "truncate-and-drop");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 || nseg < 4) {
        expect(0, "truncate-and-drop: setting up");
        return;
    }
    /* Replace everything from index 50 (in the first segment) on. */
    reload(dir, &l, &st, 0, &ok);
    ok = ok && st_log_append(&st, 50, &e, 1) == 0;
    expect(ok && st.n_segs == 1 && !exists(dir, segs[1].name) &&
           !exists(dir, segs[nseg - 1].name),
           "truncating into the first segment deletes the later ones%s%s",
           ok ? "" : ": ", ok ? "" : st.err);
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);
    reload(dir, &l, &st, 0, &ok);
    expect(ok && l.n == 50 && l.entries[49].term == 2, "reloaded: %zu entries, "
           "the last of term %" PRIu64, ok ? l.n : 0,
           ok && l.n ? l.entries[l.n - 1].term : 0);
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);

    /* Dropping below a snapshot deletes whole segments only. */
    case_dir(dir, sizeof(dir), "drop");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 || nseg < 4) {
        expect(0, "drop: setting up");
        return;
    }
    reload(dir, &l, &st, 0, &ok);
    ok = ok && st_log_drop(&st, segs[1].last + 5) == 0;
    expect(ok && st.base == segs[2].first && !exists(dir, segs[0].name) &&
           !exists(dir, segs[1].name) && exists(dir, segs[2].name),
           "st_log_drop(%" PRIu64 ") deletes %s and %s, keeps %s",
           segs[1].last + 5, segs[0].name, segs[1].name, segs[2].name);
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);
    reload(dir, &l, &st, 0, &ok);
    expect(ok && l.base == segs[2].first && l.n == N_ENTRIES - segs[2].first + 1,
           "reloaded: indexes %" PRIu64 "..%" PRIu64, ok ? l.base : 0,
           ok ? l.base + l.n - 1 : 0);
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);
}

static void part1_snapshots(void)
{
    char dir[CL_PATH_MAX], notes[1024];
    struct seginfo segs[32];
    struct storage st;
    struct st_loaded l;
    struct st_snapshot snap;
    uint8_t *data = NULL;
    size_t nseg = 0;
    bool ok, found = false;

    /* A crash after an installation's commit point: the next open
     * finishes it (the whole log goes, the snapshot becomes current). */
    case_dir(dir, sizeof(dir), "install-redo");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 ||
        write_snapshot(dir, 500, 3, 42, ".install") != 0) {
        expect(0, "install-redo: setting up");
        return;
    }
    reload(dir, &l, &st, 500, &ok);
    expect(ok && l.n == 0 && st.base == 501 && !exists(dir, segs[0].name) &&
           exists(dir, "snap-00000000000000000500") &&
           !exists(dir, "snap-00000000000000000500.install"),
           "an interrupted installation is finished at startup: no segments, "
           "snap-...500 current, the log continues at %" PRIu64, st.base);
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);

    /* The newest snapshot damaged: skipped, noted, the older one used. */
    case_dir(dir, sizeof(dir), "snapshot-fallback");
    if (build(dir, 10, 1, segs, 32, &nseg) != 0 ||
        write_snapshot(dir, 5, 1, 4, "") != 0 ||
        write_snapshot(dir, 8, 1, 7, "") != 0 ||
        patch_file(dir, "snap-00000000000000000008", 50, "\xff", 1, false) != 0) {
        expect(0, "snapshot-fallback: setting up");
        return;
    }
    reload(dir, &l, &st, 0, &ok);
    ok = ok && st_snapshot_load(&st, &snap, &data, &found, notes,
                                sizeof(notes)) == 0;
    expect(ok && found && snap.index == 5 &&
           strstr(notes, "snap-00000000000000000008: snapshot checksum "
                         "mismatch, skipped") != NULL,
           "a damaged newest snapshot is skipped (\"%s\"), the older one "
           "loads (index %" PRIu64 ")", notes, found ? snap.index : 0);
    expect(ok && found && snap.conf_len == sizeof(CONF1) &&
           memcmp(snap.conf, CONF1, sizeof(CONF1)) == 0,
           "the configuration stored with the snapshot reads back (%zu bytes)",
           found ? snap.conf_len : 0);
    free(data);
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);

    /* The only snapshot damaged: none found, noted. */
    case_dir(dir, sizeof(dir), "snapshot-only-damaged");
    if (build(dir, 10, 1, segs, 32, &nseg) != 0 ||
        write_snapshot(dir, 8, 1, 7, "") != 0 ||
        patch_file(dir, "snap-00000000000000000008", 0, "X", 1, false) != 0) {
        expect(0, "snapshot-only-damaged: setting up");
        return;
    }
    reload(dir, &l, &st, 0, &ok);
    ok = ok && st_snapshot_load(&st, &snap, &data, &found, notes,
                                sizeof(notes)) == 0;
    expect(ok && !found && data == NULL &&
           strstr(notes, "snap-00000000000000000008: not a snapshot") != NULL,
           "a damaged only snapshot is not loaded (\"%s\")", notes);
    free(data);
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);

    /* st_snapshot_write replaces older snapshots. */
    case_dir(dir, sizeof(dir), "snapshot-write");
    if (build(dir, 10, 1, segs, 32, &nseg) != 0 ||
        write_snapshot(dir, 3, 1, 2, "") != 0) {
        expect(0, "snapshot-write: setting up");
        return;
    }
    reload(dir, &l, &st, 0, &ok);
    if (ok) {
        size_t len = st_snapshot_size(sizeof(CONF1), 16);
        uint8_t *f = calloc(1, len);
        if (f != NULL) {
            st_snapshot_seal(f, 9, 1, CONF1, sizeof(CONF1), 16);
        }
        ok = f != NULL && st_snapshot_write(&st, 9, f, len) == 0;
        free(f);
        st_loaded_free(&l);
    }
    expect(ok && exists(dir, "snap-00000000000000000009") &&
           !exists(dir, "snap-00000000000000000003") && !exists(dir, "snap.tmp"),
           "a new snapshot is renamed into place and the older one deleted");
    st_close(&st);
}

/* A second opener in another process is refused while the first holds the
 * directory (fcntl locks are per process: a fork is needed). */
/* Membership: a configuration entry in the log, the config file of
 * format 1, a snapshot of format 1. */
/* Files of a directory no crash leaves, found by fuzz/fuzz_storage.c: two
 * interrupted installations (the storage finishes one before another can
 * start), a segment named after the last index there is, a record after
 * it. */
static int create_file(const char *dir, const char *name, const void *bytes,
                       size_t n)
{
    char p[CL_PATH_MAX + ST_NAME_MAX];
    FILE *f;
    int rc;
    path_of(p, sizeof(p), dir, name);
    f = fopen(p, "wb");
    if (f == NULL) {
        return -1;
    }
    rc = fwrite(bytes, 1, n, f) == n ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

static void part1_index_edges(void)
{
    static const char last_seg[] = "log-18446744073709551615";
    char dir[CL_PATH_MAX];
    struct seginfo segs[32];
    struct storage st;
    struct st_loaded l;
    struct raft_entry e[10];
    uint8_t cmd[10][32], rec[2][ST_REC_HDR + ST_REC_FIXED + 32];
    size_t nseg = 0, n0, n1, i;
    bool ok;

    /* Two interrupted installations: the newest is finished and the
     * older deleted, so that the next start does not finish it too,
     * deleting the log written since. */
    case_dir(dir, sizeof(dir), "install-redo-stale");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 ||
        write_snapshot(dir, 400, 2, 41, ".install") != 0 ||
        write_snapshot(dir, 500, 3, 42, ".install") != 0) {
        expect(0, "install-redo-stale: setting up");
        return;
    }
    reload(dir, &l, &st, 500, &ok);
    expect(ok && l.n == 0 && st.base == 501 && !exists(dir, segs[0].name) &&
           exists(dir, "snap-00000000000000000500") &&
           !exists(dir, "snap-00000000000000000500.install") &&
           !exists(dir, "snap-00000000000000000400.install"),
           "of two interrupted installations the newest is finished, the "
           "older deleted%s%s", ok ? "" : "; error: ", ok ? "" : st.err);
    for (i = 0; i < 10; i++) {
        e[i] = incr_entry(cmd[i], 4, 78, i + 1);
    }
    ok = ok && st_log_append(&st, 501, e, 10) == 0;
    if (l.entries != NULL) {
        st_loaded_free(&l);
    }
    st_close(&st);
    reload(dir, &l, &st, 500, &ok);
    expect(ok && l.n == 10 && l.base == 501,
           "the entries written after it survive the next start: %zu from %"
           PRIu64 " (want 10 from 501)%s%s", ok ? l.n : 0, ok ? l.base : 0,
           ok ? "" : "; error: ", ok ? "" : st.err);
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);

    /* An interrupted installation removes every segment, log-<UINT64_MAX>
     * too. */
    case_dir(dir, sizeof(dir), "install-redo-last-index");
    n0 = st_rec_encode(rec[0], UINT64_MAX, &e[0]);
    if (build(dir, 10, 1, segs, 32, &nseg) != 0 ||
        write_snapshot(dir, 500, 3, 42, ".install") != 0 ||
        create_file(dir, last_seg, rec[0], n0) != 0) {
        expect(0, "install-redo-last-index: setting up");
        return;
    }
    reload(dir, &l, &st, 500, &ok);
    expect(ok && l.n == 0 && st.base == 501 && !exists(dir, segs[0].name) &&
           !exists(dir, last_seg),
           "an interrupted installation removes %s too%s%s", last_seg,
           ok ? "" : "; error: ", ok ? "" : st.err);
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);

    /* Index UINT64_MAX, then a record of index 0: not consecutive. */
    case_dir(dir, sizeof(dir), "index-past-the-end");
    n1 = st_rec_encode(rec[1], 0, &e[0]);
    if (build(dir, 0, 1, segs, 32, &nseg) != 0 ||
        create_file(dir, last_seg, rec[0], n0) != 0 ||
        patch_file(dir, last_seg, 0, rec[1], n1, true) != 0) {
        expect(0, "index-past-the-end: setting up");
        return;
    }
    reload(dir, &l, &st, 0, &ok);
    expect(!ok && strstr(st.err, last_seg) != NULL &&
           strstr(st.err, "follows index 18446744073709551615") != NULL,
           "a record after index UINT64_MAX is refused: %s",
           ok ? "(it loaded)" : st.err);
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);
}

static void part1_membership(void)
{
    char dir[CL_PATH_MAX], why[256], p[CL_PATH_MAX + ST_NAME_MAX];
    struct seginfo segs[32];
    struct storage st;
    struct st_loaded l;
    struct st_snapshot snap;
    struct raft_entry e;
    raft_id ids[8], id = 0;
    uint8_t old[ST_SNAP_HDR + 8 + 16 + 4];
    size_t nseg = 0, n = 0;
    bool ok;
    FILE *f;

    case_dir(dir, sizeof(dir), "config-entry");
    if (build(dir, 10, 1, segs, 32, &nseg) != 0) {
        expect(0, "config-entry: setting up");
        return;
    }
    reload(dir, &l, &st, 0, &ok);
    e.term = 1;
    e.type = RAFT_ENTRY_CONFIG;
    e.buf = CONF1;
    e.len = sizeof(CONF1);
    ok = ok && st_log_append(&st, 11, &e, 1) == 0;
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);
    reload(dir, &l, &st, 0, &ok);
    expect(ok && l.n == 11 && l.entries[10].type == RAFT_ENTRY_CONFIG &&
           l.entries[10].len == sizeof(CONF1) &&
           memcmp(l.entries[10].buf, CONF1, sizeof(CONF1)) == 0,
           "a configuration entry is stored and loads back (%zu entries)",
           ok ? l.n : 0);
    ok = ok && st_config_read(&st, &id, ids, 8, &n) == 0;
    expect(ok && id == 1 && n == 1 && ids[0] == 1,
           "the config file holds the id and the bootstrap list");
    if (l.entries != NULL) {
        st_loaded_free(&l);
    }
    st_close(&st);

    /* Format 1 of the config file: "voters" read as the bootstrap list. */
    path_of(p, sizeof(p), dir, "config");
    f = fopen(p, "w");
    if (f != NULL) {
        fputs("counter-server-config 1\nid 1\nvoters 1 2 3\n", f);
        fclose(f);
    }
    reload(dir, &l, &st, 0, &ok);
    ok = ok && st_config_read(&st, &id, ids, 8, &n) == 0;
    expect(ok && id == 1 && n == 3 && ids[2] == 3,
           "a config file of format 1 reads its voters as the bootstrap list");
    if (ok) {
        st_loaded_free(&l);
    }
    st_close(&st);

    /* A snapshot of format 1 (voter ids where the configuration is now). */
    memset(old, 0, sizeof(old));
    memcpy(old, "CTSN", 4);
    ctr_put32(old + 4, 1);
    ctr_put64(old + 8, 5);
    ctr_put64(old + 16, 1);
    ctr_put32(old + 24, 1);
    ctr_put64(old + 32, 16);
    ctr_put64(old + ST_SNAP_HDR, 1);
    ctr_put32(old + sizeof(old) - 4, ctr_crc32(0, old, sizeof(old) - 4));
    why[0] = '\0';
    expect(st_snapshot_parse(old, sizeof(old), &snap, why, sizeof(why)) != 0 &&
           strstr(why, "format 1") != NULL,
           "a snapshot of format 1 is refused: %s", why);
}

/* ---- part 1: the prepared segment ---------------------------------------- */

/* Open dir with segments of seg_bytes, load it, run st_log_prepare()
 * `steps` times (0: until it is done); leaves it open in *st (the caller
 * closes it, as a crash would leave the files). *n the entries loaded. */
static bool open_prepared(const char *dir, uint64_t seg_bytes, int steps,
                          struct storage *st, size_t *n)
{
    struct st_loaded l;
    bool fresh, ok;
    int i;
    ok = st_open(st, dir, 65536, seg_bytes, &fresh) == 0 &&
         st_log_load(st, 0, &l) == 0;
    if (!ok) {
        return false;
    }
    *n = l.n;
    st_loaded_free(&l);
    for (i = 0; steps == 0 || i < steps; i++) {
        if (!st_log_prepare(st)) {
            break;
        }
    }
    return true;
}

/* Append entries from `index` on to an open storage until a new segment
 * starts; the index after the last appended into *next. */
static bool append_until_roll(struct storage *st, raft_index index,
                              raft_index *next)
{
    size_t before = st->n_segs;
    while (st->n_segs == before) {
        uint8_t cmd[32];
        struct raft_entry e = incr_entry(cmd, 1, 77, index);
        if (st_log_append(st, index, &e, 1) != 0) {
            return false;
        }
        index++;
    }
    *next = index;
    return true;
}

static void part1_prepare(void)
{
    char dir[CL_PATH_MAX], name[ST_NAME_MAX];
    struct seginfo segs[32];
    struct storage st;
    size_t nseg = 0, n = 0, k;
    raft_index next = 0;
    bool ok;

    /* Prepared, then used by the roll: log.prep is gone, the new segment
     * holds the record then zeros to the segment size, all of it loads. */
    case_dir(dir, sizeof(dir), "prep-used");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 ||
        !open_prepared(dir, SEG_BYTES, 0, &st, &n)) {
        expect(0, "prep-used: setting up");
        return;
    }
    expect(exists(dir, "log.prep") && file_size(dir, "log.prep") == SEG_BYTES &&
           zeros_after(dir, "log.prep", 0) && !st_log_prepare(&st),
           "prep-used: the next segment is prepared: log.prep, %" PRIu64
           " bytes of zeros, nothing more to do",
           file_size(dir, "log.prep"));
    ok = append_until_roll(&st, N_ENTRIES + 1, &next);
    k = st.n_segs - 1;
    if (ok) {
        char prev[ST_NAME_MAX];
        st_seg_name(&st, k - 1, prev);
        st_seg_name(&st, k, name);
        ok = file_size(dir, prev) == st.segs[k - 1].size; /* trimmed */
    }
    expect(ok && !exists(dir, "log.prep") && st.segs[k].first == next - 1 &&
           st.fill == SEG_BYTES && file_size(dir, name) == SEG_BYTES &&
           zeros_after(dir, name, st.segs[k].size),
           "prep-used: the roll trimmed the old segment and took the "
           "prepared file as %s (filled to %" PRIu64 ", records then zeros), "
           "log.prep is gone",
           ok ? name : "?", ok ? file_size(dir, name) : 0);
    ok = ok && st_log_prepare(&st) == false && exists(dir, "log.prep");
    expect(ok, "prep-used: after the roll the following segment is "
           "prepared again");
    st_close(&st);
    expect_reloaded(dir, (size_t)(next - 1), "prep-used");

    /* A crash with a prepared, unused segment: it is no part of the log;
     * the next open deletes it and the log loads as it was. */
    case_dir(dir, sizeof(dir), "prep-unused-crash");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 ||
        !open_prepared(dir, SEG_BYTES, 0, &st, &n)) {
        expect(0, "prep-unused-crash: setting up");
        return;
    }
    st_close(&st); /* the crash: log.prep stays */
    ok = exists(dir, "log.prep");
    expect_reloaded(dir, N_ENTRIES, "prep-unused-crash");
    expect(ok && !exists(dir, "log.prep"),
           "prep-unused-crash: the prepared file left by the crash was "
           "deleted at the next open");
    ok = append_one(dir, N_ENTRIES + 1, NULL);
    expect(ok, "prep-unused-crash: the next append works");
    expect_reloaded(dir, N_ENTRIES + 1, "prep-unused-crash");

    /* A crash halfway through preparing (1 MiB of fill, one 256 KiB step
     * done): the same. */
    case_dir(dir, sizeof(dir), "prep-partial-crash");
    if (build_seg(dir, N_ENTRIES, 1, 4u << 20, segs, 32, &nseg) != 0 ||
        !open_prepared(dir, 4u << 20, 1, &st, &n)) {
        expect(0, "prep-partial-crash: setting up");
        return;
    }
    ok = exists(dir, "log.prep") && file_size(dir, "log.prep") < (1u << 20);
    st_close(&st);
    {
        struct st_loaded l;
        bool lok;
        reload(dir, &l, &st, 0, &lok);
        expect(ok && lok && l.n == N_ENTRIES && !l.torn &&
               !exists(dir, "log.prep"),
               "prep-partial-crash: a partly prepared file is deleted at the "
               "next open, the log loads (%zu entries)", lok ? l.n : 0);
        if (lok) {
            st_loaded_free(&l);
        }
        st_close(&st);
    }

    /* A crash in the roll between the link and the unlink of log.prep:
     * both names; or after it, before any record: a last segment of
     * zeros only. It loads as an empty last segment (removed), log.prep is
     * deleted, and appending goes on from the same index. */
    case_dir(dir, sizeof(dir), "prep-link-crash");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 ||
        !open_prepared(dir, SEG_BYTES, 0, &st, &n)) {
        expect(0, "prep-link-crash: setting up");
        return;
    }
    st_close(&st);
    {
        char a[CL_PATH_MAX + ST_NAME_MAX], b[CL_PATH_MAX + ST_NAME_MAX];
        snprintf(name, sizeof(name), "log-%020u", N_ENTRIES + 1);
        path_of(a, sizeof(a), dir, "log.prep");
        path_of(b, sizeof(b), dir, name);
        /* The roll trims the last segment before the link. */
        ok = truncate_file(dir, segs[nseg - 1].name, segs[nseg - 1].size) == 0 &&
             link(a, b) == 0;
    }
    expect_reloaded(dir, N_ENTRIES, "prep-link-crash");
    expect(ok && !exists(dir, "log.prep") && !exists(dir, name),
           "prep-link-crash: the linked segment of zeros only was removed as "
           "an empty last segment, log.prep deleted");
    ok = append_one(dir, N_ENTRIES + 1, NULL);
    expect(ok, "prep-link-crash: the next append works");
    expect_reloaded(dir, N_ENTRIES + 1, "prep-link-crash");

    /* Whatever log.prep holds (garbage: not a file this code wrote) it is
     * never read as part of the log. */
    case_dir(dir, sizeof(dir), "prep-garbage");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 ||
        !open_prepared(dir, SEG_BYTES, 0, &st, &n)) {
        expect(0, "prep-garbage: setting up");
        return;
    }
    st_close(&st);
    {
        /* A valid record of the next index at its start. */
        uint8_t rec[REC_BYTES], cmd[32];
        struct raft_entry e = incr_entry(cmd, 1, 77, N_ENTRIES + 1);
        size_t len = st_rec_encode(rec, N_ENTRIES + 1, &e);
        ok = patch_file(dir, "log.prep", 0, rec, len, false) == 0;
    }
    expect_reloaded(dir, N_ENTRIES, "prep-garbage");
    expect(ok && !exists(dir, "log.prep"),
           "prep-garbage: a log.prep holding a valid record of the next "
           "index is not read, and deleted");
}

/* ---- part 1: the writer thread prepares after loop-thread batches -------- */

/* Wait (polling, at most 30 s: a bound on a wait that normally takes
 * milliseconds, not a timing assertion) until log.prep in dir holds a
 * whole segment of zeros and the thread is done with it: idle, with
 * nothing more to prepare (read under the writer's mutex while no batch
 * runs, as the thread itself reads it). */
static bool wait_prepared(const char *dir, struct writer *w)
{
    int64_t until = cl_now_us() + 30000000;
    for (;;) {
        bool done;
        pthread_mutex_lock(&w->mu);
        done = !w->busy && !st_log_prepare_wanted(w->st);
        pthread_mutex_unlock(&w->mu);
        if (done && file_size(dir, "log.prep") == SEG_BYTES) {
            return true;
        }
        if (cl_now_us() >= until) {
            return false;
        }
        cl_sleep_ms(2);
    }
}

/* A directory `name` with N_ENTRIES entries in its log, opened and
 * loaded, with a writer started on it; -1 (reported) if that fails. */
static int writer_open(char *dir, size_t dirlen, const char *name,
                       struct storage *st, struct writer *w)
{
    struct seginfo segs[32];
    struct st_loaded l;
    size_t nseg = 0;
    bool fresh;
    case_dir(dir, dirlen, name);
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) != 0 ||
        st_open(st, dir, 65536, SEG_BYTES, &fresh) != 0) {
        expect(0, "%s: setting up", name);
        return -1;
    }
    if (st_log_load(st, 0, &l) != 0) {
        expect(0, "%s: loading: %s", name, st->err);
        st_close(st);
        return -1;
    }
    st_loaded_free(&l);
    if (wr_start(w, st, 0) != 0) {
        expect(0, "%s: starting the writer", name);
        st_close(st);
        return -1;
    }
    return 0;
}

/* A follower runs its batches on the loop thread (wr_run_here) while the
 * writer thread sleeps; a roll there must still get the next segment
 * prepared by the thread, or every roll of a follower writes its 1 MiB of
 * zeros in the batch again. */
static void part1_writer_prepare(void)
{
    char dir[CL_PATH_MAX];
    struct storage st;
    struct writer w;
    size_t before, done = 0;
    raft_index index = N_ENTRIES + 1, snap_taken, snap_latest;
    char err[ST_ERR_MAX];
    bool ok;
    int round;

    if (writer_open(dir, sizeof(dir), "prep-writer", &st, &w) != 0) {
        return;
    }
    /* At start the thread prepares on its own (it was never asleep). */
    ok = wait_prepared(dir, &w);
    expect(ok, "prep-writer: the thread prepared the next segment at start");
    /* Two rolls, every batch run here as a follower's are; after each,
     * the thread (asleep meanwhile) prepares the following segment. */
    for (round = 1; ok && round <= 2; round++) {
        before = st.n_segs;
        done = 0;
        while (ok && st.n_segs == before) {
            /* The thread has nothing to do (the segment is prepared), so
             * each batch runs here (wr_run_here returns 1). */
            uint8_t cmd[32];
            struct raft_entry e = incr_entry(cmd, 1, 77, index);
            size_t n = 0;
            ok = wr_entries(&w, index, &e, 1) == 0 && wr_run_here(&w) == 1 &&
                 wr_collect(&w, false, &n, &snap_taken, &snap_latest, err,
                            sizeof(err)) == 0 &&
                 n == 1;
            index++;
            done++;
        }
        expect(ok && st.n_segs == before + 1,
               "prep-writer: roll %d after %zu batches, each run on the "
               "calling thread", round, done);
        ok = ok && wait_prepared(dir, &w);
        expect(ok, "prep-writer: after roll %d the sleeping thread was woken "
               "and prepared the next segment (log.prep: %s)", round,
               !exists(dir, "log.prep") ? "absent"
               : ok ? "a whole segment of zeros" : "partly written");
    }
    wr_stop(&w);
    st_close(&st);
    expect_reloaded(dir, (size_t)(index - 1), "prep-writer");
}

/* Raft's writes are a write-ahead log (raft.h, "Persistence"): a later
 * write may become durable only with or after every earlier one. A batch
 * holding entries and then a term/vote write must therefore sync the
 * entries before the term/vote file replaced after them becomes durable,
 * not leave them to the batch's closing fdatasync. */
static void part1_writer_order(void)
{
    char dir[CL_PATH_MAX];
    struct storage st;
    struct writer w;
    size_t n = 0;
    raft_index snap_taken, snap_latest;
    char err[ST_ERR_MAX];
    uint8_t cmd[32];
    struct raft_entry e = incr_entry(cmd, 1, 78, N_ENTRIES + 1);
    bool ok;

    if (writer_open(dir, sizeof(dir), "order-writer", &st, &w) != 0) {
        return;
    }
    /* The thread idle (its next segment prepared): the batch runs here. */
    ok = wait_prepared(dir, &w);
    memset(&g_order, 0, sizeof(g_order));
    g_order.on = true;
    ok = ok && wr_entries(&w, N_ENTRIES + 1, &e, 1) == 0 &&
         wr_state(&w, 2, 1) == 0 && wr_run_here(&w) == 1 &&
         wr_collect(&w, false, &n, &snap_taken, &snap_latest, err,
                    sizeof(err)) == 0 && n == 2;
    g_order.on = false;
    expect(ok, "order-writer: an entries write and a term/vote write ran "
           "as one batch on the calling thread");
    expect(ok && g_order.first_fdatasync != 0 &&
           (g_order.first_fsync == 0 ||
            g_order.first_fdatasync < g_order.first_fsync),
           "order-writer: the entries were synced before the term/vote file "
           "(first fdatasync #%u, first fsync #%u)", g_order.first_fdatasync,
           g_order.first_fsync);
    wr_stop(&w);
    st_close(&st);
    expect_reloaded(dir, N_ENTRIES + 1, "order-writer");
}

static void part1_lock(void)
{
    char dir[CL_PATH_MAX], msg[ST_ERR_MAX];
    struct seginfo segs[4];
    struct storage st;
    size_t nseg;
    bool fresh;
    int fds[2], status = 0;
    ssize_t got;
    pid_t pid;
    case_dir(dir, sizeof(dir), "lock");
    if (build(dir, 10, 1, segs, 4, &nseg) != 0 ||
        st_open(&st, dir, 65536, SEG_BYTES, &fresh) != 0 || pipe(fds) != 0) {
        expect(0, "lock: setting up");
        return;
    }
    pid = fork();
    if (pid == 0) {
        struct storage other;
        int rc = st_open(&other, dir, 65536, SEG_BYTES, &fresh);
        (void)!write(fds[1], other.err, strlen(other.err) + 1);
        /* Both, so that the child too exits clean under valgrind. */
        st_close(&other);
        st_close(&st);
        _exit(rc == 0 ? 0 : 1);
    }
    close(fds[1]);
    got = read(fds[0], msg, sizeof(msg) - 1);
    msg[got > 0 ? got : 0] = '\0';
    close(fds[0]);
    waitpid(pid, &status, 0);
    expect(WIFEXITED(status) && WEXITSTATUS(status) == 1 &&
           strstr(msg, "in use by another process") != NULL,
           "a second opener is refused: \"%s\"", msg);
    st_close(&st);
}

/* st_open creates a missing data directory with its missing parents.
 * Each new directory's entry is durable only once its parent is fsynced:
 * a power cut could otherwise take away a level created here, and with it
 * the data directory, its votes and its log, while the server went on as
 * if they were stored (the same command line then bootstraps anew). */
static void part1_mkdir(void)
{
    char a[CL_PATH_MAX], b[CL_PATH_MAX], c[CL_PATH_MAX];
    struct storage st;
    bool fresh = false;
    int rc;
    case_dir(a, sizeof(a), "mk-a");
    case_dir(b, sizeof(b), "mk-a/mk-b");
    case_dir(c, sizeof(c), "mk-a/mk-b/mk-c");
    memset(&g_fsyncs, 0, sizeof(g_fsyncs));
    g_fsyncs.on = true;
    rc = st_open(&st, c, 65536, SEG_BYTES, &fresh);
    g_fsyncs.on = false;
    expect(rc == 0 && fresh, "mkdir: a data directory two levels below a new "
           "one opens as fresh");
    expect(fsynced(g_root) && fsynced(a) && fsynced(b),
           "mkdir: the parent of every directory created is fsynced (%s %s, "
           "mk-a %s, mk-a/mk-b %s)", g_root,
           fsynced(g_root) ? "yes" : "no", fsynced(a) ? "yes" : "no",
           fsynced(b) ? "yes" : "no");
    st_close(&st);
}

/* ---- part 2: the server ---------------------------------------------------- */

static const char *g_bin;

/* Run counter-server on dir (node 1 of a one-voter cluster) for at most
 * ms; its output into out[0..cap). Returns its exit status, or -1 if it
 * still ran after ms (it is then killed), or -2 if it did not start. */
static int run_server(const char *dir, int port, int64_t ms, char *out,
                      size_t cap)
{
    char exe[CL_PATH_MAX], peers[64], logp[CL_PATH_MAX + 16];
    int64_t until = cl_now_us() + ms * 1000;
    int status = 0, rc = -1;
    pid_t pid;
    FILE *f;
    snprintf(exe, sizeof(exe), "%s/counter-server", g_bin);
    snprintf(peers, sizeof(peers), "1=127.0.0.1:%d", port);
    snprintf(logp, sizeof(logp), "%s.out", dir);
    pid = fork();
    if (pid == 0) {
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(exe, exe, "--id", "1", "--data", dir, "--peers", peers,
              "--token-file", g_token, "--segment-bytes", "4096", (char *)NULL);
        _exit(127);
    }
    if (pid < 0) {
        return -2;
    }
    cl_pids[0] = pid;
    while (cl_now_us() < until) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
            break;
        }
        cl_sleep_ms(10);
    }
    if (rc == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    cl_pids[0] = 0;
    out[0] = '\0';
    f = fopen(logp, "r");
    if (f != NULL) {
        size_t n = fread(out, 1, cap - 1, f);
        out[n] = '\0';
        fclose(f);
    }
    return rc;
}

/* Must exit 1 within 5 s with every want[] in its output. */
static void refuse_case(const char *name, const char *dir, int port,
                        const char *const *want)
{
    char out[8192];
    const char *line;
    int rc = run_server(dir, port, 5000, out, sizeof(out)), i, all = rc == 1;
    for (i = 0; want[i] != NULL && all; i++) {
        all = strstr(out, want[i]) != NULL;
    }
    line = strstr(out, "error: ");
    expect(all, "server, %s: exit %d: %.*s", name, rc,
           line ? (int)strcspn(line, "\n") : 20, line ? line : "(no error line)");
    if (!all) {
        printf("%s\n", out);
    }
}

static void part2(int port)
{
    char dir[CL_PATH_MAX], off[64], out[8192], gap[96];
    struct seginfo segs[32];
    size_t nseg = 0;
    int rc;

    case_dir(dir, sizeof(dir), "srv-mid-cut");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) == 0 &&
        dmg_mid_cut(dir, segs, nseg) == 0) {
        const char *want[] = {segs[1].name, off, "refusing to start", NULL};
        snprintf(off, sizeof(off), "byte offset %u", 10 * REC_BYTES);
        refuse_case("a segment cut in the middle", dir, port, want);
    }

    case_dir(dir, sizeof(dir), "srv-gap");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) == 0 &&
        write_snapshot(dir, 20, 1, 19, "") == 0 &&
        dmg_mid_missing(dir, segs, nseg) == 0) {
        /* The first two segments gone: the log starts at the third. */
        char p[CL_PATH_MAX + ST_NAME_MAX];
        const char *want[] = {"snap-00000000000000000020", gap,
                              "refusing to start", NULL};
        path_of(p, sizeof(p), dir, segs[0].name);
        unlink(p);
        snprintf(gap, sizeof(gap), "the log starts at index %" PRIu64 " (%s)",
                 segs[2].first, segs[2].name);
        refuse_case("a gap between the snapshot and the log", dir, port, want);
    }

    case_dir(dir, sizeof(dir), "srv-ends-before");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) == 0 &&
        write_snapshot(dir, 1000, 1, 999, "") == 0) {
        const char *want[] = {"snap-00000000000000001000", segs[nseg - 1].name,
                              "before the snapshot's index 1000", NULL};
        refuse_case("a log that ends before the snapshot", dir, port, want);
    }

    case_dir(dir, sizeof(dir), "srv-term");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) == 0 &&
        write_snapshot(dir, 100, 2, 99, "") == 0) {
        const char *want[] = {"snap-00000000000000000100", segs[1].name,
                              "has term 1, the snapshot says 2", NULL};
        /* state says term 1 < the snapshot's 2: raise it (EINVAL else) */
        struct storage st;
        bool fresh;
        if (st_open(&st, dir, 65536, SEG_BYTES, &fresh) == 0) {
            st_state_write(&st, 2, 1);
        }
        st_close(&st);
        refuse_case("a term mismatch at the snapshot's index", dir, port, want);
    }

    /* The log starts right after the snapshot, with a lower term. */
    case_dir(dir, sizeof(dir), "srv-term-after");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) == 0 &&
        write_snapshot(dir, segs[0].last, 2, 1, "") == 0) {
        char p[CL_PATH_MAX + ST_NAME_MAX], snapname[ST_NAME_MAX];
        const char *want[] = {snapname, segs[1].name, "lower term than 2", NULL};
        struct storage st;
        bool fresh;
        snprintf(snapname, sizeof(snapname), "snap-%020" PRIu64, segs[0].last);
        path_of(p, sizeof(p), dir, segs[0].name);
        unlink(p);
        if (st_open(&st, dir, 65536, SEG_BYTES, &fresh) == 0) {
            st_state_write(&st, 2, 1);
        }
        st_close(&st);
        refuse_case("terms going down right after the snapshot", dir, port, want);
    }

    case_dir(dir, sizeof(dir), "srv-no-snapshot");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) == 0) {
        char p[CL_PATH_MAX + ST_NAME_MAX];
        const char *want[] = {segs[1].name, gap, "no snapshot", NULL};
        path_of(p, sizeof(p), dir, segs[0].name);
        unlink(p);
        snprintf(gap, sizeof(gap), "entries 1..%" PRIu64 " are missing",
                 segs[1].first - 1);
        refuse_case("a log starting after 1 without a snapshot", dir, port, want);
    }

    /* A torn write is not an error: it starts, says so, and serves. */
    case_dir(dir, sizeof(dir), "srv-torn");
    if (build(dir, N_ENTRIES, 1, segs, 32, &nseg) == 0 &&
        dmg_torn_record(dir, segs, nseg) == 0) {
        rc = run_server(dir, port, 1500, out, sizeof(out));
        expect(rc == -1 && strstr(out, "cut a torn tail of 30 bytes") != NULL &&
               strstr(out, "restored from") != NULL,
               "server, a torn write: starts and logs the cut (%s)",
               rc == -1 ? "still running after 1.5 s" : "exited");
    }

    /* An empty directory needs --bootstrap or --join. */
    case_dir(dir, sizeof(dir), "srv-empty");
    {
        const char *want[] = {"holds no node yet", "--bootstrap", "--join",
                              NULL};
        refuse_case("an empty directory without --bootstrap or --join", dir,
                    port, want);
    }

    /* A second server on a directory in use. */
    case_dir(dir, sizeof(dir), "srv-lock");
    if (build(dir, 10, 1, segs, 32, &nseg) == 0) {
        char exe[CL_PATH_MAX], peers[64];
        pid_t first;
        const char *want[] = {"in use by another process", dir, NULL};
        snprintf(exe, sizeof(exe), "%s/counter-server", g_bin);
        snprintf(peers, sizeof(peers), "1=127.0.0.1:%d", port);
        first = fork();
        if (first == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            dup2(fd, 2);
            execl(exe, exe, "--id", "1", "--data", dir, "--peers", peers,
                  "--token-file", g_token, (char *)NULL);
            _exit(127);
        }
        cl_pids[1] = first;
        cl_sleep_ms(500);
        refuse_case("a second server on the same directory", dir, port + 1, want);
        kill(first, SIGKILL);
        waitpid(first, NULL, 0);
        cl_pids[1] = 0;
    }
}

int main(int argc, char **argv)
{
    uint64_t rng = (uint64_t)cl_now_us() ^ ((uint64_t)getpid() << 32);
    const char *tmp = getenv("TMPDIR");
    int i, port = 0;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bin") == 0 && i + 1 < argc) {
            g_bin = argv[++i];
        } else if (strcmp(argv[i], "--keep") == 0) {
            opt_keep = 1;
        } else {
            fprintf(stderr, "usage: counter-storage-test [--bin DIR] [--keep]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    cl_install_handlers(120);
    snprintf(g_root, sizeof(g_root), "%s/counter-storage.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(g_root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    {
        /* A private token file for the servers this test starts. */
        static const char token[] = "counter-storage-test-token-0123456789abcdef\n";
        int fd;
        snprintf(g_token, sizeof(g_token), "%s/token", g_root);
        fd = open(g_token, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || write(fd, token, sizeof(token) - 1) != (ssize_t)(sizeof(token) - 1)) {
            perror(g_token);
            return 1;
        }
        close(fd);
    }
    part1_loads();
    part1_names();
    part1_fill();
    part1_prepare();
    part1_writer_prepare();
    part1_writer_order();
    part1_truncate_and_drop();
    part1_snapshots();
    part1_index_edges();
    part1_membership();
    part1_lock();
    part1_mkdir();
    if (g_bin != NULL) {
        if (cl_pick_ports(&port, 1, &rng) != 0) {
            expect(0, "no free port");
        } else {
            part2(port);
        }
    }
    printf("counter-storage-test: %d passed, %d failed%s%s\n", n_pass, n_fail,
           n_fail || opt_keep ? "; directories kept in " : "",
           n_fail || opt_keep ? g_root : "");
    if (n_fail == 0 && !opt_keep) {
        struct cluster c;
        memset(&c, 0, sizeof(c));
        snprintf(c.dir, sizeof(c.dir), "%s", g_root);
        cl_remove_dir(&c);
    }
    return n_fail > 0 ? 1 : 0;
}
