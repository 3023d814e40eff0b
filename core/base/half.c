/* f16 and bf16 <-> f32 conversions. Round-to-nearest-even; inf, nan and subnormals are
 * preserved in both directions (a nan stays a nan: its payload is truncated and the
 * quiet bit set, so truncation can never turn it into an infinity). */
#include <string.h>

#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>

#include "base/fokus_base.h"

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float fokus_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13)); /* inf / nan */
    if (exp == 0) {
        if (man == 0) return bits_f32(sign);
        /* subnormal: value = man * 2^-24, exact in f32 */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t fokus_f32_to_f16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) { /* inf or nan */
        if (a == 0x7f800000u) return sign | 0x7c00;
        return sign | 0x7e00 | (uint16_t)((a >> 13) & 0x3ff);
    }
    if (a >= 0x477ff000u) return sign | 0x7c00; /* rounds to >= 65520: overflow to inf */
    if (a < 0x38800000u) {
        /* result is subnormal (or zero): scale so the f16 quantum 2^-24 is 1.0 and let
         * the FPU round to nearest even on the conversion to integer */
        if (a < 0x33000000u) return sign; /* < 2^-25: rounds to 0 (2^-25 ties to even 0) */
        uint32_t man = (a & 0x7fffff) | 0x800000;
        int shift = 126 - (int)(a >> 23); /* 14 .. 24 + 1 */
        /* value = man * 2^(e-150); in units of 2^-24: man >> (126 - e) with rounding */
        uint32_t q = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return sign | (uint16_t)q;
    }
    /* normal: rebias exponent, round mantissa 23 -> 10 bits to nearest even */
    uint32_t r = a + 0xfff + ((a >> 13) & 1);
    r -= (112u << 23);
    return sign | (uint16_t)(r >> 13);
}

float fokus_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t fokus_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet nan */
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

void fokus_f16_to_f32_n(float *dst, const uint16_t *src, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        simde__m128i h = simde_mm_loadu_si128((const simde__m128i *)(src + i));
        simde_mm256_storeu_ps(dst + i, simde_mm256_cvtph_ps(h));
    }
    for (; i < n; i++) dst[i] = fokus_f16_to_f32(src[i]);
}

void fokus_f32_to_f16_n(uint16_t *dst, const float *src, size_t n)
{
    size_t i = 0;
    /* the hardware conversion rounds to nearest even and keeps nan/inf/subnormals,
     * exactly like the scalar code */
    for (; i + 8 <= n; i += 8) {
        simde__m256 v = simde_mm256_loadu_ps(src + i);
        simde_mm_storeu_si128((simde__m128i *)(dst + i), simde_mm256_cvtps_ph(v, 0));
    }
    for (; i < n; i++) dst[i] = fokus_f32_to_f16(src[i]);
}

void fokus_bf16_to_f32_n(float *dst, const uint16_t *src, size_t n)
{
    size_t i = 0;
    /* bf16 is the upper half of an f32: widen to 32 bits and shift into place */
    for (; i + 8 <= n; i += 8) {
        simde__m128i h = simde_mm_loadu_si128((const simde__m128i *)(src + i));
        simde__m256i w = simde_mm256_slli_epi32(simde_mm256_cvtepu16_epi32(h), 16);
        simde_mm256_storeu_ps(dst + i, simde_mm256_castsi256_ps(w));
    }
    for (; i < n; i++) dst[i] = fokus_bf16_to_f32(src[i]);
}

void fokus_f32_to_bf16_n(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = fokus_f32_to_bf16(src[i]);
}
