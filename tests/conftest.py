"""Test-wide settings.

The suite runs two xdist workers on two cores; one BLAS/OpenMP thread per worker keeps small
torch and OpenCV kernels from oversubscribing the machine.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("PIXELMEND_DEVICE", "cpu")
