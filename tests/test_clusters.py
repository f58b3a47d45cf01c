"""Static checks of clusters/: the files parse, validate against Ray's own schema, and keep
the security promises (no public Ray ports, token auth on, no credentials in any file)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
CLUSTERS = REPO_ROOT / "clusters"
LAUNCHER_FILES = [CLUSTERS / "aws.yaml", CLUSTERS / "gcp.yaml"]
KUBERAY_FILES = [CLUSTERS / "kuberay" / "raycluster.yaml", CLUSTERS / "kuberay" / "rayjob.yaml"]
DOCKERFILE = CLUSTERS / "Dockerfile"
OPS_DOC = REPO_ROOT / "docs" / "operations.md"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def _all_yaml() -> list[Path]:
    return sorted(p for p in CLUSTERS.rglob("*") if p.suffix in (".yaml", ".yml"))


def test_expected_files_exist() -> None:
    for path in [*LAUNCHER_FILES, *KUBERAY_FILES, DOCKERFILE, CLUSTERS / "README.md"]:
        assert path.is_file(), path


@pytest.mark.parametrize("path", _all_yaml(), ids=lambda p: str(p.relative_to(CLUSTERS)))
def test_every_yaml_parses(path: Path) -> None:
    _load(path)


# --------------------------------------------------------------------------- cluster launcher


def _ray_schema() -> dict[str, Any]:
    import ray.autoscaler

    schema_path = Path(ray.autoscaler.__file__).parent / "ray-schema.json"
    return dict(json.loads(schema_path.read_text()))


@pytest.mark.parametrize("path", LAUNCHER_FILES, ids=lambda p: p.name)
def test_launcher_config_matches_ray_schema(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = _ray_schema()
    config = _load(path)
    jsonschema.validate(config, schema)

    # the schema is strict: a misspelt key is caught, so passing above means something
    broken = copy.deepcopy(config)
    broken["available_node_types"]["head"]["min_worker"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)

    # and Ray's own loader accepts it once it has filled in its defaults (what `ray up` does)
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(copy.deepcopy(config)))


def _start_commands(config: dict[str, Any]) -> list[str]:
    return [str(c) for c in config["head_start_ray_commands"] + config["worker_start_ray_commands"]]


@pytest.mark.parametrize("path", LAUNCHER_FILES, ids=lambda p: p.name)
def test_launcher_dashboard_stays_on_loopback(path: Path) -> None:
    config = _load(path)
    head_start = " ".join(str(c) for c in config["head_start_ray_commands"])
    assert "ray start --head" in head_start
    hosts = re.findall(r"--dashboard-host[= ](\S+)", head_start)
    assert hosts and all(h in ("127.0.0.1", "localhost") for h in hosts), hosts
    everything = yaml.safe_dump(config)
    assert "0.0.0.0" not in everything, "nothing in a launcher config may bind or open 0.0.0.0"
    assert "::/0" not in everything


@pytest.mark.parametrize("path", LAUNCHER_FILES, ids=lambda p: p.name)
def test_launcher_token_auth_is_on(path: Path) -> None:
    config = _load(path)
    run_options = " ".join(config["docker"]["run_options"])
    assert "RAY_AUTH_MODE=token" in run_options
    for command in _start_commands(config):
        if "ray start" in command:
            assert "RAY_AUTH_MODE=token" in command, command
    # the token file is mounted from the operator's machine to where RAY_AUTH_TOKEN_PATH points
    token_path = re.search(r"RAY_AUTH_TOKEN_PATH=(\S+)", run_options)
    assert token_path, "RAY_AUTH_TOKEN_PATH must point at the mounted token"
    assert token_path.group(1) in config["file_mounts"]
    assert config["file_mounts"][token_path.group(1)] == "~/.ray/auth_token"


def test_aws_access_is_by_role_and_ports_are_intra_cluster() -> None:
    config = _load(CLUSTERS / "aws.yaml")
    for name, node_type in config["available_node_types"].items():
        assert "IamInstanceProfile" in node_type["node_config"], name
        assert node_type["node_config"].get("MetadataOptions", {}).get("HttpTokens") == "required", name
    # extra ingress rules, if any, never open Ray's ports to the world
    for rule in config["provider"].get("security_group", {}).get("IpPermissions", []):
        for ip_range in rule.get("IpRanges", []):
            assert ip_range.get("CidrIp") != "0.0.0.0/0", rule
    assert config["provider"]["region"] == "us-east-1", "Common Crawl lives in us-east-1"


def test_gcp_access_is_by_service_account_and_nodes_are_tagged() -> None:
    config = _load(CLUSTERS / "gcp.yaml")
    for name, node_type in config["available_node_types"].items():
        assert "cc-curate-ray" in node_type["node_config"]["tags"]["items"], name
    worker = config["available_node_types"]["cpu_worker"]["node_config"]
    assert worker["serviceAccounts"][0]["email"].endswith(".iam.gserviceaccount.com")


# --------------------------------------------------------------------------- KubeRay


def _cluster_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return dict(doc["spec"]["rayClusterSpec"] if doc["kind"] == "RayJob" else doc["spec"])


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    return [c for g in groups for c in g["template"]["spec"]["containers"]]


@pytest.mark.parametrize("path", KUBERAY_FILES, ids=lambda p: p.name)
def test_kuberay_manifest_shape(path: Path) -> None:
    doc = _load(path)
    assert doc["apiVersion"] == "ray.io/v1"
    assert doc["kind"] == {"raycluster.yaml": "RayCluster", "rayjob.yaml": "RayJob"}[path.name]
    assert doc["metadata"]["name"]
    spec = _cluster_spec(doc)
    head = spec["headGroupSpec"]
    assert isinstance(head["rayStartParams"], dict) and head["template"]["spec"]["containers"]
    assert spec["workerGroupSpecs"], "at least one CPU worker group"
    for group in spec["workerGroupSpecs"]:
        assert group["groupName"] and isinstance(group["rayStartParams"], dict)
        assert 0 <= group["minReplicas"] <= group["maxReplicas"]
    assert spec["enableInTreeAutoscaling"] is True
    for container in _containers(spec):
        assert container["image"], container["name"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
    if doc["kind"] == "RayJob":
        entrypoint = doc["spec"]["entrypoint"]
        assert entrypoint.startswith("cc-curate run ") and "--address auto" in entrypoint
        assert "--output" in entrypoint


@pytest.mark.parametrize("path", KUBERAY_FILES, ids=lambda p: p.name)
def test_kuberay_nothing_public_and_token_auth_on(path: Path) -> None:
    doc = _load(path)
    spec = _cluster_spec(doc)
    assert spec["authOptions"]["mode"] == "token"
    head = spec["headGroupSpec"]
    assert head.get("serviceType", "ClusterIP") == "ClusterIP"
    assert head.get("headService", {}).get("spec", {}).get("type", "ClusterIP") == "ClusterIP"
    assert not head.get("enableIngress", False)
    text = yaml.safe_dump(doc)  # the manifest itself, without its comments
    for public in ("LoadBalancer", "NodePort", "Ingress", "hostNetwork: true", "hostPort", "externalIPs"):
        assert public not in text, public
    for group in [head, *spec["workerGroupSpecs"]]:
        pod = group["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod.get("serviceAccountName") == "cc-curate-ray"


def test_versions_agree() -> None:
    """Ray must be the same version in the image and in every KubeRay manifest."""
    match = re.search(r"^ARG RAY_VERSION=(\S+)$", DOCKERFILE.read_text(), re.M)
    assert match, "Dockerfile pins RAY_VERSION"
    ray_version = match.group(1)
    major, minor = (int(x) for x in ray_version.split(".")[:2])
    assert (major, minor) >= (2, 52), "token authentication needs Ray >= 2.52"
    images = set()
    for path in KUBERAY_FILES:
        spec = _cluster_spec(_load(path))
        assert spec["rayVersion"] == ray_version, path
        images |= {c["image"] for c in _containers(spec)}
    assert len(images) == 1, f"one image for head and workers everywhere, got {images}"


# --------------------------------------------------------------------------- image


def test_dockerfile_installs_cc_curate_as_non_root() -> None:
    text = DOCKERFILE.read_text()
    instructions = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert re.match(r"FROM python:\$\{PYTHON_VERSION\}-slim", next(i for i in instructions if i.startswith("FROM")))
    assert "COPY cc_curate ./cc_curate" in instructions
    assert "COPY recipes ./recipes" in instructions
    assert re.search(r'pip install[\s\\]+"\.\[cjk\]"', text), "installs the repo with its cjk extra"
    assert 'ray[default]==${RAY_VERSION}' in text
    assert "cc-curate --help" in text, "the build smoke-tests the console script"
    users = [i.split()[1] for i in instructions if i.startswith("USER ")]
    assert users and users[-1] not in ("root", "0", "0:0"), "the image runs as a non-root user"
    assert not any(i.startswith("COPY . ") or i.startswith("ADD . ") for i in instructions), (
        "copying the whole checkout would pull .venv, outputs and stray credentials into the image"
    )


# --------------------------------------------------------------------------- credentials

_CREDENTIAL_PATTERNS = [
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "AWS access key id"),
    (re.compile(r"aws_secret_access_key|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN", re.I), "AWS secret"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "private key"),
    (re.compile(r'"type"\s*:\s*"service_account"'), "GCP service-account key file"),
    (re.compile(r"RAY_AUTH_TOKEN=[\"']?(?![\"'$\s])"), "literal Ray auth token"),
    (re.compile(r"Bearer\s+[A-Za-z0-9._-]{8,}"), "bearer token"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), "GitHub token"),
    (re.compile(r"(?<!-)\bpassword\s*[:=]\s*\S", re.I), "password"),
]


def _text_files() -> list[Path]:
    files = [p for p in CLUSTERS.rglob("*") if p.is_file()]
    return sorted(files + ([OPS_DOC] if OPS_DOC.exists() else []))


@pytest.mark.parametrize("path", _text_files(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_literal_credentials(path: Path) -> None:
    text = path.read_text(errors="replace")
    for pattern, what in _CREDENTIAL_PATTERNS:
        found = pattern.search(text)
        assert not found, f"{path.name}: looks like a {what}: {found.group(0)[:20]}..."


@pytest.mark.parametrize("path", KUBERAY_FILES, ids=lambda p: p.name)
def test_kuberay_env_has_no_literal_secret(path: Path) -> None:
    for container in _containers(_cluster_spec(_load(path))):
        for env in container.get("env", []):
            if re.search(r"TOKEN|SECRET|PASSWORD|KEY", env["name"]):
                assert "value" not in env, f"{env['name']} must come from a Secret (valueFrom)"


# --------------------------------------------------------------------------- operator docs


def test_operations_doc_gives_the_commands() -> None:
    text = OPS_DOC.read_text()
    for command in (
        "ray get-auth-token --generate",
        "ray up clusters/aws.yaml",
        "ray dashboard clusters/aws.yaml",
        "cc-curate submit",
        "kubectl apply -f clusters/kuberay/raycluster.yaml",
        "kubectl port-forward",
        "ray job logs",
        "--follow",
        "RAY_AUTH_MODE=token",
        "ray down clusters/aws.yaml",
    ):
        assert command in text, command
