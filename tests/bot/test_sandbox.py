"""Bounded rendering (bot/sandbox.py): hostile templates are refused or stopped, fast."""

from __future__ import annotations

import re
import time

import pytest

from bot.dialog.rendering import Renderer
from bot.sandbox import BoundedEnvironment, Limits, RenderError, render_checked

PAYLOADS = [
    ("{{ 9**(3*9**7) }}", "power"),
    ("{{ 10**10**10 }}", "power"),
    ("{{ (2**200) * (2**200) }}", "product"),
    ("{{ 'a'*200000000 }}", "repetition"),
    ("{{ [1]*100000000 }}", "repetition"),
    ("{{ range(10**9)|list|length }}", "range"),
    ("{% for i in range(10**9) %}{% endfor %}", "range"),
    (
        "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}",
        "too many steps|took longer",
    ),
    (
        "{% for i in range(9999) %}{% for j in range(9999) %}x{% endfor %}{% endfor %}",
        "output longer|too many steps|took longer",
    ),
    ("{% set s = 'x'*99999 %}{% for i in range(99) %}{{ s }}{% endfor %}", "output longer"),
    ("{% set s %}{% for i in range(9999) %}{{ 'y'*9999 }}{% endfor %}{% endset %}", "output"),
    ("{{ x.__class__ }}", "unsafe"),
    ("{{ x.__class__.__mro__ }}", "unsafe"),
    ("{{ lipsum.__globals__ }}", "undefined"),
    ("{{ cycler.__init__.__globals__ }}", "unsafe"),
    ("{{ self.__init__.__globals__ }}", "unsafe"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe"),
    ("{{ '%s'|format(x.__class__) }}", "unsafe"),
    ("{{ '%0999999999d'|format(1) }}", "format width"),
    ("{{ '%*d'|format(999999999, 1) }}", "larger than"),
    ("{{ '%0999999999d' % 1 }}", "format width"),
    ("{{ '{:>999999999}'.format(1) }}", "format width"),
    ("{{ '{:{}}'.format(1, 999999999) }}", "format width"),
    ("{{ '{0.__class__}'.format(x) }}", "unsafe"),
    ("{{ 'a'.center(999999999) }}", "width"),
    ("{{ ('a'*1000).replace('a', 'b'*1000) }}", "replace"),
    ("{{ ('a'*1000)|replace('a', 'b'*1000) }}", "replace"),
    ("{{ (range(9000)|list)|join('z'*100) }}", "longer than"),
    ("{{ ('z'*100).join(range(9000)|map('string')) }}", "join"),
    (
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        "longer",
    ),
    ("{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('a') }}", "longer"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursion"),
    ("{% set l = [1] %}{{ l.extend(l) }}", "unsafe"),
    ("{{ 'a'|indent(999999999) }}", "no filter named"),
]


@pytest.mark.parametrize(("source", "reason"), PAYLOADS)
def test_hostile_templates_are_refused_fast_with_a_reason(source, reason):
    env = Renderer().env
    started = time.monotonic()
    with pytest.raises(RenderError) as caught:
        render_checked(lambda: env.from_string(source).render(x=1))
    assert time.monotonic() - started < 2.0, source  # the time limit is 1 s
    assert re.search(reason, str(caught.value).lower()), (source, str(caught.value))


def test_a_long_render_stops_at_its_deadline():
    env = BoundedEnvironment(limits=Limits(time_s=0.3))
    slow = "{% for i in range(9999) %}{% if ('ab'*40000).count('b') > 1 %}{% endif %}{% endfor %}"
    started = time.monotonic()
    with pytest.raises(RenderError, match="took longer than 0.3 s"):
        render_checked(lambda: env.from_string(slow).render())
    assert time.monotonic() - started < 1.0


def test_errors_name_the_line():
    env = Renderer().env
    with pytest.raises(RenderError) as caught:
        render_checked(lambda: env.from_string("第一行\n第二行\n{{ 'a'*999999999 }}").render())
    assert caught.value.line == 3 and str(caught.value).startswith("line 3: ")


def test_ordinary_templates_still_render():
    env = Renderer().env
    source = (
        "{{ 2**10 }} {{ '%s-%d'|format('a', 3) }} {{ [1, 2]|join(',') }} "
        "{% for i in range(3) %}{{ loop.index }}{% endfor %} {{ '{:>4}'.format(7) }} "
        "{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}"
        "{% endfor %}{{ ns.n }} {{ 'ab'|replace('a', 'c') }} {{ 10 / 4 }}"
    )
    assert env.from_string(source).render() == "1024 a-3 1,2 123    7 3 cb 2.5"


def test_a_message_source_is_plain_text_not_html_escaped():
    """Buyers got ``Tom&#39;s 5 &gt; 3``: a template from a string is a text message."""
    env = Renderer().env
    assert env.from_string("{{ name }} & {{ x }}").render(name="Tom's", x="5 > 3") == (
        "Tom's & 5 > 3"
    )
