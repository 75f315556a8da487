"""`midlist serve`: receive Slack button clicks (Save / Skip / Read) and update the reading queue.

(The scheduler's long-running loop is `midlist run`; "serve" means only this endpoint.)
"""

from __future__ import annotations

import click

from bot import serve as slack_serve
from bot.cli import App, cli, pass_app


@cli.command()
@click.option(
    "--port", default=3000, show_default=True, type=click.IntRange(1, 65535), help="HTTP port."
)
@click.option("--host", default="0.0.0.0", show_default=True, help="Interface to listen on.")
@click.option(
    "--channel",
    help="The Slack channel whose app sends the clicks (default: the one with a signing secret).",
)
@click.option(
    "--socket-mode",
    is_flag=True,
    help="Connect out to Slack instead of listening (needs app_token).",
)
@pass_app
def serve(app: App, port: int, host: str, channel: str | None, socket_mode: bool) -> None:
    """Run the Slack endpoint for the digest's Save / Skip / Read buttons."""
    name, slack = slack_serve.slack_channel(app.settings, channel)
    bolt = slack_serve.build_app(slack, app.store, [n.name for n in app.settings.niches])
    if socket_mode:
        click.echo(f"Connecting to Slack in Socket Mode for channel {name}; Ctrl+C stops.")
        slack_serve.run_socket_mode(bolt, slack)
        return
    server = slack_serve.http_server(bolt, slack, host, port)
    click.echo(
        f"Listening on http://{host}:{server.server_port}{slack_serve.EVENTS_PATH} for channel {name}; "
        "set it as the Request URL under Interactivity in your Slack app. Ctrl+C stops."
    )
    try:
        server.serve_forever()  # returns on Ctrl+C
    except KeyboardInterrupt:
        pass
    click.echo("Stopped.")
