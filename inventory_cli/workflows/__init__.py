"""Workflows: the jobs invwh does, built from the layers below (signing, events, transport).

``delivery`` signs and POSTs a body and says what the receiver did with it
(``contract`` is the API's 200/422); ``receive`` is the verifying receiver of
``invwh listen``, ``recording`` its JSON Lines file; ``replay``, ``audit``,
``check`` (its cases a table in ``check_cases``) and ``demo`` are the
other jobs; ``verdict`` is the one judgement verify, listen and the audit
share; ``report`` is the shape every run's report takes. This layer may
import signing, events and transport, never config or the command line.
"""
