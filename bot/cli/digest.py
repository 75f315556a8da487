"""`midlist digest`: build today's queue for each niche and deliver it, once a day per channel."""

from __future__ import annotations

from datetime import datetime

import click
from rich.markup import escape

from bot.cli import App, cli, err_console, pass_app


@cli.command()
@click.option("--niche", metavar="NAME", help="Only this niche (default: every niche).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print what would be sent, as Markdown; send and record nothing.",
)
@click.option(
    "--force", is_flag=True, help="Build afresh and send again, even if today's digest went out."
)
@click.option(
    "--resend",
    is_flag=True,
    help="Post again what a webhook or mail server may have taken without confirming it.",
)
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    callback=lambda _ctx, _param, value: _plausible_day(value),
    help="Act as if today were this date (in the configured time zone).",
)
@pass_app
def digest(
    app: App,
    niche: str | None,
    dry_run: bool,
    force: bool,
    resend: bool,
    day: datetime | None,
) -> None:
    """Build today's digest for each niche and deliver it to the niche's channels.

    Each (niche, channel, day) is sent once: a second run the same day does nothing, and a
    run after a failure resends the recorded digest unchanged. A send that may have arrived
    (no answer came back) is not repeated: Slack bot channels look for it first, webhooks and
    email wait for `--resend`. Exit code 1 if a channel failed or is uncertain.
    """
    from bot.digest.send import send_digests  # loads slack-sdk, Jinja2: only when a digest is made

    report = send_digests(
        app.settings,
        app.store,
        niche=niche,
        dry_run=dry_run,
        force=force,
        resend=resend,
        today=day.date() if day else None,
    )
    for o in report.outcomes:
        if o.status == "dry-run":
            click.echo(f"<!-- niche {o.niche} -> channel {o.channel} -->")
            click.echo(o.detail)
            continue
        colour = {
            "failed": "red",
            "uncertain": "red",
            "already-sent": "yellow",
            "in-progress": "yellow",
        }.get(o.status, "green")
        err_console.print(
            f"{escape(o.niche)} -> {escape(o.channel)}: [{colour}]{o.status}[/{colour}] {escape(o.detail)}",
            markup=True,
            soft_wrap=True,
            highlight=False,
        )
    for note in report.notes:
        err_console.print(f"note: {note}", soft_wrap=True, markup=False)
    if not report.ok:
        err_console.print(
            "Failed channels are retried with the same digest on the next run; uncertain ones "
            "are posted again only after a check (Slack bot) or with `midlist digest --resend`."
        )
        raise SystemExit(1)


def _plausible_day(value: datetime | None) -> datetime | None:
    """A day the date arithmetic can work with (a year and more either side stays in range)."""
    if value is not None and not 1971 <= value.year <= 9998:
        raise click.BadParameter(
            f"{value.date().isoformat()} is out of range; use a date between 1971 and 9998",
            param_hint="--date",
        )
    return value
