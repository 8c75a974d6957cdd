"""A missing optional dependency is a usage error naming the extra, not a traceback;
the default install's path (local://, file://) imports no cloud SDK."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(("module", "args", "extra"), [
    ("google.cloud.storage", ["provenance", "local://", "--artifacts", "gs://b/p"], "attester[gcs]"),
    # github://, github-release:// and github-artifacts:// need no extra (the REST client is
    # on requests); [github]'s cramjam is tested in test_bounded (bundle_url answers).
    ("google.cloud.devtools", ["provenance", "cloudbuild://p/b"], "attester[cloudbuild]"),
    ("sigstore", ["sign", "p.json", "--keyless"], "attester[sigstore]"),
    ("spdx_tools", ["provenance", "local://", "--artifacts", "file://dist",
                    "--subjects-from-sbom", "x.spdx"], "attester[sbom]"),
    ("securesystemslib", ["sign", "p.json", "--kms", "hv://k"], "attester[kms]"),
])
def test_missing_extra_is_named(attest, repo, monkeypatch, module, args, extra) -> None:
    monkeypatch.chdir(repo)
    monkeypatch.delenv("SIGSTORE_ID_TOKEN", raising=False)
    assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    for name in [m for m in sys.modules if m.startswith(module + ".")]:
        monkeypatch.setitem(sys.modules, name, None)  # and its submodules other tests loaded
    r = attest(*args)
    assert r.code == 2, r.err
    assert f"pip install '{extra}'" in r.err and "Traceback" not in r.err


def test_local_path_imports_no_cloud_sdk(repo) -> None:
    code = ("import sys; from attester.cli import main; "
            "rc = main(['provenance', 'local://', '--artifacts', 'file://dist', '-o', 'p.json']); "
            "heavy = [m for m in sys.modules if m.startswith(('google', 'github', 'sigstore', "
            "'securesystemslib', 'spdx_tools', 'boto3'))]; print(rc, heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    assert out == "0 []"
