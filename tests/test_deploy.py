"""deploy/: the compose file, the Kubernetes manifests, the Dockerfile and nginx's config
say the same thing as the scale-out rehearsal (bench/scaleout/run.py) and the kernel.

No container runtime runs here, so the files are parsed and cross-checked: one command,
one set of variables, probes on routes the kernel serves, a Service and an autoscaler that
reach the Deployment, and the load balancer's proxy directives identical to those the MCP
scale-out test runs Debian's nginx with.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conduit import Conduit

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"


def _rehearsal() -> Any:
    spec = importlib.util.spec_from_file_location("scaleout_rehearsal", REPO / "bench" / "scaleout" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def kube() -> dict[str, dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()) if d]
    return {d["kind"]: d for d in documents}


def _container(kube: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (container,) = kube["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


def _dockerfile_command() -> list[str]:
    (line,) = [ln for ln in (DEPLOY / "Dockerfile").read_text().splitlines() if ln.startswith("CMD ")]
    return yaml.safe_load(line[len("CMD "):])


def test_every_replica_runs_the_rehearsals_command(compose, kube) -> None:
    command = list(_rehearsal().COMMAND)
    for where, argv in [("compose.yaml", compose["services"]["conduit"]["command"]),
                        ("kubernetes.yaml", _container(kube)["command"]), ("Dockerfile", _dockerfile_command())]:
        assert argv[: len(command)] == command, (where, argv)
        assert argv[len(command):] == ["--host", "0.0.0.0", "--port", "8000"], (where, argv)
    assert _container(kube)["ports"][0]["containerPort"] == 8000


def test_compose_and_kubernetes_set_the_rehearsals_variables(compose, kube) -> None:
    rehearsal = _rehearsal().showcase_environment("redis://r", "http://c", "http://o", "1", "1")
    in_compose = {k: str(v) for k, v in compose["services"]["conduit"]["environment"].items()}
    in_kube = {e["name"]: e.get("value") for e in _container(kube)["env"]}
    assert set(in_compose) == set(in_kube) == set(rehearsal)
    secrets = {"CONDUIT_SHOWCASE_API_KEY"}
    assert _container(kube)["env"][[e["name"] for e in _container(kube)["env"]].index("CONDUIT_SHOWCASE_API_KEY")][
        "valueFrom"]["secretKeyRef"]["name"] == "conduit-api-key"
    assert {k: v for k, v in in_compose.items() if k not in secrets} == {k: v for k, v in in_kube.items() if k not in secrets}
    # The shared services the variables name are the ones the compose file runs.
    services = compose["services"]
    assert in_compose["CONDUIT_REDIS_URL"].startswith("redis://redis:") and "redis" in services
    assert in_compose["CONDUIT_VECTOR_URL"] == "http://chroma:8000" and "--port" in services["chroma"]["command"]
    assert services["chroma"]["command"][services["chroma"]["command"].index("--port") + 1] == "8000"
    assert in_compose["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    collector = yaml.safe_load((DEPLOY / "otel-collector.yaml").read_text())
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")


def test_the_probes_are_the_kernels_health_routes_and_the_service_reaches_the_pods(kube) -> None:
    app = Conduit(disabled_plugins=["*"])
    app.prepare()
    served = {route.path for route in app.routes if "GET" in route.methods}
    container = _container(kube)
    probes = {kind: container[kind]["httpGet"] for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert {kind: probe["path"] for kind, probe in probes.items()} == {
        "startupProbe": "/health/startup", "readinessProbe": "/health/ready", "livenessProbe": "/health/live"}
    assert all(probe["path"] in served and probe["port"] == "http" for probe in probes.values())
    assert all(route.public for route in app.routes if route.path in {p["path"] for p in probes.values()})
    labels = kube["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert kube["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert kube["Service"]["spec"]["selector"].items() <= labels.items()
    assert kube["Service"]["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]
    target = kube["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", kube["Deployment"]["metadata"]["name"])
    assert kube["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2
    # Longer than the graceful drain, so Kubernetes never kills a pod mid-drain.
    assert kube["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > Conduit().settings.shutdown_timeout


def _location_directives(conf: str) -> list[str]:
    block = re.search(r"location / \{(.*?)\}", conf, re.S)
    assert block is not None
    return sorted(" ".join(line.split()) for line in block.group(1).strip().splitlines() if line.strip())


def test_the_load_balancer_proxies_as_the_mcp_scale_out_test_does(compose) -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    spec = importlib.util.spec_from_file_location(
        "shared_sessions_test", REPO / "plugins" / "conduit-mcp" / "tests" / "test_shared_sessions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert _location_directives(conf) == _location_directives(module.NGINX_CONF.replace("{{", "{").replace("}}", "}"))
    assert "server conduit:8000" in conf and "ip_hash" not in conf and "sticky" not in conf  # no affinity
    listen = re.search(r"listen (\d+);", conf)
    assert listen is not None and compose["services"]["nginx"]["ports"] == [f"{listen.group(1)}:{listen.group(1)}"]
    assert compose["services"]["nginx"]["volumes"] == ["./nginx.conf:/etc/nginx/nginx.conf:ro"]


def test_nginx_accepts_the_load_balancers_config(tmp_path: Path) -> None:
    """Debian's nginx checks the file (`nginx -t`), with the compose service name pointed here."""
    import shutil
    import subprocess

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("Debian's nginx is not installed (scripts/install-dev installs it as root)")
    conf = tmp_path / "nginx.conf"
    conf.write_text((DEPLOY / "nginx.conf").read_text().replace("conduit:8000", "127.0.0.1:8000"))
    checked = subprocess.run([nginx, "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                              "-g", f"pid {tmp_path}/nginx.pid;"], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "syntax is ok" in checked.stderr, checked.stderr
