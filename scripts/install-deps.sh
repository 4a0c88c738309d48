#!/usr/bin/env bash
# Installs everything Ferry needs to build, test and benchmark on Debian 12, from Debian's packages.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  build-essential cmake pkg-config clang libclang-rt-14-dev \
  libuv1-dev libzookeeper-st-dev libssl-dev libyaml-dev libcmocka-dev libjansson-dev \
  zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev librdkafka-dev \
  kcat python3 python3-kafka python3-confluent-kafka python3-kazoo \
  zookeeper default-jre-headless procps iproute2 util-linux
