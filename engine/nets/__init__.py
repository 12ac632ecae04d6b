"""Neural network architectures (torch ``nn.Module`` definitions only; no weights, no I/O)."""
