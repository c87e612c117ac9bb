"""The Dockerfile and the chart agree, read from the Dockerfile's text and the rendered manifests: the user the image
runs as, the ports it exposes, the directories it makes (state, configuration), and its entrypoint, with which the
chart's arguments form commands the command line accepts."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from fulfillsync.cli import app
from schemas.config import WebSettings, WorkerSettings
from tests.helm.chart import ALL_ON, REPO, container, pod_spec, render

DOCKERFILE = REPO / "Dockerfile"


@dataclass(frozen=True)
class Image:
    """What the final stage of the Dockerfile says."""

    uid: int
    gid: int
    user: str
    exposed: frozenset[int]
    entrypoint: list[str]
    directories: frozenset[str]
    owned: frozenset[str]


def final_stage(text: str) -> list[str]:
    """The instructions of the last stage, continuation lines joined, comments dropped."""
    lines = re.sub(r"\\\n", " ", text).splitlines()
    instructions = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    last_from = max(i for i, line in enumerate(instructions) if line.upper().startswith("FROM "))
    return instructions[last_from:]


def read_image() -> Image:
    stage = final_stage(DOCKERFILE.read_text())

    def arguments(keyword: str) -> list[str]:
        return [line.split(None, 1)[1] for line in stage if line.split(None, 1)[0].upper() == keyword]

    [user] = arguments("USER")
    [entrypoint] = arguments("ENTRYPOINT")
    run = " ".join(arguments("RUN"))
    uid = re.search(r"useradd\b.*?--uid (\d+)", run)
    gid = re.search(r"groupadd\b.*?--gid (\d+)", run)
    assert uid and gid, "the image makes no user with a fixed uid and gid"
    directories = {path for paths in re.findall(r"mkdir -p ([^&;]+)", run) for path in shlex.split(paths)}
    chowned = re.findall(r"chown -R \S+ (\S+)", run)
    return Image(uid=int(uid.group(1)), gid=int(gid.group(1)), user=user,
                 exposed=frozenset(int(port) for ports in arguments("EXPOSE") for port in ports.split()),
                 entrypoint=json.loads(entrypoint), directories=frozenset(directories), owned=frozenset(chowned))


def test_the_dockerfile_is_read_as_written() -> None:
    image = read_image()
    assert image.entrypoint == ["fulfillsync"] and image.user == f"{image.uid}:{image.gid}"
    assert "/var/lib/fulfillsync/state" in image.directories and "/etc/fulfillsync" in image.directories


def test_pods_run_as_the_images_user() -> None:
    image = read_image()
    for workload in (*render(sets=("topics.mode=job",)).of_kind("StatefulSet"), render().one("Deployment"),
                     render().one("Job")):
        security = pod_spec(workload)["securityContext"]
        assert (security["runAsUser"], security["runAsGroup"], security["fsGroup"]) == (image.uid, image.gid,
                                                                                         image.gid)


def test_the_ports_the_chart_uses_are_the_ports_the_image_exposes() -> None:
    image = read_image()
    rendered = render(str(ALL_ON))
    used = {port["containerPort"] for workload in (rendered.one("StatefulSet"), rendered.one("Deployment"))
            for port in container(workload)["ports"]}
    assert used == set(image.exposed) == {WorkerSettings().web_port, WebSettings().port}


def test_the_state_and_configuration_live_where_the_image_prepared_them() -> None:
    image = read_image()
    rendered = render()
    worker = container(rendered.one("StatefulSet"))
    state = rendered.config()["worker"]["state_dir"]
    assert state in image.directories and any(state.startswith(owned) for owned in image.owned), \
        "the state volume is mounted where the image has no directory of the app user"
    config_mount = next(m for m in worker["volumeMounts"] if m["name"] == "config")["mountPath"]
    assert config_mount.rsplit("/", 1)[0] in image.directories


@pytest.mark.parametrize("kind", ["StatefulSet", "Deployment", "Job"])
def test_the_images_entrypoint_with_the_charts_arguments_is_a_valid_command(kind: str) -> None:
    image = read_image()
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[image.entrypoint[0]] == "fulfillsync.cli:main"
    spec = container(render().one(kind))
    assert "command" not in spec, "the chart relies on the image's entrypoint"
    args = spec["args"]
    assert args[:2] == ["--config", "/etc/fulfillsync/config.yaml"]
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, f"`fulfillsync {' '.join(args)}` is not a command: {result.output}"
