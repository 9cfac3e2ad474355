/* Internal interface of the depthwise (channel multiplier 1) kernel family. */
#ifndef SPARSECONV_DWCONV_H
#define SPARSECONV_DWCONV_H

#include "../common/internal.h"

/* Lanes the buffered layout is padded for: the widest vector (AVX-512). */
#define SC_DW_VLANES 16

typedef struct sc_dw_params {
  int32_t channels;
  int32_t in_h, in_w, out_h, out_w;
  int32_t kh, kw, sh, sw, dh, dw;
  int32_t pad_top, pad_left;
  sc_activation activation;
  /* Buffered layout (stride_w > 1, and every scalar run): one input row is stored
     as sw phase rows of phase_len floats, phase p holding padded columns
     p, p + sw, p + 2 sw, ...; zeros where the column is padding. */
  int32_t phase_len;
  int32_t buf_row;                /* sw * phase_len */
  /* Column of tap kx relative to the output column, in floats from the start of a
     source row. Direct layout (stride_w == 1, reading the input in place):
     kx*dw - pad_left, may be negative. Buffered layout: phase * phase_len + (kx*dw) / sw
     with phase = (kx*dw) % sw. */
  const int32_t *tap_off_direct;  /* [kw] */
  const int32_t *tap_off_buf;     /* [kw] */
  const float *weights;           /* [channels][kh*kw] */
  const float *bias;              /* [channels] */
  const float *zero_row;          /* >= max(in_w, buf_row) + 16 zeros */
  /* Flat layout (AVX-512, stride 1, in_w == out_w, small planes), else NULL: the
     plane is one vector of out_h*out_w outputs and tap t = ky*kw + kx reads at the
     constant offset flat_off[t] from the output index; flat_masks[k*kh*kw + t] holds
     the lanes of 16-output chunk k whose tap t lies inside the image. */
  const int32_t *flat_off;        /* [kh*kw] */
  const uint16_t *flat_masks;     /* [ceil(out_h*out_w / 16)][kh*kw] */
} sc_dw_params;

/*
 * Computes output rows [y_begin, y_end) of one channel plane.
 * in: the channel's input plane [in_h][in_w]; out: its output plane [out_h][out_w];
 * c: the channel (weights and bias); buf: this thread's buffer for buffered kernels.
 */
typedef void (*sc_dw_plane_fn)(const sc_dw_params *p, int32_t c, const float *in, float *out,
                               int32_t y_begin, int32_t y_end, float *buf);

/* Writes input row src [in_w] into buffered row dst [buf_row] (phase-split, zero padded). */
void sc_dw_fill_row__scalar(const sc_dw_params *p, const float *src, float *dst);

/* Buffered kernel for any shape; the only choice of the scalar ISA. */
void sc_f32_dwconv2d_chw_generic__scalar(const sc_dw_params *p, int32_t c, const float *in,
                                         float *out, int32_t y_begin, int32_t y_end, float *buf);

/* Returns the best kernel for p on this ISA and whether it needs the row buffer. */
sc_dw_plane_fn sc_f32_dwconv2d_chw_select__avx512(const sc_dw_params *p, bool *buffered);
sc_dw_plane_fn sc_f32_dwconv2d_chw_select__avx2(const sc_dw_params *p, bool *buffered);

#endif
