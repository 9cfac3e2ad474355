/*
 * sparseconv.h — the public C interface of SparseConv's kernel library.
 *
 * Tensors are float32. Activations are NCHW: [batch, channels, height, width],
 * contiguous, row-major. Weights are OIHW: [out_channels, in_channels / groups,
 * kernel_h, kernel_w], as in PyTorch and ONNX.
 *
 * Usage:
 *   1. Describe a convolution in an sc_conv_desc and validate it with
 *      sc_conv_desc_output_size().
 *   2. Create an operator for one execution path with sc_conv_op_create():
 *      the weights are packed once, here, into the path's format.
 *   3. Ask sc_conv_op_workspace_size() how much scratch memory a run needs,
 *      allocate it once (64-byte aligned), and call sc_conv_op_run() as often
 *      as you like. A run never allocates.
 *   4. Free the operator with sc_conv_op_destroy().
 *
 * Every function reports failure through an sc_status; nothing in this library
 * asserts or aborts on bad input. An operator is immutable after creation: the
 * same operator may run concurrently from several threads as long as each run
 * has its own workspace and output.
 */
#ifndef SPARSECONV_H
#define SPARSECONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Result of every fallible call. */
typedef enum sc_status {
  SC_OK = 0,
  /** A null pointer, a non-positive size, channels not divisible by groups,
      an output smaller than 1×1, a workspace that is too small, ... */
  SC_INVALID_ARGUMENT = 1,
  /** An allocation failed. */
  SC_OUT_OF_MEMORY = 2,
  /** A size computation would overflow (element counts are limited to
      2^31 - 1 per dimension product handed to a kernel, bytes to SIZE_MAX). */
  SC_SIZE_OVERFLOW = 3,
  /** The path cannot run this shape (e.g. depthwise on a non-depthwise
      convolution) or the requested instruction set is not available. */
  SC_UNSUPPORTED = 4,
} sc_status;

/** A short English description of a status, for error messages. */
const char *sc_status_string(sc_status status);

/** Element-wise function fused into the end of a convolution. */
typedef enum sc_activation {
  SC_ACTIVATION_NONE = 0,
  SC_ACTIVATION_RELU = 1,   /* max(x, 0) */
  SC_ACTIVATION_RELU6 = 2,  /* min(max(x, 0), 6) */
} sc_activation;

/** Instruction sets with kernels of their own. */
typedef enum sc_isa {
  SC_ISA_AUTO = 0,    /* the best the CPU supports */
  SC_ISA_SCALAR = 1,  /* plain C, any CPU */
  SC_ISA_AVX2 = 2,    /* AVX2 + FMA */
  SC_ISA_AVX512 = 3,  /* AVX-512 F/VL/BW/DQ */
} sc_isa;

/** The best instruction set this CPU supports (never SC_ISA_AUTO). */
sc_isa sc_cpu_isa(void);
/** "scalar", "avx2", "avx512" or "auto". */
const char *sc_isa_name(sc_isa isa);
/** The CPU's brand string (e.g. "AMD EPYC 9R45"), or "unknown". */
const char *sc_cpu_name(void);
/** 1 when the library was compiled with OpenMP, 0 when it runs serially. */
int sc_openmp_enabled(void);
/** Threads a run uses when asked for 0: OpenMP's default (all cores), or 1. */
int32_t sc_default_threads(void);
/** Asks the OpenMP runtime to bind its threads one per core
    (OMP_PROC_BIND=spread, OMP_PLACES=cores) unless the environment sets
    either variable. The runtime reads them once, when it starts: call this
    first thing in a program, before any other call of this library and
    before other threads run (it calls setenv). Returns 1 when it set them,
    0 otherwise (already set, or no OpenMP). */
int sc_bind_threads(void);
/** The thread binding in effect ("false", "true", "primary", "close",
    "spread"; "none" without OpenMP). Starts the OpenMP runtime. */
const char *sc_thread_binding(void);

/** 64-byte aligned memory for tensors and workspaces; NULL on failure.
    Free with sc_aligned_free. The calloc variant zeroes it. */
void *sc_aligned_alloc(size_t bytes);
void *sc_aligned_calloc(size_t bytes);
void sc_aligned_free(void *p);

/**
 * One 2-D convolution, batch size excluded (given at run time).
 * Output size: out_h = (in_h + pad_top + pad_bottom - dilation_h*(kernel_h-1) - 1) / stride_h + 1,
 * likewise out_w.
 */
typedef struct sc_conv_desc {
  int32_t in_channels;
  int32_t out_channels;
  int32_t groups;        /* in_channels and out_channels divisible by it */
  int32_t in_h, in_w;
  int32_t kernel_h, kernel_w;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_top, pad_left, pad_bottom, pad_right; /* >= 0 */
} sc_conv_desc;

/** Validates desc and computes the output size. SC_INVALID_ARGUMENT or
    SC_SIZE_OVERFLOW when the description is unusable. */
sc_status sc_conv_desc_output_size(const sc_conv_desc *desc, int32_t *out_h, int32_t *out_w);

/**
 * The oracle: a serial, obviously-correct convolution.
 * input  [batch, in_channels, in_h, in_w]
 * weight [out_channels, in_channels/groups, kernel_h, kernel_w]
 * bias   [out_channels] or NULL
 * output [batch, out_channels, out_h, out_w]
 * Accumulates in double so that it is a trustworthy reference.
 */
sc_status sc_conv2d_reference(const sc_conv_desc *desc, int32_t batch,
                              const float *input, const float *weight,
                              const float *bias, sc_activation activation,
                              float *output);

/** Execution paths. See DESIGN.md for the granularities. */
typedef enum sc_path {
  SC_PATH_DENSE = 0,     /* any convolution: packed GEMM over (implicit) im2col */
  SC_PATH_DEPTHWISE = 1, /* groups == in_channels == out_channels: direct stencil */
  SC_PATH_GROUPED = 2,   /* groups > 1: per-group GEMMs in one parallel loop */
  SC_PATH_BLOCK1X2 = 3,  /* 1×2 blocks: a weight position in output channels 2j, 2j+1 */
  SC_PATH_KERNEL = 4,    /* whole kH×kW kernels kept or removed */
  SC_PATH_CHANNEL = 5,   /* whole filters removed: a smaller dense convolution */
  SC_PATH_ELEMENT = 6,   /* unstructured: any weight kept or removed */
} sc_path;
#define SC_PATH_COUNT 7

/** "dense", "depthwise", "grouped", "block1x2", "kernel", "channel", "element". */
const char *sc_path_name(sc_path path);

/** An immutable, packed convolution operator for one path. Opaque. */
typedef struct sc_conv_op sc_conv_op;

/**
 * Packs weights for one execution path.
 *
 * weight: OIHW, dense, with zeros where pruned.
 * mask:   NULL, or one byte per weight (same OIHW layout): nonzero = kept.
 *         With NULL, a weight is kept iff it is != 0. Sparse paths store what
 *         the mask keeps at their granularity: a 1×2 block is kept if either of
 *         its weights is kept, a kernel or a filter if any of its weights is.
 *         Callers that validated a mask at its granularity pass it here.
 *         Dense/depthwise/grouped paths ignore the mask (they store every weight).
 * bias:   NULL or [out_channels]; copied. The channel path writes a removed
 *         filter's output channel as the constant activation(bias), which is
 *         exact; pass a zero bias for filters pruned with their bias (as
 *         DESIGN.md's channel pruning does) to get exact-zero channels.
 * isa:    SC_ISA_AUTO, or a forced instruction set (SC_UNSUPPORTED if the CPU
 *         lacks it) so tests can check every variant.
 * The arrays are only read during this call.
 */
sc_status sc_conv_op_create(sc_path path, const sc_conv_desc *desc,
                            const float *weight, const uint8_t *mask,
                            const float *bias, sc_activation activation,
                            sc_isa isa, sc_conv_op **out_op);

void sc_conv_op_destroy(sc_conv_op *op);

/** Scratch bytes one run with this batch and thread count needs (0 = none).
    threads == 0 means sc_default_threads(). SIZE_MAX on overflow. */
size_t sc_conv_op_workspace_size(const sc_conv_op *op, int32_t batch, int32_t threads);

/**
 * Runs the convolution. input/output as for sc_conv2d_reference. workspace:
 * at least sc_conv_op_workspace_size(op, batch, threads) bytes, 64-byte aligned,
 * or NULL when that size is 0. threads == 0 means sc_default_threads().
 * input and output must not overlap.
 */
sc_status sc_conv_op_run(const sc_conv_op *op, int32_t batch,
                         const float *input, float *output,
                         void *workspace, size_t workspace_size, int32_t threads);

/** The path, description, activation and instruction set the operator runs with. */
sc_path sc_conv_op_path(const sc_conv_op *op);
sc_isa sc_conv_op_isa(const sc_conv_op *op);
/** Weights the operator multiplies (nonzeros kept by its format, padding of
    half blocks excluded); the dense paths report every weight. */
int64_t sc_conv_op_stored_weights(const sc_conv_op *op);
/** Bytes of packed weights and indices the operator holds. */
size_t sc_conv_op_packed_bytes(const sc_conv_op *op);
/** For every output channel, 1 if the operator writes exact zeros there (a
    filter removed by the channel path whose activation(bias) is 0), else 0.
    out: [out_channels]. */
sc_status sc_conv_op_dead_output_channels(const sc_conv_op *op, uint8_t *out);

#ifdef __cplusplus
}
#endif
#endif /* SPARSECONV_H */
