/*
 * Kernel-level sparse path (SC_PATH_KERNEL): whole kh x kw kernels of one
 * (output channel, input channel) pair are kept or removed. A kernel is kept
 * when any of its weights is kept (mask[i] != 0, or weight != 0 without a
 * mask); a kept kernel stores all its kh*kw weight values as given.
 *
 * Packed format (kc_impl):
 *   row_ptr [out_channels + 1]  kept kernels of output channel oc are
 *                               k in [row_ptr[oc], row_ptr[oc+1]) (CSR rows)
 *   ics     [nnz]               absolute input channel of kernel k
 *                               (group * in/groups + channel in the group)
 *   w       [nnz][kh*kw]        the kernel's weights, row-major (kh, kw)
 *   toff    [kh*kw]             offset of tap (kh, kw) in the source plane
 *   wprefix [out_channels + 1]  prefix sums of per-channel work, used to
 *                               split (tile, channel) items evenly by cost
 * stored_weights = nnz * kh * kw.
 *
 * Source: the microkernels read a "source" in which every tap of every
 * output is a fixed offset from the output's flat position, so the inner
 * loops have no bounds checks:
 *   - 1x1, stride 1, no padding ("direct"): the caller's input itself.
 *   - otherwise: a zero-padded copy of the input in the workspace, split
 *     into stride_h x stride_w phases (space-to-depth) so that strided taps
 *     become unit-stride reads: phase (py, px) holds padded pixels
 *     (py + i*sh, px + j*sw) as an Hph x Wph plane. Output (oh, ow) tap
 *     (kh, kw) reads phase ((kh*dh) % sh, (kw*dw) % sw) at row oh + kh*dh/sh,
 *     column ow + kw*dw/sw, i.e. flat position oh*Wph + ow + toff[tap].
 *     At stride 1, Wph may drop a right-padding column that the next row's
 *     left padding stands in for, where that makes rows whole vectors.
 *     Row tiles do not copy the whole input: each thread copies the hb rows
 *     of every phase plane that one band of Rm output rows reads into its
 *     own buffer (channels plane_b apart, taps at toff_b), one band at a
 *     time, so the copy stays in that core's cache. Flat tiles, which run
 *     across rows, read one shared copy of the whole padded input.
 *
 * Tiles: "row" tiles are R output rows x V vectors of columns, written in
 * place with a masked last vector; 3x3 stride-1 undilated layers use the
 * s3 microkernel where the weights stay in registers (all 9 on AVX-512, one
 * kernel column of 3 at a time on AVX2) and each input row vector, loaded
 * once, feeds all three kernel rows that read it. "Flat"
 * tiles run along the flattened padded-width output (better lane use for
 * narrow images such as 7x7); their results go through a per-thread
 * scratch and the padding columns are dropped. Direct 1x1 is an SpMM over
 * pixels with flat tiles written in place.
 *
 * Threads: items are (tile, output channel) in tile-major order so the
 * input rows of a tile stay in cache while every channel uses them; the
 * item range is split between threads by the cost prefix. A thread's items
 * of one tile go to the microkernel as one run of channels where the table
 * takes runs (AVX2), so the tile's setup is paid once.
 */
#include "kconv.h"
#include "../sparse/spconv.h"

#include <string.h>
#include <stdlib.h>

typedef struct kc_impl {
  int32_t kk;
  int32_t *row_ptr;
  int32_t *ics;
  float *w;
  int32_t *toff;
  int64_t *wprefix;
  int direct, flat, use_s3;
  int32_t sh, sw, Hph, Wph;
  size_t plane;      /* floats per input channel in the source */
  size_t src_floats; /* workspace floats of the source copy (0 when direct) */
  int32_t lanes, Vm, Rm;
  int32_t nbands;    /* row tiles: bands of output rows, at most Rm rows each */
  int32_t nblk;      /* input-channel blocks (direct 1x1 only; else 1) */
  int32_t *bptr;     /* [out_channels][nblk + 1] kernel index where each block starts */
  int64_t ntiles, nchunks, qend;
  /* Banded source (row tiles): each thread copies the source rows of up to
     `group` of its bands of Rm output rows at a time (hb rows: group * Rm +
     reach) into its own buffer of band_floats, channels plane_b apart, taps
     at toff_b. */
  int banded;
  int32_t group;
  int32_t reach; /* phase-plane rows a tile reads below its last output row */
  int32_t hb;
  size_t plane_b, band_floats;
  int32_t *toff_b;
  sc_kconv_kernels k;
  /* Stride-1 row copies of the padded source, a plane at a time (the
     direct sparse engine's). */
  sc_spconv_fill_rows1 fill_rows1;
} kc_impl;

/* Source bytes of one grouped band copy, and the kept-kernel density (in %)
   up to which bands are grouped (see kc_init). */
#define KC_GROUP_BYTES (512 * 1024)
#define KC_GROUP_MAX_DENSITY_PCT 15

/* Per-unit cost of an item besides its taps: bias, activation, store. */
#define KC_ITEM_COST 2
#define KC_SCRATCH_FLOATS (SC_KCONV_RMAX * SC_KCONV_VMAX * 16)

static void kc_destroy(void *p) {
  kc_impl *im = (kc_impl *)p;
  if (!im) return;
  sc_aligned_free(im->row_ptr);
  sc_aligned_free(im->ics);
  sc_aligned_free(im->w);
  sc_aligned_free(im->toff);
  sc_aligned_free(im->wprefix);
  sc_aligned_free(im->bptr);
  sc_aligned_free(im->toff_b);
  sc_aligned_free(im);
}

static size_t kc_workspace(const sc_conv_op *op, int32_t batch, int32_t threads) {
  (void)batch;
  const kc_impl *im = (const kc_impl *)op->impl;
  size_t a, b, total;
  if (im->banded) {
    if (!sc_mul_size(im->band_floats, sizeof(float), &a)) return SIZE_MAX;
    if (!sc_mul_size(sc_round_up(a), (size_t)threads, &total)) return SIZE_MAX;
    return total;
  }
  if (!sc_mul_size(im->src_floats, sizeof(float), &a)) return SIZE_MAX;
  a = sc_round_up(a);
  if (!im->flat || im->direct) return a;
  if (!sc_mul_size((size_t)threads, KC_SCRATCH_FLOATS * sizeof(float), &b)) return SIZE_MAX;
  if (!sc_add_size(a, b, &total)) return SIZE_MAX;
  return total;
}

/* Zero-padded, phase-split copy of one input channel: phase-plane rows
   [row0, row0 + rows) of every phase, the phases `rows` rows apart in dst
   (rows past the planes are zeros), then zeros up to `plane` floats. */
static SC_NO_LIBC_FILL void kc_copy_rows(const sc_conv_op *op, const kc_impl *im, const float *in,
                                         float *dst, int64_t row0, int32_t rows, size_t plane) {
  const sc_conv_desc *d = &op->desc;
  const int32_t Wph = im->Wph;
  for (int32_t py = 0; py < im->sh; py++)
    for (int32_t px = 0; px < im->sw; px++) {
      float *ph = dst + (size_t)(py * im->sw + px) * rows * Wph;
      if (im->sw == 1) {
        /* Rows [ra, rz) lie inside the input, the rest are zeros. A libc
           call per piece of each row cost more than the copy on narrow
           layers (512 channels at 7x7: 1/4 of a 90 % sparse run). */
        int64_t ra = 0, rz = rows;
        const int64_t y0 = py + row0 * im->sh - d->pad_top;
        while (ra < rz && y0 + ra * im->sh < 0) ra++;
        while (rz > ra && (row0 + rz - 1 >= im->Hph || y0 + (rz - 1) * im->sh >= d->in_h)) rz--;
        for (int64_t j = 0; j < ra * Wph; j++) ph[j] = 0.0f;
        if (rz > ra && im->sh == 1)
          im->fill_rows1(ph + ra * Wph, Wph, (int32_t)(rz - ra), in + (y0 + ra) * d->in_w, d->in_w,
                         d->pad_left);
        else
          for (int64_t r = ra; r < rz; r++)
            im->fill_rows1(ph + r * Wph, Wph, 1, in + (y0 + r * im->sh) * d->in_w, d->in_w, d->pad_left);
        for (int64_t j = rz * Wph; j < rows * Wph; j++) ph[j] = 0.0f;
        continue;
      }
      /* strided columns: phase px of each row */
      for (int32_t i = 0; i < rows; i++) {
        float *row = ph + (size_t)i * Wph;
        const int64_t gi = row0 + i;
        const int64_t iy = py + gi * im->sh - d->pad_top;
        if (gi >= im->Hph || iy < 0 || iy >= d->in_h) {
          for (int32_t j = 0; j < Wph; j++) row[j] = 0.0f;
          continue;
        }
        const float *srow = in + (size_t)iy * d->in_w;
        for (int32_t j = 0; j < Wph; j++) {
          const int64_t ix = px + (int64_t)j * im->sw - d->pad_left;
          row[j] = (ix >= 0 && ix < d->in_w) ? srow[ix] : 0.0f;
        }
      }
    }
  /* Rounding gap up to the next plane: only garbage lanes read it, but keep it
     finite (and free of denormals) so those lanes cost nothing. */
  const size_t used = (size_t)im->sh * im->sw * rows * Wph;
  for (size_t j = used; j < plane; j++) dst[j] = 0.0f;
}

/* First output row of row band rb: the rows spread evenly over the bands
   (28 rows in bands of up to 5: 4,5,5,4,5,5, not 5,5,5,5,5,3), so no band
   runs a short tile with too few accumulator chains to hide the FMA
   latency. */
static inline int32_t kc_band_row(const kc_impl *im, int32_t OH, int64_t rb) {
  return (int32_t)(rb * OH / im->nbands);
}

/* Source rows of bands [rb0, rb1) (phase-plane rows from band rb0's first
   output row, of every phase of every channel) into buf. With one phase the
   copy stops a row past what the bands read (garbage lanes of their last
   row reach into it); phases of strided layers stay hb rows apart. */
static void kc_fill_band(const sc_conv_op *op, const kc_impl *im, const float *in, int64_t rb0,
                         int64_t rb1, float *buf) {
  const sc_conv_desc *d = &op->desc;
  const size_t in_plane = (size_t)d->in_h * d->in_w;
  const int32_t row0 = kc_band_row(im, op->out_h, rb0);
  int32_t rows = im->hb;
  size_t plane = im->plane_b;
  if (im->sh * im->sw == 1) {
    rows = SC_MIN(im->hb, kc_band_row(im, op->out_h, rb1) - row0 + im->reach + 1);
    if (rows < im->hb) plane = (size_t)rows * im->Wph;
  }
  for (int32_t c = 0; c < d->in_channels; c++)
    kc_copy_rows(op, im, in + (size_t)c * in_plane, buf + (size_t)c * im->plane_b, row0, rows, plane);
  const size_t used = (size_t)d->in_channels * im->plane_b;
  memset(buf + used, 0, sizeof(float) * (im->band_floats - used));
}

/* One output tile for nch channels oc0.. : channel c uses kernels
   [kptr[c], kptr[c + 1]). The tile's geometry is worked out once; tables
   that take channel runs (AVX2) then get one call, others one per channel.
   On 3x3 64@56 at 90 % a (tile, channel) item is about 6 kernels, so this
   per-item work weighed as much as a third of the kernels' FMAs. */
static void kc_run_tile(const sc_conv_op *op, const kc_impl *im, const float *src, int32_t src_row,
                        float *out, float *scratch, int64_t ti, int32_t oc0, int32_t nch,
                        const int32_t *kptr, int32_t accumulate, int32_t finish) {
  const int32_t OH = op->out_h, OW = op->out_w;
  const size_t out_plane = (size_t)OH * OW;
  const int32_t L = im->lanes;
  sc_kconv_tile t;
  t.accumulate = accumulate;
  t.finish = finish;
  t.plane = im->banded ? im->plane_b : im->plane;
  t.toff = im->banded ? im->toff_b : im->toff;
  t.kk = im->kk;
  t.act = op->activation;
  float *const out0 = out + (size_t)oc0 * out_plane;
  int32_t R, cols;
  int64_t q0 = 0;
  size_t out_off;
  if (!im->flat) {
    const int64_t rb = ti / im->nchunks, cc = ti % im->nchunks;
    const int32_t oh0 = kc_band_row(im, OH, rb);
    const int32_t c0 = (int32_t)(cc * im->Vm * L);
    R = kc_band_row(im, OH, rb + 1) - oh0;
    cols = SC_MIN(im->Vm * L, OW - c0);
    /* src holds the source rows from output row src_row on (0 unbanded) */
    t.x = src + (size_t)(oh0 - src_row) * im->Wph + c0;
    t.row_stride = im->Wph;
    out_off = (size_t)oh0 * OW + c0;
    t.out_stride = OW;
  } else {
    q0 = ti * im->Vm * L;
    R = 1;
    cols = (int32_t)SC_MIN((int64_t)im->Vm * L, im->qend - q0);
    t.x = src + q0;
    t.row_stride = 0;
    out_off = (size_t)q0;
    t.out_stride = 0;
  }
  const int32_t V = (cols + L - 1) / L;
  t.last_lanes = cols - (V - 1) * L;
  /* whole rows, and a row's extra lanes reach no further than the next row */
  t.whole_rows = !im->flat && im->nchunks == 1 && V * L - cols <= cols;
  sc_kconv_fn fn = NULL;
  if (op->isa != SC_ISA_SCALAR) {
    if (im->direct && t.last_lanes < L) fn = im->k.gen_ml[V];
    else if (im->use_s3 == 2) fn = im->k.s3a[R][V];
    else if (im->use_s3) fn = im->k.s3[R][V];
    else fn = im->k.gen[R][V];
  }
  const int scratched = im->flat && !im->direct;
  if (fn && im->k.runs && !scratched) {
    t.nch = nch;
    t.kptr = kptr;
    t.biases = op->bias + oc0;
    t.out_plane = out_plane;
    t.ics = im->ics;
    t.w = im->w;
    t.out = out0 + out_off;
    fn(&t);
    return;
  }
  for (int32_t c = 0; c < nch; c++) {
    const int32_t k0 = kptr[c], k1 = kptr[c + 1];
    float *out_oc = out0 + (size_t)c * out_plane;
    t.ics = im->ics + k0;
    t.w = im->w + (size_t)k0 * im->kk;
    t.n = k1 - k0;
    t.bias = op->bias[oc0 + c];
    t.out = scratched ? scratch : out_oc + out_off;
    if (fn) fn(&t);
    else sc_kconv_tile_scalar(&t, R, cols);
    if (scratched) {
      /* Drop the padding columns of the flattened tile. */
      int64_t oh = q0 / im->Wph;
      int32_t ow = (int32_t)(q0 - oh * im->Wph);
      for (int32_t i = 0; i < cols; i++) {
        if (ow < OW) out_oc[(size_t)oh * OW + ow] = scratch[i];
        if (++ow == im->Wph) {
          ow = 0;
          oh++;
        }
      }
    }
  }
}

/* Direct 1x1 with an SpMM microkernel: one call per (tile, block, channel run). */
static void kc_run_spmm(const sc_conv_op *op, const kc_impl *im, const float *src, float *out,
                        int64_t ti, int32_t oc0, int32_t oc1) {
  const int32_t L = im->lanes;
  const int64_t q0 = ti * im->Vm * L;
  const int32_t cols = (int32_t)SC_MIN((int64_t)im->Vm * L, im->qend - q0);
  const int32_t V = (cols + L - 1) / L;
  sc_kconv_spmm a;
  a.x = src + q0;
  a.plane = im->plane;
  a.ics = im->ics;
  a.w = im->w;
  a.bias = op->bias;
  a.out = out + q0;
  a.out_plane = (size_t)op->out_h * op->out_w;
  a.oc0 = oc0;
  a.oc1 = oc1;
  a.last_lanes = cols - (V - 1) * L;
  a.act = op->activation;
  const sc_kconv_spmm_fn fn = im->k.spmm[V][a.last_lanes < L];
  const int32_t nb = im->nblk;
  for (int32_t bl = 0; bl < nb; bl++) {
    a.kb = nb == 1 ? im->row_ptr : im->bptr + bl;
    a.kstride = nb == 1 ? 1 : nb + 1;
    a.accumulate = bl != 0;
    a.finish = bl == nb - 1;
    fn(&a);
  }
}

static sc_status kc_run(const sc_conv_op *op, int32_t batch, const float *input, float *output,
                        void *workspace, int32_t threads) {
  const kc_impl *im = (const kc_impl *)op->impl;
  const sc_conv_desc *d = &op->desc;
  const size_t in_img = (size_t)d->in_channels * d->in_h * d->in_w;
  const size_t out_img = (size_t)d->out_channels * op->out_h * op->out_w;
  float *src_ws = (float *)workspace;
  float *scratch_base =
      (im->flat && !im->direct) ? src_ws + sc_round_up(im->src_floats * sizeof(float)) / sizeof(float)
                                : NULL;
  const size_t band_stride = sc_round_up(im->band_floats * sizeof(float)) / sizeof(float);
  const int32_t OC = d->out_channels;
  const int64_t S = im->wprefix[OC];
  const int64_t W = im->ntiles * S;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
#ifdef _OPENMP
    const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
#else
    const int tid = 0, nt = 1;
    (void)threads;
#endif
    float *scratch = scratch_base ? scratch_base + (size_t)tid * KC_SCRATCH_FLOATS : NULL;
    float *band_buf = im->banded ? src_ws + (size_t)tid * band_stride : NULL;
    int64_t b, e;
    sc_split(W, nt, tid, &b, &e);
    for (int32_t n = 0; n < batch; n++) {
      const float *in = input + (size_t)n * in_img;
      float *out = output + (size_t)n * out_img;
      const float *src = in;
      int64_t band0 = -1, band1 = -1; /* bands [band0, band1) in band_buf */
      int32_t src_row = 0;           /* first output row of band0 */
      const int64_t last_band = e > b ? (e - 1) / S / im->nchunks : -1;
      if (im->banded) {
        src = band_buf;
      } else if (!im->direct) {
        int64_t c0, c1;
        sc_split(d->in_channels, nt, tid, &c0, &c1);
        for (int64_t c = c0; c < c1; c++)
          kc_copy_rows(op, im, in + (size_t)c * d->in_h * d->in_w, src_ws + (size_t)c * im->plane, 0,
                       im->Hph, im->plane);
        if (tid == nt - 1) {
          const size_t used = (size_t)d->in_channels * im->plane;
          memset(src_ws + used, 0, sizeof(float) * (im->src_floats - used));
        }
#ifdef _OPENMP
#pragma omp barrier
#endif
        src = src_ws;
      }
      if (b < e) {
        int64_t ti = b / S;
        const int64_t rem = b % S;
        /* first channel whose item starts at or after b */
        int32_t lo = 0, hi = OC;
        while (lo < hi) {
          const int32_t mid = lo + (hi - lo) / 2;
          if (im->wprefix[mid] < rem) lo = mid + 1;
          else hi = mid;
        }
        int32_t oc = lo;
        if (oc == OC) {
          oc = 0;
          ti++;
        }
        /* Segments: one tile, a run of channels [oc, oc_end). */
        while (ti < im->ntiles && ti * S + im->wprefix[oc] < e) {
          int32_t oc_end = oc + 1;
          while (oc_end < OC && ti * S + im->wprefix[oc_end] < e) oc_end++;
          if (im->banded && (ti / im->nchunks < band0 || ti / im->nchunks >= band1)) {
            band0 = ti / im->nchunks;
            band1 = SC_MIN(band0 + im->group, last_band + 1);
            kc_fill_band(op, im, in, band0, band1, band_buf);
            src_row = kc_band_row(im, op->out_h, band0);
          }
          if (im->direct && op->isa != SC_ISA_SCALAR && im->k.spmm[1][0]) {
            kc_run_spmm(op, im, src, out, ti, oc, oc_end);
          } else if (im->nblk == 1) {
            kc_run_tile(op, im, src, src_row, out, scratch, ti, oc, oc_end - oc, im->row_ptr + oc, 0, 1);
          } else {
            /* Block-major so one block of input rows serves every channel
               while it is in L1; partial sums wait in the output. */
            const int32_t nb = im->nblk;
            for (int32_t bl = 0; bl < nb; bl++)
              for (int32_t c = oc; c < oc_end; c++) {
                const int32_t *bp = im->bptr + (size_t)c * (nb + 1);
                if (bp[bl] == bp[bl + 1] && bl != 0 && bl != nb - 1) continue;
                kc_run_tile(op, im, src, src_row, out, scratch, ti, c, 1, bp + bl, bl != 0, bl == nb - 1);
              }
          }
          oc = oc_end;
          if (oc == OC) {
            oc = 0;
            ti++;
          }
        }
      }
      if (!im->direct && !im->banded && n + 1 < batch) {
#ifdef _OPENMP
#pragma omp barrier
#endif
      }
    }
  }
  return SC_OK;
}

/* Kept fraction of the kernels (1x1: of the weights). */
static double kc_density(const sc_conv_op *op, const float *weight, const uint8_t *mask) {
  const sc_conv_desc *d = &op->desc;
  const int32_t kk = d->kernel_h * d->kernel_w;
  const size_t kernels = (size_t)d->out_channels * (size_t)(d->in_channels / d->groups);
  size_t kept = 0;
  for (size_t k = 0; k < kernels; k++)
    for (int32_t i = 0; i < kk; i++)
      if (sc_kept(weight, mask, k * (size_t)kk + (size_t)i)) {
        kept++;
        break;
      }
  return kernels ? (double)kept / (double)kernels : 0.0;
}

/* Where the CPU splits 512-bit operations in two (Zen 4), the SpMM below
   still ran 1x1 layers of large images faster than the direct engine with 8
   lanes (sparse-bench, 2 threads, 90 %: MobileNet 1x1 128@56 0.106 against
   0.136 ms, ResNet-50 256->64@56 0.123 against 0.130), but not 14x14 ones
   (MobileNet 512@14 0.344 against 0.157, ResNet-50 1024->256@14 0.326
   against 0.198). Zen 5 takes the direct engine there at a density of 30 %
   or less: Benchmarks/kernel-probe/ab.sh, 2 threads, three processes,
   medians, time direct / SpMM: 1x1 1024->256@14 90/75 % 0.80/0.91, 512@14
   90 % 0.89, 2048->512@7 1.01, but 512@14 at 50 % 1.32; on 56x56 and 28x28
   layers the SpMM was faster (128@56 90 % 1.41, 256->64@56 1.14,
   128->512@28 1.32). Intel keeps the SpMM (see kc_isa). */
static bool kc_direct_small_1x1(const sc_conv_op *op, const float *weight, const uint8_t *mask) {
  if ((int64_t)op->out_h * op->out_w > 256) return false;
  if (sc_cpu_avx512_halves()) return true;
  return !sc_cpu_intel_avx512() && kc_density(op, weight, mask) <= 0.3;
}

/* The microkernels' ISA: op->isa, but on a CPU that splits 512-bit
   operations in two (Zen 4) 16 lanes only for 1x1 layers (see above) and
   the 3x3 stride-1 tiles of rows of 12 or more outputs. The 16-lane rules
   below were tuned on Zen 5; on Zen 4 (sparse-bench, 2 threads, 90 %,
   AVX-512 -> AVX2 kernels) 3x3 512@7 ran 0.482 -> 0.153 ms, AlexNet
   11x11/4 0.572 -> 0.304, 3x3 d2 64@56 0.593 -> 0.260, 3x3/2 128@56
   0.805 -> 0.478, while 3x3 64@56,
   128@28, 256@14 and AlexNet's 256@13 in 2 groups were 20-44 % faster with
   16 lanes.
   Intel (Emerald Rapids) gains the same way, but for strided 3x3 layers.
   Kernel probe, 2 threads, three interleaved runs, 16 -> 8 lanes: 3x3 512@7
   90/75/50 % 0.414/0.922/1.830 -> 0.287/0.741/1.370 ms, AlexNet 11x11/4
   90 % 0.804 -> 0.550, 3x3 d2 64@56 0.601 -> 0.456; 3x3/2 128@56 90/75 %
   3-10 % slower, so it keeps 16 lanes there. Its 1x1 layers at 14x14 keep
   the SpMM: the direct engine was 13 % faster at 90 % but 10-19 % slower
   at 50-75 %. Zen 5 takes Intel's rule: ab.sh, 2 threads, three
   processes, medians, 16 -> 8 lanes: 3x3 512@7 90/75/50 % 0.62/0.64/0.61,
   3x3 d2 64@56 90 % 0.72; 3x3/2 128@56 90/75 % 1.11/1.10 (16 lanes kept),
   3x3/2 256@28 0.99. */
static sc_isa kc_isa(const sc_conv_op *op) {
  const sc_conv_desc *d = &op->desc;
  const bool rows3x3 = d->kernel_h == 3 && d->kernel_w == 3 && d->stride_h == 1 && d->stride_w == 1 &&
                       d->dilation_h == 1 && d->dilation_w == 1 && op->out_w >= 12;
  const bool one = d->kernel_h == 1 && d->kernel_w == 1;
  if (op->isa != SC_ISA_AVX512 || rows3x3 || one) return op->isa;
  const bool strided3x3 = d->kernel_h == 3 && d->kernel_w == 3 && (d->stride_h > 1 || d->stride_w > 1);
  if (sc_cpu_avx512_halves() || !strided3x3) return SC_ISA_AVX2;
  return op->isa;
}

sc_status sc_kernel_init(sc_conv_op *op, const float *weight, const uint8_t *mask) {
  const sc_conv_desc *d = &op->desc;
  const int32_t OC = d->out_channels, OH = op->out_h, OW = op->out_w;
  const int32_t cg = d->in_channels / d->groups, og = OC / d->groups;
  const int32_t kh = d->kernel_h, kw = d->kernel_w, kk = kh * kw;

  /* A 1x1 kernel is one weight: kernel-level sparsity is element-level
     sparsity there, and the direct sparse engine ran those layers 1.1-1.3x
     faster than the SpMM below (Zen 3, 90 %, ResNet-50 and MobileNet 1x1). */
  if (kk == 1 && (op->isa != SC_ISA_AVX512 || kc_direct_small_1x1(op, weight, mask)))
    return sc_spconv_init(op, weight, mask, 0);
  const sc_isa isa = kc_isa(op);

  kc_impl *im = (kc_impl *)sc_aligned_calloc(sizeof(kc_impl));
  if (!im) return SC_OUT_OF_MEMORY;
  im->kk = kk;

  /* Kept kernels. */
  int64_t nnz = 0;
  im->row_ptr = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * ((size_t)OC + 1));
  im->wprefix = (int64_t *)sc_aligned_alloc(sizeof(int64_t) * ((size_t)OC + 1));
  im->toff = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)kk);
  if (!im->row_ptr || !im->wprefix || !im->toff) goto oom;
  for (int32_t oc = 0; oc < OC; oc++) {
    im->row_ptr[oc] = (int32_t)nnz;
    for (int32_t c = 0; c < cg; c++) {
      const size_t base = ((size_t)oc * cg + c) * kk;
      for (int32_t i = 0; i < kk; i++)
        if (sc_kept(weight, mask, base + i)) {
          nnz++;
          break;
        }
    }
  }
  im->row_ptr[OC] = (int32_t)nnz;
  im->ics = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)SC_MAX(nnz, 1));
  im->w = (float *)sc_aligned_alloc(sizeof(float) * (size_t)SC_MAX(nnz * kk, 1));
  if (!im->ics || !im->w) goto oom;
  im->wprefix[0] = 0;
  for (int32_t oc = 0, k = 0; oc < OC; oc++) {
    const int32_t g = oc / og;
    for (int32_t c = 0; c < cg; c++) {
      const size_t base = ((size_t)oc * cg + c) * kk;
      bool kept = false;
      for (int32_t i = 0; i < kk && !kept; i++) kept = sc_kept(weight, mask, base + i);
      if (!kept) continue;
      im->ics[k] = g * cg + c;
      memcpy(im->w + (size_t)k * kk, weight + base, sizeof(float) * (size_t)kk);
      k++;
    }
    im->wprefix[oc + 1] =
        im->wprefix[oc] + (int64_t)(im->row_ptr[oc + 1] - im->row_ptr[oc]) * kk + KC_ITEM_COST;
  }

  /* Microkernels. */
  im->lanes = 16;
#if SC_X86
  if (isa == SC_ISA_AVX512) sc_kconv_kernels_avx512(&im->k);
  else if (isa == SC_ISA_AVX2) sc_kconv_kernels_avx2(&im->k);
  if (op->isa != SC_ISA_SCALAR) im->lanes = im->k.lanes;
#else
  if (op->isa != SC_ISA_SCALAR) {
    kc_destroy(im);
    return SC_UNSUPPORTED;
  }
#endif
  const int32_t L = im->lanes;
  const int32_t rv_max = op->isa == SC_ISA_SCALAR ? 16 : im->k.rv_max;
  im->fill_rows1 = sc_spconv_rows1_for(op->isa);

  /* Source geometry. */
  im->direct = kh == 1 && kw == 1 && d->stride_h == 1 && d->stride_w == 1 && d->pad_top == 0 &&
               d->pad_left == 0 && d->pad_bottom == 0 && d->pad_right == 0;
  int64_t max_toff = 0;
  if (im->direct) {
    im->sh = im->sw = 1;
    im->Hph = d->in_h;
    im->Wph = d->in_w;
    im->plane = (size_t)d->in_h * d->in_w;
    im->toff[0] = 0;
  } else {
    im->sh = d->stride_h;
    im->sw = d->stride_w;
    const int64_t Hpad = (int64_t)d->in_h + d->pad_top + d->pad_bottom;
    /* Rows share zero padding columns (sc_shared_pad_columns) where that
       makes them a whole number of vectors, which starts every row on a
       vector: 3x3 512@7 (rows of 8, not 9) 0.197 -> 0.187 ms at 90 %
       (probe). Elsewhere it was no faster (56, 28) or slower (14: 16 -> 15,
       4 %). */
    int64_t Wpad = (int64_t)d->in_w + d->pad_left + d->pad_right;
    const int64_t cut = Wpad % L;
    if (cut > 0 && cut <= sc_shared_pad_columns(d) && Wpad - cut >= L) Wpad -= cut;
    const int64_t Hph = (Hpad + im->sh - 1) / im->sh, Wph = (Wpad + im->sw - 1) / im->sw;
    const int64_t plane = ((int64_t)im->sh * im->sw * Hph * Wph + 15) & ~(int64_t)15;
    if (plane > INT32_MAX || plane * d->in_channels > INT32_MAX) {
      kc_destroy(im);
      return SC_SIZE_OVERFLOW;
    }
    im->Hph = (int32_t)Hph;
    im->Wph = (int32_t)Wph;
    im->plane = (size_t)plane;
    for (int32_t y = 0; y < kh; y++)
      for (int32_t x = 0; x < kw; x++) {
        const int64_t yy = (int64_t)y * d->dilation_h, xx = (int64_t)x * d->dilation_w;
        const int64_t off = ((yy % im->sh) * im->sw + (xx % im->sw)) * Hph * Wph +
                            (yy / im->sh) * Wph + (xx / im->sw);
        im->toff[y * kw + x] = (int32_t)off;
        max_toff = SC_MAX(max_toff, off);
      }
  }
  im->use_s3 = 0;
  if (im->direct) {
    im->flat = 1;
  } else {
    const bool s3 = op->isa != SC_ISA_SCALAR && im->k.s3[1][1] && kh == 3 && kw == 3 && d->stride_h == 1 &&
                    d->stride_w == 1 && d->dilation_h == 1 && d->dilation_w == 1;
    const int64_t vrow = (OW + L - 1) / L;
    const double eff_row = (double)OW / (double)(vrow * L) * (s3 ? 1.3 : 1.0);
    const int64_t qend = (int64_t)(OH - 1) * im->Wph + OW;
    const double eff_flat = (double)OH * OW / (double)(((qend + L - 1) / L) * L);
    /* 8-lane vectors: row tiles always. With their banded copies they beat
       flat tiles even where flat ones waste fewer lanes (Zen 3, 90 %: 3x3/2
       128@56 0.76 -> 0.59 ms, 5x5 96@27 1.33 -> 1.04, 3x3 128@10 0.092 ->
       0.053; never slower). The rule for 16 lanes was tuned on Zen 5. */
    im->flat = L > 8 && eff_flat > eff_row;
    im->use_s3 = s3 && !im->flat;
    if (im->use_s3 && im->k.s3a[1][1]) {
      /* aligned rows: Wph a multiple of 16 (extra zero columns) */
      const int64_t Wph = (im->Wph + 15) & ~(int64_t)15;
      const int64_t plane = (int64_t)im->Hph * Wph;
      if (plane <= INT32_MAX && plane * d->in_channels <= INT32_MAX) {
        im->Wph = (int32_t)Wph;
        im->plane = (size_t)plane;
        for (int32_t y = 0; y < kh; y++)
          for (int32_t x = 0; x < kw; x++) im->toff[y * kw + x] = (int32_t)(y * Wph + x);
        max_toff = 2 * Wph + 2;
        im->use_s3 = 2;
      }
    }
  }
  int64_t max_read; /* source floats past a channel plane's start that a tile may read */
  if (im->flat) {
    im->Vm = im->direct && op->isa != SC_ISA_SCALAR ? im->k.spmm_v : 4;
    im->Rm = 1;
    im->qend = im->direct ? (int64_t)OH * OW : (int64_t)(OH - 1) * im->Wph + OW;
    im->ntiles = (im->qend + (int64_t)im->Vm * L - 1) / ((int64_t)im->Vm * L);
    im->nchunks = 1;
    max_read = im->ntiles * im->Vm * L;
  } else {
    const int32_t vmax = im->use_s3 && im->k.s3_vmax ? im->k.s3_vmax : 4;
    const int32_t rvmax = im->use_s3 && im->k.s3_rv_max ? im->k.s3_rv_max : rv_max;
    im->Vm = SC_MIN(vmax, (OW + L - 1) / L);
    /* Rows per tile: as many as the registers allow, spread evenly over the
       row bands so that no band is a thin remainder (14 rows: 5+5+4, not 6+6+2). */
    const int32_t rcap = SC_MIN(SC_KCONV_RMAX, rvmax / im->Vm);
    const int32_t bands = (OH + rcap - 1) / rcap;
    im->Rm = (OH + bands - 1) / bands;
    im->nbands = (OH + im->Rm - 1) / im->Rm;
    im->nchunks = (OW + (int64_t)im->Vm * L - 1) / ((int64_t)im->Vm * L);
    im->ntiles = (int64_t)im->nbands * im->nchunks;
    max_read = (int64_t)(OH - 1) * im->Wph + im->nchunks * im->Vm * L;
  }
  /* Row tiles read hb source rows per group of bands of Rm output rows: each
     thread copies one group at a time into its own buffer, which stays in its
     cache. A whole padded copy of the input made each run write and re-read
     it through memory (3x3 64@56, 90 %: a third of the run). */
  if (!im->direct && !im->flat) {
    int64_t maxrow = 0;
    for (int32_t y = 0; y < kh; y++) maxrow = SC_MAX(maxrow, ((int64_t)y * d->dilation_h) / im->sh);
    /* Sparse layers copy several of a thread's bands at once (up to
       KC_GROUP_BYTES of source rows): each copy also reads the kernel's reach
       below its bands, and 3x3 64@56 in bands of 4 rows copied 6 rows per 4,
       a fifth of a 90 % run. Benchmarks/kernel-probe/ab.sh, Zen 5, 2
       threads, time grouped / one band per copy, three to five processes,
       medians, outputs identical: 3x3 64@56 90 % 0.92, 95 % 0.72-0.86, 1
       thread 0.94, d2 64@56 0.94, 11x11/4 3->96 0.87, ResNeXt 128@56 g32
       0.78-0.80; 128@28 0.99 and 3x3/2 128@56 1.01 (few bands a thread),
       VGG 256@56 1.00 (rows too wide to group); AVX2 kernels on the same
       host 0.975 (64@56), 1.00 (128@28). Grouped at 75 % 0.99-1.02 and at
       50 % 1.03 (the kernels' own reads outweigh the copy there), so denser
       layers keep one band per copy. */
    int64_t group = 1;
    if (nnz * 100 <= (int64_t)OC * cg * KC_GROUP_MAX_DENSITY_PCT) {
      const double row_bytes = (double)sizeof(float) * d->in_channels * im->sh * im->sw * im->Wph;
      const int64_t rows_fit = (int64_t)(KC_GROUP_BYTES / row_bytes);
      group = SC_MIN(SC_MAX((int64_t)1, (rows_fit - maxrow) / im->Rm), (int64_t)im->nbands);
    }
    const int64_t hb = group * im->Rm + maxrow;
    const int64_t plane_b = ((int64_t)im->sh * im->sw * hb * im->Wph + 15) & ~(int64_t)15;
    int64_t max_toff_b = 0;
    im->toff_b = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)kk);
    if (!im->toff_b) goto oom;
    for (int32_t y = 0; y < kh; y++)
      for (int32_t x = 0; x < kw; x++) {
        const int64_t yy = (int64_t)y * d->dilation_h, xx = (int64_t)x * d->dilation_w;
        const int64_t off = ((yy % im->sh) * im->sw + (xx % im->sw)) * hb * im->Wph +
                            (yy / im->sh) * im->Wph + (xx / im->sw);
        im->toff_b[y * kw + x] = (int32_t)off;
        max_toff_b = SC_MAX(max_toff_b, off);
      }
    /* a tile reads up to group * Rm - 1 rows below the buffer's first, nchunks*Vm*L columns */
    const int64_t max_read_b = (group * im->Rm - 1) * im->Wph + im->nchunks * im->Vm * L;
    const int64_t need = (int64_t)(d->in_channels - 1) * plane_b + max_toff_b + max_read_b + 16;
    im->banded = 1;
    im->group = (int32_t)group;
    im->reach = (int32_t)maxrow;
    im->hb = (int32_t)hb;
    im->plane_b = (size_t)plane_b;
    im->band_floats = (size_t)SC_MAX(need, (int64_t)d->in_channels * plane_b);
  }
  if (!im->direct && !im->banded) {
    const int64_t need = (int64_t)(d->in_channels - 1) * (int64_t)im->plane + max_toff + max_read + 16;
    im->src_floats = (size_t)SC_MAX(need, (int64_t)d->in_channels * (int64_t)im->plane);
  }

  /* Direct 1x1: input-channel blocks whose tile of input (channels x Vm
     vectors) fits in about 32 KB of L1. */
  im->nblk = 1;
  if (im->direct) {
    const int64_t tile_bytes = (int64_t)d->in_channels * im->Vm * L * (int64_t)sizeof(float);
    im->nblk = (int32_t)SC_MAX(1, SC_MIN((int64_t)d->in_channels, (tile_bytes + 32767) / 32768));
  }
  if (im->nblk > 1) {
    const int32_t nb = im->nblk;
    const int32_t cb = (d->in_channels + nb - 1) / nb;
    im->bptr = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)OC * (nb + 1));
    if (!im->bptr) goto oom;
    for (int32_t oc = 0; oc < OC; oc++) {
      int32_t *bp = im->bptr + (size_t)oc * (nb + 1);
      int32_t kx = im->row_ptr[oc];
      for (int32_t bl = 0; bl < nb; bl++) {
        bp[bl] = kx;
        while (kx < im->row_ptr[oc + 1] && im->ics[kx] < (bl + 1) * cb) kx++;
      }
      bp[nb] = im->row_ptr[oc + 1];
    }
  }

  op->impl = im;
  op->workspace_size = kc_workspace;
  op->run = kc_run;
  op->destroy_impl = kc_destroy;
  op->stored_weights = nnz * kk;
  op->packed_bytes = sizeof(int32_t) * ((size_t)OC + 1) + sizeof(int32_t) * (size_t)nnz +
                     sizeof(float) * (size_t)(nnz * kk) + sizeof(int32_t) * (size_t)kk;
  return SC_OK;
oom:
  kc_destroy(im);
  return SC_OUT_OF_MEMORY;
}
