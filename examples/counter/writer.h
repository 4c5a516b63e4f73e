/*
 * writer.h - the counter-server's disk writer: a thread that carries out
 * the raft node's writes (asynchronous persistence) in the order they were
 * started, in batches: every write queued since the last batch goes to the
 * files, then one fdatasync covers them all (group commit), then the loop
 * thread is told how many writes became durable.
 *
 * The loop thread (the only one that calls the raft library) queues writes
 * from the persist callbacks with wr_state() and wr_entries(), and the
 * installation of a received snapshot from the snapshot_install callback
 * with wr_install() (a raft write too, completed in order with the
 * others). It wakes the thread with wr_kick() once per loop iteration,
 * polls wr_fd(), calls wr_collect() when it is readable or after
 * wr_run_here() ran a batch, and reports what wr_collect() returns to
 * raft_persisted().
 *
 * The same queue carries two jobs that are not raft writes and so are not
 * counted in what wr_collect() reports: wr_snapshot() (write a snapshot
 * file of the node's own state machine; wr_collect() then reports its
 * index, and only then may the loop call raft_compact()) and wr_drop()
 * (delete log segments a durable snapshot covers). Being in the queue,
 * they are ordered with the raft writes: a snapshot queued before an
 * installation is written before it, so the newest snapshot file always
 * wins. The writer thread owns the storage while it runs a batch: the loop
 * thread must not touch it then.
 *
 * When it has nothing queued, the thread prepares the next log segment
 * in steps (st_log_prepare, see storage.h), each under `busy` like a
 * batch: a job queued meanwhile waits for one step at most.
 *
 * A node that does not lead may instead run a batch on the loop thread
 * (wr_run_here): its acknowledgements wait for the write anyway, and the
 * two hand-offs between threads cost about as much as the write itself
 * on a fast disk. A leader never does: it keeps taking requests and
 * acknowledgements while its own write is in flight.
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
    uint64_t done;    /* raft writes durable, not yet collected */
    bool busy;        /* a batch is running (on either thread) */
    raft_index snap_taken; /* wr_snapshot: the latest one durable */
    raft_index snap_latest; /* latest snapshot file durable, own or
                               installed */
    bool failed;      /* a write or fdatasync failed */
    bool stop;
    char err[ST_ERR_MAX];
    /* Loop thread only: jobs queued since the last wr_kick(), and the
     * batch of wr_run_here(). */
    bool kick;
    struct wr_job *here;
    size_t here_cap;
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
/* Queue the installation of the received snapshot in file `fd` named
 * `name` (both transferred: see st_snapshot_install). A raft write. */
int wr_install(struct writer *w, raft_index index, bool keep, int fd,
               const char *name);
/* Queue the snapshot file file[0..len) covering `index` (the buffer is
 * transferred: freed by the writer). Not a raft write. */
int wr_snapshot(struct writer *w, raft_index index, uint8_t *file, size_t len);
/* Queue st_log_drop(upto). Not a raft write. */
int wr_drop(struct writer *w, raft_index upto);

/* Wake the thread for the jobs queued since the last call, if any. The
 * wr_* calls above only queue: the loop calls this once per iteration,
 * after its messages went out and before it polls, so a leader's
 * AppendEntries leave before its own write starts, and one wake-up
 * covers every job of the iteration. */
void wr_kick(struct writer *w);

/* Run the queued jobs on the calling (loop) thread instead, if the
 * thread is idle (so every earlier job is done and these come next in
 * order) and they are all term/vote and entries writes. Returns 1 when
 * they ran (wr_collect() then reports them, with any batch of the thread
 * not yet collected; the pipe is not written), 0 when the thread is left
 * to do them (call wr_kick()), -1 when they failed (wr_collect() then
 * says why). It blocks for the write and its fdatasync: for a node that
 * does not lead, whose acknowledgements wait for them anyway, this saves
 * waking the thread and being woken by it (see README.md, "How it
 * works"). */
int wr_run_here(struct writer *w);

/* The descriptor to poll for POLLIN: readable once a batch finished. */
int wr_fd(const struct writer *w);

/* Take the number of raft writes that became durable since the last call
 * (woken: wr_fd() polled readable, its bytes are read here)
 * into *n (out), the index of the latest wr_snapshot() made durable into
 * *snap_taken and of the latest snapshot file durable (taken or
 * installed) into *snap_latest (both 0 if none yet). Returns 0, or -1 if
 * a job failed (err then says why; *n writes before it may be durable or
 * not, report them as failed). */
int wr_collect(struct writer *w, bool woken, size_t *n,
               raft_index *snap_taken, raft_index *snap_latest, char *err,
               size_t errlen);

#endif
