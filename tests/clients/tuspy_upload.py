"""A tuspy upload in its own process, so a test can kill it by PID mid-chunk and start it again.

``python tests/clients/tuspy_upload.py ENDPOINT FILE CHUNK_SIZE URL_STORE [HEADER=VALUE...]``
creates (or, when URL_STORE already holds this file's URL, resumes: tuspy asks the server with
HEAD) an upload and sends FILE in CHUNK_SIZE PATCHes with sha1 checksums. One JSON line per
event on stdout: ``{"url": ...}`` once the upload exists, ``{"offset": n}`` after each chunk,
``{"done": true}``, or ``{"error": ..., "status": ...}``.
"""

from __future__ import annotations

import json
import sys

from tusclient import client
from tusclient.exceptions import TusCommunicationError
from tusclient.storage.filestorage import FileStorage


def say(**event: object) -> None:
    print(json.dumps(event), flush=True)


def main() -> int:
    endpoint, path, chunk_size, store, *pairs = sys.argv[1:]
    headers = dict(pair.split("=", 1) for pair in pairs)
    tus = client.TusClient(endpoint, headers=headers)
    uploader = tus.uploader(
        path,
        chunk_size=int(chunk_size),
        metadata={"filename": "wire.bin", "filetype": "application/octet-stream"},
        store_url=True,
        url_storage=FileStorage(store),
        upload_checksum=True,
        retries=3,
        retry_delay=1,
    )
    try:
        if not uploader.url:
            uploader.set_url(uploader.create_url())
            uploader.offset = 0
        say(url=uploader.url, offset=uploader.offset)
        while uploader.offset < uploader.get_file_size():
            uploader.upload_chunk()
            say(offset=uploader.offset)
    except TusCommunicationError as error:
        say(error=str(error), status=error.status_code)
        return 1
    say(done=True, url=uploader.url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
