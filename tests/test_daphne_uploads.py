"""A real daphne server receives a 100 MB multipart upload without holding it in memory.

Without ``flashfusion.daphne_uploads`` daphne puts the whole body on the application's queue at once
and Twisted parses a multipart body in memory: the server's peak RSS grows by more than the body.
"""

import hashlib
import http.client
import json
import os
import sys
import time
from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, _free_port, _spawn, _stop

MIB = 1024 * 1024
SIZE = 100 * MIB


def _upload(port, path: Path, boundary=b"----flashfusion-test"):
    head = (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
            b"Content-Type: text/csv\r\n\r\n")
    tail = b"\r\n--" + boundary + b"--\r\n"
    length = len(head) + path.stat().st_size + len(tail)
    digest = hashlib.sha256(head)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.putrequest("POST", "/upload")
    conn.putheader("Content-Type", "multipart/form-data; boundary=" + boundary.decode())
    conn.putheader("Content-Length", str(length))
    conn.endheaders()
    conn.send(head)
    with open(path, "rb") as handle:
        while piece := handle.read(MIB):
            digest.update(piece)
            conn.send(piece)
    conn.send(tail)
    digest.update(tail)
    answer = json.loads(conn.getresponse().read())
    conn.close()
    return answer, length, digest.hexdigest()


def _serve(tmp_path, spool: bool):
    port = _free_port()
    env = {**os.environ, "SPOOL": "1" if spool else "0", "PYTHONPATH": str(ROOT)}
    daphne = str(Path(sys.executable).parent / "daphne")
    child = _spawn(f"daphne-{int(spool)}", [daphne, "-b", "127.0.0.1", "-p", str(port),
                                             "tests.daphne_app.upload_app:application"], env, tmp_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
            return child, port
        except OSError:
            time.sleep(0.1)
    _stop([child])
    pytest.fail(f"daphne did not start:\n{child.output()}")


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("upload") / "big.csv"
    line = b"woo-123,Simple,Hoodie with Logo,45.00,\"A warm hoodie, with a logo\",12\n"
    with open(path, "wb") as out:
        for _ in range(SIZE // len(line)):
            out.write(line)
    return path


@pytest.mark.parametrize("spool", [True, False], ids=["spooled", "daphne-as-is"])
def test_a_100_mb_upload_reaches_the_application_whole_without_the_body_in_memory(tmp_path, big_file, spool):
    child, port = _serve(tmp_path, spool)
    try:
        answer, length, digest = _upload(port, big_file)
    finally:
        _stop([child])
    assert answer["size"] == length and answer["sha256"] == digest
    print(f"\ndaphne {'with' if spool else 'without'} daphne_uploads: peak RSS {answer['peak_rss_mib']:.0f} MiB "
          f"for a {length / MIB:.0f} MiB body")
    if spool:
        assert answer["peak_rss_mib"] < 150, "the body was held in memory"  # issue 12: web peak ≤ 150 MB
    else:
        assert answer["peak_rss_mib"] > 100  # what the spooling request avoids (the test's control)
