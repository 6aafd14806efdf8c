#!/usr/bin/env python3
"""Checks the deployment files (`make test`): docker/compose.yaml and the Kubernetes manifests.

- deploy/base and deploy/overlays/dev are rendered as kustomize would (the subset of
  kustomize they use; any other field is refused rather than ignored), and compared with
  `kubectl kustomize` where kubectl is installed;
- every rendered object is validated against the pinned Kubernetes version's schemas, strictly
  (kubernetes-validate: unknown fields are errors);
- the objects agree with each other and with the services: each Secret and ConfigMap a pod
  reads exists with the key it reads (in the dev overlay, which is complete), each Service and
  PodDisruptionBudget selects a workload's pods, named target ports exist, gRPC probes ask the
  port the service listens on, every budget leaves a replica running, every variable given to
  a service is one the README documents, and each image is a product of Package.swift;
- the compose file passes `docker-compose config` (given throwaway secrets), with the same
  variable and product checks.

Exits 1 with one line per finding.
"""

import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES_VERSION = "1.30.0"
KUSTOMIZE_KEYS = {
    "apiVersion", "kind", "resources", "namespace", "patches", "images",
    "configMapGenerator", "generatorOptions",
}
# Variables a container may be given that are not the suite's own: PostgreSQL's image reads these.
FOREIGN_VARIABLES = {"PGDATA", "POSTGRES_PASSWORD"}

findings = []


def finding(message):
    findings.append(message)


def load_documents(path):
    with open(path) as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


# MARK: rendering (the kustomize subset deploy/ uses)

def render(directory):
    directory = Path(directory)
    kustomization = load_documents(directory / "kustomization.yaml")[0]
    unknown = set(kustomization) - KUSTOMIZE_KEYS
    if unknown:
        raise SystemExit(f"check-deploy: {directory}/kustomization.yaml uses {sorted(unknown)}, which this check does not render")
    objects = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        objects += render(path) if path.is_dir() else load_documents(path)
    hashless = kustomization.get("generatorOptions", {}).get("disableNameSuffixHash", False)
    for generator in kustomization.get("configMapGenerator", []):
        if not hashless:
            raise SystemExit(f"check-deploy: {directory}: generators need disableNameSuffixHash here")
        data = {}
        for item in generator.get("files", []):
            key, _, file = item.partition("=") if "=" in item else (Path(item).name, "", item)
            data[key] = (directory / file).read_text()
        for literal in generator.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": generator["name"]}, "data": data})
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise SystemExit(f"check-deploy: {directory}: only patches by path are rendered here")
        for change in load_documents(directory / patch["path"]):
            targets = [o for o in objects if o["kind"] == change["kind"] and o["metadata"]["name"] == change["metadata"]["name"]]
            if len(targets) != 1:
                raise SystemExit(f"check-deploy: {directory}/{patch['path']}: {len(targets)} objects to patch")
            merge(targets[0], change)
    for image in kustomization.get("images", []):
        for container in all_containers(objects):
            name, _, _ = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
    namespace = kustomization.get("namespace")
    if namespace:
        for obj in objects:
            if obj["kind"] != "Namespace":
                obj["metadata"]["namespace"] = namespace
    return objects


def merge(target, change):
    """A strategic merge patch as far as deploy/ uses it: maps merge, lists of named items merge
    by name, anything else replaces."""
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        elif isinstance(value, list) and isinstance(target.get(key), list) and all(isinstance(i, dict) and "name" in i for i in value):
            for item in value:
                existing = [i for i in target[key] if i.get("name") == item["name"]]
                if existing:
                    merge(existing[0], item)
                else:
                    target[key].append(copy.deepcopy(item))
        else:
            target[key] = copy.deepcopy(value)


def pod_spec(obj):
    return obj.get("spec", {}).get("template", {}).get("spec") if obj["kind"] in ("Deployment", "StatefulSet") else None


def all_containers(objects):
    for obj in objects:
        spec = pod_spec(obj)
        if spec:
            yield from spec.get("containers", [])


def key_of(obj):
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def compare_with_kubectl(directory, objects):
    if not shutil.which("kubectl"):
        return
    done = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True)
    if done.returncode != 0:
        finding(f"{directory}: kubectl kustomize failed: {done.stderr.strip()}")
        return
    theirs = {key_of(o): o for o in yaml.safe_load_all(done.stdout) if o}
    ours = {key_of(o): o for o in objects}
    if theirs != ours:
        differing = sorted(set(theirs) ^ set(ours)) or [k for k in ours if theirs.get(k) != ours[k]]
        finding(f"{directory}: renders differently from kubectl kustomize: {differing}")


# MARK: checks

def documented_variables():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section))


def products():
    manifest = (ROOT / "Package.swift").read_text()
    return set(re.findall(r'\.executable\(\s*name:\s*"([^"]+)"', manifest))


def check_schemas(where, objects):
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            finding(f"{where}: {obj['kind']}/{obj['metadata']['name']}: {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            finding(f"{where}: {obj['kind']}/{obj['metadata']['name']}: no schema ({error})")


def check_references(where, objects, complete):
    """Secrets and ConfigMaps that pods read; Services, budgets and probes against the pods."""
    data = {}
    for obj in objects:
        if obj["kind"] in ("ConfigMap", "Secret"):
            data[(obj["kind"], obj["metadata"]["name"])] = set(obj.get("data", {})) | set(obj.get("stringData", {}))
    variables, images = documented_variables(), products()
    workloads = [o for o in objects if pod_spec(o)]
    for workload in workloads:
        name, spec = workload["metadata"]["name"], pod_spec(workload)
        labels = workload["spec"]["template"]["metadata"]["labels"]
        if any(labels.get(k) != v for k, v in workload["spec"]["selector"]["matchLabels"].items()):
            finding(f"{where}: {name}: its selector does not select its own pods")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for volume in volumes.values():
            if "configMap" in volume and complete and ("ConfigMap", volume["configMap"]["name"]) not in data:
                finding(f"{where}: {name}: volume {volume['name']} reads ConfigMap {volume['configMap']['name']}, which is missing")
        for container in spec["containers"]:
            image = container["image"].partition(":")[0]
            if image.startswith("guance/") and image.removeprefix("guance/") not in images:
                finding(f"{where}: {name}: image {image} is not a product of Package.swift")
            own = image.startswith("guance/")
            env = {e["name"]: e for e in container.get("env", [])}
            for source in container.get("envFrom", []):
                kind, ref = ("ConfigMap", source["configMapRef"]) if "configMapRef" in source else ("Secret", source["secretRef"])
                if complete or kind == "ConfigMap":
                    if (kind, ref["name"]) not in data:
                        finding(f"{where}: {name}: envFrom {kind} {ref['name']} is missing")
                    elif own:
                        for key in data[(kind, ref["name"])] - variables - FOREIGN_VARIABLES:
                            finding(f"{where}: {name}: {key} (from {kind} {ref['name']}) is no variable the README documents")
            for variable, entry in env.items():
                if own and variable not in variables:
                    finding(f"{where}: {name}: {variable} is no variable the README documents")
                source = entry.get("valueFrom", {})
                for kind, field in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    ref = source.get(field)
                    if ref and (complete or kind == "ConfigMap"):
                        if ref["key"] not in data.get((kind, ref["name"]), set()):
                            finding(f"{where}: {name}: {variable} reads {kind} {ref['name']} key {ref['key']}, which is missing")
            port_names = {p["name"] for p in container.get("ports", []) if "name" in p}
            grpc_port = env.get("GRPC_PORT", {}).get("value")
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                grpc = container.get(probe, {}).get("grpc")
                if grpc and str(grpc["port"]) != grpc_port:
                    finding(f"{where}: {name}: {probe} asks port {grpc['port']}, the service listens on {grpc_port}")
                http = container.get(probe, {}).get("httpGet")
                if http and isinstance(http["port"], str) and http["port"] not in port_names:
                    finding(f"{where}: {name}: {probe} names port {http['port']}, which the container lacks")
            if own and not any(container.get(p) for p in ("readinessProbe", "livenessProbe")):
                finding(f"{where}: {name}: no health probes")
            if own and "memory" not in container.get("resources", {}).get("limits", {}):
                finding(f"{where}: {name}: no memory limit")
    for obj in objects:
        selector = None
        if obj["kind"] == "Service":
            selector = obj["spec"].get("selector")
        elif obj["kind"] == "PodDisruptionBudget":
            selector = obj["spec"]["selector"]["matchLabels"]
        if not selector:
            continue
        chosen = [w for w in workloads if all(w["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items())]
        if not chosen:
            finding(f"{where}: {obj['kind']}/{obj['metadata']['name']} selects no pods")
            continue
        if obj["kind"] == "Service":
            names = {p.get("name") for w in chosen for c in pod_spec(w)["containers"] for p in c.get("ports", [])}
            for port in obj["spec"]["ports"]:
                target = port.get("targetPort")
                if isinstance(target, str) and target not in names:
                    finding(f"{where}: Service/{obj['metadata']['name']}: target port {target} is no container port of its pods")
        else:
            replicas = min(w["spec"].get("replicas", 1) for w in chosen)
            if replicas - obj["spec"].get("maxUnavailable", 0) < 1 and "minAvailable" not in obj["spec"]:
                finding(f"{where}: PodDisruptionBudget/{obj['metadata']['name']} lets every replica go at once")
            if obj["spec"].get("minAvailable", 0) >= replicas:
                finding(f"{where}: PodDisruptionBudget/{obj['metadata']['name']} blocks every eviction")


def check_compose():
    compose = ROOT / "docker" / "compose.yaml"
    tool = shutil.which("docker-compose")
    if not tool:
        finding("docker-compose is not installed (make setup installs it)")
        return
    # Throwaway values for the variables compose.yaml requires, as scripts/compose-env.sh writes,
    # and an empty env file, so a developer's docker/.env is not what gets checked.
    required = set(re.findall(r"\$\{([A-Z_]+):\?", compose.read_text()))
    environment = {k: v for k, v in os.environ.items() if k not in required}
    environment.update({name: "check" for name in required})
    with tempfile.NamedTemporaryFile("w", suffix=".env") as env_file:
        options = ["-f", str(compose), "--env-file", env_file.name, "config"]
        done = subprocess.run([tool] + options, capture_output=True, text=True, env=environment)
    if done.returncode != 0:
        finding(f"docker/compose.yaml: docker-compose config: {done.stderr.strip()}")
        return
    rendered = yaml.safe_load(done.stdout)
    variables, images = documented_variables(), products()
    postgres_init = (ROOT / "deploy/overlays/dev/postgres-init.sh").read_text()
    for name, service in rendered["services"].items():
        product = service.get("build", {}).get("args", {}).get("SERVICE")
        if product is not None and product not in images:
            finding(f"docker/compose.yaml: {name}: SERVICE {product} is not a product of Package.swift")
        if product is None:
            continue
        for variable in service.get("environment", {}):
            if variable not in variables:
                finding(f"docker/compose.yaml: {name}: {variable} is no variable the README documents")
        url = service.get("environment", {}).get("DATABASE_URL", "")
        database = url.rsplit("/", 1)[-1]
        if database and f"create_service_database {database} " not in postgres_init:
            finding(f"docker/compose.yaml: {name}: its database {database} is not created by postgres-init.sh")


def main():
    base, dev = ROOT / "deploy/base", ROOT / "deploy/overlays/dev"
    for directory, complete in ((base, False), (dev, True)):
        where = str(directory.relative_to(ROOT))
        objects = render(directory)
        compare_with_kubectl(directory, objects)
        check_schemas(where, objects)
        check_references(where, objects, complete)
        print(f"check-deploy: {where}: {len(objects)} objects rendered and checked against Kubernetes {KUBERNETES_VERSION}")
    check_compose()
    for message in findings:
        print(f"check-deploy: {message}", file=sys.stderr)
    if findings:
        sys.exit(1)
    print("check-deploy: docker/compose.yaml passes `config`; every reference resolves")


if __name__ == "__main__":
    main()
