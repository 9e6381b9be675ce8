"""Log any transformers / TRL training run into r1web.

    from r1web_client import R1WebCallback
    trainer = GRPOTrainer(..., callbacks=[R1WebCallback(url=URL, token=TOKEN)])

No Django and no dependency beyond the standard library: transformers, TRL, torch and
accelerate are used only when the training script already has them.
"""

from r1web_client.callback import R1WebCallback
from r1web_client.sender import Sender, Transport, replay

__all__ = ["R1WebCallback", "Sender", "Transport", "replay"]
__version__ = "0.1.0"
