"""Activates the ProcLab shim in any Python interpreter started inside a run."""

import os

if os.environ.get("PROCLAB_SHIM"):
    try:
        import proclab_shim  # type: ignore[import-not-found]  # copied beside this file at run time

        proclab_shim.activate(os.environ.get("PROCLAB_RUN_DIR", os.getcwd()), how="python")
    except Exception:
        pass
