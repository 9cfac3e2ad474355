/*
 * Direct sparse convolution: the engine behind SC_PATH_ELEMENT and
 * SC_PATH_BLOCK1X2 (Park et al., ICLR 2017, with XNNPACK-style register tiles).
 *
 * Idea. Every convolution is rewritten as a stride-1, unpadded one over
 * "phase planes": for stride (sh, sw) the zero-padded input of each channel is
 * split into the phases (sy, sx) its taps actually use, plane[ry][rx] =
 * padded[ry*sh + sy][rx*sw + sx]. Tap (ky, kx) with dilation then reads
 * plane(dy % sh, dx % sw) at row oy + dy / sh, column ox + dx / sw, where
 * dy = ky*dh, dx = kx*dw. All planes share one row pitch Wq = out_w + max(dx/sw)
 * (less the zero columns one row's right padding can share with the next
 * row's left padding, at stride 1; see build_geometry),
 * so output position (oy, ox) is computed at the flattened "padded-width"
 * position p = oy*Wq + ox and a whole weight's contribution to consecutive
 * positions is one contiguous load per vector, with no bounds checks: the
 * columns ox >= out_w are garbage lanes, dropped when storing. A nonzero is
 * thus a single int32 element offset into the image workspace. 1x1, stride-1,
 * unpadded layers read the input itself (no copy): it already is the plane,
 * unless its planes would start off vector boundaries and it has two bands
 * or more (see build_geometry).
 *
 * Packed format (sc_spconv):
 *   rows[nrows]    CSR rows. Element path: one row per output channel (c1 = -1),
 *                  or on Zen 5 at high sparsity pair rows as below, a position
 *                  kept in either channel (element.c).
 *                  Block 1x2 path: one row per output-channel pair (2j, 2j+1)
 *                  of a group; an odd group's last channel is a single row (its
 *                  half blocks, the missing partner is a structural zero).
 *                  Dense rows (sc_spconv_init_dense, a dense convolution): one
 *                  row per nc <= SC_SPCONV_RMAX consecutive output channels of
 *                  a group, every position kept.
 *                  nnz = kept positions, first = start in idx[], vfirst = start
 *                  in val[].
 *   idx[]          per kept position, element offset in the image workspace:
 *                  (ci*nph + phase)*plane + (dy/sh)*Wq + dx/sw, ordered by input
 *                  channel then tap so a row walks memory forwards.
 *   val[]          weights: one per position for a single row, two interleaved
 *                  (w[c0], w[c1]) for a pair row; an unkept partner's value is
 *                  0 (element-wise rows packed as pairs rely on it). A
 *                  dense row: nc per position (w[c0] .. w[c0 + nc - 1]).
 *   ooff[out_channels] offset of each channel's output plane in an output
 *                  image (c * out_h * out_w, or where sc_spconv_map_outputs
 *                  put it).
 *   cost[nrows+1]  prefix sums of an estimated per-row cost, used to split the
 *                  rows among threads when there are too few pixel tiles.
 *   vmask[nvec], voff[nvec]  per output vector (lanes = 16 AVX-512, 8 otherwise)
 *                  of the flattened plane: the lanes that are real outputs
 *                  (p < M and p % Wq < out_w), and the output offset of the
 *                  first of them, oy*out_w + min(ox, out_w); real lanes of a
 *                  vector are consecutive in the output, so they are stored
 *                  compressed.
 *   tile[ntiles+1] the vectors of the plane cut into tiles of at most tmax
 *                  vectors, as evenly as possible (dense rows: tiles of tmax,
 *                  some of tmax + 1 where the count is not a multiple).
 *
 * Run. One parallel region: (1) the threads build the phase planes of every
 * (image, input channel) into the workspace (each thread its own, or one
 * shared copy and a barrier, see spconv_run); (2) work items (row slice,
 * image, band) split statically by thread, or vector slices where few rows
 * would split unevenly (vector_slices); per tile, every row of the slice runs
 * a microkernel that keeps the tile's accumulators (T vectors, one, two or nc
 * channels) in registers, initialized with the bias, walks the row's nonzeros
 * (one broadcast weight per FMA run; a pair row shares each input load
 * between two channels, a dense row between nc) and stores with the fused
 * activation. A mapped output's removed planes are filled first, in the same
 * region. Tiles outermost keep the input window of the tile in L1/L2 while
 * the weights stream. A
 * single band read in place with small weights, or Zen 4's 8-lane dense rows
 * of a 7x7 image (spans), is instead cut into one run of (tile, row) work per
 * thread, tile-major.
 */
#include "spconv.h"

#include <string.h>

/* L2 bytes one thread's band of phase planes may take (of 1 MiB on Zen 4/5). */
#define SC_SPCONV_BAND_BYTES (192 * 1024)

/* The vectors of one band of output rows. */
typedef struct sc_spconv_band {
  int32_t rows;    /* output rows */
  int32_t nvec, ntiles;
  int64_t m;       /* computed positions: rows * wq */
  int32_t *tile;   /* [ntiles+1] first vector of each tile */
  uint16_t *vmask; /* [nvec] */
  int32_t *voff;   /* [nvec] offset from the band's first output row */
  uint32_t *vperm; /* [nvec] squeeze permutation (8 lanes only, else NULL) */
  uint8_t *contig; /* [ntiles] the tile's vectors are whole and consecutive */
} sc_spconv_band;

typedef struct sc_spconv {
  int pairs;
  int dense; /* dense rows (sc_spconv_init_dense) */
  sc_spconv_kernels k;
  int32_t tmax;
  /* packed weights */
  int32_t nrows;
  sc_spconv_row *rows;
  /* Outputs: channel c's plane starts ooff[c] floats into an output image
     of out_planes planes; with a map (sc_spconv_map_outputs) the planes
     fill_plane[nfill] are set to fill_value[] in the same run. */
  int64_t *ooff;
  int32_t out_planes, nfill;
  int32_t *fill_plane;
  float *fill_value;
  int64_t *cost;
  int32_t *idx;
  float *val;
  int64_t npos, nval;
  /* input-channel chunks (nch == 1: none) */
  int32_t nch, cc, rgroup;
  int prefetch; /* sc_spconv_args.prefetch for every call (build_chunks) */
  int prefetch_next; /* direct 1x1 rows prefetch the next tile's window (build_chunks) */
  int32_t *cstart; /* [nrows][nch+1] position index of each chunk, row-relative */
  int64_t slot;    /* floats of one row's partial sums */
  /* geometry */
  sc_isa isa; /* of the kernels in k: op->isa, or AVX2 where spconv_isa says */
  int direct;
  int spans; /* one band: threads split (tile, row) work tile-major, see spconv_run and spconv_init */
  int32_t nsy, nsx;
  int32_t *phase_y, *phase_x; /* [nsy], [nsx]: the phases in use */
  int32_t maxoy, maxox;
  int32_t wq;     /* row pitch of every plane */
  int32_t rb, nb; /* output rows per band, bands per image */
  int32_t hb;     /* plane rows a band needs */
  int64_t plane;  /* floats per phase plane of a band (direct: of the input) */
  int64_t chan;   /* floats per input channel (all its phases) */
  int64_t buf;    /* floats of one thread's band buffer (0 when direct) */
  sc_spconv_band band[2]; /* full bands, last band */
} sc_spconv;

static void spconv_destroy(void *p) {
  sc_spconv *s = (sc_spconv *)p;
  if (!s) return;
  sc_aligned_free(s->rows);
  sc_aligned_free(s->ooff);
  sc_aligned_free(s->fill_plane);
  sc_aligned_free(s->fill_value);
  sc_aligned_free(s->cost);
  sc_aligned_free(s->idx);
  sc_aligned_free(s->cstart);
  sc_aligned_free(s->val);
  sc_aligned_free(s->phase_y);
  sc_aligned_free(s->phase_x);
  for (int f = 0; f < 2; f++) {
    sc_aligned_free(s->band[f].tile);
    sc_aligned_free(s->band[f].vmask);
    sc_aligned_free(s->band[f].voff);
    sc_aligned_free(s->band[f].vperm);
    sc_aligned_free(s->band[f].contig);
  }
  sc_aligned_free(s);
}

/* Bytes of one thread's partial sums (chunked rows only). */
static size_t psum_bytes(const sc_spconv *s) {
  return s->nch > 1 ? sc_round_up(sizeof(float) * (size_t)s->slot * (size_t)s->rgroup) : 0;
}

/* Per thread: its band buffer, then its partial sums. */
static size_t thread_bytes(const sc_spconv *s) {
  return sc_round_up(sizeof(float) * (size_t)s->buf) + psum_bytes(s);
}

static size_t spconv_workspace_size(const sc_conv_op *op, int32_t batch, int32_t threads) {
  (void)batch;
  const sc_spconv *s = (const sc_spconv *)op->impl;
  size_t n;
  if (!sc_mul_size(thread_bytes(s), (size_t)threads, &n)) return SIZE_MAX;
  return n;
}

/* Builds rows [r_lo, r_hi) of the phase planes of input channels [c0, c1)
   of band `b` of one image into dst. */
static void fill_band(const sc_conv_op *op, const sc_spconv *s, const float *img, int32_t b,
                      float *dst, int32_t c0, int32_t c1, int64_t r_lo, int64_t r_hi) {
  const sc_conv_desc *d = &op->desc;
  const int32_t wq = s->wq;
  const int64_t ry0 = (int64_t)b * s->rb;
  for (int32_t ci = c0; ci < c1; ci++) {
    const float *src = img + (int64_t)ci * d->in_h * d->in_w;
    for (int32_t a = 0; a < s->nsy; a++) {
      for (int32_t x = 0; x < s->nsx; x++) {
        float *pl = dst + ci * s->chan + ((int64_t)a * s->nsx + x) * s->plane;
        const int64_t xs = (int64_t)s->phase_x[x] - d->pad_left;
        if (d->stride_w == 1 && xs <= 0 && s->wq >= d->in_w - xs) {
          /* rows [ra, rz) lie inside the input; the rest are zero rows */
          const int64_t y0 = ry0 * d->stride_h + s->phase_y[a] - d->pad_top;
          int64_t ra = r_lo, rz = r_hi;
          while (ra < rz && y0 + ra * d->stride_h < 0) ra++;
          while (rz > ra && y0 + (rz - 1) * d->stride_h >= d->in_h) rz--;
          if (ra > r_lo) memset(pl + r_lo * wq, 0, sizeof(float) * (size_t)((ra - r_lo) * wq));
          if (rz > ra && d->stride_h == 1)
            s->k.fill_rows1(pl + ra * wq, wq, (int32_t)(rz - ra), src + (y0 + ra) * d->in_w, d->in_w,
                            (int32_t)-xs);
          else
            for (int64_t r = ra; r < rz; r++)
              s->k.fill_rows1(pl + r * wq, wq, 1, src + (y0 + r * d->stride_h) * d->in_w, d->in_w,
                              (int32_t)-xs);
          if (rz < r_hi) memset(pl + rz * wq, 0, sizeof(float) * (size_t)((r_hi - rz) * wq));
          continue;
        }
        for (int64_t r = r_lo; r < r_hi; r++) {
          float *row = pl + (int64_t)r * wq;
          const int64_t y = (ry0 + r) * d->stride_h + s->phase_y[a] - d->pad_top;
          if (y < 0 || y >= d->in_h) memset(row, 0, sizeof(float) * (size_t)wq);
          else s->k.fill_row(row, wq, src + y * d->in_w, xs, d->stride_w, d->in_w);
        }
      }
    }
  }
}

/* First row r with cost[r] >= target (cost is non-decreasing). */
static int32_t lower_row(const sc_spconv *s, int64_t target) {
  int32_t lo = 0, hi = s->nrows;
  while (lo < hi) {
    int32_t mid = lo + (hi - lo) / 2;
    if (s->cost[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* One row (a channel, a pair or dense channels) over the tile of T vectors
   set up in a. */
static inline __attribute__((always_inline)) void run_row(const sc_conv_op *op, const sc_spconv *s,
                                                          sc_spconv_args *a, int32_t r, float *out_band,
                                                          sc_spconv_ukernel ks, sc_spconv_ukernel kp,
                                                          int32_t T) {
  const sc_spconv_row *row = &s->rows[r];
  a->idx = s->idx + row->first;
  a->w = s->val + row->vfirst;
  a->nnz = row->nnz;
  if (row->nc) {
    a->out0 = out_band;
    a->bias = op->bias + row->c0;
    a->ooff = s->ooff + row->c0;
    s->k.dense[row->nc][T](a);
    return;
  }
  a->out0 = out_band + s->ooff[row->c0];
  a->b0 = op->bias[row->c0];
  if (row->c1 >= 0) {
    a->b1 = op->bias[row->c1];
    a->out1 = out_band + s->ooff[row->c1];
    kp(a);
  } else {
    ks(a);
  }
}

/* Runs one band's work from (tile t0, row r0) to (tile t1, row r1), rows
   [rows0, rows1) of the tiles between: rows [r0, r1) of every tile for a
   row slice (t0 = 0, t1 = last tile), or a tile-major span. */
static void run_band(const sc_conv_op *op, const sc_spconv *s, const float *in, float *out_band,
                     const sc_spconv_band *bd, float *psum, int32_t rows0, int32_t rows1,
                     int32_t t0, int32_t r0, int32_t t1, int32_t r1) {
  const int32_t lanes = s->k.lanes;
  sc_spconv_args a;
  a.clamp = op->activation != SC_ACTIVATION_NONE;
  a.prefetch = s->prefetch;
  a.lo = 0.0f;
  a.hi = op->activation == SC_ACTIVATION_RELU6 ? 6.0f : __builtin_inff();
  for (int32_t t = t0; t <= t1; t++) {
    const int32_t rb = t == t0 ? r0 : rows0, re = t == t1 ? r1 : rows1;
    if (rb >= re) continue;
    const int32_t v0 = bd->tile[t], T = bd->tile[t + 1] - v0;
    a.in = in + (int64_t)v0 * lanes;
    a.vmask = bd->vmask + v0;
    a.voff = bd->voff + v0;
    a.vperm = bd->vperm ? bd->vperm + v0 : NULL;
    a.lastn = t == bd->ntiles - 1 ? (int32_t)(bd->m - (int64_t)(bd->nvec - 1) * lanes) : lanes;
    a.contig = bd->contig[t];
    const sc_spconv_ukernel ks = s->k.single[T], kp = s->k.pair[T];
    if (s->nch == 1) {
      a.pin = NULL;
      a.pout = NULL;
      /* Direct 1x1 layers read the caller's input, typically not in cache:
         while this tile runs, the rows take turns prefetching the next
         tile's window of every input channel, which the rows then read in a
         data-dependent order no hardware prefetcher follows (only on CPUs
         without AVX-512; the AVX-512 ones ran faster without, build_chunks). */
      if (s->prefetch_next && t + 1 <= t1) {
        const int32_t cin = op->desc.in_channels;
        const int64_t wbytes = (int64_t)(bd->tile[t + 2] - bd->tile[t + 1]) * lanes * 4;
        const char *next = (const char *)(in + (int64_t)bd->tile[t + 1] * lanes);
        const int32_t per_row = (cin + (re - rb) - 1) / SC_MAX(re - rb, 1);
        for (int32_t r = rb; r < re; r++) {
          const int32_t c0 = (r - rb) * per_row, c1 = SC_MIN(c0 + per_row, cin);
          for (int32_t c = c0; c < c1; c++) {
            const char *p = next + (int64_t)c * s->plane * 4;
            for (int64_t off = 0; off < wbytes; off += 64) __builtin_prefetch(p + off, 0, 3);
          }
          run_row(op, s, &a, r, out_band, ks, kp, T);
        }
      } else {
        for (int32_t r = rb; r < re; r++) run_row(op, s, &a, r, out_band, ks, kp, T);
      }
      continue;
    }
    /* Chunked: a group of rows walks the input channels chunk by chunk, so
       the chunk's input window stays in L1 while every row of the group
       uses it; the rows' partial sums wait in psum between chunks. */
    const int32_t nch = s->nch;
    for (int32_t g0 = rb; g0 < re; g0 += s->rgroup) {
      const int32_t g1 = SC_MIN(g0 + s->rgroup, re);
      for (int32_t c = 0; c < nch; c++) {
        for (int32_t r = g0; r < g1; r++) {
          const sc_spconv_row *row = &s->rows[r];
          const int32_t *cs = s->cstart + (int64_t)r * (nch + 1);
          float *ps = psum + (int64_t)(r - g0) * s->slot;
          a.idx = s->idx + row->first + cs[c];
          a.nnz = cs[c + 1] - cs[c];
          a.pin = c == 0 ? NULL : ps;
          a.pout = c == nch - 1 ? NULL : ps;
          a.b0 = op->bias[row->c0];
          a.out0 = out_band + s->ooff[row->c0];
          if (row->c1 >= 0) {
            a.w = s->val + row->vfirst + 2 * (int64_t)cs[c];
            a.b1 = op->bias[row->c1];
            a.out1 = out_band + s->ooff[row->c1];
            kp(&a);
          } else {
            a.w = s->val + row->vfirst + cs[c];
            ks(&a);
          }
        }
      }
    }
  }
}

/* The (tile, row) where work x of a band starts, the band's work being its
   tiles in order, each tile's rows weighted by cost x tile vectors. Adjacent
   threads compute the same point for their shared boundary. */
static void span_point(const sc_spconv *s, const sc_spconv_band *bd, int64_t x, int32_t *tile,
                       int32_t *row) {
  const int64_t total = s->cost[s->nrows];
  int32_t t = 0;
  int64_t c = 0;
  while (t < bd->ntiles && c + (int64_t)(bd->tile[t + 1] - bd->tile[t]) * total <= x) {
    c += (int64_t)(bd->tile[t + 1] - bd->tile[t]) * total;
    t++;
  }
  int32_t r = 0;
  if (t < bd->ntiles) {
    const int64_t T = bd->tile[t + 1] - bd->tile[t];
    r = lower_row(s, (x - c + T - 1) / T);
    if (r >= s->nrows) {
      t++;
      r = 0;
    }
  }
  *tile = t;
  *row = r;
}

/* Whether vectors [a, b) of a band are whole runs of real outputs that
   follow each other in the output (sc_spconv_args.contig). */
static uint8_t vectors_contig(const sc_spconv_band *bd, int32_t a, int32_t b, int32_t lanes) {
  const unsigned full = lanes == 16 ? 0xFFFFu : 0xFFu;
  for (int32_t v = a; v < b; v++)
    if (bd->vmask[v] != full || bd->voff[v] != bd->voff[a] + (v - a) * lanes) return 0;
  return 1;
}

/* Every row over vectors [v0, v1) of a band, in tiles of at most tmax
   vectors cut as evenly as possible: one thread's share of a band split by
   vectors (see spconv_run). */
static void run_band_vectors(const sc_conv_op *op, const sc_spconv *s, const float *in,
                             float *out_band, const sc_spconv_band *bd, float *psum, int32_t v0,
                             int32_t v1) {
  const int32_t lanes = s->k.lanes, n = v1 - v0;
  if (n <= 0) return;
  const int32_t ntiles = (n + s->tmax - 1) / s->tmax;
  for (int32_t t = 0; t < ntiles; t++) {
    const int32_t a = v0 + (int32_t)((int64_t)t * n / ntiles), b = v0 + (int32_t)((int64_t)(t + 1) * n / ntiles);
    int32_t tile[2] = {0, b - a};
    uint8_t contig = vectors_contig(bd, a, b, lanes);
    /* A band of this one tile, its arrays from vector a. The 8-lane
       kernels' full-width stores spill into the outputs of the vectors that
       follow, which the same thread overwrites later, unless they are the
       next slice's: a vector whose full width would reach them stores
       exactly (several can: 1-wide rows of 4 put 2 outputs in a vector). */
    uint32_t vperm[SC_SPCONV_TMAX];
    sc_spconv_band one = *bd;
    one.tile = tile;
    one.ntiles = 1;
    one.contig = &contig;
    one.vmask = bd->vmask + a;
    one.voff = bd->voff + a;
    if (bd->vperm) {
      memcpy(vperm, bd->vperm + a, sizeof(uint32_t) * (size_t)(b - a));
      if (v1 < bd->nvec)
        for (int32_t v = a; v < b; v++)
          if ((int64_t)bd->voff[v] + lanes > (int64_t)bd->voff[v1]) vperm[v - a] |= 1u << 31;
      one.vperm = vperm;
    }
    one.nvec = b - a;
    one.m = b == bd->nvec ? bd->m - (int64_t)a * lanes : (int64_t)(b - a) * lanes;
    run_band(op, s, in + (int64_t)a * lanes, out_band, &one, psum, 0, s->nrows, 0, 0, 0, s->nrows);
  }
}

/* Zen 5: 16-lane rows on an AVX-512 CPU that neither splits 512-bit
   operations (Zen 4) nor is Intel's. */
static bool zen5_rows(const sc_spconv *s) {
  return s->k.lanes == 16 && !sc_cpu_avx512_halves() && !sc_cpu_intel_avx512();
}

/* Rows [r0, r1) of row slice cs of ncs (slices of equal cost). */
static void row_slice(const sc_spconv *s, int64_t cs, int32_t ncs, int32_t *r0, int32_t *r1) {
  const int64_t total = s->cost[s->nrows];
  *r0 = cs == 0 ? 0 : lower_row(s, (total * cs + ncs - 1) / ncs);
  *r1 = cs == ncs - 1 ? s->nrows : lower_row(s, (total * (cs + 1) + ncs - 1) / ncs);
}

/* Row slices that leave a thread more than 4 % over an even share (13
   pair rows, the 26 kept filters of 3x3 256@14: 7 and 6) give way to
   vector slices, every thread running every row over a share of each
   band's vectors, where each share keeps SC_SPCONV_VSLICE_MIN vectors.
   Probe, Zen 4, 2 threads, channel-level 3x3 256@14 at 90 %: 0.141 ->
   0.135 ms (each thread 7 vectors, two tiles of 7 in place of one of 14). */
#define SC_SPCONV_VSLICE_MIN 6
static int vector_slices(const sc_spconv *s, int32_t ncs) {
  if (ncs <= 1 || s->band[0].nvec < SC_SPCONV_VSLICE_MIN * ncs ||
      s->band[1].nvec < SC_SPCONV_VSLICE_MIN * ncs)
    return 0;
  const int64_t total = s->cost[s->nrows];
  int64_t worst = 0;
  for (int32_t cs = 0; cs < ncs; cs++) {
    int32_t r0, r1;
    row_slice(s, cs, ncs, &r0, &r1);
    worst = SC_MAX(worst, s->cost[r1] - s->cost[r0]);
  }
  return worst * ncs * 100 > total * 104;
}

/* The two threads' halves of n tiles for claim_tile: next (low 32 bits) and
   end (high) of each, on separate cache lines, [0] and [8]. */
static void halves_init(uint64_t halves[16], int64_t n) {
  halves[0] = (uint64_t)(n / 2) << 32;
  halves[8] = (uint64_t)(n / 2) | ((uint64_t)n << 32);
}

/* The next tile for thread tid (0 or 1), -1 when none is left: the next one
   of its own half, walking forward; once that half is done (*mine_done),
   the last one left of the other half. Next is advanced only by its
   thread, end lowered only by the other one. */
static int64_t claim_tile(uint64_t halves[16], int tid, int *mine_done) {
  for (;;) {
    uint64_t *h = &halves[8 * (*mine_done ? 1 - tid : tid)];
    uint64_t v = __atomic_load_n(h, __ATOMIC_RELAXED), w;
    int64_t i;
    do {
      const uint64_t next = v & 0xFFFFFFFFu, end = v >> 32;
      if (next >= end) {
        i = -1;
        break;
      }
      i = *mine_done ? (int64_t)end - 1 : (int64_t)next;
      w = *mine_done ? next | ((end - 1) << 32) : v + 1;
    } while (!__atomic_compare_exchange_n(h, &v, w, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    if (i >= 0 || *mine_done) return i;
    *mine_done = 1;
  }
}

static sc_status spconv_run(const sc_conv_op *op, int32_t batch, const float *input,
                            float *output, void *workspace, int32_t threads) {
  const sc_spconv *s = (const sc_spconv *)op->impl;
  const sc_conv_desc *d = &op->desc;
  const int64_t bands = (int64_t)batch * s->nb;
  /* Bands alone balance well when there are many of them or they divide
     evenly; otherwise the rows are cut too, into slices of equal cost (each
     thread then builds the band's planes for itself), or, for spans (see
     spconv_init), the band's tile-major work. */
  int32_t ncs = 1;
  const int spans = s->spans && bands == 1 && threads > 1;
  if (!spans && threads > 1 && bands % threads != 0 && bands < 8 * (int64_t)threads)
    ncs = SC_MIN(threads, SC_MAX(s->nrows, 1));
  const int vslices = vector_slices(s, ncs);
  /* Zen 5, two threads, a direct read over several bands: each thread
     walks half of the bands' tiles, then takes the other half's last tiles
     one at a time, instead of a fixed half of the bands each. The two vCPUs
     of a cloud host run at different speeds from moment to moment, and with
     no planes to build a tile is free to move; a fixed split waits for the
     slower one (and 1x1 at 56x56 in five bands of 10 rows and one of 6 gives
     one thread 15 % more work besides). Taking tiles one at a time from a
     shared counter instead (the threads' tiles interleaved) ran no faster:
     each thread's walk forward through its own rows matters. 16 lanes only:
     an 8-lane tile's full-width stores spill into the next tile, which the
     other thread may already have written. */
  const int64_t tiles_img = (int64_t)(s->nb - 1) * s->band[0].ntiles + s->band[1].ntiles;
  const int dynamic = s->direct && !spans && ncs == 1 && threads == 2 && s->nb > 1 && zen5_rows(s) &&
                      tiles_img * batch < INT32_MAX;
  __attribute__((aligned(64))) uint64_t halves[16];
  if (dynamic) halves_init(halves, tiles_img * batch);
  const int64_t items = bands * ncs;
  const int64_t in_img = (int64_t)d->in_channels * d->in_h * d->in_w;
  const int64_t out_img = (int64_t)s->out_planes * op->out_h * op->out_w;
  const int64_t total = s->cost[s->nrows];
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
#ifdef _OPENMP
    const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
#else
    const int tid = 0, nt = 1;
#endif
    char *mine = (char *)workspace + thread_bytes(s) * (size_t)tid;
    float *buf = s->direct ? NULL : (float *)mine;
    float *psum = s->nch > 1 ? (float *)(mine + sc_round_up(sizeof(float) * (size_t)s->buf)) : NULL;
    if (s->nfill) {
      /* the planes of removed channels (a mapped output); the bands never
         write them */
      const int64_t ohw = (int64_t)op->out_h * op->out_w;
      int64_t f0, f1;
      sc_split((int64_t)batch * s->nfill, nt, tid, &f0, &f1);
      for (int64_t f = f0; f < f1; f++) {
        const int64_t n = f / s->nfill, j = f % s->nfill;
        sc_fill_floats(output + n * out_img + (int64_t)s->fill_plane[j] * ohw, (size_t)ohw,
                       s->fill_value[j]);
      }
    }
    int64_t b, e;
    sc_split(items, nt, tid, &b, &e);
    if (spans) {
      /* one band, read in place or built whole by each thread: this
         thread's share of its tile-major work */
      const sc_spconv_band *bd = &s->band[1];
      const int64_t work = (int64_t)bd->nvec * total;
      int32_t t0, r0, t1, r1;
      span_point(s, bd, work * tid / nt, &t0, &r0);
      span_point(s, bd, work * (tid + 1) / nt, &t1, &r1);
      if (r1 == 0) { /* ends where tile t1 starts */
        t1--;
        r1 = s->nrows;
      }
      const float *in = input;
      if (!s->direct) {
        fill_band(op, s, input, 0, buf, 0, d->in_channels, 0, s->hb);
        in = buf;
      }
      if (t0 < t1 || (t0 == t1 && r0 < r1))
        run_band(op, s, in, output, bd, psum, 0, s->nrows, t0, r0, t1, r1);
      b = e;
    }
    if (dynamic) {
      int mine_done = 0;
      for (int64_t i; (i = claim_tile(halves, tid, &mine_done)) >= 0;) {
        const int64_t n = i / tiles_img, t = i % tiles_img;
        const int32_t band = (int32_t)SC_MIN(t / s->band[0].ntiles, s->nb - 1);
        const int32_t tile = (int32_t)(t - (int64_t)band * s->band[0].ntiles);
        const sc_spconv_band *bd = &s->band[band == s->nb - 1];
        const int64_t y0 = (int64_t)band * s->rb;
        run_band(op, s, input + n * in_img + y0 * d->in_w, output + n * out_img + y0 * op->out_w, bd,
                 psum, 0, s->nrows, tile, 0, tile, s->nrows);
      }
      b = e;
    }
    /* With one slice per thread, every thread walks the same bands in the
       same order. AVX2 (Zen 3) builds each band's planes once, in thread
       0's buffer, each thread taking a share of the input channels, instead
       of every thread building all of them (512 ch 3x3 at 7x7, 90 %: the
       build was an eighth of the run). AVX-512 (Zen 4) builds them per
       thread: there, a thread writing planes the other one read last run,
       and reading the half the other one wrote, cost more than building
       them all. Probe, Zen 4, 2 threads bound, 90 %, shared -> per thread:
       3x3 256@14 1x2 blocks 0.172 -> 0.143 ms, element-wise 0.275 ->
       0.245, channel-level 0.170 -> 0.141; 512@7 0.173 -> 0.161, 0.250 ->
       0.240, 0.156 -> 0.145. A thread builds only the input channels its
       rows read (its groups'). */
    const int shared = !s->direct && ncs > 1 && ncs == nt && op->isa != SC_ISA_AVX512;
    float *const shared_buf = (float *)workspace;
    for (int64_t it = b; it < e; it++) {
      const int64_t cs = it / bands, rest = it % bands;
      const int64_t n = rest / s->nb;
      const int32_t band = (int32_t)(rest % s->nb);
      int32_t r0 = 0, r1 = s->nrows;
      if (!vslices) row_slice(s, cs, ncs, &r0, &r1);
      const int64_t y0 = (int64_t)band * s->rb;
      const sc_spconv_band *bd = &s->band[band == s->nb - 1];
      const int32_t v0 = (int32_t)((int64_t)bd->nvec * cs / ncs), v1 = (int32_t)((int64_t)bd->nvec * (cs + 1) / ncs);
      const float *in;
      if (s->direct) {
        in = input + n * in_img + y0 * d->in_w;
      } else if (shared) {
        int64_t c0, c1;
        sc_split(d->in_channels, nt, tid, &c0, &c1);
        fill_band(op, s, input + n * in_img, band, shared_buf, (int32_t)c0, (int32_t)c1, 0, s->hb);
        in = shared_buf;
#ifdef _OPENMP
#pragma omp barrier
#endif
      } else {
        const int32_t og = d->out_channels / d->groups, cg = d->in_channels / d->groups;
        const int32_t c0 = r1 > r0 ? s->rows[r0].c0 / og * cg : 0;
        const int32_t c1 = r1 > r0 ? (s->rows[r1 - 1].c0 / og + 1) * cg : 0;
        /* a vector slice reads only the plane rows its positions reach:
           from its first position to its last one's farthest tap */
        int64_t r_lo = 0, r_hi = s->hb;
        if (vslices) {
          const int64_t last = (int64_t)v1 * s->k.lanes - 1 + (int64_t)s->maxoy * s->wq + s->maxox;
          r_lo = (int64_t)v0 * s->k.lanes / s->wq;
          r_hi = SC_MIN((int64_t)s->hb, last / s->wq + 1);
        }
        fill_band(op, s, input + n * in_img, band, buf, c0, c1, r_lo, r_hi);
        in = buf;
      }
      float *out_band = output + n * out_img + y0 * op->out_w;
      if (vslices)
        run_band_vectors(op, s, in, out_band, bd, psum, v0, v1);
      else
        run_band(op, s, in, out_band, bd, psum, r0, r1, 0, r0, bd->ntiles - 1, r1);
      if (shared) {
        /* the next band's build overwrites the planes */
#ifdef _OPENMP
#pragma omp barrier
#endif
      }
    }
  }
  return SC_OK;
}

static void pick_kernels(sc_isa isa, sc_spconv_kernels *k) {
  *k = (sc_spconv_kernels){0};
#if SC_X86
  if (isa == SC_ISA_AVX512) {
    sc_spconv_kernels_avx512(k);
    k->fill_rows1 = sc_spconv_rows1_for(isa);
    return;
  }
  if (isa == SC_ISA_AVX2) {
    sc_spconv_kernels_avx2(k);
    return;
  }
#endif
  (void)isa;
  sc_spconv_kernels_scalar(k);
}

sc_spconv_fill_rows1 sc_spconv_rows1_for(sc_isa isa) {
#if SC_X86
  if (isa == SC_ISA_AVX2 || isa == SC_ISA_AVX512) {
    sc_spconv_kernels k = {0};
    sc_spconv_kernels_avx2(&k);
    return k.fill_rows1;
  }
#endif
  (void)isa;
  return sc_spconv_fill_rows1_scalar;
}

/* Distinct values of (k*dil) % stride over k in [0, ksize), ascending, and
   for each tap its index in that list. */
static int32_t phases(int32_t ksize, int32_t dil, int32_t stride, int32_t *list, int32_t *of_tap) {
  int32_t n = 0;
  for (int32_t k = 0; k < ksize; k++) {
    const int32_t ph = (int32_t)(((int64_t)k * dil) % stride);
    int32_t j = 0;
    while (j < n && list[j] != ph) j++;
    if (j == n) list[n++] = ph;
  }
  /* sort (tiny) */
  for (int32_t i = 1; i < n; i++)
    for (int32_t j = i; j > 0 && list[j - 1] > list[j]; j--) {
      int32_t t = list[j];
      list[j] = list[j - 1];
      list[j - 1] = t;
    }
  for (int32_t k = 0; k < ksize; k++) {
    const int32_t ph = (int32_t)(((int64_t)k * dil) % stride);
    int32_t j = 0;
    while (list[j] != ph) j++;
    of_tap[k] = j;
  }
  return n;
}

static sc_status build_band(const sc_spconv *s, int32_t rows, int32_t ow, sc_spconv_band *bd) {
  const int32_t lanes = s->k.lanes;
  const int64_t wq = s->wq;
  bd->rows = rows;
  bd->m = (int64_t)rows * wq;
  bd->nvec = (int32_t)((bd->m + lanes - 1) / lanes);
  bd->ntiles = (bd->nvec + s->tmax - 1) / s->tmax;
  /* dense rows: tiles of tmax vectors, some of tmax + 1 where the count is
     not a multiple (a band of tmax + 2 vectors or more: more tiles, smaller) */
  if (s->dense) {
    bd->ntiles = SC_MAX(bd->nvec / s->tmax, 1);
    while ((bd->nvec + bd->ntiles - 1) / bd->ntiles > s->tmax + 1) bd->ntiles++;
  }
  bd->tile = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)(bd->ntiles + 1));
  bd->vmask = (uint16_t *)sc_aligned_alloc(sizeof(uint16_t) * (size_t)bd->nvec);
  bd->voff = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)bd->nvec);
  if (lanes == 8) bd->vperm = (uint32_t *)sc_aligned_alloc(sizeof(uint32_t) * (size_t)bd->nvec);
  bd->contig = (uint8_t *)sc_aligned_alloc((size_t)bd->ntiles);
  if (!bd->tile || !bd->vmask || !bd->voff || (lanes == 8 && !bd->vperm) || !bd->contig)
    return SC_OUT_OF_MEMORY;
  for (int32_t t = 0; t <= bd->ntiles; t++)
    bd->tile[t] = (int32_t)((int64_t)t * bd->nvec / bd->ntiles);
  for (int32_t v = 0; v < bd->nvec; v++) {
    const int64_t q = (int64_t)v * lanes;
    const int64_t oy = q / wq, ox = q % wq;
    bd->voff[v] = (int32_t)(oy * ow + SC_MIN(ox, (int64_t)ow));
    unsigned m = 0;
    for (int32_t i = 0; i < lanes; i++) {
      const int64_t p = q + i;
      if (p < bd->m && p % wq < ow) m |= 1u << i;
    }
    bd->vmask[v] = (uint16_t)m;
    if (bd->vperm) {
      uint32_t pk = 0;
      for (int32_t i = 0, j = 0; i < lanes; i++)
        if (m & (1u << i)) pk |= (uint32_t)i << (3 * j++);
      /* the lanes past the real ones land on outputs that later vectors of
         this band (same thread, same channel) overwrite, unless the band
         ends first */
      if ((int64_t)bd->voff[v] + lanes > (int64_t)rows * ow) pk |= 1u << 31;
      bd->vperm[v] = pk;
    }
  }
  for (int32_t t = 0; t < bd->ntiles; t++) bd->contig[t] = vectors_contig(bd, bd->tile[t], bd->tile[t + 1], lanes);
  return SC_OK;
}

/* Kept positions per input channel (vector loads of each input vector per
   tile) from which copying a misaligned 1x1 layer's input pays. */
#define SC_SPCONV_COPY_MIN_LOADS 20

/* Outputs up to which a directly read image whose two bands would end off a
   vector boundary runs as one band (see build_geometry). */
#define SC_SPCONV_ONE_BAND_MAX 256

/* L1 bytes the input window of one tile may take (of 32 KiB on Zen 4 and
   48 KiB on Zen 5, which also holds the partial sums and the streamed
   weights). */
#define SC_SPCONV_WINDOW_BYTES (24 * 1024)
/* Window bytes above which Zen 1 prefetches positions ahead (build_chunks). */
#define SC_SPCONV_PREFETCH_WINDOW (40 * 1024)
/* Fewest positions a row should have per chunk, to pay for its partial sums. */
#define SC_SPCONV_MIN_CHUNK_NNZ 12

/* Bytes of one input channel's window for a tile of tile_floats outputs:
   its phase planes' rows the tile's taps reach, plus a vector of slack. */
static int64_t window_bytes(int64_t nph, int64_t tile_floats, int64_t maxoy, int64_t wq, int64_t maxox,
                            int32_t lanes) {
  return (int64_t)sizeof(float) * nph * (tile_floats + maxoy * wq + maxox + lanes);
}

/* Zen 5's chunks of 16-lane rows (build_chunks, tile_halves): a 40 KiB
   window, at least 28 positions per row per chunk, and chunks of equal
   width (64 channels in chunks of 32 + 32 rather than 54 + 10). Each of the
   three alone gained little or lost; together, Benchmarks/kernel-probe/ab.sh,
   2 threads, time after / before, three processes, medians: 1x2 blocks 90 %
   3x3 64@56 0.95, 128@28 0.95, 256@14 0.98, 512@7 0.97, VGG 256@56 0.96,
   3x3/2 128@56 0.95, d2 64@56 0.90, 95 % 64@56 0.85, 75 % 128@28 0.98,
   256@14 0.98, 50 % 64@56 1.00; element-wise 90 % 64@56 0.97, 128@28 0.96,
   256@14 0.98, 512@7 0.98, 5x5 64@28 1.01; channel-level 64@56 0.98,
   128@28 0.95. 12 positions and 24 KiB are the rule elsewhere (Zen 4,
   Intel, AVX2 CPUs: not measured with these). */
#define SC_SPCONV_ZEN5_WINDOW_BYTES (40 * 1024)
#define SC_SPCONV_ZEN5_MIN_CHUNK_NNZ 28

/* L1 bytes a 16-lane tile's input window may take. */
static int64_t window_budget(const sc_spconv *s) {
  return zen5_rows(s) ? SC_SPCONV_ZEN5_WINDOW_BYTES : SC_SPCONV_WINDOW_BYTES;
}

/* Input channels per chunk for a window of win_ch bytes per channel within
   budget, at least enough for SC_SPCONV_MIN_CHUNK_NNZ positions per row
   (per_ch positions per row per channel; Zen 5: SC_SPCONV_ZEN5_MIN_CHUNK_NNZ
   and chunks of equal width); cg when one chunk holds them all. */
static int64_t chunk_channels(const sc_spconv *s, int64_t win_ch, double per_ch, int32_t cg,
                              int64_t budget) {
  if (win_ch * cg <= budget) return cg;
  const bool zen5 = zen5_rows(s);
  const int32_t min_nnz = zen5 ? SC_SPCONV_ZEN5_MIN_CHUNK_NNZ : SC_SPCONV_MIN_CHUNK_NNZ;
  int64_t cc = SC_MAX((int64_t)1, budget / win_ch);
  cc = SC_MAX(cc, (int64_t)(min_nnz / (per_ch > 0 ? per_ch : 1e-9)) + 1);
  if (zen5 && cc < cg) {
    const int64_t n = (cg + cc - 1) / cc;
    cc = (cg + n - 1) / n;
  }
  return SC_MIN(cc, (int64_t)cg);
}

/* Most vectors of a pair-row tile on 16 lanes: 28 accumulators, two weight
   broadcasts and an input vector in 32 registers. */
#define SC_SPCONV_PAIR_TMAX_16 14

/* Zen 4: the tile of 16-lane sparse rows, once the plane pitch is known.
   Pair rows over an image of at most SC_SPCONV_PAIR_TMAX_16 vectors (3x3 at
   14x14: 224 positions) run it as one tile, unchunked (build_chunks), so
   each row's positions and weights stream once. Kernel probe, 1 thread, 1x2
   blocks, two tiles of 7 chunked -> one of 14 whole: 3x3 256@14 90 % 0.294
   -> 0.271 ms, 75 % 0.637 -> 0.591, 50 % 1.207 -> 1.157 (2 threads, 90/75
   %: 0.250 -> 0.228, 0.439 -> 0.384).
   Single-weight rows of spatial kernels take tiles of 8 where tiles of 16
   would chunk the input channels so finely that a row has fewer than 32
   positions per chunk: the chunks get twice as deep and the partial sums
   cost half as much per position, which there outweighs the broadcast and
   index load shared by half as many vectors. sparse-bench, 1 thread, tiles
   of 16 -> 8 at 90 % (3x3: 16-18 positions per chunk): ResNet-50 3x3 64@56
   0.590 -> 0.536 ms, 128@28 0.546 -> 0.498, 256@14 0.517 -> 0.480, VGG
   256@56 9.68 -> 9.08, dilated 64@56 d2 0.588 -> 0.547, AlexNet 11x11/4
   0.655 -> 0.594, 3x3/2 128@56 0.753 -> 0.704 (at 50-75 % too: 5-14 %,
   13-23 positions per chunk); at 50 % (3x3 stride 1: 80-90 positions)
   tiles of 8 were 2-6 % slower, at 75 % (40-45) within noise. */
static int32_t tile_halves(const sc_conv_op *op, const sc_spconv *s, int64_t nph) {
  const sc_conv_desc *d = &op->desc;
  if (s->pairs) {
    const int64_t nv = ((int64_t)op->out_h * s->wq + 15) / 16;
    return nv > s->tmax && nv <= SC_SPCONV_PAIR_TMAX_16 ? (int32_t)nv : s->tmax;
  }
  const int32_t cg = d->in_channels / d->groups;
  if (s->tmax <= 8 || s->nrows == 0 || s->npos == 0 || d->kernel_h * d->kernel_w == 1) return s->tmax;
  const double per_ch = (double)s->npos / ((double)s->nrows * cg);
  const int64_t win_ch = window_bytes(nph, 16 * (int64_t)s->tmax, s->maxoy, s->wq, s->maxox, 16);
  const int64_t cc = chunk_channels(s, win_ch, per_ch, cg, window_budget(s));
  return cc < cg && (double)cc * per_ch < 32.0 ? 8 : s->tmax;
}

/* Row pitch of the phase planes for taps reaching maxox columns right:
   rows share their zero padding columns (sc_shared_pad_columns) unless the
   padded width is already a whole number of vectors (see build_geometry). */
static int64_t row_pitch(const sc_conv_desc *d, int32_t out_w, int64_t maxox, int32_t lanes) {
  const int64_t shared = ((int64_t)out_w + maxox) % lanes == 0 ? 0 : sc_shared_pad_columns(d);
  return (int64_t)out_w + maxox - shared;
}

static sc_status build_geometry(const sc_conv_op *op, sc_spconv *s, int32_t *tap_y, int32_t *tap_x,
                                int32_t *ph_y_of, int32_t *ph_x_of) {
  const sc_conv_desc *d = &op->desc;
  const int32_t oh = op->out_h, ow = op->out_w;
  s->direct = d->kernel_h == 1 && d->kernel_w == 1 && d->stride_h == 1 && d->stride_w == 1 &&
              d->pad_top == 0 && d->pad_left == 0 && d->pad_bottom == 0 && d->pad_right == 0;
  s->phase_y = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)d->kernel_h);
  s->phase_x = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)d->kernel_w);
  if (!s->phase_y || !s->phase_x) return SC_OUT_OF_MEMORY;
  s->nsy = phases(d->kernel_h, d->dilation_h, d->stride_h, s->phase_y, ph_y_of);
  s->nsx = phases(d->kernel_w, d->dilation_w, d->stride_w, s->phase_x, ph_x_of);
  int64_t maxoy = 0, maxox = 0;
  for (int32_t k = 0; k < d->kernel_h; k++) {
    tap_y[k] = (int32_t)(((int64_t)k * d->dilation_h) / d->stride_h);
    maxoy = SC_MAX(maxoy, tap_y[k]);
  }
  for (int32_t k = 0; k < d->kernel_w; k++) {
    tap_x[k] = (int32_t)(((int64_t)k * d->dilation_w) / d->stride_w);
    maxox = SC_MAX(maxox, tap_x[k]);
  }
  const int64_t nph = (int64_t)s->nsy * s->nsx;
  /* Rows share their zero padding columns (sc_shared_pad_columns): 3x3 pad
     1 at 7x7 has rows of 8, not 9, and its 49 outputs fill 7 vectors
     instead of 8. Probe, 3x3 pad 1, 90 %, block 1x2 /
     element-wise: 512@7 0.260 -> 0.228 ms / 0.355 -> 0.285; 64@56 -8 % / -5 %;
     widths 12 to 56, 128 channels: 0-8 % faster, except block 1x2 at 28
     (6 % slower). A pitch that is a whole number of vectors stays (14x14:
     16; at 15 element-wise 128@14 was 10 % slower). */
  const int64_t wq = row_pitch(d, ow, maxox, s->k.lanes);
  /* one extra row: a garbage lane of a band's last row may run past its end */
  const int64_t extra = maxox > 0 ? 1 : 0;
  if (wq > INT32_MAX || (int64_t)oh + maxoy + extra > INT32_MAX) return SC_SIZE_OVERFLOW;
  s->maxoy = (int32_t)maxoy;
  s->maxox = (int32_t)maxox;
  s->wq = (int32_t)wq;
  /* Intel (Emerald Rapids) takes the single-row part of that rule: kernel
     probe, 2 threads, five interleaved runs, element-wise 90 %, tiles of 16
     -> 8 where the chunks would be shallow: 3x3 64@56 0.416 -> 0.366 ms,
     128@28 0.370 -> 0.351, 256@14 0.371 -> 0.345, AlexNet 11x11/4 0.483 ->
     0.443, 3x3/2 128@56 and d2 64@56 2-3 % faster; 75 % and 50 % equal.
     Its pair rows keep their tiles (one tile of up to 14: 1-5 % slower).
     Zen 5 takes the single-row part too: Benchmarks/kernel-probe/ab.sh, 2
     threads, element-wise 90 %, time with / without, three processes,
     medians: 3x3 64@56 0.85, 128@28 0.93, 256@14 0.94, 3x3/2 128@56 0.98;
     3x3 512@7, 64@56 at 75 and 50 % within 1 %. */
  if (s->k.lanes == 16 && !s->dense && (sc_cpu_avx512_halves() || !s->pairs))
    s->tmax = tile_halves(op, s, nph);
  /* Intel (Emerald Rapids), 1x2-block rows of 1x1 layers over 65-128 input
     channels: tiles of 4 vectors, so the window of every input channel (128
     x 4 x 64 B = 32 KiB) stays in its 48 KiB L1 while the rows take turns on
     it; whole rows (build_chunks) otherwise read each tile of 8-12 vectors
     from L2. Kernel probe, 2 threads, five to seven interleaved runs,
     medians, tiles of 8-12 -> 4: 128@56 90/75/50 % 0.140/0.254/0.528 ->
     0.137/0.186/0.428 ms, 128->256@56 90 % 0.282 -> 0.237, 128->512@28 75 %
     0.297 -> 0.275 (90 % and 128@28 within 3 %). With 64 input channels the
     default tiles already fit (64->256@56: 4-6 % slower at 4), with 256 or
     more 4 vectors do not (256->64@56 equal, 512@14 and 1024->256@14 5-15 %
     slower). Zen 4 takes tiles of 6 there, the best of 3, 4, 6, 8 and 12:
     Benchmarks/kernel-probe/ab.sh, 2 threads, time with 6 / 12: 128@56 90 %
     0.87-0.90, 75 % 0.89-0.95, 50 % 0.92, 128@28 0.95, 128->256@56 0.97,
     128->512@28 0.97, 1 thread 0.95, but 96@20 (7 us) 1.04; tiles of 4
     lost on the widening layers (1.06), 3 at 90 % (1.06), 8 gained less
     (0.91). Zen 5 (48 KiB L1 too) takes tiles of 6 on images of more than
     1024 positions, over up to 256 input channels: ab.sh, 2 threads, time
     with / without, three processes, medians: 128@56 90/75/50 %
     0.94/0.78/0.70, 128->256@56 0.86, 256->64@56 95/90/75/50 %
     0.95/0.92/0.86/0.75, 256@56 90 % 0.88 (1 thread 0.78-0.89); at 28x28
     they were slower (128@28 1.05, 128->512@28 1.04, 512->128@28 1.24), as
     with 64 input channels (64->256@56 1.08, 64@56 1.14); tiles of 4 lost
     on 128@56. */
  if (s->k.lanes == 16 && s->pairs && !s->dense && d->kernel_h == 1 && d->kernel_w == 1) {
    const int32_t cg = d->in_channels / d->groups;
    int32_t tile = 0, cg_max = 128;
    if (sc_cpu_intel_avx512()) {
      tile = 4;
    } else if (sc_cpu_avx512_halves()) {
      tile = 6;
    } else if ((int64_t)op->out_h * op->out_w > 1024) { /* Zen 5 */
      tile = 6;
      cg_max = 256;
    }
    if (tile > 0 && cg > 64 && cg <= cg_max && s->tmax > tile) s->tmax = tile;
  }
  /* bands of output rows whose planes fit the L2 budget */
  const double row_bytes = (double)sizeof(float) * (double)d->in_channels * (double)nph * (double)wq;
  double band_bytes = SC_SPCONV_BAND_BYTES;
  int64_t rb_max = (int64_t)(band_bytes / row_bytes) - maxoy - extra;
  /* at least two full tiles per band, or the whole image */
  int64_t rb_min = (2 * (int64_t)s->tmax * s->k.lanes + wq - 1) / wq;
  /* Dense rows' tiles are 2-3 vectors, so that minimum can be 1 row, and each
     band's planes then copy the kernel's halo rows for every output row.
     At least as many rows as the halo: VGG 3x3 256@56 with 26 filters
     (channel-level 90 %) 3.20 -> 2.78 ms. */
  if (s->dense) rb_min = SC_MAX(rb_min, maxoy + extra);
  if (rb_max < rb_min) rb_max = rb_min;
  int64_t nb = (oh + rb_max - 1) / rb_max;
  int64_t rb = (oh + nb - 1) / nb;
  nb = (oh + rb - 1) / rb;
  /* An even band count lets two (or 2^k) threads take whole bands; an odd
     one makes every thread build every band's planes for its slice of the
     rows, which on a strided layer cost more than the convolution (128 ch
     3x3/2 at 56x56: 0.58 ms with 7 bands, 0.43 ms with 6). Prefer one band
     fewer (larger than the L2 budget, still far below L2), else more. */
  if (nb > 1 && nb % 2 == 1) {
    const int64_t tries[4] = {nb - 1, nb + 1, nb + 2, nb + 3};
    for (int i = 0; i < 4; i++) {
      if (tries[i] < 2 || tries[i] > oh) continue;
      const int64_t r = (oh + tries[i] - 1) / tries[i], n = (oh + r - 1) / r;
      if (n % 2 == 0) {
        rb = r;
        nb = n;
        break;
      }
    }
  }
  /* A 1x1 layer whose planes are not a whole number of vectors (14x14, 7x7)
     makes most input loads of the direct read straddle cache lines; copying
     each band into planes that start on cache lines took 1x1 layers at
     14x14, 90 %, 0.12 -> 0.11 ms (block 1x2) and 0.18-0.21 -> 0.15-0.19 ms
     (element-wise). With one band (7x7) the threads would share one copy and
     read each other's halves: 5-25 % slower there, so those stay direct. The
     copy also needs enough loads of each copied vector to pay for it:
     1024->256 in 1x2 blocks (13 per input channel) was 3-5 % slower, the
     others (26-51) were faster.
     Not on cores that split a ymm load into two 16-byte halves (Zen 1):
     there a plane of a multiple of 4 floats never straddles a line in a
     half, and the copy's 12.25-vector bands (7 rows of 14) end in masked
     tiles. Probe there, 2 threads, copy -> in place, 14x14: element-wise
     90 % 1024->256 0.467 -> 0.393 ms, 512->512 0.443 -> 0.371; 1x2 blocks
     90 % 512->512 0.313 -> 0.237, 75 % 1024->256 0.81 -> 0.65, 50 %
     512->512 1.18 -> 1.07. */
  const int64_t plane_floats = (int64_t)d->in_h * d->in_w;
  if (s->direct && plane_floats % s->k.lanes != 0 && nb >= 2 &&
      s->npos >= SC_SPCONV_COPY_MIN_LOADS * (int64_t)d->in_channels &&
      !(sc_cpu_avx2_halves() && plane_floats % 4 == 0))
    s->direct = 0;
  /* A small image read in place (1x1 at 14x14: 196 outputs) split into two
     bands of 98 leaves each band a last vector of 2 lanes and tiles of 4-5
     vectors; as one band with the rows split between the threads, its 25
     vectors run as 5 tiles of 5. Probe, 1x2 blocks, 1024->256@14: 90 %
     0.126 -> 0.118 ms, 512->512@14 at 95 % 0.064 -> 0.059, 50-75 %
     unchanged within 2 %. Only where the bands would end off a vector
     boundary. */
  if (s->direct && nb == 2 && (int64_t)oh * ow <= SC_SPCONV_ONE_BAND_MAX &&
      (rb * ow) % s->k.lanes != 0) {
    rb = oh;
    nb = 1;
  }
  /* Bands of equal rows: threads take whole bands, so a short last band
     leaves the other threads idle (3x3 64@56: 5 bands of 10 rows and one of
     6 gave two threads 30 and 26 rows). Take the even band count that
     divides the rows into bands closest to that size, if one is within
     [rb_min, 1.25 rb]. Not for a direct read: on 1x1 128@56 at 90 %
     (10 bands of up to 6 rows) equal bands took element-wise 5 % faster but
     1x2 blocks 2-5 % slower (7-row bands: 9 tiles of 5-6 vectors, not 7 of
     6), and splitting every band's rows between the threads instead made
     each thread read the whole input (30-50 % slower). */
  if (!s->direct && nb >= 2 && rb * nb != oh) {
    int64_t best = 0, best_gap = 0;
    for (int64_t n = 2; n <= oh; n += 2) {
      const int64_t r = oh / n, gap = r > rb ? r - rb : rb - r;
      if (oh % n != 0 || r < rb_min || 4 * r > 5 * rb) continue;
      if (!best || gap < best_gap) {
        best = n;
        best_gap = gap;
      }
    }
    if (best) {
      nb = best;
      rb = oh / best;
    }
  }
  s->rb = (int32_t)rb;
  s->nb = (int32_t)nb;
  s->hb = (int32_t)(rb + maxoy + extra);
  int64_t chan, buf;
  if (s->direct) {
    s->plane = (int64_t)d->in_h * d->in_w;
    chan = s->plane;
    buf = 0;
  } else {
    s->plane = ((int64_t)s->hb * wq + 15) & ~(int64_t)15; /* planes start on cache lines */
    if (__builtin_mul_overflow(s->plane, nph, &chan) ||
        __builtin_mul_overflow(chan, (int64_t)d->in_channels, &buf))
      return SC_SIZE_OVERFLOW;
  }
  /* offsets are int32 */
  if (chan > INT32_MAX / d->in_channels) return SC_SIZE_OVERFLOW;
  s->chan = chan;
  s->buf = buf;
  sc_status st = build_band(s, (int32_t)rb, ow, &s->band[0]);
  if (st != SC_OK) return st;
  return build_band(s, (int32_t)(oh - (nb - 1) * rb), ow, &s->band[1]);
}

/* Splits the input channels into chunks whose tile window fits L1, when the
   whole window does not and the rows are dense enough to amortize the
   partial-sum traffic; fills cstart. */
static sc_status build_chunks(const sc_conv_op *op, sc_spconv *s, const float *weight,
                              const uint8_t *mask, int64_t npos) {
  (void)weight;
  (void)mask;
  const sc_conv_desc *d = &op->desc;
  const int32_t cg = d->in_channels / d->groups, kk = d->kernel_h * d->kernel_w;
  const int64_t nph = (int64_t)s->nsy * s->nsx;
  const int64_t tile_floats = (int64_t)s->tmax * s->k.lanes;
  const int64_t win_ch = window_bytes(nph, tile_floats, s->maxoy, s->wq, s->maxox, s->k.lanes);
  s->nch = 1;
  /* The software prefetch of the next tile's window (run_band) stalls
     Intel's fill buffers with a tile's worth of lines from L3 while the
     hardware prefetchers already stream them. Probe, 2 threads, whole rows,
     five interleaved runs, with -> without: 1x2 blocks 90 % 1024->256@14
     0.123 -> 0.098 ms, 256->64@56 0.153 -> 0.147, 128@56 0.141 -> 0.138;
     element-wise 256->64@56 0.168 -> 0.160, 128@56 0.193 -> 0.185; the
     others within 2 %. Zen 4 gains from dropping it too, on the 56x56
     layers (Benchmarks/kernel-probe/ab.sh, 2 threads, 90 %, time without /
     with: element-wise 128@56 0.93-0.94, 256->64@56 0.95-0.96, 128->512@28
     0.98; 1x2 blocks 128@56 0.97-0.99, 256->64@56 0.93-0.95; 75 % and 50 %
     0.99; 1 thread 0.95; 14x14 layers and 64->256@56 within 1.5 %). So does
     Zen 5 (ab.sh, 2 threads, whole rows, three processes, medians, time
     without / with: 1x2 blocks 90 % 128@56 0.97, 256->64@56 0.95,
     1024->256@14 0.94, 512@14 0.98, 75 % 0.97; element-wise 90 % 256->64@56
     0.94, 128@56 0.95), so only CPUs without AVX-512 (Zen 3, Zen 1) keep it. */
  s->prefetch_next = s->direct && !sc_isa_supported(SC_ISA_AVX512);
  if (s->dense) return SC_OK;
  const double per_ch = (double)npos / ((double)s->nrows * cg); /* positions per row per channel */
  /* On AVX2 (Zen 3, 32 KiB L1, 90 % sparsity) only single-weight rows of
     spatial kernels are chunked, with a 32 KiB window: one load per FMA runs
     at about a third of peak from L2 against two thirds from L1 (a loop
     probe), and chunking took 3x3 256@14 0.38 -> 0.33 ms, 512@7 0.42 -> 0.37
     and 256@56 7.7 -> 5.7. 1x1 layers, a tenth of a position per channel,
     paid more for the partial sums than they saved (direct 1.4-1.6x slower,
     stride 2 1.2-1.3x). Pair rows, with two FMAs per load, gain where a row
     has 2 blocks or more per input channel (3x3 at 75 % and below) on
     images of more than 256 outputs; probe, 2 threads, 75 %: 3x3 128@28
     0.49 -> 0.43 ms, 64@56 0.52 -> 0.49, VGG 256@56 9.0 -> 8.0, dilated
     64@56 d2 0.54 -> 0.49, 128@56 stride 2 0.72 -> 0.68; at 50 % 4-12 %
     faster. At 90 % (0.9 blocks per channel) 64@56 was 6 % slower, 512@7
     and 256@14 at 50 % 4-8 % slower, and AlexNet's 11x11/4 over 3 channels
     (sparse-bench) 5-9 % slower at 75-90 %, so kernels above 3x3 keep
     whole rows. */
  /* Zen 4, 1x2 blocks of 1x1 layers on 16 lanes: whole rows. Probe, 2
     threads, 90 %, chunked -> whole rows (and the 8-lane kernels of
     spconv_isa): 1x1 1024->256@14 0.104 -> 0.070-0.079 ms (0.083), at 75 %
     0.24 -> 0.163-0.168 (0.189); MobileNet 1x1 128@56 0.145-0.151 ->
     0.097-0.100 (0.105-0.125), 512@14 0.119-0.129 -> 0.083-0.089
     (0.100-0.109). Element-wise rows of 1x1 layers on 16 lanes (spconv_isa)
     run whole too. */
  /* Zen 4, pair rows whose band is one tile (build_geometry): whole rows
     too. Probe, 1 thread, chunked -> whole: 3x3 512@7 (4 vectors) 90/75/50 %
     0.323/0.911/1.780 -> 0.317/0.829/1.450 ms; AlexNet 3x3 256@13 g2
     (12 vectors) 90 % 0.156 -> 0.129, 75 % 0.302 -> 0.266-0.299. */
  const bool one_tile = s->pairs && s->nb == 1 && s->band[0].ntiles == 1;
  /* Intel (Emerald Rapids, 48 KiB L1, 2 MiB L2), 1x1 layers on 16 lanes:
     whole rows too, and no prefetch of the next tile (below). Kernel probe,
     2 threads, 90 %, three interleaved runs, chunked -> whole rows: 1x2
     blocks 256->64@56 0.178 -> 0.159 ms, 128@56 0.207 -> 0.142, 512@14
     0.134 -> 0.117, 1024->256@14 0.132 -> 0.128; at 75 % 256->64@56 0.355
     -> 0.313, 512@14 0.359 -> 0.297; element-wise 256->64@56 0.211 ->
     0.188, 128@56 0.203 -> 0.166, 512@14 0.233 -> 0.219, 1024->256@14
     0.231 -> 0.217. Pair rows of one tile (3x3 512@7, 256@14) stay chunked
     there: 0-19 % slower whole.
     Zen 5 as well: ab.sh, 2 threads, 90 %, chunked -> whole rows (time
     ratio, three processes, medians): 1x2 blocks 128@56 0.75-0.79,
     256->64@56 0.80, 512@14 0.84, 1024->256@14 0.80, at 75 % 0.79-0.92;
     element-wise 128@56 0.79, 256->64@56 0.74-0.81, 512@14 0.83,
     1024->256@14 0.86 (at 50 % 1.03). */
  /* Zen 5 chunks element-wise 1x1 rows again at 65 % sparsity or less (35
     % of the weights kept) over inputs of more than 1024 positions, where
     the whole window is beyond twice the L1 budget: a chunk of 28 positions
     per row then spans some 57-80 input channels, its window near L1, where
     at 90 % it would span 280 and fit nothing. ab.sh, 2 threads, time
     chunked / whole, five processes, medians [range], by sparsity: 50 %
     256->64@56 0.73 [0.61-0.78], 128@56 0.80 [0.67-0.95], 256->512/2 from
     56x56 0.59 [0.58-0.60]; 60-64 % 256->64@56 0.71-0.72, 128@56 0.89-0.91,
     256->512/2 0.71; 30 % 128@56 0.70, 256->64@56 0.79; 90 % unchanged
     (whole). Left whole: 70-75 % (256->64@56 0.90 and 0.98, 128@56 1.08),
     1x2 blocks (bimodal by process, 1024->256@14 at 50 % 0.97 or
     1.35-1.41), inputs of 1024 positions or fewer (at 50 %: 512@14
     0.80-1.02, 2048->512@7 0.95-1.13, 512->128@28 0.88-1.06) and windows
     under 80 KB (64->256@56, 1.00). */
  const bool chunk_1x1 = kk == 1 && zen5_rows(s) && !s->pairs && per_ch >= 0.35 && (int64_t)d->in_h * d->in_w > 1024 &&
                         win_ch * cg > 2 * SC_SPCONV_ZEN5_WINDOW_BYTES;
  const bool whole_1x1 = kk == 1 && sc_isa_supported(SC_ISA_AVX512) && !chunk_1x1;
  const bool whole_one_tile = one_tile && sc_cpu_avx512_halves();
  const bool wide = s->k.lanes == 16 && !whole_1x1 && !whole_one_tile;
  const int64_t budget = wide ? window_budget(s) : 32 * 1024;
  const bool pair_chunks =
      s->pairs && kk > 1 && kk <= 9 && per_ch >= 2.0 && (int64_t)op->out_h * op->out_w > 256;
  if (wide || (!s->pairs && kk > 1) || pair_chunks) {
    const int64_t cc = chunk_channels(s, win_ch, per_ch, cg, budget);
    if (cc < cg) {
      s->cc = (int32_t)cc;
      s->nch = (int32_t)((cg + cc - 1) / cc);
    }
  }
  /* Zen 1: rows whose tile window (all input channels) is beyond L1 ask for
     each position's lines a few positions ahead (the kernels' prefetch).
     Kernel probe, 2 threads, 90 %, without -> with: 1x2 blocks 1x1
     1024->256@14 0.631 -> 0.498 ms, 256->64@56 0.422 -> 0.400, 3x3 64@56
     0.828 -> 0.782, 256@14 0.765 -> 0.732; element-wise 1024->256@14
     0.486 -> 0.454, 256->64@56 0.397 -> 0.371. Windows that fit L1 (chunked
     rows) were 7 % slower with it (element-wise 3x3 64@56, 256@14), and
     MobileNet 1x1 128@56 element-wise (a 37 KB window) 2 %. */
  s->prefetch = s->nch == 1 && s->k.lanes == 8 && win_ch * cg > SC_SPCONV_PREFETCH_WINDOW &&
                sc_cpu_avx2_halves();
  if (s->nch == 1) return SC_OK;
  s->slot = 2 * tile_floats;
  s->rgroup = s->pairs ? 8 : 16;
  s->cstart = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)s->nrows * (size_t)(s->nch + 1));
  if (!s->cstart) return SC_OUT_OF_MEMORY;
  /* positions are ordered by local input channel; recover it from the offset */
  const int64_t ch_stride = s->chan;
  for (int32_t r = 0; r < s->nrows; r++) {
    const sc_spconv_row *row = &s->rows[r];
    const int32_t g = row->c0 / (d->out_channels / d->groups);
    int32_t *cs = s->cstart + (int64_t)r * (s->nch + 1);
    int32_t c = 0;
    cs[0] = 0;
    for (int32_t k = 0; k < row->nnz; k++) {
      const int64_t ci = s->idx[row->first + k] / ch_stride - (int64_t)g * cg;
      while (c + 1 < s->nch && ci >= (int64_t)(c + 1) * s->cc) cs[++c] = k;
    }
    while (c + 1 <= s->nch) cs[++c] = row->nnz;
  }
  return SC_OK;
}

/* The kernels from aligned loads (single_aligned, pair_aligned) jump to
   another loop where the offset from a 64-byte boundary changes from one
   position to the next: each row's positions are put in runs of equal
   idx % 16, in their order within a run (a stable counting sort; values
   move with them). A tile's own offset adds the same amount to every
   position, so they stay runs. Whole rows only (nch == 1: no chunk
   boundaries to keep). */
static sc_status sort_by_shift(sc_spconv *s) {
  int64_t most = 0;
  for (int32_t r = 0; r < s->nrows; r++) most = SC_MAX(most, (int64_t)s->rows[r].nnz);
  int32_t *ti = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)SC_MAX(most, 1));
  float *tv = (float *)sc_aligned_alloc(sizeof(float) * 2 * (size_t)SC_MAX(most, 1));
  if (!ti || !tv) {
    sc_aligned_free(ti);
    sc_aligned_free(tv);
    return SC_OUT_OF_MEMORY;
  }
  for (int32_t r = 0; r < s->nrows; r++) {
    const sc_spconv_row *row = &s->rows[r];
    if (row->nc) continue;
    const int per = row->c1 >= 0 ? 2 : 1;
    int32_t *ip = s->idx + row->first;
    float *vp = s->val + row->vfirst;
    int32_t start[17] = {0};
    for (int32_t k = 0; k < row->nnz; k++) start[(ip[k] & 15) + 1]++;
    for (int32_t i = 0; i < 16; i++) start[i + 1] += start[i];
    for (int32_t k = 0; k < row->nnz; k++) {
      const int32_t to = start[ip[k] & 15]++;
      ti[to] = ip[k];
      for (int j = 0; j < per; j++) tv[(int64_t)per * to + j] = vp[(int64_t)per * k + j];
    }
    memcpy(ip, ti, sizeof(int32_t) * (size_t)row->nnz);
    memcpy(vp, tv, sizeof(float) * (size_t)per * (size_t)row->nnz);
  }
  sc_aligned_free(ti);
  sc_aligned_free(tv);
  return SC_OK;
}

/* Dense rows per group of og output channels: as few as hold SC_SPCONV_RMAX
   channels each (sizes spread evenly). One more row to make the count even
   for two threads (rows of 4: 8 accumulator chains) was 3-8 % slower. */
static int32_t dense_rows(int32_t og) { return (og + SC_SPCONV_RMAX - 1) / SC_SPCONV_RMAX; }

/* The kernels' ISA: op->isa, but 8-lane kernels for element-wise and dense
   rows of 7x7 images and for element-wise rows of 1x1 layers that do not
   reduce the channels 4x, where the CPU splits 512-bit operations in two
   (Zen 4). There the 16-lane ones,
   tuned on Zen 5 and then chunked on 1x1 layers, ran slower; sparse-bench --suite
   layers, Zen 4, 2 threads, 90 %, AVX-512 -> AVX2 kernels
   (SPARSECONV_MAX_ISA): MobileNet 1x1 128@56 0.247 -> 0.137 ms, 512@14
   0.201 -> 0.156, ResNet-50 1x1 1024->256@14 0.195 -> 0.162, 256->64@56
   0.150 -> 0.130; at 50 and 75 % 2-36 % faster too, but for 256->64@56 at
   50 % (0.49 -> 0.59 ms; dense 0.46). 1x2 blocks of 1x1 layers were faster
   still on 16 lanes once their rows were no longer chunked (build_chunks).
   Spatial kernels keep 16 lanes: 1x2 blocks of 3x3 layers were faster with
   them (2-64 %) except dilated 3x3 d2 at 90 % (0.23 against 0.18 ms). */
enum { ROWS_SINGLE, ROWS_PAIR, ROWS_DENSE };

/* Lanes the vectors of `lanes` floats take to cover one image's computed
   positions (its rows at the pitch build_geometry gives them): stride 1. */
static int64_t padded_lanes(const sc_conv_op *op, int32_t lanes) {
  const sc_conv_desc *d = &op->desc;
  const int64_t maxox = (int64_t)(d->kernel_w - 1) * d->dilation_w;
  const int64_t m = (int64_t)op->out_h * row_pitch(d, op->out_w, maxox, lanes);
  return (m + lanes - 1) / lanes * lanes;
}

static sc_isa spconv_isa(const sc_conv_op *op, int rows) {
  const int single = rows == ROWS_SINGLE;
  const sc_conv_desc *d = &op->desc;
  /* Intel (Emerald Rapids): element-wise rows of 7x7 images and of 1x1
     layers that widen the channels 4x take 8 lanes too. Kernel probe, 2
     threads, five to seven interleaved runs, 16 -> 8 lanes: 3x3 512@7
     90/75 % 0.476/0.918 -> 0.421/0.850 ms (50 %: 1.65 -> 1.87, slower);
     1x1 128->512@28 90 % 0.268 -> 0.180, 256->1024@14 75 % 0.496 -> 0.383
     (90 % equal); 64->256@56 and the 1x1 layers that keep or reduce the
     channels within 2 % or slower (128@56 10 %). Zen 5 takes the 1x1 part:
     ab.sh, 2 threads, 90 %, whole rows, 16 -> 8 lanes, three processes,
     medians: 128->512@28 0.75, 64->256@56 1.02; 8 lanes were slower on the
     1x1 layers that keep the channels (128@56 1.15, 512@14 1.13) and equal
     on 3x3 512@7. */
  if (op->isa == SC_ISA_AVX512 && single && !sc_cpu_avx512_halves()) {
    if (sc_cpu_intel_avx512() && (int64_t)op->out_h * op->out_w <= 64) return SC_ISA_AVX2;
    if (d->kernel_h == 1 && d->kernel_w == 1 && d->out_channels >= 4 * (int64_t)d->in_channels)
      return SC_ISA_AVX2;
    return op->isa;
  }
  if (op->isa != SC_ISA_AVX512 || rows == ROWS_PAIR || !sc_cpu_avx512_halves()) return op->isa;
  /* Images of at most 64 outputs (7x7) fill at most four 16-lane vectors,
     the last one half empty, against seven whole 8-lane ones. sparse-bench,
     Zen 4, 1 thread, 3x3 512@7, 16 lanes (tiles of 8) -> 8 lanes: 90 %
     0.565 -> 0.466 ms, 75 % 1.30 -> 1.08, 50 % 2.46 -> 2.11; at 13x13 and
     14x14 the 8-lane kernels were 6-22 % slower at 50-75 %. 1x1 2048->512@7:
     8 lanes 9-12 % faster at 50-95 %. Dense rows of such images too where
     8-lane vectors cover their positions with an eighth fewer lanes or
     better (see sc_spconv_init_dense): 3x3 at 7x7 (56 positions: 7 vectors
     of 8, 4 of 16), not 5x5 at 7x7 (63: 64 lanes either way; 17-26 %
     slower on 8) nor 3x3 at 8x8 (72 against 80 lanes; 5-23 % slower). */
  if ((int64_t)op->out_h * op->out_w <= 64 &&
      (single || 8 * padded_lanes(op, 8) <= 7 * padded_lanes(op, 16)))
    return SC_ISA_AVX2;
  if (!single) return op->isa;
  /* 1x1 layers that reduce the channels 4x or more (ResNet-50's 1024->256,
     256->64) run 16-lane whole rows (build_chunks), the others 8 lanes.
     Kernel probe, 1 thread, 8 lanes -> 16-lane whole rows, 50/75/90/95 %:
     1024->256@14 1.27/0.654/0.286/0.146 -> 1.13/0.604/0.251/0.133 ms,
     256->64@56 1.14/0.550/0.256/0.157 -> 1.01/0.528/0.235/0.146; but
     512->512@14 at 75-90 % 3-7 % slower, 128->128@56 3-8 %, 256->1024@14
     5-24 %, 512->2048@7 4-15 %. */
  if (d->kernel_h == 1 && d->kernel_w == 1)
    return d->in_channels >= 4 * (int64_t)d->out_channels ? op->isa : SC_ISA_AVX2;
  return op->isa;
}

static sc_status spconv_init(sc_conv_op *op, const float *weight, const uint8_t *mask, int pairs,
                             int dense) {
  const sc_conv_desc *d = &op->desc;
  sc_spconv *s = (sc_spconv *)sc_aligned_calloc(sizeof(sc_spconv));
  if (!s) return SC_OUT_OF_MEMORY;
  s->pairs = pairs;
  s->dense = dense;
  const int32_t kh = d->kernel_h, kw = d->kernel_w, kk = kh * kw;
  s->isa = spconv_isa(op, dense ? ROWS_DENSE : pairs ? ROWS_PAIR : ROWS_SINGLE);
  pick_kernels(s->isa, &s->k);
  s->tmax = dense ? s->k.tmax_dense : pairs ? s->k.tmax_pair : s->k.tmax_single;

  int32_t *tmp = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)(2 * kh + 2 * kw + kk));
  if (!tmp) {
    spconv_destroy(s);
    return SC_OUT_OF_MEMORY;
  }
  int32_t *tap_y = tmp, *tap_x = tmp + kh, *ph_y = tmp + kh + kw, *ph_x = tmp + 2 * kh + kw;
  int32_t *tap_off = tmp + 2 * kh + 2 * kw;
  /* rows */
  const int32_t G = d->groups, og = d->out_channels / G, cg = d->in_channels / G;
  const int64_t per_oc = (int64_t)cg * kk;
  int32_t nrows = 0;
  if (dense) nrows = G * dense_rows(og);
  else if (pairs) nrows = G * ((og + 1) / 2);
  else nrows = d->out_channels;
  s->nrows = nrows;
  s->rows = (sc_spconv_row *)sc_aligned_calloc(sizeof(sc_spconv_row) * (size_t)nrows);
  s->cost = (int64_t *)sc_aligned_alloc(sizeof(int64_t) * (size_t)(nrows + 1));
  s->ooff = (int64_t *)sc_aligned_alloc(sizeof(int64_t) * (size_t)d->out_channels);
  if (!s->rows || !s->cost || !s->ooff) {
    sc_aligned_free(tmp);
    spconv_destroy(s);
    return SC_OUT_OF_MEMORY;
  }
  s->out_planes = d->out_channels;
  for (int32_t c = 0; c < d->out_channels; c++) s->ooff[c] = (int64_t)c * op->out_h * op->out_w;
  int32_t r = 0;
  for (int32_t g = 0; g < G && dense; g++) {
    const int32_t nr = dense_rows(og);
    for (int32_t i = 0; i < nr; i++) {
      sc_spconv_row *row = &s->rows[r++];
      const int32_t j0 = (int32_t)((int64_t)og * i / nr), j1 = (int32_t)((int64_t)og * (i + 1) / nr);
      row->c0 = g * og + j0;
      row->c1 = -1;
      row->nc = j1 - j0;
    }
  }
  for (int32_t g = 0; g < G && !dense; g++) {
    for (int32_t j = 0; j < og; j += pairs ? 2 : 1) {
      sc_spconv_row *row = &s->rows[r++];
      row->c0 = g * og + j;
      row->c1 = pairs && j + 1 < og ? row->c0 + 1 : -1;
    }
  }
  /* count */
  int64_t npos = 0, nval = 0, stored = 0;
  for (r = 0; r < nrows; r++) {
    sc_spconv_row *row = &s->rows[r];
    const int64_t w0 = (int64_t)row->c0 * per_oc, w1 = (int64_t)row->c1 * per_oc;
    int64_t n = 0;
    for (int64_t i = 0; i < per_oc; i++) {
      const bool k0 = dense || sc_kept(weight, mask, (size_t)(w0 + i));
      const bool k1 = row->c1 >= 0 && sc_kept(weight, mask, (size_t)(w1 + i));
      if (k0 || k1) n++;
    }
    if (n > INT32_MAX) {
      sc_aligned_free(tmp);
      spconv_destroy(s);
      return SC_SIZE_OVERFLOW;
    }
    row->nnz = (int32_t)n;
    row->first = npos;
    row->vfirst = nval;
    npos += n;
    const int64_t per = row->nc ? row->nc : row->c1 >= 0 ? 2 : 1;
    nval += per * n;
    stored += per * n;
    s->cost[r] = 0;
  }
  s->npos = npos;
  s->nval = nval;
  /* geometry after the count: whether a 1x1 layer copies depends on it */
  sc_status st = build_geometry(op, s, tap_y, tap_x, ph_y, ph_x);
  if (st != SC_OK) {
    sc_aligned_free(tmp);
    spconv_destroy(s);
    return st;
  }
  for (int32_t ky = 0; ky < kh; ky++)
    for (int32_t kx = 0; kx < kw; kx++)
      tap_off[ky * kw + kx] = s->direct ? 0
                                        : (int32_t)(((int64_t)ph_y[ky] * s->nsx + ph_x[kx]) * s->plane +
                                                    (int64_t)tap_y[ky] * s->wq + tap_x[kx]);
  s->idx = (int32_t *)sc_aligned_calloc(sizeof(int32_t) * (size_t)(npos + 16));
  s->val = (float *)sc_aligned_alloc(sizeof(float) * (size_t)SC_MAX(nval, 1));
  if (!s->idx || !s->val) {
    sc_aligned_free(tmp);
    spconv_destroy(s);
    return SC_OUT_OF_MEMORY;
  }
  /* fill */
  int64_t element_kept = 0;
  for (r = 0; r < nrows; r++) {
    const sc_spconv_row *row = &s->rows[r];
    const int32_t g = row->c0 / og;
    const int64_t w0 = (int64_t)row->c0 * per_oc, w1 = (int64_t)row->c1 * per_oc;
    int32_t *ip = s->idx + row->first;
    float *vp = s->val + row->vfirst;
    for (int32_t c = 0; c < cg; c++) {
      const int64_t cbase = ((int64_t)g * cg + c) * s->chan;
      for (int32_t t = 0; t < kk; t++) {
        const int64_t i = (int64_t)c * kk + t;
        const bool k0 = dense || sc_kept(weight, mask, (size_t)(w0 + i));
        const bool k1 = row->c1 >= 0 && sc_kept(weight, mask, (size_t)(w1 + i));
        if (!(k0 || k1)) continue;
        element_kept += (int64_t)k0 + (int64_t)k1;
        *ip++ = (int32_t)(cbase + tap_off[t]);
        *vp++ = k0 ? weight[w0 + i] : 0.0f;
        if (row->c1 >= 0) *vp++ = k1 ? weight[w1 + i] : 0.0f;
        for (int32_t c = 1; c < row->nc; c++) *vp++ = weight[w0 + (int64_t)c * per_oc + i];
      }
    }
  }
  sc_aligned_free(tmp);
  st = build_chunks(op, s, weight, mask, npos);
  if (st != SC_OK) {
    spconv_destroy(s);
    return st;
  }
  /* Zen 5, rows run whole (no input-channel chunks) over tiles of 6 vectors
     or more: single and pair rows load their vectors aligned and shift
     them into place (single_aligned, pair_aligned) instead of loading each
     across two cache lines. The loop probe (Benchmarks/kernel-probe/loop.c,
     from L1) ran one channel x 16 vectors at 5.9 FMA/ns that way against
     4.1, a pair x 12 at 8.5 against 7.7. ab.sh, 2 threads, 90 %, time
     aligned / before, three to five processes, medians: element-wise 1x1
     512@14 0.85, 1024->256@14 0.93, 512->128@28 0.89, 256->64@56 0.97
     (its planes are whole vectors: most loads were aligned already), 75 %
     1024->256@14 0.95, 95 % 512@14 0.92; 1x2 blocks 1x1 1024->256@14 0.93,
     512@14 0.87-0.95, 256->64@56 1.01. Chunked rows sorted within each
     chunk, into runs of 2-3 positions, lost (element-wise 3x3 512@7
     1.22-1.37, 256@14 0.79-1.07 across variants and hours), as did
     4-vector tiles (1x1 2048->512@7 1.07) and rows of under 8 positions,
     where a jump comes every position or two (ResNeXt 3x3 128@56 g32, 3.6
     a row: 1.036).
     Also faster: AlexNet 11x11/4 3->96, element-wise 0.91, 1x2 blocks
     0.93; MobileNet 1x1 128@56 element-wise 0.92. */
  if (!dense && s->k.single_aligned[1] && zen5_rows(s) && s->nch == 1 &&
      s->band[0].nvec >= 6 * s->band[0].ntiles && s->npos >= 8 * (int64_t)s->nrows) {
    st = sort_by_shift(s);
    if (st != SC_OK) {
      spconv_destroy(s);
      return st;
    }
    memcpy(s->k.single, s->k.single_aligned, sizeof(s->k.single));
    memcpy(s->k.pair, s->k.pair_aligned, sizeof(s->k.pair));
  }
  /* cost: FMAs per position plus a per-row constant for the stores */
  int64_t acc = 0;
  for (r = 0; r < nrows; r++) {
    s->cost[r] = acc;
    const sc_spconv_row *row = &s->rows[r];
    acc += row->nc ? (int64_t)row->nnz * (row->nc + 1) + 8 * row->nc
                   : (int64_t)row->nnz * (row->c1 >= 0 ? 3 : 2) + 8;
  }
  s->cost[nrows] = acc;
  /* A single band read in place is split between the threads by rows, so
     every thread streams the whole input (each tile's window of every
     channel) through its L2 and half the packed weights. When the weights
     are small beside the input, split the tile-major work instead: a thread
     reads only its tiles' windows (3 of 5 on a 14x14 image) and all the
     weights, which stay in L2 from tile to tile. Probe, 1x2 blocks, 1x1
     1024->256@14 (input 800 KB), 2 threads, two builds interleaved: 90 %
     (157 KB of weights) 0.119 -> 0.113 ms, 95 % 0.070 -> 0.064; at 75 %
     (393 KB) and 50 % within 1 %, as was 1024->512@14 at 90 % (315 KB);
     512->2048@7 (100 KB of input, 630 KB of weights) 8 % slower. AVX2 only,
     where measured. */
  {
    const double weight_bytes = 4.0 * (double)npos + 4.0 * (double)nval;
    const double input_bytes = 4.0 * (double)d->in_channels * d->in_h * d->in_w;
    s->spans = s->k.lanes == 8 && s->isa == SC_ISA_AVX2 && s->direct && s->nb == 1 && s->nch == 1 &&
               4.0 * weight_bytes <= input_bytes;
  }
  /* Zen 4's 8-lane dense rows of 7x7 images (sc_spconv_init_dense): the 9
     rows of 51 filters would split 5 to 4 between two threads and 7 vectors
     are too few to cut into slices; spans split the (tile, row) work
     evenly, each thread building the whole band for itself (without them
     the dense rows gained nothing on 2 threads). A tile's last vector then
     stores exactly: its spare lanes would land on the next tile's outputs,
     which another thread may have written already. */
  if (dense && op->isa == SC_ISA_AVX512 && s->isa == SC_ISA_AVX2 && !s->direct && s->nb == 1 &&
      s->nch == 1 && d->groups == 1) {
    s->spans = 1;
    sc_spconv_band *bd = &s->band[1];
    if (bd->vperm)
      for (int32_t t = 0; t < bd->ntiles; t++) bd->vperm[bd->tile[t + 1] - 1] |= 1u << 31;
  }

  op->impl = s;
  op->destroy_impl = spconv_destroy;
  op->workspace_size = spconv_workspace_size;
  op->run = spconv_run;
  op->stored_weights = pairs || dense ? stored : element_kept;
  op->packed_bytes = sizeof(sc_spconv_row) * (size_t)nrows + sizeof(int32_t) * (size_t)npos +
                     sizeof(int64_t) * (size_t)d->out_channels +
                     sizeof(float) * (size_t)nval + sizeof(int64_t) * (size_t)(nrows + 1) +
                     (sizeof(uint16_t) + sizeof(int32_t)) * (size_t)(s->band[0].nvec + s->band[1].nvec);
  return SC_OK;
}

sc_status sc_spconv_init(sc_conv_op *op, const float *weight, const uint8_t *mask, int pairs) {
  return spconv_init(op, weight, mask, pairs, 0);
}

/* Dense rows where the ISA has their kernels, a group has 4 filters or more
   (fewer would leave fewer than 8 accumulator chains), the stride is 1 and
   the output plane is larger than 256; else pairs with every weight kept.
   sparse-bench, channel-level 90 % (magnitude), 2 threads, Zen 3, dense
   rows against pairs: 3x3 64@56 (6 filters) 0.184 -> 0.170 ms, 128@28 (13)
   0.186 -> 0.177; but 256@14 (26) 0.169 -> 0.172, 512@7 (51) 0.171 ->
   0.180 and 128@56 stride 2 (13) 0.37 -> 0.41. On Zen 1 dense rows won on
   the small planes too (kernel probe, 2 threads, 90 %, pairs -> dense rows):
   3x3 256@14 (26 filters) 0.462 -> 0.392 ms, 256@13 0.513 -> 0.442, 512@7
   (51) 0.464 -> 0.421, 256@14 at 75 % 0.996 -> 0.837. On Zen 4, dense
   rows of 7x7 images run on 8 lanes (spconv_isa: seven vectors of eight
   positions at pitch 8, where 16 lanes fill four of 16), split between the
   threads tile-major (spans, spconv_init). Benchmarks/kernel-probe/ab.sh
   (the build before and this one in one process, alternating blocks of 25
   runs, median of the block ratios; a host whose speed drifts 10-20 %
   between processes hid this from process-level A/B), channel-level 3x3,
   2 threads, time after / before: 512@7 90 % 0.95-0.97, 95 % 0.94, 75 %
   0.91, 50 % 0.98; 256@7 90 % 0.97; 1 thread 512@7 90 % 0.91 (0.283 ->
   0.255 ms). Without the spans, 2 threads gained nothing (a throwaway
   toggle, 0.98-1.01). 13x13 and 14x14 stay pairs (dense rows 3-10 %
   slower there, on 16 lanes or 8, one thread).
   Zen 3 again, with today's engine (per-thread planes, vector slices, plain
   loads), as on Zen 1: dense rows on the small planes too, so every CPU
   without AVX-512 takes them. Benchmarks/kernel-probe/ab.sh, 2 threads,
   channel-level, time dense rows / pairs, two sets of three processes
   (the host's speed moved between them): 3x3 256@14 (26 filters at 90 %)
   0.92-0.98, 95 % 0.90-0.91, 75 % 0.87-0.89, 50 % 0.77-0.84; 512@7 (51)
   90 % 0.87-1.04, 95 % 0.81-0.97, 75 % 0.81-0.83, 50 % 0.78; 384@13
   0.83-1.00; AlexNet 256@13 g2 1.01-1.07 (equal on Zen 1); 64@56, whose
   plane was already large enough, 1.00-1.02. */
sc_status sc_spconv_init_dense(sc_conv_op *op, const float *weight) {
  const sc_conv_desc *d = &op->desc;
  const sc_isa isa = spconv_isa(op, ROWS_DENSE);
  sc_spconv_kernels k;
  pick_kernels(isa, &k);
  const bool small_ok = !sc_isa_supported(SC_ISA_AVX512) || (op->isa == SC_ISA_AVX512 && isa == SC_ISA_AVX2);
  if (k.tmax_dense > 0 && d->out_channels / d->groups >= 4 && d->stride_h == 1 && d->stride_w == 1 &&
      ((int64_t)op->out_h * op->out_w > 256 || small_ok))
    return spconv_init(op, weight, NULL, 0, 1);
  return sc_spconv_init_all_pairs(op, weight);
}

sc_status sc_spconv_init_all_pairs(sc_conv_op *op, const float *weight) {
  const sc_conv_desc *d = &op->desc;
  const size_t n = (size_t)d->out_channels * (size_t)(d->in_channels / d->groups) * (size_t)d->kernel_h *
                   (size_t)d->kernel_w;
  uint8_t *all = (uint8_t *)sc_aligned_alloc(SC_MAX(n, (size_t)1));
  if (!all) return SC_OUT_OF_MEMORY;
  memset(all, 1, n);
  const sc_status st = spconv_init(op, weight, all, 1, 0);
  sc_aligned_free(all);
  return st;
}

sc_status sc_dense_direct_init(sc_conv_op *op, const float *weight, const uint8_t *mask) {
  (void)mask;
  return sc_spconv_init_dense(op, weight);
}

sc_status sc_spconv_map_outputs(sc_conv_op *op, const int32_t *out_plane, int32_t out_planes,
                                const int32_t *fill_plane, const float *fill_value, int32_t nfill) {
  if (op->run != spconv_run) return SC_UNSUPPORTED;
  sc_spconv *s = (sc_spconv *)op->impl;
  if (nfill < 0 || out_planes < op->desc.out_channels || s->nfill) return SC_UNSUPPORTED;
  const int64_t ohw = (int64_t)op->out_h * op->out_w;
  if ((int64_t)out_planes * ohw > INT32_MAX) return SC_UNSUPPORTED;
  int32_t *fp = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)SC_MAX(nfill, 1));
  float *fv = (float *)sc_aligned_alloc(sizeof(float) * (size_t)SC_MAX(nfill, 1));
  if (!fp || !fv) {
    sc_aligned_free(fp);
    sc_aligned_free(fv);
    return SC_OUT_OF_MEMORY;
  }
  if (nfill) memcpy(fp, fill_plane, sizeof(int32_t) * (size_t)nfill);
  if (nfill) memcpy(fv, fill_value, sizeof(float) * (size_t)nfill);
  for (int32_t c = 0; c < op->desc.out_channels; c++) s->ooff[c] = (int64_t)out_plane[c] * ohw;
  s->out_planes = out_planes;
  s->fill_plane = fp;
  s->fill_value = fv;
  s->nfill = nfill;
  return SC_OK;
}
