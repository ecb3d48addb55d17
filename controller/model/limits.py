"""Every bound on a rollout manifest, in one place: the models, the CRD, the loader and the README use these.

A value outside these ranges is not a taste question: each bound stops something that would hurt the
operator or the cluster later (a query storm, an overflow in every reconcile, a header that splits an HTTP
request, an object the API server would refuse anyway). Chosen like an SRE would: generous for any real
rollout, tight enough that the worst a tenant can write is cheap.
"""

from __future__ import annotations

SECOND = 1.0
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# --- durations: (minimum, maximum) in seconds ----------------------------------------------------------
INTERVAL = (1 * SECOND, 1 * HOUR)
"""Between evaluations. ``0s`` would query Prometheus in a loop; a scrape is rarely under 1 s anyway."""
TIMEOUT = (1 * SECOND, 5 * MINUTE)
"""Per query. Prometheus's own ``--query.timeout`` defaults to 2m; waiting longer helps no one."""
WINDOW = (10 * SECOND, 1 * DAY)
"""Range of a query: under 10 s no ``rate()`` sees two scrapes; over a day a range query gets expensive."""
WARMUP = (0.0, 1 * DAY)
PAUSE = (0.0, 7 * DAY)
"""A bake longer than a week is a human decision: use ``pause: manual``."""
MAX_HOLD = (0.0, 7 * DAY)
SCALE_DOWN_BLUE_AFTER = (0.0, 30 * DAY)

# --- counts -------------------------------------------------------------------------------------------
FAILURE_LIMIT = (1, 100)
REQUIRED_PASSES = (1, 100)
MIN_REQUESTS = (0, 1_000_000_000)
TOTAL_REPLICAS = (1, 10_000)
MAX_STEPS = 20
MAX_CHECKS = 32
MAX_HEADERS = 16

# --- strings ------------------------------------------------------------------------------------------
QUERY_MAX_LENGTH = 4096
"""PromQL a human writes is well under 1 KiB; 4 KiB leaves room and keeps the GET URL under proxy limits."""
URL_MAX_LENGTH = 2048
HEADER_NAME_MAX_LENGTH = 64
HEADER_VALUE_MAX_LENGTH = 1024
NAME_MAX_LENGTH = 253
"""DNS-1123 subdomain length: Gateway API section names, Istio route names, Secret keys."""
HAPROXY_NAME_MAX_LENGTH = 64
SOCKET_PATH_MAX_LENGTH = 107
"""``sun_path`` holds 108 bytes on Linux, one of them the terminating NUL."""

# --- objects, as the Kubernetes API server bounds them ----------------------------------------------------
TOTAL_ANNOTATION_BYTES = 256 * 1024
"""k8s.io/apimachinery pkg/api/validation/objectmeta.go: ``TotalAnnotationSizeLimitB = 256 * (1 << 10)``,
the sum of ``len(key) + len(value)`` in bytes over all annotations of one object."""
MAX_OBJECT_BYTES = 3 * 1024 * 1024 // 2
"""etcd refuses requests over ``--max-request-bytes``, 1.5 MiB by default (etcd.io/docs, dev-guide/limit),
so no stored object is larger; the API server itself reads request bodies up to twice that,
``MaxRequestBodyBytes = 3 * 1024 * 1024`` (k8s.io/apiserver pkg/server/config.go), to allow for JSON."""
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024

# --- parsing user YAML --------------------------------------------------------------------------------
MAX_INPUT_BYTES = 8 * 1024 * 1024
"""One file or stdin: room for hundreds of rollouts; ``greenlane validate`` reads no more."""
MAX_DEPTH = 64
"""Nesting of one document. A rollout is about 8 deep, ``kubectl get -o yaml`` output (managedFields) about
15; 64 keeps every recursive step (YAML composer, pydantic, JSON) far from Python's recursion limit."""
MAX_NODES = 50_000
"""Scalars, mappings and sequences of one document after alias and merge-key expansion: a rollout has a
few hundred; the bound makes a billion-laughs document fail after reading at most this many nodes."""
