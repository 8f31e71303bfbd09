"""Presets shipped with bgsub: NAME.yaml, loaded by ``--config NAME`` (see :mod:`bgsub.config`)."""
