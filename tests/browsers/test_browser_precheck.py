"""Real browsers against a real gunicorn with the hooks, through the byte-counting relay.

* With the pre-check (the test app's /upload/form, 5 MB), a 300 MB file puts 0 body bytes on the
  wire and the page names the limit, in Chromium and Firefox; with scripts off (the control)
  the same file is sent.
* An accepted 1 MB upload still works (the page's XHR uploader, progress bar and all).
* fetch() and XHR from a page without the pre-check get 413 and the JSON error.
* The OPTIONS discovery recipes (docs/howto/browsers.md): fetch(), XHR, Uppy and FilePond configured
  from one OPTIONS request; an oversized file never leaves the browser, a small one uploads.
* The admin's add form for a model with a FileField gets the same pre-check.

No timing is asserted: what crossed the wire is counted by the relay, what the person sees is
read from the page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.browsers import BROWSERS, NODE_MODULES, require_vendored, run_steps
from harness.relay import Relay
from harness.server import Server

LIMIT_TEXT = "5 MB"  # /upload/form: @upload_policy(max_size="5MB", ...)


@pytest.fixture(scope="module")
def server(
    project_env_vars: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The test project under gunicorn (gthread) with the hooks; npm uploaders as static/vendor/."""
    env = dict(project_env_vars, TEST_VENDOR_DIR=str(NODE_MODULES))
    log = tmp_path_factory.mktemp("browser-logs") / "gthread-hook.log"
    server = Server("gthread", True, log, env).start()
    yield server
    server.stop()


@pytest.fixture
def relay(server: Server) -> Iterator[Relay]:
    with Relay(server.address) as relay:
        yield relay


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Sparse files (no disk space used): 300 MB and 10 MB refused, 1 MB accepted."""
    folder = tmp_path_factory.mktemp("browser-files")
    made = {}
    for name, size in (("big", 300_000_000), ("ten", 10_000_000), ("small", 1_000_000)):
        path = folder / f"{name}.pdf"  # .pdf: browsers send application/pdf, the form accepts it
        with open(path, "wb") as handle:
            handle.truncate(size)
        made[name] = path
    return made


def posted_bytes(relay: Relay, path: str) -> int:
    """Bytes the browser sent from the start of a ``POST path`` request to the end of its
    connection (0: no such request was started). Request heads before it are page loads."""
    marker = f"POST {path} ".encode()
    total = 0
    for connection in list(relay.connections):
        start = bytes(connection.client_prefix).find(marker)
        if start >= 0:
            total += connection.from_client - start
    return total


def page_state() -> str:
    """A step reading what the page shows after a submit (as JSON, for both drivers)."""
    return """async () => {
      const message = document.querySelector("[data-expect-precheck-message]");
      const status = document.getElementById("upload-status");
      return JSON.stringify({
        message: message && !message.hidden ? message.textContent : null,
        invalid: document.getElementById("id_document").getAttribute("aria-invalid"),
        uploadStarted: !status.hidden,
        progressShown: !document.getElementById("upload-progress").hidden,
      });
    }"""


# -- the pre-check on the test app's form----------------------------------------------------------


@pytest.mark.parametrize("browser", BROWSERS)
def test_precheck_stops_a_300mb_file_before_any_byte(
    browser: str, relay: Relay, files: dict[str, Path]
) -> None:
    results = run_steps(
        browser,
        [
            {"goto": f"{relay.url}/upload/form"},
            {"setFiles": ["#id_document", str(files["big"])]},
            {"waitFor": "[data-expect-precheck-message]"},  # on change, before any submit
            {"click": "button[type=submit]"},
            {"eval": page_state()},
            {"url": True},
        ],
    )
    state = json.loads(results[4])
    assert state["message"] == (
        f"This file is 300 MB; documents can be at most {LIMIT_TEXT}. Choose a smaller file."
    )
    assert state["invalid"] == "true"
    assert not state["uploadStarted"] and not state["progressShown"]
    assert results[5] == f"{relay.url}/upload/form"
    assert posted_bytes(relay, "/upload/form") == 0  # the browser has exited: nothing was sent
    assert relay.connections  # the page itself did come through the relay


def test_control_without_scripts_the_file_is_sent(relay: Relay, files: dict[str, Path]) -> None:
    """Scripts off (progressive enhancement): the plain form posts and the server refuses it."""
    run_steps(
        "chromium",
        [
            {"goto": f"{relay.url}/upload/form"},
            {"setFiles": ["#id_document", str(files["ten"])]},
            {"click": "button[type=submit]"},
            {"waitFor": "a.back"},
            {"text": "h1"},
        ],
        javascript=False,
    )
    assert posted_bytes(relay, "/upload/form") > 0


def test_the_413_page_names_the_limit_and_links_back(relay: Relay, files: dict[str, Path]) -> None:
    results = run_steps(
        "chromium",
        [
            {"goto": f"{relay.url}/upload/form"},
            {"setFiles": ["#id_document", str(files["ten"])]},
            {"click": "button[type=submit]"},
            {"waitFor": "a.back"},
            {"text": "main"},
            {"eval": "async () => document.querySelector('a.back').href"},
        ],
        javascript=False,
    )
    text = " ".join(results[4].split())
    assert "This file is too large to upload" in text
    assert f"The limit for this upload is {LIMIT_TEXT}. Your upload was 10.1 MB." in text
    assert results[5] == f"{relay.url}/upload/form"  # the Referer: the form


@pytest.mark.parametrize("browser", BROWSERS)
def test_an_accepted_1mb_upload_still_works(
    browser: str, relay: Relay, files: dict[str, Path]
) -> None:
    results = run_steps(
        browser,
        [
            {"goto": f"{relay.url}/upload/form"},
            {"setFiles": ["#id_document", str(files["small"])]},
            {"click": "button[type=submit]"},
            {"waitFor": "#upload-status.done"},
            {"text": "#upload-status"},
            {"eval": "async () => document.getElementById('upload-progress').value"},
        ],
    )
    assert results[4] == "Stored small.pdf (1000000 bytes)."
    assert results[5] == 100
    assert posted_bytes(relay, "/upload/form") > 1_000_000


@pytest.mark.parametrize("browser", BROWSERS)
def test_the_page_shows_the_servers_reason_when_it_refuses(
    browser: str, relay: Relay, files: dict[str, Path]
) -> None:
    """A page rendered before the limit was lowered (an override) still hears the server's
    reason: the page's uploader shows the 413's limit, not the page's stale one."""
    stale = (
        "async () => { document.getElementById('document-form').dataset.expectMaxSize = '1e9'; }"
    )
    results = run_steps(
        browser,
        [
            {"goto": f"{relay.url}/upload/form"},
            {"eval": stale},
            {"setFiles": ["#id_document", str(files["ten"])]},
            {"click": "button[type=submit]"},
            {"waitFor": "#upload-status.refused"},
            {"text": "#upload-status"},
        ],
    )
    assert results[5] == (
        "The server refused the upload: the limit for this upload is 5 MB (HTTP 413)."
    )
    assert posted_bytes(relay, "/upload/form") > 0  # sent, unlike with the pre-check


@pytest.mark.parametrize("browser", BROWSERS)
def test_the_precheck_adds_up_every_file_in_the_form(
    browser: str, relay: Relay, tmp_path: Path
) -> None:
    """The limit is for the whole body: two 3 MB files in two inputs are 6 MB, over 5 MB."""
    three = tmp_path / "three.pdf"
    with open(three, "wb") as handle:
        handle.truncate(3_000_000)
    second_input = """async () => {
      const input = document.createElement("input");
      input.type = "file"; input.name = "extra"; input.id = "id_extra";
      document.getElementById("id_document").after(input);
    }"""
    results = run_steps(
        browser,
        [
            {"goto": f"{relay.url}/upload/form"},
            {"eval": second_input},
            {"setFiles": ["#id_document", str(three)]},
            {"eval": page_state()},
            {"setFiles": ["#id_extra", str(three)]},
            {"click": "button[type=submit]"},
            {"eval": page_state()},
        ],
    )
    assert json.loads(results[3])["message"] is None  # 3 MB alone passes
    state = json.loads(results[6])
    assert state["message"] == (
        f"This file is 6 MB; documents can be at most {LIMIT_TEXT}. Choose a smaller file."
    )
    assert not state["uploadStarted"]
    assert posted_bytes(relay, "/upload/form") == 0


@pytest.mark.parametrize("browser", BROWSERS)
def test_the_precheck_never_blocks_what_the_server_may_accept(
    browser: str, relay: Relay, tmp_path: Path
) -> None:
    """At the limit exactly the page lets the file go (the server decides: the multipart framing
    makes this body larger than 5 MB, so it refuses); just under it, the upload is stored."""
    at_limit, under = tmp_path / "at-limit.pdf", tmp_path / "under.pdf"
    for path, size in ((at_limit, 5_000_000), (under, 4_990_000)):
        with open(path, "wb") as handle:
            handle.truncate(size)
    results = run_steps(
        browser,
        [
            {"goto": f"{relay.url}/upload/form"},
            {"setFiles": ["#id_document", str(at_limit)]},
            {"click": "button[type=submit]"},
            {"waitFor": "#upload-status.refused"},
            {"eval": page_state()},
            {"goto": f"{relay.url}/upload/form"},
            {"setFiles": ["#id_document", str(under)]},
            {"click": "button[type=submit]"},
            {"waitFor": "#upload-status.done"},
            {"text": "#upload-status"},
        ],
    )
    state = json.loads(results[4])
    assert state["message"] is None and state["uploadStarted"]
    assert results[9] == "Stored under.pdf (4990000 bytes)."


# -- fetch() and XHR from a page without the pre-check -----------------------------------------


SEND_WITHOUT_CHECK = """async () => {
  const form = () => {
    const data = new FormData();
    const blob = new Blob([new Uint8Array(10000000)], {type: "application/pdf"});
    data.append("document", blob, "a.pdf");
    return data;
  };
  const viaFetch = await fetch("/upload/form", {method: "POST", body: form(),
                                                headers: {Accept: "application/json"}});
  const viaXhr = await window.uploadRecipes.xhrUpload("/upload/form", form());
  const fetched = {status: viaFetch.status, body: await viaFetch.json()};
  return JSON.stringify({fetch: fetched, xhr: viaXhr});
}"""


@pytest.mark.parametrize("browser", BROWSERS)
def test_fetch_and_xhr_receive_413_and_the_json_error(browser: str, relay: Relay) -> None:
    results = run_steps(
        browser,
        [{"goto": f"{relay.url}/upload/uploaders"}, {"eval": SEND_WITHOUT_CHECK}],
    )
    outcome = json.loads(results[1])
    for via in ("fetch", "xhr"):
        assert outcome[via]["status"] == 413, outcome
        error = outcome[via]["body"]["error"]
        assert error["code"] == "content_too_large"
        assert error["limit"] == 5_000_000


# -- OPTIONS discovery recipes -----------------------------------------------------------------


DISCOVER_AND_SEND = """async () => {
  const r = window.uploadRecipes;
  const limits = await r.discover("/upload/form");
  const objects = await r.discover("/objects/anything");
  const pdf = (size) => new File([new Uint8Array(size)], "doc.pdf", {type: "application/pdf"});
  const form = (file) => { const d = new FormData(); d.append("document", file); return d; };
  const tooBig = await r.fetchUpload("/upload/form", form(pdf(6000000)), 6000000);
  let progress = 0;
  const onProgress = (loaded) => { progress = loaded; };
  const small = await r.xhrUpload("/upload/form", form(pdf(1000000)), onProgress);
  return JSON.stringify({limits, objects, tooBig, small, progress});
}"""


@pytest.mark.parametrize("browser", BROWSERS)
def test_discovery_with_fetch_and_xhr(browser: str, relay: Relay) -> None:
    results = run_steps(
        browser,
        [{"goto": f"{relay.url}/upload/uploaders"}, {"eval": DISCOVER_AND_SEND}],
    )
    outcome = json.loads(results[1])
    assert outcome["limits"] == {
        "maxSize": 5_000_000,
        "maxSizeText": "5 MB",
        "requestTypes": ["multipart/form-data"],
        "fileTypes": None,
    }
    assert outcome["objects"]["maxSize"] == 10 * 2**20  # PUT /objects/<key>: 10 MiB
    assert outcome["tooBig"] == {"sent": False, "reason": "larger than 5 MB"}
    assert outcome["small"]["status"] == 200
    assert outcome["small"]["body"] == {"stored": "doc.pdf", "size": 1_000_000}
    assert outcome["progress"] > 1_000_000
    # Only the 1 MB upload was posted; the 6 MB one never left the browser.
    assert 1_000_000 < posted_bytes(relay, "/upload/form") < 1_100_000


UPPY = """async () => {
  const uppy = await window.uploadRecipes.uppyFor("/upload/form", "document");
  const blob = (size) => new Blob([new Uint8Array(size)], {type: "application/pdf"});
  let refused = null;
  try {
    uppy.addFile({name: "big.pdf", type: "application/pdf", data: blob(6000000)});
  } catch (error) {
    refused = error.message;
  }
  uppy.addFile({name: "small.pdf", type: "application/pdf", data: blob(1000000)});
  const result = await uppy.upload();
  return JSON.stringify({
    refused,
    restrictions: uppy.opts.restrictions,
    successful: result.successful.map((f) => [f.name, f.response.status, f.response.body]),
    failed: result.failed.length,
  });
}"""


@pytest.mark.parametrize("browser", BROWSERS)
def test_uppy_restrictions_from_discovery(browser: str, relay: Relay) -> None:
    require_vendored("uppy")
    results = run_steps(browser, [{"goto": f"{relay.url}/upload/uploaders"}, {"eval": UPPY}])
    outcome = json.loads(results[1])
    assert outcome["restrictions"]["maxFileSize"] == 5_000_000
    assert outcome["restrictions"]["maxTotalFileSize"] == 5_000_000
    assert outcome["refused"] == "big.pdf exceeds maximum allowed size of 5 MB"
    assert outcome["successful"] == [["small.pdf", 200, {"stored": "small.pdf", "size": 1_000_000}]]
    assert outcome["failed"] == 0
    assert 1_000_000 < posted_bytes(relay, "/upload/form") < 1_100_000


FILEPOND = """async () => {
  const input = document.getElementById("pond");
  const pond = await window.uploadRecipes.filePondFor("/upload/form", input);
  const file = (size, name) => new File([new Uint8Array(size)], name, {type: "application/pdf"});
  let refused = null;
  try {
    await pond.addFile(file(6000000, "big.pdf"));
  } catch (error) {
    refused = error && error.error ? error.error : error;
  }
  const small = await pond.addFile(file(1000000, "small.pdf"));
  return JSON.stringify({
    refused, maxFileSize: pond.maxFileSize, small: small.filename, count: pond.getFiles().length,
  });
}"""


@pytest.mark.parametrize("browser", BROWSERS)
def test_filepond_max_file_size_from_discovery(browser: str, relay: Relay) -> None:
    require_vendored("filepond", "filepond-plugin-file-validate-size")
    results = run_steps(browser, [{"goto": f"{relay.url}/upload/uploaders"}, {"eval": FILEPOND}])
    outcome: dict[str, Any] = json.loads(results[1])
    assert outcome["maxFileSize"] == 5_000_000
    assert outcome["refused"]["main"] == "File is too large"
    assert outcome["refused"]["sub"] == "Maximum file size is 5 MB"
    assert outcome["small"] == "small.pdf"
    assert posted_bytes(relay, "/upload/form") == 0  # FilePond has no server here: nothing sent


# -- the admin ---------------------------------------------------------------------------------


@pytest.mark.parametrize("browser", BROWSERS)
def test_admin_file_field_gets_the_precheck(
    browser: str, relay: Relay, files: dict[str, Path], tmp_path: Path
) -> None:
    huge = tmp_path / "huge.pdf"
    with open(huge, "wb") as handle:
        handle.truncate(200 * 2**20)  # over the admin's EXPECT_DEFAULT_POLICY of 100 MiB
    results = run_steps(
        browser,
        [
            {"goto": f"{relay.url}/admin/login/?next=/admin/demo/document/add/"},
            {
                "eval": "async () => { document.getElementById('id_username').value = 'demo';"
                " document.getElementById('id_password').value = 'demo'; }"
            },
            {"click": "input[type=submit]"},
            {"waitFor": "#id_file"},
            {"eval": "async () => { document.getElementById('id_title').value = 'big'; }"},
            {"setFiles": ["#id_file", str(huge)]},
            {"click": "input[name=_save]"},
            {"waitFor": ".expect-precheck-message"},
            {"text": ".expect-precheck-message"},
            {"url": True},
        ],
    )
    assert results[8] == "This file is 200 MiB; the limit for this upload is 100 MiB."
    assert results[9].endswith("/admin/demo/document/add/")
    assert posted_bytes(relay, "/admin/demo/document/add/") == 0
