"""Errors of the fix workflow that are not plain bad input (which is Django's ValidationError)."""


class Conflict(Exception):
    """The thing changed under the caller: someone else decided first, the proposal is not the one
    they looked at, the job already finished. The API answers 409 with the message."""

    def __init__(self, message, *, current_state=""):
        super().__init__(message)
        self.message = message
        self.current_state = current_state


class JobStopped(Exception):
    """Raised into a running job's progress callback: stop now, the job no longer wants a result."""


class JobCancelled(JobStopped):
    pass


class JobTimedOut(JobStopped):
    pass
