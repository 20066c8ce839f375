#!/bin/sh
# Builds the layer with the function's libraries, as one builds a Lambda layer for Python:
# pip install --target python/, trimmed, zipped. Writes build/layer.zip (about 80 MB; about
# 228 MB unpacked, under Lambda's 250 MB limit for a function and its layers).
set -eu
cd "$(dirname "$0")"
rm -rf build/layer
mkdir -p build/layer/python
python3 -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
  --target build/layer/python opencv-python-headless numpy
# What a function never loads: test suites, type stubs, bytecode caches (17 MB of 245).
find build/layer/python \( -name tests -o -name __pycache__ \) -type d -prune -exec rm -rf {} +
find build/layer/python -name '*.pyi' -delete
rm -f build/layer.zip
(cd build/layer && python3 -m zipfile -c ../layer.zip python)
ls -l build/layer.zip
