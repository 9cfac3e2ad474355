/* Placeholder until the dense path lands: reports SC_UNSUPPORTED. */
#include "../common/internal.h"

sc_status sc_dense_init(sc_conv_op *op, const float *weight, const uint8_t *mask) {
  (void)op; (void)weight; (void)mask;
  return SC_UNSUPPORTED;
}
