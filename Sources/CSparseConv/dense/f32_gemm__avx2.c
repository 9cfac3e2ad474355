/* AVX2+FMA microkernels of the dense and grouped paths. */
#include "gemm.h"

#if SC_X86
#include <immintrin.h>

/* Lanes [lo, hi) of an 8-lane ymm mask (sign bits), for maskload/maskstore. */
static inline SC_TARGET_AVX2 __m256i lane_range8(int lo, int hi) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i ge = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1));
  __m256i lt = _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx);
  return _mm256_and_si256(ge, lt);
}

/* MR × NV accumulators (MR <= 6) + NV loads + 1 broadcast fit the 16 ymm
   registers. MR is the tile's real row count: short tiles skip the padding
   rows' FMAs (dense.c spreads the rows evenly over the tiles). */
/* Row i of C is c + i * ldc, or c + crow[i] when crow is given. ML: the
   last vector is partial (ncols < 8 nv) and goes through masked loads and
   stores; whole tiles take plain ones, which cost less everywhere and far
   less on Zen 1 (its masked loads and stores are slow; see f32_spconv_avx2.c). */
static inline __attribute__((always_inline)) SC_TARGET_AVX2 void
gemm_6xnv(const int nv, const int MR, const int ML, size_t kc, const float *restrict a, const float *restrict b,
          size_t ldb, float *restrict c, size_t ldc, const int64_t *restrict crow, int ncols,
          const float *restrict bias, int flags) {
  float *cr[6];
  for (int i = 0; i < MR; i++) cr[i] = crow ? c + crow[i] : c + (size_t)i * ldc;
  const __m256i tail = lane_range8(0, ncols - 8 * (nv - 1));
  __m256 acc[6][2];
  if (flags & SC_GEMM_FIRST) {
    for (int i = 0; i < MR; i++) {
      __m256 bv = _mm256_broadcast_ss(bias + i);
      for (int v = 0; v < nv; v++) acc[i][v] = bv;
    }
  } else {
    for (int i = 0; i < MR; i++) {
      for (int v = 0; v < nv; v++) {
        if (ML && v == nv - 1) acc[i][v] = _mm256_maskload_ps(cr[i] + 8 * v, tail);
        else acc[i][v] = _mm256_loadu_ps(cr[i] + 8 * v);
      }
    }
  }
  for (size_t k = 0; k < kc; k++) {
    __m256 bv[2];
    for (int v = 0; v < nv; v++)
      bv[v] = ML && v == nv - 1 ? _mm256_maskload_ps(b + 8 * v, tail) : _mm256_loadu_ps(b + 8 * v);
    for (int i = 0; i < MR; i++) {
      __m256 av = _mm256_broadcast_ss(a + i);
      for (int v = 0; v < nv; v++) acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
    }
    a += 6;
    b += ldb;
  }
  if (flags & SC_GEMM_LAST) {
    if (flags & (SC_GEMM_RELU | SC_GEMM_RELU6)) {
      const __m256 zero = _mm256_setzero_ps();
      for (int i = 0; i < MR; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm256_max_ps(acc[i][v], zero);
    }
    if (flags & SC_GEMM_RELU6) {
      const __m256 six = _mm256_set1_ps(6.0f);
      for (int i = 0; i < MR; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm256_min_ps(acc[i][v], six);
    }
  }
  for (int i = 0; i < MR; i++) {
    for (int v = 0; v < nv; v++) {
      if (ML && v == nv - 1) _mm256_maskstore_ps(cr[i] + 8 * v, tail, acc[i][v]);
      else _mm256_storeu_ps(cr[i] + 8 * v, acc[i][v]);
    }
  }
}

#define SC_GEMM_ROWS(R, LDC, CROW)                                                       \
  case R:                                                                                \
    if (ncols == 16) gemm_6xnv(2, R, 0, kc, a, b, ldb, c, LDC, CROW, ncols, bias, flags); \
    else if (ncols > 8) gemm_6xnv(2, R, 1, kc, a, b, ldb, c, LDC, CROW, ncols, bias, flags); \
    else if (ncols == 8) gemm_6xnv(1, R, 0, kc, a, b, ldb, c, LDC, CROW, ncols, bias, flags); \
    else gemm_6xnv(1, R, 1, kc, a, b, ldb, c, LDC, CROW, ncols, bias, flags);             \
    break;

SC_TARGET_AVX2 void f32_gemm_6x16__avx2(size_t kc, const float *a, const float *b, size_t ldb,
                                        float *c, size_t ldc, int mrows, int ncols,
                                        const float *bias, int flags) {
  switch (mrows) {
    SC_GEMM_ROWS(1, ldc, NULL) SC_GEMM_ROWS(2, ldc, NULL) SC_GEMM_ROWS(3, ldc, NULL)
    SC_GEMM_ROWS(4, ldc, NULL) SC_GEMM_ROWS(5, ldc, NULL)
    default: SC_GEMM_ROWS(6, ldc, NULL)
  }
}

SC_TARGET_AVX2 void f32_gemm_6x16_rows__avx2(size_t kc, const float *a, const float *b, size_t ldb,
                                             float *c, const int64_t *crow, int mrows, int ncols,
                                             const float *bias, int flags) {
  switch (mrows) {
    SC_GEMM_ROWS(1, 0, crow) SC_GEMM_ROWS(2, 0, crow) SC_GEMM_ROWS(3, 0, crow)
    SC_GEMM_ROWS(4, 0, crow) SC_GEMM_ROWS(5, 0, crow)
    default: SC_GEMM_ROWS(6, 0, crow)
  }
}
#undef SC_GEMM_ROWS

static inline __attribute__((always_inline)) SC_TARGET_AVX2 void
gconv_4xnv(const int nv, const sc_gconv_args *restrict p, const sc_gconv_tile *restrict t) {
  __m256 acc[4][2];
  for (int i = 0; i < 4; i++) {
    __m256 bv = _mm256_broadcast_ss(p->bias + i);
    for (int v = 0; v < nv; v++) acc[i][v] = bv;
  }
  const float *w = p->w;
  const size_t in_hw = (size_t)p->in_hw;
  const __m256i none = _mm256_setzero_si256();
  for (int ky = 0; ky < p->kh; ky++) {
    for (int kx = 0; kx < p->kw; kx++) {
      const float *base[2];
      __m256i m[2];
      for (int v = 0; v < nv; v++) {
        int iy = t->oy[v] * p->stride_h - p->pad_top + ky * p->dil_h;
        int ix = t->ox[v] - p->pad_left + kx * p->dil_w;
        if (iy < 0 || iy >= p->in_h) {
          m[v] = none;
          base[v] = p->input;
        } else {
          m[v] = lane_range8(-ix, SC_MIN(p->in_w - ix, t->ncol[v]));
          base[v] = p->input + (ptrdiff_t)iy * p->in_w + ix;
        }
      }
      for (int ic = 0; ic < p->cin_g; ic++) {
        __m256 x[2];
        for (int v = 0; v < nv; v++) x[v] = _mm256_maskload_ps(base[v] + ic * in_hw, m[v]);
        for (int i = 0; i < 4; i++) {
          __m256 wv = _mm256_broadcast_ss(w + i);
          for (int v = 0; v < nv; v++) acc[i][v] = _mm256_fmadd_ps(wv, x[v], acc[i][v]);
        }
        w += 4;
      }
    }
  }
  if (p->flags & (SC_GEMM_RELU | SC_GEMM_RELU6)) {
    const __m256 zero = _mm256_setzero_ps();
    for (int i = 0; i < 4; i++)
      for (int v = 0; v < nv; v++) acc[i][v] = _mm256_max_ps(acc[i][v], zero);
  }
  if (p->flags & SC_GEMM_RELU6) {
    const __m256 six = _mm256_set1_ps(6.0f);
    for (int i = 0; i < 4; i++)
      for (int v = 0; v < nv; v++) acc[i][v] = _mm256_min_ps(acc[i][v], six);
  }
  for (int v = 0; v < nv; v++) {
    __m256i sm = lane_range8(0, t->ncol[v]);
    float *o = p->output + (size_t)t->oy[v] * p->out_w + t->ox[v];
    for (int i = 0; i < 4; i++)
      if (i < p->mrows) _mm256_maskstore_ps(o + (size_t)i * p->out_hw, sm, acc[i][v]);
  }
}

SC_TARGET_AVX2 void f32_gconv_4x16__avx2(const sc_gconv_args *args, const sc_gconv_tile *tile) {
  if (tile->nvec >= 2) gconv_4xnv(2, args, tile);
  else gconv_4xnv(1, args, tile);
}

/* Channel-vector GEMM (see gemm.h): a 16-channel panel is two ymm, so a
   strip of up to 6 pixels keeps 12 accumulators; 7 or 8 pixels run as two
   strips. The weights of the panel are read once per strip (L1). */
static inline __attribute__((always_inline)) SC_TARGET_AVX2 void
cvgemm_strip(const int mp, size_t kc, const float *restrict w, const float *restrict x,
             const int32_t *restrict poff, const int32_t *restrict koff, float *restrict acc_out,
             const float *restrict bias, int flags) {
  __m256 acc[6][2];
  const float *pb[6];
  for (int i = 0; i < mp; i++) pb[i] = x + poff[i];
  if (flags & SC_GEMM_FIRST) {
    const __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
    for (int i = 0; i < mp; i++) {
      acc[i][0] = b0;
      acc[i][1] = b1;
    }
  } else {
    for (int i = 0; i < mp; i++) {
      acc[i][0] = _mm256_loadu_ps(acc_out + i * 48);
      acc[i][1] = _mm256_loadu_ps(acc_out + i * 48 + 8);
    }
  }
  for (size_t k = 0; k < kc; k++) {
    const int32_t off = koff[k];
    const __m256 w0 = _mm256_load_ps(w), w1 = _mm256_load_ps(w + 8);
    for (int i = 0; i < mp; i++) {
      const __m256 xv = _mm256_broadcast_ss(pb[i] + off);
      acc[i][0] = _mm256_fmadd_ps(xv, w0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(xv, w1, acc[i][1]);
    }
    w += 16;
  }
  if (flags & SC_GEMM_LAST) {
    if (flags & (SC_GEMM_RELU | SC_GEMM_RELU6)) {
      const __m256 zero = _mm256_setzero_ps();
      for (int i = 0; i < mp; i++)
        for (int h = 0; h < 2; h++) acc[i][h] = _mm256_max_ps(acc[i][h], zero);
    }
    if (flags & SC_GEMM_RELU6) {
      const __m256 six = _mm256_set1_ps(6.0f);
      for (int i = 0; i < mp; i++)
        for (int h = 0; h < 2; h++) acc[i][h] = _mm256_min_ps(acc[i][h], six);
    }
  }
  for (int i = 0; i < mp; i++) {
    _mm256_storeu_ps(acc_out + i * 48, acc[i][0]);
    _mm256_storeu_ps(acc_out + i * 48 + 8, acc[i][1]);
  }
}

static SC_TARGET_AVX2 void cvgemm_strip_any(int mp, size_t kc, const float *w, const float *x,
                                            const int32_t *poff, const int32_t *koff, float *acc_out,
                                            const float *bias, int flags) {
  switch (mp) {
  case 1: cvgemm_strip(1, kc, w, x, poff, koff, acc_out, bias, flags); break;
  case 2: cvgemm_strip(2, kc, w, x, poff, koff, acc_out, bias, flags); break;
  case 3: cvgemm_strip(3, kc, w, x, poff, koff, acc_out, bias, flags); break;
  case 4: cvgemm_strip(4, kc, w, x, poff, koff, acc_out, bias, flags); break;
  case 5: cvgemm_strip(5, kc, w, x, poff, koff, acc_out, bias, flags); break;
  default: cvgemm_strip(6, kc, w, x, poff, koff, acc_out, bias, flags); break;
  }
}

SC_TARGET_AVX2 void f32_cvgemm_8x48__avx2(size_t kc, const float *w, size_t vstride, const float *x,
                                          const int32_t *poff, const int32_t *koff, int mp, int nv,
                                          float *acc, const float *bias, int flags) {
  /* 7-8 pixels: two strips of 3-4, not 6 + 1-2 (a 2-pixel strip has 4 chains) */
  const int first = mp <= 6 ? mp : (mp + 1) / 2;
  for (int v = 0; v < nv; v++) {
    const float *wv = w + vstride * (size_t)v;
    cvgemm_strip_any(first, kc, wv, x, poff, koff, acc + 16 * v, bias + 16 * v, flags);
    if (mp > first)
      cvgemm_strip_any(mp - first, kc, wv, x, poff + first, koff, acc + (size_t)first * 48 + 16 * v,
                       bias + 16 * v, flags);
  }
}

#else
void f32_gemm_6x16_rows__avx2(size_t kc, const float *a, const float *b, size_t ldb, float *c,
                              const int64_t *crow, int mrows, int ncols, const float *bias,
                              int flags) {
  (void)kc; (void)a; (void)b; (void)ldb; (void)c; (void)crow; (void)mrows; (void)ncols;
  (void)bias; (void)flags;
}
void f32_gemm_6x16__avx2(size_t kc, const float *a, const float *b, size_t ldb, float *c,
                         size_t ldc, int mrows, int ncols, const float *bias, int flags) {
  (void)kc; (void)a; (void)b; (void)ldb; (void)c; (void)ldc; (void)mrows; (void)ncols;
  (void)bias; (void)flags;
}
void f32_gconv_4x16__avx2(const sc_gconv_args *args, const sc_gconv_tile *tile) {
  (void)args; (void)tile;
}

void f32_cvgemm_8x48__avx2(size_t kc, const float *w, size_t vstride, const float *x,
                           const int32_t *poff, const int32_t *koff, int mp, int nv, float *acc,
                           const float *bias, int flags) {
  (void)kc; (void)w; (void)vstride; (void)x; (void)poff; (void)koff; (void)mp; (void)nv; (void)acc;
  (void)bias; (void)flags;
}
#endif
