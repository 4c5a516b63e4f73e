/* rand.h - the node's seeded pseudo-random generator (splitmix64). */
#ifndef RAFT_RAND_H
#define RAFT_RAND_H

#include <stdint.h>

/* Next 64 random bits; advances *state. */
uint64_t raft__rand_next(uint64_t *state);

/* Uniform value in [0, bound); bound must be non-zero. */
uint64_t raft__rand_below(uint64_t *state, uint64_t bound);

#endif
