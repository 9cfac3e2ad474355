/*
 * Vector depthwise stencil, instantiated once per ISA by the including file, which
 * defines: DW_SUFFIX (name suffix), DW_TARGET, DW_V (lanes), dw_vec, dw_mask,
 * dw_load(ptr), dw_loadm(ptr, mask), dw_set1(x), dw_fma(a, b, acc), dw_max, dw_min,
 * dw_zero(), dw_store(ptr, v), dw_storem(ptr, v, lanes) (first `lanes` lanes),
 * dw_range(lo, hi) (mask of lanes l with lo <= l < hi, any ints),
 * dw_fill_rows(p, src, rows, dst) (writes `rows` input rows into buffered rows).
 * Everything below is static; the including file exports the selector.
 */
#define DW_CAT2(a, b) a##b
#define DW_CAT(a, b) DW_CAT2(a, b)
#define DW_FN(name) DW_CAT(name, DW_SUFFIX)
#define DW_INLINE static inline __attribute__((always_inline)) DW_TARGET
#define DW_MAX_SRC 48
/* Fixed array bounds (not VLAs) so that the unrolled arrays live in registers. */
#define DW_MAX_R 8
#define DW_MAX_KW 7

DW_INLINE dw_vec DW_FN(dw_act)(dw_vec v, sc_activation act) {
  if (act != SC_ACTIVATION_NONE) v = dw_max(v, dw_zero());
  if (act == SC_ACTIVATION_RELU6) v = dw_min(v, dw_set1(6.0f));
  return v;
}

/*
 * R output rows (starting at out), all chunks of the width. src[j] is the source
 * row of relative input row j = i*SH + ky*DH for output row i and tap row ky.
 * The loop nest is fully unrolled at compile time; a source vector is loaded once
 * per (j, kx) and feeds every (i, ky) pair mapping to j. Tap kx reads at
 * off0 + phase * phase_len + (kx*DW) / SW with phase = (kx*DW) % SW: compile-time
 * displacements from one pointer per source row, which keeps the integer registers
 * free (a table of runtime offsets spilled them).
 */
DW_INLINE void DW_FN(dw_rows)(const sc_dw_params *p, const float *const *src, int32_t off0,
                              bool direct, const dw_vec *wv, dw_vec vb, float *out, const int KH,
                              const int KW, const int SH, const int SW, const int DH, const int DW,
                              const int R) {
  const int32_t ow = p->out_w, in_w = p->in_w;
  const size_t plen = (size_t)p->phase_len;
  const int NSRC = (R - 1) * SH + (KH - 1) * DH + 1;
  /* Direct layout (SW == 1): chunk x0 reads [x0 + off0, x0 + off0 + (KW-1)*DW + V),
     all inside the row when x_lo <= x0 <= x_hi. */
  const int32_t x_lo = -off0;
  const int32_t x_hi = in_w - DW_V - off0 - (KW - 1) * DW;
  const float *s[DW_MAX_SRC];
#pragma clang loop unroll(full)
  for (int j = 0; j < NSRC; j++) s[j] = src[j] + off0;
  for (int32_t x0 = 0; x0 < ow; x0 += DW_V) {
    dw_vec acc[DW_MAX_R];
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++) acc[i] = vb;
    if (!direct || (x0 >= x_lo && x0 <= x_hi)) {
#pragma clang loop unroll(full)
      for (int j = 0; j < NSRC; j++) {
#pragma clang loop unroll(full)
        for (int kx = 0; kx < KW; kx++) {
          const dw_vec v = dw_load(s[j] + x0 + ((kx * DW) % SW) * plen + (kx * DW) / SW);
#pragma clang loop unroll(full)
          for (int i = 0; i < R; i++)
#pragma clang loop unroll(full)
            for (int ky = 0; ky < KH; ky++)
              if (i * SH + ky * DH == j) acc[i] = dw_fma(v, wv[ky * KW + kx], acc[i]);
        }
      }
    } else {
      /* Only direct layouts get here, so SW == 1. */
      dw_mask m[DW_MAX_KW];
#pragma clang loop unroll(full)
      for (int kx = 0; kx < KW; kx++) {
        const int32_t b = x0 + off0 + kx * DW;
        m[kx] = dw_range(-b, in_w - b);
      }
#pragma clang loop unroll(full)
      for (int j = 0; j < NSRC; j++) {
#pragma clang loop unroll(full)
        for (int kx = 0; kx < KW; kx++) {
          const dw_vec v = dw_loadm(s[j] + x0 + kx * DW, m[kx]);
#pragma clang loop unroll(full)
          for (int i = 0; i < R; i++)
#pragma clang loop unroll(full)
            for (int ky = 0; ky < KH; ky++)
              if (i * SH + ky * DH == j) acc[i] = dw_fma(v, wv[ky * KW + kx], acc[i]);
        }
      }
    }
    if (x0 + DW_V <= ow) {
#pragma clang loop unroll(full)
      for (int i = 0; i < R; i++) dw_store(out + (size_t)i * ow + x0, DW_FN(dw_act)(acc[i], p->activation));
    } else {
#pragma clang loop unroll(full)
      for (int i = 0; i < R; i++)
        dw_storem(out + (size_t)i * ow + x0, DW_FN(dw_act)(acc[i], p->activation), ow - x0);
    }
  }
}

/* Source row geometry of one plane call: direct (the input itself) or buffered. */
typedef struct DW_FN(dw_src) {
  const float *base;
  size_t stride;
  int32_t iy_lo, iy_hi;
  const int32_t *off;
  bool direct;
} DW_FN(dw_src);

DW_INLINE DW_FN(dw_src) DW_FN(dw_prepare)(const sc_dw_params *p, const float *in, int32_t y_begin,
                                          int32_t y_end, float *buf, bool direct) {
  DW_FN(dw_src) s;
  s.direct = direct;
  if (direct) {
    s.base = in;
    s.stride = (size_t)p->in_w;
    s.iy_lo = 0;
    s.iy_hi = p->in_h;
    s.off = p->tap_off_direct;
  } else {
    s.iy_lo = SC_MAX(0, y_begin * p->sh - p->pad_top);
    s.iy_hi = SC_MIN(p->in_h, (y_end - 1) * p->sh - p->pad_top + (p->kh - 1) * p->dh + 1);
    s.base = buf;
    s.stride = (size_t)p->buf_row;
    s.off = p->tap_off_buf;
    if (s.iy_hi > s.iy_lo) dw_fill_rows(p, in + (size_t)s.iy_lo * p->in_w, s.iy_hi - s.iy_lo, buf);
  }
  return s;
}

DW_INLINE const float *DW_FN(dw_row)(const sc_dw_params *p, const DW_FN(dw_src) *s, int32_t iy) {
  return (iy >= s->iy_lo && iy < s->iy_hi) ? s->base + (size_t)(iy - s->iy_lo) * s->stride
                                           : p->zero_row;
}

DW_INLINE void DW_FN(dw_block)(const sc_dw_params *p, const DW_FN(dw_src) *s, const dw_vec *wv,
                               dw_vec vb, float *out, int32_t y, const int KH, const int KW,
                               const int SH, const int SW, const int DH, const int DW,
                               const int R) {
  const float *src[DW_MAX_SRC];
  const int NSRC = (R - 1) * SH + (KH - 1) * DH + 1;
  const int32_t iy0 = y * SH - p->pad_top;
#pragma clang loop unroll(full)
  for (int j = 0; j < NSRC; j++) src[j] = DW_FN(dw_row)(p, s, iy0 + j);
  DW_FN(dw_rows)(p, src, s->off[0], s->direct, wv, vb, out + (size_t)y * p->out_w, KH, KW, SH, SW, DH, DW,
                 R);
}

/* One plane for a compile-time kernel shape; R rows at a time, then 2, then 1. */
DW_INLINE void DW_FN(dw_plane)(const sc_dw_params *p, int32_t c, const float *in, float *out,
                               int32_t y_begin, int32_t y_end, float *buf, const int KH,
                               const int KW, const int SH, const int SW, const int DH,
                               const int DW, const int R) {
  const bool direct = SW == 1;
  const DW_FN(dw_src) s = DW_FN(dw_prepare)(p, in, y_begin, y_end, buf, direct);
  const float *w = p->weights + (size_t)c * KH * KW;
  dw_vec wv[DW_MAX_KW * DW_MAX_KW];
#pragma clang loop unroll(full)
  for (int k = 0; k < KH * KW; k++) wv[k] = dw_set1(w[k]);
  const dw_vec vb = dw_set1(p->bias[c]);
  int32_t y = y_begin;
  for (; y + R <= y_end; y += R) DW_FN(dw_block)(p, &s, wv, vb, out, y, KH, KW, SH, SW, DH, DW, R);
  if (R > 2)
    for (; y + 2 <= y_end; y += 2) DW_FN(dw_block)(p, &s, wv, vb, out, y, KH, KW, SH, SW, DH, DW, 2);
  for (; y < y_end; y++) DW_FN(dw_block)(p, &s, wv, vb, out, y, KH, KW, SH, SW, DH, DW, 1);
}

/* Runtime kernel shape: one output row at a time, weights broadcast per tap. */
DW_INLINE void DW_FN(dw_plane_any)(const sc_dw_params *p, int32_t c, const float *in, float *out,
                                   int32_t y_begin, int32_t y_end, float *buf, const bool direct) {
  const DW_FN(dw_src) s = DW_FN(dw_prepare)(p, in, y_begin, y_end, buf, direct);
  const int32_t kh = p->kh, kw = p->kw, ow = p->out_w, in_w = p->in_w;
  const float *w = p->weights + (size_t)c * kh * kw;
  const dw_vec vb = dw_set1(p->bias[c]);
  const int32_t *off = s.off;
  const int32_t x_lo = -off[0], x_hi = in_w - DW_V - off[kw - 1];
  for (int32_t y = y_begin; y < y_end; y++) {
    float *o = out + (size_t)y * ow;
    for (int32_t x0 = 0; x0 < ow; x0 += DW_V) {
      dw_vec acc0 = vb, acc1 = dw_zero();
      const bool interior = !direct || (x0 >= x_lo && x0 <= x_hi);
      for (int32_t ky = 0; ky < kh; ky++) {
        int32_t iy = y * p->sh - p->pad_top + ky * p->dh;
        if (iy < s.iy_lo || iy >= s.iy_hi) continue;
        const float *row = s.base + (size_t)(iy - s.iy_lo) * s.stride + x0;
        const float *wk = w + (size_t)ky * kw;
        int32_t kx = 0;
        if (interior) {
          /* Two accumulators hide the FMA latency of the serial tap chain. */
          for (; kx + 2 <= kw; kx += 2) {
            acc0 = dw_fma(dw_load(row + off[kx]), dw_set1(wk[kx]), acc0);
            acc1 = dw_fma(dw_load(row + off[kx + 1]), dw_set1(wk[kx + 1]), acc1);
          }
          if (kx < kw) acc0 = dw_fma(dw_load(row + off[kx]), dw_set1(wk[kx]), acc0);
        } else {
          for (; kx < kw; kx++) {
            int32_t b = x0 + off[kx];
            acc0 = dw_fma(dw_loadm(row + off[kx], dw_range(-b, in_w - b)), dw_set1(wk[kx]), acc0);
          }
        }
      }
      dw_vec r = DW_FN(dw_act)(dw_add(acc0, acc1), p->activation);
      if (x0 + DW_V <= ow) dw_store(o + x0, r);
      else dw_storem(o + x0, r, ow - x0);
    }
  }
}

/* Instantiations: name, KH, KW, S (stride, both axes), D (dilation, both axes), R rows.
   Stride 1 reads the input in place; larger strides use the buffered layout. */
#define DW_DEFINE(name, KH, KW, S, D, R)                                                          \
  static DW_TARGET void DW_FN(name)(const sc_dw_params *p, int32_t c, const float *in, float *out, \
                                    int32_t yb, int32_t ye, float *buf) {                         \
    DW_FN(dw_plane)(p, c, in, out, yb, ye, buf, KH, KW, S, S, D, D, R);                           \
  }

static DW_TARGET void DW_FN(f32_dwconv2d_chw_any_direct)(const sc_dw_params *p, int32_t c,
                                                         const float *in, float *out, int32_t yb,
                                                         int32_t ye, float *buf) {
  DW_FN(dw_plane_any)(p, c, in, out, yb, ye, buf, true);
}
static DW_TARGET void DW_FN(f32_dwconv2d_chw_any_buffered)(const sc_dw_params *p, int32_t c,
                                                           const float *in, float *out,
                                                           int32_t yb, int32_t ye, float *buf) {
  DW_FN(dw_plane_any)(p, c, in, out, yb, ye, buf, false);
}
