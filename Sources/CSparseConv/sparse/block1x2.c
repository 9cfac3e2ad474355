/* SC_PATH_BLOCK1X2: 1x2 blocks (one weight position in output channels 2j, 2j+1
   of a group); one CSR row per channel pair, each index feeding two
   accumulators. The engine is in spconv.c. */
#include "spconv.h"

sc_status sc_block1x2_init(sc_conv_op *op, const float *weight, const uint8_t *mask) {
  return sc_spconv_init(op, weight, mask, 1);
}
