"""slsa-verifier's policy semantics, as users already write them."""

from __future__ import annotations

import pytest

from attester.verify.checks.policy import builder_id_matches, versioned_tag_matches

GEN = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml"


@pytest.mark.parametrize(("got", "want", "ok"), [
    (f"{GEN}@refs/tags/v1.9.0", GEN, True),                       # short form: any version
    (f"{GEN}@refs/tags/v1.9.0", f"{GEN}@v1.9.0", True),           # @vX.Y.Z == @refs/tags/vX.Y.Z
    (f"{GEN}@refs/tags/v1.9.0", f"{GEN}@refs/tags/v1.9.0", True),
    (f"{GEN}@refs/tags/v1.9.0", f"{GEN}@v1.8.0", False),
    (f"{GEN}@refs/tags/v1.9.0", "https://github.com/evil/.github/workflows/x.yml", False),
    (GEN, f"{GEN}@v1.9.0", False),                                # versionless claim, versioned policy
])
def test_builder_id_forms(got, want, ok) -> None:
    assert builder_id_matches(got, want) is ok


@pytest.mark.parametrize(("ref", "want", "ok"), [
    ("refs/tags/v1.2.3", "v1.2", True),
    ("refs/tags/v1.2.3", "v1", True),
    ("refs/tags/v1.2.3", "v1.2.3", True),
    ("refs/tags/v1.3.0", "v1.2", False),
    ("refs/tags/v2.2.0", "v1", False),
    ("refs/heads/v1.2.3", "v1.2", False),
    ("refs/tags/v1.2.3-rc.1", "v1.2.3", False),
    ("refs/tags/not-a-version", "v1", False),
])
def test_versioned_tag(ref, want, ok) -> None:
    assert versioned_tag_matches(ref, want) is ok
