/* Plain C microkernel of the kernel-level path, for CPUs without AVX2 and
   for other architectures. The innermost loop runs along contiguous output
   columns so the compiler can vectorize it with the baseline ISA. */
#include "kconv.h"

void sc_kconv_tile_scalar(const sc_kconv_tile *t, int32_t rows, int32_t cols) {
  float acc[SC_KCONV_RMAX * SC_KCONV_VMAX * 16];
  for (int32_t r = 0; r < rows; r++)
    for (int32_t c = 0; c < cols; c++)
      acc[r * cols + c] = t->accumulate ? t->out[r * t->out_stride + c] : t->bias;
  for (int32_t k = 0; k < t->n; k++) {
    const float *xp = t->x + (size_t)t->ics[k] * t->plane;
    const float *wk = t->w + (size_t)k * t->kk;
    for (int32_t tap = 0; tap < t->kk; tap++) {
      const float wv = wk[tap];
      const float *xt = xp + t->toff[tap];
      for (int32_t r = 0; r < rows; r++) {
        const float *xr = xt + r * t->row_stride;
        float *ar = acc + r * cols;
        for (int32_t c = 0; c < cols; c++) ar[c] += wv * xr[c];
      }
    }
  }
  for (int32_t r = 0; r < rows; r++)
    for (int32_t c = 0; c < cols; c++)
      t->out[r * t->out_stride + c] = t->finish ? sc_activate(acc[r * cols + c], t->act) : acc[r * cols + c];
}
