"""The native shim (proclab_native.c), LD_PRELOADed into the run's dynamically linked programs."""
