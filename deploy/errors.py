"""Errors raised by deploy/.

    DeployError                      base: every message is shown to a user as is
    ├── PlanInputError               the plan cannot be rendered (no option N, no serving config, bad value)
    ├── InvalidNameError             a name or namespace that is not a DNS-1123 label
    ├── SettingsError                a render setting a reviewer would refuse (unpinned image, ...)
    ├── ManifestInvalidError         a rendered object fails its schema (a bug in predeploy: report it)
    ├── ClusterUnavailableError      no kubeconfig / no cluster to talk to
    ├── RejectedError                the API server refused an object (4xx: admission, validation, RBAC)
    ├── TransientDeployError         5xx, 429 or a connection failure: safe to retry the same call
    ├── UnhealthyError               the endpoint does not answer /health, /v1/models or a completion
    └── RolledBackError              applied, then not Ready or not healthy in time; changes were undone

Messages give the fact, the numbers and the fix, because people read them in Slack.
"""

from __future__ import annotations

from collections.abc import Sequence


class DeployError(Exception):
    """Base class: the message is meant for the user."""


class PlanInputError(DeployError):
    """The plan or option cannot be turned into manifests."""


class InvalidNameError(DeployError):
    """A Kubernetes name that is not a valid DNS-1123 label."""

    def __init__(self, what: str, value: str, reason: str) -> None:
        self.what = what
        self.value = value
        super().__init__(
            f"{what} {value!r} is not a valid Kubernetes name: {reason}. Use at most 63 lower-case "
            "letters, digits and '-', starting with a letter and ending with a letter or digit."
        )


class SettingsError(DeployError):
    """A render setting that is out of range or unsafe."""


class ManifestInvalidError(DeployError):
    """A rendered object that does not validate against its schema."""

    def __init__(self, kind: str, name: str, problems: Sequence[str]) -> None:
        self.kind = kind
        self.name = name
        self.problems = tuple(problems)
        listed = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(
            f"rendered {kind} {name!r} fails schema validation: {listed}{more}. "
            "This is a bug in predeploy's templates; please report it with the plan."
        )


class ClusterUnavailableError(DeployError):
    """There is no cluster to apply to (no kubeconfig, unknown context)."""


class RejectedError(DeployError):
    """The Kubernetes API refused a request with a 4xx status."""

    def __init__(self, action: str, kind: str, name: str, status: int, reason: str) -> None:
        self.status = status
        super().__init__(f"the cluster refused to {action} {kind} {name!r} (HTTP {status}): {reason}")


class TransientDeployError(DeployError):
    """A failure that may pass: HTTP 5xx or 429, a timeout or a refused connection. Retry the job."""


class UnhealthyError(DeployError):
    """The serving endpoint failed a health check."""


class RolledBackError(DeployError):
    """The deployment did not become Ready and healthy; what was changed has been undone."""

    def __init__(self, name: str, why: str, rollback: Sequence[str]) -> None:
        self.name = name
        self.why = why
        self.rollback = tuple(rollback)
        undone = "; ".join(self.rollback) if self.rollback else "nothing to undo"
        super().__init__(f"deployment {name!r} failed: {why}. Rolled back: {undone}.")
