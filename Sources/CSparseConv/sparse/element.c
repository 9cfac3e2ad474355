/* SC_PATH_ELEMENT: unstructured sparsity; one CSR row per output channel,
   or on Zen 5 (below) one row per output-channel pair. The engine (packing,
   phase planes, tiles, threads) is in spconv.c. */
#include "spconv.h"

/* Zen 5, spatial kernels at 85 % sparsity or more on images of more than
   256 outputs, at most 112 wide, over 48 input channels or more:
   element-wise rows run as pair rows, each position kept in either channel
   of a pair (the other's weight zero), so each input load feeds two
   accumulators. At 90 % a pair keeps 19 % of positions for 20 % of the
   weights: about as many loads, twice the FMAs, but the loads of a spatial
   kernel's taps split cache lines and bound the single rows (the loop
   probe, Benchmarks/kernel-probe/loop.c: one channel x 16 vectors 3.5 FMA/ns
   from L1, a pair x 12 6.5). Benchmarks/kernel-probe/ab.sh, 2 threads, time
   as pairs / as single rows, three processes, medians: 90 %: 3x3 64@56
   0.95, 128@28 0.96, 256@28 0.94, VGG 256@56 0.88, 96@56 0.86, 48@56 0.93,
   64@112 0.92, 3x3/2 128@56 0.94, d2 64@56 0.93, ResNeXt 128@56 g32 0.89,
   5x5 64@28 0.95, 1 thread 64@56 0.96; 95 %: 64@56 0.94, 128@28 0.95; 97 %
   64@56 0.90; 85 %: 0.94 both. Slower, hence the bounds: 80 % 1.005,
   256@14 (196 outputs) 1.01, 64@224 1.03, 32@56 1.05, 32->64@112 1.15
   (16@56 1.00; 32@28 and 3->64@224 gained, 0.89-0.90, left out with them).
   Not measured on Zen 4 or Intel, which keep single rows. */
static bool pairs_fit(const sc_conv_op *op) {
  const sc_conv_desc *d = &op->desc;
  if (op->isa != SC_ISA_AVX512 || sc_cpu_avx512_halves() || sc_cpu_intel_avx512()) return false;
  return d->kernel_h * d->kernel_w > 1 && (int64_t)op->out_h * op->out_w > 256 && op->out_w <= 112 &&
         d->in_channels >= 48;
}

sc_status sc_element_init(sc_conv_op *op, const float *weight, const uint8_t *mask) {
  if (!pairs_fit(op)) return sc_spconv_init(op, weight, mask, 0);
  const sc_conv_desc *d = &op->desc;
  const int64_t total = (int64_t)d->out_channels * (d->in_channels / d->groups) * d->kernel_h * d->kernel_w;
  int64_t kept = 0; /* under the mask, else the nonzeros */
  for (int64_t i = 0; i < total; i++) kept += sc_kept(weight, mask, (size_t)i);
  if (total == 0 || (double)kept > 0.15 * (double)total) return sc_spconv_init(op, weight, mask, 0);
  const sc_status st = sc_spconv_init(op, weight, mask, 1);
  /* the weights the user kept, not the zeros the pairs multiply */
  if (st == SC_OK) op->stored_weights = kept;
  return st;
}
