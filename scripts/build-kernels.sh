#!/usr/bin/env bash
# Build gapseg's SIMD kernels (src/engine/simd/kernels.c) into the WebAssembly modules
# embedded in src/generated/kernelsWasm.ts. Needs clang and wasm-ld 16 or later with
# the wasm32 target, for relaxed SIMD (Debian: apt-get install clang-19 lld-19). The generated
# file is committed, so users and CI need no compiler; test/simd.test.ts checks the embedded
# modules are the build of the current source.
set -euo pipefail
cd "$(dirname "$0")/.."
pick() { for c in "$@"; do command -v "$c" && return; done; echo "error: none of $* found" >&2; exit 1; }
CLANG=${CLANG:-$(pick clang-19 clang-18 clang-17 clang-16 clang)}
LLD=${WASM_LD:-$(pick wasm-ld-19 wasm-ld-18 wasm-ld-17 wasm-ld-16 wasm-ld)}
OBJDUMP=${OBJDUMP:-$(pick llvm-objdump-19 llvm-objdump-18 llvm-objdump-17 llvm-objdump-16 llvm-objdump)}
src=src/engine/simd/kernels.c
out=$(mktemp -d)
# Four builds: importing a shared memory (the threaded tfjs binary) or a plain one (the
# single-threaded binary), each with multiply-add as FMA (relaxed SIMD) or as two
# instructions. All must use no stack: checked below.
build() { # name, memory flags, compiler flags
  "$CLANG" --target=wasm32 -O3 -msimd128 -mbulk-memory -mno-multivalue -mno-reference-types -nostdlib -fno-builtin -ffreestanding $3 -c "$src" -o "$out/$1.o"
  "$LLD" --no-entry --import-memory $2 --initial-memory=16777216 --max-memory=4294967296 \
    -z stack-size=0 --strip-all "$out/$1.o" -o "$out/$1.wasm"
  if "$OBJDUMP" -d "$out/$1.wasm" | grep -q "global\.[gs]et"; then
    echo "error: the $1 build uses the stack or globals; the kernels must not" >&2
    exit 1
  fi
}
build shared --shared-memory "-matomics"
build plain "" ""
build shared-fma --shared-memory "-matomics -mrelaxed-simd -DGAPSEG_FMA"
build plain-fma "" "-mrelaxed-simd -DGAPSEG_FMA"
node scripts/embed-wasm.mjs "$out" src/generated/kernelsWasm.ts "$src"
rm -rf "$out"
