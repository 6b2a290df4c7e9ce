"""Generators of what is derived from the settings declarations: the shipped JSON Schemas
(:mod:`.generate`, ``python -m aira_dsl.schemagen``) and the key references in the docs
(:mod:`.reference`, ``python -m aira_dsl.schemagen.reference``).

A tool at the top of the layering (it reads the declarations of every document kind); the
schemas themselves live in :mod:`aira_dsl.schemas` as package data, which any layer may read.
"""
