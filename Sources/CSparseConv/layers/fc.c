/*
 * Fully connected layer: out[b, o] = act(bias[o] + dot(weight[o, :], in[b, :])).
 *
 * The weight is [out_features][in_features] row-major, so every output is a dot
 * product of two contiguous rows. Register tiles:
 *   - batch 1 (matrix-vector, memory bound): 8 weight rows against the input
 *     vector, 8 independent accumulators; the weight is streamed exactly once.
 *   - batch > 1: 4 weight rows × 4 input rows = 16 accumulators, 8 loads per 16
 *     FMAs. For each block of 4 weight rows, in_features is walked in tiles of
 *     FC_KTILE: the 4-row weight tile stays in L1 while every batch block uses
 *     it, the batch's input tile stays in L2, and each weight row is read
 *     sequentially (prefetcher-friendly): the weight is read from memory once.
 *   - leftovers (rows % 4, batch % 4) use 4×1, 1×4 and 1×1 tiles; the
 *     in_features tail uses masked loads.
 * Dot products are reduced horizontally at the end of each tile. Threads split
 * the output features (in blocks of 8 rows), so each reads a disjoint part of
 * the weight.
 */
#include "layers_internal.h"

#define FC_KTILE 1024  /* floats of in_features per tile when batch > 1 */
#define FC_SPLIT 8     /* rows per unit of work split among threads */

#define FC_INLINE static inline __attribute__((always_inline))

/* res[r*nb + b] = dot(W[r], X[b]) over len elements, r < MR, b < NB. */
typedef void (*fc_tile_fn)(const float *W, int64_t ldw, const float *X, int64_t ldx,
                           int64_t len, int mr, int nb, float *res);

static void fc_tile__scalar(const float *W, int64_t ldw, const float *X, int64_t ldx,
                            int64_t len, int mr, int nb, float *res) {
  for (int r = 0; r < mr; r++)
    for (int b = 0; b < nb; b++) {
      const float *w = W + r * ldw, *x = X + b * ldx;
      float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
      int64_t k = 0;
      for (; k + 4 <= len; k += 4) {
        s0 += w[k] * x[k];
        s1 += w[k + 1] * x[k + 1];
        s2 += w[k + 2] * x[k + 2];
        s3 += w[k + 3] * x[k + 3];
      }
      for (; k < len; k++) s0 += w[k] * x[k];
      res[r * nb + b] = (s0 + s1) + (s2 + s3);
    }
}

#if SC_X86
FC_INLINE SC_TARGET_AVX512 void tile512(const float *W, int64_t ldw, const float *X, int64_t ldx,
                                        int64_t len, const int MR, const int NB, float *res) {
  __m512 acc[8][4];
  for (int r = 0; r < MR; r++)
    for (int b = 0; b < NB; b++) acc[r][b] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= len; k += 16) {
    __m512 xv[4];
    for (int b = 0; b < NB; b++) xv[b] = _mm512_loadu_ps(X + b * ldx + k);
    for (int r = 0; r < MR; r++) {
      __m512 wv = _mm512_loadu_ps(W + r * ldw + k);
      for (int b = 0; b < NB; b++) acc[r][b] = _mm512_fmadd_ps(wv, xv[b], acc[r][b]);
    }
  }
  if (k < len) {
    __mmask16 m = sc_lay_mask16(len - k);
    __m512 xv[4];
    for (int b = 0; b < NB; b++) xv[b] = _mm512_maskz_loadu_ps(m, X + b * ldx + k);
    for (int r = 0; r < MR; r++) {
      __m512 wv = _mm512_maskz_loadu_ps(m, W + r * ldw + k);
      for (int b = 0; b < NB; b++) acc[r][b] = _mm512_fmadd_ps(wv, xv[b], acc[r][b]);
    }
  }
  for (int r = 0; r < MR; r++)
    for (int b = 0; b < NB; b++) res[r * NB + b] = _mm512_reduce_add_ps(acc[r][b]);
}

SC_TARGET_AVX512 static void fc_tile__avx512(const float *W, int64_t ldw, const float *X,
                                             int64_t ldx, int64_t len, int mr, int nb,
                                             float *res) {
  if (mr == 8 && nb == 1) tile512(W, ldw, X, ldx, len, 8, 1, res);
  else if (mr == 4 && nb == 4) tile512(W, ldw, X, ldx, len, 4, 4, res);
  else if (mr == 4 && nb == 1) tile512(W, ldw, X, ldx, len, 4, 1, res);
  else if (mr == 1 && nb == 4) tile512(W, ldw, X, ldx, len, 1, 4, res);
  else tile512(W, ldw, X, ldx, len, 1, 1, res);
}

SC_TARGET_AVX2 static inline float hsum256(__m256 s) {
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}

FC_INLINE SC_TARGET_AVX2 void tile256(const float *W, int64_t ldw, const float *X, int64_t ldx,
                                      int64_t len, const int MR, const int NB, float *res) {
  __m256 acc[8][4];
  for (int r = 0; r < MR; r++)
    for (int b = 0; b < NB; b++) acc[r][b] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= len; k += 8) {
    __m256 xv[4];
    for (int b = 0; b < NB; b++) xv[b] = _mm256_loadu_ps(X + b * ldx + k);
    for (int r = 0; r < MR; r++) {
      __m256 wv = _mm256_loadu_ps(W + r * ldw + k);
      for (int b = 0; b < NB; b++) acc[r][b] = _mm256_fmadd_ps(wv, xv[b], acc[r][b]);
    }
  }
  if (k < len) {
    __m256i m = sc_lay_mask8(len - k);
    __m256 xv[4];
    for (int b = 0; b < NB; b++) xv[b] = _mm256_maskload_ps(X + b * ldx + k, m);
    for (int r = 0; r < MR; r++) {
      __m256 wv = _mm256_maskload_ps(W + r * ldw + k, m);
      for (int b = 0; b < NB; b++) acc[r][b] = _mm256_fmadd_ps(wv, xv[b], acc[r][b]);
    }
  }
  for (int r = 0; r < MR; r++)
    for (int b = 0; b < NB; b++) res[r * NB + b] = hsum256(acc[r][b]);
}

SC_TARGET_AVX2 static void fc_tile__avx2(const float *W, int64_t ldw, const float *X, int64_t ldx,
                                         int64_t len, int mr, int nb, float *res) {
  if (mr == 8 && nb == 1) tile256(W, ldw, X, ldx, len, 8, 1, res);
  else if (mr == 4 && nb == 4) tile256(W, ldw, X, ldx, len, 4, 4, res);
  else if (mr == 4 && nb == 1) tile256(W, ldw, X, ldx, len, 4, 1, res);
  else if (mr == 1 && nb == 4) tile256(W, ldw, X, ldx, len, 1, 4, res);
  else tile256(W, ldw, X, ldx, len, 1, 1, res);
}
#endif

typedef struct fc_ctx {
  int32_t n, K, O;
  const float *in, *weight, *bias;
  sc_activation act;
  float *out;
  fc_tile_fn tile;
} fc_ctx;

/* Output features [o_begin, o_end) for the whole batch. */
static void fc_rows(const fc_ctx *c, int64_t o_begin, int64_t o_end) {
  const int64_t K = c->K, O = c->O;
  float res[32];
  if (c->n == 1) {
    int64_t o = o_begin;
    for (; o + 8 <= o_end; o += 8) {
      c->tile(c->weight + o * K, K, c->in, K, K, 8, 1, res);
      for (int r = 0; r < 8; r++)
        c->out[o + r] = sc_lay_act((c->bias ? c->bias[o + r] : 0.0f) + res[r], c->act);
    }
    for (; o + 4 <= o_end; o += 4) {
      c->tile(c->weight + o * K, K, c->in, K, K, 4, 1, res);
      for (int r = 0; r < 4; r++)
        c->out[o + r] = sc_lay_act((c->bias ? c->bias[o + r] : 0.0f) + res[r], c->act);
    }
    for (; o < o_end; o++) {
      c->tile(c->weight + o * K, K, c->in, K, K, 1, 1, res);
      c->out[o] = sc_lay_act((c->bias ? c->bias[o] : 0.0f) + res[0], c->act);
    }
    return;
  }
  /* batch > 1: for each block of (up to) 4 rows, walk in_features in tiles (each
     weight row read sequentially, prefetcher-friendly, the 4-row tile kept in L1)
     and apply the tile to every block of 4 batch rows (their tile in L2). */
  const int64_t n = c->n;
  for (int64_t o = o_begin; o < o_end;) {
    const int mr = o + 4 <= o_end ? 4 : 1;
    for (int64_t k0 = 0; k0 < K; k0 += FC_KTILE) {
      const int64_t len = SC_MIN((int64_t)FC_KTILE, K - k0);
      for (int64_t b = 0; b < n;) {
        const int nb = b + 4 <= n ? 4 : 1;
        c->tile(c->weight + o * K + k0, K, c->in + b * K + k0, K, len, mr, nb, res);
        for (int r = 0; r < mr; r++)
          for (int j = 0; j < nb; j++) {
            float *dst = c->out + (b + j) * O + o + r;
            *dst = (k0 == 0 ? (c->bias ? c->bias[o + r] : 0.0f) : *dst) + res[r * nb + j];
          }
        b += nb;
      }
    }
    o += mr;
  }
  if (c->act != SC_ACTIVATION_NONE)
    for (int64_t b = 0; b < n; b++)
      for (int64_t o = o_begin; o < o_end; o++) c->out[b * O + o] = sc_lay_act(c->out[b * O + o], c->act);
}

static void fc_range(const void *vctx, int64_t b, int64_t e) {
  const fc_ctx *c = (const fc_ctx *)vctx;
  fc_rows(c, b * FC_SPLIT, SC_MIN(e * FC_SPLIT, (int64_t)c->O));
}

sc_status sc_fully_connected(int32_t n, int32_t in_features, int32_t out_features,
                             const float *in, const float *weight, const float *bias,
                             sc_activation activation, float *out, int32_t threads) {
  if (n <= 0 || in_features <= 0 || out_features <= 0 || !in || !weight || !out ||
      threads < 0 || !sc_lay_valid_activation(activation))
    return SC_INVALID_ARGUMENT;
  int64_t e;
  if (!sc_layers_elems(&e, n, in_features, 1, 1) || !sc_layers_elems(&e, out_features, in_features, 1, 1) ||
      !sc_layers_elems(&e, n, out_features, 1, 1))
    return SC_SIZE_OVERFLOW;
  fc_ctx ctx = {n, in_features, out_features, in, weight, bias, activation, out, fc_tile__scalar};
#if SC_X86
  sc_isa isa = sc_cpu_isa();
  if (isa == SC_ISA_AVX512) ctx.tile = fc_tile__avx512;
  else if (isa == SC_ISA_AVX2) ctx.tile = fc_tile__avx2;
#endif
  const int64_t blocks = ((int64_t)out_features + FC_SPLIT - 1) / FC_SPLIT;
  int64_t macs;
  if (__builtin_mul_overflow((int64_t)n * out_features, (int64_t)in_features, &macs)) macs = INT64_MAX;
  sc_lay_parallel(sc_layers_threads(threads, macs, blocks), blocks, fc_range, &ctx);
  return SC_OK;
}
