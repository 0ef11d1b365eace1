"""The docs keep up with the code: every public name is documented, the README's commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import signoff
from signoff.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def test_every_public_name_is_in_the_api_reference() -> None:
    reference = (ROOT / "docs" / "api.md").read_text()
    missing = [name for name in signoff.__all__ if f"`{name}" not in reference]
    assert missing == [], f"docs/api.md does not mention {missing}"


def test_every_public_name_resolves() -> None:
    for name in signoff.__all__:
        assert getattr(signoff, name) is not None


def test_the_readme_opens_with_the_demo_and_the_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[:2] == ["uv run signoff demo", "uv run pytest"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "uv run pytest" in ci


def test_every_command_in_the_cli_doc_exists() -> None:
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    documented = set(re.findall(r"`signoff ([a-z]+)", (ROOT / "docs" / "cli.md").read_text()))
    assert documented <= set(subcommands), documented - set(subcommands)
    assert set(subcommands) <= documented, set(subcommands) - documented
