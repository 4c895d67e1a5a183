"""The errors the service layer raises. Each door maps them to its own answer (503, a message, a
CommandError); none of them is ever turned into a success."""

from ..refusals import Refusal


class ViewsiteError(Exception):
    """Base class: the message is written for the person who will read it."""


class ModelUnavailable(ViewsiteError):
    """No model can answer right now: none is active, or the active one cannot be loaded.

    Carries a Refusal when its reason is one of predictor.refusals' codes; otherwise its message
    is the operator's technical detail, kept as it is."""

    def __init__(self, message: str | None = None, *, refusal: Refusal | None = None):
        super().__init__(str(refusal) if message is None else message)
        self.refusal = refusal

    def stored(self) -> dict:
        """As the audit trail keeps it."""
        if self.refusal is not None:
            return self.refusal.stored()
        return {"code": "model_unavailable", "message": str(self)}


class ArtifactIntegrityError(ModelUnavailable):
    """An artifact does not match what its ModelVersion row recorded, so it is not unpickled."""


class DatasetError(ViewsiteError):
    """A training data file was refused. The message names the file, and the row and column."""


class QualityGateRefused(ViewsiteError):
    """A retrained candidate is not good enough to activate. Carries the report that says why."""

    def __init__(self, message: str, report):
        super().__init__(message)
        self.report = report
