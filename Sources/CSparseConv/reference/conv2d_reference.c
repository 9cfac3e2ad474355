/* The oracle: serial, obvious loops, double accumulation. Never optimized for speed. */
#include "internal.h"

sc_status sc_conv2d_reference(const sc_conv_desc *d, int32_t batch, const float *input,
                              const float *weight, const float *bias, sc_activation activation,
                              float *output) {
  int32_t oh, ow;
  sc_status st = sc_conv_desc_output_size(d, &oh, &ow);
  if (st != SC_OK) return st;
  if (batch <= 0 || !input || !weight || !output) return SC_INVALID_ARGUMENT;
  const int64_t cin_g = d->in_channels / d->groups;
  const int64_t cout_g = d->out_channels / d->groups;
  for (int64_t n = 0; n < batch; n++) {
    for (int64_t oc = 0; oc < d->out_channels; oc++) {
      const int64_t g = oc / cout_g;
      for (int64_t y = 0; y < oh; y++) {
        for (int64_t x = 0; x < ow; x++) {
          double acc = bias ? (double)bias[oc] : 0.0;
          for (int64_t ci = 0; ci < cin_g; ci++) {
            const int64_t ic = g * cin_g + ci;
            for (int64_t ky = 0; ky < d->kernel_h; ky++) {
              const int64_t iy = y * d->stride_h - d->pad_top + ky * d->dilation_h;
              if (iy < 0 || iy >= d->in_h) continue;
              for (int64_t kx = 0; kx < d->kernel_w; kx++) {
                const int64_t ix = x * d->stride_w - d->pad_left + kx * d->dilation_w;
                if (ix < 0 || ix >= d->in_w) continue;
                const float w = weight[((oc * cin_g + ci) * d->kernel_h + ky) * d->kernel_w + kx];
                const float v = input[((n * d->in_channels + ic) * d->in_h + iy) * d->in_w + ix];
                acc += (double)w * (double)v;
              }
            }
          }
          output[((n * d->out_channels + oc) * oh + y) * ow + x] = sc_activate((float)acc, activation);
        }
      }
    }
  }
  return SC_OK;
}
