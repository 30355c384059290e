"""One exception type and one JSON error shape, as Orthanc answers errors.

Anything raised as a PharosError reaches the client as
`{HttpError, HttpStatus, Message, Method, OrthancError, OrthancStatus, Uri, Details?}`.
"""

from http import HTTPStatus


class PharosError(Exception):
    http_status = 500
    orthanc_status = -1
    orthanc_error = "Internal error"
    retry_after = None  # seconds, sent as Retry-After: the failure should pass by then

    def __init__(self, details=None, *, message=None):
        super().__init__(details or message or self.orthanc_error)
        self.details = details
        self.message = message or self.orthanc_error

    def body(self, method, uri):
        body = {
            "HttpError": HTTPStatus(self.http_status).phrase,
            "HttpStatus": self.http_status,
            "Message": self.message,
            "Method": method,
            "OrthancError": self.orthanc_error,
            "OrthancStatus": self.orthanc_status,
            "Uri": uri,
        }
        if self.details:
            body["Details"] = self.details
        return body


def validation_details(error):
    """A Django ValidationError of a model's full_clean() as one line: "field: reason; …"."""
    return "; ".join(f"{field}: {' '.join(reasons)}" for field, reasons in error.message_dict.items())


class ParameterOutOfRange(PharosError):
    http_status, orthanc_status, orthanc_error = 400, 3, "Parameter out of range"


class BadRequest(PharosError):
    http_status, orthanc_status, orthanc_error = 400, 8, "Bad request"


class BadJson(PharosError):
    http_status, orthanc_status, orthanc_error = 400, 28, "Cannot parse a JSON document"


class BadFileFormat(PharosError):
    http_status, orthanc_status, orthanc_error = 400, 15, "Bad file format"


class UnsupportedMediaType(PharosError):
    http_status, orthanc_status, orthanc_error = 415, 8, "Unsupported media type"


class UnknownResource(PharosError):
    http_status, orthanc_status, orthanc_error = 404, 17, "Unknown resource"


class InexistentItem(PharosError):
    http_status, orthanc_status, orthanc_error = 404, 7, "Accessing an inexistent item"


class CannotOrderSlices(PharosError):
    http_status, orthanc_status, orthanc_error = 500, 2040, "Unable to order the slices of the series"


class UnknownDicomTag(PharosError):
    # Orthanc answers 500 here; an unknown tag name is the client's mistake.
    http_status, orthanc_status, orthanc_error = 400, 27, "Unknown DICOM tag"


class StorageFailure(PharosError):
    http_status, orthanc_status, orthanc_error = 507, 14, "Cannot write to file"


class DatabaseFailure(PharosError):
    http_status, orthanc_status, orthanc_error = 503, 11, "Error with the database engine"


class NetworkProtocol(PharosError):
    # Orthanc's answer when a remote modality fails or cannot be reached.
    http_status, orthanc_status, orthanc_error = 500, 9, "Error in the network protocol"


class RemoteRefused(PharosError):
    http_status, orthanc_status, orthanc_error = 422, 9, "Error in the network protocol"


class Forbidden(PharosError):
    # Orthanc's ForbiddenAccess, which its authorization plugin answers for a right missing.
    http_status, orthanc_status, orthanc_error = 403, 45, "Access to a resource is forbidden"


class TooManyFailedLogins(PharosError):
    # Orthanc has no lock-out; its "Bad credentials", with the status that tells to wait.
    http_status, orthanc_status, orthanc_error = 429, 29, "Bad credentials were provided to an HTTP request"


class PayloadTooLarge(PharosError):
    # A body beyond PHAROS_MAX_UPLOAD_SIZE, or a ZIP archive that would expand beyond
    # PHAROS_MAX_ZIP_EXPANSION or hold more than PHAROS_MAX_ZIP_MEMBERS files.
    http_status, orthanc_status, orthanc_error = 413, 8, "Payload too large"


# --- a service the server needs is down (explorer/failures.py answers these) ---------------


class ServiceUnavailable(PharosError):
    """Orthanc's DatabaseUnavailable, which it answers with 503: the client may retry."""

    http_status, orthanc_status = 503, 36
    orthanc_error = "The database is currently not available (probably a transient situation)"
    retry_after = 10


class DatabaseUnavailable(ServiceUnavailable):
    pass


class JobQueueUnavailable(ServiceUnavailable):
    # Redis holds the queue of jobs: Orthanc keeps its jobs in its database, so the same
    # status tells a client to retry.
    orthanc_error = "The job queue (Redis) is currently not available (probably a transient situation)"
