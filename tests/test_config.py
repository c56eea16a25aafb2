"""config.yml: where it is found, what a bad file says, and what a bad source does.

DESIGN.md "Configuration and secrets": the first config found is the only one read;
a bad file names file, line and key and what is accepted; a bad source fails alone;
``${VAR}`` is resolved when the source runs and never shows its value.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from collectors import COLLECTOR_TYPES
from qoins_tui.config import load_settings, parse_config, resolve_vars
from qoins_tui.errors import ConfigError, MissingSecretError
from qoins_tui.refresh import run_refresh
from qoins_tui.store import Store

NOW = dt.datetime(2026, 5, 10, 12, tzinfo=dt.UTC)

# SEED.md, section "config.yml Example", copied verbatim.
SEED_EXAMPLE = """\
# QOINs Configuration
budget:
  monthly_limit: 110.00
  currency: "USD"
  alerts:
    - threshold: 75
      channels: ["email", "terminal"]
    - threshold: 90
      channels: ["email", "slack", "terminal"]

services:
  openai:
    api_key: "${OPENAI_API_KEY}"
    budget_limit: 50.00
    tracking_enabled: true

  aws:
    access_key: "${AWS_ACCESS_KEY}"
    secret_key: "${AWS_SECRET_KEY}"
    budget_limit: 30.00

  github:
    token: "${GITHUB_TOKEN}"
    budget_limit: 15.00

local_alternatives:
  ollama:
    enabled: true
    track_usage: true
    model_costs: # Equivalent OpenAI costs for comparison
      "mistral:latest": 0.002  # per 1K tokens
      "llama2:7b": 0.002
      "codellama:7b": 0.002

notifications:
  email:
    smtp_server: "smtp.gmail.com"
    username: "${EMAIL_USERNAME}"
    password: "${EMAIL_PASSWORD}"

  slack:
    webhook_url: "${SLACK_WEBHOOK}"
    channel: "#dev-costs"
"""


def write_config(path: Path, limit: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"budget:\n  monthly_limit: {limit}\n  timezone: UTC\n")
    return path


def config_error(text: str, path: Path) -> str:
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(str(path))
    return caught.value.message


# -- discovery ------------------------------------------------------------------


@pytest.fixture
def four_configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A config in each place discovery looks, each with its own monthly limit."""
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    paths = {
        "flag": write_config(tmp_path / "flag.yml", "1"),
        "env": write_config(tmp_path / "env.yml", "2"),
        "cwd": write_config(cwd / "config.yml", "3"),
        "user": write_config(xdg / "qoins" / "config.yml", "4"),
    }
    monkeypatch.setenv("QOINS_CONFIG", str(paths["env"]))
    return paths


def test_config_flag_beats_every_other_place(four_configs: dict[str, Path]) -> None:
    settings = load_settings(str(four_configs["flag"]))

    assert settings.path == four_configs["flag"]
    assert settings.budget.monthly_limit == Decimal(1)


def test_qoins_config_beats_the_working_folder_and_user_dir(
    four_configs: dict[str, Path],
) -> None:
    settings = load_settings(None)

    assert settings.path == four_configs["env"]
    assert settings.budget.monthly_limit == Decimal(2)


def test_working_folder_beats_the_user_config_dir(
    four_configs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QOINS_CONFIG")

    settings = load_settings(None)

    assert settings.path == four_configs["cwd"]
    assert settings.budget.monthly_limit == Decimal(3)


def test_user_config_dir_is_the_last_place(
    four_configs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QOINS_CONFIG")
    four_configs["cwd"].unlink()

    settings = load_settings(None)

    assert settings.path == four_configs["user"]
    assert settings.budget.monthly_limit == Decimal(4)


def test_only_the_first_config_found_is_read(
    four_configs: dict[str, Path],
) -> None:
    for lower in ("env", "cwd", "user"):
        four_configs[lower].write_text("budget: [\n")

    settings = load_settings(str(four_configs["flag"]))

    assert settings.budget.monthly_limit == Decimal(1)


def test_no_config_anywhere_gives_the_defaults(tmp_path: Path) -> None:
    settings = load_settings(None)

    assert settings.path is None
    assert settings.budget.monthly_limit is None
    assert settings.budget.currency == "USD"
    assert settings.sources == ()


def test_a_missing_config_flag_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "qoins.yml"
    write_config(Path.cwd() / "config.yml", "3")

    with pytest.raises(ConfigError) as caught:
        load_settings(str(missing))

    assert str(missing) in caught.value.message
    assert "--config" in caught.value.message


def test_a_missing_qoins_config_file_does_not_fall_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "gone.yml"
    monkeypatch.setenv("QOINS_CONFIG", str(missing))
    write_config(Path.cwd() / "config.yml", "3")

    with pytest.raises(ConfigError) as caught:
        load_settings(None)

    assert str(missing) in caught.value.message
    assert "QOINS_CONFIG" in caught.value.message


# -- errors that stop the whole file --------------------------------------------


def test_a_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    text = "budget:\n  monthly_limit: 5\n   currency: USD\n"

    message = config_error(text, path)

    assert message.startswith(f"{path} line 3:")
    assert "not valid YAML" in message


@pytest.mark.parametrize(
    ("text", "line", "key", "accepted"),
    [
        pytest.param(
            "budget:\n  monthly_limit: abc\n",
            2,
            "budget.monthly_limit",
            "write an amount like 110.00",
            id="limit-not-a-number",
        ),
        pytest.param(
            "budget:\n  monthly_limit: -5\n",
            2,
            "budget.monthly_limit",
            "must not be negative",
            id="negative-limit",
        ),
        pytest.param(
            "services:\n  subscriptions:\n    budget_limit: -3\n",
            3,
            "services.subscriptions.budget_limit",
            "must not be negative",
            id="negative-source-limit",
        ),
        pytest.param(
            "budget:\n  monthly_limit: 5\n  colour: red\n",
            3,
            "budget.colour",
            "accepted: alerts, currency, daily_limit, monthly_limit, rates, renewals, "
            "spikes, timezone",
            id="unknown-budget-key",
        ),
        pytest.param(
            "budget:\n  currency: dollars\n",
            2,
            "budget.currency",
            "three-letter ISO 4217 code such as USD",
            id="currency-dollars",
        ),
        pytest.param(
            "budget:\n  timezone: Mars/Base\n",
            2,
            "budget.timezone",
            "IANA name such as Europe/Berlin",
            id="timezone-mars",
        ),
        pytest.param(
            "budget:\n  alerts:\n    - threshold: 75\n    - channels: [terminal]\n",
            4,
            "budget.alerts[1]",
            "needs a threshold in percent",
            id="alert-without-threshold",
        ),
        pytest.param(
            "budget:\n  alerts:\n    - threshold: 75%\n",
            3,
            "budget.alerts[0].threshold",
            "write a percent like 75",
            id="threshold-with-percent-sign",
        ),
        pytest.param(
            "notifications:\n  mail:\n    smtp_server: mail.example.com\n"
            "    secure: tls\n",
            4,
            "notifications.mail.secure",
            "is starttls (the default), ssl, or none",
            id="secure-tls",
        ),
        pytest.param(
            "notifications:\n  hook:\n    url: https://hooks.example.com/qoins\n",
            3,
            "notifications.hook.url",
            "json:// (jsons:// with TLS) posts a JSON webhook",
            id="apprise-url-https",
        ),
        pytest.param(
            "subscriptions:\n"
            "  - name: hosting\n"
            "    amount: 5\n"
            "    period: weekly\n"
            "    start: 2026-01-01\n",
            4,
            "subscriptions[0].period",
            "must be monthly or yearly",
            id="period-weekly",
        ),
        pytest.param(
            "subscriptions:\n"
            "  - name: hosting\n"
            "    amount: 5\n"
            "    seats: 0\n"
            "    start: 2026-01-01\n",
            4,
            "subscriptions[0].seats",
            "whole number of at least 1",
            id="seats-zero",
        ),
        pytest.param(
            "subscriptions:\n  - name: hosting\n    amount: 5\n    start: soon\n",
            4,
            "subscriptions[0].start",
            "write YYYY-MM-DD",
            id="start-not-a-date",
        ),
        pytest.param(
            "subscriptions:\n"
            "  - name: hosting\n"
            "    amount: 5\n"
            "    start: '2026-02-30'\n",
            4,
            "subscriptions[0].start",
            "2026-02-30 is not a date of the calendar (day is out of range",
            id="start-quoted-impossible-date",
        ),
        pytest.param(
            "subscriptions:\n"
            "  - name: hosting\n"
            "    amount: 5\n"
            "    start: 2026-02-01\n"
            "    ends: 2026-01-31\n",
            5,
            "subscriptions[0].ends",
            "2026-01-31 is before start (2026-02-01)",
            id="ends-before-start",
        ),
        pytest.param(
            "prices:\n  my-model:\n    input: 0.000003\n",
            3,
            "prices.my-model.input",
            "USD per million tokens",
            id="price-per-token",
        ),
        pytest.param(
            "budget:\n  spikes:\n    min_amount: 5\n    hours: 5\n",
            4,
            "budget.spikes.hours",
            "5 does not divide the day; use 1, 2, 3, 4, 6, 8, 12 or 24, or 0",
            id="spike-hours-five",
        ),
        pytest.param(
            "budget:\n  spikes:\n    hours: -3\n",
            3,
            "budget.spikes.hours",
            "must be a whole number from 0 up",
            id="spike-hours-negative",
        ),
        pytest.param(
            "budget:\n  monthly_limit: 5\nwidgets: 3\n",
            3,
            "widgets",
            "unknown section; accepted: budget,",
            id="unknown-section",
        ),
    ],
)
def test_an_invalid_value_names_file_line_key_and_what_is_accepted(
    tmp_path: Path, text: str, line: int, key: str, accepted: str
) -> None:
    path = tmp_path / "config.yml"

    message = config_error(text, path)

    assert message.startswith(f"{path} line {line}, {key}: ")
    assert accepted in message


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        pytest.param("", 3, id="default"),
        pytest.param("budget:\n  spikes: {hours: 6}\n", 6, id="six"),
        pytest.param("budget:\n  spikes: {hours: 24}\n", 24, id="whole-day"),
        pytest.param("budget:\n  spikes: {hours: 0}\n", 0, id="off"),
    ],
)
def test_spike_hours_are_a_divisor_of_the_day_or_zero(text: str, hours: int) -> None:
    assert parse_config(text).budget.spikes.hours == hours


def test_an_unquoted_impossible_date_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    text = "subscriptions:\n  - name: hosting\n    amount: 5\n    start: 2026-02-30\n"

    message = config_error(text, path)

    assert message.startswith(f"{path} line 4")
    assert "2026-02-30" in message


# -- sources fail alone ---------------------------------------------------------


def test_a_bad_source_keeps_its_error_and_the_others_parse(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text(
        "services:\n"  # 1
        "  exports:\n"  # 2
        "    type: focus\n"  # 3
        "    paths: [exports/*.csv]\n"  # 4
        "  weird:\n"  # 5
        "    type: nosuch\n"  # 6
        "  typo:\n"  # 7
        "    type: focus\n"  # 8
        "    paths: [b.csv]\n"  # 9
        "    colour: red\n"  # 10
        "  claude_code:\n"  # 11
        "    billing: plan\n"  # 12
    )

    settings = load_settings(str(path))

    by_name = {s.name: s for s in settings.sources}
    assert list(by_name) == ["exports", "weird", "typo", "claude_code"]
    assert by_name["exports"].error is None
    assert by_name["exports"].setting("paths") == ["exports/*.csv"]
    assert by_name["claude_code"].error is None
    assert by_name["claude_code"].setting("billing") == "plan"
    weird = by_name["weird"].error
    assert weird is not None
    assert weird.startswith(f"{path} line 6, services.weird: unknown type 'nosuch'")
    assert f"accepted: {', '.join(sorted(COLLECTOR_TYPES))}." in weird
    assert "claude_code, codex" in weird
    typo = by_name["typo"].error
    assert typo is not None
    assert typo.startswith(f"{path} line 10, services.typo.colour: unknown key")
    assert "paths" in typo


def test_a_planned_type_says_it_has_no_collector_yet(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text("services:\n  aws:\n    profile: billing\n")

    source = load_settings(str(path)).sources[0]

    assert source.type == "aws"
    assert source.error is not None
    assert source.error.startswith(f"{path} line 2, services.aws: type 'aws'")
    assert "no collector in this version" in source.error


def test_a_failing_source_fails_alone_on_refresh(store: Store) -> None:
    settings = parse_config(
        "budget:\n  timezone: UTC\n"
        "services:\n  aws:\n    profile: billing\n"
        "subscriptions:\n  - name: hosting\n    amount: 7.00\n    start: 2026-05-01\n"
    )

    results = {r.source: r for r in run_refresh(settings, store, now=NOW)}

    assert set(results) == {"aws", "subscriptions"}
    assert not results["aws"].ok
    assert "no collector in this version" in (results["aws"].error or "")
    assert results["subscriptions"].ok
    assert results["subscriptions"].counts.new == 1


# -- ${VAR} ---------------------------------------------------------------------


EXPORTS_FROM_VAR = (
    "services:\n  exports:\n    type: focus\n"
    '    paths: ["${QOINS_TEST_EXPORTS}/*.csv"]\n'
)


def test_variables_stay_as_written_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QOINS_TEST_EXPORTS", "/srv/exports")
    path = tmp_path / "config.yml"
    path.write_text(
        "services:\n  exports:\n    type: focus\n"
        '    paths: ["${QOINS_TEST_EXPORTS}/*.csv", "${QOINS_TEST_UNSET}/*.csv"]\n'
    )

    source = load_settings(str(path)).sources[0]

    assert source.error is None
    assert source.setting("paths") == [
        "${QOINS_TEST_EXPORTS}/*.csv",
        "${QOINS_TEST_UNSET}/*.csv",
    ]


def test_resolve_vars_substitutes_set_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QOINS_TEST_HOST", "billing.example")
    monkeypatch.setenv("QOINS_TEST_PORT", "8443")

    value = resolve_vars("https://${QOINS_TEST_HOST}:${QOINS_TEST_PORT}/v1", "x", "k")

    assert value == "https://billing.example:8443/v1"


def test_an_unset_variable_names_source_key_and_variable_not_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QOINS_TEST_USER", "s3cr3t-user-value")
    monkeypatch.delenv("QOINS_TEST_TOKEN", raising=False)

    with pytest.raises(MissingSecretError) as caught:
        resolve_vars("${QOINS_TEST_USER}:${QOINS_TEST_TOKEN}", "openai_work", "api_key")

    message = caught.value.message
    assert message.startswith("openai_work: api_key uses ${QOINS_TEST_TOKEN}")
    assert "not set" in message
    assert "s3cr3t-user-value" not in message


def test_an_unset_variable_fails_only_its_source_on_refresh(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QOINS_TEST_EXPORTS", raising=False)
    settings = parse_config(
        "budget:\n  timezone: UTC\n"
        + EXPORTS_FROM_VAR
        + "subscriptions:\n  - name: hosting\n    amount: 7.00\n    start: 2026-05-01\n"
    )

    results = {r.source: r for r in run_refresh(settings, store, now=NOW)}

    assert results["subscriptions"].ok
    assert not results["exports"].ok
    assert "QOINS_TEST_EXPORTS" in (results["exports"].error or "")
    # The error names the source for other places; the line says it once.
    assert (
        results["exports"]
        .summary()
        .startswith(
            "exports: failed: paths uses ${QOINS_TEST_EXPORTS}, which is not set"
        )
    )


def test_a_set_variable_is_resolved_when_its_source_runs(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "march.csv").write_text(
        "BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,"
        "ServiceName,ProviderName\n"
        "3.25,USD,2026-03-05T00:00:00Z,2026-03-06T00:00:00Z,Amazon S3,AWS\n"
    )
    monkeypatch.setenv("QOINS_TEST_EXPORTS", str(exports))
    settings = parse_config("budget:\n  timezone: UTC\n" + EXPORTS_FROM_VAR)

    results = run_refresh(settings, store, now=NOW)

    assert [(r.source, r.ok, r.counts.new) for r in results] == [("exports", True, 1)]


# -- time zone and amounts ------------------------------------------------------


def test_the_time_zone_defaults_to_tz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    path = tmp_path / "config.yml"
    path.write_text("budget:\n  monthly_limit: 50\n")

    assert load_settings(str(path)).budget.timezone == "Asia/Tokyo"
    assert parse_config("services: {}\n").budget.timezone == "Asia/Tokyo"
    assert load_settings(None).budget.timezone == "Asia/Tokyo"


def test_a_written_time_zone_beats_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")

    settings = parse_config("budget:\n  timezone: America/Los_Angeles\n")

    assert settings.budget.timezone == "America/Los_Angeles"


def test_the_seed_example_loads_with_errors_on_unbuilt_sources(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.yml"
    path.write_text(SEED_EXAMPLE)

    settings = load_settings(str(path))

    assert settings.budget.monthly_limit == Decimal("110.0")
    assert settings.budget.currency == "USD"
    assert [(a.threshold, a.channels) for a in settings.budget.alerts] == [
        (Decimal(75), ("email", "terminal")),
        (Decimal(90), ("email", "slack", "terminal")),
    ]
    by_name = {s.name: s for s in settings.sources}
    assert list(by_name) == ["openai", "aws", "github"]
    assert by_name["openai"].budget_limit == Decimal("50.00")
    assert by_name["aws"].budget_limit == Decimal("30.00")
    assert by_name["github"].budget_limit == Decimal("15.00")
    assert by_name["openai"].error is None
    lines = {"aws": 17, "github": 22}
    for name, line in lines.items():
        error = by_name[name].error
        assert error is not None
        assert error.startswith(f"{path} line {line}, services.{name}: ")
        assert "no collector in this version" in error
    assert by_name["openai"].setting("api_key") == "${OPENAI_API_KEY}"
    assert set(settings.raw) == {"local_alternatives"}
    assert [(c.name, c.kind) for c in settings.channels] == [
        ("email", "email"),
        ("slack", "slack"),
    ]
    assert settings.channels[1].settings == {
        "webhook_url": "${SLACK_WEBHOOK}",
        "channel": "#dev-costs",
    }


def test_amounts_keep_their_exact_decimal_value() -> None:
    settings = parse_config(
        "budget:\n  monthly_limit: 110.00\n"
        "subscriptions:\n"
        "  - name: seed-total\n    amount: 95.94\n    start: 2026-01-01\n"
        "  - name: quoted\n    amount: '0.1'\n    start: 2026-01-01\n"
    )

    assert settings.budget.monthly_limit == Decimal("110.0")
    amounts = [s.amount for s in settings.subscriptions]
    assert amounts == [Decimal("95.94"), Decimal("0.1")]
    assert str(amounts[0]) == "95.94"


def test_an_amount_with_twelve_decimal_places_is_not_rounded() -> None:
    settings = parse_config(
        "subscriptions:\n"
        "  - name: metered\n    amount: 1234567.123456789012\n    start: 2026-01-01\n"
    )

    assert settings.subscriptions[0].amount == Decimal("1234567.123456789012")
