/* Internal helpers of the non-convolution layer kernels (layers/). Not installed. */
#ifndef SPARSECONV_LAYERS_INTERNAL_H
#define SPARSECONV_LAYERS_INTERNAL_H

#include "../common/internal.h"
#include "sparseconv_layers.h"

#include <math.h>

#if SC_X86
#include <immintrin.h>
#endif

/* Below this much work (elements touched, or multiply-adds) a call stays on the
   calling thread. Measured on a 2-core Zen 5: a parallel region costs about
   1-3 us, an element-wise pass over 32K floats about 1-2 us. */
#ifndef SC_LAYERS_SERIAL_WORK /* overridable for measuring the crossover */
#define SC_LAYERS_SERIAL_WORK 32768
#endif

/* Threads for a call with `work` units of work and at most `items` independent
   pieces: 1 when small, else the resolved count capped by items. */
static inline int sc_layers_threads(int32_t threads, int64_t work, int64_t items) {
  if (work < SC_LAYERS_SERIAL_WORK || items < 2) return 1;
  int32_t nt = sc_resolve_threads(threads);
  if ((int64_t)nt > items) nt = (int32_t)items;
  return nt < 1 ? 1 : nt;
}

/* a*b*... of non-negative factors into *out; false on overflow or when the
   byte size of that many floats would not fit in size_t. */
static inline bool sc_layers_elems(int64_t *out, int64_t a, int64_t b, int64_t c, int64_t d) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r) || __builtin_mul_overflow(r, c, &r) ||
      __builtin_mul_overflow(r, d, &r))
    return false;
  if ((uint64_t)r > SIZE_MAX / sizeof(float)) return false;
  *out = r;
  return true;
}

/* Put before an element-wise loop whose output may be exactly one of its inputs
   (in place): element i only reads index i, so vectorizing is safe, but the
   compiler's run-time alias check would otherwise send in-place calls to the
   scalar loop. */
#if defined(__clang__)
#define SC_LAY_VECTORIZE _Pragma("clang loop vectorize(assume_safety)")
#elif defined(_OPENMP)
#define SC_LAY_VECTORIZE _Pragma("omp simd")
#else
#define SC_LAY_VECTORIZE
#endif

/* Scalar activations that propagate NaN (unlike sc_activate in internal.h). The
   forms `x < lo ? lo : x` and `x > hi ? hi : x` are exactly x86's MAXPS(lo, x)
   and MINPS(hi, x), so the compiler vectorizes them without changing results. */
static inline float sc_lay_relu(float x) { return x < 0.0f ? 0.0f : x; }
static inline float sc_lay_relu6(float x) {
  float t = x < 0.0f ? 0.0f : x;
  return t > 6.0f ? 6.0f : t;
}
static inline float sc_lay_act(float x, sc_activation act) {
  if (act == SC_ACTIVATION_RELU) return sc_lay_relu(x);
  if (act == SC_ACTIVATION_RELU6) return sc_lay_relu6(x);
  return x;
}
static inline bool sc_lay_valid_activation(sc_activation act) {
  return act == SC_ACTIVATION_NONE || act == SC_ACTIVATION_RELU || act == SC_ACTIVATION_RELU6;
}

/* exp(x) for x <= 0 (or NaN) in plain C: libm. */
static inline float sc_lay_sigmoid_scalar(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  float e = expf(x); /* NaN stays NaN */
  return e / (1.0f + e);
}

#if SC_X86
/*
 * Vector exp(x) for x <= 0 (any value below -104 gives 0 or the smallest
 * subnormal; NaN gives NaN). Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2,
 * Cephes' degree-7 polynomial for e^r (relative error ~1.2e-7 on that range),
 * and 2^n applied as two power-of-two factors 2^(n>>1) * 2^(n - (n>>1)) so that
 * results down to the subnormal range are rounded once and never overflow.
 */
#define SC_EXP_CLAMP -104.0f
#define SC_EXP_LOG2E 1.44269504088896341f
#define SC_EXP_LN2_HI 0.693359375f
#define SC_EXP_LN2_LO -2.12194440e-4f
#define SC_EXP_P0 1.9875691500e-4f
#define SC_EXP_P1 1.3981999507e-3f
#define SC_EXP_P2 8.3334519073e-3f
#define SC_EXP_P3 4.1665795894e-2f
#define SC_EXP_P4 1.6666665459e-1f
#define SC_EXP_P5 5.0000001201e-1f

SC_TARGET_AVX512 static inline __m512 sc_exp_neg_avx512(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(SC_EXP_CLAMP), x); /* NaN: returns x */
  __m512 fn = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(SC_EXP_LOG2E)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(fn, _mm512_set1_ps(SC_EXP_LN2_HI), x);
  r = _mm512_fnmadd_ps(fn, _mm512_set1_ps(SC_EXP_LN2_LO), r);
  __m512 p = _mm512_set1_ps(SC_EXP_P0);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SC_EXP_P1));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SC_EXP_P2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SC_EXP_P3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SC_EXP_P4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SC_EXP_P5));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  __m512i n = _mm512_cvtps_epi32(fn); /* NaN -> INT_MIN: p is NaN anyway */
  __m512i n1 = _mm512_srai_epi32(n, 1);
  __m512i n2 = _mm512_sub_epi32(n, n1);
  __m512i bias = _mm512_set1_epi32(127);
  __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
  __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
  return _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
}

SC_TARGET_AVX2 static inline __m256 sc_exp_neg_avx2(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(SC_EXP_CLAMP), x);
  __m256 fn = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(SC_EXP_LOG2E)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(SC_EXP_LN2_HI), x);
  r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(SC_EXP_LN2_LO), r);
  __m256 p = _mm256_set1_ps(SC_EXP_P0);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SC_EXP_P1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SC_EXP_P2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SC_EXP_P3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SC_EXP_P4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SC_EXP_P5));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i n = _mm256_cvtps_epi32(fn);
  __m256i n1 = _mm256_srai_epi32(n, 1);
  __m256i n2 = _mm256_sub_epi32(n, n1);
  __m256i bias = _mm256_set1_epi32(127);
  __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* Mask of the first `rem` (0..16) lanes. */
static inline __mmask16 sc_lay_mask16(int64_t rem) {
  return (__mmask16)((1u << (rem > 16 ? 16 : rem)) - 1u);
}

/* AVX2 mask-load/-store mask of the first rem (0..8) lanes. */
SC_TARGET_AVX2 static inline __m256i sc_lay_mask8(int64_t rem) {
  static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256((const __m256i *)(table + 8 - (rem > 8 ? 8 : rem)));
}
#endif

/* Run fn(ctx, begin, end) over [0, items) on nt threads (nt from sc_layers_threads). */
typedef void (*sc_lay_range_fn)(const void *ctx, int64_t begin, int64_t end);
static inline void sc_lay_parallel(int nt, int64_t items, sc_lay_range_fn fn, const void *ctx) {
  if (nt <= 1) {
    fn(ctx, 0, items);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
  {
    int64_t b, e;
    sc_split(items, omp_get_num_threads(), omp_get_thread_num(), &b, &e);
    if (b < e) fn(ctx, b, e);
  }
#else
  fn(ctx, 0, items);
#endif
}

#endif
