"""research.validate on Ray: the same report as the local process pool, with Ray bound to the loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from pathlib import Path

import msgspec
import pytest

from research.validate import validate
from research.validation.walkforward import make_runner
from tests.acceptance.test_validate import _config as small_validation

REPO = Path(__file__).resolve().parents[2]


def _config(kind: str):
    """Return test_validate's small validation on ``kind`` with two workers, two folds, no lookahead."""
    config = small_validation(2)
    executor = msgspec.structs.replace(config.executor, kind=kind)
    windows = msgspec.structs.replace(config.windows, step_days=10.0)
    return msgspec.structs.replace(config, executor=executor, windows=windows, lookahead_check=False)


@pytest.fixture(scope="module")
def reports(sample_catalog: Path) -> dict[str, dict]:
    cwd = Path.cwd()
    try:
        os.chdir(REPO)
        return {kind: validate(_config(kind), catalog=str(sample_catalog)) for kind in ("process", "ray")}
    finally:
        os.chdir(cwd)


def test_ray_gives_the_process_pool_report(reports):
    pool, ray = reports["process"], reports["ray"]
    assert pool["executor"]["kind"] == "process" and ray["executor"]["kind"] == "ray"
    assert len(ray["folds"]) == 2 and all(f["test"]["trades"] > 0 for f in ray["folds"])

    def without_seconds(folds):
        return [{k: v for k, v in f.items() if k != "test_seconds"} for f in folds]

    assert without_seconds(ray["folds"]) == without_seconds(pool["folds"])
    assert ray["aggregate"] == pool["aggregate"]
    assert ray["stress"]["reruns"] == pool["stress"]["reruns"]
    assert ray["stress"]["perturbation"] == pool["stress"]["perturbation"]
    assert ray["gates"] == pool["gates"]
    assert ray["verdict"] == pool["verdict"] == "fail"
    assert ray["allowlist"] == pool["allowlist"]
    # and everything else but the executor and the timings: trades, equity, labels, the whole stress suite
    rest = set(pool) - {"executor", "wall_seconds", "folds"}
    assert set(ray) == set(pool) and {k: ray[k] for k in rest} == {k: pool[k] for k in rest}
    import ray as ray_module  # imported by make_runner("ray", ...) inside validate

    assert not ray_module.is_initialized()  # validate shut its Ray down


def test_ray_listens_on_the_loopback_only_and_cleans_up():
    before = set(Path(tempfile.gettempdir()).glob("ray-*"))
    run, shutdown = make_runner("ray", 2)
    import ray  # after make_runner: it sets RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before the first import

    try:
        assert ray.is_initialized() and ray.cluster_resources()["CPU"] == 2
        assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
        assert run([]) == []
        assert os.environ.get("http_proxy") != "http://127.0.0.1:9"  # only Ray's processes got it
        temp_dirs = set(Path(tempfile.gettempdir()).glob("ray-*")) - before
        listening = _listening_addresses(_descendants(os.getpid()))
        assert listening and listening <= {"127.0.0.1"}, listening
    finally:
        shutdown()
    assert not ray.is_initialized()
    assert len(temp_dirs) == 1 and not any(d.exists() for d in temp_dirs)


def _descendants(pid: int) -> set[int]:
    """Return the ids of ``pid``'s descendant processes (Linux /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _listening_addresses(pids: set[int]) -> set[str]:
    """Return the local IP addresses of the TCP sockets ``pids`` listen on (Linux /proc)."""
    inodes = set()
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        inodes |= {link[8:-1] for link in links if link.startswith("socket:[")}
    addresses = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(fields[1].split(":")[0])
            packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # host-order words
            address = ipaddress.ip_address(socket.inet_ntop(family, packed))
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            addresses.add(str(address))
    return addresses
