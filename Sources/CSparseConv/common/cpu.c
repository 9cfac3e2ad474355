/* CPU feature detection, instruction-set names, aligned memory, threads. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#if SC_X86
#include <cpuid.h>
#endif

static bool cpu_has_avx2(void) {
#if SC_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

static bool cpu_has_avx512(void) {
#if SC_X86
  __builtin_cpu_init();
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq");
#else
  return false;
#endif
}

#if SC_X86
/* The CPUID vendor string (leaf 0: EBX, EDX, ECX) equals id, 12 chars. */
static bool cpu_vendor_is(const char *id) {
  unsigned int a, regs[3];
  if (!__get_cpuid(0, &a, &regs[0], &regs[2], &regs[1])) return false;
  return memcmp(regs, id, 12) == 0;
}
#endif

/* CPUID traps to the hypervisor in a virtual machine (microseconds each on
   a cloud host): each answer below is computed once, then read. A race
   computes the same value twice. */
#define SC_CPU_ONCE(fn)                                                   \
  bool fn(void) {                                                       \
    static int cached = -1;                                             \
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);                 \
    if (v < 0) {                                                        \
      v = fn##_detect();                                                \
      __atomic_store_n(&cached, v, __ATOMIC_RELAXED);                   \
    }                                                                   \
    return v != 0;                                                      \
  }

static bool sc_cpu_avx512_halves_detect(void) {
#if SC_X86
  unsigned int a, b, c, d;
  if (!cpu_has_avx512() || !cpu_vendor_is("AuthenticAMD") || !__get_cpuid(1, &a, &b, &c, &d))
    return false;
  const unsigned int family = ((a >> 8) & 0xFu) + ((a >> 20) & 0xFFu);
  return family == 0x19u; /* Zen 4; Zen 5 (1Ah) runs them at full width */
#else
  return false;
#endif
}

SC_CPU_ONCE(sc_cpu_avx512_halves)

static bool sc_cpu_avx2_halves_detect(void) {
#if SC_X86
  unsigned int a, b, c, d;
  if (!cpu_has_avx2() || !cpu_vendor_is("AuthenticAMD") || !__get_cpuid(1, &a, &b, &c, &d))
    return false;
  const unsigned int family = ((a >> 8) & 0xFu) + ((a >> 20) & 0xFFu);
  const unsigned int model = ((a >> 4) & 0xFu) | (((a >> 16) & 0xFu) << 4);
  return family == 0x17u && model < 0x30u; /* Zen 1 and Zen+; Zen 2 (30h+) is full width */
#else
  return false;
#endif
}

SC_CPU_ONCE(sc_cpu_avx2_halves)

static bool sc_cpu_intel_avx512_detect(void) {
#if SC_X86
  return cpu_has_avx512() && cpu_vendor_is("GenuineIntel");
#else
  return false;
#endif
}
SC_CPU_ONCE(sc_cpu_intel_avx512)

/* SPARSECONV_MAX_ISA=scalar|avx2|avx512 caps what AUTO picks: a way to check
   the slower variants of a whole program without rebuilding it. */
static sc_isa env_cap(void) {
  const char *v = getenv("SPARSECONV_MAX_ISA");
  if (!v) return SC_ISA_AVX512;
  if (strcmp(v, "scalar") == 0) return SC_ISA_SCALAR;
  if (strcmp(v, "avx2") == 0) return SC_ISA_AVX2;
  return SC_ISA_AVX512;
}

sc_isa sc_cpu_isa(void) {
  sc_isa best = cpu_has_avx512() ? SC_ISA_AVX512 : cpu_has_avx2() ? SC_ISA_AVX2 : SC_ISA_SCALAR;
  sc_isa cap = env_cap();
  return best < cap ? best : cap;
}

bool sc_isa_supported(sc_isa isa) {
  switch (isa) {
  case SC_ISA_SCALAR: return true;
  case SC_ISA_AVX2: return cpu_has_avx2();
  case SC_ISA_AVX512: return cpu_has_avx512();
  default: return false;
  }
}

const char *sc_isa_name(sc_isa isa) {
  switch (isa) {
  case SC_ISA_AUTO: return "auto";
  case SC_ISA_SCALAR: return "scalar";
  case SC_ISA_AVX2: return "avx2";
  case SC_ISA_AVX512: return "avx512";
  }
  return "unknown";
}

const char *sc_cpu_name(void) {
#if SC_X86
  static char name[49];
  static int done = 0;
  if (!done) {
    unsigned int regs[12];
    unsigned int max_ext = __get_cpuid_max(0x80000000u, NULL);
    if (max_ext >= 0x80000004u) {
      for (unsigned int i = 0; i < 3; i++)
        __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
      memcpy(name, regs, 48);
      name[48] = 0;
      char *s = name; /* trim leading and trailing blanks */
      while (*s == ' ') s++;
      memmove(name, s, strlen(s) + 1);
      for (size_t n = strlen(name); n > 0 && name[n - 1] == ' '; n--) name[n - 1] = 0;
    } else {
      strcpy(name, "unknown");
    }
    done = 1;
  }
  return name;
#else
  return "unknown";
#endif
}

int sc_openmp_enabled(void) {
#ifdef _OPENMP
  return 1;
#else
  return 0;
#endif
}

int32_t sc_default_threads(void) {
#ifdef _OPENMP
  return (int32_t)omp_get_max_threads();
#else
  return 1;
#endif
}

int sc_bind_threads(void) {
#ifdef _OPENMP
  /* Unbound, some processes on the 2-core Zen 4 machines ran the team's
     two threads one after the other on every run, for the life of the
     process: kernel probe, 3x3 256@14 channel-level 90 %, 0.135 ms per run
     took 0.30 in 7 of 16 processes (about 0.17 ms added per run); in
     interleaved pairs during a slow phase of the host, 6 of 12 unbound
     processes added 0.083 ms per run, 0 of 12 bound ones. Bound one per
     core, 0 of 32 processes did. The user's own settings win. */
  if (getenv("OMP_PROC_BIND") || getenv("OMP_PLACES")) return 0;
  return setenv("OMP_PROC_BIND", "spread", 0) == 0 && setenv("OMP_PLACES", "cores", 0) == 0;
#else
  return 0;
#endif
}

const char *sc_thread_binding(void) {
#ifdef _OPENMP
  switch (omp_get_proc_bind()) {
  case omp_proc_bind_false: return "false";
  case omp_proc_bind_true: return "true";
  case omp_proc_bind_close: return "close";
  case omp_proc_bind_spread: return "spread";
  default: return "primary";
  }
#else
  return "none";
#endif
}

int32_t sc_resolve_threads(int32_t threads) {
  if (threads <= 0) return sc_default_threads();
#ifndef _OPENMP
  return 1;
#else
  return threads;
#endif
}

void *sc_aligned_alloc(size_t bytes) {
  if (bytes == 0) bytes = SC_ALIGNMENT;
  if (bytes > SIZE_MAX - SC_ALIGNMENT) return NULL;
  void *p = NULL;
  if (posix_memalign(&p, SC_ALIGNMENT, sc_round_up(bytes)) != 0) return NULL;
  return p;
}

void *sc_aligned_calloc(size_t bytes) {
  void *p = sc_aligned_alloc(bytes);
  if (p) memset(p, 0, bytes);
  return p;
}

void sc_aligned_free(void *p) { free(p); }
