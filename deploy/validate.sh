#!/usr/bin/env bash
# Validates the Helm chart as CI does: chart copies in sync with the repository, every value
# documented, `helm lint --strict` and `helm template` with the default and the production
# values, every manifest checked against the Kubernetes schemas (kubernetes-validate, offline)
# and the operators' CRDs (Flink Kubernetes Operator, Strimzi) from their jars on Maven Central.
# helm is built once from the Go module proxy and cached in ~/.cache/vigie/tools (or
# $VIGIE_TOOLS_DIR); the first run takes a few minutes, later ones a few seconds.
# The same checks, plus negative ones, run in `make test` (tests/unit/test_helm_chart.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m vigie.deploy validate "$@"
