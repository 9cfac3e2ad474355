/*
 * Dense (SC_PATH_DENSE) and grouped (SC_PATH_GROUPED) convolution.
 *
 * Each (image, group) is a GEMM  C[M × N] = A[M × K] · B[K × N]  with
 *   M = out_channels / groups, K = (in_channels / groups) · kernel_h · kernel_w,
 *   N = out_h · out_w,
 * A the group's weights (OIHW rows are already K-contiguous), B the implicit
 * im2col of the input (reduction row k = (c, ky, kx)), C the group's NCHW
 * output planes. Three ways to run it, chosen once at init:
 *
 * 1. Pixel vectors ("PV", every ISA): microkernels compute an MR × NR tile of C
 *    with NR along the pixels, because an NCHW output row is contiguous; NR =
 *    NV vectors of W lanes, weights broadcast, pixels loaded:
 *      AVX-512: MR = 8, W = 16, NV <= 3  (f32_gemm_8x48__avx512)
 *      AVX2:    MR = 6, W = 8,  NV <= 2  (f32_gemm_6x16__avx2)
 *      scalar:  MR = 4, W = 8,  NV <= 1  (f32_gemm_4x8__scalar)
 *    B comes from one of:
 *    a. the input itself (1×1, stride 1, unpadded: row stride N, no copy; the
 *       last vector is a masked load so nothing past the tensor is read);
 *    b. AVX-512, stride 1: a zero-padded copy of the input, read through an
 *       offset table (f32_igemm_8x48__avx512). C is computed on the "wide"
 *       grid (padded width, (kernel_w - 1)·dilation_w garbage columns per row)
 *       where every tap of a pixel vector is one contiguous load; the store
 *       squeezes the garbage lanes out (compress / expand);
 *    c. otherwise a per-thread im2col block (im2col_block).
 * 2. Channel vectors ("CV", f32_cvgemm_8x48__{avx512,avx2}): the vectors run
 *    along the output channels and up to 8 pixels (6 on AVX2) are broadcast
 *    straight from the (padded copy of the) input, so small images (7×7 = 49
 *    pixels) and spatial kernels keep all lanes busy with no im2col; the
 *    running sums of a block of pixels sit in a per-thread scratch and are
 *    transposed into NCHW at the end. Chosen where it fills more lanes than
 *    PV, or about as many and saves an im2col (on AVX2 also for 1×1 layers of
 *    up to 256 pixels; see init_gemm).
 * 3. Tiny groups (grouped path, M <= 8, K <= 144, stride_w == 1): a direct
 *    convolution (f32_gconv_*): the im2col of a group with K = 36 would cost as
 *    much as its GEMM. Masked loads of input rows replace padding.
 *
 * Packed formats (all 64-byte aligned, zero padded):
 *   PV  a      [groups][MT][K][MR]  weight (g, m0(mt) + i, k) at
 *                                   a[((g·MT + mt)·K + k)·MR + i], MT = ceil(M/MR);
 *                                   tile mt holds rows [m0(mt), m0(mt + 1)) with
 *                                   m0(mt) = mt·M / MT (mrow), so the rows
 *                                   spread evenly (13 = 5 + 4 + 4, not 6 + 6 + 1)
 *       bias   [groups][MT][MR]
 *       koff   [K] (b.)             k = (c, ky, kx) -> c·plane + ky·dil_h·pw + kx·dil_w
 *       vmask  [nvec] (b.)          lanes of wide-grid vector v that are real pixels
 *       vdst   [nvec] (b.)          output index of its first real pixel
 *   CV  wcv    [groups][mvec][K][16] weight (g, 16·v + l, k), mvec = ceil(M/16)
 *       bcv    [groups][mvec·16]
 *       koff   [K]                  as above (padded copy, or the input when unpadded)
 *       poff   [N]                  pixel (oy, ox) -> oy·stride_h·pw + ox·stride_w
 *   gconv gw   [groups][MT4][kernel_h][kernel_w][cin_g][4], MT4 = ceil(M/4)
 *       gbias  [groups][MT4][4]
 *       tiles  [ntiles]             runs of up to W pixels of one output row, up
 *                                   to 6 (AVX-512) per tile
 * Workspace of a run: [padded input copy (b., CV with padding): batch ×
 * in_channels × ph × pw floats + slack, one per thread up to 64 MiB in all,
 * else one shared by the threads (private_pad)][per thread: the
 * im2col block (c.) kc × block width floats, or the CV scratch 48 × block
 * pixels].
 *
 * Blocking: K is cut into nk ≈ equal blocks (<= 512 for PV, 256 for a deep
 * in-place 1×1 B on AVX2, 128 for CV; the C tile is reloaded between K
 * blocks, the bias enters with the first, the activation with the last), N
 * into blocks whose B fits L2 (one more when that evens the thread units).
 * Vectors are spread evenly over blocks and tiles, so only the last vector of
 * N is partial. Within a block, AVX2 runs pixel tiles outermost.
 *
 * Threads: one parallel region; the padded copy is split by planes, then a
 * barrier. PV splits the list (image, group, N block, M tile) by thread index
 * (a thread packs a B block once for all its M tiles); CV splits the list
 * (image, group, 16-channel vector) and tiles each thread's run itself, so
 * threads stay balanced to one vector (AVX2: a thread that is done takes the
 * others' last (tile, pixel block) units); gconv splits (image, group, M4 tile,
 * pixel tile).
 */
#include "gemm.h"
#include "../sparse/spconv.h"

#include <string.h>

#define KC_MAX 512
#define KC_DIRECT_MAX 256
#define B_BLOCK_FLOATS (96 * 1024)

typedef struct dense_impl {
  /* instruction-set parameters */
  int mr, w, nvmax;
  sc_gemm_ukernel gemm;
  sc_gemm_rows_ukernel gemm_rows; /* NULL where the ISA has no mapped-row kernel */
  /* GEMM shape per (image, group) */
  int32_t groups, M, K, N, MT;
  int32_t *mrow;         /* [MT + 1] first row of each M tile (tile_row) */
  int32_t kc, nk;        /* K block size and count */
  int32_t nvec, nb;      /* vectors over N, N blocks */
  int32_t block_vec_max; /* vectors of the largest N block */
  bool direct_b;         /* B is the input itself */
  /* stride-1 AVX-512: B read through koff from a zero-padded copy of the input */
  bool padded;
  /* small images: vectors along the output channels (f32_cvgemm) */
  bool cv;
  void (*cvgemm)(size_t, const float *, size_t, const float *, const int32_t *, const int32_t *, int,
                 int, float *, const float *, int);
  bool pad_copy;          /* the run makes the zero-padded copy (padded, or cv with padding) */
  int32_t mvec;           /* cv: 16-channel vectors per group */
  int32_t cv_mp;          /* cv: pixels per tile (kernel call) */
  float *wcv, *bcv;       /* cv: [groups][K][mvec·16], [groups][mvec·16] */
  int32_t *poff;          /* cv: [N] */
  int32_t pad_w, plane;   /* padded width, padded plane (floats) */
  size_t pad_floats;      /* per image */
  size_t pad_slack;       /* readable floats after the last plane */
  int32_t *koff;          /* [K] */
  uint16_t *vmask;        /* [nvec] */
  int32_t *vdst;          /* [nvec] */
  int flags;             /* activation flags */
  /* Mapped output (sc_dense_map_outputs; AVX2 and AVX-512 pixel-vector GEMM, one group):
     GEMM row m goes to plane out_plane[m] of output images of out_planes
     planes (rowoff[m] = out_plane[m] * N), and the planes fill_plane[] get
     the constant fill_value[] in the same run. NULL rowoff: row m is plane m. */
  int64_t *rowoff;
  int32_t out_planes, nfill;
  int32_t *fill_plane;
  float *fill_value;
  float *a, *bias;
  size_t ws_floats; /* per thread */
  /* tiny-group direct convolution */
  bool gconv;
  void (*gconv_kernel)(const sc_gconv_args *, const sc_gconv_tile *);
  int32_t MT4, ntiles;
  float *gw, *gbias;
  sc_gconv_tile *tiles;
} dense_impl;

static void dense_destroy(void *p) {
  dense_impl *d = (dense_impl *)p;
  if (!d) return;
  sc_aligned_free(d->a);
  sc_aligned_free(d->bias);
  sc_aligned_free(d->gw);
  sc_aligned_free(d->gbias);
  sc_aligned_free(d->tiles);
  sc_aligned_free(d->koff);
  sc_aligned_free(d->wcv);
  sc_aligned_free(d->bcv);
  sc_aligned_free(d->poff);
  sc_aligned_free(d->vmask);
  sc_aligned_free(d->vdst);
  sc_aligned_free(d->mrow);
  sc_aligned_free(d->rowoff);
  sc_aligned_free(d->fill_plane);
  sc_aligned_free(d->fill_value);
  sc_aligned_free(d);
}

/* ---------------------------------------------------------------- im2col */

/*
 * Packs B[k][p - p0] (row stride ldb) for k in [k0, k0 + kc) and pixels p in
 * [p0, p0 + ldb), zeros for padding taps and pixels past N. The row segments
 * and their clipping depend only on the tap (ky, kx), so they are computed once
 * per tap and replayed for every input channel of the K block.
 */
static void im2col_block(const sc_conv_op *op, const float *in_g, int32_t k0, int32_t kc,
                         int32_t p0, int32_t ldb, int32_t N, float *dst) {
  const sc_conv_desc *d = &op->desc;
  const int32_t ow = op->out_w, khw = d->kernel_h * d->kernel_w;
  const size_t in_hw = (size_t)d->in_h * d->in_w;
  const int32_t sw = d->stride_w;
  const int32_t valid = SC_MAX(0, SC_MIN(ldb, N - p0));
  if (valid < ldb)
    for (int32_t k = 0; k < kc; k++)
      memset(dst + (size_t)k * ldb + valid, 0, sizeof(float) * (size_t)(ldb - valid));
  for (int32_t r = 0; r < khw; r++) {
    int32_t c_lo = k0 <= r ? 0 : (k0 - r + khw - 1) / khw;
    int32_t c_hi = (k0 + kc - 1 - r) < 0 ? -1 : (k0 + kc - 1 - r) / khw; /* inclusive */
    if (c_hi < c_lo) continue;
    const int32_t ky = r / d->kernel_w, kx = r % d->kernel_w;
    /* valid ox range [lo, hi): 0 <= ox*sw + off < in_w */
    const int32_t off = kx * d->dilation_w - d->pad_left;
    int32_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
    int32_t hi = d->in_w - off <= 0 ? 0 : (d->in_w - off - 1) / sw + 1;
    if (hi > ow) hi = ow;
    if (lo > hi) lo = hi;
    int32_t oy = p0 / ow, ox = p0 % ow, j = 0;
    while (j < valid) {
      const int32_t seg = SC_MIN(valid - j, ow - ox);
      const int32_t iy = oy * d->stride_h - d->pad_top + ky * d->dilation_h;
      float *o = dst + (size_t)(c_lo * khw + r - k0) * ldb + j;
      const size_t ostep = (size_t)khw * ldb;
      if (iy < 0 || iy >= d->in_h) {
        for (int32_t c = c_lo; c <= c_hi; c++, o += ostep) memset(o, 0, sizeof(float) * (size_t)seg);
      } else {
        const int32_t a = SC_MIN(SC_MAX(lo, ox), ox + seg), b = SC_MAX(SC_MIN(hi, ox + seg), a);
        const int32_t nz0 = a - ox, ncp = b - a, nz1 = ox + seg - b;
        const float *src = in_g + (size_t)c_lo * in_hw + (size_t)iy * d->in_w + (ptrdiff_t)a * sw + off;
        for (int32_t c = c_lo; c <= c_hi; c++, o += ostep, src += in_hw) {
          for (int32_t x = 0; x < nz0; x++) o[x] = 0.0f;
          if (sw == 1) {
            memcpy(o + nz0, src, sizeof(float) * (size_t)ncp);
          } else {
            for (int32_t x = 0; x < ncp; x++) o[nz0 + x] = src[(ptrdiff_t)x * sw];
          }
          for (int32_t x = 0; x < nz1; x++) o[nz0 + ncp + x] = 0.0f;
        }
      }
      j += seg;
      ox = 0;
      oy++;
    }
  }
}

/* Tile t of a block of bv vectors: its first vector (relative) and width. */
static inline void tile_of(int32_t bv, int32_t ntl, int32_t t, int32_t *v0, int32_t *nv) {
  int32_t q = bv / ntl, r = bv % ntl;
  *v0 = t * q + SC_MIN(t, r);
  *nv = q + (t < r ? 1 : 0);
}

/* ------------------------------------------------------------------ GEMM */

/* First output row of M tile mt: the rows spread evenly over the MT tiles,
   mrow[mt] = mt * M / MT (set once in init_gemm, not divided per call).
   AVX2 and AVX-512 kernels compute only a tile's real rows, so 13 kept filters of a
   channel-pruned 1x1 layer run as 4 + 4 + 5 rows instead of 6 + 6 + 1 (18
   rows of FMAs for 13). */
static inline int32_t tile_row(const dense_impl *d, int32_t mt) { return d->mrow[mt]; }

static void gemm_segment(const sc_conv_op *op, const dense_impl *d, const float *input,
                         float *output, int32_t b, int32_t g, int32_t nbi, int32_t mt0,
                         int32_t mt1, const float *pad, float *ws) {
  const sc_conv_desc *cd = &op->desc;
  const int32_t cin_g = cd->in_channels / d->groups;
  const size_t in_hw = (size_t)cd->in_h * cd->in_w;
  const float *in_g = input + ((size_t)b * cd->in_channels + (size_t)g * cin_g) * in_hw;
  const float *pad_g = d->padded ? pad + (size_t)b * d->pad_floats + (size_t)g * cin_g * d->plane : NULL;
  const size_t planes = d->rowoff ? (size_t)d->out_planes : (size_t)cd->out_channels;
  float *out_g = output + ((size_t)b * planes + (size_t)g * d->M) * (size_t)d->N;
  const int W = d->w, MR = d->mr;
  /* vectors of this N block */
  int32_t vs = (int32_t)((int64_t)nbi * d->nvec / d->nb);
  int32_t ve = (int32_t)((int64_t)(nbi + 1) * d->nvec / d->nb);
  int32_t bv = ve - vs;
  int32_t ntl = (bv + d->nvmax - 1) / d->nvmax;
  for (int32_t kb = 0; kb < d->nk; kb++) {
    int32_t k0 = kb * d->kc;
    int32_t kc = SC_MIN(d->kc, d->K - k0);
    if (!d->direct_b && !d->padded) im2col_block(op, in_g, k0, kc, vs * W, bv * W, d->N, ws);
    int flags = d->flags | (kb == 0 ? SC_GEMM_FIRST : 0) | (kb == d->nk - 1 ? SC_GEMM_LAST : 0);
    /* 8-lane kernels take pixel tiles outermost: a tile's B panel (kc x 16
       floats, at most 32 KB) stays in L1 while the M tiles' weight panels
       stream past it. Probe, AVX2 dense, 2 threads: 1x1 256->64@56 0.617 ->
       0.581 ms, 1024->256@14 0.706 -> 0.673, 3x3 64@56 1.48 -> 1.44; the
       13 filters kept of a channel-pruned 1x1 128@56 0.098 -> 0.092.
       AVX-512's panel (kc x 48) would not fit L1: M tiles stay outermost. */
    const bool tile_outer = W == 8;
    const int32_t n_outer = tile_outer ? ntl : mt1 - mt0, n_inner = tile_outer ? mt1 - mt0 : ntl;
    for (int32_t io = 0; io < n_outer; io++) {
      for (int32_t ii = 0; ii < n_inner; ii++) {
        const int32_t mt = mt0 + (tile_outer ? ii : io), t = tile_outer ? io : ii;
        const float *a = d->a + (((size_t)g * d->MT + mt) * d->K + k0) * MR;
        const float *bias = d->bias + ((size_t)g * d->MT + mt) * MR;
        const int32_t m0 = tile_row(d, mt);
        int mrows = tile_row(d, mt + 1) - m0;
        float *c_m = out_g + (d->rowoff ? 0 : (size_t)m0 * d->N);
        int32_t v0, nv;
        tile_of(bv, ntl, t, &v0, &nv);
        int32_t p0 = (vs + v0) * W;
        if (d->padded) {
          f32_igemm_8x48__avx512((size_t)kc, a, pad_g + p0, d->koff + k0, c_m, (size_t)d->N, mrows,
                                 nv, d->vmask + vs + v0, d->vdst + vs + v0, bias, flags);
          continue;
        }
        int ncols = SC_MIN(nv * W, d->N - p0);
        const float *bp;
        size_t ldb;
        if (d->direct_b) {
          bp = in_g + (size_t)k0 * in_hw + p0;
          ldb = in_hw;
        } else {
          bp = ws + (size_t)v0 * W;
          ldb = (size_t)bv * W;
        }
        if (!d->rowoff) {
          d->gemm((size_t)kc, a, bp, ldb, c_m + p0, (size_t)d->N, mrows, ncols, bias, flags);
          continue;
        }
        d->gemm_rows((size_t)kc, a, bp, ldb, c_m + p0, d->rowoff + m0, mrows, ncols, bias, flags);
      }
    }
  }
}

/* This thread's share of the planes a mapped op fills with constants (the
   removed filters of a channel-pruned layer), taken before its GEMM units:
   one parallel region for the whole layer, and whole planes, because
   spreading the stores between the tiles made them miss the L2 one line at a
   time (probe, 1x1 128@56 with 13 of 128 filters kept: 0.099 -> 0.106 ms). */
static void fill_planes(const dense_impl *d, int32_t batch, float *output, int nthreads, int tid) {
  if (!d->nfill) return;
  int64_t f0, f1;
  sc_split((int64_t)batch * d->nfill, nthreads, tid, &f0, &f1);
  for (int64_t f = f0; f < f1; f++) {
    const int64_t b = f / d->nfill, j = f % d->nfill;
    float *o = output + ((size_t)b * d->out_planes + (size_t)d->fill_plane[j]) * (size_t)d->N;
    sc_fill_floats(o, (size_t)d->N, d->fill_value[j]);
  }
}

static void gemm_thread(const sc_conv_op *op, const dense_impl *d, int32_t batch,
                        const float *input, float *output, const float *pad, float *ws,
                        int nthreads, int tid) {
  int64_t units = (int64_t)batch * d->groups * d->nb * d->MT;
  int64_t u0, u1;
  fill_planes(d, batch, output, nthreads, tid);
  sc_split(units, nthreads, tid, &u0, &u1);
  while (u0 < u1) {
    int64_t bgn = u0 / d->MT;
    int32_t mt0 = (int32_t)(u0 % d->MT);
    int32_t mt1 = (int32_t)SC_MIN((int64_t)d->MT, mt0 + (u1 - u0));
    int32_t nbi = (int32_t)(bgn % d->nb);
    int64_t bg = bgn / d->nb;
    gemm_segment(op, d, input, output, (int32_t)(bg / d->groups), (int32_t)(bg % d->groups), nbi,
                 mt0, mt1, pad, ws);
    u0 += mt1 - mt0;
  }
}

/* One tile of tnv 16-channel vectors from vector v of group g of image b:
   every pixel block and K block, then the transposition into NCHW. */
static void cv_tile(const sc_conv_op *op, const dense_impl *d, const float *src, size_t img,
                    float *output, float *acc, int32_t b, int32_t g, int32_t v, int32_t tnv,
                    int32_t pblo, int32_t pbhi) {
  const sc_conv_desc *cd = &op->desc;
  const int32_t cin_g = cd->in_channels / d->groups;
  const size_t ldw = (size_t)d->mvec * 16, vstride = (size_t)d->K * 16;
  const float *x = src + (size_t)b * img + (size_t)g * cin_g * d->plane;
  float *out_g = output + ((size_t)b * cd->out_channels + (size_t)g * d->M) * (size_t)d->N;
  int32_t oc0 = v * 16;
  int32_t nch = SC_MIN(tnv * 16, d->M - oc0);
  for (int32_t pb = pblo; pb < pbhi; pb++) {
    int32_t pb0, pbn;
    tile_of(d->N, d->nb, pb, &pb0, &pbn);
    const int32_t npt = (pbn + d->cv_mp - 1) / d->cv_mp;
    for (int32_t kb = 0; kb < d->nk; kb++) {
      int32_t k0 = kb * d->kc, kc = SC_MIN(d->kc, d->K - k0);
      int flags = d->flags | (kb == 0 ? SC_GEMM_FIRST : 0) | (kb == d->nk - 1 ? SC_GEMM_LAST : 0);
      const float *w = d->wcv + ((size_t)g * d->mvec + v) * vstride + (size_t)k0 * 16;
      for (int32_t pt = 0; pt < npt; pt++) {
        int32_t p0, mp;
        tile_of(pbn, npt, pt, &p0, &mp);
        d->cvgemm((size_t)kc, w, vstride, x, d->poff + pb0 + p0, d->koff + k0, mp, tnv,
                  acc + (size_t)p0 * 48, d->bcv + (size_t)g * ldw + oc0, flags);
      }
    }
    for (int32_t j = 0; j < nch; j++) {
      float *o = out_g + (size_t)(oc0 + j) * d->N + pb0;
      for (int32_t p = 0; p < pbn; p++) o[p] = acc[(size_t)p * 48 + j];
    }
  }
}

/*
 * Channel-vector mode: thread tid takes a contiguous run of 16-channel vectors
 * of the list (image, group, vector) and cuts each (image, group) part of it
 * into tiles of up to 3 vectors, so the threads stay balanced to one vector.
 * With claim (AVX2, see dense_run) each thread walks its own share forward a
 * unit (tile, pixel block) at a time, then takes what is left of the others'.
 */
static void cv_thread(const sc_conv_op *op, const dense_impl *d, int32_t batch,
                      const float *input, float *output, const float *pad, float *acc,
                      int nthreads, int tid, int64_t *claim) {
  const sc_conv_desc *cd = &op->desc;
  const size_t img = d->pad_copy ? d->pad_floats : (size_t)cd->in_channels * d->plane;
  const float *src = d->pad_copy ? pad : input;
  const int64_t total = (int64_t)batch * d->groups * d->mvec;
  if (claim) {
    /* claim[8 * t]: the next unit of thread t's share (a cache line each).
       A share's units, in order: its runs of vectors per (image, group), the
       tiles of each run, the pixel blocks of each tile. Claims of one share
       only grow, so each thread walks a share's runs once. */
    for (int o = 0; o < nthreads; o++) {
      const int owner = (tid + o) % nthreads;
      int64_t v0, v1;
      sc_split(total, nthreads, owner, &v0, &v1);
      int64_t first = 0; /* index of the first unit of the run at v0 */
      for (int64_t k = __atomic_fetch_add(&claim[8 * owner], 1, __ATOMIC_RELAXED);;
           k = __atomic_fetch_add(&claim[8 * owner], 1, __ATOMIC_RELAXED)) {
        int32_t vs = 0, nvv = 0, nt = 0;
        for (; v0 < v1; v0 += nvv) {
          vs = (int32_t)(v0 % d->mvec);
          nvv = (int32_t)SC_MIN((int64_t)d->mvec - vs, v1 - v0);
          nt = (nvv + 2) / 3;
          if (k < first + (int64_t)nt * d->nb) break;
          first += (int64_t)nt * d->nb;
        }
        if (v0 >= v1) break;
        const int64_t bg = v0 / d->mvec;
        const int32_t t = (int32_t)((k - first) / d->nb), pb = (int32_t)((k - first) % d->nb);
        int32_t tv0, tnv;
        tile_of(nvv, nt, t, &tv0, &tnv);
        cv_tile(op, d, src, img, output, acc, (int32_t)(bg / d->groups), (int32_t)(bg % d->groups), vs + tv0,
                tnv, pb, pb + 1);
      }
    }
    return;
  }
  int64_t v0, v1;
  sc_split(total, nthreads, tid, &v0, &v1);
  while (v0 < v1) {
    int64_t bg = v0 / d->mvec;
    int32_t vs = (int32_t)(v0 % d->mvec);
    int32_t ve = (int32_t)SC_MIN((int64_t)d->mvec, vs + (v1 - v0));
    int32_t nvv = ve - vs, nt = (nvv + 2) / 3;
    for (int32_t t = 0; t < nt; t++) {
      int32_t tv0, tnv;
      tile_of(nvv, nt, t, &tv0, &tnv);
      cv_tile(op, d, src, img, output, acc, (int32_t)(bg / d->groups), (int32_t)(bg % d->groups), vs + tv0,
              tnv, 0, d->nb);
    }
    v0 += nvv;
  }
}

/* Thread tid's share of the zero-padded input planes. */
static void pad_thread(const sc_conv_op *op, const dense_impl *d, int32_t batch,
                       const float *input, float *pad, int nthreads, int tid) {
  const sc_conv_desc *cd = &op->desc;
  const int32_t pw = d->pad_w, ph = cd->in_h + cd->pad_top + cd->pad_bottom;
  int64_t planes = (int64_t)batch * cd->in_channels, p0, p1;
  sc_split(planes, nthreads, tid, &p0, &p1);
  for (int64_t p = p0; p < p1; p++) {
    const float *src = input + (size_t)p * cd->in_h * cd->in_w;
    float *dst = pad + (size_t)p * d->plane;
    memset(dst, 0, sizeof(float) * (size_t)cd->pad_top * pw);
    for (int32_t y = 0; y < cd->in_h; y++) {
      float *row = dst + (size_t)(cd->pad_top + y) * pw;
      memset(row, 0, sizeof(float) * (size_t)cd->pad_left);
      memcpy(row + cd->pad_left, src + (size_t)y * cd->in_w, sizeof(float) * (size_t)cd->in_w);
      memset(row + cd->pad_left + cd->in_w, 0, sizeof(float) * (size_t)cd->pad_right);
    }
    memset(dst + (size_t)(cd->pad_top + cd->in_h) * pw, 0,
           sizeof(float) * (size_t)(ph - cd->pad_top - cd->in_h) * pw);
  }
  if (tid == nthreads - 1)
    memset(pad + (size_t)planes * d->plane, 0, sizeof(float) * d->pad_slack);
}

/* ------------------------------------------------------------ direct gconv */

static void gconv_thread(const sc_conv_op *op, const dense_impl *d, int32_t batch,
                         const float *input, float *output, int nthreads, int tid) {
  const sc_conv_desc *cd = &op->desc;
  const int32_t cin_g = cd->in_channels / d->groups;
  const size_t in_hw = (size_t)cd->in_h * cd->in_w;
  sc_gconv_args p;
  p.cin_g = cin_g;
  p.in_h = cd->in_h;
  p.in_w = cd->in_w;
  p.out_hw = d->N;
  p.out_w = op->out_w;
  p.in_hw = (int32_t)in_hw;
  p.kh = cd->kernel_h;
  p.kw = cd->kernel_w;
  p.stride_h = cd->stride_h;
  p.dil_h = cd->dilation_h;
  p.dil_w = cd->dilation_w;
  p.pad_top = cd->pad_top;
  p.pad_left = cd->pad_left;
  p.flags = d->flags;
  const size_t wtile = (size_t)cd->kernel_h * cd->kernel_w * cin_g * 4;
  int64_t units = (int64_t)batch * d->groups * d->MT4 * d->ntiles;
  int64_t u0, u1;
  sc_split(units, nthreads, tid, &u0, &u1);
  for (int64_t u = u0; u < u1; u++) {
    int32_t t = (int32_t)(u % d->ntiles);
    int64_t r = u / d->ntiles;
    int32_t mt = (int32_t)(r % d->MT4);
    r /= d->MT4;
    int32_t g = (int32_t)(r % d->groups);
    int32_t b = (int32_t)(r / d->groups);
    size_t gm = (size_t)g * d->MT4 + mt;
    p.input = input + ((size_t)b * cd->in_channels + (size_t)g * cin_g) * in_hw;
    p.output = output + ((size_t)b * cd->out_channels + (size_t)g * d->M + (size_t)mt * 4) *
                            (size_t)d->N;
    p.w = d->gw + gm * wtile;
    p.bias = d->gbias + gm * 4;
    p.mrows = SC_MIN(4, d->M - mt * 4);
    d->gconv_kernel(&p, &d->tiles[t]);
  }
}

/* ------------------------------------------------------------------- run */

/* Workspace: [padded input copy, shared or one per thread (private_pad)]
   [per-thread buffers]. */
static size_t shared_bytes(const dense_impl *d, int32_t batch) {
  if (!d->pad_copy) return 0;
  size_t n;
  if (!sc_mul_size(d->pad_floats, (size_t)batch, &n) || !sc_add_size(n, d->pad_slack, &n) ||
      n > SIZE_MAX / sizeof(float) - SC_ALIGNMENT)
    return SIZE_MAX;
  return sc_round_up(n * sizeof(float));
}

/* Most threads whose channel-vector runs steal units (see dense_run). */
#define CV_STEAL_THREADS 64

/* Most bytes of padded input copies a run may hold, all threads together. */
#define PRIVATE_PAD_MAX ((size_t)64 << 20)

/* Each thread pads its own copy of the input instead of a shared copy built
   in halves: every thread reads all of it, and half of a shared copy was
   written by the other core (and, the run before, read there), so each run
   moved it between the cores' caches. Probe, AVX-512 (Zen 4), 2 threads
   bound, dense, three interleaved runs, medians: 3x3/2 128@56 1.197 ->
   1.093 ms, 3x3/2 256@28 1.137 -> 1.074, 3x3 d2 64@56 1.137 -> 1.096,
   256@14 1.075 -> 1.039, 512@7 1.060 -> 1.047, 64@56 1.123 -> 1.104,
   128@28 1.092 -> 1.046, 512@28 18.23 -> 17.37, 128@112 18.17 -> 17.59;
   in a slow phase of the host (whole minutes when the shared copy costs
   more) 3x3/2 128@56 2.00 -> 1.20, 256@14 1.36 -> 1.10, 128@28 1.43 ->
   1.14, 7x7/2 3->64@224 1.50 -> 1.24. Not for groups, whose threads read
   only their groups' channels: AlexNet's 3x3 256@13 in 2 groups 0.478 ->
   0.491. Bounded, so that many threads on a large image share one copy. */
static bool private_pad(const dense_impl *d, size_t shared, int32_t threads) {
  size_t all;
  return d->pad_copy && threads > 1 && d->groups == 1 && shared != SIZE_MAX &&
         sc_mul_size(shared, (size_t)threads, &all) && all <= PRIVATE_PAD_MAX;
}

static size_t dense_workspace(const sc_conv_op *op, int32_t batch, int32_t threads) {
  const dense_impl *d = (const dense_impl *)op->impl;
  size_t shared = shared_bytes(d, batch), per = sc_round_up(d->ws_floats * sizeof(float)), total;
  if (private_pad(d, shared, threads)) shared *= (size_t)threads;
  if (shared == SIZE_MAX || !sc_mul_size(per, (size_t)threads, &total) ||
      !sc_add_size(total, shared, &total))
    return SIZE_MAX;
  return total;
}

static void run_thread(const sc_conv_op *op, const dense_impl *d, int32_t batch,
                       const float *input, float *output, float *pad, float *ws, int n, int tid,
                       int64_t *claim) {
  if (d->gconv) gconv_thread(op, d, batch, input, output, n, tid);
  else if (d->cv) cv_thread(op, d, batch, input, output, pad, ws, n, tid, claim);
  else gemm_thread(op, d, batch, input, output, pad, ws, n, tid);
}

static sc_status dense_run(const sc_conv_op *op, int32_t batch, const float *input, float *output,
                           void *workspace, int32_t threads) {
  const dense_impl *d = (const dense_impl *)op->impl;
  const size_t shared = shared_bytes(d, batch), per = sc_round_up(d->ws_floats * sizeof(float));
  const bool priv = private_pad(d, shared, threads);
  float *pad = d->pad_copy ? (float *)workspace : NULL;
  char *wsbase = (char *)workspace + shared * (priv ? (size_t)threads : 1);
#ifdef _OPENMP
  if (threads > 1) {
    /* AVX2 channel vectors: a thread done with its share takes the others'
       last units (see cv_thread). The two vCPUs of a cloud host run at
       different speeds from moment to moment, and a fixed split waits for
       the slower one. ab.sh, Zen 3, 2 threads, dense, time stealing / fixed
       split, 16 alternating blocks a process, two to four processes: 3x3
       64@56 0.91-0.99, 128@28 0.90-0.99, 256@14 0.99-1.04, 512@7 0.89-1.03,
       d2 64@56 0.87-1.01, s2 128@56 0.97-1.00, VGG 256@56 0.94, AlexNet
       256@13 g2 0.98-1.01, 512->51@7 0.98-0.99, 1x1 1024->256@14 0.99-1.01,
       512@14 0.90-1.01; 1 thread 1.00. Units of one filter vector (not
       tiles of three) read a deep 1x1 layer's pixels three times as often
       (1024->256@14 1.09). */
    int64_t claims[8 * CV_STEAL_THREADS] __attribute__((aligned(64)));
    const bool steal = d->cv && op->isa == SC_ISA_AVX2 && threads <= CV_STEAL_THREADS;
    if (steal) memset(claims, 0, sizeof(int64_t) * 8 * (size_t)threads);
#pragma omp parallel num_threads(threads)
    {
      int tid = omp_get_thread_num(), n = omp_get_num_threads();
      float *ws = per ? (float *)(wsbase + per * (size_t)tid) : NULL;
      float *mine = priv ? (float *)((char *)workspace + shared * (size_t)tid) : pad;
      if (priv) {
        pad_thread(op, d, batch, input, mine, 1, 0);
      } else if (d->pad_copy) {
        pad_thread(op, d, batch, input, pad, n, tid);
#pragma omp barrier
      }
      run_thread(op, d, batch, input, output, mine, ws, n, tid, steal ? claims : NULL);
    }
    return SC_OK;
  }
#endif
  (void)threads;
  if (d->pad_copy) pad_thread(op, d, batch, input, pad, 1, 0);
  run_thread(op, d, batch, input, output, pad, per ? (float *)wsbase : NULL, 1, 0, NULL);
  return SC_OK;
}

/* ------------------------------------------------------------------ init */

#define KC_CV 128
#define CV_BLOCK 256 /* pixels whose running sums stay in the per-thread scratch */

static sc_status init_cv(sc_conv_op *op, dense_impl *d, const float *weight) {
  const sc_conv_desc *cd = &op->desc;
  const int32_t khw = cd->kernel_h * cd->kernel_w;
  d->cv = true;
  d->cvgemm = op->isa == SC_ISA_AVX512 ? f32_cvgemm_8x48__avx512 : f32_cvgemm_8x48__avx2;
  /* AVX2 runs a tile as strips of at most 6 pixels (12 accumulators): tiles
     of 8 made two strips of 4, whose 8 FMA chains could not keep both pipes
     busy. Probe, 2 threads, 3x3 dense: 512@7 1.51 -> 1.32 ms, 256@14 1.32
     -> 1.28, 64@56 1.36 -> 1.31. */
  d->cv_mp = op->isa == SC_ISA_AVX512 ? 8 : 6;
  d->padded = d->direct_b = false;
  d->nk = (d->K + KC_CV - 1) / KC_CV;
  d->kc = (d->K + d->nk - 1) / d->nk;
  d->mvec = (d->M + 15) / 16;
  d->pad_copy = cd->pad_top || cd->pad_left || cd->pad_bottom || cd->pad_right;
  d->pad_w = cd->in_w + cd->pad_left + cd->pad_right;
  d->plane = (cd->in_h + cd->pad_top + cd->pad_bottom) * d->pad_w;
  d->pad_floats = (size_t)cd->in_channels * d->plane;
  d->pad_slack = 16;
  d->nb = (d->N + CV_BLOCK - 1) / CV_BLOCK;
  d->ws_floats = (size_t)((d->N + d->nb - 1) / d->nb) * 48;
  const size_t ldw = (size_t)d->mvec * 16;
  size_t w_floats = (size_t)d->groups * d->K * ldw, b_floats = (size_t)d->groups * ldw;
  d->koff = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)d->K);
  d->poff = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)d->N);
  d->wcv = (float *)sc_aligned_calloc(sizeof(float) * w_floats);
  d->bcv = (float *)sc_aligned_calloc(sizeof(float) * b_floats);
  if (!d->koff || !d->poff || !d->wcv || !d->bcv) return SC_OUT_OF_MEMORY;
  for (int32_t k = 0; k < d->K; k++) {
    int32_t c = k / khw, r = k % khw, ky = r / cd->kernel_w, kx = r % cd->kernel_w;
    d->koff[k] = c * d->plane + ky * cd->dilation_h * d->pad_w + kx * cd->dilation_w;
  }
  for (int32_t p = 0; p < d->N; p++) {
    int32_t oy = p / op->out_w, ox = p % op->out_w;
    d->poff[p] = oy * cd->stride_h * d->pad_w + ox * cd->stride_w;
  }
  for (int32_t g = 0; g < d->groups; g++)
    for (int32_t m = 0; m < d->M; m++) {
      int32_t oc = g * d->M + m;
      for (int32_t k = 0; k < d->K; k++)
        d->wcv[(((size_t)g * d->mvec + m / 16) * d->K + k) * 16 + m % 16] =
            weight[(size_t)oc * d->K + k];
      d->bcv[(size_t)g * ldw + m] = op->bias[oc];
    }
  op->packed_bytes = (w_floats + b_floats) * sizeof(float) + sizeof(int32_t) * ((size_t)d->K + d->N);
  return SC_OK;
}

static sc_status init_gemm(sc_conv_op *op, dense_impl *d, const float *weight) {
  const sc_conv_desc *cd = &op->desc;
  switch (op->isa) {
  case SC_ISA_AVX512:
    d->mr = 8; d->w = 16; d->nvmax = 3;
    d->gemm = f32_gemm_8x48__avx512;
    d->gemm_rows = f32_gemm_8x48_rows__avx512;
    break;
  case SC_ISA_AVX2:
    d->mr = 6; d->w = 8; d->nvmax = 2;
    d->gemm = f32_gemm_6x16__avx2;
    d->gemm_rows = f32_gemm_6x16_rows__avx2;
    break;
  default: d->mr = 4; d->w = 8; d->nvmax = 1; d->gemm = f32_gemm_4x8__scalar; break;
  }
  const int MR = d->mr;
  d->MT = (d->M + MR - 1) / MR;
  d->mrow = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * ((size_t)d->MT + 1));
  if (!d->mrow) return SC_OUT_OF_MEMORY;
  for (int32_t mt = 0; mt <= d->MT; mt++) d->mrow[mt] = (int32_t)((int64_t)mt * d->M / d->MT);
  const int32_t pw = cd->in_w + cd->pad_left + cd->pad_right;
  const int32_t ph = cd->in_h + cd->pad_top + cd->pad_bottom;
  const int64_t wide = (int64_t)op->out_h * pw;
  d->direct_b = cd->kernel_h == 1 && cd->kernel_w == 1 && cd->stride_h == 1 &&
                cd->stride_w == 1 && cd->pad_top == 0 && cd->pad_left == 0 &&
                cd->pad_bottom == 0 && cd->pad_right == 0;
  /* B read in place (1x1) on 8-lane kernels: once K needs splitting anyway,
     blocks of 256 keep a tile's B panel at 16 KB of the 32 KB L1 (pixel
     tiles outermost). Probe, AVX2 dense, 2 threads: 1x1 1024->256@14 0.675
     -> 0.632 ms, 1024->512@14 1.334 -> 1.244. Splitting a K of 512 cost
     more in C reloads than it saved (512->128@28 0.556 -> 0.596), and
     im2col'd 3x3 layers were 3 % slower. Only with many M tiles: shallower
     blocks mean wider N blocks, and 26 kept filters of a channel-pruned
     1024->256@14 (5 M tiles, one N block) then split 3:2 between two
     threads (sparse-bench 0.077 -> 0.085 ms). */
  const int32_t kc_max =
      d->direct_b && d->w == 8 && d->K > KC_MAX && d->MT >= 16 ? KC_DIRECT_MAX : KC_MAX;
  d->nk = (d->K + kc_max - 1) / kc_max;
  d->kc = (d->K + d->nk - 1) / d->nk;
  /* the wide grid costs its garbage columns, im2col costs a copy of K × N */
  d->padded = op->isa == SC_ISA_AVX512 && !d->direct_b && cd->stride_h == 1 &&
              cd->stride_w == 1 && (wide + 15) / 16 * 4 <= (int64_t)(d->N + 15) / 16 * 5 &&
              (int64_t)ph * pw * cd->in_channels < INT32_MAX / 2;
  d->nvec = (int32_t)(d->padded ? (wide + d->w - 1) / d->w : (d->N + d->w - 1) / d->w);
  /* lanes doing useful work: along the pixels (above) or along the channels */
  double eff_pv = (double)d->N / ((double)d->w * d->nvec);
  double eff_cv = (double)d->M / (16.0 * ((d->M + 15) / 16));
  /* AVX2 tiles of two pixel vectors: a lone last vector runs at half rate on
     6 accumulator chains (49 pixels: 16 + 16 + 16 + 1) */
  if (op->isa == SC_ISA_AVX2 && d->nvec % 2 == 1) eff_pv *= (d->nvec - 0.5) / d->nvec;
  /* Where im2col would be needed (spatial kernels), the channel vectors also
     save the copy, on both ISAs. Probe, AVX2, 2 threads, GEMM -> channel
     vectors (ms): 3x3 64@56 1.43 -> 1.35, 128@28 1.38 -> 1.33, 256@14 1.51
     -> 1.31, 512@14 5.62 -> 5.21, 1024->256@14 5.85 -> 5.22, 3x3/2 256@28
     1.59 -> 1.36, 256@13 in 2 groups 0.65 -> 0.59, 5x5 96->256@27 5.24 ->
     4.95, 512->51@7 (the kept filters of a channel-pruned 512@7) 0.37 ->
     0.20; at 256@56 and 512@28 they tie (21.0 against 20.8, 20.6 against
     20.5). 1x1 layers read in place need no im2col, but on small images
     (up to 256 pixels) the channel vectors still win or tie: 1024->256@14
     0.63 -> 0.59, 512->512@14 0.66 -> 0.59, 256->1024@14 ties; at 28x28
     they lose 10-15 % (AVX2; not measured on AVX-512). */
  bool im2col = !d->direct_b && !d->padded;
  const bool cv_isa = op->isa == SC_ISA_AVX512 || op->isa == SC_ISA_AVX2;
  if (cv_isa && (d->M >= 32 || d->groups > 1) &&
      (eff_cv > eff_pv + 0.04 ||
       ((im2col || (op->isa == SC_ISA_AVX2 && d->N <= 256)) && eff_cv >= eff_pv - 0.03)) &&
      (int64_t)ph * pw * cd->in_channels < INT32_MAX / 2)
    return init_cv(op, d, weight);
  int32_t block_vec = (int32_t)(B_BLOCK_FLOATS / ((int64_t)d->kc * d->w));
  block_vec = SC_MAX(d->nvmax, block_vec / d->nvmax * d->nvmax);
  d->nb = (d->nvec + block_vec - 1) / block_vec;
  /* Threads split the (N block, M tile) units: an odd count leaves one
     thread a unit more. One more N block evens it for two threads (13 kept
     filters of a channel-pruned 1x1 128@56: 5 x 3 units -> 6 x 3). */
  if (d->nb > 1 && (d->nb * d->MT) % 2 == 1 && d->nb < d->nvec) d->nb++;
  /* One N block would have two threads split its M tiles, and each would
     im2col the whole block for them. Two blocks halve each thread's copy.
     Probe, AVX2, 2 threads: 3x3 256->26@14 0.33 -> 0.25 ms, 256->40@14
     0.41 -> 0.32. */
  if (d->nb == 1 && im2col && d->nvec >= 2 * d->nvmax) d->nb = 2;
  d->block_vec_max = (d->nvec + d->nb - 1) / d->nb;
  d->ws_floats = d->direct_b || d->padded ? 0 : (size_t)d->kc * d->block_vec_max * d->w;
  d->pad_copy = d->padded;
  if (d->padded) {
    const int32_t khw = cd->kernel_h * cd->kernel_w;
    d->pad_w = pw;
    d->plane = ph * pw;
    d->pad_floats = (size_t)cd->in_channels * d->plane;
    /* the last vector reads up to 15 lanes past the grid, shifted by the widest tap */
    d->pad_slack = 16 + (size_t)(cd->kernel_w - 1) * cd->dilation_w + 16;
    d->koff = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)d->K);
    d->vmask = (uint16_t *)sc_aligned_alloc(sizeof(uint16_t) * (size_t)d->nvec);
    d->vdst = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)d->nvec);
    if (!d->koff || !d->vmask || !d->vdst) return SC_OUT_OF_MEMORY;
    for (int32_t k = 0; k < d->K; k++) {
      int32_t c = k / khw, r = k % khw, ky = r / cd->kernel_w, kx = r % cd->kernel_w;
      d->koff[k] = c * d->plane + ky * cd->dilation_h * pw + kx * cd->dilation_w;
    }
    for (int32_t v = 0; v < d->nvec; v++) {
      uint16_t m = 0;
      int32_t dst = -1;
      for (int l = 0; l < 16; l++) {
        int64_t q = (int64_t)v * 16 + l;
        int32_t oy = (int32_t)(q / pw), ox = (int32_t)(q % pw);
        if (q < wide && ox < op->out_w) {
          m |= (uint16_t)(1u << l);
          if (dst < 0) dst = oy * op->out_w + ox;
        }
      }
      d->vmask[v] = m;
      d->vdst[v] = dst < 0 ? 0 : dst;
    }
  }

  size_t a_floats, bias_floats;
  if (!sc_mul_size((size_t)d->groups * d->MT * MR, (size_t)d->K, &a_floats))
    return SC_SIZE_OVERFLOW;
  bias_floats = (size_t)d->groups * d->MT * MR;
  if (a_floats > SIZE_MAX / sizeof(float)) return SC_SIZE_OVERFLOW;
  d->a = (float *)sc_aligned_calloc(a_floats * sizeof(float));
  d->bias = (float *)sc_aligned_calloc(bias_floats * sizeof(float));
  if (!d->a || !d->bias) return SC_OUT_OF_MEMORY;
  for (int32_t g = 0; g < d->groups; g++) {
    for (int32_t mt = 0; mt < d->MT; mt++) {
      for (int32_t m = tile_row(d, mt); m < tile_row(d, mt + 1); m++) {
        const int32_t oc = g * d->M + m, i = m - tile_row(d, mt);
        const size_t tile = (size_t)g * d->MT + mt;
        float *dst = d->a + tile * d->K * MR + i;
        const float *src = weight + (size_t)oc * d->K;
        for (int32_t k = 0; k < d->K; k++) dst[(size_t)k * MR] = src[k];
        d->bias[tile * MR + i] = op->bias[oc];
      }
    }
  }
  op->packed_bytes = (a_floats + bias_floats) * sizeof(float);
  return SC_OK;
}

static sc_status init_gconv(sc_conv_op *op, dense_impl *d, const float *weight) {
  const sc_conv_desc *cd = &op->desc;
  int W, nvmax;
  switch (op->isa) {
  case SC_ISA_AVX512: W = 16; nvmax = 6; d->gconv_kernel = f32_gconv_4x96__avx512; break;
  case SC_ISA_AVX2: W = 8; nvmax = 2; d->gconv_kernel = f32_gconv_4x16__avx2; break;
  default: W = 8; nvmax = 1; d->gconv_kernel = f32_gconv_4x8__scalar; break;
  }
  const int32_t cin_g = cd->in_channels / d->groups;
  const int32_t khw = cd->kernel_h * cd->kernel_w;
  d->MT4 = (d->M + 3) / 4;
  /* pixel vectors: row-major runs of up to W pixels within one output row */
  const int32_t vpr = (op->out_w + W - 1) / W;
  int64_t nv_total = (int64_t)op->out_h * vpr;
  int64_t nt = (nv_total + nvmax - 1) / nvmax;
  if (nt > INT32_MAX / 2) return SC_SIZE_OVERFLOW;
  d->ntiles = (int32_t)nt;
  d->tiles = (sc_gconv_tile *)sc_aligned_calloc(sizeof(sc_gconv_tile) * (size_t)nt);
  size_t gw_floats = (size_t)d->groups * d->MT4 * khw * cin_g * 4;
  size_t gb_floats = (size_t)d->groups * d->MT4 * 4;
  d->gw = (float *)sc_aligned_calloc(gw_floats * sizeof(float));
  d->gbias = (float *)sc_aligned_calloc(gb_floats * sizeof(float));
  if (!d->tiles || !d->gw || !d->gbias) return SC_OUT_OF_MEMORY;
  for (int64_t v = 0; v < nv_total; v++) {
    sc_gconv_tile *t = &d->tiles[v / nvmax];
    int i = t->nvec++;
    t->oy[i] = (int32_t)(v / vpr);
    t->ox[i] = (int32_t)(v % vpr) * W;
    t->ncol[i] = SC_MIN(W, op->out_w - t->ox[i]);
  }
  for (int32_t g = 0; g < d->groups; g++) {
    for (int32_t m = 0; m < d->M; m++) {
      int32_t oc = g * d->M + m;
      size_t gm = (size_t)g * d->MT4 + m / 4;
      float *dst = d->gw + gm * khw * cin_g * 4 + m % 4;
      for (int32_t ic = 0; ic < cin_g; ic++)
        for (int32_t r = 0; r < khw; r++)
          dst[((size_t)r * cin_g + ic) * 4] = weight[((size_t)oc * cin_g + ic) * khw + r];
      d->gbias[gm * 4 + m % 4] = op->bias[oc];
    }
  }
  op->packed_bytes = (gw_floats + gb_floats) * sizeof(float) + sizeof(sc_gconv_tile) * (size_t)nt;
  return SC_OK;
}

static sc_status init_common(sc_conv_op *op, const float *weight, bool allow_gconv) {
  const sc_conv_desc *cd = &op->desc;
  dense_impl *d = (dense_impl *)sc_aligned_calloc(sizeof(dense_impl));
  if (!d) return SC_OUT_OF_MEMORY;
  op->impl = d;
  op->destroy_impl = dense_destroy;
  d->groups = cd->groups;
  d->M = cd->out_channels / cd->groups;
  d->K = cd->in_channels / cd->groups * cd->kernel_h * cd->kernel_w;
  d->N = op->out_h * op->out_w;
  d->flags = op->activation == SC_ACTIVATION_RELU    ? SC_GEMM_RELU
             : op->activation == SC_ACTIVATION_RELU6 ? SC_GEMM_RELU6
                                                     : 0;
  d->gconv = allow_gconv && cd->groups > 1 && d->M <= 8 && cd->stride_w == 1 &&
             d->K <= 16 * 9;
  sc_status st = d->gconv ? init_gconv(op, d, weight) : init_gemm(op, d, weight);
  if (st != SC_OK) return st;
  op->stored_weights = (int64_t)cd->out_channels * d->K;
  op->workspace_size = dense_workspace;
  op->run = dense_run;
  return SC_OK;
}

/* Up to this GEMM depth (in_channels * kh * kw) a spatial kernel runs as a
   direct convolution on AVX2: the im2col copy then costs as much as the
   multiply. Measured on Zen 3, 2 threads: VGG-16 conv1 (depth 27) 1.99 ->
   1.58 ms, ResNet-50 conv1 (147) 1.91 -> 1.46 ms, MobileNet conv0 (27)
   0.39 -> 0.22 ms, 32->32 3x3 at 112x112 (288) 1.85 -> 1.68 ms; AlexNet
   conv1 (363) ties. */
#define SC_DENSE_DIRECT_MAX_DEPTH 288

sc_status sc_dense_init(sc_conv_op *op, const float *weight, const uint8_t *mask) {
  (void)mask;
  const sc_conv_desc *cd = &op->desc;
  const int64_t depth = (int64_t)cd->in_channels * cd->kernel_h * cd->kernel_w;
  if (cd->groups == 1 && cd->kernel_h * cd->kernel_w > 1 && depth <= SC_DENSE_DIRECT_MAX_DEPTH &&
      op->isa == SC_ISA_AVX2) {
    /* The direct engine with output-channel pairs and every weight kept. */
    if (sc_spconv_init_all_pairs(op, weight) == SC_OK) {
      op->stored_weights = (int64_t)cd->out_channels * depth;
      return SC_OK;
    }
  }
  return init_common(op, weight, false);
}

sc_status sc_dense_map_outputs(sc_conv_op *op, const int32_t *out_plane, int32_t out_planes,
                               const int32_t *fill_plane, const float *fill_value, int32_t nfill) {
  if (op->run != dense_run) return SC_UNSUPPORTED;
  dense_impl *d = (dense_impl *)op->impl;
  if (!d->gemm_rows || d->gconv || d->cv || d->padded || d->groups != 1 || nfill < 0 ||
      out_planes < op->desc.out_channels)
    return SC_UNSUPPORTED;
  d->rowoff = (int64_t *)sc_aligned_alloc(sizeof(int64_t) * (size_t)d->M);
  d->fill_plane = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)SC_MAX(nfill, 1));
  d->fill_value = (float *)sc_aligned_alloc(sizeof(float) * (size_t)SC_MAX(nfill, 1));
  if (!d->rowoff || !d->fill_plane || !d->fill_value) {
    sc_aligned_free(d->rowoff);
    d->rowoff = NULL;
    return SC_OUT_OF_MEMORY;
  }
  for (int32_t m = 0; m < d->M; m++) d->rowoff[m] = (int64_t)out_plane[m] * d->N;
  if (nfill) memcpy(d->fill_plane, fill_plane, sizeof(int32_t) * (size_t)nfill);
  if (nfill) memcpy(d->fill_value, fill_value, sizeof(float) * (size_t)nfill);
  d->out_planes = out_planes;
  d->nfill = nfill;
  return SC_OK;
}

sc_status sc_grouped_init(sc_conv_op *op, const float *weight, const uint8_t *mask) {
  (void)mask;
  return init_common(op, weight, true);
}
