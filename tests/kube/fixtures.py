"""Pytest fixtures for tests that talk to the Kubernetes API (loaded from ``tests/conftest.py``).

``kube`` is a fresh, empty emulator per test (state and request journal isolated, stopped after the
test); ``api_client`` is an official-client ``ApiClient`` pointed at it and closed after the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s

from tests.kube.harness import RunningEmulator, running_emulator


@pytest.fixture
def kube() -> Iterator[RunningEmulator]:
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture
def api_client(kube: RunningEmulator) -> Iterator[k8s.ApiClient]:
    api: Any = kube.api_client()  # the client is untyped; keep that at this edge
    try:
        yield api
    finally:
        api.close()
