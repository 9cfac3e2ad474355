/* Microkernels of the dense and grouped paths (see dense.c for the formats). */
#ifndef SPARSECONV_DENSE_GEMM_H
#define SPARSECONV_DENSE_GEMM_H

#include "../common/internal.h"

/* Flags of one microkernel call. */
#define SC_GEMM_FIRST 1 /* start from the bias instead of loading C */
#define SC_GEMM_LAST 2  /* apply the activation before the final store */
#define SC_GEMM_RELU 4
#define SC_GEMM_RELU6 8

/*
 * C[mrows × ncols] (+)= A[MR × kc] · B[kc × ncols].
 *   a:    packed weights, a[k * MR + i] (rows >= mrows are zero padding)
 *   b:    b[k * ldb + j], j < ncols; read only up to ncols (masked), so b can
 *         be the caller's input tensor itself
 *   c:    c[i * ldc + j]; only i < mrows, j < ncols are touched
 *   bias: MR entries (padded), used with SC_GEMM_FIRST
 * ncols <= NR of the kernel.
 */
typedef void (*sc_gemm_ukernel)(size_t kc, const float *a, const float *b, size_t ldb, float *c,
                                size_t ldc, int mrows, int ncols, const float *bias, int flags);
/* The same with row i of C at c + crow[i] (a channel-pruned layer's kept
   filters written straight into their own output planes). */
typedef void (*sc_gemm_rows_ukernel)(size_t kc, const float *a, const float *b, size_t ldb,
                                     float *c, const int64_t *crow, int mrows, int ncols,
                                     const float *bias, int flags);

/* MR = 8, NR = 48 (three zmm along the pixels). */
void f32_gemm_8x48__avx512(size_t kc, const float *a, const float *b, size_t ldb, float *c,
                           size_t ldc, int mrows, int ncols, const float *bias, int flags);
/* The same, row i of C at c + crow[i] (see f32_gemm_6x16_rows__avx2). */
void f32_gemm_8x48_rows__avx512(size_t kc, const float *a, const float *b, size_t ldb, float *c,
                                const int64_t *crow, int mrows, int ncols, const float *bias,
                                int flags);
/* MR = 6, NR = 16 (two ymm). */
void f32_gemm_6x16__avx2(size_t kc, const float *a, const float *b, size_t ldb, float *c,
                         size_t ldc, int mrows, int ncols, const float *bias, int flags);
/* The same, row i of C at c + crow[i] (rows of a channel-pruned layer's kept
   filters written straight into their output planes). */
void f32_gemm_6x16_rows__avx2(size_t kc, const float *a, const float *b, size_t ldb, float *c,
                              const int64_t *crow, int mrows, int ncols, const float *bias,
                              int flags);
/* MR = 4, NR = 8. */
void f32_gemm_4x8__scalar(size_t kc, const float *a, const float *b, size_t ldb, float *c,
                          size_t ldc, int mrows, int ncols, const float *bias, int flags);

/*
 * Indirect variant for stride-1 convolutions over a zero-padded input copy
 * computed on the "wide" pixel grid (padded width, garbage columns included):
 * reduction row k of B is b + koff[k] (all NR lanes readable: the copy has
 * slack). Vector v of the tile stores only lanes vmask[v] (the real output
 * pixels), compressed to c + i * ldc + vdst[v]; with SC_GEMM_FIRST clear it
 * loads C back the same way.
 */
void f32_igemm_8x48__avx512(size_t kc, const float *a, const float *b, const int32_t *koff,
                            float *c, size_t ldc, int mrows, int nv, const uint16_t *vmask,
                            const int32_t *vdst, const float *bias, int flags);

/*
 * Channel-vector GEMM for small images: the vectors run along the output
 * channels, the pixels are broadcast, so a 7×7 image keeps every lane busy.
 * Tile = mp pixels (mp <= 8) × nv vectors of 16 output channels (nv <= 3).
 *   w:     w[v * vstride + k * 16 + l], 64-byte aligned (one [K][16] panel per
 *          vector of 16 output channels, so each stream is contiguous)
 *   x:     input plane base; pixel i of the tile, reduction row k is
 *          x[poff[i] + koff[k]] (a zero-padded copy, so every tap is in bounds)
 *   acc:   acc[i * 48 + 16 v + l], the running sums (bias with SC_GEMM_FIRST,
 *          activation applied with SC_GEMM_LAST); the caller transposes them
 *          into the NCHW output.
 *   bias:  bias[16 v + l]
 */
void f32_cvgemm_8x48__avx512(size_t kc, const float *w, size_t vstride, const float *x,
                             const int32_t *poff, const int32_t *koff, int mp, int nv, float *acc,
                             const float *bias, int flags);
/* The same contract on AVX2: each 16-channel vector is two ymm. */
void f32_cvgemm_8x48__avx2(size_t kc, const float *w, size_t vstride, const float *x,
                           const int32_t *poff, const int32_t *koff, int mp, int nv, float *acc,
                           const float *bias, int flags);

/*
 * Direct convolution for tiny groups (stride_w == 1), one tile of output
 * pixels for MR output channels of one group.
 * The tile is a list of nvec pixel vectors; vector v covers output row
 * oy[v], columns ox[v] .. ox[v] + ncol[v] - 1 (ncol <= vector width).
 */
typedef struct sc_gconv_tile {
  int nvec;
  int32_t oy[8], ox[8], ncol[8];
} sc_gconv_tile;

typedef struct sc_gconv_args {
  const float *input;  /* this image, first input channel of the group */
  float *output;       /* this image, first output channel of the tile */
  const float *w;      /* packed: w[((ky * kw + kx) * cin_g + ic) * MR + i] */
  const float *bias;   /* MR entries, padded */
  int32_t cin_g, mrows;
  int32_t in_h, in_w, out_hw, out_w, in_hw;
  int32_t kh, kw, stride_h, dil_h, dil_w, pad_top, pad_left;
  int flags; /* SC_GEMM_RELU / SC_GEMM_RELU6 */
} sc_gconv_args;

/* MR = 4 output channels, up to 6 zmm vectors of 16 pixels. */
void f32_gconv_4x96__avx512(const sc_gconv_args *args, const sc_gconv_tile *tile);
/* MR = 4, up to 2 ymm vectors of 8 pixels. */
void f32_gconv_4x16__avx2(const sc_gconv_args *args, const sc_gconv_tile *tile);
/* MR = 4, up to 1 vector of 8 pixels. */
void f32_gconv_4x8__scalar(const sc_gconv_args *args, const sc_gconv_tile *tile);

#endif
