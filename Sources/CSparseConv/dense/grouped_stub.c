/* Placeholder until the grouped path lands: reports SC_UNSUPPORTED. */
#include "../common/internal.h"

sc_status sc_grouped_init(sc_conv_op *op, const float *weight, const uint8_t *mask) {
  (void)op; (void)weight; (void)mask;
  return SC_UNSUPPORTED;
}
