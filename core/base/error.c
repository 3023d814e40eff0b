/* Status codes and error messages: the one way core functions report failure. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/fokus_base.h"

fokus_status fokus_fail(fokus_error *err, fokus_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

fokus_status fokus_fail_prefix(fokus_error *err, fokus_status st, const char *prefix)
{
    if (err && prefix) {
        char tmp[FOKUS_ERRMSG_MAX];
        size_t n = strlen(prefix);
        if (n > FOKUS_ERRMSG_MAX / 2) n = FOKUS_ERRMSG_MAX / 2; /* keep room for the reason */
        memcpy(tmp, err->msg, sizeof tmp);
        tmp[sizeof tmp - 1] = 0;
        memcpy(err->msg, prefix, n);
        memcpy(err->msg + n, ": ", 2);
        snprintf(err->msg + n + 2, sizeof err->msg - n - 2, "%.*s", (int)(sizeof err->msg - n - 3), tmp);
    }
    return st;
}

const char *fokus_status_name(fokus_status st)
{
    switch (st) {
    case FOKUS_OK: return "ok";
    case FOKUS_EINVAL: return "invalid argument";
    case FOKUS_ENOMEM: return "out of memory";
    case FOKUS_EIO: return "i/o error";
    case FOKUS_EFORMAT: return "malformed data";
    case FOKUS_ERANGE: return "out of range";
    case FOKUS_EINTERRUPT: return "interrupted";
    }
    return "unknown status";
}
