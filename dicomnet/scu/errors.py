"""What our SCU raises: a `ScuError` for every failure to talk to the modality, a `BadQuery`
for a query or identifier that cannot be encoded (a 400 for the REST API), `Stopped` for a
stop request. Neither of the last two is a network failure."""

from explorer.errors import BadRequest


class ScuError(Exception):
    """Talking to the remote modality failed; the message says with whom and why."""


class NetworkError(ScuError):
    """No connection (refused, unreachable, timed out), or the connection was lost."""


class AssociationRejected(ScuError):
    """The modality rejected the association, or accepted none of the proposed contexts."""

    def __init__(self, message, transient=False):
        super().__init__(message)
        self.transient = transient


class AssociationAborted(ScuError):
    """The modality aborted the association (A-ABORT)."""


class RemoteFailure(ScuError):
    """The modality answered a request with a failure status (or a warning with failed sub-operations)."""

    def __init__(self, message, status, completed=0, failed=0, warning=0):
        super().__init__(message)
        self.status = status
        self.completed = completed
        self.failed = failed
        self.warning = warning


class BadQuery(BadRequest):
    """A query key or identifier that cannot become a DICOM identifier."""


class Stopped(Exception):
    """`should_stop()` returned True; `content` is what was done until then."""

    def __init__(self, content=None):
        super().__init__("Stopped on request")
        self.content = content


def failure_text(modality, doing, reason):
    """Orthanc's wording, plus where the modality is: it is what an administrator checks first."""
    return f'DicomAssociation - {doing} AET "{modality.aet}": {reason} (host: {modality.host}, port: {modality.port})'
