"""The webhook settings: read from the environment, with decimals, and refused at start-up when
they cannot work."""

import pytest

from service.settings import Settings, SettingsError


def test_webhook_settings_have_their_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.webhook_allow_private, settings.webhook_retry_base_s) == (False, 5.0)
    assert (settings.webhook_max_age_s, settings.webhook_timeout_s) == (86400.0, 10.0)


def test_webhook_settings_are_read_with_decimals() -> None:
    settings = Settings.from_env(
        {
            "FRAMESTATE_WEBHOOK_ALLOW_PRIVATE": "True",
            "FRAMESTATE_WEBHOOK_RETRY_BASE_S": "0.25",
            "FRAMESTATE_WEBHOOK_MAX_AGE_S": "90.5",
            "FRAMESTATE_WEBHOOK_TIMEOUT_S": "1.5",
        }
    )
    assert settings.webhook_allow_private
    assert (settings.webhook_retry_base_s, settings.webhook_max_age_s, settings.webhook_timeout_s) == (
        0.25,
        90.5,
        1.5,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FRAMESTATE_WEBHOOK_ALLOW_PRIVATE", "yes"),
        ("FRAMESTATE_WEBHOOK_RETRY_BASE_S", "soon"),
        ("FRAMESTATE_WEBHOOK_RETRY_BASE_S", "0"),
        ("FRAMESTATE_WEBHOOK_MAX_AGE_S", "-1"),
        ("FRAMESTATE_WEBHOOK_TIMEOUT_S", "nan"),
    ],
)
def test_a_webhook_setting_that_cannot_work_is_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
