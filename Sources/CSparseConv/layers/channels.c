/*
 * Layout layers: concatenation along channels and channel shuffle. Both are
 * copies of contiguous channel planes (hw floats, or channels*hw for a concat
 * input), done with memcpy, which is already the fastest copy the C library
 * has for this CPU. Large copies are split across threads by output element,
 * so a few big planes still balance.
 */
#include "layers_internal.h"

#include <string.h>

/* ------------------------------------------------------------------ concat */

typedef struct concat_ctx {
  int32_t count_inputs;
  const float *const *inputs;
  const int32_t *channels;
  int64_t hw, out_per_image; /* total channels * hw */
  int64_t total;             /* n * out_per_image */
  float *out;
} concat_ctx;

/* Copies output elements [b, e) (b, e in units of 16 floats). */
static void concat_range(const void *vctx, int64_t b, int64_t e) {
  const concat_ctx *c = (const concat_ctx *)vctx;
  int64_t i = b * 16, end = SC_MIN(e * 16, c->total);
  while (i < end) {
    int64_t img = i / c->out_per_image;
    int64_t pos = i - img * c->out_per_image; /* inside the output image */
    /* find the input holding pos */
    int64_t start = 0;
    int32_t k = 0;
    for (; k < c->count_inputs; k++) {
      int64_t len = (int64_t)c->channels[k] * c->hw;
      if (pos < start + len) break;
      start += len;
    }
    int64_t len = (int64_t)c->channels[k] * c->hw;
    int64_t off = pos - start;
    int64_t n = SC_MIN(len - off, end - i);
    memcpy(c->out + i, c->inputs[k] + img * len + off, (size_t)n * sizeof(float));
    i += n;
  }
}

sc_status sc_concat_channels(int32_t n, int32_t count_inputs, const float *const *inputs,
                             const int32_t *channels, int64_t hw, float *out,
                             int32_t threads) {
  if (n <= 0 || count_inputs <= 0 || !inputs || !channels || hw <= 0 || !out || threads < 0)
    return SC_INVALID_ARGUMENT;
  int64_t total_c = 0;
  for (int32_t k = 0; k < count_inputs; k++) {
    if (channels[k] < 0) return SC_INVALID_ARGUMENT;
    if (channels[k] > 0 && !inputs[k]) return SC_INVALID_ARGUMENT;
    total_c += channels[k]; /* <= 2^31 * 2^31: no overflow */
  }
  if (total_c <= 0) return SC_INVALID_ARGUMENT;
  int64_t total;
  if (!sc_layers_elems(&total, n, total_c, hw, 1)) return SC_SIZE_OVERFLOW;
  concat_ctx ctx = {count_inputs, inputs, channels, hw, total_c * hw, total, out};
  int64_t pieces = (total + 15) / 16;
  /* a copy moves 8 bytes per element: parallel from half the usual size */
  sc_lay_parallel(sc_layers_threads(threads, 2 * total, pieces), pieces, concat_range, &ctx);
  return SC_OK;
}

/* ----------------------------------------------------------------- shuffle */

typedef struct shuffle_ctx {
  int32_t c, groups, cpg;
  int64_t hw, total;
  const float *in;
  float *out;
} shuffle_ctx;

static void shuffle_range(const void *vctx, int64_t b, int64_t e) {
  const shuffle_ctx *c = (const shuffle_ctx *)vctx;
  int64_t i = b * 16, end = SC_MIN(e * 16, c->total);
  while (i < end) {
    int64_t oplane = i / c->hw; /* img * c + oc */
    int64_t pos = i - oplane * c->hw;
    int64_t img = oplane / c->c;
    int32_t oc = (int32_t)(oplane - img * c->c);
    int32_t j = oc / c->groups, g = oc % c->groups;
    int64_t iplane = img * c->c + (int64_t)g * c->cpg + j;
    int64_t n = SC_MIN(c->hw - pos, end - i);
    memcpy(c->out + i, c->in + iplane * c->hw + pos, (size_t)n * sizeof(float));
    i += n;
  }
}

sc_status sc_channel_shuffle(int32_t n, int32_t c, int32_t groups, int64_t hw, const float *in,
                             float *out, int32_t threads) {
  if (n <= 0 || c <= 0 || groups <= 0 || hw <= 0 || !in || !out || threads < 0 ||
      c % groups != 0)
    return SC_INVALID_ARGUMENT;
  int64_t total;
  if (!sc_layers_elems(&total, n, c, hw, 1)) return SC_SIZE_OVERFLOW;
  uintptr_t i0 = (uintptr_t)in, o0 = (uintptr_t)out, bytes = (uintptr_t)total * sizeof(float);
  if (i0 < o0 + bytes && o0 < i0 + bytes) return SC_INVALID_ARGUMENT; /* overlap */
  shuffle_ctx ctx = {c, groups, c / groups, hw, total, in, out};
  int64_t pieces = (total + 15) / 16;
  sc_lay_parallel(sc_layers_threads(threads, 2 * total, pieces), pieces, shuffle_range, &ctx);
  return SC_OK;
}
