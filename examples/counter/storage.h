/*
 * storage.h - durable state of one counter-server node, in one directory:
 *
 *   lock          held (flock) by the running server for its whole life, so
 *                 a second server on the same directory refuses to start;
 *                 holds the owner's pid, as text, for the error message;
 *   config        the node id and how the node started: the bootstrap voter
 *                 list, or none for a node that joined a running cluster
 *                 (text, written once at the first start, atomically). The
 *                 configuration itself is in the log and the snapshots;
 *   state         the current term and vote (28 bytes, replaced atomically:
 *                 write state.tmp, fsync, rename, fsync the directory);
 *   log-<first>   the Raft log, in segments: files of checksummed
 *                 records written in order, each named by the index of its
 *                 first record (20 decimal digits). Together the segments
 *                 hold consecutive indexes; a new one is started once the
 *                 last one reaches the segment size. The last one is
 *                 filled with zeros after its records (see "The zero
 *                 fill");
 *   snap-<index>  the latest snapshot: the state machine after applying
 *                 every entry up to <index> (20 decimal digits). Written as
 *                 snap.tmp, fsynced, renamed, directory fsynced; older ones
 *                 are deleted once a newer one is durable.
 * Transient names: snap.tmp (a snapshot being written), snap.recv-<n> (one
 * being received from the leader), snap-<index>.install (an installation
 * that discards the log, see st_snapshot_install), *.tmp.
 *
 * Log record, little-endian:
 *   0   u32 body length: 17 + payload bytes (everything after the crc)
 *   4   u32 crc32 of the body
 *   8   u64 index
 *   16  u64 term
 *   24  u8  type (RAFT_ENTRY_COMMAND, RAFT_ENTRY_NOOP or RAFT_ENTRY_CONFIG)
 *   25  payload (a configuration entry's: the encoded configuration)
 *
 * Snapshot file, little-endian:
 *   0   u32 magic "CTSN"
 *   4   u32 version (2; version 1, before membership changes, held the
 *           voter ids where the configuration is now, and is refused)
 *   8   u64 index: the last entry it covers
 *   16  u64 term of that entry
 *   24  u32 configuration length C (1..ST_CONF_MAX)
 *   28  u32 zero
 *   32  u64 body length B
 *   40  C bytes: the configuration in force at the index, as the raft
 *           library encodes it (raft_snapshot_meta.conf; opaque here)
 *   ..  B bytes of body: the state machine, opaque here (see server.c)
 *   ..  u32 crc32 of every byte before it
 *
 * The zero fill. The last segment's file goes on past its records with
 * zeros, up to the segment size: written zeros (neither a hole nor an
 * fallocate'd range), so that its blocks are allocated and initialised.
 * The write whose records pass the end of the fill writes the zeros after
 * them (at most 1 MiB past the old end, and not past the segment size) and
 * the batch's fdatasync makes them durable with the records; for a new
 * segment that is its first write. Every later write inside the fill
 * overwrites blocks inside the file size, and its fdatasync needs no
 * journal commit, which
 * a size change would: the three nodes' fdatasyncs then run side by side
 * instead of queueing behind one journal (ext4). A record's length is
 * never 0: where the next record would start, zeros to the end of the file
 * end the records. Before the next segment is created, the last one is
 * trimmed (ftruncate) to its records and fdatasynced, so every segment but
 * the last holds exactly its records, and is checked exactly as before
 * the fill existed. A data directory written before it (no segment
 * filled) loads as it is; its last segment is filled by the next write.
 *
 * The prepared segment. A new segment's first fill (write up to 1 MiB of
 * zeros, then an fdatasync that flushes them and the size change) used to
 * delay the batch that started it by several fdatasyncs. The writer
 * prepares the next segment ahead instead, when it has nothing else to do
 * (st_log_prepare): a file named log.prep, filled with zeros in steps of
 * PREP_STEP, each step fdatasynced, up to the first fill's size. The roll
 * then trims and fdatasyncs the old segment as before, gives the prepared
 * file its name (link, which fails rather than replace an existing file,
 * then unlink log.prep) and fsyncs the directory, and records go into its
 * already durable zeros. log.prep is never part of the log: its name is no
 * segment's, st_open deletes it, and it becomes a segment only by the link,
 * after its zeros are durable. A crash between the link and the unlink
 * leaves both names: log.prep is deleted at startup. A crash after the
 * link leaves a last segment of zeros only, which loads as an empty last
 * segment (removed), exactly as a crash just after a roll always could.
 *
 * Crash safety. Only the last segment can end in a torn write or hold the
 * fill: a segment is trimmed and fdatasynced before the next one is
 * created, and a new segment's name is made durable (directory fsync)
 * before any record goes into it. So a bad or short record anywhere but at
 * the end of the last segment, a segment that does not start right after
 * the previous one, or a log that does not reach back to its snapshot is
 * lost durable data, and startup refuses with the file and byte offset.
 * In the last segment, the first record that does not check out is the
 * end of the records if only zeros follow (the fill); else a torn write if
 * no valid record follows it at any byte offset (cut, see below); else
 * damage: refused, naming both offsets. Segments are deleted (front first)
 * only when entirely covered by a durable snapshot.
 *
 * A crash during a write leaves, where the records' end was, the new
 * bytes over the zeros in any mix, and nothing else. A killed process
 * leaves a prefix of its write (the page cache keeps what the write
 * call copied; the kernel writes it back): a torn record before zeros,
 * cut. A power cut during the fdatasync of a write spanning several
 * blocks can also keep a later block without an earlier one: zeros, then
 * bytes; cut as torn unless a whole valid record is among them, which is
 * refused as damage (the node is replaced, see README). That refusal is
 * the price of writing in place: an append became visible with its new
 * size only, so a power cut kept all of it or none (ext4 data=ordered).
 * It refuses rather than guess; no entry is lost either way, since none of
 * that write was acknowledged.
 *
 * Cutting and truncating never zero a header. Were a truncation at index
 * i done by zeroing record i's header, a new record i of the same length,
 * then a restart before a new record i + 1 was durable, would find old
 * record i + 1 right after it: a valid record, the next index, a term
 * that may fit, read back as part of the log. Instead the file is cut
 * with ftruncate at record i's offset and fdatasynced before anything else
 * is written: the old records are then durably out of the file, which
 * ends at the cut. New records and fresh zeros go after it into blocks the
 * file system allocates anew, and a crash can leave there only those
 * records, whole or torn, and zeros. (This relies, as appending always
 * did, on the file system never showing a freed block's old content in a
 * file's new blocks after a crash: true of ext4's default data=ordered,
 * XFS and btrfs.) The loader cuts a torn tail the same way: ftruncate at
 * the bad record and fdatasync; the next write fills the segment again.
 *
 * Every function returning int returns 0 on success and -1 on failure,
 * with a message naming the file in s->err. Only libc and POSIX.
 */
#ifndef COUNTER_STORAGE_H
#define COUNTER_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"

#define ST_ERR_MAX 512
#define ST_REC_HDR 8u   /* length + crc */
#define ST_REC_FIXED 17u /* index + term + type */
#define ST_MAX_VOTERS 64u /* bootstrap voters in the config file */
#define ST_CONF_MAX 4096u /* bytes of an encoded configuration (the library's
                           * is 8 + 9 per member, at most 255 members) */
#define ST_SNAP_HDR 40u  /* snapshot header before the configuration */
#define ST_NAME_MAX 64u  /* a file name inside the directory */
#define ST_SEGMENT_BYTES_DEFAULT (1u << 20)

/* One log segment. */
struct st_seg {
    raft_index first; /* index of its first record (its name) */
    raft_index last;  /* index of its last record; first - 1 if empty */
    uint64_t size;    /* bytes of records it holds */
};

struct storage {
    char *dir;
    int dir_fd;
    int lock_fd;
    int log_fd;           /* the last segment, -1 if there is none */
    uint64_t fill;        /* the last segment's file size: its records,
                           * then zeros up to here (see above) */
    size_t max_payload;   /* largest payload a record may hold */
    uint64_t segment_bytes; /* a segment this large is not appended to */
    struct st_seg *segs;  /* in index order */
    size_t n_segs, segs_cap;
    /* The log on disk holds base .. last (empty: last == base - 1). */
    raft_index base, last;
    /* offs[i - base] is the byte offset of index i in its segment: a
     * truncation is one lookup. */
    uint64_t *offs;
    size_t offs_cap;
    bool dirty;       /* records written since the last fdatasync */
    /* The prepared segment (log.prep, see above): open, -1 if none; bytes
     * of zeros written and fdatasynced; prep_off after a failure, until
     * the next roll. */
    int prep_fd;
    uint64_t prep_size;
    bool prep_off;
    bool prep_stuck; /* log.prep could not be unlinked after the roll */
    uint8_t *scratch; /* records of one append, built for a single write */
    size_t scratch_cap;
    /* Set after an fsync failed: what is durable is then unknown (Linux may
     * drop the dirty pages and report success at the next fsync), so every
     * later write fails until a restart re-reads the files. */
    bool broken;
    char err[ST_ERR_MAX];
};

/* The log as read at startup: entries base .. base + n - 1. Payloads point
 * into the segments' contents, held in bufs. */
struct st_loaded {
    struct raft_entry *entries;
    size_t n;
    raft_index base;
    uint8_t **bufs;
    size_t n_bufs;
    bool torn;            /* a torn tail was cut ... */
    char torn_file[ST_NAME_MAX]; /* ... in this segment */
    uint64_t torn_offset; /* ... at this offset */
    uint64_t torn_bytes;  /* how many bytes were cut, up to the last
                           * non-zero one (the fill after it was no part
                           * of the write) */
};

/* A snapshot file read and checked (st_snapshot_parse). */
struct st_snapshot {
    raft_index index;
    raft_term term;
    const uint8_t *conf; /* the encoded configuration: points into the
                          * parsed bytes */
    size_t conf_len;
    const uint8_t *body; /* points into the parsed bytes */
    size_t body_len;
};

/* Open (creating it and its parents if needed) and lock the data
 * directory, and finish or clean up what a crash interrupted (an
 * installation that discards the log, temporary files, a log file of the
 * single-file layout, renamed to its first segment). *fresh is set when it
 * holds no config yet, i.e. the node must bootstrap; a directory with a
 * log, a snapshot or state but no config is refused, and so is one locked
 * by another process. segment_bytes 0 selects the default. */
int st_open(struct storage *s, const char *dir, size_t max_payload,
            uint64_t segment_bytes, bool *fresh);
void st_close(struct storage *s);

/* The node's id and its bootstrap voters (n 0: the node joined a running
 * cluster). Written once, at the first start. */
int st_config_write(struct storage *s, raft_id id, const raft_id *voters,
                    size_t n);
/* Reads at most `cap` bootstrap voters into voters[], their number into
 * *n (0 for a node that joined). A config of version 1 ("voters ...",
 * before membership changes) reads as the bootstrap list. */
int st_config_read(struct storage *s, raft_id *id, raft_id *voters,
                   size_t cap, size_t *n);

int st_state_write(struct storage *s, raft_term term, raft_id vote);
/* A missing state file reads as term 0, no vote (nothing persisted yet). */
int st_state_read(struct storage *s, raft_term *term, raft_id *vote);

/* Read and check every segment, cutting a torn tail of the last one
 * (zeros after its records are its fill, not a torn tail). Fails on what
 * a crash cannot explain: a bad or short record in a segment that
 * is not the last, or followed by a valid record; a segment that does not
 * start right after the previous one; indexes not consecutive, decreasing
 * terms, an unknown type. The error names the file and the byte offset.
 * An empty last segment is removed; a log left empty continues after
 * snap_index (0: no snapshot). The caller checks that the log continues
 * its snapshot (or starts at 1 without one). */
int st_log_load(struct storage *s, raft_index snap_index,
                struct st_loaded *out);
void st_loaded_free(struct st_loaded *l);
/* The name of segment k (0 <= k < s->n_segs) into name[ST_NAME_MAX]. */
void st_seg_name(const struct storage *s, size_t k, char *name);

/* Durably replace the entries from index `first` on with e[0..n):
 * truncate (with an fsync) if first is not past the end, then one write
 * and one fdatasync for all n records. */
int st_log_append(struct storage *s, raft_index first,
                  const struct raft_entry *e, size_t n);

/* The same in two steps, so that several appends share one fdatasync:
 * st_log_write truncates (with an fsync) if first is not past the end and
 * writes the records, starting a new segment first if the last one is
 * full; st_log_sync makes every write so far durable. Until then a crash
 * may keep any prefix of them (the loader cuts a torn tail). */
int st_log_write(struct storage *s, raft_index first,
                 const struct raft_entry *e, size_t n);
int st_log_sync(struct storage *s);

/* One step of preparing the next segment (see "The prepared segment"): at
 * most one write of zeros and one fdatasync, on the writer's thread when
 * it is idle. Returns true while more steps remain. A failure only drops
 * the prepared file (the next roll then creates and fills the segment as
 * before): it is no part of the log. */
bool st_log_prepare(struct storage *s);

/* Whether st_log_prepare() has a step to do: false once the next segment
 * is prepared, or after a failure until the next roll. */
bool st_log_prepare_wanted(const struct storage *s);

/* Delete the segments whose entries are all at or below `upto` (never the
 * last one), front first, then fsync the directory. Call it only once a
 * durable snapshot covers `upto`. */
int st_log_drop(struct storage *s, raft_index upto);

/* Encode entry e at `index` as a log record into p (ST_REC_HDR +
 * ST_REC_FIXED + e->len bytes); returns its length. */
size_t st_rec_encode(uint8_t *p, raft_index index, const struct raft_entry *e);

/* ---- snapshots ----------------------------------------------------------- */

/* Bytes of a snapshot file with a configuration of conf_len bytes and a
 * body of body_len bytes. */
size_t st_snapshot_size(size_t conf_len, size_t body_len);
/* Fill out[0..st_snapshot_size()) with the header, the configuration
 * conf[0..conf_len) and the crc around a body the caller wrote at out +
 * st_snapshot_body_offset(conf_len). */
size_t st_snapshot_body_offset(size_t conf_len);
void st_snapshot_seal(uint8_t *out, raft_index index, raft_term term,
                      const void *conf, size_t conf_len, size_t body_len);
/* Check p[0..len) (borrowed, and pointed into by out->body): magic,
 * version, lengths, crc. 0, or -1 with why[0..whylen) set. Pure: any
 * thread. */
int st_snapshot_parse(const uint8_t *p, size_t len, struct st_snapshot *out,
                      char *why, size_t whylen);

/* Load the latest valid snapshot: *found false if there is none. Its file
 * content goes to *data (the caller frees it) and out points into it.
 * Snapshot files that fail the checks are skipped, each noted in
 * notes[0..notes_len) (the caller logs them). */
int st_snapshot_load(struct storage *s, struct st_snapshot *out,
                     uint8_t **data, bool *found, char *notes,
                     size_t notes_len);

/* Make file[0..len) (a whole snapshot file, covering `index`) the current
 * snapshot: written to snap.tmp, fdatasynced, renamed to snap-<index>, the
 * directory fsynced; then older snapshot files are deleted. */
int st_snapshot_write(struct storage *s, raft_index index, const uint8_t *file,
                      size_t len);

/* Install a snapshot received from the leader, already complete in the
 * open file `fd` named `name` (the descriptor is closed here, success or
 * not). The log written so far is made durable first, then the file, so
 * that the snapshot never becomes current ahead of the log it continues.
 * keep: the log holds the snapshot's last entry; segments entirely at or
 * below `index` are deleted, the rest stay. !keep: the whole log goes and
 * continues empty after `index`. That is two directory changes (the
 * snapshot appears, the segments go), made crash-safe by a redo step: the
 * file is first renamed to snap-<index>.install, which st_open finishes
 * (deletes the segments, renames it to snap-<index>) if a crash
 * interrupted the rest. Of several such files (never left by the storage
 * itself, which finishes one before another can start) st_open finishes
 * the newest and deletes the others. */
int st_snapshot_install(struct storage *s, raft_index index, bool keep, int fd,
                        const char *name);

/* ---- snapshot I/O of the loop thread ------------------------------------ */

/*
 * The loop thread reads the current snapshot (to stream it to followers)
 * and writes one being received, while the writer thread owns struct
 * storage: these use their own descriptors only. Files are created with
 * names no other code uses, and handed to the writer thread (through
 * st_snapshot_install) by descriptor and name.
 */
struct st_snapio {
    int dir_fd;
    char *dir;
    /* The current snapshot, open for reading. */
    int cur_fd;
    raft_index cur_index;
    uint64_t cur_size;
    /* The one being received. */
    int recv_fd;
    uint64_t recv_seq;  /* names snap.recv-<seq>: a new one per stream */
    uint64_t recv_size; /* bytes written so far, in order */
    char recv_name[ST_NAME_MAX];
    char err[ST_ERR_MAX];
};

/* Open the directory again for the loop thread; removes stale
 * snap.recv-* files of an earlier run (call before any stream starts). */
int st_io_open(struct st_snapio *io, const char *dir);
void st_io_close(struct st_snapio *io);
/* Make snap-<index> the file st_io_read serves (it must be durable). */
int st_io_set_current(struct st_snapio *io, raft_index index);
/* Read up to max bytes of the current snapshot at `offset` into buf: *len
 * bytes, *last if they end it. -1 if `index` is not the current one. */
int st_io_read(struct st_snapio *io, raft_index index, uint64_t offset,
               uint8_t *buf, size_t max, size_t *len, bool *last);
/* Write a received chunk: offset 0 starts a new file (dropping a partial
 * one), any other offset must continue the current one. */
int st_io_recv_write(struct st_snapio *io, uint64_t offset, const void *data,
                     size_t len);
/* Read the whole received file into a fresh buffer (*buf, *len). */
int st_io_recv_read(struct st_snapio *io, uint8_t **buf, size_t *len);
/* Hand the received file over (st_snapshot_install closes it): *fd and
 * name[ST_NAME_MAX]; the next chunk at offset 0 starts a new file. */
void st_io_recv_take(struct st_snapio *io, int *fd, char *name);

#endif
