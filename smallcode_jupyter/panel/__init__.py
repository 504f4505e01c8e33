"""The kernel side of the JupyterLab side panel (``labextension/``): a comm target named ``smallcode``.

The panel opens a comm to the kernel of the active notebook and sends small JSON messages
(:mod:`.protocol`); a task runs the loop in a worker thread (:mod:`.runner`) through the kernel's
:class:`~smallcode_jupyter.session.Session`, the one the ``%%smallcode`` cells use, so both share
the model, the warm sandbox and the run lock; :mod:`.comm` answers the messages.
"""

from .comm import PanelConnection, PanelTarget, register, unregister
from .protocol import COMM_TARGET, BadMessage

__all__ = ["COMM_TARGET", "BadMessage", "PanelConnection", "PanelTarget", "register", "unregister"]
