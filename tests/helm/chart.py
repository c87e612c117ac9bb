"""Rendering the Helm chart in tests, without a cluster: the pinned helm that `make helm` builds into
.fulfillsync/bin (never another one found on the PATH), `helm template` and `helm lint` on helm/fulfillsync.

A test that needs helm fails, never skips, when it is missing or another version: `make test` builds it first
(its `helm` target), and the failure message says that `make helm` does.
"""

from __future__ import annotations

import functools
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "fulfillsync"
ALL_ON = CHART / "ci" / "all-on-values.yaml"
HELM = REPO / ".fulfillsync" / "bin" / "helm"
RELEASE = "shop"
NAMESPACE = "fulfillment"
KUBERNETES_VERSIONS = ("1.31.0", "1.37.0")
"""The Kubernetes versions every rendering is validated against: the oldest the chart supports (Chart.yaml's
kubeVersion) and the newest kubernetes-validate 1.37.0 ships schemas for."""

Manifest = dict[str, Any]

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
A_HASH = "scrypt$n=16384,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"


def environment_for(text: str) -> dict[str, str]:
    """An environment defining every ${NAME} `text` refers to, as the Secret and the pod spec would: a pod name,
    password hashes in their format, long random-looking values for the rest."""
    environment: dict[str, str] = {}
    for name in REFERENCE.findall(text):
        if name == "POD_NAME":
            environment[name] = f"{RELEASE}-fulfillsync-worker-0"
        elif name.endswith("_HASH"):
            environment[name] = A_HASH
        else:
            environment[name] = "x" * 40
    return environment


@functools.cache
def pinned_helm_version() -> str:
    """The helm version the Makefile pins (`HELM_VERSION := v4.3.2`)."""
    found = re.search(r"^HELM_VERSION\s*:=\s*(\S+)\s*$", (REPO / "Makefile").read_text(), re.M)
    assert found, "the Makefile pins no HELM_VERSION"
    return found.group(1)


def helm_binary() -> Path:
    """The pinned helm; fails the test (saying how to get it) when it is missing or another version."""
    wanted = pinned_helm_version()
    if not HELM.exists():
        pytest.fail(f"helm {wanted} is not installed in {HELM.relative_to(REPO)}: `make helm` installs it (from the Go "
                    "module proxy; `make test` runs it first)")
    version = subprocess.run([str(HELM), "version", "--template", "{{.Version}}"], capture_output=True, text=True,
                             timeout=60, check=False).stdout.strip()
    if version != wanted:
        pytest.fail(f"{HELM.relative_to(REPO)} is helm {version or '(no answer)'}, not the pinned {wanted}: "
                    "`make helm` installs the pinned one")
    return HELM


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the pinned helm with `args`; the completed process (never raises for a non-zero exit)."""
    return subprocess.run([str(helm_binary()), *args], capture_output=True, text=True, timeout=120, check=False)


@dataclass(frozen=True)
class Rendered:
    """The manifests of one `helm template` run, in the order helm printed them (empty documents dropped)."""

    manifests: tuple[Manifest, ...]

    def __iter__(self) -> Iterator[Manifest]:
        return iter(self.manifests)

    def of_kind(self, kind: str) -> list[Manifest]:
        return [manifest for manifest in self.manifests if manifest["kind"] == kind]

    def one(self, kind: str, name_suffix: str = "") -> Manifest:
        """The only manifest of `kind` whose name ends with `name_suffix`; fails otherwise."""
        found = [m for m in self.of_kind(kind) if m["metadata"]["name"].endswith(name_suffix)]
        assert len(found) == 1, f"{len(found)} {kind} named *{name_suffix}: {[m['metadata']['name'] for m in found]}"
        return found[0]

    def config_text(self, name_suffix: str = "") -> str:
        """The configuration file of the chart's ConfigMap (or, with a suffix, another ConfigMap's config.yaml)."""
        configmap = self.one("ConfigMap", name_suffix or f"{RELEASE}-fulfillsync")
        text: str = configmap["data"]["config.yaml"]
        return text

    def config(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(self.config_text())
        return loaded


def template_args(values: tuple[str, ...], sets: tuple[str, ...], kube_version: str) -> list[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", kube_version]
    for file in values:
        args += ["--values", file]
    for assignment in sets:
        args += ["--set", assignment]
    return args


@functools.cache
def render(*values: str, sets: tuple[str, ...] = (), kube_version: str = KUBERNETES_VERSIONS[-1]) -> Rendered:
    """`helm template` of the chart with these values files (paths) and `--set` assignments; fails the test with
    helm's message when rendering fails. Cached: the same arguments render once per session."""
    done = helm(*template_args(values, sets, kube_version))
    assert done.returncode == 0, f"helm template failed:\n{done.stderr}"
    return Rendered(tuple(document for document in yaml.safe_load_all(done.stdout) if document))


def render_error(*values: str, sets: tuple[str, ...] = ()) -> str:
    """The error message of a `helm template` that must fail (the test fails if it renders)."""
    done = helm(*template_args(values, sets, KUBERNETES_VERSIONS[-1]))
    assert done.returncode != 0, f"helm template rendered with {values} {sets}, expected a failure"
    return done.stderr


def pod_spec(workload: Manifest) -> Manifest:
    """The pod template's spec of a StatefulSet, Deployment or Job."""
    spec: Manifest = workload["spec"]["template"]["spec"]
    return spec


def container(workload: Manifest) -> Manifest:
    """The workload's only container."""
    [only] = pod_spec(workload)["containers"]
    return dict(only)
