/* Depthwise stencil in plain C: buffered layout, any kernel, stride, dilation. */
#include "dwconv.h"

#include <string.h>

void sc_dw_fill_row__scalar(const sc_dw_params *p, const float *src, float *dst) {
  const int32_t sw = p->sw, pl = p->pad_left, in_w = p->in_w, len = p->phase_len;
  if (sw == 1) {
    /* The padded row is a plain shifted copy; clip what lies past phase_len. */
    int32_t n = SC_MIN(in_w, len - pl);
    memset(dst, 0, sizeof(float) * (size_t)SC_MIN(pl, len));
    if (n > 0) memcpy(dst + pl, src, sizeof(float) * (size_t)n);
    int32_t done = SC_MAX(SC_MIN(pl, len), pl + SC_MAX(n, 0));
    if (done < len) memset(dst + done, 0, sizeof(float) * (size_t)(len - done));
    return;
  }
  for (int32_t ph = 0; ph < sw; ph++) {
    float *d = dst + (size_t)ph * len;
    for (int32_t j = 0; j < len; j++) {
      int64_t ix = (int64_t)j * sw + ph - pl;
      d[j] = (ix >= 0 && ix < in_w) ? src[ix] : 0.0f;
    }
  }
}

void sc_f32_dwconv2d_chw_generic__scalar(const sc_dw_params *p, int32_t c, const float *in,
                                         float *out, int32_t y_begin, int32_t y_end, float *buf) {
  const int32_t kh = p->kh, kw = p->kw, sh = p->sh, dh = p->dh, pt = p->pad_top;
  const int32_t ow = p->out_w, in_h = p->in_h, row = p->buf_row;
  const int32_t iy_lo = SC_MAX(0, y_begin * sh - pt);
  const int32_t iy_hi = SC_MIN(in_h, (y_end - 1) * sh - pt + (kh - 1) * dh + 1);
  for (int32_t iy = iy_lo; iy < iy_hi; iy++)
    sc_dw_fill_row__scalar(p, in + (size_t)iy * p->in_w, buf + (size_t)(iy - iy_lo) * row);
  const float *w = p->weights + (size_t)c * kh * kw;
  const float b = p->bias[c];
  const int32_t *off = p->tap_off_buf;
  for (int32_t y = y_begin; y < y_end; y++) {
    float *restrict o = out + (size_t)y * ow;
    for (int32_t x = 0; x < ow; x++) o[x] = b;
    for (int32_t ky = 0; ky < kh; ky++) {
      int32_t iy = y * sh - pt + ky * dh;
      if (iy < iy_lo || iy >= iy_hi) continue;
      const float *src = buf + (size_t)(iy - iy_lo) * row;
      for (int32_t kx = 0; kx < kw; kx++) {
        const float wv = w[ky * kw + kx];
        const float *restrict s = src + off[kx];
        for (int32_t x = 0; x < ow; x++) o[x] += wv * s[x];
      }
    }
    if (p->activation != SC_ACTIVATION_NONE)
      for (int32_t x = 0; x < ow; x++) o[x] = sc_activate(o[x], p->activation);
  }
}
