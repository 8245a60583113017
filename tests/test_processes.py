"""The run command keeps its processes up: one that dies is restarted with a log line, the
others carry on; one that cannot start stops everything with the reason."""
import io
import os
import signal
import threading
import time

from answerprint import processes
from answerprint.processes import Supervisor, read_procfile


def _run_in_background(supervisor):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("code", supervisor.run()), daemon=True)
    thread.start()
    return thread, result


def _wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_killed_process_is_restarted_and_the_others_are_left_running(tmp_path):
    # given a web process and a worker under the supervisor
    out = io.StringIO()
    supervisor = Supervisor({"web": "sleep 60", "worker": "sleep 60"}, env=dict(os.environ), cwd=tmp_path, out=out)
    thread, _ = _run_in_background(supervisor)
    web, worker = supervisor.children
    assert _wait_for(lambda: web.process and worker.process)
    first_worker, first_web = worker.process.pid, web.process.pid

    # when the worker is SIGKILLed
    os.kill(first_worker, signal.SIGKILL)

    # then it is started again, with a line saying so, and the web process was never touched
    assert _wait_for(lambda: worker.process.pid != first_worker and worker.process.poll() is None)
    assert "worker was killed by signal 9" in out.getvalue() and "restarting it" in out.getvalue()
    assert web.process.pid == first_web and web.process.poll() is None
    supervisor.stop()
    thread.join(15)
    assert web.process.poll() is not None and worker.process.poll() is not None


def test_a_process_that_keeps_dying_at_once_stops_everything_with_the_reason(tmp_path, monkeypatch):
    # given a web process that cannot start (say, its port is taken)
    monkeypatch.setattr(processes, "RESTART_DELAYS", (0.01,))
    out = io.StringIO()
    supervisor = Supervisor({"web": "sh -c 'exit 3'", "worker": "sleep 60"}, env=dict(os.environ), cwd=tmp_path, out=out)

    # when the supervisor runs
    code = supervisor.run()

    # then it gives up after a few tries, says why, and leaves nothing running
    assert code == 1
    assert f"web exited with status 3 {processes.MAX_QUICK_EXITS} times in a row" in out.getvalue()
    assert all(child.process.poll() is not None for child in supervisor.children)


def test_the_procfile_names_web_worker_and_beat():
    commands = read_procfile(processes.Path(__file__).resolve().parents[1] / "Procfile")
    assert set(commands) == {"web", "worker", "beat"}
    assert commands["beat"].startswith("celery -A answerprint beat")
