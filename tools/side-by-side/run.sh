#!/bin/bash
# Lockstep beside llama.cpp in one script run, as the README's performance tables were measured.
#
#   LCPP=/path/to/llama.cpp/build/bin MODELS_DIR=/path/to/models tools/side-by-side/run.sh > run.txt
#
# MODELS_DIR holds llama1b-<type>.gguf for each type in MODELS (default: q8_0 q4_0 q4_k_m), made with
# bin/lockstep synth (README, "Performance"). For each file: llama-bench (mapped and loaded),
# llama-batched-bench (1 and 8 sequences), bin/lockstep bench in f32 mode and, for the types the INT8
# mode covers, with --activations int8 (NO_INT8=1 skips it). Extra bench flags: LOCKSTEP_BENCH_ARGS.
set -u
cd "$(dirname "$0")/../.."
: "${LCPP:?set LCPP to the build/bin directory of llama.cpp}"
: "${MODELS_DIR:?set MODELS_DIR to the directory of the llama1b-*.gguf files}"
export LD_LIBRARY_PATH="$LCPP${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
dirty=""; git diff --quiet HEAD || dirty=" (with uncommitted changes)"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)
echo "# $(date -u +%FT%TZ) $(git log -1 --format=%h)$dirty on $cpu"
for f in ${MODELS:-q8_0 q4_0 q4_k_m}; do
  F="$MODELS_DIR/llama1b-$f.gguf"
  echo "## $f"
  "$LCPP/llama-bench" -m "$F" -t 2 -p 512 -n 128 -r 2 -mmp 1,0 -o md 2>/dev/null | grep -E "^\|"
  "$LCPP/llama-batched-bench" -m "$F" -t 2 -c 2048 -npp 32 -ntg 64 -npl 1,8 2>/dev/null | grep -E "^\|"
  bin/lockstep bench -m "$F" -t 2 --pp 512 --tg 128 --concurrency 1,8 --reps 2 ${LOCKSTEP_BENCH_ARGS:-} 2>/dev/null | grep -vE "^WARNING"
  if [ "$f" != q8_0 ] && [ -z "${NO_INT8:-}" ]; then
    echo "### int8"
    bin/lockstep bench -m "$F" -t 2 --pp 512 --tg 128 --concurrency 1,8 --reps 2 --activations int8 ${LOCKSTEP_BENCH_ARGS:-} 2>/dev/null | grep -vE "^WARNING"
  fi
done
