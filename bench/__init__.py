"""Benchmarks: figures beside a raw-driver baseline measured in the same run."""
