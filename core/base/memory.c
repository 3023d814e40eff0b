/* Aligned allocation. 64 bytes: one cache line and one AVX-512 register, so kernels
 * may use aligned loads on buffers that come from here. */
#include <stdlib.h>
#include <string.h>

#include "base/fokus_base.h"

void *fokus_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0) bytes = 1;
    /* round up: aligned_alloc wants a multiple of the alignment */
    if (bytes > SIZE_MAX - 63) return NULL;
    bytes = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    return p;
}

void *fokus_calloc(size_t bytes)
{
    void *p = fokus_alloc(bytes);
    if (p) memset(p, 0, bytes ? bytes : 1);
    return p;
}

void fokus_free(void *p)
{
    free(p);
}
