"""The docs run: every ```sh block of README.md and docs/*.md, pasted as written.

Each page runs in a fresh temporary folder, its blocks in order in one shell (so a ``cd``
or a variable carries over, as when a reader pastes them one after another), with
``testdata`` there pointing at the repository's testdata/, ``attest`` on PATH and no
network (every HTTP client is sent to a proxy that is not there; loopback is direct). A
block preceded by ``<!-- norun: REASON -->`` is skipped, and the reason is recorded.
Fixed loopback ports in a page (``127.0.0.1:5000``, ``--port 9023``) are moved to free
ones, since other tests run servers too. ``mkdocs build --strict`` builds the site.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

#: A ```sh block, with the norun marker on the line before it when there is one.
BLOCK = re.compile(r"(?:^<!-- norun: (?P<why>[^\n]*?) -->\n)?^```sh\n(?P<code>.*?)^```",
                   re.S | re.M)

#: What the docs test reports for each page: the blocks it skipped and why.
SKIPPED: dict[str, list[str]] = {}


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(page: Path) -> list[tuple[int, str, str | None]]:
    """(line, code, why it is not run) for every sh block of a page, in order."""
    text = page.read_text()
    return [(text.count("\n", 0, m.start("code")), m["code"], m["why"])
            for m in BLOCK.finditer(text)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _move_ports(script: str) -> str:
    ports = sorted(set(re.findall(r"(?:127\.0\.0\.1:|--port )(\d{4,5})\b", script)))
    for port in ports:
        script = re.sub(rf"\b{port}\b", str(_free_port()), script)
    return script


def environment(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ATTEST_PASSPHRASE", "STORAGE_EMULATOR_HOST", "GITHUB_TOKEN",
                        "GH_TOKEN", "VIRTUAL_ENV", "ATTEST_SHARED")}
    env["PATH"] = f"{os.path.dirname(sys.executable)}:{env.get('PATH', '')}"
    dead = "http://127.0.0.1:9"  # no network: a proxy that is not there
    env.update(HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead,
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               TMPDIR=str(tmp), ATTEST_RETRY_BASE_DELAY="0.01",
               # a reader's git knows who they are; a fresh CI machine's does not
               GIT_AUTHOR_NAME="Docs Reader", GIT_AUTHOR_EMAIL="reader@example.com",
               GIT_COMMITTER_NAME="Docs Reader", GIT_COMMITTER_EMAIL="reader@example.com")
    return env


def run_page(page: Path, tmp: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run a page's blocks in a fresh folder; (the shell's outcome, why blocks were skipped)."""
    work = tmp / "work"
    work.mkdir()
    (work / "testdata").symlink_to(ROOT / "testdata")
    name = page.relative_to(ROOT)
    parts, skipped = ["set -e -o pipefail"], []
    for line, code, why in blocks(page):
        if why is not None:
            skipped.append(f"{name}:{line}: {why}")
            continue
        parts.append(f"printf '\\n==> {name}:{line}\\n' >&2\n{code}")
    (tmp / "page.sh").write_text(_move_ports("\n".join(parts)) + "\n")
    proc = subprocess.Popen(["bash", str(tmp / "page.sh")], cwd=work, env=environment(tmp),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    finally:
        with contextlib.suppress(ProcessLookupError):  # servers the page left running
            os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), skipped


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_sh_block_of_the_page_runs(page, tmp_path, record_property) -> None:
    found = blocks(page)
    if not found:
        return  # a page without a shell example
    result, skipped = run_page(page, tmp_path)
    SKIPPED[str(page.relative_to(ROOT))] = skipped
    record_property("norun", skipped)  # in the junit report: which blocks did not run, why
    for why in skipped:
        print(f"not run: {why}")  # shown with -rP / -s
    last = re.findall(r"^==> (\S+)", result.stderr, re.M)
    assert result.returncode == 0, (
        f"block at {last[-1] if last else page} failed (exit {result.returncode})\n"
        f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}")
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr


def test_every_norun_says_why() -> None:
    for page in pages():
        for line, _, why in blocks(page):
            assert why is None or why.strip(), f"{page}:{line}: norun without a reason"
        text = page.read_text()
        # a marker that is not right above a block would silently run that block
        for m in re.finditer(r"<!-- norun:[^\n]*-->\n(?!```sh\n)", text):
            pytest.fail(f"{page}: norun marker not on the line before a sh block: {m[0]!r}")


def test_the_block_finder_and_the_port_mover() -> None:
    page = "intro\n<!-- norun: needs GitHub -->\n```sh\ngh x\n```\n```sh\nattest --version\n```\n"
    found = [(code, why) for m in BLOCK.finditer(page) for code, why in [(m["code"], m["why"])]]
    assert found == [("gh x\n", "needs GitHub"), ("attest --version\n", None)]
    moved = _move_ports("serve 127.0.0.1:5000; curl 127.0.0.1:5000; emu --port 9023")
    assert "5000" not in moved and "9023" not in moved
    assert len(set(re.findall(r"\d{4,5}", moved))) == 2


def test_the_site_builds_strictly(tmp_path) -> None:
    """mkdocs (material theme) builds docs/ with --strict: no broken link or anchor."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                        "--site-dir", str(tmp_path / "site")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert "material" in (ROOT / "mkdocs.yml").read_text()


def test_the_readme_is_short_and_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    first = blocks(ROOT / "README.md")[0][1]
    assert "bash .ci/demo" in first and "bash .ci/test" in first
    assert "bash .ci/test\n" in (ROOT / ".ci" / "run").read_text()
    prose = " ".join(text.replace("**", "").split())
    assert "git checkout with at least one commit" in prose  # local:// needs one, up front
    tour = [code for _, code, why in blocks(ROOT / "README.md") if why is None]
    assert any("attest sign" in c for c in tour) and any("backdoor" in c for c in tour)


def test_every_page_the_readme_links_exists() -> None:
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#]+)", text)
    assert len(links) >= 10
    assert [link for link in links if not (ROOT / link).is_file()] == []


def test_the_glossary_names_the_words_the_docs_use() -> None:
    glossary = (ROOT / "docs" / "glossary.md").read_text()
    for word in ("DSSE", "PAE", "SET", "SCT", "TSA", "VSA", "BYOB", "krel", "kpromo"):
        assert f"\n{word}\n:   " in glossary, word
