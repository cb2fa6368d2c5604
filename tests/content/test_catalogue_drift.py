"""The catalogue's documented variables agree with what the code passes to each template.

The call sites are read from the source (``ctx.render("name", kw=…)``, the card form's
``form.template(...)`` and ``field.prompt``, ``**helper(...)`` dicts), the campaign context
from ``CampaignMessages`` itself, and each default file's own variables from Jinja's parser:
a new keyword at a call site, a renamed variable or a stale line in the catalogue fails here.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from jinja2 import meta

from bot.dialog.forms.fields import Form
from bot.dialog.rendering import TEMPLATES_DIR, Renderer
from content.catalogue import CATALOGUE
from handlers.card import CARD
from scheduler.messages import CampaignMessages, StepView, _buyer_vars

ROOT = Path(__file__).resolve().parents[2]
CALLERS = [
    *sorted((ROOT / "handlers").glob("*.py")),
    ROOT / "bot/dialog/forms/engine.py",
    ROOT / "members/tier_notices.py",
    ROOT / "statements/notices.py",
    ROOT / "bot/inbound/outcomes.py",
]


def _dict_keys(tree: ast.Module, func: str) -> set[str]:
    """The keys of the dict literal a module-level function returns."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == func:
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Dict):
                    return {k.value for k in ret.value.keys if isinstance(k, ast.Constant)}
    raise AssertionError(f"cannot read the keys {func}() returns")


def _names(arg: ast.expr, form: Form, tree: ast.Module) -> list[str]:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.IfExp):
        return _names(arg.body, form, tree) + _names(arg.orelse, form, tree)
    if isinstance(arg, ast.Name):  # a local variable holding the name
        values = [
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == arg.id for t in n.targets)
        ]
        assert values, f"cannot find what {arg.id} holds"
        return [name for v in values for name in _names(v, form, tree)]
    if isinstance(arg, ast.Call) and getattr(arg.func, "attr", None) == "template":
        return [form.template(arg.args[0].value)]  # type: ignore[attr-defined]
    if isinstance(arg, ast.Attribute) and arg.attr == "prompt":
        return [f.prompt for f in form.fields]
    raise AssertionError(f"a render call site this test cannot read: {ast.dump(arg)}")


def passed_variables() -> dict[str, set[str]]:
    """Template name → every variable some call site passes it."""
    passed: dict[str, set[str]] = defaultdict(set)
    for path in CALLERS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "render"
                and node.args
            ):
                continue
            receiver = node.func.value
            if isinstance(receiver, ast.Name) and receiver.id not in ("ctx",):
                continue  # e.g. a metrics or hook object's render
            keys = {kw.arg for kw in node.keywords if kw.arg}
            for kw in node.keywords:
                if kw.arg is None:
                    assert isinstance(kw.value, ast.Call), ast.dump(kw.value)
                    keys |= _dict_keys(tree, kw.value.func.id)  # type: ignore[attr-defined]
            if isinstance(receiver, ast.Name) and receiver.id == "ctx":
                keys.add("buyer")  # Context.render always passes the buyer
            for name in _names(node.args[0], CARD, tree):
                passed[name] |= keys
    messages = CampaignMessages(None, "Asia/Shanghai", [])  # type: ignore[arg-type]
    campaign = type("C", (), {"params": {}})()
    shared = set(messages._shared(campaign, StepView("announce", 0, 0)))
    buyer = set(_buyer_vars(type("B", (), {"display_name": None, "interests": ()})(), None))
    for kind in ("livestream", "recall", "broadcast"):
        passed[f"campaign_{kind}"] = shared | buyer | {"rsvped"}
    return passed


def used_variables(name: str) -> set[str]:
    env = Renderer().env
    source = (TEMPLATES_DIR / "messages" / f"{name}.j2").read_text(encoding="utf-8")
    used = set(meta.find_undeclared_variables(env.parse(source)))
    for included in meta.find_referenced_templates(env.parse(source)):
        used |= used_variables(Path(included).stem)
    return used - {"loop"}


def test_every_message_file_is_in_the_catalogue():
    files = {p.stem for p in (TEMPLATES_DIR / "messages").glob("*.j2")}
    assert files == set(CATALOGUE)


def test_documented_variables_are_what_the_code_passes():
    passed = passed_variables()
    rendered = {n for n, info in CATALOGUE.items() if not info.partial}
    assert rendered - set(passed) == set(), "documented templates nobody renders"
    for name, keys in passed.items():
        assert name in CATALOGUE, f"{name} is rendered but not in the catalogue"
        assert set(CATALOGUE[name].variables) == keys, name


def test_default_files_use_only_documented_variables():
    for name, info in CATALOGUE.items():
        assert used_variables(name) <= set(info.variables), name
