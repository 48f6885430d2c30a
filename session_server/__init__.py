"""The Starlette application of E-Kengash Live: the session hub and its HTTP API."""
