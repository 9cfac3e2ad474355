/*
 * sparseconv_layers.h — SparseConv's kernels for the layers of a model that are
 * not convolutions: pooling, batch norm / scale-shift, activations, residual add,
 * concatenation, channel shuffle, squeeze-excitation scale, fully connected and
 * softmax.
 *
 * Conventions (the same as sparseconv.h):
 *   - Tensors are float32, contiguous; activations NCHW.
 *   - Dimension-like sizes (batch, channels, heights, widths, kernel, stride,
 *     padding, features, groups) are int32_t; flat element counts (count, hw,
 *     rows, cols) are int64_t. Every size must be >= 1 unless stated; products
 *     are overflow-checked (SC_SIZE_OVERFLOW when a tensor's bytes would not fit
 *     in size_t).
 *   - threads: 0 = sc_default_threads(), otherwise the number of OpenMP threads
 *     to use at most; negative is SC_INVALID_ARGUMENT. Small problems (below
 *     about 32K elements of work) always run on the calling thread, whatever
 *     threads says: a parallel region costs more than the work.
 *   - NULL pointers, non-positive sizes and unknown enum values are
 *     SC_INVALID_ARGUMENT; nothing here asserts, aborts or allocates.
 *   - "in place allowed" means out may be the very same pointer as an input;
 *     otherwise outputs must not overlap inputs. Partial overlap is never allowed.
 *   - NaN inputs propagate to the outputs they feed: relu(NaN), clip(NaN),
 *     max-pool over a window holding a NaN, softmax of a row holding a NaN are NaN.
 *     (This follows PyTorch. Note that the activations fused into convolutions by
 *     sc_conv_op_run map NaN to 0.)
 *   - Vectorized with run-time selected AVX-512 / AVX2+FMA variants and a plain C
 *     fallback; the environment variable SPARSECONV_MAX_ISA=scalar|avx2 (read by
 *     sc_cpu_isa() at every call) caps the choice, which is how tests reach every
 *     variant. Results of different variants may differ in the last bits (fused
 *     multiply-add, summation order), never by more than float rounding.
 */
#ifndef SPARSECONV_LAYERS_H
#define SPARSECONV_LAYERS_H

#include "sparseconv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- pooling */

/**
 * 2-D max pooling over NCHW, any kernel, stride and (asymmetric) padding.
 * in [n, c, h, w] -> out [n, c, out_h, out_w].
 *
 * Output (oy, ox) takes the maximum over input rows oy*stride_h - pad_top + [0, kernel_h)
 * and columns ox*stride_w - pad_left + [0, kernel_w) that lie inside the input;
 * padded positions are ignored (-inf). out_h / out_w are chosen by the caller
 * (floor or ceil mode): windows reaching past the padded input on the bottom or
 * right are clipped. Each window must start inside the padded extent:
 * (out_h - 1) * stride_h < pad_top + h + pad_bottom, likewise for the width,
 * else SC_INVALID_ARGUMENT. A window that holds no input position at all
 * (padding larger than the kernel) yields -inf.
 * Padding >= 0; kernel and stride >= 1.
 */
sc_status sc_max_pool2d(int32_t n, int32_t c, int32_t h, int32_t w,
                        int32_t kernel_h, int32_t kernel_w,
                        int32_t stride_h, int32_t stride_w,
                        int32_t pad_top, int32_t pad_left,
                        int32_t pad_bottom, int32_t pad_right,
                        int32_t out_h, int32_t out_w,
                        const float *in, float *out, int32_t threads);

/**
 * 2-D average pooling, same geometry and rules as sc_max_pool2d.
 * The divisor of an output is the number of positions of its window that lie
 *   - count_include_pad != 0: inside the padded extent
 *     [-pad_top, h + pad_bottom) × [-pad_left, w + pad_right)
 *     (padding counts, positions beyond it — ceil mode — do not: ONNX and PyTorch),
 *   - count_include_pad == 0: inside the input.
 * An output whose divisor is 0 (window entirely in padding, without
 * count_include_pad) is 0.
 */
sc_status sc_avg_pool2d(int32_t n, int32_t c, int32_t h, int32_t w,
                        int32_t kernel_h, int32_t kernel_w,
                        int32_t stride_h, int32_t stride_w,
                        int32_t pad_top, int32_t pad_left,
                        int32_t pad_bottom, int32_t pad_right,
                        int32_t out_h, int32_t out_w, int32_t count_include_pad,
                        const float *in, float *out, int32_t threads);

/**
 * Global average pooling: out[i] = mean of in[i*hw .. i*hw + hw) for every
 * i < n*c. in [n, c, hw] (hw = height*width), out [n, c] (i.e. [n, c, 1, 1]).
 */
sc_status sc_global_avg_pool(int32_t n, int32_t c, int64_t hw,
                             const float *in, float *out, int32_t threads);

/* ---------------------------------------------------------- element-wise */

/**
 * Per-channel affine map with an optional fused activation (a standalone batch
 * norm folded into multiplier/offset, or a scale-shift):
 *   out[b, ch, i] = activation(in[b, ch, i] * multiplier[ch] + offset[ch]).
 * in/out [n, c, hw]; multiplier, offset [c] (offset may be NULL: 0).
 * activation: SC_ACTIVATION_NONE / RELU / RELU6. In place allowed.
 * (The vector variants use a fused multiply-add.)
 */
sc_status sc_channel_affine(int32_t n, int32_t c, int64_t hw, const float *in,
                            const float *multiplier, const float *offset,
                            sc_activation activation, float *out, int32_t threads);

/** Element-wise functions of sc_activation_apply. The first three have the
    values of the matching sc_activation. */
typedef enum sc_unary {
  SC_UNARY_IDENTITY = 0, /* x (a copy) */
  SC_UNARY_RELU = 1,     /* max(x, 0) */
  SC_UNARY_RELU6 = 2,    /* min(max(x, 0), 6) */
  SC_UNARY_SIGMOID = 3,  /* 1 / (1 + exp(-x)), relative error <= 1e-6 for
                            results >= FLT_MIN; never overflows; 0 and 1 at ±inf */
  SC_UNARY_CLIP = 4,     /* min(max(x, clip_min), clip_max) (ONNX Clip) */
  SC_UNARY_LEAKY_RELU = 5,   /* x < 0 ? a*x : x, a = clip_min (ONNX LeakyRelu alpha) */
  SC_UNARY_HARD_SIGMOID = 6, /* max(0, min(1, a*x + b)), a = clip_min, b = clip_max */
  SC_UNARY_HARD_SWISH = 7,   /* x * max(0, min(1, x/6 + 1/2)) */
  SC_UNARY_TANH = 8,         /* tanh(x), relative error <= 1e-6 */
  SC_UNARY_SILU = 9,         /* x * sigmoid(x) (SiLU / Swish) */
} sc_unary;

/**
 * out[i] = kind(in[i]) for i < count. clip_min / clip_max are read for
 * SC_UNARY_CLIP (use ±INFINITY for a missing bound; clip_min > clip_max gives
 * clip_max everywhere, as ONNX Runtime does) and carry the parameters of
 * SC_UNARY_LEAKY_RELU and SC_UNARY_HARD_SIGMOID; where read, NaN is
 * SC_INVALID_ARGUMENT. In place allowed.
 */
sc_status sc_activation_apply(int64_t count, const float *in, float *out, sc_unary kind,
                              float clip_min, float clip_max, int32_t threads);

/**
 * Residual add: out[i] = activation(a[i] + b[i]) for i < count.
 * activation: SC_ACTIVATION_NONE / RELU / RELU6. In place allowed (out == a
 * and/or out == b).
 */
sc_status sc_add(int64_t count, const float *a, const float *b, sc_activation activation,
                 float *out, int32_t threads);

/**
 * Squeeze-excitation scale: out[b, ch, i] = in[b, ch, i] * scale[b*c + ch].
 * in/out [n, c, hw], scale [n, c]. In place allowed.
 */
sc_status sc_channel_scale(int32_t n, int32_t c, int64_t hw, const float *in,
                           const float *scale, float *out, int32_t threads);

/* --------------------------------------------------------------- layout */

/**
 * Concatenation along channels: out[b] = (inputs[0][b], inputs[1][b], ...).
 * inputs[k] [n, channels[k], hw]; out [n, sum(channels), hw].
 * count_inputs >= 1; channels[k] >= 0 (an input with 0 channels may be NULL),
 * their sum >= 1. out must not overlap any input.
 */
sc_status sc_concat_channels(int32_t n, int32_t count_inputs, const float *const *inputs,
                             const int32_t *channels, int64_t hw, float *out,
                             int32_t threads);

/**
 * Channel shuffle (ShuffleNet; ONNX reshape [n, groups, c/groups, hw] ->
 * transpose -> reshape): out channel j*groups + g = in channel g*(c/groups) + j.
 * c divisible by groups (>= 1). Not in place: out must not overlap in.
 */
sc_status sc_channel_shuffle(int32_t n, int32_t c, int32_t groups, int64_t hw,
                             const float *in, float *out, int32_t threads);

/* ------------------------------------------------------ fully connected */

/**
 * Fully connected (ONNX Gemm with transB = 1, PyTorch Linear):
 *   out[b, o] = activation(bias[o] + sum_k in[b, k] * weight[o, k]).
 * in [n, in_features], weight [out_features, in_features] (row-major, as stored
 * by PyTorch and ONNX), bias [out_features] or NULL, out [n, out_features].
 * activation: SC_ACTIVATION_NONE / RELU / RELU6.
 * Batch 1 is a matrix-vector product bound by memory bandwidth: the weight is
 * streamed once, split over output features among threads. Larger batches are
 * register-blocked 4 outputs × 4 batch rows and tiled along in_features, so the
 * weight is still read from memory once. out must not overlap the inputs.
 */
sc_status sc_fully_connected(int32_t n, int32_t in_features, int32_t out_features,
                             const float *in, const float *weight, const float *bias,
                             sc_activation activation, float *out, int32_t threads);

/* --------------------------------------------------------------- softmax */

/**
 * Softmax of every row of a [rows, cols] matrix:
 *   out[r, j] = exp(in[r, j] - m) / sum_k exp(in[r, k] - m), m = max_k in[r, k]
 * (numerically stable for any finite input). A row holding a NaN, or a +inf, or
 * only -inf values is NaN throughout (as in PyTorch). In place allowed.
 */
sc_status sc_softmax(int64_t rows, int64_t cols, const float *in, float *out,
                     int32_t threads);

#ifdef __cplusplus
}
#endif
#endif /* SPARSECONV_LAYERS_H */
