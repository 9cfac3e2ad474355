/* Internal declarations shared by the kernel families. Not installed. */
#ifndef SPARSECONV_INTERNAL_H
#define SPARSECONV_INTERNAL_H

#include "sparseconv.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define SC_ALIGNMENT 64

/* Target attributes for per-function ISA variants; no global -march. */
#if defined(__x86_64__) || defined(__i386__)
#define SC_X86 1
#define SC_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define SC_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#else
#define SC_X86 0
#define SC_TARGET_AVX2
#define SC_TARGET_AVX512
#endif

/* Copies of padded rows keep their short fills as loops: clang turns a
   zero-fill loop into a memset call, and on 7-wide rows (two fills each) the
   calls cost 2-3x the copy itself. */
#if defined(__has_attribute)
#if __has_attribute(no_builtin)
#define SC_NO_LIBC_FILL __attribute__((no_builtin("memset", "memcpy")))
#endif
#endif
#ifndef SC_NO_LIBC_FILL
#define SC_NO_LIBC_FILL
#endif

#define SC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SC_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Zero columns a padded row may share with the next row at stride 1: a
   row's right padding and the next row's left padding are both zeros, so
   with a row pitch up to this many columns short of the padded width, a
   read past a row's end lands on the next row's left padding. Bounded by
   the kernel's horizontal reach (no read goes further). */
static inline int64_t sc_shared_pad_columns(const sc_conv_desc *d) {
  if (d->stride_w != 1) return 0;
  const int64_t reach = (int64_t)(d->kernel_w - 1) * d->dilation_w;
  return SC_MIN(reach, (int64_t)SC_MIN(d->pad_left, d->pad_right));
}

/* n floats of v (memset for zeros): the constant planes of removed filters. */
static inline void sc_fill_floats(float *dst, size_t n, float v) {
  if (v == 0.0f) {
    memset(dst, 0, sizeof(float) * n);
    return;
  }
  for (size_t i = 0; i < n; i++) dst[i] = v;
}

/* sc_aligned_alloc / sc_aligned_calloc / sc_aligned_free: see sparseconv.h. */

/* Overflow-checked size arithmetic: return false on overflow. */
static inline bool sc_mul_size(size_t a, size_t b, size_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}
static inline bool sc_add_size(size_t a, size_t b, size_t *out) {
  return !__builtin_add_overflow(a, b, out);
}
/* Round up to a multiple of SC_ALIGNMENT bytes (for carving a workspace). */
static inline size_t sc_round_up(size_t bytes) {
  return (bytes + (SC_ALIGNMENT - 1)) & ~(size_t)(SC_ALIGNMENT - 1);
}

/* Resolved thread count for a run: threads <= 0 -> default. */
int32_t sc_resolve_threads(int32_t threads);

/* Static split of [0, n) among nthreads: thread t gets [*begin, *end). */
static inline void sc_split(int64_t n, int nthreads, int t, int64_t *begin, int64_t *end) {
  int64_t q = n / nthreads, r = n % nthreads;
  *begin = t * q + SC_MIN((int64_t)t, r);
  *end = *begin + q + (t < r ? 1 : 0);
}

/* Applies the fused activation to one value (scalar tails, reference). */
static inline float sc_activate(float x, sc_activation act) {
  if (act == SC_ACTIVATION_RELU) return x > 0.0f ? x : 0.0f;
  if (act == SC_ACTIVATION_RELU6) return x > 0.0f ? (x < 6.0f ? x : 6.0f) : 0.0f;
  return x;
}

/* Returns true when isa is usable on this CPU. */
bool sc_isa_supported(sc_isa isa);

/* Returns true when this CPU runs 512-bit operations as two 256-bit halves
   (AMD Zen 4: family 19h with AVX-512). There the 16-lane variants of some
   sparse engines measured slower than their 8-lane ones, so those engines
   ask this before taking op->isa's AVX-512 kernels (spconv.c, kernel.c). */
bool sc_cpu_avx512_halves(void);

/* Returns true when this CPU runs 256-bit operations as two 128-bit halves
   (AMD Zen 1 and Zen+: family 17h, models below 30h). The tunings measured
   only there (the sparse engine's prefetch, spconv.c) ask this. */
bool sc_cpu_avx2_halves(void);

/* Returns true on an Intel CPU with AVX-512 (full-width 512-bit units, 48 KiB
   L1 and 2 MiB L2 on Sapphire/Emerald Rapids, a slower shared L3 than AMD's).
   The tunings measured only there ask this. */
bool sc_cpu_intel_avx512(void);

/*
 * An operator. op.c fills the common fields and validates the description,
 * then calls the path's init function, which fills the path fields.
 */
struct sc_conv_op {
  /* common, set before init */
  sc_path path;
  sc_conv_desc desc;
  int32_t out_h, out_w;
  sc_activation activation;
  sc_isa isa;          /* resolved: never SC_ISA_AUTO */
  float *bias;         /* [out_channels], zeros when none was given; aligned */
  bool has_bias;

  /* set by the path's init */
  void *impl;
  size_t (*workspace_size)(const sc_conv_op *op, int32_t batch, int32_t threads);
  /* batch >= 1, threads >= 1 resolved, workspace checked by op.c */
  sc_status (*run)(const sc_conv_op *op, int32_t batch, const float *input,
                   float *output, void *workspace, int32_t threads);
  void (*destroy_impl)(void *impl);
  int64_t stored_weights;
  size_t packed_bytes;
  uint8_t *dead_outputs; /* NULL (none dead) or [out_channels] owned by op */
};

/*
 * Path init functions: pack weight (with the optional mask) into op->impl and
 * set the function pointers. weight, mask are the caller's arrays (read only
 * during init). On failure they free what they allocated and return a status;
 * op.c then frees the rest.
 */
sc_status sc_dense_init(sc_conv_op *op, const float *weight, const uint8_t *mask);
sc_status sc_depthwise_init(sc_conv_op *op, const float *weight, const uint8_t *mask);
sc_status sc_grouped_init(sc_conv_op *op, const float *weight, const uint8_t *mask);
/* For the channel path: makes a dense op (AVX2 or AVX-512 pixel-vector GEMM, one group)
   write its output channel m to plane out_plane[m] of output images of
   out_planes planes, and set each plane fill_plane[i] to fill_value[i] in
   the same run; its input stays [batch][in_channels][h][w]. SC_UNSUPPORTED
   where that op's form does not allow it (it is then unchanged). */
sc_status sc_dense_map_outputs(sc_conv_op *op, const int32_t *out_plane, int32_t out_planes,
                               const int32_t *fill_plane, const float *fill_value, int32_t nfill);
sc_status sc_block1x2_init(sc_conv_op *op, const float *weight, const uint8_t *mask);
/* A dense convolution on the direct sparse engine (dense rows, or pairs with
   every weight kept where rows measured slower; no im2col;
   mask ignored, every weight multiplied), reported as SC_PATH_DENSE: for
   shapes where an im2col copy costs as much as the GEMM, such as the few
   filters the channel path keeps of a spatial kernel. */
sc_status sc_dense_direct_init(sc_conv_op *op, const float *weight, const uint8_t *mask);
sc_status sc_kernel_init(sc_conv_op *op, const float *weight, const uint8_t *mask);
sc_status sc_channel_init(sc_conv_op *op, const float *weight, const uint8_t *mask);
sc_status sc_element_init(sc_conv_op *op, const float *weight, const uint8_t *mask);

typedef sc_status (*sc_init_fn)(sc_conv_op *op, const float *weight, const uint8_t *mask);
/* sc_conv_op_create with the path's packer chosen by the caller (an inner
   operator that needs one form of its path); op->path reads `path`. */
sc_status sc_conv_op_create_with(sc_init_fn init, sc_path path, const sc_conv_desc *desc,
                                 const float *weight, const uint8_t *mask, const float *bias,
                                 sc_activation activation, sc_isa isa, sc_conv_op **out_op);

/* Kept-ness of a weight under an optional mask. */
static inline bool sc_kept(const float *weight, const uint8_t *mask, size_t i) {
  return mask ? mask[i] != 0 : weight[i] != 0.0f;
}

#endif
