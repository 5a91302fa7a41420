"""Runyard vs MLflow benchmark (issue 4). Run it with ``bench/run`` (see bench/README.md)."""
