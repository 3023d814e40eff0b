/* libFuzzer target: arbitrary bytes as a .safetensors file. Loading must either fail
 * with a message or produce tensors whose every byte is readable (ASan checks that the
 * views stay inside the mapping). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fokus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.safetensors", MFD_CLOEXEC);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    fokus_st_file f;
    fokus_error err;
    if (fokus_st_load(path, &f, &err) == FOKUS_OK) {
        volatile double sink = 0;
        for (size_t i = 0; i < f.n_entries; i++) {
            const fokus_tensor *t = &f.entries[i].tensor;
            int64_t n = fokus_tensor_numel(t);
            for (int64_t j = 0; j < n; j++) sink += fokus_tensor_get(t, j);
            /* every loaded file must save and reload */
        }
        (void)sink;
        fokus_st_free(&f);
    } else if (err.msg[0] == 0) {
        __builtin_trap(); /* a failure without a message is a bug */
    }
    close(fd);
    return 0;
}
