"""Every fenced code block in README.md and docs/*.md is run here, so the documentation cannot drift.

The rules (docs/writing-docs.md explains them to authors):

* Every block names its language in the fence's info string. What the harness does with it:
  - ``python``: runs ON ITS OWN, as a reader who copies one block would run it: a namespace of its
    own (no names from other blocks) and a fresh temporary directory as the working directory. It
    runs in the test process (imports are paid once); it must not raise. Write ``assert`` lines to
    pin what the prose claims.
  - ``yaml``: a mapping with ``steps:`` is a scenario: loaded with the scenario loader and run on a
    fresh SQLite city; every expectation must pass. A mapping with ``sandbox:`` is a city
    configuration: loaded with the config loader. Any other YAML fails.
  - ``sh``: the page's shell blocks run in order, each as a ``bash`` script with ``set -euo pipefail``,
    so every command must succeed (the failing command is named). They share one temporary working
    directory per page (holding links to the repository's ``scenarios/`` and ``sandbox/presets/``) and the variables they
    set; ``cryptocity`` is this venv's. ``curl`` runs for real with ``--fail-with-body`` (an HTTP
    error fails the block). ``make TARGET`` is dry-run in the repository (``make -n``) to prove the
    target and its recipe; ``make demo`` then runs what its recipe runs (``cryptocity demo``), and
    ``make test`` runs nothing more: it is this very suite, which cannot run itself; nor does
    ``make chains`` (``make test`` runs it first).
  - ``mermaid``: checked structurally (a known diagram type, balanced brackets and blocks); no
    network, no renderer.
* A marker on the line right before a fence changes that:
  - ``<!-- docs: background -->`` on a ``sh`` block holding one ``cryptocity serve`` command: it is
    started in the background on a free port of 127.0.0.1 and must become ready (``/readyz``); every
    ``http://localhost:8000/...`` URL in its comments must answer 200; the page's later shell blocks
    reach it at ``localhost:8000``, which the harness points at the real port. It stops at the end of
    the page.
  - ``<!-- docs: needs-anvil -->`` on a ``python`` block: it runs like any other when anvil is installed
    (``make chains``), is skipped when it is not, and fails under CI=true without it.
  - ``<!-- docs: not-run REASON -->`` with REASON from NOT_RUN_REASONS: the block is not run (a
    ``cryptocity`` command in it is still parsed against the real CLI, so a renamed option fails).
* A block the harness does not know how to run (no language, an unknown one, an unknown marker or
  reason) FAILS: a new block cannot slip in unrun.
"""
from __future__ import annotations

import os
import re
import shlex
import socket
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
SERVER_PLACEHOLDER = "localhost:8000"
NOT_RUN_REASONS = {
    "output": "the block shows what a command prints; it is not input",
    "postgresql": "needs a PostgreSQL server at the URL shown (the suite's own PostgreSQL tests cover it)",
}
MARKERS = ("background", "not-run", "needs-anvil")
SHELL = ("sh", "bash", "shell")
MERMAID_TYPES = ("flowchart", "graph", "sequenceDiagram", "classDiagram", "stateDiagram", "stateDiagram-v2",
                 "erDiagram", "journey", "gantt", "pie", "gitGraph", "mindmap", "timeline")
MARKER_RE = re.compile(r"^<!--\s*docs:\s*(?P<kind>[\w-]+)(?:\s+(?P<arg>[^>]*?))?\s*-->\s*$")
BLOCK_TIMEOUT_S = 300
READY_TIMEOUT_S = 120


@dataclass(frozen=True)
class Block:
    page: Path
    line: int          # 1-based line of the opening fence
    lang: str
    body: str
    marker: str | None = None
    marker_arg: str = ""

    @property
    def where(self) -> str:
        return f"{_shown(self.page)}:{self.line}"


def _shown(page: Path) -> str:
    return str(page.relative_to(ROOT)) if ROOT in page.parents else str(page)


def _tokens(page: Path):
    return MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8"))


def blocks_of(page: Path) -> list[Block]:
    """The page's fenced blocks with their markers; a marker not followed by a fence is an error."""
    out: list[Block] = []
    pending = None
    for token in _tokens(page):
        if token.type == "html_block" and "docs:" in token.content:
            match = MARKER_RE.match(token.content.strip())
            if match is None:
                raise AssertionError(f"{_shown(page)}:{token.map[0] + 1}: malformed docs marker "
                                     f"{token.content.strip()!r}; write <!-- docs: KIND [ARG] -->")
            pending = (match["kind"], (match["arg"] or "").strip(), token.map[0] + 1)
            continue
        if token.type == "fence":
            kind, arg = (pending[0], pending[1]) if pending else (None, "")
            out.append(Block(page, token.map[0] + 1, token.info.split()[0] if token.info.strip() else "",
                             token.content, kind, arg))
        elif pending is not None:
            raise AssertionError(f"{_shown(page)}:{pending[2]}: a docs marker must come right before "
                                 "a code block")
        pending = None
    return out


ALL_BLOCKS = [b for page in PAGES for b in blocks_of(page)]


def _classify(block: Block) -> str:
    """What the harness does with ``block``; raises AssertionError for anything it cannot run."""
    if block.marker is not None and block.marker not in MARKERS:
        raise AssertionError(f"{block.where}: unknown docs marker {block.marker!r}; known: {', '.join(MARKERS)}")
    if block.marker == "not-run":
        if block.marker_arg not in NOT_RUN_REASONS:
            raise AssertionError(f"{block.where}: not-run needs a reason from {sorted(NOT_RUN_REASONS)}, "
                                 f"got {block.marker_arg!r}")
        return "not-run"
    if block.marker == "background" and block.lang not in SHELL:
        raise AssertionError(f"{block.where}: only a shell block can run in the background")
    if block.marker == "needs-anvil" and block.lang != "python":
        raise AssertionError(f"{block.where}: needs-anvil marks a python block")
    if block.lang == "python":
        return "python"
    if block.lang in SHELL:
        return "shell"
    if block.lang == "mermaid":
        return "mermaid"
    if block.lang == "yaml":
        data = yaml.safe_load(block.body)
        if isinstance(data, dict) and "steps" in data:
            return "scenario"
        if isinstance(data, dict) and "sandbox" in data:
            return "config"
        raise AssertionError(f"{block.where}: a yaml block must be a scenario (steps:) or a city configuration "
                             "(sandbox:)")
    raise AssertionError(f"{block.where}: the harness cannot run a {block.lang or 'plain'!r} block: give it a "
                         f"language it runs (python, yaml, sh, mermaid) or <!-- docs: not-run REASON --> "
                         f"with a reason from {sorted(NOT_RUN_REASONS)}")


def _ids(blocks):
    return [f"{b.where}-{b.lang or 'plain'}" for b in blocks]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOCITY_DATABASE_URL")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    return env


def _run(cmd: list[str], cwd: Path, what: str, extra_env: dict[str, str] | None = None,
         sessions: list[int] | None = None) -> None:
    """Run ``cmd``; with ``sessions``, in a session of its own whose id is added to the list, so what a
    block leaves running in the background (``… &``) can be stopped when the page ends, even when a
    later block failed before its own ``kill`` (a leftover receiver would hold its port for the next run)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env={**_env(), **(extra_env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=sessions is not None)
    if sessions is not None:
        sessions.append(proc.pid)
    try:
        stdout, stderr = proc.communicate(timeout=BLOCK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    proc = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    if proc.returncode != 0:
        pytest.fail(f"{what} failed (exit {proc.returncode})\n--- stdout\n{proc.stdout[-6000:]}\n"
                    f"--- stderr\n{proc.stderr[-6000:]}", pytrace=False)


# ------------------------------------------------------------------------------------- the page set
def test_every_block_is_known():
    """Every block is run by one of the tests below or carries an allowed not-run reason."""
    problems = []
    for block in ALL_BLOCKS:
        try:
            _classify(block)
        except AssertionError as error:
            problems.append(str(error))
    assert not problems, "\n".join(problems)
    assert ALL_BLOCKS, "no code blocks found"


@pytest.mark.parametrize("page, problem", [
    ("```\nmake demo\n```\n", "cannot run a 'plain' block"),
    ("```ruby\nputs 1\n```\n", "cannot run a 'ruby' block"),
    ("<!-- docs: not-run because -->\n```sh\nls\n```\n", "not-run needs a reason"),
    ("<!-- docs: skip -->\n```sh\nls\n```\n", "unknown docs marker"),
    ("<!-- docs: background -->\n```python\nx = 1\n```\n", "only a shell block"),
    ("```yaml\nname: half a scenario\n```\n", "must be a scenario"),
    ("<!-- docs: not-run output -->\n\nSome prose.\n", "must come right before a code block"),
    ("<!-- docs: not-run: output -->\n```text\nhello\n```\n", "malformed docs marker"),
], ids=["no-language", "unknown-language", "unknown-reason", "unknown-marker", "background-python",
        "yaml-neither", "stray-marker", "malformed-marker"])
def test_a_block_the_harness_cannot_run_fails(tmp_path: Path, page: str, problem: str):
    path = tmp_path / "page.md"
    path.write_text(page, encoding="utf-8")
    with pytest.raises(AssertionError, match=re.escape(problem)):
        for block in blocks_of(path):
            _classify(block)


def test_an_allowed_not_run_block_is_accepted(tmp_path: Path):
    path = tmp_path / "page.md"
    path.write_text("<!-- docs: not-run output -->\n```text\n00 approved\n```\n", encoding="utf-8")
    [block] = blocks_of(path)
    assert _classify(block) == "not-run" and block.marker_arg == "output"


def test_readme_starts_with_the_two_commands():
    first = blocks_of(ROOT / "README.md")[0]
    assert first.body == "make demo\nmake test\n", f"README.md must start with `make demo` and `make test`, got {first.body!r}"


def test_links_stay_inside_the_repository_and_resolve():
    """The README and docs/ stand on their own: no link out of the repository, none to a missing file, and
    every docs page is reachable from the README."""
    linked_from_readme: set[Path] = set()
    problems = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        if "../" in text:
            problems.append(f"{page.relative_to(ROOT)} mentions a path outside the repository (../), which users do not have")
        for token in _tokens(page):
            for child in token.children or ():
                href = child.attrs.get("href") if child.type == "link_open" else None
                if not href or re.match(r"^[a-z]+:", href) or href.startswith("#"):
                    continue
                target = (page.parent / href.split("#", 1)[0]).resolve()
                if not target.exists() or ROOT not in target.parents:
                    problems.append(f"{page.relative_to(ROOT)} links {href!r}, which is not a file of the repository")
                elif page.name == "README.md" and page.parent == ROOT:
                    linked_from_readme.add(target)
    for page in PAGES[1:]:
        if page not in linked_from_readme:
            problems.append(f"{page.relative_to(ROOT)} is not linked from README.md")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------- python
def _slow(block: Block) -> bool:
    """Blocks that build a whole city or deploy the KZTE contract take seconds."""
    return any(word in block.body for word in ("CryptoCity", "deploy("))


PYTHON = [pytest.param(b, id=_ids([b])[0], marks=[pytest.mark.slow] if _slow(b) else [])
          for b in ALL_BLOCKS if b.lang == "python" and b.marker in (None, "needs-anvil")]


@pytest.mark.parametrize("block", PYTHON)
def test_python_block_runs_on_its_own(block: Block, tmp_path: Path, monkeypatch):
    # In this process (imports are paid once), but in a namespace of its own and a fresh working directory.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRYPTOCITY_DATABASE_URL", raising=False)
    if block.marker == "needs-anvil":
        from sandbox.anvil import anvil_binary
        if anvil_binary() is None:
            if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
                pytest.fail(f"{block.where} needs anvil: `make chains` installs it")
            pytest.skip(f"{block.where} needs anvil: run `make chains`")
    # Padding with the fence's line number makes a traceback name the page's own line.
    code = compile("\n" * block.line + block.body, str(block.page), "exec")
    exec(code, {"__name__": "__main__"})  # noqa: S102 - the documentation's own example


# ------------------------------------------------------------------------------------- yaml
SCENARIOS = [b for b in ALL_BLOCKS if b.lang == "yaml" and b.marker is None and "steps" in (yaml.safe_load(b.body) or {})]
CONFIGS = [b for b in ALL_BLOCKS if b.lang == "yaml" and b.marker is None and b not in SCENARIOS]


@pytest.mark.slow
@pytest.mark.parametrize("block", SCENARIOS, ids=_ids(SCENARIOS))
def test_scenario_block_passes(block: Block, tmp_path: Path):
    from sandbox.city import CryptoCity
    from sandbox.scenarios import run_scenario, scenario_from_text

    scenario = scenario_from_text(block.body, block.where, base_dir=tmp_path)
    result = run_scenario(scenario, lambda cfg, seed: CryptoCity.from_config(
        cfg, db=f"sqlite:///{tmp_path / 'city.db'}", seed=seed))
    assert result.results, f"{block.where}: the scenario checks nothing"
    assert result.passed, f"{block.where}: " + "; ".join(r.describe() for r in result.failures)


@pytest.mark.parametrize("block", CONFIGS, ids=_ids(CONFIGS))
def test_config_block_loads(block: Block, tmp_path: Path):
    from sandbox.config import load_config
    path = tmp_path / "city.yaml"
    path.write_text(block.body, encoding="utf-8")
    load_config(path)


# ------------------------------------------------------------------------------------- mermaid
def check_mermaid(text: str) -> None:
    """Structural checks without a renderer: a known diagram type, balanced brackets on every line,
    and every ``subgraph``/``alt``/``loop``/... closed by an ``end``."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("%%")]
    assert len(lines) >= 2, "a diagram needs a type line and at least one statement"
    kind = lines[0].split()[0]
    assert kind in MERMAID_TYPES, f"unknown diagram type {kind!r}"
    if kind in ("flowchart", "graph"):
        direction = lines[0].split()[1:2]
        assert direction and direction[0] in ("TD", "TB", "BT", "LR", "RL"), f"bad direction in {lines[0]!r}"
    openers = {"flowchart": ("subgraph",), "graph": ("subgraph",),
               "sequenceDiagram": ("alt", "opt", "loop", "par", "critical", "break", "rect", "box")}.get(kind, ())
    depth = 0
    for n, line in enumerate(lines[1:], 2):
        word = line.split()[0]
        if word in openers:
            depth += 1
        elif word == "end":
            depth -= 1
            assert depth >= 0, f"line {n}: 'end' without an open block"
        stack = []
        for ch in re.sub(r'"[^"]*"', "", line):
            if ch in "([{":
                stack.append(ch)
            elif ch in ")]}":
                assert stack and "([{"[")]}".index(ch)] == stack.pop(), f"line {n}: unbalanced {ch!r} in {line!r}"
        assert not stack, f"line {n}: unclosed {stack[-1]!r} in {line!r}"
        assert line.count('"') % 2 == 0, f"line {n}: unbalanced quote in {line!r}"
        assert ";" not in line.rstrip(";"), f"line {n}: ';' ends a statement in mermaid, mid-line in {line!r}"
    assert depth == 0, "a block is not closed by 'end'"


MERMAID = [b for b in ALL_BLOCKS if b.lang == "mermaid" and b.marker is None]


@pytest.mark.parametrize("block", MERMAID, ids=_ids(MERMAID))
def test_mermaid_block_is_well_formed(block: Block):
    try:
        check_mermaid(block.body)
    except AssertionError as error:
        pytest.fail(f"{block.where}: {error}", pytrace=False)


def test_mermaid_check_refuses_broken_diagrams():
    for broken in ("flowchart TD\n  a[x --> b", "sequenceDiagram\n  alt x\n  a->>b: y", "notadiagram\n a",
                   "sequenceDiagram\n  a->>b: one; two"):
        with pytest.raises(AssertionError):
            check_mermaid(broken)


# ------------------------------------------------------------------------------------- not run
def cli_commands(body: str) -> list[list[str]]:
    """The ``cryptocity`` command lines of a shell block, split like the shell would."""
    out = []
    for line in body.replace("\\\n", " ").splitlines():   # a backslash-newline continues the command
        words = shlex.split(line, comments=True)
        if words and words[0] == "cryptocity":
            out.append(words[1:])
    return out


def parse_cli(argv: list[str]) -> None:
    """Parse ``cryptocity ARGV`` against the real click commands without running them."""
    import click

    from sandbox.cli import main
    command, parent, path = main, None, ["cryptocity"]
    while True:
        ctx = command.make_context(" ".join(path), list(argv), parent=parent)
        if not isinstance(command, click.Group):
            return
        rest = list(getattr(ctx, "_protected_args", None) or []) + list(ctx.args)
        name, command, argv = command.resolve_command(ctx, rest)
        parent, path = ctx, path + [name]


NOT_RUN = [b for b in ALL_BLOCKS if b.marker == "not-run"]


@pytest.mark.parametrize("block", NOT_RUN, ids=_ids(NOT_RUN))
def test_not_run_block_still_parses(block: Block):
    assert block.marker_arg in NOT_RUN_REASONS, f"{block.where}: reason {block.marker_arg!r} is not allowed"
    if block.lang in SHELL:
        for argv in cli_commands(block.body):
            try:
                parse_cli(argv)
            except Exception as error:  # noqa: BLE001 - click's usage errors name the problem
                pytest.fail(f"{block.where}: `cryptocity {' '.join(argv)}` does not parse: {error}", pytrace=False)


def test_cli_parse_check_catches_a_renamed_option():
    import click
    parse_cli(["serve", "--workers", "4", "--db", "postgresql://postgres@127.0.0.1/city"])
    with pytest.raises(click.UsageError):
        parse_cli(["run", "--config", "x.yaml", "scenario.yaml"])


# ------------------------------------------------------------------------------------- shell
PRELUDE = r"""
set -euo pipefail
trap 'echo "docs: this command failed (exit $?): $BASH_COMMAND" >&2' ERR
[ -f "$DOCS_STATE" ] && . "$DOCS_STATE"
curl() { command curl --silent --show-error --fail-with-body "$@"; }
make() {
  # The suite cannot run `make test` inside `make test`: a dry run proves the target and shows its recipe.
  local target="${1:?make needs a target}"
  command make --no-print-directory -n -C "$DOCS_REPO" "$target" > "make-$target.txt" 2>/dev/null
  case "$target" in
    demo) grep -q 'cryptocity demo' "make-$target.txt" && cryptocity demo ;;
    test) grep -q 'pytest' "make-$target.txt" ;;
    chains) ;;  # the dry run proves the target; the suite's own `make test` has installed anvil already
    *) echo "docs harness: no rule for make $target" >&2; return 1 ;;
  esac
}
set -a  # what a block assigns is exported, so `export -p` carries it to the page's next block
"""
EPILOGUE = '\nset +a\nexport -p > "$DOCS_STATE"\n'
SHELL_PAGES = sorted({b.page for b in ALL_BLOCKS if b.lang in SHELL and b.marker != "not-run"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own local server
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class Server:
    """A ``cryptocity serve`` block started in the background (and stopped by the page's test)."""

    def __init__(self, block: Block, cwd: Path) -> None:
        commands = [ln for ln in block.body.splitlines() if shlex.split(ln, comments=True)]
        argv = shlex.split(commands[0], comments=True) if len(commands) == 1 else []
        if argv[:2] != ["cryptocity", "serve"]:
            pytest.fail(f"{block.where}: a background block holds exactly one `cryptocity serve` command",
                        pytrace=False)
        self.port = _free_port()
        self.log = cwd / f"serve-{self.port}.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen([str(BIN / "cryptocity"), *argv[1:], "--host", "127.0.0.1",
                                          "--port", str(self.port)], cwd=cwd, env=_env(), stdout=log,
                                         stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while _status_or_none(self.base + "/readyz") != 200:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{block.where}: the server did not become ready:\n{self.log.read_text()[-4000:]}",
                            pytrace=False)
            time.sleep(0.1)  # waiting for start-up, not timing anything
        self.block = block

    def check_urls(self) -> None:
        """Every page the block's comments point at (``http://localhost:8000/...``) answers 200."""
        for path in re.findall(r"http://localhost:8000(/[^\s,;)]*)?", self.block.body):
            status = _get(self.base + (path or "/"))
            assert status == 200, f"{self.block.where}: http://{SERVER_PLACEHOLDER}{path or '/'} answered {status}"

    def point(self, script: str) -> str:
        """``script`` with ``localhost:8000`` pointed at this server."""
        return script.replace(SERVER_PLACEHOLDER, f"127.0.0.1:{self.port}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _status_or_none(url: str) -> int | None:
    try:
        return _get(url)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


@pytest.mark.slow
@pytest.mark.parametrize("page", SHELL_PAGES, ids=[str(p.relative_to(ROOT)) for p in SHELL_PAGES])
def test_shell_blocks_of_a_page_run_in_order(page: Path, tmp_path: Path):
    # As in a checkout: the shipped scenarios and presets are where the docs say they are.
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios", target_is_directory=True)
    (tmp_path / "sandbox").mkdir()
    (tmp_path / "sandbox" / "presets").symlink_to(ROOT / "sandbox" / "presets", target_is_directory=True)
    state = tmp_path / ".docs-state.sh"
    servers: list[Server] = []
    sessions: list[int] = []
    try:
        for block in [b for b in ALL_BLOCKS if b.page == page and b.lang in SHELL and b.marker != "not-run"]:
            if block.marker == "background":
                servers.append(Server(block, tmp_path))
                servers[-1].check_urls()
                continue
            if any(argv[:1] == ["serve"] for argv in cli_commands(block.body)):
                pytest.fail(f"{block.where}: `cryptocity serve` runs until stopped: mark the block "
                            "<!-- docs: background -->", pytrace=False)
            body = block.body
            if SERVER_PLACEHOLDER in body:
                assert servers, f"{block.where}: talks to {SERVER_PLACEHOLDER} but no server was started above it"
                body = servers[-1].point(body)
            script = tmp_path / f"block-{block.line}.sh"
            script.write_text(PRELUDE + body + EPILOGUE, encoding="utf-8")
            _run(["bash", str(script)], tmp_path, f"the shell block at {block.where}",
                 {"DOCS_STATE": str(state), "DOCS_REPO": str(ROOT)}, sessions)
    finally:
        for server in servers:
            server.stop()
        for session in sessions:
            try:
                os.killpg(session, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass   # nothing of that block is still running



@pytest.mark.parametrize("body, ok", [
    ("make test\n", True),                     # a dry run: the target exists and runs pytest
    ("make no-such-target\n", False),
    ("false\necho never reached\n", False),    # every command must succeed
    ("GREETING=hello\n", True),
])
def test_the_shell_prelude_fails_a_failing_command(tmp_path: Path, body: str, ok: bool):
    script = tmp_path / "block.sh"
    script.write_text(PRELUDE + body + EPILOGUE, encoding="utf-8")
    proc = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**_env(), "DOCS_STATE": str(tmp_path / "state.sh"), "DOCS_REPO": str(ROOT)})
    assert (proc.returncode == 0) == ok, proc.stderr
    assert "never reached" not in proc.stdout
    if body.startswith("GREETING"):
        assert "GREETING" in (tmp_path / "state.sh").read_text()   # the page's next block sees it
