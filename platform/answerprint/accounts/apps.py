from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "answerprint.accounts"
    label = "accounts"

    def ready(self):
        from . import signals  # noqa: F401  (log-in, log-out and failed log-in are audited)
