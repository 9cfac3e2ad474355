/*
 * Plain C microkernels of the direct sparse convolution (see spconv.c): the
 * same tiles as the vector kernels with 8-lane arrays, for any CPU.
 */
#include "spconv.h"

#define SC_LANES 8

static inline void store_scalar(const float *x, const sc_spconv_args *a, int v, float *out) {
  const unsigned m = a->vmask[v];
  float *o = out + a->voff[v];
  for (int i = 0, j = 0; i < SC_LANES; i++) {
    if (!(m & (1u << i))) continue;
    float y = x[i];
    if (a->clamp) y = y < a->lo ? a->lo : (y > a->hi ? a->hi : y);
    o[j++] = y;
  }
}

static inline void single_scalar(const sc_spconv_args *a, const int T) {
  float acc[SC_SPCONV_TMAX][SC_LANES];
  for (int v = 0; v < T; v++)
    for (int i = 0; i < SC_LANES; i++) acc[v][i] = a->pin ? a->pin[SC_LANES * v + i] : a->b0;
  for (int64_t k = 0; k < a->nnz; k++) {
    const float *ip = a->in + a->idx[k];
    const float wv = a->w[k];
    for (int v = 0; v < T; v++) {
      const int n = v == T - 1 ? a->lastn : SC_LANES;
      for (int i = 0; i < n; i++) acc[v][i] += ip[SC_LANES * v + i] * wv;
    }
  }
  if (a->pout) {
    for (int v = 0; v < T; v++)
      for (int i = 0; i < SC_LANES; i++) a->pout[SC_LANES * v + i] = acc[v][i];
    return;
  }
  for (int v = 0; v < T; v++) store_scalar(acc[v], a, v, a->out0);
}

static inline void pair_scalar(const sc_spconv_args *a, const int T) {
  float acc0[SC_SPCONV_TMAX][SC_LANES], acc1[SC_SPCONV_TMAX][SC_LANES];
  for (int v = 0; v < T; v++)
    for (int i = 0; i < SC_LANES; i++) {
      acc0[v][i] = a->pin ? a->pin[SC_LANES * v + i] : a->b0;
      acc1[v][i] = a->pin ? a->pin[SC_LANES * (T + v) + i] : a->b1;
    }
  for (int64_t k = 0; k < a->nnz; k++) {
    const float *ip = a->in + a->idx[k];
    const float w0 = a->w[2 * k], w1 = a->w[2 * k + 1];
    for (int v = 0; v < T; v++) {
      const int n = v == T - 1 ? a->lastn : SC_LANES;
      for (int i = 0; i < n; i++) {
        const float x = ip[SC_LANES * v + i];
        acc0[v][i] += x * w0;
        acc1[v][i] += x * w1;
      }
    }
  }
  if (a->pout) {
    for (int v = 0; v < T; v++)
      for (int i = 0; i < SC_LANES; i++) {
        a->pout[SC_LANES * v + i] = acc0[v][i];
        a->pout[SC_LANES * (T + v) + i] = acc1[v][i];
      }
    return;
  }
  for (int v = 0; v < T; v++) store_scalar(acc0[v], a, v, a->out0);
  for (int v = 0; v < T; v++) store_scalar(acc1[v], a, v, a->out1);
}

static inline void dense_scalar(const sc_spconv_args *a, const int R, const int T) {
  float acc[SC_SPCONV_RMAX][3][SC_LANES];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < T; v++)
      for (int i = 0; i < SC_LANES; i++) acc[r][v][i] = a->bias[r];
  for (int64_t k = 0; k < a->nnz; k++) {
    const float *ip = a->in + a->idx[k];
    const float *w = a->w + k * R;
    for (int v = 0; v < T; v++) {
      const int n = v == T - 1 ? a->lastn : SC_LANES;
      for (int i = 0; i < n; i++) {
        const float x = ip[SC_LANES * v + i];
        for (int r = 0; r < R; r++) acc[r][v][i] += x * w[r];
      }
    }
  }
  for (int r = 0; r < R; r++)
    for (int v = 0; v < T; v++) store_scalar(acc[r][v], a, v, a->out0 + a->ooff[r]);
}

#define SC_DENSE_DEF(R)                                                                      \
  static void f32_spconv_8x##R##_dense__scalar(const sc_spconv_args *a) { dense_scalar(a, R, 1); } \
  static void f32_spconv_16x##R##_dense__scalar(const sc_spconv_args *a) { dense_scalar(a, R, 2); } \
  static void f32_spconv_24x##R##_dense__scalar(const sc_spconv_args *a) { dense_scalar(a, R, 3); }
SC_DENSE_DEF(1)
SC_DENSE_DEF(2)
SC_DENSE_DEF(3)
SC_DENSE_DEF(4)
SC_DENSE_DEF(5)
SC_DENSE_DEF(6)
#undef SC_DENSE_DEF

#define SC_DEF(P, T)                                                                         \
  static void f32_spconv_##P##x1__scalar(const sc_spconv_args *a) { single_scalar(a, T); }  \
  static void f32_spconv_##P##x2__scalar(const sc_spconv_args *a) { pair_scalar(a, T); }
SC_DEF(8, 1)
SC_DEF(16, 2)
SC_DEF(24, 3)
SC_DEF(32, 4)
#undef SC_DEF

/* [lo, hi): the rx whose source column xs + rx*sw lies inside [0, in_w). */
void sc_spconv_fill_range(int32_t wq, int64_t xs, int32_t sw, int32_t in_w, int32_t *lo, int32_t *hi) {
  int64_t l = xs >= 0 ? 0 : sw == 1 ? -xs : (-xs + sw - 1) / sw;
  int64_t h = in_w - xs <= 0 ? 0 : sw == 1 ? in_w - xs : (in_w - xs + sw - 1) / sw;
  if (l > wq) l = wq;
  if (h > wq) h = wq;
  if (h < l) h = l;
  *lo = (int32_t)l;
  *hi = (int32_t)h;
}

/* One loop with the bounds test inside: the vector fills call this for
   their few tail columns of every row, where splitting into ranges measured
   slower (3x3 at 56x56: 4 % of the whole convolution). */
void sc_spconv_fill_row_scalar(float *row, int32_t wq, const float *src, int64_t xs, int32_t sw,
                               int32_t in_w) {
  for (int32_t rx = 0; rx < wq; rx++) {
    const int64_t x = xs + (int64_t)rx * sw;
    row[rx] = x >= 0 && x < in_w ? src[x] : 0.0f;
  }
}

SC_NO_LIBC_FILL void sc_spconv_fill_rows1_scalar(float *dst, int32_t wq, int32_t rows, const float *src,
                                                 int32_t in_w, int32_t pad_left) {
  if (pad_left == 0 && wq == in_w) {
    in_w *= rows;
    wq = in_w;
    rows = 1;
  }
  for (int32_t r = 0; r < rows; r++, dst += wq, src += in_w) {
    for (int32_t i = 0; i < pad_left; i++) dst[i] = 0.0f;
    for (int32_t x = 0; x < in_w; x++) dst[pad_left + x] = src[x];
    for (int32_t i = pad_left + in_w; i < wq; i++) dst[i] = 0.0f;
  }
}

void sc_spconv_kernels_scalar(sc_spconv_kernels *k) {
  k->fill_row = sc_spconv_fill_row_scalar;
  k->fill_rows1 = sc_spconv_fill_rows1_scalar;
  k->lanes = SC_LANES;
  k->tmax_single = 4;
  k->tmax_pair = 4;
  k->single[1] = f32_spconv_8x1__scalar;
  k->pair[1] = f32_spconv_8x2__scalar;
  k->single[2] = f32_spconv_16x1__scalar;
  k->pair[2] = f32_spconv_16x2__scalar;
  k->single[3] = f32_spconv_24x1__scalar;
  k->pair[3] = f32_spconv_24x2__scalar;
  k->single[4] = f32_spconv_32x1__scalar;
  k->pair[4] = f32_spconv_32x2__scalar;
  k->tmax_dense = 2;
#define SC_SET(R)                                                                            \
  k->dense[R][1] = f32_spconv_8x##R##_dense__scalar;                                         \
  k->dense[R][2] = f32_spconv_16x##R##_dense__scalar;                                        \
  k->dense[R][3] = f32_spconv_24x##R##_dense__scalar;
  SC_SET(1) SC_SET(2) SC_SET(3) SC_SET(4) SC_SET(5) SC_SET(6)
#undef SC_SET
}
