"""Connector plugins: found through the ``signoff.connectors`` entry points, validated, run;
broken ones skipped without stopping the broker."""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint

import anyio
import pytest

from signoff.server.connectors import ENTRY_POINT_GROUP, registry

from ..governed import add_policy, create_connection, run_action
from ..helpers import assert_error, client
from . import example_plugin

pytestmark = pytest.mark.anyio

_MODULE = example_plugin.__name__
_TOKEN = "plugin-token-5e9b0c"


def _entry_point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


@pytest.fixture
def plugin_broker(monkeypatch, start_broker):
    """A broker started with the example plugin (and some broken ones) installed."""
    installed = [
        _entry_point("shout", f"{_MODULE}:ShoutConnector"),
        _entry_point("missing", "no_such_module_anywhere:Connector"),
        _entry_point("wrong", f"{_MODULE}:NotAConnector"),
        _entry_point("http", f"{_MODULE}:ShoutConnector"),  # may not replace a built-in
    ]

    def entry_points(*, group: str) -> list[EntryPoint]:
        return installed if group == ENTRY_POINT_GROUP else []

    monkeypatch.setattr(registry, "entry_points", entry_points)
    return start_broker()


async def test_a_plugin_connector_is_found_and_runs(plugin_broker) -> None:
    from conftest import new_tenant

    info = new_tenant(plugin_broker)
    async with client(info.base_url, info.admin_key) as http:
        await add_policy(http, "shout.*", "allow")
        connection = await create_connection(
            http, "shout", config={"volume": 2}, secrets={"token": _TOKEN}
        )
        types = (await http.get(f"/v1/connections/{connection['id']}/action-types")).json()
        said = (await run_action(http, connection["id"], {"text": "hi"}, "say")).json()
        invalid = await run_action(http, connection["id"], {"text": 1}, "say")
        failed = (await run_action(http, connection["id"], {}, "fail")).json()
    assert [t["name"] for t in types["data"]] == ["crash", "fail", "say"]
    assert said["status"] == "succeeded"
    assert said["result"] == {
        "said": "HI!!",
        "run": said["id"],
        "key": said["id"],
        "tenant": info.id,
    }
    assert assert_error(invalid, 422, "validation_error")["details"]["path"] == "$.input.text"
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "type": "too_quiet",
        "message": "nobody heard it",
        "details": {"volume": 2},
    }


async def test_the_plugin_validates_its_config(plugin_broker) -> None:
    from conftest import new_tenant

    info = new_tenant(plugin_broker)
    async with client(info.base_url, info.admin_key) as http:
        bad_config = await http.post(
            "/v1/connections", json={"name": "a", "connector": "shout", "config": {"volume": "x"}}
        )
        no_token = await http.post(
            "/v1/connections", json={"name": "a", "connector": "shout", "config": {"volume": 1}}
        )
    assert assert_error(bad_config, 422, "validation_error")["details"]["path"] == "$.config.volume"
    assert assert_error(no_token, 422, "validation_error")["details"]["path"] == "$.secrets.token"


async def test_a_secret_quoted_in_a_plugins_config_error_is_redacted(plugin_broker) -> None:
    from conftest import new_tenant

    info = new_tenant(plugin_broker)
    async with client(info.base_url, info.admin_key) as http:
        response = await http.post(
            "/v1/connections",
            json={
                "name": "a",
                "connector": "shout",
                "config": {"volume": -1},
                "secrets": {"token": _TOKEN},
            },
        )
    error = assert_error(response, 422, "validation_error")
    assert _TOKEN not in response.text
    assert error["message"] == "$.config.volume: token [redacted] cannot whisper below zero"
    assert error["details"] == {"path": "$.config.volume"}


async def test_a_crashing_plugin_fails_the_run_and_its_secret_stays_out_of_the_log(
    plugin_broker, caplog
) -> None:
    from conftest import new_tenant

    caplog.set_level(logging.INFO, logger="signoff.server")
    info = new_tenant(plugin_broker)
    async with client(info.base_url, info.admin_key) as http:
        await add_policy(http, "shout.*", "allow")
        connection = await create_connection(
            http, "shout", config={"volume": 1}, secrets={"token": _TOKEN}
        )
        crashed = await run_action(http, connection["id"], {}, "crash")

    def logged() -> str:
        return "\n".join(record.getMessage() for record in caplog.records)

    with anyio.fail_after(5):  # the request line is written as the response finishes
        while "POST /v1/actions 201" not in logged():
            await anyio.sleep(0.005)
    assert crashed.json()["status"] == "failed"
    assert crashed.json()["error"]["type"] == "connector_error"
    assert _TOKEN not in crashed.text
    assert "RuntimeError: token [redacted] was refused" in logged()
    assert _TOKEN not in logged()


async def test_broken_plugins_are_skipped_and_named_in_the_log(
    monkeypatch, start_broker, caplog
) -> None:
    from conftest import new_tenant

    caplog.set_level(logging.INFO, logger="signoff.server")
    broken = [
        _entry_point("missing", "no_such_module_anywhere:Connector"),
        _entry_point("wrong", f"{_MODULE}:NotAConnector"),
        _entry_point("http", f"{_MODULE}:ShoutConnector"),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda *, group: broken)
    info = new_tenant(start_broker())
    async with client(info.base_url, info.admin_key) as http:
        unknown = await http.post("/v1/connections", json={"name": "a", "connector": "wrong"})
        builtin = await create_connection(http, "echo")
    messages = "\n".join(record.getMessage() for record in caplog.records)
    for skipped in ("'missing'", "'wrong'", "'http'"):
        assert skipped in messages
    assert "echo, http" in assert_error(unknown, 422, "validation_error")["message"]
    assert builtin["connector"] == "echo"
