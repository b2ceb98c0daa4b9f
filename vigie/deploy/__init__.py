"""Kubernetes deployment checks: the Helm chart under ``deploy/helm/vigie``, rendered and validated.

``tools`` obtains helm (built from the Go module proxy) and the operators' API jars (Maven
Central), cached so re-runs are fast; ``crds`` turns the operators' published CRDs into strict
JSON schemas; ``chart`` keeps the chart's copies of repository files in sync, renders the chart
and validates every manifest. ``python -m vigie.deploy validate`` runs it all (CI does, through
the test suite).
"""
