import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from webapp.settings import AuthMode, Settings, SettingsError, load_settings

CONFIGURATION = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
KEY = "sk-test-9f8e7d6c5b4a"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def test_every_setting_is_in_the_configuration_table_with_its_default() -> None:
    table = CONFIGURATION.read_text()
    for name, field in Settings.model_fields.items():
        row = re.search(rf"^\| `{name.upper()}` \| (.*?) \| (.+) \|$", table, re.MULTILINE)
        assert row, f"{name.upper()} is missing from the settings table in docs/configuration.md"
        default = field.default
        if isinstance(default, SecretStr):
            default = default.get_secret_value() or None
        unset = default is None or default == ""
        shown = "(unset)" if unset else f"`{getattr(default, 'value', default)}`"
        assert row.group(1) == shown, f"{name.upper()}: docs/configuration.md says {row.group(1)}"
        assert field.description, f"{name.upper()} has no help line"


def test_defaults_mean_demo_mode_against_hosted_burki_urls() -> None:
    settings = load_settings()
    assert settings.demo
    assert settings.burki_auth_mode is AuthMode.AUTO
    assert settings.ws_base_url == "wss://api.burki.dev"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BURKI_API_KEY", KEY)
    monkeypatch.setenv("BURKI_BASE_URL", "http://burki.internal:8080/")
    monkeypatch.setenv("BURKI_ALLOW_INSECURE", "true")
    monkeypatch.setenv("BURKI_AUTH_MODE", "query")
    settings = load_settings()
    assert not settings.demo
    assert settings.ws_base_url == "ws://burki.internal:8080"
    assert settings.burki_auth_mode is AuthMode.QUERY


def test_plain_http_is_allowed_to_a_burki_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BURKI_BASE_URL", "http://127.0.0.1:8765")
    assert load_settings().ws_base_url == "ws://127.0.0.1:8765"


def test_the_key_never_shows_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BURKI_API_KEY", KEY)
    settings = load_settings()
    assert KEY not in repr(settings)
    assert KEY not in str(settings)
    assert settings.burki_api_key is not None
    assert settings.burki_api_key.get_secret_value() == KEY


def test_the_key_can_come_from_a_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "burki.key"
    secret.write_text(KEY + "\n")
    monkeypatch.setenv("BURKI_API_KEY_FILE", str(secret))
    settings = load_settings()
    assert settings.burki_api_key is not None
    assert settings.burki_api_key.get_secret_value() == KEY


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("BURKI_BASE_URL", "ftp://burki", "BURKI_BASE_URL: must start with http:// or https://"),
        ("BURKI_AUTH_MODE", "cookie", "BURKI_AUTH_MODE: "),
        ("BURKI_KEEPALIVE_INTERVAL", "soon", "BURKI_KEEPALIVE_INTERVAL: "),
        ("BURKI_BACKOFF_CAP", "-1", "BURKI_BACKOFF_CAP: "),
        ("DASHBOARD_PORT", "70000", "DASHBOARD_PORT: "),
        ("BURKI_API_KEY_FILE", "/nonexistent/key", "BURKI_API_KEY_FILE: cannot read"),
        ("ALERT_KEYWORDS", "lawyer:urgent", "ALERT_KEYWORDS: "),
        ("REDACTION_UNREDACT_ROLES", "admin, boss", "REDACTION_UNREDACT_ROLES: unknown role"),
        ("REDACTION_PHONE_REGION", "XX", "REDACTION_PHONE_REGION: must be a region code"),
        ("REDACTION_STRICT_DIGITS", "-1", "REDACTION_STRICT_DIGITS: "),
        ("BURKI_BASE_URL", "http://burki.example.com", "BURKI_BASE_URL: http:// to a Burki"),
        ("DASHBOARD_SESSION_SECRET", "short", "DASHBOARD_SESSION_SECRET: must be at least"),
        ("DASHBOARD_EMBED_ORIGINS", "https://a.example; script-src *", "DASHBOARD_EMBED_ORIGINS: "),
        ("DASHBOARD_TRUSTED_PROXIES", "10.0.0.300", "DASHBOARD_TRUSTED_PROXIES: "),
        (
            "WEBHOOK_ENDPOINTS",
            '[{"url": "ftp://x", "secret": "s3cr3t-s3cr3t-s3cr3t"}]',
            "WEBHOOK_ENDPOINTS: ",
        ),
    ],
)
def test_a_bad_value_stops_start_up_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message
    assert "s3cr3t" not in message


def test_settings_that_send_alerts_or_a_password_in_clear_stop_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMTP_SECURITY", "none")
    monkeypatch.setenv("SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("SMTP_PASSWORD", "s3cr3t-s3cr3t")
    with pytest.raises(SettingsError, match=r"^SMTP_SECURITY: none sends SMTP_PASSWORD") as smtp:
        load_settings()
    assert "s3cr3t" not in str(smtp.value)
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")  # a local relay: fine
    load_settings()
    hook = '[{"url": "http://hooks.example.com/s3cr3t", "format": "slack"}]'
    monkeypatch.setenv("WEBHOOK_ENDPOINTS", hook)
    with pytest.raises(SettingsError, match=r"^WEBHOOK_ENDPOINTS: entry 1 is http://") as plain:
        load_settings()
    assert "s3cr3t" not in str(plain.value) and "\n" not in str(plain.value)
    monkeypatch.setenv("WEBHOOK_ALLOW_INSECURE", "true")  # the explicit setting
    assert load_settings().webhooks[0].url == "http://hooks.example.com/s3cr3t"
    monkeypatch.setenv("WEBHOOK_ALLOW_INSECURE", "false")
    monkeypatch.setenv("WEBHOOK_ENDPOINTS", hook.replace("hooks.example.com", "localhost:9"))
    load_settings()  # a receiver on this machine: fine


def test_an_error_never_echoes_a_secret_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BURKI_API_KEY", KEY)
    monkeypatch.setenv("BURKI_BASE_URL", f"ftp://{KEY}")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert KEY not in str(caught.value)


def test_the_list_settings_are_parsed_once_and_kept_typed_beside_the_raw_string(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALERT_KEYWORDS", "lawyer:high, refund@any")
    monkeypatch.setenv("DASHBOARD_EMBED_ORIGINS", "https://intranet.example.com")
    monkeypatch.setenv("DASHBOARD_TRUSTED_PROXIES", "10.0.0.0/8, ::1")
    endpoint = '[{"url": "https://hooks.example.com/x", "secret": "s3cr3t-s3cr3t-s3cr3t"}]'
    monkeypatch.setenv("WEBHOOK_ENDPOINTS", endpoint)
    settings = load_settings()
    assert settings.alert_keywords == "lawyer:high, refund@any"
    assert [(r.phrase, r.severity, r.speaker) for r in settings.keyword_rules] == [
        ("lawyer", "high", "user"),
        ("refund", "medium", "any"),
    ]
    assert settings.embed_origins == ("https://intranet.example.com",)
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    assert [e.url for e in settings.webhooks] == ["https://hooks.example.com/x"]
    assert load_settings(webhook_endpoints="").webhooks == ()
