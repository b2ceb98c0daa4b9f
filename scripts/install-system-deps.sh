#!/usr/bin/env bash
# Installs what Vigie needs from Debian's packages: Java 17 (Kafka, Flink), Maven (fetches
# the Kafka and Flink connector jars on first `vigie stack up`) and ClickHouse. Safe to re-run:
# it installs only what is missing, and says what to do when it cannot.
set -euo pipefail

need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v clickhouse-server >/dev/null || need+=(clickhouse-server)
command -v clickhouse-client >/dev/null || need+=(clickhouse-client)
command -v python3 >/dev/null || need+=(python3 python3-venv)
command -v chromium >/dev/null || need+=(chromium)  # command-center page test (headless)

if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]}" >&2
  echo "install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
