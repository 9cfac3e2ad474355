/*
 * Max / average pooling (any kernel, stride, asymmetric padding, ceil-mode
 * windows) and global average pooling, NCHW.
 *
 * Separable design: an output row is computed by
 *   1. a vertical pass: the (clipped) kernel_h input rows of its windows are
 *      reduced (max or sum) column by column into a row buffer that covers the
 *      columns its windows touch, padding columns set to the identity
 *      (-inf for max, 0 for sums) — so the next step never tests bounds;
 *   2. a horizontal pass: each output reduces kernel_w consecutive buffer
 *      entries, the window start advancing by stride_w. Stride 1 is unaligned
 *      loads, stride 2 a two-register permute (even lanes), larger strides a
 *      gather; the scalar ISA uses plain loops.
 * Work: kernel_h*in_w + kernel_w*out_w per output row instead of
 * kernel_h*kernel_w*out_w, and every load is a vector. The buffer lives on the
 * stack (POOL_BUF floats; wider rows are done in column chunks), so nothing is
 * allocated. Threads split the n*c*out_h output rows statically.
 *
 * Max is NaN-propagating (a NaN anywhere in a window gives NaN), which plain
 * MAXPS is not: an accumulator lane that is already NaN is kept by a mask.
 * Averages divide the window sum by the divisor (sc_avg_pool2d's rules), a
 * correctly rounded division like the obvious loop's.
 */
#include "layers_internal.h"

#define POOL_BUF 4096  /* floats of the row buffer */
#define POOL_SLACK 64  /* readable floats past its end (vector over-reads) */

typedef void (*vreduce_fn)(const float *src, int64_t stride, int32_t nrows, int64_t len,
                           float *dst, int is_max);
typedef void (*hreduce_fn)(const float *buf, int64_t nout, int32_t sw, int32_t kw, float *out,
                           int is_max, float div);

/* ------------------------------------------------------------- scalar ISA */

static inline float maxp(float acc, float v) { return (acc > v || acc != acc) ? acc : v; }

static void vreduce__scalar(const float *src, int64_t stride, int32_t nrows, int64_t len,
                            float *dst, int is_max) {
  for (int64_t x = 0; x < len; x++) dst[x] = src[x];
  for (int32_t r = 1; r < nrows; r++) {
    const float *row = src + r * stride;
    if (is_max)
      for (int64_t x = 0; x < len; x++) dst[x] = maxp(dst[x], row[x]);
    else
      for (int64_t x = 0; x < len; x++) dst[x] += row[x];
  }
}

static void hreduce__scalar(const float *buf, int64_t nout, int32_t sw, int32_t kw, float *out,
                            int is_max, float div) {
  for (int64_t i = 0; i < nout; i++) {
    const float *p = buf + i * sw;
    float acc = p[0];
    if (is_max)
      for (int32_t k = 1; k < kw; k++) acc = maxp(acc, p[k]);
    else
      for (int32_t k = 1; k < kw; k++) acc += p[k];
    out[i] = div != 0.0f ? acc / div : acc;
  }
}

#if SC_X86
/* ------------------------------------------------------------ AVX-512 ISA */

SC_TARGET_AVX512 static inline __m512 op16(__m512 acc, __m512 v, int is_max) {
  if (!is_max) return _mm512_add_ps(acc, v);
  /* max(acc, v) returns v when either is NaN; keep acc where acc is NaN */
  __mmask16 ord = _mm512_cmp_ps_mask(acc, acc, _CMP_ORD_Q);
  return _mm512_mask_max_ps(acc, ord, acc, v);
}

SC_TARGET_AVX512 static void vreduce__avx512(const float *src, int64_t stride, int32_t nrows,
                                             int64_t len, float *dst, int is_max) {
  int64_t x = 0;
  for (; x + 32 <= len; x += 32) {
    __m512 a = _mm512_loadu_ps(src + x), b = _mm512_loadu_ps(src + x + 16);
    for (int32_t r = 1; r < nrows; r++) {
      const float *row = src + r * stride + x;
      a = op16(a, _mm512_loadu_ps(row), is_max);
      b = op16(b, _mm512_loadu_ps(row + 16), is_max);
    }
    _mm512_storeu_ps(dst + x, a);
    _mm512_storeu_ps(dst + x + 16, b);
  }
  for (; x < len; x += 16) {
    __mmask16 m = sc_lay_mask16(len - x);
    __m512 a = _mm512_maskz_loadu_ps(m, src + x);
    for (int32_t r = 1; r < nrows; r++)
      a = op16(a, _mm512_maskz_loadu_ps(m, src + r * stride + x), is_max);
    _mm512_mask_storeu_ps(dst + x, m, a);
  }
}

SC_TARGET_AVX512 static void hreduce__avx512(const float *buf, int64_t nout, int32_t sw,
                                             int32_t kw, float *out, int is_max, float div) {
  const __m512 vdiv = _mm512_set1_ps(div);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i strided = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(sw));
  for (int64_t i = 0; i < nout; i += 16) {
    int64_t rem = nout - i;
    __mmask16 m = sc_lay_mask16(rem);
    const float *p = buf + i * sw;
    __m512 acc;
    if (sw == 1) {
      /* lanes < rem read p[0 .. rem-1+kw-1], inside the buffer */
      acc = _mm512_maskz_loadu_ps(m, p);
      for (int32_t k = 1; k < kw; k++) acc = op16(acc, _mm512_maskz_loadu_ps(m, p + k), is_max);
    } else if (sw == 2) {
      /* lane j reads p[k + 2j]: elements e <= 2*(rem-1) of the 32 loaded */
      int64_t need = rem >= 16 ? 32 : 2 * rem - 1;
      __mmask16 m0 = sc_lay_mask16(need), m1 = sc_lay_mask16(need > 16 ? need - 16 : 0);
      acc = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m0, p), even,
                                   _mm512_maskz_loadu_ps(m1, p + 16));
      for (int32_t k = 1; k < kw; k++) {
        __m512 v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m0, p + k), even,
                                          _mm512_maskz_loadu_ps(m1, p + k + 16));
        acc = op16(acc, v, is_max);
      }
    } else {
      acc = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, strided, p, 4);
      for (int32_t k = 1; k < kw; k++)
        acc = op16(acc, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, strided, p + k, 4),
                   is_max);
    }
    if (div != 0.0f) acc = _mm512_div_ps(acc, vdiv);
    _mm512_mask_storeu_ps(out + i, m, acc);
  }
}

/* --------------------------------------------------------------- AVX2 ISA */

SC_TARGET_AVX2 static inline __m256 op8(__m256 acc, __m256 v, int is_max) {
  if (!is_max) return _mm256_add_ps(acc, v);
  __m256 m = _mm256_max_ps(acc, v);
  return _mm256_blendv_ps(m, acc, _mm256_cmp_ps(acc, acc, _CMP_UNORD_Q));
}

SC_TARGET_AVX2 static void vreduce__avx2(const float *src, int64_t stride, int32_t nrows,
                                         int64_t len, float *dst, int is_max) {
  int64_t x = 0;
  for (; x + 16 <= len; x += 16) {
    __m256 a = _mm256_loadu_ps(src + x), b = _mm256_loadu_ps(src + x + 8);
    for (int32_t r = 1; r < nrows; r++) {
      const float *row = src + r * stride + x;
      a = op8(a, _mm256_loadu_ps(row), is_max);
      b = op8(b, _mm256_loadu_ps(row + 8), is_max);
    }
    _mm256_storeu_ps(dst + x, a);
    _mm256_storeu_ps(dst + x + 8, b);
  }
  for (; x < len; x += 8) {
    __m256i m = sc_lay_mask8(len - x);
    __m256 a = _mm256_maskload_ps(src + x, m);
    for (int32_t r = 1; r < nrows; r++)
      a = op8(a, _mm256_maskload_ps(src + r * stride + x, m), is_max);
    _mm256_maskstore_ps(dst + x, m, a);
  }
}

SC_TARGET_AVX2 static void hreduce__avx2(const float *buf, int64_t nout, int32_t sw, int32_t kw,
                                         float *out, int is_max, float div) {
  const __m256 vdiv = _mm256_set1_ps(div);
  const __m256i strided =
      _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(sw));
  for (int64_t i = 0; i < nout; i += 8) {
    int64_t rem = nout - i;
    __m256i m = sc_lay_mask8(rem);
    const float *p = buf + i * sw;
    __m256 acc;
    if (sw == 1) {
      acc = _mm256_maskload_ps(p, m);
      for (int32_t k = 1; k < kw; k++) acc = op8(acc, _mm256_maskload_ps(p + k, m), is_max);
    } else if (sw == 2) {
      int64_t need = rem >= 8 ? 16 : 2 * rem - 1;
      __m256i m0 = sc_lay_mask8(need), m1 = sc_lay_mask8(need > 8 ? need - 8 : 0);
      for (int32_t k = 0; k < kw; k++) {
        __m256 a = _mm256_maskload_ps(p + k, m0), b = _mm256_maskload_ps(p + k + 8, m1);
        /* [a0 a2 b0 b2 | a4 a6 b4 b6] -> [a0 a2 a4 a6 b0 b2 b4 b6] */
        __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        __m256 v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
        acc = k == 0 ? v : op8(acc, v, is_max);
      }
    } else {
      __m256 mf = _mm256_castsi256_ps(m);
      acc = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, strided, mf, 4);
      for (int32_t k = 1; k < kw; k++)
        acc = op8(acc, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p + k, strided, mf, 4),
                  is_max);
    }
    if (div != 0.0f) acc = _mm256_div_ps(acc, vdiv);
    _mm256_maskstore_ps(out + i, m, acc);
  }
}
#endif

/* ------------------------------------------------------------------ driver */

typedef struct pool_ctx {
  int32_t h, w, kh, kw, sh, sw, pt, pl, pb, pr, oh, ow;
  int is_max, include_pad;
  const float *in;
  float *out;
  vreduce_fn vreduce;
  hreduce_fn hreduce;
  int32_t chunk;          /* outputs per column chunk; 0: direct fallback */
  int32_t ox_in0, ox_in1; /* avg: outputs whose window lies wholly inside the divisor extent */
} pool_ctx;

/* Columns (or rows) of the window starting at s with k taps that count for the
   divisor: the window clipped to [lo, hi). */
static inline int64_t clip_count(int64_t s, int64_t k, int64_t lo, int64_t hi) {
  int64_t a = SC_MAX(s, lo), b = SC_MIN(s + k, hi);
  return b > a ? b - a : 0;
}

/* Window too wide for the buffer: the obvious loops over each window. */
static void pool_row_direct(const pool_ctx *c, const float *pin, float *orow, int64_t r0,
                            int64_t r1, float dh) {
  for (int32_t ox = 0; ox < c->ow; ox++) {
    int64_t xs = (int64_t)ox * c->sw - c->pl;
    int64_t c0 = SC_MAX(xs, 0), c1 = SC_MIN(xs + c->kw, (int64_t)c->w);
    float acc = c->is_max ? -INFINITY : 0.0f;
    for (int64_t y = r0; y < r1; y++)
      for (int64_t x = c0; x < c1; x++) {
        float v = pin[y * c->w + x];
        acc = c->is_max ? maxp(acc, v) : acc + v;
      }
    if (!c->is_max) {
      int64_t lo = c->include_pad ? -(int64_t)c->pl : 0;
      int64_t hi = c->include_pad ? (int64_t)c->w + c->pr : c->w;
      float div = dh * (float)clip_count(xs, c->kw, lo, hi);
      acc = div != 0.0f ? acc / div : 0.0f;
    }
    orow[ox] = acc;
  }
}

static void pool_row(const pool_ctx *c, int64_t plane, int32_t oy, float *buf) {
  const float *pin = c->in + (size_t)plane * ((size_t)c->h * c->w);
  float *orow = c->out + ((size_t)plane * c->oh + oy) * (size_t)c->ow;
  const int64_t iy0 = (int64_t)oy * c->sh - c->pt;
  const int64_t r0 = SC_MAX(iy0, 0), r1 = SC_MIN(iy0 + c->kh, (int64_t)c->h);
  const int32_t nrows = r1 > r0 ? (int32_t)(r1 - r0) : 0;
  float dh = 0.0f; /* avg: rows counted by the divisor */
  if (!c->is_max) {
    dh = c->include_pad
             ? (float)clip_count(iy0, c->kh, -(int64_t)c->pt, (int64_t)c->h + c->pb)
             : (float)nrows;
  }
  if (c->chunk == 0) {
    pool_row_direct(c, pin, orow, r0, r1, dh);
    return;
  }
  const float ident = c->is_max ? -INFINITY : 0.0f;
  for (int32_t ox0 = 0; ox0 < c->ow; ox0 += c->chunk) {
    const int32_t ox1 = (int32_t)SC_MIN((int64_t)ox0 + c->chunk, (int64_t)c->ow);
    const int64_t xs = (int64_t)ox0 * c->sw - c->pl;
    const int64_t xe = (int64_t)(ox1 - 1) * c->sw - c->pl + c->kw;
    const int64_t len = xe - xs;
    const int64_t vs = SC_MAX(xs, 0), ve = SC_MIN(xe, (int64_t)c->w);
    if (nrows == 0 || vs >= ve) {
      for (int64_t i = 0; i < len; i++) buf[i] = ident;
    } else {
      for (int64_t i = 0; i < vs - xs; i++) buf[i] = ident;
      c->vreduce(pin + r0 * c->w + vs, c->w, nrows, ve - vs, buf + (vs - xs), c->is_max);
      for (int64_t i = ve - xs; i < len; i++) buf[i] = ident;
    }
    if (c->is_max) {
      c->hreduce(buf, ox1 - ox0, c->sw, c->kw, orow + ox0, 1, 0.0f);
      continue;
    }
    /* Averages: interior outputs share the divisor dh*kw, the edges have their own. */
    const int64_t lo = c->include_pad ? -(int64_t)c->pl : 0;
    const int64_t hi = c->include_pad ? (int64_t)c->w + c->pr : c->w;
    const int32_t a = SC_MAX(ox0, SC_MIN(c->ox_in0, ox1));
    const int32_t b = SC_MAX(a, SC_MIN(c->ox_in1, ox1));
    for (int32_t ox = ox0; ox < ox1; ox++) {
      if (ox == a && b > a) {
        float div = dh * (float)c->kw;
        if (div != 0.0f) c->hreduce(buf + (int64_t)(a - ox0) * c->sw, b - a, c->sw, c->kw, orow + a, 0, div);
        else
          for (int32_t i = a; i < b; i++) orow[i] = 0.0f;
        ox = b - 1;
        continue;
      }
      float div = dh * (float)clip_count((int64_t)ox * c->sw - c->pl, c->kw, lo, hi);
      if (div != 0.0f) c->hreduce(buf + (int64_t)(ox - ox0) * c->sw, 1, c->sw, c->kw, orow + ox, 0, div);
      else orow[ox] = 0.0f;
    }
  }
}

static void pool_range(const void *vctx, int64_t b, int64_t e) {
  const pool_ctx *c = (const pool_ctx *)vctx;
  float buf[POOL_BUF + POOL_SLACK] __attribute__((aligned(64)));
  for (int64_t r = b; r < e; r++) {
    int64_t plane = r / c->oh;
    pool_row(c, plane, (int32_t)(r - plane * c->oh), buf);
  }
}

static sc_status pool_run(int32_t n, int32_t ch, int32_t h, int32_t w, int32_t kh, int32_t kw,
                          int32_t sh, int32_t sw, int32_t pt, int32_t pl, int32_t pb, int32_t pr,
                          int32_t oh, int32_t ow, int is_max, int include_pad, const float *in,
                          float *out, int32_t threads) {
  if (n <= 0 || ch <= 0 || h <= 0 || w <= 0 || kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 ||
      pt < 0 || pl < 0 || pb < 0 || pr < 0 || oh <= 0 || ow <= 0 || !in || !out || threads < 0)
    return SC_INVALID_ARGUMENT;
  /* every window starts inside the padded extent */
  if ((int64_t)(oh - 1) * sh >= (int64_t)pt + h + pb || (int64_t)(ow - 1) * sw >= (int64_t)pl + w + pr)
    return SC_INVALID_ARGUMENT;
  int64_t in_elems, out_elems;
  if (!sc_layers_elems(&in_elems, n, ch, h, w) || !sc_layers_elems(&out_elems, n, ch, oh, ow))
    return SC_SIZE_OVERFLOW;

  pool_ctx c = {h, w, kh, kw, sh, sw, pt, pl, pb, pr, oh, ow, is_max, include_pad != 0,
                in, out, NULL, NULL, 0, 0, 0};
  sc_isa isa = sc_cpu_isa();
  c.vreduce = vreduce__scalar;
  c.hreduce = hreduce__scalar;
#if SC_X86
  if (isa == SC_ISA_AVX512) {
    c.vreduce = vreduce__avx512;
    c.hreduce = hreduce__avx512;
  } else if (isa == SC_ISA_AVX2) {
    c.vreduce = vreduce__avx2;
    c.hreduce = hreduce__avx2;
  }
#else
  (void)isa;
#endif
  /* The gathers index with 32-bit lanes: 15 * sw must fit. */
  if (kw <= POOL_BUF && sw <= POOL_BUF) c.chunk = (int32_t)((POOL_BUF - kw) / sw + 1);
  if (!is_max) {
    int64_t lo = c.include_pad ? -(int64_t)pl : 0;
    int64_t hi = c.include_pad ? (int64_t)w + pr : w;
    int64_t a = (lo + pl + sw - 1) / sw;        /* first ox with start >= lo */
    int64_t last = hi + pl - kw;                /* start + kw <= hi */
    int64_t b = last >= 0 ? last / sw + 1 : 0;  /* one past the last such ox */
    c.ox_in0 = (int32_t)SC_MIN(a, (int64_t)ow);
    c.ox_in1 = (int32_t)SC_MAX((int64_t)c.ox_in0, SC_MIN(b, (int64_t)ow));
  }
  const int64_t rows = (int64_t)n * ch * oh;
  const double work = (double)rows * ((double)kh * SC_MIN((double)w, (double)ow * sw + kw) + (double)kw * ow);
  int nt = sc_layers_threads(threads, work > 1e18 ? INT64_MAX : (int64_t)work, rows);
  sc_lay_parallel(nt, rows, pool_range, &c);
  return SC_OK;
}

sc_status sc_max_pool2d(int32_t n, int32_t c, int32_t h, int32_t w, int32_t kernel_h,
                        int32_t kernel_w, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                        int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t out_h,
                        int32_t out_w, const float *in, float *out, int32_t threads) {
  return pool_run(n, c, h, w, kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left,
                  pad_bottom, pad_right, out_h, out_w, 1, 0, in, out, threads);
}

sc_status sc_avg_pool2d(int32_t n, int32_t c, int32_t h, int32_t w, int32_t kernel_h,
                        int32_t kernel_w, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                        int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t out_h,
                        int32_t out_w, int32_t count_include_pad, const float *in, float *out,
                        int32_t threads) {
  return pool_run(n, c, h, w, kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left,
                  pad_bottom, pad_right, out_h, out_w, 0, count_include_pad, in, out, threads);
}

/* ---------------------------------------------------- global average pool */

static void gap__scalar(const float *in, float *out, int64_t planes, int64_t hw) {
  for (int64_t p = 0; p < planes; p++) {
    const float *x = in + p * hw;
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= hw; i += 8)
      for (int j = 0; j < 8; j++) s[j] += x[i + j];
    float t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; i < hw; i++) t += x[i];
    out[p] = t / (float)hw;
  }
}

#if SC_X86
SC_TARGET_AVX512 static void gap__avx512(const float *in, float *out, int64_t planes, int64_t hw) {
  const float div = (float)hw;
  for (int64_t p = 0; p < planes; p++) {
    const float *x = in + p * hw;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= hw; i += 64) {
      a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
      a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + i + 16));
      a2 = _mm512_add_ps(a2, _mm512_loadu_ps(x + i + 32));
      a3 = _mm512_add_ps(a3, _mm512_loadu_ps(x + i + 48));
    }
    for (; i + 16 <= hw; i += 16) a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
    if (i < hw) a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(sc_lay_mask16(hw - i), x + i));
    __m512 s = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    out[p] = _mm512_reduce_add_ps(s) / div;
  }
}

SC_TARGET_AVX2 static void gap__avx2(const float *in, float *out, int64_t planes, int64_t hw) {
  for (int64_t p = 0; p < planes; p++) {
    const float *x = in + p * hw;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= hw; i += 32) {
      a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
      a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
      a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
      a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
    }
    for (; i + 8 <= hw; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    if (i < hw) a1 = _mm256_add_ps(a1, _mm256_maskload_ps(x + i, sc_lay_mask8(hw - i)));
    __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    out[p] = _mm_cvtss_f32(q) / (float)hw;
  }
}
#endif

typedef struct gap_ctx {
  const float *in;
  float *out;
  int64_t hw;
  void (*fn)(const float *, float *, int64_t, int64_t);
} gap_ctx;

static void gap_range(const void *vctx, int64_t b, int64_t e) {
  const gap_ctx *c = (const gap_ctx *)vctx;
  c->fn(c->in + b * c->hw, c->out + b, e - b, c->hw);
}

sc_status sc_global_avg_pool(int32_t n, int32_t c, int64_t hw, const float *in, float *out,
                             int32_t threads) {
  if (n <= 0 || c <= 0 || hw <= 0 || !in || !out || threads < 0) return SC_INVALID_ARGUMENT;
  int64_t total;
  if (!sc_layers_elems(&total, n, c, hw, 1)) return SC_SIZE_OVERFLOW;
  gap_ctx ctx = {in, out, hw, gap__scalar};
#if SC_X86
  sc_isa isa = sc_cpu_isa();
  if (isa == SC_ISA_AVX512) ctx.fn = gap__avx512;
  else if (isa == SC_ISA_AVX2) ctx.fn = gap__avx2;
#endif
  int64_t planes = (int64_t)n * c;
  sc_lay_parallel(sc_layers_threads(threads, total, planes), planes, gap_range, &ctx);
  return SC_OK;
}
