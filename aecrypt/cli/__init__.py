"""The ``aecrypt`` command line."""
