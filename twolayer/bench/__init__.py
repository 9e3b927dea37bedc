"""Benchmark machinery: our training step against its matmul-only bound and PyTorch."""
