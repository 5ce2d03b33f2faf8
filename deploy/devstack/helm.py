"""Helm, and the operators' CRD schemas, for checking the chart without a cluster.

Helm is the real one, built from its Go module (`helm.sh/helm/v4`) with the machine's Go, once
per version, into `.devstack/bin/` (Go's own caches make a rebuild take seconds). The schemas
of the CloudNativePG and KEDA resources come from their Go modules too; Strimzi's are kept in
`deploy/helm/crds/` (its README says why). Versions are pinned here, in one place."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from devstack.config import PROJECT_ROOT, StackSettings

HELM_MODULE, HELM_VERSION = "helm.sh/helm/v4", "v4.3.2"
OPERATOR_MODULES = {  # operator: (Go module, version) whose config/crd/bases/ hold its CRDs
    "cloudnative-pg": ("github.com/cloudnative-pg/cloudnative-pg", "v1.27.1"),
    "keda": ("github.com/kedacore/keda/v2", "v2.20.2"),
}
STRIMZI_VERSION = "1.2.0"
STRIMZI_CRDS = PROJECT_ROOT / "deploy" / "helm" / "crds" / f"strimzi-{STRIMZI_VERSION}"


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError(
            "Go is needed once to build Helm and fetch the operators' CRDs: install Go 1.26+ "
            "(https://go.dev/doc/install, or apt-get install golang)"
        )
    return go


def ensure_helm(config: StackSettings | None = None) -> Path:
    """The path of the pinned Helm, built first if this machine has not built it yet."""
    home = (config or StackSettings()).home / "bin"
    helm = home / f"helm-{HELM_VERSION}"
    if helm.exists():
        return helm
    home.mkdir(parents=True, exist_ok=True)
    print(f"devstack: building Helm {HELM_VERSION} from {HELM_MODULE} ...", flush=True)
    build = home / "build"
    subprocess.run(
        [_go(), "install", f"{HELM_MODULE}/cmd/helm@{HELM_VERSION}"],
        check=True,
        env={**os.environ, "GOBIN": str(build), "GOFLAGS": "-mod=mod"},
    )
    (build / "helm").replace(helm)
    return helm


def _module_dir(module: str, version: str) -> Path:
    found = subprocess.run(
        [_go(), "mod", "download", "-json", f"{module}@{version}"],
        check=False,
        capture_output=True,
        text=True,
    )
    answer = json.loads(found.stdout or "{}")
    if found.returncode != 0 or "Dir" not in answer:
        why = answer.get("Error", found.stderr)
        raise RuntimeError(f"could not fetch {module}@{version}: {why}")
    return Path(answer["Dir"])


def _crd_files() -> list[Path]:
    files = sorted(STRIMZI_CRDS.glob("*.yaml"))
    for module, version in OPERATOR_MODULES.values():
        files += sorted((_module_dir(module, version) / "config" / "crd" / "bases").glob("*.yaml"))
    return files


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the openAPIV3Schema of every version each operator serves."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in _crd_files():
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served"):
                    schema = version["schema"]["openAPIV3Schema"]
                    schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def render(values: list[Path], release: str = "womens-health") -> str:
    """`helm template` of the chart with these values files, as Helm renders it."""
    from devstack.chart import CHART

    args = [str(ensure_helm()), "template", release, str(CHART)]
    for path in values:
        args += ["-f", str(path)]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def lint(values: list[Path]) -> subprocess.CompletedProcess[str]:
    from devstack.chart import CHART

    args = [str(ensure_helm()), "lint", "--strict", str(CHART)]
    for path in values:
        args += ["-f", str(path)]
    return subprocess.run(args, check=False, capture_output=True, text=True)
