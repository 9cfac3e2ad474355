/*
 * Channel-level sparse path (SC_PATH_CHANNEL): whole filters (an output
 * channel with all its weights) are kept or removed. A filter is kept when
 * any of its weights is kept (mask[i] != 0, or weight != 0 without a mask);
 * a removed filter's output channel is the constant activation(bias), so the
 * path is exact for any weights; it is an exact zero, reported through
 * op->dead_outputs, when that constant is 0 (no bias, a zero bias — a filter
 * pruned with its bias, as SparseConv's channel masks do — or a bias the
 * activation clamps to 0).
 *
 * The kept filters run as a smaller dense convolution (an inner operator):
 *   - live groups: groups with at least one kept filter; groups with none are
 *     dropped together with their input channels (G' live groups);
 *   - kmax = most kept filters in one live group; every live group gets kmax
 *     inner filters, short groups padded with zero filters whose outputs are
 *     discarded (groups stay uniform, so one inner operator serves them all;
 *     with groups == 1 there is never padding);
 *   - inner desc: in_channels = G' * cin_g, out_channels = G' * kmax,
 *     groups = G', same spatial parameters. Path: depthwise when the inner
 *     shape is depthwise, grouped when G' > 1, else dense: for a spatial
 *     kernel with few filters (<= 32) or a small image (<= 256 outputs) the
 *     direct engine's dense form (sc_dense_direct_init), else the GEMM; the
 *     GEMM is the fallback whenever the preferred form declines the shape.
 *
 * Packed format (ch_impl):
 *   inner    the inner operator (NULL when every filter is removed); it holds
 *            the compacted weights [G' * kmax][cin_g][kh][kw] and biases
 *   out_map  [G' * kmax]  output channel of each inner filter, -1 for padding
 *   in_first input channel of the first live group when the live groups are
 *            contiguous (the inner input is a slice of the caller's tensor);
 *            otherwise in_map [G'] lists the live groups and their channels
 *            are gathered into the workspace
 *   out_first first output channel when out_map is one contiguous run
 *            (inner output written in place), else -1 (inner output in the
 *            workspace, then scattered)
 * stored_weights = kept filters * cin_g * kh * kw (padding filters excluded).
 *
 * Run, per image: gather input (if needed), inner run, scatter (if needed),
 * zero the removed channels. The layer's own parallel work (gather, scatter,
 * zeroing) uses one parallel region; the inner operator uses its own.
 * mapped: with one live group and an inner op that can (the AVX2 or AVX-512 GEMM, or the
 * direct engine of sc_dense_direct_init), the inner op writes each kept filter
 * into its own output plane and fills the removed planes itself
 * (sc_dense_map_outputs, sc_spconv_map_outputs), so the run is that one inner
 * run.
 */
#include "../common/internal.h"
#include "../sparse/spconv.h"

#include <string.h>

typedef struct ch_impl {
  sc_conv_op *inner;
  int32_t inner_ic, inner_oc, live_groups, cin_g;
  int32_t *out_map;   /* [inner_oc] */
  int32_t *in_groups; /* [live_groups] source group of each live group */
  int32_t in_first;   /* >= 0: inner input is channels [in_first, in_first + inner_ic) */
  int32_t out_first;  /* >= 0: inner output is channels [out_first, out_first + inner_oc) */
  int32_t *scat_src;  /* [kept] inner channel of each kept filter */
  int32_t *scat_dst;  /* [kept] its output channel */
  int32_t *dead;      /* [n_dead] removed output channels */
  float *dead_value;  /* [n_dead] their constant output, activation(bias) */
  int32_t n_dead, n_pad;
  /* The inner op writes the kept filters into their own output planes and
     fills the removed ones itself (sc_dense_map_outputs): no scatter, no
     pass of its own for the constants. */
  bool mapped;
} ch_impl;

static void ch_destroy(void *p) {
  ch_impl *im = (ch_impl *)p;
  if (!im) return;
  sc_conv_op_destroy(im->inner);
  sc_aligned_free(im->out_map);
  sc_aligned_free(im->in_groups);
  sc_aligned_free(im->dead);
  sc_aligned_free(im->dead_value);
  sc_aligned_free(im->scat_src);
  sc_aligned_free(im->scat_dst);
  sc_aligned_free(im);
}

/* Workspace: [inner workspace][gathered input][inner output], each aligned. */
typedef struct ch_layout {
  size_t inner, in_off, out_off, total;
} ch_layout;

/* One batched inner run: the inner op reads the layer's whole input and
   writes its whole output (every filter kept, or a mapped inner op). */
static bool ch_whole(const sc_conv_op *op) {
  const ch_impl *im = (const ch_impl *)op->impl;
  return im->inner && im->in_first == 0 && im->inner_ic == op->desc.in_channels &&
         (im->mapped || (im->out_first == 0 && im->inner_oc == op->desc.out_channels));
}

static bool ch_layout_of(const sc_conv_op *op, int32_t batch, int32_t threads, ch_layout *l) {
  const ch_impl *im = (const ch_impl *)op->impl;
  const sc_conv_desc *d = &op->desc;
  *l = (ch_layout){0};
  if (!im->inner) return true;
  l->inner = sc_conv_op_workspace_size(im->inner, ch_whole(op) ? batch : 1, threads);
  if (l->inner == SIZE_MAX) return false;
  size_t total = sc_round_up(l->inner), a;
  l->in_off = total;
  if (im->mapped) {
    l->out_off = l->total = total;
    return true;
  }
  if (im->in_first < 0) {
    if (!sc_mul_size((size_t)im->inner_ic * d->in_h * d->in_w, sizeof(float), &a)) return false;
    if (!sc_add_size(total, sc_round_up(a), &total)) return false;
  }
  l->out_off = total;
  if (im->out_first < 0) {
    if (!sc_mul_size((size_t)im->inner_oc * op->out_h * op->out_w, sizeof(float), &a)) return false;
    if (!sc_add_size(total, sc_round_up(a), &total)) return false;
  }
  l->total = total;
  return true;
}

static size_t ch_workspace(const sc_conv_op *op, int32_t batch, int32_t threads) {
  ch_layout l;
  if (!ch_layout_of(op, batch, threads, &l)) return SIZE_MAX;
  return l.total;
}

/* Copies (or, src == NULL, fills with value[i], or zeroes when value is NULL
   too) `count` planes of `plane` floats, in parallel over plane chunks.
   dst_idx/src_idx map plane i to a plane index. */
typedef struct ch_copy {
  float *dst;
  const float *src;
  const float *value;
  const int32_t *dst_idx, *src_idx; /* NULL: identity */
  int32_t count;
  size_t plane;
} ch_copy;

static void ch_copy_part(const ch_copy *c, int tid, int nt) {
  if (c->count <= 0) return;
  const int64_t total = (int64_t)c->count * (int64_t)c->plane;
  int64_t b, e;
  sc_split(total, nt, tid, &b, &e);
  while (b < e) {
    const int64_t i = b / (int64_t)c->plane, off = b % (int64_t)c->plane;
    const int64_t len = SC_MIN(e - b, (int64_t)c->plane - off);
    const size_t di = c->dst_idx ? (size_t)c->dst_idx[i] : (size_t)i;
    float *dst = c->dst + di * c->plane + off;
    if (c->src) {
      const size_t si = c->src_idx ? (size_t)c->src_idx[i] : (size_t)i;
      memcpy(dst, c->src + si * c->plane + off, sizeof(float) * (size_t)len);
    } else {
      sc_fill_floats(dst, (size_t)len, c->value ? c->value[i] : 0.0f);
    }
    b += len;
  }
}

static void ch_copy_run(const ch_copy *ops, int nops, int32_t threads) {
  int64_t work = 0;
  for (int i = 0; i < nops; i++) work += (int64_t)ops[i].count * (int64_t)ops[i].plane;
  if (work == 0) return;
  /* Small copies are cheaper than waking a team. */
  const int32_t nt = work < 16384 ? 1 : threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
  {
    const int tid = omp_get_thread_num(), n = omp_get_num_threads();
    for (int i = 0; i < nops; i++) ch_copy_part(&ops[i], tid, n);
  }
#else
  (void)nt;
  for (int i = 0; i < nops; i++) ch_copy_part(&ops[i], 0, 1);
#endif
}

static sc_status ch_run(const sc_conv_op *op, int32_t batch, const float *input, float *output,
                        void *workspace, int32_t threads) {
  const ch_impl *im = (const ch_impl *)op->impl;
  const sc_conv_desc *d = &op->desc;
  const size_t in_plane = (size_t)d->in_h * d->in_w, out_plane = (size_t)op->out_h * op->out_w;
  const size_t in_img = (size_t)d->in_channels * in_plane, out_img = (size_t)d->out_channels * out_plane;
  if (!im->inner) {
    for (int32_t n = 0; n < batch; n++) {
      ch_copy z = {output + (size_t)n * out_img, NULL, im->dead_value, im->dead, NULL, im->n_dead, out_plane};
      ch_copy_run(&z, 1, threads);
    }
    return SC_OK;
  }
  ch_layout l;
  if (!ch_layout_of(op, batch, threads, &l)) return SC_SIZE_OVERFLOW;
  char *ws = (char *)workspace;
  void *inner_ws = l.inner ? ws : NULL;
  float *gin = im->in_first < 0 ? (float *)(ws + l.in_off) : NULL;
  float *gout = im->out_first < 0 && !im->mapped ? (float *)(ws + l.out_off) : NULL;
  /* Whole batch in one inner run when the inner op is the layer itself. */
  if (ch_whole(op)) return sc_conv_op_run(im->inner, batch, input, output, inner_ws, l.inner, threads);
  for (int32_t n = 0; n < batch; n++) {
    const float *in = input + (size_t)n * in_img;
    float *out = output + (size_t)n * out_img;
    const float *src = in + (size_t)SC_MAX(im->in_first, 0) * in_plane;
    if (im->mapped) {
      /* a slice of the input channels (one live group of several) */
      sc_status st = sc_conv_op_run(im->inner, 1, src, out, inner_ws, l.inner, threads);
      if (st != SC_OK) return st;
      continue;
    }
    if (gin) {
      /* live groups' input channels, group by group */
      ch_copy g = {gin, in, NULL, NULL, NULL, 0, (size_t)im->cin_g * in_plane};
      g.count = im->live_groups;
      g.src_idx = im->in_groups;
      ch_copy_run(&g, 1, threads);
      src = gin;
    }
    float *dst = gout ? gout : out + (size_t)im->out_first * out_plane;
    sc_status st = sc_conv_op_run(im->inner, 1, src, dst, inner_ws, l.inner, threads);
    if (st != SC_OK) return st;
    ch_copy c[2];
    int nc = 0;
    c[nc++] = (ch_copy){out, NULL, im->dead_value, im->dead, NULL, im->n_dead, out_plane};
    if (gout)
      c[nc++] = (ch_copy){out, gout, NULL, im->scat_dst, im->scat_src,
                          im->inner_oc - im->n_pad, out_plane};
    ch_copy_run(c, nc, threads);
  }
  return SC_OK;
}

sc_status sc_channel_init(sc_conv_op *op, const float *weight, const uint8_t *mask) {
  const sc_conv_desc *d = &op->desc;
  const int32_t OC = d->out_channels, G = d->groups;
  const int32_t cin_g = d->in_channels / G, og = OC / G;
  const size_t fsz = (size_t)cin_g * d->kernel_h * d->kernel_w;

  ch_impl *im = (ch_impl *)sc_aligned_calloc(sizeof(ch_impl));
  uint8_t *deadv = (uint8_t *)sc_aligned_calloc((size_t)OC);
  int32_t *per_group = (int32_t *)sc_aligned_calloc(sizeof(int32_t) * (size_t)G);
  float *cw = NULL, *cb = NULL;
  sc_status st = SC_OUT_OF_MEMORY;
  if (!im || !deadv || !per_group) goto fail;
  im->cin_g = cin_g;

  int64_t kept = 0;
  for (int32_t oc = 0; oc < OC; oc++) {
    bool k = false;
    for (size_t i = 0; i < fsz && !k; i++) k = sc_kept(weight, mask, (size_t)oc * fsz + i);
    deadv[oc] = !k;
    if (k) {
      kept++;
      per_group[oc / og]++;
    }
  }
  im->n_dead = (int32_t)(OC - kept);
  im->dead = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)SC_MAX(im->n_dead, 1));
  im->dead_value = (float *)sc_aligned_alloc(sizeof(float) * (size_t)SC_MAX(im->n_dead, 1));
  if (!im->dead || !im->dead_value) goto fail;
  for (int32_t oc = 0, j = 0; oc < OC; oc++)
    if (deadv[oc]) {
      float v = op->bias[oc];
      if (op->activation != SC_ACTIVATION_NONE) v = v > 0.0f ? v : 0.0f;
      if (op->activation == SC_ACTIVATION_RELU6) v = v < 6.0f ? v : 6.0f;
      im->dead[j] = oc;
      im->dead_value[j++] = v;
    }

  int32_t live = 0, kmax = 0, first_live = -1, last_live = -1;
  for (int32_t g = 0; g < G; g++)
    if (per_group[g] > 0) {
      live++;
      kmax = SC_MAX(kmax, per_group[g]);
      if (first_live < 0) first_live = g;
      last_live = g;
    }
  im->live_groups = live;
  im->in_first = -1;
  im->out_first = -1;
  if (kept > 0) {
    im->inner_ic = live * cin_g;
    im->inner_oc = live * kmax;
    im->out_map = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)im->inner_oc);
    im->in_groups = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)live);
    cw = (float *)sc_aligned_calloc(sizeof(float) * (size_t)im->inner_oc * fsz);
    cb = (float *)sc_aligned_calloc(sizeof(float) * (size_t)im->inner_oc);
    im->scat_src = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)kept);
    im->scat_dst = (int32_t *)sc_aligned_alloc(sizeof(int32_t) * (size_t)kept);
    if (!im->out_map || !im->in_groups || !cw || !cb || !im->scat_src || !im->scat_dst) goto fail;
    im->n_pad = (int32_t)(im->inner_oc - kept);
    for (int32_t g = 0, lg = 0, ns = 0; g < G; g++) {
      if (per_group[g] == 0) continue;
      im->in_groups[lg] = g;
      int32_t j = 0;
      for (int32_t o = g * og; o < (g + 1) * og; o++) {
        if (deadv[o]) continue;
        const int32_t io = lg * kmax + j++;
        memcpy(cw + (size_t)io * fsz, weight + (size_t)o * fsz, sizeof(float) * fsz);
        cb[io] = op->bias[o];
        im->out_map[io] = o;
        im->scat_src[ns] = io;
        im->scat_dst[ns++] = o;
      }
      for (; j < kmax; j++) im->out_map[lg * kmax + j] = -1;
      lg++;
    }
    if (last_live - first_live + 1 == live) im->in_first = first_live * cin_g;
    bool contiguous = true;
    for (int32_t i = 0; i < im->inner_oc && contiguous; i++)
      contiguous = im->out_map[i] == im->out_map[0] + i;
    if (contiguous) im->out_first = im->out_map[0];

    sc_conv_desc id = *d;
    id.in_channels = im->inner_ic;
    id.out_channels = im->inner_oc;
    id.groups = live;
    sc_path pref = SC_PATH_DENSE;
    sc_init_fn init = sc_dense_init;
    if (live > 1 && cin_g == 1 && kmax == 1) pref = SC_PATH_DEPTHWISE, init = sc_depthwise_init;
    else if (live > 1) pref = SC_PATH_GROUPED, init = sc_grouped_init;
    /* A few filters left of a spatial kernel: the GEMM's im2col costs as
       much as for all filters and its tiles run mostly empty, while the
       direct engine needs no im2col. Measured on Zen 3 (3x3, 6-52 filters,
       7x7 to 56x56), with dense pairs: 1.0-4.5x faster, except many filters
       on large images. */
    else if (d->kernel_h * d->kernel_w > 1 &&
             (im->inner_oc <= 32 || (int64_t)op->out_h * op->out_w <= 256))
      init = sc_dense_direct_init;
    st = sc_conv_op_create_with(init, pref, &id, cw, NULL, op->has_bias ? cb : NULL, op->activation,
                                op->isa, &im->inner);
    if (st != SC_OK && init != sc_dense_init)
      st = sc_conv_op_create(SC_PATH_DENSE, &id, cw, NULL, op->has_bias ? cb : NULL,
                             op->activation, op->isa, &im->inner);
    if (st != SC_OK) goto fail;
    /* One live group read in place: the inner GEMM or direct engine can
       write straight into the layer's output, in one parallel region with no
       scatter pass.
       Probe, 90 %, 2 threads: 1x1 128@56 0.100 -> 0.097 ms, 512->512@14
       0.088 -> 0.086 (before the GEMM took pixel tiles outermost). */
    if (live == 1 && im->in_first >= 0 && im->n_pad == 0) {
      st = sc_dense_map_outputs(im->inner, im->out_map, OC, im->dead, im->dead_value, im->n_dead);
      if (st == SC_UNSUPPORTED)
        st = sc_spconv_map_outputs(im->inner, im->out_map, OC, im->dead, im->dead_value, im->n_dead);
      if (st == SC_OK) im->mapped = true;
      else if (st != SC_UNSUPPORTED) goto fail;
      st = SC_OK;
    }
  }
  sc_aligned_free(cw);
  sc_aligned_free(cb);
  sc_aligned_free(per_group);
  cw = cb = NULL;
  per_group = NULL;

  op->impl = im;
  op->workspace_size = ch_workspace;
  op->run = ch_run;
  op->destroy_impl = ch_destroy;
  /* deadv marked removed filters so far; downstream may only drop exact
     zeros (a NaN or nonzero constant is not one). */
  for (int32_t j = 0; j < im->n_dead; j++) deadv[im->dead[j]] = im->dead_value[j] == 0.0f;
  op->dead_outputs = deadv;
  op->stored_weights = kept * (int64_t)fsz;
  op->packed_bytes = (im->inner ? sc_conv_op_packed_bytes(im->inner) : 0) +
                     sizeof(int32_t) * ((size_t)im->inner_oc + (size_t)live + (size_t)im->n_dead);
  return SC_OK;
fail:
  sc_aligned_free(cw);
  sc_aligned_free(cb);
  sc_aligned_free(per_group);
  sc_aligned_free(deadv);
  ch_destroy(im);
  return st;
}
