/* fokus_prompt_parse: the one entry point of the emphasis grammars. It checks the
 * arguments and hands the text to the A1111 or the ComfyUI parser; it lives apart from
 * prompt_common.c, which both parsers use, so that no two files call each other. */
#include <stdint.h>

#include "prompt/fokus_prompt.h"
#include "prompt_internal.h"

fokus_status fokus_prompt_parse(const char *text, size_t len, fokus_syntax syntax,
                                fokus_segments *out, fokus_error *err)
{
    if (!out) return fokus_fail(err, FOKUS_EINVAL, "prompt_parse: out is NULL");
    *out = (fokus_segments){0};
    if (!text && len) return fokus_fail(err, FOKUS_EINVAL, "prompt_parse: text is NULL with length %zu", len);
    if (!text) text = "";
    if (len >= (size_t)INT32_MAX - 2)
        return fokus_fail(err, FOKUS_ERANGE, "prompt_parse: prompt of %zu bytes is too long (max 2 GiB)", len);
    switch (syntax) {
    case FOKUS_SYNTAX_A1111: return fokus_prompt_parse_a1111(text, len, out, err);
    case FOKUS_SYNTAX_COMFY: return fokus_prompt_parse_comfy(text, len, out, err);
    }
    return fokus_fail(err, FOKUS_EINVAL, "prompt_parse: unknown syntax %d (expected A1111 or COMFY)", (int)syntax);
}
