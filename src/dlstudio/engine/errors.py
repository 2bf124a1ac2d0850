"""Errors a user can cause and fix. Their message is shown as-is, so it is plain language."""


class UserError(Exception):
    """A problem with the user's data or options; `str(error)` is the message to show."""


class DataError(UserError):
    """The data cannot be used as given (unreadable file, bad target, too few rows, ...)."""


class ConfigError(UserError):
    """An option or a project folder is not usable (unknown template, wrong folder, ...)."""


class ExportRefused(UserError, RuntimeError):
    """An export refused after its verification: a file could not be made for this model, or
    it does not give the trained model's answers. The message says why, in a sentence; it is a
    RuntimeError too, as these refusals were before."""
