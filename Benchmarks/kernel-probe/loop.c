/*
 * Loop probe: the inner loop of the direct sparse engine's AVX2 microkernels
 * (one output channel x 8 vectors, a pair x 6 vectors) and, where the CPU has
 * AVX-512, of its 16-lane ones (one channel x 16 vectors, a pair x 12) over
 * random positions
 * in a window of SPAN floats, to see what the loop alone reaches from L1
 * (small SPAN) and from L2 (SPAN of a few hundred KB). Not a sparse-bench
 * figure; used to explain them.
 *   clang -O3 Benchmarks/kernel-probe/loop.c -o /tmp/loop-probe && /tmp/loop-probe SPAN [ALIGN]
 * (-O3: at -O2 clang leaves the 24 accumulators of the AVX-512 pair loop on the stack)
 * It first prints the core's FMA peak (16-lane where the CPU has AVX-512, else
 * 8-lane): independent FMA chains on registers, no loads.
 * ALIGN=1 rounds every position down to a vector boundary (no line splits;
 * 8 floats for the AVX2 loops, 16 for the AVX-512 ones).
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((noinline, target("avx2,fma"))) static void single8(const int32_t *idx, const float *w,
                                                                 const float *in, int n, float *out) {
  __m256 acc[8];
  for (int v = 0; v < 8; v++) acc[v] = _mm256_setzero_ps();
  for (int k = 0; k < n; k++) {
    const float *p = in + idx[k];
    const __m256 wv = _mm256_broadcast_ss(w + k);
    for (int v = 0; v < 8; v++) acc[v] = _mm256_fmadd_ps(_mm256_loadu_ps(p + 8 * v), wv, acc[v]);
  }
  for (int v = 0; v < 8; v++) _mm256_storeu_ps(out + 8 * v, acc[v]);
}

__attribute__((noinline, target("avx2,fma"))) static void pair6(const int32_t *idx, const float *w,
                                                               const float *in, int n, float *out) {
  __m256 a0[6], a1[6];
  for (int v = 0; v < 6; v++) a0[v] = a1[v] = _mm256_setzero_ps();
  for (int k = 0; k < n; k++) {
    const float *p = in + idx[k];
    const __m256 w0 = _mm256_broadcast_ss(w + 2 * k), w1 = _mm256_broadcast_ss(w + 2 * k + 1);
    for (int v = 0; v < 6; v++) {
      const __m256 x = _mm256_loadu_ps(p + 8 * v);
      a0[v] = _mm256_fmadd_ps(x, w0, a0[v]);
      a1[v] = _mm256_fmadd_ps(x, w1, a1[v]);
    }
  }
  for (int v = 0; v < 6; v++) {
    _mm256_storeu_ps(out + 8 * v, a0[v]);
    _mm256_storeu_ps(out + 48 + 8 * v, a1[v]);
  }
}

__attribute__((noinline, target("avx512f"))) static void single16(const int32_t *idx, const float *w,
                                                              const float *in, int n, float *out) {
  __m512 acc[16];
  for (int v = 0; v < 16; v++) acc[v] = _mm512_setzero_ps();
  for (int k = 0; k < n; k++) {
    const float *p = in + idx[k];
    const __m512 wv = _mm512_set1_ps(w[k]);
    for (int v = 0; v < 16; v++) acc[v] = _mm512_fmadd_ps(_mm512_loadu_ps(p + 16 * v), wv, acc[v]);
  }
  for (int v = 0; v < 16; v++) _mm512_storeu_ps(out + 16 * v, acc[v]);
}

__attribute__((noinline, target("avx512f"))) static void pair12(const int32_t *idx, const float *w,
                                                            const float *in, int n, float *out) {
  __m512 a0[12], a1[12];
  for (int v = 0; v < 12; v++) a0[v] = a1[v] = _mm512_setzero_ps();
  for (int k = 0; k < n; k++) {
    const float *p = in + idx[k];
    const __m512 w0 = _mm512_set1_ps(w[2 * k]), w1 = _mm512_set1_ps(w[2 * k + 1]);
    for (int v = 0; v < 12; v++) {
      const __m512 x = _mm512_loadu_ps(p + 16 * v);
      a0[v] = _mm512_fmadd_ps(x, w0, a0[v]);
      a1[v] = _mm512_fmadd_ps(x, w1, a1[v]);
    }
  }
  for (int v = 0; v < 12; v++) {
    _mm512_storeu_ps(out + 16 * v, a0[v]);
    _mm512_storeu_ps(out + 192 + 16 * v, a1[v]);
  }
}

/* Twelve independent chains cover the FMA latency of two pipes (4 cycles x 2
   on the CPUs measured here). Returns FMAs per ns. */
#define SC_PEAK_LOOP(NAME, TARGET, VEC, SET1, FMA, REDUCE_LANE)                                 \
  __attribute__((noinline, target(TARGET))) static double NAME(long n) {                     \
    VEC a[12];                                                                              \
    for (int i = 0; i < 12; i++) a[i] = SET1(1e-3f * (float)i);                             \
    const VEC b = SET1(0.999f), c = SET1(1e-4f);                                            \
    const double t = now();                                                                 \
    for (long k = 0; k < n; k++)                                                            \
      for (int i = 0; i < 12; i++) a[i] = FMA(a[i], b, c);                                  \
    const double d = now() - t;                                                             \
    float sink = 0;                                                                         \
    for (int i = 0; i < 12; i++) sink += REDUCE_LANE(a[i]);                                 \
    return sink == 12345.0f ? 0 : 12.0 * (double)n / (d * 1e9);                             \
  }
SC_PEAK_LOOP(peak8, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_cvtss_f32)
SC_PEAK_LOOP(peak16, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_cvtss_f32)
#undef SC_PEAK_LOOP

typedef void (*loop_fn)(const int32_t *, const float *, const float *, int, float *);

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s SPAN [ALIGN]\n", argv[0]);
    return 1;
  }
  const int span = atoi(argv[1]), align = argc > 2 ? atoi(argv[2]) : 0, n = 4096;
  if (span < 8) return 1;
  int32_t *idx = malloc(sizeof(int32_t) * n), *idx16 = malloc(sizeof(int32_t) * n);
  float *w = malloc(sizeof(float) * 2 * n), *in = aligned_alloc(64, sizeof(float) * ((size_t)span + 512));
  static float out[384];
  if (!idx || !idx16 || !w || !in) return 1;
  srand(1);
  for (int i = 0; i < n; i++) {
    idx[i] = idx16[i] = rand() % span;
    if (align) {
      idx[i] &= ~7;
      idx16[i] &= ~15;
    }
    w[2 * i] = w[2 * i + 1] = 1e-3f;
  }
  for (int i = 0; i < span + 512; i++) in[i] = 1e-3f;
  __builtin_cpu_init();
  const int kinds = __builtin_cpu_supports("avx512f") ? 4 : 2;
  {
    double best = 0;
    for (int r = 0; r < 20; r++) {
      const double rate = kinds == 4 ? peak16(2000000) : peak8(2000000);
      if (rate > best) best = rate;
    }
    printf("FMA peak (%d lanes, one core): %.2f FMA/ns, %.1f GFLOP/s\n", kinds == 4 ? 16 : 8, best,
           best * 2.0 * (kinds == 4 ? 16 : 8));
  }
  const loop_fn fn[4] = {single8, pair6, single16, pair12};
  const double fmas_per_pos[4] = {8.0, 12.0, 16.0, 24.0};
  const char *name[4] = {"single x8 (AVX2)    ", "pair x6 (AVX2)      ", "single x16 (AVX-512)",
                         "pair x12 (AVX-512)  "};
  for (int kind = 0; kind < kinds; kind++) {
    double best = 1e9;
    for (int r = 0; r < 200; r++) {
      const double t = now();
      for (int j = 0; j < 10; j++) fn[kind](kind < 2 ? idx : idx16, w, in, n, out);
      const double d = now() - t;
      if (d < best) best = d;
    }
    const double fmas = fmas_per_pos[kind] * n * 10;
    printf("%s span=%d floats align=%d: %.2f ns per position, %.2f FMA/ns\n", name[kind], span, align,
           best / (n * 10) * 1e9, fmas / (best * 1e9));
  }
  free(idx16);
  free(idx);
  free(w);
  free(in);
  return 0;
}
