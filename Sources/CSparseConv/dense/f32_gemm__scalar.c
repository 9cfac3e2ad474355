/* Plain C microkernels of the dense and grouped paths (any CPU). */
#include "gemm.h"

static float finish(float x, int flags) {
  if (flags & (SC_GEMM_RELU | SC_GEMM_RELU6)) x = x > 0.0f ? x : 0.0f;
  if (flags & SC_GEMM_RELU6) x = x < 6.0f ? x : 6.0f;
  return x;
}

void f32_gemm_4x8__scalar(size_t kc, const float *a, const float *b, size_t ldb, float *c,
                          size_t ldc, int mrows, int ncols, const float *bias, int flags) {
  float acc[4][8];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 8; j++)
      acc[i][j] = (flags & SC_GEMM_FIRST) ? bias[i]
                  : (i < mrows && j < ncols) ? c[i * ldc + j] : 0.0f;
  for (size_t k = 0; k < kc; k++) {
    float bv[8];
    for (int j = 0; j < 8; j++) bv[j] = j < ncols ? b[j] : 0.0f;
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 8; j++) acc[i][j] += a[i] * bv[j];
    a += 4;
    b += ldb;
  }
  for (int i = 0; i < mrows; i++)
    for (int j = 0; j < ncols; j++)
      c[i * ldc + j] = (flags & SC_GEMM_LAST) ? finish(acc[i][j], flags) : acc[i][j];
}

void f32_gconv_4x8__scalar(const sc_gconv_args *p, const sc_gconv_tile *t) {
  float acc[4][8];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 8; j++) acc[i][j] = p->bias[i];
  const float *w = p->w;
  const int ncol = t->ncol[0];
  for (int ky = 0; ky < p->kh; ky++) {
    int iy = t->oy[0] * p->stride_h - p->pad_top + ky * p->dil_h;
    bool row_ok = iy >= 0 && iy < p->in_h;
    for (int kx = 0; kx < p->kw; kx++) {
      int ix = t->ox[0] - p->pad_left + kx * p->dil_w;
      for (int ic = 0; ic < p->cin_g; ic++) {
        float x[8];
        for (int j = 0; j < 8; j++)
          x[j] = (row_ok && j < ncol && ix + j >= 0 && ix + j < p->in_w)
                     ? p->input[(size_t)ic * p->in_hw + (size_t)iy * p->in_w + (size_t)(ix + j)]
                     : 0.0f;
        for (int i = 0; i < 4; i++)
          for (int j = 0; j < 8; j++) acc[i][j] += w[i] * x[j];
        w += 4;
      }
    }
  }
  float *o = p->output + (size_t)t->oy[0] * p->out_w + t->ox[0];
  for (int i = 0; i < p->mrows; i++)
    for (int j = 0; j < ncol; j++) o[(size_t)i * p->out_hw + j] = finish(acc[i][j], p->flags);
}
