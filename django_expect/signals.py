"""django-expect's signals, for projects that want to react to decisions as they happen.

* ``upload_rejected``: the middleware answered a request with a rejection instead of giving its
  body to the view: decided from the head, or found while the body was read (a limit broken,
  a stalled or broken body), or the view's own ``check`` answered. Keyword arguments:
  ``request``, ``decision`` (a :class:`django_expect.core.Decision`), ``route``
  (the URL pattern's view name, e.g. ``"api-upload"`` or ``"admin:index"``).
* ``continue_sent``: ``100 Continue`` went out, inviting the body. Keyword arguments: ``request``,
  ``route``. Sent under every django-expect adapter (the gunicorn hooks, django-expect's
  ``runserver``, uWSGI's ``lazy_continue``, and ``django_expect.asgi``, where the server sends
  the 100 on the ``receive()`` django-expect then makes), never where the server sends the 100
  itself; only wired up for a request while the signal has receivers.

* ``upload_completed``: a tus upload (:mod:`django_expect.tus`) received its last byte and its
  file is in storage. Sender: :class:`django_expect.tus.models.TusUpload`. Keyword arguments:
  ``upload`` (the row: ``metadata``, ``owner``, ``length``...), ``storage`` (the storage
  holding it), ``name`` (the file's storage name), ``request`` (the PATCH or POST that finished
  it), ``route``. The file is the application's from then on: move it, attach it to a model or
  delete it; ``expect_tus_cleanup`` never touches finished files.

* ``server_stopping``: the ASGI server announced its shutdown (the ASGI lifespan protocol's
  ``lifespan.shutdown``, which uvicorn, gunicorn's ASGI worker, granian and hypercorn send
  before they exit) to :mod:`django_expect.asgi`'s handler. Sender: the handler's class; no
  keyword arguments. Receivers run in a worker thread, may use the database, and the server
  waits for them. django-expect's statistics write this process's pending counts on it: uvicorn
  ends with the ``SIGTERM`` it was sent, so ``atexit`` handlers never run there.

Receivers of the others run in the request's thread: keep them short, and do not read the body
in them.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["continue_sent", "server_stopping", "upload_completed", "upload_rejected"]

upload_rejected = Signal()
continue_sent = Signal()
upload_completed = Signal()
server_stopping = Signal()
