// Data movement around the wasm backend's convolution matmuls (lib/backend/wasm/conv.ts), the
// pooling gradients (lib/backend/wasm/pool_grad.ts) and the bias gradient of a conv layer
// (lib/backend/wasm/bias_grad.ts), in wasm SIMD, on tensors in place in tfjs's heap. The same loops in JS took 4-8 ns a value: a 2x2 max-pool gradient of a [128,28,28,16]
// batch 12 ms (a compare per value that no branch predictor guesses), a patch matrix of a
// [128,14,14,16] batch 7 ms.
//
// Layouts are NHWC. A patch row is (kh, kw, c), the row order of a [kh, kw, cIn, cOut] filter read
// as a [kh*kw*cIn, cOut] matrix. Dilation 1. Like native/gemm.c, no function here uses the shadow
// stack or static data: the module owns no memory, only tfjs's heap that it imports.
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

typedef unsigned int u32;
typedef int i32;

static inline i32 max_i(i32 a, i32 b) { return a > b ? a : b; }
static inline i32 min_i(i32 a, i32 b) { return a < b ? a : b; }

static inline void copy(float* d, const float* s, u32 n) {
  u32 i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(d + i, wasm_v128_load(s + i));
  for (; i < n; i++) d[i] = s[i];
}

static inline void zero(float* d, u32 n) {
  const v128_t z = wasm_f32x4_splat(0.0f);
  u32 i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(d + i, z);
  for (; i < n; i++) d[i] = 0.0f;
}

// d[i] += s[i] * scale
static inline void add_scaled(float* d, const float* s, float scale, u32 n) {
  const v128_t k = wasm_f32x4_splat(scale);
  u32 i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(d + i, wasm_f32x4_add(wasm_v128_load(d + i), wasm_f32x4_mul(wasm_v128_load(s + i), k)));
  for (; i < n; i++) d[i] += s[i] * scale;
}

static inline void add(float* d, const float* s, u32 n) {
  u32 i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(d + i, wasm_f32x4_add(wasm_v128_load(d + i), wasm_v128_load(s + i)));
  for (; i < n; i++) d[i] += s[i];
}

// Rows [r0, r1) of cols[N*OH*OW, KH*KW*C]: each output pixel's input patch, zeros over the padding.
// The taps of one filter row that fall inside the image are one contiguous run of the input row.
// `cols` is the whole matrix; a caller may build it a block of rows at a time.
EXPORT(im2col)
void im2col(const float* x, float* cols, u32 H, u32 W, u32 C, u32 OH, u32 OW, u32 KH, u32 KW, u32 SH, u32 SW,
            i32 pad_top, i32 pad_left, u32 r0, u32 r1) {
  const u32 run = KW * C;
  float* d = cols + r0 * KH * run;
  // The pixel of row r0, then counted up: a division per row cost more than a 3x3x1 patch's copy.
  u32 ow = r0 % OW, oh = (r0 / OW) % OH, n = r0 / (OW * OH);
  for (u32 row = r0; row < r1; row++) {
    const i32 ih0 = (i32)(oh * SH) - pad_top, iw0 = (i32)(ow * SW) - pad_left;
    const i32 lo = max_i(0, -iw0), hi = min_i((i32)KW, (i32)W - iw0);
    for (u32 kh = 0; kh < KH; kh++, d += run) {
      const i32 ih = ih0 + (i32)kh;
      if (ih < 0 || ih >= (i32)H || lo >= hi) {
        zero(d, run);
        continue;
      }
      zero(d, (u32)lo * C);
      copy(d + lo * C, x + ((n * H + (u32)ih) * W + (u32)(iw0 + lo)) * C, (u32)(hi - lo) * C);
      zero(d + hi * C, (u32)((i32)KW - hi) * C);
    }
    if (++ow == OW) {
      ow = 0;
      if (++oh == OH) oh = 0, n++;
    }
  }
}

// dx[N, H, W, C] += im2col's adjoint of rows [r0, r1) of cols: each entry added onto the pixel it
// was read from. `cols` points at row r0 (a block of rows, not the whole matrix): the caller zeroes
// dx, then folds the matrix back a block at a time, each while the block is still in cache.
EXPORT(col2im)
void col2im(const float* cols, float* dx, u32 H, u32 W, u32 C, u32 OH, u32 OW, u32 KH, u32 KW, u32 SH, u32 SW,
            i32 pad_top, i32 pad_left, u32 r0, u32 r1) {
  const u32 run = KW * C;
  const float* s = cols;
  u32 ow = r0 % OW, oh = (r0 / OW) % OH, n = r0 / (OW * OH);
  for (u32 row = r0; row < r1; row++) {
    const i32 ih0 = (i32)(oh * SH) - pad_top, iw0 = (i32)(ow * SW) - pad_left;
    const i32 lo = max_i(0, -iw0), hi = min_i((i32)KW, (i32)W - iw0);
    for (u32 kh = 0; kh < KH; kh++, s += run) {
      const i32 ih = ih0 + (i32)kh;
      if (ih < 0 || ih >= (i32)H || lo >= hi) continue;
      add(dx + ((n * H + (u32)ih) * W + (u32)(iw0 + lo)) * C, s + lo * C, (u32)(hi - lo) * C);
    }
    if (++ow == OW) {
      ow = 0;
      if (++oh == OH) oh = 0, n++;
    }
  }
}

// dst[0, n) = 0.
EXPORT(fill_zero)
void fill_zero(float* dst, u32 n) { zero(dst, n); }

// dx[N, H, W, C] = 0, then dy of each [FH, FW] window added onto its maximum, per channel: the
// first largest pixel in row-major order, as tfjs's cpu kernel picks it (after a relu many windows
// tie at 0). A window of NaNs has no maximum and passes nothing on.
EXPORT(max_pool_grad)
void max_pool_grad(const float* x, const float* dy, float* dx, u32 N, u32 H, u32 W, u32 C, u32 OH, u32 OW, u32 FH, u32 FW,
                   u32 SH, u32 SW, i32 pad_top, i32 pad_left) {
  zero(dx, N * H * W * C);
  const u32 c4 = C & ~3u;
  const v128_t lanes = wasm_i32x4_make(0, 1, 2, 3);
  const float* g = dy;
  for (u32 n = 0; n < N; n++) {
    for (u32 oh = 0; oh < OH; oh++) {
      const i32 r0 = max_i(0, (i32)(oh * SH) - pad_top), r1 = min_i((i32)H, (i32)(oh * SH) - pad_top + (i32)FH);
      for (u32 ow = 0; ow < OW; ow++, g += C) {
        const i32 q0 = max_i(0, (i32)(ow * SW) - pad_left), q1 = min_i((i32)W, (i32)(ow * SW) - pad_left + (i32)FW);
        for (u32 c = 0; c < c4; c += 4) {
          v128_t best = wasm_f32x4_splat(-__builtin_inff());
          v128_t at = wasm_i32x4_splat(-1);
          for (i32 r = r0; r < r1; r++) {
            for (i32 q = q0; q < q1; q++) {
              const u32 p = ((n * H + (u32)r) * W + (u32)q) * C + c;
              const v128_t v = wasm_v128_load(x + p);
              const v128_t gt = wasm_f32x4_gt(v, best);
              best = wasm_v128_bitselect(v, best, gt);
              at = wasm_v128_bitselect(wasm_i32x4_add(wasm_i32x4_splat((i32)p), lanes), at, gt);
            }
          }
          // Scalar adds: overlapping windows may share a maximum.
          const i32 a0 = wasm_i32x4_extract_lane(at, 0), a1 = wasm_i32x4_extract_lane(at, 1);
          const i32 a2 = wasm_i32x4_extract_lane(at, 2), a3 = wasm_i32x4_extract_lane(at, 3);
          if (a0 >= 0) dx[a0] += g[c];
          if (a1 >= 0) dx[a1] += g[c + 1];
          if (a2 >= 0) dx[a2] += g[c + 2];
          if (a3 >= 0) dx[a3] += g[c + 3];
        }
        for (u32 c = c4; c < C; c++) {
          float best = -__builtin_inff();
          i32 at = -1;
          for (i32 r = r0; r < r1; r++) {
            for (i32 q = q0; q < q1; q++) {
              const u32 p = ((n * H + (u32)r) * W + (u32)q) * C + c;
              if (x[p] > best) {
                best = x[p];
                at = (i32)p;
              }
            }
          }
          if (at >= 0) dx[at] += g[c];
        }
      }
    }
  }
}

// dx[N, H, W, C] = 0, then dy of each [FH, FW] window times `scale` added onto each of its pixels
// inside the image (tfjs divides by the full window size, padding included).
EXPORT(avg_pool_grad)
void avg_pool_grad(const float* dy, float* dx, u32 N, u32 H, u32 W, u32 C, u32 OH, u32 OW, u32 FH, u32 FW, u32 SH, u32 SW,
                   i32 pad_top, i32 pad_left, float scale) {
  zero(dx, N * H * W * C);
  const float* g = dy;
  for (u32 n = 0; n < N; n++) {
    for (u32 oh = 0; oh < OH; oh++) {
      const i32 r0 = max_i(0, (i32)(oh * SH) - pad_top), r1 = min_i((i32)H, (i32)(oh * SH) - pad_top + (i32)FH);
      for (u32 ow = 0; ow < OW; ow++, g += C) {
        const i32 q0 = max_i(0, (i32)(ow * SW) - pad_left), q1 = min_i((i32)W, (i32)(ow * SW) - pad_left + (i32)FW);
        for (i32 r = r0; r < r1; r++) {
          for (i32 q = q0; q < q1; q++) add_scaled(dx + ((n * H + (u32)r) * W + (u32)q) * C, g, scale, C);
        }
      }
    }
  }
}

// out[C] = the sums of the columns of x[rows, C]: a per-channel bias's gradient, summed over batch,
// height and width. tfjs-backend-wasm transposes such a reduction to make its axes innermost first.
// Partial sums over blocks of 256 rows keep float32's rounding error small on long columns.
EXPORT(sum_rows)
void sum_rows(const float* x, float* out, u32 rows, u32 C) {
  zero(out, C);
  const u32 c4 = C & ~3u;
  for (u32 r0 = 0; r0 < rows; r0 += 256) {
    const u32 r1 = r0 + 256 < rows ? r0 + 256 : rows;
    for (u32 c = 0; c < c4; c += 4) {
      v128_t acc = wasm_f32x4_splat(0.0f);
      for (u32 r = r0; r < r1; r++) acc = wasm_f32x4_add(acc, wasm_v128_load(x + r * C + c));
      wasm_v128_store(out + c, wasm_f32x4_add(wasm_v128_load(out + c), acc));
    }
    for (u32 c = c4; c < C; c++) {
      float acc = 0.0f;
      for (u32 r = r0; r < r1; r++) acc += x[r * C + c];
      out[c] += acc;
    }
  }
}
