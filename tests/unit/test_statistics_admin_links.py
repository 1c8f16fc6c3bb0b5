"""The admin's statistics pages lead to each other: *Rejection counts* links to *Size
histograms* (and back), keeping the *report only* filter, so an operator who sees what was (or
would have been) refused finds the sizes to pick a limit from."""

from __future__ import annotations

from typing import Any

import pytest

HISTOGRAMS = "/admin/django_expect/sizehistogram/"
COUNTS = "/admin/django_expect/rejectioncount/"


@pytest.mark.django_db
def test_the_rejection_counts_page_links_to_the_size_histograms(admin_client: Any) -> None:
    page = admin_client.get(COUNTS).content.decode()
    assert f'href="{HISTOGRAMS}" id="expect-size-histograms">Size histograms</a>' in page
    filtered = admin_client.get(COUNTS + "?report_only__exact=1").content.decode()
    assert (
        f'href="{HISTOGRAMS}?report_only__exact=1" id="expect-size-histograms">Size histograms'
        in filtered
    )
    assert admin_client.get(HISTOGRAMS + "?report_only__exact=1").status_code == 200


@pytest.mark.django_db
def test_the_size_histograms_page_links_back(admin_client: Any) -> None:
    page = admin_client.get(HISTOGRAMS).content.decode()
    assert f'href="{COUNTS}" id="expect-rejection-counts">Rejection counts</a>' in page
    filtered = admin_client.get(HISTOGRAMS + "?report_only__exact=0").content.decode()
    assert f'href="{COUNTS}?report_only__exact=0" id="expect-rejection-counts"' in filtered
    odd = admin_client.get(COUNTS + "?report_only__exact=x%22%3E").content.decode()
    assert 'x"' not in odd.split('id="expect-size-histograms"')[0][-200:]


@pytest.mark.django_db
def test_the_app_index_lists_both_pages(admin_client: Any) -> None:
    page = admin_client.get("/admin/django_expect/").content.decode()
    assert f'href="{HISTOGRAMS}"' in page and f'href="{COUNTS}"' in page
