/*
 * writer.c - the disk writer thread; see writer.h.
 */
#include "writer.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { JOB_STATE, JOB_ENTRIES, JOB_INSTALL, JOB_SNAPSHOT, JOB_DROP };

struct wr_job {
    int kind;
    raft_term term;          /* STATE */
    raft_id vote;            /* STATE */
    raft_index first;        /* ENTRIES; INSTALL, SNAPSHOT: the index;
                                DROP: up to where */
    size_t n;                /* ENTRIES; SNAPSHOT: bytes */
    struct raft_entry *ents; /* ENTRIES: n entries; payloads in the same
                                block */
    uint8_t *file;           /* SNAPSHOT */
    bool keep;               /* INSTALL */
    int fd;                  /* INSTALL */
    char name[ST_NAME_MAX];  /* INSTALL */
};

/* Raft writes are what raft_persisted() counts. */
static bool job_is_write(const struct wr_job *j)
{
    return j->kind == JOB_STATE || j->kind == JOB_ENTRIES ||
           j->kind == JOB_INSTALL;
}

static void job_free(struct wr_job *j)
{
    free(j->ents);
    free(j->file);
    j->ents = NULL;
    j->file = NULL;
    if (j->kind == JOB_INSTALL && j->fd >= 0) {
        close(j->fd); /* never run: the received file stays a temp file */
        j->fd = -1;
    }
}

static int queue_push(struct writer *w, struct wr_job *j)
{
    pthread_mutex_lock(&w->mu);
    if (w->q_len == w->q_cap) {
        size_t cap = w->q_cap ? 2 * w->q_cap : 64;
        struct wr_job *q = realloc(w->q, cap * sizeof(*q));
        if (q == NULL) {
            pthread_mutex_unlock(&w->mu);
            return -1;
        }
        w->q = q;
        w->q_cap = cap;
    }
    w->q[w->q_len++] = *j;
    pthread_mutex_unlock(&w->mu);
    w->kick = true; /* the thread is woken by wr_kick() */
    return 0;
}

void wr_kick(struct writer *w)
{
    if (w->kick) {
        w->kick = false;
        /* q_len changed under mu before, so the thread either waits and
         * gets this signal or has yet to look at q_len: signalling
         * without holding mu loses nothing, and the thread does not wake
         * into a mutex still held here. */
        pthread_cond_signal(&w->cv);
    }
}

int wr_state(struct writer *w, raft_term term, raft_id vote)
{
    struct wr_job j;
    memset(&j, 0, sizeof(j));
    j.kind = JOB_STATE;
    j.term = term;
    j.vote = vote;
    return queue_push(w, &j);
}

int wr_entries(struct writer *w, raft_index first, const struct raft_entry *e,
               size_t n)
{
    struct wr_job j;
    size_t bytes = n * sizeof(*e), i;
    uint8_t *p;
    for (i = 0; i < n; i++) {
        bytes += e[i].len;
    }
    memset(&j, 0, sizeof(j));
    j.kind = JOB_ENTRIES;
    j.first = first;
    j.n = n;
    j.ents = malloc(bytes);
    if (j.ents == NULL) {
        return -1;
    }
    p = (uint8_t *)(j.ents + n);
    for (i = 0; i < n; i++) {
        j.ents[i] = e[i];
        j.ents[i].buf = NULL;
        if (e[i].len > 0) {
            memcpy(p, e[i].buf, e[i].len);
            j.ents[i].buf = p;
            p += e[i].len;
        }
    }
    if (queue_push(w, &j) != 0) {
        job_free(&j);
        return -1;
    }
    return 0;
}

int wr_install(struct writer *w, raft_index index, bool keep, int fd,
               const char *name)
{
    struct wr_job j;
    memset(&j, 0, sizeof(j));
    j.kind = JOB_INSTALL;
    j.first = index;
    j.keep = keep;
    j.fd = fd;
    snprintf(j.name, sizeof(j.name), "%s", name);
    return queue_push(w, &j);
}

int wr_snapshot(struct writer *w, raft_index index, uint8_t *file, size_t len)
{
    struct wr_job j;
    memset(&j, 0, sizeof(j));
    j.kind = JOB_SNAPSHOT;
    j.first = index;
    j.file = file;
    j.n = len;
    return queue_push(w, &j);
}

int wr_drop(struct writer *w, raft_index upto)
{
    struct wr_job j;
    memset(&j, 0, sizeof(j));
    j.kind = JOB_DROP;
    j.first = upto;
    return queue_push(w, &j);
}

/* What one batch did, for the loop and the statistics. */
struct batch_result {
    uint64_t writes, syncs;
    raft_index snap_taken, snap_latest;
};

/* Carry out one job. Log records are written here and made durable by the
 * batch's one fdatasync, except where a job needs them durable first
 * (an installation; a new segment). */
static int run_job(struct writer *w, struct wr_job *j, struct batch_result *r)
{
    int rc = 0;
    switch (j->kind) {
    case JOB_STATE:
        /* Raft's writes are a write-ahead log: log records written earlier
         * in this batch become durable first, not after the term/vote
         * file (made durable by its own fsyncs) at the batch's end. A
         * term/vote write follows entries in a batch only around an
         * election, so the extra fdatasync is rare. */
        if (w->st->dirty) {
            r->syncs++;
            rc = st_log_sync(w->st);
        }
        if (rc == 0) {
            rc = st_state_write(w->st, j->term, j->vote);
        }
        break;
    case JOB_ENTRIES:
        rc = st_log_write(w->st, j->first, j->ents, j->n);
        break;
    case JOB_INSTALL:
        rc = st_snapshot_install(w->st, j->first, j->keep, j->fd, j->name);
        j->fd = -1; /* closed by the call */
        if (rc == 0) {
            r->snap_latest = j->first;
        }
        break;
    case JOB_SNAPSHOT:
        rc = st_snapshot_write(w->st, j->first, j->file, j->n);
        if (rc == 0) {
            r->snap_taken = j->first;
            r->snap_latest = j->first;
        }
        break;
    case JOB_DROP:
        rc = st_log_drop(w->st, j->first);
        break;
    default:
        rc = -1;
        break;
    }
    r->writes += job_is_write(j);
    return rc;
}

/* Carry out one batch: every job in order, then one fdatasync for the
 * log records written. Term/vote writes and snapshot files are made
 * durable on their own (the storage replaces those files atomically, with
 * their own fsyncs), a term/vote write only after the records before it. */
static int run_batch(struct writer *w, struct wr_job *b, size_t k,
                     struct batch_result *r)
{
    size_t i;
    for (i = 0; i < k; i++) {
        if (run_job(w, &b[i], r) != 0) {
            return -1;
        }
    }
    if (w->st->dirty) {
        r->syncs++;
    }
    return st_log_sync(w->st);
}

/* Take every queued job into *buf (grown to fit; *cap its room), under
 * mu; returns how many, 0 when out of memory for them (nothing taken). */
static size_t take_jobs(struct writer *w, struct wr_job **buf, size_t *cap)
{
    size_t k = w->q_len;
    if (k > *cap) {
        struct wr_job *b = realloc(*buf, k * sizeof(*b));
        if (b == NULL) {
            k = *cap; /* work with what fits, if anything */
        } else {
            *buf = b;
            *cap = k;
        }
    }
    memcpy(*buf, w->q, k * sizeof(*w->q));
    memmove(w->q, w->q + k, (w->q_len - k) * sizeof(*w->q));
    w->q_len -= k;
    return k;
}

/* Carry out the k jobs taken into b, free them, and record the outcome
 * (under mu, taken here). Returns 0 or -1. */
static int run_taken(struct writer *w, struct wr_job *b, size_t k)
{
    struct batch_result res;
    size_t i;
    int rc;
    memset(&res, 0, sizeof(res));
    if (k == 0) {
        rc = -1; /* out of memory for the batch */
        snprintf(w->st->err, sizeof(w->st->err), "writer: out of memory");
    } else {
        if (w->delay_ms > 0) {
            struct timespec ts = {(time_t)(w->delay_ms / 1000),
                                  (long)(w->delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        rc = run_batch(w, b, k, &res);
    }
    for (i = 0; i < k; i++) {
        job_free(&b[i]);
    }
    pthread_mutex_lock(&w->mu);
    if (rc != 0) {
        w->failed = true;
        snprintf(w->err, sizeof(w->err), "%s", w->st->err);
    } else {
        w->done += res.writes;
        w->batches++;
        w->writes += res.writes;
        w->syncs += res.syncs;
        if (res.snap_taken > w->snap_taken) {
            w->snap_taken = res.snap_taken;
        }
        if (res.snap_latest > w->snap_latest) {
            w->snap_latest = res.snap_latest;
        }
    }
    /* A roll may have used the prepared segment: the thread prepares the
     * next one when idle, woken for it in case this batch ran on the loop
     * thread (a follower's usually do) while the thread slept. Only until
     * the next segment is prepared, a few batches per segment. */
    if (rc == 0 && st_log_prepare_wanted(w->st)) {
        pthread_cond_signal(&w->cv);
    }
    w->busy = false;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    for (;;) {
        size_t k;
        int rc;
        pthread_mutex_lock(&w->mu);
        while (w->q_len == 0 && !w->stop) {
            /* Not busy: nobody else touches the storage, which this
             * thread may read under mu. */
            if (!w->failed && !w->busy && st_log_prepare_wanted(w->st)) {
                /* Idle: one step of preparing the next log segment (see
                 * storage.h). busy keeps the loop thread's wr_run_here()
                 * off the storage meanwhile; what it queues waits for this
                 * step only. */
                w->busy = true;
                pthread_mutex_unlock(&w->mu);
                (void)st_log_prepare(w->st);
                pthread_mutex_lock(&w->mu);
                w->busy = false;
                continue;
            }
            pthread_cond_wait(&w->cv, &w->mu);
        }
        if (w->q_len == 0 || w->failed) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        /* Take everything queued: the batch. */
        k = take_jobs(w, &w->batch, &w->batch_cap);
        w->busy = true;
        pthread_mutex_unlock(&w->mu);
        rc = run_taken(w, w->batch, k);
        /* Wake the loop. A full pipe (EAGAIN) already wakes it, so the
         * result does not matter. */
        ssize_t woke = write(w->pipe_wr, "x", 1);
        (void)woke;
        if (rc != 0) {
            break; /* what is on disk is unknown: write nothing more */
        }
    }
    return NULL;
}

int wr_run_here(struct writer *w)
{
    size_t i, k;
    bool here;
    pthread_mutex_lock(&w->mu);
    /* Idle means every earlier job is done, so these come next in order;
     * and nothing else is queued while this thread writes. */
    here = !w->busy && !w->failed && w->q_len > 0;
    for (i = 0; here && i < w->q_len; i++) {
        here = w->q[i].kind == JOB_STATE || w->q[i].kind == JOB_ENTRIES;
    }
    /* All of them or none: a job left queued could be taken by the thread
     * (woken spuriously) while this one writes. */
    if (here && w->q_len > w->here_cap) {
        struct wr_job *b = realloc(w->here, w->q_len * sizeof(*b));
        if (b == NULL) {
            here = false; /* out of memory: the thread does them */
        } else {
            w->here = b;
            w->here_cap = w->q_len;
        }
    }
    if (!here) {
        pthread_mutex_unlock(&w->mu);
        return 0;
    }
    k = take_jobs(w, &w->here, &w->here_cap); /* all of them: they fit */
    w->busy = true;
    w->kick = false; /* nothing is left queued to wake the thread for */
    pthread_mutex_unlock(&w->mu);
    return run_taken(w, w->here, k) == 0 ? 1 : -1;
}

int wr_start(struct writer *w, struct storage *st, unsigned delay_ms)
{
    int fds[2];
    memset(w, 0, sizeof(*w));
    w->st = st;
    w->delay_ms = delay_ms;
    w->pipe_rd = w->pipe_wr = -1;
    if (pipe(fds) != 0) {
        return -1;
    }
    w->pipe_rd = fds[0];
    w->pipe_wr = fds[1];
    if (fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0 ||
        pthread_mutex_init(&w->mu, NULL) != 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    w->started = true;
    return 0;
}

void wr_stop(struct writer *w)
{
    size_t i;
    if (!w->started) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    for (i = 0; i < w->q_len; i++) {
        job_free(&w->q[i]);
    }
    free(w->q);
    free(w->batch);
    free(w->here);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    close(w->pipe_rd);
    close(w->pipe_wr);
    w->started = false;
}

int wr_fd(const struct writer *w)
{
    return w->pipe_rd;
}

int wr_collect(struct writer *w, bool woken, size_t *n,
               raft_index *snap_taken, raft_index *snap_latest, char *err,
               size_t errlen)
{
    char buf[256];
    int rc = 0;
    /* One byte per batch: a short read emptied the pipe. */
    while (woken && read(w->pipe_rd, buf, sizeof(buf)) == (ssize_t)sizeof(buf)) {
    }
    pthread_mutex_lock(&w->mu);
    *n = (size_t)w->done;
    w->done = 0;
    *snap_taken = w->snap_taken;
    *snap_latest = w->snap_latest;
    if (w->failed) {
        snprintf(err, errlen, "%s", w->err);
        rc = -1;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}
