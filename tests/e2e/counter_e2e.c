/*
 * counter_e2e.c - end-to-end test of the replicated counter example.
 *
 *   counter-e2e --bin DIR [--seconds 30] [--seed S] [--clients 8] [--keep]
 *
 * Runs three DIR/counter-server processes on loopback (data, logs and the
 * cluster token file in a temp dir) and checks, in order:
 *
 *  1. checker self-test: the linearizability checker below judges a set of
 *     hand-made and randomly generated histories correctly;
 *  2. bad input: garbage, truncated and stalled hellos, frames and
 *     requests on the peer and client sides do not stop a server from
 *     serving; nor does a flood of more stalled connections than the
 *     server has slots for (clients still get answers, a restarted peer
 *     gets back in);
 *  3. impostors: peers and clients without the right token, or from
 *     another cluster, are refused, logged and closed on every node before
 *     a single message or request of theirs is taken, while an honest
 *     client's answers stay exact (see "impostors" below);
 *  4. nemesis run: concurrent clients (own client_id, sequential seqs,
 *     random increments 1..10, some GETs, retries with the same seq) while
 *     a nemesis SIGKILLs a node (often the leader, sometimes two nodes)
 *     every few seconds and restarts it, or pauses one with SIGSTOP and
 *     resumes it (a deposed leader waking up). The servers snapshot every
 *     few hundred entries, so nodes compact their logs, delete segments,
 *     restart from snapshots and, restarted after the others compacted
 *     past them, install the leader's snapshot. Then it heals the cluster,
 *     waits until all nodes agree, and checks: acknowledged increments
 *     applied exactly once (bounds on the final value); all nodes agree;
 *     what the nodes applied (--record-applied) covers every committed
 *     index, the same entry wherever applied, and replays (exactly-once
 *     per (client_id, seq)) to the value; each node's snapshot and log
 *     segments agree with it and replay to the value too; the history is
 *     linearizable (with and without the committed order as witness); the
 *     value survives a restart of the whole cluster. It reports how many
 *     snapshots were taken and installed, from the servers' logs. GETs are
 *     ReadIndex reads (no log entry);
 *  5. the same with slow disks (writes in flight when kills land);
 *  6. with --lease-reads: a targeted stale-read probe on a leader that
 *     wakes up after its lease ran out (see lease_probe), then the same
 *     nemesis run, the leader paused every other round.
 *
 * Random choices come from --seed (printed); timing still varies between
 * runs. On failure the server logs are printed and the temp dir is kept.
 * Every server is killed and reaped on every exit path.
 */
#include "cluster.h"
#include "flags.h"
#include "raft.h"

#include <dirent.h>
#include <stdarg.h>
#include <sys/resource.h>

/* ---- options and reporting ---------------------------------------------- */

static const char *opt_bin = NULL;
static int opt_seconds = 30;
static uint64_t opt_seed = 0;
static int opt_clients = 8;
static int opt_keep = 0;
static const char *opt_only = NULL; /* --only: run just these parts */

static int n_passed, n_failed;
static int opt_snapshot_every; /* the run's --snapshot-every, for checks */
static int opt_pause_every = 4; /* the nemesis pauses every Nth round */
static int opt_lease;           /* the run's servers have --lease-reads */

#define GET_PERCENT 25 /* of the clients' operations */
#define LEASE_PROBES 3 /* see lease_probe() */

static int check(int ok, const char *fmt, ...);
static int64_t g_t0; /* history times are microseconds since this */

#define say(...)                                                               \
    do {                                                                       \
        printf("counter-e2e: " __VA_ARGS__);                                   \
        printf("\n");                                                          \
        fflush(stdout);                                                        \
    } while (0)

/* ---- linearizability checker ---------------------------------------------
 *
 * A history is a set of operations on one counter (initially 0), each with
 * its client, seq, type (INCR amount > 0, or GET), invocation time,
 * completion time (negative: never completed, outcome unknown) and returned
 * value (the counter after the operation in log order).
 *
 * lin_check() runs two checks:
 *
 *  Without a witness. Increments are positive and INCR returns the value
 *  after it, so the completed INCRs are totally ordered by their values.
 *  The checker verifies that this order is a chain (distinct values, each
 *  INCR's pre-value v - amount at least the previous INCR's value, the
 *  gaps explained by unknown increments) and respects real time (A
 *  completed before B was invoked => value(A) < value(B)); that every GET
 *  returns a value the counter can have had (not strictly inside an
 *  INCR's step), at least the value of every INCR completed before it was
 *  invoked, at most the pre-value of every INCR invoked after it
 *  completed, and at least every GET completed before it was invoked.
 *  These conditions are necessary; when no outcome is unknown they are
 *  also sufficient.
 *
 *  With a witness (the committed commands in log order, as read from a
 *  node's log file, retried duplicates included). Replaying them with
 *  exactly-once per (client, seq) gives every applied operation a position
 *  and the counter value there. The checker verifies that every log
 *  command was issued by a client with the same type and amount, that
 *  every completed INCR (and every completed GET that went through the
 *  log) is in the log and returned the value at its position, and that the
 *  log order respects real time (A completed before B was invoked => A is
 *  before B).
 *
 *  GETs served without a log entry (ReadIndex, lease) have no position:
 *  each completed one is inserted into the log order, at the earliest gap
 *  where the counter equals its value and after every logged op that
 *  completed before it was invoked; it must then also come before every
 *  logged op invoked after it completed. The earliest such gap is the best
 *  choice for every constraint at once (the ops before a gap only grow
 *  with it), so if it fails, every gap fails. Two such GETs in different
 *  gaps are ordered by their values, which the witness-free check already
 *  requires to respect real time ("non-monotonic reads"); within one gap,
 *  ordering them by completion time respects real time. Together this is a
 *  linearization, so the history is linearizable; it also yields the final
 *  value.
 */

struct lin_op {
    uint64_t client, seq;
    uint8_t type; /* CTR_OP_INCR or CTR_OP_GET */
    uint64_t amount;
    int64_t invoke, complete; /* microseconds; complete < 0: unknown */
    uint64_t value;
};

struct lin_cmd {
    uint64_t client, seq;
    uint8_t type;
    uint64_t amount;
};

struct lin_key {
    uint64_t a, b;
    size_t i;
};

static int lin_key_cmp(const void *x, const void *y)
{
    const struct lin_key *p = x, *q = y;
    if (p->a != q->a) {
        return p->a < q->a ? -1 : 1;
    }
    if (p->b != q->b) {
        return p->b < q->b ? -1 : 1;
    }
    return p->i < q->i ? -1 : p->i > q->i;
}

static int lin_fail(char *why, size_t wlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, wlen, fmt, ap);
    va_end(ap);
    return -1;
}

static uint64_t lin_done(const struct lin_op *o)
{
    return o->complete < 0 ? UINT64_MAX : (uint64_t)o->complete;
}

/* "client 1a2b seq 7 INCR 5 [1.234567 s, 1.240000 s] -> 42" */
static const char *lin_desc(const struct lin_op *o, char *buf, size_t len)
{
    char done[32];
    if (o->complete < 0) {
        snprintf(done, sizeof(done), "never completed");
    } else {
        snprintf(done, sizeof(done), "%.6f s", (double)o->complete / 1e6);
    }
    if (o->type == CTR_OP_INCR) {
        snprintf(buf, len,
                 "client %" PRIx64 " seq %" PRIu64 " INCR %" PRIu64
                 " [%.6f s, %s] -> %" PRIu64,
                 o->client, o->seq, o->amount, (double)o->invoke / 1e6, done,
                 o->value);
    } else {
        snprintf(buf, len,
                 "client %" PRIx64 " seq %" PRIu64 " GET [%.6f s, %s] -> %" PRIu64,
                 o->client, o->seq, (double)o->invoke / 1e6, done, o->value);
    }
    if (o->complete < 0) {
        char *v = strstr(buf, " -> ");
        if (v != NULL) {
            *v = '\0';
        }
    }
    return buf;
}

/* Index in keys[0..n) (sorted by a) of the last key with a < x, or -1. */
static long lin_last_below(const struct lin_key *keys, size_t n, uint64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid].a < x) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (long)lo - 1;
}

/* Index of the first key with a > x, or n. */
static size_t lin_first_above(const struct lin_key *keys, size_t n, uint64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid].a <= x) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static int lin_check_nowitness(const struct lin_op *ops, size_t n, char *why,
                               size_t wlen)
{
    struct lin_key *inc = NULL, *inc_c = NULL, *inc_i = NULL, *get_c = NULL;
    uint64_t *pmax = NULL, *smin = NULL, *gmax = NULL;
    size_t *parg = NULL, *sarg = NULL, *garg = NULL;
    size_t ni = 0, ng = 0, i, k;
    uint64_t unknown_sum = 0, gap_sum = 0, prev = 0, n_unknown = 0;
    char d1[160], d2[160];
    int rc = -1;

    inc = calloc(n + 1, sizeof(*inc));
    inc_c = calloc(n + 1, sizeof(*inc_c));
    inc_i = calloc(n + 1, sizeof(*inc_i));
    get_c = calloc(n + 1, sizeof(*get_c));
    pmax = calloc(n + 1, sizeof(*pmax));
    smin = calloc(n + 2, sizeof(*smin));
    gmax = calloc(n + 1, sizeof(*gmax));
    parg = calloc(n + 1, sizeof(*parg));
    sarg = calloc(n + 2, sizeof(*sarg));
    garg = calloc(n + 1, sizeof(*garg));
    if (!inc || !inc_c || !inc_i || !get_c || !pmax || !smin || !gmax ||
        !parg || !sarg || !garg) {
        lin_fail(why, wlen, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        const struct lin_op *o = &ops[i];
        if (o->type == CTR_OP_INCR && o->complete < 0) {
            unknown_sum += o->amount;
            n_unknown++;
        } else if (o->type == CTR_OP_INCR) {
            inc[ni].a = o->value;
            inc[ni].i = i;
            inc_c[ni].a = (uint64_t)o->complete;
            inc_c[ni].i = i;
            inc_i[ni].a = (uint64_t)o->invoke;
            inc_i[ni].i = i;
            ni++;
        } else if (o->complete >= 0) {
            get_c[ng].a = (uint64_t)o->complete;
            get_c[ng].i = i;
            ng++;
        }
    }
    qsort(inc, ni, sizeof(*inc), lin_key_cmp);
    qsort(inc_c, ni, sizeof(*inc_c), lin_key_cmp);
    qsort(inc_i, ni, sizeof(*inc_i), lin_key_cmp);
    qsort(get_c, ng, sizeof(*get_c), lin_key_cmp);

    /* The completed INCRs, by value, form a chain. */
    for (k = 0; k < ni; k++) {
        const struct lin_op *o = &ops[inc[k].i];
        uint64_t pre;
        if (o->value < o->amount) {
            lin_fail(why, wlen, "%s: value below its own increment",
                     lin_desc(o, d1, sizeof(d1)));
            goto out;
        }
        pre = o->value - o->amount;
        if (k > 0 && o->value == prev) {
            lin_fail(why, wlen, "two increments returned the same value: %s; %s",
                     lin_desc(&ops[inc[k - 1].i], d1, sizeof(d1)),
                     lin_desc(o, d2, sizeof(d2)));
            goto out;
        }
        if (pre < prev) {
            lin_fail(why, wlen,
                     "increments overlap: %s ends at %" PRIu64
                     " but %s starts from %" PRIu64,
                     k > 0 ? lin_desc(&ops[inc[k - 1].i], d1, sizeof(d1))
                           : "the initial state",
                     prev, lin_desc(o, d2, sizeof(d2)), pre);
            goto out;
        }
        gap_sum += pre - prev;
        prev = o->value;
    }
    if (gap_sum > unknown_sum) {
        lin_fail(why, wlen,
                 "the completed increments leave %" PRIu64
                 " unexplained (unknown increments total %" PRIu64
                 "): something was applied that no client sent, or twice",
                 gap_sum, unknown_sum);
        goto out;
    }
    /* Real time among completed INCRs: suffix minimum of completion. */
    smin[ni] = UINT64_MAX;
    for (k = ni; k-- > 0;) {
        uint64_t c = lin_done(&ops[inc[k].i]);
        smin[k] = smin[k + 1];
        sarg[k] = sarg[k + 1];
        if (c < smin[k]) {
            smin[k] = c;
            sarg[k] = inc[k].i;
        }
        if (smin[k + 1] < (uint64_t)ops[inc[k].i].invoke) {
            lin_fail(why, wlen,
                     "real-time order violated: %s completed before %s was "
                     "invoked but has a larger value",
                     lin_desc(&ops[sarg[k + 1]], d1, sizeof(d1)),
                     lin_desc(&ops[inc[k].i], d2, sizeof(d2)));
            goto out;
        }
    }
    /* Prefix max of INCR values by completion; suffix min of INCR
     * pre-values by invocation; prefix max of GET values by completion. */
    for (k = 0; k < ni; k++) {
        const struct lin_op *o = &ops[inc_c[k].i];
        pmax[k] = k > 0 ? pmax[k - 1] : 0;
        parg[k] = k > 0 ? parg[k - 1] : inc_c[k].i;
        if (k == 0 || o->value > pmax[k]) {
            pmax[k] = o->value;
            parg[k] = inc_c[k].i;
        }
    }
    smin[ni] = UINT64_MAX;
    for (k = ni; k-- > 0;) {
        const struct lin_op *o = &ops[inc_i[k].i];
        smin[k] = smin[k + 1];
        sarg[k] = sarg[k + 1];
        if (o->value - o->amount < smin[k]) {
            smin[k] = o->value - o->amount;
            sarg[k] = inc_i[k].i;
        }
    }
    for (k = 0; k < ng; k++) {
        const struct lin_op *o = &ops[get_c[k].i];
        gmax[k] = k > 0 ? gmax[k - 1] : 0;
        garg[k] = k > 0 ? garg[k - 1] : get_c[k].i;
        if (k == 0 || o->value > gmax[k]) {
            gmax[k] = o->value;
            garg[k] = get_c[k].i;
        }
    }
    for (k = 0; k < ng; k++) {
        const struct lin_op *g = &ops[get_c[k].i];
        size_t j;
        long l;
        /* A value the counter had: not strictly inside an INCR's step. */
        j = lin_first_above(inc, ni, g->value);
        if (j < ni && ops[inc[j].i].value - ops[inc[j].i].amount < g->value) {
            lin_fail(why, wlen,
                     "%s: the counter never had that value (%s steps over it)",
                     lin_desc(g, d1, sizeof(d1)),
                     lin_desc(&ops[inc[j].i], d2, sizeof(d2)));
            goto out;
        }
        if (g->value > prev + (unknown_sum - gap_sum)) {
            lin_fail(why, wlen, "%s: larger than any value the counter had",
                     lin_desc(g, d1, sizeof(d1)));
            goto out;
        }
        if (n_unknown == 0 && g->value != 0 &&
            (j == 0 || ops[inc[j - 1].i].value != g->value)) {
            lin_fail(why, wlen,
                     "%s: no increment produced that value (and none has an "
                     "unknown outcome)",
                     lin_desc(g, d1, sizeof(d1)));
            goto out;
        }
        /* INCRs completed before the GET was invoked. */
        l = lin_last_below(inc_c, ni, (uint64_t)g->invoke);
        if (l >= 0 && pmax[l] > g->value) {
            lin_fail(why, wlen, "stale read: %s completed before %s was invoked",
                     lin_desc(&ops[parg[l]], d1, sizeof(d1)),
                     lin_desc(g, d2, sizeof(d2)));
            goto out;
        }
        /* INCRs invoked after the GET completed. */
        j = lin_first_above(inc_i, ni, (uint64_t)g->complete);
        if (j < ni && smin[j] < g->value) {
            lin_fail(why, wlen,
                     "read from the future: %s completed before %s was invoked",
                     lin_desc(g, d1, sizeof(d1)),
                     lin_desc(&ops[sarg[j]], d2, sizeof(d2)));
            goto out;
        }
        /* GETs completed before this one was invoked. */
        l = lin_last_below(get_c, ng, (uint64_t)g->invoke);
        if (l >= 0 && gmax[l] > g->value) {
            lin_fail(why, wlen,
                     "non-monotonic reads: %s completed before %s was invoked",
                     lin_desc(&ops[garg[l]], d1, sizeof(d1)),
                     lin_desc(g, d2, sizeof(d2)));
            goto out;
        }
    }
    rc = 0;
out:
    free(inc);
    free(inc_c);
    free(inc_i);
    free(get_c);
    free(pmax);
    free(smin);
    free(gmax);
    free(parg);
    free(sarg);
    free(garg);
    return rc;
}

/*
 * Place every completed GET that is not in the log (pos[i] == SIZE_MAX)
 * into the log order ord[0..np) (val[ord[k]]: the counter after position
 * k). Gap q (0..np) is just before position q. Returns 0, or -1 with why.
 */
static int lin_place_reads(const struct lin_op *ops, size_t n,
                           const size_t *pos, const uint64_t *val,
                           const size_t *ord, size_t np, char *why,
                           size_t wlen)
{
    /* amax[q], aarg[q]: the latest invocation among positions < q;
     * bmin[q], barg[q]: the earliest completion among positions >= q. */
    uint64_t *amax = calloc(np + 1, sizeof(*amax));
    uint64_t *bmin = calloc(np + 1, sizeof(*bmin));
    size_t *aarg = calloc(np + 1, sizeof(*aarg));
    size_t *barg = calloc(np + 1, sizeof(*barg));
    size_t i, q;
    char d1[160], d2[160];
    int rc = -1;
    if (!amax || !bmin || !aarg || !barg) {
        lin_fail(why, wlen, "out of memory");
        goto out;
    }
    amax[0] = 0;
    for (q = 1; q <= np; q++) {
        const struct lin_op *o = &ops[ord[q - 1]];
        amax[q] = amax[q - 1];
        aarg[q] = aarg[q - 1];
        if (q == 1 || (uint64_t)o->invoke > amax[q]) {
            amax[q] = (uint64_t)o->invoke;
            aarg[q] = ord[q - 1];
        }
    }
    bmin[np] = UINT64_MAX;
    for (q = np; q-- > 0;) {
        bmin[q] = bmin[q + 1];
        barg[q] = barg[q + 1];
        if (lin_done(&ops[ord[q]]) < bmin[q]) {
            bmin[q] = lin_done(&ops[ord[q]]);
            barg[q] = ord[q];
        }
    }
    for (i = 0; i < n; i++) {
        const struct lin_op *g = &ops[i];
        size_t lo, hi, first, last;
#define LIN_BEFORE(q) ((q) == 0 ? 0 : val[ord[(q) - 1]]) /* counter at gap q */
        if (g->complete < 0 || pos[i] != SIZE_MAX) {
            continue;
        }
        /* The gaps where the counter is g->value: first..last. */
        for (lo = 0, hi = np + 1; lo < hi;) {
            size_t mid = lo + (hi - lo) / 2;
            if (LIN_BEFORE(mid) < g->value) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        first = lo;
        if (first > np || LIN_BEFORE(first) != g->value) {
            lin_fail(why, wlen, "%s: the log order never has the counter at "
                     "that value", lin_desc(g, d1, sizeof(d1)));
            goto out;
        }
        for (lo = first, hi = np + 1; lo < hi;) {
            size_t mid = lo + (hi - lo) / 2;
            if (LIN_BEFORE(mid) <= g->value) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        last = lo - 1;
        /* The earliest of them after every op completed before g began. */
        for (lo = first, hi = last + 1; lo < hi;) {
            size_t mid = lo + (hi - lo) / 2;
            if (bmin[mid] < (uint64_t)g->invoke) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (lo > last) {
            lin_fail(why, wlen,
                     "stale read: %s completed before %s was invoked, and the "
                     "log has it where the counter is past that value",
                     lin_desc(&ops[barg[last]], d1, sizeof(d1)),
                     lin_desc(g, d2, sizeof(d2)));
            goto out;
        }
        if (lo > 0 && amax[lo] > (uint64_t)g->complete) {
            lin_fail(why, wlen,
                     "read from the future: %s was invoked after %s completed, "
                     "and the log has it before that value",
                     lin_desc(&ops[aarg[lo]], d1, sizeof(d1)),
                     lin_desc(g, d2, sizeof(d2)));
            goto out;
        }
#undef LIN_BEFORE
    }
    rc = 0;
out:
    free(amax);
    free(bmin);
    free(aarg);
    free(barg);
    return rc;
}

static int lin_check_witness(const struct lin_op *ops, size_t n,
                             const struct lin_cmd *log, size_t nlog,
                             uint64_t *final_value, char *why, size_t wlen)
{
    struct lin_key *ids = calloc(n + 1, sizeof(*ids));
    uint64_t *last = calloc(n + 1, sizeof(*last)); /* per ids[] entry */
    size_t *pos = calloc(n + 1, sizeof(*pos));
    uint64_t *val = calloc(n + 1, sizeof(*val));
    size_t *ord = calloc(n + 1, sizeof(*ord));
    size_t i, k, np = 0;
    uint64_t state = 0, smin = UINT64_MAX;
    size_t sarg = 0;
    char d1[160], d2[160];
    int rc = -1;

    if (!ids || !last || !pos || !val || !ord) {
        lin_fail(why, wlen, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        ids[i].a = ops[i].client;
        ids[i].b = ops[i].seq;
        ids[i].i = i;
        pos[i] = SIZE_MAX;
    }
    qsort(ids, n, sizeof(*ids), lin_key_cmp);
    for (k = 1; k < n; k++) {
        if (ids[k].a == ids[k - 1].a && ids[k].b == ids[k - 1].b) {
            lin_fail(why, wlen, "bad history: %s and %s share client and seq",
                     lin_desc(&ops[ids[k - 1].i], d1, sizeof(d1)),
                     lin_desc(&ops[ids[k].i], d2, sizeof(d2)));
            goto out;
        }
    }
    for (k = 0; k < nlog; k++) {
        const struct lin_cmd *c = &log[k];
        size_t lo = 0, hi = n, first;
        const struct lin_op *o;
        /* First entry of this client (its session slot), then the op. */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (ids[mid].a < c->client) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        first = lo;
        hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (ids[mid].a == c->client && ids[mid].b < c->seq) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (lo == n || ids[lo].a != c->client || ids[lo].b != c->seq) {
            lin_fail(why, wlen,
                     "log command %zu (client %" PRIx64 " seq %" PRIu64
                     " %s %" PRIu64 ") was never sent by any client",
                     k + 1, c->client, c->seq,
                     c->type == CTR_OP_INCR ? "INCR" : "GET", c->amount);
            goto out;
        }
        o = &ops[ids[lo].i];
        if (o->type != c->type || o->amount != c->amount) {
            lin_fail(why, wlen,
                     "log command %zu (client %" PRIx64 " seq %" PRIu64
                     " %s %" PRIu64 ") differs from what was sent: %s",
                     k + 1, c->client, c->seq,
                     c->type == CTR_OP_INCR ? "INCR" : "GET", c->amount,
                     lin_desc(o, d1, sizeof(d1)));
            goto out;
        }
        if (c->seq <= last[first]) {
            continue; /* a retry of an applied request: not applied again */
        }
        last[first] = c->seq;
        if (c->type == CTR_OP_INCR) {
            state += c->amount;
        }
        pos[ids[lo].i] = np;
        val[ids[lo].i] = state;
        ord[np++] = ids[lo].i;
    }
    *final_value = state;
    for (i = 0; i < n; i++) {
        if (ops[i].complete < 0) {
            continue;
        }
        if (pos[i] == SIZE_MAX && ops[i].type == CTR_OP_GET) {
            continue; /* served without the log: placed below */
        }
        if (pos[i] == SIZE_MAX) {
            lin_fail(why, wlen, "%s: acknowledged but not in the log",
                     lin_desc(&ops[i], d1, sizeof(d1)));
            goto out;
        }
        if (val[i] != ops[i].value) {
            lin_fail(why, wlen,
                     "%s: the log puts it where the counter is %" PRIu64,
                     lin_desc(&ops[i], d1, sizeof(d1)), val[i]);
            goto out;
        }
    }
    /* Log order respects real time: nothing later in the log completed
     * before an earlier entry was invoked. */
    for (k = np; k-- > 0;) {
        const struct lin_op *o = &ops[ord[k]];
        if (smin < (uint64_t)o->invoke) {
            lin_fail(why, wlen,
                     "real-time order violated: %s completed before %s was "
                     "invoked, but the log has them the other way round",
                     lin_desc(&ops[sarg], d1, sizeof(d1)),
                     lin_desc(o, d2, sizeof(d2)));
            goto out;
        }
        if (lin_done(o) < smin) {
            smin = lin_done(o);
            sarg = ord[k];
        }
    }
    rc = lin_place_reads(ops, n, pos, val, ord, np, why, wlen);
out:
    free(ids);
    free(last);
    free(pos);
    free(val);
    free(ord);
    return rc;
}

/* Check a history; log may be NULL (then only the witness-free check).
 * 0 if linearizable, -1 with a reason in why. *final_value (if log given):
 * the counter after replaying the log. */
static int lin_check(const struct lin_op *ops, size_t n,
                     const struct lin_cmd *log, size_t nlog,
                     uint64_t *final_value, char *why, size_t wlen)
{
    size_t i;
    uint64_t dummy;
    char d1[160];
    for (i = 0; i < n; i++) {
        const struct lin_op *o = &ops[i];
        if ((o->type != CTR_OP_INCR && o->type != CTR_OP_GET) ||
            (o->type == CTR_OP_INCR && o->amount == 0) ||
            (o->type == CTR_OP_GET && o->amount != 0) || o->invoke < 0 ||
            (o->complete >= 0 && o->complete < o->invoke)) {
            return lin_fail(why, wlen, "malformed history entry: %s",
                            lin_desc(o, d1, sizeof(d1)));
        }
    }
    if (lin_check_nowitness(ops, n, why, wlen) != 0) {
        return -1;
    }
    if (log == NULL) {
        return 0;
    }
    return lin_check_witness(ops, n, log, nlog,
                             final_value != NULL ? final_value : &dummy, why,
                             wlen);
}

/* ---- checker self-test ----------------------------------------------------- */

#define I_(c, s, a, t0, t1, v) {c, s, CTR_OP_INCR, a, t0, t1, v}
#define G_(c, s, t0, t1, v) {c, s, CTR_OP_GET, 0, t0, t1, v}
#define LI(c, s, a) {c, s, CTR_OP_INCR, a}
#define LG(c, s) {c, s, CTR_OP_GET, 0}

struct lin_case {
    const char *name;
    int ok_nolog, ok_log; /* expected verdicts: 1 linearizable */
    size_t n, nlog;
    struct lin_op ops[6];
    struct lin_cmd log[6];
};

static const struct lin_case lin_cases[] = {
    {"sequential", 1, 1, 3, 3,
     {I_(1, 1, 5, 0, 10, 5), G_(2, 1, 20, 30, 5), I_(1, 2, 3, 40, 50, 8)},
     {LI(1, 1, 5), LG(2, 1), LI(1, 2, 3)}},
    {"concurrent increments complete out of order", 1, 1, 2, 2,
     {I_(1, 1, 2, 0, 100, 5), I_(2, 1, 3, 10, 90, 3)},
     {LI(2, 1, 3), LI(1, 1, 2)}},
    {"GET concurrent with an INCR sees the old value", 1, 1, 2, 2,
     {I_(1, 1, 2, 10, 20, 2), G_(2, 1, 0, 30, 0)},
     {LG(2, 1), LI(1, 1, 2)}},
    {"unknown increment applied", 1, 1, 2, 2,
     {I_(1, 1, 4, 0, -1, 0), I_(2, 1, 1, 5, 6, 5)},
     {LI(1, 1, 4), LI(2, 1, 1)}},
    {"unknown increment not applied", 1, 1, 2, 1,
     {I_(1, 1, 4, 0, -1, 0), I_(2, 1, 1, 5, 6, 1)},
     {LI(2, 1, 1)}},
    {"retried increment logged twice, applied once", 1, 1, 2, 3,
     {I_(1, 1, 5, 0, 50, 5), I_(2, 1, 1, 60, 70, 6)},
     {LI(1, 1, 5), LI(1, 1, 5), LI(2, 1, 1)}},
    {"GETs and INCRs interleaved, unknown GET", 1, 1, 5, 4,
     {I_(1, 1, 1, 0, 10, 1), G_(2, 1, 5, 20, 1), I_(3, 1, 2, 15, 40, 3),
      G_(2, 2, 25, 50, 3), G_(1, 2, 45, -1, 0)},
     {LI(1, 1, 1), LG(2, 1), LI(3, 1, 2), LG(2, 2)}},
    {"stale read", 0, 0, 2, 2,
     {I_(1, 1, 5, 0, 10, 5), G_(2, 1, 20, 30, 0)},
     {LI(1, 1, 5), LG(2, 1)}},
    {"real-time order of increments violated", 0, 0, 2, 2,
     {I_(1, 1, 2, 0, 10, 5), I_(2, 1, 3, 20, 30, 3)},
     {LI(2, 1, 3), LI(1, 1, 2)}},
    {"two increments return the same value", 0, 0, 2, 2,
     {I_(1, 1, 2, 0, 10, 2), I_(2, 1, 2, 0, 10, 2)},
     {LI(1, 1, 2), LI(2, 1, 2)}},
    {"increment applied twice", 0, 0, 2, 3,
     {I_(1, 1, 5, 0, 10, 5), I_(2, 1, 3, 20, 30, 13)},
     {LI(1, 1, 5), LI(1, 1, 5), LI(2, 1, 3)}},
    {"GET of a value the counter never had", 0, 0, 2, 2,
     {I_(1, 1, 10, 0, 10, 10), G_(2, 1, 0, 20, 4)},
     {LG(2, 1), LI(1, 1, 10)}},
    {"non-monotonic reads", 0, 0, 3, 3,
     {I_(1, 1, 2, 0, -1, 0), G_(2, 1, 10, 20, 2), G_(3, 1, 30, 40, 0)},
     {LI(1, 1, 2), LG(2, 1), LG(3, 1)}},
    {"GET returns a value from the future", 0, 0, 2, 2,
     {G_(2, 1, 0, 10, 5), I_(1, 1, 5, 20, 30, 5)},
     {LI(1, 1, 5), LG(2, 1)}},
    {"acknowledged increment missing from the log", 1, 0, 2, 1,
     {I_(1, 1, 5, 0, 10, 5), I_(2, 1, 1, 0, -1, 0)},
     {LI(2, 1, 1)}},
    {"log command no client sent", 1, 0, 1, 2,
     {I_(1, 1, 5, 0, 10, 5)},
     {LI(1, 1, 5), LI(9, 1, 7)}},
    {"log amount differs from the request", 1, 0, 1, 1,
     {I_(1, 1, 5, 0, 10, 5)},
     {LI(1, 1, 6)}},
    {"log order contradicts real time (equal reads)", 1, 0, 2, 2,
     {G_(1, 1, 0, 10, 0), G_(2, 1, 20, 30, 0)},
     {LG(2, 1), LG(1, 1)}},
    {"completed increments leave an unexplained gap", 0, 0, 2, 2,
     {I_(1, 1, 5, 0, 10, 5), I_(2, 1, 1, 20, 30, 9)},
     {LI(1, 1, 5), LI(2, 1, 1)}},
    /* GETs served without a log entry (ReadIndex, lease). */
    {"GETs without a log entry between increments", 1, 1, 4, 2,
     {I_(1, 1, 5, 0, 10, 5), G_(2, 1, 20, 30, 5), I_(1, 2, 3, 40, 50, 8),
      G_(2, 2, 60, 70, 8)},
     {LI(1, 1, 5), LI(1, 2, 3)}},
    {"GETs without a log entry, concurrent with an INCR, see either value",
     1, 1, 3, 1,
     {I_(1, 1, 2, 10, 20, 2), G_(2, 1, 0, 30, 0), G_(3, 1, 0, 30, 2)},
     {LI(1, 1, 2)}},
    {"GETs with and without a log entry", 1, 1, 4, 3,
     {I_(1, 1, 5, 0, 10, 5), G_(2, 1, 20, 30, 5), G_(3, 1, 25, 35, 5),
      I_(1, 2, 3, 40, 50, 8)},
     {LI(1, 1, 5), LG(2, 1), LI(1, 2, 3)}},
    {"stale read without a log entry", 0, 0, 2, 1,
     {I_(1, 1, 5, 0, 10, 5), G_(2, 1, 20, 30, 0)},
     {LI(1, 1, 5)}},
    {"read from the future without a log entry", 0, 0, 2, 1,
     {G_(2, 1, 0, 10, 5), I_(1, 1, 5, 20, 30, 5)},
     {LI(1, 1, 5)}},
    {"GET without a log entry sees an increment the log lacks", 1, 0, 3, 1,
     {I_(1, 1, 4, 0, -1, 0), I_(2, 1, 1, 5, 6, 1), G_(3, 1, 1, 8, 4)},
     {LI(2, 1, 1)}},
};

/* A random linearizable history: sequential clients, each op with a
 * linearization point inside its interval; the log is the order of the
 * points. The last op of some clients is unknown, applied or not. GETs are
 * in the log only if log_gets (otherwise they were served by ReadIndex). */
static size_t lin_random(uint64_t *rng, struct lin_op *ops, struct lin_cmd *log,
                         size_t *nlog, int log_gets)
{
    struct pt {
        int64_t t;
        size_t i;
        int applied;
    } pts[64], tmp;
    size_t n = 0, np = 0, a, b;
    int nc = (int)cl_rand_range(rng, 1, 5), c;
    uint64_t state = 0;
    for (c = 0; c < nc; c++) {
        int64_t t = (int64_t)cl_rand_range(rng, 0, 20);
        int m = (int)cl_rand_range(rng, 1, 8), k;
        for (k = 0; k < m && n < 40; k++) {
            struct lin_op *o = &ops[n];
            int64_t p = t + 1 + (int64_t)cl_rand_range(rng, 0, 30);
            o->client = 100 + (uint64_t)c;
            o->seq = (uint64_t)k + 1;
            o->type = cl_rand_range(rng, 0, 3) == 0 ? CTR_OP_GET : CTR_OP_INCR;
            o->amount = o->type == CTR_OP_INCR ? cl_rand_range(rng, 1, 10) : 0;
            o->invoke = t;
            o->complete = p + 1 + (int64_t)cl_rand_range(rng, 0, 30);
            pts[np].t = p;
            pts[np].i = n;
            pts[np].applied = 1;
            if (k == m - 1 && cl_rand_range(rng, 0, 3) == 0) {
                o->complete = -1;
                pts[np].applied = (int)cl_rand_range(rng, 0, 1);
            }
            t = o->complete + (int64_t)cl_rand_range(rng, 0, 5);
            np++;
            n++;
        }
    }
    /* Sort points (insertion sort; ties by index). */
    for (a = 1; a < np; a++) {
        for (b = a; b > 0 && (pts[b - 1].t > pts[b].t ||
                              (pts[b - 1].t == pts[b].t && pts[b - 1].i > pts[b].i));
             b--) {
            tmp = pts[b];
            pts[b] = pts[b - 1];
            pts[b - 1] = tmp;
        }
    }
    *nlog = 0;
    for (a = 0; a < np; a++) {
        struct lin_op *o = &ops[pts[a].i];
        if (!pts[a].applied) {
            continue;
        }
        if (o->type == CTR_OP_INCR) {
            state += o->amount;
        }
        o->value = o->complete >= 0 ? state : 0;
        if (o->type == CTR_OP_GET && !log_gets) {
            continue;
        }
        log[*nlog].client = o->client;
        log[*nlog].seq = o->seq;
        log[*nlog].type = o->type;
        log[*nlog].amount = o->amount;
        (*nlog)++;
        /* Sometimes a retry is logged again right after. */
        if (cl_rand_range(rng, 0, 9) == 0) {
            log[*nlog] = log[*nlog - 1];
            (*nlog)++;
        }
    }
    return n;
}

static int lin_selftest(uint64_t seed)
{
    size_t k;
    int bad = 0, r, caught = 0, mutated = 0;
    uint64_t rng = seed ^ 0x5E1F7E57u;
    char why[512];
    for (k = 0; k < sizeof(lin_cases) / sizeof(lin_cases[0]); k++) {
        const struct lin_case *t = &lin_cases[k];
        int ok0 = lin_check(t->ops, t->n, NULL, 0, NULL, why, sizeof(why)) == 0;
        int ok1 =
            lin_check(t->ops, t->n, t->log, t->nlog, NULL, why, sizeof(why)) == 0;
        if (ok0 != t->ok_nolog || ok1 != t->ok_log) {
            say("checker self-test: case '%s' judged %s/%s (no log/log), "
                "expected %s/%s",
                t->name, ok0 ? "ok" : "bad", ok1 ? "ok" : "bad",
                t->ok_nolog ? "ok" : "bad", t->ok_log ? "ok" : "bad");
            bad++;
        }
    }
    for (r = 0; r < 2000; r++) {
        struct lin_op ops[64];
        struct lin_cmd log[128];
        int log_gets = r % 2;
        size_t nlog, n = lin_random(&rng, ops, log, &nlog, log_gets), j;
        if (lin_check(ops, n, NULL, 0, NULL, why, sizeof(why)) != 0 ||
            lin_check(ops, n, log, nlog, NULL, why, sizeof(why)) != 0) {
            say("checker self-test: random linearizable history %d rejected: %s",
                r, why);
            bad++;
            continue;
        }
        /* Change one completed op's result: the log check must object.
         * (Not a GET outside the log: it may move to a later value that is
         * still linearizable.) */
        for (j = 0; j < n; j++) {
            if (ops[j].complete >= 0 &&
                (log_gets || ops[j].type == CTR_OP_INCR)) {
                ops[j].value += cl_rand_range(&rng, 1, 3);
                mutated++;
                if (lin_check(ops, n, log, nlog, NULL, why, sizeof(why)) == 0) {
                    say("checker self-test: random history %d with a wrong "
                        "result accepted",
                        r);
                    bad++;
                }
                if (lin_check(ops, n, NULL, 0, NULL, why, sizeof(why)) != 0) {
                    caught++;
                }
                break;
            }
        }
    }
    if (bad == 0) {
        say("checker self-test: %zu hand-made cases and 2000 random histories "
            "(half with GETs outside the log) judged correctly (%d of %d "
            "corrupted ones also caught without the log)",
            sizeof(lin_cases) / sizeof(lin_cases[0]), caught, mutated);
    }
    return bad == 0 ? 0 : -1;
}

/* ---- reading a node's files (formats in examples/counter/storage.h) ----- */

#define REC_HDR 8u
#define REC_FIXED 17u
#define ENTRY_COMMAND 1 /* RAFT_ENTRY_COMMAND */
#define ENTRY_NOOP 2
#define ENTRY_CONFIG 3
#define CMD_BYTES 32u
#define CONF_MAX 4096u /* ST_CONF_MAX */
#define SNAP_HDR 40u

/* FNV-1a of p[0..len): a configuration entry is kept as this. */
static uint64_t fnv64(const uint8_t *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;
    size_t i;
    for (i = 0; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001b3u;
    }
    return h;
}

/* Decode a command payload as the server writes it (server.c, "Command
 * payload"): 32 bytes, u8 op (INCR or GET), u8[7] zero, u64 client_id,
 * u64 seq, u64 amount. */
static int decode_command(const uint8_t *p, size_t len, struct lin_cmd *c)
{
    size_t i;
    if (len != CMD_BYTES || (p[0] != CTR_OP_INCR && p[0] != CTR_OP_GET)) {
        return -1;
    }
    for (i = 1; i < 8; i++) {
        if (p[i] != 0) {
            return -1;
        }
    }
    c->type = p[0];
    c->client = ctr_get64(p + 8);
    c->seq = ctr_get64(p + 16);
    c->amount = ctr_get64(p + 24);
    return c->client != 0 && c->seq != 0 ? 0 : -1;
}

/* One log record: an entry at an index. */
struct rec {
    uint64_t index, term;
    uint8_t type;
    uint16_t len; /* payload bytes: 0 (no-op), CMD_BYTES, or a configuration's */
    uint8_t payload[CMD_BYTES]; /* a configuration: its fnv64, 8 bytes */
};

/* Bytes of payload[] that stand for the payload. */
static size_t rec_kept(const struct rec *r)
{
    return r->type == ENTRY_CONFIG ? 8u : r->len;
}

static int rec_same(const struct rec *a, const struct rec *b)
{
    return a->index == b->index && a->term == b->term && a->type == b->type &&
           a->len == b->len && memcmp(a->payload, b->payload, rec_kept(a)) == 0;
}

struct recs {
    struct rec *v;
    size_t n, cap;
};

static int recs_push(struct recs *r, const struct rec *x)
{
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 1024;
        struct rec *nv = realloc(r->v, ncap * sizeof(*nv));
        if (nv == NULL) {
            return -1;
        }
        r->v = nv;
        r->cap = ncap;
    }
    r->v[r->n++] = *x;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The whole file into a fresh buffer. */
static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *d = NULL;
    size_t cap = 0, n = 0, got;
    if (f == NULL) {
        return -1;
    }
    do {
        if (n == cap) {
            uint8_t *nd;
            cap = cap ? cap * 2 : 65536;
            nd = realloc(d, cap);
            if (nd == NULL) {
                free(d);
                fclose(f);
                return -1;
            }
            d = nd;
        }
        got = fread(d + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *out = d;
    *len = n;
    return 0;
}

/* Do the rest of f hold zeros only? */
static bool rest_zero(FILE *f)
{
    int c;
    while ((c = getc(f)) == 0) {
    }
    return c == EOF;
}

/* Append every record of `path` (a log segment, or a node's
 * --record-applied file) to *out. A record cut short at the very end is a
 * torn write (of a killed process): ignored. A zero length where a record
 * would start, with only zeros after it, ends the records (the zero fill
 * of a last segment, see storage.h). Anything else that does not check
 * out is an error. */
static int read_records(const char *path, struct recs *out, char *why,
                        size_t wlen)
{
    FILE *f = fopen(path, "rb");
    uint8_t hdr[REC_HDR], body[REC_FIXED + CONF_MAX];
    uint64_t off = 0;
    int rc = -1;
    if (f == NULL) {
        return lin_fail(why, wlen, "%s: %s", path, strerror(errno));
    }
    for (;;) {
        struct rec r;
        uint32_t blen;
        size_t got = fread(hdr, 1, REC_HDR, f);
        if (got < REC_HDR) {
            rc = 0; /* the end, or a torn header */
            break;
        }
        blen = ctr_get32(hdr);
        if (blen == 0 && ctr_get32(hdr + 4) == 0 && rest_zero(f)) {
            rc = 0;
            break;
        }
        if (blen < REC_FIXED || blen > REC_FIXED + CONF_MAX) {
            lin_fail(why, wlen, "%s: record of %" PRIu32 " bytes at offset %"
                     PRIu64, path, blen, off);
            break;
        }
        if (fread(body, 1, blen, f) != blen) {
            rc = 0; /* torn */
            break;
        }
        if (ctr_crc32(0, body, blen) != ctr_get32(hdr + 4)) {
            lin_fail(why, wlen, "%s: bad checksum at offset %" PRIu64, path, off);
            break;
        }
        memset(&r, 0, sizeof(r));
        r.index = ctr_get64(body);
        r.term = ctr_get64(body + 8);
        r.type = body[16];
        r.len = (uint16_t)(blen - REC_FIXED);
        if ((r.type == ENTRY_NOOP && r.len != 0) ||
            (r.type == ENTRY_COMMAND && r.len != CMD_BYTES) ||
            (r.type == ENTRY_CONFIG && r.len == 0) || r.type < ENTRY_COMMAND ||
            r.type > ENTRY_CONFIG) {
            lin_fail(why, wlen, "%s: record of type %u with %u payload bytes "
                     "at offset %" PRIu64, path, r.type, r.len, off);
            break;
        }
        if (r.type == ENTRY_CONFIG) {
            ctr_put64(r.payload, fnv64(body + REC_FIXED, r.len));
        } else {
            memcpy(r.payload, body + REC_FIXED, r.len);
        }
        if (recs_push(out, &r) != 0) {
            lin_fail(why, wlen, "out of memory");
            break;
        }
        off += REC_HDR + blen;
    }
    fclose(f);
    return rc;
}

/* Names in dir starting with prefix and ending with 20 digits, sorted. */
static int list_files(const char *dir, const char *prefix, char ***out,
                      size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t cap = 0, lp = strlen(prefix);
    *out = NULL;
    *n = 0;
    if (d == NULL) {
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        char **nv;
        if (strncmp(de->d_name, prefix, lp) != 0 ||
            strlen(de->d_name) != lp + 20 ||
            strspn(de->d_name + lp, "0123456789") != 20) {
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            nv = realloc(*out, cap * sizeof(*nv));
            if (nv == NULL) {
                break;
            }
            *out = nv;
        }
        (*out)[(*n)++] = strdup(de->d_name);
    }
    closedir(d);
    if (*n > 1) {
        qsort(*out, *n, sizeof(**out), cmp_str);
    }
    return 0;
}

static void free_names(char **v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

/* Client sessions for replays: client -> last applied seq. */
struct sess {
    uint64_t *client, *seq;
    size_t n, cap;
};

static uint64_t *sess_seq(struct sess *t, uint64_t client)
{
    size_t i;
    for (i = 0; i < t->n; i++) { /* a handful of clients per test */
        if (t->client[i] == client) {
            return &t->seq[i];
        }
    }
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        uint64_t *c = realloc(t->client, ncap * sizeof(*c));
        uint64_t *q = c != NULL ? realloc(t->seq, ncap * sizeof(*q)) : NULL;
        if (c != NULL) {
            t->client = c;
        }
        if (q == NULL) {
            return NULL;
        }
        t->seq = q;
        t->cap = ncap;
    }
    t->client[t->n] = client;
    t->seq[t->n] = 0;
    return &t->seq[t->n++];
}

/* A node's durable state, read back from its files after the run. */
struct node_files {
    uint64_t snap_index, snap_term; /* 0: no snapshot */
    uint64_t snap_conf; /* fnv64 of the configuration stored with it */
    uint64_t snap_value;
    struct sess snap_sessions;
    struct recs log;   /* every segment's records, in file order */
    size_t n_segs;
};

static void node_files_free(struct node_files *nf)
{
    free(nf->snap_sessions.client);
    free(nf->snap_sessions.seq);
    free(nf->log.v);
    memset(nf, 0, sizeof(*nf));
}

/* Read DIR/nI: its newest snapshot (header, counter and sessions, crc
 * checked) and every log segment. */
static int read_node_files(const struct cluster *c, int i,
                           struct node_files *nf, char *why, size_t wlen)
{
    char dir[CL_PATH_MAX], path[CL_PATH_MAX + 64];
    char **names = NULL;
    size_t n = 0, k;
    int rc = 0;
    memset(nf, 0, sizeof(*nf));
    cl_path(c, dir, sizeof(dir), i, "");
    if (list_files(dir, "snap-", &names, &n) != 0) {
        return lin_fail(why, wlen, "%s: %s", dir, strerror(errno));
    }
    if (n > 0) {
        uint8_t *d = NULL;
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, names[n - 1]);
        rc = read_file(path, &d, &len);
        if (rc != 0 || len < SNAP_HDR + 4 ||
            ctr_crc32(0, d, len - 4) != ctr_get32(d + len - 4)) {
            rc = lin_fail(why, wlen, "%s: unreadable or bad checksum", path);
        } else if (ctr_get32(d + 4) != 2 || ctr_get32(d + 24) > CONF_MAX ||
                   SNAP_HDR + ctr_get32(d + 24) + 16 + 4 > len) {
            rc = lin_fail(why, wlen, "%s: not a snapshot of format 2", path);
        } else {
            uint32_t nc = ctr_get32(d + 24);
            const uint8_t *b = d + SNAP_HDR + nc;
            uint64_t ns = ctr_get64(b + 8), j;
            nf->snap_index = ctr_get64(d + 8);
            nf->snap_term = ctr_get64(d + 16);
            nf->snap_conf = fnv64(d + SNAP_HDR, nc);
            nf->snap_value = ctr_get64(b);
            if ((size_t)(b - d) + 16 + 32 * ns + 4 != len) {
                rc = lin_fail(why, wlen, "%s: lengths do not add up", path);
            }
            for (j = 0; rc == 0 && j < ns; j++) {
                uint64_t *q = sess_seq(&nf->snap_sessions, ctr_get64(b + 16 + 32 * j));
                if (q == NULL) {
                    rc = lin_fail(why, wlen, "out of memory");
                } else {
                    *q = ctr_get64(b + 16 + 32 * j + 8);
                }
            }
        }
        free(d);
    }
    free_names(names, n);
    if (rc != 0 || list_files(dir, "log-", &names, &n) != 0) {
        return rc != 0 ? rc : lin_fail(why, wlen, "%s: %s", dir, strerror(errno));
    }
    nf->n_segs = n;
    for (k = 0; k < n && rc == 0; k++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[k]);
        rc = read_records(path, &nf->log, why, wlen);
    }
    free_names(names, n);
    return rc;
}

/* Lines of node i's server log (all its starts) containing `what`. */
static int count_log_lines(const struct cluster *c, int i, const char *what)
{
    char path[CL_PATH_MAX], line[1024];
    int n = 0;
    FILE *f;
    cl_path(c, path, sizeof(path), i, ".log");
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, what) != NULL;
    }
    fclose(f);
    return n;
}

struct history {
    struct lin_op *ops;
    size_t n, cap;
};

static int hist_push(struct history *h, const struct lin_op *o)
{
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 1024;
        struct lin_op *no = realloc(h->ops, ncap * sizeof(*no));
        if (no == NULL) {
            return -1;
        }
        h->ops = no;
        h->cap = ncap;
    }
    h->ops[h->n++] = *o;
    return 0;
}

/* Operations outside the nemesis run (e.g. the bad-input test's INCR). */
static struct history g_pre;

/* The counter after applying cmds in order with the server's session rule:
 * a (client, seq) is applied only if seq is above the client's last
 * applied seq. Independent of any client history. */
static uint64_t replay_log(const struct lin_cmd *cmds, size_t n)
{
    struct lin_key *k = calloc(n + 1, sizeof(*k));
    uint64_t *last = calloc(n + 1, sizeof(*last)), value = 0;
    size_t i, j;
    if (k == NULL || last == NULL) {
        free(k);
        free(last);
        return UINT64_MAX;
    }
    /* Rank clients: sort (client, position), then each position gets the
     * index of its client's first key as its session slot. */
    for (i = 0; i < n; i++) {
        k[i].a = cmds[i].client;
        k[i].b = i;
        k[i].i = i;
    }
    qsort(k, n, sizeof(*k), lin_key_cmp);
    for (i = 0, j = 0; i < n; i++) {
        if (i > 0 && k[i].a != k[i - 1].a) {
            j = i;
        }
        k[i].b = j; /* reuse: slot of this command's client */
    }
    {
        size_t *slot = calloc(n + 1, sizeof(*slot));
        if (slot == NULL) {
            free(k);
            free(last);
            return UINT64_MAX;
        }
        for (i = 0; i < n; i++) {
            slot[k[i].i] = (size_t)k[i].b;
        }
        for (i = 0; i < n; i++) {
            if (cmds[i].seq > last[slot[i]]) {
                last[slot[i]] = cmds[i].seq;
                if (cmds[i].type == CTR_OP_INCR) {
                    value += cmds[i].amount;
                }
            }
        }
        free(slot);
    }
    free(k);
    free(last);
    return value;
}

/* Replay commands idx from..to of app[] on top of (value, sessions) with
 * the server's session rule; UINT64_MAX if memory runs out. */
static uint64_t replay_from(const struct rec *app, uint64_t from, uint64_t to,
                            uint64_t value, struct sess *t)
{
    uint64_t idx;
    for (idx = from; idx <= to; idx++) {
        struct lin_cmd cmd;
        uint64_t *last;
        if (app[idx].type != ENTRY_COMMAND ||
            decode_command(app[idx].payload, app[idx].len, &cmd) != 0) {
            continue;
        }
        if ((last = sess_seq(t, cmd.client)) == NULL) {
            return UINT64_MAX;
        }
        if (cmd.seq > *last) {
            *last = cmd.seq;
            value += cmd.type == CTR_OP_INCR ? cmd.amount : 0;
        }
    }
    return value;
}

/* One node's files against what the nodes applied (app[1..commit]): its
 * log agrees wherever it holds those indexes, holds them without a gap
 * from its snapshot on, and snapshot plus log replay to `value`. */
static int check_node_files(const struct cluster *c, int i, const struct rec *app,
                            uint64_t commit, uint64_t value)
{
    struct node_files nf;
    char why[1024];
    uint64_t first = 0, last = 0, v;
    size_t k;
    int ok = 1;
    if (read_node_files(c, i, &nf, why, sizeof(why)) != 0) {
        check(0, "read node %d's snapshot and log: %s", i + 1, why);
        node_files_free(&nf);
        return -1;
    }
    for (k = 0; k < nf.log.n && ok; k++) {
        const struct rec *r = &nf.log.v[k];
        if (k > 0 && r->index != nf.log.v[k - 1].index + 1) {
            ok = 0;
            snprintf(why, sizeof(why), "its segments jump from index %" PRIu64
                     " to %" PRIu64, nf.log.v[k - 1].index, r->index);
        } else if (r->index >= 1 && r->index <= commit && !rec_same(r, &app[r->index])) {
            ok = 0;
            snprintf(why, sizeof(why), "its entry %" PRIu64 " differs from "
                     "the one the nodes applied", r->index);
        }
    }
    if (nf.log.n > 0) {
        first = nf.log.v[0].index;
        last = nf.log.v[nf.log.n - 1].index;
    }
    if (ok && (first > nf.snap_index + 1 || last < commit)) {
        ok = 0;
        snprintf(why, sizeof(why), "snapshot at %" PRIu64 ", log %" PRIu64
                 "..%" PRIu64 ": committed entries up to %" PRIu64 " not all "
                 "covered", nf.snap_index, first, last, commit);
    }
    if (ok && nf.snap_index > 0 && nf.snap_index <= commit &&
        app[nf.snap_index].term != nf.snap_term) {
        ok = 0;
        snprintf(why, sizeof(why), "its snapshot %" PRIu64 " has term %" PRIu64
                 ", the entry applied there %" PRIu64, nf.snap_index,
                 nf.snap_term, app[nf.snap_index].term);
    }
    if (ok && nf.snap_index > 0 && nf.snap_index <= commit) {
        /* The configuration stored with the snapshot is the one in force
         * at its index: the last configuration entry at or below it. */
        uint64_t k2 = nf.snap_index;
        while (k2 > 0 && app[k2].type != ENTRY_CONFIG) {
            k2--;
        }
        if (k2 == 0 || ctr_get64(app[k2].payload) != nf.snap_conf) {
            ok = 0;
            snprintf(why, sizeof(why), "its snapshot %" PRIu64 " stores "
                     "another configuration than entry %" PRIu64 ", the last "
                     "configuration entry at or below it", nf.snap_index, k2);
        }
    }
    check(ok, "node %d's files: snapshot at index %" PRIu64 " (value %" PRIu64
          "), %zu log segments holding indexes %" PRIu64 "..%" PRIu64
          ", equal to the applied entries%s%s", i + 1, nf.snap_index,
          nf.snap_value, nf.n_segs, first, last, ok ? "" : ": ", ok ? "" : why);
    v = ok ? replay_from(app, nf.snap_index + 1, commit, nf.snap_value,
                         &nf.snap_sessions) : 0;
    if (ok) {
        ok = check(v == value, "node %d: its snapshot plus its log replay to %"
                   PRIu64 ", the servers report %" PRIu64, i + 1, v, value) == 0;
    }
    node_files_free(&nf);
    return ok ? 0 : -1;
}

/* After the run, every server stopped at commit `commit` and value
 * `value`: what the nodes applied (their --record-applied files, which
 * survive compaction) and what they hold on disk must tell one story.
 *  - every index 1..commit was applied by some node, and every node that
 *    applied an index applied the same entry (State Machine Safety);
 *  - those commands, in index order, replay to `value` and are the
 *    witness of the linearizability check (*cmds, *ncmds: a fresh array);
 *  - each member's snapshot and log agree with them (check_node_files).
 * Nodes never started have no files; removed nodes' applied entries
 * count, their snapshot and log are not checked (they stopped receiving
 * entries when removed). members[i] non-zero: node i is a member at the
 * end (NULL: all are). */
static int check_files(const struct cluster *c, const int *members,
                       uint64_t commit, uint64_t value, struct lin_cmd **cmds,
                       size_t *ncmds)
{
    struct rec *app = calloc(commit + 1, sizeof(*app));
    char *have = calloc(commit + 1, 1);
    struct recs r = {NULL, 0, 0};
    uint64_t idx, noops = 0, confs = 0, dup = 0, missing = 0;
    char why[1024] = "";
    int i, failed = 0;
    size_t k, n = 0;
    *cmds = calloc(commit + 1, sizeof(**cmds));
    if (app == NULL || have == NULL || *cmds == NULL) {
        free(app);
        free(have);
        return check(0, "out of memory");
    }
    for (i = 0; i < c->n; i++) {
        char path[CL_PATH_MAX];
        struct stat sb;
        cl_path(c, path, sizeof(path), i, "");
        if (stat(path, &sb) != 0) {
            continue; /* never started */
        }
        cl_path(c, path, sizeof(path), i, "/applied");
        r.n = 0;
        if (read_records(path, &r, why, sizeof(why)) != 0) {
            failed |= check(0, "read node %d's applied entries: %s", i + 1, why);
            continue;
        }
        for (k = 0; k < r.n; k++) {
            const struct rec *x = &r.v[k];
            if (x->index == 0 || x->index > commit) {
                continue;
            }
            if (!have[x->index]) {
                app[x->index] = *x;
                have[x->index] = 1;
            } else if (!rec_same(&app[x->index], x)) {
                if (dup++ == 0) {
                    snprintf(why, sizeof(why), "node %d applied another entry "
                             "at index %" PRIu64 " (term %" PRIu64 ", not %"
                             PRIu64 ")", i + 1, x->index, x->term,
                             app[x->index].term);
                }
            }
        }
    }
    free(r.v);
    for (idx = 1; idx <= commit; idx++) {
        if (!have[idx]) {
            missing++;
            continue;
        }
        if (app[idx].type == ENTRY_NOOP) {
            noops++;
        } else if (app[idx].type == ENTRY_CONFIG) {
            confs++;
        } else if (decode_command(app[idx].payload, app[idx].len, &(*cmds)[n]) == 0) {
            n++;
        } else if (dup++ == 0) {
            snprintf(why, sizeof(why), "entry %" PRIu64 " is not a command", idx);
        }
    }
    *ncmds = n;
    failed |= check(dup == 0 && missing == 0, "the nodes' applied entries "
                    "cover 1..%" PRIu64 " (%zu commands, %" PRIu64 " no-ops, %"
                    PRIu64 " configurations) and agree%s%s%s", commit, n,
                    noops, confs,
                    missing ? "; missing indexes: " : "",
                    missing ? "some" : "", dup ? why : "");
    for (i = 0; i < c->n && failed == 0; i++) {
        if (members == NULL || members[i]) {
            failed |= check_node_files(c, i, app, commit, value);
        }
    }
    free(app);
    free(have);
    return failed ? -1 : 0;
}

/* ---- bad input --------------------------------------------------------- */

/* Encode into buf a peer hello to node `node` (index) from node id
 * `sender`, with token t. */
static void peer_hello(const struct cluster *c, int node, uint64_t sender,
                       const struct ctr_token *t, uint8_t *buf)
{
    struct ctr_hello h;
    (void)c;
    memset(&h, 0, sizeof(h));
    h.kind = CTR_HELLO_PEER;
    h.token = *t;
    h.sender = sender;
    h.target = (uint64_t)node + 1;
    ctr_hello_encode(&h, buf);
}

/* A client hello with token t into buf. */
static void client_hello(const struct ctr_token *t, uint8_t *buf)
{
    struct ctr_hello h;
    memset(&h, 0, sizeof(h));
    h.kind = CTR_HELLO_CLIENT;
    h.token = *t;
    ctr_hello_encode(&h, buf);
}

/* Send bytes on a fresh connection, optionally wait for an answer or EOF,
 * then close. Returns a short description of what the server did. */
static const char *poke(const struct cluster *c, int node, const uint8_t *buf,
                        size_t len, int keep_open_ms, int *fd_out)
{
    int fd = cl_dial(c->addr[node], 1000);
    uint8_t ans[512];
    ssize_t r;
    if (fd < 0) {
        return "connect failed";
    }
    if (len > 0 && ctr_write_full(fd, buf, len) != 0) {
        close(fd);
        return "closed while sending";
    }
    if (fd_out != NULL) {
        *fd_out = fd; /* left open, stalled mid-frame */
        return "left open";
    }
    cl_set_timeout(fd, keep_open_ms);
    r = read(fd, ans, sizeof(ans));
    close(fd);
    if (r == 0) {
        return "closed the connection";
    }
    if (r > 0) {
        struct ctr_resp p;
        if (r >= (ssize_t)CTR_RESP_FIXED &&
            ctr_resp_decode(ans, (size_t)r, &p) == 0) {
            return p.status == CTR_BAD_REQUEST ? "answered CTR_BAD_REQUEST"
                   : p.status == CTR_REFUSED   ? "answered CTR_REFUSED"
                                               : "answered (something else)";
        }
        return "sent something back";
    }
    return errno == EAGAIN || errno == EWOULDBLOCK ? "kept the connection open"
                                                   : "reset the connection";
}

/* The flood check: more stalled connections than the server's table has
 * slots (MAX_CONNS in examples/counter/server.c), all left open. */
#define SERVER_MAX_CONNS 512
#define FLOOD_CONNS (SERVER_MAX_CONNS + 64)

/* Make sure this process (and the servers it starts) may open `need`
 * descriptors. */
static int fd_limit_at_least(rlim_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return -1;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
            return -1;
        }
        rl.rlim_cur = need;
        return setrlimit(RLIMIT_NOFILE, &rl);
    }
    return 0;
}

/* Open n connections to node and leave each one stalled, in turn: no hello
 * at all, or half of one; a client hello and 6 bytes of a request; a peer
 * hello and 7 bytes of a frame; a client hello, a whole STATUS request (its
 * answer never read) and 6 bytes of the next. fds[i] is -1 where
 * connecting failed; returns how many connected. */
static int flood_open(const struct cluster *c, int node, int *fds, int n)
{
    enum { H = CTR_HELLO_LEN };
    uint8_t buf[H + 2 * CTR_REQ_LEN];
    struct ctr_req q = {CTR_OP_STATUS, 0x464C4F4F44000001u, 1, 0};
    uint64_t other = (uint64_t)((node + 1) % c->n) + 1;
    int i, opened = 0;
    for (i = 0; i < n; i++) {
        size_t len = 0;
        fds[i] = cl_dial(c->addr[node], 2000);
        if (fds[i] < 0) {
            continue;
        }
        opened++;
        memset(buf, 0, sizeof(buf));
        switch (i % 4) {
        case 1:
            client_hello(&c->token, buf);
            ctr_put32(buf + H, CTR_REQ_LEN);
            len = H + 6;
            break;
        case 2:
            peer_hello(c, node, other, &c->token, buf);
            ctr_put32(buf + H, 48);
            buf[H + 4] = 1; /* version */
            len = H + 7;
            break;
        case 3:
            client_hello(&c->token, buf);
            ctr_req_encode(&q, buf + H);
            ctr_put32(buf + H + CTR_REQ_LEN, CTR_REQ_LEN);
            len = H + CTR_REQ_LEN + 6;
            break;
        default:
            /* No hello at all, or (every other time) half of one. */
            client_hello(&c->token, buf);
            len = i % 8 == 4 ? H / 2 : 0;
            break;
        }
        /* May fail: the server may have evicted it already. */
        (void)ctr_write_full(fds[i], buf, len);
    }
    return opened;
}

/* Flood the leader with FLOOD_CONNS stalled connections and, while they
 * stay open, check that it still answers STATUS, that a restarted peer
 * gets back in, and that an INCR through it commits on every node. With
 * the third node paused (SIGSTOP), that commit needs the restarted node to
 * reach the flooded one on a new connection. */
static int test_flood(struct cluster *c, uint64_t *rng)
{
    int fds[FLOOD_CONNS], leader, f, g, i, opened, failed = 0;
    int64_t t0 = cl_now_us(), until;
    struct cl_client cc;
    struct ctr_req q = {CTR_OP_INCR, 0, 1, 1};
    struct ctr_resp p;
    struct lin_op o;

    leader = cl_wait_leader(c, 5000);
    if (leader < 0) {
        say("bad input: flood: no leader");
        return -1;
    }
    f = (leader + 1) % c->n;
    g = (leader + 2) % c->n;
    opened = flood_open(c, leader, fds, FLOOD_CONNS);
    if (opened < FLOOD_CONNS) {
        say("bad input: flood: only %d of %d connections to node %d opened",
            opened, FLOOD_CONNS, leader + 1);
        failed = 1;
    } else if (cl_status(c, leader, &p, 2000) != 0) {
        say("bad input: flood: node %d does not answer STATUS with %d stalled "
            "connections open", leader + 1, opened);
        failed = 1;
    }
    if (!failed) {
        cl_stop(c, f, SIGKILL);
        cl_log_note(c, f, "=== counter test: SIGKILL (flood check) ===\n");
        if (cl_pids[g] > 0) {
            kill(cl_pids[g], SIGSTOP);
        }
        cl_start(c, f);
        memset(&o, 0, sizeof(o));
        q.client_id = cl_rand(rng) | 1;
        o.client = q.client_id;
        o.seq = 1;
        o.type = CTR_OP_INCR;
        o.amount = 1;
        cl_client_init(&cc, c, leader, cl_rand(rng));
        o.invoke = cl_now_us() - g_t0;
        if (cl_client_do(&cc, &q, &p, cl_now_us() + 10000000, NULL) != 0) {
            say("bad input: flood: with node %d restarted and node %d paused, "
                "an INCR through node %d does not commit", f + 1, g + 1,
                leader + 1);
            o.complete = -1;
            failed = 1;
        } else {
            o.complete = cl_now_us() - g_t0;
            o.value = p.value;
        }
        if (cl_pids[g] > 0) {
            kill(cl_pids[g], SIGCONT);
        }
        hist_push(&g_pre, &o); /* part of the history checked later */
        cl_client_close(&cc);
    }
    /* The commit reaches every node, the paused one included. */
    until = cl_now_us() + 5000000;
    for (i = 0; !failed && i < c->n; i++) {
        struct ctr_resp r;
        while (cl_status(c, i, &r, 500) != 0 || r.applied < p.commit) {
            if (cl_now_us() >= until) {
                say("bad input: flood: node %d has not applied index %" PRIu64
                    " within 5 s", i + 1, p.commit);
                failed = 1;
                break;
            }
            cl_sleep_ms(20);
        }
    }
    for (i = 0; i < FLOOD_CONNS; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    for (i = 0; i < c->n; i++) {
        if (cl_check_exited(c, i)) {
            say("bad input: node %d exited", i + 1);
            failed = 1;
        }
    }
    if (!failed) {
        say("bad input: %d stalled connections to node %d (the leader, %d "
            "slots) left open: STATUS answered; node %d restarted and got "
            "back in; with node %d paused, an INCR sent to node %d committed "
            "and reached all nodes (%.1f s)", opened, leader + 1,
            SERVER_MAX_CONNS, f + 1, g + 1, leader + 1,
            (double)(cl_now_us() - t0) / 1e6);
    }
    return failed ? -1 : 0;
}

static int test_bad_input(struct cluster *c, uint64_t *rng)
{
    enum { H = CTR_HELLO_LEN };
    uint8_t buf[H + 600];
    int node, failed = 0;
    size_t i;
    for (node = 0; node < c->n; node++) {
        const char *what[16], *how[16];
        int nw = 0, stalled[3] = {-1, -1, -1}, k;
        uint64_t other = (uint64_t)((node + 1) % c->n) + 1;
        struct ctr_resp p;
        struct ctr_req q;

        /* Peer side, after a valid hello: garbage. */
        peer_hello(c, node, other, &c->token, buf);
        for (i = H; i < H + 299; i++) {
            buf[i] = (uint8_t)cl_rand(rng);
        }
        what[nw] = "peer hello + 299 random bytes";
        how[nw++] = poke(c, node, buf, H + 299, 300, NULL);
        /* Peer side: a truncated AppendEntries frame (length 64 + entry,
         * only 40 bytes sent), then close. */
        memset(buf + H, 0, sizeof(buf) - H);
        ctr_put32(buf + H, 64 + 16 + 32);
        buf[H + 4] = 1; /* version */
        buf[H + 5] = 3; /* AppendEntries */
        ctr_put64(buf + H + 8, other);
        ctr_put64(buf + H + 16, (uint64_t)node + 1);
        ctr_put64(buf + H + 24, 1);
        what[nw] = "peer hello + truncated AppendEntries frame";
        how[nw++] = poke(c, node, buf, H + 40, 300, NULL);
        /* Peer side: an absurd length prefix. */
        ctr_put32(buf + H, 0xFFFFFFF0u);
        what[nw] = "peer hello + length 0xFFFFFFF0";
        how[nw++] = poke(c, node, buf, H + 32, 300, NULL);
        /* Peer side: a length below the header size. */
        ctr_put32(buf + H, 3);
        what[nw] = "peer hello + length 3";
        how[nw++] = poke(c, node, buf, H + 8, 300, NULL);
        /* Client side, after a valid hello: a bad length field. */
        client_hello(&c->token, buf);
        for (i = H; i < H + CTR_REQ_LEN; i++) {
            buf[i] = (uint8_t)cl_rand(rng);
        }
        ctr_put32(buf + H, 0x7FFFFFFFu);
        what[nw] = "client hello + 32 garbage bytes";
        how[nw++] = poke(c, node, buf, H + CTR_REQ_LEN, 300, NULL);
        /* Client side: well-formed length, unknown op. */
        q.op = CTR_OP_INCR;
        q.client_id = 0xBAD;
        q.seq = 1;
        q.amount = 1;
        ctr_req_encode(&q, buf + H);
        buf[H + 4] = 99;
        what[nw] = "client hello + request with unknown op";
        how[nw++] = poke(c, node, buf, H + CTR_REQ_LEN, 300, NULL);
        /* Client side: non-zero reserved bytes. */
        ctr_req_encode(&q, buf + H);
        buf[H + 6] = 1;
        what[nw] = "client hello + request, reserved bytes set";
        how[nw++] = poke(c, node, buf, H + CTR_REQ_LEN, 300, NULL);
        /* Client side: INCR with client_id 0. */
        q.client_id = 0;
        ctr_req_encode(&q, buf + H);
        what[nw] = "client hello + INCR with client_id 0";
        how[nw++] = poke(c, node, buf, H + CTR_REQ_LEN, 300, NULL);
        /* Client side: truncated request, then close. */
        q.client_id = 0xBAD;
        ctr_req_encode(&q, buf + H);
        what[nw] = "client hello + truncated request (10 of 32)";
        how[nw++] = poke(c, node, buf, H + 10, 300, NULL);
        /* Not a hello: an unknown first byte; the old bare 'C' and 'R'. */
        memset(buf, 0, sizeof(buf));
        buf[0] = 'X';
        what[nw] = "unknown first byte 'X'";
        how[nw++] = poke(c, node, buf, 20, 300, NULL);
        buf[0] = CTR_HELLO_CLIENT;
        ctr_req_encode(&q, buf + 1);
        what[nw] = "'C' + request (no hello: protocol 1)";
        how[nw++] = poke(c, node, buf, 1 + CTR_REQ_LEN, 300, NULL);
        client_hello(&c->token, buf);
        buf[4] = CTR_PROTO_VERSION + 1;
        what[nw] = "client hello of another protocol version";
        how[nw++] = poke(c, node, buf, H, 300, NULL);
        /* Stalled mid-frame, mid-request and mid-hello, left open during
         * the STATUS. */
        peer_hello(c, node, other, &c->token, buf);
        ctr_put32(buf + H, 48);
        poke(c, node, buf, H + 6, 0, &stalled[0]);
        client_hello(&c->token, buf);
        ctr_put32(buf + H, CTR_REQ_LEN);
        poke(c, node, buf, H + 6, 0, &stalled[1]);
        poke(c, node, buf, H / 2, 0, &stalled[2]);

        if (cl_status(c, node, &p, 2000) != 0) {
            say("bad input: node %d does not answer STATUS afterwards", node + 1);
            failed = 1;
        } else if (cl_check_exited(c, node)) {
            say("bad input: node %d exited", node + 1);
            failed = 1;
        }
        for (k = 0; k < 3; k++) {
            if (stalled[k] >= 0) {
                close(stalled[k]);
            }
        }
        if (node == 0) {
            for (k = 0; k < nw; k++) {
                say("bad input: %-44s -> %s", what[k], how[k]);
            }
        }
    }
    /* Still a working cluster: a leader, and an increment goes through. */
    if (!failed) {
        struct cl_client cc;
        struct ctr_req q = {CTR_OP_INCR, 0, 1, 1};
        struct ctr_resp p;
        struct lin_op o;
        memset(&o, 0, sizeof(o));
        q.client_id = cl_rand(rng) | 1;
        o.client = q.client_id;
        o.seq = 1;
        o.type = CTR_OP_INCR;
        o.amount = 1;
        cl_client_init(&cc, c, 0, cl_rand(rng));
        o.invoke = cl_now_us() - g_t0;
        if (cl_client_do(&cc, &q, &p, cl_now_us() + 10000000, NULL) != 0) {
            say("bad input: an increment does not go through afterwards");
            o.complete = -1;
            failed = 1;
        } else {
            o.complete = cl_now_us() - g_t0;
            o.value = p.value;
        }
        hist_push(&g_pre, &o); /* part of the history checked later */
        cl_client_close(&cc);
        for (node = 0; node < c->n; node++) {
            if (cl_check_exited(c, node)) {
                say("bad input: node %d exited", node + 1);
                failed = 1;
            }
        }
    }
    if (!failed) {
        say("bad input: all %d nodes still serve (STATUS answered, an INCR "
            "committed)",
            c->n);
        failed = test_flood(c, rng) != 0;
    }
    return failed ? -1 : 0;
}

/* ---- the nemesis run ------------------------------------------------------ */

struct run {
    struct cluster *c;
    int64_t t0, end;
    _Atomic int stop;
    uint64_t nemesis_seed;
    int kills, leader_kills, double_kills, pauses;
    uint64_t reads_served, reads_failed, lease_reads; /* library counters,
                                          * taken before every kill */
    /* Membership changes during the run (see reconf_main). */
    int mode;           /* RECONF_NONE, RECONF_MIXED, RECONF_LEADER */
    int kills_on;       /* the kill/pause nemesis runs */
    pthread_mutex_t mu; /* held to start or stop a node, and for: */
    int active[CL_MAX]; /* started, not removed: the nemesis may kill it
                         * and then restarts it */
    int gone[CL_MAX];   /* removed from the configuration and stopped for
                         * good (its files stay, for the checks) */
    int next_spare;     /* the next node never started (c->n: none left) */
    int newest;         /* the node added last, -1: none */
    int added, promoted, removed, leaders_removed, clean_handovers;
    int transfers, transfers_done, changes_failed;
    char reconf_err[256]; /* the first thing that went wrong */
};

enum { RECONF_NONE, RECONF_MIXED, RECONF_LEADER };

/* Node i of the run is active: start it unless it is gone. */
static void run_start(struct run *r, int i)
{
    pthread_mutex_lock(&r->mu);
    if (r->active[i] && !r->gone[i]) {
        cl_start(r->c, i);
    }
    pthread_mutex_unlock(&r->mu);
}

/* A random active node other than `except`, or -1. */
static int run_pick(struct run *r, uint64_t *rng, int except)
{
    int cand[CL_MAX], n = 0, i;
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->c->n; i++) {
        if (r->active[i] && !r->gone[i] && i != except) {
            cand[n++] = i;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return n > 0 ? cand[cl_rand_range(rng, 0, (uint64_t)n - 1)] : -1;
}

/* Add node i's read counters (since it started) to the run's: called
 * before the node is killed, and for every node at the end of the run. */
static void count_reads(struct run *r, int i)
{
    struct ctr_resp p;
    if (cl_running(r->c, i) && cl_metrics(r->c, i, &p, 300) == 0) {
        r->reads_served += p.metrics[CTR_M_reads_served];
        r->reads_failed += p.metrics[CTR_M_reads_failed];
        r->lease_reads += p.metrics[CTR_M_reads_lease];
    }
}

struct client_ctx {
    struct run *run;
    int idx;
    uint64_t client_id, rng;
    struct history h;
    struct cl_client cc;
    int error;
    char errmsg[256];
};

static void *client_main(void *arg)
{
    struct client_ctx *x = arg;
    struct run *r = x->run;
    uint64_t seq = 1;
    cl_client_init(&x->cc, r->c, x->idx, x->rng ^ 0xC11E47u);
    while (!r->stop && cl_now_us() < r->end) {
        struct lin_op o;
        struct ctr_req q;
        struct ctr_resp p;
        int rc;
        memset(&o, 0, sizeof(o));
        o.client = x->client_id;
        o.seq = seq;
        o.type = cl_rand_range(&x->rng, 0, 99) < GET_PERCENT ? CTR_OP_GET
                                                             : CTR_OP_INCR;
        o.amount = o.type == CTR_OP_INCR ? cl_rand_range(&x->rng, 1, 10) : 0;
        q.op = o.type;
        q.client_id = o.client;
        q.seq = o.seq;
        q.amount = o.amount;
        o.invoke = cl_now_us() - g_t0;
        rc = cl_client_do(&x->cc, &q, &p, r->end, &r->stop);
        if (rc == 0) {
            o.complete = cl_now_us() - g_t0;
            o.value = p.value;
        } else {
            o.complete = -1;
        }
        if (hist_push(&x->h, &o) != 0) {
            x->error = 1;
            snprintf(x->errmsg, sizeof(x->errmsg), "out of memory");
            break;
        }
        if (rc < 0) {
            x->error = 1;
            snprintf(x->errmsg, sizeof(x->errmsg),
                     "client %d: the server answered a well-formed request "
                     "(seq %" PRIu64 ") with CTR_BAD_REQUEST or a malformed "
                     "response",
                     x->idx, seq);
            break;
        }
        if (rc == 1) {
            break; /* gave up at the end of the run */
        }
        seq++;
    }
    cl_client_close(&x->cc);
    return NULL;
}

static void nemesis_sleep(struct run *r, int64_t ms)
{
    int64_t until = cl_now_us() + ms * 1000;
    while (!r->stop && cl_now_us() < until) {
        cl_sleep_ms(20);
    }
}

static void *nemesis_main(void *arg)
{
    struct run *r = arg;
    struct cluster *c = r->c;
    uint64_t rng = r->nemesis_seed;
    int round = 0;
    for (;;) {
        int victims[2], nv = 0, i, leader = -1, pause;
        uint64_t term = 0;
        int64_t down_ms;
        nemesis_sleep(r, (int64_t)cl_rand_range(&rng, 1200, 2500));
        down_ms = (int64_t)cl_rand_range(&rng, 200, 1500);
        /* Leave room for this round and the final kill before the end. */
        if (r->stop || cl_now_us() + down_ms * 1000 + 1500000 >= r->end) {
            break;
        }
        for (i = 0; i < c->n; i++) {
            if (cl_check_exited(c, i)) {
                printf("  nemesis: node %d exited on its own; restarting it\n",
                       i + 1);
                run_start(r, i);
            }
        }
        /* Even rounds go for the leader; every opt_pause_every-th round
         * pauses it (SIGSTOP for longer than the election timeout: a
         * deposed leader that later wakes up) instead of killing a node;
         * rounds 4, 9, 14, ... kill a second node too. */
        pause = round % opt_pause_every == opt_pause_every - 1;
        if (round % 2 == 0 || pause) {
            int64_t until = cl_now_us() + 2000000;
            while ((leader = cl_find_leader(c, &term)) < 0 &&
                   cl_now_us() < until && !r->stop) {
                cl_sleep_ms(50);
            }
        }
        victims[nv++] = leader >= 0 ? leader : run_pick(r, &rng, -1);
        if (victims[0] < 0) {
            continue;
        }
        if (pause) {
            pid_t pid = cl_pids[victims[0]];
            down_ms += 500;
            if (pid > 0) {
                kill(pid, SIGSTOP);
            }
            r->pauses++;
            printf("  nemesis t=%5.1fs: SIGSTOP node %d%s for %.2f s, then "
                   "SIGCONT\n",
                   (double)(cl_now_us() - r->t0) / 1e6, victims[0] + 1,
                   leader >= 0 ? " (the leader)" : "", (double)down_ms / 1e3);
            fflush(stdout);
            nemesis_sleep(r, down_ms);
            if (pid > 0) {
                kill(pid, SIGCONT);
            }
            round++;
            continue;
        }
        if (round % 5 == 4 && (victims[nv] = run_pick(r, &rng, victims[0])) >= 0) {
            nv++;
            r->double_kills++;
        }
        for (i = 0; i < nv; i++) {
            count_reads(r, victims[i]);
            pthread_mutex_lock(&r->mu);
            cl_stop(c, victims[i], SIGKILL);
            pthread_mutex_unlock(&r->mu);
            cl_log_note(c, victims[i], "=== counter test: SIGKILL ===\n");
            r->kills++;
        }
        if (leader >= 0) {
            r->leader_kills++;
        }
        if (nv == 1) {
            printf("  nemesis t=%5.1fs: SIGKILL node %d%s, restart after %.2f s\n",
                   (double)(cl_now_us() - r->t0) / 1e6, victims[0] + 1,
                   leader >= 0 ? " (the leader)" : "", (double)down_ms / 1e3);
        } else {
            printf("  nemesis t=%5.1fs: SIGKILL nodes %d%s and %d (no majority), "
                   "restart after %.2f s\n",
                   (double)(cl_now_us() - r->t0) / 1e6, victims[0] + 1,
                   leader >= 0 ? " (the leader)" : "", victims[1] + 1,
                   (double)down_ms / 1e3);
        }
        fflush(stdout);
        nemesis_sleep(r, down_ms);
        for (i = 0; i < nv; i++) {
            run_start(r, victims[i]);
        }
        round++;
    }
    /* A last kill of the leader just before the end, not restarted until
     * the heal: requests in flight then end with an unknown outcome (some
     * applied, some not), which the checks must sort out. */
    if (!r->stop) {
        int leader;
        uint64_t term;
        int64_t until = r->end - 300000;
        while (cl_now_us() < until && !r->stop) {
            cl_sleep_ms(10);
        }
        leader = cl_find_leader(c, &term);
        if (leader >= 0 && !r->stop) {
            count_reads(r, leader);
            pthread_mutex_lock(&r->mu);
            cl_stop(c, leader, SIGKILL);
            pthread_mutex_unlock(&r->mu);
            cl_log_note(c, leader, "=== counter test: SIGKILL ===\n");
            r->kills++;
            r->leader_kills++;
            printf("  nemesis t=%5.1fs: SIGKILL node %d (the leader), left down "
                   "until the end of the run\n",
                   (double)(cl_now_us() - r->t0) / 1e6, leader + 1);
            fflush(stdout);
        }
    }
    return NULL;
}

static int check(int ok, const char *fmt, ...)
{
    va_list ap;
    printf("counter-e2e: check: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(": %s\n", ok ? "ok" : "FAILED");
    fflush(stdout);
    return ok ? 0 : -1;
}

/* How many snapshots the nodes took and installed during the run, and
 * how many restarts began from one, from their logs (every start of a
 * node appends to the same file). */
static void report_snapshots(const struct cluster *c, int *failed)
{
    int i, taken = 0, installed = 0, restarts = 0, from_snap = 0, sent = 0;
    for (i = 0; i < c->n; i++) {
        taken += count_log_lines(c, i, " took snapshot ");
        installed += count_log_lines(c, i, " installed snapshot ");
        sent += count_log_lines(c, i, " sending snapshot ");
        restarts += count_log_lines(c, i, " restored from ");
        from_snap += count_log_lines(c, i, " restored from ") -
                     count_log_lines(c, i, ": no snapshot, ");
    }
    say("snapshots (--snapshot-every %d): %d taken, %d streams started, %d "
        "installed from a leader; %d of %d restarts began from a snapshot",
        opt_snapshot_every, taken, sent, installed, from_snap, restarts);
    if (opt_snapshot_every > 0 && opt_seconds >= 20) {
        *failed |= check(taken > 0 && installed > 0 && from_snap > 0,
                         "snapshots were taken, installed and restarted "
                         "from") != 0;
    }
}

/* ---- the lease probe --------------------------------------------------------
 *
 * A targeted stale-read attempt on a cluster with --lease-reads. The
 * leader L gets a client connection and answers a GET on it; then L is
 * SIGSTOPped, and both other nodes are killed and restarted, so that
 * their links to L are new connections, which L accepts (and reads) only
 * after it ran one loop iteration. They elect a new leader, which commits
 * an INCR. The client then sends a GET on its old connection to the
 * stopped L and L is resumed. In its first iteration L reads that GET but
 * none of the new leader's messages: only the ticks it missed while
 * stopped tell it that its lease ran out. A server that dropped them would
 * answer from its lease with the value before the INCR.
 */

/* The leader among the nodes other than `skip`, or -1 within timeout. */
static int leader_except(const struct cluster *c, int skip, int64_t timeout_ms)
{
    int64_t until = cl_now_us() + timeout_ms * 1000;
    do {
        int i;
        for (i = 0; i < c->n; i++) {
            struct ctr_resp p;
            if (i != skip && cl_status(c, i, &p, 300) == 0 &&
                p.role == CL_ROLE_LEADER) {
                return i;
            }
        }
        cl_sleep_ms(50);
    } while (cl_now_us() < until);
    return -1;
}

/* An INCR of 1 (client cid, seq) on the leader among the nodes other than
 * `skip`; its value in *value. 0 on success. */
static int incr_except(const struct cluster *c, int skip, uint64_t cid,
                       uint64_t seq, uint64_t *value)
{
    int64_t until = cl_now_us() + 15000000;
    while (cl_now_us() < until) {
        struct ctr_req q = {CTR_OP_INCR, cid, seq, 1};
        struct ctr_resp p;
        int n = leader_except(c, skip, 5000), fd, rc;
        if (n < 0) {
            continue;
        }
        fd = cl_dial_client(c, c->addr[n], 2000);
        if (fd < 0) {
            continue;
        }
        rc = cl_exchange(fd, &q, &p, 2000);
        close(fd);
        if (rc == 0 && p.status == CTR_OK) {
            *value = p.value;
            return 0;
        }
        cl_sleep_ms(50);
    }
    return -1;
}

/* The probe's operations join the history the nemesis run checks. */
static void probe_record(uint64_t cid, uint64_t seq, uint8_t type,
                         int64_t invoke, int ok, uint64_t value)
{
    struct lin_op o;
    memset(&o, 0, sizeof(o));
    o.client = cid;
    o.seq = seq;
    o.type = type;
    o.amount = type == CTR_OP_INCR ? 1 : 0;
    o.invoke = invoke;
    o.complete = ok ? cl_now_us() - g_t0 : -1;
    o.value = ok ? value : 0;
    hist_push(&g_pre, &o);
}

static int lease_probe(struct cluster *c, uint64_t *rng, int round)
{
    struct ctr_req q;
    struct ctr_resp p;
    int64_t t_op;
    uint64_t cid = (cl_rand(rng) & ~(uint64_t)0xFF) | 0xEE, before, acked = 0;
    int L = cl_wait_leader(c, 10000), fd, i, rc;
    int64_t t_stop;
    pid_t pid;
    if (L < 0) {
        say("lease probe %d: no leader", round);
        return -1;
    }
    fd = cl_dial_client(c, c->addr[L], 2000);
    q.op = CTR_OP_GET;
    q.client_id = cid;
    q.seq = 1;
    q.amount = 0;
    t_op = cl_now_us() - g_t0;
    if (fd < 0 || cl_exchange(fd, &q, &p, 2000) != 0 || p.status != CTR_OK) {
        say("lease probe %d: node %d did not answer the first GET", round,
            L + 1);
        if (fd >= 0) {
            close(fd);
        }
        return 0; /* it may have lost the leadership just now: no verdict */
    }
    before = p.value;
    probe_record(cid, 1, CTR_OP_GET, t_op, 1, before);
    pid = cl_pids[L];
    kill(pid, SIGSTOP);
    t_stop = cl_now_us();
    for (i = 0; i < c->n; i++) {
        if (i != L) {
            cl_stop(c, i, SIGKILL);
            cl_log_note(c, i, "=== counter test: SIGKILL (lease probe) ===\n");
            cl_start(c, i);
        }
    }
    t_op = cl_now_us() - g_t0;
    rc = incr_except(c, L, cid, 2, &acked);
    probe_record(cid, 2, CTR_OP_INCR, t_op, rc == 0, acked);
    q.seq = 3;
    t_op = cl_now_us() - g_t0;
    {
        uint8_t req[CTR_REQ_LEN];
        ctr_req_encode(&q, req);
        if (rc == 0 && ctr_write_full(fd, req, sizeof(req)) != 0) {
            rc = -1;
        }
    }
    kill(pid, SIGCONT);
    if (rc != 0) {
        say("lease probe %d: the other nodes committed no INCR while node %d "
            "was stopped", round, L + 1);
        close(fd);
        return -1;
    }
    cl_set_timeout(fd, 5000);
    rc = cl_read_resp(fd, &p);
    close(fd);
    probe_record(cid, 3, CTR_OP_GET, t_op, rc == 0 && p.status == CTR_OK,
                 p.value);
    if (rc == 0 && p.status == CTR_OK && p.value < acked) {
        return check(0, "lease probe %d: node %d, stopped for %.1f s while "
                     "the others elected a leader that committed an INCR "
                     "(-> %" PRIu64 "), answered a GET sent after it with "
                     "%" PRIu64 ": a stale read from an expired lease",
                     round, L + 1, (double)(cl_now_us() - t_stop) / 1e6,
                     acked, p.value);
    }
    say("lease probe %d: node %d, stopped for %.1f s while the others "
        "committed an INCR (%" PRIu64 " -> %" PRIu64 "), answered the GET "
        "sent meanwhile with %s%s",
        round, L + 1, (double)(cl_now_us() - t_stop) / 1e6, before, acked,
        rc != 0                     ? "nothing (connection closed)"
        : p.status == CTR_OK        ? "OK, the new value"
        : p.status == CTR_NOT_LEADER ? "NOT_LEADER"
        : p.status == CTR_RETRY     ? "RETRY"
                                    : "another status",
        rc == 0 && p.status == CTR_OK ? "" : " (not from its lease)");
    return 0;
}

/* ---- membership changes during a run ----------------------------------------
 *
 * reconf_main runs beside the clients (and the kill/pause nemesis, in
 * RECONF_MIXED) and keeps changing the configuration through the client
 * protocol, as counter-cli does: it starts a spare node (--join) and adds
 * it as a learner, promotes it once it has caught up, removes a voter
 * (the leader every third time, or every time in RECONF_LEADER) and, in
 * RECONF_MIXED, hands leadership to another voter between replacements.
 * A removed node is stopped for good (SIGKILL); its files stay for the
 * checks. In RECONF_LEADER (no kills) every removal of the leader must
 * hand over cleanly: the next leader is elected in the next term, by a
 * campaign of the leadership transfer (no pre-vote first: a pre-vote is
 * what a node whose election timer fired starts with).
 */

/* The leader's CONF answer (with progress) within timeout_ms: the
 * leader's index, or -1. */
static int leader_conf(struct run *r, struct ctr_resp *p, int64_t timeout_ms)
{
    int64_t until = cl_now_us() + timeout_ms * 1000;
    do {
        int l = cl_find_leader(r->c, NULL);
        if (l >= 0 && cl_conf(r->c, l, p, 500) == 0 &&
            (p->conf_flags & CTR_CONF_PROGRESS)) {
            return l;
        }
        cl_sleep_ms(50);
    } while (cl_now_us() < until && !r->stop);
    return -1;
}

static void reconf_fail(struct run *r, const char *fmt, ...)
{
    va_list ap;
    r->changes_failed++;
    if (r->reconf_err[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(r->reconf_err, sizeof(r->reconf_err), fmt, ap);
        va_end(ap);
    }
}

/* A client request `op` with amount `id` (a membership op, CTR_OP_ADD_LEARNER
 * ... CTR_OP_TRANSFER on node `id`, or CTR_OP_CONF) through the client
 * protocol, starting at a random node (the client follows NOT_LEADER): 0
 * done, -1 refused, 1 no answer within 15 s. */
static int member_op(struct cluster *c, uint64_t *rng, uint8_t op,
                     uint64_t id, struct ctr_resp *p)
{
    struct cl_client cc;
    struct ctr_req q = {0, 0, 0, 0};
    int rc;
    q.op = op;
    q.amount = id;
    cl_client_init(&cc, c, (int)cl_rand_range(rng, 0, (uint64_t)c->n - 1),
                   cl_rand(rng));
    rc = cl_client_do(&cc, &q, p, cl_now_us() + 15000000, NULL);
    cl_client_close(&cc);
    return rc;
}

static const char *op_name(uint8_t op)
{
    return op == CTR_OP_ADD_LEARNER ? "add-learner"
           : op == CTR_OP_ADD_VOTER ? "promote"
           : op == CTR_OP_REMOVE    ? "remove"
                                    : "transfer";
}

/* The op, reported; 0 if done. */
static int reconf_do(struct run *r, uint64_t *rng, uint8_t op, int node)
{
    struct ctr_resp p;
    int rc = member_op(r->c, rng, op, (uint64_t)node + 1, &p);
    printf("  reconf  t=%5.1fs: %s %d: %s\n",
           (double)(cl_now_us() - r->t0) / 1e6, op_name(op), node + 1,
           rc == 0 ? "done" : rc < 0 ? "REFUSED" : "no answer within 15 s");
    fflush(stdout);
    if (rc != 0) {
        reconf_fail(r, "%s %d: %s", op_name(op), node + 1,
                    rc < 0 ? "refused" : "no answer within 15 s");
    }
    return rc;
}

/* Wait (at most 5 s) until the learner's match is close to the leader's
 * last index, so that promoting it does not stall commits. */
static void reconf_wait_caught_up(struct run *r, int node)
{
    int64_t until = cl_now_us() + 5000000;
    struct ctr_resp p;
    uint32_t k;
    while (cl_now_us() < until && !r->stop) {
        if (leader_conf(r, &p, 1000) >= 0) {
            for (k = 0; k < p.n_members; k++) {
                if (p.members[k].id == (uint64_t)node + 1 &&
                    p.members[k].match + 50 >= p.last_index) {
                    return;
                }
            }
        }
        cl_sleep_ms(50);
    }
}

/* Remove voter `victim` (index) and stop it for good. */
static void reconf_remove(struct run *r, uint64_t *rng, int victim,
                          const struct ctr_resp *conf)
{
    int was_leader = conf->node_id == (uint64_t)victim + 1;
    int prevotes[CL_MAX], i;
    uint64_t term = conf->term, nterm = 0;
    for (i = 0; i < r->c->n; i++) {
        prevotes[i] = count_log_lines(r->c, i, " role pre-candidate");
    }
    if (reconf_do(r, rng, CTR_OP_REMOVE, victim) != 0) {
        return;
    }
    r->removed++;
    if (was_leader) {
        int64_t until = cl_now_us() + 10000000;
        int l = -1;
        r->leaders_removed++;
        while (cl_now_us() < until && !r->stop) {
            struct ctr_resp st;
            l = leader_except(r->c, victim, 1000);
            if (l >= 0 && cl_status(r->c, l, &st, 500) == 0 &&
                st.role == CL_ROLE_LEADER) {
                nterm = st.term;
                break;
            }
        }
        if (l >= 0 && nterm == term + 1 &&
            count_log_lines(r->c, l, " role pre-candidate") == prevotes[l]) {
            r->clean_handovers++;
            printf("  reconf  t=%5.1fs: the removed leader %d handed over to "
                   "%d (term %" PRIu64 " -> %" PRIu64 ")\n",
                   (double)(cl_now_us() - r->t0) / 1e6, victim + 1, l + 1,
                   term, nterm);
        } else {
            printf("  reconf  t=%5.1fs: the removed leader %d: next leader %d "
                   "in term %" PRIu64 " (was %" PRIu64 ")%s\n",
                   (double)(cl_now_us() - r->t0) / 1e6, victim + 1, l + 1,
                   nterm, term,
                   l >= 0 && count_log_lines(r->c, l, " role pre-candidate") !=
                                 prevotes[l]
                       ? ", after a pre-vote: elected at a timeout, no "
                         "handover"
                       : "");
        }
    }
    pthread_mutex_lock(&r->mu);
    r->gone[victim] = 1;
    r->active[victim] = 0;
    count_reads(r, victim);
    cl_stop(r->c, victim, SIGKILL);
    pthread_mutex_unlock(&r->mu);
    cl_log_note(r->c, victim, "=== counter test: removed, stopped for good ===\n");
}

/* Hand leadership to a random running voter other than the leader, and
 * see whether it took effect: the target leads within 3 s, in the next
 * term, elected without a pre-vote (an election at a timeout, after a
 * kill, would start with one). */
static void reconf_transfer(struct run *r, uint64_t *rng,
                            const struct ctr_resp *conf)
{
    int cand[CL_MAX], n = 0, t, prevotes;
    uint32_t k;
    int64_t until;
    for (k = 0; k < conf->n_members; k++) {
        int i = (int)conf->members[k].id - 1;
        if (conf->members[k].flags == RAFT_MEMBER_VOTER &&
            conf->members[k].id != conf->node_id && i >= 0 && i < r->c->n &&
            cl_running(r->c, i)) {
            cand[n++] = i;
        }
    }
    if (n == 0) {
        return;
    }
    t = cand[cl_rand_range(rng, 0, (uint64_t)n - 1)];
    r->transfers++;
    prevotes = count_log_lines(r->c, t, " role pre-candidate");
    if (reconf_do(r, rng, CTR_OP_TRANSFER, t) != 0) {
        return;
    }
    until = cl_now_us() + 3000000;
    while (cl_now_us() < until) {
        struct ctr_resp st;
        if (cl_status(r->c, t, &st, 300) == 0 && st.role == CL_ROLE_LEADER) {
            int clean = st.term == conf->term + 1 &&
                        count_log_lines(r->c, t, " role pre-candidate") == prevotes;
            r->transfers_done += clean;
            printf("  reconf  t=%5.1fs: node %d leads (term %" PRIu64 "%s)\n",
                   (double)(cl_now_us() - r->t0) / 1e6, t + 1, st.term,
                   clean ? "" : ", elected at a timeout: not the transfer");
            return;
        }
        cl_sleep_ms(20);
    }
    printf("  reconf  t=%5.1fs: node %d does not lead 3 s after the transfer "
           "(killed or paused meanwhile?)\n",
           (double)(cl_now_us() - r->t0) / 1e6, t + 1);
}

static void *reconf_main(void *arg)
{
    struct run *r = arg;
    uint64_t rng = r->nemesis_seed ^ 0x7EC0F16u;
    int step = 0;
    while (!r->stop && cl_now_us() + 4000000 < r->end) {
        struct ctr_resp p;
        int voters[CL_MAX], nv = 0, learner = -1, victim, i;
        uint32_t k;
        nemesis_sleep(r, (int64_t)cl_rand_range(&rng, 800, 1600));
        if (leader_conf(r, &p, 5000) < 0 || (p.conf_flags & CTR_CONF_JOINT) ||
            p.commit < p.conf_index) {
            continue;
        }
        for (k = 0; k < p.n_members; k++) {
            i = (int)p.members[k].id - 1;
            if (i < 0 || i >= r->c->n) {
                continue;
            }
            if (p.members[k].flags == RAFT_MEMBER_VOTER) {
                voters[nv++] = i;
            } else if (p.members[k].flags == RAFT_MEMBER_LEARNER) {
                learner = i;
            }
        }
        if (learner >= 0) {
            reconf_wait_caught_up(r, learner);
            if (reconf_do(r, &rng, CTR_OP_ADD_VOTER, learner) == 0) {
                r->promoted++;
            }
        } else if (nv > 3) {
            /* Not the one just promoted; the leader every third time (every
             * time in RECONF_LEADER). */
            victim = (int)p.node_id - 1;
            if (r->mode == RECONF_MIXED && r->removed % 3 != 1) {
                do {
                    victim = voters[cl_rand_range(&rng, 0, (uint64_t)nv - 1)];
                } while (victim == r->newest || victim == (int)p.node_id - 1);
            }
            reconf_remove(r, &rng, victim, &p);
        } else if (r->mode == RECONF_MIXED && step++ % 2 == 1) {
            reconf_transfer(r, &rng, &p);
        } else if (r->next_spare < r->c->n) {
            int spare = r->next_spare++;
            pthread_mutex_lock(&r->mu);
            r->active[spare] = 1;
            cl_start(r->c, spare);
            pthread_mutex_unlock(&r->mu);
            if (reconf_do(r, &rng, CTR_OP_ADD_LEARNER, spare) == 0) {
                r->added++;
                r->newest = spare;
            }
        } else if (r->mode == RECONF_MIXED) {
            reconf_transfer(r, &rng, &p);
        } else {
            break;
        }
    }
    return NULL;
}

/* Every member (members[i]) reports the same configuration: the same
 * entry, the same members with the same roles. 0, or -1 after a failed
 * check. Waits up to 10 s for them to converge. */
static int conf_agree(const struct cluster *c, const int *members)
{
    static struct ctr_resp p0, p;
    int64_t until = cl_now_us() + 10000000;
    char text[256];
    int i, first, ok = 0;
    size_t off = 0;
    uint32_t k, j;
    for (first = 0; first < c->n && !members[first]; first++) {
    }
    while (!ok && first < c->n && cl_now_us() < until) {
        ok = cl_conf(c, first, &p0, 500) == 0;
        for (i = first + 1; ok && i < c->n; i++) {
            if (!members[i]) {
                continue;
            }
            /* Not conf_index: a node that restored or installed a snapshot
             * knows its configuration only as of the snapshot's index. */
            ok = cl_conf(c, i, &p, 500) == 0 && p.n_members == p0.n_members;
            for (k = 0; ok && k < p.n_members; k++) {
                for (j = 0; j < p0.n_members &&
                            (p0.members[j].id != p.members[k].id ||
                             p0.members[j].flags != p.members[k].flags);
                     j++) {
                }
                ok = j < p0.n_members;
            }
        }
        if (!ok) {
            cl_sleep_ms(200);
        }
    }
    text[0] = '\0';
    for (k = 0; ok && k < p0.n_members && off < sizeof(text); k++) {
        int w = snprintf(text + off, sizeof(text) - off, " n%" PRIu64 "%s",
                         p0.members[k].id,
                         p0.members[k].flags == RAFT_MEMBER_VOTER ? ""
                         : p0.members[k].flags == RAFT_MEMBER_LEARNER
                             ? " (learner)"
                             : " (joint)");
        off += w > 0 ? (size_t)w : 0;
    }
    return check(ok, "all members report the same configuration:%s",
                 ok ? text : " no");
}

/* The longest time between two acknowledged increments of the history
 * (by completion time) within [from, to] (microseconds since g_t0), the
 * ends of the window counting as acknowledgements; its end in *at. */
static int64_t longest_gap(const struct history *h, int64_t from, int64_t to,
                           int64_t *at)
{
    int64_t *t = calloc(h->n + 2, sizeof(*t)), best = 0;
    size_t n = 0, k, a, b;
    *at = from;
    if (t == NULL) {
        return -1;
    }
    t[n++] = from;
    for (k = 0; k < h->n; k++) {
        const struct lin_op *o = &h->ops[k];
        if (o->type == CTR_OP_INCR && o->complete >= from && o->complete <= to) {
            t[n++] = o->complete;
        }
    }
    t[n++] = to;
    for (a = 1; a < n; a++) { /* insertion sort: nearly sorted by client */
        int64_t x = t[a];
        for (b = a; b > 0 && t[b - 1] > x; b--) {
            t[b] = t[b - 1];
        }
        t[b] = x;
    }
    *at = from;
    for (k = 1; k < n; k++) {
        if (t[k] - t[k - 1] > best) {
            best = t[k] - t[k - 1];
            *at = t[k];
        }
    }
    free(t);
    return best;
}

static int test_nemesis(struct cluster *c, uint64_t *rng, int mode, int kills_on)
{
    struct run r;
    struct client_ctx *cx = calloc((size_t)opt_clients, sizeof(*cx));
    pthread_t *tids = calloc((size_t)opt_clients, sizeof(*tids)), nem, rec;
    int members[CL_MAX];
    int64_t gap, gap_at = 0;
    struct history all = {NULL, 0, 0};
    struct lin_cmd *witness = NULL;
    size_t nwitness = 0;
    uint64_t acked = 0, attempted = 0, n_inc = 0, n_get = 0, n_unknown = 0;
    uint64_t value = 0, commit = 0, replay = 0, value2 = 0, commit2 = 0;
    uint64_t attempts = 0, redirects = 0, timeouts = 0, retries = 0;
    int64_t t_end;
    int i, failed = 0;
    size_t k;
    char why[1024];

    for (k = 0; k < g_pre.n; k++) {
        hist_push(&all, &g_pre.ops[k]);
        if (g_pre.ops[k].type == CTR_OP_INCR) {
            attempted += g_pre.ops[k].amount;
            acked += g_pre.ops[k].complete >= 0 ? g_pre.ops[k].amount : 0;
        }
    }

    if (cx == NULL || tids == NULL) {
        say("out of memory");
        free(cx);
        free(tids);
        return -1;
    }
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.nemesis_seed = cl_rand(rng);
    r.mode = mode;
    r.kills_on = kills_on;
    pthread_mutex_init(&r.mu, NULL);
    for (i = 0; i < c->n_initial; i++) {
        r.active[i] = 1;
    }
    r.next_spare = c->n_initial;
    r.newest = -1;
    if (kills_on) {
        say("nemesis run: %d clients (%d%% GETs, %s) for %d s; every 1.2-2.5 s "
            "a node (often the leader, sometimes two) is SIGKILLed, or the "
            "leader SIGSTOPped for 0.7-2 s (every %s round)",
            opt_clients, GET_PERCENT,
            opt_lease ? "from the leader's lease" : "by ReadIndex", opt_seconds,
            opt_pause_every == 2 ? "other" : "fourth");
    } else {
        say("run: %d clients (%d%% GETs) for %d s, no kills", opt_clients,
            GET_PERCENT, opt_seconds);
    }
    if (mode == RECONF_MIXED) {
        say("membership changes meanwhile: nodes %d..%d start empty (--join) "
            "and replace the voters one by one (add-learner, promote, remove "
            "a voter, the leader every third time), leadership transferred "
            "between replacements", c->n_initial + 1, c->n);
    } else if (mode == RECONF_LEADER) {
        say("membership changes meanwhile: nodes %d..%d start empty (--join), "
            "each is added and promoted, then the leader is removed (it must "
            "hand over: the next leader elected in the next term)",
            c->n_initial + 1, c->n);
    }
    r.t0 = cl_now_us();
    r.end = r.t0 + (int64_t)opt_seconds * 1000000;
    for (i = 0; i < opt_clients; i++) {
        cx[i].run = &r;
        cx[i].idx = i;
        cx[i].client_id = (cl_rand(rng) & ~(uint64_t)0xFF) | (uint64_t)(i + 1);
        cx[i].rng = cl_rand(rng);
        if (pthread_create(&tids[i], NULL, client_main, &cx[i]) != 0) {
            say("pthread_create failed");
            r.stop = 1;
            opt_clients = i;
            failed = 1;
            break;
        }
    }
    if (kills_on && pthread_create(&nem, NULL, nemesis_main, &r) != 0) {
        say("pthread_create failed");
        r.stop = 1;
        failed = 1;
        kills_on = 0;
    }
    if (mode != RECONF_NONE && pthread_create(&rec, NULL, reconf_main, &r) != 0) {
        say("pthread_create failed");
        r.stop = 1;
        failed = 1;
        mode = RECONF_NONE;
    }
    if (kills_on) {
        pthread_join(nem, NULL);
    }
    if (mode != RECONF_NONE) {
        pthread_join(rec, NULL);
    }
    for (i = 0; i < opt_clients; i++) {
        pthread_join(tids[i], NULL);
    }
    t_end = cl_now_us();

    /* Collect the history. */
    for (i = 0; i < opt_clients; i++) {
        struct client_ctx *x = &cx[i];
        if (x->error) {
            say("%s", x->errmsg);
            failed = 1;
        }
        attempts += x->cc.attempts;
        redirects += x->cc.redirects;
        timeouts += x->cc.timeouts;
        retries += x->cc.retries;
        for (k = 0; k < x->h.n; k++) {
            const struct lin_op *o = &x->h.ops[k];
            if (hist_push(&all, o) != 0) {
                say("out of memory");
                failed = 1;
                break;
            }
            if (o->type == CTR_OP_INCR) {
                attempted += o->amount;
                if (o->complete >= 0) {
                    acked += o->amount;
                    n_inc++;
                }
            } else if (o->complete >= 0) {
                n_get++;
            }
            if (o->complete < 0) {
                n_unknown++;
            }
        }
        free(x->h.ops);
    }
    say("run: %" PRIu64 " INCRs and %" PRIu64 " GETs acknowledged (%.0f ops/s), "
        "%" PRIu64 " unknown at the end; %" PRIu64 " attempts, %" PRIu64
        " redirects, %" PRIu64 " timeouts, %" PRIu64 " CTR_RETRY",
        n_inc, n_get, (double)(n_inc + n_get) * 1e6 / (double)(t_end - r.t0),
        n_unknown, attempts, redirects, timeouts, retries);
    say("run: %d kills (%d of the leader, %d of two nodes at once), %d pauses",
        r.kills, r.leader_kills, r.double_kills, r.pauses);
    gap = longest_gap(&all, r.t0 - g_t0, t_end - g_t0, &gap_at);
    say("run: longest time without an acknowledged increment: %.0f ms (ending "
        "at t=%.1f s)", (double)gap / 1e3, (double)(gap_at - (r.t0 - g_t0)) / 1e6);
    if (mode != RECONF_NONE) {
        say("run: membership: %d learners added, %d promoted, %d voters "
            "removed (%d of them the leader, %d handed over cleanly), %d "
            "transfers (%d took effect: the target led within 3 s, in the next "
            "term, without a pre-vote), %d changes failed%s%s",
            r.added, r.promoted, r.removed, r.leaders_removed,
            r.clean_handovers, r.transfers, r.transfers_done,
            r.changes_failed, r.reconf_err[0] ? ": " : "", r.reconf_err);
        failed |= check(r.changes_failed == 0, "every membership change "
                        "completed") != 0;
        if (opt_seconds >= 20 || mode == RECONF_LEADER) {
            failed |= check(r.added > 0 && r.promoted > 0 && r.removed > 0 &&
                            (mode == RECONF_LEADER || r.transfers_done > 0),
                            "learners were added and promoted, voters "
                            "removed%s", mode == RECONF_MIXED
                            ? ", leadership transferred" : "") != 0;
        }
        if (mode == RECONF_LEADER) {
            failed |= check(r.leaders_removed > 0 &&
                            r.clean_handovers == r.leaders_removed,
                            "every removed leader handed over cleanly (%d of "
                            "%d)", r.clean_handovers, r.leaders_removed) != 0;
        }
    }
    for (i = 0; i < c->n; i++) {
        count_reads(&r, i);
    }
    say("run: the servers confirmed %" PRIu64 " reads (%" PRIu64 " from a "
        "lease) and failed %" PRIu64 " (leadership lost), by their counters",
        r.reads_served, r.lease_reads, r.reads_failed);
    if (opt_lease && opt_seconds >= 10) {
        failed |= check(r.lease_reads > 0, "the leader served reads from its "
                        "lease") != 0;
    } else if (!opt_lease && r.lease_reads > 0) {
        failed |= check(0, "no lease reads without --lease-reads") != 0;
    }
    if (c->crashed) {
        say("a server exited on its own: %s", c->crash_msg);
        failed = 1;
    }
    for (i = 0; i < c->n; i++) {
        if (cl_check_exited(c, i)) {
            say("a server exited on its own: %s", c->crash_msg);
            failed = 1;
        }
    }
    if (kills_on && opt_seconds >= 20 && r.leader_kills < 3) {
        say("the nemesis killed the leader only %d times", r.leader_kills);
        failed = 1;
    }

    /* Heal, then one more GET: a new leader answers reads only once an
     * entry of its term is committed, so everything before that entry in
     * its log is committed and nothing else ever will be. The members are
     * the leader's configuration (a removal that got no answer may not
     * have happened: such a node is started again). */
    for (i = 0; i < c->n; i++) {
        members[i] = r.active[i] && !r.gone[i];
        if (members[i]) {
            cl_start(c, i);
        }
    }
    if (mode != RECONF_NONE) {
        struct ctr_resp p;
        uint32_t m;
        if (leader_conf(&r, &p, 15000) < 0) {
            say("no leader within 15 s after healing");
        } else {
            for (i = 0; i < c->n; i++) {
                members[i] = 0;
            }
            for (m = 0; m < p.n_members; m++) {
                i = (int)p.members[m].id - 1;
                if (i >= 0 && i < c->n && p.members[m].flags != 0) {
                    members[i] = 1;
                    r.gone[i] = 0;
                    cl_start(c, i);
                }
            }
            failed |= conf_agree(c, members) != 0;
        }
    }
    if (cl_wait_leader(c, 15000) < 0) {
        say("no leader within 15 s after healing");
        failed = 1;
    } else {
        struct cl_client cc;
        struct ctr_req q;
        struct ctr_resp p;
        struct lin_op o;
        memset(&o, 0, sizeof(o));
        q.op = CTR_OP_GET;
        q.client_id = (cl_rand(rng) & ~(uint64_t)0xFF) | 0xFF;
        q.seq = 1;
        q.amount = 0;
        o.client = q.client_id;
        o.seq = 1;
        o.type = CTR_OP_GET;
        cl_client_init(&cc, c, 0, cl_rand(rng));
        o.invoke = cl_now_us() - g_t0;
        if (cl_client_do(&cc, &q, &p, cl_now_us() + 15000000, NULL) != 0) {
            say("the final GET did not complete within 15 s");
            failed = 1;
        } else {
            o.complete = cl_now_us() - g_t0;
            o.value = p.value;
            hist_push(&all, &o);
            say("after healing: GET -> %" PRIu64, p.value);
        }
        cl_client_close(&cc);
    }
    if (cl_wait_agree_set(c, members, 20000, &value, &commit) != 0) {
        for (i = 0; i < c->n; i++) {
            struct ctr_resp p;
            if (!members[i]) {
                continue;
            }
            if (cl_status(c, i, &p, 1000) == 0) {
                say("node %d: term %" PRIu64 " commit %" PRIu64 " applied %" PRIu64
                    " value %" PRIu64,
                    i + 1, p.term, p.commit, p.applied, p.value);
            } else {
                say("node %d: no STATUS answer", i + 1);
            }
        }
        check(0, "all nodes agree on commit index, applied index and value "
                 "within 20 s");
        failed = 1;
    } else {
        int nm = 0;
        for (i = 0; i < c->n; i++) {
            nm += members[i] != 0;
        }
        failed |= check(1, "all %d %s agree: commit %" PRIu64 ", applied %"
                        PRIu64 ", value %" PRIu64, nm,
                        mode != RECONF_NONE ? "members" : "nodes", commit,
                        commit, value);
    }
    failed |= check(acked <= value && value <= attempted,
                    "acknowledged increments applied exactly once: sum of "
                    "acknowledged %" PRIu64 " <= final %" PRIu64
                    " <= sum of attempted %" PRIu64,
                    acked, value, attempted);

    /* Stop the servers; read what they applied and what they hold. */
    cl_stop_all(c, SIGTERM);
    report_snapshots(c, &failed);
    if (commit == 0 ||
        check_files(c, members, commit, value, &witness, &nwitness) != 0) {
        failed = 1;
    } else {
        /* Exactly-once replay of the committed commands; the
         * linearizability check replays the same way and also proves the
         * history consistent. */
        int lin = -1;
        int lin0 = lin_check(all.ops, all.n, NULL, 0, NULL, why, sizeof(why));
        replay = replay_log(witness, nwitness);
        failed |= check(replay == value,
                        "exactly-once replay of the applied commands gives %"
                        PRIu64 ", the servers report %" PRIu64,
                        replay, value);
        failed |= check(lin0 == 0,
                        "history of %zu ops consistent with a linearizable "
                        "counter (order by returned values)%s%s",
                        all.n, lin0 == 0 ? "" : ": ", lin0 == 0 ? "" : why);
        if (lin0 == 0) {
            uint64_t v = 0;
            lin = lin_check(all.ops, all.n, witness, nwitness, &v, why,
                            sizeof(why));
            if (lin == 0 && v != replay) {
                lin = -1;
                snprintf(why, sizeof(why), "replays disagree");
            }
        }
        failed |= check(lin == 0,
                        "history linearizable with the committed log order "
                        "as the linearization%s%s",
                        lin == 0 ? "" : ": ", lin == 0 ? "" : why);
    }
    free(witness);

    /* Durability: restart the whole cluster; the value must survive. */
    for (i = 0; i < c->n; i++) {
        if (members[i]) {
            cl_start(c, i);
        }
    }
    if (cl_wait_leader(c, 15000) < 0 ||
        cl_wait_agree_set(c, members, 20000, &value2, &commit2) != 0) {
        check(0, "the cluster recovers after a full restart");
        failed = 1;
    } else {
        failed |= check(value2 == value && commit2 >= commit,
                        "after a full restart all nodes agree on value %" PRIu64
                        " (commit %" PRIu64 ")",
                        value2, commit2);
    }
    for (i = 0; i < c->n; i++) {
        if (cl_check_exited(c, i)) {
            say("a server exited on its own: %s", c->crash_msg);
            failed = 1;
        }
    }
    cl_stop_all(c, SIGTERM);
    pthread_mutex_destroy(&r.mu);

    free(all.ops);
    free(g_pre.ops);
    g_pre.ops = NULL;
    g_pre.n = g_pre.cap = 0;
    free(cx);
    free(tids);
    return failed ? -1 : 0;
}

/* ---- impostors ------------------------------------------------------------
 *
 * Connections that must not get in, sent to every node of a running
 * cluster while an honest client keeps incrementing and reading: a peer
 * and a client with a wrong token, a peer of another cluster (the right
 * token, another voter set), a peer claiming an id that is not a voter, a
 * peer sending as another voter than its hello named, and a peer with no
 * hello at all (protocol 1). Each peer sends, right after its hello, a
 * heartbeat of a leader with a term far above the cluster's (not a
 * RequestVote, which CheckQuorum ignores while a leader is heard): a node
 * that stepped it would adopt that term, so every node's term in STATUS
 * shows whether a single one got through. Each client sends an INCR of an
 * amount no honest client uses; the honest client is the only writer, so
 * every answer it gets is known exactly, and a stray increment would show.
 * Then a control:
 * the same heartbeat behind a correct hello must be taken (the term
 * jumps), which shows the probe would have been seen.
 */

#define IMPOSTOR_TERM 1000000u   /* no election of this test gets near it */
#define IMPOSTOR_AMOUNT 1000000u /* no honest client increments by this */

struct honest {
    struct cluster *c;
    _Atomic int stop;
    uint64_t client_id, rng;
    pthread_mutex_t mu; /* guards done and err */
    uint64_t done;      /* requests answered exactly as expected */
    char err[256];      /* the first thing that went wrong */
    uint64_t value;     /* the counter as of its last answer */
    struct history h;
};

/* Requests answered so far; *err (256 bytes) the error, if any. */
static uint64_t honest_progress(struct honest *x, char *err)
{
    uint64_t done;
    pthread_mutex_lock(&x->mu);
    done = x->done;
    memcpy(err, x->err, sizeof(x->err));
    pthread_mutex_unlock(&x->mu);
    return done;
}

/* Sequential GETs and INCRs of 1..3, each checked against the previous
 * answer: nobody else writes, so the counter is known exactly. */
static void *honest_main(void *arg)
{
    struct honest *x = arg;
    struct cl_client cc;
    uint64_t seq;
    char err[256];
    cl_client_init(&cc, x->c, 0, x->rng);
    for (seq = 1; !x->stop; seq++) {
        struct ctr_req q;
        struct ctr_resp p;
        struct lin_op o;
        int rc;
        err[0] = '\0';
        memset(&o, 0, sizeof(o));
        q.op = seq == 1 || seq % 4 == 0 ? CTR_OP_GET : CTR_OP_INCR;
        q.client_id = x->client_id;
        q.seq = seq;
        q.amount = q.op == CTR_OP_INCR ? cl_rand_range(&x->rng, 1, 3) : 0;
        o.client = q.client_id;
        o.seq = seq;
        o.type = q.op;
        o.amount = q.amount;
        o.invoke = cl_now_us() - g_t0;
        rc = cl_client_do(&cc, &q, &p, cl_now_us() + 10000000, NULL);
        o.complete = rc == 0 ? cl_now_us() - g_t0 : -1;
        o.value = rc == 0 ? p.value : 0;
        if (hist_push(&x->h, &o) != 0) {
            snprintf(err, sizeof(err), "out of memory");
        } else if (rc != 0) {
            snprintf(err, sizeof(err), "seq %" PRIu64 " (%s) got no answer "
                     "within 10 s", seq, q.op == CTR_OP_GET ? "GET" : "INCR");
        } else if (seq > 1 && p.value != x->value + q.amount) {
            snprintf(err, sizeof(err), "seq %" PRIu64 ": %s %" PRIu64
                     " returned %" PRIu64 ", expected %" PRIu64, seq,
                     q.op == CTR_OP_GET ? "GET" : "INCR", q.amount, p.value,
                     x->value + q.amount);
        }
        pthread_mutex_lock(&x->mu);
        if (err[0] != '\0') {
            memcpy(x->err, err, sizeof(err));
        } else {
            x->value = p.value;
            x->done++;
        }
        pthread_mutex_unlock(&x->mu);
        if (err[0] != '\0') {
            break;
        }
    }
    cl_client_close(&cc);
    return NULL;
}

/* Connect to node, send buf, and wait up to wait_ms for the server to
 * close. *local gets our address as the server sees it ("127.0.0.1:port");
 * *reply, if not NULL, the first response it sent, if any (*got_reply).
 * Returns 1 if it closed the connection, 0 if it kept it open, -1 if
 * connecting or sending failed. */
static int impostor_send(const struct cluster *c, int node, const uint8_t *buf,
                         size_t len, int wait_ms, char *local, size_t llen,
                         struct ctr_resp *reply, int *got_reply)
{
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    uint8_t ans[CTR_RESP_FIXED + CTR_ADDR_MAX];
    size_t have = 0;
    int64_t until = cl_now_us() + (int64_t)wait_ms * 1000;
    int fd = cl_dial(c->addr[node], 2000), closed = 0;
    if (got_reply != NULL) {
        *got_reply = 0;
    }
    if (fd < 0) {
        return -1;
    }
    if (getsockname(fd, (struct sockaddr *)&sa, &slen) != 0) {
        close(fd);
        return -1;
    }
    snprintf(local, llen, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    if (ctr_write_full(fd, buf, len) != 0) {
        close(fd);
        return -1;
    }
    while (cl_now_us() < until) {
        ssize_t r;
        cl_set_timeout(fd, (until - cl_now_us()) / 1000 + 1);
        r = read(fd, ans + have, have < sizeof(ans) ? sizeof(ans) - have : 1);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN &&
                       errno != EWOULDBLOCK)) {
            closed = 1;
            break;
        }
        if (r > 0 && have < sizeof(ans)) {
            have += (size_t)r;
        }
    }
    close(fd);
    if (reply != NULL && have >= 4 && ctr_get32(ans) <= have &&
        ctr_resp_decode(ans, ctr_get32(ans), reply) == 0) {
        *got_reply = 1;
    }
    return closed;
}

/* Does node i's log have a line containing both a and b? */
static int log_has(const struct cluster *c, int i, const char *a, const char *b)
{
    char path[CL_PATH_MAX], line[1024];
    int found = 0;
    FILE *f;
    cl_path(c, path, sizeof(path), i, ".log");
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        found = strstr(line, a) != NULL && strstr(line, b) != NULL;
    }
    fclose(f);
    return found;
}

/* A heartbeat from voter `from`, as the leader of IMPOSTOR_TERM, to node
 * (index), encoded into buf; its length, or 0 on error. Not a RequestVote:
 * with CheckQuorum a node that hears from its leader ignores those, so the
 * probe would prove nothing; a message from a leader of a higher term is
 * always taken, and the node adopts its term. */
static size_t impostor_msg(int node, uint64_t from, uint8_t *buf, size_t cap)
{
    struct raft_msg m;
    size_t len = 0;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_HEARTBEAT;
    m.from = from;
    m.to = (uint64_t)node + 1;
    m.term = IMPOSTOR_TERM;
    m.u.heartbeat.round = 1;
    return raft_msg_encode(&m, buf, cap, &len) == 0 ? len : 0;
}

enum {
    IMP_PEER_TOKEN,   /* a peer with a wrong token */
    IMP_PEER_SELF,    /* a peer claiming to be the node it calls */
    IMP_PEER_ID,      /* a peer claiming an id that is not in --peers */
    IMP_PEER_FROM,    /* a peer sending as another voter than its hello */
    IMP_PEER_BARE,    /* a peer with no hello (protocol 1) */
    IMP_CLIENT_TOKEN, /* a client with a wrong token */
    IMP_N
};

/* Encode impostor attempt `a` against node into buf; its length. *what
 * describes it, why is what the node's log line must say, and *reason the
 * CTR_REFUSED answer expected (-1: none, just a close). */
static size_t impostor_build(const struct cluster *c, int node, int a,
                             uint64_t *rng, uint8_t *buf, size_t cap,
                             const char **what, char *why, size_t wlen,
                             int *reason)
{
    enum { H = CTR_HELLO_LEN };
    struct ctr_token near = c->token, prefix = c->token;
    uint64_t j = (uint64_t)((node + 1) % c->n) + 1;
    uint64_t k = (uint64_t)((node + 2) % c->n) + 1;
    struct ctr_req q = {CTR_OP_INCR, 0, 1, IMPOSTOR_AMOUNT};
    /* Tokens that differ only in the last byte, or by being one byte
     * short: a comparison that stops early or trusts a length is caught. */
    near.bytes[near.len - 1] ^= 0x01;
    prefix.bytes[--prefix.len] = 0;
    *reason = a == IMP_PEER_FROM ? -1
              : a == IMP_PEER_SELF || a == IMP_PEER_ID ? CTR_REFUSE_PEER
              : a == IMP_PEER_BARE ? CTR_REFUSE_MAGIC
                                   : CTR_REFUSE_TOKEN;
    switch (a) {
    case IMP_PEER_TOKEN:
        *what = "peer with a wrong token (last byte differs)";
        snprintf(why, wlen, "refused: wrong cluster token");
        peer_hello(c, node, j, &near, buf);
        return H + impostor_msg(node, j, buf + H, cap - H);
    case IMP_PEER_SELF:
        *what = "peer claiming to be the node it calls";
        snprintf(why, wlen, "claims to be n%d, which is this node", node + 1);
        peer_hello(c, node, (uint64_t)node + 1, &c->token, buf);
        return H + impostor_msg(node, j, buf + H, cap - H);
    case IMP_PEER_ID:
        *what = "peer claiming id 99 (right token)";
        snprintf(why, wlen, "claims to be n99, not in --peers here");
        peer_hello(c, node, 99, &c->token, buf);
        return H + impostor_msg(node, 99, buf + H, cap - H);
    case IMP_PEER_FROM:
        *what = "peer sending as another voter (right token)";
        snprintf(why, wlen, "a message from n%" PRIu64 " on the connection "
                 "of n%" PRIu64, k, j);
        peer_hello(c, node, j, &c->token, buf);
        return H + impostor_msg(node, k, buf + H, cap - H);
    case IMP_PEER_BARE:
        *what = "peer without a hello (protocol 1)";
        snprintf(why, wlen, "refused: not a hello");
        buf[0] = CTR_HELLO_PEER;
        return 1 + impostor_msg(node, j, buf + 1, cap - 1);
    default:
        *what = "client with a wrong token (one byte short)";
        snprintf(why, wlen, "refused: wrong cluster token");
        client_hello(&prefix, buf);
        q.client_id = cl_rand(rng) | 1;
        ctr_req_encode(&q, buf + H);
        return H + CTR_REQ_LEN;
    }
}

/* Every attempt against node; 0 if each was closed and logged (and the
 * client told CTR_REFUSED). */
static int impostors_at(const struct cluster *c, int node, uint64_t *rng)
{
    uint8_t buf[CTR_HELLO_LEN + 256];
    int a, failed = 0;
    for (a = 0; a < IMP_N; a++) {
        const char *what = "";
        char local[32] = "", logged[128];
        struct ctr_resp reply;
        int got_reply = 0, closed, reason;
        size_t len = impostor_build(c, node, a, rng, buf, sizeof(buf), &what,
                                    logged, sizeof(logged), &reason);
        closed = impostor_send(c, node, buf, len, 3000, local, sizeof(local),
                               &reply, &got_reply);
        if (closed != 1) {
            say("impostors: node %d: %s: %s", node + 1, what,
                closed < 0 ? "could not connect or send"
                           : "the connection stayed open for 3 s");
            failed = 1;
        } else if (!log_has(c, node, local, logged)) {
            say("impostors: node %d: %s: no log line with '%s' and '%s'",
                node + 1, what, local, logged);
            failed = 1;
        } else if (reason >= 0 && (!got_reply || reply.status != CTR_REFUSED ||
                                   reply.value != (uint64_t)reason)) {
            say("impostors: node %d: %s: no CTR_REFUSED answer (%s)",
                node + 1, what, ctr_refusal_text(reason));
            failed = 1;
        } else if (reason < 0 && got_reply) {
            say("impostors: node %d: %s: answered", node + 1, what);
            failed = 1;
        } else if (node == 0) {
            say("impostors: %-47s -> %s%s, logged", what,
                got_reply ? "told " : "closed",
                got_reply ? ctr_refusal_text(reason) : "");
        }
    }
    return failed ? -1 : 0;
}

/* The highest term any node reports; -1 if one does not answer. */
static int64_t max_term(const struct cluster *c)
{
    uint64_t t = 0;
    int i;
    for (i = 0; i < c->n; i++) {
        struct ctr_resp p;
        if (cl_status(c, i, &p, 1000) != 0) {
            return -1;
        }
        t = p.term > t ? p.term : t;
    }
    return (int64_t)t;
}


/* A CONF answer carries at most CTR_MEMBERS_MAX members, so the servers
 * refuse to add a member past that many. Learners that never run (ids
 * 1001...) fill the configuration up to the cap; the next one must be
 * refused, and a removal at the cap must really be made (a server that
 * could not list the configuration once took every id for a non-member
 * and answered a removal done without proposing it). All are removed
 * again at the end. */
static int test_member_cap(struct cluster *c, uint64_t *rng)
{
    struct ctr_resp p;
    const uint64_t first = 1001;
    uint64_t id, next = first, want = CTR_MEMBERS_MAX - (uint64_t)c->n;
    int64_t until;
    int failed = 0, rc, gone = 0;
    uint32_t k;
    do {
        rc = member_op(c, rng, CTR_OP_ADD_LEARNER, next, &p);
        next += rc == 0;
    } while (rc == 0 && next - first <= want);
    say("member cap: %" PRIu64 " learners added to %d voters, the next "
        "one: %s", next - first, c->n,
        rc == 0 ? "added" : rc < 0 ? "refused" : "no answer within 15 s");
    if (rc >= 0 || next - first != want) {
        say("FAIL: member cap: want %" PRIu64 " learners added (%u members), "
            "then a refusal", want, CTR_MEMBERS_MAX);
        failed = 1;
    }
    /* A removal at the cap is made: the member leaves the list (as the
     * answering node sees it: retried while it may lag). */
    if (next > first && member_op(c, rng, CTR_OP_REMOVE, first, &p) == 0) {
        until = cl_now_us() + 5000000;
        while (!gone && cl_now_us() < until) {
            if (member_op(c, rng, CTR_OP_CONF, 0, &p) == 0) {
                for (k = 0; k < p.n_members && p.members[k].id != first; k++) {
                }
                gone = k == p.n_members;
            }
            if (!gone) {
                cl_sleep_ms(50);
            }
        }
        if (!gone) {
            say("FAIL: member cap: n%" PRIu64 ", removed at the cap, is still "
                "a member 5 s later", first);
            failed = 1;
        }
    } else if (next > first) {
        say("FAIL: member cap: removing n%" PRIu64 " was not done", first);
        failed = 1;
    }
    for (id = first + 1; id < next; id++) {
        if (member_op(c, rng, CTR_OP_REMOVE, id, &p) != 0) {
            say("FAIL: member cap: removing n%" PRIu64 " again failed", id);
            failed = 1;
            break;
        }
    }
    return failed;
}
/* The control: the same heartbeat behind a correct hello is taken. */
static int impostor_control(const struct cluster *c, int node)
{
    uint8_t buf[CTR_HELLO_LEN + 256];
    uint64_t j = (uint64_t)((node + 1) % c->n) + 1;
    char local[32];
    struct ctr_resp p;
    int64_t until = cl_now_us() + 3000000;
    size_t len;
    int closed;
    peer_hello(c, node, j, &c->token, buf);
    len = CTR_HELLO_LEN + impostor_msg(node, j, buf + CTR_HELLO_LEN,
                                        sizeof(buf) - CTR_HELLO_LEN);
    closed = impostor_send(c, node, buf, len, 300, local, sizeof(local), NULL,
                           NULL);
    if (closed != 0) {
        say("impostors: control: node %d %s the correct hello", node + 1,
            closed < 0 ? "could not be sent" : "closed the connection after");
        return -1;
    }
    while (cl_status(c, node, &p, 500) != 0 || p.term < IMPOSTOR_TERM) {
        if (cl_now_us() >= until) {
            say("impostors: control: node %d did not take the heartbeat of "
                "term %u behind a correct hello: the probe proves nothing",
                node + 1, IMPOSTOR_TERM);
            return -1;
        }
        cl_sleep_ms(20);
    }
    say("impostors: control: the same heartbeat behind a correct hello was "
        "taken (node %d now in term %" PRIu64 ")", node + 1, p.term);
    return 0;
}

static int test_impostors(struct cluster *c, uint64_t *rng)
{
    struct honest x;
    pthread_t t;
    uint64_t before, during, after, value = 0, commit = 0;
    int64_t term;
    int node, failed = 0;
    char err[256];
    size_t k;

    memset(&x, 0, sizeof(x));
    pthread_mutex_init(&x.mu, NULL);
    x.c = c;
    x.client_id = (cl_rand(rng) & ~(uint64_t)0xFF) | 0xAB;
    x.rng = cl_rand(rng);
    if (pthread_create(&t, NULL, honest_main, &x) != 0) {
        say("impostors: pthread_create failed");
        return -1;
    }
    cl_sleep_ms(300);
    before = honest_progress(&x, err);
    for (node = 0; node < c->n; node++) {
        failed |= impostors_at(c, node, rng) != 0;
        cl_sleep_ms(100);
    }
    during = honest_progress(&x, err) - before;
    term = max_term(c);
    failed |= check(term >= 0 && term < IMPOSTOR_TERM,
                    "impostors: no node took a message from them (highest "
                    "term %" PRId64 ", theirs %u)", term, IMPOSTOR_TERM);
    failed |= check(during > 0 && err[0] == '\0',
                    "impostors: the honest client got %" PRIu64 " exact "
                    "answers while they tried%s%s", during,
                    err[0] ? ": " : "", err);
    if (!failed) {
        failed |= impostor_control(c, (cl_wait_leader(c, 5000) + 1) % c->n);
    }
    before = honest_progress(&x, err);
    cl_sleep_ms(1500);
    x.stop = 1;
    pthread_join(t, NULL);
    after = honest_progress(&x, err);
    failed |= check(after > before && err[0] == '\0',
                    "impostors: the honest client got %" PRIu64 " exact "
                    "answers after the control%s%s", after - before,
                    err[0] ? ": " : "", err);
    if (cl_wait_agree(c, 10000, &value, &commit) != 0) {
        check(0, "impostors: all nodes agree afterwards");
        failed = 1;
    } else {
        failed |= check(value == x.value, "impostors: all nodes hold %" PRIu64
                        ", the honest client's count (no impostor increment "
                        "of %u)", value, IMPOSTOR_AMOUNT);
    }
    for (k = 0; k < x.h.n; k++) {
        hist_push(&g_pre, &x.h.ops[k]); /* part of the history checked later */
    }
    free(x.h.ops);
    pthread_mutex_destroy(&x.mu);
    for (node = 0; node < c->n; node++) {
        if (cl_check_exited(c, node)) {
            say("impostors: node %d exited", node + 1);
            failed = 1;
        }
    }
    return failed ? -1 : 0;
}

/* ---- main ----------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: counter-e2e --bin DIR [--seconds N] [--seed S] "
            "[--clients N] [--keep]\n"
            "                   [--only main,membership,leader,slow,lease]\n"
            "       counter-e2e -h | --help | --version\n"
            "  --bin      directory holding counter-server (required)\n"
            "  --seconds  length of the nemesis run, 1..86400 (default 30)\n"
            "  --seed     random seed (default: from the clock)\n"
            "  --clients  concurrent clients, 1..256 (default 8)\n"
            "  --keep     keep the temp dir even on success\n"
            "  --only     run only these parts (default: all)\n");
}

/* Is part `name` to run (--only)? */
static int want_part(const char *name)
{
    const char *p = opt_only;
    size_t n = strlen(name);
    while (p != NULL && *p != '\0') {
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0')) {
            return 1;
        }
        p = strchr(p, ',');
        p = p != NULL ? p + 1 : NULL;
    }
    return opt_only == NULL;
}

static void result(const char *name, int rc)
{
    if (rc == 0) {
        n_passed++;
        say("PASS %s", name);
    } else {
        n_failed++;
        say("FAIL %s", name);
    }
}

/* Start every server and wait for a leader; a failure is a failed test
 * named `what`. */
static int cluster_up(struct cluster *c, const char *what)
{
    int i;
    for (i = 0; i < c->n; i++) {
        cl_start(c, i);
    }
    if (cl_wait_leader(c, 15000) < 0) {
        say("no leader within 15 s of starting the servers");
        result(what, -1);
        return -1;
    }
    return 0;
}

/* Kill every server; keep the data and logs if anything failed. */
static void cluster_down(struct cluster *c)
{
    cl_stop_all(c, SIGKILL);
    if (n_failed == 0 && !opt_keep) {
        cl_remove_dir(c);
    } else {
        cl_dump_logs(c, 60);
        say("data and logs kept in %s", c->dir);
    }
}

int main(int argc, char **argv)
{
    struct ctr_flags f;
    struct cluster c;
    uint64_t rng;
    int rc;
    char path[CL_PATH_MAX];
    const char *tmp = getenv("TMPDIR");
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    opt_seed = ((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec * 1000003u ^
                (uint64_t)getpid()) % 1000000u;
    ctr_flags_init(&f, "counter-e2e", usage, argc, argv);
    while (ctr_flags_next(&f)) {
        const char *v;
        if (ctr_flag_is(&f, "--keep")) {
            opt_keep = 1;
        } else if ((v = ctr_flag_value(&f, "--bin")) != NULL) {
            opt_bin = v;
        } else if ((v = ctr_flag_value(&f, "--seconds")) != NULL) {
            opt_seconds = (int)ctr_flag_u64(&f, v, 1, 86400);
        } else if ((v = ctr_flag_value(&f, "--seed")) != NULL) {
            opt_seed = ctr_flag_u64(&f, v, 0, UINT64_MAX);
        } else if ((v = ctr_flag_value(&f, "--clients")) != NULL) {
            opt_clients = (int)ctr_flag_u64(&f, v, 1, 256);
        } else if ((v = ctr_flag_value(&f, "--only")) != NULL) {
            opt_only = v;
        } else {
            ctr_flag_unknown(&f);
        }
    }
    if (f.i < argc) {
        fprintf(stderr, "counter-e2e: unexpected argument '%s'\n", argv[f.i]);
        usage(stderr);
        return 2;
    }
    if (opt_bin == NULL) {
        ctr_flag_fail(&f, "--bin: required (the directory holding "
                      "counter-server)");
    }
    snprintf(path, sizeof(path), "%s/counter-server", opt_bin);
    if (access(path, X_OK) != 0) {
        ctr_flag_fail(&f, "--bin: %s: %s", path, strerror(errno));
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_t0 = cl_now_us();
    say("seed %" PRIu64, opt_seed);
    rng = opt_seed * 0x9E3779B97F4A7C15u + 1;
    /* Everything, including startup and healing of the five runs, within
     * 4 * seconds + 400. */
    cl_install_handlers((unsigned)opt_seconds * 4u + 400u);

    result("checker self-test", lin_selftest(opt_seed));

    snprintf(path, sizeof(path), "%s/counter-e2e.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (cl_init(&c, 3, opt_bin, path, &rng) != 0) {
        say("cannot set up the cluster");
        return 1;
    }
    if (!want_part("main")) {
        goto membership;
    }
    /* Small snapshot intervals and segments, so that during the nemesis
     * nodes compact, delete segments, restart from snapshots, and a node
     * restarted after others compacted past it installs one. Every node
     * records what it applies: the checks need every committed entry,
     * which no single log keeps any more. */
    c.extra[0] = "--snapshot-every=500";
    c.extra[1] = "--snapshot-trailing=100";
    c.extra[2] = "--segment-bytes=16384";
    c.extra[3] = "--record-applied";
    c.extra[4] = NULL;
    opt_snapshot_every = 500;
    say("cluster: %s, temp dir %s; --snapshot-every 500 --snapshot-trailing "
        "100 --segment-bytes 16384", c.peers, c.dir);
    /* The flood check opens more connections than a server has slots. */
    if (fd_limit_at_least(FLOOD_CONNS + 256) != 0) {
        say("cannot raise the open file limit to %d", FLOOD_CONNS + 256);
    }
    if (cluster_up(&c, "cluster start") == 0) {
        result("bad input", test_bad_input(&c, &rng));
        result("impostors", test_impostors(&c, &rng));
        result("member cap", test_member_cap(&c, &rng));
        rc = test_nemesis(&c, &rng, RECONF_NONE, 1);
        result("nemesis run", rc);
    }
    cluster_down(&c);

membership:
    /* Membership changes under the nemesis: spare nodes 4..7 start empty
     * and replace the voters one by one while nodes are killed and
     * paused; leadership moves between replacements. */
    if (n_failed == 0 && want_part("membership")) {
        if (cl_init(&c, 7, opt_bin, path, &rng) != 0 || cl_set_initial(&c, 3) != 0) {
            say("cannot set up the membership cluster");
            return 1;
        }
        c.extra[0] = "--snapshot-every=500";
        c.extra[1] = "--snapshot-trailing=100";
        c.extra[2] = "--segment-bytes=16384";
        c.extra[3] = "--record-applied";
        c.extra[4] = NULL;
        opt_snapshot_every = 500;
        say("membership cluster (voters 1..3 at first, spares 4..7; "
            "--snapshot-every 500): %s, temp dir %s", c.peers, c.dir);
        if (cluster_up(&c, "membership cluster start") == 0) {
            result("nemesis run, membership changes",
                   test_nemesis(&c, &rng, RECONF_MIXED, 1));
        }
        cluster_down(&c);
    }

    /* Removing the leader, without kills: it must hand over. */
    if (n_failed == 0 && want_part("leader")) {
        int full = opt_seconds;
        opt_seconds = full / 2 > 15 ? full / 2 : 15;
        if (cl_init(&c, 6, opt_bin, path, &rng) != 0 || cl_set_initial(&c, 3) != 0) {
            say("cannot set up the leader-removal cluster");
            return 1;
        }
        c.extra[0] = "--snapshot-every=500";
        c.extra[1] = "--snapshot-trailing=100";
        c.extra[2] = "--segment-bytes=16384";
        c.extra[3] = "--record-applied";
        c.extra[4] = NULL;
        opt_snapshot_every = 500;
        say("leader-removal cluster (voters 1..3 at first, spares 4..6): %s, "
            "temp dir %s", c.peers, c.dir);
        if (cluster_up(&c, "leader-removal cluster start") == 0) {
            result("leader removed: it hands over",
                   test_nemesis(&c, &rng, RECONF_LEADER, 0));
        }
        cluster_down(&c);
        opt_seconds = full;
    }

    /* Again with slow disks: every batch of writes waits 20 ms before it
     * goes to the files, so kills land while writes are in flight (the
     * leader's AppendEntries already sent, followers' acknowledgements
     * held back). Nothing acknowledged may be lost. */
    if (n_failed == 0 && want_part("slow")) {
        int full = opt_seconds;
        opt_seconds = full / 2 > 10 ? full / 2 : 10;
        if (cl_init(&c, 3, opt_bin, path, &rng) != 0) {
            say("cannot set up the slow-disk cluster");
            return 1;
        }
        c.extra[0] = "--write-delay-ms=20";
        c.extra[1] = "--snapshot-every=100";
        c.extra[2] = "--snapshot-trailing=20";
        c.extra[3] = "--segment-bytes=4096";
        c.extra[4] = "--record-applied";
        c.extra[5] = NULL;
        opt_snapshot_every = 100;
        say("slow-disk cluster (--write-delay-ms 20, --snapshot-every 100 "
            "--snapshot-trailing 20 --segment-bytes 4096): %s, temp dir %s",
            c.peers, c.dir);
        if (cluster_up(&c, "slow-disk cluster start") == 0) {
            result("nemesis run, writes in flight",
                   test_nemesis(&c, &rng, RECONF_NONE, 1));
        }
        cluster_down(&c);
        opt_seconds = full;
    }

    /* Lease reads: GETs answered from the leader's lease, without a
     * heartbeat round, while the nemesis pauses the leader (SIGSTOP for
     * longer than the election timeout) every other round. A paused
     * leader must count the ticks it missed (the server delivers them
     * before it looks at anything it read) or it would answer from a
     * lease that expired while others elected a new leader and committed
     * increments. */
    if (n_failed == 0 && want_part("lease")) {
        int full = opt_seconds;
        opt_seconds = full / 2 > 10 ? full / 2 : 10;
        if (cl_init(&c, 3, opt_bin, path, &rng) != 0) {
            say("cannot set up the lease-read cluster");
            return 1;
        }
        c.extra[0] = "--lease-reads";
        c.extra[1] = "--snapshot-every=500";
        c.extra[2] = "--snapshot-trailing=100";
        c.extra[3] = "--segment-bytes=16384";
        c.extra[4] = "--record-applied";
        c.extra[5] = NULL;
        opt_snapshot_every = 500;
        opt_pause_every = 2;
        opt_lease = 1;
        say("lease-read cluster (--lease-reads, --snapshot-every 500): %s, "
            "temp dir %s", c.peers, c.dir);
        if (cluster_up(&c, "lease-read cluster start") == 0) {
            int k, probe = 0;
            for (k = 1; k <= LEASE_PROBES && probe == 0; k++) {
                probe = lease_probe(&c, &rng, k);
            }
            result("lease probe", probe);
            result("nemesis run, lease reads",
                   test_nemesis(&c, &rng, RECONF_NONE, 1));
        }
        cluster_down(&c);
        opt_pause_every = 4;
        opt_lease = 0;
        opt_seconds = full;
    }
    if (n_failed > 0) {
        say("FAILED with seed %" PRIu64 "; rerun: %s --bin %s --seconds %d "
            "--seed %" PRIu64 " --clients %d",
            opt_seed, argv[0], opt_bin, opt_seconds, opt_seed, opt_clients);
    }
    say("%d passed, %d failed", n_passed, n_failed);
    return n_failed > 0 ? 1 : 0;
}
