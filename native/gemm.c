// Dense-layer matmuls for the wasm backend, in wasm SIMD, on tensors in place in tfjs's heap.
//
// XNNPACK (inside tfjs-backend-wasm) first packs the right-hand matrix into its own layout on
// every call, and tfjs re-creates that packing whenever the matrix is a new tensor: during
// training every weight matrix is new at every step, so a third of the main thread's time went to
// packing. These kernels read both operands as they lie, in the three layouts a dense layer needs:
//   nn: C[M,N] = A[M,K] . B[K,N]            forward      (x . W)
//   tn: C[M,N] = A[K,M]^T . B[K,N]          weight grad  (x^T . dy)
//   nt: C[M,N] = A[M,K] . B[N,K]^T          input grad   (dy . W^T)
// each with an optional bias[N] and relu on the output. Each call computes the rows [m0, m1) of C,
// so that several threads can share one product. No function here uses the shadow stack or any
// static data: the module owns no memory of its own, only tfjs's heap that it imports.
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

typedef unsigned int u32;

// K is walked in blocks so that the slice of B a block of 8 columns reads stays in L1.
#define KC 256

// acc + a*b. With GEMM_FMA, one fused multiply-add (wasm relaxed SIMD's f32x4.relaxed_madd, which
// clang 14 still spells f32x4.fma under an older opcode: native/build.sh renumbers it).
#ifdef GEMM_FMA
#define MADD(acc, a, b) __builtin_wasm_fma_f32x4((a), (b), (acc))
#else
#define MADD(acc, a, b) wasm_f32x4_add((acc), wasm_f32x4_mul((a), (b)))
#endif

static inline v128_t relu4(v128_t v) { return wasm_f32x4_max(v, wasm_f32x4_splat(0.0f)); }

// Scalar edges: columns past the last multiple of 8, or rows past the last multiple of 4.
static void nn_edge(const float* a, u32 lda, u32 am, u32 ak, const float* b, u32 ldb, const float* bias,
                    float* c, u32 ldc, u32 m0, u32 m1, u32 n0, u32 n1, u32 K, int relu) {
  for (u32 i = m0; i < m1; i++) {
    for (u32 j = n0; j < n1; j++) {
      float s = bias ? bias[j] : 0.0f;
      for (u32 k = 0; k < K; k++) s += a[i * am + k * ak] * b[k * ldb + j];
      c[i * ldc + j] = relu && s < 0.0f ? 0.0f : s;
    }
  }
  (void)lda;
}

// C rows [m0,m1) = op(A) . B (+bias)(relu), where op(A)[i,k] = a[i*am + k*ak]: am=K, ak=1 for nn,
// am=1, ak=M for tn. B is row-major [K,N].
static void gemm_b_rows(const float* a, u32 am, u32 ak, const float* b, const float* bias, float* c,
                        u32 m0, u32 m1, u32 K, u32 N, int relu) {
  const u32 n8 = N & ~7u;
  const u32 mr = m0 + ((m1 - m0) & ~3u);
  for (u32 kc = 0; kc < K; kc += KC) {
    const u32 kend = kc + KC < K ? kc + KC : K;
    const int first = kc == 0, last = kend == K;
    for (u32 j = 0; j < n8; j += 8) {
      for (u32 i = m0; i < mr; i += 4) {
        v128_t c00, c01, c10, c11, c20, c21, c30, c31;
        if (first) {
          if (bias) {
            c00 = c10 = c20 = c30 = wasm_v128_load(bias + j);
            c01 = c11 = c21 = c31 = wasm_v128_load(bias + j + 4);
          } else {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = wasm_f32x4_splat(0.0f);
          }
        } else {
          c00 = wasm_v128_load(c + (i + 0) * N + j); c01 = wasm_v128_load(c + (i + 0) * N + j + 4);
          c10 = wasm_v128_load(c + (i + 1) * N + j); c11 = wasm_v128_load(c + (i + 1) * N + j + 4);
          c20 = wasm_v128_load(c + (i + 2) * N + j); c21 = wasm_v128_load(c + (i + 2) * N + j + 4);
          c30 = wasm_v128_load(c + (i + 3) * N + j); c31 = wasm_v128_load(c + (i + 3) * N + j + 4);
        }
        const float* ap = a + i * am;
        const float* bp = b + j;
        if (ak == 1) {
          for (u32 k = kc; k < kend; k++) {
            const v128_t b0 = wasm_v128_load(bp + k * N), b1 = wasm_v128_load(bp + k * N + 4);
            v128_t x;
            x = wasm_v128_load32_splat(ap + k);
            c00 = MADD(c00, x, b0); c01 = MADD(c01, x, b1);
            x = wasm_v128_load32_splat(ap + am + k);
            c10 = MADD(c10, x, b0); c11 = MADD(c11, x, b1);
            x = wasm_v128_load32_splat(ap + 2 * am + k);
            c20 = MADD(c20, x, b0); c21 = MADD(c21, x, b1);
            x = wasm_v128_load32_splat(ap + 3 * am + k);
            c30 = MADD(c30, x, b0); c31 = MADD(c31, x, b1);
          }
        } else {
          // tn: the 4 rows' values at k are adjacent in A.
          for (u32 k = kc; k < kend; k++) {
            const v128_t b0 = wasm_v128_load(bp + k * N), b1 = wasm_v128_load(bp + k * N + 4);
            const v128_t av = wasm_v128_load(ap + k * ak);
            v128_t x;
            x = wasm_i32x4_shuffle(av, av, 0, 0, 0, 0);
            c00 = MADD(c00, x, b0); c01 = MADD(c01, x, b1);
            x = wasm_i32x4_shuffle(av, av, 1, 1, 1, 1);
            c10 = MADD(c10, x, b0); c11 = MADD(c11, x, b1);
            x = wasm_i32x4_shuffle(av, av, 2, 2, 2, 2);
            c20 = MADD(c20, x, b0); c21 = MADD(c21, x, b1);
            x = wasm_i32x4_shuffle(av, av, 3, 3, 3, 3);
            c30 = MADD(c30, x, b0); c31 = MADD(c31, x, b1);
          }
        }
        if (last && relu) {
          c00 = relu4(c00); c01 = relu4(c01); c10 = relu4(c10); c11 = relu4(c11);
          c20 = relu4(c20); c21 = relu4(c21); c30 = relu4(c30); c31 = relu4(c31);
        }
        wasm_v128_store(c + (i + 0) * N + j, c00); wasm_v128_store(c + (i + 0) * N + j + 4, c01);
        wasm_v128_store(c + (i + 1) * N + j, c10); wasm_v128_store(c + (i + 1) * N + j + 4, c11);
        wasm_v128_store(c + (i + 2) * N + j, c20); wasm_v128_store(c + (i + 2) * N + j + 4, c21);
        wasm_v128_store(c + (i + 3) * N + j, c30); wasm_v128_store(c + (i + 3) * N + j + 4, c31);
      }
    }
  }
  // The edges, whole (all of K at once).
  if (mr < m1) nn_edge(a, 0, am, ak, b, N, bias, c, N, mr, m1, 0, n8, K, relu);
  if (n8 < N) nn_edge(a, 0, am, ak, b, N, bias, c, N, m0, m1, n8, N, K, relu);
}

EXPORT(gemm_nn)
void gemm_nn(const float* a, const float* b, const float* bias, float* c, u32 M, u32 K, u32 N, u32 m0, u32 m1, int relu) {
  (void)M;
  gemm_b_rows(a, K, 1, b, bias, c, m0, m1, K, N, relu);
}

EXPORT(gemm_tn)
void gemm_tn(const float* a, const float* b, const float* bias, float* c, u32 M, u32 K, u32 N, u32 m0, u32 m1, int relu) {
  gemm_b_rows(a, 1, M, b, bias, c, m0, m1, K, N, relu);
}

// dst[cols,rows] = src[rows,cols]^T, for nt products whose shared dimension is too short for dot
// products to pay (they then run as nn on B transposed).
EXPORT(transpose)
void transpose(const float* src, float* dst, u32 rows, u32 cols) {
  for (u32 i = 0; i < rows; i++)
    for (u32 j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
}

static inline float hsum(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) +
         wasm_f32x4_extract_lane(v, 3);
}

// nt: every C element is a dot product of a row of A and a row of B, both contiguous. A block of
// 2 rows x 4 columns shares its loads; K is summed 4 lanes at a time, the tail one by one.
static inline float finish(float s, const float* bias, u32 j, int relu) {
  if (bias) s += bias[j];
  return relu && s < 0.0f ? 0.0f : s;
}

EXPORT(gemm_nt)
void gemm_nt(const float* a, const float* b, const float* bias, float* c, u32 M, u32 K, u32 N, u32 m0, u32 m1, int relu) {
  (void)M;
  const u32 k4 = K & ~3u;
  const u32 n4 = N & ~3u;
  u32 i = m0;
  for (; i + 2 <= m1; i += 2) {
    const float* a0 = a + i * K;
    const float* a1 = a0 + K;
    u32 j = 0;
    for (; j < n4; j += 4) {
      const float* b0 = b + j * K;
      const float* b1 = b0 + K;
      const float* b2 = b1 + K;
      const float* b3 = b2 + K;
      v128_t s00 = wasm_f32x4_splat(0.0f), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00, s13 = s00;
      for (u32 k = 0; k < k4; k += 4) {
        const v128_t x0 = wasm_v128_load(a0 + k), x1 = wasm_v128_load(a1 + k);
        v128_t y;
        y = wasm_v128_load(b0 + k); s00 = MADD(s00, x0, y); s10 = MADD(s10, x1, y);
        y = wasm_v128_load(b1 + k); s01 = MADD(s01, x0, y); s11 = MADD(s11, x1, y);
        y = wasm_v128_load(b2 + k); s02 = MADD(s02, x0, y); s12 = MADD(s12, x1, y);
        y = wasm_v128_load(b3 + k); s03 = MADD(s03, x0, y); s13 = MADD(s13, x1, y);
      }
      float r[8] = {hsum(s00), hsum(s01), hsum(s02), hsum(s03), hsum(s10), hsum(s11), hsum(s12), hsum(s13)};
      for (u32 k = k4; k < K; k++) {
        r[0] += a0[k] * b0[k]; r[1] += a0[k] * b1[k]; r[2] += a0[k] * b2[k]; r[3] += a0[k] * b3[k];
        r[4] += a1[k] * b0[k]; r[5] += a1[k] * b1[k]; r[6] += a1[k] * b2[k]; r[7] += a1[k] * b3[k];
      }
      float* c0 = c + i * N + j;
      float* c1 = c0 + N;
      for (u32 q = 0; q < 4; q++) {
        c0[q] = finish(r[q], bias, j + q, relu);
        c1[q] = finish(r[4 + q], bias, j + q, relu);
      }
    }
    for (; j < N; j++) {
      const float* bj = b + j * K;
      float s0 = 0.0f, s1 = 0.0f;
      for (u32 k = 0; k < K; k++) { s0 += a0[k] * bj[k]; s1 += a1[k] * bj[k]; }
      c[i * N + j] = finish(s0, bias, j, relu);
      c[(i + 1) * N + j] = finish(s1, bias, j, relu);
    }
  }
  for (; i < m1; i++) {
    const float* ai = a + i * K;
    for (u32 j = 0; j < N; j++) {
      const float* bj = b + j * K;
      float s = 0.0f;
      for (u32 k = 0; k < K; k++) s += ai[k] * bj[k];
      c[i * N + j] = finish(s, bias, j, relu);
    }
  }
}
