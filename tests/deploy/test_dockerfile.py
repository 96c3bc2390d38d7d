"""The Dockerfile without a Docker engine: its build context, user, health check and layout.

The installed layout is checked by building the wheel from what the build stage copies and
asking the installed code itself where it looks for templates/ and alert_rules/.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from .conftest import REPO_ROOT

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
SITE_PACKAGES = "/opt/slaengine/lib/python3.11/site-packages"
PACKAGES = ("slaengine", "streams", "forecasting")


def instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def dockerignore_rules() -> list[tuple[bool, str]]:
    rules = []
    for line in (REPO_ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), line.lstrip("!").rstrip("/")))
    return rules


def matches(pattern: str, path: str) -> bool:
    """Docker's matching: a pattern excluding a directory excludes what is inside it."""
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    if pattern.startswith("**/"):
        return any(fnmatch.fnmatchcase(c.split("/")[-1], pattern[3:]) for c in candidates)
    return any(
        fnmatch.fnmatchcase(c, pattern) and c.count("/") == pattern.count("/") for c in candidates
    )


def in_context(path: str) -> bool:
    """The last matching line of .dockerignore decides; '!' lines put files back."""
    included = True
    for keep, pattern in dockerignore_rules():
        if matches(pattern, path):
            included = keep
    return included


def copy_sources() -> list[str]:
    sources = []
    for op, args in instructions():
        if op == "COPY" and "--from=" not in args:
            words = [w for w in args.split() if not w.startswith("--")]
            sources += words[:-1]
    return sources


def test_final_image_is_python_311_slim_and_runs_as_a_non_root_user() -> None:
    stage = final_stage()
    assert stage[0] == ("FROM", "python:3.11-slim")
    users = [args for op, args in stage if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert [op for op, _ in stage].index("USER") < [op for op, _ in stage].index("ENTRYPOINT")


def test_healthcheck_asks_the_workers_health_endpoint_on_its_port() -> None:
    (check,) = [args for op, args in final_stage() if op == "HEALTHCHECK"]
    assert "/health" in check and "SLAENGINE_HTTP_PORT" in check
    env = " ".join(args for op, args in final_stage() if op == "ENV")
    assert "SLAENGINE_HTTP_PORT=8000" in env and "SLAENGINE_HTTP_HOST=0.0.0.0" in env
    assert ("EXPOSE", "8000") in final_stage()


def test_the_package_is_pip_installed_from_the_source() -> None:
    runs = " ".join(args for op, args in instructions() if op == "RUN")
    assert re.search(r"pip install (--no-deps )?\.(\s|$)", runs)


def test_every_copied_file_is_in_the_build_context() -> None:
    sources = copy_sources()
    assert {"pyproject.toml", "slaengine/", "templates/", "alert_rules/"} <= set(sources)
    for source in sources:
        assert (REPO_ROOT / source).exists(), source
        files = (
            [source]
            if (REPO_ROOT / source).is_file()
            else [
                str(p.relative_to(REPO_ROOT))
                for p in (REPO_ROOT / source).rglob("*")
                if p.is_file() and "__pycache__" not in p.parts
            ]
        )
        excluded = [f for f in files if not in_context(f)]
        assert files and excluded == [], f"{source}: .dockerignore leaves out {excluded[:5]}"


def test_local_state_stays_out_of_the_build_context() -> None:
    for path in (
        ".venv/bin/python",
        ".kafka-local/9092/data",
        ".data/x",
        ".git/config",
        "slaengine/__pycache__/cli.cpython-311.pyc",
        "tests/conftest.py",
    ):
        assert not in_context(path), path


def build_stage_copies() -> list[str]:
    """What the build stage copies into /src, the folder `pip install .` builds the wheel from."""
    steps = instructions()
    second_from = [i for i, (op, _) in enumerate(steps) if op == "FROM"][1]
    sources = []
    for op, args in steps[:second_from]:
        if op == "COPY" and "--from=" not in args:
            sources += [w for w in args.split() if not w.startswith("--")][:-1]
    return sources


def test_the_wheel_carries_the_data_files_the_installed_code_looks_for(tmp_path: Path) -> None:
    src, site = tmp_path / "src", tmp_path / "site-packages"
    for source in build_stage_copies():  # the build stage's /src, symlinks kept as Docker does
        if (REPO_ROOT / source).is_dir():
            shutil.copytree(
                REPO_ROOT / source,
                src / source,
                symlinks=True,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        else:
            (src / source).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO_ROOT / source, src / source)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(site),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from slaengine.report.styles import TEMPLATES_DIR;"
        "from slaengine.router.config import DEFAULT_ROUTING_FILE;"
        "from streams.evaluator import ALERT_RULES_DIR;"
        "print(TEMPLATES_DIR); print(DEFAULT_ROUTING_FILE.parent); print(ALERT_RULES_DIR)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(site)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
    )
    looked_up = {Path(line).relative_to(site).as_posix() for line in done.stdout.split()}
    assert looked_up == {"slaengine/data/templates", "slaengine/data/alert_rules"}
    for folder in ("templates", "alert_rules"):
        shipped = sorted(p.name for p in (REPO_ROOT / folder).iterdir() if p.is_file())
        installed = site / "slaengine" / "data" / folder
        assert shipped and sorted(p.name for p in installed.iterdir()) == shipped, folder
        for name in shipped:
            assert not (installed / name).is_symlink()
            assert (installed / name).read_bytes() == (REPO_ROOT / folder / name).read_bytes()
    copies = [args for op, args in final_stage() if op == "COPY"]
    assert not [c for c in copies if SITE_PACKAGES in c], "data is package data, not copied by hand"


def test_entrypoint_gives_each_replica_its_own_worker_id(tmp_path: Path) -> None:
    fake = tmp_path / "slaengine"
    fake.write_text('#!/bin/sh\necho "$SLAENGINE_WORKER_ID $*"\n')
    fake.chmod(0o755)
    entrypoint = str(REPO_ROOT / "deploy" / "docker" / "entrypoint.sh")
    env = {k: v for k, v in os.environ.items() if k != "SLAENGINE_WORKER_ID"}
    env["PATH"] = f"{tmp_path}:{env['PATH']}"
    derived = subprocess.run(
        [entrypoint, "worker", "--flush-interval", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert derived.stdout.split() == [socket.gethostname(), "worker", "--flush-interval", "1"]
    given = subprocess.run(
        [entrypoint, "worker"],
        env={**env, "SLAENGINE_WORKER_ID": "w7"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert given.stdout.split() == ["w7", "worker"]
