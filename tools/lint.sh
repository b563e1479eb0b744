#!/usr/bin/env bash
# The lint gate: the checks .ci/run and .pre-commit-config.yaml run, from anywhere in the repository.
# Settings live in pyproject.toml ([tool.ruff*], [tool.cython-lint]); the pinned versions in .ci/run.
# All three run even when one fails, so one pass lists every finding.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
ruff check . || status=1
ruff format --check . || status=1
cython-lint src/ranvier/core || status=1
exit "$status"
