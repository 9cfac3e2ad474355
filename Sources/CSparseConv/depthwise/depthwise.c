/*
 * Depthwise path (SC_PATH_DEPTHWISE): groups == in_channels == out_channels, one
 * kernel_h × kernel_w stencil per channel. Any kernel size, stride, dilation,
 * asymmetric padding, batch, bias and fused ReLU/ReLU6.
 *
 * Packed format (struct sc_dw_impl, one allocation each, 64-byte aligned):
 *   weights  float [channels][kernel_h * kernel_w]  — the OIHW weights unchanged
 *            (I = 1), every weight kept: the mask is ignored, a depthwise kernel
 *            has no pair of output channels to share loads, so it stays dense.
 *   tap_off_direct int32 [kernel_w]  — kx * dilation_w - pad_left: where tap kx reads,
 *            relative to the output column, in an unpadded input row.
 *   tap_off_buf    int32 [kernel_w]  — phase * phase_len + (kx * dilation_w) / stride_w,
 *            phase = (kx * dilation_w) % stride_w: the same in a buffered row.
 *   zero_row float [max(in_w, stride_w * phase_len) + 16] — zeros; top/bottom padding
 *            rows point here so that the kernels never test row bounds.
 *   The bias is op->bias (zeros when none).
 *
 * Kernel design (XNNPACK's "dwconv2d_chw" shape, direct stencil in CHW):
 *   - Output rows are vectorized along the width (16 lanes AVX-512, 8 AVX2). The
 *     channel's kh*kw weights are broadcast into registers once per plane.
 *   - R output rows are computed together: each source row is loaded once per tap
 *     column and feeds every output row that uses it (3×3 stride 1, R = 4: 18 loads
 *     for 36 FMAs instead of 36), which is what makes this memory/latency-bound
 *     operation fast. Compile-time specializations for 3×3 s1/s2/d2, 5×5 s1/s2 and
 *     7×7 s1; a runtime-shaped kernel covers everything else.
 *   - stride_w == 1 (direct layout): the input is read in place. Chunks whose taps
 *     all fall inside the row (the interior) use plain loads; border chunks use
 *     masked loads (fault-suppressing, zero-filling), which is the zero padding.
 *   - stride_w > 1 (buffered layout): each needed input row is first rewritten
 *     into a per-thread buffer as stride_w zero-padded phase rows, so a strided
 *     tap becomes a unit-stride vector load with no bounds test at all. The scalar
 *     ISA always uses this layout.
 *   - Parallelism: one parallel region per run; the batch*channels*out_h output
 *     rows are split statically by thread index, so few channels or odd channel
 *     counts still balance. Tiny problems run serially (region overhead ~1-2 us).
 * Workspace: threads × in_h × stride_w × phase_len floats when a buffered kernel
 * is chosen, else nothing.
 */
#include "dwconv.h"

#include <string.h>

typedef struct sc_dw_impl {
  sc_dw_params params;
  sc_dw_plane_fn plane;
  bool buffered;
  size_t buf_floats; /* per thread, rounded to 64 bytes */
  float *weights;
  int32_t *tap_off; /* [2 * kw]: direct then buffered */
  float *zero_row;
  int32_t *flat_off;
  uint16_t *flat_masks;
} sc_dw_impl;

/* Below this many multiply-adds a run stays on the calling thread: forking costs
   more than the work (measured region overhead ~1-2 us with 2 threads). */
#define SC_DW_SERIAL_MACS 32768

static void dw_destroy(void *ptr) {
  sc_dw_impl *impl = (sc_dw_impl *)ptr;
  if (!impl) return;
  sc_aligned_free(impl->weights);
  sc_aligned_free(impl->tap_off);
  sc_aligned_free(impl->zero_row);
  sc_aligned_free(impl->flat_off);
  sc_aligned_free(impl->flat_masks);
  sc_aligned_free(impl);
}

static size_t dw_workspace(const sc_conv_op *op, int32_t batch, int32_t threads) {
  (void)batch;
  const sc_dw_impl *impl = (const sc_dw_impl *)op->impl;
  if (!impl->buffered) return 0;
  size_t bytes;
  if (!sc_mul_size(impl->buf_floats * sizeof(float), (size_t)threads, &bytes)) return SIZE_MAX;
  return bytes;
}

static void dw_rows(const sc_dw_impl *impl, int64_t begin, int64_t end, const float *input,
                    float *output, float *buf) {
  const sc_dw_params *p = &impl->params;
  const int64_t oh = p->out_h, C = p->channels;
  const size_t in_plane = (size_t)p->in_h * p->in_w, out_plane = (size_t)p->out_h * p->out_w;
  int64_t r = begin;
  while (r < end) {
    int64_t plane = r / oh; /* n * C + c */
    int32_t y0 = (int32_t)(r - plane * oh);
    int32_t y1 = (int32_t)SC_MIN(oh, (int64_t)y0 + (end - r));
    impl->plane(p, (int32_t)(plane % C), input + (size_t)plane * in_plane,
                output + (size_t)plane * out_plane, y0, y1, buf);
    r += y1 - y0;
  }
}

static sc_status dw_run(const sc_conv_op *op, int32_t batch, const float *input, float *output,
                        void *workspace, int32_t threads) {
  const sc_dw_impl *impl = (const sc_dw_impl *)op->impl;
  const sc_dw_params *p = &impl->params;
  const int64_t rows = (int64_t)batch * p->channels * p->out_h;
  const int64_t macs = rows * p->out_w * p->kh * p->kw;
  int nt = threads;
  if (macs < SC_DW_SERIAL_MACS || rows < 2) nt = 1;
  if (nt > rows) nt = (int)rows;
  float *ws = (float *)workspace;
  if (nt == 1) {
    dw_rows(impl, 0, rows, input, output, ws);
    return SC_OK;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    const int n = omp_get_num_threads();
    int64_t b, e;
    sc_split(rows, n, t, &b, &e);
    dw_rows(impl, b, e, input, output, impl->buffered ? ws + (size_t)t * impl->buf_floats : NULL);
  }
#else
  dw_rows(impl, 0, rows, input, output, ws);
#endif
  return SC_OK;
}

/* Flat layout: rows at most this wide use it (AVX-512 only; measured, 1 thread:
   960@7×7 0.034 -> 0.021 ms flat, but 512@14×14 0.031 -> 0.035 ms, so 14 stays on rows). */
#ifndef SC_DW_FLAT_MAX_W
#define SC_DW_FLAT_MAX_W 8
#endif
#define SC_DW_FLAT_MAX_PLANE 1024

static sc_status dw_build_flat(sc_dw_impl *impl, const sc_conv_desc *d, int32_t oh, int32_t ow,
                               size_t *bytes) {
  const int32_t taps = d->kernel_h * d->kernel_w;
  const int32_t nq = oh * ow, chunks = (nq + 15) / 16;
  impl->flat_off = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)taps);
  impl->flat_masks = (uint16_t *)sc_aligned_calloc(sizeof(uint16_t) * (size_t)chunks * taps);
  if (!impl->flat_off || !impl->flat_masks) return SC_OUT_OF_MEMORY;
  for (int32_t ky = 0; ky < d->kernel_h; ky++)
    for (int32_t kx = 0; kx < d->kernel_w; kx++) {
      const int32_t t = ky * d->kernel_w + kx;
      const int32_t dy = ky * d->dilation_h - d->pad_top, dx = kx * d->dilation_w - d->pad_left;
      impl->flat_off[t] = dy * d->in_w + dx;
      for (int32_t q = 0; q < chunks * 16; q++) {
        const int32_t y = q / ow, x = q % ow, iy = y + dy, ix = x + dx;
        if (q < nq && iy >= 0 && iy < d->in_h && ix >= 0 && ix < d->in_w)
          impl->flat_masks[(size_t)(q / 16) * taps + t] |= (uint16_t)(1u << (q % 16));
      }
    }
  impl->params.flat_off = impl->flat_off;
  impl->params.flat_masks = impl->flat_masks;
  *bytes = sizeof(int32_t) * (size_t)taps + sizeof(uint16_t) * (size_t)chunks * taps;
  return SC_OK;
}

sc_status sc_depthwise_init(sc_conv_op *op, const float *weight, const uint8_t *mask) {
  (void)mask; /* dense path: every weight is stored */
  const sc_conv_desc *d = &op->desc;
  if (d->groups != d->in_channels || d->in_channels != d->out_channels) return SC_UNSUPPORTED;

  sc_dw_impl *impl = (sc_dw_impl *)sc_aligned_calloc(sizeof(sc_dw_impl));
  if (!impl) return SC_OUT_OF_MEMORY;
  op->impl = impl;
  op->destroy_impl = dw_destroy;

  sc_dw_params *p = &impl->params;
  p->channels = d->in_channels;
  p->in_h = d->in_h;
  p->in_w = d->in_w;
  p->out_h = op->out_h;
  p->out_w = op->out_w;
  p->kh = d->kernel_h;
  p->kw = d->kernel_w;
  p->sh = d->stride_h;
  p->sw = d->stride_w;
  p->dh = d->dilation_h;
  p->dw = d->dilation_w;
  p->pad_top = d->pad_top;
  p->pad_left = d->pad_left;
  p->activation = op->activation;

  /* Phase rows cover every column a full-width vector of the last chunk reads. */
  int64_t ow_up = ((int64_t)op->out_w + SC_DW_VLANES - 1) / SC_DW_VLANES * SC_DW_VLANES;
  int64_t len = ow_up + ((int64_t)(d->kernel_w - 1) * d->dilation_w) / d->stride_w + 1;
  len = (len + 15) / 16 * 16;
  int64_t buf_row = len * d->stride_w;
  if (buf_row > INT32_MAX / 2) return SC_SIZE_OVERFLOW;
  p->phase_len = (int32_t)len;
  p->buf_row = (int32_t)buf_row;

  size_t kk = (size_t)d->kernel_h * (size_t)d->kernel_w, wbytes;
  if (!sc_mul_size(kk * sizeof(float), (size_t)d->in_channels, &wbytes)) return SC_SIZE_OVERFLOW;
  impl->weights = (float *)sc_aligned_alloc(wbytes);
  impl->tap_off = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * 2 * (size_t)d->kernel_w);
  size_t zlen = (size_t)SC_MAX((int64_t)d->in_w, buf_row) + 16;
  impl->zero_row = (float *)sc_aligned_calloc(sizeof(float) * zlen);
  if (!impl->weights || !impl->tap_off || !impl->zero_row) return SC_OUT_OF_MEMORY;
  memcpy(impl->weights, weight, wbytes);
  for (int32_t kx = 0; kx < d->kernel_w; kx++) {
    int64_t t = (int64_t)kx * d->dilation_w;
    impl->tap_off[kx] = (int32_t)(t - d->pad_left);
    impl->tap_off[d->kernel_w + kx] = (int32_t)((t % d->stride_w) * len + t / d->stride_w);
  }
  p->weights = impl->weights;
  p->bias = op->bias;
  p->tap_off_direct = impl->tap_off;
  p->tap_off_buf = impl->tap_off + d->kernel_w;
  p->zero_row = impl->zero_row;

  size_t flat_bytes = 0;
  if (op->isa == SC_ISA_AVX512 && d->stride_h == 1 && d->stride_w == 1 && d->in_w == op->out_w &&
      op->out_w <= SC_DW_FLAT_MAX_W && (int64_t)op->out_h * op->out_w <= SC_DW_FLAT_MAX_PLANE) {
    sc_status st = dw_build_flat(impl, d, op->out_h, op->out_w, &flat_bytes);
    if (st != SC_OK) return st;
  }

  impl->buffered = true;
  impl->plane = sc_f32_dwconv2d_chw_generic__scalar;
#if SC_X86
  if (op->isa == SC_ISA_AVX512) impl->plane = sc_f32_dwconv2d_chw_select__avx512(p, &impl->buffered);
  else if (op->isa == SC_ISA_AVX2) impl->plane = sc_f32_dwconv2d_chw_select__avx2(p, &impl->buffered);
#endif
  size_t per_thread;
  if (!sc_mul_size((size_t)d->in_h, (size_t)buf_row, &per_thread) ||
      per_thread > SIZE_MAX / sizeof(float) - 16)
    return SC_SIZE_OVERFLOW;
  impl->buf_floats = sc_round_up(per_thread * sizeof(float)) / sizeof(float);

  op->workspace_size = dw_workspace;
  op->run = dw_run;
  op->stored_weights = (int64_t)kk * d->in_channels;
  op->packed_bytes =
      wbytes + sizeof(int32_t) * 2 * (size_t)d->kernel_w + sizeof(float) * zlen + flat_bytes;
  return SC_OK;
}
