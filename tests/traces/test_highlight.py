from __future__ import annotations

from r1web.traces.highlight import highlight_reflection


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
