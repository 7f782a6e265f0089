"""Benchmarks: this backend against the raw temporalio SDK doing the same work."""
