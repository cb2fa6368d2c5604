"""Bounded template rendering: Jinja2's sandbox, plus limits on what one render may cost.

Jinja2's ``SandboxedEnvironment`` keeps a template away from Python internals (no ``_``
attributes, no unsafe callables) but not from running for minutes or filling memory:
``{{ 9**(3*9**7) }}`` is one multiplication loop inside CPython, ``{{ 'a'*200000000 }}`` one
allocation. Every template Laoke renders — the files under ``templates/``, an operator's
campaign ``message_source``, and later admin-edited versions — goes through
``BoundedEnvironment``, which bounds a render in three ways:

1. **Per operation.** The operator hooks (``call_binop`` / ``call_unop``, every call, every
   filter, ``str.format``, ``%``, ``range``, ``namespace`` assignment) refuse an operation
   whose result would be too big *before* doing it: an integer past ``max_int_bits``, a string
   past ``max_str`` characters, a sequence past ``max_items``. So no single step is slow.
2. **Per render.** The parsed template is rewritten (``_parse``) so every ``for`` loop's
   iterable and every output expression pass through the environment: each loop iteration,
   call and operator counts against ``max_steps``, each output piece (including output
   captured by ``{% set %}`` blocks and macros) against ``max_output``.
3. **In time.** The same checkpoints compare the clock with a deadline (``time_s``). Because
   every step is bounded (1.) and the checkpoints are dense (2.), a render stops shortly after
   its deadline — which is why a *thread* suffices: Python cannot kill a thread, but this one
   stops itself. Renders an operator can trigger at will (previews, the save-time check) run
   in one of two worker threads (``render_off_loop``) so the event loop keeps answering
   webhooks while they run; renders on the send and reply paths are short by construction and bounded by
   the same deadline. A process pool with kill was rejected: a million-buyer campaign renders
   per buyer, and an inter-process round trip per render would cost more than the sends.

A limit that trips raises ``RenderLimitError`` (a ``SecurityError``). ``render_checked``
turns any failure into ``RenderError`` naming the template line. This module does not decide
which variables a template sees (its caller passes plain, documented values, never ORM rows)
and does not load templates (``bot/dialog/rendering.py``).
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import update_wrapper
from string import Formatter
from types import TracebackType
from typing import Any, TypeVar

from jinja2 import Template, TemplateSyntaxError, nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    """What one render may cost (defaults fit a chat message or a simulator page)."""

    time_s: float = 1.0
    max_output: int = 100_000  # characters rendered, captured output included
    max_str: int = 100_000  # characters in any string an operation builds
    max_items: int = 10_000  # items in any list built, and in a range()
    max_int_bits: int = 256  # bits of any integer an operation builds
    max_steps: int = 200_000  # loop iterations + calls + intercepted operators


class RenderLimitError(SecurityError):
    """A template tried to exceed a render limit."""


class RenderError(Exception):
    """A template that failed to render: ``line`` (None when unknown), ``reason``, and
    ``limit`` (it tripped a render limit, rather than e.g. naming a missing variable)."""

    def __init__(self, reason: str, line: int | None = None, *, limit: bool = False) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line, self.reason, self.limit = line, reason, limit


class _Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.time_s
        self.steps = 0
        self.output = 0


_local = threading.local()  # the budget of the render running on this thread


def _budget() -> _Budget | None:
    return getattr(_local, "budget", None)


def _tick(n: int = 1) -> None:
    budget = _budget()
    if budget is None:
        return
    budget.steps += n
    if budget.steps > budget.limits.max_steps:
        raise RenderLimitError(f"too many steps (limit {budget.limits.max_steps:,})")
    if budget.steps & 63 == 0 and time.monotonic() > budget.deadline:
        raise RenderLimitError(f"took longer than {budget.limits.time_s:g} s")


WIDTH_RE = re.compile(r"\d+")
PERCENT_SPEC_RE = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """A sandbox whose every render is bounded by ``limits`` (see the module docstring)."""

    intercepted_binops = frozenset(("**", "*", "+", "-", "/", "//", "%"))
    intercepted_unops = frozenset(("-", "+"))

    def __init__(self, *args: Any, limits: Limits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits or Limits()
        self.template_class = BoundedTemplate
        self.globals["range"] = self._range
        self.globals["namespace"] = BoundedNamespace
        self.globals.pop("lipsum", None)
        for name in ("indent", "center", "wordwrap", "pprint", "batch", "slice", "xmlattr"):
            self.filters.pop(name, None)
        self.filters["format"] = self._format_filter
        self.filters = {k: self._guard_filter(f) for k, f in self.filters.items()}
        self._install_hooks()

    # --- size checks ----------------------------------------------------------------------
    def _check(self, value: Any) -> Any:
        lim = self.limits
        if isinstance(value, str):
            if len(value) > lim.max_str:
                raise RenderLimitError(f"string longer than {lim.max_str:,} characters")
        elif isinstance(value, (list, tuple, dict, set, frozenset)):
            if len(value) > lim.max_items:
                raise RenderLimitError(f"more than {lim.max_items:,} items")
        elif isinstance(value, int) and value.bit_length() > lim.max_int_bits:
            raise RenderLimitError(f"number larger than 2**{lim.max_int_bits}")
        return value

    def _size(self, value: Any, depth: int = 0) -> int:
        """Characters `value` would turn into (cheap upper bound, for pre-checks)."""
        if isinstance(value, str):
            return len(value)
        if isinstance(value, (list, tuple, set, frozenset)) and depth < 3:
            return sum(self._size(v, depth + 1) for v in value) + len(value)
        if isinstance(value, dict) and depth < 3:
            return sum(self._size(k) + self._size(v, depth + 1) for k, v in value.items())
        return 32

    def _check_format(self, fmt: str, percent: bool) -> None:
        """A format string may not ask for a width or precision beyond ``max_str``."""
        if percent:
            for width, precision in PERCENT_SPEC_RE.findall(fmt):
                for n in (width, precision):
                    if n == "*" or (n and int(n) > self.limits.max_str):
                        raise RenderLimitError("format width or precision too large")
            return
        for _, _, spec, _ in Formatter().parse(fmt):
            if spec and (
                "{" in spec or any(int(n) > self.limits.max_str for n in WIDTH_RE.findall(spec))
            ):
                raise RenderLimitError("format width or precision too large")

    # --- operator hooks ------------------------------------------------------------------
    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        _tick()
        lim = self.limits
        ints = isinstance(left, int) and isinstance(right, int)
        if operator_ == "**" and ints and right > 0 and abs(left) > 1:
            if right.bit_length() > 32 or right * math.log2(abs(left)) > lim.max_int_bits:
                raise RenderLimitError(f"power larger than 2**{lim.max_int_bits}")
        elif operator_ == "*":
            if ints:
                if left.bit_length() + right.bit_length() > lim.max_int_bits + 1:
                    raise RenderLimitError(f"product larger than 2**{lim.max_int_bits}")
            else:
                seq, n = (left, right) if isinstance(right, int) else (right, left)
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                    cap = lim.max_str if isinstance(seq, str) else lim.max_items
                    if n > 0 and len(seq) * n > cap:
                        raise RenderLimitError(f"repetition longer than {cap:,}")
        elif operator_ == "%" and isinstance(left, str):
            self._check_format(left, percent=True)
            if self._size(right) > lim.max_str:
                raise RenderLimitError("format arguments too long")
        return self._check(super().call_binop(context, operator_, left, right))

    def call_unop(self, context: Any, operator_: str, arg: Any) -> Any:
        _tick()
        return super().call_unop(context, operator_, arg)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _tick()
        target = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(target, str):
            if name == "join" and args:
                args = (__self._bounded_list(args[0]), *args[1:])
            __self._check_str_method(target, name, args, kwargs)
        for value in (*args, *kwargs.values()):
            __self._check(value)
        return __self._check(super().call(__context, __obj, *args, **kwargs))

    def _check_str_method(self, s: str, name: str, args: tuple, kwargs: dict) -> None:
        cap = self.limits.max_str
        if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
            if args[0] > cap:
                raise RenderLimitError(f"width larger than {cap:,}")
        elif name == "expandtabs":
            raise RenderLimitError("expandtabs is not available in templates")
        elif name == "replace" and len(args) >= 2:
            old, new = str(args[0]), str(args[1])
            count = s.count(old) if old else len(s) + 1
            if len(s) + count * max(0, len(new) - len(old)) > cap:
                raise RenderLimitError(f"replace result longer than {cap:,}")
        elif name == "join" and args and self._size(args[0]) + len(s) * self._items(args[0]) > cap:
            raise RenderLimitError(f"join result longer than {cap:,}")

    def _bounded_list(self, iterable: Any) -> Any:
        """An unsized iterable (a generator) as a list, refused past the size limits."""
        if hasattr(iterable, "__len__") or not hasattr(iterable, "__iter__"):
            return iterable
        items, size = [], 0
        for item in iterable:
            _tick()
            items.append(item)
            size += self._size(item)
            if len(items) > self.limits.max_items or size > self.limits.max_str:
                raise RenderLimitError(f"join result longer than {self.limits.max_str:,}")
        return items

    @staticmethod
    def _items(value: Any) -> int:
        return len(value) if hasattr(value, "__len__") else 0

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt: str = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            self._check_format(fmt, percent=False)
            if self._size(args) + self._size(kwargs) > self.limits.max_str:
                raise RenderLimitError("format arguments too long")
            return self._check(wrapped(*args, **kwargs))

        return update_wrapper(checked, value)

    def _range(self, *args: int) -> range:
        rng = range(*args)
        if len(rng) > self.limits.max_items:
            raise RenderLimitError(f"range longer than {self.limits.max_items:,}")
        return rng

    def _format_filter(self, value: Any, *args: Any, **kwargs: Any) -> str:
        if args and kwargs:
            raise RenderLimitError("format: positional or keyword arguments, not both")
        fmt = str(value)
        self._check_format(fmt, percent=True)
        return fmt % (kwargs or args)

    def _guard_filter(self, func: Callable[..., Any]) -> Callable[..., Any]:
        env = self
        passes = getattr(func, "jinja_pass_arg", None)

        def guarded(*args: Any, **kwargs: Any) -> Any:
            _tick()
            skip = 1 if passes is not None else 0  # the context / environment argument
            if func.__name__ == "do_join" and len(args) > skip:
                args = (*args[:skip], env._bounded_list(args[skip]), *args[skip + 1 :])
            value, rest = (args[skip] if len(args) > skip else None), args[skip + 1 :]
            if env._size(value) > env.limits.max_str:
                raise RenderLimitError(f"filter input longer than {env.limits.max_str:,}")
            for arg in (*rest, *kwargs.values()):
                if isinstance(arg, int) and abs(arg) > env.limits.max_str:
                    raise RenderLimitError(f"filter argument larger than {env.limits.max_str:,}")
                env._check(arg)
            if func.__name__ == "do_replace" and len(rest) >= 2 and isinstance(value, str):
                env._check_str_method(value, "replace", tuple(rest[:2]), {})
            if func.__name__ == "do_join" and rest and isinstance(rest[0], str):
                if env._size(value) + len(rest[0]) * env._items(value) > env.limits.max_str:
                    raise RenderLimitError(f"join result longer than {env.limits.max_str:,}")
            return env._check(func(*args, **kwargs))

        update_wrapper(guarded, func)
        return guarded

    # --- render instrumentation -----------------------------------------------------------
    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = _guard(loop.iter, ITER_HOOK)
        for output in tree.find_all(nodes.Output):
            output.nodes = [_guard(child, OUTPUT_HOOK) for child in output.nodes]
        return tree

    def _install_hooks(self) -> None:
        """The two hooks ``_parse`` wraps around loops and output, as filters: a filter is a
        direct call in compiled code (a call through ``call`` would cost ten times more), and
        ``pass_context`` keeps Jinja from folding them away at compile time."""
        size = self._size

        @pass_context
        def bounded_iter(_context: Any, iterable: Iterable[T]) -> Iterator[T]:
            for item in iterable:  # every loop iteration is a step
                _tick()
                yield item

        @pass_context
        def bounded_output(_context: Any, value: T) -> T:
            budget = _budget()  # every output piece counts, captured output too
            if budget is not None:
                budget.output += len(value) if isinstance(value, str) else size(value)
                if budget.output > budget.limits.max_output:
                    raise RenderLimitError(f"output longer than {budget.limits.max_output:,}")
            return value

        self.filters[ITER_HOOK], self.filters[OUTPUT_HOOK] = bounded_iter, bounded_output


ITER_HOOK, OUTPUT_HOOK = "_bounded_iter", "_bounded_output"


def _guard(expr: nodes.Expr, hook: str) -> nodes.Expr:
    return nodes.Filter(expr, hook, [], [], None, None).set_lineno(expr.lineno)


class BoundedNamespace(Namespace):
    """``namespace()`` whose attributes are size-checked when set (no doubling in a loop)."""

    def __setitem__(self, name: str, value: Any) -> None:
        _tick()
        budget = _budget()
        cap = budget.limits.max_str if budget else Limits().max_str
        if isinstance(value, str) and len(value) > cap:
            raise RenderLimitError(f"string longer than {cap:,} characters")
        super().__setitem__(name, value)


class BoundedTemplate(Template):
    """A template whose ``render`` runs under its environment's limits."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        if _budget() is not None:  # nested (include, import): the outer render's budget
            return super().render(*args, **kwargs)
        _local.budget = _Budget(getattr(self.environment, "limits", Limits()))
        try:
            return super().render(*args, **kwargs)
        finally:
            _local.budget = None


def render_within(template: Template, time_s: float, *args: Any, **kwargs: Any) -> str:
    """Render `template` with its environment's limits but a deadline of `time_s` seconds."""
    limits = getattr(template.environment, "limits", Limits())
    _local.budget = _Budget(replace(limits, time_s=time_s))
    try:
        return template.render(*args, **kwargs)
    finally:
        _local.budget = None


def error_line(exc: BaseException) -> int | None:
    """The template line a render error happened on (Jinja rewrites tracebacks to it)."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    line = None
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename.startswith("<template") or code.co_filename.endswith(".j2"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def as_render_error(exc: BaseException) -> RenderError:
    """Any failure to compile or render, as a RenderError naming the line and the reason."""
    if isinstance(exc, RecursionError):
        return RenderError("recursion too deep", error_line(exc), limit=True)
    reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return RenderError(reason, error_line(exc), limit=isinstance(exc, RenderLimitError))


def render_checked(render: Callable[[], T]) -> T:
    """Run `render`; any failure becomes ``RenderError`` naming the line and the reason."""
    try:
        return render()
    except Exception as exc:
        raise as_render_error(exc) from None


# Two threads for renders an operator triggers: enough for two previews at once, and a flood
# of previews queues here instead of taking GIL time from the event loop in many threads.
_RENDER_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="render")


async def render_off_loop(render: Callable[[], T]) -> T:
    """Run a bounded render in a worker thread, so the event loop keeps serving meanwhile."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_RENDER_THREADS, render_checked, render)


__all__ = [
    "BoundedEnvironment",
    "Limits",
    "RenderError",
    "RenderLimitError",
    "as_render_error",
    "error_line",
    "render_checked",
    "render_within",
    "render_off_loop",
]
