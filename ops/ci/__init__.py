"""What CI decides, as commands anyone can run: `make ci-plan`, `ci-deploy`, `ci-drift`, `ci-diff`, `ci-promote`.

The workflows in .github/workflows/ only set up a runner and call these (docs/operations.md#ci-what-runs-when);
tests/cluster/test_cluster_ci.py runs them on the local cluster with a dev and a prod stack.
"""
