/* Microkernels of the kernel-level sparse path (see kernel.c for the format). */
#ifndef SPARSECONV_KCONV_H
#define SPARSECONV_KCONV_H

#include "../common/internal.h"

#include <stddef.h>

/* Largest tile any table instantiates: rows x vectors. */
#define SC_KCONV_RMAX 16
#define SC_KCONV_VMAX 8

/*
 * One microkernel call: one output tile of R rows x V vectors (R, V are
 * baked into the function) for one output channel, or for a run of them
 * where the table takes runs (see nch below). Input addresses are in the
 * source's flat coordinates: x + ics[k]*plane + toff[tap] + r*row_stride + lane.
 */
typedef struct sc_kconv_tile {
  const float *x;        /* source at the tile origin, in input channel 0's plane */
  size_t plane;          /* floats between two input channels of the source */
  ptrdiff_t row_stride;  /* floats between two tile rows in the source */
  const int32_t *ics;    /* [n] kept input channels (absolute) */
  const float *w;        /* [n][kk] weights of the kept kernels */
  const int32_t *toff;   /* [kk] tap offsets in the source */
  int32_t n, kk;
  float bias;
  float *out;            /* output at the tile origin */
  ptrdiff_t out_stride;  /* floats between two tile rows in the output */
  int32_t last_lanes;    /* real lanes of every row's last vector, 1..lanes */
  /* The tile spans whole output rows, out_stride apart: a row's last vector
     may be stored whole, its extra lanes landing on the next row's first
     columns, which this call stores afterwards (the last row stays masked). */
  int32_t whole_rows;
  sc_activation act;
  /* Input-channel blocking (gen, gen_ml, spmm and scalar only; s3 always
     starts from the bias and finishes): accumulate = start from the partial
     sums in out instead of the bias; finish = apply the activation. */
  int32_t accumulate, finish;
  /* Channel runs (tables with runs = 1 only): the call covers nch output
     channels; channel c uses kernels [kptr[c], kptr[c + 1]) of ics and w,
     which then point at kernel 0, starts from biases[c] and writes the tile
     at out + c * out_plane. The fields ics, w, n, bias above describe one
     channel when a table takes one channel per call. */
  int32_t nch;
  const int32_t *kptr;
  const float *biases;
  size_t out_plane;
} sc_kconv_tile;

typedef void (*sc_kconv_fn)(const sc_kconv_tile *t);

/* 1x1 direct (SpMM over pixels): one tile of V pixel vectors for a run of
   output channels [oc0, oc1), so the per-call cost is paid once per run. */
typedef struct sc_kconv_spmm {
  const float *x;        /* input at the tile's first pixel, channel 0 */
  size_t plane;          /* floats per input channel (= out_plane) */
  const int32_t *kb;     /* channel oc uses kernels [kb[oc*kstride], kb[oc*kstride + 1]) */
  ptrdiff_t kstride;
  const int32_t *ics;    /* [nnz] input channels */
  const float *w;        /* [nnz] weights */
  const float *bias;     /* [out_channels] */
  float *out;            /* output at the tile's first pixel, channel 0 */
  size_t out_plane;
  int32_t oc0, oc1;
  int32_t last_lanes;
  sc_activation act;
  int32_t accumulate, finish;
} sc_kconv_spmm;

typedef void (*sc_kconv_spmm_fn)(const sc_kconv_spmm *a);

/* Function tables indexed [R][V]; NULL where a tile does not fit the registers.
   gen: any taps (1 load per FMA); s3: 3x3, stride 1, dilation 1 in source
   coordinates (each loaded input row serves up to 3 output rows; AVX2
   tiles of fewer than 8 accumulators sum each kernel column apart so that
   their accumulators are not FMA-latency bound);
   gen_ml: R = 1 with masked loads on the last vector (reads a caller's tensor,
   so nothing past the last real lane may be touched). */
typedef struct sc_kconv_kernels {
  int32_t lanes, rv_max; /* floats per vector; largest R*V instantiated */
  sc_kconv_fn gen[SC_KCONV_RMAX + 1][SC_KCONV_VMAX + 1];
  sc_kconv_fn s3[SC_KCONV_RMAX + 1][SC_KCONV_VMAX + 1];
  sc_kconv_fn s3a[SC_KCONV_RMAX + 1][SC_KCONV_VMAX + 1]; /* s3, aligned rows */
  sc_kconv_fn gen_ml[SC_KCONV_VMAX + 1];
  /* 1x1 direct (kk = 1, R = 1): SpMM over pixels, [V][masked last vector];
     NULL where gen/gen_ml serve. */
  sc_kconv_spmm_fn spmm[SC_KCONV_VMAX + 1][2];
  int32_t spmm_v; /* pixel vectors per 1x1 tile */
  /* s3 tile limits when they differ from gen's (0: vectors 4, R*V rv_max).
     AVX2 keeps 3 weights beside the accumulators and spills past about 10. */
  int32_t s3_vmax, s3_rv_max;
  /* gen, s3, s3a and gen_ml take channel runs (see sc_kconv_tile.nch) */
  int32_t runs;
} sc_kconv_kernels;

#if SC_X86
void sc_kconv_kernels_avx2(sc_kconv_kernels *k);
void sc_kconv_kernels_avx512(sc_kconv_kernels *k);
#endif
/* Plain C, any tile: rows R, columns cols (no lane granularity). */
void sc_kconv_tile_scalar(const sc_kconv_tile *t, int32_t rows, int32_t cols);

#endif
