"""Checking digital signatures (PKCS#7 / CMS SignedData): one interface, two ways.

`base.Verifier` is what the rest of the server uses: sign-in checks an attached
signature over its challenge; decisions will check the chair's detached signature over
a decision's bytes. `local.LocalVerifier` checks standard RSA and ECDSA signatures
against trusted CA certificates; `eimzo_server.EimzoServerVerifier` asks E-IMZO-SERVER,
which also knows Uzbekistan's O'zDSt algorithms. Nothing here knows about sign-in."""
