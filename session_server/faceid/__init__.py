"""Face ID on the server: enrolment by the secretariat, the camera challenge after
sign-in, and the face check that goes with a ballot.

The face work itself (biometrics/) runs in worker processes (`pool.py`), never on the
event loop and never inside a sitting's write transaction; what it proves reaches the
vote's handler as evidence bound to the deputy, the vote and the moment (`ballots.py`).
Templates are sealed with AES-GCM before they reach the database (`store.py`)."""
