"""Building an API client: in-cluster when running in a pod, else from a kubeconfig."""

from __future__ import annotations

import getpass
import os

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from controller.kube.client import TimeoutApiClient


class KubeConfigError(Exception):
    """No usable cluster configuration; the message says what was tried."""


def api_client(kubeconfig: str | None = None, context: str | None = None) -> k8s.ApiClient:
    if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            k8s_config.load_incluster_config()
            return TimeoutApiClient()
        except ConfigException as exc:
            raise KubeConfigError(f"in-cluster configuration failed: {exc}") from exc
    configuration = k8s.Configuration()
    try:
        k8s_config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
    except (ConfigException, FileNotFoundError, OSError) as exc:
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise KubeConfigError(f"cannot load kubeconfig {where}: {exc}") from exc
    return TimeoutApiClient(configuration)


def default_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
    """The namespace of the current kubeconfig context (``default`` when unset), like kubectl."""
    try:
        _, current = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
    except (ConfigException, FileNotFoundError, OSError):
        return "default"
    if context:
        contexts, _ = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
        current = next((c for c in contexts if c.get("name") == context), current)
    return str((current or {}).get("context", {}).get("namespace") or "default")


def current_user(kubeconfig: str | None = None) -> str:
    """Who is issuing a command, for the audit trail: kubeconfig user, else the OS user."""
    try:
        _, current = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
        user = (current or {}).get("context", {}).get("user")
    except (ConfigException, FileNotFoundError, OSError):
        user = None
    return str(user or getpass.getuser())
