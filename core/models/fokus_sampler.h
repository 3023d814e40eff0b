/*
 * Samplers, guidance and latent previews (part of the fokus core; included by fokus.h).
 * Equations: shared/specs/models.md section 5.
 *
 * Two parameterisations are covered:
 *  - rectified flow (SD3 / SD3.5): x_σ = (1 − σ)·x0 + σ·noise, σ ∈ [0, 1]; the model
 *    predicts the velocity v ≈ noise − x0 from (x, t = 1000·σ); denoised = x − σ·v.
 *  - ε-prediction (SD 1.x, DiT) in k-diffusion's σ space: x_σ = x0 + σ·noise with
 *    σ = √((1 − ᾱ)/ᾱ); the model sees x·c_in, c_in = 1/√(σ² + 1), at the timestep
 *    fokus_eps_sigma_to_t(σ) and predicts ε; denoised = x − σ·ε.
 * In both, the probability-flow ODE is dx/dσ = (x − denoised)/σ (for flow models
 * (x − denoised)/σ is v itself), which is why one set of step functions serves both.
 *
 * Step functions (euler, ddim, dpmpp_2m, cfg, axpby) share one contract:
 *  - Tensor inputs have one shape (no broadcasting); any float dtype and strides
 *    (f16/bf16 and non-contiguous views are read through an f32 copy).
 *  - `out` is caller-provided: an f32, contiguous tensor of that shape. It may be one
 *    of the inputs (same data pointer: updated in place); it must not partially
 *    overlap one.
 *  - Scalars are checked (finite, in range) and tensors are scanned for NaN/inf before
 *    anything is written: on error `out` is unchanged. Errors are FOKUS_EINVAL with the
 *    function, argument and the value or shapes in the message.
 *  - Scalar coefficients are computed in double, element arithmetic in f32; large
 *    tensors are split over the context's workers (ctx may be NULL: one thread).
 */
#ifndef FOKUS_SAMPLER_H
#define FOKUS_SAMPLER_H

#include "base/fokus_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------
 * Noise schedules
 * ---------------------------------------------------------------------------------- */

typedef enum fokus_sigma_schedule {
    /* Stability's sd3_infer reference (= ComfyUI's "normal"): timesteps
     * linspace(t(σ_max), t(σ_min), N), then σ(t). For flow models t = 1000·σ, so the
     * low end is shifted twice (σ_min is already shifted). */
    FOKUS_SCHEDULE_SD3 = 0,
    /* ComfyUI "simple": table[999 − floor(x·(1000/N))] for x = 0..N−1. */
    FOKUS_SCHEDULE_SIMPLE
} fokus_sigma_schedule;

/* "sd3" (alias "normal") or "simple". */
bool fokus_sigma_schedule_parse(const char *name, fokus_sigma_schedule *out);

/* β schedules of ε-prediction models (1000 training steps). */
typedef enum fokus_betas {
    FOKUS_BETAS_SCALED_LINEAR = 0,  /* SD 1.x/SDXL: linspace(√0.00085, √0.012, 1000)² */
    FOKUS_BETAS_LINEAR              /* DiT / ADM: linspace(1e-4, 0.02, 1000) */
} fokus_betas;

/* "scaled_linear" or "linear". */
bool fokus_betas_parse(const char *name, fokus_betas *out);

/* Flow shift: σ(t) = s·t / (1 + (s − 1)·t) for t ∈ [0, 1]. */
double fokus_flow_shift(double t, double shift);

/* The flow model's table σ_i = σ((i + 1)/1000), i = 0..999, into out[1000]. */
void fokus_flow_sigma_table(double *out, double shift);

/* N + 1 sigmas (the last one 0), decreasing, into out[steps + 1], for a flow model of
 * the given shift. steps in 1..10000, shift finite and > 0; else FOKUS_EINVAL. */
fokus_status fokus_flow_sigmas(float *out, int steps, double shift, fokus_sigma_schedule schedule,
                               fokus_error *err);

/* ᾱ_t = Π_{s ≤ t} (1 − β_s) for t = 0..999, as a float64 cumulative product, into
 * out[1000]. */
void fokus_alphas_cumprod(double *out, fokus_betas betas);

/* k-diffusion's σ table √((1 − ᾱ_t)/ᾱ_t), t = 0..999 (increasing), into out[1000]. */
void fokus_eps_sigma_table(double *out, fokus_betas betas);

/* σ → fractional timestep by linear interpolation of log σ between the two table
 * entries around it (k-diffusion's sigma_to_t); clamped to [0, 999], σ <= 0 gives 0.
 * For σ on the table this is the table index, as ComfyUI's nearest-index lookup. */
double fokus_eps_sigma_to_t(double sigma, fokus_betas betas);
/* Inverse: log σ interpolated at a fractional t (clamped to [0, 999]). */
double fokus_eps_t_to_sigma(double t, fokus_betas betas);

/* Like fokus_flow_sigmas for an ε-prediction model: σ over its table (SD3 = "normal":
 * t = linspace(999, 0, N) interpolated in log σ). */
fokus_status fokus_eps_sigmas(float *out, int steps, fokus_betas betas, fokus_sigma_schedule schedule,
                              fokus_error *err);

/* DDIM timesteps, diffusers' "leading" spacing with steps_offset 1:
 * (arange(N)·(1000 div N)) reversed + 1, into out[steps] (N = 20: 951, 901, ..., 1).
 * steps in 1..1000. */
fokus_status fokus_ddim_timesteps(int32_t *out, int steps, fokus_error *err);

/* ------------------------------------------------------------------------------------
 * Steps (contract in the comment at the top of this header)
 * ---------------------------------------------------------------------------------- */

/* out = a·x + b·y; y may be NULL (out = a·x). The element-wise combination the steps
 * below reduce to, for loops written by hand (img2img noising: a = 1 − σ on the latent,
 * b = σ on the noise). a, b finite. */
fokus_status fokus_axpby(fokus_ctx *ctx, double a, const fokus_tensor *x, double b, const fokus_tensor *y,
                         fokus_tensor *out, fokus_error *err);

/* Classifier-free guidance: out = uncond + scale·(cond − uncond) (equal to uncond
 * where cond == uncond, whatever the scale). scale finite. */
fokus_status fokus_cfg(fokus_ctx *ctx, const fokus_tensor *cond, const fokus_tensor *uncond, double scale,
                       fokus_tensor *out, fokus_error *err);

/* denoised = x − σ·pred (pred = v for flow models, ε in σ space). σ >= 0. */
fokus_status fokus_denoised(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *pred, double sigma,
                            fokus_tensor *out, fokus_error *err);

/* Rectified-flow Euler step σ → σ': out = x + v·(σ' − σ). σ, σ' ∈ [0, 1]. */
fokus_status fokus_euler_flow(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *v, double sigma,
                              double sigma_next, fokus_tensor *out, fokus_error *err);

/* Euler step for ε-prediction in σ space: d = (x − denoised)/σ = ε, out = x + ε·(σ' − σ).
 * σ, σ' >= 0 and finite. */
fokus_status fokus_euler(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *eps, double sigma,
                         double sigma_next, fokus_tensor *out, fokus_error *err);

/* DDIM step t → t_prev on the VP latent x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε (diffusers'
 * DDIMScheduler.step, SD 1.x settings):
 *   a = ᾱ_t, a' = ᾱ_{t_prev} when t_prev >= 0 else ᾱ_0 (set_alpha_to_one = False)
 *   x0 = (x − √(1 − a)·ε)/√a
 *   σ_η = η·√((1 − a')/(1 − a)·(1 − a/a'))
 *   out = √a'·x0 + √(1 − a' − σ_η²)·ε + σ_η·noise
 * t in 0..999, t_prev <= 999 (t_prev >= t only with η = 0: DDIM inversion), η in
 * [0, 1]; noise (same shape) is required when σ_η > 0 and ignored otherwise. pred_x0
 * (NULL or a caller-provided f32 tensor like out) receives x0. */
typedef struct fokus_ddim_opts {
    double eta;                  /* 0: deterministic */
    const fokus_tensor *noise;   /* fresh N(0, 1) noise for η > 0 */
    fokus_betas betas;           /* FOKUS_BETAS_SCALED_LINEAR for SD 1.x */
} fokus_ddim_opts;
fokus_status fokus_ddim(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *eps, int t, int t_prev,
                        const fokus_ddim_opts *opts, fokus_tensor *out, fokus_tensor *pred_x0,
                        fokus_error *err);

/* The same DDIM step written in k-diffusion's σ space (x_σ = x_t/√ᾱ, ᾱ = 1/(1 + σ²)),
 * for any σ > σ' >= 0, not only table entries:
 *   x0 = x − σ·ε,  a = 1/(1 + σ²),  a' = 1/(1 + σ'²),  σ_η as above,
 *   out = x0 + √(1 − a' − σ_η²)/√a'·ε + σ_η/√a'·noise.
 * With η = 0 this is exactly the Euler step (√(1 − a')/√a' = σ'); σ' = 0 returns x0.
 * η in [0, 1], noise required when σ_η > 0 (η > 0 and σ' > 0). */
fokus_status fokus_ddim_sigma(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *eps, double sigma,
                              double sigma_next, double eta, const fokus_tensor *noise, fokus_tensor *out,
                              fokus_error *err);

/* DPM-Solver++(2M), one step σ → σ', in k-diffusion's formulation (sample_dpmpp_2m),
 * which is also Stability's SD3 reference sampler and ComfyUI's dpmpp_2m for both
 * parameterisations. With λ = −log σ, h = λ' − λ:
 *
 *   first order (no old_denoised, or σ' = 0):
 *       out = (σ'/σ)·x − expm1(−h)·D              (σ' = 0: out = D exactly)
 *   second order (old_denoised D_prev from the step σ_prev → σ):
 *       h_last = λ − λ_prev,  r = h_last/h
 *       D_d = (1 + 1/(2r))·D − (1/(2r))·D_prev
 *       out = (σ'/σ)·x − expm1(−h)·D_d
 *
 * Derivation. Both parameterisations have the ODE dx/dσ = (x − D(x, σ))/σ; in
 * λ = −log σ it is dx/dλ = D − x, whose exact solution over one step is
 *   x(λ') = e^{−h}·x(λ) + ∫_λ^{λ'} e^{−(λ' − τ)}·D(τ) dτ,   e^{−h} = σ'/σ.
 * Holding D constant gives the first-order step ((1 − e^{−h}) = −expm1(−h)); a linear
 * extrapolation of D through (λ_prev, D_prev), (λ, D), integrated with the midpoint
 * weight, gives D_d, which makes the method second order (local error O(h³)).
 * For a flow model (CONST scaling, x = (1 − σ)·x0 + σ·ε) with a fixed target x0 the
 * exact path is x(σ') = (σ'/σ)·x + (1 − σ'/σ)·x0, which is the first-order step: the
 * update is exact whenever the denoised estimate does not change along the path, in
 * either parameterisation, and equals the Euler step (and DDIM with η = 0). (A flow-native
 * DPM-Solver++ in λ = log((1 − σ)/σ) has the same first-order step; only r differs.
 * We keep −log σ to match the references.)
 *
 * σ > 0, 0 <= σ' < σ; with old_denoised: σ_prev > σ. x, denoised and old_denoised
 * share one shape. The caller keeps D (this step's denoised) and σ for the next call. */
fokus_status fokus_dpmpp_2m(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *denoised, double sigma,
                            double sigma_next, const fokus_tensor *old_denoised, double sigma_prev,
                            fokus_tensor *out, fokus_error *err);

/* ------------------------------------------------------------------------------------
 * Latent previews
 * ---------------------------------------------------------------------------------- */

typedef enum fokus_latent_family {
    FOKUS_LATENT_AUTO = 0,   /* by channel count: 16 → SD3, 4 → SD1 */
    FOKUS_LATENT_SD1,        /* 4 channels, SD 1.x */
    FOKUS_LATENT_SDXL,       /* 4 channels, SDXL (with a bias) */
    FOKUS_LATENT_SD3         /* 16 channels, SD3 / SD3.5 (with a bias) */
} fokus_latent_family;

/* "sd1" (alias "sd15"), "sdxl", "sd3"; "auto". */
bool fokus_latent_family_parse(const char *name, fokus_latent_family *out);

/* A quick RGB picture of a latent without the VAE, as ComfyUI's "latent2rgb" previews:
 * each pixel is rgb = Σ_c latent[c]·F[c] + bias with the published per-channel factors F,
 * mapped by u8 = trunc(255·clamp((rgb + 1)/2, 0, 1)). The latent is in the model's
 * space (what the sampler steps; for SD3 after process_in). latent [C, H, W] or
 * [N, C, H, W] (any float dtype; a batch is laid out side by side) → a new u8 image
 * [H·scale, N·W·scale, 3] (nearest-neighbour enlargement, scale in 1..64).
 * Errors: FOKUS_EINVAL for a wrong rank, a channel count the family does not have, or
 * a bad scale; FOKUS_ENOMEM. */
fokus_status fokus_latent_preview(const fokus_tensor *latent, fokus_latent_family family, int scale,
                                  fokus_tensor *img, fokus_error *err);

#ifdef __cplusplus
}
#endif

#endif /* FOKUS_SAMPLER_H */
