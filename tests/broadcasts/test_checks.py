"""manage.py check [--deploy] names what is misconfigured in how broadcasts are run."""

from broadcasts.checks import check_broker, check_runner_settings


def ids(messages):
    return [m.id for m in messages]


def test_the_default_settings_pass():
    assert check_runner_settings() == []


def test_an_unknown_runner_is_named(settings):
    settings.WHATSAPP_RUNNER = "cronjob"
    assert ids(check_runner_settings()) == ["broadcasts.E001"]


def test_a_sending_timeout_shorter_than_a_task_is_refused(settings):
    settings.WHATSAPP_SENDING_TIMEOUT = settings.CELERY_TASK_TIME_LIMIT
    (error,) = check_runner_settings()
    assert error.id == "broadcasts.E002"
    assert "WHATSAPP_SENDING_TIMEOUT" in error.msg


def test_a_redis_visibility_timeout_shorter_than_a_countdown_is_flagged(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
    settings.WHATSAPP_ALERT_INTERVAL = 600
    assert ids(check_runner_settings()) == ["broadcasts.W002"]
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    assert check_runner_settings() == []


def test_deploy_check_warns_about_the_embedded_broker(broker_url):
    broker_url("filesystem://")
    assert ids(check_broker()) == ["broadcasts.W001"]


def test_deploy_check_names_an_unreachable_broker(broker_url):
    broker_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    (error,) = check_broker()
    assert error.id == "broadcasts.E003"
    assert "CELERY_BROKER_URL" in error.msg


def test_deploy_check_skips_the_broker_in_cron_mode(broker_url, settings):
    settings.WHATSAPP_RUNNER = "cron"
    broker_url("redis://127.0.0.1:1/0")
    assert check_broker() == []
