"""Shared pytest configuration."""

# --- Kubernetes emulator fixtures (owner: kube/routers) -------------------------------------------
# `kube` (a running StrictEmulator) and `api_client` (official client pointed at it); see
# tests/kube/fixtures.py and tests/kube/emulator.py.
pytest_plugins = ["tests.kube.fixtures"]
# --- end Kubernetes emulator fixtures -------------------------------------------------------------
