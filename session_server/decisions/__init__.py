"""Council decisions on the server: searching the register (search.py), the chair's
signature (signing.py), forming a decision when a draft is adopted (forming.py), the
HTTP register and documents (routes.py). The commands are in commands/decisions.py."""
