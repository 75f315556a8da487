"""The README and the CLI stay in step: every command has help text and is documented."""

from __future__ import annotations

import importlib
import re

import pytest

from bot.cli import COMMAND_MODULES, cli
from tests.conftest import ROOT, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(COMMAND_MODULES)


def test_every_command_module_registers_exactly_its_commands() -> None:
    for module in set(COMMAND_MODULES.values()):
        importlib.import_module(f"bot.cli.{module}")
    assert sorted(cli.commands) == COMMANDS


def test_readme_opens_with_the_two_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block is not None
    assert first_block.group(1).split()[:2] == ["make", "run"]
    assert "make test" in first_block.group(1)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name: str) -> None:
    result = run_cli(None, name, "--help")
    assert result.exit_code == 0, result.output
    command = cli.get_command(None, name)  # type: ignore[arg-type]
    assert command is not None and command.help, f"`midlist {name}` has no help text"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"midlist {name}" in README, f"README does not mention `midlist {name}`"
