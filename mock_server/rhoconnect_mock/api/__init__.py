"""The protocol blueprints of the mock server, one module per protocol area (see ``common``)."""
