"""Several server processes accepting connections on one listening socket, evenly.

Every process waiting on the socket wakes for a new connection and the first to accept it
gets it. Left alone, connections arriving together (four upload threads, four storescu)
often all went to one process, which the GIL then held to one core while the others idled.
A process already serving connections holds back a moment first, so an idler one wins.
Used by the web server's workers (explorer/web_worker.py, which waits delay() in its event
loop) and the DICOM server's processes (dicomnet/scp.py).
"""

import time

DELAY_PER_CONNECTION = 0.005  # seconds
DELAY_MAX = 0.05


def delay(open_connections):
    """How long to wait before accepting: the longer the more connections this process serves."""
    return min(open_connections * DELAY_PER_CONNECTION, DELAY_MAX)


def hold_back(open_connections):
    """Wait before accepting, the longer the more connections this process already serves."""
    if open_connections:
        time.sleep(delay(open_connections))
