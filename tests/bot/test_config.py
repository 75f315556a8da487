"""Config errors name the file, the key path and what is wrong; secrets never print."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from tests.conftest import ROOT, run_cli

MINIMAL = """
niches:
  - name: ssm
    keywords: [state space model]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    return str(info.value)


def test_example_config_loads_with_its_variables_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value")
    settings = load_settings(ROOT / "config.example.yaml")
    assert [n.name for n in settings.niches] == ["ssm", "connectionism"]
    assert set(settings.channels) == {"console", "team-slack", "me-email", "archive", "reader"}
    assert settings.niches[0].band == (15, 40)
    classics = settings.niches[1]
    assert (classics.venues, classics.years, classics.order) == (
        ["neurips"],
        (1987, 1997),
        "citations",
    )
    assert settings.sources.citations.enabled and settings.sources.citations.api_key is None


@pytest.mark.parametrize(
    ("niche", "error"),
    [
        (
            "years: [1997, 1987]",
            "niches[0].years: expected two years like [1987, 1997] (first <= last), got [1997, 1987]",
        ),
        (
            "years: 1987-97",
            "niches[0].years: expected two years like [1987, 1997] (first <= last), got [1987, 97]",
        ),
        ("venues: ['---']", "niches[0].venues: venue names need letters or digits, got ['---']"),
        ("order: stars", "niches[0].order: Input should be 'relevance', 'citations' or 'mentions'"),
    ],
)
def test_classics_keys_are_checked(tmp_path: Path, niche: str, error: str) -> None:
    text = f"niches:\n  - name: a\n    keywords: [x]\n    {niche}\n"
    assert error_for(tmp_path, text) == f"{tmp_path / 'config.yaml'}: {error}"


def test_years_and_venues_read_in_every_spelling(tmp_path: Path) -> None:
    text = "niches:\n  - name: a\n    keywords: [x]\n    venues: [NeurIPS, nips, ICML]\n    years: 1995\n"
    niche = load_settings(write(tmp_path, text)).niches[0]
    assert (niche.venues, niche.years) == (["neurips", "icml"], (1995, 1995))


def test_citations_api_key_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S2_API_KEY", "s2-secret")
    text = "sources:\n  citations:\n    enabled: true\n    api_key: ${S2_API_KEY:-}\n"
    settings = load_settings(write(tmp_path, text))
    assert settings.sources.citations.api_key.get_secret_value() == "s2-secret"
    assert "s2-secret" not in repr(settings)


def test_defaults_for_a_minimal_config(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    niche = settings.niches[0]
    assert (niche.band, niche.size, settings.timezone) == ((15, 40), 7, "UTC")
    assert settings.sources.arxiv.delay_seconds == 3.0
    assert settings.storage.url == f"sqlite:///{Path.home() / '.local/share/midlist/midlist.db'}"


def test_relative_storage_path_is_beside_the_config_file(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, "storage:\n  url: sqlite:///data/m.db\n  index_dir: idx\n")
    )
    assert settings.storage.url == f"sqlite:///{tmp_path / 'data/m.db'}"
    assert settings.storage.index_dir == str(tmp_path / "idx")


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            MINIMAL + "  - name: b\n    keywords: [x]\n    band: [40, 15]\n",
            'niches[1].band: expected two percentages like [15, 40] or "top", got [40, 15]',
        ),
        (MINIMAL + "    band: [15, 140]\n", "niches[0].band: expected two percentages"),
        (MINIMAL + "    band: top\n", None),
        (MINIMAL + "    band: 10-30\n", None),
        (MINIMAL + "    sizee: 3\n", "niches[0].sizee: unknown key"),
        ("niches:\n  - name: a\n", "niches[0].keywords: required key is missing"),
        (MINIMAL + "    seeds: [not-an-id]\n", "niches[0].seeds: 'not-an-id' is not an arXiv id"),
        (
            MINIMAL + "    channels: [slack]\n",
            "niches[0].channels: no channel named 'slack' (known: none",
        ),
        ("niches: [{name: a|b, keywords: [x]}]\n", "niches[0].name: 'a|b' may not contain |, / or"),
        ("niches: [{name: a/b, keywords: [x]}]\n", "niches[0].name: 'a/b' may not contain |, / or"),
        (
            "channels:\n  f:\n    type: file\n    path: 'out/{user}.md'\n",
            "channels.f.path: 'out/{user}.md': only {date} and {niche}",
        ),
        ("timezone: Mars/Base\n", "timezone: unknown time zone 'Mars/Base'"),
        (
            "channels:\n  x:\n    type: pigeon\n",
            "channels.x.type: must be one of slack, email, file, console",
        ),
        ("channels:\n  x:\n    type: slack\n", "channels.x: needs either webhook_url, or both"),
        (
            "channels:\n  m:\n    type: email\n    host: h\n    from: a@b\n",
            "channels.m.to: required key is missing",
        ),
        (
            "sources:\n  arxiv:\n    page_size: 5000\n",
            "sources.arxiv.page_size: Input should be less than or equal to 2000",
        ),
        ("sources:\n  reddit:\n    enabled: true\n", "sources.reddit: enabled, but client_id"),
        (
            "niches: [{name: a, keywords: [x]}, {name: a, keywords: [y]}]\n",
            "two niches are named 'a'",
        ),
    ],
)
def test_errors_name_the_key_and_the_reason(
    tmp_path: Path, text: str, expected: str | None
) -> None:
    if expected is None:
        load_settings(write(tmp_path, text))
        return
    message = error_for(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'config.yaml'}: ")
    assert expected in message


def test_invalid_yaml_says_which_line(tmp_path: Path) -> None:
    assert "not valid YAML (line 3)" in error_for(tmp_path, "niches:\n  - name: [unclosed\n")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert "expected a mapping of keys at the top, got list" in error_for(tmp_path, "- a\n- b\n")


def test_missing_file_suggests_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run `midlist init`"):
        load_settings(tmp_path / "nope.yaml")


def test_variables_come_from_environment_then_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "channels:\n  s:\n    type: slack\n    token: ${TOKEN_A}\n    channel: '#c'\n    webhook_url: ${HOOK:-}\n"
    (tmp_path / ".env").write_text("TOKEN_A=from-dotenv\n", encoding="utf-8")
    settings = load_settings(write(tmp_path, text))
    assert settings.channels["s"].token.get_secret_value() == "from-dotenv"
    assert settings.channels["s"].webhook_url is None
    monkeypatch.setenv("TOKEN_A", "from-env")
    assert (
        load_settings(tmp_path / "config.yaml").channels["s"].token.get_secret_value() == "from-env"
    )


def test_unset_variable_names_key_and_variable(tmp_path: Path) -> None:
    message = error_for(tmp_path, "channels:\n  s:\n    type: slack\n    token: ${NOPE_TOKEN}\n")
    assert "channels.s.token: environment variable NOPE_TOKEN is not set" in message


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIDLIST_CONFIG", str(write(tmp_path, MINIMAL)))
    assert load_settings().niches[0].name == "ssm"


def test_check_never_prints_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-secret")
    result = run_cli(ROOT / "config.example.yaml", "check")
    assert result.exit_code == 0, result.output
    assert "team-slack" in result.output
    assert "secret" not in result.output
    assert "hunter2" not in result.output


def test_check_reports_the_error_and_fails(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "    band: [40, 15]\n")
    result = run_cli(path, "check")
    assert result.exit_code == 1
    assert "niches[0].band: expected two percentages" in result.output


def test_init_writes_a_config_that_checks(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.yaml"
    assert run_cli(path, "init", "--timezone", "Europe/Berlin").exit_code == 0
    assert load_settings(path).timezone == "Europe/Berlin"
    again = run_cli(path, "init")
    assert again.exit_code == 1
    assert "already exists" in again.output


@pytest.mark.parametrize(
    "text, expected",
    [
        ("schedule:\n  digest: '30 8 * *'\n", "schedule.digest: '30 8 * *' is not a crontab line"),
        (
            "schedule:\n  collect: '30 20 * * sun-xyz'\n",
            "schedule.collect: '30 20 * * sun-xyz' is not a valid crontab line: 'xyz' is not a weekday",
        ),
        (
            MINIMAL + "    schedule: '61 8 * * *'\n",
            "niches[0].schedule: '61 8 * * *' is not a valid crontab line",
        ),
    ],
)
def test_cron_errors_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_for(tmp_path, text)


def test_file_channel_path_is_beside_the_config_file(tmp_path: Path) -> None:
    text = "channels:\n  f:\n    type: file\n    path: out/{niche}-{date}.md\n"
    settings = load_settings(write(tmp_path, text))
    assert settings.channels["f"].path == str(tmp_path / "out/{niche}-{date}.md")


# ---- hostile config files -----------------------------------------------------------------------


def test_duplicate_keys_name_the_key_and_both_lines(tmp_path: Path) -> None:
    text = "timezone: UTC\nniches:\n  - name: ssm\n    keywords: [x]\n    size: 3\n    size: 30\n"
    message = error_for(tmp_path, text)
    assert "not valid YAML (line 6): duplicate key 'size' (first on line 5)" in message


def test_merge_keys_may_be_overridden_without_counting_as_duplicates(tmp_path: Path) -> None:
    text = "channels:\n  a: &a {type: slack, webhook_url: 'http://h', retries: 1}\n  b:\n    <<: *a\n    retries: 5\n"
    settings = load_settings(write(tmp_path, text))
    assert (settings.channels["a"].retries, settings.channels["b"].retries) == (1, 5)


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    """Nine levels of nine aliases: 387 million values if expanded. Refused, never expanded."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    message = error_for(tmp_path, "\n".join(lines) + "\n")
    assert "aliases expand this document past 100,000 values" in message


def test_self_referencing_alias_is_refused(tmp_path: Path) -> None:
    message = error_for(tmp_path, "niches: &n\n  - *n\n")
    assert "an alias refers to a node that contains it" in message


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("from", '"bot@example.org\\r\\nBcc: victim@example.org"', "channels.mail.from: "),
        ("to", '["reader@example.org\\nBcc: x@example.org"]', "channels.mail.to[0]: "),
        ("host", '"smtp.example.org\\r\\n"', "channels.mail.host: "),
        ("username", '"me\\nRCPT TO:<x@example.org>"', "channels.mail.username: "),
    ],
)
def test_line_breaks_in_mail_headers_fail_check_naming_the_key(
    tmp_path: Path, key: str, value: str, expected: str
) -> None:
    mail = {
        "type": "email",
        "host": '"smtp.example.org"',
        "from": '"bot@example.org"',
        "to": '["reader@example.org"]',
    }
    mail[key] = value
    body = "".join(f"    {k}: {v}\n" for k, v in mail.items())
    path = write(tmp_path, MINIMAL + "channels:\n  mail:\n" + body)
    result = run_cli(path, "check")
    assert result.exit_code == 1
    assert expected in result.output
    assert "contains a line break or control character" in result.output


def test_line_break_in_a_slack_channel_name_fails_check(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + 'channels:\n  s:\n    type: slack\n    token: xoxb-1\n    channel: "#c\\r\\nX: y"\n'
    )
    assert "channels.s.channel: " in error_for(tmp_path, text)


@pytest.mark.parametrize(
    "value, expected",
    [
        (".inf", "Input should be a finite number"),
        (".nan", "Input should be a finite number"),
        ("1e300", "seconds is more than a week"),
    ],
)
def test_absurd_timeouts_are_config_errors(tmp_path: Path, value: str, expected: str) -> None:
    message = error_for(tmp_path, f"sources:\n  arxiv:\n    timeout_seconds: {value}\n")
    assert "sources.arxiv.timeout_seconds: " in message and expected in message


@pytest.mark.parametrize(
    "text, key",
    [
        ("sources:\n  reddit:\n    lookback_days: 99999999999\n", "sources.reddit.lookback_days"),
        ("schedule:\n  misfire_grace_minutes: 1e18\n", "schedule.misfire_grace_minutes"),
        ("sources:\n  arxiv:\n    retries: 10000000000\n", "sources.arxiv.retries"),
        ("sources:\n  arxiv:\n    max_results: 1e30\n", "sources.arxiv.max_results"),
        ("schedule:\n  lease_seconds: 1e12\n", "schedule.lease_seconds"),
    ],
)
def test_huge_numbers_are_config_errors_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    assert f"{key}: " in error_for(tmp_path, text)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgresql+pg8000://team:pw-123456@db/midlist", "No module named 'pg8000'"),
        ("nosuchdb://x", "Can't load plugin"),
    ],
)
def test_check_fails_on_a_storage_url_whose_driver_is_missing(
    tmp_path: Path, url: str, expected: str
) -> None:
    """A driver that is not installed shows at `check`, not at the first run."""
    path = tmp_path / "config.yaml"
    path.write_text(f"storage:\n  url: '{url}'\n", encoding="utf-8")
    result = run_cli(path, "check")
    assert result.exit_code == 1
    assert "not a usable storage.url" in result.output and expected in result.output
    assert "pw-123456" not in result.output


def test_check_passes_a_postgresql_url_with_the_driver_installed(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("storage:\n  url: postgresql+psycopg://team@db/midlist\n", encoding="utf-8")
    result = run_cli(path, "check")
    assert result.exit_code == 0, result.output
