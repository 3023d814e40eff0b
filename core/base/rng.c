/* Seeded random numbers that are the same on every machine: Philox-4x32-10 (a
 * counter-based generator: output block i depends only on (seed, i)), uniform floats
 * from 32-bit words, normals by Box-Muller in double precision. This file is compiled
 * with -ffp-contract=off so FMA contraction cannot change the last bits between a
 * native and a portable build. */
#include <math.h>

#include "base/fokus_base.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static void philox(uint64_t seed, uint64_t block, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)block, c1 = (uint32_t)(block >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

void fokus_rng_init(fokus_rng *r, uint64_t seed)
{
    r->seed = seed;
    r->counter = 0;
}

uint32_t fokus_rng_u32(fokus_rng *r)
{
    uint32_t b[4];
    philox(r->seed, r->counter >> 2, b);
    return b[r->counter++ & 3];
}

void fokus_rng_u32_n(fokus_rng *r, uint32_t *dst, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t b[4];
        philox(r->seed, r->counter >> 2, b);
        for (unsigned w = (unsigned)(r->counter & 3); w < 4 && i < n; w++, i++) {
            dst[i] = b[w];
            r->counter++;
        }
    }
}

static inline double u32_unit(uint32_t x)
{
    return ((double)x + 0.5) * (1.0 / 4294967296.0); /* strictly inside (0, 1) */
}

double fokus_rng_uniform(fokus_rng *r)
{
    return u32_unit(fokus_rng_u32(r));
}

void fokus_rng_normal_n(fokus_rng *r, float *dst, size_t n)
{
    const double two_pi = 6.283185307179586;
    uint64_t block = (r->counter + 3) >> 2; /* start on a fresh block */
    size_t i = 0;
    while (i < n) {
        uint32_t b[4];
        philox(r->seed, block++, b);
        for (int j = 0; j < 4 && i < n; j += 2) {
            double rad = sqrt(-2.0 * log(u32_unit(b[j])));
            double th = two_pi * u32_unit(b[j + 1]);
            dst[i++] = (float)(rad * cos(th));
            if (i < n) dst[i++] = (float)(rad * sin(th));
        }
    }
    r->counter = block << 2;
}
