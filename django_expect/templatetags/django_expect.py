"""Template tags for the browser pre-check: ``{% load django_expect %}``.

``{% upload_limits url %}`` renders the ``data-expect-*`` attributes of the route ``url`` posts to
(inside a ``<form>`` or ``<input type="file">`` tag; no URL: the page's own path, which needs the
``request`` context processor); ``message="..."`` words the refusal in the page's own terms
(``{limit}`` and ``{size}`` are filled in). ``{% upload_limit_text url %}`` is the limit as text
("5 MB") for the page's own sentences. ``{% upload_precheck_script %}`` renders the
``<script defer>`` of ``django_expect/precheck.js`` (a static file: no inline script, so a strict
Content-Security-Policy needs nothing more than ``script-src 'self'``).
"""

from __future__ import annotations

from django import template
from django.forms.utils import flatatt
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

from django_expect.browser import PRECHECK_SCRIPT, limits_for_url

register = template.Library()


@register.simple_tag(takes_context=True)
def upload_limits(
    context: template.Context, url: str | None = None, message: str | None = None
) -> SafeString:
    """The ``data-expect-*`` attributes of the route ``url`` (empty if it has no limit)."""
    limits = limits_for_url(url, context.get("request"))
    if limits is None:
        return SafeString("")
    return flatatt(limits.attrs(message))


@register.simple_tag(takes_context=True)
def upload_limit_text(context: template.Context, url: str | None = None) -> str:
    """The route's limit as the server writes it ("5 MB"); empty when it has none."""
    limits = limits_for_url(url, context.get("request"))
    return (limits.max_size_text or "") if limits is not None else ""


@register.simple_tag
def upload_precheck_script() -> SafeString:
    """``<script src=".../django_expect/precheck.js" defer></script>``."""
    return format_html('<script src="{}" defer></script>', static(PRECHECK_SCRIPT))
