/* Two builds of CSparseConv in one process (ab.sh): the same convolution is
   packed by build A and by build B, then timed in alternating blocks of runs
   (A then B, B then A, ...); each block's median goes into a ratio B/A, and the
   median of those ratios is the answer. A host whose speed drifts by 10-20 %
   from one process to the next (the KVM guests this project is measured on)
   hides a 5 % change from process-level A/B; within one process the drift
   hits both builds' blocks alike. Arguments as probe.c's, then BLOCKS (blocks
   per build, default 60) and RUNS (runs per block, default 25). Prints the
   block-median times of each build, the ratio's median and quartiles, and
   whether the outputs are bit-identical (max abs difference otherwise). */
#include "ab_api.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
static unsigned long long rs = 88172645463325252ULL;
static double rnd(void) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return (rs >> 11) * (1.0 / 9007199254740992.0);
}
static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static void *alloc64(size_t n) {
  void *p = NULL;
  return posix_memalign(&p, 64, (n + 63) / 64 * 64 + 64) ? NULL : p;
}

int main(int argc, char **argv) {
  if (argc < 11) {
    fprintf(stderr, "cin cout h w k stride pad path sparsity threads [dil groups [blocks [runs]]]\n"
                    "path: 0 dense, 3 block1x2, 4 kernel, 5 channel, 6 element\n");
    return 1;
  }
  sc_conv_desc d = {0};
  d.in_channels = atoi(argv[1]);
  d.out_channels = atoi(argv[2]);
  d.in_h = atoi(argv[3]);
  d.in_w = atoi(argv[4]);
  d.kernel_h = d.kernel_w = atoi(argv[5]);
  d.stride_h = d.stride_w = atoi(argv[6]);
  d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = atoi(argv[7]);
  const int path = atoi(argv[8]), th = atoi(argv[10]);
  const double sp = atof(argv[9]);
  d.dilation_h = d.dilation_w = argc > 11 ? atoi(argv[11]) : 1;
  d.groups = argc > 12 ? atoi(argv[12]) : 1;
  const int blocks = argc > 13 ? atoi(argv[13]) : 60, runs = argc > 14 ? atoi(argv[14]) : 25;
  if (d.kernel_h <= 0 || d.stride_h <= 0 || d.groups <= 0 || d.in_channels % d.groups ||
      d.out_channels % d.groups || blocks < 1 || runs < 1 || runs > 1000) {
    fprintf(stderr, "bad arguments\n");
    return 1;
  }
  const int oh = (d.in_h + 2 * d.pad_top - d.dilation_h * (d.kernel_h - 1) - 1) / d.stride_h + 1;
  const int ow = (d.in_w + 2 * d.pad_left - d.dilation_w * (d.kernel_w - 1) - 1) / d.stride_w + 1;
  const int cg = d.in_channels / d.groups, kk = d.kernel_h * d.kernel_w;
  const long per = (long)cg * kk, nw = per * d.out_channels;
  float *w = malloc(nw * 4), *b = malloc(d.out_channels * 4);
  if (!w || !b || oh <= 0 || ow <= 0) return 1;
  for (long i = 0; i < nw; i++) w[i] = rnd() - 0.5;
  for (int i = 0; i < d.out_channels; i++) b[i] = rnd();
  /* zeros at the path's granularity, as probe.c draws them */
  for (int o = 0; o < d.out_channels; o++)
    for (int c = 0; c < cg; c++)
      for (int t = 0; t < kk; t++) {
        const long i = (long)o * per + (long)c * kk + t;
        int z = 0;
        if (path == 3) {
          if (o % 2 == 0) {
            z = rnd() < sp;
            if (z) w[i] = 0;
            if (o + 1 < d.out_channels && z) w[i + per] = 0;
          }
          continue;
        } else if (path == 4) {
          z = t == 0 ? rnd() < sp : w[(long)o * per + (long)c * kk] == 0;
        } else if (path == 5) {
          z = c == 0 && t == 0 ? rnd() < sp : w[(long)o * per] == 0;
        } else if (path == 6) {
          z = rnd() < sp;
        }
        if (z) w[i] = 0;
      }
  if (path == 5) /* a removed filter loses its bias, as sparse-bench's channel masks do */
    for (int o = 0; o < d.out_channels; o++) {
      int any = 0;
      for (long i = 0; i < per; i++) any |= w[(long)o * per + i] != 0;
      if (!any) b[o] = 0;
    }
  const ab_api *api[2] = {&ab_api_a, &ab_api_b};
  sc_conv_op *op[2];
  size_t ws[2];
  void *wp[2];
  float *y[2];
  const long in_n = (long)d.in_channels * d.in_h * d.in_w, out_n = (long)d.out_channels * oh * ow;
  float *x = alloc64(in_n * 4);
  if (!x) return 1;
  for (long i = 0; i < in_n; i++) x[i] = rnd() - 0.5;
  for (int j = 0; j < 2; j++) {
    const sc_status st = api[j]->create((sc_path)path, &d, w, NULL, b, SC_ACTIVATION_RELU, getenv("AB_ISA") ? (sc_isa)atoi(getenv("AB_ISA")) : SC_ISA_AUTO, &op[j]);
    if (st != SC_OK) {
      fprintf(stderr, "build %c: create failed (%d)\n", 'A' + j, (int)st);
      return 1;
    }
    ws[j] = api[j]->workspace_size(op[j], 1, th);
    wp[j] = ws[j] ? alloc64(ws[j]) : NULL;
    y[j] = alloc64(out_n * 4);
    if (!y[j] || (ws[j] && !wp[j])) return 1;
    for (int i = 0; i < 3; i++) api[j]->run(op[j], 1, x, y[j], wp[j], ws[j], th);
  }
  double diff = 0;
  for (long i = 0; i < out_n; i++) {
    const double e = y[0][i] > y[1][i] ? y[0][i] - y[1][i] : y[1][i] - y[0][i];
    if (e > diff || e != e) diff = e;
  }
  double *bm[2] = {malloc(blocks * 8), malloc(blocks * 8)}, *ratio = malloc(blocks * 8), *t = malloc(runs * 8);
  if (!bm[0] || !bm[1] || !ratio || !t) return 1;
  for (int k = 0; k < blocks; k++) {
    for (int i = 0; i < 2; i++) {
      const int j = k % 2 ? 1 - i : i;
      for (int r = 0; r < 3; r++) api[j]->run(op[j], 1, x, y[j], wp[j], ws[j], th); /* the other build evicted it */
      for (int r = 0; r < runs; r++) {
        const double a = now();
        api[j]->run(op[j], 1, x, y[j], wp[j], ws[j], th);
        t[r] = now() - a;
      }
      qsort(t, runs, 8, cmp);
      bm[j][k] = t[runs / 2];
    }
    ratio[k] = bm[1][k] / bm[0][k];
  }
  qsort(bm[0], blocks, 8, cmp);
  qsort(bm[1], blocks, 8, cmp);
  qsort(ratio, blocks, 8, cmp);
  printf("A %.4f ms  B %.4f ms (median of %d block medians)  B/A %.3f [quartiles %.3f %.3f]  outputs %s",
         bm[0][blocks / 2] * 1e3, bm[1][blocks / 2] * 1e3, blocks, ratio[blocks / 2], ratio[blocks / 4],
         ratio[(3 * blocks) / 4], diff == 0 ? "identical\n" : "differ: max |A-B| ");
  if (diff != 0) printf("%g\n", diff);
  for (int j = 0; j < 2; j++) api[j]->destroy(op[j]);
  return 0;
}
