"""Benchmarks: extraction quality and the loopback corpus run."""
