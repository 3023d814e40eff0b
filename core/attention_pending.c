/* Placeholder until the flash-attention kernel lands (branch attn): reports clearly
 * instead of computing anything. Removed by that merge. */
#include "fokus.h"

fokus_status fokus_attend(fokus_ctx *ctx, const fokus_tensor *q, const fokus_tensor *k,
                          const fokus_tensor *v, const fokus_attend_opts *opts, fokus_tensor *out,
                          fokus_tensor *lse, fokus_tensor *probs, fokus_error *err)
{
    return fokus_fail(err, FOKUS_EINVAL, "attend: not available in this build yet");
}
