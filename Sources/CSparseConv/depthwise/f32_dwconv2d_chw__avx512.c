/* Depthwise stencil, AVX-512 (16 lanes). Masked loads are full speed here, so
   border chunks cost the same as interior ones. */
#include "dwconv.h"

#if SC_X86
#include <immintrin.h>

#define DW_SUFFIX __avx512
#define DW_TARGET SC_TARGET_AVX512
#define DW_V 16
typedef __m512 dw_vec;
typedef __mmask16 dw_mask;
#define dw_load(ptr) _mm512_loadu_ps(ptr)
#define dw_loadm(ptr, m) _mm512_maskz_loadu_ps((m), (ptr))
#define dw_set1(x) _mm512_set1_ps(x)
#define dw_fma(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define dw_add(a, b) _mm512_add_ps((a), (b))
#define dw_max(a, b) _mm512_max_ps((a), (b))
#define dw_min(a, b) _mm512_min_ps((a), (b))
#define dw_zero() _mm512_setzero_ps()
#define dw_store(ptr, v) _mm512_storeu_ps((ptr), (v))
#define dw_storem(ptr, v, lanes) _mm512_mask_storeu_ps((ptr), dw_range(0, (lanes)), (v))
#define dw_fill_rows dw_fill_rows__avx512

static inline __attribute__((always_inline)) __mmask16 dw_range(int32_t lo, int32_t hi) {
  lo = SC_MAX(lo, 0);
  hi = SC_MIN(hi, 16);
  if (hi <= lo) return 0;
  return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* Stride 2: deinterleave 32 input floats into 16 even + 16 odd padded columns with
   two permutes. Column blocks outer, rows inner: the border masks depend only on the
   column block, and computing them per row made this fill cost more than the
   convolution itself. Other strides use the scalar writer. */
static SC_TARGET_AVX512 void dw_fill_rows__avx512(const sc_dw_params *p, const float *src,
                                                  int32_t rows, float *dst) {
  const int32_t len = p->phase_len, pl = p->pad_left, in_w = p->in_w, row = p->buf_row;
  if (p->sw != 2) {
    for (int32_t r = 0; r < rows; r++)
      sc_dw_fill_row__scalar(p, src + (size_t)r * in_w, dst + (size_t)r * row);
    return;
  }
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int32_t j = 0; j < len; j += 16) {
    const int32_t b = 2 * j - pl; /* input column of padded column 2j */
    const __mmask16 ma = dw_range(-b, in_w - b), mc = dw_range(-b - 16, in_w - b - 16);
    const float *s = src + b;
    float *d = dst + j;
    if (ma == 0xffff && mc == 0xffff) {
      for (int32_t r = 0; r < rows; r++, s += in_w, d += row) {
        const __m512 a = _mm512_loadu_ps(s), c = _mm512_loadu_ps(s + 16);
        _mm512_storeu_ps(d, _mm512_permutex2var_ps(a, even, c));
        _mm512_storeu_ps(d + len, _mm512_permutex2var_ps(a, odd, c));
      }
    } else {
      for (int32_t r = 0; r < rows; r++, s += in_w, d += row) {
        const __m512 a = _mm512_maskz_loadu_ps(ma, s), c = _mm512_maskz_loadu_ps(mc, s + 16);
        _mm512_storeu_ps(d, _mm512_permutex2var_ps(a, even, c));
        _mm512_storeu_ps(d + len, _mm512_permutex2var_ps(a, odd, c));
      }
    }
  }
}

#include "dwconv_template.h"

/*
 * Flat layout for small planes (7×7, 14×14): a row is narrower than a vector, so the
 * row kernels would leave most lanes idle. With stride 1 and in_w == out_w every tap
 * is a constant offset in the flattened plane; the precomputed masks zero the lanes
 * that would wrap into the neighbouring row or fall outside the image. Computes
 * outputs [y_begin*ow, y_end*ow); a chunk shared with another thread's range is
 * computed by both and stored only inside the own range.
 */
static inline __attribute__((always_inline)) SC_TARGET_AVX512 void
dw_flat(const sc_dw_params *p, int32_t c, const float *in, float *out, int32_t y_begin,
        int32_t y_end, const int T) {
  const int32_t ow = p->out_w, taps = p->kh * p->kw;
  const int nt = T ? T : taps;
  const int32_t qb = y_begin * ow, qe = y_end * ow;
  const float *w = p->weights + (size_t)c * taps;
  const int32_t *off = p->flat_off;
  __m512 wv[25];
  if (T) {
#pragma clang loop unroll(full)
    for (int t = 0; t < T; t++) wv[t] = _mm512_set1_ps(w[t]);
  }
  const __m512 vb = _mm512_set1_ps(p->bias[c]);
  const sc_activation act = p->activation;
  for (int32_t k = qb / 16; k * 16 < qe; k++) {
    const int32_t q0 = k * 16;
    const uint16_t *m = p->flat_masks + (size_t)k * taps;
    __m512 a0 = vb, a1 = _mm512_setzero_ps();
    if (T) {
#pragma clang loop unroll(full)
      for (int t = 0; t < T; t++) {
        __m512 v = _mm512_maskz_loadu_ps(m[t], in + q0 + off[t]);
        if (t & 1) a1 = _mm512_fmadd_ps(v, wv[t], a1);
        else a0 = _mm512_fmadd_ps(v, wv[t], a0);
      }
    } else {
      for (int t = 0; t < nt; t++) {
        __m512 v = _mm512_maskz_loadu_ps(m[t], in + q0 + off[t]);
        a0 = _mm512_fmadd_ps(v, _mm512_set1_ps(w[t]), a0);
      }
    }
    __m512 r = _mm512_add_ps(a0, a1);
    if (act != SC_ACTIVATION_NONE) r = _mm512_max_ps(r, _mm512_setzero_ps());
    if (act == SC_ACTIVATION_RELU6) r = _mm512_min_ps(r, _mm512_set1_ps(6.0f));
    _mm512_mask_storeu_ps(out + q0, dw_range(qb - q0, qe - q0), r);
  }
}

static SC_TARGET_AVX512 void f32_dwconv2d_chw_flat3x3__avx512(const sc_dw_params *p, int32_t c,
                                                             const float *in, float *out,
                                                             int32_t yb, int32_t ye, float *buf) {
  (void)buf;
  dw_flat(p, c, in, out, yb, ye, 9);
}
static SC_TARGET_AVX512 void f32_dwconv2d_chw_flat5x5__avx512(const sc_dw_params *p, int32_t c,
                                                             const float *in, float *out,
                                                             int32_t yb, int32_t ye, float *buf) {
  (void)buf;
  dw_flat(p, c, in, out, yb, ye, 25);
}
static SC_TARGET_AVX512 void f32_dwconv2d_chw_flat__avx512(const sc_dw_params *p, int32_t c,
                                                          const float *in, float *out,
                                                          int32_t yb, int32_t ye, float *buf) {
  (void)buf;
  dw_flat(p, c, in, out, yb, ye, 0);
}

DW_DEFINE(f32_dwconv2d_chw_3x3s1, 3, 3, 1, 1, 4)
DW_DEFINE(f32_dwconv2d_chw_3x3s2, 3, 3, 2, 1, 4)
DW_DEFINE(f32_dwconv2d_chw_3x3s1d2, 3, 3, 1, 2, 4)
DW_DEFINE(f32_dwconv2d_chw_5x5s1, 5, 5, 1, 1, 4)
DW_DEFINE(f32_dwconv2d_chw_5x5s2, 5, 5, 2, 1, 2)
DW_DEFINE(f32_dwconv2d_chw_7x7s1, 7, 7, 1, 1, 2)

sc_dw_plane_fn sc_f32_dwconv2d_chw_select__avx512(const sc_dw_params *p, bool *buffered) {
  *buffered = p->sw != 1;
  const int kh = p->kh, kw = p->kw;
  if (p->flat_masks) {
    *buffered = false;
    if (kh * kw == 9) return f32_dwconv2d_chw_flat3x3__avx512;
    if (kh * kw == 25) return f32_dwconv2d_chw_flat5x5__avx512;
    return f32_dwconv2d_chw_flat__avx512;
  }
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
sc_dw_plane_fn sc_f32_dwconv2d_chw_select__avx512(const sc_dw_params *p, bool *buffered) {
  (void)p;
  *buffered = true;
  return sc_f32_dwconv2d_chw_generic__scalar;
}
#endif
