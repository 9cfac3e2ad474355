/*
 * AVX-512 microkernels of the direct sparse convolution (see spconv.c).
 * f32_spconv_<P>x<N>__avx512: P = 16*T output positions (T zmm vectors along
 * the flattened padded-width output), N = output channels sharing one index.
 * The pixel tile lives in registers for the whole row; each nonzero costs one
 * 32-bit index load, N weight broadcasts and T input loads feeding N*T FMAs.
 */
#include "spconv.h"

#if SC_X86
#include <immintrin.h>

#define SC_AI __attribute__((always_inline)) inline

/* Garbage lanes (padded-width columns, the end of the plane) are squeezed out
   by a register compress, so each vector is one masked store. */
static SC_AI SC_TARGET_AVX512 void store_avx512(__m512 x, const sc_spconv_args *a, int v,
                                                float *out, __m512 lo, __m512 hi) {
  if (a->clamp) x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
  const unsigned m = a->vmask[v];
  float *o = out + a->voff[v];
  if (m == 0xFFFFu) {
    _mm512_storeu_ps(o, x);
  } else if (m != 0) {
    const __mmask16 keep = (__mmask16)((1u << __builtin_popcount(m)) - 1u);
    _mm512_mask_storeu_ps(o, keep, _mm512_maskz_compress_ps((__mmask16)m, x));
  }
}

static SC_AI SC_TARGET_AVX512 void single_avx512(const sc_spconv_args *a, const int T) {
  __m512 acc[SC_SPCONV_TMAX];
  if (a->pin) {
    for (int v = 0; v < T; v++) acc[v] = _mm512_load_ps(a->pin + 16 * v);
  } else {
    const __m512 b = _mm512_set1_ps(a->b0);
    for (int v = 0; v < T; v++) acc[v] = b;
  }
  const __mmask16 lm = (__mmask16)((1u << a->lastn) - 1u);
  const int32_t *idx = a->idx;
  const float *w = a->w;
  const float *in = a->in;
  for (int64_t k = 0, n = a->nnz; k < n; k++) {
    const float *ip = in + idx[k];
    const __m512 wv = _mm512_set1_ps(w[k]);
    for (int v = 0; v < T - 1; v++) acc[v] = _mm512_fmadd_ps(_mm512_loadu_ps(ip + 16 * v), wv, acc[v]);
    acc[T - 1] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(lm, ip + 16 * (T - 1)), wv, acc[T - 1]);
  }
  if (a->pout) {
    for (int v = 0; v < T; v++) _mm512_store_ps(a->pout + 16 * v, acc[v]);
    return;
  }
  const __m512 lo = _mm512_set1_ps(a->lo), hi = _mm512_set1_ps(a->hi);
  for (int v = 0; v < T; v++) store_avx512(acc[v], a, v, a->out0, lo, hi);
}

/* The positions from k on whose element offset from a 64-byte boundary is S
   floats (mis = the tile's own offset), while it stays S: the aligned
   vectors A[0..T] around a position's T vectors are loaded once each and
   vector v is lanes [S, S + 16) of (A[v], A[v + 1]). Lanes outside what
   the unaligned loads would read are masked off (m0: A[0] below S; mlo,
   mhi: A[T - 1], A[T] past the tile's last lane), so no byte outside them
   is read; at S = 0, A[T] is not read at all. WEIGHTS broadcasts position
   k's weights, ACCUMULATE adds x (vector v) into the accumulators. Macros:
   valignd's shift must be a constant. T >= 2 (tiles of 6 and up). */
#define SC_ALIGNED_RUN(S, WEIGHTS, ACCUMULATE)                                               \
  do {                                                                                      \
    const float *ip = in + idx[k] - (S);                                                    \
    WEIGHTS;                                                                                \
    __m512i lo = (S) == 0 ? _mm512_loadu_si512((const void *)ip) : _mm512_maskz_loadu_epi32(m0, ip); \
    _Pragma("clang loop unroll(full)") for (int v = 0; v < T; v++) {                        \
      __m512i hi;                                                                           \
      if (v + 1 < T - 1) hi = _mm512_loadu_si512((const void *)(ip + 16 * (v + 1)));        \
      else if (v + 1 == T - 1) hi = _mm512_maskz_loadu_epi32(mlo, ip + 16 * (v + 1));       \
      else hi = (S) == 0 ? _mm512_setzero_si512() : _mm512_maskz_loadu_epi32(mhi, ip + 16 * T); \
      const __m512 x = _mm512_castsi512_ps((S) == 0 ? lo : _mm512_alignr_epi32(hi, lo, (S))); \
      ACCUMULATE;                                                                           \
      lo = hi;                                                                              \
    }                                                                                       \
    k++;                                                                                    \
  } while (k < n && ((mis + (uint32_t)idx[k]) & 15u) == (uint32_t)(S))

/* A row's positions over a tile, one SC_ALIGNED_RUN per run of equal
   offset (sort_by_shift in spconv.c makes the runs long). */
#define SC_ALIGNED_WALK(WEIGHTS, ACCUMULATE)                                                  \
  do {                                                                                      \
    const int32_t *idx = a->idx;                                                            \
    const float *w = a->w;                                                                  \
    const float *in = a->in;                                                                \
    const uint32_t mis = (uint32_t)(((uintptr_t)in >> 2) & 15u);                            \
    const uint32_t lastn = (uint32_t)a->lastn;                                              \
    const int64_t n = a->nnz;                                                               \
    for (int64_t k = 0; k < n;) {                                                           \
      const uint32_t S = (mis + (uint32_t)idx[k]) & 15u, top = S + lastn;                   \
      const __mmask16 m0 = (__mmask16)(0xFFFFu << S);                                       \
      const __mmask16 mlo = (__mmask16)(top >= 16 ? 0xFFFFu : (1u << top) - 1u);           \
      const __mmask16 mhi = (__mmask16)(top > 16 ? (1u << (top - 16)) - 1u : 0u);           \
      switch (S) {                                                                          \
      case 0: SC_ALIGNED_RUN(0, WEIGHTS, ACCUMULATE); break;                                \
      case 1: SC_ALIGNED_RUN(1, WEIGHTS, ACCUMULATE); break;                                \
      case 2: SC_ALIGNED_RUN(2, WEIGHTS, ACCUMULATE); break;                                \
      case 3: SC_ALIGNED_RUN(3, WEIGHTS, ACCUMULATE); break;                                \
      case 4: SC_ALIGNED_RUN(4, WEIGHTS, ACCUMULATE); break;                                \
      case 5: SC_ALIGNED_RUN(5, WEIGHTS, ACCUMULATE); break;                                \
      case 6: SC_ALIGNED_RUN(6, WEIGHTS, ACCUMULATE); break;                                \
      case 7: SC_ALIGNED_RUN(7, WEIGHTS, ACCUMULATE); break;                                \
      case 8: SC_ALIGNED_RUN(8, WEIGHTS, ACCUMULATE); break;                                \
      case 9: SC_ALIGNED_RUN(9, WEIGHTS, ACCUMULATE); break;                                \
      case 10: SC_ALIGNED_RUN(10, WEIGHTS, ACCUMULATE); break;                              \
      case 11: SC_ALIGNED_RUN(11, WEIGHTS, ACCUMULATE); break;                              \
      case 12: SC_ALIGNED_RUN(12, WEIGHTS, ACCUMULATE); break;                              \
      case 13: SC_ALIGNED_RUN(13, WEIGHTS, ACCUMULATE); break;                              \
      case 14: SC_ALIGNED_RUN(14, WEIGHTS, ACCUMULATE); break;                              \
      default: SC_ALIGNED_RUN(15, WEIGHTS, ACCUMULATE); break;                              \
      }                                                                                     \
    }                                                                                       \
  } while (0)

static SC_AI SC_TARGET_AVX512 void single_aligned_avx512(const sc_spconv_args *a, const int T) {
  __m512 acc[SC_SPCONV_TMAX];
  if (a->pin) {
    _Pragma("clang loop unroll(full)") for (int v = 0; v < T; v++) acc[v] = _mm512_load_ps(a->pin + 16 * v);
  } else {
    const __m512 b = _mm512_set1_ps(a->b0);
    _Pragma("clang loop unroll(full)") for (int v = 0; v < T; v++) acc[v] = b;
  }
  SC_ALIGNED_WALK(const __m512 wv = _mm512_set1_ps(w[k]), acc[v] = _mm512_fmadd_ps(x, wv, acc[v]));
  if (a->pout) {
    _Pragma("clang loop unroll(full)") for (int v = 0; v < T; v++) _mm512_store_ps(a->pout + 16 * v, acc[v]);
    return;
  }
  const __m512 lo = _mm512_set1_ps(a->lo), hi = _mm512_set1_ps(a->hi);
  _Pragma("clang loop unroll(full)") for (int v = 0; v < T; v++) store_avx512(acc[v], a, v, a->out0, lo, hi);
}

/* pair_avx512 from aligned loads, as single_aligned_avx512. */
static SC_AI SC_TARGET_AVX512 void pair_aligned_avx512(const sc_spconv_args *a, const int T) {
  __m512 acc0[SC_SPCONV_TMAX], acc1[SC_SPCONV_TMAX];
  if (a->pin) {
    _Pragma("clang loop unroll(full)") for (int v = 0; v < T; v++) {
      acc0[v] = _mm512_load_ps(a->pin + 16 * v);
      acc1[v] = _mm512_load_ps(a->pin + 16 * (T + v));
    }
  } else {
    const __m512 b0 = _mm512_set1_ps(a->b0), b1 = _mm512_set1_ps(a->b1);
    _Pragma("clang loop unroll(full)") for (int v = 0; v < T; v++) {
      acc0[v] = b0;
      acc1[v] = b1;
    }
  }
  SC_ALIGNED_WALK(const __m512 w0 = _mm512_set1_ps(w[2 * k]); const __m512 w1 = _mm512_set1_ps(w[2 * k + 1]),
                  acc0[v] = _mm512_fmadd_ps(x, w0, acc0[v]); acc1[v] = _mm512_fmadd_ps(x, w1, acc1[v]));
  if (a->pout) {
    _Pragma("clang loop unroll(full)") for (int v = 0; v < T; v++) {
      _mm512_store_ps(a->pout + 16 * v, acc0[v]);
      _mm512_store_ps(a->pout + 16 * (T + v), acc1[v]);
    }
    return;
  }
  const __m512 lo = _mm512_set1_ps(a->lo), hi = _mm512_set1_ps(a->hi);
  _Pragma("clang loop unroll(full)") for (int v = 0; v < T; v++) store_avx512(acc0[v], a, v, a->out0, lo, hi);
  _Pragma("clang loop unroll(full)") for (int v = 0; v < T; v++) store_avx512(acc1[v], a, v, a->out1, lo, hi);
}
#undef SC_ALIGNED_WALK
#undef SC_ALIGNED_RUN

static SC_AI SC_TARGET_AVX512 void pair_avx512(const sc_spconv_args *a, const int T) {
  __m512 acc0[SC_SPCONV_TMAX], acc1[SC_SPCONV_TMAX];
  if (a->pin) {
    for (int v = 0; v < T; v++) {
      acc0[v] = _mm512_load_ps(a->pin + 16 * v);
      acc1[v] = _mm512_load_ps(a->pin + 16 * (T + v));
    }
  } else {
    const __m512 b0 = _mm512_set1_ps(a->b0), b1 = _mm512_set1_ps(a->b1);
    for (int v = 0; v < T; v++) {
      acc0[v] = b0;
      acc1[v] = b1;
    }
  }
  const __mmask16 lm = (__mmask16)((1u << a->lastn) - 1u);
  const int32_t *idx = a->idx;
  const float *w = a->w;
  const float *in = a->in;
  for (int64_t k = 0, n = a->nnz; k < n; k++) {
    const float *ip = in + idx[k];
    const __m512 w0 = _mm512_set1_ps(w[2 * k]);
    const __m512 w1 = _mm512_set1_ps(w[2 * k + 1]);
    for (int v = 0; v < T - 1; v++) {
      const __m512 x = _mm512_loadu_ps(ip + 16 * v);
      acc0[v] = _mm512_fmadd_ps(x, w0, acc0[v]);
      acc1[v] = _mm512_fmadd_ps(x, w1, acc1[v]);
    }
    const __m512 x = _mm512_maskz_loadu_ps(lm, ip + 16 * (T - 1));
    acc0[T - 1] = _mm512_fmadd_ps(x, w0, acc0[T - 1]);
    acc1[T - 1] = _mm512_fmadd_ps(x, w1, acc1[T - 1]);
  }
  if (a->pout) {
    for (int v = 0; v < T; v++) {
      _mm512_store_ps(a->pout + 16 * v, acc0[v]);
      _mm512_store_ps(a->pout + 16 * (T + v), acc1[v]);
    }
    return;
  }
  const __m512 lo = _mm512_set1_ps(a->lo), hi = _mm512_set1_ps(a->hi);
  for (int v = 0; v < T; v++) store_avx512(acc0[v], a, v, a->out0, lo, hi);
  for (int v = 0; v < T; v++) store_avx512(acc1[v], a, v, a->out1, lo, hi);
}

/* R dense channels over T vectors (the AVX2 kernel's shape, 16 lanes; a
   tile of 4 needs 24 accumulators, 4 inputs and a weight: no halves in 32
   registers). */
static SC_AI SC_TARGET_AVX512 void dense_avx512(const sc_spconv_args *a, const int R, const int T) {
  __m512 acc[SC_SPCONV_RMAX][4];
  for (int r = 0; r < R; r++) {
    const __m512 b = _mm512_set1_ps(a->bias[r]);
    for (int v = 0; v < T; v++) acc[r][v] = b;
  }
  const __mmask16 lm = (__mmask16)((1u << a->lastn) - 1u);
  const int32_t *idx = a->idx;
  const float *w = a->w;
  const float *in = a->in;
  for (int64_t k = 0, n = a->nnz; k < n; k++, w += R) {
    const float *ip = in + idx[k];
    __m512 x[4];
    for (int v = 0; v < T - 1; v++) x[v] = _mm512_loadu_ps(ip + 16 * v);
    x[T - 1] = _mm512_maskz_loadu_ps(lm, ip + 16 * (T - 1));
    for (int r = 0; r < R; r++) {
      const __m512 wv = _mm512_set1_ps(w[r]);
      for (int v = 0; v < T; v++) acc[r][v] = _mm512_fmadd_ps(x[v], wv, acc[r][v]);
    }
  }
  const __m512 lo = _mm512_set1_ps(a->lo), hi = _mm512_set1_ps(a->hi);
  for (int r = 0; r < R; r++)
    for (int v = 0; v < T; v++) store_avx512(acc[r][v], a, v, a->out0 + a->ooff[r], lo, hi);
}

#define SC_DENSE_DEF(R)                                                                      \
  static SC_TARGET_AVX512 void f32_spconv_16x##R##_dense__avx512(const sc_spconv_args *a) { \
    dense_avx512(a, R, 1);                                                                   \
  }                                                                                          \
  static SC_TARGET_AVX512 void f32_spconv_32x##R##_dense__avx512(const sc_spconv_args *a) { \
    dense_avx512(a, R, 2);                                                                   \
  }                                                                                          \
  static SC_TARGET_AVX512 void f32_spconv_48x##R##_dense__avx512(const sc_spconv_args *a) { \
    dense_avx512(a, R, 3);                                                                   \
  }                                                                                          \
  static SC_TARGET_AVX512 void f32_spconv_64x##R##_dense__avx512(const sc_spconv_args *a) { \
    dense_avx512(a, R, 4);                                                                   \
  }
SC_DENSE_DEF(1)
SC_DENSE_DEF(2)
SC_DENSE_DEF(3)
SC_DENSE_DEF(4)
SC_DENSE_DEF(5)
SC_DENSE_DEF(6)
#undef SC_DENSE_DEF

#define SC_DEF(P, T)                                                                         \
  static SC_TARGET_AVX512 void f32_spconv_##P##x1__avx512(const sc_spconv_args *a) {        \
    single_avx512(a, T);                                                                     \
  }                                                                                          \
  static SC_TARGET_AVX512 void f32_spconv_##P##x2__avx512(const sc_spconv_args *a) {        \
    pair_avx512(a, T);                                                                       \
  }
SC_DEF(16, 1)
SC_DEF(32, 2)
SC_DEF(48, 3)
SC_DEF(64, 4)
SC_DEF(80, 5)
SC_DEF(96, 6)
SC_DEF(112, 7)
SC_DEF(128, 8)
SC_DEF(144, 9)
SC_DEF(160, 10)
SC_DEF(176, 11)
SC_DEF(192, 12)
SC_DEF(208, 13)
SC_DEF(224, 14)
SC_DEF(240, 15)
SC_DEF(256, 16)
#undef SC_DEF

/* The aligned kernels for tiles of 6 vectors and up only, the tiles the
   engine gives them (a band's short last tiles take the split-load ones).
   16 shifts x T unrolled vectors for every T made this file take 110 s to
   compile under AddressSanitizer + UBSan, so sanitizer builds (Scripts/
   sanitize, sanitize-kernels, the fuzzers) take three tile sizes, the same
   code at its edges (6, the smallest; 11; 16, the largest), and the
   split-load kernels for the rest. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SC_FEW_ALIGNED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(SC_FEW_ALIGNED)
#define SC_FEW_ALIGNED 1
#endif
#ifdef SC_FEW_ALIGNED
#define SC_ALIGNED_T(T) ((T) == 6 || (T) == 11 || (T) == 16)
#else
#define SC_ALIGNED_T(T) 1
#endif
#define SC_ALIGNED_SINGLE_DEF(P, T)                                                          \
  static SC_TARGET_AVX512 void f32_spconv_##P##x1_aligned__avx512(const sc_spconv_args *a) { \
    if (SC_ALIGNED_T(T)) single_aligned_avx512(a, T);                                        \
    else single_avx512(a, T);                                                                \
  }
#define SC_ALIGNED_PAIR_DEF(P, T)                                                            \
  static SC_TARGET_AVX512 void f32_spconv_##P##x2_aligned__avx512(const sc_spconv_args *a) { \
    if (SC_ALIGNED_T(T)) pair_aligned_avx512(a, T);                                          \
    else pair_avx512(a, T);                                                                  \
  }
SC_ALIGNED_SINGLE_DEF(96, 6)
SC_ALIGNED_SINGLE_DEF(112, 7)
SC_ALIGNED_SINGLE_DEF(128, 8)
SC_ALIGNED_SINGLE_DEF(144, 9)
SC_ALIGNED_SINGLE_DEF(160, 10)
SC_ALIGNED_SINGLE_DEF(176, 11)
SC_ALIGNED_SINGLE_DEF(192, 12)
SC_ALIGNED_SINGLE_DEF(208, 13)
SC_ALIGNED_SINGLE_DEF(224, 14)
SC_ALIGNED_SINGLE_DEF(240, 15)
SC_ALIGNED_SINGLE_DEF(256, 16)
SC_ALIGNED_PAIR_DEF(96, 6)
SC_ALIGNED_PAIR_DEF(112, 7)
SC_ALIGNED_PAIR_DEF(128, 8)
SC_ALIGNED_PAIR_DEF(144, 9)
SC_ALIGNED_PAIR_DEF(160, 10)
SC_ALIGNED_PAIR_DEF(176, 11)
SC_ALIGNED_PAIR_DEF(192, 12)
#undef SC_ALIGNED_SINGLE_DEF
#undef SC_ALIGNED_PAIR_DEF

/* Lanes [lo, hi) of 16, clipped. */
static SC_AI __mmask16 range_mask16(int64_t lo, int64_t hi) {
  lo = lo < 0 ? 0 : lo;
  hi = hi > 16 ? 16 : hi;
  if (hi <= lo) return 0;
  return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* Padding comes from masked-off lanes of masked loads (which never fault),
   so a row is a few loads and stores with no per-element branch. */
static SC_TARGET_AVX512 void f32_spconv_fill_row__avx512(float *row, int32_t wq, const float *src,
                                                         int64_t xs, int32_t sw, int32_t in_w) {
  if (sw == 1) {
    for (int32_t j = 0; j < wq; j += 16) {
      const int64_t x = xs + j;
      const __mmask16 m = range_mask16(-x, in_w - x);
      const __m512 v = _mm512_maskz_loadu_ps(m, (const void *)((uintptr_t)src + (uintptr_t)(x * 4)));
      if (j + 16 <= wq) _mm512_storeu_ps(row + j, v);
      else _mm512_mask_storeu_ps(row + j, range_mask16(0, wq - j), v);
    }
  } else if (sw == 2) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int32_t j = 0; j < wq; j += 16) {
      const int64_t x = xs + 2 * (int64_t)j;
      const __m512 a = _mm512_maskz_loadu_ps(range_mask16(-x, in_w - x),
                                             (const void *)((uintptr_t)src + (uintptr_t)(x * 4)));
      const int64_t x2 = x + 16;
      const __m512 b = _mm512_maskz_loadu_ps(range_mask16(-x2, in_w - x2),
                                             (const void *)((uintptr_t)src + (uintptr_t)(x2 * 4)));
      const __m512 v = _mm512_permutex2var_ps(a, even, b);
      if (j + 16 <= wq) _mm512_storeu_ps(row + j, v);
      else _mm512_mask_storeu_ps(row + j, range_mask16(0, wq - j), v);
    }
  } else {
    sc_spconv_fill_row_scalar(row, wq, src, xs, sw, in_w);
  }
}

void sc_spconv_kernels_avx512(sc_spconv_kernels *k) {
  k->fill_row = f32_spconv_fill_row__avx512;
  k->lanes = 16;
  k->tmax_single = 16;
  k->tmax_pair = 12;
#define SC_SET(P, T)                                                                         \
  k->single[T] = k->single_aligned[T] = f32_spconv_##P##x1__avx512;                          \
  k->pair[T] = k->pair_aligned[T] = f32_spconv_##P##x2__avx512;
  SC_SET(16, 1) SC_SET(32, 2) SC_SET(48, 3) SC_SET(64, 4)
  SC_SET(80, 5) SC_SET(96, 6) SC_SET(112, 7) SC_SET(128, 8)
  SC_SET(144, 9) SC_SET(160, 10) SC_SET(176, 11) SC_SET(192, 12)
  SC_SET(208, 13) SC_SET(224, 14) SC_SET(240, 15) SC_SET(256, 16)
#undef SC_SET
#define SC_SET(P, T) k->single_aligned[T] = f32_spconv_##P##x1_aligned__avx512;
  SC_SET(96, 6) SC_SET(112, 7) SC_SET(128, 8) SC_SET(144, 9) SC_SET(160, 10) SC_SET(176, 11)
  SC_SET(192, 12) SC_SET(208, 13) SC_SET(224, 14) SC_SET(240, 15) SC_SET(256, 16)
#undef SC_SET
#define SC_SET(P, T) k->pair_aligned[T] = f32_spconv_##P##x2_aligned__avx512;
  SC_SET(96, 6) SC_SET(112, 7) SC_SET(128, 8) SC_SET(144, 9) SC_SET(160, 10) SC_SET(176, 11)
  SC_SET(192, 12)
#undef SC_SET
  /* Zen 4: tiles of 3 (and 4): 6 weight broadcasts feed 18-24 FMAs, not
     12. Kernel probe, 2 threads, channel-level 90 % (dense rows), tiles of 2
     -> 3, three interleaved runs, medians: 3x3 64@56 0.187 -> 0.184 ms,
     128@28 0.117 -> 0.113, dilated 64@56 d2 0.197 -> 0.193, VGG 256@56
     1.95 -> 1.90; 64@56 at 50 % equal. Intel (Emerald Rapids) gains too:
     probe, five interleaved runs, 90 %: 3x3 64@56 0.296 -> 0.270 ms, 128@28
     0.171 -> 0.156, 256@14 0.198 -> 0.175, VGG 256@56 2.72 -> 2.42, dilated
     64@56 d2 0.304 -> 0.268; 512@7, 3x3/2 and 1x1 256->64@56 within 3 %,
     64@56 at 50 % equal. So does Zen 5: Benchmarks/kernel-probe/ab.sh, 2
     threads, 90 %, three processes, medians, time with 3 / 2: channel-level
     3x3 64@56 0.94, 128@28 0.98, kernel-level 64@56 0.98; 256@14, 512@7,
     1x1 256->64@56 and 64@56 at 50 % within 1 %. */
  k->tmax_dense = 3;
#define SC_SET(R)                                                                            \
  k->dense[R][1] = f32_spconv_16x##R##_dense__avx512;                                        \
  k->dense[R][2] = f32_spconv_32x##R##_dense__avx512;                                        \
  k->dense[R][3] = f32_spconv_48x##R##_dense__avx512;                                        \
  k->dense[R][4] = f32_spconv_64x##R##_dense__avx512;
  SC_SET(1) SC_SET(2) SC_SET(3) SC_SET(4) SC_SET(5) SC_SET(6)
#undef SC_SET
}
#endif
