"""One exception type and one JSON error shape, as Orthanc answers errors.

Anything raised as a PharosError reaches the client as
`{HttpError, HttpStatus, Message, Method, OrthancError, OrthancStatus, Uri, Details?}`.
"""

from http import HTTPStatus


class PharosError(Exception):
    http_status = 500
    orthanc_status = -1
    orthanc_error = "Internal error"

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
