"""The web process's routes, one module per area."""
