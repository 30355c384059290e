"""The web application as gunicorn's asyncio worker serves it: each request read whole by the
event loop, then handed to Django's WSGI handler in a thread.

gunicorn's threaded worker gave each new connection a thread, which then waited for the
request's headers: sixteen idle or slow clients took every thread and everyone else waited.
Here the event loop (gunicorn's ASGI worker, explorer/web_worker.py) reads the head and the
body of every request, so an idle or slow client costs a socket and a few kilobytes, and only a
request read whole takes one of PHAROS_HTTP_THREADS threads. The body waits in memory up to
BODY_IN_MEMORY bytes, in a temporary file beyond (bounded memory); a body announced larger than
PHAROS_MAX_UPLOAD_SIZE is answered 413 before it is read, one that grows beyond it while read
(chunked) as soon as it does. A body that stalls for PHAROS_HTTP_IDLE_TIMEOUT seconds ends the
connection.

Django runs as under any WSGI server (explorer/wsgi.py): the same middleware, the same threads
kept from request to request with their database connections, not Django's ASGI handler,
which would start a thread and a database connection per request. Each answered request is a
line of the access log (explorer/access_log.py).
"""

import asyncio
import io
import json
import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote_to_bytes

from django.conf import settings

from explorer import access_log, bodies
from explorer.errors import PayloadTooLarge
from explorer.wsgi import application as wsgi_application

BODY_IN_MEMORY = 1024 * 1024  # bytes of a request body held in memory; beyond, a file
# A response of this many bytes or fewer is handed back to the event loop at once, in one
# wake-up; a longer one is sent chunk by chunk as the thread produces it.
RESPONSE_AT_ONCE = 256 * 1024


class BodyStalled(Exception):
    """The client stopped sending the body it announced."""


class BufferedWSGI:
    """An ASGI application running a WSGI application on requests read whole (see above)."""

    def __init__(self, wsgi_app, threads, max_body, idle_timeout):
        self.wsgi_app = wsgi_app
        self.threads = ThreadPoolExecutor(threads, thread_name_prefix="web")
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.busy = 0  # requests handed to a thread: explorer/web_worker.py accepts by it

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.lifespan(receive, send)
        if scope["type"] != "http":
            raise ValueError(f"Pharos serves HTTP, not {scope['type']}")
        await self.serve(scope, receive, send)

    async def serve(self, scope, receive, send):
        announced = header(scope, b"content-length")
        if announced is not None and announced.isdigit() and int(announced) > self.max_body:
            return await send_error(send, scope, self.too_large())
        try:
            body, length = await self.read_body(receive)
        except PayloadTooLarge as error:
            return await send_error(send, scope, error)
        except BodyStalled:
            return  # the connection is closed with the request unanswered: no one listens
        try:
            environ = wsgi_environ(scope, body, length)
            loop = asyncio.get_running_loop()
            self.busy += 1
            status, headers, chunks, sent = await loop.run_in_executor(
                self.threads, run_wsgi, self.wsgi_app, environ, loop, send
            )
        finally:
            self.busy -= 1
            body.close()
        if headers is not None:  # else streamed from the thread
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b"".join(chunks)})
        access_log.write(scope, status, sent)

    async def read_body(self, receive):
        """The body in a file-like object (in memory up to BODY_IN_MEMORY bytes, then a
        temporary file) and its length. In memory, the chunks are kept as they came and joined
        once at the end (a one-chunk body is not copied at all)."""
        chunks, spilled, length, more = [], None, 0, True
        loop = asyncio.get_running_loop()
        try:
            # One timer for the whole body, pushed back by each chunk (wait_for would make a
            # task per chunk).
            async with asyncio.timeout(self.idle_timeout) as stall:
                while more:
                    message = await receive()
                    stall.reschedule(loop.time() + self.idle_timeout)
                    if message["type"] == "http.disconnect":
                        raise BodyStalled()
                    chunk = message.get("body", b"")
                    length += len(chunk)
                    if length > self.max_body:
                        raise self.too_large()
                    if spilled is not None:
                        spilled.write(chunk)
                    elif chunk:
                        chunks.append(chunk)
                        if length > BODY_IN_MEMORY:
                            spilled = tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)
                            spilled.writelines(chunks)
                            chunks = None
                    more = message.get("more_body", False)
        except TimeoutError:
            if spilled is not None:
                spilled.close()
            raise BodyStalled() from None
        except BaseException:
            if spilled is not None:
                spilled.close()
            raise
        if spilled is None:
            return io.BytesIO(b"".join(chunks)), length
        spilled.seek(0)
        return spilled, length

    def too_large(self):
        return bodies.too_large(self.max_body)

    async def lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.threads.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return


def header(scope, name):
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1").strip()
    return None


async def send_error(send, scope, error):
    body = json.dumps(error.body(scope["method"], scope["path"]), indent=4).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    # The body left unread ends the connection after this answer (gunicorn does not read it).
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    access_log.write(scope, error.http_status, len(body))


def wsgi_environ(scope, body, length):
    """PEP 3333's environ for an ASGI HTTP scope, as gunicorn's WSGI workers build it."""
    server_host, server_port = scope.get("server") or ("localhost", 80)
    client_host, client_port = scope.get("client") or ("", 0)
    query = scope.get("query_string", b"")
    raw_path = scope.get("raw_path") or scope["path"].encode()
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", ""),
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "RAW_URI": (raw_path + (b"?" + query if query else b"")).decode("latin-1"),
        "SERVER_NAME": str(server_host),
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client_host),
        "REMOTE_PORT": str(client_port),
        "CONTENT_LENGTH": str(length),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.input_terminated": True,
        "wsgi.errors": WSGI_ERRORS,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope["headers"]:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key == "CONTENT_LENGTH":
            continue  # the length read, which a chunked body has too
        if key != "CONTENT_TYPE":
            key = "HTTP_" + key
        value = value.decode("latin-1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class ErrorsToLog:
    """wsgi.errors: what the application writes there goes to gunicorn's error log."""

    def write(self, text):
        logging.getLogger("gunicorn.error").error(text.rstrip())

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass


WSGI_ERRORS = ErrorsToLog()


def run_wsgi(wsgi_app, environ, loop, send):
    """Run the WSGI application in a worker thread: (status, headers, body chunks, body size).
    A short answer comes back whole (one wake-up of the event loop); a long one goes out from
    here as it comes, the thread waiting for each chunk to be taken (backpressure), and comes
    back with headers None."""
    started = []

    def start_response(status, headers, exc_info=None):
        if exc_info and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [status, headers]

    result = wsgi_app(environ, start_response)
    try:
        chunks, size, sent, streaming = [], 0, 0, False
        for chunk in result:
            if not chunk:
                continue
            chunks.append(chunk)
            size += len(chunk)
            if size > RESPONSE_AT_ONCE:
                if not streaming:
                    streaming = True
                    status, headers = response_head(*started)
                    message = {"type": "http.response.start", "status": status, "headers": headers}
                    wait_for(send(message), loop)
                wait_for(send({"type": "http.response.body", "body": b"".join(chunks), "more_body": True}), loop)
                chunks, sent, size = [], sent + size, 0
    finally:
        if hasattr(result, "close"):
            result.close()
    if streaming:
        # The head went out already: what is left ends the body, the rest sends nothing more.
        wait_for(send({"type": "http.response.body", "body": b"".join(chunks)}), loop)
        return status, None, None, sent + size
    status, headers = response_head(*started)
    return status, headers, chunks, size


def wait_for(coroutine, loop):
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result()


def response_head(status, headers):
    return int(status.split(" ", 1)[0]), [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


application = BufferedWSGI(
    wsgi_application,
    threads=settings.PHAROS_HTTP_THREADS,
    max_body=settings.PHAROS_MAX_UPLOAD_SIZE,
    idle_timeout=settings.PHAROS_HTTP_IDLE_TIMEOUT,
)
