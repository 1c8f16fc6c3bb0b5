"""What the policy lookup knows about the code that serves one HTTP method of a resolved view.

A URL pattern's callback often dispatches on the method to code of its own, where per-endpoint
policies are written:

* Django class-based views and Django REST framework ``APIView`` / generic views: the handler
  method named after the HTTP method (``post``, ``put``, ``patch``...) on the view's class
  (``view_class``, or DRF's ``cls``).
* DRF ViewSets: the action the router mapped the method to (``create``, ``update``,
  ``partial_update``, an ``@action``), read from the callback's ``actions`` map.
* django-ninja: the operation of the callback's ``PathView`` whose methods include the method;
  its ``view_func`` is the decorated operation function.

Nothing here imports a framework that is not installed, and nothing reads the request. The
private names of django-ninja are confined to :func:`_ninja_path_view` and
:func:`ninja_registered`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "dispatcher",
    "handlers",
    "ninja_operation",
    "ninja_registered",
    "served_methods",
    "view_class",
]


def view_class(view: object) -> type | None:
    """The class of a class-based view's callback (Django's ``view_class``, DRF's ``cls``)."""
    cls = getattr(view, "view_class", None) or getattr(view, "cls", None)
    return cls if isinstance(cls, type) else None


def _actions(view: object) -> dict[str, str] | None:
    """A DRF ViewSet callback's ``{"post": "create", ...}`` map (``ViewSetMixin.as_view``)."""
    actions = getattr(view, "actions", None)
    return actions if isinstance(actions, dict) else None


#: What DRF's generic views' handlers call (``CreateAPIView.post`` calls ``self.create``...).
_GENERIC_ACTIONS = {"post": "create", "put": "update", "patch": "partial_update"}


#: Methods whose handlers are remembered per view (any other method is looked up each time).
_CACHED_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE", "GET", "OPTIONS", "*"))
_handlers: weakref.WeakKeyDictionary[Any, dict[str, tuple[Callable[..., Any], ...]]] = (
    weakref.WeakKeyDictionary()
)


def handlers(view: object, method: str) -> tuple[Callable[..., Any], ...]:
    """The functions that serve ``method`` for ``view``, the one dispatched to first.

    A ViewSet action, or a class-based view's handler method (the plain function found on the
    class) followed, for DRF generic views, by the mixin action it calls (``post`` ->
    ``create``, ``put`` -> ``update``, ``patch`` -> ``partial_update``), and DRF's own
    ``partial_update`` by the ``update`` it calls; or a django-ninja operation function. Empty
    for function views and methods the view does not serve. Remembered per view (weakly) for
    the usual methods: URL callbacks live as long as the URLconf.
    """
    if method not in _CACHED_METHODS:
        return _find_handlers(view, method)
    try:
        per_view = _handlers.setdefault(view, {})
    except TypeError:  # not weakly referenceable or not hashable: look up every time
        return _find_handlers(view, method)
    try:
        return per_view[method]
    except KeyError:
        found = per_view[method] = _find_handlers(view, method)
        return found


def _find_handlers(view: object, method: str) -> tuple[Callable[..., Any], ...]:
    operation = ninja_operation(view, method)
    if operation is not None:
        func = getattr(operation, "view_func", None)
        return (func,) if callable(func) else ()
    cls = view_class(view)
    if cls is None or not method.isalpha():
        return ()
    actions = _actions(view)
    if actions is not None:
        names = [actions.get(method.lower())]
    else:
        names = [method.lower()]
        if _is_drf_generic(cls):
            names.append(_GENERIC_ACTIONS.get(method.lower()))
    if "partial_update" in names and _is_drf_partial_update(getattr(cls, "partial_update", None)):
        names.append("update")  # DRF's own partial_update serves PATCH through update
    found = []
    for name in names:
        func = getattr(cls, name, None) if name else None
        if callable(func) and not isinstance(func, type):
            found.append(func)
    return tuple(found)


def _is_drf_generic(cls: type) -> bool:
    try:
        from rest_framework.generics import GenericAPIView
    except ImportError:
        return False
    return issubclass(cls, GenericAPIView)


def _is_drf_partial_update(func: object) -> bool:
    """Whether ``func`` is ``UpdateModelMixin.partial_update``, which calls ``self.update``."""
    try:
        from rest_framework.mixins import UpdateModelMixin
    except ImportError:
        return False
    return func is UpdateModelMixin.partial_update


def served_methods(view: object) -> tuple[str, ...]:
    """The HTTP methods (upper case) the view dispatches to code of their own; () for a view
    that serves every method the same way (a function view)."""
    operations = _ninja_operations(view)
    if operations is not None:
        methods = {m.upper() for op in operations for m in getattr(op, "methods", ())}
        return tuple(sorted(methods))
    actions = _actions(view)
    if actions is not None:
        return tuple(sorted(m.upper() for m in actions))
    cls = view_class(view)
    if cls is None:
        return ()
    names = getattr(cls, "http_method_names", ())
    return tuple(sorted(m.upper() for m in names if callable(getattr(cls, m, None))))


def dispatcher(view: object) -> object:
    """The object that dispatches a route's requests: django-ninja gives every operation of a
    path its own URL pattern and callback, all served by one ``PathView``."""
    path_view = _ninja_path_view(view)
    return path_view if path_view is not None else view


# -- django-ninja ---------------------------------------------------------------------------------


def _ninja_path_view(view: object) -> Any:
    """The django-ninja ``PathView`` behind a URL callback, or None.

    Relies on ``ninja.operation.PathView.get_view`` (1.x): the callback is a closure
    (``sync_view_wrapper`` / ``async_view_wrapper``) over the PathView as ``self``; before 1.2 it
    was the bound method ``PathView._sync_view`` / ``_async_view``.
    """
    if not callable(view) or getattr(view, "__module__", None) != "ninja.operation":
        return None
    try:
        from ninja.operation import PathView
    except ImportError:  # pragma: no cover - the module name says ninja is there
        return None
    owner = getattr(view, "__self__", None)
    if isinstance(owner, PathView):
        return owner
    for cell in getattr(view, "__closure__", None) or ():
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(contents, PathView):
            return contents
    return None


def _ninja_operations(view: object) -> Sequence[Any] | None:
    path_view = _ninja_path_view(view)
    if path_view is None:
        return None
    operations = getattr(path_view, "operations", None)
    return operations if isinstance(operations, list) else None


def ninja_operation(view: object, method: str) -> Any:
    """The django-ninja operation that serves ``method`` for ``view`` (the first whose methods
    include it, as ``PathView._find_operation`` picks it), or None."""
    operations = _ninja_operations(view)
    if operations is None:
        return None
    for operation in operations:
        if method in getattr(operation, "methods", ()):
            return operation
    return None


def ninja_registered(func: object) -> bool:
    """Whether django-ninja already registered ``func`` as an operation function.

    Relies on ``ninja.operation.PathView.add_operation`` setting ``view_func._ninja_operation``
    (1.x): the operation keeps ``func`` itself, so a decorator applied after (above) the
    ``@api.post(...)`` line can only reach it by marking ``func``.
    """
    return getattr(func, "_ninja_operation", None) is not None
