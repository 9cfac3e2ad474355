/* AVX-512 microkernels of the kernel-level path: 16 output lanes per vector. */
#include "kconv.h"

#if SC_X86
#include <immintrin.h>

#define KC_INLINE static inline __attribute__((always_inline)) SC_TARGET_AVX512

KC_INLINE __m512 kc_act512(__m512 v, sc_activation act) {
  if (act != SC_ACTIVATION_NONE) v = _mm512_max_ps(v, _mm512_setzero_ps());
  if (act == SC_ACTIVATION_RELU6) v = _mm512_min_ps(v, _mm512_set1_ps(6.0f));
  return v;
}

/* acc[r][v] stays in registers: every loop below has a constant trip count
   once R and V are constants, so clang unrolls it and promotes the array. */
KC_INLINE void kc_store512(const sc_kconv_tile *t, __m512 acc[SC_KCONV_RMAX][SC_KCONV_VMAX],
                           const int R, const int V) {
  const __mmask16 lm = (__mmask16)((1u << t->last_lanes) - 1u);
  const sc_activation act = t->act;
#pragma unroll
  for (int r = 0; r < R; r++) {
    float *o = t->out + r * t->out_stride;
#pragma unroll
    for (int v = 0; v < V; v++) {
      __m512 y = t->finish ? kc_act512(acc[r][v], act) : acc[r][v];
      if (v == V - 1 && t->last_lanes < 16) _mm512_mask_storeu_ps(o + 16 * v, lm, y);
      else _mm512_storeu_ps(o + 16 * v, y);
    }
  }
}

/* Any taps. When the tile is small, two accumulator sets take alternate
   kernels so that at least 8 FMA chains hide the FMA latency. */
KC_INLINE void kc_gen512(const sc_kconv_tile *t, const int R, const int V, const int ML) {
  const int S = (R * V <= 4) ? 2 : 1;
  __m512 acc[2][SC_KCONV_RMAX][SC_KCONV_VMAX];
  const __m512 vb = _mm512_set1_ps(t->bias);
  const __mmask16 lm = (__mmask16)((1u << t->last_lanes) - 1u);
#pragma unroll
  for (int r = 0; r < R; r++)
#pragma unroll
    for (int v = 0; v < V; v++) {
      const float *o = t->out + r * t->out_stride + 16 * v;
      acc[0][r][v] = !t->accumulate ? vb
                     : (v == V - 1) ? _mm512_maskz_loadu_ps(lm, o) : _mm512_loadu_ps(o);
      acc[1][r][v] = _mm512_setzero_ps();
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
        const __m512 wv = _mm512_set1_ps(wk[s][tap]);
        const float *xt = xp[s] + off;
#pragma unroll
        for (int r = 0; r < R; r++)
#pragma unroll
          for (int v = 0; v < V; v++) {
            const float *p = xt + r * rs + 16 * v;
            const __m512 xv = (ML && v == V - 1) ? _mm512_maskz_loadu_ps(lm, p) : _mm512_loadu_ps(p);
            acc[s][r][v] = _mm512_fmadd_ps(wv, xv, acc[s][r][v]);
          }
      }
    }
  }
  if (S == 2 && k < n) {
    const float *xp = t->x + (size_t)t->ics[k] * t->plane;
    const float *wk = t->w + (size_t)k * kk;
    for (int32_t tap = 0; tap < kk; tap++) {
      const __m512 wv = _mm512_set1_ps(wk[tap]);
      const float *xt = xp + toff[tap];
#pragma unroll
      for (int r = 0; r < R; r++)
#pragma unroll
        for (int v = 0; v < V; v++) {
          const float *p = xt + r * rs + 16 * v;
          const __m512 xv = (ML && v == V - 1) ? _mm512_maskz_loadu_ps(lm, p) : _mm512_loadu_ps(p);
          acc[0][r][v] = _mm512_fmadd_ps(wv, xv, acc[0][r][v]);
        }
    }
  }
  if (S == 2) {
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
      for (int v = 0; v < V; v++) acc[0][r][v] = _mm512_add_ps(acc[0][r][v], acc[1][r][v]);
  }
  kc_store512(t, acc[0], R, V);
}

/* 3x3, stride 1, dilation 1: the 9 weights live in registers and each input
   vector, loaded once, feeds the up-to-3 output rows whose taps read it, so a
   tile of R rows costs 3(R+2)V loads for 9RV FMAs. */
KC_INLINE void kc_s3_512(const sc_kconv_tile *t, const int R, const int V) {
  __m512 acc[SC_KCONV_RMAX][SC_KCONV_VMAX];
  const __m512 vb = _mm512_set1_ps(t->bias);
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
    __m512 wr[9];
#pragma unroll
    for (int i = 0; i < 9; i++) wr[i] = _mm512_set1_ps(wk[i]);
#pragma unroll
    for (int j = 0; j < R + 2; j++) {
#pragma unroll
      for (int c = 0; c < 3; c++) {
#pragma unroll
        for (int v = 0; v < V; v++) {
          const __m512 xv = _mm512_loadu_ps(xp + j * rs + c + 16 * v);
#pragma unroll
          for (int kh = 0; kh < 3; kh++) {
            const int r = j - kh;
            if (r >= 0 && r < R) acc[r][v] = _mm512_fmadd_ps(wr[kh * 3 + c], xv, acc[r][v]);
          }
        }
      }
    }
  }
  kc_store512(t, acc, R, V);
}

/* Same, for sources whose rows and tile origins are 64-byte aligned: each
   input row is read with V+1 aligned loads and the taps shifted by 1 and 2
   columns are built with valignd instead of line-crossing unaligned loads. */
KC_INLINE void kc_s3a_512(const sc_kconv_tile *t, const int R, const int V) {
  __m512 acc[SC_KCONV_RMAX][SC_KCONV_VMAX];
  const __m512 vb = _mm512_set1_ps(t->bias);
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
    __m512 wr[9];
#pragma unroll
    for (int i = 0; i < 9; i++) wr[i] = _mm512_set1_ps(wk[i]);
#pragma unroll
    for (int j = 0; j < R + 2; j++) {
      const float *row = xp + j * rs;
      __m512i nxt = _mm512_castps_si512(_mm512_load_ps(row));
#pragma unroll
      for (int v = 0; v < V; v++) {
        const __m512i cur = nxt;
        nxt = _mm512_castps_si512(_mm512_load_ps(row + 16 * (v + 1)));
        const __m512 xs[3] = {_mm512_castsi512_ps(cur),
                              _mm512_castsi512_ps(_mm512_alignr_epi32(nxt, cur, 1)),
                              _mm512_castsi512_ps(_mm512_alignr_epi32(nxt, cur, 2))};
#pragma unroll
        for (int c = 0; c < 3; c++)
#pragma unroll
          for (int kh = 0; kh < 3; kh++) {
            const int r = j - kh;
            if (r >= 0 && r < R) acc[r][v] = _mm512_fmadd_ps(wr[kh * 3 + c], xs[c], acc[r][v]);
          }
      }
    }
  }
  kc_store512(t, acc, R, V);
}

/* 1x1 SpMM: for each output channel of the run, V pixel vectors with
   S = 8/V accumulator sets taking consecutive nonzeros, so that 8 FMA chains
   are in flight. */
KC_INLINE void kc_spmm512(const sc_kconv_spmm *a, const int V, const int ML) {
  enum { SMAX = 8 };
  const int S = V >= 4 ? 2 : V == 3 ? 3 : 8 / V;
  const __mmask16 lm = (__mmask16)((1u << a->last_lanes) - 1u);
  const float *x = a->x, *w = a->w;
  const int32_t *ics = a->ics, *kb = a->kb;
  const size_t plane = a->plane;
  for (int32_t oc = a->oc0; oc < a->oc1; oc++) {
    float *out = a->out + (size_t)oc * a->out_plane;
    __m512 acc[SMAX][SC_KCONV_VMAX];
    const __m512 vb = _mm512_set1_ps(a->bias[oc]);
#pragma unroll
    for (int v = 0; v < V; v++) {
      acc[0][v] = !a->accumulate ? vb
                  : (v == V - 1) ? _mm512_maskz_loadu_ps(lm, out + 16 * v) : _mm512_loadu_ps(out + 16 * v);
#pragma unroll
      for (int s = 1; s < S; s++) acc[s][v] = _mm512_setzero_ps();
    }
    int32_t k = kb[oc * a->kstride];
    const int32_t n = kb[oc * a->kstride + 1];
    for (; k + S <= n; k += S) {
#pragma unroll
      for (int s = 0; s < S; s++) {
        const __m512 wv = _mm512_set1_ps(w[k + s]);
        const float *p = x + (size_t)ics[k + s] * plane;
#pragma unroll
        for (int v = 0; v < V; v++) {
          const __m512 xv = (ML && v == V - 1) ? _mm512_maskz_loadu_ps(lm, p + 16 * v) : _mm512_loadu_ps(p + 16 * v);
          acc[s][v] = _mm512_fmadd_ps(wv, xv, acc[s][v]);
        }
      }
    }
#pragma unroll
    for (int s = 0; s < S - 1; s++) {
      if (k + s >= n) break;
      const __m512 wv = _mm512_set1_ps(w[k + s]);
      const float *p = x + (size_t)ics[k + s] * plane;
#pragma unroll
      for (int v = 0; v < V; v++) {
        const __m512 xv = (ML && v == V - 1) ? _mm512_maskz_loadu_ps(lm, p + 16 * v) : _mm512_loadu_ps(p + 16 * v);
        acc[s][v] = _mm512_fmadd_ps(wv, xv, acc[s][v]);
      }
    }
#pragma unroll
    for (int v = 0; v < V; v++) {
      __m512 y = acc[0][v];
#pragma unroll
      for (int s = 1; s < S; s++) y = _mm512_add_ps(y, acc[s][v]);
      if (a->finish) y = kc_act512(y, a->act);
      if (v == V - 1 && a->last_lanes < 16) _mm512_mask_storeu_ps(out + 16 * v, lm, y);
      else _mm512_storeu_ps(out + 16 * v, y);
    }
  }
}

#define KC_SPMM_DEF(V) \
  static SC_TARGET_AVX512 void f32_spmm_1x##V##__avx512(const sc_kconv_spmm *a) { kc_spmm512(a, V, 0); } \
  static SC_TARGET_AVX512 void f32_spmm_1x##V##_ml__avx512(const sc_kconv_spmm *a) { kc_spmm512(a, V, 1); }
KC_SPMM_DEF(1) KC_SPMM_DEF(2) KC_SPMM_DEF(3) KC_SPMM_DEF(4) KC_SPMM_DEF(5) KC_SPMM_DEF(6) KC_SPMM_DEF(7) KC_SPMM_DEF(8)

#define KC_RV_LIST(X) \
  X(1, 1) X(2, 1) X(3, 1) X(4, 1) X(5, 1) X(6, 1) X(7, 1) X(8, 1) X(9, 1) X(10, 1) \
  X(11, 1) X(12, 1) X(13, 1) X(14, 1) X(15, 1) X(16, 1) \
  X(1, 2) X(2, 2) X(3, 2) X(4, 2) X(5, 2) X(6, 2) X(7, 2) X(8, 2) \
  X(1, 3) X(2, 3) X(3, 3) X(4, 3) X(5, 3) \
  X(1, 4) X(2, 4) X(3, 4) X(4, 4) \
  X(1, 5) X(2, 5) X(3, 5) X(1, 6) X(2, 6) X(1, 7) X(2, 7) X(1, 8) X(2, 8)

#define KC_DEF(R, V) \
  static SC_TARGET_AVX512 void f32_kconv_##R##x##V##__avx512(const sc_kconv_tile *t) { kc_gen512(t, R, V, 0); } \
  static SC_TARGET_AVX512 void f32_kconv_3x3s1_##R##x##V##__avx512(const sc_kconv_tile *t) { kc_s3_512(t, R, V); } \
  static SC_TARGET_AVX512 void f32_kconv_3x3s1a_##R##x##V##__avx512(const sc_kconv_tile *t) { kc_s3a_512(t, R, V); }
KC_RV_LIST(KC_DEF)

#define KC_DEF_ML(V) \
  static SC_TARGET_AVX512 void f32_kconv_1x##V##_ml__avx512(const sc_kconv_tile *t) { kc_gen512(t, 1, V, 1); }
KC_DEF_ML(1) KC_DEF_ML(2) KC_DEF_ML(3) KC_DEF_ML(4) KC_DEF_ML(5) KC_DEF_ML(6) KC_DEF_ML(7) KC_DEF_ML(8)

void sc_kconv_kernels_avx512(sc_kconv_kernels *k) {
  *k = (sc_kconv_kernels){0};
  k->lanes = 16;
  k->rv_max = 16;
#define KC_SET(R, V) \
  k->gen[R][V] = f32_kconv_##R##x##V##__avx512; \
  k->s3[R][V] = f32_kconv_3x3s1_##R##x##V##__avx512; \
  k->s3a[R][V] = f32_kconv_3x3s1a_##R##x##V##__avx512;
  KC_RV_LIST(KC_SET)
#define KC_SET_ML(V) k->gen_ml[V] = f32_kconv_1x##V##_ml__avx512;
  KC_SET_ML(1) KC_SET_ML(2) KC_SET_ML(3) KC_SET_ML(4) KC_SET_ML(5) KC_SET_ML(6) KC_SET_ML(7) KC_SET_ML(8)
#define KC_SET_SPMM(V) k->spmm[V][0] = f32_spmm_1x##V##__avx512; k->spmm[V][1] = f32_spmm_1x##V##_ml__avx512;
  KC_SET_SPMM(1) KC_SET_SPMM(2) KC_SET_SPMM(3) KC_SET_SPMM(4)
  KC_SET_SPMM(5) KC_SET_SPMM(6) KC_SET_SPMM(7) KC_SET_SPMM(8)
  k->spmm_v = 4;
}

#endif
