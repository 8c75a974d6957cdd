"""The GitHub composite action and the Cloud Build image run attest the documented way."""

from __future__ import annotations

import re

from conftest import ROOT


def test_composite_action_runs_env_provenance_then_sign() -> None:
    text = (ROOT / ".github" / "actions" / "attest" / "action.yml").read_text()
    assert "using: composite" in text
    assert 'attest provenance env:// "${args[@]}"' in text
    assert 'attest sign "$OUTPUT.statement.json" --key "$KEY"' in text
    # Inputs reach the script through env, never by ${{ }} inside the command text.
    run_block = text.split("id: attest", 1)[1]
    assert not re.search(r"\$\{\{ inputs\.(artifacts|output|key) \}\}", run_block.split("run: |", 1)[1])


def test_dockerfile_installs_the_cloud_extras_and_runs_attest() -> None:
    text = (ROOT / ".ci" / "Dockerfile").read_text()
    assert '[gcs,cloudbuild,github]' in text
    assert 'ENTRYPOINT ["attest"]' in text


def test_docs_document_both_final_steps() -> None:
    readme = (ROOT / "docs" / "provenance.md").read_text()
    assert "uses: OWNER/attester/.github/actions/attest@" in readme
    assert "BUILD_ID=$BUILD_ID" in readme and "attest provenance env://" in readme
