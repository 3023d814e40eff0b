/*
 * fokus: attention, CLIP text encoding and diffusion transformer blocks in C11.
 *
 * This header is the manual of the core library (libfokus.a), one part per folder of
 * core/; each part's header states its layouts, broadcast rules and errors above every
 * function. It has no Lua in it: a C program can link libfokus.a and use everything
 * declared here. The parts, bottom up (each uses only those above it in this list):
 *
 *   base/       status codes, memory, context (threads, scratch), tensors, safetensors
 *   image/      heat maps, colour bars, text labels, word maps, contact sheets, PNG files
 *               (uses base only)
 *   linalg/     GEMM, batched matmul, LayerNorm/RMSNorm/activations
 *   text/       CLIP byte-level BPE tokenizer and its text clean-up (ftfy, HTML, Unicode)
 *   attention/  flash attention
 *   prompt/     A1111 and ComfyUI prompt grammars, schedules, chunking, token weighting
 *   models/     CLIP text model; diffusion transformers (fixed embeddings, DiT, SD3 MMDiT);
 *               samplers, guidance and latent previews
 */
#ifndef FOKUS_H
#define FOKUS_H

#include "base/fokus_base.h"
#include "image/fokus_image.h"
#include "linalg/fokus_linalg.h"
#include "text/fokus_text.h"
#include "attention/fokus_attention.h"
#include "prompt/fokus_prompt.h"
#include "models/fokus_clip.h"
#include "models/fokus_dit.h"
#include "models/fokus_mmdit.h"
#include "models/fokus_sampler.h"

#endif /* FOKUS_H */
