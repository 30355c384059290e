"""The DICOM server made with pynetdicom's AE.make_server, with the classes of this seam
when its fast paths are on.

Private names of pynetdicom used here, and why: AE._servers, the list AE.shutdown() and
AssociationServer.shutdown() work on, which AE.start_server fills but make_server does not.
"""

from dicomnet.wire import fast_paths
from dicomnet.wire.reactors import RequestHandler

PRIVATE_NAMES = ("_servers",)


class SharedContexts(list):
    """The server's presentation contexts, given to every association as they are.

    pynetdicom deep-copies the server's contexts for each association it accepts: with
    every storage class in every transfer syntax that is thousands of objects, about a
    tenth of a second of CPU per association. Negotiation only reads them."""

    def __deepcopy__(self, memo):
        return self


def make_server(ae, address, **options):
    """ae.make_server(address, **options) with our associations (wire.reactors) and shared
    contexts when the fast paths are on, pynetdicom's own otherwise; the server is
    registered with the AE as AE.start_server registers its own."""
    if fast_paths():
        server = ae.make_server(
            address, contexts=SharedContexts(ae.supported_contexts), request_handler=RequestHandler, **options
        )
    else:
        server = ae.make_server(address, contexts=list(ae.supported_contexts), **options)
    ae._servers.append(server)  # AssociationServer.shutdown() removes it
    return server
