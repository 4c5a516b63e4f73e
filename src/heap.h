/* heap.h - allocation through the node's allocator hooks. */
#ifndef RAFT_HEAP_H
#define RAFT_HEAP_H

#include "../raft.h"

/* Each returns NULL on failure. A NULL hook table member means libc. */
void *raft__heap_alloc(const struct raft_allocator *a, size_t size);
void *raft__heap_realloc(const struct raft_allocator *a, void *ptr, size_t size);
void raft__heap_free(const struct raft_allocator *a, void *ptr);

#endif
