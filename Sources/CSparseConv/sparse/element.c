/* SC_PATH_ELEMENT: unstructured sparsity; one CSR row per output channel.
   The engine (packing, phase planes, tiles, threads) is in spconv.c. */
#include "spconv.h"

sc_status sc_element_init(sc_conv_op *op, const float *weight, const uint8_t *mask) {
  return sc_spconv_init(op, weight, mask, 0);
}
