"""Kubernetes names: validation of DNS-1123 labels and derivation of names from model ids.

An InferenceService name becomes part of hostnames (`<name>-predictor.<namespace>`), so names are
kept to DNS-1035 labels (start with a letter) and to `MAX_NAME_CHARS`, leaving room for the
suffixes KServe adds.
"""

from __future__ import annotations

import hashlib
import re

from deploy.errors import InvalidNameError

DNS_LABEL_MAX_CHARS = 63
MAX_NAME_CHARS = 45  # KServe appends "-predictor" (and Knative more) to the name in hostnames
_LABEL_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def validate_name(name: str, *, what: str = "name", max_chars: int = MAX_NAME_CHARS) -> str:
    """Return name unchanged if it is a DNS-1035 label of at most max_chars.

    Raises:
        InvalidNameError: empty, too long, upper case, or characters outside [a-z0-9-].
    """
    _check(name, what=what, max_chars=max_chars, pattern=_LABEL_RE)
    return name


def validate_namespace(namespace: str) -> str:
    """Return the namespace unchanged if it is a DNS-1123 label.

    Raises:
        InvalidNameError: not a DNS-1123 label.
    """
    _check(namespace, what="namespace", max_chars=DNS_LABEL_MAX_CHARS, pattern=_NAMESPACE_RE)
    return namespace


def _check(value: str, *, what: str, max_chars: int, pattern: re.Pattern[str]) -> None:
    if not value:
        raise InvalidNameError(what, value, "it is empty")
    if len(value) > max_chars:
        raise InvalidNameError(what, value, f"it has {len(value)} characters, the limit is {max_chars}")
    if not pattern.fullmatch(value):
        raise InvalidNameError(what, value, "it contains characters other than a-z, 0-9 and '-'")


def is_label_value(value: str) -> bool:
    """True if value can be a Kubernetes label value (63 chars, alphanumerics, '-', '_', '.')."""
    return len(value) <= DNS_LABEL_MAX_CHARS and bool(_LABEL_VALUE_RE.fullmatch(value))


def slug(text: str) -> str:
    """Lower-case text with every run of other characters turned into one '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def derive_name(model_id: str, gpu_id: str, tensor_parallel: int) -> str:
    """Derive a stable InferenceService name, e.g. 'llama-3-1-8b-instruct-h100-sxm-tp2'.

    The same model, GPU and TP always give the same name, so re-deploying a plan updates in place.
    A name over MAX_NAME_CHARS is cut and ends in a hash of the full text, to stay unique.
    """
    model_part = slug(model_id.rsplit("/", 1)[-1]) or "model"
    full = f"{model_part}-{slug(gpu_id) or 'gpu'}-tp{tensor_parallel}"
    if not full[0].isalpha():
        full = f"m-{full}"
    if len(full) > MAX_NAME_CHARS:
        digest = hashlib.sha256(f"{model_id}|{gpu_id}|{tensor_parallel}".encode()).hexdigest()[:8]
        full = f"{full[: MAX_NAME_CHARS - 9].rstrip('-')}-{digest}"
    return validate_name(full)
