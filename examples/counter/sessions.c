/*
 * sessions.c - the counter's session table; see sessions.h.
 */
#include "sessions.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define CAP_MIN 64u

static size_t home(const struct ses_table *t, uint64_t client)
{
    uint64_t x = client; /* splitmix64 finalizer: ids need not be random */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    x ^= x >> 31;
    return (size_t)(x & (t->cap - 1));
}

/* The bucket of `client`, or t->cap if it has none; adds the buckets
 * examined to *probes. */
static size_t lookup(const struct ses_table *t, uint64_t client,
                     uint64_t *probes)
{
    size_t i;
    if (t->cap == 0) {
        return t->cap;
    }
    for (i = home(t, client); t->tab[i].client != 0; i = (i + 1) & (t->cap - 1)) {
        ++*probes;
        if (t->tab[i].client == client) {
            return i;
        }
    }
    ++*probes;
    return t->cap;
}

struct ses *ses_find(const struct ses_table *t, uint64_t client)
{
    uint64_t probes = 0;
    size_t i = lookup(t, client, &probes);
    return i < t->cap ? &t->tab[i] : NULL;
}

/* ---- the use order (struct ses_table) ---- */

/* Link the session in bucket i, not in the list, at the tail. */
static void list_append(struct ses_table *t, size_t i)
{
    t->tab[i].prev = t->tail;
    t->tab[i].next = SES_NONE;
    if (t->tail == SES_NONE) {
        t->head = (uint32_t)i;
    } else {
        t->tab[t->tail].next = (uint32_t)i;
    }
    t->tail = (uint32_t)i;
}

static void list_remove(struct ses_table *t, size_t i)
{
    const struct ses *se = &t->tab[i];
    if (se->prev == SES_NONE) {
        t->head = se->next;
    } else {
        t->tab[se->prev].next = se->next;
    }
    if (se->next == SES_NONE) {
        t->tail = se->prev;
    } else {
        t->tab[se->next].prev = se->prev;
    }
}

/* The session now in bucket i was moved there from another bucket: point
 * its neighbours (or head, tail) at its new place. */
static void list_moved(struct ses_table *t, size_t i)
{
    const struct ses *se = &t->tab[i];
    if (se->prev == SES_NONE) {
        t->head = (uint32_t)i;
    } else {
        t->tab[se->prev].next = (uint32_t)i;
    }
    if (se->next == SES_NONE) {
        t->tail = (uint32_t)i;
    } else {
        t->tab[se->next].prev = (uint32_t)i;
    }
}

/* ---- the hash table ---- */

/* Put *se, whose client has no bucket yet, in the first free bucket of its
 * probe run (there is one: the load stays below 3/4), and link it at the
 * tail of the use order. Returns its bucket. */
static size_t put(struct ses_table *t, const struct ses *se)
{
    size_t i = home(t, se->client);
    while (t->tab[i].client != 0) {
        i = (i + 1) & (t->cap - 1);
        t->probes++;
    }
    t->probes++;
    t->tab[i] = *se;
    list_append(t, i);
    return i;
}

/* Twice the buckets; the use order is kept, as put() appends the sessions
 * in that order. */
static int grow(struct ses_table *t)
{
    struct ses_table bigger = *t;
    uint32_t i;
    bigger.cap = t->cap ? t->cap * 2 : CAP_MIN;
    bigger.tab = calloc(bigger.cap, sizeof(*bigger.tab));
    if (bigger.tab == NULL) {
        return -1;
    }
    bigger.head = bigger.tail = SES_NONE;
    for (i = t->head; i != SES_NONE; i = t->tab[i].next) {
        put(&bigger, &t->tab[i]);
    }
    free(t->tab);
    *t = bigger;
    return 0;
}

/* Remove the session in bucket i, shifting later members of its probe run
 * back so that lookups never stop at the hole. A shifted session keeps its
 * place in the use order: its neighbours are pointed at its new bucket. */
static void erase(struct ses_table *t, size_t i)
{
    size_t mask = t->cap - 1, j = i, k;
    list_remove(t, i);
    for (;;) {
        j = (j + 1) & mask;
        t->probes++;
        if (t->tab[j].client == 0) {
            break;
        }
        k = home(t, t->tab[j].client);
        /* The member at j may move to i unless its home lies in (i, j]. */
        if ((i <= j) ? (k <= i || k > j) : (k <= i && k > j)) {
            t->tab[i] = t->tab[j];
            list_moved(t, i);
            i = j;
        }
    }
    t->tab[i].client = 0;
    t->n--;
}

void ses_init(struct ses_table *t, size_t max)
{
    assert(max >= 1 && max <= SES_MAX_LIMIT);
    memset(t, 0, sizeof(*t));
    t->max = max;
    t->head = t->tail = SES_NONE;
}

void ses_free(struct ses_table *t)
{
    free(t->tab);
    t->tab = NULL;
    t->cap = t->n = 0;
    t->head = t->tail = SES_NONE;
    t->probes = 0;
}

struct ses *ses_touch(struct ses_table *t, uint64_t client, uint64_t index)
{
    size_t i = lookup(t, client, &t->probes);
    struct ses fresh = {client, 0, 0, index, SES_NONE, SES_NONE};
    if (i < t->cap) {
        list_remove(t, i);
        list_append(t, i);
    } else {
        if (t->n == t->max) {
            /* Full: forget the session used longest ago, the same on
             * every node (see struct ses_table). */
            erase(t, t->head);
        } else if ((t->n + 1) * 4 > t->cap * 3 && grow(t) != 0) {
            return NULL;
        }
        i = put(t, &fresh);
        t->n++;
    }
    t->tab[i].index = index;
    return &t->tab[i];
}

static int cmp_client(const void *a, const void *b)
{
    uint64_t x = ((const struct ses *)a)->client;
    uint64_t y = ((const struct ses *)b)->client;
    return x < y ? -1 : x > y;
}

int ses_encode(const struct ses_table *t, uint8_t *p)
{
    struct ses *v = malloc((t->n ? t->n : 1) * sizeof(*v));
    size_t i, k = 0;
    if (v == NULL) {
        return -1;
    }
    for (i = 0; i < t->cap; i++) {
        if (t->tab[i].client != 0) {
            v[k++] = t->tab[i];
        }
    }
    qsort(v, k, sizeof(*v), cmp_client);
    for (i = 0; i < k; i++, p += SES_RECORD_BYTES) {
        ctr_put64(p, v[i].client);
        ctr_put64(p + 8, v[i].seq);
        ctr_put64(p + 16, v[i].value);
        ctr_put64(p + 24, v[i].index);
    }
    free(v);
    return 0;
}

/* The use order of a restored table: by index, then client id. */
static int cmp_use(const void *a, const void *b)
{
    const struct ses *x = a, *y = b;
    if (x->index != y->index) {
        return x->index < y->index ? -1 : 1;
    }
    return cmp_client(a, b);
}

int ses_decode(struct ses_table *t, size_t max, const uint8_t *p, size_t n,
               const char **why)
{
    struct ses_table fresh;
    struct ses *v;
    size_t i;
    if (n > max) {
        *why = "state machine: more sessions than the table keeps";
        return -1;
    }
    ses_init(&fresh, max);
    /* Room for n sessions below ses_touch()'s growth threshold. */
    for (fresh.cap = CAP_MIN; (n + 1) * 4 > fresh.cap * 3; fresh.cap *= 2) {
    }
    fresh.tab = calloc(fresh.cap, sizeof(*fresh.tab));
    v = malloc((n ? n : 1) * sizeof(*v));
    if (fresh.tab == NULL || v == NULL) {
        free(fresh.tab);
        free(v);
        *why = "out of memory";
        return -1;
    }
    for (i = 0; i < n; i++, p += SES_RECORD_BYTES) {
        struct ses se = {ctr_get64(p), ctr_get64(p + 8), ctr_get64(p + 16),
                         ctr_get64(p + 24), SES_NONE, SES_NONE};
        v[i] = se;
    }
    /* Put them in use order: put() links each at the tail. */
    qsort(v, n, sizeof(*v), cmp_use);
    for (i = 0; i < n; i++) {
        if (v[i].client == 0 || ses_find(&fresh, v[i].client) != NULL) {
            free(fresh.tab);
            free(v);
            *why = "state machine: a session with client id 0 or twice";
            return -1;
        }
        put(&fresh, &v[i]);
        fresh.n++;
    }
    free(v);
    fresh.probes = 0;
    *t = fresh;
    return 0;
}
