/*
 * storage.h - durable state of one counter-server node, in one directory:
 *
 *   config  the node id and the voter list, written once at bootstrap
 *           (text, replaced atomically);
 *   state   the current term and vote (28 bytes, replaced atomically:
 *           write state.tmp, fsync, rename, fsync the directory);
 *   log     the Raft log, an append-only file of checksummed records.
 *
 * Log record, little-endian:
 *   0   u32 body length: 17 + payload bytes (everything after the crc)
 *   4   u32 crc32 of the body
 *   8   u64 index
 *   16  u64 term
 *   24  u8  type (RAFT_ENTRY_COMMAND or RAFT_ENTRY_NOOP)
 *   25  payload
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

struct storage {
    char *dir;
    int dir_fd;
    int log_fd;
    size_t max_payload; /* largest payload a record may hold */
    /* offs[i] is the file offset of the record with index i + 1, and
     * offs[n] the end of the log: truncating at index i is one lookup. */
    uint64_t *offs;
    size_t n;
    size_t offs_cap;
    uint8_t *scratch; /* records of one append, built for a single write */
    size_t scratch_cap;
    /* Set after an fsync failed: what is durable is then unknown (Linux may
     * drop the dirty pages and report success at the next fsync), so every
     * later write fails until a restart re-reads the files. */
    bool broken;
    char err[ST_ERR_MAX];
};

/* The log as read at startup. Payloads point into `data`. */
struct st_loaded {
    struct raft_entry *entries;
    size_t n;
    uint8_t *data;
    bool torn;            /* a torn tail was cut */
    uint64_t torn_offset; /* where */
    uint64_t torn_bytes;  /* how many bytes were cut */
};

/* Open (creating it and its parents if needed) the data directory.
 * *fresh is set when it holds no config yet, i.e. the node must bootstrap;
 * a directory with a log or state but no config is refused. */
int st_open(struct storage *s, const char *dir, size_t max_payload,
            bool *fresh);
void st_close(struct storage *s);

int st_config_write(struct storage *s, raft_id id, const raft_id *voters,
                    size_t n);
/* Reads at most `cap` voters into voters[], their number into *n. */
int st_config_read(struct storage *s, raft_id *id, raft_id *voters,
                   size_t cap, size_t *n);

int st_state_write(struct storage *s, raft_term term, raft_id vote);
/* A missing state file reads as term 0, no vote (nothing persisted yet). */
int st_state_read(struct storage *s, raft_term *term, raft_id *vote);

/* Open and check the log, cutting a torn tail. Fails on corruption that a
 * crash cannot explain (a bad record with valid records after it, indexes
 * not consecutive from 1, decreasing terms, an unknown type): the error
 * names the file and the byte offset. */
int st_log_load(struct storage *s, struct st_loaded *out);
void st_loaded_free(struct st_loaded *l);

/* Durably replace the entries from index `first` on with e[0..n):
 * truncate (with an fsync) if first is not past the end, then one write
 * and one fdatasync for all n records. */
int st_log_append(struct storage *s, raft_index first,
                  const struct raft_entry *e, size_t n);

/* The same in two steps, so that several appends share one fdatasync:
 * st_log_write truncates (with an fsync) if first is not past the end and
 * writes the records; st_log_sync makes every write so far durable. Until
 * then a crash may keep any prefix of them (the loader cuts a torn tail). */
int st_log_write(struct storage *s, raft_index first,
                 const struct raft_entry *e, size_t n);
int st_log_sync(struct storage *s);

#endif
