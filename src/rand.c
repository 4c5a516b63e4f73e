/*
 * rand.c - splitmix64: tiny, fast, and good enough to spread election
 * timeouts. The state is per node and seeded from the config, so a node's
 * behaviour is a pure function of its seed and its inputs.
 */
#include "rand.h"

uint64_t raft__rand_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

uint64_t raft__rand_below(uint64_t *state, uint64_t bound)
{
    /* Rejection sampling removes modulo bias; the loop runs more than once
     * with probability < 1/2 per iteration. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do {
        x = raft__rand_next(state);
    } while (x >= limit);
    return x % bound;
}
