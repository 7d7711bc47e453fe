"""Every code block of README.md runs as shown, or names the CI stage that runs it.

Each block follows a marker (an HTML comment, invisible on the rendered page):

- ``<!-- tested: run -->``: run here, exactly as printed.  The blocks of one section (a
  ``## `` heading) run in order in one fresh, empty folder, as a reader would in a shell: a
  ``c`` block is saved as the file its first line names (``/* provider.c: ...``), an ``sh``
  block runs in bash from that folder with this interpreter first on PATH (so ``python`` is
  the one under test) and the repository's ``examples`` linked in (the README's paths are
  from the repository's root), a ``python`` block runs alone as a script, or under pytest
  when it defines tests.
- ``<!-- tested: output of the previous block -->``: a ``text`` block is what the block
  before it printed (stdout and stderr together), numbers aside (ports, times, versions).
- ``<!-- tested by: make A, make B -->``: each command of the block is one that those
  Makefile targets run (their recipes, or the scripts of tools/ they call), with the stage's
  own arguments.

A block without a marker fails here, so no example goes untested unnoticed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import ws2core
from support import missing

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"

_BLOCK = re.compile(r"^<!-- (?P<marker>[^>]*?) -->\n```(?P<lang>\w+)\n(?P<body>.*?)^```$"
                    r"|^```(?P<bare>\w+)\n", re.M | re.S)


@dataclass
class Block:
    section: str
    marker: str | None
    lang: str
    body: str
    line: int

    def describe(self) -> str:
        return f"README.md line {self.line} ({self.section}, {self.lang})"


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


def read_readme() -> list[Section]:
    text = README.read_text(encoding="utf-8")
    sections: list[Section] = []
    for part in re.split(r"^(?=## )", text, flags=re.M):
        title = part.splitlines()[0].removeprefix("## ").strip() if part.startswith("## ") else ""
        section = Section(title)
        offset = text.index(part)
        for match in _BLOCK.finditer(part):
            line = text.count("\n", 0, offset + match.start()) + 1
            if match["bare"]:
                section.blocks.append(Block(title, None, match["bare"], "", line))
            else:
                section.blocks.append(Block(title, match["marker"], match["lang"],
                                            match["body"], line + 1))
        if section.blocks:
            sections.append(section)
    return sections


SECTIONS = read_readme() if README.exists() else []


def test_every_block_has_a_marker() -> None:
    if not README.exists():
        pytest.skip("no README.md beside the tests (an unpacked wheel?)")
    unmarked = [block.describe() for section in SECTIONS for block in section.blocks
                if block.marker is None]
    assert unmarked == [], "blocks that nothing runs"
    markers = {block.marker for section in SECTIONS for block in section.blocks}
    known = {"tested: run", "tested: output of the previous block"}
    unknown = [m for m in markers if m not in known and not (m or "").startswith("tested by: ")]
    assert unknown == []


# ---------------------------------------------------------------------------------------
# Blocks run here


def _runnable(section: Section) -> bool:
    return any(block.marker == "tested: run" for block in section.blocks)


# The documentation ranges (RFC 5737), the only outside addresses an example may name.
_OUTSIDE = re.compile(r"\b(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+")


def _needs(section: Section) -> list[pytest.MarkDecorator]:
    text = "".join(block.body for block in section.blocks)
    marks = [pytest.mark.emulator] if "mingw32-gcc" in text else []
    if _OUTSIDE.search(text):  # a section that names one runs where nothing can leave
        marks.append(pytest.mark.isolated_network)
    return marks


@pytest.mark.parametrize("section", [
    pytest.param(section, id=re.sub(r"\W+", "-", section.title.lower()).strip("-"),
                 marks=_needs(section))
    for section in SECTIONS if _runnable(section)])
def test_section_runs_as_shown(section: Section, tmp_path: Path) -> None:
    text = "".join(block.body for block in section.blocks)
    if "native_table()" in text and ws2core.IMPLEMENTATION != "cython":
        pytest.skip("the native table is the Cython core's (the twin has none)")
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    previous_output: str | None = None
    for block in section.blocks:
        if block.marker == "tested: output of the previous block":
            assert previous_output is not None, f"{block.describe()} follows no run block"
            assert _numbers_aside(previous_output) == _numbers_aside(block.body), \
                f"{block.describe()} is not what the block before it printed:\n{previous_output}"
            continue
        if block.marker != "tested: run":
            continue
        previous_output = _run(block, tmp_path, env)


def _run(block: Block, folder: Path, env: dict[str, str]) -> str:
    if block.lang == "c":
        named = re.match(r"/\* (\S+\.c):", block.body)
        assert named, f"{block.describe()}: its first line does not name its file"
        (folder / named[1]).write_text(block.body)
        return ""
    if block.lang == "sh":
        for word in ("x86_64-w64-mingw32-gcc", "cc"):
            if re.search(rf"^{re.escape(word)} ", block.body, re.M):
                _require_tool(word)
        command = ["bash", "-euo", "pipefail", "-c", block.body]
    elif block.lang == "python":
        script = folder / f"readme_line_{block.line}.py"
        script.write_text(block.body)
        if re.search(r"^def test_", block.body, re.M):
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                       script.name]
        else:
            command = [sys.executable, script.name]
    else:
        raise AssertionError(f"{block.describe()}: no way to run a {block.lang} block")
    done = subprocess.run(command, cwd=folder, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    assert done.returncode == 0, f"{block.describe()} failed ({done.returncode}):\n{done.stdout}"
    return done.stdout


def _require_tool(name: str) -> None:
    from shutil import which

    if which(name) is None:
        missing(f"{name} not found: the README's example needs it")


def _numbers_aside(text: str) -> list[str]:
    return [re.sub(r"\d+(\.\d+)*", "N", line).rstrip() for line in text.strip().splitlines()]


# ---------------------------------------------------------------------------------------
# Blocks a CI stage runs


def _recipes(targets: list[str]) -> str:
    """The recipes of ``targets`` in the Makefile, and the tools/ scripts they call."""
    makefile = MAKEFILE.read_text()
    text = ""
    for target in targets:
        found = re.search(rf"^{re.escape(target)}:.*?\n((?:\t.*\n|\n)*)", makefile, re.M)
        assert found, f"the Makefile has no target {target}"
        text += found[1]
    for script in re.findall(r"tools/[\w/]+\.sh", text):
        path = ROOT / script
        if path.exists():
            text += path.read_text()
    return text


def _commands(body: str) -> list[str]:
    """The commands of a shell block: its lines without comments, split at &&."""
    commands = []
    for line in body.splitlines():
        code = line.split("  #", 1)[0].strip()
        commands += [part.strip() for part in code.split("&&") if part.strip()]
    return commands


def _what_runs(command: str) -> str:
    """What a command runs, without the interpreter, the environment and the arguments:
    ``-m pytest``, ``-m ws2core bench``, ``tools/sanitize.sh``, ``fuzz/run.py``..."""
    words = [w for w in shlex.split(command) if "=" not in w or w.startswith("-")]
    if words and words[0] in ("python", "python3", "bash", ". "):
        words = words[1:]
    while words and words[0] in ("-X", "dev"):
        words = words[1:]
    if words[:1] == ["-m"]:
        if words[1] == "pytest":  # and the folder it tests, if it names one
            takes_value = ("-m", "-k", "-p")   # their values are no folder
            paths = [w.split("/")[0] for before, w in zip(words[1:], words[2:])
                     if not w.startswith("-") and before not in takes_value]
            return " ".join(["-m", "pytest", *paths[:1]])
        return " ".join(words[:3] if words[1] in ("ws2core", "pip") else words[:2])
    return words[0] if words else ""


@pytest.mark.parametrize("block", [
    pytest.param(block, id=f"line-{block.line}") for section in SECTIONS
    for block in section.blocks if (block.marker or "").startswith("tested by: ")])
def test_ci_runs_the_block(block: Block) -> None:
    if not MAKEFILE.exists():
        pytest.skip("no Makefile beside the tests")
    targets = [name.strip().removeprefix("make ").strip()
               for name in (block.marker or "").removeprefix("tested by: ").split(",")]
    recipes = _recipes(targets)
    for command in _commands(block.body):
        if command.startswith(("python3 -m venv", ". .venv")):
            assert "-m venv" in recipes, f"{block.describe()}: no venv made by {targets}"
            continue
        runs = _what_runs(command)
        assert runs and runs in recipes, \
            f"{block.describe()}: `{command}` ({runs!r}) is run by none of {targets}"
