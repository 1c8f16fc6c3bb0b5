"""``manage.py expect_policies``: every URL pattern with its effective upload policy.

``--format text`` (default) for people, ``json`` for tools, ``nginx`` / ``haproxy`` for the edge
proxy's configuration. Overrides are read from the database directly (not this process's cache).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from django_expect.export import FORMATS, render
from django_expect.overrides import load_overrides
from django_expect.routes import describe_routes, unknown_override_routes


class Command(BaseCommand):
    help = "List every URL pattern with its effective upload policy, or export proxy limits."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=FORMATS, default="text")
        parser.add_argument(
            "--prefix",
            default=None,
            help="URL prefix Django is served under (default: FORCE_SCRIPT_NAME or none).",
        )
        parser.add_argument(
            "--proxy-pass",
            default="http://django",
            help="nginx: the proxy_pass target written in each location (default: %(default)s).",
        )
        parser.add_argument(
            "--no-overrides", action="store_true", help="Ignore the admin's overrides."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        overrides = {} if options["no_overrides"] else load_overrides()
        entries = describe_routes(overrides)
        for route in unknown_override_routes(overrides, entries):
            self.stderr.write(
                f"warning: the override for {route!r} names no URL pattern (django_expect.W003)"
            )
        prefix = options["prefix"]
        if prefix is None:
            prefix = getattr(settings, "FORCE_SCRIPT_NAME", None) or ""
        self.stdout.write(
            render(entries, options["format"], prefix=prefix, proxy_pass=options["proxy_pass"]),
            ending="",
        )
