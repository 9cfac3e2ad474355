/* Shared engine of the element-wise and block-1x2 sparse paths (see spconv.c). */
#ifndef SPARSECONV_SPCONV_H
#define SPARSECONV_SPCONV_H

#include "../common/internal.h"

/* Largest tile (vectors along the flattened output) any kernel instantiates. */
#define SC_SPCONV_TMAX 16
/* Most output channels of one dense row (sc_spconv_init_dense). */
#define SC_SPCONV_RMAX 6

/* One CSR row: one output channel (c1 < 0), a pair of output channels, or
   (dense rows) nc consecutive output channels c0 .. c0 + nc - 1. */
typedef struct sc_spconv_row {
  int32_t c0, c1;
  int32_t nnz;    /* nonzero positions (blocks for pairs) */
  int32_t nc;     /* dense rows: channels; 0 for single and pair rows */
  int64_t first;  /* index of the row's first position in idx[] */
  int64_t vfirst; /* index of the row's first value in val[] */
} sc_spconv_row;

/* Arguments of one microkernel call: one row, one tile of vectors. */
typedef struct sc_spconv_args {
  const int32_t *idx;    /* [nnz] element offsets into the image workspace */
  const float *w;        /* [nnz] (single) or [2*nnz] interleaved pairs */
  int64_t nnz;
  const float *in;       /* image workspace + first position of the tile */
  float b0, b1;          /* bias of c0, c1 */
  float *out0, *out1;    /* output planes of c0, c1 (image n) */
  const float *bias;     /* dense rows: [nc] biases */
  const int64_t *ooff;   /* dense rows: [nc] offset of each channel's plane from out0 */
  const uint16_t *vmask; /* [T] lanes of each vector that are real outputs */
  const int32_t *voff;   /* [T] output offset of each vector's first real lane */
  /* [T] 8-lane vectors only: bits 3i..3i+2 = the lane whose value goes to
     output lane i when the real lanes are squeezed together; bit 31 = a
     full-width store here would pass the band's last output (store exactly). */
  const uint32_t *vperm;
  int32_t lastn;         /* lanes of the tile's last vector inside the plane */
  /* 1: every vector of the tile is a whole run of real outputs and they
     follow each other in the output (vector v goes to voff[0] + v*lanes), so
     the stores need no per-vector lookups. Only a hint: kernels may ignore it. */
  int32_t contig;
  /* Input-channel chunks: partial sums [2][T][lanes] (64-byte aligned) read
     instead of the bias when pin != NULL, written instead of the output
     when pout != NULL. */
  const float *pin;
  float *pout;
  /* 1: the tile's window does not fit L1 and the CPU gains from asking for
     the lines of a position a few ahead (sc_cpu_avx2_halves); a hint. */
  int32_t prefetch;
  int32_t clamp;         /* apply [lo, hi] (ReLU/ReLU6) */
  float lo, hi;
} sc_spconv_args;

typedef void (*sc_spconv_ukernel)(const sc_spconv_args *a);

/* Writes one phase-plane row: row[rx] = src[xs + rx*sw] where that index is
   inside [0, in_w), else 0, for rx in [0, wq). src is the input row. */
typedef void (*sc_spconv_fill_row)(float *row, int32_t wq, const float *src, int64_t xs,
                                   int32_t sw, int32_t in_w);
void sc_spconv_fill_range(int32_t wq, int64_t xs, int32_t sw, int32_t in_w, int32_t *lo, int32_t *hi);
void sc_spconv_fill_row_scalar(float *row, int32_t wq, const float *src, int64_t xs, int32_t sw,
                               int32_t in_w);
/* Stride-1 rows, all inside the input: rows of pitch wq from source rows of
   pitch in_w, each pad_left zeros, in_w copied floats, then zeros to wq
   (wq >= pad_left + in_w). One call per plane, so short rows (7x7 layers)
   do not pay a call and edge logic per row; unpadded rows of equal pitch
   (1x1 layers) are copied as one run. */
typedef void (*sc_spconv_fill_rows1)(float *dst, int32_t wq, int32_t rows, const float *src,
                                     int32_t in_w, int32_t pad_left);
void sc_spconv_fill_rows1_scalar(float *dst, int32_t wq, int32_t rows, const float *src, int32_t in_w,
                                 int32_t pad_left);
/* The fastest stride-1 row copier an ISA can run (the kernel-level path's
   padded copies use it too): AVX2's on AVX2 and AVX-512, else plain C. */
sc_spconv_fill_rows1 sc_spconv_rows1_for(sc_isa isa);

/* Microkernel tables, indexed by tile size T in [1, tmax]; [0] unused.
   single: one output channel per row; pair: two channels sharing positions. */
typedef struct sc_spconv_kernels {
  int32_t lanes; /* floats per vector */
  int32_t tmax_single; /* tile used when every row is single */
  int32_t tmax_pair;   /* tile used when rows are pairs */
  sc_spconv_ukernel single[SC_SPCONV_TMAX + 1];
  /* Single rows from aligned loads only (AVX-512; NULL elsewhere): a
     position's vector is put together from the two aligned vectors around
     it (valignd), so no load splits a cache line. Any order of positions
     gives the right sums, but each change of idx % 16 from one position to
     the next costs a jump, so spconv.c sorts a row's positions by it
     (sort_by_shift). Tiles of fewer than 6 vectors (a band's short last
     ones) get the split-load kernel here: any order of positions suits it. */
  sc_spconv_ukernel single_aligned[SC_SPCONV_TMAX + 1];
  sc_spconv_ukernel pair[SC_SPCONV_TMAX + 1];
  sc_spconv_ukernel pair_aligned[SC_SPCONV_TMAX + 1]; /* pair from aligned loads, as single_aligned */
  /* Dense rows: dense[R][T] computes R channels (w: [nnz][R]) over a tile
     of T vectors, tmax_dense of them, or tmax_dense + 1 where a band's
     vector count is not a multiple (fewer in a band of tmax_dense + 2 to
     2 tmax_dense - 1 vectors), so kernels up to tmax_dense + 1 exist.
     tmax_dense = 0 where an ISA has none (the engine then runs dense
     weights as pairs). */
  int32_t tmax_dense;
  sc_spconv_ukernel dense[SC_SPCONV_RMAX + 1][SC_SPCONV_TMAX + 1];
  sc_spconv_fill_row fill_row;
  sc_spconv_fill_rows1 fill_rows1; /* AVX2's on AVX-512 (sc_spconv_rows1_for) */
} sc_spconv_kernels;

/* Fill a table the caller zeroed (pick_kernels in spconv.c): entries an ISA
   has no kernel for stay NULL, tmax_dense stays 0. */
void sc_spconv_kernels_scalar(sc_spconv_kernels *k);
#if SC_X86
void sc_spconv_kernels_avx2(sc_spconv_kernels *k);
void sc_spconv_kernels_avx512(sc_spconv_kernels *k);
#endif

/* Engine entry: pairs != 0 packs 1x2 blocks, else single weights. */
sc_status sc_spconv_init(sc_conv_op *op, const float *weight, const uint8_t *mask, int pairs);
/* Pairs with every weight kept (zeros multiplied, as a dense path must:
   0 x NaN is NaN): a dense convolution on the engine's pair kernels. */
sc_status sc_spconv_init_all_pairs(sc_conv_op *op, const float *weight);
/* A dense convolution (every weight multiplied, zeros included) on the same
   engine, for few filters or a shallow depth, where an im2col GEMM would copy
   as much as it computes: rows of up to SC_SPCONV_RMAX output channels
   share each input load (see sc_spconv_init_dense in spconv.c). */
sc_status sc_spconv_init_dense(sc_conv_op *op, const float *weight);
/* sc_dense_map_outputs (internal.h) for an operator of this engine. */
sc_status sc_spconv_map_outputs(sc_conv_op *op, const int32_t *out_plane, int32_t out_planes,
                                const int32_t *fill_plane, const float *fill_value, int32_t nfill);

#endif
