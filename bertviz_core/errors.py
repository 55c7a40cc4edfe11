"""Problems a user can fix. ``str(error)`` is one sentence for them, never a traceback.

Every page and command catches ``UserError`` and shows its sentence; the subclasses say where the
problem lies, so a caller can catch only what it can explain.
"""


class UserError(ValueError):
    """Invalid input (configuration, file, command line). Shown as a sentence, never a traceback."""


class ConfigError(UserError):
    """An invalid model configuration."""


class DataError(UserError):
    """A data file or column choice that cannot be used."""


class VocabularyError(UserError):
    """A vocabulary that cannot be used (too small, or a saved vocab.txt that is damaged)."""


class MemoryGuardError(UserError):
    """A build, training or job that would not fit in the memory budget."""


class TrainingError(UserError):
    """Training cannot start or cannot finish."""


class BundleError(UserError):
    """A saved classifier that cannot be read."""


class JobError(UserError):
    """A job that could not run to the end: stopped, timed out, or its worker process died."""
