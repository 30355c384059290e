"""pynetdicom's process-wide settings (pynetdicom._config), set for the DICOM server.

- Received data sets are streamed to a temporary file (_config.STORE_RECV_CHUNKED_DATASET),
  and the ingest funnel renames that file into the store: a large instance is never held in
  memory. pynetdicom makes the file with dimse_messages.NamedTemporaryFile and no folder;
  that one name is replaced by wire.incoming's opener, which makes it in the incoming folder
  (on the store's file system: a rename across file systems fails) and removes it when its
  writing fails or its association ends. Nothing else in the process changes where its
  temporary files go (tempfile.tempdir is left alone).
- pynetdicom's logging of every handler call and identifier is turned off.
- Our SCU sends a stored file by its path (_config.STORE_SEND_CHUNKED_DATASET), streamed
  from disk instead of decoded.

Private names of pynetdicom used here, and why: pynetdicom._config (its documented settings
live in a private module); pynetdicom.dimse_messages.NamedTemporaryFile, as above. Both were
read from pynetdicom 3.0.4: with another version the data sets are received in memory.
"""

import pynetdicom.dimse_messages
from pynetdicom import _config

from dicomnet.wire import incoming, versions_match

PRIVATE_NAMES = ("_config", "dimse_messages")


def configure(incoming_folder):
    """Set pynetdicom up for the server: data sets received into files in `incoming_folder`
    (when the installed pynetdicom makes them where this module knows), quiet logging."""
    chunked = versions_match() and hasattr(pynetdicom.dimse_messages, "NamedTemporaryFile")
    if chunked:
        pynetdicom.dimse_messages.NamedTemporaryFile = incoming.opener(str(incoming_folder))
    _config.STORE_RECV_CHUNKED_DATASET = chunked
    _config.LOG_HANDLER_LEVEL = "none"
    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False


def datasets_received_as_files():
    """Whether a C-STORE's data set arrives as a file (event.dataset_path) or in memory."""
    return _config.STORE_RECV_CHUNKED_DATASET


def send_datasets_from_files():
    """Our SCU's C-STORE sends a file path as it is on disk. pynetdicom's switch is global;
    it changes nothing for callers that send data sets."""
    _config.STORE_SEND_CHUNKED_DATASET = True
