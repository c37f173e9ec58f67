#!/usr/bin/env bash
# Build gapseg's SIMD kernels (src/model/kernels/simd/kernels.c) into the WebAssembly module
# embedded in src/model/kernels/simd/kernelsWasm.ts. Needs clang and wasm-ld with the wasm32
# target (Debian: apt-get install clang-14 lld-14). The generated file is committed, so users
# and CI need no compiler; test/simd.test.ts checks the embedded module matches the source
# when a compiler is present.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG=${CLANG:-$(command -v clang-14 || command -v clang)}
LLD=${WASM_LD:-$(command -v wasm-ld-14 || command -v wasm-ld)}
src=src/model/kernels/simd/kernels.c
out=$(mktemp -d)
# Two builds: one importing a shared memory (the threaded tfjs binary), one a plain memory
# (the single-threaded binary). Both must use no stack: checked below.
"$CLANG" --target=wasm32 -O3 -msimd128 -matomics -mbulk-memory -nostdlib -fno-builtin -ffreestanding \
  -c "$src" -o "$out/shared.o"
"$LLD" --no-entry --import-memory --shared-memory --initial-memory=16777216 --max-memory=4294967296 \
  -z stack-size=0 --strip-all "$out/shared.o" -o "$out/shared.wasm"
"$CLANG" --target=wasm32 -O3 -msimd128 -mbulk-memory -nostdlib -fno-builtin -ffreestanding \
  -c "$src" -o "$out/plain.o"
"$LLD" --no-entry --import-memory --initial-memory=16777216 --max-memory=4294967296 \
  -z stack-size=0 --strip-all "$out/plain.o" -o "$out/plain.wasm"
OBJDUMP=${OBJDUMP:-$(command -v llvm-objdump-14 || command -v llvm-objdump)}
for f in shared plain; do
  if "$OBJDUMP" -d "$out/$f.wasm" | grep -q "global\.[gs]et"; then
    echo "error: the $f build uses the stack or globals; the kernels must not" >&2
    exit 1
  fi
done
node scripts/embed-wasm.mjs "$out/shared.wasm" "$out/plain.wasm" src/model/kernels/simd/kernelsWasm.ts "$src"
rm -rf "$out"
