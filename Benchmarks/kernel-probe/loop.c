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
 * Where the CPU has AVX-512 it also times the single and pair loops built
 * from aligned loads only (the engine's single_aligned / pair_aligned):
 * each vector put together from the two aligned vectors around it, by a
 * two-source permute or by valignd (positions sorted by p % 16, as the
 * engine sorts them).
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

/* single16 from aligned loads only: vector v of a position p = 16a + s is
   lanes [s, s + 16) of the aligned pair (A[a + v], A[a + v + 1]), put
   together by a two-source permute (one shuffle per vector, no line splits). */
__attribute__((noinline, target("avx512f"))) static void single16_perm(const int32_t *idx, const float *w,
                                                                   const float *in, int n, float *out) {
  __m512 acc[16];
  for (int v = 0; v < 16; v++) acc[v] = _mm512_setzero_ps();
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int k = 0; k < n; k++) {
    const float *p = in + (idx[k] & ~15);
    const __m512i sel = _mm512_add_epi32(iota, _mm512_set1_epi32(idx[k] & 15));
    const __m512 wv = _mm512_set1_ps(w[k]);
    __m512 lo = _mm512_load_ps(p);
    for (int v = 0; v < 16; v++) {
      const __m512 hi = _mm512_load_ps(p + 16 * (v + 1));
      acc[v] = _mm512_fmadd_ps(_mm512_permutex2var_ps(lo, sel, hi), wv, acc[v]);
      lo = hi;
    }
  }
  for (int v = 0; v < 16; v++) _mm512_storeu_ps(out + 16 * v, acc[v]);
}

/* The same with valignd: its shift is an immediate, so the positions come
   sorted by p % 16 (runs[s] of them) and each run has its own loop. */
#define SC_ALIGN_RUN(S)                                                                         \
  case S:                                                                                       \
    for (; k < end; k++) {                                                                      \
      const float *p = in + (idx[k] & ~15);                                                     \
      const __m512 wv = _mm512_set1_ps(w[k]);                                                   \
      __m512i lo = _mm512_castps_si512(_mm512_load_ps(p));                                      \
      for (int v = 0; v < 16; v++) {                                                            \
        const __m512i hi = _mm512_castps_si512(_mm512_load_ps(p + 16 * (v + 1)));               \
        acc[v] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_alignr_epi32(hi, lo, S)), wv, acc[v]); \
        lo = hi;                                                                                \
      }                                                                                         \
    }                                                                                           \
    break;
#define SC_ALIGN_PAIR_RUN(S)                                                                    \
  case S:                                                                                       \
    for (; k < end; k++) {                                                                      \
      const float *p = in + (idx[k] & ~15);                                                     \
      const __m512 w0 = _mm512_set1_ps(w[2 * k]), w1 = _mm512_set1_ps(w[2 * k + 1]);            \
      __m512i lo = _mm512_castps_si512(_mm512_load_ps(p));                                      \
      for (int v = 0; v < 12; v++) {                                                            \
        const __m512i hi = _mm512_castps_si512(_mm512_load_ps(p + 16 * (v + 1)));               \
        const __m512 x = _mm512_castsi512_ps(_mm512_alignr_epi32(hi, lo, S));                   \
        a0[v] = _mm512_fmadd_ps(x, w0, a0[v]);                                                  \
        a1[v] = _mm512_fmadd_ps(x, w1, a1[v]);                                                  \
        lo = hi;                                                                                \
      }                                                                                         \
    }                                                                                           \
    break;
static int sorted_runs[17];
__attribute__((noinline, target("avx512f"))) static void pair12_align(const int32_t *idx, const float *w,
                                                                  const float *in, int n, float *out) {
  (void)n;
  __m512 a0[12], a1[12];
  for (int v = 0; v < 12; v++) a0[v] = a1[v] = _mm512_setzero_ps();
  int k = 0;
  for (int s = 0; s < 16; s++) {
    const int end = sorted_runs[s + 1];
    switch (s) {
      SC_ALIGN_PAIR_RUN(0) SC_ALIGN_PAIR_RUN(1) SC_ALIGN_PAIR_RUN(2) SC_ALIGN_PAIR_RUN(3)
      SC_ALIGN_PAIR_RUN(4) SC_ALIGN_PAIR_RUN(5) SC_ALIGN_PAIR_RUN(6) SC_ALIGN_PAIR_RUN(7)
      SC_ALIGN_PAIR_RUN(8) SC_ALIGN_PAIR_RUN(9) SC_ALIGN_PAIR_RUN(10) SC_ALIGN_PAIR_RUN(11)
      SC_ALIGN_PAIR_RUN(12) SC_ALIGN_PAIR_RUN(13) SC_ALIGN_PAIR_RUN(14) SC_ALIGN_PAIR_RUN(15)
    }
  }
  for (int v = 0; v < 12; v++) {
    _mm512_storeu_ps(out + 16 * v, a0[v]);
    _mm512_storeu_ps(out + 192 + 16 * v, a1[v]);
  }
}
#undef SC_ALIGN_PAIR_RUN
__attribute__((noinline, target("avx512f"))) static void single16_align(const int32_t *idx, const float *w,
                                                                    const float *in, int n, float *out) {
  (void)n;
  __m512 acc[16];
  for (int v = 0; v < 16; v++) acc[v] = _mm512_setzero_ps();
  int k = 0;
  for (int s = 0; s < 16; s++) {
    const int end = sorted_runs[s + 1];
    switch (s) {
      SC_ALIGN_RUN(0) SC_ALIGN_RUN(1) SC_ALIGN_RUN(2) SC_ALIGN_RUN(3) SC_ALIGN_RUN(4) SC_ALIGN_RUN(5)
      SC_ALIGN_RUN(6) SC_ALIGN_RUN(7) SC_ALIGN_RUN(8) SC_ALIGN_RUN(9) SC_ALIGN_RUN(10) SC_ALIGN_RUN(11)
      SC_ALIGN_RUN(12) SC_ALIGN_RUN(13) SC_ALIGN_RUN(14) SC_ALIGN_RUN(15)
    }
  }
  for (int v = 0; v < 16; v++) _mm512_storeu_ps(out + 16 * v, acc[v]);
}
#undef SC_ALIGN_RUN

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
  /* positions sorted by p % 16 for single16_align */
  int32_t *idx_sorted = malloc(sizeof(int32_t) * n);
  if (!idx_sorted) return 1;
  {
    int k = 0;
    for (int sft = 0; sft < 16; sft++) {
      sorted_runs[sft] = k;
      for (int i = 0; i < n; i++)
        if ((idx[i] & 15) == sft) idx_sorted[k++] = idx[i];
    }
    sorted_runs[16] = k;
  }
  const int kinds_all = kinds == 4 ? 7 : 2;
  const loop_fn fn[7] = {single8, pair6, single16, pair12, single16_perm, single16_align, pair12_align};
  const double fmas_per_pos[7] = {8.0, 12.0, 16.0, 24.0, 16.0, 16.0, 24.0};
  const char *name[7] = {"single x8 (AVX2)    ", "pair x6 (AVX2)      ", "single x16 (AVX-512)",
                         "pair x12 (AVX-512)  ", "single x16 permute  ", "single x16 valignd  ",
                         "pair x12 valignd    "};
  for (int kind = 0; kind < kinds_all; kind++) {
    double best = 1e9;
    for (int r = 0; r < 200; r++) {
      const double t = now();
      for (int j = 0; j < 10; j++)
        fn[kind](kind < 2 ? idx : kind < 4 ? idx16 : kind == 4 ? idx : idx_sorted, w, in, n, out);
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
