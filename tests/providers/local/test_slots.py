"""Several servers of one deployment side by side (``DeploymentSpec.slot``), on the real
llama.cpp server: each slot is its own supervised runtime with its own record, port and log;
``find``/``destroy`` act on one slot, ``find_all`` lists every slot (a supervisor nobody recorded
included), and the orphan sweep maps every slot back to its deployment."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from flowllama.providers import DeploymentSpec
from flowllama.providers.local import LOCAL_PLACEMENT, supervision
from flowllama.providers.local.logs import read_log_tail
from providers.local.conftest import MakeProvisioner


def _spec(slot: str = "", deployment_id: str = "d1") -> DeploymentSpec:
    return DeploymentSpec(deployment_id=deployment_id, user_id="u1", name="chat",
                          model="local/tiny", context_size=512, slot=slot)


@pytest.mark.slow
@pytest.mark.usefixtures("llamacpp")
def test_two_slots_are_two_servers_found_and_destroyed_apart(
        make_provisioner: MakeProvisioner) -> None:
    provisioner = make_provisioner()
    first = provisioner.create(_spec(), LOCAL_PLACEMENT)
    second = provisioner.create(_spec("s1"), LOCAL_PLACEMENT)

    assert (second.deployment_id, second.name, second.data["slot"]) == ("d1", "fl-d1-s1", "s1")
    assert (first.name, first.data["slot"]) == ("fl-d1", "")
    assert first.data["pid"] != second.data["pid"]
    assert first.data["port"] != second.data["port"]
    assert provisioner.refresh(first).running and provisioner.refresh(second).running
    assert provisioner.find(_spec("s1")) == second
    assert provisioner.find_all(_spec()) == [first, second]
    assert {s.server_key for s in supervision.find_supervisors(provisioner.root)} == {
        "d1", "d1-s1"}
    assert second.data["log_path"].endswith("d1-s1.log")

    provisioner.destroy(first)  # the replaced server goes; its replacement stays
    assert provisioner.refresh(second).running
    assert provisioner.find(_spec()) is None
    assert provisioner.find_all(_spec("s7")) == [second]  # the slot asked for does not matter
    # The deployment's log interleaves every slot's by time: the replaced server's last lines
    # and the replacement's.
    shown = provisioner.logs("d1", 5000)
    first_lines = read_log_tail(Path(first.data["log_path"]), 5000)
    second_lines = read_log_tail(Path(second.data["log_path"]), 5000)
    assert "runtime exited with signal 15" in first_lines[-1]
    assert sorted(shown) == sorted(first_lines + second_lines)
    assert shown == sorted(shown, key=lambda line: line[:24])
    assert provisioner.logs("d1", 3) == shown[-3:]
    provisioner.destroy(second)
    assert provisioner.find_all(_spec()) == []


@pytest.mark.slow
@pytest.mark.usefixtures("llamacpp")
def test_unrecorded_slots_are_found_and_the_sweep_keeps_live_deployments_slots(
        make_provisioner: MakeProvisioner) -> None:
    provisioner = make_provisioner()
    kept = provisioner.create(_spec("s2"), LOCAL_PLACEMENT)
    other = provisioner.create(_spec("s1", deployment_id="d2"), LOCAL_PLACEMENT)
    provisioner.instances.store.delete("d1-s2")  # a FlowLlama died before recording it

    strays = provisioner.find_all(_spec())
    assert [(h.name, h.data["slot"], h.data["pid"]) for h in strays] == [
        ("fl-d1-s2", "s2", kept.data["pid"])]

    forgotten = provisioner.stop_orphans(lambda: {"d2"})
    assert forgotten == []  # d1-s2 had no record to forget, but its supervisor is stopped
    assert {s.server_key for s in supervision.find_supervisors(provisioner.root)} == {"d2-s1"}
    assert provisioner.find_all(_spec()) == []
    assert provisioner.refresh(other).running
    provisioner.stop_orphans(set)
    assert supervision.find_supervisors(provisioner.root) == []


def test_the_supervisor_command_names_the_slot_only_when_set() -> None:
    def command(slot: str) -> list[str]:
        return supervision.supervisor_command(
            python="python3", root=Path("/r"), deployment_id="d1",
            log_file=Path("/r/logs/d1.log"), max_bytes=1, backups=1,
            runtime_command=["server"], slot=slot)

    assert "--slot" not in command("")  # the first server's command line is as before slots
    with_slot = command("s1")
    assert with_slot[with_slot.index("--slot") + 1] == "s1"
    assert replace(_spec("s3"), slot="").server_key == "d1"
    assert _spec("s3").server_key == "d1-s3"
