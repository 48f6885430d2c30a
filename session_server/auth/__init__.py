"""Who is asking: signed, expiring tokens and the roles they carry."""
