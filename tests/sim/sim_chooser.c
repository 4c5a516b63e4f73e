/*
 * sim_chooser.c - the two choosers: a seeded PRNG and a byte reader.
 */
#include "sim.h"

static uint64_t sim_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t sim_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void sim_rng_init(struct sim_rng *g, uint64_t seed)
{
    /* splitmix64 never yields four zero words, so xoshiro's state is valid */
    for (int i = 0; i < 4; i++)
        g->s[i] = sim_splitmix64(&seed);
}

uint64_t sim_rng_next(struct sim_rng *g)
{
    uint64_t *s = g->s;
    uint64_t result = sim_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rotl(s[3], 45);
    return result;
}

static uint64_t sim_rng_choose(void *ctx, uint64_t bound)
{
    struct sim_rng *g = ctx;
    if (bound < 2)
        return 0;
    /* Rejection sampling: unbiased, and still one draw almost always. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do
        x = sim_rng_next(g);
    while (x >= limit);
    return x % bound;
}

void sim_rng_chooser(struct sim_rng *g, struct sim_chooser *out)
{
    out->next = sim_rng_choose;
    out->exhausted = NULL;
    out->ctx = g;
}

/* Consume as few bytes as the bound needs, little-endian; 0 once empty. */
static uint64_t sim_bytes_choose(void *ctx, uint64_t bound)
{
    struct sim_bytes *b = ctx;
    if (bound < 2)
        return 0;
    uint64_t x = 0;
    unsigned shift = 0;
    for (uint64_t span = bound - 1; span > 0; span >>= 8, shift += 8) {
        if (b->pos >= b->len)
            break;
        x |= (uint64_t)b->data[b->pos++] << shift;
    }
    return x % bound;
}

static bool sim_bytes_exhausted(void *ctx)
{
    const struct sim_bytes *b = ctx;
    return b->pos >= b->len;
}

void sim_bytes_chooser(struct sim_bytes *b, const uint8_t *data, size_t len,
                       struct sim_chooser *out)
{
    b->data = data;
    b->len = len;
    b->pos = 0;
    out->next = sim_bytes_choose;
    out->exhausted = sim_bytes_exhausted;
    out->ctx = b;
}
