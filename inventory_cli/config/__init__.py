"""Config: finding ``invwh.toml`` (or ``[tool.invwh]`` in pyproject.toml) and reading it.

``find`` only looks (it is on every run's path and must stay cheap);
``load`` parses and checks, and builds the schemes a config defines. This
layer may import signing (for schemes) and the base modules.
"""
