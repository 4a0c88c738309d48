#!/usr/bin/env bash
# Builds Ferry with AddressSanitizer and UndefinedBehaviorSanitizer into build/ and runs the whole test
# suite (cmocka unit tests, fuzz smoke runs, integration tests with real ZooKeeper and real Kafka clients).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DFERRY_SANITIZE=ON
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure -j2 "$@"
