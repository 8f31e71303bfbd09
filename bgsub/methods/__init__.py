"""Methods behind one interface: see :mod:`bgsub.methods.base`."""

from bgsub.methods.base import Decomposition, Method, available, create, register

__all__ = ["Decomposition", "Method", "available", "create", "register"]
