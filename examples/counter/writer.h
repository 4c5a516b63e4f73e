/*
 * writer.h - the counter-server's disk writer: a thread that carries out
 * the raft node's writes (asynchronous persistence) in the order they were
 * started, in batches: every write queued since the last batch goes to the
 * files, then one fdatasync covers them all (group commit), then the loop
 * thread is told how many writes became durable.
 *
 * The loop thread (the only one that calls the raft library) queues writes
 * from the persist callbacks with wr_state() and wr_entries(), polls
 * wr_fd() and calls wr_collect() when it is readable, and reports what
 * wr_collect() returns to raft_persisted(). The writer thread owns the
 * storage while it runs: the loop thread must not touch it.
 *
 * Needs POSIX threads.
 */
#ifndef COUNTER_WRITER_H
#define COUNTER_WRITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"
#include "storage.h"

struct wr_job; /* one queued write */

struct writer {
    struct storage *st;
    unsigned delay_ms; /* test knob: sleep this long before each batch */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Under mu: */
    struct wr_job *q; /* queued jobs, oldest first */
    size_t q_len, q_cap;
    uint64_t done;    /* writes durable, not yet collected */
    bool failed;      /* a write or fdatasync failed */
    bool stop;
    char err[ST_ERR_MAX];
    /* Writer thread only: */
    struct wr_job *batch;
    size_t batch_cap;
    /* Wakes the loop thread: one byte per finished batch. */
    int pipe_rd, pipe_wr;
    /* Statistics (under mu). */
    uint64_t batches, writes, syncs;
};

/* Start the thread for storage st (already open and loaded). Returns 0 or
 * -1 with errno. */
int wr_start(struct writer *w, struct storage *st, unsigned delay_ms);
/* Stop the thread after the queued writes are done, and free everything. */
void wr_stop(struct writer *w);

/* Queue a term/vote write or an entries write (entries and payloads are
 * copied). Returns 0, or -1 when out of memory (nothing queued). */
int wr_state(struct writer *w, raft_term term, raft_id vote);
int wr_entries(struct writer *w, raft_index first, const struct raft_entry *e,
               size_t n);

/* The descriptor to poll for POLLIN: readable once a batch finished. */
int wr_fd(const struct writer *w);

/* Take the number of writes that became durable since the last call into
 * *n (out). Returns 0, or -1 if a write failed (err then says why; *n
 * writes before it may be durable or not, report them as failed). */
int wr_collect(struct writer *w, size_t *n, char *err, size_t errlen);

#endif
