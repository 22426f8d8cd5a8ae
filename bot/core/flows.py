"""Conversation flows as data (`flows/*.yml`), loaded and checked before the bot starts.

A flow is a set of steps. A step shows texts (by key) and buttons (by payload id), may run an action
(code bound by name) when entered, may offer dynamic options from a provider, may take free text, and
says where to go next. A step may also name the buttons a typed yes, no or stop stands for (`on_yes`,
`on_no`, `on_stop`), the flow variable of the item it shows (`stamp`: buttons under an older message about
another item are then refused), and the entry step to show when a typed question takes the family away
from it before the flow is done (`unfinished`: "your booking is not finished", with a way back).
References between steps are `step` (same flow), `flow.step`, or `flow` (its start step). Every name
is checked at load time; an error names the file and the step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_CALLBACK_BYTES = 64
PAYLOAD_SEPARATOR = ":"
# A stamped step's payloads end with "~" and a short digest of the item the message was about.
STAMP_SEPARATOR = "~"
STAMP_CHARS = 6


class FlowError(ValueError):
    pass


@dataclass(frozen=True)
class ButtonSpec:
    id: str
    text: str
    next: str | None = None
    action: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    when: str | None = None


@dataclass(frozen=True)
class StepSpec:
    flow: str
    id: str
    texts: tuple[str, ...] = ()
    action: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    buttons: tuple[ButtonSpec, ...] = ()
    options: str | None = None
    on_option: ButtonSpec | None = None
    input: str | None = None
    next: str | None = None
    entry: bool = False
    columns: int = 1
    # The buttons a typed "yes" / "no" stands for at this step (the NLU's affirm / deny), if any.
    on_yes: str | None = None
    on_no: str | None = None
    # The button a typed "stop" or "cancel" stands for ("peru", "lopeta", "отмена"), if any.
    on_stop: str | None = None
    # A flow variable naming the item the step shows (a group, a guide section): its buttons carry a stamp
    # of it, so that a button under an older message about another item is refused, not applied to this one.
    stamp: str | None = None
    # An entry step shown below the answer when a typed question leads away from this step half way through
    # its flow (a booking not yet made): its button's action `resume` brings the family back here.
    unfinished: str | None = None
    # What the family types at this step is not kept in the message log (a phone number).
    sensitive: bool = False

    @property
    def ref(self) -> str:
        return f"{self.flow}.{self.id}"

    def payload(self, choice: str) -> str:
        return f"{self.ref}{PAYLOAD_SEPARATOR}{choice}"

    def button(self, choice: str) -> ButtonSpec | None:
        return next((b for b in self.buttons if b.id == choice), None)


@dataclass(frozen=True)
class Flow:
    id: str
    start: str
    steps: dict[str, StepSpec]
    source: Path


@dataclass(frozen=True)
class Names:
    """What code offers to flows: the names a flow file may refer to."""

    actions: frozenset[str]
    conditions: frozenset[str]
    providers: frozenset[str]
    inputs: frozenset[str]
    text_keys: frozenset[str]


class Flows:
    """All flows, indexed by `flow.step`."""

    def __init__(self, flows: dict[str, Flow]) -> None:
        self.flows = flows

    @classmethod
    def load(cls, directory: Path) -> Flows:
        flows: dict[str, Flow] = {}
        for path in sorted(directory.glob("*.yml")):
            flow = _parse_flow(path)
            if flow.id in flows:
                raise FlowError(f"{path}: flow id {flow.id!r} is also defined in {flows[flow.id].source}")
            flows[flow.id] = flow
        if not flows:
            raise FlowError(f"{directory}: no flow files found")
        return cls(flows)

    def step(self, ref: str, *, current_flow: str | None = None) -> StepSpec:
        """Resolve `flow.step`, `flow` or (relative to `current_flow`) `step`."""
        flow_id, _, step_id = ref.partition(".")
        if not step_id:
            if current_flow and ref in self.flows[current_flow].steps:
                return self.flows[current_flow].steps[ref]
            if ref in self.flows:
                return self.flows[ref].steps[self.flows[ref].start]
            raise FlowError(f"unknown step {ref!r}")
        flow = self.flows.get(flow_id)
        if flow is None or step_id not in flow.steps:
            raise FlowError(f"unknown step {ref!r}")
        return flow.steps[step_id]

    def find(self, ref: str) -> StepSpec | None:
        try:
            return self.step(ref)
        except FlowError:
            return None

    def all_steps(self) -> Iterable[StepSpec]:
        for flow in self.flows.values():
            yield from flow.steps.values()

    def validate(self, names: Names) -> list[str]:
        """Every problem, as `file: step: message` lines (empty when the flows are sound)."""
        problems: list[str] = []
        for flow in self.flows.values():
            where = f"{flow.source.name}"
            if flow.start not in flow.steps:
                problems.append(f"{where}: start step {flow.start!r} does not exist")
            for step in flow.steps.values():
                at = f"{where}: step {step.id!r}"
                problems.extend(self._check_step(step, names, at))
        return problems

    def _is_entry(self, ref: str, current_flow: str) -> bool:
        try:
            return self.step(ref, current_flow=current_flow).entry
        except FlowError:
            return True  # an unknown step: reported as such

    def _check_step(self, step: StepSpec, names: Names, at: str) -> list[str]:
        problems: list[str] = []

        def check_ref(ref: str | None, what: str) -> None:
            if ref is None:
                return
            try:
                self.step(ref, current_flow=step.flow)
            except FlowError:
                problems.append(f"{at}: {what} goes to unknown step {ref!r}")

        for key in step.texts:
            if key not in names.text_keys:
                problems.append(f"{at}: unknown text key {key!r}")
        if step.action and step.action not in names.actions:
            problems.append(f"{at}: unknown action {step.action!r}")
        if step.options and step.options not in names.providers:
            problems.append(f"{at}: unknown options provider {step.options!r}")
        if step.input and step.input not in names.inputs:
            problems.append(f"{at}: unknown input handler {step.input!r}")
        if step.options and step.on_option is None:
            problems.append(f"{at}: has options but no on_option")
        if (step.buttons or step.options) and not (step.texts or step.action):
            problems.append(f"{at}: has buttons but no text or action to carry them")
        check_ref(step.next, "next")
        check_ref(step.unfinished, "unfinished")
        if step.unfinished is not None and not self._is_entry(step.unfinished, step.flow):
            problems.append(f"{at}: `unfinished:` must name an entry step ({step.unfinished!r})")
        for key, target in (("on_yes", step.on_yes), ("on_no", step.on_no), ("on_stop", step.on_stop)):
            if target is not None and step.button(target) is None:
                problems.append(f"{at}: `{key}:` names no button of the step ({target!r})")
        stamp_bytes = len(STAMP_SEPARATOR) + STAMP_CHARS if step.stamp else 0
        seen: set[str] = set()
        for button in (*step.buttons, *([step.on_option] if step.on_option else [])):
            label = f"{at}: button {button.id!r}"
            if button.id in seen:
                problems.append(f"{label}: duplicate button id")
            seen.add(button.id)
            if button is not step.on_option and button.text not in names.text_keys:
                problems.append(f"{label}: unknown text key {button.text!r}")
            if button.action and button.action not in names.actions:
                problems.append(f"{label}: unknown action {button.action!r}")
            if button.when and button.when not in names.conditions:
                problems.append(f"{label}: unknown condition {button.when!r}")
            check_ref(button.next, "button")
            if len(step.payload(button.id).encode()) + stamp_bytes > MAX_CALLBACK_BYTES:
                problems.append(f"{label}: payload longer than {MAX_CALLBACK_BYTES} bytes")
        if step.options and len(step.payload("x" * 20).encode()) + stamp_bytes > MAX_CALLBACK_BYTES:
            problems.append(f"{at}: step reference too long to carry 20-byte option ids")
        return problems


def _parse_flow(path: Path) -> Flow:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise FlowError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(raw, dict) or "flow" not in raw or "steps" not in raw:
        raise FlowError(f"{path}: a flow file needs `flow:`, `start:` and `steps:`")
    flow_id = str(raw["flow"])
    if "." in flow_id or PAYLOAD_SEPARATOR in flow_id:
        raise FlowError(f"{path}: flow id {flow_id!r} may not contain '.' or ':'")
    steps: dict[str, StepSpec] = {}
    if not isinstance(raw["steps"], dict):
        raise FlowError(f"{path}: `steps:` must map step ids to steps")
    for step_id, body in raw["steps"].items():
        steps[str(step_id)] = _parse_step(path, flow_id, str(step_id), body or {})
    return Flow(flow_id, str(raw.get("start") or next(iter(steps), "")), steps, path)


STEP_KEYS = set(
    "text action args buttons options on_option input next entry columns on_yes on_no on_stop stamp unfinished"
    " sensitive".split()
)
BUTTON_KEYS = {"id", "text", "next", "action", "args", "when"}


def _parse_step(path: Path, flow_id: str, step_id: str, body: dict[str, Any]) -> StepSpec:
    at = f"{path}: step {step_id!r}"
    if not isinstance(body, dict):
        raise FlowError(f"{at}: must be a mapping")
    unknown = set(body) - STEP_KEYS
    if unknown:
        raise FlowError(f"{at}: unknown keys {sorted(unknown)}")
    if "." in step_id or PAYLOAD_SEPARATOR in step_id:
        raise FlowError(f"{at}: step ids may not contain '.' or ':'")
    texts = body.get("text") or ()
    texts = (texts,) if isinstance(texts, str) else tuple(str(t) for t in texts)
    buttons = tuple(_parse_button(at, b) for b in body.get("buttons") or ())
    on_option = body.get("on_option")
    return StepSpec(
        flow=flow_id,
        id=step_id,
        texts=texts,
        action=body.get("action"),
        args=dict(body.get("args") or {}),
        buttons=buttons,
        options=body.get("options"),
        on_option=_parse_button(at, {"id": "*option", "text": "", **on_option}) if on_option else None,
        input=body.get("input"),
        next=body.get("next"),
        entry=bool(body.get("entry", False)),
        columns=int(body.get("columns", 1)),
        on_yes=_button_id(body, "on_yes"),
        on_no=_button_id(body, "on_no"),
        on_stop=_button_id(body, "on_stop"),
        stamp=body.get("stamp"),
        unfinished=body.get("unfinished"),
        sensitive=bool(body.get("sensitive", False)),
    )


def _button_id(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    return None if value is None else str(value)


def _parse_button(at: str, raw: dict[str, Any]) -> ButtonSpec:
    if not isinstance(raw, dict) or "id" not in raw:
        raise FlowError(f"{at}: every button needs an `id`")
    unknown = set(raw) - BUTTON_KEYS
    if unknown:
        raise FlowError(f"{at}: button {raw.get('id')!r} has unknown keys {sorted(unknown)}")
    if not isinstance(raw["id"], str | int) or isinstance(raw["id"], bool):
        # YAML reads unquoted yes/no/on/off as booleans: an id must stay the text it looks like.
        raise FlowError(f"{at}: button id {raw['id']!r} is not a string (quote it)")
    button_id = str(raw["id"])
    if PAYLOAD_SEPARATOR in button_id or STAMP_SEPARATOR in button_id:
        raise FlowError(f"{at}: button id {button_id!r} may not contain ':' or '~'")
    return ButtonSpec(
        id=button_id,
        text=str(raw.get("text", "")),
        next=raw.get("next"),
        action=raw.get("action"),
        args=dict(raw.get("args") or {}),
        when=raw.get("when"),
    )
