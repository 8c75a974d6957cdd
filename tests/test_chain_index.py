"""Following artifacts through a ChainIndex: every outcome (which link wins when several
name a digest, each gap, a conflict, a source mismatch, a tampered file's named
subject) with the exact messages ``verify --chain`` and ``audit`` print."""

from __future__ import annotations

from attester.release.chain import ChainIndex, Link, follow

D1, D2, D3, D4 = ("1" * 64, "2" * 64, "3" * 64, "4" * 64)
SRC = ("git+https://github.com/kubernetes/release", "refs/tags/v1", "c0ffee")


def link(where: str, step: str, subjects: dict[str, str], deps: dict[str, str] | None = None,
         source: tuple[str, str, str] = SRC) -> Link:
    return Link(where=where, step=step, signer=f"{step}.pub", subjects=subjects,
                dependencies=deps or {}, builder="b", source=source)


STAGE = link("stage.intoto.json", "stage", {"gs://stage/v1/kubectl": D1, "gs://stage/v1/kubeadm": D2,
                                            "gs://stage/v1/kubectl.copy": D1})
RELEASE = link("release.intoto.json", "release", {"gs://prod/v1/kubectl": D1,
                                                  "gs://prod/v1/bin/kubelet": D3},
               {"gs://stage/v1/kubectl": D1})
PROMO = link("promo.intoto.json", "promotion", {"registry.k8s.io/app": D4},
             {"gcr.io/staging/app@sha256:" + D4: D4})


def details(name: str, digest: str, links: list[Link], **kw: str) -> list[tuple[str, bool, str]]:
    return [(c.name, c.ok, c.detail) for c in follow(name, digest, links, **kw).checks]


def test_published_file_follows_release_then_stage() -> None:
    got = details("kubectl", D1, [STAGE, RELEASE, PROMO])
    assert got == [
        ("chain release", True, f"kubectl (sha256:{D1[:12]}): published from staged "
         "gs://stage/v1/kubectl (release.intoto.json, release.pub)"),
        ("chain stage", True, f"kubectl (sha256:{D1[:12]}): staged as gs://stage/v1/kubectl "
         "(stage.intoto.json, stage.pub)"),
        ("chain source", True, f"kubectl (sha256:{D1[:12]}): built from "
         "git+https://github.com/kubernetes/release@c0ffee (refs/tags/v1)")]


def test_image_follows_promotion_and_a_stage_gap_is_named() -> None:
    got = details("registry.k8s.io/app", D4, [STAGE, RELEASE, PROMO])
    assert got[0] == ("chain promotion", True, f"registry.k8s.io/app (sha256:{D4[:12]}): "
                      f"promoted from gcr.io/staging/app@sha256:{D4} (promo.intoto.json, "
                      "promotion.pub)")
    assert got[1] == ("chain stage", False, f"registry.k8s.io/app (sha256:{D4[:12]}): no stage "
                      f"attestation covers sha256:{D4} (gap after promotion, which names it "
                      f"gcr.io/staging/app@sha256:{D4})")


def test_release_naming_no_staged_file_and_source_policy() -> None:
    got = details("bin/kubelet", D3, [STAGE, RELEASE])
    assert got[0] == ("chain release", False, f"bin/kubelet (sha256:{D3[:12]}): release "
                      "attestation release.intoto.json names no staged file with this digest")
    got = details("kubeadm", D2, [STAGE], source_uri="github.com/example/other")
    assert got[-1] == ("chain source", False, f"kubeadm (sha256:{D2[:12]}): stage attestation "
                       "names source 'git+https://github.com/kubernetes/release' commit "
                       "'c0ffee', policy wants github.com/example/other")


def test_first_link_in_order_wins() -> None:
    other = link("release2.intoto.json", "release", {"gs://mirror/kubectl": D1},
                 {"gs://stage/v1/kubectl": D1})
    assert "(release2.intoto.json," in details("kubectl", D1, [STAGE, other, RELEASE])[0][2]
    assert "(release.intoto.json," in details("kubectl", D1, [STAGE, RELEASE, other])[0][2]


def test_conflict_is_reported_for_every_artifact() -> None:
    stage_b = link("stage-b.intoto.json", "stage", {"gs://stage/v1/kubeadm": D3})
    index = ChainIndex([STAGE, stage_b])
    for name, digest in (("kubectl", D1), ("kubeadm", D2)):
        first = index.follow(name, digest).checks[0]
        assert (first.name, first.ok) == ("chain consistency", False)
        assert first.detail == (f"gs://stage/v1/kubeadm: stage.intoto.json says sha256:{D2} "
                                f"but stage-b.intoto.json says sha256:{D3} (stage)")


def test_tampered_file_names_the_subject_it_claims_to_be() -> None:
    index = ChainIndex([STAGE, RELEASE, PROMO])
    bad = "f" * 64
    (check,) = index.follow("kubectl", bad).checks
    assert not check.ok and check.name == "chain digest"
    assert check.detail == (f"kubectl: sha256:{bad[:12]}… but the release attestation "
                            f"release.intoto.json says sha256:{D1[:12]}… for gs://prod/v1/kubectl")
    # no subject ends with this path, but one has its file name: that one is named
    (check,) = index.follow("downloads/bin/kubelet", bad).checks
    assert check.name == "chain digest" and check.detail.endswith(
        f"says sha256:{D3[:12]}… for gs://prod/v1/bin/kubelet")
    (check,) = index.follow("bin/kubelet", bad).checks
    assert check.detail.endswith(f"says sha256:{D3[:12]}… for gs://prod/v1/bin/kubelet")
    (check,) = index.follow("kubeadm", bad).checks  # only staged: the stage names it
    assert "but the stage attestation stage.intoto.json says" in check.detail
    (check,) = index.follow("registry.k8s.io/app", bad).checks
    assert "but the promotion attestation promo.intoto.json says" in check.detail
    # no subject by that name at all: the plain gap
    (check,) = index.follow("kubelet-extra", bad).checks
    assert check.detail == (f"kubelet-extra (sha256:{bad[:12]}): no stage attestation covers "
                            f"sha256:{bad} (gap after the artifact)")


def test_audit_json_is_the_report_document() -> None:
    """The JSON report (rows one per line inside the indented document) parses to exactly
    the report's document, with rows and without, names with quotes and newlines too."""
    import datetime as dt
    import json

    from attester.display import safe_json
    from attester.release.audit import AuditReport, Row, render_json
    from attester.verify.checks.policy import Check

    index = ChainIndex([STAGE, RELEASE, PROMO])
    rows = tuple(Row(n, d, index.follow(n, d)) for n, d in
                 (("kubectl", D1), ('we"ird\nname [1]', D2), ("registry.k8s.io/app", D4)))
    when = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
    for rs in (rows, ()):
        report = AuditReport(release_dir='rel "artifacts": []', policy="p.yaml", rows=rs,
                             problems=(Check("attestation x", False, "bad"),), when=when)
        # names shown as the text report shows them (a newline as \x0a; issue 16.14)
        assert json.loads(render_json(report)) == safe_json(report.to_json())


def test_a_subject_is_its_name_and_its_digest() -> None:
    """A file named kubectl holding another subject's bytes (the release's debugshell) is
    not covered by that subject (red-team finding: the chain followed the digest alone),
    and a release naming its staged source under another name does not link it."""
    debugshell = link("release.intoto.json", "release", {"gs://prod/v1/kubectl": D1,
                                                         "gs://prod/v1/debugshell": D2},
                      {"gs://stage/v1/kubectl": D1, "gs://stage/v1/debugshell": D2})
    stage = link("stage.intoto.json", "stage", {"gs://stage/v1/kubectl": D1,
                                                "gs://stage/v1/debugshell": D2})
    index = ChainIndex([stage, debugshell], require_top=("release",))
    result = index.follow("kubectl", D2)
    assert not result.ok
    assert next((c.name, c.detail) for c in result.checks if not c.ok) == (
        "chain digest", f"kubectl: sha256:{D2[:12]}… but the release attestation "
        f"release.intoto.json says sha256:{D1[:12]}… for gs://prod/v1/kubectl")
    assert index.follow("debugshell", D2).ok and index.follow("kubectl", D1).ok
    renamed = link("release.intoto.json", "release", {"gs://prod/v1/kubectl": D2},
                   {"gs://stage/v1/debugshell": D2})
    (check, *_) = ChainIndex([stage, renamed]).follow("kubectl", D2).checks
    assert (check.name, check.ok) == ("chain release", False)
    assert check.detail.endswith("names no staged file with this digest and this name (only "
                                 "gs://stage/v1/debugshell)")
