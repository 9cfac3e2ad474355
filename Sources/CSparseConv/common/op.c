/* Operator lifecycle: validation, dispatch to the path's packer, run checks. */
#include "internal.h"

#include <limits.h>
#include <string.h>

const char *sc_status_string(sc_status status) {
  switch (status) {
  case SC_OK: return "ok";
  case SC_INVALID_ARGUMENT: return "invalid argument";
  case SC_OUT_OF_MEMORY: return "out of memory";
  case SC_SIZE_OVERFLOW: return "size overflow";
  case SC_UNSUPPORTED: return "unsupported";
  }
  return "unknown status";
}

const char *sc_path_name(sc_path path) {
  static const char *names[SC_PATH_COUNT] = {"dense", "depthwise", "grouped", "block1x2",
                                             "kernel", "channel", "element"};
  if ((int)path < 0 || (int)path >= SC_PATH_COUNT) return "unknown";
  return names[path];
}

sc_status sc_conv_desc_output_size(const sc_conv_desc *d, int32_t *out_h, int32_t *out_w) {
  if (!d) return SC_INVALID_ARGUMENT;
  if (d->in_channels <= 0 || d->out_channels <= 0 || d->groups <= 0 || d->in_h <= 0 ||
      d->in_w <= 0 || d->kernel_h <= 0 || d->kernel_w <= 0 || d->stride_h <= 0 ||
      d->stride_w <= 0 || d->dilation_h <= 0 || d->dilation_w <= 0 || d->pad_top < 0 ||
      d->pad_left < 0 || d->pad_bottom < 0 || d->pad_right < 0)
    return SC_INVALID_ARGUMENT;
  if (d->in_channels % d->groups != 0 || d->out_channels % d->groups != 0)
    return SC_INVALID_ARGUMENT;
  /* 64-bit intermediate: every operand is < 2^31, so no product below overflows. */
  int64_t eff_kh = (int64_t)d->dilation_h * (d->kernel_h - 1) + 1;
  int64_t eff_kw = (int64_t)d->dilation_w * (d->kernel_w - 1) + 1;
  int64_t span_h = (int64_t)d->in_h + d->pad_top + d->pad_bottom;
  int64_t span_w = (int64_t)d->in_w + d->pad_left + d->pad_right;
  if (span_h < eff_kh || span_w < eff_kw) return SC_INVALID_ARGUMENT;
  int64_t oh = (span_h - eff_kh) / d->stride_h + 1;
  int64_t ow = (span_w - eff_kw) / d->stride_w + 1;
  if (oh > INT32_MAX || ow > INT32_MAX) return SC_SIZE_OVERFLOW;
  /* Per-image tensors must be indexable with 32-bit-safe products in kernels. */
  int64_t cg = d->in_channels / d->groups;
  if ((int64_t)d->in_channels * d->in_h * (int64_t)d->in_w > INT32_MAX ||
      (int64_t)d->out_channels * oh * ow > INT32_MAX ||
      (int64_t)d->out_channels * cg * d->kernel_h * (int64_t)d->kernel_w > INT32_MAX ||
      cg * d->kernel_h * (int64_t)d->kernel_w * oh * ow > INT32_MAX)
    return SC_SIZE_OVERFLOW;
  if (out_h) *out_h = (int32_t)oh;
  if (out_w) *out_w = (int32_t)ow;
  return SC_OK;
}

static sc_init_fn path_init(sc_path path) {
  switch (path) {
  case SC_PATH_DENSE: return sc_dense_init;
  case SC_PATH_DEPTHWISE: return sc_depthwise_init;
  case SC_PATH_GROUPED: return sc_grouped_init;
  case SC_PATH_BLOCK1X2: return sc_block1x2_init;
  case SC_PATH_KERNEL: return sc_kernel_init;
  case SC_PATH_CHANNEL: return sc_channel_init;
  case SC_PATH_ELEMENT: return sc_element_init;
  }
  return NULL;
}

sc_status sc_conv_op_create(sc_path path, const sc_conv_desc *desc, const float *weight,
                            const uint8_t *mask, const float *bias, sc_activation activation,
                            sc_isa isa, sc_conv_op **out_op) {
  /* an unknown path has no packer: create_with rejects it */
  return sc_conv_op_create_with(path_init(path), path, desc, weight, mask, bias, activation, isa,
                                out_op);
}

sc_status sc_conv_op_create_with(sc_init_fn init, sc_path path, const sc_conv_desc *desc,
                                 const float *weight, const uint8_t *mask, const float *bias,
                                 sc_activation activation, sc_isa isa, sc_conv_op **out_op) {
  if (!out_op) return SC_INVALID_ARGUMENT;
  *out_op = NULL;
  if (!desc || !weight || !init) return SC_INVALID_ARGUMENT;
  if (activation != SC_ACTIVATION_NONE && activation != SC_ACTIVATION_RELU &&
      activation != SC_ACTIVATION_RELU6)
    return SC_INVALID_ARGUMENT;
  if (isa == SC_ISA_AUTO) isa = sc_cpu_isa();
  else if ((int)isa < SC_ISA_SCALAR || (int)isa > SC_ISA_AVX512) return SC_INVALID_ARGUMENT;
  else if (!sc_isa_supported(isa)) return SC_UNSUPPORTED;

  int32_t oh, ow;
  sc_status st = sc_conv_desc_output_size(desc, &oh, &ow);
  if (st != SC_OK) return st;

  sc_conv_op *op = (sc_conv_op *)sc_aligned_calloc(sizeof(sc_conv_op));
  if (!op) return SC_OUT_OF_MEMORY;
  op->path = path;
  op->desc = *desc;
  op->out_h = oh;
  op->out_w = ow;
  op->activation = activation;
  op->isa = isa;
  op->has_bias = bias != NULL;
  op->bias = (float *)sc_aligned_calloc(sizeof(float) * (size_t)desc->out_channels);
  if (!op->bias) {
    sc_aligned_free(op);
    return SC_OUT_OF_MEMORY;
  }
  if (bias) memcpy(op->bias, bias, sizeof(float) * (size_t)desc->out_channels);

  st = init(op, weight, mask);
  if (st == SC_OK && (!op->run || !op->workspace_size)) st = SC_UNSUPPORTED;
  if (st != SC_OK) {
    sc_conv_op_destroy(op);
    return st;
  }
  *out_op = op;
  return SC_OK;
}

void sc_conv_op_destroy(sc_conv_op *op) {
  if (!op) return;
  if (op->impl && op->destroy_impl) op->destroy_impl(op->impl);
  sc_aligned_free(op->dead_outputs);
  sc_aligned_free(op->bias);
  sc_aligned_free(op);
}

size_t sc_conv_op_workspace_size(const sc_conv_op *op, int32_t batch, int32_t threads) {
  if (!op || batch <= 0) return 0;
  return op->workspace_size(op, batch, sc_resolve_threads(threads));
}

sc_status sc_conv_op_run(const sc_conv_op *op, int32_t batch, const float *input, float *output,
                         void *workspace, size_t workspace_size, int32_t threads) {
  if (!op || !input || !output || batch <= 0) return SC_INVALID_ARGUMENT;
  int32_t nt = sc_resolve_threads(threads);
  size_t need = op->workspace_size(op, batch, nt);
  if (need == SIZE_MAX) return SC_SIZE_OVERFLOW;
  if (need > 0 && (!workspace || workspace_size < need)) return SC_INVALID_ARGUMENT;
  if (workspace && ((uintptr_t)workspace % SC_ALIGNMENT) != 0) return SC_INVALID_ARGUMENT;
  /* batch * per-image size must stay addressable */
  size_t in_elems, out_elems;
  const sc_conv_desc *d = &op->desc;
  if (!sc_mul_size((size_t)batch, (size_t)d->in_channels * d->in_h * d->in_w, &in_elems) ||
      !sc_mul_size((size_t)batch, (size_t)d->out_channels * op->out_h * op->out_w, &out_elems) ||
      in_elems > SIZE_MAX / sizeof(float) || out_elems > SIZE_MAX / sizeof(float))
    return SC_SIZE_OVERFLOW;
  return op->run(op, batch, input, output, workspace, nt);
}

sc_path sc_conv_op_path(const sc_conv_op *op) { return op ? op->path : SC_PATH_DENSE; }
sc_isa sc_conv_op_isa(const sc_conv_op *op) { return op ? op->isa : SC_ISA_AUTO; }
int64_t sc_conv_op_stored_weights(const sc_conv_op *op) { return op ? op->stored_weights : 0; }
size_t sc_conv_op_packed_bytes(const sc_conv_op *op) { return op ? op->packed_bytes : 0; }

sc_status sc_conv_op_dead_output_channels(const sc_conv_op *op, uint8_t *out) {
  if (!op || !out) return SC_INVALID_ARGUMENT;
  if (op->dead_outputs) memcpy(out, op->dead_outputs, (size_t)op->desc.out_channels);
  else memset(out, 0, (size_t)op->desc.out_channels);
  return SC_OK;
}
