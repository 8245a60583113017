import contextlib
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "answerprint.settings")

app = Celery("answerprint")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@contextlib.contextmanager
def tasks_run_here():
    """Run tasks in this process (eagerly) inside the block.

    A value set on app.conf shadows the Django setting for the rest of the process, so it is taken
    back out afterwards rather than restored to a copy.
    """
    had, before = "task_always_eager" in app.conf.changes, app.conf.changes.get("task_always_eager")
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        if had:
            app.conf.changes["task_always_eager"] = before
        else:
            app.conf.changes.pop("task_always_eager", None)
