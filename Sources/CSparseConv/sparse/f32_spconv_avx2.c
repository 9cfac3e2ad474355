/*
 * AVX2+FMA microkernels of the direct sparse convolution (see spconv.c and
 * f32_spconv_avx512.c). 8 lanes per vector; the pair kernel stops at 6 vectors
 * (12 accumulators + 2 weights + 1 input of the 16 ymm registers).
 */
#include "spconv.h"

#if SC_X86
#include <immintrin.h>

#define SC_AI __attribute__((always_inline)) inline
/* Loops over a tile's vectors are unrolled so the accumulators stay in
   registers: rolled, clang kept them on the stack around the inner loop. */
#define SC_UNROLL _Pragma("clang loop unroll(full)")

/* Positions ahead whose input lines a->prefetch asks for: 4 and 8 measured
   alike (Zen 1, 1x1 1024->256@14: 1x2 blocks 0.498 / 0.507 ms). */
#define SC_PREFETCH_AHEAD 4

/* Asks for the lines of the tile's window at position p (T vectors, plus
   one line for a window that starts mid-line). */
static SC_AI SC_TARGET_AVX2 void prefetch_tile_avx2(const float *p, const int T) {
  SC_UNROLL for (int l = 0; l < (T * 32 + 63) / 64 + 1; l++)
    _mm_prefetch((const char *)p + 64 * l, _MM_HINT_T0);
}

/* No compress store in AVX2: a partial vector (padded-width columns) is
   squeezed by a lane permute and stored whole; its extra lanes land on
   outputs that later stores of this band overwrite. Masked stores are slow on
   Zen 3. Near the band's end the lanes go one by one. */
static SC_AI SC_TARGET_AVX2 void store_avx2(__m256 x, unsigned m, float *o, uint32_t pk) {
  if (m == 0xFFu) {
    _mm256_storeu_ps(o, x);
  } else if (!(pk >> 31)) {
    const __m256i sel =
        _mm256_srlv_epi32(_mm256_set1_epi32((int)pk), _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21));
    _mm256_storeu_ps(o, _mm256_permutevar8x32_ps(x, sel));
  } else {
    float tmp[8];
    _mm256_storeu_ps(tmp, x);
    for (int i = 0, j = 0; i < 8; i++)
      if (m & (1u << i)) o[j++] = tmp[i];
  }
}

/* Clamps and stores the T vectors of one channel. A tile whose vectors are
   whole, consecutive runs of outputs (a->contig) needs one pointer and no
   per-vector lookups: on 1x1 layers at 56x56, 90 %, those lookups took a
   third of the run. The table pointers are read once into locals: through
   `a`, clang reloaded them after every store. */
static SC_AI SC_TARGET_AVX2 void store_tile_avx2(__m256 *acc, const int T, const sc_spconv_args *a,
                                                 float *out) {
  const int32_t *voff = a->voff;
  const __m256 lo = _mm256_set1_ps(a->lo), hi = _mm256_set1_ps(a->hi);
  if (a->contig) {
    float *o = out + voff[0];
    if (a->clamp)
      SC_UNROLL for (int v = 0; v < T; v++) _mm256_storeu_ps(o + 8 * v, _mm256_min_ps(_mm256_max_ps(acc[v], lo), hi));
    else
      SC_UNROLL for (int v = 0; v < T; v++) _mm256_storeu_ps(o + 8 * v, acc[v]);
    return;
  }
  if (a->clamp) SC_UNROLL for (int v = 0; v < T; v++) acc[v] = _mm256_min_ps(_mm256_max_ps(acc[v], lo), hi);
  const uint16_t *vmask = a->vmask;
  const uint32_t *vperm = a->vperm;
  SC_UNROLL for (int v = 0; v < T; v++) store_avx2(acc[v], vmask[v], out + voff[v], vperm[v]);
}

static SC_AI SC_TARGET_AVX2 __m256i lastmask_avx2(int32_t lastn) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(lastn), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The tile's last vector: masked (ML) only where the plane ends inside it;
   every other tile loads it whole. On Zen 1 (128-bit FP units) a masked load
   in the inner loop stalled the FMAs that used it (half of a profile's
   samples): probe, 2 threads, 90 %, 1x2 blocks 3x3 64@56 0.593 -> 0.441 ms,
   channel-level 512@7 0.809 -> 0.424. */
static SC_AI SC_TARGET_AVX2 __m256 last_load_avx2(const float *p, __m256i lm, const int ML) {
  return ML ? _mm256_maskload_ps(p, lm) : _mm256_loadu_ps(p);
}

/* One weight of a single row over the tile. */
static SC_AI SC_TARGET_AVX2 void single_weight_avx2(const float *ip, const float *wk, __m256i lm,
                                                    const int T, const int ML, __m256 *acc) {
  const __m256 wv = _mm256_broadcast_ss(wk);
  SC_UNROLL for (int v = 0; v < T - 1; v++) acc[v] = _mm256_fmadd_ps(_mm256_loadu_ps(ip + 8 * v), wv, acc[v]);
  acc[T - 1] = _mm256_fmadd_ps(last_load_avx2(ip + 8 * (T - 1), lm, ML), wv, acc[T - 1]);
}

static SC_AI SC_TARGET_AVX2 void single_body_avx2(const sc_spconv_args *a, const int T, const int ML) {
  __m256 acc[SC_SPCONV_TMAX];
  if (a->pin) {
    SC_UNROLL for (int v = 0; v < T; v++) acc[v] = _mm256_load_ps(a->pin + 8 * v);
  } else {
    const __m256 b = _mm256_set1_ps(a->b0);
    SC_UNROLL for (int v = 0; v < T; v++) acc[v] = b;
  }
  const __m256i lm = lastmask_avx2(a->lastn);
  const int32_t *idx = a->idx;
  const float *w = a->w;
  const float *in = a->in;
  const int64_t n = a->nnz;
  int64_t k = 0;
  if (T <= 4) {
    /* two sets of accumulators, as in pair_avx2 */
    __m256 odd[4];
    SC_UNROLL for (int v = 0; v < T; v++) odd[v] = _mm256_setzero_ps();
    for (; k + 1 < n; k += 2) {
      single_weight_avx2(in + idx[k], w + k, lm, T, ML, acc);
      single_weight_avx2(in + idx[k + 1], w + k + 1, lm, T, ML, odd);
    }
    SC_UNROLL for (int v = 0; v < T; v++) acc[v] = _mm256_add_ps(acc[v], odd[v]);
  }
  if (T >= 4 && a->prefetch)
    for (; k + SC_PREFETCH_AHEAD < n; k++) {
      prefetch_tile_avx2(in + idx[k + SC_PREFETCH_AHEAD], T);
      single_weight_avx2(in + idx[k], w + k, lm, T, ML, acc);
    }
  for (; k < n; k++) single_weight_avx2(in + idx[k], w + k, lm, T, ML, acc);
  if (a->pout) {
    SC_UNROLL for (int v = 0; v < T; v++) _mm256_store_ps(a->pout + 8 * v, acc[v]);
    return;
  }
  store_tile_avx2(acc, T, a, a->out0);
}

static SC_AI SC_TARGET_AVX2 void single_avx2(const sc_spconv_args *a, const int T) {
  if (a->lastn == 8) single_body_avx2(a, T, 0);
  else single_body_avx2(a, T, 1);
}

/* One block of a pair row: both channels' accumulators over the tile. */
static SC_AI SC_TARGET_AVX2 void pair_block_avx2(const float *ip, const float *wk, __m256i lm,
                                                 const int T, const int ML, __m256 *acc0, __m256 *acc1) {
  const __m256 w0 = _mm256_broadcast_ss(wk);
  const __m256 w1 = _mm256_broadcast_ss(wk + 1);
  SC_UNROLL for (int v = 0; v < T - 1; v++) {
    const __m256 x = _mm256_loadu_ps(ip + 8 * v);
    acc0[v] = _mm256_fmadd_ps(x, w0, acc0[v]);
    acc1[v] = _mm256_fmadd_ps(x, w1, acc1[v]);
  }
  const __m256 x = last_load_avx2(ip + 8 * (T - 1), lm, ML);
  acc0[T - 1] = _mm256_fmadd_ps(x, w0, acc0[T - 1]);
  acc1[T - 1] = _mm256_fmadd_ps(x, w1, acc1[T - 1]);
}

static SC_AI SC_TARGET_AVX2 void pair_body_avx2(const sc_spconv_args *a, const int T, const int ML) {
  __m256 acc0[SC_SPCONV_TMAX], acc1[SC_SPCONV_TMAX];
  if (a->pin) {
    SC_UNROLL for (int v = 0; v < T; v++) {
      acc0[v] = _mm256_load_ps(a->pin + 8 * v);
      acc1[v] = _mm256_load_ps(a->pin + 8 * (T + v));
    }
  } else {
    const __m256 b0 = _mm256_set1_ps(a->b0), b1 = _mm256_set1_ps(a->b1);
    SC_UNROLL for (int v = 0; v < T; v++) {
      acc0[v] = b0;
      acc1[v] = b1;
    }
  }
  const __m256i lm = lastmask_avx2(a->lastn);
  const int32_t *idx = a->idx;
  const float *w = a->w;
  const float *in = a->in;
  const int64_t n = a->nnz;
  int64_t k = 0;
  if (T <= 3) {
    /* Up to 6 accumulators are too few FMA chains to cover the latency on
       both pipes (7x7 layers run tiles of 4 and 3 vectors, and the 3-vector
       tile took half the time): even and odd blocks go to two sets, summed
       at the end. Probe, 3x3 512@7, 2 threads: channel-level 90 % (4608
       blocks a row) 0.168 -> 0.157 ms, 1x2 blocks 75 % 0.483 -> 0.479. */
    __m256 odd0[3], odd1[3];
    SC_UNROLL for (int v = 0; v < T; v++) odd0[v] = odd1[v] = _mm256_setzero_ps();
    for (; k + 1 < n; k += 2) {
      pair_block_avx2(in + idx[k], w + 2 * k, lm, T, ML, acc0, acc1);
      pair_block_avx2(in + idx[k + 1], w + 2 * k + 2, lm, T, ML, odd0, odd1);
    }
    SC_UNROLL for (int v = 0; v < T; v++) {
      acc0[v] = _mm256_add_ps(acc0[v], odd0[v]);
      acc1[v] = _mm256_add_ps(acc1[v], odd1[v]);
    }
  }
  if (T >= 4 && a->prefetch)
    for (; k + SC_PREFETCH_AHEAD < n; k++) {
      prefetch_tile_avx2(in + idx[k + SC_PREFETCH_AHEAD], T);
      pair_block_avx2(in + idx[k], w + 2 * k, lm, T, ML, acc0, acc1);
    }
  for (; k < n; k++) pair_block_avx2(in + idx[k], w + 2 * k, lm, T, ML, acc0, acc1);
  if (a->pout) {
    SC_UNROLL for (int v = 0; v < T; v++) {
      _mm256_store_ps(a->pout + 8 * v, acc0[v]);
      _mm256_store_ps(a->pout + 8 * (T + v), acc1[v]);
    }
    return;
  }
  store_tile_avx2(acc0, T, a, a->out0);
  store_tile_avx2(acc1, T, a, a->out1);
}

static SC_AI SC_TARGET_AVX2 void pair_avx2(const sc_spconv_args *a, const int T) {
  if (a->lastn == 8) pair_body_avx2(a, T, 0);
  else pair_body_avx2(a, T, 1);
}

/* Channels [r0, r0 + R) of a dense row of RS channels (w: [nnz][RS]) over T
   vectors. */
static SC_AI SC_TARGET_AVX2 void dense_part_avx2(const sc_spconv_args *a, const int RS, const int r0,
                                                 const int R, const int T, const int ML) {
  __m256 acc[SC_SPCONV_RMAX][3];
  SC_UNROLL for (int r = 0; r < R; r++) {
    const __m256 b = _mm256_set1_ps(a->bias[r0 + r]);
    SC_UNROLL for (int v = 0; v < T; v++) acc[r][v] = b;
  }
  const __m256i lm = lastmask_avx2(a->lastn);
  const int32_t *idx = a->idx;
  const float *w = a->w + r0;
  const float *in = a->in;
  for (int64_t k = 0, n = a->nnz; k < n; k++, w += RS) {
    const float *ip = in + idx[k];
    __m256 x[3];
    SC_UNROLL for (int v = 0; v < T - 1; v++) x[v] = _mm256_loadu_ps(ip + 8 * v);
    x[T - 1] = last_load_avx2(ip + 8 * (T - 1), lm, ML);
    SC_UNROLL for (int r = 0; r < R; r++) {
      const __m256 wv = _mm256_broadcast_ss(w + r);
      SC_UNROLL for (int v = 0; v < T; v++) acc[r][v] = _mm256_fmadd_ps(x[v], wv, acc[r][v]);
    }
  }
  SC_UNROLL for (int r = 0; r < R; r++) store_tile_avx2(acc[r], T, a, a->out0 + a->ooff[r0 + r]);
}

/* R dense channels over T vectors. Every channel of a dense row uses every
   position, so the row's channels share each input load: 2 loads feed 2R
   FMAs, against the pair kernel's 6 loads per 12. A standalone loop probe
   (3x3, 64 channels at 56x56, 6 filters, 2 threads) ran 6 channels x 2
   vectors at 152-166 GFLOP/s against 79 for 2 x 6 and 82 for 3 x 4. (A pair
   loop probe with every load line-aligned, each tap reading its own shifted
   copy of the plane, ran no faster: the count of loads matters, not their
   alignment.) A band with an odd number of vectors ends in one tile of 3
   (not 1: a lone vector takes R broadcasts per R FMAs, which the loads
   cannot feed), run as two halves of the channels. */
static SC_AI SC_TARGET_AVX2 void dense_body_avx2(const sc_spconv_args *a, const int R, const int T,
                                                 const int ML) {
  if (T <= 2) {
    dense_part_avx2(a, R, 0, R, T, ML);
  } else {
    dense_part_avx2(a, R, 0, (R + 1) / 2, T, ML);
    if (R > 1) dense_part_avx2(a, R, (R + 1) / 2, R / 2, T, ML);
  }
}

static SC_AI SC_TARGET_AVX2 void dense_avx2(const sc_spconv_args *a, const int R, const int T) {
  if (a->lastn == 8) dense_body_avx2(a, R, T, 0);
  else dense_body_avx2(a, R, T, 1);
}

#define SC_DENSE_DEF(R)                                                                      \
  static SC_TARGET_AVX2 void f32_spconv_8x##R##_dense__avx2(const sc_spconv_args *a) {      \
    dense_avx2(a, R, 1);                                                                     \
  }                                                                                          \
  static SC_TARGET_AVX2 void f32_spconv_16x##R##_dense__avx2(const sc_spconv_args *a) {     \
    dense_avx2(a, R, 2);                                                                     \
  }                                                                                          \
  static SC_TARGET_AVX2 void f32_spconv_24x##R##_dense__avx2(const sc_spconv_args *a) {     \
    dense_avx2(a, R, 3);                                                                     \
  }
SC_DENSE_DEF(1)
SC_DENSE_DEF(2)
SC_DENSE_DEF(3)
SC_DENSE_DEF(4)
SC_DENSE_DEF(5)
SC_DENSE_DEF(6)
#undef SC_DENSE_DEF

#define SC_DEF(P, T)                                                                         \
  static SC_TARGET_AVX2 void f32_spconv_##P##x1__avx2(const sc_spconv_args *a) {            \
    single_avx2(a, T);                                                                       \
  }                                                                                          \
  static SC_TARGET_AVX2 void f32_spconv_##P##x2__avx2(const sc_spconv_args *a) {            \
    pair_avx2(a, T);                                                                         \
  }
SC_DEF(8, 1)
SC_DEF(16, 2)
SC_DEF(24, 3)
SC_DEF(32, 4)
SC_DEF(40, 5)
SC_DEF(48, 6)
SC_DEF(56, 7)
SC_DEF(64, 8)
#undef SC_DEF

/* Stride 1 through masked loads (which never fault on masked-off lanes);
   other strides in plain C. */
static SC_TARGET_AVX2 SC_NO_LIBC_FILL void f32_spconv_fill_row__avx2(float *row, int32_t wq,
                                                                     const float *src, int64_t xs,
                                                                     int32_t sw, int32_t in_w) {
  if (sw == 2) {
    /* Even source columns of two loaded vectors, in order: the in-lane
       shuffle takes lanes 0,2 of each half of both vectors, the cross-lane
       permute restores the order. */
    int32_t lo, hi;
    sc_spconv_fill_range(wq, xs, sw, in_w, &lo, &hi);
    for (int32_t rx = 0; rx < lo; rx++) row[rx] = 0.0f;
    const float *p = src + xs;
    int32_t rx = lo;
    /* a vector of 8 outputs reads source columns [2rx, 2rx + 16) */
    for (; rx + 8 <= hi && xs + 2 * (int64_t)rx + 16 <= in_w; rx += 8) {
      const __m256 a = _mm256_loadu_ps(p + 2 * (int64_t)rx), b = _mm256_loadu_ps(p + 2 * (int64_t)rx + 8);
      const __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
      _mm256_storeu_ps(row + rx, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0))));
    }
    for (; rx < hi; rx++) row[rx] = p[2 * (int64_t)rx];
    for (rx = hi; rx < wq; rx++) row[rx] = 0.0f;
    return;
  }
  if (sw != 1) {
    sc_spconv_fill_row_scalar(row, wq, src, xs, sw, in_w);
    return;
  }
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  int32_t j = 0;
  for (; j + 8 <= wq; j += 8) {
    const int64_t x = xs + j;
    const int64_t lo = x < 0 ? (-x < 8 ? -x : 8) : 0;
    const int64_t hi = in_w - x < 0 ? 0 : (in_w - x > 8 ? 8 : in_w - x);
    const __m256i m = _mm256_and_si256(_mm256_cmpgt_epi32(iota, _mm256_set1_epi32((int)lo - 1)),
                                       _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), iota));
    _mm256_storeu_ps(row + j, _mm256_maskload_ps((const float *)((uintptr_t)src + (uintptr_t)(x * 4)), m));
  }
  if (j < wq) sc_spconv_fill_row_scalar(row + j, wq - j, src, xs + j, 1, in_w);
}

static SC_TARGET_AVX2 SC_NO_LIBC_FILL void f32_spconv_fill_rows1__avx2(float *dst, int32_t wq,
                                                                       int32_t rows, const float *src,
                                                                       int32_t in_w, int32_t pad_left) {
  if (pad_left == 0 && wq == in_w) {
    in_w *= rows;
    wq = in_w;
    rows = 1;
  }
  if (wq == 8) {
    /* Rows of one vector (7x7 images and their padding): one masked load
       per row zeroes the padding lanes and reads nothing outside the row.
       Float by float, the plane build took 9 % of a 512@7 layer in 1x2
       blocks at 90 % (probe profile); now 3 %, and the layer 0.227 ->
       0.222 ms. Wider rows keep plain loads (64@56: masked first vectors
       were 2-4 % slower). */
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m = _mm256_and_si256(_mm256_cmpgt_epi32(iota, _mm256_set1_epi32(pad_left - 1)),
                                       _mm256_cmpgt_epi32(_mm256_set1_epi32(pad_left + in_w), iota));
    const uintptr_t back = (uintptr_t)pad_left * sizeof(float);
    for (int32_t r = 0; r < rows; r++, dst += 8, src += in_w)
      _mm256_storeu_ps(dst, _mm256_maskload_ps((const float *)((uintptr_t)src - back), m));
    return;
  }
  const int32_t tail = in_w & 7, body = in_w - tail;
  const int32_t right = wq - pad_left - in_w;
  for (int32_t r = 0; r < rows; r++, dst += wq, src += in_w) {
    for (int32_t i = 0; i < pad_left; i++) dst[i] = 0.0f;
    float *d = dst + pad_left;
    int32_t x = 0;
    for (; x < body; x += 8) _mm256_storeu_ps(d + x, _mm256_loadu_ps(src + x));
    /* The tail of a row whose next row holds the 8 - tail floats past it is
       a whole vector: its extra lanes come from that next source row and
       land on this row's right padding and the next destination row, both
       written after it. The last row's tail goes float by float. */
    if (tail && r + 1 < rows && 8 - tail <= in_w) _mm256_storeu_ps(d + x, _mm256_loadu_ps(src + x));
    else
      for (; x < in_w; x++) d[x] = src[x];
    for (int32_t i = 0; i < right; i++) d[in_w + i] = 0.0f;
  }
}

void sc_spconv_kernels_avx2(sc_spconv_kernels *k) {
  k->fill_row = f32_spconv_fill_row__avx2;
  k->fill_rows1 = f32_spconv_fill_rows1__avx2;
  k->lanes = 8;
  k->tmax_single = 8;
  k->tmax_pair = 6;
#define SC_SET(P, T)                                                                         \
  k->single[T] = f32_spconv_##P##x1__avx2;                                                   \
  k->pair[T] = f32_spconv_##P##x2__avx2;
  SC_SET(8, 1) SC_SET(16, 2) SC_SET(24, 3) SC_SET(32, 4)
  SC_SET(40, 5) SC_SET(48, 6) SC_SET(56, 7) SC_SET(64, 8)
#undef SC_SET
  k->tmax_dense = 2;
#define SC_SET(R)                                                                            \
  k->dense[R][1] = f32_spconv_8x##R##_dense__avx2;                                           \
  k->dense[R][2] = f32_spconv_16x##R##_dense__avx2;                                          \
  k->dense[R][3] = f32_spconv_24x##R##_dense__avx2;
  SC_SET(1) SC_SET(2) SC_SET(3) SC_SET(4) SC_SET(5) SC_SET(6)
#undef SC_SET
}
#endif
