"""Flow loading: everything a flow names is checked, and errors say which file and which step."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.flows import FlowError, Flows, Names
from bot.settings import ROOT

NAMES = Names(
    actions=frozenset({"act"}),
    conditions=frozenset({"cond"}),
    providers=frozenset({"prov"}),
    inputs=frozenset({"inp"}),
    text_keys=frozenset({"hello", "button"}),
)


def write(tmp_path: Path, body: str, name: str = "demo.yml") -> Path:
    (tmp_path / name).write_text(body, encoding="utf-8")
    return tmp_path


def test_a_sound_flow_has_no_problems(tmp_path: Path) -> None:
    flows = Flows.load(
        write(
            tmp_path,
            """
flow: demo
start: one
steps:
  one:
    text: hello
    buttons:
      - {id: go, text: button, next: two, action: act, when: cond}
  two:
    text: hello
    options: prov
    on_option: {action: act, next: one}
""",
        )
    )
    assert flows.validate(NAMES) == []
    assert flows.step("demo").id == "one"
    assert flows.step("two", current_flow="demo").ref == "demo.two"


@pytest.mark.parametrize(
    ("step_body", "expected"),
    [
        ("text: missing.key", "step 'one': unknown text key 'missing.key'"),
        ("text: hello\n    next: nowhere", "step 'one': next goes to unknown step 'nowhere'"),
        ("text: hello\n    action: nope", "step 'one': unknown action 'nope'"),
        ("text: hello\n    buttons:\n      - {id: b, text: button, next: other.step}", "button goes to unknown step"),
        ("text: hello\n    buttons:\n      - {id: b, text: button, when: nope}", "unknown condition 'nope'"),
        ("text: hello\n    options: nope\n    on_option: {next: one}", "unknown options provider 'nope'"),
        ("text: hello\n    input: nope", "unknown input handler 'nope'"),
        ("text: hello\n    buttons:\n      - {id: b, text: button}\n      - {id: b, text: button}", "duplicate"),
        ("text: hello\n    buttons:\n      - {id: " + "x" * 60 + ", text: button}", "longer than 64 bytes"),
        ("text: hello\n    on_yes: ok\n    buttons:\n      - {id: b, text: button}", "`on_yes:` names no button"),
        ("text: hello\n    unfinished: nowhere", "unfinished goes to unknown step 'nowhere'"),
        ("text: hello\n    unfinished: one", "`unfinished:` must name an entry step ('one')"),
        (
            "text: hello\n    stamp: v\n    buttons:\n      - {id: " + "x" * 50 + ", text: button}",
            "longer than 64",
        ),  # with the stamp
    ],
)
def test_problems_name_the_file_and_the_step(tmp_path: Path, step_body: str, expected: str) -> None:
    flows = Flows.load(write(tmp_path, f"flow: demo\nstart: one\nsteps:\n  one:\n    {step_body}\n"))
    problems = flows.validate(NAMES)
    assert any(p.startswith("demo.yml: ") and expected in p for p in problems), problems


def test_yes_and_no_as_button_ids_are_refused(tmp_path: Path) -> None:
    # YAML turns unquoted yes/no into booleans; the payload would silently become "True".
    with pytest.raises(FlowError, match="not a string"):
        Flows.load(
            write(tmp_path, "flow: demo\nsteps:\n  one:\n    text: hello\n    buttons:\n      - {id: yes, text: b}\n")
        )


def test_unknown_keys_and_broken_yaml_fail_loudly(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match=r"demo.yml: step 'one': unknown keys \['txet'\]"):
        Flows.load(write(tmp_path, "flow: demo\nsteps:\n  one:\n    txet: hello\n"))
    with pytest.raises(FlowError, match="not valid YAML"):
        Flows.load(write(tmp_path, "flow: demo\nsteps: [\n", name="demo.yml"))


def test_the_project_flows_are_valid() -> None:
    from bot.app import build_services
    from bot.settings import Settings
    from tests.fakes import KeywordNLU

    services = build_services(Settings(database_url="sqlite://"), nlu=KeywordNLU(), migrate=False)
    assert set(services.flows.flows) >= {"main", "onboarding", "guide"}
    assert (ROOT / "flows" / "main.yml").is_file()
