"""PyTorch on the CPU, the reference runtime of a PyTorch checkpoint."""
