"""Face ID: enrolment, verification, liveness challenges, encrypted face templates.

No web code lives here (DESIGN.md "Identity"). The package is part of the layout from
the start; its code comes with the sign-in issue, behind the same token and role model
the hub already uses (`session_server.auth.tokens`).
"""
