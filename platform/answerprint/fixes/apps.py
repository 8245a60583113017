from django.apps import AppConfig


class FixesConfig(AppConfig):
    name = "answerprint.fixes"
    label = "fixes"

    def ready(self):
        # checks registers itself; job_tasks registers the gpu task with Celery (autodiscovery
        # only looks for modules named tasks).
        from . import checks, job_tasks, room  # noqa: F401

        room.register()
