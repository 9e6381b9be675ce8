"""The trace table's links, built without reverse() per row, are reverse()'s."""

from __future__ import annotations

from django.urls import reverse, set_script_prefix

from r1web.traces.table import GROUP_URL, SAMPLE_URL


def test_row_links_are_the_urls_django_reverses_under_any_script_prefix():
    try:
        for prefix in ("/", "/r1web/"):
            set_script_prefix(prefix)
            for pk in (1, 7, 918273645, 2**62):
                assert SAMPLE_URL(pk) == reverse("traces:sample", args=[pk])
            assert GROUP_URL(12, 3400, 5) == reverse("traces:group", args=[12, 3400, 5])
            assert GROUP_URL(1, 0, 0).startswith(prefix)
    finally:
        set_script_prefix("/")
