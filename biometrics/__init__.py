"""Face ID: enrolment, verification, liveness challenges, encrypted face templates.

No web code lives here (docs/architecture.md, "What comes later"). The package is part
of the layout from the start; its code comes with the Face ID issue, on top of the
sign-in records and tokens the server already has (`session_server.auth`).
"""
