"""The `midlist` command: a click group whose commands live in small modules beside this one.

Commands stay thin: load settings, open the store, call one library function, print.
Every fault becomes one red `Error: ...` line and exit code 1: a MidlistError says what to do,
an OSError (disk full, permission denied) names the file, anything else names itself. The
message is printed as plain text (a `[/x]` in a niche or path is not markup) with control
sequences stripped and secrets masked; tracebacks only with --verbose.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from functools import cached_property
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from bot import logs
from bot.config import Settings, find_config, load_settings
from bot.errors import MidlistError
from bot.escape import terminal
from bot.store import Store

err_console = Console(stderr=True, highlight=False)


class App:
    """What every command needs, loaded on first use so `midlist --help` stays instant."""

    def __init__(self, config_path: str | None, verbose: bool):
        self.config_path = config_path
        self.verbose = verbose

    @property
    def config_file(self) -> Path:
        return find_config(self.config_path)

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.config_path)

    @cached_property
    def store(self) -> Store:
        return Store(self.settings.storage.url)


pass_app = click.make_pass_decorator(App)


# Command name -> the module under bot/cli/ that registers it. Modules load on first use, so
# `midlist query` does not pay for Slack, praw or APScheduler imports it never touches.
COMMAND_MODULES = {
    "init": "setup",
    "check": "setup",
    "collect": "collect",
    "import": "data",
    "index": "index",
    "query": "query",
    "tune": "tune",
    "digest": "digest",
    "run": "run",
    "status": "run",
    "queue": "queue",
    "export": "export",
    "syllabus": "syllabus",
    "serve": "serve",
}


class MidlistGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMAND_MODULES:
            importlib.import_module(f"bot.cli.{COMMAND_MODULES[name]}")
        return self.commands.get(name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise  # usage errors and Ctrl-C: click prints those itself
        except MidlistError as exc:
            fail(ctx, exc, str(exc))
        except BrokenPipeError:  # `midlist status | head -1`: the reader has all it wanted,
            raise  # and click exits quietly
        except OSError as exc:  # disk full, permission denied, ... outside any handled path
            where = f" ({exc.filename})" if exc.filename else ""
            fail(ctx, exc, f"{exc.strerror or exc}{where}")
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            fail(ctx, exc, f"unexpected {type(exc).__name__}: {first} (run with -v for details)")
        return None


def fail(ctx: click.Context, exc: BaseException, message: str) -> None:
    """One plain-text `Error:` line (the traceback first with -v), then exit code 1."""
    if isinstance(ctx.obj, App) and ctx.obj.verbose:
        trace = "".join(traceback.format_exception(exc))
        err_console.print(Text(logs.redact(terminal(trace))), soft_wrap=True)
    line = Text("Error:", style="red")
    line.append(" " + logs.redact(terminal(message)))
    err_console.print(line, soft_wrap=True)
    sys.exit(1)


@click.group(cls=MidlistGroup)
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Config file (default: $MIDLIST_CONFIG, ./config.yaml, ~/.config/midlist/config.yaml).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log more, and show tracebacks.")
@click.version_option(package_name="midlist")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """midlist finds the quirky middle of your research niche and queues it for reading."""
    logs.setup(verbose)
    ctx.obj = App(config_path, verbose)


def main() -> None:
    cli(prog_name="midlist")
