/* AVX2+FMA microkernels of the kernel-level path: 8 output lanes per vector.
   Only 16 registers: tiles stop at 12 accumulators, and the 3x3 row-reuse
   variant keeps one kernel column (3 weights) in registers at a time instead
   of all 9. */
#include "kconv.h"

#if SC_X86
#include <immintrin.h>

#define KC_INLINE static inline __attribute__((always_inline)) SC_TARGET_AVX2

KC_INLINE __m256 kc_act256(__m256 v, sc_activation act) {
  if (act != SC_ACTIVATION_NONE) v = _mm256_max_ps(v, _mm256_setzero_ps());
  if (act == SC_ACTIVATION_RELU6) v = _mm256_min_ps(v, _mm256_set1_ps(6.0f));
  return v;
}

KC_INLINE __m256i kc_lanes256(int32_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Writes the R x V accumulators to the tile, the activation applied when
   finishing, the last vector of each row masked to its real lanes unless the
   next row overwrites the extra ones (masked stores are slow on Zen 3). */
KC_INLINE void kc_store256(const sc_kconv_tile *t, __m256 acc[SC_KCONV_RMAX][SC_KCONV_VMAX], const int R,
                           const int V, const int finish) {
  const __m256i lm = kc_lanes256(t->last_lanes);
#pragma unroll
  for (int r = 0; r < R; r++) {
    float *o = t->out + r * t->out_stride;
#pragma unroll
    for (int v = 0; v < V; v++) {
      const __m256 y = finish ? kc_act256(acc[r][v], t->act) : acc[r][v];
      if (v == V - 1 && t->last_lanes < 8 && (r == R - 1 || !t->whole_rows))
        _mm256_maskstore_ps(o + 8 * v, lm, y);
      else _mm256_storeu_ps(o + 8 * v, y);
    }
  }
}

KC_INLINE void kc_gen256(const sc_kconv_tile *t, const int R, const int V, const int ML) {
  const int S = (R * V <= 4) ? 2 : 1;
  __m256 acc[2][SC_KCONV_RMAX][SC_KCONV_VMAX];
  const __m256 vb = _mm256_set1_ps(t->bias);
  const __m256i lm = kc_lanes256(t->last_lanes);
#pragma unroll
  for (int r = 0; r < R; r++)
#pragma unroll
    for (int v = 0; v < V; v++) {
      const float *o = t->out + r * t->out_stride + 8 * v;
      acc[0][r][v] = !t->accumulate ? vb : (v == V - 1) ? _mm256_maskload_ps(o, lm) : _mm256_loadu_ps(o);
      acc[1][r][v] = _mm256_setzero_ps();
    }
  const int32_t n = t->n, kk = t->kk;
  const ptrdiff_t rs = t->row_stride;
  const int32_t *toff = t->toff;
  int32_t k = 0;
  for (; k + S <= n; k += S) {
    const float *xp[2], *wk[2];
#pragma unroll
    for (int s = 0; s < S; s++) {
      xp[s] = t->x + (size_t)t->ics[k + s] * t->plane;
      wk[s] = t->w + (size_t)(k + s) * kk;
    }
    for (int32_t tap = 0; tap < kk; tap++) {
      const ptrdiff_t off = toff[tap];
#pragma unroll
      for (int s = 0; s < S; s++) {
        const __m256 wv = _mm256_broadcast_ss(wk[s] + tap);
        const float *xt = xp[s] + off;
#pragma unroll
        for (int r = 0; r < R; r++)
#pragma unroll
          for (int v = 0; v < V; v++) {
            const float *p = xt + r * rs + 8 * v;
            const __m256 xv = (ML && v == V - 1) ? _mm256_maskload_ps(p, lm) : _mm256_loadu_ps(p);
            acc[s][r][v] = _mm256_fmadd_ps(wv, xv, acc[s][r][v]);
          }
      }
    }
  }
  if (S == 2 && k < n) {
    const float *xp = t->x + (size_t)t->ics[k] * t->plane;
    const float *wk = t->w + (size_t)k * kk;
    for (int32_t tap = 0; tap < kk; tap++) {
      const __m256 wv = _mm256_broadcast_ss(wk + tap);
      const float *xt = xp + toff[tap];
#pragma unroll
      for (int r = 0; r < R; r++)
#pragma unroll
        for (int v = 0; v < V; v++) {
          const float *p = xt + r * rs + 8 * v;
          const __m256 xv = (ML && v == V - 1) ? _mm256_maskload_ps(p, lm) : _mm256_loadu_ps(p);
          acc[0][r][v] = _mm256_fmadd_ps(wv, xv, acc[0][r][v]);
        }
    }
  }
  if (S == 2)
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
      for (int v = 0; v < V; v++) acc[0][r][v] = _mm256_add_ps(acc[0][r][v], acc[1][r][v]);
  kc_store256(t, acc[0], R, V, t->finish);
}

/* 3x3, stride 1, dilation 1: for each kernel column c, its 3 weights sit in
   registers and each input vector of the tile's R+2 rows, loaded once, feeds
   the up-to-3 output rows that read it: 3(R+2)V loads for 9RV FMAs, against
   9RV loads in kc_gen256. Always starts from the bias and finishes.
   Tiles of fewer than 8 accumulators (7x7 layers: 7 rows of one vector)
   would give each accumulator 9 dependent FMAs per kernel, and 7 chains
   cannot hide the FMA latency on two pipes: there each kernel column is
   summed into a temporary (a multiply and two FMAs, on the FMA pipes as
   before) that one add (on the separate add pipes) folds into the
   accumulator, the input rows sliding through 3 registers. */
KC_INLINE void kc_s3_256(const sc_kconv_tile *t, const int R, const int V) {
  const int colsum = R * V < 8;
  __m256 acc[SC_KCONV_RMAX][SC_KCONV_VMAX];
  const __m256 vb = _mm256_set1_ps(t->bias);
#pragma unroll
  for (int r = 0; r < R; r++)
#pragma unroll
    for (int v = 0; v < V; v++) acc[r][v] = vb;
  const int32_t n = t->n;
  const ptrdiff_t rs = t->row_stride;
  const float *x = t->x;
  const size_t plane = t->plane;
  const int32_t *ics = t->ics;
  const float *w = t->w;
  for (int32_t k = 0; k < n; k++) {
    const float *xp = x + (size_t)ics[k] * plane;
    const float *wk = w + (size_t)k * 9;
#pragma unroll
    for (int c = 0; c < 3; c++) {
      const __m256 w0 = _mm256_broadcast_ss(wk + c), w1 = _mm256_broadcast_ss(wk + 3 + c),
                   w2 = _mm256_broadcast_ss(wk + 6 + c);
      if (colsum) {
#pragma unroll
        for (int v = 0; v < V; v++) {
          __m256 x0 = _mm256_loadu_ps(xp + c + 8 * v), x1 = _mm256_loadu_ps(xp + rs + c + 8 * v);
#pragma unroll
          for (int j = 0; j < R; j++) {
            const __m256 x2 = _mm256_loadu_ps(xp + (j + 2) * rs + c + 8 * v);
            __m256 s = _mm256_mul_ps(w0, x0);
            s = _mm256_fmadd_ps(w1, x1, s);
            s = _mm256_fmadd_ps(w2, x2, s);
            acc[j][v] = _mm256_add_ps(acc[j][v], s);
            x0 = x1;
            x1 = x2;
          }
        }
        continue;
      }
#pragma unroll
      for (int j = 0; j < R + 2; j++)
#pragma unroll
        for (int v = 0; v < V; v++) {
          const __m256 xv = _mm256_loadu_ps(xp + j * rs + c + 8 * v);
          if (j < R) acc[j][v] = _mm256_fmadd_ps(w0, xv, acc[j][v]);
          if (j >= 1 && j - 1 < R) acc[j - 1][v] = _mm256_fmadd_ps(w1, xv, acc[j - 1][v]);
          if (j >= 2 && j - 2 < R) acc[j - 2][v] = _mm256_fmadd_ps(w2, xv, acc[j - 2][v]);
        }
    }
  }
  kc_store256(t, acc, R, V, 1);
}

#define KC_RV_LIST(X) \
  X(1, 1) X(2, 1) X(3, 1) X(4, 1) X(5, 1) X(6, 1) X(7, 1) X(8, 1) X(9, 1) X(10, 1) \
  X(11, 1) X(12, 1) \
  X(1, 2) X(2, 2) X(3, 2) X(4, 2) X(5, 2) X(6, 2) \
  X(1, 3) X(2, 3) X(3, 3) X(4, 3) \
  X(1, 4) X(2, 4) X(3, 4) \
  X(1, 5) X(2, 5) X(1, 6) X(2, 6) X(1, 7) X(1, 8)

/* A run of t->nch channels over one tile: the per-channel fields go into a
   local copy, so the tile's geometry stays in registers across channels. */
#define KC_CHANNELS(t, CALL)                                   \
  do {                                                         \
    sc_kconv_tile u = *(t);                                    \
    for (int32_t c = 0; c < (t)->nch; c++) {                   \
      const int32_t k0 = (t)->kptr[c];                         \
      u.ics = (t)->ics + k0;                                   \
      u.w = (t)->w + (size_t)k0 * (t)->kk;                     \
      u.n = (t)->kptr[c + 1] - k0;                             \
      u.bias = (t)->biases[c];                                 \
      u.out = (t)->out + (size_t)c * (t)->out_plane;           \
      CALL;                                                    \
    }                                                          \
  } while (0)

#define KC_DEF(R, V) \
  static SC_TARGET_AVX2 void f32_kconv_##R##x##V##__avx2(const sc_kconv_tile *t) { KC_CHANNELS(t, kc_gen256(&u, R, V, 0)); }
KC_RV_LIST(KC_DEF)

#define KC_DEF_S3(R, V) \
  static SC_TARGET_AVX2 void f32_kconv_3x3s1_##R##x##V##__avx2(const sc_kconv_tile *t) { KC_CHANNELS(t, kc_s3_256(&u, R, V)); }
KC_RV_LIST(KC_DEF_S3)

#define KC_DEF_ML(V) \
  static SC_TARGET_AVX2 void f32_kconv_1x##V##_ml__avx2(const sc_kconv_tile *t) { KC_CHANNELS(t, kc_gen256(&u, 1, V, 1)); }
KC_DEF_ML(1) KC_DEF_ML(2) KC_DEF_ML(3) KC_DEF_ML(4) KC_DEF_ML(5) KC_DEF_ML(6) KC_DEF_ML(7) KC_DEF_ML(8)

void sc_kconv_kernels_avx2(sc_kconv_kernels *k) {
  *k = (sc_kconv_kernels){0};
  k->lanes = 8;
  k->rv_max = 12;
#define KC_SET(R, V) k->gen[R][V] = f32_kconv_##R##x##V##__avx2;
  KC_RV_LIST(KC_SET)
#define KC_SET_S3(R, V) k->s3[R][V] = f32_kconv_3x3s1_##R##x##V##__avx2;
  KC_RV_LIST(KC_SET_S3)
#define KC_SET_ML(V) k->gen_ml[V] = f32_kconv_1x##V##_ml__avx2;
  KC_SET_ML(1) KC_SET_ML(2) KC_SET_ML(3) KC_SET_ML(4) KC_SET_ML(5) KC_SET_ML(6) KC_SET_ML(7) KC_SET_ML(8)
  k->spmm_v = 4;
  /* Zen 3, 90 %, 2 threads, 3x3 at 56/28/14: 2x4 and 2x5 tiles ran
     0.29-0.30 ms, 3x4 and 4x3 (12 accumulators, 47-61 spill moves) 0.37-0.47. */
  k->s3_vmax = 2;
  k->s3_rv_max = 10;
  k->runs = 1;
}

#endif
