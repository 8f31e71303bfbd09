"""The work behind each command, as plain functions (re-exported by :mod:`bgsub.api`)."""
