"""Benchmarks of the editor itself (``pixelmend bench ui``), run through the real window."""
