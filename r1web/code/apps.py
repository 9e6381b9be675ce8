from django.apps import AppConfig


class CodeConfig(AppConfig):
    """Programs from model completions: running them in the sandbox (``r1domain.sandbox``)
    and judging them against code datasets' tests (``r1domain.code``)."""

    name = "r1web.code"
    label = "code"
