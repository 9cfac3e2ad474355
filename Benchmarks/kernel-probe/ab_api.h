/* The entry points ab.c needs from one build of CSparseConv (ab.sh links two). */
#ifndef SPARSECONV_AB_API_H
#define SPARSECONV_AB_API_H
#include "sparseconv.h"

typedef struct ab_api {
  sc_status (*create)(sc_path, const sc_conv_desc *, const float *, const uint8_t *, const float *,
                      sc_activation, sc_isa, sc_conv_op **);
  size_t (*workspace_size)(const sc_conv_op *, int32_t, int32_t);
  sc_status (*run)(const sc_conv_op *, int32_t, const float *, float *, void *, size_t, int32_t);
  void (*destroy)(sc_conv_op *);
} ab_api;

extern const ab_api ab_api_a, ab_api_b;
#endif
