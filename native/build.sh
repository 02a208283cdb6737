#!/bin/sh
# Builds the wasm kernels from native/gemm.c and native/conv.c (needs clang and lld with the wasm32
# target: apt-get install clang-14 lld-14). The outputs are committed, so installing dlphys needs neither.
# Usage: native/build.sh [output dir, default native/]
#   gemm.wasm              imports an ordinary memory: tfjs's single-threaded build
#   gemm_shared.wasm       imports a shared memory: tfjs's threaded build, called from several threads
#   gemm_fma*.wasm         the same with fused multiply-adds (relaxed SIMD), where the engine has them
#   conv.wasm, conv_shared.wasm   patch matrices and pooling gradients, for each kind of memory
set -eu
cd "$(dirname "$0")"
OUT=${1:-.}
CC=${CC:-clang-14}
FLAGS="--target=wasm32 -O3 -msimd128 -nostdlib -fno-builtin -Wall -Wextra -Werror -Wl,--no-entry -Wl,--import-memory -Wl,-z,stack-size=0"
SHARED="-matomics -mbulk-memory -Wl,--shared-memory -Wl,--max-memory=4294967296"
FMA="-mrelaxed-simd -DGEMM_FMA"
$CC $FLAGS -o "$OUT/gemm.wasm" gemm.c
$CC $FLAGS $SHARED -o "$OUT/gemm_shared.wasm" gemm.c
$CC $FLAGS $FMA -o "$OUT/gemm_fma.wasm" gemm.c
$CC $FLAGS $FMA $SHARED -o "$OUT/gemm_fma_shared.wasm" gemm.c
$CC $FLAGS -o "$OUT/conv.wasm" conv.c
$CC $FLAGS $SHARED -o "$OUT/conv_shared.wasm" conv.c
# The kernels must not touch a shadow stack: the module owns no memory to put one in.
for f in "$OUT"/gemm*.wasm; do
  code=$(llvm-objdump-14 -d "$f")
  echo "$code" | grep -q 'f32x4\.\(mul\|fma\)' || { echo "$f: disassembly failed" >&2; exit 1; }
  if echo "$code" | grep -q 'global\.\(get\|set\)'; then echo "$f uses globals (a shadow stack?)" >&2; exit 1; fi
done
for f in "$OUT"/conv*.wasm; do
  code=$(llvm-objdump-14 -d "$f")
  echo "$code" | grep -q 'v128\.load' || { echo "$f: disassembly failed" >&2; exit 1; }
  if echo "$code" | grep -q 'global\.\(get\|set\)'; then echo "$f uses globals (a shadow stack?)" >&2; exit 1; fi
done
for f in "$OUT"/gemm_fma*.wasm; do node relaxed_madd.mjs "$f"; done
ls -l "$OUT"/gemm*.wasm "$OUT"/conv*.wasm
