"""A bare ASGI app for tests/test_daphne_uploads.py: reads the body, answers its size, SHA-256 and the process's peak RSS.

``SPOOL=1`` in the environment installs ``flashfusion.daphne_uploads`` (as ``flashfusion.asgi`` does).
"""

import hashlib
import json
import os
import resource

if os.environ.get("SPOOL") == "1":
    from flashfusion import daphne_uploads

    daphne_uploads.install()


def peak_rss_kib() -> int:
    """This process's own peak resident set size in KiB: ``VmHWM`` of /proc/self/status (Linux).

    Not ``getrusage().ru_maxrss``: that figure survives fork and exec, so a server started by a big pytest
    process would report the test process's peak, not its own.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def application(scope, receive, send):
    if scope["type"] != "http":
        return
    digest, size, most_waiting = hashlib.sha256(), 0, 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        digest.update(message.get("body", b""))
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    peak_kib = peak_rss_kib()
    body = json.dumps({"size": size, "sha256": digest.hexdigest(), "peak_rss_mib": peak_kib / 1024}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
