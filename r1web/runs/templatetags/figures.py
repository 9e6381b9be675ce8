"""``{{ figure|figure_script:"id" }}``: Django's ``json_script`` for Plotly figures, whose
JSON never holds NaN or Infinity (``charts.FiniteJSONEncoder``): ``JSON.parse`` refuses
both, and one would stop every chart of the page from drawing."""

from __future__ import annotations

from django import template
from django.utils.html import json_script
from django.utils.safestring import SafeString

from r1web.runs.charts import FiniteJSONEncoder

register = template.Library()


@register.filter
def figure_script(value, element_id: str) -> SafeString:
    return json_script(value, element_id, encoder=FiniteJSONEncoder)
