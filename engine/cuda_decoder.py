"""The decoder's layers for one generation step (T = 1) on CUDA: one kernel for the whole step.

MLX on CUDA spends ~20 µs of host time on every operation it dispatches, so a step built from ~13 MLX
operations per layer is bound by dispatch, not by the GPU (bench/profile-h200.md); a kernel per layer still
cost ~90 µs of host time each (its inputs). This kernel runs every layer — three layer norms, the q/k/v,
output, cross-attention and feed-forward matmuls, both attentions and the KV-cache write — as phases
separated by grid-wide barriers. One block per SM keeps every block resident, which the barriers need; one
SM in 32 is left to the other streams (the codec's thread, a new prompt's T5), whose kernels would
otherwise wait for the whole step (streaming small, H200: +9 % over the step alone with every SM, +3 %
with 4 of 132 left: bench/probe_realtime.py spare). The layers' weights are stacked over layers once (each
layer's own arrays become views into the stacks, so they are held once). Matrix-vector products (CFG
batch ≤ 2 rows) read each weight once, in 16-byte loads (plain, or MLX's 8/4-bit affine quantization
unpacked as it is read: on a step bound by reading weights, fewer bytes is the lever); the attentions
are split over keys across blocks and merged by the phase that reads them; the residual stream stays
float32 inside the kernel.

The KV cache is written in place (the cache arrays are the step's inputs), so the step costs no cache copy.
Everything else — other backends, prefill (T > 1) — takes the plain MLX layers in musicgen.py, which stay
the reference that tests compare with.
"""

from __future__ import annotations

import ctypes
import os
import threading
import weakref
from functools import lru_cache

import mlx.core as mx
import mlx.nn as nn
import numpy as np

ENABLED = os.environ.get("MG_FUSED_LAYERS", "1") != "0"  # MG_FUSED_LAYERS=0: the plain MLX layers

THREADS = 512  # per block: 16 warps, to keep enough weight loads in flight per SM
MAX_ROWS = 16  # rows a launch may carry: each row holds accumulators in registers (512 threads share 64K)

HEADER = f"#define NT {THREADS}\n#define NW {THREADS // 32}\n" + r"""#define NEG_INF (-__int_as_float(0x7f800000))
// MLX writes the kernel's signature after this header; its launch bounds tell the compiler that NT
// threads must fit one SM (at most 128 registers each at 512), or the launch fails for want of registers.
#undef __global__
#define __global__ __attribute__((global)) __launch_bounds__(NT, 1)

__device__ __forceinline__ float tof(float v) { return v; }
__device__ __forceinline__ float tof(__half v) { return __half2float(v); }
__device__ __forceinline__ float tof(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ void put(float* p, float v) { *p = v; }
__device__ __forceinline__ void put(__half* p, float v) { *p = __float2half(v); }
__device__ __forceinline__ void put(__nv_bfloat16* p, float v) { *p = __float2bfloat16(v); }

// Data written earlier in this launch by other blocks is read through L2 (ld.global.cg), never L1.
__device__ __forceinline__ float load_cg(const float* p) { return __ldcg(p); }
__device__ __forceinline__ float load_cg(const __half* p) {
  return __half2float(__ushort_as_half(__ldcg(reinterpret_cast<const unsigned short*>(p))));
}
__device__ __forceinline__ float load_cg(const __nv_bfloat16* p) {
  return __bfloat162float(__ushort_as_bfloat16(__ldcg(reinterpret_cast<const unsigned short*>(p))));
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide sum / max; `red` is NW floats of shared memory. Ends synchronised.
__device__ float block_sum(float v, float* red) {
  v = warp_sum(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  float t = 0.f;
  for (int i = 0; i < NW; ++i) t += red[i];
  return t;
}

__device__ float block_max(float v, float* red) {
  v = warp_max(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  float t = NEG_INF;
  for (int i = 0; i < NW; ++i) t = fmaxf(t, red[i]);
  return t;
}

// All blocks wait here until every block has arrived. Each block announces its arrival in its own
// 128-byte line; block 0's threads watch one line each and, once all have arrived, raise every block's
// release flag (again one line per block). No atomics, and no line is polled by more than one block: one
// shared counter or flag polled by all blocks queued them behind each other (~7 µs per block on an H200).
// The flags carry a generation number and persist between launches, so nothing needs a reset.
__device__ void grid_barrier(unsigned int* bar) {
  volatile unsigned int* arrive = bar;
  volatile unsigned int* release = bar + 32 * gridDim.x;
  const unsigned int target = release[32 * blockIdx.x] + 1;
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    arrive[32 * blockIdx.x] = target;
  }
  if (blockIdx.x == 0) {
    for (int i = threadIdx.x; i < gridDim.x; i += NT) {
      while (arrive[32 * i] != target) {
      }
    }
    __threadfence();
    __syncthreads();
    for (int i = threadIdx.x; i < gridDim.x; i += NT) release[32 * i] = target;
  } else if (threadIdx.x == 0) {
    while (release[32 * blockIdx.x] != target) {
    }
  }
  __threadfence();
  __syncthreads();
}

// N floats (global, N % 4 == 0) → shared memory, every load issued before the first is waited for: a
// plain strided loop would wait one L2 round trip per element a thread copies.
template <int N>
__device__ void stage(const float* src, float* dst) {
  constexpr int ROUNDS = (N / 4 + NT - 1) / NT;
#pragma unroll
  for (int r = 0; r < ROUNDS; ++r) {
    const int i = r * NT + threadIdx.x;
    if (i < N / 4) reinterpret_cast<float4*>(dst)[i] = __ldcg(reinterpret_cast<const float4*>(src) + i);
  }
  __syncthreads();
}

// rows [B][D] (global, float) → layer-normed rows in shared memory.
template <typename T, int B, int D>
__device__ void layer_norm(const float* x, const T* weight, const T* bias, float* out, float* red) {
  constexpr int ROUNDS = (D + NT - 1) / NT;
  stage<B * D>(x, out);
  for (int b = 0; b < B; ++b) {
    float* row = out + b * D;
    float sum = 0.f;
#pragma unroll
    for (int r = 0; r < ROUNDS; ++r) {
      const int i = r * NT + threadIdx.x;
      if (i < D) sum += row[i];
    }
    const float mean = block_sum(sum, red) / D;
    float squares = 0.f;
#pragma unroll
    for (int r = 0; r < ROUNDS; ++r) {
      const int i = r * NT + threadIdx.x;
      if (i < D) squares += (row[i] - mean) * (row[i] - mean);
    }
    const float rstd = rsqrtf(block_sum(squares, red) / D + 1e-5f);
#pragma unroll
    for (int r = 0; r < ROUNDS; ++r) {
      const int i = r * NT + threadIdx.x;
      if (i < D) row[i] = (row[i] - mean) * rstd * tof(weight[i]) + tof(bias[i]);
    }
  }
  __syncthreads();
}

// A weight matrix [N][K] as the matvec reads it: 16 bytes of row n from column k on (VEC weights), and
// their dot product with VEC inputs. BITS 0: plain T. BITS 8 / 4: MLX's affine quantization — each uint32
// packs 4 / 8 weights, lowest bits first; w = q · scale + bias, one (scale, bias) of type T per 64 weights.
template <typename T, int BITS>
struct Weights {
  const void* w;
  const T* scales;
  const T* biases;
  static constexpr int VEC = BITS ? 128 / BITS : 16 / sizeof(T);
  static constexpr int GROUP = 64;
  static constexpr int BITS_PER_WEIGHT = BITS ? BITS : 8 * sizeof(T);

  // layer l's [N][K] matrix of a stack of them
  template <typename P>
  __device__ static Weights at(const P* w, const T* scales, const T* biases, int l, int N, int K) {
    const size_t before = (size_t)l * N * K;
    return {reinterpret_cast<const char*>(w) + before * BITS_PER_WEIGHT / 8,
            scales + (BITS ? before / GROUP : 0), biases + (BITS ? before / GROUP : 0)};
  }

  __device__ __forceinline__ uint4 load(size_t n, int K, int k) const {
    return __ldg(reinterpret_cast<const uint4*>(static_cast<const char*>(w) + (n * K + k) * BITS_PER_WEIGHT / 8));
  }
  // (scale, bias) of the group a load lies in, read once per load and shared by every row of x
  __device__ __forceinline__ void group(size_t n, int K, int k, float& scale, float& bias) const {
    if constexpr (BITS) {
      const size_t g = (n * K + k) / GROUP;
      scale = tof(scales[g]);
      bias = tof(biases[g]);
    } else {
      scale = 1.f;
      bias = 0.f;
    }
  }
  // the 4 weights from e on (e % 4 == 0) of one load, times x
  __device__ __forceinline__ static float dot4(const uint4& raw, int e, const float4& x) {
    if constexpr (BITS == 0) {
      const T* v = reinterpret_cast<const T*>(&raw) + e;
      return tof(v[0]) * x.x + tof(v[1]) * x.y + tof(v[2]) * x.z + tof(v[3]) * x.w;
    } else {
      constexpr int PER_WORD = 32 / BITS, MASK = (1 << BITS) - 1;
      const unsigned int words[4] = {raw.x, raw.y, raw.z, raw.w};
      const unsigned int word = words[e / PER_WORD] >> (BITS * (e % PER_WORD));
      return (float)(word & MASK) * x.x + (float)((word >> BITS) & MASK) * x.y +
             (float)((word >> 2 * BITS) & MASK) * x.z + (float)((word >> 3 * BITS) & MASK) * x.w;
    }
  }
  // a load's sum of q · x → its sum of w · x, given the sum of its x
  __device__ __forceinline__ static float finish(float sum, float scale, float bias, float x_sum) {
    return BITS ? scale * sum + bias * x_sum : sum;
  }
};

// y[b][n] = in[b] · W[n] for n < N (W [N][K], in: shared [B][K]). Warp w takes columns w, w + nwarps, …
// COLS at a time, lanes striding over K in 16-byte loads, so that every weight load of a phase is in
// flight at once (COLS = N / nwarps rounded up: one pass). emit(b, n, y) is called once per output by
// lane 0 of the warp that owns column n (the same warp for every call with the same N).
template <typename W, int B, int K, int COLS, typename Emit>
__device__ void matvec(const W& weights, int N, const float* in, Emit emit) {
  constexpr int VEC = W::VEC;
  constexpr int STEP = 32 * VEC;
  const int lane = threadIdx.x & 31;
  const int nwarps = gridDim.x * NW;
  for (int n = blockIdx.x * NW + (threadIdx.x >> 5); n < N; n += COLS * nwarps) {
    size_t rows[COLS];
#pragma unroll
    for (int c = 0; c < COLS; ++c) rows[c] = (size_t)min(n + c * nwarps, N - 1);  // past N: a repeat
    float acc[COLS][B];
#pragma unroll
    for (int c = 0; c < COLS; ++c)
#pragma unroll
      for (int b = 0; b < B; ++b) acc[c][b] = 0.f;
#pragma unroll 2
    for (int k = lane * VEC; k < K; k += STEP) {
      uint4 raw[COLS];
      float scale[COLS], bias[COLS];
#pragma unroll
      for (int c = 0; c < COLS; ++c) {
        raw[c] = weights.load(rows[c], K, k);
        weights.group(rows[c], K, k, scale[c], bias[c]);
      }
#pragma unroll
      for (int b = 0; b < B; ++b) {  // each input read once for all COLS columns
        float part[COLS], x_sum = 0.f;
#pragma unroll
        for (int c = 0; c < COLS; ++c) part[c] = 0.f;
#pragma unroll
        for (int e = 0; e < VEC; e += 4) {
          const float4 x = *reinterpret_cast<const float4*>(in + b * K + k + e);
          x_sum += x.x + x.y + x.z + x.w;  // quantized weights only; dropped by the compiler otherwise
#pragma unroll
          for (int c = 0; c < COLS; ++c) part[c] += W::dot4(raw[c], e, x);
        }
#pragma unroll
        for (int c = 0; c < COLS; ++c) acc[c][b] += W::finish(part[c], scale[c], bias[c], x_sum);
      }
    }
#pragma unroll
    for (int c = 0; c < COLS; ++c)
#pragma unroll
      for (int b = 0; b < B; ++b) acc[c][b] = warp_sum(acc[c][b]);
    if (lane == 0) {
#pragma unroll
      for (int c = 0; c < COLS; ++c)
        if (n + c * nwarps < N)
#pragma unroll
          for (int b = 0; b < B; ++b) emit(b, n + c * nwarps, acc[c][b]);
    }
  }
}

// One query row per (row, head) against its keys, split into NSPLIT ranges over the blocks. Row b reads
// the keys and values of storage row row_of(b), length_of(b) of them: (r, h) start at keys[(r*H + h) *
// stride * HD] and values[...]; with `valid` ([rows][stride]) the keys it marks false score -inf. Each range
// leaves its unnormalised output, max and sum in part[(b, h, split)] = [HD | max | sum].
template <typename T, int B, int H, int HD, int NSPLIT, typename RowOf, typename LengthOf>
__device__ void attend(const float* q, const T* keys, const T* values, int stride, RowOf row_of, LengthOf length_of,
                       const bool* valid, float* part, float* smem) {
  constexpr int D = H * HD;
  constexpr int VEC = 16 / sizeof(T);
  constexpr int GROUPS = NT / HD;
  const float scale = rsqrtf((float)HD);
  float* sq = smem;
  float* red = sq + HD;
  float* acc = red + 32;
  float* scores = acc + NT;
  for (int item = blockIdx.x; item < B * H * NSPLIT; item += gridDim.x) {
    const int split = item % NSPLIT, h = (item / NSPLIT) % H, b = item / (NSPLIT * H);
    const int length = length_of(b), row = row_of(b);
    const int per = (length + NSPLIT - 1) / NSPLIT;
    const int j0 = min(length, split * per), j1 = min(length, j0 + per);
    const T* kb = keys + (size_t)(row * H + h) * stride * HD;
    const T* vb = values + (size_t)(row * H + h) * stride * HD;
    for (int i = threadIdx.x; i < HD; i += NT) sq[i] = __ldcg(q + b * D + h * HD + i) * scale;
    __syncthreads();
    float top = NEG_INF;
#pragma unroll 2
    for (int j = j0 + threadIdx.x; j < j1; j += NT) {
      float s = NEG_INF;
      if (valid == nullptr || valid[row * stride + j]) {
        s = 0.f;
        const T* kr = kb + (size_t)j * HD;
#pragma unroll
        for (int d = 0; d < HD; d += VEC) {
          uint4 raw = __ldcg(reinterpret_cast<const uint4*>(kr + d));
          const T* kv = reinterpret_cast<const T*>(&raw);
#pragma unroll
          for (int e = 0; e < VEC; ++e) s += tof(kv[e]) * sq[d + e];
        }
      }
      scores[j - j0] = s;
      top = fmaxf(top, s);
    }
    top = block_max(top, red);
    float sum = 0.f;
    for (int j = j0 + threadIdx.x; j < j1; j += NT) {
      float p = top == NEG_INF ? 0.f : expf(scores[j - j0] - top);
      scores[j - j0] = p;
      sum += p;
    }
    sum = block_sum(sum, red);
    const int d = threadIdx.x % HD, g = threadIdx.x / HD;
    float o = 0.f;
#pragma unroll 8
    for (int j = j0 + g; j < j1; j += GROUPS) o += scores[j - j0] * load_cg(vb + (size_t)j * HD + d);
    acc[threadIdx.x] = o;
    __syncthreads();
    float* out = part + (size_t)item * (HD + 2);
    if (threadIdx.x < HD) {
      float t = 0.f;
      for (int i = 0; i < GROUPS; ++i) t += acc[i * HD + threadIdx.x];
      out[threadIdx.x] = t;
    }
    if (threadIdx.x == 0) {
      out[HD] = top;
      out[HD + 1] = sum;
    }
    __syncthreads();
  }
}

// The attention output [B][D] in shared memory, merged from the ranges `attend` left in `part`: first
// each (b, h)'s weight per range, exp(max_s − max) / sum, into shared memory after the output, then the
// weighted sums, all loads of a round issued together.
template <int B, int H, int HD, int NSPLIT>
__device__ void merge_attention(const float* part, float* out) {
  constexpr int D = H * HD;
  constexpr int ROUNDS = (B * D + NT - 1) / NT;
  float* weights = out + B * D;
  for (int i = threadIdx.x; i < B * H; i += NT) {
    const float* p = part + (size_t)i * NSPLIT * (HD + 2);
    float top = NEG_INF, sum = 0.f, m[NSPLIT];
#pragma unroll
    for (int s = 0; s < NSPLIT; ++s) top = fmaxf(top, m[s] = __ldcg(p + s * (HD + 2) + HD));
#pragma unroll
    for (int s = 0; s < NSPLIT; ++s) {
      m[s] = m[s] == NEG_INF ? 0.f : expf(m[s] - top);
      sum += __ldcg(p + s * (HD + 2) + HD + 1) * m[s];
    }
#pragma unroll
    for (int s = 0; s < NSPLIT; ++s) weights[i * NSPLIT + s] = sum > 0.f ? m[s] / sum : 0.f;
  }
  __syncthreads();
#pragma unroll
  for (int r = 0; r < ROUNDS; ++r) {
    const int i = r * NT + threadIdx.x;
    if (i < B * D) {
      const int bh = i / HD, d = i % HD;  // (b, h) = divmod(bh, H): part is laid out [B][H][NSPLIT]
      const float* p = part + (size_t)bh * NSPLIT * (HD + 2) + d;
      float o = 0.f;
#pragma unroll
      for (int s = 0; s < NSPLIT; ++s) o += __ldcg(p + s * (HD + 2)) * weights[bh * NSPLIT + s];
      out[i] = o;
    }
  }
  __syncthreads();
}
"""

SOURCE = r"""
  constexpr int D = H * HD;
  using Wt = Weights<T, QBITS>;
  extern __shared__ float4 shared4[];
  float* smem = reinterpret_cast<float*>(shared4);
  float* red = smem + B * (F > D + H * NSPLIT ? F : D + H * NSPLIT);  // after every staged vector
  unsigned int* bar = const_cast<unsigned int*>(barrier);
  // Row b (a context's conditional or unconditional row at one position) writes and reads cache row
  // rows[3b] at position rows[3b + 1]; its cross-attention reads condition row rows[3b + 2].
  constexpr int WARPS = NB * NW;
  // columns per warp and pass; unpacking quantized weights and many rows' sums take registers, so fewer
  // at once there (512 threads leave each 128 registers)
  constexpr int CMAX = QBITS || B > 8 ? 2 : 4;
  constexpr int COLS_QKV = (3 * D + WARPS - 1) / WARPS > CMAX ? CMAX : (3 * D + WARPS - 1) / WARPS;
  constexpr int COLS_D = (D + WARPS - 1) / WARPS > CMAX ? CMAX : (D + WARPS - 1) / WARPS;
  constexpr int COLS_F = (F + WARPS - 1) / WARPS > CMAX ? CMAX : (F + WARPS - 1) / WARPS;
  constexpr int KEYS_STRIDE = MAX_LEN * HD;  // one (b, h) slab of the cache
  // The condition's length and mask are read at run time, so a longer prompt compiles nothing new.
  // cross: every layer's condition keys/values stacked [L, 2, cond_rows, H, cond, HD]
  const int cond = cross_shape[4], cond_rows = cross_shape[2];
  // per layer: its cache (an array each), then its slices of the stacked weights and condition
  CACHES

  for (int l = 0; l < L; ++l) {
    T* kv_cache = caches[l];
    const float* x_in = l == 0 ? x : x_out;  // the residual stream: x_out from layer 1 on, updated in place
    if (l > 0) grid_barrier(bar);

    // 1. x → LN → q (kept) and k, v (into the cache at `position`)
    layer_norm<T, B, D>(x_in, ln1_w + l * D, ln1_b + l * D, smem, red);
    matvec<Wt, B, D, COLS_QKV>(Wt::at(w_qkv, s_qkv, b_qkv, l, 3 * D, D), 3 * D, smem, [&](int b, int n, float y) {
      const int which = n / D, c = n % D;
      if (which == 0) {
        q_buf[b * D + c] = y;
      } else {
        const int h = c / HD, d = c % HD;
        put(kv_cache + (((size_t)(which - 1) * R + rows[3 * b]) * H + h) * KEYS_STRIDE + (size_t)rows[3 * b + 1] * HD + d,
            y);
      }
    });
    grid_barrier(bar);
    // 2. self-attention of each row over its context's positions 0..its own (rows of one context at later
    // positions in this pass read the keys the earlier ones wrote in phase 1)
    attend<T, B, H, HD, NSPLIT>(q_buf, kv_cache, kv_cache + (size_t)R * H * KEYS_STRIDE, MAX_LEN,
                                [&](int b) { return rows[3 * b]; }, [&](int b) { return rows[3 * b + 1] + 1; },
                                nullptr, part, smem);
    grid_barrier(bar);
    // 3. x + out_proj(attention)
    merge_attention<B, H, HD, NSPLIT>(part, smem);
    matvec<Wt, B, D, COLS_D>(Wt::at(w_o, s_o, b_o, l, D, D), D, smem, [&](int b, int n, float y) { x_out[b * D + n] = __ldcg(x_in + b * D + n) + y; });
    grid_barrier(bar);
    if constexpr (CROSS) {
      // 4. cross-attention to the condition (keys/values computed once per prompt)
      layer_norm<T, B, D>(x_out, ln2_w + l * D, ln2_b + l * D, smem, red);
      matvec<Wt, B, D, COLS_D>(Wt::at(w_q, s_q, b_q, l, D, D), D, smem, [&](int b, int n, float y) { q_buf[b * D + n] = y; });
      grid_barrier(bar);
      const T* cross_kv = cross + (size_t)l * 2 * cond_rows * H * cond * HD;
      attend<T, B, H, HD, NSPLIT>(q_buf, cross_kv, cross_kv + (size_t)cond_rows * H * cond * HD, cond,
                                  [&](int b) { return rows[3 * b + 2]; }, [&](int) { return cond; },
                                  cross_mask_ndim == 4 ? cross_mask : nullptr, part, smem);
      grid_barrier(bar);
      merge_attention<B, H, HD, NSPLIT>(part, smem);
      matvec<Wt, B, D, COLS_D>(Wt::at(w_co, s_co, b_co, l, D, D), D, smem, [&](int b, int n, float y) { x_out[b * D + n] = __ldcg(x_out + b * D + n) + y; });
      grid_barrier(bar);
    }
    // 5. feed-forward: x + fc2(gelu(fc1(LN(x))))
    layer_norm<T, B, D>(x_out, ln3_w + l * D, ln3_b + l * D, smem, red);
    matvec<Wt, B, D, COLS_F>(Wt::at(w_fc1, s_fc1, b_fc1, l, F, D), F, smem, [&](int b, int n, float y) {
      h_buf[b * F + n] = 0.5f * y * (1.f + erff(y * 0.70710678118654752f));
    });
    grid_barrier(bar);
    stage<B * F>(h_buf, smem);
    matvec<Wt, B, F, COLS_D>(Wt::at(w_fc2, s_fc2, b_fc2, l, D, F), D, smem, [&](int b, int n, float y) { x_out[b * D + n] = __ldcg(x_out + b * D + n) + y; });
  }
"""

NORMS = ["ln1_w", "ln1_b", "ln2_w", "ln2_b", "ln3_w", "ln3_b"]
LINEARS = ["qkv", "o", "q", "co", "fc1", "fc2"]  # each as w_, s_ (scales) and b_ (biases): see `Weights`
STACKED = NORMS + [f"{part}_{name}" for name in LINEARS for part in "wsb"]  # [layers, ...] each
OUTPUTS = ["x_out", "q_buf", "part", "h_buf"]


@lru_cache(maxsize=1)
def device_limits() -> tuple[int, int]:
    """Device 0's SM count (one resident block each) and the most shared memory a block may opt into, from
    the CUDA driver; 32 SMs and 48 KiB when the driver can't say."""
    attributes = (16, 97)  # CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, ..._MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
    try:
        driver = ctypes.CDLL("libcuda.so.1")
        device, values = ctypes.c_int(), [ctypes.c_int() for _ in attributes]
        if driver.cuInit(0) or driver.cuDeviceGet(ctypes.byref(device), 0) or any(
                driver.cuDeviceGetAttribute(ctypes.byref(v), a, device) for v, a in zip(values, attributes)):
            return 32, 48 * 1024
        return max(1, values[0].value), values[1].value
    except OSError:
        return 32, 48 * 1024


def step_blocks() -> int:
    """The step kernel's blocks: one per SM, but one SM in 32 left to other streams' kernels."""
    return device_limits()[0] - device_limits()[0] // 32


@lru_cache(maxsize=8)
def _kernel(shared: int, layers: int):
    """The step's kernel for `layers` layers: each layer's cache comes as an input of its own (written in
    place), gathered into an array the loop indexes; the condition's keys and values come stacked, one
    input (a morph makes new ones every frame: one array, not one per layer)."""
    return mx.fast.cuda_kernel(name="musicgen_step", input_names=input_names(layers), output_names=OUTPUTS,
                               source=kernel_source(layers), header=HEADER, shared_memory=shared)


def input_names(layers: int) -> list[str]:
    return ["x", "rows", "barrier", "cross_mask"] + STACKED + [f"cache_{i}" for i in range(layers)] + ["cross"]


def kernel_source(layers: int) -> str:
    caches = ", ".join(f"const_cast<T*>(cache_{i})" for i in range(layers))
    return SOURCE.replace("CACHES", f"T* const caches[] = {{{caches}}};")


@lru_cache(maxsize=8)
def _constants(thread: int) -> tuple[mx.array, mx.array]:
    """The barrier's persistent state (one per thread: each thread has its own MLX stream) and a stand-in
    for an absent cross-attention mask."""
    barrier, no_mask = mx.zeros((64 * device_limits()[0] + 32,), mx.uint32), mx.array([True])
    mx.eval(barrier, no_mask)
    return barrier, no_mask


def weight_bits(decoder, dtype) -> int | None:
    """How the layers' linear weights are stored, as the kernel reads them: 0 plain `dtype`, 8 or 4 MLX's
    affine quantization in groups of 64 with `dtype` scales; None for anything else (a bias, a mix)."""
    linears = [m for layer in decoder.layers for _, m in layer.named_modules()
               if isinstance(m, (nn.Linear, nn.QuantizedLinear))]
    if any("bias" in m for m in linears):
        return None
    if all(type(m) is nn.Linear and m.weight.dtype == dtype for m in linears):
        return 0
    bits = {getattr(m, "bits", None) for m in linears}
    if (len(bits) == 1 and bits <= {4, 8}
            and all(type(m) is nn.QuantizedLinear and m.group_size == 64 and getattr(m, "mode", "affine") == "affine"
                    and m.scales.dtype == dtype for m in linears)):
        return bits.pop()
    return None


def usable(decoder, dtype) -> bool:
    """Whether this decoder's single-token step can run as fused layers here."""
    if not (ENABLED and mx.default_device() == mx.gpu and mx.cuda.is_available()):
        return False
    cfg = decoder.cfg
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    return (dtype in (mx.float16, mx.bfloat16, mx.float32) and weight_bits(decoder, dtype) is not None
            and THREADS % head_dim == 0 and cfg.hidden_size % 8 == 0 and cfg.ffn_dim % 8 == 0)


def launch_shape(decoder, batch: int, max_len: int) -> tuple[int, int, int]:
    """(blocks, key ranges per attention row, shared memory per block) of a fused step: the largest
    vector a phase stages (the feed-forward's hidden rows, or the attention output and its merge weights)
    or an attention range's scores (the condition is never longer than the cache: see `fits`)."""
    cfg = decoder.cfg
    heads, dim = cfg.num_attention_heads, cfg.hidden_size
    blocks = step_blocks()
    nsplit = max(1, blocks // (batch * heads))
    keys_per_split = -(-max_len // nsplit)
    floats = max(batch * max(cfg.ffn_dim, dim + heads * nsplit), dim // heads + 32 + THREADS + keys_per_split) + 32
    return blocks, nsplit, 4 * floats


def fits(decoder, x: mx.array, cache: list, cross: mx.array | None) -> bool:
    """Whether this pass runs as fused layers: `usable`, and its shared memory within the device's (one
    row per position and guidance branch: x [batch, positions, D])."""
    max_len = cache[0].shape[3]
    rows = x.shape[0] * x.shape[1]
    return (usable(decoder, x.dtype) and rows <= MAX_ROWS and (cross is None or cross.shape[4] <= max_len)
            and launch_shape(decoder, rows, max_len)[2] <= device_limits()[1])


def max_rows(decoder, max_len: int) -> int:
    """The most rows a fused pass may carry on this device (its shared memory bounds them)."""
    rows = 2
    while launch_shape(decoder, rows + 1, max_len)[2] <= device_limits()[1] and rows < MAX_ROWS:
        rows += 1
    return rows


def _stacked(decoder) -> list[mx.array]:
    """The layers' norms and linear weights as the kernel reads them, in STACKED's order, each stacked over
    layers [L, ...]. Made once per decoder: each layer's own arrays then become views into the stacks, so
    the weights are held once and the plain layers read the same memory. Melody models have no
    cross-attention: its inputs get stand-ins of the right types, never read."""
    layers = decoder.layers
    known = _STACKS.get(id(decoder))
    if known is not None and known[0] is layers[0].fc1.weight and known[1] is layers[-1].fc2.weight:
        return known[2]

    def parts(layer) -> list[tuple[nn.Module, str]]:
        cross = "encoder_attn" in layer
        norms = [layer.self_attn_layer_norm, layer.encoder_attn_layer_norm if cross else layer.final_layer_norm,
                 layer.final_layer_norm]
        linears = [layer.self_attn.qkv_proj, layer.self_attn.out_proj, layer.encoder_attn.q_proj if cross else layer.fc1,
                   layer.encoder_attn.out_proj if cross else layer.fc1, layer.fc1, layer.fc2]  # LINEARS' order
        # plain weights stand in for the scales and biases they do not have
        return ([(norm, name) for norm in norms for name in ("weight", "bias")]
                + [(linear, name if name in linear else "weight") for linear in linears
                   for name in ("weight", "scales", "biases")])

    per_layer = [parts(layer) for layer in layers]
    stacks, made = [], {}  # a stand-in shares the stack of what it stands in for
    for j, (module, name) in enumerate(per_layer[0]):
        if (id(module), name) not in made:
            made[id(module), name] = mx.stack([getattr(*layer_parts[j]) for layer_parts in per_layer])
            mx.eval(made[id(module), name])
            views = mx.split(made[id(module), name], len(layers))  # views (an integer index would copy)
            for layer_parts, view in zip(per_layer, views):  # the layer's own array is freed
                setattr(*layer_parts[j], view.squeeze(0))
        stacks.append(made[id(module), name])
    mx.eval([getattr(*part) for layer_parts in per_layer for part in layer_parts])
    _STACKS[id(decoder)] = (layers[0].fc1.weight, layers[-1].fc2.weight, stacks)
    weakref.finalize(decoder, _STACKS.pop, id(decoder), None)
    return stacks


_STACKS: dict[int, tuple] = {}  # id(decoder) → (two of its weights, to see it unchanged; the stacks)


def layers(decoder, x: mx.array, spans: list, cache: list, cross: mx.array | None,
           cross_mask: mx.array | None) -> mx.array:
    """All decoder layers for x [batch, T, D], one kernel: the spans' positions side by side, batch × T
    rows, each writing its keys and values into its context's cache rows at its position, in place. The
    cache holds [2, rows, heads, max_len, head_dim] per layer; `cross` the condition's keys/values, stacked
    [layers, 2, rows, heads, length, head_dim]."""
    cfg = decoder.cfg
    batch, length, dim = x.shape
    rows = batch * length
    heads, ffn = cfg.num_attention_heads, cfg.ffn_dim
    head_dim = dim // heads
    max_len = cache[0].shape[3]
    blocks, nsplit, shared = launch_shape(decoder, rows, max_len)
    dtype = x.dtype
    template = [("T", dtype), ("B", rows), ("R", cache[0].shape[1]), ("H", heads), ("HD", head_dim), ("F", ffn),
                ("MAX_LEN", max_len), ("NSPLIT", nsplit), ("NB", blocks), ("CROSS", cross is not None),
                ("QBITS", weight_bits(decoder, dtype)), ("L", len(decoder.layers))]
    # per row (branch-major, as x lays them out): cache row, position, condition row
    first_rows = mx.array([span.rows for span in spans for _ in range(span.length)], mx.int32)
    positions = mx.concatenate([span.positions for span in spans]) if len(spans) > 1 else spans[0].positions
    branch = mx.array(np.arange(batch, dtype=np.int32))[:, None]  # a constant of the compiled pass, not a kernel
    table = mx.stack([first_rows[None] + branch, mx.broadcast_to(positions[None], (batch, length)),
                      mx.broadcast_to(branch, (batch, length))], axis=-1).reshape(rows, 3).astype(mx.int32)
    barrier, no_mask = _constants(threading.get_ident())
    inputs = ([x.reshape(rows, dim).astype(mx.float32), table, barrier, no_mask if cross_mask is None else cross_mask]
              + _stacked(decoder) + list(cache) + [cross if cross is not None else cache[0]])
    h = _kernel(shared, len(decoder.layers))(
        inputs=inputs, template=template, grid=(blocks * THREADS, 1, 1), threadgroup=(THREADS, 1, 1),
        output_shapes=[(rows, dim), (rows, dim), (rows * heads * nsplit * (head_dim + 2),), (rows, ffn)],
        output_dtypes=[mx.float32] * 4)[0]
    return h.astype(dtype).reshape(batch, length, dim)
