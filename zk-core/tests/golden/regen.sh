#!/usr/bin/env bash
# Regenerate zk-core/tests/fixtures/golden/ from the Apache ZooKeeper 3.8 Java
# implementation (Debian package "zookeeper"; JDK 11+ with javac).
#
#   zk-core/tests/golden/regen.sh            # generate + live cross-check against the real client
#   zk-core/tests/golden/regen.sh --no-live  # generate only
#
# Override jar locations with ZK_JAR / ZK_JUTE_JAR / SLF4J_API_JAR / SLF4J_NOP_JAR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/../fixtures/golden"

ZK_JAR="${ZK_JAR:-/usr/share/java/zookeeper.jar}"
ZK_JUTE_JAR="${ZK_JUTE_JAR:-/usr/share/java/zookeeper-jute.jar}"
SLF4J_API_JAR="${SLF4J_API_JAR:-/usr/share/java/slf4j-api.jar}"
SLF4J_NOP_JAR="${SLF4J_NOP_JAR:-/usr/share/java/slf4j-nop.jar}"
for j in "$ZK_JAR" "$ZK_JUTE_JAR" "$SLF4J_API_JAR"; do
  [[ -f "$j" ]] || { echo "missing $j (apt-get install zookeeper)" >&2; exit 1; }
done
cp="$ZK_JAR:$ZK_JUTE_JAR:$SLF4J_API_JAR"
# slf4j-nop only silences the client's logging; optional
[[ -f "$SLF4J_NOP_JAR" ]] && cp="$cp:$SLF4J_NOP_JAR"

build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT

javac -nowarn -encoding UTF-8 -cp "$cp" -d "$build" \
  "$here/GenGolden.java" \
  "$here/org/apache/zookeeper/server/GoldenServerCnxn.java"

mkdir -p "$out"
# -Dfile.encoding only matters for console output; files are written as UTF-8 explicitly.
java -Dfile.encoding=UTF-8 -cp "$build:$cp" GenGolden "$out" "$@"
