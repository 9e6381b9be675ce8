from __future__ import annotations

from r1web.traces.highlight import highlight_hits, highlight_reflection


def test_reflection_phrases_are_wrapped_in_marks():
    html = highlight_reflection("So 7. Wait, let me recheck.")
    assert html == 'So 7. <mark class="reflection">Wait</mark>, let me <mark class="reflection">recheck</mark>.'


def test_model_markup_is_escaped_around_and_inside_the_marks():
    html = highlight_reflection('<script>alert(1)</script> wait <img src=x onerror="x()">')
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<mark class="reflection">wait</mark>' in html
    assert "&lt;img src=x onerror=&quot;x()&quot;&gt;" in html


def test_text_without_reflection_comes_back_escaped_only():
    assert highlight_reflection("a < b & c") == "a &lt; b &amp; c"


def test_search_hits_are_marked_case_insensitively_and_everything_else_escaped():
    html = highlight_hits('<b>Wait</b>: 2 + 2 = <i>4</i>, wait.', "WAIT")
    assert html == (
        '&lt;b&gt;<mark class="hit">Wait</mark>&lt;/b&gt;: 2 + 2 = &lt;i&gt;4&lt;/i&gt;, '
        '<mark class="hit">wait</mark>.'
    )


def test_a_hit_deep_in_a_long_text_is_brought_into_the_snippet():
    html = highlight_hits("a" * 500 + " needle " + "b" * 500, "needle", width=60)
    assert html.startswith("…") and html.endswith("…")
    assert '<mark class="hit">needle</mark>' in html
    assert len(html.replace('<mark class="hit">', "").replace("</mark>", "")) <= 61


def test_a_query_with_regex_characters_is_matched_literally():
    assert highlight_hits("x (a+b)* y", "(a+b)*") == 'x <mark class="hit">(a+b)*</mark> y'
    assert highlight_hits("abc", ".") == "abc"
