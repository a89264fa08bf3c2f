"""The inspector: a page in the browser that shows every delivery of a recording as it arrives.

``feed`` follows a recording (``invwh listen --record``) as it grows, whole
lines only; ``views`` turns one delivery into what the page shows (the body
with its invisible characters made visible, its JSON pretty, the verdict and
its likely cause, a diff of two); ``actions`` replays a delivery, as received,
re-signed or edited, through ``workflows.replay`` (the code ``invwh replay``
runs), and makes a fresh curl command; ``server`` serves the page
(``static/``: HTML, CSS and JavaScript, no build step, nothing from another
origin) and its API, Server-Sent Events included, on 127.0.0.1.

A way in, like ``api``: it may import workflows, signing, events and the
base, never the command line, click or rich. Nothing here loads unless
``invwh inspect`` runs.
"""
