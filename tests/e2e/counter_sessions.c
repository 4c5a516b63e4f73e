/*
 * counter_sessions.c - the counter's session table (examples/counter/
 * sessions.c) evicts the session every node must agree on, at a bounded
 * cost per applied entry.
 *
 *   counter-sessions-test [--seed S]
 *
 * Drives the table as the server's apply callback does (ses_touch with
 * increasing log indexes) on two tables fed the same entries: `applied`,
 * which only applies them, and `restored`, which now and then is replaced
 * by the decoding of its own snapshot (ses_encode, ses_decode), as on a
 * node that restarts or installs a snapshot. Every eviction must remove
 * the session with the smallest index, the one the full scan of the
 * table chose before eviction had its use order (scan_oldest below is
 * that scan, kept as the reference), and the two tables must stay equal.
 *
 *   - small: 47 sessions at most in 64 buckets (a load near 3/4: long
 *     probe runs, so deletions move sessions often), clients from a pool
 *     of 100. Every eviction is checked against the scan and against a
 *     model of the last use of each client; `restored` goes through a
 *     snapshot every 997 entries, and its snapshot bytes must equal
 *     `applied`'s;
 *   - full: 65,536 sessions (counter-server's SESSIONS_MAX) with random
 *     64-bit client ids, as counter-cli makes one per call. The table is
 *     filled, `restored` goes through a snapshot, then 131,072 more
 *     entries, half from new clients (each one evicts): every 1024th
 *     eviction is checked against the scan, the snapshot bytes of both
 *     tables must be equal at the end, and the buckets the table examined
 *     (ses_table.probes) must average at most PROBES_PER_ENTRY_MAX per
 *     entry. The scan alone examines all 131,072 buckets per eviction;
 *   - ses_decode refuses a client id 0, a client twice, and more sessions
 *     than the table keeps.
 *
 * Deterministic for a given --seed (default 1); no clocks.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "proto.h"
#include "sessions.h"

#define SMALL_MAX 47u
#define SMALL_POOL 100u      /* client ids 1..SMALL_POOL */
#define SMALL_ENTRIES 200000u
#define SMALL_RESTORE_EVERY 997u
#define FULL_MAX 65536u      /* counter-server's SESSIONS_MAX */
#define FULL_ENTRIES (2u * FULL_MAX)
#define FULL_CHECK_EVERY 1024u /* evictions between two full scans */
/* At most 3/4 of the buckets are used (1/2 when full at FULL_MAX), so a
 * lookup, insertion or deletion examines a few buckets on average: 32 per
 * entry is a wide margin, and about 1/4000 of one full scan. */
#define PROBES_PER_ENTRY_MAX 32u

static int n_pass, n_fail;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void expect(int ok, const char *fmt, ...)
{
    va_list ap;
    printf("counter-sessions-test: %s: ", ok ? "ok" : "FAILED");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (ok) {
        n_pass++;
    } else {
        n_fail++;
    }
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* The reference: the client of the session with the smallest index, ties
 * to the lowest bucket, by examining every bucket (the eviction of
 * counter-server before sessions had a use order); 0 if empty. */
static uint64_t scan_oldest(const struct ses_table *t)
{
    size_t i, oldest = t->cap;
    for (i = 0; i < t->cap; i++) {
        if (t->tab[i].client != 0 &&
            (oldest == t->cap || t->tab[i].index < t->tab[oldest].index)) {
            oldest = i;
        }
    }
    return oldest < t->cap ? t->tab[oldest].client : 0;
}

/* The snapshot bytes of t (as server.c writes them after the counter),
 * in a fresh buffer; NULL if memory runs out. */
static uint8_t *encode(const struct ses_table *t)
{
    uint8_t *p = malloc(t->n ? SES_RECORD_BYTES * t->n : 1);
    if (p != NULL && ses_encode(t, p) != 0) {
        free(p);
        p = NULL;
    }
    return p;
}

/* Replace *t by the decoding of its own snapshot. */
static int round_trip(struct ses_table *t)
{
    struct ses_table fresh;
    const char *why = "out of memory";
    uint8_t *p = encode(t);
    if (p == NULL || ses_decode(&fresh, t->max, p, t->n, &why) != 0) {
        printf("counter-sessions-test: snapshot round trip: %s\n", why);
        free(p);
        return -1;
    }
    free(p);
    fresh.probes = t->probes;
    ses_free(t);
    *t = fresh;
    return 0;
}

static int same_snapshot(const struct ses_table *a, const struct ses_table *b)
{
    uint8_t *x = encode(a), *y = encode(b);
    int same = x != NULL && y != NULL && a->n == b->n &&
               memcmp(x, y, SES_RECORD_BYTES * a->n) == 0;
    free(x);
    free(y);
    return same;
}

/* Apply an entry of `client` at `index` to t; if it evicts, check that
 * the victim is the one the scan picks (want_victim, if not 0, must be it
 * too) and that it is gone. *evicted: the victim, 0 if none. Returns 0,
 * or -1 after printing what went wrong. */
static int touch(struct ses_table *t, const char *name, uint64_t client,
                 uint64_t index, int check, uint64_t want_victim,
                 uint64_t *evicted)
{
    uint64_t victim = 0;
    const struct ses *se;
    if (ses_find(t, client) == NULL && t->n == t->max) {
        victim = check ? scan_oldest(t) : 0;
        if (check && want_victim != 0 && victim != want_victim) {
            printf("counter-sessions-test: %s, entry %" PRIu64 ": the scan "
                   "picks client %" PRIu64 ", the model %" PRIu64 "\n", name,
                   index, victim, want_victim);
            return -1;
        }
    }
    se = ses_touch(t, client, index);
    if (se == NULL) {
        printf("counter-sessions-test: %s, entry %" PRIu64 ": out of memory\n",
               name, index);
        return -1;
    }
    if (se->client != client || se->index != index ||
        ses_find(t, client) != se || t->n > t->max) {
        printf("counter-sessions-test: %s, entry %" PRIu64 ": client %" PRIu64
               " not found as used at this index after ses_touch\n", name,
               index, client);
        return -1;
    }
    if (victim != 0 && (ses_find(t, victim) != NULL || t->n != t->max)) {
        printf("counter-sessions-test: %s, entry %" PRIu64 ": the new client "
               "%" PRIu64 " did not evict client %" PRIu64 ", the session "
               "used longest ago\n", name, index, client, victim);
        return -1;
    }
    *evicted = victim;
    return 0;
}

/* The client of the pool used longest ago among those with a session
 * (last[c] != 0), by the model. */
static uint64_t model_oldest(const uint64_t *last)
{
    uint64_t c, best = 0;
    for (c = 1; c <= SMALL_POOL; c++) {
        if (last[c] != 0 && (best == 0 || last[c] < last[best])) {
            best = c;
        }
    }
    return best;
}

static void small_run(uint64_t seed)
{
    struct ses_table applied, restored;
    uint64_t last[SMALL_POOL + 1] = {0}; /* model: last use, 0: none */
    uint64_t rng = seed, index, evictions = 0, trips = 0;
    int ok = 1;
    ses_init(&applied, SMALL_MAX);
    ses_init(&restored, SMALL_MAX);
    for (index = 1; ok && index <= SMALL_ENTRIES; index++) {
        uint64_t client = 1 + splitmix(&rng) % SMALL_POOL, want = 0, v1, v2;
        if (last[client] == 0 && applied.n == SMALL_MAX) {
            want = model_oldest(last);
        }
        if (touch(&applied, "small, applied", client, index, 1, want, &v1) != 0 ||
            touch(&restored, "small, restored", client, index, 1, want, &v2) != 0) {
            ok = 0;
            break;
        }
        if (v1 != want || v2 != want) {
            printf("counter-sessions-test: small, entry %" PRIu64 ": evicted "
                   "%" PRIu64 " (applied) and %" PRIu64 " (restored), the "
                   "model %" PRIu64 "\n", index, v1, v2, want);
            ok = 0;
            break;
        }
        if (want != 0) {
            last[want] = 0;
            evictions++;
        }
        last[client] = index;
        if (index % SMALL_RESTORE_EVERY == 0) {
            if (round_trip(&restored) != 0 ||
                !same_snapshot(&applied, &restored)) {
                printf("counter-sessions-test: small, entry %" PRIu64 ": the "
                       "restored table differs\n", index);
                ok = 0;
            }
            trips++;
        }
    }
    expect(ok && evictions > 0 && trips > 0,
           "small table (%u sessions in %zu buckets): %u entries of %u "
           "clients, %" PRIu64 " evictions, each of the session used "
           "longest ago (full scan, model), on a table that applied every "
           "entry and one restored from its snapshot %" PRIu64 " times; "
           "equal snapshots", SMALL_MAX, applied.cap, SMALL_ENTRIES,
           SMALL_POOL, evictions, trips);
    ses_free(&applied);
    ses_free(&restored);
}

static void full_run(uint64_t seed)
{
    struct ses_table applied, restored;
    uint64_t *ids = malloc((FULL_MAX + FULL_ENTRIES) * sizeof(*ids));
    uint64_t rng = seed, index = 0, evictions = 0, checked = 0;
    uint64_t probes_a, probes_r, entries = 0;
    size_t n_ids = 0;
    int ok = 1;
    ses_init(&applied, FULL_MAX);
    ses_init(&restored, FULL_MAX);
    if (ids == NULL) {
        expect(0, "full table: out of memory");
        return;
    }
    /* Fill: new clients, with every third entry a client seen before. */
    while (ok && applied.n < FULL_MAX) {
        uint64_t client, v;
        if (n_ids > 0 && splitmix(&rng) % 3 == 0) {
            client = ids[splitmix(&rng) % n_ids];
        } else {
            client = ids[n_ids++] = splitmix(&rng) | 1; /* never 0 */
        }
        index++;
        ok = touch(&applied, "full, filling", client, index, 0, 0, &v) == 0 &&
             touch(&restored, "full, filling", client, index, 0, 0, &v) == 0;
    }
    ok = ok && round_trip(&restored) == 0;
    probes_a = applied.probes;
    probes_r = restored.probes;
    /* Every other entry from a new client; the others from a client seen
     * before (evicted already, about half of the time: one more new one). */
    while (ok && entries < FULL_ENTRIES) {
        uint64_t client, v1, v2;
        int evicts, check;
        if (entries % 2 == 0) {
            client = ids[n_ids++] = splitmix(&rng) | 1;
        } else {
            client = ids[splitmix(&rng) % n_ids];
        }
        index++;
        entries++;
        evicts = ses_find(&applied, client) == NULL;
        check = evicts && evictions % FULL_CHECK_EVERY == 0;
        evictions += (uint64_t)evicts;
        checked += (uint64_t)check;
        if (touch(&applied, "full, applied", client, index, check, 0, &v1) != 0 ||
            touch(&restored, "full, restored", client, index, check, 0,
                  &v2) != 0) {
            ok = 0;
        } else if (v1 != v2) {
            printf("counter-sessions-test: full, entry %" PRIu64 ": evicted "
                   "%" PRIu64 " (applied) and %" PRIu64 " (restored)\n", index,
                   v1, v2);
            ok = 0;
        }
    }
    expect(ok && checked > 0 && same_snapshot(&applied, &restored),
           "full table (%u sessions in %zu buckets, one side restored from "
           "a snapshot when full): %" PRIu64 " entries after it, %" PRIu64
           " evictions, %" PRIu64 " of them checked against a full scan; "
           "equal snapshots", FULL_MAX, applied.cap, entries, evictions,
           checked);
    probes_a = applied.probes - probes_a;
    probes_r = restored.probes - probes_r;
    expect(ok && probes_a <= PROBES_PER_ENTRY_MAX * entries &&
           probes_r <= PROBES_PER_ENTRY_MAX * entries,
           "full table: buckets examined per entry, %.1f (applied) and %.1f "
           "(restored), at most %u", (double)probes_a / (double)entries,
           (double)probes_r / (double)entries, PROBES_PER_ENTRY_MAX);
    free(ids);
    ses_free(&applied);
    ses_free(&restored);
}

/* ses_decode of n records (client ids c[i], index i + 1) into a table of
 * at most `max`: 0 if accepted. */
static int decode(const uint64_t *c, size_t n, size_t max, const char **why)
{
    uint8_t p[4 * SES_RECORD_BYTES] = {0};
    struct ses_table t;
    size_t i;
    for (i = 0; i < n; i++) {
        ctr_put64(p + i * SES_RECORD_BYTES, c[i]);
        ctr_put64(p + i * SES_RECORD_BYTES + 24, i + 1);
    }
    if (ses_decode(&t, max, p, n, why) != 0) {
        return -1;
    }
    ses_free(&t);
    return 0;
}

static void decode_refusals(void)
{
    static const uint64_t good[] = {3, 1, 2}, zero[] = {3, 0, 2},
                          twice[] = {3, 1, 3};
    const char *why = "", *why0 = "", *why2 = "", *why_n = "";
    int ok = decode(good, 3, 3, &why) == 0;
    ok = decode(zero, 3, 3, &why0) != 0 && ok;
    ok = decode(twice, 3, 3, &why2) != 0 && ok;
    ok = decode(good, 3, 2, &why_n) != 0 && ok;
    expect(ok, "ses_decode takes 3 good sessions, refuses a client id 0 "
           "(%s), a client twice (%s), 3 sessions for a table of 2 (%s)",
           why0, why2, why_n);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: counter-sessions-test [--seed S]\n"
               "       counter-sessions-test -h | --help | --version\n"
               "  --seed  random seed (default 1)\n");
}

int main(int argc, char **argv)
{
    struct ctr_flags f;
    uint64_t seed = 1;
    ctr_flags_init(&f, "counter-sessions-test", usage, argc, argv);
    while (ctr_flags_next(&f)) {
        const char *v;
        if ((v = ctr_flag_value(&f, "--seed")) != NULL) {
            seed = ctr_flag_u64(&f, v, 0, UINT64_MAX);
        } else {
            ctr_flag_unknown(&f);
        }
    }
    if (f.i < argc) {
        fprintf(stderr, "counter-sessions-test: unexpected argument '%s'\n",
                argv[f.i]);
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("counter-sessions-test: seed %" PRIu64 "\n", seed);
    small_run(seed);
    full_run(seed);
    decode_refusals();
    printf("counter-sessions-test: %d passed, %d failed%s\n", n_pass, n_fail,
           n_fail ? " (rerun with the seed above)" : "");
    return n_fail ? 1 : 0;
}
