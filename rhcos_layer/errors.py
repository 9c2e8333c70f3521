"""The errors rhcos-layer raises, one class per thing the user must fix.

Core code and adapters raise these; only ``rhcos_layer.cli`` prints them, as one line on
stderr, and exits with the class's ``exit_code``. The codes are documented in
``docs/exit-codes.md``: keep that table and this module in step.
"""

from __future__ import annotations


class RhcosLayerError(Exception):
    """Base class: something went wrong that the user can act on."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        #: What to do next, printed after the message.
        self.hint = hint
        #: Longer output (a build log, a command's output) shown below the message.
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class InvalidInput(RhcosLayerError):
    """A file or flag the user gave is wrong: a Containerfile, the project file, a value."""

    exit_code = 3


class ContainerfileError(InvalidInput):
    """The Containerfile is missing, unreadable, or would build an image that breaks nodes."""


class ProjectFileError(InvalidInput):
    """``rhcos-layer.yaml`` is malformed or has a key with a wrong value."""


class InvalidPayload(InvalidInput):
    """The release image given is not a well-formed release payload (a truncated or oversized layer,
    a malformed image-references) or goes past rhcos-layer's size limits."""


class CredentialsRejected(RhcosLayerError):
    """A registry refused the credentials (401/403), or none were found for it."""

    exit_code = 4


class UntrustedCertificate(RhcosLayerError):
    """A registry's TLS certificate is not trusted (unknown CA, wrong host name)."""

    exit_code = 5


class RegistryUnavailable(RhcosLayerError):
    """A registry could not be reached or kept failing (connection errors, 5xx)."""

    exit_code = 6


class ImageNotFound(RhcosLayerError):
    """An image or digest does not exist where it was looked for."""

    exit_code = 7


class BuildFailed(RhcosLayerError):
    """``podman build`` ran but a step failed; ``detail`` holds the build log."""

    exit_code = 8


class EngineUnavailable(RhcosLayerError):
    """No Podman service could be reached or started."""

    exit_code = 9


class ClusterAccessError(RhcosLayerError):
    """No usable kubeconfig, an expired login, or a missing permission."""

    exit_code = 10


class ClusterForbidden(ClusterAccessError):
    """The login lacks a permission (HTTP 403, or a SelfSubjectAccessReview that says no): the message
    names the verb and the resource, so a cluster admin can grant exactly that."""


class ClusterUnreachable(RhcosLayerError):
    """The cluster's API server did not answer."""

    exit_code = 11


class ClusterFlaky(ClusterUnreachable):
    """The API server failed for a moment (HTTP 5xx or 429, a timeout, a reset connection): a watch
    retries it with backoff, and gives up with this error only after a long outage."""


class PreflightFailed(RhcosLayerError):
    """``apply`` refused: a preflight check failed that the user did not ignore. Nothing was written."""

    exit_code = 12


class RolloutFailed(RhcosLayerError):
    """A node went Degraded during the rollout (the wait stopped there)."""

    exit_code = 13


class RolloutTimeout(RhcosLayerError):
    """The rollout did not finish within --timeout, or made no progress for --progress-deadline; it
    goes on in the cluster."""

    exit_code = 14


class ToolMissing(RhcosLayerError):
    """A command the user asked rhcos-layer to run is not installed (``oc`` for ``--via oc``).

    Not EngineUnavailable's 9: a script that restarts Podman on 9 cannot install ``oc``."""

    exit_code = 15


class NoSpaceLeft(RhcosLayerError):
    """A disk (usually TMPDIR's) is full or over quota: free space there, or point TMPDIR elsewhere."""

    exit_code = 16


class ClusterObjectNotFound(RhcosLayerError):
    """An object the command needs is not on the cluster (HTTP 404): not an OpenShift cluster, an
    operator that is not installed, or something deleted meanwhile. Never an image that is missing."""

    exit_code = 17


class ClusterConflict(RhcosLayerError):
    """Someone else changed or deleted the object between our read and our write (HTTP 409, or a
    failed resourceVersion precondition): nothing of theirs was overwritten."""

    exit_code = 18


class PartiallyApplied(RhcosLayerError):
    """A command that writes several objects failed after some were written, and putting them back
    failed too: the message lists what is on the cluster now and the hint how to undo it."""

    exit_code = 19


class UpgradeNotReady(RhcosLayerError):
    """``upgrade plan``: a layered pool's image could not be made ready for the target release (its
    build or push failed, its project was not given...); ``upgrade apply`` refuses such a plan."""

    exit_code = 20


class ClusterUpgradeFailed(RhcosLayerError):
    """The cluster's own upgrade failed (ClusterVersion Failing=True) or made no progress for
    --progress-deadline: the layered pools stay paused; the hint says how to go on or back out."""

    exit_code = 21


class OnClusterBuildFailed(RhcosLayerError):
    """The cluster's own build of a pool's image (a MachineOSBuild) failed or was interrupted: the
    message names the build and its failed step, ``detail`` holds the tail of the builder's log."""

    exit_code = 22


class Interrupted(RhcosLayerError):
    """The user pressed Ctrl-C (the CLI maps KeyboardInterrupt to this exit code)."""

    exit_code = 130
