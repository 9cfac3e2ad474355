/*
 * Element-wise layers: activations (ReLU, ReLU6, clip, sigmoid), residual add,
 * per-channel affine (standalone batch norm) and squeeze-excitation scale.
 *
 * These are memory-bound streams. The simple ones are written once as plain
 * loops (NaN-propagating forms that map exactly onto MAXPS/MINPS) and compiled
 * three times, under the AVX-512, AVX2+FMA and default targets, so the compiler's
 * vectorizer emits 512-, 256- and 128-bit code from the same source. Sigmoid has
 * explicit vector variants around an accurate vector exp (layers_internal.h).
 * Work is split across threads in 64-byte aligned pieces, only above
 * SC_LAYERS_SERIAL_WORK elements.
 */
#include "layers_internal.h"

/* Three copies of one loop body, one per target; the body is force-inlined so
   that it is vectorized for the caller's target. */
#define SC_LAY_MULTI_TARGET(name, params, args)                                 \
  static void name##__scalar params { name##_body args; }                      \
  SC_TARGET_AVX2 static void name##__avx2 params { name##_body args; }         \
  SC_TARGET_AVX512 static void name##__avx512 params { name##_body args; }

#define SC_LAY_INLINE static inline __attribute__((always_inline))

/* Pick the variant of `name` for the ISA `isa`. */
#define SC_LAY_PICK(name, isa)                                                  \
  ((isa) == SC_ISA_AVX512 ? name##__avx512 : (isa) == SC_ISA_AVX2 ? name##__avx2 : name##__scalar)

/* ------------------------------------------------------------ activations */

SC_LAY_INLINE void unary_simple_body(const float *in, float *out, int64_t n, sc_unary kind,
                                     float lo, float hi) {
  switch (kind) {
  case SC_UNARY_RELU:
    SC_LAY_VECTORIZE
    for (int64_t i = 0; i < n; i++) out[i] = sc_lay_relu(in[i]);
    break;
  case SC_UNARY_RELU6:
    SC_LAY_VECTORIZE
    for (int64_t i = 0; i < n; i++) out[i] = sc_lay_relu6(in[i]);
    break;
  case SC_UNARY_CLIP:
    SC_LAY_VECTORIZE
    for (int64_t i = 0; i < n; i++) {
      float t = in[i] < lo ? lo : in[i];
      out[i] = t > hi ? hi : t;
    }
    break;
  case SC_UNARY_LEAKY_RELU:
    SC_LAY_VECTORIZE
    for (int64_t i = 0; i < n; i++) out[i] = in[i] < 0.0f ? lo * in[i] : in[i];
    break;
  case SC_UNARY_HARD_SIGMOID:
    SC_LAY_VECTORIZE
    for (int64_t i = 0; i < n; i++) {
      /* comparisons written so that NaN falls through both and stays NaN */
      float t = lo * in[i] + hi;
      t = t < 0.0f ? 0.0f : t;
      out[i] = t > 1.0f ? 1.0f : t;
    }
    break;
  case SC_UNARY_HARD_SWISH:
    SC_LAY_VECTORIZE
    for (int64_t i = 0; i < n; i++) {
      float t = in[i] * (1.0f / 6.0f) + 0.5f;
      t = t < 0.0f ? 0.0f : t;
      out[i] = in[i] * (t > 1.0f ? 1.0f : t);
    }
    break;
  default: /* identity */
    if (in != out)
      SC_LAY_VECTORIZE
      for (int64_t i = 0; i < n; i++) out[i] = in[i];
    break;
  }
}
SC_LAY_MULTI_TARGET(unary_simple,
                    (const float *in, float *out, int64_t n, sc_unary kind, float lo, float hi),
                    (in, out, n, kind, lo, hi))

static void sigmoid__scalar(const float *in, float *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = sc_lay_sigmoid_scalar(in[i]);
}

static void silu__scalar(const float *in, float *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = in[i] * sc_lay_sigmoid_scalar(in[i]);
}

static void tanh__scalar(const float *in, float *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = tanhf(in[i]);
}

/* Below this |x|, tanh's odd Taylor series to x^9 is exact to float rounding;
   above it (1 - e) / (1 + e) with e = exp(-2|x|) has no harmful cancellation. */
#define SC_TANH_SERIES_LIMIT 0.125f
#define SC_TANH_C3 (-1.0f / 3.0f)
#define SC_TANH_C5 (2.0f / 15.0f)
#define SC_TANH_C7 (-17.0f / 315.0f)
#define SC_TANH_C9 (62.0f / 2835.0f)

#if SC_X86
/* sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, e = exp(-|x|) <= 1:
   never overflows, relative error a few ulp on both sides, NaN stays NaN. */
SC_TARGET_AVX512 static inline __m512 sigmoid_v16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 ax = _mm512_abs_ps(x);
  __m512 e = sc_exp_neg_avx512(_mm512_sub_ps(_mm512_setzero_ps(), ax));
  __m512 d = _mm512_add_ps(one, e);
  __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  __m512 num = _mm512_mask_blend_ps(neg, one, e);
  return _mm512_div_ps(num, d);
}

SC_TARGET_AVX512 static void sigmoid__avx512(const float *in, float *out, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 a = sigmoid_v16(_mm512_loadu_ps(in + i));
    __m512 b = sigmoid_v16(_mm512_loadu_ps(in + i + 16));
    _mm512_storeu_ps(out + i, a);
    _mm512_storeu_ps(out + i + 16, b);
  }
  for (; i < n; i += 16) {
    __mmask16 m = sc_lay_mask16(n - i);
    _mm512_mask_storeu_ps(out + i, m, sigmoid_v16(_mm512_maskz_loadu_ps(m, in + i)));
  }
}

SC_TARGET_AVX512 static inline __m512 tanh_v16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 ax = _mm512_abs_ps(x);
  __m512 e = sc_exp_neg_avx512(_mm512_mul_ps(_mm512_set1_ps(-2.0f), ax));
  __m512 t = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
  __m512 x2 = _mm512_mul_ps(x, x);
  __m512 p = _mm512_fmadd_ps(x2, _mm512_set1_ps(SC_TANH_C9), _mm512_set1_ps(SC_TANH_C7));
  p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(SC_TANH_C5));
  p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(SC_TANH_C3));
  p = _mm512_mul_ps(_mm512_mul_ps(x2, p), ax);
  __m512 series = _mm512_add_ps(ax, p);
  __mmask16 small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(SC_TANH_SERIES_LIMIT), _CMP_LT_OQ);
  __m512 r = _mm512_mask_blend_ps(small, t, series);
  /* sign of x back on; NaN inputs stay NaN (every step above propagates them) */
  __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), sign));
}

SC_TARGET_AVX512 static void tanh__avx512(const float *in, float *out, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = sc_lay_mask16(n - i);
    _mm512_mask_storeu_ps(out + i, m, tanh_v16(_mm512_maskz_loadu_ps(m, in + i)));
  }
}

SC_TARGET_AVX512 static void silu__avx512(const float *in, float *out, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = sc_lay_mask16(n - i);
    __m512 x = _mm512_maskz_loadu_ps(m, in + i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(x, sigmoid_v16(x)));
  }
}

SC_TARGET_AVX2 static inline __m256 sigmoid_v8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  __m256 e = sc_exp_neg_avx2(_mm256_sub_ps(_mm256_setzero_ps(), ax));
  __m256 d = _mm256_add_ps(one, e);
  __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  __m256 num = _mm256_blendv_ps(one, e, neg);
  return _mm256_div_ps(num, d);
}

SC_TARGET_AVX2 static void sigmoid__avx2(const float *in, float *out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 a = sigmoid_v8(_mm256_loadu_ps(in + i));
    __m256 b = sigmoid_v8(_mm256_loadu_ps(in + i + 8));
    _mm256_storeu_ps(out + i, a);
    _mm256_storeu_ps(out + i + 8, b);
  }
  if (i < n) {
    __m256i m = sc_lay_mask8(n - i);
    _mm256_maskstore_ps(out + i, m, sigmoid_v8(_mm256_maskload_ps(in + i, m)));
    i += 8;
    if (i < n) {
      m = sc_lay_mask8(n - i);
      _mm256_maskstore_ps(out + i, m, sigmoid_v8(_mm256_maskload_ps(in + i, m)));
    }
  }
}
SC_TARGET_AVX2 static inline __m256 tanh_v8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 ax = _mm256_andnot_ps(sign_bit, x);
  __m256 e = sc_exp_neg_avx2(_mm256_mul_ps(_mm256_set1_ps(-2.0f), ax));
  __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
  __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_fmadd_ps(x2, _mm256_set1_ps(SC_TANH_C9), _mm256_set1_ps(SC_TANH_C7));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(SC_TANH_C5));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(SC_TANH_C3));
  p = _mm256_mul_ps(_mm256_mul_ps(x2, p), ax);
  __m256 series = _mm256_add_ps(ax, p);
  __m256 small = _mm256_cmp_ps(ax, _mm256_set1_ps(SC_TANH_SERIES_LIMIT), _CMP_LT_OQ);
  __m256 r = _mm256_blendv_ps(t, series, small);
  return _mm256_or_ps(r, _mm256_and_ps(sign_bit, x));
}

/* One masked tail step of an AVX2 stream of f over 8 floats. */
#define SC_AVX2_STREAM(f, in, out, n)                                           \
  for (int64_t i = 0; i < (n); i += 8) {                                       \
    if (i + 8 <= (n)) {                                                        \
      _mm256_storeu_ps((out) + i, f(_mm256_loadu_ps((in) + i)));               \
    } else {                                                                   \
      __m256i m = sc_lay_mask8((n) - i);                                       \
      _mm256_maskstore_ps((out) + i, m, f(_mm256_maskload_ps((in) + i, m)));   \
    }                                                                          \
  }

SC_TARGET_AVX2 static inline __m256 silu_v8(__m256 x) { return _mm256_mul_ps(x, sigmoid_v8(x)); }

SC_TARGET_AVX2 static void tanh__avx2(const float *in, float *out, int64_t n) { SC_AVX2_STREAM(tanh_v8, in, out, n) }

SC_TARGET_AVX2 static void silu__avx2(const float *in, float *out, int64_t n) { SC_AVX2_STREAM(silu_v8, in, out, n) }
#endif

typedef struct unary_ctx {
  const float *in;
  float *out;
  int64_t count;
  sc_unary kind;
  float lo, hi;
  sc_isa isa;
} unary_ctx;

/* Pieces of 16 floats (64 bytes) so that threads never share a cache line of out
   when the arrays are aligned. */
#define SC_LAY_PIECE 16

static void unary_range(const void *vctx, int64_t b, int64_t e) {
  const unary_ctx *c = (const unary_ctx *)vctx;
  int64_t i0 = b * SC_LAY_PIECE, i1 = SC_MIN(e * SC_LAY_PIECE, c->count);
  const float *in = c->in + i0;
  float *out = c->out + i0;
  int64_t n = i1 - i0;
  if (c->kind == SC_UNARY_SIGMOID) {
#if SC_X86
    if (c->isa == SC_ISA_AVX512) sigmoid__avx512(in, out, n);
    else if (c->isa == SC_ISA_AVX2) sigmoid__avx2(in, out, n);
    else
#endif
      sigmoid__scalar(in, out, n);
    return;
  }
  if (c->kind == SC_UNARY_TANH) {
#if SC_X86
    if (c->isa == SC_ISA_AVX512) tanh__avx512(in, out, n);
    else if (c->isa == SC_ISA_AVX2) tanh__avx2(in, out, n);
    else
#endif
      tanh__scalar(in, out, n);
    return;
  }
  if (c->kind == SC_UNARY_SILU) {
#if SC_X86
    if (c->isa == SC_ISA_AVX512) silu__avx512(in, out, n);
    else if (c->isa == SC_ISA_AVX2) silu__avx2(in, out, n);
    else
#endif
      silu__scalar(in, out, n);
    return;
  }
  if (c->isa == SC_ISA_AVX512) unary_simple__avx512(in, out, n, c->kind, c->lo, c->hi);
  else if (c->isa == SC_ISA_AVX2) unary_simple__avx2(in, out, n, c->kind, c->lo, c->hi);
  else unary_simple__scalar(in, out, n, c->kind, c->lo, c->hi);
}

sc_status sc_activation_apply(int64_t count, const float *in, float *out, sc_unary kind,
                              float clip_min, float clip_max, int32_t threads) {
  if (!in || !out || count <= 0 || threads < 0) return SC_INVALID_ARGUMENT;
  if ((int)kind < SC_UNARY_IDENTITY || (int)kind > SC_UNARY_SILU) return SC_INVALID_ARGUMENT;
  if ((kind == SC_UNARY_CLIP || kind == SC_UNARY_HARD_SIGMOID) && (isnan(clip_min) || isnan(clip_max)))
    return SC_INVALID_ARGUMENT;
  if (kind == SC_UNARY_LEAKY_RELU && isnan(clip_min)) return SC_INVALID_ARGUMENT;
  int64_t elems;
  if (!sc_layers_elems(&elems, count, 1, 1, 1)) return SC_SIZE_OVERFLOW;
  unary_ctx ctx = {in, out, count, kind, clip_min, clip_max, sc_cpu_isa()};
  int64_t pieces = (count + SC_LAY_PIECE - 1) / SC_LAY_PIECE;
  /* sigmoid costs ~20 flops an element: parallel from a quarter of the size */
  bool transcendental = kind == SC_UNARY_SIGMOID || kind == SC_UNARY_TANH || kind == SC_UNARY_SILU;
  int64_t work = transcendental && count < INT64_MAX / 4 ? count * 4 : count;
  sc_lay_parallel(sc_layers_threads(threads, work, pieces), pieces, unary_range, &ctx);
  return SC_OK;
}

/* -------------------------------------------------------------------- add */

SC_LAY_INLINE void add_body(const float *a, const float *b, float *out, int64_t n,
                            sc_activation act) {
  if (act == SC_ACTIVATION_RELU)
    SC_LAY_VECTORIZE
    for (int64_t i = 0; i < n; i++) out[i] = sc_lay_relu(a[i] + b[i]);
  else if (act == SC_ACTIVATION_RELU6)
    SC_LAY_VECTORIZE
    for (int64_t i = 0; i < n; i++) out[i] = sc_lay_relu6(a[i] + b[i]);
  else
    SC_LAY_VECTORIZE
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
SC_LAY_MULTI_TARGET(add, (const float *a, const float *b, float *out, int64_t n, sc_activation act),
                    (a, b, out, n, act))

typedef struct add_ctx {
  const float *a, *b;
  float *out;
  int64_t count;
  sc_activation act;
  void (*fn)(const float *, const float *, float *, int64_t, sc_activation);
} add_ctx;

static void add_range(const void *vctx, int64_t b, int64_t e) {
  const add_ctx *c = (const add_ctx *)vctx;
  int64_t i0 = b * SC_LAY_PIECE, i1 = SC_MIN(e * SC_LAY_PIECE, c->count);
  c->fn(c->a + i0, c->b + i0, c->out + i0, i1 - i0, c->act);
}

sc_status sc_add(int64_t count, const float *a, const float *b, sc_activation activation,
                 float *out, int32_t threads) {
  if (!a || !b || !out || count <= 0 || threads < 0 || !sc_lay_valid_activation(activation))
    return SC_INVALID_ARGUMENT;
  int64_t elems;
  if (!sc_layers_elems(&elems, count, 1, 1, 1)) return SC_SIZE_OVERFLOW;
  add_ctx ctx = {a, b, out, count, activation, SC_LAY_PICK(add, sc_cpu_isa())};
  int64_t pieces = (count + SC_LAY_PIECE - 1) / SC_LAY_PIECE;
  sc_lay_parallel(sc_layers_threads(threads, count, pieces), pieces, add_range, &ctx);
  return SC_OK;
}

/* ---------------------------------------------------- per-channel affine */

/* One channel plane: out = act(in * m + o). The vector targets contract the
   multiply-add into an FMA (fmaf spelled out so that the scalar target, which
   has no FMA instruction, keeps a plain multiply and add instead of a libm call). */
SC_LAY_INLINE void affine_body(const float *in, float *out, int64_t n, float m, float o,
                               sc_activation act, int fused) {
  if (fused) {
    if (act == SC_ACTIVATION_RELU)
      SC_LAY_VECTORIZE
      for (int64_t i = 0; i < n; i++) out[i] = sc_lay_relu(fmaf(in[i], m, o));
    else if (act == SC_ACTIVATION_RELU6)
      SC_LAY_VECTORIZE
      for (int64_t i = 0; i < n; i++) out[i] = sc_lay_relu6(fmaf(in[i], m, o));
    else
      SC_LAY_VECTORIZE
      for (int64_t i = 0; i < n; i++) out[i] = fmaf(in[i], m, o);
  } else {
    if (act == SC_ACTIVATION_RELU)
      SC_LAY_VECTORIZE
      for (int64_t i = 0; i < n; i++) out[i] = sc_lay_relu(in[i] * m + o);
    else if (act == SC_ACTIVATION_RELU6)
      SC_LAY_VECTORIZE
      for (int64_t i = 0; i < n; i++) out[i] = sc_lay_relu6(in[i] * m + o);
    else
      SC_LAY_VECTORIZE
      for (int64_t i = 0; i < n; i++) out[i] = in[i] * m + o;
  }
}
static void affine__scalar(const float *in, float *out, int64_t n, float m, float o,
                           sc_activation act) {
  affine_body(in, out, n, m, o, act, 0);
}
SC_TARGET_AVX2 static void affine__avx2(const float *in, float *out, int64_t n, float m, float o,
                                        sc_activation act) {
  affine_body(in, out, n, m, o, act, 1);
}
SC_TARGET_AVX512 static void affine__avx512(const float *in, float *out, int64_t n, float m,
                                            float o, sc_activation act) {
  affine_body(in, out, n, m, o, act, 1);
}

/* Per-channel scale (squeeze-excitation): out = in * s. */
SC_LAY_INLINE void scale_body(const float *in, float *out, int64_t n, float s) {
  SC_LAY_VECTORIZE
  for (int64_t i = 0; i < n; i++) out[i] = in[i] * s;
}
SC_LAY_MULTI_TARGET(scale, (const float *in, float *out, int64_t n, float s), (in, out, n, s))

typedef struct chan_ctx {
  const float *in;
  float *out;
  int64_t hw, c, total; /* total = planes * hw */
  const float *mul, *off; /* affine: [c]; scale: mul = [planes], off unused */
  sc_activation act;
  bool per_plane; /* scale indexed by plane (n*c) rather than channel */
  void (*affine)(const float *, float *, int64_t, float, float, sc_activation);
  void (*scale)(const float *, float *, int64_t, float);
} chan_ctx;

/* Elements [b*PIECE, e*PIECE) of the flat tensor, walked plane by plane. */
static void chan_range(const void *vctx, int64_t b, int64_t e) {
  const chan_ctx *c = (const chan_ctx *)vctx;
  int64_t i = b * SC_LAY_PIECE, end = SC_MIN(e * SC_LAY_PIECE, c->total);
  while (i < end) {
    int64_t plane = i / c->hw;
    int64_t pos = i - plane * c->hw;
    int64_t n = SC_MIN(c->hw - pos, end - i);
    if (c->per_plane) {
      c->scale(c->in + i, c->out + i, n, c->mul[plane]);
    } else {
      int64_t ch = plane % c->c;
      c->affine(c->in + i, c->out + i, n, c->mul[ch], c->off ? c->off[ch] : 0.0f, c->act);
    }
    i += n;
  }
}

static sc_status chan_run(int32_t n, int32_t c, int64_t hw, chan_ctx *ctx, int32_t threads) {
  int64_t total;
  if (!sc_layers_elems(&total, n, c, hw, 1)) return SC_SIZE_OVERFLOW;
  ctx->hw = hw;
  ctx->c = c;
  ctx->total = total;
  int64_t pieces = (total + SC_LAY_PIECE - 1) / SC_LAY_PIECE;
  sc_lay_parallel(sc_layers_threads(threads, total, pieces), pieces, chan_range, ctx);
  return SC_OK;
}

sc_status sc_channel_affine(int32_t n, int32_t c, int64_t hw, const float *in,
                            const float *multiplier, const float *offset,
                            sc_activation activation, float *out, int32_t threads) {
  if (n <= 0 || c <= 0 || hw <= 0 || !in || !multiplier || !out || threads < 0 ||
      !sc_lay_valid_activation(activation))
    return SC_INVALID_ARGUMENT;
  chan_ctx ctx = {0};
  ctx.in = in;
  ctx.out = out;
  ctx.mul = multiplier;
  ctx.off = offset;
  ctx.act = activation;
  sc_isa isa = sc_cpu_isa();
  ctx.affine = isa == SC_ISA_AVX512 ? affine__avx512 : isa == SC_ISA_AVX2 ? affine__avx2
                                                                         : affine__scalar;
  return chan_run(n, c, hw, &ctx, threads);
}

sc_status sc_channel_scale(int32_t n, int32_t c, int64_t hw, const float *in,
                           const float *scale, float *out, int32_t threads) {
  if (n <= 0 || c <= 0 || hw <= 0 || !in || !scale || !out || threads < 0)
    return SC_INVALID_ARGUMENT;
  chan_ctx ctx = {0};
  ctx.in = in;
  ctx.out = out;
  ctx.mul = scale;
  ctx.per_plane = true;
  ctx.scale = SC_LAY_PICK(scale, sc_cpu_isa());
  return chan_run(n, c, hw, &ctx, threads);
}
