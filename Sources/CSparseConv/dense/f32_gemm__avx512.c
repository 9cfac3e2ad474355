/* AVX-512 microkernels of the dense and grouped paths. */
#include "gemm.h"

#if SC_X86
#include <immintrin.h>

/*
 * The column count and the row count are compile-time constants in each
 * instantiation so that the MR × NV accumulators live in registers (24 of
 * the 32 zmm at 8 × 3) and a short tile (the 6 to 7 rows of a
 * channel-pruned layer's kept filters) pays no FMAs for its padding rows;
 * weights come in as embedded broadcasts, so one k step costs NV loads and
 * MR × NV FMAs. Row i of C is c + i * ldc, or c + crow[i] when crow is given.
 */
static inline __attribute__((always_inline)) SC_TARGET_AVX512 void
gemm_8xnv(const int nv, const int MR, size_t kc, const float *restrict a, const float *restrict b,
          size_t ldb, float *restrict c, size_t ldc, const int64_t *restrict crow, int ncols,
          const float *restrict bias, int flags) {
  const __mmask16 tail = (__mmask16)(0xFFFFu >> (16 * nv - ncols));
  float *cr[8];
  for (int i = 0; i < MR; i++) cr[i] = crow ? c + crow[i] : c + (size_t)i * ldc;
  __m512 acc[8][3];
  if (flags & SC_GEMM_FIRST) {
    for (int i = 0; i < MR; i++) {
      __m512 bv = _mm512_set1_ps(bias[i]);
      for (int v = 0; v < nv; v++) acc[i][v] = bv;
    }
  } else {
    for (int i = 0; i < MR; i++)
      for (int v = 0; v < nv; v++)
        acc[i][v] = v == nv - 1 ? _mm512_maskz_loadu_ps(tail, cr[i] + 16 * v)
                                : _mm512_loadu_ps(cr[i] + 16 * v);
  }
  for (size_t k = 0; k < kc; k++) {
    __m512 bv[3];
    for (int v = 0; v < nv; v++)
      bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(tail, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
    for (int i = 0; i < MR; i++) {
      __m512 av = _mm512_set1_ps(a[i]);
      for (int v = 0; v < nv; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
    }
    a += 8;
    b += ldb;
  }
  if (flags & SC_GEMM_LAST) {
    if (flags & (SC_GEMM_RELU | SC_GEMM_RELU6)) {
      const __m512 zero = _mm512_setzero_ps();
      for (int i = 0; i < MR; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm512_max_ps(acc[i][v], zero);
    }
    if (flags & SC_GEMM_RELU6) {
      const __m512 six = _mm512_set1_ps(6.0f);
      for (int i = 0; i < MR; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm512_min_ps(acc[i][v], six);
    }
  }
  for (int i = 0; i < MR; i++) {
    for (int v = 0; v < nv; v++) {
      if (v == nv - 1) _mm512_mask_storeu_ps(cr[i] + 16 * v, tail, acc[i][v]);
      else _mm512_storeu_ps(cr[i] + 16 * v, acc[i][v]);
    }
  }
}

#define SC_GEMM_NV(R, LDC, CROW)                                                            \
  case R:                                                                                   \
    if (ncols > 32) gemm_8xnv(3, R, kc, a, b, ldb, c, LDC, CROW, ncols, bias, flags);       \
    else if (ncols > 16) gemm_8xnv(2, R, kc, a, b, ldb, c, LDC, CROW, ncols, bias, flags);  \
    else gemm_8xnv(1, R, kc, a, b, ldb, c, LDC, CROW, ncols, bias, flags);                  \
    break;

SC_TARGET_AVX512 void f32_gemm_8x48__avx512(size_t kc, const float *a, const float *b, size_t ldb,
                                            float *c, size_t ldc, int mrows, int ncols,
                                            const float *bias, int flags) {
  switch (mrows) {
    SC_GEMM_NV(1, ldc, NULL) SC_GEMM_NV(2, ldc, NULL) SC_GEMM_NV(3, ldc, NULL)
    SC_GEMM_NV(4, ldc, NULL) SC_GEMM_NV(5, ldc, NULL) SC_GEMM_NV(6, ldc, NULL)
    SC_GEMM_NV(7, ldc, NULL)
    default: SC_GEMM_NV(8, ldc, NULL)
  }
}

SC_TARGET_AVX512 void f32_gemm_8x48_rows__avx512(size_t kc, const float *a, const float *b,
                                                 size_t ldb, float *c, const int64_t *crow,
                                                 int mrows, int ncols, const float *bias,
                                                 int flags) {
  switch (mrows) {
    SC_GEMM_NV(1, 0, crow) SC_GEMM_NV(2, 0, crow) SC_GEMM_NV(3, 0, crow)
    SC_GEMM_NV(4, 0, crow) SC_GEMM_NV(5, 0, crow) SC_GEMM_NV(6, 0, crow)
    SC_GEMM_NV(7, 0, crow)
    default: SC_GEMM_NV(8, 0, crow)
  }
}
#undef SC_GEMM_NV

/*
 * Same register blocking; B rows come from an offset table (no im2col copy)
 * and the garbage columns of the wide grid are squeezed out with compress /
 * expand, which keeps the tile full-width across output-row boundaries.
 */
static inline __attribute__((always_inline)) SC_TARGET_AVX512 void
igemm_8xnv(const int nv, size_t kc, const float *restrict a, const float *restrict b,
           const int32_t *restrict koff, float *restrict c, size_t ldc, int mrows,
           const uint16_t *restrict vmask, const int32_t *restrict vdst,
           const float *restrict bias, int flags) {
  __m512 acc[8][3];
  if (flags & SC_GEMM_FIRST) {
    for (int i = 0; i < 8; i++) {
      __m512 bv = _mm512_set1_ps(bias[i]);
      for (int v = 0; v < nv; v++) acc[i][v] = bv;
    }
  } else {
    for (int i = 0; i < 8; i++) {
      for (int v = 0; v < nv; v++) {
        if (i < mrows) {
          __mmask16 m = (__mmask16)vmask[v];
          __mmask16 packed = (__mmask16)((1u << __builtin_popcount(m)) - 1u);
          acc[i][v] = _mm512_maskz_expand_ps(m, _mm512_maskz_loadu_ps(packed, c + i * ldc + vdst[v]));
        } else {
          acc[i][v] = _mm512_setzero_ps();
        }
      }
    }
  }
  for (size_t k = 0; k < kc; k++) {
    const float *bk = b + koff[k];
    __m512 bv[3];
    for (int v = 0; v < nv; v++) bv[v] = _mm512_loadu_ps(bk + 16 * v);
    for (int i = 0; i < 8; i++) {
      __m512 av = _mm512_set1_ps(a[i]);
      for (int v = 0; v < nv; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
    }
    a += 8;
  }
  if (flags & SC_GEMM_LAST) {
    if (flags & (SC_GEMM_RELU | SC_GEMM_RELU6)) {
      const __m512 zero = _mm512_setzero_ps();
      for (int i = 0; i < 8; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm512_max_ps(acc[i][v], zero);
    }
    if (flags & SC_GEMM_RELU6) {
      const __m512 six = _mm512_set1_ps(6.0f);
      for (int i = 0; i < 8; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm512_min_ps(acc[i][v], six);
    }
  }
  for (int v = 0; v < nv; v++) {
    __mmask16 m = (__mmask16)vmask[v];
    __mmask16 packed = (__mmask16)((1u << __builtin_popcount(m)) - 1u);
    if (m == 0xFFFF) {
      for (int i = 0; i < 8; i++)
        if (i < mrows) _mm512_storeu_ps(c + i * ldc + vdst[v], acc[i][v]);
    } else {
      for (int i = 0; i < 8; i++)
        if (i < mrows)
          _mm512_mask_storeu_ps(c + i * ldc + vdst[v], packed, _mm512_maskz_compress_ps(m, acc[i][v]));
    }
  }
}

SC_TARGET_AVX512 void f32_igemm_8x48__avx512(size_t kc, const float *a, const float *b,
                                             const int32_t *koff, float *c, size_t ldc, int mrows,
                                             int nv, const uint16_t *vmask, const int32_t *vdst,
                                             const float *bias, int flags) {
  if (nv >= 3) igemm_8xnv(3, kc, a, b, koff, c, ldc, mrows, vmask, vdst, bias, flags);
  else if (nv == 2) igemm_8xnv(2, kc, a, b, koff, c, ldc, mrows, vmask, vdst, bias, flags);
  else igemm_8xnv(1, kc, a, b, koff, c, ldc, mrows, vmask, vdst, bias, flags);
}

static inline __attribute__((always_inline)) SC_TARGET_AVX512 void
cvgemm_mpxnv(const int mp, const int nv, size_t kc, const float *restrict w, size_t vstride,
             const float *restrict x, const int32_t *restrict poff, const int32_t *restrict koff,
             float *restrict acc_out, const float *restrict bias, int flags) {
  __m512 acc[8][3];
  const float *pb[8];
  for (int i = 0; i < mp; i++) pb[i] = x + poff[i];
  if (flags & SC_GEMM_FIRST) {
    for (int v = 0; v < nv; v++) {
      __m512 bv = _mm512_loadu_ps(bias + 16 * v);
      for (int i = 0; i < mp; i++) acc[i][v] = bv;
    }
  } else {
    for (int i = 0; i < mp; i++)
      for (int v = 0; v < nv; v++) acc[i][v] = _mm512_loadu_ps(acc_out + i * 48 + 16 * v);
  }
  for (size_t k = 0; k < kc; k++) {
    const int32_t off = koff[k];
    __m512 wv[3];
    for (int v = 0; v < nv; v++) wv[v] = _mm512_load_ps(w + vstride * v);
    for (int i = 0; i < mp; i++) {
      __m512 xv = _mm512_set1_ps(pb[i][off]);
      for (int v = 0; v < nv; v++) acc[i][v] = _mm512_fmadd_ps(xv, wv[v], acc[i][v]);
    }
    w += 16;
  }
  if (flags & SC_GEMM_LAST) {
    if (flags & (SC_GEMM_RELU | SC_GEMM_RELU6)) {
      const __m512 zero = _mm512_setzero_ps();
      for (int i = 0; i < mp; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm512_max_ps(acc[i][v], zero);
    }
    if (flags & SC_GEMM_RELU6) {
      const __m512 six = _mm512_set1_ps(6.0f);
      for (int i = 0; i < mp; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm512_min_ps(acc[i][v], six);
    }
  }
  for (int i = 0; i < mp; i++)
    for (int v = 0; v < nv; v++) _mm512_storeu_ps(acc_out + i * 48 + 16 * v, acc[i][v]);
}

#define SC_CV_CASE(MP)                                                                       \
  case MP:                                                                                   \
    if (nv >= 3) cvgemm_mpxnv(MP, 3, kc, w, vstride, x, poff, koff, acc, bias, flags);           \
    else if (nv == 2) cvgemm_mpxnv(MP, 2, kc, w, vstride, x, poff, koff, acc, bias, flags);      \
    else cvgemm_mpxnv(MP, 1, kc, w, vstride, x, poff, koff, acc, bias, flags);                   \
    break;

SC_TARGET_AVX512 void f32_cvgemm_8x48__avx512(size_t kc, const float *w, size_t vstride,
                                              const float *x, const int32_t *poff,
                                              const int32_t *koff, int mp, int nv, float *acc,
                                              const float *bias, int flags) {
  switch (mp) {
    SC_CV_CASE(1)
    SC_CV_CASE(2)
    SC_CV_CASE(3)
    SC_CV_CASE(4)
    SC_CV_CASE(5)
    SC_CV_CASE(6)
    SC_CV_CASE(7)
    default: SC_CV_CASE(8)
  }
}

/* Lanes [lo, hi) of a 16-lane mask; empty when hi <= lo. */
static inline __mmask16 lane_range16(int lo, int hi) {
  if (lo < 0) lo = 0;
  if (hi > 16) hi = 16;
  if (hi <= lo) return 0;
  return (__mmask16)((0xFFFFu >> (16 - hi)) & (0xFFFFu << lo));
}

/*
 * Direct convolution for tiny groups: padding is never materialized, the
 * loads are masked to the valid input columns (a masked-off lane is never
 * read, so edges cost nothing extra and cannot fault). The masks of one tap
 * are shared by all input channels of the group.
 */
static inline __attribute__((always_inline)) SC_TARGET_AVX512 void
gconv_4xnv(const int nv, const sc_gconv_args *restrict p, const sc_gconv_tile *restrict t) {
  __m512 acc[4][6];
  for (int i = 0; i < 4; i++) {
    __m512 bv = _mm512_set1_ps(p->bias[i]);
    for (int v = 0; v < nv; v++) acc[i][v] = bv;
  }
  const float *w = p->w;
  const size_t in_hw = (size_t)p->in_hw;
  for (int ky = 0; ky < p->kh; ky++) {
    for (int kx = 0; kx < p->kw; kx++) {
      const float *base[6];
      __mmask16 m[6];
      for (int v = 0; v < nv; v++) {
        int iy = t->oy[v] * p->stride_h - p->pad_top + ky * p->dil_h;
        int ix = t->ox[v] - p->pad_left + kx * p->dil_w;
        if (iy < 0 || iy >= p->in_h) {
          m[v] = 0;
          base[v] = p->input;
        } else {
          m[v] = lane_range16(-ix, SC_MIN(p->in_w - ix, t->ncol[v]));
          /* a negative ix only occurs with its low lanes masked off */
          base[v] = p->input + (ptrdiff_t)iy * p->in_w + ix;
        }
      }
      for (int ic = 0; ic < p->cin_g; ic++) {
        __m512 x[6];
        for (int v = 0; v < nv; v++) x[v] = _mm512_maskz_loadu_ps(m[v], base[v] + ic * in_hw);
        for (int i = 0; i < 4; i++) {
          __m512 wv = _mm512_set1_ps(w[i]);
          for (int v = 0; v < nv; v++) acc[i][v] = _mm512_fmadd_ps(wv, x[v], acc[i][v]);
        }
        w += 4;
      }
    }
  }
  if (p->flags & (SC_GEMM_RELU | SC_GEMM_RELU6)) {
    const __m512 zero = _mm512_setzero_ps();
    for (int i = 0; i < 4; i++)
      for (int v = 0; v < nv; v++) acc[i][v] = _mm512_max_ps(acc[i][v], zero);
  }
  if (p->flags & SC_GEMM_RELU6) {
    const __m512 six = _mm512_set1_ps(6.0f);
    for (int i = 0; i < 4; i++)
      for (int v = 0; v < nv; v++) acc[i][v] = _mm512_min_ps(acc[i][v], six);
  }
  for (int v = 0; v < nv; v++) {
    __mmask16 sm = lane_range16(0, t->ncol[v]);
    float *o = p->output + (size_t)t->oy[v] * p->out_w + t->ox[v];
    for (int i = 0; i < 4; i++)
      if (i < p->mrows) _mm512_mask_storeu_ps(o + (size_t)i * p->out_hw, sm, acc[i][v]);
  }
}

SC_TARGET_AVX512 void f32_gconv_4x96__avx512(const sc_gconv_args *args, const sc_gconv_tile *tile) {
  switch (tile->nvec) {
  case 1: gconv_4xnv(1, args, tile); break;
  case 2: gconv_4xnv(2, args, tile); break;
  case 3: gconv_4xnv(3, args, tile); break;
  case 4: gconv_4xnv(4, args, tile); break;
  case 5: gconv_4xnv(5, args, tile); break;
  default: gconv_4xnv(6, args, tile); break;
  }
}

#else
void f32_gemm_8x48_rows__avx512(size_t kc, const float *a, const float *b, size_t ldb, float *c,
                                const int64_t *crow, int mrows, int ncols, const float *bias,
                                int flags) {
  (void)kc; (void)a; (void)b; (void)ldb; (void)c; (void)crow; (void)mrows; (void)ncols;
  (void)bias; (void)flags;
}
void f32_gemm_8x48__avx512(size_t kc, const float *a, const float *b, size_t ldb, float *c,
                           size_t ldc, int mrows, int ncols, const float *bias, int flags) {
  (void)kc; (void)a; (void)b; (void)ldb; (void)c; (void)ldc; (void)mrows; (void)ncols;
  (void)bias; (void)flags;
}
void f32_gconv_4x96__avx512(const sc_gconv_args *args, const sc_gconv_tile *tile) {
  (void)args; (void)tile;
}
void f32_cvgemm_8x48__avx512(size_t kc, const float *w, size_t vstride, const float *x,
                             const int32_t *poff, const int32_t *koff, int mp, int nv, float *acc,
                             const float *bias, int flags) {
  (void)kc; (void)w; (void)vstride; (void)x; (void)poff; (void)koff; (void)mp; (void)nv; (void)acc;
  (void)bias; (void)flags;
}
void f32_igemm_8x48__avx512(size_t kc, const float *a, const float *b, const int32_t *koff,
                            float *c, size_t ldc, int mrows, int nv, const uint16_t *vmask,
                            const int32_t *vdst, const float *bias, int flags) {
  (void)kc; (void)a; (void)b; (void)koff; (void)c; (void)ldc; (void)mrows; (void)nv;
  (void)vmask; (void)vdst; (void)bias; (void)flags;
}
#endif
