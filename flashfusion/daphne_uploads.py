"""Daphne without whole request bodies in memory: large uploads stay on disk until Django reads them.

Two places hold a whole body in daphne 4 / Twisted:

1. ``twisted.web.http.Request.requestReceived`` reads a ``multipart/form-data`` body completely
   (``content.read()``) and parses it into ``request.args``, which daphne never uses. Turned off
   (``parsePOSTFormSubmission``).
2. ``daphne.http_protocol.WebRequest.process`` reads the whole body (Twisted keeps it in a temporary
   file from 100 kB on: ``gotLength``) and puts every 8 kB piece on the application's queue at once.
   Here the body is fed instead while the application reads it: at most ``QUEUED_PIECES`` pieces
   wait on the queue. Django then spools it to its own temporary file
   (``FILE_UPLOAD_MAX_MEMORY_SIZE``, ``TemporaryFileUploadHandler``).

``install()`` makes daphne build these requests; ``flashfusion.asgi`` calls it, so every way of
starting daphne on ``flashfusion.asgi:application`` gets it.
"""

import asyncio
import logging

from daphne import http_protocol

log = logging.getLogger(__name__)

#: Body pieces waiting on an application's queue at most (pieces of daphne's request_buffer_size, 8 kB).
QUEUED_PIECES = 8


class _Body:
    """The request's body file (Twisted's: a ``BytesIO`` under 100 kB, else a temporary file), held back once.

    The first ``read(n)`` after ``hold()`` answers ``b""``: daphne's feeding loop then ends at once
    with one empty piece, which ``SpoolingWebRequest`` replaces by feeding the file itself.
    """

    def __init__(self, file):
        self.file = file
        self.held = False

    def hold(self):
        self.held = True

    def read(self, size=-1):
        if self.held:
            self.held = False
            return b""
        return self.file.read(size)

    def __getattr__(self, name):
        return getattr(self.file, name)


class SpoolingWebRequest(http_protocol.WebRequest):
    """daphne's ``WebRequest`` that never reads a request body into memory (see the module's docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._parsePOSTFormSubmission = False  # Twisted's own multipart parsing reads the whole body
        self._feeding = False

    def gotLength(self, length):
        super().gotLength(length)
        self.content = _Body(self.content)

    @property
    def application_queue(self):
        return self.__dict__.get("_application_queue")

    @application_queue.setter
    def application_queue(self, queue):
        self.__dict__["_application_queue"] = queue
        if queue is not None and isinstance(self.content, _Body) and not self._feeding:
            self._feeding = True
            self.content.hold()
            original = queue.put_nowait

            def put_nowait(message, _first=[True]):
                if _first[0] and message.get("type") == "http.request":
                    _first[0] = False
                    asyncio.ensure_future(self._feed(queue, original))
                    return None
                return original(message)

            queue.put_nowait = put_nowait

    async def _feed(self, queue, put):
        """Put the body on ``queue`` piece by piece, waiting while ``QUEUED_PIECES`` are unread."""
        size = self.server.request_buffer_size
        body = self.content.file
        try:
            while True:
                while queue.qsize() >= QUEUED_PIECES:
                    await asyncio.sleep(0.001)
                if body.closed:
                    return
                piece = body.read(size)
                more = len(piece) == size
                put({"type": "http.request", "body": piece, "more_body": more})
                if not more:
                    return
                await asyncio.sleep(0)
        except Exception:  # the connection went away mid-body: the application gets its disconnect
            log.exception("feeding a request body failed")


def install() -> None:
    """Make daphne's HTTP factory build ``SpoolingWebRequest`` (idempotent)."""
    http_protocol.WebRequest = SpoolingWebRequest
