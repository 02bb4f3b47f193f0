"""A production review of the rendered objects: the linters a platform team runs (kube-score, checkov), and
the findings accepted on purpose, each with its reason (accepted.yaml, published as docs/review.md)."""
