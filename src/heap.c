/*
 * heap.c - the only place the library touches the C allocator.
 *
 * Every allocation of a node goes through the allocator in its config, so a
 * host can account for, limit or fail allocations per node (the tests fail
 * the k-th allocation to prove every path survives running out of memory).
 */
#include "heap.h"

#include <stdlib.h>

void *raft__heap_alloc(const struct raft_allocator *a, size_t size)
{
    if (size == 0) {
        size = 1; /* never hand a zero-size request to a host hook */
    }
    if (a->alloc != NULL) {
        return a->alloc(a->ctx, size);
    }
    return malloc(size);
}

void *raft__heap_realloc(const struct raft_allocator *a, void *ptr, size_t size)
{
    if (size == 0) {
        size = 1;
    }
    if (a->realloc != NULL) {
        return a->realloc(a->ctx, ptr, size);
    }
    return realloc(ptr, size);
}

void raft__heap_free(const struct raft_allocator *a, void *ptr)
{
    if (ptr == NULL) {
        return;
    }
    if (a->free != NULL) {
        a->free(a->ctx, ptr);
        return;
    }
    free(ptr);
}
