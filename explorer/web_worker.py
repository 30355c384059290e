"""The web server's worker: gunicorn's asyncio (ASGI) worker serving explorer/asgi.py, which
reads every request whole in the event loop before a thread runs Django, so that idle and
slow clients cost a socket and not a thread. This worker adds what that one lacks: it takes
new connections in turn with its siblings (explorer/accepting.py), at most
PHAROS_HTTP_MAX_CONNECTIONS at a time, and closes a connection whose request head is not
complete PHAROS_HTTP_IDLE_TIMEOUT seconds after it opened (gunicorn's keep-alive timer only
runs between requests, so a client that never sent its first request was held for ever).

This is the one room where Pharos reaches into gunicorn's internals (gunicorn 27.0.1), all of
the ASGI worker's: ASGIWorker._serve (overridden: its asyncio server accepts up to a hundred
connections per wake-up, whatever the siblings do, and never stops at worker_connections),
ASGIWorker._shutdown and _get_ssl_context (called as it does), ASGIWorker.nr_conns (the
connections a worker holds), the protocol class ASGIProtocol (subclassed) and its
_arm_keepalive_timer and _request_ready (the timer armed for the first request as gunicorn
arms it for the next ones), _awaiting_request and _keepalive_timeout (a stopping worker closes
its idle connections at once, where gunicorn waited for their keep-alive timeout to pass), and
_check_h1c_protocol_available (asked once on ASGIProtocol, so that our subclass parses requests
with gunicorn_h1c, gunicorn's C parser, as gunicorn's own worker does). PRIVATE_NAMES lists
them. When PHAROS_FAST_PATHS is off, or another gunicorn is installed (explorer/fast_paths.py),
`manage.py start` runs gunicorn's own ASGI worker instead (web_server_command): requests are
still read whole before a thread takes them, but without the cap, the first request's timer and
the accepting in turn.

gunicorn's threaded workers answered `417 Expectation Failed` to an Expect header other than
`100-continue`, which httplib2's clients send empty; the ASGI worker serves such requests.
"""

import asyncio
import errno
import os
import resource
import time
from collections import deque

from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers.gasgi import ASGIWorker

from explorer import accepting

READ_FROM = ("gunicorn", "27.0.1")
PRIVATE_NAMES = (
    "_serve",
    "_shutdown",
    "_get_ssl_context",
    "nr_conns",
    "ASGIProtocol",
    "_arm_keepalive_timer",
    "_request_ready",
    "_awaiting_request",
    "_keepalive_timeout",
    "_check_h1c_protocol_available",
)

# Connections accepted this recently count with the requests running when a worker decides
# how long to hold back (a burst of new connections is spread before they send anything).
RECENT = 0.05  # seconds
TLS_HANDSHAKE_TIMEOUT = 10  # seconds


class FirstRequestTimedProtocol(ASGIProtocol):
    def connection_made(self, transport):
        super().connection_made(transport)
        self.worker.connections.add(self)
        if self._request_ready is not None:  # HTTP/1 (HTTP/2 has its own idle timeout)
            self._arm_keepalive_timer()

    def connection_lost(self, exc):
        self.worker.connections.discard(self)
        super().connection_lost(exc)

    def close_if_idle(self):
        if self._awaiting_request and self._request_ready is not None:
            self._keepalive_timeout()


class BalancedAsyncWorker(ASGIWorker):
    def init_process(self):
        raise_open_files_limit()
        self.recent_accepts = deque()
        self.connections = set()
        self.opening = 0  # accepted, their protocol not yet made (a TLS handshake under way)
        # gunicorn looks for its C parser (gunicorn_h1c) through the protocol class in use but
        # reads the answer from ASGIProtocol itself: asked first through our subclass, it would
        # use its Python parser (GET /system served 1.14× faster with the C one).
        ASGIProtocol._check_h1c_protocol_available()
        super().init_process()

    async def _serve(self):
        accepting_tasks = [self.loop.create_task(self.accept_in_turn(listener.sock)) for listener in self.sockets]
        try:
            while self.alive:
                self.notify()
                if self.ppid != os.getppid():
                    self.log.info("Parent changed, shutting down: %s", self)
                    break
                await asyncio.sleep(1.0)
        except asyncio.CancelledError:
            pass
        for task in accepting_tasks:
            task.cancel()
        for connection in list(self.connections):
            connection.close_if_idle()  # the others end with their request
        await self._shutdown()

    async def accept_in_turn(self, listener):
        listener.setblocking(False)
        ssl_context = self._get_ssl_context()
        while self.alive:
            delay = accepting.delay(self.busy())
            if delay:
                await asyncio.sleep(delay)
            # Connections accepted but not yet made count too: their protocol starts a moment later.
            if self.nr_conns + self.opening >= self.worker_connections:
                await asyncio.sleep(0.1)  # the kernel keeps the connection for a sibling or for later
                continue
            try:
                client, _ = await self.loop.sock_accept(listener)
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self.log.error("Cannot accept a connection: %s", error)
                    await asyncio.sleep(0.5)
                    continue
                if error.errno in (errno.EAGAIN, errno.ECONNABORTED):
                    continue
                raise
            self.recent_accepts.append(time.monotonic())
            self.opening += 1
            self.loop.create_task(self.serve_connection(client, ssl_context))

    async def serve_connection(self, client, ssl_context):
        try:
            await self.loop.connect_accepted_socket(
                lambda: FirstRequestTimedProtocol(self),
                client,
                ssl=ssl_context,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if ssl_context else None,
            )
        except (TimeoutError, OSError) as error:  # a failed TLS handshake, a peer gone
            self.log.debug("Connection not served: %s", error)
            client.close()
        finally:
            self.opening -= 1

    def busy(self):
        """Requests this worker runs, and connections it accepted a moment ago."""
        horizon = time.monotonic() - RECENT
        while self.recent_accepts and self.recent_accepts[0] < horizon:
            self.recent_accepts.popleft()
        return getattr(self.asgi, "busy", 0) + len(self.recent_accepts)


def raise_open_files_limit():
    """As many open files as the system allows this process: each connection is one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
