/* libFuzzer target: arbitrary bytes as a PNG file. Loading must either fail with a
 * message or give an image of the size it claims and text chunks that are
 * NUL-terminated strings of their stated length (ASan checks every read). */
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
    int fd = memfd_create("fuzz.png", MFD_CLOEXEC);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    fokus_tensor img;
    fokus_png_text *text = NULL;
    size_t n = 0;
    fokus_error err;
    if (fokus_png_load(NULL, path, &img, &text, &n, &err) == FOKUS_OK) {
        volatile unsigned sink = 0;
        const uint8_t *p = img.data;
        for (int64_t i = 0; i < fokus_tensor_numel(&img); i++) sink += p[i];
        for (size_t i = 0; i < n; i++) sink += (unsigned)strlen(text[i].key) + (unsigned char)text[i].value[text[i].len];
        fokus_png_text_free(text, n);
        fokus_tensor_release(&img);
    }
    close(fd);
    return 0;
}
