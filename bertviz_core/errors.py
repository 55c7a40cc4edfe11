"""The one base class for problems a user can fix: ``str(error)`` is one sentence for them."""


class UserError(ValueError):
    """Invalid input (configuration, file, command line). Shown as a sentence, never a traceback."""
