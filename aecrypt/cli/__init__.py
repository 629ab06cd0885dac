"""The ``aecrypt`` command line: ``main`` (dispatch and one-line errors), the ``parser``, output
``planning`` for batches, the key and payload commands (``crypto``) and the ``study`` commands.
Imports every wing below it."""
