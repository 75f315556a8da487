"""`--json` wherever a list is printed: queue list, check, collect, status. Papers carry the field
names `query --json` uses (id, title, url, published)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from pytest_httpserver import HTTPServer

from bot.config import load_settings
from bot.lock import SCHEDULER_LEASE
from bot.scheduler import plan, started
from bot.store import Store
from tests.bot.test_collect import write_config as collect_config
from tests.bot.test_queue import PAPERS
from tests.bot.test_queue import write_config as queue_config
from tests.bot.test_run_cli import write_config as run_config
from tests.conftest import ConfigFile, run_cli
from tests.sources.test_arxiv import ArxivScript, Step

PAPER_KEYS = {"id", "title", "url", "published"}  # shared with `query --json`


def test_queue_list_json(store: Store, config_file: ConfigFile) -> None:
    store.papers.upsert(PAPERS)
    store.queue.enqueue("robotics", ["2405.00001", "2405.00002"])
    store.queue.mark("robotics", "2405.00002", "saved")
    code, out = run_cli(queue_config(config_file), "queue", "list", "--json")
    assert code == 0, out
    records = json.loads(out)
    assert [(r["id"], r["state"], r["niche"]) for r in records] == [
        ("2405.00002", "saved", "robotics"),
        ("2405.00001", "queued", "robotics"),
    ]
    first = records[1]
    assert PAPER_KEYS <= set(first)
    assert first["title"] == "Grasping & Pushing with 100% of the {Fingers}: A_Study"
    assert first["url"] == "https://arxiv.org/abs/2405.00001"
    assert first["published"] == "2024-05-01"
    assert first["updated_at"].startswith("20")


def test_queue_list_json_is_an_empty_list_when_nothing_matches(
    store: Store, config_file: ConfigFile
) -> None:
    code, out = run_cli(queue_config(config_file), "queue", "list", "--state", "read", "--json")
    assert (code, json.loads(out)) == (0, [])


def test_check_json_shows_the_parsed_config_with_secrets_starred(
    tmp_path: Path, config_file: ConfigFile
) -> None:
    team = {
        "type": "slack",
        "token": "${SLACK_TOKEN}",
        "channel": "#papers",
        "signing_secret": "sign-456",
    }
    config = config_file(
        storage={"url": "postgresql://midlist:db-pass-123@db.example/midlist"},
        niches=[{"name": "ssm", "keywords": ["selective scan"], "channels": ["team", "reader"]}],
        channels={"team": team, "reader": {"type": "feed"}},
    )
    code, out = run_cli(config, "check", "--json", env={"SLACK_TOKEN": "xoxb-secret-789"})
    assert code == 0, out
    for secret in ("db-pass-123", "xoxb-secret-789", "sign-456"):
        assert secret not in out
    record = json.loads(out)
    assert record["ok"] is True and record["config"] == str(config)
    settings = record["settings"]
    assert settings["storage"]["url"] == "postgresql://midlist:***@db.example/midlist"
    assert settings["channels"]["team"]["token"] == "**********"
    assert settings["channels"]["team"]["webhook_url"] is None
    assert settings["channels"]["reader"] == {
        "type": "feed",
        "path": str(tmp_path / "feeds" / "{niche}.xml"),
        "max_entries": 200,
        "title": None,
    }
    assert settings["niches"][0]["band"] == [15, 40] and settings["niches"][0]["size"] == 7


def test_check_json_on_a_bad_config_is_the_usual_error(config_file: ConfigFile) -> None:
    config = config_file(niches=[{"name": "x", "keywords": ["a"], "band": [40, 15]}])
    code, out = run_cli(config, "check", "--json")
    assert code == 1 and "niches[0].band" in out


def test_collect_json_counts_per_source(httpserver: HTTPServer, config_file: ConfigFile) -> None:
    script = ArxivScript(httpserver, [Step("page1.xml"), Step("page2.xml")])
    code, out = run_cli(collect_config(config_file, script.url), "collect", "--json")
    assert code == 0, out
    records = json.loads(out)
    assert [r["source"] for r in records] == ["arxiv", "arxiv-lookup"]
    assert records[0] == {
        "source": "arxiv",
        "ok": True,
        "new": 4,
        "updated": 0,
        "unchanged": 0,
        "mentions": 0,
        "error": None,
        "notes": [],
    }


def test_collect_json_exits_1_and_names_the_failure(
    httpserver: HTTPServer, config_file: ConfigFile
) -> None:
    script = ArxivScript(httpserver, [Step("malformed.xml")])
    config = collect_config(config_file, script.url)
    code, out = run_cli(config, "collect", "--source", "arxiv", "--json")
    assert code == 1
    (record,) = json.loads(out)
    assert record["source"] == "arxiv" and record["ok"] is False
    assert "malformed XML" in record["error"]


def test_status_json_of_a_new_store(config_file: ConfigFile) -> None:
    code, out = run_cli(run_config(config_file), "status", "--json")
    assert code == 0, out
    assert json.loads(out) == {
        "scheduler": {
            "running": False,
            "pid": None,
            "host": None,
            "since": None,
            "heartbeat_at": None,
        },
        "next_runs": [],
        "last_runs": [],
        "failures": [],
    }


def test_status_json_lists_jobs_runs_and_failures(config_file: ConfigFile) -> None:
    config = run_config(config_file, digest="15 9 * * *")
    settings = load_settings(config)
    store = Store(settings.storage.url)
    with started(settings, store, plan(settings)):
        pass
    assert store.leases.acquire(SCHEDULER_LEASE, "other", "elsewhere", 4242, timedelta(minutes=5))
    run_id = store.state.start_run("collect", "arxiv")
    store.state.finish_run(run_id, False, "arXiv answered 503 three times")
    store.close()
    code, out = run_cli(config, "status", "--json")
    assert code == 0, out
    record = json.loads(out)
    leader = record["scheduler"]
    assert (leader["running"], leader["pid"], leader["host"]) == (True, 4242, "elsewhere")
    assert datetime.fromisoformat(leader["heartbeat_at"]).tzinfo is not None
    jobs = {j["job"]: j for j in record["next_runs"]}
    assert jobs["digest"]["trigger"] == "15 9 * * * Europe/Berlin"
    assert datetime.fromisoformat(jobs["digest"]["next_run"]).tzinfo is not None
    (failed,) = record["failures"]
    assert (failed["kind"], failed["target"], failed["ok"]) == ("collect", "arxiv", False)
    assert failed["detail"] == "arXiv answered 503 three times"
    assert failed in record["last_runs"]
