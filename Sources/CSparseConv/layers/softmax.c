/*
 * Row softmax, numerically stable: out = exp(x - max) / sum(exp(x - max)).
 * Three passes over a row (max; exp, store and sum; scale by 1/sum), the exp
 * vectorized with the same accurate exp as sigmoid (layers_internal.h). The max
 * pass may drop a NaN, but a NaN element then makes its exp, the sum and so
 * every output of the row NaN. Rows are split across threads when there are
 * enough of them.
 */
#include "layers_internal.h"

typedef void (*softmax_row_fn)(const float *in, float *out, int64_t cols);

static void softmax_row__scalar(const float *in, float *out, int64_t cols) {
  float m = in[0];
  for (int64_t j = 1; j < cols; j++) m = in[j] > m ? in[j] : m;
  float s = 0.0f;
  for (int64_t j = 0; j < cols; j++) {
    float e = expf(in[j] - m);
    out[j] = e;
    s += e;
  }
  float inv = 1.0f / s;
  for (int64_t j = 0; j < cols; j++) out[j] *= inv;
}

#if SC_X86
SC_TARGET_AVX512 static void softmax_row__avx512(const float *in, float *out, int64_t cols) {
  __m512 vm = _mm512_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + 16 <= cols; j += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(in + j));
  if (j < cols)
    vm = _mm512_mask_max_ps(vm, sc_lay_mask16(cols - j), vm,
                            _mm512_maskz_loadu_ps(sc_lay_mask16(cols - j), in + j));
  const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vm));
  __m512 s0 = _mm512_setzero_ps(), s1 = s0;
  j = 0;
  for (; j + 32 <= cols; j += 32) {
    __m512 e0 = sc_exp_neg_avx512(_mm512_sub_ps(_mm512_loadu_ps(in + j), m));
    __m512 e1 = sc_exp_neg_avx512(_mm512_sub_ps(_mm512_loadu_ps(in + j + 16), m));
    _mm512_storeu_ps(out + j, e0);
    _mm512_storeu_ps(out + j + 16, e1);
    s0 = _mm512_add_ps(s0, e0);
    s1 = _mm512_add_ps(s1, e1);
  }
  for (; j < cols; j += 16) {
    __mmask16 k = sc_lay_mask16(cols - j);
    __m512 e = sc_exp_neg_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, in + j), m));
    _mm512_mask_storeu_ps(out + j, k, e);
    s0 = _mm512_mask_add_ps(s0, k, s0, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)));
  j = 0;
  for (; j + 16 <= cols; j += 16) _mm512_storeu_ps(out + j, _mm512_mul_ps(_mm512_loadu_ps(out + j), inv));
  if (j < cols) {
    __mmask16 k = sc_lay_mask16(cols - j);
    _mm512_mask_storeu_ps(out + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, out + j), inv));
  }
}

SC_TARGET_AVX2 static void softmax_row__avx2(const float *in, float *out, int64_t cols) {
  __m256 vm = _mm256_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + 8 <= cols; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(in + j));
  float mx;
  {
    __m128 q = _mm_max_ps(_mm256_castps256_ps128(vm), _mm256_extractf128_ps(vm, 1));
    q = _mm_max_ps(q, _mm_movehl_ps(q, q));
    q = _mm_max_ss(q, _mm_movehdup_ps(q));
    mx = _mm_cvtss_f32(q);
  }
  for (; j < cols; j++) mx = in[j] > mx ? in[j] : mx;
  const __m256 m = _mm256_set1_ps(mx);
  __m256 s0 = _mm256_setzero_ps();
  j = 0;
  for (; j + 8 <= cols; j += 8) {
    __m256 e = sc_exp_neg_avx2(_mm256_sub_ps(_mm256_loadu_ps(in + j), m));
    _mm256_storeu_ps(out + j, e);
    s0 = _mm256_add_ps(s0, e);
  }
  float s;
  {
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    s = _mm_cvtss_f32(q);
  }
  if (j < cols) {
    __m256i k = sc_lay_mask8(cols - j);
    __m256 e = sc_exp_neg_avx2(_mm256_sub_ps(_mm256_maskload_ps(in + j, k), m));
    _mm256_maskstore_ps(out + j, k, e);
    for (int64_t t = j; t < cols; t++) s += out[t];
  }
  const float inv = 1.0f / s;
  for (j = 0; j < cols; j++) out[j] *= inv;
}
#endif

typedef struct softmax_ctx {
  const float *in;
  float *out;
  int64_t cols;
  softmax_row_fn row;
} softmax_ctx;

static void softmax_range(const void *vctx, int64_t b, int64_t e) {
  const softmax_ctx *c = (const softmax_ctx *)vctx;
  for (int64_t r = b; r < e; r++) c->row(c->in + r * c->cols, c->out + r * c->cols, c->cols);
}

sc_status sc_softmax(int64_t rows, int64_t cols, const float *in, float *out, int32_t threads) {
  if (rows <= 0 || cols <= 0 || !in || !out || threads < 0) return SC_INVALID_ARGUMENT;
  int64_t total;
  if (!sc_layers_elems(&total, rows, cols, 1, 1)) return SC_SIZE_OVERFLOW;
  softmax_ctx ctx = {in, out, cols, softmax_row__scalar};
#if SC_X86
  sc_isa isa = sc_cpu_isa();
  if (isa == SC_ISA_AVX512) ctx.row = softmax_row__avx512;
  else if (isa == SC_ISA_AVX2) ctx.row = softmax_row__avx2;
#endif
  sc_lay_parallel(sc_layers_threads(threads, total > INT64_MAX / 4 ? INT64_MAX : total * 4, rows), rows, softmax_range, &ctx);
  return SC_OK;
}
