"""The API-server rules kmock leaves out, as pure functions over plain JSON dicts.

kmock's emulator deep-merges every write into the stored dict and knows no resourceVersion, so a
router that forgets its precondition, sends the wrong patch type or clobbers a list would still pass.
These functions encode the rules a real kube-apiserver enforces, so the routers are tested against
them; the emulator (``emulator.py``) only wires them to HTTP. Keeping them pure lets the rules be
tested without a server.
"""

from __future__ import annotations

import copy
import datetime
import random
import re
import uuid
from typing import Any

import jsonpatch
import jsonpointer
from kmock import KubernetesError

Json = dict[str, Any]

# Groups whose objects accept an update without metadata.resourceVersion (unconditional update).
# Custom resources do not: the apiserver answers 422 "must be specified for an update".
BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "networking.k8s.io",
        "coordination.k8s.io",
        "events.k8s.io",
        "policy",
        "autoscaling",
        "rbac.authorization.k8s.io",
    }
)

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the apiserver's generateName alphabet (no vowels)
_SERVER_FIELDS = ("uid", "creationTimestamp", "generation", "resourceVersion", "deletionTimestamp")


def api_error(status: int, reason: str, message: str, **details: Any) -> KubernetesError:
    """A Status-shaped failure; kmock renders it as the apiserver would (kind Status, code, reason)."""
    return KubernetesError(status=status, reason=reason, message=message, details=details or {})


def conflict(qualified: str, name: str) -> KubernetesError:
    """The exact 409 a stale resourceVersion gets, so client code can be tested on the real wording."""
    return api_error(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        name=name,
        kind=qualified,
    )


def generate_name(prefix: str, taken: set[str], rng: random.Random) -> str:
    """Mimic ``generateName``: prefix plus five random consonants/digits, unique among ``taken``."""
    for _ in range(100):
        name = prefix + "".join(rng.choice(_NAME_ALPHABET) for _ in range(5))
        if name not in taken:
            return name
    raise api_error(409, "AlreadyExists", f"could not generate a unique name from {prefix!r}")


def now_rfc3339() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp_new(body: Json, *, name: str, namespace: str | None, rv: int) -> Json:
    """The object as stored on create: server-owned metadata set, client-sent ones dropped."""
    obj = copy.deepcopy(body)
    meta = obj.setdefault("metadata", {})
    for field in (*_SERVER_FIELDS, "generateName"):
        meta.pop(field, None)
    meta["name"] = name
    if namespace is not None:
        meta["namespace"] = namespace
    meta.update(uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339(), generation=1, resourceVersion=str(rv))
    return obj


def check_precondition(old: Json, new: Json, *, qualified: str, require: bool) -> None:
    """Optimistic concurrency: a write carrying a resourceVersion must carry the current one."""
    sent = (new.get("metadata") or {}).get("resourceVersion")
    if sent in (None, ""):
        if require:
            raise api_error(
                422,
                "Invalid",
                f'{qualified} "{old["metadata"]["name"]}" is invalid: metadata.resourceVersion: '
                "Invalid value: 0x0: must be specified for an update",
            )
        return
    if str(sent) != old["metadata"]["resourceVersion"]:
        raise conflict(qualified, old["metadata"]["name"])


def next_version(old: Json, new: Json, *, subresource: str | None, rv: int) -> Json:
    """Merge a full replacement into the stored object the way the status subresource splits them.

    Writes to the main resource cannot change ``status``; writes to ``/status`` change nothing else.
    Identity metadata always comes from the stored object; ``generation`` counts spec changes only.
    """
    if subresource == "status":
        result = copy.deepcopy(old)
        if "status" in new:
            result["status"] = copy.deepcopy(new["status"])
        else:
            result.pop("status", None)
    else:
        result = copy.deepcopy(new)
        result.pop("status", None)
        if "status" in old:
            result["status"] = copy.deepcopy(old["status"])
    meta = result.setdefault("metadata", {})
    old_meta = old["metadata"]
    for field in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp"):
        if field in old_meta:
            meta[field] = old_meta[field]
    meta["generation"] = old_meta.get("generation", 1) + (1 if _spec_changed(old, result) else 0)
    meta["resourceVersion"] = str(rv)
    return result


def _spec_changed(old: Json, new: Json) -> bool:
    keys = (set(old) | set(new)) - {"metadata", "status"}
    return any(old.get(k) != new.get(k) for k in keys)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else (lists!) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _absent_null_tests(target: Json, ops: list[Any]) -> list[Any]:
    """The apiserver's JSON Patch (evanphx/json-patch) treats ``test`` with ``null`` on a missing member of
    an existing object as a match; python-jsonpatch fails it. Drop exactly those ops (they pass)."""
    kept = []
    for op in ops:
        if isinstance(op, dict) and op.get("op") == "test" and op.get("value", 0) is None:
            pointer = jsonpointer.JsonPointer(op.get("path", ""))
            parent_parts, key = pointer.parts[:-1], pointer.parts[-1] if pointer.parts else None
            try:
                parent = jsonpointer.JsonPointer.from_parts(parent_parts).resolve(target)
            except jsonpointer.JsonPointerException:
                parent = None  # a missing parent fails, as on the apiserver
            if isinstance(parent, dict) and key is not None and key not in parent:
                continue
        kept.append(op)
    return kept


def json_patch(target: Json, ops: Any) -> Json:
    """RFC 6902 with the apiserver's status codes: undecodable 400, a failed ``test`` or bad path 422."""
    if not isinstance(ops, list):
        raise api_error(400, "BadRequest", "json patch must be a list of operations")
    try:
        ops = _absent_null_tests(target, ops)
        patch = jsonpatch.JsonPatch(ops)
    except (jsonpatch.InvalidJsonPatch, jsonpointer.JsonPointerException, TypeError) as exc:
        raise api_error(400, "BadRequest", f"invalid json patch: {exc}") from exc
    try:
        result: Json = patch.apply(target, in_place=False)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise api_error(422, "Invalid", f"the server rejected our request: {exc}") from exc
    except (jsonpatch.JsonPatchConflict, jsonpointer.JsonPointerException, jsonpatch.InvalidJsonPatch) as exc:
        raise api_error(422, "Invalid", f"the server rejected our request: {exc}") from exc
    return result


def apply_patch(target: Json, patch: Any, content_type: str, *, custom: bool) -> Json:
    """Dispatch on Content-Type as the apiserver does; custom resources refuse strategic merge (415)."""
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    if kind == "application/json-patch+json":
        return json_patch(target, patch)
    if kind == "application/merge-patch+json":
        return merge_patch(target, patch)  # type: ignore[no-any-return]
    if kind == "application/strategic-merge-patch+json" and not custom:
        # Approximation: without the Go struct tags we cannot merge lists by key; lists replace.
        return merge_patch(target, patch)  # type: ignore[no-any-return]
    raise api_error(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json-patch+json, application/merge-patch+json (got {kind!r})",
    )


_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _selector_terms(selector: str) -> list[str]:
    """Split on commas outside parentheses: ``a in (x,y),b!=c`` is two terms."""
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    return [t.strip() for t in [*terms, current] if t.strip()]


def matches_selector(labels: dict[str, str], selector: str) -> bool:
    """A label selector as the apiserver reads it: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, ``in``, ``notin``."""
    for term in _selector_terms(selector):
        found = _SET_RE.match(term)
        if found:
            key, op, values = found.group(1), found.group(2), {v.strip() for v in found.group(3).split(",")}
            if (labels.get(key) in values) != (op == "in") or (op == "in" and key not in labels):
                return False
        elif "!=" in term:
            key, value = (p.strip() for p in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (p.strip() for p in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def scale_view(obj: Json) -> Json:
    """The ``autoscaling/v1`` Scale the ``/scale`` subresource shows for a Deployment-like object."""
    meta = obj["metadata"]
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
        },
    }


def with_scale(obj: Json, scale: Json) -> Json:
    """The object after a write to ``/scale``: only ``spec.replicas`` is taken from the Scale."""
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        raise api_error(422, "Invalid", f"spec.replicas: Invalid value: {replicas!r}: must be >= 0")
    result = copy.deepcopy(obj)
    result.setdefault("spec", {})["replicas"] = replicas
    return result
