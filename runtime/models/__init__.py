"""Model clients: what answers an agent's turn.

A client makes one model call for a ``ModelRequest`` and yields ``ModelItem``s as they arrive.
The agent loop (``runtime.agent``) owns everything around the call: tools, retries, timeouts,
structured output and events.
"""

from runtime.models.base import (
    Finish,
    ModelClient,
    ModelError,
    ModelItem,
    ModelRequest,
    RequestSent,
    TextDelta,
    ToolCallRequest,
    ToolSpec,
    Usage,
)
from runtime.models.function import FunctionModel

__all__ = [
    "Finish",
    "FunctionModel",
    "ModelClient",
    "ModelError",
    "ModelItem",
    "ModelRequest",
    "RequestSent",
    "TextDelta",
    "ToolCallRequest",
    "ToolSpec",
    "Usage",
]
