"""The deployment files (deploy/): they parse, name one image, set what several nodes need, and the plain
tier's pods stay within Pod Security "baseline". Compose and Kubernetes cannot run here (no registry)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from app.settings import Settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
NEEDED = {"PROCLAB_REDIS_URL", "PROCLAB_DATABASE_URL", "PROCLAB_NODE_ID"}
# Pod Security "baseline": the capabilities a container may add (kubernetes.io/docs/concepts/security/pod-security-standards).
BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                 "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
SETTINGS = {f"PROCLAB_{name.upper()}" for name in Settings.model_fields}


def k8s() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def proclab_pods() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(StatefulSet, its proclab container) for every node workload."""
    out = []
    for d in k8s():
        if d["kind"] in ("StatefulSet", "Deployment"):
            for c in d["spec"]["template"]["spec"]["containers"]:
                if c["name"] == "proclab":
                    out.append((d, c))
    return out


def test_compose_runs_two_nodes_of_one_image_with_postgres_redis_and_a_websocket_proxy() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    services = compose["services"]
    nodes = {name: s for name, s in services.items() if "PROCLAB_NODE_ID" in (s.get("environment") or {})}
    assert len(nodes) == 2 and {"postgres", "redis", "proxy"} <= set(services)
    assert len({s["image"] for s in nodes.values()}) == 1
    ids = {s["environment"]["PROCLAB_NODE_ID"] for s in nodes.values()}
    assert len(ids) == 2  # each node its own id
    for s in nodes.values():
        env = s["environment"]
        assert NEEDED <= set(env) and {k for k in env if k.startswith("PROCLAB_")} <= SETTINGS
        assert "@postgres:" in env["PROCLAB_DATABASE_URL"] and env["PROCLAB_REDIS_URL"].startswith("redis://redis:")
        assert {"postgres", "redis"} <= set(s["depends_on"])
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert set(re.findall(r"server (\w+):8000;", nginx)) == set(nodes)
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx and "proxy_set_header Connection" in nginx
    assert any("nginx.conf" in v for v in services["proxy"]["volumes"])


def test_kubernetes_nodes_share_one_image_and_name_themselves_after_their_pod() -> None:
    pods = proclab_pods()
    assert len(pods) == 2  # the plain tier and the full one
    assert len({c["image"] for _, c in pods}) == 1
    for _, c in pods:
        env = {e["name"]: e for e in c["env"]}
        assert NEEDED <= set(env) and {k for k in env if k.startswith("PROCLAB_")} <= SETTINGS
        assert env["PROCLAB_NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    kinds = {(d["kind"], d["metadata"]["name"]) for d in k8s()}
    assert {("Service", "postgres"), ("Service", "redis"), ("Service", "proclab"), ("Ingress", "proclab")} <= kinds


def test_the_plain_tier_fits_baseline_and_the_full_one_is_in_a_privileged_namespace() -> None:
    levels = {d["metadata"]["name"]: d["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
              for d in k8s() if d["kind"] == "Namespace"}
    assert levels == {"proclab": "baseline", "proclab-full": "privileged"}
    for workload, c in proclab_pods():
        ns = workload["metadata"]["namespace"]
        sc = c.get("securityContext", {})
        added = set(sc.get("capabilities", {}).get("add", []))
        host_paths = [v for v in workload["spec"]["template"]["spec"].get("volumes", []) if "hostPath" in v]
        unconfined = sc.get("seccompProfile", {}).get("type") == "Unconfined"
        if levels[ns] == "baseline":
            assert added <= BASELINE_CAPS and not host_paths and not unconfined and not sc.get("privileged")
        else:
            assert {"SYS_ADMIN", "NET_ADMIN"} <= added and host_paths and unconfined
