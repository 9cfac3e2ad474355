/* Depthwise stencil, AVX2 + FMA (8 lanes). vmaskmovps loads are slower than plain
   ones, so only border chunks use them. */
#include "dwconv.h"

#if SC_X86
#include <immintrin.h>

#define DW_SUFFIX __avx2
#define DW_TARGET SC_TARGET_AVX2
#define DW_V 8
typedef __m256 dw_vec;
typedef __m256i dw_mask;
#define dw_load(ptr) _mm256_loadu_ps(ptr)
#define dw_loadm(ptr, m) _mm256_maskload_ps((ptr), (m))
#define dw_set1(x) _mm256_set1_ps(x)
#define dw_fma(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define dw_add(a, b) _mm256_add_ps((a), (b))
#define dw_max(a, b) _mm256_max_ps((a), (b))
#define dw_min(a, b) _mm256_min_ps((a), (b))
#define dw_zero() _mm256_setzero_ps()
#define dw_store(ptr, v) _mm256_storeu_ps((ptr), (v))
#define dw_storem(ptr, v, lanes) _mm256_maskstore_ps((ptr), dw_range(0, (lanes)), (v))
#define dw_fill_rows dw_fill_rows__avx2

static inline __attribute__((always_inline)) SC_TARGET_AVX2 __m256i dw_range(int32_t lo, int32_t hi) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  lo = SC_MAX(lo, -1);
  hi = SC_MIN(hi, 8);
  return _mm256_and_si256(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(lo - 1)),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), lane));
}

/* Stride 2: deinterleave 16 input floats into 8 even + 8 odd padded columns; column
   blocks outer so that border masks are built once per block, not per row. */
static SC_TARGET_AVX2 void dw_fill_rows__avx2(const sc_dw_params *p, const float *src,
                                              int32_t rows, float *dst) {
  const int32_t len = p->phase_len, pl = p->pad_left, in_w = p->in_w, row = p->buf_row;
  if (p->sw != 2) {
    for (int32_t r = 0; r < rows; r++)
      sc_dw_fill_row__scalar(p, src + (size_t)r * in_w, dst + (size_t)r * row);
    return;
  }
  for (int32_t j = 0; j < len; j += 8) {
    const int32_t b = 2 * j - pl;
    const bool inside = b >= 0 && b + 16 <= in_w;
    const __m256i ma = dw_range(-b, in_w - b), mc = dw_range(-b - 8, in_w - b - 8);
    const float *s = src + b;
    float *d = dst + j;
    for (int32_t r = 0; r < rows; r++, s += in_w, d += row) {
      __m256 a, c;
      if (inside) {
        a = _mm256_loadu_ps(s);
        c = _mm256_loadu_ps(s + 8);
      } else {
        a = _mm256_maskload_ps(s, ma);
        c = _mm256_maskload_ps(s + 8, mc);
      }
      /* within 128-bit lanes: [a0 a2 c0 c2 | a4 a6 c4 c6], then fix the 64-bit order */
      __m256 e = _mm256_shuffle_ps(a, c, _MM_SHUFFLE(2, 0, 2, 0));
      __m256 o = _mm256_shuffle_ps(a, c, _MM_SHUFFLE(3, 1, 3, 1));
      e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
      o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
      _mm256_storeu_ps(d, e);
      _mm256_storeu_ps(d + len, o);
    }
  }
}

#include "dwconv_template.h"

DW_DEFINE(f32_dwconv2d_chw_3x3s1, 3, 3, 1, 1, 4)
DW_DEFINE(f32_dwconv2d_chw_3x3s2, 3, 3, 2, 1, 2)
DW_DEFINE(f32_dwconv2d_chw_3x3s1d2, 3, 3, 1, 2, 2)
DW_DEFINE(f32_dwconv2d_chw_5x5s1, 5, 5, 1, 1, 2)
DW_DEFINE(f32_dwconv2d_chw_5x5s2, 5, 5, 2, 1, 1)
DW_DEFINE(f32_dwconv2d_chw_7x7s1, 7, 7, 1, 1, 1)

sc_dw_plane_fn sc_f32_dwconv2d_chw_select__avx2(const sc_dw_params *p, bool *buffered) {
  *buffered = p->sw != 1;
  const int kh = p->kh, kw = p->kw;
  /* Specializations assume equal strides and dilations on both axes. */
  const int s = p->sh == p->sw ? p->sh : 0, d = p->dh == p->dw ? p->dh : 0;
  if (kh == 3 && kw == 3 && s == 1 && d == 1) return DW_FN(f32_dwconv2d_chw_3x3s1);
  if (kh == 3 && kw == 3 && s == 2 && d == 1) return DW_FN(f32_dwconv2d_chw_3x3s2);
  if (kh == 3 && kw == 3 && s == 1 && d == 2) return DW_FN(f32_dwconv2d_chw_3x3s1d2);
  if (kh == 5 && kw == 5 && s == 1 && d == 1) return DW_FN(f32_dwconv2d_chw_5x5s1);
  if (kh == 5 && kw == 5 && s == 2 && d == 1) return DW_FN(f32_dwconv2d_chw_5x5s2);
  if (kh == 7 && kw == 7 && s == 1 && d == 1) return DW_FN(f32_dwconv2d_chw_7x7s1);
  return *buffered ? DW_FN(f32_dwconv2d_chw_any_buffered) : DW_FN(f32_dwconv2d_chw_any_direct);
}
#else
sc_dw_plane_fn sc_f32_dwconv2d_chw_select__avx2(const sc_dw_params *p, bool *buffered) {
  (void)p;
  *buffered = true;
  return sc_f32_dwconv2d_chw_generic__scalar;
}
#endif
